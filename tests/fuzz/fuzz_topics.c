/* The topic table (src/runtime/topics.c) driven by the input: subscribe,
 * unsubscribe, membership, a publish's walk of one topic, and a socket
 * going away, over fake sockets (the table touches nothing of a socket but
 * own.srv) and names the input makes (any bytes, up to 319 of them).
 * After every step it is compared with a model (a matrix of sockets by
 * names), and both sides of every subscription must point at each other. */
#include "fuzz_util.h"
#include "../../src/runtime/runtime.h"

#define NSOCK 12
#define NNAME 24
#define NAME_MAX_LEN 320

typedef struct fz_name {
    uint8_t b[NAME_MAX_LEN];
    size_t len;
} fz_name;

static fz_name names[NNAME];
static size_t nnames;
static uint8_t model[NSOCK][NNAME];
static cws_socket socks[NSOCK];

static size_t model_count(int s) {
    size_t n = 0;
    for (size_t k = 0; k < nnames; k++) n += model[s][k];
    return n;
}

/* A name from the input; one equal to a known name is that name. */
static void add_name(fuzz_input *in) {
    if (nnames == NNAME) return;
    fz_name *nm = &names[nnames];
    uint8_t sel = fuzz_byte(in);
    nm->len = sel & 0x80 ? (size_t)256 + (sel & 0x3F) : (size_t)(sel % 12) + 1; /* short, or long */
    for (size_t i = 0; i < nm->len; i++) nm->b[i] = (uint8_t)(fuzz_byte(in) % 4); /* few letters: near twins */
    for (size_t k = 0; k < nnames; k++)
        if (names[k].len == nm->len && !memcmp(names[k].b, nm->b, nm->len)) return;
    nnames++;
}

static void check_all(const rt_topics *tt) {
    size_t topics = 0;
    for (size_t k = 0; k < nnames; k++) {
        size_t want = 0;
        for (int s = 0; s < NSOCK; s++) want += model[s][k];
        rt_topic *t = cws__topics_find(tt, names[k].b, names[k].len);
        FUZZ_CHECK((t != NULL) == (want != 0)); /* empty topics are freed */
        if (!t) continue;
        topics++;
        FUZZ_CHECK(t->n == want && t->n <= t->cap && t->len == names[k].len);
        /* What a publish walks: exactly the subscribers, each once. */
        for (uint32_t i = 0; i < t->n; i++) {
            cws_socket *s = t->mem[i].s;
            int si = (int)(s - socks);
            FUZZ_CHECK(si >= 0 && si < NSOCK && model[si][k]);
            for (uint32_t j = 0; j < i; j++) FUZZ_CHECK(t->mem[j].s != s);
            FUZZ_CHECK(s->own.srv && t->mem[i].slot < s->own.srv->nsub);
            FUZZ_CHECK(s->own.srv->sub[t->mem[i].slot].t == t && s->own.srv->sub[t->mem[i].slot].idx == i);
        }
    }
    FUZZ_CHECK(tt->count == topics);
    for (int s = 0; s < NSOCK; s++) {
        rt_srvsock *x = socks[s].own.srv;
        size_t n = model_count(s);
        FUZZ_CHECK(x ? x->nsub == n && x->nsub <= x->cap : n == 0);
        for (uint32_t j = 0; x && j < x->nsub; j++) {
            const rt_topic *t = x->sub[j].t;
            FUZZ_CHECK(x->sub[j].idx < t->n && t->mem[x->sub[j].idx].s == &socks[s] && t->mem[x->sub[j].idx].slot == j);
        }
        for (size_t k = 0; k < nnames; k++)
            FUZZ_CHECK(cws__topics_has(tt, &socks[s], names[k].b, names[k].len) == model[s][k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    rt_topics tt;
    memset(&tt, 0, sizeof tt);
    memset(socks, 0, sizeof socks);
    memset(model, 0, sizeof model);
    nnames = 0;
    size_t max = (size_t)fuzz_byte(&in) % NNAME + 1;
    add_name(&in);
    while (in.n) {
        uint8_t op = fuzz_byte(&in), arg = fuzz_byte(&in);
        int s = arg % NSOCK;
        size_t k = (size_t)(arg >> 4) % nnames;
        const fz_name *nm = &names[k];
        switch (op % 8) {
        case 0:
        case 1: {
            int rc = cws__topics_sub(&tt, &socks[s], nm->b, nm->len, max);
            if (model[s][k]) FUZZ_CHECK(rc == CWS_OK);
            else if (model_count(s) >= max) FUZZ_CHECK(rc == CWS_ERR_TOO_BIG);
            else FUZZ_CHECK(rc == CWS_OK);
            if (rc == CWS_OK) model[s][k] = 1;
            break;
        }
        case 2:
        case 3:
            FUZZ_CHECK(cws__topics_unsub(&tt, &socks[s], nm->b, nm->len) == (model[s][k] ? CWS_OK : CWS_ERR_STATE));
            model[s][k] = 0;
            break;
        case 4: /* a subprotocol shares own.srv: it must survive and go with it */
            if (!socks[s].own.srv || !socks[s].own.srv->protocol) {
                rt_srvsock *x = cws__srvsock_get(&socks[s]);
                FUZZ_CHECK(x != NULL);
                x->protocol = malloc(4);
                FUZZ_CHECK(x->protocol != NULL);
                memcpy(x->protocol, "chat", 4);
            }
            break;
        case 5: /* the socket is gone */
            cws__topics_socket_gone(&tt, &socks[s]);
            FUZZ_CHECK(socks[s].own.srv == NULL);
            memset(model[s], 0, sizeof model[s]);
            break;
        default: add_name(&in); break;
        }
        check_all(&tt);
    }
    for (int s = 0; s < NSOCK; s++) cws__topics_socket_gone(&tt, &socks[s]);
    FUZZ_CHECK(tt.count == 0);
    cws__topics_free(&tt);
    return 0;
}
