/* Pacing output by the peer (src/runtime/socket.c): kernel_unsent_max
 * bounds what the kernel takes for a peer that does not read, and
 * cws_socket_want_drain() + on_drain let a long transfer proceed only as
 * the peer reads. Real loopback sockets, one loop. */
#include "test_runtime_util.h"

#define CHUNK ((size_t)64 << 10)
#define BIG_TOTAL ((size_t)4 << 20)

typedef struct pace {
    cws_socket *sock;
    int opened, closed, drains;
    size_t chunks_wanted, chunks_sent;
    size_t blast;      /* on_open queues this many bytes at once */
    int pace;          /* 1: send chunks from on_drain */
} pace;

static pace P;
static uint8_t chunk_buf[CHUNK];

static void send_chunk(cws_socket *s) {
    memset(chunk_buf, (int)(P.chunks_sent & 0xFF), CHUNK);
    assert_int_equal(cws_socket_send(s, CWS_OP_BINARY, chunk_buf, CHUNK), CWS_OK);
    P.chunks_sent++;
}

static void p_open(cws_socket *s, void *user) {
    (void)user;
    P.sock = s;
    P.opened = 1;
    for (size_t sent = 0; sent < P.blast; sent += CHUNK) send_chunk(s);
    if (P.pace) assert_int_equal(cws_socket_want_drain(s), CWS_OK);
}

static void p_drain(cws_socket *s, void *user) {
    (void)user;
    P.drains++;
    if (P.chunks_sent == P.chunks_wanted) return;
    send_chunk(s);
    assert_int_equal(cws_socket_want_drain(s), CWS_OK);
}

static void p_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    (void)user;
    (void)code;
    (void)reason;
    (void)len;
    P.closed = 1;
}

static cws_server *pace_server(cws_loop *loop, size_t kernel_unsent) {
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.high_water = CWS_DISABLED; /* these peers are slow on purpose */
    cfg.kernel_unsent_max = kernel_unsent;
    cfg.cb.on_open = p_open;
    cfg.cb.on_drain = p_drain;
    cfg.cb.on_close = p_close;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    return srv;
}

/* A raw client that completes the handshake and then reads nothing;
 * *early (if not NULL) gets the count of frame bytes read with the 101. */
static int idle_peer(cws_loop *loop, cws_server *srv, size_t *early) {
    int fd = rt_raw_connect(cws_server_port(srv), 0);
    assert_true(fd >= 0);
    char buf[1024];
    size_t len;
    assert_true(rt_ws_handshake(loop, fd, buf, sizeof buf, &len));
    assert_true(rt_pump_until(loop, &P.opened, 2000));
    if (early) *early = len - (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf);
    return fd;
}

/* Reads and discards until want bytes (101 excluded) came or ms pass. */
static size_t drain_peer(cws_loop *loop, int fd, size_t want, uint64_t ms) {
    static char tmp[1 << 16];
    size_t got = 0;
    uint64_t end = cws_loop_now(loop) + ms;
    while (got < want && cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 1);
        ssize_t n;
        while ((n = recv(fd, tmp, sizeof tmp, 0)) > 0) got += (size_t)n;
    }
    return got;
}

/* What the kernel took of BIG_TOTAL queued at once for a peer that never
 * reads. */
static size_t kernel_took(size_t kernel_unsent) {
    memset(&P, 0, sizeof P);
    P.blast = BIG_TOTAL;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = pace_server(loop, kernel_unsent);
    int fd = idle_peer(loop, srv, NULL);
    rt_pump_for(loop, 300);
    size_t took = BIG_TOTAL - cws_socket_buffered_amount(P.sock);
    close(fd);
    cws_server_free(srv);
    cws_loop_free(loop);
    return took;
}

/* The kernel holds at most kernel_unsent_max unsent, plus what the
 * peer's receive window lets through; the rest stays in the queue, where
 * high_water can judge it. Off, the kernel's own autotuning takes MiBs. */
static void test_kernel_unsent_bounds_kernel(void **state) {
    (void)state;
    size_t small = kernel_took(64 << 10);
    size_t dflt = kernel_took(0);
    size_t off = kernel_took(CWS_DISABLED);
    printf("# kernel took %zu KiB (64 KiB limit), %zu KiB (default), %zu KiB (off)\n", small >> 10, dflt >> 10,
           off >> 10);
    assert_true(small < ((size_t)768 << 10));
    assert_true(dflt < ((size_t)1 << 20));
    assert_true(off > small);
}

/* Chunks sent from on_drain go out as fast as the peer reads: a peer that
 * stops reading stops the transfer after a few chunks; once it reads
 * again, every chunk arrives. */
static void test_drain_paces_a_transfer(void **state) {
    (void)state;
    memset(&P, 0, sizeof P);
    P.pace = 1;
    P.chunks_wanted = BIG_TOTAL / CHUNK;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = pace_server(loop, 64 << 10);
    size_t first;
    int fd = idle_peer(loop, srv, &first);
    rt_pump_for(loop, 300);
    size_t early = P.chunks_sent;
    printf("# %zu of %zu chunks sent to a peer that does not read\n", early, P.chunks_wanted);
    assert_true(early >= 1 && early <= 12);
    assert_true(cws_socket_buffered_amount(P.sock) <= CHUNK + 14); /* at most one frame queued */

    size_t want = P.chunks_wanted * (CHUNK + 10); /* payload + frame header */
    size_t got = first + drain_peer(loop, fd, want - first, 5000);
    assert_int_equal(P.chunks_sent, P.chunks_wanted);
    assert_int_equal(got, want);
    assert_true(P.drains >= (int)P.chunks_wanted);
    close(fd);
    cws_server_free(srv);
    cws_loop_free(loop);
}

/* Asked with nothing queued, on_drain comes in the same loop round; once
 * the socket is closing, no call is promised: CWS_ERR_CLOSED. */
static void test_drain_when_empty_and_closed(void **state) {
    (void)state;
    memset(&P, 0, sizeof P);
    P.chunks_wanted = 0;
    cws_loop *loop = cws_loop_new(NULL);
    cws_server *srv = pace_server(loop, 0);
    int fd = idle_peer(loop, srv, NULL);
    assert_int_equal(cws_socket_want_drain(P.sock), CWS_OK);
    cws_loop_run_once(loop, 0);
    assert_int_equal(P.drains, 1);
    cws_loop_run_once(loop, 0);
    assert_int_equal(P.drains, 1); /* once per request */
    assert_int_equal(cws_socket_want_drain(NULL), CWS_ERR_INVALID);
    assert_int_equal(cws_socket_close(P.sock, CWS_CLOSE_NORMAL, NULL, 0), CWS_OK);
    assert_int_equal(cws_socket_want_drain(P.sock), CWS_ERR_CLOSED);
    close(fd);
    assert_true(rt_pump_until(loop, &P.closed, 2000));
    assert_int_equal(P.drains, 1);
    cws_server_free(srv);
    cws_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_unsent_bounds_kernel),
        cmocka_unit_test(test_drain_paces_a_transfer),
        cmocka_unit_test(test_drain_when_empty_and_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
