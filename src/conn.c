/* cws_conn, the receiving half: bytes in, events out. On top of the frame
 * parser it enforces fragmentation order (RFC 6455 §5.4), UTF-8 of text
 * (§8.1), size limits, control frames (§5.5) and the close handshake (§7),
 * and fails the connection (§7.1.7) with the right code when the peer
 * breaks a rule.
 *
 * Receive modes. CWS_RECEIVE_STREAM: begin / data / end callbacks,
 * payload straight from the caller's buffer, no allocation. Whole: one
 * on_message per message; a single-frame message entirely inside one recv
 * buffer is handed out in place, anything else is reassembled in a buffer
 * that grows as bytes arrive (never past max_message_size) and is freed
 * after the call.
 *
 * Invalid UTF-8 in a text message fails the connection at the chunk that
 * holds the first bad byte: in streamed mode that chunk is not delivered
 * (the chunks before it were). */
#include "internal.h"

#define CONN_GO CWS__CONN_GO
#define CONN_PAUSE CWS__CONN_PAUSE
#define CONN_FAILED CWS__CONN_FAILED
#define conn_fail cws__conn_fail

static size_t conn_max_frame(const cws_conn *c) {
    return cws__limit(c->cfg->max_frame_size, CWS_MAX_MESSAGE_DEFAULT);
}

#define conn_max_message cws__conn_max_message

static size_t conn_max_fragments(const cws_conn *c) {
    return cws__limit(c->cfg->max_fragments, CWS_MAX_FRAGMENTS_DEFAULT);
}

/* A limit n on inflated bytes, as wire bytes: stored blocks and codes
 * that do not pay add at most a few bytes per 16 KiB (n/64 + 64 is
 * generous), and no more. */
static size_t conn_deflate_room(size_t n) {
    size_t extra = n / 64 + 64;
    return n > SIZE_MAX - extra ? SIZE_MAX : n + extra;
}

static int conn_streamed(const cws_conn *c) { return c->cfg->receive == CWS_RECEIVE_STREAM; }

size_t cws_conn_sizeof(void) { return sizeof(struct cws_conn); }

static int conn_config_ok(const cws_conn_config *cfg) {
    return cfg && (cfg->role == CWS_SERVER || cfg->role == CWS_CLIENT) &&
           (cfg->receive == CWS_RECEIVE_MESSAGES || cfg->receive == CWS_RECEIVE_STREAM);
}

cws_conn *cws_conn_init_shared(void *mem, const cws_conn_config *cfg, int *err) {
    if (!mem || !conn_config_ok(cfg)) {
        if (err) *err = CWS_ERR_INVALID;
        return NULL;
    }
    cws_conn *c = mem;
    memset(c, 0, sizeof *c);
    cws_frame_parser_init(&c->parser, cfg->role);
    c->cfg = cfg;
    c->user = cfg->user;
    return c;
}

/* cws_conn_new's block: the conn, then its private copy of the settings. */
#define CONN_NEW_CFG_OFF CWS__ALIGN_UP(sizeof(struct cws_conn))

cws_conn *cws_conn_new(const cws_conn_config *cfg, int *err) {
    if (!conn_config_ok(cfg)) {
        if (err) *err = CWS_ERR_INVALID;
        return NULL;
    }
    uint8_t *block = cws__realloc(&cfg->alloc, NULL, CONN_NEW_CFG_OFF + sizeof *cfg);
    if (!block) {
        if (err) *err = CWS_ERR_NOMEM;
        return NULL;
    }
    cws_conn_config *copy = (cws_conn_config *)(void *)(block + CONN_NEW_CFG_OFF);
    *copy = *cfg;
    return cws_conn_init_shared(block, copy, err);
}

/* CONN_PAUSE once, if a callback just called cws_conn_pause(). */
static int conn_take_pause(cws_conn *c) {
    if (!c->pause) return CONN_GO;
    c->pause = 0;
    return CONN_PAUSE;
}

int cws_conn_pause(cws_conn *c) {
    if (!c || !c->in_recv) return CWS_ERR_STATE;
    c->pause = 1;
    return CWS_OK;
}

static void conn_release_rx(cws_conn *c) {
    cws__buf_free(&c->cfg->alloc, &c->rx);
}

void cws_conn_deinit(cws_conn *c) {
    if (!c) return;
    uint8_t **keys = cws__conn_keys(c);
    if (*keys) cws__realloc(&c->cfg->alloc, *keys, 0);
    *keys = NULL;
    if (c->has_pmd) c->ext.pmd->ops->free(c);
    c->has_pmd = 0;
    c->ext.keys = NULL;
    conn_release_rx(c);
    cws__buf_free(&c->cfg->alloc, &c->out);
}

void cws_conn_free(cws_conn *c) {
    if (!c) return;
    cws_conn_deinit(c);
    cws_allocator a = c->cfg->alloc; /* the copy goes with the block */
    cws__realloc(&a, c, 0);
}

/* on_close, exactly once. */
static void conn_report(cws_conn *c, int code, const char *reason, size_t len) {
    if (c->reported) return;
    c->reported = 1;
    c->close_code = (uint16_t)code;
    if (c->cfg->cb.on_close) c->cfg->cb.on_close(c, c->user, code, reason, len);
}

/* "Fail the WebSocket connection" (§7.1.7): one close frame with code
 * (unless ours is already out), then nothing more in either direction. */
int cws__conn_fail(cws_conn *c, int err, int code, const char *why) {
    c->fail_err = (uint8_t)-err;
    c->parser.error = why; /* the parser is done with too: nothing more is parsed */
    size_t n = strlen(why);
    if (!c->sent_close) (void)cws__conn_emit_close(c, code, why, n);
    conn_report(c, code, why, n);
    return CONN_FAILED;
}

/* The first event of a data frame: order and size rules, from the header
 * alone, before any payload is buffered or delivered. */
static int conn_frame_start(cws_conn *c, const cws_frame_header *h) {
    if (h->opcode == CWS_OP_CONT) {
        if (!c->rx_op)
            return conn_fail(c, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR,
                             "continuation frame outside a message (RFC 6455 §5.4)");
    } else if (c->rx_op) {
        return conn_fail(c, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR,
                         "new message inside a fragmented one (RFC 6455 §5.4)");
    }
    /* RSV1 is permessage-deflate's "compressed" bit; the frame parser lets
     * it through only once the extension is on (RFC 7692 §6.1). */
    if ((h->rsv & 4) && h->opcode == CWS_OP_CONT)
        return conn_fail(c, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR,
                         "RSV1 on a continuation frame (RFC 7692 §6.1)");
    /* A compressed message is judged by its inflated size (as it is
     * inflated); on the wire, data that does not compress grows a little,
     * so its frames get that much room. */
    int z = h->opcode == CWS_OP_CONT ? c->rx_z : (h->rsv & 4) != 0;
    size_t max_frame = conn_max_frame(c), max_message = conn_max_message(c);
    if (z) {
        max_frame = conn_deflate_room(max_frame);
        max_message = conn_deflate_room(max_message);
    }
    if (h->len > max_frame)
        return conn_fail(c, CWS_ERR_TOO_BIG, CWS_CLOSE_TOO_BIG, "frame larger than max_frame_size");
    uint64_t before = h->opcode == CWS_OP_CONT ? c->msg_len : 0;
    if (h->len > max_message - before)
        return conn_fail(c, CWS_ERR_TOO_BIG, CWS_CLOSE_TOO_BIG, "message larger than max_message_size");
    /* Empty continuations add no bytes: only a count bounds a message
     * that never ends. 1009 as for the other limits: the message is too
     * big for us, in frames rather than bytes (RFC 6455 §7.4.1). */
    if (h->opcode == CWS_OP_CONT) {
        if ((size_t)c->rx_frags + 2 > conn_max_fragments(c)) /* the first frame, this one */
            return conn_fail(c, CWS_ERR_TOO_BIG, CWS_CLOSE_TOO_BIG, "too many fragments (max_fragments)");
        if (c->rx_frags < UINT32_MAX) c->rx_frags++;
    }
    if (h->opcode != CWS_OP_CONT) {
        c->rx_op = h->opcode;
        c->rx_z = (h->rsv & 4) != 0;
        cws_utf8_init(&c->utf8);
    }
    c->msg_len = before + h->len;
    c->rx_started = 1;
    return CONN_GO;
}

static int conn_end_streamed(cws_conn *c) {
    if (c->cfg->cb.on_message_end) c->cfg->cb.on_message_end(c, c->user);
    return conn_take_pause(c);
}

/* on_message for the message that just ended; data is the in-place view
 * or NULL for the reassembly buffer. */
static int conn_end_whole(cws_conn *c, int opcode, const uint8_t *data, size_t len) {
    if (!data) {
        data = c->rx ? c->rx->data : (const uint8_t *)"";
        len = c->rx ? c->rx->len : 0;
    }
    if (c->cfg->cb.on_message) c->cfg->cb.on_message(c, c->user, opcode, data, len);
    cws__buf_free(&c->cfg->alloc, &c->rx);
    return conn_take_pause(c);
}

int cws__conn_deliver(cws_conn *c, const uint8_t *data, size_t len) {
    if (c->rx_op == CWS_OP_TEXT && cws_utf8_feed(&c->utf8, data, len, NULL) != CWS_OK)
        return conn_fail(c, CWS_ERR_UTF8, CWS_CLOSE_INVALID_DATA,
                         "invalid UTF-8 in a text message (RFC 6455 §8.1)");
    if (conn_streamed(c)) {
        if (c->cfg->cb.on_message_data) c->cfg->cb.on_message_data(c, c->user, data, len);
        return conn_take_pause(c);
    }
    uint8_t *dst = cws__buf_reserve(&c->cfg->alloc, &c->rx, len, conn_max_message(c));
    if (!dst) return conn_fail(c, CWS_ERR_NOMEM, CWS_CLOSE_INTERNAL, "out of memory for a message");
    memcpy(dst, data, len);
    c->rx->len += len;
    return CONN_GO;
}

/* A chunk of a data frame. *rewind is set when on_message_begin paused:
 * the chunk then comes again on the next recv. */
static int conn_data(cws_conn *c, const cws_frame_event *ev, int *rewind) {
    const cws_frame_header *h = ev->hdr;
    int streamed = conn_streamed(c);
    int r = CONN_GO;
    if ((ev->flags & CWS_FRAME_START) && !c->rx_started) {
        if (conn_frame_start(c, h) == CONN_FAILED) return CONN_FAILED;
        if (h->opcode != CWS_OP_CONT && streamed && c->cfg->cb.on_message_begin) {
            c->cfg->cb.on_message_begin(c, c->user, h->opcode);
            if (conn_take_pause(c)) {
                *rewind = 1;
                return CONN_PAUSE;
            }
        }
    }
    /* A whole single-frame message in this buffer needs no copy. */
    int view = !streamed && (ev->flags & CWS_FRAME_START) && (ev->flags & CWS_FRAME_END) && h->fin &&
               h->opcode != CWS_OP_CONT && !c->rx_z;
    if (c->rx_z) {
        r = c->ext.pmd->ops->rx(c, ev->data, ev->len, (ev->flags & CWS_FRAME_END) && h->fin);
        if (r == CONN_FAILED) return r;
    } else if (view) {
        if (c->rx_op == CWS_OP_TEXT && cws_utf8_feed(&c->utf8, ev->data, ev->len, NULL) != CWS_OK)
            return conn_fail(c, CWS_ERR_UTF8, CWS_CLOSE_INVALID_DATA,
                             "invalid UTF-8 in a text message (RFC 6455 §8.1)");
    } else if (ev->len) {
        r = cws__conn_deliver(c, ev->data, ev->len);
        if (r == CONN_FAILED) return r;
    }
    if (!(ev->flags & CWS_FRAME_END)) return r;
    c->rx_started = 0;
    if (!h->fin) return r;
    int opcode = c->rx_op;
    if (opcode == CWS_OP_TEXT && cws_utf8_finish(&c->utf8) != CWS_OK)
        return conn_fail(c, CWS_ERR_UTF8, CWS_CLOSE_INVALID_DATA,
                         "text message ends inside a UTF-8 sequence (RFC 6455 §8.1)");
    c->rx_op = 0;
    c->rx_z = 0;
    c->msg_len = 0;
    if (c->rx_frags) c->rx_frags = 0; /* no store after one-frame messages */
    if (!streamed) return conn_end_whole(c, opcode, view ? ev->data : NULL, ev->len);
    if (r == CONN_PAUSE) {
        c->pend_end = 1;
        return r;
    }
    return conn_end_streamed(c);
}

/* §5.5.1: validate the peer's close, answer it, report it. */
static int conn_got_close(cws_conn *c, const uint8_t *p, size_t n) {
    int code = CWS_CLOSE_NO_STATUS;
    if (n == 1)
        return conn_fail(c, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR,
                         "close frame with a 1-byte payload (RFC 6455 §5.5.1)");
    if (n >= 2) {
        code = cws__load_be16(p);
        if (!cws_close_code_valid(code))
            return conn_fail(c, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR, "invalid close code (RFC 6455 §7.4)");
        if (cws_utf8_validate(p + 2, n - 2) != CWS_OK)
            return conn_fail(c, CWS_ERR_UTF8, CWS_CLOSE_INVALID_DATA,
                             "close reason is not UTF-8 (RFC 6455 §5.5.1)");
    }
    c->got_close = 1;
    if (!c->sent_close) {
        /* Echo the code (none if theirs had none). Even if this fails
         * nothing more will be sent, so the close counts as sent. */
        (void)cws__conn_emit_close(c, n >= 2 ? code : 0, NULL, 0);
        c->sent_close = 1;
    }
    conn_report(c, code, n > 2 ? (const char *)p + 2 : "", n > 2 ? n - 2 : 0);
    return CONN_GO;
}

/* A chunk of a control frame; acted on once the frame is whole. */
static int conn_control(cws_conn *c, const cws_frame_event *ev) {
    const cws_frame_header *h = ev->hdr;
    const uint8_t *p = ev->data;
    size_t n = (size_t)h->len;
    if (!(ev->offset == 0 && (ev->flags & CWS_FRAME_END))) {
        /* The payload is cut across recv calls: collect its <= 125 bytes. */
        if (!ev->len) return CONN_GO;
        /* The bytes go just past the message being reassembled (if any),
         * without counting as part of it: no buffer of their own. */
        uint8_t *dst = cws__buf_reserve(&c->cfg->alloc, &c->rx, CWS_CONTROL_MAX, SIZE_MAX);
        if (!dst) return conn_fail(c, CWS_ERR_NOMEM, CWS_CLOSE_INTERNAL, "out of memory for a control frame");
        memcpy(dst + ev->offset, ev->data, ev->len);
        if (!(ev->flags & CWS_FRAME_END)) return CONN_GO;
        p = dst;
    }
    int r = CONN_GO;
    switch (h->opcode) {
    case CWS_OP_PING:
        /* §5.5.2: a pong with the same payload, unless our close is out. */
        if (!c->cfg->no_auto_pong && !c->sent_close) (void)cws__conn_emit(c, CWS_OP_PONG, 1, p, n);
        if (c->cfg->cb.on_ping) c->cfg->cb.on_ping(c, c->user, p, n);
        r = conn_take_pause(c);
        break;
    case CWS_OP_PONG:
        if (c->cfg->cb.on_pong) c->cfg->cb.on_pong(c, c->user, p, n);
        r = conn_take_pause(c);
        break;
    default:
        r = conn_got_close(c, p, n);
        break;
    }
    /* A buffer made only for this control frame goes (after the callback:
     * p pointed into it). */
    if (c->rx && !c->rx->len) cws__buf_free(&c->cfg->alloc, &c->rx);
    return r;
}

ptrdiff_t cws_conn_recv(cws_conn *c, uint8_t *data, size_t len) {
    if (!c || (!data && len)) return CWS_ERR_INVALID;
    if (c->fail_err) return -(int)c->fail_err;
    if (c->in_recv) return CWS_ERR_STATE;
    if (c->aborted) return CWS_ERR_CLOSED;
    /* §5.5.1: after the peer's close, whatever it sends is ignored. */
    if (c->got_close) return (ptrdiff_t)len;
    c->in_recv = 1;
    size_t used = 0;
    int r = CONN_GO;
    if (c->pend_end) {
        c->pend_end = 0;
        r = conn_end_streamed(c);
    }
    while (r == CONN_GO && !c->got_close && !c->aborted) {
        cws_frame_event ev;
        ptrdiff_t n = cws_frame_parse(&c->parser, len ? data + used : data, len - used, &ev);
        if (n < 0) {
            r = conn_fail(c, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR, c->parser.error);
            break;
        }
        if (!ev.ready) {
            used += (size_t)n;
            break;
        }
        int rewind = 0;
        if ((ev.hdr->opcode & 0x8) && ev.hdr->rsv) {
            r = conn_fail(c, CWS_ERR_PROTOCOL, CWS_CLOSE_PROTOCOL_ERROR,
                          "RSV bit on a control frame (RFC 7692 §6.1)");
            break;
        }
        r = (ev.hdr->opcode & 0x8) ? conn_control(c, &ev) : conn_data(c, &ev, &rewind);
        if (rewind) {
            cws__frame_parser_rewind(&c->parser, ev.data, ev.len);
            n -= (ptrdiff_t)ev.len;
        }
        used += (size_t)n;
    }
    c->in_recv = 0;
    if (c->fail_err || c->got_close) conn_release_rx(c);
    if (c->fail_err) return -(int)c->fail_err;
    if (c->got_close) return (ptrdiff_t)len;
    return (ptrdiff_t)used;
}

void cws_conn_abort(cws_conn *c) {
    if (!c || c->aborted) return;
    c->aborted = 1;
    conn_report(c, CWS_CLOSE_ABNORMAL, "", 0);
}

int cws_conn_done(const cws_conn *c) {
    if (!c) return 1;
    return c->aborted || c->fail_err || c->write_failed || (c->sent_close && c->got_close);
}

int cws_conn_state(const cws_conn *c) {
    if (cws_conn_done(c)) return CWS_STATE_CLOSED;
    return c->sent_close || c->got_close ? CWS_STATE_CLOSING : CWS_STATE_OPEN;
}

int cws_conn_close_code(const cws_conn *c) { return c && c->reported ? c->close_code : 0; }
const char *cws_conn_error(const cws_conn *c) { return c && c->fail_err ? c->parser.error : NULL; }
int cws_conn_role(const cws_conn *c) { return c->parser.role; }
void *cws_conn_user(const cws_conn *c) { return c->user; }
void cws_conn_set_user(cws_conn *c, void *user) { c->user = user; }

int cws_conn_set_deflate(cws_conn *c, const cws_deflate_params *p) {
    if (!c || !p) return CWS_ERR_INVALID;
    if (!p->enabled) return CWS_OK;
#ifdef CWS_NO_DEFLATE
    return CWS_ERR_STATE; /* built without the codec */
#else
    /* Only before any data: the first message must know its framing. */
    if (c->has_pmd || c->rx_op || c->rx_started || c->tx_frag || c->sent_close || c->got_close || c->aborted)
        return CWS_ERR_STATE;
    return cws__pmd_attach(c, p);
#endif
}

int cws_conn_deflate(const cws_conn *c, cws_deflate_params *params) {
    if (!c || !c->has_pmd) return 0;
    if (params) *params = c->ext.pmd->params;
    return 1;
}
