/* Serves the chat page: static files from one web root, over the
 * runtime's plain-HTTP hook (cws_server_config.on_http). */
#ifndef CHAT_SITE_H
#define CHAT_SITE_H

#include <cws.h>

#include <stdio.h>

typedef struct site {
    char *root; /* canonical absolute path, no trailing slash */
} site;

/* Uses dir as the web root, or when dir is NULL the first of
 * examples/chat/web under the working directory, then beside the binary
 * (argv0). Returns 0, or -1 after saying why on err. */
int site_open(site *s, const char *dir, const char *argv0, FILE *err);
void site_close(site *s);

/* Answers one GET or HEAD: 200 with the file and its Content-Type, 400 for paths
 * we refuse to interpret (percent-encoding, dot segments, odd bytes), 404
 * for anything missing or resolving outside the root (symlinks included),
 * 405 for other methods (HEAD is GET without the body). */
void site_serve(const site *s, cws_http_reply *r, const cws_http_head *req);

#endif
