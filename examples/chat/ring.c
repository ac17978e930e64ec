/* Fixed-capacity circular buffer of messages, bounded in bytes too; see
 * ring.h. */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

int ring_init_bounded(ring *r, size_t cap, size_t max_bytes) {
    memset(r, 0, sizeof *r);
    if (cap == 0 || cap > SIZE_MAX / sizeof *r->slots) return -1;
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots) return -1;
    r->cap = cap;
    r->max_bytes = max_bytes;
    return 0;
}

int ring_init(ring *r, size_t cap) { return ring_init_bounded(r, cap, SIZE_MAX); }

static void evict_oldest(ring *r) {
    ring_entry *old = &r->slots[r->head];
    r->bytes -= old->len;
    free(old->json);
    old->json = NULL;
    r->head = (r->head + 1) % r->cap;
    r->count--;
}

void ring_free(ring *r) {
    for (size_t i = 0; i < r->count; i++) free(r->slots[(r->head + i) % r->cap].json);
    free(r->slots);
    memset(r, 0, sizeof *r);
}

int ring_push(ring *r, uint64_t seq, const char *json, size_t len) {
    char *copy = malloc(len ? len : 1);
    if (!copy) return -1;
    memcpy(copy, json, len);
    /* bytes + len cannot wrap: both are sizes of memory we hold. */
    while (r->count > 0 && (r->count == r->cap || r->bytes + len > r->max_bytes)) evict_oldest(r);
    ring_entry *slot = &r->slots[(r->head + r->count) % r->cap];
    r->count++;
    r->bytes += len;
    slot->seq = seq;
    slot->json = copy;
    slot->len = len;
    return 0;
}

const ring_entry *ring_at(const ring *r, size_t i) { return &r->slots[(r->head + i) % r->cap]; }

/* Binary search: sequence numbers increase, though not always by one (a
 * corrupt record skipped on load leaves a hole). */
size_t ring_first_after(const ring *r, uint64_t seq) {
    size_t lo = 0, hi = r->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring_at(r, mid)->seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
