/*
 * cws_peer — the cws side of the interop matrix, built on the runtime
 * (layer 5) only.
 *
 *   cws_peer client ECHO_URL CTRL_URL [DEFLATE_URL]
 *                                    runs the client checklist: messages
 *                                    and our ping against ECHO_URL, the
 *                                    server's ping and the closes against
 *                                    CTRL_URL (both ws://HOST:PORT), and
 *                                    with DEFLATE_URL the permessage-deflate
 *                                    check against DEFLATE_URL/echo; one
 *                                    "CHECK name ok|fail detail" line per
 *                                    check on stdout
 *   cws_peer serve [--max-message N] [--high-water N] [--handshake-timeout MS]
 *         [--ping-interval MS] [--pong-timeout MS] [--close-timeout MS]
 *         [--deflate 1]               (accept permessage-deflate)
 *                                    a server for the close and server-ping
 *                                    checks (and the hostile tests, which
 *                                    need its limits and its reports);
 *                                    first line "listening on
 *                                    ws://HOST:PORT", then one "CLOSE path
 *                                    code reason" line per ended socket
 *
 *   cws_peer hold URL MS             connects and runs the loop for MS
 *                                    milliseconds (client conformance)
 *
 * The peers in the other languages speak the same small protocol, chosen
 * by the request path:
 *   /echo         every message comes back unchanged
 *   /ping-me      the server pings with "interop-ping" on open and sends
 *                 the text "pong:<payload>" when the pong arrives
 *   /close-1000   the client closes with 1000 "client bye"
 *   /close-4001   the server closes with 4001 "server bye" on open
 */
#define _POSIX_C_SOURCE 200809L

#include <cws.h>
#include <cws_util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEER_STEP_MS 10000
#define PEER_PING_PAYLOAD "interop-ping"

/* ------------------------------------------------------------ client */

typedef struct peer_client {
    cws_loop *loop;
    cws_socket *sock;
    int closed, close_code;
    char close_reason[128];
    int got_message, msg_opcode;
    uint8_t *msg;
    size_t msg_len;
    int got_pong;
    char pong[128];
    size_t pong_len;
} peer_client;

static void peer_on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    peer_client *c = user;
    (void)s;
    free(c->msg);
    c->msg = malloc(len ? len : 1);
    if (c->msg) memcpy(c->msg, data, len);
    c->msg_len = len;
    c->msg_opcode = opcode;
    c->got_message = 1;
}

static void peer_on_pong(cws_socket *s, void *user, const uint8_t *data, size_t len) {
    peer_client *c = user;
    (void)s;
    if (len > sizeof c->pong) len = sizeof c->pong;
    memcpy(c->pong, data, len);
    c->pong_len = len;
    c->got_pong = 1;
}

static void peer_on_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    peer_client *c = user;
    (void)s;
    if (len >= sizeof c->close_reason) len = sizeof c->close_reason - 1;
    memcpy(c->close_reason, reason, len);
    c->close_reason[len] = '\0';
    c->close_code = code;
    c->closed = 1;
    c->sock = NULL; /* freed by the runtime when this returns */
}

static uint64_t peer_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loop until *flag is set or the connection closed; 1 if set. */
static int peer_wait(peer_client *c, const int *flag) {
    uint64_t deadline = peer_now_ms() + PEER_STEP_MS;
    while (!*flag && peer_now_ms() < deadline) {
        if (flag != &c->closed && c->closed) break;
        cws_loop_run_once(c->loop, 50);
    }
    return *flag;
}

static int peer_connect_with(peer_client *c, const char *base, const char *path, int deflate) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    free(c->msg);
    memset(c, 0, sizeof *c);
    c->loop = cws_loop_new(NULL);
    cws_client_config cfg = {0};
    cfg.max_message_size = 64u << 20;
    cfg.deflate.enable = deflate;
    cfg.cb.on_message = peer_on_message;
    cfg.cb.on_pong = peer_on_pong;
    cfg.cb.on_close = peer_on_close;
    cfg.user = c;
    int err = 0;
    c->sock = c->loop ? cws_connect_wait(c->loop, url, &cfg, &err) : NULL;
    /* CWS_ERR_CLOSED after on_close: the server's close came with its
     * 101, a whole (short) session rather than a failed connect. */
    if (!c->sock && !(err == CWS_ERR_CLOSED && c->closed)) {
        printf("CHECK connect fail %s: %s\n", url, cws_strerror(err));
        return -1;
    }
    return 0;
}

static int peer_connect(peer_client *c, const char *base, const char *path) {
    return peer_connect_with(c, base, path, 0);
}

static void peer_disconnect(peer_client *c) {
    if (c->sock) {
        cws_socket_close(c->sock, CWS_CLOSE_NORMAL, NULL, 0);
        peer_wait(c, &c->closed);
    }
    cws_loop_free(c->loop); /* drops the socket if the close never ended */
    c->loop = NULL;
    free(c->msg);
    c->msg = NULL;
}

static void peer_report(const char *name, int ok, const char *detail) {
    printf("CHECK %s %s %s\n", name, ok ? "ok" : "fail", detail ? detail : "");
    fflush(stdout);
}

/* n bytes of valid UTF-8 with 1- to 4-byte characters, or of binary. */
static uint8_t *peer_payload(size_t n, int text) {
    static const char unit[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀 */
    uint8_t *p = malloc(n ? n : 1);
    if (!p) return NULL;
    size_t i = 0;
    if (text) {
        for (; i + 10 <= n; i += 10) memcpy(p + i, unit, 10);
        for (; i < n; i++) p[i] = 'x';
    } else {
        uint32_t x = (uint32_t)n * 2654435761u + 1u;
        for (; i < n; i++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            p[i] = (uint8_t)x;
        }
    }
    return p;
}

static void peer_check_echo(peer_client *c, const char *name, size_t n, int text) {
    uint8_t *p = peer_payload(n, text);
    int opcode = text ? CWS_OP_TEXT : CWS_OP_BINARY;
    c->got_message = 0;
    int r = c->sock ? cws_socket_send(c->sock, opcode, p, n) : CWS_ERR_CLOSED;
    char detail[128] = "";
    int ok = 0;
    if (r != CWS_OK) {
        snprintf(detail, sizeof detail, "send: %s", cws_strerror(r));
    } else if (!peer_wait(c, &c->got_message)) {
        snprintf(detail, sizeof detail, "no echo (closed %d)", c->close_code);
    } else if (c->msg_opcode != opcode || c->msg_len != n || (n && memcmp(c->msg, p, n) != 0)) {
        snprintf(detail, sizeof detail, "echo differs: opcode %d len %zu", c->msg_opcode, c->msg_len);
    } else {
        ok = 1;
    }
    free(p);
    peer_report(name, ok, detail);
}

/* permessage-deflate: offered and agreed, then a compressible text
 * (the UTF-8 pattern) and an incompressible binary of 64 KiB each echo. */
static void peer_check_deflate(const char *deflate_base) {
    peer_client c = {0};
    if (peer_connect_with(&c, deflate_base, "/echo", 1) == 0) {
        if (!c.sock || !cws_socket_deflate(c.sock, NULL)) {
            peer_report("deflate", 0, "permessage-deflate not agreed");
        } else {
            static const int kinds[] = {1, 0};
            int ok = 1;
            char detail[160] = "agreed; 64 KiB text and binary echoed";
            for (int i = 0; i < 2 && ok; i++) {
                uint8_t *p = peer_payload(65536, kinds[i]);
                int opcode = kinds[i] ? CWS_OP_TEXT : CWS_OP_BINARY;
                c.got_message = 0;
                int r = p && c.sock ? cws_socket_send(c.sock, opcode, p, 65536) : CWS_ERR_CLOSED;
                ok = r == CWS_OK && peer_wait(&c, &c.got_message) && c.msg_opcode == opcode &&
                     c.msg_len == 65536 && memcmp(c.msg, p, 65536) == 0;
                if (!ok)
                    snprintf(detail, sizeof detail, "%s echo: send %d, got %d bytes (closed %d)",
                             kinds[i] ? "text" : "binary", r, c.got_message ? (int)c.msg_len : -1, c.close_code);
                free(p);
            }
            peer_report("deflate", ok, detail);
        }
    }
    peer_disconnect(&c);
}

static int peer_run_client(const char *echo_base, const char *base, const char *deflate_base) {
    static const size_t sizes[] = {0, 1, 125, 65536, 4u << 20};
    static const char *const names[] = {"0", "1", "125", "64K", "4M"};
    peer_client c = {0};
    char name[32], detail[160];

    if (peer_connect(&c, echo_base, "/echo") == 0) {
        for (int text = 1; text >= 0; text--)
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                snprintf(name, sizeof name, "%s_%s", text ? "text" : "binary", names[i]);
                peer_check_echo(&c, name, sizes[i], text);
            }
        int r = c.sock ? cws_socket_ping(c.sock, PEER_PING_PAYLOAD, strlen(PEER_PING_PAYLOAD)) : -1;
        int ok = r == CWS_OK && peer_wait(&c, &c.got_pong) && c.pong_len == strlen(PEER_PING_PAYLOAD) &&
                 memcmp(c.pong, PEER_PING_PAYLOAD, c.pong_len) == 0;
        snprintf(detail, sizeof detail, "pong %.*s", (int)c.pong_len, c.pong);
        peer_report("ping_out", ok, detail);
    }
    peer_disconnect(&c);

    if (peer_connect(&c, base, "/ping-me") == 0) {
        int ok = peer_wait(&c, &c.got_message) && c.msg_opcode == CWS_OP_TEXT &&
                 c.msg_len == strlen("pong:" PEER_PING_PAYLOAD) &&
                 memcmp(c.msg, "pong:" PEER_PING_PAYLOAD, c.msg_len) == 0;
        snprintf(detail, sizeof detail, "server saw %.*s", c.got_message ? (int)c.msg_len : 0,
                 c.got_message ? (const char *)c.msg : "");
        peer_report("ping_in", ok, detail);
    }
    peer_disconnect(&c);

    if (peer_connect(&c, base, "/close-1000") == 0) {
        int r = cws_socket_close(c.sock, CWS_CLOSE_NORMAL, "client bye", 10);
        int ok = r == CWS_OK && peer_wait(&c, &c.closed) && c.close_code == 1000;
        snprintf(detail, sizeof detail, "client saw %d %s", c.close_code, c.close_reason);
        peer_report("close_1000", ok, detail);
    }
    peer_disconnect(&c);

    if (peer_connect(&c, base, "/close-4001") == 0) {
        int ok = peer_wait(&c, &c.closed) && c.close_code == 4001 && strcmp(c.close_reason, "server bye") == 0;
        snprintf(detail, sizeof detail, "client saw %d %s", c.close_code, c.close_reason);
        peer_report("close_4001", ok, detail);
    }
    peer_disconnect(&c);
    if (deflate_base) peer_check_deflate(deflate_base);
    return 0;
}

/* Connects and runs the loop for ms, whatever happens: the client
 * conformance suite uses it to see how long the runtime itself keeps TCP
 * open after a close handshake. Prints "CLOSED code reason". */
static int peer_run_hold(const char *url, long ms) {
    peer_client c = {0};
    if (peer_connect(&c, url, "") != 0) return 1;
    uint64_t end = peer_now_ms() + (uint64_t)ms;
    while (peer_now_ms() < end) cws_loop_run_once(c.loop, 50);
    printf("CLOSED %d %s\n", c.closed ? c.close_code : 0, c.close_reason);
    cws_loop_free(c.loop);
    free(c.msg);
    return 0;
}

/* ------------------------------------------------------------ server */

typedef struct peer_conn {
    char path[64];
} peer_conn;

static int peer_on_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)user;
    peer_conn *pc = calloc(1, sizeof *pc);
    if (!pc) return 500;
    size_t n = req->http.path.len < sizeof pc->path - 1 ? req->http.path.len : sizeof pc->path - 1;
    memcpy(pc->path, req->http.path.ptr, n);
    cws_socket_set_user(s, pc);
    return 0;
}

static void peer_srv_open(cws_socket *s, void *user) {
    peer_conn *pc = user;
    if (strcmp(pc->path, "/ping-me") == 0) cws_socket_ping(s, PEER_PING_PAYLOAD, strlen(PEER_PING_PAYLOAD));
    if (strcmp(pc->path, "/close-4001") == 0) cws_socket_close(s, 4001, "server bye", 10);
}

static void peer_srv_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    cws_socket_send(s, opcode, data, len);
}

static void peer_srv_pong(cws_socket *s, void *user, const uint8_t *data, size_t len) {
    (void)user;
    char msg[140] = "pong:";
    if (len > 125) len = 125;
    memcpy(msg + 5, data, len);
    /* A pong payload is arbitrary bytes; only send it back if it is text. */
    if (cws_utf8_validate(data, len) == CWS_OK) cws_socket_send(s, CWS_OP_TEXT, msg, 5 + len);
}

static void peer_srv_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    peer_conn *pc = user;
    (void)s;
    printf("CLOSE %s %d %.*s\n", pc ? pc->path : "?", code, (int)len, reason);
    fflush(stdout);
    free(pc);
}

/* "--name N" options that set the server's limits and timers, so the
 * hostile tests can use short deadlines; 0 on success. */
static int peer_server_options(int argc, char **argv, cws_server_config *cfg) {
    for (int i = 2; i + 1 < argc; i += 2) {
        char *end;
        unsigned long long v = strtoull(argv[i + 1], &end, 10);
        if (*end || end == argv[i + 1]) return -1;
        if (strcmp(argv[i], "--max-message") == 0) cfg->max_message_size = (size_t)v;
        else if (strcmp(argv[i], "--high-water") == 0) cfg->high_water = (size_t)v;
        else if (strcmp(argv[i], "--handshake-timeout") == 0) cfg->handshake_timeout_ms = (uint32_t)v;
        else if (strcmp(argv[i], "--ping-interval") == 0) cfg->ping_interval_ms = (uint32_t)v;
        else if (strcmp(argv[i], "--pong-timeout") == 0) cfg->pong_timeout_ms = (uint32_t)v;
        else if (strcmp(argv[i], "--close-timeout") == 0) cfg->close_timeout_ms = (uint32_t)v;
        else if (strcmp(argv[i], "--deflate") == 0) cfg->deflate.enable = v != 0;
        else return -1;
    }
    return argc % 2 == 0 ? 0 : -1;
}

static int peer_run_server(int argc, char **argv) {
    cws_loop *loop = cws_loop_new(NULL);
    cws_server_config cfg = {0};
    cfg.max_message_size = 64u << 20;
    cfg.high_water = 160u << 20;
    if (peer_server_options(argc, argv, &cfg) != 0) {
        fputs("cws_peer serve: bad options\n", stderr);
        return 2;
    }
    cfg.on_upgrade = peer_on_upgrade;
    cfg.cb.on_open = peer_srv_open;
    cfg.cb.on_message = peer_srv_message;
    cfg.cb.on_pong = peer_srv_pong;
    cfg.cb.on_close = peer_srv_close;
    int err = 0;
    cws_server *srv = loop ? cws_server_new(loop, &cfg, &err) : NULL;
    if (!srv) {
        fprintf(stderr, "cws_peer: cannot listen: %s\n", cws_strerror(err));
        return 1;
    }
    printf("listening on ws://127.0.0.1:%d\n", cws_server_port(srv));
    fflush(stdout);
    cws_loop_run(loop); /* until the matrix driver kills it */
    cws_server_free(srv);
    cws_loop_free(loop);
    return 0;
}

int main(int argc, char **argv) {
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "client") == 0)
        return peer_run_client(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    if (argc == 4 && strcmp(argv[1], "hold") == 0) return peer_run_hold(argv[2], strtol(argv[3], NULL, 10));
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) return peer_run_server(argc, argv);
    fputs("usage: cws_peer client ECHO_URL CTRL_URL [DEFLATE_URL] | cws_peer hold URL MS\n"
          "       cws_peer serve [--max-message N]\n"
          "       [--high-water N] [--handshake-timeout MS] [--ping-interval MS]\n"
          "       [--pong-timeout MS] [--close-timeout MS] [--deflate 1]\n", stderr);
    return 2;
}
