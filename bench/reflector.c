/* The ceiling: a plain TCP reflector that sends every byte back as it came,
 * with no framing. Same shape as a lean WebSocket echo server (epoll, one
 * read of up to 128 KiB per readable event (as the cws runtime), one write back, the rest queued
 * when the socket is full), so the load generator's raw mode against it
 * measures what the kernel and the loop cost before any WebSocket work.
 *   reflector [--port N]    (0: ephemeral; prints "listening on HOST:PORT")
 * Exits on SIGTERM/SIGINT. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/tcp_server.h"

#define REFLECT_CHUNK (128 * 1024) /* the cws runtime reads 128 KiB at a time too */

typedef struct peer {
    int fd;
    uint8_t *pend;          /* bytes the kernel did not take yet */
    size_t pend_len, pend_cap;
} peer;

static void peer_free(int ep, peer *p) {
    epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
    close(p->fd);
    free(p->pend);
    free(p);
}

/* Writes what is pending; returns 1 if everything went out. */
static int peer_flush(peer *p) {
    size_t off = 0;
    while (off < p->pend_len) {
        ssize_t n = write(p->fd, p->pend + off, p->pend_len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            return -1;
        }
        off += (size_t)n;
    }
    memmove(p->pend, p->pend + off, p->pend_len - off);
    p->pend_len -= off;
    return p->pend_len == 0;
}

static int peer_queue(peer *p, const uint8_t *data, size_t len) {
    if (bench_grow(&p->pend, &p->pend_cap, p->pend_len + len) < 0) return -1;
    memcpy(p->pend + p->pend_len, data, len);
    p->pend_len += len;
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    int ls = bench_listen(bench_port_arg(argc, argv), "reflector");
    if (ls < 0) return 1;

    int ep = bench_epoll_listener(ls);
    static uint8_t buf[REFLECT_CHUNK];
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        for (int i = 0; i < n; i++) {
            peer *p = evs[i].data.ptr;
            if (!p) { /* accept everything waiting */
                int fd;
                while ((fd = bench_accept(ls)) >= 0) {
                    peer *np = calloc(1, sizeof *np);
                    if (!np) { close(fd); continue; }
                    np->fd = fd;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = np};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                int r = peer_flush(p);
                if (r < 0) { peer_free(ep, p); continue; }
                if (r == 1) { /* drained: read again */
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = p};
                    epoll_ctl(ep, EPOLL_CTL_MOD, p->fd, &e);
                }
                continue;
            }
            ssize_t got = read(p->fd, buf, sizeof buf);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                peer_free(ep, p);
                continue;
            }
            ssize_t w = write(p->fd, buf, (size_t)got);
            if (w < 0 && errno != EAGAIN) { peer_free(ep, p); continue; }
            if (w < 0) w = 0;
            if (w < got) { /* socket full: keep the rest, stop reading */
                if (peer_queue(p, buf + w, (size_t)(got - w)) < 0) { peer_free(ep, p); continue; }
                struct epoll_event e = {.events = EPOLLOUT, .data.ptr = p};
                epoll_ctl(ep, EPOLL_CTL_MOD, p->fd, &e);
            }
        }
    }
}
