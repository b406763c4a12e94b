/* fuzz_codec.c: the wire decoders of common/src/codec.c (Envelope, Request, Reply) on any
 * bytes, and what is done with a decoded message: its JSON form (json.c, webhook bodies and
 * whistlectl --json), its enum names, and packing it again. A message that decodes packs to
 * bytes that decode and pack to the very same bytes. The string checks (UTF-8, codes) run on
 * the raw bytes too. */
#include "fuzz.h"
#include "whistle/codec.h"
#include "whistle/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    wh_fuzz_log("fuzz");
    return 0;
}

typedef ProtobufCMessage *(*s_unpack_fn)(const void *data, size_t len);

static ProtobufCMessage *s_envelope(const void *d, size_t n)
{
    return (ProtobufCMessage *)wh_envelope_unpack(d, n);
}
static ProtobufCMessage *s_request(const void *d, size_t n)
{
    return (ProtobufCMessage *)wh_request_unpack(d, n);
}
static ProtobufCMessage *s_reply(const void *d, size_t n)
{
    return (ProtobufCMessage *)wh_reply_unpack(d, n);
}

/* JSON of `m`, dumped and dropped: json.c walks every field by descriptor. */
static void s_json(const ProtobufCMessage *m)
{
    json_t *j = wh_message_to_json(m);
    if (!j) return;
    char *s = json_dumps(j, JSON_COMPACT);
    free(s);
    json_decref(j);
}

static void s_one(s_unpack_fn unpack, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = unpack(data, size);
    if (!m) return;
    s_json(m);
    size_t len1, len2;
    const char *name = m->descriptor->name;
    uint8_t *p1 = wh_pack(m, &len1);
    protobuf_c_message_free_unpacked(m, NULL);
    if (!p1) return;
    ProtobufCMessage *m2 = unpack(p1, len1);
    if (!m2) {
        wh_fuzz_say("a message that decoded packs to bytes that do not decode", name);
        abort();
    }
    uint8_t *p2 = wh_pack(m2, &len2);
    protobuf_c_message_free_unpacked(m2, NULL);
    if (p2 && (len1 != len2 || memcmp(p1, p2, len1) != 0)) {
        wh_fuzz_say("packing is not stable", name);
        abort();
    }
    free(p1);
    free(p2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_one(s_envelope, data, size);
    s_one(s_request, data, size);
    s_one(s_reply, data, size);

    Whistle__V1__Envelope *env = wh_envelope_unpack(data, size);
    if (env) {
        /* names of whatever enum values a peer sends */
        if (env->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED &&
            env->case_updated->case_ && env->case_updated->entry) {
            const Whistle__V1__Case *c = env->case_updated->case_;
            if (!wh_state_name(c->state) || !wh_whistle_name(c->whistle) ||
                !wh_action_name(env->case_updated->entry->action))
                abort();
            for (size_t i = 0; i < c->n_assignments; i++)
                if (!wh_assignment_state_name(c->assignments[i]->state)) abort();
        }
        whistle__v1__envelope__free_unpacked(env, NULL);
    }

    /* the raw bytes as a string field */
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct wh_field_error err;
    size_t n = strlen(s); /* a string field ends at its first NUL, as protobuf-c's do */
    int valid = wh_utf8_valid(s, n);
    int rc = wh_check_string(&err, "fuzz.field", s, WH_MAX_SHORT, 1);
    if (rc == 0 && (!valid || n == 0 || n > WH_MAX_SHORT)) abort();
    if (rc != 0 && (!err.field[0] || !err.message[0])) abort();
    if (wh_code_valid(s) && !valid) abort();
    wh_whistle_parse(s);
    wh_state_parse(s);
    free(s);
    return 0;
}
