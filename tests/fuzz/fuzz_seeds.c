/* fuzz_seeds.c: writes the seed corpus of every fuzz target, packed with the real encoder:
 * valid requests of every kind each service serves, the upstream entries each follower
 * applies, the test catalogs, a few allowlist lines. Run by `cmake --build B --target
 * fuzz-seeds`; the output is committed under tests/fuzz/corpus/<target>/.
 *
 *   whistle-fuzz-seeds CORPUS_DIR SOURCE_DIR */
#include "fuzz_service.h"
#include "whistle/codec.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_AT_MS 1764000000000LL /* 2025-11-24: seeds are the same on every run */

static const char *s_root;

static void s_write(const char *target, const char *name, const uint8_t *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", s_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", s_root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* emit callback: arg is the target name; every request also seeds the codec */
static void s_emit(void *arg, const char *name, const uint8_t *data, size_t len)
{
    char codec_name[96];
    s_write(arg, name, data, len);
    snprintf(codec_name, sizeof codec_name, "request-%s-%s", (const char *)arg, name);
    s_write("codec", codec_name, data, len);
}

static void s_env(const char *target, const char *name, uint8_t *data, size_t len)
{
    char codec_name[96];
    s_write(target, name, data, len);
    snprintf(codec_name, sizeof codec_name, "envelope-%s", name);
    s_write("codec", codec_name, data, len);
    free(data);
}

static void s_copy(const char *target, const char *name, const char *src)
{
    FILE *f = fopen(src, "rb");
    if (!f) {
        perror(src);
        exit(1);
    }
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    s_write(target, name, buf, n);
}

static void s_replies(void)
{
    Whistle__V1__Reply r = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__Error e = WHISTLE__V1__ERROR__INIT;
    r.request_id = 9;
    e.code = -3;
    e.field = "report.grid";
    e.message = "unknown grid 'g9'";
    r.body_case = WHISTLE__V1__REPLY__BODY_ERROR;
    r.error = &e;
    size_t len;
    uint8_t *b = wh_pack(&r.base, &len);
    s_write("codec", "reply-error", b, len);
    free(b);
    Whistle__V1__Pong p = WHISTLE__V1__PONG__INIT;
    Whistle__V1__Cursor c = WHISTLE__V1__CURSOR__INIT, *cp = &c;
    c.upstream = "intake";
    c.seq = 41;
    c.upstream_head = 42;
    p.service = "routing";
    p.head = 7;
    p.cursors = &cp;
    p.n_cursors = 1;
    p.version = "0.1.0";
    r.body_case = WHISTLE__V1__REPLY__BODY_PONG;
    r.pong = &p;
    b = wh_pack(&r.base, &len);
    s_write("codec", "reply-pong", b, len);
    free(b);
}

/* The example keys of ZeroMQ's RFC 26 (CurveZMQ), so the seeds are the same on every run. */
static void s_allowlist(void)
{
    static const char *const server_pub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    static const char *const server_sec = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
    static const char *const client_pub = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    char text[1024];
    snprintf(text, sizeof text,
             "# whistle allowlist: <public key> <kind> <code>\n"
             "%s department cg\n"
             "\n"
             "%s township north # 北乡\n",
             server_pub, client_pub);
    s_write("allowlist", "two", (const uint8_t *)text, strlen(text));
    snprintf(text, sizeof text, "%s service routing\n", server_pub);
    s_write("allowlist", "service", (const uint8_t *)text, strlen(text));
    snprintf(text, sizeof text, "%s integrator app\n%s operator ops #\n", client_pub, server_pub);
    s_write("allowlist", "integrator-operator", (const uint8_t *)text, strlen(text));
    /* a key file too: the target reads the same bytes as one */
    snprintf(text, sizeof text, "#   ZeroMQ CURVE key\npublic-key \"%s\"\nsecret-key \"%s\"\n",
             server_pub, server_sec);
    s_write("allowlist", "keyfile", (const uint8_t *)text, strlen(text));
    snprintf(text, sizeof text, "secret-key = \"%s\"\n", server_sec);
    s_write("allowlist", "keyfile-secret-only", (const uint8_t *)text, strlen(text));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR SOURCE_DIR\n", argv[0]);
        return 2;
    }
    s_root = argv[1];
    if (mkdir(s_root, 0755) != 0 && errno != EEXIST) {
        perror(s_root);
        return 1;
    }
    static const char *const services[] = {"intake", "routing", "tracking", "notification"};
    for (int i = 0; i < 4; i++)
        wh_fuzz_requests(services[i], s_emit, (void *)services[i]);

    size_t len;
    char name[64];
    for (int n = 1; n <= WH_FUZZ_CASES; n++) {
        uint8_t *b = wh_fuzz_reported(n, S_AT_MS, &len);
        snprintf(name, sizeof name, "reported-%d", n);
        s_env("routing_apply", name, b, len);
        b = wh_fuzz_dispatched(n, S_AT_MS, &len);
        snprintf(name, sizeof name, "dispatched-%d", n);
        s_env("tracking_apply", name, b, len);
    }
    s_env("tracking_apply", "escalated-1", wh_fuzz_escalated(1, S_AT_MS, &len), len);
    s_env("tracking_apply", "escalated-2", wh_fuzz_escalated(2, S_AT_MS, &len), len);
    static const struct {
        const char *name;
        int action;
    } acts[] = {
        {"dispatch", WHISTLE__V1__ACTION__DISPATCH}, {"checkin", WHISTLE__V1__ACTION__CHECKIN},
        {"progress", WHISTLE__V1__ACTION__PROGRESS}, {"complete", WHISTLE__V1__ACTION__COMPLETE},
        {"resolve", WHISTLE__V1__ACTION__RESOLVE},   {"verify", WHISTLE__V1__ACTION__VERIFY},
        {"return", WHISTLE__V1__ACTION__RETURN},     {"assign", WHISTLE__V1__ACTION__ASSIGN},
        {"escalate", WHISTLE__V1__ACTION__ESCALATE}, {"refuse", WHISTLE__V1__ACTION__REFUSE}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        int n = 1 + (int)(i % 3);
        snprintf(name, sizeof name, "updated-%s", acts[i].name);
        s_env("notification_apply", name, wh_fuzz_updated(n, acts[i].action, S_AT_MS, &len), len);
        uint8_t *b = wh_fuzz_updated(n, acts[i].action, S_AT_MS, &len);
        s_write("routing_apply", name, b, len);
        free(b);
    }
    s_env("notification_apply", "visit-1", wh_fuzz_visit(1, S_AT_MS, &len), len);
    s_env("notification_apply", "visit-2", wh_fuzz_visit(2, S_AT_MS, &len), len);

    s_replies();
    s_allowlist();
    char src[1024];
    static const char *const catalogs[] = {"catalog-small.json", "catalog-fast.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/tests/data/%s", argv[2], catalogs[i]);
        s_copy("catalog", catalogs[i], src);
    }
    return 0;
}
