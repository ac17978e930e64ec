/* Private to the runtime (layer 5): the loop, timers, sockets, server and
 * client share these structures. Built only on the public API of layers
 * 1-4 (cws.h); never on struct cws_conn. Every name here is prefixed
 * rt_ / RT_ (types) or cws__ (functions) so the single-file header can
 * paste all sources into one translation unit. */
#ifndef CWS_RUNTIME_H
#define CWS_RUNTIME_H

#include "../internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#if !defined(CWS_USE_POLL) && !defined(__linux__)
#define CWS_USE_POLL 1
#endif
#ifdef CWS_USE_POLL
#include <poll.h>
#endif

/* Sending never raises SIGPIPE: MSG_NOSIGNAL, or SO_NOSIGPIPE on the
 * socket where the flag does not exist (see cws__fd_prepare). */
#ifdef MSG_NOSIGNAL
#define RT_SEND_FLAGS MSG_NOSIGNAL
#else
#define RT_SEND_FLAGS 0
#endif

/* ---------------------------------------------------------------- memory */

#define rt_alloc(n) cws__realloc(NULL, NULL, (n))
#define rt_free(p) ((void)cws__realloc(NULL, (p), 0))

/* ---------------------------------------------------------------- I/O */

/* What an fd registered with the loop belongs to. A torn-down object is
 * marked RT_IO_DEAD and freed at the end of the loop iteration, so events
 * already collected for it in the same round are skipped, never used. */
enum { RT_IO_DEAD = 0, RT_IO_SOCKET, RT_IO_LISTEN, RT_IO_WATCH, RT_IO_POST };
enum {
    RT_EV_READ = 1,
    RT_EV_WRITE = 2,
    RT_EV_REGISTERED = 0x80 /* in rt_io.events: the fd is known to epoll / poll */
};

typedef struct rt_io {
    int fd;
    uint8_t kind;
    uint8_t events;   /* RT_EV_* currently registered; 0: not registered */
    /* A socket's own (enum rt_state, RT_F_*), kept in what would be
     * padding; unused by the other kinds. */
    uint8_t state;
    uint8_t flags;
#ifdef CWS_USE_POLL
    uint32_t poll_idx;
#endif
} rt_io;

/* ---------------------------------------------------------------- timers */

enum { RT_T_USER = 1, RT_T_SOCKET, RT_T_SERVER };
#define RT_T_NONE UINT32_MAX

/* A node of the loop's binary min-heap: O(log n) insert, remove, update. */
typedef struct rt_tnode {
    uint64_t due;   /* loop milliseconds */
    uint32_t slot;  /* index in the heap, RT_T_NONE when not armed */
    uint8_t kind;
} rt_tnode;

struct cws_timer {
    rt_tnode node;
    uint8_t firing;
    uint8_t stopped;
    cws_loop *loop;
    cws_timer_fn fn;
    void *user;
    uint64_t interval;
};

/* ---------------------------------------------------------------- output */

/* A reference-counted byte buffer: private to one socket's queue, or one
 * broadcast frame shared by every recipient's queue. */
typedef struct rt_buf {
    uint32_t refs;
    uint8_t shared;   /* RT_SHARED_*: never appended to by a queue */
    size_t used, cap;
    uint8_t data[];
} rt_buf;

enum {
    RT_PRIVATE = 0,        /* one socket's own bytes */
    RT_SHARED_FRAME = 1,   /* exactly one frame, for every receiver */
    RT_SHARED_ROUND = 2    /* many small frames one after another (a loop's
                              broadcast buffer): receivers of consecutive
                              frames get one contiguous range of it */
};

/* A frame built once for many receivers: len bytes at ptr, in buf. */
typedef struct rt_frame {
    rt_buf *buf;
    const uint8_t *ptr;
    size_t len;
} rt_frame;

/* Broadcast buffers: one per kind of frame (plain, and compressed per
 * window size), so that a receiver's consecutive frames of one kind lie
 * next to each other. Frames over a quarter of it get a buffer of their
 * own (copying them is what sharing saves). */
#define RT_ROUND_CLASSES 9
#define RT_ROUND_BUF ((size_t)64 << 10)

typedef struct rt_qent {
    const uint8_t *ptr;
    size_t len;
    rt_buf *buf;
} rt_qent;

/* A socket's pending output: a ring of entries (cap a power of two, so
 * positions wrap with a mask), allocated when the first byte is queued
 * and returned to the loop's cache once drained. */
typedef struct rt_outq {
    uint32_t head, count, cap;
    size_t bytes;
    rt_qent *ent;
    struct rt_outq *next_free; /* the loop's cache list, while cached */
} rt_outq;

/* ---------------------------------------------------------------- transport */

/* How a socket's bytes cross the fd (transport.c: plain TCP; tls_*.c: a
 * TLS backend). The rest of the runtime sees only plaintext and calls
 * these; layers 1-4 never learn that TLS exists. */
enum {
    RT_TP_AGAIN = -1,         /* would block: wait for the events of wants() */
    RT_TP_ERROR = -2          /* the connection is broken */
};
struct iovec;
typedef struct rt_tls rt_tls; /* a TLS backend's per-socket state */
typedef struct rt_transport {
    /* > 0 bytes read into buf (up to cap), 0 the peer ended the stream
     * (FIN, or TLS close_notify), RT_TP_AGAIN or RT_TP_ERROR. */
    ptrdiff_t (*read)(cws_socket *s, uint8_t *buf, size_t cap);
    /* Bytes of iov taken (> 0; fewer than offered: the fd is full),
     * RT_TP_AGAIN or RT_TP_ERROR. What was not taken must be offered again
     * first, at least as much of it (the queue keeps it). */
    ptrdiff_t (*writev)(cws_socket *s, const struct iovec *iov, size_t n);
    /* One step of the transport's own handshake: 1 done, 0 waiting for
     * wants(), RT_TP_ERROR. read and writev also step it as needed. */
    int (*handshake)(cws_socket *s);
    /* Nothing more will be written: TLS close_notify, then SHUT_WR.
     * Best effort, never blocks. */
    void (*shutdown)(cws_socket *s);
    /* Bytes already taken from the fd but not yet returned by read: the
     * loop must come back for them without waiting for the fd. */
    size_t (*pending)(const cws_socket *s);
    /* RT_EV_* the transport itself waits for beyond the usual (read
     * always; write while output is queued): e.g. RT_EV_WRITE when a TLS
     * read must first send, and no RT_EV_WRITE while a TLS write waits
     * for the peer's bytes. Returns the mask to register. */
    unsigned (*wants)(const cws_socket *s, unsigned usual);
    /* What readiness ev lets move: RT_EV_READ, try to read; RT_EV_WRITE,
     * try to flush. Plain TCP: ev itself. TLS also reads on writable when
     * its last read stopped to send. */
    unsigned (*ready)(const cws_socket *s, unsigned ev);
    /* Why the last RT_TP_ERROR happened, for on_close ("TLS: ..."), or
     * NULL; valid until free. */
    const char *(*error)(const cws_socket *s);
    /* Releases the socket's transport state (the fd is not closed). */
    void (*free)(cws_socket *s);
} rt_transport;
/* Plain TCP: recv, sendmsg, shutdown(SHUT_WR). */
extern const rt_transport cws__tcp_transport;

/* ---------------------------------------------------------------- sockets */

/* Settings shared by every socket of a server (or owned by one client). */
typedef struct rt_sockcfg {
    cws_loop *loop;
    cws_server *server;       /* NULL for a client */
    const rt_transport *tp;   /* &cws__tcp_transport, or a TLS backend's */
    void *tls_ctx;            /* the backend's context (certificates...) */
    /* Shared by the sockets' embedded cws_conns; frames are encoded
     * straight into the output queue (cws__conn_set_direct). */
    cws__conn_config_direct conn;
    cws_socket_callbacks cb;
    size_t high_water;
    size_t max_message;
    size_t kernel_unsent;     /* TCP_NOTSENT_LOWAT; 0: leave the kernel's */
    uint32_t ping_interval;   /* 0: no pings */
    uint32_t pong_timeout;
    uint32_t close_timeout;
} rt_sockcfg;

enum rt_state {
    RT_ST_HANDSHAKE = 1, /* server: reading the request head */
    RT_ST_LINGER,        /* HTTP answer queued: flush, half-close, drain */
    RT_ST_CONNECTING,    /* client: TCP connect in progress */
    RT_ST_CL_HANDSHAKE,  /* client: request sent, reading the 101 */
    RT_ST_OPEN,          /* WebSocket open (cws_conn drives it) */
    RT_ST_CLOSING,       /* our close frame is out; waiting for theirs */
    RT_ST_DRAIN,         /* cws_conn_done: flushing before TCP close */
    RT_ST_FIN_WAIT,      /* client: done and flushed; waiting for the FIN */
    RT_ST_FAILED         /* client: failed before open; reported next round */
};

/* Why the runtime dropped a socket itself; names the 1006 reason. */
enum rt_why {
    RT_WHY_NONE = 0, RT_WHY_EOF, RT_WHY_IO, RT_WHY_PING, RT_WHY_CLOSE_TIMEOUT,
    RT_WHY_HIGH_WATER, RT_WHY_SHUTDOWN, RT_WHY_FREED, RT_WHY_CONNECT,
    RT_WHY_CONNECT_TIMEOUT, RT_WHY_HANDSHAKE, RT_WHY_NOMEM
};

enum {
    RT_F_OPENED = 1,       /* the conn is open (set just before on_open, cleared at teardown) */
    RT_F_REPORTED = 2,     /* on_close was called */
    RT_F_DIRTY = 4,        /* on the loop's flush list */
    RT_F_BLOCKED = 8,      /* the kernel refused bytes: waiting for EPOLLOUT */
    RT_F_OVERFLOW = 16,    /* over the high-water mark: closing with 1008 */
    RT_F_AWAIT_PONG = 32,  /* a runtime ping is out */
    RT_F_WR_SHUT = 64,     /* shutdown(SHUT_WR) done */
    RT_F_BUSY = 128        /* over max_connections: only told 503 */
};
/* More socket flags, in cws_socket.xflags. */
enum {
    RT_X_WANT_DRAIN = 2,   /* cws_socket_want_drain(): on_drain once empty */
    RT_X_ACCEPTED = 4      /* on_upgrade said yes: on_close is owed even if
                              the 101 then fails and on_open never comes */
};

/* Kept small: with the cws_conn embedded after it (one allocation, see
 * RT_SOCK_CONN_OFF) it is the runtime's whole per-connection cost once the
 * handshake is done and the output drained: 80 + 104 bytes on LP64. The
 * socket's user pointer is the conn's (cws_conn_user), and the conn's
 * callbacks find the socket from the conn's address. */
struct cws_socket {
    rt_io io;               /* first: the loop's events point here; also
                               holds the state and RT_F_* flags */
    rt_tnode tn;            /* the socket's single deadline (state decides) */
    int32_t rtt;            /* ms, -1 until measured */
    uint8_t why;            /* enum rt_why */
    uint8_t xflags;         /* RT_X_* (in what would be padding) */
    const rt_sockcfg *cfg;  /* the server's settings, or the client's own */
    rt_outq *q;             /* NULL while nothing is queued */
    union {                 /* what only some sockets need, by owner: */
        struct srv_hsbuf *hs_head;  /* server, handshaking: the request head
                                       while it arrives in pieces, or NULL */
        struct rt_srvsock *srv;     /* server, once on_upgrade said yes: the
                                       subprotocol and topics, or NULL */
        struct cli_state *client;   /* client: its state, for life */
    } own;
    struct rt_tls *tls;     /* a TLS backend's state, or NULL */
    cws_socket *prev, *next;/* server's list, or the loop's client list */
    cws_socket *dirty_next; /* flush list (the dead stay on it until drained) */
};

/* ---------------------------------------------------------------- topics */

/* A subscription is two entries that point at each other (an index each),
 * so leaving a topic is O(1) from either side: swap with the last, fix the
 * moved entry's partner. 16 + 16 bytes on LP64. */
typedef struct rt_tmember {   /* in a topic: who */
    cws_socket *s;
    uint32_t slot;            /* its rt_tsub in s's rt_srvsock */
} rt_tmember;

typedef struct rt_tsub {      /* in a socket: where */
    struct rt_topic *t;
    uint32_t idx;             /* its rt_tmember in t */
} rt_tsub;

typedef struct rt_topic {
    struct rt_topic *next;    /* hash chain */
    uint64_t hash;
    rt_tmember *mem;          /* subscribers, in no particular order */
    uint32_t n, cap;
    size_t len;
    uint8_t name[];
} rt_topic;

/* A server's topics: a chained hash table keyed with SipHash and a random
 * key (names may come from the network: no chosen collisions), made on
 * the first subscription. Empty topics are freed at once. */
typedef struct rt_topics {
    rt_topic **bucket;        /* nbucket (a power of two) chains, or NULL */
    size_t nbucket, count;
    uint8_t key[16];          /* cws_siphash24's, from cws_random */
} rt_topics;

/* What a server socket may hold once on_upgrade said yes, allocated on
 * first need (most sockets have neither): the subprotocol and the
 * socket's side of its subscriptions. */
typedef struct rt_srvsock {
    char *protocol;           /* the chosen subprotocol (a copy), or NULL */
    uint32_t nsub, cap;
    rt_tsub sub[];
} rt_srvsock;

/* Where the embedded cws_conn starts: aligned for any type, as
 * cws_conn_init() asks. */
#define RT_SOCK_CONN_OFF CWS__ALIGN_UP(sizeof(cws_socket))

/* The embedded connection's memory, initialised when the socket is made. */
static inline cws_conn *rt_sock_conn_mem(const cws_socket *s) {
    return (cws_conn *)(void *)((char *)(uintptr_t)s + RT_SOCK_CONN_OFF);
}
/* The connection once the handshake is done (NULL before, and after
 * teardown). */
static inline cws_conn *rt_sock_conn(const cws_socket *s) {
    return s->io.flags & RT_F_OPENED ? rt_sock_conn_mem(s) : NULL;
}
static inline cws_socket *rt_conn_sock(const cws_conn *c) {
    return (cws_socket *)(void *)((char *)(uintptr_t)c - RT_SOCK_CONN_OFF);
}
static inline cws_loop *rt_sock_loop(const cws_socket *s) { return s->cfg->loop; }
static inline cws_server *rt_sock_server(const cws_socket *s) { return s->cfg->server; }

/* ---------------------------------------------------------------- loop */

typedef struct rt_ready {
    rt_io *io;
    unsigned ev;
} rt_ready;

typedef struct rt_watch {
    rt_io io;
    cws_fd_fn fn;             /* cws_loop_watch_fd's, or NULL */
    cws_fd_events_fn efn;     /* cws_loop_watch_fd_events's, or NULL */
    unsigned want;            /* CWS_FD_*, asked for now */
    void *user;
    struct rt_watch *next;
} rt_watch;

/* A job of cws_loop_post. */
typedef struct rt_job {
    cws_post_fn fn;
    void *arg;
} rt_job;

/* Jobs posted from any thread (post.c). Posters append to `jobs` under
 * the lock; the loop swaps it with `batch` and runs that outside the
 * lock, so both arrays keep their capacity and a steady stream of posts
 * allocates nothing. */
typedef struct rt_post {
    rt_io io;               /* the wake-up fd: an eventfd, or a pipe's read end */
    int wake_wr;            /* where posters write (io.fd for an eventfd) */
    pthread_mutex_t lock;
    rt_job *jobs;           /* pending, in posting order (under lock) */
    size_t njobs, cap;      /* (under lock) */
    int signalled;          /* a wake-up is in the fd already (under lock) */
    rt_job *batch;          /* the loop thread's: the array last swapped out, */
    size_t batch_cap;
    size_t batch_n, batch_pos; /* its jobs, and the next one to run */
    atomic_int closed;      /* cws_loop_free has begun: posts are refused */
    atomic_int users;       /* post / stop calls in progress (free waits) */
} rt_post;
/* At most this many jobs wait (16 MiB of queue on LP64): past it a loop
 * that cannot keep up makes posters fail instead of eating memory. */
#define RT_POST_MAX ((size_t)1 << 20)
/* Jobs run per loop round at most: what they send is flushed (and its
 * buffers freed) before the next ones run. */
#define RT_POST_ROUND 256

#define RT_RBUF_SIZE ((size_t)128 << 10)
#define RT_BUF_STD ((size_t)16 << 10)
#define RT_CACHE_MAX 64
/* Output queues are cached without a fixed bound (a broadcast to n sockets
 * holds n at once, and the next one needs them again), but those unused
 * for a whole RT_CACHE_TRIM_MS are freed, down to RT_CACHE_MAX. */
#define RT_CACHE_TRIM_MS 1000u
/* Buffers of large frames (over RT_BUF_STD), kept for the next large
 * message: a malloc and free of 64 KiB or more per message makes glibc
 * hand the memory back to the kernel and take it again each time (brk,
 * and a TLB flush). At most RT_BIG_CACHE of at most RT_BIG_CACHE_BYTES
 * each, all freed after a trim interval in which none was reused. */
#define RT_BIG_CACHE 4
#define RT_BIG_CACHE_BYTES ((size_t)1 << 20)

struct cws_loop {
#ifdef CWS_USE_POLL
    struct pollfd *pfd;
    rt_io **pio;
    struct rt_ready *ready; /* events collected before dispatch */
    size_t npfd, pcap;
#else
    int epfd;
#endif
    atomic_int stop;        /* cws_loop_stop, from any thread */
    int dispatching;        /* > 0 inside run_once: frees are deferred */
    uint64_t now;           /* ms since the loop was created */
    uint64_t origin_ns;
    rt_tnode **heap;
    size_t heap_len, heap_cap;
    size_t heap_need;       /* timer nodes in existence: heap_cap >= this */
    uint8_t *rbuf;          /* the one receive buffer every read uses */
    cws_socket *dirty;      /* sockets with output or state to settle */
    /* Torn-down objects, freed after the round (linked through a field
     * that is unused once they are dead). */
    cws_socket *grave_socks;
    cws_server *grave_servers;
    struct rt_watch *grave_watches;
    rt_watch *watches;
    cws_server *servers;
    cws_socket *clients;
    rt_buf *round[RT_ROUND_CLASSES]; /* broadcast buffers being filled */
    uint64_t round_at;      /* loop ms of the last frame put in one */
    rt_buf *buf_cache[RT_CACHE_MAX];
    size_t nbuf_cache;
    rt_buf *big_cache[RT_BIG_CACHE];
    size_t nbig_cache;
    size_t big_taken;       /* large buffers reused since the last trim */
    rt_outq *q_cache;       /* free queues, linked through next_free */
    cws__codec_pool codecs; /* permessage-deflate codecs between messages */
    size_t nq_cache;
    size_t nq_cache_low;    /* fewest cached since the last trim */
    uint64_t q_trim_at;     /* loop ms of the next trim */
    char peer_text[64];
    rt_post post;
    /* TLS sockets holding read bytes the fd will not announce again
     * (rt_transport.pending): read next round without waiting. */
    struct rt_tls *tls_again;
    struct rt_tls *tls_again_now; /* the list being read this round */
    uint8_t *tls_stage;     /* a TLS backend's write gathering buffer */
};

/* ---------------------------------------------------------------- server */

struct cws_server {
    rt_io io;               /* the listening fd */
    rt_tnode tn;            /* shutdown deadline / accept back-off */
    cws_loop *loop;
    cws_server *next_server;
    cws_socket *socks;      /* every socket, any state */
    size_t count;           /* sockets counted against max_connections */
    size_t lingering;       /* over-limit sockets being told 503 */
    size_t max_connections;
    uint32_t handshake_timeout;
    uint8_t shutting, done, accept_paused;
    int port;
    cws_server_config cfg;
    void *origins;          /* the copy cfg.hs.allow_origins points to */
    rt_sockcfg scfg;
    /* Broadcasts compressed once (permessage-deflate without server
     * context takeover): a deflater per window size, made on first use,
     * and the scratch buffer the message is compressed into. */
    struct cws_deflater *bcast_def[8];
    uint8_t *bcast_z;
    size_t bcast_zcap;
    rt_topics topics;
    size_t max_topics, max_topic_len;
};

/* The plain-HTTP answer being built during on_http. */
struct cws_http_reply {
    cws_socket *s;
    int sent;
    int head_only;  /* HEAD request: no body */
};

/* ---------------------------------------------------------------- loop.c */
int cws__loop_add(cws_loop *loop, rt_io *io, unsigned events);
int cws__loop_mod(cws_loop *loop, rt_io *io, unsigned events);
void cws__loop_del(cws_loop *loop, rt_io *io);
/* Marks io dead and frees it (by kind) after the current round. */
void cws__loop_bury(cws_loop *loop, rt_io *io);
void cws__loop_reap(cws_loop *loop);
void cws__loop_update_now(cws_loop *loop);
/* Socket helpers for every fd: O_NONBLOCK, FD_CLOEXEC, no SIGPIPE. */
int cws__fd_prepare(int fd);

/* ---------------------------------------------------------------- post.c */
/* The wake-up fd and the job queue, made with the loop (a post from
 * another thread cannot register an fd with a running loop). CWS_OK,
 * CWS_ERR_IO or CWS_ERR_NOMEM. */
int cws__post_init(cws_loop *loop);
/* The wake-up fd is readable: runs the jobs posted so far. */
void cws__post_event(cws_loop *loop);
/* cws_loop_free's first step: refuses new posts, waits for the calls in
 * progress and runs every job still queued, on the calling thread. */
void cws__post_close(cws_loop *loop);
void cws__post_free(cws_loop *loop);

/* ---------------------------------------------------------------- timer.c */
/* Every object owning a node reserves a heap slot when created, so arming
 * a deadline later never allocates (and never fails). */
int cws__timer_reserve(cws_loop *loop);
void cws__timer_release(cws_loop *loop);
void cws__timer_set(cws_loop *loop, rt_tnode *n, uint64_t due);
void cws__timer_clear(cws_loop *loop, rt_tnode *n);
/* Milliseconds until the earliest deadline (capped at max), 0 if due. */
int cws__timer_wait_ms(cws_loop *loop, int max);
void cws__timer_run_due(cws_loop *loop);
void cws__timer_free_all(cws_loop *loop);

/* ---------------------------------------------------------------- outq.c */
int cws__outq_append(cws_socket *s, const uint8_t *data, size_t len);
/* Queues a frame built for many: the queue's last range grows when the
 * frame follows it in the same buffer (one iovec and one reference for a
 * whole round of broadcasts), else a new entry takes a reference. A
 * socket the kernel has stopped taking from gets its own copy of a small
 * frame instead, so that it cannot pin whole broadcast buffers for a few
 * bytes of each. */
int cws__outq_append_frame(cws_socket *s, const rt_frame *f);
/* Releases the loop's broadcast buffers (at cws_loop_free). */
void cws__round_free(cws_loop *loop);
/* n bytes at the end of the queue, counted as queued, for the caller to
 * fill at once (cws_conn's direct encoding); NULL if n does not fit the
 * tail buffer or a standard one (the caller appends instead), or no memory. */
uint8_t *cws__outq_reserve(cws_socket *s, size_t n);
/* Frees the cached queues that went unused since the last call, if
 * RT_CACHE_TRIM_MS have passed (called once per loop round). */
void cws__outq_cache_trim(cws_loop *loop);
rt_buf *cws__buf_new(cws_loop *loop, size_t cap);
void cws__buf_unref(cws_loop *loop, rt_buf *b);
/* writev as much as the kernel takes: the bytes it took (0 too when
 * nothing was queued), or -1 on a socket error. */
ptrdiff_t cws__outq_flush(cws_socket *s);
void cws__outq_free(cws_socket *s);
void cws__outq_cache_free(cws_loop *loop);

/* ---------------------------------------------------------------- socket.c */
/* The fields cws_server_config and cws_client_config share, as the user
 * set them (0: default, CWS_DISABLED: off). */
typedef struct rt_sock_settings {
    const cws_deflate_config *deflate;
    int receive;
    size_t high_water, max_message, max_fragments, kernel_unsent;
    uint32_t ping_interval_ms, pong_timeout_ms, close_timeout_ms;
    cws_socket_callbacks cb;
} rt_sock_settings;
/* The runtime's defaults, the same for both roles (docs/api.md). */
#define RT_HIGH_WATER_DEFAULT ((size_t)4 << 20)
/* Unsent bytes the kernel may hold: enough that a reader at full speed
 * never waits on us (the bytes in flight are not counted), little enough
 * that one that stops reading costs the machine little. */
#define RT_KERNEL_UNSENT_DEFAULT ((size_t)256 << 10)
/* A plain-HTTP answer all sent waits this long for the client's FIN (one
 * that makes no progress before then is dropped after the server's
 * handshake timeout). */
#define RT_REPLY_FIN_MS 2000u
#define RT_PING_DEFAULT_MS 30000u
#define RT_PONG_DEFAULT_MS 10000u
#define RT_CLOSE_DEFAULT_MS 5000u
#define RT_TIMEOUT_DEFAULT_MS 10000u /* handshake (server), connect (client) */
/* A timeout that is off still arms a deadline, one that never comes in
 * practice (24 days): nothing downstream needs a special case. */
#define RT_NEVER_MS 0x7FFFFFFFu
static inline uint32_t rt_timeout_ms(uint32_t v, uint32_t dflt) {
    uint32_t ms = cws__timeout(v, dflt);
    return ms ? ms : RT_NEVER_MS;
}
static inline int rt_receive_mode_ok(int m) { return m == CWS_RECEIVE_MESSAGES || m == CWS_RECEIVE_STREAM; }
/* Resolves set into cfg, and cfg->conn for one role (the runtime's
 * callbacks). CWS_OK or CWS_ERR_INVALID. */
int cws__sockcfg_init(rt_sockcfg *cfg, int role, const rt_sock_settings *set);
/* One allocation: the socket and its cws_conn (initialised, not open). */
cws_socket *cws__socket_new(const rt_sockcfg *cfg, int fd);
/* Puts s on the loop's list of sockets to flush and settle this round. */
void cws__socket_dirty(cws_socket *s);
/* Flushes, applies the high-water policy and closes TCP when done. */
void cws__socket_service(cws_socket *s);
/* Per-socket TCP options for a new fd (TCP_NODELAY, TCP_NOTSENT_LOWAT). */
void cws__socket_tune_fd(const rt_sockcfg *cfg, int fd);
void cws__socket_settle_all(cws_loop *loop);
/* Right after queueing: flush if over the high-water mark, then close
 * with 1008 if still over (the queue stays within high_water + 1 message). */
void cws__socket_check_high_water(cws_socket *s);
void cws__socket_event(cws_socket *s, unsigned ev);
void cws__socket_deadline(cws_socket *s);
/* Opens the embedded cws_conn, calls on_open and feeds bytes that followed the head. */
int cws__socket_open(cws_socket *s, uint8_t *rest, size_t rest_len);
/* Tears down: reports on_close if due, closes the fd, buries s. */
void cws__socket_destroy(cws_socket *s, int why);
/* The memory of a destroyed socket, at the end of the round. */
void cws__socket_free(cws_socket *s);

/* ---------------------------------------------------------------- server.c */
void cws__server_listen_event(cws_server *srv);
void cws__server_deadline(cws_server *srv);
void cws__server_hs_read(cws_socket *s, uint8_t *data, size_t len);
/* Builds a server frame once, into the loop's broadcast buffer of class
 * cls (0: plain; 1 + bits - 8: compressed for a window of bits), or into
 * a buffer of its own when large. out->buf holds a reference for the
 * caller. 0, or -1 if out of memory. */
int cws__shared_frame(cws_loop *loop, int cls, int opcode, int rsv, const void *data, size_t len, rt_frame *out);
/* One message for many receivers (broadcast, publish): checked and framed
 * once by _begin, queued per receiver by _to, released by _end. The one
 * place that queues shared frames. Calls no user code. */
typedef struct rt_fanout {
    cws_server *srv;
    int opcode, compress;
    const void *data;
    size_t len;
    rt_frame plain;           /* the frame */
    rt_frame z[8];            /* compressed once, per window size */
} rt_fanout;
/* The checks alone: CWS_OK, or why the message cannot go. */
int cws__fanout_check(cws_server *srv, int opcode, const void *data, size_t len);
/* After the check passed: CWS_OK, or CWS_ERR_NOMEM. */
int cws__fanout_begin(rt_fanout *f, cws_server *srv, int opcode, const void *data, size_t len);
/* 1 if the message was queued for s, 0 if s cannot take it (not open,
 * closing, over its high-water mark, or no memory for it). */
int cws__fanout_to(rt_fanout *f, cws_socket *s);
void cws__fanout_end(rt_fanout *f);
/* ---------------------------------------------------------------- broadcast_deflate.c */
/* The broadcast's compressed frame for receivers without server context
 * takeover and with window bits; NULL if out of memory. */
int cws__server_bcast_deflate(cws_server *srv, int opcode, const void *data, size_t len, int bits, rt_frame *out);
void cws__server_bcast_free(cws_server *srv);
void cws__server_socket_gone(cws_socket *s);
/* After a complete HTTP answer was queued: flush it, half-close, drain
 * what the peer still sends (so its read sees our answer, not a reset),
 * then close. */
void cws__server_linger(cws_socket *s);
/* Queues a complete error answer (cws_hs_reject) and lingers. */
void cws__server_reject(cws_socket *s, int status);

/* ---------------------------------------------------------------- topics.c */
/* The table alone: no I/O, no callbacks (tests/fuzz/fuzz_topics.c drives
 * it with fake sockets). s must be a server socket past on_upgrade. */
/* CWS_OK (also if already), CWS_ERR_TOO_BIG (s is in max topics),
 * CWS_ERR_NOMEM, CWS_ERR_RANDOM (no key for the hash). */
int cws__topics_sub(rt_topics *tt, cws_socket *s, const void *name, size_t len, size_t max);
/* CWS_OK, or CWS_ERR_STATE if s was not subscribed. */
int cws__topics_unsub(rt_topics *tt, cws_socket *s, const void *name, size_t len);
int cws__topics_has(const rt_topics *tt, const cws_socket *s, const void *name, size_t len);
rt_topic *cws__topics_find(const rt_topics *tt, const void *name, size_t len);
/* Leaves every topic and frees s->own.srv (its subprotocol too). */
void cws__topics_socket_gone(rt_topics *tt, cws_socket *s);
/* s->own.srv, made if need be; NULL if out of memory. */
rt_srvsock *cws__srvsock_get(cws_socket *s);
/* The table's memory (every socket must have left). */
void cws__topics_free(rt_topics *tt);

/* ---------------------------------------------------------------- tls_*.c */
/* The backend built in (tls_openssl.c with CWS_TLS_OPENSSL; tls_none.c
 * otherwise, where each call fails with CWS_ERR_INVALID). */
/* A server's context from its certificate: CWS_OK, CWS_ERR_TLS, _NOMEM. */
int cws__tls_server_ctx(const cws_tls_server_config *cfg, void **ctx);
/* A client's context: trust store, verification. */
int cws__tls_client_ctx(const cws_tls_client_config *cfg, void **ctx);
void cws__tls_ctx_free(void *ctx);
/* Gives s (its fd set) TLS state from ctx; a client passes the name to
 * send (SNI) and check. CWS_OK or CWS_ERR_NOMEM / CWS_ERR_TLS. */
int cws__tls_socket_init(cws_socket *s, void *ctx, const char *host);
/* Reads, for each socket of loop->tls_again, what its TLS state holds. */
void cws__tls_again_run(cws_loop *loop);
void cws__tls_loop_free(cws_loop *loop);
extern const rt_transport cws__tls_transport;

/* ---------------------------------------------------------------- client.c */
void cws__client_event(cws_socket *s, unsigned ev);
void cws__client_hs_read(cws_socket *s, uint8_t *data, size_t len);
void cws__client_deadline(cws_socket *s);
/* Reports a failure before open through on_close(1006) and the waiter. */
void cws__client_failed(cws_socket *s);
/* Teardown: wakes cws_connect_wait and frees the handshake state; the
 * client state itself goes with the socket's memory (cws__socket_free). */
void cws__client_free_state(cws_socket *s);
/* The client state itself and its TLS context (with the socket's memory). */
void cws__client_free(cws_socket *s);
const char *cws__client_fail_reason(const cws_socket *s);
void cws__client_opened(cws_socket *s);
/* The subprotocol the server chose ("" if none or not open yet). */
const char *cws__client_protocol(const cws_socket *s);

#endif
