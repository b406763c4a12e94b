/* codec.h: packing and unpacking of whistle's wire messages, and the field checks every
 * external endpoint applies before anything reaches a log.
 *
 * A field error names the field by its dotted path ("report.grid") so an integrator knows what
 * to fix. */
#ifndef WHISTLE_CODEC_H
#define WHISTLE_CODEC_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <whistle/v1/whistle.pb-c.h>

/* Largest message any whistle endpoint reads (ZMQ_MAXMSGSIZE: larger ones cut the peer off). */
#define WH_MAX_WIRE_BYTES (1024 * 1024)
/* Largest request a service answers; larger ones are refused with an error naming "request". */
#define WH_MAX_REQUEST_BYTES (64 * 1024)
#define WH_MAX_DESCRIPTION 4000
/* A report's description: at most this many characters (of up to 4 bytes each), as Open311
 * counts them: 4000 Chinese characters are 12,000 bytes. */
#define WH_MAX_DESCRIPTION_CHARS 4000
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
/* The length of the longest prefix of `s` (a C string; NULL is "") of at most `max_bytes`
 * bytes made of whole, valid characters: it stops before the first invalid sequence and never
 * cuts a character. Use it for a UTF-8-aware precision: printf("%.*s", (int)n, s). */
size_t wh_utf8_prefix(const char *s, size_t max_bytes);
/* The number of characters of valid UTF-8 `s` (NULL: 0). */
size_t wh_utf8_chars(const char *s);
/* Copies the C string `src` (NULL is "") into `dst` (`size` >= 1 bytes) as valid UTF-8: each
 * invalid sequence (bad or stray bytes, overlongs, surrogates, a cut character) becomes U+FFFD,
 * and what does not fit is dropped at a character boundary. Always NUL-terminates; returns the
 * bytes written (without the NUL). For echoing a peer's bytes in a reply or a log line. */
size_t wh_utf8_sanitize(char *dst, size_t size, const char *src);
/* Formats like snprintf (same return value: the untruncated length, or < 0 on a format error)
 * but `buf` always ends up valid UTF-8: a character cut by `size` is dropped whole, and each
 * invalid sequence in the output is replaced by '?'. */
int wh_snprintf_utf8(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a va_list. */
int wh_vsnprintf_utf8(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Walks every string of `m` by its descriptor (singular, optional and repeated strings, in
 * sub-messages and the set member of each oneof, recursively). 0 when all are valid UTF-8;
 * otherwise WH_EFIELD with the path of the first bad one in `path` ("case_escalated.reason",
 * "assignments[2].department"; `pathsz` >= 1). Bytes fields are not strings: not checked. */
int wh_message_utf8_check(const ProtobufCMessage *m, char *path, size_t pathsz);
/* 1 if s is a catalog code: 1..32 of [a-z0-9-]. */
int wh_code_valid(const char *s);
/* Checks a string field: UTF-8, at most `max` bytes, non-empty when `required`. */
int wh_check_string(struct wh_field_error *err, const char *field, const char *s, size_t max,
                    int required);

/* Packs any protobuf-c message into a malloc'd buffer (caller frees). NULL on out of memory. */
uint8_t *wh_pack(const ProtobufCMessage *msg, size_t *len);

/* Unpacks; NULL when the bytes are not a valid message (truncated, wrong types). Caller frees
 * with the matching __free_unpacked(..., NULL). */
/* The unpackers drop every field whistle.v1 does not define (protobuf-c would keep and pack
 * them again, even a field number 0 no parser accepts): what a peer sends beyond the schema
 * never reaches a log. NULL when the bytes are not the message. */
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
