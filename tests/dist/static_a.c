/* Library A: embeds cws privately (CWS_STATIC) with the runtime in. Its
 * cws_* functions are static here, so library B's copy and the program's
 * own cws (if any) cannot clash with them. */
#define CWS_STATIC
#define CWS_IMPLEMENTATION
#include "../../single/cws.h"

#include <string.h>

#include "static.h"

int lib_a_accept_key(const char *key, char out[29]) {
    cws_str k;
    k.ptr = key;
    k.len = strlen(key);
    cws_hs_accept_key(k, out);
    /* Pull the runtime in as well: its code must be private too. */
    cws_loop *loop = cws_loop_new(NULL);
    if (!loop) return -1;
    cws_loop_free(loop);
    return 0;
}
