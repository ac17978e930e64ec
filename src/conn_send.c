/* cws_conn, the sending half: frames out to the write callback or to the
 * internal output buffer, masking keys for the client role (RFC 6455
 * §5.3), and the send API with its misuse checks. */
#include "internal.h"

/* Bytes of the stack chunk a masked frame goes through on its way to the
 * write callback: bounded, so a large message needs no heap copy. */
#define CONN_SEND_CHUNK 2048
/* Masking keys are drawn from a pool of this many random bytes, so a
 * client makes one random call per 32 frames, not one per frame. */
#define CONN_KEY_POOL 128

/* The next fresh masking key (client role). The pool's last byte is the
 * index of its next unused key byte. */
static int conn_next_key(cws_conn *c, uint8_t key[4]) {
    uint8_t **pool = cws__conn_keys(c);
    if (!*pool) {
        *pool = cws__realloc(&c->cfg->alloc, NULL, CONN_KEY_POOL + 1);
        if (!*pool) return CWS_ERR_NOMEM;
        (*pool)[CONN_KEY_POOL] = CONN_KEY_POOL;
    }
    uint8_t *keys = *pool;
    uint8_t pos = keys[CONN_KEY_POOL];
    if (pos > CONN_KEY_POOL - 4) {
        const cws_conn_config *cfg = c->cfg;
        int r = cfg->rng ? cfg->rng(cfg->rng_user, keys, CONN_KEY_POOL) : cws_random(keys, CONN_KEY_POOL);
        if (r != 0) return CWS_ERR_RANDOM;
        pos = 0;
    }
    memcpy(key, keys + pos, 4);
    keys[CONN_KEY_POOL] = (uint8_t)(pos + 4);
    return CWS_OK;
}

static int conn_write(cws_conn *c, const uint8_t *data, size_t len) {
    if (c->cfg->cb.write(c, c->user, data, len) == 0) return CWS_OK;
    c->write_failed = 1;
    return CWS_ERR_IO;
}

/* Through the write callback: the header and a small payload in one call;
 * a masked payload through the bounded stack chunk. */
static int conn_emit_write(cws_conn *c, const uint8_t *hdr, size_t hlen, const cws_frame_header *h,
                           const uint8_t *data, size_t len) {
    uint8_t chunk[CONN_SEND_CHUNK];
    memcpy(chunk, hdr, hlen);
    if (!h->masked) {
        if (len <= sizeof chunk - hlen) {
            if (len) memcpy(chunk + hlen, data, len);
            return conn_write(c, chunk, hlen + len);
        }
        int r = conn_write(c, chunk, hlen);
        return r ? r : conn_write(c, data, len);
    }
    size_t fill = hlen, off = 0;
    do {
        size_t n = CWS__MIN(len - off, sizeof chunk - fill);
        if (n) cws_mask_copy(chunk + fill, data + off, n, h->mask, off);
        int r = conn_write(c, chunk, fill + n);
        if (r) return r;
        off += n;
        fill = 0;
    } while (off < len);
    return CWS_OK;
}

void cws__conn_set_direct(cws_conn *c) { c->direct = 1; }

int cws__conn_emit(cws_conn *c, int opcode, int fin, const uint8_t *data, size_t len) {
    if (c->write_failed) return CWS_ERR_IO;
    cws_frame_header h;
    memset(&h, 0, sizeof h);
    h.fin = (uint8_t)(fin ? 1 : 0);
    h.opcode = (uint8_t)(opcode & 0x0F);
    h.rsv = (opcode & CWS__EMIT_RSV1) ? 4 : 0; /* RFC 7692 §6: a compressed message */
    h.len = len;
    /* §5.1: a client masks every frame, a server none. */
    if (c->parser.role == CWS_CLIENT) {
        int r = conn_next_key(c, h.mask);
        if (r) return r;
        h.masked = 1;
    }
    uint8_t hdr[CWS_FRAME_HEADER_MAX];
    size_t hlen = cws_frame_header_encode(hdr, &h);
    uint8_t *dst = NULL;
    if (c->direct && len <= SIZE_MAX - hlen) {
        /* Header and payload go straight into the embedder's queue: the
         * payload is copied (or masked) exactly once. */
        const cws__conn_config_direct *d = (const cws__conn_config_direct *)(const void *)c->cfg;
        dst = d->reserve(c, hlen + len);
    }
    if (!dst) {
        if (c->cfg->cb.write) return conn_emit_write(c, hdr, hlen, &h, data, len);
        if (len > SIZE_MAX - hlen) return CWS_ERR_NOMEM;
        dst = cws__buf_reserve(&c->cfg->alloc, &c->out, hlen + len, SIZE_MAX);
        if (!dst) return CWS_ERR_NOMEM;
        c->out->len += hlen + len;
    }
    memcpy(dst, hdr, hlen);
    if (len && h.masked) cws_mask_copy(dst + hlen, data, len, h.mask, 0);
    else if (len) memcpy(dst + hlen, data, len);
    return CWS_OK;
}

int cws__conn_emit_close(cws_conn *c, int code, const char *reason, size_t reason_len) {
    uint8_t payload[CWS_CONTROL_MAX];
    size_t n = 0;
    if (code) {
        reason_len = CWS__MIN(reason_len, (size_t)CWS_CONTROL_MAX - 2);
        cws__store_be16(payload, (uint16_t)code);
        if (reason_len) memcpy(payload + 2, reason, reason_len);
        n = 2 + reason_len;
    }
    int r = cws__conn_emit(c, CWS_OP_CLOSE, 1, payload, n);
    /* §5.5.1: after our close frame we send nothing more. */
    if (r == CWS_OK) c->sent_close = 1;
    return r;
}

/* CWS_OK if anything may still be sent. */
static int conn_can_send(const cws_conn *c) {
    if (c->write_failed) return CWS_ERR_IO;
    if (c->sent_close || c->aborted || c->fail_err) return CWS_ERR_CLOSED;
    return CWS_OK;
}

/* Whether a message of len bytes goes out compressed. */
static int conn_compresses(const cws_conn *c, int flags, size_t len) {
    return c->has_pmd && cws__deflate_wanted(&c->cfg->deflate, flags, len);
}

int cws_conn_send(cws_conn *c, int opcode, const void *data, size_t len) {
    int flags = opcode & ~0xFF;
    opcode &= 0xFF;
    if (!c || (opcode != CWS_OP_TEXT && opcode != CWS_OP_BINARY) || (flags & ~CWS_SEND_UNCOMPRESSED) ||
        (!data && len))
        return CWS_ERR_INVALID;
    int r = conn_can_send(c);
    if (r) return r;
    if (c->tx_frag) return CWS_ERR_STATE; /* §5.4: fragments may not interleave */
    /* §5.6: text is UTF-8; the peer would fail the connection with 1007. */
    if (opcode == CWS_OP_TEXT && cws_utf8_validate(data, len) != CWS_OK) return CWS_ERR_UTF8;
    if (conn_compresses(c, flags, len)) return c->ext.pmd->ops->tx(c, opcode, 1, data, len);
    return cws__conn_emit(c, opcode, 1, data, len);
}

/* While a binary message is being sent in fragments, c->tx_utf8 says so;
 * otherwise it holds the validator's state (a byte suffices). */
#define CONN_TX_BINARY 0xFF

/* The fragments of a text message are checked as one stream: a character
 * may be cut between two fragments, not left unfinished by the last.
 * *state gets what c->tx_utf8 becomes once this fragment is sent. */
static int conn_fragment_ok(const cws_conn *c, int opcode, const void *data, size_t len, int fin,
                            uint8_t *state) {
    if (opcode == CWS_OP_BINARY || (opcode == CWS_OP_CONT && c->tx_utf8 == CONN_TX_BINARY)) {
        *state = CONN_TX_BINARY;
        return 1;
    }
    cws_utf8 v = {opcode == CWS_OP_TEXT ? 0u : c->tx_utf8};
    if (cws_utf8_feed(&v, data, len, NULL) != CWS_OK) return 0;
    if (fin && cws_utf8_finish(&v) != CWS_OK) return 0;
    *state = (uint8_t)v.state;
    return 1;
}

int cws_conn_send_fragment(cws_conn *c, int opcode, const void *data, size_t len, int fin) {
    int flags = opcode & ~0xFF;
    opcode &= 0xFF;
    if (!c || (opcode != CWS_OP_CONT && opcode != CWS_OP_TEXT && opcode != CWS_OP_BINARY) ||
        (flags & ~CWS_SEND_UNCOMPRESSED) || (!data && len))
        return CWS_ERR_INVALID;
    int r = conn_can_send(c);
    if (r) return r;
    /* §5.4: CONT only inside a message, TEXT/BINARY only outside one. */
    if ((opcode == CWS_OP_CONT) != (c->tx_frag != 0)) return CWS_ERR_STATE;
    uint8_t state;
    if (!conn_fragment_ok(c, opcode, data, len, fin, &state)) return CWS_ERR_UTF8;
    /* A message of unknown length: compressed whole or not at all, as its
     * first fragment decides (no threshold applies). */
    if (opcode != CWS_OP_CONT) c->tx_z = c->has_pmd && !(flags & CWS_SEND_UNCOMPRESSED);
    r = c->tx_z ? c->ext.pmd->ops->tx(c, opcode, fin, data, len) : cws__conn_emit(c, opcode, fin, data, len);
    if (r == CWS_OK) {
        c->tx_frag = !fin;
        c->tx_utf8 = state;
    }
    return r;
}

static int conn_send_control(cws_conn *c, int opcode, const void *data, size_t len) {
    if (!c || len > CWS_CONTROL_MAX || (!data && len)) return CWS_ERR_INVALID;
    int r = conn_can_send(c);
    return r ? r : cws__conn_emit(c, opcode, 1, data, len);
}

int cws_conn_ping(cws_conn *c, const void *data, size_t len) {
    return conn_send_control(c, CWS_OP_PING, data, len);
}

int cws_conn_pong(cws_conn *c, const void *data, size_t len) {
    return conn_send_control(c, CWS_OP_PONG, data, len);
}

int cws_conn_close(cws_conn *c, int code, const char *reason, size_t reason_len) {
    if (!c || (!reason && reason_len)) return CWS_ERR_INVALID;
    /* §5.5.1: a reason needs a code, and both fit in 125 bytes; §7.4. */
    if (code == 0 ? reason_len != 0 : !cws_close_code_valid(code)) return CWS_ERR_INVALID;
    if (reason_len > CWS_CONTROL_MAX - 2 || (reason_len && cws_utf8_validate(reason, reason_len) != CWS_OK))
        return CWS_ERR_INVALID;
    int r = conn_can_send(c);
    return r ? r : cws__conn_emit_close(c, code, reason, reason_len);
}

size_t cws_conn_output(cws_conn *c, const uint8_t **data) {
    if (!c || !c->out || !c->out->len) {
        if (data) *data = NULL;
        return 0;
    }
    if (data) *data = c->out->data + c->out->head;
    return c->out->len;
}

void cws_conn_consume(cws_conn *c, size_t n) {
    if (!c || !c->out) return;
    n = CWS__MIN(n, c->out->len);
    c->out->head += n;
    c->out->len -= n;
    /* Drained: give the memory back, so an idle connection holds none. */
    if (!c->out->len) cws__buf_free(&c->cfg->alloc, &c->out);
}

size_t cws_conn_buffered_amount(const cws_conn *c) {
    return c && c->out ? c->out->len : 0;
}
