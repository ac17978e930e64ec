/* One history record on disk: a text line that checks itself.
 *
 *   <seq: 16 hex> SP <length: 8 hex> SP <crc32: 8 hex> SP <json> LF
 *
 * The CRC-32 (IEEE 802.3) covers the seq and length fields and the JSON, so
 * a torn write or a flipped bit anywhere is detected. The JSON is the
 * message exactly as broadcast; it never contains a raw LF (the writer
 * escapes control characters), so one line is one record. */
#ifndef CHAT_RECORD_H
#define CHAT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_HEADER_LEN 35

/* Formats the header for (seq, json) into out; returns RECORD_HEADER_LEN. */
size_t record_header(char out[RECORD_HEADER_LEN + 1], uint64_t seq, const char *json, size_t len);

/* Checks one line (without its LF). Returns 0 with the seq and the JSON
 * (pointing into line), or -1 with *why naming the failed check. */
int record_parse(const char *line, size_t len, uint64_t *seq, const char **json, size_t *json_len,
                 const char **why);

#endif
