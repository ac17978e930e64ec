/* permessage-deflate negotiation (src/pmd_negotiate.c). After two option
 * bytes (a server and a client cws_deflate_config), each input line is a
 * Sec-WebSocket-Extensions field (a line starting with '!' is some other
 * field), in a request head for the server and a 101 head for the client.
 * Invariants:
 *  - server: windows 8..15 and within the config; the response element
 *    parses back and a client whose offer it answers accepts it and agrees
 *    on every field; select gives the same answer with every letter upper
 *    cased (names are case-insensitive, values are digits);
 *  - client: only OK or HS_EXTENSION; nothing accepted unless offered;
 *    every request of the config honoured; the same answer upper cased;
 *    what it accepts, cws would answer identically (format_response of it
 *    checks again to the same result);
 *  - across: a response the client accepts under a plain offer is a
 *    well-formed offer the server accepts too. */
#include "fuzz_util.h"

#include "../../src/pmd.h"

#include <ctype.h>

static const int pmd_fuzz_windows[4] = {0, 8, 11, 15};

static void pmd_fuzz_config(uint8_t b, cws_deflate_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->enable = (b & 0x80) ? 0 : 1;
    cfg->server_max_window_bits = pmd_fuzz_windows[b & 3];
    cfg->client_max_window_bits = pmd_fuzz_windows[(b >> 2) & 3];
    cfg->server_no_context_takeover = (b >> 4) & 1;
    cfg->client_no_context_takeover = (b >> 5) & 1;
}

typedef struct pmd_fuzz_head {
    char *buf;
    size_t len;
    cws_http_head h;
} pmd_fuzz_head;

/* Builds and parses a head from the lines of body; 0 if it does not parse
 * (a control byte in a line, say). upper: every ASCII letter upper cased. */
static int pmd_fuzz_head_make(pmd_fuzz_head *ph, int request, const uint8_t *body, size_t n, int upper) {
    const char *start = request ? "GET / HTTP/1.1\r\nHost: h\r\n" : "HTTP/1.1 101 Switching Protocols\r\n";
    static const char ext[] = "Sec-WebSocket-Extensions: ", other[] = "X-Other: ";
    size_t cap = strlen(start) + (n + 1) * (sizeof ext + 2) + 3, len = 0;
    char *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL);
    len += (size_t)sprintf(buf, "%s", start);
    size_t i = 0;
    while (i <= n) {
        size_t e = i;
        while (e < n && body[e] != '\n') e++;
        int is_other = e > i && body[i] == '!';
        const char *name = is_other ? other : ext;
        memcpy(buf + len, name, strlen(name));
        len += strlen(name);
        for (size_t k = i + (size_t)is_other; k < e; k++) {
            char c = (char)body[k];
            buf[len++] = upper ? (char)toupper((unsigned char)c) : c;
        }
        memcpy(buf + len, "\r\n", 2);
        len += 2;
        i = e + 1;
    }
    memcpy(buf + len, "\r\n", 2);
    len += 2;
    FUZZ_CHECK(len <= cap);
    ph->buf = (char *)fuzz_dup(buf, len); /* exact size: ASan sees overreads */
    ph->len = len;
    free(buf);
    memset(&ph->h, 0, sizeof ph->h);
    ptrdiff_t r = request ? cws_http_parse_request(&ph->h, ph->buf, len, 1 << 20)
                          : cws_http_parse_response(&ph->h, ph->buf, len, 1 << 20);
    if (r != (ptrdiff_t)len) {
        free(ph->buf);
        return 0;
    }
    return 1;
}

static int pmd_fuzz_window_ok(int bits) { return bits >= 8 && bits <= 15; }

static int pmd_fuzz_limit(int cfg_bits) { return cfg_bits ? cfg_bits : 15; }

static void pmd_fuzz_agreed_ok(const cws__pmd_agreed *a) {
    FUZZ_CHECK(pmd_fuzz_window_ok(a->server_max_window_bits));
    FUZZ_CHECK(pmd_fuzz_window_ok(a->client_max_window_bits));
    FUZZ_CHECK(a->server_no_context_takeover <= 1 && a->client_no_context_takeover <= 1);
    FUZZ_CHECK(a->response_server_bits <= 1 && a->response_client_bits <= 1);
}

/* A response element as a 101 head, checked by a client with cfg. */
static int pmd_fuzz_client_on(const char *elem, size_t n, const cws_deflate_config *cfg,
                              cws__pmd_agreed *a, int *accepted) {
    pmd_fuzz_head ph;
    FUZZ_CHECK(pmd_fuzz_head_make(&ph, 0, (const uint8_t *)elem, n, 0));
    int rc = cws__pmd_client_check(&ph.h, cfg, a, accepted);
    free(ph.buf);
    return rc;
}

static void pmd_fuzz_server(const cws_deflate_config *cfg, const uint8_t *body, size_t n) {
    pmd_fuzz_head ph, up;
    if (!pmd_fuzz_head_make(&ph, 1, body, n, 0)) return;
    cws__pmd_agreed a;
    int r = cws__pmd_server_select(&ph.h, cfg, &a);
    FUZZ_CHECK(r == 0 || r == 1);
    FUZZ_CHECK(r == 0 || cfg->enable);
    FUZZ_CHECK(pmd_fuzz_head_make(&up, 1, body, n, 1));
    cws__pmd_agreed ua;
    int ur = cws__pmd_server_select(&up.h, cfg, &ua);
    FUZZ_CHECK(ur == r);
    if (r == 1) FUZZ_CHECK(memcmp(&a, &ua, sizeof a) == 0);
    free(up.buf);
    free(ph.buf);
    if (r != 1) return;

    pmd_fuzz_agreed_ok(&a);
    FUZZ_CHECK(a.server_max_window_bits <= pmd_fuzz_limit(cfg->server_max_window_bits));
    FUZZ_CHECK(a.client_max_window_bits == 15 || a.response_client_bits);
    if (a.response_client_bits)
        FUZZ_CHECK(a.client_max_window_bits <= pmd_fuzz_limit(cfg->client_max_window_bits));
    if (cfg->server_no_context_takeover) FUZZ_CHECK(a.server_no_context_takeover);
    if (cfg->client_no_context_takeover) FUZZ_CHECK(a.client_no_context_takeover);

    char resp[CWS__PMD_ELEMENT_MAX];
    ptrdiff_t len = cws__pmd_format_response(&a, resp, sizeof resp);
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(cws__pmd_format_response(&a, resp, (size_t)len - 1) == CWS_ERR_NOSPACE);
    /* A client whose offer this answers: it asked for no more than was
     * granted, offered client_max_window_bits without a value. */
    cws_deflate_config c;
    memset(&c, 0, sizeof c);
    c.enable = 1;
    c.server_max_window_bits = a.response_server_bits ? a.server_max_window_bits : 0;
    c.server_no_context_takeover = a.server_no_context_takeover;
    cws__pmd_agreed ca;
    int accepted;
    FUZZ_CHECK(pmd_fuzz_client_on(resp, (size_t)len, &c, &ca, &accepted) == CWS_OK);
    FUZZ_CHECK(accepted == 1);
    FUZZ_CHECK(memcmp(&a, &ca, sizeof a) == 0);
}

static void pmd_fuzz_client(const cws_deflate_config *cfg, const uint8_t *body, size_t n) {
    pmd_fuzz_head ph, up;
    if (!pmd_fuzz_head_make(&ph, 0, body, n, 0)) return;
    cws__pmd_agreed a, ua;
    int accepted = -1, uacc = -1;
    int rc = cws__pmd_client_check(&ph.h, cfg, &a, &accepted);
    FUZZ_CHECK(rc == CWS_OK || rc == CWS_ERR_HS_EXTENSION);
    FUZZ_CHECK(accepted == 0 || (accepted == 1 && rc == CWS_OK));
    FUZZ_CHECK(pmd_fuzz_head_make(&up, 0, body, n, 1));
    FUZZ_CHECK(cws__pmd_client_check(&up.h, cfg, &ua, &uacc) == rc && uacc == accepted);
    if (accepted) FUZZ_CHECK(memcmp(&a, &ua, sizeof a) == 0);

    /* Across: a valid single response under a plain offer is an offer the
     * server accepts (the response grammar is the stricter one). */
    cws_deflate_config plain = {0}, srv = {0};
    plain.enable = srv.enable = 1;
    cws__pmd_agreed pa, sa;
    int pacc = 0;
    if (cws__pmd_client_check(&ph.h, &plain, &pa, &pacc) == CWS_OK && pacc) {
        pmd_fuzz_head req;
        FUZZ_CHECK(pmd_fuzz_head_make(&req, 1, body, n, 0));
        FUZZ_CHECK(cws__pmd_server_select(&req.h, &srv, &sa) == 1);
        FUZZ_CHECK(sa.server_no_context_takeover == pa.server_no_context_takeover);
        FUZZ_CHECK(sa.client_no_context_takeover == pa.client_no_context_takeover);
        FUZZ_CHECK(sa.server_max_window_bits == pa.server_max_window_bits);
        FUZZ_CHECK(sa.client_max_window_bits == pa.client_max_window_bits);
        free(req.buf);
    }
    free(up.buf);
    free(ph.buf);
    if (!accepted) return;

    int offered = cfg && cfg->enable;
    FUZZ_CHECK(offered);
    pmd_fuzz_agreed_ok(&a);
    if (cfg->server_max_window_bits) FUZZ_CHECK(a.server_max_window_bits <= cfg->server_max_window_bits);
    FUZZ_CHECK(a.client_max_window_bits <= pmd_fuzz_limit(cfg->client_max_window_bits));
    if (cfg->server_no_context_takeover) FUZZ_CHECK(a.server_no_context_takeover);
    if (cfg->client_no_context_takeover) FUZZ_CHECK(a.client_no_context_takeover);
    /* What we accepted, in cws's own words, is accepted the same way. */
    char resp[CWS__PMD_ELEMENT_MAX];
    ptrdiff_t len = cws__pmd_format_response(&a, resp, sizeof resp);
    FUZZ_CHECK(len > 0);
    cws__pmd_agreed again;
    int acc2;
    FUZZ_CHECK(pmd_fuzz_client_on(resp, (size_t)len, cfg, &again, &acc2) == CWS_OK && acc2 == 1);
    FUZZ_CHECK(again.server_max_window_bits == a.server_max_window_bits);
    FUZZ_CHECK(again.client_max_window_bits == a.client_max_window_bits);
    FUZZ_CHECK(again.server_no_context_takeover == a.server_no_context_takeover);
    FUZZ_CHECK(again.client_no_context_takeover == a.client_no_context_takeover);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    cws_deflate_config scfg, ccfg;
    pmd_fuzz_config(fuzz_byte(&in), &scfg);
    pmd_fuzz_config(fuzz_byte(&in), &ccfg);
    if (in.n > 4096) return 0;
    pmd_fuzz_server(&scfg, in.p, in.n);
    pmd_fuzz_client(&ccfg, in.p, in.n);
    /* The offer for the client config parses as one the server accepts. */
    if (ccfg.enable) {
        char offer[CWS__PMD_ELEMENT_MAX];
        ptrdiff_t len = cws__pmd_format_offer(&ccfg, offer, sizeof offer);
        FUZZ_CHECK(len > 0);
        pmd_fuzz_server(&scfg, (const uint8_t *)offer, (size_t)len);
    }
    return 0;
}
