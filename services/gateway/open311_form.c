/* open311_form.c: application/x-www-form-urlencoded fields (a POST body, a query string).
 * The split is the format's own two separators ('&' between fields, the first '=' inside
 * one); each key and value is decoded by uriparser (uriUnescapeInPlaceExA with '+' as a
 * space), which returns the decoded length, so a %00 is seen rather than silently cutting a
 * value. Checked here, before anything reads a field: escapes are well formed, no NUL, keys
 * and values are valid UTF-8, at most OPEN311_MAX_PARAMS fields. Each refusal names the field
 * it is in. */
#include "open311.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <uriparser/Uri.h>

void open311_form_clear(struct open311_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->params[i].key);
        free(f->params[i].value);
    }
    free(f->params);
    memset(f, 0, sizeof *f);
}

const char *open311_form_get(const struct open311_form *f, const char *key)
{
    for (size_t i = 0; f && i < f->n; i++)
        if (strcmp(f->params[i].key, key) == 0) return f->params[i].value;
    return NULL;
}

static int s_oom(struct open311_error *err)
{
    open311_error_set(err, 500, "", "out of memory");
    return WH_ENOMEM;
}

int open311_form_add(struct open311_form *f, const char *key, size_t key_len, const char *value,
                     size_t value_len, struct open311_error *err)
{
    if (!wh_utf8_valid(key, key_len))
        return open311_error_set(err, 400, "form",
                                 "form: a field name is not valid UTF-8 (or holds a NUL)");
    if (f->n >= OPEN311_MAX_PARAMS)
        return open311_error_set(err, 400, "form", "form: more than %d fields", OPEN311_MAX_PARAMS);
    char *k = strndup(key, key_len);
    if (!k) return s_oom(err);
    if (!wh_utf8_valid(value, value_len)) {
        int rc = open311_error_set(err, 400, k,
                                   "%s: the value is not valid UTF-8 (or holds a NUL byte)", k);
        free(k);
        return rc;
    }
    char *v = malloc(value_len + 1);
    struct open311_param *p = realloc(f->params, (f->n + 1) * sizeof *p);
    if (!v || !p) {
        free(k);
        free(v);
        if (p) f->params = p;
        return s_oom(err);
    }
    memcpy(v, value, value_len);
    v[value_len] = '\0';
    f->params = p;
    f->params[f->n++] = (struct open311_param){.key = k, .value = v, .value_len = value_len};
    return 0;
}

/* 1 when every '%' in raw[0..len) starts a %XX escape and none is %00. */
static int s_escapes_ok(const char *raw, size_t len, int *nul)
{
    *nul = 0;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '\0') {
            *nul = 1;
            return 0;
        }
        if (raw[i] != '%') continue;
        if (i + 2 >= len || !isxdigit((unsigned char)raw[i + 1]) ||
            !isxdigit((unsigned char)raw[i + 2]))
            return 0;
        if (raw[i + 1] == '0' && raw[i + 2] == '0') {
            *nul = 1;
            return 0;
        }
        i += 2;
    }
    return 1;
}

/* Decodes raw[0..len) into a new string; its length in *out_len. NULL on out of memory. */
static char *s_decode(const char *raw, size_t len, size_t *out_len)
{
    char *s = strndup(raw, len);
    if (!s) return NULL;
    const char *end = uriUnescapeInPlaceExA(s, URI_TRUE, URI_BR_DONT_TOUCH);
    *out_len = (size_t)(end - s);
    return s;
}

int open311_form_decode(struct open311_form *out, const char *data, size_t len,
                        struct open311_error *err)
{
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *field_end = amp ? amp : end;
        if (field_end == p) { /* "a=1&&b=2": an empty field is no field */
            p = field_end + 1;
            continue;
        }
        const char *eq = memchr(p, '=', (size_t)(field_end - p));
        const char *key_end = eq ? eq : field_end;
        const char *val = eq ? eq + 1 : field_end;
        int nul;
        if (!s_escapes_ok(p, (size_t)(key_end - p), &nul)) {
            open311_form_clear(out);
            return open311_error_set(err, 400, "form",
                                     nul ? "form: a field name holds a NUL byte"
                                         : "form: a field name has a '%%' not followed by two "
                                           "hex digits");
        }
        size_t klen, vlen;
        char *key = s_decode(p, (size_t)(key_end - p), &klen);
        if (!key) {
            open311_form_clear(out);
            return s_oom(err);
        }
        int rc = 0;
        char *value = NULL;
        if (!wh_utf8_valid(key, klen)) {
            rc = open311_error_set(err, 400, "form", "form: a field name is not valid UTF-8");
        } else if (!s_escapes_ok(val, (size_t)(field_end - val), &nul)) {
            rc = open311_error_set(err, 400, key,
                                   nul ? "%s: the value holds a NUL byte (%%00)"
                                       : "%s: a '%%' not followed by two hex digits (write a "
                                         "literal '%%' as %%25)",
                                   key);
        } else if (!(value = s_decode(val, (size_t)(field_end - val), &vlen))) {
            rc = s_oom(err);
        } else {
            rc = open311_form_add(out, key, klen, value, vlen, err);
        }
        free(key);
        free(value);
        if (rc) {
            open311_form_clear(out);
            return rc;
        }
        p = field_end + 1;
    }
    return 0;
}
