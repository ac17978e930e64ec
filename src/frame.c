/* Frame codec (RFC 6455 §5.2): an incremental, zero-copy frame parser and
 * the header encoder. The parser never copies payload: it unmasks it in
 * place in the caller's buffer and hands it out as chunks. Only a header
 * cut by the end of a buffer is copied, into the parser's small stash
 * (which shares memory with the decoded header, to keep the parser, and so
 * every connection, small). */
#include "internal.h"

enum {
    FRAME_STATE_HEADER = 0,  /* collecting a header */
    FRAME_STATE_BEGIN = 1,   /* header done, START event not yet given */
    FRAME_STATE_PAYLOAD = 2, /* inside the payload */
    FRAME_STATE_FAILED = 3
};

void cws_frame_parser_init(cws_frame_parser *p, int role) {
    memset(p, 0, sizeof *p);
    p->role = (uint8_t)(role == CWS_CLIENT ? CWS_CLIENT : CWS_SERVER);
}

/* Header length announced by its first two bytes (§5.2). */
static size_t frame_header_len(const uint8_t *b) {
    size_t n = 2;
    unsigned len7 = b[1] & 0x7Fu;
    if (len7 == 126) n += 2;
    else if (len7 == 127) n += 8;
    if (b[1] & 0x80u) n += 4;
    return n;
}

/* The rules the first two bytes decide, so bad input fails before the
 * rest of the header arrives. Returns the broken rule or NULL. */
static const char *frame_check_start(const cws_frame_parser *p, const uint8_t *b) {
    unsigned op = b[0] & 0x0Fu, rsv = (b[0] >> 4) & 7u, masked = b[1] >> 7;
    if (rsv & ~(unsigned)p->allowed_rsv) return "RSV bit set without an extension (RFC 6455 §5.2)";
    if ((op >= 0x3 && op <= 0x7) || op >= 0xB) return "reserved opcode (RFC 6455 §5.2)";
    if (op & 0x8u) {
        if (!(b[0] & 0x80u)) return "fragmented control frame (RFC 6455 §5.5)";
        if ((b[1] & 0x7Fu) > CWS_CONTROL_MAX) return "control frame over 125 bytes (RFC 6455 §5.5)";
    }
    if (p->role == CWS_SERVER && !masked) return "unmasked frame from a client (RFC 6455 §5.1)";
    if (p->role == CWS_CLIENT && masked) return "masked frame from a server (RFC 6455 §5.1)";
    return NULL;
}

/* Decodes a complete header b into h; returns the broken rule or NULL. */
static const char *frame_decode(cws_frame_header *h, const uint8_t *b) {
    const uint8_t *q = b + 2;
    uint64_t len = b[1] & 0x7Fu;
    if (len == 126) {
        len = cws__load_be16(q);
        q += 2;
    } else if (len == 127) {
        len = cws__load_be64(q);
        q += 8;
        if (len >> 63) return "64-bit length with the top bit set (RFC 6455 §5.2)";
    }
    h->len = len;
    h->fin = (uint8_t)(b[0] >> 7);
    h->rsv = (uint8_t)((b[0] >> 4) & 7u);
    h->opcode = (uint8_t)(b[0] & 0x0Fu);
    h->masked = (uint8_t)(b[1] >> 7);
    if (h->masked) memcpy(h->mask, q, 4);
    else memset(h->mask, 0, 4);
    return NULL;
}

static ptrdiff_t frame_fail(cws_frame_parser *p, const char *why) {
    p->state = FRAME_STATE_FAILED;
    p->error = why;
    return CWS_ERR_PROTOCOL;
}

/* Collects header bytes into the stash. Returns the bytes taken; *hb is
 * set to the complete header, or NULL if more bytes are needed. */
static size_t frame_stash(cws_frame_parser *p, const uint8_t *buf, size_t len, const uint8_t **hb) {
    size_t used = 0;
    *hb = NULL;
    while (p->have < 2 && used < len) p->stash[p->have++] = buf[used++];
    if (p->have < 2) return used;
    size_t need = frame_header_len(p->stash);
    size_t take = CWS__MIN(need - p->have, len - used);
    memcpy(p->stash + p->have, buf + used, take);
    p->have = (uint8_t)(p->have + take);
    if (p->have == need) *hb = p->stash;
    return used + take;
}

ptrdiff_t cws_frame_parse(cws_frame_parser *p, uint8_t *buf, size_t len, cws_frame_event *ev) {
    size_t used = 0;
    ev->ready = 0;
    if (p->state == FRAME_STATE_FAILED) return CWS_ERR_PROTOCOL;
    if (p->state == FRAME_STATE_HEADER) {
        const uint8_t *hb;
        if (p->have == 0 && len >= 2 && len >= frame_header_len(buf)) {
            hb = buf; /* fast path: the whole header is here, no copy */
            used = frame_header_len(buf);
        } else {
            used = frame_stash(p, buf, len, &hb);
            if (!hb) {
                const char *why = p->have >= 2 ? frame_check_start(p, p->stash) : NULL;
                return why ? frame_fail(p, why) : (ptrdiff_t)used;
            }
        }
        uint8_t copy[CWS_FRAME_HEADER_MAX];
        if (hb == p->stash) { /* the stash and hdr share memory */
            memcpy(copy, p->stash, p->have);
            hb = copy;
        }
        const char *why = frame_check_start(p, hb);
        if (!why) why = frame_decode(&p->hdr, hb);
        if (why) return frame_fail(p, why);
        p->have = 0;
        p->offset = 0;
        p->state = FRAME_STATE_BEGIN;
    }

    /* Payload: one chunk, as much as this buffer holds. */
    int start = p->state == FRAME_STATE_BEGIN;
    uint64_t left = p->hdr.len - p->offset;
    size_t n = left < (uint64_t)(len - used) ? (size_t)left : len - used;
    if (!start && n == 0) return (ptrdiff_t)used;
    uint8_t *data = len ? buf + used : buf;
    if (n && p->hdr.masked) cws_mask(data, n, p->hdr.mask, p->offset);
    ev->ready = 1;
    ev->flags = (start ? (unsigned)CWS_FRAME_START : 0u) | (n == left ? (unsigned)CWS_FRAME_END : 0u);
    ev->hdr = &p->hdr;
    ev->data = data;
    ev->len = n;
    ev->offset = p->offset;
    p->offset += n;
    p->state = n == left ? FRAME_STATE_HEADER : FRAME_STATE_PAYLOAD;
    return (ptrdiff_t)(used + n);
}

void cws__frame_parser_rewind(cws_frame_parser *p, uint8_t *data, size_t n) {
    p->offset -= n;
    /* Mask again so the next parse, which unmasks, yields the same bytes. */
    if (n && p->hdr.masked) cws_mask(data, n, p->hdr.mask, p->offset);
    p->state = FRAME_STATE_BEGIN;
}

size_t cws_frame_header_encode(uint8_t out[CWS_FRAME_HEADER_MAX], const cws_frame_header *h) {
    size_t n = 2;
    uint8_t mask_bit = h->masked ? 0x80u : 0u;
    out[0] = (uint8_t)((h->fin ? 0x80u : 0u) | ((h->rsv & 7u) << 4) | (h->opcode & 0x0Fu));
    /* Minimal length encoding (§5.2). */
    if (h->len < 126) {
        out[1] = (uint8_t)(mask_bit | h->len);
    } else if (h->len <= 0xFFFF) {
        out[1] = (uint8_t)(mask_bit | 126u);
        cws__store_be16(out + 2, (uint16_t)h->len);
        n = 4;
    } else {
        out[1] = (uint8_t)(mask_bit | 127u);
        cws__store_be64(out + 2, h->len & (UINT64_MAX >> 1));
        n = 10;
    }
    if (h->masked) {
        memcpy(out + n, h->mask, 4);
        n += 4;
    }
    return n;
}
