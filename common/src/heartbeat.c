/* heartbeat.c: a service's heartbeats. Every tick, the head of its own log on its own topic,
 * and the head of every other topic a subscriber of its XPUB asked for by name ("dept/cg/"),
 * so a subscriber that lost live entries (dropped at the send high-water mark while it was
 * stopped or slow, or the last one before a quiet spell) sees within one tick that the head
 * is beyond its cursor and replays. The topics are learnt from the XPUB's subscription
 * messages, counted: without keys the XPUB passes the first subscription to a topic and the
 * last unsubscription (a count of 1, then 0); with keys (ZMQ_XPUB_MANUAL) it passes every
 * pipe's, and service.c hands on only the vetted subscriptions and the unsubscriptions that
 * can match one, so neither a refused peer nor one of several subscribers leaving silences a
 * topic that another still follows. */
#include "service_int.h"
#include "whistle/clock.h"
#include "whistle/eventlog.h"
#include "whistle/wlog.h"
#include <stdlib.h>
#include <string.h>

/* Publishes Heartbeat{service, head} on `topic` now (not after a commit: it reports what is
 * already committed). A send refused at the high-water mark is dropped: the next tick
 * carries a newer head. */
static void s_send(wh_service_t *svc, const char *topic, uint64_t head)
{
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__Heartbeat hb = WHISTLE__V1__HEARTBEAT__INIT;
    hb.service = (char *)svc->cfg.name;
    hb.head = head;
    env.stream = (char *)topic;
    env.occurred_at_ms = wh_now_ms();
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_HEARTBEAT;
    env.heartbeat = &hb;
    size_t len;
    uint8_t *buf = wh_pack(&env.base, &len);
    if (!buf) return;
    const void *d[2] = {topic, buf};
    size_t l[2] = {strlen(topic), len};
    wh_sock_sendv(svc->events, 2, d, l);
    free(buf);
}

static long s_find(const wh_service_t *svc, const char *topic, size_t len)
{
    for (size_t i = 0; i < svc->n_subs; i++)
        if (strlen(svc->subs[i]) == len && memcmp(svc->subs[i], topic, len) == 0) return (long)i;
    return -1;
}

void wh__heartbeat_subscription(wh_service_t *svc, const void *msg, size_t len)
{
    const char *p = msg;
    if (len < 2 || (p[0] != 0 && p[0] != 1)) return;
    const char *topic = p + 1;
    size_t tlen = len - 1;
    /* only what can be a topic's name: it ends with '/', as every stream does ("" and
     * "dept" cannot; "dept/" can, and beats with head 0 as long as no stream has that name) */
    if (tlen > WH_STREAM_MAX || topic[tlen - 1] != '/' || memchr(topic, 0, tlen)) return;
    long at = s_find(svc, topic, tlen);
    if (p[0] == 0) {
        if (at < 0 || --svc->sub_refs[at] > 0) return;
        free(svc->subs[at]);
        svc->n_subs--;
        svc->subs[at] = svc->subs[svc->n_subs];
        svc->sub_refs[at] = svc->sub_refs[svc->n_subs];
        return;
    }
    if (at >= 0) {
        svc->sub_refs[at]++;
        return;
    }
    if (svc->n_subs == WH_MAX_SUB_TOPICS) {
        wh_log_warn("%zu topics subscribed by name: no heartbeat on %.*s (it still gets its "
                    "entries live and by replay)", svc->n_subs, (int)tlen, topic);
        return;
    }
    if (svc->n_subs == svc->cap_subs) {
        size_t cap = svc->cap_subs ? svc->cap_subs * 2 : 16;
        char **s = realloc(svc->subs, cap * sizeof *s);
        if (!s) return;
        svc->subs = s;
        uint32_t *r = realloc(svc->sub_refs, cap * sizeof *r);
        if (!r) return;
        svc->sub_refs = r;
        svc->cap_subs = cap;
    }
    char *t = malloc(tlen + 1);
    if (!t) return;
    memcpy(t, topic, tlen);
    t[tlen] = 0;
    svc->sub_refs[svc->n_subs] = 1;
    svc->subs[svc->n_subs++] = t;
}

void wh__heartbeat_tick(wh_service_t *svc)
{
    s_send(svc, svc->stream, svc->head);
    if (svc->n_subs == 0) return;
    /* committed heads: a read txn of its own (MDB_NOTLS), whatever batch may be open */
    MDB_txn *txn;
    if (mdb_txn_begin(wh_store_env(svc->store), NULL, MDB_RDONLY, &txn) != 0) return;
    for (size_t i = 0; i < svc->n_subs; i++) {
        if (strcmp(svc->subs[i], svc->stream) == 0) continue; /* sent above */
        uint64_t head = 0;
        if (wh_eventlog_head(svc->store, txn, svc->subs[i], &head, NULL) == 0)
            s_send(svc, svc->subs[i], head);
    }
    mdb_txn_abort(txn);
}

void wh__heartbeat_free(wh_service_t *svc)
{
    for (size_t i = 0; i < svc->n_subs; i++) free(svc->subs[i]);
    free(svc->subs);
    free(svc->sub_refs);
    svc->subs = NULL;
    svc->sub_refs = NULL;
    svc->n_subs = svc->cap_subs = 0;
}
