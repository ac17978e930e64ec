/* Length-limited canonical Huffman codes (RFC 1951 §3.2.2) for the
 * deflater: optimal lengths by Moffat and Katajainen's in-place method
 * ("In-place calculation of minimum-redundancy codes", 1995), then a
 * repair of the few codes longer than the limit that keeps the code
 * complete. */
#include "huffman_build.h"

#include <string.h>

/* Ascending shellsort of n <= 288 distinct keys. */
static void hb_sort(uint32_t *k, unsigned n) {
    static const unsigned gaps[] = {132, 57, 23, 10, 4, 1};
    for (unsigned g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        unsigned gap = gaps[g];
        for (unsigned i = gap; i < n; i++) {
            uint32_t v = k[i];
            unsigned j = i;
            for (; j >= gap && k[j - gap] > v; j -= gap) k[j] = k[j - gap];
            k[j] = v;
        }
    }
}

/* a[0..n) holds weights in ascending order (n >= 2); on return a[i] is
 * the depth of that leaf in an optimal tree. Internal nodes reuse the
 * array: first their weights, then their parents, then their depths. */
static void hb_min_redundancy(uint32_t *a, int n) {
    int leaf = 2, node = 0;
    a[0] += a[1];
    for (int next = 1; next < n - 1; next++) {
        /* Each new node takes the two lightest of: unused leaves, and
         * nodes not yet given a parent; a node slot then holds its parent. */
        if (leaf >= n || a[node] < a[leaf]) {
            a[next] = a[node];
            a[node++] = (uint32_t)next;
        } else {
            a[next] = a[leaf++];
        }
        if (leaf >= n || (node < next && a[node] < a[leaf])) {
            a[next] += a[node];
            a[node++] = (uint32_t)next;
        } else {
            a[next] += a[leaf++];
        }
    }
    /* Parents to depths, from the root (slot n-2) down. */
    a[n - 2] = 0;
    for (int i = n - 3; i >= 0; i--) a[i] = a[a[i]] + 1;
    /* Leaf depths: at each depth the slots not taken by internal nodes
     * are leaves, handed out from the heaviest leaf down. */
    int avail = 1, used = 0, out = n - 1;
    node = n - 2;
    for (uint32_t depth = 0; avail > 0; depth++) {
        while (node >= 0 && a[node] == depth) {
            used++;
            node--;
        }
        while (avail > used) {
            a[out--] = depth;
            avail--;
        }
        avail = 2 * used;
        used = 0;
    }
}

/* count[1..max] lengths where some exceed max: clamp them, then lengthen
 * the longest codes still below max until the Kraft sum fits, and shorten
 * codes again while it has room, so that the code stays complete. */
static void hb_limit(unsigned *count, unsigned longest, unsigned max) {
    for (unsigned l = max + 1; l <= longest; l++) {
        count[max] += count[l];
        count[l] = 0;
    }
    uint32_t kraft = 0, full = 1u << max;
    for (unsigned l = 1; l <= max; l++) kraft += count[l] << (max - l);
    while (kraft > full) {
        unsigned l = max - 1;
        while (l > 0 && count[l] == 0) l--;
        if (l == 0) break; /* cannot happen while n <= 2^max */
        count[l]--;
        count[l + 1]++;
        kraft -= 1u << (max - l - 1);
    }
    while (kraft < full) {
        unsigned l = max;
        while (l > 1 && (count[l] == 0 || (1u << (max - l)) > full - kraft)) l--;
        if (l <= 1) break;
        count[l]--;
        count[l - 1]++;
        kraft += 1u << (max - l);
    }
}

void cws__huff_lengths(const uint32_t *freq, unsigned n, unsigned max_bits, uint8_t *lens) {
    uint32_t keys[CWS__HUFF_MAX_SYMS];
    unsigned used = 0;
    memset(lens, 0, n);
    for (unsigned s = 0; s < n; s++)
        if (freq[s]) keys[used++] = freq[s] << 9 | s; /* freq < 2^23: ties by symbol */
    if (used < 2) {
        /* One or no symbol: two codes of one bit, a placeholder among them. */
        unsigned s = used ? (keys[0] & 511) : 0;
        lens[s] = 1;
        lens[s == 0 ? 1 : 0] = 1;
        return;
    }
    hb_sort(keys, used);
    uint32_t depth[CWS__HUFF_MAX_SYMS];
    for (unsigned i = 0; i < used; i++) depth[i] = keys[i] >> 9;
    hb_min_redundancy(depth, (int)used);
    unsigned longest = depth[0]; /* the lightest leaf is the deepest */
    if (longest <= max_bits) {
        for (unsigned i = 0; i < used; i++) lens[keys[i] & 511] = (uint8_t)depth[i];
        return;
    }
    unsigned count[CWS__HUFF_MAX_SYMS + 1] = {0};
    for (unsigned i = 0; i < used; i++) count[depth[i]]++;
    hb_limit(count, longest, max_bits);
    /* Longest codes to the rarest symbols. */
    unsigned i = 0;
    for (unsigned l = max_bits; l >= 1; l--)
        for (unsigned c = 0; c < count[l]; c++) lens[keys[i++] & 511] = (uint8_t)l;
}

/* The low len bits of c in reverse order (len <= 16). */
static uint16_t hb_reverse(uint32_t c, unsigned len) {
    c = ((c & 0x5555u) << 1) | ((c >> 1) & 0x5555u);
    c = ((c & 0x3333u) << 2) | ((c >> 2) & 0x3333u);
    c = ((c & 0x0F0Fu) << 4) | ((c >> 4) & 0x0F0Fu);
    c = ((c & 0x00FFu) << 8) | ((c >> 8) & 0x00FFu);
    return (uint16_t)(c >> (16 - len));
}

void cws__huff_codes(const uint8_t *lens, unsigned n, uint16_t *codes) {
    unsigned count[16] = {0};
    uint32_t next[16];
    for (unsigned s = 0; s < n; s++) count[lens[s]]++;
    count[0] = 0;
    uint32_t code = 0;
    for (unsigned l = 1; l < 16; l++) {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    for (unsigned s = 0; s < n; s++) {
        unsigned l = lens[s];
        if (!l) {
            codes[s] = 0;
            continue;
        }
        codes[s] = hb_reverse(next[l]++, l);
    }
}
