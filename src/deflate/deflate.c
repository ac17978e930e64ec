/* A streaming DEFLATE compressor (RFC 1951): LZ77 over hash chains, then
 * per block the cheapest of stored, fixed and dynamic Huffman coding.
 *
 * Layout. One allocation holds the struct, the window, the hash heads, the
 * chain links and the block's symbols. The window keeps W = 2^window_bits
 * bytes of history, a slide step B and a full match of lookahead; when
 * matching reaches W + B it slides by B (memmove plus a rebase of the
 * u16 positions), so everything fits 16-bit positions and memory stays
 * about W + B + 2W + 2H + 18 KiB.
 *
 * Determinism. Without a flush, a position is matched only once a full
 * match of lookahead (258 bytes plus a hash's worth) is loaded, the window
 * slides at fixed positions, and a block ends only when its symbol buffer
 * fills or its start would slide out: so the output depends on the data
 * and the flush points, never on how input or output space were split.
 *
 * Blocks. Symbols are kept as one byte per literal and three per match
 * (length, distance) with a bit per symbol saying which. A block's input
 * stays in the window until the block is written, so a stored block can
 * always be chosen, which bounds the output (cws_deflate_bound). */
#include "../internal.h"
#include "cws_deflate.h"
#include "huffman_build.h"
#include "tables.h"

#include <string.h>

#define DEF_MIN_MATCH 3
#define DEF_MAX_MATCH 258
/* A full match plus the bytes a hash reads: with this much loaded, what is
 * found at a position cannot change when more input arrives. */
#define DEF_LOOKAHEAD (DEF_MAX_MATCH + 4)
#define DEF_PAD 16              /* word-at-a-time reads past the data */
#define DEF_MIN_SLIDE 8192      /* small windows still get blocks this long */
#define DEF_SYM_BYTES 16384     /* a block's symbols, at most */
#define DEF_TOO_FAR 4096        /* a 3-byte match farther than this costs more than literals */
/* After this many positions in a row without a match the data looks
 * incompressible: search one candidate per position until a match shows
 * up again (every position is still hashed). */
#define DEF_MISS_RUN 64
#define DEF_EOB 256
#define DEF_STORED_MAX 65535u   /* RFC 1951 §3.2.4: LEN is 16 bits */
#define DEF_NUM_LITLEN 286      /* 286 and 287 never occur (§3.2.5) */
#define DEF_NUM_DIST 30
#define DEF_NUM_CLEN 19

enum { DEF_GREEDY, DEF_LAZY };

/* Per level: chain steps, "nice" length that ends a search, the length
 * above which the lazy matcher does not look one byte further, the length
 * above which it searches a quarter of the chain, hashed bytes, hash bits,
 * and (greedy) the longest match whose inner positions are hashed. */
typedef struct def_params {
    uint16_t chain, nice, lazy, good;
    uint8_t mode, hash_len, hash_bits, ins_max;
} def_params;

static const def_params def_levels[10] = {
    /*  chain nice lazy good  mode        hlen hbits ins */
    {0, 0, 0, 0, DEF_GREEDY, 4, 13, 0},
    {3, 16, 0, 0, DEF_GREEDY, 4, 13, 8},     /* 1: fast */
    {8, 32, 0, 0, DEF_GREEDY, 4, 13, 16},    /* 2 */
    {24, 64, 0, 0, DEF_GREEDY, 4, 13, 32},   /* 3 */
    {16, 32, 8, 4, DEF_LAZY, 4, 13, 0},      /* 4 */
    {32, 64, 16, 8, DEF_LAZY, 4, 13, 0},     /* 5 */
    {128, 128, 16, 8, DEF_LAZY, 4, 13, 0},   /* 6: default */
    {256, 128, 32, 8, DEF_LAZY, 4, 13, 0},   /* 7 */
    {1024, 258, 128, 32, DEF_LAZY, 4, 13, 0}, /* 8 */
    {4096, 258, 258, 32, DEF_LAZY, 4, 13, 0}, /* 9 */
};

/* What the block writer does next (each step writes at most 48 bits). */
enum {
    EM_IDLE,
    EM_HEADER,      /* BFINAL, BTYPE; for dynamic also HLIT, HDIST, HCLEN */
    EM_CLEN_LENS,   /* the code length code's lengths, 3 bits each */
    EM_ITEMS,       /* run-length coded literal/length and distance lengths */
    EM_SYMS,
    EM_EOB,
    EM_STORED_HEAD, /* one stored block: header, alignment, LEN, NLEN */
    EM_STORED_DATA,
    EM_BLOCK_DONE,
    EM_SYNC,        /* the empty stored block of a sync flush */
    EM_ALIGN,       /* pad to a byte boundary (end of stream) */
    EM_DRAIN        /* write every pending bit */
};

enum { BT_STORED = 0, BT_FIXED = 1, BT_DYNAMIC = 2 };

struct cws_deflater {
    cws_allocator alloc;
    size_t mem;
    def_params p;
    uint32_t wsize, wmask, slide, bufsize;
    uint32_t prev_base; /* prev[] index of position 0: slides need not move prev */
    uint32_t hash_bits, hash_drop, hash_size;
    uint8_t *win;
    uint16_t *head, *prev;
    uint8_t *sym, *flags;
    uint32_t sym_cap;

    /* matcher */
    uint32_t pos;          /* next position to look at */
    uint32_t avail;        /* bytes loaded into win */
    uint32_t pend_from;    /* hashing deferred at a flush: [pend_from, pos) */
    int pend;
    int have_prev;         /* lazy: the byte at pos-1 is not yet coded */
    uint32_t misses;       /* positions in a row without a match */
    uint32_t prev_len, prev_dist;

    /* the open block */
    uint32_t block_start, block_len; /* input it covers, in win */
    uint32_t nsym, sym_len;
    uint32_t lit_freq[DEF_NUM_LITLEN], dist_freq[DEF_NUM_DIST];

    /* the block being written */
    int em, btype, bfinal, tail;
    uint32_t em_i, em_j, st_left, st_off;
    uint16_t lit_code[CWS__DEFLATE_NUM_LITLEN], dist_code[CWS__DEFLATE_NUM_DIST];
    uint8_t lit_len[CWS__DEFLATE_NUM_LITLEN], dist_len[CWS__DEFLATE_NUM_DIST];
    uint16_t fixed_lit_code[CWS__DEFLATE_NUM_LITLEN], fixed_dist_code[CWS__DEFLATE_NUM_DIST];
    uint8_t fixed_lit_len[CWS__DEFLATE_NUM_LITLEN], fixed_dist_len[CWS__DEFLATE_NUM_DIST];
    uint16_t clen_code[DEF_NUM_CLEN];
    uint8_t clen_len[DEF_NUM_CLEN];
    uint8_t item_sym[DEF_NUM_LITLEN + DEF_NUM_DIST], item_extra[DEF_NUM_LITLEN + DEF_NUM_DIST];
    uint32_t nitems, hlit, hdist, hclen;

    /* output */
    uint64_t bits;
    unsigned nbits;
    uint8_t *out, *out_end;

    int flushing; /* a SYNC or FINISH being written */
    int finished;
};

static void def_build_fixed(cws_deflater *z);

/* ---- small helpers ---------------------------------------------------- */

static inline uint32_t def_load32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint16_t def_load16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2); /* compared for equality only: host order is fine */
    return v;
}

static inline uint64_t def_load64(const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    return (uint64_t)def_load32(p) | (uint64_t)def_load32(p + 4) << 32;
#endif
}

static inline void def_store64(uint8_t *p, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline unsigned def_ctz64(uint64_t x) {
#if defined(__GNUC__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    while (!(x & 1)) x >>= 1, n++;
    return n;
#endif
}

/* floor(log2(x)) for x > 0. */
static inline unsigned def_log2(uint32_t x) {
#if defined(__GNUC__)
    return 31u - (unsigned)__builtin_clz(x);
#else
    unsigned n = 0;
    while (x >>= 1) n++;
    return n;
#endif
}

/* Length code index 0..28 (symbol 257 + i) for length - 3 (§3.2.5). */
static inline unsigned def_len_sym(unsigned l) {
    if (l < 8) return l;
    if (l == 255) return 28; /* 258 has its own code */
    unsigned nb = def_log2(l);
    return 4 * (nb - 1) + ((l >> (nb - 2)) & 3);
}

/* Distance code 0..29 for distance - 1 (§3.2.5). */
static inline unsigned def_dist_sym(unsigned d) {
    if (d < 4) return d;
    unsigned nb = def_log2(d);
    return 2 * nb + ((d >> (nb - 1)) & 1);
}

/* Equal leading bytes of a and b, at most max; reads up to 7 bytes past. */
static inline uint32_t def_match_len(const uint8_t *a, const uint8_t *b, uint32_t max) {
    uint32_t n = 0;
    while (n < max) {
        uint64_t x = def_load64(a + n) ^ def_load64(b + n);
        if (x) {
            n += def_ctz64(x) >> 3;
            return n < max ? n : max;
        }
        n += 8;
    }
    return max;
}

/* ---- construction ----------------------------------------------------- */

typedef struct def_layout {
    size_t win, head, prev, sym, flags, total;
} def_layout;

static void def_sizes(cws_deflater *z, int level, int wbits) {
    z->p = def_levels[level];
    z->wsize = 1u << wbits;
    z->wmask = z->wsize - 1;
    z->slide = CWS__MAX(z->wsize / 2, (uint32_t)DEF_MIN_SLIDE);
    z->bufsize = z->wsize + z->slide + DEF_LOOKAHEAD;
    z->hash_bits = CWS__MIN((uint32_t)z->p.hash_bits, (uint32_t)wbits + 1);
    z->hash_size = 1u << z->hash_bits;
    z->hash_drop = z->p.hash_len == 3 ? 8 : 0;
    z->sym_cap = CWS__MIN((uint32_t)DEF_SYM_BYTES, z->bufsize);
}

static def_layout def_plan(const cws_deflater *z) {
    def_layout l;
    l.win = CWS__ALIGN_UP(sizeof(cws_deflater));
    l.head = l.win + CWS__ALIGN_UP((size_t)z->bufsize + DEF_PAD);
    l.prev = l.head + CWS__ALIGN_UP((size_t)z->hash_size * 2);
    l.sym = l.prev + CWS__ALIGN_UP((size_t)z->wsize * 2);
    l.flags = l.sym + CWS__ALIGN_UP((size_t)z->sym_cap);
    l.total = l.flags + CWS__ALIGN_UP((size_t)z->sym_cap / 8 + 1);
    return l;
}

cws_deflater *cws_deflater_new(int level, int window_bits, const cws_allocator *alloc, int *err) {
    if (level == 0) level = CWS_DEFLATE_LEVEL_DEFAULT;
    if (window_bits == 0) window_bits = CWS_DEFLATE_WINDOW_MAX;
    if (level < 1 || level > 9 || window_bits < CWS_DEFLATE_WINDOW_MIN ||
        window_bits > CWS_DEFLATE_WINDOW_MAX) {
        if (err) *err = CWS_ERR_INVALID;
        return NULL;
    }
    cws_deflater tmp;
    memset(&tmp, 0, sizeof tmp);
    def_sizes(&tmp, level, window_bits);
    def_layout l = def_plan(&tmp);
    uint8_t *block = cws__realloc(alloc, NULL, l.total);
    if (!block) {
        if (err) *err = CWS_ERR_NOMEM;
        return NULL;
    }
    /* All of it zeroed once: word reads past the data and slides then only
     * ever see initialized bytes. */
    memset(block, 0, l.total);
    cws_deflater *z = (cws_deflater *)(void *)block;
    *z = tmp;
    if (alloc) z->alloc = *alloc;
    z->mem = l.total;
    z->win = block + l.win;
    z->head = (uint16_t *)(void *)(block + l.head);
    z->prev = (uint16_t *)(void *)(block + l.prev);
    z->sym = block + l.sym;
    z->flags = block + l.flags;
    def_build_fixed(z);
    if (err) *err = CWS_OK;
    return z;
}

void cws_deflater_free(cws_deflater *z) {
    if (!z) return;
    cws_allocator a = z->alloc;
    cws__realloc(&a, z, 0);
}

size_t cws_deflater_mem_usage(const cws_deflater *z) { return z ? z->mem : 0; }

void cws_deflater_reset(cws_deflater *z) {
    if (!z) return;
    /* Chains are only entered through head, so clearing it forgets the
     * history; prev links are rewritten before they are read again. */
    memset(z->head, 0, (size_t)z->hash_size * 2);
    z->pos = z->avail = 0;
    z->pend = z->have_prev = 0;
    z->pend_from = z->prev_len = z->prev_dist = 0;
    z->prev_base = 0;
    z->misses = 0;
    z->block_start = z->block_len = z->nsym = z->sym_len = 0;
    memset(z->lit_freq, 0, sizeof z->lit_freq);
    memset(z->dist_freq, 0, sizeof z->dist_freq);
    z->em = EM_IDLE;
    z->tail = 0;
    z->bits = 0;
    z->nbits = 0;
    z->flushing = z->finished = 0;
}

/* The worst case is every block stored (the cheapest type never costs
 * more): 5 bytes of header per block, a block per >= 8 KiB of input on
 * either count of block ends (full symbol buffer, slide), plus the
 * empty stored block of the flush. */
size_t cws_deflate_bound(size_t in_len) {
    size_t b = in_len + (in_len >> 9) + 32;
    return b < in_len ? SIZE_MAX : b;
}

/* ---- hashing and matching --------------------------------------------- */

static inline uint32_t def_hash(const cws_deflater *z, const uint8_t *p) {
    /* Fibonacci hashing of the first 3 or 4 bytes (little-endian, so that
     * the output does not depend on the host). */
    return ((def_load32(p) << z->hash_drop) * 0x9E3779B1u) >> (32 - z->hash_bits);
}

/* Links position p into its chain; returns the previous head (0: none;
 * position 0 is never a candidate, as in zlib, which keeps the RFC 7692
 * §7.2.3.2 example byte for byte). */
static inline uint32_t def_insert(cws_deflater *z, uint32_t p) {
    uint32_t h = def_hash(z, z->win + p);
    uint32_t cand = z->head[h];
    z->prev[(p + z->prev_base) & z->wmask] = (uint16_t)cand;
    z->head[h] = (uint16_t)p;
    return cand;
}

/* Hashes positions [from, to) that have enough bytes loaded; the rest
 * wait for more input (only at a flush). */
static void def_insert_range(cws_deflater *z, uint32_t from, uint32_t to) {
    uint32_t hl = z->p.hash_len;
    uint32_t last = z->avail >= hl ? z->avail - hl + 1 : 0; /* first unhashable */
    uint32_t stop = to < last ? to : last;
    for (uint32_t q = from; q < stop; q++) def_insert(z, q);
    if (stop < to && !z->pend) {
        z->pend = 1;
        z->pend_from = from > stop ? from : stop;
    }
}

static void def_insert_pending(cws_deflater *z) {
    if (!z->pend) return;
    z->pend = 0;
    def_insert_range(z, z->pend_from, z->pos);
}

/* The longest match at p longer than best (>= 2), following the chain
 * from cand; *dist gets its distance. Returns best when none is longer. */
static uint32_t def_longest(const cws_deflater *z, uint32_t p, uint32_t cand, uint32_t best,
                            uint32_t chain, uint32_t *dist) {
    const uint8_t *w = z->win, *s = w + p;
    const uint16_t *prev = z->prev;
    const uint32_t wmask = z->wmask, base = z->prev_base;
    uint32_t maxlen = CWS__MIN(z->avail - p, (uint32_t)DEF_MAX_MATCH);
    uint32_t nice = CWS__MIN((uint32_t)z->p.nice, maxlen);
    /* RFC 1951 §3.2.5 / RFC 7692 §7.1.2: no farther back than the window. */
    uint32_t lo = p > z->wsize ? p - z->wsize : 1;
    uint32_t found = 0;
    if (best >= maxlen) return best;
    uint16_t head = def_load16(s), tail = def_load16(s + best - 1);
    while (cand >= lo) {
        const uint8_t *m = w + cand;
        /* A longer match must agree at best-1..best and at the start. */
        if (def_load16(m + best - 1) == tail && def_load16(m) == head) {
            uint32_t len = def_match_len(s + 2, m + 2, maxlen - 2) + 2;
            if (len > best) {
                best = len;
                found = p - cand;
                if (len >= nice) break;
                tail = def_load16(s + best - 1);
            }
        }
        if (--chain == 0) break;
        uint32_t next = prev[(cand + base) & wmask];
        if (next >= cand) break; /* the link was overwritten: chain ends */
        cand = next;
    }
    if (found) *dist = found;
    return best;
}

/* ---- symbols ---------------------------------------------------------- */

static inline void def_put_literal(cws_deflater *z, uint8_t c) {
    uint32_t i = z->nsym++;
    if ((i & 7) == 0) z->flags[i >> 3] = 0;
    z->sym[z->sym_len++] = c;
    z->lit_freq[c]++;
    z->block_len++;
}

static inline void def_put_match(cws_deflater *z, uint32_t len, uint32_t dist) {
    uint32_t i = z->nsym++;
    if ((i & 7) == 0) z->flags[i >> 3] = 0;
    z->flags[i >> 3] |= (uint8_t)(1u << (i & 7));
    uint8_t *s = z->sym + z->sym_len;
    uint32_t l = len - DEF_MIN_MATCH, d = dist - 1;
    s[0] = (uint8_t)l;
    s[1] = (uint8_t)d;
    s[2] = (uint8_t)(d >> 8);
    z->sym_len += 3;
    z->lit_freq[257 + def_len_sym(l)]++;
    z->dist_freq[def_dist_sym(d)]++;
    z->block_len += len;
}

static inline int def_block_full(const cws_deflater *z) { return z->sym_len + 3 > z->sym_cap; }

/* ---- block choice ----------------------------------------------------- */

static unsigned def_fixed_len(unsigned s) {
    /* RFC 1951 §3.2.6 */
    return s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
}

/* The fixed code (§3.2.6), built once per deflater. */
static void def_build_fixed(cws_deflater *z) {
    for (unsigned s = 0; s < CWS__DEFLATE_NUM_LITLEN; s++) z->fixed_lit_len[s] = (uint8_t)def_fixed_len(s);
    memset(z->fixed_dist_len, 5, CWS__DEFLATE_NUM_DIST);
    cws__huff_codes(z->fixed_lit_len, CWS__DEFLATE_NUM_LITLEN, z->fixed_lit_code);
    cws__huff_codes(z->fixed_dist_len, CWS__DEFLATE_NUM_DIST, z->fixed_dist_code);
}

static void def_set_fixed_codes(cws_deflater *z) {
    memcpy(z->lit_code, z->fixed_lit_code, sizeof z->lit_code);
    memcpy(z->lit_len, z->fixed_lit_len, sizeof z->lit_len);
    memcpy(z->dist_code, z->fixed_dist_code, sizeof z->dist_code);
    memcpy(z->dist_len, z->fixed_dist_len, sizeof z->dist_len);
}

/* Run-length codes the concatenated code lengths (§3.2.7): 16 repeats the
 * previous length 3..6 times, 17 and 18 give 3..10 and 11..138 zeros. */
static void def_rle_lengths(cws_deflater *z, const uint8_t *lens, uint32_t n) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n;) {
        uint8_t v = lens[i];
        uint32_t run = 1;
        while (i + run < n && lens[i + run] == v) run++;
        i += run;
        if (v == 0) {
            while (run >= 11) {
                uint32_t r = CWS__MIN(run, 138u);
                z->item_sym[k] = 18, z->item_extra[k++] = (uint8_t)(r - 11);
                run -= r;
            }
            if (run >= 3) {
                z->item_sym[k] = 17, z->item_extra[k++] = (uint8_t)(run - 3);
                run = 0;
            }
        } else {
            z->item_sym[k] = v, z->item_extra[k++] = 0;
            run--;
            while (run >= 3) {
                uint32_t r = CWS__MIN(run, 6u);
                z->item_sym[k] = 16, z->item_extra[k++] = (uint8_t)(r - 3);
                run -= r;
            }
        }
        while (run--) z->item_sym[k] = v, z->item_extra[k++] = 0;
    }
    z->nitems = k;
}

static const uint8_t def_clen_extra[DEF_NUM_CLEN] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 0, 0, 2, 3, 7};

/* Builds the dynamic codes into z; returns the block's bits without the
 * extra bits of lengths and distances (the same for every type). */
static uint64_t def_build_dynamic(cws_deflater *z) {
    uint8_t lens[DEF_NUM_LITLEN + DEF_NUM_DIST];
    cws__huff_lengths(z->lit_freq, DEF_NUM_LITLEN, CWS__DEFLATE_MAX_BITS, z->lit_len);
    cws__huff_lengths(z->dist_freq, DEF_NUM_DIST, CWS__DEFLATE_MAX_BITS, z->dist_len);
    /* 286, 287, 30 and 31 take part in no dynamic code (§3.2.5). */
    z->lit_len[286] = z->lit_len[287] = z->dist_len[30] = z->dist_len[31] = 0;
    uint32_t hlit = DEF_NUM_LITLEN, hdist = DEF_NUM_DIST;
    while (hlit > 257 && z->lit_len[hlit - 1] == 0) hlit--;
    while (hdist > 1 && z->dist_len[hdist - 1] == 0) hdist--;
    memcpy(lens, z->lit_len, hlit);
    memcpy(lens + hlit, z->dist_len, hdist);
    def_rle_lengths(z, lens, hlit + hdist);

    uint32_t cfreq[DEF_NUM_CLEN] = {0};
    for (uint32_t i = 0; i < z->nitems; i++) cfreq[z->item_sym[i]]++;
    cws__huff_lengths(cfreq, DEF_NUM_CLEN, CWS__DEFLATE_MAX_CLEN_BITS, z->clen_len);
    uint32_t hclen = DEF_NUM_CLEN;
    while (hclen > 4 && z->clen_len[cws__deflate_clen_order[hclen - 1]] == 0) hclen--;
    z->hlit = hlit, z->hdist = hdist, z->hclen = hclen;

    uint64_t bits = 3 + 5 + 5 + 4 + 3 * (uint64_t)hclen;
    for (unsigned s = 0; s < DEF_NUM_CLEN; s++)
        bits += (uint64_t)cfreq[s] * (z->clen_len[s] + def_clen_extra[s]);
    for (unsigned s = 0; s < DEF_NUM_LITLEN; s++) bits += (uint64_t)z->lit_freq[s] * z->lit_len[s];
    for (unsigned s = 0; s < DEF_NUM_DIST; s++) bits += (uint64_t)z->dist_freq[s] * z->dist_len[s];
    return bits;
}

static uint64_t def_fixed_bits(const cws_deflater *z) {
    uint64_t bits = 3;
    for (unsigned s = 0; s < DEF_NUM_LITLEN; s++) bits += (uint64_t)z->lit_freq[s] * def_fixed_len(s);
    for (unsigned s = 0; s < DEF_NUM_DIST; s++) bits += (uint64_t)z->dist_freq[s] * 5;
    return bits;
}

static uint64_t def_extra_bits(const cws_deflater *z) {
    uint64_t bits = 0;
    for (unsigned i = 0; i < 29; i++) bits += (uint64_t)z->lit_freq[257 + i] * cws__deflate_len_extra[i];
    for (unsigned i = 0; i < DEF_NUM_DIST; i++) bits += (uint64_t)z->dist_freq[i] * cws__deflate_dist_extra[i];
    return bits;
}

/* Stored blocks of at most 65535 bytes: 3 header bits, padding to a byte,
 * LEN and NLEN, the bytes (§3.2.4). nbits is where the first one starts. */
static uint64_t def_stored_bits(uint32_t len, unsigned nbits) {
    uint64_t bits = 0;
    unsigned at = nbits & 7;
    do {
        uint32_t part = CWS__MIN(len, DEF_STORED_MAX);
        unsigned pad = (8 - ((at + 3) & 7)) & 7;
        bits += 3 + pad + 32 + 8 * (uint64_t)part;
        at = 0;
        len -= part;
    } while (len);
    return bits;
}

/* Ends the open block: chooses its type and starts writing it. tail says
 * what follows it (0, CWS_DEFLATE_SYNC or CWS_DEFLATE_FINISH). */
static void def_close_block(cws_deflater *z, int final, int tail) {
    z->lit_freq[DEF_EOB] = 1;
    uint64_t extra = def_extra_bits(z);
    uint64_t fixed = def_fixed_bits(z) + extra;
    uint64_t dynamic = def_build_dynamic(z) + extra;
    uint64_t stored = def_stored_bits(z->block_len, z->nbits);
    z->bfinal = final;
    z->tail = tail;
    z->em_i = z->em_j = 0;
    if (stored <= fixed && stored <= dynamic) {
        z->btype = BT_STORED;
        z->st_left = z->block_len;
        z->st_off = z->block_start;
        z->em = EM_STORED_HEAD;
        return;
    }
    if (fixed <= dynamic) {
        z->btype = BT_FIXED;
        def_set_fixed_codes(z);
    } else {
        z->btype = BT_DYNAMIC;
        cws__huff_codes(z->lit_len, CWS__DEFLATE_NUM_LITLEN, z->lit_code);
        cws__huff_codes(z->dist_len, CWS__DEFLATE_NUM_DIST, z->dist_code);
        cws__huff_codes(z->clen_len, DEF_NUM_CLEN, z->clen_code);
    }
    z->em = EM_HEADER;
}

/* The block is written: the next one starts where it ended. */
static void def_block_reset(cws_deflater *z) {
    z->block_start += z->block_len;
    z->block_len = z->nsym = z->sym_len = 0;
    memset(z->lit_freq, 0, sizeof z->lit_freq);
    memset(z->dist_freq, 0, sizeof z->dist_freq);
}

/* ---- bit output ------------------------------------------------------- */

static inline void def_bits(cws_deflater *z, uint64_t v, unsigned n) {
    z->bits |= v << z->nbits;
    z->nbits += n;
}

/* Moves whole bytes of the bit buffer to the output. */
static inline void def_drain(cws_deflater *z) {
    if (z->out_end - z->out >= 8) {
        unsigned n = z->nbits >> 3;
        def_store64(z->out, z->bits);
        z->out += n;
        z->bits = n == 8 ? 0 : z->bits >> (8 * n);
        z->nbits &= 7;
        return;
    }
    while (z->nbits >= 8 && z->out < z->out_end) {
        *z->out++ = (uint8_t)z->bits;
        z->bits >>= 8;
        z->nbits -= 8;
    }
}

/* Room for a step of up to 48 bits (15 pending + 48 < 64). */
static inline int def_room(cws_deflater *z) {
    if (z->nbits > 15) def_drain(z);
    return z->nbits <= 15;
}

static inline void def_align(cws_deflater *z) { z->nbits = (z->nbits + 7) & ~7u; }

/* ---- block writer ----------------------------------------------------- */

static int def_write_syms(cws_deflater *z) {
    const uint8_t *sym = z->sym, *flags = z->flags;
    uint32_t i = z->em_i, j = z->em_j, n = z->nsym;
    while (i < n) {
        if (z->nbits > 15) {
            def_drain(z);
            if (z->nbits > 15) break;
        }
        if (flags[i >> 3] >> (i & 7) & 1) {
            unsigned l = sym[j], d = sym[j + 1] | (unsigned)sym[j + 2] << 8;
            unsigned ls = def_len_sym(l), ds = def_dist_sym(d);
            j += 3;
            def_bits(z, z->lit_code[257 + ls], z->lit_len[257 + ls]);
            def_bits(z, l + 3 - cws__deflate_len_base[ls], cws__deflate_len_extra[ls]);
            def_bits(z, z->dist_code[ds], z->dist_len[ds]);
            def_bits(z, d + 1 - cws__deflate_dist_base[ds], cws__deflate_dist_extra[ds]);
        } else {
            unsigned c = sym[j++];
            def_bits(z, z->lit_code[c], z->lit_len[c]);
        }
        i++;
    }
    z->em_i = i, z->em_j = j;
    return i == n;
}

/* One stored block's raw bytes, straight from the window. */
static int def_write_stored_data(cws_deflater *z) {
    uint32_t part = CWS__MIN(z->st_left, DEF_STORED_MAX) - z->em_i;
    size_t space = (size_t)(z->out_end - z->out);
    uint32_t n = (uint32_t)CWS__MIN((size_t)part, space);
    if (n) memcpy(z->out, z->win + z->st_off, n);
    z->out += n;
    z->st_off += n;
    z->em_i += n;
    return n == part;
}

/* Writes what it can of the current block and what follows it; 1 once
 * everything is written, 0 when the output filled. */
static int def_write(cws_deflater *z) {
    for (;;) {
        switch (z->em) {
        case EM_IDLE: return 1;
        case EM_HEADER:
            if (!def_room(z)) return 0;
            def_bits(z, (unsigned)z->bfinal, 1);
            def_bits(z, (unsigned)z->btype, 2);
            if (z->btype == BT_DYNAMIC) {
                def_bits(z, z->hlit - 257, 5);
                def_bits(z, z->hdist - 1, 5);
                def_bits(z, z->hclen - 4, 4);
                z->em = EM_CLEN_LENS;
            } else {
                z->em = EM_SYMS;
            }
            z->em_i = 0;
            break;
        case EM_CLEN_LENS:
            for (; z->em_i < z->hclen; z->em_i++) {
                if (!def_room(z)) return 0;
                def_bits(z, z->clen_len[cws__deflate_clen_order[z->em_i]], 3);
            }
            z->em_i = 0;
            z->em = EM_ITEMS;
            break;
        case EM_ITEMS:
            for (; z->em_i < z->nitems; z->em_i++) {
                if (!def_room(z)) return 0;
                unsigned s = z->item_sym[z->em_i];
                def_bits(z, z->clen_code[s], z->clen_len[s]);
                def_bits(z, z->item_extra[z->em_i], def_clen_extra[s]);
            }
            z->em_i = z->em_j = 0;
            z->em = EM_SYMS;
            break;
        case EM_SYMS:
            if (!def_write_syms(z)) return 0;
            z->em = EM_EOB;
            break;
        case EM_EOB:
            if (!def_room(z)) return 0;
            def_bits(z, z->lit_code[DEF_EOB], z->lit_len[DEF_EOB]);
            z->em = EM_BLOCK_DONE;
            break;
        case EM_STORED_HEAD: {
            if (!def_room(z)) return 0;
            uint32_t part = CWS__MIN(z->st_left, DEF_STORED_MAX);
            def_bits(z, (unsigned)(z->bfinal && part == z->st_left), 1);
            def_bits(z, BT_STORED, 2);
            def_align(z);
            def_bits(z, part, 16);
            def_bits(z, part ^ 0xFFFFu, 16);
            z->em_i = 0;
            z->em = EM_STORED_DATA;
            break;
        }
        case EM_STORED_DATA: {
            if (z->nbits) {
                def_drain(z);
                if (z->nbits) return 0;
            }
            if (!def_write_stored_data(z)) return 0;
            z->st_left -= z->em_i;
            z->em = z->st_left ? EM_STORED_HEAD : EM_BLOCK_DONE;
            break;
        }
        case EM_BLOCK_DONE:
            def_block_reset(z);
            z->em = z->tail == CWS_DEFLATE_SYNC     ? EM_SYNC
                    : z->tail == CWS_DEFLATE_FINISH ? EM_ALIGN
                                                    : EM_IDLE;
            break;
        case EM_SYNC:
            /* RFC 1951 §3.2.4 / RFC 7692 §7.2.1: an empty stored block
             * ends on a byte boundary with 00 00 ff ff. */
            if (!def_room(z)) return 0;
            def_bits(z, 0, 3);
            def_align(z);
            def_bits(z, 0xFFFF0000u, 32);
            z->em = EM_DRAIN;
            break;
        case EM_ALIGN:
            def_align(z);
            z->em = EM_DRAIN;
            break;
        case EM_DRAIN:
            def_drain(z);
            if (z->nbits) return 0;
            z->em = EM_IDLE;
            break;
        }
    }
}

/* ---- the matcher ------------------------------------------------------ */

static void def_slide(cws_deflater *z) {
    uint32_t b = z->slide;
    memmove(z->win, z->win + b, z->avail - b);
    z->avail -= b;
    z->pos -= b;
    z->block_start -= b;
    if (z->pend) z->pend_from -= b;
    /* Position p becomes p - b but keeps its prev[] slot (B need not be a
     * multiple of W). */
    z->prev_base = (z->prev_base + b) & z->wmask;
    /* Positions that slid out become 0, "no candidate". */
    for (uint32_t i = 0; i < z->hash_size; i++) {
        uint32_t v = z->head[i];
        z->head[i] = (uint16_t)(v > b ? v - b : 0);
    }
    for (uint32_t i = 0; i < z->wsize; i++) {
        uint32_t v = z->prev[i];
        z->prev[i] = (uint16_t)(v > b ? v - b : 0);
    }
}

/* Greedy parsing: take the longest match at each position. Long matches
 * skip hashing their inner positions (level dependent). */
static void def_run_greedy(cws_deflater *z, uint32_t limit) {
    const uint8_t *w = z->win;
    uint32_t hl = z->p.hash_len, chain = z->p.chain, ins_max = z->p.ins_max;
    while (z->pos < limit && !def_block_full(z)) {
        uint32_t p = z->pos, len = 0, dist = 0;
        if (p + hl <= z->avail) {
            uint32_t cand = def_insert(z, p);
            if (cand) {
                uint32_t steps = z->misses >= DEF_MISS_RUN ? 1 : chain;
                len = def_longest(z, p, cand, DEF_MIN_MATCH - 1, steps, &dist);
                if (len == DEF_MIN_MATCH && dist > DEF_TOO_FAR) len = 0;
            }
        } else if (!z->pend) {
            z->pend = 1;
            z->pend_from = p;
        }
        if (len >= DEF_MIN_MATCH) {
            z->misses = 0;
            def_put_match(z, len, dist);
            if (len <= ins_max) def_insert_range(z, p + 1, p + len);
            z->pos = p + len;
        } else {
            z->misses++;
            def_put_literal(z, w[p]);
            z->pos = p + 1;
        }
    }
}

/* Lazy parsing: a match found at p is kept pending while p+1 is searched;
 * a longer match there turns the byte at p into a literal. */
static void def_run_lazy(cws_deflater *z, uint32_t limit) {
    const uint8_t *w = z->win;
    uint32_t hl = z->p.hash_len;
    while (z->pos < limit && !def_block_full(z)) {
        uint32_t p = z->pos, len = 0, dist = 0;
        if (p + hl <= z->avail) {
            uint32_t cand = def_insert(z, p);
            if (cand && z->prev_len < z->p.lazy) {
                uint32_t chain = z->p.chain;
                if (z->prev_len >= z->p.good) chain = chain / 4 + 1;
                if (z->misses >= DEF_MISS_RUN) chain = 1;
                len = def_longest(z, p, cand, CWS__MAX(z->prev_len, DEF_MIN_MATCH - 1u), chain, &dist);
                if (len == DEF_MIN_MATCH && dist > DEF_TOO_FAR) len = 0;
            }
        } else if (!z->pend) {
            z->pend = 1;
            z->pend_from = p;
        }
        z->misses = len >= DEF_MIN_MATCH ? 0 : z->misses + 1;
        if (z->prev_len >= DEF_MIN_MATCH && len <= z->prev_len) {
            uint32_t end = p - 1 + z->prev_len;
            def_put_match(z, z->prev_len, z->prev_dist);
            def_insert_range(z, p + 1, end);
            z->pos = end;
            z->have_prev = 0;
            z->prev_len = 0;
        } else {
            if (z->have_prev) def_put_literal(z, w[p - 1]);
            z->have_prev = 1;
            z->prev_len = len >= DEF_MIN_MATCH ? len : 0;
            z->prev_dist = dist;
            z->pos = p + 1;
        }
    }
}

enum { RUN_NEED_INPUT, RUN_BLOCK, RUN_DONE };

/* Matches what is loaded. at_end: no more input before the flush, so the
 * last bytes are matched with what there is. */
static int def_run(cws_deflater *z, int at_end) {
    def_insert_pending(z);
    for (;;) {
        uint32_t edge = z->wsize + z->slide;
        if (z->pos >= edge) {
            if (z->block_start < z->slide) {
                def_close_block(z, 0, 0); /* its input is about to slide out */
                return RUN_BLOCK;
            }
            def_slide(z);
            edge = z->wsize + z->slide;
        }
        if (def_block_full(z)) {
            def_close_block(z, 0, 0);
            return RUN_BLOCK;
        }
        uint32_t limit;
        if (at_end) {
            if (z->pos >= z->avail) {
                if (z->have_prev) def_put_literal(z, z->win[z->pos - 1]);
                z->have_prev = 0;
                z->prev_len = 0;
                return RUN_DONE;
            }
            limit = z->avail;
        } else {
            if (z->avail - z->pos < DEF_LOOKAHEAD) return RUN_NEED_INPUT;
            limit = z->avail - DEF_LOOKAHEAD + 1;
        }
        if (limit > edge) limit = edge;
        if (z->p.mode == DEF_LAZY) def_run_lazy(z, limit);
        else def_run_greedy(z, limit);
    }
}

/* Copies input into the window's free end. */
static size_t def_fill(cws_deflater *z, const uint8_t *in, size_t len) {
    size_t n = CWS__MIN(len, (size_t)(z->bufsize - z->avail));
    if (n) memcpy(z->win + z->avail, in, n);
    z->avail += (uint32_t)n;
    return n;
}

/* Everything is matched: end the block as the flush asks. */
static void def_start_flush(cws_deflater *z, int flush) {
    z->flushing = flush;
    if (flush == CWS_DEFLATE_FINISH) def_close_block(z, 1, CWS_DEFLATE_FINISH);
    else if (z->nsym) def_close_block(z, 0, CWS_DEFLATE_SYNC);
    else z->em = EM_SYNC;
}

int cws_deflate(cws_deflater *z, const uint8_t *in, size_t in_len, size_t *consumed, uint8_t *out,
                size_t out_cap, size_t *produced, int flush) {
    if (consumed) *consumed = 0;
    if (produced) *produced = 0;
    if (!z || (in_len && !in) || (out_cap && !out) || flush < CWS_DEFLATE_NO_FLUSH ||
        flush > CWS_DEFLATE_FINISH)
        return CWS_ERR_INVALID;
    if (z->finished) return CWS_ERR_STATE;
    z->out = out;
    z->out_end = out ? out + out_cap : out;
    size_t used = 0;
    int rc = CWS_OK;
    for (;;) {
        if (z->em != EM_IDLE && !def_write(z)) {
            rc = CWS_ERR_AGAIN;
            break;
        }
        if (z->flushing) {
            if (z->flushing == CWS_DEFLATE_FINISH) z->finished = 1;
            z->flushing = 0;
            if (used == in_len || z->finished) break;
        }
        if (used < in_len) used += def_fill(z, in + used, in_len - used); /* in may be NULL when in_len is 0 */
        int at_end = used == in_len && flush != CWS_DEFLATE_NO_FLUSH;
        int r = def_run(z, at_end);
        if (r == RUN_BLOCK) continue;
        if (r == RUN_NEED_INPUT) {
            if (used < in_len) continue;
            def_drain(z); /* output may lag, but give what is whole */
            break;
        }
        def_start_flush(z, flush);
    }
    if (consumed) *consumed = used;
    if (produced) *produced = (size_t)(z->out - out);
    z->out = z->out_end = NULL;
    return rc;
}
