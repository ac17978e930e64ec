/* The HTTP/1.1 head tokenizer: start lines, field lines, every RFC 7230
 * rejection, the size limit, incremental feeding at every split point
 * (each call gets a fresh heap copy of exactly the bytes given, so ASan
 * catches any read past them), token lists, query strings and the
 * response writer. */
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

/* Parses buf[0..len) from a fresh heap copy of exactly len bytes; the
 * copy is freed, so only offsets (not pointers) of h stay meaningful. */
static ptrdiff_t feed(cws_http_head *h, int request, const char *buf, size_t len, size_t max,
                      cws_http_head *snap) {
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    ptrdiff_t n = request ? cws_http_parse_request(h, copy, len, max)
                          : cws_http_parse_response(h, copy, len, max);
    if (snap) {
        /* Rebase every pointer onto buf so results can be compared. */
        *snap = *h;
        cws_str *s[] = {&snap->method, &snap->target, &snap->path, &snap->query, &snap->reason,
                        &snap->fields};
        for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
            if (s[i]->ptr >= copy && s[i]->ptr <= copy + len) s[i]->ptr = buf + (s[i]->ptr - copy);
    }
    free(copy);
    return n;
}

static void assert_same_head(const cws_http_head *a, const cws_http_head *b) {
    const cws_str *sa[] = {&a->method, &a->target, &a->path, &a->query, &a->reason, &a->fields};
    const cws_str *sb[] = {&b->method, &b->target, &b->path, &b->query, &b->reason, &b->fields};
    for (size_t i = 0; i < sizeof sa / sizeof sa[0]; i++) {
        assert_int_equal(sa[i]->len, sb[i]->len);
        if (sa[i]->len) assert_memory_equal(sa[i]->ptr, sb[i]->ptr, sa[i]->len);
    }
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->version_major, b->version_major);
    assert_int_equal(a->version_minor, b->version_minor);
    assert_int_equal(a->head_len, b->head_len);
}

/* One shot, then every pair of chunks (prefix k, then the whole), then
 * byte by byte: all must agree on the result and on every field. */
static ptrdiff_t check_splits(int request, const char *buf, size_t len, size_t max) {
    cws_http_head one, got;
    memset(&one, 0, sizeof one);
    cws_http_head h1;
    memset(&h1, 0, sizeof h1);
    ptrdiff_t want = feed(&h1, request, buf, len, max, &one);
    assert_int_not_equal(want, CWS_ERR_AGAIN);
    for (size_t k = 0; k < len; k++) {
        cws_http_head h;
        memset(&h, 0, sizeof h);
        ptrdiff_t r = feed(&h, request, buf, k, max, NULL);
        if (r != CWS_ERR_AGAIN) {
            /* Decided early: an error, or a head followed by other bytes. */
            assert_int_equal(r, want);
            if (r > 0) assert_true(k >= (size_t)r);
            continue;
        }
        r = feed(&h, request, buf, len, max, &got);
        assert_int_equal(r, want);
        if (r > 0) assert_same_head(&got, &one);
    }
    cws_http_head h;
    memset(&h, 0, sizeof h);
    ptrdiff_t r = CWS_ERR_AGAIN;
    for (size_t k = 1; k <= len && r == CWS_ERR_AGAIN; k++) r = feed(&h, request, buf, k, max, &got);
    assert_int_equal(r, want);
    if (r > 0) assert_same_head(&got, &one);
    return want;
}

static ptrdiff_t req(cws_http_head *h, const char *z) {
    memset(h, 0, sizeof *h);
    return cws_http_parse_request(h, z, strlen(z), 0);
}

static ptrdiff_t resp(cws_http_head *h, const char *z) {
    memset(h, 0, sizeof *h);
    return cws_http_parse_response(h, z, strlen(z), 0);
}

static void assert_str(cws_str s, const char *z) {
    assert_int_equal(s.len, strlen(z));
    assert_memory_equal(s.ptr, z, s.len);
}

static void test_request_line(void **state) {
    (void)state;
    cws_http_head h;
    const char *z = "GET /chat?since=4&x=y HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(req(&h, z), (ptrdiff_t)strlen(z));
    assert_str(h.method, "GET");
    assert_str(h.target, "/chat?since=4&x=y");
    assert_str(h.path, "/chat");
    assert_str(h.query, "since=4&x=y");
    assert_int_equal(h.version_major, 1);
    assert_int_equal(h.version_minor, 1);
    assert_str(h.fields, "Host: a\r\n");
    assert_int_equal(h.head_len, strlen(z));

    assert_true(req(&h, "POST / HTTP/1.0\r\n\r\n") > 0);
    assert_str(h.method, "POST");
    assert_str(h.path, "/");
    assert_int_equal(h.query.len, 0);
    assert_int_equal(h.fields.len, 0);
    assert_int_equal(h.version_minor, 0);

    assert_true(req(&h, "GET /a? HTTP/2.0\r\n\r\n") > 0);
    assert_str(h.path, "/a");
    assert_int_equal(h.query.len, 0);
    assert_int_equal(h.version_major, 2);

    /* Absolute form (RFC 7230 §5.3.2): routing sees the path only. */
    assert_true(req(&h, "GET http://example.com:8080/ws?a=1 HTTP/1.1\r\n\r\n") > 0);
    assert_str(h.target, "http://example.com:8080/ws?a=1");
    assert_str(h.path, "/ws");
    assert_str(h.query, "a=1");
    assert_true(req(&h, "GET wss://example.com HTTP/1.1\r\n\r\n") > 0);
    assert_str(h.path, "/");
    assert_int_equal(h.query.len, 0);
    assert_true(req(&h, "OPTIONS * HTTP/1.1\r\n\r\n") > 0);
    assert_str(h.path, "*");
}

static void test_bad_request_lines(void **state) {
    (void)state;
    static const char *bad[] = {
        "GET  / HTTP/1.1\r\n\r\n",        /* two spaces */
        "GET /  HTTP/1.1\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET\t/ HTTP/1.1\r\n\r\n",        /* HTAB is not SP */
        "GET /\tx HTTP/1.1\r\n\r\n",
        "GET / http/1.1\r\n\r\n",         /* the name is case-sensitive */
        "GET / HTTP/1.10\r\n\r\n",
        "GET / HTTP/11\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
        "GET / HTTP/\r\n\r\n",
        "GET /\r\n\r\n",                  /* HTTP/0.9 style */
        "GET\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",         /* method must be a token */
        "\r\nGET / HTTP/1.1\r\n\r\n",     /* leading empty line */
        "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cws_http_head h;
        assert_int_equal(req(&h, bad[i]), CWS_ERR_INVALID);
        check_splits(1, bad[i], strlen(bad[i]), 0);
    }
}

static void test_field_lines(void **state) {
    (void)state;
    cws_http_head h;
    const char *z = "GET / HTTP/1.1\r\n"
                    "Host:example.com\r\n"
                    "X-Empty:\r\n"
                    "x-ows: \t value with  inner  space \t\r\n"
                    "UPGRADE: websocket\r\n"
                    "Obs-Text: caf\xc3\xa9\r\n"
                    "upgrade: other\r\n"
                    "\r\n";
    assert_int_equal(req(&h, z), (ptrdiff_t)strlen(z));
    size_t pos = 0;
    cws_str k, v;
    assert_true(cws_http_next_header(&h, &pos, &k, &v));
    assert_str(k, "Host");
    assert_str(v, "example.com");
    assert_true(cws_http_next_header(&h, &pos, &k, &v));
    assert_str(k, "X-Empty");
    assert_int_equal(v.len, 0);
    assert_true(cws_http_next_header(&h, &pos, &k, &v));
    assert_str(k, "x-ows");
    assert_str(v, "value with  inner  space");
    assert_true(cws_http_next_header(&h, &pos, &k, &v));
    assert_true(cws_http_next_header(&h, &pos, &k, &v));
    assert_str(v, "caf\xc3\xa9");
    assert_true(cws_http_next_header(&h, &pos, &k, &v));
    assert_false(cws_http_next_header(&h, &pos, &k, &v));
    assert_false(cws_http_next_header(&h, &pos, &k, &v));

    assert_int_equal(cws_http_header(&h, "upgrade", &v), 2);
    assert_str(v, "websocket");
    assert_int_equal(cws_http_header(&h, "X-OWS", NULL), 1);
    assert_int_equal(cws_http_header(&h, "missing", &v), 0);
    assert_true(cws_http_has_token(&h, "Upgrade", "WebSocket"));
    assert_true(cws_http_has_token(&h, "upgrade", "OTHER"));
    assert_false(cws_http_has_token(&h, "Upgrade", "h2c"));
    assert_false(cws_http_has_token(&h, "Connection", "Upgrade"));
}

static void test_bad_field_lines(void **state) {
    (void)state;
    static const char *bad[] = {
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",        /* space before the colon */
        "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", /* obs-fold, RFC 7230 §3.2.4 */
        "GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",        /* whitespace after the start line */
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nBad(Name): x\r\n\r\n",
        "GET / HTTP/1.1\r\nBad\"Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nH\xc3\xa9: x\r\n\r\n",      /* non-ASCII name */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cws_http_head h;
        assert_int_equal(req(&h, bad[i]), CWS_ERR_INVALID);
        check_splits(1, bad[i], strlen(bad[i]), 0);
    }
}

static void test_control_bytes(void **state) {
    (void)state;
    /* NUL, bare CR, bare LF and other controls, anywhere in the head. */
    static const char good[] = "GET /p HTTP/1.1\r\nHost: a\r\nX: v\r\n\r\n";
    size_t len = sizeof good - 1;
    static const char evil[] = {'\0', '\r', '\n', '\x01', '\x1b', '\x7f'};
    for (size_t at = 0; at < len - 4; at++) {
        for (size_t e = 0; e < sizeof evil; e++) {
            char buf[64];
            memcpy(buf, good, len);
            if (good[at] == '\r' || good[at] == '\n') continue;
            buf[at] = evil[e];
            cws_http_head h;
            memset(&h, 0, sizeof h);
            ptrdiff_t r = cws_http_parse_request(&h, buf, len, 0);
            assert_int_equal(r, CWS_ERR_INVALID);
            check_splits(1, buf, len, 0);
        }
    }
    /* CR before a non-LF, LF without CR, at line ends. */
    cws_http_head h;
    assert_int_equal(req(&h, "GET / HTTP/1.1\nHost: a\r\n\r\n"), CWS_ERR_INVALID);
    assert_int_equal(req(&h, "GET / HTTP/1.1\r\nHost: a\n\r\n"), CWS_ERR_INVALID);
    assert_int_equal(req(&h, "GET / HTTP/1.1\r\nHost: a\r\n\n"), CWS_ERR_INVALID);
    assert_int_equal(req(&h, "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"), CWS_ERR_INVALID);
    assert_int_equal(req(&h, "GET / HTTP/1.1\r\nHost: a\r\n\r\r"), CWS_ERR_INVALID);
    /* HTAB is allowed inside a value. */
    assert_true(req(&h, "GET / HTTP/1.1\r\nX: a\tb\r\n\r\n") > 0);
}

/* Every byte value in a field value, at every position of a value long
 * enough for the wide scan and its scalar tail: only controls other than
 * HTAB (and DEL) are refused; obs-text (>= 0x80) is allowed. */
static void test_every_byte_in_value(void **state) {
    (void)state;
    static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ";
    static const char post[] = "\r\n\r\n";
    enum { VLEN = 40 };
    for (int c = 0; c < 256; c++) {
        int ok = (c >= 0x20 && c != 0x7f) || c == '\t';
        for (size_t at = 1; at < VLEN - 1; at++) {
            char buf[128];
            size_t n = 0;
            memcpy(buf, pre, sizeof pre - 1);
            n += sizeof pre - 1;
            memset(buf + n, 'v', VLEN);
            buf[n + at] = (char)c;
            n += VLEN;
            memcpy(buf + n, post, sizeof post - 1);
            n += sizeof post - 1;
            cws_http_head h;
            memset(&h, 0, sizeof h);
            ptrdiff_t r = cws_http_parse_request(&h, buf, n, 0);
            if (ok) assert_int_equal(r, (ptrdiff_t)n);
            else assert_int_equal(r, CWS_ERR_INVALID);
        }
    }
}

/* Every byte value inside a field name: accepted exactly for tchar
 * (RFC 7230 §3.2.6). ':' is left out: "X:Y: v" is the field X. */
static void test_every_byte_in_name(void **state) {
    (void)state;
    static const char tchars[] = "!#$%&'*+-.^_`|~";
    for (int c = 0; c < 256; c++) {
        if (c == ':') continue;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c != 0 && strchr(tchars, c) != NULL);
        char buf[64];
        int n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\nXX?Y: v\r\n\r\n");
        char *q = memchr(buf, '?', (size_t)n);
        assert_non_null(q);
        *q = (char)c;
        cws_http_head h;
        memset(&h, 0, sizeof h);
        ptrdiff_t r = cws_http_parse_request(&h, buf, (size_t)n, 0);
        if (ok) assert_int_equal(r, n);
        else assert_int_equal(r, CWS_ERR_INVALID);
    }
}

static void test_fail_fast(void **state) {
    (void)state;
    /* Garbage is refused when its first line ends, not at the size limit. */
    cws_http_head h;
    memset(&h, 0, sizeof h);
    const char *z = "\x16\x03\x01\x02\x00";  /* a TLS ClientHello */
    assert_int_equal(cws_http_parse_request(&h, z, 5, 0), CWS_ERR_INVALID);
    memset(&h, 0, sizeof h);
    z = "hello world\r\n";
    assert_int_equal(cws_http_parse_request(&h, z, strlen(z), 0), CWS_ERR_INVALID);
    memset(&h, 0, sizeof h);
    z = "GET / HTTP/1.1\r\nbroken line\r\nX: y";
    assert_int_equal(cws_http_parse_request(&h, z, strlen(z), 0), CWS_ERR_INVALID);
    /* The error sticks if the caller tries again with more bytes. */
    z = "GET / HTTP/1.1\r\nbroken line\r\nX: y\r\n\r\n";
    assert_int_equal(cws_http_parse_request(&h, z, strlen(z), 0), CWS_ERR_INVALID);
}

static void test_bytes_after_head(void **state) {
    (void)state;
    const char z[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    size_t head = strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(check_splits(1, z, sizeof z - 1, 0), (ptrdiff_t)head);
    /* Even bytes that would be illegal in a head are not looked at. */
    const char y[] = "GET / HTTP/1.1\r\n\r\n\0\r\r\n\n";
    assert_int_equal(check_splits(1, y, sizeof y - 1, 0), 18);
}

static void test_splits_request(void **state) {
    (void)state;
    const char *z = "GET /chat?since=4 HTTP/1.1\r\n"
                    "Host: server.example.com\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: keep-alive, Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Origin: http://example.com\r\n"
                    "Sec-WebSocket-Protocol: chat, superchat\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "\r\n";
    assert_int_equal(check_splits(1, z, strlen(z), 0), (ptrdiff_t)strlen(z));
}

static void test_response(void **state) {
    (void)state;
    cws_http_head h;
    const char *z = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    assert_int_equal(resp(&h, z), (ptrdiff_t)strlen(z));
    assert_int_equal(h.status, 101);
    assert_str(h.reason, "Switching Protocols");
    assert_str(h.fields, "Upgrade: websocket\r\n");
    assert_int_equal(check_splits(0, z, strlen(z), 0), (ptrdiff_t)strlen(z));
    assert_true(resp(&h, "HTTP/1.0 404 \r\n\r\n") > 0);
    assert_int_equal(h.status, 404);
    assert_int_equal(h.reason.len, 0);
    assert_int_equal(h.version_minor, 0);

    static const char *bad[] = {
        "HTTP/1.1 101\r\n\r\n",   /* the SP before the reason is required */
        "HTTP/1.1 10 x\r\n\r\n",  "HTTP/1.1 1011 x\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",
        "HTTP/1.1 abc x\r\n\r\n", "HTTP/1.1  101 x\r\n\r\n", "http/1.1 101 x\r\n\r\n",
        "HTTP/1.1 101 x\r\nUpgrade : websocket\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(resp(&h, bad[i]), CWS_ERR_INVALID);
        check_splits(0, bad[i], strlen(bad[i]), 0);
    }
}

static void test_size_limit(void **state) {
    (void)state;
    /* A head of exactly max bytes fits; one byte more does not. */
    char buf[300];
    const char *start = "GET / HTTP/1.1\r\nX: ";
    size_t max = 200;
    memset(buf, 'a', sizeof buf);
    memcpy(buf, start, strlen(start));
    memcpy(buf + max - 4, "\r\n\r\n", 4);
    assert_int_equal(check_splits(1, buf, max, max), (ptrdiff_t)max);
    assert_int_equal(check_splits(1, buf, sizeof buf, max), (ptrdiff_t)max);
    memset(buf, 'a', sizeof buf);
    memcpy(buf, start, strlen(start));
    memcpy(buf + max - 3, "\r\n\r\n", 4);
    assert_int_equal(check_splits(1, buf, max + 1, max), CWS_ERR_TOO_BIG);
    /* Exactly max bytes and no end yet: no head can fit any more. */
    cws_http_head h;
    memset(&h, 0, sizeof h);
    assert_int_equal(cws_http_parse_request(&h, buf, max - 1, max), CWS_ERR_AGAIN);
    assert_int_equal(cws_http_parse_request(&h, buf, max, max), CWS_ERR_TOO_BIG);
    assert_int_equal(cws_http_parse_request(&h, buf, max + 50, max), CWS_ERR_TOO_BIG);
    /* max 0 means the default, 8 KiB. */
    char *big = malloc(CWS_HANDSHAKE_MAX_DEFAULT + 10);
    assert_non_null(big);
    memset(big, 'a', CWS_HANDSHAKE_MAX_DEFAULT + 10);
    memcpy(big, start, strlen(start));
    memset(&h, 0, sizeof h);
    assert_int_equal(cws_http_parse_request(&h, big, CWS_HANDSHAKE_MAX_DEFAULT - 1, 0), CWS_ERR_AGAIN);
    assert_int_equal(cws_http_parse_request(&h, big, CWS_HANDSHAKE_MAX_DEFAULT, 0), CWS_ERR_TOO_BIG);
    /* A very long header line within the limit is fine. */
    memcpy(big + CWS_HANDSHAKE_MAX_DEFAULT - 4, "\r\n\r\n", 4);
    memset(&h, 0, sizeof h);
    assert_int_equal(cws_http_parse_request(&h, big, CWS_HANDSHAKE_MAX_DEFAULT, 0),
                     CWS_HANDSHAKE_MAX_DEFAULT);
    cws_str v;
    assert_int_equal(cws_http_header(&h, "x", &v), 1);
    assert_int_equal(v.len, CWS_HANDSHAKE_MAX_DEFAULT - strlen(start) - 4);
    free(big);
}

static void test_byte_at_a_time_large(void **state) {
    (void)state;
    /* 1 MiB of small headers fed one byte at a time: the resumable scan
     * keeps this linear (a rescan per byte would take minutes). */
    size_t n = 100000, cap = 64 + n * 12;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
    for (size_t i = 0; i < n; i++) len += (size_t)sprintf(buf + len, "X%05zu: v\r\n", i);
    len += (size_t)sprintf(buf + len, "\r\n");
    cws_http_head h;
    memset(&h, 0, sizeof h);
    ptrdiff_t r = CWS_ERR_AGAIN;
    size_t k = 0;
    while (r == CWS_ERR_AGAIN && k < len) r = cws_http_parse_request(&h, buf, ++k, len);
    assert_int_equal(r, (ptrdiff_t)len);
    size_t pos = 0, count = 0;
    cws_str name, value;
    while (cws_http_next_header(&h, &pos, &name, &value)) {
        assert_str(value, "v");
        count++;
    }
    assert_int_equal(count, n);
    free(buf);
}

static void test_byte_at_a_time_long_line(void **state) {
    (void)state;
    /* One 4 MiB field line fed one byte at a time: finding where the line
     * starts once per line, not once per call, keeps this linear (a walk
     * back per call takes over half an hour: tests/run.sh times it out). */
    size_t n = (size_t)4 << 20, cap = n + 64;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nX: ");
    memset(buf + len, 'v', n);
    len += n;
    len += (size_t)sprintf(buf + len, "\r\n\r\n");
    cws_http_head h;
    memset(&h, 0, sizeof h);
    ptrdiff_t r = CWS_ERR_AGAIN;
    size_t k = 0;
    while (r == CWS_ERR_AGAIN && k < len) r = cws_http_parse_request(&h, buf, ++k, len);
    assert_int_equal(r, (ptrdiff_t)len);
    cws_str v;
    assert_int_equal(cws_http_header(&h, "X", &v), 1);
    assert_int_equal(v.len, n);
    free(buf);
}

static void test_reparse_after_done(void **state) {
    (void)state;
    /* A finished head parsed again (even from a moved buffer) re-points. */
    const char *z = "GET /x HTTP/1.1\r\nA: b\r\n\r\nrest";
    char *one = malloc(strlen(z) + 1), *two = malloc(strlen(z) + 1);
    assert_true(one && two);
    memcpy(one, z, strlen(z) + 1);
    memcpy(two, z, strlen(z) + 1);
    cws_http_head h;
    memset(&h, 0, sizeof h);
    assert_int_equal(cws_http_parse_request(&h, one, strlen(z), 0), 25);
    assert_int_equal(cws_http_parse_request(&h, two, strlen(z), 0), 25);
    assert_ptr_equal(h.path.ptr, two + 4);
    assert_ptr_equal(h.fields.ptr, two + 17);
    free(one);
    free(two);
    assert_int_equal(cws_http_parse_request(&h, z, 10, 0), CWS_ERR_INVALID); /* shrank */
    assert_int_equal(cws_http_parse_request(NULL, z, 10, 0), CWS_ERR_INVALID);
    memset(&h, 0, sizeof h);
    assert_int_equal(cws_http_parse_request(&h, NULL, 10, 0), CWS_ERR_INVALID);
    assert_int_equal(cws_http_parse_request(&h, NULL, 0, 0), CWS_ERR_AGAIN);
}

static void test_tokens(void **state) {
    (void)state;
    cws_str list = {" a, ,b,,\t c d ,", 15}, t;
    assert_true(cws_http_next_token(&list, &t));
    assert_str(t, "a");
    assert_true(cws_http_next_token(&list, &t));
    assert_str(t, "b");
    assert_true(cws_http_next_token(&list, &t));
    assert_str(t, "c d");
    assert_false(cws_http_next_token(&list, &t));
    assert_false(cws_http_next_token(&list, &t));
    cws_str empty = {"", 0};
    assert_false(cws_http_next_token(&empty, &t));
    cws_str commas = {" , ,, ", 6};
    assert_false(cws_http_next_token(&commas, &t));

    cws_http_head h;
    const char *z = "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: foo,UPGRADE\r\n"
                    "Connection2: websocket\r\nX: upgrades\r\n\r\n";
    assert_true(req(&h, z) > 0);
    assert_true(cws_http_has_token(&h, "connection", "upgrade"));
    assert_true(cws_http_has_token(&h, "CONNECTION", "Keep-Alive"));
    assert_false(cws_http_has_token(&h, "Connection", "websocket"));
    assert_false(cws_http_has_token(&h, "X", "upgrade"));
    assert_false(cws_http_has_token(&h, "Connection", "upgrad"));
}

static void test_query_param(void **state) {
    (void)state;
    const char *z = "since=42&room=a%20b&flag&empty=&since=7&=x";
    cws_str q = {z, strlen(z)}, v;
    assert_true(cws_http_query_param(q, "since", &v));
    assert_str(v, "42");
    assert_true(cws_http_query_param(q, "room", &v));
    assert_str(v, "a%20b");
    assert_true(cws_http_query_param(q, "flag", &v));
    assert_int_equal(v.len, 0);
    assert_true(cws_http_query_param(q, "empty", &v));
    assert_int_equal(v.len, 0);
    assert_false(cws_http_query_param(q, "sinc", &v));
    assert_false(cws_http_query_param(q, "Since", &v));
    assert_false(cws_http_query_param(q, "x", &v));
    assert_true(cws_http_query_param(q, "", &v));
    assert_str(v, "x");
    cws_str none = {"", 0};
    assert_false(cws_http_query_param(none, "a", &v));
    assert_false(cws_http_query_param(q, NULL, &v));

    cws_http_head h;
    assert_true(req(&h, "GET /feed?since=1234&x=1 HTTP/1.1\r\n\r\n") > 0);
    assert_true(cws_http_query_param(h.query, "since", &v));
    assert_str(v, "1234");
}

static void test_str_ieq(void **state) {
    (void)state;
    cws_str s = {"WebSocket!", 9};
    assert_true(cws_str_ieq(s, "websocket"));
    assert_true(cws_str_ieq(s, "WEBSOCKET"));
    assert_false(cws_str_ieq(s, "websocket!"));
    assert_false(cws_str_ieq(s, "websockes"));
    assert_false(cws_str_ieq(s, NULL));
    cws_str e = {NULL, 0};
    assert_true(cws_str_ieq(e, ""));
    /* Only ASCII letters fold: '@' (0x40) is not '`' (0x60). */
    cws_str at = {"@", 1};
    assert_false(cws_str_ieq(at, "`"));
}

static void test_status_text(void **state) {
    (void)state;
    static const struct { int code; const char *text; } known[] = {
        {101, "Switching Protocols"}, {200, "OK"}, {301, "Moved Permanently"},
        {304, "Not Modified"}, {400, "Bad Request"}, {403, "Forbidden"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {413, "Content Too Large"}, {426, "Upgrade Required"},
        {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
        {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_string_equal(cws_http_status_text(known[i].code), known[i].text);
    assert_string_equal(cws_http_status_text(299), "Unknown");
    assert_string_equal(cws_http_status_text(-1), "Unknown");
}

static void test_response_head(void **state) {
    (void)state;
    char out[256];
    ptrdiff_t n = cws_http_response_head(404, "text/plain", 9, "X-A: 1\r\nX-B: two\r\n", out, sizeof out);
    const char *want = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n"
                       "X-A: 1\r\nX-B: two\r\n\r\n";
    assert_int_equal(n, (ptrdiff_t)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    /* It reads back through the tokenizer. */
    cws_http_head h;
    memset(&h, 0, sizeof h);
    assert_int_equal(cws_http_parse_response(&h, out, (size_t)n, 0), n);
    assert_int_equal(h.status, 404);
    assert_int_equal(cws_http_header(&h, "x-b", NULL), 1);

    n = cws_http_response_head(304, NULL, (size_t)-1, NULL, out, sizeof out);
    want = "HTTP/1.1 304 Not Modified\r\n\r\n";
    assert_int_equal(n, (ptrdiff_t)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    n = cws_http_response_head(200, NULL, 0, NULL, out, sizeof out);
    want = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert_memory_equal(out, want, (size_t)n);
    memset(out, 0, sizeof out);
    n = cws_http_response_head(200, NULL, (size_t)12345678901ULL, NULL, out, sizeof out);
    assert_non_null(strstr(out, "Content-Length: 12345678901\r\n"));
    n = cws_http_response_head(299, NULL, (size_t)-1, NULL, out, sizeof out);
    want = "HTTP/1.1 299 Unknown\r\n\r\n";
    assert_memory_equal(out, want, (size_t)n);

    /* Every capacity short of the length says NOSPACE and writes no more. */
    size_t full = strlen("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n");
    for (size_t cap = 0; cap < full; cap++) {
        memset(out, '#', sizeof out);
        assert_int_equal(cws_http_response_head(404, "text/plain", 9, NULL, out, cap), CWS_ERR_NOSPACE);
        assert_int_equal(out[cap], '#');
    }
    assert_int_equal(cws_http_response_head(404, "text/plain", 9, NULL, out, full), (ptrdiff_t)full);

    /* Header injection and malformed extra lines are refused. */
    assert_int_equal(cws_http_response_head(200, "text/plain\r\nX: y", 0, NULL, out, sizeof out),
                     CWS_ERR_INVALID);
    static const char *bad_extra[] = {"X: 1", "X: 1\n", "X: 1\r\n\r\nbody", "X 1\r\n", ": 1\r\n",
                                      "X: a\rb\r\n", "X: a\nb\r\n", "X: 1\r\nY"};
    for (size_t i = 0; i < sizeof bad_extra / sizeof bad_extra[0]; i++)
        assert_int_equal(cws_http_response_head(200, NULL, 0, bad_extra[i], out, sizeof out),
                         CWS_ERR_INVALID);
    assert_int_equal(cws_http_response_head(99, NULL, 0, NULL, out, sizeof out), CWS_ERR_INVALID);
    assert_int_equal(cws_http_response_head(1000, NULL, 0, NULL, out, sizeof out), CWS_ERR_INVALID);
    assert_true(cws_http_response_head(200, NULL, 0, "", out, sizeof out) > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_bad_request_lines),
        cmocka_unit_test(test_field_lines),
        cmocka_unit_test(test_bad_field_lines),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_every_byte_in_value),
        cmocka_unit_test(test_every_byte_in_name),
        cmocka_unit_test(test_fail_fast),
        cmocka_unit_test(test_bytes_after_head),
        cmocka_unit_test(test_splits_request),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_byte_at_a_time_large),
        cmocka_unit_test(test_byte_at_a_time_long_line),
        cmocka_unit_test(test_reparse_after_done),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_query_param),
        cmocka_unit_test(test_str_ieq),
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_response_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
