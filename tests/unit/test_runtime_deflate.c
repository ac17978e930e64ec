/* permessage-deflate in the runtime (src/runtime/server.c, client.c,
 * broadcast_deflate.c): the server applies each handshake's agreement to
 * its socket, cws_connect offers and applies it, broadcasts reach a mix of
 * compressing and plain receivers intact, and receivers without server
 * context takeover get one shared compressed frame (RSV1, the same bytes
 * for all). Real loopback sockets, one loop. */
#include "test_runtime_util.h"

typedef struct rx {
    int opened, closed, got, deflate;
    size_t len;
    char msg[8192];
} rx;

static void rx_open(cws_socket *s, void *user) {
    rx *r = user;
    r->opened = 1;
    r->deflate = cws_socket_deflate(s, NULL);
}

static void rx_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)s;
    (void)opcode;
    rx *r = user;
    assert_true(len <= sizeof r->msg);
    memcpy(r->msg, data, len);
    r->len = len;
    r->got++;
}

static void rx_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    (void)code;
    (void)reason;
    (void)len;
    ((rx *)user)->closed = 1;
}

static int srv_opened;
static void srv_open(cws_socket *s, void *user) {
    (void)s;
    (void)user;
    srv_opened++;
}

static cws_server *deflate_server(cws_loop *loop, int no_takeover) {
    srv_opened = 0;
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.deflate.enable = 1;
    cfg.deflate.server_no_context_takeover = no_takeover;
    cfg.cb.on_open = srv_open;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    return srv;
}

static cws_socket *connect_rx(cws_loop *loop, cws_server *srv, rx *r, int deflate) {
    memset(r, 0, sizeof *r);
    cws_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.deflate.enable = deflate;
    cc.cb.on_open = rx_open;
    cc.cb.on_message = rx_message;
    cc.cb.on_close = rx_close;
    cc.user = r;
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", cws_server_port(srv));
    int err = 0;
    cws_socket *s = cws_connect_wait(loop, url, &cc, &err);
    assert_non_null(s);
    assert_int_equal(r->deflate, deflate);
    return s;
}

/* A JSON-ish message that compresses well, over the default threshold. */
static size_t sample(char *out, size_t cap, int n) {
    size_t len = 0;
    while (len + 64 < cap && len < 5000)
        len += (size_t)snprintf(out + len, cap - len, "{\"type\":\"message\",\"seq\":%d,\"text\":\"hello\"},", n++);
    return len;
}

static void check_broadcast(int no_takeover) {
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = deflate_server(loop, no_takeover);
    rx r[6];
    for (int i = 0; i < 6; i++) connect_rx(loop, srv, &r[i], i < 4);
    while (srv_opened < 6) cws_loop_run_once(loop, 10);
    char msg[8192];
    for (int round = 0; round < 3; round++) {
        size_t n = sample(msg, sizeof msg, round * 100);
        assert_int_equal(cws_server_broadcast(srv, CWS_OP_TEXT, msg, n, NULL), 6);
        for (int i = 0; i < 6; i++) {
            uint64_t end = cws_loop_now(loop) + 3000;
            while (r[i].got <= round && cws_loop_now(loop) < end) cws_loop_run_once(loop, 10);
            assert_int_equal(r[i].got, round + 1);
            assert_int_equal(r[i].len, n);
            assert_memory_equal(r[i].msg, msg, n);
        }
    }
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void test_broadcast_without_takeover(void **state) {
    (void)state;
    check_broadcast(1);
}

static void test_broadcast_with_takeover(void **state) {
    (void)state;
    check_broadcast(0);
}

/* The length of the frame at b (server frames: unmasked, under 64 KiB),
 * or 0 while its header is incomplete. */
static size_t frame_need(const uint8_t *b, size_t len) {
    if (len < 2) return 0;
    size_t l = b[1] & 0x7F;
    if (l < 126) return 2 + l;
    return l == 126 && len >= 4 ? 4 + ((size_t)b[2] << 8 | b[3]) : 0;
}

/* Reads one whole frame off a raw socket (after the 101 head); the test
 * reads each frame before the next is sent. */
static size_t raw_frame(cws_loop *loop, int fd, uint8_t *buf, size_t cap) {
    size_t len = 0;
    uint64_t end = cws_loop_now(loop) + 3000;
    while (cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 5);
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n > 0) len += (size_t)n;
        size_t need = frame_need(buf, len);
        if (need && len >= need) {
            assert_int_equal(len, need);
            return len;
        }
    }
    return 0;
}

/* Two raw clients that offer server_no_context_takeover get the same
 * compressed frame bytes; a message under the threshold goes plain. */
static void test_shared_compressed_frame(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = deflate_server(loop, 0); /* the clients ask for it */
    static const char req[] =
        "GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n";
    int fd[2];
    char head[2048];
    for (int i = 0; i < 2; i++) {
        fd[i] = rt_raw_connect(cws_server_port(srv), 0);
        rt_raw_send(fd[i], req, sizeof req - 1);
        size_t len = 0;
        assert_true(rt_raw_read_until(loop, fd[i], head, sizeof head, &len, "\r\n\r\n", 2000));
        assert_non_null(strstr(head, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"));
    }
    while (srv_opened < 2) cws_loop_run_once(loop, 10);
    char msg[8192];
    size_t n = sample(msg, sizeof msg, 7);
    uint8_t f0[16384], f1[16384];
    for (int round = 0; round < 2; round++) {
        assert_int_equal(cws_server_broadcast(srv, CWS_OP_TEXT, msg, n, NULL), 2);
        size_t a = raw_frame(loop, fd[0], f0, sizeof f0), b = raw_frame(loop, fd[1], f1, sizeof f1);
        assert_true(a > 0 && a < n / 2); /* compressed well */
        assert_int_equal(f0[0], 0xc1);   /* FIN, RSV1, text */
        assert_int_equal(a, b);
        assert_memory_equal(f0, f1, a);
    }
    assert_int_equal(cws_server_broadcast(srv, CWS_OP_TEXT, "short", 5, NULL), 2);
    for (int i = 0; i < 2; i++) {
        size_t a = raw_frame(loop, fd[i], f0, sizeof f0);
        assert_int_equal(a, 7);
        assert_int_equal(f0[0], 0x81); /* under the threshold: plain */
    }
    assert_int_equal(cws_server_broadcast(srv, CWS_OP_TEXT | CWS_SEND_UNCOMPRESSED, msg, n, NULL), 2);
    for (int i = 0; i < 2; i++) {
        size_t a = raw_frame(loop, fd[i], f1, sizeof f1);
        assert_int_equal(f1[0], 0x81);
        assert_int_equal(a, n + 4);
    }
    close(fd[0]);
    close(fd[1]);
    cws_server_free(srv);
    cws_loop_free(loop);
}

static void echo_back(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    assert_int_equal(cws_socket_send(s, opcode, data, len), CWS_OK);
}

/* Without context takeover the codecs are lent per message from the
 * loop's pool: many messages each way, several sockets at once, every
 * one intact (a codec not reset between lenders would corrupt them). */
static void test_pooled_codecs_per_message(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.deflate.enable = 1;
    cfg.deflate.server_no_context_takeover = 1;
    cfg.deflate.client_no_context_takeover = 1;
    cfg.deflate.threshold = CWS_DISABLED;
    cfg.cb.on_message = echo_back;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    rx r[3];
    cws_socket *s[3];
    for (int i = 0; i < 3; i++) s[i] = connect_rx(loop, srv, &r[i], 1);
    char msg[8192];
    for (int round = 0; round < 40; round++) {
        size_t n = sample(msg, sizeof msg, round * 7) - (size_t)(round % 13);
        for (int i = 0; i < 3; i++) assert_int_equal(cws_socket_send(s[i], CWS_OP_TEXT, msg, n), CWS_OK);
        for (int i = 0; i < 3; i++) {
            uint64_t end = cws_loop_now(loop) + 3000;
            while (r[i].got <= round && cws_loop_now(loop) < end) cws_loop_run_once(loop, 5);
            assert_int_equal(r[i].got, round + 1);
            assert_int_equal(r[i].len, n);
            assert_memory_equal(r[i].msg, msg, n);
        }
    }
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* A bad deflate config is refused by the constructor. */
static void test_bad_config_refused(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.deflate.enable = 1;
    cfg.deflate.server_max_window_bits = 16;
    int err = 0;
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    cfg.deflate.server_max_window_bits = 0;
    cfg.deflate.level = 10;
    assert_null(cws_server_new(loop, &cfg, &err));
    assert_int_equal(err, CWS_ERR_INVALID);
    cws_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_without_takeover),
        cmocka_unit_test(test_broadcast_with_takeover),
        cmocka_unit_test(test_shared_compressed_frame),
        cmocka_unit_test(test_pooled_codecs_per_message),
        cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
