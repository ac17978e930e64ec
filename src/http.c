/* The one HTTP/1.1 header-block tokenizer (RFC 7230 §3), shared by the
 * server handshake, the client's response check and the runtime's plain
 * HTTP answers. Zero-copy: every cws_str points into the caller's buffer,
 * and headers are found by walking the raw field block, so a head costs no
 * storage however many fields it has. Nothing here allocates. */
#include "internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* tchar (RFC 7230 §3.2.6): the characters of a method or field name
 * (ALPHA, DIGIT and !#$%&'*+-.^_`|~), one bit per byte value. */
static const uint32_t http_tchar_bits[8] = {0x00000000u, 0x03FF6CFAu, 0xC7FFFFFEu, 0x57FFFFFFu, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u};

int cws__http_is_tchar(unsigned char c) { return (int)((http_tchar_bits[c >> 5] >> (c & 31u)) & 1u); }

int cws__http_is_token(cws_str s) {
    if (s.len == 0) return 0;
    for (size_t i = 0; i < s.len; i++)
        if (!cws__http_is_tchar((unsigned char)s.ptr[i])) return 0;
    return 1;
}

/* Control characters other than HTAB may appear nowhere in a head. */
static int http_is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static int http_is_ows(char c) { return c == ' ' || c == '\t'; }

static cws_str http_trim(const char *p, size_t n) {
    while (n && http_is_ows(p[0])) { p++; n--; }
    while (n && http_is_ows(p[n - 1])) n--;
    cws_str s = {p, n};
    return s;
}

int cws__http_value_ok(const char *z) {
    for (; *z; z++)
        if (http_is_ctl((unsigned char)*z)) return 0;
    return 1;
}

int cws__http_fields_ok(const char *z) {
    if (!z) return 1;
    while (*z) {
        const char *colon = z;
        while (cws__http_is_tchar((unsigned char)*colon)) colon++;
        if (colon == z || *colon != ':') return 0;
        const char *p = colon + 1;
        while (*p && *p != '\r' && !http_is_ctl((unsigned char)*p)) p++;
        if (p[0] != '\r' || p[1] != '\n') return 0;
        z = p + 2;
    }
    return 1;
}

/* --- output text builder: writes what fits, remembers overflow --- */

void cws__text_put(cws__text *t, const void *s, size_t n) {
    if (t->full || n > t->cap - t->len) {
        t->full = 1;
        return;
    }
    if (n) memcpy(t->buf + t->len, s, n);
    t->len += n;
}

void cws__text_puts(cws__text *t, const char *z) { cws__text_put(t, z, strlen(z)); }

void cws__text_putu(cws__text *t, uint64_t v) {
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    cws__text_put(t, digits + sizeof digits - n, n);
}

ptrdiff_t cws__text_end(const cws__text *t) {
    return t->full ? CWS_ERR_NOSPACE : (ptrdiff_t)t->len;
}

/* --- start lines --- */

/* "HTTP/" DIGIT "." DIGIT (RFC 7230 §2.6), exactly 8 bytes. */
static int http_version(cws_http_head *h, const char *p, size_t n) {
    if (n != 8 || memcmp(p, "HTTP/", 5) != 0) return 0;
    if (p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9') return 0;
    h->version_major = p[5] - '0';
    h->version_minor = p[7] - '0';
    return 1;
}

/* Splits the request target into path and query. The absolute form
 * ("http://host/chat?x", RFC 7230 §5.3.2; RFC 6455 §4.2.1 allows it too)
 * loses its scheme and authority so that routing sees only the path. */
/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1) */
static int http_is_scheme_char(char c, int first) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return !first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
}

static void http_split_target(cws_http_head *h) {
    const char *p = h->target.ptr;
    size_t n = h->target.len, start = 0;
    size_t k = 0;
    while (k < n && http_is_scheme_char(p[k], k == 0)) k++;
    if (k > 0 && n - k >= 3 && memcmp(p + k, "://", 3) == 0) {
        start = k + 3;
        while (start < n && p[start] != '/' && p[start] != '?') start++;
    }
    size_t q = start;
    while (q < n && p[q] != '?') q++;
    if (q == start && start > 0) {
        h->path.ptr = "/"; /* "http://host" or "http://host?x" names the root */
        h->path.len = 1;
    } else {
        h->path.ptr = p + start;
        h->path.len = q - start;
    }
    h->query.ptr = q < n ? p + q + 1 : p + n;
    h->query.len = q < n ? n - q - 1 : 0;
}

/* method SP request-target SP HTTP-version (RFC 7230 §3.1.1): single
 * spaces only, a token method and a target without whitespace. */
static int http_request_line(cws_http_head *h, const char *p, size_t n) {
    size_t m = 0;
    while (m < n && cws__http_is_tchar((unsigned char)p[m])) m++;
    if (m == 0 || m == n || p[m] != ' ') return 0;
    size_t t = m + 1, te = t;
    while (te < n && p[te] != ' ' && p[te] != '\t') te++;
    if (te == t || te == n || p[te] != ' ') return 0;
    if (!http_version(h, p + te + 1, n - te - 1)) return 0;
    h->method.ptr = p;
    h->method.len = m;
    h->target.ptr = p + t;
    h->target.len = te - t;
    http_split_target(h);
    return 1;
}

/* HTTP-version SP 3DIGIT SP reason-phrase (RFC 7230 §3.1.2). */
static int http_status_line(cws_http_head *h, const char *p, size_t n) {
    if (n < 13 || !http_version(h, p, 8) || p[8] != ' ' || p[12] != ' ') return 0;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        status = status * 10 + (p[i] - '0');
    }
    if (status < 100) return 0;
    h->status = status;
    h->reason.ptr = p + 13;
    h->reason.len = n - 13;
    return 1;
}

/* field-name ":" OWS field-value OWS (RFC 7230 §3.2). A line starting with
 * whitespace is obs-fold (§3.2.4) and whitespace before the colon is
 * forbidden (§3.2.4): both are rejected, as is an empty or non-token name.
 * The scanner has already refused control characters in the value. */
static int http_field_line(const char *p, size_t n) {
    size_t k = 0;
    while (k < n && cws__http_is_tchar((unsigned char)p[k])) k++;
    return k > 0 && k < n && p[k] == ':';
}

/* The start of the line that holds index end. */
static size_t http_line_start(const char *buf, size_t end) {
    while (end > 0 && buf[end - 1] != '\n') end--;
    return end;
}

/* The first index in [i, limit) of a byte the scanner must stop at: CR,
 * LF or any other control character but HTAB; limit if there is none. */
static size_t http_skip_plain(const char *buf, size_t i, size_t limit) {
#ifdef __SSE2__
    const __m128i top = _mm_set1_epi8(0x1F), del = _mm_set1_epi8(0x7F), tab = _mm_set1_epi8('\t');
    for (; i < limit && limit - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, top), v); /* v <= 0x1F, unsigned */
        ctl = _mm_or_si128(ctl, _mm_cmpeq_epi8(v, del));
        ctl = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl);
        unsigned m = (unsigned)_mm_movemask_epi8(ctl);
        if (m) return i + (size_t)__builtin_ctz(m);
    }
#endif
    while (i < limit && !http_is_ctl((unsigned char)buf[i])) i++;
    return i;
}

static int http_start_line(cws_http_head *h, const char *p, size_t n, int request) {
    return request ? http_request_line(h, p, n) : http_status_line(h, p, n);
}

/* Sets every pointer of a complete head from buf (which may have moved
 * since the previous call). */
static ptrdiff_t http_fill(cws_http_head *h, const char *buf, int request) {
    size_t eol = 0;
    while (eol < h->head_len && buf[eol] != '\r') eol++;
    if (eol + 4 > h->head_len || !http_start_line(h, buf, eol, request)) return CWS_ERR_INVALID;
    h->fields.ptr = buf + eol + 2;
    h->fields.len = h->head_len - 2 - (eol + 2);
    return (ptrdiff_t)h->head_len;
}

/* The incremental scan. scanned_ is the first byte not yet checked (a CR
 * whose LF has not arrived stays unchecked), so a re-presented buffer is
 * never scanned twice; whether a line is empty is read back from the two
 * bytes before it, so no other state is needed. Each line is checked as
 * soon as its CRLF arrives, so garbage fails without waiting for the end. */
static ptrdiff_t http_parse_head(cws_http_head *h, const char *buf, size_t len, size_t max,
                                 int request) {
    if (!h || (!buf && len)) return CWS_ERR_INVALID;
    if (max == 0) max = CWS_HANDSHAKE_MAX_DEFAULT;
    if (h->head_len) {
        if (len < h->head_len) return CWS_ERR_INVALID;
        return http_fill(h, buf, request);
    }
    size_t limit = CWS__MIN(len, max);
    size_t i = h->scanned_;
    /* Resuming inside a line: where it starts is looked up only once its
     * CRLF is here (a walk back per call would make a long line fed byte
     * by byte cost quadratic time). */
    size_t start = SIZE_MAX;
    for (;;) {
        i = http_skip_plain(buf, i, limit);
        if (i >= limit) break;
        if (buf[i] != '\r') goto bad; /* bare LF, NUL, other controls */
        if (i + 1 >= limit) break;
        if (buf[i + 1] != '\n') goto bad; /* bare CR */
        if (start == SIZE_MAX) start = http_line_start(buf, i);
        if (start == i) {
            if (i == 0) goto bad; /* the head starts with its start line */
            h->head_len = i + 2;
            h->scanned_ = i + 2;
            return http_fill(h, buf, request);
        }
        if (start == 0 ? !http_start_line(h, buf, i, request)
                       : !http_field_line(buf + start, i - start))
            goto bad;
        i += 2;
        start = i;
    }
    h->scanned_ = i;
    return limit == max ? CWS_ERR_TOO_BIG : CWS_ERR_AGAIN;
bad:
    h->scanned_ = i;
    return CWS_ERR_INVALID;
}

ptrdiff_t cws_http_parse_request(cws_http_head *h, const char *buf, size_t len, size_t max) {
    return http_parse_head(h, buf, len, max, 1);
}

ptrdiff_t cws_http_parse_response(cws_http_head *h, const char *buf, size_t len, size_t max) {
    return http_parse_head(h, buf, len, max, 0);
}

/* --- reading fields --- */

int cws_http_next_header(const cws_http_head *h, size_t *pos, cws_str *name, cws_str *value) {
    if (!h || !pos || !h->fields.ptr) return 0;
    const char *f = h->fields.ptr;
    size_t n = h->fields.len, i = *pos;
    if (i >= n) return 0;
    size_t colon = i;
    while (colon < n && f[colon] != ':' && f[colon] != '\r') colon++;
    const char *cr = colon < n ? memchr(f + colon, '\r', n - colon) : NULL;
    size_t end = cr ? (size_t)(cr - f) : n;
    *pos = end + 2 <= n ? end + 2 : n;
    if (colon >= end) return 0; /* not a field line: only if h was tampered with */
    if (name) {
        name->ptr = f + i;
        name->len = colon - i;
    }
    if (value) *value = http_trim(f + colon + 1, end - colon - 1);
    return 1;
}

int cws_str_ieq(cws_str s, const char *z) {
    if (!z) return 0;
    size_t n = strlen(z);
    return s.len == n && (n == 0 || cws__ieq_n(s.ptr, z, n));
}

int cws_http_header(const cws_http_head *h, const char *name, cws_str *value) {
    size_t pos = 0;
    cws_str k, v;
    int count = 0;
    while (cws_http_next_header(h, &pos, &k, &v)) {
        if (!cws_str_ieq(k, name)) continue;
        if (count++ == 0 && value) *value = v;
    }
    return count;
}

int cws_http_next_token(cws_str *list, cws_str *token) {
    if (!list) return 0;
    while (list->len) {
        size_t k = 0;
        while (k < list->len && list->ptr[k] != ',') k++;
        cws_str t = http_trim(list->ptr, k);
        size_t skip = k < list->len ? k + 1 : k;
        list->ptr += skip;
        list->len -= skip;
        if (t.len) {
            if (token) *token = t;
            return 1;
        }
    }
    return 0;
}

int cws_http_has_token(const cws_http_head *h, const char *name, const char *token) {
    size_t pos = 0;
    cws_str k, v, t;
    while (cws_http_next_header(h, &pos, &k, &v)) {
        if (!cws_str_ieq(k, name)) continue;
        while (cws_http_next_token(&v, &t))
            if (cws_str_ieq(t, token)) return 1;
    }
    return 0;
}

int cws_http_query_param(cws_str query, const char *key, cws_str *value) {
    if (!key || (!query.ptr && query.len)) return 0;
    size_t klen = strlen(key), i = 0;
    while (i < query.len) {
        size_t end = i;
        while (end < query.len && query.ptr[end] != '&') end++;
        size_t eq = i;
        while (eq < end && query.ptr[eq] != '=') eq++;
        if (eq - i == klen && memcmp(query.ptr + i, key, klen) == 0) {
            if (value) {
                value->ptr = eq < end ? query.ptr + eq + 1 : query.ptr + end;
                value->len = eq < end ? end - eq - 1 : 0;
            }
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

/* --- writing responses --- */

const char *cws_http_status_text(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* "HTTP/1.1 <status> <text>\r\n" */
void cws__http_status_line(cws__text *t, int status) {
    cws__text_puts(t, "HTTP/1.1 ");
    cws__text_putu(t, (uint64_t)status);
    cws__text_puts(t, " ");
    cws__text_puts(t, cws_http_status_text(status));
    cws__text_puts(t, "\r\n");
}

ptrdiff_t cws_http_response_head(int status, const char *content_type, size_t content_length,
                                 const char *extra_headers, char *out, size_t cap) {
    if (status < 100 || status > 999 || (!out && cap)) return CWS_ERR_INVALID;
    if ((content_type && !cws__http_value_ok(content_type)) || !cws__http_fields_ok(extra_headers))
        return CWS_ERR_INVALID;
    cws__text t = {out, cap, 0, 0};
    cws__http_status_line(&t, status);
    if (content_type) {
        cws__text_puts(&t, "Content-Type: ");
        cws__text_puts(&t, content_type);
        cws__text_puts(&t, "\r\n");
    }
    if (content_length != (size_t)-1) {
        cws__text_puts(&t, "Content-Length: ");
        cws__text_putu(&t, content_length);
        cws__text_puts(&t, "\r\n");
    }
    if (extra_headers) cws__text_puts(&t, extra_headers);
    cws__text_puts(&t, "\r\n");
    return cws__text_end(&t);
}
