/* The two "libraries" of tests/dist/static_*.c: each embeds its own private
 * copy of cws (CWS_STATIC) and exports one function of its own. Nothing of
 * cws is declared here: the program sees only lib_a_ and lib_b_. */
#ifndef STATIC_H
#define STATIC_H
#include <stddef.h>

/* Writes the RFC 6455 Sec-WebSocket-Accept value of key into out (29 bytes
 * with the NUL); returns 0, or -1 if the embedded runtime is broken. */
int lib_a_accept_key(const char *key, char out[29]);

/* Sends msg from a client cws_conn to a server cws_conn in memory and
 * copies what the server received into out (NUL-terminated, at most cap
 * bytes with the NUL). Returns the message length, or -1. */
int lib_b_echo(const char *msg, char *out, size_t cap);
#endif
