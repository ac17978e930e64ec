/* Where the room keeps its messages: "append, read range, tail".
 *
 * The room (chat.c) knows seqs, replays, presence and limits; a store
 * knows how messages are kept and numbered. Two implement this:
 *   store_file.c   the history files of one process (history.h);
 *   redis_store.c  Redis Streams, shared by any number of nodes.
 * A third (NATS JetStream, say) is one more file.
 *
 * The contract:
 * - append assigns the next seq and stores the message, or finds that a
 *   message with the same post id is kept and stores nothing. Its answer
 *   comes through done, at once or later.
 * - tail: every stored message, from whichever node, reaches the room
 *   exactly once and in seq order through the deliver function given to
 *   store_set_tail, after it is stored. The room sends messages live only
 *   from there, so every client of every node sees one order.
 * - last_seq is the newest seq delivered through the tail; read hands out
 *   kept messages after a seq, a bounded piece at a time, at once or
 *   later. Reads may return messages newer than last_seq (stored, not yet
 *   tailed): the room skips those and gets them from the tail.
 * Every callback may be called from inside the call that started it (the
 * file store answers at once) or from a later loop round. */
#ifndef CHAT_STORE_H
#define CHAT_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

typedef struct store_entry {
    uint64_t seq;
    const char *json; /* the message exactly as clients get it; valid during the callback */
    size_t len;
} store_entry;

typedef enum store_result {
    STORE_STORED,    /* stored: the tail brings it to everyone, its sender included */
    STORE_DUPLICATE, /* its id is kept: json is that message, stored nothing */
    STORE_FAILED     /* not stored: the client gets the `storage` error */
} store_result;

/* json/len only for STORE_DUPLICATE. */
typedef void (*store_append_fn)(void *req, store_result r, const char *json, size_t len);
/* ok 0: the read failed (storage unreachable). Else e[0..n) hold the kept
 * messages after the seq asked for, oldest first; n 0: none is kept. */
typedef void (*store_read_fn)(void *req, int ok, const store_entry *e, size_t n);
/* A stored message, in seq order, each once. */
typedef void (*store_deliver_fn)(void *user, uint64_t seq, const char *json, size_t len);
/* The storage lost messages that clients saw (its seqs start over, a new
 * epoch): what the room holds of them is void. */
typedef void (*store_reset_fn)(void *user);

typedef struct store_ops {
    const char *(*epoch)(const store *s);
    uint64_t (*last_seq)(const store *s);
    /* 1 once it can serve clients (it knows its epoch and last seq). */
    int (*ready)(const store *s);
    /* The message is the JSON object `{"type":"message","seq":N` followed
     * by body (`,"time":...}`): the store writes the seq, as only it knows
     * the next one. id (idlen 0: none) is the post id. */
    void (*append)(store *s, const char *id, size_t idlen, const char *body, size_t len, store_append_fn done,
                   void *req);
    /* Messages with seq > after, up to about max_bytes of them (at least
     * one if any). */
    void (*read)(store *s, uint64_t after, size_t max_bytes, store_read_fn done, void *req);
    /* Before shutdown: whatever is pending reaches the disk or the server. */
    void (*flush)(store *s);
    /* Answers every pending request (failed), then frees the store. */
    void (*close)(store *s);
} store_ops;

struct store {
    const store_ops *ops;
    /* 1: other processes append too, so a client may have seen seqs this
     * node has not tailed yet (the room waits a little for them). */
    int shared;
    store_deliver_fn deliver;
    store_reset_fn reset;
    void *user;
};

static inline void store_set_tail(store *s, store_deliver_fn deliver, store_reset_fn reset, void *user) {
    s->deliver = deliver;
    s->reset = reset;
    s->user = user;
}

#endif
