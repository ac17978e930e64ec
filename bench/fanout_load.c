/* Fan-out load generator for the cws benchmarks (issue 18): one epoll loop
 * driving R WebSocket clients against a broadcast server (one that relays
 * every message to every open client, the sender included: the yardstick
 * bench/fanout_yardstick.c, cws-echo --broadcast, the peers' --broadcast
 * modes, cws-chat with --chat).
 *
 * The first S of the R clients are also senders. Closed loop (default):
 * each sender keeps D messages in flight, a message being in flight until
 * every one of the R receivers (its sender included) has it; so a receiver
 * gets up to S x D messages per server round. Open loop (--rate M): M
 * messages per second in all, round-robin over the senders, whatever is
 * in flight (the light-load latency figure).
 *
 * Every message carries its sender's id, its sequence number and the time
 * it was sent (CLOCK_MONOTONIC: one process, one clock), then filler that
 * depends on both ids. Every receiver checks every message: the sequence
 * number must be the next it expects from that sender (a higher one is a
 * gap, a lower one a duplicate or a reordering), the filler must match,
 * the opcode must be the one sent. At the end the senders stop and every
 * message sent must reach every receiver within 10 s. Any failure, or an
 * unexpected close, exits 2 with the reason.
 *
 * --chat speaks cws-chat's protocol: posts are {"type":"message","text":T}
 * and the generator finds T (same fields, as text) in the server's
 * {"type":"message","seq":...,"name":...,"text":T}; hello, synced,
 * presence and latency are skipped, an error message fails the run. Every
 * client waits for its synced (the end of the history replay) before the
 * senders start, so replayed history never counts.
 *
 * Several servers sharing one room (cws-chat nodes on one Redis, issue
 * 13): --port and --server-pid may be repeated. Client i connects to the
 * (i mod N)-th port, so the receivers are split evenly and the senders
 * (the first S) spread over the nodes; each receiver still checks every
 * sender's order, whichever node it posted through.
 *
 * Output: one line of key=value pairs: deliveries (messages x receivers)
 * in the measured window, deliveries/s, the servers' CPU seconds in the
 * window (utime+stime from /proc/PID/stat, summed over every --server-pid),
 * deliveries per server CPU-second, p50/p99/p999 latency from send to
 * delivery over every delivery of the window (µs, buckets of 1/16 of a
 * power of two), p50/p99 from send to the LAST delivery of each message
 * (the one that completes it: what a post costs end to end), the
 * generator's own CPU share and the servers' RSS at the end (summed).
 *
 *   fanout_load --port N [--port N2 ...] [--host A] [--receivers R]
 *               [--senders S] [--depth D] [--size BYTES] [--rate M]
 *               [--duration S] [--warmup S] [--server-pid PID ...] [--text]
 *               [--chat] [--path P] */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_TOOL "fanout_load"
#include "common/buf.h"
#include "common/die.h"
#include "common/http_field.h"
#include "common/procstat.h"
#include "common/tcp_client.h"
#include "common/ws_client.h"
#include "common/ws_frame.h"
#include "common/xorshift.h"

#define POOL_SLACK 256
#define READ_CHUNK (256 * 1024)
#define RATE_WINDOW 4096        /* --rate: messages one sender may have in flight */
#define HIST_BUCKETS (16 + 60 * 16)
#define TEXT_HEAD 43            /* "ssssssss qqqqqqqqqqqqqqqq tttttttttttttttt " */
#define BIN_HEAD 20             /* u32 sender, u64 seq, u64 time */
#define MAX_PORTS 16            /* --port, --server-pid: at most this many */

enum cstate { C_DEAD, C_CONNECTING, C_HANDSHAKE, C_OPEN };

typedef struct conn {
    int fd, idx, port;
    enum cstate state;
    int armed_out;
    int ready;               /* open (and, with --chat, synced) */
    uint8_t *in;             /* an incomplete frame or response */
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    char accept[29];
} conn;

typedef struct sender {
    conn *c;
    uint64_t sent, oldest;   /* messages sent; the oldest not yet everywhere */
    uint32_t *acks;          /* receivers that have message k, at k % window */
} sender;

static struct {
    const char *host, *path;
    int ports[MAX_PORTS], nports;
    int receivers, senders, depth, window;
    size_t size;
    double rate, duration, warmup;
    int pids[MAX_PORTS], npids;
    int text, chat;
    uint8_t *pool;
    uint64_t rng;
    int ep;
    conn *c;
    sender *s;
    uint64_t *expect;        /* [receiver * senders + sender]: next seq */
    int opening, ready;
    int sending;             /* senders may send */
    uint64_t deliveries, sent_total;
    uint64_t hist[HIST_BUCKETS];      /* send -> each delivery */
    uint64_t hist_last[HIST_BUCKETS]; /* send -> the last delivery of a message */
    uint8_t *msg;            /* one outgoing payload */
    size_t msg_cap;
} G;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double now_s(void) { return (double)now_ns() * 1e-9; }

static uint64_t rnd(void) { return bench_xorshift64(&G.rng); }

/* ------------------------------------------------------------ latency */

/* Buckets: exact below 16 µs, then 16 per power of two (~6%). */
static int hist_bucket(uint64_t us) {
    if (us < 16) return (int)us;
    int e = 0;
    while ((us >> e) >= 32) e++;
    int b = 16 + e * 16 + (int)((us >> e) & 15);
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

static uint64_t hist_value(int b) {
    if (b < 16) return (uint64_t)b;
    int e = (b - 16) / 16;
    return (uint64_t)(16 + (b - 16) % 16) << e;
}

static uint64_t hist_pct(const uint64_t *hist, double q) {
    uint64_t total = 0, acc = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) total += hist[b];
    if (!total) return 0;
    uint64_t want = (uint64_t)(q * (double)total);
    if (want >= total) want = total - 1;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        acc += hist[b];
        if (acc > want) return hist_value(b);
    }
    return 0;
}

/* ------------------------------------------------------------ buffers */

static void reserve(uint8_t **buf, size_t *cap, size_t need) {
    if (bench_grow(buf, cap, need) < 0) bench_die("out of memory");
}

static void out_append(conn *c, const void *data, size_t len) {
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    reserve(&c->out, &c->out_cap, c->out_len + len);
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

/* Appends one masked client frame (RFC 6455 §5.2), a fresh key each (§5.3). */
static void send_frame(conn *c, int opcode, const uint8_t *data, size_t len) {
    uint32_t key = (uint32_t)rnd();
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    reserve(&c->out, &c->out_cap, c->out_len + bench_ws_masked_size(len));
    c->out_len += bench_ws_masked_frame(c->out + c->out_len, opcode, data, len, key);
}

/* ------------------------------------------------------------ messages */

static size_t head_len(void) { return G.text ? TEXT_HEAD : BIN_HEAD; }

/* Filler of message k of sender s: a window into a random pool, shifted by
 * both, so a message from the wrong sender or seq cannot match. */
static const uint8_t *filler(uint64_t s, uint64_t k) {
    return G.pool + (size_t)((k * 7 + s * 13) % POOL_SLACK);
}

static void send_message(sender *sd) {
    uint64_t s = (uint64_t)(sd - G.s), k = sd->sent, t = now_ns();
    size_t h = head_len(), n = G.size;
    size_t pre = G.chat ? 26 : 0, post = G.chat ? 2 : 0; /* {"type":"message","text":" ... "} */
    reserve(&G.msg, &G.msg_cap, pre + n + post);
    uint8_t *m = G.msg + pre;
    if (G.text) {
        char head[TEXT_HEAD + 1];
        snprintf(head, sizeof head, "%08llx %016llx %016llx ", (unsigned long long)s,
                 (unsigned long long)k, (unsigned long long)t);
        memcpy(m, head, h);
    } else {
        uint32_t s32 = (uint32_t)s;
        memcpy(m, &s32, 4);
        memcpy(m + 4, &k, 8);
        memcpy(m + 12, &t, 8);
    }
    memcpy(m + h, filler(s, k), n - h);
    if (G.chat) {
        memcpy(G.msg, "{\"type\":\"message\",\"text\":\"", 26);
        memcpy(m + n, "\"}", 2);
    }
    send_frame(sd->c, G.text ? 1 : 2, G.msg, pre + n + post);
    sd->sent++;
    G.sent_total++;
}

static uint64_t hex_field(const uint8_t *p, int n, int *bad) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        int d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 : -1;
        if (d < 0) *bad = 1;
        v = v << 4 | (uint64_t)(d & 15);
    }
    return v;
}

/* One message as sent by a sender, delivered to receiver c. */
static void on_delivery(conn *c, const uint8_t *p, size_t len) {
    uint64_t t1 = now_ns();
    if (len != G.size) bench_die("receiver %d: a message of %zu bytes, sent %zu", c->idx, len, G.size);
    uint64_t s, k, t;
    if (G.text) {
        int bad = 0;
        s = hex_field(p, 8, &bad);
        k = hex_field(p + 9, 16, &bad);
        t = hex_field(p + 26, 16, &bad);
        if (bad || p[8] != ' ' || p[25] != ' ' || p[42] != ' ')
            bench_die("receiver %d: a message that no sender sent: %.43s", c->idx, (const char *)p);
    } else {
        uint32_t s32;
        memcpy(&s32, p, 4);
        memcpy(&k, p + 4, 8);
        memcpy(&t, p + 12, 8);
        s = s32;
    }
    if (s >= (uint64_t)G.senders) bench_die("receiver %d: a message from sender %llu, there are %d", c->idx,
                                            (unsigned long long)s, G.senders);
    sender *sd = &G.s[s];
    uint64_t *exp = &G.expect[(size_t)c->idx * (size_t)G.senders + s];
    if (k != *exp)
        bench_die("receiver %d: sender %llu's message %llu where %llu was due (%s)", c->idx,
            (unsigned long long)s, (unsigned long long)k, (unsigned long long)*exp,
            k > *exp ? "a gap: messages missing" : "a duplicate or out of order");
    if (k >= sd->sent) bench_die("receiver %d: sender %llu's message %llu was never sent", c->idx,
                                 (unsigned long long)s, (unsigned long long)k);
    size_t h = head_len();
    if (memcmp(p + h, filler(s, k) , G.size - h) != 0)
        bench_die("receiver %d: sender %llu's message %llu differs from what was sent", c->idx,
            (unsigned long long)s, (unsigned long long)k);
    (*exp)++;
    G.deliveries++;
    int bucket = hist_bucket(t1 > t ? (t1 - t) / 1000 : 0);
    G.hist[bucket]++;
    if (++sd->acks[k % (uint64_t)G.window] == (uint32_t)G.receivers) G.hist_last[bucket]++;
    while (sd->oldest < sd->sent && sd->acks[sd->oldest % (uint64_t)G.window] == (uint32_t)G.receivers) {
        sd->acks[sd->oldest % (uint64_t)G.window] = 0;
        sd->oldest++;
    }
}

/* --chat: one server message (a JSON object). */
static void on_chat(conn *c, const uint8_t *p, size_t len) {
    static const char msg[] = "{\"type\":\"message\",";
    if (len >= sizeof msg - 1 && !memcmp(p, msg, sizeof msg - 1)) {
        if (!c->ready) return; /* history replayed before synced */
        static const char key[] = "\"text\":\"";
        const uint8_t *t = memmem(p, len, key, sizeof key - 1);
        if (!t || len < 2 || p[len - 1] != '}' || p[len - 2] != '"')
            bench_die("receiver %d: a chat message without its text last: %.*s", c->idx,
                      (int)(len < 200 ? len : 200), p);
        t += sizeof key - 1;
        on_delivery(c, t, (size_t)(p + len - 2 - t));
    } else if (len >= 17 && !memcmp(p, "{\"type\":\"synced\",", 17)) {
        if (!c->ready) {
            c->ready = 1;
            G.ready++;
        }
    } else if (len >= 16 && !memcmp(p, "{\"type\":\"error\",", 16)) {
        bench_die("receiver %d: the chat refused a message: %.*s", c->idx, (int)(len < 200 ? len : 200), p);
    }
    /* hello, presence, latency, rename, notice: not ours */
}

/* ------------------------------------------------------------ connections */

static void set_events(conn *c, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(G.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) bench_die("epoll_ctl: %s", strerror(errno));
    c->armed_out = out;
}

static void conn_start(conn *c) {
    c->fd = bench_connect(G.host, c->port);
    c->state = C_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) bench_die("epoll_ctl add: %s", strerror(errno));
    c->armed_out = 1;
    G.opening++;
}

static void send_handshake(conn *c) {
    char key[25], req[512];
    bench_ws_client_key(&G.rng, key, c->accept);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     G.path, G.host, c->port, key);
    out_append(c, req, (size_t)n);
    c->state = C_HANDSHAKE;
}

/* Checks the 101 (RFC 6455 §4.1): status, accept value, and no extension
 * (none was offered, §9.1). Returns the head length, 0 if incomplete. */
static size_t check_handshake(conn *c) {
    size_t head = bench_ws_check_101(c->in, c->in_len, c->accept);
    if (head && bench_http_field((const char *)c->in, head, "sec-websocket-extensions:"))
        bench_die("the server answered an extension that was not offered");
    return head;
}

/* One complete server frame. Server frames are never masked (§5.1). */
static void on_frame(conn *c, int fin, int opcode, const uint8_t *data, size_t len) {
    if (opcode == 0x9) { /* ping: answer with a pong (§5.5.3) */
        send_frame(c, 0xA, data, len);
        return;
    }
    if (opcode == 0xA) return;
    if (opcode == 0x8)
        bench_die("server closed connection %d (code %d)", c->idx, len >= 2 ? data[0] << 8 | data[1] : 1005);
    if (!fin || opcode == 0) bench_die("a fragmented message (not expected from a broadcaster of small messages)");
    if (opcode != (G.text ? 1 : 2)) bench_die("receiver %d: opcode %d, sent %d", c->idx, opcode, G.text ? 1 : 2);
    if (G.chat)
        on_chat(c, data, len);
    else
        on_delivery(c, data, len);
}

/* Parses every complete frame in buf; returns the bytes used. */
static size_t parse_frames(conn *c, const uint8_t *buf, size_t avail) {
    size_t off = 0;
    for (;;) {
        const uint8_t *p = buf + off;
        size_t left = avail - off;
        if (left < 2) break;
        if (p[1] & 0x80) bench_die("server frame is masked (RFC 6455 §5.1)");
        if (p[0] & 0x70) bench_die("server frame has RSV bits set");
        uint64_t len;
        size_t h = bench_ws_payload_len(p, left, &len);
        if (!h) break;
        if (len > (64u << 20)) bench_die("frame too long");
        if (left < h + len) break;
        on_frame(c, p[0] >> 7, p[0] & 0x0F, p + h, (size_t)len);
        off += h + (size_t)len;
    }
    return off;
}

static void on_open(conn *c) {
    c->state = C_OPEN;
    G.opening--;
    if (!G.chat) {
        c->ready = 1;
        G.ready++;
    }
}

static void flush(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            bench_die("write on connection %d: %s", c->idx, strerror(errno));
        }
        c->out_off += (size_t)n;
    }
    int pending = c->out_off < c->out_len;
    if (pending != c->armed_out) set_events(c, pending);
}

static void on_readable(conn *c) {
    static uint8_t buf[READ_CHUNK];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        bench_die("read on connection %d: %s", c->idx, strerror(errno));
    }
    if (n == 0) bench_die("server closed connection %d without a close frame", c->idx);
    const uint8_t *data = buf;
    size_t len = (size_t)n;
    if (c->in_len || c->state == C_HANDSHAKE) { /* join what was left */
        reserve(&c->in, &c->in_cap, c->in_len + len);
        memcpy(c->in + c->in_len, buf, len);
        c->in_len += len;
        if (c->state == C_HANDSHAKE) {
            size_t head = check_handshake(c);
            if (!head) return;
            memmove(c->in, c->in + head, c->in_len - head);
            c->in_len -= head;
            on_open(c);
        }
        data = c->in;
        len = c->in_len;
    }
    size_t used = parse_frames(c, data, len);
    size_t rest = len - used;
    if (data == c->in) {
        memmove(c->in, c->in + used, rest);
        c->in_len = rest;
    } else if (rest) {
        reserve(&c->in, &c->in_cap, rest);
        memcpy(c->in, data + used, rest);
        c->in_len = rest;
    }
}

static void on_event(conn *c, uint32_t events) {
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) bench_die("connect: %s", strerror(err));
        if (!(events & EPOLLOUT)) return;
        send_handshake(c);
    } else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        on_readable(c);
    }
    flush(c);
}

/* ------------------------------------------------------------ the loop */

static double rate_t0;       /* --rate: when pacing started */
static uint64_t rate_sent;   /* --rate: messages paced so far */

/* Sends what the senders may; returns ms until the next paced send. */
static int pump(void) {
    if (!G.sending) return 1000;
    if (G.rate > 0) {
        uint64_t due = (uint64_t)((now_s() - rate_t0) * G.rate);
        while (rate_sent < due) {
            sender *sd = &G.s[rate_sent % (uint64_t)G.senders];
            if (sd->sent - sd->oldest >= (uint64_t)G.window)
                bench_die("sender %d has %d messages in flight: the server cannot keep up with --rate",
                    (int)(sd - G.s), G.window);
            send_message(sd);
            flush(sd->c);
            rate_sent++;
        }
        double next = rate_t0 + (double)(rate_sent + 1) / G.rate - now_s();
        return next <= 0 ? 0 : (int)(next * 1000) + 1;
    }
    for (int i = 0; i < G.senders; i++) {
        sender *sd = &G.s[i];
        if (sd->sent >= sd->oldest + (uint64_t)G.depth) continue;
        while (sd->sent < sd->oldest + (uint64_t)G.depth) send_message(sd);
        flush(sd->c);
    }
    return 1000;
}

static uint64_t in_flight(void) {
    uint64_t n = 0;
    for (int i = 0; i < G.senders; i++) n += G.s[i].sent - G.s[i].oldest;
    return n;
}

/* Nothing arrived for 10 s: says which deliveries are missing, and exits. */
static void stalled(void) {
    uint64_t missing = 0;
    int first_r = -1, first_s = -1;
    for (int r = 0; r < G.receivers; r++)
        for (int s = 0; s < G.senders; s++) {
            uint64_t e = G.expect[(size_t)r * (size_t)G.senders + (size_t)s];
            if (e < G.s[s].sent) {
                missing += G.s[s].sent - e;
                if (first_r < 0) {
                    first_r = r;
                    first_s = s;
                }
            }
        }
    if (first_r < 0) bench_die("no delivery for 10 s, and none missing");
    bench_die("no delivery for 10 s: %llu deliveries missing; receiver %d lacks sender %d's message %llu "
        "(of %llu sent)", (unsigned long long)missing, first_r, first_s,
        (unsigned long long)G.expect[(size_t)first_r * (size_t)G.senders + (size_t)first_s],
        (unsigned long long)G.s[first_s].sent);
}

/* Runs until `until` (s), or while in flight when drain is set. */
static void run_loop(double until, int drain) {
    static struct epoll_event evs[1024];
    double last_progress = now_s();
    uint64_t last_done = G.deliveries;
    for (;;) {
        double t = now_s();
        if (!drain && t >= until) return;
        if (drain && in_flight() == 0) return;
        if (G.deliveries != last_done) {
            last_done = G.deliveries;
            last_progress = t;
        } else if (t - last_progress > 10) {
            stalled();
        }
        int ms = pump();
        if (!drain) {
            int left = (int)((until - t) * 1000) + 1;
            if (ms > left) ms = left;
        }
        int n = epoll_wait(G.ep, evs, 1024, ms);
        if (n < 0 && errno != EINTR) bench_die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
    }
}

/* Opens every connection, at most 256 connecting at once, then waits
 * until all are ready (--chat: synced). */
static void open_all(void) {
    int next = 0;
    double last = now_s();
    static struct epoll_event evs[1024];
    while (next < G.receivers || G.ready < G.receivers) {
        while (next < G.receivers && G.opening < 256) conn_start(&G.c[next++]);
        int k = epoll_wait(G.ep, evs, 1024, 1000);
        if (k < 0 && errno != EINTR) bench_die("epoll_wait: %s", strerror(errno));
        if (k > 0) last = now_s();
        else if (now_s() - last > 10) bench_die("connections stalled (%d opening, %d of %d ready)", G.opening,
                                                G.ready, G.receivers);
        for (int i = 0; i < k; i++) on_event(evs[i].data.ptr, evs[i].events);
    }
}

/* The servers' CPU seconds and RSS, summed (nodes, and redis-server if
 * its pid is given too). */
static double servers_cpu_s(void) {
    double t = 0;
    for (int i = 0; i < G.npids; i++) t += bench_proc_cpu_s(G.pids[i]);
    return t;
}

static long servers_rss_kb(void) {
    long kb = 0;
    for (int i = 0; i < G.npids; i++) kb += bench_proc_rss_kb(G.pids[i]);
    return kb;
}

static void usage(void) {
    fprintf(stderr,
            "usage: fanout_load --port N [--port N2 ...] [--host A] [--receivers R] [--senders S]\n"
            "  [--depth D] [--size BYTES] [--rate MSGS_PER_S] [--duration S] [--warmup S]\n"
            "  [--server-pid PID ...] [--text] [--chat] [--path P]\n");
    exit(1);
}

int main(int argc, char **argv) {
    G.host = "127.0.0.1";
    G.path = NULL;
    G.receivers = 1000;
    G.senders = 10;
    G.depth = 4;
    G.size = 64;
    G.duration = 3;
    G.warmup = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--text")) { G.text = 1; continue; }
        if (!strcmp(a, "--chat")) { G.chat = G.text = 1; continue; }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--port")) {
            if (G.nports == MAX_PORTS) usage();
            G.ports[G.nports++] = atoi(v);
        } else if (!strcmp(a, "--server-pid")) {
            if (G.npids == MAX_PORTS) usage();
            G.pids[G.npids++] = atoi(v);
        }
        else if (!strcmp(a, "--host")) G.host = v;
        else if (!strcmp(a, "--path")) G.path = v;
        else if (!strcmp(a, "--receivers")) G.receivers = atoi(v);
        else if (!strcmp(a, "--senders")) G.senders = atoi(v);
        else if (!strcmp(a, "--depth")) G.depth = atoi(v);
        else if (!strcmp(a, "--size")) G.size = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--rate")) G.rate = atof(v);
        else if (!strcmp(a, "--duration")) G.duration = atof(v);
        else if (!strcmp(a, "--warmup")) G.warmup = atof(v);
        else usage();
    }
    for (int i = 0; i < G.nports; i++)
        if (G.ports[i] <= 0) usage();
    if (G.nports == 0 || G.receivers <= 0 || G.senders <= 0 || G.depth <= 0 || G.senders > G.receivers ||
        G.rate < 0)
        usage();
    if (G.size < head_len()) bench_die("--size must be at least %zu", head_len());
    if (G.chat && G.size > 4096) bench_die("--chat: a chat text is at most 4096 bytes");
    if (!G.path) G.path = G.chat ? "/ws" : "/";
    G.window = G.rate > 0 ? RATE_WINDOW : G.depth;

    G.rng = bench_xorshift_seed();
    G.pool = malloc(G.size + POOL_SLACK);
    if (!G.pool) bench_die("out of memory");
    for (size_t i = 0; i < G.size + POOL_SLACK; i++) {
        G.pool[i] = (uint8_t)rnd();
        if (G.text) { /* printable ASCII, nothing JSON would escape */
            G.pool[i] = (uint8_t)(' ' + G.pool[i] % 95);
            if (G.pool[i] == '"' || G.pool[i] == '\\') G.pool[i] = 'x';
        }
    }
    bench_raise_nofile(G.receivers);
    G.c = calloc((size_t)G.receivers, sizeof *G.c);
    G.s = calloc((size_t)G.senders, sizeof *G.s);
    G.expect = calloc((size_t)G.receivers * (size_t)G.senders, sizeof *G.expect);
    if (!G.c || !G.s || !G.expect) bench_die("out of memory");
    for (int i = 0; i < G.receivers; i++) {
        G.c[i].idx = i;
        G.c[i].fd = -1;
        G.c[i].port = G.ports[i % G.nports];
    }
    for (int i = 0; i < G.senders; i++) {
        G.s[i].c = &G.c[i];
        G.s[i].acks = calloc((size_t)G.window, sizeof *G.s[i].acks);
        if (!G.s[i].acks) bench_die("out of memory");
    }
    G.ep = epoll_create1(EPOLL_CLOEXEC);
    if (G.ep < 0) bench_die("epoll_create1: %s", strerror(errno));

    long rss0 = servers_rss_kb();
    double t_setup = now_s();
    open_all();
    double setup = now_s() - t_setup;
    long rss_open = servers_rss_kb();

    G.sending = 1;
    rate_t0 = now_s();
    run_loop(now_s() + G.warmup, 0);
    memset(G.hist, 0, sizeof G.hist);
    memset(G.hist_last, 0, sizeof G.hist_last);
    uint64_t d0 = G.deliveries, m0 = G.sent_total;
    double t0 = now_s(), s0 = servers_cpu_s(), c0 = bench_self_cpu_s();
    run_loop(t0 + G.duration, 0);
    uint64_t d1 = G.deliveries, m1 = G.sent_total;
    double t1 = now_s(), s1 = servers_cpu_s(), c1 = bench_self_cpu_s();
    long rss1 = servers_rss_kb();
    uint64_t p50 = hist_pct(G.hist, 0.50), p99 = hist_pct(G.hist, 0.99), p999 = hist_pct(G.hist, 0.999);
    uint64_t last50 = hist_pct(G.hist_last, 0.50), last99 = hist_pct(G.hist_last, 0.99);
    /* The end: every message sent must reach every receiver. */
    G.sending = 0;
    run_loop(0, 1);

    double secs = t1 - t0, scpu = s1 - s0, d = (double)(d1 - d0);
    printf("mode=fanout%s nodes=%d receivers=%d senders=%d depth=%d size=%zu rate_target=%.0f msgs=%llu "
           "deliveries=%llu secs=%.3f rate=%.0f server_cpu_s=%.3f per_cpu_s=%.0f p50_us=%llu "
           "p99_us=%llu p999_us=%llu p50_last_us=%llu p99_last_us=%llu client_cpu_pct=%.0f setup_s=%.2f "
           "rss_before_kb=%ld rss_open_kb=%ld rss_kb=%ld checked=%llu\n",
           G.chat ? " chat=1" : "", G.nports, G.receivers, G.senders, G.rate > 0 ? 0 : G.depth, G.size, G.rate,
           (unsigned long long)(m1 - m0), (unsigned long long)(d1 - d0), secs, d / secs, scpu,
           scpu > 0 ? d / scpu : 0, (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)p999, (unsigned long long)last50, (unsigned long long)last99,
           100.0 * (c1 - c0) / secs, setup, rss0, rss_open, rss1, (unsigned long long)G.deliveries);
    return 0;
}
