/* check_codec.c: the field checks every endpoint applies (UTF-8, codes, lengths), UTF-8-aware
 * truncation and sanitising, the UTF-8 walk of a whole message, packing and unpacking of wire
 * messages, truncated input refused without a crash, and enum names. */
#include "whistle/codec.h"
#include "whistle/error.h"
#include "wh_test.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

/* ---- wh_utf8_valid ---------------------------------------------------------------------- */

static const struct {
    const char *label;
    const char *s;
    size_t len;
    int valid;
} s_utf8[] = {
    {"empty", "", 0, 1},
    {"ascii", "hello, grid 7", 13, 1},
    {"2-byte e-acute", "\xC3\xA9", 2, 1},
    {"chinese 3-byte", "\xE5\x8D\xA0\xE9\x81\x93", 6, 1}, /* 占道 */
    {"emoji 4-byte", "\xF0\x9F\x98\x80", 4, 1},
    {"last before surrogates U+D7FF", "\xED\x9F\xBF", 3, 1},
    {"first after surrogates U+E000", "\xEE\x80\x80", 3, 1},
    {"largest U+10FFFF", "\xF4\x8F\xBF\xBF", 4, 1},
    {"overlong NUL C0 80", "\xC0\x80", 2, 0},
    {"overlong C1 BF", "\xC1\xBF", 2, 0},
    {"overlong 3-byte E0 80 80", "\xE0\x80\x80", 3, 0},
    {"overlong 4-byte F0 80 80 80", "\xF0\x80\x80\x80", 4, 0},
    {"surrogate ED A0 80", "\xED\xA0\x80", 3, 0},
    {"surrogate ED BF BF", "\xED\xBF\xBF", 3, 0},
    {"above U+10FFFF F4 90 80 80", "\xF4\x90\x80\x80", 4, 0},
    {"F5 lead byte", "\xF5\x80\x80\x80", 4, 0},
    {"FF byte", "a\xFF", 2, 0},
    {"truncated 2-byte at end", "ok\xC3", 3, 0},
    {"truncated 3-byte at end", "ok\xE5\x8D", 4, 0},
    {"truncated 4-byte at end", "\xF0\x9F\x98", 3, 0},
    {"lead byte alone at end", "\xE5", 1, 0},
    {"bare continuation byte", "a\x80" "b", 3, 0},
    {"continuation missing mid-string", "\xE5\x8D" "a", 3, 0},
    {"embedded NUL with explicit len", "a\0b", 3, 0},
    {"len stops before a bad byte", "ab\xFF", 2, 1},
};

START_TEST(test_utf8_table)
{
    ck_assert_msg(wh_utf8_valid(s_utf8[_i].s, s_utf8[_i].len) == s_utf8[_i].valid,
                  "%s: expected %s", s_utf8[_i].label, s_utf8[_i].valid ? "valid" : "invalid");
}
END_TEST

/* ---- wh_utf8_prefix, wh_snprintf_utf8: cut at every byte -------------------------------- */

/* One character of each width, repeated after an ASCII byte: "a" + 3 x ch. Every cut must
 * land on a character boundary, the largest one at or below the cut. */
static const char *const s_widths[] = {
    "b",                /* ASCII */
    "\xC3\xA9",         /* é, 2 bytes */
    "\xE5\x8D\xA0",     /* 占, 3 bytes */
    "\xF0\x9F\x98\x80", /* 😀, 4 bytes */
};

START_TEST(test_utf8_cut_every_byte)
{
    const char *ch = s_widths[_i];
    size_t w = strlen(ch);
    char s[16] = "a";
    for (int k = 0; k < 3; k++) strcat(s, ch);
    size_t len = strlen(s);
    for (size_t max = 0; max <= len + 1; max++) {
        size_t want = max >= len ? len : (max == 0 ? 0 : 1 + (max - 1) / w * w);
        ck_assert_msg(wh_utf8_prefix(s, max) == want, "width %zu, max %zu: prefix %zu, want %zu",
                      w, max, wh_utf8_prefix(s, max), want);
        /* the same cut by a buffer of max + 1 bytes */
        char buf[16];
        memset(buf, 'X', sizeof buf);
        int n = wh_snprintf_utf8(buf, max + 1, "%s", s);
        ck_assert_int_eq(n, (int)len); /* like snprintf: the untruncated length */
        ck_assert_msg(strlen(buf) == want && memcmp(buf, s, want) == 0,
                      "width %zu, size %zu: '%s' is not the first %zu bytes", w, max + 1, buf,
                      want);
        ck_assert(wh_utf8_valid(buf, strlen(buf)));
        /* and by the sanitiser, which also drops a character that does not fit */
        char san[16];
        ck_assert_uint_eq(wh_utf8_sanitize(san, max + 1, s), want);
        ck_assert(memcmp(san, s, want) == 0 && san[want] == 0);
    }
}
END_TEST

/* ---- wh_utf8_prefix, wh_utf8_sanitize, wh_snprintf_utf8: invalid input -------------------- */

#define FFFD "\xEF\xBF\xBD"

static const struct {
    const char *label;
    const char *in;
    size_t prefix;         /* wh_utf8_prefix(in, 64) */
    const char *sanitized; /* wh_utf8_sanitize(.., 64, in): one U+FFFD per maximal subpart */
    const char *formatted; /* wh_snprintf_utf8(.., 64, "%s", in): one '?' per subpart */
} s_bad[] = {
    {"NULL is empty", NULL, 0, "", ""},
    {"ascii", "grid 7", 6, "grid 7", "grid 7"},
    {"chinese", "\xE5\x8D\xA0\xE9\x81\x93", 6, "\xE5\x8D\xA0\xE9\x81\x93",
     "\xE5\x8D\xA0\xE9\x81\x93"},
    {"FF byte", "a\xFF" "b", 1, "a" FFFD "b", "a?b"},
    {"bare continuation", "a\x80\x80" "b", 1, "a" FFFD FFFD "b", "a??b"},
    {"overlong NUL C0 80", "a\xC0\x80", 1, "a" FFFD FFFD, "a??"},
    {"overlong 3-byte E0 80 80", "\xE0\x80\x80" "z", 0, FFFD FFFD FFFD "z", "???z"},
    {"overlong 4-byte F0 8F BF BF", "\xF0\x8F\xBF\xBF", 0, FFFD FFFD FFFD FFFD, "????"},
    {"surrogate ED A0 80", "x\xED\xA0\x80y", 1, "x" FFFD FFFD FFFD "y", "x???y"},
    {"above U+10FFFF F4 90 80 80", "\xF4\x90\x80\x80", 0, FFFD FFFD FFFD FFFD, "????"},
    {"F5 lead", "\xF5", 0, FFFD, "?"},
    {"3-byte cut inside the string", "\xE5\x8D" "a", 0, FFFD "a", "?a"},
    {"4-byte cut inside the string", "\xF0\x9F\x98" "a\xC3\xA9", 0, FFFD "a\xC3\xA9",
     "?a\xC3\xA9"},
    {"cut at the string's end", "ok\xE5\x8D", 2, "ok" FFFD, "ok?"},
    {"valid after invalid", "\xFF\xE5\x8D\xA0", 0, FFFD "\xE5\x8D\xA0", "?\xE5\x8D\xA0"},
    {"largest U+10FFFF", "\xF4\x8F\xBF\xBF", 4, "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},
    {"U+D7FF and U+E000", "\xED\x9F\xBF\xEE\x80\x80", 6, "\xED\x9F\xBF\xEE\x80\x80",
     "\xED\x9F\xBF\xEE\x80\x80"},
};

START_TEST(test_utf8_bad_table)
{
    const char *in = s_bad[_i].in;
    ck_assert_msg(wh_utf8_prefix(in, 64) == s_bad[_i].prefix, "%s: prefix %zu, want %zu",
                  s_bad[_i].label, wh_utf8_prefix(in, 64), s_bad[_i].prefix);
    char out[64];
    size_t n = wh_utf8_sanitize(out, sizeof out, in);
    ck_assert_msg(strcmp(out, s_bad[_i].sanitized) == 0, "%s: sanitized wrong", s_bad[_i].label);
    ck_assert_uint_eq(n, strlen(out));
    ck_assert(wh_utf8_valid(out, n));
    wh_snprintf_utf8(out, sizeof out, "%s", in ? in : "");
    ck_assert_msg(strcmp(out, s_bad[_i].formatted) == 0, "%s: formatted '%s', want '%s'",
                  s_bad[_i].label, out, s_bad[_i].formatted);
}
END_TEST

START_TEST(test_utf8_sanitize_fits)
{
    /* a U+FFFD that does not fit whole is dropped, never cut */
    char out[8];
    ck_assert_uint_eq(wh_utf8_sanitize(out, 5, "ab\xFF\xFF"), 2 + 0);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(wh_utf8_sanitize(out, 6, "ab\xFF\xFF"), 5);
    ck_assert_str_eq(out, "ab" FFFD);
    ck_assert_uint_eq(wh_utf8_sanitize(out, 1, "abc"), 0);
    ck_assert_str_eq(out, "");
    /* a cut buffer after an invalid byte: the '?' stays, the cut character goes */
    char buf[6];
    ck_assert_int_eq(wh_snprintf_utf8(buf, sizeof buf, "\xFF" "ab\xE5\x8D\xA0"), 6);
    ck_assert_str_eq(buf, "?ab");
    /* size 0 writes nothing and still says how long the output would be */
    ck_assert_int_eq(wh_snprintf_utf8(NULL, 0, "%s", "abc"), 3);
}
END_TEST

/* The known case: an 80-character Chinese escalation reason (240 bytes) after routing's
 * prefix, in routing's 256-byte reason and tracking's note. */
START_TEST(test_utf8_long_reason)
{
    char reason[241] = "";
    for (int i = 0; i < 80; i++) strcat(reason, "\xE8\xB7\xAF"); /* 路 */
    char step[256];
    int n = wh_snprintf_utf8(step, sizeof step, "%s raised the whistle to %s: %s", "north",
                             "TOUGH", reason);
    ck_assert_int_gt(n, (int)sizeof step - 1); /* it was cut */
    size_t len = strlen(step);
    ck_assert(wh_utf8_valid(step, len));
    ck_assert_uint_ge(len, sizeof step - 3); /* at most a character short */
    const char *r = strstr(step, ": ") + 2;
    ck_assert_uint_eq(strlen(r) % 3, 0);
}
END_TEST

/* A field error quoting a peer's text (visits.c: "unknown grid '%s'") stays valid UTF-8. */
START_TEST(test_field_error_utf8)
{
    struct wh_field_error fe;
    char grid[301] = "";
    for (int i = 0; i < 100; i++) strcat(grid, "\xE8\xB7\xAF");
    wh_field_error_set(&fe, WH_EFIELD, "visits.grid", "unknown grid '%s'", grid);
    ck_assert(wh_utf8_valid(fe.message, strlen(fe.message)));
    ck_assert_uint_ge(strlen(fe.message), sizeof fe.message - 3);
    wh_field_error_set(&fe, WH_EFIELD, "visits.grid", "unknown grid '%s'", "a\xFF\xE8\xB7");
    ck_assert_str_eq(fe.message, "unknown grid 'a?" "?'"); /* no trigraph */
}
END_TEST

/* ---- wh_message_utf8_check -------------------------------------------------------------- */

START_TEST(test_message_utf8_check)
{
    char path[128];
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseEscalated ce = WHISTLE__V1__CASE_ESCALATED__INIT;
    char *added[] = {"coord", "ok"};
    ce.case_id = "C00000001";
    ce.step = "manual";
    ce.reason = "north raised the whistle to TOUGH: \xE8\xB7\xAF";
    ce.added_departments = added;
    ce.n_added_departments = 2;
    env.stream = "routing/";
    env.event_id = "routing/1";
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_ESCALATED;
    env.case_escalated = &ce;
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), 0);
    ck_assert_str_eq(path, "");

    /* a reason cut mid-character */
    ce.reason = "north raised the whistle to TOUGH: \xE8\xB7";
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), WH_EFIELD);
    ck_assert_str_eq(path, "case_escalated.reason");
    ce.reason = "ok";

    /* a repeated string */
    added[1] = "\xED\xA0\x80"; /* a surrogate */
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), WH_EFIELD);
    ck_assert_str_eq(path, "case_escalated.added_departments[1]");
    added[1] = "ok";

    /* a top-level string */
    env.correlation_id = "\xC0\x80";
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), WH_EFIELD);
    ck_assert_str_eq(path, "correlation_id");
    env.correlation_id = "";

    /* nested: sub-message, repeated sub-messages */
    Whistle__V1__CaseUpdated cu = WHISTLE__V1__CASE_UPDATED__INIT;
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    Whistle__V1__Assignment a0 = WHISTLE__V1__ASSIGNMENT__INIT, a1 = WHISTLE__V1__ASSIGNMENT__INIT;
    Whistle__V1__Assignment *as[] = {&a0, &a1};
    Whistle__V1__HistoryEntry he = WHISTLE__V1__HISTORY_ENTRY__INIT;
    Whistle__V1__Report rep = WHISTLE__V1__REPORT__INIT;
    c.id = "C00000001";
    c.report = &rep;
    c.assignments = as;
    c.n_assignments = 2;
    a0.department = "cg";
    a1.department = "scjg";
    cu.case_ = &c;
    cu.entry = &he;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED;
    env.case_updated = &cu;
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), 0);
    a1.return_reason = "\xE5\x8D";
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), WH_EFIELD);
    ck_assert_str_eq(path, "case_updated.case.assignments[1].return_reason");
    a1.return_reason = "";
    he.note = "escalate: \xFF";
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), WH_EFIELD);
    ck_assert_str_eq(path, "case_updated.entry.note");
    he.note = "";
    rep.description = "\xF4\x90\x80\x80";
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), WH_EFIELD);
    ck_assert_str_eq(path, "case_updated.case.report.description");
    rep.description = "";
    ck_assert_int_eq(wh_message_utf8_check(&env.base, path, sizeof path), 0);

    /* a small path buffer is cut, never overrun */
    he.note = "\xFF";
    char small[8];
    ck_assert_int_eq(wh_message_utf8_check(&env.base, small, sizeof small), WH_EFIELD);
    ck_assert_str_eq(small, "case_up");
}
END_TEST

/* ---- wh_code_valid ---------------------------------------------------------------------- */

static const struct {
    const char *s;
    int valid;
} s_codes[] = {
    {"g1", 1},
    {"north-01", 1},
    {"0", 1},
    {"abcdefghijklmnopqrstuvwxyz012345", 1},  /* 32: the longest */
    {"abcdefghijklmnopqrstuvwxyz0123456", 0}, /* 33 */
    {"", 0},
    {NULL, 0},
    {"G1", 0},
    {"north_01", 0},
    {"north 01", 0},
    {"north/01", 0},
    {"\xE5\x8D\xA0", 0},
};

START_TEST(test_code_table)
{
    ck_assert_msg(wh_code_valid(s_codes[_i].s) == s_codes[_i].valid, "'%s': expected %s",
                  s_codes[_i].s ? s_codes[_i].s : "(null)", s_codes[_i].valid ? "valid" : "invalid");
}
END_TEST

/* ---- wh_check_string -------------------------------------------------------------------- */

START_TEST(test_check_string_required)
{
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    ck_assert_int_eq(wh_check_string(&fe, "report.grid", "", 32, 1), WH_EFIELD);
    ck_assert_int_eq(fe.code, WH_EFIELD);
    ck_assert_str_eq(fe.field, "report.grid");
    ck_assert_ptr_nonnull(strstr(fe.message, "required"));

    memset(&fe, 0, sizeof fe);
    ck_assert_int_eq(wh_check_string(&fe, "report.matter", NULL, 32, 1), WH_EFIELD);
    ck_assert_str_eq(fe.field, "report.matter");

    /* optional and absent is fine */
    ck_assert_int_eq(wh_check_string(&fe, "report.location", "", 32, 0), 0);
    ck_assert_int_eq(wh_check_string(&fe, "report.location", NULL, 32, 0), 0);
}
END_TEST

START_TEST(test_check_string_too_long)
{
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    ck_assert_int_eq(wh_check_string(&fe, "report.description", "abcd", 4, 1), 0);
    ck_assert_int_eq(wh_check_string(&fe, "report.description", "abcde", 4, 1), WH_EFIELD);
    ck_assert_str_eq(fe.field, "report.description");
    ck_assert_msg(strstr(fe.message, "report.description") && strstr(fe.message, "5") &&
                      strstr(fe.message, "4"),
                  "message names the field, the size and the limit: %s", fe.message);

    /* the limit counts bytes, not characters: 占道 is 6 bytes */
    ck_assert_int_eq(wh_check_string(&fe, "report.reporter", "\xE5\x8D\xA0\xE9\x81\x93", 5, 1),
                     WH_EFIELD);
    ck_assert_int_eq(wh_check_string(&fe, "report.reporter", "\xE5\x8D\xA0\xE9\x81\x93", 6, 1), 0);
}
END_TEST

START_TEST(test_check_string_bad_utf8)
{
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    ck_assert_int_eq(wh_check_string(&fe, "report.reporter", "ab\xC0\x80", 64, 1), WH_EFIELD);
    ck_assert_str_eq(fe.field, "report.reporter");
    ck_assert_ptr_nonnull(strstr(fe.message, "report.reporter"));
    ck_assert_ptr_nonnull(strstr(fe.message, "UTF-8"));
}
END_TEST

/* ---- pack / unpack ---------------------------------------------------------------------- */

START_TEST(test_envelope_round_trip)
{
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseReported cr = WHISTLE__V1__CASE_REPORTED__INIT;
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    r.grid = "g1";
    r.matter = "m2";
    r.description = "\xE5\x8D\xA0\xE9\x81\x93 north gate"; /* 占道 north gate */
    r.reporter = "resident-7";
    r.reported_at_ms = 1700000000123;
    cr.case_id = "c-000042";
    cr.report = &r;
    cr.idempotency_key = "key-42";
    env.stream = "intake/";
    env.seq = 42;
    env.event_id = "intake/42";
    env.correlation_id = "c-000042";
    env.occurred_at_ms = 1700000000456;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REPORTED;
    env.case_reported = &cr;

    size_t len = 0;
    uint8_t *buf = wh_pack(&env.base, &len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(len, protobuf_c_message_get_packed_size(&env.base));
    Whistle__V1__Envelope *out = wh_envelope_unpack(buf, len);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out->stream, "intake/");
    ck_assert_uint_eq(out->seq, 42);
    ck_assert_str_eq(out->event_id, "intake/42");
    ck_assert_str_eq(out->correlation_id, "c-000042");
    ck_assert_int_eq(out->occurred_at_ms, 1700000000456);
    ck_assert_int_eq(out->payload_case, WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REPORTED);
    ck_assert_str_eq(out->case_reported->case_id, "c-000042");
    ck_assert_str_eq(out->case_reported->idempotency_key, "key-42");
    ck_assert_str_eq(out->case_reported->report->description, r.description);
    ck_assert_str_eq(out->case_reported->report->grid, "g1");
    ck_assert_int_eq(out->case_reported->report->reported_at_ms, 1700000000123);
    whistle__v1__envelope__free_unpacked(out, NULL);
    free(buf);
}
END_TEST

START_TEST(test_request_truncated)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    r.grid = "g3";
    r.matter = "m4";
    r.description = "\xE8\xBF\x9D\xE7\xAB\xA0\xE6\x90\xAD\xE5\xBB\xBA behind block 5"; /* 违章搭建 */
    r.reporter = "grid-worker-12";
    r.location = "31.2N 117.0E";
    sr.idempotency_key = "app-2024-0001";
    sr.report = &r;
    req.request_id = 77;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;

    size_t len;
    uint8_t *buf = wh_pack(&req.base, &len);
    ck_assert_ptr_nonnull(buf);

    Whistle__V1__Request *whole = wh_request_unpack(buf, len);
    ck_assert_ptr_nonnull(whole);
    ck_assert_uint_eq(whole->request_id, 77);
    ck_assert_int_eq(whole->body_case, WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT);
    ck_assert_str_eq(whole->submit_report->report->location, "31.2N 117.0E");
    whistle__v1__request__free_unpacked(whole, NULL);

    size_t refused = 0;
    for (size_t cut = 1; cut <= len; cut++) {
        /* a copy of exactly the prefix, so ASan sees any read past it */
        uint8_t *prefix = malloc(len - cut ? len - cut : 1);
        memcpy(prefix, buf, len - cut);
        Whistle__V1__Request *p = wh_request_unpack(prefix, len - cut);
        if (p) whistle__v1__request__free_unpacked(p, NULL);
        else refused++;
        free(prefix);
    }
    ck_assert_uint_ge(refused, 1);
    free(buf);
}
END_TEST

START_TEST(test_garbage_refused)
{
    /* field 1 with wire type 7 (no such type), and a length prefix far past the end */
    static const uint8_t bad_type[] = {0x0F, 0x01, 0x02};
    static const uint8_t bad_len[] = {0x52, 0x7F, 0x0A};
    ck_assert_ptr_null(wh_request_unpack(bad_type, sizeof bad_type));
    ck_assert_ptr_null(wh_request_unpack(bad_len, sizeof bad_len));
    ck_assert_ptr_null(wh_envelope_unpack(bad_type, sizeof bad_type));
    ck_assert_ptr_null(wh_reply_unpack(bad_len, sizeof bad_len));
}
END_TEST

/* ---- enum names ------------------------------------------------------------------------- */

START_TEST(test_enum_names)
{
    ck_assert_int_eq(wh_whistle_parse("quick"), WHISTLE__V1__WHISTLE__QUICK);
    ck_assert_int_eq(wh_whistle_parse("QUICK"), WHISTLE__V1__WHISTLE__QUICK);
    ck_assert_int_eq(wh_whistle_parse("Emergency"), WHISTLE__V1__WHISTLE__EMERGENCY);
    ck_assert_int_eq(wh_whistle_parse("TOUGH"), WHISTLE__V1__WHISTLE__TOUGH);
    ck_assert_int_eq(wh_whistle_parse("loud"), 0);
    ck_assert_int_eq(wh_whistle_parse(""), 0);
    ck_assert_int_eq(wh_whistle_parse(NULL), 0);
    ck_assert_str_eq(wh_whistle_name(WHISTLE__V1__WHISTLE__EMERGENCY), "EMERGENCY");
    ck_assert_str_eq(wh_whistle_name(99), "UNKNOWN");

    ck_assert_int_eq(wh_state_parse("dispatched"), WHISTLE__V1__CASE_STATE__DISPATCHED);
    ck_assert_int_eq(wh_state_parse("in-progress"), WHISTLE__V1__CASE_STATE__IN_PROGRESS);
    ck_assert_int_eq(wh_state_parse("IN_PROGRESS"), WHISTLE__V1__CASE_STATE__IN_PROGRESS);
    ck_assert_int_eq(wh_state_parse("done"), 0);
    ck_assert_str_eq(wh_state_name(WHISTLE__V1__CASE_STATE__REOPENED), "REOPENED");

    ck_assert_str_eq(wh_action_name(WHISTLE__V1__ACTION__CHECKIN), "CHECKIN");
    ck_assert_str_eq(wh_action_name(WHISTLE__V1__ACTION__DISPATCH), "DISPATCH");
    ck_assert_str_eq(wh_assignment_state_name(WHISTLE__V1__ASSIGNMENT_STATE__RETURNED),
                     "RETURNED");
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("codec");
    tcase_add_loop_test(tc, test_utf8_table, 0, (int)(sizeof s_utf8 / sizeof s_utf8[0]));
    tcase_add_loop_test(tc, test_utf8_cut_every_byte, 0,
                        (int)(sizeof s_widths / sizeof s_widths[0]));
    tcase_add_loop_test(tc, test_utf8_bad_table, 0, (int)(sizeof s_bad / sizeof s_bad[0]));
    tcase_add_test(tc, test_utf8_sanitize_fits);
    tcase_add_test(tc, test_utf8_long_reason);
    tcase_add_test(tc, test_field_error_utf8);
    tcase_add_test(tc, test_message_utf8_check);
    tcase_add_loop_test(tc, test_code_table, 0, (int)(sizeof s_codes / sizeof s_codes[0]));
    tcase_add_test(tc, test_check_string_required);
    tcase_add_test(tc, test_check_string_too_long);
    tcase_add_test(tc, test_check_string_bad_utf8);
    tcase_add_test(tc, test_envelope_round_trip);
    tcase_add_test(tc, test_request_truncated);
    tcase_add_test(tc, test_garbage_refused);
    tcase_add_test(tc, test_enum_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return wh_test_run(s_suite()); }
