/* The client's side of the opening handshake (RFC 6455 §4.1) for the
 * generators: a fresh key with the accept value it asks for, and the check
 * of the server's 101. Needs _GNU_SOURCE (memmem) and BENCH_TOOL
 * (common/die.h). */
#ifndef BENCH_WS_CLIENT_H
#define BENCH_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "die.h"
#include "http_field.h"
#include "ws_accept.h"
#include "xorshift.h"

/* A Sec-WebSocket-Key of 16 random bytes (§4.1), and the accept value a
 * server must answer it with. */
static inline void bench_ws_client_key(uint64_t *rng, char key[25], char accept[29]) {
    uint8_t raw[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = bench_xorshift64(rng);
        memcpy(raw + i, &r, 8);
    }
    key[bench_base64(raw, 16, key)] = 0;
    bench_ws_accept(key, 24, accept);
}

/* The 101 in in[0..len): the length of its head (frames follow), 0 while
 * incomplete. Dies on another status or a wrong or missing
 * Sec-WebSocket-Accept; the caller judges the other fields. */
static inline size_t bench_ws_check_101(const uint8_t *in, size_t len, const char accept[29]) {
    const uint8_t *end = memmem(in, len, "\r\n\r\n", 4);
    if (!end) {
        if (len > 16384) bench_die("handshake response too long");
        return 0;
    }
    size_t head = (size_t)(end - in) + 4;
    if (len < 12 || memcmp(in, "HTTP/1.1 101", 12) != 0)
        bench_die("handshake refused: %.*s", (int)(head < 80 ? head : 80), (const char *)in);
    const char *v = bench_http_field((const char *)in, head, "sec-websocket-accept:");
    if (v)
        while (*v == ' ' || *v == '\t') v++;
    if (!v || strncmp(v, accept, 28) != 0) bench_die("wrong or missing Sec-WebSocket-Accept");
    return head;
}

#endif
