/* Frame codec (RFC 6455 §5.2): the §5.7 example frames byte for byte, the
 * parser's rejections, and the same events for every way of splitting the
 * input (two pieces at every boundary, and one byte at a time). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/internal.h"

/* What a parse of a whole stream produced. */
typedef struct frames {
    int count;                /* complete frames */
    cws_frame_header hdr[8];
    uint8_t *payload[8];      /* each frame's payload, joined (malloc'd) */
    size_t len[8];
    int err;                  /* CWS_ERR_PROTOCOL or 0 */
    size_t consumed;
} frames;

static void frames_free(frames *f) {
    for (int i = 0; i < 8; i++) free(f->payload[i]);
    memset(f, 0, sizeof *f);
}

/* Feeds buf[0..len) in pieces ending at each cut (sorted), checking that
 * events are consistent (START first, offsets contiguous, END last). */
static void parse_pieces(int role, uint8_t *buf, size_t len, const size_t *cuts, int ncuts, frames *out) {
    cws_frame_parser p;
    cws_frame_parser_init(&p, role);
    memset(out, 0, sizeof *out);
    size_t start = 0;
    int in_frame = 0;
    for (int k = 0; k <= ncuts && !out->err; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        size_t pos = start;
        do {
            cws_frame_event ev;
            ptrdiff_t n = cws_frame_parse(&p, buf + pos, end - pos, &ev);
            if (n < 0) {
                assert_int_equal(n, CWS_ERR_PROTOCOL);
                assert_non_null(p.error);
                out->err = (int)n;
                break;
            }
            pos += (size_t)n;
            if (!ev.ready) {
                assert_int_equal(pos, end); /* no event only once all is taken */
                break;
            }
            assert_true(ev.data + ev.len == buf + pos); /* zero-copy: in place */
            int i = out->count;
            assert_true(i < 8);
            if (ev.flags & CWS_FRAME_START) {
                assert_false(in_frame);
                assert_int_equal(ev.offset, 0);
                in_frame = 1;
                out->hdr[i] = *ev.hdr;
                out->payload[i] = malloc(ev.hdr->len ? (size_t)ev.hdr->len : 1);
                out->len[i] = 0;
            }
            assert_true(in_frame);
            assert_int_equal(ev.offset, out->len[i]);
            if (ev.len) memcpy(out->payload[i] + out->len[i], ev.data, ev.len);
            out->len[i] += ev.len;
            if (ev.flags & CWS_FRAME_END) {
                assert_int_equal(out->len[i], ev.hdr->len);
                in_frame = 0;
                out->count++;
            }
        } while (pos < end);
        out->consumed = pos;
        start = end;
    }
    /* Once failed, it stays failed. */
    if (out->err) {
        cws_frame_event ev;
        uint8_t b[2] = {0x81, 0x80};
        assert_int_equal(cws_frame_parse(&p, b, 2, &ev), CWS_ERR_PROTOCOL);
    }
}

static void frames_assert_equal(const frames *a, const frames *b) {
    assert_int_equal(a->err, b->err);
    assert_int_equal(a->count, b->count);
    for (int i = 0; i < a->count; i++) {
        assert_memory_equal(&a->hdr[i], &b->hdr[i], sizeof a->hdr[i]);
        assert_int_equal(a->len[i], b->len[i]);
        if (a->len[i]) assert_memory_equal(a->payload[i], b->payload[i], a->len[i]);
    }
}

/* Parses the stream whole, then split in two at every boundary, then byte
 * by byte; every way must give the same result, which goes to *whole. The
 * input is copied each time (the parser unmasks in place). */
static void parse_every_split(int role, const uint8_t *src, size_t len, frames *whole) {
    uint8_t *buf = malloc(len + 1);
    memcpy(buf, src, len);
    parse_pieces(role, buf, len, NULL, 0, whole);
    for (size_t cut = 0; cut <= len; cut++) {
        frames f;
        memcpy(buf, src, len);
        parse_pieces(role, buf, len, &cut, 1, &f);
        frames_assert_equal(whole, &f);
        frames_free(&f);
    }
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    memcpy(buf, src, len);
    frames f;
    parse_pieces(role, buf, len, cuts, (int)len, &f);
    frames_assert_equal(whole, &f);
    frames_free(&f);
    free(cuts);
    free(buf);
}

static const uint8_t hello_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Encodes h and checks it against the expected header bytes. */
static void assert_header_encodes(const cws_frame_header *h, const uint8_t *want, size_t want_len) {
    uint8_t out[CWS_FRAME_HEADER_MAX];
    size_t n = cws_frame_header_encode(out, h);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, n);
}

static cws_frame_header make_hdr(int fin, int op, uint64_t len, const uint8_t *key) {
    cws_frame_header h;
    memset(&h, 0, sizeof h);
    h.fin = (uint8_t)fin;
    h.opcode = (uint8_t)op;
    h.len = len;
    if (key) {
        h.masked = 1;
        memcpy(h.mask, key, 4);
    }
    return h;
}

/* §5.7: a single-frame unmasked text message. */
static void test_rfc_unmasked_hello(void **state) {
    (void)state;
    const uint8_t wire[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    frames f;
    parse_every_split(CWS_CLIENT, wire, sizeof wire, &f);
    assert_int_equal(f.err, 0);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.hdr[0].fin, 1);
    assert_int_equal(f.hdr[0].opcode, CWS_OP_TEXT);
    assert_int_equal(f.hdr[0].masked, 0);
    assert_int_equal(f.len[0], 5);
    assert_memory_equal(f.payload[0], "Hello", 5);
    frames_free(&f);
    cws_frame_header h = make_hdr(1, CWS_OP_TEXT, 5, NULL);
    assert_header_encodes(&h, wire, 2);
}

/* §5.7: a single-frame masked text message. */
static void test_rfc_masked_hello(void **state) {
    (void)state;
    const uint8_t wire[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    frames f;
    parse_every_split(CWS_SERVER, wire, sizeof wire, &f);
    assert_int_equal(f.err, 0);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.hdr[0].masked, 1);
    assert_memory_equal(f.hdr[0].mask, hello_key, 4);
    assert_memory_equal(f.payload[0], "Hello", 5);
    frames_free(&f);
    cws_frame_header h = make_hdr(1, CWS_OP_TEXT, 5, hello_key);
    assert_header_encodes(&h, wire, 6);
    uint8_t body[5];
    cws_mask_copy(body, (const uint8_t *)"Hello", 5, hello_key, 0);
    assert_memory_equal(body, wire + 6, 5);
}

/* §5.7: a fragmented unmasked text message, "Hel" then "lo". */
static void test_rfc_fragmented(void **state) {
    (void)state;
    const uint8_t wire[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    frames f;
    parse_every_split(CWS_CLIENT, wire, sizeof wire, &f);
    assert_int_equal(f.count, 2);
    assert_int_equal(f.hdr[0].fin, 0);
    assert_int_equal(f.hdr[0].opcode, CWS_OP_TEXT);
    assert_memory_equal(f.payload[0], "Hel", 3);
    assert_int_equal(f.hdr[1].fin, 1);
    assert_int_equal(f.hdr[1].opcode, CWS_OP_CONT);
    assert_memory_equal(f.payload[1], "lo", 2);
    frames_free(&f);
    cws_frame_header h1 = make_hdr(0, CWS_OP_TEXT, 3, NULL), h2 = make_hdr(1, CWS_OP_CONT, 2, NULL);
    assert_header_encodes(&h1, wire, 2);
    assert_header_encodes(&h2, wire + 5, 2);
}

/* §5.7: unmasked ping and masked pong, both "Hello". */
static void test_rfc_ping_pong(void **state) {
    (void)state;
    const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    frames f;
    parse_every_split(CWS_CLIENT, ping, sizeof ping, &f);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.hdr[0].opcode, CWS_OP_PING);
    assert_memory_equal(f.payload[0], "Hello", 5);
    frames_free(&f);
    parse_every_split(CWS_SERVER, pong, sizeof pong, &f);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.hdr[0].opcode, CWS_OP_PONG);
    assert_memory_equal(f.payload[0], "Hello", 5);
    frames_free(&f);
    cws_frame_header h1 = make_hdr(1, CWS_OP_PING, 5, NULL), h2 = make_hdr(1, CWS_OP_PONG, 5, hello_key);
    assert_header_encodes(&h1, ping, 2);
    assert_header_encodes(&h2, pong, 6);
}

/* §5.7: 256 bytes and 64 KiB of binary data in one unmasked frame. */
static void test_rfc_long_binary(void **state) {
    (void)state;
    const uint8_t h256[] = {0x82, 0x7E, 0x01, 0x00};
    const uint8_t h64k[] = {0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
    cws_frame_header h = make_hdr(1, CWS_OP_BINARY, 256, NULL);
    assert_header_encodes(&h, h256, sizeof h256);
    h.len = 65536;
    assert_header_encodes(&h, h64k, sizeof h64k);

    size_t n = sizeof h256 + 256;
    uint8_t *wire = malloc(n);
    memcpy(wire, h256, sizeof h256);
    for (size_t i = 0; i < 256; i++) wire[sizeof h256 + i] = (uint8_t)i;
    frames f;
    parse_every_split(CWS_CLIENT, wire, n, &f);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.len[0], 256);
    assert_memory_equal(f.payload[0], wire + sizeof h256, 256);
    frames_free(&f);
    free(wire);

    /* 64 KiB: whole, and in a few splits (every split is covered above). */
    n = sizeof h64k + 65536;
    wire = malloc(n);
    memcpy(wire, h64k, sizeof h64k);
    for (size_t i = 0; i < 65536; i++) wire[sizeof h64k + i] = (uint8_t)(i * 7);
    uint8_t *copy = malloc(n);
    const size_t cutsets[][3] = {{1, 5, 9}, {10, 11, 40000}, {3, 30000, 65545}};
    for (int k = 0; k < 3; k++) {
        memcpy(copy, wire, n);
        parse_pieces(CWS_CLIENT, copy, n, cutsets[k], 3, &f);
        assert_int_equal(f.count, 1);
        assert_int_equal(f.hdr[0].len, 65536);
        assert_memory_equal(f.payload[0], wire + sizeof h64k, 65536);
        frames_free(&f);
    }
    free(copy);
    free(wire);
}

/* Minimal length encoding at every boundary, with and without a mask. */
static void test_encode_lengths(void **state) {
    (void)state;
    const struct {
        uint64_t len;
        size_t hlen;
    } cases[] = {{0, 2}, {1, 2}, {125, 2}, {126, 4}, {127, 4}, {65535, 4}, {65536, 10},
                 {(uint64_t)1 << 32, 10}, {((uint64_t)1 << 62) + 5, 10}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int m = 0; m < 2; m++) {
            cws_frame_header h = make_hdr(1, CWS_OP_BINARY, cases[i].len, m ? hello_key : NULL);
            h.rsv = 5;
            uint8_t out[CWS_FRAME_HEADER_MAX];
            size_t n = cws_frame_header_encode(out, &h);
            assert_int_equal(n, cases[i].hlen + (m ? 4 : 0));
            /* And it parses back to the same header. */
            cws_frame_parser p;
            cws_frame_parser_init(&p, m ? CWS_SERVER : CWS_CLIENT);
            p.allowed_rsv = 7;
            cws_frame_event ev;
            assert_int_equal(cws_frame_parse(&p, out, n, &ev), (ptrdiff_t)n);
            assert_true(ev.ready);
            assert_int_equal(ev.flags & CWS_FRAME_START, CWS_FRAME_START);
            assert_memory_equal(ev.hdr, &h, sizeof h);
        }
    }
}

/* The fast path: a small complete frame is one call and one event. */
static void test_one_call_per_frame(void **state) {
    (void)state;
    uint8_t wire[] = {0x82, 0x83, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2, 'c' ^ 3, 0x88, 0x80, 9, 9, 9, 9};
    cws_frame_parser p;
    cws_frame_parser_init(&p, CWS_SERVER);
    cws_frame_event ev;
    assert_int_equal(cws_frame_parse(&p, wire, sizeof wire, &ev), 9);
    assert_true(ev.ready);
    assert_int_equal(ev.flags, CWS_FRAME_START | CWS_FRAME_END);
    assert_int_equal(ev.len, 3);
    assert_ptr_equal(ev.data, wire + 6);
    assert_memory_equal(ev.data, "abc", 3);
    /* A zero-length frame is a single START|END event. */
    assert_int_equal(cws_frame_parse(&p, wire + 9, sizeof wire - 9, &ev), 6);
    assert_true(ev.ready);
    assert_int_equal(ev.flags, CWS_FRAME_START | CWS_FRAME_END);
    assert_int_equal(ev.len, 0);
    assert_int_equal(ev.hdr->opcode, CWS_OP_CLOSE);
    /* Nothing left: no event, nothing consumed. */
    assert_int_equal(cws_frame_parse(&p, wire, 0, &ev), 0);
    assert_false(ev.ready);
}

/* A header that ends the buffer gives a START event with no bytes yet. */
static void test_start_before_payload(void **state) {
    (void)state;
    uint8_t wire[] = {0x02, 0x03, 'x', 'y', 'z'};
    cws_frame_parser p;
    cws_frame_parser_init(&p, CWS_CLIENT);
    cws_frame_event ev;
    assert_int_equal(cws_frame_parse(&p, wire, 2, &ev), 2);
    assert_true(ev.ready);
    assert_int_equal(ev.flags, CWS_FRAME_START);
    assert_int_equal(ev.len, 0);
    assert_int_equal(ev.hdr->len, 3);
    assert_int_equal(cws_frame_parse(&p, wire + 2, 1, &ev), 1);
    assert_int_equal(ev.flags, 0);
    assert_int_equal(ev.offset, 0);
    assert_int_equal(cws_frame_parse(&p, wire + 3, 2, &ev), 2);
    assert_int_equal(ev.flags, CWS_FRAME_END);
    assert_int_equal(ev.offset, 1);
    assert_memory_equal(ev.data, "yz", 2);
}

/* A masked payload unmasks right across chunks at every key phase. */
static void test_mask_across_chunks(void **state) {
    (void)state;
    enum { N = 37 };
    uint8_t wire[6 + N], plain[N];
    for (int i = 0; i < N; i++) plain[i] = (uint8_t)(i * 13 + 1);
    cws_frame_header h = make_hdr(1, CWS_OP_BINARY, N, hello_key);
    size_t hl = cws_frame_header_encode(wire, &h);
    cws_mask_copy(wire + hl, plain, N, hello_key, 0);
    frames f;
    parse_every_split(CWS_SERVER, wire, hl + N, &f);
    assert_int_equal(f.count, 1);
    assert_memory_equal(f.payload[0], plain, N);
    frames_free(&f);
}

/* Each broken rule fails, at every split, and the failure sticks. */
static void assert_rejected(int role, const uint8_t *wire, size_t len) {
    frames f;
    parse_every_split(role, wire, len, &f);
    assert_int_equal(f.err, CWS_ERR_PROTOCOL);
    frames_free(&f);
}

static void test_rejects(void **state) {
    (void)state;
    /* 64-bit length with the top bit set (§5.2). */
    const uint8_t top[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1};
    assert_rejected(CWS_CLIENT, top, sizeof top);
    /* RSV1, RSV2, RSV3 without an extension. */
    for (int r = 0; r < 3; r++) {
        uint8_t w[] = {(uint8_t)(0x81 | (0x10 << r)), 0x00};
        assert_rejected(CWS_CLIENT, w, sizeof w);
    }
    /* Reserved opcodes 0x3-0x7 and 0xB-0xF. */
    for (int op = 0; op < 16; op++) {
        if (op <= 2 || (op >= 8 && op <= 0xA)) continue;
        uint8_t w[] = {(uint8_t)(0x80 | op), 0x00};
        assert_rejected(CWS_CLIENT, w, sizeof w);
    }
    /* Control frames: 126 bytes, 64-bit length, or FIN=0 (§5.5). */
    const uint8_t ping126[] = {0x89, 0x7E, 0x00, 0x7E};
    assert_rejected(CWS_CLIENT, ping126, sizeof ping126);
    const uint8_t close127[] = {0x88, 0x7F, 0, 0, 0, 0, 0, 0, 0, 2};
    assert_rejected(CWS_CLIENT, close127, sizeof close127);
    const uint8_t ping_nofin[] = {0x09, 0x00};
    assert_rejected(CWS_CLIENT, ping_nofin, sizeof ping_nofin);
    /* Masking direction (§5.1). */
    const uint8_t unmasked[] = {0x81, 0x01, 'a'};
    assert_rejected(CWS_SERVER, unmasked, sizeof unmasked);
    const uint8_t masked[] = {0x81, 0x81, 1, 2, 3, 4, 'a'};
    assert_rejected(CWS_CLIENT, masked, sizeof masked);
    /* A good frame before a bad one still comes out first. */
    const uint8_t good_bad[] = {0x81, 0x01, 'a', 0x83, 0x00};
    frames f;
    parse_every_split(CWS_CLIENT, good_bad, sizeof good_bad, &f);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.err, CWS_ERR_PROTOCOL);
    frames_free(&f);
}

/* The rules that the first two bytes decide fail before the rest of the
 * header is there. */
static void test_rejects_early(void **state) {
    (void)state;
    cws_frame_parser p;
    cws_frame_event ev;
    uint8_t w[] = {0x89, 0x7F};
    cws_frame_parser_init(&p, CWS_CLIENT);
    assert_int_equal(cws_frame_parse(&p, w, 1, &ev), 1);
    assert_int_equal(cws_frame_parse(&p, w + 1, 1, &ev), CWS_ERR_PROTOCOL);
    assert_non_null(strstr(p.error, "125"));
}

/* An extension that negotiated RSV1 lets it through. */
static void test_allowed_rsv(void **state) {
    (void)state;
    uint8_t w[] = {0xC1, 0x00};
    cws_frame_parser p;
    cws_frame_event ev;
    cws_frame_parser_init(&p, CWS_CLIENT);
    p.allowed_rsv = 4;
    assert_int_equal(cws_frame_parse(&p, w, 2, &ev), 2);
    assert_int_equal(ev.hdr->rsv, 4);
    cws_frame_parser_init(&p, CWS_CLIENT);
    assert_int_equal(cws_frame_parse(&p, w, 2, &ev), CWS_ERR_PROTOCOL);
}

/* A huge frame is delivered in chunks; no memory grows with its size. */
static void test_huge_frame_header(void **state) {
    (void)state;
    uint8_t w[10 + 100] = {0x82, 0x7F, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
    cws_frame_parser p;
    cws_frame_event ev;
    cws_frame_parser_init(&p, CWS_CLIENT);
    assert_int_equal(cws_frame_parse(&p, w, sizeof w, &ev), sizeof w);
    assert_int_equal(ev.hdr->len, (uint64_t)1 << 32);
    assert_int_equal(ev.len, 100);
    assert_int_equal(ev.flags, CWS_FRAME_START);
    assert_int_equal(cws_frame_parse(&p, w, 50, &ev), 50);
    assert_int_equal(ev.offset, 100);
    assert_int_equal(p.offset, 150);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_unmasked_hello), cmocka_unit_test(test_rfc_masked_hello),
        cmocka_unit_test(test_rfc_fragmented),     cmocka_unit_test(test_rfc_ping_pong),
        cmocka_unit_test(test_rfc_long_binary),    cmocka_unit_test(test_encode_lengths),
        cmocka_unit_test(test_one_call_per_frame), cmocka_unit_test(test_start_before_payload),
        cmocka_unit_test(test_mask_across_chunks), cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_rejects_early),      cmocka_unit_test(test_allowed_rsv),
        cmocka_unit_test(test_huge_frame_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
