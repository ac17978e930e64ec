/* Drives one cws_conn with fuzzer bytes and checks what the contract
 * promises whatever the input:
 *   - on_close comes at most once, and no callback comes after it;
 *   - once recv fails it keeps failing the same way, the connection is
 *     done() and closed, on_close came with cws_conn_close_code();
 *   - a paused recv resumes and never loops without progress;
 *   - everything written parses as frames of the right role: masked only
 *     from a client, control frames whole and at most 125 bytes, nothing
 *     after a close frame; and a second cws_conn in the other role accepts
 *     the whole output without failing (messages echoed here arrive
 *     intact, every ping got its pong);
 *   - every allocation is freed, also when the allocator refuses one.
 * The harness echoes every message from inside the callbacks, so the send
 * path runs re-entrantly too. */
#ifndef CWS_FUZZ_CONN_DRIVER_H
#define CWS_FUZZ_CONN_DRIVER_H

#include "fuzz_util.h"

/* Messages (and ping payloads) in order, as fuzz_log_add writes them. */
typedef fuzz_bytes drv_bytes;
typedef fuzz_bytes drv_log;
#define drv_bytes_add fuzz_bytes_add
#define drv_log_add fuzz_log_add
#define drv_log_equal fuzz_bytes_equal

typedef struct drv_config {
    int role;
    int whole;          /* 1: on_message; 0: streamed callbacks */
    int use_write;      /* 1: write callback; 0: internal output buffer */
    int no_auto_pong;
    int pause_every;    /* a callback returns non-zero every n-th call; 0 never */
    size_t max_message; /* 0: default */
    size_t max_frame;
    long fail_alloc_at; /* the n-th allocation fails (and all after); -1 never */
    long fail_write_after; /* bytes the write callback accepts; -1 no limit */
    int finish;         /* after the input: 0 close(1000), 1 abort, 2 nothing */
    uint32_t seed;      /* chunk sizes and output draining */
    size_t max_chunk;
} drv_config;

typedef struct drv {
    drv_config cfg;
    cws_conn *c;
    long allocs, live;
    long written_total;
    int injected;       /* an allocation or write failure was injected */
    int write_refused;  /* the write callback said no at least once */
    int closed, close_code, close_calls;
    int calls, paused;
    int cur_op;         /* streamed: opcode of the message being received */
    int echo_started;   /* streamed: the echo's first fragment went out */
    drv_bytes cur;      /* streamed: the message so far */
    drv_log messages;   /* complete messages delivered */
    drv_log pings;      /* pings delivered while our close was not out */
    drv_bytes out;      /* everything the connection wrote */
} drv;

static void *drv_alloc(void *user, void *ptr, size_t size) {
    drv *d = user;
    if (size == 0) {
        if (ptr) d->live--;
        free(ptr);
        return NULL;
    }
    d->allocs++;
    if (d->cfg.fail_alloc_at >= 0 && d->allocs > d->cfg.fail_alloc_at) {
        d->injected = 1;
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p && !ptr) d->live++;
    return p;
}

static int drv_pause(drv *d) {
    FUZZ_CHECK(!d->closed); /* no callback after on_close */
    d->calls++;
    int p = d->cfg.pause_every && d->calls % d->cfg.pause_every == 0;
    if (p) d->paused = 1;
    return p;
}

/* What a send from a callback may answer. */
static int drv_check_send(drv *d, int r) {
    if (r != CWS_OK && r != CWS_ERR_CLOSED) fprintf(stderr, "send from a callback: %s\n", cws_strerror(r));
    FUZZ_CHECK(r == CWS_OK || r == CWS_ERR_CLOSED || r == CWS_ERR_IO || r == CWS_ERR_NOMEM ||
               r == CWS_ERR_RANDOM || r == CWS_ERR_STATE || r == CWS_ERR_UTF8);
    if (r == CWS_ERR_NOMEM || r == CWS_ERR_IO) FUZZ_CHECK(d->injected);
    /* The echo of valid text is valid text, unless an injected fault made
     * it drop a fragment (sends check UTF-8 across fragments). */
    if (r == CWS_ERR_UTF8) FUZZ_CHECK(d->injected && !d->cfg.whole);
    /* After a refused last fragment our echo's message is still open. */
    if (r == CWS_ERR_STATE) FUZZ_CHECK(d->injected && !d->cfg.whole);
    return r;
}

static void drv_on_begin(cws_conn *c, void *user, int opcode) {
    drv *d = user;
    FUZZ_CHECK(c == d->c && (opcode == CWS_OP_TEXT || opcode == CWS_OP_BINARY));
    FUZZ_CHECK(d->cur_op == 0);
    d->cur_op = opcode;
    d->cur.len = 0;
    d->echo_started = 0;
    /* A pause here is a delivered begin: the data follows on resume. */
    if (drv_pause(d)) cws_conn_pause(c);
}

static void drv_on_data(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    drv *d = user;
    FUZZ_CHECK(c == d->c && d->cur_op != 0 && len > 0);
    drv_bytes_add(&d->cur, data, len);
    /* The echo's first fragment is the first one the library took. */
    int r = cws_conn_send_fragment(c, d->echo_started ? CWS_OP_CONT : d->cur_op, data, len, 0);
    if (drv_check_send(d, r) == CWS_OK) d->echo_started = 1;
    if (drv_pause(d)) cws_conn_pause(c);
}

static void drv_on_end(cws_conn *c, void *user) {
    drv *d = user;
    FUZZ_CHECK(c == d->c && d->cur_op != 0);
    if (d->cur_op == CWS_OP_TEXT) FUZZ_CHECK(cws_utf8_validate(d->cur.p, d->cur.len) == CWS_OK);
    drv_log_add(&d->messages, d->cur_op, d->cur.p, d->cur.len);
    drv_check_send(d, cws_conn_send_fragment(c, d->echo_started ? CWS_OP_CONT : d->cur_op, NULL, 0, 1));
    d->cur_op = 0;
    if (drv_pause(d)) cws_conn_pause(c);
}

static void drv_on_message(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len) {
    drv *d = user;
    FUZZ_CHECK(c == d->c && (opcode == CWS_OP_TEXT || opcode == CWS_OP_BINARY));
    FUZZ_CHECK(len <= (d->cfg.max_message ? d->cfg.max_message : CWS_MAX_MESSAGE_DEFAULT));
    if (opcode == CWS_OP_TEXT) FUZZ_CHECK(cws_utf8_validate(data, len) == CWS_OK);
    drv_log_add(&d->messages, opcode, data, len);
    drv_check_send(d, cws_conn_send(c, opcode, data, len));
    if (drv_pause(d)) cws_conn_pause(c);
}

static void drv_on_ping(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    drv *d = user;
    FUZZ_CHECK(c == d->c && len <= CWS_CONTROL_MAX);
    drv_log_add(&d->pings, CWS_OP_PING, data, len);
    if (d->cfg.no_auto_pong) drv_check_send(d, cws_conn_pong(c, data, len));
    if (drv_pause(d)) cws_conn_pause(c);
}

static void drv_on_pong(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    drv *d = user;
    FUZZ_CHECK(c == d->c && len <= CWS_CONTROL_MAX && (len == 0 || data != NULL));
    if (drv_pause(d)) cws_conn_pause(c);
}

static void drv_on_close(cws_conn *c, void *user, int code, const char *reason, size_t len) {
    drv *d = user;
    FUZZ_CHECK(c == d->c);
    FUZZ_CHECK(!d->closed && d->close_calls == 0); /* once */
    FUZZ_CHECK(code == CWS_CLOSE_NO_STATUS || code == CWS_CLOSE_ABNORMAL || cws_close_code_valid(code));
    FUZZ_CHECK(len <= CWS_CONTROL_MAX && (len == 0 || reason != NULL));
    if (len) FUZZ_CHECK(cws_utf8_validate(reason, len) == CWS_OK);
    d->closed = 1;
    d->close_calls++;
    d->close_code = code;
}

static int drv_write(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    drv *d = user;
    FUZZ_CHECK(c == d->c && len > 0 && data != NULL);
    if (d->cfg.fail_write_after >= 0 && d->written_total + (long)len > d->cfg.fail_write_after) {
        d->injected = 1;
        d->write_refused = 1;
        return -1;
    }
    d->written_total += (long)len;
    drv_bytes_add(&d->out, data, len);
    return 0;
}

/* Moves some or all of the internal output buffer to d->out. */
static void drv_drain(drv *d, int all) {
    const uint8_t *p;
    size_t n = cws_conn_output(d->c, &p);
    FUZZ_CHECK(n == cws_conn_buffered_amount(d->c));
    if (!n) return;
    if (!all) n = fuzz_rand(&d->cfg.seed) % (n + 1);
    drv_bytes_add(&d->out, p, n);
    cws_conn_consume(d->c, n);
}

/* Checks the output as raw frames: right masking direction, whole small
 * control frames, nothing after a close frame. */
static void drv_check_frames(const drv *d) {
    cws_frame_parser p;
    cws_frame_parser_init(&p, d->cfg.role == CWS_SERVER ? CWS_CLIENT : CWS_SERVER);
    uint8_t *buf = fuzz_dup(d->out.p, d->out.len);
    size_t used = 0;
    int after_close = 0;
    while (used < d->out.len) {
        cws_frame_event ev;
        ptrdiff_t r = cws_frame_parse(&p, buf + used, d->out.len - used, &ev);
        FUZZ_CHECK(r > 0);
        used += (size_t)r;
        if (!ev.ready) continue;
        if (ev.flags & CWS_FRAME_START) {
            FUZZ_CHECK(!after_close);
            FUZZ_CHECK(ev.hdr->rsv == 0);
            if (ev.hdr->opcode == CWS_OP_CLOSE) {
                after_close = 1;
                FUZZ_CHECK(ev.hdr->len != 1);
            }
        }
    }
    /* The output ends at a frame boundary (unless the transport failed). */
    if (!d->write_refused) FUZZ_CHECK(p.have == 0 && p.offset == p.hdr.len);
    free(buf);
}

/* The peer's view: a second connection in the other role reads it all. */
typedef struct drv_peer {
    drv_log messages, pongs;
    int closed, close_code;
} drv_peer;

static void drv_peer_message(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)c;
    drv_log_add(&((drv_peer *)user)->messages, opcode, data, len);
}

static void drv_peer_pong(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    (void)c;
    drv_log_add(&((drv_peer *)user)->pongs, CWS_OP_PING, data, len);
}

static void drv_peer_close(cws_conn *c, void *user, int code, const char *reason, size_t len) {
    (void)c;
    (void)reason;
    (void)len;
    drv_peer *p = user;
    p->closed = 1;
    p->close_code = code;
}

static void drv_check_peer(const drv *d) {
    drv_peer peer;
    memset(&peer, 0, sizeof peer);
    cws_conn_config pc;
    memset(&pc, 0, sizeof pc);
    pc.role = d->cfg.role == CWS_SERVER ? CWS_CLIENT : CWS_SERVER;
    pc.max_message_size = (size_t)1 << 30;
    pc.max_frame_size = (size_t)1 << 30;
    pc.cb.on_message = drv_peer_message;
    pc.cb.on_pong = drv_peer_pong;
    pc.cb.on_close = drv_peer_close;
    pc.user = &peer;
    cws_conn *c = cws_conn_new(&pc, NULL);
    FUZZ_CHECK(c != NULL);
    uint8_t *buf = fuzz_dup(d->out.p, d->out.len);
    ptrdiff_t r = cws_conn_recv(c, buf, d->out.len);
    /* Never a failure, unless a fault we injected made the echo drop a
     * fragment (then its text may well be cut mid-character). */
    if (r != (ptrdiff_t)d->out.len && !d->injected) {
        fprintf(stderr, "peer refused our output: %s\n", cws_conn_error(c));
        FUZZ_CHECK(r == (ptrdiff_t)d->out.len);
    }
    free(buf);
    if (!d->injected) {
        /* Every complete message came back intact, every ping answered.
         * A close frame we sent shows up as the peer's close code. */
        FUZZ_CHECK(drv_log_equal(&peer.messages, &d->messages));
        FUZZ_CHECK(drv_log_equal(&peer.pongs, &d->pings));
    }
    if (peer.closed) FUZZ_CHECK(peer.close_code == CWS_CLOSE_NO_STATUS || cws_close_code_valid(peer.close_code));
    cws_conn_free(c);
    free(peer.messages.p);
    free(peer.pongs.p);
}

/* Feeds one chunk; returns 0 once the connection failed for good. */
static int drv_feed(drv *d, const uint8_t *src, size_t n) {
    uint8_t *buf = fuzz_dup(src, n);
    size_t off = 0;
    long guard = 4 * (long)n + 64;
    int ok = 1;
    do {
        FUZZ_CHECK(guard-- > 0); /* a paused recv must make progress */
        d->paused = 0;
        ptrdiff_t r = cws_conn_recv(d->c, buf + off, n - off);
        if (r < 0) {
            FUZZ_CHECK(r == CWS_ERR_PROTOCOL || r == CWS_ERR_UTF8 || r == CWS_ERR_TOO_BIG ||
                       r == CWS_ERR_NOMEM || r == CWS_ERR_CLOSED || r == CWS_ERR_STATE);
            FUZZ_CHECK(r != CWS_ERR_STATE); /* we are never re-entrant here */
            if (r == CWS_ERR_NOMEM) FUZZ_CHECK(d->injected);
            FUZZ_CHECK(cws_conn_recv(d->c, buf, n) == r); /* stays failed */
            if (r != CWS_ERR_CLOSED) {
                FUZZ_CHECK(cws_conn_error(d->c) != NULL);
                FUZZ_CHECK(d->closed && cws_conn_close_code(d->c) == d->close_code);
            }
            FUZZ_CHECK(cws_conn_done(d->c) && cws_conn_state(d->c) == CWS_STATE_CLOSED);
            ok = 0;
            break;
        }
        FUZZ_CHECK((size_t)r <= n - off);
        /* Fewer bytes than offered only when a callback paused. */
        if ((size_t)r < n - off) FUZZ_CHECK(d->paused);
        off += (size_t)r;
        if (!d->cfg.use_write && (fuzz_rand(&d->cfg.seed) & 3) == 0) drv_drain(d, 0);
    } while (off < n || d->paused);
    free(buf);
    return ok;
}

static void drv_init(drv *d, const drv_config *cfg) {
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
    cws_conn_config cc;
    memset(&cc, 0, sizeof cc);
    cc.role = cfg->role;
    cc.max_message_size = cfg->max_message;
    cc.max_frame_size = cfg->max_frame;
    cc.no_auto_pong = cfg->no_auto_pong;
    if (cfg->whole) {
        cc.cb.on_message = drv_on_message;
    } else {
        cc.receive = CWS_RECEIVE_STREAM;
        cc.cb.on_message_begin = drv_on_begin;
        cc.cb.on_message_data = drv_on_data;
        cc.cb.on_message_end = drv_on_end;
    }
    cc.cb.on_ping = drv_on_ping;
    cc.cb.on_pong = drv_on_pong;
    cc.cb.on_close = drv_on_close;
    if (cfg->use_write) cc.cb.write = drv_write;
    cc.user = d;
    cc.alloc.fn = drv_alloc;
    cc.alloc.user = d;
    d->c = cws_conn_new(&cc, NULL);
}

/* Runs the stream through a connection configured by cfg, checks every
 * invariant, and leaves the delivered messages in d (free with drv_free). */
static void drv_run(drv *d, const drv_config *cfg, const uint8_t *stream, size_t len) {
    drv_init(d, cfg);
    if (!d->c) {
        FUZZ_CHECK(d->injected);
        return;
    }
    FUZZ_CHECK(cws_conn_role(d->c) == cfg->role && cws_conn_user(d->c) == d);
    FUZZ_CHECK(cws_conn_state(d->c) == CWS_STATE_OPEN && !cws_conn_done(d->c));
    size_t off = 0;
    /* Byte-sized chunks only for short streams, to keep runs fast. */
    size_t min_chunk = len > 4096 ? 64 : 1;
    while (off < len) {
        size_t n = min_chunk + fuzz_rand(&d->cfg.seed) % d->cfg.max_chunk;
        if (n > len - off) n = len - off;
        if (!drv_feed(d, stream + off, n)) break;
        off += n;
    }
    int failed = off < len;
    if (d->closed && !d->injected) FUZZ_CHECK(cws_conn_state(d->c) != CWS_STATE_OPEN);
    if (!failed && !d->closed) {
        if (d->cfg.finish == 0) {
            int r = cws_conn_close(d->c, CWS_CLOSE_NORMAL, "bye", 3);
            FUZZ_CHECK(r == CWS_OK || r == CWS_ERR_CLOSED || r == CWS_ERR_IO || r == CWS_ERR_NOMEM ||
                       r == CWS_ERR_RANDOM);
            if (r == CWS_OK) {
                FUZZ_CHECK(cws_conn_state(d->c) == CWS_STATE_CLOSING);
                /* After our close nothing more goes out. */
                FUZZ_CHECK(cws_conn_send(d->c, CWS_OP_TEXT, "x", 1) == CWS_ERR_CLOSED);
                FUZZ_CHECK(cws_conn_ping(d->c, NULL, 0) == CWS_ERR_CLOSED);
            }
        } else if (d->cfg.finish == 1) {
            cws_conn_abort(d->c);
            FUZZ_CHECK(d->closed && d->close_code == CWS_CLOSE_ABNORMAL);
            FUZZ_CHECK(cws_conn_done(d->c) && cws_conn_recv(d->c, (uint8_t *)"", 0) < 0);
        }
    }
    if (d->closed) FUZZ_CHECK(cws_conn_close_code(d->c) == d->close_code);
    else FUZZ_CHECK(cws_conn_close_code(d->c) == 0);
    /* A refused write leaves the connection done: nothing more can go out. */
    if (d->write_refused) FUZZ_CHECK(cws_conn_done(d->c) && cws_conn_state(d->c) == CWS_STATE_CLOSED);
    if (!d->cfg.use_write) drv_drain(d, 1);
    drv_check_frames(d);
    drv_check_peer(d);
    cws_conn_free(d->c);
    d->c = NULL;
    FUZZ_CHECK(d->live == 0); /* every allocation was given back */
}

static void drv_free(drv *d) {
    free(d->cur.p);
    free(d->messages.p);
    free(d->pings.p);
    free(d->out.p);
}

/* Four option bytes to a configuration. */
static void drv_config_from(fuzz_input *in, drv_config *cfg) {
    uint8_t a = fuzz_byte(in), b = fuzz_byte(in), c = fuzz_byte(in);
    memset(cfg, 0, sizeof *cfg);
    cfg->role = a & 1 ? CWS_CLIENT : CWS_SERVER;
    cfg->whole = (a >> 1) & 1;
    cfg->use_write = (a >> 2) & 1;
    cfg->no_auto_pong = (a >> 3) & 1;
    static const int pauses[4] = {0, 0, 2, 3};
    cfg->pause_every = pauses[(a >> 4) & 3];
    cfg->finish = (a >> 6) % 3;
    static const size_t limits[4] = {0, 0, 64, 1000};
    cfg->max_message = limits[b & 3];
    cfg->max_frame = limits[(b >> 2) & 3];
    /* Fault injection, rarely: most inputs should see a healthy run. */
    cfg->fail_alloc_at = (b >> 4) == 15 ? (long)(c & 15) : -1;
    cfg->fail_write_after = (b >> 4) == 14 ? (long)c * 4 : -1;
    cfg->seed = fuzz_byte(in) | 0x100u;
    static const size_t chunks[4] = {1, 7, 64, 4096};
    cfg->max_chunk = chunks[(c >> 4) & 3];
}

#endif
