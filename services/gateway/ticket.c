/* ticket.c: one-time stream tickets (ticket.h): a fixed table in memory, expired entries
 * reused, compared in constant time. */
#include "ticket.h"
#include "keys.h"
#include "whistle/error.h"
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct s_ticket {
    char ticket[GW_TICKET_LEN + 1]; /* "" when the slot is free */
    char key[GW_KEY_MAX + 1];       /* the API key it stands for ("" with --open) */
    int64_t expires_ms;             /* wh_mono_ms after which it opens nothing */
};

struct gw_tickets {
    struct s_ticket t[GW_TICKETS_MAX];
};

gw_tickets_t *gateway_tickets_new(void)
{
    return calloc(1, sizeof(gw_tickets_t));
}

void gateway_tickets_destroy(gw_tickets_t **self_p)
{
    if (!self_p || !*self_p) return;
    memset(*self_p, 0, sizeof **self_p); /* no key left in freed memory */
    free(*self_p);
    *self_p = NULL;
}

int gateway_tickets_issue(gw_tickets_t *self, const char *key, int64_t now_ms, char *out)
{
    struct s_ticket *slot = NULL;
    size_t kl = strlen(key), mine = 0;
    if (kl > GW_KEY_MAX) kl = GW_KEY_MAX;
    for (size_t i = 0; i < GW_TICKETS_MAX; i++) {
        struct s_ticket *t = &self->t[i];
        if (!t->ticket[0] || t->expires_ms < now_ms) {
            if (!slot) slot = t;
        } else if (strncmp(t->key, key, kl) == 0 && t->key[kl] == 0) {
            mine++;
        }
    }
    if (!slot || mine >= GW_TICKETS_PER_KEY) return WH_EBUSY;
    unsigned char raw[GW_TICKET_LEN / 2];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return WH_EINTERNAL;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[GW_TICKET_LEN] = 0;
    memcpy(slot->ticket, out, GW_TICKET_LEN + 1);
    memcpy(slot->key, key, kl);
    slot->key[kl] = 0;
    slot->expires_ms = now_ms + GW_TICKET_TTL_MS;
    return 0;
}

/* 1 when a and b (GW_TICKET_LEN characters each) are equal, in time that does not depend on
 * where they differ. */
static int s_same(const char *a, const char *b)
{
    unsigned d = 0;
    for (size_t i = 0; i < GW_TICKET_LEN; i++)
        d |= (unsigned char)a[i] ^ (unsigned char)b[i];
    return d == 0;
}

int gateway_tickets_redeem(gw_tickets_t *self, const char *ticket, int64_t now_ms, char *key,
                           size_t keylen)
{
    if (!ticket || strlen(ticket) != GW_TICKET_LEN) return 0;
    for (size_t i = 0; i < GW_TICKETS_MAX; i++) {
        struct s_ticket *t = &self->t[i];
        if (!t->ticket[0] || !s_same(t->ticket, ticket)) continue;
        int ok = t->expires_ms >= now_ms && strlen(t->key) < keylen;
        if (ok) memcpy(key, t->key, strlen(t->key) + 1);
        memset(t, 0, sizeof *t);
        return ok;
    }
    return 0;
}
