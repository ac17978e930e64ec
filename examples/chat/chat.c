/* The chat room; see chat.h and docs/chat-protocol.md. */
#define _POSIX_C_SOURCE 200809L

#include "chat.h"
#include "client_addr.h"
#include "epoch.h"
#include "json.h"
#include "peers.h"
#include "post_ids.h"
#include "presence.h"

#include <cws_util.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct chat_client {
    chat *room;
    cws_socket *sock;
    struct chat_client *prev, *next;
    int open;             /* on_open happened: counted, gets broadcasts */
    int has_since;        /* asked to resume after seq `since` */
    uint64_t since;
    int other_epoch;      /* its since is of another epoch: those seqs meant other messages */
    char name[CHAT_MAX_NAME];
    size_t name_len;      /* 0: anonymous */
    int replaying;        /* catching up from the history: no broadcasts yet */
    int fresh;            /* no usable since: replays the newest, without gap notices */
    int reading;          /* a replay read is out at the store */
    int parked;           /* its since is ahead of this node's tail: waiting for it */
    uint64_t park_until;  /* loop time when waiting stops */
    uint64_t sent_upto;   /* replay: every kept message up to here is queued */
    unsigned refs;        /* store requests out for it: freed when 0 and closed */
    int closed;           /* on_close happened: sock is gone */
    int rtt_sent;         /* the latency last reported, -1 before any */
    peer *from;           /* its address's limits, shared with its other connections */
    uint32_t refused;     /* messages refused for the rate since the last accepted */
} chat_client;

struct chat {
    cws_loop *loop;
    cws_server *server;
    store *st;
    chat_config cfg;
    chat_client *clients; /* pending and open */
    peers *peers;         /* per-address connection counts and rate */
    trusted_proxies proxies;
    size_t online;
    int shutting_down;
    size_t parked;        /* clients waiting for the tail (see park) */
    cws_timer *park_timer;
    presence *presence;   /* joins and leaves, sent in batches */
    json_buf out;         /* reused for every message we build */
    char *text;           /* CHAT_MAX_TEXT bytes of scratch for decoding */
};

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *display_name(const chat_client *cl, size_t *len) {
    if (cl->name_len == 0) {
        *len = 9;
        return "anonymous";
    }
    *len = cl->name_len;
    return cl->name;
}

/* ------------------------------------------------------------ output */

/* Starts a {"type":...} object in the room's buffer. */
static json_buf *begin(chat *c, const char *type) {
    json_buf_reset(&c->out);
    json_begin(&c->out);
    json_key_cstring(&c->out, "type", type);
    return &c->out;
}

static void send_out(chat_client *cl) {
    json_buf *b = &cl->room->out;
    json_end(b);
    if (!b->failed) cws_socket_send(cl->sock, CWS_OP_TEXT, b->data, b->len);
}

/* To every client in the room: the ones caught up with the history. */
static void publish(chat *c, const void *json, size_t len) {
    cws_server_publish(c->server, CHAT_ROOM, sizeof CHAT_ROOM - 1, CWS_OP_TEXT, json, len, NULL);
}

static void broadcast_out(chat *c) {
    json_end(&c->out);
    if (!c->out.failed && c->server) publish(c, c->out.data, c->out.len);
}

static void send_error(chat_client *cl, const char *code, const char *text) {
    json_buf *b = begin(cl->room, "error");
    json_key_cstring(b, "code", code);
    json_key_cstring(b, "text", text);
    send_out(cl);
}

static void send_notice(chat_client *cl, const char *code, const char *text, uint64_t from, uint64_t to) {
    json_buf *b = begin(cl->room, "notice");
    json_key_cstring(b, "code", code);
    json_key_cstring(b, "text", text);
    json_key_uint(b, "from", from);
    json_key_uint(b, "to", to);
    send_out(cl);
}

/* A presence batch, to everyone caught up (a client still replaying
 * skips it: its synced says how many are online). */
static void broadcast_presence(void *user, const char *json, size_t len) {
    chat *c = user;
    if (c->server) publish(c, json, len);
}

_Static_assert(CHAT_MAX_NAME <= PRESENCE_MAX_NAME, "presence batches hold whole names");

/* ------------------------------------------------------------ names */

/* Characters that do not show as themselves, so a name holding one can
 * pass for another: controls (Cc: C0, DEL and C1 such as U+0085), the line
 * and paragraph separators (Zl, Zp: U+2028, U+2029) and every format
 * character (Cf, as of Unicode 15.1): bidi overrides and isolates that
 * reorder what follows them, zero-width spaces and joiners, the BOM,
 * invisible operators and tags. */
static const struct {
    uint32_t lo, hi;
} name_refused[] = {
    {0x0000, 0x001F},   {0x007F, 0x009F},   {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},
    {0x06DD, 0x06DD},   {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x180E, 0x180E},
    {0x200B, 0x200F},   {0x2028, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},   {0xFEFF, 0xFEFF},
    {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
    {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
};

static int name_char_ok(uint32_t cp) {
    for (size_t i = 0; i < sizeof name_refused / sizeof name_refused[0]; i++)
        if (cp >= name_refused[i].lo && cp <= name_refused[i].hi) return 0;
    return 1;
}

/* The code point at *p, which is valid UTF-8; advances *p past it. */
static uint32_t next_code_point(const unsigned char **p) {
    const unsigned char *s = *p;
    size_t n = s[0] < 0x80 ? 1 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
    uint32_t cp = n == 1 ? s[0] : (uint32_t)(s[0] & (0x7F >> n));
    for (size_t i = 1; i < n; i++) cp = cp << 6 | (s[i] & 0x3F);
    *p = s + n;
    return cp;
}

/* A name is trimmed, valid UTF-8, has none of name_refused and fits
 * CHAT_MAX_NAME bytes; empty means anonymous. Names are not identities:
 * nothing makes one unique, so "anonymous" and a case variant of someone
 * else's name are allowed (docs/chat-protocol.md). Returns its length in
 * out, or -1. */
static ptrdiff_t clean_name(const char *in, size_t len, char out[CHAT_MAX_NAME]) {
    while (len && (in[0] == ' ' || in[0] == '\t')) { in++; len--; }
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\t')) len--;
    if (len > CHAT_MAX_NAME || cws_utf8_validate(in, len) != CWS_OK) return -1;
    const unsigned char *p = (const unsigned char *)in, *end = p + len;
    while (p < end)
        if (!name_char_ok(next_code_point(&p))) return -1;
    memcpy(out, in, len);
    return (ptrdiff_t)len;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Strict application/x-www-form-urlencoded value decoding ('+' is a
 * space, %XX a byte). Returns the length or -1 (bad escape, too long). */
static ptrdiff_t percent_decode(cws_str in, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char ch = in.ptr[i];
        if (ch == '%') {
            int hi = i + 2 < in.len ? hex_digit(in.ptr[i + 1]) : -1;
            int lo = i + 2 < in.len ? hex_digit(in.ptr[i + 2]) : -1;
            if (hi < 0 || lo < 0) return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if (n == cap) return -1;
        out[n++] = ch;
    }
    return (ptrdiff_t)n;
}

/* "since" must be a plain decimal number that fits 64 bits. */
static int parse_seq(cws_str s, uint64_t *out) {
    uint64_t v = 0;
    if (s.len == 0 || s.len > 20) return -1;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return -1;
        uint64_t d = (uint64_t)(s.ptr[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

static void deliver(void *user, uint64_t seq, const char *json, size_t len);
static void store_was_reset(void *user);

chat *chat_new(cws_loop *loop, store *st, const chat_config *cfg) {
    chat *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->loop = loop;
    c->st = st;
    c->cfg = *cfg;
    peers_config pc = {cfg->rate, cfg->burst, cfg->max_per_ip, CHAT_MAX_ADDRESSES};
    c->text = malloc(CHAT_MAX_TEXT);
    c->presence = presence_new(loop, broadcast_presence, c);
    c->peers = peers_new(&pc);
    if (!c->text || !c->presence || !c->peers) goto fail;
    for (size_t i = 0; cfg->trust_proxies && cfg->trust_proxies[i]; i++)
        if (trusted_proxies_add(&c->proxies, cfg->trust_proxies[i]) < 0) goto fail;
    store_set_tail(st, deliver, store_was_reset, c);
    return c;
fail:
    presence_free(c->presence);
    peers_free(c->peers);
    free(c->text);
    free(c);
    return NULL;
}

void chat_set_server(chat *c, cws_server *srv) { c->server = srv; }

static void unlink_client(chat_client *cl) {
    chat *c = cl->room;
    if (cl->prev) cl->prev->next = cl->next;
    else c->clients = cl->next;
    if (cl->next) cl->next->prev = cl->prev;
    cl->prev = cl->next = NULL;
    if (cl->open) c->online--;
    if (cl->parked) c->parked--;
    if (cl->from) peers_leave(c->peers, cl->from, cws_loop_now(c->loop));
}

/* A store request for cl is out: cl outlives its socket until it returns. */
static void hold(chat_client *cl) { cl->refs++; }

/* The request returned. 1 if cl is gone (closed meanwhile): do not touch it. */
static int release(chat_client *cl) {
    cl->refs--;
    if (!cl->closed) return 0;
    if (!cl->refs) free(cl);
    return 1;
}

static void stop_park_timer(chat *c) {
    if (c->park_timer) cws_timer_stop(c->park_timer);
    c->park_timer = NULL;
}

void chat_free(chat *c) {
    if (!c) return;
    stop_park_timer(c);
    presence_free(c->presence);
    while (c->clients) {
        chat_client *cl = c->clients;
        unlink_client(cl);
        free(cl);
    }
    peers_free(c->peers);
    json_buf_free(&c->out);
    free(c->text);
    free(c);
}

void chat_shutdown(chat *c) {
    c->shutting_down = 1;
    stop_park_timer(c);
    presence_stop(c->presence);
    c->st->ops->flush(c->st);
}

int chat_upgrade(chat *c, cws_socket *s, const cws_hs_request *req) {
    cws_str path = req->http.path, v;
    if (path.len != 3 || memcmp(path.ptr, "/ws", 3) != 0) return 404;
    /* Not before the store can say which epoch and seq it is at. */
    if (c->shutting_down || !c->st->ops->ready(c->st)) return 503;
    client_addr from;
    if (client_addr_of(&c->proxies, cws_socket_peer(s), &req->http, &from) < 0) return 400;
    chat_client *cl = calloc(1, sizeof *cl);
    if (!cl) return 503;
    cl->room = c;
    cl->sock = s;
    cl->rtt_sent = -1;
    if (cws_http_query_param(req->http.query, "since", &v)) {
        if (parse_seq(v, &cl->since) < 0) goto bad;
        cl->has_since = 1;
    }
    if (cws_http_query_param(req->http.query, "epoch", &v)) {
        if (!epoch_id_ok(v.ptr, v.len)) goto bad;
        cl->other_epoch = memcmp(v.ptr, c->st->ops->epoch(c->st), v.len) != 0;
    }
    if (cws_http_query_param(req->http.query, "name", &v)) {
        char raw[CHAT_MAX_NAME * 3];
        ptrdiff_t n = percent_decode(v, raw, sizeof raw);
        if (n >= 0) n = clean_name(raw, (size_t)n, cl->name);
        if (n < 0) goto bad;
        cl->name_len = (size_t)n;
    }
    /* Limits are per address, not per connection, or reconnecting would
     * refill them. */
    client_addr key = client_addr_limit_key(&from);
    peers_result joined = peers_join(c->peers, &key, cws_loop_now(c->loop), &cl->from);
    if (joined != PEERS_OK) {
        free(cl);
        return joined == PEERS_ADDRESS_FULL ? 429 : 503;
    }
    cl->next = c->clients;
    if (c->clients) c->clients->prev = cl;
    c->clients = cl;
    cws_socket_set_user(s, cl);
    return 0;
bad:
    free(cl);
    return 400;
}

/* ------------------------------------------------------------ replay */

static uint64_t last_seq(const chat *c) { return c->st->ops->last_seq(c->st); }

/* A fresh client (or one whose history was reset) starts with the last
 * CHAT_FRESH_REPLAY messages: what is kept of them. */
static void start_fresh(chat_client *cl) {
    uint64_t last = last_seq(cl->room);
    cl->fresh = 1;
    cl->sent_upto = last > CHAT_FRESH_REPLAY ? last - CHAT_FRESH_REPLAY : 0;
}

static void history_reset_notice(chat_client *cl) {
    send_notice(cl, "history_reset", "the server's history was reset; showing what it has now", 0,
                last_seq(cl->room));
}

static void replay_step(chat_client *cl);

/* Shared storage: a client may resume from a node whose tail is a moment
 * behind the one it saw its last message on. It waits (up to
 * CHAT_PARK_MS) for this node's tail to get there; a since still ahead
 * then was never issued in this epoch. */
static void on_park_timer(cws_loop *loop, void *user) {
    chat *c = user;
    uint64_t now = cws_loop_now(loop), last = last_seq(c);
    for (chat_client *cl = c->clients, *next; cl && c->parked; cl = next) {
        next = cl->next; /* replay_step may close cl */
        if (!cl->parked || (last < cl->sent_upto && now < cl->park_until)) continue;
        cl->parked = 0;
        c->parked--;
        if (last < cl->sent_upto) {
            history_reset_notice(cl);
            start_fresh(cl);
        }
        replay_step(cl);
    }
    if (!c->parked) stop_park_timer(c);
}

static int park(chat_client *cl) {
    chat *c = cl->room;
    if (!c->park_timer) c->park_timer = cws_timer_start(c->loop, CHAT_PARK_POLL_MS, CHAT_PARK_POLL_MS, on_park_timer, c, NULL);
    if (!c->park_timer) return -1;
    cl->parked = 1;
    cl->park_until = cws_loop_now(c->loop) + CHAT_PARK_MS;
    c->parked++;
    return 0;
}

/* Where a replay starts: after the client's since, or for a new client
 * (or one whose history was reset) after the newest CHAT_FRESH_REPLAY.
 * Returns 1 if it must wait for the tail first. */
static int replay_start(chat_client *cl) {
    chat *c = cl->room;
    uint64_t last = last_seq(c);
    if (cl->has_since && !cl->other_epoch) {
        cl->sent_upto = cl->since;
        if (cl->since <= last) return 0;
        if (c->st->shared && park(cl) == 0) return 1;
    }
    if (cl->has_since) /* it saw numbers never issued, or issued again: the history was reset */
        history_reset_notice(cl);
    start_fresh(cl);
    return 0;
}

/* A piece of the replay came from the store. Messages the tail has not
 * delivered here yet are left to a later read (or, once the client is in
 * the room, to the tail): so nothing comes twice, nothing is skipped. */
static void replay_got(void *req, int ok, const store_entry *e, size_t n) {
    chat_client *cl = req;
    cl->reading = 0;
    if (release(cl)) return;
    if (!ok) {
        /* The store is unreachable; the client resumes with since. */
        cws_socket_close(cl->sock, CWS_CLOSE_TRY_AGAIN, "storage unavailable", 19);
        return;
    }
    uint64_t upto = last_seq(cl->room);
    uint64_t next = n ? e[0].seq : upto + 1;
    if (next > cl->sent_upto + 1 && cl->sent_upto < upto) { /* dropped from the history before we got there */
        uint64_t to = next - 1 < upto ? next - 1 : upto;
        if (!cl->fresh)
            send_notice(cl, "history_gap", "some messages you missed are no longer kept", cl->sent_upto + 1, to);
        cl->sent_upto = to;
    }
    for (size_t i = 0; i < n && e[i].seq <= upto; i++) {
        if (e[i].seq <= cl->sent_upto) continue;
        if (cws_socket_send(cl->sock, CWS_OP_TEXT, e[i].json, e[i].len) != CWS_OK) return; /* closing */
        cl->sent_upto = e[i].seq;
    }
    replay_step(cl);
}

/* Replays the messages the client missed, oldest first, a piece at a time
 * as it reads them: from on_open, then from on_drain. Until it has caught
 * up with this node's tail it gets no broadcasts; messages posted
 * meanwhile reach it from the store, in order. So a client that does not
 * read costs one piece (and the kernel's bounded share), however much it
 * missed, and one that missed a lot gets everything still kept. Recovery
 * is by sequence number, never by socket. */
static void replay_step(chat_client *cl) {
    chat *c = cl->room;
    if (!cl->replaying || cl->reading || cl->parked) return;
    if (cl->sent_upto < last_seq(c)) {
        size_t piece = c->cfg.high_water / 2 < CHAT_REPLAY_PIECE ? c->cfg.high_water / 2 : CHAT_REPLAY_PIECE;
        size_t queued = cws_socket_buffered_amount(cl->sock);
        if (queued >= piece) {
            cws_socket_want_drain(cl->sock); /* the next piece once this one is taken */
            return;
        }
        cl->reading = 1;
        hold(cl);
        c->st->ops->read(c->st, cl->sent_upto, piece - queued, replay_got, cl);
        return;
    }
    /* Caught up with the tail, and nothing can be delivered before this
     * returns: live traffic, published to the room, follows from here. */
    json_buf *b = begin(c, "synced");
    json_key_uint(b, "seq", cl->sent_upto);
    json_key_uint(b, "online", c->online); /* it missed the presence batches meanwhile */
    send_out(cl);
    cl->replaying = 0;
    if (cws_socket_subscribe(cl->sock, CHAT_ROOM, sizeof CHAT_ROOM - 1) != CWS_OK) {
        /* Out of memory: never leave it open and silently deaf. It will
         * resume with since= and miss nothing. */
        cws_socket_close(cl->sock, CWS_CLOSE_INTERNAL, "server busy", 11);
    }
}

static void on_drain(cws_socket *s, void *user) {
    chat_client *cl = user;
    (void)s;
    if (cl->replaying) replay_step(cl);
}

static void on_open(cws_socket *s, void *user) {
    chat_client *cl = user;
    chat *c = cl->room;
    size_t nlen;
    const char *name = display_name(cl, &nlen);
    cl->open = 1;
    c->online++;

    json_buf *b = begin(c, "hello");
    json_key_uint(b, "seq", last_seq(c));
    json_key_cstring(b, "epoch", c->st->ops->epoch(c->st));
    json_key_string(b, "name", name, nlen);
    json_key_uint(b, "online", c->online);
    json_key_uint(b, "max_text", CHAT_MAX_TEXT);
    json_key_uint(b, "max_name", CHAT_MAX_NAME);
    send_out(cl);
    (void)s;
    cl->replaying = 1; /* not in the room yet: it hears nothing live */
    presence_joined(c->presence, name, nlen, c->online);
    if (!replay_start(cl)) replay_step(cl);
}

/* ------------------------------------------------------------ the tail */

/* Every stored message, from any node, in seq order: to the clients in
 * the room. Those still replaying get it from the store in turn. */
static void deliver(void *user, uint64_t seq, const char *json, size_t len) {
    chat *c = user;
    (void)seq;
    if (c->server) publish(c, json, len);
}

/* The store lost what clients saw: their seqs mean other messages now.
 * Everyone reconnects and hears history_reset. */
static void store_was_reset(void *user) {
    chat *c = user;
    for (chat_client *cl = c->clients, *next; cl; cl = next) {
        next = cl->next;
        if (cl->open) cws_socket_close(cl->sock, CWS_CLOSE_RESTART, "history reset", 13);
    }
}

/* Text a chat has no use for: C0 controls but tab and newline, DEL, and
 * C1 (U+0080-U+009F, UTF-8 C2 80-C2 9F). They only serve to garble a
 * terminal or a log, and each costs six bytes escaped (\u0001). t is
 * valid UTF-8, so a C2 byte always starts a character. */
static int has_controls(const char *t, size_t len) {
    const unsigned char *p = (const unsigned char *)t;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = p[i];
        if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7F) return 1;
        if (ch == 0xC2 && i + 1 < len && p[i + 1] <= 0x9F) return 1;
    }
    return 0;
}

/* The store's answer to a post. A stored message reaches everyone, its
 * sender included, from the tail; only a refusal or a retry is answered
 * here, to the sender alone. */
static void posted(void *req, store_result r, const char *json, size_t len) {
    chat_client *cl = req;
    if (release(cl)) return;
    if (r == STORE_DUPLICATE) cws_socket_send(cl->sock, CWS_OP_TEXT, json, len);
    else if (r == STORE_FAILED) send_error(cl, "storage", "the server could not store the message; it was not sent");
}

/* Checks the post and hands it to the store. A post whose id is already
 * kept was retried: its sender alone gets the stored message back, and
 * nothing is stored again. */
static void post_message(chat_client *cl, const json_field *text, const json_field *idf) {
    chat *c = cl->room;
    char id[POST_ID_MAX];
    ptrdiff_t idlen = 0;
    if (idf->kind != JSON_NONE) {
        idlen = idf->kind == JSON_STRING ? json_string_decode(idf, id, sizeof id) : -1;
        if (idlen < 0 || !post_id_ok(id, (size_t)idlen)) {
            send_error(cl, "bad_id", "an id is 1 to 64 characters of printable ASCII, without spaces");
            return;
        }
    }
    if (text->kind != JSON_STRING) {
        send_error(cl, "bad_message", "\"text\" must be a string");
        return;
    }
    ptrdiff_t n = json_string_decode(text, c->text, CHAT_MAX_TEXT);
    if (n < 0) {
        send_error(cl, "too_long", "the text is longer than max_text bytes");
        return;
    }
    size_t blank = 0;
    while (blank < (size_t)n && strchr(" \t\r\n", c->text[blank])) blank++;
    if (blank == (size_t)n) {
        send_error(cl, "empty", "the text is empty");
        return;
    }
    if (has_controls(c->text, (size_t)n)) {
        send_error(cl, "bad_text", "the text holds control characters; only tab and newline are allowed");
        return;
    }
    size_t nlen;
    const char *name = display_name(cl, &nlen);
    json_buf *b = begin(c, "message");
    size_t head = b->len; /* the store puts the seq here */
    json_key_uint(b, "time", wall_ms());
    json_key_string(b, "name", name, nlen);
    json_key_string(b, "text", c->text, (size_t)n);
    if (idlen) json_key_string(b, "id", id, (size_t)idlen);
    json_end(b);
    if (b->failed) {
        send_error(cl, "storage", "the server could not store the message; it was not sent");
        return;
    }
    hold(cl);
    c->st->ops->append(c->st, id, (size_t)idlen, b->data + head, b->len - head, posted, cl);
}

static void set_name(chat_client *cl, const json_field *field) {
    char raw[CHAT_MAX_NAME], name[CHAT_MAX_NAME];
    ptrdiff_t n = field->kind == JSON_STRING ? json_string_decode(field, raw, sizeof raw) : -1;
    if (n >= 0) n = clean_name(raw, (size_t)n, name);
    if (n < 0) {
        send_error(cl, "bad_name",
                   "a name is a string of at most max_name bytes without control or format characters");
        return;
    }
    size_t olen;
    const char *old = display_name(cl, &olen);
    json_buf *b = begin(cl->room, "rename");
    json_key_string(b, "from", old, olen);
    json_key_string(b, "name", n ? name : "anonymous", n ? (size_t)n : 9);
    json_key_uint(b, "time", wall_ms());
    memcpy(cl->name, name, (size_t)n);
    cl->name_len = (size_t)n;
    broadcast_out(cl->room);
}

/* Every message draws on its address's bucket (peers.c). One over the
 * rate is refused and the connection kept: a person typing fast just
 * waits. A client that sends more than a whole burst of refused messages
 * in a row is not waiting, and is closed. */
static int within_rate(chat_client *cl) {
    chat *c = cl->room;
    if (peers_take(c->peers, cl->from, cws_loop_now(c->loop))) {
        cl->refused = 0;
        return 1;
    }
    if (++cl->refused > c->cfg.burst)
        cws_socket_close(cl->sock, CWS_CLOSE_POLICY, "rate limit exceeded", 19);
    else
        send_error(cl, "rate_limited", "too many messages: this one was not sent; wait a moment");
    return 0;
}

static void on_message(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len) {
    chat_client *cl = user;
    (void)s; /* the same as cl->sock */
    if (!within_rate(cl)) return;
    if (opcode != CWS_OP_TEXT) {
        send_error(cl, "bad_message", "messages are JSON text, not binary");
        return;
    }
    json_field f[4] = {{"type", JSON_NONE, NULL, 0},
                       {"text", JSON_NONE, NULL, 0},
                       {"name", JSON_NONE, NULL, 0},
                       {"id", JSON_NONE, NULL, 0}};
    const char *why;
    if (json_read_object((const char *)data, len, f, 4, &why) < 0) {
        send_error(cl, "bad_json", why);
        return;
    }
    char type[16];
    ptrdiff_t tl = f[0].kind == JSON_STRING ? json_string_decode(&f[0], type, sizeof type) : -1;
    if (tl == 7 && memcmp(type, "message", 7) == 0)
        post_message(cl, &f[1], &f[3]);
    else if (tl == 4 && memcmp(type, "name", 4) == 0)
        set_name(cl, &f[2]);
    else
        send_error(cl, "unknown_type", "\"type\" must be \"message\" or \"name\"");
}

/* The runtime pings every --ping-interval; tell the client what it
 * measured when that changed (pongs the client sends unasked change
 * nothing, so they cannot make us talk). */
static void on_pong(cws_socket *s, void *user, const uint8_t *data, size_t len) {
    chat_client *cl = user;
    int rtt = cws_socket_rtt_ms(s);
    (void)data;
    (void)len;
    /* Nothing but the replay between hello and synced. */
    if (rtt < 0 || rtt == cl->rtt_sent || cl->replaying) return;
    cl->rtt_sent = rtt;
    json_buf *b = begin(cl->room, "latency");
    json_key_uint(b, "ms", (uint64_t)rtt);
    send_out(cl);
}

static void on_close(cws_socket *s, void *user, int code, const char *reason, size_t reason_len) {
    chat_client *cl = user;
    chat *c = cl->room;
    int was_open = cl->open;
    size_t nlen;
    const char *name = display_name(cl, &nlen);
    (void)s;
    (void)code;
    (void)reason;
    (void)reason_len;
    unlink_client(cl);
    if (was_open && !c->shutting_down) presence_left(c->presence, name, nlen, c->online);
    cl->closed = 1;
    cl->sock = NULL;
    if (!cl->refs) free(cl); /* else when the store answers */
}

const cws_socket_callbacks chat_socket_callbacks = {
    .on_open = on_open, .on_message = on_message, .on_pong = on_pong, .on_close = on_close, .on_drain = on_drain};
