/* Deflate throughput and ratio: cws_deflate against zlib's raw deflate
 * (window 15, memLevel 8, default strategy) at levels 1 and 6, in the same
 * run, on the corpora of codec_corpus.h. MB/s are of input (1 MB = 10^6
 * bytes), best of five calibrated rounds, ours and zlib's interleaved;
 * ratio is input / output. Every stream of ours is checked once with
 * zlib's inflate.
 *
 *   one-shot   the whole corpus in one call with FINISH
 *   messages   the JSON corpus line by line, a SYNC flush after each line
 *              with the window kept (RFC 7692 with context takeover)
 *
 *   codec_deflate [--quick] [--size BYTES]     (default 4 MiB per corpus) */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "cws_deflate.h"

#include "codec_corpus.h"

static double target_s = 0.3;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "codec_deflate: %s\n", what);
    exit(1);
}

typedef struct job {
    const uint8_t *in;
    size_t len;
    const size_t *ends; /* message ends (messages mode), else NULL */
    size_t nends;
    uint8_t *out;
    size_t out_cap, out_len;
    cws_deflater *ours;
    z_stream *zs;
} job;

typedef void (*run_fn)(job *j);

static void ours_part(job *j, const uint8_t *in, size_t n, int flush) {
    size_t c, p;
    int rc = cws_deflate(j->ours, in, n, &c, j->out + j->out_len, j->out_cap - j->out_len, &p, flush);
    if (rc != CWS_OK || c != n) die("cws_deflate failed");
    j->out_len += p;
}

static void run_ours(job *j) {
    cws_deflater_reset(j->ours);
    j->out_len = 0;
    if (!j->ends) {
        ours_part(j, j->in, j->len, CWS_DEFLATE_FINISH);
        return;
    }
    size_t start = 0;
    for (size_t k = 0; k < j->nends; k++) {
        ours_part(j, j->in + start, j->ends[k] - start, CWS_DEFLATE_SYNC);
        start = j->ends[k];
    }
}

static void zlib_part(job *j, const uint8_t *in, size_t n, int flush) {
    j->zs->next_in = (Bytef *)(uintptr_t)in;
    j->zs->avail_in = (uInt)n;
    j->zs->next_out = j->out + j->out_len;
    j->zs->avail_out = (uInt)(j->out_cap - j->out_len);
    int zr = deflate(j->zs, flush);
    if (zr != (flush == Z_FINISH ? Z_STREAM_END : Z_OK) || j->zs->avail_in) die("zlib deflate failed");
    j->out_len = j->out_cap - j->zs->avail_out;
}

static void run_zlib(job *j) {
    deflateReset(j->zs);
    j->out_len = 0;
    if (!j->ends) {
        zlib_part(j, j->in, j->len, Z_FINISH);
        return;
    }
    size_t start = 0;
    for (size_t k = 0; k < j->nends; k++) {
        zlib_part(j, j->in + start, j->ends[k] - start, Z_SYNC_FLUSH);
        start = j->ends[k];
    }
}

/* Seconds per run: repeat for target_s, best of five such rounds. */
static double time_round(run_fn fn, job *j) {
    int reps = 0;
    double t0 = now_s(), t;
    do {
        fn(j);
        reps++;
    } while ((t = now_s() - t0) < target_s / 5);
    return t / reps;
}

static void check_ours(job *j) {
    uint8_t *back = malloc(j->len + 1);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (!back || inflateInit2(&s, -15) != Z_OK) die("inflate setup");
    s.next_in = j->out;
    s.avail_in = (uInt)j->out_len;
    s.next_out = back;
    s.avail_out = (uInt)j->len + 1;
    int zr = inflate(&s, Z_SYNC_FLUSH);
    if ((zr != Z_OK && zr != Z_STREAM_END) || s.total_out != j->len || memcmp(back, j->in, j->len))
        die("our stream does not inflate to the input");
    inflateEnd(&s);
    free(back);
}

static void bench(const char *name, job *j) {
    static const int levels[] = {1, 6};
    for (size_t l = 0; l < 2; l++) {
        int err;
        j->ours = cws_deflater_new(levels[l], 15, NULL, &err);
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (!j->ours || deflateInit2(&zs, levels[l], Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            die("setup");
        j->zs = &zs;
        double best_ours = 1e9, best_zlib = 1e9;
        for (int r = 0; r < 5; r++) {
            double a = time_round(run_ours, j), b = time_round(run_zlib, j);
            if (a < best_ours) best_ours = a;
            if (b < best_zlib) best_zlib = b;
        }
        run_zlib(j);
        size_t zlib_out = j->out_len;
        run_ours(j);
        check_ours(j);
        double mb = (double)j->len / 1e6;
        printf("%-10s %-9s %d  %8.1f %7.3f   %8.1f %7.3f   %6.2fx %+6.2f%%\n", name,
               j->ends ? "messages" : "one-shot", levels[l], mb / best_ours,
               (double)j->len / (double)j->out_len, mb / best_zlib, (double)j->len / (double)zlib_out,
               best_zlib / best_ours, 100.0 * ((double)zlib_out / (double)j->out_len - 1.0));
        cws_deflater_free(j->ours);
        deflateEnd(&zs);
    }
}

int main(int argc, char **argv) {
    size_t size = (size_t)4 << 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            size = (size_t)1 << 20;
            target_s = 0.1;
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            size = strtoull(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: codec_deflate [--quick] [--size BYTES]\n");
            return 2;
        }
    }
    uint8_t *in = malloc(size), *out = malloc(cws_deflate_bound(size) + 1024);
    if (!in || !out) die("out of memory");
    size_t cap = cws_deflate_bound(size) + 1024;
    for (int i = 0; i < 4; i++) {
        int l = i < 2 ? 1 : 6, w = i % 2 ? 9 : 15;
        cws_deflater *z = cws_deflater_new(l, w, NULL, NULL);
        printf("%sdeflater memory: level %d window %d: %zu bytes", i ? ", " : "", l, w,
               cws_deflater_mem_usage(z));
        cws_deflater_free(z);
    }
    printf("\n%zu bytes per corpus; MB/s of input, best of 5; ratio = in/out\n\n", size);
    printf("%-10s %-9s %s  %8s %7s   %8s %7s   %7s %7s\n", "corpus", "mode", "L", "ours MB/s", "ratio",
           "zlib MB/s", "ratio", "speed", "size");
    for (int k = 0; k < CORPUS_COUNT; k++) {
        codec_corpus_fill((enum codec_corpus)k, in, size, 42);
        job j = {in, size, NULL, 0, out, cap, 0, NULL, NULL};
        bench(codec_corpus_names[k], &j);
        if (k != CORPUS_JSON) continue;
        size_t nends = 0;
        for (size_t i = 0; i < size; i++) nends += in[i] == '\n' || i + 1 == size;
        size_t *ends = malloc(nends * sizeof *ends);
        if (!ends) die("out of memory");
        nends = 0;
        for (size_t i = 0; i < size; i++)
            if (in[i] == '\n' || i + 1 == size) ends[nends++] = i + 1;
        j.ends = ends;
        j.nends = nends;
        bench(codec_corpus_names[k], &j);
        free(ends);
    }
    printf("\nspeed: zlib's time / ours (above 1: ours is faster); size: zlib's output / ours - 1\n"
           "(above 0: ours is smaller)\n");
    free(in);
    free(out);
    return 0;
}
