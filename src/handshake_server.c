/* Server side of the opening handshake (RFC 6455 §4.2): validate the
 * client's upgrade request and write the 101 answer or an HTTP error.
 *
 * What is an upgrade: a request with the token "websocket" in an Upgrade
 * field, or with a Sec-WebSocket-Key or Sec-WebSocket-Version field (a
 * handshake that lost its Upgrade field on the way is still one). Without
 * any of them the request is plain HTTP (CWS_ERR_NOT_UPGRADE), to be
 * served by the application. With one, any flaw is a refusal: an error
 * that names an HTTP status (cws_hs_status), never NOT_UPGRADE: a client
 * that asked for a WebSocket should learn why it did not get one. */
#include "internal.h"
#include "pmd.h"

/* RFC 6455 §1.3: the GUID appended to the key before hashing. */
static const char HS_SERVER_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void cws_hs_accept_key(cws_str key, char out[29]) {
    cws_sha1_ctx ctx;
    uint8_t digest[CWS_SHA1_LEN];
    cws_sha1_init(&ctx);
    if (key.len) cws_sha1_update(&ctx, key.ptr, key.len);
    cws_sha1_update(&ctx, HS_SERVER_GUID, sizeof HS_SERVER_GUID - 1);
    cws_sha1_final(&ctx, digest);
    cws_base64_encode(digest, sizeof digest, out);
    out[28] = '\0';
}

/* What one pass over the fields learns. */
typedef struct hs_server_fields {
    int hosts, keys, versions, origins;
    int upgrade_ws, connection_upgrade, has_body, bad_protocol;
    cws_str host, key, version, origin;
} hs_server_fields;

static void hs_server_first(int *count, cws_str *slot, cws_str v) {
    if ((*count)++ == 0) *slot = v;
}

/* Case-insensitive match of a field name or token against a literal:
 * the lengths first, so most fields are told apart without a byte
 * compare (and without a strlen of the literal). */
#define HS_SERVER_IS(s, lit) ((s).len == sizeof(lit) - 1 && cws__ieq_n((s).ptr, lit, sizeof(lit) - 1))

static void hs_server_scan(const cws_http_head *h, hs_server_fields *f) {
    size_t pos = 0;
    cws_str name, value, tok;
    memset(f, 0, sizeof *f);
    while (cws_http_next_header(h, &pos, &name, &value)) {
        if (HS_SERVER_IS(name, "Host")) {
            hs_server_first(&f->hosts, &f->host, value);
        } else if (HS_SERVER_IS(name, "Upgrade")) {
            /* A list header (RFC 7230 §6.7): every field, every element. */
            while (cws_http_next_token(&value, &tok))
                if (HS_SERVER_IS(tok, "websocket")) f->upgrade_ws = 1;
        } else if (HS_SERVER_IS(name, "Connection")) {
            while (cws_http_next_token(&value, &tok))
                if (HS_SERVER_IS(tok, "Upgrade")) f->connection_upgrade = 1;
        } else if (HS_SERVER_IS(name, "Sec-WebSocket-Key")) {
            hs_server_first(&f->keys, &f->key, value);
        } else if (HS_SERVER_IS(name, "Sec-WebSocket-Version")) {
            hs_server_first(&f->versions, &f->version, value);
        } else if (HS_SERVER_IS(name, "Origin")) {
            hs_server_first(&f->origins, &f->origin, value);
        } else if (HS_SERVER_IS(name, "Sec-WebSocket-Protocol")) {
            /* RFC 6455 §4.1: each offered subprotocol is a token. */
            while (cws_http_next_token(&value, &tok))
                if (!cws__http_is_token(tok)) f->bad_protocol = 1;
        } else if (HS_SERVER_IS(name, "Transfer-Encoding")) {
            f->has_body = 1;
        } else if (HS_SERVER_IS(name, "Content-Length")) {
            if (!(value.len == 1 && value.ptr[0] == '0')) f->has_body = 1;
        }
        /* Sec-WebSocket-Extensions offers are read by hs_server_deflate. */
    }
}

static ptrdiff_t hs_server_refuse(cws_hs_request *r, int err, const char *why) {
    r->error = why;
    return err;
}

int cws_hs_status(int err) {
    switch (err) {
    case CWS_ERR_HS_BAD_REQUEST: return 400;
    case CWS_ERR_HS_FORBIDDEN: return 403;
    case CWS_ERR_HS_METHOD: return 405;
    case CWS_ERR_HS_VERSION: return 426;
    case CWS_ERR_HS_HTTP_VERSION: return 505;
    case CWS_ERR_TOO_BIG: return 431; /* RFC 6585 §5 */
    default: return 500;
    }
}

static int hs_server_key_ok(cws_str key) {
    uint8_t raw[CWS_BASE64_DECODED_MAX(24)];
    /* RFC 6455 §4.1: base64 of exactly 16 bytes, hence 24 characters. */
    return key.len == 24 && cws_base64_decode(key.ptr, key.len, raw, sizeof raw) == 16;
}

/* The RFC 6455 §4.2.1 checks, in an order that gives the most useful
 * answer first: the wrong method (405) before details, and the version
 * (426, telling an old client what to speak) before the key format. */
static ptrdiff_t hs_server_validate(cws_hs_request *r, const hs_server_fields *f) {
    const cws_http_head *h = &r->http;
    if (h->method.len != 3 || memcmp(h->method.ptr, "GET", 3) != 0) /* methods are case-sensitive */
        return hs_server_refuse(r, CWS_ERR_HS_METHOD, "upgrade request method is not GET");
    if (h->version_minor < 1) /* HTTP/1.0: the version is checked already */
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "upgrade request is older than HTTP/1.1");
    if (h->path.len == 0 || h->path.ptr[0] != '/')
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "upgrade request target is not a path");
    if (f->hosts != 1 || f->host.len == 0)
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Host missing, empty or repeated");
    if (!f->upgrade_ws) return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Upgrade lacks the token websocket");
    if (!f->connection_upgrade)
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Connection lacks the token Upgrade");
    if (f->has_body) /* its bytes would be taken for frames */
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "upgrade request carries a body");
    if (f->versions == 0) return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Sec-WebSocket-Version missing");
    if (f->versions > 1) /* RFC 6455 §11.3.5 */
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Sec-WebSocket-Version repeated");
    if (f->version.len != 2 || memcmp(f->version.ptr, "13", 2) != 0) /* §4.2.2 */
        return hs_server_refuse(r, CWS_ERR_HS_VERSION, "Sec-WebSocket-Version is not 13");
    if (f->keys != 1) /* RFC 6455 §11.3.1 */
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Sec-WebSocket-Key missing or repeated");
    if (!hs_server_key_ok(f->key))
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Sec-WebSocket-Key is not 16 base64 bytes");
    if (f->origins > 1) /* RFC 6454 §7.3: a single origin */
        return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Origin repeated");
    if (f->bad_protocol) return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Sec-WebSocket-Protocol is not a token list");
    return 0;
}

/* ---- Origin (RFC 6455 §4.2.2 /origin/ and §10.2, RFC 6454) ----
 * Only the serialized form browsers send is understood:
 * scheme "://" host [":" port] (RFC 6454 §6.2). Anything else (a path,
 * userinfo, "null") is never the same origin as anything. */

/* A host as RFC 6454 serializes it: a lowercase reg-name or IPv4 address
 * (checked case-insensitively), or an IPv6 literal in brackets. */
static int hs_origin_host_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int hs_origin_v6_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* host [":" port] (RFC 7230 §5.4 for Host, RFC 6454 §6.2 for an origin's
 * tail), all of s; *port = -1 without one. Returns 1 if well-formed. */
static int hs_origin_authority(cws_str s, cws_str *host, long *port) {
    size_t i = 0;
    if (s.len && s.ptr[0] == '[') {
        for (i = 1; i < s.len && hs_origin_v6_char((unsigned char)s.ptr[i]); i++) {}
        if (i == 1 || i == s.len || s.ptr[i] != ']') return 0;
        i++;
    } else {
        while (i < s.len && hs_origin_host_char((unsigned char)s.ptr[i])) i++;
        if (i == 0) return 0;
    }
    host->ptr = s.ptr;
    host->len = i;
    *port = -1;
    if (i == s.len) return 1;
    /* A port as serialized: decimal, no leading zero (RFC 6454 §6.2). */
    if (s.ptr[i++] != ':' || i == s.len || s.len - i > 5 || (s.ptr[i] == '0' && s.len - i > 1)) return 0;
    long v = 0;
    for (; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return 0;
        v = v * 10 + (s.ptr[i] - '0');
    }
    if (v > 65535) return 0;
    *port = v;
    return 1;
}

/* Splits o into scheme, host and port (-1: none); 1 if it is one
 * serialized origin (RFC 6454 §6.2, scheme as RFC 3986 §3.1). */
static int hs_origin_parse(cws_str o, cws_str *scheme, cws_str *host, long *port) {
    size_t i = 0;
    while (i < o.len && o.ptr[i] != ':') {
        unsigned char c = (unsigned char)o.ptr[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))) return 0;
        i++;
    }
    if (i == 0 || o.len - i < 3 || memcmp(o.ptr + i, "://", 3) != 0) return 0;
    scheme->ptr = o.ptr;
    scheme->len = i;
    cws_str rest = {o.ptr + i + 3, o.len - i - 3};
    return hs_origin_authority(rest, host, port);
}

/* 1 if origin names the host and port the request was sent to. Host and
 * port only: the scheme may be http or https either way, because a TLS
 * proxy in front of us turns one into the other (we cannot see it). */
static int hs_origin_same(cws_str origin, cws_str host_field) {
    cws_str scheme, ohost, hhost;
    long oport, hport, dflt;
    if (!hs_origin_parse(origin, &scheme, &ohost, &oport)) return 0;
    if (HS_SERVER_IS(scheme, "http")) dflt = 80;
    else if (HS_SERVER_IS(scheme, "https")) dflt = 443;
    else return 0;
    if (!hs_origin_authority(host_field, &hhost, &hport)) return 0;
    /* RFC 6454 §6.2 leaves a default port out; a Host field may too. */
    if (oport < 0) oport = dflt;
    if (hport < 0) hport = dflt;
    return oport == hport && ohost.len == hhost.len && cws__ieq_n(ohost.ptr, hhost.ptr, ohost.len);
}

int cws_hs_origin_ok(const char *origin) {
    if (!origin) return 0;
    cws_str o = {origin, strlen(origin)}, scheme, host;
    long port;
    return cws_str_ieq(o, "*") || cws_str_ieq(o, "null") || hs_origin_parse(o, &scheme, &host, &port);
}

/* same_origin / allow_origins. A request without Origin passes: only
 * browsers must send one (RFC 6455 §4.1 item 8), and a script outside a
 * browser could write any Origin it likes anyway (§10.2). */
static int hs_origin_admitted(const hs_server_fields *f, const cws_hs_server_opts *opts) {
    if (!opts || (!opts->same_origin && !opts->allow_origins)) return 1;
    if (f->origins == 0) return 1;
    if (opts->same_origin && hs_origin_same(f->origin, f->host)) return 1;
    for (const char *const *a = opts->allow_origins; a && *a; a++)
        if (strcmp(*a, "*") == 0 || cws_str_ieq(f->origin, *a)) return 1;
    return 0;
}

/* permessage-deflate: the first acceptable offer wins; none, or a
 * malformed one, leaves the connection uncompressed (RFC 7692 §5). Left
 * out with the codec (CWS_NO_DEFLATE). */
static void hs_server_deflate(cws_hs_request *r, const cws_hs_server_opts *opts) {
#ifdef CWS_NO_DEFLATE
    (void)r;
    (void)opts;
#else
    if (opts && opts->deflate && opts->deflate->enable &&
        cws__pmd_server_select(&r->http, opts->deflate, &r->deflate) == 1)
        r->deflate.enabled = 1;
#endif
}

ptrdiff_t cws_hs_server_parse(cws_hs_request *r, const cws_hs_server_opts *opts, const char *buf,
                              size_t len) {
    if (!r) return CWS_ERR_INVALID;
    size_t max = opts && opts->max_size ? opts->max_size : CWS_HANDSHAKE_MAX_DEFAULT;
    ptrdiff_t n = cws_http_parse_request(&r->http, buf, len, max);
    if (n == CWS_ERR_AGAIN) return n;
    if (n == CWS_ERR_TOO_BIG) return hs_server_refuse(r, CWS_ERR_TOO_BIG, "request head over the size limit");
    if (n < 0) return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "malformed HTTP request");

    static const cws_str hs_server_empty = {"", 0};
    r->host = r->key = r->origin = r->protocol = hs_server_empty;
    memset(&r->deflate, 0, sizeof r->deflate);
    r->error = NULL;
    /* The tokenizer reads any HTTP/d.d; a server speaks only 1.0 and 1.1
     * (RFC 7230 §2.6 lets it refuse the rest with 505), upgrade or not. */
    if (r->http.version_major != 1 || r->http.version_minor > 1)
        return hs_server_refuse(r, CWS_ERR_HS_HTTP_VERSION, "HTTP version is not 1.0 or 1.1");
    hs_server_fields f;
    hs_server_scan(&r->http, &f);
    if (!f.upgrade_ws && f.keys == 0 && f.versions == 0) {
        /* Plain HTTP, for the application to serve; but RFC 7230 §5.4
         * makes a missing (HTTP/1.1) or repeated Host a 400 for any request. */
        int http11 = r->http.version_minor == 1;
        if (f.hosts > 1 || (http11 && f.hosts == 0))
            return hs_server_refuse(r, CWS_ERR_HS_BAD_REQUEST, "Host missing or repeated");
        if (f.hosts) r->host = f.host;
        r->error = "not a WebSocket upgrade request";
        return CWS_ERR_NOT_UPGRADE;
    }
    ptrdiff_t bad = hs_server_validate(r, &f);
    if (bad) return bad;
    r->host = f.host;
    r->key = f.key;
    if (f.origins) r->origin = f.origin;

    /* RFC 6455 §10.2: an origin the server does not expect gets 403. */
    if (!hs_origin_admitted(&f, opts))
        return hs_server_refuse(r, CWS_ERR_HS_FORBIDDEN, "Origin not allowed");
    if (opts && opts->check_origin && opts->check_origin(opts->user, r) != 0)
        return hs_server_refuse(r, CWS_ERR_HS_FORBIDDEN, "origin refused");
    cws_str offered;
    if (opts && opts->select_protocol && cws_hs_offered_protocol(r, 0, &offered)) {
        int i = opts->select_protocol(opts->user, r);
        /* An index outside the offered list means no subprotocol. */
        if (i >= 0 && cws_hs_offered_protocol(r, (size_t)i, &offered)) r->protocol = offered;
    }
    hs_server_deflate(r, opts);
    return n;
}

int cws_hs_offered_protocol(const cws_hs_request *r, size_t i, cws_str *out) {
    if (!r) return 0;
    size_t pos = 0;
    cws_str name, value, tok;
    while (cws_http_next_header(&r->http, &pos, &name, &value)) {
        if (!cws_str_ieq(name, "Sec-WebSocket-Protocol")) continue;
        while (cws_http_next_token(&value, &tok)) {
            if (i-- == 0) {
                if (out) *out = tok;
                return 1;
            }
        }
    }
    return 0;
}

ptrdiff_t cws_hs_accept(const cws_hs_request *r, const char *extra_headers, char *out, size_t cap) {
    /* Only an accepted request has its key set. */
    if (!r || r->key.len != 24 || (!out && cap)) return CWS_ERR_INVALID;
    if (!cws__http_fields_ok(extra_headers)) return CWS_ERR_INVALID;
    char accept[29];
    cws_hs_accept_key(r->key, accept);
    cws__text t = {out, cap, 0, 0};
    cws__http_status_line(&t, 101);
    cws__text_puts(&t, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    cws__text_put(&t, accept, 28);
    cws__text_puts(&t, "\r\n");
    if (r->protocol.len) {
        cws__text_puts(&t, "Sec-WebSocket-Protocol: ");
        cws__text_put(&t, r->protocol.ptr, r->protocol.len);
        cws__text_puts(&t, "\r\n");
    }
    if (r->deflate.enabled) {
        char ext[CWS__PMD_ELEMENT_MAX];
        ptrdiff_t n = cws__pmd_format_response(&r->deflate, ext, sizeof ext);
        if (n < 0) return CWS_ERR_INVALID;
        cws__text_puts(&t, "Sec-WebSocket-Extensions: ");
        cws__text_put(&t, ext, (size_t)n);
        cws__text_puts(&t, "\r\n");
    }
    if (extra_headers) cws__text_puts(&t, extra_headers);
    cws__text_puts(&t, "\r\n");
    return cws__text_end(&t);
}

ptrdiff_t cws_hs_reject(int status, char *out, size_t cap) {
    if (status < 400 || status > 599 || (!out && cap)) return CWS_ERR_INVALID;
    const char *text = cws_http_status_text(status);
    cws__text t = {out, cap, 0, 0};
    cws__http_status_line(&t, status);
    if (status == 426) {
        /* RFC 6455 §4.2.2: name the version we speak; RFC 7231 §6.5.15:
         * a 426 names the protocol to upgrade to. */
        cws__text_puts(&t, "Upgrade: websocket\r\nConnection: Upgrade, close\r\n"
                           "Sec-WebSocket-Version: 13\r\n");
    } else {
        cws__text_puts(&t, "Connection: close\r\n");
    }
    if (status == 405) cws__text_puts(&t, "Allow: GET\r\n"); /* RFC 7231 §6.5.5 */
    cws__text_puts(&t, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    cws__text_putu(&t, 4 + strlen(text) + 1);
    cws__text_puts(&t, "\r\n\r\n");
    cws__text_putu(&t, (uint64_t)status);
    cws__text_puts(&t, " ");
    cws__text_puts(&t, text);
    cws__text_puts(&t, "\n");
    return cws__text_end(&t);
}
