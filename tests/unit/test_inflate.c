/* The streaming inflater (RFC 1951): the RFC 7692 §7.2.3 examples, round
 * trips against zlib (the oracle; the library never uses it) at every
 * level, window and strategy, every split point, every corrupt-data rule
 * with a handcrafted stream, the window rule, the output limit, a
 * randomized differential test against zlib's raw inflate, and no
 * allocation while inflating.
 *
 * Randomness is seeded from the clock and printed; CWS_SEED=<n> replays. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "cws_deflate.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state;

static uint32_t rnd(void) {
    uint64_t x = rng_state; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return (uint32_t)(x >> 16);
}

static size_t rnd_below(size_t n) { return n ? (size_t)rnd() % n : 0; }

static int setup_seed(void **state) {
    (void)state;
    const char *env = getenv("CWS_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
    if (!seed) seed = 1;
    printf("test_inflate: CWS_SEED=%llu\n", (unsigned long long)seed);
    rng_state = seed;
    return 0;
}

static uint8_t *xmalloc(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* ---- corpora ---- */

static const char *const words[] = {
    "the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on",
    "are", "as", "with", "his", "they", "I", "at", "be", "this", "have", "from", "or", "one",
    "had", "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can",
    "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will",
    "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her",
    "would", "make", "like", "him", "into", "time", "has", "look", "two", "more", "write",
    "go", "see", "number", "no", "way", "could", "people", "my", "than", "first", "water",
    "been", "call", "who", "oil", "its", "now", "find", "long", "down", "day", "did", "get",
    "come", "made", "may", "part", "compression", "websocket", "window", "Huffman"};
#define NWORDS (sizeof words / sizeof words[0])

enum corpus { C_TEXT, C_JSON, C_BINARY, C_RANDOM, C_COUNT };

static void append(uint8_t *buf, size_t *n, size_t cap, const char *s) {
    size_t k = strlen(s);
    if (k > cap - *n) k = cap - *n;
    memcpy(buf + *n, s, k);
    *n += k;
}

static uint8_t *make_corpus(enum corpus kind, size_t len) {
    uint8_t *buf = xmalloc(len);
    size_t n = 0;
    char tmp[128];
    unsigned seq = 0;
    while (n < len) {
        switch (kind) {
        case C_TEXT:
            append(buf, &n, len, words[rnd_below(NWORDS)]);
            append(buf, &n, len, rnd_below(12) ? " " : ".\n");
            break;
        case C_JSON:
            snprintf(tmp, sizeof tmp, "{\"type\":\"message\",\"seq\":%u,\"name\":\"%s%u\",\"text\":\"",
                     seq++, words[rnd_below(NWORDS)], (unsigned)rnd_below(100));
            append(buf, &n, len, tmp);
            for (size_t w = 3 + rnd_below(10); w > 0; w--) {
                append(buf, &n, len, words[rnd_below(NWORDS)]);
                append(buf, &n, len, w > 1 ? " " : "\"}\n");
            }
            break;
        case C_BINARY: { /* records of small integers and floats */
            uint32_t rec[4] = {seq++, (uint32_t)rnd_below(1000), 0x3F800000u + (uint32_t)rnd_below(4096),
                               (uint32_t)rnd_below(3)};
            for (int i = 0; i < 16 && n < len; i++) buf[n++] = (uint8_t)(rec[i / 4] >> (8 * (i % 4)));
            break;
        }
        default:
            buf[n++] = (uint8_t)rnd();
            break;
        }
    }
    return buf;
}

/* ---- zlib as the oracle ---- */

/* Raw DEFLATE of src by zlib; with sync_every, a Z_SYNC_FLUSH after every
 * sync_every bytes of input. */
static uint8_t *zlib_deflate(const uint8_t *src, size_t n, int level, int wbits, int strategy,
                             size_t sync_every, const uint8_t *dict, size_t dict_len,
                             size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, level, Z_DEFLATED, -wbits, 8, strategy), Z_OK);
    if (dict) assert_int_equal(deflateSetDictionary(&zs, dict, (uInt)dict_len), Z_OK);
    /* Each flush can add a block header and an empty stored block. */
    size_t cap = deflateBound(&zs, (uLong)n) + 64 + (sync_every ? 16 * (n / sync_every + 2) : 0);
    uint8_t *out = xmalloc(cap);
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    size_t pos = 0;
    for (;;) {
        size_t step = sync_every ? sync_every : n;
        if (step > n - pos) step = n - pos;
        zs.next_in = (Bytef *)(uintptr_t)(src + pos);
        zs.avail_in = (uInt)step;
        pos += step;
        int flush = pos == n ? Z_FINISH : Z_SYNC_FLUSH;
        int rc = deflate(&zs, flush);
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
        assert_int_equal(zs.avail_in, 0);
        if (flush == Z_FINISH) {
            assert_int_equal(rc, Z_STREAM_END);
            break;
        }
    }
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

enum outcome { OUT_END, OUT_MORE, OUT_ERROR };

/* zlib's raw inflate, all input at once into a large buffer. */
static enum outcome zlib_inflate(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                 size_t *out_len, size_t *in_used) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, -15), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int rc = inflate(&zs, Z_SYNC_FLUSH);
    *out_len = cap - zs.avail_out;
    *in_used = n - zs.avail_in;
    inflateEnd(&zs);
    if (rc == Z_STREAM_END) return OUT_END;
    if (rc == Z_DATA_ERROR) return OUT_ERROR;
    assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
    assert_int_equal(zs.avail_in, 0);
    assert_true(zs.avail_out > 0);
    return OUT_MORE;
}

/* ---- driving our inflater ---- */

/* Chunk sizes: a fixed size, or (0) random sizes, mostly small. */
static size_t pick_step(size_t step, size_t left) {
    if (step == 0) {
        switch (rnd_below(4)) {
        case 0: step = 1 + rnd_below(4); break;
        case 1: step = 1 + rnd_below(64); break;
        case 2: step = 1 + rnd_below(4096); break;
        default: step = 1 + rnd_below(70000); break;
        }
    }
    return step < left ? step : left;
}

typedef struct inf_run {
    int rc;
    size_t in_used, out_len;
} inf_run;

/* Inflates in[0..n) into out[0..cap) in chunks of in_step input and
 * out_step output (0: random), until the stream ends, fails, or stalls
 * with all input given or out full. Every call must make progress. */
static inf_run drive(cws_inflater *z, const uint8_t *in, size_t n, size_t in_step,
                     uint8_t *out, size_t cap, size_t out_step) {
    inf_run r = {CWS_OK, 0, 0};
    for (;;) {
        size_t ic = pick_step(in_step, n - r.in_used), oc = pick_step(out_step, cap - r.out_len);
        size_t c = 12345, p = 12345;
        r.rc = cws_inflate(z, in + r.in_used, ic, &c, out + r.out_len, oc, &p);
        assert_true(c <= ic);
        assert_true(p <= oc);
        r.in_used += c;
        r.out_len += p;
        if (r.rc != CWS_OK) break;
        if (c == 0 && p == 0) {
            if (r.in_used == n || r.out_len == cap) break;
            assert_true(ic == 0 || oc == 0); /* no progress with both offered */
        }
    }
    return r;
}

/* Inflates a whole stream with the given chunking; it must end exactly at
 * the end of the input with want as output. */
static void check_inflate(int wbits, const uint8_t *in, size_t n, const uint8_t *want,
                          size_t want_len, size_t in_step, size_t out_step) {
    int err = 1;
    cws_inflater *z = cws_inflater_new(wbits, NULL, &err);
    assert_non_null(z);
    assert_int_equal(err, CWS_OK);
    uint8_t *out = xmalloc(want_len + 1);
    inf_run r = drive(z, in, n, in_step, out, want_len + 1, out_step);
    assert_int_equal(r.rc, CWS_INFLATE_END);
    assert_int_equal(r.in_used, n);
    assert_int_equal(r.out_len, want_len);
    if (want_len) assert_memory_equal(out, want, want_len);
    free(out);
    cws_inflater_free(z);
}

/* ---------------------------------------------------------------- a bit writer */

typedef struct bitw {
    uint8_t buf[4096];
    size_t n;       /* whole bytes */
    uint32_t acc;   /* pending bits */
    unsigned nacc;
} bitw;

static void bw_bits(bitw *w, uint32_t v, unsigned nbits) { /* LSB first (§3.1.1) */
    for (unsigned i = 0; i < nbits; i++) {
        w->acc |= ((v >> i) & 1u) << w->nacc;
        if (++w->nacc == 8) {
            assert_true(w->n < sizeof w->buf);
            w->buf[w->n++] = (uint8_t)w->acc;
            w->acc = 0;
            w->nacc = 0;
        }
    }
}

static void bw_code(bitw *w, uint32_t code, unsigned len) { /* Huffman codes MSB first */
    for (unsigned i = len; i-- > 0;) bw_bits(w, (code >> i) & 1u, 1);
}

static size_t bw_finish(bitw *w) {
    if (w->nacc) bw_bits(w, 0, 8 - w->nacc);
    return w->n;
}

/* Canonical codes for lengths (RFC 1951 §3.2.2), written here on purpose
 * rather than shared with the library. */
static void canonical(const uint8_t *lens, unsigned n, uint16_t *codes) {
    unsigned count[16] = {0};
    uint16_t next[16];
    for (unsigned s = 0; s < n; s++) count[lens[s]]++;
    count[0] = 0;
    unsigned code = 0;
    for (unsigned b = 1; b < 16; b++) {
        code = (code + count[b - 1]) << 1;
        next[b] = (uint16_t)code;
    }
    for (unsigned s = 0; s < n; s++) codes[s] = lens[s] ? next[lens[s]]++ : 0;
}

/* Fixed code (§3.2.6): literal/length symbol and distance symbol. */
static void fixed_sym(bitw *w, unsigned sym) {
    if (sym < 144) bw_code(w, 0x30 + sym, 8);
    else if (sym < 256) bw_code(w, 0x190 + sym - 144, 9);
    else if (sym < 280) bw_code(w, sym - 256, 7);
    else bw_code(w, 0xC0 + sym - 280, 8);
}

/* A dynamic block header whose code length code gives symbols 0..15 four
 * bits each (a complete code), followed by the lengths one by one. */
typedef struct dyn_code {
    uint8_t lit_lens[288], dist_lens[32];
    uint16_t lit_codes[288], dist_codes[32];
    unsigned nlit, ndist;
} dyn_code;

static void dyn_header(bitw *w, int final, dyn_code *c) {
    bw_bits(w, (uint32_t)final, 1);
    bw_bits(w, 2, 2);
    bw_bits(w, c->nlit - 257, 5);
    bw_bits(w, c->ndist - 1, 5);
    bw_bits(w, 19 - 4, 4);
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    for (int i = 0; i < 19; i++) bw_bits(w, order[i] < 16 ? 4 : 0, 3);
    for (unsigned s = 0; s < c->nlit; s++) bw_code(w, c->lit_lens[s], 4);
    for (unsigned s = 0; s < c->ndist; s++) bw_code(w, c->dist_lens[s], 4);
    canonical(c->lit_lens, c->nlit, c->lit_codes);
    canonical(c->dist_lens, c->ndist, c->dist_codes);
}

static void dyn_lit(bitw *w, const dyn_code *c, unsigned sym) {
    assert_true(c->lit_lens[sym] > 0);
    bw_code(w, c->lit_codes[sym], c->lit_lens[sym]);
}

static void dyn_dist(bitw *w, const dyn_code *c, unsigned sym) {
    assert_true(c->dist_lens[sym] > 0);
    bw_code(w, c->dist_codes[sym], c->dist_lens[sym]);
}

/* Inflates in one call with a big buffer and returns the result code;
 * out gets the output. */
static int inflate_once(int wbits, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                        size_t *produced) {
    cws_inflater *z = cws_inflater_new(wbits, NULL, NULL);
    assert_non_null(z);
    size_t c, p;
    int rc = cws_inflate(z, in, n, &c, out, cap, &p);
    if (rc == CWS_ERR_DEFLATE) {
        /* Failed stays failed, consuming nothing, until reset. */
        size_t c2 = 1, p2 = 1;
        assert_int_equal(cws_inflate(z, in, n, &c2, out, cap, &p2), CWS_ERR_DEFLATE);
        assert_int_equal(c2, 0);
        assert_int_equal(p2, 0);
        cws_inflater_reset(z);
        static const uint8_t hello[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
        uint8_t tmp[8];
        assert_int_equal(cws_inflate(z, hello, sizeof hello, &c2, tmp, sizeof tmp, &p2),
                         CWS_INFLATE_END);
        assert_int_equal(p2, 5);
    }
    /* The same byte by byte must agree. */
    cws_inflater *z1 = cws_inflater_new(wbits, NULL, NULL);
    uint8_t *out1 = xmalloc(cap);
    inf_run r = drive(z1, in, n, 1, out1, cap, 1);
    assert_int_equal(r.rc, rc);
    if (rc != CWS_ERR_DEFLATE) {
        assert_int_equal(r.out_len, p);
        if (p) assert_memory_equal(out1, out, p);
    }
    free(out1);
    cws_inflater_free(z1);
    cws_inflater_free(z);
    if (produced) *produced = p;
    return rc;
}

/* ---------------------------------------------------------------- RFC 7692 examples */

static void test_rfc7692_examples(void **state) {
    (void)state;
    uint8_t out[64];
    size_t c, p;
    cws_inflater *z = cws_inflater_new(15, NULL, NULL);
    assert_non_null(z);

    /* §7.2.3.1: "Hello" in one fixed block, then the appended 00 00 ff ff. */
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff};
    assert_int_equal(cws_inflate(z, hello, sizeof hello, &c, out, sizeof out, &p), CWS_OK);
    assert_int_equal(c, sizeof hello);
    assert_int_equal(p, 5);
    assert_memory_equal(out, "Hello", 5);

    /* §7.2.3.2: the second message refers to the first's window. */
    static const uint8_t again[] = {0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff};
    assert_int_equal(cws_inflate(z, again, sizeof again, &c, out, sizeof out, &p), CWS_OK);
    assert_int_equal(c, sizeof again);
    assert_int_equal(p, 5);
    assert_memory_equal(out, "Hello", 5);

    /* Without context takeover it refers to nothing: too far back. */
    cws_inflater_reset(z);
    assert_int_equal(cws_inflate(z, again, sizeof again, &c, out, sizeof out, &p), CWS_ERR_DEFLATE);
    cws_inflater_reset(z);

    /* §7.2.3.3: a stored block, then 00 and the appended 00 00 ff ff. */
    static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f,
                                     0x00, 0x00, 0x00, 0xff, 0xff};
    assert_int_equal(cws_inflate(z, stored, sizeof stored, &c, out, sizeof out, &p), CWS_OK);
    assert_int_equal(c, sizeof stored);
    assert_int_equal(p, 5);
    assert_memory_equal(out, "Hello", 5);

    /* §7.2.3.4: BFINAL set; the stream ends after 7 bytes, the rest (00
     * and the appended 00 00 ff ff) is not consumed, and decodes as an
     * empty non-final stored block of a new stream. */
    cws_inflater_reset(z);
    static const uint8_t final[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00,
                                    0x00, 0x00, 0xff, 0xff};
    assert_int_equal(cws_inflate(z, final, sizeof final, &c, out, sizeof out, &p), CWS_INFLATE_END);
    assert_int_equal(c, 7);
    assert_int_equal(p, 5);
    assert_memory_equal(out, "Hello", 5);
    assert_int_equal(cws_inflate(z, final + 7, sizeof final - 7, &c, out, sizeof out, &p), CWS_OK);
    assert_int_equal(c, sizeof final - 7);
    assert_int_equal(p, 0);

    /* §7.2.3.5: two blocks in one message. */
    cws_inflater_reset(z);
    static const uint8_t two[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9,
                                  0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff};
    assert_int_equal(cws_inflate(z, two, sizeof two, &c, out, sizeof out, &p), CWS_OK);
    assert_int_equal(c, sizeof two);
    assert_int_equal(p, 5);
    assert_memory_equal(out, "Hello", 5);

    /* §7.2.3.6: an empty fragment, 00 plus 00 00 ff ff. */
    static const uint8_t empty[] = {0x00, 0x00, 0x00, 0xff, 0xff};
    assert_int_equal(cws_inflate(z, empty, sizeof empty, &c, out, sizeof out, &p), CWS_OK);
    assert_int_equal(c, sizeof empty);
    assert_int_equal(p, 0);

    /* Every example byte by byte, one byte of room at a time. */
    const struct { const uint8_t *s; size_t n; int rc; } ex[] = {
        {hello, sizeof hello, CWS_OK}, {stored, sizeof stored, CWS_OK},
        {final, 7, CWS_INFLATE_END}, {two, sizeof two, CWS_OK}};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        cws_inflater_reset(z);
        inf_run r = drive(z, ex[i].s, ex[i].n, 1, out, sizeof out, 1);
        assert_int_equal(r.rc, ex[i].rc);
        assert_int_equal(r.in_used, ex[i].n);
        assert_int_equal(r.out_len, 5);
        assert_memory_equal(out, "Hello", 5);
    }
    cws_inflater_free(z);
}

/* ---------------------------------------------------------------- round trips */

static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};

static void roundtrip(enum corpus kind, size_t len, int level, int wbits, int strategy,
                      size_t sync_every, int inflate_wbits) {
    uint8_t *data = make_corpus(kind, len);
    size_t clen;
    uint8_t *comp = zlib_deflate(data, len, level, wbits, strategy, sync_every, NULL, 0, &clen);
    check_inflate(inflate_wbits, comp, clen, data, len, clen, len + 1); /* one shot */
    check_inflate(inflate_wbits, comp, clen, data, len, 0, 0);          /* random chunks */
    free(comp);
    free(data);
}

/* Every level, window and strategy; the corpus and size rotate. */
static void test_roundtrip_matrix(void **state) {
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 100, 1000, 5000, 33000, 70000};
    unsigned k = 0;
    for (int level = 0; level <= 9; level++)
        for (int wbits = 9; wbits <= 15; wbits++)
            for (size_t s = 0; s < sizeof strategies / sizeof strategies[0]; s++, k++) {
                enum corpus kind = (enum corpus)(k % C_COUNT);
                size_t len = sizes[(k / C_COUNT + s) % (sizeof sizes / sizeof sizes[0])];
                size_t sync = k % 3 == 0 ? 1 + rnd_below(len + 1) : 0;
                roundtrip(kind, len, level, wbits, strategies[s], sync, wbits);
                /* A larger window than the data needs is fine too. */
                if (k % 7 == 0) roundtrip(kind, len, level, wbits, strategies[s], sync, 15);
            }
}

/* Every corpus at about 1 MiB, with flush points in the middle. */
static void test_roundtrip_large(void **state) {
    (void)state;
    static const int levels[] = {1, 6, 9};
    for (int kind = 0; kind < C_COUNT; kind++)
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            size_t len = (1u << 20) - rnd_below(1000);
            size_t sync = l == 1 ? 100000 + rnd_below(200000) : 0;
            roundtrip((enum corpus)kind, len, levels[l], 15, Z_DEFAULT_STRATEGY, sync, 15);
        }
    /* Small windows on long data: matches from the window across calls. */
    for (int wbits = 8; wbits <= 10; wbits++) {
        uint8_t *data = make_corpus(C_TEXT, 300000);
        size_t clen;
        uint8_t *comp = zlib_deflate(data, 300000, 9, wbits < 9 ? 9 : wbits, Z_DEFAULT_STRATEGY,
                                     0, NULL, 0, &clen);
        /* zlib's 9-bit raw window never reaches back more than 250 bytes,
         * so a 256-byte window decodes it. */
        check_inflate(wbits, comp, clen, data, 300000, 0, 0);
        check_inflate(wbits, comp, clen, data, 300000, clen, 1 + rnd_below(300));
        free(comp);
        free(data);
    }
}

/* ---------------------------------------------------------------- split points */

/* zlib's block type at each block boundary (Z_BLOCK stops after each). */
static unsigned zlib_block_types(const uint8_t *s, size_t n, size_t out_cap) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, -15), Z_OK);
    uint8_t *out = xmalloc(out_cap);
    zs.next_in = (Bytef *)(uintptr_t)s;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)out_cap;
    unsigned types = 1u << ((s[0] >> 1) & 3);
    for (;;) {
        int rc = inflate(&zs, Z_BLOCK);
        if (rc == Z_STREAM_END) break;
        assert_int_equal(rc, Z_OK);
        if (!(zs.data_type & 128) || zs.avail_in == 0) continue;
        unsigned unused = (unsigned)zs.data_type & 7;
        unsigned v = unused ? zs.next_in[-1] >> (8 - unused) : 0;
        if (unused < 3) v |= (unsigned)zs.next_in[0] << unused;
        types |= 1u << ((v >> 1) & 3);
    }
    inflateEnd(&zs);
    free(out);
    return types;
}

/* A few hundred bytes: fixed, stored and dynamic blocks, a sync flush. */
static uint8_t *three_block_stream(uint8_t *data, size_t *data_len, size_t *clen) {
    static const char part1[] = "Hello, hello, hello! A fixed Huffman block comes first. ";
    static const char part2[] = "Then stored bytes: 0123456789 ";
    static const char part3[] =
        "and at last a dynamic block: aaaaaaaabbbbbbbccccccdddddeeeefffgghi aaaabbbbccccdddd "
        "eeeeffffgggghhhh the quick brown fox jumps over the lazy dog, the quick brown fox "
        "jumps over the lazy dog; Hello, hello, hello! eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee zzzz";
    size_t n1 = sizeof part1 - 1, n2 = sizeof part2 - 1, n3 = sizeof part3 - 1;
    memcpy(data, part1, n1);
    memcpy(data + n1, part2, n2);
    memcpy(data + n1 + n2, part3, n3);
    *data_len = n1 + n2 + n3;

    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_FIXED), Z_OK);
    uint8_t *out = xmalloc(2048);
    zs.next_out = out;
    zs.avail_out = 2048;
    zs.next_in = data;
    zs.avail_in = (uInt)n1;
    assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(deflateParams(&zs, 0, Z_DEFAULT_STRATEGY), Z_OK);
    zs.avail_in = (uInt)n2;
    assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(deflateParams(&zs, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.avail_in = (uInt)n3;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *clen = 2048 - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void test_every_split_point(void **state) {
    (void)state;
    uint8_t data[512];
    size_t len, clen;
    uint8_t *comp = three_block_stream(data, &len, &clen);
    assert_int_equal(zlib_block_types(comp, clen, sizeof data), 7u); /* stored, fixed, dynamic */
    assert_true(clen > 150 && clen < 600);

    check_inflate(15, comp, clen, data, len, clen, len);
    check_inflate(15, comp, clen, data, len, 1, len);  /* byte by byte */
    check_inflate(15, comp, clen, data, len, clen, 1); /* one byte of room */
    check_inflate(15, comp, clen, data, len, 1, 1);

    uint8_t out[600];
    for (size_t cut = 0; cut <= clen; cut++) {
        for (int tiny_out = 0; tiny_out < 2; tiny_out++) {
            cws_inflater *z = cws_inflater_new(15, NULL, NULL);
            size_t produced = 0, used = 0, c, p;
            int rc = CWS_OK;
            /* First chunk, then the rest, each until it stalls. */
            const size_t ends[2] = {cut, clen};
            for (int part = 0; part < 2 && rc == CWS_OK; part++) {
                for (;;) {
                    size_t room = tiny_out ? 1 : sizeof out - produced;
                    rc = cws_inflate(z, comp + used, ends[part] - used, &c, out + produced, room, &p);
                    used += c;
                    produced += p;
                    if (rc != CWS_OK || (c == 0 && p == 0)) break;
                }
            }
            assert_int_equal(rc, CWS_INFLATE_END);
            assert_int_equal(used, clen);
            assert_int_equal(produced, len);
            assert_memory_equal(out, data, len);
            cws_inflater_free(z);
        }
    }
    free(comp);
}

/* ---------------------------------------------------------------- streams and windows */

/* Two streams back to back, the second compressed against the first's
 * data (a preset dictionary): END stops exactly at the first's end, the
 * window carries over; after reset, the same bytes are corrupt. */
static void test_end_keeps_window(void **state) {
    (void)state;
    for (int wbits = 9; wbits <= 15; wbits += 3) {
        size_t n = (size_t)1 << wbits;
        uint8_t *a = make_corpus(C_TEXT, n / 2);
        size_t l1, l2;
        uint8_t *s1 = zlib_deflate(a, n / 2, 6, wbits, Z_DEFAULT_STRATEGY, 0, NULL, 0, &l1);
        uint8_t *s2 = zlib_deflate(a, n / 2, 6, wbits, Z_DEFAULT_STRATEGY, 0, a, n / 2, &l2);
        uint8_t *both = xmalloc(l1 + l2);
        memcpy(both, s1, l1);
        memcpy(both + l1, s2, l2);
        uint8_t *out = xmalloc(n);
        cws_inflater *z = cws_inflater_new(wbits, NULL, NULL);
        /* Input and room: whole, random, whole and 1, 1 and 1. With
         * little room the inflater holds input bits longer: none of the
         * second stream's may be lost. */
        static const size_t in_steps[4] = {SIZE_MAX, 0, SIZE_MAX, 1};
        static const size_t out_steps[4] = {SIZE_MAX, 0, 1, 1};
        for (int round = 0; round < 4; round++) {
            inf_run r = drive(z, both, l1 + l2, in_steps[round], out, n, out_steps[round]);
            assert_int_equal(r.rc, CWS_INFLATE_END);
            assert_int_equal(r.in_used, l1);
            assert_int_equal(r.out_len, n / 2);
            assert_memory_equal(out, a, n / 2);
            r = drive(z, both + l1, l2, in_steps[round], out, n, out_steps[round]);
            assert_int_equal(r.rc, CWS_INFLATE_END);
            assert_int_equal(r.in_used, l2);
            assert_int_equal(r.out_len, n / 2);
            assert_memory_equal(out, a, n / 2);
            cws_inflater_reset(z);
        }
        size_t c, p;
        assert_int_equal(cws_inflate(z, s2, l2, &c, out, n, &p), CWS_ERR_DEFLATE);
        cws_inflater_free(z);
        free(out);
        free(both);
        free(s2);
        free(s1);
        free(a);
    }
}

/* Matches further back than the window (9 bits here, data compressed
 * with 15) are corrupt, even with all the data at hand in one call. */
static void test_window_rule(void **state) {
    (void)state;
    size_t n = 3000;
    uint8_t *data = make_corpus(C_RANDOM, n);
    memcpy(data + 1500, data, 1500); /* a match 1500 back */
    size_t clen;
    uint8_t *comp = zlib_deflate(data, n, 6, 15, Z_DEFAULT_STRATEGY, 0, NULL, 0, &clen);
    uint8_t *out = xmalloc(n);
    size_t p;
    assert_int_equal(inflate_once(9, comp, clen, out, n, &p), CWS_ERR_DEFLATE);
    assert_int_equal(inflate_once(10, comp, clen, out, n, &p), CWS_ERR_DEFLATE);
    assert_int_equal(inflate_once(11, comp, clen, out, n, &p), CWS_INFLATE_END);
    assert_int_equal(p, n);
    assert_memory_equal(out, data, n);
    free(out);
    free(comp);
    free(data);

    /* Before the stream start: a literal, then distance 2 (fixed code:
     * length 3 is symbol 257, distance 2 is symbol 1). */
    bitw w = {0};
    bw_bits(&w, 1, 1);
    bw_bits(&w, 1, 2);
    fixed_sym(&w, 'a');
    fixed_sym(&w, 257);
    bw_code(&w, 1, 5);
    fixed_sym(&w, 256);
    size_t len = bw_finish(&w);
    uint8_t tmp[16];
    assert_int_equal(inflate_once(15, w.buf, len, tmp, sizeof tmp, NULL), CWS_ERR_DEFLATE);
    /* Distance 1 is fine: "aaaa". */
    memset(&w, 0, sizeof w);
    bw_bits(&w, 1, 1);
    bw_bits(&w, 1, 2);
    fixed_sym(&w, 'a');
    fixed_sym(&w, 257);
    bw_code(&w, 0, 5);
    fixed_sym(&w, 256);
    len = bw_finish(&w);
    assert_int_equal(inflate_once(15, w.buf, len, tmp, sizeof tmp, &p), CWS_INFLATE_END);
    assert_int_equal(p, 4);
    assert_memory_equal(tmp, "aaaa", 4);
}

/* A small input that expands to megabytes: the output stops at out_cap. */
static void test_output_limit(void **state) {
    (void)state;
    size_t n = 4u << 20;
    uint8_t *zeros = calloc(n, 1);
    assert_non_null(zeros);
    size_t clen;
    uint8_t *bomb = zlib_deflate(zeros, n, 9, 15, Z_DEFAULT_STRATEGY, 0, NULL, 0, &clen);
    assert_true(clen < 8192);
    size_t cap = 64 * 1024;
    uint8_t *out = xmalloc(cap + 4096);
    memset(out, 0xAA, cap + 4096);
    cws_inflater *z = cws_inflater_new(15, NULL, NULL);
    size_t c, p;
    assert_int_equal(cws_inflate(z, bomb, clen, &c, out, cap, &p), CWS_OK);
    assert_int_equal(p, cap);
    assert_true(c <= clen);
    for (size_t i = 0; i < cap; i++) assert_int_equal(out[i], 0);
    for (size_t i = cap; i < cap + 4096; i++) assert_int_equal(out[i], 0xAA);
    /* And it goes on where it stopped, to the full 4 MiB. */
    size_t total = p, used = c;
    int rc;
    do {
        rc = cws_inflate(z, bomb + used, clen - used, &c, out, cap, &p);
        used += c;
        total += p;
        for (size_t i = 0; i < p; i++) assert_int_equal(out[i], 0);
    } while (rc == CWS_OK);
    assert_int_equal(rc, CWS_INFLATE_END);
    assert_int_equal(total, n);
    assert_int_equal(used, clen);
    /* No room at all: nothing written, nothing lost. */
    cws_inflater_reset(z);
    assert_int_equal(cws_inflate(z, bomb, clen, &c, NULL, 0, &p), CWS_OK);
    assert_int_equal(p, 0);
    cws_inflater_free(z);
    free(out);
    free(bomb);
    free(zeros);
}

/* ---------------------------------------------------------------- corrupt data */

static void expect_corrupt(const bitw *w0) {
    bitw w = *w0;
    size_t len = bw_finish(&w);
    uint8_t out[1024];
    assert_int_equal(inflate_once(15, w.buf, len, out, sizeof out, NULL), CWS_ERR_DEFLATE);
    /* zlib, as the RFC reader of record, agrees. */
    size_t zl, zu;
    uint8_t *zout = xmalloc(1 << 16);
    assert_int_equal(zlib_inflate(w.buf, len, zout, 1 << 16, &zl, &zu), OUT_ERROR);
    free(zout);
}

/* A literal/length code for 'a', EOB and length 3 (1, 2, 2 bits). */
static void small_lit_code(dyn_code *c) {
    memset(c, 0, sizeof *c);
    c->nlit = 258;
    c->lit_lens['a'] = 1;
    c->lit_lens[256] = 2;
    c->lit_lens[257] = 2;
}

static void test_corrupt_block_and_stored(void **state) {
    (void)state;
    bitw w = {0};
    bw_bits(&w, 1, 1); /* BTYPE 11 */
    bw_bits(&w, 3, 2);
    expect_corrupt(&w);
    memset(&w, 0, sizeof w); /* the same after a good block */
    bw_bits(&w, 0, 1);
    bw_bits(&w, 1, 2);
    fixed_sym(&w, 'x');
    fixed_sym(&w, 256);
    bw_bits(&w, 1, 1);
    bw_bits(&w, 3, 2);
    expect_corrupt(&w);

    static const uint8_t bad_nlen[] = {0x01, 0x05, 0x00, 0xfb, 0xff, 'H', 'e', 'l', 'l', 'o'};
    uint8_t out[16];
    assert_int_equal(inflate_once(15, bad_nlen, sizeof bad_nlen, out, sizeof out, NULL), CWS_ERR_DEFLATE);
    static const uint8_t good[] = {0x01, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o'};
    size_t p;
    assert_int_equal(inflate_once(15, good, sizeof good, out, sizeof out, &p), CWS_INFLATE_END);
    assert_int_equal(p, 5);
}

static void test_corrupt_dynamic_counts(void **state) {
    (void)state;
    for (int which = 0; which < 2; which++) {
        bitw w = {0};
        bw_bits(&w, 1, 1);
        bw_bits(&w, 2, 2);
        bw_bits(&w, which == 0 ? 30 : 0, 5); /* HLIT 287 */
        bw_bits(&w, which == 1 ? 30 : 0, 5); /* HDIST 31 */
        bw_bits(&w, 15, 4);
        for (int i = 0; i < 40; i++) bw_bits(&w, 0x55, 8);
        expect_corrupt(&w);
    }
    /* Exactly at the limits is fine: 286 and 30. */
    dyn_code c;
    small_lit_code(&c);
    c.nlit = 286;
    c.ndist = 30;
    c.dist_lens[0] = 1;
    c.dist_lens[29] = 1;
    bitw w = {0};
    dyn_header(&w, 1, &c);
    dyn_lit(&w, &c, 'a');
    dyn_lit(&w, &c, 257);
    dyn_dist(&w, &c, 0);
    dyn_lit(&w, &c, 256);
    size_t len = bw_finish(&w), p;
    uint8_t out[16];
    assert_int_equal(inflate_once(15, w.buf, len, out, sizeof out, &p), CWS_INFLATE_END);
    assert_int_equal(p, 4);
    assert_memory_equal(out, "aaaa", 4);
}

/* A dynamic header with the code length code lengths given. */
static void clen_header(bitw *w, const uint8_t clen_by_order[19], unsigned hclen) {
    bw_bits(w, 1, 1);
    bw_bits(w, 2, 2);
    bw_bits(w, 1, 5); /* HLIT 258 */
    bw_bits(w, 0, 5); /* HDIST 1 */
    bw_bits(w, hclen - 4, 4);
    for (unsigned i = 0; i < hclen; i++) bw_bits(w, clen_by_order[i], 3);
}

static void test_corrupt_code_length_code(void **state) {
    (void)state;
    /* Over-subscribed: three codes of one bit (16, 17, 18). */
    static const uint8_t over[19] = {1, 1, 1, 0};
    bitw w = {0};
    clen_header(&w, over, 4);
    for (int i = 0; i < 40; i++) bw_bits(&w, 0, 8);
    expect_corrupt(&w);
    /* Under-subscribed: one code of two bits. */
    static const uint8_t under[19] = {0, 0, 0, 2};
    memset(&w, 0, sizeof w);
    clen_header(&w, under, 4);
    for (int i = 0; i < 40; i++) bw_bits(&w, 0, 8);
    expect_corrupt(&w);
    /* Empty: no code at all. zlib reads on (one bit per length) and fails
     * later at the missing end-of-block code; we fail at once. */
    static const uint8_t none[19] = {0};
    memset(&w, 0, sizeof w);
    clen_header(&w, none, 4);
    size_t len = bw_finish(&w);
    uint8_t out[16];
    assert_int_equal(inflate_once(15, w.buf, len, out, sizeof out, NULL), CWS_ERR_DEFLATE);
    for (int i = 0; i < 40; i++) bw_bits(&w, 0, 8);
    expect_corrupt(&w);
}

/* A dynamic header whose code lengths are given as raw items: sym < 16
 * a length, 16/17/18 a repeat with its extra bits. */
typedef struct clen_item {
    unsigned sym, extra;
} clen_item;

static void repeat_header(bitw *w, const clen_item *items, size_t nitems, unsigned nlit,
                          unsigned ndist) {
    /* A complete code length code for lengths 0, 1, 2 and 16, 17, 18. */
    uint8_t lens[19] = {0};
    lens[0] = 2;  /* 00 */
    lens[1] = 2;  /* 01 */
    lens[2] = 3;  /* 100 */
    lens[16] = 3; /* 101 */
    lens[17] = 3; /* 110 */
    lens[18] = 3; /* 111 */
    uint16_t codes[19];
    canonical(lens, 19, codes);
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    bw_bits(w, 1, 1);
    bw_bits(w, 2, 2);
    bw_bits(w, nlit - 257, 5);
    bw_bits(w, ndist - 1, 5);
    bw_bits(w, 19 - 4, 4);
    for (int i = 0; i < 19; i++) bw_bits(w, lens[order[i]], 3);
    for (size_t i = 0; i < nitems; i++) {
        unsigned s = items[i].sym;
        bw_code(w, codes[s], lens[s]);
        if (s == 16) bw_bits(w, items[i].extra, 2);
        if (s == 17) bw_bits(w, items[i].extra, 3);
        if (s == 18) bw_bits(w, items[i].extra, 7);
    }
}

static void test_corrupt_repeats(void **state) {
    (void)state;
    /* 16 first: nothing to repeat. */
    static const clen_item first16[] = {{16, 0}};
    bitw w = {0};
    repeat_header(&w, first16, 1, 258, 1);
    for (int i = 0; i < 80; i++) bw_bits(&w, 0, 8);
    expect_corrupt(&w);

    /* Running past HLIT + HDIST (259): 97 zeros, 1, 138 zeros, 138 zeros. */
    static const clen_item past[] = {{18, 97 - 11}, {1, 0}, {18, 127}, {18, 127}};
    memset(&w, 0, sizeof w);
    repeat_header(&w, past, 4, 258, 1);
    for (int i = 0; i < 80; i++) bw_bits(&w, 0, 8);
    expect_corrupt(&w);

    /* Reaching exactly HLIT + HDIST is a valid header: 97 zeros, 'a' = 1,
     * 158 zeros, 256 = 2, 257 = 2, distance 0 = 1. */
    static const clen_item valid[] = {{18, 97 - 11}, {1, 0}, {18, 138 - 11}, {18, 20 - 11},
                                      {2, 0},        {2, 0}, {1, 0}};
    memset(&w, 0, sizeof w);
    repeat_header(&w, valid, sizeof valid / sizeof valid[0], 258, 1);
    /* codes: 'a' = 0, 256 = 10, 257 = 11; distance 0 = 0 */
    bw_code(&w, 0, 1);
    bw_code(&w, 3, 2);
    bw_code(&w, 0, 1);
    bw_code(&w, 2, 2);
    size_t len = bw_finish(&w), p;
    uint8_t out[16];
    assert_int_equal(inflate_once(15, w.buf, len, out, sizeof out, &p), CWS_INFLATE_END);
    assert_int_equal(p, 4);
    assert_memory_equal(out, "aaaa", 4);
}

static void test_corrupt_codes(void **state) {
    (void)state;
    dyn_code c;
    bitw w;
    /* Literal/length code over-subscribed: 'a', 'b', 256 one bit each. */
    small_lit_code(&c);
    c.lit_lens['b'] = 1;
    c.lit_lens[256] = 1;
    c.lit_lens[257] = 0;
    c.ndist = 1;
    c.dist_lens[0] = 1;
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, &c);
    expect_corrupt(&w);
    /* Under-subscribed: 'a' 1 bit, 256 2 bits. */
    small_lit_code(&c);
    c.lit_lens[257] = 0;
    c.ndist = 1;
    c.dist_lens[0] = 1;
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, &c);
    expect_corrupt(&w);
    /* Missing end-of-block code: 'a' and 257 one bit each. */
    small_lit_code(&c);
    c.lit_lens[256] = 0;
    c.lit_lens[257] = 1;
    c.ndist = 1;
    c.dist_lens[0] = 1;
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, &c);
    expect_corrupt(&w);
    /* Distance code over-subscribed, and under-subscribed with more than
     * one code (two of two bits). */
    for (int k = 0; k < 2; k++) {
        small_lit_code(&c);
        c.ndist = 3;
        c.dist_lens[0] = k ? 2 : 1;
        c.dist_lens[1] = k ? 2 : 1;
        c.dist_lens[2] = k ? 0 : 1;
        memset(&w, 0, sizeof w);
        dyn_header(&w, 1, &c);
        expect_corrupt(&w);
    }
    /* A single distance code of two bits is incomplete too. */
    small_lit_code(&c);
    c.ndist = 1;
    c.dist_lens[0] = 2;
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, &c);
    expect_corrupt(&w);

    /* One distance code of one bit is allowed (§3.2.7); its unused code
     * '1' is corrupt. */
    small_lit_code(&c);
    c.ndist = 1;
    c.dist_lens[0] = 1;
    for (int bad = 0; bad < 2; bad++) {
        memset(&w, 0, sizeof w);
        dyn_header(&w, 1, &c);
        dyn_lit(&w, &c, 'a');
        dyn_lit(&w, &c, 257);
        bw_code(&w, (uint32_t)bad, 1);
        dyn_lit(&w, &c, 256);
        size_t len = bw_finish(&w), p;
        uint8_t out[16];
        if (bad) {
            expect_corrupt(&w);
        } else {
            assert_int_equal(inflate_once(15, w.buf, len, out, sizeof out, &p), CWS_INFLATE_END);
            assert_int_equal(p, 4);
        }
    }
    /* No distance codes (one of zero bits): literals only, and a length
     * symbol is then corrupt. */
    c.dist_lens[0] = 0;
    for (int bad = 0; bad < 2; bad++) {
        memset(&w, 0, sizeof w);
        dyn_header(&w, 1, &c);
        dyn_lit(&w, &c, 'a');
        if (bad) {
            dyn_lit(&w, &c, 257);
            bw_bits(&w, 0, 8);
        }
        dyn_lit(&w, &c, 256);
        size_t len = bw_finish(&w), p;
        uint8_t out[16];
        if (bad) {
            expect_corrupt(&w);
        } else {
            assert_int_equal(inflate_once(15, w.buf, len, out, sizeof out, &p), CWS_INFLATE_END);
            assert_int_equal(p, 1);
        }
    }

    /* Fixed code: literal/length 286 and 287, distance 30 and 31. */
    for (unsigned sym = 286; sym <= 287; sym++) {
        memset(&w, 0, sizeof w);
        bw_bits(&w, 1, 1);
        bw_bits(&w, 1, 2);
        fixed_sym(&w, 'a');
        fixed_sym(&w, sym);
        bw_bits(&w, 0, 16);
        expect_corrupt(&w);
    }
    for (unsigned d = 30; d <= 31; d++) {
        memset(&w, 0, sizeof w);
        bw_bits(&w, 1, 1);
        bw_bits(&w, 1, 2);
        fixed_sym(&w, 'a');
        fixed_sym(&w, 257);
        bw_code(&w, d, 5);
        bw_bits(&w, 0, 16);
        expect_corrupt(&w);
    }
}

/* A literal/length code with the end-of-block code alone (one bit) is
 * incomplete. The RFC allows an incomplete code only for one distance
 * code (§3.2.7), so we reject it; zlib accepts it (its inflate_table lets
 * any single one-bit code through). Both stated here so a change shows. */
static void test_lone_end_of_block_code(void **state) {
    (void)state;
    dyn_code c;
    memset(&c, 0, sizeof c);
    c.nlit = 257;
    c.lit_lens[256] = 1;
    c.ndist = 1;
    bitw w = {0};
    dyn_header(&w, 1, &c);
    dyn_lit(&w, &c, 256);
    size_t len = bw_finish(&w), zl, zu;
    uint8_t out[16];
    assert_int_equal(inflate_once(15, w.buf, len, out, sizeof out, NULL), CWS_ERR_DEFLATE);
    assert_int_equal(zlib_inflate(w.buf, len, out, sizeof out, &zl, &zu), OUT_END);
}

/* ---------------------------------------------------------------- differential */

/* Ours, one shot and in random chunks, must agree with zlib on the
 * outcome, the output and where the stream ends. The one tolerated
 * difference: we may fail where zlib still wants input, when zlib fails
 * too once it gets more (an empty code length code, see above). */
static void differential_one(const uint8_t *in, size_t n, long *counts) {
    size_t cap = n * 1040 + 1024, zl, zu;
    uint8_t *zout = xmalloc(cap), *out = xmalloc(cap);
    enum outcome zo = zlib_inflate(in, n, zout, cap, &zl, &zu);

    cws_inflater *z = cws_inflater_new(15, NULL, NULL);
    size_t c, p;
    int rc = cws_inflate(z, in, n, &c, out, cap, &p);
    enum outcome o = rc == CWS_INFLATE_END ? OUT_END : rc == CWS_OK ? OUT_MORE : OUT_ERROR;
    assert_true(rc == CWS_INFLATE_END || rc == CWS_OK || rc == CWS_ERR_DEFLATE);
    if (o == OUT_MORE) assert_int_equal(c, n);

    if (o == OUT_ERROR && zo == OUT_MORE) {
        /* zlib must fail too with more input, whatever it is. */
        for (int fill = 0; fill < 2; fill++) {
            uint8_t *more = xmalloc(n + 64);
            memcpy(more, in, n);
            memset(more + n, fill ? 0xFF : 0x00, 64);
            size_t zl2, zu2;
            uint8_t *zout2 = xmalloc(cap + 70000);
            assert_int_equal(zlib_inflate(more, n + 64, zout2, cap + 70000, &zl2, &zu2), OUT_ERROR);
            free(zout2);
            free(more);
        }
        counts[3]++;
    } else {
        if (o != zo) fprintf(stderr, "differential: ours %d zlib %d, %zu bytes\n", (int)o, (int)zo, n);
        assert_int_equal(o, zo);
        counts[o]++;
        if (o != OUT_ERROR) {
            assert_int_equal(p, zl);
            if (p) assert_memory_equal(out, zout, p);
            assert_int_equal(c, zu);
        }
    }
    /* Random chunks give the same. */
    cws_inflater_reset(z);
    uint8_t *out2 = xmalloc(cap);
    inf_run r = drive(z, in, n, 0, out2, cap, 0);
    assert_int_equal(r.rc, rc);
    if (rc != CWS_ERR_DEFLATE) {
        assert_int_equal(r.out_len, p);
        assert_int_equal(r.in_used, c);
        if (p) assert_memory_equal(out2, out, p);
    }
    free(out2);
    cws_inflater_free(z);
    free(out);
    free(zout);
}

static void test_differential_random(void **state) {
    (void)state;
    long counts[4] = {0};
    uint8_t buf[200];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 1 + rnd_below(sizeof buf);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rnd();
        /* Steer the first block header: dynamic half the time. */
        if (iter & 1) buf[0] = (uint8_t)((buf[0] & ~6u) | 4u);
        differential_one(buf, n, counts);
    }
    printf("random: %ld end, %ld more, %ld error, %ld early error\n", counts[0], counts[1],
           counts[2], counts[3]);
}

/* zlib streams with a few bits flipped, bytes changed or cut short. */
static void test_differential_mutated(void **state) {
    (void)state;
    long counts[4] = {0};
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 1 + rnd_below(2000);
        uint8_t *data = make_corpus((enum corpus)rnd_below(C_COUNT), len);
        size_t clen;
        uint8_t *comp = zlib_deflate(data, len, (int)rnd_below(10), 15,
                                     strategies[rnd_below(5)], rnd_below(3) ? 0 : 1 + rnd_below(len),
                                     NULL, 0, &clen);
        for (int m = 1 + (int)rnd_below(4); m > 0; m--) {
            size_t at = rnd_below(clen);
            if (rnd_below(2)) comp[at] ^= (uint8_t)(1u << rnd_below(8));
            else comp[at] = (uint8_t)rnd();
        }
        if (rnd_below(4) == 0) clen = rnd_below(clen + 1);
        differential_one(comp, clen, counts);
        free(comp);
        free(data);
    }
    printf("mutated: %ld end, %ld more, %ld error, %ld early error\n", counts[0], counts[1],
           counts[2], counts[3]);
}

/* ---------------------------------------------------------------- API and memory */

typedef struct counting {
    long allocs, frees, fail_after;
} counting;

static void *counting_fn(void *user, void *ptr, size_t size) {
    counting *k = user;
    if (size == 0) {
        if (ptr) k->frees++;
        free(ptr);
        return NULL;
    }
    if (k->fail_after == 0) return NULL;
    if (k->fail_after > 0) k->fail_after--;
    k->allocs++;
    return realloc(ptr, size);
}

static void test_api_and_memory(void **state) {
    (void)state;
    int err = 0;
    static const int bad_bits[] = {-1, 1, 7, 16, 31};
    for (size_t i = 0; i < sizeof bad_bits / sizeof bad_bits[0]; i++) {
        err = 0;
        assert_null(cws_inflater_new(bad_bits[i], NULL, &err));
        assert_int_equal(err, CWS_ERR_INVALID);
        assert_null(cws_inflater_new(bad_bits[i], NULL, NULL));
    }
    counting k = {0, 0, 0};
    cws_allocator a = {counting_fn, &k};
    assert_null(cws_inflater_new(15, &a, &err));
    assert_int_equal(err, CWS_ERR_NOMEM);

    k.fail_after = -1;
    cws_inflater *z15 = cws_inflater_new(0, &a, &err); /* 0 means 15 */
    cws_inflater *z8 = cws_inflater_new(8, &a, &err);
    assert_non_null(z15);
    assert_non_null(z8);
    size_t m15 = cws_inflater_mem_usage(z15), m8 = cws_inflater_mem_usage(z8);
    printf("mem_usage: window 15: %zu bytes, window 8: %zu bytes\n", m15, m8);
    assert_true(m15 >= 32768 && m15 < 32768 + 12 * 1024);
    assert_true(m8 >= 256 && m8 < 256 + 12 * 1024);
    assert_int_equal(m15 - m8, 32768 - 256);

    /* No allocation while inflating. */
    long before = k.allocs;
    uint8_t *data = make_corpus(C_JSON, 200000);
    size_t clen;
    uint8_t *comp = zlib_deflate(data, 200000, 6, 15, Z_DEFAULT_STRATEGY, 50000, NULL, 0, &clen);
    uint8_t *out = xmalloc(200000);
    inf_run r = drive(z15, comp, clen, 0, out, 200000, 0);
    assert_int_equal(r.rc, CWS_INFLATE_END);
    assert_memory_equal(out, data, 200000);
    cws_inflater_reset(z15);
    size_t c, p;
    assert_int_equal(cws_inflate(z15, comp, clen, &c, out, 200000, &p), CWS_INFLATE_END);
    assert_int_equal(k.allocs, before);
    free(out);
    free(comp);
    free(data);

    /* Argument checks, and NULL with zero lengths. */
    assert_int_equal(cws_inflate(NULL, NULL, 0, &c, NULL, 0, &p), CWS_ERR_INVALID);
    assert_int_equal(cws_inflate(z8, NULL, 1, &c, NULL, 0, &p), CWS_ERR_INVALID);
    assert_int_equal(cws_inflate(z8, NULL, 0, &c, NULL, 0, &p), CWS_OK);
    assert_int_equal(c, 0);
    assert_int_equal(p, 0);
    assert_int_equal(cws_inflater_mem_usage(NULL), 0);
    cws_inflater_reset(NULL);
    cws_inflater_free(NULL);

    cws_inflater_free(z15);
    cws_inflater_free(z8);
    assert_int_equal(k.allocs, k.frees);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7692_examples),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_roundtrip_matrix),
        cmocka_unit_test(test_roundtrip_large),
        cmocka_unit_test(test_end_keeps_window),
        cmocka_unit_test(test_window_rule),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_corrupt_block_and_stored),
        cmocka_unit_test(test_corrupt_dynamic_counts),
        cmocka_unit_test(test_corrupt_code_length_code),
        cmocka_unit_test(test_corrupt_repeats),
        cmocka_unit_test(test_corrupt_codes),
        cmocka_unit_test(test_lone_end_of_block_code),
        cmocka_unit_test(test_differential_random),
        cmocka_unit_test(test_differential_mutated),
        cmocka_unit_test(test_api_and_memory),
    };
    return cmocka_run_group_tests(tests, setup_seed, NULL);
}
