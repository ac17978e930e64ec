/* Load generator for the cws benchmarks: one epoll loop driving many
 * WebSocket client connections against any echo server.
 *
 *   echo       C connections, each keeping D messages of S bytes in flight
 *              (pipelined); every echo is checked byte for byte
 *   raw        the same traffic without framing or handshake, against a
 *              plain TCP reflector (the ceiling)
 *   bcast      R receivers and one sender; the server relays each message
 *              to every other socket; counts deliveries
 *   idle       opens C connections (handshake + one echo each) and reads
 *              the server's RSS before and after
 *   handshake  keeps C connections cycling: connect, handshake, one echo,
 *              close handshake, wait for the server's FIN
 *
 * Given --server-pid it reads the server's CPU time (/proc/PID/stat) and
 * RSS (/proc/PID/status) at the start and end of the measured window, and
 * with --malloc-file the counters of bench/malloc_count.c, so that every
 * figure is per server CPU-second as well as per wall-clock second.
 * Output: one line of key=value pairs on stdout. Exit 2 on any protocol
 * or data error: a benchmark that does not verify is not one.
 * Client frames are masked with a fresh pseudo-random key each (RFC 6455
 * §5.3); the key only needs to be unpredictable to the server's cache, not
 * to an attacker, so a xorshift generator keeps the client cheap.
 *
 * --json sends chat-like JSON text messages of 1-4 KiB (a deterministic
 * pool of CHAT_POOL messages, each a batch of chat events) instead of
 * random bytes. --deflate offers permessage-deflate (RFC 7692) with zlib:
 * the handshake must agree to it, every message goes out compressed (RSV1,
 * sync flush, tail removed, §7.2.1) and every echo is inflated (compressed
 * or not, fragmented or not) and compared byte for byte. By default each
 * pool message is compressed once, at start-up, as a stream of its own:
 * valid with and without context takeover (it refers to nothing before
 * it), and it keeps the generator's CPU for the server's side of the work;
 * --deflate-live compresses every message as it is sent, with the window
 * kept unless the server asked for client_no_context_takeover.
 * --no-context-takeover also offers server_no_context_takeover and
 * client_no_context_takeover (§7.1.1).
 *
 * --tls speaks wss:// (OpenSSL, non-blocking, over the same sockets): a
 * full handshake on every connection (a fresh SSL, no session offered, so
 * never a resumption), ALPN http/1.1, no certificate check unless
 * --tls-ca names the CA to verify the server against. The result line
 * gains the protocol version, cipher and key-exchange group negotiated. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#define BENCH_TOOL "loadgen"
#include "common/buf.h"
#include "common/die.h"
#include "common/http_field.h"
#include "common/procstat.h"
#include "common/tcp_client.h"
#include "common/ws_client.h"
#include "common/ws_frame.h"
#include "common/xorshift.h"

enum mode { M_ECHO, M_RAW, M_BCAST, M_IDLE, M_HANDSHAKE };
enum cstate { C_CONNECTING, C_TLS, C_HANDSHAKE, C_OPEN, C_CLOSING, C_DEAD };

#define POOL_SLACK 256
#define BCAST_WINDOW_MAX 64
/* --json: messages in the pool, and their size range. 1,024 distinct
 * messages of 2.5 KiB on average: the same message comes back into a
 * 32 KiB window only after ~1,000 others, so context takeover finds what
 * a chat stream shares (keys, names, words), not copies. */
#define CHAT_POOL 1024
#define CHAT_MIN 1024
#define CHAT_MAX 4096
/* A compressed echo may not inflate to more than this past what was sent. */
#define INFLATE_SLACK 65536

typedef struct chat_msg {
    uint8_t *data, *z;     /* the text, and its own raw DEFLATE stream (tail removed) */
    size_t len, zlen;
} chat_msg;

typedef struct conn {
    int fd;
    int idx;
    enum cstate state;
    int receiver;          /* bcast: 1 receiver, 0 sender */
    int armed_out;         /* EPOLLOUT registered */
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    uint64_t sent, recvd;  /* messages */
    uint64_t raw_off;      /* raw: bytes of the current message verified */
    char accept[29];
    /* permessage-deflate, as the 101 agreed */
    int pmd;
    int rx_reset;          /* server_no_context_takeover: inflater reset per message */
    int tx_reset;          /* client_no_context_takeover: deflater reset per message */
    int tx_bits;           /* client_max_window_bits, 15 if not given */
    z_stream *inf, *def;
    SSL *ssl;              /* --tls */
    /* the message being received: fragments joined, inflated if RSV1 */
    int in_msg, msg_comp, msg_op, inf_ended;
    uint8_t *msg;
    size_t msg_len, msg_cap, msg_wire;
} conn;

static struct {
    enum mode mode;
    const char *host;
    int port;
    int conns, depth, receivers;
    size_t size;
    double duration, warmup;
    int server_pid;
    const char *malloc_file;
    int text;
    int json;              /* chat JSON messages of CHAT_MIN..CHAT_MAX bytes */
    int deflate;           /* offer permessage-deflate */
    int nct;               /* ... with both no_context_takeover parameters */
    int live;              /* compress every message as sent */
    int zlevel;            /* the generator's zlib level */
    chat_msg *chat;
    int tls;               /* wss:// */
    const char *tls_ca;    /* verify the server against this CA */
    SSL_CTX *ssl_ctx;
    char tls_desc[160];    /* what the first TLS handshake negotiated */
    int agreed_snct, agreed_cnct, agreed_sbits, agreed_cbits; /* first 101's answer */
    /* bytes of data messages: on the wire (payload) and uncompressed */
    uint64_t rx_wire, rx_raw, rx_comp, rx_msgs, tx_wire, tx_raw;
    uint8_t *zbuf;         /* --deflate-live output */
    size_t zbuf_cap;
    uint8_t *pool;
    uint64_t rng;
    int ep;
    conn *c;
    int nconns;
    /* counters */
    uint64_t done_msgs;    /* echoes / deliveries / handshakes completed */
    uint64_t open_conns;
    int opening;           /* idle/handshake: connections being set up */
    /* broadcast flow control */
    uint64_t bc_oldest;
    uint32_t bc_acks[BCAST_WINDOW_MAX];
    int bc_window;
    conn *bc_sender;
} G;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rnd(void) { return bench_xorshift64(&G.rng); }

/* ------------------------------------------------------------ server stats */

/* Allocation calls (malloc+calloc+realloc+aligned) counted by the shim. */
static uint64_t server_allocs(void) {
    if (!G.malloc_file) return 0;
    FILE *f = fopen(G.malloc_file, "rb");
    uint64_t v[4] = {0};
    if (!f) return 0;
    size_t n = fread(v, sizeof v[0], 4, f);
    fclose(f);
    (void)n;
    return v[0] + v[1] + v[2] + v[3];
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

/* The payload of message k on connection i: a window into a random pool,
 * shifted so that a reordered, duplicated or dropped echo cannot match. */
static const uint8_t *payload(int i, uint64_t k) {
    return G.pool + (size_t)((k * 7 + (uint64_t)i * 13) % POOL_SLACK);
}

/* Appends one masked client frame (RFC 6455 §5.2) to c's output. */
static void send_frame(conn *c, int opcode, const uint8_t *data, size_t len) {
    uint32_t key = (uint32_t)rnd();
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    reserve(&c->out, &c->out_cap, c->out_len + bench_ws_masked_size(len));
    c->out_len += bench_ws_masked_frame(c->out + c->out_len, opcode, data, len, key);
}

/* ------------------------------------------------------------ chat JSON */

static const char *const chat_words[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "was", "for", "on", "are",
    "with", "as", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by", "but",
    "what", "some", "we", "can", "out", "other", "were", "all", "there", "when", "up", "use",
    "your", "how", "said", "each", "which", "do", "their", "time", "if", "will", "way", "about",
    "many", "then", "them", "would", "like", "so", "these", "her", "long", "make", "thing",
    "see", "him", "two", "has", "look", "more", "day", "could", "go", "come", "did", "number",
    "no", "most", "people", "my", "over", "know", "than", "call", "first", "who", "may", "down",
    "been", "now", "find", "any", "new", "work", "part", "take", "get", "place", "made", "where",
    "after", "back", "only", "deploy", "build", "release", "merge", "review", "test", "branch",
    "server", "latency", "tomorrow", "meeting", "lunch", "thanks", "sure", "ok", "great",
    "issue", "ticket", "customer", "dashboard", "metrics", "alert", "rollback", "config"};
static const char *const chat_names[] = {
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki"};
static const char *const chat_rooms[] = {"general", "engineering", "random", "support", "ops",
                                         "design"};
static const char *const chat_emoji[] = {"+1", "tada", "eyes", "heart", "rocket", "laughing"};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static size_t chat_pick(uint64_t *s, size_t n) { return (size_t)(bench_xorshift64(s) % n); }

/* Message m of the pool: a batch of chat events, as a chat server sends a
 * page of history or a burst of a busy room, cut to a target size in
 * CHAT_MIN..CHAT_MAX at an event boundary. Deterministic (fixed seed), so
 * every server and run sees the same bytes. */
static void chat_make(chat_msg *m, int idx) {
    uint64_t s = 0x2545F4914F6CDD1Dull ^ ((uint64_t)idx * 0x9E3779B97F4A7C15ull);
    for (int i = 0; i < 4; i++) bench_xorshift64(&s);
    size_t target = CHAT_MIN + chat_pick(&s, CHAT_MAX - CHAT_MIN + 1);
    char *buf = malloc(CHAT_MAX + 1024);
    if (!buf) bench_die("out of memory");
    const char *room = chat_rooms[chat_pick(&s, ARRAY_LEN(chat_rooms))];
    uint64_t seq = 1000000 + (uint64_t)idx * 37;
    uint64_t ts = 1714560000000ull + (uint64_t)idx * 4111;
    size_t n = (size_t)sprintf(buf, "{\"type\":\"batch\",\"room\":\"%s\",\"events\":[", room);
    for (int e = 0;; e++) {
        char ev[1024];
        size_t u = chat_pick(&s, ARRAY_LEN(chat_names));
        int k = sprintf(ev,
                        "%s{\"type\":\"message\",\"id\":\"m%llu\",\"seq\":%llu,\"ts\":%llu,"
                        "\"user\":{\"id\":%zu,\"name\":\"%s\",\"avatar\":\"https://cdn.example.com/"
                        "avatars/%s-64.png\"},\"text\":\"",
                        e ? "," : "", (unsigned long long)(seq * 2654435761u % 1000000007u),
                        (unsigned long long)seq, (unsigned long long)ts, 100 + u, chat_names[u],
                        chat_names[u]);
        size_t words = 4 + chat_pick(&s, 28);
        for (size_t w = 0; w < words; w++)
            k += sprintf(ev + k, "%s%s", w ? " " : "", chat_words[chat_pick(&s, ARRAY_LEN(chat_words))]);
        k += sprintf(ev + k, "\"");
        if (chat_pick(&s, 3) == 0)
            k += sprintf(ev + k, ",\"reactions\":[{\"emoji\":\"%s\",\"count\":%zu}]",
                         chat_emoji[chat_pick(&s, ARRAY_LEN(chat_emoji))], 1 + chat_pick(&s, 9));
        if (chat_pick(&s, 4) == 0)
            k += sprintf(ev + k, ",\"reply_to\":%llu", (unsigned long long)(seq - 1 - chat_pick(&s, 50)));
        k += sprintf(ev + k, ",\"edited\":%s}", chat_pick(&s, 10) ? "false" : "true");
        seq++;
        ts += 250 + chat_pick(&s, 20000);
        if (n + (size_t)k + 2 > target) {
            if (n + 2 < CHAT_MIN) { /* still short: pad the event list with this one */
                memcpy(buf + n, ev, (size_t)k);
                n += (size_t)k;
            }
            break;
        }
        memcpy(buf + n, ev, (size_t)k);
        n += (size_t)k;
    }
    buf[n++] = ']';
    buf[n++] = '}';
    m->data = (uint8_t *)buf;
    m->len = n;
}

/* Raw DEFLATE of data as one permessage-deflate message: a sync flush,
 * then the 00 00 ff ff it ends with removed (RFC 7692 §7.2.1). */
static size_t pmd_compress(z_stream *z, const uint8_t *data, size_t len, uint8_t **out, size_t *cap) {
    size_t need = deflateBound(z, (uLong)len) + 16;
    if (*cap < need) {
        free(*out);
        *out = malloc(need);
        if (!*out) bench_die("out of memory");
        *cap = need;
    }
    z->next_in = (Bytef *)(uintptr_t)data;
    z->avail_in = (uInt)len;
    z->next_out = *out;
    z->avail_out = (uInt)*cap;
    if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in) bench_die("zlib deflate failed");
    size_t n = *cap - z->avail_out;
    if (n < 4 || memcmp(*out + n - 4, "\x00\x00\xff\xff", 4) != 0) bench_die("sync flush without its tail");
    return n - 4;
}

static void chat_init(void) {
    G.chat = calloc(CHAT_POOL, sizeof *G.chat);
    if (!G.chat) bench_die("out of memory");
    z_stream z;
    memset(&z, 0, sizeof z);
    if (G.deflate && deflateInit2(&z, G.zlevel, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        bench_die("deflateInit2 failed");
    for (int i = 0; i < CHAT_POOL; i++) {
        chat_msg *m = &G.chat[i];
        chat_make(m, i);
        if (G.deflate) {
            size_t cap = 0;
            deflateReset(&z); /* a stream of its own: it refers to nothing before it */
            m->zlen = pmd_compress(&z, m->data, m->len, &m->z, &cap);
        }
    }
    if (G.deflate) deflateEnd(&z);
}

static int chat_index(int i, uint64_t k) { return (int)((k * 7 + (uint64_t)i * 13) % CHAT_POOL); }

/* What message k on connection i carries. */
static const uint8_t *expected(int i, uint64_t k, size_t *len) {
    if (G.json) {
        const chat_msg *m = &G.chat[chat_index(i, k)];
        *len = m->len;
        return m->data;
    }
    *len = G.size;
    return payload(i, k);
}

static void send_message(conn *c) {
    if (G.mode == M_RAW) {
        out_append(c, payload(c->idx, c->sent), G.size);
    } else if (c->pmd) {
        const chat_msg *m = &G.chat[chat_index(c->idx, c->sent)];
        const uint8_t *z = m->z;
        size_t zlen = m->zlen;
        if (G.live) {
            zlen = pmd_compress(c->def, m->data, m->len, &G.zbuf, &G.zbuf_cap);
            z = G.zbuf;
            if (c->tx_reset) deflateReset(c->def);
        }
        send_frame(c, 0x40 | 1, z, zlen); /* RSV1: compressed (RFC 7692 §6) */
        G.tx_wire += zlen;
        G.tx_raw += m->len;
    } else {
        size_t len;
        const uint8_t *d = expected(c->idx, c->sent, &len);
        send_frame(c, G.text ? 1 : 2, d, len);
        G.tx_wire += len;
        G.tx_raw += len;
    }
    c->sent++;
}

/* ------------------------------------------------------------ connections */

static void set_events(conn *c, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(G.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) bench_die("epoll_ctl: %s", strerror(errno));
    c->armed_out = out;
}

static void pmd_end(conn *c) {
    if (c->inf) {
        inflateEnd(c->inf);
        free(c->inf);
        c->inf = NULL;
    }
    if (c->def) {
        deflateEnd(c->def);
        free(c->def);
        c->def = NULL;
    }
    c->pmd = 0;
}

static void conn_close(conn *c) {
    pmd_end(c);
    if (c->ssl) SSL_free(c->ssl); /* no close_notify: the server closed first */
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    if (c->state == C_OPEN || c->state == C_CLOSING) G.open_conns--;
    c->state = C_DEAD;
    c->in_len = c->out_off = c->out_len = 0;
}

static void conn_start(conn *c) {
    c->fd = bench_connect(G.host, G.port);
    c->state = C_CONNECTING;
    c->sent = c->recvd = c->raw_off = 0;
    c->in_len = c->out_off = c->out_len = 0;
    c->in_msg = 0;
    c->msg_len = c->msg_wire = 0;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) bench_die("epoll_ctl add: %s", strerror(errno));
    c->armed_out = 1;
    G.opening++;
}

static void on_open(conn *c) {
    c->state = C_OPEN;
    G.open_conns++;
    G.opening--;
    switch (G.mode) {
    case M_ECHO:
    case M_RAW:
        for (int i = 0; i < G.depth; i++) send_message(c);
        break;
    case M_IDLE:
    case M_HANDSHAKE:
        send_message(c);
        break;
    case M_BCAST:
        break;
    }
}

static void send_handshake(conn *c) {
    char key[25], req[512];
    bench_ws_client_key(&G.rng, key, c->accept);
    /* As browsers offer it (client_max_window_bits without a value);
     * --no-context-takeover adds both no_context_takeover parameters. */
    const char *ext = !G.deflate ? ""
                      : G.nct ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; "
                                "server_no_context_takeover; client_no_context_takeover\r\n"
                              : "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    int n = snprintf(req, sizeof req,
                     "GET /bench HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     G.host, G.port, key, ext);
    out_append(c, req, (size_t)n);
    c->state = C_HANDSHAKE;
}

/* Reads the 101's Sec-WebSocket-Extensions (RFC 7692 §7.1): with
 * --deflate it must accept permessage-deflate, with the parameters we
 * offered (the no_context_takeover ones echoed, §7.1.1); without, it must
 * not name any extension (RFC 6455 §9.1). */
static void pmd_agree(conn *c, const char *p, size_t head) {
    const char *v = bench_http_field(p, head, "sec-websocket-extensions:"), *end = NULL;
    if (v) end = memchr(v, '\r', head - (size_t)(v - p));
    if (!G.deflate) {
        if (v) bench_die("the server answered an extension that was not offered");
        return;
    }
    if (!v || !end) bench_die("the server declined permessage-deflate");
    int snct = 0, cnct = 0, sbits = 15, cbits = 15, first = 1;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t')) v++;
        const char *e = v;
        while (e < end && *e != ';') e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t')) t--;
        size_t n = (size_t)(t - v);
        if (first) {
            if (n != 18 || strncasecmp(v, "permessage-deflate", 18) != 0)
                bench_die("unexpected extension in the 101: %.*s", (int)n, v);
            first = 0;
        } else if (n == 26 && !strncasecmp(v, "server_no_context_takeover", 26)) {
            snct = 1;
        } else if (n == 26 && !strncasecmp(v, "client_no_context_takeover", 26)) {
            cnct = 1;
        } else if (n > 23 && !strncasecmp(v, "server_max_window_bits=", 23)) {
            sbits = atoi(v + 23);
        } else if (n > 23 && !strncasecmp(v, "client_max_window_bits=", 23)) {
            cbits = atoi(v + 23);
        } else if (n == 22 && !strncasecmp(v, "client_max_window_bits", 22)) {
            /* no value in a response is not allowed (§7.1.2.2), but harmless */
        } else if (n == 22 && !strncasecmp(v, "server_max_window_bits", 22)) {
            bench_die("server_max_window_bits without a value (RFC 7692 §7.1.2.1)");
        } else if (n) {
            bench_die("unknown permessage-deflate parameter: %.*s", (int)n, v);
        }
        v = e + 1;
    }
    if (sbits < 8 || sbits > 15 || cbits < 8 || cbits > 15) bench_die("window bits out of range");
    if (G.nct && !snct) bench_die("server_no_context_takeover was offered but not echoed (RFC 7692 §7.1.1.1)");
    /* Our precompressed messages reach back less than 4 KiB: any window of
     * 2^12 or more reads them. */
    if (!G.live && cbits < 12) bench_die("client_max_window_bits=%d is too small for precompressed messages", cbits);
    c->pmd = 1;
    c->rx_reset = snct;
    c->tx_reset = cnct;
    c->tx_bits = cbits;
    if (!G.agreed_sbits) {
        G.agreed_snct = snct;
        G.agreed_cnct = cnct;
        G.agreed_sbits = sbits;
        G.agreed_cbits = cbits;
    }
    c->inf = calloc(1, sizeof *c->inf);
    if (!c->inf || inflateInit2(c->inf, -15) != Z_OK) bench_die("inflateInit2 failed");
    if (G.live) {
        c->def = calloc(1, sizeof *c->def);
        /* zlib refuses a raw window of 8 bits. */
        if (cbits < 9) bench_die("client_max_window_bits=8: zlib cannot compress within it");
        if (!c->def || deflateInit2(c->def, G.zlevel, Z_DEFLATED, -cbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            bench_die("deflateInit2 failed");
    }
}

/* Checks the 101 (RFC 6455 §4.1): status, the accept value we expect and
 * the extensions. Returns the head length, 0 if incomplete. */
static size_t check_handshake(conn *c) {
    size_t head = bench_ws_check_101(c->in, c->in_len, c->accept);
    if (head) pmd_agree(c, (const char *)c->in, head);
    return head;
}

/* bcast: the sender keeps up to bc_window messages not yet seen by every
 * receiver in flight. */
static void bcast_pump(void) {
    conn *s = G.bc_sender;
    if (!s || s->state != C_OPEN || G.open_conns < (uint64_t)G.receivers + 1) return;
    while (s->sent < G.bc_oldest + (uint64_t)G.bc_window) send_message(s);
}

static void bcast_ack(uint64_t k) {
    G.bc_acks[k % (uint64_t)G.bc_window]++;
    while (G.bc_oldest < G.bc_sender->sent &&
           G.bc_acks[G.bc_oldest % (uint64_t)G.bc_window] == (uint32_t)G.receivers) {
        G.bc_acks[G.bc_oldest % (uint64_t)G.bc_window] = 0;
        G.bc_oldest++;
    }
}

/* Inflates a compressed message's payload onto c->msg. */
static void pmd_inflate(conn *c, const uint8_t *in, size_t len) {
    z_stream *z = c->inf;
    if (c->inf_ended) return; /* after a final block nothing counts (RFC 7692 §7.2.3.4) */
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    for (;;) {
        reserve(&c->msg, &c->msg_cap, c->msg_len + 8192);
        z->next_out = c->msg + c->msg_len;
        z->avail_out = (uInt)(c->msg_cap - c->msg_len);
        int rc = inflate(z, Z_SYNC_FLUSH);
        c->msg_len = c->msg_cap - z->avail_out;
        if (c->msg_len > CHAT_MAX + INFLATE_SLACK)
            bench_die("an echo inflates past %d bytes", CHAT_MAX + INFLATE_SLACK);
        if (rc == Z_STREAM_END) {
            c->inf_ended = 1;
            return;
        }
        if (rc == Z_BUF_ERROR && z->avail_out) return; /* input used up */
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            bench_die("corrupt DEFLATE data from the server: %s", z->msg ? z->msg : "?");
        if (!z->avail_in && z->avail_out) return;
    }
}

/* One complete server frame. Server frames are never masked (§5.1). */
static void on_frame(conn *c, int fin, int rsv1, int opcode, const uint8_t *data, size_t len) {
    if (opcode == 0x9) { /* ping: answer with a pong (§5.5.3) */
        send_frame(c, 0xA, data, len);
        return;
    }
    if (opcode == 0xA) return;
    if (opcode == 0x8) {
        if (c->state != C_CLOSING)
            bench_die("server closed the connection (code %d)", len >= 2 ? data[0] << 8 | data[1] : 1005);
        return; /* wait for the server's FIN */
    }
    int want = G.text ? 1 : 2;
    if (rsv1 || !fin || opcode == 0 || c->in_msg) {
        /* compressed or fragmented: join (and inflate) into c->msg */
        if (opcode != 0) {
            if (c->in_msg) bench_die("a new message began before the last one ended");
            if (opcode != want) bench_die("unexpected frame opcode=%d", opcode);
            c->in_msg = 1;
            c->msg_op = opcode;
            c->msg_comp = rsv1;
            c->msg_len = c->msg_wire = 0;
            c->inf_ended = 0;
        } else if (!c->in_msg) {
            bench_die("continuation frame outside a message");
        } else if (rsv1) {
            bench_die("RSV1 on a continuation frame (RFC 7692 §6.1)");
        }
        c->msg_wire += len;
        if (c->msg_comp) {
            pmd_inflate(c, data, len);
        } else {
            reserve(&c->msg, &c->msg_cap, c->msg_len + len);
            memcpy(c->msg + c->msg_len, data, len);
            c->msg_len += len;
        }
        if (!fin) return;
        if (c->msg_comp) {
            pmd_inflate(c, (const uint8_t *)"\x00\x00\xff\xff", 4); /* the tail (§7.2.2) */
            if (c->rx_reset || c->inf_ended) inflateReset(c->inf);
            G.rx_comp++;
        }
        c->in_msg = 0;
        data = c->msg;
        len = c->msg_len;
        G.rx_wire += c->msg_wire;
    } else {
        G.rx_wire += len;
    }
    G.rx_raw += len;
    G.rx_msgs++;
    int src = G.mode == M_BCAST ? G.c[G.nconns - 1].idx : c->idx;
    size_t want_len;
    const uint8_t *want_data = expected(src, c->recvd, &want_len);
    if (len != want_len) bench_die("echo of %zu bytes, sent %zu", len, want_len);
    if (memcmp(data, want_data, len) != 0)
        bench_die("echo %llu on connection %d differs from what was sent", (unsigned long long)c->recvd, c->idx);
    c->recvd++;
    switch (G.mode) {
    case M_ECHO:
        G.done_msgs++;
        send_message(c);
        break;
    case M_BCAST:
        if (!c->receiver) bench_die("the sender received its own broadcast");
        G.done_msgs++;
        bcast_ack(c->recvd - 1);
        break;
    case M_IDLE:
        /* The server keeps its state; the generator needs none any more
         * (thousands of zlib streams would only crowd the machine). */
        if (c->inf) {
            inflateEnd(c->inf);
            free(c->inf);
            c->inf = NULL;
        }
        break;
    case M_HANDSHAKE:
        send_frame(c, 0x8, (const uint8_t *)"\x03\xe8", 2); /* 1000 */
        c->state = C_CLOSING;
        break;
    case M_RAW:
        break;
    }
}

/* Parses every complete frame in c->in. */
static void parse_frames(conn *c) {
    size_t off = 0;
    for (;;) {
        size_t avail = c->in_len - off;
        const uint8_t *p = c->in + off;
        if (avail < 2) break;
        if (p[1] & 0x80) bench_die("server frame is masked (RFC 6455 §5.1)");
        if (p[0] & (c->pmd ? 0x30 : 0x70)) bench_die("server frame has RSV bits set");
        if ((p[0] & 0x40) && (p[0] & 0x08)) bench_die("RSV1 on a control frame (RFC 7692 §6.1)");
        uint64_t len;
        size_t h = bench_ws_payload_len(p, avail, &len);
        if (!h) break;
        if (len > (64u << 20)) bench_die("frame too long");
        if (avail < h + len) {
            reserve(&c->in, &c->in_cap, off + h + (size_t)len);
            break;
        }
        on_frame(c, p[0] >> 7, (p[0] >> 6) & 1, p[0] & 0x0F, p + h, (size_t)len);
        off += h + (size_t)len;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

/* raw: the bytes must come back exactly as sent, message after message. */
static void parse_raw(conn *c) {
    size_t off = 0;
    while (off < c->in_len) {
        size_t take = G.size - (size_t)c->raw_off;
        if (take > c->in_len - off) take = c->in_len - off;
        if (memcmp(c->in + off, payload(c->idx, c->recvd) + c->raw_off, take) != 0)
            bench_die("reflected bytes differ on connection %d", c->idx);
        off += take;
        c->raw_off += take;
        if (c->raw_off == G.size) {
            c->raw_off = 0;
            c->recvd++;
            G.done_msgs++;
            send_message(c);
        }
    }
    c->in_len = 0;
}

static void tls_flush(conn *c);

static void flush(conn *c) {
    if (c->ssl) {
        tls_flush(c);
        return;
    }
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            bench_die("write: %s", strerror(errno));
        }
        c->out_off += (size_t)n;
    }
    int pending = c->out_off < c->out_len;
    if (pending != c->armed_out) set_events(c, pending);
}

/* The server's FIN (or TLS close): expected only after our close frame. */
static void on_eof(conn *c) {
    if (c->state != C_CLOSING) bench_die("server closed connection %d unexpectedly", c->idx);
    conn_close(c);
    G.done_msgs++;
}

static void on_input(conn *c);
static void tls_readable(conn *c);

static void on_readable(conn *c) {
    if (c->ssl) {
        tls_readable(c);
        return;
    }
    reserve(&c->in, &c->in_cap, c->in_len + 65536);
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        if (c->state == C_CLOSING) { n = 0; } else bench_die("read: %s", strerror(errno));
    }
    if (n == 0) {
        on_eof(c);
        return;
    }
    c->in_len += (size_t)n;
    on_input(c);
}

/* New bytes in c->in: the 101, then frames (or reflected bytes). */
static void on_input(conn *c) {
    if (c->state == C_HANDSHAKE) {
        size_t head = check_handshake(c);
        if (!head) return;
        memmove(c->in, c->in + head, c->in_len - head);
        c->in_len -= head;
        on_open(c);
    }
    if (G.mode == M_RAW)
        parse_raw(c);
    else
        parse_frames(c);
}

/* ------------------------------------------------------------ TLS (--tls) */

/* Dies with OpenSSL's own reason for the failed call. */
static void tls_die(conn *c, const char *call, int err) {
    unsigned long e = ERR_get_error();
    char why[256] = "";
    if (e) ERR_error_string_n(e, why, sizeof why);
    bench_die("%s on connection %d: SSL error %d%s%s%s", call, c->idx, err, why[0] ? " (" : "", why,
              why[0] ? ")" : "");
}

static void tls_init(void) {
    G.ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!G.ssl_ctx) bench_die("SSL_CTX_new failed");
    (void)SSL_CTX_set_min_proto_version(G.ssl_ctx, TLS1_2_VERSION);
    /* Partial writes and a moving buffer: c->out may grow (and move)
     * between an SSL_write that wanted to write and its retry. Read-ahead:
     * fewer read() calls on the generator's side. */
    (void)SSL_CTX_set_mode(G.ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(G.ssl_ctx, 1);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* A FIN without close_notify ends the stream like a close_notify. */
    (void)SSL_CTX_set_options(G.ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    /* No client-side session cache (OpenSSL's default for clients), and no
     * session is ever offered: every handshake is a full one. */
    SSL_CTX_set_session_cache_mode(G.ssl_ctx, SSL_SESS_CACHE_OFF);
    static const unsigned char alpn[] = "\x08http/1.1";
    if (SSL_CTX_set_alpn_protos(G.ssl_ctx, alpn, sizeof alpn - 1) != 0) bench_die("SSL_CTX_set_alpn_protos failed");
    if (G.tls_ca) {
        if (SSL_CTX_load_verify_locations(G.ssl_ctx, G.tls_ca, NULL) != 1) bench_die("cannot load CA %s", G.tls_ca);
        SSL_CTX_set_verify(G.ssl_ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(G.ssl_ctx, SSL_VERIFY_NONE, NULL);
    }
}

/* TCP is up: a fresh SSL on the socket, and the first flight. Returns 1
 * when the TLS handshake is done (c->out then holds the upgrade). */
static int tls_handshake(conn *c);

static int tls_start(conn *c) {
    c->ssl = SSL_new(G.ssl_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) bench_die("SSL_new failed");
    if (G.tls_ca && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), G.host) != 1)
        bench_die("cannot check the certificate against %s", G.host);
    SSL_set_connect_state(c->ssl);
    c->state = C_TLS;
    return tls_handshake(c);
}

static int tls_handshake(conn *c) {
    int rc = SSL_do_handshake(c->ssl);
    if (rc != 1) {
        int e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if ((e == SSL_ERROR_WANT_WRITE) != c->armed_out) set_events(c, e == SSL_ERROR_WANT_WRITE);
            return 0;
        }
        tls_die(c, "TLS handshake", e);
    }
    if (SSL_session_reused(c->ssl)) bench_die("a TLS session was resumed: every handshake must be full");
    if (!G.tls_desc[0]) {
        const char *group = SSL_group_to_name(c->ssl, SSL_get_negotiated_group(c->ssl));
        const unsigned char *proto = NULL;
        unsigned proto_len = 0;
        SSL_get0_alpn_selected(c->ssl, &proto, &proto_len);
        snprintf(G.tls_desc, sizeof G.tls_desc, "tls=%s cipher=%s group=%s alpn=%.*s", SSL_get_version(c->ssl),
                 SSL_get_cipher_name(c->ssl), group ? group : "?", proto_len ? (int)proto_len : 1,
                 proto_len ? (const char *)proto : "-");
    }
    send_handshake(c);
    return 1;
}

static void tls_flush(conn *c) {
    int want_out = 0;
    while (c->out_off < c->out_len) {
        size_t len = c->out_len - c->out_off;
        int n = SSL_write(c->ssl, c->out + c->out_off, len > INT32_MAX ? INT32_MAX : (int)len);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE) {
            want_out = 1;
            break;
        }
        if (e == SSL_ERROR_WANT_READ) break; /* retried after the next read (on_event flushes) */
        tls_die(c, "SSL_write", e);
    }
    if (want_out != c->armed_out) set_events(c, want_out);
}

/* Reads every record the socket holds (SSL_read gives one at a time, and
 * may hold decrypted bytes the socket no longer signals), then parses. */
static void tls_readable(conn *c) {
    size_t before = c->in_len;
    int eof = 0;
    for (;;) {
        reserve(&c->in, &c->in_cap, c->in_len + 32768);
        size_t room = c->in_cap - c->in_len;
        int n = SSL_read(c->ssl, c->in + c->in_len, room > INT32_MAX ? INT32_MAX : (int)room);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_WANT_WRITE) { /* the TLS layer has to answer first */
            if (!c->armed_out) set_events(c, 1);
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && c->state == C_CLOSING)) {
            eof = 1;
            break;
        }
        if (e == SSL_ERROR_SYSCALL && !ERR_peek_error())
            bench_die("server closed connection %d unexpectedly%s%s", c->idx, errno ? ": " : "",
                      errno ? strerror(errno) : "");
        tls_die(c, "SSL_read", e);
    }
    if (c->in_len > before) on_input(c);
    if (eof) on_eof(c);
}

static void on_event(conn *c, uint32_t events) {
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) bench_die("connect: %s", strerror(err));
        if (!(events & EPOLLOUT)) return;
        if (G.mode == M_RAW) {
            on_open(c);
        } else if (G.tls) {
            if (!tls_start(c)) return;
        } else {
            send_handshake(c);
        }
    } else if (c->state == C_TLS) {
        if (!tls_handshake(c)) return;
    } else {
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    if (c->state != C_DEAD) flush(c);
}

/* ------------------------------------------------------------ main */

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port N [--host A] [--mode echo|raw|bcast|idle|handshake]\n"
            "  [--conns C] [--depth D] [--size BYTES] [--receivers R] [--duration S]\n"
            "  [--warmup S] [--server-pid PID] [--malloc-file F] [--text]\n"
            "  [--json] [--deflate [--no-context-takeover] [--deflate-live] [--deflate-level L]]\n"
            "  [--tls [--tls-ca FILE]]\n");
    exit(1);
}

typedef struct pmd_counts {
    uint64_t rx_wire, rx_raw, rx_comp, rx_msgs, tx_wire, tx_raw;
} pmd_counts;

static pmd_counts pmd_snapshot(void) {
    return (pmd_counts){G.rx_wire, G.rx_raw, G.rx_comp, G.rx_msgs, G.tx_wire, G.tx_raw};
}

/* --json / --deflate: what the handshake agreed, the mean message size,
 * and compression ratios (uncompressed / wire payload bytes) each way
 * since k0, with the share of echoes that came back compressed. */
static void print_pmd(const pmd_counts *k0) {
    if (!G.json) return;
    pmd_counts k = pmd_snapshot();
    double rx_msgs = (double)(k.rx_msgs - k0->rx_msgs);
    printf(" json=1 avg_size=%.0f", rx_msgs > 0 ? (double)(k.rx_raw - k0->rx_raw) / rx_msgs : 0);
    if (!G.deflate) return;
    printf(" deflate=1 live=%d zlevel=%d snct=%d cnct=%d sbits=%d cbits=%d rx_ratio=%.3f tx_ratio=%.3f "
           "rx_comp_pct=%.1f",
           G.live, G.zlevel, G.agreed_snct, G.agreed_cnct, G.agreed_sbits, G.agreed_cbits,
           k.rx_wire > k0->rx_wire ? (double)(k.rx_raw - k0->rx_raw) / (double)(k.rx_wire - k0->rx_wire) : 0,
           k.tx_wire > k0->tx_wire ? (double)(k.tx_raw - k0->tx_raw) / (double)(k.tx_wire - k0->tx_wire) : 0,
           rx_msgs > 0 ? 100.0 * (double)(k.rx_comp - k0->rx_comp) / rx_msgs : 0);
}

static void run_loop(double until, int stop_when_open) {
    struct epoll_event evs[512];
    double last_progress = now_s();
    uint64_t last_done = G.done_msgs;
    for (;;) {
        double t = now_s();
        if (until > 0 && t >= until) return;
        if (stop_when_open && G.opening == 0) return;
        if (G.done_msgs != last_done || G.opening) {
            last_done = G.done_msgs;
            last_progress = t;
        } else if (t - last_progress > 10) {
            bench_die("no progress for 10 s (done=%llu)", (unsigned long long)G.done_msgs);
        }
        /* Pump before waiting: with nothing in flight yet, a wait first
         * would idle through the warm-up. */
        if (G.mode == M_BCAST) {
            bcast_pump();
            if (G.bc_sender && G.bc_sender->fd >= 0) flush(G.bc_sender);
        }
        int ms = until > 0 ? (int)((until - t) * 1000) + 1 : 1000;
        if (ms > 1000) ms = 1000;
        int n = epoll_wait(G.ep, evs, 512, ms);
        if (n < 0 && errno != EINTR) bench_die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
        if (G.mode == M_HANDSHAKE && until > 0)
            for (int i = 0; i < G.nconns; i++)
                if (G.c[i].state == C_DEAD) conn_start(&G.c[i]);
    }
}

/* Opens n connections, at most 256 connecting at once. A second without
 * events is not yet a stall: a slow server (or a busy machine) may leave
 * SYNs to be retransmitted, which takes 1 s; 10 s is, as in run_loop. */
static void open_all(int first, int n) {
    int next = first;
    double last = now_s();
    while (next < first + n || G.opening) {
        while (next < first + n && G.opening < 256) conn_start(&G.c[next++]);
        struct epoll_event evs[512];
        int k = epoll_wait(G.ep, evs, 512, 1000);
        if (k < 0 && errno != EINTR) bench_die("epoll_wait: %s", strerror(errno));
        if (k > 0) last = now_s();
        else if (now_s() - last > 10) bench_die("connections stalled (%d opening)", G.opening);
        for (int i = 0; i < k; i++) on_event(evs[i].data.ptr, evs[i].events);
    }
}

int main(int argc, char **argv) {
    G.host = "127.0.0.1";
    G.conns = 100;
    G.depth = 8;
    G.size = 64;
    G.receivers = 1000;
    G.duration = 3;
    G.warmup = 1;
    G.zlevel = 6;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--text")) { G.text = 1; continue; }
        if (!strcmp(a, "--json")) { G.json = G.text = 1; continue; }
        if (!strcmp(a, "--deflate")) { G.deflate = G.json = G.text = 1; continue; }
        if (!strcmp(a, "--no-context-takeover")) { G.nct = 1; continue; }
        if (!strcmp(a, "--deflate-live")) { G.live = 1; continue; }
        if (!strcmp(a, "--tls")) { G.tls = 1; continue; }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--port")) G.port = atoi(v);
        else if (!strcmp(a, "--host")) G.host = v;
        else if (!strcmp(a, "--conns")) G.conns = atoi(v);
        else if (!strcmp(a, "--depth")) G.depth = atoi(v);
        else if (!strcmp(a, "--size")) G.size = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--receivers")) G.receivers = atoi(v);
        else if (!strcmp(a, "--duration")) G.duration = atof(v);
        else if (!strcmp(a, "--warmup")) G.warmup = atof(v);
        else if (!strcmp(a, "--server-pid")) G.server_pid = atoi(v);
        else if (!strcmp(a, "--malloc-file")) G.malloc_file = v;
        else if (!strcmp(a, "--deflate-level")) G.zlevel = atoi(v);
        else if (!strcmp(a, "--tls-ca")) G.tls_ca = v;
        else if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "echo")) G.mode = M_ECHO;
            else if (!strcmp(v, "raw")) G.mode = M_RAW;
            else if (!strcmp(v, "bcast")) G.mode = M_BCAST;
            else if (!strcmp(v, "idle")) G.mode = M_IDLE;
            else if (!strcmp(v, "handshake")) G.mode = M_HANDSHAKE;
            else usage();
        } else usage();
    }
    if (G.port <= 0 || G.conns <= 0 || G.depth <= 0 || G.receivers <= 0) usage();
    if (G.json && G.mode == M_RAW) usage();
    if ((G.nct || G.live) && !G.deflate) usage();
    if (G.zlevel < 0 || G.zlevel > 9) usage();
    if (G.tls_ca && !G.tls) usage();
    if (G.tls && G.mode == M_RAW) usage(); /* the reflector speaks no TLS */
    if (G.tls) tls_init();
    if (G.json) chat_init();
    G.rng = bench_xorshift_seed();
    G.pool = malloc(G.size + POOL_SLACK);
    if (!G.pool) bench_die("out of memory");
    for (size_t i = 0; i < G.size + POOL_SLACK; i++) G.pool[i] = (uint8_t)rnd();
    if (G.text) /* printable ASCII keeps text frames valid UTF-8 */
        for (size_t i = 0; i < G.size + POOL_SLACK; i++) G.pool[i] = (uint8_t)(' ' + G.pool[i] % 95);

    G.nconns = G.mode == M_BCAST ? G.receivers + 1 : G.conns;
    bench_raise_nofile(G.nconns);
    G.c = calloc((size_t)G.nconns, sizeof *G.c);
    if (!G.c) bench_die("out of memory");
    for (int i = 0; i < G.nconns; i++) {
        G.c[i].idx = i;
        G.c[i].fd = -1;
        G.c[i].state = C_DEAD;
        G.c[i].receiver = 1;
    }
    G.ep = epoll_create1(EPOLL_CLOEXEC);
    if (G.ep < 0) bench_die("epoll_create1: %s", strerror(errno));

    long rss0 = bench_proc_rss_kb(G.server_pid);
    double t_setup = now_s();
    if (G.mode == M_BCAST) {
        G.bc_window = G.depth > BCAST_WINDOW_MAX ? BCAST_WINDOW_MAX : G.depth;
        open_all(0, G.receivers);
        G.bc_sender = &G.c[G.nconns - 1];
        G.bc_sender->receiver = 0;
        open_all(G.nconns - 1, 1);
    } else if (G.mode == M_IDLE) {
        open_all(0, G.nconns);
        /* every connection has had its echo */
        while (G.open_conns == (uint64_t)G.nconns) {
            int all = 1;
            for (int i = 0; i < G.nconns && all; i++) all = G.c[i].recvd == 1;
            if (all) break;
            run_loop(now_s() + 0.05, 0);
        }
        run_loop(now_s() + 0.5, 0); /* let the server settle */
        long rss1 = bench_proc_rss_kb(G.server_pid);
        printf("mode=idle conns=%d setup_s=%.2f rss_before_kb=%ld rss_after_kb=%ld rss_per_conn_b=%.0f",
               G.nconns, now_s() - t_setup - 0.5, rss0, rss1,
               (double)(rss1 - rss0) * 1024.0 / G.nconns);
        print_pmd(&(pmd_counts){0});
        printf("\n");
        return 0;
    } else if (G.mode == M_HANDSHAKE) {
        for (int i = 0; i < G.nconns; i++) conn_start(&G.c[i]);
    } else {
        open_all(0, G.nconns);
    }

    run_loop(now_s() + G.warmup, 0);
    pmd_counts k0 = pmd_snapshot();
    uint64_t d0 = G.done_msgs, a0 = server_allocs();
    double t0 = now_s(), s0 = bench_proc_cpu_s(G.server_pid), c0 = bench_self_cpu_s();
    run_loop(t0 + G.duration, 0);
    uint64_t d1 = G.done_msgs, a1 = server_allocs();
    double t1 = now_s(), s1 = bench_proc_cpu_s(G.server_pid), c1 = bench_self_cpu_s();
    long rss1 = bench_proc_rss_kb(G.server_pid);

    double secs = t1 - t0, scpu = s1 - s0;
    double msgs = (double)(d1 - d0);
    static const char *names[] = {"echo", "raw", "bcast", "idle", "handshake"};
    printf("mode=%s conns=%d depth=%d size=%zu msgs=%.0f secs=%.3f rate=%.0f server_cpu_s=%.3f "
           "per_cpu_s=%.0f client_cpu_pct=%.0f rss_kb=%ld",
           names[G.mode], G.nconns, G.depth, G.size, msgs, secs, msgs / secs, scpu,
           scpu > 0 ? msgs / scpu : 0, 100.0 * (c1 - c0) / secs, rss1);
    if (G.malloc_file) printf(" allocs=%llu allocs_per_msg=%.4f", (unsigned long long)(a1 - a0),
                              msgs > 0 ? (double)(a1 - a0) / msgs : 0);
    print_pmd(&k0);
    if (G.tls_desc[0]) printf(" %s", G.tls_desc);
    printf("\n");
    return 0;
}
