/* check_auth.c: key files (ours and CZMQ's, keys that start with '=' or hold '#'), the
 * allowlist refused line by line with the reason, identities from ZAP User-Ids, and a keyed
 * service in-process: a NULL client and an unknown key get no answer, a listed key is
 * answered and named. */
#include "wh_test.h"
#include "whistle/auth.h"
#include "whistle/error.h"
#include <check.h>
#include <sys/stat.h>

static char *s_dir;

static void s_setup(void) { s_dir = wh_test_tmpdir(); }
static void s_teardown(void)
{
    wh_test_rmdir(s_dir);
    free(s_dir);
}

static void s_file(const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(keygen_and_load)
{
    char base[512], path[600], err[512];
    struct wh_keypair kp, back;
    snprintf(base, sizeof base, "%s/dept-cg", s_dir);
    ck_assert_int_eq(wh_keypair_generate(base, &kp, err, sizeof err), 0);
    ck_assert_int_eq(wh_keypair_generate(base, &kp, err, sizeof err), WH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err, "exists"));
    snprintf(path, sizeof path, "%s.key", base);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(wh_keypair_load(path, 1, &back, err, sizeof err), 0);
    ck_assert_str_eq(back.public_key, kp.public_key);
    ck_assert_str_eq(back.secret_key, kp.secret_key);
    snprintf(path, sizeof path, "%s.pub", base);
    ck_assert_int_eq(wh_keypair_load(path, 0, &back, err, sizeof err), 0);
    ck_assert_str_eq(back.public_key, kp.public_key);
    ck_assert_str_eq(back.secret_key, "");
    ck_assert_int_eq(wh_keypair_load(path, 1, &back, err, sizeof err), WH_EFIELD);
    ck_assert_ptr_nonnull(strstr(err, "secret-key"));
}
END_TEST

START_TEST(czmq_and_odd_keys)
{
    /* a key pair whose public key starts with '=' or holds '#' (both Z85 digits), in CZMQ's
     * format, and one with the public line missing (derived from the secret) */
    char pub[41], sec[41], text[400], path[600], err[512];
    struct wh_keypair kp;
    do {
        ck_assert_int_eq(zmq_curve_keypair(pub, sec), 0);
    } while (pub[0] != '=' && !strchr(pub, '#'));
    snprintf(text, sizeof text, "#   ZeroMQ CURVE **Secret** Certificate\ncurve\n"
                                "    public-key = \"%s\"\n    secret-key = \"%s\"\n", pub, sec);
    s_file("czmq.key", text, path, sizeof path);
    ck_assert_int_eq(wh_keypair_load(path, 1, &kp, err, sizeof err), 0);
    ck_assert_str_eq(kp.public_key, pub);
    ck_assert_str_eq(kp.secret_key, sec);
    snprintf(text, sizeof text, "secret-key %s\n", sec);
    s_file("secret-only.key", text, path, sizeof path);
    ck_assert_int_eq(wh_keypair_load(path, 1, &kp, err, sizeof err), 0);
    ck_assert_str_eq(kp.public_key, pub);
    s_file("bad.key", "public-key tooshort\n", path, sizeof path);
    ck_assert_int_eq(wh_keypair_load(path, 0, &kp, err, sizeof err), WH_EFIELD);
    ck_assert_ptr_nonnull(strstr(err, "bad.key:1:"));
    snprintf(path, sizeof path, "%s/missing.key", s_dir);
    ck_assert_int_eq(wh_keypair_load(path, 1, &kp, err, sizeof err), WH_ENOTFOUND);
}
END_TEST

static const struct {
    const char *line;   /* %s: a valid key */
    const char *error;  /* "" accepted; else a piece of the error after "allow.txt:2: " */
} s_lines[] = {
    {"%s department cg", ""},
    {"%s township north   # the lead of g1, g2", ""},
    {"%s integrator app-1", ""},
    {"%s service intake", ""},
    {"%s operator ops", ""},
    {"   # only a comment", ""},
    {"", ""},
    {"%s dept cg", "kind 'dept' unknown"},
    {"%s department", "'<key> <kind> <code>'"},
    {"%s department CG", "'<key> <kind> <code>'"},
    {"%s department cg extra", "'<key> <kind> <code>'"},
    {"short department cg", "not a 40-character Z85 public key"},
};

START_TEST(allowlist_lines)
{
    char pub[41], sec[41], line[200], text[400], path[600], err[512];
    ck_assert_int_eq(zmq_curve_keypair(pub, sec), 0);
    char other[41];
    ck_assert_int_eq(zmq_curve_keypair(other, sec), 0);
    snprintf(line, sizeof line, s_lines[_i].line, pub);
    snprintf(text, sizeof text, "%s operator first\n%s\n", other, line);
    s_file("allow.txt", text, path, sizeof path);
    struct wh_allow_entry *e = NULL;
    size_t n = 0;
    int rc = wh_allowlist_load(path, &e, &n, err, sizeof err);
    if (!s_lines[_i].error[0]) {
        ck_assert_msg(rc == 0, "'%s': %s", line, err);
        ck_assert_uint_ge(n, 1);
        ck_assert_str_eq(e[0].key, other);
        if (n == 2) ck_assert_str_eq(e[1].key, pub);
    } else {
        ck_assert_int_eq(rc, WH_EFIELD);
        ck_assert_msg(strstr(err, "allow.txt:2: ") && strstr(err, s_lines[_i].error), "%s",
                      err);
        ck_assert_ptr_null(e);
    }
    free(e);
}
END_TEST

START_TEST(allowlist_duplicate_key)
{
    char pub[41], sec[41], text[400], path[600], err[512];
    ck_assert_int_eq(zmq_curve_keypair(pub, sec), 0);
    snprintf(text, sizeof text, "%s department cg\n%s department cgj\n", pub, pub);
    s_file("allow.txt", text, path, sizeof path);
    struct wh_allow_entry *e = NULL;
    size_t n;
    ck_assert_int_eq(wh_allowlist_load(path, &e, &n, err, sizeof err), WH_EFIELD);
    ck_assert_ptr_nonnull(strstr(err, "allow.txt:2: key listed twice"));
}
END_TEST

START_TEST(identities)
{
    struct wh_identity who;
    ck_assert_int_eq(wh_identity_parse("department:cg", &who), 0);
    ck_assert_int_eq(who.kind, WH_KIND_DEPARTMENT);
    ck_assert_str_eq(who.code, "cg");
    ck_assert(!wh_identity_trusted(&who));
    ck_assert_int_eq(wh_identity_parse("service:routing", &who), 0);
    ck_assert(wh_identity_trusted(&who));
    ck_assert_int_eq(wh_identity_parse(NULL, &who), 0);
    ck_assert_int_eq(who.kind, WH_KIND_NONE);
    ck_assert_int_eq(wh_identity_parse("", &who), 0);
    ck_assert_int_eq(wh_identity_parse("department", &who), WH_EFIELD);
    ck_assert_int_eq(wh_identity_parse("boss:cg", &who), WH_EFIELD);
    ck_assert_int_eq(wh_identity_parse("department:C G", &who), WH_EFIELD);
    ck_assert_int_eq(who.kind, WH_KIND_NONE);
    ck_assert_str_eq(wh_kind_name(WH_KIND_TOWNSHIP), "township");
    ck_assert_int_eq(wh_kind_parse("integrator"), WH_KIND_INTEGRATOR);
}
END_TEST

/* ---- a keyed service, in-process ----------------------------------------------------------- */

static int s_pong_name(void *arg, wh_service_t *svc, MDB_txn *txn, const struct wh_peer *peer,
                       const Whistle__V1__Request *req)
{
    (void)arg;
    (void)txn;
    (void)req;
    /* answers with who the key says the peer is, in an error's message */
    char who[80];
    snprintf(who, sizeof who, "%s:%s", wh_kind_name(peer->who.kind), peer->who.code);
    wh_service_error(svc, peer, WH_EUNSUPPORTED, "who", who, 0);
    return 0;
}

/* Sends `req` without blocking (a DEALER whose handshake failed has no peer to block on) and
 * drives the service a while: 1 if an answer came. */
static int s_answered(void *dealer, wh_service_t **svcs, Whistle__V1__Request *req)
{
    size_t len;
    uint8_t *buf = wh_pack(&req->base, &len);
    zmq_send(dealer, buf, len, ZMQ_DONTWAIT);
    free(buf);
    int64_t deadline = wh_mono_ms() + 300;
    while (wh_mono_ms() < deadline) {
        wh_test_drive(svcs, 1);
        zmq_pollitem_t item = {dealer, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 0) > 0) return 1;
    }
    return 0;
}

START_TEST(keyed_service)
{
    char base[512], keys[600], allow[600], err[512], data[600], api[600], ev[600];
    struct wh_keypair server, cg, stranger;
    snprintf(base, sizeof base, "%s/server", s_dir);
    ck_assert_int_eq(wh_keypair_generate(base, &server, err, sizeof err), 0);
    snprintf(keys, sizeof keys, "%s.key", base);
    snprintf(base, sizeof base, "%s/cg", s_dir);
    ck_assert_int_eq(wh_keypair_generate(base, &cg, err, sizeof err), 0);
    snprintf(base, sizeof base, "%s/stranger", s_dir);
    ck_assert_int_eq(wh_keypair_generate(base, &stranger, err, sizeof err), 0);
    char text[200];
    snprintf(text, sizeof text, "%s department cg\n", cg.public_key);
    s_file("allow.txt", text, allow, sizeof allow);
    snprintf(data, sizeof data, "%s/data", s_dir);
    snprintf(api, sizeof api, "ipc://%s/k.api", s_dir);
    snprintf(ev, sizeof ev, "ipc://%s/k.ev", s_dir);
    struct wh_service_config cfg = {.name = "keyed", .data_dir = data, .api_endpoint = api,
                                    .events_endpoint = ev, .heartbeat_ms = 50,
                                    .on_request = s_pong_name, .keys = keys, .allow = allow};
    wh_service_t *svc = wh_service_new(&cfg);
    ck_assert_ptr_nonnull(svc);
    ck_assert(wh_service_keyed(svc));
    void *zctx = zmq_ctx_new();
    void *plain = wh_test_dealer(zctx, api);
    void *unknown = zmq_socket(zctx, ZMQ_DEALER);
    void *known = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(unknown, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(known, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(wh_curve_client(unknown, &stranger, server.public_key), 0);
    ck_assert_int_eq(wh_curve_client(known, &cg, server.public_key), 0);
    zmq_connect(unknown, api);
    zmq_connect(known, api);
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__GetCase gc = WHISTLE__V1__GET_CASE__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &gc;
    wh_service_t *svcs[1] = {svc};
    Whistle__V1__Reply *r = wh_test_call(known, svcs, 1, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->error->message, "department:cg");
    whistle__v1__reply__free_unpacked(r, NULL);
    /* the answered one proves the service was served meanwhile; these get nothing */
    ck_assert(!s_answered(plain, svcs, &req));
    ck_assert(!s_answered(unknown, svcs, &req));
    ck_assert(s_answered(known, svcs, &req)); /* and the listed key still is */
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, known, ZMQ_DONTWAIT);
    zmq_msg_close(&m);
    zmq_close(plain);
    zmq_close(unknown);
    zmq_close(known);
    zmq_ctx_term(zctx);
    wh_service_destroy(&svc);
    /* keys without an allowlist, or a bad key file: refused at start */
    cfg.allow = NULL;
    ck_assert_ptr_null(wh_service_new(&cfg));
    cfg.allow = allow;
    cfg.keys = allow;
    ck_assert_ptr_null(wh_service_new(&cfg));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, keygen_and_load);
    tcase_add_test(tc, czmq_and_odd_keys);
    tcase_add_loop_test(tc, allowlist_lines, 0, (int)(sizeof s_lines / sizeof s_lines[0]));
    tcase_add_test(tc, allowlist_duplicate_key);
    tcase_add_test(tc, identities);
    tcase_add_test(tc, keyed_service);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
