/* No TLS backend (the default build): the runtime refuses certificates
 * and wss:// (CWS_ERR_INVALID, checked through cws_tls_backend()), so
 * nothing here is ever reached with a socket. */
#include "runtime.h" /* first and always: a file left empty is not C */

#ifndef CWS_TLS_OPENSSL

const char *cws_tls_backend(void) { return NULL; }

int cws__tls_server_ctx(const cws_tls_server_config *cfg, void **ctx) {
    (void)cfg;
    *ctx = NULL;
    return CWS_ERR_INVALID;
}

int cws__tls_client_ctx(const cws_tls_client_config *cfg, void **ctx) {
    (void)cfg;
    *ctx = NULL;
    return CWS_ERR_INVALID;
}

void cws__tls_ctx_free(void *ctx) { (void)ctx; }

int cws__tls_socket_init(cws_socket *s, void *ctx, const char *host) {
    (void)s;
    (void)ctx;
    (void)host;
    return CWS_ERR_INVALID;
}

void cws__tls_again_run(cws_loop *loop) { (void)loop; }

void cws__tls_loop_free(cws_loop *loop) { (void)loop; }

/* Never given to a socket: cws__tcp_transport's functions would do, but a
 * const object cannot be initialised from another one. */
static ptrdiff_t none_read(cws_socket *s, uint8_t *buf, size_t cap) {
    (void)s;
    (void)buf;
    (void)cap;
    return RT_TP_ERROR;
}
static ptrdiff_t none_writev(cws_socket *s, const struct iovec *iov, size_t n) {
    (void)s;
    (void)iov;
    (void)n;
    return RT_TP_ERROR;
}
static int none_handshake(cws_socket *s) {
    (void)s;
    return RT_TP_ERROR;
}
static void none_shutdown(cws_socket *s) { (void)s; }
static size_t none_pending(const cws_socket *s) {
    (void)s;
    return 0;
}
static unsigned none_wants(const cws_socket *s, unsigned usual) {
    (void)s;
    return usual;
}
static unsigned none_ready(const cws_socket *s, unsigned ev) {
    (void)s;
    return ev;
}
static const char *none_error(const cws_socket *s) {
    (void)s;
    return NULL;
}
static void none_free(cws_socket *s) { (void)s; }

const rt_transport cws__tls_transport = {none_read, none_writev, none_handshake, none_shutdown,
                                         none_pending, none_wants, none_ready, none_error, none_free};

#endif
