/* The per-connection object: a non-blocking fd, its cws_conn once open, a
 * lazily allocated output queue and one deadline whose meaning follows the
 * state (handshake timeout, next ping, pong deadline, close timeout).
 * Reads go through the loop's single receive buffer; output is corked until
 * the socket is settled, then leaves in one sendmsg. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCK_READS_PER_EVENT 4
#define SOCK_OVERFLOW_GRACE_MS 1000u
#define SOCK_OVERFLOW_REASON "send queue over the high-water mark"

static const char *sock_why_text(int why) {
    switch (why) {
    case RT_WHY_EOF: return "connection closed without a close frame";
    case RT_WHY_IO: return "connection reset";
    case RT_WHY_PING: return "no pong before the deadline";
    case RT_WHY_CLOSE_TIMEOUT: return "close handshake timed out";
    case RT_WHY_HIGH_WATER: return SOCK_OVERFLOW_REASON;
    case RT_WHY_SHUTDOWN: return "shutdown timed out";
    case RT_WHY_FREED: return "freed by the application";
    case RT_WHY_NOMEM: return "out of memory";
    case RT_WHY_HANDSHAKE: return "the handshake's answer could not be sent";
    default: return NULL;
    }
}

cws_socket *cws__socket_new(const rt_sockcfg *cfg, int fd) {
    cws_socket *s = rt_alloc(RT_SOCK_CONN_OFF + cws_conn_sizeof());
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    if (cws__timer_reserve(cfg->loop) < 0 || !cws_conn_init_shared(rt_sock_conn_mem(s), &cfg->conn.base, NULL)) {
        rt_free(s);
        return NULL;
    }
    cws__conn_set_direct(rt_sock_conn_mem(s));
    s->io.fd = fd;
    s->io.kind = RT_IO_SOCKET;
    s->tn.slot = RT_T_NONE;
    s->tn.kind = RT_T_SOCKET;
    s->rtt = -1;
    s->cfg = cfg;
    return s;
}

void cws__socket_dirty(cws_socket *s) {
    if (s->io.flags & RT_F_DIRTY || s->io.kind == RT_IO_DEAD) return;
    s->io.flags |= RT_F_DIRTY;
    s->dirty_next = rt_sock_loop(s)->dirty;
    rt_sock_loop(s)->dirty = s;
}

/* ------------------------------------------------------------ close reporting */

static void sock_report_close(cws_socket *s, int code, const char *reason, size_t len) {
    if (s->io.flags & RT_F_REPORTED) return;
    s->io.flags |= RT_F_REPORTED;
    int is_client = rt_sock_server(s) == NULL;
    if (!(s->io.flags & RT_F_OPENED) && !is_client && !(s->xflags & RT_X_ACCEPTED))
        return; /* refused before on_upgrade said yes: nothing to hear of */
    if (s->io.flags & RT_F_OVERFLOW) {
        code = CWS_CLOSE_POLICY;
        reason = SOCK_OVERFLOW_REASON;
        len = sizeof SOCK_OVERFLOW_REASON - 1;
    } else if (code == CWS_CLOSE_ABNORMAL && !len) {
        const char *why = is_client && !(s->io.flags & RT_F_OPENED) ? cws__client_fail_reason(s)
                                                                 : sock_why_text(s->why);
        if (why) {
            reason = why;
            len = strlen(why);
        }
    }
    if (!reason) reason = "";
    if (s->cfg && s->cfg->cb.on_close) s->cfg->cb.on_close(s, cws_socket_user(s), code, reason, len);
}

/* ------------------------------------------------------------ cws_conn glue */

/* The conn's user is the socket's; the socket is found from the conn's
 * address (the conn is embedded right after it). */
static int sock_hears(const cws_socket *s) { return !(s->io.flags & RT_F_REPORTED); }

static void sock_conn_message(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len) {
    cws_socket *s = rt_conn_sock(c);
    if (s->cfg->cb.on_message && sock_hears(s)) s->cfg->cb.on_message(s, user, opcode, data, len);
}

static void sock_conn_begin(cws_conn *c, void *user, int opcode) {
    cws_socket *s = rt_conn_sock(c);
    if (s->cfg->cb.on_message_begin && sock_hears(s)) s->cfg->cb.on_message_begin(s, user, opcode);
}

static void sock_conn_data(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    cws_socket *s = rt_conn_sock(c);
    if (s->cfg->cb.on_message_data && sock_hears(s)) s->cfg->cb.on_message_data(s, user, data, len);
}

static void sock_conn_end(cws_conn *c, void *user) {
    cws_socket *s = rt_conn_sock(c);
    if (s->cfg->cb.on_message_end && sock_hears(s)) s->cfg->cb.on_message_end(s, user);
}

static void sock_schedule_ping(cws_socket *s, uint64_t from) {
    if (!s->cfg->ping_interval || s->io.state != RT_ST_OPEN) return;
    uint64_t due = from + s->cfg->ping_interval;
    if (due < rt_sock_loop(s)->now) due = rt_sock_loop(s)->now;
    cws__timer_set(rt_sock_loop(s), &s->tn, due);
}

/* While a runtime ping is out the deadline is its send time plus
 * pong_timeout (nothing else moves it then), so the send time, which is
 * also the ping's payload, needs no field of its own. */
static uint32_t sock_ping_sent(const cws_socket *s) { return (uint32_t)(s->tn.due - s->cfg->pong_timeout); }

static void sock_conn_pong(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    cws_socket *s = rt_conn_sock(c);
    if (s->io.flags & RT_F_AWAIT_PONG) {
        uint8_t want[4];
        uint32_t sent32 = sock_ping_sent(s);
        memcpy(want, &sent32, 4);
        if (len == 4 && !memcmp(data, want, 4)) {
            uint32_t now32 = (uint32_t)rt_sock_loop(s)->now;
            s->rtt = (int32_t)(now32 - sent32);
            s->io.flags &= (uint8_t)~RT_F_AWAIT_PONG;
            /* the peer is alive: next ping one interval after the last */
            sock_schedule_ping(s, s->tn.due - s->cfg->pong_timeout);
        }
    }
    if (s->cfg->cb.on_pong && sock_hears(s)) s->cfg->cb.on_pong(s, user, data, len);
}

static void sock_conn_close(cws_conn *c, void *user, int code, const char *reason, size_t len) {
    (void)user;
    sock_report_close(rt_conn_sock(c), code, reason, len);
}

static int sock_conn_write(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    (void)user;
    cws_socket *s = rt_conn_sock(c);
    if (cws__outq_append(s, data, len) < 0) return 1;
    cws__socket_dirty(s);
    return 0;
}

/* Frames straight into the output queue: one copy of the payload. */
static uint8_t *sock_conn_reserve(cws_conn *c, size_t n) {
    cws_socket *s = rt_conn_sock(c);
    uint8_t *p = cws__outq_reserve(s, n);
    if (p) cws__socket_dirty(s);
    return p;
}

/* Feeds received bytes to the connection. No runtime callback pauses
 * cws_conn_recv, so one call takes everything unless it fails (and then
 * the close frame is queued). */
static void sock_feed(cws_socket *s, uint8_t *data, size_t len) {
    if (len && rt_sock_conn(s) && !cws_conn_done(rt_sock_conn(s))) (void)cws_conn_recv(rt_sock_conn(s), data, len);
    cws__socket_dirty(s);
}

int cws__sockcfg_init(rt_sockcfg *cfg, int role, const rt_sock_settings *set) {
    if (set->receive != CWS_RECEIVE_MESSAGES && set->receive != CWS_RECEIVE_STREAM) return CWS_ERR_INVALID;
    if (!cfg->tp) cfg->tp = &cws__tcp_transport;
    cfg->cb = set->cb;
    cfg->high_water = cws__limit(set->high_water, RT_HIGH_WATER_DEFAULT);
    cfg->kernel_unsent = set->kernel_unsent == CWS_DISABLED ? 0 : cws__limit(set->kernel_unsent, RT_KERNEL_UNSENT_DEFAULT);
    cfg->max_message = cws__limit(set->max_message, CWS_MAX_MESSAGE_DEFAULT);
    cfg->ping_interval = cws__timeout(set->ping_interval_ms, RT_PING_DEFAULT_MS);
    cfg->pong_timeout = rt_timeout_ms(set->pong_timeout_ms, RT_PONG_DEFAULT_MS);
    cfg->close_timeout = rt_timeout_ms(set->close_timeout_ms, RT_CLOSE_DEFAULT_MS);
    cws_conn_config *cc = &cfg->conn.base;
    memset(&cfg->conn, 0, sizeof cfg->conn);
    cfg->conn.reserve = sock_conn_reserve;
    cfg->conn.pool = cfg->loop ? &cfg->loop->codecs : NULL;
    cc->role = role;
    cc->receive = set->receive;
    if (set->deflate) cc->deflate = *set->deflate; /* level and threshold */
    cc->max_frame_size = set->max_message;
    cc->max_message_size = set->max_message;
    cc->max_fragments = set->max_fragments;
    cc->cb.on_message = sock_conn_message;
    cc->cb.on_message_begin = sock_conn_begin;
    cc->cb.on_message_data = sock_conn_data;
    cc->cb.on_message_end = sock_conn_end;
    cc->cb.on_pong = sock_conn_pong;
    cc->cb.on_close = sock_conn_close;
    cc->cb.write = sock_conn_write;
    return CWS_OK;
}

void cws__socket_tune_fd(const rt_sockcfg *cfg, int fd) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef TCP_NOTSENT_LOWAT
    /* The kernel then takes no more than this beyond what it has sent, so
     * a peer that stops reading pins at most this much of the machine's
     * TCP memory (plus its window); the rest waits in our queue, where
     * high_water judges it. */
    if (cfg->kernel_unsent) {
        int lowat = cfg->kernel_unsent > INT_MAX ? INT_MAX : (int)cfg->kernel_unsent;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
    }
#endif
}

int cws__socket_open(cws_socket *s, uint8_t *rest, size_t rest_len) {
    s->io.state = RT_ST_OPEN; /* the conn exists since the socket does */
    s->io.flags |= RT_F_OPENED;
    cws__timer_clear(rt_sock_loop(s), &s->tn);
    sock_schedule_ping(s, rt_sock_loop(s)->now);
    if (!rt_sock_server(s)) cws__client_opened(s);
    if (s->cfg->cb.on_open) s->cfg->cb.on_open(s, cws_socket_user(s));
    if (rest_len && s->io.kind != RT_IO_DEAD) sock_feed(s, rest, rest_len);
    cws__socket_dirty(s);
    return CWS_OK;
}

/* ------------------------------------------------------------ teardown */

void cws__socket_destroy(cws_socket *s, int why) {
    if (s->io.kind == RT_IO_DEAD) return;
    if (why && !s->why) s->why = (uint8_t)why;
    cws_loop *loop = rt_sock_loop(s);
    /* on_close first, while the socket is still whole: it may send elsewhere. */
    if (rt_sock_conn(s) && !(s->io.flags & RT_F_REPORTED)) cws_conn_abort(rt_sock_conn(s));
    if (!(s->io.flags & RT_F_REPORTED) && (s->io.flags & RT_F_OPENED || !rt_sock_server(s) || s->xflags & RT_X_ACCEPTED))
        sock_report_close(s, CWS_CLOSE_ABNORMAL, NULL, 0);
    s->io.flags |= RT_F_REPORTED;
    /* Left on the flush list (unlinking would walk it): the drain skips
     * the dead, and the memory waits for the list (cws__loop_reap). */
    cws__timer_clear(loop, &s->tn);
    cws__timer_release(loop);
    if (s->io.fd >= 0) {
        cws__loop_del(loop, &s->io);
        /* A clean end says so (TLS close_notify); a broken one cannot. */
        if (s->tls && !s->q && s->why != RT_WHY_IO && s->why != RT_WHY_CONNECT) s->cfg->tp->shutdown(s);
        close(s->io.fd);
        s->io.fd = -1;
    }
    s->cfg->tp->free(s);
    cws__outq_free(s);
    /* Its buffers go now; the memory (and the user pointer in it) with
     * the socket, after the round. */
    cws_conn_deinit(rt_sock_conn_mem(s));
    s->io.flags &= (uint8_t)~RT_F_OPENED;
    if (rt_sock_server(s)) {
        cws__server_socket_gone(s);
    } else {
        cws__client_free_state(s);
        if (s->prev) s->prev->next = s->next;
        else if (loop->clients == s) loop->clients = s->next;
        if (s->next) s->next->prev = s->prev;
    }
    s->prev = s->next = NULL;
    cws__loop_bury(loop, &s->io);
}

void cws__socket_free(cws_socket *s) {
    if (!s->cfg->server) cws__client_free(s); /* it holds s->cfg */
    rt_free(s);
}

/* ------------------------------------------------------------ policy */

static void sock_set_deadline(cws_socket *s, uint32_t ms) {
    cws__timer_set(rt_sock_loop(s), &s->tn, rt_sock_loop(s)->now + ms);
}

/* Over the high-water mark: the peer does not read fast enough. Close with
 * 1008; the close frame may go past the limit (it is at most 125 bytes),
 * nothing else will, and after a short grace TCP is dropped. */
static void sock_overflow(cws_socket *s) {
    if (s->io.flags & RT_F_OVERFLOW) return;
    s->io.flags |= RT_F_OVERFLOW;
    s->io.flags &= (uint8_t)~RT_F_AWAIT_PONG; /* the deadline moves below */
    if (!s->why) s->why = RT_WHY_HIGH_WATER;
    if (rt_sock_conn(s)) cws_conn_close(rt_sock_conn(s), CWS_CLOSE_POLICY, SOCK_OVERFLOW_REASON, sizeof SOCK_OVERFLOW_REASON - 1);
    if (s->io.state == RT_ST_OPEN) s->io.state = RT_ST_CLOSING;
    sock_set_deadline(s, CWS__MIN(s->cfg->close_timeout, SOCK_OVERFLOW_GRACE_MS));
    cws__socket_dirty(s);
}

/* Enforces the high-water mark right after queueing (so the queue stays
 * within high_water + one message): flush first, then judge. */
void cws__socket_check_high_water(cws_socket *s) {
    if (!s->q || s->q->bytes <= s->cfg->high_water || s->io.flags & RT_F_OVERFLOW) return;
    if (cws__outq_flush(s) < 0) {
        s->why = RT_WHY_IO;
        cws__socket_dirty(s); /* settled (and torn down) at the end of the round */
        return;
    }
    if (s->q && s->q->bytes > s->cfg->high_water) sock_overflow(s);
}

/* Flushes; a plain-HTTP answer that moved gets another handshake timeout
 * (it is judged by progress, not by when it was queued). */
static int sock_flush(cws_socket *s) {
    ptrdiff_t took = cws__outq_flush(s);
    if (took > 0 && s->io.state == RT_ST_LINGER)
        cws__timer_set(rt_sock_loop(s), &s->tn, rt_sock_loop(s)->now + rt_sock_server(s)->handshake_timeout);
    return took < 0 ? -1 : 0;
}

static int sock_usable(const cws_socket *s);

/* The transport failed: a client still in its handshake reports why
 * (e.g. the certificate), anything else is a reset (1006). */
static void sock_broken(cws_socket *s) {
    if (s->io.state == RT_ST_CL_HANDSHAKE) cws__client_failed(s);
    else cws__socket_destroy(s, RT_WHY_IO);
}

/* The on_drain asked for, once the queue is empty. 1 if s died in it. */
static int sock_drained(cws_socket *s) {
    if (!(s->xflags & RT_X_WANT_DRAIN) || s->q) return 0;
    s->xflags &= (uint8_t)~RT_X_WANT_DRAIN;
    if (!sock_usable(s) || cws_conn_state(rt_sock_conn(s)) != CWS_STATE_OPEN || !s->cfg->cb.on_drain) return 0;
    s->cfg->cb.on_drain(s, cws_socket_user(s));
    return s->io.kind == RT_IO_DEAD;
}

void cws__socket_service(cws_socket *s) {
    if (s->io.kind == RT_IO_DEAD) return;
    cws_loop *loop = rt_sock_loop(s);
    switch (s->io.state) {
    case RT_ST_CONNECTING:
    case RT_ST_FAILED: return;
    default: break;
    }
    if (s->why == RT_WHY_IO && !(s->io.flags & RT_F_OVERFLOW)) {
        cws__socket_destroy(s, RT_WHY_IO);
        return;
    }
    if (s->q && sock_flush(s) < 0) {
        sock_broken(s);
        return;
    }
    if (s->q && s->q->bytes > s->cfg->high_water && rt_sock_conn(s)) sock_overflow(s);
    if (sock_drained(s)) return;
    if (rt_sock_conn(s) && s->io.state >= RT_ST_OPEN && s->io.state <= RT_ST_DRAIN) {
        if (cws_conn_done(rt_sock_conn(s))) {
            if (!s->q) {
                if (rt_sock_server(s)) { /* RFC 6455 §7.1.1: the server closes TCP first */
                    cws__socket_destroy(s, RT_WHY_NONE);
                    return;
                }
                s->io.state = RT_ST_FIN_WAIT; /* the client waits for the server's FIN */
                sock_set_deadline(s, s->cfg->close_timeout);
            } else if (s->io.state != RT_ST_DRAIN) {
                s->io.state = RT_ST_DRAIN;
                if (!(s->io.flags & RT_F_OVERFLOW)) sock_set_deadline(s, s->cfg->close_timeout);
            }
        } else if (s->io.state == RT_ST_OPEN && cws_conn_state(rt_sock_conn(s)) == CWS_STATE_CLOSING) {
            s->io.state = RT_ST_CLOSING; /* our close is out: wait for theirs */
            s->io.flags &= (uint8_t)~RT_F_AWAIT_PONG;
            sock_set_deadline(s, s->cfg->close_timeout);
        }
    }
    if (s->io.state == RT_ST_LINGER && !s->q && !(s->io.flags & RT_F_WR_SHUT)) {
        /* All of the answer is with the kernel: half-close, and read until
         * the client's FIN (closing with unread input would reset the
         * connection and could destroy the answer's tail). */
        s->io.flags |= RT_F_WR_SHUT;
        s->cfg->tp->shutdown(s);
        cws__timer_set(loop, &s->tn, loop->now + RT_REPLY_FIN_MS);
    }
    unsigned want = RT_EV_READ;
    if (s->q) want |= RT_EV_WRITE;
    want = s->cfg->tp->wants(s, want);
    if (s->io.events & RT_EV_REGISTERED) (void)cws__loop_mod(loop, &s->io, want);
}

void cws__socket_settle_all(cws_loop *loop) {
    while (loop->dirty) {
        cws_socket *s = loop->dirty;
        loop->dirty = s->dirty_next;
        s->io.flags &= (uint8_t)~RT_F_DIRTY;
        if (s->io.kind != RT_IO_DEAD) cws__socket_service(s);
    }
}

/* ------------------------------------------------------------ events */

static void sock_eof(cws_socket *s) {
    switch (s->io.state) {
    case RT_ST_CL_HANDSHAKE: cws__client_failed(s); break;
    case RT_ST_OPEN:
    case RT_ST_CLOSING:
        cws__socket_destroy(s, RT_WHY_EOF); /* no close frame: 1006 */
        break;
    default: cws__socket_destroy(s, RT_WHY_NONE); break;
    }
}

static void sock_read(cws_socket *s) {
    cws_loop *loop = rt_sock_loop(s);
    const rt_transport *tp = s->cfg->tp;
    for (int i = 0; i < SOCK_READS_PER_EVENT; i++) {
        ptrdiff_t n = tp->read(s, loop->rbuf, RT_RBUF_SIZE);
        if (n == RT_TP_AGAIN) return;
        if (n < 0) {
            sock_broken(s);
            return;
        }
        if (n == 0) {
            sock_eof(s);
            return;
        }
        switch (s->io.state) {
        case RT_ST_HANDSHAKE: cws__server_hs_read(s, loop->rbuf, (size_t)n); break;
        case RT_ST_CL_HANDSHAKE: cws__client_hs_read(s, loop->rbuf, (size_t)n); break;
        case RT_ST_OPEN:
        case RT_ST_CLOSING: sock_feed(s, loop->rbuf, (size_t)n); break;
        default: break; /* LINGER, DRAIN, FIN_WAIT: nothing more is wanted */
        }
        /* A short read drained the fd, unless the transport holds more
         * (which it then reads again next round, see rt_transport.pending). */
        if (s->io.kind == RT_IO_DEAD || ((size_t)n < RT_RBUF_SIZE && !tp->pending(s))) return;
    }
}

void cws__socket_event(cws_socket *s, unsigned ev) {
    if (s->io.state == RT_ST_FAILED) return; /* reported by its deadline */
    if (s->io.state == RT_ST_CONNECTING) {
        cws__client_event(s, ev);
        return;
    }
    /* The transport says what the event lets move: with TLS, a write may
     * wait for the peer's bytes and a read may have to send first. */
    ev = s->cfg->tp->ready(s, ev);
    if (ev & RT_EV_WRITE && s->q) {
        if (sock_flush(s) < 0) {
            sock_broken(s);
            return;
        }
    }
    if (ev & RT_EV_READ) sock_read(s);
    if (s->io.kind != RT_IO_DEAD) cws__socket_service(s); /* end of this socket's batch: uncork */
}

void cws__socket_deadline(cws_socket *s) {
    if (s->io.kind == RT_IO_DEAD) return;
    switch (s->io.state) {
    case RT_ST_HANDSHAKE: /* slowloris: the request head never completed */
    case RT_ST_LINGER:
    case RT_ST_FIN_WAIT: cws__socket_destroy(s, RT_WHY_NONE); break;
    case RT_ST_CONNECTING:
    case RT_ST_CL_HANDSHAKE:
    case RT_ST_FAILED: cws__client_deadline(s); break;
    case RT_ST_OPEN:
        if (s->io.flags & RT_F_AWAIT_PONG) {
            cws__socket_destroy(s, RT_WHY_PING); /* a silent peer is dead */
            break;
        }
        if (rt_sock_conn(s)) {
            /* The payload is our send time, so the pong tells the RTT. */
            sock_set_deadline(s, s->cfg->pong_timeout);
            uint32_t sent = sock_ping_sent(s);
            uint8_t payload[4];
            memcpy(payload, &sent, 4);
            if (cws_conn_ping(rt_sock_conn(s), payload, 4) == CWS_OK) s->io.flags |= RT_F_AWAIT_PONG;
            cws__socket_dirty(s);
        }
        break;
    default: /* CLOSING, DRAIN */
        cws__socket_destroy(s, s->io.flags & RT_F_OVERFLOW ? RT_WHY_HIGH_WATER : RT_WHY_CLOSE_TIMEOUT);
        break;
    }
}

/* ------------------------------------------------------------ public API */

static int sock_usable(const cws_socket *s) {
    return s && s->io.kind != RT_IO_DEAD && rt_sock_conn(s) && s->io.state >= RT_ST_OPEN && s->io.state <= RT_ST_CLOSING &&
           !(s->io.flags & (RT_F_OVERFLOW | RT_F_REPORTED));
}

/* After queueing: the socket flushes this round, and a data frame may
 * take it over its high-water mark. */
static int sock_sent(cws_socket *s, int rc, int data) {
    cws__socket_dirty(s);
    if (data) cws__socket_check_high_water(s);
    return rc;
}

int cws_socket_send(cws_socket *s, int opcode, const void *data, size_t len) {
    if (!s || (len && !data)) return CWS_ERR_INVALID;
    if (!sock_usable(s)) return CWS_ERR_CLOSED;
    return sock_sent(s, cws_conn_send(rt_sock_conn(s), opcode, data, len), 1);
}

int cws_socket_send_fragment(cws_socket *s, int opcode, const void *data, size_t len, int fin) {
    if (!s || (len && !data)) return CWS_ERR_INVALID;
    if (!sock_usable(s)) return CWS_ERR_CLOSED;
    return sock_sent(s, cws_conn_send_fragment(rt_sock_conn(s), opcode, data, len, fin), 1);
}

int cws_socket_ping(cws_socket *s, const void *data, size_t len) {
    if (!s || (len && !data)) return CWS_ERR_INVALID;
    if (!sock_usable(s)) return CWS_ERR_CLOSED;
    return sock_sent(s, cws_conn_ping(rt_sock_conn(s), data, len), 0);
}

int cws_socket_pong(cws_socket *s, const void *data, size_t len) {
    if (!s || (len && !data)) return CWS_ERR_INVALID;
    if (!sock_usable(s)) return CWS_ERR_CLOSED;
    return sock_sent(s, cws_conn_pong(rt_sock_conn(s), data, len), 0);
}

int cws_socket_close(cws_socket *s, int code, const char *reason, size_t reason_len) {
    if (!s || s->io.kind == RT_IO_DEAD) return CWS_ERR_INVALID;
    if (s->io.flags & RT_F_REPORTED) return CWS_ERR_CLOSED;
    if (!rt_sock_conn(s)) {
        /* A client still connecting: give up; on_close(1006) follows. */
        if (rt_sock_server(s)) return CWS_ERR_STATE;
        s->io.state = RT_ST_FAILED;
        s->why = RT_WHY_FREED;
        cws__timer_set(rt_sock_loop(s), &s->tn, rt_sock_loop(s)->now);
        return CWS_OK;
    }
    return sock_sent(s, cws_conn_close(rt_sock_conn(s), code, reason, reason_len), 0);
}

size_t cws_socket_buffered_amount(const cws_socket *s) { return s && s->q ? s->q->bytes : 0; }

int cws_socket_want_drain(cws_socket *s) {
    if (!s) return CWS_ERR_INVALID;
    if (!sock_usable(s) || cws_conn_state(rt_sock_conn(s)) != CWS_STATE_OPEN) return CWS_ERR_CLOSED;
    s->xflags |= RT_X_WANT_DRAIN;
    cws__socket_dirty(s); /* already empty: called when this round settles */
    return CWS_OK;
}

int cws_socket_rtt_ms(const cws_socket *s) { return s ? s->rtt : -1; }

void *cws_socket_user(const cws_socket *s) { return s ? cws_conn_user(rt_sock_conn_mem(s)) : NULL; }

void cws_socket_set_user(cws_socket *s, void *user) {
    if (s) cws_conn_set_user(rt_sock_conn_mem(s), user);
}

cws_conn *cws_socket_conn(cws_socket *s) { return s ? rt_sock_conn(s) : NULL; }

cws_loop *cws_socket_loop(const cws_socket *s) { return s ? rt_sock_loop(s) : NULL; }

int cws_socket_deflate(const cws_socket *s, cws_deflate_params *params) {
    return s && rt_sock_conn(s) ? cws_conn_deflate(rt_sock_conn(s), params) : 0;
}

/* Nothing is stored per socket for it: a server socket keeps its copy in
 * own.srv (only when one was chosen), a client in its own state. */
const char *cws_socket_protocol(const cws_socket *s) {
    if (!s || s->io.kind == RT_IO_DEAD) return "";
    if (!rt_sock_server(s)) return cws__client_protocol(s);
    return s->io.state >= RT_ST_OPEN && s->own.srv && s->own.srv->protocol ? s->own.srv->protocol : "";
}

/* Asked of the kernel rather than stored: 20 bytes less per connection. */
const char *cws_socket_peer(const cws_socket *s) {
    if (!s) return "";
    cws_loop *loop = rt_sock_loop(s);
    char *out = loop->peer_text;
    size_t cap = sizeof loop->peer_text;
    char addr[INET6_ADDRSTRLEN];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (s->io.fd < 0 || getpeername(s->io.fd, (struct sockaddr *)&ss, &sl) < 0) ss.ss_family = AF_UNSPEC;
    if (ss.ss_family == AF_INET &&
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr))
        snprintf(out, cap, "%s:%u", addr, (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
    else if (ss.ss_family == AF_INET6 &&
             inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr))
        snprintf(out, cap, "[%s]:%u", addr, (unsigned)ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    else
        snprintf(out, cap, "unknown");
    return out;
}
