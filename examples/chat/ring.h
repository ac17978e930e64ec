/* The in-memory history: the last N messages, oldest evicted first, and
 * optionally no more than a number of bytes of them. */
#ifndef CHAT_RING_H
#define CHAT_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct ring_entry {
    uint64_t seq;
    char *json; /* the message exactly as broadcast */
    size_t len;
} ring_entry;

typedef struct ring {
    ring_entry *slots;
    size_t cap;   /* N */
    size_t head;  /* slot of the oldest entry */
    size_t count;
    size_t bytes;     /* sum of the kept entries' len */
    size_t max_bytes; /* bound on bytes (SIZE_MAX: none) */
} ring;

/* Returns 0, or -1 if out of memory. cap must be > 0. No bound on bytes. */
int ring_init(ring *r, size_t cap);
/* The same, also evicting the oldest entries while the kept ones would
 * hold more than max_bytes (the newest entry is always kept). */
int ring_init_bounded(ring *r, size_t cap, size_t max_bytes);
void ring_free(ring *r);
/* Copies json in; evicts the oldest entries past either bound. Sequence
 * numbers must increase. Returns 0, or -1 if out of memory (the ring is
 * unchanged). */
int ring_push(ring *r, uint64_t seq, const char *json, size_t len);
/* The i-th entry, 0 being the oldest kept; i < r->count. */
const ring_entry *ring_at(const ring *r, size_t i);
/* Index of the first entry whose seq is greater than seq (r->count if none). */
size_t ring_first_after(const ring *r, uint64_t seq);

#endif
