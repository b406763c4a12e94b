#!/usr/bin/env bash
# Builds whistle (Release) and benchmarks it against the bare baseline of the machine.
#
#   bench/run.sh                 both modes: paced 10,000/s for 10 s, then saturating 50,000
#   BENCH_MODES=paced bench/run.sh      one mode only (paced | saturating)
#
# For each mode: starts the four services on loopback with a fresh data folder and the default
# catalog, runs whistle-bench against them, stops them (SIGTERM), then runs the baseline (four
# bare hops of ZeroMQ receive -> durable LMDB commit -> send) with the same load. Prints one
# table; the full reports and service logs are kept under bench/results/<date>/.
#
# Knobs (environment): BENCH_RATE (10000), BENCH_SECONDS (10), BENCH_COUNT (50000, saturating),
# BENCH_CLIENTS (4), BENCH_WINDOW (64), BENCH_TMP (parent of the data folder, default $TMPDIR
# or /tmp), BENCH_SERVICE_ARGS (extra flags for the four services, e.g. "--heartbeat-ms 10"),
# BENCH_KEEP=1 (keep the data folder), BENCH_PERF=1 (count each service's fdatasync calls,
# i.e. durable commits, with perf), BENCH_PORT_BASE (27100: the services listen on base+0/1,
# +10/11, +20/21, +30/31, so a whistle on the default ports 7100.. is left alone).
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

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWHISTLE_WERROR=ON -DBUILD_TESTING=OFF \
  >/dev/null
cmake --build "$build" -j"$(nproc)" --target whistle-bench whistlectl \
  whistle-intake whistle-routing whistle-tracking whistle-notification >/dev/null
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

for mode in $modes; do
  case $mode in
  paced) load=(--rate "$rate" --duration "$seconds") ;;
  saturating) load=(--rate 0 --count "$count") ;;
  *) echo "bench/run.sh: unknown mode '$mode' (paced | saturating)" >&2; exit 2 ;;
  esac
  common=(--clients "$clients" --window "$window" --catalog "$catalog" --label "$mode")

  echo "== $mode: whistle"
  data=$root/$mode-whistle
  start_services "$data"
  cpu0=$(cpu_of "${pids[@]}")
  if [ "${BENCH_PERF:-0}" = 1 ]; then
    perf stat -e syscalls:sys_enter_fdatasync --per-thread -x, -o "$results/$mode-whistle.perf" \
      -p "$(IFS=,; echo "${pids[*]}")" &
    perf_pid=$!
  fi
  "$bench" "${load[@]}" "${common[@]}" >"$results/$mode-whistle.txt" \
    2>"$results/$mode-whistle.progress" || echo "   (whistle-bench reported a problem; see below)"
  cpu1=$(cpu_of "${pids[@]}")
  if [ "${BENCH_PERF:-0}" = 1 ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  stop_services
  cp -r "$data/log" "$results/$mode-whistle-logs"
  sed -n '/^whistle, /,/^  verdict/p' "$results/$mode-whistle.txt"
  paste -d' ' <(echo "$cpu0" | tr ' ' '\n') <(echo "$cpu1" | tr ' ' '\n') |
    awk -v names="${services[*]}" 'BEGIN { split(names, n, " ") }
      { printf "%s%s %.2f s", NR == 1 ? "  CPU during the run: " : ", ", n[NR], $2 - $1 }
      END { print "" }'
  if [ "${BENCH_PERF:-0}" = 1 ]; then
    awk -F, '$1 ~ /whistle-/ && $2 > 0 { sub(/-[0-9]+$/, "", $1); printf "%s%s %s", sep, $1, $2; sep = ", " }
      END { print "" }' "$results/$mode-whistle.perf" | sed 's/^/  fdatasync calls: /'
  fi
  # anything but info in the service logs is worth a look
  if grep -hv ' info ' "$data"/log/*.log | grep -q .; then
    echo "   service log lines that are not info:"
    grep -Hv ' info ' "$data"/log/*.log | head -5 | sed 's/^/     /'
  fi

  echo "== $mode: baseline"
  "$bench" --baseline --data "$root/$mode-baseline" "${load[@]}" "${common[@]}" \
    >"$results/$mode-baseline.txt" 2>"$results/$mode-baseline.progress" ||
    echo "   (whistle-bench reported a problem; see below)"
  sed -n '/^baseline hops:/,/^  verdict/p' "$results/$mode-baseline.txt"
  echo
done

grep -h '^RESULT' "$results"/*.txt >"$results/results.txt" || true
{
  echo "end to end: accepted -> dispatch first seen on a dept topic (cases/s; latency ms)"
  awk '
    function v(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    /^RESULT/ { m = v("mode"); s = v("system"); seen[m] = 1
                tp[m, s] = v("e2e_tput"); p50[m, s] = v("e2e_p50"); p99[m, s] = v("e2e_p99")
                atp[m, s] = v("ack_tput"); a50[m, s] = v("ack_p50"); a99[m, s] = v("ack_p99")
                ok[m, s] = v("ok"); acc[m, s] = v("accepted"); n[m, s] = v("n")
                rec[m, s] = v("recovered_cases"); miss[m, s] = v("missing") }
    function row(m, T, P50, P99,   w, b, ratio) {
      w = T[m, "whistle"]; b = T[m, "baseline"]; ratio = "-"
      if (b > 0 && w != "" && P50[m, "baseline"] > 0 && P99[m, "baseline"] > 0)
        ratio = sprintf("x%.3f tput, x%.1f p50, x%.1f p99", w / b,
                        P50[m, "whistle"] / P50[m, "baseline"], P99[m, "whistle"] / P99[m, "baseline"])
      printf "%-11s | %9s %8s %8s | %9s %8s %8s | %s\n", m, w, P50[m, "whistle"],
             P99[m, "whistle"], b, P50[m, "baseline"], P99[m, "baseline"], ratio
    }
    function table(T, P50, P99,   i, k, order) {
      printf "%-11s | %9s %8s %8s | %9s %8s %8s | %s\n", "mode", "whistle/s", "p50", "p99",
             "base/s", "p50", "p99", "whistle/baseline"
      k = split("paced saturating", order, " ")
      for (i = 1; i <= k; i++) if (order[i] in seen) row(order[i], T, P50, P99) }
    END {
      table(tp, p50, p99)
      print ""
      print "ack: SubmitReport -> reply after intake'"'"'s commit (baseline: after hop 1'"'"'s commit)"
      table(atp, a50, a99)
      print ""
      k = split("paced saturating", order, " ")
      for (i = 1; i <= k; i++) { m = order[i]; if (!(m in seen)) continue
        st = ok[m, "whistle"] == 1 ? "ok" : "INCOMPLETE"
        sb = ok[m, "baseline"] == 1 ? "ok" : "INCOMPLETE"
        printf "%-11s whistle: %s/%s accepted, %s case(s) recovered by replay, %s missing, %s;",
               m, acc[m, "whistle"], n[m, "whistle"], rec[m, "whistle"], miss[m, "whistle"], st
        printf " baseline: %s/%s accepted, %s\n", acc[m, "baseline"], n[m, "baseline"], sb
      }
    }' "$results/results.txt"
} | tee "$results/table.txt"
echo
echo "reports: $results/"
