/* The topic table: which server sockets are subscribed to which names.
 * Only data structures here (no I/O, no callbacks), so publish.c can walk
 * a topic's subscribers knowing nothing changes under it, and the fuzz
 * harness can drive the table with fake sockets. Every operation is O(1)
 * expected, except finding a subscription, which scans the shorter of the
 * socket's list (at most max_topics_per_socket) and the topic's. */
#include "runtime.h"

#include <string.h>

#define TPC_BUCKETS_MIN 16u
#define TPC_NONE UINT32_MAX

/* ------------------------------------------------------------ the table */

static int tpc_init(rt_topics *tt) {
    if (tt->bucket) return CWS_OK;
    if (cws_random(tt->key, sizeof tt->key) != CWS_OK) return CWS_ERR_RANDOM;
    tt->bucket = rt_alloc(TPC_BUCKETS_MIN * sizeof *tt->bucket);
    if (!tt->bucket) return CWS_ERR_NOMEM;
    memset(tt->bucket, 0, TPC_BUCKETS_MIN * sizeof *tt->bucket);
    tt->nbucket = TPC_BUCKETS_MIN;
    return CWS_OK;
}

/* To n chains; out of memory the table just stays as it is. */
static void tpc_rehash(rt_topics *tt, size_t n) {
    rt_topic **b = rt_alloc(n * sizeof *b);
    if (!b) return;
    memset(b, 0, n * sizeof *b);
    for (size_t i = 0; i < tt->nbucket; i++) {
        for (rt_topic *t = tt->bucket[i], *next; t; t = next) {
            next = t->next;
            t->next = b[t->hash & (n - 1)];
            b[t->hash & (n - 1)] = t;
        }
    }
    rt_free(tt->bucket);
    tt->bucket = b;
    tt->nbucket = n;
}

static rt_topic *tpc_lookup(const rt_topics *tt, const void *name, size_t len, uint64_t h) {
    for (rt_topic *t = tt->bucket[h & (tt->nbucket - 1)]; t; t = t->next)
        if (t->hash == h && t->len == len && !memcmp(t->name, name, len)) return t;
    return NULL;
}

rt_topic *cws__topics_find(const rt_topics *tt, const void *name, size_t len) {
    if (!tt->bucket) return NULL;
    return tpc_lookup(tt, name, len, cws_siphash24(tt->key, name, len));
}

static rt_topic *tpc_topic_new(rt_topics *tt, const void *name, size_t len, uint64_t h) {
    if (len > SIZE_MAX - sizeof(rt_topic)) return NULL;
    rt_topic *t = rt_alloc(sizeof *t + len);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->hash = h;
    t->len = len;
    memcpy(t->name, name, len);
    rt_topic **head = &tt->bucket[h & (tt->nbucket - 1)];
    t->next = *head;
    *head = t;
    tt->count++;
    return t;
}

/* An empty topic goes at once: names that come and go (per-document,
 * per-user) leave nothing behind. */
static void tpc_topic_free(rt_topics *tt, rt_topic *t) {
    for (rt_topic **pp = &tt->bucket[t->hash & (tt->nbucket - 1)]; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    rt_free(t->mem);
    rt_free(t);
    tt->count--;
    if (tt->nbucket > TPC_BUCKETS_MIN && tt->count < tt->nbucket / 8) tpc_rehash(tt, tt->nbucket / 2);
}

/* ------------------------------------------------------------ growing and shrinking */

/* Arrays double when full and halve when a quarter full: a subscription
 * costs its two entries plus at most as much slack. */
static int tpc_mem_room(rt_topic *t) {
    if (t->n < t->cap) return 1;
    if (t->cap > UINT32_MAX / 2) return 0;
    uint32_t cap = t->cap ? t->cap * 2 : 1;
    rt_tmember *m = cws__realloc(NULL, t->mem, cap * sizeof *m);
    if (!m) return 0;
    t->mem = m;
    t->cap = cap;
    return 1;
}

static void tpc_mem_shrink(rt_topic *t) {
    if (t->cap < 4 || t->n > t->cap / 4) return;
    rt_tmember *m = cws__realloc(NULL, t->mem, t->cap / 2 * sizeof *m);
    if (!m) return;
    t->mem = m;
    t->cap /= 2;
}

rt_srvsock *cws__srvsock_get(cws_socket *s) {
    if (!s->own.srv) {
        rt_srvsock *x = rt_alloc(sizeof *x);
        if (!x) return NULL;
        memset(x, 0, sizeof *x);
        s->own.srv = x;
    }
    return s->own.srv;
}

static rt_srvsock *tpc_sock_resize(cws_socket *s, uint32_t cap) {
    rt_srvsock *x = cws__realloc(NULL, s->own.srv, sizeof *x + cap * sizeof x->sub[0]);
    if (!x) return NULL;
    x->cap = cap;
    s->own.srv = x;
    return x;
}

static rt_srvsock *tpc_sock_room(cws_socket *s) {
    rt_srvsock *x = cws__srvsock_get(s);
    if (!x || x->nsub < x->cap) return x;
    if (x->cap > UINT32_MAX / 2) return NULL;
    return tpc_sock_resize(s, x->cap ? x->cap * 2 : 1);
}

static void tpc_sock_shrink(cws_socket *s) {
    rt_srvsock *x = s->own.srv;
    if (!x) return;
    if (!x->nsub && !x->protocol) {
        rt_free(x);
        s->own.srv = NULL;
    } else if (x->cap >= 4 && x->nsub <= x->cap / 4) {
        (void)tpc_sock_resize(s, x->cap / 2);
    }
}

/* ------------------------------------------------------------ subscriptions */

/* Where s's subscription to t is in s's list, or TPC_NONE. */
static uint32_t tpc_slot(const rt_topic *t, const cws_socket *s) {
    const rt_srvsock *x = s->own.srv;
    if (!x) return TPC_NONE;
    if (t->n < x->nsub) {
        for (uint32_t i = 0; i < t->n; i++)
            if (t->mem[i].s == s) return t->mem[i].slot;
    } else {
        for (uint32_t i = 0; i < x->nsub; i++)
            if (x->sub[i].t == t) return i;
    }
    return TPC_NONE;
}

/* Removes s's i-th subscription: each side swaps its last entry into the
 * hole and tells that entry's partner where it went. */
static void tpc_unlink(rt_topics *tt, cws_socket *s, uint32_t i) {
    rt_srvsock *x = s->own.srv;
    rt_topic *t = x->sub[i].t;
    uint32_t m = x->sub[i].idx;
    if (m != --t->n) {
        t->mem[m] = t->mem[t->n];
        t->mem[m].s->own.srv->sub[t->mem[m].slot].idx = m;
    }
    if (i != --x->nsub) {
        x->sub[i] = x->sub[x->nsub];
        x->sub[i].t->mem[x->sub[i].idx].slot = i;
    }
    if (!t->n) tpc_topic_free(tt, t);
    else tpc_mem_shrink(t);
}

int cws__topics_sub(rt_topics *tt, cws_socket *s, const void *name, size_t len, size_t max) {
    int rc = tpc_init(tt);
    if (rc) return rc;
    uint64_t h = cws_siphash24(tt->key, name, len);
    rt_topic *t = tpc_lookup(tt, name, len, h);
    if (t && tpc_slot(t, s) != TPC_NONE) return CWS_OK;
    if (s->own.srv && s->own.srv->nsub >= max) return CWS_ERR_TOO_BIG;
    rt_srvsock *x = tpc_sock_room(s);
    rt_topic *made = NULL;
    if (x && !t) t = made = tpc_topic_new(tt, name, len, h);
    if (!x || !t || !tpc_mem_room(t)) {
        if (made) tpc_topic_free(tt, made);
        tpc_sock_shrink(s);
        return CWS_ERR_NOMEM;
    }
    t->mem[t->n].s = s;
    t->mem[t->n].slot = x->nsub;
    x->sub[x->nsub].t = t;
    x->sub[x->nsub].idx = t->n;
    t->n++;
    x->nsub++;
    if (made && tt->count > tt->nbucket) tpc_rehash(tt, tt->nbucket * 2);
    return CWS_OK;
}

int cws__topics_unsub(rt_topics *tt, cws_socket *s, const void *name, size_t len) {
    rt_topic *t = cws__topics_find(tt, name, len);
    uint32_t i = t ? tpc_slot(t, s) : TPC_NONE;
    if (i == TPC_NONE) return CWS_ERR_STATE;
    tpc_unlink(tt, s, i);
    tpc_sock_shrink(s);
    return CWS_OK;
}

int cws__topics_has(const rt_topics *tt, const cws_socket *s, const void *name, size_t len) {
    const rt_topic *t = cws__topics_find(tt, name, len);
    return t && tpc_slot(t, s) != TPC_NONE;
}

void cws__topics_socket_gone(rt_topics *tt, cws_socket *s) {
    rt_srvsock *x = s->own.srv;
    if (!x) return;
    while (x->nsub) tpc_unlink(tt, s, x->nsub - 1); /* the last: nothing moves */
    rt_free(x->protocol);
    rt_free(x);
    s->own.srv = NULL;
}

void cws__topics_free(rt_topics *tt) {
    for (size_t i = 0; i < tt->nbucket; i++) {
        for (rt_topic *t = tt->bucket[i], *next; t; t = next) {
            next = t->next;
            rt_free(t->mem);
            rt_free(t);
        }
    }
    rt_free(tt->bucket);
    memset(tt, 0, sizeof *tt);
}
