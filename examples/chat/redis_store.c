/* The room in Redis Streams: see redis_store.h and docs/deployment.md.
 *
 * Keys (PREFIX = --redis-prefix):
 *   PREFIX:seq    the last seq handed out (INCR)
 *   PREFIX:log    the stream: entry id "<seq>-0", fields m (the message's
 *                 JSON as clients get it) and i (its post id, if any);
 *                 trimmed to the newest --history-size entries
 *   PREFIX:ids    hash: post id -> seq, for the kept entries only
 *   PREFIX:epoch  16 hex digits naming this run of seqs (SET NX)
 *
 * A post is one Lua script (POST_SCRIPT), atomic in Redis: dedup by id,
 * trim (forgetting the ids of the entries trimmed), INCR the seq, XADD
 * with that seq as the id, record the id. Nodes never number anything.
 *
 * Two connections: `cmd` for scripts and XRANGE (replays), `tail` for
 * the blocking XREAD that delivers every stored message, in stream order,
 * to this node's room: a blocked connection can serve nothing else.
 * The node's own posts reach its clients from the tail too, so every
 * client of every node sees one order.
 *
 * When either connection fails, both are dropped and made again with a
 * backoff (100 ms doubling to 5 s); meanwhile posts and replay reads fail
 * at once (the client gets `storage`, or is closed to resume), and the
 * tail resumes after the last seq it delivered: nothing is missed. hiredis
 * 0.14 has no timeouts, so a watchdog timer drops a connection whose
 * replies are overdue. */
#define _POSIX_C_SOURCE 200809L

#include "redis_store.h"
#include "epoch.h"
#include "json.h"
#include "redis_loop.h"

#include <cws_util.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const int redis_store_built = 1;

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WATCHDOG_MS 250       /* how often replies are checked for lateness */
#define REPLY_TIMEOUT_MS 3000 /* a command unanswered this long: the connection is dead */
#define TAIL_BLOCK_MS 1000    /* XREAD BLOCK: short, so a silent death is noticed */
#define TAIL_COUNT 512        /* entries per XREAD */
#define READ_COUNT_MAX 256    /* entries per replay XRANGE */
#define ENTRY_MAX (256 * 1024) /* a message's JSON from Redis, at most (chat's are < 25 KB) */
#define KEY_MAX 80

/* Everything a post does, atomically. KEYS: seq, log, ids. ARGV: the
 * post id ('' for none), the message after its seq, the entries kept. */
static const char POST_SCRIPT[] =
    "local id, keep = ARGV[1], tonumber(ARGV[3])\n"
    "if id ~= '' then\n"
    "  local old = redis.call('HGET', KEYS[3], id)\n"
    "  if old then\n"
    "    local e = redis.call('XRANGE', KEYS[2], old .. '-0', old .. '-0')\n"
    "    if #e == 1 then return {0, tonumber(old), e[1][2][2]} end\n"
    "  end\n"
    "end\n"
    /* Trim here rather than by XADD MAXLEN alone: the ids of the entries
     * that go must go too, so the hash stays as small as the stream. */
    "local n = redis.call('XLEN', KEYS[2])\n"
    "if n >= keep then\n"
    "  for _, e in ipairs(redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', n - keep + 1)) do\n"
    "    local f = e[2]\n"
    "    for k = 1, #f, 2 do if f[k] == 'i' then redis.call('HDEL', KEYS[3], f[k + 1]) end end\n"
    "  end\n"
    "end\n"
    "local seq = redis.call('INCR', KEYS[1])\n"
    "local msg = '{\"type\":\"message\",\"seq\":' .. seq .. ARGV[2]\n"
    "if id ~= '' then\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', keep, seq .. '-0', 'm', msg, 'i', id)\n"
    "  redis.call('HSET', KEYS[3], id, seq)\n"
    "else\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', keep, seq .. '-0', 'm', msg)\n"
    "end\n"
    "return {1, seq}\n";

/* The room's epoch (made by the first node) and its last seq. KEYS:
 * epoch, seq. ARGV: an epoch to use if there is none. */
static const char INIT_SCRIPT[] = "redis.call('SET', KEYS[1], ARGV[1], 'NX')\n"
                                  "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}\n";

typedef struct redis_store {
    store base; /* first: a store * is a redis_store * */
    cws_loop *loop;
    FILE *log;
    char host[256];
    int port;
    char k_seq[KEY_MAX], k_log[KEY_MAX], k_ids[KEY_MAX], k_epoch[KEY_MAX];
    char keep[24];               /* --history-size, as the script wants it */
    redisAsyncContext *cmd, *tail;
    int up;                      /* both connected, scripts loaded, epoch read */
    int ready;                   /* the epoch and seq are known (from now on) */
    char epoch[EPOCH_ID_LEN + 1];
    char sha[41];                /* POST_SCRIPT's, from SCRIPT LOAD */
    uint64_t delivered;          /* the last seq the tail delivered */
    unsigned cmd_out;            /* commands awaiting their reply on cmd */
    uint64_t cmd_progress;       /* loop time of cmd's last reply (or first command) */
    int tail_out;                /* an XREAD is out */
    uint64_t tail_sent;
    uint64_t session_start;      /* when the connections were made */
    unsigned backoff_ms;
    cws_timer *retry_timer, *watchdog;
    int said_down;               /* "lost Redis" was said for this outage */
} redis_store;

static redis_store *rs_of(store *s) { return (redis_store *)(void *)s; }
static const redis_store *crs_of(const store *s) { return (const redis_store *)(const void *)s; }

static void session_start(redis_store *rs);

/* ------------------------------------------------------------ losing Redis */

static void on_retry(cws_loop *loop, void *user) {
    redis_store *rs = user;
    (void)loop;
    rs->retry_timer = NULL; /* one-shot: gone after this call */
    session_start(rs);
}

/* Drops both connections (hiredis answers what is out with NULL replies)
 * and tries again after the backoff. Safe to call more than once, and
 * from inside hiredis's callbacks (hiredis defers the free then). */
static void lose(redis_store *rs, const char *why) {
    if (rs->up || !rs->said_down)
        fprintf(rs->log, "cws-chat: redis %s:%d: %s; reconnecting\n", rs->host, rs->port, why);
    rs->said_down = 1;
    rs->up = 0;
    rs->tail_out = 0;
    rs->cmd_out = 0;
    redisAsyncContext *c = rs->cmd, *t = rs->tail;
    rs->cmd = rs->tail = NULL; /* first: their callbacks must find them gone */
    if (c) redisAsyncFree(c);
    if (t) redisAsyncFree(t);
    if (!rs->retry_timer) {
        rs->retry_timer = cws_timer_start(rs->loop, rs->backoff_ms, 0, on_retry, rs, NULL);
        rs->backoff_ms = rs->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : rs->backoff_ms * 2;
    }
}

static void on_connect(const redisAsyncContext *ac, int status) {
    redis_store *rs = ac->data;
    if (status == REDIS_OK) return;
    /* hiredis frees a context that failed to connect itself. */
    if (ac == rs->cmd) rs->cmd = NULL;
    if (ac == rs->tail) rs->tail = NULL;
    lose(rs, ac->errstr[0] ? ac->errstr : "cannot connect");
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    redis_store *rs = ac->data;
    (void)status;
    if (ac != rs->cmd && ac != rs->tail) return; /* one we dropped */
    if (ac == rs->cmd) rs->cmd = NULL;
    if (ac == rs->tail) rs->tail = NULL;
    lose(rs, ac->errstr[0] ? ac->errstr : "connection closed");
}

/* Replies overdue: hiredis would wait for ever. */
static void on_watchdog(cws_loop *loop, void *user) {
    redis_store *rs = user;
    uint64_t now = cws_loop_now(loop);
    if (!rs->cmd && !rs->tail) return;
    if (!rs->up && now - rs->session_start > REPLY_TIMEOUT_MS) lose(rs, "no answer while connecting");
    else if (rs->cmd_out && now - rs->cmd_progress > REPLY_TIMEOUT_MS) lose(rs, "commands unanswered");
    else if (rs->tail_out && now - rs->tail_sent > TAIL_BLOCK_MS + REPLY_TIMEOUT_MS) lose(rs, "XREAD unanswered");
}

static redisAsyncContext *connect_one(redis_store *rs) {
    redisAsyncContext *ac = redisAsyncConnect(rs->host, rs->port);
    if (!ac) return NULL;
    if (ac->err || redis_loop_attach(ac, rs->loop) < 0) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = rs;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

/* A command on cmd; its reply goes to fn. -1 if it could not be queued. */
static int cmd_send(redis_store *rs, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                    const size_t *lens) {
    if (!rs->cmd || redisAsyncCommandArgv(rs->cmd, fn, priv, argc, argv, lens) != REDIS_OK) return -1;
    if (!rs->cmd_out++) rs->cmd_progress = cws_loop_now(rs->loop);
    return 0;
}

/* A reply on cmd arrived (or the connection went: reply NULL). */
static void cmd_answered(redis_store *rs, const redisReply *reply) {
    if (!reply) return; /* lose() already zeroed the count */
    if (rs->cmd_out) rs->cmd_out--;
    rs->cmd_progress = cws_loop_now(rs->loop);
}

/* ------------------------------------------------------------ replies */

/* Every reply comes from the network: its shape is checked before use. */
static int is_array(const redisReply *r, size_t n) { return r && r->type == REDIS_REPLY_ARRAY && r->elements == n; }

static int is_string(const redisReply *r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* A decimal number of at most 19 digits (no sign, no junk). */
static int parse_u64(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0 || len > 19) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* A stream entry id "<seq>-0". */
static int entry_seq(const redisReply *id, uint64_t *seq) {
    if (!is_string(id) || id->len < 3 || memcmp(id->str + id->len - 2, "-0", 2) != 0) return -1;
    return parse_u64(id->str, id->len - 2, seq);
}

/* One stream entry, [id, [field, value, ...]], as a store_entry: its seq
 * and its m field, which must be a chat message of that seq. -1 if it is
 * anything else. */
static int parse_entry(const redisReply *e, store_entry *out) {
    if (!is_array(e, 2) || entry_seq(e->element[0], &out->seq) < 0) return -1;
    const redisReply *f = e->element[1];
    if (!f || f->type != REDIS_REPLY_ARRAY || f->elements % 2) return -1;
    for (size_t i = 0; i < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (!is_string(k) || k->len != 1 || k->str[0] != 'm') continue;
        if (!is_string(v) || v->len > ENTRY_MAX) return -1;
        json_field seq = {"seq", JSON_NONE, NULL, 0};
        const char *why;
        uint64_t n;
        if (json_read_object(v->str, v->len, &seq, 1, &why) < 0 || seq.kind != JSON_NUMBER ||
            parse_u64(seq.raw, seq.raw_len, &n) < 0 || n != out->seq)
            return -1;
        out->json = v->str;
        out->len = v->len;
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------ the tail */

static void tail_read(redis_store *rs);

/* XREAD's answer: nil (the block timed out), or [[key, [entry...]]]. */
static void on_tail(redisAsyncContext *ac, void *r, void *priv) {
    redis_store *rs = ac->data;
    redisReply *reply = r;
    (void)priv;
    if (!reply || ac != rs->tail) return; /* dropped: lose() runs or ran */
    rs->tail_out = 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        lose(rs, reply->str);
        return;
    }
    if (reply->type == REDIS_REPLY_ARRAY) {
        const redisReply *entries = is_array(reply, 1) && is_array(reply->element[0], 2) ? reply->element[0]->element[1] : NULL;
        if (!entries || entries->type != REDIS_REPLY_ARRAY) {
            lose(rs, "XREAD: unexpected reply");
            return;
        }
        for (size_t i = 0; i < entries->elements; i++) {
            store_entry e;
            uint64_t seq;
            const redisReply *en = entries->element[i];
            if (!is_array(en, 2) || entry_seq(en->element[0], &seq) < 0 || seq <= rs->delivered) {
                lose(rs, "XREAD: entry ids out of order");
                return;
            }
            if (parse_entry(en, &e) < 0) {
                /* Not one of ours: skipped, so the tail does not stall. */
                fprintf(rs->log, "cws-chat: redis: entry %" PRIu64 " of %s is not a chat message; skipped\n", seq,
                        rs->k_log);
                rs->delivered = seq;
                continue;
            }
            /* A seq skipped means entries trimmed before this node read
             * them (it lagged by a whole history): its clients resume. */
            if (seq != rs->delivered + 1 && rs->base.reset) rs->base.reset(rs->base.user);
            rs->delivered = seq;
            if (rs->base.deliver) rs->base.deliver(rs->base.user, seq, e.json, e.len);
            if (ac != rs->tail) return; /* a callback lost Redis */
        }
    }
    tail_read(rs);
}

static void tail_read(redis_store *rs) {
    char block[16], after[32], count[16];
    snprintf(block, sizeof block, "%d", TAIL_BLOCK_MS);
    snprintf(after, sizeof after, "%" PRIu64 "-0", rs->delivered);
    snprintf(count, sizeof count, "%d", TAIL_COUNT);
    const char *argv[] = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS", rs->k_log, after};
    if (!rs->tail || redisAsyncCommandArgv(rs->tail, on_tail, NULL, 8, argv, NULL) != REDIS_OK) {
        lose(rs, "cannot send XREAD");
        return;
    }
    rs->tail_out = 1;
    rs->tail_sent = cws_loop_now(rs->loop);
}

/* ------------------------------------------------------------ connecting */

static void on_script_loaded(redisAsyncContext *ac, void *r, void *priv) {
    redis_store *rs = ac->data;
    redisReply *reply = r;
    (void)priv;
    cmd_answered(rs, reply);
    if (!reply || ac != rs->cmd) return;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        lose(rs, reply->type == REDIS_REPLY_ERROR ? reply->str : "SCRIPT LOAD: unexpected reply");
        return;
    }
    memcpy(rs->sha, reply->str, 40);
    rs->sha[40] = '\0';
}

/* The room's epoch and seq: the node is up, the tail starts. */
static void on_init(redisAsyncContext *ac, void *r, void *priv) {
    redis_store *rs = ac->data;
    redisReply *reply = r;
    uint64_t seq;
    (void)priv;
    cmd_answered(rs, reply);
    if (!reply || ac != rs->cmd) return;
    if (!is_array(reply, 2) || !is_string(reply->element[0]) ||
        !epoch_id_ok(reply->element[0]->str, reply->element[0]->len) || !is_string(reply->element[1]) ||
        parse_u64(reply->element[1]->str, reply->element[1]->len, &seq) < 0 || !rs->sha[0]) {
        lose(rs, reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply to the init script");
        return;
    }
    const char *epoch = reply->element[0]->str;
    if (!rs->ready) {
        rs->delivered = seq;
    } else if (memcmp(epoch, rs->epoch, EPOCH_ID_LEN) != 0 || seq < rs->delivered) {
        /* Redis lost what clients saw (restarted without persistence,
         * keys deleted): seqs are handed out anew. */
        fprintf(rs->log, "cws-chat: redis: the room's history was reset (epoch %.16s, seq %" PRIu64 ")\n", epoch, seq);
        rs->delivered = seq;
        memcpy(rs->epoch, epoch, EPOCH_ID_LEN);
        if (rs->base.reset) rs->base.reset(rs->base.user);
    }
    memcpy(rs->epoch, epoch, EPOCH_ID_LEN);
    rs->epoch[EPOCH_ID_LEN] = '\0';
    rs->ready = rs->up = 1;
    rs->said_down = 0;
    rs->backoff_ms = BACKOFF_MIN_MS;
    fprintf(rs->log, "cws-chat: redis %s:%d: connected (epoch %s, seq %" PRIu64 ", tail from %" PRIu64 ")\n", rs->host,
            rs->port, rs->epoch, seq, rs->delivered);
    tail_read(rs);
}

static void session_start(redis_store *rs) {
    rs->session_start = cws_loop_now(rs->loop);
    rs->sha[0] = '\0';
    rs->cmd = connect_one(rs);
    rs->tail = rs->cmd ? connect_one(rs) : NULL;
    if (!rs->cmd || !rs->tail) {
        lose(rs, "cannot make a connection");
        return;
    }
    unsigned char raw[EPOCH_ID_LEN / 2];
    char fresh[EPOCH_ID_LEN + 1];
    if (cws_random(raw, sizeof raw) != 0) {
        lose(rs, "no random bytes for an epoch");
        return;
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(fresh + 2 * i, 3, "%02x", raw[i]);
    const char *load[] = {"SCRIPT", "LOAD", POST_SCRIPT};
    const char *init[] = {"EVAL", INIT_SCRIPT, "2", rs->k_epoch, rs->k_seq, fresh};
    /* Both queue before the connection is up; hiredis sends them once it is. */
    if (cmd_send(rs, on_script_loaded, NULL, 3, load, NULL) < 0 || cmd_send(rs, on_init, NULL, 6, init, NULL) < 0)
        lose(rs, "cannot send the init commands");
}

/* ------------------------------------------------------------ ops */

static const char *rs_epoch(const store *s) { return crs_of(s)->epoch; }
static uint64_t rs_last_seq(const store *s) { return crs_of(s)->delivered; }
static int rs_ready(const store *s) { return crs_of(s)->ready; }

typedef struct append_req {
    redis_store *rs;
    store_append_fn done;
    void *req;
} append_req;

static void on_posted(redisAsyncContext *ac, void *r, void *priv) {
    redis_store *rs = ac->data;
    redisReply *reply = r;
    append_req *a = priv;
    cmd_answered(rs, reply);
    store_result res = STORE_FAILED;
    const char *json = NULL;
    size_t len = 0;
    /* {1, seq}: stored. {0, seq, message}: the id was kept. */
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER && reply->element[1]->type == REDIS_REPLY_INTEGER) {
        if (reply->element[0]->integer == 1 && reply->elements == 2) {
            res = STORE_STORED;
        } else if (reply->element[0]->integer == 0 && reply->elements == 3 && is_string(reply->element[2]) &&
                   reply->element[2]->len <= ENTRY_MAX) {
            res = STORE_DUPLICATE;
            json = reply->element[2]->str;
            len = reply->element[2]->len;
        }
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        fprintf(rs->log, "cws-chat: redis: a post failed: %s\n", reply->str);
        /* The script was flushed: load it again for the next posts. */
        if (strncmp(reply->str, "NOSCRIPT", 8) == 0 && ac == rs->cmd) {
            const char *load[] = {"SCRIPT", "LOAD", POST_SCRIPT};
            (void)cmd_send(rs, on_script_loaded, NULL, 3, load, NULL);
        }
    }
    a->done(a->req, res, json, len);
    free(a);
}

static void rs_append(store *s, const char *id, size_t idlen, const char *body, size_t len, store_append_fn done,
                      void *req) {
    redis_store *rs = rs_of(s);
    append_req *a = rs->up ? malloc(sizeof *a) : NULL;
    if (!a) {
        done(req, STORE_FAILED, NULL, 0); /* never dropped silently */
        return;
    }
    a->rs = rs;
    a->done = done;
    a->req = req;
    const char *argv[] = {"EVALSHA", rs->sha, "3", rs->k_seq, rs->k_log, rs->k_ids, idlen ? id : "", body, rs->keep};
    size_t lens[] = {7, 40, 1, strlen(rs->k_seq), strlen(rs->k_log), strlen(rs->k_ids), idlen, len, strlen(rs->keep)};
    if (cmd_send(rs, on_posted, a, 9, argv, lens) < 0) {
        free(a);
        done(req, STORE_FAILED, NULL, 0);
    }
}

typedef struct read_req {
    store_read_fn done;
    void *req;
    uint64_t after;
} read_req;

static void on_range(redisAsyncContext *ac, void *r, void *priv) {
    redis_store *rs = ac->data;
    redisReply *reply = r;
    read_req *q = priv;
    cmd_answered(rs, reply);
    enum { MAX = READ_COUNT_MAX };
    store_entry e[MAX];
    size_t n = 0;
    int ok = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements <= MAX;
    uint64_t prev = q->after;
    for (size_t i = 0; ok && i < reply->elements; i++) {
        /* Skipped if it is not a chat message; wrong order is an error. */
        if (parse_entry(reply->element[i], &e[n]) == 0) {
            ok = e[n].seq > prev;
            prev = e[n].seq;
            n++;
        }
    }
    if (reply && !ok) fprintf(rs->log, "cws-chat: redis: unexpected reply to XRANGE\n");
    q->done(q->req, ok, e, ok ? n : 0);
    free(q);
}

static void rs_read(store *s, uint64_t after, size_t max_bytes, store_read_fn done, void *req) {
    redis_store *rs = rs_of(s);
    read_req *q = rs->up ? malloc(sizeof *q) : NULL;
    if (!q) {
        done(req, 0, NULL, 0);
        return;
    }
    q->done = done;
    q->req = req;
    q->after = after;
    /* Chat messages are a few hundred bytes: enough for a piece, and a
     * bound on what one reply may hold. */
    size_t count = max_bytes / 256;
    count = count < 1 ? 1 : count > READ_COUNT_MAX ? READ_COUNT_MAX : count;
    char start[32], cnt[16];
    snprintf(start, sizeof start, "(%" PRIu64 "-0", after); /* exclusive: Redis 6.2 and later */
    snprintf(cnt, sizeof cnt, "%zu", count);
    const char *argv[] = {"XRANGE", rs->k_log, start, "+", "COUNT", cnt};
    if (cmd_send(rs, on_range, q, 6, argv, NULL) < 0) {
        free(q);
        done(req, 0, NULL, 0);
    }
}

static void rs_flush(store *s) { (void)s; /* Redis answered every post only once it was stored */ }

static void rs_close(store *s) {
    if (!s) return;
    redis_store *rs = rs_of(s);
    if (rs->retry_timer) cws_timer_stop(rs->retry_timer);
    if (rs->watchdog) cws_timer_stop(rs->watchdog);
    rs->retry_timer = rs->watchdog = NULL;
    redisAsyncContext *c = rs->cmd, *t = rs->tail;
    rs->cmd = rs->tail = NULL;
    rs->said_down = 1; /* no "reconnecting" from here */
    rs->up = 0;
    /* Answers what is out (NULL replies): the room's requests fail. */
    if (c) redisAsyncFree(c);
    if (t) redisAsyncFree(t);
    free(rs);
}

static const store_ops redis_ops = {rs_epoch, rs_last_seq, rs_ready, rs_append, rs_read, rs_flush, rs_close};

store *redis_store_new(cws_loop *loop, const char *host, int port, const char *prefix, size_t keep, FILE *log) {
    redis_store *rs = calloc(1, sizeof *rs);
    if (!rs) return NULL;
    rs->base.ops = &redis_ops;
    rs->base.shared = 1;
    rs->loop = loop;
    rs->log = log;
    snprintf(rs->host, sizeof rs->host, "%s", host);
    rs->port = port;
    snprintf(rs->k_seq, KEY_MAX, "%s:seq", prefix);
    snprintf(rs->k_log, KEY_MAX, "%s:log", prefix);
    snprintf(rs->k_ids, KEY_MAX, "%s:ids", prefix);
    snprintf(rs->k_epoch, KEY_MAX, "%s:epoch", prefix);
    snprintf(rs->keep, sizeof rs->keep, "%zu", keep);
    rs->backoff_ms = BACKOFF_MIN_MS;
    rs->watchdog = cws_timer_start(loop, WATCHDOG_MS, WATCHDOG_MS, on_watchdog, rs, NULL);
    if (!rs->watchdog) {
        free(rs);
        return NULL;
    }
    session_start(rs);
    return &rs->base;
}
