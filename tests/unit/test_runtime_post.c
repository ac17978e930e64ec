/* cws_loop_post and cws_loop_stop, the loop's thread-safe calls: order and
 * batches on one thread; a stop from another thread; 4 threads posting
 * 100,000 jobs that publish to topics while clients come and go (each job
 * runs exactly once); and cws_loop_free while threads still post (later
 * posts get CWS_ERR_CLOSED, every accepted job runs once, nothing leaks).
 * `make tsan` runs this file under ThreadSanitizer; ASan and valgrind
 * check its leaks (tests/integration/test_sanitizers.sh). */
#include "test_runtime_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ one thread */

typedef struct order_state {
    cws_loop *loop;
    int log[8];
    int n;
    int repost_rc;
} order_state;

static order_state g_order;

static void order_job(cws_loop *loop, void *arg) {
    assert_ptr_equal(loop, g_order.loop);
    g_order.log[g_order.n++] = (int)(intptr_t)arg;
}

static void order_reposting_job(cws_loop *loop, void *arg) {
    order_job(loop, arg);
    g_order.repost_rc = cws_loop_post(loop, order_job, (void *)(intptr_t)9);
}

static void test_post_order_and_batches(void **state) {
    (void)state;
    memset(&g_order, 0, sizeof g_order);
    cws_loop *loop = g_order.loop = cws_loop_new(NULL);
    assert_non_null(loop);
    assert_int_equal(cws_loop_post(NULL, order_job, NULL), CWS_ERR_INVALID);
    assert_int_equal(cws_loop_post(loop, NULL, NULL), CWS_ERR_INVALID);

    assert_int_equal(cws_loop_post(loop, order_job, (void *)(intptr_t)1), CWS_OK);
    assert_int_equal(cws_loop_post(loop, order_reposting_job, (void *)(intptr_t)2), CWS_OK);
    assert_int_equal(cws_loop_post(loop, order_job, (void *)(intptr_t)3), CWS_OK);
    assert_int_equal(g_order.n, 0); /* never inside the post */
    cws_loop_run_once(loop, 1000);
    /* One batch, in order; the job's own post waits for a later round. */
    assert_int_equal(g_order.n, 3);
    assert_int_equal(g_order.log[0], 1);
    assert_int_equal(g_order.log[1], 2);
    assert_int_equal(g_order.log[2], 3);
    assert_int_equal(g_order.repost_rc, CWS_OK);
    cws_loop_run_once(loop, 1000);
    assert_int_equal(g_order.n, 4);
    assert_int_equal(g_order.log[3], 9);

    /* Pending at free: it runs there, once. */
    assert_int_equal(cws_loop_post(loop, order_job, (void *)(intptr_t)5), CWS_OK);
    cws_loop_free(loop);
    assert_int_equal(g_order.n, 5);
    assert_int_equal(g_order.log[4], 5);
}

/* ------------------------------------------------------------ stop */

static void *stop_later(void *arg) {
    sleep_ms(50);
    cws_loop_stop(arg);
    return NULL;
}

static void watchdog(cws_loop *loop, void *user) {
    *(int *)user = 1;
    cws_loop_stop(loop);
}

static void test_stop_from_another_thread(void **state) {
    (void)state;
    cws_loop *loop = cws_loop_new(NULL);
    assert_non_null(loop);
    int fired = 0;
    /* Without the wake-up, run would sleep until this timer. */
    cws_timer *t = cws_timer_start(loop, 20000, 0, watchdog, &fired, NULL);
    assert_non_null(t);
    for (int round = 0; round < 2; round++) { /* a stop is consumed: run works again */
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, stop_later, loop), 0);
        uint64_t start = mono_ms();
        assert_int_equal(cws_loop_run(loop), CWS_OK);
        pthread_join(th, NULL);
        assert_int_equal(fired, 0);
        assert_true(mono_ms() - start < 10000);
    }
    cws_timer_stop(t);
    cws_loop_free(loop);
}

/* ------------------------------------------------------------ stress */

#define STRESS_THREADS 4
#define STRESS_PER_THREAD 25000
#define STRESS_JOBS (STRESS_THREADS * STRESS_PER_THREAD)
#define STRESS_CLIENTS 6

typedef struct stress_job {
    uint32_t id;
} stress_job;

typedef struct client_slot {
    cws_socket *s;
    int open, closing;
} client_slot;

typedef struct stress_state {
    cws_loop *loop;
    cws_server *server;
    char url[64];
    uint8_t seen[STRESS_JOBS];     /* written by the loop thread only */
    atomic_uint ran;
    atomic_uint post_errors;
    int bcast_errors;
    client_slot slots[STRESS_CLIENTS];
    unsigned tick, opens, closes;
    unsigned long messages;
    int watchdog_fired;
} stress_state;

static stress_state *g_st;

static void st_job(cws_loop *loop, void *arg) {
    stress_job *j = arg;
    g_st->seen[j->id]++;
    char msg[32];
    int n = snprintf(msg, sizeof msg, "job %u", (unsigned)j->id);
    /* To one of the four topics every connection joins two of. */
    char topic[2] = {(char)('a' + j->id % 4), 0};
    if (cws_server_publish(g_st->server, topic, 1, CWS_OP_TEXT, msg, (size_t)n, NULL) < 0) g_st->bcast_errors++;
    free(j);
    if (atomic_fetch_add(&g_st->ran, 1) + 1 == STRESS_JOBS) cws_loop_stop(loop);
}

static void *st_worker(void *arg) {
    uint32_t first = (uint32_t)(uintptr_t)arg * STRESS_PER_THREAD;
    for (uint32_t i = 0; i < STRESS_PER_THREAD; i++) {
        stress_job *j = malloc(sizeof *j);
        if (!j) {
            atomic_fetch_add(&g_st->post_errors, 1);
            continue;
        }
        j->id = first + i;
        /* Paced a little, so that jobs keep coming while clients churn. */
        if (i % 250 == 0) sleep_ms(1);
        int rc;
        while ((rc = cws_loop_post(g_st->loop, st_job, j)) == CWS_ERR_TOO_BIG) sched_yield();
        if (rc != CWS_OK) {
            atomic_fetch_add(&g_st->post_errors, 1);
            free(j);
        }
    }
    return NULL;
}

static void cl_open(cws_socket *s, void *user) {
    (void)s;
    client_slot *c = user;
    c->open = 1;
    g_st->opens++;
}

static void cl_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)s, (void)user, (void)opcode, (void)data, (void)len;
    g_st->messages++;
}

static void cl_close(cws_socket *s, void *user, int code, const char *reason, size_t reason_len) {
    (void)s, (void)code, (void)reason, (void)reason_len;
    client_slot *c = user;
    memset(c, 0, sizeof *c);
    g_st->closes++;
}

/* Every 1 ms one slot changes: an empty one connects, an open one leaves. */
static void st_churn(cws_loop *loop, void *user) {
    stress_state *st = user;
    client_slot *c = &st->slots[st->tick++ % STRESS_CLIENTS];
    if (!c->s) {
        cws_client_config cfg = {0};
        cfg.cb.on_open = cl_open;
        cfg.cb.on_message = cl_message;
        cfg.cb.on_close = cl_close;
        cfg.user = c;
        c->s = cws_connect(loop, st->url, &cfg, NULL);
    } else if (c->open && !c->closing) {
        c->closing = 1;
        cws_socket_close(c->s, CWS_CLOSE_NORMAL, NULL, 0);
    }
}

/* Each connection joins two of the topics "a".."d", by turns. */
static void srv_join_topics(cws_socket *s, void *user) {
    static unsigned turn;
    (void)user;
    char t1[2] = {(char)('a' + turn % 4), 0}, t2[2] = {(char)('a' + (turn + 1) % 4), 0};
    turn++;
    assert_int_equal(cws_socket_subscribe(s, t1, 1), CWS_OK);
    assert_int_equal(cws_socket_subscribe(s, t2, 1), CWS_OK);
}

static cws_server *start_server(cws_loop *loop, char *url, size_t cap) {
    cws_server_config cfg = {0};
    cfg.host = "127.0.0.1";
    cfg.cb.on_open = srv_join_topics;
    cws_server *srv = cws_server_new(loop, &cfg, NULL);
    assert_non_null(srv);
    snprintf(url, cap, "ws://127.0.0.1:%d/", cws_server_port(srv));
    return srv;
}

static void test_post_from_four_threads(void **state) {
    (void)state;
    stress_state *st = g_st = calloc(1, sizeof *st);
    assert_non_null(st);
    st->loop = cws_loop_new(NULL);
    assert_non_null(st->loop);
    st->server = start_server(st->loop, st->url, sizeof st->url);
    cws_timer *churn = cws_timer_start(st->loop, 0, 1, st_churn, st, NULL);
    cws_timer *dog = cws_timer_start(st->loop, 60000, 0, watchdog, &st->watchdog_fired, NULL);
    assert_non_null(churn);
    assert_non_null(dog);
    rt_pump_for(st->loop, 20); /* a few clients are on before the jobs */

    pthread_t th[STRESS_THREADS];
    for (uintptr_t i = 0; i < STRESS_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, st_worker, (void *)i), 0);
    assert_int_equal(cws_loop_run(st->loop), CWS_OK);
    for (int i = 0; i < STRESS_THREADS; i++) pthread_join(th[i], NULL);

    assert_int_equal(st->watchdog_fired, 0);
    assert_int_equal(atomic_load(&st->post_errors), 0);
    assert_int_equal(atomic_load(&st->ran), STRESS_JOBS);
    for (size_t i = 0; i < STRESS_JOBS; i++)
        if (st->seen[i] != 1) fail_msg("job %zu ran %d times", i, st->seen[i]);
    assert_int_equal(st->bcast_errors, 0);
    assert_true(st->opens > STRESS_CLIENTS); /* clients did come and go */
    assert_true(st->closes > 0);
    assert_true(st->messages > 0);
    print_message("    %u clients joined, %u left, %lu messages received\n", st->opens, st->closes,
                  st->messages);

    cws_timer_stop(churn);
    cws_timer_stop(dog);
    cws_server_free(st->server);
    cws_loop_free(st->loop);
    free(st);
    g_st = NULL;
}

/* ------------------------------------------------------------ free while posting */

#define FREE_QUOTA 2500              /* fast posts per thread, then one every 200 us */
#define FREE_MAX_IDS (1u << 20)

typedef struct free_state {
    cws_loop *loop;
    cws_server *server;
    char url[64];
    atomic_uint next_id;
    atomic_uint accepted;
    atomic_uint ran;
    atomic_int in_free;              /* main is about to call cws_loop_free */
    atomic_int workers_done;
    atomic_int got_closed;           /* workers whose post came back CLOSED */
    atomic_int overflow;
    uint8_t seen[FREE_MAX_IDS];      /* the loop thread's (main) */
    uint8_t rejected[FREE_MAX_IDS];  /* each id's own worker */
    unsigned ran_in_free;
    int bcast_errors;
    int barrier_ran, barrier_waited, post_in_free_rc;
    unsigned opened;
} free_state;

static free_state *g_fr;

static void fr_job(cws_loop *loop, void *arg) {
    (void)loop;
    stress_job *j = arg;
    g_fr->seen[j->id]++;
    if (atomic_load(&g_fr->in_free)) g_fr->ran_in_free++;
    /* During cws_loop_free the server is still there to send through. */
    if (cws_server_publish(g_fr->server, "a", 1, CWS_OP_BINARY, &j->id, sizeof j->id, NULL) < 0) g_fr->bcast_errors++;
    free(j);
    atomic_fetch_add(&g_fr->ran, 1);
}

static void fr_never(cws_loop *loop, void *arg) {
    (void)loop, (void)arg;
    fail_msg("a job posted after cws_loop_free began ran");
}

/* Posted by main right before cws_loop_free, so it runs inside it: the
 * loop is closed by then, and it holds free back until every worker has
 * seen that (none may post once free has returned). */
static void fr_barrier(cws_loop *loop, void *arg) {
    (void)arg;
    g_fr->barrier_ran = atomic_load(&g_fr->in_free);
    g_fr->post_in_free_rc = cws_loop_post(loop, fr_never, NULL);
    uint64_t end = mono_ms() + 20000;
    while (atomic_load(&g_fr->workers_done) < STRESS_THREADS && mono_ms() < end) sleep_ms(1);
    g_fr->barrier_waited = atomic_load(&g_fr->workers_done) == STRESS_THREADS;
}

static void *fr_worker(void *arg) {
    (void)arg;
    for (unsigned n = 0;; n++) {
        if (n >= FREE_QUOTA) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        uint32_t id = atomic_fetch_add(&g_fr->next_id, 1);
        if (id >= FREE_MAX_IDS) {
            atomic_store(&g_fr->overflow, 1);
            break;
        }
        stress_job *j = malloc(sizeof *j);
        if (!j) continue;
        j->id = id;
        int rc = cws_loop_post(g_fr->loop, fr_job, j);
        if (rc == CWS_OK) {
            atomic_fetch_add(&g_fr->accepted, 1);
            continue;
        }
        g_fr->rejected[id] = 1;
        free(j);
        if (rc == CWS_ERR_CLOSED) {
            atomic_fetch_add(&g_fr->got_closed, 1);
            break;
        }
        if (rc != CWS_ERR_TOO_BIG) break;
        sched_yield();
    }
    atomic_fetch_add(&g_fr->workers_done, 1);
    return NULL;
}

static void fr_open(cws_socket *s, void *user) {
    (void)s, (void)user;
    g_fr->opened++;
}

static void test_free_while_threads_post(void **state) {
    (void)state;
    free_state *fr = g_fr = calloc(1, sizeof *fr);
    assert_non_null(fr);
    fr->loop = cws_loop_new(NULL);
    assert_non_null(fr->loop);
    fr->server = start_server(fr->loop, fr->url, sizeof fr->url);
    cws_client_config cfg = {0};
    cfg.cb.on_open = fr_open;
    for (int i = 0; i < 2; i++) assert_non_null(cws_connect(fr->loop, fr->url, &cfg, NULL));
    for (uint64_t end = mono_ms() + 5000; fr->opened < 2 && mono_ms() < end;) cws_loop_run_once(fr->loop, 10);
    assert_int_equal(fr->opened, 2);

    pthread_t th[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, fr_worker, NULL), 0);
    /* Run some of the jobs, then stop running while the threads go on. */
    for (uint64_t end = mono_ms() + 10000; atomic_load(&fr->ran) < 8000 && mono_ms() < end;)
        cws_loop_run_once(fr->loop, 10);
    assert_true(atomic_load(&fr->ran) >= 8000);

    atomic_store(&fr->in_free, 1);
    stress_job *last = malloc(sizeof *last);
    assert_non_null(last);
    last->id = atomic_fetch_add(&fr->next_id, 1);
    assert_int_equal(cws_loop_post(fr->loop, fr_job, last), CWS_OK); /* pending for sure */
    atomic_fetch_add(&fr->accepted, 1);
    assert_int_equal(cws_loop_post(fr->loop, fr_barrier, NULL), CWS_OK);
    cws_loop_free(fr->loop); /* also frees the server and the clients */
    for (int i = 0; i < STRESS_THREADS; i++) pthread_join(th[i], NULL);

    assert_int_equal(atomic_load(&fr->overflow), 0);
    assert_true(fr->barrier_ran);
    assert_true(fr->barrier_waited);
    assert_int_equal(fr->post_in_free_rc, CWS_ERR_CLOSED);
    assert_int_equal(atomic_load(&fr->got_closed), STRESS_THREADS);
    assert_true(fr->ran_in_free >= 1);
    assert_int_equal(fr->bcast_errors, 0);
    assert_int_equal(atomic_load(&fr->ran), atomic_load(&fr->accepted));
    unsigned ids = atomic_load(&fr->next_id);
    if (ids > FREE_MAX_IDS) ids = FREE_MAX_IDS;
    for (unsigned i = 0; i < ids; i++)
        if (fr->seen[i] + fr->rejected[i] != 1)
            fail_msg("job %u: ran %d times, rejected %d", i, fr->seen[i], fr->rejected[i]);
    print_message("    %u jobs accepted, %u of them run by cws_loop_free\n", atomic_load(&fr->accepted),
                  fr->ran_in_free);
    free(fr);
    g_fr = NULL;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_order_and_batches),
        cmocka_unit_test(test_stop_from_another_thread),
        cmocka_unit_test(test_post_from_four_threads),
        cmocka_unit_test(test_free_while_threads_post),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
