/* Client side of the opening handshake: the request we write, header
 * injection refused, every CWS_ERR_HS_* rule of RFC 6455 §4.1, response
 * split at every byte, and a round trip through the server side. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cws.h"
#include "cws_util.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* The RFC 6455 §1.3 nonce, so the key and accept are the known pair. */
static int sample_rng(void *user, void *buf, size_t len) {
    int *calls = user;
    if (calls) (*calls)++;
    assert_int_equal(len, 16);
    memcpy(buf, "the sample nonce", 16);
    return 0;
}

static int failing_rng(void *user, void *buf, size_t len) {
    (void)user;
    (void)buf;
    (void)len;
    return -1;
}

static cws_hs_client_opts sample_opts(void) {
    cws_hs_client_opts o;
    memset(&o, 0, sizeof o);
    o.host = "server.example.com";
    o.path = "/chat";
    o.rng = sample_rng;
    return o;
}

static void assert_str(cws_str s, const char *z) {
    assert_int_equal(s.len, strlen(z));
    if (s.len) assert_memory_equal(s.ptr, z, s.len);
}

static void test_request_format(void **state) {
    (void)state;
    cws_hs_client c;
    cws_hs_client_opts o = sample_opts();
    int calls = 0;
    o.rng_user = &calls;
    o.protocols = "chat, superchat";
    o.origin = "http://example.com";
    o.extra_headers = "Authorization: Bearer x\r\nX-Trace: 1\r\n";
    char out[1024];
    ptrdiff_t n = cws_hs_client_request(&c, &o, out, sizeof out);
    const char *want = "GET /chat HTTP/1.1\r\n"
                       "Host: server.example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Protocol: chat, superchat\r\n"
                       "Origin: http://example.com\r\n"
                       "Authorization: Bearer x\r\nX-Trace: 1\r\n"
                       "\r\n";
    assert_int_equal(n, (ptrdiff_t)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    assert_int_equal(calls, 1);
    assert_string_equal(c.key, KEY);
    assert_string_equal(c.accept, ACCEPT); /* RFC 6455 §1.3 */
    assert_string_equal(c.offered, "chat, superchat");
    assert_int_equal(c.max_size, CWS_HANDSHAKE_MAX_DEFAULT);

    /* Minimal: path defaults to "/", no optional fields. */
    o = sample_opts();
    o.path = NULL;
    o.max_size = 1234;
    n = cws_hs_client_request(&c, &o, out, sizeof out);
    want = "GET / HTTP/1.1\r\n"
           "Host: server.example.com\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Key: " KEY "\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "\r\n";
    assert_int_equal(n, (ptrdiff_t)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    assert_int_equal(c.max_size, 1234);
    assert_string_equal(c.offered, "");

    /* Every shorter capacity is NOSPACE. */
    for (size_t cap = 0; cap < (size_t)n; cap++)
        assert_int_equal(cws_hs_client_request(&c, &o, out, cap), CWS_ERR_NOSPACE);
}

static void test_request_default_rng(void **state) {
    (void)state;
    /* cws_random: a fresh, valid key each time. */
    cws_hs_client a, b;
    cws_hs_client_opts o = sample_opts();
    o.rng = NULL;
    char out[512];
    assert_true(cws_hs_client_request(&a, &o, out, sizeof out) > 0);
    assert_true(cws_hs_client_request(&b, &o, out, sizeof out) > 0);
    assert_int_equal(strlen(a.key), 24);
    assert_string_not_equal(a.key, b.key);
    uint8_t raw[18];
    assert_int_equal(cws_base64_decode(a.key, 24, raw, sizeof raw), 16);
    char acc[29];
    cws_str k = {a.key, 24};
    cws_hs_accept_key(k, acc);
    assert_string_equal(acc, a.accept);
    o.rng = failing_rng;
    assert_int_equal(cws_hs_client_request(&a, &o, out, sizeof out), CWS_ERR_RANDOM);
}

static void test_request_injection(void **state) {
    (void)state;
    cws_hs_client c;
    char out[1024];
    cws_hs_client_opts o;
    static const char *bad_values[] = {"a\r\nX-Evil: 1", "a\nb", "a\rb", "a\x01", "a\x7f"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        o = sample_opts();
        o.host = bad_values[i];
        assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
        o = sample_opts();
        o.path = bad_values[i];
        assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
        o = sample_opts();
        o.origin = bad_values[i];
        assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
        o = sample_opts();
        o.protocols = bad_values[i];
        assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    }
    static const char *bad_extra[] = {"X: 1", "X: 1\n", "X: 1\r\n\r\nGET / HTTP/1.1\r\n",
                                      "X: a\rb\r\n", "Bad Name: 1\r\n", "X: 1\r\nY: 2"};
    for (size_t i = 0; i < sizeof bad_extra / sizeof bad_extra[0]; i++) {
        o = sample_opts();
        o.extra_headers = bad_extra[i];
        assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    }
    /* Other refusals: no host, a path with a space or not starting with
     * '/', non-token subprotocols, an offered list too long to remember. */
    o = sample_opts();
    o.host = NULL;
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    o.host = "";
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    o.host = "a b";
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    o = sample_opts();
    o.path = "/a b";
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    o.path = "chat";
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    o.path = "/chat#top";
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    o.path = "/caf\xc3\xa9";
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    o.path = "/caf%C3%A9?q=a+b&x=~";
    assert_true(cws_hs_client_request(&c, &o, out, sizeof out) > 0);
    o = sample_opts();
    o.protocols = "chat, a b";
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    o.protocols = "chat;v=1";
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    char longlist[300];
    memset(longlist, 'p', sizeof longlist - 1);
    longlist[sizeof longlist - 1] = '\0';
    o.protocols = longlist;
    assert_int_equal(cws_hs_client_request(&c, &o, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws_hs_client_request(&c, NULL, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws_hs_client_request(NULL, &o, out, sizeof out), CWS_ERR_INVALID);
}

/* A client that offered protocols (may be NULL), ready to parse. */
static void client_for(cws_hs_client *c, const char *protocols) {
    cws_hs_client_opts o = sample_opts();
    o.protocols = protocols;
    char out[1024];
    assert_true(cws_hs_client_request(c, &o, out, sizeof out) > 0);
}

static ptrdiff_t check_response(const char *protocols, const char *z, ptrdiff_t want) {
    cws_hs_client c;
    client_for(&c, protocols);
    ptrdiff_t got = cws_hs_client_parse(&c, z, strlen(z));
    if (got != want) fail_msg("response:\n%s\ngot %td (%s), want %td", z, got, c.error ? c.error : "-", want);
    if (want < 0 && want != CWS_ERR_AGAIN) assert_non_null(c.error);
    return got;
}

#define OK_HEAD "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
#define GOOD_RESPONSE OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n"

static void test_response_rules(void **state) {
    (void)state;
    check_response(NULL, GOOD_RESPONSE, (ptrdiff_t)strlen(GOOD_RESPONSE));
    /* Case-insensitive names and tokens, token lists, OWS. */
    check_response(NULL,
                   "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\n"
                   "sec-websocket-accept:  " ACCEPT " \r\n\r\n",
                   (ptrdiff_t)strlen("HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\n"
                                     "sec-websocket-accept:  " ACCEPT " \r\n\r\n"));
    /* Status. */
    check_response(NULL, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", CWS_ERR_HS_STATUS);
    check_response(NULL, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   CWS_ERR_HS_STATUS);
    check_response(NULL, "HTTP/1.1 100 Continue\r\n\r\n", CWS_ERR_HS_STATUS);
    /* Malformed. */
    check_response(NULL, "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
                   CWS_ERR_HS_MALFORMED);
    check_response(NULL, "SSH-2.0-OpenSSH_9.2\r\n", CWS_ERR_HS_MALFORMED);
    check_response(NULL, OK_HEAD "Bad Name: x\r\n\r\n", CWS_ERR_HS_MALFORMED);
    check_response(NULL, OK_HEAD "X: a\r\n folded\r\n\r\n", CWS_ERR_HS_MALFORMED);
    check_response(NULL, "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\r\n\r\n",
                   CWS_ERR_HS_MALFORMED);
    /* Upgrade. */
    check_response(NULL, "HTTP/1.1 101 x\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
                   CWS_ERR_HS_UPGRADE);
    check_response(NULL, "HTTP/1.1 101 x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
                   CWS_ERR_HS_UPGRADE);
    /* Connection. */
    check_response(NULL, "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
                   CWS_ERR_HS_CONNECTION);
    check_response(NULL, "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                         "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
                   CWS_ERR_HS_CONNECTION);
    /* Accept: missing, wrong, wrong case, repeated (even if equal). */
    check_response(NULL, OK_HEAD "\r\n", CWS_ERR_HS_ACCEPT);
    check_response(NULL, OK_HEAD "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n\r\n",
                   CWS_ERR_HS_ACCEPT);
    check_response(NULL, OK_HEAD "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n\r\n",
                   CWS_ERR_HS_ACCEPT);
    check_response(NULL, OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "x\r\n\r\n", CWS_ERR_HS_ACCEPT);
    check_response(NULL, OK_HEAD "Sec-WebSocket-Accept:\r\n\r\n", CWS_ERR_HS_ACCEPT);
    check_response(NULL, OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
                   CWS_ERR_HS_ACCEPT);
    /* Extensions: these options offer none, so any is one we did not
     * offer (§4.1). An empty field names none (RFC 7230 §7: empty list
     * elements do not count), so it is accepted. */
    check_response(NULL, OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                         "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                   CWS_ERR_HS_EXTENSION);
    check_response(NULL, OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Extensions: x\r\n\r\n",
                   CWS_ERR_HS_EXTENSION);
    check_response(NULL, OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Extensions:\r\n\r\n",
                   (ptrdiff_t)strlen(OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Extensions:\r\n\r\n"));
    /* Too big. */
    cws_hs_client c;
    cws_hs_client_opts o = sample_opts();
    o.max_size = 40;
    char out[512];
    assert_true(cws_hs_client_request(&c, &o, out, sizeof out) > 0);
    assert_int_equal(cws_hs_client_parse(&c, GOOD_RESPONSE, strlen(GOOD_RESPONSE)), CWS_ERR_TOO_BIG);
    assert_int_equal(cws_hs_client_parse(NULL, GOOD_RESPONSE, 10), CWS_ERR_INVALID);
}

static void test_response_protocol(void **state) {
    (void)state;
    const char *resp = GOOD_RESPONSE;
    size_t head = strlen(resp);
    cws_hs_client c;
    /* Not offering and getting none. */
    client_for(&c, NULL);
    assert_int_equal(cws_hs_client_parse(&c, resp, head), (ptrdiff_t)head);
    assert_int_equal(c.protocol.len, 0);
    assert_null(c.error);

#define WITH_PROTO(p) OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\n" p "\r\n"
    client_for(&c, "chat, superchat");
    const char *z = WITH_PROTO("Sec-WebSocket-Protocol: superchat\r\n");
    assert_int_equal(cws_hs_client_parse(&c, z, strlen(z)), (ptrdiff_t)strlen(z));
    assert_str(c.protocol, "superchat");
    /* Not offered at all, a case variant, a prefix, two values, two fields, empty. */
    check_response(NULL, WITH_PROTO("Sec-WebSocket-Protocol: chat\r\n"), CWS_ERR_HS_PROTOCOL);
    check_response("chat, superchat", WITH_PROTO("Sec-WebSocket-Protocol: CHAT\r\n"), CWS_ERR_HS_PROTOCOL);
    check_response("chat, superchat", WITH_PROTO("Sec-WebSocket-Protocol: super\r\n"), CWS_ERR_HS_PROTOCOL);
    check_response("chat, superchat", WITH_PROTO("Sec-WebSocket-Protocol: chat, superchat\r\n"),
                   CWS_ERR_HS_PROTOCOL);
    check_response("chat, superchat",
                   WITH_PROTO("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
                   CWS_ERR_HS_PROTOCOL);
    check_response("chat", WITH_PROTO("Sec-WebSocket-Protocol:\r\n"), CWS_ERR_HS_PROTOCOL);
    /* Offering and getting none is allowed (the application decides). */
    check_response("chat", GOOD_RESPONSE, (ptrdiff_t)head);
#undef WITH_PROTO
}

static void test_response_splits(void **state) {
    (void)state;
    /* The 101 followed by a server frame ("Hello", unmasked) in one segment. */
    static const char frame[] = "\x81\x05Hello";
    const char *resp = OK_HEAD "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n";
    size_t head = strlen(resp), len = head + sizeof frame - 1;
    char *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, resp, head);
    memcpy(buf + head, frame, sizeof frame - 1);
    for (size_t k = 0; k <= len; k++) {
        cws_hs_client c;
        client_for(&c, "chat");
        char *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, buf, k);
        ptrdiff_t got = cws_hs_client_parse(&c, copy, k);
        free(copy);
        assert_int_equal(got, k < head ? CWS_ERR_AGAIN : (ptrdiff_t)head);
        got = cws_hs_client_parse(&c, buf, len);
        assert_int_equal(got, (ptrdiff_t)head);
        assert_str(c.protocol, "chat");
        assert_memory_equal(buf + got, frame, sizeof frame - 1);
    }
    /* Byte by byte, each call with a fresh copy of exactly k bytes. */
    cws_hs_client c;
    client_for(&c, "chat");
    ptrdiff_t got = CWS_ERR_AGAIN;
    size_t k = 0;
    while (got == CWS_ERR_AGAIN && k < len) {
        char *copy = malloc(++k);
        assert_non_null(copy);
        memcpy(copy, buf, k);
        got = cws_hs_client_parse(&c, copy, k);
        free(copy);
    }
    assert_int_equal(got, (ptrdiff_t)head);
    assert_int_equal(k, head);
    /* A failing response fails the same way at every split. */
    const char *bad = OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Extensions: x\r\n\r\n";
    for (k = 0; k <= strlen(bad); k++) {
        client_for(&c, NULL);
        got = cws_hs_client_parse(&c, bad, k);
        if (k < strlen(bad)) assert_int_equal(got, CWS_ERR_AGAIN);
        assert_int_equal(cws_hs_client_parse(&c, bad, strlen(bad)), CWS_ERR_HS_EXTENSION);
    }
    free(buf);
}

static int choose_last(void *user, const cws_hs_request *req) {
    (void)user;
    int i = 0;
    while (cws_hs_offered_protocol(req, (size_t)i + 1, NULL)) i++;
    return i;
}

static void test_round_trip(void **state) {
    (void)state;
    /* Our client's request through our server, and its answer back. */
    cws_hs_client c;
    cws_hs_client_opts o = sample_opts();
    o.rng = NULL;
    o.protocols = "v1.chat, v2.chat";
    o.origin = "https://app.example";
    o.path = "/room/7?since=99";
    char req[1024], resp[1024];
    ptrdiff_t n = cws_hs_client_request(&c, &o, req, sizeof req);
    assert_true(n > 0);
    cws_hs_request r;
    memset(&r, 0, sizeof r);
    cws_hs_server_opts so = {0};
    so.select_protocol = choose_last;
    assert_int_equal(cws_hs_server_parse(&r, &so, req, (size_t)n), n);
    assert_str(r.http.path, "/room/7");
    assert_str(r.origin, "https://app.example");
    cws_str v;
    assert_true(cws_http_query_param(r.http.query, "since", &v));
    assert_str(v, "99");
    ptrdiff_t m = cws_hs_accept(&r, NULL, resp, sizeof resp);
    assert_true(m > 0);
    assert_int_equal(cws_hs_client_parse(&c, resp, (size_t)m), m);
    assert_str(c.protocol, "v2.chat");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_format),
        cmocka_unit_test(test_request_default_rng),
        cmocka_unit_test(test_request_injection),
        cmocka_unit_test(test_response_rules),
        cmocka_unit_test(test_response_protocol),
        cmocka_unit_test(test_response_splits),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
