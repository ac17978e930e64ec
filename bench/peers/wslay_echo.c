/* Peer echo server for the benchmarks: wslay (Debian libwslay-dev) with a
 * small epoll loop of ours around it. wslay does no I/O and no handshake,
 * so the loop reads the HTTP upgrade, answers the 101 (accept value from
 * bench/common/ws_accept.h) and then hands the socket to wslay's event API
 * through its recv/send callbacks, echoing each message with the same
 * opcode from on_msg_recv.
 *   wslay_echo [--port N]   (0: ephemeral; prints "listening on HOST:PORT") */
#define _GNU_SOURCE
#define HEAD_MAX 8192
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "../common/ws_accept.h"

typedef struct client {
    int fd;
    wslay_event_context_ptr ws; /* NULL until the handshake is done */
    char *head;                 /* the request; freed once consumed */
    size_t head_len;
    size_t pre_off, pre_len;    /* frame bytes that arrived with the head */
    char out[160];              /* the 101, if the socket was full */
    size_t out_off, out_len;
    unsigned events;
} client;

static int ep;

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user) {
    (void)flags;
    client *c = user;
    if (c->pre_off < c->pre_len) {
        size_t n = c->pre_len - c->pre_off;
        if (n > len) n = len;
        memcpy(buf, c->head + c->pre_off, n);
        c->pre_off += n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t r = read(c->fd, buf, len);
        if (r > 0) return r;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        else wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user) {
    (void)flags;
    client *c = user;
    for (;;) {
        ssize_t r = write(c->fd, data, len);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        else wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user) {
    (void)user;
    if (wslay_is_ctrl_frame(arg->opcode)) return; /* wslay answers pings and closes */
    struct wslay_event_msg m = {arg->opcode, arg->msg, arg->msg_length};
    wslay_event_queue_msg(ctx, &m);
}

static const struct wslay_event_callbacks callbacks = {on_recv, on_send, NULL, NULL, NULL, NULL, on_msg};

static void client_free(client *c) {
    if (c->ws) wslay_event_context_free(c->ws);
    free(c->head);
    close(c->fd);
    free(c);
}

static void set_events(client *c, unsigned events) {
    if (events == c->events) return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

/* Reads the upgrade request; returns -1 to drop the client. */
static int handshake(client *c) {
    ssize_t r = read(c->fd, c->head + c->head_len, HEAD_MAX - c->head_len - 1);
    if (r <= 0) return r < 0 && errno == EAGAIN ? 0 : -1;
    c->head_len += (size_t)r;
    c->head[c->head_len] = 0;
    char *end = strstr(c->head, "\r\n\r\n");
    if (!end) return c->head_len + 1 < HEAD_MAX ? 0 : -1;
    const char *key = NULL;
    size_t key_len = 0;
    for (char *line = strstr(c->head, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Sec-WebSocket-Key:", 18) == 0) {
            key = line + 20;
            while (*key == ' ') key++;
            key_len = strcspn(key, " \r");
        }
    }
    if (!key || key_len == 0 || key_len > 60) return -1;
    char accept[29];
    bench_ws_accept(key, key_len, accept);
    c->out_len = (size_t)snprintf(c->out, sizeof c->out,
                                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    c->pre_off = (size_t)(end + 4 - c->head);
    c->pre_len = c->head_len;
    if (wslay_event_context_server_init(&c->ws, &callbacks, c) != 0) return -1;
    ssize_t w = write(c->fd, c->out, c->out_len);
    if (w < 0) return errno == EAGAIN ? 0 : -1;
    c->out_off = (size_t)w;
    return 0;
}

static void serve(client *c, unsigned events) {
    if (!c->ws) {
        if (handshake(c) < 0) { client_free(c); return; }
        if (!c->ws) return;
    }
    if (c->out_off < c->out_len) { /* rest of the 101 first */
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno != EAGAIN) { client_free(c); return; }
        if (w > 0) c->out_off += (size_t)w;
        if (c->out_off < c->out_len) { set_events(c, EPOLLOUT); return; }
    }
    if (((events & EPOLLIN) || c->pre_off < c->pre_len) && wslay_event_recv(c->ws) != 0) {
        client_free(c);
        return;
    }
    if (c->head && c->pre_off == c->pre_len) {
        free(c->head);
        c->head = NULL;
    }
    if (wslay_event_send(c->ws) != 0) { client_free(c); return; }
    int rd = wslay_event_want_read(c->ws), wr = wslay_event_want_write(c->ws);
    if (!rd && !wr) { client_free(c); return; }
    set_events(c, (rd ? EPOLLIN : 0) | (wr ? EPOLLOUT : 0));
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) {
        perror("wslay_echo: bind/listen");
        return 1;
    }
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            client *c = evs[i].data.ptr;
            if (c) { serve(c, evs[i].events); continue; }
            int fd;
            while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                client *nc = calloc(1, sizeof *nc);
                if (nc) nc->head = malloc(HEAD_MAX);
                if (!nc || !nc->head) { free(nc); close(fd); continue; }
                nc->fd = fd;
                nc->events = EPOLLIN;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            }
        }
    }
}
