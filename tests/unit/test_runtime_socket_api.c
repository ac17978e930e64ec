/* The socket API follows the conn API's rules (src/runtime/socket.c):
 * streamed receive on runtime sockets, fragments and pongs sent through
 * cws_socket_*, UTF-8 checked across fragments, a close reason with a
 * length, and the config rule (0: default, CWS_DISABLED: off, bad
 * values refused). Real loopback sockets, one loop. */
#include "test_runtime_util.h"

typedef struct stream_log {
    int begins, ends, pongs, opened, closed, close_code;
    int op;
    char data[256];
    size_t len;
    size_t chunks;
    cws_socket *sock;
} stream_log;

static stream_log srv_log;

static void srv_open(cws_socket *s, void *user) {
    (void)user;
    srv_log.opened++;
    srv_log.sock = s;
}

static void srv_begin(cws_socket *s, void *user, int opcode) {
    (void)s;
    (void)user;
    srv_log.begins++;
    srv_log.op = opcode;
    srv_log.len = 0;
}

static void srv_data(cws_socket *s, void *user, const uint8_t *data, size_t len) {
    (void)s;
    (void)user;
    assert_true(srv_log.len + len <= sizeof srv_log.data);
    memcpy(srv_log.data + srv_log.len, data, len);
    srv_log.len += len;
    srv_log.chunks++;
}

static void srv_end(cws_socket *s, void *user) {
    (void)user;
    srv_log.ends++;
    /* Echo what was streamed in as one message. */
    assert_int_equal(cws_socket_send(s, srv_log.op, srv_log.data, srv_log.len), CWS_OK);
}

static void srv_pong(cws_socket *s, void *user, const uint8_t *data, size_t len) {
    (void)s;
    (void)user;
    if (len == 5 && memcmp(data, "hello", 5) == 0) srv_log.pongs++;
}

static void srv_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    (void)user;
    (void)reason;
    (void)len;
    srv_log.closed++;
    srv_log.close_code = code;
}

typedef struct client_log {
    int opened, closed, close_code, got;
    char msg[256];
    size_t len;
    char reason[64];
} client_log;

static void cl_open(cws_socket *s, void *user) {
    (void)s;
    ((client_log *)user)->opened = 1;
}

static void cl_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)s;
    (void)opcode;
    client_log *c = user;
    assert_true(len <= sizeof c->msg);
    memcpy(c->msg, data, len);
    c->len = len;
    c->got++;
}

static void cl_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    client_log *c = user;
    c->closed = 1;
    c->close_code = code;
    size_t k = len < sizeof c->reason - 1 ? len : sizeof c->reason - 1;
    memcpy(c->reason, reason, k);
    c->reason[k] = '\0';
}

static cws_server *stream_server(cws_loop *loop) {
    memset(&srv_log, 0, sizeof srv_log);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.receive = CWS_RECEIVE_STREAM;
    cfg.cb.on_open = srv_open;
    cfg.cb.on_message_begin = srv_begin;
    cfg.cb.on_message_data = srv_data;
    cfg.cb.on_message_end = srv_end;
    cfg.cb.on_pong = srv_pong;
    cfg.cb.on_close = srv_close;
    int err = -1;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    assert_int_equal(err, CWS_OK);
    return srv;
}

static cws_socket *connect_client(cws_loop *loop, cws_server *srv, client_log *c) {
    memset(c, 0, sizeof *c);
    cws_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.cb.on_open = cl_open;
    cc.cb.on_message = cl_message;
    cc.cb.on_close = cl_close;
    cc.user = c;
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", cws_server_port(srv));
    int err = 0;
    cws_socket *s = cws_connect_wait(loop, url, &cc, &err);
    assert_non_null(s);
    assert_true(rt_pump_until(loop, &srv_log.opened, 2000));
    return s;
}

/* A text message sent in fragments that cut "é" (c3 a9) and "€" (e2 82
 * ac) in the middle arrives streamed on the server, whole on the echo. */
static void test_fragments_streamed_in(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = stream_server(loop);
    client_log c;
    cws_socket *s = connect_client(loop, srv, &c);
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_TEXT, "caf\xc3", 4, 0), CWS_OK);
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_CONT, "\xa9 2 \xe2\x82", 6, 0), CWS_OK);
    /* A new message may not start inside one (RFC 6455 §5.4). */
    assert_int_equal(cws_socket_send(s, CWS_OP_TEXT, "x", 1), CWS_ERR_STATE);
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_CONT, "\xac", 1, 1), CWS_OK);
    assert_true(rt_pump_until(loop, &c.got, 3000));
    assert_int_equal(srv_log.begins, 1);
    assert_int_equal(srv_log.ends, 1);
    assert_true(srv_log.chunks >= 3);
    assert_int_equal(srv_log.op, CWS_OP_TEXT);
    assert_int_equal(c.len, 11);
    assert_memory_equal(c.msg, "caf\xc3\xa9 2 \xe2\x82\xac", 11);
    /* Binary fragments are not checked. */
    c.got = 0;
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_BINARY, "\xff", 1, 0), CWS_OK);
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_CONT, "\xfe", 1, 1), CWS_OK);
    assert_true(rt_pump_until(loop, &c.got, 3000));
    assert_int_equal(srv_log.ends, 2);
    assert_int_equal(c.len, 2);
    assert_memory_equal(c.msg, "\xff\xfe", 2);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* The senders refuse text that is not UTF-8 before anything is queued:
 * a bad byte in any fragment, or a character the last one leaves open. */
static void test_text_fragments_checked(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = stream_server(loop);
    client_log c;
    cws_socket *s = connect_client(loop, srv, &c);
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_TEXT, "\xff", 1, 1), CWS_ERR_UTF8);
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_TEXT, "ok \xe2", 4, 0), CWS_OK);
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_CONT, "\x82", 1, 1), CWS_ERR_UTF8);
    assert_int_equal(cws_socket_send_fragment(s, CWS_OP_CONT, "\x82\xac!", 3, 1), CWS_OK);
    assert_true(rt_pump_until(loop, &c.got, 3000));
    assert_memory_equal(c.msg, "ok \xe2\x82\xac!", 7);
    /* A close reason is a pointer and a length, UTF-8, like the conn's. */
    assert_int_equal(cws_socket_close(s, 1000, "\xff", 1), CWS_ERR_INVALID);
    assert_int_equal(cws_socket_close(s, 4001, "bye\0x", 5), CWS_OK);
    assert_true(rt_pump_until(loop, &srv_log.closed, 3000));
    assert_int_equal(srv_log.close_code, 4001);
    assert_true(rt_pump_until(loop, &c.closed, 3000));
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_unsolicited_pong(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = stream_server(loop);
    client_log c;
    cws_socket *s = connect_client(loop, srv, &c);
    assert_int_equal(cws_socket_pong(s, "hello", 5), CWS_OK);
    assert_true(rt_pump_until(loop, &srv_log.pongs, 3000));
    char big[126];
    memset(big, 'p', sizeof big);
    assert_int_equal(cws_socket_pong(s, big, sizeof big), CWS_ERR_INVALID);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* 0 is the default, CWS_DISABLED is off, anything else invalid is
 * refused by the constructor with CWS_ERR_INVALID. */
static void test_config_rule(void **state) {
    (void)state;
    int err = 0;
    cws_loop *loop = cws_loop_new(&err);
    assert_non_null(loop);
    assert_int_equal(err, CWS_OK);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_handshake_size = CWS_DISABLED; /* would let a client hold any memory */
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    cfg.max_handshake_size = 0;
    cfg.receive = 7;
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    cws_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.receive = -1;
    assert_null(cws_connect(loop, "ws://127.0.0.1:1/", &cc, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    assert_null(cws_timer_start(loop, 1, 0, NULL, NULL, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    /* Every other limit and timeout may be off. */
    cfg.receive = 0;
    cfg.max_connections = CWS_DISABLED;
    cfg.max_message_size = CWS_DISABLED;
    cfg.high_water = CWS_DISABLED;
    cfg.handshake_timeout_ms = CWS_DISABLED;
    cfg.ping_interval_ms = CWS_DISABLED;
    cfg.pong_timeout_ms = CWS_DISABLED;
    cfg.close_timeout_ms = CWS_DISABLED;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* Pings follow the rule on both roles: a client asked to ping measures a
 * round trip; one with CWS_DISABLED sends none. */
static void test_client_ping_rule(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = stream_server(loop);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", cws_server_port(srv));
    for (int pass = 0; pass < 2; pass++) {
        client_log c;
        memset(&c, 0, sizeof c);
        cws_client_config cc;
        memset(&cc, 0, sizeof cc);
        cc.cb.on_open = cl_open;
        cc.cb.on_close = cl_close;
        cc.user = &c;
        cc.ping_interval_ms = pass == 0 ? 20 : CWS_DISABLED;
        int err = 0;
        cws_socket *s = cws_connect_wait(loop, url, &cc, &err);
        assert_non_null(s);
        rt_pump_for(loop, 200);
        if (pass == 0) assert_true(cws_socket_rtt_ms(s) >= 0);
        else assert_int_equal(cws_socket_rtt_ms(s), -1);
        cws_socket_close(s, 1000, NULL, 0);
        rt_pump_until(loop, &c.closed, 2000);
    }
    cws_server_free(srv);
    cws_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fragments_streamed_in),
        cmocka_unit_test(test_text_fragments_checked),
        cmocka_unit_test(test_unsolicited_pong),
        cmocka_unit_test(test_config_rule),
        cmocka_unit_test(test_client_ping_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
