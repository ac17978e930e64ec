/* UTF-8 validator against the reference in fuzz_util.h, written from
 * RFC 3629 alone (ref_utf8_check). The library must agree with it on
 * validity and on the index of the bad byte, one-shot (fast path and
 * scalar path, at several buffer alignments) and chunked at split points
 * the input chooses. */
#include "fuzz_util.h"

#include "../../src/internal.h"

/* Feeds s in chunks cut at the given points; returns the global bad index
 * (len if none) and sets *finish_ok. */
static size_t lib_feed_chunked(const uint8_t *s, size_t len, const size_t *cuts, int ncuts,
                               int *finish_ok) {
    cws_utf8 v;
    cws_utf8_init(&v);
    size_t start = 0;
    for (int c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        size_t bad = (size_t)-1;
        uint8_t *chunk = fuzz_dup(s + start, end - start);
        int rc = cws_utf8_feed(&v, chunk, end - start, &bad);
        free(chunk);
        if (rc != CWS_OK) {
            FUZZ_CHECK(rc == CWS_ERR_UTF8);
            FUZZ_CHECK(bad < end - start);
            /* Once failed, it stays failed. */
            size_t again = (size_t)-1;
            FUZZ_CHECK(cws_utf8_feed(&v, "a", 1, &again) == CWS_ERR_UTF8 && again == 0);
            FUZZ_CHECK(cws_utf8_finish(&v) == CWS_ERR_UTF8);
            *finish_ok = 0;
            return start + bad;
        }
        start = end;
    }
    *finish_ok = cws_utf8_finish(&v) == CWS_OK;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    uint32_t seed = fuzz_u32(&in);
    const uint8_t *s = in.p;
    size_t len = in.n;

    int pending;
    size_t ref_bad = ref_utf8_check(s, len, &pending);
    int ref_valid = ref_bad == len && !pending;

    /* One-shot, fast and scalar, at four alignments. */
    uint8_t *buf = malloc(len + 16);
    FUZZ_CHECK(buf != NULL);
    for (size_t align = 0; align < 4; align++) {
        uint8_t *p = buf + align * 3;
        if (len) memcpy(p, s, len);
        FUZZ_CHECK((cws_utf8_validate(p, len) == CWS_OK) == ref_valid);
        cws_utf8 fast, slow;
        cws_utf8_init(&fast);
        cws_utf8_init(&slow);
        size_t bad_fast = (size_t)-1, bad_slow = (size_t)-1;
        int rf = cws_utf8_feed(&fast, p, len, &bad_fast);
        int rs = cws__utf8_feed_scalar(&slow, p, len, &bad_slow);
        FUZZ_CHECK(rf == rs);
        FUZZ_CHECK(fast.state == slow.state);
        if (ref_bad < len) {
            FUZZ_CHECK(rf == CWS_ERR_UTF8);
            FUZZ_CHECK(bad_fast == ref_bad && bad_slow == ref_bad);
        } else {
            FUZZ_CHECK(rf == CWS_OK);
            FUZZ_CHECK((cws_utf8_finish(&fast) == CWS_OK) == !pending);
        }
    }
    free(buf);

    /* Chunked: up to 8 cut points chosen by the seed (each chunk goes in
     * its own exact-size allocation, so reads past a chunk are caught). */
    size_t cuts[8];
    int ncuts = len ? (int)(seed % 9) : 0;
    for (int c = 0; c < ncuts; c++) cuts[c] = fuzz_rand(&seed) % (len + 1);
    for (int a = 1; a < ncuts; a++) /* insertion sort */
        for (int b = a; b > 0 && cuts[b - 1] > cuts[b]; b--) {
            size_t t = cuts[b];
            cuts[b] = cuts[b - 1];
            cuts[b - 1] = t;
        }
    uint8_t *copy = fuzz_dup(s, len);
    int finish_ok;
    size_t chunk_bad = lib_feed_chunked(copy, len, cuts, ncuts, &finish_ok);
    FUZZ_CHECK(chunk_bad == ref_bad);
    FUZZ_CHECK(finish_ok == ref_valid);

    /* Byte by byte for short inputs: every split point at once. */
    if (len <= 64) {
        size_t every[64];
        for (size_t k = 0; k + 1 < len; k++) every[k] = k + 1;
        size_t byte_bad = lib_feed_chunked(copy, len, every, len ? (int)len - 1 : 0, &finish_ok);
        FUZZ_CHECK(byte_bad == ref_bad);
        FUZZ_CHECK(finish_ok == ref_valid);
    }
    free(copy);
    return 0;
}
