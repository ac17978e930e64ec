/*
 * cws-clock — a WebSocket server whose clients get the time every second
 * from a worker thread. It shows the one way into a loop from another
 * thread: the worker never touches the server; it hands each message to
 * the loop's thread with cws_loop_post(), which publishes it there to the
 * "clock" topic that every client joins.
 *
 *   cws-clock [--port N]      (N = 0: any free port; the URL is printed)
 *
 * SIGINT/SIGTERM close every client with 1001 and exit 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <cws.h>

#include "../common/signal_pipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct clock_app {
    cws_loop *loop;
    cws_server *server;
    atomic_int quit;          /* tells the worker to stop */
} clock_app;

/* One posted message: the worker allocates it, the job frees it. */
typedef struct clock_job {
    clock_app *app;
    char text[32];
} clock_job;

#define CLOCK_TOPIC "clock"

/* Runs on the loop's thread, where every cws call is allowed. */
static void send_time(cws_loop *loop, void *arg) {
    (void)loop;
    clock_job *job = arg;
    cws_server_publish(job->app->server, CLOCK_TOPIC, sizeof CLOCK_TOPIC - 1, CWS_OP_TEXT, job->text,
                       strlen(job->text), NULL);
    free(job); /* an accepted job runs once: at the latest in cws_loop_free */
}

/* The worker thread: it formats the time and posts it, and calls nothing
 * else of cws. */
static void *worker(void *user) {
    clock_app *app = user;
    while (!atomic_load(&app->quit)) {
        time_t now = time(NULL);
        struct tm tm;
        clock_job *job = malloc(sizeof *job);
        if (job && gmtime_r(&now, &tm)) {
            job->app = app;
            strftime(job->text, sizeof job->text, "%Y-%m-%dT%H:%M:%SZ", &tm);
            if (cws_loop_post(app->loop, send_time, job) == CWS_OK) job = NULL;
        }
        free(job); /* not accepted: still ours */
        /* A second, in slices so that quitting is quick. */
        for (int i = 0; i < 10 && !atomic_load(&app->quit); i++) nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    return NULL;
}

static void poll_shutdown_done(cws_loop *loop, void *user) {
    clock_app *app = user;
    if (cws_server_done(app->server)) cws_loop_stop(loop);
}

/* Every client wants the time: into the topic as soon as it is open. */
static void on_open(cws_socket *s, void *user) {
    (void)user;
    if (cws_socket_subscribe(s, CLOCK_TOPIC, sizeof CLOCK_TOPIC - 1) != CWS_OK)
        cws_socket_close(s, CWS_CLOSE_INTERNAL, "server busy", 11);
}

static void on_signal(cws_loop *loop, int fd, void *user) {
    clock_app *app = user;
    signal_pipe_drain(fd);
    cws_loop_unwatch_fd(loop, fd);
    cws_server_shutdown(app->server, CWS_CLOSE_GOING_AWAY, 3000);
    cws_timer_start(loop, 0, 20, poll_shutdown_done, app, NULL);
}

int main(int argc, char **argv) {
    int port = 9002;
    if (argc == 3 && strcmp(argv[1], "--port") == 0) {
        port = atoi(argv[2]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: cws-clock [--port N]\n");
        return 2;
    }
    clock_app app = {0};
    int sig_fds[2], err = 0;
    app.loop = cws_loop_new(&err);
    if (!app.loop || signal_pipe_install(sig_fds) != 0) {
        fprintf(stderr, "cws-clock: cannot set up the loop: %s\n", app.loop ? "signals" : cws_strerror(err));
        return 1;
    }
    cws_server_config cfg = {0};
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.cb.on_open = on_open;
    app.server = cws_server_new(app.loop, &cfg, &err);
    if (!app.server) {
        fprintf(stderr, "cws-clock: cannot listen on port %d: %s\n", port, cws_strerror(err));
        return 1;
    }
    cws_loop_watch_fd(app.loop, sig_fds[0], on_signal, &app);
    printf("listening on ws://127.0.0.1:%d\n", cws_server_port(app.server));
    fflush(stdout);

    pthread_t th;
    if (pthread_create(&th, NULL, worker, &app) != 0) {
        fprintf(stderr, "cws-clock: cannot start the worker thread\n");
        return 1;
    }
    int rc = cws_loop_run(app.loop);
    /* Join before cws_loop_free: no thread may post once it has returned.
     * A time posted meanwhile runs (and is freed) inside cws_loop_free,
     * before the server goes: so the loop frees the server, not us. */
    atomic_store(&app.quit, 1);
    pthread_join(th, NULL);
    cws_loop_free(app.loop);
    close(sig_fds[0]);
    close(sig_fds[1]);
    return rc == CWS_OK ? 0 : 1;
}
