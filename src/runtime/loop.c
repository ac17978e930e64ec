/* The event loop: epoll on Linux, poll(2) elsewhere or with -DCWS_USE_POLL;
 * fd watchers; the monotonic clock; the end-of-round flush of every socket
 * that has output (corking) and the deferred free of torn-down objects.
 * The thread-safe calls (post, stop) and their wake-up fd are in post.c. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef CWS_USE_POLL
#include <sys/epoll.h>
#endif

#define LOOP_MAX_EVENTS 256

static uint64_t loop_clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cws__loop_update_now(cws_loop *loop) {
    loop->now = (loop_clock_ns() - loop->origin_ns) / 1000000u;
}

uint64_t cws_loop_now(const cws_loop *loop) { return loop ? loop->now : 0; }

int cws__fd_prepare(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    int fdf = fcntl(fd, F_GETFD);
    if (fdf < 0 || fcntl(fd, F_SETFD, fdf | FD_CLOEXEC) < 0) return -1;
#ifdef SO_NOSIGPIPE
    /* BSD/macOS: no MSG_NOSIGNAL, so the socket itself must not raise SIGPIPE. */
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return 0;
}

/* What the poll or epoll backend holds; the rest of the loop is freed by
 * its owner. */
static void loop_backend_free(cws_loop *loop) {
#ifdef CWS_USE_POLL
    rt_free(loop->pfd);
    rt_free(loop->pio);
    rt_free(loop->ready);
#else
    close(loop->epfd);
#endif
}

cws_loop *cws_loop_new(int *err) {
    int dummy;
    if (!err) err = &dummy;
    *err = CWS_ERR_NOMEM;
    cws_loop *loop = rt_alloc(sizeof *loop);
    if (!loop) return NULL;
    memset(loop, 0, sizeof *loop);
    loop->rbuf = rt_alloc(RT_RBUF_SIZE);
    if (!loop->rbuf) {
        rt_free(loop);
        return NULL;
    }
#ifndef CWS_USE_POLL
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        *err = errno == ENOMEM ? CWS_ERR_NOMEM : CWS_ERR_IO;
        rt_free(loop->rbuf);
        rt_free(loop);
        return NULL;
    }
#endif
    atomic_init(&loop->stop, 0);
    atomic_init(&loop->post.closed, 0);
    atomic_init(&loop->post.users, 0);
    int rc = cws__post_init(loop);
    if (rc != CWS_OK) {
        *err = rc;
        loop_backend_free(loop);
        rt_free(loop->rbuf);
        rt_free(loop);
        return NULL;
    }
    *err = CWS_OK;
    loop->origin_ns = loop_clock_ns();
    loop->now = 0;
    return loop;
}

/* ------------------------------------------------------------ backend */

#ifdef CWS_USE_POLL
static short loop_poll_events(unsigned ev) {
    short e = 0;
    if (ev & RT_EV_READ) e |= POLLIN;
    if (ev & RT_EV_WRITE) e |= POLLOUT;
    return e;
}

int cws__loop_add(cws_loop *loop, rt_io *io, unsigned events) {
    if (loop->npfd == loop->pcap) {
        size_t cap = loop->pcap ? loop->pcap * 2 : 64;
        struct pollfd *p = cws__realloc(NULL, loop->pfd, cap * sizeof *p);
        if (!p) return -1;
        loop->pfd = p;
        rt_io **q = cws__realloc(NULL, loop->pio, cap * sizeof *q);
        if (!q) return -1;
        loop->pio = q;
        rt_ready *r = cws__realloc(NULL, loop->ready, cap * sizeof *r);
        if (!r) return -1;
        loop->ready = r;
        loop->pcap = cap;
    }
    io->poll_idx = (uint32_t)loop->npfd;
    loop->pfd[loop->npfd].fd = io->fd;
    loop->pfd[loop->npfd].events = loop_poll_events(events);
    loop->pfd[loop->npfd].revents = 0;
    loop->pio[loop->npfd] = io;
    loop->npfd++;
    io->events = (uint8_t)(events | RT_EV_REGISTERED);
    return 0;
}

int cws__loop_mod(cws_loop *loop, rt_io *io, unsigned events) {
    if (!(io->events & RT_EV_REGISTERED)) return -1;
    loop->pfd[io->poll_idx].events = loop_poll_events(events);
    io->events = (uint8_t)(events | RT_EV_REGISTERED);
    return 0;
}

void cws__loop_del(cws_loop *loop, rt_io *io) {
    if (!(io->events & RT_EV_REGISTERED)) return;
    size_t i = io->poll_idx, last = loop->npfd - 1;
    if (i != last) {
        loop->pfd[i] = loop->pfd[last];
        loop->pio[i] = loop->pio[last];
        loop->pio[i]->poll_idx = (uint32_t)i;
    }
    loop->npfd--;
    io->events = 0;
}

static int loop_wait(cws_loop *loop, int timeout, rt_ready **out) {
    int n = poll(loop->pfd, (nfds_t)loop->npfd, timeout);
    if (n < 0) return errno == EINTR ? 0 : -1;
    int k = 0;
    for (size_t i = 0; i < loop->npfd && k < n; i++) {
        short re = loop->pfd[i].revents;
        if (!re) continue;
        unsigned ev = 0;
        if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) ev |= RT_EV_READ;
        if (re & (POLLOUT | POLLERR | POLLHUP)) ev |= RT_EV_WRITE;
        loop->ready[k].io = loop->pio[i];
        loop->ready[k].ev = ev;
        k++;
    }
    *out = loop->ready;
    return k;
}
#else
static uint32_t loop_epoll_events(unsigned ev) {
    uint32_t e = 0;
    if (ev & RT_EV_READ) e |= EPOLLIN;
    if (ev & RT_EV_WRITE) e |= EPOLLOUT;
    return e;
}

int cws__loop_add(cws_loop *loop, rt_io *io, unsigned events) {
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = loop_epoll_events(events);
    e.data.ptr = io;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &e) < 0) return -1;
    io->events = (uint8_t)(events | RT_EV_REGISTERED);
    return 0;
}

int cws__loop_mod(cws_loop *loop, rt_io *io, unsigned events) {
    if (!(io->events & RT_EV_REGISTERED)) return -1;
    if ((io->events & 0x7f) == events) return 0;
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = loop_epoll_events(events);
    e.data.ptr = io;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &e) < 0) return -1;
    io->events = (uint8_t)(events | RT_EV_REGISTERED);
    return 0;
}

void cws__loop_del(cws_loop *loop, rt_io *io) {
    if (!(io->events & RT_EV_REGISTERED)) return;
    struct epoll_event e; /* non-NULL for kernels before 2.6.9 */
    memset(&e, 0, sizeof e);
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, &e);
    io->events = 0;
}

static int loop_wait(cws_loop *loop, int timeout, rt_ready **out) {
    struct epoll_event evs[LOOP_MAX_EVENTS];
    int n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, timeout);
    if (n < 0) return errno == EINTR ? 0 : -1;
    rt_ready *r = *out;
    for (int i = 0; i < n; i++) {
        unsigned ev = 0;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ev |= RT_EV_READ;
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ev |= RT_EV_WRITE;
        r[i].io = evs[i].data.ptr;
        r[i].ev = ev;
    }
    return n;
}
#endif

/* ------------------------------------------------------------ graveyard */

void cws__loop_bury(cws_loop *loop, rt_io *io) {
    uint8_t kind = io->kind;
    io->kind = RT_IO_DEAD;
    if (!loop->dispatching && kind != RT_IO_SOCKET) {
        rt_free(io); /* every buried object starts with its rt_io */
        return;
    }
    switch (kind) {
    case RT_IO_SOCKET: {
        /* Always via the graveyard: it may still be on the flush list. */
        cws_socket *s = (cws_socket *)(void *)io;
        s->next = loop->grave_socks;
        loop->grave_socks = s;
        if (!loop->dispatching) cws__loop_reap(loop);
        break;
    }
    case RT_IO_LISTEN: {
        cws_server *srv = (cws_server *)(void *)io;
        srv->next_server = loop->grave_servers;
        loop->grave_servers = srv;
        break;
    }
    case RT_IO_WATCH: {
        rt_watch *w = (rt_watch *)(void *)io;
        w->next = loop->grave_watches;
        loop->grave_watches = w;
        break;
    }
    default: break;
    }
}

static void loop_free_graves(cws_loop *loop) {
    while (loop->grave_socks) {
        cws_socket *s = loop->grave_socks;
        loop->grave_socks = s->next;
        cws__socket_free(s);
    }
    while (loop->grave_servers) {
        cws_server *srv = loop->grave_servers;
        loop->grave_servers = srv->next_server;
        rt_free(srv);
    }
    while (loop->grave_watches) {
        rt_watch *w = loop->grave_watches;
        loop->grave_watches = w->next;
        rt_free(w);
    }
}

/* Outside a round: drops the dead from the flush list (one pass) and
 * frees the graveyard. */
void cws__loop_reap(cws_loop *loop) {
    for (cws_socket **pp = &loop->dirty; *pp;) {
        if ((*pp)->io.kind == RT_IO_DEAD) *pp = (*pp)->dirty_next;
        else pp = &(*pp)->dirty_next;
    }
    loop_free_graves(loop);
}

/* ------------------------------------------------------------ running */

static void loop_dispatch(cws_loop *loop, rt_io *io, unsigned ev) {
    switch (io->kind) {
    case RT_IO_SOCKET: cws__socket_event((cws_socket *)(void *)io, ev); break;
    case RT_IO_LISTEN: cws__server_listen_event((cws_server *)(void *)io); break;
    case RT_IO_WATCH: {
        rt_watch *w = (rt_watch *)(void *)io;
        /* Only what it asks for now: an earlier callback this round may
         * have changed that after the events were collected. */
        unsigned want = ev & w->want;
        if (!want) break;
        if (w->efn) w->efn(loop, w->io.fd, want, w->user);
        else w->fn(loop, w->io.fd, w->user);
        break;
    }
    case RT_IO_POST: cws__post_event(loop); break;
    default: break; /* torn down earlier this round */
    }
}

int cws_loop_run_once(cws_loop *loop, int timeout_ms) {
    if (!loop) return CWS_ERR_INVALID;
    int rc = CWS_OK;
    loop->dispatching++;
    cws__loop_update_now(loop);
    /* Output queued outside the loop (before run, from another fd's
     * callback) goes out before we sleep. */
    cws__socket_settle_all(loop);
    int wait = cws__timer_wait_ms(loop, timeout_ms);
    if (loop->dirty || loop->tls_again) wait = 0;
#ifdef CWS_USE_POLL
    rt_ready *ready = NULL;
    int n = loop_wait(loop, wait, &ready);
#else
    rt_ready readybuf[LOOP_MAX_EVENTS];
    rt_ready *ready = readybuf;
    int n = loop_wait(loop, wait, &ready);
#endif
    cws__loop_update_now(loop);
    if (n < 0) {
        rc = CWS_ERR_IO;
        n = 0;
    }
    for (int i = 0; i < n; i++) {
#ifdef CWS_USE_POLL
        ready = loop->ready; /* an accept this round may have grown (moved) it */
#endif
        loop_dispatch(loop, ready[i].io, ready[i].ev);
    }
    if (loop->tls_again) cws__tls_again_run(loop);
    cws__timer_run_due(loop);
    cws__socket_settle_all(loop);
    cws__outq_cache_trim(loop);
    loop->dispatching--;
    if (!loop->dispatching) loop_free_graves(loop);
    return rc;
}

int cws_loop_run(cws_loop *loop) {
    if (!loop) return CWS_ERR_INVALID;
    int rc = CWS_OK;
    /* Taking the flag consumes the stop: the next run runs again. */
    while (!atomic_exchange(&loop->stop, 0)) {
        rc = cws_loop_run_once(loop, -1);
        if (rc < 0) {
            atomic_store(&loop->stop, 0);
            break;
        }
    }
    return rc;
}

/* ------------------------------------------------------------ watchers */

_Static_assert((int)CWS_FD_READ == (int)RT_EV_READ && (int)CWS_FD_WRITE == (int)RT_EV_WRITE, "fd events are the backend's");

static int loop_watch(cws_loop *loop, int fd, unsigned events, cws_fd_fn fn, cws_fd_events_fn efn, void *user) {
    if (!loop || fd < 0 || (!fn && !efn) || (events & ~(unsigned)(CWS_FD_READ | CWS_FD_WRITE)) ||
        fcntl(fd, F_GETFD) < 0)
        return CWS_ERR_INVALID;
    for (rt_watch *w = loop->watches; w; w = w->next)
        if (w->io.fd == fd) return CWS_ERR_STATE;
    rt_watch *w = rt_alloc(sizeof *w);
    if (!w) return CWS_ERR_NOMEM;
    memset(w, 0, sizeof *w);
    w->io.fd = fd;
    w->io.kind = RT_IO_WATCH;
    w->fn = fn;
    w->efn = efn;
    w->want = events;
    w->user = user;
    if (events && cws__loop_add(loop, &w->io, events) < 0) {
        rt_free(w);
        return CWS_ERR_IO;
    }
    w->next = loop->watches;
    loop->watches = w;
    return CWS_OK;
}

int cws_loop_watch_fd(cws_loop *loop, int fd, cws_fd_fn fn, void *user) {
    return fn ? loop_watch(loop, fd, CWS_FD_READ, fn, NULL, user) : CWS_ERR_INVALID;
}

int cws_loop_watch_fd_events(cws_loop *loop, int fd, unsigned events, cws_fd_events_fn fn, void *user) {
    return fn ? loop_watch(loop, fd, events, NULL, fn, user) : CWS_ERR_INVALID;
}

int cws_loop_set_fd_events(cws_loop *loop, int fd, unsigned events) {
    if (!loop || (events & ~(unsigned)(CWS_FD_READ | CWS_FD_WRITE))) return CWS_ERR_INVALID;
    rt_watch *w = loop->watches;
    while (w && w->io.fd != fd) w = w->next;
    if (!w) return CWS_ERR_STATE;
    if (events == w->want) return CWS_OK;
    /* Asking for nothing leaves the backend: epoll and poll would still
     * report a hang-up, again and again, to a watch that cannot act. */
    int rc = 0;
    if (!events) cws__loop_del(loop, &w->io);
    else if (w->io.events & RT_EV_REGISTERED) rc = cws__loop_mod(loop, &w->io, events);
    else rc = cws__loop_add(loop, &w->io, events);
    if (rc < 0) return CWS_ERR_IO;
    w->want = events;
    return CWS_OK;
}

void cws_loop_unwatch_fd(cws_loop *loop, int fd) {
    if (!loop) return;
    for (rt_watch **pp = &loop->watches; *pp; pp = &(*pp)->next) {
        rt_watch *w = *pp;
        if (w->io.fd != fd) continue;
        *pp = w->next;
        cws__loop_del(loop, &w->io);
        cws__loop_bury(loop, &w->io); /* the caller keeps its fd */
        return;
    }
}

void cws_loop_free(cws_loop *loop) {
    if (!loop) return;
    loop->dispatching++; /* callbacks fired below may not free under us */
    /* Jobs first, while their servers and sockets still exist: each one
     * accepted runs exactly once, so whatever its arg holds is released. */
    cws__post_close(loop);
    while (loop->servers) cws_server_free(loop->servers);
    while (loop->clients) cws__socket_destroy(loop->clients, RT_WHY_FREED);
    while (loop->watches) cws_loop_unwatch_fd(loop, loop->watches->io.fd);
    loop->dispatching--;
    loop->dirty = NULL;
    loop_free_graves(loop);
    cws__timer_free_all(loop);
    cws__round_free(loop);
    cws__outq_cache_free(loop);
    cws__codec_pool_clear(&loop->codecs);
    cws__tls_loop_free(loop);
    loop_backend_free(loop);
    cws__post_free(loop);
    rt_free(loop->heap);
    rt_free(loop->rbuf);
    rt_free(loop);
}
