/* catalog.h: the district as one JSON file: units, communities, grids, departments, the
 * matters with their whistle and departments, the admitted community affairs, the deadlines
 * of each whistle and the escalation ladder. Parsed with jansson; every reference is checked
 * at load and a bad one is refused with its JSON path. Read-only once loaded. */
#ifndef WHISTLE_CATALOG_H
#define WHISTLE_CATALOG_H
#include <stddef.h>
#include <stdint.h>

struct wh_unit {
    const char *code;  /* "xinzhou" */
    const char *name;  /* "新洲乡" */
    int street;        /* 1 street (街道), 0 township (乡) */
};

struct wh_community {
    const char *code;
    const char *name;
    const struct wh_unit *unit;
};

/* The most households a grid may say it has (a grid is about 300). */
#define WH_GRID_MAX_HOUSEHOLDS 100000

struct wh_grid {
    const char *code;
    const struct wh_community *community;
    const char *leader;
    const char *workers[3];  /* "1+3": one leader, three workers; NULL when fewer */
    int64_t households;      /* households in the grid (一格一账本); -1: the catalog does not say */
};

struct wh_department {
    const char *code;
    const char *name;
};

#define WH_MATTER_MAX_DEPTS 8

struct wh_matter {
    const char *code;
    const char *name;
    int whistle;  /* WHISTLE__V1__WHISTLE__QUICK ... */
    int lead_community; /* 1: the grid's community leads; 0: its township or street (default) */
    int review;         /* 1: the lead reviews first (REVIEW) and blows the whistle itself */
    int order;          /* 1: a resident's order (群众点单): the community dispatches it to a
                           stationed unit or a volunteer; no departments */
    const struct wh_department *departments[WH_MATTER_MAX_DEPTS];
    size_t n_departments;
};

struct wh_affair {
    const char *code;
    const char *name;
};

/* A unit stationed in the district (驻区单位): a member of streets' 大工委 and communities'
 * 大党委; takes a resident's order from a community it is a member for. */
#define WH_STATION_MAX_MEMBERSHIPS 8

struct wh_station {
    const char *code;
    const char *name;
    const struct wh_unit *streets[WH_STATION_MAX_MEMBERSHIPS];        /* 大工委 of these */
    size_t n_streets;
    const struct wh_community *communities[WH_STATION_MAX_MEMBERSHIPS]; /* 大党委 of these */
    size_t n_communities;
};

/* A party-member volunteer (党员志愿者) of one community. */
struct wh_volunteer {
    const char *code;
    const char *name;
    const struct wh_community *community;
};

struct wh_whistle_rule {
    const char *name;    /* "快捷哨" */
    int64_t checkin_ms;  /* a department must report for duty within this */
    int64_t resolve_ms;  /* the case must be resolved within this */
};

struct wh_catalog {
    const char *district_code;
    const char *district_name;
    struct wh_unit *units;
    size_t n_units;
    struct wh_community *communities;
    size_t n_communities;
    struct wh_grid *grids;
    size_t n_grids;
    struct wh_department *departments;
    size_t n_departments;
    struct wh_matter *matters;
    size_t n_matters;
    struct wh_affair *affairs;
    size_t n_affairs;
    struct wh_station *stations;         /* "stationed"; none when the key is absent */
    size_t n_stations;
    struct wh_volunteer *volunteers;     /* "volunteers"; none when the key is absent */
    size_t n_volunteers;
    struct wh_whistle_rule whistles[4];  /* indexed by Whistle; [0] unused */
    int64_t verification_window_ms;
    int64_t review_ms;                   /* a case in REVIEW is decided within this ("review_ms";
                                            default: the QUICK whistle's checkin_ms) */
    const char *escalation[8];           /* step names, in order */
    size_t n_escalation;
    const struct wh_department *coordinators[8];
    size_t n_coordinators;
    void *json;                          /* the parsed document the strings point into */
};

/* Loads and checks `path`. On failure returns NULL and writes into `err` where and what
 * ("catalog.json:12: ..." for syntax, "matters[3].departments[1]: unknown department 'x'"). */
struct wh_catalog *wh_catalog_load(const char *path, char *err, size_t errlen);
/* Frees *self_p and sets it to NULL; safe on NULL. */
void wh_catalog_destroy(struct wh_catalog **self_p);

/* Lookups by code; NULL when unknown. */
const struct wh_unit *wh_catalog_unit(const struct wh_catalog *c, const char *code);
const struct wh_community *wh_catalog_community(const struct wh_catalog *c, const char *code);
const struct wh_grid *wh_catalog_grid(const struct wh_catalog *c, const char *code);
const struct wh_department *wh_catalog_department(const struct wh_catalog *c, const char *code);
const struct wh_matter *wh_catalog_matter(const struct wh_catalog *c, const char *code);
const struct wh_affair *wh_catalog_affair(const struct wh_catalog *c, const char *code);
const struct wh_station *wh_catalog_station(const struct wh_catalog *c, const char *code);
const struct wh_volunteer *wh_catalog_volunteer(const struct wh_catalog *c, const char *code);
/* 1 when station `s` may take an order of `community`: a member of its 大党委, or of the
 * 大工委 of its street or township. */
int wh_catalog_station_serves(const struct wh_station *s, const struct wh_community *community);

#endif
