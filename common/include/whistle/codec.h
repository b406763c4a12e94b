/* codec.h: packing and unpacking of whistle's wire messages, and the field checks every
 * external endpoint applies before anything reaches a log.
 *
 * A field error names the field by its dotted path ("report.grid") so an integrator knows what
 * to fix. */
#ifndef WHISTLE_CODEC_H
#define WHISTLE_CODEC_H
#include <stddef.h>
#include <stdint.h>
#include <whistle/v1/whistle.pb-c.h>

/* Largest message any whistle endpoint reads (ZMQ_MAXMSGSIZE: larger ones cut the peer off). */
#define WH_MAX_WIRE_BYTES (1024 * 1024)
/* Largest request a service answers; larger ones are refused with an error naming "request". */
#define WH_MAX_REQUEST_BYTES (64 * 1024)
#define WH_MAX_DESCRIPTION 4000
#define WH_MAX_KEY 128
#define WH_MAX_SHORT 256
#define WH_MAX_CODE 32

/* What is wrong with an incoming message: a code, the field and a sentence. */
struct wh_field_error {
    int code;           /* WH_EFIELD, WH_EMALFORMED, ... */
    char field[64];     /* dotted path, "" when the whole message is wrong */
    char message[256];  /* one line that says what to fix */
};

/* Fills `err` and returns err->code. */
int wh_field_error_set(struct wh_field_error *err, int code, const char *field, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, no NUL). */
int wh_utf8_valid(const char *s, size_t len);
/* 1 if s is a catalog code: 1..32 of [a-z0-9-]. */
int wh_code_valid(const char *s);
/* Checks a string field: UTF-8, at most `max` bytes, non-empty when `required`. */
int wh_check_string(struct wh_field_error *err, const char *field, const char *s, size_t max,
                    int required);

/* Packs any protobuf-c message into a malloc'd buffer (caller frees). NULL on out of memory. */
uint8_t *wh_pack(const ProtobufCMessage *msg, size_t *len);

/* Unpacks; NULL when the bytes are not a valid message (truncated, wrong types). Caller frees
 * with the matching __free_unpacked(..., NULL). */
Whistle__V1__Envelope *wh_envelope_unpack(const void *data, size_t len);
Whistle__V1__Request *wh_request_unpack(const void *data, size_t len);
Whistle__V1__Reply *wh_reply_unpack(const void *data, size_t len);

/* Names for enums, as the catalog and whistlectl spell them ("QUICK", "DISPATCHED"). */
const char *wh_whistle_name(int w);
int wh_whistle_parse(const char *s); /* 0 when unknown */
const char *wh_state_name(int s);
int wh_state_parse(const char *s);
const char *wh_action_name(int a);
const char *wh_assignment_state_name(int s);

#endif
