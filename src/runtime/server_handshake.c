/* The server's side of each socket's opening handshake: the request head
 * as it arrives (a buffer only when it comes in pieces), then the 101 and
 * the WebSocket, an HTTP refusal, or a plain-HTTP answer through on_http.
 * Used by server.c (accept) and http_reply.c (linger). */
#include "runtime.h"

#include <string.h>

/* The first buffer for a request head that arrives in pieces. */
#define SRV_HS_INITIAL 1024u

/* The request head while it arrives in pieces. Moving the buffer resets
 * the parse (it restarts from byte 0), which happens only log(n) times.
 * It is the socket's own.hs_head while the head is incomplete. */
typedef struct srv_hsbuf {
    size_t len, cap;
    cws_hs_request req;
    char data[];
} srv_hsbuf;

void cws__server_linger(cws_socket *s) {
    /* The request head stays until the caller is done with it (on_http may
     * still read it after replying); srv_hs_result frees it. */
    s->io.state = RT_ST_LINGER;
    cws__timer_set(rt_sock_loop(s), &s->tn, rt_sock_loop(s)->now + rt_sock_server(s)->handshake_timeout);
    cws__socket_dirty(s);
}

void cws__server_reject(cws_socket *s, int status) {
    char out[512];
    ptrdiff_t n = cws_hs_reject(status, out, sizeof out);
    if (n <= 0 || cws__outq_append(s, (const uint8_t *)out, (size_t)n) < 0) {
        cws__socket_destroy(s, RT_WHY_NOMEM);
        return;
    }
    cws__server_linger(s);
}

static void srv_plain_http(cws_socket *s, const cws_http_head *head) {
    cws_server *srv = rt_sock_server(s);
    cws_http_reply r;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.head_only = cws_str_ieq(head->method, "HEAD");
    if (srv->cfg.on_http) {
        srv->cfg.on_http(&r, head, srv->cfg.user);
        if (s->io.kind == RT_IO_DEAD) return;
        if (!r.sent) cws_http_reply_send(&r, 500, "text/plain", "no reply\n", 9, NULL);
    } else {
        cws_http_reply_send(&r, 404, "text/plain", "Not Found\n", 10, NULL);
    }
}

static void srv_upgrade(cws_socket *s, cws_hs_request *req, uint8_t *rest, size_t rest_len) {
    cws_server *srv = rt_sock_server(s);
    if (srv->shutting) {
        cws__server_reject(s, 503);
        return;
    }
    int status = srv->cfg.on_upgrade ? srv->cfg.on_upgrade(s, req, srv->cfg.user) : 0;
    if (s->io.kind == RT_IO_DEAD) return;
    if (!status && srv->shutting) status = 503; /* on_upgrade started a shutdown */
    if (status) {
        cws__server_reject(s, status >= 400 && status <= 599 ? status : 403);
        return;
    }
    /* The application may have tied state to s (cws_socket_set_user):
     * from here on it hears of the end, even of a 101 that fails. */
    s->xflags |= RT_X_ACCEPTED;
    char out[1024];
    ptrdiff_t n = cws_hs_accept(req, NULL, out, sizeof out);
    if (n <= 0) { /* e.g. a subprotocol chosen too long for the answer */
        s->why = RT_WHY_HANDSHAKE;
        cws__server_reject(s, 500);
        return;
    }
    /* Copied (only when there is one) before on_open may ask for it: the
     * head it points into goes once the handshake is decided. */
    if (req->protocol.len) {
        rt_srvsock *x = cws__srvsock_get(s);
        char *p = x ? rt_alloc(req->protocol.len + 1) : NULL;
        if (!p) {
            cws__socket_destroy(s, RT_WHY_NOMEM);
            return;
        }
        memcpy(p, req->protocol.ptr, req->protocol.len);
        p[req->protocol.len] = '\0';
        x->protocol = p;
    }
    if (cws__outq_append(s, (const uint8_t *)out, (size_t)n) < 0 ||
        cws_conn_set_deflate(rt_sock_conn_mem(s), &req->deflate) != CWS_OK ||
        cws__socket_open(s, rest, rest_len) < 0)
        cws__socket_destroy(s, RT_WHY_NOMEM);
}

/* hb is the head's buffer (NULL when the head is in the loop's read
 * buffer), detached from s->own.hs_head by the caller so that an upgrade can put
 * the subprotocol there; it is given back only if the head is still
 * incomplete. */
static void srv_hs_result(cws_socket *s, ptrdiff_t r, cws_hs_request *req, char *buf, size_t len,
                          srv_hsbuf *hb) {
    if (r > 0) {
        srv_upgrade(s, req, (uint8_t *)buf + r, len - (size_t)r);
    } else if (r == CWS_ERR_NOT_UPGRADE) {
        srv_plain_http(s, &req->http);
    } else if (r != CWS_ERR_AGAIN) {
        cws__server_reject(s, cws_hs_status((int)r));
    } /* AGAIN only under the size limit: the parser says TOO_BIG at it */
    if (s->io.kind != RT_IO_DEAD && s->io.state == RT_ST_HANDSHAKE) {
        s->own.hs_head = hb; /* undecided: wait for more of the head */
        return;
    }
    /* Decided: the head (which req and rest pointed into) is not needed. */
    rt_free(hb);
}

void cws__server_hs_read(cws_socket *s, uint8_t *data, size_t n) {
    cws_server *srv = rt_sock_server(s);
    srv_hsbuf *hb = s->own.hs_head;
    if (!hb) {
        /* Fast path: the whole head usually arrives in one read; parse it in
         * the loop's buffer and allocate nothing. */
        cws_hs_request req;
        memset(&req, 0, sizeof req);
        ptrdiff_t r = cws_hs_server_parse(&req, &srv->cfg.hs, (const char *)data, n);
        if (r != CWS_ERR_AGAIN) {
            srv_hs_result(s, r, &req, (char *)data, n, NULL);
            return;
        }
        size_t cap = CWS__MAX(SRV_HS_INITIAL, n * 2);
        hb = rt_alloc(sizeof *hb + cap);
        if (!hb) {
            cws__socket_destroy(s, RT_WHY_NOMEM);
            return;
        }
        memset(hb, 0, sizeof *hb);
        hb->cap = cap;
        memcpy(hb->data, data, n);
        hb->len = n;
        s->own.hs_head = hb;
        return; /* nothing new to parse until more bytes come */
    }
    if (hb->cap - hb->len < n) {
        size_t cap = CWS__MAX(hb->cap * 2, hb->len + n);
        srv_hsbuf *nb = cws__realloc(NULL, hb, sizeof *hb + cap);
        if (!nb) {
            cws__socket_destroy(s, RT_WHY_NOMEM);
            return;
        }
        hb = nb;
        hb->cap = cap;
        memset(&hb->req, 0, sizeof hb->req); /* the buffer moved: parse afresh */
        s->own.hs_head = hb;
    }
    memcpy(hb->data + hb->len, data, n);
    hb->len += n;
    ptrdiff_t r = cws_hs_server_parse(&hb->req, &srv->cfg.hs, hb->data, hb->len);
    s->own.hs_head = NULL;
    srv_hs_result(s, r, &hb->req, hb->data, hb->len, hb);
}
