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
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

int wh_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned cp;
        if (c == 0) return 0;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return 0;
        if (len - i <= n) return 0; /* truncated sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
        if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
        i += n + 1;
    }
    return 1;
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

Whistle__V1__Envelope *wh_envelope_unpack(const void *data, size_t len)
{
    return whistle__v1__envelope__unpack(NULL, len, data);
}

Whistle__V1__Request *wh_request_unpack(const void *data, size_t len)
{
    return whistle__v1__request__unpack(NULL, len, data);
}

Whistle__V1__Reply *wh_reply_unpack(const void *data, size_t len)
{
    return whistle__v1__reply__unpack(NULL, len, data);
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
