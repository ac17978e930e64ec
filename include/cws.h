/*
 * cws — a WebSocket (RFC 6455) library in C11, libc only.
 *
 * Layers, bottom to top (each usable without the ones above it):
 *   1. primitives   sha1, base64, utf8, mask (declared in cws_util.h)
 *   2. handshake    HTTP/1.1 header block tokenizer, server and client sides
 *   3. frame codec  incremental zero-copy parser, header encoder
 *   4. connection   cws_conn: a sans-I/O WebSocket endpoint
 *   5. runtime      cws_loop, cws_server, cws_connect (optional; define
 *                   CWS_NO_RUNTIME to leave it out of the single header)
 *
 * Conventions: functions that can fail return a negative enum cws_err
 * (0 or a byte count on success). Structs defined here may live on the
 * stack or be embedded; opaque types are allocated by the library through
 * the allocator the caller configures. No global mutable state.
 */
#ifndef CWS_H
#define CWS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CWS_VERSION_MAJOR 0
#define CWS_VERSION_MINOR 1
#define CWS_VERSION_PATCH 0
#define CWS_VERSION_STRING "0.1.0"

#ifndef CWS_API
#if defined(__GNUC__) || defined(__clang__)
#define CWS_API __attribute__((visibility("default")))
#else
#define CWS_API
#endif
#endif

/* ======================================================================
 * Errors
 * ==================================================================== */

/* Every error, once: the enum, cws_strerror() and the table in
 * docs/api.md are generated from this list, so they cannot drift.
 * X(name, value, text): name without its CWS_ prefix. */
#define CWS_ERRORS(X)                                                                  \
    X(OK, 0, "success")                                                                \
    X(ERR_AGAIN, -1, "need more data")                                                 \
    X(ERR_INVALID, -2, "invalid argument")                                             \
    X(ERR_NOMEM, -3, "out of memory")                                                  \
    X(ERR_STATE, -4, "not allowed in this state")                                      \
    X(ERR_PROTOCOL, -5, "protocol error")                                              \
    X(ERR_UTF8, -6, "invalid UTF-8")                                                   \
    X(ERR_TOO_BIG, -7, "size limit exceeded")                                          \
    X(ERR_CLOSED, -8, "connection closed")                                             \
    X(ERR_NOSPACE, -10, "output buffer too small")                                     \
    X(ERR_NOT_UPGRADE, -11, "not a WebSocket upgrade request")                         \
    X(ERR_IO, -13, "I/O error")                                                        \
    X(ERR_TIMEOUT, -14, "timed out")                                                   \
    X(ERR_RESOLVE, -15, "host name lookup failed")                                     \
    X(ERR_RANDOM, -16, "no random bytes available")                                    \
    X(ERR_DEFLATE, -17, "corrupt DEFLATE data")                                        \
    X(ERR_TLS, -18, "TLS failure (handshake, certificate or key)")                     \
    X(ERR_HS_MALFORMED, -20, "handshake: malformed HTTP response")                     \
    X(ERR_HS_STATUS, -21, "handshake: status is not 101")                              \
    X(ERR_HS_UPGRADE, -22, "handshake: Upgrade is not websocket")                      \
    X(ERR_HS_CONNECTION, -23, "handshake: Connection lacks Upgrade")                   \
    X(ERR_HS_ACCEPT, -24, "handshake: wrong Sec-WebSocket-Accept")                     \
    X(ERR_HS_PROTOCOL, -25, "handshake: subprotocol not offered")                      \
    X(ERR_HS_EXTENSION, -26, "handshake: extension not offered or not acceptable")     \
    X(ERR_HS_BAD_REQUEST, -30, "handshake: upgrade request refused (HTTP 400)")        \
    X(ERR_HS_FORBIDDEN, -31, "handshake: upgrade request forbidden (HTTP 403)")        \
    X(ERR_HS_METHOD, -32, "handshake: upgrade method is not GET (HTTP 405)")           \
    X(ERR_HS_VERSION, -33, "handshake: Sec-WebSocket-Version is not 13 (HTTP 426)")             \
    X(ERR_HS_HTTP_VERSION, -34, "handshake: HTTP version is not 1.0 or 1.1 (HTTP 505)")

enum cws_err {
#define CWS__ERR_ENUM(name, value, text) CWS_##name = value,
    CWS_ERRORS(CWS__ERR_ENUM)
#undef CWS__ERR_ENUM
};

/* A static, human-readable name for an error value (never NULL). */
CWS_API const char *cws_strerror(int err);

/* The library version, CWS_VERSION_STRING at build time. */
CWS_API const char *cws_version(void);

/* The rule for every timeout and limit in a config struct: 0 means the
 * documented default, CWS_DISABLED turns it off. */
#define CWS_DISABLED 0xFFFFFFFFu

/* A byte range that is not NUL-terminated (it points into a caller's buffer). */
typedef struct cws_str {
    const char *ptr;
    size_t len;
} cws_str;

/* A user random source; returns 0 on success. */
typedef int (*cws_rng_fn)(void *user, void *buf, size_t len);

/* Allocator hook: realloc semantics; size 0 frees and returns NULL.
 * A NULL fn means libc realloc/free. */
typedef struct cws_allocator {
    void *(*fn)(void *user, void *ptr, size_t size);
    void *user;
} cws_allocator;

/* ======================================================================
 * Layer 2: HTTP/1.1 header blocks and the opening handshake (RFC 6455 §4)
 * (the head parser and the other HTTP helpers are in cws_util.h)
 * ==================================================================== */

/* A parsed request or response head. All cws_str fields point into the
 * caller's buffer, which must stay unchanged while they are used. */
typedef struct cws_http_head {
    cws_str method;       /* request: "GET" */
    cws_str target;       /* request: "/chat?since=4" */
    cws_str path;         /* request: "/chat" */
    cws_str query;        /* request: "since=4" (no '?'); empty if none */
    int status;           /* response: status code */
    cws_str reason;       /* response: reason phrase */
    int version_major;    /* HTTP/<major>.<minor> */
    int version_minor;
    cws_str fields;       /* the header field lines, CRLF-separated */
    size_t head_len;      /* whole head, including the empty line */
    size_t scanned_;      /* private: resume point of the end-of-head scan */
} cws_http_head;

/* Header iteration: start with *pos = 0; returns 1 and the next field
 * (value trimmed of optional whitespace), or 0 at the end. */
CWS_API int cws_http_next_header(const cws_http_head *h, size_t *pos, cws_str *name, cws_str *value);
/* Number of fields named name (case-insensitive); *value (if not NULL)
 * gets the first one. */
CWS_API int cws_http_header(const cws_http_head *h, const char *name, cws_str *value);
/* --- permessage-deflate (RFC 7692) --- */

/* permessage-deflate (RFC 7692). All zero: off. One struct for both roles;
 * each field says what it means to a server and to a client. */
typedef struct cws_deflate_config {
    int enable;                     /* 1: server accepts offers, client offers */
    int level;                      /* 0: 6; 1 (fastest) .. 9 (smallest) */
    /* Server: the largest window it compresses with (it answers an offer's
     * server_max_window_bits with the smaller of the two). Client: 8..15
     * asks the server to compress with at most that; 0 asks nothing. */
    int server_max_window_bits;
    /* Server: asks a client that offered client_max_window_bits to
     * compress with at most this window (0: 15). Client: the largest
     * window it compresses with; it offers client_max_window_bits, with
     * this value unless 0. */
    int client_max_window_bits;
    /* 1: the server compresses each message on its own (server: always;
     * client: asks the server to). Saves the server's state between
     * messages at some cost in ratio. */
    int server_no_context_takeover;
    /* 1: the client compresses each message on its own (server: requires
     * it of the client; client: offers it). */
    int client_no_context_takeover;
    size_t threshold;               /* shorter messages go uncompressed;
                                       0: CWS_DEFLATE_THRESHOLD_DEFAULT;
                                       CWS_DISABLED: none */
} cws_deflate_config;
/* Deflating a few bytes costs more than it saves. */
#define CWS_DEFLATE_THRESHOLD_DEFAULT 1024

/* What a handshake agreed for permessage-deflate (RFC 7692 §7.1), for
 * cws_conn_set_deflate(). Filled by cws_hs_server_parse and
 * cws_hs_client_parse; enabled is 0 when the extension is off. */
typedef struct cws_deflate_params {
    uint8_t enabled;
    uint8_t server_no_context_takeover; /* the server compresses each message alone */
    uint8_t client_no_context_takeover; /* the client does */
    uint8_t server_max_window_bits;     /* 8..15: the server's window */
    uint8_t client_max_window_bits;     /* 8..15: the client's window */
    uint8_t response_server_bits;       /* private: what the 101 carries */
    uint8_t response_client_bits;       /* private */
} cws_deflate_params;

/* --- server side --- */

#define CWS_HANDSHAKE_MAX_DEFAULT 8192

typedef struct cws_hs_request {
    cws_http_head http;   /* request line and fields */
    cws_str host;
    cws_str key;          /* Sec-WebSocket-Key, validated */
    cws_str origin;       /* empty if absent */
    cws_str protocol;     /* the subprotocol chosen; empty if none */
    cws_deflate_params deflate; /* permessage-deflate, if accepted */
    const char *error;    /* detail for logs: the failed rule, or NULL */
} cws_hs_request;

typedef struct cws_hs_server_opts {
    size_t max_size; /* 0: CWS_HANDSHAKE_MAX_DEFAULT; over it: 431 */
    /* Origin checks against cross-site WebSocket hijacking (RFC 6455
     * §10.2). Both 0/NULL (the default): no check. Else a request whose
     * Origin field is neither the server's own (same_origin) nor listed
     * is refused with 403 (CWS_ERR_HS_FORBIDDEN); a request without
     * Origin (not a browser) is never refused by them.
     * same_origin = 1: admit an Origin "http[s]://host[:port]" that names
     * the host and port of the request's Host field (default ports 80
     * and 443 filled in, case-insensitive). "null" never matches.
     * allow_origins: NULL-terminated list of origins also admitted, each
     * compared whole, case-insensitively ("https://a.example:8443");
     * "*" admits any, "null" admits opaque origins. An empty list with
     * same_origin = 0 admits no browser at all. cws_server_new copies
     * it; cws_hs_server_parse reads it on each call. */
    int same_origin;
    const char *const *allow_origins;
    /* Runs after the checks above: 0 to accept, non-zero to refuse with
     * 403. Optional. */
    int (*check_origin)(void *user, const cws_hs_request *req);
    /* Returns the index i of the offered subprotocol to use (see
     * cws_hs_offered_protocol), or -1 for none. Optional: none by default. */
    int (*select_protocol)(void *user, const cws_hs_request *req);
    /* permessage-deflate: NULL or !enable declines every offer; else the
     * first acceptable offer wins (r->deflate) and cws_hs_accept answers
     * it. A malformed offer is declined, never a refusal (RFC 7692 §5). */
    const cws_deflate_config *deflate;
    void *user;
} cws_hs_server_opts;

/* Parses and validates an upgrade request (RFC 6455 §4.2.1), incrementally
 * as cws_http_parse_request. Zero r before the first call. Returns:
 *   > 0                  valid upgrade; the head's length (bytes after it
 *                        belong to the frame stream)
 *   CWS_ERR_AGAIN        need more bytes
 *   CWS_ERR_NOT_UPGRADE  a complete, well-formed request that asks for no
 *                        WebSocket upgrade (serve it as plain HTTP; its
 *                        length is r->http.head_len)
 *   CWS_ERR_HS_BAD_REQUEST, _FORBIDDEN, _METHOD, _VERSION, _HTTP_VERSION,
 *   CWS_ERR_TOO_BIG      refused (r->error names the rule): answer with
 *                        cws_hs_reject(cws_hs_status(err), ...)
 * A request whose Upgrade holds "websocket" is never NOT_UPGRADE: any other
 * flaw in it is a refusal (405 for a method other than GET, 426 for a
 * Sec-WebSocket-Version other than 13, else 400). Any request whose
 * version is not HTTP/1.0 or HTTP/1.1 is a 505, upgrade or not; any
 * HTTP/1.1 request without Host, or with two, is a 400 (RFC 7230 §5.4). */
CWS_API ptrdiff_t cws_hs_server_parse(cws_hs_request *r, const cws_hs_server_opts *opts,
                                      const char *buf, size_t len);
/* The HTTP status that answers a refused upgrade: 400 for
 * CWS_ERR_HS_BAD_REQUEST, 403 _FORBIDDEN, 405 _METHOD, 426 _VERSION,
 * 505 _HTTP_VERSION, 431 CWS_ERR_TOO_BIG; 500 for any other value. */
CWS_API int cws_hs_status(int err);
/* The i-th subprotocol the client offered (all Sec-WebSocket-Protocol
 * fields, in order); returns 1 if it exists. */
CWS_API int cws_hs_offered_protocol(const cws_hs_request *r, size_t i, cws_str *out);
/* Writes the 101 response with Sec-WebSocket-Accept, the chosen
 * subprotocol, Sec-WebSocket-Extensions when r->deflate.enabled, and
 * extra_headers (may be NULL).
 * Returns its length or CWS_ERR_NOSPACE. */
CWS_API ptrdiff_t cws_hs_accept(const cws_hs_request *r, const char *extra_headers, char *out, size_t cap);
/* Writes a complete error response for status (with Sec-WebSocket-Version
 * for 426, Connection: close, and a short text body). */
CWS_API ptrdiff_t cws_hs_reject(int status, char *out, size_t cap);
/* 1 if origin can be an entry of cws_hs_server_opts.allow_origins: "*",
 * "null", or a serialized origin scheme://host[:port] (RFC 6454 §6.2: no
 * path, no trailing slash, no userinfo). cws_server_new refuses a list
 * with any other entry (CWS_ERR_INVALID): it could never match. */
CWS_API int cws_hs_origin_ok(const char *origin);
/* Sec-WebSocket-Accept for key (RFC 6455 §1.3): 28 chars + NUL into out. */
CWS_API void cws_hs_accept_key(cws_str key, char out[29]);

/* --- client side --- */

typedef struct cws_hs_client_opts {
    const char *host;          /* Host field ("example.com:8080") */
    const char *path;          /* request target, NULL means "/" */
    const char *protocols;     /* offered subprotocols "a, b" or NULL */
    const char *origin;        /* or NULL */
    const char *extra_headers; /* "Name: value\r\n" lines, or NULL */
    cws_rng_fn rng;            /* NULL: cws_random */
    void *rng_user;
    size_t max_size;           /* response limit; 0: CWS_HANDSHAKE_MAX_DEFAULT */
    const cws_deflate_config *deflate; /* offer permessage-deflate if enabled */
} cws_hs_client_opts;

typedef struct cws_hs_client {
    cws_http_head http;     /* the response, once parsed */
    cws_str protocol;       /* subprotocol the server chose; empty if none */
    char key[25];           /* our Sec-WebSocket-Key */
    char accept[29];        /* the Sec-WebSocket-Accept we expect */
    char offered[256];      /* copy of opts->protocols */
    size_t max_size;
    cws_deflate_config deflate_offered; /* copy of *opts->deflate, or zero */
    cws_deflate_params deflate;         /* what the response agreed */
    const char *error;      /* detail for logs: the failed rule, or NULL */
} cws_hs_client;

/* Builds the request (fresh random key). Returns its length,
 * CWS_ERR_NOSPACE, CWS_ERR_INVALID or CWS_ERR_RANDOM. */
CWS_API ptrdiff_t cws_hs_client_request(cws_hs_client *c, const cws_hs_client_opts *opts,
                                        char *out, size_t cap);
/* Validates the response incrementally (same buffer convention as
 * cws_http_parse_response). Returns the head length (> 0) on success,
 * CWS_ERR_AGAIN, CWS_ERR_TOO_BIG, or a CWS_ERR_HS_* naming the rule. */
CWS_API ptrdiff_t cws_hs_client_parse(cws_hs_client *c, const char *buf, size_t len);

/* ======================================================================
 * Layer 3: frame codec (RFC 6455 §5.2)
 * ==================================================================== */

enum cws_opcode {
    CWS_OP_CONT = 0x0,
    CWS_OP_TEXT = 0x1,
    CWS_OP_BINARY = 0x2,
    CWS_OP_CLOSE = 0x8,
    CWS_OP_PING = 0x9,
    CWS_OP_PONG = 0xA
};

enum cws_role { CWS_SERVER = 0, CWS_CLIENT = 1 };

#define CWS_FRAME_HEADER_MAX 14
#define CWS_CONTROL_MAX 125

typedef struct cws_frame_header {
    uint64_t len;     /* payload length */
    uint8_t fin;      /* 0 or 1 */
    uint8_t rsv;      /* RSV1..3 as bits 2..0 */
    uint8_t opcode;
    uint8_t masked;   /* 0 or 1 */
    uint8_t mask[4];
} cws_frame_header;

typedef struct cws_frame_parser {
    /* A header cut by the end of a buffer is collected in stash, which
     * shares memory with hdr: hdr is valid from a frame's START event
     * until the next header begins to arrive. */
    union {
        cws_frame_header hdr;                 /* current frame */
        uint8_t stash[CWS_FRAME_HEADER_MAX];  /* private */
    };
    uint64_t offset;      /* payload bytes of it delivered so far */
    const char *error;    /* static text naming the violated rule */
    uint8_t role;         /* the role of the endpoint that receives */
    uint8_t allowed_rsv;  /* RSV bits an extension negotiated (bits 2..0) */
    uint8_t state;        /* private */
    uint8_t have;         /* private: header bytes stashed */
} cws_frame_parser;

enum { CWS_FRAME_START = 1, CWS_FRAME_END = 2 };

typedef struct cws_frame_event {
    int ready;                    /* 1 if this holds an event */
    unsigned flags;               /* CWS_FRAME_START and/or CWS_FRAME_END */
    const cws_frame_header *hdr;  /* the frame's header */
    uint8_t *data;                /* unmasked payload chunk, in caller's buffer */
    size_t len;
    uint64_t offset;              /* of data within the payload */
} cws_frame_event;

CWS_API void cws_frame_parser_init(cws_frame_parser *p, int role);
/* Consumes bytes of buf and yields at most one event: a payload chunk
 * (unmasked in place; START on a frame's first event, END on its last; a
 * zero-length frame is one START|END event; START comes as soon as the
 * header is complete, with len 0 if no payload byte followed it in buf).
 * Returns the bytes consumed
 * (ev->ready tells whether an event came with them) or CWS_ERR_PROTOCOL
 * (p->error says which §5.2 rule), after which the parser stays failed.
 * Rejects: 64-bit length with the top bit set, RSV bits not allowed,
 * reserved opcodes, control frames longer than 125 or fragmented, and the
 * wrong masking direction (§5.1). */
CWS_API ptrdiff_t cws_frame_parse(cws_frame_parser *p, uint8_t *buf, size_t len, cws_frame_event *ev);
/* Writes the header for h (minimal length encoding; the mask key if
 * h->masked) into out; returns its length (2..14). */
CWS_API size_t cws_frame_header_encode(uint8_t out[CWS_FRAME_HEADER_MAX], const cws_frame_header *h);

/* ======================================================================
 * Layer 4: the sans-I/O connection
 * ==================================================================== */

typedef struct cws_conn cws_conn;

/* Close codes (RFC 6455 §7.4.1). */
enum cws_close_code {
    CWS_CLOSE_NORMAL = 1000,
    CWS_CLOSE_GOING_AWAY = 1001,
    CWS_CLOSE_PROTOCOL_ERROR = 1002,
    CWS_CLOSE_UNSUPPORTED = 1003,
    CWS_CLOSE_NO_STATUS = 1005,   /* never sent: no code in the close frame */
    CWS_CLOSE_ABNORMAL = 1006,    /* never sent: TCP ended without a close */
    CWS_CLOSE_INVALID_DATA = 1007,
    CWS_CLOSE_POLICY = 1008,
    CWS_CLOSE_TOO_BIG = 1009,
    CWS_CLOSE_EXTENSION = 1010,
    CWS_CLOSE_INTERNAL = 1011,
    CWS_CLOSE_RESTART = 1012,
    CWS_CLOSE_TRY_AGAIN = 1013
};

/* How received messages reach the application. */
enum cws_receive_mode {
    CWS_RECEIVE_MESSAGES = 0, /* on_message once per whole message,
                                 reassembled up to max_message_size */
    CWS_RECEIVE_STREAM = 1    /* on_message_begin / _data / _end as bytes
                                 arrive: no buffering, no allocation */
};

/* Callbacks return nothing. To stop cws_conn_recv() from inside one, call
 * cws_conn_pause(): recv then returns the bytes consumed so far (call it
 * again with the rest to resume, even if the rest is empty: a paused
 * on_message_end comes then). Every callback may call cws_conn_send*,
 * cws_conn_ping, cws_conn_pong, cws_conn_close, cws_conn_abort and
 * cws_conn_pause; never cws_conn_free, and cws_conn_recv returns
 * CWS_ERR_STATE there. Data pointers are valid only during the call.
 * Text is checked as it arrives: the chunk holding the first invalid
 * UTF-8 byte is not delivered (earlier chunks were), and the connection
 * fails with 1007. Any callback may be NULL. */
typedef struct cws_conn_callbacks {
    /* CWS_RECEIVE_STREAM */
    void (*on_message_begin)(cws_conn *c, void *user, int opcode);
    void (*on_message_data)(cws_conn *c, void *user, const uint8_t *data, size_t len);
    void (*on_message_end)(cws_conn *c, void *user);
    /* CWS_RECEIVE_MESSAGES */
    void (*on_message)(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len);
    /* A ping arrived (the pong is already queued unless no_auto_pong). */
    void (*on_ping)(cws_conn *c, void *user, const uint8_t *data, size_t len);
    void (*on_pong)(cws_conn *c, void *user, const uint8_t *data, size_t len);
    /* Called once when the WebSocket ends: with the peer's close code and
     * reason (1005 if its close had none), with the code we sent when we
     * failed the connection (1002, 1007, 1009, ...; the reason is then
     * cws_conn_error()'s text), or 1006 after cws_conn_abort(). The
     * reason is never NULL. */
    void (*on_close)(cws_conn *c, void *user, int code, const char *reason, size_t reason_len);
    /* Outbound bytes. Its result is a report, not a request to stop:
     * 0 if the bytes were taken, non-zero on transport failure (then every
     * later send returns CWS_ERR_IO and cws_conn_done() is 1; call
     * cws_conn_abort() when the transport is gone).
     * If NULL, bytes collect in an internal buffer: see cws_conn_output(). */
    int (*write)(cws_conn *c, void *user, const uint8_t *data, size_t len);
} cws_conn_callbacks;

#define CWS_MAX_MESSAGE_DEFAULT ((size_t)16 << 20)
/* Frames per received message: a 4 MiB message in 64-byte fragments fits
 * (Autobahn 9.3.1), while empty continuation frames cannot keep a message
 * open for ever (at most 384 KiB of frame headers per message). */
#define CWS_MAX_FRAGMENTS_DEFAULT 65536

/* Settings of a connection; 0 in any field means its default, and
 * CWS_DISABLED turns a limit off. cws_conn_new() keeps a private copy, so
 * cfg may be a temporary; cws_conn_init_shared() does not copy (see
 * there). */
typedef struct cws_conn_config {
    int role;                  /* CWS_SERVER or CWS_CLIENT */
    int receive;               /* enum cws_receive_mode; 0: whole messages */
    size_t max_frame_size;     /* 0: CWS_MAX_MESSAGE_DEFAULT; over: 1009 */
    size_t max_message_size;   /* 0: CWS_MAX_MESSAGE_DEFAULT; over: 1009 */
    size_t max_fragments;      /* frames per message; 0: CWS_MAX_FRAGMENTS_DEFAULT;
                                  over: 1009 ("too many fragments") */
    int no_auto_pong;          /* 1: the application answers pings itself */
    cws_conn_callbacks cb;
    void *user;                /* initial cws_conn_user(); per connection */
    cws_allocator alloc;
    cws_rng_fn rng;            /* client masking keys; NULL: cws_random */
    void *rng_user;
    /* Compression settings (level, threshold) for connections on which
     * cws_conn_set_deflate() turns permessage-deflate on; enable and the
     * window fields are the handshake's business. */
    cws_deflate_config deflate;
} cws_conn_config;

enum cws_state {
    CWS_STATE_OPEN = 0,
    CWS_STATE_CLOSING = 1,  /* a close frame was sent or received, not both */
    CWS_STATE_CLOSED = 2,   /* close handshake done, or failed, or aborted */
};

/* Allocates a connection (through cfg->alloc) with its own copy of *cfg.
 * NULL on failure, *err (if not NULL) = CWS_ERR_INVALID or CWS_ERR_NOMEM.
 * Free it with cws_conn_free(). */
CWS_API cws_conn *cws_conn_new(const cws_conn_config *cfg, int *err);
CWS_API void cws_conn_free(cws_conn *c);

/* Embedding: a connection in memory the caller owns (e.g. in the same
 * allocation as the caller's per-connection object: one malloc, no
 * pointer). mem holds cws_conn_sizeof() bytes, aligned for any type (as
 * malloc returns; place it at an offset that is a multiple of
 * _Alignof(max_align_t)). The config is shared, not copied: the
 * connection reads *cfg for its whole life, so one config can serve every
 * connection of a server (like llhttp's settings); it must outlive them,
 * unchanged. Returns mem as the connection, or NULL with *err (if not
 * NULL) = CWS_ERR_INVALID. cws_conn_deinit() frees what the connection
 * allocated (buffers), not mem; never call cws_conn_free() on it. */
CWS_API size_t cws_conn_sizeof(void);
CWS_API cws_conn *cws_conn_init_shared(void *mem, const cws_conn_config *cfg, int *err);
CWS_API void cws_conn_deinit(cws_conn *c);

/* Feeds received bytes; payload is unmasked in place in data. Returns the
 * bytes consumed (fewer than len only if a callback paused) or a
 * negative error once the connection has failed (the close frame with the
 * right code is already queued; CWS_ERR_PROTOCOL, _UTF8, _TOO_BIG, or
 * _NOMEM with code 1011), CWS_ERR_CLOSED after cws_conn_abort(). Bytes
 * after the peer's close frame are ignored (counted as consumed). */
CWS_API ptrdiff_t cws_conn_recv(cws_conn *c, uint8_t *data, size_t len);
/* Turns permessage-deflate on as the handshake agreed (params from
 * cws_hs_request.deflate or cws_hs_client.deflate; nothing happens when
 * params->enabled is 0). Call it before any data moves. Then messages of
 * at least cfg->deflate.threshold bytes go out compressed (RFC 7692 §7.2.1,
 * RSV1 on the first frame), received ones are inflated before delivery,
 * and max_message_size bounds the inflated size (1009 as soon as it is
 * crossed). The codec's state is allocated when first needed and, without
 * context takeover, released after each message. CWS_OK, CWS_ERR_INVALID,
 * CWS_ERR_STATE (data already moved), CWS_ERR_NOMEM, or CWS_ERR_STATE
 * when the library was built without the codec (CWS_NO_DEFLATE). */
CWS_API int cws_conn_set_deflate(cws_conn *c, const cws_deflate_params *params);
/* 1 if permessage-deflate is on for c (then *params, if not NULL, gets
 * what was agreed), else 0. */
CWS_API int cws_conn_deflate(const cws_conn *c, cws_deflate_params *params);
/* OR'd into the opcode of cws_conn_send, cws_socket_send or
 * cws_server_broadcast: this message goes uncompressed even when
 * permessage-deflate is on (e.g. data that is compressed already). */
#define CWS_SEND_UNCOMPRESSED 0x100

/* From inside a callback: cws_conn_recv returns once this callback does
 * (CWS_OK; CWS_ERR_STATE outside cws_conn_recv). */
CWS_API int cws_conn_pause(cws_conn *c);

/* Sends a whole message (CWS_OP_TEXT or CWS_OP_BINARY). The senders return
 * CWS_OK or: CWS_ERR_UTF8 (text that is not UTF-8: nothing is sent, as
 * the peer would fail the connection with 1007; fragments are checked as
 * one stream), CWS_ERR_INVALID (bad opcode or arguments, a control payload
 * over 125 bytes, a close code cws_close_code_valid() refuses, a reason
 * over 123 bytes, not UTF-8, or without a code), CWS_ERR_STATE (CWS_OP_CONT
 * with no fragmented send open, or a new message while one is open),
 * CWS_ERR_CLOSED (our close is out, or the connection failed or was
 * aborted), CWS_ERR_NOMEM, CWS_ERR_RANDOM (client masking key), CWS_ERR_IO
 * (the write callback failed). */
CWS_API int cws_conn_send(cws_conn *c, int opcode, const void *data, size_t len);
/* Streams a message as fragments: the first call passes CWS_OP_TEXT or
 * CWS_OP_BINARY, later ones CWS_OP_CONT; fin = 1 on the last. Control
 * frames may be sent between fragments. */
CWS_API int cws_conn_send_fragment(cws_conn *c, int opcode, const void *data, size_t len, int fin);
CWS_API int cws_conn_ping(cws_conn *c, const void *data, size_t len);
CWS_API int cws_conn_pong(cws_conn *c, const void *data, size_t len);
/* Starts (or answers) the close handshake. code 0 sends no status code;
 * reason (reason_len bytes, may be NULL when 0) must be UTF-8. */
CWS_API int cws_conn_close(cws_conn *c, int code, const char *reason, size_t reason_len);
/* The transport ended: reports 1006 through on_close if not yet closed. */
CWS_API void cws_conn_abort(cws_conn *c);

/* Internal output buffer (when cb.write is NULL): *data gets the pending
 * bytes (valid until the next call on c); returns their count.
 * cws_conn_consume() drops n of them; the buffer is freed once drained. */
CWS_API size_t cws_conn_output(cws_conn *c, const uint8_t **data);
CWS_API void cws_conn_consume(cws_conn *c, size_t n);
/* Bytes queued in the internal buffer and not yet drained. The buffer has
 * no limit of its own, and received pings queue pongs into it: a caller
 * that cannot drain should stop feeding cws_conn_recv (or close) once this
 * passes its limit, as the runtime's high-water mark does. */
CWS_API size_t cws_conn_buffered_amount(const cws_conn *c);

CWS_API int cws_conn_state(const cws_conn *c);
/* 1 once nothing more will be sent or received: the transport may be
 * closed when the output is flushed. A server closes TCP first; a client
 * waits for the server to do so (RFC 6455 §7.1.1). */
CWS_API int cws_conn_done(const cws_conn *c);
/* The code reported through on_close, or 0 while open. */
CWS_API int cws_conn_close_code(const cws_conn *c);
/* Static text naming why we failed the connection, or NULL. */
CWS_API const char *cws_conn_error(const cws_conn *c);
CWS_API int cws_conn_role(const cws_conn *c);
CWS_API void *cws_conn_user(const cws_conn *c);
CWS_API void cws_conn_set_user(cws_conn *c, void *user);
/* 1 if code may be sent in a close frame (RFC 6455 §7.4). */
CWS_API int cws_close_code_valid(int code);

#ifndef CWS_NO_RUNTIME
/* ======================================================================
 * Layer 5: runtime (optional) — event loop, server, client
 *
 * One cws_loop drives any number of servers, client sockets, timers and
 * watched fds on one thread: epoll on Linux, poll(2) elsewhere or when
 * built with -DCWS_USE_POLL. A loop and everything on it belong to the
 * thread that runs it: only cws_loop_post() and cws_loop_stop() may be
 * called from other threads. To use several cores run one loop per thread,
 * each with its own cws_server on the same port with reuse_port = 1
 * (SO_REUSEPORT: the kernel spreads connections).
 *
 * Signals: the runtime never touches signal handlers; SIGPIPE is avoided
 * with MSG_NOSIGNAL (SO_NOSIGPIPE where that exists). For a graceful stop
 * on SIGINT/SIGTERM, have the handler write one byte to a non-blocking
 * pipe (or use signalfd), watch its read end with cws_loop_watch_fd(), and
 * from that callback call cws_server_shutdown(srv, CWS_CLOSE_GOING_AWAY,
 * ms); cws_loop_run() returns once the shutdown is done, then call
 * cws_server_free() and cws_loop_free().
 *
 * Policies (defaults in cws_server_config):
 *  - Handshake timeout (10 s): a client that has not sent a complete
 *    request head by then is dropped without an answer (slowloris). The
 *    head is read into a buffer that exists only during the handshake
 *    (none at all when it arrives in one read) and is capped at
 *    max_handshake_size (over it: 431). Errors are answered with
 *    cws_hs_reject() and the connection closed; non-upgrade requests go to
 *    on_http; one request per connection, answered with Connection: close.
 *    An answer goes out as fast as the client takes it; a client that
 *    takes none of it for the handshake timeout is dropped, and once all
 *    of it is sent the connection is half-closed and dropped 2 s later at
 *    most.
 *  - Output: bytes sent during one callback or one read batch leave in one
 *    sendmsg when that socket has been processed ("corking"). The kernel
 *    holds at most kernel_unsent_max (256 KiB) of a socket's bytes that it
 *    has not sent yet; the rest waits in the socket's queue. A socket
 *    whose queue grows past high_water (4 MiB) because its peer does not
 *    read is closed with 1008: the close frame is queued (it may pass the
 *    mark; nothing else will), and if the peer has not finished the close
 *    within min(close_timeout, 1 s) the TCP connection is dropped. Either
 *    way on_close reports 1008. The queue therefore stays within
 *    high_water + one message.
 *  - Ping (every 30 s, both roles): the runtime pings an open
 *    socket every ping_interval_ms; a peer that does not answer within
 *    pong_timeout_ms (10 s) is dropped (TCP close, no close frame: it
 *    would queue behind what the peer is not reading) and on_close reports
 *    1006 with reason "no pong before the deadline". The measured round
 *    trip is cws_socket_rtt_ms().
 *  - Close timeout (5 s): after our close frame, a peer that does not
 *    answer is dropped (on_close 1006, "close handshake timed out"). When
 *    the close handshake is done the server closes TCP at once; a client
 *    waits up to close_timeout for the server's FIN (RFC 6455 §7.1.1).
 *  - A connection that ends without a close frame reports 1006.
 *  - Over max_connections a new connection gets HTTP 503 and is closed.
 *
 * Callbacks (posted jobs included) may call any cws_socket_* function,
 * cws_server_broadcast, cws_server_publish, cws_server_shutdown,
 * cws_loop_stop, cws_loop_post, the timer and fd-watch functions; they
 * must not call cws_server_free, cws_loop_free or cws_connect_wait.
 * ==================================================================== */

typedef struct cws_loop cws_loop;
typedef struct cws_timer cws_timer;
typedef struct cws_server cws_server;
/* One WebSocket over TCP, accepted by a server or opened by cws_connect. */
typedef struct cws_socket cws_socket;

/* NULL on failure, *err (if not NULL) = CWS_ERR_NOMEM or CWS_ERR_IO. */
CWS_API cws_loop *cws_loop_new(int *err);
/* Refuses further posts (CWS_ERR_CLOSED), runs every job still queued on
 * the calling thread, then frees servers (their sockets get on_close
 * 1006), client sockets (same), timers and watches that are left. Not
 * from inside a callback. Posts and stops that overlap it are safe; none
 * may start once it has returned (join or stop your threads first). */
CWS_API void cws_loop_free(cws_loop *loop);
/* Runs until cws_loop_stop() (a finished server shutdown also stops it).
 * Returns CWS_OK or CWS_ERR_IO. */
CWS_API int cws_loop_run(cws_loop *loop);
/* One round of waiting (at most timeout_ms; -1 forever) and dispatch. */
CWS_API int cws_loop_run_once(cws_loop *loop, int timeout_ms);
/* Makes cws_loop_run return after the current round (before the next,
 * if called between rounds). Thread-safe: wakes a loop that is waiting. */
CWS_API void cws_loop_stop(cws_loop *loop);
/* Thread-safe: any thread may call it (the loop's too). fn(loop, arg) runs
 * once on the loop's thread, in a later round, in posting order with the
 * other posts; a job's own posts run in a later round still. Returns
 * CWS_OK, CWS_ERR_INVALID, CWS_ERR_NOMEM, CWS_ERR_TOO_BIG (2^20 jobs
 * already wait: the loop is not keeping up) or CWS_ERR_CLOSED (once
 * cws_loop_free has begun; fn will not run). A job that was accepted
 * always runs, at the latest in cws_loop_free. */
typedef void (*cws_post_fn)(cws_loop *loop, void *arg);
CWS_API int cws_loop_post(cws_loop *loop, cws_post_fn fn, void *arg);
/* Monotonic milliseconds since the loop was made, as its timers see them. */
CWS_API uint64_t cws_loop_now(const cws_loop *loop);

typedef void (*cws_timer_fn)(cws_loop *loop, void *user);
/* Calls fn after delay_ms, then every interval_ms if non-zero. A one-shot
 * timer (interval_ms 0) is freed when its callback returns: do not stop it
 * after that. A repeating one lives until cws_timer_stop(), which may be
 * called from its own callback. All timers share one binary heap
 * (O(log n) per start, stop or expiry). NULL on failure, *err (if not
 * NULL) = CWS_ERR_INVALID or CWS_ERR_NOMEM. */
CWS_API cws_timer *cws_timer_start(cws_loop *loop, uint64_t delay_ms, uint64_t interval_ms,
                                   cws_timer_fn fn, void *user, int *err);
CWS_API void cws_timer_stop(cws_timer *t);

/* Calls fn whenever fd is readable (e.g. stdin in a client, a signal
 * pipe). One watch per fd (else CWS_ERR_STATE). Unwatching (also from the
 * callback) leaves the fd open: it stays the caller's. */
typedef void (*cws_fd_fn)(cws_loop *loop, int fd, void *user);
CWS_API int cws_loop_watch_fd(cws_loop *loop, int fd, cws_fd_fn fn, void *user);
CWS_API void cws_loop_unwatch_fd(cws_loop *loop, int fd);
/* The same for a library that brings its own sockets (a database client,
 * say): fn gets the ready events (CWS_FD_READ and/or CWS_FD_WRITE; an
 * error or hang-up counts as both, as far as asked for), only ever ones
 * the watch asks for at that moment. cws_loop_set_fd_events changes what
 * it asks for (also from fn; 0 asks for nothing and keeps the watch);
 * CWS_ERR_STATE if fd is not watched. A watch made with
 * cws_loop_watch_fd is CWS_FD_READ and may be changed the same way. */
enum { CWS_FD_READ = 1, CWS_FD_WRITE = 2 };
typedef void (*cws_fd_events_fn)(cws_loop *loop, int fd, unsigned events, void *user);
CWS_API int cws_loop_watch_fd_events(cws_loop *loop, int fd, unsigned events, cws_fd_events_fn fn, void *user);
CWS_API int cws_loop_set_fd_events(cws_loop *loop, int fd, unsigned events);

/* The same rules as cws_conn_callbacks: return nothing, any may be NULL,
 * data is valid during the call. To stop hearing from a socket, close it. */
typedef struct cws_socket_callbacks {
    void (*on_open)(cws_socket *s, void *user);
    /* receive = CWS_RECEIVE_MESSAGES: a whole message (reassembled up to
     * max_message_size). */
    void (*on_message)(cws_socket *s, void *user, int opcode, const uint8_t *data, size_t len);
    /* receive = CWS_RECEIVE_STREAM: a message as its bytes arrive. */
    void (*on_message_begin)(cws_socket *s, void *user, int opcode);
    void (*on_message_data)(cws_socket *s, void *user, const uint8_t *data, size_t len);
    void (*on_message_end)(cws_socket *s, void *user);
    void (*on_pong)(cws_socket *s, void *user, const uint8_t *data, size_t len);
    /* Called exactly once for a socket that reached on_open, or that
     * on_upgrade accepted (if the 101 then fails: 1006 without on_open),
     * and, for a client, also when connecting or its handshake failed
     * (1006 with a reason such as "connection refused"). After it returns
     * the socket is freed. */
    void (*on_close)(cws_socket *s, void *user, int code, const char *reason, size_t reason_len);
    /* Once after each cws_socket_want_drain(): everything queued has been
     * handed to the kernel. Send what comes next from here to pace a long
     * transfer by how fast the peer reads (with kernel_unsent_max bounding
     * what the kernel holds, that is the peer's own pace). */
    void (*on_drain)(cws_socket *s, void *user);
} cws_socket_callbacks;

/* A plain-HTTP answer being built (see cws_server_config.on_http). */
typedef struct cws_http_reply cws_http_reply;
/* Answers the request (once; again: CWS_ERR_STATE) with Content-Length,
 * Connection: close and extra_headers ("Name: value\r\n" lines, or NULL);
 * a HEAD request gets the head only. Must be called during on_http. */
CWS_API int cws_http_reply_send(cws_http_reply *r, int status, const char *content_type,
                                const void *body, size_t len, const char *extra_headers);

/* Every limit and timeout: 0 means the default shown, CWS_DISABLED
 * turns it off (max_handshake_size cannot be off: CWS_ERR_INVALID).
 * docs/api.md has the table of defaults. */
/* TLS in the runtime (wss://, and https:// for on_http), when the library
 * was built with a backend (`make TLS=openssl`; see cws_tls_backend).
 * Without one, a server given a certificate and a wss:// URL are refused
 * with CWS_ERR_INVALID. */
typedef struct cws_tls_server_config {
    const char *cert_file;        /* PEM: the certificate, then its chain;
                                     NULL: plain TCP */
    const char *key_file;         /* PEM: its private key (NULL: in cert_file) */
} cws_tls_server_config;

typedef struct cws_tls_client_config {
    const char *cafile;           /* PEM certificates to trust instead of
                                     the system's store; NULL: the system's */
    const char *server_name;      /* sent (SNI) and checked against the
                                     certificate; NULL: the URL's host */
    int insecure_skip_verify;     /* 1: accept any certificate for any name.
                                     For tests only: anyone on the path can
                                     read and change the traffic */
} cws_tls_client_config;

/* The TLS backend built in ("openssl"), or NULL when there is none. */
CWS_API const char *cws_tls_backend(void);

typedef struct cws_server_config {
    const char *host;             /* listen address ("::", "0.0.0.0", "::1");
                                     NULL: "127.0.0.1" */
    int port;                     /* 0: ephemeral (see cws_server_port) */
    int backlog;                  /* 0: 511 */
    int reuse_port;               /* 1: SO_REUSEPORT (one loop per thread) */
    int receive;                  /* enum cws_receive_mode; 0: whole messages */
    size_t max_connections;       /* 0: 100000; over it: HTTP 503 */
    size_t max_message_size;      /* 0: CWS_MAX_MESSAGE_DEFAULT; over: close 1009 */
    size_t max_fragments;         /* frames per message; 0: CWS_MAX_FRAGMENTS_DEFAULT;
                                     over: close 1009 */
    size_t max_handshake_size;    /* 0: CWS_HANDSHAKE_MAX_DEFAULT; over: 431 */
    size_t high_water;            /* per-socket queue limit; 0: 4 MiB; over: close 1008 */
    size_t kernel_unsent_max;     /* bytes the kernel may hold unsent per socket
                                     (TCP_NOTSENT_LOWAT); 0: 256 KiB; CWS_DISABLED:
                                     the kernel's rule (its send buffer, MiBs) */
    uint32_t handshake_timeout_ms;/* 0: 10000 */
    uint32_t ping_interval_ms;    /* 0: 30000 */
    uint32_t pong_timeout_ms;     /* 0: 10000 */
    uint32_t close_timeout_ms;    /* 0: 5000 */
    cws_hs_server_opts hs;        /* origin check, subprotocol choice
                                     (its deflate field is set from below) */
    cws_deflate_config deflate;   /* permessage-deflate; all zero: off */
    size_t max_topics_per_socket; /* 0: CWS_TOPICS_PER_SOCKET_DEFAULT; over:
                                     CWS_ERR_TOO_BIG */
    size_t max_topic_len;         /* bytes of a topic name; 0:
                                     CWS_TOPIC_LEN_DEFAULT; over: CWS_ERR_TOO_BIG */
    /* Before the 101: return 0 to accept, or an HTTP status to refuse. The
     * request is valid only during the call; cws_socket_set_user() here. */
    int (*on_upgrade)(cws_socket *s, const cws_hs_request *req, void *user);
    /* Non-upgrade requests; reply with cws_http_reply_send() during the
     * call (no reply: 500). NULL: 404. */
    void (*on_http)(cws_http_reply *r, const cws_http_head *req, void *user);
    cws_socket_callbacks cb;
    void *user;                   /* passed to on_upgrade and on_http; the
                                     socket callbacks get the socket's user */
    cws_tls_server_config tls;    /* a certificate: every connection speaks
                                     TLS 1.2 or 1.3 (ALPN http/1.1); the TLS
                                     handshake counts against
                                     handshake_timeout_ms. CWS_ERR_TLS if the
                                     files cannot be used */
} cws_server_config;

/* Topics (cws_socket_subscribe, cws_server_publish): the defaults of
 * cws_server_config's limits. */
#define CWS_TOPICS_PER_SOCKET_DEFAULT 256
#define CWS_TOPIC_LEN_DEFAULT 256

/* Binds, listens and registers with loop. NULL on failure (*err set:
 * CWS_ERR_INVALID, CWS_ERR_RESOLVE, CWS_ERR_IO e.g. address in use). */
CWS_API cws_server *cws_server_new(cws_loop *loop, const cws_server_config *cfg, int *err);
CWS_API int cws_server_port(const cws_server *s);
/* Connections held (handshaking, open or closing), as max_connections counts. */
CWS_API size_t cws_server_count(const cws_server *s);
/* Sends one message (CWS_OP_TEXT, which must be valid UTF-8, or
 * CWS_OP_BINARY) to every open socket but except (may be NULL). The frame
 * is built once and its bytes shared by every recipient's queue; a slow
 * recipient only fills its own queue (the high-water policy applies).
 * With permessage-deflate, a receiver whose server_no_context_takeover
 * was agreed gets a compressed frame that is also built once (per window
 * size); one with context takeover gets its own. CWS_SEND_UNCOMPRESSED
 * may be OR'd into opcode.
 * Do not broadcast to a socket while a fragmented send of its own is in
 * progress. Returns the number of recipients or
 * CWS_ERR_INVALID / CWS_ERR_UTF8 / CWS_ERR_TOO_BIG / CWS_ERR_NOMEM. */
CWS_API ptrdiff_t cws_server_broadcast(cws_server *s, int opcode, const void *data, size_t len,
                                       const cws_socket *except);
/* Topics: named sets of server sockets (a topic is bytes plus a length,
 * 1 to max_topic_len of them, compared exactly). A socket joins from
 * on_open on and leaves by unsubscribing or when it is gone (after its
 * on_close). Client sockets have no topics (CWS_ERR_INVALID).
 * Subscribe: CWS_OK (also if it already was), CWS_ERR_TOO_BIG (name too
 * long, or the socket is in max_topics_per_socket topics), CWS_ERR_STATE
 * (not open yet), CWS_ERR_CLOSED (closing), CWS_ERR_NOMEM, CWS_ERR_RANDOM
 * (no seed for the topic table's hash), CWS_ERR_INVALID. */
CWS_API int cws_socket_subscribe(cws_socket *s, const void *topic, size_t len);
/* CWS_OK, CWS_ERR_STATE if s was not subscribed to topic, CWS_ERR_INVALID.
 * Allowed while s is closing (on_close included). */
CWS_API int cws_socket_unsubscribe(cws_socket *s, const void *topic, size_t len);
/* 1 if s is subscribed to topic, else 0. */
CWS_API int cws_socket_is_subscribed(const cws_socket *s, const void *topic, size_t len);
/* cws_server_broadcast to the sockets subscribed to topic (but except),
 * with the same rules, errors and frame sharing; its cost follows the
 * topic's subscribers, not the server's sockets. Messages reach each
 * receiver in the order
 * they were published, across topics. Returns the number of recipients
 * (0 for a topic nobody is subscribed to), or also CWS_ERR_TOO_BIG for a
 * topic name over max_topic_len. */
CWS_API ptrdiff_t cws_server_publish(cws_server *s, const void *topic, size_t topic_len, int opcode,
                                     const void *data, size_t len, const cws_socket *except);
/* Sockets subscribed to topic (closing ones until they are gone). */
CWS_API size_t cws_server_topic_count(const cws_server *s, const void *topic, size_t len);
/* Graceful shutdown: stops accepting (the listening fd is closed), drops
 * handshakes in progress, sends close code (e.g. 1001) to every open
 * socket and waits for their close handshakes; after timeout_ms the rest
 * are dropped (on_close 1006). Then cws_server_done() is 1, every fd is
 * closed and the loop is stopped. The server stays allocated until
 * cws_server_free(). */
CWS_API void cws_server_shutdown(cws_server *s, int code, uint32_t timeout_ms);
/* 1 once a shutdown has finished (every socket gone). */
CWS_API int cws_server_done(const cws_server *s);
/* Closes everything at once (open sockets get on_close 1006) and frees. */
CWS_API void cws_server_free(cws_server *s);

/* The same rule as cws_server_config: 0 is the default, CWS_DISABLED is
 * off, and the defaults are the server's. */
typedef struct cws_client_config {
    const char *protocols;        /* offered subprotocols, or NULL */
    const char *origin;
    const char *extra_headers;    /* "Name: value\r\n" lines */
    int receive;                  /* enum cws_receive_mode; 0: whole messages */
    size_t max_message_size;      /* 0: CWS_MAX_MESSAGE_DEFAULT; over: close 1009 */
    size_t max_fragments;         /* frames per message; 0: CWS_MAX_FRAGMENTS_DEFAULT;
                                     over: close 1009 */
    size_t high_water;            /* per-socket queue limit; 0: 4 MiB; over: close 1008 */
    size_t kernel_unsent_max;     /* as the server's: 0: 256 KiB */
    uint32_t connect_timeout_ms;  /* 0: 10000 (connect + handshake) */
    uint32_t ping_interval_ms;    /* 0: 30000 */
    uint32_t pong_timeout_ms;     /* 0: 10000 */
    uint32_t close_timeout_ms;    /* 0: 5000 */
    cws_deflate_config deflate;   /* permessage-deflate offer; all zero: off */
    cws_socket_callbacks cb;
    void *user;                   /* the socket's user (cws_socket_user) */
    cws_tls_client_config tls;    /* for wss:// URLs */
} cws_client_config;

/* Starts connecting to "ws://host[:port][/path][?query]", or "wss://..."
 * when a TLS backend is built in (IPv6 literals in brackets; every
 * resolved address is tried in turn). wss:// verifies the server's
 * certificate and name unless cfg->tls says otherwise; a refusal is
 * on_close(1006, "TLS: certificate verify failed: <why>") and
 * CWS_ERR_TLS from cws_connect_wait. on_open, or on_close(1006, reason)
 * on failure, follows from the loop, never from inside this call. NULL on
 * immediate failure, *err set: CWS_ERR_INVALID for a malformed URL —
 * including "wss://" without a TLS backend: build with TLS=openssl, or run
 * TLS yourself and drive a cws_conn (layer 4) over it — CWS_ERR_TLS when
 * cfg->tls.cafile cannot be used, CWS_ERR_RESOLVE when
 * the name does not resolve (getaddrinfo blocks: resolve ahead of time or
 * pass a numeric address if the loop must never stall), CWS_ERR_NOMEM. */
CWS_API cws_socket *cws_connect(cws_loop *loop, const char *url, const cws_client_config *cfg, int *err);
/* Blocking form: runs the loop until the handshake succeeds (returns the
 * socket) or fails (NULL, *err set: CWS_ERR_IO, CWS_ERR_TIMEOUT, a
 * CWS_ERR_HS_* from the response check, ...; on_close was called). A
 * socket that already reached on_close (e.g. the server's close frame came
 * with the 101) is never returned: NULL with CWS_ERR_CLOSED, and the
 * runtime frees it as usual. Not from inside a callback. */
CWS_API cws_socket *cws_connect_wait(cws_loop *loop, const char *url, const cws_client_config *cfg, int *err);

/* The senders follow cws_conn_send's rules (text must be UTF-8, else
 * CWS_ERR_UTF8 and nothing is sent) and queue the bytes; they also
 * return CWS_ERR_CLOSED once the socket is closing or over its
 * high-water mark. */
CWS_API int cws_socket_send(cws_socket *s, int opcode, const void *data, size_t len);
/* As cws_conn_send_fragment: CWS_OP_TEXT/BINARY first, then CWS_OP_CONT;
 * fin = 1 on the last. Do not broadcast to a socket while one is open. */
CWS_API int cws_socket_send_fragment(cws_socket *s, int opcode, const void *data, size_t len, int fin);
CWS_API int cws_socket_ping(cws_socket *s, const void *data, size_t len);
CWS_API int cws_socket_pong(cws_socket *s, const void *data, size_t len);
/* Starts the close handshake, as cws_conn_close (code 0: none; reason
 * reason_len bytes of UTF-8, may be NULL when 0). On a client still
 * connecting, gives up (on_close 1006 follows from the loop). */
CWS_API int cws_socket_close(cws_socket *s, int code, const char *reason, size_t reason_len);
/* Bytes queued and not yet taken by the kernel. */
CWS_API size_t cws_socket_buffered_amount(const cws_socket *s);
/* Asks for one on_drain call as soon as everything queued so far is in
 * the kernel (this round already, if nothing is queued), unless the
 * socket starts closing first (on_close then ends the story).
 * CWS_ERR_CLOSED once the socket is closing or over its high-water mark:
 * no call comes. */
CWS_API int cws_socket_want_drain(cws_socket *s);
/* Last round-trip time measured by the runtime's pings, or -1. */
CWS_API int cws_socket_rtt_ms(const cws_socket *s);
CWS_API void *cws_socket_user(const cws_socket *s);
CWS_API void cws_socket_set_user(cws_socket *s, void *user);
/* The sans-I/O connection underneath (NULL before the handshake is done):
 * an escape hatch for what the socket API does not cover. Sending
 * through it bypasses the runtime's flush and high-water checks. */
CWS_API cws_conn *cws_socket_conn(cws_socket *s);
CWS_API cws_loop *cws_socket_loop(const cws_socket *s);
/* The peer's address as text ("127.0.0.1:53122", "[::1]:53122"), in a
 * buffer of the loop valid until the next call. */
CWS_API const char *cws_socket_peer(const cws_socket *s);
/* The subprotocol negotiated in the handshake (Sec-WebSocket-Protocol), a
 * NUL-terminated copy valid while the socket is; "" when none (or before
 * the handshake is done). Client and server side. */
CWS_API const char *cws_socket_protocol(const cws_socket *s);
/* 1 if permessage-deflate was agreed for s (then *params, if not NULL,
 * gets the agreement), else 0; as cws_conn_deflate. */
CWS_API int cws_socket_deflate(const cws_socket *s, cws_deflate_params *params);
#endif /* CWS_NO_RUNTIME */

#ifdef __cplusplus
}
#endif

#endif /* CWS_H */
