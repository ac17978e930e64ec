/* The runtime's copy-free way out (cws__conn_set_direct): a frame encoded
 * straight into the room reserve() hands out is byte for byte the frame
 * the write callback and the internal output buffer get, in both roles,
 * for every length class (7-bit, 16-bit, 64-bit) and for control frames;
 * when reserve() declines (large frames, or always), cb.write takes over
 * and the bytes are still the same, in the same order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/internal.h"

/* Where one connection's bytes go, whichever way they leave. */
typedef struct direct_sink {
    uint8_t *data;
    size_t len, cap;
    size_t decline_over; /* reserve() says NULL for n over this */
    size_t reserved, written; /* calls of each kind */
    uint32_t rng_state;
} direct_sink;

static uint8_t *direct_grow(direct_sink *s, size_t n) {
    if (s->len + n > s->cap) {
        size_t cap = (s->len + n) * 2;
        uint8_t *d = realloc(s->data, cap);
        assert_non_null(d);
        s->data = d;
        s->cap = cap;
    }
    uint8_t *p = s->data + s->len;
    s->len += n;
    return p;
}

static int direct_write(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    (void)c;
    direct_sink *s = user;
    s->written++;
    if (len) memcpy(direct_grow(s, len), data, len);
    return 0;
}

static uint8_t *direct_reserve(cws_conn *c, size_t n) {
    direct_sink *s = cws_conn_user(c);
    if (n > s->decline_over) return NULL;
    s->reserved++;
    uint8_t *p = direct_grow(s, n);
    memset(p, 0xA5, n); /* every byte must be overwritten */
    return p;
}

/* The same key stream for every connection of a test. */
static int direct_rng(void *user, void *buf, size_t len) {
    uint32_t *st = user;
    for (size_t i = 0; i < len; i++) {
        *st = *st * 1103515245u + 12345u;
        ((uint8_t *)buf)[i] = (uint8_t)(*st >> 16);
    }
    return 0;
}

/* Sends the same sequence of frames through c. */
static void direct_send_all(cws_conn *c, const uint8_t *payload) {
    static const size_t sizes[] = {0, 1, 2, 3, 5, 64, 125, 126, 127, 1000, 4096, 65535, 65536, 70001};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_int_equal(cws_conn_send(c, (i & 1) ? CWS_OP_TEXT : CWS_OP_BINARY, payload, sizes[i]), CWS_OK);
        if (i == 3) assert_int_equal(cws_conn_ping(c, "ping", 4), CWS_OK);
        if (i == 6) assert_int_equal(cws_conn_pong(c, payload, 125), CWS_OK);
    }
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_BINARY, payload, 10, 0), CWS_OK);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, payload + 10, 300, 1), CWS_OK);
    assert_int_equal(cws_conn_close(c, 1000, "bye", 3), CWS_OK);
}

static void direct_compare(int role, size_t decline_over) {
    enum { PAYLOAD = 70001 };
    uint8_t *payload = malloc(PAYLOAD);
    assert_non_null(payload);
    /* ASCII, so that it may go out as text (sends check UTF-8). */
    for (size_t i = 0; i < PAYLOAD; i++) payload[i] = (uint8_t)((i * 7 + (i >> 9)) & 0x7F);

    /* 1: through the write callback */
    uint32_t rng1 = 1;
    direct_sink ref;
    memset(&ref, 0, sizeof ref);
    cws_conn_config cfg1;
    memset(&cfg1, 0, sizeof cfg1);
    cfg1.role = role;
    cfg1.cb.write = direct_write;
    cfg1.user = &ref;
    cfg1.rng = direct_rng;
    cfg1.rng_user = &rng1;
    cws_conn *c1 = cws_conn_new(&cfg1, NULL);
    assert_non_null(c1);
    direct_send_all(c1, payload);

    /* 2: through reserve(), with cb.write for what it declines */
    uint32_t rng2 = 1;
    direct_sink dir;
    memset(&dir, 0, sizeof dir);
    dir.decline_over = decline_over;
    cws__conn_config_direct dcfg;
    memset(&dcfg, 0, sizeof dcfg);
    dcfg.base = cfg1;
    dcfg.base.user = &dir;
    dcfg.base.rng_user = &rng2;
    dcfg.reserve = direct_reserve;
    void *mem = malloc(cws_conn_sizeof());
    assert_non_null(mem);
    cws_conn *c2 = cws_conn_init_shared(mem, &dcfg.base, NULL);
    assert_non_null(c2);
    cws__conn_set_direct(c2);
    direct_send_all(c2, payload);

    /* 3: into the internal output buffer */
    uint32_t rng3 = 1;
    cws_conn_config cfg3 = cfg1;
    cfg3.cb.write = NULL;
    cfg3.rng_user = &rng3;
    cws_conn *c3 = cws_conn_new(&cfg3, NULL);
    assert_non_null(c3);
    direct_send_all(c3, payload);
    const uint8_t *out;
    size_t out_len = cws_conn_output(c3, &out);

    assert_int_equal(dir.len, ref.len);
    assert_memory_equal(dir.data, ref.data, ref.len);
    assert_int_equal(out_len, ref.len);
    assert_memory_equal(out, ref.data, ref.len);
    /* 14 messages + ping + pong + 2 fragments + close = 19 frames */
    if (decline_over == SIZE_MAX) {
        assert_int_equal(dir.reserved, 19);
        assert_int_equal(dir.written, 0);
    } else if (decline_over == 0) {
        assert_int_equal(dir.reserved, 0);
    } else {
        assert_true(dir.reserved > 0 && dir.written > 0);
    }

    cws_conn_free(c1);
    cws_conn_deinit(c2);
    free(mem);
    cws_conn_free(c3);
    free(ref.data);
    free(dir.data);
    free(payload);
}

static void test_server_direct(void **state) {
    (void)state;
    direct_compare(CWS_SERVER, SIZE_MAX);
}

static void test_client_direct(void **state) {
    (void)state;
    direct_compare(CWS_CLIENT, SIZE_MAX);
}

static void test_server_partly_declined(void **state) {
    (void)state;
    direct_compare(CWS_SERVER, 4096);
}

static void test_client_partly_declined(void **state) {
    (void)state;
    direct_compare(CWS_CLIENT, 4096);
}

static void test_always_declined(void **state) {
    (void)state;
    direct_compare(CWS_SERVER, 0);
    direct_compare(CWS_CLIENT, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_direct),
        cmocka_unit_test(test_client_direct),
        cmocka_unit_test(test_server_partly_declined),
        cmocka_unit_test(test_client_partly_declined),
        cmocka_unit_test(test_always_declined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
