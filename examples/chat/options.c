/* Flag parsing and --help for cws-chat. */
#include "options.h"

#include <cws.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char options_help[] =
    "usage: cws-chat [options]\n"
    "A broadcast chat server: serves a web page and relays every message to\n"
    "every connected browser, with a durable history that survives restarts.\n"
    "\n"
    "  --host ADDR              listen address (default 127.0.0.1: this machine\n"
    "                           only; use 0.0.0.0 or :: to accept others)\n"
    "  --port N                 TCP port (default 8080; 0 picks a free one). The\n"
    "                           first line on stdout is 'listening on http://HOST:PORT'\n"
    "  --web DIR                web root with index.html (default examples/chat/web,\n"
    "                           looked up from the working directory, then next to\n"
    "                           the binary)\n"
    "  --history FILE           base name of the history's files (default\n"
    "                           ./chat-history.log): segments FILE.0000000000000001\n"
    "                           and on, the lock FILE.lock\n"
    "  --fsync always|batch|never\n"
    "                           when the log reaches the disk (default batch):\n"
    "                             always: before each message is broadcast; slowest,\n"
    "                                     a power loss loses nothing that was shown\n"
    "                             batch:  written before the broadcast, synced a few\n"
    "                                     ms later for a whole group; kill -9 loses\n"
    "                                     nothing, a power loss may lose the last batch\n"
    "                             never:  left to the OS; kill -9 still loses nothing,\n"
    "                                     a power loss may lose seconds\n"
    "  --history-size N         messages kept and replayed to clients (default 10000)\n"
    "  --history-bytes N        and at most this many bytes of them (default\n"
    "                           33554432, 32 MiB): the oldest go first. The files\n"
    "                           hold at most 1.125 times what is kept\n"
    "  --redis HOST:PORT        keep the room in Redis Streams instead of the\n"
    "                           history files (builds with REDIS=1): any number of\n"
    "                           nodes given the same Redis and prefix serve one room\n"
    "                           (docs/deployment.md). --history-size bounds what\n"
    "                           Redis keeps; --history, --fsync and --history-bytes\n"
    "                           do not apply (Redis's own persistence does)\n"
    "  --redis-prefix KEY       the room's keys in Redis are KEY:seq, KEY:log,\n"
    "                           KEY:ids, KEY:epoch (default cws-chat): one prefix\n"
    "                           per room or deployment\n"
    "  --reuse-port             listen with SO_REUSEPORT, so that several nodes on\n"
    "                           one machine share the port (one core each)\n";

/* Split in two: ISO C promises string literals of 4095 bytes only. */
static const char options_help_limits[] =
    "  --max-message BYTES      largest WebSocket message accepted; bigger ones\n"
    "                           close the connection with 1009 (default 65536)\n"
    "  --high-water BYTES       unsent bytes queued for one client before it is\n"
    "                           dropped with 1008 as too slow (default 4194304)\n"
    "  --handshake-timeout MS   time a client has to finish its HTTP request\n"
    "                           (default 10000)\n"
    "  --ping-interval MS       how often each client is pinged; the measured\n"
    "                           latency is sent to it (default 5000)\n"
    "  --rate N                 messages per second one client address may send on\n"
    "                           average, over all its connections (default 20);\n"
    "                           above it, and --burst, a message is refused with\n"
    "                           error rate_limited, and a connection that sends\n"
    "                           more than --burst refused ones in a row is closed\n"
    "                           with 1008. An address is an IPv4 address or an\n"
    "                           IPv6 /64\n"
    "  --burst N                messages one client address may send at once\n"
    "                           (default 40)\n"
    "  --max-per-ip N           connections one client address may hold (default\n"
    "                           64; 0: no limit); more are refused with HTTP 429\n"
    "  --trust-proxy ADDR       a reverse proxy (exact IPv4 or IPv6 address) whose\n"
    "                           X-Forwarded-For names the client: the right-most\n"
    "                           entry that is not a trusted proxy counts for the\n"
    "                           limits, a malformed header gets HTTP 400;\n"
    "                           repeatable. From anyone else the header is ignored\n"
    "  --allow-origin ORIGIN    also accept WebSockets from pages of ORIGIN, e.g.\n"
    "                           https://chat.example.com (scheme://host[:port],\n"
    "                           no path); repeatable; '*' accepts any page, 'null'\n"
    "                           sandboxed and file: pages. By default a browser\n"
    "                           gets the chat only from the server's own origin\n"
    "                           (the Host it asked for): any other site's page\n"
    "                           is refused with HTTP 403, so it cannot read the\n"
    "                           history or post. Behind a proxy that rewrites\n"
    "                           Host, list the public origin here\n"
    "  --tls-cert FILE          serve https:// and wss:// with this PEM certificate\n"
    "                           (and its chain); needs a build with TLS (make\n"
    "                           TLS=openssl)\n"
    "  --tls-key FILE           the certificate's PEM private key\n"
    "  --no-deflate             do not compress: decline the permessage-deflate\n"
    "                           (RFC 7692) that browsers offer; by default it is\n"
    "                           on, each message compressed once for everyone\n"
    "  --help                   show this text\n";

/* 1 TiB, or less where size_t is narrower. */
#define HISTORY_BYTES_MAX (SIZE_MAX / 2 < (1ull << 40) ? (unsigned long long)(SIZE_MAX / 2) : 1ull << 40)

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out) {
    char *end;
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

/* HOST:PORT, or [IPV6]:PORT. */
static int parse_host_port(const char *v, chat_options *o) {
    const char *colon = strrchr(v, ':');
    unsigned long long port;
    if (!colon || parse_uint(colon + 1, 65535, &port) || port == 0) return -1;
    const char *h = v;
    size_t len = (size_t)(colon - v);
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
        h++;
        len -= 2;
    } else if (memchr(h, ':', len)) {
        return -1; /* an IPv6 address needs its brackets */
    }
    if (len == 0 || len >= sizeof o->redis_host) return -1;
    memcpy(o->redis_host, h, len);
    o->redis_host[len] = '\0';
    o->redis_port = (int)port;
    o->redis = 1;
    return 0;
}

/* Printable ASCII without spaces, as it becomes part of Redis keys. */
static int prefix_ok(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7E) return 0;
    return 1;
}

int options_parse(chat_options *o, int argc, char **argv, FILE *out, FILE *err) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->history = "chat-history.log";
    o->fsync_mode = HISTORY_FSYNC_BATCH;
    o->history_size = 10000;
    o->history_bytes = (size_t)32 << 20;
    o->max_message = 65536;
    o->high_water = 4u << 20;
    o->handshake_timeout_ms = 10000;
    o->ping_interval_ms = 5000;
    o->rate = 20;
    o->burst = 40;
    o->max_per_ip = 64;
    o->redis_prefix = "cws-chat";

    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            fputs(options_help, out);
            fputs(options_help_limits, out);
            return 1;
        }
        if (strcmp(flag, "--no-deflate") == 0) { /* the flags without a value */
            o->no_deflate = 1;
            continue;
        }
        if (strcmp(flag, "--reuse-port") == 0) {
            o->reuse_port = 1;
            continue;
        }
        /* Both "--flag value" and "--flag=value". */
        char name[32];
        const char *value = NULL;
        const char *eq = strchr(flag, '=');
        size_t nlen = eq ? (size_t)(eq - flag) : strlen(flag);
        if (nlen >= sizeof name) nlen = sizeof name - 1;
        memcpy(name, flag, nlen);
        name[nlen] = '\0';
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        static const char *const known[] = {"--host", "--port", "--web", "--history", "--fsync",
                                            "--history-size", "--history-bytes", "--max-message", "--high-water",
                                            "--handshake-timeout", "--ping-interval", "--rate", "--burst",
                                            "--allow-origin", "--max-per-ip", "--trust-proxy", "--tls-cert",
                                            "--tls-key", "--redis", "--redis-prefix"};
        int is_known = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) is_known |= strcmp(name, known[k]) == 0;
        if (!is_known) {
            fprintf(err, "cws-chat: unknown option %s (see --help)\n", name);
            return -1;
        }
        if (!value) {
            fprintf(err, "cws-chat: %s needs a value (see --help)\n", name);
            return -1;
        }
        unsigned long long v = 0;
        int bad = 0;
        if (strcmp(name, "--host") == 0) {
            o->host = value;
        } else if (strcmp(name, "--port") == 0) {
            bad = parse_uint(value, 65535, &v);
            o->port = (int)v;
        } else if (strcmp(name, "--web") == 0) {
            o->web = value;
        } else if (strcmp(name, "--history") == 0) {
            o->history = value;
            bad = !*value;
        } else if (strcmp(name, "--fsync") == 0) {
            if (strcmp(value, "always") == 0) o->fsync_mode = HISTORY_FSYNC_ALWAYS;
            else if (strcmp(value, "batch") == 0) o->fsync_mode = HISTORY_FSYNC_BATCH;
            else if (strcmp(value, "never") == 0) o->fsync_mode = HISTORY_FSYNC_NEVER;
            else bad = 1;
        } else if (strcmp(name, "--history-size") == 0) {
            bad = parse_uint(value, 1000000, &v) || v == 0;
            o->history_size = (size_t)v;
        } else if (strcmp(name, "--history-bytes") == 0) {
            /* An eighth of it, a segment, then holds the largest chat
             * message (under 25 KB as JSON), which keeps the files within
             * 1.125 times the bound. */
            bad = parse_uint(value, HISTORY_BYTES_MAX, &v) || v < 262144;
            o->history_bytes = (size_t)v;
        } else if (strcmp(name, "--max-message") == 0) {
            bad = parse_uint(value, (size_t)1 << 30, &v) || v < 256;
            o->max_message = (size_t)v;
        } else if (strcmp(name, "--high-water") == 0) {
            bad = parse_uint(value, (size_t)1 << 30, &v) || v < 1024;
            o->high_water = (size_t)v;
        } else if (strcmp(name, "--handshake-timeout") == 0) {
            bad = parse_uint(value, 3600000, &v) || v == 0;
            o->handshake_timeout_ms = (uint32_t)v;
        } else if (strcmp(name, "--ping-interval") == 0) {
            bad = parse_uint(value, 3600000, &v) || v == 0;
            o->ping_interval_ms = (uint32_t)v;
        } else if (strcmp(name, "--rate") == 0) {
            bad = parse_uint(value, 1000000, &v) || v == 0;
            o->rate = (double)v;
        } else if (strcmp(name, "--burst") == 0) {
            bad = parse_uint(value, 1000000, &v) || v == 0;
            o->burst = (double)v;
        } else if (strcmp(name, "--allow-origin") == 0) {
            /* One that is no origin ("https://x/") would never match. */
            bad = !cws_hs_origin_ok(value) || o->n_allow_origins == CHAT_MAX_ORIGINS;
            if (!bad) o->allow_origins[o->n_allow_origins++] = value;
        } else if (strcmp(name, "--max-per-ip") == 0) {
            bad = parse_uint(value, 1000000, &v);
            o->max_per_ip = (size_t)v;
        } else if (strcmp(name, "--trust-proxy") == 0) {
            client_addr a;
            bad = client_addr_parse(value, strlen(value), &a) < 0 || o->n_trust_proxies == CLIENT_ADDR_MAX_PROXIES;
            if (!bad) o->trust_proxies[o->n_trust_proxies++] = value;
        } else if (strcmp(name, "--tls-cert") == 0) {
            o->tls_cert = value;
        } else if (strcmp(name, "--tls-key") == 0) {
            o->tls_key = value;
        } else if (strcmp(name, "--redis") == 0) {
            bad = parse_host_port(value, o);
        } else if (strcmp(name, "--redis-prefix") == 0) {
            bad = !prefix_ok(value);
            o->redis_prefix = value;
        }
        if (bad) {
            fprintf(err, "cws-chat: invalid value for %s: '%s' (see --help)\n", name, value);
            return -1;
        }
    }
    if (o->tls_key && !o->tls_cert) {
        fprintf(err, "cws-chat: --tls-key needs --tls-cert\n");
        return -1;
    }
    if (o->tls_cert && !cws_tls_backend()) {
        fprintf(err, "cws-chat: this build has no TLS; rebuild with make TLS=openssl\n");
        return -1;
    }
    return 0;
}
