/* whistle-hold: runs a command while a service's LMDB environment takes no commit.
 *
 * It opens the environment (the service keeps running) and begins a write transaction, which
 * waits for the service's batch in progress to commit and then holds LMDB's one writer lock:
 * the service's next batch waits in mdb_txn_begin, so its log head and its cursors stay as
 * they are while the command runs. The transaction is aborted (nothing written) when the
 * command exits, or when this process dies (LMDB's robust mutex). tools/backup.sh uses it to
 * copy routing and tracking, which follow each other, as of one instant. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void s_usage(FILE *to)
{
    fprintf(to, "usage: whistle-hold ENV_DIR -- COMMAND [ARG...]\n"
                "Runs COMMAND while the LMDB environment ENV_DIR (a whistle service's --data\n"
                "folder, its service running or not) commits nothing; exits with COMMAND's\n"
                "status (125 when ENV_DIR cannot be held).\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        s_usage(stdout);
        return 0;
    }
    if (argc < 4 || strcmp(argv[2], "--")) {
        s_usage(stderr);
        return 2;
    }
    const char *dir = argv[1];
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&env);
    if (rc == 0) rc = mdb_env_open(env, dir, MDB_NOTLS, 0640);
    for (int tries = 0; rc == 0 && tries < 8; tries++) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc != MDB_MAP_RESIZED) break;
        mdb_env_set_mapsize(env, 0); /* the service grew its map: adopt the new size */
    }
    if (rc) {
        fprintf(stderr, "whistle-hold: %s: %s\n", dir, mdb_strerror(rc));
        if (env) mdb_env_close(env);
        return 125;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "whistle-hold: fork: %s\n", strerror(errno));
        mdb_txn_abort(txn);
        mdb_env_close(env);
        return 125;
    }
    if (pid == 0) {
        execvp(argv[3], argv + 3);
        fprintf(stderr, "whistle-hold: %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
