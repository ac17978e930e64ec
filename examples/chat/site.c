/* Static files for the chat page; see site.h. */
#define _XOPEN_SOURCE 700

#include "site.h"

#include <cws_util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SITE_MAX_PATH 256
#define SITE_MAX_FILE (4u << 20)

/* The page loads only its own files and may not be framed by another
 * site (clickjacking: frame-ancestors, and X-Frame-Options for browsers
 * without CSP 2). connect-src names ws: and wss: because before CSP 3
 * 'self' did not cover them; app.js connects to its own host only. No
 * plugins, no <base> rewriting, no form posted anywhere. */
static const char site_headers[] =
    "Cache-Control: no-cache\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n";

static const struct {
    const char *ext, *type;
} site_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

static const char *content_type(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof site_types / sizeof site_types[0]; i++) {
        size_t e = strlen(site_types[i].ext);
        if (n > e && strcmp(path + n - e, site_types[i].ext) == 0) return site_types[i].type;
    }
    return "application/octet-stream";
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dirname(argv0)/rel, or NULL. */
static char *beside_binary(const char *argv0, const char *rel) {
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    if (!slash) return NULL;
    size_t dlen = (size_t)(slash - argv0) + 1, rlen = strlen(rel);
    char *p = malloc(dlen + rlen + 1);
    if (!p) return NULL;
    memcpy(p, argv0, dlen);
    memcpy(p + dlen, rel, rlen + 1);
    return p;
}

int site_open(site *s, const char *dir, const char *argv0, FILE *err) {
    s->root = NULL;
    if (dir) {
        s->root = realpath(dir, NULL);
    } else {
        /* The binary is build/cws-chat (or build/<name>/cws-chat). */
        static const char *const beside[] = {"../examples/chat/web", "../../examples/chat/web"};
        if (is_dir("examples/chat/web")) s->root = realpath("examples/chat/web", NULL);
        for (size_t i = 0; !s->root && i < 2; i++) {
            char *p = beside_binary(argv0, beside[i]);
            if (p && is_dir(p)) s->root = realpath(p, NULL);
            free(p);
        }
        dir = "examples/chat/web";
    }
    if (!s->root || !is_dir(s->root)) {
        fprintf(err, "cws-chat: web root %s: %s (see --web)\n", dir, s->root ? "not a directory" : strerror(errno));
        site_close(s);
        return -1;
    }
    return 0;
}

void site_close(site *s) {
    free(s->root);
    s->root = NULL;
}

static void reply_text(cws_http_reply *r, int status, const char *extra) {
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, cws_http_status_text(status));
    cws_http_reply_send(r, status, "text/plain; charset=utf-8", body, (size_t)n, extra);
}

/* Accepts only plain paths: "/" followed by segments of [A-Za-z0-9_.-]
 * that do not start with a dot. No percent-decoding at all, so "%2e%2e"
 * can never turn into "..", and no "//", ".", ".." or hidden files. */
static int path_is_plain(cws_str p) {
    if (p.len == 0 || p.len > SITE_MAX_PATH || p.ptr[0] != '/') return 0;
    for (size_t i = 1; i < p.len; i++) {
        char c = p.ptr[i], prev = p.ptr[i - 1];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '-' || c == '.' || c == '/';
        if (!ok || (prev == '/' && (c == '/' || c == '.'))) return 0;
    }
    return 1;
}

/* Reads a regular file of at most SITE_MAX_FILE bytes; *len gets its size. */
static char *read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (off_t)SITE_MAX_FILE) {
        size_t want = (size_t)st.st_size, got = 0;
        data = malloc(want ? want : 1);
        while (data && got < want) {
            ssize_t n = read(fd, data + got, want - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (data && got != want) {
            free(data);
            data = NULL;
        }
        *len = got;
    }
    close(fd);
    return data;
}

void site_serve(const site *s, cws_http_reply *r, const cws_http_head *req) {
    /* Methods are case-sensitive (RFC 7231 §4.1); the runtime drops the
     * body of a HEAD answer itself. */
    int get = req->method.len == 3 && memcmp(req->method.ptr, "GET", 3) == 0;
    int head = req->method.len == 4 && memcmp(req->method.ptr, "HEAD", 4) == 0;
    if (!get && !head) {
        reply_text(r, 405, "Allow: GET, HEAD\r\n");
        return;
    }
    if (!path_is_plain(req->path)) {
        reply_text(r, 400, NULL);
        return;
    }
    int index = req->path.len == 1;
    size_t rlen = strlen(s->root);
    char *full = malloc(rlen + req->path.len + sizeof "/index.html");
    if (!full) {
        reply_text(r, 500, NULL);
        return;
    }
    memcpy(full, s->root, rlen);
    memcpy(full + rlen, req->path.ptr, req->path.len);
    strcpy(full + rlen + req->path.len, index ? "index.html" : "");

    /* Resolve symlinks, then insist the result is still inside the root. */
    char *real = realpath(full, NULL);
    free(full);
    size_t len = 0;
    char *body = NULL;
    if (real && strncmp(real, s->root, rlen) == 0 && real[rlen] == '/') body = read_file(real, &len);
    if (!body) {
        free(real);
        reply_text(r, 404, NULL);
        return;
    }
    cws_http_reply_send(r, 200, content_type(real), body, len, site_headers);
    free(body);
    free(real);
}
