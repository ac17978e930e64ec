/* One receiver that never reads among 999 that do, while the server
 * broadcasts 64-byte messages as fast as it can for ~1.5 s, and on until
 * the slow one is gone (issue 18):
 *  - the slow one's queue never passes high_water + one message (+ the
 *    1008 close frame that the policy queues last), so the server's memory
 *    stays bounded;
 *  - it is dropped, and on_close on the server reports 1008;
 *  - every other receiver gets every message, in order (sequence numbers
 *    in the payloads), and none of them is closed.
 * The clients are raw non-blocking sockets read on the loop's thread. */
#include "test_runtime_util.h"

#define SR_READERS 999
#define SR_BATCH 100            /* connects between loop rounds (the backlog) */
#define SR_MSG 64
#define SR_BURST 64             /* broadcasts per loop round */
#define SR_SEND_MS 1500
#define SR_HIGH_WATER ((size_t)64 << 10)
#define SR_FRAME (2 + SR_MSG)   /* unmasked, 7-bit length */
#define SR_CLOSE_FRAME (2 + 125)

typedef struct reader {
    int fd;
    int head_done;
    uint8_t buf[4096];
    size_t have;
    uint64_t next_seq;
    int bad;                    /* out of order, wrong size, or a close */
} reader;

typedef struct sr_state {
    cws_socket *slow;           /* the server's side of the slow receiver */
    int opens, slow_code, other_closes;
} sr_state;

static sr_state g_sr;

static void sr_open(cws_socket *s, void *user) {
    (void)user;
    if (g_sr.opens++ == 0) g_sr.slow = s; /* it connects first, alone */
}

static void sr_close(cws_socket *s, void *user, int code, const char *reason, size_t reason_len) {
    (void)user, (void)reason, (void)reason_len;
    if (s == g_sr.slow) {
        g_sr.slow_code = code;
        g_sr.slow = NULL;
    } else {
        g_sr.other_closes++;
    }
}

/* Consumes whole frames from r->buf: each must be the next message. */
static void reader_parse(reader *r) {
    size_t off = 0;
    while (r->have - off >= 2) {
        const uint8_t *p = r->buf + off;
        size_t len = p[1] & 0x7f;
        if ((p[0] & 0x0f) != CWS_OP_BINARY || len != SR_MSG) {
            r->bad = 1;
            return;
        }
        if (r->have - off < 2 + len) break;
        uint64_t seq = 0;
        memcpy(&seq, p + 2, sizeof seq);
        if (seq != r->next_seq) r->bad = 1;
        r->next_seq = seq + 1;
        off += 2 + len;
    }
    memmove(r->buf, r->buf + off, r->have - off);
    r->have -= off;
}

static void reader_read(reader *r) {
    for (;;) {
        ssize_t n = recv(r->fd, r->buf + r->have, sizeof r->buf - r->have, 0);
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) r->bad = 1;
            return;
        }
        r->have += (size_t)n;
        if (!r->head_done) {
            r->buf[r->have < sizeof r->buf ? r->have : sizeof r->buf - 1] = 0;
            char *end = strstr((char *)r->buf, "\r\n\r\n");
            if (!end) continue;
            size_t head = (size_t)(end + 4 - (char *)r->buf);
            if (strncmp((char *)r->buf, "HTTP/1.1 101", 12) != 0) r->bad = 1;
            memmove(r->buf, r->buf + head, r->have - head);
            r->have -= head;
            r->head_done = 1;
        }
        reader_parse(r);
        if (r->bad) return;
    }
}

static void read_all(reader *rd) {
    for (int i = 0; i < SR_READERS; i++)
        if (!rd[i].bad) reader_read(&rd[i]);
}

static void test_slow_receiver_among_1000(void **state) {
    (void)state;
    memset(&g_sr, 0, sizeof g_sr);
    reader *rd = calloc(SR_READERS, sizeof *rd);
    assert_non_null(rd);
    cws_loop *loop = cws_loop_new(NULL);
    assert_non_null(loop);
    cws_server_config cfg = {0};
    cfg.host = "127.0.0.1";
    cfg.high_water = SR_HIGH_WATER;
    cfg.kernel_unsent_max = 16 << 10; /* the queue fills sooner under valgrind */
    cfg.cb.on_open = sr_open;
    cfg.cb.on_close = sr_close;
    cws_server *srv = cws_server_new(loop, &cfg, NULL);
    assert_non_null(srv);
    int port = cws_server_port(srv);

    /* The slow receiver: a small window, and it never reads a byte. */
    int slow_fd = rt_raw_connect_rcvbuf(port, 0, 4096);
    assert_true(slow_fd >= 0);
    rt_raw_send(slow_fd, RT_WS_REQUEST, strlen(RT_WS_REQUEST));
    for (uint64_t end = cws_loop_now(loop) + 5000; g_sr.opens < 1 && cws_loop_now(loop) < end;)
        cws_loop_run_once(loop, 10);
    assert_non_null(g_sr.slow);

    for (int i = 0; i < SR_READERS; i++) {
        rd[i].fd = rt_raw_connect(port, 0);
        assert_true(rd[i].fd >= 0);
        rt_raw_send(rd[i].fd, RT_WS_REQUEST, strlen(RT_WS_REQUEST));
        if (i % SR_BATCH == SR_BATCH - 1) cws_loop_run_once(loop, 0);
    }
    for (uint64_t end = cws_loop_now(loop) + 20000; g_sr.opens < 1 + SR_READERS && cws_loop_now(loop) < end;)
        cws_loop_run_once(loop, 10);
    assert_int_equal(g_sr.opens, 1 + SR_READERS);
    read_all(rd);

    uint8_t msg[SR_MSG];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)i;
    uint64_t seq = 0;
    size_t slow_max = 0;
    /* At least SR_SEND_MS, and on until the slow one is dropped (which
     * takes longer under valgrind: fewer messages in the same time). */
    uint64_t start = cws_loop_now(loop);
    while (cws_loop_now(loop) - start < SR_SEND_MS || (g_sr.slow && cws_loop_now(loop) - start < 60000)) {
        for (int k = 0; k < SR_BURST; k++, seq++) {
            memcpy(msg, &seq, sizeof seq);
            assert_true(cws_server_broadcast(srv, CWS_OP_BINARY, msg, sizeof msg, NULL) >= SR_READERS);
            size_t q = cws_socket_buffered_amount(g_sr.slow); /* 0 once it is gone */
            if (q > slow_max) slow_max = q;
        }
        cws_loop_run_once(loop, 0);
        read_all(rd);
    }

    /* Let the readers catch up and the slow one's close run out. */
    int done = 0;
    for (uint64_t until = cws_loop_now(loop) + 30000; !done && cws_loop_now(loop) < until;) {
        cws_loop_run_once(loop, 5);
        read_all(rd);
        done = g_sr.slow == NULL;
        for (int i = 0; i < SR_READERS && done; i++) done = rd[i].bad || rd[i].next_seq == seq;
    }
    print_message("    %llu messages of %d bytes to %d readers; the slow one's queue peaked at %zu bytes\n",
                  (unsigned long long)seq, SR_MSG, SR_READERS, slow_max);

    assert_null(g_sr.slow);
    assert_int_equal(g_sr.slow_code, CWS_CLOSE_POLICY);
    assert_true(slow_max > SR_HIGH_WATER / 2); /* it did fill up */
    assert_true(slow_max <= SR_HIGH_WATER + SR_FRAME + SR_CLOSE_FRAME);
    assert_int_equal(g_sr.other_closes, 0);
    for (int i = 0; i < SR_READERS; i++) {
        if (rd[i].bad || rd[i].next_seq != seq)
            fail_msg("reader %d: %llu of %llu messages, bad=%d", i, (unsigned long long)rd[i].next_seq,
                     (unsigned long long)seq, rd[i].bad);
    }

    for (int i = 0; i < SR_READERS; i++) close(rd[i].fd);
    close(slow_fd);
    cws_server_free(srv);
    cws_loop_free(loop);
    free(rd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_receiver_among_1000),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
