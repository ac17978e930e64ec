/* permessage-deflate (RFC 7692) on one cws_conn: inflating received
 * messages and deflating sent ones, with the parameters the handshake
 * agreed. The connection reaches this file only through the hooks in
 * cws__pmd_ops (src/internal.h): a connection without the extension holds
 * one NULL pointer, and the single header can leave the codec out.
 *
 * Receive: a compressed message's payload is inflated chunk by chunk into
 * a bounded stack buffer and handed on as it comes (cws__conn_deliver),
 * so inflated bytes are counted, and the message fails with 1009 the
 * moment it passes max_message_size, without inflating the rest: a
 * decompression bomb costs no more than the limit.
 *
 * Send: a message is compressed through a bounded stack buffer with a
 * sync flush; the flush's empty stored block (00 00 ff ff) is removed
 * from the end of the message (§7.2.1). A message longer than the buffer
 * goes out as several frames, RSV1 on the first only (§6.1).
 *
 * Without context takeover the codec's state goes back after each message
 * (§7.1.1), so an idle connection holds none: to the runtime loop's pool
 * (reset, ready for the next message of any connection), or freed for a
 * connection that has no pool. */
#include "../internal.h"
#include "cws_deflate.h"

/* Bytes of inflated output handed on at a time. */
#define PMD_RX_CHUNK 8192
/* Bytes of compressed output per frame when a message is long. */
#define PMD_TX_CHUNK 16384
/* The empty stored block a sync flush ends with (RFC 7692 §7.2.1). */
static const uint8_t pmd_tail[4] = {0x00, 0x00, 0xff, 0xff};

typedef struct pmd_state {
    cws__pmd base;            /* first: c->ext.pmd points here */
    cws_inflater *inf;        /* NULL until needed */
    cws_deflater *def;
    uint64_t inflated;        /* bytes of the message being received */
    uint8_t rx_window;        /* the peer's window, as agreed */
    uint8_t tx_window;        /* ours */
    uint8_t rx_reset;         /* the peer starts each message afresh */
    uint8_t tx_reset;         /* we do */
    uint8_t rx_ended;         /* the message's final block is done */
    uint8_t rx_any;           /* the message has had a payload byte */
} pmd_state;

static pmd_state *pmd_of(const cws_conn *c) { return (pmd_state *)(void *)c->ext.pmd; }

/* ---------------------------------------------------------------- codecs */

enum { PMD_DEFLATER = 1, PMD_INFLATER = 2 };

/* The runtime lends codecs from its loop's pool; a plain conn has none. */
static cws__codec_pool *pmd_pool(const cws_conn *c) {
    return c->direct ? ((const cws__conn_config_direct *)(const void *)c->cfg)->pool : NULL;
}

static void *pmd_pool_take(cws__codec_pool *p, int kind, int level, int bits) {
    for (size_t i = 0; p && i < p->n; i++) {
        cws__codec_pool_entry *e = &p->e[i];
        if (e->kind != kind || e->level != level || e->bits != bits) continue;
        void *obj = e->obj;
        *e = p->e[--p->n];
        return obj;
    }
    return NULL;
}

static void pmd_free_deflater(void *obj) { cws_deflater_free(obj); }
static void pmd_free_inflater(void *obj) { cws_inflater_free(obj); }

/* Gives obj back to the pool (reset), or frees it when there is no room. */
static void pmd_pool_give(cws__codec_pool *p, int kind, int level, int bits, void *obj) {
    if (!obj) return;
    if (!p || p->n == CWS__POOL_MAX) {
        if (kind == PMD_DEFLATER) cws_deflater_free(obj);
        else cws_inflater_free(obj);
        return;
    }
    if (kind == PMD_DEFLATER) cws_deflater_reset(obj);
    else cws_inflater_reset(obj);
    cws__codec_pool_entry e = {obj, kind == PMD_DEFLATER ? pmd_free_deflater : pmd_free_inflater,
                               (uint8_t)kind, (uint8_t)level, (uint8_t)bits};
    p->e[p->n++] = e;
}

/* zlib cannot compress with a 256-byte window and uses 512 bytes when
 * asked for 8 bits: read such peers with 9. */
static int pmd_rx_bits(const pmd_state *z) { return z->rx_window < 9 ? 9 : z->rx_window; }

static cws_inflater *pmd_inflater(cws_conn *c, pmd_state *z) {
    if (!z->inf) z->inf = pmd_pool_take(pmd_pool(c), PMD_INFLATER, 0, pmd_rx_bits(z));
    if (!z->inf) z->inf = cws_inflater_new(pmd_rx_bits(z), &c->cfg->alloc, NULL);
    return z->inf;
}

static cws_deflater *pmd_deflater(cws_conn *c, pmd_state *z) {
    if (!z->def) z->def = pmd_pool_take(pmd_pool(c), PMD_DEFLATER, c->cfg->deflate.level, z->tx_window);
    if (!z->def) z->def = cws_deflater_new(c->cfg->deflate.level, z->tx_window, &c->cfg->alloc, NULL);
    return z->def;
}

/* Without context takeover a message's codec goes back after it. */
static void pmd_release_inflater(cws_conn *c, pmd_state *z) {
    pmd_pool_give(pmd_pool(c), PMD_INFLATER, 0, pmd_rx_bits(z), z->inf);
    z->inf = NULL;
}

static void pmd_release_deflater(cws_conn *c, pmd_state *z) {
    pmd_pool_give(pmd_pool(c), PMD_DEFLATER, c->cfg->deflate.level, z->tx_window, z->def);
    z->def = NULL;
}

/* ---------------------------------------------------------------- receive */

/* Inflates in[0..len) and hands the output on. *paused is set when a
 * callback asked to pause (the rest of this chunk is still delivered: its
 * compressed bytes are consumed). */
static int pmd_inflate_feed(cws_conn *c, pmd_state *z, const uint8_t *in, size_t len, int *paused) {
    uint8_t out[PMD_RX_CHUNK];
    for (;;) {
        if (z->rx_ended) return CWS__CONN_GO; /* §7.2.3.4: after BFINAL, nothing */
        size_t used = 0, made = 0;
        int rc = cws_inflate(z->inf, in, len, &used, out, sizeof out, &made);
        if (rc == CWS_ERR_DEFLATE)
            return cws__conn_fail(c, CWS_ERR_DEFLATE, CWS_CLOSE_INVALID_DATA,
                               "corrupt DEFLATE data in a compressed message (RFC 7692 §6.2)");
        in += used;
        len -= used;
        if (made) {
            if (made > cws__conn_max_message(c) - z->inflated)
                return cws__conn_fail(c, CWS_ERR_TOO_BIG, CWS_CLOSE_TOO_BIG,
                                   "message inflates past max_message_size");
            z->inflated += made;
            int r = cws__conn_deliver(c, out, made);
            if (r == CWS__CONN_FAILED) return r;
            if (r == CWS__CONN_PAUSE) *paused = 1;
        }
        if (rc == CWS_INFLATE_END) z->rx_ended = 1;
        if (rc == CWS_OK && !used && !made) return CWS__CONN_GO; /* wants more input */
        /* Done when the input is used up and the output had room to spare. */
        if (rc == CWS_OK && len == 0 && made < sizeof out) return CWS__CONN_GO;
    }
}

static int pmd_rx(cws_conn *c, const uint8_t *data, size_t len, int last) {
    pmd_state *z = pmd_of(c);
    if (!pmd_inflater(c, z))
        return cws__conn_fail(c, CWS_ERR_NOMEM, CWS_CLOSE_INTERNAL, "out of memory for the inflater");
    int paused = 0;
    int r = CWS__CONN_GO;
    if (len) {
        z->rx_any = 1;
        r = pmd_inflate_feed(c, z, data, len, &paused);
    }
    /* §7.2.2: the sender removed the flush's tail; put it back. A message
     * with no payload at all (a sender should write 0x00, §7.2.3.6) is
     * taken as empty, leaving the stream where it was. */
    if (r != CWS__CONN_FAILED && last && z->rx_any) r = pmd_inflate_feed(c, z, pmd_tail, sizeof pmd_tail, &paused);
    if (r == CWS__CONN_FAILED) return r;
    if (last) {
        z->inflated = 0;
        z->rx_ended = 0;
        z->rx_any = 0;
        if (z->rx_reset) pmd_release_inflater(c, z); /* no context takeover: nothing to keep */
    }
    return paused ? CWS__CONN_PAUSE : CWS__CONN_GO;
}

/* ---------------------------------------------------------------- send */

/* Sends buf as the next frame of the message: the first carries the
 * opcode and RSV1, the rest are continuations. */
static int pmd_emit(cws_conn *c, int *opcode, int fin, const uint8_t *buf, size_t n) {
    int op = *opcode;
    *opcode = CWS_OP_CONT;
    return cws__conn_emit(c, op == CWS_OP_CONT ? op : op | CWS__EMIT_RSV1, fin, buf, n);
}

static int pmd_tx(cws_conn *c, int opcode, int fin, const uint8_t *data, size_t len) {
    pmd_state *z = pmd_of(c);
    if (!pmd_deflater(c, z)) return CWS_ERR_NOMEM;
    /* Four spare bytes: the last four of a full buffer are held back in
     * case they are the tail to remove. */
    uint8_t buf[PMD_TX_CHUNK + 4];
    size_t have = 0;
    int rc;
    for (;;) {
        size_t used = 0, made = 0;
        rc = cws_deflate(z->def, data, len, &used, buf + have, sizeof buf - have, &made, CWS_DEFLATE_SYNC);
        if (used) data += used; /* data may be NULL when len is 0 */
        len -= used;
        have += made;
        if (rc != CWS_ERR_AGAIN) break;
        int r = pmd_emit(c, &opcode, 0, buf, have - 4);
        if (r) return r;
        memmove(buf, buf + have - 4, 4);
        have = 4;
    }
    if (rc != CWS_OK) return rc;
    /* A message's last flush loses its tail (§7.2.1); a fragment that is
     * not the last keeps it, so the stream stays whole for the receiver. */
    size_t n = fin && have >= 4 && !memcmp(buf + have - 4, pmd_tail, 4) ? have - 4 : have;
    int r = pmd_emit(c, &opcode, fin, buf, n);
    if (fin && z->tx_reset) pmd_release_deflater(c, z); /* no context takeover: nothing to keep */
    return r;
}

/* ---------------------------------------------------------------- life */

static void pmd_free(cws_conn *c) {
    pmd_state *z = pmd_of(c);
    /* Mid-message state is of no use to anyone: free, do not pool. */
    cws_inflater_free(z->inf);
    cws_deflater_free(z->def);
    cws__realloc(&c->cfg->alloc, z, 0);
}

static const cws__pmd_ops pmd_ops = {pmd_rx, pmd_tx, pmd_free};

static int pmd_bits_ok(int b) { return b >= CWS_DEFLATE_WINDOW_MIN && b <= CWS_DEFLATE_WINDOW_MAX; }

int cws__pmd_attach(cws_conn *c, const cws_deflate_params *p) {
    if (!pmd_bits_ok(p->server_max_window_bits) || !pmd_bits_ok(p->client_max_window_bits))
        return CWS_ERR_INVALID;
    int level = c->cfg->deflate.level;
    if (level < 0 || level > CWS_DEFLATE_LEVEL_BEST) return CWS_ERR_INVALID;
    pmd_state *z = cws__realloc(&c->cfg->alloc, NULL, sizeof *z);
    if (!z) return CWS_ERR_NOMEM;
    memset(z, 0, sizeof *z);
    z->base.ops = &pmd_ops;
    z->base.params = *p;
    /* The agreement is written from the server's side; turn it to ours. */
    int server = c->parser.role == CWS_SERVER;
    z->tx_window = server ? p->server_max_window_bits : p->client_max_window_bits;
    z->rx_window = server ? p->client_max_window_bits : p->server_max_window_bits;
    z->tx_reset = server ? p->server_no_context_takeover : p->client_no_context_takeover;
    z->rx_reset = server ? p->client_no_context_takeover : p->server_no_context_takeover;
    z->base.keys = c->ext.keys; /* the masking-key pool, if any, moves in */
    c->ext.pmd = &z->base;
    c->has_pmd = 1;
    c->parser.allowed_rsv |= 4; /* RSV1 now means "compressed" */
    return CWS_OK;
}
