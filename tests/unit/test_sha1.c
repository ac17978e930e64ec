/* SHA-1 against the FIPS 180 example vectors, and the streaming API at
 * every split point. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cws.h"
#include "cws_util.h"

static void hex(const uint8_t *d, char out[41]) {
    for (int i = 0; i < 20; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check_oneshot(const char *msg, const char *want) {
    uint8_t d[CWS_SHA1_LEN];
    char h[41];
    cws_sha1(msg, strlen(msg), d);
    hex(d, h);
    assert_string_equal(h, want);
}

static void test_abc(void **state) {
    (void)state;
    check_oneshot("abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void test_empty(void **state) {
    (void)state;
    check_oneshot("", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    uint8_t d[CWS_SHA1_LEN];
    char h[41];
    cws_sha1(NULL, 0, d); /* NULL with length 0 is allowed */
    hex(d, h);
    assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void test_448_bits(void **state) {
    (void)state;
    check_oneshot("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void test_896_bits(void **state) {
    (void)state;
    check_oneshot("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                  "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                  "a49b2446a02c645bf419f995b67091253a04a259");
}

/* One million 'a' in chunks of uneven, cycling sizes, so every block
 * boundary case (partial fill, exact fill, many blocks) occurs. */
static void test_million_a(void **state) {
    (void)state;
    static uint8_t buf[1000];
    memset(buf, 'a', sizeof buf);
    static const size_t sizes[] = {1, 63, 64, 65, 127, 0, 200, 7, 999, 55, 56, 57};
    cws_sha1_ctx ctx;
    cws_sha1_init(&ctx);
    size_t left = 1000000, k = 0;
    while (left > 0) {
        size_t n = sizes[k++ % (sizeof sizes / sizeof sizes[0])];
        if (n > left) n = left;
        cws_sha1_update(&ctx, buf, n);
        left -= n;
    }
    uint8_t d[CWS_SHA1_LEN];
    char h[41];
    cws_sha1_final(&ctx, d);
    hex(d, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* The final padding differs for lengths around 55/56/64; each message
 * length 0..200 split at every point gives the one-shot digest. */
static void test_every_split(void **state) {
    (void)state;
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof msg; len++) {
        uint8_t want[CWS_SHA1_LEN];
        cws_sha1(msg, len, want);
        for (size_t cut = 0; cut <= len; cut++) {
            cws_sha1_ctx ctx;
            uint8_t got[CWS_SHA1_LEN];
            cws_sha1_init(&ctx);
            cws_sha1_update(&ctx, msg, cut);
            cws_sha1_update(&ctx, msg + cut, len - cut);
            cws_sha1_final(&ctx, got);
            assert_memory_equal(got, want, CWS_SHA1_LEN);
        }
        /* byte by byte */
        cws_sha1_ctx ctx;
        uint8_t got[CWS_SHA1_LEN];
        cws_sha1_init(&ctx);
        for (size_t i = 0; i < len; i++) cws_sha1_update(&ctx, msg + i, 1);
        cws_sha1_final(&ctx, got);
        assert_memory_equal(got, want, CWS_SHA1_LEN);
    }
}

/* Lengths at the padding boundaries, checked against digests computed
 * independently (Python hashlib) of 'a' * n. */
static void test_padding_boundaries(void **state) {
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
    };
    char msg[65];
    memset(msg, 'a', sizeof msg);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[CWS_SHA1_LEN];
        char h[41];
        cws_sha1(msg, v[i].n, d);
        hex(d, h);
        assert_string_equal(h, v[i].hex);
    }
}

/* RFC 6455 §1.3: the accept value's SHA-1 input. */
static void test_rfc6455_key(void **state) {
    (void)state;
    check_oneshot("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                  "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abc),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_448_bits),
        cmocka_unit_test(test_896_bits),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_rfc6455_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
