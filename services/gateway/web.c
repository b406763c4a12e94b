/* web.c: the dashboard's static files (web.h): a name checked, the file read whole from the
 * --web folder, answered with its type and cache headers, or 304 when the ETag matches. */
#include "web.h"
#include "params.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *ext;
    const char *type;
} s_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

/* Headers on every file: nothing from elsewhere, no sniffing, no framing, no referrer. */
static const char *const s_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options",
    "nosniff",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    NULL,
};

const char *gateway_web_type(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++) {
        size_t e = strlen(s_types[i].ext);
        if (n > e && strcmp(name + n - e, s_types[i].ext) == 0) return s_types[i].type;
    }
    return NULL;
}

int gateway_web_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 128 || name[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return gateway_web_type(name) != NULL;
}

static int s_has_index(const char *dir)
{
    char p[4096];
    struct stat st;
    int n = snprintf(p, sizeof p, "%s/index.html", dir);
    return n > 0 && (size_t)n < sizeof p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *gateway_web_dir(const char *flag, const char *installed)
{
    if (flag) return s_has_index(flag) ? flag : NULL;
    if (installed && s_has_index(installed)) return installed;
    if (s_has_index("services/gateway/web")) return "services/gateway/web";
    return NULL;
}

static void s_not_found(struct gw_req *r, const char *msg)
{
    gateway__answer_error(r, 404, WH_ENOTFOUND, "url", msg);
}

void gateway_web_serve(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    struct gw_query q;
    struct wh_field_error err;
    if (gateway__query(r, &q, &err) || gateway_params_none(&q, &err)) {
        gateway__answer(r, gateway_http_status(err.code),
                        gateway_error_json(err.code, err.field, err.message, 0, 0));
        return;
    }
    const char *dir = gateway__web_dir(gw);
    if (!dir) {
        s_not_found(r, "no dashboard here: start whistle-gateway with --web DIR");
        return;
    }
    int vendor = strncmp(m->route->pattern, "/web/vendor/", 12) == 0;
    const char *name = m->n ? m->param[0] : "index.html";
    if (!gateway_web_name_ok(name)) {
        s_not_found(r, "no such file");
        return;
    }
    char path[4096];
    int pn = snprintf(path, sizeof path, "%s/%s%s", dir, vendor ? "vendor/" : "", name);
    if (pn < 0 || (size_t)pn >= sizeof path) {
        s_not_found(r, "no such file");
        return;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > GW_WEB_MAX) {
        if (fd >= 0) close(fd);
        s_not_found(r, "no such file");
        return;
    }
    r->headers = s_headers;
    r->cache = vendor ? "public, max-age=31536000, immutable" : "no-cache";
    snprintf(r->hdr_name, sizeof r->hdr_name, "ETag");
    snprintf(r->hdr_value, sizeof r->hdr_value, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    const char *inm = gateway__header(r, "If-None-Match");
    if (inm && strstr(inm, r->hdr_value)) {
        close(fd);
        gateway__answer(r, 304, NULL);
        return;
    }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len ? len : 1);
    size_t got = 0;
    while (buf && got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (!buf || got != len) {
        free(buf);
        wh_log_warn("web: cannot read %s", path);
        r->hdr_name[0] = 0;
        gateway__answer_error(r, 503, WH_ESTORE, "", "the file could not be read; try again");
        return;
    }
    gateway__answer_text(r, 200, gateway_web_type(name), buf, len);
}
