/* Embedded connections (cws_conn_sizeof / cws_conn_init / cws_conn_deinit)
 * and the settings model: connections made with cws_conn_init share one
 * config, cws_conn_new keeps its own copy. */
#include <cws.h>
#include <cws_util.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* An allocator that counts live blocks, to see what deinit gives back. */
typedef struct embed_heap {
    int live;
    int calls;
} embed_heap;

static void *embed_realloc(void *user, void *ptr, size_t size) {
    embed_heap *h = user;
    h->calls++;
    if (!size) {
        if (ptr) h->live--;
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p && !ptr) h->live++;
    return p;
}

/* What one connection saw; its user pointer. */
typedef struct embed_seen {
    int messages;
    char last[64];   /* the last message (cut to fit) */
    size_t last_len;
    int pings;
    char ping[126];  /* the last ping's payload */
    int close_code;
} embed_seen;

static void embed_on_message(cws_conn *c, void *user, int opcode, const uint8_t *data, size_t len) {
    (void)c;
    (void)opcode;
    embed_seen *s = user;
    s->messages++;
    s->last_len = len;
    size_t keep = len < sizeof s->last ? len : sizeof s->last - 1;
    memcpy(s->last, data, keep);
    s->last[keep] = '\0';
}

static void embed_on_ping(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    (void)c;
    embed_seen *s = user;
    s->pings++;
    assert_true(len < sizeof s->ping);
    memcpy(s->ping, data, len);
    s->ping[len] = '\0';
}

static void embed_on_close(cws_conn *c, void *user, int code, const char *reason, size_t len) {
    (void)c;
    (void)reason;
    (void)len;
    ((embed_seen *)user)->close_code = code;
}

/* A masked client frame, as a server receives it. */
static size_t embed_client_frame(uint8_t *out, int opcode, int fin, const char *payload) {
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    cws_frame_header h;
    memset(&h, 0, sizeof h);
    h.fin = (uint8_t)fin;
    h.opcode = (uint8_t)opcode;
    h.len = strlen(payload);
    h.masked = 1;
    memcpy(h.mask, key, 4);
    size_t n = cws_frame_header_encode(out, &h);
    cws_mask_copy(out + n, (const uint8_t *)payload, (size_t)h.len, key, 0);
    return n + (size_t)h.len;
}

static cws_conn_config embed_server_config(embed_heap *heap) {
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = CWS_SERVER;
    cfg.cb.on_message = embed_on_message;
    cfg.cb.on_close = embed_on_close;
    cfg.cb.on_ping = embed_on_ping;
    cfg.alloc.fn = embed_realloc;
    cfg.alloc.user = heap;
    return cfg;
}

/* Memory for one connection, aligned for any type as cws_conn_init asks. */
typedef union embed_slot {
    max_align_t align;
    unsigned char bytes[512];
} embed_slot;

static void test_sizeof_is_small(void **state) {
    (void)state;
    size_t n = cws_conn_sizeof();
    assert_true(n > 0);
    assert_true(n <= sizeof(embed_slot));
    /* The per-connection budget: a server holds one per idle client. */
    if (sizeof(void *) == 8) assert_true(n <= 104);
}

static void test_init_rejects_bad_arguments(void **state) {
    (void)state;
    embed_heap heap = {0, 0};
    cws_conn_config cfg = embed_server_config(&heap);
    embed_slot slot;
    assert_null(cws_conn_init_shared(NULL, &cfg, NULL));
    assert_null(cws_conn_init_shared(&slot, NULL, NULL));
    cfg.role = 7;
    assert_null(cws_conn_init_shared(&slot, &cfg, NULL));
    cws_conn_deinit(NULL); /* a no-op */
}

/* Two connections in caller memory share one config; each keeps its own
 * user pointer and state, and deinit returns every byte they allocated. */
static void test_two_conns_share_one_config(void **state) {
    (void)state;
    embed_heap heap = {0, 0};
    cws_conn_config cfg = embed_server_config(&heap);
    embed_slot mem[2];
    embed_seen seen[2];
    memset(seen, 0, sizeof seen);
    cws_conn *c[2];
    for (int i = 0; i < 2; i++) {
        c[i] = cws_conn_init_shared(&mem[i], &cfg, NULL);
        assert_ptr_equal(c[i], (void *)&mem[i]);
        assert_null(cws_conn_user(c[i])); /* cfg.user */
        cws_conn_set_user(c[i], &seen[i]);
        assert_int_equal(cws_conn_role(c[i]), CWS_SERVER);
    }
    assert_int_equal(heap.calls, 0); /* init allocates nothing */

    uint8_t buf[256];
    /* c[0]: a fragmented message (reassembled: allocates), c[1]: one frame. */
    size_t n = embed_client_frame(buf, CWS_OP_TEXT, 0, "Hel");
    assert_int_equal(cws_conn_recv(c[0], buf, n), (ptrdiff_t)n);
    assert_true(heap.live > 0);
    n = embed_client_frame(buf, CWS_OP_TEXT, 1, "solo");
    assert_int_equal(cws_conn_recv(c[1], buf, n), (ptrdiff_t)n);
    n = embed_client_frame(buf, CWS_OP_CONT, 1, "lo");
    assert_int_equal(cws_conn_recv(c[0], buf, n), (ptrdiff_t)n);
    assert_int_equal(seen[0].messages, 1);
    assert_string_equal(seen[0].last, "Hello");
    assert_int_equal(seen[1].messages, 1);
    assert_string_equal(seen[1].last, "solo");

    /* Output collects per connection (no write callback in cfg). */
    assert_int_equal(cws_conn_send(c[1], CWS_OP_BINARY, "xy", 2), CWS_OK);
    assert_int_equal(cws_conn_buffered_amount(c[0]), 0);
    assert_int_equal(cws_conn_buffered_amount(c[1]), 4);

    /* A protocol error fails one connection only. */
    n = embed_client_frame(buf, CWS_OP_CONT, 1, "x");
    assert_int_equal(cws_conn_recv(c[0], buf, n), CWS_ERR_PROTOCOL);
    assert_int_equal(seen[0].close_code, CWS_CLOSE_PROTOCOL_ERROR);
    assert_non_null(cws_conn_error(c[0]));
    assert_null(cws_conn_error(c[1]));
    assert_int_equal(cws_conn_state(c[1]), CWS_STATE_OPEN);

    assert_true(heap.live > 0); /* both output buffers */
    for (int i = 0; i < 2; i++) cws_conn_deinit(c[i]);
    assert_int_equal(heap.live, 0);
}

/* The shared config is read, not copied: a change shows in every
 * connection made from it. */
static void test_init_reads_the_shared_config(void **state) {
    (void)state;
    embed_heap heap = {0, 0};
    cws_conn_config cfg = embed_server_config(&heap);
    cfg.max_message_size = 3;
    embed_slot mem;
    embed_seen seen;
    memset(&seen, 0, sizeof seen);
    cws_conn *c = cws_conn_init_shared(&mem, &cfg, NULL);
    cws_conn_set_user(c, &seen);
    uint8_t buf[64];
    size_t n = embed_client_frame(buf, CWS_OP_TEXT, 1, "abc");
    assert_int_equal(cws_conn_recv(c, buf, n), (ptrdiff_t)n);
    cfg.max_message_size = 2;
    n = embed_client_frame(buf, CWS_OP_TEXT, 1, "abc");
    assert_int_equal(cws_conn_recv(c, buf, n), CWS_ERR_TOO_BIG);
    assert_int_equal(seen.close_code, CWS_CLOSE_TOO_BIG);
    cws_conn_deinit(c);
    assert_int_equal(heap.live, 0);
}

static cws_conn *embed_new_from_temporary(embed_heap *heap, embed_seen *seen) {
    cws_conn_config cfg = embed_server_config(heap);
    cfg.user = seen;
    cws_conn *c = cws_conn_new(&cfg, NULL);
    memset(&cfg, 0xA5, sizeof cfg); /* the conn must not depend on it */
    return c;
}

/* cws_conn_new copies the config: a temporary one may go away. */
static void test_new_copies_the_config(void **state) {
    (void)state;
    embed_heap heap = {0, 0};
    embed_seen seen;
    memset(&seen, 0, sizeof seen);
    cws_conn *c = embed_new_from_temporary(&heap, &seen);
    assert_non_null(c);
    assert_ptr_equal(cws_conn_user(c), &seen);
    assert_int_equal(heap.live, 1); /* one block: the conn and its copy */
    uint8_t buf[64];
    size_t n = embed_client_frame(buf, CWS_OP_TEXT, 1, "copy");
    assert_int_equal(cws_conn_recv(c, buf, n), (ptrdiff_t)n);
    assert_string_equal(seen.last, "copy");
    assert_int_equal(cws_conn_close(c, CWS_CLOSE_NORMAL, "bye", 3), CWS_OK);
    cws_conn_free(c);
    assert_int_equal(heap.live, 0);
}

/* A header cut at every byte still decodes (the parser keeps the partial
 * header where the decoded one goes). */
static void test_split_header_in_embedded_conn(void **state) {
    (void)state;
    embed_heap heap = {0, 0};
    cws_conn_config cfg = embed_server_config(&heap);
    char payload[300];
    memset(payload, 'q', sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    uint8_t frame[400];
    size_t n = embed_client_frame(frame, CWS_OP_BINARY, 1, payload); /* 16-bit length + mask: 8-byte header */
    for (size_t cut = 1; cut < 8; cut++) {
        embed_slot mem;
        embed_seen seen;
        memset(&seen, 0, sizeof seen);
        cws_conn *c = cws_conn_init_shared(&mem, &cfg, NULL);
        cws_conn_set_user(c, &seen);
        uint8_t copy[400];
        memcpy(copy, frame, n);
        for (size_t i = 0; i < cut; i++) assert_int_equal(cws_conn_recv(c, copy + i, 1), 1);
        assert_int_equal(cws_conn_recv(c, copy + cut, n - cut), (ptrdiff_t)(n - cut));
        assert_int_equal(seen.messages, 1);
        assert_int_equal(seen.last_len, sizeof payload - 1);
        assert_int_equal(seen.last[0], 'q');
        cws_conn_deinit(c);
    }
    assert_int_equal(heap.live, 0);
}

/* A control frame cut across recv calls is collected past the bytes of the
 * message being reassembled, in the same buffer: the message is intact,
 * and a buffer made only for the control frame is freed after it. */
static void test_cut_ping_inside_a_reassembled_message(void **state) {
    (void)state;
    embed_heap heap = {0, 0};
    cws_conn_config cfg = embed_server_config(&heap);
    embed_slot mem;
    embed_seen seen;
    memset(&seen, 0, sizeof seen);
    cws_conn *c = cws_conn_init_shared(&mem, &cfg, NULL);
    cws_conn_set_user(c, &seen);
    uint8_t buf[256], ping[256];
    size_t pn = embed_client_frame(ping, CWS_OP_PING, 1, "are you there?");

    /* No message open: the ping in three pieces, then nothing is held. */
    assert_int_equal(cws_conn_recv(c, ping, 8), 8);
    assert_int_equal(cws_conn_recv(c, ping + 8, 5), 5);
    assert_int_equal(heap.live, 1);
    assert_int_equal(cws_conn_recv(c, ping + 13, pn - 13), (ptrdiff_t)(pn - 13));
    assert_int_equal(seen.pings, 1);
    assert_string_equal(seen.ping, "are you there?");
    assert_int_equal(heap.live, 1); /* only the pong in the output buffer */
    const uint8_t *out;
    size_t on = cws_conn_output(c, &out);
    assert_int_equal(on, 2 + 14);
    assert_memory_equal(out + 2, "are you there?", 14);
    cws_conn_consume(c, on);
    assert_int_equal(heap.live, 0);

    /* Inside a fragmented message: the ping's bytes do not join it. */
    size_t n = embed_client_frame(buf, CWS_OP_TEXT, 0, "Hel");
    assert_int_equal(cws_conn_recv(c, buf, n), (ptrdiff_t)n);
    pn = embed_client_frame(ping, CWS_OP_PING, 1, "mid-message");
    for (size_t i = 0; i < pn; i++) assert_int_equal(cws_conn_recv(c, ping + i, 1), 1);
    assert_int_equal(seen.pings, 2);
    assert_string_equal(seen.ping, "mid-message");
    n = embed_client_frame(buf, CWS_OP_CONT, 1, "lo");
    assert_int_equal(cws_conn_recv(c, buf, n), (ptrdiff_t)n);
    assert_int_equal(seen.messages, 1);
    assert_string_equal(seen.last, "Hello");
    cws_conn_deinit(c);
    assert_int_equal(heap.live, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizeof_is_small),
        cmocka_unit_test(test_init_rejects_bad_arguments),
        cmocka_unit_test(test_two_conns_share_one_config),
        cmocka_unit_test(test_init_reads_the_shared_config),
        cmocka_unit_test(test_new_copies_the_config),
        cmocka_unit_test(test_split_header_in_embedded_conn),
        cmocka_unit_test(test_cut_ping_inside_a_reassembled_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
