/* Two cws_conn wired back to back in memory, a client and a server.
 * Property test: random messages (0..70000 bytes, text or binary, sent
 * whole or as random fragments with pings between them) go client ->
 * server and server -> client, the bytes cut at random points on the way,
 * and arrive byte-identical, in both receive modes. The seed is printed;
 * set CWS_SEED=<n> to replay a failure, CWS_ROUNDS=<n> for more messages.
 * Also: the close handshake from either side, and from both at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/internal.h"

static uint64_t rt_state;

static uint64_t rt_next(void) {
    uint64_t x = rt_state; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rt_state = x;
}

static size_t rt_below(size_t n) { return n ? (size_t)(rt_next() % n) : 0; }

/* A deterministic masking-key source, so a seed replays exactly. */
static int rt_rng(void *user, void *buf, size_t len) {
    (void)user;
    uint8_t *b = buf;
    for (size_t i = 0; i < len; i++) b[i] = (uint8_t)(rt_next() >> 29);
    return 0;
}

typedef struct msg {
    int op; /* CWS_OP_TEXT, CWS_OP_BINARY or CWS_OP_PING */
    uint8_t *data;
    size_t len;
} msg;

/* One endpoint and what it expects to receive, in order. */
typedef struct end {
    cws_conn *c;
    msg *want;
    size_t nwant, got;
    size_t pongs_want, pongs_got;
    uint8_t *cur; /* streamed message so far */
    size_t cur_len;
    int cur_op;
    int close_code, closes;
    char reason[128];
} end;

static void expect_message(end *e, int op, const uint8_t *d, size_t n) {
    assert_true(e->got < e->nwant);
    const msg *m = &e->want[e->got++];
    assert_int_equal(op, m->op);
    assert_int_equal(n, m->len);
    if (n) assert_memory_equal(d, m->data, n);
}

static void rt_begin(cws_conn *c, void *u, int op) {
    end *e = u;
    (void)c;
    e->cur_op = op;
    e->cur_len = 0;
}

static void rt_data(cws_conn *c, void *u, const uint8_t *d, size_t n) {
    end *e = u;
    (void)c;
    assert_true(e->cur_len + n <= 70000);
    memcpy(e->cur + e->cur_len, d, n);
    e->cur_len += n;
}

static void rt_end(cws_conn *c, void *u) {
    end *e = u;
    (void)c;
    expect_message(e, e->cur_op, e->cur, e->cur_len);
}

static void rt_message(cws_conn *c, void *u, int op, const uint8_t *d, size_t n) {
    (void)c;
    expect_message(u, op, d, n);
}

static void rt_ping(cws_conn *c, void *u, const uint8_t *d, size_t n) {
    (void)c;
    expect_message(u, CWS_OP_PING, d, n);
}

static void rt_pong(cws_conn *c, void *u, const uint8_t *d, size_t n) {
    end *e = u;
    (void)c;
    (void)d;
    assert_true(n <= CWS_CONTROL_MAX);
    e->pongs_got++;
}

static void rt_close(cws_conn *c, void *u, int code, const char *reason, size_t n) {
    end *e = u;
    (void)c;
    e->closes++;
    e->close_code = code;
    assert_true(n < sizeof e->reason);
    memcpy(e->reason, reason, n);
    e->reason[n] = 0;
}

static void end_init(end *e, int role, int whole) {
    memset(e, 0, sizeof *e);
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = role;
    cfg.user = e;
    cfg.rng = rt_rng;
    cfg.cb.on_message_begin = rt_begin;
    cfg.cb.on_message_data = rt_data;
    cfg.cb.on_message_end = rt_end;
    if (whole) cfg.cb.on_message = rt_message;
    cfg.receive = whole ? CWS_RECEIVE_MESSAGES : CWS_RECEIVE_STREAM;
    cfg.cb.on_ping = rt_ping;
    cfg.cb.on_pong = rt_pong;
    cfg.cb.on_close = rt_close;
    e->c = cws_conn_new(&cfg, NULL);
    assert_non_null(e->c);
    e->cur = malloc(70001);
}

static void end_free(end *e) {
    cws_conn_free(e->c);
    for (size_t i = 0; i < e->nwant; i++) free(e->want[i].data);
    free(e->want);
    free(e->cur);
}

/* Moves everything from's output into to, cut at random points. */
static void pump(end *from, end *to) {
    const uint8_t *d;
    size_t n;
    while ((n = cws_conn_output(from->c, &d)) > 0) {
        uint8_t *copy = malloc(n);
        memcpy(copy, d, n);
        cws_conn_consume(from->c, n);
        size_t pos = 0;
        while (pos < n) {
            size_t piece = 1 + rt_below(rt_below(4) ? 4000 : 8);
            piece = CWS__MIN(piece, n - pos);
            ptrdiff_t r = cws_conn_recv(to->c, copy + pos, piece);
            assert_int_equal(r, (ptrdiff_t)piece);
            pos += piece;
        }
        free(copy);
    }
}

static void pump_both(end *a, end *b) {
    while (cws_conn_buffered_amount(a->c) || cws_conn_buffered_amount(b->c)) {
        pump(a, b);
        pump(b, a);
    }
}

/* Random valid UTF-8 of at most len bytes (1- to 4-byte sequences). */
static size_t random_utf8(uint8_t *p, size_t len) {
    size_t n = 0;
    for (;;) {
        uint32_t cp;
        switch (rt_below(4)) {
        case 0: cp = (uint32_t)rt_below(0x80); break;
        case 1: cp = 0x80 + (uint32_t)rt_below(0x800 - 0x80); break;
        case 2:
            cp = 0x800 + (uint32_t)rt_below(0x10000 - 0x800);
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000;
            break;
        default: cp = 0x10000 + (uint32_t)rt_below(0x110000 - 0x10000); break;
        }
        size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n + k > len) return n;
        if (k == 1) p[n] = (uint8_t)cp;
        else {
            static const uint8_t lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
            for (size_t i = k - 1; i > 0; i--) {
                p[n + i] = (uint8_t)(0x80 | (cp & 0x3F));
                cp >>= 6;
            }
            p[n] = (uint8_t)(lead[k] | cp);
        }
        n += k;
    }
}

static void push_want(end *e, int op, const uint8_t *d, size_t n) {
    e->want = realloc(e->want, (e->nwant + 1) * sizeof *e->want);
    msg *m = &e->want[e->nwant++];
    m->op = op;
    m->len = n;
    m->data = malloc(n ? n : 1);
    if (n) memcpy(m->data, d, n);
}

/* Sends one random message from s to r (and tells r what to expect). */
static void send_random(end *s, end *r, uint8_t *buf) {
    size_t size;
    switch (rt_below(5)) {
    case 0: size = rt_below(70001); break;
    case 1: size = rt_below(2000); break;
    default: size = rt_below(131); break;
    }
    int op = rt_below(2) ? CWS_OP_TEXT : CWS_OP_BINARY;
    if (op == CWS_OP_TEXT) size = random_utf8(buf, size);
    else
        for (size_t i = 0; i < size; i++) buf[i] = (uint8_t)rt_next();
    if (rt_below(3) == 0) {
        push_want(r, op, buf, size);
        assert_int_equal(cws_conn_send(s->c, op, buf, size), CWS_OK);
        return;
    }
    /* Fragments at random byte positions (text may split a character),
     * with pings in between, announced to r in the order they go out. */
    size_t nfrag = 1 + rt_below(6), pos = 0;
    for (size_t f = 0; f < nfrag; f++) {
        size_t n = f + 1 == nfrag ? size - pos : rt_below(size - pos + 1);
        assert_int_equal(cws_conn_send_fragment(s->c, f ? CWS_OP_CONT : op, buf + pos, n, f + 1 == nfrag), CWS_OK);
        pos += n;
        if (f + 1 < nfrag && rt_below(2)) {
            uint8_t ping[CWS_CONTROL_MAX];
            size_t pn = rt_below(sizeof ping + 1);
            for (size_t i = 0; i < pn; i++) ping[i] = (uint8_t)rt_next();
            push_want(r, CWS_OP_PING, ping, pn);
            s->pongs_want++;
            assert_int_equal(cws_conn_ping(s->c, ping, pn), CWS_OK);
        }
    }
    push_want(r, op, buf, size); /* complete after the pings it enclosed */
}

static void test_random_roundtrip(void **state) {
    (void)state;
    const char *env = getenv("CWS_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 0x5eed1234u;
    env = getenv("CWS_ROUNDS");
    size_t rounds = env ? strtoul(env, NULL, 0) : 150;
    print_message("roundtrip seed %llu (replay: CWS_SEED=%llu), %zu messages each way per mode\n",
                  (unsigned long long)seed, (unsigned long long)seed, rounds);
    rt_state = seed ? seed : 1;
    uint8_t *buf = malloc(70001);
    for (int whole = 0; whole < 2; whole++) {
        end client, server;
        end_init(&client, CWS_CLIENT, whole);
        end_init(&server, CWS_SERVER, !whole);
        for (size_t i = 0; i < rounds; i++) {
            send_random(&client, &server, buf);
            if (rt_below(3) == 0) pump_both(&client, &server);
            send_random(&server, &client, buf);
            if (rt_below(3) == 0) pump_both(&client, &server);
        }
        pump_both(&client, &server);
        assert_int_equal(server.got, server.nwant);
        assert_int_equal(client.got, client.nwant);
        assert_int_equal(client.pongs_got, client.pongs_want);
        assert_int_equal(server.pongs_got, server.pongs_want);
        assert_int_equal(cws_conn_state(client.c), CWS_STATE_OPEN);
        assert_int_equal(cws_conn_state(server.c), CWS_STATE_OPEN);
        end_free(&client);
        end_free(&server);
    }
    free(buf);
}

/* Either side starts the close; both end with the same code, done(). */
static void test_close_handshake(void **state) {
    (void)state;
    rt_state = 99;
    for (int first = 0; first < 2; first++) {
        end client, server;
        end_init(&client, CWS_CLIENT, 0);
        end_init(&server, CWS_SERVER, 1);
        end *a = first ? &client : &server, *b = first ? &server : &client;
        assert_int_equal(cws_conn_close(a->c, 4001, "bye", 3), CWS_OK);
        assert_int_equal(cws_conn_state(a->c), CWS_STATE_CLOSING);
        assert_false(cws_conn_done(a->c));
        pump(a, b);
        /* b got the close, answered it, and is finished. */
        assert_int_equal(b->closes, 1);
        assert_int_equal(b->close_code, 4001);
        assert_string_equal(b->reason, "bye");
        assert_int_equal(cws_conn_done(b->c), 1);
        assert_int_equal(cws_conn_state(b->c), CWS_STATE_CLOSED);
        assert_int_equal(a->closes, 0);
        pump(b, a);
        assert_int_equal(a->closes, 1);
        assert_int_equal(a->close_code, 4001); /* the echo */
        assert_int_equal(cws_conn_done(a->c), 1);
        assert_int_equal(cws_conn_close_code(a->c), 4001);
        assert_int_equal(cws_conn_close_code(b->c), 4001);
        assert_null(cws_conn_error(a->c));
        /* Nothing more to send on either side. */
        assert_int_equal(cws_conn_buffered_amount(a->c), 0);
        assert_int_equal(cws_conn_buffered_amount(b->c), 0);
        /* The transport ends: no second report. */
        cws_conn_abort(a->c);
        cws_conn_abort(b->c);
        assert_int_equal(a->closes + b->closes, 2);
        end_free(&client);
        end_free(&server);
    }
    /* Both at once: each reports the other's code. */
    end client, server;
    end_init(&client, CWS_CLIENT, 1);
    end_init(&server, CWS_SERVER, 0);
    assert_int_equal(cws_conn_close(client.c, 1000, NULL, 0), CWS_OK);
    assert_int_equal(cws_conn_close(server.c, 1001, "going", 5), CWS_OK);
    pump_both(&client, &server);
    assert_int_equal(client.close_code, 1001);
    assert_string_equal(client.reason, "going");
    assert_int_equal(server.close_code, 1000);
    assert_int_equal(cws_conn_done(client.c), 1);
    assert_int_equal(cws_conn_done(server.c), 1);
    end_free(&client);
    end_free(&server);
    /* A close without a code is answered without one: 1005 on both ends. */
    end_init(&client, CWS_CLIENT, 1);
    end_init(&server, CWS_SERVER, 0);
    assert_int_equal(cws_conn_close(client.c, 0, NULL, 0), CWS_OK);
    pump_both(&client, &server);
    assert_int_equal(client.close_code, 1005);
    assert_int_equal(server.close_code, 1005);
    end_free(&client);
    end_free(&server);
}

/* A failure on one side reaches the other as the right close code. */
static void test_failure_reaches_peer(void **state) {
    (void)state;
    rt_state = 7;
    end client, server;
    end_init(&client, CWS_CLIENT, 0);
    end_init(&server, CWS_SERVER, 1);
    /* The library refuses to send invalid UTF-8 as text, so a misbehaving
     * client is made by hand: a binary frame relabelled as text (the
     * opcode is not masked). The server fails with 1007. */
    assert_int_equal(cws_conn_send(client.c, CWS_OP_TEXT, "\xff", 1), CWS_ERR_UTF8);
    assert_int_equal(cws_conn_send(client.c, CWS_OP_BINARY, "\xff", 1), CWS_OK);
    const uint8_t *d;
    size_t n = cws_conn_output(client.c, &d);
    uint8_t copy[64];
    memcpy(copy, d, n);
    cws_conn_consume(client.c, n);
    assert_int_equal(copy[0], 0x80 | CWS_OP_BINARY);
    copy[0] = 0x80 | CWS_OP_TEXT;
    assert_int_equal(cws_conn_recv(server.c, copy, n), CWS_ERR_UTF8);
    assert_int_equal(server.close_code, 1007);
    assert_int_equal(cws_conn_done(server.c), 1);
    pump(&server, &client);
    assert_int_equal(client.close_code, 1007);
    assert_int_equal(cws_conn_done(client.c), 1);
    assert_int_equal(cws_conn_state(client.c), CWS_STATE_CLOSED);
    end_free(&client);
    end_free(&server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_failure_reaches_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
