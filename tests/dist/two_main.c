/* The other half: includes the single header for declarations only (after
 * system headers, which is fine here) and uses the library. Valid C99, C11
 * and C++, so the same file proves the declarations work from C++ too.
 * Prints "<version> <accept key> <sha1 of abc>" and exits 0. */
#include <stdio.h>
#include <string.h>

#include "../../single/cws.h"
#include "two.h"

int main(void) {
    char accept[29];
    two_accept_key(accept);

    uint8_t d[CWS_SHA1_LEN];
    cws_sha1("abc", 3, d);
    char hex[2 * CWS_SHA1_LEN + 1];
    for (int i = 0; i < CWS_SHA1_LEN; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);

    if (cws_utf8_validate("\xc3\xa9", 2) != CWS_OK) return 1;
    if (cws_utf8_validate("\xc3", 1) != CWS_ERR_UTF8) return 1;
#ifndef CWS_NO_RUNTIME
    /* The runtime is there: a loop can be made and freed. */
    cws_loop *loop = cws_loop_new(NULL);
    if (!loop) return 1;
    cws_loop_free(loop);
#endif
    printf("%s %s %s\n", cws_version(), accept, hex);
    return strcmp(cws_strerror(CWS_ERR_UTF8), "unknown error") == 0;
}
