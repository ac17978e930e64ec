/* The deflater: for any input, level, window, message cuts, input chunks
 * and output space (all taken from the fuzz input), zlib's raw inflate at
 * exactly that window (which rejects a distance beyond it) gives back the
 * input, message by message; the bytes do not depend on the chunking; a
 * sync-flushed message ends in 00 00 ff ff; one call stays within
 * cws_deflate_bound; nothing is allocated after construction. cws_inflate
 * must agree with zlib on every message too. */
#include "fuzz_util.h"

#include <cws_deflate.h>
#include <zlib.h>

typedef struct fuzz_out {
    uint8_t *p;
    size_t n, cap;
} fuzz_out;

static void out_reserve(fuzz_out *o, size_t more) {
    if (o->n + more <= o->cap) return;
    o->cap = (o->n + more) * 2;
    o->p = realloc(o->p, o->cap);
    FUZZ_CHECK(o->p != NULL);
}

static size_t alloc_calls;
static void *counting_realloc(void *user, void *ptr, size_t size) {
    (void)user;
    alloc_calls++;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

/* One message: chunk and space 0 mean "all at once" and "bound's worth". */
static void compress_msg(cws_deflater *z, fuzz_out *o, const uint8_t *in, size_t n, int flush,
                         uint32_t *rs, int chunky) {
    size_t pos = 0;
    do {
        size_t len = n - pos;
        if (chunky) {
            size_t want = 1 + fuzz_rand(rs) % 3000;
            if (want < len) len = want;
        }
        int f = pos + len == n ? flush : CWS_DEFLATE_NO_FLUSH;
        size_t off = 0;
        for (;;) {
            size_t space = chunky ? 1 + fuzz_rand(rs) % (fuzz_rand(rs) % 2 ? 8 : 4096)
                                  : cws_deflate_bound(len - off);
            out_reserve(o, space);
            size_t used = 0, made = 0;
            int rc = cws_deflate(z, in + pos + off, len - off, &used, o->p + o->n, space, &made, f);
            FUZZ_CHECK(made <= space && used <= len - off);
            off += used;
            o->n += made;
            if (rc == CWS_OK) break;
            FUZZ_CHECK(rc == CWS_ERR_AGAIN);
            /* One call with SYNC and bound's worth of space always ends. */
            FUZZ_CHECK(chunky || f == CWS_DEFLATE_NO_FLUSH);
        }
        FUZZ_CHECK(off == len);
        pos += len;
    } while (pos < n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    int level = 1 + fuzz_byte(&in) % 9;
    int wbits = 8 + fuzz_byte(&in) % 8;
    uint8_t opt = fuzz_byte(&in);
    int nmsg = 1 + (opt & 7);
    int takeover = !(opt & 8), finish = !!(opt & 16);
    unsigned copies = 1 + fuzz_byte(&in) % 16; /* repeat the data: slides, long matches */
    uint32_t seed = fuzz_u32(&in);

    size_t n = in.n * copies;
    uint8_t *src = fuzz_dup(in.p, in.n);
    uint8_t *msg = malloc(n ? n : 1);
    FUZZ_CHECK(msg != NULL);
    for (unsigned c = 0; c < copies; c++) {
        if (in.n) memcpy(msg + c * in.n, src, in.n);
        if (in.n && c) msg[c * in.n + (seed + c) % in.n] ^= (uint8_t)c; /* near, not equal */
    }
    free(src);

    /* Message ends, ascending. */
    size_t cut[8];
    uint32_t rs = seed;
    for (int k = 0; k < nmsg; k++) cut[k] = n ? fuzz_rand(&rs) % (n + 1) : 0;
    cut[nmsg - 1] = n;
    for (int a = 0; a < nmsg; a++)
        for (int b = a + 1; b < nmsg; b++)
            if (cut[b] < cut[a]) {
                size_t t = cut[a];
                cut[a] = cut[b], cut[b] = t;
            }

    cws_allocator alloc = {counting_realloc, NULL};
    cws_deflater *whole = cws_deflater_new(level, wbits, &alloc, NULL);
    cws_deflater *chunked = cws_deflater_new(level, wbits, NULL, NULL);
    FUZZ_CHECK(whole && chunked);
    size_t calls = alloc_calls;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    FUZZ_CHECK(inflateInit2(&zs, -wbits) == Z_OK);
    cws_inflater *inf = cws_inflater_new(wbits, NULL, NULL);
    FUZZ_CHECK(inf != NULL);
    uint8_t *back = malloc(n + 1);
    FUZZ_CHECK(back != NULL);

    size_t start = 0;
    for (int k = 0; k < nmsg; k++) {
        int last = k == nmsg - 1;
        int flush = last && finish ? CWS_DEFLATE_FINISH : CWS_DEFLATE_SYNC;
        size_t len = cut[k] - start;
        if (!takeover) {
            cws_deflater_reset(whole);
            cws_deflater_reset(chunked);
            FUZZ_CHECK(inflateReset(&zs) == Z_OK);
            cws_inflater_reset(inf);
        }
        fuzz_out a = {0}, b = {0};
        compress_msg(whole, &a, msg + start, len, flush, &rs, 0);
        compress_msg(chunked, &b, msg + start, len, flush, &rs, 1);
        FUZZ_CHECK(a.n <= cws_deflate_bound(len));
        FUZZ_CHECK(a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0));
        if (flush == CWS_DEFLATE_SYNC)
            FUZZ_CHECK(a.n >= 4 && memcmp(a.p + a.n - 4, "\x00\x00\xff\xff", 4) == 0);

        zs.next_in = a.p;
        zs.avail_in = (uInt)a.n;
        zs.next_out = back;
        zs.avail_out = (uInt)len + 1;
        int zr = inflate(&zs, Z_SYNC_FLUSH);
        if (flush == CWS_DEFLATE_FINISH) FUZZ_CHECK(zr == Z_STREAM_END);
        else FUZZ_CHECK(zr == Z_OK || zr == Z_BUF_ERROR);
        FUZZ_CHECK(zs.avail_in == 0);
        FUZZ_CHECK(zs.avail_out == 1);
        FUZZ_CHECK(len == 0 || memcmp(back, msg + start, len) == 0);

        size_t used = 0, made = 0;
        int rc = cws_inflate(inf, a.p, a.n, &used, back, len + 1, &made);
        FUZZ_CHECK(rc == (flush == CWS_DEFLATE_FINISH ? CWS_INFLATE_END : CWS_OK));
        FUZZ_CHECK(used == a.n && made == len);
        FUZZ_CHECK(len == 0 || memcmp(back, msg + start, len) == 0);
        free(a.p);
        free(b.p);
        start = cut[k];
    }
    FUZZ_CHECK(alloc_calls == calls);
    if (finish) {
        size_t used, made;
        uint8_t o[8];
        FUZZ_CHECK(cws_deflate(whole, NULL, 0, &used, o, sizeof o, &made, 0) == CWS_ERR_STATE);
    }
    inflateEnd(&zs);
    cws_inflater_free(inf);
    cws_deflater_free(whole);
    cws_deflater_free(chunked);
    free(back);
    free(msg);
    return 0;
}
