/* Which status codes may travel in a close frame (RFC 6455 §7.4). */
#include "internal.h"

int cws_close_code_valid(int code) {
    /* §7.4.2: 3000-3999 are registered with IANA, 4000-4999 private use. */
    if (code >= 3000 && code <= 4999) return 1;
    /* §7.4.1 plus the IANA registry: 1004 is reserved, 1005/1006/1015 are
     * never sent, 1012-1014 were registered after the RFC. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
