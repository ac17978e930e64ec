/* How cws-client shows what a server sent: a hostile server must not be
 * able to drive the terminal (escape sequences that retitle or recolour
 * it, or worse) or to make one message look like two lines. */
#ifndef CLIENT_ESCAPE_H
#define CLIENT_ESCAPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes UTF-8 text with every control character made visible: \a \b \t
 * \n \v \f \r and \e by name, the other C0 controls and DEL as \xHH, the
 * C1 controls (U+0080..U+009F) as \uHHHH. Everything else, a backslash
 * included, is written as it is: the result is for reading, not for
 * decoding back (that is what --raw is for). */
void write_escaped(FILE *out, const uint8_t *text, size_t len);

/* Writes bytes as lowercase hex, two digits each, nothing between. */
void write_hex(FILE *out, const uint8_t *data, size_t len);

#endif
