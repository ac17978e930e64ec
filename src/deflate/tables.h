/* The fixed tables of RFC 1951 §3.2.5-§3.2.7, shared by the inflater and
 * the deflater. */
#ifndef CWS_DEFLATE_TABLES_H
#define CWS_DEFLATE_TABLES_H

#include <stdint.h>

/* Literal/length symbols 257..285: base match length and extra bits. */
static const uint16_t cws__deflate_len_base[29] = {
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t cws__deflate_len_extra[29] = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
    3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};

/* Distance symbols 0..29: base distance and extra bits. */
static const uint16_t cws__deflate_dist_base[30] = {
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
    257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t cws__deflate_dist_extra[30] = {
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
    7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* The order in which code length code lengths are sent (§3.2.7). */
static const uint8_t cws__deflate_clen_order[19] = {
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

#define CWS__DEFLATE_MAX_BITS 15     /* longest literal/length or distance code */
#define CWS__DEFLATE_MAX_CLEN_BITS 7 /* longest code length code */
#define CWS__DEFLATE_NUM_LITLEN 288  /* 286 used, 288 in the fixed code */
#define CWS__DEFLATE_NUM_DIST 32     /* 30 used, 32 in the fixed code */

#endif /* CWS_DEFLATE_TABLES_H */
