#!/usr/bin/env bash
# A million cases (issue 13, point 4): loads N cases (default 1,000,000) into a fresh whistle
# through intake, saturating, then measures what a district that has run for years lives with:
#
#   memory     each service's RSS, split as the kernel counts it: RssAnon (heap and stacks:
#              what the service itself holds) and RssFile (pages of LMDB's memory-mapped file
#              the kernel keeps in memory: shared, reclaimable, not the service's to bound)
#   disk       each service's data folder, and per case
#   restart    kill -9 of each service in turn, then the time from starting it again to its
#              answering Ping (whistlectl ping, polled every 10 ms)
#   reads      GetCase of random ids and pages of ListCases, one at a time (bench/whistle-query),
#              p50/p99/max; Figures of this year and this month, timed once each
#
#   bench/million.sh                      # 1,000,000 cases; ~5 min on 2 vCPUs, ~10 GB of disk
#   BENCH_CASES=100000 bench/million.sh   # a quicker look
#
# Knobs: BENCH_CASES, BENCH_TMP (parent of the data folder), BENCH_KEEP=1 (keep it),
# BENCH_PORT_BASE (27200). Results under bench/results/<date>-million/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$top/build-bench}
catalog=$top/deploy/catalog/default.json
cases=${BENCH_CASES:-1000000}
services=(intake routing tracking notification)
port_base=${BENCH_PORT_BASE:-27200}
case "${1:-}" in -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
for i in 0 1 2 3; do
  S=${services[$i]^^}
  export "WHISTLE_${S}_API=tcp://127.0.0.1:$((port_base + 10 * i))"
  export "WHISTLE_${S}_EVENTS=tcp://127.0.0.1:$((port_base + 10 * i + 1))"
  for p in $((port_base + 10 * i)) $((port_base + 10 * i + 1)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "bench/million.sh: port $p is in use (set BENCH_PORT_BASE to move)" >&2
      exit 1
    fi
  done
done

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWHISTLE_WERROR=ON -DBUILD_TESTING=OFF \
  >/dev/null
cmake --build "$build" -j"$(nproc)" --target whistle-bench whistle-query whistlectl \
  whistle-intake whistle-routing whistle-tracking whistle-notification >/dev/null
ctl=$build/tools/whistlectl/whistlectl

root=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/whistle-million.XXXXXX")
results=$top/bench/results/$(date +%Y%m%d-%H%M%S)-million
mkdir -p "$results" "$root/log"
# everything printed from here on is kept in the summary too (no pipeline: the services are
# this shell's children, to kill and wait for)
exec > >(tee -a "$results/summary.txt") 2>&1
declare -A pid
cleanup() {
  for s in "${services[@]}"; do [ -n "${pid[$s]:-}" ] && kill -TERM "${pid[$s]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "data kept in $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT

start() { # $1: service
  local i
  for i in 0 1 2 3; do [ "${services[$i]}" = "$1" ] && break; done
  "$build/services/whistle-$1" --data "$root/$1" --catalog "$catalog" \
    --api "tcp://127.0.0.1:$((port_base + 10 * i))" \
    --events "tcp://127.0.0.1:$((port_base + 10 * i + 1))" >>"$root/log/$1.log" 2>&1 &
  pid[$1]=$!
}
# seconds from now until $1 answers Ping
until_ping() {
  local t0
  t0=$(date +%s%N)
  until "$ctl" --timeout 100 ping --alive "$1" >/dev/null 2>&1; do sleep 0.01; done
  awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

echo "machine: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(free -h | awk '/^Mem:/ {print $2}') RAM, kernel $(uname -r)"
echo "data folder: $root ($(df -hT "$root" | awk 'NR==2 {print $1", "$2", "$5" free"}'))"
echo "commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" \
  diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo "cases: $cases"

for s in "${services[@]}"; do start "$s"; done
for s in "${services[@]}"; do until_ping "$s" >/dev/null; done

t0=$SECONDS
"$build/bench/whistle-bench" --rate 0 --count "$cases" --clients 4 --window 64 \
  --catalog "$catalog" --label million >"$results/load.txt" 2>"$results/load.progress" ||
  echo "   (whistle-bench reported a problem; see $results/load.txt)"
echo "loaded in $((SECONDS - t0)) s: $(grep -E '^  (end to end|verdict)' "$results/load.txt" | tr -s ' ' | tr '\n' ';')"

mem() {
  for s in "${services[@]}"; do
    awk -v s="$s" '/^(VmRSS|RssAnon|RssFile|VmHWM):/ { v[$1] = $2 }
      END { printf "  %-13s RSS %7.1f MiB = anon %6.1f + file %7.1f MiB (peak RSS %7.1f MiB)\n", s,
            v["VmRSS:"] / 1024, v["RssAnon:"] / 1024, v["RssFile:"] / 1024, v["VmHWM:"] / 1024 }' \
      "/proc/${pid[$s]}/status"
  done
}
echo "memory after the load:"
mem
echo "disk:"
for s in "${services[@]}"; do
  b=$(du -sb "$root/$s" | cut -f1)
  awk -v s="$s" -v b="$b" -v n="$cases" \
    'BEGIN { printf "  %-13s %8.1f MiB  %6.0f bytes per case\n", s, b / 1048576, b / n }'
done
echo "reads (one client, one request at a time):"
"$build/bench/whistle-query" --tracking-api "$WHISTLE_TRACKING_API" --cases "$cases" \
  --samples 2000 --period "$(date +%Y)" --period "$(date +%Y-%m)" | sed 's/^/  /'
echo "memory after the reads:"
mem
echo "restart after kill -9, to answering Ping:"
for s in "${services[@]}"; do
  kill -KILL "${pid[$s]}"
  wait "${pid[$s]}" 2>/dev/null || true # reaped here: no "Killed" line
  start "$s"
  printf "  %-13s %s s\n" "$s" "$(until_ping "$s")"
done
echo "memory after the restarts:"
mem
echo "results: $results"
