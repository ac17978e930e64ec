/* cws-chat's command-line flags. */
#ifndef CHAT_OPTIONS_H
#define CHAT_OPTIONS_H

#include "client_addr.h"
#include "history.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CHAT_MAX_ORIGINS 32

typedef struct chat_options {
    const char *host;
    int port;
    const char *web;          /* NULL: look for examples/chat/web */
    const char *history;
    history_fsync fsync_mode;
    size_t history_size;      /* messages kept */
    size_t history_bytes;     /* and bytes of them */
    size_t max_message;
    size_t high_water;
    uint32_t handshake_timeout_ms;
    uint32_t ping_interval_ms;
    double rate;              /* messages per second per client address */
    double burst;             /* bucket size */
    size_t max_per_ip;        /* connections per client address; 0: no limit */
    /* --trust-proxy values, NULL-terminated. */
    const char *trust_proxies[CLIENT_ADDR_MAX_PROXIES + 1];
    size_t n_trust_proxies;
    int no_deflate;           /* 1: decline permessage-deflate */
    int reuse_port;           /* 1: SO_REUSEPORT */
    int redis;                /* 1: --redis given: the room lives in Redis */
    char redis_host[256];
    int redis_port;
    const char *redis_prefix; /* keys are PREFIX:seq and so on */
    /* --allow-origin values, NULL-terminated, for cws_hs_server_opts. */
    const char *allow_origins[CHAT_MAX_ORIGINS + 1];
    size_t n_allow_origins;
    const char *tls_cert, *tls_key; /* PEM files: serve https:// and wss:// */
} chat_options;

/* Fills o from argv. Returns 0 to run, 1 if --help was printed (exit 0),
 * -1 after printing an error on err (exit 2). */
int options_parse(chat_options *o, int argc, char **argv, FILE *out, FILE *err);

#endif
