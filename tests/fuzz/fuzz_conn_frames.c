/* Structure-aware cws_conn fuzzing. The input (after the option bytes of
 * conn_driver.h) is a list of frame descriptions; each becomes a real,
 * correctly encoded frame except for the fields the description mutates:
 * opcode (valid or raw, reserved included), FIN, RSV bits, masking
 * direction, length (boundaries, non-minimal forms, a top-bit 64-bit
 * length, lengths the stream never fills), and payload (raw bytes, valid
 * UTF-8, UTF-8 with one invalid sequence, close payloads with interesting
 * codes). The stream runs through both receive modes, each with the
 * invariants of conn_driver.h, and both modes must agree on the messages
 * delivered and on how the connection ended. */
#include "conn_driver.h"

#define FRAMES_MAX 256
#define FRAMES_STREAM_MAX (256 * 1024)

static const uint8_t frames_valid_ops[6] = {CWS_OP_TEXT, CWS_OP_BINARY, CWS_OP_CONT,
                                            CWS_OP_PING, CWS_OP_PONG, CWS_OP_CLOSE};
static const uint16_t frames_close_codes[24] = {1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007,
                                                1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015,
                                                1016, 999,  0,    2999, 3000, 4999, 5000, 65535};
static const char *const frames_bad_utf8[8] = {"\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF",
                                               "\x80",     "\xE0\x80\x80", "\xF5\x80\x80\x80", "\xCE"};

/* Appends valid UTF-8 of about n bytes (whole characters). */
static void frames_gen_utf8(drv_bytes *b, size_t n, uint32_t *seed) {
    size_t start = b->len;
    while (b->len - start < n) {
        uint32_t r = fuzz_rand(seed), cp;
        switch (r & 3) {
        case 0: cp = 0x20 + (r >> 8) % 0x5F; break;
        case 1: cp = 0x80 + (r >> 8) % 0x780; break;
        case 2: cp = 0x800 + (r >> 8) % 0xF800; if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000; break;
        default: cp = 0x10000 + (r >> 8) % 0x100000; break;
        }
        uint8_t u[4];
        size_t k;
        if (cp < 0x80) { u[0] = (uint8_t)cp; k = 1; }
        else if (cp < 0x800) { u[0] = (uint8_t)(0xC0 | cp >> 6); u[1] = (uint8_t)(0x80 | (cp & 63)); k = 2; }
        else if (cp < 0x10000) {
            u[0] = (uint8_t)(0xE0 | cp >> 12); u[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
            u[2] = (uint8_t)(0x80 | (cp & 63)); k = 3;
        } else {
            u[0] = (uint8_t)(0xF0 | cp >> 18); u[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
            u[2] = (uint8_t)(0x80 | ((cp >> 6) & 63)); u[3] = (uint8_t)(0x80 | (cp & 63)); k = 4;
        }
        drv_bytes_add(b, u, k);
    }
}

/* Decodes one description from in and appends its frame to out. */
static void frames_encode_one(fuzz_input *in, drv_bytes *out, int role, uint32_t *seed) {
    uint8_t d0 = fuzz_byte(in), d1 = fuzz_byte(in), d2 = fuzz_byte(in);
    unsigned op = (d0 & 0xF0) == 0xF0 ? (d0 & 0x0Fu) : frames_valid_ops[d0 % 6];
    unsigned fin = !(d1 & 1);
    unsigned rsv = d1 & 0x10 ? (d1 >> 1) & 7u : 0;
    int masked = (role == CWS_SERVER) != ((d1 & 0x20) != 0); /* a server receives masked frames */
    int gen = (d1 >> 6) & 3;

    /* The payload first; the header says what the description wants. */
    drv_bytes payload = {0};
    size_t want = d2 < 250 ? d2 : 0;
    int len_form = 0; /* 0 minimal, 1 16-bit, 2 64-bit, 3 64-bit with top bit */
    uint64_t announced_extra = 0; /* announced beyond what follows */
    switch (d2) {
    case 250: want = (size_t)fuzz_byte(in) << 8 | fuzz_byte(in); break;
    case 251: want = 125 + fuzz_byte(in) % 4; break; /* the control-frame edge */
    case 252: announced_extra = 1 + fuzz_byte(in); want = fuzz_byte(in) % 8; break;
    case 253: len_form = 3; break;
    case 254: want = fuzz_byte(in) % 130; len_form = 1 + (fuzz_byte(in) & 1); break;
    case 255: want = 65536 + fuzz_byte(in); break;
    default: break;
    }
    if (gen == 3 && want >= 2) {
        uint16_t code = frames_close_codes[fuzz_byte(in) % 24];
        uint8_t c[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        drv_bytes_add(&payload, c, 2);
        frames_gen_utf8(&payload, want - 2, seed);
    } else if (gen == 1 || gen == 2) {
        size_t at = want ? fuzz_rand(seed) % want : 0;
        frames_gen_utf8(&payload, at, seed);
        if (gen == 2) {
            const char *bad = frames_bad_utf8[fuzz_rand(seed) % 8];
            drv_bytes_add(&payload, bad, strlen(bad));
        }
        if (payload.len < want) frames_gen_utf8(&payload, want - payload.len, seed);
    } else {
        for (size_t i = 0; i < want; i++) {
            uint8_t b = fuzz_byte(in);
            drv_bytes_add(&payload, &b, 1);
        }
    }

    uint64_t len = payload.len + announced_extra;
    uint8_t hdr[14];
    size_t h = 2;
    hdr[0] = (uint8_t)((fin ? 0x80u : 0u) | rsv << 4 | op);
    uint8_t mbit = masked ? 0x80u : 0u;
    if (len_form == 3) {
        hdr[1] = (uint8_t)(mbit | 127u);
        uint64_t v = (uint64_t)1 << 63 | payload.len;
        for (int i = 0; i < 8; i++) hdr[2 + i] = (uint8_t)(v >> (56 - 8 * i));
        h = 10;
    } else if (len_form == 0 && len < 126) {
        hdr[1] = (uint8_t)(mbit | len);
    } else if (len_form <= 1 && len <= 0xFFFF) {
        hdr[1] = (uint8_t)(mbit | 126u);
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        h = 4;
    } else {
        hdr[1] = (uint8_t)(mbit | 127u);
        for (int i = 0; i < 8; i++) hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        h = 10;
    }
    uint8_t key[4] = {0};
    if (masked) {
        uint32_t k = fuzz_rand(seed);
        memcpy(key, &k, 4);
        memcpy(hdr + h, key, 4);
        h += 4;
    }
    drv_bytes_add(out, hdr, h);
    for (size_t i = 0; i < payload.len; i++) payload.p[i] ^= key[i % 4];
    drv_bytes_add(out, payload.p, payload.len);
    free(payload.p);
}

/* ---- a model of what the connection must do, from RFC 6455 alone ---- */

typedef struct frames_model {
    int close_code; /* the code on_close must report; 0 if none */
    drv_log messages;
} frames_model;

static int frames_text_ok(const drv_bytes *b, int complete) {
    int pending;
    return ref_utf8_check(b->p, b->len, &pending) == b->len && !(complete && pending);
}

/* Walks the stream the way §5-§8 say a receiving endpoint must, and
 * records the messages it must deliver and how it must end. */
static void frames_model_run(const drv_config *cfg, const uint8_t *s, size_t len, frames_model *m) {
    uint64_t max_frame = cfg->max_frame ? cfg->max_frame : CWS_MAX_MESSAGE_DEFAULT;
    uint64_t max_message = cfg->max_message ? cfg->max_message : CWS_MAX_MESSAGE_DEFAULT;
    unsigned rx_op = 0;
    uint64_t msg_len = 0;
    drv_bytes msg = {0}, ctl = {0};
    size_t i = 0;
    memset(m, 0, sizeof *m);
    while (len - i >= 2 && !m->close_code) {
        unsigned fin = s[i] >> 7, rsv = (s[i] >> 4) & 7u, op = s[i] & 15u;
        unsigned masked = s[i + 1] >> 7, len7 = s[i + 1] & 127u;
        /* §5.2 reserved bits and opcodes, §5.5 control frames, §5.1 masking. */
        if (rsv || (op >= 3 && op <= 7) || op >= 11 || (op >= 8 && (!fin || len7 > 125)) ||
            (cfg->role == CWS_SERVER) != (masked == 1)) {
            m->close_code = CWS_CLOSE_PROTOCOL_ERROR;
            break;
        }
        size_t hlen = 2 + (len7 == 126 ? 2u : len7 == 127 ? 8u : 0u) + (masked ? 4u : 0u);
        if (len - i < hlen) break;
        uint64_t plen = len7;
        if (len7 >= 126) {
            plen = 0;
            for (size_t k = 0; k < (len7 == 126 ? 2u : 8u); k++) plen = plen << 8 | s[i + 2 + k];
        }
        if (plen >> 63) {
            m->close_code = CWS_CLOSE_PROTOCOL_ERROR;
            break;
        }
        const uint8_t *key = s + i + hlen - 4;
        i += hlen;
        size_t avail = len - i < plen ? len - i : (size_t)plen;
        drv_bytes *dst = op >= 8 ? &ctl : &msg;
        if (op >= 8) ctl.len = 0;
        if (op < 8) {
            /* §5.4 fragmentation order, then the size limits (→ 1009). */
            if ((op == CWS_OP_CONT) != (rx_op != 0)) {
                m->close_code = CWS_CLOSE_PROTOCOL_ERROR;
                break;
            }
            uint64_t before = op == CWS_OP_CONT ? msg_len : 0;
            if (plen > max_frame || plen > max_message - before) {
                m->close_code = CWS_CLOSE_TOO_BIG;
                break;
            }
            if (op != CWS_OP_CONT) {
                rx_op = op;
                msg.len = 0;
            }
            msg_len = before + plen;
        }
        for (size_t k = 0; k < avail; k++) {
            uint8_t b = (uint8_t)(s[i + k] ^ (masked ? key[k % 4] : 0));
            drv_bytes_add(dst, &b, 1);
        }
        i += avail;
        if (op < 8 && rx_op == CWS_OP_TEXT && !frames_text_ok(&msg, 0)) { /* §8.1 */
            m->close_code = CWS_CLOSE_INVALID_DATA;
            break;
        }
        if (avail < plen) break; /* the stream ends inside this frame */
        if (op < 8 && fin) {
            if (rx_op == CWS_OP_TEXT && !frames_text_ok(&msg, 1)) {
                m->close_code = CWS_CLOSE_INVALID_DATA;
                break;
            }
            drv_log_add(&m->messages, (int)rx_op, msg.p, msg.len);
            rx_op = 0;
            msg_len = 0;
        } else if (op == CWS_OP_CLOSE) {
            /* §5.5.1, §7.4: the peer's close, checked. */
            if (ctl.len == 1) {
                m->close_code = CWS_CLOSE_PROTOCOL_ERROR;
            } else if (ctl.len == 0) {
                m->close_code = CWS_CLOSE_NO_STATUS;
            } else {
                int code = ctl.p[0] << 8 | ctl.p[1];
                drv_bytes reason = {ctl.p + 2, ctl.len - 2, 0};
                int valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                            (code >= 3000 && code <= 4999);
                m->close_code = !valid ? CWS_CLOSE_PROTOCOL_ERROR
                                : !frames_text_ok(&reason, 1) ? CWS_CLOSE_INVALID_DATA : code;
            }
        }
    }
    free(msg.p);
    free(ctl.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    drv_config cfg;
    drv_config_from(&in, &cfg);
    uint32_t seed = cfg.seed * 2654435761u;
    drv_bytes stream = {0};
    /* Bounded, so that a few 64 KiB frames do not make every run slow. */
    for (int i = 0; i < FRAMES_MAX && in.n > 0 && stream.len < FRAMES_STREAM_MAX; i++)
        frames_encode_one(&in, &stream, cfg.role, &seed);

    drv streamed, whole;
    cfg.whole = 0;
    drv_run(&streamed, &cfg, stream.p, stream.len);
    cfg.whole = 1;
    drv_run(&whole, &cfg, stream.p, stream.len);
    if (!streamed.injected && !whole.injected) {
        FUZZ_CHECK(drv_log_equal(&streamed.messages, &whole.messages));
        FUZZ_CHECK(drv_log_equal(&streamed.pings, &whole.pings));
        FUZZ_CHECK(streamed.closed == whole.closed && streamed.close_code == whole.close_code);
        /* And both do what the model says. */
        frames_model m;
        frames_model_run(&cfg, stream.p, stream.len, &m);
        int want = m.close_code ? m.close_code : cfg.finish == 1 ? CWS_CLOSE_ABNORMAL : 0;
        if (streamed.close_code != want)
            fprintf(stderr, "close code %d, the model says %d\n", streamed.close_code, want);
        FUZZ_CHECK(streamed.close_code == want && streamed.closed == (want != 0));
        FUZZ_CHECK(drv_log_equal(&streamed.messages, &m.messages));
        free(m.messages.p);
    }
    drv_free(&streamed);
    drv_free(&whole);
    free(stream.p);
    return 0;
}
