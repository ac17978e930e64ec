/* Client handshake: a real cws_hs_client_request (key from input bytes),
 * checked by the server-side parser and answered with cws_hs_accept, which
 * the client must accept; then the rest of the input is taken as the
 * server's response, parsed whole and as a growing prefix (exact-size
 * buffers), with the same answer both ways. "@A@" in the response stands
 * for the correct Sec-WebSocket-Accept, so the fuzzer can reach the rules
 * after the accept check. */
#include "fuzz_util.h"

typedef struct hs_client_rng {
    uint8_t bytes[16];
} hs_client_rng;

static int hs_client_fuzz_rng(void *user, void *buf, size_t len) {
    const hs_client_rng *r = user;
    for (size_t i = 0; i < len; i++) ((uint8_t *)buf)[i] = r->bytes[i % sizeof r->bytes];
    return 0;
}

static const char *const hs_client_offers[4] = {NULL, "chat", "chat, superchat", "a,b,,c"};

/* Copies src to a new exact-size buffer with every "@A@" replaced. */
static char *hs_client_expand(const uint8_t *src, size_t len, const char *accept, size_t *out_len) {
    size_t n = 0, cap = len * 10 + 1;
    char *out = malloc(cap);
    FUZZ_CHECK(out != NULL);
    for (size_t i = 0; i < len;) {
        if (i + 3 <= len && memcmp(src + i, "@A@", 3) == 0) {
            memcpy(out + n, accept, 28);
            n += 28;
            i += 3;
        } else {
            out[n++] = (char)src[i++];
        }
    }
    char *exact = (char *)fuzz_dup(out, n);
    free(out);
    *out_len = n;
    return exact;
}

/* The request must pass our own server's checks, and its answer ours. */
static void check_round_trip(cws_hs_client_opts opts, const hs_client_rng *rng) {
    cws_hs_client c;
    char req[1024], resp[1024];
    opts.max_size = 0; /* a tiny limit would refuse any answer */
    ptrdiff_t n = cws_hs_client_request(&c, &opts, req, sizeof req);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(strlen(c.key) == 24);
    uint8_t raw[18];
    FUZZ_CHECK(cws_base64_decode(c.key, 24, raw, sizeof raw) == 16 && memcmp(raw, rng->bytes, 16) == 0);
    cws_hs_request r;
    memset(&r, 0, sizeof r);
    FUZZ_CHECK(cws_hs_server_parse(&r, NULL, req, (size_t)n) == n);
    ptrdiff_t m = cws_hs_accept(&r, NULL, resp, sizeof resp);
    FUZZ_CHECK(m > 0);
    FUZZ_CHECK(cws_hs_client_parse(&c, resp, (size_t)m) == m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    uint8_t opt = fuzz_byte(&in);
    hs_client_rng rng;
    for (size_t i = 0; i < sizeof rng.bytes; i++) rng.bytes[i] = fuzz_byte(&in);
    cws_hs_client_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.host = "example.com:8080";
    opts.path = opt & 4 ? "/chat?room=1" : NULL;
    opts.protocols = hs_client_offers[opt & 3];
    opts.max_size = (size_t)(opt >> 4) * 128; /* 0: the default */
    opts.rng = hs_client_fuzz_rng;
    opts.rng_user = &rng;
    if (opts.protocols && strstr(opts.protocols, ",,") == NULL) check_round_trip(opts, &rng);

    cws_hs_client c;
    char req[1024];
    ptrdiff_t n = cws_hs_client_request(&c, &opts, req, sizeof req);
    if (n < 0) {
        /* Only a malformed offer list may be refused. */
        FUZZ_CHECK(n == CWS_ERR_INVALID && opts.protocols && strstr(opts.protocols, ",,"));
        return 0;
    }
    size_t len;
    char *whole = hs_client_expand(in.p, in.n, c.accept, &len);
    cws_hs_client saved = c;

    ptrdiff_t want = cws_hs_client_parse(&c, whole, len);
    FUZZ_CHECK(want > 0 || want == CWS_ERR_AGAIN || want == CWS_ERR_TOO_BIG ||
               (want <= CWS_ERR_HS_MALFORMED && want >= CWS_ERR_HS_EXTENSION));
    size_t want_proto_off = 0, want_proto_len = c.protocol.len;
    if (want > 0) {
        FUZZ_CHECK((size_t)want <= len && c.http.status == 101);
        if (c.protocol.len) {
            /* One of the offered tokens, pointing into the response. */
            FUZZ_CHECK(opts.protocols != NULL);
            FUZZ_CHECK(c.protocol.ptr >= whole && c.protocol.ptr + c.protocol.len <= whole + want);
            want_proto_off = (size_t)(c.protocol.ptr - whole);
        }
    } else if (want != CWS_ERR_AGAIN) {
        FUZZ_CHECK(c.error != NULL);
    }

    c = saved;
    size_t step = len <= 1024 ? 1 : len / 512, k = 0;
    while (k < len) {
        k = len - k < step ? len : k + step;
        char *prefix = (char *)fuzz_dup(whole, k);
        ptrdiff_t got = cws_hs_client_parse(&c, prefix, k);
        if (got != CWS_ERR_AGAIN || k == len) {
            FUZZ_CHECK(got == want);
            FUZZ_CHECK(c.protocol.len == want_proto_len);
            if (got > 0 && c.protocol.len) FUZZ_CHECK((size_t)(c.protocol.ptr - prefix) == want_proto_off);
            free(prefix);
            break;
        }
        free(prefix);
    }
    free(whole);
    return 0;
}
