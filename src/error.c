/* Error names and the default allocator. */
#include "internal.h"

#include <stdlib.h>

const char *cws_strerror(int err) {
    switch (err) {
    case CWS_OK: return "success";
    case CWS_ERR_AGAIN: return "need more data";
    case CWS_ERR_INVALID: return "invalid argument";
    case CWS_ERR_NOMEM: return "out of memory";
    case CWS_ERR_STATE: return "not allowed in this state";
    case CWS_ERR_PROTOCOL: return "protocol error";
    case CWS_ERR_UTF8: return "invalid UTF-8";
    case CWS_ERR_TOO_BIG: return "size limit exceeded";
    case CWS_ERR_CLOSED: return "connection closed";
    case CWS_ERR_HTTP: return "handshake request refused";
    case CWS_ERR_NOSPACE: return "output buffer too small";
    case CWS_ERR_NOT_UPGRADE: return "not a WebSocket upgrade request";
    case CWS_ERR_CALLBACK: return "stopped by a callback";
    case CWS_ERR_IO: return "I/O error";
    case CWS_ERR_TIMEOUT: return "timed out";
    case CWS_ERR_RESOLVE: return "host name lookup failed";
    case CWS_ERR_RANDOM: return "no random bytes available";
    case CWS_ERR_DEFLATE: return "corrupt DEFLATE data";
    case CWS_ERR_HS_MALFORMED: return "handshake: malformed HTTP response";
    case CWS_ERR_HS_STATUS: return "handshake: status is not 101";
    case CWS_ERR_HS_UPGRADE: return "handshake: Upgrade is not websocket";
    case CWS_ERR_HS_CONNECTION: return "handshake: Connection lacks Upgrade";
    case CWS_ERR_HS_ACCEPT: return "handshake: wrong Sec-WebSocket-Accept";
    case CWS_ERR_HS_PROTOCOL: return "handshake: subprotocol not offered";
    case CWS_ERR_HS_EXTENSION: return "handshake: extension not offered";
    default: return "unknown error";
    }
}

void *cws__realloc(const cws_allocator *a, void *ptr, size_t size) {
    if (a && a->fn) return a->fn(a->user, ptr, size);
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}
