/* Strict JSON reader and escaping writer; see json.h. */
#include "json.h"

#include <cws.h>
#include <cws_util.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ reader */

typedef struct json_reader {
    const char *p, *end;
    const char *err;
} json_reader;

static int reader_fail(json_reader *r, const char *why) {
    if (!r->err) r->err = why;
    return -1;
}

/* RFC 8259 §2: insignificant whitespace is exactly these four bytes. */
static void skip_ws(json_reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" at p; -1 if they are not hex. */
static long read_u4(const char *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Validates a string at r->p (the opening quote): escapes, no raw control
 * characters, surrogates only in high+low pairs (RFC 8259 §7, §8.2: a lone
 * surrogate cannot become UTF-8, so we refuse it rather than guess). */
static int read_string(json_reader *r, const char **raw, size_t *raw_len) {
    const char *start = ++r->p;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            *raw = start;
            *raw_len = (size_t)(r->p - start);
            r->p++;
            return 0;
        }
        if (c < 0x20) return reader_fail(r, "control character in string");
        if (c != '\\') { r->p++; continue; }
        if (r->end - r->p < 2) break;
        char e = r->p[1];
        if (e != '\0' && strchr("\"\\/bfnrt", e)) { r->p += 2; continue; }
        if (e != 'u') return reader_fail(r, "invalid escape");
        if (r->end - r->p < 6) break;
        long u = read_u4(r->p + 2);
        if (u < 0) return reader_fail(r, "invalid \\u escape");
        r->p += 6;
        if (u >= 0xDC00 && u <= 0xDFFF) return reader_fail(r, "lone low surrogate");
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
                return reader_fail(r, "lone high surrogate");
            long lo = read_u4(r->p + 2);
            if (lo < 0xDC00 || lo > 0xDFFF) return reader_fail(r, "lone high surrogate");
            r->p += 6;
        }
    }
    return reader_fail(r, "unterminated string");
}

static int read_digits(json_reader *r) {
    const char *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    return r->p > s ? 0 : reader_fail(r, "invalid number");
}

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int read_number(json_reader *r) {
    if (*r->p == '-') r->p++;
    if (r->p < r->end && *r->p == '0') {
        r->p++;
    } else if (read_digits(r) < 0) {
        return -1;
    }
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (read_digits(r) < 0) return -1;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
        if (read_digits(r) < 0) return -1;
    }
    return 0;
}

static int read_literal(json_reader *r, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return reader_fail(r, "invalid literal");
    r->p += n;
    return 0;
}

static int read_value(json_reader *r, int depth, json_field *out);

/* An object at r->p; members named in fields (may be NULL) are recorded. */
static int read_object(json_reader *r, int depth, json_field *fields, size_t n) {
    r->p++; /* '{' */
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') { r->p++; return 0; }
    for (;;) {
        const char *key;
        size_t key_len;
        skip_ws(r);
        if (r->p >= r->end || *r->p != '"') return reader_fail(r, "expected a member name");
        if (read_string(r, &key, &key_len) < 0) return -1;
        skip_ws(r);
        if (r->p >= r->end || *r->p != ':') return reader_fail(r, "expected ':'");
        r->p++;
        skip_ws(r);

        json_field *want = NULL;
        if (fields) {
            /* Compare decoded names, so "\u0074ype" is "type". Names we
             * look for are short; longer ones cannot match. */
            char name[64];
            json_field tmp = {0};
            tmp.kind = JSON_STRING;
            tmp.raw = key;
            tmp.raw_len = key_len;
            ptrdiff_t nl = json_string_decode(&tmp, name, sizeof name);
            for (size_t i = 0; nl >= 0 && i < n; i++)
                if (strlen(fields[i].name) == (size_t)nl && memcmp(fields[i].name, name, (size_t)nl) == 0)
                    want = &fields[i];
            if (want && want->kind != JSON_NONE) return reader_fail(r, "duplicate member");
        }
        json_field ignored = {0};
        if (read_value(r, depth, want ? want : &ignored) < 0) return -1;
        skip_ws(r);
        if (r->p >= r->end) return reader_fail(r, "unterminated object");
        if (*r->p == '}') { r->p++; return 0; }
        if (*r->p != ',') return reader_fail(r, "expected ',' or '}'");
        r->p++;
    }
}

static int read_array(json_reader *r, int depth) {
    r->p++; /* '[' */
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') { r->p++; return 0; }
    for (;;) {
        json_field ignored = {0};
        skip_ws(r);
        if (read_value(r, depth, &ignored) < 0) return -1;
        skip_ws(r);
        if (r->p >= r->end) return reader_fail(r, "unterminated array");
        if (*r->p == ']') { r->p++; return 0; }
        if (*r->p != ',') return reader_fail(r, "expected ',' or ']'");
        r->p++;
    }
}

/* Recursion is bounded by JSON_MAX_DEPTH, so hostile nesting cannot
 * exhaust the stack. */
static int read_value(json_reader *r, int depth, json_field *out) {
    if (r->p >= r->end) return reader_fail(r, "expected a value");
    const char *start = r->p;
    int rc;
    switch (*r->p) {
    case '{':
    case '[':
        if (depth >= JSON_MAX_DEPTH) return reader_fail(r, "nested too deeply");
        out->kind = *r->p == '{' ? JSON_OBJECT : JSON_ARRAY;
        rc = *r->p == '{' ? read_object(r, depth + 1, NULL, 0) : read_array(r, depth + 1);
        break;
    case '"':
        out->kind = JSON_STRING;
        return read_string(r, &out->raw, &out->raw_len);
    case 't':
        out->kind = JSON_BOOL;
        rc = read_literal(r, "true");
        break;
    case 'f':
        out->kind = JSON_BOOL;
        rc = read_literal(r, "false");
        break;
    case 'n':
        out->kind = JSON_NULL;
        rc = read_literal(r, "null");
        break;
    default:
        if (*r->p != '-' && (*r->p < '0' || *r->p > '9')) return reader_fail(r, "expected a value");
        out->kind = JSON_NUMBER;
        rc = read_number(r);
        break;
    }
    out->raw = start;
    out->raw_len = (size_t)(r->p - start);
    return rc;
}

int json_read_object(const char *data, size_t len, json_field *fields, size_t n, const char **err) {
    json_reader r = {data, data + len, NULL};
    for (size_t i = 0; i < n; i++) {
        fields[i].kind = JSON_NONE;
        fields[i].raw = NULL;
        fields[i].raw_len = 0;
    }
    /* RFC 8259 §8.1: JSON text exchanged between systems is UTF-8. */
    if (cws_utf8_validate(data, len) != CWS_OK) {
        *err = "invalid UTF-8";
        return -1;
    }
    skip_ws(&r);
    if (r.p >= r.end || *r.p != '{') {
        *err = "expected an object";
        return -1;
    }
    if (read_object(&r, 1, fields, n) < 0) {
        *err = r.err;
        return -1;
    }
    skip_ws(&r);
    if (r.p != r.end) {
        *err = "trailing bytes after the object";
        return -1;
    }
    return 0;
}

static size_t utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

ptrdiff_t json_string_decode(const json_field *f, char *out, size_t cap) {
    const char *p = f->raw, *end = f->raw + f->raw_len;
    size_t n = 0;
    while (p < end) {
        char buf[4];
        size_t k;
        if (*p != '\\') {
            buf[0] = *p++;
            k = 1;
        } else {
            char e = p[1];
            p += 2;
            switch (e) {
            case 'b': buf[0] = '\b'; k = 1; break;
            case 'f': buf[0] = '\f'; k = 1; break;
            case 'n': buf[0] = '\n'; k = 1; break;
            case 'r': buf[0] = '\r'; k = 1; break;
            case 't': buf[0] = '\t'; k = 1; break;
            case 'u': {
                uint32_t cp = (uint32_t)read_u4(p);
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) { /* validated: a low half follows */
                    uint32_t lo = (uint32_t)read_u4(p + 2);
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                k = utf8_encode(cp, buf);
                break;
            }
            default: buf[0] = e; k = 1; break; /* \" \\ \/ */
            }
        }
        if (cap - n < k) return -1;
        memcpy(out + n, buf, k);
        n += k;
    }
    return (ptrdiff_t)n;
}

/* ------------------------------------------------------------ writer */

static void buf_put(json_buf *b, const char *s, size_t len) {
    if (b->failed || len == 0) return;
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < len) {
            if (cap > SIZE_MAX / 2) { b->failed = 1; return; }
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (!d) { b->failed = 1; return; }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
}

void json_buf_free(json_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void json_buf_reset(json_buf *b) {
    b->len = 0;
    b->failed = 0;
    b->need_comma = 0;
}

void json_begin(json_buf *b) {
    buf_put(b, "{", 1);
    b->need_comma = 0;
}

void json_end(json_buf *b) { buf_put(b, "}", 1); }

/* 1 for bytes that go out as they are: printable ASCII but '"' and '\\',
 * and (in valid UTF-8) multi-byte sequences other than U+2028/U+2029. */
static int plain_byte(const char *s, size_t i, size_t len, int valid) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
        if (!valid) return 0;
        return !(c == 0xE2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
                 ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9));
    }
    return c >= 0x20 && c != 0x7F && c != '"' && c != '\\';
}

/* Escapes per RFC 8259 §7. Also escapes DEL and U+2028/U+2029 (legal in
 * JSON, but line breaks to JavaScript source and some log viewers). Input
 * that is not valid UTF-8 becomes U+FFFD per byte: output stays valid. */
static void put_escaped(json_buf *b, const char *s, size_t len) {
    int valid = cws_utf8_validate(s, len) == CWS_OK;
    buf_put(b, "\"", 1);
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && plain_byte(s, run, len, valid)) run++;
        buf_put(b, s + i, run - i); /* copy plain runs in one go */
        if (run == len) break;
        i = run;
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': buf_put(b, "\\\"", 2); break;
        case '\\': buf_put(b, "\\\\", 2); break;
        case '\b': buf_put(b, "\\b", 2); break;
        case '\f': buf_put(b, "\\f", 2); break;
        case '\n': buf_put(b, "\\n", 2); break;
        case '\r': buf_put(b, "\\r", 2); break;
        case '\t': buf_put(b, "\\t", 2); break;
        default:
            if (c >= 0x80 && !valid) {
                buf_put(b, "\\ufffd", 6);
            } else if (c == 0xE2) { /* U+2028 or U+2029 */
                buf_put(b, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                i += 2;
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                buf_put(b, esc, 6);
            }
            break;
        }
        i++;
    }
    buf_put(b, "\"", 1);
}

static void put_key(json_buf *b, const char *key) {
    if (b->need_comma) buf_put(b, ",", 1);
    b->need_comma = 1;
    put_escaped(b, key, strlen(key));
    buf_put(b, ":", 1);
}

void json_key_string(json_buf *b, const char *key, const char *s, size_t len) {
    put_key(b, key);
    put_escaped(b, s, len);
}

void json_key_cstring(json_buf *b, const char *key, const char *s) { json_key_string(b, key, s, strlen(s)); }

void json_key_uint(json_buf *b, const char *key, uint64_t v) {
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64, v);
    put_key(b, key);
    buf_put(b, num, (size_t)n);
}

void json_key_array_begin(json_buf *b, const char *key) {
    put_key(b, key);
    buf_put(b, "[", 1);
    b->need_comma = 0;
}

void json_array_string(json_buf *b, const char *s, size_t len) {
    if (b->need_comma) buf_put(b, ",", 1);
    b->need_comma = 1;
    put_escaped(b, s, len);
}

void json_array_end(json_buf *b) {
    buf_put(b, "]", 1);
    b->need_comma = 1; /* the array was a member: the next one follows a comma */
}
