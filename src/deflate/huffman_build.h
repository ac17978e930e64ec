/* Length-limited canonical Huffman codes for the deflater (RFC 1951
 * §3.2.2). Private to src/deflate/. */
#ifndef CWS_DEFLATE_HUFFMAN_BUILD_H
#define CWS_DEFLATE_HUFFMAN_BUILD_H

#include <stdint.h>

#define CWS__HUFF_MAX_SYMS 288

/* Code lengths lens[0..n) (n <= CWS__HUFF_MAX_SYMS) for the symbol
 * frequencies freq[0..n), none longer than max_bits (2^max_bits >= n),
 * minimising the sum of freq * length under that limit as far as a simple
 * repair of the optimal code allows. Unused symbols get 0. The code is
 * always complete: when fewer than two symbols are used, one or two
 * placeholder symbols get length 1 too (decoders such as zlib's reject an
 * incomplete literal/length code). */
void cws__huff_lengths(const uint32_t *freq, unsigned n, unsigned max_bits, uint8_t *lens);

/* The canonical codes of §3.2.2 for lens[0..n), bit-reversed so that they
 * can be written LSB first (§3.1.1 packs Huffman codes from their MSB). */
void cws__huff_codes(const uint8_t *lens, unsigned n, uint16_t *codes);

#endif
