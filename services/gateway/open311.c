/* open311.c: what every Open311 file shares: the two formats, the growable buffer the
 * documents are written into, and errors (set by the parsers, translated from a backend's
 * Reply.error) with the HTTP status and the Open311 field they name. */
#include "open311.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int open311_format_parse(const char *ext)
{
    if (!ext) return 0;
    if (strcmp(ext, "json") == 0) return OPEN311_JSON;
    if (strcmp(ext, "xml") == 0) return OPEN311_XML;
    return 0;
}

const char *open311_format_content_type(enum open311_format f)
{
    return f == OPEN311_XML ? "text/xml; charset=utf-8" : "application/json; charset=utf-8";
}

int open311_buf_append(struct open311_buf *b, const char *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + len + 1) {
            if (cap > (size_t)1 << 40) return WH_ENOMEM;
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (!p) return WH_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

void open311_buf_free(struct open311_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int open311_error_set(struct open311_error *err, int status, const char *field, const char *fmt,
                      ...)
{
    err->status = status;
    wh_utf8_sanitize(err->field, sizeof err->field, field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    wh_vsnprintf_utf8(err->description, sizeof err->description, fmt, ap);
    va_end(ap);
    return -status;
}

/* whistle's field path -> the Open311 field a client sent. */
static const char *s_open311_field(const char *field)
{
    static const struct {
        const char *whistle, *open311;
    } map[] = {
        {"report.grid", "attribute[grid]"},
        {"report.matter", "service_code"},
        {"report.description", "description"},
        {"report.location", "address_string"},
        {"report.source", "api_key"},
        {"report.task.affair", "attribute[task_affair]"},
        {"report.task.authority_ref", "attribute[task_authority_ref]"},
        {"report.task.funding_ref", "attribute[task_funding_ref]"},
        {"report.task.issuer", "attribute[task_issuer]"},
        {"idempotency_key", "Idempotency-Key"},
        {"get_case.case_id", "service_request_id"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(field, map[i].whistle) == 0) return map[i].open311;
    return field;
}

void open311_error_from_reply(struct open311_error *err, const Whistle__V1__Error *e)
{
    int code = e ? e->code : WH_EINTERNAL;
    const char *name = wh_errname(code);
    int status = 500;
    if (code == WH_EFIELD || code == WH_EMALFORMED)
        status = 400;
    else if (code == WH_EFORBIDDEN)
        status = 403;
    else if (code == WH_ENOTFOUND)
        status = 404;
    else if (code == WH_ETOOBIG)
        status = 413;
    else if (code == WH_ESTATE || strcmp(name, "ECONFLICT") == 0)
        status = 409;
    else if (code == WH_EBUSY || code == WH_ETIMEDOUT || wh_error_is_storage(code))
        status = 503;
    const char *field = s_open311_field(e && e->field ? e->field : "");
    const char *msg = e && e->message && e->message[0] ? e->message : wh_strerror(code);
    /* name the field once: whistle's messages often begin with its own path */
    size_t flen = e && e->field ? strlen(e->field) : 0;
    if (flen && strncmp(msg, e->field, flen) == 0 && msg[flen] == ':') {
        msg += flen + 1;
        while (*msg == ' ')
            msg++;
    }
    if (field[0])
        open311_error_set(err, status, field, "%s: %s", field, msg);
    else
        open311_error_set(err, status, "", "%s", msg);
}

const char *open311_status(int case_state)
{
    return case_state == WHISTLE__V1__CASE_STATE__CLOSED ||
                   case_state == WHISTLE__V1__CASE_STATE__REFUSED
               ? "closed"
               : "open";
}
