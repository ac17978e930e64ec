/* base64: RFC 4648 §10 vectors both ways, and every malformed form the
 * strict decoder must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cws.h"
#include "cws_util.h"

static const struct {
    const char *plain, *coded;
} base64_vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};
#define NVEC (sizeof base64_vectors / sizeof base64_vectors[0])

static void test_encode_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        char out[16];
        memset(out, '#', sizeof out);
        size_t n = strlen(base64_vectors[i].plain);
        size_t got = cws_base64_encode(base64_vectors[i].plain, n, out);
        assert_int_equal(got, CWS_BASE64_ENCODED_LEN(n));
        assert_int_equal(got, strlen(base64_vectors[i].coded));
        assert_memory_equal(out, base64_vectors[i].coded, got);
        assert_int_equal(out[got], '#'); /* no NUL or other byte past the end */
    }
}

static void test_decode_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        uint8_t out[16];
        const char *c = base64_vectors[i].coded;
        size_t want = strlen(base64_vectors[i].plain);
        ptrdiff_t got = cws_base64_decode(c, strlen(c), out, sizeof out);
        assert_int_equal(got, (ptrdiff_t)want);
        assert_memory_equal(out, base64_vectors[i].plain, want);
        /* exactly enough room works; one byte less is NOSPACE */
        got = cws_base64_decode(c, strlen(c), out, want);
        assert_int_equal(got, (ptrdiff_t)want);
        if (want > 0) assert_int_equal(cws_base64_decode(c, strlen(c), out, want - 1), CWS_ERR_NOSPACE);
    }
}

/* Every byte value through encode and decode, at every length 0..64. */
static void test_roundtrip_all_bytes(void **state) {
    (void)state;
    uint8_t src[256], back[256];
    char coded[CWS_BASE64_ENCODED_LEN(256)];
    for (int i = 0; i < 256; i++) src[i] = (uint8_t)(255 - i);
    for (size_t off = 0; off < 256; off += 61) {
        for (size_t len = 0; len + off <= 256 && len <= 64; len++) {
            size_t n = cws_base64_encode(src + off, len, coded);
            assert_int_equal(n, CWS_BASE64_ENCODED_LEN(len));
            assert_true(CWS_BASE64_DECODED_MAX(n) >= len);
            ptrdiff_t m = cws_base64_decode(coded, n, back, sizeof back);
            assert_int_equal(m, (ptrdiff_t)len);
            assert_memory_equal(back, src + off, len);
        }
    }
    /* The RFC 6455 §1.3 sample nonce. */
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    ptrdiff_t m = cws_base64_decode(key, strlen(key), back, sizeof back);
    assert_int_equal(m, 16);
    assert_memory_equal(back, "the sample nonce", 16);
}

static void test_invalid_forms(void **state) {
    (void)state;
    static const struct {
        const char *s;
        size_t len; /* 0: strlen */
        const char *why;
    } bad[] = {
        {"Z", 0, "length 1"},
        {"Zg", 0, "length 2, no padding"},
        {"Zg=", 0, "length 3"},
        {"Zm9vY", 0, "length 5"},
        {"Zh==", 0, "non-canonical: trailing bits set (1 byte)"},
        {"Zm9=", 0, "non-canonical: trailing bits set (2 bytes)"},
        {"Zm/=", 0, "non-canonical: low bits of last char"},
        {"Z===", 0, "three pad characters"},
        {"====", 0, "only padding"},
        {"=Zm9", 0, "padding first"},
        {"Zm=v", 0, "padding in the middle of a quantum"},
        {"Zg==Zm9v", 0, "padding before the last quantum"},
        {"Zg=\0", 4, "NUL after padding"},
        {"Zm9\0", 4, "NUL in data"},
        {"\0\0\0\0", 4, "all NUL"},
        {"Zm 9", 0, "space"},
        {"Zm9v\nYmFy", 0, "newline"},
        {"Zm9\n", 0, "newline at end"},
        {"Zm9\r", 0, "CR"},
        {"Zm9\t", 0, "tab"},
        {"Zm9-", 0, "URL-safe alphabet '-'"},
        {"Zm9_", 0, "URL-safe alphabet '_'"},
        {"Zm9.", 0, "dot"},
        {"Zm9\x80", 0, "high byte"},
        {"Zm9\xff", 0, "0xff"},
        {"Zg=A", 0, "alphabet char after '='"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        memset(out, 0xAA, sizeof out);
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].s);
        ptrdiff_t got = cws_base64_decode(bad[i].s, len, out, sizeof out);
        if (got != CWS_ERR_INVALID) fail_msg("accepted: %s (got %td)", bad[i].why, got);
        /* an invalid input is refused even when the buffer is too small */
        assert_int_equal(cws_base64_decode(bad[i].s, len, out, 0), CWS_ERR_INVALID);
    }
}

/* Every character value in every position of a quantum: exactly the 64
 * alphabet characters (and '=' where padding may go) are accepted. */
static void test_every_byte_every_position(void **state) {
    (void)state;
    for (int pos = 0; pos < 4; pos++) {
        for (int c = 0; c < 256; c++) {
            char in[4] = {'Q', 'U', 'F', 'B'}; /* "QUFB" = "AAA" */
            in[pos] = (char)c;
            uint8_t out[3];
            ptrdiff_t got = cws_base64_decode(in, 4, out, sizeof out);
            int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '+' || c == '/';
            /* '=' at the end is padding, but "QUF=" leaves the bits 01
             * of 'F' unused: non-canonical, so refused too */
            assert_int_equal(got, alpha ? 3 : CWS_ERR_INVALID);
        }
    }
    uint8_t out[3];
    assert_int_equal(cws_base64_decode("QUE=", 4, out, 3), 2);
    assert_memory_equal(out, "AA", 2);
}

static void test_nospace(void **state) {
    (void)state;
    uint8_t out[8];
    assert_int_equal(cws_base64_decode("Zm9vYmFy", 8, out, 5), CWS_ERR_NOSPACE);
    assert_int_equal(cws_base64_decode("Zm9vYmFy", 8, out, 0), CWS_ERR_NOSPACE);
    assert_int_equal(cws_base64_decode("Zm9vYg==", 8, out, 3), CWS_ERR_NOSPACE);
    assert_int_equal(cws_base64_decode("Zm9vYg==", 8, out, 4), 4);
    assert_int_equal(cws_base64_decode("", 0, NULL, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_vectors),
        cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_roundtrip_all_bytes),
        cmocka_unit_test(test_invalid_forms),
        cmocka_unit_test(test_every_byte_every_position),
        cmocka_unit_test(test_nospace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
