/* Shared by the runtime tests: a bounded loop pump and a raw, non-blocking
 * loopback TCP peer driven from the same thread as the loop. Everything
 * here is static so each test program stays one translation unit. */
#ifndef TEST_RUNTIME_UTIL_H
#define TEST_RUNTIME_UTIL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cws.h"
#include "cws_util.h"

/* Runs the loop until *flag is non-zero or ms pass; returns *flag. Every
 * test waits through this, so none can hang. */
static inline int rt_pump_until(cws_loop *loop, const volatile int *flag, uint64_t ms) {
    cws_loop_run_once(loop, 0);
    uint64_t end = cws_loop_now(loop) + ms;
    while (!*flag && cws_loop_now(loop) < end) cws_loop_run_once(loop, 10);
    return *flag;
}

static inline void rt_pump_for(cws_loop *loop, uint64_t ms) {
    static const int never = 0;
    rt_pump_until(loop, &never, ms);
}

/* A non-blocking TCP connection to 127.0.0.1:port (or ::1), with a
 * receive buffer of rcvbuf bytes (0: the kernel's default), set before
 * connecting so the window it advertises stays that small. */
static inline int rt_raw_connect_rcvbuf(int port, int v6, int rcvbuf) {
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int rc;
    if (v6) {
        struct sockaddr_in6 a;
        memset(&a, 0, sizeof a);
        a.sin6_family = AF_INET6;
        a.sin6_port = htons((uint16_t)port);
        a.sin6_addr = in6addr_loopback;
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static inline int rt_raw_connect(int port, int v6) { return rt_raw_connect_rcvbuf(port, v6, 0); }

/* A blocking TCP listener on 127.0.0.1, a free port (*port), that this
 * test accepts from itself, or never. rcvbuf > 0 shrinks the receive
 * buffer (inherited by accepted fds). */
static inline int rt_raw_listen(int *port, int rcvbuf) {
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    if (rcvbuf > 0) setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    socklen_t sl = sizeof a;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &sl), 0);
    *port = ntohs(a.sin_port);
    return lfd;
}

static inline void rt_raw_send(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Reads until EOF (returns 1), error/reset (returns -1) or ms pass (0),
 * pumping the loop meanwhile. *len is the byte count kept in buf. */
static inline int rt_raw_read_all(cws_loop *loop, int fd, char *buf, size_t cap, size_t *len, uint64_t ms) {
    *len = 0;
    uint64_t end = cws_loop_now(loop) + ms;
    while (cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 5);
        for (;;) {
            char tmp[4096];
            ssize_t n = recv(fd, tmp, sizeof tmp, 0);
            if (n == 0) return 1;
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
                return -1;
            }
            size_t room = cap - 1 - *len, k = (size_t)n < room ? (size_t)n : room;
            memcpy(buf + *len, tmp, k);
            *len += k;
            buf[*len] = '\0';
        }
    }
    return 0;
}

/* Reads until buf holds the text needle (1) or ms pass (0). */
static inline int rt_raw_read_until(cws_loop *loop, int fd, char *buf, size_t cap, size_t *len, const char *needle,
                             uint64_t ms) {
    uint64_t end = cws_loop_now(loop) + ms;
    buf[*len] = '\0';
    while (cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 5);
        ssize_t n = recv(fd, buf + *len, cap - 1 - *len, 0);
        if (n > 0) {
            *len += (size_t)n;
            buf[*len] = '\0';
        }
        if (strstr(buf, needle)) return 1;
        if (n == 0) return 0;
    }
    return 0;
}

/* A raw WebSocket client: the RFC 6455 §1.3 sample key; returns 1 once
 * the 101 head arrived (any bytes after it stay in buf/len). */
#define RT_WS_REQUEST                                                                              \
    "GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

static inline int rt_ws_handshake(cws_loop *loop, int fd, char *buf, size_t cap, size_t *len) {
    rt_raw_send(fd, RT_WS_REQUEST, strlen(RT_WS_REQUEST));
    *len = 0;
    buf[0] = '\0';
    if (!rt_raw_read_until(loop, fd, buf, cap, len, "\r\n\r\n", 2000)) return 0;
    return strncmp(buf, "HTTP/1.1 101", 12) == 0;
}

/* A masked client frame (mask key 1,2,3,4); returns its length. */
static inline size_t rt_ws_frame(uint8_t *out, int opcode, const void *payload, size_t len) {
    static const uint8_t key[4] = {1, 2, 3, 4};
    size_t n = 0;
    out[n++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[n++] = (uint8_t)(0x80 | len);
    } else {
        out[n++] = 0x80 | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    }
    memcpy(out + n, key, 4);
    n += 4;
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++) out[n + i] = p[i] ^ key[i % 4];
    return n + len;
}

#endif
