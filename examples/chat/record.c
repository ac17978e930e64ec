/* The history record format; see record.h. */
#include "record.h"

#include <inttypes.h>
#include <stdio.h>

/* Bitwise CRC-32 (reflected polynomial 0xEDB88320). Records are short and
 * written once, so a table buys nothing here. */
static uint32_t crc32_update(uint32_t crc, const char *data, size_t len) {
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned char)data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The checksum of a record: its "seq len " prefix, then the JSON. */
static uint32_t record_crc(const char *prefix, const char *json, size_t len) {
    return crc32_update(crc32_update(0, prefix, 26), json, len);
}

size_t record_header(char out[RECORD_HEADER_LEN + 1], uint64_t seq, const char *json, size_t len) {
    snprintf(out, 27, "%016" PRIx64 " %08" PRIx32 " ", seq, (uint32_t)len);
    snprintf(out + 26, 10, "%08" PRIx32 " ", record_crc(out, json, len));
    return RECORD_HEADER_LEN;
}

/* Strict lowercase hex of exactly n digits, as record_header writes them. */
static int parse_hex(const char *s, int n, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

int record_parse(const char *line, size_t len, uint64_t *seq, const char **json, size_t *json_len,
                 const char **why) {
    uint64_t length, crc;
    if (len < RECORD_HEADER_LEN || line[16] != ' ' || line[25] != ' ' || line[34] != ' ' ||
        parse_hex(line, 16, seq) < 0 || parse_hex(line + 17, 8, &length) < 0 ||
        parse_hex(line + 26, 8, &crc) < 0) {
        *why = "malformed header";
        return -1;
    }
    if (length != len - RECORD_HEADER_LEN) {
        *why = "length mismatch (truncated record?)";
        return -1;
    }
    *json = line + RECORD_HEADER_LEN;
    *json_len = (size_t)length;
    if (record_crc(line, *json, *json_len) != (uint32_t)crc) {
        *why = "checksum mismatch";
        return -1;
    }
    return 0;
}
