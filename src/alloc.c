/* Memory: the allocator hook every allocation goes through, and the
 * growable byte buffer the connection uses for reassembly and output. */
#include "internal.h"

#include <stdlib.h>

void *cws__realloc(const cws_allocator *a, void *ptr, size_t size) {
    if (a && a->fn) return a->fn(a->user, ptr, size);
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

uint8_t *cws__buf_reserve(const cws_allocator *a, cws__buf **bp, size_t n, size_t limit) {
    cws__buf *b = *bp;
    size_t used = b ? b->len : 0;
    if (n > limit || used > limit - n) return NULL;
    if (b && b->cap - b->head - b->len >= n) return b->data + b->head + b->len;
    if (b && b->head) { /* compact before growing */
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
        if (b->cap - b->len >= n) return b->data + b->len;
    }
    size_t cap = b ? b->cap : 0;
    size_t want = cap > limit / 2 ? limit : CWS__MAX(cap * 2, (size_t)64);
    want = CWS__MAX(CWS__MIN(want, limit), used + n);
    if (want > SIZE_MAX - sizeof(cws__buf)) return NULL;
    cws__buf *nb = cws__realloc(a, b, sizeof(cws__buf) + want);
    if (!nb) return NULL;
    if (!b) nb->head = nb->len = 0;
    nb->cap = want;
    *bp = nb;
    return nb->data + nb->head + nb->len;
}

void cws__buf_free(const cws_allocator *a, cws__buf **b) {
    if (*b) cws__realloc(a, *b, 0);
    *b = NULL;
}
