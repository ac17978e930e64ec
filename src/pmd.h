/* permessage-deflate negotiation (RFC 7692 §5, §7.1), both roles, as pure
 * functions over parsed header blocks: no I/O, no allocation, no state
 * beyond what the caller passes. The handshake code calls them; the
 * connection runs the codec with the cws__pmd_agreed they produce.
 *
 *   server:  cws__pmd_server_select(req, cfg, &a)       1: accepted
 *            cws__pmd_format_response(&a, buf, cap)     the element to send
 *   client:  cws__pmd_format_offer(cfg, buf, cap)       the element to send
 *            cws__pmd_client_check(resp, cfg, &a, &ok)  ok 1: accepted
 *
 * Both write a Sec-WebSocket-Extensions *value* (no field name, no CRLF,
 * no NUL) of at most CWS__PMD_ELEMENT_MAX bytes. Both ends derive the same
 * cws__pmd_agreed from the same exchange (tests/unit/test_pmd_negotiate.c
 * checks this for every client and server config). */
#ifndef CWS_PMD_H
#define CWS_PMD_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>


/* The longest offer or response we write: all four parameters, two-digit
 * windows, 126 bytes. */
#define CWS__PMD_ELEMENT_MAX 128

/* What both ends use once the handshake is done: the public
 * cws_deflate_params (cws.h). The window fields are always 8..15 (log2 of
 * the LZ77 window, RFC 7692 §7.1.2), the flags 0/1. response_server_bits
 * and response_client_bits say whether the response carries
 * server_max_window_bits / client_max_window_bits (server: will carry, for
 * cws__pmd_format_response; client: carried). The no_context_takeover
 * flags are carried exactly when set, except that a client's own
 * client_no_context_takeover offer binds it anyway. The negotiation
 * functions leave `enabled` to their callers. */
typedef cws_deflate_params cws__pmd_agreed;

/* CWS_OK if cfg is usable: window fields 0 or 8..15, level 0..9 (checked
 * here too, so that one call validates the whole struct). NULL or
 * !cfg->enable is valid (off; the other fields are then ignored). The
 * functions below refuse the others with CWS_ERR_INVALID. */
int cws__pmd_config_check(const cws_deflate_config *cfg);

/* Server: reads every Sec-WebSocket-Extensions field of req, in order, as
 * one list (RFC 6455 §9.1). The first permessage-deflate offer that is well
 * formed and acceptable under cfg wins. Returns 1 (accepted, *agreed
 * filled), 0 (none: go on without compression; a bad offer is declined,
 * never fatal, RFC 7692 §5 and §7), or CWS_ERR_INVALID (req or agreed
 * NULL, or a cfg that cws__pmd_config_check refuses). NULL cfg or
 * !cfg->enable: 0. */
int cws__pmd_server_select(const cws_http_head *req, const cws_deflate_config *cfg,
                           cws__pmd_agreed *agreed);

/* Server: the response element for *a (from cws__pmd_server_select), e.g.
 * "permessage-deflate; server_no_context_takeover; client_max_window_bits=10".
 * Returns its length, CWS_ERR_NOSPACE, or CWS_ERR_INVALID (a window out of
 * 8..15). */
ptrdiff_t cws__pmd_format_response(const cws__pmd_agreed *a, char *out, size_t cap);

/* Client: the offer for cfg (cfg->enable set), e.g.
 * "permessage-deflate; client_max_window_bits". Returns its length,
 * CWS_ERR_NOSPACE, or CWS_ERR_INVALID (cfg NULL, disabled or invalid). */
ptrdiff_t cws__pmd_format_offer(const cws_deflate_config *cfg, char *out, size_t cap);

/* Client: checks every Sec-WebSocket-Extensions field of resp against
 * what cws__pmd_format_offer(cfg) offered (cfg NULL or !cfg->enable:
 * nothing was offered). Returns CWS_OK with *accepted 0 (no extension) or
 * 1 (*agreed filled), CWS_ERR_HS_EXTENSION if the response must fail the
 * connection (RFC 6455 §4.1, §9.1; RFC 7692 §5, §7), or CWS_ERR_INVALID
 * (a NULL pointer but cfg, or an invalid cfg). A field with no element
 * (empty, or only commas) names no extension. */
int cws__pmd_client_check(const cws_http_head *resp, const cws_deflate_config *cfg,
                          cws__pmd_agreed *agreed, int *accepted);

#endif
