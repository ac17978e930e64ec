/*
 * cws_util.h — the toolkit under cws.h: primitives (SHA-1, SipHash, base64,
 * UTF-8, masking, random bytes) and HTTP/1.1 helpers (head parser, token lists,
 * query strings, response heads). The WebSocket API in cws.h is built on
 * these; include this header when you need them yourself, e.g. to drive
 * your own handshake or to parse a query in on_upgrade. Part of libcws and
 * of single/cws.h.
 */
#ifndef CWS_UTIL_H
#define CWS_UTIL_H

#include "cws.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills buf with len bytes from the OS CSPRNG (getrandom, else /dev/urandom).
 * Returns CWS_OK or CWS_ERR_RANDOM. */
CWS_API int cws_random(void *buf, size_t len);

/* ======================================================================
 * Layer 1: primitives
 * ==================================================================== */

/* --- SHA-1 (FIPS 180-4) --- */
#define CWS_SHA1_LEN 20

typedef struct cws_sha1_ctx {
    uint32_t h[5];
    uint64_t total;    /* bytes hashed so far */
    uint8_t block[64];
    size_t used;       /* bytes pending in block */
} cws_sha1_ctx;

CWS_API void cws_sha1_init(cws_sha1_ctx *ctx);
CWS_API void cws_sha1_update(cws_sha1_ctx *ctx, const void *data, size_t len);
CWS_API void cws_sha1_final(cws_sha1_ctx *ctx, uint8_t digest[CWS_SHA1_LEN]);
CWS_API void cws_sha1(const void *data, size_t len, uint8_t digest[CWS_SHA1_LEN]);

/* --- SipHash-2-4 (Aumasson and Bernstein, 2012) --- */
/* The 64-bit hash of len bytes at data (NULL if len is 0) under a secret
 * 16-byte key, e.g. from cws_random: a keyed hash, so whoever picks the
 * input cannot pick collisions. For hash tables keyed by names or
 * addresses from the network. */
CWS_API uint64_t cws_siphash24(const uint8_t key[16], const void *data, size_t len);

/* --- base64 (RFC 4648 §4, standard alphabet, padded) --- */
#define CWS_BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
#define CWS_BASE64_DECODED_MAX(n) (((n) / 4) * 3)

/* Writes CWS_BASE64_ENCODED_LEN(len) characters (no NUL); returns that count. */
CWS_API size_t cws_base64_encode(const void *src, size_t len, char *dst);
/* Strict decode: length a multiple of 4, only alphabet characters, '='
 * only as final padding, and unused trailing bits zero (canonical form).
 * Returns the decoded length, CWS_ERR_INVALID, or CWS_ERR_NOSPACE. */
CWS_API ptrdiff_t cws_base64_decode(const char *src, size_t len, uint8_t *dst, size_t cap);

/* --- UTF-8 validation (RFC 3629), incremental and fail-fast --- */
typedef struct cws_utf8 {
    uint32_t state; /* private: 0 = at a character boundary */
} cws_utf8;

CWS_API void cws_utf8_init(cws_utf8 *v);
/* Feeds the next len bytes of a stream. Returns CWS_OK while the stream is
 * valid so far (a sequence cut at the chunk end stays pending), or
 * CWS_ERR_UTF8 at the first byte that makes it invalid; *bad (if not NULL)
 * is then that byte's index in this chunk. Once failed, it stays failed. */
CWS_API int cws_utf8_feed(cws_utf8 *v, const void *data, size_t len, size_t *bad);
/* CWS_OK if the stream ends at a character boundary, else CWS_ERR_UTF8. */
CWS_API int cws_utf8_finish(const cws_utf8 *v);
/* One-shot: CWS_OK if data is complete, valid UTF-8. */
CWS_API int cws_utf8_validate(const void *data, size_t len);

/* --- masking (RFC 6455 §5.3) --- */
/* XORs buf with key, starting at key byte (offset % 4): pass the payload
 * offset of buf within its frame to continue a mask across chunks. */
CWS_API void cws_mask(uint8_t *buf, size_t len, const uint8_t key[4], uint64_t offset);
/* Same, writing src ^ key to dst (dst may equal src; no other overlap). */
CWS_API void cws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len,
                           const uint8_t key[4], uint64_t offset);

/* ======================================================================
 * HTTP/1.1 helpers (RFC 7230)
 * ==================================================================== */

/* Incremental head parser. Call with the bytes received so far (the same
 * buffer start each time, with new bytes appended): the scan resumes where
 * it stopped, so feeding one byte at a time is linear. Zero h before the
 * first call. Returns head_len (> 0) when the head is complete and well
 * formed, CWS_ERR_AGAIN if incomplete, CWS_ERR_TOO_BIG if max bytes hold no
 * complete head, CWS_ERR_INVALID if malformed (bad request/status line,
 * bad field line, NUL or bare CR/LF, obs-fold; RFC 7230 §3). Only offsets
 * are kept between calls, so the buffer may move (realloc) as it grows;
 * max 0 means CWS_HANDSHAKE_MAX_DEFAULT. Bytes after the head are never
 * read. */
CWS_API ptrdiff_t cws_http_parse_request(cws_http_head *h, const char *buf, size_t len, size_t max);
CWS_API ptrdiff_t cws_http_parse_response(cws_http_head *h, const char *buf, size_t len, size_t max);

/* Pops the next comma-separated token of *list (trimmed, empty elements
 * skipped); returns 1 and the token, or 0 when the list is exhausted. */
CWS_API int cws_http_next_token(cws_str *list, cws_str *token);
/* 1 if any field named name holds token (case-insensitive), else 0. */
CWS_API int cws_http_has_token(const cws_http_head *h, const char *name, const char *token);
/* The value of key in a query string "a=1&b=2" (raw, not percent-decoded);
 * returns 1 if present. */
CWS_API int cws_http_query_param(cws_str query, const char *key, cws_str *value);
/* Case-insensitive comparison of s with a NUL-terminated string: 1 if equal. */
CWS_API int cws_str_ieq(cws_str s, const char *z);
/* "Not Found" for 404 and so on; "Unknown" if unknown. */
CWS_API const char *cws_http_status_text(int status);
/* Writes a response head "HTTP/1.1 <status> <text>" with Content-Length
 * (omitted if content_length is (size_t)-1), Content-Type (if not NULL),
 * and extra_headers ("Name: value\r\n" lines, may be NULL), ending with the
 * empty line. Returns its length or CWS_ERR_NOSPACE. */
CWS_API ptrdiff_t cws_http_response_head(int status, const char *content_type, size_t content_length,
                                         const char *extra_headers, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* CWS_UTIL_H */
