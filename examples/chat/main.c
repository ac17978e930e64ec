/* cws-chat: a broadcast chat server with a browser page and a durable
 * history. This file wires the pieces to the cws runtime:
 *   options.c      flags                 site.c     the web page (static files)
 *   chat.c         the room              store.h    where the room keeps messages:
 *   store_file.c   store: history files  redis_store.c  store: Redis Streams
 *   redis_loop.c   hiredis on cws_loop   noredis.c  (built without Redis)
 *                                        history.c  the log + in-memory ring
 *   json.c         wire format           segdir.c   the log's files
 *   presence.c     who is here           segment.c  one file of the log
 *   peers.c        limits per address    record.c   one record of the log
 *   client_addr.c  a client's address    epoch.c    when seqs start over
 *                  (X-Forwarded-For)
 * Run `cws-chat --help` for the flags and docs/chat-protocol.md for the
 * messages. */
#define _POSIX_C_SOURCE 200809L

#include "chat.h"
#include "options.h"
#include "redis_store.h"
#include "site.h"
#include "store_file.h"
#include "../common/signal_pipe.h"

#include <cws.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SHUTDOWN_TIMEOUT_MS 3000

typedef struct app {
    cws_loop *loop;
    cws_server *server;
    chat *room;
    site web;
    int signal_pipe[2];
    int stopping;
} app;

/* Runs in the loop, not in the handler: any API call is allowed here. */
static void on_signal_pipe(cws_loop *loop, int fd, void *user) {
    app *a = user;
    signal_pipe_drain(fd);
    if (a->stopping) {
        fprintf(stderr, "cws-chat: second signal, stopping now\n");
        cws_loop_stop(loop);
        return;
    }
    a->stopping = 1;
    fprintf(stderr, "cws-chat: shutting down (1001 to %zu clients)\n", cws_server_count(a->server));
    chat_shutdown(a->room);
    /* Every client gets close 1001 "going away"; cws_loop_run() returns
     * once their close handshakes are done (or the timeout passed). */
    cws_server_shutdown(a->server, CWS_CLOSE_GOING_AWAY, SHUTDOWN_TIMEOUT_MS);
}

static int on_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    app *a = user;
    return chat_upgrade(a->room, s, req);
}

static void on_http(cws_http_reply *r, const cws_http_head *req, void *user) {
    app *a = user;
    if (req->path.len == 3 && memcmp(req->path.ptr, "/ws", 3) == 0) {
        static const char body[] = "426 Upgrade Required: this is the chat's WebSocket endpoint\n";
        cws_http_reply_send(r, 426, "text/plain; charset=utf-8", body, sizeof body - 1,
                            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
        return;
    }
    site_serve(&a->web, r, req);
}

int main(int argc, char **argv) {
    chat_options o;
    int rc = options_parse(&o, argc, argv, stdout, stderr);
    if (rc != 0) return rc > 0 ? 0 : 2;

    if (o.redis && !redis_store_built) {
        fprintf(stderr, "cws-chat: --redis: this cws-chat was built without Redis support; "
                        "build it with `make REDIS=1` (needs hiredis: `make deps`)\n");
        return 2;
    }

    app a;
    memset(&a, 0, sizeof a);
    a.signal_pipe[0] = a.signal_pipe[1] = -1;
    if (site_open(&a.web, o.web, argv[0], stderr) < 0) return 1;
    store *st = NULL;
    chat_config cc = {o.rate, o.burst, o.high_water, o.max_per_ip, o.trust_proxies};
    a.loop = cws_loop_new(NULL);
    if (!a.loop) {
        fprintf(stderr, "cws-chat: out of memory\n");
        site_close(&a.web);
        return 1;
    }
    if (o.redis) {
        st = redis_store_new(a.loop, o.redis_host, o.redis_port, o.redis_prefix, o.history_size, stderr);
    } else {
        history *h = history_open(o.history, o.history_size, o.history_bytes, o.fsync_mode, stderr);
        if (!h) {
            rc = 1;
            goto out;
        }
        st = store_file_new(a.loop, h);
        if (!st) history_close(h);
    }
    a.room = st ? chat_new(a.loop, st, &cc) : NULL;
    if (!a.room) {
        fprintf(stderr, "cws-chat: out of memory\n");
        rc = 1;
        goto out;
    }

    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = o.host;
    cfg.port = o.port;
    cfg.max_message_size = o.max_message;
    cfg.high_water = o.high_water;
    cfg.kernel_unsent_max = CHAT_KERNEL_UNSENT; /* replays go at the reader's pace */
    cfg.handshake_timeout_ms = o.handshake_timeout_ms;
    cfg.ping_interval_ms = o.ping_interval_ms;
    cfg.reuse_port = o.reuse_port;
    /* Browsers offer permessage-deflate on every WebSocket; chat JSON
     * shrinks several times. Without server context takeover each
     * broadcast is compressed once for every receiver, and an idle
     * connection holds no compressor. */
    cfg.deflate.enable = !o.no_deflate;
    cfg.deflate.server_no_context_takeover = 1;
    cfg.deflate.client_no_context_takeover = 1; /* and no inflater kept per client */
    /* Cross-site WebSocket hijacking (RFC 6455 §10.2): the page and its
     * socket share an origin, so another site's page is refused (403)
     * unless --allow-origin lists it. */
    cfg.hs.same_origin = 1;
    if (o.n_allow_origins) cfg.hs.allow_origins = o.allow_origins;
    cfg.tls.cert_file = o.tls_cert; /* the page and its socket, both over TLS */
    cfg.tls.key_file = o.tls_key;
    cfg.on_upgrade = on_upgrade;
    cfg.on_http = on_http;
    cfg.cb = chat_socket_callbacks;
    cfg.user = &a;
    int err = 0;
    a.server = cws_server_new(a.loop, &cfg, &err);
    if (!a.server) {
        if (err == CWS_ERR_TLS)
            fprintf(stderr, "cws-chat: cannot use the certificate %s with the key %s\n", o.tls_cert,
                    o.tls_key ? o.tls_key : o.tls_cert);
        else
            fprintf(stderr, "cws-chat: cannot listen on %s:%d: %s\n", o.host, o.port, cws_strerror(err));
        rc = 1;
        goto out;
    }
    chat_set_server(a.room, a.server);
    if (signal_pipe_install(a.signal_pipe) < 0 || cws_loop_watch_fd(a.loop, a.signal_pipe[0], on_signal_pipe, &a) < 0) {
        fprintf(stderr, "cws-chat: cannot set up signal handling: %s\n", strerror(errno));
        rc = 1;
        goto out;
    }

    /* Tests read the port from this first line; IPv6 hosts need brackets. */
    int v6 = strchr(o.host, ':') != NULL;
    printf("listening on %s://%s%s%s:%d\n", o.tls_cert ? "https" : "http", v6 ? "[" : "", o.host, v6 ? "]" : "",
           cws_server_port(a.server));
    fflush(stdout);
    if (o.redis)
        fprintf(stderr, "cws-chat: room in Redis at %s:%d, keys %s:*, web root %s\n", o.redis_host, o.redis_port,
                o.redis_prefix, a.web.root);
    else
        fprintf(stderr, "cws-chat: history %s (last seq %llu, epoch %s), web root %s\n", o.history,
                (unsigned long long)st->ops->last_seq(st), st->ops->epoch(st), a.web.root);

    rc = cws_loop_run(a.loop) == CWS_OK ? 0 : 1;
out:
    if (a.room) chat_shutdown(a.room); /* no leave notices from here on */
    if (a.server) cws_server_free(a.server);
    if (st) st->ops->close(st); /* answers what is still out to the room */
    chat_free(a.room);
    if (a.signal_pipe[0] >= 0) {
        cws_loop_unwatch_fd(a.loop, a.signal_pipe[0]);
        close(a.signal_pipe[0]);
        close(a.signal_pipe[1]);
    }
    if (a.loop) cws_loop_free(a.loop);
    site_close(&a.web);
    return rc;
}
