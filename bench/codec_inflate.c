/* Inflate throughput: cws_inflate against zlib's raw inflate on the same
 * compressed input, in the same run. Four corpora (codec_corpus.h), each
 * compressed by zlib at levels 1 and 6 (raw, window 15); figures are MB/s
 * of inflated output (1 MB = 10^6 bytes), best of five calibrated rounds.
 *
 *   one-shot   the whole stream in one call, output buffer of the full size
 *   16k-out    the whole input offered, output in 16 KiB pieces (a
 *              streaming receiver); both libraries keep their window
 *   messages   permessage-deflate's shape: the corpus cut into messages of
 *              64..1024 bytes, one stream with a sync flush after each
 *              (context takeover), inflated one message per call into a
 *              64 KiB buffer
 *
 *   codec_inflate [--quick] [--size BYTES] [--mode NAME]
 *   (default 8 MiB per corpus, every mode) */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "cws_deflate.h"

#include "codec_corpus.h"

static double target_s = 0.4;
static volatile uint64_t sink;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "codec_inflate: %s\n", what);
    exit(1);
}

typedef struct job {
    const uint8_t *comp;
    size_t comp_len;
    const size_t *msg_end; /* messages mode: compressed end of each */
    size_t nmsg;
    const uint8_t *want;
    size_t len;
    uint8_t *out;
    size_t out_step; /* output offered per call */
    cws_inflater *ours;
    z_stream *zs;
} job;

typedef void (*run_fn)(job *j);

static void run_ours(job *j) {
    cws_inflater_reset(j->ours);
    size_t in_pos = 0, out_pos = 0;
    for (;;) {
        size_t c, p, room = j->len + 1 - out_pos;
        if (room > j->out_step) room = j->out_step;
        int rc = cws_inflate(j->ours, j->comp + in_pos, j->comp_len - in_pos, &c,
                             j->out + out_pos, room, &p);
        in_pos += c;
        out_pos += p;
        if (rc == CWS_INFLATE_END) break;
        if (rc != CWS_OK || (c == 0 && p == 0)) die("cws_inflate failed");
    }
    if (out_pos != j->len) die("cws_inflate: wrong length");
    sink += j->out[j->len / 2];
}

/* One call per message; the output of each lands at the start of out. */
static void run_ours_msgs(job *j) {
    cws_inflater_reset(j->ours);
    size_t in_pos = 0, total = 0;
    for (size_t m = 0; m < j->nmsg; m++) {
        size_t c, p;
        int rc = cws_inflate(j->ours, j->comp + in_pos, j->msg_end[m] - in_pos, &c, j->out,
                             65536, &p);
        if (rc != CWS_OK || c != j->msg_end[m] - in_pos) die("cws_inflate failed (messages)");
        in_pos += c;
        total += p;
        sink += j->out[0];
    }
    if (total != j->len) die("cws_inflate: wrong length (messages)");
}

static void run_zlib_msgs(job *j) {
    z_stream *zs = j->zs;
    if (inflateReset(zs) != Z_OK) die("inflateReset");
    size_t in_pos = 0, total = 0;
    for (size_t m = 0; m < j->nmsg; m++) {
        zs->next_in = (Bytef *)(uintptr_t)(j->comp + in_pos);
        zs->avail_in = (uInt)(j->msg_end[m] - in_pos);
        zs->next_out = j->out;
        zs->avail_out = 65536;
        int rc = inflate(zs, Z_SYNC_FLUSH);
        if (rc != Z_OK || zs->avail_in != 0) die("zlib inflate failed (messages)");
        in_pos = j->msg_end[m];
        total += 65536 - zs->avail_out;
        sink += j->out[0];
    }
    if (total != j->len) die("zlib: wrong length (messages)");
}

static void run_zlib(job *j) {
    z_stream *zs = j->zs;
    if (inflateReset(zs) != Z_OK) die("inflateReset");
    zs->next_in = (Bytef *)(uintptr_t)j->comp;
    zs->avail_in = (uInt)j->comp_len;
    size_t out_pos = 0;
    for (;;) {
        size_t room = j->len + 1 - out_pos;
        if (room > j->out_step) room = j->out_step;
        zs->next_out = j->out + out_pos;
        zs->avail_out = (uInt)room;
        int rc = inflate(zs, Z_NO_FLUSH);
        out_pos += room - zs->avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK) die("zlib inflate failed");
    }
    if (out_pos != j->len) die("zlib: wrong length");
    sink += j->out[j->len / 2];
}

/* Seconds per run: doubling iterations until a round takes >= 50 ms, then
 * five rounds of about target_s / 5, best kept. */
static double measure(run_fn fn, job *j) {
    uint64_t iters = 1;
    double t;
    for (;;) {
        double t0 = now_s();
        for (uint64_t i = 0; i < iters; i++) fn(j);
        t = now_s() - t0;
        if (t >= 0.05) break;
        iters *= 2;
    }
    uint64_t per_round = (uint64_t)((double)iters * (target_s / 5) / t) + 1;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        for (uint64_t i = 0; i < per_round; i++) fn(j);
        double per = (now_s() - t0) / (double)per_round;
        if (per < best) best = per;
    }
    return best;
}

static uint8_t *zlib_compress(const uint8_t *src, size_t n, int level, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2");
    size_t cap = deflateBound(&zs, (uLong)n);
    uint8_t *out = malloc(cap);
    if (!out) die("out of memory");
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) die("deflate");
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* The corpus as messages of 64..1024 bytes in one stream, a sync flush
 * after each (RFC 7692 §7.2.1); msg_end[] gets each one's compressed end. */
static uint8_t *zlib_compress_msgs(const uint8_t *src, size_t n, int level, size_t *out_len,
                                   size_t **msg_end, size_t *nmsg) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2");
    size_t cap = deflateBound(&zs, (uLong)n) + n / 8 + 64; /* + 5..6 bytes per flush */
    uint8_t *out = malloc(cap);
    size_t *ends = malloc(sizeof *ends * (n / 64 + 2));
    if (!out || !ends) die("out of memory");
    uint64_t s = 12345;
    size_t pos = 0, k = 0;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    while (pos < n) {
        size_t m = 64 + codec_below(&s, 961);
        if (m > n - pos) m = n - pos;
        zs.next_in = (Bytef *)(uintptr_t)(src + pos);
        zs.avail_in = (uInt)m;
        if (deflate(&zs, Z_SYNC_FLUSH) != Z_OK || zs.avail_in) die("deflate (messages)");
        pos += m;
        ends[k++] = cap - zs.avail_out;
    }
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    *msg_end = ends;
    *nmsg = k;
    return out;
}

int main(int argc, char **argv) {
    size_t size = 8u << 20;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) target_s = 0.05;
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) only = argv[++i];
        else die("usage: codec_inflate [--quick] [--size BYTES] [--mode one-shot|16k-out|messages]");
    }
    uint8_t *data = malloc(size), *out = malloc(size + 1);
    if (!data || !out) die("out of memory");
    int err;
    cws_inflater *ours = cws_inflater_new(15, NULL, &err);
    if (!ours) die("cws_inflater_new");
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK) die("inflateInit2");

    printf("## Inflate throughput (MB/s of output), %zu-byte corpora, zlib %s\n\n", size,
           zlibVersion());
    printf("| corpus | level | ratio | mode | cws | zlib | cws/zlib |\n");
    printf("|---|---|---|---|---|---|---|\n");
    static const int levels[] = {1, 6};
    static const size_t steps[] = {SIZE_MAX, 16384, 0};
    static const char *const step_names[] = {"one-shot", "16k-out", "messages"};
    for (int k = 0; k < CORPUS_COUNT; k++) {
        codec_corpus_fill((enum codec_corpus)k, data, size, 0xC0DEC + (uint64_t)k);
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            size_t clen, mlen, *msg_end, nmsg;
            uint8_t *comp = zlib_compress(data, size, levels[l], &clen);
            uint8_t *mcomp = zlib_compress_msgs(data, size, levels[l], &mlen, &msg_end, &nmsg);
            for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
                if (only && strcmp(only, step_names[s]) != 0) continue;
                int msgs = steps[s] == 0;
                job j = {msgs ? mcomp : comp, msgs ? mlen : clen, msg_end, nmsg, data, size, out,
                         steps[s], ours, &zs};
                run_fn f_ours = msgs ? run_ours_msgs : run_ours;
                run_fn f_zlib = msgs ? run_zlib_msgs : run_zlib;
                if (!msgs) {
                    run_ours(&j);
                    if (memcmp(out, data, size) != 0) die("cws_inflate: wrong output");
                    run_zlib(&j);
                    if (memcmp(out, data, size) != 0) die("zlib: wrong output");
                }
                double t_ours = measure(f_ours, &j), t_zlib = measure(f_zlib, &j);
                double mb = (double)size / 1e6;
                printf("| %s | %d | %.2f | %s | %.0f | %.0f | %.2f |\n", codec_corpus_names[k],
                       levels[l], (double)size / (double)j.comp_len, step_names[s], mb / t_ours,
                       mb / t_zlib, t_zlib / t_ours);
                fflush(stdout);
            }
            free(msg_end);
            free(mcomp);
            free(comp);
        }
    }
    printf("\ncws_inflater_mem_usage: window 15: %zu bytes\n", cws_inflater_mem_usage(ours));
    inflateEnd(&zs);
    cws_inflater_free(ours);
    free(out);
    free(data);
    return 0;
}
