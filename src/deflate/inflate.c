/* Streaming DEFLATE decoder (RFC 1951), raw streams as permessage-deflate
 * (RFC 7692) carries them.
 *
 * Shape: a state machine (block header, stored block, dynamic header,
 * compressed data) that can stop at any bit and resume on the next call,
 * plus a fast loop for compressed data that runs while at least
 * INF_FAST_IN bytes of input and INF_FAST_OUT bytes of output space remain
 * and decodes without per-symbol bounds checks.
 *
 * Output goes straight into the caller's buffer. Matches that reach back
 * beyond what this call wrote are served from the window, a circular copy
 * of the last 2^window_bits bytes of earlier calls, which is brought up to
 * date once per call.
 *
 * Huffman codes are decoded with tables indexed by the next bits of the
 * stream (LSB first, RFC 1951 §3.1.1): a primary table for the first
 * INF_LIT_ROOT (INF_DIST_ROOT) bits, whose entries either give the symbol
 * or point to a sub-table indexed by the bits that follow. */
#include "../internal.h"
#include "cws_deflate.h"
#include "tables.h"

#include <string.h>

/* ---- decoding table entries ----
 * bits 0..3   code length in bits (sub-table entries: the whole length)
 * bits 4..7   extra bits after the code (links: the sub-table's index bits)
 * bits 8..11  kind flags, none for a length or distance
 * bits 16..31 literal byte, base length or distance, or sub-table offset */
#define INF_E_LIT 0x100u /* a literal byte */
#define INF_E_EOB 0x200u /* end of block, symbol 256 */
#define INF_E_SUB 0x400u /* a link to a sub-table */
#define INF_E_BAD 0x800u /* no symbol: 286/287, distance 30/31, unused code */
#define INF_E_LEN(e) ((e)&15u)
#define INF_E_EXTRA(e) (((e) >> 4) & 15u)
#define INF_E_VAL(e) ((e) >> 16)

/* Primary table sizes, and the most entries primary plus sub-tables can
 * need for any complete code of 286 (30) symbols of at most 15 bits: the
 * worst case over all canonical codes, worked out by enumerating them
 * (the same bounds zlib's `enough` gives). */
#define INF_LIT_ROOT 10
#define INF_LIT_ENOUGH 1332
#define INF_DIST_ROOT 8
#define INF_DIST_ENOUGH 400
#define INF_CLEN_ROOT CWS__DEFLATE_MAX_CLEN_BITS /* 7: never needs a sub-table */

/* The fast loop runs while two 64-bit refills can be read (each takes at
 * most 7 bytes) and two literals, the longest match (258) and an 8-byte
 * copy overrun fit. */
#define INF_FAST_IN 16
#define INF_FAST_OUT (258 + 16)
/* Bytes after the window that 8-byte copies out of it may read. */
#define INF_WINDOW_SLACK 8

enum inf_kind { INF_KIND_LITLEN, INF_KIND_DIST, INF_KIND_CLEN };

enum inf_state {
    INF_BLOCK_HEADER,  /* BFINAL and BTYPE (RFC 1951 §3.2.3) */
    INF_STORED_HEADER, /* LEN and NLEN after the byte boundary (§3.2.4) */
    INF_STORED_COPY,   /* stored_left bytes of literal data */
    INF_DYN_COUNTS,    /* HLIT, HDIST, HCLEN (§3.2.7) */
    INF_DYN_CLENS,     /* the code length code's lengths, 3 bits each */
    INF_DYN_LENS,      /* literal/length and distance code lengths */
    INF_CODES,         /* compressed data until end of block */
    INF_FAILED         /* corrupt data seen: stays here until reset */
};

/* What one step of the slow path did. */
enum inf_step { INF_STOP = 0, INF_GO = 1, INF_BLOCK_DONE = 2, INF_CORRUPT = -1 };

struct cws_inflater {
    cws_allocator alloc;
    uint8_t *window;        /* window_size bytes, circular, after the struct */
    uint32_t window_size;   /* 2^window_bits */
    uint32_t window_pos;    /* where the next byte of output goes */
    uint32_t window_fill;   /* bytes of history held, at most window_size */
    uint64_t bits;          /* input bits not yet used, next bit lowest */
    unsigned nbits;         /* how many; the bits above are zero */
    enum inf_state state;
    int final_block;        /* BFINAL of the current block */
    int fixed_loaded;       /* the tables hold the fixed code (§3.2.6) */
    uint32_t stored_left;   /* bytes left in the stored block */
    uint32_t copy_len;      /* match bytes not yet written (out was full) */
    uint32_t copy_dist;
    unsigned nlit, ndist, nclen, nread; /* dynamic header progress */
    uint8_t clen_lens[19];
    uint8_t lens[286 + 30]; /* literal/length then distance code lengths */
    uint32_t lit_table[INF_LIT_ENOUGH];
    uint32_t dist_table[INF_DIST_ENOUGH]; /* also the code length code's */
};

/* The cursors of one cws_inflate call. */
typedef struct inf_io {
    const uint8_t *in, *in_end;
    uint8_t *out_start, *out, *out_end;
    int out_blocked; /* stopped for want of room, not of input */
} inf_io;

/* ---------------------------------------------------------------- tables */

/* The low len bits of code in reverse order: Huffman codes are packed
 * starting with their most significant bit (RFC 1951 §3.1.1), tables are
 * indexed by the bit buffer, next bit lowest. */
static inline uint32_t inf_reverse(uint32_t code, unsigned len) {
    code = ((code & 0x5555u) << 1) | ((code >> 1) & 0x5555u);
    code = ((code & 0x3333u) << 2) | ((code >> 2) & 0x3333u);
    code = ((code & 0x0F0Fu) << 4) | ((code >> 4) & 0x0F0Fu);
    code = ((code & 0x00FFu) << 8) | ((code >> 8) & 0x00FFu);
    return code >> (16 - len);
}

/* The table entry (without its length) that decodes to sym. */
static uint32_t inf_symbol_entry(enum inf_kind kind, unsigned sym) {
    switch (kind) {
    case INF_KIND_LITLEN:
        if (sym < 256) return INF_E_LIT | (uint32_t)sym << 16;
        if (sym == 256) return INF_E_EOB;
        if (sym <= 285) /* RFC 1951 §3.2.5 */
            return (uint32_t)cws__deflate_len_base[sym - 257] << 16 |
                   (uint32_t)cws__deflate_len_extra[sym - 257] << 4;
        return INF_E_BAD; /* 286, 287: part of the fixed code, never valid */
    case INF_KIND_DIST:
        if (sym < 30)
            return (uint32_t)cws__deflate_dist_base[sym] << 16 |
                   (uint32_t)cws__deflate_dist_extra[sym] << 4;
        return INF_E_BAD; /* 30, 31 */
    case INF_KIND_CLEN: break;
    }
    return (uint32_t)sym << 16;
}

/* A code in the making: symbols sorted by (length, symbol) and their
 * canonical codes (RFC 1951 §3.2.2). */
typedef struct inf_code {
    unsigned count[CWS__DEFLATE_MAX_BITS + 1]; /* codes of each length */
    unsigned used;                             /* symbols with a code */
    uint16_t sorted[CWS__DEFLATE_NUM_LITLEN];
    uint16_t code_of[CWS__DEFLATE_NUM_LITLEN]; /* of sorted[i] */
} inf_code;

/* Counts the lengths; 1 if they make a complete code, 0 if incomplete,
 * -1 if they over-subscribe it. */
static int inf_count(inf_code *c, const uint8_t *lens, unsigned n) {
    memset(c->count, 0, sizeof c->count);
    for (unsigned s = 0; s < n; s++) c->count[lens[s]]++;
    c->count[0] = 0;
    int left = 1; /* codes still free at the current length */
    c->used = 0;
    for (unsigned len = 1; len <= CWS__DEFLATE_MAX_BITS; len++) {
        left = 2 * left - (int)c->count[len];
        if (left < 0) return -1;
        c->used += c->count[len];
    }
    return left == 0;
}

/* Symbols sorted by (length, symbol) get consecutive codes. */
static void inf_assign(inf_code *c, const uint8_t *lens, unsigned n) {
    unsigned offset[CWS__DEFLATE_MAX_BITS + 1];
    uint32_t next_code[CWS__DEFLATE_MAX_BITS + 1];
    unsigned at = 0;
    uint32_t code = 0;
    for (unsigned len = 1; len <= CWS__DEFLATE_MAX_BITS; len++) {
        offset[len] = at;
        at += c->count[len];
        code = (code + c->count[len - 1]) << 1;
        next_code[len] = code;
    }
    for (unsigned s = 0; s < n; s++) {
        if (!lens[s]) continue;
        unsigned i = offset[lens[s]]++;
        c->sorted[i] = (uint16_t)s;
        c->code_of[i] = (uint16_t)next_code[lens[s]]++;
    }
}

/* Entries for codes longer than root: one sub-table per root-bit prefix,
 * sized by the longest code under it. Returns -1 if cap is exceeded
 * (it is not, for cap from the worst case above). */
static int inf_fill_subtables(uint32_t *table, unsigned root, unsigned cap, const inf_code *c,
                              const uint8_t *lens, unsigned first, enum inf_kind kind) {
    unsigned next_free = 1u << root, sub_base = 0, sub_bits = 0;
    uint32_t sub_prefix = UINT32_MAX;
    for (unsigned i = first; i < c->used; i++) {
        unsigned sym = c->sorted[i], len = lens[sym];
        uint32_t code = c->code_of[i], prefix = code >> (len - root);
        if (prefix != sub_prefix) {
            /* Codes sharing these first bits are consecutive; the last is
             * the longest. */
            unsigned last = i;
            while (last + 1 < c->used &&
                   (uint32_t)c->code_of[last + 1] >> (lens[c->sorted[last + 1]] - root) == prefix)
                last++;
            sub_bits = lens[c->sorted[last]] - root;
            if (next_free + (1u << sub_bits) > cap) return -1;
            sub_base = next_free;
            next_free += 1u << sub_bits;
            sub_prefix = prefix;
            table[inf_reverse(prefix, root)] = INF_E_SUB | sub_bits << 4 | (uint32_t)sub_base << 16;
        }
        uint32_t entry = inf_symbol_entry(kind, sym) | len;
        for (uint32_t k = inf_reverse(code, len) >> root; k < (1u << sub_bits); k += 1u << (len - root))
            table[sub_base + k] = entry;
    }
    return 0;
}

/* Fills table (primary size 2^root, room for cap entries) to decode the
 * code with lengths lens[0..n). Returns 0, or -1 if the lengths
 * over-subscribe the code or leave it incomplete. Incomplete is allowed
 * only for distances with a single code of one bit, or none at all
 * (§3.2.7); their unused codes decode as INF_E_BAD one bit long.
 * (zlib also lets a literal/length code made of the end-of-block code
 * alone through, and reads on with an empty code length code until the
 * missing end-of-block code fails it; here both fail at once.) */
static int inf_build(uint32_t *table, unsigned root, unsigned cap, const uint8_t *lens,
                     unsigned n, enum inf_kind kind) {
    inf_code c;
    int complete = inf_count(&c, lens, n);
    if (complete < 0) return -1;
    if (!complete) {
        int one_short = kind == INF_KIND_DIST && (c.used == 0 || (c.used == 1 && c.count[1] == 1));
        if (!one_short) return -1;
        table[0] = table[1] = INF_E_BAD | 1u;
    }
    inf_assign(&c, lens, n);

    /* The primary table grows by doubling: the entries of codes of length
     * len are written into the first 2^len, which are then copied to make
     * 2^(len+1), so every code ends up at each index its bits prefix. */
    unsigned i = 0;
    for (unsigned len = 1; len <= root; len++) {
        for (; i < c.used && lens[c.sorted[i]] == len; i++)
            table[inf_reverse(c.code_of[i], len)] = inf_symbol_entry(kind, c.sorted[i]) | len;
        if (len < root) memcpy(table + (1u << len), table, sizeof *table << len);
    }
    return inf_fill_subtables(table, root, cap, &c, lens, i, kind);
}

/* The fixed literal/length and distance codes (RFC 1951 §3.2.6). */
static void inf_load_fixed(cws_inflater *z) {
    if (z->fixed_loaded) return;
    uint8_t lens[CWS__DEFLATE_NUM_LITLEN];
    memset(lens, 8, 144);
    memset(lens + 144, 9, 112);
    memset(lens + 256, 7, 24);
    memset(lens + 280, 8, 8);
    inf_build(z->lit_table, INF_LIT_ROOT, INF_LIT_ENOUGH, lens, CWS__DEFLATE_NUM_LITLEN,
              INF_KIND_LITLEN);
    memset(lens, 5, CWS__DEFLATE_NUM_DIST);
    inf_build(z->dist_table, INF_DIST_ROOT, INF_DIST_ENOUGH, lens, CWS__DEFLATE_NUM_DIST,
              INF_KIND_DIST);
    z->fixed_loaded = 1;
}

/* One lookup, following a sub-table link; zero bits beyond nbits give the
 * right entry whenever its code fits in nbits. */
static inline uint32_t inf_lookup(const uint32_t *table, unsigned root, uint64_t bits) {
    uint32_t e = table[bits & ((1u << root) - 1)];
    if (e & INF_E_SUB)
        e = table[INF_E_VAL(e) + ((bits >> root) & ((1u << INF_E_EXTRA(e)) - 1))];
    return e;
}

/* ---------------------------------------------------------------- bits */

static inline void inf_drop(cws_inflater *z, unsigned n) {
    z->bits >>= n;
    z->nbits -= n;
}

/* Takes input bytes into the bit buffer while they fit. */
static inline void inf_fill(cws_inflater *z, inf_io *io) {
    while (z->nbits < 56 && io->in < io->in_end) {
        z->bits |= (uint64_t)*io->in++ << z->nbits;
        z->nbits += 8;
    }
}

static inline int inf_need(cws_inflater *z, inf_io *io, unsigned n) {
    if (z->nbits < n) inf_fill(z, io);
    return z->nbits >= n;
}

static inline uint32_t inf_peek(const cws_inflater *z, unsigned n) {
    return (uint32_t)(z->bits & ((1u << n) - 1));
}

static inline uint64_t inf_load_le64(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

/* Tops the bit buffer up to 56..63 bits with one 8-byte load (8 bytes must
 * be readable at *in), taking only the whole bytes that fit. Bits above
 * *nbits then hold the next input bits, which a later refill ORs in again
 * unchanged. 56 bits cover a length, a distance and their extra bits (15 +
 * 5 + 15 + 13 = 48). */
static inline void inf_refill(uint64_t *bits, unsigned *nbits, const uint8_t **in) {
    *bits |= inf_load_le64(*in) << *nbits;
    *in += (63 - *nbits) >> 3;
    *nbits |= 56;
}

/* ---------------------------------------------------------------- output */

/* Writes len bytes (room is there) of the match dist back: first from the
 * window for the part before this call's output, then from the output. */
static uint8_t *inf_copy_match(const cws_inflater *z, const inf_io *io, uint8_t *out,
                               uint32_t dist, uint32_t len) {
    size_t here = (size_t)(out - io->out_start);
    if (dist > here) {
        uint32_t back = dist - (uint32_t)here; /* <= window_fill, checked */
        uint32_t from = (z->window_pos - back) & (z->window_size - 1);
        uint32_t n = CWS__MIN(len, back);
        uint32_t first = CWS__MIN(n, z->window_size - from);
        memcpy(out, z->window + from, first);
        memcpy(out + first, z->window, n - first);
        out += n;
        len -= n;
    }
    const uint8_t *src = out - dist;
    if (dist >= len) {
        memcpy(out, src, len);
    } else {
        for (uint32_t i = 0; i < len; i++) out[i] = src[i]; /* overlaps: byte by byte */
    }
    return out + len;
}

/* A distance must stay within the window and within what was written since
 * the stream (or the last reset) began (RFC 1951 §3.2.5, §2). */
static inline int inf_dist_ok(const cws_inflater *z, const inf_io *io, const uint8_t *out,
                              uint32_t dist) {
    return dist <= z->window_size && dist <= z->window_fill + (size_t)(out - io->out_start);
}

static void inf_emit_pending(cws_inflater *z, inf_io *io) {
    size_t room = (size_t)(io->out_end - io->out);
    uint32_t n = room < z->copy_len ? (uint32_t)room : z->copy_len;
    io->out = inf_copy_match(z, io, io->out, z->copy_dist, n);
    z->copy_len -= n;
    if (z->copy_len) io->out_blocked = 1;
}

/* Keeps the last window_size bytes of output for later calls. */
static void inf_remember(cws_inflater *z, const uint8_t *out, size_t n) {
    uint32_t size = z->window_size;
    if (n >= size) {
        memcpy(z->window, out + n - size, size);
        z->window_pos = 0;
        z->window_fill = size;
        return;
    }
    uint32_t first = CWS__MIN((uint32_t)n, size - z->window_pos);
    memcpy(z->window + z->window_pos, out, first);
    memcpy(z->window, out + first, n - first);
    z->window_pos = (z->window_pos + (uint32_t)n) & (size - 1);
    z->window_fill = (uint32_t)CWS__MIN((size_t)z->window_fill + n, (size_t)size);
}

/* ---------------------------------------------------------------- blocks */

static enum inf_step inf_block_header(cws_inflater *z, inf_io *io) {
    if (!inf_need(z, io, 3)) return INF_STOP;
    uint32_t h = inf_peek(z, 3);
    inf_drop(z, 3);
    z->final_block = (int)(h & 1);
    switch (h >> 1) { /* BTYPE, RFC 1951 §3.2.3 */
    case 0: z->state = INF_STORED_HEADER; break;
    case 1:
        inf_load_fixed(z);
        z->state = INF_CODES;
        break;
    case 2: z->state = INF_DYN_COUNTS; break;
    default: return INF_CORRUPT; /* BTYPE 11 is reserved */
    }
    return INF_GO;
}

static enum inf_step inf_stored_header(cws_inflater *z, inf_io *io) {
    inf_drop(z, z->nbits & 7); /* skip to the byte boundary (§3.2.4) */
    if (!inf_need(z, io, 32)) return INF_STOP;
    uint32_t len = inf_peek(z, 16);
    uint32_t nlen = (uint32_t)(z->bits >> 16) & 0xFFFFu;
    if (len != (~nlen & 0xFFFFu)) return INF_CORRUPT; /* NLEN is LEN's complement */
    inf_drop(z, 32);
    z->stored_left = len;
    z->state = INF_STORED_COPY;
    return INF_GO;
}

static enum inf_step inf_stored_copy(cws_inflater *z, inf_io *io) {
    /* Whole bytes already in the bit buffer come first. */
    while (z->stored_left && z->nbits >= 8 && io->out < io->out_end) {
        *io->out++ = (uint8_t)z->bits;
        inf_drop(z, 8);
        z->stored_left--;
    }
    if (z->nbits < 8) {
        size_t n = CWS__MIN((size_t)(io->in_end - io->in), (size_t)(io->out_end - io->out));
        n = CWS__MIN(n, (size_t)z->stored_left);
        if (n) memcpy(io->out, io->in, n);
        io->in += n;
        io->out += n;
        z->stored_left -= (uint32_t)n;
    }
    if (!z->stored_left) return INF_BLOCK_DONE;
    if (io->out == io->out_end) io->out_blocked = 1;
    return INF_STOP;
}

static enum inf_step inf_dyn_counts(cws_inflater *z, inf_io *io) {
    if (!inf_need(z, io, 14)) return INF_STOP;
    z->nlit = 257 + inf_peek(z, 5);
    z->ndist = 1 + ((uint32_t)(z->bits >> 5) & 31u);
    z->nclen = 4 + ((uint32_t)(z->bits >> 10) & 15u);
    inf_drop(z, 14);
    if (z->nlit > 286 || z->ndist > 30) return INF_CORRUPT; /* §3.2.7: 257..286, 1..30 */
    memset(z->clen_lens, 0, sizeof z->clen_lens);
    z->nread = 0;
    z->fixed_loaded = 0; /* the tables are about to change */
    z->state = INF_DYN_CLENS;
    return INF_GO;
}

static enum inf_step inf_dyn_clens(cws_inflater *z, inf_io *io) {
    while (z->nread < z->nclen) {
        if (!inf_need(z, io, 3)) return INF_STOP;
        z->clen_lens[cws__deflate_clen_order[z->nread++]] = (uint8_t)inf_peek(z, 3);
        inf_drop(z, 3);
    }
    if (inf_build(z->dist_table, INF_CLEN_ROOT, INF_DIST_ENOUGH, z->clen_lens, 19,
                  INF_KIND_CLEN) != 0)
        return INF_CORRUPT;
    z->nread = 0;
    z->state = INF_DYN_LENS;
    return INF_GO;
}

/* Reads one code length, with a repeat code's extra bits as one unit.
 * Returns INF_GO, INF_STOP (needs more input) or INF_CORRUPT. */
static enum inf_step inf_dyn_one_len(cws_inflater *z, inf_io *io) {
    inf_fill(z, io);
    uint32_t e = z->dist_table[inf_peek(z, INF_CLEN_ROOT)];
    unsigned len = INF_E_LEN(e), sym = INF_E_VAL(e);
    if (len > z->nbits) return INF_STOP;
    if (sym < 16) {
        z->lens[z->nread++] = (uint8_t)sym;
        inf_drop(z, len);
        return INF_GO;
    }
    /* 16: copy the previous length 3..6 times; 17: 3..10 zeros; 18: 11..138
     * zeros (§3.2.7). */
    unsigned extra = sym == 16 ? 2 : sym == 17 ? 3 : 7;
    if (len + extra > z->nbits) return INF_STOP;
    unsigned repeat = (sym == 18 ? 11 : 3) + ((uint32_t)(z->bits >> len) & ((1u << extra) - 1));
    uint8_t value = 0;
    if (sym == 16) {
        if (z->nread == 0) return INF_CORRUPT; /* nothing to repeat */
        value = z->lens[z->nread - 1];
    }
    if (z->nread + repeat > z->nlit + z->ndist) return INF_CORRUPT;
    memset(z->lens + z->nread, value, repeat);
    z->nread += repeat;
    inf_drop(z, len + extra);
    return INF_GO;
}

static enum inf_step inf_dyn_lens(cws_inflater *z, inf_io *io) {
    while (z->nread < z->nlit + z->ndist) {
        enum inf_step s = inf_dyn_one_len(z, io);
        if (s != INF_GO) return s;
    }
    if (z->lens[256] == 0) return INF_CORRUPT; /* no end-of-block code */
    if (inf_build(z->lit_table, INF_LIT_ROOT, INF_LIT_ENOUGH, z->lens, z->nlit,
                  INF_KIND_LITLEN) != 0)
        return INF_CORRUPT;
    if (inf_build(z->dist_table, INF_DIST_ROOT, INF_DIST_ENOUGH, z->lens + z->nlit, z->ndist,
                  INF_KIND_DIST) != 0)
        return INF_CORRUPT;
    z->state = INF_CODES;
    return INF_GO;
}

/* ---------------------------------------------------------------- codes */

/* Decodes symbols while INF_FAST_IN bytes of input and INF_FAST_OUT bytes
 * of room remain. Bits above nbits may hold input bytes that were loaded
 * but not yet counted; they are cleared before returning. */
static enum inf_step inf_codes_fast(cws_inflater *z, inf_io *io) {
    const uint8_t *in = io->in;
    const uint8_t *const in_last = io->in_end - INF_FAST_IN;
    uint8_t *out = io->out;
    uint8_t *const out_last = io->out_end - INF_FAST_OUT;
    const uint32_t *lit = z->lit_table, *dist_table = z->dist_table;
    const uint32_t window_mask = z->window_size - 1;
    uint64_t bits = z->bits;
    unsigned nbits = z->nbits;
    enum inf_step result = INF_GO;

    while (in <= in_last && out <= out_last) {
        inf_refill(&bits, &nbits, &in);
        uint32_t e = inf_lookup(lit, INF_LIT_ROOT, bits);
        if (e & INF_E_LIT) {
            /* Up to three literals per refill (each code <= 15 bits). */
            bits >>= INF_E_LEN(e);
            nbits -= INF_E_LEN(e);
            *out++ = (uint8_t)INF_E_VAL(e);
            e = inf_lookup(lit, INF_LIT_ROOT, bits);
            if (e & INF_E_LIT) {
                bits >>= INF_E_LEN(e);
                nbits -= INF_E_LEN(e);
                *out++ = (uint8_t)INF_E_VAL(e);
                e = inf_lookup(lit, INF_LIT_ROOT, bits);
                if (e & INF_E_LIT) {
                    bits >>= INF_E_LEN(e);
                    nbits -= INF_E_LEN(e);
                    *out++ = (uint8_t)INF_E_VAL(e);
                    continue;
                }
            }
            inf_refill(&bits, &nbits, &in); /* e stays valid: bits only grow */
        }
        if (e & (INF_E_EOB | INF_E_BAD)) {
            bits >>= INF_E_LEN(e);
            nbits -= INF_E_LEN(e);
            result = (e & INF_E_EOB) ? INF_BLOCK_DONE : INF_CORRUPT;
            break;
        }
        unsigned used = INF_E_LEN(e) + INF_E_EXTRA(e);
        uint32_t len = INF_E_VAL(e) + (uint32_t)((bits >> INF_E_LEN(e)) & ((1u << INF_E_EXTRA(e)) - 1));
        bits >>= used;
        nbits -= used;

        uint32_t d = inf_lookup(dist_table, INF_DIST_ROOT, bits);
        if (d & INF_E_BAD) {
            result = INF_CORRUPT;
            break;
        }
        used = INF_E_LEN(d) + INF_E_EXTRA(d);
        uint32_t dist = INF_E_VAL(d) + (uint32_t)((bits >> INF_E_LEN(d)) & ((1u << INF_E_EXTRA(d)) - 1));
        bits >>= used;
        nbits -= used;

        const uint8_t *src;
        size_t here = (size_t)(out - io->out_start);
        if (dist <= here && dist <= z->window_size) {
            src = out - dist;
        } else {
            if (!inf_dist_ok(z, io, out, dist)) {
                result = INF_CORRUPT;
                break;
            }
            /* All of it in the window without wrapping: copy as below
             * (the slack after the window covers the overrun read). */
            uint32_t back = dist - (uint32_t)here;
            uint32_t from = (z->window_pos - back) & window_mask;
            if (back < len || from + len > z->window_size) {
                out = inf_copy_match(z, io, out, dist, len);
                continue;
            }
            src = z->window + from;
        }
        uint8_t *const end = out + len;
        if (dist >= 8) {
            /* 8 bytes at a time (dist >= 8, or src in the window: no
             * overlap within a word); the overrun past end stays in the
             * room INF_FAST_OUT keeps, and is overwritten later. */
            do {
                uint64_t t;
                memcpy(&t, src, 8);
                memcpy(out, &t, 8);
                out += 8;
                src += 8;
            } while (out < end);
        } else if (dist == 1) {
            memset(out, *src, len);
        } else {
            while (out < end) *out++ = *src++;
        }
        out = end;
    }

    /* Clear the bits loaded beyond nbits: the slow path reads zeros there,
     * and takes those bytes again from *in. */
    z->bits = bits & ((UINT64_C(1) << nbits) - 1); /* nbits <= 63 */
    z->nbits = nbits;
    io->in = in;
    io->out = out;
    return result;
}

/* One symbol (a literal, a whole match, or end of block) at the careful
 * pace: nothing is consumed until all its bits are there. With no room
 * left, only an end of block is taken. */
static enum inf_step inf_codes_slow(cws_inflater *z, inf_io *io) {
    inf_fill(z, io);
    uint32_t e = inf_lookup(z->lit_table, INF_LIT_ROOT, z->bits);
    unsigned used = INF_E_LEN(e);
    if (used > z->nbits) return INF_STOP;
    if (e & INF_E_BAD) return INF_CORRUPT;
    if (e & INF_E_EOB) {
        inf_drop(z, used);
        return INF_BLOCK_DONE;
    }
    if (io->out == io->out_end) {
        io->out_blocked = 1;
        return INF_STOP;
    }
    if (e & INF_E_LIT) {
        inf_drop(z, used);
        *io->out++ = (uint8_t)INF_E_VAL(e);
        return INF_GO;
    }
    used += INF_E_EXTRA(e);
    if (used > z->nbits) return INF_STOP;
    uint32_t len = INF_E_VAL(e) + (uint32_t)((z->bits >> INF_E_LEN(e)) & ((1u << INF_E_EXTRA(e)) - 1));

    uint64_t rest = z->bits >> used;
    uint32_t d = inf_lookup(z->dist_table, INF_DIST_ROOT, rest);
    if (used + INF_E_LEN(d) > z->nbits) return INF_STOP;
    if (d & INF_E_BAD) return INF_CORRUPT;
    unsigned dused = INF_E_LEN(d) + INF_E_EXTRA(d);
    if (used + dused > z->nbits) return INF_STOP;
    uint32_t dist = INF_E_VAL(d) + (uint32_t)((rest >> INF_E_LEN(d)) & ((1u << INF_E_EXTRA(d)) - 1));
    if (!inf_dist_ok(z, io, io->out, dist)) return INF_CORRUPT;
    inf_drop(z, used + dused);
    z->copy_len = len;
    z->copy_dist = dist;
    inf_emit_pending(z, io);
    return INF_GO;
}

static enum inf_step inf_codes(cws_inflater *z, inf_io *io) {
    for (;;) {
        if (z->copy_len) {
            inf_emit_pending(z, io);
            if (z->copy_len) return INF_STOP; /* out is full */
        }
        if (io->in_end - io->in >= INF_FAST_IN && io->out_end - io->out >= INF_FAST_OUT) {
            enum inf_step s = inf_codes_fast(z, io);
            if (s != INF_GO) return s;
        }
        enum inf_step s = inf_codes_slow(z, io);
        if (s != INF_GO) return s;
    }
}

/* Runs the state machine until it needs more input or room, a final block
 * ends (CWS_INFLATE_END) or the data is corrupt. */
static int inf_run(cws_inflater *z, inf_io *io) {
    for (;;) {
        enum inf_step s;
        switch (z->state) {
        case INF_BLOCK_HEADER: s = inf_block_header(z, io); break;
        case INF_STORED_HEADER: s = inf_stored_header(z, io); break;
        case INF_STORED_COPY: s = inf_stored_copy(z, io); break;
        case INF_DYN_COUNTS: s = inf_dyn_counts(z, io); break;
        case INF_DYN_CLENS: s = inf_dyn_clens(z, io); break;
        case INF_DYN_LENS: s = inf_dyn_lens(z, io); break;
        case INF_CODES: s = inf_codes(z, io); break;
        default: return CWS_ERR_DEFLATE;
        }
        if (s == INF_STOP) return CWS_OK;
        if (s == INF_CORRUPT) return CWS_ERR_DEFLATE;
        if (s == INF_BLOCK_DONE) {
            z->state = INF_BLOCK_HEADER;
            if (z->final_block) return CWS_INFLATE_END;
        }
    }
}

/* ---------------------------------------------------------------- API */

static size_t inf_alloc_size(uint32_t window_size) {
    return CWS__ALIGN_UP(sizeof(cws_inflater)) + window_size + INF_WINDOW_SLACK;
}

cws_inflater *cws_inflater_new(int window_bits, const cws_allocator *alloc, int *err) {
    if (window_bits == 0) window_bits = CWS_DEFLATE_WINDOW_MAX;
    if (window_bits < CWS_DEFLATE_WINDOW_MIN || window_bits > CWS_DEFLATE_WINDOW_MAX) {
        if (err) *err = CWS_ERR_INVALID;
        return NULL;
    }
    uint32_t window_size = 1u << window_bits;
    cws_inflater *z = cws__realloc(alloc, NULL, inf_alloc_size(window_size));
    if (!z) {
        if (err) *err = CWS_ERR_NOMEM;
        return NULL;
    }
    memset(z, 0, inf_alloc_size(window_size)); /* the window too: see INF_WINDOW_SLACK */
    if (alloc) z->alloc = *alloc;
    z->window = (uint8_t *)z + CWS__ALIGN_UP(sizeof(cws_inflater));
    z->window_size = window_size;
    cws_inflater_reset(z);
    if (err) *err = CWS_OK;
    return z;
}

void cws_inflater_free(cws_inflater *z) {
    if (!z) return;
    cws_allocator alloc = z->alloc;
    cws__realloc(&alloc, z, 0);
}

void cws_inflater_reset(cws_inflater *z) {
    if (!z) return;
    z->window_pos = 0;
    z->window_fill = 0;
    z->bits = 0;
    z->nbits = 0;
    z->state = INF_BLOCK_HEADER;
    z->final_block = 0;
    z->stored_left = 0;
    z->copy_len = 0;
    z->copy_dist = 0;
}

size_t cws_inflater_mem_usage(const cws_inflater *z) {
    return z ? inf_alloc_size(z->window_size) : 0;
}

int cws_inflate(cws_inflater *z, const uint8_t *in, size_t in_len, size_t *consumed,
                uint8_t *out, size_t out_cap, size_t *produced) {
    if (consumed) *consumed = 0;
    if (produced) *produced = 0;
    if (!z || (!in && in_len) || (!out && out_cap)) return CWS_ERR_INVALID;
    if (z->state == INF_FAILED) return CWS_ERR_DEFLATE;

    /* Pointer arithmetic on NULL is undefined, even by zero. */
    static const uint8_t no_input[1];
    uint8_t no_output[1];
    if (!in) in = no_input;
    if (!out) out = no_output;

    inf_io io = {in, in + in_len, out, out, out + out_cap, 0};
    int rc = inf_run(z, &io);

    if (rc == CWS_ERR_DEFLATE) {
        z->state = INF_FAILED;
    } else if (rc == CWS_INFLATE_END || io.out_blocked) {
        /* Whole bytes still in the bit buffer that came from this call go
         * back to the caller: after a final block they are the next
         * stream's; with out full they are offered again, so the buffer
         * never carries bytes past a final block into a later call. (A
         * call that stops for want of input keeps them: they all belong
         * to the unfinished step, and giving them back would stall.) */
        size_t give = CWS__MIN((size_t)(z->nbits >> 3), (size_t)(io.in - in));
        io.in -= give;
        z->nbits -= (unsigned)(8 * give);
        z->bits &= z->nbits ? (UINT64_C(1) << z->nbits) - 1 : 0;
        if (rc == CWS_INFLATE_END) { /* the rest of the last byte is padding */
            z->bits = 0;
            z->nbits = 0;
        }
    }
    inf_remember(z, io.out_start, (size_t)(io.out - io.out_start));
    if (consumed) *consumed = (size_t)(io.in - in);
    if (produced) *produced = (size_t)(io.out - io.out_start);
    return rc;
}
