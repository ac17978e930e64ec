/*
 * cws_deflate.h — a streaming DEFLATE (RFC 1951) codec, libc only.
 *
 * Raw DEFLATE streams (no zlib or gzip wrapper), as permessage-deflate
 * (RFC 7692) carries them. Part of libcws and of single/cws.h (define
 * CWS_NO_DEFLATE there to leave it out), and usable on its own: nothing
 * here knows about WebSockets.
 *
 * Both directions stream: input may be split anywhere and output space may
 * be any size, down to one byte. Errors follow cws.h: negative enum cws_err
 * values; constructors return NULL and say why through *err (if not NULL).
 */
#ifndef CWS_DEFLATE_H
#define CWS_DEFLATE_H

#include "cws.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Window sizes, as log2 of bytes (RFC 7692 §7.1.2 allows 8..15). */
#define CWS_DEFLATE_WINDOW_MIN 8
#define CWS_DEFLATE_WINDOW_MAX 15

/* Compression levels: 0 means CWS_DEFLATE_LEVEL_DEFAULT. */
#define CWS_DEFLATE_LEVEL_FAST 1
#define CWS_DEFLATE_LEVEL_DEFAULT 6
#define CWS_DEFLATE_LEVEL_BEST 9

/* ---- inflate ---- */

typedef struct cws_inflater cws_inflater;

/* A decompressor for streams whose window is at most 2^window_bits bytes
 * (0 means 15). NULL on failure, *err = CWS_ERR_INVALID or CWS_ERR_NOMEM. */
CWS_API cws_inflater *cws_inflater_new(int window_bits, const cws_allocator *alloc, int *err);
CWS_API void cws_inflater_free(cws_inflater *z);
/* Starts a new stream with an empty window (no context takeover). */
CWS_API void cws_inflater_reset(cws_inflater *z);
/* Bytes this inflater holds (its struct, window and tables). */
CWS_API size_t cws_inflater_mem_usage(const cws_inflater *z);

/* A final block (BFINAL = 1) ended the stream. */
#define CWS_INFLATE_END 1

/* Decompresses from in[0..in_len) into out[0..out_cap). *consumed and
 * *produced get the bytes read and written by this call. Returns:
 *   CWS_OK           stopped because the input is used up or out is full
 *                    (call again with more of either)
 *   CWS_INFLATE_END  a final block ended; bytes after it are not consumed.
 *                    The next call starts a new stream, keeping the window.
 *   CWS_ERR_DEFLATE  corrupt data (RFC 1951 §3.2); the inflater stays
 *                    failed until cws_inflater_reset().
 * Output never exceeds out_cap, so a caller bounds what a small input can
 * make it write by the space it offers. */
CWS_API int cws_inflate(cws_inflater *z, const uint8_t *in, size_t in_len, size_t *consumed,
                        uint8_t *out, size_t out_cap, size_t *produced);

/* ---- deflate ---- */

typedef struct cws_deflater cws_deflater;

enum cws_deflate_flush {
    CWS_DEFLATE_NO_FLUSH = 0, /* output may lag the input */
    CWS_DEFLATE_SYNC = 1,     /* end with an empty stored block, 00 00 ff ff
                                 (RFC 1951 §3.2.4; RFC 7692 §7.2.1) */
    CWS_DEFLATE_FINISH = 2    /* end the stream with a final block */
};

/* A compressor at level (0: default; 1..9) whose matches reach at most
 * 2^window_bits bytes back (0 means 15). NULL on failure, *err =
 * CWS_ERR_INVALID or CWS_ERR_NOMEM. */
CWS_API cws_deflater *cws_deflater_new(int level, int window_bits, const cws_allocator *alloc,
                                       int *err);
CWS_API void cws_deflater_free(cws_deflater *z);
/* Starts a new stream with no history (no context takeover). */
CWS_API void cws_deflater_reset(cws_deflater *z);
/* Bytes this deflater holds (its struct, window, hash tables, buffers). */
CWS_API size_t cws_deflater_mem_usage(const cws_deflater *z);

/* Compresses in[0..in_len) into out[0..out_cap) (*consumed, *produced as
 * for cws_inflate). Returns CWS_OK once all input is consumed and, when
 * flush is not CWS_DEFLATE_NO_FLUSH, everything up to the flush point is
 * written; CWS_ERR_AGAIN when out filled first: call again with more space,
 * the unconsumed rest of the input and the same flush. After FINISH only
 * cws_deflater_reset() is allowed (else CWS_ERR_STATE). */
CWS_API int cws_deflate(cws_deflater *z, const uint8_t *in, size_t in_len, size_t *consumed,
                        uint8_t *out, size_t out_cap, size_t *produced, int flush);
/* The most bytes one call with CWS_DEFLATE_SYNC can write for in_len bytes
 * of input (with nothing pending from earlier calls). */
CWS_API size_t cws_deflate_bound(size_t in_len);

#ifdef __cplusplus
}
#endif

#endif /* CWS_DEFLATE_H */
