/* The ids clients give their posts, for the messages the history keeps:
 * a post whose id is already here was stored before, and is answered
 * with the stored message instead of being stored again
 * (docs/chat-protocol.md, "Posts with an id").
 *
 * Ids come from the network, so the table is keyed with a random SipHash
 * key: nobody can choose ids that all land in one slot. It holds at most
 * as many ids as the history keeps messages, and the caller forgets the
 * ones whose messages left the history, so its memory follows the
 * history's bounds. */
#ifndef CHAT_POST_IDS_H
#define CHAT_POST_IDS_H

#include <stddef.h>
#include <stdint.h>

#define POST_ID_MAX 64 /* bytes in an id */

typedef struct post_ids post_ids;

/* 1 if id (len bytes) is a valid post id: 1 to POST_ID_MAX bytes, each
 * printable ASCII other than space (0x21-0x7E). */
int post_id_ok(const char *id, size_t len);

/* An empty set that will hold at most max ids. NULL if out of memory or
 * if no random key could be had. */
post_ids *post_ids_new(size_t max);
void post_ids_free(post_ids *p);

/* The seq of the message stored with this id, or 0 if none is known. */
uint64_t post_ids_find(const post_ids *p, const char *id, size_t len);
/* Records that message seq (greater than any recorded) carries id; at
 * max ids, the oldest is forgotten first. Returns 0, or -1 if out of
 * memory (the set is unchanged). */
int post_ids_add(post_ids *p, uint64_t seq, const char *id, size_t len);
/* Forgets the ids of messages older than seq: they left the history. */
void post_ids_forget_before(post_ids *p, uint64_t seq);

#endif
