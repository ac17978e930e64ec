/* cws_conn (RFC 6455 §5-§7): every rule accepted and rejected, asserting
 * the callbacks and the exact frames sent back (the output is parsed), in
 * both receive modes, with the input whole, split in two at every byte,
 * byte by byte, and with every callback pausing recv. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/internal.h"

/* ------------------------------------------------------------ text logs */

typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void text_put(text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
}

static void text_puts(text *t, const char *z) { text_put(t, z, strlen(z)); }

static void text_printf(text *t, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    text_put(t, buf, (size_t)n);
}

/* Printable bytes as they are, others as \xNN. */
static void text_bytes(text *t, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\' && p[i] != ';') text_put(t, (const char *)p + i, 1);
        else text_printf(t, "\\x%02x", p[i]);
    }
}

static const char *text_z(const text *t) { return t->s ? t->s : ""; }

/* ------------------------------------------------------------ wire builder */

typedef struct wire {
    uint8_t b[4096];
    size_t len;
} wire;

static uint8_t wire_key_seed = 1;

/* Appends a frame: b0 is FIN|RSV|opcode; masked per the sender's role. */
static void wire_frame(wire *w, uint8_t b0, int masked, uint64_t announce, const void *payload, size_t n) {
    cws_frame_header h;
    memset(&h, 0, sizeof h);
    h.fin = (uint8_t)(b0 >> 7);
    h.rsv = (uint8_t)((b0 >> 4) & 7);
    h.opcode = (uint8_t)(b0 & 15);
    h.len = announce;
    if (masked) {
        h.masked = 1;
        for (int i = 0; i < 4; i++) h.mask[i] = (uint8_t)(wire_key_seed++ * 37 + i);
    }
    w->len += cws_frame_header_encode(w->b + w->len, &h);
    assert_true(w->len + n <= sizeof w->b);
    if (n) {
        if (masked) cws_mask_copy(w->b + w->len, payload, n, h.mask, 0);
        else memcpy(w->b + w->len, payload, n);
    }
    w->len += n;
}

/* ------------------------------------------------------------ a peer */

typedef struct peer {
    cws_conn *c;
    text log;
    text cur; /* the streamed message being received */
    int cur_op, in_msg;
    int closes;
    int pause_all; /* every callback returns 1 */
    int paused;    /* a callback returned 1 since last checked */
    int echo;      /* send each message back */
    int close_on_message;
    int recv_reentry; /* result of calling recv from a callback */
} peer;

static int pause_ret(peer *p) {
    if (p->pause_all) p->paused = 1;
    return p->pause_all;
}

static void log_msg(peer *p, int op, const uint8_t *d, size_t n) {
    text_puts(&p->log, op == CWS_OP_TEXT ? "T:" : "B:");
    text_bytes(&p->log, d, n);
    text_puts(&p->log, ";");
    if (p->echo) assert_int_equal(cws_conn_send(p->c, op, d, n), CWS_OK);
    if (p->close_on_message) {
        assert_int_equal(cws_conn_close(p->c, 1000, "done", 4), CWS_OK);
        p->close_on_message = 0;
    }
}

static void cb_begin(cws_conn *c, void *u, int op) {
    peer *p = u;
    assert_ptr_equal(c, p->c);
    assert_false(p->in_msg);
    assert_true(op == CWS_OP_TEXT || op == CWS_OP_BINARY);
    p->in_msg = 1;
    p->cur_op = op;
    p->cur.len = 0;
    if (pause_ret(p)) cws_conn_pause(c);
}

static void cb_data(cws_conn *c, void *u, const uint8_t *d, size_t n) {
    peer *p = u;
    (void)c;
    assert_true(p->in_msg);
    assert_true(n > 0);
    text_put(&p->cur, (const char *)d, n);
    p->recv_reentry = (int)cws_conn_recv(c, NULL, 0);
    if (pause_ret(p)) cws_conn_pause(c);
}

static void cb_end(cws_conn *c, void *u) {
    peer *p = u;
    (void)c;
    assert_true(p->in_msg);
    p->in_msg = 0;
    log_msg(p, p->cur_op, (const uint8_t *)text_z(&p->cur), p->cur.len);
    if (pause_ret(p)) cws_conn_pause(c);
}

static void cb_message(cws_conn *c, void *u, int op, const uint8_t *d, size_t n) {
    peer *p = u;
    (void)c;
    assert_non_null(d);
    log_msg(p, op, d, n);
    if (pause_ret(p)) cws_conn_pause(c);
}

static void cb_ping(cws_conn *c, void *u, const uint8_t *d, size_t n) {
    peer *p = u;
    (void)c;
    text_puts(&p->log, "ping:");
    text_bytes(&p->log, d, n);
    text_puts(&p->log, ";");
    if (pause_ret(p)) cws_conn_pause(c);
}

static void cb_pong(cws_conn *c, void *u, const uint8_t *d, size_t n) {
    peer *p = u;
    (void)c;
    text_puts(&p->log, "pong:");
    text_bytes(&p->log, d, n);
    text_puts(&p->log, ";");
    if (pause_ret(p)) cws_conn_pause(c);
}

static void cb_close(cws_conn *c, void *u, int code, const char *reason, size_t n) {
    peer *p = u;
    p->closes++;
    assert_non_null(reason);
    if (cws_conn_error(c)) {
        text_printf(&p->log, "fail:%d;", code);
    } else {
        text_printf(&p->log, "close:%d:", code);
        text_bytes(&p->log, (const uint8_t *)reason, n);
        text_puts(&p->log, ";");
    }
}

static cws_conn_config peer_config(peer *p, int role, int whole) {
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = role;
    cfg.user = p;
    if (whole) cfg.cb.on_message = cb_message;
    cfg.receive = whole ? CWS_RECEIVE_MESSAGES : CWS_RECEIVE_STREAM;
    cfg.cb.on_message_begin = cb_begin;
    cfg.cb.on_message_data = cb_data;
    cfg.cb.on_message_end = cb_end;
    cfg.cb.on_ping = cb_ping;
    cfg.cb.on_pong = cb_pong;
    cfg.cb.on_close = cb_close;
    return cfg;
}

static void peer_free(peer *p) {
    cws_conn_free(p->c);
    free(p->log.s);
    free(p->cur.s);
    memset(p, 0, sizeof *p);
}

/* Parses the bytes c sent (as its peer would) into a log such as
 * "T1:Hello;pong:x;close:1000;"; drains the output. */
static void drain_output(cws_conn *c, text *out) {
    const uint8_t *d;
    size_t n = cws_conn_output(c, &d);
    if (!n) return;
    uint8_t *copy = malloc(n);
    memcpy(copy, d, n);
    cws_conn_consume(c, n);
    assert_int_equal(cws_conn_buffered_amount(c), 0);
    cws_frame_parser fp;
    cws_frame_parser_init(&fp, cws_conn_role(c) == CWS_SERVER ? CWS_CLIENT : CWS_SERVER);
    size_t pos = 0;
    text payload = {0};
    while (pos < n) {
        cws_frame_event ev;
        ptrdiff_t r = cws_frame_parse(&fp, copy + pos, n - pos, &ev);
        assert_true(r > 0);
        pos += (size_t)r;
        if (!ev.ready) break;
        if (ev.flags & CWS_FRAME_START) payload.len = 0;
        text_put(&payload, (const char *)ev.data, ev.len);
        if (!(ev.flags & CWS_FRAME_END)) continue;
        const uint8_t *pl = (const uint8_t *)text_z(&payload);
        switch (ev.hdr->opcode) {
        case CWS_OP_CLOSE:
            if (payload.len >= 2) text_printf(out, "close:%d;", cws__load_be16(pl));
            else text_puts(out, "close;");
            break;
        case CWS_OP_PING:
        case CWS_OP_PONG:
            text_puts(out, ev.hdr->opcode == CWS_OP_PING ? "ping:" : "pong:");
            text_bytes(out, pl, payload.len);
            text_puts(out, ";");
            break;
        default:
            text_printf(out, "%c%d:", "CTB"[ev.hdr->opcode], ev.hdr->fin);
            text_bytes(out, pl, payload.len);
            text_puts(out, ";");
        }
    }
    assert_int_equal(pos, n);
    free(payload.s);
    free(copy);
}

/* ------------------------------------------------------------ the table */

typedef struct conn_case {
    const char *name;
    int role;
    wire w;
    size_t max_frame, max_message, max_fragments;
    int no_auto_pong;
    const char *log; /* expected callbacks */
    const char *out; /* expected frames sent back */
    int err;         /* expected recv error, 0 if none */
    int done;        /* expected cws_conn_done() */
} conn_case;

typedef struct run_result {
    text log, out;
    int err, done, closes;
} run_result;

/* Feeds cs->w in pieces ending at cuts; pause: every callback pauses. */
static void run_case(const conn_case *cs, int whole, const size_t *cuts, size_t ncuts, int pause,
                     run_result *res) {
    peer p;
    memset(&p, 0, sizeof p);
    memset(res, 0, sizeof *res);
    cws_conn_config cfg = peer_config(&p, cs->role, whole);
    cfg.max_frame_size = cs->max_frame;
    cfg.max_message_size = cs->max_message;
    cfg.max_fragments = cs->max_fragments;
    cfg.no_auto_pong = cs->no_auto_pong;
    p.c = cws_conn_new(&cfg, NULL);
    assert_non_null(p.c);
    p.pause_all = pause;
    uint8_t *buf = malloc(cs->w.len + 1);
    memcpy(buf, cs->w.b, cs->w.len);
    size_t start = 0;
    for (size_t k = 0; k <= ncuts && !res->err; k++) {
        size_t end = k < ncuts ? cuts[k] : cs->w.len;
        size_t pos = start;
        int guard = 0;
        do {
            p.paused = 0;
            ptrdiff_t r = cws_conn_recv(p.c, end > pos ? buf + pos : NULL, end - pos);
            if (r < 0) {
                res->err = (int)r;
                break;
            }
            assert_true((size_t)r <= end - pos);
            if (!pause) assert_int_equal(r, end - pos);
            pos += (size_t)r;
            assert_true(++guard < 10000);
        } while (pos < end || p.paused);
        start = end;
    }
    drain_output(p.c, &res->out);
    res->done = cws_conn_done(p.c);
    res->closes = p.closes;
    assert_int_equal(p.recv_reentry == 0 || p.recv_reentry == CWS_ERR_STATE, 1);
    if (res->err) {
        /* Failed: stays failed, says why, sends nothing more. */
        assert_int_equal(cws_conn_recv(p.c, buf, cs->w.len), res->err);
        assert_non_null(cws_conn_error(p.c));
        assert_int_equal(cws_conn_state(p.c), CWS_STATE_CLOSED);
        assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, "x", 1), CWS_ERR_CLOSED);
        assert_int_equal(cws_conn_ping(p.c, "x", 1), CWS_ERR_CLOSED);
        assert_int_equal(cws_conn_output(p.c, NULL), 0);
    }
    res->log = p.log;
    p.log.s = NULL;
    peer_free(&p);
    free(buf);
}

static void check_result(const conn_case *cs, const run_result *r, const char *how) {
    if (strcmp(text_z(&r->log), cs->log) || strcmp(text_z(&r->out), cs->out) || r->err != cs->err ||
        r->done != cs->done) {
        print_error("case %s (%s):\n  log %s\n  want %s\n  out %s\n  want %s\n  err %d want %d, done %d want %d\n",
                    cs->name, how, text_z(&r->log), cs->log, text_z(&r->out), cs->out, r->err, cs->err,
                    r->done, cs->done);
        fail();
    }
    assert_true(r->closes <= 1);
    assert_int_equal(r->closes, cs->done);
}

static void free_result(run_result *r) {
    free(r->log.s);
    free(r->out.s);
}

/* Both receive modes; whole, every split, byte by byte, paused. */
static void run_everywhere(const conn_case *cs) {
    size_t n = cs->w.len;
    size_t *bytes = malloc((n + 1) * sizeof *bytes);
    for (size_t i = 0; i < n; i++) bytes[i] = i + 1;
    for (int whole = 0; whole < 2; whole++) {
        run_result r;
        run_case(cs, whole, NULL, 0, 0, &r);
        check_result(cs, &r, whole ? "whole mode" : "streamed");
        free_result(&r);
        for (size_t cut = 0; cut <= n; cut++) {
            run_case(cs, whole, &cut, 1, 0, &r);
            check_result(cs, &r, "split in two");
            free_result(&r);
        }
        run_case(cs, whole, bytes, n, 0, &r);
        check_result(cs, &r, "byte by byte");
        free_result(&r);
        run_case(cs, whole, NULL, 0, 1, &r);
        check_result(cs, &r, "paused");
        free_result(&r);
        run_case(cs, whole, bytes, n, 1, &r);
        check_result(cs, &r, "paused, byte by byte");
        free_result(&r);
    }
    free(bytes);
}

/* Frames as the peer of role would send them. */
#define F(cs, b0, s) wire_frame(&(cs)->w, (b0), (cs)->role == CWS_SERVER, sizeof(s) - 1, (s), sizeof(s) - 1)

static conn_case make_case(const char *name, int role, const char *log, const char *out, int err) {
    conn_case cs;
    memset(&cs, 0, sizeof cs);
    cs.name = name;
    cs.role = role;
    cs.log = log;
    cs.out = out;
    cs.err = err;
    cs.done = err != 0;
    return cs;
}

static void test_messages(void **state) {
    (void)state;
    conn_case cs = make_case("text", CWS_SERVER, "T:Hello;", "", 0);
    F(&cs, 0x81, "Hello");
    run_everywhere(&cs);

    cs = make_case("binary in three fragments", CWS_SERVER, "B:ab\\x00def;", "", 0);
    F(&cs, 0x02, "ab");
    F(&cs, 0x00, "\0d");
    F(&cs, 0x80, "ef");
    run_everywhere(&cs);

    cs = make_case("control frames between fragments", CWS_SERVER, "ping:p;pong:q;T:Hello;", "pong:p;", 0);
    F(&cs, 0x01, "Hel");
    F(&cs, 0x89, "p");
    F(&cs, 0x8A, "q");
    F(&cs, 0x80, "lo");
    run_everywhere(&cs);

    cs = make_case("empty frames", CWS_SERVER, "T:;B:;ping:;pong:;T:x;", "pong:;", 0);
    F(&cs, 0x81, "");
    F(&cs, 0x82, "");
    F(&cs, 0x89, "");
    F(&cs, 0x8A, "");
    F(&cs, 0x01, "");
    F(&cs, 0x00, "");
    F(&cs, 0x80, "x");
    run_everywhere(&cs);

    cs = make_case("UTF-8 sequence split across fragments", CWS_SERVER, "T:\\xe2\\x82\\xac;", "", 0);
    F(&cs, 0x01, "\xe2");
    F(&cs, 0x00, "\x82");
    F(&cs, 0x80, "\xac");
    run_everywhere(&cs);

    cs = make_case("client receives unmasked frames", CWS_CLIENT, "T:Hi;ping:x;", "pong:x;", 0);
    F(&cs, 0x81, "Hi");
    F(&cs, 0x89, "x");
    run_everywhere(&cs);

    static const char p125[] =
        "0123456789012345678901234567890123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789012345678901234";
    assert_int_equal(sizeof p125 - 1, 125);
    cs = make_case("125-byte ping", CWS_SERVER, "", "", 0);
    char want_log[200], want_out[200];
    snprintf(want_log, sizeof want_log, "ping:%s;", p125);
    snprintf(want_out, sizeof want_out, "pong:%s;", p125);
    cs.log = want_log;
    cs.out = want_out;
    F(&cs, 0x89, p125);
    run_everywhere(&cs);

    cs = make_case("no_auto_pong", CWS_SERVER, "ping:x;", "", 0);
    cs.no_auto_pong = 1;
    F(&cs, 0x89, "x");
    run_everywhere(&cs);
}

static void test_close_handshake_received(void **state) {
    (void)state;
    conn_case cs = make_case("close 1000 with reason", CWS_SERVER, "close:1000:bye;", "close:1000;", 0);
    cs.done = 1;
    F(&cs, 0x88, "\x03\xe8" "bye");
    run_everywhere(&cs);

    cs = make_case("close without code", CWS_SERVER, "close:1005:;", "close;", 0);
    cs.done = 1;
    F(&cs, 0x88, "");
    run_everywhere(&cs);

    cs = make_case("frames after close are ignored", CWS_SERVER, "T:a;close:1001:;", "close:1001;", 0);
    cs.done = 1;
    F(&cs, 0x81, "a");
    F(&cs, 0x88, "\x03\xe9");
    F(&cs, 0x81, "late");
    F(&cs, 0x89, "late");
    F(&cs, 0x83, "garbage");
    run_everywhere(&cs);

    cs = make_case("client answers close", CWS_CLIENT, "close:4000:x;", "close:4000;", 0);
    cs.done = 1;
    F(&cs, 0x88, "\x0f\xa0x");
    run_everywhere(&cs);
}

/* §7.4: which codes a close frame may carry. */
static void test_close_codes(void **state) {
    (void)state;
    static const int valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                                3000, 3999, 4000, 4999};
    static const int invalid[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    char log[64], out[64];
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        assert_true(cws_close_code_valid(valid[i]));
        snprintf(log, sizeof log, "close:%d:;", valid[i]);
        snprintf(out, sizeof out, "close:%d;", valid[i]);
        conn_case cs = make_case("valid close code", CWS_SERVER, log, out, 0);
        cs.done = 1;
        uint8_t p[2] = {(uint8_t)(valid[i] >> 8), (uint8_t)valid[i]};
        wire_frame(&cs.w, 0x88, 1, 2, p, 2);
        run_everywhere(&cs);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        assert_false(cws_close_code_valid(invalid[i]));
        conn_case cs = make_case("invalid close code", CWS_SERVER, "fail:1002;", "close:1002;", CWS_ERR_PROTOCOL);
        uint8_t p[2] = {(uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i]};
        wire_frame(&cs.w, 0x88, 1, 2, p, 2);
        run_everywhere(&cs);
    }
    assert_false(cws_close_code_valid(-1000));
    assert_false(cws_close_code_valid(70000));
}

static void test_protocol_errors(void **state) {
    (void)state;
    const char *log = "fail:1002;", *out = "close:1002;";
    conn_case cs = make_case("close with 1-byte payload", CWS_SERVER, log, out, CWS_ERR_PROTOCOL);
    F(&cs, 0x88, "\x03");
    run_everywhere(&cs);

    cs = make_case("continuation without a message", CWS_SERVER, log, out, CWS_ERR_PROTOCOL);
    F(&cs, 0x80, "x");
    run_everywhere(&cs);

    cs = make_case("new message inside a fragmented one", CWS_SERVER, log, out, CWS_ERR_PROTOCOL);
    F(&cs, 0x01, "a");
    F(&cs, 0x82, "b");
    run_everywhere(&cs);

    cs = make_case("RSV1 without extension", CWS_SERVER, "T:ok;fail:1002;", out, CWS_ERR_PROTOCOL);
    F(&cs, 0x81, "ok");
    F(&cs, 0xC1, "x");
    run_everywhere(&cs);

    static const uint8_t reserved[] = {0x3, 0x7, 0xB, 0xF};
    for (size_t i = 0; i < sizeof reserved; i++) {
        cs = make_case("reserved opcode", CWS_SERVER, log, out, CWS_ERR_PROTOCOL);
        F(&cs, (uint8_t)(0x80 | reserved[i]), "");
        run_everywhere(&cs);
    }

    cs = make_case("fragmented ping", CWS_SERVER, log, out, CWS_ERR_PROTOCOL);
    F(&cs, 0x09, "");
    run_everywhere(&cs);

    cs = make_case("126-byte ping", CWS_SERVER, log, out, CWS_ERR_PROTOCOL);
    uint8_t big[126];
    memset(big, 'a', sizeof big);
    wire_frame(&cs.w, 0x89, 1, sizeof big, big, sizeof big);
    run_everywhere(&cs);

    cs = make_case("unmasked frame to a server", CWS_SERVER, log, out, CWS_ERR_PROTOCOL);
    wire_frame(&cs.w, 0x81, 0, 1, "x", 1);
    run_everywhere(&cs);

    cs = make_case("masked frame to a client", CWS_CLIENT, log, out, CWS_ERR_PROTOCOL);
    wire_frame(&cs.w, 0x81, 1, 1, "x", 1);
    run_everywhere(&cs);

    cs = make_case("64-bit length with top bit", CWS_SERVER, log, out, CWS_ERR_PROTOCOL);
    static const uint8_t top[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    memcpy(cs.w.b, top, sizeof top);
    cs.w.len = sizeof top;
    run_everywhere(&cs);
}

static void test_utf8_errors(void **state) {
    (void)state;
    const char *log = "fail:1007;", *out = "close:1007;";
    conn_case cs = make_case("invalid UTF-8 in a text frame", CWS_SERVER, log, out, CWS_ERR_UTF8);
    F(&cs, 0x81, "a\xff" "b");
    run_everywhere(&cs);

    cs = make_case("invalid UTF-8 in a continuation", CWS_SERVER, log, out, CWS_ERR_UTF8);
    F(&cs, 0x01, "ok");
    F(&cs, 0x80, "\xc0\xaf");
    run_everywhere(&cs);

    cs = make_case("text ends inside a sequence", CWS_SERVER, log, out, CWS_ERR_UTF8);
    F(&cs, 0x81, "a\xe2\x82");
    run_everywhere(&cs);

    cs = make_case("fragmented text ends inside a sequence", CWS_SERVER, log, out, CWS_ERR_UTF8);
    F(&cs, 0x01, "\xe2");
    F(&cs, 0x80, "\x82");
    run_everywhere(&cs);

    cs = make_case("surrogate in text", CWS_CLIENT, log, out, CWS_ERR_UTF8);
    F(&cs, 0x81, "\xed\xa0\x80");
    run_everywhere(&cs);

    /* Fail-fast: the frame announces 1000 bytes, 3 arrive, the third is bad. */
    cs = make_case("fail fast", CWS_SERVER, log, out, CWS_ERR_UTF8);
    wire_frame(&cs.w, 0x81, 1, 1000, "ab\xff", 3);
    run_everywhere(&cs);

    cs = make_case("close reason not UTF-8", CWS_SERVER, log, out, CWS_ERR_UTF8);
    F(&cs, 0x88, "\x03\xe8\xff");
    run_everywhere(&cs);

    /* Binary payloads are not checked. */
    cs = make_case("binary is not UTF-8 checked", CWS_SERVER, "B:\\xff;", "", 0);
    F(&cs, 0x82, "\xff");
    run_everywhere(&cs);
}

static void test_size_limits(void **state) {
    (void)state;
    const char *log = "fail:1009;", *out = "close:1009;";
    conn_case cs = make_case("frame over max_frame_size", CWS_SERVER, log, out, CWS_ERR_TOO_BIG);
    cs.max_frame = 10;
    F(&cs, 0x82, "0123456789x");
    run_everywhere(&cs);

    cs = make_case("frame at max_frame_size", CWS_SERVER, "B:0123456789;", "", 0);
    cs.max_frame = 10;
    F(&cs, 0x82, "0123456789");
    run_everywhere(&cs);

    /* Decided from the header: no payload byte has arrived. */
    cs = make_case("huge header alone", CWS_SERVER, log, out, CWS_ERR_TOO_BIG);
    wire_frame(&cs.w, 0x82, 1, (uint64_t)1 << 40, NULL, 0);
    run_everywhere(&cs);

    cs = make_case("message over max_message_size", CWS_SERVER, "ping:x;fail:1009;", "pong:x;close:1009;",
                   CWS_ERR_TOO_BIG);
    cs.max_message = 10;
    F(&cs, 0x02, "123456");
    F(&cs, 0x89, "x");
    F(&cs, 0x80, "12345");
    run_everywhere(&cs);

    cs = make_case("message at max_message_size", CWS_SERVER, "B:1234561234;", "", 0);
    cs.max_message = 10;
    F(&cs, 0x02, "123456");
    F(&cs, 0x80, "1234");
    run_everywhere(&cs);

    /* Empty continuations add no bytes: only the count stops them. */
    cs = make_case("fragments over max_fragments", CWS_SERVER, "ping:x;fail:1009;", "pong:x;close:1009;",
                   CWS_ERR_TOO_BIG);
    cs.max_fragments = 3;
    F(&cs, 0x02, "a");
    F(&cs, 0x00, "");
    F(&cs, 0x89, "x"); /* control frames are not fragments */
    F(&cs, 0x00, "");
    F(&cs, 0x80, "b");
    run_everywhere(&cs);

    cs = make_case("fragments at max_fragments, twice", CWS_SERVER, "B:ab;T:cd;", "", 0);
    cs.max_fragments = 3;
    F(&cs, 0x02, "a");
    F(&cs, 0x00, "");
    F(&cs, 0x80, "b");
    F(&cs, 0x01, "c");
    F(&cs, 0x00, "d");
    F(&cs, 0x80, "");
    run_everywhere(&cs);
}

/* n frames of one binary message (the last with FIN), as a client sends. */
static size_t many_fragments(uint8_t *buf, size_t n) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        buf[len++] = (uint8_t)((i + 1 == n ? 0x80 : 0) | (i == 0 ? 0x02 : 0x00));
        buf[len++] = 0x80; /* masked, empty */
        memset(buf + len, 0, 4);
        len += 4;
    }
    return len;
}

static ptrdiff_t recv_fragments(size_t max_fragments, size_t n, int *code) {
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = CWS_SERVER;
    cfg.max_fragments = max_fragments;
    cws_conn *c = cws_conn_new(&cfg, NULL);
    assert_non_null(c);
    uint8_t *buf = malloc(n * 6);
    assert_non_null(buf);
    ptrdiff_t r = cws_conn_recv(c, buf, many_fragments(buf, n));
    *code = cws_conn_close_code(c);
    free(buf);
    cws_conn_free(c);
    return r;
}

static void test_max_fragments_default(void **state) {
    (void)state;
    int code;
    assert_int_equal(recv_fragments(0, CWS_MAX_FRAGMENTS_DEFAULT, &code), CWS_MAX_FRAGMENTS_DEFAULT * 6);
    assert_int_equal(code, 0);
    assert_int_equal(recv_fragments(0, CWS_MAX_FRAGMENTS_DEFAULT + 1, &code), CWS_ERR_TOO_BIG);
    assert_int_equal(code, CWS_CLOSE_TOO_BIG);
    assert_int_equal(recv_fragments(CWS_DISABLED, 3 * CWS_MAX_FRAGMENTS_DEFAULT, &code),
                     3 * CWS_MAX_FRAGMENTS_DEFAULT * 6);
    assert_int_equal(code, 0);
}

/* ------------------------------------------------------------ hand-written */

static cws_conn *new_peer(peer *p, int role, int whole) {
    memset(p, 0, sizeof *p);
    cws_conn_config cfg = peer_config(p, role, whole);
    p->c = cws_conn_new(&cfg, NULL);
    assert_non_null(p->c);
    return p->c;
}

static void feed(peer *p, const wire *w, ptrdiff_t want) {
    uint8_t buf[sizeof w->b];
    memcpy(buf, w->b, w->len);
    assert_int_equal(cws_conn_recv(p->c, buf, w->len), want);
}

static void assert_out(cws_conn *c, const char *want) {
    text out = {0};
    drain_output(c, &out);
    assert_string_equal(text_z(&out), want);
    free(out.s);
}

/* The RFC 6455 §5.7 examples, byte for byte, as cws_conn writes them. */
static int rfc_key_rng(void *user, void *buf, size_t len) {
    (void)user;
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    for (size_t i = 0; i < len; i++) ((uint8_t *)buf)[i] = key[i % 4];
    return 0;
}

static void assert_output(cws_conn *c, const void *want, size_t n) {
    const uint8_t *d;
    assert_int_equal(cws_conn_output(c, &d), n);
    assert_memory_equal(d, want, n);
    cws_conn_consume(c, n);
}

static void test_rfc_examples_sent(void **state) {
    (void)state;
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = CWS_SERVER;
    cws_conn *c = cws_conn_new(&cfg, NULL);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "Hello", 5), CWS_OK);
    assert_output(c, "\x81\x05\x48\x65\x6c\x6c\x6f", 7);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_TEXT, "Hel", 3, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "lo", 2, 1), CWS_OK);
    assert_output(c, "\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f", 9);
    assert_int_equal(cws_conn_ping(c, "Hello", 5), CWS_OK);
    assert_output(c, "\x89\x05\x48\x65\x6c\x6c\x6f", 7);
    static uint8_t big[65536];
    assert_int_equal(cws_conn_send(c, CWS_OP_BINARY, big, 256), CWS_OK);
    const uint8_t *d;
    assert_int_equal(cws_conn_output(c, &d), 4 + 256);
    assert_memory_equal(d, "\x82\x7E\x01\x00", 4);
    cws_conn_consume(c, 4 + 256);
    assert_int_equal(cws_conn_send(c, CWS_OP_BINARY, big, sizeof big), CWS_OK);
    assert_int_equal(cws_conn_output(c, &d), 10 + sizeof big);
    assert_memory_equal(d, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    cws_conn_free(c);

    cfg.role = CWS_CLIENT;
    cfg.rng = rfc_key_rng;
    c = cws_conn_new(&cfg, NULL);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "Hello", 5), CWS_OK);
    assert_output(c, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    assert_int_equal(cws_conn_pong(c, "Hello", 5), CWS_OK);
    assert_output(c, "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    cws_conn_free(c);
}

static void test_send_misuse(void **state) {
    (void)state;
    peer p;
    cws_conn *c = new_peer(&p, CWS_SERVER, 0);
    uint8_t big[200] = {0};
    assert_int_equal(cws_conn_send(c, CWS_OP_CONT, "x", 1), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_send(c, CWS_OP_PING, "x", 1), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_send(c, 7, "x", 1), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, NULL, 1), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CLOSE, "x", 1, 1), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_ping(c, big, 126), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_pong(c, big, 126), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "x", 1, 1), CWS_ERR_STATE);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, NULL, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_BINARY, "a", 1, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_TEXT, "b", 1, 0), CWS_ERR_STATE);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "b", 1), CWS_ERR_STATE);
    assert_int_equal(cws_conn_ping(c, big, 125), CWS_OK); /* control between fragments */
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "b", 1, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "c", 1, 1), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "d", 1, 1), CWS_ERR_STATE);
    /* Close: code rules (§7.4), reason at most 123 bytes, UTF-8, needs a code. */
    assert_int_equal(cws_conn_close(c, 1005, NULL, 0), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_close(c, 999, NULL, 0), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_close(c, 0, "why", 3), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_close(c, 1000, (const char *)big, 124), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_close(c, 1000, "\xff", 1), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_close(c, 1000, NULL, 1), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_state(c), CWS_STATE_OPEN);
    memset(big, 'r', sizeof big);
    assert_int_equal(cws_conn_close(c, 1001, (const char *)big, 123), CWS_OK);
    assert_int_equal(cws_conn_state(c), CWS_STATE_CLOSING);
    assert_false(cws_conn_done(c));
    /* After our close, nothing more goes out. */
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "x", 1), CWS_ERR_CLOSED);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_TEXT, "x", 1, 1), CWS_ERR_CLOSED);
    assert_int_equal(cws_conn_ping(c, "x", 1), CWS_ERR_CLOSED);
    assert_int_equal(cws_conn_pong(c, "x", 1), CWS_ERR_CLOSED);
    assert_int_equal(cws_conn_close(c, 1000, NULL, 0), CWS_ERR_CLOSED);
    text out = {0};
    drain_output(c, &out);
    assert_true(strncmp(text_z(&out), "T1:;B0:a;ping:", 14) == 0);
    assert_non_null(strstr(text_z(&out), ";C0:b;C1:c;close:1001;"));
    free(out.s);
    assert_int_equal(cws_conn_recv(NULL, NULL, 0), CWS_ERR_INVALID);
    assert_int_equal(cws_conn_recv(c, NULL, 5), CWS_ERR_INVALID);
    peer_free(&p);
    /* A config with a bad role is refused. */
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = 5;
    assert_null(cws_conn_new(&cfg, NULL));
    assert_null(cws_conn_new(NULL, NULL));
}

/* Our close first, then theirs: on_close gets their code, done() after. */
static void test_close_initiated_here(void **state) {
    (void)state;
    for (int role = 0; role < 2; role++) {
        peer p;
        cws_conn *c = new_peer(&p, role, 1);
        assert_int_equal(cws_conn_close(c, 1000, "bye", 3), CWS_OK);
        assert_out(c, "close:1000;");
        assert_int_equal(cws_conn_close_code(c), 0);
        /* Until their close, their data still arrives; pings get no pong. */
        wire w = {{0}, 0};
        int masked = role == CWS_SERVER;
        wire_frame(&w, 0x81, masked, 2, "hi", 2);
        wire_frame(&w, 0x89, masked, 1, "p", 1);
        wire_frame(&w, 0x88, masked, 4, "\x03\xe9ok", 4);
        feed(&p, &w, (ptrdiff_t)w.len);
        assert_string_equal(text_z(&p.log), "T:hi;ping:p;close:1001:ok;");
        assert_out(c, "");
        assert_int_equal(cws_conn_done(c), 1);
        assert_int_equal(cws_conn_state(c), CWS_STATE_CLOSED);
        assert_int_equal(cws_conn_close_code(c), 1001);
        assert_null(cws_conn_error(c));
        /* Later bytes are ignored; abort reports nothing more. */
        feed(&p, &w, (ptrdiff_t)w.len);
        cws_conn_abort(c);
        assert_int_equal(p.closes, 1);
        assert_int_equal(cws_conn_close_code(c), 1001);
        peer_free(&p);
    }
}

static void test_abort(void **state) {
    (void)state;
    peer p;
    cws_conn *c = new_peer(&p, CWS_SERVER, 0);
    assert_int_equal(cws_conn_close_code(c), 0);
    cws_conn_abort(c);
    cws_conn_abort(c);
    assert_string_equal(text_z(&p.log), "close:1006:;");
    assert_int_equal(p.closes, 1);
    assert_int_equal(cws_conn_close_code(c), 1006);
    assert_int_equal(cws_conn_done(c), 1);
    assert_int_equal(cws_conn_state(c), CWS_STATE_CLOSED);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "x", 1), CWS_ERR_CLOSED);
    assert_int_equal(cws_conn_close(c, 1000, NULL, 0), CWS_ERR_CLOSED);
    uint8_t b[2] = {0x81, 0x80};
    assert_int_equal(cws_conn_recv(c, b, 2), CWS_ERR_CLOSED);
    assert_out(c, "");
    peer_free(&p);
}

/* Echo and close from inside callbacks, in both modes. */
static void test_send_from_callbacks(void **state) {
    (void)state;
    for (int whole = 0; whole < 2; whole++) {
        peer p;
        cws_conn *c = new_peer(&p, CWS_SERVER, whole);
        p.echo = 1;
        wire w = {{0}, 0};
        wire_frame(&w, 0x81, 1, 5, "Hello", 5);
        wire_frame(&w, 0x02, 1, 1, "a", 1);
        wire_frame(&w, 0x80, 1, 1, "b", 1);
        feed(&p, &w, (ptrdiff_t)w.len);
        assert_out(c, "T1:Hello;B1:ab;");
        p.echo = 0;
        p.close_on_message = 1;
        w.len = 0;
        wire_frame(&w, 0x81, 1, 3, "one", 3);
        wire_frame(&w, 0x81, 1, 3, "two", 3); /* still delivered: their close is not here yet */
        feed(&p, &w, (ptrdiff_t)w.len);
        assert_string_equal(text_z(&p.log), "T:Hello;B:ab;T:one;T:two;");
        assert_out(c, "close:1000;");
        assert_int_equal(cws_conn_state(c), CWS_STATE_CLOSING);
        peer_free(&p);
    }
}

/* A pausing callback stops recv at once; the rest resumes it. */
static void test_pause_resume(void **state) {
    (void)state;
    peer p;
    cws_conn *c = new_peer(&p, CWS_CLIENT, 0);
    p.pause_all = 1;
    uint8_t w[] = {0x81, 0x02, 'h', 'i', 0x89, 0x00};
    assert_int_equal(cws_conn_recv(c, w, sizeof w), 2); /* begin paused: header only */
    assert_int_equal(p.in_msg, 1);
    assert_int_equal(p.cur.len, 0);
    assert_int_equal(cws_conn_recv(c, w + 2, 4), 2); /* data paused */
    assert_string_equal(text_z(&p.cur), "hi");
    assert_string_equal(text_z(&p.log), "");
    assert_int_equal(cws_conn_recv(c, w + 4, 2), 0); /* end paused */
    assert_string_equal(text_z(&p.log), "T:hi;");
    assert_int_equal(cws_conn_recv(c, w + 4, 2), 2); /* ping paused */
    assert_string_equal(text_z(&p.log), "T:hi;ping:;");
    assert_out(c, "pong:;");
    peer_free(&p);
}

/* ------------------------------------------------------------ allocator */

typedef struct counting {
    long calls;  /* allocations and reallocations */
    long live;
    long fail_after; /* -1: never */
} counting;

static void *counting_fn(void *user, void *ptr, size_t size) {
    counting *a = user;
    if (size == 0) {
        if (ptr) a->live--;
        free(ptr);
        return NULL;
    }
    if (a->fail_after == 0) return NULL;
    if (a->fail_after > 0) a->fail_after--;
    a->calls++;
    void *p = realloc(ptr, size);
    if (p && !ptr) a->live++;
    return p;
}

static size_t write_bytes;
static int write_fail;
static text write_log;
static int counted_write(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    (void)c;
    (void)user;
    write_bytes += len;
    text_put(&write_log, (const char *)data, len);
    return write_fail;
}

/* Streamed receive allocates nothing, per frame or at all. */
static void test_streamed_no_alloc(void **state) {
    (void)state;
    counting a = {0, 0, -1};
    peer p;
    memset(&p, 0, sizeof p);
    cws_conn_config cfg = peer_config(&p, CWS_SERVER, 0);
    cfg.alloc.fn = counting_fn;
    cfg.alloc.user = &a;
    cfg.cb.write = counted_write;
    p.c = cws_conn_new(&cfg, NULL);
    assert_non_null(p.c);
    assert_int_equal(a.calls, 1);
    p.log.s = malloc(1 << 20);
    p.log.cap = 1 << 20;
    p.cur.s = malloc(1 << 16);
    p.cur.cap = 1 << 16;
    wire w = {{0}, 0};
    wire_frame(&w, 0x81, 1, 5, "Hello", 5);
    wire_frame(&w, 0x02, 1, 3, "abc", 3);
    wire_frame(&w, 0x89, 1, 2, "pp", 2);
    wire_frame(&w, 0x80, 1, 3, "def", 3);
    wire_frame(&w, 0x8A, 1, 0, NULL, 0);
    write_bytes = 0;
    for (int i = 0; i < 1000; i++) {
        p.log.len = 0;
        feed(&p, &w, (ptrdiff_t)w.len);
    }
    assert_string_equal(text_z(&p.log), "T:Hello;ping:pp;B:abcdef;pong:;");
    assert_int_equal(a.calls, 1);
    assert_int_equal(write_bytes, 1000 * 4); /* the pongs */
    /* Server sends through the write callback allocate nothing either. */
    for (int i = 0; i < 100; i++) assert_int_equal(cws_conn_send(p.c, CWS_OP_BINARY, w.b, w.len), CWS_OK);
    assert_int_equal(a.calls, 1);
    peer_free(&p);
    assert_int_equal(a.live, 0);
    free(write_log.s);
    memset(&write_log, 0, sizeof write_log);
}

/* The output buffer exists only while bytes wait in it. */
static void test_output_buffer_released(void **state) {
    (void)state;
    counting a = {0, 0, -1};
    peer p;
    memset(&p, 0, sizeof p);
    cws_conn_config cfg = peer_config(&p, CWS_SERVER, 0);
    cfg.alloc.fn = counting_fn;
    cfg.alloc.user = &a;
    p.c = cws_conn_new(&cfg, NULL);
    assert_int_equal(a.live, 1);
    assert_int_equal(cws_conn_buffered_amount(p.c), 0);
    assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, "Hello", 5), CWS_OK);
    assert_int_equal(a.live, 2);
    assert_int_equal(cws_conn_buffered_amount(p.c), 7);
    uint8_t big[5000];
    memset(big, 'z', sizeof big);
    assert_int_equal(cws_conn_send(p.c, CWS_OP_BINARY, big, sizeof big), CWS_OK);
    assert_int_equal(cws_conn_buffered_amount(p.c), 7 + 4 + 5000);
    const uint8_t *d;
    assert_int_equal(cws_conn_output(p.c, &d), 5011);
    assert_memory_equal(d, "\x81\x05Hello", 7);
    cws_conn_consume(p.c, 3);
    assert_int_equal(cws_conn_output(p.c, &d), 5008);
    assert_memory_equal(d, "ello", 4);
    assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, "!", 1), CWS_OK);
    cws_conn_consume(p.c, 5008);
    assert_int_equal(cws_conn_output(p.c, &d), 3);
    assert_memory_equal(d, "\x81\x01!", 3);
    cws_conn_consume(p.c, 100);
    assert_int_equal(cws_conn_buffered_amount(p.c), 0);
    assert_int_equal(a.live, 1);
    assert_int_equal(cws_conn_output(p.c, &d), 0);
    peer_free(&p);
    assert_int_equal(a.live, 0);
}

/* Out of memory is an error, never a crash. */
static void test_failing_allocator(void **state) {
    (void)state;
    counting a = {0, 0, 0};
    peer p;
    memset(&p, 0, sizeof p);
    cws_conn_config cfg = peer_config(&p, CWS_SERVER, 1);
    cfg.alloc.fn = counting_fn;
    cfg.alloc.user = &a;
    assert_null(cws_conn_new(&cfg, NULL));

    /* Output buffer. */
    a.fail_after = 1;
    p.c = cws_conn_new(&cfg, NULL);
    assert_non_null(p.c);
    assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, "x", 1), CWS_ERR_NOMEM);
    assert_int_equal(cws_conn_close(p.c, 1000, NULL, 0), CWS_ERR_NOMEM);
    assert_int_equal(cws_conn_state(p.c), CWS_STATE_OPEN);
    /* Reassembly of a fragmented message: fails with 1011, says NOMEM. */
    wire w = {{0}, 0};
    wire_frame(&w, 0x01, 1, 2, "ab", 2);
    wire_frame(&w, 0x80, 1, 2, "cd", 2);
    feed(&p, &w, CWS_ERR_NOMEM);
    assert_string_equal(text_z(&p.log), "fail:1011;");
    assert_int_equal(cws_conn_close_code(p.c), 1011);
    assert_int_equal(cws_conn_done(p.c), 1);
    peer_free(&p);

    /* A single-frame message needs no memory: it is delivered in place. */
    a.fail_after = 1;
    cfg.cb.write = counted_write;
    p.c = cws_conn_new(&cfg, NULL);
    cfg.cb.write = NULL;
    w.len = 0;
    wire_frame(&w, 0x81, 1, 2, "ok", 2);
    wire_frame(&w, 0x89, 1, 1, "p", 1);
    feed(&p, &w, (ptrdiff_t)w.len);
    assert_string_equal(text_z(&p.log), "T:ok;ping:p;");
    /* A control frame cut in two needs a little: NOMEM, 1011. */
    w.len = 0;
    wire_frame(&w, 0x89, 1, 3, "abc", 3);
    uint8_t buf[16];
    memcpy(buf, w.b, w.len);
    /* Header and payload apart, the payload whole: still in place. */
    assert_int_equal(cws_conn_recv(p.c, buf, 6), 6);
    assert_int_equal(cws_conn_recv(p.c, buf + 6, 3), 3);
    assert_string_equal(text_z(&p.log), "T:ok;ping:p;ping:abc;");
    memcpy(buf, w.b, w.len);
    assert_int_equal(cws_conn_recv(p.c, buf, 7), CWS_ERR_NOMEM);
    peer_free(&p);

    /* Masking keys for a client. */
    a.fail_after = 1;
    cfg.role = CWS_CLIENT;
    cfg.cb.write = counted_write;
    p.c = cws_conn_new(&cfg, NULL);
    assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, "x", 1), CWS_ERR_NOMEM);
    peer_free(&p);
    assert_int_equal(a.live, 0);
    free(write_log.s);
    memset(&write_log, 0, sizeof write_log);
}


static const uint8_t *view_seen;
static size_t view_len;
static void view_message(cws_conn *c, void *u, int op, const uint8_t *d, size_t n) {
    (void)c;
    (void)u;
    (void)op;
    view_seen = d;
    view_len = n;
}

/* Whole-message mode: a message in one frame is a view into the recv
 * buffer; a fragmented one grows its buffer geometrically (a few
 * reallocations for 1 MiB in 1 KiB fragments), freed after delivery. */
static void test_whole_mode_memory(void **state) {
    (void)state;
    counting a = {0, 0, -1};
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = CWS_SERVER;
    cfg.cb.on_message = view_message;
    cfg.alloc.fn = counting_fn;
    cfg.alloc.user = &a;
    cws_conn *c = cws_conn_new(&cfg, NULL);
    wire w = {{0}, 0};
    wire_frame(&w, 0x82, 1, 100, w.b + 1000, 100);
    assert_int_equal(cws_conn_recv(c, w.b, w.len), (ptrdiff_t)w.len);
    assert_ptr_equal(view_seen, w.b + w.len - 100);
    assert_int_equal(view_len, 100);
    assert_int_equal(a.calls, 1);

    enum { FRAG = 1024, NFRAG = 1024 };
    uint8_t *frame = malloc(FRAG + 14);
    for (int i = 0; i < NFRAG; i++) {
        uint8_t chunk[FRAG];
        memset(chunk, (uint8_t)i, sizeof chunk);
        w.len = 0;
        wire_frame(&w, (uint8_t)((i == NFRAG - 1 ? 0x80 : 0) | (i ? 0 : 2)), 1, FRAG, chunk, FRAG);
        memcpy(frame, w.b, w.len);
        assert_int_equal(cws_conn_recv(c, frame, w.len), (ptrdiff_t)w.len);
    }
    assert_int_equal(view_len, (size_t)FRAG * NFRAG);
    print_message("1 MiB in 1 KiB fragments: %ld allocator calls\n", a.calls - 1);
    assert_true(a.calls - 1 <= 20);
    assert_int_equal(a.live, 1); /* the reassembly buffer is gone */
    free(frame);
    cws_conn_free(c);
    assert_int_equal(a.live, 0);
}


/* Hostile input: valid streams with a few bytes flipped, cut at random
 * points, in both roles and modes. Never a crash; a failure is sticky,
 * reported once, and sends exactly one close frame, the last one. */
static uint64_t garble_state = 0x9e3779b97f4a7c15u;
static uint32_t garble_next(void) {
    garble_state ^= garble_state << 13;
    garble_state ^= garble_state >> 7;
    garble_state ^= garble_state << 17;
    return (uint32_t)(garble_state >> 32);
}

static void test_garbled_input(void **state) {
    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        int role = iter & 1, whole = (iter >> 1) & 1;
        conn_case cs = make_case("garbled", role, "", "", 0);
        cs.max_frame = 1 + garble_next() % 300;
        int masked = role == CWS_SERVER;
        uint8_t pl[200];
        for (size_t i = 0; i < sizeof pl; i++) pl[i] = (uint8_t)(garble_next() % 3 ? 'a' + i % 26 : garble_next());
        int nframes = 1 + (int)(garble_next() % 6);
        static const uint8_t heads[] = {0x81, 0x82, 0x01, 0x02, 0x00, 0x80, 0x89, 0x8A, 0x88};
        for (int f = 0; f < nframes; f++) {
            uint8_t b0 = heads[garble_next() % sizeof heads];
            size_t n = garble_next() % ((b0 & 8) ? 126 : sizeof pl);
            wire_frame(&cs.w, b0, masked, n, pl, n);
        }
        for (int k = (int)(garble_next() % 4); k > 0; k--) cs.w.b[garble_next() % cs.w.len] ^= (uint8_t)(1u << (garble_next() % 8));
        peer p;
        memset(&p, 0, sizeof p);
        cws_conn_config cfg = peer_config(&p, role, whole);
        cfg.max_frame_size = cs.max_frame;
        p.c = cws_conn_new(&cfg, NULL);
        size_t pos = 0;
        ptrdiff_t r = 0;
        while (pos < cs.w.len) {
            size_t piece = 1 + garble_next() % (cs.w.len - pos);
            r = cws_conn_recv(p.c, cs.w.b + pos, piece);
            if (r < 0) break;
            assert_int_equal(r, (ptrdiff_t)piece);
            pos += piece;
        }
        text out = {0};
        drain_output(p.c, &out);
        const char *o = text_z(&out), *close = strstr(o, "close");
        if (r < 0) {
            assert_true(r == CWS_ERR_PROTOCOL || r == CWS_ERR_UTF8 || r == CWS_ERR_TOO_BIG);
            assert_int_equal(p.closes, 1);
            assert_int_equal(cws_conn_done(p.c), 1);
            assert_int_equal(cws_conn_recv(p.c, cs.w.b, cs.w.len), r);
            int want = r == CWS_ERR_PROTOCOL ? 1002 : r == CWS_ERR_UTF8 ? 1007 : 1009;
            assert_int_equal(cws_conn_close_code(p.c), want);
        }
        if (close) {
            assert_null(strstr(close + 1, "close")); /* one close frame */
            assert_null(strchr(strchr(close, ';') + 1, ';')); /* and it is the last */
        }
        assert_true(p.closes <= 1);
        free(out.s);
        peer_free(&p);
    }
}

/* ------------------------------------------------------------ client role */

static int rng_calls;
static int rng_fail;
static int counting_rng(void *user, void *buf, size_t len) {
    (void)user;
    rng_calls++;
    uint8_t *b = buf;
    for (size_t i = 0; i < len; i++) b[i] = (uint8_t)(rand() >> 7);
    return rng_fail;
}

/* Fresh key per frame, few random calls, same bytes with or without a
 * write callback (including a message larger than the stack chunk). */
static void test_client_masking(void **state) {
    (void)state;
    static uint8_t big[70000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 31);
    for (int use_write = 0; use_write < 2; use_write++) {
        peer p;
        memset(&p, 0, sizeof p);
        cws_conn_config cfg = peer_config(&p, CWS_CLIENT, 0);
        cfg.rng = counting_rng;
        if (use_write) cfg.cb.write = counted_write;
        p.c = cws_conn_new(&cfg, NULL);
        rng_calls = 0;
        free(write_log.s);
        memset(&write_log, 0, sizeof write_log);
        for (int i = 0; i < 100; i++) assert_int_equal(cws_conn_send(p.c, CWS_OP_BINARY, "abcd", 4), CWS_OK);
        assert_int_equal(cws_conn_send(p.c, CWS_OP_BINARY, big, sizeof big), CWS_OK);
        assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, NULL, 0), CWS_OK);
        assert_true(rng_calls >= 1 && rng_calls <= 4);
        const uint8_t *d;
        size_t n;
        if (use_write) {
            d = (const uint8_t *)write_log.s;
            n = write_log.len;
        } else {
            n = cws_conn_output(p.c, &d);
        }
        assert_int_equal(n, 100 * 10 + 14 + sizeof big + 6);
        /* Every frame masked, keys differ from frame to frame. */
        for (int i = 1; i < 100; i++) {
            assert_int_equal(d[i * 10 + 1], 0x84);
            assert_memory_not_equal(d + i * 10 + 2, d + (i - 1) * 10 + 2, 4);
        }
        uint8_t *copy = malloc(n);
        memcpy(copy, d, n);
        cws_frame_parser fp;
        cws_frame_parser_init(&fp, CWS_SERVER);
        cws_frame_event ev;
        ptrdiff_t r = cws_frame_parse(&fp, copy + 1000, n - 1000, &ev);
        assert_int_equal(r, 14 + sizeof big);
        assert_int_equal(ev.len, sizeof big);
        assert_memory_equal(ev.data, big, sizeof big);
        free(copy);
        peer_free(&p);
    }
    /* No random bytes: an error, nothing sent. */
    peer p;
    memset(&p, 0, sizeof p);
    cws_conn_config cfg = peer_config(&p, CWS_CLIENT, 0);
    cfg.rng = counting_rng;
    rng_fail = 1;
    p.c = cws_conn_new(&cfg, NULL);
    assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, "x", 1), CWS_ERR_RANDOM);
    assert_int_equal(cws_conn_output(p.c, NULL), 0);
    rng_fail = 0;
    peer_free(&p);
    /* The default source works too. */
    cfg.rng = NULL;
    p.c = cws_conn_new(&cfg, NULL);
    assert_int_equal(cws_conn_ping(p.c, "x", 1), CWS_OK);
    assert_out(p.c, "ping:x;");
    peer_free(&p);
    free(write_log.s);
    memset(&write_log, 0, sizeof write_log);
}

/* A write failure is reported and sticks; the connection is finished. */
static void test_write_failure(void **state) {
    (void)state;
    peer p;
    memset(&p, 0, sizeof p);
    cws_conn_config cfg = peer_config(&p, CWS_SERVER, 0);
    cfg.cb.write = counted_write;
    p.c = cws_conn_new(&cfg, NULL);
    write_fail = 1;
    assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, "x", 1), CWS_ERR_IO);
    write_fail = 0;
    assert_int_equal(cws_conn_send(p.c, CWS_OP_TEXT, "x", 1), CWS_ERR_IO);
    assert_int_equal(cws_conn_done(p.c), 1);
    peer_free(&p);
    free(write_log.s);
    memset(&write_log, 0, sizeof write_log);
}

static void test_conn_size(void **state) {
    (void)state;
    print_message("sizeof(struct cws_conn) = %zu\n", sizeof(struct cws_conn));
    assert_true(sizeof(struct cws_conn) <= 256);
}

/* Sends check UTF-8 (RFC 6455 §5.6) on the conn as on the socket: a
 * whole message, and fragments as one stream. Nothing is sent on refusal. */
static void test_send_checks_utf8(void **state) {
    (void)state;
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = CWS_SERVER;
    cws_conn *c = cws_conn_new(&cfg, NULL);
    assert_non_null(c);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "\xc3\x28", 2), CWS_ERR_UTF8);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "\xe2\x82", 2), CWS_ERR_UTF8); /* cut short */
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_TEXT, "\xed\xa0\x80", 3, 1), CWS_ERR_UTF8); /* surrogate */
    assert_int_equal(cws_conn_buffered_amount(c), 0);
    assert_int_equal(cws_conn_send(c, CWS_OP_BINARY, "\xc3\x28", 2), CWS_OK);
    size_t sent = cws_conn_buffered_amount(c);
    /* "€" split across three fragments; an unfinished last one is refused
     * and the message stays open for a correct one. */
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_TEXT, "\xe2", 1, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "\x82", 1, 1), CWS_ERR_UTF8);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "\x28", 1, 0), CWS_ERR_UTF8);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "\x82", 1, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "\xac", 1, 1), CWS_OK);
    assert_true(cws_conn_buffered_amount(c) > sent);
    /* A binary message's continuations are not text. */
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_BINARY, "\xff", 1, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "\xe2", 1, 1), CWS_OK);
    /* And the next text message starts afresh. */
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_TEXT, "\x82", 1, 1), CWS_ERR_UTF8);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "fine", 4), CWS_OK);
    cws_conn_free(c);
}

/* cws_conn_pause belongs inside a callback; 0 and CWS_DISABLED follow
 * the config rule for the size limits; a bad receive mode is refused. */
static void test_pause_and_config_rule(void **state) {
    (void)state;
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = CWS_SERVER;
    cfg.receive = CWS_RECEIVE_STREAM;
    int err = 0;
    cws_conn *c = cws_conn_new(&cfg, &err);
    assert_non_null(c);
    assert_int_equal(err, CWS_OK);
    assert_int_equal(cws_conn_pause(c), CWS_ERR_STATE);
    /* A masked binary frame announcing 32 MiB: over the default limit
     * (1009 at once), allowed when the limit is off. */
    uint8_t hdr[14] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0x02, 0, 0, 0, 1, 2, 3, 4};
    uint8_t copy[14];
    memcpy(copy, hdr, sizeof hdr);
    assert_int_equal(cws_conn_recv(c, copy, sizeof copy), CWS_ERR_TOO_BIG);
    cws_conn_free(c);
    cfg.max_message_size = CWS_DISABLED;
    cfg.max_frame_size = CWS_DISABLED;
    c = cws_conn_new(&cfg, &err);
    memcpy(copy, hdr, sizeof hdr);
    assert_int_equal(cws_conn_recv(c, copy, sizeof copy), (ptrdiff_t)sizeof copy);
    assert_int_equal(cws_conn_state(c), CWS_STATE_OPEN);
    cws_conn_free(c);
    cfg.receive = 2;
    assert_null(cws_conn_new(&cfg, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    assert_null(cws_conn_new(NULL, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_checks_utf8),
        cmocka_unit_test(test_pause_and_config_rule),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_close_handshake_received),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_utf8_errors),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_max_fragments_default),
        cmocka_unit_test(test_rfc_examples_sent),
        cmocka_unit_test(test_send_misuse),
        cmocka_unit_test(test_close_initiated_here),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_send_from_callbacks),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_streamed_no_alloc),
        cmocka_unit_test(test_output_buffer_released),
        cmocka_unit_test(test_failing_allocator),
        cmocka_unit_test(test_whole_mode_memory),
        cmocka_unit_test(test_garbled_input),
        cmocka_unit_test(test_client_masking),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_conn_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
