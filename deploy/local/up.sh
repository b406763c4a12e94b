#!/usr/bin/env bash
# Builds whistle and starts the four services on loopback with the default catalog.
#
#   deploy/local/up.sh             install what is missing, build, start (data under ./data)
#   deploy/local/up.sh --stop      stop the services started here
#   WHISTLE_HOME=/srv/whistle deploy/local/up.sh   keep data and logs elsewhere
#
# Each service writes its log to $WHISTLE_HOME/log/<service>.log and its LMDB to
# $WHISTLE_HOME/<service>/. Restarting is safe at any time: nothing acknowledged is lost.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
home=${WHISTLE_HOME:-$top/data}
build=${WHISTLE_BUILD:-$top/build}
catalog=${WHISTLE_CATALOG:-$top/deploy/catalog/default.json}
services=(intake routing tracking notification)

# SIGTERM to each (a service commits and answers its batch in hand), then waits until each
# has exited, so a start right after finds the ports free (SIGKILL after 30 s: nothing
# acknowledged is lost to it either)
stop() {
  local s pid pids=()
  for s in gateway "${services[@]}"; do
    pidf="$home/run/$s.pid"
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
      kill -TERM "$(cat "$pidf")"
      pids+=("$s:$(cat "$pidf")")
    fi
    rm -f "$pidf"
  done
  for s in "${pids[@]}"; do
    pid=${s#*:}
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "whistle-${s%%:*} (pid $pid) did not stop within 30 s of SIGTERM: killed" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "stopped whistle-${s%%:*} (pid $pid)"
  done
}

if [ "${1:-}" = "--stop" ]; then stop; exit 0; fi
usage() {
  cat <<'EOF'
Usage: deploy/local/up.sh [--stop | --help]

Builds whistle and starts its services on loopback with the default catalog.

  deploy/local/up.sh           install what is missing, build, start (data under ./data)
  deploy/local/up.sh --stop    stop the services started here
  deploy/local/up.sh --help    this text (runs nothing)

Environment: WHISTLE_HOME (data and logs, default ./data), WHISTLE_BUILD (build folder,
default ./build), WHISTLE_CATALOG (default deploy/catalog/default.json).
Each service logs to $WHISTLE_HOME/log/<service>.log and keeps its LMDB in
$WHISTLE_HOME/<service>/. Restarting is safe at any time: nothing acknowledged is lost.
EOF
}
case "${1:-}" in
  "" | --stop) ;;
  -h | --help) usage; exit 0 ;;
  *) echo "up.sh: unknown argument '$1' (see deploy/local/up.sh --help)" >&2; exit 2 ;;
esac

"$top/deploy/install-deps.sh" --build  # the fuzzers' clang is for tests/run.sh only
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
stop >/dev/null
mkdir -p "$home/log" "$home/run"
for s in "${services[@]}"; do
  nohup "$build/services/whistle-$s" --data "$home/$s" --catalog "$catalog" \
    >>"$home/log/$s.log" 2>&1 &
  echo $! >"$home/run/$s.pid"
done
ctl="$build/tools/whistlectl/whistlectl"
for _ in $(seq 50); do "$ctl" --timeout 200 ping >/dev/null 2>&1 && break; sleep 0.2; done
"$ctl" ping || { echo "some service did not start; see $home/log/" >&2; exit 1; }
# the HTTP gateway, open (no API keys: loopback development only; see docs/architecture.md)
glog="$home/log/gateway.log"
seen=$( (wc -l <"$glog") 2>/dev/null || echo 0)
nohup "$build/services/whistle-gateway" --open --catalog "$catalog" \
  --web "$top/services/gateway/web" >>"$glog" 2>&1 &
echo $! >"$home/run/gateway.pid"
for _ in $(seq 50); do tail -n +"$((seen + 1))" "$glog" | grep -q "listening on" && break; sleep 0.2; done
tail -n +"$((seen + 1))" "$glog" | grep -q "listening on" ||
  { echo "the gateway did not start; see $glog" >&2; exit 1; }
cat <<MSG

whistle is running on loopback (requests / events):
  intake        tcp://127.0.0.1:7100 / 7101
  routing       tcp://127.0.0.1:7110 / 7111
  tracking      tcp://127.0.0.1:7120 / 7121
  notification  tcp://127.0.0.1:7130 / 7131
  gateway       http://127.0.0.1:7080 (open: no API keys; /healthz /readyz /v1/cases ...)
  dashboard     http://127.0.0.1:7080/ (open: signed in as an operator at once)
data: $home   logs: $home/log/   catalog: $catalog

Try:   $ctl report --grid g001 --matter m01 --description '占道经营' --reporter r1
       $ctl tail dept/cg/
       curl -s http://127.0.0.1:7080/readyz
Stop:  $0 --stop
MSG
