/* Per-socket output queues. Bytes written during a callback or a read batch
 * collect here and leave in one sendmsg (writev-style) when the socket is
 * settled ("corking"). A queue exists only while bytes are pending; queues
 * and standard-size buffers are recycled through per-loop caches so the
 * steady state (echo, broadcast) does not call malloc per message. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "runtime.h"

#include <sys/uio.h>


#define OUTQ_IOV_MAX 64
#define OUTQ_ENT_INIT 8
#define OUTQ_ENT_CACHED_MAX 64

/* A cached large buffer that fits cap, the smallest such; NULL if none. */
static rt_buf *buf_big_take(cws_loop *loop, size_t cap) {
    size_t best = loop->nbig_cache;
    for (size_t i = 0; i < loop->nbig_cache; i++)
        if (loop->big_cache[i]->cap >= cap && (best == loop->nbig_cache || loop->big_cache[i]->cap < loop->big_cache[best]->cap))
            best = i;
    if (best == loop->nbig_cache) return NULL;
    rt_buf *b = loop->big_cache[best];
    loop->big_cache[best] = loop->big_cache[--loop->nbig_cache];
    loop->big_taken++;
    return b;
}

rt_buf *cws__buf_new(cws_loop *loop, size_t cap) {
    rt_buf *b;
    if (cap <= RT_BUF_STD && loop->nbuf_cache) {
        b = loop->buf_cache[--loop->nbuf_cache];
    } else if (cap > RT_BUF_STD && (b = buf_big_take(loop, cap)) != NULL) {
        /* a large message's buffer again, without malloc */
    } else {
        if (cap < RT_BUF_STD) cap = RT_BUF_STD;
        if (cap > SIZE_MAX - sizeof *b) return NULL;
        b = rt_alloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
    }
    b->refs = 1;
    b->shared = RT_PRIVATE;
    b->used = 0;
    return b;
}

void cws__buf_unref(cws_loop *loop, rt_buf *b) {
    if (--b->refs) return;
    if (b->cap == RT_BUF_STD && loop->nbuf_cache < RT_CACHE_MAX) loop->buf_cache[loop->nbuf_cache++] = b;
    else if (b->cap > RT_BUF_STD && b->cap <= RT_BIG_CACHE_BYTES && loop->nbig_cache < RT_BIG_CACHE)
        loop->big_cache[loop->nbig_cache++] = b;
    else rt_free(b);
}

static void buf_big_free(cws_loop *loop) {
    while (loop->nbig_cache) rt_free(loop->big_cache[--loop->nbig_cache]);
}

static rt_outq *outq_get(cws_socket *s) {
    if (s->q) return s->q;
    cws_loop *loop = rt_sock_loop(s);
    rt_outq *q = loop->q_cache;
    if (q) {
        loop->q_cache = q->next_free;
        loop->nq_cache--;
        if (loop->nq_cache < loop->nq_cache_low) loop->nq_cache_low = loop->nq_cache;
    } else {
        q = rt_alloc(sizeof *q);
        if (!q) return NULL;
        q->ent = rt_alloc(OUTQ_ENT_INIT * sizeof *q->ent);
        if (!q->ent) {
            rt_free(q);
            return NULL;
        }
        q->cap = OUTQ_ENT_INIT;
    }
    q->head = q->count = 0;
    q->bytes = 0;
    s->q = q;
    return q;
}

static void outq_release(rt_outq *q) {
    rt_free(q->ent);
    rt_free(q);
}

/* Back to the loop's cache (unbounded here; cws__outq_cache_trim bounds
 * it over time), unless its ring grew unusually large. */
static void outq_put(cws_loop *loop, rt_outq *q) {
    if (q->cap > OUTQ_ENT_CACHED_MAX) {
        outq_release(q);
        return;
    }
    q->next_free = loop->q_cache;
    loop->q_cache = q;
    loop->nq_cache++;
}

void cws__outq_cache_trim(cws_loop *loop) {
    if (loop->now < loop->q_trim_at) return;
    loop->q_trim_at = loop->now + RT_CACHE_TRIM_MS;
    /* A server that has stopped broadcasting gives its buffers back, and
     * one that no longer moves large messages its large buffers. */
    if (loop->now - loop->round_at >= RT_CACHE_TRIM_MS) cws__round_free(loop);
    if (!loop->big_taken) buf_big_free(loop);
    loop->big_taken = 0;
    /* nq_cache_low queues sat in the cache the whole interval: free them,
     * keeping RT_CACHE_MAX for ordinary traffic. */
    size_t idle = loop->nq_cache_low;
    while (idle > RT_CACHE_MAX && loop->q_cache) {
        rt_outq *q = loop->q_cache;
        loop->q_cache = q->next_free;
        loop->nq_cache--;
        idle--;
        outq_release(q);
    }
    loop->nq_cache_low = loop->nq_cache;
}

void cws__outq_cache_free(cws_loop *loop) {
    while (loop->q_cache) {
        rt_outq *q = loop->q_cache;
        loop->q_cache = q->next_free;
        outq_release(q);
    }
    loop->nq_cache = loop->nq_cache_low = 0;
    while (loop->nbuf_cache) rt_free(loop->buf_cache[--loop->nbuf_cache]);
    buf_big_free(loop);
}

/* Ring positions: cap is a power of two (OUTQ_ENT_INIT, doubled). */
static uint32_t outq_pos(const rt_outq *q, uint32_t i) { return (q->head + i) & (q->cap - 1); }

static rt_qent *outq_tail(rt_outq *q) {
    return q->count ? &q->ent[outq_pos(q, q->count - 1)] : NULL;
}

static int outq_push(rt_outq *q, const uint8_t *ptr, size_t len, rt_buf *b) {
    if (q->count == q->cap) {
        if (q->cap > UINT32_MAX / 2) return -1;
        uint32_t cap = q->cap * 2;
        rt_qent *e = rt_alloc(cap * sizeof *e);
        if (!e) return -1;
        for (uint32_t i = 0; i < q->count; i++) e[i] = q->ent[outq_pos(q, i)];
        rt_free(q->ent);
        q->ent = e;
        q->cap = cap;
        q->head = 0;
    }
    rt_qent *e = &q->ent[outq_pos(q, q->count)];
    e->ptr = ptr;
    e->len = len;
    e->buf = b;
    q->count++;
    q->bytes += len;
    return 0;
}

uint8_t *cws__outq_reserve(cws_socket *s, size_t n) {
    rt_outq *q = s->q;
    if (q) {
        rt_qent *t = outq_tail(q);
        if (t && !t->buf->shared) {
            rt_buf *b = t->buf;
            if (t->ptr + t->len == b->data + b->used && b->cap - b->used >= n) {
                uint8_t *p = b->data + b->used;
                b->used += n;
                t->len += n;
                q->bytes += n;
                return p;
            }
        }
    }
    /* Larger than a standard buffer: NULL sends the frame through the
     * write callback (cws__outq_append), which puts what does not fit the
     * tail buffer in one buffer made to measure. */
    if (n > RT_BUF_STD) return NULL;
    q = outq_get(s);
    if (!q) return NULL;
    rt_buf *b = cws__buf_new(rt_sock_loop(s), n);
    if (!b) return NULL;
    if (outq_push(q, b->data, n, b) < 0) {
        cws__buf_unref(rt_sock_loop(s), b);
        return NULL;
    }
    b->used = n;
    return b->data;
}

int cws__outq_append(cws_socket *s, const uint8_t *data, size_t len) {
    if (!len) return 0;
    rt_outq *q = outq_get(s);
    if (!q) return CWS_ERR_NOMEM;
    rt_qent *t = outq_tail(q);
    if (t && !t->buf->shared) {
        rt_buf *b = t->buf;
        size_t room = b->cap - b->used;
        if (t->ptr + t->len == b->data + b->used && room) {
            size_t n = CWS__MIN(room, len);
            memcpy(b->data + b->used, data, n);
            b->used += n;
            t->len += n;
            q->bytes += n;
            data += n;
            len -= n;
            if (!len) return 0;
        }
    }
    rt_buf *b = cws__buf_new(rt_sock_loop(s), len);
    if (!b) return CWS_ERR_NOMEM;
    memcpy(b->data, data, len);
    b->used = len;
    if (outq_push(q, b->data, len, b) < 0) {
        cws__buf_unref(rt_sock_loop(s), b);
        return CWS_ERR_NOMEM;
    }
    return 0;
}

int cws__outq_append_frame(cws_socket *s, const rt_frame *f) {
    rt_outq *q = outq_get(s);
    if (!q) return CWS_ERR_NOMEM;
    rt_qent *t = outq_tail(q);
    if (t && t->buf == f->buf && t->ptr + t->len == f->ptr) {
        t->len += f->len;
        q->bytes += f->len;
        return 0;
    }
    if (f->buf->shared == RT_SHARED_ROUND && s->io.flags & RT_F_BLOCKED)
        return cws__outq_append(s, f->ptr, f->len);
    if (outq_push(q, f->ptr, f->len, f->buf) < 0) return CWS_ERR_NOMEM;
    f->buf->refs++;
    return 0;
}

void cws__round_free(cws_loop *loop) {
    for (size_t i = 0; i < RT_ROUND_CLASSES; i++) {
        if (loop->round[i]) cws__buf_unref(loop, loop->round[i]);
        loop->round[i] = NULL;
    }
}

static void outq_consume(cws_socket *s, size_t n) {
    rt_outq *q = s->q;
    q->bytes -= n;
    while (n) {
        rt_qent *e = &q->ent[q->head];
        if (n < e->len) {
            e->ptr += n;
            e->len -= n;
            return;
        }
        n -= e->len;
        cws__buf_unref(rt_sock_loop(s), e->buf);
        q->head = outq_pos(q, 1);
        q->count--;
    }
}

ptrdiff_t cws__outq_flush(cws_socket *s) {
    rt_outq *q = s->q;
    ptrdiff_t took = 0;
    while (q && q->count) {
        struct iovec iov[OUTQ_IOV_MAX];
        size_t n = 0, want = 0;
        for (uint32_t i = 0; i < q->count && n < OUTQ_IOV_MAX; i++, n++) {
            rt_qent *e = &q->ent[outq_pos(q, i)];
            iov[n].iov_base = (void *)(uintptr_t)e->ptr;
            iov[n].iov_len = e->len;
            want += e->len;
        }
        ptrdiff_t w = s->cfg->tp->writev(s, iov, n);
        if (w == RT_TP_AGAIN) {
            s->io.flags |= RT_F_BLOCKED;
            return took;
        }
        if (w < 0) return -1;
        outq_consume(s, (size_t)w);
        took += w;
        if ((size_t)w < want) {
            s->io.flags |= RT_F_BLOCKED; /* the kernel is full: wait for writable */
            return took;
        }
    }
    s->io.flags &= (uint8_t)~RT_F_BLOCKED;
    if (q) {
        s->q = NULL;
        outq_put(rt_sock_loop(s), q);
    }
    return took;
}

void cws__outq_free(cws_socket *s) {
    rt_outq *q = s->q;
    if (!q) return;
    while (q->count) {
        cws__buf_unref(rt_sock_loop(s), q->ent[q->head].buf);
        q->head = outq_pos(q, 1);
        q->count--;
    }
    s->q = NULL;
    outq_put(rt_sock_loop(s), q);
}
