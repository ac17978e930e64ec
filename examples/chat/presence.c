/* Batched presence; see presence.h and docs/chat-protocol.md. */
#define _POSIX_C_SOURCE 200809L

#include "presence.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The names of one kind of change since the last batch. Past
 * PRESENCE_MAX_NAMES they are only counted: a batch stays the same size
 * however many changed, and so does the memory it waits in. */
typedef struct name_list {
    char name[PRESENCE_MAX_NAMES][PRESENCE_MAX_NAME];
    size_t len[PRESENCE_MAX_NAMES];
    size_t listed;
    uint64_t more;
} name_list;

struct presence {
    cws_loop *loop;
    presence_send_fn send;
    void *user;
    cws_timer *flush_timer; /* set while a batch is pending */
    int stopped;
    size_t online;          /* as of the last change */
    name_list joined, left;
    json_buf out;
};

presence *presence_new(cws_loop *loop, presence_send_fn send, void *user) {
    presence *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->loop = loop;
    p->send = send;
    p->user = user;
    return p;
}

void presence_stop(presence *p) {
    if (p->flush_timer) cws_timer_stop(p->flush_timer);
    p->flush_timer = NULL;
    p->stopped = 1;
}

void presence_free(presence *p) {
    if (!p) return;
    presence_stop(p);
    json_buf_free(&p->out);
    free(p);
}

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void put_list(json_buf *b, const char *key, const char *more_key, name_list *l) {
    json_key_array_begin(b, key);
    for (size_t i = 0; i < l->listed; i++) json_array_string(b, l->name[i], l->len[i]);
    json_array_end(b);
    json_key_uint(b, more_key, l->more);
    l->listed = 0;
    l->more = 0;
}

static void flush(presence *p) {
    json_buf *b = &p->out;
    json_buf_reset(b);
    json_begin(b);
    json_key_cstring(b, "type", "presence");
    json_key_uint(b, "online", p->online);
    put_list(b, "joined", "more_joined", &p->joined);
    put_list(b, "left", "more_left", &p->left);
    json_key_uint(b, "time", wall_ms());
    json_end(b);
    if (!b->failed) p->send(p->user, b->data, b->len);
}

static void on_flush_timer(cws_loop *loop, void *user) {
    presence *p = user;
    (void)loop;
    p->flush_timer = NULL; /* a one-shot timer is gone after this call */
    flush(p);
}

/* A batch goes to every one of `online` clients: spacing batches
 * online / PRESENCE_FRAMES_PER_SECOND seconds apart keeps the frames a
 * second within that budget, however large the room. */
static uint64_t flush_delay_ms(size_t online) {
    uint64_t spread = (uint64_t)online * 1000u / PRESENCE_FRAMES_PER_SECOND;
    return spread > PRESENCE_MIN_INTERVAL_MS ? spread : PRESENCE_MIN_INTERVAL_MS;
}

static void add(presence *p, name_list *l, const char *name, size_t len, size_t online) {
    if (p->stopped) return;
    p->online = online;
    if (l->listed < PRESENCE_MAX_NAMES && len <= PRESENCE_MAX_NAME) {
        memcpy(l->name[l->listed], name, len);
        l->len[l->listed++] = len;
    } else {
        l->more++;
    }
    if (p->flush_timer) return; /* it joins the batch already waiting */
    p->flush_timer = cws_timer_start(p->loop, flush_delay_ms(online), 0, on_flush_timer, p, NULL);
    if (!p->flush_timer) flush(p); /* no memory for a timer: send now, not at some later change */
}

void presence_joined(presence *p, const char *name, size_t len, size_t online) {
    add(p, &p->joined, name, len, online);
}

void presence_left(presence *p, const char *name, size_t len, size_t online) {
    add(p, &p->left, name, len, online);
}
