/* permessage-deflate negotiation (RFC 7692 §5, §7.1) over the
 * Sec-WebSocket-Extensions grammar of RFC 6455 §9.1. Two layers: a
 * scanner that walks the extension list of every field of a head (syntax
 * only), and the rules that turn one permessage-deflate element into
 * agreed parameters (server: choose; client: check).
 *
 * Extension and parameter names compare case-insensitively. RFC 6455 and
 * RFC 7692 do not say; HTTP treats tokens in these positions (transfer
 * codings, RFC 7230 §4; media type parameter names, RFC 7231 §3.1.1.1)
 * case-insensitively, and so does the rest of cws (cws_http_has_token).
 * Accepting "Permessage-Deflate" costs nothing since we only ever write
 * lower case. */
#include "pmd.h"

#include "internal.h"

static const char pmd_field_name[] = "Sec-WebSocket-Extensions";
static const char pmd_ext_name[] = "permessage-deflate";

/* ---- syntax (RFC 6455 §9.1) ----
 *   extension-list = 1#extension
 *   extension      = token *( ";" extension-param )
 *   extension-param = token [ "=" ( token / quoted-string ) ]
 * with optional whitespace around ";", "," and "=" (the "implied *LWS" of
 * RFC 2616 that §9.1 uses), and several fields joined into one list. */

/* The unread part of one field value. */
typedef struct pmd_cursor {
    const char *p;
    size_t n, i;
} pmd_cursor;

typedef struct pmd_param {
    cws_str name;
    cws_str value;     /* quoted: the bytes between the quotes, escapes kept */
    uint8_t has_value;
    uint8_t quoted;
} pmd_param;

static void pmd_skip_ows(pmd_cursor *c) {
    while (c->i < c->n && (c->p[c->i] == ' ' || c->p[c->i] == '\t')) c->i++;
}

static int pmd_at(const pmd_cursor *c, char ch) { return c->i < c->n && c->p[c->i] == ch; }

static int pmd_token(pmd_cursor *c, cws_str *out) {
    size_t start = c->i;
    while (c->i < c->n && cws__http_is_tchar((unsigned char)c->p[c->i])) c->i++;
    out->ptr = c->p + start;
    out->len = c->i - start;
    return out->len > 0;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230
 * §3.2.6): any byte but controls (HTAB allowed), '"' and '\', or '\'
 * before any such byte. The cursor is at the opening quote; on success it
 * is past the closing one and *inner holds what lies between. */
static int pmd_quoted(pmd_cursor *c, cws_str *inner) {
    size_t start = ++c->i;
    while (c->i < c->n) {
        unsigned char ch = (unsigned char)c->p[c->i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return 0;
        if (ch == '"') {
            inner->ptr = c->p + start;
            inner->len = c->i - start;
            c->i++;
            return 1;
        }
        c->i += ch == '\\' ? 2 : 1;
    }
    c->i = c->n; /* unterminated (or a '\' as the last byte) */
    return 0;
}

/* The next parameter of the element under c: 1 (*pp filled), 0 at the
 * element's end (a ',' or the end of the value, left unread), -1 if the
 * syntax is broken at c->i. */
static int pmd_next_param(pmd_cursor *c, pmd_param *pp) {
    pmd_skip_ows(c);
    if (c->i == c->n || pmd_at(c, ',')) return 0;
    if (!pmd_at(c, ';')) return -1;
    c->i++;
    pmd_skip_ows(c);
    if (!pmd_token(c, &pp->name)) return -1;
    pp->value.ptr = c->p + c->i;
    pp->value.len = 0;
    pp->has_value = pp->quoted = 0;
    pmd_skip_ows(c);
    if (!pmd_at(c, '=')) return 1;
    c->i++;
    pmd_skip_ows(c);
    pp->has_value = 1;
    if (!pmd_at(c, '"')) return pmd_token(c, &pp->value) ? 1 : -1;
    pp->quoted = 1;
    return pmd_quoted(c, &pp->value) ? 1 : -1;
}

/* After a syntax error: moves c to the next ',' that is not inside a
 * quoted string (or to the end), so the list can go on with the next
 * element. Returns -1, the scanner's "malformed element". */
static int pmd_resync(pmd_cursor *c) {
    int quoted = 0;
    while (c->i < c->n) {
        char ch = c->p[c->i];
        if (!quoted && ch == ',') break;
        if (quoted && ch == '\\') c->i++;
        else if (ch == '"') quoted = !quoted;
        c->i++;
    }
    if (c->i > c->n) c->i = c->n;
    return -1;
}

/* One element of the list: its name and a cursor over its parameters,
 * whose syntax has been checked (pmd_next_param gives 1s, then 0). */
typedef struct pmd_ext {
    cws_str name;
    pmd_cursor params;
} pmd_ext;

static int pmd_element(pmd_cursor *c, pmd_ext *e) {
    if (!pmd_token(c, &e->name)) return pmd_resync(c);
    e->params = *c;
    pmd_param pp;
    int r;
    while ((r = pmd_next_param(c, &pp)) == 1) continue;
    return r < 0 ? pmd_resync(c) : 1;
}

/* Every Sec-WebSocket-Extensions field of a head, as one list (RFC 6455
 * §9.1: fields may be split or combined). */
typedef struct pmd_list {
    const cws_http_head *h;
    size_t pos; /* cws_http_next_header position of the next field */
    pmd_cursor cur;
} pmd_list;

static void pmd_list_init(pmd_list *l, const cws_http_head *h) {
    memset(l, 0, sizeof *l);
    l->h = h;
}

/* 1: a well-formed element in *e; -1: a malformed one (skipped, the list
 * goes on after it); 0: the list is exhausted. Empty elements are skipped
 * (RFC 7230 §7), so a field holding only commas names no extension. */
static int pmd_list_next(pmd_list *l, pmd_ext *e) {
    pmd_cursor *c = &l->cur;
    for (;;) {
        pmd_skip_ows(c);
        while (pmd_at(c, ',')) {
            c->i++;
            pmd_skip_ows(c);
        }
        if (c->i < c->n) return pmd_element(c, e);
        cws_str name, value;
        do {
            if (!cws_http_next_header(l->h, &l->pos, &name, &value)) return 0;
        } while (!cws_str_ieq(name, pmd_field_name));
        c->p = value.ptr;
        c->n = value.len;
        c->i = 0;
    }
}

/* ---- permessage-deflate parameters (RFC 7692 §7.1) ---- */

/* The parameters of one offer or response, as received. */
typedef struct pmd_params {
    uint8_t server_nct, client_nct;           /* present */
    uint8_t has_server_bits, has_client_bits; /* present */
    uint8_t server_bits, client_bits;         /* 8..15, or 0: no value */
} pmd_params;

/* A window value: a decimal integer 8..15 without leading zeros, also
 * after unquoting (RFC 7692 §7.1.2.1, §7.1.2.2, and §7.1's rule that a
 * quoted value must match the same ABNF once unescaped). */
static int pmd_window_value(const pmd_param *pp, uint8_t *bits) {
    if (!pp->has_value) return 0;
    char d[2];
    size_t n = 0;
    for (size_t i = 0; i < pp->value.len; i++) {
        char ch = pp->value.ptr[i];
        if (pp->quoted && ch == '\\') ch = pp->value.ptr[++i]; /* a '\' never ends a quoted value */
        if (n == sizeof d) return 0;
        d[n++] = ch;
    }
    if (n == 1 && (d[0] == '8' || d[0] == '9')) {
        *bits = (uint8_t)(d[0] - '0');
        return 1;
    }
    if (n == 2 && d[0] == '1' && d[1] >= '0' && d[1] <= '5') {
        *bits = (uint8_t)(10 + d[1] - '0');
        return 1;
    }
    return 0;
}

/* A flag parameter takes no value (§7.1.1.1, §7.1.1.2) and comes once. */
static int pmd_flag(const pmd_param *pp, uint8_t *flag) {
    if (*flag || pp->has_value) return 0;
    *flag = 1;
    return 1;
}

/* Reads the parameters of a permessage-deflate element. 0 if one is not
 * defined, comes twice, or has an invalid value (§7: the server declines
 * such an offer, the client fails on such a response). In an offer
 * client_max_window_bits may lack a value, in a response it may not
 * (§7.1.2.2). */
static int pmd_read_params(pmd_cursor c, int response, pmd_params *out) {
    memset(out, 0, sizeof *out);
    pmd_param pp;
    while (pmd_next_param(&c, &pp) == 1) {
        int ok;
        if (cws_str_ieq(pp.name, "server_no_context_takeover")) {
            ok = pmd_flag(&pp, &out->server_nct);
        } else if (cws_str_ieq(pp.name, "client_no_context_takeover")) {
            ok = pmd_flag(&pp, &out->client_nct);
        } else if (cws_str_ieq(pp.name, "server_max_window_bits")) {
            ok = !out->has_server_bits && pmd_window_value(&pp, &out->server_bits);
            out->has_server_bits = 1;
        } else if (cws_str_ieq(pp.name, "client_max_window_bits")) {
            ok = !out->has_client_bits &&
                 (pp.has_value ? pmd_window_value(&pp, &out->client_bits) : !response);
            out->has_client_bits = 1;
        } else {
            ok = 0;
        }
        if (!ok) return 0;
    }
    return 1;
}

/* ---- configuration ---- */

static int pmd_window_ok(int bits) { return bits == 0 || (bits >= 8 && bits <= 15); }

/* A configured window: 0 means the largest, 15 (RFC 7692 §7.1.2). */
static uint8_t pmd_window_or_max(int bits) { return (uint8_t)(bits ? bits : 15); }

int cws__pmd_config_check(const cws_deflate_config *cfg) {
    if (!cfg || !cfg->enable) return CWS_OK; /* off: the other fields mean nothing */
    if (!pmd_window_ok(cfg->server_max_window_bits) || !pmd_window_ok(cfg->client_max_window_bits))
        return CWS_ERR_INVALID;
    return cfg->level >= 0 && cfg->level <= 9 ? CWS_OK : CWS_ERR_INVALID;
}

/* ---- server ---- */

/* What the server agrees to for an offer o. Every well-formed offer is
 * acceptable: our codec has every window 8..15 and both takeover modes. */
static void pmd_server_agree(const pmd_params *o, const cws_deflate_config *cfg, cws__pmd_agreed *a) {
    memset(a, 0, sizeof *a);
    /* §7.1.1.1: a server accepts server_no_context_takeover by echoing
     * it, and MAY send it unasked (our cfg asks for it). */
    a->server_no_context_takeover = (uint8_t)(o->server_nct || cfg->server_no_context_takeover);
    /* §7.1.1.2: the server MAY send client_no_context_takeover. We do
     * when cfg requires it and also when the client offered it: the client
     * promised not to take over anyway, and saying so lets our inflater
     * drop its window between messages. */
    a->client_no_context_takeover = (uint8_t)(o->client_nct || cfg->client_no_context_takeover);
    /* §7.1.2.1: an offered server_max_window_bits is accepted by echoing
     * it with the same or a smaller value. Without one, the server MAY
     * still send it: we do when our window is under 15, so the client
     * knows it may inflate with less memory. */
    uint8_t s = pmd_window_or_max(cfg->server_max_window_bits);
    if (o->has_server_bits && o->server_bits < s) s = o->server_bits;
    a->server_max_window_bits = s;
    a->response_server_bits = (uint8_t)(o->has_server_bits || s < 15);
    /* §7.1.2.2: client_max_window_bits may be answered only if offered,
     * with at most the offered value; not offered, the client may use 15.
     * We answer when it limits something (under 15). */
    uint8_t m = 15;
    if (o->has_client_bits) {
        m = pmd_window_or_max(cfg->client_max_window_bits);
        if (o->client_bits && o->client_bits < m) m = o->client_bits;
    }
    a->client_max_window_bits = m;
    a->response_client_bits = (uint8_t)(m < 15);
}

int cws__pmd_server_select(const cws_http_head *req, const cws_deflate_config *cfg,
                           cws__pmd_agreed *agreed) {
    if (!req || !agreed || cws__pmd_config_check(cfg) != CWS_OK) return CWS_ERR_INVALID;
    if (!cfg || !cfg->enable) return 0;
    pmd_list l;
    pmd_list_init(&l, req);
    pmd_ext e;
    pmd_params o;
    int r;
    /* RFC 6455 §9.1: the client lists its offers by preference. A
     * malformed or invalid offer is declined (RFC 7692 §7), and so skipped;
     * other extensions are never accepted. */
    while ((r = pmd_list_next(&l, &e)) != 0) {
        if (r < 0 || !cws_str_ieq(e.name, pmd_ext_name)) continue;
        if (!pmd_read_params(e.params, 0, &o)) continue;
        pmd_server_agree(&o, cfg, agreed);
        return 1;
    }
    return 0;
}

static int pmd_agreed_ok(const cws__pmd_agreed *a) {
    return a->server_max_window_bits >= 8 && a->server_max_window_bits <= 15 &&
           a->client_max_window_bits >= 8 && a->client_max_window_bits <= 15;
}

static void pmd_put_window(cws__text *t, const char *name, unsigned bits) {
    cws__text_puts(t, "; ");
    cws__text_puts(t, name);
    cws__text_puts(t, "=");
    cws__text_putu(t, bits);
}

ptrdiff_t cws__pmd_format_response(const cws__pmd_agreed *a, char *out, size_t cap) {
    if (!a || (!out && cap) || !pmd_agreed_ok(a)) return CWS_ERR_INVALID;
    cws__text t = {out, cap, 0, 0};
    cws__text_puts(&t, pmd_ext_name);
    if (a->server_no_context_takeover) cws__text_puts(&t, "; server_no_context_takeover");
    if (a->client_no_context_takeover) cws__text_puts(&t, "; client_no_context_takeover");
    if (a->response_server_bits) pmd_put_window(&t, "server_max_window_bits", a->server_max_window_bits);
    if (a->response_client_bits) pmd_put_window(&t, "client_max_window_bits", a->client_max_window_bits);
    return cws__text_end(&t);
}

/* ---- client ---- */

ptrdiff_t cws__pmd_format_offer(const cws_deflate_config *cfg, char *out, size_t cap) {
    if (!cfg || !cfg->enable || cws__pmd_config_check(cfg) != CWS_OK || (!out && cap))
        return CWS_ERR_INVALID;
    cws__text t = {out, cap, 0, 0};
    cws__text_puts(&t, pmd_ext_name);
    /* Always offered (§7.1.2.2): it says we can honour a server's limit on
     * our window; with a value it is also our own promise not to exceed it. */
    if (cfg->client_max_window_bits)
        pmd_put_window(&t, "client_max_window_bits", (unsigned)cfg->client_max_window_bits);
    else
        cws__text_puts(&t, "; client_max_window_bits");
    if (cfg->server_max_window_bits)
        pmd_put_window(&t, "server_max_window_bits", (unsigned)cfg->server_max_window_bits);
    if (cfg->server_no_context_takeover) cws__text_puts(&t, "; server_no_context_takeover");
    if (cfg->client_no_context_takeover) cws__text_puts(&t, "; client_no_context_takeover");
    return cws__text_end(&t);
}

/* Checks a response r to our offer for cfg (RFC 7692 §7: the client fails
 * the connection on a configuration it does not support) and fills *a. */
static int pmd_client_agree(const pmd_params *r, const cws_deflate_config *cfg, cws__pmd_agreed *a) {
    /* §7.1.1.1: asked for, server_no_context_takeover is accepted only by
     * being echoed. */
    if (cfg->server_no_context_takeover && !r->server_nct) return 0;
    /* §7.1.2.1: an offered server_max_window_bits is accepted only by
     * being echoed with the same or a smaller value. */
    if (cfg->server_max_window_bits &&
        (!r->has_server_bits || r->server_bits > cfg->server_max_window_bits))
        return 0;
    /* §7.1.2.2: never above the value we offered (we always offer the
     * parameter, so the server may send it). */
    if (r->has_client_bits && cfg->client_max_window_bits &&
        r->client_bits > cfg->client_max_window_bits)
        return 0;
    memset(a, 0, sizeof *a);
    a->server_no_context_takeover = r->server_nct;
    /* §7.1.1.2: offering client_no_context_takeover is our promise, held
     * whether or not the server echoes it. */
    a->client_no_context_takeover = (uint8_t)(r->client_nct || cfg->client_no_context_takeover);
    a->server_max_window_bits = r->has_server_bits ? r->server_bits : 15;
    /* Our offered value binds us too, echoed or not (§7.1.2.2). */
    a->client_max_window_bits =
        r->has_client_bits ? r->client_bits : pmd_window_or_max(cfg->client_max_window_bits);
    a->response_server_bits = r->has_server_bits;
    a->response_client_bits = r->has_client_bits;
    return 1;
}

int cws__pmd_client_check(const cws_http_head *resp, const cws_deflate_config *cfg,
                          cws__pmd_agreed *agreed, int *accepted) {
    if (!resp || !agreed || !accepted || cws__pmd_config_check(cfg) != CWS_OK)
        return CWS_ERR_INVALID;
    *accepted = 0;
    int offered = cfg && cfg->enable;
    pmd_list l;
    pmd_list_init(&l, resp);
    pmd_ext e;
    pmd_params r;
    int n = 0, got;
    /* A malformed value fails the connection (RFC 6455 §9.1), as does an
     * extension we did not offer (§4.1, RFC 7692 §5). We offer one
     * element, so the response may hold at most one. */
    while ((got = pmd_list_next(&l, &e)) != 0) {
        if (got < 0 || !offered || n++ > 0 || !cws_str_ieq(e.name, pmd_ext_name))
            return CWS_ERR_HS_EXTENSION;
        if (!pmd_read_params(e.params, 1, &r)) return CWS_ERR_HS_EXTENSION;
    }
    if (n == 0) return CWS_OK;
    if (!pmd_client_agree(&r, cfg, agreed)) return CWS_ERR_HS_EXTENSION;
    *accepted = 1;
    return CWS_OK;
}
