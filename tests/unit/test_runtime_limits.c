/* The runtime's protective policies over real loopback sockets: ping/pong
 * RTT and dead-peer detection, the high-water mark (1008), the close
 * timeout, EOF without a close (1006), a protocol violation (1002), and
 * graceful shutdown (1001). */
#include "test_runtime_util.h"

typedef struct lim_state {
    int opened, closed, code;
    char reason[128];
    cws_socket *sock;
    int sent_too_much; /* buffered_amount ever over the bound */
    size_t max_buffered;
} lim_state;

static lim_state st;

static void lim_on_open(cws_socket *s, void *user) {
    (void)user;
    st.opened++;
    st.sock = s;
}

static void lim_on_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)user;
    st.closed++;
    st.code = code;
    size_t k = len < sizeof st.reason - 1 ? len : sizeof st.reason - 1;
    memcpy(st.reason, reason ? reason : "", k);
    st.reason[k] = '\0';
    if (st.sock == s) st.sock = NULL;
}

static cws_server *lim_server(cws_loop *loop, cws_server_config *cfg) {
    memset(&st, 0, sizeof st);
    cfg->host = "127.0.0.1";
    cfg->cb.on_open = lim_on_open;
    cfg->cb.on_close = lim_on_close;
    int err = 0;
    cws_server *srv = cws_server_new(loop, cfg, &err);
    assert_non_null(srv);
    return srv;
}

typedef struct cl_state {
    int opened, closed, code;
} cl_state;

static void cl_open(cws_socket *s, void *user) {
    (void)s;
    ((cl_state *)user)->opened++;
}

static void cl_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    (void)reason;
    (void)len;
    ((cl_state *)user)->closed++;
    ((cl_state *)user)->code = code;
}

static cws_socket *lim_client(cws_loop *loop, int port, cl_state *c, uint32_t ping_ms) {
    cws_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.cb.on_open = cl_open;
    cc.cb.on_close = cl_close;
    cc.user = c;
    cc.ping_interval_ms = ping_ms;
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    int err = 0;
    cws_socket *s = cws_connect_wait(loop, url, &cc, &err);
    assert_non_null(s);
    return s;
}

static void test_ping_rtt(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ping_interval_ms = 40;
    cws_server *srv = lim_server(loop, &cfg);
    cl_state c;
    memset(&c, 0, sizeof c);
    cws_socket *cs = lim_client(loop, cws_server_port(srv), &c, 40);
    assert_true(rt_pump_until(loop, &st.opened, 2000));
    assert_int_equal(cws_socket_rtt_ms(st.sock), -1);
    uint64_t end = cws_loop_now(loop) + 3000;
    while ((cws_socket_rtt_ms(st.sock) < 0 || cws_socket_rtt_ms(cs) < 0) && cws_loop_now(loop) < end)
        cws_loop_run_once(loop, 10);
    assert_true(cws_socket_rtt_ms(st.sock) >= 0 && cws_socket_rtt_ms(st.sock) < 1000);
    assert_true(cws_socket_rtt_ms(cs) >= 0 && cws_socket_rtt_ms(cs) < 1000);
    /* Pings keep a healthy connection open. */
    rt_pump_for(loop, 200);
    assert_int_equal(st.closed, 0);
    assert_int_equal(c.closed, 0);
    cws_server_free(srv);
    assert_true(rt_pump_until(loop, &c.closed, 2000));
    cws_loop_free(loop);
}

/* A peer that never answers pings is dropped: 1006, "no pong". */
static void test_dead_peer(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ping_interval_ms = 50;
    cfg.pong_timeout_ms = 100;
    cws_server *srv = lim_server(loop, &cfg);
    int fd = rt_raw_connect(cws_server_port(srv), 0);
    char buf[4096];
    size_t len;
    assert_true(rt_ws_handshake(loop, fd, buf, sizeof buf, &len));
    uint64_t t0 = cws_loop_now(loop);
    assert_true(rt_pump_until(loop, &st.closed, 3000));
    assert_true(cws_loop_now(loop) - t0 >= 100);
    assert_int_equal(st.code, 1006);
    assert_string_equal(st.reason, "no pong before the deadline");
    /* The raw peer saw a ping, then the TCP close. */
    int rc = rt_raw_read_all(loop, fd, buf, sizeof buf, &len, 2000);
    assert_true(rc != 0);
    close(fd);
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_close_timeout_and_eof(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.close_timeout_ms = 100;
    cws_server *srv = lim_server(loop, &cfg);
    int port = cws_server_port(srv);
    char buf[4096];
    size_t len;
    /* We close; the raw peer never answers: TCP closed after the timeout. */
    int fd = rt_raw_connect(port, 0);
    assert_true(rt_ws_handshake(loop, fd, buf, sizeof buf, &len));
    assert_true(rt_pump_until(loop, &st.opened, 2000));
    assert_int_equal(cws_socket_close(st.sock, 1000, "bye", 3), CWS_OK);
    uint64_t t0 = cws_loop_now(loop);
    assert_true(rt_pump_until(loop, &st.closed, 3000));
    assert_true(cws_loop_now(loop) - t0 >= 90);
    assert_int_equal(st.code, 1006);
    assert_string_equal(st.reason, "close handshake timed out");
    assert_int_equal(rt_raw_read_all(loop, fd, buf, sizeof buf, &len, 2000), 1);
    assert_true(len >= 4 && (uint8_t)buf[0] == 0x88); /* our close frame came first */
    close(fd);

    /* The peer vanishes without a close frame: 1006. */
    memset(&st, 0, sizeof st);
    fd = rt_raw_connect(port, 0);
    assert_true(rt_ws_handshake(loop, fd, buf, sizeof buf, &len));
    assert_true(rt_pump_until(loop, &st.opened, 2000));
    close(fd);
    assert_true(rt_pump_until(loop, &st.closed, 2000));
    assert_int_equal(st.code, 1006);
    rt_pump_for(loop, 10);
    assert_int_equal(cws_server_count(srv), 0);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* An unmasked client frame breaks RFC 6455 §5.1: close 1002, then the
 * server closes TCP. */
static void test_protocol_violation(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cws_server *srv = lim_server(loop, &cfg);
    int fd = rt_raw_connect(cws_server_port(srv), 0);
    char buf[4096];
    size_t len;
    assert_true(rt_ws_handshake(loop, fd, buf, sizeof buf, &len));
    rt_raw_send(fd, "\x81\x02Hi", 4);
    assert_int_equal(rt_raw_read_all(loop, fd, buf, sizeof buf, &len, 2000), 1);
    assert_true(len >= 4);
    assert_int_equal((uint8_t)buf[0], 0x88);
    assert_int_equal(((uint8_t)buf[2] << 8) | (uint8_t)buf[3], 1002);
    assert_true(rt_pump_until(loop, &st.closed, 2000));
    assert_int_equal(st.code, 1002);
    close(fd);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* max_message_size reaches the connection: a bigger message fails it
 * with 1009 on the server, which the client sees as its close code. */
static void test_max_message(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_message_size = 1000;
    cws_server *srv = lim_server(loop, &cfg);
    cl_state c;
    memset(&c, 0, sizeof c);
    cws_socket *cs = lim_client(loop, cws_server_port(srv), &c, 0);
    static uint8_t big[2000];
    assert_int_equal(cws_socket_send(cs, CWS_OP_BINARY, big, sizeof big), CWS_OK);
    assert_true(rt_pump_until(loop, &c.closed, 2000));
    assert_int_equal(c.code, 1009);
    assert_true(rt_pump_until(loop, &st.closed, 2000));
    assert_int_equal(st.code, 1009);
    cws_server_free(srv);
    cws_loop_free(loop);
}

#define HW_LIMIT ((size_t)256 << 10)
#define HW_MSG ((size_t)200 << 10)

static uint8_t *hw_msg;

static void hw_tick(cws_loop *loop, void *user) {
    (void)loop;
    (void)user;
    if (!st.sock) return;
    cws_socket_send(st.sock, CWS_OP_BINARY, hw_msg, HW_MSG);
    if (!st.sock) return;
    size_t b = cws_socket_buffered_amount(st.sock);
    if (b > st.max_buffered) st.max_buffered = b;
}

/* A client that never reads is closed at the high-water mark with 1008,
 * and the server's queue for it stays bounded meanwhile. */
static void test_high_water(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.high_water = HW_LIMIT;
    cfg.close_timeout_ms = 200;
    cws_server *srv = lim_server(loop, &cfg);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)cws_server_port(srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    char buf[4096];
    size_t len;
    assert_true(rt_ws_handshake(loop, fd, buf, sizeof buf, &len));
    assert_true(rt_pump_until(loop, &st.opened, 2000));
    hw_msg = calloc(1, HW_MSG);
    cws_timer *t = cws_timer_start(loop, 1, 2, hw_tick, NULL, NULL);
    assert_true(rt_pump_until(loop, &st.closed, 10000));
    cws_timer_stop(t);
    free(hw_msg);
    assert_int_equal(st.code, 1008);
    assert_true(st.max_buffered <= HW_LIMIT + HW_MSG + 256);
    close(fd);
    rt_pump_for(loop, 10);
    assert_int_equal(cws_server_count(srv), 0);
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void guard_stop(cws_loop *loop, void *user) {
    *(int *)user = 1;
    cws_loop_stop(loop);
}

/* Shutdown: every open socket gets 1001, handshakes in progress are
 * dropped, a peer that never answers is cut at the deadline; then the
 * server is done, every socket gone, and cws_loop_run returns. */
static void test_shutdown(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cws_server *srv = lim_server(loop, &cfg);
    int port = cws_server_port(srv);
    cl_state c[3];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 3; i++) lim_client(loop, port, &c[i], 0);
    int raw = rt_raw_connect(port, 0); /* open, but deaf to the close */
    char buf[4096];
    size_t len;
    assert_true(rt_ws_handshake(loop, raw, buf, sizeof buf, &len));
    int half = rt_raw_connect(port, 0); /* mid-handshake */
    rt_raw_send(half, "GET / HTTP/1.1\r\n", 16);
    rt_pump_for(loop, 30);
    assert_int_equal(st.opened, 4);
    assert_int_equal(cws_server_count(srv), 5);

    cws_server_shutdown(srv, 1001, 300);
    assert_int_equal(cws_server_done(srv), 0);
    int guard_fired = 0;
    cws_timer *guard = cws_timer_start(loop, 3000, 0, guard_stop, &guard_fired, NULL);
    uint64_t t0 = cws_loop_now(loop);
    assert_int_equal(cws_loop_run(loop), CWS_OK); /* returns when the shutdown is done */
    assert_int_equal(guard_fired, 0);
    cws_timer_stop(guard);
    assert_true(cws_loop_now(loop) - t0 >= 250);
    assert_int_equal(cws_server_done(srv), 1);
    assert_int_equal(cws_server_count(srv), 0);
    assert_int_equal(st.closed, 4);
    rt_pump_for(loop, 20);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].closed, 1);
        assert_int_equal(c[i].code, 1001);
    }
    /* The deaf peer got the close frame with 1001, then the TCP close. */
    assert_int_equal(rt_raw_read_all(loop, raw, buf, sizeof buf, &len, 1000), 1);
    assert_true(len >= 4 && (uint8_t)buf[0] == 0x88);
    assert_int_equal(((uint8_t)buf[2] << 8) | (uint8_t)buf[3], 1001);
    assert_true(rt_raw_read_all(loop, half, buf, sizeof buf, &len, 1000) != 0);
    close(raw);
    close(half);
    /* Nobody can connect any more. */
    assert_true(rt_raw_connect(port, 0) < 0);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* ------------------------------------------------------------ timers */

static uint64_t fired_at[300];
static uint64_t due_at[300];
static size_t nfired;
static cws_loop *tloop;

static void order_cb(cws_loop *loop, void *user) {
    size_t i = (size_t)(uintptr_t)user;
    fired_at[nfired++] = due_at[i];
    assert_true(cws_loop_now(loop) >= due_at[i]);
}

static int repeats;
static cws_timer *rep_timer;

static void repeat_cb(cws_loop *loop, void *user) {
    (void)loop;
    (void)user;
    if (++repeats == 5) cws_timer_stop(rep_timer); /* from its own callback */
}

static void never_cb(cws_loop *loop, void *user) {
    (void)loop;
    (void)user;
    fail();
}

static void test_timers(void **state) {
    (void)state;
    tloop = cws_loop_new(NULL);
    uint64_t seed = 12345;
    nfired = 0;
    for (size_t i = 0; i < 300; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t d = (seed >> 33) % 60;
        assert_non_null(cws_timer_start(tloop, d, 0, order_cb, (void *)(uintptr_t)i, NULL));
        due_at[i] = cws_loop_now(tloop) + d; /* start reads the clock */
    }
    cws_timer *never = cws_timer_start(tloop, 30, 0, never_cb, NULL, NULL);
    cws_timer_stop(never); /* stopped before it fires: never runs */
    rep_timer = cws_timer_start(tloop, 5, 5, repeat_cb, NULL, NULL);
    uint64_t end = cws_loop_now(tloop) + 2000;
    while ((nfired < 300 || repeats < 5) && cws_loop_now(tloop) < end) cws_loop_run_once(tloop, -1);
    assert_int_equal(nfired, 300);
    for (size_t i = 1; i < 300; i++) assert_true(fired_at[i - 1] <= fired_at[i]);
    rt_pump_for(tloop, 30);
    assert_int_equal(repeats, 5);
    /* A pending timer is freed with the loop. */
    assert_non_null(cws_timer_start(tloop, 100000, 0, never_cb, NULL, NULL));
    cws_loop_free(tloop);
}

static int watch_calls;

static void watch_cb(cws_loop *loop, int fd, void *user) {
    (void)user;
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    watch_calls++;
    cws_loop_unwatch_fd(loop, fd); /* from its own callback */
}

static void test_fd_watch(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(cws_loop_watch_fd(loop, p[0], watch_cb, NULL), CWS_OK);
    assert_int_equal(cws_loop_watch_fd(loop, p[0], watch_cb, NULL), CWS_ERR_STATE);
    assert_int_equal(cws_loop_watch_fd(loop, 12345, watch_cb, NULL), CWS_ERR_INVALID); /* not open */
    assert_int_equal(write(p[1], "xy", 2), 2);
    rt_pump_for(loop, 30);
    assert_int_equal(watch_calls, 1); /* unwatched after the first byte */
    close(p[0]);
    close(p[1]);
    cws_loop_free(loop);
}

/* A round whose accepts grow the loop's fd arrays (the poll backend's
 * arrays start at 64) while events of that round are still to dispatch:
 * every socket is still served, and nothing reads the arrays' old memory
 * (ASan, in a -DCWS_USE_POLL build). */
static void test_accept_grows_fd_arrays(void **state) {
    (void)state;
    enum { OLD = 63, NEW = 80 };
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cws_server *srv = cws_server_new(loop, &cfg, NULL);
    assert_non_null(srv);
    int port = cws_server_port(srv), fds[OLD + NEW];
    for (int i = 0; i < OLD; i++) assert_true((fds[i] = rt_raw_connect(port, 0)) >= 0);
    rt_pump_for(loop, 100);
    assert_int_equal(cws_server_count(srv), OLD);
    /* Readable old sockets and a readable listen socket in one round. */
    for (int i = 0; i < OLD; i++) rt_raw_send(fds[i], RT_WS_REQUEST, strlen(RT_WS_REQUEST));
    for (int i = OLD; i < OLD + NEW; i++) assert_true((fds[i] = rt_raw_connect(port, 0)) >= 0);
    rt_pump_for(loop, 100);
    assert_int_equal(cws_server_count(srv), OLD + NEW);
    for (int i = 0; i < OLD; i++) {
        char buf[512];
        size_t len = 0;
        assert_true(rt_raw_read_until(loop, fds[i], buf, sizeof buf, &len, "\r\n\r\n", 2000));
        assert_memory_equal(buf, "HTTP/1.1 101", 12);
    }
    for (int i = 0; i < OLD + NEW; i++) close(fds[i]);
    cws_server_free(srv);
    cws_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_rtt),
        cmocka_unit_test(test_dead_peer),
        cmocka_unit_test(test_close_timeout_and_eof),
        cmocka_unit_test(test_protocol_violation),
        cmocka_unit_test(test_high_water),
        cmocka_unit_test(test_max_message),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_fd_watch),
        cmocka_unit_test(test_accept_grows_fd_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
