/* The TLS tests' other side, written against OpenSSL directly: a
 * throwaway CA and server certificate made in memory and written to a
 * temp dir, and a non-blocking TLS peer (client or server) driven from
 * the same thread as the cws loop, one step at a time. Everything is
 * static: each test program stays one translation unit. */
#ifndef TEST_TLS_PEER_H
#define TEST_TLS_PEER_H

#include "../test_runtime_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------ certificates */

typedef struct tls_files {
    char dir[64];
    char ca[96], cert[96], key[96], other_key[96], big_cert[96], enc_key[96];
    X509 *ca_cert;
    EVP_PKEY *ca_key;
} tls_files;

static void tls_add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by ca_key (self-signed when ca is NULL). */
static X509 *tls_make_cert(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *cn, const char *san, long serial) {
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name);
    tls_add_ext(x, ca, NID_basic_constraints, ca ? "CA:FALSE" : "critical,CA:TRUE");
    tls_add_ext(x, ca, NID_key_usage, ca ? "critical,digitalSignature" : "critical,keyCertSign,cRLSign");
    tls_add_ext(x, ca, NID_subject_key_identifier, "hash");
    if (san) tls_add_ext(x, ca, NID_subject_alt_name, san);
    assert_true(X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) > 0);
    return x;
}

static void tls_write_pem(const char *path, X509 *cert, EVP_PKEY *key) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert) assert_int_equal(PEM_write_X509(f, cert), 1);
    if (key) assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* ca.pem, cert.pem (CN localhost; SANs localhost, 127.0.0.1, ::1),
 * key.pem, other-key.pem (a key that matches nothing) and big-cert.pem
 * (cert.pem's name and key, and a 4 MiB comment), enc-key.pem (key.pem
 * encrypted with a passphrase). */
static void tls_files_make(tls_files *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/cws-tls-test.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->ca, sizeof t->ca, "%s/ca.pem", t->dir);
    snprintf(t->cert, sizeof t->cert, "%s/cert.pem", t->dir);
    snprintf(t->key, sizeof t->key, "%s/key.pem", t->dir);
    snprintf(t->other_key, sizeof t->other_key, "%s/other-key.pem", t->dir);
    snprintf(t->big_cert, sizeof t->big_cert, "%s/big-cert.pem", t->dir);
    snprintf(t->enc_key, sizeof t->enc_key, "%s/enc-key.pem", t->dir);
    t->ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
    assert_true(t->ca_key && key && other);
    t->ca_cert = tls_make_cert(t->ca_key, NULL, NULL, "cws test CA", NULL, 1);
    X509 *cert = tls_make_cert(key, t->ca_cert, t->ca_key, "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", 2);
    tls_write_pem(t->ca, t->ca_cert, NULL);
    tls_write_pem(t->cert, cert, NULL);
    tls_write_pem(t->key, NULL, key);
    tls_write_pem(t->other_key, NULL, other);
    FILE *f = fopen(t->enc_key, "w"); /* key.pem under a passphrase */
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(), (unsigned char *)"secret", 6, NULL, NULL), 1);
    fclose(f);
    /* The same name and key with 4 MiB of comment: a server flight
     * larger than what the kernel takes at once. */
    static char comment[4 << 20];
    memset(comment, 'c', sizeof comment - 1);
    X509 *big = tls_make_cert(key, t->ca_cert, t->ca_key, "localhost", "DNS:localhost,IP:127.0.0.1", 3);
    tls_add_ext(big, t->ca_cert, NID_netscape_comment, comment);
    assert_true(X509_sign(big, t->ca_key, EVP_sha256()) > 0);
    tls_write_pem(t->big_cert, big, NULL);
    X509_free(big);
    X509_free(cert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void tls_files_remove(tls_files *t) {
    unlink(t->ca);
    unlink(t->cert);
    unlink(t->key);
    unlink(t->other_key);
    unlink(t->big_cert);
    unlink(t->enc_key);
    rmdir(t->dir);
    X509_free(t->ca_cert);
    EVP_PKEY_free(t->ca_key);
}

/* ------------------------------------------------------------ the peer */

typedef struct tls_peer {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    uint8_t in[1 << 16];     /* plaintext read and not yet consumed */
    size_t in_len;
    int eof;                 /* SSL_ERROR_ZERO_RETURN: close_notify came */
    int failed;              /* any other end (reset, unexpected EOF, alert) */
} tls_peer;

/* A client context trusting the test CA; alpn (wire format) or NULL. */
static SSL_CTX *tls_peer_client_ctx(const tls_files *f, const char *alpn, size_t alpn_len) {
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    assert_non_null(c);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(c), f->ca_cert);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    if (alpn) assert_int_equal(SSL_CTX_set_alpn_protos(c, (const unsigned char *)alpn, (unsigned)alpn_len), 0);
    return c;
}

static void tls_peer_close(tls_peer *p) {
    if (p->ssl) SSL_free(p->ssl);
    if (p->ctx) SSL_CTX_free(p->ctx);
    if (p->fd >= 0) close(p->fd);
    p->ssl = NULL;
    p->ctx = NULL;
    p->fd = -1;
}

/* Runs the TLS handshake on fd while pumping the loop: 1 done, 0 failed. */
static int tls_peer_handshake(tls_peer *p, cws_loop *loop, uint64_t ms) {
    uint64_t end = cws_loop_now(loop) + ms;
    while (cws_loop_now(loop) < end) {
        ERR_clear_error();
        int r = SSL_do_handshake(p->ssl);
        if (r == 1) return 1;
        int e = SSL_get_error(p->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return 0;
        cws_loop_run_once(loop, 2);
    }
    return 0;
}

/* A TLS client connected to 127.0.0.1:port (owning ctx), handshake done
 * unless it failed (then 0). rcvbuf as rt_raw_connect_rcvbuf. */
static int tls_peer_connect(tls_peer *p, cws_loop *loop, int port, SSL_CTX *ctx, int rcvbuf) {
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->fd = rt_raw_connect_rcvbuf(port, 0, rcvbuf);
    assert_true(p->fd >= 0);
    p->ssl = SSL_new(ctx);
    assert_non_null(p->ssl);
    SSL_set_fd(p->ssl, p->fd);
    SSL_set_tlsext_host_name(p->ssl, "localhost");
    SSL_set1_host(p->ssl, "localhost");
    SSL_set_connect_state(p->ssl);
    return tls_peer_handshake(p, loop, 3000);
}

/* Writes all of data, pumping the loop while the kernel is full. */
static void tls_peer_write(tls_peer *p, cws_loop *loop, const void *data, size_t len) {
    const uint8_t *d = data;
    uint64_t end = cws_loop_now(loop) + 10000;
    while (len) {
        size_t w = 0;
        ERR_clear_error();
        if (SSL_write_ex(p->ssl, d, len, &w) == 1) {
            d += w;
            len -= w;
            continue;
        }
        int e = SSL_get_error(p->ssl, 0);
        assert_true(e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ);
        assert_true(cws_loop_now(loop) < end);
        cws_loop_run_once(loop, 1);
    }
}

/* Reads what is there into p->in (as room allows); notes the end. */
static void tls_peer_read_some(tls_peer *p) {
    while (p->in_len < sizeof p->in && !p->eof && !p->failed) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(p->ssl, p->in + p->in_len, sizeof p->in - p->in_len, &n) == 1) {
            p->in_len += n;
            continue;
        }
        int e = SSL_get_error(p->ssl, 0);
        if (e == SSL_ERROR_ZERO_RETURN) p->eof = 1;
        else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) p->failed = 1;
        return;
    }
}

/* Pumps and reads until p->in holds needle, or the end, or ms pass. */
static int tls_peer_read_until(tls_peer *p, cws_loop *loop, const char *needle, uint64_t ms) {
    uint64_t end = cws_loop_now(loop) + ms;
    while (cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 2);
        tls_peer_read_some(p);
        if (p->in_len && memmem(p->in, p->in_len, needle, strlen(needle))) return 1;
        if (p->eof || p->failed) return 0;
    }
    return 0;
}

/* Pumps and reads until the stream ends (close_notify: 1; anything else:
 * -1) or ms pass (0). */
static int tls_peer_read_to_end(tls_peer *p, cws_loop *loop, uint64_t ms) {
    uint64_t end = cws_loop_now(loop) + ms;
    while (cws_loop_now(loop) < end) {
        cws_loop_run_once(loop, 2);
        p->in_len = 0; /* the content is not wanted here */
        tls_peer_read_some(p);
        if (p->eof) return 1;
        if (p->failed) return -1;
    }
    return 0;
}

/* The WebSocket upgrade over the peer; the 101 head is consumed. */
static void tls_peer_ws_upgrade(tls_peer *p, cws_loop *loop) {
    tls_peer_write(p, loop, RT_WS_REQUEST, strlen(RT_WS_REQUEST));
    assert_true(tls_peer_read_until(p, loop, "\r\n\r\n", 3000));
    assert_memory_equal(p->in, "HTTP/1.1 101", 12);
    uint8_t *head_end = memmem(p->in, p->in_len, "\r\n\r\n", 4);
    size_t used = (size_t)(head_end + 4 - p->in);
    memmove(p->in, p->in + used, p->in_len - used);
    p->in_len -= used;
}

/* Takes one unmasked server frame off p->in: its opcode, payload length
 * (payload copied to out if not NULL, up to cap); -1 if not all there. */
static int tls_peer_take_frame(tls_peer *p, uint8_t *out, size_t cap, size_t *len) {
    if (p->in_len < 2) return -1;
    size_t n = p->in[1] & 0x7f, hdr = 2;
    if (n == 126) {
        if (p->in_len < 4) return -1;
        n = (size_t)p->in[2] << 8 | p->in[3];
        hdr = 4;
    } else if (n == 127) {
        if (p->in_len < 10) return -1;
        n = 0;
        for (int i = 0; i < 8; i++) n = n << 8 | p->in[2 + i];
        hdr = 10;
    }
    if (p->in_len < hdr + n) return -1;
    int op = p->in[0] & 0x0f;
    if (out) memcpy(out, p->in + hdr, n < cap ? n : cap);
    *len = n;
    memmove(p->in, p->in + hdr + n, p->in_len - hdr - n);
    p->in_len -= hdr + n;
    return op;
}

#endif
