/* hiredis's async API on a cws_loop: the small adapter any program that
 * uses hiredis with cws needs (copy it). hiredis owns the socket and
 * says through its ev hooks when it wants to read or write; this turns
 * those into one fd watch (cws_loop_watch_fd_events) and calls hiredis
 * back when the socket is ready. hiredis 0.14 has no timeouts of its own:
 * the caller keeps cws timers for those (redis_store.c does). */
#ifndef CHAT_REDIS_LOOP_H
#define CHAT_REDIS_LOOP_H

#include <cws.h>
#include <hiredis/async.h>

/* Drives ac from loop until hiredis frees it (its ev.cleanup hook ends
 * the watch). Call right after redisAsyncConnect, before any command.
 * Returns 0, or -1 (out of memory, or ac already attached). */
int redis_loop_attach(redisAsyncContext *ac, cws_loop *loop);

#endif
