/* The loop's only two thread-safe calls, cws_loop_post and cws_loop_stop:
 * a mutex-protected job queue and a wake-up fd the loop watches (an
 * eventfd on Linux, a pipe with the poll backend). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "runtime.h"

#include <errno.h>
#include <sched.h>
#include <unistd.h>
#ifndef CWS_USE_POLL
#include <sys/eventfd.h>
#endif

/* A batch array larger than this that a batch used less than a quarter
 * of is given back: a burst does not pin its memory for good. */
#define POST_KEEP 1024

/* Made with the loop, not on the first post: that post comes from another
 * thread, which cannot add an fd to a loop that may be polling (poll's
 * array belongs to the loop thread). One fd (two for a pipe) per loop. */
int cws__post_init(cws_loop *loop) {
    rt_post *p = &loop->post;
    p->io.kind = RT_IO_POST;
#ifndef CWS_USE_POLL
    p->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->io.fd < 0) return errno == ENOMEM ? CWS_ERR_NOMEM : CWS_ERR_IO;
    p->wake_wr = p->io.fd;
#else
    int fds[2];
    if (pipe(fds) < 0) return CWS_ERR_IO;
    p->io.fd = fds[0];
    p->wake_wr = fds[1];
    if (cws__fd_prepare(fds[0]) < 0 || cws__fd_prepare(fds[1]) < 0) {
        close(fds[0]);
        close(fds[1]);
        return CWS_ERR_IO;
    }
#endif
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        if (p->wake_wr != p->io.fd) close(p->wake_wr);
        close(p->io.fd);
        return CWS_ERR_NOMEM;
    }
    if (cws__loop_add(loop, &p->io, RT_EV_READ) < 0) {
        cws__post_free(loop);
        return CWS_ERR_IO;
    }
    return CWS_OK;
}

/* One wake-up is enough however many posts wait: a full pipe or a
 * saturated eventfd (EAGAIN) is already readable. */
static void post_wake(rt_post *p) {
#ifndef CWS_USE_POLL
    uint64_t one = 1;
    if (write(p->wake_wr, &one, sizeof one) < 0) { /* readable already */ }
#else
    uint8_t one = 1;
    if (write(p->wake_wr, &one, 1) < 0) { /* readable already */ }
#endif
}

static void post_drain(rt_post *p) {
    uint8_t buf[64];
    while (read(p->io.fd, buf, sizeof buf) > 0) {}
}

/* Announces a thread-safe call; 0 if the loop is being freed. The
 * counter goes up before the flag is read and free sets the flag before
 * it reads the counter (both sequentially consistent): so either this
 * call sees the flag, or free sees the call and waits for it. */
static int post_enter(rt_post *p) {
    atomic_fetch_add(&p->users, 1);
    if (!atomic_load(&p->closed)) return 1;
    atomic_fetch_sub(&p->users, 1);
    return 0;
}

static void post_leave(rt_post *p) { atomic_fetch_sub(&p->users, 1); }

int cws_loop_post(cws_loop *loop, cws_post_fn fn, void *arg) {
    if (!loop || !fn) return CWS_ERR_INVALID;
    rt_post *p = &loop->post;
    if (!post_enter(p)) return CWS_ERR_CLOSED;
    int rc = CWS_OK;
    pthread_mutex_lock(&p->lock);
    if (p->njobs == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        rt_job *j = p->cap >= RT_POST_MAX ? NULL : cws__realloc(NULL, p->jobs, cap * sizeof *j);
        if (j) {
            p->jobs = j;
            p->cap = cap;
        } else {
            rc = p->cap >= RT_POST_MAX ? CWS_ERR_TOO_BIG : CWS_ERR_NOMEM;
        }
    }
    if (rc == CWS_OK) {
        p->jobs[p->njobs].fn = fn;
        p->jobs[p->njobs].arg = arg;
        p->njobs++;
        /* Under the lock: once it is released, free may close the fd. */
        if (!p->signalled) {
            p->signalled = 1;
            post_wake(p);
        }
    }
    pthread_mutex_unlock(&p->lock);
    post_leave(p);
    return rc;
}

void cws_loop_stop(cws_loop *loop) {
    if (!loop) return;
    rt_post *p = &loop->post;
    atomic_store(&loop->stop, 1);
    /* From the loop's own thread the wake-up is redundant but harmless
     * (one more round); from another it ends a wait that may be long. */
    if (!post_enter(p)) return;
    post_wake(p);
    post_leave(p);
}

/* Takes every job queued so far, to run outside the lock: a job may post
 * again, and its post lands in the other array, for a later batch. */
static void post_take(rt_post *p) {
    pthread_mutex_lock(&p->lock);
    rt_job *jobs = p->jobs;
    size_t n = p->njobs, cap = p->cap;
    p->jobs = p->batch;
    p->cap = p->batch_cap;
    p->njobs = 0;
    p->signalled = 0;
    pthread_mutex_unlock(&p->lock);
    p->batch = jobs;
    p->batch_cap = cap;
    p->batch_n = n;
    p->batch_pos = 0;
}

/* Runs at most max jobs of the batch; returns how many ran. */
static size_t post_run(cws_loop *loop, size_t max) {
    rt_post *p = &loop->post;
    size_t start = p->batch_pos;
    size_t end = p->batch_n - start > max ? start + max : p->batch_n;
    while (p->batch_pos < end) {
        rt_job *j = &p->batch[p->batch_pos++];
        j->fn(loop, j->arg);
    }
    if (p->batch_pos < p->batch_n) return end - start;
    if (p->batch_cap > POST_KEEP && p->batch_n < p->batch_cap / 4) {
        rt_free(p->batch);
        p->batch = NULL;
        p->batch_cap = 0;
    }
    p->batch_n = p->batch_pos = 0;
    return end - start;
}

/* A long queue runs over several rounds, with the sockets' I/O (and the
 * freeing of what was sent) in between; a wake-up of our own brings the
 * loop back at once for the rest, which runs before anything newer. */
void cws__post_event(cws_loop *loop) {
    rt_post *p = &loop->post;
    /* Drain first: a post after the drain signals again (signalled is
     * cleared under the lock together with taking the queue). */
    post_drain(p);
    size_t ran = post_run(loop, RT_POST_ROUND);
    if (p->batch_n == 0) {
        /* The drain may have eaten the wake-up of jobs still queued. */
        post_take(p);
        post_run(loop, RT_POST_ROUND - ran);
    }
    if (p->batch_n) post_wake(p);
}

void cws__post_close(cws_loop *loop) {
    rt_post *p = &loop->post;
    atomic_store(&p->closed, 1);
    /* The calls in progress finish in a few instructions. */
    while (atomic_load(&p->users)) sched_yield();
    /* Nothing can be added now: the rest of the current batch and one
     * more hold every accepted job. */
    post_run(loop, SIZE_MAX);
    post_take(p);
    post_run(loop, SIZE_MAX);
}

void cws__post_free(cws_loop *loop) {
    rt_post *p = &loop->post;
    pthread_mutex_destroy(&p->lock);
    if (p->wake_wr != p->io.fd) close(p->wake_wr);
    close(p->io.fd);
    rt_free(p->jobs);
    rt_free(p->batch);
}
