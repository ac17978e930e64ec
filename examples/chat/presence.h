/* Presence: who joined and who left, told to everyone in batches.
 *
 * Sent one by one, every join and leave goes to every client: a mass
 * reconnect of N clients costs N² frames (12.5 M for 5,000). Here the
 * changes wait in a batch that is flushed as one message, at most every
 * PRESENCE_MIN_INTERVAL_MS, and further apart as the room grows so that
 * presence costs the server at most PRESENCE_FRAMES_PER_SECOND frames a
 * second in all. So a client gets a few presence messages a second
 * whatever happens, and a reconnect wave costs frames linear in N.
 * The message is described in docs/chat-protocol.md ("Presence"). */
#ifndef CHAT_PRESENCE_H
#define CHAT_PRESENCE_H

#include <cws.h>

#include <stddef.h>

#define PRESENCE_MIN_INTERVAL_MS 250     /* quick enough to feel live */
#define PRESENCE_FRAMES_PER_SECOND 10000 /* 250 ms apart up to 2,500 online */
#define PRESENCE_MAX_NAMES 20            /* names per list in a batch; the rest are counted */
#define PRESENCE_MAX_NAME 32             /* bytes of one name (CHAT_MAX_NAME fits) */

typedef struct presence presence;

/* Sends one batch (a whole JSON message) to every client caught up. */
typedef void (*presence_send_fn)(void *user, const char *json, size_t len);

/* Batches are flushed by a timer on loop and handed to send. */
presence *presence_new(cws_loop *loop, presence_send_fn send, void *user);
void presence_free(presence *p);

/* Someone joined or left; online is the count after the change. It goes
 * out with the next batch. */
void presence_joined(presence *p, const char *name, size_t len, size_t online);
void presence_left(presence *p, const char *name, size_t len, size_t online);

/* Shutting down: what is pending is dropped and nothing more is sent. */
void presence_stop(presence *p);

#endif
