/* Finding a header field in an HTTP head, for the bench tools' handshakes
 * (both sides). */
#ifndef BENCH_HTTP_FIELD_H
#define BENCH_HTTP_FIELD_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* The first line of head[0..head_len) that starts with name (with its
 * colon, matched case-insensitively, RFC 9110 §5.1): a pointer just past
 * the name, or NULL. head_len covers the blank line, so the value ends at
 * a '\r' inside it. */
static inline const char *bench_http_field(const char *head, size_t head_len, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i + n < head_len; i++)
        if ((i == 0 || head[i - 1] == '\n') && strncasecmp(head + i, name, n) == 0) return head + i + n;
    return NULL;
}

#endif
