/* The set of post ids the history holds; see post_ids.h.
 *
 * Ids are kept oldest first in a circular queue, since they leave in the
 * order their messages do, and found through an open-addressing table
 * (linear probing) of queue positions. Both grow by doubling up to max,
 * so a history of few ids costs little. */
#include "post_ids.h"

#include <cws_util.h>

#include <stdlib.h>
#include <string.h>

typedef struct post_id {
    uint64_t seq;
    uint64_t hash;
    unsigned char len;
    char id[POST_ID_MAX];
} post_id;

struct post_ids {
    uint8_t key[16];
    size_t max;
    post_id *queue; /* qcap slots, the oldest at head */
    size_t qcap, head, count;
    size_t *table;  /* tcap slots: a queue slot + 1, or 0 for empty */
    size_t tcap;    /* a power of two, at least twice qcap: probes stay short */
};

int post_id_ok(const char *id, size_t len) {
    if (len == 0 || len > POST_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] < 0x21 || id[i] > 0x7E) return 0;
    return 1;
}

post_ids *post_ids_new(size_t max) {
    post_ids *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->max = max ? max : 1;
    if (cws_random(p->key, sizeof p->key) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void post_ids_free(post_ids *p) {
    if (!p) return;
    free(p->queue);
    free(p->table);
    free(p);
}

static const post_id *at(const post_ids *p, size_t i) { return &p->queue[(p->head + i) % p->qcap]; }

static size_t home(const post_ids *p, uint64_t hash) { return (size_t)hash & (p->tcap - 1); }

static void table_put(post_ids *p, size_t slot) {
    size_t i = home(p, p->queue[slot].hash);
    while (p->table[i]) i = (i + 1) & (p->tcap - 1);
    p->table[i] = slot + 1;
}

/* Room for one more id: a queue twice as long (at most max), oldest
 * first again from slot 0, and a table to match. */
static int grow(post_ids *p) {
    size_t qcap = p->qcap ? p->qcap * 2 : 16;
    if (qcap > p->max || qcap < p->qcap) qcap = p->max;
    if (qcap > SIZE_MAX / 4 / sizeof *p->queue) return -1; /* so tcap and the sizes fit */
    size_t tcap = 16;
    while (tcap < 2 * qcap) tcap *= 2;
    post_id *queue = malloc(qcap * sizeof *queue);
    size_t *table = calloc(tcap, sizeof *table);
    if (!queue || !table) {
        free(queue);
        free(table);
        return -1;
    }
    for (size_t i = 0; i < p->count; i++) queue[i] = *at(p, i);
    free(p->queue);
    free(p->table);
    p->queue = queue;
    p->qcap = qcap;
    p->head = 0;
    p->table = table;
    p->tcap = tcap;
    for (size_t i = 0; i < p->count; i++) table_put(p, i);
    return 0;
}

uint64_t post_ids_find(const post_ids *p, const char *id, size_t len) {
    if (!p->count) return 0;
    uint64_t hash = cws_siphash24(p->key, id, len);
    for (size_t i = home(p, hash); p->table[i]; i = (i + 1) & (p->tcap - 1)) {
        const post_id *e = &p->queue[p->table[i] - 1];
        if (e->hash == hash && e->len == len && memcmp(e->id, id, len) == 0) return e->seq;
    }
    return 0;
}

/* Removes the oldest id from the table, then from the queue. Entries
 * after it in its probe run move back into the hole (when their home
 * allows), so no lookup stops short at it. */
static void forget_oldest(post_ids *p) {
    size_t mask = p->tcap - 1, i = home(p, p->queue[p->head].hash);
    while (p->table[i] != p->head + 1) i = (i + 1) & mask;
    for (size_t j = i;;) {
        p->table[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!p->table[j]) goto removed;
            size_t k = home(p, p->queue[p->table[j] - 1].hash);
            /* It may move to i unless its home lies cyclically in (i, j]. */
            if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) break;
        }
        p->table[i] = p->table[j];
        i = j;
    }
removed:
    p->head = (p->head + 1) % p->qcap;
    p->count--;
}

int post_ids_add(post_ids *p, uint64_t seq, const char *id, size_t len) {
    if (len == 0 || len > POST_ID_MAX) return -1;
    if (p->count == p->max) forget_oldest(p);
    if (p->count == p->qcap && grow(p) < 0) return -1;
    size_t slot = (p->head + p->count) % p->qcap;
    post_id *e = &p->queue[slot];
    e->seq = seq;
    e->hash = cws_siphash24(p->key, id, len);
    e->len = (unsigned char)len;
    memcpy(e->id, id, len);
    p->count++;
    table_put(p, slot);
    return 0;
}

void post_ids_forget_before(post_ids *p, uint64_t seq) {
    while (p->count && p->queue[p->head].seq < seq) forget_oldest(p);
}
