/*
 * cws-client — a command-line WebSocket client (like wscat or websocat).
 *
 *   cws-client [--binary] [--raw] [--subprotocol P] [--header 'N: V']...
 *              [--ping N] [--keepalive N] [--keepalive-timeout T] [--verbose]
 *              [--cafile FILE] [--insecure] URL
 *
 * Each line of stdin becomes one message; each message received is printed
 * on its own line, control characters escaped (escape.c). End of input or
 * Ctrl-C starts a clean close (1000) and the program exits once the server
 * has answered it; a server that stops answering pings is given up.
 *
 * Everything runs on one cws_loop: the socket, stdin (via
 * cws_loop_watch_fd, so a slow typist never blocks incoming messages), the
 * ping timer, and signals (via a self-pipe).
 */
#define _POSIX_C_SOURCE 200809L

#include "escape.h"
#include "line_buffer.h"
#include "options.h"
#include "../common/signal_pipe.h"

#include <cws.h>
#include <cws_util.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Stop reading stdin while this much is queued for the server, so piping
 * a huge file in cannot grow memory without bound. */
#define CLIENT_HIGH_WATER ((size_t)1 << 20)
/* How often a paused stdin checks whether the queue has drained. */
#define CLIENT_RESUME_MS 5
/* Bytes one read of stdin takes (stdin_pump). */
#define CLIENT_READ_SIZE ((size_t)64 << 10)
/* The longest line: as big as the largest message a cws server accepts by
 * default (a longer one would be refused with 1009 there anyway). */
#define CLIENT_MAX_LINE CWS_MAX_MESSAGE_DEFAULT
/* The runtime closes a socket whose send queue passes cfg.high_water
 * (1008). stdin is only read while the queue is at most CLIENT_HIGH_WATER,
 * and one read then queues at most a whole line (CLIENT_MAX_LINE, 14 bytes
 * of frame header) and the rest of that read, which may be empty lines of
 * one byte each framed in 6: so this limit is never reached. */
#define CLIENT_QUEUE_LIMIT (CLIENT_HIGH_WATER + CLIENT_MAX_LINE + 8 * CLIENT_READ_SIZE)
/* The runtime's on_close reason (with 1006) when a keepalive ping went
 * unanswered for pong_timeout_ms (include/cws.h, "Ping"). */
#define NO_PONG_REASON "no pong before the deadline"

typedef struct client {
    cws_loop *loop;
    cws_socket *sock;        /* NULL until open and again after close */
    client_options opt;
    line_buffer lines;
    int stdin_watched;
    int stdin_done;
    cws_timer *stdin_timer;  /* reads a file, or waits for the queue to drain */
    cws_timer *ping_timer;
    int we_closed;           /* we sent the close frame */
    int closed;              /* on_close ran */
    int close_code;
    char close_reason[128];  /* the server's bytes: escape before printing */
    size_t close_reason_len;
    int interrupted;         /* count of SIGINT/SIGTERM */
    int input_failed;        /* stdin broke or overflowed: exit 1 after closing */
} client;

/* ---- sending ---- */

static void stdin_stop(client *c);

static void start_close(client *c) {
    stdin_stop(c);
    if (c->sock && !c->we_closed) {
        c->we_closed = 1;
        cws_socket_close(c->sock, CWS_CLOSE_NORMAL, "", 0);
    }
}

static void send_line(client *c, const char *line, size_t len) {
    int opcode = c->opt.binary ? CWS_OP_BINARY : CWS_OP_TEXT;
    /* RFC 6455 §5.6: a text message must be UTF-8, or the server fails the
     * connection with 1007; skip such a line rather than lose the session. */
    if (opcode == CWS_OP_TEXT && cws_utf8_validate(line, len) != CWS_OK) {
        fputs("cws-client: skipped a line that is not UTF-8 (use --binary)\n", stderr);
        return;
    }
    if (!c->sock) return; /* already closed by the server */
    int r = cws_socket_send(c->sock, opcode, line, len);
    if (r < 0) fprintf(stderr, "cws-client: send failed: %s\n", cws_strerror(r));
}

/* ---- reading stdin ---- */

/* Feeds one read of stdin to the line buffer and sends every whole line;
 * at end of input sends the unterminated rest and starts the close. */
static void stdin_pump(client *c) {
    char buf[CLIENT_READ_SIZE];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) fprintf(stderr, "cws-client: reading stdin: %s\n", strerror(errno));
    if (n > 0 && line_buffer_append(&c->lines, buf, (size_t)n) != 0) {
        fputs("cws-client: out of memory\n", stderr);
        n = -1;
    }
    const char *line;
    size_t len;
    int r;
    while ((r = line_buffer_next(&c->lines, &line, &len)) == 1) send_line(c, line, len);
    if (r == 0 && n == 0 && (r = line_buffer_rest(&c->lines, &line, &len)) == 1)
        send_line(c, line, len); /* the last line had no newline */
    if (r < 0) fprintf(stderr, "cws-client: a line is longer than %zu bytes\n", c->lines.max);
    if (n < 0 || r < 0) c->input_failed = 1;
    if (n <= 0 || r < 0) start_close(c);
}

static int queue_is_full(const client *c) {
    return cws_socket_buffered_amount(c->sock) > CLIENT_HIGH_WATER;
}

static void on_resume_tick(cws_loop *loop, void *user);

static void on_stdin_readable(cws_loop *loop, int fd, void *user) {
    client *c = user;
    (void)fd;
    stdin_pump(c);
    if (c->stdin_done || !queue_is_full(c)) return;
    /* Backpressure: stop reading until the server has taken the queue. */
    cws_loop_unwatch_fd(loop, STDIN_FILENO);
    c->stdin_watched = 0;
    c->stdin_timer = cws_timer_start(loop, CLIENT_RESUME_MS, CLIENT_RESUME_MS, on_resume_tick, c, NULL);
}

static void on_resume_tick(cws_loop *loop, void *user) {
    client *c = user;
    if (queue_is_full(c)) return;
    cws_timer_stop(c->stdin_timer);
    c->stdin_timer = NULL;
    c->stdin_watched = cws_loop_watch_fd(loop, STDIN_FILENO, on_stdin_readable, c) == CWS_OK;
    if (!c->stdin_watched) { /* cannot happen for an fd watched before; never hang */
        c->input_failed = 1;
        start_close(c);
    }
}

/* A regular file (or /dev/null) is always readable and epoll refuses to
 * watch it, so a file on stdin is read on a timer instead, one chunk per
 * tick while the queue has room. */
static void on_file_tick(cws_loop *loop, void *user) {
    client *c = user;
    (void)loop;
    if (!queue_is_full(c)) stdin_pump(c);
}

static void stdin_start(client *c) {
    if (cws_loop_watch_fd(c->loop, STDIN_FILENO, on_stdin_readable, c) == CWS_OK)
        c->stdin_watched = 1;
    else
        c->stdin_timer = cws_timer_start(c->loop, 0, 1, on_file_tick, c, NULL);
}

static void stdin_stop(client *c) {
    c->stdin_done = 1;
    if (c->stdin_watched) cws_loop_unwatch_fd(c->loop, STDIN_FILENO);
    c->stdin_watched = 0;
    if (c->stdin_timer) cws_timer_stop(c->stdin_timer);
    c->stdin_timer = NULL;
}

/* ---- pings: the payload carries the send time, so no state is kept ---- */

static uint64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_ping_tick(cws_loop *loop, void *user) {
    client *c = user;
    (void)loop;
    uint64_t now = monotonic_ns();
    uint8_t stamp[8];
    for (int i = 0; i < 8; i++) stamp[i] = (uint8_t)(now >> (56 - 8 * i));
    if (c->sock) cws_socket_ping(c->sock, stamp, sizeof stamp);
}

static void on_pong(cws_socket *s, void *user, const uint8_t *data, size_t len) {
    (void)s;
    (void)user;
    if (len != 8) return; /* RFC 6455 §5.5.3: an unsolicited pong is allowed; ignore it */
    uint64_t sent = 0;
    for (int i = 0; i < 8; i++) sent = (sent << 8) | data[i];
    fprintf(stderr, "rtt %.3f ms\n", (double)(monotonic_ns() - sent) / 1e6);
}

/* ---- receiving ---- */

static void on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    client *c = user;
    (void)s;
    /* Unless asked otherwise, the server's bytes never reach the terminal
     * as they are: they could drive it, or split one message over lines. */
    if (opcode == CWS_OP_BINARY && !c->opt.binary)
        write_hex(stdout, data, len);
    else if (opcode == CWS_OP_TEXT && !c->opt.raw)
        write_escaped(stdout, data, len);
    else
        fwrite(data, 1, len, stdout);
    putchar('\n');
    fflush(stdout); /* one message, one line, now: a pipe reader waits for it */
}

static void on_open(cws_socket *s, void *user) {
    client *c = user;
    c->sock = s;
    if (c->opt.verbose) {
        /* "(none)" cannot be a subprotocol: parentheses are not token
         * characters (RFC 6455 §4.1, RFC 7230 §3.2.6). */
        const char *p = cws_socket_protocol(s);
        fprintf(stderr, "connected to %s\nsubprotocol: %s\n", c->opt.url, p[0] ? p : "(none)");
        if (c->opt.deflate)
            fprintf(stderr, "compression: %s\n", cws_socket_deflate(s, NULL) ? "permessage-deflate" : "(none)");
        if (c->opt.keepalive > 0)
            fprintf(stderr, "keepalive: ping every %g s, pong within %g s\n", c->opt.keepalive,
                    c->opt.keepalive_timeout);
        else
            fputs("keepalive: off\n", stderr);
    }
}

static void on_close(cws_socket *s, void *user, int code, const char *reason, size_t reason_len) {
    client *c = user;
    (void)s;
    c->sock = NULL; /* the runtime frees it when we return */
    c->closed = 1;
    c->close_code = code;
    /* RFC 6455 §5.5.1: at most 123 bytes (125 less the code), and a
     * NUL is valid UTF-8: keep the length, not a C string. */
    if (!reason) reason_len = 0;
    if (reason_len > sizeof c->close_reason) reason_len = sizeof c->close_reason;
    if (reason_len) memcpy(c->close_reason, reason, reason_len);
    c->close_reason_len = reason_len;
    stdin_stop(c);
    if (c->ping_timer) cws_timer_stop(c->ping_timer);
    c->ping_timer = NULL;
    cws_loop_stop(c->loop);
}

/* ---- signals: a self-pipe turns Ctrl-C into a loop event ---- */

static void on_signal_readable(cws_loop *loop, int fd, void *user) {
    client *c = user;
    c->interrupted += signal_pipe_drain(fd);
    if (c->interrupted == 1) {
        start_close(c); /* the partial line, if any, is dropped */
    } else {
        fputs("cws-client: interrupted again, not waiting for the close\n", stderr);
        cws_loop_stop(loop);
    }
}

/* ---- main ---- */

/* The close reason on stderr. It may be the server's, so it is escaped
 * even with --raw: stderr is the terminal even when stdout is a pipe. */
static void print_reason(const client *c) {
    write_escaped(stderr, (const uint8_t *)c->close_reason, c->close_reason_len);
}

static int dropped_for_no_pong(const client *c) {
    size_t n = sizeof NO_PONG_REASON - 1;
    return c->close_code == CWS_CLOSE_ABNORMAL && c->close_reason_len == n &&
           memcmp(c->close_reason, NO_PONG_REASON, n) == 0;
}

/* The exit status of a session that reached on_close. */
static int closed_status(const client *c) {
    if (c->input_failed) return 1;
    /* RFC 6455 §7.1.5: a close frame without a code reports 1005; as the
     * answer to our own 1000 it still ends a clean close. */
    if (c->close_code == CWS_CLOSE_NORMAL || (c->we_closed && c->close_code == CWS_CLOSE_NO_STATUS))
        return 0;
    if (dropped_for_no_pong(c)) {
        fprintf(stderr, "cws-client: no pong within %g s: the server stopped answering\n",
                c->opt.keepalive_timeout);
        return 1;
    }
    fprintf(stderr, "cws-client: connection closed with code %d", c->close_code);
    if (c->close_reason_len) {
        fputs(": ", stderr);
        print_reason(c);
    }
    fputc('\n', stderr);
    return 1;
}

/* Seconds from the command line as the runtime's milliseconds; never 0,
 * which would mean "the default" there. */
static uint32_t to_ms(double seconds) {
    uint32_t ms = (uint32_t)(seconds * 1000 + 0.5);
    return ms ? ms : 1;
}

/* Runs an open connection to its end; returns the exit status. */
static int run_session(client *c) {
    int sig_fds[2] = {-1, -1};
    if (signal_pipe_install(sig_fds) != 0 ||
        cws_loop_watch_fd(c->loop, sig_fds[0], on_signal_readable, c) != CWS_OK) {
        fprintf(stderr, "cws-client: cannot set up signals: %s\n", strerror(errno));
        return 1;
    }
    stdin_start(c);
    if (c->opt.ping_seconds > 0) {
        uint32_t ms = to_ms(c->opt.ping_seconds);
        c->ping_timer = cws_timer_start(c->loop, ms, ms, on_ping_tick, c, NULL);
    }
    if (!c->closed) cws_loop_run(c->loop); /* until on_close or a second Ctrl-C */
    cws_loop_unwatch_fd(c->loop, sig_fds[0]);
    close(sig_fds[0]);
    close(sig_fds[1]);

    if (!c->closed) return 130; /* interrupted twice: 128 + SIGINT, as shells do */
    return closed_status(c);
}

int main(int argc, char **argv) {
    client c;
    memset(&c, 0, sizeof c);
    int status = client_options_parse(&c.opt, argc, argv);
    if (status) {
        client_options_free(&c.opt);
        return status == 1 ? 0 : 2;
    }
    line_buffer_init(&c.lines, CLIENT_MAX_LINE);
    c.loop = cws_loop_new(NULL);
    if (!c.loop) {
        fputs("cws-client: cannot create the event loop\n", stderr);
        return 1;
    }

    cws_client_config cfg = {0};
    cfg.protocols = c.opt.subprotocol;
    cfg.extra_headers = c.opt.headers;
    cfg.high_water = CLIENT_QUEUE_LIMIT;
    cfg.deflate.enable = c.opt.deflate;
    /* The runtime pings and drops a server that leaves a ping unanswered;
     * on_close then reports NO_PONG_REASON. */
    cfg.ping_interval_ms = c.opt.keepalive > 0 ? to_ms(c.opt.keepalive) : CWS_DISABLED;
    cfg.pong_timeout_ms = to_ms(c.opt.keepalive_timeout);
    cfg.tls.cafile = c.opt.cafile;
    cfg.tls.insecure_skip_verify = c.opt.insecure;
    cfg.cb.on_open = on_open;
    cfg.cb.on_message = on_message;
    cfg.cb.on_pong = on_pong;
    cfg.cb.on_close = on_close;
    cfg.user = &c;

    int err = 0;
    if (cws_connect_wait(c.loop, c.opt.url, &cfg, &err)) {
        status = run_session(&c);
    } else if (err == CWS_ERR_CLOSED && c.closed) {
        /* Opened and closed within the call (the server's close came with
         * its 101): a whole session, judged by its close code. */
        status = closed_status(&c); /* our answer to the close is already out */
    } else {
        /* The runtime reports a failed connect through on_close (1006)
         * with a reason more telling than the error code. */
        fprintf(stderr, "cws-client: cannot connect to %s: ", c.opt.url);
        if (c.close_reason_len)
            print_reason(&c);
        else
            fputs(cws_strerror(err), stderr);
        if (err == CWS_ERR_INVALID)
            fputs(cws_tls_backend() ? " (want ws[s]://HOST[:PORT][/PATH])\n"
                                    : " (want ws://HOST[:PORT][/PATH]; this build has no TLS, so no wss://)\n",
                  stderr);
        else if (err == CWS_ERR_TLS && !c.close_reason_len)
            fprintf(stderr, " (cannot use --cafile %s?)\n", c.opt.cafile ? c.opt.cafile : "");
        else
            fputc('\n', stderr);
        status = 1;
    }
    cws_loop_free(c.loop);
    line_buffer_free(&c.lines);
    client_options_free(&c.opt);
    return status;
}
