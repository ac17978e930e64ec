/* The bench servers' listening socket (the reflector, the yardstick, the
 * wslay peer): loopback, the port from --port (0: ephemeral), announced on
 * stdout as run.sh expects it, and the epoll set that accepts from it.
 * Needs _GNU_SOURCE (accept4). */
#ifndef BENCH_TCP_SERVER_H
#define BENCH_TCP_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* --port N among the arguments; 0 if absent. */
static inline int bench_port_arg(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    return port;
}

/* A non-blocking listener on 127.0.0.1:port; prints "listening on
 * 127.0.0.1:PORT" (the port bound). -1 after a message naming the tool. */
static inline int bench_listen(int port, const char *tool) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) {
        fprintf(stderr, "%s: bind/listen: %s\n", tool, strerror(errno));
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return ls;
}

/* An epoll instance watching ls for readability, with data.ptr NULL: the
 * loops' sign for "accept". */
static inline int bench_epoll_listener(int ls) {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    return ep;
}

/* The next waiting connection, non-blocking with TCP_NODELAY (replies go
 * out as written), or -1 when none is left. */
static inline int bench_accept(int ls) {
    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

#endif
