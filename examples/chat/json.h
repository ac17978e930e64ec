/* A tiny strict JSON (RFC 8259) reader and writer for the chat wire format.
 *
 * Reader: validates a whole document whose top level is an object and hands
 * back the members the caller asks for by name; every other member is
 * validated too, then ignored. Writer: flat objects with string, integer
 * and array-of-string members, escaped so the output is valid JSON
 * whatever the input bytes. */
#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_kind { JSON_NONE = 0, JSON_STRING, JSON_NUMBER, JSON_OBJECT, JSON_ARRAY, JSON_BOOL, JSON_NULL };

/* A member the caller wants. raw points into the parsed document: for a
 * string, the bytes between the quotes, escapes not yet decoded. */
typedef struct json_field {
    const char *name;    /* set by the caller */
    enum json_kind kind; /* JSON_NONE if the member is absent */
    const char *raw;
    size_t raw_len;
} json_field;

#define JSON_MAX_DEPTH 32

/* Parses data (len bytes) as one JSON object and fills fields[0..n) with
 * the members named. Returns 0, or -1 with *err (static text) saying why:
 * invalid UTF-8, syntax, bad escape, lone surrogate, nesting deeper than
 * JSON_MAX_DEPTH, a wanted member given twice, trailing bytes. */
int json_read_object(const char *data, size_t len, json_field *fields, size_t n, const char **err);

/* Decodes a JSON_STRING field's escapes into out (UTF-8, not
 * NUL-terminated). Returns the decoded length, or -1 if it needs more than
 * cap bytes. Never fails otherwise: json_read_object validated it. */
ptrdiff_t json_string_decode(const json_field *f, char *out, size_t cap);

/* A growable output buffer. On allocation failure it sets failed and
 * ignores further writes, so callers check once at the end. */
typedef struct json_buf {
    char *data;
    size_t len, cap;
    int failed;
    int need_comma;
} json_buf;

void json_buf_free(json_buf *b);
void json_buf_reset(json_buf *b);

void json_begin(json_buf *b);              /* { */
void json_end(json_buf *b);                /* } */
void json_key_string(json_buf *b, const char *key, const char *s, size_t len);
void json_key_cstring(json_buf *b, const char *key, const char *s);
void json_key_uint(json_buf *b, const char *key, uint64_t v);
/* "key":[ then strings, then ]: an array of strings as a member. */
void json_key_array_begin(json_buf *b, const char *key);
void json_array_string(json_buf *b, const char *s, size_t len);
void json_array_end(json_buf *b);

#endif
