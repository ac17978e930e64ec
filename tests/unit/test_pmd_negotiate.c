/* permessage-deflate negotiation (RFC 7692 §5, §7.1): the server's choice
 * among real offers (Chromium, Firefox, Node ws, Python websockets) and
 * every malformed one (declined, never fatal), the client's check of every
 * response rule, formatting at every buffer size, and the round trip:
 * for every client and server config, both ends agree on the same windows
 * and takeover flags. Heads are real header blocks, parsed by
 * cws_http_parse_request / cws_http_parse_response. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cws.h"
#include "../../src/pmd.h"

/* One Sec-WebSocket-Extensions field line. */
#define EXT(v) "Sec-WebSocket-Extensions: " v "\r\n"

/* The offers real clients send. */
#define CHROMIUM "permessage-deflate; client_max_window_bits"
#define FIREFOX "permessage-deflate"
#define NODE_WS "permessage-deflate; client_max_window_bits" /* ws 8, PerMessageDeflate#offer */
#define PY_WEBSOCKETS "permessage-deflate; client_max_window_bits" /* websockets' client default */

typedef struct pmd_head {
    char buf[4096];
    cws_http_head h;
} pmd_head;

/* A request (or 101 response) head holding the field lines fields. */
static void make_head(pmd_head *ph, int request, const char *fields) {
    const char *start = request ? "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                                : "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n";
    int n = snprintf(ph->buf, sizeof ph->buf, "%sX-Before: 1\r\n%sX-After: 2\r\n\r\n", start, fields);
    assert_true(n > 0 && (size_t)n < sizeof ph->buf);
    memset(&ph->h, 0, sizeof ph->h);
    ptrdiff_t got = request ? cws_http_parse_request(&ph->h, ph->buf, (size_t)n, 0)
                            : cws_http_parse_response(&ph->h, ph->buf, (size_t)n, 0);
    if (got != n) fail_msg("head does not parse (%td):\n%s", got, ph->buf);
}

/* Server select on fields; the response element (if accepted) into resp. */
static int server_run(const char *fields, const cws_deflate_config *cfg, cws__pmd_agreed *a,
                      char *resp, size_t cap) {
    pmd_head ph;
    make_head(&ph, 1, fields);
    memset(a, 0xAA, sizeof *a); /* nothing may be read from a declined select */
    int r = cws__pmd_server_select(&ph.h, cfg, a);
    resp[0] = '\0';
    if (r == 1) {
        ptrdiff_t n = cws__pmd_format_response(a, resp, cap - 1);
        assert_true(n > 0 && n <= CWS__PMD_ELEMENT_MAX);
        resp[n] = '\0';
    }
    return r;
}

static int client_run(const char *fields, const cws_deflate_config *cfg, cws__pmd_agreed *a, int *accepted) {
    pmd_head ph;
    make_head(&ph, 0, fields);
    memset(a, 0xAA, sizeof *a);
    *accepted = -1;
    return cws__pmd_client_check(&ph.h, cfg, a, accepted);
}

static void assert_windows(const cws__pmd_agreed *a, int s, int c, int snct, int cnct) {
    assert_int_equal(a->server_max_window_bits, s);
    assert_int_equal(a->client_max_window_bits, c);
    assert_int_equal(a->server_no_context_takeover, snct);
    assert_int_equal(a->client_no_context_takeover, cnct);
}

/* ------------------------------------------------------------ server */

typedef struct server_case {
    const char *fields;
    cws_deflate_config cfg;
    const char *response; /* NULL: declined */
    int s, c, snct, cnct; /* agreed, when accepted */
} server_case;

#define ON .enable = 1

static const server_case server_cases[] = {
    /* Real offers against the default config: plain acceptance. */
    {EXT(CHROMIUM), {ON}, "permessage-deflate", 15, 15, 0, 0},
    {EXT(FIREFOX), {ON}, "permessage-deflate", 15, 15, 0, 0},
    {EXT(NODE_WS), {ON}, "permessage-deflate", 15, 15, 0, 0},
    {EXT(PY_WEBSOCKETS), {ON}, "permessage-deflate", 15, 15, 0, 0},
    /* Python websockets' own server config as a client offer. */
    {EXT("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"), {ON},
     "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", 12, 12, 0, 0},
    /* §7.1.2.2: client_max_window_bits answered only if offered. */
    {EXT(CHROMIUM), {ON, .client_max_window_bits = 10}, "permessage-deflate; client_max_window_bits=10",
     15, 10, 0, 0},
    {EXT(FIREFOX), {ON, .client_max_window_bits = 10}, "permessage-deflate", 15, 15, 0, 0},
    {EXT("permessage-deflate; client_max_window_bits=10"), {ON},
     "permessage-deflate; client_max_window_bits=10", 15, 10, 0, 0},
    {EXT("permessage-deflate; client_max_window_bits=10"), {ON, .client_max_window_bits = 12},
     "permessage-deflate; client_max_window_bits=10", 15, 10, 0, 0},
    {EXT("permessage-deflate; client_max_window_bits=10"), {ON, .client_max_window_bits = 9},
     "permessage-deflate; client_max_window_bits=9", 15, 9, 0, 0},
    {EXT("permessage-deflate; client_max_window_bits=15"), {ON}, "permessage-deflate", 15, 15, 0, 0},
    {EXT("permessage-deflate; client_max_window_bits=8"), {ON},
     "permessage-deflate; client_max_window_bits=8", 15, 8, 0, 0},
    /* §7.1.2.1: an offered server_max_window_bits is always echoed, the
     * smaller of the two; unasked, sent when our window is under 15. */
    {EXT("permessage-deflate; server_max_window_bits=10"), {ON},
     "permessage-deflate; server_max_window_bits=10", 10, 15, 0, 0},
    {EXT("permessage-deflate; server_max_window_bits=15"), {ON},
     "permessage-deflate; server_max_window_bits=15", 15, 15, 0, 0},
    {EXT("permessage-deflate; server_max_window_bits=10"), {ON, .server_max_window_bits = 9},
     "permessage-deflate; server_max_window_bits=9", 9, 15, 0, 0},
    {EXT("permessage-deflate; server_max_window_bits=9"), {ON, .server_max_window_bits = 12},
     "permessage-deflate; server_max_window_bits=9", 9, 15, 0, 0},
    {EXT(FIREFOX), {ON, .server_max_window_bits = 12}, "permessage-deflate; server_max_window_bits=12",
     12, 15, 0, 0},
    {EXT(FIREFOX), {ON, .server_max_window_bits = 15}, "permessage-deflate", 15, 15, 0, 0},
    {EXT(FIREFOX), {ON, .server_max_window_bits = 8}, "permessage-deflate; server_max_window_bits=8",
     8, 15, 0, 0},
    /* §7.1.1: takeover flags echoed, or added by the server's config. */
    {EXT("permessage-deflate; server_no_context_takeover"), {ON},
     "permessage-deflate; server_no_context_takeover", 15, 15, 1, 0},
    {EXT(FIREFOX), {ON, .server_no_context_takeover = 1}, "permessage-deflate; server_no_context_takeover",
     15, 15, 1, 0},
    {EXT("permessage-deflate; client_no_context_takeover"), {ON},
     "permessage-deflate; client_no_context_takeover", 15, 15, 0, 1},
    {EXT(FIREFOX), {ON, .client_no_context_takeover = 1}, "permessage-deflate; client_no_context_takeover",
     15, 15, 0, 1},
    {EXT("permessage-deflate; client_max_window_bits=9; server_max_window_bits=11; "
         "client_no_context_takeover; server_no_context_takeover"),
     {ON},
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
     "server_max_window_bits=11; client_max_window_bits=9",
     11, 9, 1, 1},
    /* RFC 7692 §7.1.3's example with its fallback: the first wins. */
    {EXT("permessage-deflate;\tclient_max_window_bits; server_max_window_bits=10, "
         "permessage-deflate; client_max_window_bits"),
     {ON}, "permessage-deflate; server_max_window_bits=10", 10, 15, 0, 0},
    /* Several offers in one field and across fields; others ignored. */
    {EXT("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=11"), {ON},
     "permessage-deflate; server_max_window_bits=11", 11, 15, 0, 0},
    {EXT("x-webkit-deflate-frame; max_window_bits=10; no_context_takeover") EXT(CHROMIUM), {ON},
     "permessage-deflate", 15, 15, 0, 0},
    {EXT("permessage-deflate; server_max_window_bits=12") EXT("permessage-deflate"), {ON},
     "permessage-deflate; server_max_window_bits=12", 12, 15, 0, 0},
    {EXT("permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=12"),
     {ON}, "permessage-deflate; server_max_window_bits=12", 12, 15, 0, 0},
    {EXT("permessage-deflate; foo") "Origin: http://a\r\n" EXT("permessage-deflate; client_max_window_bits=11"),
     {ON}, "permessage-deflate; client_max_window_bits=11", 15, 11, 0, 0},
    /* Quoted values (RFC 6455 §9.1, RFC 7692 §7.1: unquoted, the same ABNF). */
    {EXT("permessage-deflate; server_max_window_bits=\"10\""), {ON},
     "permessage-deflate; server_max_window_bits=10", 10, 15, 0, 0},
    {EXT("permessage-deflate; client_max_window_bits=\"10\""), {ON},
     "permessage-deflate; client_max_window_bits=10", 15, 10, 0, 0},
    {EXT("permessage-deflate; client_max_window_bits=\"\\1\\0\""), {ON},
     "permessage-deflate; client_max_window_bits=10", 15, 10, 0, 0},
    {EXT("permessage-deflate; server_max_window_bits=\"9\""), {ON},
     "permessage-deflate; server_max_window_bits=9", 9, 15, 0, 0},
    /* Quoted strings with commas and semicolons in other extensions. */
    {EXT("x-foo; a=\"b, permessage-deflate; server_max_window_bits=8\", permessage-deflate; "
         "client_max_window_bits=9"),
     {ON}, "permessage-deflate; client_max_window_bits=9", 15, 9, 0, 0},
    {EXT("x-foo; a=\"\\\", permessage-deflate\"; b=\";;,,\", permessage-deflate"), {ON},
     "permessage-deflate", 15, 15, 0, 0},
    {EXT("x-foo; a=\"permessage-deflate\""), {ON}, NULL, 0, 0, 0, 0},
    /* Case variants (names compare case-insensitively). */
    {EXT("Permessage-Deflate; Client_Max_Window_Bits=10"), {ON},
     "permessage-deflate; client_max_window_bits=10", 15, 10, 0, 0},
    {EXT("PERMESSAGE-DEFLATE; SERVER_NO_CONTEXT_TAKEOVER; SERVER_MAX_WINDOW_BITS=13"), {ON},
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=13", 13, 15, 1, 0},
    {"sec-websocket-extensions: permessage-deflate\r\n", {ON}, "permessage-deflate", 15, 15, 0, 0},
    {"SEC-WEBSOCKET-EXTENSIONS: permessage-deflate; client_no_context_takeover\r\n", {ON},
     "permessage-deflate; client_no_context_takeover", 15, 15, 0, 1},
    /* Whitespace variants, empty elements. */
    {EXT("permessage-deflate ; client_max_window_bits = 10 ; server_max_window_bits =\t11"), {ON},
     "permessage-deflate; server_max_window_bits=11; client_max_window_bits=10", 11, 10, 0, 0},
    {EXT("\tpermessage-deflate\t;\tserver_max_window_bits\t=\t\"10\"\t"), {ON},
     "permessage-deflate; server_max_window_bits=10", 10, 15, 0, 0},
    {EXT("permessage-deflate;server_no_context_takeover;client_max_window_bits=8"), {ON},
     "permessage-deflate; server_no_context_takeover; client_max_window_bits=8", 15, 8, 1, 0},
    {EXT(" , ,permessage-deflate,, ,"), {ON}, "permessage-deflate", 15, 15, 0, 0},
    {EXT("") EXT(",") EXT("permessage-deflate"), {ON}, "permessage-deflate", 15, 15, 0, 0},
    /* No offer at all. */
    {"", {ON}, NULL, 0, 0, 0, 0},
    {EXT(""), {ON}, NULL, 0, 0, 0, 0},
    {EXT(" , , "), {ON}, NULL, 0, 0, 0, 0},
    {EXT("x-webkit-deflate-frame"), {ON}, NULL, 0, 0, 0, 0},
    {EXT("permessage-deflatex, deflate, permessage"), {ON}, NULL, 0, 0, 0, 0},
    /* Off: nothing is accepted. */
    {EXT(CHROMIUM), {0}, NULL, 0, 0, 0, 0},
    {EXT(CHROMIUM), {.enable = 0, .server_max_window_bits = 99}, NULL, 0, 0, 0, 0},
};

static void test_server_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof server_cases / sizeof server_cases[0]; i++) {
        const server_case *t = &server_cases[i];
        cws__pmd_agreed a;
        char resp[256];
        int r = server_run(t->fields, &t->cfg, &a, resp, sizeof resp);
        if (r != (t->response ? 1 : 0) || (t->response && strcmp(resp, t->response) != 0))
            fail_msg("case %zu: fields\n%sgot %d \"%s\", want \"%s\"", i, t->fields, r, resp,
                     t->response ? t->response : "(declined)");
        if (r == 1) assert_windows(&a, t->s, t->c, t->snct, t->cnct);
    }
}

/* Offers a server must decline (RFC 7692 §7, RFC 6455 §9.1). swallows: the
 * offer leaves a quoted string open, so nothing after it in its field counts. */
typedef struct bad_offer {
    const char *offer;
    int swallows;
} bad_offer;

static const bad_offer bad_offers[] = {
    /* unknown parameters */
    {"permessage-deflate; foo", 0},
    {"permessage-deflate; max_window_bits=10", 0},
    {"permessage-deflate; client_max_window_bits; no_context_takeover", 0},
    {"permessage-deflate; server_max_window_bits_=10", 0},
    /* duplicates */
    {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", 0},
    {"permessage-deflate; client_no_context_takeover; CLIENT_NO_CONTEXT_TAKEOVER", 0},
    {"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", 0},
    {"permessage-deflate; client_max_window_bits; client_max_window_bits=10", 0},
    {"permessage-deflate; client_max_window_bits; client_max_window_bits", 0},
    /* a value where none is allowed */
    {"permessage-deflate; server_no_context_takeover=1", 0},
    {"permessage-deflate; server_no_context_takeover=true", 0},
    {"permessage-deflate; client_no_context_takeover=\"\"", 0},
    {"permessage-deflate; client_no_context_takeover=x", 0},
    /* a required value missing */
    {"permessage-deflate; server_max_window_bits", 0},
    /* values other than 8..15 without leading zeros */
    {"permessage-deflate; server_max_window_bits=7", 0},
    {"permessage-deflate; server_max_window_bits=16", 0},
    {"permessage-deflate; server_max_window_bits=08", 0},
    {"permessage-deflate; server_max_window_bits=010", 0},
    {"permessage-deflate; server_max_window_bits=0", 0},
    {"permessage-deflate; server_max_window_bits=1", 0},
    {"permessage-deflate; server_max_window_bits=100", 0},
    {"permessage-deflate; server_max_window_bits=a", 0},
    {"permessage-deflate; server_max_window_bits=1a", 0},
    {"permessage-deflate; server_max_window_bits=-9", 0},
    {"permessage-deflate; server_max_window_bits=+9", 0},
    {"permessage-deflate; server_max_window_bits=9.0", 0},
    {"permessage-deflate; server_max_window_bits=\"\"", 0},
    {"permessage-deflate; server_max_window_bits=\" 9\"", 0},
    {"permessage-deflate; server_max_window_bits=\"1 0\"", 0},
    {"permessage-deflate; server_max_window_bits=\"08\"", 0},
    {"permessage-deflate; client_max_window_bits=7", 0},
    {"permessage-deflate; client_max_window_bits=16", 0},
    {"permessage-deflate; client_max_window_bits=09", 0},
    {"permessage-deflate; client_max_window_bits=\"16\"", 0},
    {"permessage-deflate; client_max_window_bits=4294967306", 0},
    /* syntax (RFC 6455 §9.1) */
    {"permessage-deflate;", 0},
    {"permessage-deflate;;", 0},
    {"permessage-deflate; ;client_max_window_bits", 0},
    {"permessage-deflate; =10", 0},
    {"permessage-deflate; server_max_window_bits=", 0},
    {"permessage-deflate; server_max_window_bits==10", 0},
    {"permessage-deflate server_no_context_takeover", 0},
    {"permessage-deflate; client max_window_bits", 0},
    {"permessage-deflate; server_max_window_bits=10 11", 0},
    {"permessage-deflate; server_max_window_bits=\"10\"x", 0},
    {"permessage-deflate; server_max_window_bits=\"10\"\"", 1},
    {"permessage-deflate; server_max_window_bits=\"10", 1},
    {"permessage-deflate; x=\"a\\", 1},
    {"permessage-deflate=1", 0},
    {"\"permessage-deflate\"", 0},
    {"per message-deflate", 0},
    {"permessage-deflate; server_max_window_bits=1\xc3\xa9", 0},
    {"permessage-deflate\xc3\xa9", 0},
    {"; permessage-deflate", 0},
};

static void test_server_declines(void **state) {
    (void)state;
    char fields[512], resp[256];
    cws__pmd_agreed a;
    const cws_deflate_config on = {ON};
    for (size_t i = 0; i < sizeof bad_offers / sizeof bad_offers[0]; i++) {
        const bad_offer *b = &bad_offers[i];
        /* Alone: declined, the connection goes on uncompressed. */
        snprintf(fields, sizeof fields, EXT("%s"), b->offer);
        if (server_run(fields, &on, &a, resp, sizeof resp) != 0)
            fail_msg("accepted bad offer %zu: %s -> %s", i, b->offer, resp);
        /* Followed by a good offer in the next field: that one wins, with
         * nothing of the bad one in it. */
        snprintf(fields, sizeof fields, EXT("%s") EXT("permessage-deflate"), b->offer);
        assert_int_equal(server_run(fields, &on, &a, resp, sizeof resp), 1);
        assert_string_equal(resp, "permessage-deflate");
        assert_windows(&a, 15, 15, 0, 0);
        /* In the same field, after a comma. */
        snprintf(fields, sizeof fields, EXT("%s, permessage-deflate; client_max_window_bits=11"), b->offer);
        int r = server_run(fields, &on, &a, resp, sizeof resp);
        if (r != !b->swallows) fail_msg("bad offer %zu then a good one: got %d (%s)", i, r, b->offer);
        if (r) assert_string_equal(resp, "permessage-deflate; client_max_window_bits=11");
    }
}

/* Every server config against representative offers, checked against the
 * RFC's rules rather than a copy of the code's formulas. */
static const char *const rep_offers[] = {
    CHROMIUM,
    FIREFOX,
    "permessage-deflate; client_max_window_bits=9",
    "permessage-deflate; client_max_window_bits=15",
    "permessage-deflate; server_max_window_bits=10",
    "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
    "permessage-deflate; server_no_context_takeover",
    "permessage-deflate; client_no_context_takeover; client_max_window_bits",
    ("permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
     "server_max_window_bits=13; client_max_window_bits=12"),
};
static const int windows[] = {0, 8, 9, 11, 15};

static int min_or(int a, int b) { /* 0 means "no limit" (15) */
    a = a ? a : 15;
    b = b ? b : 15;
    return a < b ? a : b;
}

static int has_param(const char *s, const char *param) { return strstr(s, param) != NULL; }

static int param_value(const char *s, const char *param) {
    const char *p = strstr(s, param);
    if (!p) return 0;
    p += strlen(param);
    return *p == '=' ? atoi(p + 1) : -1;
}

static void test_server_config_matrix(void **state) {
    (void)state;
    for (size_t o = 0; o < sizeof rep_offers / sizeof rep_offers[0]; o++) {
        const char *offer = rep_offers[o];
        int off_s = param_value(offer, "server_max_window_bits"); /* 0: absent */
        int off_c = param_value(offer, "client_max_window_bits"); /* -1: no value */
        int off_snct = has_param(offer, "server_no_context_takeover");
        int off_cnct = has_param(offer, "client_no_context_takeover");
        char fields[512];
        snprintf(fields, sizeof fields, EXT("%s"), offer);
        for (size_t si = 0; si < 5; si++)
            for (size_t ci = 0; ci < 5; ci++)
                for (int flags = 0; flags < 4; flags++) {
                    cws_deflate_config cfg = {ON};
                    cfg.server_max_window_bits = windows[si];
                    cfg.client_max_window_bits = windows[ci];
                    cfg.server_no_context_takeover = flags & 1;
                    cfg.client_no_context_takeover = flags >> 1;
                    cws__pmd_agreed a;
                    char resp[256];
                    assert_int_equal(server_run(fields, &cfg, &a, resp, sizeof resp), 1);
                    /* §7.1.2.1: the smaller of offer and config, echoed if offered. */
                    assert_int_equal(a.server_max_window_bits, min_or(off_s, cfg.server_max_window_bits));
                    if (off_s) assert_int_equal(param_value(resp, "server_max_window_bits"), a.server_max_window_bits);
                    if (a.server_max_window_bits < 15)
                        assert_int_equal(param_value(resp, "server_max_window_bits"), a.server_max_window_bits);
                    /* §7.1.2.2: only if offered, never above the offered value. */
                    if (!off_c) {
                        assert_false(has_param(resp, "client_max_window_bits"));
                        assert_int_equal(a.client_max_window_bits, 15);
                    } else {
                        int want = min_or(off_c > 0 ? off_c : 0, cfg.client_max_window_bits);
                        assert_int_equal(a.client_max_window_bits, want);
                        assert_int_equal(param_value(resp, "client_max_window_bits"), want < 15 ? want : 0);
                    }
                    /* §7.1.1: flags echoed or required by config. */
                    int snct = off_snct || cfg.server_no_context_takeover;
                    int cnct = off_cnct || cfg.client_no_context_takeover;
                    assert_int_equal(a.server_no_context_takeover, snct);
                    assert_int_equal(a.client_no_context_takeover, cnct);
                    assert_int_equal(has_param(resp, "server_no_context_takeover"), snct);
                    assert_int_equal(has_param(resp, "client_no_context_takeover"), cnct);
                }
    }
}

static void test_server_bad_args(void **state) {
    (void)state;
    pmd_head ph;
    make_head(&ph, 1, EXT(CHROMIUM));
    cws__pmd_agreed a;
    cws_deflate_config cfg = {ON};
    assert_int_equal(cws__pmd_server_select(&ph.h, NULL, &a), 0);
    assert_int_equal(cws__pmd_server_select(NULL, &cfg, &a), CWS_ERR_INVALID);
    assert_int_equal(cws__pmd_server_select(&ph.h, &cfg, NULL), CWS_ERR_INVALID);
    const int bad_windows[] = {-1, 1, 7, 16, 99};
    for (size_t i = 0; i < 5; i++) {
        cfg.server_max_window_bits = bad_windows[i];
        assert_int_equal(cws__pmd_server_select(&ph.h, &cfg, &a), CWS_ERR_INVALID);
        assert_int_equal(cws__pmd_config_check(&cfg), CWS_ERR_INVALID);
        cfg.server_max_window_bits = 0;
        cfg.client_max_window_bits = bad_windows[i];
        assert_int_equal(cws__pmd_server_select(&ph.h, &cfg, &a), CWS_ERR_INVALID);
        cfg.client_max_window_bits = 0;
    }
    cfg.level = 10;
    assert_int_equal(cws__pmd_server_select(&ph.h, &cfg, &a), CWS_ERR_INVALID);
    cfg.level = -1;
    assert_int_equal(cws__pmd_config_check(&cfg), CWS_ERR_INVALID);
    cfg.level = 9;
    assert_int_equal(cws__pmd_config_check(&cfg), CWS_OK);
    assert_int_equal(cws__pmd_config_check(NULL), CWS_OK);
    /* A zeroed head (no fields) offers nothing. */
    cws_http_head empty;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(cws__pmd_server_select(&empty, &cfg, &a), 0);
}

/* ------------------------------------------------------------ client */

typedef struct client_case {
    cws_deflate_config cfg;
    const char *fields;
    int rc;               /* CWS_OK or CWS_ERR_HS_EXTENSION */
    int accepted;
    int s, c, snct, cnct; /* agreed, when accepted */
} client_case;

#define HSX CWS_ERR_HS_EXTENSION

static const client_case client_cases[] = {
    /* Default offer ("permessage-deflate; client_max_window_bits"). */
    {{ON}, "", CWS_OK, 0, 0, 0, 0, 0},
    {{ON}, EXT(""), CWS_OK, 0, 0, 0, 0, 0},
    {{ON}, EXT(" ,, "), CWS_OK, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate"), CWS_OK, 1, 15, 15, 0, 0},
    /* Python websockets' server default answer. */
    {{ON}, EXT("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"), CWS_OK, 1, 12, 12, 0, 0},
    {{ON}, EXT("permessage-deflate; server_no_context_takeover; client_no_context_takeover"), CWS_OK, 1, 15, 15, 1, 1},
    {{ON}, EXT("permessage-deflate; server_max_window_bits=8"), CWS_OK, 1, 8, 15, 0, 0},
    {{ON}, EXT("permessage-deflate; client_max_window_bits=8"), CWS_OK, 1, 15, 8, 0, 0},
    {{ON}, EXT("permessage-deflate; server_max_window_bits=\"9\""), CWS_OK, 1, 9, 15, 0, 0},
    {{ON}, EXT("PerMessage-Deflate ;Server_Max_Window_Bits = 10"), CWS_OK, 1, 10, 15, 0, 0},
    {{ON}, EXT(" , permessage-deflate ,"), CWS_OK, 1, 15, 15, 0, 0},
    {{ON}, EXT("") EXT("permessage-deflate"), CWS_OK, 1, 15, 15, 0, 0},
    /* More than one extension, or one we did not offer. */
    {{ON}, EXT("permessage-deflate, permessage-deflate"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate") EXT("permessage-deflate"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("x-webkit-deflate-frame"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate, x-foo"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("x-foo, permessage-deflate"), HSX, 0, 0, 0, 0, 0},
    /* Unknown, duplicated, malformed parameters. */
    {{ON}, EXT("permessage-deflate; foo"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate; server_no_context_takeover; server_no_context_takeover"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate; client_no_context_takeover=1"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate; server_max_window_bits"), HSX, 0, 0, 0, 0, 0},
    /* §7.1.2.2: in a response client_max_window_bits has a value. */
    {{ON}, EXT("permessage-deflate; client_max_window_bits"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate; server_max_window_bits=7"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate; server_max_window_bits=16"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate; client_max_window_bits=08"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate;"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate; server_max_window_bits=\"10"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("permessage-deflate x"), HSX, 0, 0, 0, 0, 0},
    {{ON}, EXT("; permessage-deflate"), HSX, 0, 0, 0, 0, 0},
    /* Nothing offered: any extension fails; an empty field names none. */
    {{0}, "", CWS_OK, 0, 0, 0, 0, 0},
    {{0}, EXT(""), CWS_OK, 0, 0, 0, 0, 0},
    {{0}, EXT("permessage-deflate"), HSX, 0, 0, 0, 0, 0},
    {{0}, EXT("x-foo"), HSX, 0, 0, 0, 0, 0},
    {{0}, EXT("permessage-deflate;;"), HSX, 0, 0, 0, 0, 0},
    /* We asked server_max_window_bits=10: it must come back, at most 10. */
    {{ON, .server_max_window_bits = 10}, EXT("permessage-deflate"), HSX, 0, 0, 0, 0, 0},
    {{ON, .server_max_window_bits = 10}, EXT("permessage-deflate; server_max_window_bits=10"), CWS_OK, 1, 10, 15, 0, 0},
    {{ON, .server_max_window_bits = 10}, EXT("permessage-deflate; server_max_window_bits=9"), CWS_OK, 1, 9, 15, 0, 0},
    {{ON, .server_max_window_bits = 10}, EXT("permessage-deflate; server_max_window_bits=11"), HSX, 0, 0, 0, 0, 0},
    {{ON, .server_max_window_bits = 15}, EXT("permessage-deflate; server_max_window_bits=15"), CWS_OK, 1, 15, 15, 0, 0},
    {{ON, .server_max_window_bits = 15}, EXT("permessage-deflate"), HSX, 0, 0, 0, 0, 0},
    /* We offered client_max_window_bits=10: bound by it, the server may lower it. */
    {{ON, .client_max_window_bits = 10}, EXT("permessage-deflate"), CWS_OK, 1, 15, 10, 0, 0},
    {{ON, .client_max_window_bits = 10}, EXT("permessage-deflate; client_max_window_bits=10"), CWS_OK, 1, 15, 10, 0, 0},
    {{ON, .client_max_window_bits = 10}, EXT("permessage-deflate; client_max_window_bits=9"), CWS_OK, 1, 15, 9, 0, 0},
    {{ON, .client_max_window_bits = 10}, EXT("permessage-deflate; client_max_window_bits=11"), HSX, 0, 0, 0, 0, 0},
    {{ON, .client_max_window_bits = 10}, EXT("permessage-deflate; client_max_window_bits=15"), HSX, 0, 0, 0, 0, 0},
    /* We asked server_no_context_takeover: it must come back. */
    {{ON, .server_no_context_takeover = 1}, EXT("permessage-deflate"), HSX, 0, 0, 0, 0, 0},
    {{ON, .server_no_context_takeover = 1}, EXT("permessage-deflate; server_no_context_takeover"), CWS_OK, 1, 15, 15, 1, 0},
    /* We offered client_no_context_takeover: our promise holds, echoed or not. */
    {{ON, .client_no_context_takeover = 1}, EXT("permessage-deflate"), CWS_OK, 1, 15, 15, 0, 1},
    {{ON, .client_no_context_takeover = 1}, EXT("permessage-deflate; client_no_context_takeover"), CWS_OK, 1, 15, 15, 0, 1},
    /* The server may require it without being asked (§7.1.1.2). */
    {{ON}, EXT("permessage-deflate; client_no_context_takeover"), CWS_OK, 1, 15, 15, 0, 1},
};

static void test_client_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof client_cases / sizeof client_cases[0]; i++) {
        const client_case *t = &client_cases[i];
        cws__pmd_agreed a;
        int accepted;
        int rc = client_run(t->fields, &t->cfg, &a, &accepted);
        if (rc != t->rc || (rc == CWS_OK && accepted != t->accepted))
            fail_msg("case %zu: fields\n%sgot %d accepted %d, want %d accepted %d", i, t->fields, rc,
                     accepted, t->rc, t->accepted);
        if (rc == CWS_OK && accepted) assert_windows(&a, t->s, t->c, t->snct, t->cnct);
        if (rc != CWS_OK) assert_int_equal(accepted, 0);
    }
}

static void test_client_bad_args(void **state) {
    (void)state;
    pmd_head ph;
    make_head(&ph, 0, EXT("permessage-deflate"));
    cws__pmd_agreed a;
    int acc;
    cws_deflate_config cfg = {ON};
    assert_int_equal(cws__pmd_client_check(&ph.h, NULL, &a, &acc), CWS_ERR_HS_EXTENSION);
    assert_int_equal(cws__pmd_client_check(NULL, &cfg, &a, &acc), CWS_ERR_INVALID);
    assert_int_equal(cws__pmd_client_check(&ph.h, &cfg, NULL, &acc), CWS_ERR_INVALID);
    assert_int_equal(cws__pmd_client_check(&ph.h, &cfg, &a, NULL), CWS_ERR_INVALID);
    cfg.client_max_window_bits = 16;
    assert_int_equal(cws__pmd_client_check(&ph.h, &cfg, &a, &acc), CWS_ERR_INVALID);
}

/* ------------------------------------------------------------ formatting */

static void test_format_offer(void **state) {
    (void)state;
    static const struct {
        cws_deflate_config cfg;
        const char *want;
    } cases[] = {
        {{ON}, "permessage-deflate; client_max_window_bits"},
        {{ON, .client_max_window_bits = 10}, "permessage-deflate; client_max_window_bits=10"},
        {{ON, .server_max_window_bits = 9}, "permessage-deflate; client_max_window_bits; server_max_window_bits=9"},
        {{ON, .server_no_context_takeover = 1}, "permessage-deflate; client_max_window_bits; server_no_context_takeover"},
        {{ON, .client_no_context_takeover = 1}, "permessage-deflate; client_max_window_bits; client_no_context_takeover"},
        {{ON, .server_max_window_bits = 15, .client_max_window_bits = 15, .server_no_context_takeover = 1,
          .client_no_context_takeover = 1},
         "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15; "
         "server_no_context_takeover; client_no_context_takeover"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[CWS__PMD_ELEMENT_MAX];
        ptrdiff_t n = cws__pmd_format_offer(&cases[i].cfg, out, sizeof out);
        assert_int_equal(n, (ptrdiff_t)strlen(cases[i].want));
        assert_memory_equal(out, cases[i].want, (size_t)n);
    }
    char out[8];
    cws_deflate_config off = {0}, bad = {ON, .server_max_window_bits = 7};
    assert_int_equal(cws__pmd_format_offer(NULL, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws__pmd_format_offer(&off, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws__pmd_format_offer(&bad, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws__pmd_format_offer(&cases[0].cfg, NULL, 5), CWS_ERR_INVALID);
    assert_int_equal(cws__pmd_format_offer(&cases[0].cfg, NULL, 0), CWS_ERR_NOSPACE);
}

static void test_format_response(void **state) {
    (void)state;
    cws__pmd_agreed a = {0, 1, 1, 15, 15, 1, 0};
    char out[CWS__PMD_ELEMENT_MAX];
    ptrdiff_t n = cws__pmd_format_response(&a, out, sizeof out);
    const char *want = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                       "server_max_window_bits=15";
    assert_int_equal(n, (ptrdiff_t)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    a.server_max_window_bits = 7;
    assert_int_equal(cws__pmd_format_response(&a, out, sizeof out), CWS_ERR_INVALID);
    a.server_max_window_bits = 8;
    a.client_max_window_bits = 16;
    assert_int_equal(cws__pmd_format_response(&a, out, sizeof out), CWS_ERR_INVALID);
    a.client_max_window_bits = 8;
    assert_int_equal(cws__pmd_format_response(NULL, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws__pmd_format_response(&a, NULL, 4), CWS_ERR_INVALID);
}

/* Every cap below the length is CWS_ERR_NOSPACE and writes nothing past
 * the cap; the exact cap gives the whole element. */
static void check_caps(ptrdiff_t (*fmt)(const void *, char *, size_t), const void *arg) {
    char full[CWS__PMD_ELEMENT_MAX + 1];
    ptrdiff_t n = fmt(arg, full, sizeof full);
    assert_true(n > 0 && n <= CWS__PMD_ELEMENT_MAX);
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        char buf[CWS__PMD_ELEMENT_MAX + 8];
        memset(buf, '#', sizeof buf);
        ptrdiff_t got = fmt(arg, buf, cap);
        for (size_t k = cap; k < sizeof buf; k++) assert_int_equal(buf[k], '#');
        if (cap < (size_t)n) {
            assert_int_equal(got, CWS_ERR_NOSPACE);
        } else {
            assert_int_equal(got, n);
            assert_memory_equal(buf, full, (size_t)n);
        }
    }
}

static ptrdiff_t fmt_offer(const void *cfg, char *out, size_t cap) { return cws__pmd_format_offer(cfg, out, cap); }
static ptrdiff_t fmt_response(const void *a, char *out, size_t cap) { return cws__pmd_format_response(a, out, cap); }

static void test_format_nospace(void **state) {
    (void)state;
    for (int bits = 0; bits < 16; bits++) {
        cws_deflate_config cfg = {ON};
        cfg.server_max_window_bits = (bits & 1) ? 15 : 0;
        cfg.client_max_window_bits = (bits & 2) ? 9 : 0;
        cfg.server_no_context_takeover = (bits >> 2) & 1;
        cfg.client_no_context_takeover = (bits >> 3) & 1;
        check_caps(fmt_offer, &cfg);
        cws__pmd_agreed a = {0, (uint8_t)(bits & 1), (uint8_t)((bits >> 1) & 1), 15, 12,
                             (uint8_t)((bits >> 2) & 1), (uint8_t)((bits >> 3) & 1)};
        check_caps(fmt_response, &a);
    }
    /* The longest element of each kind fits CWS__PMD_ELEMENT_MAX. */
    cws__pmd_agreed all = {0, 1, 1, 15, 15, 1, 1};
    char out[CWS__PMD_ELEMENT_MAX];
    assert_true(cws__pmd_format_response(&all, out, sizeof out) > 0);
    cws_deflate_config big = {ON, .server_max_window_bits = 15, .client_max_window_bits = 15,
                              .server_no_context_takeover = 1, .client_no_context_takeover = 1};
    assert_true(cws__pmd_format_offer(&big, out, sizeof out) > 0);
}

/* ------------------------------------------------------------ round trip */

static void config_at(cws_deflate_config *cfg, unsigned i) {
    static const int w[] = {0, 8, 11, 15};
    memset(cfg, 0, sizeof *cfg);
    cfg->enable = 1;
    cfg->server_max_window_bits = w[i & 3];
    cfg->client_max_window_bits = w[(i >> 2) & 3];
    cfg->server_no_context_takeover = (int)((i >> 4) & 1);
    cfg->client_no_context_takeover = (int)((i >> 5) & 1);
}

static void test_round_trip(void **state) {
    (void)state;
    for (unsigned ci = 0; ci < 64; ci++) {
        cws_deflate_config ccfg;
        config_at(&ccfg, ci);
        char offer[CWS__PMD_ELEMENT_MAX + 1];
        ptrdiff_t n = cws__pmd_format_offer(&ccfg, offer, sizeof offer - 1);
        assert_true(n > 0);
        offer[n] = '\0';
        char fields[256];
        snprintf(fields, sizeof fields, EXT("%s"), offer);
        for (unsigned si = 0; si < 64; si++) {
            cws_deflate_config scfg;
            config_at(&scfg, si);
            cws__pmd_agreed sa, ca;
            char resp[CWS__PMD_ELEMENT_MAX + 1], rfields[256];
            /* Every offer we make is one a cws server accepts. */
            assert_int_equal(server_run(fields, &scfg, &sa, resp, sizeof resp), 1);
            snprintf(rfields, sizeof rfields, EXT("%s"), resp);
            int accepted;
            if (client_run(rfields, &ccfg, &ca, &accepted) != CWS_OK || accepted != 1)
                fail_msg("client refused \"%s\" to offer \"%s\"", resp, offer);
            assert_memory_equal(&sa, &ca, sizeof sa);
            /* Each side's requests are honoured. */
            assert_true(sa.server_max_window_bits <= min_or(ccfg.server_max_window_bits, scfg.server_max_window_bits));
            assert_true(sa.client_max_window_bits <= min_or(ccfg.client_max_window_bits, 0));
            if (ccfg.server_no_context_takeover || scfg.server_no_context_takeover)
                assert_int_equal(sa.server_no_context_takeover, 1);
            if (ccfg.client_no_context_takeover || scfg.client_no_context_takeover)
                assert_int_equal(sa.client_no_context_takeover, 1);
            /* The server's client window request reaches a cws client. */
            assert_int_equal(sa.client_max_window_bits,
                             min_or(ccfg.client_max_window_bits, scfg.client_max_window_bits));
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_cases),
        cmocka_unit_test(test_server_declines),
        cmocka_unit_test(test_server_config_matrix),
        cmocka_unit_test(test_server_bad_args),
        cmocka_unit_test(test_client_cases),
        cmocka_unit_test(test_client_bad_args),
        cmocka_unit_test(test_format_offer),
        cmocka_unit_test(test_format_response),
        cmocka_unit_test(test_format_nospace),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
