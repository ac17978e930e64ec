/* cws_random: the OS CSPRNG fills what it is asked to fill. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/internal.h"

static void test_two_draws_differ(void **state) {
    (void)state;
    uint8_t a[16], b[16];
    assert_int_equal(cws_random(a, sizeof a), CWS_OK);
    assert_int_equal(cws_random(b, sizeof b), CWS_OK);
    /* equal by chance with probability 2^-128 */
    assert_memory_not_equal(a, b, sizeof a);
}

static void test_zero_length(void **state) {
    (void)state;
    uint8_t canary = 0x5A;
    assert_int_equal(cws_random(&canary, 0), CWS_OK);
    assert_int_equal(canary, 0x5A);
    assert_int_equal(cws_random(NULL, 0), CWS_OK);
}

/* 1 MiB is filled to the end: every 64-byte slice changes from a known
 * pattern (a slice left untouched would stay all zero, probability 2^-512
 * of that happening by chance), and all byte values occur. */
static void test_large_fill(void **state) {
    (void)state;
    enum { N = 1 << 20 };
    uint8_t *buf = calloc(1, N);
    assert_non_null(buf);
    assert_int_equal(cws_random(buf, N), CWS_OK);
    static const uint8_t zero[64];
    for (size_t i = 0; i < N; i += 64) assert_memory_not_equal(buf + i, zero, 64);
    size_t counts[256] = {0};
    for (size_t i = 0; i < N; i++) counts[buf[i]]++;
    /* expected 4096 each; a filled-but-broken source (e.g. only zeros or
     * a short pattern) falls far outside */
    for (int v = 0; v < 256; v++) assert_in_range(counts[v], 3000, 5200);
    free(buf);
}

/* Odd lengths and a small buffer at an odd address are filled exactly,
 * with nothing written past the end. */
static void test_exact_length(void **state) {
    (void)state;
    uint8_t buf[80];
    for (size_t len = 1; len <= 64; len++) {
        memset(buf, 0xEE, sizeof buf);
        assert_int_equal(cws_random(buf + 1, len), CWS_OK);
        assert_int_equal(buf[0], 0xEE);
        for (size_t i = len + 1; i < sizeof buf; i++) assert_int_equal(buf[i], 0xEE);
    }
}

/* The /dev/urandom fallback (used where getrandom(2) is missing) fills
 * too, including a length that needs several reads. */
static void test_urandom_fallback(void **state) {
    (void)state;
    uint8_t a[16], b[16];
    assert_int_equal(cws__random_urandom(a, sizeof a), CWS_OK);
    assert_int_equal(cws__random_urandom(b, sizeof b), CWS_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(cws__random_urandom(NULL, 0), CWS_OK);
    enum { N = 1 << 20 };
    uint8_t *buf = calloc(1, N);
    assert_non_null(buf);
    assert_int_equal(cws__random_urandom(buf, N), CWS_OK);
    static const uint8_t zero[64];
    for (size_t i = 0; i < N; i += 64) assert_memory_not_equal(buf + i, zero, 64);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_draws_differ),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_large_fill),
        cmocka_unit_test(test_exact_length),
        cmocka_unit_test(test_urandom_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
