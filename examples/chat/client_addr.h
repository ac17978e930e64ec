/* Who a connection counts as for the per-address limits (peers.h): the
 * TCP peer's address, or, behind a proxy named with --trust-proxy, the
 * client address that proxy reports in X-Forwarded-For. */
#ifndef CHAT_CLIENT_ADDR_H
#define CHAT_CLIENT_ADDR_H

#include <cws.h>

#include <stddef.h>
#include <stdint.h>

#define CLIENT_ADDR_MAX_PROXIES 32

/* An address as 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
typedef struct client_addr {
    uint8_t bytes[16];
} client_addr;

/* The proxies whose X-Forwarded-For is believed (exact addresses). */
typedef struct trusted_proxies {
    client_addr addr[CLIENT_ADDR_MAX_PROXIES];
    size_t count;
} trusted_proxies;

/* Parses a bare IPv4 or IPv6 address ("192.0.2.7", "2001:db8::1"; no
 * brackets, port or zone). Returns 0, or -1 if text is not one. */
int client_addr_parse(const char *text, size_t len, client_addr *out);

/* Adds one --trust-proxy address. Returns 0, or -1 if it is no address
 * or the list is full. */
int trusted_proxies_add(trusted_proxies *t, const char *text);

/* The client's address for a connection from peer (cws_socket_peer()'s
 * text, "1.2.3.4:5678" or "[::1]:5678") with request head h. From a
 * trusted proxy, it is the right-most X-Forwarded-For entry that is not
 * itself a trusted proxy; from anyone else the header is ignored.
 * Returns 0, or -1 if a trusted proxy sent a malformed X-Forwarded-For
 * (answer 400) or the peer's address is unknown. */
int client_addr_of(const trusted_proxies *t, const char *peer, const cws_http_head *h, client_addr *out);

/* The key limits are counted under: an IPv4 address as it is, an IPv6
 * address cut to its /64 prefix (the rest zeroed), as one subscriber is
 * usually given a whole /64 and could otherwise pick a fresh address for
 * every connection. */
client_addr client_addr_limit_key(const client_addr *a);

#endif
