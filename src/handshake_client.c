/* Client side of the opening handshake (RFC 6455 §4.1): write the upgrade
 * request with a fresh key, then check the server's answer rule by rule,
 * each failure with its own CWS_ERR_HS_* code. */
#include "internal.h"
#include "pmd.h"

/* Option values go into header lines verbatim: a CR or LF in one would
 * let the caller's input forge extra fields (header injection). */
static int hs_client_path_ok(const char *path) {
    if (path[0] != '/') return 0;
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c >= 0x7f) return 0; /* SP would end the target; send URI characters */
        if (c == '#') return 0;               /* RFC 6455 §3: no fragment */
    }
    return 1;
}

/* The offered list must be tokens separated by commas (RFC 6455 §4.1). */
static int hs_client_protocols_ok(const char *z) {
    cws_str list = {z, strlen(z)}, tok;
    const char *p;
    for (p = z; *p; p++)
        if (*p != ',' && *p != ' ' && *p != '\t' && !cws__http_is_tchar((unsigned char)*p)) return 0;
    while (cws_http_next_token(&list, &tok))
        if (!cws__http_is_token(tok)) return 0; /* "a b": whitespace inside an element */
    return 1;
}

static void hs_client_line(cws__text *t, const char *name, const char *value) {
    cws__text_puts(t, name);
    cws__text_puts(t, ": ");
    cws__text_puts(t, value);
    cws__text_puts(t, "\r\n");
}

/* The codec may be left out of the single header (CWS_NO_DEFLATE): then
 * nothing is offered, and a server cannot agree to what was not offered. */
static int hs_client_offers_deflate(const cws_deflate_config *cfg) {
#ifdef CWS_NO_DEFLATE
    (void)cfg;
    return 0;
#else
    return cfg && cfg->enable;
#endif
}

ptrdiff_t cws_hs_client_request(cws_hs_client *c, const cws_hs_client_opts *opts, char *out,
                                size_t cap) {
    if (!c || !opts || (!out && cap)) return CWS_ERR_INVALID;
    const char *path = opts->path ? opts->path : "/";
    const char *protocols = opts->protocols ? opts->protocols : "";
    if (!opts->host || !opts->host[0] || !cws__http_value_ok(opts->host) ||
        strchr(opts->host, ' ') || strchr(opts->host, '\t'))
        return CWS_ERR_INVALID;
    if (!hs_client_path_ok(path) || !hs_client_protocols_ok(protocols) ||
        strlen(protocols) >= sizeof c->offered)
        return CWS_ERR_INVALID;
    if ((opts->origin && !cws__http_value_ok(opts->origin)) ||
        !cws__http_fields_ok(opts->extra_headers))
        return CWS_ERR_INVALID;
    int offer_deflate = hs_client_offers_deflate(opts->deflate);
    if (offer_deflate && !cws__pmd_config_check(opts->deflate)) return CWS_ERR_INVALID;

    memset(c, 0, sizeof *c);
    c->max_size = opts->max_size ? opts->max_size : CWS_HANDSHAKE_MAX_DEFAULT;
    memcpy(c->offered, protocols, strlen(protocols) + 1);
    c->protocol.ptr = "";
    if (offer_deflate) c->deflate_offered = *opts->deflate;

    /* RFC 6455 §4.1: a nonce of 16 random bytes, base64-encoded. */
    uint8_t nonce[16];
    int rc = opts->rng ? opts->rng(opts->rng_user, nonce, sizeof nonce) : cws_random(nonce, sizeof nonce);
    if (rc != 0) {
        c->error = "no random bytes for the key";
        return CWS_ERR_RANDOM;
    }
    cws_base64_encode(nonce, sizeof nonce, c->key);
    c->key[24] = '\0';
    cws_str key = {c->key, 24};
    cws_hs_accept_key(key, c->accept);

    cws__text t = {out, cap, 0, 0};
    cws__text_puts(&t, "GET ");
    cws__text_puts(&t, path);
    cws__text_puts(&t, " HTTP/1.1\r\n");
    hs_client_line(&t, "Host", opts->host);
    cws__text_puts(&t, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    hs_client_line(&t, "Sec-WebSocket-Key", c->key);
    cws__text_puts(&t, "Sec-WebSocket-Version: 13\r\n");
    if (protocols[0]) hs_client_line(&t, "Sec-WebSocket-Protocol", protocols);
    if (opts->origin) hs_client_line(&t, "Origin", opts->origin);
    if (offer_deflate) {
        char offer[CWS__PMD_ELEMENT_MAX];
        ptrdiff_t n = cws__pmd_format_offer(opts->deflate, offer, sizeof offer);
        if (n < 0) return n;
        cws__text_puts(&t, "Sec-WebSocket-Extensions: ");
        cws__text_put(&t, offer, (size_t)n);
        cws__text_puts(&t, "\r\n");
    }
    if (opts->extra_headers) cws__text_puts(&t, opts->extra_headers);
    cws__text_puts(&t, "\r\n");
    return cws__text_end(&t);
}

static ptrdiff_t hs_client_fail(cws_hs_client *c, int err, const char *why) {
    c->error = why;
    return err;
}

/* RFC 6455 §4.1: the subprotocol must be one we offered, and only one. */
static int hs_client_offered(const cws_hs_client *c, cws_str proto) {
    cws_str list = {c->offered, strlen(c->offered)}, tok;
    while (cws_http_next_token(&list, &tok))
        if (tok.len == proto.len && memcmp(tok.ptr, proto.ptr, tok.len) == 0) return 1;
    return 0;
}

ptrdiff_t cws_hs_client_parse(cws_hs_client *c, const char *buf, size_t len) {
    if (!c) return CWS_ERR_INVALID;
    ptrdiff_t n = cws_http_parse_response(&c->http, buf, len, c->max_size);
    if (n == CWS_ERR_AGAIN) return n;
    if (n == CWS_ERR_TOO_BIG) return hs_client_fail(c, n, "response head over the size limit");
    if (n < 0) return hs_client_fail(c, CWS_ERR_HS_MALFORMED, "malformed HTTP response");

    const cws_http_head *h = &c->http;
    c->protocol.ptr = "";
    c->protocol.len = 0;
    c->error = NULL;
    if (h->status != 101) return hs_client_fail(c, CWS_ERR_HS_STATUS, "status is not 101");
    if (h->version_major < 1 || (h->version_major == 1 && h->version_minor < 1))
        return hs_client_fail(c, CWS_ERR_HS_MALFORMED, "response is older than HTTP/1.1");
    if (!cws_http_has_token(h, "Upgrade", "websocket"))
        return hs_client_fail(c, CWS_ERR_HS_UPGRADE, "Upgrade lacks the token websocket");
    if (!cws_http_has_token(h, "Connection", "Upgrade"))
        return hs_client_fail(c, CWS_ERR_HS_CONNECTION, "Connection lacks the token Upgrade");
    cws_str accept;
    if (cws_http_header(h, "Sec-WebSocket-Accept", &accept) != 1) /* §11.3.3: once */
        return hs_client_fail(c, CWS_ERR_HS_ACCEPT, "Sec-WebSocket-Accept missing or repeated");
    if (accept.len != 28 || memcmp(accept.ptr, c->accept, 28) != 0)
        return hs_client_fail(c, CWS_ERR_HS_ACCEPT, "Sec-WebSocket-Accept does not match the key");
    /* RFC 6455 §9.1, RFC 7692 §7.1: only what we offered, as we offered it. */
    int accepted = 0;
    const cws_deflate_config *offered = c->deflate_offered.enable ? &c->deflate_offered : NULL;
    memset(&c->deflate, 0, sizeof c->deflate);
    if (cws__pmd_client_check(h, offered, &c->deflate, &accepted) != CWS_OK)
        return hs_client_fail(c, CWS_ERR_HS_EXTENSION, "extension not offered or not acceptable");
    c->deflate.enabled = (uint8_t)accepted;
    cws_str proto;
    int protos = cws_http_header(h, "Sec-WebSocket-Protocol", &proto);
    if (protos > 1) /* §11.3.4 */
        return hs_client_fail(c, CWS_ERR_HS_PROTOCOL, "Sec-WebSocket-Protocol repeated");
    if (protos == 1) {
        if (!cws__http_is_token(proto) || !hs_client_offered(c, proto))
            return hs_client_fail(c, CWS_ERR_HS_PROTOCOL, "subprotocol not offered");
        c->protocol = proto;
    }
    return n;
}
