/* Plain TCP, the runtime's default transport (rt_transport in runtime.h):
 * the calls the runtime made itself before TLS existed. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "runtime.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

static ptrdiff_t tcp_read(cws_socket *s, uint8_t *buf, size_t cap) {
    for (;;) {
        ssize_t n = recv(s->io.fd, buf, cap, 0);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? RT_TP_AGAIN : RT_TP_ERROR;
    }
}

static ptrdiff_t tcp_writev(cws_socket *s, const struct iovec *iov, size_t n) {
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)(uintptr_t)iov;
    msg.msg_iovlen = n;
    for (;;) {
        ssize_t w = sendmsg(s->io.fd, &msg, RT_SEND_FLAGS);
        if (w >= 0) return w;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? RT_TP_AGAIN : RT_TP_ERROR;
    }
}

static int tcp_handshake(cws_socket *s) {
    (void)s;
    return 1;
}

static void tcp_shutdown(cws_socket *s) { (void)shutdown(s->io.fd, SHUT_WR); }

static size_t tcp_pending(const cws_socket *s) {
    (void)s;
    return 0;
}

static unsigned tcp_wants(const cws_socket *s, unsigned usual) {
    (void)s;
    return usual;
}

static unsigned tcp_ready(const cws_socket *s, unsigned ev) {
    (void)s;
    return ev;
}

static const char *tcp_error(const cws_socket *s) {
    (void)s;
    return NULL;
}

static void tcp_free(cws_socket *s) { (void)s; }

const rt_transport cws__tcp_transport = {tcp_read, tcp_writev, tcp_handshake, tcp_shutdown,
                                         tcp_pending, tcp_wants, tcp_ready, tcp_error, tcp_free};
