/* Regression tests from the fuzzing work (tests/fuzz/). Each test pins a
 * behaviour the harnesses ran into, with the input that showed it, so it
 * stays as it is. A fuzz finding in the library becomes a test here too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cws.h>

/* RFC 6455 §5.7: a masked "Hello" from a client. */
static const uint8_t REG_MASKED_HELLO[11] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};

typedef struct reg_log {
    int begins, ends, closes, close_code;
    int pause_begin, pause_data;
    char data[64];
    size_t data_len;
    int after_close; /* callbacks seen after on_close */
} reg_log;

static void reg_begin(cws_conn *c, void *user, int opcode) {
    (void)c;
    (void)opcode;
    reg_log *l = user;
    l->after_close += l->closes;
    l->begins++;
    if (l->pause_begin-- > 0) cws_conn_pause(c);
}

static void reg_data(cws_conn *c, void *user, const uint8_t *data, size_t len) {
    (void)c;
    reg_log *l = user;
    l->after_close += l->closes;
    if (l->data_len + len <= sizeof l->data) memcpy(l->data + l->data_len, data, len);
    l->data_len += len;
    if (l->pause_data-- > 0) cws_conn_pause(c);
}

static void reg_end(cws_conn *c, void *user) {
    (void)c;
    reg_log *l = user;
    l->after_close += l->closes;
    l->ends++;
}

static void reg_close(cws_conn *c, void *user, int code, const char *reason, size_t len) {
    (void)c;
    (void)reason;
    (void)len;
    reg_log *l = user;
    l->closes++;
    l->close_code = code;
}

static cws_conn *reg_streamed_server(reg_log *l, const cws_allocator *alloc) {
    cws_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = CWS_SERVER;
    cfg.receive = CWS_RECEIVE_STREAM;
    cfg.cb.on_message_begin = reg_begin;
    cfg.cb.on_message_data = reg_data;
    cfg.cb.on_message_end = reg_end;
    cfg.cb.on_close = reg_close;
    cfg.user = l;
    if (alloc) cfg.alloc = *alloc;
    cws_conn *c = cws_conn_new(&cfg, NULL);
    assert_non_null(c);
    return c;
}

/* fuzz_conn: on_message_begin returning non-zero pauses before the
 * payload; the begin counts as delivered, so resuming gives the data and
 * the end, never a second begin. */
static void test_pause_in_begin_resumes_with_data(void **state) {
    (void)state;
    reg_log l = {0};
    l.pause_begin = 1;
    cws_conn *c = reg_streamed_server(&l, NULL);
    uint8_t buf[sizeof REG_MASKED_HELLO];
    memcpy(buf, REG_MASKED_HELLO, sizeof buf);
    ptrdiff_t n = cws_conn_recv(c, buf, sizeof buf);
    assert_int_equal(n, 6); /* the header: 2 bytes + mask key */
    assert_int_equal(l.begins, 1);
    assert_int_equal(l.data_len, 0);
    assert_int_equal(cws_conn_recv(c, buf + n, sizeof buf - (size_t)n), (ptrdiff_t)sizeof buf - n);
    assert_int_equal(l.begins, 1);
    assert_int_equal(l.ends, 1);
    assert_int_equal(l.data_len, 5);
    assert_memory_equal(l.data, "Hello", 5);
    cws_conn_free(c);
}

/* fuzz_conn: a pause in the last data chunk holds back on_message_end
 * until the next recv, which may be empty. */
static void test_paused_end_comes_on_empty_recv(void **state) {
    (void)state;
    reg_log l = {0};
    l.pause_data = 1;
    cws_conn *c = reg_streamed_server(&l, NULL);
    uint8_t buf[sizeof REG_MASKED_HELLO];
    memcpy(buf, REG_MASKED_HELLO, sizeof buf);
    assert_int_equal(cws_conn_recv(c, buf, sizeof buf), (ptrdiff_t)sizeof buf);
    assert_int_equal(l.ends, 0);
    assert_int_equal(cws_conn_recv(c, buf + sizeof buf, 0), 0);
    assert_int_equal(l.ends, 1);
    assert_int_equal(cws_conn_recv(c, buf + sizeof buf, 0), 0);
    assert_int_equal(l.ends, 1); /* only once */
    cws_conn_free(c);
}

/* fuzz_conn_frames: invalid UTF-8 in the second frame of a streamed text
 * message: the first frame was delivered, the bad one is not, the close
 * is 1007, and no callback follows on_close. */
static void test_streamed_bad_utf8_then_silence(void **state) {
    (void)state;
    reg_log l = {0};
    cws_conn *c = reg_streamed_server(&l, NULL);
    uint8_t in[] = {0x01, 0x82, 0, 0, 0, 0, 0xce, 0xba,             /* "κ", FIN=0 */
                    0x80, 0x82, 0, 0, 0, 0, 0xed, 0xa0,             /* a surrogate */
                    0x81, 0x81, 0, 0, 0, 0, 'x'};                   /* ignored */
    assert_int_equal(cws_conn_recv(c, in, sizeof in), CWS_ERR_UTF8);
    assert_int_equal(l.begins, 1);
    assert_int_equal(l.data_len, 2);
    assert_int_equal(l.ends, 0);
    assert_int_equal(l.closes, 1);
    assert_int_equal(l.close_code, CWS_CLOSE_INVALID_DATA);
    assert_int_equal(cws_conn_recv(c, in, sizeof in), CWS_ERR_UTF8); /* stays failed */
    assert_int_equal(l.after_close, 0);
    assert_true(cws_conn_done(c));
    cws_conn_free(c);
}

/* An allocator that can be told to refuse. */
typedef struct reg_alloc {
    int refuse;
    long live;
} reg_alloc;

static void *reg_realloc(void *user, void *ptr, size_t size) {
    reg_alloc *a = user;
    if (size == 0) {
        if (ptr) a->live--;
        free(ptr);
        return NULL;
    }
    if (a->refuse) return NULL;
    void *p = realloc(ptr, size);
    if (p && !ptr) a->live++;
    return p;
}

/* fuzz_conn (allocation failures): a last fragment refused for lack of
 * memory leaves the fragmented send open: a new message is refused with
 * CWS_ERR_STATE, and the fragment can be sent again once memory is back. */
static void test_refused_last_fragment_keeps_message_open(void **state) {
    (void)state;
    reg_log l = {0};
    reg_alloc ra = {0};
    cws_allocator alloc = {reg_realloc, &ra};
    cws_conn *c = reg_streamed_server(&l, &alloc);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_TEXT, "a", 1, 0), CWS_OK);
    cws_conn_consume(c, cws_conn_output(c, NULL)); /* drained: the buffer is freed */
    ra.refuse = 1;
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "b", 1, 1), CWS_ERR_NOMEM);
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_TEXT, "c", 1, 1), CWS_ERR_STATE);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "c", 1), CWS_ERR_STATE);
    ra.refuse = 0;
    assert_int_equal(cws_conn_send_fragment(c, CWS_OP_CONT, "b", 1, 1), CWS_OK);
    assert_int_equal(cws_conn_send(c, CWS_OP_TEXT, "c", 1), CWS_OK);
    const uint8_t *out;
    size_t n = cws_conn_output(c, &out);
    static const uint8_t want[] = {0x80, 0x01, 'b', 0x81, 0x01, 'c'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);
    cws_conn_free(c);
    assert_int_equal(ra.live, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_in_begin_resumes_with_data),
        cmocka_unit_test(test_paused_end_comes_on_empty_recv),
        cmocka_unit_test(test_streamed_bad_utf8_then_silence),
        cmocka_unit_test(test_refused_last_fragment_keeps_message_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
