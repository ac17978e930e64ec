/* hiredis on a cws_loop: see redis_loop.h. */
#include "redis_loop.h"

#include <stdlib.h>

typedef struct redis_loop {
    cws_loop *loop;
    redisAsyncContext *ac;
    int fd;
    unsigned want;    /* CWS_FD_* hiredis asked for */
    int watching;     /* the fd is watched (even if for nothing) */
    int dispatching;  /* inside on_ready: hiredis may free ac under us */
    int dead;         /* hiredis called cleanup: free once on_ready returns */
} redis_loop;

static void on_ready(cws_loop *loop, int fd, unsigned events, void *user);

/* hiredis's hooks must be idempotent, and may be called before the
 * socket is ever ready: the watch is made on first use. */
static void apply(redis_loop *r) {
    if (r->dead) return;
    if (r->watching) {
        (void)cws_loop_set_fd_events(r->loop, r->fd, r->want);
        return;
    }
    if (r->want) r->watching = cws_loop_watch_fd_events(r->loop, r->fd, r->want, on_ready, r) == CWS_OK;
}


static void add_read(void *p) {
    redis_loop *r = p;
    r->want |= CWS_FD_READ;
    apply(r);
}

static void del_read(void *p) {
    redis_loop *r = p;
    r->want &= ~(unsigned)CWS_FD_READ;
    apply(r);
}

static void add_write(void *p) {
    redis_loop *r = p;
    r->want |= CWS_FD_WRITE;
    apply(r);
}

static void del_write(void *p) {
    redis_loop *r = p;
    r->want &= ~(unsigned)CWS_FD_WRITE;
    apply(r);
}

/* hiredis is freeing the context (and will close the fd): stop watching
 * it now, while the fd number still means this socket. */
static void cleanup(void *p) {
    redis_loop *r = p;
    if (r->watching) cws_loop_unwatch_fd(r->loop, r->fd);
    r->watching = 0;
    r->dead = 1;
    if (!r->dispatching) free(r);
}

static void on_ready(cws_loop *loop, int fd, unsigned events, void *user) {
    redis_loop *r = user;
    (void)loop;
    (void)fd;
    r->dispatching = 1;
    /* A read may end in a disconnect, which frees ac (and calls cleanup):
     * the write then is not ours to handle. */
    if (events & CWS_FD_READ) redisAsyncHandleRead(r->ac);
    if ((events & CWS_FD_WRITE) && !r->dead) redisAsyncHandleWrite(r->ac);
    r->dispatching = 0;
    if (r->dead) free(r);
}

int redis_loop_attach(redisAsyncContext *ac, cws_loop *loop) {
    if (ac->ev.data) return -1;
    redis_loop *r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->loop = loop;
    r->ac = ac;
    r->fd = ac->c.fd;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = r;
    return 0;
}
