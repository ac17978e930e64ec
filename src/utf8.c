/* UTF-8 validation (RFC 3629 §4), incremental and fail-fast, for text
 * frames and close reasons (RFC 6455 §5.6, §8.1).
 *
 * The automaton: a character boundary (ACCEPT), a dead state (REJECT), and
 * seven "inside a sequence" states that say how many continuation bytes
 * are still due and which range the next one must fall in (the narrowed
 * ranges after E0, ED, F0, F4 exclude overlongs, surrogates and code
 * points above U+10FFFF). cws_utf8.state holds the state's number, so a
 * sequence cut at the end of a chunk continues in the next one.
 *
 * Each state is numbered by a multiple of 6, and each input byte maps to a
 * 64-bit row holding, at bit position s, the 6-bit number of the state
 * that follows s. One step is then a single shift, which keeps the
 * per-byte dependency chain to one instruction; the fast path also skips
 * ASCII 16 (SSE2) or 8 bytes at a time and runs long non-ASCII stretches
 * as four interleaved lanes. cws__utf8_feed_scalar is the plain reference
 * the tests hold it to. */
#include "internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum {
    UTF8_ACCEPT = 0,  /* at a character boundary (cws_utf8.state 0) */
    UTF8_REJECT = 6,  /* invalid; absorbing */
    UTF8_CONT1 = 12,  /* one more 80..BF due */
    UTF8_CONT2 = 18,  /* two more 80..BF due */
    UTF8_CONT3 = 24,  /* three more 80..BF due */
    UTF8_AFTER_E0 = 30, /* A0..BF, then one more: no overlong 3-byte form */
    UTF8_AFTER_ED = 36, /* 80..9F, then one more: no surrogates D800..DFFF */
    UTF8_AFTER_F0 = 42, /* 90..BF, then two more: no overlong 4-byte form */
    UTF8_AFTER_F4 = 48  /* 80..8F, then two more: nothing above U+10FFFF */
};

#define UTF8_STEP(from, to) ((uint64_t)(to) << (from))
/* One byte's row: the next state from each state (REJECT stays REJECT). */
#define UTF8_ROW(acc, c1, c2, c3, e0, ed, f0, f4)                                            \
    (UTF8_STEP(UTF8_ACCEPT, acc) | UTF8_STEP(UTF8_REJECT, UTF8_REJECT) |                     \
     UTF8_STEP(UTF8_CONT1, c1) | UTF8_STEP(UTF8_CONT2, c2) | UTF8_STEP(UTF8_CONT3, c3) |     \
     UTF8_STEP(UTF8_AFTER_E0, e0) | UTF8_STEP(UTF8_AFTER_ED, ed) |                           \
     UTF8_STEP(UTF8_AFTER_F0, f0) | UTF8_STEP(UTF8_AFTER_F4, f4))
#define UTF8_R UTF8_REJECT
/* 00..7F */
#define UTF8_ROW_ASCII UTF8_ROW(UTF8_ACCEPT, UTF8_R, UTF8_R, UTF8_R, UTF8_R, UTF8_R, UTF8_R, UTF8_R)
/* Continuation bytes, split where the narrowed ranges split. */
#define UTF8_ROW_80 /* 80..8F */                                                             \
    UTF8_ROW(UTF8_R, UTF8_ACCEPT, UTF8_CONT1, UTF8_CONT2, UTF8_R, UTF8_CONT1, UTF8_R, UTF8_CONT2)
#define UTF8_ROW_90 /* 90..9F */                                                             \
    UTF8_ROW(UTF8_R, UTF8_ACCEPT, UTF8_CONT1, UTF8_CONT2, UTF8_R, UTF8_CONT1, UTF8_CONT2, UTF8_R)
#define UTF8_ROW_A0 /* A0..BF */                                                             \
    UTF8_ROW(UTF8_R, UTF8_ACCEPT, UTF8_CONT1, UTF8_CONT2, UTF8_CONT1, UTF8_R, UTF8_CONT2, UTF8_R)
/* Lead bytes: valid only at a boundary. */
#define UTF8_ROW_LEAD(next) UTF8_ROW(next, UTF8_R, UTF8_R, UTF8_R, UTF8_R, UTF8_R, UTF8_R, UTF8_R)
#define UTF8_ROW_C2 UTF8_ROW_LEAD(UTF8_CONT1)    /* C2..DF */
#define UTF8_ROW_E0 UTF8_ROW_LEAD(UTF8_AFTER_E0)
#define UTF8_ROW_E1 UTF8_ROW_LEAD(UTF8_CONT2)    /* E1..EC, EE..EF */
#define UTF8_ROW_ED UTF8_ROW_LEAD(UTF8_AFTER_ED)
#define UTF8_ROW_F0 UTF8_ROW_LEAD(UTF8_AFTER_F0)
#define UTF8_ROW_F1 UTF8_ROW_LEAD(UTF8_CONT3)    /* F1..F3 */
#define UTF8_ROW_F4 UTF8_ROW_LEAD(UTF8_AFTER_F4)
/* C0, C1 (overlong 2-byte forms) and F5..FF never occur in UTF-8. */
#define UTF8_ROW_BAD UTF8_ROW_LEAD(UTF8_R)
#define UTF8_X4(r) r, r, r, r
#define UTF8_X16(r) UTF8_X4(r), UTF8_X4(r), UTF8_X4(r), UTF8_X4(r)

static const uint64_t utf8_rows[256] = {
    /* 00..7F */
    UTF8_X16(UTF8_ROW_ASCII), UTF8_X16(UTF8_ROW_ASCII), UTF8_X16(UTF8_ROW_ASCII),
    UTF8_X16(UTF8_ROW_ASCII), UTF8_X16(UTF8_ROW_ASCII), UTF8_X16(UTF8_ROW_ASCII),
    UTF8_X16(UTF8_ROW_ASCII), UTF8_X16(UTF8_ROW_ASCII),
    /* 80..BF */
    UTF8_X16(UTF8_ROW_80), UTF8_X16(UTF8_ROW_90), UTF8_X16(UTF8_ROW_A0), UTF8_X16(UTF8_ROW_A0),
    /* C0..CF */
    UTF8_ROW_BAD, UTF8_ROW_BAD, UTF8_ROW_C2, UTF8_ROW_C2, UTF8_X4(UTF8_ROW_C2),
    UTF8_X4(UTF8_ROW_C2), UTF8_X4(UTF8_ROW_C2),
    /* D0..DF */
    UTF8_X16(UTF8_ROW_C2),
    /* E0..EF */
    UTF8_ROW_E0, UTF8_ROW_E1, UTF8_ROW_E1, UTF8_ROW_E1, UTF8_X4(UTF8_ROW_E1), UTF8_X4(UTF8_ROW_E1),
    UTF8_ROW_E1, UTF8_ROW_ED, UTF8_ROW_E1, UTF8_ROW_E1,
    /* F0..FF */
    UTF8_ROW_F0, UTF8_ROW_F1, UTF8_ROW_F1, UTF8_ROW_F1, UTF8_ROW_F4, UTF8_ROW_BAD, UTF8_ROW_BAD,
    UTF8_ROW_BAD, UTF8_X4(UTF8_ROW_BAD), UTF8_X4(UTF8_ROW_BAD),
};

#undef UTF8_STEP
#undef UTF8_ROW
#undef UTF8_R
#undef UTF8_ROW_ASCII
#undef UTF8_ROW_80
#undef UTF8_ROW_90
#undef UTF8_ROW_A0
#undef UTF8_ROW_LEAD
#undef UTF8_ROW_C2
#undef UTF8_ROW_E0
#undef UTF8_ROW_E1
#undef UTF8_ROW_ED
#undef UTF8_ROW_F0
#undef UTF8_ROW_F1
#undef UTF8_ROW_F4
#undef UTF8_ROW_BAD
#undef UTF8_X4
#undef UTF8_X16

/* The fast path runs the automaton over blocks of UTF8_BLOCK bytes as four
 * independent lanes, so that four dependency chains overlap; REJECT and a
 * return to ASCII are checked once per block. */
#define UTF8_LANE 16
#define UTF8_BLOCK (4 * UTF8_LANE)

/* cws_utf8.state is private, but a value that is not one of ours is
 * treated as failed rather than trusted. */
static int utf8_state_ok(uint32_t s) { return s <= UTF8_AFTER_F4 && s % 6 == 0 && s != UTF8_REJECT; }

void cws_utf8_init(cws_utf8 *v) { v->state = UTF8_ACCEPT; }

/* Where in p[0..n) a run starting in state s dies; n if it does not. */
static size_t utf8_find_reject(uint32_t s, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        s = (uint32_t)(utf8_rows[p[i]] >> s) & 63;
        if (s == UTF8_REJECT) return i;
    }
    return n;
}

/* Length of the run of ASCII bytes at the start of p[0..n), looked at a
 * word (or SSE2 register) at a time; it may stop short of a non-ASCII byte
 * (the automaton takes over from there, and ASCII costs it nothing extra). */
static size_t utf8_ascii_prefix(const uint8_t *p, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    for (; n - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        int high = _mm_movemask_epi8(x); /* one bit per byte >= 0x80 */
        if (high != 0) {
#if defined(__GNUC__) || defined(__clang__)
            return i + (size_t)__builtin_ctz((unsigned)high);
#else
            return i;
#endif
        }
    }
#endif
    for (; n - i >= 8; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if (x & 0x8080808080808080ull) break;
    }
    return i;
}

/* Runs the automaton over p[0..n) from state s, with no branch per byte:
 * REJECT is absorbing, so checking the result once is enough. */
static uint32_t utf8_run(uint64_t s, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) s = utf8_rows[p[i]] >> (s & 63);
    return (uint32_t)(s & 63);
}

/* The state just before p[0], worked out from p[-3..-1] alone, that valid
 * text must be in: UTF-8 resynchronises at every byte that is not a
 * continuation byte (such a byte restarts from ACCEPT), and three
 * continuation bytes in a row can only end a 4-byte sequence. */
static uint64_t utf8_guess_state(const uint8_t *p) {
    uint64_t s = UTF8_CONT3;
    for (int k = -3; k < 0; k++) {
        uint64_t keep = (uint64_t)0 - (uint64_t)((p[k] & 0xC0) == 0x80); /* all ones if continuation */
        s = utf8_rows[p[k]] >> (s & keep & 63);
    }
    return s & 63;
}

/* One UTF8_BLOCK block from state s. Lanes 1..3 start from a guessed
 * state; the guess is checked against the state the previous lane really
 * ended in, so the answer is exact whenever every guess holds. A guess can
 * only fail when the block holds an error, and then REJECT is returned
 * for the caller to locate byte by byte. */
static uint32_t utf8_run_block(uint64_t s, const uint8_t *p) {
    const uint8_t *p1 = p + UTF8_LANE, *p2 = p + 2 * UTF8_LANE, *p3 = p + 3 * UTF8_LANE;
    uint64_t g1 = utf8_guess_state(p1), g2 = utf8_guess_state(p2), g3 = utf8_guess_state(p3);
    uint64_t s0 = s, s1 = g1, s2 = g2, s3 = g3;
    for (size_t i = 0; i < UTF8_LANE; i++) {
        s0 = utf8_rows[p[i]] >> (s0 & 63);
        s1 = utf8_rows[p1[i]] >> (s1 & 63);
        s2 = utf8_rows[p2[i]] >> (s2 & 63);
        s3 = utf8_rows[p3[i]] >> (s3 & 63);
    }
    int guesses_hold = (s0 & 63) == g1 && (s1 & 63) == g2 && (s2 & 63) == g3;
    return guesses_hold ? (uint32_t)(s3 & 63) : UTF8_REJECT;
}

int cws_utf8_feed(cws_utf8 *v, const void *data, size_t len, size_t *bad) {
    const uint8_t *p = data;
    uint32_t s = v->state;
    if (!utf8_state_ok(s)) {
        /* Failed already: the offending byte was in an earlier chunk. */
        v->state = UTF8_REJECT;
        if (bad) *bad = 0;
        return CWS_ERR_UTF8;
    }
    size_t i = 0;
    while (i < len) {
        if (s == UTF8_ACCEPT) {
            i += utf8_ascii_prefix(p + i, len - i);
            if (i == len) break;
        }
        size_t n = CWS__MIN(len - i, (size_t)UTF8_BLOCK);
        uint32_t next = n == UTF8_BLOCK ? utf8_run_block(s, p + i) : utf8_run(s, p + i, n);
        if (next == UTF8_REJECT) {
            size_t at = utf8_find_reject(s, p + i, n);
            if (at < n) {
                v->state = UTF8_REJECT;
                if (bad) *bad = i + at;
                return CWS_ERR_UTF8;
            }
            next = utf8_run(s, p + i, n); /* not reached: guesses hold in valid text */
        }
        s = next;
        i += n;
    }
    v->state = s;
    return CWS_OK;
}

/* The reference: one byte at a time with the RFC 3629 §4 ranges written
 * out, sharing nothing with the fast path but the state numbers. */
int cws__utf8_feed_scalar(cws_utf8 *v, const void *data, size_t len, size_t *bad) {
    const uint8_t *p = data;
    uint32_t s = v->state;
    if (!utf8_state_ok(s)) {
        v->state = UTF8_REJECT;
        if (bad) *bad = 0;
        return CWS_ERR_UTF8;
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t b = p[i];
        uint32_t next = UTF8_REJECT;
        switch (s) {
        case UTF8_ACCEPT:
            if (b <= 0x7F) next = UTF8_ACCEPT;
            else if (b >= 0xC2 && b <= 0xDF) next = UTF8_CONT1;
            else if (b == 0xE0) next = UTF8_AFTER_E0;
            else if (b == 0xED) next = UTF8_AFTER_ED;
            else if (b >= 0xE1 && b <= 0xEF) next = UTF8_CONT2;
            else if (b == 0xF0) next = UTF8_AFTER_F0;
            else if (b >= 0xF1 && b <= 0xF3) next = UTF8_CONT3;
            else if (b == 0xF4) next = UTF8_AFTER_F4;
            break;
        case UTF8_CONT1:
            if (b >= 0x80 && b <= 0xBF) next = UTF8_ACCEPT;
            break;
        case UTF8_CONT2:
            if (b >= 0x80 && b <= 0xBF) next = UTF8_CONT1;
            break;
        case UTF8_CONT3:
            if (b >= 0x80 && b <= 0xBF) next = UTF8_CONT2;
            break;
        case UTF8_AFTER_E0:
            if (b >= 0xA0 && b <= 0xBF) next = UTF8_CONT1;
            break;
        case UTF8_AFTER_ED:
            if (b >= 0x80 && b <= 0x9F) next = UTF8_CONT1;
            break;
        case UTF8_AFTER_F0:
            if (b >= 0x90 && b <= 0xBF) next = UTF8_CONT2;
            break;
        case UTF8_AFTER_F4:
            if (b >= 0x80 && b <= 0x8F) next = UTF8_CONT2;
            break;
        default: /* not reached: the state was checked above */
            break;
        }
        if (next == UTF8_REJECT) {
            v->state = UTF8_REJECT;
            if (bad) *bad = i;
            return CWS_ERR_UTF8;
        }
        s = next;
    }
    v->state = s;
    return CWS_OK;
}

int cws_utf8_finish(const cws_utf8 *v) { return v->state == UTF8_ACCEPT ? CWS_OK : CWS_ERR_UTF8; }

int cws_utf8_validate(const void *data, size_t len) {
    cws_utf8 v;
    cws_utf8_init(&v);
    int rc = cws_utf8_feed(&v, data, len, NULL);
    return rc == CWS_OK ? cws_utf8_finish(&v) : rc;
}
