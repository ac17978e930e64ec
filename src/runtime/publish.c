/* Topics' public side: who may subscribe and when, and publishing, which
 * walks one topic's subscribers through the same fanout as a broadcast
 * (server.c). The table itself is topics.c. */
#include "runtime.h"

/* A name is 1..max_topic_len bytes: "" is kept free of meaning (most
 * likely a bug), and the limit bounds what a peer can make us store. */
static int pub_name_ok(const cws_server *srv, const void *topic, size_t len) {
    if (!topic || !len) return CWS_ERR_INVALID;
    return len > srv->max_topic_len ? CWS_ERR_TOO_BIG : CWS_OK;
}

/* Topics belong to server sockets that on_upgrade accepted (own.srv is
 * theirs from then on). */
static cws_server *pub_server(const cws_socket *s) {
    if (!s || s->io.kind == RT_IO_DEAD || !rt_sock_server(s) || !(s->xflags & RT_X_ACCEPTED)) return NULL;
    return rt_sock_server(s);
}

int cws_socket_subscribe(cws_socket *s, const void *topic, size_t len) {
    cws_server *srv = pub_server(s);
    if (!srv) return CWS_ERR_INVALID;
    int rc = pub_name_ok(srv, topic, len);
    if (rc) return rc;
    if (s->io.state < RT_ST_OPEN) return CWS_ERR_STATE;
    /* Closing: it could receive nothing more, and it is about to leave. */
    if (s->io.state != RT_ST_OPEN || s->io.flags & (RT_F_OVERFLOW | RT_F_REPORTED) || !rt_sock_conn(s) ||
        cws_conn_state(rt_sock_conn(s)) != CWS_STATE_OPEN)
        return CWS_ERR_CLOSED;
    return cws__topics_sub(&srv->topics, s, topic, len, srv->max_topics);
}

int cws_socket_unsubscribe(cws_socket *s, const void *topic, size_t len) {
    cws_server *srv = pub_server(s);
    if (!srv || !topic || !len) return CWS_ERR_INVALID;
    return cws__topics_unsub(&srv->topics, s, topic, len);
}

int cws_socket_is_subscribed(const cws_socket *s, const void *topic, size_t len) {
    const cws_server *srv = pub_server(s);
    return srv && topic && len && cws__topics_has(&srv->topics, s, topic, len);
}

size_t cws_server_topic_count(const cws_server *srv, const void *topic, size_t len) {
    const rt_topic *t = srv && topic && len ? cws__topics_find(&srv->topics, topic, len) : NULL;
    return t ? t->n : 0;
}

ptrdiff_t cws_server_publish(cws_server *srv, const void *topic, size_t topic_len, int opcode, const void *data,
                             size_t len, const cws_socket *except) {
    if (!srv) return CWS_ERR_INVALID;
    int rc = pub_name_ok(srv, topic, topic_len);
    if (!rc) rc = cws__fanout_check(srv, opcode, data, len);
    if (rc) return rc;
    rt_topic *t = cws__topics_find(&srv->topics, topic, topic_len);
    if (!t) return 0; /* nobody asked: nothing is framed */
    rt_fanout f;
    if ((rc = cws__fanout_begin(&f, srv, opcode, data, len))) return rc;
    /* The fanout calls no user code, so nobody can (un)subscribe while
     * this walks t: the array holds still. */
    ptrdiff_t sent = 0;
    for (uint32_t i = 0; i < t->n; i++)
        if (t->mem[i].s != except) sent += cws__fanout_to(&f, t->mem[i].s);
    cws__fanout_end(&f);
    return sent;
}
