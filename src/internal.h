/* Private helpers shared by the library's own files; not installed.
 * Everything here is static inline or carries the cws__ prefix, so the
 * single-file header can paste all sources into one translation unit. */
#ifndef CWS_INTERNAL_H
#define CWS_INTERNAL_H

#include "cws.h"
#include "cws_util.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CWS__MIN(a, b) ((a) < (b) ? (a) : (b))
#define CWS__MAX(a, b) ((a) > (b) ? (a) : (b))

/* The strictest fundamental alignment (C11's _Alignof(max_align_t)),
 * spelled so that the single header also builds as C99. */
typedef union cws__max_align {
    long double ld;
    long long ll;
    double d;
    void *p;
    void (*fp)(void);
} cws__max_align;
typedef struct cws__max_align_probe {
    char c;
    cws__max_align a;
} cws__max_align_probe;
#define CWS__MAX_ALIGN offsetof(cws__max_align_probe, a)
/* n rounded up to a multiple of CWS__MAX_ALIGN. */
#define CWS__ALIGN_UP(n) (((n) + CWS__MAX_ALIGN - 1) / CWS__MAX_ALIGN * CWS__MAX_ALIGN)

/* The config rule (cws.h): 0 means the default, CWS_DISABLED means off.
 * A size limit that is off is SIZE_MAX; a timeout that is off is 0 (no
 * timer). */
static inline size_t cws__limit(size_t v, size_t dflt) {
    return v == 0 ? dflt : v == CWS_DISABLED ? SIZE_MAX : v;
}
static inline uint32_t cws__timeout(uint32_t v, uint32_t dflt) {
    return v == 0 ? dflt : v == CWS_DISABLED ? 0 : v;
}

/* Whether a message of len bytes is worth compressing under cfg: the
 * sender did not pass CWS_SEND_UNCOMPRESSED and it reaches the threshold.
 * The one rule for cws_conn_send and cws_server_broadcast. */
static inline int cws__deflate_wanted(const cws_deflate_config *cfg, int flags, size_t len) {
    if (flags & CWS_SEND_UNCOMPRESSED) return 0;
    size_t t = cfg->threshold;
    return t == CWS_DISABLED || len >= (t ? t : CWS_DEFLATE_THRESHOLD_DEFAULT);
}

/* realloc through the user's hook, or libc when none is set. */
void *cws__realloc(const cws_allocator *a, void *ptr, size_t size);

static inline uint16_t cws__load_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint64_t cws__load_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

static inline void cws__store_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void cws__store_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; }
}

/* ASCII case-insensitive equality of n bytes. */
static inline int cws__ieq_n(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return 0;
    }
    return 1;
}

/* ---- layer 1 primitives: portable references for the fast paths ---- */

/* Byte-at-a-time masking (RFC 6455 §5.3); cws_mask_copy must match it. */
void cws__mask_scalar(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                      uint64_t offset);
/* Byte-at-a-time UTF-8 validation with cws_utf8_feed's contract; the fast
 * path must match it (same result, same *bad, same final state). */
int cws__utf8_feed_scalar(cws_utf8 *v, const void *data, size_t len, size_t *bad);
/* cws_random's fallback: len bytes from /dev/urandom (CWS_OK or
 * CWS_ERR_RANDOM). */
int cws__random_urandom(void *buf, size_t len);

/* ---- layer 2: HTTP head helpers (src/http.c) ---- */

/* Output text that writes what fits into buf[cap] and remembers overflow. */
typedef struct cws__text {
    char *buf;
    size_t cap;
    size_t len;
    int full; /* 1 once something did not fit */
} cws__text;

void cws__text_put(cws__text *t, const void *s, size_t n);
void cws__text_puts(cws__text *t, const char *z);
void cws__text_putu(cws__text *t, uint64_t v);
/* The length written, or CWS_ERR_NOSPACE if anything did not fit. */
ptrdiff_t cws__text_end(const cws__text *t);
/* Appends "HTTP/1.1 <status> <text>\r\n". */
void cws__http_status_line(cws__text *t, int status);
/* RFC 7230 §3.2.6 tchar / token. */
int cws__http_is_tchar(unsigned char c);
int cws__http_is_token(cws_str s);
/* 1 if z holds no control character but HTAB (a safe header value). */
int cws__http_value_ok(const char *z);
/* 1 if z is NULL or a run of well-formed "Name: value\r\n" lines. */
int cws__http_fields_ok(const char *z);

/* ---- layers 3-4: frame codec and connection (src/frame.c, src/conn*.c) ---- */

/* Undoes the START chunk just parsed (n bytes at data, masked again), so
 * the next cws_frame_parse() gives the same event once more. */
void cws__frame_parser_rewind(cws_frame_parser *p, uint8_t *data, size_t n);

/* A growable byte buffer in one allocation; the bytes are data[head..head+len). */
typedef struct cws__buf {
    size_t cap, head, len;
    uint8_t data[];
} cws__buf;

/* Makes room for n more bytes after the used ones (compacting, then growing
 * geometrically, never beyond limit bytes in all). Returns where they go,
 * or NULL if the limit or the allocator says no. */
uint8_t *cws__buf_reserve(const cws_allocator *a, cws__buf **b, size_t n, size_t limit);
void cws__buf_free(const cws_allocator *a, cws__buf **b);

/* permessage-deflate's state on one connection (src/deflate/pmd_conn.c),
 * reached only through its hooks, so that the core never names the codec
 * and a connection without the extension carries one NULL pointer. */
typedef struct cws__pmd cws__pmd;
typedef struct cws__pmd_ops {
    /* A chunk of a compressed message's payload; last: the message ends
     * with it. Inflates and hands the bytes to cws__conn_deliver.
     * Returns CWS__CONN_GO, _PAUSE or _FAILED. */
    int (*rx)(cws_conn *c, const uint8_t *data, size_t len, int last);
    /* Sends data compressed, as frames of one message (opcode on the
     * first, CONT after; fin on the last). Returns a cws_err. */
    int (*tx)(cws_conn *c, int opcode, int fin, const uint8_t *data, size_t len);
    void (*free)(cws_conn *c);
} cws__pmd_ops;
/* The first member of every cws__pmd. */
struct cws__pmd {
    const cws__pmd_ops *ops;
    uint8_t *keys;             /* the conn's masking-key pool moves here */
    cws_deflate_params params; /* as the handshake agreed */
};

/* Outcome of handling one parser event (src/conn.c). */
enum { CWS__CONN_GO = 0, CWS__CONN_PAUSE = 1, CWS__CONN_FAILED = -1 };

/* Kept small (104 bytes on LP64): a server holds one per idle client.
 * Settings are read through cfg, shared by every connection made from it
 * (cws_conn_init_shared) or the conn's own copy (cws_conn_new). */
struct cws_conn {
    cws_frame_parser parser; /* its error field also holds why we failed */
    const cws_conn_config *cfg;
    void *user;
    uint64_t msg_len;   /* announced bytes of the message being received */
    cws__buf *rx;       /* reassembly buffer (on_message mode), lazily made;
                           also holds a control frame cut across recv calls,
                           past its used bytes */
    cws__buf *out;      /* outbound bytes when cb.write is NULL */
    /* One pointer for what only some connections have: the client's pool
     * of random masking keys (then the index of its next unused byte),
     * or, once has_pmd is set, permessage-deflate's state, which then
     * holds the pool. Use cws__conn_pmd() and the pool through it. */
    union {
        uint8_t *keys;
        cws__pmd *pmd;
    } ext;
    /* Two 8-byte words of state. The first is written per frame by the
     * receive path (and close_code, once); the second is read by every
     * send and rarely written. Apart, a send right after a receive (an
     * echo) never loads a word that a narrow store is still writing (a
     * store-forwarding stall: the compiler tests these bits with one wide
     * load). */
    cws_utf8 utf8;      /* validator of the text message being received */
    uint8_t rx_op;      /* opcode of the message being received; 0 if none */
    unsigned in_recv : 1;     /* inside cws_conn_recv() */
    unsigned rx_started : 1;  /* the current frame's header was handled */
    unsigned pend_end : 1;    /* on_message_end is due (recv was paused) */
    unsigned pause : 1;       /* cws_conn_pause() was called in a callback */
    unsigned rx_z : 1;        /* the message being received is compressed */
    unsigned tx_z : 1;        /* the fragmented message being sent is */
    unsigned has_pmd : 1;     /* ext holds permessage-deflate */
    uint16_t close_code;      /* the code reported through on_close */
    uint8_t fail_err;         /* -(cws_err) recv returns once failed; 0: not */
    unsigned sent_close : 1;  /* our close frame is out */
    unsigned got_close : 1;   /* the peer's close frame arrived */
    unsigned aborted : 1;     /* cws_conn_abort() was called */
    unsigned write_failed : 1;/* the write callback refused bytes */
    unsigned reported : 1;    /* on_close was called */
    unsigned tx_frag : 1;     /* a fragmented send is open */
    unsigned direct : 1;      /* cfg is a cws__conn_config_direct */
    uint8_t tx_utf8;          /* cws_utf8 state of the text being sent
                                 in fragments (its states fit a byte) */
    /* Continuation frames of the message being received (max_fragments),
     * saturating. In the second word's padding, and stored only for
     * fragmented messages: an echo of a one-frame message never waits
     * on it. */
    uint32_t rx_frags;
};

/* permessage-deflate's state, or NULL when the extension is off. */
static inline cws__pmd *cws__conn_pmd(const cws_conn *c) { return c->has_pmd ? c->ext.pmd : NULL; }
/* Where the masking-key pool pointer lives. */
static inline uint8_t **cws__conn_keys(cws_conn *c) { return c->has_pmd ? &c->ext.pmd->keys : &c->ext.keys; }

/* Sends one frame (masked in the client role); opcode may carry
 * CWS__EMIT_RSV1. Returns CWS_OK or an error. */
#define CWS__EMIT_RSV1 0x40
int cws__conn_emit(cws_conn *c, int opcode, int fin, const uint8_t *data, size_t len);
/* "Fail the WebSocket connection" (RFC 6455 §7.1.7) with code; returns
 * CWS__CONN_FAILED. */
int cws__conn_fail(cws_conn *c, int err, int code, const char *why);
/* Data of the message being received, for the application: UTF-8 check
 * of text, then on_message_data or the reassembly buffer. Returns
 * CWS__CONN_GO, _PAUSE or _FAILED. */
int cws__conn_deliver(cws_conn *c, const uint8_t *data, size_t len);
/* max_message_size as the config rule resolves it. */
static inline size_t cws__conn_max_message(const cws_conn *c) {
    return cws__limit(c->cfg->max_message_size, CWS_MAX_MESSAGE_DEFAULT);
}
#ifndef CWS_NO_DEFLATE
/* Attaches permessage-deflate (src/deflate/pmd_conn.c, left out of the
 * single header with CWS_NO_DEFLATE). */
int cws__pmd_attach(cws_conn *c, const cws_deflate_params *p);
#endif
/* A copy-free way out for an embedder that queues bytes itself (the
 * runtime): a connection marked with cws__conn_set_direct() has a cfg that
 * is the first member of this struct, and encodes each frame straight into
 * the n bytes reserve() returns. Those bytes count as written on return
 * and are filled before the send returns (nothing can read them before).
 * reserve() may return NULL (say, the frame is large): the frame then goes
 * through cb.write as usual, which must be set. */
/* Idle DEFLATE codec objects lent to connections one message at a time
 * (permessage-deflate without context takeover), so that a message costs
 * a reset instead of an allocation and ~190 KiB of zeroing. One per
 * runtime loop: one thread. Entries keep their own free function, so the
 * owner can empty the pool without naming the codec. */
#define CWS__POOL_MAX 8
typedef struct cws__codec_pool_entry {
    void *obj;
    void (*free)(void *obj);
    uint8_t kind;  /* 1: deflater, 2: inflater */
    uint8_t level; /* deflater level as made */
    uint8_t bits;  /* window bits as made */
} cws__codec_pool_entry;
typedef struct cws__codec_pool {
    cws__codec_pool_entry e[CWS__POOL_MAX];
    size_t n;
} cws__codec_pool;
/* Frees every pooled object. */
static inline void cws__codec_pool_clear(cws__codec_pool *p) {
    for (size_t i = 0; i < p->n; i++) p->e[i].free(p->e[i].obj);
    p->n = 0;
}

typedef struct cws__conn_config_direct {
    cws_conn_config base; /* first: c->cfg points here */
    uint8_t *(*reserve)(cws_conn *c, size_t n);
    cws__codec_pool *pool; /* permessage-deflate's codecs, or NULL */
} cws__conn_config_direct;
/* Marks c (initialised from a cws__conn_config_direct's base). */
void cws__conn_set_direct(cws_conn *c);
/* Sends a close frame (code 0: none) and marks the close as sent. */
int cws__conn_emit_close(cws_conn *c, int code, const char *reason, size_t reason_len);

#endif
