/* Per-address accounting; see peers.h. */
#include "peers.h"

#include <cws_util.h>

#include <stdlib.h>
#include <string.h>

#define PEERS_FIRST_SLOTS 64

struct peer {
    client_addr key;
    peer *chain;                  /* next in its slot */
    peer *idle_prev, *idle_next;  /* in the idle list while it has no connection */
    size_t connections;
    double tokens;                /* the bucket */
    uint64_t refilled_ms;
    uint64_t idle_since_ms;
};

struct peers {
    peers_config cfg;
    uint8_t secret[16];           /* cws_siphash24 key, drawn at start */
    peer **slots;
    size_t nslots;                /* a power of two */
    size_t count;
    /* Records without connections, oldest first. They all expire the same
     * time after they went idle, so the oldest expires first. */
    peer *idle_oldest, *idle_newest;
    uint64_t refill_ms;           /* an empty bucket is full again after this */
};

peers *peers_new(const peers_config *cfg) {
    peers *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cfg = *cfg;
    t->nslots = PEERS_FIRST_SLOTS;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->slots || cws_random(t->secret, sizeof t->secret) != CWS_OK) {
        free(t->slots);
        free(t);
        return NULL;
    }
    t->refill_ms = (uint64_t)(cfg->burst * 1000.0 / cfg->rate) + 1; /* rounded up */
    return t;
}

void peers_free(peers *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nslots; i++) {
        while (t->slots[i]) {
            peer *p = t->slots[i];
            t->slots[i] = p->chain;
            free(p);
        }
    }
    free(t->slots);
    free(t);
}

static size_t slot_of(const peers *t, const client_addr *key) {
    return (size_t)cws_siphash24(t->secret, key->bytes, sizeof key->bytes) & (t->nslots - 1);
}

static peer *find(const peers *t, const client_addr *key) {
    for (peer *p = t->slots[slot_of(t, key)]; p; p = p->chain)
        if (memcmp(p->key.bytes, key->bytes, sizeof key->bytes) == 0) return p;
    return NULL;
}

/* Keeps chains about one record long. Without memory for more slots the
 * table just stays smaller: slower, still correct. */
static void grow(peers *t) {
    if (t->count < t->nslots || t->nslots > t->cfg.max_addresses) return;
    size_t old_n = t->nslots;
    peer **old = t->slots, **fresh = calloc(old_n * 2, sizeof *fresh);
    if (!fresh) return;
    t->slots = fresh;
    t->nslots = old_n * 2;
    for (size_t i = 0; i < old_n; i++) {
        while (old[i]) {
            peer *p = old[i];
            old[i] = p->chain;
            size_t s = slot_of(t, &p->key);
            p->chain = t->slots[s];
            t->slots[s] = p;
        }
    }
    free(old);
}

static void idle_remove(peers *t, peer *p) {
    if (p->idle_prev) p->idle_prev->idle_next = p->idle_next;
    else t->idle_oldest = p->idle_next;
    if (p->idle_next) p->idle_next->idle_prev = p->idle_prev;
    else t->idle_newest = p->idle_prev;
    p->idle_prev = p->idle_next = NULL;
}

static void idle_append(peers *t, peer *p, uint64_t now_ms) {
    p->idle_since_ms = now_ms;
    p->idle_prev = t->idle_newest;
    p->idle_next = NULL;
    if (t->idle_newest) t->idle_newest->idle_next = p;
    else t->idle_oldest = p;
    t->idle_newest = p;
}

/* Frees p, which has no connection. */
static void forget(peers *t, peer *p) {
    peer **link = &t->slots[slot_of(t, &p->key)];
    while (*link != p) link = &(*link)->chain;
    *link = p->chain;
    if (p->idle_prev || t->idle_oldest == p) idle_remove(t, p);
    t->count--;
    free(p);
}

static void forget_refilled(peers *t, uint64_t now_ms) {
    while (t->idle_oldest && now_ms - t->idle_oldest->idle_since_ms >= t->refill_ms) forget(t, t->idle_oldest);
}

static void refill(const peers *t, peer *p, uint64_t now_ms) {
    p->tokens += (double)(now_ms - p->refilled_ms) * t->cfg.rate / 1000.0;
    if (p->tokens > t->cfg.burst) p->tokens = t->cfg.burst;
    p->refilled_ms = now_ms;
}

peers_result peers_join(peers *t, const client_addr *key, uint64_t now_ms, peer **out) {
    forget_refilled(t, now_ms);
    peer *p = find(t, key);
    if (p) {
        if (t->cfg.max_per_address && p->connections >= t->cfg.max_per_address) return PEERS_ADDRESS_FULL;
        if (p->connections++ == 0) idle_remove(t, p);
        *out = p;
        return PEERS_OK;
    }
    if (t->count >= t->cfg.max_addresses) {
        /* Forgetting it early refills that address's bucket: a lesser
         * harm than refusing everyone new. */
        if (!t->idle_oldest) return PEERS_TABLE_FULL;
        forget(t, t->idle_oldest);
    }
    p = calloc(1, sizeof *p);
    if (!p) return PEERS_TABLE_FULL;
    p->key = *key;
    p->connections = 1;
    p->tokens = t->cfg.burst;
    p->refilled_ms = now_ms;
    size_t s = slot_of(t, key);
    p->chain = t->slots[s];
    t->slots[s] = p;
    t->count++;
    grow(t);
    *out = p;
    return PEERS_OK;
}

void peers_leave(peers *t, peer *p, uint64_t now_ms) {
    if (--p->connections > 0) return;
    refill(t, p, now_ms);
    /* A full bucket is what a new record would get: nothing to remember. */
    if (p->tokens >= t->cfg.burst) forget(t, p);
    else idle_append(t, p, now_ms);
    forget_refilled(t, now_ms);
}

/* A token bucket: `burst` messages at once, `rate` per second sustained. */
int peers_take(peers *t, peer *p, uint64_t now_ms) {
    refill(t, p, now_ms);
    if (p->tokens < 1.0) return 0;
    p->tokens -= 1.0;
    return 1;
}
