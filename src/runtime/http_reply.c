/* Plain-HTTP answers for requests that ask for no upgrade: one request per
 * connection, answered with Connection: close. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "runtime.h"

#define REPLY_STACK_HEAD 1024
#define REPLY_CLOSE_FIELD "Connection: close\r\n\r\n"

int cws_http_reply_send(cws_http_reply *r, int status, const char *content_type, const void *body, size_t len,
                        const char *extra_headers) {
    if (!r || !r->s || (len && !body) || status < 100 || status > 999) return CWS_ERR_INVALID;
    if (r->sent) return CWS_ERR_STATE;
    cws_socket *s = r->s;
    if (s->io.kind == RT_IO_DEAD) return CWS_ERR_CLOSED;
    size_t need = 256 + sizeof REPLY_CLOSE_FIELD + (content_type ? strlen(content_type) : 0) +
                  (extra_headers ? strlen(extra_headers) : 0);
    char stack[REPLY_STACK_HEAD];
    char *head = need <= sizeof stack ? stack : rt_alloc(need);
    if (!head) return CWS_ERR_NOMEM;
    ptrdiff_t n = cws_http_response_head(status, content_type, len, extra_headers, head,
                                         need - sizeof REPLY_CLOSE_FIELD);
    int rc = CWS_OK;
    if (n < 2) {
        rc = n < 0 ? (int)n : CWS_ERR_INVALID;
    } else {
        /* Replace the final empty line by our Connection field and it. */
        size_t hl = (size_t)n - 2;
        memcpy(head + hl, REPLY_CLOSE_FIELD, sizeof REPLY_CLOSE_FIELD - 1);
        hl += sizeof REPLY_CLOSE_FIELD - 1;
        if (cws__outq_append(s, (const uint8_t *)head, hl) < 0 ||
            (!r->head_only && len && cws__outq_append(s, body, len) < 0))
            rc = CWS_ERR_NOMEM;
    }
    if (head != stack) rt_free(head);
    if (rc < 0) return rc;
    r->sent = 1;
    cws__server_linger(s);
    return CWS_OK;
}
