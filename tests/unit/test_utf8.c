/* UTF-8 validation (RFC 3629): every valid and invalid class with the
 * exact failing byte, every split point, and differential tests of the
 * fast path, the scalar reference and an independent decoder written here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/internal.h"

/* ---- an independent reference: decode code points ------------------ */

/* Could a sequence of total length len whose first k bytes give the value
 * bits v still be completed into a valid scalar value? */
static int ref_completable(uint32_t v, int k, int len) {
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    int r = 6 * (len - k);
    uint32_t lo = v << r, hi = lo | ((1u << r) - 1);
    if (lo < min_for_len[len]) lo = min_for_len[len]; /* overlong */
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    if (lo > hi) return 0;
    if (lo >= 0xD800 && hi <= 0xDFFF) return 0; /* only surrogates remain */
    return 1;
}

enum { REF_VALID = -1, REF_PENDING = -2 };

/* The index of the first byte after which p is no longer a prefix of any
 * valid UTF-8 text; REF_VALID if p is complete and valid; REF_PENDING if
 * it is valid but ends inside a character. */
static long ref_first_bad(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t v;
        if ((b & 0xE0) == 0xC0) len = 2, v = b & 0x1F;
        else if ((b & 0xF0) == 0xE0) len = 3, v = b & 0x0F;
        else if ((b & 0xF8) == 0xF0) len = 4, v = b & 0x07;
        else return (long)i; /* a continuation byte or 0xF8..0xFF */
        if (!ref_completable(v, 1, len)) return (long)i;
        for (int k = 1; k < len; k++) {
            size_t j = i + (size_t)k;
            if (j >= n) return REF_PENDING;
            if ((p[j] & 0xC0) != 0x80) return (long)j;
            v = (v << 6) | (p[j] & 0x3F);
            if (!ref_completable(v, k + 1, len)) return (long)j;
        }
        i += (size_t)len;
    }
    return REF_VALID;
}

/* ---- helpers ---------------------------------------------------------- */

typedef int (*feed_fn)(cws_utf8 *, const void *, size_t, size_t *);

/* Feeds p in chunks ending at the given cut points; returns the absolute
 * index of the failing byte, or REF_VALID / REF_PENDING. */
static long feed_cuts(feed_fn feed, const uint8_t *p, size_t n, const size_t *cuts, size_t ncuts,
                      uint32_t *final_state) {
    cws_utf8 v;
    cws_utf8_init(&v);
    size_t pos = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : n;
        size_t bad = (size_t)-1;
        int rc = feed(&v, p + pos, end - pos, &bad);
        if (rc != CWS_OK) {
            assert_int_equal(rc, CWS_ERR_UTF8);
            assert_true(bad < end - pos);
            /* once failed it stays failed, even on valid input */
            assert_int_equal(feed(&v, "a", 1, NULL), CWS_ERR_UTF8);
            assert_int_equal(cws_utf8_finish(&v), CWS_ERR_UTF8);
            if (final_state) *final_state = v.state;
            return (long)(pos + bad);
        }
        pos = end;
    }
    if (final_state) *final_state = v.state;
    return cws_utf8_finish(&v) == CWS_OK ? REF_VALID : REF_PENDING;
}

static long feed_whole(feed_fn feed, const uint8_t *p, size_t n) {
    return feed_cuts(feed, p, n, NULL, 0, NULL);
}

/* Every way of checking p agrees on want: fast and scalar, one shot,
 * every pair of chunks, byte by byte, and cws_utf8_validate. */
static void check_all_ways(const uint8_t *p, size_t n, long want) {
    assert_int_equal(ref_first_bad(p, n), want);
    assert_int_equal(feed_whole(cws_utf8_feed, p, n), want);
    assert_int_equal(feed_whole(cws__utf8_feed_scalar, p, n), want);
    assert_int_equal(cws_utf8_validate(p, n), want == REF_VALID ? CWS_OK : CWS_ERR_UTF8);
    for (size_t cut = 0; cut <= n; cut++) {
        uint32_t s_fast, s_ref;
        assert_int_equal(feed_cuts(cws_utf8_feed, p, n, &cut, 1, &s_fast), want);
        assert_int_equal(feed_cuts(cws__utf8_feed_scalar, p, n, &cut, 1, &s_ref), want);
        assert_int_equal(s_fast, s_ref);
    }
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < n; i++) cuts[i] = i + 1;
    assert_int_equal(feed_cuts(cws_utf8_feed, p, n, cuts, n, NULL), want);
    assert_int_equal(feed_cuts(cws__utf8_feed_scalar, p, n, cuts, n, NULL), want);
    free(cuts);
}

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

/* ---- tests ---------------------------------------------------------- */

static void test_valid_classes(void **state) {
    (void)state;
    static const char *valid[] = {
        "",
        "\x00",                 /* U+0000 */
        "\x7F",                 /* U+007F, last 1-byte */
        "\xC2\x80",             /* U+0080, first 2-byte */
        "\xDF\xBF",             /* U+07FF, last 2-byte */
        "\xE0\xA0\x80",         /* U+0800, first 3-byte */
        "\xED\x9F\xBF",         /* U+D7FF, before the surrogates */
        "\xEE\x80\x80",         /* U+E000, after the surrogates */
        "\xEF\xBF\xBD",         /* U+FFFD */
        "\xEF\xBF\xBF",         /* U+FFFF, last 3-byte */
        "\xF0\x90\x80\x80",     /* U+10000, first 4-byte */
        "\xF3\xBF\xBF\xBF",     /* U+FFFFF */
        "\xF4\x8F\xBF\xBF",     /* U+10FFFF, the last code point */
        "\xE1\x80\x80\xEC\xBF\xBF\xF1\x80\x80\x80", /* E1..EC, F1..F3 leads */
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        size_t n = i == 1 ? 1 : strlen(valid[i]);
        check_all_ways((const uint8_t *)valid[i], n, REF_VALID);
    }
    /* Every 1..4-byte boundary value inside a longer text. */
    const uint8_t mix[] = "a\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBFz";
    check_all_ways(mix, sizeof mix - 1, REF_VALID);
}

static void test_invalid_classes(void **state) {
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        long bad;
        const char *why;
    } cases[] = {
        {"\xFF", 1, 0, "0xFF never occurs"},
        {"\xFE", 1, 0, "0xFE never occurs"},
        {"\xF5\x80\x80\x80", 4, 0, "F5: above U+10FFFF"},
        {"\xF8\x88\x80\x80\x80", 5, 0, "5-byte form"},
        {"\xC0\x80", 2, 0, "C0: overlong NUL"},
        {"\xC1\xBF", 2, 0, "C1: overlong 2-byte"},
        {"\xE0\x80\x80", 3, 1, "E0 80: overlong 3-byte"},
        {"\xE0\x9F\xBF", 3, 1, "E0 9F: overlong U+07FF"},
        {"\xE0\x80", 2, 1, "E0 80, cut"},
        {"\xF0\x80\x80\x80", 4, 1, "F0 80: overlong 4-byte"},
        {"\xF0\x8F\xBF\xBF", 4, 1, "F0 8F: overlong U+FFFF"},
        {"\xED\xA0\x80", 3, 1, "ED A0: U+D800 surrogate"},
        {"\xED\xBF\xBF", 3, 1, "ED BF: U+DFFF surrogate"},
        {"\xED\xB0\x80", 3, 1, "ED B0: low surrogate"},
        {"\xF4\x90\x80\x80", 4, 1, "F4 90: U+110000"},
        {"\xF4\xBF\xBF\xBF", 4, 1, "F4 BF: above U+10FFFF"},
        {"\x80", 1, 0, "stray continuation 80"},
        {"\xBF", 1, 0, "stray continuation BF"},
        {"a\x80", 2, 1, "continuation after ASCII"},
        {"\xC2\x80\x80", 3, 2, "continuation after a complete character"},
        {"\xC2" "A", 2, 1, "ASCII where a continuation is due"},
        {"\xC2\xC2\x80", 3, 1, "new lead where a continuation is due"},
        {"\xE4\xB8\xE4\xB8\x96", 5, 2, "3-byte cut by a new lead"},
        {"\xF0\x9F\x98" "a", 4, 3, "4-byte cut by ASCII"},
        {"\xF0\x9F\x98\xF0\x9F\x98\x80", 7, 3, "4-byte cut by a new 4-byte"},
        {"\xE1\x80\xC0", 3, 2, "C0 where a continuation is due"},
        {"\xC2\xFF", 2, 1, "FF where a continuation is due"},
        {"\xF1\x80\x80\x7F", 4, 3, "ASCII as the 4th byte"},
        {"\xEF\xBF\xBF\xBF", 4, 3, "one continuation too many"},
        {"\x00\xFF", 2, 1, "NUL is valid, FF is not"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint8_t *p = (const uint8_t *)cases[i].s;
        size_t bad = 99;
        cws_utf8 v;
        cws_utf8_init(&v);
        int rc = cws_utf8_feed(&v, p, cases[i].len, &bad);
        if (rc != CWS_ERR_UTF8 || (long)bad != cases[i].bad)
            fail_msg("%s: rc %d bad %zu, want bad %ld", cases[i].why, rc, bad, cases[i].bad);
        check_all_ways(p, cases[i].len, cases[i].bad);
    }
}

static void test_truncated_at_end(void **state) {
    (void)state;
    static const char *cut[] = {"\xC2", "\xE4\xB8", "\xE0\xA0", "\xED\x9F", "\xF0\x9F\x98",
                                "\xF4\x8F\xBF", "\xF4", "\xF0", "\xE0", "abc\xE4"};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        const uint8_t *p = (const uint8_t *)cut[i];
        size_t n = strlen(cut[i]);
        cws_utf8 v;
        cws_utf8_init(&v);
        assert_int_equal(cws_utf8_feed(&v, p, n, NULL), CWS_OK); /* pending, not failed */
        assert_int_equal(cws_utf8_finish(&v), CWS_ERR_UTF8);
        assert_int_equal(cws_utf8_validate(p, n), CWS_ERR_UTF8);
        check_all_ways(p, n, REF_PENDING);
    }
}

static void test_stays_failed(void **state) {
    (void)state;
    cws_utf8 v;
    size_t bad = 99;
    cws_utf8_init(&v);
    assert_int_equal(cws_utf8_feed(&v, "ok\xFF", 3, &bad), CWS_ERR_UTF8);
    assert_int_equal(bad, 2);
    assert_int_equal(cws_utf8_feed(&v, "fine", 4, &bad), CWS_ERR_UTF8);
    assert_int_equal(bad, 0);
    assert_int_equal(cws_utf8_feed(&v, NULL, 0, NULL), CWS_ERR_UTF8);
    assert_int_equal(cws_utf8_finish(&v), CWS_ERR_UTF8);
    /* a state that is not one of the validator's own counts as failed */
    static const uint32_t junk[] = {1, 5, 6, 7, 49, 54, 60, 63, 64, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        v.state = junk[i];
        assert_int_equal(cws_utf8_feed(&v, "abc", 3, NULL), CWS_ERR_UTF8);
        v.state = junk[i];
        assert_int_equal(cws__utf8_feed_scalar(&v, "abc", 3, NULL), CWS_ERR_UTF8);
        assert_int_equal(cws_utf8_finish(&v), CWS_ERR_UTF8);
    }
    /* and a fresh validator is independent */
    cws_utf8_init(&v);
    assert_int_equal(cws_utf8_feed(&v, NULL, 0, NULL), CWS_OK);
    assert_int_equal(cws_utf8_finish(&v), CWS_OK);
}

static void test_texts_every_split(void **state) {
    (void)state;
    static const char *texts[] = {
        "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", /* κόσμε */
        "\xE4\xB8\x96\xE7\x95\x8C\xE4\xBD\xA0\xE5\xA5\xBD\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81"
        "\xA1\xE3\x81\xAF", /* CJK */
        "\xF0\x9F\x98\x80\xF0\x9F\x8E\x89\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD\xF0\x9F\x87\xAB\xF0\x9F"
        "\x87\xB7", /* emoji */
        "Hello, \xE4\xB8\x96\xE7\x95\x8C! \xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5 \xF0\x9F\x98"
        "\x80 ok \xEF\xBF\xBD end", /* mixed */
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        check_all_ways((const uint8_t *)texts[i], strlen(texts[i]), REF_VALID);

    /* Long enough to cross the fast path's blocks: CJK then ASCII then
     * emoji, several hundred bytes, split at every point. */
    uint8_t big[700];
    size_t n = 0;
    while (n + 3 <= 200) memcpy(big + n, "\xE6\xBC\xA2", 3), n += 3;
    for (int k = 0; n < 300; k++) big[n++] = (uint8_t)('a' + k % 26);
    while (n + 4 <= 500) memcpy(big + n, "\xF0\x9F\x8C\x8D", 4), n += 4;
    while (n + 2 <= 690) memcpy(big + n, "\xD0\x96", 2), n += 2;
    check_all_ways(big, n, REF_VALID);
}

/* Invalid texts split at every point fail at the same absolute byte. */
static void test_invalid_texts_every_split(void **state) {
    (void)state;
    uint8_t buf[400];
    size_t n = 0;
    while (n + 3 <= 150) memcpy(buf + n, "\xE4\xB8\x96", 3), n += 3;
    memcpy(buf + n, "\xED\xA0\x80", 3); /* surrogate: fails at n + 1 */
    size_t bad_at = n + 1;
    n += 3;
    while (n < 300) buf[n++] = 'x';
    check_all_ways(buf, n, (long)bad_at);

    n = 0;
    while (n < 130) buf[n++] = 'q';
    buf[n++] = 0xF4;
    buf[n++] = 0x90; /* above U+10FFFF */
    buf[n++] = 0x80;
    check_all_ways(buf, n, 131);
}

/* A long valid text corrupted at each position in turn, with several bad
 * values: the fast path's block splitting must locate each error exactly
 * as the byte-wise reference does. */
static void test_corrupt_each_position(void **state) {
    (void)state;
    static const char unit[] = "ab\xC3\xA9\xE6\xBC\xA2\xF0\x9F\x8C\x8D" "c\xD0\x96\xEF\xBF\xBD";
    uint8_t text[300], work[300];
    size_t n = 0;
    while (n + sizeof unit - 1 <= sizeof text) memcpy(text + n, unit, sizeof unit - 1), n += sizeof unit - 1;
    static const uint8_t bytes[] = {0x00, 'a', 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF};
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t k = 0; k < sizeof bytes; k++) {
            memcpy(work, text, n);
            work[pos] = bytes[k];
            long want = ref_first_bad(work, n);
            assert_int_equal(feed_whole(cws_utf8_feed, work, n), want);
            assert_int_equal(feed_whole(cws__utf8_feed_scalar, work, n), want);
            size_t cut = (pos * 7 + k) % (n + 1);
            assert_int_equal(feed_cuts(cws_utf8_feed, work, n, &cut, 1, NULL), want);
        }
    }
}

static uint64_t utf8_rng = 1;
static uint32_t utf8_rand(void) {
    uint64_t x = utf8_rng; /* xorshift64, fixed seed */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    utf8_rng = x;
    return (uint32_t)(x >> 16);
}

/* Random short strings biased toward the interesting bytes 0x80..0xF4,
 * checked against the decoder above, whole and in random chunks. */
static void test_random_differential(void **state) {
    (void)state;
    utf8_rng = 0x2545F4914F6CDD1Dull;
    uint8_t buf[12];
    long counts[3] = {0, 0, 0};
    for (int iter = 0; iter < 300000; iter++) {
        size_t n = utf8_rand() % (sizeof buf + 1);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = utf8_rand();
            switch (r % 8) {
            case 0: buf[i] = (uint8_t)(r >> 8); break;             /* any byte */
            case 1: buf[i] = (uint8_t)((r >> 8) % 0x80); break;    /* ASCII */
            default: buf[i] = (uint8_t)(0x80 + (r >> 8) % 0x75); break; /* 80..F4 */
            }
        }
        long want = ref_first_bad(buf, n);
        counts[want == REF_VALID ? 0 : want == REF_PENDING ? 1 : 2]++;
        assert_int_equal(feed_whole(cws_utf8_feed, buf, n), want);
        assert_int_equal(feed_whole(cws__utf8_feed_scalar, buf, n), want);
        size_t cuts[2] = {utf8_rand() % (n + 1), 0};
        cuts[1] = cuts[0] + utf8_rand() % (n - cuts[0] + 1);
        uint32_t s1, s2;
        assert_int_equal(feed_cuts(cws_utf8_feed, buf, n, cuts, 2, &s1), want);
        assert_int_equal(feed_cuts(cws__utf8_feed_scalar, buf, n, cuts, 2, &s2), want);
        assert_int_equal(s1, s2);
    }
    /* the generator must reach all three outcomes often */
    assert_true(counts[0] > 10000 && counts[1] > 10000 && counts[2] > 10000);
}

/* Random long texts of valid characters, sometimes with one random byte
 * changed, so the fast path's ASCII skip and blocks get exercised. */
/* The vector path against the scalar reference at every alignment 0..15
 * and every length 0..256: mostly-valid text (so the ASCII and block fast
 * paths run) with one random corruption in half of the cases. */
static void test_fast_vs_scalar_alignments(void **state) {
    (void)state;
    static const char *pieces[] = {"a", "hello ", "\xC3\xA9", "\xD0\x96", "\xE4\xB8\xAD",
                                   "\xF0\x9F\x98\x80", "\xEF\xBF\xBD", "\x7F"};
    uint8_t text[512], buf[512 + 16];
    for (size_t len = 0; len <= 256; len++) {
        size_t n = 0;
        while (n < len) { /* whole characters, then cut to len: may end mid-sequence */
            const char *pc = pieces[utf8_rand() % (sizeof pieces / sizeof pieces[0])];
            size_t m = strlen(pc);
            memcpy(text + n, pc, m);
            n += m;
        }
        if (len && (utf8_rand() & 1)) text[utf8_rand() % len] = (uint8_t)(0x80 + utf8_rand() % 0x80);
        for (size_t align = 0; align < 16; align++) {
            memcpy(buf + align, text, len);
            long fast = feed_whole(cws_utf8_feed, buf + align, len);
            long ref = feed_whole(cws__utf8_feed_scalar, buf + align, len);
            assert_int_equal(fast, ref);
            assert_int_equal(ref, ref_first_bad(buf + align, len));
        }
    }
}

static void test_random_long_texts(void **state) {
    (void)state;
    utf8_rng = 0x9E3779B97F4A7C15ull;
    uint8_t buf[1100];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0, target = utf8_rand() % 1000;
        int style = (int)(utf8_rand() % 4);
        while (n < target) {
            uint32_t r = utf8_rand(), cp;
            int kind = style == 0 ? (int)(r % 4) : (r % 8 == 0 ? 0 : style);
            if (kind == 0) cp = (r >> 8) % 0x80;
            else if (kind == 1) cp = 0x80 + (r >> 8) % 0x780;
            else if (kind == 2) {
                cp = 0x800 + (r >> 8) % 0xF800;
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
            } else cp = 0x10000 + (r >> 8) % 0x100000;
            if (cp < 0x80) buf[n++] = (uint8_t)cp;
            else if (cp < 0x800) buf[n++] = (uint8_t)(0xC0 | cp >> 6), buf[n++] = (uint8_t)(0x80 | (cp & 63));
            else if (cp < 0x10000) {
                buf[n++] = (uint8_t)(0xE0 | cp >> 12);
                buf[n++] = (uint8_t)(0x80 | ((cp >> 6) & 63));
                buf[n++] = (uint8_t)(0x80 | (cp & 63));
            } else {
                buf[n++] = (uint8_t)(0xF0 | cp >> 18);
                buf[n++] = (uint8_t)(0x80 | ((cp >> 12) & 63));
                buf[n++] = (uint8_t)(0x80 | ((cp >> 6) & 63));
                buf[n++] = (uint8_t)(0x80 | (cp & 63));
            }
        }
        if (n > 0 && iter % 2) buf[utf8_rand() % n] = (uint8_t)utf8_rand();
        long want = ref_first_bad(buf, n);
        assert_int_equal(feed_whole(cws_utf8_feed, buf, n), want);
        assert_int_equal(feed_whole(cws__utf8_feed_scalar, buf, n), want);
        size_t cut = utf8_rand() % (n + 1);
        assert_int_equal(feed_cuts(cws_utf8_feed, buf, n, &cut, 1, NULL), want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_classes),
        cmocka_unit_test(test_invalid_classes),
        cmocka_unit_test(test_truncated_at_end),
        cmocka_unit_test(test_stays_failed),
        cmocka_unit_test(test_texts_every_split),
        cmocka_unit_test(test_invalid_texts_every_split),
        cmocka_unit_test(test_corrupt_each_position),
        cmocka_unit_test(test_random_differential),
        cmocka_unit_test(test_random_long_texts),
        cmocka_unit_test(test_fast_vs_scalar_alignments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
