#!/usr/bin/env bash
# Builds whistle (Release) and benchmarks it, in one run, against what the machine allows and
# against a well-known system doing the same job:
#
#   whistle       reports over ZeroMQ (SubmitReport to intake), dispatches seen on notification's
#                 dept topics
#   http          the same pipeline entered through the gateway: Open311 POST requests.json
#                 (answered after intake's durable commit), dispatches seen as above
#   baseline      four bare hops of ZeroMQ receive -> durable LMDB commit -> send
#   alertmanager  Prometheus Alertmanager (Debian prometheus-alertmanager): each report an alert
#                 POSTed to its API, each dispatch a webhook it delivers to one receiver per
#                 department (routed by dept_<code> labels; its acknowledgement is not durable)
#
#   bench/run.sh                 both modes: paced 10,000/s for 10 s, then saturating 50,000
#   BENCH_MODES=paced bench/run.sh      one mode only (paced | saturating)
#   BENCH_SYSTEMS="whistle http" bench/run.sh   some systems only (whistle http baseline
#                                                alertmanager; default all four)
#
# For each mode and system: starts what it needs on loopback with a fresh data folder and the
# default catalog, runs whistle-bench against it, stops it. Prints one table with every
# system's ratio to whistle's ZeroMQ path; the full reports and logs are kept under
# bench/results/<date>/.
#
# Knobs (environment): BENCH_RATE (10000), BENCH_SECONDS (10), BENCH_COUNT (50000, saturating),
# BENCH_CLIENTS (4), BENCH_WINDOW (64), BENCH_TMP (parent of the data folder, default $TMPDIR
# or /tmp), BENCH_SERVICE_ARGS (extra flags for the four services, e.g. "--heartbeat-ms 10"),
# BENCH_KEEP=1 (keep the data folder), BENCH_PERF=1 (count each service's fdatasync calls,
# i.e. durable commits, with perf), BENCH_PROFILE=1 (perf record of each service: where its CPU
# time goes, written beside the results), BENCH_PORT_BASE (27100: the services listen on base+0/1,
# +10/11, +20/21, +30/31, the gateway on +40, Alertmanager on +50 and its receivers on +51,
# so a whistle on the default ports 7100.. is left alone).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$top/build-bench}
catalog=$top/deploy/catalog/default.json
rate=${BENCH_RATE:-10000}
seconds=${BENCH_SECONDS:-10}
count=${BENCH_COUNT:-50000}
clients=${BENCH_CLIENTS:-4}
window=${BENCH_WINDOW:-64}
modes=${BENCH_MODES:-paced saturating}
systems=${BENCH_SYSTEMS:-whistle http baseline alertmanager}
read -r -a svc_args <<<"${BENCH_SERVICE_ARGS:-}"
services=(intake routing tracking notification)
port_base=${BENCH_PORT_BASE:-27100}
ports=()
# every service and whistlectl read their peers' endpoints from these variables
for i in 0 1 2 3; do
  S=${services[$i]^^}
  export "WHISTLE_${S}_API=tcp://127.0.0.1:$((port_base + 10 * i))"
  export "WHISTLE_${S}_EVENTS=tcp://127.0.0.1:$((port_base + 10 * i + 1))"
  ports+=($((port_base + 10 * i)) $((port_base + 10 * i + 1)))
done
http_port=$((port_base + 40))
am_port=$((port_base + 50))
receiver_port=$((port_base + 51))
ports+=("$http_port" "$am_port" "$receiver_port")

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWHISTLE_WERROR=ON -DBUILD_TESTING=OFF \
  >/dev/null
cmake --build "$build" -j"$(nproc)" --target whistle-bench whistlectl whistle-gateway \
  whistle-intake whistle-routing whistle-tracking whistle-notification >/dev/null
case " $systems " in *" alertmanager "*)
  command -v prometheus-alertmanager >/dev/null || {
    echo "bench/run.sh: the alertmanager comparison needs Debian's prometheus-alertmanager" \
      "(apt-get install prometheus-alertmanager), or leave it out of BENCH_SYSTEMS" >&2
    exit 2
  } ;;
esac
bench=$build/bench/whistle-bench
ctl=$build/tools/whistlectl/whistlectl

for port in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "bench/run.sh: port $port is in use (set BENCH_PORT_BASE to move)" >&2
    exit 1
  fi
done

root=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/whistle-bench.XXXXXX")
results=$top/bench/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
pids=()

stop_services() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "bench/run.sh: pid $pid did not stop within 10 s of SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
cleanup() {
  stop_services
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "data kept in $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT

# user + system CPU seconds of each pid, in order
cpu_of() {
  local tick out=() p
  tick=$(getconf CLK_TCK)
  for p in "$@"; do out+=("$(awk -v t="$tick" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$p/stat")"); done
  echo "${out[*]}"
}

start_services() { # $1: data folder
  mkdir -p "$1/log"
  for i in 0 1 2 3; do
    s=${services[$i]}
    "$build/services/whistle-$s" --data "$1/$s" --catalog "$catalog" \
      --api "tcp://127.0.0.1:$((port_base + 10 * i))" \
      --events "tcp://127.0.0.1:$((port_base + 10 * i + 1))" "${svc_args[@]}" \
      >"$1/log/$s.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 100); do "$ctl" --timeout 200 ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench/run.sh: the services did not start; see $1/log/" >&2
  exit 1
}

echo "machine: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(free -h | awk '/^Mem:/ {print $2}') RAM, kernel $(uname -r)"
echo "data folder: $root ($(df -hT "$root" | awk 'NR==2 {print $1", "$2", "$3" total, "$5" free"}'))"
echo "commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" \
  diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo "services on 127.0.0.1:$port_base..$((port_base + 31))"
echo "load: $clients clients x window $window; paced $rate/s for $seconds s; saturating $count"
echo

# the gateway in front of the services: one integrator key for the bench
start_gateway() { # $1: data folder
  echo "bench-key-0123456789abcdef integrator bench" >"$1/api-keys"
  "$build/services/whistle-gateway" --http "127.0.0.1:$http_port" --api-keys "$1/api-keys" \
    --catalog "$catalog" \
    >"$1/log/gateway.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench/run.sh: the gateway did not become ready; see $1/log/gateway.log" >&2
  exit 1
}

# Alertmanager with one webhook receiver per department of the catalog
start_alertmanager() { # $1: data folder
  mkdir -p "$1/log"
  {
    printf 'route:\n  receiver: drop\n  group_by: [case]\n  group_wait: 0s\n'
    printf '  group_interval: 1s\n  repeat_interval: 24h\n  routes:\n'
    for d in $("$ctl" --json catalog list departments "$catalog" | grep -o '"code":"[^"]*"' | cut -d'"' -f4); do
      printf '    - matchers: [dept_%s="1"]\n      receiver: %s\n      continue: true\n' "$d" "$d"
    done
    printf 'receivers:\n  - name: drop\n'
    for d in $("$ctl" --json catalog list departments "$catalog" | grep -o '"code":"[^"]*"' | cut -d'"' -f4); do
      printf '  - name: %s\n    webhook_configs:\n      - url: http://127.0.0.1:%s/%s\n        send_resolved: false\n' \
        "$d" "$receiver_port" "$d"
    done
  } >"$1/alertmanager.yml"
  prometheus-alertmanager --config.file="$1/alertmanager.yml" --storage.path="$1/am" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
    >"$1/log/alertmanager.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$am_port/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench/run.sh: Alertmanager did not become ready; see $1/log/alertmanager.log" >&2
  exit 1
}

for mode in $modes; do
  case $mode in
  paced) load=(--rate "$rate" --duration "$seconds") ;;
  saturating) load=(--rate 0 --count "$count") ;;
  *) echo "bench/run.sh: unknown mode '$mode' (paced | saturating)" >&2; exit 2 ;;
  esac
  common=(--clients "$clients" --window "$window" --catalog "$catalog" --label "$mode")

  for system in $systems; do
  case $system in
  whistle | http)
    echo "== $mode: $system"
    data=$root/$mode-$system
    start_services "$data"
    extra=()
    if [ "$system" = http ]; then
      start_gateway "$data"
      extra=(--http "http://127.0.0.1:$http_port" --api-key bench-key-0123456789abcdef)
    fi
    cpu0=$(cpu_of "${pids[@]}")
    if [ "${BENCH_PERF:-0}" = 1 ]; then
      perf stat -e syscalls:sys_enter_fdatasync --per-thread -x, -o "$results/$mode-$system.perf" \
        -p "$(IFS=,; echo "${pids[*]}")" &
      perf_pid=$!
    fi
    prof_pids=()
    if [ "${BENCH_PROFILE:-0}" = 1 ]; then
      # cpu-clock: a software event, so it samples where hardware counters are not offered
      for i in "${!pids[@]}"; do
        perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 -p "${pids[$i]}" \
          -o "$results/$mode-$system-${services[$i]:-gateway}.perf.data" 2>/dev/null &
        prof_pids+=($!)
      done
    fi
    "$bench" "${load[@]}" "${common[@]}" "${extra[@]}" >"$results/$mode-$system.txt" \
      2>"$results/$mode-$system.progress" || echo "   (whistle-bench reported a problem; see below)"
    cpu1=$(cpu_of "${pids[@]}")
    if [ "${BENCH_PERF:-0}" = 1 ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    for p in "${prof_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    stop_services
    if [ ${#prof_pids[@]} -gt 0 ]; then
      # each service's own time by function (self), then by call chain into it
      for f in "$results/$mode-$system"-*.perf.data; do
        perf report -i "$f" --no-children --stdio --sort symbol --percent-limit 1.5 \
          -g none 2>/dev/null | grep -v '^#' | grep . >"${f%.perf.data}.profile.txt" || true
        perf report -i "$f" --children --stdio --sort symbol --percent-limit 5 \
          -g none 2>/dev/null | grep -v '^#' | grep . >"${f%.perf.data}.children.txt" || true
      done
      echo "  profiles: $results/$mode-$system-*.profile.txt (self), *.children.txt (inclusive)"
    fi
    cp -r "$data/log" "$results/$mode-$system-logs"
    sed -n '/^whistle.*, /,/^  verdict/p' "$results/$mode-$system.txt"
    names="${services[*]}"
    [ "$system" = http ] && names="$names gateway"
    paste -d' ' <(echo "$cpu0" | tr ' ' '\n') <(echo "$cpu1" | tr ' ' '\n') |
      awk -v names="$names" 'BEGIN { split(names, n, " ") }
        { printf "%s%s %.2f s", NR == 1 ? "  CPU during the run: " : ", ", n[NR], $2 - $1 }
        END { print "" }'
    if [ "${BENCH_PERF:-0}" = 1 ]; then
      awk -F, '$1 ~ /whistle-/ && $2 > 0 { sub(/-[0-9]+$/, "", $1); printf "%s%s %s", sep, $1, $2; sep = ", " }
        END { print "" }' "$results/$mode-$system.perf" | sed 's/^/  fdatasync calls: /'
    fi
    # anything but info in the service logs is worth a look
    if grep -hv ' info ' "$data"/log/*.log | grep -q .; then
      echo "   log lines that are not info:"
      grep -Hv ' info ' "$data"/log/*.log | head -5 | sed 's/^/     /'
    fi
    ;;
  baseline)
    echo "== $mode: baseline"
    "$bench" --baseline --data "$root/$mode-baseline" "${load[@]}" "${common[@]}" \
      >"$results/$mode-baseline.txt" 2>"$results/$mode-baseline.progress" ||
      echo "   (whistle-bench reported a problem; see below)"
    sed -n '/^baseline hops:/,/^  verdict/p' "$results/$mode-baseline.txt"
    ;;
  alertmanager)
    echo "== $mode: alertmanager"
    data=$root/$mode-alertmanager
    start_alertmanager "$data"
    cpu0=$(cpu_of "${pids[@]}")
    "$bench" --alertmanager "http://127.0.0.1:$am_port" --receiver-port "$receiver_port" \
      "${load[@]}" "${common[@]}" >"$results/$mode-alertmanager.txt" \
      2>"$results/$mode-alertmanager.progress" || echo "   (whistle-bench reported a problem; see below)"
    cpu1=$(cpu_of "${pids[@]}")
    stop_services
    cp -r "$data/log" "$results/$mode-alertmanager-logs"
    sed -n '/^alertmanager, /,/^  verdict/p' "$results/$mode-alertmanager.txt"
    echo "  CPU during the run: alertmanager $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }') s"
    ;;
  *) echo "bench/run.sh: unknown system '$system' (whistle http baseline alertmanager)" >&2; exit 2 ;;
  esac
  echo
  done
done

grep -h '^RESULT' "$results"/*.txt >"$results/results.txt" || true
{
  echo "end to end: accepted -> dispatch first seen by the department (cases/s; latency ms);"
  echo "ratio: throughput of each system / whistle's over ZeroMQ in the same mode"
  awk '
    function v(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    /^RESULT/ { m = v("mode"); s = v("system"); seen[m, s] = 1
                tp[m, s] = v("e2e_tput"); p50[m, s] = v("e2e_p50"); p99[m, s] = v("e2e_p99")
                atp[m, s] = v("ack_tput"); a50[m, s] = v("ack_p50"); a99[m, s] = v("ack_p99")
                ok[m, s] = v("ok"); acc[m, s] = v("accepted"); n[m, s] = v("n")
                rec[m, s] = v("recovered_cases"); miss[m, s] = v("missing") }
    END {
      printf "%-11s %-13s | %9s %8s %8s | %9s %8s %8s | %7s | %s\n", "mode", "system",
             "e2e/s", "p50", "p99", "ack/s", "p50", "p99", "ratio", "verdict"
      km = split("paced saturating", modes, " ")
      ks = split("whistle whistle-http baseline alertmanager", syss, " ")
      for (i = 1; i <= km; i++) for (j = 1; j <= ks; j++) {
        m = modes[i]; s = syss[j]; if (!((m, s) in seen)) continue
        w = tp[m, "whistle"]; ratio = (w > 0) ? sprintf("x%.2f", tp[m, s] / w) : "-"
        printf "%-11s %-13s | %9s %8s %8s | %9s %8s %8s | %7s | %s/%s accepted, %s recovered by replay, %s missing, %s\n",
               m, s, tp[m, s], p50[m, s], p99[m, s], atp[m, s], a50[m, s], a99[m, s], ratio,
               acc[m, s], n[m, s], rec[m, s], miss[m, s], ok[m, s] == 1 ? "ok" : "INCOMPLETE"
      }
    }' "$results/results.txt"
} | tee "$results/table.txt"
echo
echo "reports: $results/"
