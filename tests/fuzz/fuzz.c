/* fuzz.c: what every libFuzzer target shares (fuzz.h): the process's temporary folder, inputs
 * as files, the log level and the fuzzer's own report line, options for an in-process
 * service. One copy per process, whichever target or support file asks. */
#include "fuzz.h"
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[512];

static int s_rm1(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void s_cleanup(void)
{
    if (s_dir[0]) nftw(s_dir, s_rm1, 16, FTW_DEPTH | FTW_PHYS);
}

const char *wh_fuzz_dir(void)
{
    if (!s_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(s_dir, sizeof s_dir, "%s/whistle-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(s_dir)) {
            perror(s_dir);
            abort();
        }
        atexit(s_cleanup);
    }
    return s_dir;
}

const char *wh_fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", wh_fuzz_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) {
            perror(path);
            abort();
        }
        off += (size_t)n;
    }
    close(fd);
    return path;
}

void wh_fuzz_log(const char *service)
{
    int level = wh_log_parse_level(getenv("WHISTLE_FUZZ_LOG_LEVEL"));
    wh_log_init(service, level >= 0 ? level : WH_LOG_DEBUG);
    dup2(2, WH_FUZZ_SAY_FD);
}

void wh_fuzz_say(const char *what, const char *detail)
{
    char line[512];
    int n = snprintf(line, sizeof line, "fuzz: %s%s%s\n", what, detail ? ": " : "",
                     detail ? detail : "");
    int fd = fcntl(WH_FUZZ_SAY_FD, F_GETFD) != -1 ? WH_FUZZ_SAY_FD : 2;
    if (n > 0 && write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0) return;
}

void wh_fuzz_options(struct wh_options *o, const char *name)
{
    static const char *const names[] = {"intake", "routing", "tracking", "notification"};
    static char buf[4096];
    const char *dir = wh_fuzz_dir();
    char *p = buf;
    memset(o, 0, sizeof *o);
#define WH_F_PUT(dst, ...)                                                                         \
    do {                                                                                           \
        dst = p;                                                                                   \
        p += snprintf(p, 300, __VA_ARGS__) + 1;                                                    \
    } while (0)
    WH_F_PUT(o->data_dir, "%s/%s", dir, name);
    WH_F_PUT(o->api, "ipc://%s/%s.api", dir, name);
    WH_F_PUT(o->events, "ipc://%s/%s.ev", dir, name);
    for (int i = 0; i < 4; i++) {
        WH_F_PUT(o->upstream_api[i], "ipc://%s/%s.api", dir, names[i]);
        WH_F_PUT(o->upstream_events[i], "ipc://%s/%s.ev", dir, names[i]);
    }
#undef WH_F_PUT
    o->catalog = WHISTLE_SOURCE_DIR "/tests/data/catalog-small.json";
    o->log_level = "debug";
    o->heartbeat_ms = 1000;
    o->webhook_attempts = 8;
    o->webhook_timeout_ms = 2000;
    o->webhook_backoff_ms = 50;
}
