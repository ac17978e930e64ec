/* Half of a two-file program: this file holds the implementation. The
 * header must come before any system include (see single/cws.h). */
#define CWS_IMPLEMENTATION
#include "../../single/cws.h"

#include <string.h>

#include "two.h"

/* Computes the accept key of RFC 6455 §1.3 from this translation unit. */
void two_accept_key(char out[29]) {
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    cws_str k;
    k.ptr = key;
    k.len = strlen(key);
    cws_hs_accept_key(k, out);
}
