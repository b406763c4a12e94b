/* fuzz.h: what the libFuzzer targets share: a temporary folder for the process (removed at
 * exit), inputs written as files for the loaders that read paths, the service log level, and
 * options for an in-process service on ipc:// endpoints in that folder with the test catalog.
 *
 * Every target is one fuzz_<target>.c defining LLVMFuzzerTestOneInput (and, when it builds
 * something once, LLVMFuzzerInitialize), linked with fuzz.c; docs/fuzzing.md says how to run
 * them. */
#ifndef WHISTLE_FUZZ_H
#define WHISTLE_FUZZ_H
#include "whistle/options.h"
#include "whistle/wlog.h"
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's own temporary folder under $TMPDIR (else /tmp), made on first use and removed
 * at a normal exit (a crash leaves it, with the store as it was). Aborts when it cannot be
 * made: a fuzzer without its folder would only report noise. */
const char *wh_fuzz_dir(void);

/* Writes `data` to `name` in the folder (replacing it); returns the path (static storage, valid
 * until the next call). */
const char *wh_fuzz_file(const char *name, const uint8_t *data, size_t size);

/* Where a fuzzer says what it found: a copy of stderr made before libFuzzer's -close_fd_mask=2
 * closes the original (which silences the service log). */
#define WH_FUZZ_SAY_FD 199

/* The service log level: $WHISTLE_FUZZ_LOG_LEVEL, else debug, so that every log line's
 * formatting of hostile input runs too (run with -close_fd_mask=2 to silence it). Call from
 * LLVMFuzzerInitialize, which runs before libFuzzer reads its flags. */
void wh_fuzz_log(const char *service);

/* Prints "fuzz: what: detail" where the fuzzer's own report goes (see WH_FUZZ_SAY_FD). */
void wh_fuzz_say(const char *what, const char *detail);

/* Options for service `name` as the Check suites make them (tests/support/wh_test.h): data in
 * <dir>/<name>, every service's api and events on ipc://<dir>/<service>.api and .ev (nothing
 * listens upstream: a follower's connects wait), the test catalog. Strings live in static
 * storage. */
void wh_fuzz_options(struct wh_options *o, const char *name);

#endif
