/* cws_conn with permessage-deflate on (cws_conn_set_deflate), fed frames
 * that a peer would send: mostly well-formed messages compressed by zlib
 * (the peer's codec: raw DEFLATE, sync flush, tail stripped, context kept
 * or not as agreed), some with raw fuzz bytes as compressed payload,
 * uncompressed messages, pings, RSV1 where RFC 7692 §6.1 forbids it,
 * zeros just under and over the message limit, BFINAL-ended messages; the
 * stream is cut at fuzzed points. Every message is echoed from its
 * callback (cws_conn_send, or fragments in streamed mode).
 *
 * Input: 8 option bytes, then operations (see pc_build).
 *   b0: role, receive mode, server_/client_no_context_takeover, output mode
 *   b1: server and client window bits (8..15), the peer's zlib strategy
 *   b2: max_message_size (16 B .. 256 KiB), the peer's zlib level
 *   b3: our threshold and level
 *   b4..b7: seed of the chunk sizes and split points
 *
 * Invariants:
 *  - no message (or streamed part of one) delivered is longer than
 *    max_message_size; on_close at most once, nothing after it;
 *  - a failure closes with 1002, 1007, 1009 or 1011;
 *  - as long as the peer's stream is well-formed (no raw payload, no raw
 *    bytes), the outcome is exactly what the model says: every message is
 *    delivered as zlib's input was, and the connection fails only where
 *    the model says (1009 for a message over the limit, inflated or on
 *    the wire; 1007 for text that inflates to bad UTF-8; 1002 for RSV1 on
 *    a control frame or a continuation);
 *  - the output parses as frames of our role, RSV1 only on the first
 *    frame of a data message; zlib inflates each compressed echo with our
 *    agreed window (output in 32-byte steps, so a match beyond the window
 *    is caught) and a fresh window per message without our context
 *    takeover; the echoes are exactly the messages delivered;
 *  - every allocation is freed (ASan checks the rest). */
#include "fuzz_util.h"

#include <zlib.h>

/* Failure codes the model allows, as a bit set. */
enum { PC_1002 = 1, PC_1007 = 2, PC_1009 = 4, PC_MAYBE = 8 };

typedef struct pc {
    /* options */
    int role, whole, use_write;
    cws_deflate_params params;
    size_t max_message;
    size_t threshold;
    int level;
    int peer_level, peer_strategy;
    uint32_t seed;
    /* the connection */
    cws_conn *c;
    long live;
    int closed, close_code, close_calls;
    int cur_op, echo_started;
    fuzz_bytes cur;        /* streamed: the message so far */
    fuzz_bytes delivered;  /* complete messages delivered */
    fuzz_bytes out;        /* everything written */
    /* the model */
    fuzz_bytes stream;     /* the peer's bytes */
    fuzz_bytes expected;   /* messages the model says arrive */
    int expect_fail;     /* PC_* set; 0: no failure; PC_MAYBE: 1009 or
                            the last message arrives (see pc_judge) */
    fuzz_bytes maybe;      /* expected plus that last message */
    int tainted;         /* raw bytes sent: the model is off from there */
} pc;

static void *pc_alloc(void *user, void *ptr, size_t size) {
    pc *h = user;
    if (size == 0) {
        if (ptr) h->live--;
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p && !ptr) h->live++;
    return p;
}

static int pc_is_utf8(const uint8_t *p, size_t n) {
    int pending;
    return ref_utf8_check(p, n, &pending) == n && !pending;
}

/* ---------------------------------------------------------------- callbacks */

static void pc_check_send(pc *h, int r) {
    (void)h;
    if (r != CWS_OK) fprintf(stderr, "echo: %s\n", cws_strerror(r));
    FUZZ_CHECK(r == CWS_OK || r == CWS_ERR_CLOSED);
}

static void pc_on_message(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len) {
    pc *h = user;
    FUZZ_CHECK(c == h->c && !h->closed);
    FUZZ_CHECK(opcode == CWS_OP_TEXT || opcode == CWS_OP_BINARY);
    FUZZ_CHECK(len <= h->max_message);
    if (opcode == CWS_OP_TEXT) FUZZ_CHECK(pc_is_utf8(data, len));
    fuzz_log_add(&h->delivered, opcode, data, len);
    /* Some echoes uncompressed on purpose. */
    int flags = (len % 7 == 3) ? CWS_SEND_UNCOMPRESSED : 0;
    pc_check_send(h, cws_conn_send(c, opcode | flags, data, len));
}

static void pc_on_begin(cws_conn *c, void *user, int opcode) {
    pc *h = user;
    FUZZ_CHECK(c == h->c && !h->closed && h->cur_op == 0);
    FUZZ_CHECK(opcode == CWS_OP_TEXT || opcode == CWS_OP_BINARY);
    h->cur_op = opcode;
    h->cur.len = 0;
    h->echo_started = 0;
}

static void pc_on_data(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    pc *h = user;
    FUZZ_CHECK(c == h->c && !h->closed && h->cur_op != 0 && len > 0);
    fuzz_bytes_add(&h->cur, data, len);
    /* The inflated bytes of one message never pass the limit. */
    FUZZ_CHECK(h->cur.len <= h->max_message);
    int r = cws_conn_send_fragment(c, h->echo_started ? CWS_OP_CONT : h->cur_op, data, len, 0);
    pc_check_send(h, r);
    if (r == CWS_OK) h->echo_started = 1;
}

static void pc_on_end(cws_conn *c, void *user) {
    pc *h = user;
    FUZZ_CHECK(c == h->c && !h->closed && h->cur_op != 0);
    if (h->cur_op == CWS_OP_TEXT) FUZZ_CHECK(pc_is_utf8(h->cur.p, h->cur.len));
    fuzz_log_add(&h->delivered, h->cur_op, h->cur.p, h->cur.len);
    /* NULL with length 0, as the API allows (UBSan checks no NULL + 0). */
    pc_check_send(h, cws_conn_send_fragment(c, h->echo_started ? CWS_OP_CONT : h->cur_op, NULL, 0, 1));
    h->cur_op = 0;
}

static void pc_on_ping(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    pc *h = user;
    (void)data;
    FUZZ_CHECK(c == h->c && !h->closed && len <= CWS_CONTROL_MAX);
}

static void pc_on_close(cws_conn *c, void *user, int code, const char *reason, size_t len) {
    pc *h = user;
    (void)reason;
    (void)len;
    FUZZ_CHECK(c == h->c && h->close_calls == 0);
    h->closed = 1;
    h->close_calls++;
    h->close_code = code;
}

static int pc_write(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    pc *h = user;
    FUZZ_CHECK(c == h->c && len > 0);
    fuzz_bytes_add(&h->out, data, len);
    return 0;
}

/* ---------------------------------------------------------------- the peer */

typedef struct pc_peer {
    z_stream z;
    int window;       /* the peer's agreed window */
    int reset;        /* the peer compresses each message alone */
    fuzz_bytes history; /* the last 32 KiB it compressed (for BFINAL) */
    uint8_t key[4];
} pc_peer;

/* One frame from the peer: masked when the peer is a client (our role is
 * server). */
static void pc_frame(pc *h, pc_peer *p, int opcode, int fin, int rsv, const uint8_t *data, size_t len) {
    cws_frame_header fh;
    memset(&fh, 0, sizeof fh);
    fh.len = len;
    fh.fin = (uint8_t)fin;
    fh.rsv = (uint8_t)rsv;
    fh.opcode = (uint8_t)opcode;
    fh.masked = h->role == CWS_SERVER;
    memcpy(fh.mask, p->key, 4);
    uint8_t hdr[CWS_FRAME_HEADER_MAX];
    fuzz_bytes_add(&h->stream, hdr, cws_frame_header_encode(hdr, &fh));
    size_t at = h->stream.len;
    fuzz_bytes_add(&h->stream, data, len);
    if (fh.masked)
        for (size_t i = 0; i < len; i++) h->stream.p[at + i] ^= p->key[i & 3];
    p->key[0] += 0x35;
    p->key[2] ^= 0x5a;
}

/* A message's payload as frames: nfrag pieces cut at seeded points, RSV1
 * on the first (or, bad_cont, on a continuation too), a ping between
 * pieces now and then. */
static void pc_frames(pc *h, pc_peer *p, int opcode, int rsv, const uint8_t *data, size_t len, int nfrag,
                      int bad_cont) {
    size_t off = 0;
    if (!data) data = (const uint8_t *)""; /* an empty message: no NULL + 0 */
    for (int k = 0; k < nfrag; k++) {
        size_t n = k == nfrag - 1 ? len - off : (len - off ? fuzz_rand(&h->seed) % (len - off + 1) : 0);
        int r = k == 0 ? rsv : (bad_cont && k == 1 ? 4 : 0);
        pc_frame(h, p, k == 0 ? opcode : CWS_OP_CONT, k == nfrag - 1, r, data + off, n);
        off += n;
        if (k < nfrag - 1 && (fuzz_rand(&h->seed) & 3) == 0) pc_frame(h, p, CWS_OP_PING, 1, 0, (const uint8_t *)"pi", 2);
    }
}

static void pc_history(pc_peer *p, const uint8_t *data, size_t len) {
    fuzz_bytes_add(&p->history, data, len);
    if (p->history.len > 32768) {
        memmove(p->history.p, p->history.p + p->history.len - 32768, 32768);
        p->history.len = 32768;
    }
}

/* zlib's compression of one message, as the peer sends it. flush_mode 0:
 * sync flush (the usual), 1: a full flush, 2: BFINAL (Z_FINISH, §7.2.3.4:
 * then nothing to strip; the next message keeps the window through a
 * dictionary unless the peer resets). */
static void pc_compress(pc *h, pc_peer *p, const uint8_t *data, size_t len, int flush_mode, fuzz_bytes *outb) {
    (void)h;
    size_t cap = deflateBound(&p->z, (uLong)len) + 64;
    uint8_t *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL);
    p->z.next_in = (Bytef *)(uintptr_t)data;
    p->z.avail_in = (uInt)len;
    p->z.next_out = buf;
    p->z.avail_out = (uInt)cap;
    /* First without a flush (as Python's compress() then flush()): zlib
     * refuses a second sync flush in a row without input (Z_BUF_ERROR)
     * and would write nothing for an empty message. */
    int zr = deflate(&p->z, Z_NO_FLUSH);
    FUZZ_CHECK(zr == Z_OK || zr == Z_BUF_ERROR);
    zr = deflate(&p->z, flush_mode == 2 ? Z_FINISH : flush_mode == 1 ? Z_FULL_FLUSH : Z_SYNC_FLUSH);
    FUZZ_CHECK(zr == (flush_mode == 2 ? Z_STREAM_END : Z_OK) && p->z.avail_in == 0);
    size_t n = cap - p->z.avail_out;
    if (flush_mode != 2) {
        FUZZ_CHECK(n >= 4 && memcmp(buf + n - 4, "\0\0\xff\xff", 4) == 0);
        n -= 4; /* §7.2.1 */
    }
    outb->len = 0;
    fuzz_bytes_add(outb, buf, n);
    free(buf);
    pc_history(p, data, len);
    if (p->reset) {
        deflateReset(&p->z);
    } else if (flush_mode == 2) {
        deflateReset(&p->z);
        size_t w = (size_t)1 << p->window;
        if (w > 32768) w = 32768;
        /* zlib keeps at most its window minus 262 bytes as a dictionary it
         * reaches (MAX_DIST); handing it more is harmless. */
        size_t have = p->history.len < w ? p->history.len : w;
        if (have) deflateSetDictionary(&p->z, p->history.p + p->history.len - have, (uInt)have);
    }
}

/* The model's verdict on a message the peer sends: 0 if it arrives.
 * A compressed message that inflates within the limit but is longer on
 * the wire (incompressible data grows by a few bytes) is refused with
 * 1009 by cws today, as frame and message limits count wire bytes; that
 * is not what max_message_size promises for the inflated size, so either
 * outcome passes (PC_MAYBE). */
static int pc_judge(const pc *h, int opcode, const uint8_t *plain, size_t len, size_t wire) {
    int f = 0;
    if (len > h->max_message) f |= PC_1009;
    if (opcode == CWS_OP_TEXT && !pc_is_utf8(plain, len)) f |= PC_1007;
    /* Longer on the wire: 1009 may come first; alone, it may not come. */
    if (wire > h->max_message) f |= f ? PC_1009 : PC_1009 | PC_MAYBE;
    return f;
}

/* Records a message the model judged: expected, or the end of the model. */
static void pc_expect(pc *h, int f, int opcode, const uint8_t *plain, size_t len) {
    if (f & PC_MAYBE) {
        fuzz_bytes_add(&h->maybe, h->expected.p, h->expected.len);
        fuzz_log_add(&h->maybe, opcode, plain, len);
    }
    if (f) h->expect_fail = f;
    else fuzz_log_add(&h->expected, opcode, plain, len);
}

/* Turns the operations into the peer's byte stream and the model's
 * expectations. Generation stops at the first message that must fail. */
static void pc_build(pc *h, fuzz_input *in) {
    pc_peer p;
    memset(&p, 0, sizeof p);
    int server = h->role == CWS_SERVER;
    p.window = server ? h->params.client_max_window_bits : h->params.server_max_window_bits;
    p.reset = server ? h->params.client_no_context_takeover : h->params.server_no_context_takeover;
    p.key[0] = 0x12, p.key[1] = 0x34, p.key[2] = 0x56, p.key[3] = 0x78;
    /* zlib refuses a raw window of 8 bits; 9 bits stays within 256 bytes
     * (its matches reach at most 2^9 - 262 back). */
    FUZZ_CHECK(deflateInit2(&p.z, h->peer_level, Z_DEFLATED, -(p.window < 9 ? 9 : p.window), 8,
                            h->peer_strategy) == Z_OK);
    fuzz_bytes plain = {0}, comp = {0};
    int ops = 0;
    while (in->n && !h->expect_fail && ops++ < 64) {
        uint8_t op = fuzz_byte(in);
        int opcode = (op & 8) ? CWS_OP_BINARY : CWS_OP_TEXT;
        int nfrag = 1 + ((op >> 4) & 3);
        size_t len = fuzz_byte(in);
        if (op & 0x40) len = len * 16 + (fuzz_byte(in) & 15);
        size_t arg = len; /* case 6 takes no bytes: len is its argument */
        if (len > in->n) len = in->n;
        plain.len = 0;
        switch (op & 7) {
        case 0:
        case 1:
        case 2: { /* a compressed message; op&0x80 repeats the bytes */
            fuzz_bytes_add(&plain, in->p, len);
            in->p += len;
            in->n -= len;
            if ((op & 0x80) && plain.len) { /* four times over: compressible */
                size_t n1 = plain.len;
                uint8_t *copy = fuzz_dup(plain.p, n1);
                for (int r = 0; r < 3; r++) fuzz_bytes_add(&plain, copy, n1);
                free(copy);
            }
            int flush_mode = (op & 7) == 2 ? ((op >> 6) & 1) + 1 : 0;
            pc_compress(h, &p, plain.p, plain.len, flush_mode, &comp);
            int f = pc_judge(h, opcode, plain.p, plain.len, comp.len);
            pc_frames(h, &p, opcode, 4, comp.p, comp.len, nfrag, 0);
            pc_expect(h, f, opcode, plain.p, plain.len);
            break;
        }
        case 3: /* raw fuzz bytes as a compressed payload */
            pc_frames(h, &p, opcode, 4, in->p, len, nfrag, 0);
            in->p += len;
            in->n -= len;
            h->tainted = 1;
            break;
        case 4: { /* uncompressed */
            fuzz_bytes_add(&plain, in->p, len);
            in->p += len;
            in->n -= len;
            int f = pc_judge(h, opcode, plain.p, plain.len, 0);
            if (plain.len > h->max_message) f |= PC_1009;
            pc_frames(h, &p, opcode, 0, plain.p, plain.len, nfrag, 0);
            pc_expect(h, f, opcode, plain.p, plain.len);
            break;
        }
        case 5: /* a ping, with RSV1 when op&8 (§6.1: 1002) */
            if (len > CWS_CONTROL_MAX) len = CWS_CONTROL_MAX;
            pc_frame(h, &p, CWS_OP_PING, 1, (op & 8) ? 4 : 0, in->p, len);
            in->p += len;
            in->n -= len;
            if (op & 8) h->expect_fail = PC_1002;
            break;
        case 6: /* zeros around the limit: max - 1 .. max + 2 inflated bytes */
        {
            size_t n = h->max_message + (arg & 3);
            n = n ? n - 1 : 0;
            uint8_t *z = calloc(n ? n : 1, 1);
            FUZZ_CHECK(z != NULL);
            pc_compress(h, &p, z, n, 0, &comp);
            int f = pc_judge(h, opcode, z, n, comp.len);
            pc_frames(h, &p, opcode, 4, comp.p, comp.len, nfrag, 0);
            pc_expect(h, f, opcode, z, n);
            free(z);
            break;
        }
        default: /* op&0x80: raw bytes; else RSV1 on a continuation (1002) */
            if (op & 0x80) {
                fuzz_bytes_add(&h->stream, in->p, len);
                in->p += len;
                in->n -= len;
                h->tainted = 1;
            } else {
                fuzz_bytes_add(&plain, in->p, len);
                in->p += len;
                in->n -= len;
                pc_compress(h, &p, plain.p, plain.len, 0, &comp);
                if (comp.len > h->max_message) {
                    h->expect_fail = PC_1009; /* the frame check may come first */
                }
                pc_frames(h, &p, opcode, 4, comp.p, comp.len, nfrag < 2 ? 2 : nfrag, 1);
                h->expect_fail |= PC_1002;
                /* A text message can fail on its UTF-8 before the bad RSV1 arrives. */
                if (opcode == CWS_OP_TEXT && !pc_is_utf8(plain.p, plain.len)) h->expect_fail |= PC_1007;
                /* So can one whose first fragment inflates past the limit. */
                if (plain.len > h->max_message) h->expect_fail |= PC_1009;
            }
            break;
        }
    }
    deflateEnd(&p.z);
    free(plain.p);
    free(comp.p);
    free(p.history.p);
}

/* ---------------------------------------------------------------- output */

/* Parses what we wrote, inflates compressed messages with zlib and our
 * window, and returns the messages in *msgs. */
static void pc_check_output(pc *h, fuzz_bytes *msgs) {
    int server = h->role == CWS_SERVER;
    int window = server ? h->params.server_max_window_bits : h->params.client_max_window_bits;
    int reset = server ? h->params.server_no_context_takeover : h->params.client_no_context_takeover;
    z_stream z;
    memset(&z, 0, sizeof z);
    FUZZ_CHECK(inflateInit2(&z, -window) == Z_OK);
    cws_frame_parser fp;
    cws_frame_parser_init(&fp, server ? CWS_CLIENT : CWS_SERVER);
    fp.allowed_rsv = 4;
    uint8_t *buf = fuzz_dup(h->out.p, h->out.len);
    size_t used = 0;
    int after_close = 0, in_msg = 0, msg_op = 0, msg_z = 0;
    fuzz_bytes payload = {0}, inflated = {0};
    while (used < h->out.len) {
        cws_frame_event ev;
        ptrdiff_t r = cws_frame_parse(&fp, buf + used, h->out.len - used, &ev);
        if (r <= 0) fprintf(stderr, "our output does not parse: %s\n", fp.error ? fp.error : "?");
        FUZZ_CHECK(r > 0);
        used += (size_t)r;
        if (!ev.ready) continue;
        const cws_frame_header *fh = ev.hdr;
        if (ev.flags & CWS_FRAME_START) {
            FUZZ_CHECK(!after_close);
            FUZZ_CHECK((fh->rsv & 3) == 0);
            if (fh->opcode >= 8) {
                FUZZ_CHECK(fh->rsv == 0); /* §6.1 */
                if (fh->opcode == CWS_OP_CLOSE) after_close = 1;
            } else if (fh->opcode == CWS_OP_CONT) {
                FUZZ_CHECK(in_msg && fh->rsv == 0); /* §6.1: RSV1 on the first frame only */
            } else {
                FUZZ_CHECK(!in_msg);
                in_msg = 1;
                msg_op = fh->opcode;
                msg_z = (fh->rsv & 4) != 0;
                payload.len = 0;
            }
        }
        if (fh->opcode >= 8) continue;
        fuzz_bytes_add(&payload, ev.data, ev.len);
        if (!(ev.flags & CWS_FRAME_END) || !fh->fin) continue;
        in_msg = 0;
        if (!msg_z) {
            fuzz_log_add(msgs, msg_op, payload.p, payload.len);
            continue;
        }
        /* §7.2.2: put the tail back, inflate in small steps so that zlib
         * checks every distance against the window. */
        fuzz_bytes_add(&payload, "\0\0\xff\xff", 4);
        inflated.len = 0;
        z.next_in = payload.p;
        z.avail_in = (uInt)payload.len;
        /* 32-byte steps catch any match past the window by more than 32
         * bytes; long messages (rare, slow) go by 1 KiB. */
        uInt stepn = payload.len > 16384 ? 1024 : 32;
        for (;;) {
            uint8_t step[1024];
            z.next_out = step;
            z.avail_out = stepn;
            int zr = inflate(&z, Z_SYNC_FLUSH);
            if (zr != Z_OK && zr != Z_BUF_ERROR) fprintf(stderr, "zlib: %d %s\n", zr, z.msg ? z.msg : "");
            FUZZ_CHECK(zr == Z_OK || zr == Z_BUF_ERROR); /* never the end: we never send BFINAL */
            fuzz_bytes_add(&inflated, step, stepn - z.avail_out);
            if (z.avail_in == 0 && z.avail_out != 0) break;
            FUZZ_CHECK(zr == Z_OK);
        }
        fuzz_log_add(msgs, msg_op, inflated.p, inflated.len);
        if (reset) FUZZ_CHECK(inflateReset(&z) == Z_OK);
    }
    inflateEnd(&z);
    free(buf);
    free(payload.p);
    free(inflated.p);
}

/* ---------------------------------------------------------------- run */

static const size_t pc_limits[8] = {16, 100, 1000, 4096, 20000, 65536, 200000, 1u << 18};
static const size_t pc_thresholds[4] = {CWS_DISABLED, 0, 1, 64};
static const int pc_strategies[4] = {Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY, Z_RLE};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    pc h;
    memset(&h, 0, sizeof h);
    uint8_t b0 = fuzz_byte(&in), b1 = fuzz_byte(&in), b2 = fuzz_byte(&in), b3 = fuzz_byte(&in);
    h.seed = fuzz_u32(&in);
    h.role = (b0 & 1) ? CWS_CLIENT : CWS_SERVER;
    h.whole = !(b0 & 2);
    h.use_write = (b0 >> 4) & 1;
    h.params.enabled = 1;
    h.params.server_no_context_takeover = (b0 >> 2) & 1;
    h.params.client_no_context_takeover = (b0 >> 3) & 1;
    h.params.server_max_window_bits = (uint8_t)(8 + (b1 & 7));
    h.params.client_max_window_bits = (uint8_t)(8 + ((b1 >> 3) & 7));
    h.peer_strategy = pc_strategies[(b1 >> 6) & 3];
    h.max_message = pc_limits[b2 & 7];
    h.peer_level = (b2 >> 3) % 10;
    h.threshold = pc_thresholds[b3 & 3];
    h.level = (b3 >> 4) % 10;
    size_t max_chunk = 1 + (size_t)((b0 >> 5) & 7) * 97;

    pc_build(&h, &in);

    cws_conn_config cc;
    memset(&cc, 0, sizeof cc);
    cc.role = h.role;
    cc.max_message_size = h.max_message;
    if (h.whole) {
        cc.cb.on_message = pc_on_message;
    } else {
        cc.receive = CWS_RECEIVE_STREAM;
        cc.cb.on_message_begin = pc_on_begin;
        cc.cb.on_message_data = pc_on_data;
        cc.cb.on_message_end = pc_on_end;
    }
    cc.cb.on_ping = pc_on_ping;
    cc.cb.on_close = pc_on_close;
    if (h.use_write) cc.cb.write = pc_write;
    cc.user = &h;
    cc.alloc.fn = pc_alloc;
    cc.alloc.user = &h;
    cc.deflate.level = h.level;
    cc.deflate.threshold = h.threshold;
    h.c = cws_conn_new(&cc, NULL);
    FUZZ_CHECK(h.c != NULL);
    FUZZ_CHECK(cws_conn_set_deflate(h.c, &h.params) == CWS_OK);
    cws_deflate_params got;
    FUZZ_CHECK(cws_conn_deflate(h.c, &got) == 1 && got.server_max_window_bits == h.params.server_max_window_bits);

    /* Feed the stream in seeded chunks. */
    uint8_t *buf = fuzz_dup(h.stream.p, h.stream.len);
    size_t off = 0;
    ptrdiff_t failed = 0;
    /* Byte-sized chunks only for short streams, to keep runs fast. */
    size_t min_chunk = h.stream.len > 4096 ? 64 : 1;
    while (off < h.stream.len) {
        size_t n = min_chunk + fuzz_rand(&h.seed) % max_chunk;
        if (n > h.stream.len - off) n = h.stream.len - off;
        ptrdiff_t r = cws_conn_recv(h.c, buf + off, n);
        if (r < 0) {
            failed = r;
            FUZZ_CHECK(r == CWS_ERR_PROTOCOL || r == CWS_ERR_UTF8 || r == CWS_ERR_TOO_BIG ||
                       r == CWS_ERR_DEFLATE || r == CWS_ERR_NOMEM);
            FUZZ_CHECK(cws_conn_recv(h.c, buf, n) == r); /* stays failed */
            FUZZ_CHECK(h.closed && cws_conn_done(h.c));
            break;
        }
        FUZZ_CHECK((size_t)r == n); /* nobody pauses */
        off += n;
        if (!h.use_write && (fuzz_rand(&h.seed) & 3) == 0) {
            const uint8_t *o;
            size_t have = cws_conn_output(h.c, &o);
            size_t take = fuzz_rand(&h.seed) % (have + 1);
            fuzz_bytes_add(&h.out, o, take);
            cws_conn_consume(h.c, take);
        }
    }
    free(buf);
    if (failed) {
        /* §7.4.1 codes for what a peer can do wrong; 1011 for our memory. */
        FUZZ_CHECK(h.close_code == 1002 || h.close_code == 1007 || h.close_code == 1009 || h.close_code == 1011);
    } else if (!h.closed) {
        int r = cws_conn_close(h.c, CWS_CLOSE_NORMAL, "bye", 3);
        FUZZ_CHECK(r == CWS_OK);
    }
    if (getenv("PMD_CONN_DEBUG"))
        fprintf(stderr, "role %s %s, windows s%d c%d, nct s%d c%d, limit %zu: %zu stream bytes, "
                "%zu/%zu bytes of messages delivered/expected, close %d, expected failure set %d%s\n",
                h.role == CWS_SERVER ? "server" : "client", h.whole ? "whole" : "streamed",
                h.params.server_max_window_bits, h.params.client_max_window_bits,
                h.params.server_no_context_takeover, h.params.client_no_context_takeover, h.max_message,
                h.stream.len, h.delivered.len, h.expected.len, h.closed ? h.close_code : 0, h.expect_fail,
                h.tainted ? ", tainted" : "");
    if (!h.tainted && (h.expect_fail & PC_MAYBE) && !failed) {
        /* The wire-longer message was accepted: then it arrived intact. */
        FUZZ_CHECK(fuzz_bytes_equal(&h.delivered, &h.maybe));
    } else if (!h.tainted) {
        /* The model: exactly the expected messages, failure only as predicted. */
        if (!fuzz_bytes_equal(&h.delivered, &h.expected)) fprintf(stderr, "delivered messages differ from zlib's input\n");
        FUZZ_CHECK(fuzz_bytes_equal(&h.delivered, &h.expected));
        if (h.expect_fail) {
            if (!failed) fprintf(stderr, "expected a failure (set %d), none came\n", h.expect_fail);
            FUZZ_CHECK(failed);
            int bit = h.close_code == 1002 ? PC_1002 : h.close_code == 1007 ? PC_1007 : h.close_code == 1009 ? PC_1009 : 0;
            if (!(bit & h.expect_fail)) fprintf(stderr, "closed with %d, model allows set %d\n", h.close_code, h.expect_fail);
            FUZZ_CHECK(bit & h.expect_fail);
        } else {
            if (failed) fprintf(stderr, "unexpected failure %d: %s\n", h.close_code, cws_conn_error(h.c));
            FUZZ_CHECK(!failed);
        }
    }
    if (!h.use_write) {
        const uint8_t *o;
        size_t have = cws_conn_output(h.c, &o);
        fuzz_bytes_add(&h.out, o, have);
        cws_conn_consume(h.c, have);
    }
    fuzz_bytes echoed = {0};
    pc_check_output(&h, &echoed);
    /* Every delivered message came back, inflating to itself. */
    FUZZ_CHECK(fuzz_bytes_equal(&echoed, &h.delivered));
    cws_conn_free(h.c);
    FUZZ_CHECK(h.live == 0);
    free(echoed.p);
    free(h.cur.p);
    free(h.delivered.p);
    free(h.out.p);
    free(h.stream.p);
    free(h.expected.p);
    free(h.maybe.p);
    return 0;
}
