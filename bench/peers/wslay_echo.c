/* Peer echo server for the benchmarks: wslay (Debian libwslay-dev) with a
 * small epoll loop of ours around it. wslay does no I/O and no handshake,
 * so the loop reads the HTTP upgrade, answers the 101 (accept value from
 * bench/common/ws_accept.h) and then hands the socket to wslay's event API
 * through its recv/send callbacks, echoing each message with the same
 * opcode from on_msg_recv.
 *   wslay_echo [--port N]   (0: ephemeral; prints "listening on HOST:PORT") */
#define _GNU_SOURCE
#define HEAD_MAX 8192
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "../common/tcp_server.h"
#include "../common/ws_server.h"

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
    size_t key_len = 0;
    const char *key = bench_ws_request_key(c->head, (size_t)(end + 4 - c->head), &key_len);
    if (!key || key_len == 0 || key_len > 60) return -1;
    c->out_len = bench_ws_101(key, key_len, c->out);
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
    signal(SIGPIPE, SIG_IGN);
    int ls = bench_listen(bench_port_arg(argc, argv), "wslay_echo");
    if (ls < 0) return 1;
    ep = bench_epoll_listener(ls);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            client *c = evs[i].data.ptr;
            if (c) { serve(c, evs[i].events); continue; }
            int fd;
            while ((fd = bench_accept(ls)) >= 0) {
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
