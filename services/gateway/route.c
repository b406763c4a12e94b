/* route.c: matching a request's method and path against a route table, after the path has
 * been checked and percent-decoded segment by segment. Pure: no MHD, no loop. */
#include "route.h"
#include "whistle/error.h"
#include <string.h>

static int s_hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long gateway_pct_decode(char *dst, size_t size, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= len) return -1;
            int hi = s_hex((unsigned char)src[i + 1]), lo = s_hex((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= size) return -1;
        dst[o++] = (char)c;
    }
    dst[o] = 0;
    return wh_utf8_valid(dst, o) ? (long)o : -1;
}

/* Decodes one path segment and refuses what no whistle name contains. 0 or WH_EFIELD. */
static int s_segment(char *dst, size_t size, const char *src, size_t len,
                     struct wh_field_error *err)
{
    long n = gateway_pct_decode(dst, size, src, len);
    if (n < 0)
        return wh_field_error_set(err, WH_EFIELD, "url",
                                  "the path has an invalid %%-escape, an encoded NUL, bytes that "
                                  "are not UTF-8, or a segment over %d bytes",
                                  GW_PARAM_MAX - 1);
    for (long i = 0; i < n; i++)
        if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f || dst[i] == '/' || dst[i] == '\\')
            return wh_field_error_set(err, WH_EFIELD, "url",
                                      "a path segment holds a control character, '/' or '\\'");
    if (strcmp(dst, ".") == 0 || strcmp(dst, "..") == 0)
        return wh_field_error_set(err, WH_EFIELD, "url", "the path has a '.' or '..' segment");
    return 0;
}

#define S_MAX_SEGMENTS 8

int gateway_route_match(const struct gw_route *table, size_t n, const char *method,
                        const char *path, struct gw_match *m, struct wh_field_error *err)
{
    char seg[S_MAX_SEGMENTS][GW_PARAM_MAX];
    memset(m, 0, sizeof *m);
    if (!path || path[0] != '/')
        return wh_field_error_set(err, WH_EFIELD, "url", "the path must start with '/'");
    size_t nseg = 0;
    const char *p = path + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (nseg == S_MAX_SEGMENTS) return GW_ROUTE_NONE;
        int rc = s_segment(seg[nseg], sizeof seg[nseg], p, len, err);
        if (rc) return rc;
        nseg++;
        if (!slash) break;
        p = slash + 1;
    }
    if (strcmp(method, "HEAD") == 0) method = "GET";
    int path_found = 0;
    for (size_t i = 0; i < n; i++) {
        const char *q = table[i].pattern + 1;
        size_t k = 0, caps = 0;
        int ok = 1;
        for (; ok; k++) {
            const char *slash = strchr(q, '/');
            size_t len = slash ? (size_t)(slash - q) : strlen(q);
            if (k >= nseg) {
                ok = 0;
                break;
            }
            if (len == 2 && q[0] == '{' && q[1] == '}') {
                if (!seg[k][0] || caps == GW_MAX_PARAMS) ok = 0;
                caps++;
            } else if (strlen(seg[k]) != len || memcmp(seg[k], q, len) != 0) {
                ok = 0;
            }
            if (!slash) {
                k++;
                break;
            }
            q = slash + 1;
        }
        if (!ok || k != nseg) continue;
        if (strcmp(table[i].method, method) != 0) {
            if (!path_found) m->allow[0] = 0;
            size_t al = strlen(m->allow);
            if (!strstr(m->allow, table[i].method))
                snprintf(m->allow + al, sizeof m->allow - al, "%s%s", al ? ", " : "",
                         table[i].method);
            path_found = 1;
            continue;
        }
        /* the captures, in order */
        q = table[i].pattern + 1;
        for (size_t j = 0; j < nseg; j++) {
            const char *slash = strchr(q, '/');
            if (q[0] == '{' && q[1] == '}') memcpy(m->param[m->n++], seg[j], GW_PARAM_MAX);
            if (!slash) break;
            q = slash + 1;
        }
        m->route = &table[i];
        return GW_ROUTE_OK;
    }
    return path_found ? GW_ROUTE_METHOD : GW_ROUTE_NONE;
}
