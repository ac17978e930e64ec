/* Topics (src/runtime/topics.c, publish.c): subscribe, unsubscribe,
 * publish to a topic's subscribers only, order per receiver across
 * topics, closing sockets leave their topics, publishing from callbacks,
 * the limits; a socket in 1,000 topics; 10,000 sockets in 10 topics each
 * (the clients live in a child process: both ends in one would pass the
 * fd limit); and a seeded random sequence of subscribe, unsubscribe,
 * publish and close checked against a model. Real loopback sockets, one
 * loop; the raw peers read the server's frames themselves. */
#include "test_runtime_util.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MAXP 50
#define NTOPIC 20
#define EXPECT_MAX 4096

/* ------------------------------------------------------------ raw peers */

typedef struct peer {
    int fd;
    size_t len;
    uint8_t buf[1 << 15];
    /* What the model says it must receive, in order (message numbers). */
    uint32_t want[EXPECT_MAX];
    size_t nwant, ngot;
} peer;

static peer peers[MAXP];

/* Takes one whole server frame (unmasked) off p's buffer: 1, with its
 * opcode and payload copied into out (NUL-terminated); 0 if incomplete. */
static int peer_frame(peer *p, int *op, char *out, size_t cap, size_t *n) {
    if (p->len < 2) return 0;
    size_t hl = 2, len = p->buf[1] & 0x7F;
    if (len == 126) {
        if (p->len < 4) return 0;
        len = (size_t)p->buf[2] << 8 | p->buf[3];
        hl = 4;
    }
    assert_true(len != 127 && !(p->buf[1] & 0x80));
    if (p->len < hl + len) return 0;
    assert_true(len < cap);
    *op = p->buf[0] & 0x0F;
    memcpy(out, p->buf + hl, len);
    out[len] = '\0';
    *n = len;
    memmove(p->buf, p->buf + hl + len, p->len - hl - len);
    p->len -= hl + len;
    return 1;
}

static void peer_fill(peer *p) {
    while (p->fd >= 0 && p->len < sizeof p->buf) {
        ssize_t n = recv(p->fd, p->buf + p->len, sizeof p->buf - p->len, 0);
        if (n <= 0) return;
        p->len += (size_t)n;
    }
}

/* Every data frame p has so far must be the next one the model expects. */
static void peer_check(peer *p) {
    peer_fill(p);
    int op;
    char msg[256];
    size_t n;
    while (peer_frame(p, &op, msg, sizeof msg, &n)) {
        if (op == CWS_OP_CLOSE) continue;
        assert_int_equal(op, CWS_OP_TEXT);
        assert_true(p->ngot < p->nwant);
        char want[32];
        snprintf(want, sizeof want, "m%u", (unsigned)p->want[p->ngot]);
        assert_string_equal(msg, want);
        p->ngot++;
    }
}

/* ------------------------------------------------------------ the server */

typedef struct tstate {
    cws_loop *loop;
    cws_server *srv;
    cws_socket *sock[MAXP];
    int opened, closed;
    int gone[MAXP];
    /* The model: who is subscribed to what, and the next message number. */
    int sub[MAXP][NTOPIC];
    uint32_t seq;
    int bye;          /* on_close publishes to the closer's topics */
} tstate;

static tstate T;

static void topic_name(int k, char *out, size_t cap) { snprintf(out, cap, "topic/%d", k); }

/* Publishes message T.seq to topic k, checks the count against the model
 * and records what each receiver must get. */
static void model_publish(int k, int except) {
    char name[32], msg[32];
    topic_name(k, name, sizeof name);
    uint32_t m = T.seq++;
    snprintf(msg, sizeof msg, "m%u", (unsigned)m);
    ptrdiff_t want = 0;
    for (int i = 0; i < MAXP; i++) {
        if (!T.sub[i][k] || i == except || T.gone[i] || !T.sock[i] || !cws_socket_conn(T.sock[i]) ||
            cws_conn_state(cws_socket_conn(T.sock[i])) != CWS_STATE_OPEN)
            continue;
        want++;
        assert_true(peers[i].nwant < EXPECT_MAX);
        peers[i].want[peers[i].nwant++] = m;
    }
    ptrdiff_t got = cws_server_publish(T.srv, name, strlen(name), CWS_OP_TEXT, msg, strlen(msg),
                                       except >= 0 ? T.sock[except] : NULL);
    assert_int_equal(got, want);
}

static void t_open(cws_socket *s, void *user) {
    (void)user;
    assert_true(T.opened < MAXP);
    cws_socket_set_user(s, (void *)(intptr_t)(T.opened + 1));
    T.sock[T.opened++] = s;
}

static void t_close(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)code;
    (void)reason;
    (void)len;
    int i = (int)(intptr_t)user - 1;
    assert_true(i >= 0 && i < MAXP);
    /* Too late to join; still there to leave, and to publish to. */
    assert_int_equal(cws_socket_subscribe(s, "late", 4), CWS_ERR_CLOSED);
    if (T.bye) {
        int left = 0;
        for (int k = 0; k < NTOPIC; k++) {
            if (!T.sub[i][k]) continue;
            char name[32];
            topic_name(k, name, sizeof name);
            assert_true(cws_socket_is_subscribed(s, name, strlen(name)));
            if (!left) { /* being unsubscribed while it publishes */
                assert_int_equal(cws_socket_unsubscribe(s, name, strlen(name)), CWS_OK);
                T.sub[i][k] = 0;
                left = 1;
            }
            model_publish(k, -1); /* the closer itself is passed by */
        }
    }
    memset(T.sub[i], 0, sizeof T.sub[i]);
    T.gone[i] = 1;
    T.sock[i] = NULL;
    T.closed++;
}

static void t_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    (void)opcode;
    /* "sub:NAME" / "pub:NAME": from inside a callback. */
    if (len > 4 && !memcmp(data, "sub:", 4)) {
        assert_int_equal(cws_socket_subscribe(s, data + 4, len - 4), CWS_OK);
    } else if (len > 4 && !memcmp(data, "pub:", 4)) {
        assert_int_equal(cws_server_publish(T.srv, data + 4, len - 4, CWS_OP_TEXT, "m0", 2, NULL), 1);
    }
}

static void server_up(size_t max_topics, size_t max_len) {
    memset(&T, 0, sizeof T);
    for (int i = 0; i < MAXP; i++) {
        peers[i].fd = -1;
        peers[i].len = peers[i].nwant = peers[i].ngot = 0;
    }
    int err = 0;
    T.loop = cws_loop_new(&err);
    assert_non_null(T.loop);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ping_interval_ms = CWS_DISABLED;
    cfg.max_topics_per_socket = max_topics;
    cfg.max_topic_len = max_len;
    cfg.cb.on_open = t_open;
    cfg.cb.on_close = t_close;
    cfg.cb.on_message = t_message;
    T.srv = cws_server_new(T.loop, &cfg, &err);
    assert_non_null(T.srv);
}

static void server_down(void) {
    for (int i = 0; i < MAXP; i++)
        if (peers[i].fd >= 0) close(peers[i].fd);
    cws_server_free(T.srv);
    cws_loop_free(T.loop);
}

/* Connects peer i; on_open has run once this returns. */
static void peer_up(int i) {
    peers[i].fd = rt_raw_connect(cws_server_port(T.srv), 0);
    assert_true(peers[i].fd >= 0);
    char buf[1024];
    size_t len;
    assert_true(rt_ws_handshake(T.loop, peers[i].fd, buf, sizeof buf, &len));
    assert_int_equal(T.opened, i + 1);
    char *rest = strstr(buf, "\r\n\r\n") + 4;
    peers[i].len = len - (size_t)(rest - buf);
    memcpy(peers[i].buf, rest, peers[i].len);
}

static void peer_say(int i, const char *text) {
    uint8_t f[256];
    rt_raw_send(peers[i].fd, f, rt_ws_frame(f, CWS_OP_TEXT, text, strlen(text)));
}

/* Pumps until every peer has what the model expects (and checks it). */
static void drain_all(int npeer) {
    uint64_t end = cws_loop_now(T.loop) + 3000;
    for (;;) {
        cws_loop_run_once(T.loop, 2);
        int done = 1;
        for (int i = 0; i < npeer; i++) {
            peer_check(&peers[i]);
            if (peers[i].ngot < peers[i].nwant) done = 0;
        }
        if (done) return;
        assert_true(cws_loop_now(T.loop) < end);
    }
}

/* ------------------------------------------------------------ tests */

static void test_basics(void **state) {
    (void)state;
    server_up(0, 8);
    for (int i = 0; i < 3; i++) peer_up(i);
    cws_socket *a = T.sock[0], *b = T.sock[1];
    /* Arguments and limits. */
    assert_int_equal(cws_socket_subscribe(a, "", 0), CWS_ERR_INVALID);
    assert_int_equal(cws_socket_subscribe(a, NULL, 3), CWS_ERR_INVALID);
    assert_int_equal(cws_socket_subscribe(NULL, "x", 1), CWS_ERR_INVALID);
    assert_int_equal(cws_socket_subscribe(a, "123456789", 9), CWS_ERR_TOO_BIG);
    assert_int_equal(cws_server_publish(T.srv, "123456789", 9, CWS_OP_TEXT, "x", 1, NULL), CWS_ERR_TOO_BIG);
    assert_int_equal(cws_server_publish(T.srv, "A", 1, CWS_OP_PING, "x", 1, NULL), CWS_ERR_INVALID);
    assert_int_equal(cws_server_publish(T.srv, "A", 1, CWS_OP_TEXT, "\xff", 1, NULL), CWS_ERR_UTF8);
    assert_int_equal(cws_server_publish(T.srv, "nobody", 6, CWS_OP_TEXT, "x", 1, NULL), 0);
    assert_int_equal(cws_socket_unsubscribe(a, "A", 1), CWS_ERR_STATE);
    /* Names are bytes: "A\0B" and "A" differ. */
    assert_int_equal(cws_socket_subscribe(a, "A", 1), CWS_OK);
    assert_int_equal(cws_socket_subscribe(a, "A", 1), CWS_OK); /* again: still one */
    assert_int_equal(cws_socket_subscribe(a, "A\0B", 3), CWS_OK);
    assert_int_equal(cws_socket_subscribe(b, "A", 1), CWS_OK);
    assert_int_equal(cws_socket_subscribe(b, "12345678", 8), CWS_OK);
    assert_int_equal(cws_server_topic_count(T.srv, "A", 1), 2);
    assert_int_equal(cws_server_topic_count(T.srv, "A\0B", 3), 1);
    assert_true(cws_socket_is_subscribed(a, "A", 1));
    assert_false(cws_socket_is_subscribed(T.sock[2], "A", 1));
    assert_false(cws_socket_is_subscribed(a, "B", 1));
    /* Broadcast reaches every socket, a topic its subscribers; except
     * leaves one out. */
    assert_int_equal(cws_server_broadcast(T.srv, CWS_OP_TEXT, "m0", 2, NULL), 3);
    peers[0].want[peers[0].nwant++] = 0;
    peers[1].want[peers[1].nwant++] = 0;
    peers[2].want[peers[2].nwant++] = 0;
    assert_int_equal(cws_server_publish(T.srv, "A", 1, CWS_OP_TEXT, "m1", 2, NULL), 2);
    peers[0].want[peers[0].nwant++] = 1;
    peers[1].want[peers[1].nwant++] = 1;
    assert_int_equal(cws_server_publish(T.srv, "A", 1, CWS_OP_TEXT, "m2", 2, a), 1);
    peers[1].want[peers[1].nwant++] = 2;
    drain_all(3);
    /* From inside a callback: join, then publish. */
    peer_say(2, "sub:C");
    peer_say(2, "pub:C");
    peers[2].want[peers[2].nwant++] = 0;
    drain_all(3);
    assert_true(cws_socket_is_subscribed(T.sock[2], "C", 1));
    /* Leaving: O(1) from the middle of a topic; the empty topic goes. */
    assert_int_equal(cws_socket_unsubscribe(a, "A", 1), CWS_OK);
    assert_int_equal(cws_socket_unsubscribe(a, "A", 1), CWS_ERR_STATE);
    assert_int_equal(cws_server_topic_count(T.srv, "A", 1), 1);
    assert_int_equal(cws_socket_unsubscribe(b, "A", 1), CWS_OK);
    assert_int_equal(cws_server_topic_count(T.srv, "A", 1), 0);
    assert_int_equal(cws_server_publish(T.srv, "A", 1, CWS_OP_TEXT, "x", 1, NULL), 0);
    /* Closing leaves every topic. */
    close(peers[1].fd);
    peers[1].fd = -1;
    assert_true(rt_pump_until(T.loop, &T.closed, 2000));
    assert_int_equal(cws_server_topic_count(T.srv, "12345678", 8), 0);
    server_down();
}

static void test_client_socket_has_no_topics(void **state) {
    (void)state;
    server_up(0, 0);
    cws_client_config cc;
    memset(&cc, 0, sizeof cc);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", cws_server_port(T.srv));
    int err = 0;
    cws_socket *c = cws_connect_wait(T.loop, url, &cc, &err);
    assert_non_null(c);
    assert_int_equal(cws_socket_subscribe(c, "A", 1), CWS_ERR_INVALID);
    assert_int_equal(cws_socket_unsubscribe(c, "A", 1), CWS_ERR_INVALID);
    assert_false(cws_socket_is_subscribed(c, "A", 1));
    /* The default name limit: 256 bytes. */
    char name[CWS_TOPIC_LEN_DEFAULT + 1];
    memset(name, 'n', sizeof name);
    assert_int_equal(cws_socket_subscribe(T.sock[0], name, sizeof name - 1), CWS_OK);
    assert_int_equal(cws_socket_subscribe(T.sock[0], name, sizeof name), CWS_ERR_TOO_BIG);
    cws_socket_close(c, CWS_CLOSE_NORMAL, NULL, 0);
    assert_true(rt_pump_until(T.loop, &T.closed, 2000));
    server_down();
}

/* Order per receiver holds across topics: A1, B1, A2 arrive so. */
static void test_order_across_topics(void **state) {
    (void)state;
    server_up(0, 0);
    peer_up(0);
    peer_up(1);
    for (int k = 0; k < 2; k++) {
        char name[32];
        topic_name(k, name, sizeof name);
        assert_int_equal(cws_socket_subscribe(T.sock[0], name, strlen(name)), CWS_OK);
        T.sub[0][k] = 1;
    }
    assert_int_equal(cws_socket_subscribe(T.sock[1], "topic/1", 7), CWS_OK);
    T.sub[1][1] = 1;
    for (int r = 0; r < 100; r++) {
        model_publish(0, -1);
        model_publish(1, -1);
        model_publish(0, -1);
    }
    drain_all(2);
    assert_int_equal(peers[0].ngot, 300);
    assert_int_equal(peers[1].ngot, 100);
    server_down();
}

/* One socket in 1,000 topics: each publish reaches it once, in order. */
static void test_socket_in_1000_topics(void **state) {
    (void)state;
    server_up(1000, 0);
    peer_up(0);
    char name[32];
    for (int k = 0; k < 1000; k++) {
        snprintf(name, sizeof name, "doc/%d", k);
        assert_int_equal(cws_socket_subscribe(T.sock[0], name, strlen(name)), CWS_OK);
    }
    assert_int_equal(cws_socket_subscribe(T.sock[0], "doc/1000", 8), CWS_ERR_TOO_BIG);
    for (int k = 0; k < 1000; k++) {
        snprintf(name, sizeof name, "doc/%d", k);
        char msg[16];
        snprintf(msg, sizeof msg, "m%d", k);
        assert_int_equal(cws_server_publish(T.srv, name, strlen(name), CWS_OP_TEXT, msg, strlen(msg), NULL), 1);
        peers[0].want[peers[0].nwant++] = (uint32_t)k;
        if (k % 100 == 99) drain_all(1); /* keep the peer's buffer small */
    }
    drain_all(1);
    for (int k = 999; k >= 0; k -= 2) { /* every other, from the end */
        snprintf(name, sizeof name, "doc/%d", k);
        assert_int_equal(cws_socket_unsubscribe(T.sock[0], name, strlen(name)), CWS_OK);
        assert_int_equal(cws_server_topic_count(T.srv, name, strlen(name)), 0);
    }
    for (int k = 0; k < 1000; k++) {
        snprintf(name, sizeof name, "doc/%d", k);
        assert_int_equal(cws_socket_is_subscribed(T.sock[0], name, strlen(name)), k % 2 == 0);
    }
    assert_int_equal(cws_socket_subscribe(T.sock[0], "doc/1000", 8), CWS_OK); /* room again */
    server_down();
}

/* A seeded random sequence of subscribe, unsubscribe, publish and close
 * (by the peer, by the server; on_close publishes to the closer's topics
 * and leaves one itself), checked against the model after every step and
 * message by message at the peers. */
static uint32_t rng_next(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void model_check_socket(int i) {
    if (T.gone[i] || !T.sock[i]) return;
    for (int k = 0; k < NTOPIC; k++) {
        char name[32];
        topic_name(k, name, sizeof name);
        assert_int_equal(cws_socket_is_subscribed(T.sock[i], name, strlen(name)), T.sub[i][k]);
    }
}

static void model_check_counts(void) {
    for (int k = 0; k < NTOPIC; k++) {
        size_t want = 0;
        for (int i = 0; i < MAXP; i++) want += T.sub[i][k] && !T.gone[i];
        char name[32];
        topic_name(k, name, sizeof name);
        assert_int_equal(cws_server_topic_count(T.srv, name, strlen(name)), want);
    }
}

static void test_model(void **state) {
    (void)state;
    uint32_t seed = 0x2545F491u;
    const char *env = getenv("CWS_SEED");
    if (env) seed = (uint32_t)strtoul(env, NULL, 0) | 1;
    uint32_t rng = seed;
    server_up(NTOPIC / 2, 0);
    T.bye = 1;
    for (int i = 0; i < MAXP; i++) peer_up(i);
    int closes = 0;
    for (int step = 0; step < 3000; step++) {
        uint32_t r = rng_next(&rng);
        int i = (int)(r % MAXP), k = (int)((r >> 8) % NTOPIC), what = (int)((r >> 16) % 100);
        char name[32];
        topic_name(k, name, sizeof name);
        if (T.gone[i]) continue;
        int nsub = 0;
        for (int j = 0; j < NTOPIC; j++) nsub += T.sub[i][j];
        if (what < 35) {
            int rc = cws_socket_subscribe(T.sock[i], name, strlen(name));
            if (T.sub[i][k]) {
                assert_int_equal(rc, CWS_OK);
            } else if (nsub >= NTOPIC / 2) {
                assert_int_equal(rc, CWS_ERR_TOO_BIG);
            } else {
                assert_int_equal(rc, CWS_OK);
                T.sub[i][k] = 1;
            }
        } else if (what < 60) {
            assert_int_equal(cws_socket_unsubscribe(T.sock[i], name, strlen(name)),
                             T.sub[i][k] ? CWS_OK : CWS_ERR_STATE);
            T.sub[i][k] = 0;
        } else if (what < 97) {
            model_publish(k, what % 4 == 0 ? i : -1);
        } else if (closes < MAXP / 2) {
            closes++;
            int before = T.closed;
            if (what == 97) {
                /* The server closes: at once it gets nothing more, while
                 * it still counts as subscribed until it is gone. */
                assert_int_equal(cws_socket_close(T.sock[i], CWS_CLOSE_NORMAL, NULL, 0), CWS_OK);
                model_publish(k, -1);
            }
            drain_all(MAXP); /* what it was sent so far, before it goes */
            close(peers[i].fd); /* the peer goes: EOF, or no close answer */
            peers[i].fd = -1;
            while (T.closed == before) cws_loop_run_once(T.loop, 5);
            assert_true(T.gone[i]);
        }
        model_check_socket(i);
        if (step % 50 == 0) {
            model_check_counts();
            drain_all(MAXP);
        }
    }
    model_check_counts();
    drain_all(MAXP);
    server_down();
}

/* ------------------------------------------------------------ 10,000 sockets */

#define MANY 10000
#define MANY_TOPICS 100
#define MANY_PER 10
#define MANY_BATCH 500

/* Socket i is in topics (i + 10 j) % 100, j = 0..9: each topic has 1,000
 * subscribers, and publishing topics 0..99 in turn gives socket i its ten
 * in ascending topic order. */
static int many_topic(int i, int j) { return (i + MANY_TOPICS / MANY_PER * j) % MANY_TOPICS; }

static int read_full(int fd, void *buf, size_t n) {
    uint8_t *p = buf;
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The child: MANY blocking clients, each GET /<i>; says 'R' once all are
 * open, then reads each one's ten messages and says 'K' (or 'F'). */
static void many_child(int port, int wfd) {
    int *fds = malloc(MANY * sizeof *fds);
    if (!fds) _exit(1);
    struct timeval tv = {20, 0};
    char ok = 'K';
    for (int base = 0; base < MANY; base += MANY_BATCH) {
        for (int i = base; i < base + MANY_BATCH; i++) {
            fds[i] = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a;
            memset(&a, 0, sizeof a);
            a.sin_family = AF_INET;
            a.sin_port = htons((uint16_t)port);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0) _exit(2);
            char req[512];
            int n = snprintf(req, sizeof req,
                         "GET /%d HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         i);
            if (send(fds[i], req, (size_t)n, MSG_NOSIGNAL) != n) _exit(3);
        }
        for (int i = base; i < base + MANY_BATCH; i++) {
            char head[512];
            size_t len = 0;
            head[0] = '\0';
            while (!strstr(head, "\r\n\r\n")) { /* the 101 alone: nothing follows it yet */
                ssize_t r = recv(fds[i], head + len, sizeof head - 1 - len, 0);
                if (r <= 0) _exit(4);
                len += (size_t)r;
                head[len] = '\0';
            }
            if (memcmp(head, "HTTP/1.1 101", 12)) _exit(5);
        }
    }
    if (write(wfd, "R", 1) != 1) _exit(6);
    for (int i = 0; i < MANY && ok == 'K'; i++) {
        for (int j = 0; j < MANY_PER; j++) {
            int k = i % (MANY_TOPICS / MANY_PER) + MANY_TOPICS / MANY_PER * j; /* ascending */
            uint8_t h[2];
            char msg[16], want[16];
            if (read_full(fds[i], h, 2) < 0 || h[0] != 0x81 || h[1] >= sizeof msg ||
                read_full(fds[i], msg, h[1]) < 0) {
                ok = 'F';
                break;
            }
            msg[h[1]] = '\0';
            snprintf(want, sizeof want, "t%d", k);
            if (strcmp(msg, want)) ok = 'F';
        }
    }
    if (write(wfd, &ok, 1) != 1) _exit(7);
    for (int i = 0; i < MANY; i++) close(fds[i]);
    free(fds);
    _exit(0);
}

static cws_socket **many_socks;
static int many_open;

static int many_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)user;
    int i = atoi(req->http.path.ptr + 1);
    assert_true(i >= 0 && i < MANY && !many_socks[i]);
    many_socks[i] = s;
    cws_socket_set_user(s, (void *)(intptr_t)(i + 1));
    return 0;
}

static void many_opened(cws_socket *s, void *user) {
    (void)s;
    (void)user;
    many_open++;
}

static void many_gone(cws_socket *s, void *user, int code, const char *reason, size_t len) {
    (void)s;
    (void)code;
    (void)reason;
    (void)len;
    many_socks[(intptr_t)user - 1] = NULL;
}

static char many_byte;
static void many_pipe(cws_loop *loop, int fd, void *user) {
    (void)loop;
    (void)user;
    if (read(fd, &many_byte, 1) != 1) many_byte = 'E';
}

static size_t heap_used(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

static void test_10000_sockets_in_10_topics(void **state) {
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < MANY + 64) {
        fprintf(stderr, "skipped: RLIMIT_NOFILE %lu < %d\n", (unsigned long)rl.rlim_cur, MANY + 64);
        return;
    }
    int p2c[2], c2p[2];
    assert_int_equal(pipe(p2c), 0);
    assert_int_equal(pipe(c2p), 0);
    pid_t pid = fork(); /* before the loop exists: the child holds none of its fds */
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p2c[1]);
        close(c2p[0]);
        int port = 0;
        if (read(p2c[0], &port, sizeof port) != (ssize_t)sizeof port) _exit(1);
        many_child(port, c2p[1]);
    }
    close(p2c[0]);
    close(c2p[1]);
    many_socks = calloc(MANY, sizeof *many_socks);
    many_open = 0;
    assert_non_null(many_socks);
    int err = 0;
    cws_loop *loop = cws_loop_new(&err);
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.backlog = 4096;
    cfg.ping_interval_ms = CWS_DISABLED;
    cfg.handshake_timeout_ms = 60000;
    cfg.on_upgrade = many_upgrade;
    cfg.cb.on_open = many_opened;
    cfg.cb.on_close = many_gone;
    cws_server *srv = cws_server_new(loop, &cfg, &err);
    assert_non_null(srv);
    int port = cws_server_port(srv);
    assert_int_equal(write(p2c[1], &port, sizeof port), (ssize_t)sizeof port);
    assert_int_equal(cws_loop_watch_fd(loop, c2p[0], many_pipe, NULL), CWS_OK);
    many_byte = 0;
    uint64_t end = cws_loop_now(loop) + 100000;
    while (!many_byte && cws_loop_now(loop) < end) cws_loop_run_once(loop, 50);
    assert_int_equal(many_byte, 'R');
    assert_int_equal(many_open, MANY);

    size_t before = heap_used();
    char name[16];
    for (int i = 0; i < MANY; i++) {
        for (int j = 0; j < MANY_PER; j++) {
            snprintf(name, sizeof name, "t%d", many_topic(i, j));
            assert_int_equal(cws_socket_subscribe(many_socks[i], name, strlen(name)), CWS_OK);
        }
    }
    size_t after = heap_used();
    if (after > before)
        printf("topics: %d subscriptions hold %zu bytes of heap, %.1f per subscription (mallinfo2)\n",
               MANY * MANY_PER, after - before, (double)(after - before) / (MANY * MANY_PER));
    for (int k = 0; k < MANY_TOPICS; k++) {
        snprintf(name, sizeof name, "t%d", k);
        assert_int_equal(cws_server_topic_count(srv, name, strlen(name)), MANY / MANY_TOPICS * MANY_PER);
        assert_int_equal(cws_server_publish(srv, name, strlen(name), CWS_OP_TEXT, name, strlen(name), NULL),
                         MANY / MANY_TOPICS * MANY_PER);
    }
    many_byte = 0;
    while (!many_byte && cws_loop_now(loop) < end) cws_loop_run_once(loop, 50);
    assert_int_equal(many_byte, 'K');
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cws_loop_unwatch_fd(loop, c2p[0]);
    close(c2p[0]);
    close(p2c[1]);
    cws_server_free(srv); /* every socket leaves its ten topics */
    cws_loop_free(loop);
    free(many_socks);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* a child that died is a failed assert, not a kill */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_client_socket_has_no_topics),
        cmocka_unit_test(test_order_across_topics),
        cmocka_unit_test(test_socket_in_1000_topics),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_10000_sockets_in_10_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
