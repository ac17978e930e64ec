#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fputs("usage: cws-client [options] ws[s]://HOST[:PORT][/PATH]\n"
          "Sends each line of stdin as a WebSocket message and prints each\n"
          "message received on its own line. End of input or Ctrl-C closes the\n"
          "connection cleanly (code 1000) after the server answers.\n"
          "\n"
          "  --binary          send lines as binary messages, and print received\n"
          "                    binary messages as raw bytes (default: text\n"
          "                    messages out; binary messages in print as hex)\n"
          "  --raw             print text messages exactly as received (default:\n"
          "                    control characters escaped, see below)\n"
          "  --subprotocol P   offer subprotocol P (Sec-WebSocket-Protocol)\n"
          "  --header 'N: V'   add a request header; repeatable\n"
          "  --deflate         offer permessage-deflate (RFC 7692); with -v, say\n"
          "                    whether the server took it\n"
          "  --ping N          ping every N seconds (may be fractional) and print\n"
          "                    the round-trip time on stderr (display only:\n"
          "                    giving up on a silent server is --keepalive's job)\n"
          "  --keepalive N     ping every N seconds (default 30; 0: never) and\n"
          "                    give up, exit 1 with \"no pong within T s\", when\n"
          "                    a pong takes longer than --keepalive-timeout T\n"
          "  --keepalive-timeout T\n"
          "                    seconds a keepalive pong may take (default 10)\n"
          "  --cafile FILE     wss://: trust the CA certificates in this PEM file\n"
          "                    instead of the system's\n"
          "  --insecure        wss://: accept any certificate for any name (for\n"
          "                    tests only: anyone on the path can read and\n"
          "                    change the traffic)\n"
          "  --verbose, -v     print on stderr \"connected to URL\", the\n"
          "                    negotiated \"subprotocol: P\" (or \"(none)\") and\n"
          "                    the keepalive in effect\n"
          "  --help            show this text\n"
          "\n"
          "wss:// needs a build with TLS (make TLS=openssl); the server's\n"
          "certificate and name are checked unless --insecure says otherwise.\n"
          "Lines may be up to 16 MiB. Text lines must be UTF-8 (RFC 6455 §5.6);\n"
          "others are skipped with a warning.\n"
          "Control characters in text messages and in the close reason are\n"
          "shown escaped, so that each message is one line and a server cannot\n"
          "drive the terminal: \\e \\n \\t \\r ..., other C0 and DEL as \\xHH,\n"
          "C1 (U+0080..U+009F) as \\uHHHH; a backslash is left as it is. --raw\n"
          "turns this off for messages (not for the close reason on stderr).\n"
          "Exit status: 0 after a clean close (1000); 1 if the connection failed,\n"
          "closed with another code (printed on stderr) or the server stopped\n"
          "answering pings; 2 on bad usage.\n",
          out);
}

/* A header line the server can parse: "token: value" with no CR/LF that
 * could smuggle extra lines into the request (RFC 7230 §3.2). */
static int header_is_valid(const char *h) {
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || strpbrk(h, "\r\n")) return 0;
    for (const char *p = h; p < colon; p++)
        if (*p <= ' ' || *p >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *p)) return 0;
    return 1;
}

static int append_header(client_options *o, const char *h) {
    size_t old = o->headers ? strlen(o->headers) : 0;
    char *p = realloc(o->headers, old + strlen(h) + 3);
    if (!p) return -1;
    o->headers = p;
    sprintf(p + old, "%s\r\n", h);
    return 0;
}

static int bad_usage(const char *what, const char *arg) {
    fprintf(stderr, "cws-client: %s '%s' (try --help)\n", what, arg);
    return 2;
}

/* A number of seconds, fractions allowed, up to a day; 0 only if zero_ok.
 * Returns 0, or -1 if text is not one. */
static int parse_seconds(const char *text, int zero_ok, double *seconds) {
    char *end;
    double v = strtod(text, &end);
    if (*end || end == text || !(v >= 0 && v <= 86400) || (v == 0 && !zero_ok)) return -1;
    *seconds = v;
    return 0;
}

int client_options_parse(client_options *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    o->keepalive = CLIENT_KEEPALIVE_DEFAULT;
    o->keepalive_timeout = CLIENT_KEEPALIVE_TIMEOUT_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        /* Options that take a value read it from the next argument. */
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = 1;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(arg, "--binary") == 0) {
            o->binary = 1;
            takes_value = 0;
        } else if (strcmp(arg, "--raw") == 0) {
            o->raw = 1;
            takes_value = 0;
        } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            o->verbose = 1;
            takes_value = 0;
        } else if (strcmp(arg, "--deflate") == 0) {
            o->deflate = 1;
            takes_value = 0;
        } else if (strcmp(arg, "--insecure") == 0) {
            o->insecure = 1;
            takes_value = 0;
        } else if (arg[0] != '-') {
            if (o->url) return bad_usage("more than one URL", arg);
            o->url = arg;
            takes_value = 0;
        } else if (!val) {
            return bad_usage("missing value for", arg);
        } else if (strcmp(arg, "--cafile") == 0) {
            o->cafile = val;
        } else if (strcmp(arg, "--subprotocol") == 0) {
            o->subprotocol = val;
        } else if (strcmp(arg, "--header") == 0) {
            if (!header_is_valid(val)) return bad_usage("bad header (want 'Name: value')", val);
            if (append_header(o, val) != 0) return bad_usage("out of memory for", arg);
        } else if (strcmp(arg, "--ping") == 0) {
            if (parse_seconds(val, 0, &o->ping_seconds) != 0) return bad_usage("bad --ping interval", val);
        } else if (strcmp(arg, "--keepalive") == 0) {
            if (parse_seconds(val, 1, &o->keepalive) != 0) return bad_usage("bad --keepalive interval", val);
        } else if (strcmp(arg, "--keepalive-timeout") == 0) {
            if (parse_seconds(val, 0, &o->keepalive_timeout) != 0)
                return bad_usage("bad --keepalive-timeout", val);
        } else {
            return bad_usage("unknown option", arg);
        }
        i += takes_value;
    }
    if (!o->url) {
        fputs("cws-client: missing URL (try --help)\n", stderr);
        return 2;
    }
    return 0;
}

void client_options_free(client_options *o) {
    free(o->headers);
    o->headers = NULL;
}
