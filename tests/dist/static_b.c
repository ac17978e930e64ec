/* Library B: embeds its own private cws (CWS_STATIC), configured
 * differently from library A's (no runtime), and runs a client-to-server
 * message through two in-memory cws_conn endpoints. */
#define CWS_STATIC
#define CWS_NO_RUNTIME
#define CWS_IMPLEMENTATION
#include "../../single/cws.h"

#include <string.h>

#include "static.h"

typedef struct got {
    char *out;
    size_t cap;
    int len;
} got;

static void on_message(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)c;
    got *g = user;
    if (opcode != CWS_OP_TEXT || len >= g->cap) return;
    memcpy(g->out, data, len);
    g->out[len] = '\0';
    g->len = (int)len;
}

int lib_b_echo(const char *msg, char *out, size_t cap) {
    got g = {out, cap, -1};
    cws_conn_config ccfg, scfg;
    memset(&ccfg, 0, sizeof ccfg);
    memset(&scfg, 0, sizeof scfg);
    ccfg.role = CWS_CLIENT;
    scfg.role = CWS_SERVER;
    scfg.cb.on_message = on_message;
    scfg.user = &g;
    cws_conn *client = cws_conn_new(&ccfg, NULL);
    cws_conn *server = cws_conn_new(&scfg, NULL);
    int rc = -1;
    if (client && server && cws_conn_send(client, CWS_OP_TEXT, msg, strlen(msg)) == CWS_OK) {
        /* The client's output is a masked frame; the server unmasks it in
         * place, so hand it a copy. */
        const uint8_t *bytes;
        size_t n = cws_conn_output(client, &bytes);
        uint8_t frame[256];
        if (n > 0 && n <= sizeof frame) {
            memcpy(frame, bytes, n);
            cws_conn_consume(client, n);
            if (cws_conn_recv(server, frame, n) == (ptrdiff_t)n) rc = g.len;
        }
    }
    cws_conn_free(client);
    cws_conn_free(server);
    return rc;
}
