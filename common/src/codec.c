/* codec.c: pack/unpack of whistle messages, field checks (UTF-8, lengths, codes) and the
 * names of the enums as people and the catalog spell them. */
#include "whistle/codec.h"
#include "whistle/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wh_field_error_set(struct wh_field_error *err, int code, const char *field, const char *fmt,
                       ...)
{
    err->code = code;
    wh_snprintf_utf8(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    wh_vsnprintf_utf8(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

/* The character at s[0..len): its length (1..4) when it is whole and valid; otherwise minus
 * the length of the invalid sequence (the longest start of a well-formed character, at least 1
 * byte: Unicode's "maximal subpart", which gets one U+FFFD). NUL is invalid. `*cut` is set when
 * the sequence was well-formed so far and only the end of s[0..len) stopped it. */
static int s_utf8_char(const unsigned char *s, size_t len, int *cut)
{
    unsigned c = s[0];
    *cut = 0;
    if (c == 0) return -1;
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* the second byte's range: no overlongs, no surrogates */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    for (size_t k = 1; k < n; k++) {
        if (k >= len) {
            *cut = 1;
            return -(int)k;
        }
        unsigned b = s[k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return -(int)k;
    }
    return (int)n;
}

int wh_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    int cut;
    while (i < len) {
        if (s[i] && s[i] < 0x80) { /* ASCII, most of every message */
            i++;
            continue;
        }
        int r = s_utf8_char(s + i, len - i, &cut);
        if (r < 0) return 0;
        i += (size_t)r;
    }
    return 1;
}

size_t wh_utf8_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        n += (*p & 0xC0) != 0x80; /* every byte but a continuation starts a character */
    return n;
}

size_t wh_utf8_prefix(const char *str, size_t max_bytes)
{
    if (!str) return 0;
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strnlen(str, max_bytes), i = 0;
    int cut;
    while (i < len) {
        int r = s_utf8_char(s + i, len - i, &cut);
        if (r < 0) break;
        i += (size_t)r;
    }
    return i;
}

size_t wh_utf8_sanitize(char *dst, size_t size, const char *src)
{
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t len = strlen((const char *)s), i = 0, o = 0;
    int cut;
    while (i < len) {
        int r = s_utf8_char(s + i, len - i, &cut);
        size_t w = r > 0 ? (size_t)r : 3;
        if (o + w >= size) break; /* what does not fit goes, a whole character at a time */
        if (r > 0) {
            memcpy(dst + o, s + i, w);
        } else {
            memcpy(dst + o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            r = -r;
        }
        o += w;
        i += (size_t)r;
    }
    dst[o] = 0;
    return o;
}

int wh_vsnprintf_utf8(char *buf, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, size, fmt, ap);
    if (size == 0) return n;
    if (n < 0) {
        buf[0] = 0;
        return n;
    }
    int truncated = (size_t)n >= size;
    unsigned char *s = (unsigned char *)buf;
    size_t len = strlen(buf), i = 0;
    int cut;
    while (i < len) {
        int r = s_utf8_char(s + i, len - i, &cut);
        if (r > 0) {
            i += (size_t)r;
        } else if (cut && truncated) {
            buf[i] = 0; /* a character cut by the buffer's end: dropped whole */
            break;
        } else {
            size_t bad = (size_t)-r; /* one '?' for the invalid sequence, in place */
            s[i] = '?';
            memmove(s + i + 1, s + i + bad, len - i - bad + 1);
            len -= bad - 1;
            i++;
        }
    }
    return n;
}

int wh_snprintf_utf8(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = wh_vsnprintf_utf8(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Checks the strings of `m`, recursively; path[0..at) is the path of `m` itself. */
static int s_message_utf8(const ProtobufCMessage *m, char *path, size_t pathsz, size_t at)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned f = 0; f < d->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
            continue; /* not the member this oneof holds */
        int repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        size_t count = repeated ? *(const size_t *)(base + fd->quantifier_offset) : 1;
        /* a string is a char *, a sub-message a pointer; repeated: an array of those */
        void *const *items = repeated ? *(void *const *const *)(base + fd->offset)
                                      : (void *const *)(base + fd->offset);
        for (size_t i = 0; i < count && items; i++) {
            if (!items[i]) continue;
            if (path && at < pathsz) {
                if (repeated)
                    snprintf(path + at, pathsz - at, "%s%s[%zu]", at ? "." : "", fd->name, i);
                else
                    snprintf(path + at, pathsz - at, "%s%s", at ? "." : "", fd->name);
            }
            if (fd->type == PROTOBUF_C_TYPE_STRING) {
                const char *str = items[i];
                if (!wh_utf8_valid(str, strlen(str))) return WH_EFIELD;
            } else {
                int rc = s_message_utf8(items[i], path, pathsz, path ? strlen(path) : 0);
                if (rc) return rc;
            }
        }
    }
    if (path && at < pathsz) path[at] = 0;
    return 0;
}

int wh_message_utf8_check(const ProtobufCMessage *m, char *path, size_t pathsz)
{
    path[0] = 0;
    /* every append goes through here: walk once without naming fields (an snprintf per
     * field cost about a fifth of bench/run.sh's end-to-end throughput, docs/performance.md),
     * and name the field only when one is bad */
    if (!m || s_message_utf8(m, NULL, 0, 0) == 0) return 0;
    return s_message_utf8(m, path, pathsz, 0);
}

int wh_code_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > WH_MAX_CODE) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    }
    return 1;
}

int wh_check_string(struct wh_field_error *err, const char *field, const char *s, size_t max,
                    int required)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0)
        return required ? wh_field_error_set(err, WH_EFIELD, field, "%s is required", field) : 0;
    if (n > max)
        return wh_field_error_set(err, WH_EFIELD, field, "%s is %zu bytes, at most %zu allowed",
                                  field, n, max);
    if (!wh_utf8_valid(s, n))
        return wh_field_error_set(err, WH_EFIELD, field, "%s is not valid UTF-8", field);
    return 0;
}

uint8_t *wh_pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf) return NULL;
    protobuf_c_message_pack(msg, buf);
    return buf;
}

/* Frees the fields of `m` (and of every message in it) that whistle.v1 does not define.
 * protobuf-c keeps them and packs them again, even ones no parser accepts (field number 0):
 * a peer's unknown bytes must never reach a log that every follower has to decode. */
static void s_drop_unknown(ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++) free(m->unknown_fields[i].data);
    free(m->unknown_fields);
    m->unknown_fields = NULL;
    m->n_unknown_fields = 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    char *base = (char *)m;
    for (unsigned f = 0; f < d->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
            continue;
        int repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        size_t count = repeated ? *(const size_t *)(base + fd->quantifier_offset) : 1;
        ProtobufCMessage **items = repeated ? *(ProtobufCMessage ***)(base + fd->offset)
                                            : (ProtobufCMessage **)(base + fd->offset);
        for (size_t i = 0; i < count && items; i++)
            if (items[i]) s_drop_unknown(items[i]);
    }
}

Whistle__V1__Envelope *wh_envelope_unpack(const void *data, size_t len)
{
    Whistle__V1__Envelope *m = whistle__v1__envelope__unpack(NULL, len, data);
    if (m) s_drop_unknown(&m->base);
    return m;
}

Whistle__V1__Request *wh_request_unpack(const void *data, size_t len)
{
    Whistle__V1__Request *m = whistle__v1__request__unpack(NULL, len, data);
    if (m) s_drop_unknown(&m->base);
    return m;
}

Whistle__V1__Reply *wh_reply_unpack(const void *data, size_t len)
{
    Whistle__V1__Reply *m = whistle__v1__reply__unpack(NULL, len, data);
    if (m) s_drop_unknown(&m->base);
    return m;
}

static const char *s_enum_name(const ProtobufCEnumDescriptor *d, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    return ev ? ev->name : "UNKNOWN";
}

static int s_enum_parse(const ProtobufCEnumDescriptor *d, const char *s)
{
    if (!s) return 0;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(d, s);
    if (!ev) {
        /* accept lower case as typed on a command line */
        char up[64];
        size_t i;
        for (i = 0; s[i] && i < sizeof up - 1; i++)
            up[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : (s[i] == '-' ? '_' : s[i]));
        up[i] = 0;
        ev = protobuf_c_enum_descriptor_get_value_by_name(d, up);
    }
    return ev ? ev->value : 0;
}

const char *wh_whistle_name(int w) { return s_enum_name(&whistle__v1__whistle__descriptor, w); }
int wh_whistle_parse(const char *s) { return s_enum_parse(&whistle__v1__whistle__descriptor, s); }
const char *wh_state_name(int s) { return s_enum_name(&whistle__v1__case_state__descriptor, s); }
int wh_state_parse(const char *s) { return s_enum_parse(&whistle__v1__case_state__descriptor, s); }
const char *wh_action_name(int a) { return s_enum_name(&whistle__v1__action__descriptor, a); }
const char *wh_assignment_state_name(int s)
{
    return s_enum_name(&whistle__v1__assignment_state__descriptor, s);
}
