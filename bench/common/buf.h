/* Growing a byte buffer, for the bench tools' input and output queues. */
#ifndef BENCH_BUF_H
#define BENCH_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Makes *cap at least need (doubling from 4 KiB, so appends stay
 * amortised O(1)); -1 if memory ran out, the buffer left as it was. */
static inline int bench_grow(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need) n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

#endif
