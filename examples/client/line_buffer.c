#include "line_buffer.h"

#include <stdlib.h>
#include <string.h>

void line_buffer_init(line_buffer *b, size_t max) {
    memset(b, 0, sizeof *b);
    b->max = max;
}

void line_buffer_free(line_buffer *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

int line_buffer_append(line_buffer *b, const char *data, size_t len) {
    /* Move the pending bytes to the front first, so the buffer only grows
     * to the longest line plus one read, not to the whole input. */
    if (b->start > 0) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    if (len > b->cap - b->end) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->end < len) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return -1;
        b->data = p;
        b->cap = cap;
    }
    if (len) memcpy(b->data + b->end, data, len);
    b->end += len;
    return 0;
}

int line_buffer_next(line_buffer *b, const char **line, size_t *len) {
    size_t pending = b->end - b->start;
    if (pending == 0) return 0; /* and data may still be NULL */
    const char *from = b->data + b->start;
    /* Resume the search where the last one stopped: feeding a long line in
     * small reads stays linear. */
    const char *nl = pending > b->scanned ? memchr(from + b->scanned, '\n', pending - b->scanned) : NULL;
    if (!nl) {
        b->scanned = pending;
        return pending > b->max ? -1 : 0;
    }
    size_t n = (size_t)(nl - from);
    b->start += n + 1;
    b->scanned = 0;
    if (n > 0 && from[n - 1] == '\r') n--;
    if (n > b->max) return -1;
    *line = from;
    *len = n;
    return 1;
}

int line_buffer_rest(line_buffer *b, const char **line, size_t *len) {
    size_t pending = b->end - b->start;
    if (pending == 0) return 0;
    if (pending > b->max) return -1;
    *line = b->data + b->start;
    *len = pending;
    b->start = b->end;
    b->scanned = 0;
    return 1;
}
