/* The store (store.h) in Redis Streams, shared by any number of nodes:
 * one room's messages, its seq and its post ids live in Redis under
 * PREFIX:*, and every node tails the stream (docs/deployment.md).
 * Built only with `make REDIS=1` (it needs hiredis); without it,
 * noredis.c says so. */
#ifndef CHAT_REDIS_STORE_H
#define CHAT_REDIS_STORE_H

#include "store.h"

#include <cws.h>

#include <stddef.h>
#include <stdio.h>

/* 1 if this program was built with the Redis store. */
extern const int redis_store_built;

/* A store in the Redis at host:port, keys PREFIX:seq, PREFIX:log,
 * PREFIX:ids and PREFIX:epoch, keeping the newest keep messages. It
 * connects (and reconnects, with backoff) by itself on loop; it is ready
 * (store_ops.ready) once it has read the room's epoch and seq. Problems
 * are said on log. NULL if out of memory. */
store *redis_store_new(cws_loop *loop, const char *host, int port, const char *prefix, size_t keep, FILE *log);

#endif
