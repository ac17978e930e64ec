/* The generators' pseudo-random numbers (xorshift64, Marsaglia 2003):
 * masking keys and handshake keys only need to be unpredictable to the
 * server's cache, not to an attacker, so a cheap generator keeps the
 * client's core for the work measured. */
#ifndef BENCH_XORSHIFT_H
#define BENCH_XORSHIFT_H

#include <stdint.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t bench_xorshift64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

/* A seed that differs from run to run. */
static inline uint64_t bench_xorshift_seed(void) {
    return 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() ^ (uint64_t)time(NULL);
}

#endif
