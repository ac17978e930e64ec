/* Broadcast server for scenario (d): every message a socket sends is relayed
 * to every other open socket with cws_server_broadcast (the frame is built
 * once for all recipients). Built on the cws runtime only.
 *   bcast_server [--port N]   (0: ephemeral; prints "listening on HOST:PORT")
 *   bcast_server --topic [--idle N]
 *       the same through a topic: every socket that connects (the load
 *       generator's) joins topic "room" and messages are relayed with
 *       cws_server_publish; --idle N first opens N more connections to the
 *       server from inside it, which stay idle and join no topic, so a
 *       publish to the room's R members runs among R + N connections. */
#include <cws.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cws_server *bcast_srv;
static int bcast_topic;
static int idle_open;

static int bcast_on_upgrade(cws_socket *s, const cws_hs_request *req, void *user) {
    (void)user;
    /* The idle connections ask for /idle: they stay out of the room. */
    if (req->http.path.len == 5 && !memcmp(req->http.path.ptr, "/idle", 5)) cws_socket_set_user(s, &idle_open);
    return 0;
}

static void bcast_on_open(cws_socket *s, void *user) {
    if (bcast_topic && !user && cws_socket_subscribe(s, "room", 4) != CWS_OK) cws_socket_close(s, 1011, NULL, 0);
}

static void bcast_on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)user;
    if (bcast_topic) cws_server_publish(bcast_srv, "room", 4, opcode, data, len, s);
    else cws_server_broadcast(bcast_srv, opcode, data, len, s);
}

static void idle_client_open(cws_socket *s, void *user) {
    (void)s;
    (void)user;
    idle_open++;
}

int main(int argc, char **argv) {
    int port = 0, idle = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--topic")) bcast_topic = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--port")) port = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--idle")) idle = atoi(argv[++i]);
    }
    cws_loop *loop = cws_loop_new(NULL);
    if (!loop) return 1;
    cws_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.backlog = 4096;
    cfg.ping_interval_ms = CWS_DISABLED; /* no keep-alive traffic in a benchmark */
    cfg.on_upgrade = bcast_on_upgrade;
    cfg.cb.on_open = bcast_on_open;
    cfg.cb.on_message = bcast_on_message;
    int err = 0;
    bcast_srv = cws_server_new(loop, &cfg, &err);
    if (!bcast_srv) {
        fprintf(stderr, "bcast_server: %s\n", cws_strerror(err));
        return 1;
    }
    if (idle) {
        char url[64];
        snprintf(url, sizeof url, "ws://127.0.0.1:%d/idle", cws_server_port(bcast_srv));
        cws_client_config cc;
        memset(&cc, 0, sizeof cc);
        cc.ping_interval_ms = CWS_DISABLED;
        cc.cb.on_open = idle_client_open;
        /* In steps, so the listen backlog never overflows. */
        for (int started = 0; started < idle || idle_open < idle;) {
            while (started < idle && started - idle_open < 1000) {
                if (!cws_connect(loop, url, &cc, &err)) {
                    fprintf(stderr, "bcast_server: idle connection: %s\n", cws_strerror(err));
                    return 1;
                }
                started++;
            }
            cws_loop_run_once(loop, 10);
        }
    }
    printf("listening on 127.0.0.1:%d\n", cws_server_port(bcast_srv));
    fflush(stdout);
    return cws_loop_run(loop) == CWS_OK ? 0 : 1;
}
