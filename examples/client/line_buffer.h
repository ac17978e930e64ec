/* Collects bytes read from a stream and hands them back as whole lines, so
 * a read that ends mid-line loses nothing: the partial line waits for the
 * rest. */
#ifndef CLIENT_LINE_BUFFER_H
#define CLIENT_LINE_BUFFER_H

#include <stddef.h>

typedef struct line_buffer {
    char *data;
    size_t start;   /* first byte not yet returned as a line */
    size_t end;     /* one past the last byte appended */
    size_t scanned; /* bytes after start already known to hold no '\n' */
    size_t cap;
    size_t max;     /* longest line accepted */
} line_buffer;

/* An empty buffer accepting lines of at most max bytes. */
void line_buffer_init(line_buffer *b, size_t max);
void line_buffer_free(line_buffer *b);
/* Appends len bytes; returns 0, or -1 if out of memory. */
int line_buffer_append(line_buffer *b, const char *data, size_t len);
/* Pops the next complete line, without its "\n" or "\r\n". *line stays
 * valid until the next append. Returns 1 for a line, 0 if no complete
 * line is buffered, -1 if a line is longer than max. */
int line_buffer_next(line_buffer *b, const char **line, size_t *len);
/* At end of input: pops the unterminated last line; returns 1 if there is
 * one, 0 if not, -1 if it is longer than max. */
int line_buffer_rest(line_buffer *b, const char **line, size_t *len);

#endif
