/* The runtime over TLS (built with TLS=openssl): cws servers and clients
 * over real loopback sockets, against each other and against a TLS peer
 * written with OpenSSL itself (tls_peer.h), including the cases where the
 * TLS layer, not the socket, decides what the loop must wait for. */
#define _GNU_SOURCE /* memmem */
#include "tls_peer.h"

static tls_files files;

static int group_setup(void **state) {
    (void)state;
    tls_files_make(&files);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    tls_files_remove(&files);
    return 0;
}

/* ------------------------------------------------------------ a TLS echo server */

typedef struct echo_srv {
    int opened, closed, close_code;
    char reason[128];
} echo_srv;

static void srv_on_open(cws_socket *s, void *user) {
    (void)s;
    ((echo_srv *)user)->opened++;
}

static void srv_on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    (void)cws_socket_send(s, opcode, data, len);
}

static void srv_on_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    echo_srv *e = user;
    e->closed++;
    e->close_code = code;
    snprintf(e->reason, sizeof e->reason, "%.*s", (int)len, reason);
}

static int srv_on_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)req;
    cws_socket_set_user(s, user);
    return 0;
}

static void srv_on_http(cws_http_reply *r, const cws_http_head *req, void *user) {
    (void)req;
    (void)user;
    cws_http_reply_send(r, 200, "text/plain", "over tls\n", 9, NULL);
}

static cws_server_config tls_server_cfg(echo_srv *e) {
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ping_interval_ms = CWS_DISABLED;
    cfg.tls.cert_file = files.cert;
    cfg.tls.key_file = files.key;
    cfg.on_upgrade = srv_on_upgrade;
    cfg.on_http = srv_on_http;
    cfg.cb.on_open = srv_on_open;
    cfg.cb.on_message = srv_on_message;
    cfg.cb.on_close = srv_on_close;
    cfg.user = e;
    return cfg;
}

/* ------------------------------------------------------------ a cws client */

typedef struct cli {
    int opened, closed, close_code, got;
    size_t next;                   /* index of the size sent last */
    uint8_t *expect;
    size_t expect_len;
    char reason[160];
} cli;

static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 100000, (size_t)1 << 20};

static void cli_send_next(cws_socket *s, cli *c) {
    size_t n = sizes[c->next];
    for (size_t i = 0; i < n; i++) c->expect[i] = (uint8_t)(i * 7 + c->next);
    c->expect_len = n;
    assert_int_equal(cws_socket_send(s, CWS_OP_BINARY, c->expect, n), CWS_OK);
}

static void cli_on_open(cws_socket *s, void *user) {
    cli *c = user;
    c->opened = 1;
    if (c->expect) cli_send_next(s, c);
}

static void cli_on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    cli *c = user;
    assert_int_equal(opcode, CWS_OP_BINARY);
    assert_int_equal(len, c->expect_len);
    if (len) assert_memory_equal(data, c->expect, len);
    c->got++;
    if (++c->next < sizeof sizes / sizeof sizes[0]) cli_send_next(s, c);
    else cws_socket_close(s, 4000, "done", 4);
}

static void cli_on_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    cli *c = user;
    c->closed = 1;
    c->close_code = code;
    snprintf(c->reason, sizeof c->reason, "%.*s", (int)len, reason);
}

static cws_client_config tls_client_cfg(cli *c) {
    cws_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ping_interval_ms = CWS_DISABLED;
    cfg.connect_timeout_ms = 3000;
    cfg.tls.cafile = files.ca;
    cfg.cb.on_open = cli_on_open;
    cfg.cb.on_message = cli_on_message;
    cfg.cb.on_close = cli_on_close;
    cfg.user = c;
    return cfg;
}

static cws_server *start_server(cws_loop *loop, echo_srv *e, uint32_t handshake_ms) {
    cws_server_config cfg = tls_server_cfg(e);
    cfg.handshake_timeout_ms = handshake_ms;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    return srv;
}

static void url_for(char *out, size_t cap, const char *host, int port) {
    snprintf(out, cap, "wss://%s:%d/echo", host, port);
}

/* ------------------------------------------------------------ tests */

/* cws to cws over TLS: every size up to 1 MiB comes back intact, and the
 * close code crosses both ways. */
static void test_echo_sizes_and_close(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server *srv = start_server(loop, &e, 0);
    assert_string_equal(cws_tls_backend(), "openssl");
    cli c = {0};
    c.expect = malloc((size_t)1 << 20);
    cws_client_config cc = tls_client_cfg(&c);
    char url[64];
    url_for(url, sizeof url, "localhost", cws_server_port(srv));
    assert_non_null(cws_connect(loop, url, &cc, NULL));
    rt_pump_until(loop, &c.closed, 10000);
    assert_int_equal(c.got, (int)(sizeof sizes / sizeof sizes[0]));
    assert_int_equal(c.close_code, 4000);
    rt_pump_until(loop, &e.closed, 2000);
    assert_int_equal(e.opened, 1);
    assert_int_equal(e.close_code, 4000);
    free(c.expect);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* The client checks the certificate and the name by default; cafile,
 * server_name and insecure_skip_verify change exactly that. */
static void test_client_verification(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server *srv = start_server(loop, &e, 0);
    int port = cws_server_port(srv);
    char url[64];
    url_for(url, sizeof url, "localhost", port);
    struct {
        const char *cafile, *server_name, *host;
        int insecure, ok;
        const char *why;
    } cases[] = {
        {NULL, NULL, "localhost", 0, 0, "certificate verify failed"}, /* the system's store: not our CA */
        {files.ca, "other.example", "localhost", 0, 0, "hostname mismatch"},
        {files.ca, NULL, "127.0.0.2", 0, 0, NULL},                     /* connection refused */
        {files.ca, NULL, "127.0.0.1", 0, 1, NULL},                     /* the IP SAN */
        {files.ca, NULL, "localhost", 0, 1, NULL},
        {NULL, NULL, "localhost", 1, 1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli c = {0};
        cws_client_config cc = tls_client_cfg(&c);
        cc.tls.cafile = cases[i].cafile;
        cc.tls.server_name = cases[i].server_name;
        cc.tls.insecure_skip_verify = cases[i].insecure;
        url_for(url, sizeof url, cases[i].host, port);
        int err = 0;
        cws_socket *s = cws_connect_wait(loop, url, &cc, &err);
        if (cases[i].ok) {
            assert_non_null(s);
            cws_socket_close(s, 1000, NULL, 0);
            rt_pump_until(loop, &c.closed, 2000);
            continue;
        }
        assert_null(s);
        assert_int_equal(c.closed, 1);
        assert_int_equal(c.close_code, CWS_CLOSE_ABNORMAL);
        if (cases[i].why) {
            assert_int_equal(err, CWS_ERR_TLS);
            assert_non_null(strstr(c.reason, cases[i].why));
        }
    }
    /* A CA file that cannot be read fails at once. */
    cli c = {0};
    cws_client_config cc = tls_client_cfg(&c);
    cc.tls.cafile = "/nonexistent/ca.pem";
    int err = 0;
    assert_null(cws_connect(loop, url, &cc, &err));
    assert_int_equal(err, CWS_ERR_TLS);
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_server_refuses_bad_files(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server_config cfg = tls_server_cfg(&e);
    int err = 0;
    cfg.tls.cert_file = "/nonexistent/cert.pem";
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_TLS);
    cfg = tls_server_cfg(&e);
    cfg.tls.key_file = files.other_key; /* not the certificate's */
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_TLS);
    /* Encrypted: refused, never a passphrase prompt on the terminal. */
    cfg.tls.key_file = files.enc_key;
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_TLS);
    cws_loop_free(loop);
}

/* Records OpenSSL read ahead, after the runtime's per-event read budget
 * (512 KiB) ran out, are never announced by the fd again: the loop must
 * come back for them by itself. Bursts of a little over 512 KiB of small
 * messages, each its own record; nothing more is sent until every echo of
 * a burst came. Whether a burst's tail is all in OpenSSL's buffer when
 * the budget runs out depends on timing, so there are several bursts of
 * different lengths: without the loop's own second look, some stall. */
static void test_buffered_records_are_read(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server *srv = start_server(loop, &e, 0);
    tls_peer p;
    assert_true(tls_peer_connect(&p, loop, cws_server_port(srv), tls_peer_client_ctx(&files, NULL, 0), 0));
    tls_peer_ws_upgrade(&p, loop);
    enum { PAYLOAD = 100 };
    uint8_t frame[PAYLOAD + 16], payload[PAYLOAD];
    memset(payload, 'r', sizeof payload);
    size_t flen = rt_ws_frame(frame, CWS_OP_TEXT, payload, PAYLOAD);
    for (int burst = 0; burst < 24; burst++) {
        size_t count = (((size_t)512 << 10) + (size_t)burst * 750 + 700) / flen; /* of plaintext */
        for (size_t i = 0; i < count; i++) tls_peer_write(&p, loop, frame, flen);
        size_t echoed = 0;
        /* A stall is 3 s without an echo (valgrind is slow, not stuck). */
        uint64_t end = cws_loop_now(loop) + 3000;
        while (echoed < count && cws_loop_now(loop) < end) {
            cws_loop_run_once(loop, 20);
            tls_peer_read_some(&p);
            size_t len;
            int op;
            while ((op = tls_peer_take_frame(&p, NULL, 0, &len)) >= 0) {
                assert_int_equal(op, CWS_OP_TEXT);
                assert_int_equal(len, PAYLOAD);
                echoed++;
                end = cws_loop_now(loop) + 3000;
            }
        }
        assert_int_equal(echoed, count);
    }
    tls_peer_close(&p);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* A read that must write: the server's read of the ClientHello sends its
 * whole flight (ServerHello ... Finished), here 4 MiB of certificate
 * (more than the kernel takes at once, even on loopback) toward a client
 * whose window is 4 KiB, so OpenSSL's read
 * stops for writability (SSL_ERROR_WANT_WRITE) while no output of ours
 * is queued. The socket must then wait for writable, or the handshake
 * stalls until the timeout. */
static void test_read_that_wants_write(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server_config cfg = tls_server_cfg(&e);
    cfg.tls.cert_file = files.big_cert;
    cfg.handshake_timeout_ms = 5000;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    tls_peer p;
    SSL_CTX *ctx = tls_peer_client_ctx(&files, NULL, 0);
    SSL_CTX_set_max_cert_list(ctx, 8L << 20);
    assert_true(tls_peer_connect(&p, loop, cws_server_port(srv), ctx, 4096));
    tls_peer_ws_upgrade(&p, loop);
    assert_int_equal(e.opened, 1);
    tls_peer_close(&p);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* A TLS 1.3 KeyUpdate asking for ours (RFC 8446 §4.6.3) arrives while
 * the kernel's send buffer toward the peer is full and echoes are
 * queued: our update must go out before them. Once the peer reads,
 * everything, the message sent after the update included, is echoed. */
static void test_key_update_under_full_pipe(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server_config cfg = tls_server_cfg(&e);
    cfg.high_water = (size_t)64 << 20;
    cfg.kernel_unsent_max = CWS_DISABLED;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    tls_peer p;
    SSL_CTX *ctx = tls_peer_client_ctx(&files, NULL, 0);
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    assert_true(tls_peer_connect(&p, loop, cws_server_port(srv), ctx, 4096));
    tls_peer_ws_upgrade(&p, loop);
    enum { BIG = 60000, COUNT = 96 };
    static uint8_t payload[BIG], frame[BIG + 16];
    memset(payload, 'k', sizeof payload);
    size_t flen = rt_ws_frame(frame, CWS_OP_BINARY, payload, BIG);
    for (int i = 0; i < COUNT; i++) tls_peer_write(&p, loop, frame, flen); /* echoes pile up */
    rt_pump_for(loop, 100);
    assert_true(SSL_key_update(p.ssl, SSL_KEY_UPDATE_REQUESTED) == 1);
    uint8_t last[32];
    size_t llen = rt_ws_frame(last, CWS_OP_TEXT, "after", 5);
    tls_peer_write(&p, loop, last, llen); /* sends the KeyUpdate first */
    rt_pump_for(loop, 200);
    assert_int_equal(e.closed, 0);
    int big = 0, after = 0;
    uint64_t end = cws_loop_now(loop) + 10000;
    while (!after && !p.eof && !p.failed && cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 2);
        tls_peer_read_some(&p);
        size_t len;
        int op;
        while ((op = tls_peer_take_frame(&p, NULL, 0, &len)) >= 0) {
            if (op == CWS_OP_BINARY && len == BIG) big++;
            else if (op == CWS_OP_TEXT && len == 5) after = 1;
            else fail_msg("unexpected frame %d of %zu bytes", op, len);
        }
    }
    assert_int_equal(big, COUNT);
    assert_int_equal(after, 1);
    assert_int_equal(e.closed, 0);
    tls_peer_close(&p);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* A write that waits for the peer's bytes (the client's queued request
 * while the server has not answered the ClientHello) must wait for
 * readability, not writability: a socket that is always writable would
 * make the loop spin. The server here accepts TCP and stays silent. */
static void test_write_that_wants_read_does_not_spin(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    int port;
    int lfd = rt_raw_listen(&port, 0);
    cli c = {0};
    cws_client_config cc = tls_client_cfg(&c);
    char url[64];
    url_for(url, sizeof url, "localhost", port);
    assert_non_null(cws_connect(loop, url, &cc, NULL));
    /* Let the ClientHello go out, then count rounds for 300 ms. */
    rt_pump_for(loop, 50);
    int rounds = 0;
    uint64_t end = cws_loop_now(loop) + 300;
    while (cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 20);
        rounds++;
    }
    assert_true(rounds <= 40); /* 15 if the loop sleeps; thousands if it spins */
    assert_int_equal(c.closed, 0);
    /* Now answer: the TLS handshake completes and the request follows. */
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    tls_peer p;
    memset(&p, 0, sizeof p);
    p.fd = fd;
    p.ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate_chain_file(p.ctx, files.cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(p.ctx, files.key, SSL_FILETYPE_PEM), 1);
    p.ssl = SSL_new(p.ctx);
    SSL_set_fd(p.ssl, fd);
    SSL_set_accept_state(p.ssl);
    assert_true(tls_peer_handshake(&p, loop, 3000));
    assert_true(tls_peer_read_until(&p, loop, "Upgrade: websocket", 3000));
    assert_memory_equal(p.in, "GET /echo HTTP/1.1", 18);
    tls_peer_close(&p);
    rt_pump_until(loop, &c.closed, 2000);
    close(lfd);
    cws_loop_free(loop);
}

/* A clean close ends with close_notify (RFC 8446 §6.1), which the peer
 * sees as the end of the stream, not as a truncation. */
static void test_close_sends_close_notify(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server *srv = start_server(loop, &e, 0);
    tls_peer p;
    assert_true(tls_peer_connect(&p, loop, cws_server_port(srv), tls_peer_client_ctx(&files, NULL, 0), 0));
    tls_peer_ws_upgrade(&p, loop);
    uint8_t frame[32];
    uint8_t code[2] = {0x03, 0xe8};
    size_t flen = rt_ws_frame(frame, CWS_OP_CLOSE, code, 2);
    tls_peer_write(&p, loop, frame, flen);
    assert_int_equal(tls_peer_read_to_end(&p, loop, 3000), 1);
    assert_int_equal(e.close_code, 1000);
    tls_peer_close(&p);
    /* A plain-HTTP answer over TLS ends the same way. */
    assert_true(tls_peer_connect(&p, loop, cws_server_port(srv), tls_peer_client_ctx(&files, NULL, 0), 0));
    const char *get = "GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n";
    tls_peer_write(&p, loop, get, strlen(get));
    assert_true(tls_peer_read_until(&p, loop, "over tls\n", 3000));
    assert_memory_equal(p.in, "HTTP/1.1 200", 12);
    assert_int_equal(tls_peer_read_to_end(&p, loop, 3000), 1);
    tls_peer_close(&p);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* ALPN (RFC 7301): http/1.1 is chosen among others; a client offering
 * only other protocols is refused. TLS below 1.2 is refused. */
static void test_alpn_and_versions(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server *srv = start_server(loop, &e, 0);
    int port = cws_server_port(srv);
    tls_peer p;
    static const char both[] = "\x02h2\x08http/1.1", h2[] = "\x02h2";
    assert_true(tls_peer_connect(&p, loop, port, tls_peer_client_ctx(&files, both, sizeof both - 1), 0));
    const unsigned char *sel = NULL;
    unsigned sel_len = 0;
    SSL_get0_alpn_selected(p.ssl, &sel, &sel_len);
    assert_int_equal(sel_len, 8);
    assert_memory_equal(sel, "http/1.1", 8);
    tls_peer_close(&p);
    assert_false(tls_peer_connect(&p, loop, port, tls_peer_client_ctx(&files, h2, sizeof h2 - 1), 0));
    tls_peer_close(&p);
    SSL_CTX *old = tls_peer_client_ctx(&files, NULL, 0);
    SSL_CTX_set_security_level(old, 0);
    SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
    assert_false(tls_peer_connect(&p, loop, port, old, 0));
    tls_peer_close(&p);
    SSL_CTX *v12 = tls_peer_client_ctx(&files, NULL, 0);
    SSL_CTX_set_max_proto_version(v12, TLS1_2_VERSION);
    assert_true(tls_peer_connect(&p, loop, port, v12, 0));
    assert_int_equal(SSL_version(p.ssl), TLS1_2_VERSION);
    tls_peer_ws_upgrade(&p, loop);
    tls_peer_close(&p);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* Hostile first bytes: clear-text HTTP and garbage are dropped, a
 * handshake that stalls halfway is dropped at the handshake timeout, and
 * a good client is served all along. */
static void test_hostile_handshakes(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    echo_srv e = {0};
    cws_server *srv = start_server(loop, &e, 300);
    int port = cws_server_port(srv);
    char buf[4096];
    size_t len;
    int plain = rt_raw_connect(port, 0);
    const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    rt_raw_send(plain, get, strlen(get));
    int garbage = rt_raw_connect(port, 0);
    uint8_t junk[512];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 131 + 7);
    rt_raw_send(garbage, junk, sizeof junk);
    /* Half a ClientHello: a real one's first 60 bytes. */
    SSL_CTX *cctx = tls_peer_client_ctx(&files, NULL, 0);
    SSL *hello = SSL_new(cctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(hello, rb, wb);
    SSL_set_connect_state(hello);
    (void)SSL_do_handshake(hello);
    char *ch;
    long chlen = BIO_get_mem_data(wb, &ch);
    assert_true(chlen > 60);
    int stall = rt_raw_connect(port, 0);
    rt_raw_send(stall, ch, 60);
    uint64_t t0 = cws_loop_now(loop);
    /* A good client meanwhile. */
    cli c = {0};
    cws_client_config cc = tls_client_cfg(&c);
    char url[64];
    url_for(url, sizeof url, "localhost", port);
    assert_non_null(cws_connect_wait(loop, url, &cc, NULL));
    assert_true(rt_raw_read_all(loop, plain, buf, sizeof buf, &len, 2000) != 0);
    assert_null(strstr(buf, "HTTP/1.1 200")); /* nothing in clear text */
    assert_true(rt_raw_read_all(loop, garbage, buf, sizeof buf, &len, 2000) != 0);
    assert_true(rt_raw_read_all(loop, stall, buf, sizeof buf, &len, 3000) != 0);
    assert_true(cws_loop_now(loop) - t0 >= 250);
    assert_int_equal(c.closed, 0);
    assert_int_equal(cws_server_count(srv), 1); /* the good client only */
    SSL_free(hello);
    SSL_CTX_free(cctx);
    close(plain);
    close(garbage);
    close(stall);
    cws_server_free(srv);
    cws_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_sizes_and_close),
        cmocka_unit_test(test_client_verification),
        cmocka_unit_test(test_server_refuses_bad_files),
        cmocka_unit_test(test_buffered_records_are_read),
        cmocka_unit_test(test_read_that_wants_write),
        cmocka_unit_test(test_key_update_under_full_pipe),
        cmocka_unit_test(test_write_that_wants_read_does_not_spin),
        cmocka_unit_test(test_close_sends_close_notify),
        cmocka_unit_test(test_alpn_and_versions),
        cmocka_unit_test(test_hostile_handshakes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
