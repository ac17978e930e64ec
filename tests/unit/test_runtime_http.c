/* The server's handshake path with raw loopback sockets: plain HTTP via
 * on_http (a big reply to a slow reader, a reader that stalls), error
 * answers (400, 403, 426, 431, 505), the Origin list (checked and copied
 * by cws_server_new), the slowloris timeout,
 * max_connections (503), a head split byte by byte, and frames that arrive
 * in the same segment as the head. */
#include "test_runtime_util.h"

static int http_calls;
static cws_server *http_srv;

/* A reply far larger than what the kernel buffers for one socket. */
#define BIG_BODY ((size_t)8 << 20)
static const uint8_t *big_body(void) {
    static uint8_t *body;
    if (!body) {
        body = malloc(BIG_BODY);
        assert_non_null(body);
        for (size_t i = 0; i < BIG_BODY; i++) body[i] = (uint8_t)(i * 7 + (i >> 12));
    }
    return body;
}

static void on_http_hello(cws_http_reply *r, const cws_http_head *req, void *user) {
    (void)user;
    http_calls++;
    if (cws_str_ieq(req->path, "/hello")) {
        assert_int_equal(cws_http_reply_send(r, 200, "text/plain", "hello world\n", 12, "X-Test: 1\r\n"), CWS_OK);
        assert_int_equal(cws_http_reply_send(r, 200, NULL, NULL, 0, NULL), CWS_ERR_STATE);
        /* The request stays readable after replying (ASan checks this). */
        assert_true(cws_str_ieq(req->path, "/hello"));
    } else if (cws_str_ieq(req->path, "/quit")) {
        /* An admin endpoint: shut down from inside on_http, then answer. */
        cws_server_shutdown(http_srv, 1001, 1000);
        assert_int_equal(cws_http_reply_send(r, 200, "text/plain", "bye\n", 4, NULL), CWS_OK);
        assert_true(cws_str_ieq(req->path, "/quit"));
    } else if (cws_str_ieq(req->path, "/big")) {
        assert_int_equal(cws_http_reply_send(r, 200, "application/octet-stream", big_body(), BIG_BODY, NULL), CWS_OK);
    } else if (cws_str_ieq(req->path, "/silent")) {
        /* no reply: the runtime answers 500 */
    } else {
        cws_http_reply_send(r, 404, "text/plain", "nope\n", 5, NULL);
    }
}

static int upgrade_status;
static int opened;

static int on_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)s;
    (void)req;
    (void)user;
    return upgrade_status;
}

static void on_open(cws_socket *s, void *user) {
    (void)s;
    (void)user;
    opened++;
}

static void on_message_echo(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    cws_socket_send(s, opcode, data, len);
}

static cws_server *http_server(cws_loop *loop, cws_server_config *cfg) {
    cfg->host = "127.0.0.1";
    cfg->on_upgrade = on_upgrade;
    cfg->cb.on_open = on_open;
    cfg->cb.on_message = on_message_echo;
    int err = 0;
    cws_server *srv = cws_server_new(loop, cfg, &err);
    assert_non_null(srv);
    http_calls = 0;
    upgrade_status = 0;
    opened = 0;
    return srv;
}

/* Sends req on a fresh connection and reads the whole answer until the
 * server closes. */
static int exchange(cws_loop *loop, int port, const char *req, char *buf, size_t cap, size_t *len) {
    int fd = rt_raw_connect(port, 0);
    assert_true(fd >= 0);
    if (req) rt_raw_send(fd, req, strlen(req));
    int rc = rt_raw_read_all(loop, fd, buf, cap, len, 3000);
    close(fd);
    return rc;
}

static void test_plain_http(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.on_http = on_http_hello;
    cws_server *srv = http_server(loop, &cfg);
    http_srv = srv;
    int port = cws_server_port(srv);
    char buf[4096];
    size_t len;
    assert_int_equal(exchange(loop, port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, &len), 1);
    assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(buf, "Content-Length: 12\r\n"));
    assert_non_null(strstr(buf, "X-Test: 1\r\n"));
    assert_non_null(strstr(buf, "Connection: close\r\n\r\nhello world\n"));
    assert_int_equal(http_calls, 1);
    /* The head in two segments: the buffered slow path. */
    int fd = rt_raw_connect(port, 0);
    rt_raw_send(fd, "GET /hel", 8);
    rt_pump_for(loop, 20);
    rt_raw_send(fd, "lo HTTP/1.1\r\nHost: x\r\n\r\n", 25);
    assert_int_equal(rt_raw_read_all(loop, fd, buf, sizeof buf, &len, 3000), 1);
    close(fd);
    assert_non_null(strstr(buf, "\r\n\r\nhello world\n"));
    assert_int_equal(http_calls, 2);
    /* HEAD: the same head, no body. */
    assert_int_equal(exchange(loop, port, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, &len), 1);
    assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    assert_null(strstr(buf, "hello world"));
    /* A handler that answers nothing gets a 500 on its behalf. */
    assert_int_equal(exchange(loop, port, "GET /silent HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, &len), 1);
    assert_true(strncmp(buf, "HTTP/1.1 500 ", 13) == 0);
    /* Only HTTP/1.0 and 1.1 reach on_http; any other version is a 505. */
    assert_int_equal(exchange(loop, port, "GET /hello HTTP/1.0\r\n\r\n", buf, sizeof buf, &len), 1);
    assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    assert_int_equal(http_calls, 5);
    static const char *const versions[] = {"HTTP/9.9", "HTTP/2.0", "HTTP/1.2", "HTTP/0.9"};
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        char req[64];
        snprintf(req, sizeof req, "GET /hello %s\r\nHost: x\r\n\r\n", versions[i]);
        assert_int_equal(exchange(loop, port, req, buf, sizeof buf, &len), 1);
        assert_true(strncmp(buf, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 41) == 0);
    }
    assert_int_equal(http_calls, 5);
    /* A request with a body the handler never reads still gets its answer. */
    assert_int_equal(exchange(loop, port,
                              "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
                              "0123456789012345678901234567890123456789",
                              buf, sizeof buf, &len),
                     1);
    assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    rt_pump_for(loop, 20);
    assert_int_equal(cws_server_count(srv), 0);
    /* Shutdown requested by a plain-HTTP handler (head split: slow path). */
    fd = rt_raw_connect(port, 0);
    rt_raw_send(fd, "GET /qu", 7);
    rt_pump_for(loop, 20);
    rt_raw_send(fd, "it HTTP/1.1\r\nHost: x\r\n\r\n", 25);
    assert_int_equal(rt_raw_read_all(loop, fd, buf, sizeof buf, &len, 3000), 1);
    close(fd);
    assert_non_null(strstr(buf, "\r\n\r\nbye\n"));
    for (int i = 0; i < 100 && !cws_server_done(srv); i++) cws_loop_run_once(loop, 10);
    assert_int_equal(cws_server_done(srv), 1);
    cws_server_free(srv);

    /* No on_http at all: 404. */
    memset(&cfg, 0, sizeof cfg);
    srv = http_server(loop, &cfg);
    assert_int_equal(exchange(loop, cws_server_port(srv), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, &len),
                     1);
    assert_true(strncmp(buf, "HTTP/1.1 404 ", 13) == 0);
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_rejections(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_handshake_size = 1024;
    cws_server *srv = http_server(loop, &cfg);
    int port = cws_server_port(srv);
    char buf[4096];
    size_t len;
    /* Not HTTP at all. */
    assert_int_equal(exchange(loop, port, "HELLO THERE\r\n\r\n", buf, sizeof buf, &len), 1);
    assert_true(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
    /* An upgrade without Sec-WebSocket-Key. */
    assert_int_equal(exchange(loop, port,
                              "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n",
                              buf, sizeof buf, &len),
                     1);
    assert_true(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
    /* An unsupported version: 426 with the version we speak. */
    assert_int_equal(exchange(loop, port,
                              "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
                              buf, sizeof buf, &len),
                     1);
    assert_true(strncmp(buf, "HTTP/1.1 426 ", 13) == 0);
    assert_non_null(strstr(buf, "Sec-WebSocket-Version: 13"));
    /* A head over max_handshake_size: 431, without waiting for its end. */
    char big[3000];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %02000d\r\n", 7);
    assert_int_equal(exchange(loop, port, big, buf, sizeof buf, &len), 1);
    assert_true(strncmp(buf, "HTTP/1.1 431 ", 13) == 0);
    /* on_upgrade refusing. */
    upgrade_status = 403;
    assert_int_equal(exchange(loop, port, RT_WS_REQUEST, buf, sizeof buf, &len), 1);
    assert_true(strncmp(buf, "HTTP/1.1 403 ", 13) == 0);
    assert_int_equal(opened, 0);
    rt_pump_for(loop, 20);
    assert_int_equal(cws_server_count(srv), 0);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* An upgrade from 127.0.0.1 with the given Origin; returns the status. */
static int origin_status(cws_loop *loop, int port, const char *origin) {
    char req[512], buf[4096];
    size_t len = 0;
    snprintf(req, sizeof req,
             "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n",
             port, origin);
    int fd = rt_raw_connect(port, 0);
    assert_true(fd >= 0);
    rt_raw_send(fd, req, strlen(req));
    assert_int_equal(rt_raw_read_until(loop, fd, buf, sizeof buf, &len, "\r\n\r\n", 3000), 1);
    close(fd);
    return atoi(buf + 9);
}

static void test_origin_config(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    /* An entry that could never match is refused at once. */
    static const char *const bad[] = {"https://a.example/", NULL};
    cfg.hs.allow_origins = bad;
    int err = 0;
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    /* The server keeps its own copy of the list: the caller's may go. */
    char entry[64];
    strcpy(entry, "https://a.example");
    const char *list[] = {entry, NULL};
    cfg.hs.allow_origins = list;
    cfg.hs.same_origin = 1;
    cws_server *srv = http_server(loop, &cfg);
    strcpy(entry, "https://b.example");
    list[0] = NULL;
    int port = cws_server_port(srv);
    char own[64];
    snprintf(own, sizeof own, "http://127.0.0.1:%d", port);
    assert_int_equal(origin_status(loop, port, "https://a.example"), 101);
    assert_int_equal(origin_status(loop, port, own), 101);
    assert_int_equal(origin_status(loop, port, "https://b.example"), 403);
    assert_int_equal(origin_status(loop, port, "null"), 403);
    assert_int_equal(opened, 2);
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_handshake_timeout(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.handshake_timeout_ms = 200;
    cws_server *srv = http_server(loop, &cfg);
    int fd = rt_raw_connect(cws_server_port(srv), 0);
    rt_raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\nUpg", 28); /* and then nothing */
    char buf[256];
    size_t len;
    uint64_t t0 = cws_loop_now(loop);
    int rc = rt_raw_read_all(loop, fd, buf, sizeof buf, &len, 3000);
    uint64_t took = cws_loop_now(loop) - t0;
    assert_true(rc != 0); /* dropped (EOF or reset), not left hanging */
    assert_int_equal(len, 0);
    assert_true(took >= 150 && took < 2000);
    close(fd);
    /* A client that sends nothing at all is dropped too. */
    fd = rt_raw_connect(cws_server_port(srv), 0);
    assert_true(rt_raw_read_all(loop, fd, buf, sizeof buf, &len, 3000) != 0);
    close(fd);
    rt_pump_for(loop, 10);
    assert_int_equal(cws_server_count(srv), 0);
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_max_connections(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_connections = 2;
    cws_server *srv = http_server(loop, &cfg);
    int port = cws_server_port(srv);
    char buf[4096];
    size_t len = 0;
    int a = rt_raw_connect(port, 0), b = rt_raw_connect(port, 0);
    assert_true(rt_ws_handshake(loop, a, buf, sizeof buf, &len));
    assert_true(rt_ws_handshake(loop, b, buf, sizeof buf, &len));
    assert_int_equal(cws_server_count(srv), 2);
    /* The third gets a clean 503 and a close, not a hang. */
    int c = rt_raw_connect(port, 0);
    rt_raw_send(c, RT_WS_REQUEST, strlen(RT_WS_REQUEST));
    assert_int_equal(rt_raw_read_all(loop, c, buf, sizeof buf, &len, 3000), 1);
    assert_true(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    close(c);
    assert_int_equal(cws_server_count(srv), 2);
    /* Once one leaves, there is room again. */
    close(a);
    rt_pump_for(loop, 50);
    assert_int_equal(cws_server_count(srv), 1);
    c = rt_raw_connect(port, 0);
    assert_true(rt_ws_handshake(loop, c, buf, sizeof buf, &len));
    close(b);
    close(c);
    rt_pump_for(loop, 50);
    assert_int_equal(cws_server_count(srv), 0);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* The head one byte per segment (the slow path that buffers), then a
 * frame glued to the head (the bytes after it go straight to the conn). */
static void test_split_head_and_glued_frame(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cws_server *srv = http_server(loop, &cfg);
    int port = cws_server_port(srv);
    int fd = rt_raw_connect(port, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const char *req = RT_WS_REQUEST;
    for (size_t i = 0; req[i]; i++) {
        rt_raw_send(fd, req + i, 1);
        cws_loop_run_once(loop, 0);
    }
    char buf[4096];
    size_t len = 0;
    assert_true(rt_raw_read_until(loop, fd, buf, sizeof buf, &len, "\r\n\r\n", 2000));
    assert_true(strncmp(buf, "HTTP/1.1 101 ", 13) == 0);
    assert_non_null(strstr(buf, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_int_equal(opened, 1);
    close(fd);

    /* Head and a masked "Hi" frame in one send: the echo must come back. */
    fd = rt_raw_connect(port, 0);
    uint8_t seg[1024];
    size_t n = strlen(req);
    memcpy(seg, req, n);
    n += rt_ws_frame(seg + n, CWS_OP_TEXT, "Hi", 2);
    rt_raw_send(fd, seg, n);
    len = 0;
    memset(buf, 0, sizeof buf);
    uint64_t end = cws_loop_now(loop) + 2000;
    const char *frame = NULL;
    while (cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 5);
        ssize_t k = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (k > 0) len += (size_t)k;
        const char *eoh = strstr(buf, "\r\n\r\n");
        if (eoh && (size_t)(eoh + 4 - buf) + 4 <= len) {
            frame = eoh + 4;
            break;
        }
    }
    assert_non_null(frame);
    assert_memory_equal(frame, "\x81\x02Hi", 4);
    close(fd);
    rt_pump_for(loop, 50);
    assert_int_equal(cws_server_count(srv), 0);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* Out of file descriptors: accept fails with EMFILE while the listening
 * socket stays readable. The server must back off, not spin, and accept
 * the waiting clients once fds are available again. */
static void test_accept_emfile_backoff(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cws_server *srv = http_server(loop, &cfg);
    int port = cws_server_port(srv);
    int fds[3];
    for (int i = 0; i < 3; i++) fds[i] = rt_raw_connect(port, 0); /* queued in the backlog */
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int probe = dup(0); /* the lowest free fd: every lower one is taken */
    assert_true(probe >= 0);
    close(probe);
    struct rlimit tight = old;
    tight.rlim_cur = (rlim_t)probe;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
    int rounds = 0;
    uint64_t end = cws_loop_now(loop) + 300;
    while (cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 50);
        rounds++;
    }
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_true(rounds < 40); /* a spinning loop would make thousands */
    assert_int_equal(cws_server_count(srv), 0);
    char buf[1024];
    size_t len;
    /* The waiting clients are served now (valgrind, which emulates the
     * limit, may have dropped them instead: then they see EOF). */
    for (int i = 0; i < 3; i++) {
        int ok = rt_ws_handshake(loop, fds[i], buf, sizeof buf, &len);
        if (!ok) assert_int_equal(rt_raw_read_all(loop, fds[i], buf, sizeof buf, &len, 100), 1);
        close(fds[i]);
    }
    /* And the server accepts again. */
    int fd = rt_raw_connect(port, 0);
    assert_true(rt_ws_handshake(loop, fd, buf, sizeof buf, &len));
    close(fd);
    rt_pump_for(loop, 30);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* A client with a small receive buffer, so that the server's queue, not
 * the kernel, holds most of a big reply. */
static int slow_connect(int port) {
    int fd = rt_raw_connect_rcvbuf(port, 0, 16 << 10);
    assert_true(fd >= 0);
    return fd;
}

/* A reply is judged by its progress, not by the time since it was queued:
 * a client that pauses for 2.5 s in the middle of 8 MiB (more than the
 * kernel buffers) still gets every byte and then a clean EOF. It used to
 * get a clean EOF 2 s after the reply was queued, the rest cut off. */
static void test_slow_reader_gets_whole_reply(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.on_http = on_http_hello;
    cws_server *srv = http_server(loop, &cfg);
    int fd = slow_connect(cws_server_port(srv));
    static const char req[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    rt_raw_send(fd, req, sizeof req - 1);
    static uint8_t got[(8 << 20) + 4096];
    size_t len = 0;
    int eof = 0, paused = 0;
    uint64_t end = cws_loop_now(loop) + 15000;
    while (!eof && cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 1);
        if (len >= (64 << 10) && !paused) {
            rt_pump_for(loop, 2500); /* the reader stalls, then comes back */
            paused = 1;
        }
        ssize_t n;
        while ((n = recv(fd, got + len, sizeof got - len, 0)) > 0) len += (size_t)n;
        if (n == 0) eof = 1;
        else assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    }
    assert_true(eof && paused);
    const char *body = strstr((const char *)got, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_int_equal(len - (size_t)((const uint8_t *)body - got), BIG_BODY);
    assert_memory_equal(body, big_body(), BIG_BODY);
    close(fd);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* A client that takes none of a reply for the handshake timeout is
 * dropped then: it holds the queue and a connection slot until then. */
static void test_stalled_reader_dropped(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.on_http = on_http_hello;
    cfg.handshake_timeout_ms = 300;
    cws_server *srv = http_server(loop, &cfg);
    int fd = slow_connect(cws_server_port(srv));
    static const char req[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    rt_raw_send(fd, req, sizeof req - 1);
    rt_pump_for(loop, 200);
    assert_int_equal(http_calls, 1);
    assert_int_equal(cws_server_count(srv), 1);
    rt_pump_for(loop, 700);
    assert_int_equal(cws_server_count(srv), 0);
    close(fd);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* on_upgrade accepted, then the 101 could not be built (the subprotocol
 * it chose is too long for it): the client gets a 500, and the server
 * hears on_close 1006 for the socket it may have tied state to, with no
 * on_open before it. */
static int late_closes, late_code;

static int pick_first(void *user, const cws_hs_request *req) {
    (void)user;
    (void)req;
    return 0;
}

static void late_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    (void)user;
    (void)reason;
    (void)len;
    late_closes++;
    late_code = code;
}

static void test_accepted_then_failed_101_is_reported(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.hs.select_protocol = pick_first;
    cfg.cb.on_close = late_close;
    late_closes = 0;
    cws_server *srv = http_server(loop, &cfg);
    static char req[4096];
    char proto[1200];
    memset(proto, 'p', sizeof proto - 1);
    proto[sizeof proto - 1] = '\0';
    snprintf(req, sizeof req,
             "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: %s\r\n\r\n",
             proto);
    char buf[2048];
    size_t len;
    exchange(loop, cws_server_port(srv), req, buf, sizeof buf, &len);
    assert_true(strncmp(buf, "HTTP/1.1 500", 12) == 0);
    rt_pump_for(loop, 50);
    assert_int_equal(opened, 0);
    assert_int_equal(late_closes, 1);
    assert_int_equal(late_code, CWS_CLOSE_ABNORMAL);
    cws_server_free(srv);
    cws_loop_free(loop);
    assert_int_equal(late_closes, 1); /* once */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_http),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_origin_config),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_split_head_and_glued_frame),
        cmocka_unit_test(test_accept_emfile_backoff),
        cmocka_unit_test(test_slow_reader_gets_whole_reply),
        cmocka_unit_test(test_stalled_reader_dropped),
        cmocka_unit_test(test_accepted_then_failed_101_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
