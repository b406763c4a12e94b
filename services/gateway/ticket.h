/* ticket.h: one-time tickets for the event streams of a browser.
 *
 * A browser's EventSource cannot send an Authorization header. The page asks for a ticket with
 * its bearer key (POST /v1/stream-tickets), then opens /v1/topics/{topic}/events?ticket=T. A
 * ticket is 32 random bytes (getrandom) in hex, kept in memory only, good for one stream and
 * for GW_TICKET_TTL_MS; it stands for the key that asked for it, which is looked up again
 * when the ticket is used (a key taken off the list no longer opens streams). The URL carries
 * no key: one seen later in a log or a proxy's history opens nothing. */
#ifndef GATEWAY_TICKET_H
#define GATEWAY_TICKET_H
#include <stddef.h>
#include <stdint.h>

#define GW_TICKET_TTL_MS 30000
#define GW_TICKETS_MAX 4096
/* unused tickets of one key at a time: one key (a page in a loop) cannot take them all */
#define GW_TICKETS_PER_KEY 64
#define GW_TICKET_LEN 64 /* hex characters */

typedef struct gw_tickets gw_tickets_t;

/* NULL on out of memory. */
gw_tickets_t *gateway_tickets_new(void);
/* Frees; safe on NULL, sets NULL. */
void gateway_tickets_destroy(gw_tickets_t **self_p);
/* A new ticket for `key` ("" with --open) into `out` (GW_TICKET_LEN + 1 bytes), valid until
 * now_ms + GW_TICKET_TTL_MS. 0, WH_EBUSY when GW_TICKETS_MAX are outstanding or `key` has
 * GW_TICKETS_PER_KEY of its own, or WH_EINTERNAL
 * when no random bytes could be read. */
int gateway_tickets_issue(gw_tickets_t *self, const char *key, int64_t now_ms, char *out);
/* Takes `ticket` (it is spent whatever follows): 1 with the key it stands for copied into
 * `key` (`keylen` bytes), 0 when it is unknown, spent or expired. */
int gateway_tickets_redeem(gw_tickets_t *self, const char *ticket, int64_t now_ms, char *key,
                           size_t keylen);

#endif
