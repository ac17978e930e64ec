/* The inflater against a reference decoder written here from RFC 1951
 * alone: bit by bit, canonical codes decoded by their numeric ranges
 * (§3.2.2), all output kept as history. The library must agree on the
 * outcome (end of stream and where, wants more input, corrupt), and on
 * every output byte; and it must give the same answer when the input and
 * the output space come in chunks the input chooses, down to one byte.
 *
 * Input: byte 0 picks the window (8 + b % 8 bits), bytes 1..4 seed the
 * chunk sizes, the rest is the DEFLATE stream. Output is capped at
 * FUZZ_OUT_CAP; a stream that would write more is compared up to the cap. */
#include "fuzz_util.h"

#include <cws_deflate.h>

#define FUZZ_OUT_CAP (1u << 17)

/* ---------------------------------------------------------------- reference */

enum ref_result { REF_END, REF_MORE, REF_ERROR, REF_CAPPED };

typedef struct ref_code {
    unsigned count[16];   /* codes of each length */
    unsigned first[16];   /* the numerically first code of each length */
    unsigned offset[16];  /* index in symbols[] of that first code */
    uint16_t symbols[288]; /* by (length, symbol) */
    int single;           /* -1, or the one symbol of a lone one-bit code */
    int empty;            /* no codes at all */
} ref_code;

typedef struct ref {
    const uint8_t *in;
    size_t n, bit; /* bit position */
    uint8_t *out;
    size_t out_len, window;
} ref;

/* A bit, LSB first (§3.1.1); -1 at the end of the input. */
static int ref_bit(ref *r) {
    if (r->bit >= 8 * r->n) return -1;
    int b = (r->in[r->bit >> 3] >> (r->bit & 7)) & 1;
    r->bit++;
    return b;
}

/* n bits as a number, first bit lowest; -1 if the input ends first. */
static long ref_bits(ref *r, int n) {
    long v = 0;
    for (int i = 0; i < n; i++) {
        int b = ref_bit(r);
        if (b < 0) return -1;
        v |= (long)b << i;
    }
    return v;
}

/* Builds a code from lengths; 0, or -1 if over-subscribed or incomplete
 * (incomplete allowed when allow_short: no code, or one code of one bit). */
static int ref_build(ref_code *c, const uint8_t *lens, unsigned n, int allow_short) {
    memset(c, 0, sizeof *c);
    c->single = -1;
    for (unsigned s = 0; s < n; s++) c->count[lens[s]]++;
    c->count[0] = 0;
    long space = 0, used = 0; /* in units of 2^-15 */
    for (int len = 1; len <= 15; len++) {
        space += (long)c->count[len] << (15 - len);
        used += c->count[len];
    }
    if (space > (1L << 15)) return -1;
    if (space < (1L << 15)) {
        if (!allow_short) return -1;
        if (used == 0) {
            c->empty = 1;
            return 0;
        }
        if (!(used == 1 && c->count[1] == 1)) return -1;
        for (unsigned s = 0; s < n; s++)
            if (lens[s]) c->single = (int)s;
        return 0;
    }
    unsigned code = 0, idx = 0;
    for (int len = 1; len <= 15; len++) {
        code = (code + c->count[len - 1]) << 1; /* count[0] is 0 */
        c->first[len] = code;
        c->offset[len] = idx;
        for (unsigned s = 0; s < n; s++)
            if (lens[s] == len) c->symbols[idx++] = (uint16_t)s;
    }
    return 0;
}

/* A symbol; -1 input ended, -2 no such code. Codes are read MSB first. */
static int ref_decode(ref *r, const ref_code *c) {
    if (c->empty || c->single >= 0) {
        int b = ref_bit(r);
        if (b < 0) return -1;
        return (c->single >= 0 && b == 0) ? c->single : -2;
    }
    unsigned code = 0;
    for (int len = 1; len <= 15; len++) {
        int b = ref_bit(r);
        if (b < 0) return -1;
        code = (code << 1) | (unsigned)b;
        if (code - c->first[len] < c->count[len]) return c->symbols[c->offset[len] + code - c->first[len]];
    }
    return -2; /* cannot happen for a complete code */
}

static const uint16_t ref_len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                          31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t ref_len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                          2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t ref_dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,
                                           33,  49,  65,  97,  129, 193,  257,  385,  513,  769,
                                           1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t ref_dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                           6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

#define REF_TRY(x)                                                                           \
    do {                                                                                     \
        long v_ = (x);                                                                       \
        if (v_ == -1) return REF_MORE;                                                       \
        if (v_ == -2) return REF_ERROR;                                                      \
    } while (0)

static enum ref_result ref_codes(ref *r, const ref_code *lit, const ref_code *dist) {
    for (;;) {
        int sym = ref_decode(r, lit);
        REF_TRY(sym);
        if (sym < 256) {
            if (r->out_len == FUZZ_OUT_CAP) return REF_CAPPED;
            r->out[r->out_len++] = (uint8_t)sym;
            continue;
        }
        if (sym == 256) return REF_END;
        if (sym > 285) return REF_ERROR;
        long extra = ref_bits(r, ref_len_extra[sym - 257]);
        REF_TRY(extra);
        size_t len = ref_len_base[sym - 257] + (size_t)extra;
        int dsym = ref_decode(r, dist);
        REF_TRY(dsym);
        if (dsym > 29) return REF_ERROR;
        long dextra = ref_bits(r, ref_dist_extra[dsym]);
        REF_TRY(dextra);
        size_t d = ref_dist_base[dsym] + (size_t)dextra;
        if (d > r->out_len || d > r->window) return REF_ERROR;
        for (size_t i = 0; i < len; i++) {
            if (r->out_len == FUZZ_OUT_CAP) return REF_CAPPED;
            r->out[r->out_len] = r->out[r->out_len - d];
            r->out_len++;
        }
    }
}

static enum ref_result ref_dynamic(ref *r, ref_code *lit, ref_code *dist) {
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    long hlit = ref_bits(r, 5), hdist = ref_bits(r, 5), hclen = ref_bits(r, 4);
    if (hclen < 0) return REF_MORE;
    unsigned nlit = 257 + (unsigned)hlit, ndist = 1 + (unsigned)hdist;
    if (nlit > 286 || ndist > 30) return REF_ERROR;
    uint8_t clens[19] = {0}, lens[320] = {0};
    for (long i = 0; i < hclen + 4; i++) {
        long v = ref_bits(r, 3);
        if (v < 0) return REF_MORE;
        clens[order[i]] = (uint8_t)v;
    }
    ref_code cc;
    if (ref_build(&cc, clens, 19, 0) != 0) return REF_ERROR;
    unsigned i = 0;
    while (i < nlit + ndist) {
        int sym = ref_decode(r, &cc);
        REF_TRY(sym);
        if (sym < 16) {
            lens[i++] = (uint8_t)sym;
            continue;
        }
        int nextra = sym == 16 ? 2 : sym == 17 ? 3 : 7;
        long extra = ref_bits(r, nextra);
        if (extra < 0) return REF_MORE;
        unsigned rep = (unsigned)extra + (sym == 18 ? 11 : 3);
        if (sym == 16 && i == 0) return REF_ERROR;
        if (i + rep > nlit + ndist) return REF_ERROR;
        uint8_t v = sym == 16 ? lens[i - 1] : 0;
        while (rep--) lens[i++] = v;
    }
    if (lens[256] == 0) return REF_ERROR;
    if (ref_build(lit, lens, nlit, 0) != 0 || ref_build(dist, lens + nlit, ndist, 1) != 0)
        return REF_ERROR;
    return ref_codes(r, lit, dist);
}

/* One stream; *consumed = bytes up to the end of the final block. */
static enum ref_result ref_inflate(ref *r, size_t *consumed) {
    static ref_code fixed_lit, fixed_dist, lit, dist;
    static int fixed_ready;
    if (!fixed_ready) {
        uint8_t lens[288];
        for (int s = 0; s < 288; s++) lens[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
        FUZZ_CHECK(ref_build(&fixed_lit, lens, 288, 0) == 0);
        memset(lens, 5, 32);
        FUZZ_CHECK(ref_build(&fixed_dist, lens, 32, 0) == 0);
        fixed_ready = 1;
    }
    for (;;) {
        long final = ref_bits(r, 1), type = ref_bits(r, 2);
        if (type < 0) return REF_MORE;
        enum ref_result res;
        if (type == 0) {
            r->bit = (r->bit + 7) & ~(size_t)7;
            long len = ref_bits(r, 16), nlen = ref_bits(r, 16);
            if (nlen < 0) return REF_MORE;
            if (len != (~nlen & 0xFFFF)) return REF_ERROR;
            for (long i = 0; i < len; i++) {
                long b = ref_bits(r, 8);
                if (b < 0) return REF_MORE;
                if (r->out_len == FUZZ_OUT_CAP) return REF_CAPPED;
                r->out[r->out_len++] = (uint8_t)b;
            }
            res = REF_END;
        } else if (type == 1) {
            res = ref_codes(r, &fixed_lit, &fixed_dist);
        } else if (type == 2) {
            res = ref_dynamic(r, &lit, &dist);
        } else {
            return REF_ERROR;
        }
        if (res != REF_END) return res; /* REF_END here: the block ended */
        if (final) {
            *consumed = (r->bit + 7) / 8;
            return REF_END;
        }
    }
}

/* ---------------------------------------------------------------- library */

typedef struct lib_run {
    int rc;
    size_t consumed, produced;
} lib_run;

/* Chunks of input and room picked from the seed (0 = everything). */
static size_t pick(uint32_t *seed, size_t left, int whole) {
    if (whole || left == 0) return left;
    uint32_t r = fuzz_rand(seed);
    size_t n;
    switch (r % 4) {
    case 0: n = 1; break;
    case 1: n = 1 + (r >> 8) % 8; break;
    case 2: n = 1 + (r >> 8) % 300; break;
    default: n = 1 + (r >> 8) % 70000; break;
    }
    return n < left ? n : left;
}

static lib_run lib_inflate(cws_inflater *z, const uint8_t *in, size_t n, uint8_t *out,
                           uint32_t seed, int whole) {
    lib_run run = {CWS_OK, 0, 0};
    for (;;) {
        size_t ic = pick(&seed, n - run.consumed, whole);
        size_t oc = pick(&seed, FUZZ_OUT_CAP - run.produced, whole);
        /* Exact-size copies, so ASan sees any access past either end. */
        uint8_t *chunk = fuzz_dup(in + run.consumed, ic);
        uint8_t *room = malloc(oc ? oc : 1);
        FUZZ_CHECK(room != NULL);
        size_t c = SIZE_MAX, p = SIZE_MAX;
        run.rc = cws_inflate(z, chunk, ic, &c, room, oc, &p);
        FUZZ_CHECK(c <= ic && p <= oc);
        if (p) memcpy(out + run.produced, room, p);
        free(room);
        free(chunk);
        run.consumed += c;
        run.produced += p;
        if (run.rc != CWS_OK) break;
        if (c == 0 && p == 0) {
            /* No progress is allowed only for want of input or room. */
            FUZZ_CHECK(run.consumed == n || run.produced == FUZZ_OUT_CAP || ic == 0 || oc == 0);
            if (run.consumed == n || run.produced == FUZZ_OUT_CAP) break;
        }
    }
    FUZZ_CHECK(run.rc == CWS_OK || run.rc == CWS_INFLATE_END || run.rc == CWS_ERR_DEFLATE);
    if (run.rc == CWS_ERR_DEFLATE) { /* stays failed */
        size_t c = 1, p = 1;
        uint8_t b[4];
        FUZZ_CHECK(cws_inflate(z, in, n, &c, b, sizeof b, &p) == CWS_ERR_DEFLATE && c == 0 && p == 0);
    }
    return run;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input fin = {data, size};
    int wbits = 8 + fuzz_byte(&fin) % 8;
    uint32_t seed = fuzz_u32(&fin);
    const uint8_t *in = fin.p;
    size_t n = fin.n;

    static uint8_t ref_out[FUZZ_OUT_CAP], one[FUZZ_OUT_CAP], chunked[FUZZ_OUT_CAP];
    ref r = {in, n, 0, ref_out, 0, (size_t)1 << wbits};
    size_t ref_consumed = 0;
    enum ref_result want = ref_inflate(&r, &ref_consumed);

    cws_inflater *z = cws_inflater_new(wbits, NULL, NULL);
    FUZZ_CHECK(z != NULL);
    lib_run a = lib_inflate(z, in, n, one, seed, 1);
    cws_inflater_reset(z);
    lib_run b = lib_inflate(z, in, n, chunked, seed, 0);
    cws_inflater_free(z);

    /* Whole and chunked agree on everything. */
    FUZZ_CHECK(a.rc == b.rc);
    FUZZ_CHECK(a.produced == b.produced);
    FUZZ_CHECK(memcmp(one, chunked, a.produced) == 0);
    if (a.rc == CWS_INFLATE_END) FUZZ_CHECK(a.consumed == b.consumed);

    /* And with the reference. */
    if (want == REF_CAPPED) {
        FUZZ_CHECK(a.produced == FUZZ_OUT_CAP);
    } else {
        int expect = want == REF_END ? CWS_INFLATE_END : want == REF_MORE ? CWS_OK : CWS_ERR_DEFLATE;
        FUZZ_CHECK(a.rc == expect);
        FUZZ_CHECK(a.produced == r.out_len);
        if (want == REF_END) FUZZ_CHECK(a.consumed == ref_consumed);
        if (want == REF_MORE) FUZZ_CHECK(a.consumed == n);
    }
    FUZZ_CHECK(memcmp(one, ref_out, a.produced) == 0);
    return 0;
}
