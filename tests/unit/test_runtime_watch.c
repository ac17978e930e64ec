/* fd watches with events (cws_loop_watch_fd_events, cws_loop_set_fd_events),
 * on a real socketpair: writability is reported while asked for and only
 * then; reads and writes together; a watch asking for nothing stays quiet
 * even after a hang-up, and wakes when asked again; changing the events
 * from the callback; the read-only cws_loop_watch_fd is unchanged and may
 * be given writability too; bad arguments. The poll(2) backend runs this
 * file as well (tests/integration/test_sanitizers.sh). */
#include "test_runtime_util.h"

typedef struct watch_state {
    cws_loop *loop;
    int fd;
    unsigned seen;       /* the union of the events reported */
    int calls;
    int reads, writes;
    int drop_write;      /* in the callback: stop asking for writability */
    int old_calls;       /* calls of the read-only callback */
} watch_state;

static void on_events(cws_loop *loop, int fd, unsigned events, void *user) {
    watch_state *w = user;
    assert_ptr_equal(loop, w->loop);
    assert_int_equal(fd, w->fd);
    assert_int_not_equal(events, 0);
    assert_int_equal(events & ~(unsigned)(CWS_FD_READ | CWS_FD_WRITE), 0);
    w->seen |= events;
    w->calls++;
    if (events & CWS_FD_READ) {
        char buf[64];
        if (read(fd, buf, sizeof buf) > 0) w->reads++;
    }
    if (events & CWS_FD_WRITE) {
        w->writes++;
        if (w->drop_write) assert_int_equal(cws_loop_set_fd_events(loop, fd, CWS_FD_READ), CWS_OK);
    }
}

static void on_readable(cws_loop *loop, int fd, void *user) {
    watch_state *w = user;
    char buf[64];
    (void)loop;
    w->old_calls++;
    (void)!read(fd, buf, sizeof buf);
}

static void pair(int sv[2]) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(fcntl(sv[i], F_SETFL, O_NONBLOCK), 0);
}

/* A loop and a socketpair; the watch is on sv[0]. */
static void setup(watch_state *w, int sv[2]) {
    pair(sv);
    memset(w, 0, sizeof *w);
    w->loop = cws_loop_new(NULL);
    assert_non_null(w->loop);
    w->fd = sv[0];
}

static void teardown(watch_state *w, int sv[2]) {
    cws_loop_free(w->loop); /* takes the watch with it */
    close(sv[0]);
    if (sv[1] >= 0) close(sv[1]);
}

static void rounds(cws_loop *loop, int n) {
    for (int i = 0; i < n; i++) assert_int_equal(cws_loop_run_once(loop, 20), CWS_OK);
}

static void test_write_then_read(void **state) {
    (void)state;
    int sv[2];
    watch_state w;
    setup(&w, sv);
    /* A fresh socket is writable at once. */
    assert_int_equal(cws_loop_watch_fd_events(w.loop, sv[0], CWS_FD_WRITE, on_events, &w), CWS_OK);
    rounds(w.loop, 1);
    assert_int_equal(w.seen, CWS_FD_WRITE);
    /* Writability is level-triggered: reported every round while asked. */
    rounds(w.loop, 2);
    assert_int_equal(w.writes, 3);
    /* Read only: nothing until the peer writes. */
    assert_int_equal(cws_loop_set_fd_events(w.loop, sv[0], CWS_FD_READ), CWS_OK);
    w.calls = 0;
    rounds(w.loop, 2);
    assert_int_equal(w.calls, 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    rounds(w.loop, 1);
    assert_int_equal(w.reads, 1);
    assert_int_equal(w.writes, 3);
    /* Both at once, in one call. */
    assert_int_equal(write(sv[1], "y", 1), 1);
    assert_int_equal(cws_loop_set_fd_events(w.loop, sv[0], CWS_FD_READ | CWS_FD_WRITE), CWS_OK);
    w.calls = 0;
    rounds(w.loop, 1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.reads, 2);
    assert_int_equal(w.writes, 4);
    cws_loop_unwatch_fd(w.loop, sv[0]);
    teardown(&w, sv);
}

/* The way a client library uses it: ask for writability while it has
 * output, drop it from the callback once flushed. */
static void test_drop_write_from_callback(void **state) {
    (void)state;
    int sv[2];
    watch_state w;
    setup(&w, sv);
    w.drop_write = 1;
    assert_int_equal(cws_loop_watch_fd_events(w.loop, sv[0], CWS_FD_READ | CWS_FD_WRITE, on_events, &w), CWS_OK);
    rounds(w.loop, 4);
    assert_int_equal(w.writes, 1);
    teardown(&w, sv);
}

/* Asking for nothing keeps the watch but reports nothing, not even the
 * hang-up (which epoll and poll report whatever was asked). */
static void test_nothing_asked_is_quiet(void **state) {
    (void)state;
    int sv[2];
    watch_state w;
    setup(&w, sv);
    assert_int_equal(cws_loop_watch_fd_events(w.loop, sv[0], 0, on_events, &w), CWS_OK);
    close(sv[1]);
    sv[1] = -1;
    rounds(w.loop, 2);
    assert_int_equal(w.calls, 0);
    /* One watch per fd, whatever it asks for. */
    assert_int_equal(cws_loop_watch_fd(w.loop, sv[0], on_readable, &w), CWS_ERR_STATE);
    assert_int_equal(cws_loop_set_fd_events(w.loop, sv[0], CWS_FD_READ), CWS_OK);
    rounds(w.loop, 1);
    assert_true(w.seen & CWS_FD_READ); /* the hang-up reads as readable (EOF) */
    assert_int_equal(cws_loop_set_fd_events(w.loop, sv[0], 0), CWS_OK);
    w.calls = 0;
    rounds(w.loop, 2);
    assert_int_equal(w.calls, 0);
    cws_loop_unwatch_fd(w.loop, sv[0]);
    assert_int_equal(cws_loop_set_fd_events(w.loop, sv[0], CWS_FD_READ), CWS_ERR_STATE);
    teardown(&w, sv);
}

static void test_read_only_watch(void **state) {
    (void)state;
    int sv[2];
    watch_state w;
    setup(&w, sv);
    assert_int_equal(cws_loop_watch_fd(w.loop, sv[0], on_readable, &w), CWS_OK);
    rounds(w.loop, 1);
    assert_int_equal(w.old_calls, 0); /* writable, but it asked to read */
    assert_int_equal(write(sv[1], "x", 1), 1);
    rounds(w.loop, 1);
    assert_int_equal(w.old_calls, 1);
    /* Asking it for writability calls the same callback. */
    assert_int_equal(cws_loop_set_fd_events(w.loop, sv[0], CWS_FD_WRITE), CWS_OK);
    rounds(w.loop, 1);
    assert_int_equal(w.old_calls, 2);
    cws_loop_unwatch_fd(w.loop, sv[0]);
    teardown(&w, sv);
}

static void test_bad_arguments(void **state) {
    (void)state;
    int sv[2];
    pair(sv);
    watch_state w = {0};
    cws_loop *loop = cws_loop_new(NULL);
    assert_int_equal(cws_loop_watch_fd_events(NULL, sv[0], CWS_FD_READ, on_events, &w), CWS_ERR_INVALID);
    assert_int_equal(cws_loop_watch_fd_events(loop, -1, CWS_FD_READ, on_events, &w), CWS_ERR_INVALID);
    assert_int_equal(cws_loop_watch_fd_events(loop, sv[0], CWS_FD_READ, NULL, &w), CWS_ERR_INVALID);
    assert_int_equal(cws_loop_watch_fd_events(loop, sv[0], 4, on_events, &w), CWS_ERR_INVALID);
    assert_int_equal(cws_loop_set_fd_events(NULL, sv[0], CWS_FD_READ), CWS_ERR_INVALID);
    assert_int_equal(cws_loop_set_fd_events(loop, sv[0], CWS_FD_READ), CWS_ERR_STATE);
    assert_int_equal(cws_loop_watch_fd_events(loop, sv[0], CWS_FD_READ, on_events, &w), CWS_OK);
    assert_int_equal(cws_loop_set_fd_events(loop, sv[0], 8), CWS_ERR_INVALID);
    assert_int_equal(cws_loop_watch_fd_events(loop, sv[0], CWS_FD_WRITE, on_events, &w), CWS_ERR_STATE);
    cws_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_then_read),        cmocka_unit_test(test_drop_write_from_callback),
        cmocka_unit_test(test_nothing_asked_is_quiet), cmocka_unit_test(test_read_only_watch),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
