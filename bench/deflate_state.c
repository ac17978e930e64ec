/* Reference figures for the permessage-deflate memory scenario: the bytes
 * of codec state one connection holds between messages, for cws's codec
 * (cws_deflater_mem_usage / cws_inflater_mem_usage at the settings
 * cws-echo --deflate uses: level 6, window 15) and for zlib (deflateInit2
 * level 6, raw window 15, memLevel 8, as Node ws and libwebsockets use it;
 * inflateInit2 raw window 15), counted through zlib's allocator hooks
 * after one ~2.4 KiB message each way, since zlib's inflater allocates its
 * window on first use. Allocated, not resident: zlib leaves most of its
 * deflate buffers untouched for small messages, cws zeroes its block at
 * creation (see the RSS rows of the same table).
 * Output: key=value lines in the form of bench/loadgen.c's, for report.py.
 *   deflate_state */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cws_deflate.h"

static size_t zlib_bytes;

static voidpf count_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    size_t n = (size_t)items * size;
    size_t *p = malloc(sizeof(size_t) * 2 + n);
    if (!p) return Z_NULL;
    p[0] = n;
    zlib_bytes += n;
    return p + 2;
}

static void count_free(voidpf opaque, voidpf address) {
    (void)opaque;
    if (!address) return;
    size_t *p = (size_t *)address - 2;
    zlib_bytes -= p[0];
    free(p);
}

static void die(const char *what) {
    fprintf(stderr, "deflate_state: %s\n", what);
    exit(1);
}

int main(void) {
    /* One message of the kind the load scenario sends. */
    uint8_t msg[2400], comp[4096], back[4096];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)"{\"type\":\"message\",\"text\":\"hello\"}"[i % 34];

    int err = 0;
    cws_deflater *d = cws_deflater_new(6, 15, NULL, &err);
    cws_inflater *f = cws_inflater_new(15, NULL, &err);
    if (!d || !f) die("cws codec: out of memory");
    size_t used, made, used2, made2;
    if (cws_deflate(d, msg, sizeof msg, &used, comp, sizeof comp, &made, CWS_DEFLATE_SYNC) != CWS_OK) die("cws_deflate");
    if (cws_inflate(f, comp, made, &used2, back, sizeof back, &made2) < 0 || made2 != sizeof msg) die("cws_inflate");
    size_t cws_def = cws_deflater_mem_usage(d), cws_inf = cws_inflater_mem_usage(f);
    cws_deflater_free(d);
    cws_inflater_free(f);

    z_stream zd, zi;
    memset(&zd, 0, sizeof zd);
    memset(&zi, 0, sizeof zi);
    zd.zalloc = zi.zalloc = count_alloc;
    zd.zfree = zi.zfree = count_free;
    if (deflateInit2(&zd, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2");
    zd.next_in = msg;
    zd.avail_in = sizeof msg;
    zd.next_out = comp;
    zd.avail_out = sizeof comp;
    if (deflate(&zd, Z_SYNC_FLUSH) != Z_OK) die("deflate");
    size_t z_def = zlib_bytes;
    if (inflateInit2(&zi, -15) != Z_OK) die("inflateInit2");
    zi.next_in = comp;
    zi.avail_in = (uInt)(sizeof comp - zd.avail_out);
    zi.next_out = back;
    zi.avail_out = sizeof back;
    if (inflate(&zi, Z_SYNC_FLUSH) != Z_OK || sizeof back - zi.avail_out != sizeof msg) die("inflate");
    size_t z_inf = zlib_bytes - z_def;
    deflateEnd(&zd);
    inflateEnd(&zi);

    printf("server=ref-cws scen=pmd-mem run=1 state_b=%zu deflate_b=%zu inflate_b=%zu\n", cws_def + cws_inf,
           cws_def, cws_inf);
    printf("server=ref-zlib scen=pmd-mem run=1 state_b=%zu deflate_b=%zu inflate_b=%zu zlib=%s\n", z_def + z_inf,
           z_def, z_inf, zlibVersion());
    return 0;
}
