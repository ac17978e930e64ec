/* Private helpers shared by the library's own files; not installed.
 * Everything here is static inline or carries the cws__ prefix, so the
 * single-file header can paste all sources into one translation unit. */
#ifndef CWS_INTERNAL_H
#define CWS_INTERNAL_H

#include "cws.h"

#include <stdint.h>
#include <string.h>

#define CWS__MIN(a, b) ((a) < (b) ? (a) : (b))
#define CWS__MAX(a, b) ((a) > (b) ? (a) : (b))

/* realloc through the user's hook, or libc when none is set. */
void *cws__realloc(const cws_allocator *a, void *ptr, size_t size);

static inline uint16_t cws__load_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint64_t cws__load_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

static inline void cws__store_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void cws__store_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; }
}

/* ASCII case-insensitive equality of n bytes. */
static inline int cws__ieq_n(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return 0;
    }
    return 1;
}

#endif
