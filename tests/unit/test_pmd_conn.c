/* permessage-deflate on cws_conn (RFC 7692 §6, §7.2): the §7.2.3 examples
 * byte for byte in both directions, round trips between two connections
 * for every window and takeover combination in both receive modes,
 * fragmented compressed messages, zlib as an independent peer, and the
 * hostile cases: a decompression bomb stops at max_message_size, corrupt
 * data is 1007, RSV1 where it may not be is 1002. Seeded randomness:
 * CWS_SEED=n replays a run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cws.h"

static uint32_t seed = 1;
static uint32_t rnd(void) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

/* ------------------------------------------------------------ an endpoint */

typedef struct ep {
    cws_conn *c;
    cws_conn_config cfg;
    uint8_t *msg;       /* the last message, whole */
    size_t len, cap;
    int op, nmsg, closed, close_code;
    size_t peak;        /* allocator: most bytes held at once */
    size_t held;
} ep;

/* A counting allocator: what the connection holds, and its peak. */
typedef struct blk {
    size_t n;
    max_align_t pad[];
} blk;

static void *count_alloc(void *user, void *ptr, size_t size) {
    ep *e = user;
    blk *b = ptr ? (blk *)ptr - 1 : NULL;
    if (b) e->held -= b->n;
    if (size == 0) {
        free(b);
        return NULL;
    }
    blk *nb = realloc(b, sizeof *nb + size);
    if (!nb) {
        if (b) e->held += b->n;
        return NULL;
    }
    nb->n = size;
    e->held += size;
    if (e->held > e->peak) e->peak = e->held;
    return nb + 1;
}

static void ep_store(ep *e, const uint8_t *d, size_t n) {
    if (e->len + n > e->cap) {
        e->cap = (e->len + n) * 2 + 64;
        e->msg = realloc(e->msg, e->cap);
        assert_non_null(e->msg);
    }
    if (n) memcpy(e->msg + e->len, d, n);
    e->len += n;
}

static void on_message(cws_conn *c, void *u, int op, const uint8_t *d, size_t n) {
    (void)c;
    ep *e = u;
    e->len = 0;
    ep_store(e, d, n);
    e->op = op;
    e->nmsg++;
}

static void on_begin(cws_conn *c, void *u, int op) {
    (void)c;
    ep *e = u;
    e->len = 0;
    e->op = op;
}

static void on_data(cws_conn *c, void *u, const uint8_t *d, size_t n) {
    (void)c;
    ep_store(u, d, n);
}

static void on_end(cws_conn *c, void *u) {
    (void)c;
    ((ep *)u)->nmsg++;
}

static void on_close(cws_conn *c, void *u, int code, const char *r, size_t n) {
    (void)c;
    (void)r;
    (void)n;
    ep *e = u;
    e->closed++;
    e->close_code = code;
}

static void ep_init(ep *e, int role, int stream, const cws_deflate_params *p) {
    memset(e, 0, sizeof *e);
    e->cfg.role = role;
    e->cfg.receive = stream ? CWS_RECEIVE_STREAM : CWS_RECEIVE_MESSAGES;
    e->cfg.cb.on_message = on_message;
    e->cfg.cb.on_message_begin = on_begin;
    e->cfg.cb.on_message_data = on_data;
    e->cfg.cb.on_message_end = on_end;
    e->cfg.cb.on_close = on_close;
    e->cfg.user = e;
    e->cfg.alloc.fn = count_alloc;
    e->cfg.alloc.user = e;
    e->cfg.deflate.threshold = CWS_DISABLED; /* compress every message */
    e->c = cws_conn_new(&e->cfg, NULL);
    assert_non_null(e->c);
    if (p) assert_int_equal(cws_conn_set_deflate(e->c, p), CWS_OK);
}

static void ep_free(ep *e) {
    cws_conn_free(e->c);
    assert_int_equal(e->held, 0); /* nothing leaked */
    free(e->msg);
}

/* Moves everything a has queued into b. */
static ptrdiff_t pump(ep *a, ep *b) {
    const uint8_t *d;
    size_t n = cws_conn_output(a->c, &d);
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n) memcpy(copy, d, n);
    cws_conn_consume(a->c, n);
    ptrdiff_t r = cws_conn_recv(b->c, copy, n);
    free(copy);
    return r;
}

/* What a has queued, as bytes (then dropped). */
static size_t take(ep *a, uint8_t *out, size_t cap) {
    const uint8_t *d;
    size_t n = cws_conn_output(a->c, &d);
    assert_true(n <= cap);
    if (n) memcpy(out, d, n);
    cws_conn_consume(a->c, n);
    return n;
}

static cws_deflate_params params(int sbits, int cbits, int sreset, int creset) {
    cws_deflate_params p;
    memset(&p, 0, sizeof p);
    p.enabled = 1;
    p.server_max_window_bits = (uint8_t)sbits;
    p.client_max_window_bits = (uint8_t)cbits;
    p.server_no_context_takeover = (uint8_t)sreset;
    p.client_no_context_takeover = (uint8_t)creset;
    return p;
}

static ptrdiff_t feed(ep *e, const uint8_t *bytes, size_t n) {
    uint8_t *copy = malloc(n);
    memcpy(copy, bytes, n);
    ptrdiff_t r = cws_conn_recv(e->c, copy, n);
    free(copy);
    return r;
}

/* ------------------------------------------------------------ RFC 7692 §7.2.3 */

static void test_rfc_examples_sent(void **state) {
    (void)state;
    cws_deflate_params p = params(15, 15, 0, 0);
    ep s;
    ep_init(&s, CWS_SERVER, 0, &p);
    uint8_t out[64];
    /* §7.2.3.1: one compressed block. */
    assert_int_equal(cws_conn_send(s.c, CWS_OP_TEXT, "Hello", 5), CWS_OK);
    static const uint8_t one[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    assert_int_equal(take(&s, out, sizeof out), sizeof one);
    assert_memory_equal(out, one, sizeof one);
    /* §7.2.3.2: the same message again, sharing the window. */
    assert_int_equal(cws_conn_send(s.c, CWS_OP_TEXT, "Hello", 5), CWS_OK);
    static const uint8_t shared[] = {0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
    assert_int_equal(take(&s, out, sizeof out), sizeof shared);
    assert_memory_equal(out, shared, sizeof shared);
    /* An uncompressed message in between does not touch the window: a
     * peer that saw all three reads the next one right. */
    assert_int_equal(cws_conn_send(s.c, CWS_OP_TEXT | CWS_SEND_UNCOMPRESSED, "Hello", 5), CWS_OK);
    static const uint8_t plain[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    assert_int_equal(take(&s, out, sizeof out), sizeof plain);
    assert_memory_equal(out, plain, sizeof plain);
    assert_int_equal(cws_conn_send(s.c, CWS_OP_TEXT, "Hello", 5), CWS_OK);
    ep c;
    ep_init(&c, CWS_CLIENT, 0, &p);
    assert_int_equal(feed(&c, one, sizeof one), (ptrdiff_t)sizeof one);
    assert_int_equal(feed(&c, shared, sizeof shared), (ptrdiff_t)sizeof shared);
    assert_int_equal(feed(&c, plain, sizeof plain), (ptrdiff_t)sizeof plain);
    assert_true(pump(&s, &c) > 0);
    assert_int_equal(c.nmsg, 4);
    assert_int_equal(c.len, 5);
    assert_memory_equal(c.msg, "Hello", 5);
    ep_free(&c);
    ep_free(&s);
    /* §7.2.3.2 without context takeover: the same bytes every time. */
    p = params(15, 15, 1, 0);
    ep_init(&s, CWS_SERVER, 0, &p);
    size_t idle = s.held; /* the conn and its small deflate state */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cws_conn_send(s.c, CWS_OP_TEXT, "Hello", 5), CWS_OK);
        assert_int_equal(take(&s, out, sizeof out), sizeof one);
        assert_memory_equal(out, one, sizeof one);
        assert_int_equal(s.held, idle); /* the deflater went with the message */
    }
    ep_free(&s);
}

static void test_rfc_examples_received(void **state) {
    (void)state;
    static const uint8_t one[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t frag[] = {0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t shared[] = {0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
    static const uint8_t stored[] = {0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t bfinal[] = {0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    static const uint8_t two[] = {0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
                                  0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    /* §7.2.3.6: an empty last fragment. */
    static const uint8_t empty_last[] = {0x41, 0x0b, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
                                         0x00, 0x00, 0xff, 0xff, 0x80, 0x01, 0x00};
    const struct {
        const uint8_t *b;
        size_t n;
    } cases[] = {{one, sizeof one},       {frag, sizeof frag}, {shared, sizeof shared}, {stored, sizeof stored},
                 {bfinal, sizeof bfinal}, {two, sizeof two},   {empty_last, sizeof empty_last}};
    cws_deflate_params p = params(15, 15, 0, 0);
    for (int stream = 0; stream < 2; stream++) {
        ep c;
        ep_init(&c, CWS_CLIENT, stream, &p);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* "shared" refers to the "Hello" of the message before it. */
            assert_int_equal(feed(&c, cases[i].b, cases[i].n), (ptrdiff_t)cases[i].n);
            assert_int_equal(c.nmsg, (int)i + 1);
            assert_int_equal(c.op, CWS_OP_TEXT);
            assert_int_equal(c.len, 5);
            assert_memory_equal(c.msg, "Hello", 5);
        }
        /* And every split of the fragmented example, byte by byte. */
        for (size_t i = 0; i < sizeof frag; i++) {
            uint8_t b = frag[i];
            assert_int_equal(cws_conn_recv(c.c, &b, 1), 1);
        }
        assert_memory_equal(c.msg, "Hello", 5);
        ep_free(&c);
    }
}

/* ------------------------------------------------------------ round trips */

static void fill(uint8_t *buf, size_t n, int kind) {
    static const char *words[] = {"message", "seq", "name", "alice", "bob", "text", "the", "chat", "{\"type\":",
                                  "hello", "world", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac", " ", ", "};
    size_t i = 0;
    while (i < n) {
        if (kind == 2) { /* incompressible */
            buf[i++] = (uint8_t)rnd();
            continue;
        }
        const char *w = words[rnd() % (sizeof words / sizeof words[0])];
        size_t k = strlen(w);
        if (i + k > n) {
            buf[i++] = 'x';
            continue;
        }
        memcpy(buf + i, w, k);
        i += k;
    }
}

static void roundtrip(const cws_deflate_params *p, int stream, int fragmented) {
    ep s, c;
    ep_init(&s, CWS_SERVER, stream, p);
    ep_init(&c, CWS_CLIENT, !stream, p);
    static uint8_t buf[200000];
    for (int i = 0; i < 12; i++) {
        size_t n = i < 3 ? (size_t)i : rnd() % (i < 8 ? 3000u : (uint32_t)sizeof buf);
        int kind = (int)(rnd() % 3);
        fill(buf, n, kind);
        int op = kind == 2 ? CWS_OP_BINARY : CWS_OP_TEXT;
        for (int dir = 0; dir < 2; dir++) {
            ep *from = dir ? &c : &s, *to = dir ? &s : &c;
            if (fragmented && n > 10) {
                size_t cut = n / 3; /* text may be cut inside a character: sends check it as one stream */
                while (op == CWS_OP_TEXT && cut > 0 && (buf[cut] & 0xC0) == 0x80) cut--;
                assert_int_equal(cws_conn_send_fragment(from->c, op, buf, cut, 0), CWS_OK);
                assert_int_equal(cws_conn_ping(from->c, "p", 1), CWS_OK); /* between fragments */
                assert_int_equal(cws_conn_send_fragment(from->c, CWS_OP_CONT, buf + cut, n - cut, 1), CWS_OK);
            } else {
                assert_int_equal(cws_conn_send(from->c, op, buf, n), CWS_OK);
            }
            int before = to->nmsg;
            assert_true(pump(from, to) >= 0);
            assert_int_equal(to->nmsg, before + 1);
            assert_int_equal(to->op, op);
            assert_int_equal(to->len, n);
            if (n) assert_memory_equal(to->msg, buf, n);
            (void)pump(to, from); /* pongs */
        }
    }
    /* Without context takeover on a side, its codec state is freed after
     * each message: an idle connection holds only the small state. */
    if (p->server_no_context_takeover && p->client_no_context_takeover) {
        assert_true(s.held < 512);
        assert_true(c.held < 512);
    }
    ep_free(&s);
    ep_free(&c);
}

static void test_roundtrip_every_agreement(void **state) {
    (void)state;
    for (int bits = 8; bits <= 15; bits++)
        for (int reset = 0; reset < 4; reset++)
            for (int stream = 0; stream < 2; stream++) {
                cws_deflate_params p = params(bits, 23 - bits, reset & 1, reset >> 1);
                roundtrip(&p, stream, (bits + reset) & 1);
            }
}

/* ------------------------------------------------------------ zlib as the peer */

static size_t zlib_compress(z_stream *z, const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
    size_t got = cap - z->avail_out;
    assert_true(got >= 4 && !memcmp(out + got - 4, "\x00\x00\xff\xff", 4));
    return got - 4;
}

static void test_zlib_peer(void **state) {
    (void)state;
    cws_deflate_params p = params(15, 15, 0, 0);
    ep c;
    ep_init(&c, CWS_CLIENT, 0, &p);
    z_stream zd, zi;
    memset(&zd, 0, sizeof zd);
    memset(&zi, 0, sizeof zi);
    assert_int_equal(deflateInit2(&zd, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    assert_int_equal(inflateInit2(&zi, -15), Z_OK);
    static uint8_t msg[70000], z[80000], frame[80020], back[80000];
    for (int i = 0; i < 20; i++) {
        size_t n = rnd() % sizeof msg;
        fill(msg, n, i % 3 == 2 ? 2 : 0);
        /* zlib compresses, the server frames it; our client inflates. */
        size_t zn = zlib_compress(&zd, msg, n, z, sizeof z);
        cws_frame_header h;
        memset(&h, 0, sizeof h);
        h.fin = 1;
        h.rsv = 4;
        h.opcode = CWS_OP_BINARY;
        h.len = zn;
        size_t hl = cws_frame_header_encode(frame, &h);
        memcpy(frame + hl, z, zn);
        assert_int_equal(cws_conn_recv(c.c, frame, hl + zn), (ptrdiff_t)(hl + zn));
        assert_int_equal(c.len, n);
        if (n) assert_memory_equal(c.msg, msg, n);
        /* Our client compresses; zlib inflates the unmasked payload. */
        assert_int_equal(cws_conn_send(c.c, CWS_OP_BINARY, msg, n), CWS_OK);
        size_t fn = take(&c, frame, sizeof frame);
        /* It may come as several frames (RSV1 on the first): join them. */
        cws_frame_parser fp;
        cws_frame_parser_init(&fp, CWS_SERVER);
        fp.allowed_rsv = 4;
        size_t off = 0, zlen = 0;
        int frames = 0;
        while (off < fn) {
            cws_frame_event ev;
            ptrdiff_t used = cws_frame_parse(&fp, frame + off, fn - off, &ev);
            assert_true(used > 0);
            off += (size_t)used;
            if (!ev.ready) continue;
            if (ev.flags & CWS_FRAME_START) assert_int_equal(ev.hdr->rsv, frames++ == 0 ? 4 : 0);
            memcpy(z + zlen, ev.data, ev.len);
            zlen += ev.len;
        }
        memcpy(z + zlen, "\x00\x00\xff\xff", 4);
        zi.next_in = z;
        zi.avail_in = (uInt)(zlen + 4);
        zi.next_out = back;
        zi.avail_out = sizeof back;
        int zr = inflate(&zi, Z_SYNC_FLUSH);
        assert_true(zr == Z_OK || zr == Z_BUF_ERROR);
        assert_int_equal(sizeof back - zi.avail_out, n);
        if (n) assert_memory_equal(back, msg, n);
    }
    deflateEnd(&zd);
    inflateEnd(&zi);
    ep_free(&c);
}

/* ------------------------------------------------------------ hostile input */

/* 16 MiB of zeros compress to about 16 KiB: with a 1 MiB limit the
 * message fails with 1009 having inflated little more than the limit. */
static void test_decompression_bomb(void **state) {
    (void)state;
    size_t big = (size_t)16 << 20;
    uint8_t *zeros = calloc(1, big);
    uint8_t *z = malloc(big / 64);
    z_stream zd;
    memset(&zd, 0, sizeof zd);
    assert_int_equal(deflateInit2(&zd, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t zn = zlib_compress(&zd, zeros, big, z, big / 64);
    deflateEnd(&zd);
    for (int stream = 0; stream < 2; stream++) {
        cws_deflate_params p = params(15, 15, 0, 0);
        ep c;
        memset(&c, 0, sizeof c);
        ep_init(&c, CWS_CLIENT, stream, &p);
        cws_conn_free(c.c); /* again, with the limit */
        c.cfg.max_message_size = (size_t)1 << 20;
        c.c = cws_conn_new(&c.cfg, NULL);
        assert_int_equal(cws_conn_set_deflate(c.c, &p), CWS_OK);
        uint8_t *frame = malloc(zn + 14);
        cws_frame_header h;
        memset(&h, 0, sizeof h);
        h.fin = 1;
        h.rsv = 4;
        h.opcode = CWS_OP_BINARY;
        h.len = zn;
        size_t hl = cws_frame_header_encode(frame, &h);
        memcpy(frame + hl, z, zn);
        size_t peak0 = c.peak;
        assert_int_equal(cws_conn_recv(c.c, frame, hl + zn), CWS_ERR_TOO_BIG);
        assert_int_equal(c.close_code, CWS_CLOSE_TOO_BIG);
        /* What it held: the limit (reassembly) and the inflater, no more. */
        assert_true(c.peak - peak0 < ((size_t)1 << 20) * 2 + 64 * 1024);
        if (stream) assert_true(c.len <= (size_t)1 << 20); /* delivered before the limit */
        free(frame);
        ep_free(&c);
    }
    free(zeros);
    free(z);
}

static void expect_fail(const uint8_t *bytes, size_t n, int with_deflate, ptrdiff_t err, int code) {
    cws_deflate_params p = params(15, 15, 0, 0);
    ep c;
    ep_init(&c, CWS_CLIENT, 0, with_deflate ? &p : NULL);
    assert_int_equal(feed(&c, bytes, n), err);
    assert_int_equal(c.close_code, code);
    ep_free(&c);
}

static void test_hostile_frames(void **state) {
    (void)state;
    /* Corrupt DEFLATE data: block type 3. */
    static const uint8_t corrupt[] = {0xc1, 0x02, 0xff, 0xff};
    expect_fail(corrupt, sizeof corrupt, 1, CWS_ERR_DEFLATE, CWS_CLOSE_INVALID_DATA);
    /* RSV1 without the extension (RFC 6455 §5.2). */
    static const uint8_t one[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    expect_fail(one, sizeof one, 0, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR);
    /* RSV1 on a continuation frame (RFC 7692 §6.1). */
    static const uint8_t rsv_cont[] = {0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00};
    expect_fail(rsv_cont, sizeof rsv_cont, 1, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR);
    /* RSV1 on a control frame. */
    static const uint8_t rsv_ping[] = {0xc9, 0x00};
    expect_fail(rsv_ping, sizeof rsv_ping, 1, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR);
    /* RSV2 is still no one's. */
    static const uint8_t rsv2[] = {0xa1, 0x00};
    expect_fail(rsv2, sizeof rsv2, 1, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR);
    /* Compressed text that inflates to invalid UTF-8: 1007. */
    static const uint8_t badtext[] = {0xc1, 0x07, 0x00, 0x01, 0x00, 0xfe, 0xff, 0xff, 0x00};
    expect_fail(badtext, sizeof badtext, 1, CWS_ERR_UTF8, CWS_CLOSE_INVALID_DATA);
}

/* ------------------------------------------------------------ API rules */

static void test_threshold_and_api(void **state) {
    (void)state;
    cws_deflate_params p = params(15, 15, 0, 0);
    ep s;
    memset(&s, 0, sizeof s);
    ep_init(&s, CWS_SERVER, 0, NULL);
    cws_conn_free(s.c);
    s.cfg.deflate.threshold = 0; /* the default: 1024 */
    s.c = cws_conn_new(&s.cfg, NULL);
    assert_int_equal(cws_conn_deflate(s.c, NULL), 0);
    assert_int_equal(cws_conn_set_deflate(s.c, &p), CWS_OK);
    cws_deflate_params got;
    assert_int_equal(cws_conn_deflate(s.c, &got), 1);
    assert_int_equal(got.server_max_window_bits, 15);
    assert_int_equal(cws_conn_set_deflate(s.c, &p), CWS_ERR_STATE); /* once */
    uint8_t out[4096], msg[2000];
    memset(msg, 'a', sizeof msg);
    assert_int_equal(cws_conn_send(s.c, CWS_OP_BINARY, msg, 1023), CWS_OK);
    take(&s, out, sizeof out);
    assert_int_equal(out[0], 0x82); /* under the threshold: plain */
    assert_int_equal(cws_conn_send(s.c, CWS_OP_BINARY, msg, 1024), CWS_OK);
    size_t n = take(&s, out, sizeof out);
    assert_int_equal(out[0], 0xc2); /* compressed */
    assert_true(n < 100);
    assert_int_equal(cws_conn_send(s.c, CWS_OP_BINARY | CWS_SEND_UNCOMPRESSED, msg, 2000), CWS_OK);
    take(&s, out, sizeof out);
    assert_int_equal(out[0], 0x82);
    assert_int_equal(cws_conn_send(s.c, CWS_OP_BINARY | 0x200, msg, 10), CWS_ERR_INVALID);
    ep_free(&s);
    /* Bad agreements are refused; enabled 0 is a no-op. */
    ep_init(&s, CWS_SERVER, 0, NULL);
    cws_deflate_params bad = params(7, 15, 0, 0);
    assert_int_equal(cws_conn_set_deflate(s.c, &bad), CWS_ERR_INVALID);
    bad.enabled = 0;
    assert_int_equal(cws_conn_set_deflate(s.c, &bad), CWS_OK);
    assert_int_equal(cws_conn_deflate(s.c, NULL), 0);
    assert_int_equal(cws_conn_set_deflate(NULL, &p), CWS_ERR_INVALID);
    ep_free(&s);
}

/* The handshake agrees, the connections use it: offer from a client,
 * select on a server, the 101 checked by the client, the same params on
 * both conns. */
static void test_handshake_to_conn(void **state) {
    (void)state;
    cws_deflate_config ccfg;
    memset(&ccfg, 0, sizeof ccfg);
    ccfg.enable = 1;
    ccfg.client_max_window_bits = 10;
    cws_deflate_config scfg;
    memset(&scfg, 0, sizeof scfg);
    scfg.enable = 1;
    scfg.server_no_context_takeover = 1;
    cws_hs_client hc;
    cws_hs_client_opts co;
    memset(&co, 0, sizeof co);
    co.host = "example.com";
    co.deflate = &ccfg;
    char req[1024], resp[1024];
    ptrdiff_t n = cws_hs_client_request(&hc, &co, req, sizeof req - 1);
    assert_true(n > 0);
    req[n] = '\0';
    assert_non_null(strstr(req, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10"));
    cws_hs_request r;
    memset(&r, 0, sizeof r);
    cws_hs_server_opts so;
    memset(&so, 0, sizeof so);
    so.deflate = &scfg;
    assert_int_equal(cws_hs_server_parse(&r, &so, req, (size_t)n), n);
    assert_int_equal(r.deflate.enabled, 1);
    ptrdiff_t m = cws_hs_accept(&r, NULL, resp, sizeof resp - 1);
    assert_true(m > 0);
    resp[m] = '\0';
    assert_non_null(strstr(resp, "Sec-WebSocket-Extensions: permessage-deflate"));
    assert_int_equal(cws_hs_client_parse(&hc, resp, (size_t)m), m);
    assert_int_equal(hc.deflate.enabled, 1);
    assert_memory_equal(&hc.deflate, &r.deflate, sizeof r.deflate);
    assert_int_equal(hc.deflate.client_max_window_bits, 10);
    assert_int_equal(hc.deflate.server_no_context_takeover, 1);
    roundtrip(&r.deflate, 0, 0);
    /* A server without the config declines: no header, plain conns. */
    memset(&r, 0, sizeof r);
    so.deflate = NULL;
    assert_int_equal(cws_hs_server_parse(&r, &so, req, (size_t)n), n);
    assert_int_equal(r.deflate.enabled, 0);
    m = cws_hs_accept(&r, NULL, resp, sizeof resp - 1);
    assert_true(m > 0);
    resp[m] = '\0';
    assert_null(strstr(resp, "Extensions"));
    memset(&hc.http, 0, sizeof hc.http); /* a new response: parse afresh */
    assert_int_equal(cws_hs_client_parse(&hc, resp, (size_t)m), m);
    assert_int_equal(hc.deflate.enabled, 0);
}

/* Edge cases: empty messages (NULL with length 0 is allowed), a message
 * at the limit whose compressed form is a little longer, and an RSV1
 * message with no payload at all. */
static void test_edges(void **state) {
    (void)state;
    cws_deflate_params p = params(15, 15, 0, 0);
    ep s, c;
    ep_init(&s, CWS_SERVER, 0, &p);
    ep_init(&c, CWS_CLIENT, 1, &p);
    assert_int_equal(cws_conn_send(s.c, CWS_OP_BINARY, NULL, 0), CWS_OK);
    assert_true(pump(&s, &c) > 0);
    assert_int_equal(c.nmsg, 1);
    assert_int_equal(c.len, 0);
    assert_int_equal(cws_conn_send_fragment(s.c, CWS_OP_TEXT, "Hel", 3, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(s.c, CWS_OP_CONT, NULL, 0, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(s.c, CWS_OP_CONT, "lo", 2, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(s.c, CWS_OP_CONT, NULL, 0, 1), CWS_OK);
    assert_true(pump(&s, &c) > 0);
    assert_int_equal(c.nmsg, 2);
    assert_int_equal(c.len, 5);
    assert_memory_equal(c.msg, "Hello", 5);
    ep_free(&s);
    ep_free(&c);
    /* 1000 random bytes with a 1000-byte limit: the frame is a little
     * longer than the message, and still accepted. */
    ep_init(&s, CWS_SERVER, 0, &p);
    memset(&c, 0, sizeof c);
    ep_init(&c, CWS_CLIENT, 0, &p);
    cws_conn_free(c.c);
    c.cfg.max_message_size = 1000;
    c.c = cws_conn_new(&c.cfg, NULL);
    assert_int_equal(cws_conn_set_deflate(c.c, &p), CWS_OK);
    uint8_t rnd_msg[1000];
    for (size_t i = 0; i < sizeof rnd_msg; i++) rnd_msg[i] = (uint8_t)rnd();
    assert_int_equal(cws_conn_send(s.c, CWS_OP_BINARY, rnd_msg, sizeof rnd_msg), CWS_OK);
    assert_true(cws_conn_buffered_amount(s.c) > sizeof rnd_msg + 4); /* it grew */
    assert_true(pump(&s, &c) > 0);
    assert_int_equal(c.nmsg, 1);
    assert_int_equal(c.len, sizeof rnd_msg);
    assert_memory_equal(c.msg, rnd_msg, sizeof rnd_msg);
    /* One byte more is over the limit, whatever the wire says. */
    uint8_t more[1001] = {0};
    assert_int_equal(cws_conn_send(s.c, CWS_OP_BINARY, more, sizeof more), CWS_OK);
    assert_int_equal(pump(&s, &c), CWS_ERR_TOO_BIG);
    ep_free(&s);
    ep_free(&c);
    /* An RSV1 message with no payload is an empty message, and the next
     * one (sharing the window) still inflates. */
    static const uint8_t empty[] = {0xc1, 0x00};
    static const uint8_t one[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t shared[] = {0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
    ep_init(&c, CWS_CLIENT, 0, &p);
    assert_int_equal(feed(&c, one, sizeof one), (ptrdiff_t)sizeof one);
    assert_int_equal(feed(&c, empty, sizeof empty), (ptrdiff_t)sizeof empty);
    assert_int_equal(c.len, 0);
    assert_int_equal(feed(&c, shared, sizeof shared), (ptrdiff_t)sizeof shared);
    assert_int_equal(c.nmsg, 3);
    assert_memory_equal(c.msg, "Hello", 5);
    ep_free(&c);
}

int main(void) {
    const char *s = getenv("CWS_SEED");
    seed = s ? (uint32_t)strtoul(s, NULL, 10) : 0x5eed1234u;
    if (!seed) seed = 1;
    printf("CWS_SEED=%u\n", seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples_sent),
        cmocka_unit_test(test_rfc_examples_received),
        cmocka_unit_test(test_roundtrip_every_agreement),
        cmocka_unit_test(test_zlib_peer),
        cmocka_unit_test(test_decompression_bomb),
        cmocka_unit_test(test_hostile_frames),
        cmocka_unit_test(test_threshold_and_api),
        cmocka_unit_test(test_handshake_to_conn),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
