/* The fan-out yardstick: a minimal hand-written WebSocket broadcaster with
 * no library, against which cws-echo --broadcast and the peers are
 * measured (issue 18). Every text or binary message received from any
 * client goes to every open client, the sender included, with the same
 * opcode (what cws-echo --broadcast does).
 *
 * One epoll loop; one round is one epoll_wait batch:
 *   1. every readable socket gets one read of up to 128 KiB (as the cws
 *      runtime and bench/reflector.c); the complete frames in it are
 *      parsed and unmasked, and each data message is framed once, its
 *      header and payload appended to the round buffer;
 *   2. at the end of the round, the round buffer goes to every open client
 *      with one send() each. What a client's socket does not take is kept
 *      in its backlog and written on EPOLLOUT; while a backlog is pending
 *      later rounds are appended to it. A client whose backlog passes
 *      4 MiB is dropped.
 * So a round of k messages costs one send per receiver, whatever k.
 *
 * It does what a broadcaster must and no more: its own opening handshake
 * (Sec-WebSocket-Accept from bench/common/ws_accept.h), masked client
 * frames only (RFC 6455 §5.1), pings answered, a close frame echoed and
 * the socket closed. It does not validate UTF-8 or close codes, and drops
 * a client that sends a fragmented message (the load generator never
 * does): a ceiling, not a server.
 *   fanout_yardstick [--port N]   (0: ephemeral; prints "listening on HOST:PORT")
 * Exits on SIGTERM/SIGINT. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/tcp_server.h"
#include "common/ws_frame.h"
#include "common/ws_server.h"

#define READ_CHUNK (128 * 1024)
#define BACKLOG_MAX (4u << 20)   /* a client that falls further behind is dropped */
#define FRAME_MAX (16u << 20)    /* largest message accepted */
#define HEAD_MAX 8192            /* largest upgrade request */

typedef struct client {
    int fd;
    int open;                    /* handshake done: a receiver */
    int dead;                    /* closed; freed at the end of the round */
    size_t slot;                 /* index in the open list */
    uint8_t *in;                 /* bytes of an incomplete frame or request */
    size_t in_len, in_cap;
    uint8_t *out;                /* backlog: what the socket did not take */
    size_t out_off, out_len, out_cap;
    int armed_out;               /* EPOLLOUT registered */
    struct client *next_dead;
} client;

static int ep;
static client **open_list;       /* open clients, in no particular order */
static size_t n_open, open_cap;
static client *dead_list;
static uint8_t *round_buf;       /* this round's outgoing frames */
static size_t round_len, round_cap;

static void set_out(client *c, int on) {
    if (c->armed_out == on) return;
    struct epoll_event e = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->armed_out = on;
}

static void client_drop(client *c) {
    if (c->dead) return;
    c->dead = 1;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->open) { /* swap-remove from the open list */
        open_list[c->slot] = open_list[--n_open];
        open_list[c->slot]->slot = c->slot;
    }
    c->next_dead = dead_list;
    dead_list = c;
}

/* Sends data to c, or queues it behind what c has pending. */
static void client_send(client *c, const uint8_t *data, size_t len) {
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) { client_drop(c); return; }
            n = 0;
        }
        data += n;
        len -= (size_t)n;
        if (!len) return;
    }
    if (c->out_len - c->out_off + len > BACKLOG_MAX) { client_drop(c); return; }
    if (c->out_off && c->out_len + len > c->out_cap) { /* compact before growing */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (bench_grow(&c->out, &c->out_cap, c->out_len + len) < 0) { client_drop(c); return; }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    set_out(c, 1);
}

static void client_flush(client *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            client_drop(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    set_out(c, 0);
}

/* Appends a final, unmasked server frame header (RFC 6455 §5.2) to dst. */
static size_t frame_header(uint8_t *dst, int opcode, size_t len) {
    return bench_ws_header(dst, (uint8_t)(0x80 | opcode), 0, len);
}

/* One complete client frame; returns -1 to drop the client. */
static int on_frame(client *c, uint8_t b0, const uint8_t key[4], const uint8_t *payload, size_t len) {
    int opcode = b0 & 0x0F;
    if (!(b0 & 0x80) || opcode == 0) return -1; /* fragments: not supported here */
    if (opcode == 0x1 || opcode == 0x2) {
        /* The message is framed once, into the round, for everyone. */
        if (bench_grow(&round_buf, &round_cap, round_len + 10 + len) < 0) return -1;
        round_len += frame_header(round_buf + round_len, opcode, len);
        bench_ws_mask_copy(round_buf + round_len, payload, len, key);
        round_len += len;
        return 0;
    }
    if (opcode == 0x9 || opcode == 0x8) { /* pong (§5.5.3) or close echoed (§5.5.1) */
        if (len > 125) return -1;
        uint8_t f[2 + 125];
        size_t h = frame_header(f, opcode == 0x9 ? 0xA : 0x8, len);
        bench_ws_mask_copy(f + h, payload, len, key);
        client_send(c, f, h + len);
        return opcode == 0x8 ? -1 : 0;
    }
    return opcode == 0xA ? 0 : -1;
}

/* Parses the complete frames in buf; returns the bytes used, or -1. */
static ssize_t parse_frames(client *c, const uint8_t *buf, size_t avail) {
    size_t off = 0;
    while (avail - off >= 2) {
        const uint8_t *p = buf + off;
        if (!(p[1] & 0x80) || (p[0] & 0x70)) return -1; /* unmasked, or RSV bits */
        uint64_t len;
        size_t h = bench_ws_payload_len(p, avail - off, &len);
        if (!h) break;
        if (len > FRAME_MAX) return -1;
        if (avail - off < h + 4 + len) break;
        if (on_frame(c, p[0], p + h, p + h + 4, (size_t)len) < 0) return -1;
        off += h + 4 + (size_t)len;
    }
    return (ssize_t)off;
}

/* The opening handshake (RFC 6455 §4.2); returns the request's length,
 * 0 if incomplete, -1 to drop. */
static ssize_t handshake(client *c) {
    uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return c->in_len < HEAD_MAX ? 0 : -1;
    size_t head = (size_t)(end - c->in) + 4;
    if (c->in_len < 4 || memcmp(c->in, "GET ", 4) != 0) return -1;
    size_t key_len = 0;
    const char *key = bench_ws_request_key((const char *)c->in, head, &key_len);
    if (!key || !key_len || key_len > 60) return -1;
    char resp[160];
    size_t n = bench_ws_101(key, key_len, resp);
    client_send(c, (const uint8_t *)resp, n);
    if (c->dead) return -1;
    if (n_open == open_cap) {
        size_t cap = open_cap ? open_cap * 2 : 1024;
        client **l = realloc(open_list, cap * sizeof *l);
        if (!l) return -1;
        open_list = l;
        open_cap = cap;
    }
    c->open = 1;
    c->slot = n_open;
    open_list[n_open++] = c;
    return (ssize_t)head;
}

static void on_readable(client *c) {
    static uint8_t buf[READ_CHUNK];
    ssize_t got = read(c->fd, buf, sizeof buf);
    if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
        client_drop(c);
        return;
    }
    const uint8_t *data = buf;
    size_t len = (size_t)got;
    /* Bytes left from the last read: join them (rare; only a frame or a
     * request split across reads). */
    if (c->in_len || !c->open) {
        if (bench_grow(&c->in, &c->in_cap, c->in_len + len) < 0) { client_drop(c); return; }
        memcpy(c->in + c->in_len, buf, len);
        c->in_len += len;
        if (!c->open) {
            ssize_t head = handshake(c);
            if (head < 0) { client_drop(c); return; }
            if (head == 0) return;
            memmove(c->in, c->in + head, c->in_len - (size_t)head);
            c->in_len -= (size_t)head;
        }
        data = c->in;
        len = c->in_len;
    }
    ssize_t used = parse_frames(c, data, len);
    if (used < 0) { client_drop(c); return; }
    size_t rest = len - (size_t)used;
    if (data == c->in) {
        memmove(c->in, c->in + used, rest);
        c->in_len = rest;
        if (!rest) { /* most clients never send: hold no buffer for them */
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    } else if (rest) {
        if (bench_grow(&c->in, &c->in_cap, rest) < 0) { client_drop(c); return; }
        memcpy(c->in, data + used, rest);
        c->in_len = rest;
    }
}

/* The end of a round: its frames to every receiver, one send each. */
static void end_round(void) {
    if (round_len) {
        /* Backwards: a drop moves the last receiver into this slot, which
         * has been served already. */
        for (size_t i = n_open; i-- > 0;) {
            if (i >= n_open) continue;
            client_send(open_list[i], round_buf, round_len);
        }
        round_len = 0;
    }
    while (dead_list) {
        client *c = dead_list;
        dead_list = c->next_dead;
        free(c->in);
        free(c->out);
        free(c);
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    int ls = bench_listen(bench_port_arg(argc, argv), "fanout_yardstick");
    if (ls < 0) return 1;

    ep = bench_epoll_listener(ls);
    static struct epoll_event evs[1024];
    for (;;) {
        int n = epoll_wait(ep, evs, 1024, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        for (int i = 0; i < n; i++) {
            client *c = evs[i].data.ptr;
            if (!c) { /* accept everything waiting */
                int fd;
                while ((fd = bench_accept(ls)) >= 0) {
                    client *nc = calloc(1, sizeof *nc);
                    if (!nc) { close(fd); continue; }
                    nc->fd = fd;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            if (c->dead) continue;
            if (evs[i].events & EPOLLOUT) client_flush(c);
            if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
        }
        end_round();
    }
}
