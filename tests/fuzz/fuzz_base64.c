/* base64: decode(encode(x)) == x for any x, and the strict decoder agrees
 * with a reference written here (RFC 4648 §4, canonical form: §3.5) on
 * every input, including the NOSPACE answer for a short output buffer. */
#include "fuzz_util.h"

static int ref_b64_value(uint8_t c) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; i++)
        if (alphabet[i] == (char)c) return i;
    return -1;
}

/* Bit by bit: every character adds 6 bits, every 8 bits make a byte.
 * Returns the decoded length or -1 if not strict base64. */
static ptrdiff_t ref_b64_decode(const uint8_t *s, size_t len, uint8_t *out) {
    if (len % 4) return -1;
    size_t pad = 0;
    while (pad < len && pad < 3 && s[len - 1 - pad] == '=') pad++;
    if (pad > 2) return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len - pad; i++) {
        int v = ref_b64_value(s[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits (2 with one '=', 4 with two) must be zero. */
    if (acc != 0) return -1;
    /* A full quantum with '=' in it would be e.g. "A===", or "AA=A". */
    if (pad && bits != 2 * (int)pad) return -1;
    return (ptrdiff_t)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    uint8_t capsel = fuzz_byte(&in);
    const uint8_t *s = in.p;
    size_t len = in.n;

    /* Round trip of the raw bytes. */
    char *enc = malloc(CWS_BASE64_ENCODED_LEN(len) + 1);
    uint8_t *dec = malloc(len + 1);
    FUZZ_CHECK(enc && dec);
    size_t elen = cws_base64_encode(s, len, enc);
    FUZZ_CHECK(elen == CWS_BASE64_ENCODED_LEN(len));
    for (size_t i = 0; i < elen; i++) FUZZ_CHECK(ref_b64_value((uint8_t)enc[i]) >= 0 || enc[i] == '=');
    FUZZ_CHECK(cws_base64_decode(enc, elen, dec, len) == (ptrdiff_t)len);
    FUZZ_CHECK(len == 0 || memcmp(dec, s, len) == 0);
    /* The encoder's output is the reference's canonical form too. */
    FUZZ_CHECK(ref_b64_decode((const uint8_t *)enc, elen, dec) == (ptrdiff_t)len);
    free(enc);
    free(dec);

    /* Strict decode of the raw bytes as text, into an exact-size copy. */
    char *src = (char *)fuzz_dup(s, len);
    uint8_t *want = malloc(len + 1);
    FUZZ_CHECK(want != NULL);
    ptrdiff_t ref = ref_b64_decode(s, len, want);
    size_t full = CWS_BASE64_DECODED_MAX(len);
    uint8_t *got = malloc(full); /* exact size: ASan sees any overrun */
    FUZZ_CHECK(got != NULL || full == 0);
    ptrdiff_t r = cws_base64_decode(src, len, got, full);
    if (ref < 0) {
        FUZZ_CHECK(r == CWS_ERR_INVALID);
    } else {
        FUZZ_CHECK(r == ref);
        FUZZ_CHECK(r == 0 || memcmp(got, want, (size_t)r) == 0);
        /* Canonical: re-encoding gives back the very same text. */
        char *again = malloc(len + 1);
        FUZZ_CHECK(again != NULL);
        FUZZ_CHECK(cws_base64_encode(got, (size_t)r, again) == len);
        FUZZ_CHECK(len == 0 || memcmp(again, src, len) == 0);
        free(again);
    }
    free(got);

    /* A smaller output buffer: NOSPACE exactly when the result won't fit,
     * and nothing written past cap. */
    size_t cap = full ? capsel % (full + 1) : 0;
    uint8_t *small = malloc(cap);
    FUZZ_CHECK(small != NULL || cap == 0);
    r = cws_base64_decode(src, len, small, cap);
    if (ref < 0) FUZZ_CHECK(r == CWS_ERR_INVALID);
    else if ((size_t)ref > cap) FUZZ_CHECK(r == CWS_ERR_NOSPACE);
    else FUZZ_CHECK(r == ref && (r == 0 || memcmp(small, want, (size_t)r) == 0));
    free(small);
    free(want);
    free(src);
    return 0;
}
