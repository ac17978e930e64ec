/* Server handshake parser: the input (after one option byte) is an
 * upgrade request, parsed whole and then fed as a growing prefix, each
 * prefix in its own exact-size buffer (the buffer may move between
 * calls). Both ways must give the same answer, and the answer must be one
 * the contract allows: a head length, AGAIN, NOT_UPGRADE, or an HTTP
 * refusal with one of the documented statuses, whose response (101 or
 * error) is itself a well-formed HTTP response. */
#include "fuzz_util.h"

typedef struct hs_outcome {
    ptrdiff_t rc;
    int status;
    size_t head_len;
    size_t host_off, host_len, key_off, key_len, proto_off, proto_len;
} hs_outcome;

static int pick_protocol(void *user, const cws_hs_request *req) {
    (void)req;
    return *(const int *)user;
}

static size_t hs_offset(const char *base, cws_str s) { return s.len ? (size_t)(s.ptr - base) : 0; }

static hs_outcome hs_outcome_of(ptrdiff_t rc, const cws_hs_request *r, const char *buf, size_t len) {
    hs_outcome o;
    memset(&o, 0, sizeof o);
    o.rc = rc;
    if (rc < 0) o.status = cws_hs_status((int)rc);
    if (rc > 0 || rc == CWS_ERR_NOT_UPGRADE) {
        o.head_len = r->http.head_len;
        FUZZ_CHECK(o.head_len > 0 && o.head_len <= len);
        /* Every view points inside the head. */
        const cws_str views[3] = {r->host, r->key, r->protocol};
        for (int i = 0; i < 3; i++)
            FUZZ_CHECK(views[i].len == 0 ||
                       (views[i].ptr >= buf && views[i].ptr + views[i].len <= buf + o.head_len));
        o.host_off = hs_offset(buf, r->host);
        o.host_len = r->host.len;
        o.key_off = hs_offset(buf, r->key);
        o.key_len = r->key.len;
        o.proto_off = hs_offset(buf, r->protocol);
        o.proto_len = r->protocol.len;
    }
    return o;
}

/* The answer the server would send must parse as an HTTP response. */
static void check_answer(const cws_hs_request *r, ptrdiff_t rc) {
    char out[2048];
    cws_http_head h;
    ptrdiff_t n;
    if (rc > 0) {
        FUZZ_CHECK(r->key.len == 24);
        uint8_t raw[18];
        FUZZ_CHECK(cws_base64_decode(r->key.ptr, 24, raw, sizeof raw) == 16);
        n = cws_hs_accept(r, NULL, out, sizeof out);
        FUZZ_CHECK(n > 0);
        memset(&h, 0, sizeof h);
        FUZZ_CHECK(cws_http_parse_response(&h, out, (size_t)n, 0) == n && h.status == 101);
        char want[29];
        cws_str got;
        cws_hs_accept_key(r->key, want);
        FUZZ_CHECK(cws_http_header(&h, "Sec-WebSocket-Accept", &got) == 1);
        FUZZ_CHECK(got.len == 28 && memcmp(got.ptr, want, 28) == 0);
        /* The chosen subprotocol is a token the client offered. */
        cws_str proto;
        int nproto = cws_http_header(&h, "Sec-WebSocket-Protocol", &proto);
        FUZZ_CHECK(nproto == (r->protocol.len ? 1 : 0));
        if (nproto) FUZZ_CHECK(proto.len == r->protocol.len && memcmp(proto.ptr, r->protocol.ptr, proto.len) == 0);
    } else if (rc != CWS_ERR_AGAIN && rc != CWS_ERR_NOT_UPGRADE) {
        int s = cws_hs_status((int)rc);
        FUZZ_CHECK(s == 400 || s == 403 || s == 405 || s == 426 || s == 431 || s == 505);
        FUZZ_CHECK(r->error != NULL);
        n = cws_hs_reject(s, out, sizeof out);
        FUZZ_CHECK(n > 0);
        memset(&h, 0, sizeof h);
        FUZZ_CHECK(cws_http_parse_response(&h, out, (size_t)n, 0) > 0 && h.status == s);
        if (s == 426) FUZZ_CHECK(cws_http_has_token(&h, "Sec-WebSocket-Version", "13"));
    } else {
        FUZZ_CHECK(rc == CWS_ERR_AGAIN || rc == CWS_ERR_NOT_UPGRADE);
    }
}

static void same_outcome(const hs_outcome *a, const hs_outcome *b) {
    FUZZ_CHECK(a->rc == b->rc && a->status == b->status && a->head_len == b->head_len);
    FUZZ_CHECK(a->host_off == b->host_off && a->host_len == b->host_len);
    FUZZ_CHECK(a->key_off == b->key_off && a->key_len == b->key_len);
    FUZZ_CHECK(a->proto_off == b->proto_off && a->proto_len == b->proto_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    uint8_t opt = fuzz_byte(&in);
    int proto_index = (opt >> 4) - 2; /* -2..13: none, or the i-th offered */
    cws_hs_server_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.max_size = (size_t)(opt & 15) * 128; /* 0: the default */
    if (proto_index != -2) {
        opts.select_protocol = pick_protocol;
        opts.user = &proto_index;
    }
    /* The Origin checks parse the hostile Host and Origin fields. */
    static const char *const origins[] = {"https://a.example", "null", NULL};
    opts.same_origin = proto_index & 1;
    if (proto_index & 2) opts.allow_origins = origins;
    size_t len = in.n;

    char *whole = (char *)fuzz_dup(in.p, len);
    cws_hs_request r;
    memset(&r, 0, sizeof r);
    ptrdiff_t rc = cws_hs_server_parse(&r, &opts, whole, len);
    hs_outcome want = hs_outcome_of(rc, &r, whole, len);
    check_answer(&r, rc);
    free(whole);

    /* Growing prefix: byte by byte for short inputs, else in steps. */
    memset(&r, 0, sizeof r);
    size_t step = len <= 1024 ? 1 : len / 512;
    size_t k = 0;
    while (k < len) {
        k = len - k < step ? len : k + step;
        char *prefix = (char *)fuzz_dup(in.p, k);
        rc = cws_hs_server_parse(&r, &opts, prefix, k);
        if (rc != CWS_ERR_AGAIN || k == len) {
            hs_outcome got = hs_outcome_of(rc, &r, prefix, k);
            free(prefix);
            same_outcome(&want, &got);
            break;
        }
        free(prefix);
    }
    return 0;
}
