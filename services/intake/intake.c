/* intake.c: the intake service: SubmitReport handling on top of the shared runtime.
 * Table "keys": idempotency key -> case id, NUL, and the 8-byte fingerprint of the report it
 * was given with (rows written before the fingerprint have none: their key is only checked as
 * a duplicate). The same key with the same report answers the first case id (duplicate); with
 * a different report it is refused, ECONFLICT naming the key: a retry never stands for another
 * report. Log "intake/": case.reported. */
#include "intake.h"
#include "whistle/clock.h"
#include "whistle/error.h"
#include "whistle/eventlog.h"
#include "whistle/wlog.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct intake {
    wh_service_t *svc;
    const struct wh_catalog *cat;
};

void intake_case_id(char *buf, size_t len, uint64_t seq)
{
    snprintf(buf, len, "C%08" PRIu64, seq);
}

static void s_reply_case(wh_service_t *svc, const struct wh_peer *peer, const char *case_id,
                         int duplicate)
{
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__SubmitReportReply sr = WHISTLE__V1__SUBMIT_REPORT_REPLY__INIT;
    sr.case_id = (char *)case_id;
    sr.duplicate = duplicate;
    reply.body_case = WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT;
    reply.submit_report = &sr;
    wh_service_reply(svc, peer, &reply);
}

/* FNV-1a (64 bits) of the report as sent, packed: what makes two submissions "the same". */
static uint64_t s_fingerprint(const Whistle__V1__Report *r)
{
    size_t len;
    uint8_t *buf = wh_pack(&r->base, &len);
    uint64_t h = 1469598103934665603ULL;
    if (!buf) return 0;
    for (size_t i = 0; i < len; i++) h = (h ^ buf[i]) * 1099511628211ULL;
    free(buf);
    return h;
}

static int s_submit(intake_t *self, MDB_txn *txn, const struct wh_peer *peer,
                    const Whistle__V1__SubmitReport *sr)
{
    wh_service_t *svc = self->svc;
    wh_store_t *st = wh_service_store(svc);
    struct wh_field_error fe;
    if (intake_validate(self->cat, sr, &fe)) {
        wh_log_info("refused a report: %s", fe.message);
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    /* keys on: the report records which key submitted it (its integrator reads it back) */
    const char *source = sr->report->source;
    if (peer->who.kind != WH_KIND_NONE && !wh_identity_trusted(&peer->who)) {
        if (source && source[0] && strcmp(source, peer->who.code) != 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "this key is %s '%s'; report.source may only be '%s'",
                     wh_kind_name(peer->who.kind), peer->who.code, peer->who.code);
            wh_log_info("refused a report: %s", msg);
            wh_service_error(svc, peer, WH_EFORBIDDEN, "report.source", msg, 0);
            return 0;
        }
        source = peer->who.code;
    }
    MDB_dbi keys = wh_store_dbi(st, "keys");
    MDB_val v;
    size_t klen = strlen(sr->idempotency_key);
    int rc = wh_store_get(st, txn, keys, sr->idempotency_key, klen, &v);
    uint64_t print = s_fingerprint(sr->report);
    if (rc == 0) {
        const char *row = v.mv_data;
        size_t idlen = strnlen(row, v.mv_size);
        char id[32];
        snprintf(id, sizeof id, "%.*s", (int)idlen, row);
        uint64_t was;
        if (v.mv_size == idlen + 1 + sizeof was) {
            memcpy(&was, row + idlen + 1, sizeof was);
            if (was != print) {
                char msg[256];
                wh_snprintf_utf8(msg, sizeof msg, "idempotency key '%s' was used for case %s "
                                 "with a different report; use a new key for a new report",
                                 sr->idempotency_key, id);
                wh_log_info("refused a report: %s", msg);
                wh_service_error(svc, peer, WH_ECONFLICT, "idempotency_key", msg, 0);
                return 0;
            }
        }
        wh_log_debug("%s: duplicate of key '%s'", id, sr->idempotency_key);
        s_reply_case(svc, peer, id, 1);
        return 0;
    }
    if (rc != WH_ENOTFOUND) return rc; /* the batch fails; the client retries */

    uint64_t head;
    if ((rc = wh_eventlog_head(st, txn, "intake/", &head, NULL))) return rc;
    char case_id[32];
    intake_case_id(case_id, sizeof case_id, head + 1);

    Whistle__V1__Report report = *sr->report;
    int64_t now = wh_now_ms();
    if (report.reported_at_ms == 0) report.reported_at_ms = now;
    report.source = (char *)source;
    Whistle__V1__CaseReported ev = WHISTLE__V1__CASE_REPORTED__INIT;
    ev.case_id = case_id;
    ev.report = &report;
    ev.idempotency_key = sr->idempotency_key;
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.correlation_id = case_id;
    env.occurred_at_ms = now;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REPORTED;
    env.case_reported = &ev;
    if ((rc = wh_service_append(svc, txn, NULL, &env, NULL))) return rc;
    char row[48];
    size_t idlen = strlen(case_id);
    memcpy(row, case_id, idlen + 1);
    memcpy(row + idlen + 1, &print, sizeof print);
    if ((rc = wh_store_put(st, txn, keys, sr->idempotency_key, klen, row, idlen + 1 + sizeof print)))
        return rc;
    wh_log_debug("%s: reported in grid %s, matter %s", case_id, report.grid, report.matter);
    s_reply_case(svc, peer, case_id, 0);
    return 0;
}

static int s_on_request(void *arg, wh_service_t *svc, MDB_txn *txn, const struct wh_peer *peer,
                        const Whistle__V1__Request *req)
{
    intake_t *self = arg;
    int kind = peer->who.kind;
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT && kind != WH_KIND_NONE &&
        kind != WH_KIND_INTEGRATOR && kind != WH_KIND_TOWNSHIP && !wh_identity_trusted(&peer->who)) {
        /* keys on: reports come from integrators (apps, hotlines) and township operators */
        char msg[160];
        snprintf(msg, sizeof msg, "a %s key may not submit reports (integrator or township keys "
                                  "may)", wh_kind_name(kind));
        wh_service_error(svc, peer, WH_EFORBIDDEN, "submit_report", msg, 0);
        return 0;
    }
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT)
        return s_submit(self, txn, peer, req->submit_report);
    wh_service_error(svc, peer, WH_EUNSUPPORTED, "request.body",
                     "intake serves SubmitReport, Replay and Ping", 0);
    return 0;
}

intake_t *intake_new(const struct wh_options *o, const struct wh_catalog *cat)
{
    intake_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    static const char *const tables[] = {"keys", NULL};
    struct wh_service_config cfg;
    wh_service_config_init(&cfg, "intake", o);
    cfg.tables = tables;
    cfg.on_request = s_on_request;
    cfg.arg = self;
    self->cat = cat;
    self->svc = wh_service_new(&cfg);
    if (!self->svc) {
        free(self);
        return NULL;
    }
    return self;
}

void intake_destroy(intake_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_service_destroy(&(*self_p)->svc);
    free(*self_p);
    *self_p = NULL;
}

wh_service_t *intake_service(intake_t *self) { return self->svc; }
