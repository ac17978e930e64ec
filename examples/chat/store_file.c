/* The file store: see store_file.h. */
#define _POSIX_C_SOURCE 200809L

#include "store_file.h"
#include "json.h"
#include "post_ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct file_store {
    store base; /* first: a store * is a file_store * */
    cws_loop *loop;
    history *hist;
    post_ids *ids;  /* the ids of the kept messages that have one */
    cws_timer *sync_timer;
    char *msg;      /* the message being appended */
    size_t msg_cap;
} file_store;

static file_store *fs_of(store *s) { return (file_store *)(void *)s; }
static const file_store *cfs_of(const store *s) { return (const file_store *)(const void *)s; }

/* ------------------------------------------------------------ post ids */

/* The id a stored message carries, decoded into id; its length, or 0. */
static size_t stored_id(const ring_entry *e, char id[POST_ID_MAX]) {
    json_field f = {"id", JSON_NONE, NULL, 0};
    const char *why;
    if (json_read_object(e->json, e->len, &f, 1, &why) < 0 || f.kind != JSON_STRING) return 0;
    ptrdiff_t n = json_string_decode(&f, id, POST_ID_MAX);
    return n > 0 && post_id_ok(id, (size_t)n) ? (size_t)n : 0;
}

/* At startup: the ids are in the stored messages, so a restart keeps
 * recognising posts retried across it. */
static void learn_ids(file_store *fs) {
    const ring *r = history_messages(fs->hist);
    char id[POST_ID_MAX];
    for (size_t i = 0; i < r->count; i++) {
        size_t n = stored_id(ring_at(r, i), id);
        if (n) post_ids_add(fs->ids, ring_at(r, i)->seq, id, n);
    }
}

/* Ids of messages the history no longer keeps are free again. */
static void forget_evicted_ids(file_store *fs) {
    const ring *r = history_messages(fs->hist);
    post_ids_forget_before(fs->ids, r->count ? ring_at(r, 0)->seq : history_last_seq(fs->hist) + 1);
}

/* The kept message posted with this id, or NULL. */
static const ring_entry *stored_post(file_store *fs, const char *id, size_t len) {
    forget_evicted_ids(fs);
    uint64_t seq = post_ids_find(fs->ids, id, len);
    const ring *r = history_messages(fs->hist);
    size_t i = seq ? ring_first_after(r, seq - 1) : r->count;
    return i < r->count && ring_at(r, i)->seq == seq ? ring_at(r, i) : NULL;
}

/* ------------------------------------------------------------ ops */

static const char *fs_epoch(const store *s) { return history_epoch(cfs_of(s)->hist); }
static uint64_t fs_last_seq(const store *s) { return history_last_seq(cfs_of(s)->hist); }
static int fs_ready(const store *s) {
    (void)s;
    return 1;
}

static void on_sync_timer(cws_loop *loop, void *user) {
    file_store *fs = user;
    (void)loop;
    fs->sync_timer = NULL; /* a one-shot timer is gone after this call */
    history_sync(fs->hist);
}

/* Stores the message, then delivers it: what clients see is on disk. */
static void fs_append(store *s, const char *id, size_t idlen, const char *body, size_t len, store_append_fn done,
                      void *req) {
    file_store *fs = fs_of(s);
    if (idlen) {
        const ring_entry *was = stored_post(fs, id, idlen);
        if (was) {
            done(req, STORE_DUPLICATE, was->json, was->len);
            return;
        }
    }
    uint64_t seq = history_last_seq(fs->hist) + 1;
    char head[64];
    int hl = snprintf(head, sizeof head, "{\"type\":\"message\",\"seq\":%" PRIu64, seq);
    size_t need = (size_t)hl + len;
    if (need > fs->msg_cap) {
        char *m = realloc(fs->msg, need);
        if (!m) {
            done(req, STORE_FAILED, NULL, 0);
            return;
        }
        fs->msg = m;
        fs->msg_cap = need;
    }
    memcpy(fs->msg, head, (size_t)hl);
    memcpy(fs->msg + hl, body, len);
    if (history_append(fs->hist, seq, fs->msg, need) < 0) {
        done(req, STORE_FAILED, NULL, 0);
        return;
    }
    forget_evicted_ids(fs);
    /* Out of memory here only means a retry of this post is stored again. */
    if (idlen) post_ids_add(fs->ids, seq, id, idlen);
    if (history_needs_sync(fs->hist) && !fs->sync_timer)
        fs->sync_timer = cws_timer_start(fs->loop, STORE_FILE_SYNC_DELAY_MS, 0, on_sync_timer, fs, NULL);
    done(req, STORE_STORED, NULL, 0);
    if (s->deliver) s->deliver(s->user, seq, fs->msg, need);
}

/* Straight from the ring in memory: one piece, as entries pointing into it. */
static void fs_read(store *s, uint64_t after, size_t max_bytes, store_read_fn done, void *req) {
    file_store *fs = fs_of(s);
    const ring *r = history_messages(fs->hist);
    enum { BATCH = 64 };
    store_entry e[BATCH];
    size_t n = 0, bytes = 0;
    for (size_t i = ring_first_after(r, after); i < r->count && n < BATCH && (n == 0 || bytes < max_bytes); i++) {
        const ring_entry *re = ring_at(r, i);
        e[n].seq = re->seq;
        e[n].json = re->json;
        e[n].len = re->len;
        bytes += re->len;
        n++;
    }
    done(req, 1, e, n);
}

static void fs_flush(store *s) {
    file_store *fs = fs_of(s);
    if (fs->sync_timer) {
        cws_timer_stop(fs->sync_timer);
        fs->sync_timer = NULL;
    }
    history_sync(fs->hist);
}

static void fs_close(store *s) {
    if (!s) return;
    file_store *fs = fs_of(s);
    fs_flush(s);
    history_close(fs->hist);
    post_ids_free(fs->ids);
    free(fs->msg);
    free(fs);
}

static const store_ops file_ops = {fs_epoch, fs_last_seq, fs_ready, fs_append, fs_read, fs_flush, fs_close};

store *store_file_new(cws_loop *loop, history *h) {
    file_store *fs = calloc(1, sizeof *fs);
    if (!fs) return NULL;
    fs->base.ops = &file_ops;
    fs->loop = loop;
    fs->hist = h;
    fs->ids = post_ids_new(history_messages(h)->cap);
    if (!fs->ids) {
        free(fs);
        return NULL;
    }
    learn_ids(fs);
    return &fs->base;
}
