/* The chat room: who is connected, what they may send, and relaying it.
 * The wire format is described in docs/chat-protocol.md. */
#ifndef CHAT_CHAT_H
#define CHAT_CHAT_H

#include "store.h"

#include <cws.h>

#define CHAT_MAX_TEXT 4096    /* bytes of UTF-8 in one message's text */
#define CHAT_MAX_NAME 32      /* bytes of UTF-8 in a name */
#define CHAT_FRESH_REPLAY 200 /* messages a client without ?since= gets */
/* The topic everyone caught up with the history is in (one room today;
 * more rooms would be more topics). */
#define CHAT_ROOM "room"
/* A client resuming from a since this node's tail has not reached (it
 * saw it on another node) waits this long for it, checked this often. */
#define CHAT_PARK_MS 3000
#define CHAT_PARK_POLL_MS 10
/* A replay queues this much (at most half of --high-water), then waits
 * for the client to take it. */
#define CHAT_REPLAY_PIECE (64 * 1024)
/* What the kernel may hold unsent per client (cws_server_config.
 * kernel_unsent_max): with the piece above, what one client that does not
 * read can pin, besides its receive window. */
#define CHAT_KERNEL_UNSENT (64 * 1024)

/* Client addresses remembered for the per-address limits (peers.h): as
 * many as cws_server's default max_connections. */
#define CHAT_MAX_ADDRESSES 100000

typedef struct chat_config {
    double rate;          /* messages per second one client address may send */
    double burst;         /* and at once */
    size_t high_water;    /* the server's, which a replay piece stays under */
    size_t max_per_ip;    /* connections per client address; 0: no limit */
    /* Proxies whose X-Forwarded-For names the client (addresses,
     * NULL-terminated; NULL: none). */
    const char *const *trust_proxies;
} chat_config;

typedef struct chat chat;

/* The room stores into, replays from and tails st (store.h), which it
 * does not own. */
chat *chat_new(cws_loop *loop, store *st, const chat_config *cfg);
/* Frees the room; call once the server is gone and the store closed
 * (which answers the requests still out). */
void chat_free(chat *c);
/* Broadcasts go through srv; set once it exists. */
void chat_set_server(chat *c, cws_server *srv);

/* The server's on_upgrade: accepts /ws[?since=N][&name=...]. */
int chat_upgrade(chat *c, cws_socket *s, const cws_hs_request *req);
/* The socket callbacks for cws_server_config.cb. */
extern const cws_socket_callbacks chat_socket_callbacks;

/* Before cws_server_shutdown(): no more leave notices; the store flushed. */
void chat_shutdown(chat *c);

#endif
