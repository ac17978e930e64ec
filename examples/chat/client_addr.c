/* Client addresses and X-Forwarded-For; see client_addr.h. */
#define _POSIX_C_SOURCE 200809L

#include "client_addr.h"

#include <cws_util.h>

#include <arpa/inet.h>
#include <string.h>

/* The prefix of an IPv4-mapped IPv6 address, ::ffff:0:0/96. */
static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int client_addr_parse(const char *text, size_t len, client_addr *out) {
    char z[INET6_ADDRSTRLEN];
    struct in_addr v4;
    if (len == 0 || len >= sizeof z) return -1;
    memcpy(z, text, len);
    z[len] = '\0';
    if (inet_pton(AF_INET, z, &v4) == 1) {
        memcpy(out->bytes, v4_mapped, sizeof v4_mapped);
        memcpy(out->bytes + 12, &v4, 4);
        return 0;
    }
    /* An IPv4-mapped IPv6 address comes out as the IPv4 one above. */
    return inet_pton(AF_INET6, z, out->bytes) == 1 ? 0 : -1;
}

int trusted_proxies_add(trusted_proxies *t, const char *text) {
    if (t->count == CLIENT_ADDR_MAX_PROXIES) return -1;
    if (client_addr_parse(text, strlen(text), &t->addr[t->count]) < 0) return -1;
    t->count++;
    return 0;
}

static int is_trusted(const trusted_proxies *t, const client_addr *a) {
    for (size_t i = 0; i < t->count; i++)
        if (memcmp(t->addr[i].bytes, a->bytes, sizeof a->bytes) == 0) return 1;
    return 0;
}

/* "1.2.3.4:5678" or "[2001:db8::1]:5678", as cws_socket_peer() writes it. */
static int parse_peer(const char *peer, client_addr *out) {
    const char *end;
    if (peer[0] == '[') {
        end = strchr(peer, ']');
        return end ? client_addr_parse(peer + 1, (size_t)(end - peer - 1), out) : -1;
    }
    end = strrchr(peer, ':');
    return end ? client_addr_parse(peer, (size_t)(end - peer), out) : -1;
}

/* Each proxy appends the address it got the request from, so the list
 * reads client, proxy 1, proxy 2 ...: only the entries our own proxies
 * appended can be believed, and anything left of them may have been
 * written by the client. Hence the right-most entry that is not one of
 * our proxies; what lies left of it is never looked at. Several fields
 * are one list, in order (RFC 7230 §3.2.2). */
static int forwarded_for(const trusted_proxies *t, const cws_http_head *h, client_addr *out) {
    size_t pos = 0;
    cws_str name, value, entry;
    client_addr a, leftmost;
    memset(&leftmost, 0, sizeof leftmost);
    int entries = 0, candidate = 0, malformed = 0;
    while (cws_http_next_header(h, &pos, &name, &value)) {
        if (!cws_str_ieq(name, "X-Forwarded-For")) continue;
        while (cws_http_next_token(&value, &entry)) {
            int ok = client_addr_parse(entry.ptr, entry.len, &a) == 0;
            if (ok && entries++ == 0) leftmost = a;
            if (ok && is_trusted(t, &a)) continue;
            candidate = 1;
            malformed = !ok;
            if (ok) *out = a;
        }
    }
    if (candidate) return malformed ? -1 : 1;
    if (entries) *out = leftmost; /* every hop is ours: the first one asked */
    return entries ? 1 : 0;
}

int client_addr_of(const trusted_proxies *t, const char *peer, const cws_http_head *h, client_addr *out) {
    if (parse_peer(peer, out) < 0) return -1;
    if (!is_trusted(t, out)) return 0; /* its X-Forwarded-For could say anything */
    /* No header: the proxy itself is the client (a health check, say). */
    return forwarded_for(t, h, out) < 0 ? -1 : 0;
}

client_addr client_addr_limit_key(const client_addr *a) {
    client_addr key = *a;
    if (memcmp(a->bytes, v4_mapped, sizeof v4_mapped) != 0) memset(key.bytes + 8, 0, 8);
    return key;
}
