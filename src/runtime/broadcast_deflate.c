/* A broadcast compressed once (RFC 7692): for receivers that agreed to
 * server_no_context_takeover, every compressed message is a stream of its
 * own, so the same bytes are right for all of them (given their window).
 * One deflater per window size is kept by the server, reset after each
 * message. Left out with the codec (CWS_NO_DEFLATE): no connection then
 * has the extension, so nothing asks. */
#include "runtime.h"
#include "cws_deflate.h"

#ifndef CWS_NO_DEFLATE
int cws__server_bcast_deflate(cws_server *srv, int opcode, const void *data, size_t len, int bits, rt_frame *out) {
    cws_deflater **d = &srv->bcast_def[bits - CWS_DEFLATE_WINDOW_MIN];
    if (!*d) *d = cws_deflater_new(srv->cfg.deflate.level, bits, NULL, NULL);
    if (!*d) return -1;
    size_t need = cws_deflate_bound(len);
    if (srv->bcast_zcap < need) {
        uint8_t *z = cws__realloc(NULL, srv->bcast_z, need);
        if (!z) return -1;
        srv->bcast_z = z;
        srv->bcast_zcap = need;
    }
    size_t used = 0, made = 0;
    int rc = cws_deflate(*d, data, len, &used, srv->bcast_z, srv->bcast_zcap, &made, CWS_DEFLATE_SYNC);
    cws_deflater_reset(*d);
    if (rc != CWS_OK || made < 4) return -1;
    /* §7.2.1: without the sync flush's 00 00 ff ff; RSV1: compressed (§6).
     * Its own class of broadcast buffer per window: receivers of one
     * window get consecutive compressed frames side by side. */
    return cws__shared_frame(srv->loop, 1 + bits - CWS_DEFLATE_WINDOW_MIN, opcode, 4, srv->bcast_z, made - 4, out);
}

void cws__server_bcast_free(cws_server *srv) {
    for (size_t i = 0; i < sizeof srv->bcast_def / sizeof srv->bcast_def[0]; i++) {
        cws_deflater_free(srv->bcast_def[i]);
        srv->bcast_def[i] = NULL;
    }
    rt_free(srv->bcast_z);
    srv->bcast_z = NULL;
    srv->bcast_zcap = 0;
}
#else
int cws__server_bcast_deflate(cws_server *srv, int opcode, const void *data, size_t len, int bits, rt_frame *out) {
    (void)srv;
    (void)opcode;
    (void)data;
    (void)len;
    (void)bits;
    (void)out;
    return -1;
}

void cws__server_bcast_free(cws_server *srv) { (void)srv; }
#endif
