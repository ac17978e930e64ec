/* Peer echo server for the benchmarks: libwebsockets (Debian
 * libwebsockets-dev) with its own event loop. Each received message is
 * collected whole (frames may arrive in several RECEIVE callbacks), queued,
 * and written back with the same opcode from SERVER_WRITEABLE, one
 * lws_write per callback as the library asks. A 64 KiB rx buffer per
 * protocol: 16 KiB messages then arrive in one callback (1.7x the default's
 * throughput in scenario (b)), and idle RSS is the same as with the default
 * (only the touched page of the buffer counts).
 * --deflate turns on libwebsockets' permessage-deflate extension
 * (lws_extension_callback_pm_deflate, zlib), at compression level 6 to
 * match cws and Node ws (lws's own default is 1; memLevel 8 is kept), with
 * 16 KiB inflate and deflate buffers instead of 1 KiB: with the default,
 * lws 4.1.6 corrupts messages as soon as several connections send
 * compressed messages at once (zlib "invalid distance too far back",
 * echoes of the wrong length), apparently input left pending in the
 * shared rx buffer when a message inflates to more than 1 KiB; with
 * 16 KiB a 1-4 KiB message inflates in one call and every echo checks.
 * --broadcast relays every message to every open session, the sender
 * included (the fan-out benchmark, issue 18), the way the libwebsockets
 * examples share a ring among sessions: each message is stored once
 * (LWS_PRE + payload, so lws_write frames it in place without a copy), on
 * one list all sessions read in order; a session holds a pointer to the
 * next message it must send, each message counts the sessions still to
 * send it and is freed by the last. A session that was caught up asks for
 * a writeable callback; each callback writes one message with lws_write
 * and asks again while more are waiting.
 *   lws_echo [--port N] [--deflate] [--deflate-level L] [--broadcast]
 *   (port 0: ephemeral; prints "listening on HOST:PORT") */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct msg {
    struct msg *next;
    size_t len;
    int binary;
    unsigned char buf[]; /* LWS_PRE bytes of room, then the payload */
} msg;

/* --broadcast: one copy of each message for every session. */
typedef struct bmsg {
    struct bmsg *next;
    size_t len, refs;     /* sessions that have still to send it */
    int binary;
    unsigned char buf[];  /* LWS_PRE bytes of room, then the payload */
} bmsg;

typedef struct session {
    msg *head, *tail;
    unsigned char *part;  /* the message being received */
    size_t part_len, part_cap;
    int part_binary;
    /* --broadcast */
    struct lws *wsi;
    struct session *prev_s, *next_s;
    bmsg *bnext;          /* the next message to send; NULL: caught up */
} session;

static int broadcast;
static session *sessions;      /* every open session (--broadcast) */
static size_t n_sessions;
static bmsg *btail;            /* the newest message, while not freed */

static void bmsg_release(bmsg *m) {
    if (--m->refs) return;
    if (m == btail) btail = NULL;
    free(m);
}

static int bcast_append(const unsigned char *data, size_t len, int binary) {
    bmsg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m) return -1;
    m->next = NULL;
    m->len = len;
    m->refs = n_sessions;
    m->binary = binary;
    memcpy(m->buf + LWS_PRE, data, len);
    if (btail) btail->next = m;
    btail = m;
    for (session *x = sessions; x; x = x->next_s) {
        if (x->bnext) continue; /* already waiting for a writeable callback */
        x->bnext = m;
        lws_callback_on_writable(x->wsi);
    }
    return 0;
}

static void bcast_leave(session *s) {
    for (bmsg *m = s->bnext; m;) {
        bmsg *n = m->next;
        bmsg_release(m);
        m = n;
    }
    s->bnext = NULL;
    if (s->prev_s) s->prev_s->next_s = s->next_s; else sessions = s->next_s;
    if (s->next_s) s->next_s->prev_s = s->prev_s;
    n_sessions--;
}

static void session_clear(session *s) {
    while (s->head) {
        msg *m = s->head;
        s->head = m->next;
        free(m);
    }
    s->tail = NULL;
    free(s->part);
    s->part = NULL;
    s->part_len = s->part_cap = 0;
}

static char deflate_level[4]; /* "" without --deflate */

static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    session *s = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(s, 0, sizeof *s);
        /* The deflater is made on the first send: in time for the level.
         * Fails harmlessly when the client did not negotiate it. */
        if (deflate_level[0]) {
            lws_set_extension_option(wsi, "permessage-deflate", "compression_level", deflate_level);
            lws_set_extension_option(wsi, "permessage-deflate", "rx_buf_size", "14");
            lws_set_extension_option(wsi, "permessage-deflate", "tx_buf_size", "14");
        }
        if (broadcast) {
            s->wsi = wsi;
            s->next_s = sessions;
            if (sessions) sessions->prev_s = s;
            sessions = s;
            n_sessions++;
        }
        return 0;
    case LWS_CALLBACK_RECEIVE: {
        if (lws_is_first_fragment(wsi)) {
            s->part_len = 0;
            s->part_binary = lws_frame_is_binary(wsi);
        }
        if (s->part_len + len > s->part_cap) {
            size_t cap = s->part_cap ? s->part_cap : 256;
            while (cap < s->part_len + len) cap *= 2;
            unsigned char *p = realloc(s->part, cap);
            if (!p) return -1;
            s->part = p;
            s->part_cap = cap;
        }
        memcpy(s->part + s->part_len, in, len);
        s->part_len += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
        if (broadcast) return bcast_append(s->part, s->part_len, s->part_binary);
        msg *m = malloc(sizeof *m + LWS_PRE + s->part_len);
        if (!m) return -1;
        m->next = NULL;
        m->len = s->part_len;
        m->binary = s->part_binary;
        memcpy(m->buf + LWS_PRE, s->part, s->part_len);
        if (s->tail) s->tail->next = m; else s->head = m;
        s->tail = m;
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (broadcast) {
            /* More than one lws_write per callback while the socket takes
             * them (lws_send_pipe_choked: no partial write pending and
             * POLLOUT), as the libwebsockets maintainer allows: a round of
             * k messages then costs one callback, not k. */
            do {
                bmsg *b = s->bnext;
                if (!b) return 0;
                int n = lws_write(wsi, b->buf + LWS_PRE, b->len, b->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
                if (n < (int)b->len) return -1;
                s->bnext = b->next;
                bmsg_release(b);
            } while (s->bnext && !lws_send_pipe_choked(wsi));
            if (s->bnext) lws_callback_on_writable(wsi);
            return 0;
        }
        msg *m = s->head;
        if (!m) return 0;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (n < (int)m->len) return -1;
        s->head = m->next;
        if (!s->head) s->tail = NULL;
        free(m);
        if (s->head) lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLOSED:
        if (broadcast && s->wsi) bcast_leave(s);
        session_clear(s);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"echo", on_event, sizeof(session), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_extension extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
    int port = 0, deflate = 0, level = 6;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--deflate")) deflate = 1;
        else if (!strcmp(argv[i], "--broadcast")) broadcast = 1;
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--deflate-level") && i + 1 < argc) level = atoi(argv[++i]);
    }
    if (deflate) snprintf(deflate_level, sizeof deflate_level, "%d", level);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (deflate) info.extensions = extensions;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "lws_echo: lws_create_context failed\n");
        return 1;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
    printf("listening on 127.0.0.1:%d\n", vh ? lws_get_vhost_listen_port(vh) : port);
    fflush(stdout);
    while (lws_service(ctx, 0) >= 0) {
    }
    lws_context_destroy(ctx);
    return 0;
}
