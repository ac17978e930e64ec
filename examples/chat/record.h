/* One history record on disk: a text line that checks itself.
 *
 *   <seq: 16 hex> SP <length: 8 hex> SP <crc32: 8 hex> SP <json> LF
 *
 * The CRC-32 (IEEE 802.3, as zlib's crc32()) covers the first 26 bytes of
 * the line (the seq and length fields, each followed by its space), then
 * the JSON, so a torn write or a flipped bit anywhere is detected. The JSON is the
 * message exactly as broadcast; it never contains a raw LF (the writer
 * escapes control characters), so one line is one record. */
#ifndef CHAT_RECORD_H
#define CHAT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_HEADER_LEN 35
/* Far above any chat message (4096 bytes of text, escaped, is under
 * 25 KB); bounds what reading a hostile file may allocate. */
#define RECORD_MAX_JSON (1u << 20)

/* Formats the header for (seq, json) into out; returns RECORD_HEADER_LEN. */
size_t record_header(char out[RECORD_HEADER_LEN + 1], uint64_t seq, const char *json, size_t len);

/* Checks one line (without its LF). Returns 0 with the seq and the JSON
 * (pointing into line), or -1 with *why naming the failed check. */
int record_parse(const char *line, size_t len, uint64_t *seq, const char **json, size_t *json_len,
                 const char **why);

#endif
