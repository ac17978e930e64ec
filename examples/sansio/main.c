/*
 * cws-sansio — a WebSocket echo server on plain poll(), using only the
 * sans-I/O layers of cws (handshake + cws_conn): no cws_loop, no
 * cws_server. It shows where each call goes when you own the event loop,
 * which is also how you would put cws behind your own TLS library.
 *
 *   cws-sansio [--port N]      (N = 0: any free port; the port is printed)
 *
 * Every text or binary message comes back unchanged. Pings are answered
 * and close handshakes completed by cws_conn itself.
 */
#define _POSIX_C_SOURCE 200809L

#include <cws.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SANSIO_MAX_CLIENTS 64
#define SANSIO_HEAD_MAX 8192

/* One client: first an HTTP head being collected, then a cws_conn. */
typedef struct client {
    int fd;                         /* -1: free slot */
    cws_conn *conn;                 /* NULL until the handshake succeeded */
    char head[SANSIO_HEAD_MAX];     /* the upgrade request so far */
    size_t head_len;
    cws_hs_request req;
    char reply[1024];               /* 101 or error response, unsent part */
    size_t reply_len;
    int close_after_reply;          /* handshake refused: close when sent */
} client;

/* on_message: echo. cws_conn_send only queues bytes in the connection's
 * output buffer; the poll loop below writes them to the socket. */
static void echo_message(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    cws_conn_send(c, opcode, data, len);
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    printf("listening on %d\n", ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

static void client_drop(client *cl) {
    if (cl->conn) cws_conn_free(cl->conn);
    close(cl->fd);
    cl->fd = -1;
    cl->conn = NULL;
}

/* Writes what is pending: the handshake reply first, then the frames the
 * connection queued. Returns 1 if bytes remain (ask poll for POLLOUT),
 * 0 if all is sent, -1 if the socket failed. */
static int client_flush(client *cl) {
    while (cl->reply_len > 0) {
        ssize_t n = send(cl->fd, cl->reply, cl->reply_len, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        memmove(cl->reply, cl->reply + n, cl->reply_len - (size_t)n);
        cl->reply_len -= (size_t)n;
    }
    if (!cl->conn) return 0;
    const uint8_t *out;
    size_t len;
    while ((len = cws_conn_output(cl->conn, &out)) > 0) {
        ssize_t n = send(cl->fd, out, len, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        cws_conn_consume(cl->conn, (size_t)n);
    }
    return 0;
}

/* The opening handshake: parse what arrived, answer 101 or an error. */
static void client_handshake(client *cl, uint8_t *data, size_t len) {
    size_t room = sizeof cl->head - cl->head_len;
    size_t take = len < room ? len : room;
    memcpy(cl->head + cl->head_len, data, take);
    cl->head_len += take;

    cws_hs_server_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.max_size = sizeof cl->head;
    ptrdiff_t r = cws_hs_server_parse(&cl->req, &opts, cl->head, cl->head_len);
    if (r == CWS_ERR_AGAIN) return;
    if (r < 0) { /* not an upgrade, or a refused one: answer and hang up */
        int status = r == CWS_ERR_NOT_UPGRADE ? 426 : cws_hs_status((int)r);
        ptrdiff_t n = cws_hs_reject(status, cl->reply, sizeof cl->reply);
        cl->reply_len = n > 0 ? (size_t)n : 0;
        cl->close_after_reply = 1;
        return;
    }
    ptrdiff_t n = cws_hs_accept(&cl->req, NULL, cl->reply, sizeof cl->reply);
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = CWS_SERVER;
    cfg.cb.on_message = echo_message; /* cb.write NULL: use cws_conn_output */
    cl->conn = n > 0 ? cws_conn_new(&cfg, NULL) : NULL;
    if (!cl->conn) {
        cl->reply_len = 0;
        cl->close_after_reply = 1;
        return;
    }
    cl->reply_len = (size_t)n;
    /* Bytes after the head are already WebSocket frames (RFC 6455 §4.1). */
    size_t used = (size_t)r - (cl->head_len - take);
    if (len > used) cws_conn_recv(cl->conn, data + used, len - used);
}

/* Reads what the socket has; returns -1 when the client is gone. */
static int client_read(client *cl) {
    uint8_t buf[16384];
    ssize_t n = recv(cl->fd, buf, sizeof buf, 0);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    if (n == 0) { /* TCP closed: cws_conn reports 1006 if no close frame came */
        if (cl->conn) cws_conn_abort(cl->conn);
        return -1;
    }
    if (!cl->conn) {
        if (!cl->close_after_reply) client_handshake(cl, buf, (size_t)n);
        return 0;
    }
    /* Unmasks in place and fires the callbacks; a protocol error queues
     * the close frame with the right code and returns < 0. */
    cws_conn_recv(cl->conn, buf, (size_t)n);
    return 0;
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        long v = -1;
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) v = strtol(argv[++i], &end, 10);
        if (end && *end == '\0' && v >= 0 && v <= 65535) {
            port = (int)v;
        } else {
            fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    int lfd = listen_on(port);
    if (lfd < 0) {
        perror("listen");
        return 1;
    }
    static client clients[SANSIO_MAX_CLIENTS];
    for (int i = 0; i < SANSIO_MAX_CLIENTS; i++) clients[i].fd = -1;

    for (;;) {
        struct pollfd pfd[SANSIO_MAX_CLIENTS + 1];
        int slot[SANSIO_MAX_CLIENTS + 1];
        nfds_t n = 0;
        pfd[n].fd = lfd;
        pfd[n].events = POLLIN;
        slot[n++] = -1;
        for (int i = 0; i < SANSIO_MAX_CLIENTS; i++) {
            client *cl = &clients[i];
            if (cl->fd < 0) continue;
            int pending = cl->reply_len > 0 || (cl->conn && cws_conn_buffered_amount(cl->conn) > 0);
            pfd[n].fd = cl->fd;
            pfd[n].events = (short)(POLLIN | (pending ? POLLOUT : 0));
            slot[n++] = i;
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            return 1;
        }
        for (nfds_t k = 1; k < n; k++) {
            client *cl = &clients[slot[k]];
            if (!pfd[k].revents) continue;
            int gone = (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) ? client_read(cl) < 0 : 0;
            /* Flush what the read produced (echoes, pongs, close frames). */
            if (!gone) gone = client_flush(cl) < 0;
            int finished = cl->reply_len == 0 &&
                           (cl->close_after_reply || (cl->conn && cws_conn_done(cl->conn) &&
                                                      cws_conn_buffered_amount(cl->conn) == 0));
            if (gone || finished) client_drop(cl);
        }
        if (pfd[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0) continue;
            int i = 0;
            while (i < SANSIO_MAX_CLIENTS && clients[i].fd >= 0) i++;
            if (i == SANSIO_MAX_CLIENTS) { /* full: refuse rather than queue */
                close(fd);
                continue;
            }
            fcntl(fd, F_SETFL, O_NONBLOCK);
            memset(&clients[i], 0, sizeof clients[i]);
            clients[i].fd = fd;
        }
    }
}
