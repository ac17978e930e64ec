/* The server: listen and accept, max_connections, broadcast and graceful
 * shutdown. The opening handshake of each socket is server_handshake.c. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 (glibc declares it only for GNU) */
#endif

#include "runtime.h"
#include "../pmd.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* accept4 sets O_NONBLOCK and FD_CLOEXEC in the same call (Linux; glibc
 * declares it only when _GNU_SOURCE took effect, which a program including
 * the single header after its own system headers may have prevented).
 * Elsewhere: accept, then cws__fd_prepare's fcntl calls (and SO_NOSIGPIPE). */
#if defined(__linux__) && defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC) && !defined(SO_NOSIGPIPE) && \
    (defined(__USE_GNU) || !defined(__GLIBC__))
#define SRV_HAVE_ACCEPT4 1
#endif

#define SRV_ACCEPTS_PER_EVENT 64
#define SRV_ACCEPT_BACKOFF_MS 100u
#define SRV_BUSY_LINGER_MAX 256


/* Resolves 0 (default) and CWS_DISABLED (off) in every setting; cfg
 * was checked by srv_config_ok. */
static void srv_apply_defaults(cws_server *srv, const cws_server_config *cfg) {
    srv->cfg = *cfg;
    srv->cfg.host = NULL; /* not kept: the caller's string may go away */
    srv->max_connections = cws__limit(cfg->max_connections, 100000);
    srv->cfg.hs.max_size = cfg->max_handshake_size ? cfg->max_handshake_size : CWS_HANDSHAKE_MAX_DEFAULT;
    srv->handshake_timeout = rt_timeout_ms(cfg->handshake_timeout_ms, RT_TIMEOUT_DEFAULT_MS);
    srv->cfg.hs.deflate = &srv->cfg.deflate; /* the copy: the server's own */
    srv->max_topics = cws__limit(cfg->max_topics_per_socket, CWS_TOPICS_PER_SOCKET_DEFAULT);
    srv->max_topic_len = cws__limit(cfg->max_topic_len, CWS_TOPIC_LEN_DEFAULT);
    rt_sock_settings set = {&cfg->deflate, cfg->receive, cfg->high_water, cfg->max_message_size, cfg->max_fragments,
                            cfg->kernel_unsent_max, cfg->ping_interval_ms, cfg->pong_timeout_ms, cfg->close_timeout_ms, cfg->cb};
    (void)cws__sockcfg_init(&srv->scfg, CWS_SERVER, &set);
}

/* An entry that is not an origin (a trailing slash, say) would never
 * match: better said at once than found out from 403s. */
static int srv_origins_ok(const char *const *list) {
    for (; list && *list; list++)
        if (!cws_hs_origin_ok(*list)) return 0;
    return 1;
}

static int srv_config_ok(const cws_server_config *cfg) {
    /* Unbounded request heads would let any client hold any memory. */
    return cfg->port >= 0 && cfg->port <= 65535 && cfg->max_handshake_size != CWS_DISABLED &&
           rt_receive_mode_ok(cfg->receive) && cws__pmd_config_check(&cfg->deflate) == CWS_OK &&
           srv_origins_ok(cfg->hs.allow_origins) && (!cfg->tls.cert_file || cws_tls_backend());
}

/* The server keeps its own copy of allow_origins (pointers and strings in
 * one allocation), like it keeps nothing of host: the caller's list may
 * live on its stack. */
static int srv_copy_origins(cws_server *srv, const char *const *list) {
    if (!list) return CWS_OK;
    size_t n = 0, bytes = 0;
    for (; list[n]; n++) bytes += strlen(list[n]) + 1;
    const char **copy = rt_alloc((n + 1) * sizeof *copy + bytes);
    if (!copy) return CWS_ERR_NOMEM;
    char *text = (char *)(copy + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(list[i]) + 1;
        memcpy(text, list[i], len);
        copy[i] = text;
        text += len;
    }
    copy[n] = NULL;
    srv->origins = copy;
    srv->cfg.hs.allow_origins = copy;
    return CWS_OK;
}

static int srv_listen_fd(const cws_server_config *cfg, int *err) {
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
        *err = CWS_ERR_RESOLVE;
        return -1;
    }
    int fd = -1;
    *err = CWS_ERR_IO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        int one = 1, zero = 0;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        /* "::" serves IPv4 too (mapped addresses), whatever the system default. */
        if (ai->ai_family == AF_INET6) (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (cfg->reuse_port) {
#ifdef SO_REUSEPORT
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#else
            close(fd);
            fd = -1;
            *err = CWS_ERR_INVALID;
            break;
#endif
        }
        if (cws__fd_prepare(fd) == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, cfg->backlog > 0 ? cfg->backlog : 511) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

cws_server *cws_server_new(cws_loop *loop, const cws_server_config *cfg, int *err) {
    int dummy;
    if (!err) err = &dummy;
    *err = CWS_OK;
    if (!loop || !cfg || !srv_config_ok(cfg)) {
        *err = CWS_ERR_INVALID;
        return NULL;
    }
    cws_server *srv = rt_alloc(sizeof *srv);
    if (!srv) {
        *err = CWS_ERR_NOMEM;
        return NULL;
    }
    memset(srv, 0, sizeof *srv);
    if (cws__timer_reserve(loop) < 0) {
        rt_free(srv);
        *err = CWS_ERR_NOMEM;
        return NULL;
    }
    srv->io.fd = srv_listen_fd(cfg, err);
    if (srv->io.fd < 0) {
        cws__timer_release(loop);
        rt_free(srv);
        return NULL;
    }
    srv->io.kind = RT_IO_LISTEN;
    srv->tn.slot = RT_T_NONE;
    srv->tn.kind = RT_T_SERVER;
    srv->loop = loop;
    srv->scfg.loop = loop; /* first: the settings take the loop's codec pool */
    srv_apply_defaults(srv, cfg);
    srv->scfg.server = srv;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(srv->io.fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6) srv->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    int bad = srv_copy_origins(srv, cfg->hs.allow_origins);
    if (!bad && cfg->tls.cert_file) {
        bad = cws__tls_server_ctx(&cfg->tls, &srv->scfg.tls_ctx);
        srv->scfg.tp = &cws__tls_transport;
    }
    if (!bad && cws__loop_add(loop, &srv->io, RT_EV_READ) < 0) bad = CWS_ERR_IO;
    if (bad) {
        close(srv->io.fd);
        cws__timer_release(loop);
        cws__tls_ctx_free(srv->scfg.tls_ctx);
        rt_free(srv->origins);
        rt_free(srv);
        *err = bad;
        return NULL;
    }
    cws__loop_update_now(loop);
    srv->next_server = loop->servers;
    loop->servers = srv;
    *err = CWS_OK; /* a first address may have failed before one bound */
    return srv;
}

int cws_server_port(const cws_server *s) { return s ? s->port : 0; }

size_t cws_server_count(const cws_server *s) { return s ? s->count : 0; }

int cws_server_done(const cws_server *s) { return s ? s->done : 0; }

/* ------------------------------------------------------------ accept */

/* A TLS listener's sockets speak TLS from the first byte. */
static int srv_transport_init(cws_server *srv, cws_socket *s) {
    return srv->scfg.tls_ctx ? cws__tls_socket_init(s, srv->scfg.tls_ctx, NULL) : CWS_OK;
}

static void srv_link(cws_server *srv, cws_socket *s) {
    s->next = srv->socks;
    if (srv->socks) srv->socks->prev = s;
    srv->socks = s;
}

/* Over max_connections: a clean 503, never a hang. A bounded number of
 * such sockets linger so the client reads the answer; past that they are
 * answered best-effort and closed at once. */
static void srv_busy(cws_server *srv, int fd) {
    char out[256];
    ptrdiff_t n = cws_hs_reject(503, out, sizeof out);
    cws_socket *s = srv->lingering < SRV_BUSY_LINGER_MAX ? cws__socket_new(&srv->scfg, fd) : NULL;
    if (!s) {
        /* Best effort in clear text; a TLS client just sees the close. */
        if (n > 0 && !srv->scfg.tls_ctx) (void)send(fd, out, (size_t)n, MSG_DONTWAIT | RT_SEND_FLAGS);
        close(fd);
        return;
    }
    srv_link(srv, s);
    s->io.flags |= RT_F_BUSY;
    srv->lingering++;
    if (srv_transport_init(srv, s) < 0 || cws__loop_add(srv->loop, &s->io, RT_EV_READ) < 0) {
        cws__socket_destroy(s, RT_WHY_IO);
        return;
    }
    s->io.state = RT_ST_HANDSHAKE;
    if (n > 0) cws__server_reject(s, 503);
    else cws__socket_destroy(s, RT_WHY_NONE);
}

void cws__server_listen_event(cws_server *srv) {
    cws_loop *loop = srv->loop;
    for (int i = 0; i < SRV_ACCEPTS_PER_EVENT && !srv->shutting; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
#ifdef SRV_HAVE_ACCEPT4
        int fd = accept4(srv->io.fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        int fd = accept(srv->io.fd, (struct sockaddr *)&ss, &sl);
#endif
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of fds: stop listening for a moment instead of spinning
                 * on a listen socket that stays readable. */
                (void)cws__loop_mod(loop, &srv->io, 0);
                srv->accept_paused = 1;
                cws__timer_set(loop, &srv->tn, loop->now + SRV_ACCEPT_BACKOFF_MS);
            }
            return;
        }
#ifndef SRV_HAVE_ACCEPT4
        if (cws__fd_prepare(fd) < 0) {
            close(fd);
            continue;
        }
#endif
        cws__socket_tune_fd(&srv->scfg, fd);
        if (srv->count >= srv->max_connections) {
            srv_busy(srv, fd);
            continue;
        }
        cws_socket *s = cws__socket_new(&srv->scfg, fd);
        if (!s) {
            close(fd);
            continue;
        }
        srv_link(srv, s);
        srv->count++;
        s->io.state = RT_ST_HANDSHAKE;
        if (srv_transport_init(srv, s) < 0 || cws__loop_add(loop, &s->io, RT_EV_READ) < 0) {
            cws__socket_destroy(s, RT_WHY_IO);
            continue;
        }
        cws__timer_set(loop, &s->tn, loop->now + srv->handshake_timeout);
    }
}

/* ------------------------------------------------------------ lifecycle */

static void srv_finish_shutdown(cws_server *srv) {
    if (srv->done) return;
    srv->done = 1;
    cws__timer_clear(srv->loop, &srv->tn);
    cws_loop_stop(srv->loop);
}

void cws__server_socket_gone(cws_socket *s) {
    cws_server *srv = rt_sock_server(s);
    /* Until on_upgrade accepts it may hold the head; from then on, the
     * subprotocol and topics. It leaves them before its memory goes. */
    if (s->xflags & RT_X_ACCEPTED) cws__topics_socket_gone(&srv->topics, s);
    else rt_free(s->own.hs_head);
    s->own.hs_head = NULL;
    if (s->prev) s->prev->next = s->next;
    else srv->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    if (s->io.flags & RT_F_BUSY) srv->lingering--;
    else srv->count--;
    if (srv->shutting && !srv->socks) srv_finish_shutdown(srv);
}

static void srv_stop_listening(cws_server *srv) {
    if (srv->io.fd < 0) return;
    cws__loop_del(srv->loop, &srv->io);
    close(srv->io.fd);
    srv->io.fd = -1;
}

void cws__server_deadline(cws_server *srv) {
    if (srv->shutting) {
        /* The grace period is over: drop whoever did not finish closing. */
        while (srv->socks) cws__socket_destroy(srv->socks, RT_WHY_SHUTDOWN);
        srv_finish_shutdown(srv);
        return;
    }
    if (srv->accept_paused && srv->io.fd >= 0) {
        srv->accept_paused = 0;
        (void)cws__loop_mod(srv->loop, &srv->io, RT_EV_READ);
    }
}

void cws_server_shutdown(cws_server *srv, int code, uint32_t timeout_ms) {
    if (!srv || srv->shutting) return;
    static const char reason[] = "server shutting down";
    if (!cws_close_code_valid(code)) code = CWS_CLOSE_GOING_AWAY;
    srv->shutting = 1;
    srv_stop_listening(srv);
    cws_loop *loop = srv->loop;
    cws__loop_update_now(loop);
    for (cws_socket *s = srv->socks, *next; s; s = next) {
        next = s->next;
        if (rt_sock_conn(s) && s->io.state == RT_ST_OPEN) {
            cws_conn_close(rt_sock_conn(s), code, reason, sizeof reason - 1);
            cws__socket_dirty(s);
        } else if (!rt_sock_conn(s) && s->io.state == RT_ST_HANDSHAKE) {
            /* Never opened: nothing to tell. Dropped by its deadline this
             * round, not here: we may be inside its own on_http. */
            cws__timer_set(loop, &s->tn, loop->now);
        }
    }
    if (!srv->socks) {
        srv_finish_shutdown(srv);
        return;
    }
    cws__timer_set(loop, &srv->tn, loop->now + timeout_ms);
}

void cws_server_free(cws_server *srv) {
    if (!srv) return;
    cws_loop *loop = srv->loop;
    srv->done = 1; /* tearing down below is not a shutdown completing */
    loop->dispatching++; /* the sockets' memory goes in one reap below */
    while (srv->socks) cws__socket_destroy(srv->socks, RT_WHY_FREED);
    loop->dispatching--;
    if (!loop->dispatching) cws__loop_reap(loop); /* before srv: they point at its settings */
    srv_stop_listening(srv);
    cws__server_bcast_free(srv);
    cws__topics_free(&srv->topics);
    cws__tls_ctx_free(srv->scfg.tls_ctx);
    rt_free(srv->origins);
    cws__timer_clear(loop, &srv->tn);
    cws__timer_release(loop);
    for (cws_server **pp = &loop->servers; *pp; pp = &(*pp)->next_server) {
        if (*pp == srv) {
            *pp = srv->next_server;
            break;
        }
    }
    cws__loop_bury(loop, &srv->io);
}

/* ------------------------------------------------------------ broadcast */

int cws__shared_frame(cws_loop *loop, int cls, int opcode, int rsv, const void *data, size_t len, rt_frame *out) {
    /* Server frames are unmasked (RFC 6455 §5.1), so one frame serves all. */
    cws_frame_header h;
    memset(&h, 0, sizeof h);
    h.fin = 1;
    h.rsv = (uint8_t)rsv;
    h.opcode = (uint8_t)opcode;
    h.len = len;
    uint8_t hdr[CWS_FRAME_HEADER_MAX];
    size_t hl = cws_frame_header_encode(hdr, &h);
    if (len > SIZE_MAX - hl) return -1;
    size_t need = hl + len;
    rt_buf *b;
    if (need > RT_ROUND_BUF / 4) {
        b = cws__buf_new(loop, need); /* the caller's reference is its only one */
        if (!b) return -1;
        b->shared = RT_SHARED_FRAME;
    } else {
        b = loop->round[cls];
        if (!b || b->cap - b->used < need) {
            /* Full: the frames in it stay where they are, for as long as
             * a queue refers to them; later ones go to a new buffer. */
            if (b) cws__buf_unref(loop, b);
            b = loop->round[cls] = cws__buf_new(loop, RT_ROUND_BUF);
            if (!b) return -1;
            b->shared = RT_SHARED_ROUND;
        }
        b->refs++;
    }
    loop->round_at = loop->now;
    uint8_t *p = b->data + b->used;
    memcpy(p, hdr, hl);
    if (len) memcpy(p + hl, data, len);
    b->used += need;
    out->buf = b;
    out->ptr = p;
    out->len = need;
    return 0;
}

/* Queues the message for s compressed; 1 if it was queued. */
static int srv_fanout_deflated(rt_fanout *f, cws_socket *s, const cws_deflate_params *p) {
    if (!p->server_no_context_takeover) /* its own context: its own bytes */
        return cws_conn_send(rt_sock_conn(s), f->opcode, f->data, f->len) == CWS_OK;
    rt_frame *slot = &f->z[p->server_max_window_bits - 8];
    if (!slot->buf && cws__server_bcast_deflate(f->srv, f->opcode, f->data, f->len, p->server_max_window_bits, slot) < 0)
        return 0;
    return cws__outq_append_frame(s, slot) == 0;
}

int cws__fanout_check(cws_server *srv, int opcode, const void *data, size_t len) {
    int flags = opcode & ~0xFF;
    opcode &= 0xFF;
    if (!srv || (len && !data) || (opcode != CWS_OP_TEXT && opcode != CWS_OP_BINARY) ||
        (flags & ~CWS_SEND_UNCOMPRESSED))
        return CWS_ERR_INVALID;
    if (opcode == CWS_OP_TEXT && cws_utf8_validate(data, len) != CWS_OK) return CWS_ERR_UTF8;
    if (len > srv->scfg.max_message) return CWS_ERR_TOO_BIG;
    return CWS_OK;
}

int cws__fanout_begin(rt_fanout *f, cws_server *srv, int opcode, const void *data, size_t len) {
    memset(f, 0, sizeof *f);
    f->srv = srv;
    f->opcode = opcode & 0xFF;
    f->data = data;
    f->len = len;
    f->compress = srv->cfg.deflate.enable && cws__deflate_wanted(&srv->cfg.deflate, opcode & ~0xFF, len);
    return cws__shared_frame(srv->loop, 0, f->opcode, 0, data, len, &f->plain) < 0 ? CWS_ERR_NOMEM : CWS_OK;
}

int cws__fanout_to(rt_fanout *f, cws_socket *s) {
    if (s->io.state != RT_ST_OPEN || !rt_sock_conn(s) || s->io.flags & (RT_F_OVERFLOW | RT_F_REPORTED) ||
        cws_conn_state(rt_sock_conn(s)) != CWS_STATE_OPEN)
        return 0;
    cws_deflate_params p;
    if (f->compress && cws_conn_deflate(rt_sock_conn(s), &p)) {
        if (!srv_fanout_deflated(f, s, &p)) return 0;
    } else if (cws__outq_append_frame(s, &f->plain) < 0) {
        return 0;
    }
    cws__socket_dirty(s);
    /* A slow reader fills only its own queue; past the mark it is closed
     * (the close is queued, never reported from here). */
    cws__socket_check_high_water(s);
    return 1;
}

void cws__fanout_end(rt_fanout *f) {
    cws__buf_unref(f->srv->loop, f->plain.buf);
    for (size_t i = 0; i < 8; i++)
        if (f->z[i].buf) cws__buf_unref(f->srv->loop, f->z[i].buf);
}

ptrdiff_t cws_server_broadcast(cws_server *srv, int opcode, const void *data, size_t len,
                               const cws_socket *except) {
    int rc = cws__fanout_check(srv, opcode, data, len);
    if (rc) return rc;
    rt_fanout f;
    if ((rc = cws__fanout_begin(&f, srv, opcode, data, len))) return rc;
    ptrdiff_t sent = 0;
    for (cws_socket *s = srv->socks; s; s = s->next)
        if (s != except) sent += cws__fanout_to(&f, s);
    cws__fanout_end(&f);
    return sent;
}
