/* store.c: the LMDB environment of one service, its tables, the batch write transaction (and
 * a count of its writes, so the service knows whether an input wrote before it was refused)
 * and map growth. LMDB return codes are turned into whistle codes here and nowhere else; the
 * cause of a failed batch is kept for the service to report. Read transactions of other
 * threads (wh_store_read_begin) hold a read lock that map growth needs exclusively: LMDB
 * remaps on growth, under any reader of this process. */
#include "whistle/store.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define WH_STORE_INITIAL_MAP (64UL * 1024 * 1024)

struct wh_store {
    MDB_env *env;
    const char *names[WH_STORE_MAX_TABLES + 1];  /* table names, static storage */
    MDB_dbi dbis[WH_STORE_MAX_TABLES];
    size_t n_tables;
    MDB_txn *batch;    /* the open batch, or NULL */
    uint64_t writes;   /* puts and deletes since the store opened (wh_store_writes) */
    int batch_failed;  /* a storage operation in the batch failed: commit must abort */
    int map_full;      /* ... and it failed for MDB_MAP_FULL */
    int cause_rc;      /* LMDB or errno code of the last storage failure, 0 none */
    char cause[160];   /* ... as a phrase: "no space left on device" */
    size_t max_key;    /* mdb_env_get_maxkeysize */
    size_t growth_waits; /* the map size a growth waits for reads to reach (said once), or 0 */
    char dir[512];     /* the data folder, to tell a full disk from other I/O errors */
    pthread_rwlock_t remap; /* read: a wh_store_read_begin txn is open; write: growing */
};

/* Decisions about one input (a key or value LMDB cannot take) are not storage failures. */
static int s_convert(int rc)
{
    if (rc == 0) return 0;
    if (rc == MDB_NOTFOUND) return WH_ENOTFOUND;
    if (rc == MDB_MAP_FULL) return WH_EMAPFULL;
    if (rc == MDB_BAD_VALSIZE) return WH_ETOOBIG;
    if (rc == ENOMEM) return WH_ENOMEM;
    return WH_ESTORE;
}

/* Keeps `rc` as the cause of the current failure, as a lower-case phrase. LMDB reports a
 * short write as EIO: when the data folder's disk has no room left, that is the cause. */
static void s_cause(wh_store_t *self, int rc, const char *what)
{
    struct statvfs vfs;
    if ((rc == EIO || rc == ENOSPC || rc == EDQUOT) && statvfs(self->dir, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < 1024 * 1024)
        rc = ENOSPC;
    self->cause_rc = rc;
    snprintf(self->cause, sizeof self->cause, "%s: %s", what, mdb_strerror(rc));
    size_t n = strlen(what) + 2;
    if (self->cause[n]) self->cause[n] = (char)tolower((unsigned char)self->cause[n]);
}

static void s_add_table(wh_store_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_tables; i++)
        if (strcmp(self->names[i], name) == 0) return;
    if (self->n_tables < WH_STORE_MAX_TABLES) self->names[self->n_tables++] = name;
}

/* Doubles the map while it is more than three quarters used. No txn may be open. */
static int s_grow_if_needed(wh_store_t *self, int force)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(self->env, &info);
    mdb_env_stat(self->env, &st);
    size_t used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    if (!force && used < info.me_mapsize / 4 * 3) return 0;
    size_t next = info.me_mapsize * 2;
    /* never wait on the loop for a long read: grow at a later batch, when none is open */
    if (pthread_rwlock_trywrlock(&self->remap) != 0) {
        /* said once per size: every batch of a long read would say it again */
        if (self->growth_waits != next)
            wh_log_warn("store: map growth to %zu MiB waits for read(s) in flight", next >> 20);
        self->growth_waits = next;
        return force ? WH_ESTORE : 0;
    }
    self->growth_waits = 0;
    int rc = mdb_env_set_mapsize(self->env, next);
    pthread_rwlock_unlock(&self->remap);
    if (rc != 0) {
        wh_log_error("store: cannot grow map to %zu bytes: %s", next, mdb_strerror(rc));
        return WH_ESTORE;
    }
    wh_log_info("store: map grown to %zu MiB (%zu MiB used)", next >> 20, used >> 20);
    return 0;
}

wh_store_t *wh_store_open(const char *dir, const char *const *tables)
{
    wh_store_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    if (pthread_rwlock_init(&self->remap, NULL) != 0) {
        free(self);
        return NULL;
    }
    s_add_table(self, "log");
    s_add_table(self, "heads");
    s_add_table(self, "cursors");
    for (size_t i = 0; tables && tables[i]; i++) s_add_table(self, tables[i]);

    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        wh_log_error("store: cannot create data folder %s: %s", dir, strerror(errno));
        goto fail;
    }
    int rc = mdb_env_create(&self->env);
    if (rc == 0) rc = mdb_env_set_maxdbs(self->env, WH_STORE_MAX_TABLES + 2);
    if (rc == 0) rc = mdb_env_set_mapsize(self->env, WH_STORE_INITIAL_MAP);
    /* Durable: no no-sync or async-map flag. MDB_NOTLS: one thread, no TLS slots. */
    if (rc == 0) rc = mdb_env_open(self->env, dir, MDB_NOTLS, 0640);
    if (rc != 0) {
        wh_log_error("store: cannot open LMDB in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    if (dead) wh_log_warn("store: cleared %d stale reader slot(s) left by a crashed process", dead);
    /* the file may be larger than the default map after earlier growth: adopt its size */
    mdb_env_set_mapsize(self->env, 0);
    s_grow_if_needed(self, 0);
    self->max_key = (size_t)mdb_env_get_maxkeysize(self->env);

    MDB_txn *txn;
    rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    for (size_t i = 0; rc == 0 && i < self->n_tables; i++)
        rc = mdb_dbi_open(txn, self->names[i], MDB_CREATE, &self->dbis[i]);
    if (rc == 0) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
    if (rc != 0) {
        wh_log_error("store: cannot open tables in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    return self;
fail:
    if (self->env) mdb_env_close(self->env);
    pthread_rwlock_destroy(&self->remap);
    free(self);
    return NULL;
}

void wh_store_close(wh_store_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_store_t *self = *self_p;
    wh_store_abort(self);
    mdb_env_close(self->env);
    pthread_rwlock_destroy(&self->remap);
    free(self);
    *self_p = NULL;
}

MDB_dbi wh_store_dbi(const wh_store_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_tables; i++)
        if (strcmp(self->names[i], name) == 0) return self->dbis[i];
    wh_log_error("store: table '%s' was not declared", name);
    abort();
}

MDB_env *wh_store_env(const wh_store_t *self) { return self->env; }

MDB_txn *wh_store_txn(wh_store_t *self)
{
    if (self->batch) return self->batch;
    s_grow_if_needed(self, 0);
    int rc = mdb_txn_begin(self->env, NULL, 0, &self->batch);
    if (rc != 0) {
        s_cause(self, rc, "begin");
        self->batch = NULL;
        return NULL;
    }
    self->batch_failed = 0;
    self->map_full = 0;
    return self->batch;
}

int wh_store_read_begin(wh_store_t *self, MDB_txn **txn)
{
    *txn = NULL;
    if (pthread_rwlock_rdlock(&self->remap) != 0) return WH_ESTORE;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, txn);
    if (rc != 0) {
        pthread_rwlock_unlock(&self->remap);
        *txn = NULL;
        return s_convert(rc) == WH_ENOMEM ? WH_ENOMEM : WH_ESTORE;
    }
    return 0;
}

void wh_store_read_end(wh_store_t *self, MDB_txn *txn)
{
    if (!txn) return;
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&self->remap);
}

int wh_store_in_batch(const wh_store_t *self) { return self->batch != NULL; }

uint64_t wh_store_writes(const wh_store_t *self) { return self->writes; }

void wh_store_wrote(wh_store_t *self) { self->writes++; }


const char *wh_store_cause(const wh_store_t *self) { return self->cause_rc ? self->cause : ""; }

void wh_store_clear_cause(wh_store_t *self)
{
    self->cause_rc = 0;
    self->cause[0] = 0;
}

int wh_store_commit(wh_store_t *self)
{
    if (!self->batch) return 0;
    MDB_txn *txn = self->batch;
    self->batch = NULL;
    if (self->batch_failed) {
        mdb_txn_abort(txn);
        int full = self->map_full;
        if (full) s_grow_if_needed(self, 1);
        return full ? WH_EMAPFULL : WH_ESTORE;
    }
    int rc = mdb_txn_commit(txn);
    if (rc != 0) {
        s_cause(self, rc, "commit");
        if (rc == MDB_MAP_FULL) s_grow_if_needed(self, 1);
        rc = s_convert(rc);
        return rc == WH_ETOOBIG ? WH_ESTORE : rc;
    }
    return 0;
}

void wh_store_fail(wh_store_t *self)
{
    if (!self->batch) return;
    self->batch_failed = 1;
    if (!self->cause_rc) {
        self->cause_rc = -1;
        snprintf(self->cause, sizeof self->cause, "the batch was failed by its caller");
    }
}

void wh_store_abort(wh_store_t *self)
{
    if (!self->batch) return;
    mdb_txn_abort(self->batch);
    self->batch = NULL;
}

/* A failed operation: a storage failure fails the batch (and is kept as its cause); a key or
 * value LMDB cannot take is a decision about the input and fails nothing. Logged by the
 * service, once per cause, not here per operation. */
static int s_fail(wh_store_t *self, MDB_txn *txn, int rc, const char *what)
{
    if (rc == MDB_BAD_VALSIZE) return WH_ETOOBIG;
    if (txn && txn == self->batch) {
        self->batch_failed = 1;
        if (rc == MDB_MAP_FULL) self->map_full = 1;
        s_cause(self, rc, what);
    } else {
        wh_log_error("store: %s failed: %s", what, mdb_strerror(rc));
    }
    return s_convert(rc);
}

int wh_store_put(wh_store_t *self, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const void *val, size_t vlen)
{
    if (klen == 0 || klen > self->max_key) return WH_ETOOBIG; /* before LMDB sees it */
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    self->writes++;
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    return rc ? s_fail(self, txn, rc, "put") : 0;
}

int wh_store_get(wh_store_t *self, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 MDB_val *out)
{
    if (klen == 0 || klen > self->max_key) return WH_ENOTFOUND; /* no such key can exist */
    MDB_val k = {klen, (void *)key};
    int rc = mdb_get(txn, dbi, &k, out);
    if (rc == MDB_NOTFOUND) return WH_ENOTFOUND;
    return rc ? s_fail(self, txn, rc, "get") : 0;
}

int wh_store_del(wh_store_t *self, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    if (klen == 0 || klen > self->max_key) return WH_ENOTFOUND;
    MDB_val k = {klen, (void *)key};
    self->writes++;
    int rc = mdb_del(txn, dbi, &k, NULL);
    if (rc == MDB_NOTFOUND) return WH_ENOTFOUND;
    return rc ? s_fail(self, txn, rc, "del") : 0;
}

size_t wh_store_mapsize(const wh_store_t *self)
{
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    return info.me_mapsize;
}

void wh_be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

uint64_t wh_be64_get(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | in[i];
    return v;
}
