/* Per-address accounting: the limits that must hold per client, not per
 * connection, or a client would escape them by reconnecting. One record
 * per address (client_addr_limit_key()) holds how many connections it has
 * and a token bucket all of them draw from.
 *
 * Memory: a record lives while its address has a connection, and then
 * until its bucket is surely full again (--burst / --rate seconds), as
 * forgetting it earlier would hand out a fresh bucket. At most
 * max_addresses records: when the table is full, the record idle longest
 * is forgotten early; if every record has connections, the new address is
 * refused. Lookups hash the address with a random secret key (SipHash),
 * so chosen addresses cannot pile up in one chain. */
#ifndef CHAT_PEERS_H
#define CHAT_PEERS_H

#include "client_addr.h"

#include <stddef.h>
#include <stdint.h>

typedef struct peers_config {
    double rate;            /* messages per second, per address */
    double burst;           /* at once: the bucket's size */
    size_t max_per_address; /* connections; 0: no limit */
    size_t max_addresses;   /* records kept at most */
} peers_config;

typedef struct peers peers;
typedef struct peer peer;

typedef enum peers_result {
    PEERS_OK,
    PEERS_ADDRESS_FULL, /* the address has max_per_address connections */
    PEERS_TABLE_FULL    /* max_addresses records, all with connections, or no memory */
} peers_result;

/* NULL if out of memory or no random key could be drawn. */
peers *peers_new(const peers_config *cfg);
void peers_free(peers *t);

/* Counts one more connection for key (from client_addr_limit_key()) at
 * now_ms; on PEERS_OK *out is its record, valid until peers_leave(). */
peers_result peers_join(peers *t, const client_addr *key, uint64_t now_ms, peer **out);
/* That connection ended. */
void peers_leave(peers *t, peer *p, uint64_t now_ms);

/* Takes one token from p's bucket: 1 if the message may go, 0 if the
 * address is over its rate. */
int peers_take(peers *t, peer *p, uint64_t now_ms);

#endif
