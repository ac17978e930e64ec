#include "escape.h"

/* The visible form of the control character at s (n > 0 bytes left) in
 * esc; returns how many bytes of s it replaces, 0 if s[0] is shown as is. */
static size_t escape_one(const uint8_t *s, size_t n, char esc[8]) {
    static const char named[] = "abtnvfr"; /* 0x07..0x0d, as in C */
    if (s[0] >= 0x07 && s[0] <= 0x0d) {
        esc[0] = '\\';
        esc[1] = named[s[0] - 0x07];
        esc[2] = '\0';
        return 1;
    }
    if (s[0] == 0x1b) { /* ESC starts every terminal control sequence */
        esc[0] = '\\';
        esc[1] = 'e';
        esc[2] = '\0';
        return 1;
    }
    if (s[0] < 0x20 || s[0] == 0x7f) {
        snprintf(esc, 8, "\\x%02x", s[0]);
        return 1;
    }
    /* U+0080..U+009F are C2 80..C2 9F in UTF-8; some terminals obey them
     * (U+009B is CSI, U+0085 a newline). C2 is always a lead byte in the
     * valid UTF-8 a text message or close reason must be. */
    if (s[0] == 0xc2 && n > 1 && s[1] >= 0x80 && s[1] <= 0x9f) {
        snprintf(esc, 8, "\\u%04x", s[1]);
        return 2;
    }
    return 0;
}

void write_escaped(FILE *out, const uint8_t *text, size_t len) {
    size_t plain = 0; /* start of the bytes to write as they are */
    size_t i = 0;
    while (i < len) {
        char esc[8];
        size_t n = escape_one(text + i, len - i, esc);
        if (n == 0) {
            i++;
            continue;
        }
        fwrite(text + plain, 1, i - plain, out);
        fputs(esc, out);
        i += n;
        plain = i;
    }
    fwrite(text + plain, 1, len - plain, out);
}

void write_hex(FILE *out, const uint8_t *data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    char buf[4096];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        buf[n++] = digits[data[i] >> 4];
        buf[n++] = digits[data[i] & 15];
        if (n == sizeof buf) {
            fwrite(buf, 1, n, out);
            n = 0;
        }
    }
    fwrite(buf, 1, n, out);
}
