/* Frame parser in both roles against a reference decoder written here
 * from RFC 6455 §5.2. The input is parsed twice by the library, whole and
 * cut in two at a point the input chooses (each piece in its own
 * exact-size buffer); both must yield exactly the reference's frames
 * (header fields and unmasked payload) and fail exactly when it does.
 * Every accepted header must also survive cws_frame_header_encode and a
 * second parse unchanged. */
#include "fuzz_util.h"

#define FRAME_FUZZ_MAX 512 /* frames per input we keep track of */

typedef struct fz_frame {
    cws_frame_header hdr;
    uint8_t *payload; /* unmasked bytes seen so far */
    size_t got;
} fz_frame;

typedef struct fz_result {
    fz_frame frames[FRAME_FUZZ_MAX];
    size_t count;
    int failed;
} fz_result;

static void fz_result_free(fz_result *r) {
    for (size_t i = 0; i < r->count; i++) free(r->frames[i].payload);
    r->count = 0;
}

static void fz_append(fz_frame *f, const uint8_t *data, size_t n) {
    if (!n) return;
    uint8_t *p = realloc(f->payload, f->got + n);
    FUZZ_CHECK(p != NULL);
    memcpy(p + f->got, data, n);
    f->payload = p;
    f->got += n;
}

/* ---- the reference ---- */

static int ref_reserved_opcode(unsigned op) { return (op >= 3 && op <= 7) || op >= 0xB; }

static void ref_parse(int role, unsigned allowed_rsv, const uint8_t *s, size_t len, fz_result *out) {
    size_t i = 0;
    while (i + 2 <= len && out->count < FRAME_FUZZ_MAX) {
        unsigned fin = s[i] >> 7, rsv = (s[i] >> 4) & 7, op = s[i] & 15;
        unsigned masked = s[i + 1] >> 7, len7 = s[i + 1] & 127;
        int control = op >= 8;
        /* The checks the first two bytes allow (§5.2, §5.5, §5.1). */
        if ((rsv & ~allowed_rsv) || ref_reserved_opcode(op) || (control && (!fin || len7 > 125)) ||
            (role == CWS_SERVER) != (masked == 1)) {
            out->failed = 1;
            return;
        }
        size_t hlen = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
        if (i + hlen > len) return;
        uint64_t plen = len7;
        const uint8_t *q = s + i + 2;
        if (len7 == 126) plen = ((uint64_t)q[0] << 8) | q[1];
        if (len7 == 127) {
            plen = 0;
            for (int k = 0; k < 8; k++) plen = (plen << 8) | q[k];
            if (plen >> 63) {
                out->failed = 1;
                return;
            }
        }
        fz_frame *f = &out->frames[out->count++];
        memset(f, 0, sizeof *f);
        f->hdr.fin = (uint8_t)fin;
        f->hdr.rsv = (uint8_t)rsv;
        f->hdr.opcode = (uint8_t)op;
        f->hdr.masked = (uint8_t)masked;
        f->hdr.len = plen;
        if (masked) memcpy(f->hdr.mask, s + i + hlen - 4, 4);
        i += hlen;
        size_t avail = len - i < plen ? len - i : (size_t)plen;
        for (size_t k = 0; k < avail; k++) {
            uint8_t b = (uint8_t)(s[i + k] ^ (masked ? f->hdr.mask[k % 4] : 0));
            fz_append(f, &b, 1);
        }
        i += avail;
    }
}

/* ---- the library ---- */

/* Runs one buffer through p, appending to out; returns 0 once failed. */
static int lib_feed(cws_frame_parser *p, uint8_t *buf, size_t n, fz_result *out) {
    size_t used = 0;
    while (used < n) {
        cws_frame_event ev;
        ptrdiff_t r = cws_frame_parse(p, buf + used, n - used, &ev);
        if (r < 0) {
            FUZZ_CHECK(r == CWS_ERR_PROTOCOL && p->error != NULL);
            out->failed = 1;
            /* Failed for good. */
            FUZZ_CHECK(cws_frame_parse(p, buf, n, &ev) == CWS_ERR_PROTOCOL);
            return 0;
        }
        FUZZ_CHECK(r > 0 && (size_t)r <= n - used);
        used += (size_t)r;
        if (!ev.ready) continue;
        FUZZ_CHECK(ev.data >= buf && ev.data + ev.len <= buf + n);
        FUZZ_CHECK(ev.offset + ev.len <= ev.hdr->len);
        if (ev.flags & CWS_FRAME_START) {
            FUZZ_CHECK(ev.offset == 0);
            if (out->count == FRAME_FUZZ_MAX) return 0;
            fz_frame *f = &out->frames[out->count++];
            memset(f, 0, sizeof *f);
            f->hdr = *ev.hdr;
        } else {
            FUZZ_CHECK(out->count > 0 && ev.len > 0);
        }
        fz_frame *f = &out->frames[out->count - 1];
        FUZZ_CHECK(ev.offset == f->got);
        FUZZ_CHECK(((ev.flags & CWS_FRAME_END) != 0) == (ev.offset + ev.len == ev.hdr->len));
        fz_append(f, ev.data, ev.len);
    }
    return 1;
}

static void same_header(const cws_frame_header *a, const cws_frame_header *b) {
    FUZZ_CHECK(a->len == b->len && a->fin == b->fin && a->rsv == b->rsv && a->opcode == b->opcode &&
               a->masked == b->masked);
    FUZZ_CHECK(!a->masked || memcmp(a->mask, b->mask, 4) == 0);
}

static void same_result(const fz_result *a, const fz_result *b) {
    FUZZ_CHECK(a->failed == b->failed);
    FUZZ_CHECK(a->count == b->count);
    for (size_t i = 0; i < a->count; i++) {
        same_header(&a->frames[i].hdr, &b->frames[i].hdr);
        FUZZ_CHECK(a->frames[i].got == b->frames[i].got);
        FUZZ_CHECK(a->frames[i].got == 0 ||
                   memcmp(a->frames[i].payload, b->frames[i].payload, a->frames[i].got) == 0);
    }
}

/* Encodes h and parses it back: the same header must come out. */
static void check_encode(int role, unsigned allowed_rsv, const cws_frame_header *h) {
    uint8_t out[CWS_FRAME_HEADER_MAX];
    size_t n = cws_frame_header_encode(out, h);
    size_t want = 2 + (h->len < 126 ? 0 : h->len <= 0xFFFF ? 2 : 8) + (h->masked ? 4 : 0);
    FUZZ_CHECK(n == want);
    cws_frame_parser p;
    cws_frame_parser_init(&p, role);
    p.allowed_rsv = (uint8_t)allowed_rsv;
    cws_frame_event ev;
    uint8_t *copy = fuzz_dup(out, n);
    FUZZ_CHECK(cws_frame_parse(&p, copy, n, &ev) == (ptrdiff_t)n);
    FUZZ_CHECK(ev.ready && (ev.flags & CWS_FRAME_START) && ev.len == 0);
    same_header(ev.hdr, h);
    free(copy);
}

static fz_result ref_res, whole_res, split_res;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    uint8_t opt = fuzz_byte(&in);
    int role = opt & 1 ? CWS_CLIENT : CWS_SERVER;
    unsigned allowed_rsv = (opt >> 1) & 7;
    size_t len = in.n;
    size_t cut = len ? ((size_t)fuzz_byte(&in) << 8 | fuzz_byte(&in)) % (len + 1) : 0;
    len = in.n;
    if (cut > len) cut = len;
    const uint8_t *s = in.p;

    ref_parse(role, allowed_rsv, s, len, &ref_res);

    cws_frame_parser p;
    cws_frame_parser_init(&p, role);
    p.allowed_rsv = (uint8_t)allowed_rsv;
    uint8_t *whole = fuzz_dup(s, len);
    lib_feed(&p, whole, len, &whole_res);
    free(whole);

    cws_frame_parser_init(&p, role);
    p.allowed_rsv = (uint8_t)allowed_rsv;
    uint8_t *a = fuzz_dup(s, cut), *b = fuzz_dup(s + cut, len - cut);
    if (lib_feed(&p, a, cut, &split_res)) lib_feed(&p, b, len - cut, &split_res);
    free(a);
    free(b);

    /* The reference stops at FRAME_FUZZ_MAX frames; compare only then. */
    if (ref_res.count < FRAME_FUZZ_MAX) {
        same_result(&ref_res, &whole_res);
        same_result(&ref_res, &split_res);
    }
    for (size_t i = 0; i < whole_res.count; i++) check_encode(role, allowed_rsv, &whole_res.frames[i].hdr);
    fz_result_free(&ref_res);
    fz_result_free(&whole_res);
    fz_result_free(&split_res);
    ref_res.failed = whole_res.failed = split_res.failed = 0;
    return 0;
}
