/* The runtime's output-queue cache under broadcast: a broadcast to more
 * sockets than the fixed floor (RT_CACHE_MAX) leaves that many queues
 * cached, the next broadcast reuses them (no new queue is made), and once
 * they sit unused for RT_CACHE_TRIM_MS the cache shrinks back to the
 * floor. Real loopback sockets, one loop. */
#include "test_runtime_util.h"

#include "../../src/runtime/runtime.h"

#define OQC_CLIENTS 200
#define OQC_ROUNDS 5

typedef struct oqc_client {
    cws_socket *s;
    int opened;
    size_t nmsg;
} oqc_client;

static int oqc_srv_opened;

static void oqc_srv_open(cws_socket *s, void *user) {
    (void)s;
    (void)user;
    oqc_srv_opened++;
}

static void oqc_cl_open(cws_socket *s, void *user) {
    (void)s;
    ((oqc_client *)user)->opened = 1;
}

static void oqc_cl_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)s;
    (void)opcode;
    (void)data;
    (void)len;
    ((oqc_client *)user)->nmsg++;
}

static int oqc_all_got(const oqc_client *cl, size_t n) {
    for (int i = 0; i < OQC_CLIENTS; i++)
        if (cl[i].nmsg < n) return 0;
    return 1;
}

static void test_broadcast_queue_cache(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    assert_non_null(loop);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.cb.on_open = oqc_srv_open;
    int err = 0;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    static oqc_client cl[OQC_CLIENTS];
    memset(cl, 0, sizeof cl);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", cws_server_port(srv));
    for (int i = 0; i < OQC_CLIENTS; i++) {
        cws_client_config cc;
        memset(&cc, 0, sizeof cc);
        cc.cb.on_open = oqc_cl_open;
        cc.cb.on_message = oqc_cl_message;
        cc.user = &cl[i];
        cc.connect_timeout_ms = 5000;
        cl[i].s = cws_connect(loop, url, &cc, &err);
        assert_non_null(cl[i].s);
    }
    uint64_t end = cws_loop_now(loop) + 10000;
    while (oqc_srv_opened < OQC_CLIENTS && cws_loop_now(loop) < end) cws_loop_run_once(loop, 10);
    assert_int_equal(oqc_srv_opened, OQC_CLIENTS);

    size_t cached = 0;
    for (int r = 1; r <= OQC_ROUNDS; r++) {
        /* From outside the loop: every recipient's queue is taken before
         * any is flushed, so OQC_CLIENTS queues exist at once. */
        assert_int_equal(cws_server_broadcast(srv, CWS_OP_BINARY, "tick", 4, NULL), OQC_CLIENTS);
        end = cws_loop_now(loop) + 5000;
        while (!oqc_all_got(cl, (size_t)r) && cws_loop_now(loop) < end) cws_loop_run_once(loop, 10);
        assert_true(oqc_all_got(cl, (size_t)r));
        if (r == 1) {
            cached = loop->nq_cache;
            assert_true(cached >= OQC_CLIENTS);
        } else {
            /* reused, not made again: the cache did not grow */
            assert_int_equal(loop->nq_cache, cached);
        }
    }
    /* Idle for more than two trim intervals: back to the floor. */
    rt_pump_for(loop, 2 * RT_CACHE_TRIM_MS + 300);
    assert_int_equal(loop->nq_cache, RT_CACHE_MAX);
    /* and a broadcast still works (queues are made again as needed) */
    assert_int_equal(cws_server_broadcast(srv, CWS_OP_BINARY, "tock", 4, NULL), OQC_CLIENTS);
    end = cws_loop_now(loop) + 5000;
    while (!oqc_all_got(cl, OQC_ROUNDS + 1) && cws_loop_now(loop) < end) cws_loop_run_once(loop, 10);
    assert_true(oqc_all_got(cl, OQC_ROUNDS + 1));

    cws_server_free(srv);
    rt_pump_for(loop, 20);
    cws_loop_free(loop); /* frees the client sockets too */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_queue_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
