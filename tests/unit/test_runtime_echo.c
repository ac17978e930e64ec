/* The runtime end to end over real loopback sockets: a cws_server and
 * cws_connect clients in one loop. Echo of every size class, close
 * handshakes from both sides, 50 clients receiving broadcasts in order,
 * connect failures, IPv6. */
#include "test_runtime_util.h"

typedef struct echo_client {
    cws_socket *s;
    int opened, closed, close_code;
    char close_reason[128];
    size_t nmsg;
    int last_op;
    uint8_t *last;
    size_t last_len;
    uint32_t next_seq; /* broadcast: the sequence number expected next */
    int out_of_order;
    int check_seq;
} echo_client;

typedef struct echo_server_state {
    int opened, closed, last_code;
    cws_socket *last_sock;
} echo_server_state;

static echo_server_state srv_st;

static void srv_on_open(cws_socket *s, void *user) {
    (void)user;
    srv_st.opened++;
    srv_st.last_sock = s;
}

static void srv_on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    assert_int_equal(cws_socket_send(s, opcode, data, len), CWS_OK);
}

static void srv_on_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    (void)user;
    (void)reason;
    (void)len;
    srv_st.closed++;
    srv_st.last_code = code;
    if (srv_st.last_sock == s) srv_st.last_sock = NULL;
}

static void cl_on_open(cws_socket *s, void *user) {
    (void)s;
    ((echo_client *)user)->opened = 1;
}

static void cl_on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)s;
    echo_client *c = user;
    free(c->last);
    c->last = malloc(len ? len : 1);
    assert_non_null(c->last);
    if (len) memcpy(c->last, data, len);
    c->last_len = len;
    c->last_op = opcode;
    c->nmsg++;
    if (c->check_seq && len >= 4 && opcode == CWS_OP_BINARY) {
        uint32_t seq;
        memcpy(&seq, data, 4);
        if (seq != c->next_seq) c->out_of_order = 1;
        c->next_seq = seq + 1;
    }
}

static void cl_on_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    echo_client *c = user;
    c->closed++;
    c->close_code = code;
    c->s = NULL;
    size_t k = len < sizeof c->close_reason - 1 ? len : sizeof c->close_reason - 1;
    memcpy(c->close_reason, reason ? reason : "", k);
    c->close_reason[k] = '\0';
}

static cws_server *start_server(cws_loop *loop, const char *host) {
    memset(&srv_st, 0, sizeof srv_st);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = host;
    cfg.port = 0;
    cfg.cb.on_open = srv_on_open;
    cfg.cb.on_message = srv_on_message;
    cfg.cb.on_close = srv_on_close;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    if (srv) assert_true(cws_server_port(srv) > 0);
    return srv;
}

static cws_client_config client_cfg(echo_client *c) {
    cws_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.cb.on_open = cl_on_open;
    cc.cb.on_message = cl_on_message;
    cc.cb.on_close = cl_on_close;
    cc.user = c;
    cc.connect_timeout_ms = 3000;
    return cc;
}

static cws_socket *connect_to(cws_loop *loop, const char *fmt, int port, echo_client *c) {
    char url[128];
    snprintf(url, sizeof url, fmt, port);
    cws_client_config cc = client_cfg(c);
    int err = 0;
    c->s = cws_connect_wait(loop, url, &cc, &err);
    return c->s;
}

static void echo_roundtrip(cws_loop *loop, echo_client *c, int opcode, size_t len) {
    uint8_t *msg = malloc(len ? len : 1);
    assert_non_null(msg);
    for (size_t i = 0; i < len; i++) msg[i] = (uint8_t)(opcode == CWS_OP_TEXT ? 'a' + i % 26 : (i * 131 + 7) & 0xff);
    size_t before = c->nmsg;
    assert_int_equal(cws_socket_send(c->s, opcode, msg, len), CWS_OK);
    int got = 0;
    uint64_t end = cws_loop_now(loop) + 5000;
    while (c->nmsg == before && cws_loop_now(loop) < end) cws_loop_run_once(loop, 10);
    got = c->nmsg == before + 1;
    assert_true(got);
    assert_int_equal(c->last_op, opcode);
    assert_int_equal(c->last_len, len);
    if (len) assert_memory_equal(c->last, msg, len);
    free(msg);
}

static void test_echo_sizes(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    assert_non_null(loop);
    cws_server *srv = start_server(loop, "127.0.0.1");
    assert_non_null(srv);
    echo_client c;
    memset(&c, 0, sizeof c);
    assert_non_null(connect_to(loop, "ws://127.0.0.1:%d/echo?x=1", cws_server_port(srv), &c));
    assert_int_equal(c.opened, 1);
    assert_true(rt_pump_until(loop, &srv_st.opened, 2000));
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 65537, (size_t)1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        echo_roundtrip(loop, &c, CWS_OP_BINARY, sizes[i]);
        echo_roundtrip(loop, &c, CWS_OP_TEXT, sizes[i]);
    }
    assert_int_equal(cws_socket_buffered_amount(c.s), 0);
    /* Text must be UTF-8: refused before anything is queued. */
    assert_int_equal(cws_socket_send(c.s, CWS_OP_TEXT, "\xc3\x28", 2), CWS_ERR_UTF8);
    assert_int_equal(cws_socket_send(c.s, 0x3, "x", 1), CWS_ERR_INVALID);
    /* The peer address is printable. */
    assert_true(strncmp(cws_socket_peer(c.s), "127.0.0.1:", 10) == 0);

    /* Client-initiated close: both sides report 1000; the server closes TCP. */
    assert_int_equal(cws_socket_close(c.s, 1000, "bye", 3), CWS_OK);
    assert_true(rt_pump_until(loop, &c.closed, 3000));
    assert_true(rt_pump_until(loop, &srv_st.closed, 3000));
    assert_int_equal(c.close_code, 1000);
    assert_int_equal(srv_st.last_code, 1000);
    rt_pump_for(loop, 20);
    assert_int_equal(cws_server_count(srv), 0);
    free(c.last);
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_server_initiated_close(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = start_server(loop, NULL);
    assert_non_null(srv);
    echo_client c;
    memset(&c, 0, sizeof c);
    assert_non_null(connect_to(loop, "ws://localhost:%d", cws_server_port(srv), &c));
    assert_true(rt_pump_until(loop, &srv_st.opened, 2000));
    assert_non_null(srv_st.last_sock);
    assert_int_equal(cws_socket_close(srv_st.last_sock, 4000, "done here", 9), CWS_OK);
    assert_true(rt_pump_until(loop, &c.closed, 3000));
    assert_int_equal(c.close_code, 4000);
    assert_string_equal(c.close_reason, "done here");
    assert_true(rt_pump_until(loop, &srv_st.closed, 3000));
    assert_int_equal(srv_st.last_code, 4000);
    free(c.last);
    cws_server_free(srv);
    cws_loop_free(loop);
}

#define BCAST_CLIENTS 50
#define BCAST_MESSAGES 40

static void test_broadcast_50_clients(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = start_server(loop, "127.0.0.1");
    assert_non_null(srv);
    static echo_client cl[BCAST_CLIENTS];
    memset(cl, 0, sizeof cl);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", cws_server_port(srv));
    for (int i = 0; i < BCAST_CLIENTS; i++) {
        cws_client_config cc = client_cfg(&cl[i]);
        int err = 0;
        cl[i].check_seq = 1;
        cl[i].s = cws_connect(loop, url, &cc, &err);
        assert_non_null(cl[i].s);
    }
    uint64_t end = cws_loop_now(loop) + 5000;
    for (;;) {
        int all = srv_st.opened == BCAST_CLIENTS;
        for (int i = 0; i < BCAST_CLIENTS; i++) all &= cl[i].opened;
        if (all || cws_loop_now(loop) >= end) break;
        cws_loop_run_once(loop, 10);
    }
    assert_int_equal(srv_st.opened, BCAST_CLIENTS);
    for (int i = 0; i < BCAST_CLIENTS; i++) assert_int_equal(cl[i].opened, 1);

    /* Several broadcasts per loop round, with sizes from tiny to 70 KB, so
     * corked batches and shared frames both get exercised. */
    uint8_t *msg = malloc(70000);
    assert_non_null(msg);
    for (uint32_t m = 0; m < BCAST_MESSAGES; m++) {
        size_t len = m % 5 == 4 ? 70000 : 4 + m * 3;
        memset(msg, (int)m, len);
        memcpy(msg, &m, 4);
        assert_int_equal(cws_server_broadcast(srv, CWS_OP_BINARY, msg, len, NULL), BCAST_CLIENTS);
        if (m % 3 == 2) cws_loop_run_once(loop, 0);
    }
    free(msg);
    end = cws_loop_now(loop) + 5000;
    for (;;) {
        int all = 1;
        for (int i = 0; i < BCAST_CLIENTS; i++) all &= cl[i].nmsg == BCAST_MESSAGES;
        if (all || cws_loop_now(loop) >= end) break;
        cws_loop_run_once(loop, 10);
    }
    for (int i = 0; i < BCAST_CLIENTS; i++) {
        assert_int_equal(cl[i].nmsg, BCAST_MESSAGES);
        assert_int_equal(cl[i].out_of_order, 0);
        assert_int_equal(cl[i].next_seq, BCAST_MESSAGES);
    }
    /* except skips one socket; text must be valid UTF-8 */
    assert_int_equal(cws_server_broadcast(srv, CWS_OP_TEXT, "\xff", 1, NULL), CWS_ERR_UTF8);
    assert_int_equal(cws_server_broadcast(srv, CWS_OP_PING, "x", 1, NULL), CWS_ERR_INVALID);

    /* except: everyone but the last-opened server-side socket. */
    assert_int_equal(cws_server_broadcast(srv, CWS_OP_TEXT, "hi", 2, srv_st.last_sock), BCAST_CLIENTS - 1);
    rt_pump_for(loop, 100);
    size_t got_hi = 0;
    for (int i = 0; i < BCAST_CLIENTS; i++) got_hi += cl[i].nmsg == BCAST_MESSAGES + 1;
    assert_int_equal(got_hi, BCAST_CLIENTS - 1);

    for (int i = 0; i < BCAST_CLIENTS; i++) cws_socket_close(cl[i].s, 1000, NULL, 0);
    end = cws_loop_now(loop) + 5000;
    for (;;) {
        int all = srv_st.closed == BCAST_CLIENTS;
        for (int i = 0; i < BCAST_CLIENTS; i++) all &= cl[i].closed == 1;
        if (all || cws_loop_now(loop) >= end) break;
        cws_loop_run_once(loop, 10);
    }
    assert_int_equal(srv_st.closed, BCAST_CLIENTS);
    for (int i = 0; i < BCAST_CLIENTS; i++) {
        free(cl[i].last);
        assert_int_equal(cl[i].closed, 1);
    }
    cws_server_free(srv);
    cws_loop_free(loop);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    close(fd); /* nobody listens there now */
    return ntohs(a.sin_port);
}

static void test_connect_refused(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    int port = free_port();
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    /* Blocking form: NULL and an error; on_close(1006) was still called. */
    echo_client c;
    memset(&c, 0, sizeof c);
    cws_client_config cc = client_cfg(&c);
    int err = 0;
    assert_null(cws_connect_wait(loop, url, &cc, &err));
    assert_int_equal(err, CWS_ERR_IO);
    assert_int_equal(c.closed, 1);
    assert_int_equal(c.close_code, 1006);
    assert_int_equal(c.opened, 0);
    assert_string_equal(c.close_reason, "connection refused");
    /* Async form: on_close(1006) from the loop, never inside cws_connect. */
    memset(&c, 0, sizeof c);
    cc = client_cfg(&c);
    cws_socket *s = cws_connect(loop, url, &cc, &err);
    assert_non_null(s);
    assert_int_equal(c.closed, 0);
    assert_true(rt_pump_until(loop, &c.closed, 2000));
    assert_int_equal(c.close_code, 1006);
    cws_loop_free(loop);
}

static int refuse_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)s;
    (void)req;
    (void)user;
    return 403;
}

/* The server refuses the upgrade: the client's handshake check names it. */
static void test_connect_refused_upgrade(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.on_upgrade = refuse_upgrade;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    echo_client c;
    memset(&c, 0, sizeof c);
    cws_client_config cc = client_cfg(&c);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", cws_server_port(srv));
    assert_null(cws_connect_wait(loop, url, &cc, &err));
    assert_int_equal(err, CWS_ERR_HS_STATUS);
    assert_int_equal(c.closed, 1);
    assert_int_equal(c.close_code, 1006);
    assert_true(strlen(c.close_reason) > 0);
    /* Giving up while connecting: on_close(1006) from the loop. */
    memset(&c, 0, sizeof c);
    cws_socket *s = cws_connect(loop, url, &cc, &err);
    assert_non_null(s);
    assert_int_equal(cws_socket_close(s, 1000, NULL, 0), CWS_OK);
    assert_int_equal(c.closed, 0);
    assert_true(rt_pump_until(loop, &c.closed, 1000));
    assert_int_equal(c.close_code, 1006);
    assert_string_equal(c.close_reason, "closed by the application");
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_bad_urls(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_client c;
    memset(&c, 0, sizeof c);
    cws_client_config cc = client_cfg(&c);
    static const char *bad[] = {
        "wss://",                   "wss://:443/",
        "http://127.0.0.1/",        "ws://",
        "ws://:80/",                "ws://127.0.0.1:0/",
        "ws://127.0.0.1:65536/",    "ws://127.0.0.1:8x/",
        "ws://[::1/",               "ws://[::1]x/",
        "ws://user@127.0.0.1/",     "ws://127.0.0.1/a#frag",
        "ws://127.0.0.1/a b",       "ws://127.0.0.1/\r\nX: y",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int err = 0;
        assert_null(cws_connect(loop, bad[i], &cc, &err));
        assert_int_equal(err, CWS_ERR_INVALID);
    }
    int err = 0;
    if (!cws_tls_backend()) {
        /* Without a TLS backend wss:// is the embedder's job, and so is a
         * certificate. */
        assert_null(cws_connect(loop, "wss://127.0.0.1:1/", &cc, &err));
        assert_int_equal(err, CWS_ERR_INVALID);
        cws_server_config sc;
        memset(&sc, 0, sizeof sc);
        sc.tls.cert_file = "cert.pem";
        assert_null(cws_server_new(loop, &sc, &err));
        assert_int_equal(err, CWS_ERR_INVALID);
    }
    assert_null(cws_connect(loop, "ws://no-such-host.invalid/", &cc, &err));
    assert_int_equal(err, CWS_ERR_RESOLVE);
    assert_int_equal(c.closed, 0);
    cws_loop_free(loop);
}

static void test_connect_timeout(void **state) {
    (void)state;
    /* A listener that never accepts nor answers: the handshake never
     * completes, and connect_timeout_ms covers it. */
    cws_loop *loop = cws_loop_new(NULL);
    int port;
    int lfd = rt_raw_listen(&port, 0);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    echo_client c;
    memset(&c, 0, sizeof c);
    cws_client_config cc = client_cfg(&c);
    cc.connect_timeout_ms = 150;
    int err = 0;
    uint64_t t0 = cws_loop_now(loop);
    assert_null(cws_connect_wait(loop, url, &cc, &err));
    assert_int_equal(err, CWS_ERR_TIMEOUT);
    assert_true(cws_loop_now(loop) - t0 < 2000);
    assert_int_equal(c.close_code, 1006);
    close(lfd);
    cws_loop_free(loop);
}

static void test_ipv6(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = start_server(loop, "::1");
    if (!srv) {
        cws_loop_free(loop);
        skip(); /* no IPv6 loopback here */
    }
    echo_client c;
    memset(&c, 0, sizeof c);
    cws_socket *s = connect_to(loop, "ws://[::1]:%d/six", cws_server_port(srv), &c);
    assert_non_null(s);
    assert_true(strncmp(cws_socket_peer(s), "[::1]:", 6) == 0);
    echo_roundtrip(loop, &c, CWS_OP_TEXT, 300);
    cws_socket_close(s, 1000, NULL, 0);
    assert_true(rt_pump_until(loop, &c.closed, 3000));
    free(c.last);
    cws_server_free(srv);

    /* "::" is dual-stack: IPv6 and IPv4 clients alike. */
    srv = start_server(loop, "::");
    assert_non_null(srv);
    memset(&c, 0, sizeof c);
    assert_non_null(connect_to(loop, "ws://[::1]:%d/", cws_server_port(srv), &c));
    echo_roundtrip(loop, &c, CWS_OP_BINARY, 10);
    echo_client d;
    memset(&d, 0, sizeof d);
    assert_non_null(connect_to(loop, "ws://127.0.0.1:%d/", cws_server_port(srv), &d));
    echo_roundtrip(loop, &d, CWS_OP_BINARY, 10);
    free(c.last);
    free(d.last);
    cws_server_free(srv);
    rt_pump_for(loop, 20);
    cws_loop_free(loop);
}

/* Listening: an address in use is CWS_ERR_IO; with reuse_port two
 * servers (one per thread, in real use) share a port. */
static void test_listen_options(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *a = start_server(loop, "127.0.0.1");
    assert_non_null(a);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.port = cws_server_port(a);
    int err = 0;
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_IO);
    cws_server_free(a);
    cfg.port = 0;
    cfg.reuse_port = 1;
    a = cws_server_new(loop, &cfg, &err);
    assert_non_null(a);
    cfg.port = cws_server_port(a);
    cws_server *b = cws_server_new(loop, &cfg, &err);
    assert_non_null(b);
    assert_int_equal(cws_server_port(b), cfg.port);
    cfg.port = 70000;
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    cfg.port = 0;
    cfg.host = "not an address";
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_RESOLVE);
    cws_server_free(b);
    cws_server_free(a);
    cws_loop_free(loop);
}

/* Freeing a server with open sockets reports 1006 to each, exactly once;
 * freeing the loop closes the remaining client. */
static void test_free_with_open_sockets(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = start_server(loop, "127.0.0.1");
    echo_client c;
    memset(&c, 0, sizeof c);
    assert_non_null(connect_to(loop, "ws://127.0.0.1:%d/", cws_server_port(srv), &c));
    assert_true(rt_pump_until(loop, &srv_st.opened, 2000));
    cws_server_free(srv);
    assert_int_equal(srv_st.closed, 1);
    assert_int_equal(srv_st.last_code, 1006);
    /* The client sees the TCP drop as 1006. */
    assert_true(rt_pump_until(loop, &c.closed, 3000));
    assert_int_equal(c.close_code, 1006);
    free(c.last);
    cws_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_sizes),
        cmocka_unit_test(test_server_initiated_close),
        cmocka_unit_test(test_broadcast_50_clients),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_connect_refused_upgrade),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_free_with_open_sockets),
        cmocka_unit_test(test_listen_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
