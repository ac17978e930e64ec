/* Broadcast server for scenario (d): every message a socket sends is relayed
 * to every other open socket with cws_server_broadcast (the frame is built
 * once for all recipients). Built on the cws runtime only.
 *   bcast_server [--port N]   (0: ephemeral; prints "listening on HOST:PORT") */
#include <cws.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cws_server *bcast_srv;

static int bcast_on_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)s; (void)req; (void)user;
    return 0;
}

static void bcast_on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    cws_server_broadcast(bcast_srv, opcode, data, len, s);
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    cws_loop *loop = cws_loop_new(NULL);
    if (!loop) return 1;
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.backlog = 4096;
    cfg.ping_interval_ms = CWS_DISABLED; /* no keep-alive traffic in a benchmark */
    cfg.on_upgrade = bcast_on_upgrade;
    cfg.cb.on_message = bcast_on_message;
    int err = 0;
    bcast_srv = cws_server_new(loop, &cfg, &err);
    if (!bcast_srv) {
        fprintf(stderr, "bcast_server: %s\n", cws_strerror(err));
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", cws_server_port(bcast_srv));
    fflush(stdout);
    return cws_loop_run(loop) == CWS_OK ? 0 : 1;
}
