/*
 * cws-echo — a WebSocket echo server: every text or binary message comes
 * back unchanged, with the same opcode. It is the target for conformance
 * suites and benchmarks, so the hot path is one call: on_message sends the
 * message straight back. With --broadcast every message goes to every open
 * client instead, the sender included (the fan-out benchmark's target).
 *
 *   cws-echo [--host ADDR] [--port N] [--max-message BYTES] [--high-water BYTES]
 *            [--ping-interval MS] [--handshake-timeout MS] [--broadcast]
 *            [--deflate [--deflate-threshold BYTES]]
 *            [--same-origin] [--allow-origin ORIGIN]...
 *            [--tls-cert FILE --tls-key FILE]
 *
 * SIGINT/SIGTERM close every client with 1001 (going away) and exit 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <cws.h>

#include "../common/signal_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ECHO_SHUTDOWN_MS 3000
#define ECHO_PING_DEFAULT_MS 30000u
#define ECHO_HANDSHAKE_DEFAULT_MS 10000u
#define ECHO_MAX_ORIGINS 32

typedef struct echo_options {
    const char *host;
    int port;
    size_t max_message;
    size_t high_water;           /* 0: derived from max_message */
    uint32_t ping_interval_ms;   /* 0: no pings */
    uint32_t handshake_timeout_ms;
    int deflate;                 /* accept permessage-deflate offers */
    int broadcast;               /* relay to every open client, not back */
    size_t deflate_threshold;    /* compress messages from this size; 0: all */
    /* Origin checks, off unless asked for: a test tool that browsers
     * reach from any page (about:blank sends "Origin: null"). */
    int same_origin;
    const char *allow_origins[ECHO_MAX_ORIGINS + 1]; /* NULL-terminated */
    size_t n_allow_origins;
    const char *tls_cert, *tls_key; /* PEM files: serve wss:// */
} echo_options;

/* An echo queues each message once more on its way back: leave room for
 * a maximal message in each direction so a fast sender of large messages
 * is not cut off at the runtime's default 4 MiB high-water mark. */
static size_t echo_default_high_water(size_t max_message) { return max_message * 2 + 65536; }

/* What the signal watcher needs to end the program. */
typedef struct echo_app {
    cws_loop *loop;
    cws_server *server;
    int signal_fd;        /* read end of the self-pipe */
    int shutting_down;
} echo_app;

static void on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    /* An error here means the socket is already closing (or its queue hit
     * the high-water mark and the runtime closes it): nothing to add. */
    cws_socket_send(s, opcode, data, len);
}

/* --broadcast: the socket's user is the app (set in on_upgrade), so the
 * callback reaches the server without a global. except = NULL: the sender
 * gets its own message too, in the same order as everyone else. */
static int on_upgrade_broadcast(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)req;
    cws_socket_set_user(s, user);
    return 0;
}

static void on_message_broadcast(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)s;
    echo_app *app = user;
    /* An error (out of memory) drops this message for everyone; a receiver
     * whose queue is full is closed by the runtime's high-water policy. */
    cws_server_broadcast(app->server, opcode, data, len, NULL);
}

/* ---- signals: a self-pipe turns SIGINT/SIGTERM into a loop event ---- */

static void poll_shutdown_done(cws_loop *loop, void *user) {
    echo_app *app = user;
    if (cws_server_done(app->server)) cws_loop_stop(loop);
}

static void on_signal_readable(cws_loop *loop, int fd, void *user) {
    echo_app *app = user;
    signal_pipe_drain(fd);
    if (app->shutting_down) return;
    app->shutting_down = 1;
    /* RFC 6455 §7.4.1: 1001 "going away" tells clients the server is
     * stopping, so they may reconnect later. */
    cws_server_shutdown(app->server, CWS_CLOSE_GOING_AWAY, ECHO_SHUTDOWN_MS);
    /* The server has no "shutdown finished" callback: look every 20 ms. */
    cws_timer_start(loop, 0, 20, poll_shutdown_done, app, NULL);
}

/* ---- command line ---- */

static void usage(FILE *out) {
    fprintf(out,
            "usage: cws-echo [options]\n"
            "WebSocket echo server: sends every text and binary message back\n"
            "unchanged, on any path. SIGINT/SIGTERM close clients with 1001.\n"
            "\n"
            "  --host ADDR          listen address (default 127.0.0.1; :: or 0.0.0.0\n"
            "                       to accept other machines)\n"
            "  --port N             TCP port (default 9001; 0 picks a free one)\n"
            "  --max-message BYTES  largest message accepted; a bigger one closes\n"
            "                       the connection with 1009 (default %zu)\n"
            "  --high-water BYTES   per-connection send queue limit; a client that\n"
            "                       lets more pile up is closed with 1008 (default\n"
            "                       twice --max-message plus 64 KiB)\n"
            "  --ping-interval MS   ping each client this often; one that does not\n"
            "                       answer in 10 s is dropped (default %u; 0: never)\n"
            "  --handshake-timeout MS\n"
            "                       drop a client that has not sent its whole\n"
            "                       upgrade request by then (default %u)\n"
            "  --broadcast          relay every text and binary message to every\n"
            "                       open client, the sender included, with the\n"
            "                       same opcode (instead of echoing it back)\n"
            "  --deflate            accept permessage-deflate (RFC 7692): clients\n"
            "                       that offer it get compressed echoes\n"
            "  --deflate-threshold BYTES\n"
            "                       with --deflate, compress echoes of at least\n"
            "                       this size (default 0: every one)\n"
            "  --same-origin        refuse (403) a browser whose page is not from\n"
            "                       this server's origin (the Host it asked for);\n"
            "                       by default any page may connect\n"
            "  --allow-origin ORIGIN\n"
            "                       accept browsers from pages of ORIGIN\n"
            "                       (scheme://host[:port]; 'null' for about:blank,\n"
            "                       sandboxed and file: pages) and refuse others\n"
            "                       with 403, with --same-origin the own one too;\n"
            "                       repeatable. Clients without Origin (not\n"
            "                       browsers) are never refused\n"
            "  --tls-cert FILE      serve wss:// with this PEM certificate (and its\n"
            "                       chain); needs a build with TLS (make TLS=openssl)\n"
            "  --tls-key FILE       the certificate's PEM private key\n"
            "  --help               show this text\n"
            "\n"
            "The first line on stdout is \"listening on ws://HOST:PORT\" (wss:// with TLS).\n",
            (size_t)CWS_MAX_MESSAGE_DEFAULT, ECHO_PING_DEFAULT_MS, ECHO_HANDSHAKE_DEFAULT_MS);
}

/* Parses a whole decimal number in [min, max]; returns 0 on success. */
static int parse_number(const char *s, unsigned long long min, unsigned long long max,
                        unsigned long long *out) {
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* Returns 0 to run, 1 to exit successfully (--help), 2 on bad usage. */
static int parse_options(int argc, char **argv, echo_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        unsigned long long n;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(arg, "--deflate") == 0) {
            o->deflate = 1;
            continue;
        }
        if (strcmp(arg, "--same-origin") == 0) {
            o->same_origin = 1;
            continue;
        }
        if (strcmp(arg, "--broadcast") == 0) {
            o->broadcast = 1;
            continue;
        }
        /* Every other option takes a value. */
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (strcmp(arg, "--host") == 0 && val) {
            o->host = val;
        } else if (strcmp(arg, "--port") == 0 && parse_number(val, 0, 65535, &n) == 0) {
            o->port = (int)n;
        } else if (strcmp(arg, "--max-message") == 0 && parse_number(val, 1, SIZE_MAX / 4, &n) == 0) {
            o->max_message = (size_t)n;
        } else if (strcmp(arg, "--high-water") == 0 && parse_number(val, 1, SIZE_MAX, &n) == 0) {
            o->high_water = (size_t)n;
        } else if (strcmp(arg, "--ping-interval") == 0 && parse_number(val, 0, CWS_DISABLED - 1, &n) == 0) {
            o->ping_interval_ms = (uint32_t)n;
        } else if (strcmp(arg, "--handshake-timeout") == 0 &&
                   parse_number(val, 1, UINT32_MAX, &n) == 0) {
            o->handshake_timeout_ms = (uint32_t)n;
        } else if (strcmp(arg, "--deflate-threshold") == 0 && parse_number(val, 0, CWS_DISABLED - 1, &n) == 0) {
            o->deflate_threshold = (size_t)n;
        } else if (strcmp(arg, "--allow-origin") == 0 && val && cws_hs_origin_ok(val) &&
                   o->n_allow_origins < ECHO_MAX_ORIGINS) {
            o->allow_origins[o->n_allow_origins++] = val;
        } else if (strcmp(arg, "--tls-cert") == 0 && val) {
            o->tls_cert = val;
        } else if (strcmp(arg, "--tls-key") == 0 && val) {
            o->tls_key = val;
        } else {
            fprintf(stderr, "cws-echo: bad or incomplete option '%s' (try --help)\n", arg);
            return 2;
        }
    }
    if (o->tls_key && !o->tls_cert) {
        fprintf(stderr, "cws-echo: --tls-key needs --tls-cert\n");
        return 2;
    }
    if (o->tls_cert && !cws_tls_backend()) {
        fprintf(stderr, "cws-echo: this build has no TLS; rebuild with make TLS=openssl\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    echo_options opt = {.host = "127.0.0.1",
                        .port = 9001,
                        .max_message = CWS_MAX_MESSAGE_DEFAULT,
                        .ping_interval_ms = ECHO_PING_DEFAULT_MS,
                        .handshake_timeout_ms = ECHO_HANDSHAKE_DEFAULT_MS};
    int r = parse_options(argc, argv, &opt);
    if (r) return r == 1 ? 0 : 2;

    echo_app app = {0};
    int sig_fds[2];
    app.loop = cws_loop_new(NULL);
    if (!app.loop || signal_pipe_install(sig_fds) != 0) {
        fprintf(stderr, "cws-echo: cannot set up the event loop: %s\n", strerror(errno));
        return 1;
    }
    app.signal_fd = sig_fds[0];

    cws_server_config cfg = {0};
    cfg.host = opt.host;
    cfg.port = opt.port;
    cfg.max_message_size = opt.max_message;
    cfg.high_water = opt.high_water ? opt.high_water : echo_default_high_water(opt.max_message);
    /* In the config 0 means "the default"; on our command line it means
     * "never", which the config spells CWS_DISABLED. */
    cfg.ping_interval_ms = opt.ping_interval_ms ? opt.ping_interval_ms : CWS_DISABLED;
    cfg.handshake_timeout_ms = opt.handshake_timeout_ms;
    cfg.deflate.enable = opt.deflate;
    /* Our 0 ("compress every echo") is the config's CWS_DISABLED (no
     * threshold); its 0 would mean the library's default. */
    cfg.deflate.threshold = opt.deflate_threshold ? opt.deflate_threshold : CWS_DISABLED;
    cfg.hs.same_origin = opt.same_origin;
    if (opt.n_allow_origins) cfg.hs.allow_origins = opt.allow_origins;
    cfg.tls.cert_file = opt.tls_cert;
    cfg.tls.key_file = opt.tls_key;
    cfg.cb.on_message = opt.broadcast ? on_message_broadcast : on_message;
    if (opt.broadcast) cfg.on_upgrade = on_upgrade_broadcast;
    cfg.user = &app;

    int err = 0;
    app.server = cws_server_new(app.loop, &cfg, &err);
    if (!app.server) {
        if (err == CWS_ERR_TLS)
            fprintf(stderr, "cws-echo: cannot use the certificate %s with the key %s\n", opt.tls_cert,
                    opt.tls_key ? opt.tls_key : opt.tls_cert);
        else
            fprintf(stderr, "cws-echo: cannot listen on %s port %d: %s\n", opt.host, opt.port,
                    cws_strerror(err));
        return 1;
    }
    if (cws_loop_watch_fd(app.loop, app.signal_fd, on_signal_readable, &app) != CWS_OK) {
        fprintf(stderr, "cws-echo: cannot watch the signal pipe\n");
        return 1;
    }

    /* IPv6 literals need brackets in a URL (RFC 3986 §3.2.2). */
    int v6 = strchr(opt.host, ':') != NULL;
    printf("listening on %s://%s%s%s:%d\n", opt.tls_cert ? "wss" : "ws", v6 ? "[" : "", opt.host, v6 ? "]" : "",
           cws_server_port(app.server));
    fflush(stdout); /* tests read the port from this line */

    r = cws_loop_run(app.loop);
    cws_loop_unwatch_fd(app.loop, app.signal_fd);
    cws_server_free(app.server);
    cws_loop_free(app.loop);
    close(sig_fds[0]);
    close(sig_fds[1]);
    return r == CWS_OK ? 0 : 1;
}
