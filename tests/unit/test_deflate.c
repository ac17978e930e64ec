/* The deflater (RFC 1951) against zlib's inflate as the oracle: the RFC
 * 7692 §7.2.3 examples byte for byte, round trips at every level and
 * window on several kinds of data, distances within the window, output
 * independent of how input and output space are split, the size bound, no
 * allocation while compressing, and the FINISH / reset life cycle.
 * Random data comes from a seed printed at the start; CWS_SEED=<n>
 * replays it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../src/internal.h"
#include "../../src/deflate/huffman_build.h"
#include "cws_deflate.h"

/* ---- data ------------------------------------------------------------- */

static uint64_t rng_state = 1;

static uint32_t rng(void) {
    uint64_t x = rng_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t rng_below(uint32_t n) { return n ? rng() % n : 0; }

static const char *const words[] = {
    "the", "of", "and", "to", "in", "is", "was", "that", "for", "it", "with", "as", "on",
    "window", "message", "server", "client", "frame", "deflate", "stream", "block", "length",
    "distance", "literal", "Huffman", "code", "compression", "socket", "browser", "protocol",
    "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world", "chat", "room"};
#define NWORDS (sizeof words / sizeof words[0])

enum { K_TEXT, K_JSON, K_BINARY, K_REPEAT, K_RANDOM, K_COUNT };

static size_t put_str(uint8_t *p, size_t at, size_t n, const char *s) {
    while (*s && at < n) p[at++] = (uint8_t)*s++;
    return at;
}

static void fill(uint8_t *p, size_t n, int kind) {
    size_t i = 0;
    char tmp[64];
    switch (kind) {
    case K_TEXT:
        while (i < n) {
            i = put_str(p, i, n, words[rng_below(NWORDS)]);
            i = put_str(p, i, n, rng_below(12) ? " " : ".\n");
        }
        break;
    case K_JSON:
        for (unsigned seq = 0; i < n; seq++) {
            snprintf(tmp, sizeof tmp, "{\"type\":\"message\",\"seq\":%u,\"name\":\"%s\",\"text\":\"", seq,
                     words[rng_below(NWORDS)]);
            i = put_str(p, i, n, tmp);
            for (uint32_t w = 1 + rng_below(12); w--;) {
                i = put_str(p, i, n, words[rng_below(NWORDS)]);
                i = put_str(p, i, n, w ? " " : "\"}\n");
            }
        }
        break;
    case K_BINARY: /* records of slowly changing little-endian integers */
        for (uint32_t v = 1000; i < n; v += rng_below(50)) {
            uint8_t rec[8] = {(uint8_t)v, (uint8_t)(v >> 8), 0, 0, (uint8_t)rng_below(4), 0xFF, 0x7F,
                              (uint8_t)rng()};
            for (int k = 0; k < 8 && i < n; k++) p[i++] = rec[k];
        }
        break;
    case K_REPEAT:
        for (; i < n; i++) p[i] = (uint8_t)("abcabcabd"[i % 9] + (rng_below(500) == 0));
        break;
    default:
        for (; i < n; i++) p[i] = (uint8_t)rng();
        break;
    }
}

/* ---- helpers ---------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void buf_reserve(buf *b, size_t more) {
    if (b->n + more <= b->cap) return;
    b->cap = (b->n + more) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
}

/* Compresses in with one call per chunk (chunk 0: all at once), out space
 * out_step at a time (0: plenty), the last call with flush. */
static void deflate_into(cws_deflater *z, buf *out, const uint8_t *in, size_t n, size_t chunk,
                         size_t out_step, int flush) {
    size_t pos = 0;
    do {
        size_t len = chunk ? CWS__MIN(chunk, n - pos) : n - pos;
        int f = pos + len == n ? flush : CWS_DEFLATE_NO_FLUSH;
        size_t off = 0;
        for (;;) {
            size_t space = out_step ? out_step : cws_deflate_bound(len - off) + 64;
            buf_reserve(out, space);
            size_t used = 0, made = 0;
            const uint8_t *at = in ? in + pos + off : NULL; /* no NULL + 0 (UBSan) */
            int rc = cws_deflate(z, at, len - off, &used, out->p + out->n, space, &made, f);
            assert_true(made <= space);
            off += used;
            out->n += made;
            if (rc == CWS_OK) break;
            assert_int_equal(rc, CWS_ERR_AGAIN);
        }
        assert_int_equal(off, len);
        pos += len;
    } while (pos < n);
}

static buf compress_once(int level, int wbits, const uint8_t *in, size_t n, int flush) {
    buf out = {0};
    cws_deflater *z = cws_deflater_new(level, wbits, NULL, NULL);
    assert_non_null(z);
    deflate_into(z, &out, in, n, 0, 0, flush);
    cws_deflater_free(z);
    return out;
}

/* zlib inflates c (raw, window 2^wbits); the result must be want. A
 * stream that ended with FINISH must end exactly there. */
static void check_inflate(const uint8_t *c, size_t cn, int wbits, const uint8_t *want, size_t wn,
                          int finished) {
    z_stream s;
    memset(&s, 0, sizeof s);
    assert_int_equal(inflateInit2(&s, -wbits), Z_OK);
    uint8_t *out = malloc(wn + 1);
    assert_non_null(out);
    s.next_in = (Bytef *)(uintptr_t)c;
    s.avail_in = (uInt)cn;
    s.next_out = out;
    s.avail_out = (uInt)wn + 1;
    int zr = inflate(&s, Z_SYNC_FLUSH);
    if (finished) assert_int_equal(zr, Z_STREAM_END);
    else assert_true(zr == Z_OK || zr == Z_BUF_ERROR);
    assert_int_equal(s.avail_in, 0);
    assert_int_equal(s.total_out, wn);
    if (wn) assert_memory_equal(out, want, wn);
    inflateEnd(&s);
    free(out);
}

static void roundtrip(int level, int wbits, const uint8_t *in, size_t n) {
    buf c = compress_once(level, wbits, in, n, CWS_DEFLATE_FINISH);
    if (c.n > cws_deflate_bound(n))
        fail_msg("level %d window %d: %zu bytes > bound %zu for %zu", level, wbits, c.n,
                 cws_deflate_bound(n), n);
    check_inflate(c.p, c.n, wbits, in, n, 1);
    free(c.p);
}

static void seed_from_env(const char *what) {
    const char *env = getenv("CWS_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 0xdef1a7e5eedull;
    print_message("%s: seed %llu (replay: CWS_SEED=%llu)\n", what, (unsigned long long)seed,
                  (unsigned long long)seed);
    rng_state = seed ? seed : 1;
}

/* ---- tests ------------------------------------------------------------ */

/* RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again with the
 * window shared, each ended by a sync flush. */
static void test_rfc7692_examples(void **state) {
    (void)state;
    static const uint8_t first[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff};
    static const uint8_t second[] = {0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff};
    for (int level = 0; level <= 9; level++) {
        for (int wbits = 8; wbits <= 15; wbits++) {
            cws_deflater *z = cws_deflater_new(level, wbits, NULL, NULL);
            assert_non_null(z);
            for (int round = 0; round < 2; round++) {
                buf out = {0};
                deflate_into(z, &out, (const uint8_t *)"Hello", 5, 0, 0, CWS_DEFLATE_SYNC);
                assert_int_equal(out.n, sizeof first);
                assert_memory_equal(out.p, first, sizeof first);
                out.n = 0;
                deflate_into(z, &out, (const uint8_t *)"Hello", 5, 0, 0, CWS_DEFLATE_SYNC);
                assert_int_equal(out.n, sizeof second);
                assert_memory_equal(out.p, second, sizeof second);
                free(out.p);
                cws_deflater_reset(z); /* no context takeover: "Hello" as new */
            }
            cws_deflater_free(z);
        }
    }
}

/* Empty input: FINISH gives an empty final fixed block, SYNC only the
 * empty stored block (RFC 7692 §7.2.3.6 strips its 00 00 ff ff to 00). */
static void test_empty(void **state) {
    (void)state;
    buf c = compress_once(6, 15, NULL, 0, CWS_DEFLATE_FINISH);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.p[0], 0x03);
    assert_int_equal(c.p[1], 0x00);
    check_inflate(c.p, c.n, 15, NULL, 0, 1);
    free(c.p);
    c = compress_once(6, 15, NULL, 0, CWS_DEFLATE_SYNC);
    static const uint8_t sync[] = {0x00, 0x00, 0x00, 0xff, 0xff};
    assert_int_equal(c.n, sizeof sync);
    assert_memory_equal(c.p, sync, sizeof sync);
    free(c.p);
}

static void test_roundtrip_levels_windows(void **state) {
    (void)state;
    seed_from_env("levels x windows x kinds");
    static const size_t sizes[] = {0, 1, 2, 3, 4, 77, 300, 4096, 9000, 40000, 140000};
    const size_t nsizes = sizeof sizes / sizeof sizes[0];
    uint8_t *in = malloc(140000);
    assert_non_null(in);
    unsigned turn = 0;
    for (int level = 1; level <= 9; level++)
        for (int wbits = 8; wbits <= 15; wbits++)
            for (int kind = 0; kind < K_COUNT; kind++) {
                /* Two sizes per case, turning through the list. */
                for (int k = 0; k < 2; k++) {
                    size_t n = sizes[turn++ % nsizes];
                    fill(in, n, kind);
                    roundtrip(level, wbits, in, n);
                }
            }
    free(in);
}

static void test_roundtrip_large(void **state) {
    (void)state;
    seed_from_env("1 MiB inputs");
    size_t n = 1u << 20;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    static const int levels[] = {1, 6, 9};
    for (int kind = 0; kind < K_COUNT; kind++) {
        fill(in, n, kind);
        for (size_t l = 0; l < 3; l++) {
            roundtrip(levels[l], 15, in, n);
            roundtrip(levels[l], 8, in, n);
        }
        roundtrip(4, 11, in, n);
    }
    free(in);
}

/* zlib with a 2^9 window rejects any distance beyond 512. */
static void test_window_distance_limit(void **state) {
    (void)state;
    seed_from_env("window limit");
    size_t n = 200000;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    for (int kind = 0; kind < K_COUNT; kind++) {
        fill(in, n, kind);
        /* Repeats 600..2000 bytes apart: tempting, and out of reach. */
        for (size_t i = 3000; i + 100 < n; i += 3000) memcpy(in + i, in + i - 600 - (i % 1400), 100);
        for (int level = 1; level <= 9; level++)
            for (int wbits = 8; wbits <= 10; wbits++) roundtrip(level, wbits, in, n);
    }
    free(in);
}

/* Messages with context takeover (one stream, a sync flush each), and the
 * same with a reset before each message (each one a stream of its own). */
static void test_messages(void **state) {
    (void)state;
    seed_from_env("messages");
    for (int level = 1; level <= 9; level++) {
        for (int wbits = 8; wbits <= 15; wbits += 7) {
            for (int takeover = 0; takeover < 2; takeover++) {
                cws_deflater *z = cws_deflater_new(level, wbits, NULL, NULL);
                assert_non_null(z);
                z_stream s;
                memset(&s, 0, sizeof s);
                assert_int_equal(inflateInit2(&s, -wbits), Z_OK);
                uint8_t msg[3000], back[3001];
                for (int m = 0; m < 60; m++) {
                    size_t n = rng_below(m % 10 == 0 ? 3000 : 200);
                    fill(msg, n, m % 3 == 2 ? K_BINARY : K_JSON);
                    if (!takeover) {
                        cws_deflater_reset(z);
                        assert_int_equal(inflateReset(&s), Z_OK);
                    }
                    buf c = {0};
                    deflate_into(z, &c, msg, n, 0, 0, CWS_DEFLATE_SYNC);
                    assert_true(c.n >= 4);
                    assert_memory_equal(c.p + c.n - 4, "\x00\x00\xff\xff", 4);
                    s.next_in = c.p;
                    s.avail_in = (uInt)c.n;
                    s.next_out = back;
                    s.avail_out = sizeof back;
                    int zr = inflate(&s, Z_SYNC_FLUSH);
                    assert_true(zr == Z_OK || (zr == Z_BUF_ERROR && n == 0));
                    assert_int_equal(s.avail_in, 0);
                    assert_int_equal(sizeof back - s.avail_out, n);
                    assert_memory_equal(back, msg, n);
                    free(c.p);
                }
                inflateEnd(&s);
                cws_deflater_free(z);
            }
        }
    }
}

/* One call, two calls split at every position, byte by byte, and output
 * space of one byte: the same bytes. */
static void check_splits(int level, int wbits, const uint8_t *in, size_t n, int flush, size_t step) {
    buf whole = compress_once(level, wbits, in, n, flush);
    cws_deflater *z = cws_deflater_new(level, wbits, NULL, NULL);
    assert_non_null(z);
    for (size_t cut = 0; cut <= n; cut += step) {
        buf out = {0};
        deflate_into(z, &out, in, cut, 0, 0, CWS_DEFLATE_NO_FLUSH);
        deflate_into(z, &out, in + cut, n - cut, 0, 0, flush);
        if (out.n != whole.n || memcmp(out.p, whole.p, whole.n))
            fail_msg("level %d window %d: split at %zu of %zu differs", level, wbits, cut, n);
        free(out.p);
        cws_deflater_reset(z);
    }
    buf out = {0};
    deflate_into(z, &out, in, n, 1, 0, flush);
    assert_int_equal(out.n, whole.n);
    assert_memory_equal(out.p, whole.p, whole.n);
    cws_deflater_reset(z);
    out.n = 0;
    deflate_into(z, &out, in, n, 0, 1, flush);
    assert_int_equal(out.n, whole.n);
    assert_memory_equal(out.p, whole.p, whole.n);
    cws_deflater_reset(z);
    out.n = 0;
    deflate_into(z, &out, in, n, 1, 1, flush);
    assert_int_equal(out.n, whole.n);
    assert_memory_equal(out.p, whole.p, whole.n);
    free(out.p);
    cws_deflater_free(z);
    check_inflate(whole.p, whole.n, wbits, in, n, flush == CWS_DEFLATE_FINISH);
    free(whole.p);
}

static void test_every_split(void **state) {
    (void)state;
    seed_from_env("every split");
    uint8_t in[1500];
    for (int kind = 0; kind < K_COUNT; kind++) {
        fill(in, sizeof in, kind);
        check_splits(1, 15, in, sizeof in, CWS_DEFLATE_SYNC, 1);
        check_splits(6, 15, in, sizeof in, CWS_DEFLATE_FINISH, 1);
        check_splits(9, 8, in, sizeof in, CWS_DEFLATE_SYNC, 3);
    }
}

/* Long inputs through slides and full blocks, in random chunks and random
 * output space, with random sync points: the same bytes as with every
 * message in one call. */
static void test_random_chunks(void **state) {
    (void)state;
    seed_from_env("random chunks");
    size_t n = 300000;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    for (int round = 0; round < 12; round++) {
        int level = 1 + (int)rng_below(9), wbits = 8 + (int)rng_below(8);
        for (size_t i = 0; i < n;) {
            size_t len = (size_t)1 + rng_below(20000); /* not inside CWS__MIN: evaluated twice */
            if (len > n - i) len = n - i;
            fill(in + i, len, (int)rng_below(K_COUNT));
            i += len;
        }
        /* messages: [start, end) pairs, each with a flush */
        size_t cuts[8];
        int ncuts = 1 + (int)rng_below(8);
        for (int k = 0; k < ncuts; k++) cuts[k] = rng_below((uint32_t)n);
        cuts[ncuts - 1] = n;
        for (int a = 0; a < ncuts; a++) /* sort */
            for (int b = a + 1; b < ncuts; b++)
                if (cuts[b] < cuts[a]) {
                    size_t t = cuts[a];
                    cuts[a] = cuts[b], cuts[b] = t;
                }
        buf ref = {0}, got = {0};
        cws_deflater *z1 = cws_deflater_new(level, wbits, NULL, NULL);
        cws_deflater *z2 = cws_deflater_new(level, wbits, NULL, NULL);
        size_t start = 0;
        for (int k = 0; k < ncuts; k++) {
            int f = k == ncuts - 1 ? CWS_DEFLATE_FINISH : CWS_DEFLATE_SYNC;
            deflate_into(z1, &ref, in + start, cuts[k] - start, 0, 0, f);
            size_t chunk = 1 + rng_below(rng_below(2) ? 100 : 70000);
            size_t step = 1 + rng_below(rng_below(2) ? 10 : 50000);
            deflate_into(z2, &got, in + start, cuts[k] - start, chunk, step, f);
            start = cuts[k];
        }
        if (ref.n != got.n || memcmp(ref.p, got.p, ref.n))
            fail_msg("round %d level %d window %d: chunked output differs", round, level, wbits);
        check_inflate(ref.p, ref.n, wbits, in, n, 1);
        free(ref.p);
        free(got.p);
        cws_deflater_free(z1);
        cws_deflater_free(z2);
    }
    free(in);
}

/* One SYNC call never writes more than cws_deflate_bound(n). */
static void test_bound(void **state) {
    (void)state;
    seed_from_env("bound");
    size_t max = 200000;
    uint8_t *in = malloc(max), *out = malloc(cws_deflate_bound(max));
    assert_non_null(in);
    assert_non_null(out);
    for (int level = 1; level <= 9; level++) {
        for (int wbits = 8; wbits <= 15; wbits++) {
            cws_deflater *z = cws_deflater_new(level, wbits, NULL, NULL);
            for (int k = 0; k < 4; k++) {
                size_t n = k == 0 ? 0 : k == 1 ? rng_below(100) : k == 2 ? rng_below(max) : max;
                fill(in, n, k == 3 ? K_TEXT : K_RANDOM);
                if (k == 3) /* text with random stretches: blocks of every type */
                    for (size_t i = 0; i + 5000 < n; i += 20000) fill(in + i, 5000, K_RANDOM);
                size_t used = 0, made = 0;
                size_t cap = cws_deflate_bound(n);
                int rc = cws_deflate(z, in, n, &used, out, cap, &made, CWS_DEFLATE_SYNC);
                assert_int_equal(rc, CWS_OK);
                assert_int_equal(used, n);
                assert_true(made <= cap);
            }
            cws_deflater_free(z);
        }
    }
    free(in);
    free(out);
}

typedef struct counting {
    size_t calls;
    size_t live;
} counting;

static void *count_realloc(void *user, void *ptr, size_t size) {
    counting *c = user;
    c->calls++;
    if (size == 0) {
        if (ptr) c->live--;
        free(ptr);
        return NULL;
    }
    if (!ptr) c->live++;
    return realloc(ptr, size);
}

static void *failing_realloc(void *user, void *ptr, size_t size) {
    (void)user;
    if (size) return NULL;
    free(ptr);
    return NULL;
}

static void test_no_allocation_and_lifecycle(void **state) {
    (void)state;
    counting cnt = {0, 0};
    cws_allocator a = {count_realloc, &cnt};
    int err = 1;
    cws_deflater *z = cws_deflater_new(6, 15, &a, &err);
    assert_non_null(z);
    assert_int_equal(err, CWS_OK);
    size_t calls = cnt.calls;
    uint8_t in[100000];
    rng_state = 7;
    fill(in, sizeof in, K_TEXT);
    buf c = {0};
    deflate_into(z, &c, in, sizeof in, 777, 13, CWS_DEFLATE_SYNC);
    deflate_into(z, &c, in, sizeof in, 0, 0, CWS_DEFLATE_FINISH);
    assert_int_equal(cnt.calls, calls);
    /* After FINISH only reset. */
    size_t used = 9, made = 9;
    uint8_t out[64];
    assert_int_equal(cws_deflate(z, in, 10, &used, out, sizeof out, &made, CWS_DEFLATE_NO_FLUSH),
                     CWS_ERR_STATE);
    assert_int_equal(used, 0);
    assert_int_equal(made, 0);
    assert_int_equal(cws_deflate(z, NULL, 0, &used, out, sizeof out, &made, CWS_DEFLATE_FINISH),
                     CWS_ERR_STATE);
    /* Reset: a new stream equal to a fresh deflater's. */
    cws_deflater_reset(z);
    buf again = {0};
    deflate_into(z, &again, in, 5000, 0, 0, CWS_DEFLATE_FINISH);
    buf fresh = compress_once(6, 15, in, 5000, CWS_DEFLATE_FINISH);
    assert_int_equal(again.n, fresh.n);
    assert_memory_equal(again.p, fresh.p, fresh.n);
    assert_int_equal(cnt.calls, calls);
    assert_true(cws_deflater_mem_usage(z) > 0);
    cws_deflater_free(z);
    assert_int_equal(cnt.live, 0);
    free(c.p);
    free(again.p);
    free(fresh.p);

    /* Arguments and allocation failure. */
    assert_null(cws_deflater_new(10, 15, NULL, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    assert_null(cws_deflater_new(-1, 15, NULL, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    assert_null(cws_deflater_new(6, 7, NULL, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    assert_null(cws_deflater_new(6, 16, NULL, NULL));
    cws_allocator bad = {failing_realloc, NULL};
    assert_null(cws_deflater_new(6, 15, &bad, &err));
    assert_int_equal(err, CWS_ERR_NOMEM);
    z = cws_deflater_new(0, 0, NULL, NULL);
    assert_non_null(z);
    assert_int_equal(cws_deflate(z, NULL, 5, &used, out, sizeof out, &made, 0), CWS_ERR_INVALID);
    assert_int_equal(cws_deflate(z, in, 5, &used, out, sizeof out, &made, 3), CWS_ERR_INVALID);
    /* No output space: AGAIN, and nothing lost when space comes. */
    assert_int_equal(cws_deflate(z, in, 5, &used, NULL, 0, &made, CWS_DEFLATE_SYNC), CWS_ERR_AGAIN);
    assert_int_equal(used, 5);
    assert_int_equal(made, 0);
    assert_int_equal(cws_deflate(z, NULL, 0, &used, out, sizeof out, &made, CWS_DEFLATE_SYNC), CWS_OK);
    check_inflate(out, made, 15, in, 5, 0);
    cws_deflater_free(z);
    cws_deflater_free(NULL);
}

/* Memory is as documented: smaller windows and faster levels hold less. */
static void test_mem_usage(void **state) {
    (void)state;
    size_t m[2][2];
    int levels[2] = {1, 6}, windows[2] = {9, 15};
    for (int l = 0; l < 2; l++)
        for (int w = 0; w < 2; w++) {
            cws_deflater *z = cws_deflater_new(levels[l], windows[w], NULL, NULL);
            m[l][w] = cws_deflater_mem_usage(z);
            cws_deflater_free(z);
        }
    print_message("mem_usage: level 1: window 9 %zu, window 15 %zu; level 6: window 9 %zu, window 15 %zu\n",
                  m[0][0], m[0][1], m[1][0], m[1][1]);
    assert_true(m[1][1] <= 160 * 1024);
    assert_true(m[0][0] < m[0][1] / 4);
    assert_true(m[1][0] < m[1][1] / 4);
}

/* The code builder: complete codes within the limit, also when the
 * frequencies would make an optimal code far deeper (Fibonacci weights). */
static void test_huffman_limits(void **state) {
    (void)state;
    uint32_t freq[CWS__HUFF_MAX_SYMS];
    uint8_t lens[CWS__HUFF_MAX_SYMS];
    for (int shape = 0; shape < 4; shape++) {
        unsigned n = shape == 3 ? 19 : 286, max = shape == 3 ? 7 : 15;
        uint32_t a = 1, b = 1;
        for (unsigned s = 0; s < n; s++) {
            if (shape == 0 || shape == 3) { /* Fibonacci, capped below 2^23 */
                freq[s] = a < (1u << 22) ? a : (1u << 22);
                uint32_t t = a + b;
                a = b, b = t;
            } else if (shape == 1) {
                freq[s] = s % 3 ? 0 : 1 + s * s;
            } else {
                freq[s] = s == 7; /* a single symbol */
            }
        }
        cws__huff_lengths(freq, n, max, lens);
        uint64_t kraft = 0;
        unsigned used = 0;
        for (unsigned s = 0; s < n; s++) {
            assert_true(lens[s] <= max);
            if (freq[s]) assert_true(lens[s] > 0);
            if (lens[s]) kraft += 1ull << (max - lens[s]), used++;
        }
        assert_true(used >= 2);
        assert_int_equal(kraft, 1ull << max);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7692_examples),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_huffman_limits),
        cmocka_unit_test(test_roundtrip_levels_windows),
        cmocka_unit_test(test_roundtrip_large),
        cmocka_unit_test(test_window_distance_limit),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_random_chunks),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_no_allocation_and_lifecycle),
        cmocka_unit_test(test_mem_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
