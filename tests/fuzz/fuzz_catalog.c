/* fuzz_catalog.c: the catalog loader (common/src/catalog.c) on any bytes. The input is
 * written as the catalog file and loaded; a catalog that loads must answer a lookup of every
 * code it lists with that very entry (the tables are sorted and searched by code). */
#include "fuzz.h"
#include "whistle/catalog.h"
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

static void s_check(const struct wh_catalog *c)
{
    for (size_t i = 0; i < c->n_units; i++)
        if (wh_catalog_unit(c, c->units[i].code) != &c->units[i]) abort();
    for (size_t i = 0; i < c->n_communities; i++)
        if (wh_catalog_community(c, c->communities[i].code) != &c->communities[i]) abort();
    for (size_t i = 0; i < c->n_grids; i++)
        if (wh_catalog_grid(c, c->grids[i].code) != &c->grids[i]) abort();
    for (size_t i = 0; i < c->n_departments; i++)
        if (wh_catalog_department(c, c->departments[i].code) != &c->departments[i]) abort();
    for (size_t i = 0; i < c->n_matters; i++)
        if (wh_catalog_matter(c, c->matters[i].code) != &c->matters[i]) abort();
    for (size_t i = 0; i < c->n_affairs; i++)
        if (wh_catalog_affair(c, c->affairs[i].code) != &c->affairs[i]) abort();
    if (wh_catalog_grid(c, "") || wh_catalog_matter(c, "no such matter")) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    const char *path = wh_fuzz_file("catalog.json", data, size);
    struct wh_catalog *c = wh_catalog_load(path, err, sizeof err);
    if (c) {
        s_check(c);
        wh_catalog_destroy(&c);
        if (c) abort();
    } else if (!memchr(err, 0, sizeof err) || !err[0]) {
        abort(); /* a refusal always says why */
    }
    return 0;
}
