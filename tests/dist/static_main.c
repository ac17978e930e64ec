/* A program linking two libraries that each embed cws with CWS_STATIC
 * (tests/dist/static_a.c, static_b.c). It links only if neither copy
 * exports a symbol; it checks both copies work. Prints "ok" and exits 0. */
#include <stdio.h>
#include <string.h>

#include "static.h"

int main(void) {
    char accept[29];
    if (lib_a_accept_key("dGhlIHNhbXBsZSBub25jZQ==", accept) != 0) return 1;
    /* RFC 6455 §1.3 */
    if (strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0) {
        printf("lib_a: accept key %s\n", accept);
        return 1;
    }
    char echoed[64];
    int n = lib_b_echo("hello from b", echoed, sizeof echoed);
    if (n != 12 || strcmp(echoed, "hello from b") != 0) {
        printf("lib_b: %d '%s'\n", n, n >= 0 ? echoed : "");
        return 1;
    }
    printf("ok\n");
    return 0;
}
