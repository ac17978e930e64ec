/* The client: ws:// URL parsing, name lookup, non-blocking connect (each
 * resolved address in turn), the client handshake, cws_connect_wait. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "runtime.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLI_HOST_MAX 256
#define CLI_PATH_MAX 2048
#define CLI_HS_INITIAL 1024u

typedef struct cli_waiter {
    int done, opened, gone, err;
} cli_waiter;

/* Client-only state, s->own.client for the socket's whole life; the handshake
 * parts are released once open. */
typedef struct cli_state {
    rt_sockcfg cfg;
    struct addrinfo *ai_list, *ai_next;
    cli_waiter *waiter;
    int err;                 /* cws_err of a failure before open */
    const char *reason;      /* static text of that failure (or the
                                transport's, valid while the socket is) */
    char *tls_name;          /* wss://: the name to send and check, until
                                the TLS state has it */
    cws_hs_client *hc;       /* handshake: our key, the expected accept */
    char *rbuf;              /* the response head as it arrives */
    size_t rlen, rcap;
    /* The server's choice can only be one we offered (RFC 6455 §4.1), and
     * hc->offered holds those in 256 bytes, so this always fits. */
    char protocol[sizeof ((cws_hs_client *)0)->offered];
} cli_state;

typedef struct cli_url {
    char host[CLI_HOST_MAX];      /* for getaddrinfo: no brackets */
    char authority[CLI_HOST_MAX + 8]; /* for the Host field */
    char port[8];
    char path[CLI_PATH_MAX];
    int secure;                   /* wss:// */
} cli_url;

/* ws[s]://host[:port][/path][?query]. Fragments are forbidden (RFC 6455
 * §3), as are user info and any byte that could break the request head. */
static int cli_parse_url(const char *url, cli_url *u) {
    size_t ulen = strlen(url);
    for (size_t i = 0; i < ulen; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') return CWS_ERR_INVALID;
    }
    /* wss:// only with a TLS backend built in; otherwise TLS is the
     * embedder's (a cws_conn over their own TLS). */
    u->secure = ulen >= 6 && cws__ieq_n(url, "wss://", 6);
    if (u->secure ? !cws_tls_backend() : ulen < 5 || !cws__ieq_n(url, "ws://", 5)) return CWS_ERR_INVALID;
    const char *p = url + (u->secure ? 6 : 5), *end = url + ulen;
    const char *auth_end = p;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?') auth_end++;
    size_t alen = (size_t)(auth_end - p);
    if (!alen || alen >= CLI_HOST_MAX || memchr(p, '@', alen)) return CWS_ERR_INVALID;
    memcpy(u->authority, p, alen);
    u->authority[alen] = '\0';
    const char *hs = p, *he, *port = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', alen);
        if (!rb || rb == p + 1) return CWS_ERR_INVALID;
        hs = p + 1;
        he = rb;
        if (rb + 1 < auth_end) {
            if (rb[1] != ':') return CWS_ERR_INVALID;
            port = rb + 2;
        }
    } else {
        he = memchr(p, ':', alen);
        if (he) port = he + 1;
        else he = auth_end;
        if (he == hs) return CWS_ERR_INVALID;
    }
    memcpy(u->host, hs, (size_t)(he - hs));
    u->host[he - hs] = '\0';
    if (port) {
        size_t plen = (size_t)(auth_end - port);
        unsigned long v = 0;
        if (!plen || plen > 5) return CWS_ERR_INVALID;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9') return CWS_ERR_INVALID;
            v = v * 10 + (unsigned long)(port[i] - '0');
        }
        if (!v || v > 65535) return CWS_ERR_INVALID;
        memcpy(u->port, port, plen);
        u->port[plen] = '\0';
    } else {
        memcpy(u->port, u->secure ? "443" : "80", u->secure ? 4 : 3); /* RFC 6455 §3 */
    }
    size_t plen = (size_t)(end - auth_end);
    if (plen + 2 > CLI_PATH_MAX) return CWS_ERR_INVALID;
    size_t o = 0;
    if (!plen || *auth_end == '?') u->path[o++] = '/';
    memcpy(u->path + o, auth_end, plen);
    u->path[o + plen] = '\0';
    return CWS_OK;
}

static cli_state *cli_of(const cws_socket *s) { return s->own.client; }

static char *cli_strdup(const char *text) {
    size_t n = strlen(text) + 1;
    char *copy = rt_alloc(n);
    if (copy) memcpy(copy, text, n);
    return copy;
}

const char *cws__client_fail_reason(const cws_socket *s) {
    cli_state *c = cli_of(s);
    if (c && c->reason) return c->reason;
    switch (s->why) {
    case RT_WHY_FREED: return "closed by the application";
    case RT_WHY_CONNECT_TIMEOUT: return "connect timed out";
    default: return "connection failed";
    }
}

static void cli_fail(cws_socket *s, int err, const char *reason) {
    cli_state *c = cli_of(s);
    if (!c->err) {
        c->err = err;
        c->reason = reason;
    }
    cws__socket_destroy(s, RT_WHY_CONNECT);
}

void cws__client_failed(cws_socket *s) {
    const char *tls = s->cfg->tp->error(s);
    if (tls) cli_fail(s, CWS_ERR_TLS, tls);
    else cli_fail(s, CWS_ERR_IO, s->io.state == RT_ST_CL_HANDSHAKE ? "connection closed during the handshake" : NULL);
}

static const char *cli_errno_text(int e) {
    switch (e) {
    case ECONNREFUSED: return "connection refused";
    case ETIMEDOUT: return "connect timed out";
    case ENETUNREACH: return "network unreachable";
    case EHOSTUNREACH: return "host unreachable";
    case EADDRNOTAVAIL: return "address not available";
    default: return "connect failed";
    }
}

static void cli_release_handshake(cli_state *c) {
    if (c->ai_list) freeaddrinfo(c->ai_list);
    c->ai_list = c->ai_next = NULL;
    rt_free(c->hc);
    c->hc = NULL;
    rt_free(c->rbuf);
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
    rt_free(c->tls_name);
    c->tls_name = NULL;
}

void cws__client_free(cws_socket *s) {
    cli_state *c = cli_of(s);
    if (!c) return;
    cws__tls_ctx_free(c->cfg.tls_ctx);
    rt_free(c);
}

void cws__client_free_state(cws_socket *s) {
    cli_state *c = cli_of(s);
    if (!c) return;
    if (c->waiter) {
        c->waiter->done = 1;
        c->waiter->gone = 1;
        c->waiter->err = c->err ? c->err : c->waiter->opened ? CWS_ERR_CLOSED : CWS_ERR_IO;
        c->waiter = NULL;
    }
    cli_release_handshake(c);
    /* c itself (and the settings in it) lives until the socket is freed. */
}

const char *cws__client_protocol(const cws_socket *s) {
    cli_state *c = cli_of(s);
    return c ? c->protocol : "";
}

void cws__client_opened(cws_socket *s) {
    cli_state *c = cli_of(s);
    if (c->waiter) { /* stays attached: the socket may still die this round */
        c->waiter->done = 1;
        c->waiter->opened = 1;
    }
}

/* Tries the next resolved address; on none left, fails in the next round
 * (so on_close never runs inside cws_connect itself). */
static void cli_try_next(cws_socket *s) {
    cli_state *c = cli_of(s);
    int last = ECONNREFUSED;
    while (c->ai_next) {
        struct addrinfo *ai = c->ai_next;
        c->ai_next = ai->ai_next;
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (cws__fd_prepare(fd) < 0) {
            last = errno;
            close(fd);
            continue;
        }
        cws__socket_tune_fd(s->cfg, fd);
        s->io.fd = fd;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno != EINPROGRESS && errno != EINTR) {
            last = errno;
            close(fd);
            s->io.fd = -1;
            continue;
        }
        if (cws__loop_add(rt_sock_loop(s), &s->io, RT_EV_WRITE) < 0) {
            last = errno;
            close(fd);
            s->io.fd = -1;
            continue;
        }
        s->io.state = RT_ST_CONNECTING; /* even if connected at once: the write event says so */
        return;
    }
    c->err = CWS_ERR_IO;
    c->reason = cli_errno_text(last);
    s->io.state = RT_ST_FAILED;
    cws__timer_set(rt_sock_loop(s), &s->tn, rt_sock_loop(s)->now);
}

void cws__client_event(cws_socket *s, unsigned ev) {
    (void)ev;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
    if (!soerr) {
        struct sockaddr_storage ss;
        socklen_t pl = sizeof ss;
        if (getpeername(s->io.fd, (struct sockaddr *)&ss, &pl) < 0) soerr = errno ? errno : ENOTCONN;
    }
    if (soerr) {
        cws__loop_del(rt_sock_loop(s), &s->io);
        close(s->io.fd);
        s->io.fd = -1;
        cli_state *c = cli_of(s);
        c->reason = cli_errno_text(soerr);
        if (c->ai_next) {
            c->reason = NULL;
            cli_try_next(s);
        } else {
            cli_fail(s, CWS_ERR_IO, cli_errno_text(soerr));
        }
        return;
    }
    /* Connected: TLS first if wss://, then the request queued by
     * cws_connect goes out (through the TLS handshake). */
    cli_state *c = cli_of(s);
    if (c->cfg.tls_ctx) {
        int rc = cws__tls_socket_init(s, c->cfg.tls_ctx, c->tls_name);
        if (rc < 0) {
            cli_fail(s, rc, rc == CWS_ERR_NOMEM ? "out of memory" : "TLS: cannot start");
            return;
        }
        rt_free(c->tls_name);
        c->tls_name = NULL;
        /* The ClientHello leaves now; writing the request drives the rest. */
        if (s->cfg->tp->handshake(s) < 0) {
            s->io.state = RT_ST_CL_HANDSHAKE;
            cws__client_failed(s);
            return;
        }
    }
    s->io.state = RT_ST_CL_HANDSHAKE;
    (void)cws__loop_mod(rt_sock_loop(s), &s->io, RT_EV_READ | RT_EV_WRITE);
    cws__socket_service(s);
}

void cws__client_deadline(cws_socket *s) {
    if (s->io.state == RT_ST_FAILED) {
        cws__socket_destroy(s, s->why ? s->why : RT_WHY_CONNECT);
        return;
    }
    cli_fail(s, CWS_ERR_TIMEOUT, "connect timed out");
}

void cws__client_hs_read(cws_socket *s, uint8_t *data, size_t n) {
    cli_state *c = cli_of(s);
    if (c->rcap - c->rlen < n) {
        size_t cap = CWS__MAX(CWS__MAX(c->rcap * 2, CLI_HS_INITIAL), c->rlen + n);
        char *nb = cws__realloc(NULL, c->rbuf, cap);
        if (!nb) {
            cli_fail(s, CWS_ERR_NOMEM, "out of memory");
            return;
        }
        if (nb != c->rbuf) memset(&c->hc->http, 0, sizeof c->hc->http); /* moved: parse afresh */
        c->rbuf = nb;
        c->rcap = cap;
    }
    memcpy(c->rbuf + c->rlen, data, n);
    c->rlen += n;
    ptrdiff_t r = cws_hs_client_parse(c->hc, c->rbuf, c->rlen);
    if (r == CWS_ERR_AGAIN) return; /* only under the size limit: at it the parser fails */
    if (r < 0) {
        cli_fail(s, (int)r, c->hc->error ? c->hc->error : cws_strerror((int)r));
        return;
    }
    /* Kept past the handshake state: cws_socket_protocol() answers from it. */
    size_t plen = CWS__MIN(c->hc->protocol.len, sizeof c->protocol - 1);
    if (plen) memcpy(c->protocol, c->hc->protocol.ptr, plen);
    c->protocol[plen] = '\0';
    /* Compression first: the bytes after the head may be compressed. */
    if (cws_conn_set_deflate(rt_sock_conn_mem(s), &c->hc->deflate) != CWS_OK) {
        cli_fail(s, CWS_ERR_NOMEM, "out of memory");
        return;
    }
    /* Bytes after the head are frames: feed them once the conn exists.
     * They live in c->rbuf, released only after opening. */
    if (cws__socket_open(s, (uint8_t *)c->rbuf + r, c->rlen - (size_t)r) < 0) {
        cli_fail(s, CWS_ERR_NOMEM, "out of memory");
        return;
    }
    if (s->io.kind != RT_IO_DEAD && s->own.client) cli_release_handshake(cli_of(s));
}

cws_socket *cws_connect(cws_loop *loop, const char *url, const cws_client_config *cfg, int *err) {
    int dummy;
    if (!err) err = &dummy;
    *err = CWS_OK;
    if (!loop || !url || !cfg || !rt_receive_mode_ok(cfg->receive)) {
        *err = CWS_ERR_INVALID;
        return NULL;
    }
    cli_url *u = rt_alloc(sizeof *u);
    if (!u) {
        *err = CWS_ERR_NOMEM;
        return NULL;
    }
    int rc = cli_parse_url(url, u);
    if (rc < 0) {
        rt_free(u);
        *err = rc;
        return NULL;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    /* Blocking lookup (numeric hosts answer at once): resolve names
     * ahead of time in a program that must never stall. */
    if (getaddrinfo(u->host, u->port, &hints, &res) != 0 || !res) {
        rt_free(u);
        *err = CWS_ERR_RESOLVE;
        return NULL;
    }
    cli_state *c = rt_alloc(sizeof *c);
    cws_socket *s = NULL;
    if (c) {
        memset(c, 0, sizeof *c);
        rt_sockcfg *sc = &c->cfg;
        sc->loop = loop;
        if (u->secure) {
            const char *name = cfg->tls.server_name ? cfg->tls.server_name : u->host;
            rc = cws__tls_client_ctx(&cfg->tls, &sc->tls_ctx);
            c->tls_name = rc == CWS_OK ? cli_strdup(name) : NULL;
            if (rc == CWS_OK && !c->tls_name) rc = CWS_ERR_NOMEM;
            if (rc < 0) {
                cws__tls_ctx_free(sc->tls_ctx);
                rt_free(c->tls_name);
                rt_free(c);
                rt_free(u);
                freeaddrinfo(res);
                *err = rc;
                return NULL;
            }
            sc->tp = &cws__tls_transport;
        }
        rt_sock_settings set = {&cfg->deflate, cfg->receive, cfg->high_water, cfg->max_message_size, cfg->max_fragments,
                                cfg->kernel_unsent_max, cfg->ping_interval_ms, cfg->pong_timeout_ms, cfg->close_timeout_ms, cfg->cb};
        (void)cws__sockcfg_init(sc, CWS_CLIENT, &set);
        s = cws__socket_new(sc, -1);
    }
    cws_hs_client *hc = rt_alloc(sizeof *hc);
    /* 768: the fixed fields and a permessage-deflate offer (<= 128). */
    size_t reqcap = 768 + strlen(u->authority) + strlen(u->path) + (cfg->protocols ? strlen(cfg->protocols) : 0) +
                    (cfg->origin ? strlen(cfg->origin) : 0) + (cfg->extra_headers ? strlen(cfg->extra_headers) : 0);
    char *req = rt_alloc(reqcap);
    ptrdiff_t reqlen = CWS_ERR_NOMEM;
    if (s && hc && req) {
        cws_hs_client_opts o;
        memset(&o, 0, sizeof o);
        o.host = u->authority;
        o.path = u->path;
        o.protocols = cfg->protocols;
        o.origin = cfg->origin;
        o.extra_headers = cfg->extra_headers;
        o.deflate = cfg->deflate.enable ? &cfg->deflate : NULL;
        memset(hc, 0, sizeof *hc);
        reqlen = cws_hs_client_request(hc, &o, req, reqcap);
    }
    rt_free(u);
    if (reqlen > 0) {
        s->own.client = c;
        s->io.state = RT_ST_CONNECTING;
        if (cws__outq_append(s, (const uint8_t *)req, (size_t)reqlen) < 0) reqlen = CWS_ERR_NOMEM;
    }
    rt_free(req);
    if (reqlen <= 0) {
        freeaddrinfo(res);
        if (s) {
            cws__outq_free(s);
            cws__timer_release(loop);
            cws_conn_deinit(rt_sock_conn_mem(s));
            rt_free(s);
        }
        if (c) {
            cws__tls_ctx_free(c->cfg.tls_ctx);
            rt_free(c->tls_name);
        }
        rt_free(c);
        rt_free(hc);
        *err = reqlen < 0 ? (int)reqlen : CWS_ERR_INVALID;
        return NULL;
    }
    c->hc = hc;
    c->ai_list = c->ai_next = res;
    cws_socket_set_user(s, cfg->user);
    s->next = loop->clients;
    if (loop->clients) loop->clients->prev = s;
    loop->clients = s;
    cws__loop_update_now(loop);
    cws__timer_set(loop, &s->tn, loop->now + rt_timeout_ms(cfg->connect_timeout_ms, RT_TIMEOUT_DEFAULT_MS));
    cli_try_next(s);
    return s;
}

cws_socket *cws_connect_wait(cws_loop *loop, const char *url, const cws_client_config *cfg, int *err) {
    int dummy;
    if (!err) err = &dummy;
    cws_socket *s = cws_connect(loop, url, cfg, err);
    if (!s) return NULL;
    cli_waiter w;
    memset(&w, 0, sizeof w);
    cli_of(s)->waiter = &w;
    while (!w.done) {
        if (cws_loop_run_once(loop, 1000) < 0 && !w.done) {
            cws__socket_destroy(s, RT_WHY_IO);
            break;
        }
    }
    if (w.opened && !w.gone) {
        cli_of(s)->waiter = NULL;
        /* on_close already ran (say the server's close frame came in the
         * segment of the 101): the caller must treat the socket as freed,
         * so it is not handed out. The runtime frees it when it is done. */
        if (s->io.flags & RT_F_REPORTED) {
            *err = CWS_ERR_CLOSED;
            return NULL;
        }
        return s;
    }
    *err = w.err ? w.err : CWS_ERR_IO;
    return NULL;
}
