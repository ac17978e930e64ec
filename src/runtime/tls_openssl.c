/* TLS through OpenSSL (1.1.1 or 3.x): the rt_transport of wss:// and
 * https:// sockets. Built only with CWS_TLS_OPENSSL (make TLS=openssl, or
 * defined beside CWS_IMPLEMENTATION for the single header, linking
 * -lssl -lcrypto).
 *
 * OpenSSL talks to the fd through a BIO of ours (recv, and send with
 * MSG_NOSIGNAL: OpenSSL's socket BIO uses write(), which raises SIGPIPE on
 * a reset connection). Everything is non-blocking: each call reports what
 * it waits for, and the socket's events follow (tls_wants):
 *   - a read that must send (handshake replies, a KeyUpdate answer) while
 *     the kernel is full waits for writable;
 *   - a write that needs the peer's bytes (the handshake, when the client
 *     has queued its request) waits for readable, not writable (which
 *     would spin);
 *   - records OpenSSL read ahead of what we asked for are not announced
 *     by the fd again: the socket goes on loop->tls_again and is read next
 *     round without waiting. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "runtime.h" /* first and always: a file left empty is not C */

#ifdef CWS_TLS_OPENSSL
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* One record's plaintext: small entries are gathered into one record
 * instead of one record (and one syscall) each. */
#define TLS_STAGE ((size_t)16 << 10)
#define TLS_ERR_MAX 200

/* A context: OpenSSL's, and our BIO method (one per context rather than a
 * process-wide one: no global state, no race between loops). */
typedef struct tls_ctx {
    SSL_CTX *ssl_ctx;
    BIO_METHOD *bio;
    int client;
} tls_ctx;

struct rt_tls {
    SSL *ssl;
    cws_socket *s;
    struct rt_tls *again_prev, *again_next;
    uint8_t again;            /* TLS_AGAIN_*: on which of the loop's lists */
    uint8_t read_wants_write; /* the last read stopped for writability */
    uint8_t write_wants_read; /* the last write stopped for the peer's bytes */
    uint8_t eof;              /* close_notify (or a bare FIN) came: read says 0 */
    uint8_t fatal;            /* OpenSSL failed: nothing more may be tried */
    uint8_t shut;             /* our close_notify is out */
    char *err;                /* why it failed ("TLS: ..."), for on_close */
};
enum { TLS_AGAIN_NONE = 0, TLS_AGAIN_NEXT, TLS_AGAIN_NOW };

const char *cws_tls_backend(void) { return "openssl"; }

/* ------------------------------------------------------------ the BIO */

static int tls_bio_write(BIO *b, const char *data, int len) {
    rt_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(t->s->io.fd, data, (size_t)len, RT_SEND_FLAGS);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
        return -1;
    }
}

static int tls_bio_read(BIO *b, char *buf, int cap) {
    rt_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = recv(t->s->io.fd, buf, (size_t)cap, 0);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
        return -1;
    }
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nothing buffered here */
}

static int tls_bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

/* ------------------------------------------------------------ contexts */

static void tls_ctx_common(SSL_CTX *c) {
    (void)SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    /* Renegotiation is TLS 1.2's old attack surface; an unexpected EOF is
     * what browsers send, and ends the stream like a FIN. */
    long opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
    (void)SSL_CTX_set_options(c, opts);
    /* Partial writes: a record at a time, like a short send. Moving
     * buffer: a write retried after WANT_WRITE is offered again from the
     * queue, gathered anew. Released buffers: an idle connection holds no
     * 34 KiB of record buffers. */
    (void)SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(c, 1); /* fewer recv calls; see loop->tls_again */
}

static tls_ctx *tls_ctx_new(int client) {
    tls_ctx *c = rt_alloc(sizeof *c);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    c->client = client;
    c->ssl_ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
    /* Not BIO_get_new_index(): its indices run out after 127 calls per
     * process, and nothing here looks BIOs up by type. */
    c->bio = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "cws socket");
    if (!c->ssl_ctx || !c->bio || !BIO_meth_set_write(c->bio, tls_bio_write) ||
        !BIO_meth_set_read(c->bio, tls_bio_read) || !BIO_meth_set_ctrl(c->bio, tls_bio_ctrl) ||
        !BIO_meth_set_create(c->bio, tls_bio_create)) {
        cws__tls_ctx_free(c);
        return NULL;
    }
    tls_ctx_common(c->ssl_ctx);
    return c;
}

void cws__tls_ctx_free(void *ctx) {
    tls_ctx *c = ctx;
    if (!c) return;
    SSL_CTX_free(c->ssl_ctx);
    BIO_meth_free(c->bio);
    rt_free(c);
}

/* RFC 7301 §3.2: the server picks http/1.1 or, if the client offers other
 * protocols only, refuses with no_application_protocol. No ALPN at all is
 * fine (the callback is not called). */
static int tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                           unsigned inlen, void *arg) {
    (void)ssl;
    (void)arg;
    for (unsigned i = 0; i < inlen;) {
        unsigned len = in[i];
        if (i + 1 + len > inlen) break;
        if (len == 8 && !memcmp(in + i + 1, "http/1.1", 8)) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* An encrypted key file is refused (CWS_ERR_TLS) instead of OpenSSL
 * asking for its passphrase on the terminal. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *user) {
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)user;
    return 0;
}

int cws__tls_server_ctx(const cws_tls_server_config *cfg, void **ctx) {
    *ctx = NULL;
    tls_ctx *c = tls_ctx_new(0);
    if (!c) return CWS_ERR_NOMEM;
    const char *key = cfg->key_file ? cfg->key_file : cfg->cert_file;
    SSL_CTX_set_default_passwd_cb(c->ssl_ctx, tls_no_passphrase);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, cfg->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ssl_ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ssl_ctx) != 1) {
        ERR_clear_error();
        cws__tls_ctx_free(c);
        return CWS_ERR_TLS;
    }
    SSL_CTX_set_alpn_select_cb(c->ssl_ctx, tls_alpn_select, NULL);
    *ctx = c;
    return CWS_OK;
}

int cws__tls_client_ctx(const cws_tls_client_config *cfg, void **ctx) {
    *ctx = NULL;
    tls_ctx *c = tls_ctx_new(1);
    if (!c) return CWS_ERR_NOMEM;
    int ok = 1;
    ERR_clear_error();
    if (cfg->insecure_skip_verify) {
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
        ok = cfg->cafile ? SSL_CTX_load_verify_locations(c->ssl_ctx, cfg->cafile, NULL) == 1
                         : SSL_CTX_set_default_verify_paths(c->ssl_ctx) == 1;
    }
    static const unsigned char alpn[] = "\x08http/1.1";
    if (ok && SSL_CTX_set_alpn_protos(c->ssl_ctx, alpn, sizeof alpn - 1) != 0) ok = 0; /* 0 is success */
    if (!ok) {
        ERR_clear_error();
        cws__tls_ctx_free(c);
        return CWS_ERR_TLS;
    }
    *ctx = c;
    return CWS_OK;
}

/* ------------------------------------------------------------ sockets */

static int tls_is_ip(const char *name) {
    unsigned char addr[16];
    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* A client checks the name it connected to: a DNS name against the
 * certificate's names (and sent as SNI), an address against its IP
 * entries (RFC 6066 §3: SNI never carries an address). */
static int tls_client_name(SSL *ssl, const char *name) {
    if (tls_is_ip(name)) {
        if (SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE) return 1;
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
    }
    if (SSL_set_tlsext_host_name(ssl, name) != 1) return 0;
    if (SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE) return 1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, name) == 1;
}

int cws__tls_socket_init(cws_socket *s, void *ctx, const char *host) {
    tls_ctx *c = ctx;
    cws_loop *loop = rt_sock_loop(s);
    if (!loop->tls_stage) {
        loop->tls_stage = rt_alloc(TLS_STAGE);
        if (!loop->tls_stage) return CWS_ERR_NOMEM;
    }
    rt_tls *t = rt_alloc(sizeof *t);
    if (!t) return CWS_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->s = s;
    t->ssl = SSL_new(c->ssl_ctx);
    BIO *b = t->ssl ? BIO_new(c->bio) : NULL;
    if (!b) {
        SSL_free(t->ssl);
        rt_free(t);
        ERR_clear_error();
        return CWS_ERR_NOMEM;
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b); /* one reference for both directions */
    if (c->client) {
        SSL_set_connect_state(t->ssl);
        if (!host || !tls_client_name(t->ssl, host)) {
            SSL_free(t->ssl);
            rt_free(t);
            ERR_clear_error();
            return CWS_ERR_TLS;
        }
    } else {
        SSL_set_accept_state(t->ssl);
    }
    s->tls = t;
    return CWS_OK;
}

/* ------------------------------------------------------------ read again */

static rt_tls **tls_again_head(cws_loop *loop, const rt_tls *t) {
    return t->again == TLS_AGAIN_NOW ? &loop->tls_again_now : &loop->tls_again;
}

static void tls_again_unlink(rt_tls *t) {
    if (t->again == TLS_AGAIN_NONE) return;
    rt_tls **head = tls_again_head(rt_sock_loop(t->s), t);
    if (t->again_prev) t->again_prev->again_next = t->again_next;
    else *head = t->again_next;
    if (t->again_next) t->again_next->again_prev = t->again_prev;
    t->again_prev = t->again_next = NULL;
    t->again = TLS_AGAIN_NONE;
}

/* Bytes OpenSSL holds that no readiness event will announce. */
static size_t tls_pending(const cws_socket *s) {
    const rt_tls *t = s->tls;
    if (!t) return 0;
    if (t->eof || t->fatal) return 1; /* the read that reports it is owed */
    int n = SSL_pending(t->ssl);
    return n > 0 ? (size_t)n : (size_t)SSL_has_pending(t->ssl);
}

static void tls_again_mark(rt_tls *t) {
    if (t->again == TLS_AGAIN_NEXT || !tls_pending(t->s)) return;
    tls_again_unlink(t);
    cws_loop *loop = rt_sock_loop(t->s);
    t->again = TLS_AGAIN_NEXT;
    t->again_next = loop->tls_again;
    if (loop->tls_again) loop->tls_again->again_prev = t;
    loop->tls_again = t;
}

void cws__tls_again_run(cws_loop *loop) {
    /* Taken as a whole first: a socket marked again while this runs waits
     * for the next round, so one peer cannot keep the loop here. */
    loop->tls_again_now = loop->tls_again;
    loop->tls_again = NULL;
    for (rt_tls *t = loop->tls_again_now; t; t = t->again_next) t->again = TLS_AGAIN_NOW;
    while (loop->tls_again_now) {
        rt_tls *t = loop->tls_again_now;
        tls_again_unlink(t);
        cws__socket_event(t->s, RT_EV_READ); /* may free t, or others (unlinked then) */
    }
}

void cws__tls_loop_free(cws_loop *loop) {
    rt_free(loop->tls_stage);
    loop->tls_stage = NULL;
}

/* ------------------------------------------------------------ transport */

/* Latches the failure and words it: a certificate the client refused says
 * why, anything else names OpenSSL's reason. */
static void tls_fail(rt_tls *t, int e) {
    t->fatal = 1;
    if (t->err) return;
    char text[TLS_ERR_MAX];
    long v = SSL_get_verify_result(t->ssl);
    unsigned long code = ERR_peek_last_error();
    if (v != X509_V_OK && SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE && !SSL_is_init_finished(t->ssl))
        snprintf(text, sizeof text, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(v));
    else if (code && ERR_reason_error_string(code))
        snprintf(text, sizeof text, "TLS: %s", ERR_reason_error_string(code));
    else
        snprintf(text, sizeof text, "TLS: %s", e == SSL_ERROR_SYSCALL ? "connection reset" : "protocol error");
    ERR_clear_error();
    size_t n = strlen(text) + 1;
    t->err = rt_alloc(n);
    if (t->err) memcpy(t->err, text, n);
}

static ptrdiff_t tls_read(cws_socket *s, uint8_t *buf, size_t cap) {
    rt_tls *t = s->tls;
    size_t got = 0;
    t->read_wants_write = 0;
    while (got < cap && !t->eof && !t->fatal) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(t->ssl, buf + got, cap - got, &n) == 1) {
            got += n;
            continue;
        }
        int e = SSL_get_error(t->ssl, 0);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_WANT_WRITE) {
            t->read_wants_write = 1;
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN) t->eof = 1;
        else tls_fail(t, e);
    }
    if (got) {
        tls_again_mark(t); /* what is left, or the end, next round */
        return (ptrdiff_t)got;
    }
    if (t->eof) return 0;
    return t->fatal ? RT_TP_ERROR : RT_TP_AGAIN;
}

/* Gathers what follows (i, off) in iov, up to one record, into the loop's
 * stage; a large entry goes as it is. */
static const uint8_t *tls_gather(cws_loop *loop, const struct iovec *iov, size_t n, size_t i, size_t off,
                                 size_t *len) {
    const uint8_t *p = (const uint8_t *)iov[i].iov_base + off;
    size_t first = iov[i].iov_len - off;
    if (first >= TLS_STAGE || i + 1 == n) {
        *len = first;
        return p;
    }
    size_t k = 0;
    for (; i < n && k < TLS_STAGE; i++, off = 0) {
        size_t take = CWS__MIN(iov[i].iov_len - off, TLS_STAGE - k);
        memcpy(loop->tls_stage + k, (const uint8_t *)iov[i].iov_base + off, take);
        k += take;
    }
    *len = k;
    return loop->tls_stage;
}

static ptrdiff_t tls_writev(cws_socket *s, const struct iovec *iov, size_t n) {
    rt_tls *t = s->tls;
    if (t->fatal) return RT_TP_ERROR;
    size_t total = 0, i = 0, off = 0;
    t->write_wants_read = 0;
    while (i < n) {
        if (off == iov[i].iov_len) {
            i++;
            off = 0;
            continue;
        }
        size_t len, w = 0;
        const uint8_t *p = tls_gather(rt_sock_loop(s), iov, n, i, off, &len);
        ERR_clear_error();
        if (SSL_write_ex(t->ssl, p, len, &w) != 1) {
            int e = SSL_get_error(t->ssl, 0);
            if (e == SSL_ERROR_WANT_READ) t->write_wants_read = 1;
            else if (e != SSL_ERROR_WANT_WRITE) tls_fail(t, e);
            break;
        }
        total += w;
        while (w) { /* advance past what was taken */
            size_t step = CWS__MIN(w, iov[i].iov_len - off);
            off += step;
            w -= step;
            if (off == iov[i].iov_len && i + 1 < n) {
                i++;
                off = 0;
            }
        }
    }
    /* The handshake a write drove may have read records ahead. */
    tls_again_mark(t);
    if (total) return (ptrdiff_t)total;
    return t->fatal ? RT_TP_ERROR : RT_TP_AGAIN;
}

static int tls_handshake(cws_socket *s) {
    rt_tls *t = s->tls;
    if (t->fatal) return RT_TP_ERROR;
    ERR_clear_error();
    if (SSL_do_handshake(t->ssl) == 1) return 1;
    int e = SSL_get_error(t->ssl, 0);
    t->read_wants_write = e == SSL_ERROR_WANT_WRITE;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    tls_fail(t, e);
    return RT_TP_ERROR;
}

/* close_notify (RFC 8446 §6.1), once and best effort: a full kernel
 * buffer loses it, which the peer reads as an unexpected EOF. */
static void tls_shutdown(cws_socket *s) {
    rt_tls *t = s->tls;
    if (t && !t->fatal && !t->shut && SSL_is_init_finished(t->ssl)) {
        t->shut = 1;
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    if (s->io.fd >= 0) (void)shutdown(s->io.fd, SHUT_WR);
}

static unsigned tls_wants(const cws_socket *s, unsigned usual) {
    const rt_tls *t = s->tls;
    if (!t) return usual;
    if (t->write_wants_read) usual &= ~(unsigned)RT_EV_WRITE;
    if (t->read_wants_write) usual |= RT_EV_WRITE;
    return usual;
}

/* A read that stopped to send goes on when the fd is writable. (A write
 * that waits for the peer needs nothing here: every event ends with the
 * socket's service, which flushes what is queued.) */
static unsigned tls_ready(const cws_socket *s, unsigned ev) {
    const rt_tls *t = s->tls;
    return t && ev & RT_EV_WRITE && t->read_wants_write ? ev | RT_EV_READ : ev;
}

static const char *tls_error(const cws_socket *s) { return s->tls ? s->tls->err : NULL; }

static void tls_free(cws_socket *s) {
    rt_tls *t = s->tls;
    if (!t) return;
    tls_again_unlink(t);
    SSL_free(t->ssl);
    rt_free(t->err);
    rt_free(t);
    s->tls = NULL;
}

const rt_transport cws__tls_transport = {tls_read, tls_writev, tls_handshake, tls_shutdown,
                                         tls_pending, tls_wants, tls_ready, tls_error, tls_free};

#endif
