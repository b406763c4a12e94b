#!/usr/bin/env bash
# Runs every test of whistle: installs what is missing, then three passes under ctest:
#   1. a release build with warnings as errors;
#   2. the same with AddressSanitizer and UndefinedBehaviorSanitizer;
#   3. the libFuzzer targets (clang, ASan + UBSan), each for a bounded number of inputs over
#      its seed corpus and past reproducers (docs/fuzzing.md; ctest label "fuzz").
# Build trees go to build-test/, build-asan/ and build-fuzz/ (override with
# WHISTLE_TEST_BUILD_ROOT).
#
# Usage:
#   tests/run.sh            every pass
#   tests/run.sh -R e2e     extra arguments go to ctest (every pass)
#   tests/run.sh --help     this text; runs nothing
set -euo pipefail
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,/^# *tests\/run.sh --help/s/^# \{0,1\}//p' "$0"
  exit 0
fi
top=$(cd "$(dirname "$0")/.." && pwd)
root=${WHISTLE_TEST_BUILD_ROOT:-$top}
jobs=$(nproc)

"$top/deploy/install-deps.sh"

pass() {
  local name=$1 dir=$2; shift 2
  echo "==== $name"
  cmake -S "$top" -B "$dir" -DWHISTLE_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" -- --no-print-directory 2>&1 | grep -Ev '^\[ *[0-9]+%\]' || true
  cmake --build "$dir" -j"$jobs" >/dev/null   # fails here, loudly, if the build failed
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "${ctest_args[@]}")
}

ctest_args=("$@")
pass "release, -Werror" "$root/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  pass "AddressSanitizer + UndefinedBehaviorSanitizer" "$root/build-asan" \
  -DCMAKE_BUILD_TYPE=Debug -DWHISTLE_SANITIZE=ON
echo "==== libFuzzer targets (ASan + UBSan), bounded runs"
cmake -S "$top" -B "$root/build-fuzz" -DWHISTLE_WERROR=ON -DWHISTLE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# only the fuzzers (and what they link) are built in this tree; ctest -L fuzz runs only them
cmake --build "$root/build-fuzz" -j"$jobs" --target fuzzers -- --no-print-directory 2>&1 |
  grep -Ev '^\[ *[0-9]+%\]' || true
cmake --build "$root/build-fuzz" -j"$jobs" --target fuzzers >/dev/null
(cd "$root/build-fuzz" && ctest --output-on-failure -j"$jobs" -L fuzz "${ctest_args[@]}")
echo "==== all passes green"
