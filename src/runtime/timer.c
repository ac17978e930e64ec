/* Timers: one binary min-heap per loop holding every deadline (user timers,
 * each socket's single deadline, the server's). Insert, remove and update
 * are O(log n); a tick looks only at the heap's top, never at every
 * connection. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "runtime.h"

#include <limits.h>

static void timer_place(cws_loop *loop, size_t i, rt_tnode *n) {
    loop->heap[i] = n;
    n->slot = (uint32_t)i;
}

static void timer_sift_up(cws_loop *loop, size_t i) {
    rt_tnode *n = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->due <= n->due) break;
        timer_place(loop, i, loop->heap[parent]);
        i = parent;
    }
    timer_place(loop, i, n);
}

static void timer_sift_down(cws_loop *loop, size_t i) {
    rt_tnode *n = loop->heap[i];
    size_t len = loop->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len) break;
        if (c + 1 < len && loop->heap[c + 1]->due < loop->heap[c]->due) c++;
        if (n->due <= loop->heap[c]->due) break;
        timer_place(loop, i, loop->heap[c]);
        i = c;
    }
    timer_place(loop, i, n);
}

int cws__timer_reserve(cws_loop *loop) {
    if (loop->heap_need + 1 > loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        rt_tnode **h = cws__realloc(NULL, loop->heap, cap * sizeof *h);
        if (!h) return -1;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    loop->heap_need++;
    return 0;
}

void cws__timer_release(cws_loop *loop) {
    if (loop->heap_need) loop->heap_need--;
}

void cws__timer_set(cws_loop *loop, rt_tnode *n, uint64_t due) {
    if (n->slot != RT_T_NONE) {
        uint64_t old = n->due;
        n->due = due;
        if (due < old) timer_sift_up(loop, n->slot);
        else timer_sift_down(loop, n->slot);
        return;
    }
    n->due = due;
    size_t i = loop->heap_len++; /* a slot was reserved for n */
    loop->heap[i] = n;
    timer_sift_up(loop, i);
}

void cws__timer_clear(cws_loop *loop, rt_tnode *n) {
    if (n->slot == RT_T_NONE) return;
    size_t i = n->slot, last = --loop->heap_len;
    n->slot = RT_T_NONE;
    if (i == last) return;
    rt_tnode *m = loop->heap[last];
    timer_place(loop, i, m);
    if (i > 0 && loop->heap[(i - 1) / 2]->due > m->due) timer_sift_up(loop, i);
    else timer_sift_down(loop, i);
}

int cws__timer_wait_ms(cws_loop *loop, int max) {
    if (!loop->heap_len) return max;
    uint64_t due = loop->heap[0]->due;
    if (due <= loop->now) return 0;
    uint64_t d = due - loop->now;
    if (d > INT_MAX) d = INT_MAX;
    if (max >= 0 && (uint64_t)max < d) return max;
    return (int)d;
}

static void timer_user_fire(cws_loop *loop, cws_timer *t) {
    t->firing = 1;
    t->fn(loop, t->user);
    t->firing = 0;
    if (t->stopped || !t->interval) {
        cws__timer_release(loop);
        rt_free(t); /* a one-shot is gone once its callback returned */
        return;
    }
    uint64_t next = t->node.due + t->interval;
    if (next <= loop->now) next = loop->now + t->interval; /* we fell behind */
    if (next < loop->now) next = UINT64_MAX;                /* overflowed */
    cws__timer_set(loop, &t->node, next);
}

void cws__timer_run_due(cws_loop *loop) {
    /* Bounded by the heap's size on entry, so a callback that re-arms at
     * "now" runs again next round instead of spinning here. */
    size_t budget = loop->heap_len;
    while (budget-- && loop->heap_len && loop->heap[0]->due <= loop->now) {
        rt_tnode *n = loop->heap[0];
        cws__timer_clear(loop, n);
        switch (n->kind) {
        case RT_T_USER: timer_user_fire(loop, (cws_timer *)(void *)n); break;
        case RT_T_SOCKET:
            cws__socket_deadline((cws_socket *)(void *)((char *)n - offsetof(cws_socket, tn)));
            break;
        case RT_T_SERVER:
            cws__server_deadline((cws_server *)(void *)((char *)n - offsetof(cws_server, tn)));
            break;
        default: break;
        }
    }
}

void cws__timer_free_all(cws_loop *loop) {
    while (loop->heap_len) {
        rt_tnode *n = loop->heap[0];
        cws__timer_clear(loop, n);
        if (n->kind == RT_T_USER) rt_free(n);
    }
}

cws_timer *cws_timer_start(cws_loop *loop, uint64_t delay_ms, uint64_t interval_ms, cws_timer_fn fn,
                           void *user, int *err) {
    int dummy;
    if (!err) err = &dummy;
    *err = CWS_ERR_INVALID;
    if (!loop || !fn) return NULL;
    *err = CWS_ERR_NOMEM;
    cws_timer *t = rt_alloc(sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    if (cws__timer_reserve(loop) < 0) {
        rt_free(t);
        return NULL;
    }
    *err = CWS_OK;
    t->node.slot = RT_T_NONE;
    t->node.kind = RT_T_USER;
    t->loop = loop;
    t->fn = fn;
    t->user = user;
    t->interval = interval_ms;
    cws__loop_update_now(loop);
    uint64_t due = delay_ms > UINT64_MAX - loop->now ? UINT64_MAX : loop->now + delay_ms;
    cws__timer_set(loop, &t->node, due);
    return t;
}

void cws_timer_stop(cws_timer *t) {
    if (!t) return;
    if (t->firing) {
        t->stopped = 1; /* freed when its callback returns */
        return;
    }
    cws__timer_clear(t->loop, &t->node);
    cws__timer_release(t->loop);
    rt_free(t);
}
