/* Server side of the opening handshake: every RFC 6455 §4.2.1 rule with
 * the exact HTTP status, plain-HTTP requests, the size limit, split
 * points, subprotocol choice, the Origin checks (same_origin,
 * allow_origins) and the origin callback, and the written responses. */
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

/* The RFC 6455 §1.2 request, with a query and keep-alive. */
static const char GOOD[] = "GET /chat?since=4 HTTP/1.1\r\n"
                           "Host: server.example.com\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: keep-alive, Upgrade\r\n"
                           "Sec-WebSocket-Key: " KEY "\r\n"
                           "Origin: http://example.com\r\n"
                           "Sec-WebSocket-Protocol: chat, superchat\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "\r\n";

static ptrdiff_t parse_opts(cws_hs_request *r, const cws_hs_server_opts *o, const char *z, size_t len) {
    memset(r, 0, sizeof *r);
    return cws_hs_server_parse(r, o, z, len);
}

static ptrdiff_t parse(cws_hs_request *r, const char *z) { return parse_opts(r, NULL, z, strlen(z)); }

static void assert_str(cws_str s, const char *z) {
    assert_int_equal(s.len, strlen(z));
    if (s.len) assert_memory_equal(s.ptr, z, s.len);
}

/* Builds a request from the good one: drop the field named drop (if not
 * NULL), replace the request line with line (if not NULL), and append
 * extra field lines. */
static size_t build(char *out, size_t cap, const char *line, const char *drop, const char *extra) {
    static const char *fields[] = {"Host: server.example.com", "Upgrade: websocket",
                                   "Connection: keep-alive, Upgrade", ("Sec-WebSocket-Key: " KEY),
                                   "Sec-WebSocket-Version: 13"};
    size_t n = (size_t)snprintf(out, cap, "%s\r\n", line ? line : "GET /chat HTTP/1.1");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (drop && strncmp(fields[i], drop, strlen(drop)) == 0) continue;
        n += (size_t)snprintf(out + n, cap - n, "%s\r\n", fields[i]);
    }
    n += (size_t)snprintf(out + n, cap - n, "%s\r\n", extra ? extra : "");
    assert_true(n < cap);
    return n;
}

/* The HTTP status a result of cws_hs_server_parse stands for. */
static int status_of(ptrdiff_t got) { return got > 0 ? 101 : cws_hs_status((int)got); }

static void expect(const char *line, const char *drop, const char *extra, ptrdiff_t want_ret,
                   int want_status) {
    char buf[2048];
    size_t n = build(buf, sizeof buf, line, drop, extra);
    cws_hs_request r;
    ptrdiff_t got = parse_opts(&r, NULL, buf, n);
    if (got != want_ret || status_of(got) != want_status)
        fail_msg("request:\n%s\ngot %td status %d (%s), want %td status %d", buf, got, status_of(got),
                 r.error ? r.error : "-", want_ret, want_status);
    if (want_ret < 0) assert_non_null(r.error);
}

static void test_accept_key_vector(void **state) {
    (void)state;
    char out[29];
    cws_str key = {KEY, 24};
    cws_hs_accept_key(key, out);
    assert_string_equal(out, ACCEPT); /* RFC 6455 §1.3 */
}

static void test_good_request(void **state) {
    (void)state;
    cws_hs_request r;
    size_t len = sizeof GOOD - 1;
    assert_int_equal(parse(&r, GOOD), (ptrdiff_t)len);
    assert_null(r.error);
    assert_str(r.http.method, "GET");
    assert_str(r.http.path, "/chat");
    assert_str(r.http.query, "since=4");
    assert_str(r.host, "server.example.com");
    assert_str(r.key, KEY);
    assert_str(r.origin, "http://example.com");
    assert_int_equal(r.protocol.len, 0); /* no selector: no subprotocol */
    cws_str v;
    assert_true(cws_http_query_param(r.http.query, "since", &v));
    assert_str(v, "4");
    assert_int_equal(cws_http_header(&r.http, "sec-websocket-version", &v), 1);
    assert_str(v, "13");

    char out[512];
    ptrdiff_t n = cws_hs_accept(&r, NULL, out, sizeof out);
    const char *want = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                       "\r\n";
    assert_int_equal(n, (ptrdiff_t)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    /* No Origin: empty, still accepted (non-browser clients send none). */
    char buf[1024];
    size_t len2 = build(buf, sizeof buf, NULL, NULL, NULL);
    assert_int_equal(parse_opts(&r, NULL, buf, len2), (ptrdiff_t)len2);
    assert_int_equal(r.origin.len, 0);
}

static void test_accepted_forms(void **state) {
    (void)state;
    char buf[2048];
    /* Case-insensitive names and tokens, lists over several fields, OWS. */
    const char *z = "GET / HTTP/1.1\r\n"
                    "HOST: h\r\n"
                    "upgrade: h2c\r\n"
                    "UPGRADE:   WebSocket  \r\n"
                    "connection: keep-alive\r\n"
                    "CONNECTION: foo, upgrade\r\n"
                    "sec-websocket-key:\t" KEY "\t\r\n"
                    "SEC-WEBSOCKET-VERSION: 13\r\n"
                    "\r\n";
    cws_hs_request r;
    assert_int_equal(parse(&r, z), (ptrdiff_t)strlen(z));
    assert_str(r.key, KEY);
    assert_str(r.host, "h");
    assert_int_equal(r.origin.len, 0);
    /* Content-Length: 0 is no body. */
    size_t n = build(buf, sizeof buf, "GET /x HTTP/1.1", NULL, "Content-Length: 0\r\n");
    assert_int_equal(parse_opts(&r, NULL, buf, n), (ptrdiff_t)n);
    /* Absolute form (RFC 6455 §4.2.1 allows an absolute URI). */
    n = build(buf, sizeof buf, "GET ws://server.example.com/chat?a=b HTTP/1.1", NULL, NULL);
    assert_int_equal(parse_opts(&r, NULL, buf, n), (ptrdiff_t)n);
    assert_str(r.http.path, "/chat");
    assert_str(r.http.query, "a=b");
    /* Extension offers are read and declined: nothing to echo. */
    n = build(buf, sizeof buf, NULL, NULL,
              "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
              "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n");
    assert_int_equal(parse_opts(&r, NULL, buf, n), (ptrdiff_t)n);
    char out[512];
    ptrdiff_t m = cws_hs_accept(&r, NULL, out, sizeof out);
    assert_true(m > 0);
    cws_http_head h;
    memset(&h, 0, sizeof h);
    assert_int_equal(cws_http_parse_response(&h, out, (size_t)m, 0), m);
    assert_int_equal(cws_http_header(&h, "Sec-WebSocket-Extensions", NULL), 0);
    assert_int_equal(cws_http_header(&h, "Sec-WebSocket-Protocol", NULL), 0);
}

static void test_rejections(void **state) {
    (void)state;
    /* 405 for another method (methods are case-sensitive). */
    expect("POST /chat HTTP/1.1", NULL, NULL, CWS_ERR_HS_METHOD, 405);
    expect("get /chat HTTP/1.1", NULL, NULL, CWS_ERR_HS_METHOD, 405);
    expect("HEAD /chat HTTP/1.1", NULL, NULL, CWS_ERR_HS_METHOD, 405);
    /* 400: HTTP version, target, Host. */
    expect("GET /chat HTTP/1.0", NULL, NULL, CWS_ERR_HS_BAD_REQUEST, 400);
    /* 505: only HTTP/1.0 and 1.1 are spoken (RFC 7230 §2.6). */
    expect("GET /chat HTTP/0.9", NULL, NULL, CWS_ERR_HS_HTTP_VERSION, 505);
    expect("GET /chat HTTP/1.2", NULL, NULL, CWS_ERR_HS_HTTP_VERSION, 505);
    expect("GET /chat HTTP/2.0", NULL, NULL, CWS_ERR_HS_HTTP_VERSION, 505);
    expect("GET /chat HTTP/9.9", NULL, NULL, CWS_ERR_HS_HTTP_VERSION, 505);
    expect("GET * HTTP/1.1", NULL, NULL, CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, "Host", NULL, CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, NULL, "Host: other\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, "Host", "Host:\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    /* Upgrade must hold the token websocket; without it, the key and
     * version still mark a handshake, refused rather than served. */
    expect(NULL, "Upgrade", NULL, CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, "Upgrade", "Upgrade: h2c\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    /* Connection must hold the token Upgrade. */
    expect(NULL, "Connection", NULL, CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, "Connection", "Connection: keep-alive\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, "Connection", "Connection: Upgrades\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, "Connection", "Connection: keep-alive Upgrade\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    /* A body would be mistaken for frames. */
    expect(NULL, NULL, "Content-Length: 5\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, NULL, "Transfer-Encoding: chunked\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    /* Sec-WebSocket-Version: missing or repeated 400, another value 426. */
    expect(NULL, "Sec-WebSocket-Version", NULL, CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, NULL, "Sec-WebSocket-Version: 13\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 8\r\n", CWS_ERR_HS_VERSION, 426);
    expect(NULL, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 013\r\n", CWS_ERR_HS_VERSION, 426);
    expect(NULL, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8\r\n", CWS_ERR_HS_VERSION, 426);
    expect(NULL, "Sec-WebSocket-Version", "Sec-WebSocket-Version:\r\n", CWS_ERR_HS_VERSION, 426);
    /* Sec-WebSocket-Key: exactly once, base64 of exactly 16 bytes. */
    expect(NULL, "Sec-WebSocket-Key", NULL, CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, NULL, "Sec-WebSocket-Key: " KEY "\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    static const char *bad_keys[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ",             /* unpadded */
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25jZR==",           /* non-zero trailing bits */
        "dGhlIHNhbXBsZSBub25j!Q==",
        "dGhlIHNhbXBsZSBub25jZWE=",           /* 17 bytes */
        "dGhlIHNhbXBsZSBub25j",               /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==",
        "dGhlIHNhbXBs ZSBub25jZQ==",
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Sec-WebSocket-Key: %s\r\n", bad_keys[i]);
        expect(NULL, "Sec-WebSocket-Key", extra, CWS_ERR_HS_BAD_REQUEST, 400);
    }
    /* Origin is a singleton; subprotocols must be tokens. */
    expect(NULL, NULL, "Origin: http://a\r\nOrigin: http://b\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, NULL, "Sec-WebSocket-Protocol: chat, su(per)\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, NULL, "Sec-WebSocket-Protocol: a b\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    /* Malformed heads with Upgrade: websocket: 400. */
    expect(NULL, NULL, "Bad Name: x\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, NULL, "X: y\r\n folded\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect(NULL, NULL, "X : y\r\n", CWS_ERR_HS_BAD_REQUEST, 400);
    expect("GET  /chat HTTP/1.1", NULL, NULL, CWS_ERR_HS_BAD_REQUEST, 400);
    /* The method decides first: a POST with a bad key is still a 405. */
    expect("POST /chat HTTP/1.1", "Sec-WebSocket-Key", NULL, CWS_ERR_HS_METHOD, 405);
    /* The version is checked before the key: an old client learns 13. */
    expect(NULL, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: x\r\n",
           CWS_ERR_HS_VERSION, 426);
}

static void test_nul_and_garbage(void **state) {
    (void)state;
    cws_hs_request r;
    char buf[2048];
    size_t n = build(buf, sizeof buf, NULL, NULL, "X-Pad: abcdef\r\n");
    char *at = strstr(buf, "abcdef");
    at[2] = '\0';
    assert_int_equal(parse_opts(&r, NULL, buf, n), CWS_ERR_HS_BAD_REQUEST);
    at[2] = '\r';
    assert_int_equal(parse_opts(&r, NULL, buf, n), CWS_ERR_HS_BAD_REQUEST);
    at[2] = '\n';
    assert_int_equal(parse_opts(&r, NULL, buf, n), CWS_ERR_HS_BAD_REQUEST);
    /* Random garbage never crashes and is never taken for an upgrade. */
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % 300);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (char)(seed >> 16);
        }
        ptrdiff_t got = parse_opts(&r, NULL, buf, len);
        assert_true(got == CWS_ERR_AGAIN || got == CWS_ERR_HS_BAD_REQUEST);
    }
    /* Mutations of a good request: one byte changed at every position. */
    size_t len = sizeof GOOD - 1;
    for (size_t i = 0; i < len; i++) {
        for (int v = 0; v < 256; v += 37) {
            memcpy(buf, GOOD, len);
            buf[i] = (char)v;
            ptrdiff_t got = parse_opts(&r, NULL, buf, len);
            assert_true(got == (ptrdiff_t)len || got == CWS_ERR_AGAIN || got == CWS_ERR_NOT_UPGRADE ||
                        (got < 0 && cws_hs_status((int)got) != 500));
        }
    }
}

static void test_status_of_each_refusal(void **state) {
    (void)state;
    assert_int_equal(cws_hs_status(CWS_ERR_HS_BAD_REQUEST), 400);
    assert_int_equal(cws_hs_status(CWS_ERR_HS_FORBIDDEN), 403);
    assert_int_equal(cws_hs_status(CWS_ERR_HS_METHOD), 405);
    assert_int_equal(cws_hs_status(CWS_ERR_HS_VERSION), 426);
    assert_int_equal(cws_hs_status(CWS_ERR_TOO_BIG), 431);
    assert_int_equal(cws_hs_status(CWS_ERR_NOMEM), 500);
    assert_int_equal(cws_hs_status(CWS_OK), 500);
}

static void test_not_upgrade(void **state) {
    (void)state;
    cws_hs_request r;
    const char *z = "GET /index.html?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nnext";
    assert_int_equal(parse(&r, z), CWS_ERR_NOT_UPGRADE);
    assert_int_equal(r.http.head_len, strlen(z) - 4);
    assert_str(r.http.path, "/index.html");
    assert_str(r.http.query, "x=1");
    assert_str(r.host, "a");
    /* Any method; another Upgrade protocol; Connection: Upgrade alone. */
    assert_int_equal(parse(&r, "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"),
                     CWS_ERR_NOT_UPGRADE);
    assert_str(r.http.method, "POST");
    assert_int_equal(parse(&r, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"),
                     CWS_ERR_NOT_UPGRADE);
    assert_int_equal(parse(&r, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocketx\r\n\r\n"),
                     CWS_ERR_NOT_UPGRADE);
    /* A handshake that lost its Upgrade field is still a handshake (it
     * carries Sec-WebSocket-Key or -Version): refused with 400, not served
     * as a page (RFC 6455 §4.2.1). */
    assert_int_equal(parse(&r, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     CWS_ERR_HS_BAD_REQUEST);
    assert_int_equal(parse(&r, "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     CWS_ERR_HS_BAD_REQUEST);
    assert_int_equal(parse(&r, "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: " KEY "\r\n\r\n"),
                     CWS_ERR_HS_BAD_REQUEST);
    /* HTTP/1.0 needs no Host. */
    assert_int_equal(parse(&r, "GET / HTTP/1.0\r\n\r\n"), CWS_ERR_NOT_UPGRADE);
    assert_int_equal(r.host.len, 0);
    /* RFC 7230 §5.4: HTTP/1.1 without Host, or two Hosts, is a 400. */
    assert_int_equal(parse(&r, "GET / HTTP/1.1\r\n\r\n"), CWS_ERR_HS_BAD_REQUEST);
    assert_int_equal(parse(&r, "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), CWS_ERR_HS_BAD_REQUEST);
    /* Malformed plain requests are 400 too. */
    assert_int_equal(parse(&r, "GET / HTTP/1.1\r\nHost: a\r\nBad Field\r\n\r\n"), CWS_ERR_HS_BAD_REQUEST);
}

static void test_splits_and_trailing_frame(void **state) {
    (void)state;
    /* The request followed by a masked "Hello" frame (RFC 6455 §5.7). */
    static const char frame[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    char buf[1024];
    size_t head = sizeof GOOD - 1, len = head + sizeof frame - 1;
    memcpy(buf, GOOD, head);
    memcpy(buf + head, frame, sizeof frame - 1);
    for (size_t k = 0; k <= len; k++) {
        cws_hs_request r;
        memset(&r, 0, sizeof r);
        char *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        ptrdiff_t got = cws_hs_server_parse(&r, NULL, copy, k);
        assert_int_equal(got, k < head ? CWS_ERR_AGAIN : (ptrdiff_t)head);
        got = cws_hs_server_parse(&r, NULL, copy, len);
        assert_int_equal(got, (ptrdiff_t)head);
        assert_str(r.key, KEY);
        assert_str(r.http.path, "/chat");
        assert_str(r.origin, "http://example.com");
        assert_memory_equal(copy + got, frame, sizeof frame - 1);
        free(copy);
    }
    /* Byte by byte, each call with a fresh copy of exactly k bytes. */
    cws_hs_request r;
    memset(&r, 0, sizeof r);
    ptrdiff_t got = CWS_ERR_AGAIN;
    size_t k = 0;
    while (got == CWS_ERR_AGAIN) {
        assert_true(k < len);
        char *copy = malloc(++k);
        assert_non_null(copy);
        memcpy(copy, buf, k);
        got = cws_hs_server_parse(&r, NULL, copy, k);
        if (got > 0) assert_str(r.host, "server.example.com");
        free(copy);
    }
    assert_int_equal(got, (ptrdiff_t)head);
    assert_int_equal(k, head);
    /* An error is reached the same way at every split. */
    const char *bad = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Version: 7\r\n"
                      "Sec-WebSocket-Key: " KEY "\r\n\r\n";
    for (k = 0; k <= strlen(bad); k++) {
        memset(&r, 0, sizeof r);
        got = cws_hs_server_parse(&r, NULL, bad, k);
        if (k < strlen(bad)) assert_int_equal(got, CWS_ERR_AGAIN);
        got = cws_hs_server_parse(&r, NULL, bad, strlen(bad));
        assert_int_equal(got, CWS_ERR_HS_VERSION);
    }
}

static void test_size_limit(void **state) {
    (void)state;
    cws_hs_request r;
    size_t cap = 3 * CWS_HANDSHAKE_MAX_DEFAULT;
    char *buf = malloc(cap);
    assert_non_null(buf);
    char pad[CWS_HANDSHAKE_MAX_DEFAULT];
    /* Default limit: a valid request padded to 8 KiB passes, 1 byte more fails. */
    size_t base = build(buf, cap, NULL, NULL, "X-Pad: \r\n");
    size_t fill = CWS_HANDSHAKE_MAX_DEFAULT - base;
    memset(pad, 'p', fill);
    pad[fill] = '\0';
    char extra[sizeof pad + 16];
    snprintf(extra, sizeof extra, "X-Pad: %s\r\n", pad);
    size_t n = build(buf, cap, NULL, NULL, extra);
    assert_int_equal(n, CWS_HANDSHAKE_MAX_DEFAULT);
    assert_int_equal(parse_opts(&r, NULL, buf, n), (ptrdiff_t)n);
    snprintf(extra, sizeof extra, "X-Pad: %sq\r\n", pad);
    n = build(buf, cap, NULL, NULL, extra);
    assert_int_equal(parse_opts(&r, NULL, buf, n), CWS_ERR_TOO_BIG);
    /* Byte by byte: AGAIN up to the limit, then 431. */
    memset(&r, 0, sizeof r);
    ptrdiff_t got = CWS_ERR_AGAIN;
    size_t k = 0;
    while (got == CWS_ERR_AGAIN && k < n) got = cws_hs_server_parse(&r, NULL, buf, ++k);
    assert_int_equal(got, CWS_ERR_TOO_BIG);
    assert_int_equal(k, CWS_HANDSHAKE_MAX_DEFAULT);
    /* A custom limit. */
    cws_hs_server_opts o = {0};
    o.max_size = 100;
    n = build(buf, cap, NULL, NULL, NULL);
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_TOO_BIG);
    o.max_size = n;
    assert_int_equal(parse_opts(&r, &o, buf, n), (ptrdiff_t)n);
    /* An endless line with no CRLF at all. */
    memset(buf, 'A', cap);
    assert_int_equal(parse_opts(&r, NULL, buf, cap), CWS_ERR_TOO_BIG);
    free(buf);
}

static size_t tiny_headers(char *buf, size_t cap, size_t count, const char *middle) {
    size_t n = (size_t)snprintf(buf, cap, "GET /t HTTP/1.1\r\n");
    for (size_t i = 0; i < count; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "a:%zu\r\n", i % 10);
        if (middle && i == count / 2) n += (size_t)snprintf(buf + n, cap - n, "%s", middle);
    }
    n += (size_t)snprintf(buf + n, cap - n,
                          "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: " KEY "\r\n\r\n");
    assert_true(n < cap);
    return n;
}

static void test_thousands_of_headers(void **state) {
    (void)state;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    assert_non_null(buf);
    cws_hs_request r;
    cws_hs_server_opts o = {0};
    o.max_size = cap;
    /* 50 000 tiny headers, within a 1 MiB limit: accepted, and validated. */
    size_t n = tiny_headers(buf, cap, 50000, "Host: h\r\n");
    assert_int_equal(parse_opts(&r, &o, buf, n), (ptrdiff_t)n);
    assert_int_equal(cws_http_header(&r.http, "a", NULL), 50000);
    n = tiny_headers(buf, cap, 50000, "Host: h\r\nHost: h2\r\n");
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_HS_BAD_REQUEST);
    n = tiny_headers(buf, cap, 50000, "Host: h\r\nSec-WebSocket-Key: " KEY "\r\n");
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_HS_BAD_REQUEST);
    n = tiny_headers(buf, cap, 50000, "Host: h\r\nSec-WebSocket-Version: 12\r\n");
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_HS_BAD_REQUEST);
    /* ... fed byte by byte. */
    n = tiny_headers(buf, cap, 20000, "Host: h\r\n");
    memset(&r, 0, sizeof r);
    ptrdiff_t got = CWS_ERR_AGAIN;
    for (size_t k = 1; k <= n && got == CWS_ERR_AGAIN; k++) got = cws_hs_server_parse(&r, &o, buf, k);
    assert_int_equal(got, (ptrdiff_t)n);
    /* Over the default limit: 431. */
    n = tiny_headers(buf, cap, 2000, "Host: h\r\n");
    assert_true(n > CWS_HANDSHAKE_MAX_DEFAULT);
    assert_int_equal(parse_opts(&r, NULL, buf, n), CWS_ERR_TOO_BIG);
    /* Within it: about 1500 headers. */
    n = tiny_headers(buf, cap, 1500, "Host: h\r\n");
    assert_true(n <= CWS_HANDSHAKE_MAX_DEFAULT);
    assert_int_equal(parse_opts(&r, NULL, buf, n), (ptrdiff_t)n);
    free(buf);
}

struct pick {
    int index;
    int calls;
    int origin_calls;
    const char *allow_origin;
};

static int pick_protocol(void *user, const cws_hs_request *req) {
    struct pick *p = user;
    p->calls++;
    assert_int_equal(req->key.len, 24); /* validated before the callback */
    return p->index;
}

static int check_origin(void *user, const cws_hs_request *req) {
    struct pick *p = user;
    p->origin_calls++;
    return cws_str_ieq(req->origin, p->allow_origin) ? 0 : 1;
}

static void test_subprotocols(void **state) {
    (void)state;
    char buf[2048], out[512];
    struct pick p = {0};
    cws_hs_server_opts o = {0};
    o.select_protocol = pick_protocol;
    o.user = &p;
    cws_hs_request r;
    size_t n = build(buf, sizeof buf, NULL, NULL,
                     "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Protocol: v2.json\r\n");
    cws_str s;
    assert_int_equal(parse_opts(&r, &o, buf, n), (ptrdiff_t)n);
    assert_true(cws_hs_offered_protocol(&r, 0, &s));
    assert_str(s, "chat");
    assert_true(cws_hs_offered_protocol(&r, 1, &s));
    assert_str(s, "superchat");
    assert_true(cws_hs_offered_protocol(&r, 2, &s));
    assert_str(s, "v2.json");
    assert_false(cws_hs_offered_protocol(&r, 3, &s));

    for (int i = -2; i <= 4; i++) {
        p.index = i;
        p.calls = 0;
        assert_int_equal(parse_opts(&r, &o, buf, n), (ptrdiff_t)n);
        assert_int_equal(p.calls, 1);
        static const char *names[] = {"chat", "superchat", "v2.json"};
        ptrdiff_t m = cws_hs_accept(&r, NULL, out, sizeof out);
        assert_true(m > 0);
        cws_http_head h;
        memset(&h, 0, sizeof h);
        assert_int_equal(cws_http_parse_response(&h, out, (size_t)m, 0), m);
        cws_str v;
        if (i >= 0 && i < 3) {
            assert_str(r.protocol, names[i]);
            assert_int_equal(cws_http_header(&h, "Sec-WebSocket-Protocol", &v), 1);
            assert_str(v, names[i]);
        } else {
            /* Out of range or -1: no subprotocol, and none in the answer. */
            assert_int_equal(r.protocol.len, 0);
            assert_int_equal(cws_http_header(&h, "Sec-WebSocket-Protocol", NULL), 0);
        }
    }
    /* Nothing offered: the selector is not asked. */
    p.calls = 0;
    n = build(buf, sizeof buf, NULL, NULL, NULL);
    assert_int_equal(parse_opts(&r, &o, buf, n), (ptrdiff_t)n);
    assert_int_equal(p.calls, 0);
    assert_int_equal(r.protocol.len, 0);
}

static void test_origin_check(void **state) {
    (void)state;
    char buf[2048];
    struct pick p = {0};
    p.allow_origin = "https://good.example";
    p.index = 0;
    cws_hs_server_opts o = {0};
    o.check_origin = check_origin;
    o.select_protocol = pick_protocol;
    o.user = &p;
    cws_hs_request r;
    size_t n = build(buf, sizeof buf, NULL, NULL,
                     "Origin: https://evil.example\r\nSec-WebSocket-Protocol: chat\r\n");
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_HS_FORBIDDEN);
    assert_non_null(r.error);
    assert_int_equal(p.origin_calls, 1);
    assert_int_equal(p.calls, 0); /* refused before any protocol choice */
    n = build(buf, sizeof buf, NULL, NULL,
              "Origin: https://GOOD.example\r\nSec-WebSocket-Protocol: chat\r\n");
    assert_int_equal(parse_opts(&r, &o, buf, n), (ptrdiff_t)n);
    assert_str(r.protocol, "chat");
    /* No Origin at all: the callback decides (here: refuse). */
    n = build(buf, sizeof buf, NULL, NULL, NULL);
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_HS_FORBIDDEN);
    /* An invalid request never reaches the callback. */
    p.origin_calls = 0;
    n = build(buf, sizeof buf, NULL, "Sec-WebSocket-Key", "Origin: https://good.example\r\n");
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_HS_BAD_REQUEST);
    assert_int_equal(p.origin_calls, 0);
}

/* A valid upgrade with the given Host and, unless NULL, Origin. */
static size_t origin_request(char *out, size_t cap, const char *host, const char *origin) {
    int n = snprintf(out, cap,
                     "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     host, origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "");
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* 1 if opts admit the request, 0 if they refuse it with 403 (any other
 * outcome fails the test). */
static int admitted(const cws_hs_server_opts *o, const char *host, const char *origin) {
    char buf[1024];
    cws_hs_request r;
    size_t n = origin_request(buf, sizeof buf, host, origin);
    ptrdiff_t got = parse_opts(&r, o, buf, n);
    if (got == (ptrdiff_t)n) return 1;
    assert_int_equal(got, CWS_ERR_HS_FORBIDDEN);
    assert_int_equal(cws_hs_status((int)got), 403);
    assert_non_null(r.error);
    return 0;
}

static void test_origin_default_open(void **state) {
    (void)state;
    cws_hs_server_opts o = {0};
    /* Neither same_origin nor allow_origins: the library checks nothing. */
    assert_true(admitted(&o, "127.0.0.1:8080", "https://evil.example"));
    assert_true(admitted(&o, "127.0.0.1:8080", "null"));
    assert_true(admitted(NULL, "127.0.0.1:8080", "https://evil.example"));
}

static void test_same_origin(void **state) {
    (void)state;
    cws_hs_server_opts o = {0};
    o.same_origin = 1;
    static const struct {
        const char *host, *origin;
        int ok;
    } cases[] = {
        {"127.0.0.1:8080", "http://127.0.0.1:8080", 1},
        {"127.0.0.1:8080", "https://127.0.0.1:8080", 1}, /* a TLS proxy in front */
        {"localhost:8080", "http://localhost:8080", 1},
        {"chat.example", "http://chat.example", 1},
        {"chat.example", "https://chat.example", 1},
        /* Default ports, both ways. */
        {"chat.example:80", "http://chat.example", 1},
        {"chat.example", "http://chat.example:80", 1},
        {"chat.example:443", "https://chat.example", 1},
        {"chat.example", "https://chat.example:443", 1},
        {"chat.example:443", "http://chat.example", 0},
        {"chat.example:80", "https://chat.example", 0},
        {"chat.example", "http://chat.example:8080", 0},
        /* Case-insensitive scheme and host. */
        {"Chat.Example:8080", "HTTP://chat.EXAMPLE:8080", 1},
        {"[::1]:8080", "http://[::1]:8080", 1},
        {"[::1]:8080", "http://[::2]:8080", 0},
        /* Another port, host or scheme. */
        {"127.0.0.1:8080", "http://127.0.0.1:8081", 0},
        {"127.0.0.1:8080", "http://localhost:8080", 0},
        {"127.0.0.1:8080", "http://127.0.0.10:8080", 0},
        {"127.0.0.1:8080", "http://127.0.0.1", 0},
        {"chat.example", "http://chat.example.evil", 0},
        {"chat.example", "ws://chat.example", 0},
        {"chat.example", "ftp://chat.example", 0},
        {"chat.example", "file://chat.example", 0},
        /* Opaque and malformed origins are nobody's. */
        {"chat.example", "null", 0},
        {"chat.example", "", 0},
        {"chat.example", "http://", 0},
        {"chat.example", "http:chat.example", 0},
        {"chat.example", "//chat.example", 0},
        {"chat.example", "chat.example", 0},
        {"chat.example:80", "http://chat.example:80:80", 0},
        {"chat.example:80", "http://chat.example:", 0},
        {"chat.example:80", "http://chat.example:0080", 0},
        {"chat.example:80", "http://chat.example:65616", 0}, /* 80 + 65536 */
        {"chat.example", "http://a@chat.example", 0},
        {"chat.example", "http://chat.example/", 0},
        {"chat.example", "http://chat.example/ws", 0},
        {"chat.example", "http://chat.example?", 0},
        {"chat.example", "http://chat.example#", 0},
        {"chat.example", "http://chat.example%2e", 0},
        {"chat.example", "http://chat .example", 0},
        {"chat.example", "http://chat.example ", 1}, /* OWS is not the value's (RFC 7230 §3.2.4) */
        {"[::1]", "http://[::1", 0},
        {"[::1]", "http://[]", 0},
        /* A Host field that is no host never matches. */
        {"chat.example:http", "http://chat.example", 0},
        {"a@chat.example", "http://a@chat.example", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = admitted(&o, cases[i].host, cases[i].origin);
        if (got != cases[i].ok) fail_msg("Host %s, Origin '%s': %d", cases[i].host, cases[i].origin, got);
    }
    /* Not a browser: no Origin, never refused. */
    assert_true(admitted(&o, "chat.example", NULL));
}

static void test_allow_origins(void **state) {
    (void)state;
    static const char *const list[] = {"https://a.example", "HTTP://B.example:8443", "null", NULL};
    cws_hs_server_opts o = {0};
    o.allow_origins = list;
    assert_true(admitted(&o, "127.0.0.1:8080", "https://a.example"));
    assert_true(admitted(&o, "127.0.0.1:8080", "https://A.EXAMPLE"));
    assert_true(admitted(&o, "127.0.0.1:8080", "http://b.example:8443"));
    assert_true(admitted(&o, "127.0.0.1:8080", "null"));
    assert_true(admitted(&o, "127.0.0.1:8080", NULL));
    /* A list entry is matched whole: no prefix, no default port. */
    assert_false(admitted(&o, "127.0.0.1:8080", "https://a.example:443"));
    assert_false(admitted(&o, "127.0.0.1:8080", "https://a.example.evil"));
    assert_false(admitted(&o, "127.0.0.1:8080", "https://a.exampl"));
    assert_false(admitted(&o, "127.0.0.1:8080", "http://a.example"));
    assert_false(admitted(&o, "127.0.0.1:8080", "http://b.example"));
    /* The list alone does not admit the server's own origin... */
    assert_false(admitted(&o, "127.0.0.1:8080", "http://127.0.0.1:8080"));
    /* ... same_origin adds it. */
    o.same_origin = 1;
    assert_true(admitted(&o, "127.0.0.1:8080", "http://127.0.0.1:8080"));
    assert_true(admitted(&o, "127.0.0.1:8080", "https://a.example"));
    assert_false(admitted(&o, "127.0.0.1:8080", "https://evil.example"));

    /* Without "null" listed, an opaque origin (sandboxed iframe, file:,
     * about:blank) is refused. */
    static const char *const one[] = {"https://a.example", NULL};
    o.allow_origins = one;
    assert_false(admitted(&o, "127.0.0.1:8080", "null"));

    /* "*" admits any Origin, malformed ones too. */
    static const char *const star[] = {"https://a.example", "*", NULL};
    o.same_origin = 0;
    o.allow_origins = star;
    assert_true(admitted(&o, "127.0.0.1:8080", "https://evil.example"));
    assert_true(admitted(&o, "127.0.0.1:8080", "null"));
    assert_true(admitted(&o, "127.0.0.1:8080", "http://x/y"));

    /* An empty list: no browser at all, non-browsers still. */
    static const char *const none[] = {NULL};
    o.allow_origins = none;
    assert_false(admitted(&o, "127.0.0.1:8080", "http://127.0.0.1:8080"));
    assert_true(admitted(&o, "127.0.0.1:8080", NULL));
}

static void test_origin_then_callback(void **state) {
    (void)state;
    struct pick p = {0};
    p.allow_origin = "https://a.example";
    cws_hs_server_opts o = {0};
    o.same_origin = 1;
    o.check_origin = check_origin;
    o.user = &p;
    /* Refused by same_origin: the callback is not asked. */
    assert_false(admitted(&o, "127.0.0.1:8080", "https://evil.example"));
    assert_int_equal(p.origin_calls, 0);
    /* Admitted by same_origin: the callback still has the last word. */
    assert_false(admitted(&o, "127.0.0.1:8080", "http://127.0.0.1:8080"));
    assert_int_equal(p.origin_calls, 1);
    p.allow_origin = "http://127.0.0.1:8080";
    assert_true(admitted(&o, "127.0.0.1:8080", "http://127.0.0.1:8080"));
    assert_int_equal(p.origin_calls, 2);
    /* The refusal names the rule. */
    char buf[1024];
    cws_hs_request r;
    size_t n = origin_request(buf, sizeof buf, "127.0.0.1:8080", "http://127.0.0.1:9");
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_HS_FORBIDDEN);
    assert_string_equal(r.error, "Origin not allowed");
    /* An empty Origin field is an Origin, and not an allowed one. */
    n = origin_request(buf, sizeof buf, "127.0.0.1:8080", "");
    assert_int_equal(parse_opts(&r, &o, buf, n), CWS_ERR_HS_FORBIDDEN);
    /* Every split point gives the same answer. */
    n = origin_request(buf, sizeof buf, "127.0.0.1:8080", "https://evil.example");
    for (size_t cut = 1; cut < n; cut++) {
        memset(&r, 0, sizeof r);
        assert_int_equal(cws_hs_server_parse(&r, &o, buf, cut), CWS_ERR_AGAIN);
        assert_int_equal(cws_hs_server_parse(&r, &o, buf, n), CWS_ERR_HS_FORBIDDEN);
    }
}

static void test_origin_ok(void **state) {
    (void)state;
    static const char *const good[] = {"*", "null", "NULL", "http://a.example", "https://a.example:8443",
                                       "http://127.0.0.1:8080", "http://[::1]:8080", "chrome-extension://abcdef",
                                       "HTTPS://A.EXAMPLE"};
    static const char *const bad[] = {"", " ", "**", "a.example", "http://", "http://a.example/",
                                      "http://a.example/path", "http://u@a.example", "http://a.example:",
                                      "http://a.example:99999", "http://a.example:1:2", "1http://a.example",
                                      "http://a.example\r\nX: 1", "null ", "http://[::1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!cws_hs_origin_ok(good[i])) fail_msg("refused '%s'", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cws_hs_origin_ok(bad[i])) fail_msg("accepted '%s'", bad[i]);
    assert_false(cws_hs_origin_ok(NULL));
}

static void check_reject(int status, const char *must_have) {
    char out[512];
    ptrdiff_t n = cws_hs_reject(status, out, sizeof out);
    assert_true(n > 0);
    cws_http_head h;
    memset(&h, 0, sizeof h);
    ptrdiff_t head = cws_http_parse_response(&h, out, (size_t)n, 0);
    assert_true(head > 0);
    assert_int_equal(h.status, status);
    assert_true(cws_http_has_token(&h, "Connection", "close"));
    cws_str v;
    assert_int_equal(cws_http_header(&h, "Content-Length", &v), 1);
    char len[16];
    snprintf(len, sizeof len, "%td", n - head);
    assert_true(cws_str_ieq(v, len));
    if (must_have) {
        const char *colon = strchr(must_have, ':');
        char name[64];
        memcpy(name, must_have, (size_t)(colon - must_have));
        name[colon - must_have] = '\0';
        assert_int_equal(cws_http_header(&h, name, &v), 1);
        assert_true(cws_str_ieq(v, colon + 2));
    }
    /* Every shorter capacity is NOSPACE. */
    for (size_t cap = 0; cap < (size_t)n; cap++)
        assert_int_equal(cws_hs_reject(status, out, cap), CWS_ERR_NOSPACE);
}

static void test_reject_responses(void **state) {
    (void)state;
    check_reject(400, NULL);
    check_reject(403, NULL);
    check_reject(405, "Allow: GET");
    check_reject(426, "Sec-WebSocket-Version: 13");
    check_reject(431, NULL);
    check_reject(503, NULL);
    char out[512];
    ptrdiff_t n = cws_hs_reject(426, out, sizeof out);
    cws_http_head h;
    memset(&h, 0, sizeof h);
    assert_true(cws_http_parse_response(&h, out, (size_t)n, 0) > 0);
    assert_true(cws_http_has_token(&h, "Upgrade", "websocket"));
    assert_int_equal(cws_hs_reject(101, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws_hs_reject(200, out, sizeof out), CWS_ERR_INVALID);
    n = cws_hs_reject(404, out, sizeof out);
    assert_true(n > 0);
    assert_memory_equal(out + n - 14, "404 Not Found\n", 14);
}

static void test_accept_response(void **state) {
    (void)state;
    cws_hs_request r;
    char out[512];
    assert_true(parse(&r, GOOD) > 0);
    ptrdiff_t n = cws_hs_accept(&r, "Set-Cookie: a=b\r\nX-Server: cws\r\n", out, sizeof out);
    const char *want = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                       "Set-Cookie: a=b\r\nX-Server: cws\r\n"
                       "\r\n";
    assert_int_equal(n, (ptrdiff_t)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    for (size_t cap = 0; cap < (size_t)n; cap++)
        assert_int_equal(cws_hs_accept(&r, "Set-Cookie: a=b\r\nX-Server: cws\r\n", out, cap),
                         CWS_ERR_NOSPACE);
    assert_int_equal(cws_hs_accept(&r, "X: a\r\nInjected", out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws_hs_accept(&r, "X: a\r\n\r\nbody", out, sizeof out), CWS_ERR_INVALID);
    /* Only after a successful parse. */
    cws_hs_request bad;
    memset(&bad, 0, sizeof bad);
    assert_int_equal(cws_hs_accept(&bad, NULL, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(parse(&bad, "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"),
                     CWS_ERR_HS_METHOD);
    assert_int_equal(cws_hs_accept(&bad, NULL, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws_hs_server_parse(NULL, NULL, GOOD, 10), CWS_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_vector),
        cmocka_unit_test(test_good_request),
        cmocka_unit_test(test_accepted_forms),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_nul_and_garbage),
        cmocka_unit_test(test_status_of_each_refusal),
        cmocka_unit_test(test_not_upgrade),
        cmocka_unit_test(test_splits_and_trailing_frame),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_thousands_of_headers),
        cmocka_unit_test(test_subprotocols),
        cmocka_unit_test(test_origin_check),
        cmocka_unit_test(test_origin_default_open),
        cmocka_unit_test(test_same_origin),
        cmocka_unit_test(test_allow_origins),
        cmocka_unit_test(test_origin_then_callback),
        cmocka_unit_test(test_origin_ok),
        cmocka_unit_test(test_reject_responses),
        cmocka_unit_test(test_accept_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
