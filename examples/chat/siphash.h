/* SipHash-2-4 (Aumasson and Bernstein, 2012): a hash keyed with a secret,
 * so that whoever chooses the input cannot choose collisions. peers.c
 * keys its table of client addresses with it. */
#ifndef CHAT_SIPHASH_H
#define CHAT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit hash of len bytes at data under the 16-byte key. */
uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
