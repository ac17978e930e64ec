/* Masking (RFC 6455 §5.3): the wide fast path against the byte-wise
 * reference for every length, alignment and key phase. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/internal.h"

static uint64_t mask_rng_state;
static uint8_t mask_rand_byte(void) {
    /* xorshift64: a fixed seed gives the same data on every run */
    uint64_t x = mask_rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    mask_rng_state = x;
    return (uint8_t)(x >> 24);
}

static void fill_random(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = mask_rand_byte();
}

static const uint64_t offsets[] = {
    0, 1, 2, 3, (1ull << 32) + 1, (1ull << 32) + 2, (1ull << 40) + 3, UINT64_MAX - 1, UINT64_MAX,
};
#define NOFF (sizeof offsets / sizeof offsets[0])
#define MAXLEN 256
#define GUARD 32

/* RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d. */
static void test_rfc_example(void **state) {
    (void)state;
    const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    const uint8_t masked[5] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t buf[5];
    memcpy(buf, masked, 5);
    cws_mask(buf, 5, key, 0);
    assert_memory_equal(buf, "Hello", 5);
    cws_mask(buf, 5, key, 0);
    assert_memory_equal(buf, masked, 5);
}

/* In place: every length 0..256 x every misalignment 0..15 x offsets. */
static void test_mask_inplace_vs_reference(void **state) {
    (void)state;
    mask_rng_state = 0x9E3779B97F4A7C15ull;
    static uint8_t orig[MAXLEN + 16 + 2 * GUARD], got[sizeof orig], want[sizeof orig];
    uint8_t key[4];
    for (size_t len = 0; len <= MAXLEN; len++) {
        for (size_t mis = 0; mis < 16; mis++) {
            for (size_t o = 0; o < NOFF; o++) {
                fill_random(key, 4);
                fill_random(orig, sizeof orig);
                memcpy(got, orig, sizeof orig);
                memcpy(want, orig, sizeof orig);
                cws_mask(got + GUARD + mis, len, key, offsets[o]);
                cws__mask_scalar(want + GUARD + mis, want + GUARD + mis, len, key, offsets[o]);
                /* whole buffers: the guard bytes around must be untouched */
                assert_memory_equal(got, want, sizeof got);
            }
        }
    }
}

/* Copy: every length x every dst and src misalignment x offsets, and the
 * allowed overlap dst == src. */
static void test_mask_copy_vs_reference(void **state) {
    (void)state;
    mask_rng_state = 0x0123456789ABCDEFull;
    static uint8_t src[MAXLEN + 16 + 2 * GUARD], src_copy[sizeof src];
    static uint8_t got[sizeof src], want[sizeof src];
    uint8_t key[4];
    for (size_t len = 0; len <= MAXLEN; len++) {
        for (size_t dmis = 0; dmis < 16; dmis++) {
            for (size_t smis = 0; smis < 16; smis++) {
                size_t o = (len + dmis + smis) % NOFF;
                fill_random(key, 4);
                fill_random(src, sizeof src);
                memcpy(src_copy, src, sizeof src);
                fill_random(got, sizeof got);
                memcpy(want, got, sizeof got);
                cws_mask_copy(got + GUARD + dmis, src + GUARD + smis, len, key, offsets[o]);
                cws__mask_scalar(want + GUARD + dmis, src + GUARD + smis, len, key, offsets[o]);
                assert_memory_equal(got, want, sizeof got);
                assert_memory_equal(src, src_copy, sizeof src); /* src is read-only */
            }
            for (size_t o = 0; o < NOFF; o++) {
                fill_random(got, sizeof got);
                memcpy(want, got, sizeof got);
                uint8_t *p = got + GUARD + dmis;
                cws_mask_copy(p, p, len, key, offsets[o]);
                cws__mask_scalar(want + GUARD + dmis, want + GUARD + dmis, len, key, offsets[o]);
                assert_memory_equal(got, want, sizeof got);
            }
        }
    }
}

/* A frame unmasked in arbitrary chunks, each passing its payload offset,
 * equals the frame unmasked at once. */
static void test_chunked_continuation(void **state) {
    (void)state;
    mask_rng_state = 42;
    enum { N = 1 << 20 };
    uint8_t *a = malloc(N), *b = malloc(N);
    assert_non_null(a);
    assert_non_null(b);
    fill_random(a, N);
    memcpy(b, a, N);
    const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    cws__mask_scalar(a, a, N, key, 0);
    size_t pos = 0;
    while (pos < N) {
        size_t n = (size_t)mask_rand_byte() * 37 % 5000;
        if (n > N - pos) n = N - pos;
        cws_mask(b + pos, n, key, pos);
        pos += n;
    }
    assert_memory_equal(a, b, N);
    /* masking twice restores the data */
    cws_mask(b, N, key, 0);
    cws__mask_scalar(a, a, N, key, 0);
    assert_memory_equal(a, b, N);
    free(a);
    free(b);
}

/* Long buffers take an alignment head (dst to 16 bytes) before the wide
 * loop: lengths around and past that threshold, in place and copied, at
 * every dst misalignment and key phase, with the 64-, 16- and short-step
 * remainders all reached. */
static void test_mask_aligned_head_vs_reference(void **state) {
    (void)state;
    mask_rng_state = 0xC0FFEE1234567ull;
    enum { LONG_MAX_LEN = 600 };
    static uint8_t src[LONG_MAX_LEN + 16 + 2 * GUARD], got[sizeof src], want[sizeof src];
    uint8_t key[4];
    for (size_t len = 240; len <= LONG_MAX_LEN; len++) {
        for (size_t dmis = 0; dmis < 16; dmis++) {
            size_t smis = (len * 7 + dmis) % 16;
            uint64_t off = offsets[(len + dmis) % NOFF];
            fill_random(key, 4);
            fill_random(src, sizeof src);
            fill_random(got, sizeof got);
            memcpy(want, got, sizeof got);
            cws_mask_copy(got + GUARD + dmis, src + GUARD + smis, len, key, off);
            cws__mask_scalar(want + GUARD + dmis, src + GUARD + smis, len, key, off);
            assert_memory_equal(got, want, sizeof got);
            memcpy(want, got, sizeof got);
            cws_mask(got + GUARD + dmis, len, key, off + 1);
            cws__mask_scalar(want + GUARD + dmis, want + GUARD + dmis, len, key, off + 1);
            assert_memory_equal(got, want, sizeof got);
        }
    }
}

static void test_zero_length_null(void **state) {
    (void)state;
    const uint8_t key[4] = {1, 2, 3, 4};
    cws_mask(NULL, 0, key, 7);
    cws_mask_copy(NULL, NULL, 0, key, 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_example),
        cmocka_unit_test(test_mask_inplace_vs_reference),
        cmocka_unit_test(test_mask_copy_vs_reference),
        cmocka_unit_test(test_mask_aligned_head_vs_reference),
        cmocka_unit_test(test_chunked_continuation),
        cmocka_unit_test(test_zero_length_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
