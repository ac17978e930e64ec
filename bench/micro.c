/* Micro benchmark of the core's hot paths, in one process; prints
 * Markdown tables (bench/run.sh pastes them into bench/RESULTS.md).
 *
 * Each row is calibrated: the body runs with a doubling iteration count
 * until one round takes >= 50 ms (that is also the warm-up), then for about
 * 0.3 s split in five rounds, keeping the best (CLOCK_MONOTONIC). Every
 * result flows into a volatile sink so the compiler cannot drop the work.
 *
 *   frames    cws_frame_parse (server role: unmask in place) and
 *             cws_frame_header_encode + cws_mask_copy (client role: build a
 *             masked frame), per payload size, against memcpy of the same
 *             payload bytes frame by frame
 *   mask      cws_mask in place vs memcpy, 64 KiB and 1 MiB
 *   utf8      cws_utf8_validate on ASCII, Latin/Cyrillic, CJK, emoji text
 *   conn      cws_conn_recv + cws_conn_send: the echo path without syscalls
 *   handshake cws_hs_server_parse + cws_hs_accept of a browser-like request
 *
 *   micro [--quick]   (--quick: ~0.05 s per row, for a smoke run) */
#define _POSIX_C_SOURCE 200809L
#include <cws.h>
#include <cws_util.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile uint64_t sink;
static double target_s = 0.3;

/* Figures the targets table at the end compares (set by the rows). */
static struct {
    double parse16_mfps, unmask64k_pct, utf8_ascii_pct, utf8_cjk_gbs, utf8_emoji_gbs;
} micro_got;

typedef void (*body_fn)(void *ctx, uint64_t iters);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds per iteration of fn, best of MICRO_ROUNDS calibrated rounds:
 * on a shared machine the best round is the one a neighbour disturbed least. */
#define MICRO_ROUNDS 5
static double measure(body_fn fn, void *ctx) {
    uint64_t iters = 1;
    double t;
    for (;;) { /* warm-up and calibration */
        double t0 = now_s();
        fn(ctx, iters);
        t = now_s() - t0;
        if (t >= 0.05 || iters >= (1ull << 40)) break;
        iters *= 2;
    }
    uint64_t n = (uint64_t)((double)iters * (target_s / MICRO_ROUNDS) / (t > 0 ? t : 1e-9));
    if (n < 1) n = 1;
    double best = 1e30;
    for (int r = 0; r < MICRO_ROUNDS; r++) {
        double t0 = now_s();
        fn(ctx, n);
        double d = (now_s() - t0) / (double)n;
        if (d < best) best = d;
    }
    return best;
}

static uint8_t *xmalloc(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "micro: out of memory\n");
        exit(1);
    }
    return p;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        p[i] = (uint8_t)seed;
    }
}

/* ------------------------------------------------------------ frames */

typedef struct frames_ctx {
    size_t size;      /* payload bytes per frame */
    size_t count;     /* frames in the buffer */
    uint8_t *wire;    /* count masked client frames, back to back */
    size_t wire_len;
    uint8_t *payload; /* one plaintext payload (encode source) */
    uint8_t *out;     /* encode / memcpy destination */
} frames_ctx;

/* One pass parses every frame in the buffer (unmasking it in place; the
 * next pass masks it back, which costs the same). */
static void body_parse(void *vctx, uint64_t iters) {
    frames_ctx *f = vctx;
    uint64_t acc = 0;
    for (uint64_t it = 0; it < iters; it++) {
        cws_frame_parser p;
        cws_frame_parser_init(&p, CWS_SERVER);
        size_t off = 0;
        while (off < f->wire_len) {
            cws_frame_event ev;
            ptrdiff_t n = cws_frame_parse(&p, f->wire + off, f->wire_len - off, &ev);
            if (n <= 0) {
                fprintf(stderr, "micro: parse failed: %s\n", p.error ? p.error : "?");
                exit(1);
            }
            off += (size_t)n;
            if (ev.ready) acc += ev.len + (ev.len ? ev.data[0] : 0);
        }
    }
    sink += acc;
}

static void body_encode(void *vctx, uint64_t iters) {
    frames_ctx *f = vctx;
    cws_frame_header h = {.len = f->size, .fin = 1, .opcode = CWS_OP_BINARY, .masked = 1};
    uint64_t acc = 0;
    for (uint64_t it = 0; it < iters; it++) {
        uint8_t *o = f->out;
        for (size_t i = 0; i < f->count; i++) {
            uint32_t k = (uint32_t)(it * 2654435761u + i);
            memcpy(h.mask, &k, 4);
            size_t hl = cws_frame_header_encode(o, &h);
            cws_mask_copy(o + hl, f->payload, f->size, h.mask, 0);
            o += hl + f->size;
        }
        acc += f->out[f->wire_len - 1];
    }
    sink += acc;
}

static void body_memcpy_frames(void *vctx, uint64_t iters) {
    frames_ctx *f = vctx;
    uint64_t acc = 0;
    for (uint64_t it = 0; it < iters; it++) {
        /* payload positions of the wire buffer, so the copies cannot merge */
        size_t stride = f->wire_len / f->count, hl = stride - f->size;
        for (size_t i = 0; i < f->count; i++) memcpy(f->out + i * stride + hl, f->wire + i * stride + hl, f->size);
        __asm__ volatile("" ::: "memory"); /* the copies must happen */
        acc += f->out[0];
    }
    sink += acc;
}

static void frames_setup(frames_ctx *f, size_t size) {
    f->size = size;
    /* about 256 KiB of frames (fits L2), at least one frame */
    f->count = (256 * 1024) / (size + 14);
    if (f->count < 1) f->count = 1;
    size_t hl = size < 126 ? 6 : size < 65536 ? 8 : 14;
    f->wire_len = f->count * (hl + size);
    f->wire = xmalloc(f->wire_len);
    f->out = xmalloc(f->wire_len);
    f->payload = xmalloc(size);
    fill_random(f->payload, size, 42 + size);
    cws_frame_header h = {.len = size, .fin = 1, .opcode = CWS_OP_BINARY, .masked = 1};
    uint8_t *o = f->wire;
    for (size_t i = 0; i < f->count; i++) {
        uint32_t k = (uint32_t)(0x9E3779B9u * (i + 1));
        memcpy(h.mask, &k, 4);
        size_t n = cws_frame_header_encode(o, &h);
        cws_mask_copy(o + n, f->payload, size, h.mask, 0);
        o += n + size;
    }
}

static void frames_free(frames_ctx *f) {
    free(f->wire);
    free(f->out);
    free(f->payload);
}

static const char *human_size(size_t n, char *buf, size_t cap) {
    if (n >= (1u << 20)) snprintf(buf, cap, "%zu MiB", n >> 20);
    else if (n >= 1024) snprintf(buf, cap, "%zu KiB", n >> 10);
    else snprintf(buf, cap, "%zu B", n);
    return buf;
}

static void bench_frames(void) {
    static const size_t sizes[] = {2, 16, 125, 1024, 65536, 1u << 20};
    printf("### Frame codec\n\n");
    printf("| payload | parse+unmask Mframes/s | parse GB/s | encode+mask Mframes/s | encode GB/s "
           "| memcpy Mframes/s | memcpy GB/s | parse / memcpy |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        frames_ctx f;
        frames_setup(&f, sizes[i]);
        double tp = measure(body_parse, &f) / (double)f.count;
        double te = measure(body_encode, &f) / (double)f.count;
        double tm = measure(body_memcpy_frames, &f) / (double)f.count;
        if (f.size == 16) micro_got.parse16_mfps = 1e-6 / tp;
        char hs[32];
        double b = (double)f.size;
        printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f%% |\n",
               human_size(f.size, hs, sizeof hs), 1e-6 / tp, b / tp * 1e-9, 1e-6 / te, b / te * 1e-9,
               1e-6 / tm, b / tm * 1e-9, 100.0 * tm / tp);
        fflush(stdout);
        frames_free(&f);
    }
    printf("\n");
}

/* ------------------------------------------------------------ connection */

/* The whole sans-I/O echo path a server runs per message, without the
 * syscalls: cws_conn_recv of a buffer of masked client frames (parse,
 * unmask, on_message), cws_conn_send of each message back (header +
 * payload through the write callback). Tells the user-space cost per
 * message that the load benchmark's figures contain. */
typedef struct conn_ctx {
    frames_ctx f;
    cws_conn *c;
    uint64_t out_bytes;
} conn_ctx;

static void cc_on_message(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    if (cws_conn_send(c, opcode, data, len) == CWS_OK ? 0 : 1) cws_conn_pause(c);
}

static int cc_write(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    (void)c;
    conn_ctx *x = user;
    x->out_bytes += len + data[0];
    return 0;
}

static void body_conn(void *vctx, uint64_t iters) {
    conn_ctx *x = vctx;
    for (uint64_t it = 0; it < iters; it++) {
        /* Each pass unmasks the payloads in place and the next masks them
         * back; binary messages do not care. */
        ptrdiff_t n = cws_conn_recv(x->c, x->f.wire, x->f.wire_len);
        if (n != (ptrdiff_t)x->f.wire_len) {
            fprintf(stderr, "micro: cws_conn_recv: %s\n", cws_strerror((int)n));
            exit(1);
        }
    }
    sink += x->out_bytes;
}

static void bench_conn(void) {
    static const size_t sizes[] = {64, 16384};
    printf("### Connection echo without syscalls (cws_conn_recv + cws_conn_send, server role)\n\n");
    printf("| payload | messages/s | ns/message | GB/s |\n|---|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        conn_ctx x;
        memset(&x, 0, sizeof x);
        frames_setup(&x.f, sizes[i]);
        cws_conn_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.role = CWS_SERVER;
        cfg.cb.on_message = cc_on_message;
        cfg.cb.write = cc_write;
        cfg.user = &x;
        x.c = cws_conn_new(&cfg, NULL);
        if (!x.c) {
            fprintf(stderr, "micro: cws_conn_new failed\n");
            exit(1);
        }
        double t = measure(body_conn, &x) / (double)x.f.count;
        char hs[32];
        printf("| %s | %.2f M | %.0f | %.2f |\n", human_size(x.f.size, hs, sizeof hs), 1e-6 / t, t * 1e9,
               (double)x.f.size / t * 1e-9);
        fflush(stdout);
        cws_conn_free(x.c);
        frames_free(&x.f);
    }
    printf("\n");
}

/* ------------------------------------------------------------ mask */

typedef struct buf_ctx {
    uint8_t *a, *b;
    size_t len;
} buf_ctx;

static void body_mask(void *vctx, uint64_t iters) {
    buf_ctx *c = vctx;
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    for (uint64_t it = 0; it < iters; it++) cws_mask(c->a, c->len, key, it);
    sink += c->a[c->len - 1];
}

static void body_memcpy(void *vctx, uint64_t iters) {
    buf_ctx *c = vctx;
    for (uint64_t it = 0; it < iters; it++) {
        memcpy(c->b, c->a, c->len);
        __asm__ volatile("" ::: "memory");
    }
    sink += c->b[c->len - 1];
}

static void bench_mask(void) {
    static const size_t sizes[] = {125, 65536, 1u << 20};
    printf("### Masking (cws_mask, in place)\n\n");
    printf("| buffer | cws_mask GB/s | memcpy GB/s | mask / memcpy |\n|---|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        buf_ctx c = {xmalloc(sizes[i]), xmalloc(sizes[i]), sizes[i]};
        fill_random(c.a, c.len, 7);
        double tm = measure(body_mask, &c), tc = measure(body_memcpy, &c);
        if (c.len == 65536) micro_got.unmask64k_pct = 100.0 * tc / tm;
        char hs[32];
        printf("| %s | %.2f | %.2f | %.0f%% |\n", human_size(c.len, hs, sizeof hs),
               (double)c.len / tm * 1e-9, (double)c.len / tc * 1e-9, 100.0 * tc / tm);
        fflush(stdout);
        free(c.a);
        free(c.b);
    }
    printf("\n");
}

/* ------------------------------------------------------------ utf8 */

static void body_utf8(void *vctx, uint64_t iters) {
    buf_ctx *c = vctx;
    uint64_t acc = 0;
    for (uint64_t it = 0; it < iters; it++) {
        if (cws_utf8_validate(c->a, c->len) != CWS_OK) {
            fprintf(stderr, "micro: sample text rejected as UTF-8\n");
            exit(1);
        }
        acc++;
    }
    sink += acc;
}

static void bench_utf8(void) {
    static const struct {
        const char *name, *text;
    } samples[] = {
        {"ASCII", "The quick brown fox jumps over the lazy dog; 0123456789 {json: true}\n"},
        {"Latin/Cyrillic", "Größe café naïve déjà-vu, Привет мир, съешь же ещё этих булок. "},
        {"CJK", "漢字仮名交じり文、中文测试文本，한국어 텍스트。"},
        {"emoji", "😀🚀🎉👍🏽🧪🌍🔥💡"},
    };
    const size_t len = 64 * 1024;
    printf("### UTF-8 validation (cws_utf8_validate, 64 KiB of text)\n\n");
    printf("| text | validate GB/s | memcpy GB/s | validate / memcpy |\n|---|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        buf_ctx c = {xmalloc(len), xmalloc(len), 0};
        size_t sl = strlen(samples[s].text);
        while (c.len + sl <= len) { /* whole characters only */
            memcpy(c.a + c.len, samples[s].text, sl);
            c.len += sl;
        }
        double tv = measure(body_utf8, &c), tc = measure(body_memcpy, &c);
        if (s == 0) micro_got.utf8_ascii_pct = 100.0 * tc / tv;
        if (s == 2) micro_got.utf8_cjk_gbs = (double)c.len / tv * 1e-9;
        if (s == 3) micro_got.utf8_emoji_gbs = (double)c.len / tv * 1e-9;
        printf("| %s | %.2f | %.2f | %.0f%% |\n", samples[s].name, (double)c.len / tv * 1e-9,
               (double)c.len / tc * 1e-9, 100.0 * tc / tv);
        fflush(stdout);
        free(c.a);
        free(c.b);
    }
    printf("\n");
}

/* ------------------------------------------------------------ handshake */

static const char hs_request[] =
    "GET /chat?room=lobby HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

static void body_handshake(void *vctx, uint64_t iters) {
    (void)vctx;
    cws_hs_server_opts opts;
    memset(&opts, 0, sizeof opts);
    char out[512];
    uint64_t acc = 0;
    for (uint64_t it = 0; it < iters; it++) {
        cws_hs_request r;
        memset(&r, 0, sizeof r);
        ptrdiff_t n = cws_hs_server_parse(&r, &opts, hs_request, sizeof hs_request - 1);
        if (n <= 0) {
            fprintf(stderr, "micro: handshake refused: %s\n", r.error ? r.error : "?");
            exit(1);
        }
        ptrdiff_t m = cws_hs_accept(&r, NULL, out, sizeof out);
        if (m <= 0) {
            fprintf(stderr, "micro: cws_hs_accept failed\n");
            exit(1);
        }
        acc += (uint64_t)m + (uint8_t)out[m - 5];
    }
    sink += acc;
}

static void bench_handshake(void) {
    double t = measure(body_handshake, NULL);
    printf("### Opening handshake (cws_hs_server_parse + cws_hs_accept, %zu-byte request)\n\n",
           sizeof hs_request - 1);
    printf("| requests/s | ns/request |\n|---:|---:|\n| %.0f | %.0f |\n\n", 1.0 / t, t * 1e9);
}

static void target_row(const char *what, double got, const char *unit, double want, const char *want_text) {
    printf("| %s | %.2f %s | %s | %s |\n", what, got, unit, want_text, got >= want ? "met" : "**missed**");
}

static void bench_targets(void) {
    printf("### Micro targets\n\n| what | measured | target | |\n|---|---:|---:|---|\n");
    target_row("parse of 16 B frames", micro_got.parse16_mfps, "M frames/s", 50, "≥ 50 M frames/s");
    target_row("unmask 64 KiB vs memcpy", micro_got.unmask64k_pct, "%", 50, "≥ 50%");
    target_row("UTF-8 ASCII vs memcpy", micro_got.utf8_ascii_pct, "%", 50, "≥ 50%");
    target_row("UTF-8 CJK", micro_got.utf8_cjk_gbs, "GB/s", 1, "≥ 1 GB/s");
    target_row("UTF-8 emoji", micro_got.utf8_emoji_gbs, "GB/s", 1, "≥ 1 GB/s");
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--quick")) target_s = 0.05;
    printf("## Micro benchmark (cws %s)\n\n", cws_version());
    bench_frames();
    bench_conn();
    bench_mask();
    bench_utf8();
    bench_handshake();
    bench_targets();
    return 0;
}
