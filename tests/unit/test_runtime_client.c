/* The runtime's client against a raw server driven by the same loop
 * (cws_loop_watch_fd), so the server can misbehave on purpose: a close
 * frame in the same segment as the 101 (cws_connect_wait must not hand
 * out a socket whose on_close already ran), a server that never reads (the
 * client's own high-water mark). Also the negotiated subprotocol, seen
 * from both ends (cws_socket_protocol), including a request head that
 * reaches the server in pieces. */
#include "test_runtime_util.h"

/* ------------------------------------------------------------ raw server */

enum { RAW_CLOSE_WITH_101 = 1, RAW_101_ONLY, RAW_MUTE };

typedef struct raw_srv {
    cws_loop *loop;
    int lfd, fd;
    int port;
    int mode;
    int answered;        /* the 101 went out */
    int watched;         /* fd is watched by the loop */
    int eof;             /* the client closed TCP */
    char head[4096];     /* the request as it arrived */
    size_t head_len;
    uint8_t after[256];  /* what the client sent after the 101 */
    size_t after_len;
} raw_srv;

/* The 101 for the request in r->head; with RAW_CLOSE_WITH_101 a text
 * message and a close frame (1000, "bye") follow in the same send. */
static void raw_answer(raw_srv *r) {
    cws_http_head h;
    memset(&h, 0, sizeof h);
    assert_true(cws_http_parse_request(&h, r->head, r->head_len, 0) > 0);
    cws_str key;
    assert_int_equal(cws_http_header(&h, "Sec-WebSocket-Key", &key), 1);
    char accept[29];
    cws_hs_accept_key(key, accept);
    char out[512];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    assert_true(n > 0 && (size_t)n < sizeof out - 16);
    size_t len = (size_t)n;
    if (r->mode == RAW_CLOSE_WITH_101) {
        static const uint8_t frames[] = {0x81, 0x02, 'h', 'i', 0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'};
        memcpy(out + len, frames, sizeof frames);
        len += sizeof frames;
    }
    rt_raw_send(r->fd, out, len); /* one send: one segment on loopback */
    r->answered = 1;
}

static void raw_unwatch(raw_srv *r) {
    if (r->watched) cws_loop_unwatch_fd(r->loop, r->fd);
    r->watched = 0;
}

static void raw_on_readable(cws_loop *loop, int fd, void *user) {
    raw_srv *r = user;
    (void)loop;
    for (;;) {
        if (r->answered && r->mode == RAW_MUTE) {
            raw_unwatch(r); /* never reads again: its buffers fill up */
            return;
        }
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            r->eof = 1;
            raw_unwatch(r);
            return;
        }
        if (n < 0) return;
        if (r->answered) {
            size_t room = sizeof r->after - r->after_len, k = (size_t)n < room ? (size_t)n : room;
            memcpy(r->after + r->after_len, buf, k);
            r->after_len += k;
            continue;
        }
        assert_true(r->head_len + (size_t)n < sizeof r->head);
        memcpy(r->head + r->head_len, buf, (size_t)n);
        r->head_len += (size_t)n;
        r->head[r->head_len] = '\0';
        if (strstr(r->head, "\r\n\r\n")) raw_answer(r);
    }
}

static void raw_on_accept(cws_loop *loop, int lfd, void *user) {
    raw_srv *r = user;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) return;
    assert_int_equal(r->fd, -1); /* one client per test */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    r->fd = fd;
    assert_int_equal(cws_loop_watch_fd(loop, fd, raw_on_readable, r), CWS_OK);
    r->watched = 1;
}

/* rcvbuf > 0 shrinks the receive buffer (inherited by the accepted fd). */
static void raw_start(raw_srv *r, cws_loop *loop, int mode, int rcvbuf) {
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->mode = mode;
    r->fd = -1;
    r->lfd = rt_raw_listen(&r->port, rcvbuf);
    fcntl(r->lfd, F_SETFL, fcntl(r->lfd, F_GETFL) | O_NONBLOCK);
    assert_int_equal(cws_loop_watch_fd(loop, r->lfd, raw_on_accept, r), CWS_OK);
}

static void raw_stop(raw_srv *r) {
    cws_loop_unwatch_fd(r->loop, r->lfd);
    close(r->lfd);
    if (r->fd >= 0) {
        raw_unwatch(r);
        close(r->fd);
    }
    r->fd = -1;
}

/* ------------------------------------------------------------ client side */

typedef struct cl_rec {
    int opened, closed, code, messages;
    char reason[64];
    char protocol_at_open[64];
    char protocol_at_close[64];
} cl_rec;

static void copy_text(char *dst, size_t cap, const char *src, size_t len) {
    size_t k = len < cap - 1 ? len : cap - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
}

static void rec_open(cws_socket *s, void *user) {
    cl_rec *c = user;
    c->opened++;
    const char *p = cws_socket_protocol(s);
    copy_text(c->protocol_at_open, sizeof c->protocol_at_open, p, strlen(p));
}

static void rec_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)s;
    (void)opcode;
    (void)data;
    (void)len;
    ((cl_rec *)user)->messages++;
}

static void rec_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    cl_rec *c = user;
    c->closed++;
    c->code = code;
    copy_text(c->reason, sizeof c->reason, reason, len);
    const char *p = cws_socket_protocol(s);
    copy_text(c->protocol_at_close, sizeof c->protocol_at_close, p, strlen(p));
}

static cws_client_config rec_config(cl_rec *c) {
    cws_client_config cc;
    memset(&cc, 0, sizeof cc);
    memset(c, 0, sizeof *c);
    cc.cb.on_open = rec_open;
    cc.cb.on_message = rec_message;
    cc.cb.on_close = rec_close;
    cc.user = c;
    cc.connect_timeout_ms = 3000;
    cc.close_timeout_ms = 300;
    return cc;
}

static cws_socket *connect_port(cws_loop *loop, int port, const cws_client_config *cc, int *err) {
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    return cws_connect_wait(loop, url, cc, err);
}

/* ------------------------------------------------------------ connect_wait */

/* The server's close frame comes in the segment of the 101: on_open,
 * on_message and on_close all run inside cws_connect_wait, so it must
 * return NULL (CWS_ERR_CLOSED), not a socket the caller was told is gone.
 * The runtime still finishes the close handshake and frees the socket. */
static void test_connect_wait_close_with_101(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    raw_srv r;
    raw_start(&r, loop, RAW_CLOSE_WITH_101, 0);
    cl_rec c;
    cws_client_config cc = rec_config(&c);
    int err = 12345;
    cws_socket *s = connect_port(loop, r.port, &cc, &err);
    assert_null(s);
    assert_int_equal(err, CWS_ERR_CLOSED);
    assert_int_equal(c.opened, 1);
    assert_int_equal(c.messages, 1);
    assert_int_equal(c.closed, 1);
    assert_int_equal(c.code, 1000);
    assert_string_equal(c.reason, "bye");

    /* The client answers the close (a masked close frame echoing 1000)... */
    uint64_t end = cws_loop_now(loop) + 2000;
    while (r.after_len < 8 && cws_loop_now(loop) < end) cws_loop_run_once(loop, 10);
    assert_true(r.after_len >= 8);
    assert_int_equal(r.after[0], 0x88);
    assert_int_equal(r.after[1] & 0x80, 0x80);
    uint8_t code[2] = {(uint8_t)(r.after[6] ^ r.after[2]), (uint8_t)(r.after[7] ^ r.after[3])};
    assert_int_equal(code[0] << 8 | code[1], 1000);
    /* ...and once we close TCP (RFC 6455 §7.1.1) it is gone, with no
     * second on_close. */
    raw_unwatch(&r);
    close(r.fd);
    r.fd = -1;
    rt_pump_for(loop, 100);
    assert_int_equal(c.closed, 1);
    raw_stop(&r);
    cws_loop_free(loop);
    assert_int_equal(c.closed, 1);
}

/* The control case: a 101 alone opens, the socket is returned, and a
 * close arriving later is reported then, once. */
static void test_connect_wait_close_after_return(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    raw_srv r;
    raw_start(&r, loop, RAW_101_ONLY, 0);
    cl_rec c;
    cws_client_config cc = rec_config(&c);
    int err = 12345;
    cws_socket *s = connect_port(loop, r.port, &cc, &err);
    assert_non_null(s);
    assert_int_equal(err, CWS_OK);
    assert_int_equal(c.opened, 1);
    assert_int_equal(c.closed, 0);
    static const uint8_t close_frame[] = {0x88, 0x02, 0x03, 0xe9};
    rt_raw_send(r.fd, close_frame, sizeof close_frame);
    assert_true(rt_pump_until(loop, &c.closed, 2000));
    assert_int_equal(c.code, 1001);
    raw_stop(&r);
    rt_pump_for(loop, 20);
    cws_loop_free(loop);
    assert_int_equal(c.closed, 1);
}

/* ------------------------------------------------------------ high water */

#define CL_HW ((size_t)256 << 10)
#define CL_MSG ((size_t)64 << 10)

typedef struct hw_run {
    cws_socket *s;
    cl_rec *c;
    uint8_t *msg;
    size_t max_buffered;
} hw_run;

static void hw_send_tick(cws_loop *loop, void *user) {
    hw_run *h = user;
    (void)loop;
    if (h->c->closed) return;
    if (cws_socket_send(h->s, CWS_OP_BINARY, h->msg, CL_MSG) != CWS_OK) return;
    if (h->c->closed) return;
    size_t b = cws_socket_buffered_amount(h->s);
    if (b > h->max_buffered) h->max_buffered = b;
}

/* cws_client_config.high_water: 0 keeps the 4 MiB default (1 MiB queued
 * in one go is fine); a small mark makes a client whose server stops
 * reading close with 1008, its queue bounded by the mark plus a message. */
static void test_client_high_water(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    uint8_t *msg = calloc(1, CL_MSG);
    assert_non_null(msg);

    raw_srv r;
    raw_start(&r, loop, RAW_MUTE, 4096);
    cl_rec c;
    cws_client_config cc = rec_config(&c);
    int err = 0;
    cws_socket *s = connect_port(loop, r.port, &cc, &err);
    assert_non_null(s);
    for (int i = 0; i < 16; i++) assert_int_equal(cws_socket_send(s, CWS_OP_BINARY, msg, CL_MSG), CWS_OK);
    assert_true(cws_socket_buffered_amount(s) >= 16 * CL_MSG); /* corked, under 4 MiB: kept */
    assert_int_equal(c.closed, 0);
    cws_socket_close(s, 1000, NULL, 0);
    raw_stop(&r);
    assert_true(rt_pump_until(loop, &c.closed, 2000));

    raw_start(&r, loop, RAW_MUTE, 4096);
    cc = rec_config(&c);
    cc.high_water = CL_HW;
    cc.close_timeout_ms = 200;
    s = connect_port(loop, r.port, &cc, &err);
    assert_non_null(s);
    hw_run h = {s, &c, msg, 0};
    cws_timer *t = cws_timer_start(loop, 1, 1, hw_send_tick, &h, NULL);
    assert_true(rt_pump_until(loop, &c.closed, 10000));
    cws_timer_stop(t);
    assert_int_equal(c.code, 1008);
    assert_true(h.max_buffered > 0);
    assert_true(h.max_buffered <= CL_HW + CL_MSG + 256);
    raw_stop(&r);
    rt_pump_for(loop, 20);
    cws_loop_free(loop);
    free(msg);
}

/* ------------------------------------------------------------ subprotocol */

typedef struct proto_srv {
    const char *want;       /* chosen if offered; NULL: choose none */
    int opened, closed;
    char at_open[64], at_close[64];
    cws_socket *sock;
} proto_srv;

static int proto_select(void *user, const cws_hs_request *req) {
    proto_srv *p = user;
    cws_str offered;
    for (size_t i = 0; p->want && cws_hs_offered_protocol(req, i, &offered); i++)
        if (cws_str_ieq(offered, p->want) && offered.len == strlen(p->want)) return (int)i;
    return -1;
}

static void proto_open(cws_socket *s, void *user) {
    proto_srv *p = user;
    p->opened++;
    p->sock = s;
    const char *v = cws_socket_protocol(s);
    copy_text(p->at_open, sizeof p->at_open, v, strlen(v));
}

static void proto_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    proto_srv *p = user;
    (void)code;
    (void)reason;
    (void)len;
    p->closed++;
    p->sock = NULL;
    const char *v = cws_socket_protocol(s);
    copy_text(p->at_close, sizeof p->at_close, v, strlen(v));
}

static int proto_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)req;
    cws_socket_set_user(s, user);
    assert_string_equal(cws_socket_protocol(s), ""); /* not open yet */
    return 0;
}

static cws_server *proto_server(cws_loop *loop, proto_srv *p, const char *want) {
    memset(p, 0, sizeof *p);
    p->want = want;
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.hs.select_protocol = proto_select;
    cfg.hs.user = p;
    cfg.on_upgrade = proto_upgrade;
    cfg.cb.on_open = proto_open;
    cfg.cb.on_close = proto_close;
    cfg.user = p;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    return srv;
}

/* One session: the client offers `offer`; both ends must report `want`
 * from on_open to on_close. */
static void proto_session(cws_loop *loop, const char *want, const char *offer, const char *expect) {
    proto_srv p;
    cws_server *srv = proto_server(loop, &p, want);
    cl_rec c;
    cws_client_config cc = rec_config(&c);
    cc.protocols = offer;
    int err = 0;
    cws_socket *s = connect_port(loop, cws_server_port(srv), &cc, &err);
    assert_non_null(s);
    assert_string_equal(cws_socket_protocol(s), expect);
    assert_string_equal(c.protocol_at_open, expect);
    assert_true(rt_pump_until(loop, &p.opened, 2000));
    assert_string_equal(p.at_open, expect);
    assert_string_equal(cws_socket_protocol(p.sock), expect);
    assert_int_equal(cws_socket_close(s, 1000, NULL, 0), CWS_OK);
    assert_true(rt_pump_until(loop, &c.closed, 2000));
    assert_true(rt_pump_until(loop, &p.closed, 2000));
    assert_string_equal(c.protocol_at_close, expect);
    assert_string_equal(p.at_close, expect);
    cws_server_free(srv);
}

static void test_protocol_both_sides(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    assert_string_equal(cws_socket_protocol(NULL), "");
    proto_session(loop, "chat.v2", "chat.v1, chat.v2", "chat.v2");
    proto_session(loop, "chat.v1", "chat.v1", "chat.v1");
    proto_session(loop, NULL, "chat.v1, chat.v2", ""); /* offered, none chosen */
    proto_session(loop, "chat.v1", NULL, "");           /* none offered */
    cws_loop_free(loop);
}

/* The request head reaches the server in three pieces (its buffered
 * handshake path): the chosen subprotocol is still there once open. */
static void test_protocol_split_head(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    proto_srv p;
    cws_server *srv = proto_server(loop, &p, "b.example");
    int fd = rt_raw_connect(cws_server_port(srv), 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char req[] =
        "GET /p HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: a.example, b.example\r\n\r\n";
    size_t n = sizeof req - 1, cut1 = 20, cut2 = n - 30;
    rt_raw_send(fd, req, cut1);
    rt_pump_for(loop, 20);
    rt_raw_send(fd, req + cut1, cut2 - cut1);
    rt_pump_for(loop, 20);
    assert_int_equal(p.opened, 0);
    rt_raw_send(fd, req + cut2, n - cut2);
    assert_true(rt_pump_until(loop, &p.opened, 2000));
    assert_string_equal(p.at_open, "b.example");
    assert_string_equal(cws_socket_protocol(p.sock), "b.example");
    char buf[1024];
    size_t len = 0;
    assert_true(rt_raw_read_until(loop, fd, buf, sizeof buf, &len, "\r\n\r\n", 2000));
    assert_non_null(strstr(buf, "\r\nSec-WebSocket-Protocol: b.example\r\n"));
    close(fd);
    assert_true(rt_pump_until(loop, &p.closed, 2000));
    assert_string_equal(p.at_close, "b.example");
    cws_server_free(srv);
    cws_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_wait_close_with_101),
        cmocka_unit_test(test_connect_wait_close_after_return),
        cmocka_unit_test(test_client_high_water),
        cmocka_unit_test(test_protocol_both_sides),
        cmocka_unit_test(test_protocol_split_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
