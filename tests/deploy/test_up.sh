#!/usr/bin/env bash
# The README's first command, for real: deploy/local/up.sh installs what is missing (nothing,
# here), builds, and starts the four services and the gateway on the default loopback ports;
# a case reported with whistlectl is dispatched and the gateway's /readyz answers; up.sh run a
# second time (an operator restarting) brings everything up again with the case kept; --stop
# leaves no process behind. Exits 77 (skipped) when a default port is taken: another whistle
# runs on this machine. Builds in a folder of its own (a few minutes), data in a temp folder.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
say() { echo "test_up: $*" >&2; }
for p in 7080 7100 7101 7110 7111 7120 7121 7130 7131; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    say "SKIP: port $p on 127.0.0.1 is in use (another whistle?); up.sh needs the defaults"
    exit 77
  fi
done
command -v curl >/dev/null || { say "SKIP: curl not found"; exit 77; }
WHISTLE_HOME=$(mktemp -d /tmp/whistle-up-test.XXXXXX)
export WHISTLE_HOME WHISTLE_BUILD=${UP_TEST_BUILD:-$WHISTLE_HOME/build}
up="$top/deploy/local/up.sh"
trap 'bash "$up" --stop >/dev/null 2>&1 || true; rm -rf "$WHISTLE_HOME"' EXIT
fail() { say "FAIL: $*"; tail -n 5 "$WHISTLE_HOME"/log/*.log >&2 2>/dev/null || true; exit 1; }
ctl="$WHISTLE_BUILD/tools/whistlectl/whistlectl"
pids() { cat "$WHISTLE_HOME"/run/*.pid 2>/dev/null | tr '\n' ' '; }

t0=$SECONDS
out=$(bash "$up" 2>&1) || fail "up.sh failed: $out"
say "up.sh built and started in $((SECONDS - t0)) s"
"$ctl" ping >/dev/null || fail "whistlectl ping after up.sh: $("$ctl" ping 2>&1)"
curl -fsS --max-time 5 http://127.0.0.1:7080/readyz >/dev/null || fail "the gateway's /readyz"
id=$("$ctl" report --grid g001 --matter m01 --description '占道经营' --reporter r1 2>&1) ||
  fail "report: $id"
id=${id%% *}
"$ctl" show "$id" | grep -q DISPATCHED || fail "$id not DISPATCHED: $("$ctl" show "$id" 2>&1)"

# again, as an operator would after a change: everything restarts, nothing is lost
first=$(pids)
out=$(bash "$up" 2>&1) || fail "up.sh a second time failed: $out"
for p in $first; do ! kill -0 "$p" 2>/dev/null || fail "pid $p of the first start still runs"; done
"$ctl" ping >/dev/null || fail "ping after the second up.sh: $("$ctl" ping 2>&1)"
"$ctl" show "$id" | grep -q DISPATCHED || fail "$id lost by the restart"
curl -fsS --max-time 5 http://127.0.0.1:7080/readyz >/dev/null || fail "/readyz after the restart"

last=$(pids)
bash "$up" --stop >/dev/null || fail "up.sh --stop"
for p in $last; do ! kill -0 "$p" 2>/dev/null || fail "pid $p still runs after --stop"; done
say "PASS: started, reported $id, restarted with it kept, stopped ($((SECONDS - t0)) s)"
