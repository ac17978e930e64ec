/* The server's side of the opening handshake (RFC 6455 §4.2) for the bench
 * servers that have no library to do it (the yardstick, the wslay peer):
 * the request's key, and the 101 that answers it. */
#ifndef BENCH_WS_SERVER_H
#define BENCH_WS_SERVER_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "http_field.h"
#include "ws_accept.h"

/* The Sec-WebSocket-Key in an upgrade request's head (head_len covers the
 * blank line): its value without the blanks around it, or NULL if there
 * is none; *key_len its length. */
static inline const char *bench_ws_request_key(const char *head, size_t head_len, size_t *key_len) {
    const char *key = bench_http_field(head, head_len, "sec-websocket-key:");
    if (!key) return NULL;
    while (*key == ' ' || *key == '\t') key++;
    *key_len = strcspn(key, " \t\r");
    return key;
}

/* The 101 for key (at most 60 bytes; §4.2.2 step 5) into out, which takes
 * 160 bytes; returns its length. */
static inline size_t bench_ws_101(const char *key, size_t key_len, char out[160]) {
    char accept[29];
    bench_ws_accept(key, key_len, accept);
    return (size_t)snprintf(out, 160,
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
}

#endif
