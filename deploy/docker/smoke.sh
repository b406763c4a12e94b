#!/usr/bin/env bash
# Smoke test of the docker-compose stack, for operators and CI: builds the image, starts the
# four services (CurveZMQ keys on, created at first start) as a compose project of its own on
# ports of its own, so it runs beside a stack you already have; waits until all are healthy,
# checks that a client without a key gets no answer, reports a problem through intake with the
# operator key, waits until tracking shows the case DISPATCHED, checks that `whistlectl ping`
# in every container reaches all four services and that `list` in notification's shows the
# case, then asks the HTTP gateway from the host (/readyz; a bearer key added to its
# api-keys.txt; the case on /v1/cases/ID; /metrics with all four services up), then removes
# its stack and its volumes.
#
#   deploy/docker/smoke.sh                              compose v1 (Debian's docker-compose)
#   COMPOSE="docker compose" deploy/docker/smoke.sh     compose v2
#
# Environment: COMPOSE (default docker-compose); SMOKE_PROJECT (compose project name, default
# whistle-smoke); SMOKE_PORT_BASE (default 17100: ports BASE+0/1 intake, +10/11 routing, +20/21
# tracking, +30/31 notification, +40 the gateway's HTTP, on 127.0.0.1;
# WHISTLE_<SERVICE>_API_PORT / _EVENTS_PORT and WHISTLE_GATEWAY_PORT set one); WHISTLE_IMAGE (default whistle:smoke, so the image of a stack you run is never
# retagged); SMOKE_HEALTH_S (default 120), SMOKE_CASE_S (default 30), SMOKE_KEEP=1 to leave the
# stack up for inspection.
# Before anything, it refuses (exit 2, saying what is in the way and which variable to set,
# touching nothing) when its project already has containers or one of its ports is taken.
# Exit status 0 when the stack works, 1 otherwise (the reason and the services' logs printed),
# 2 when it refused to start (see above).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
read -r -a compose <<<"${COMPOSE:-docker-compose}"
project=${SMOKE_PROJECT:-whistle-smoke}
base=${SMOKE_PORT_BASE:-17100}
export WHISTLE_IMAGE=${WHISTLE_IMAGE:-whistle:smoke}
health_s=${SMOKE_HEALTH_S:-120}
case_s=${SMOKE_CASE_S:-30}
services=(intake routing tracking notification)
containers=("${services[@]}" gateway)

dc() { "${compose[@]}" -f "$top/docker-compose.yml" -p "$project" "$@"; }
say() { echo "smoke: $*" >&2; }
fail() {
  say "FAIL: $*"
  dc ps >&2 || true
  dc logs --no-color --tail 40 >&2 || true
  exit 1
}
cleanup() {
  local rc=$?
  if [ "${SMOKE_KEEP:-0}" = 1 ]; then
    say "SMOKE_KEEP=1: leaving project $project up (remove it: ${compose[*]} -p $project down -v)"
  else
    dc down -v --remove-orphans >/dev/null 2>&1 || say "warning: '${compose[*]} down -v' failed"
  fi
  exit $rc
}

command -v "${compose[0]}" >/dev/null || { say "FAIL: '${compose[0]}' not found (set COMPOSE)"; exit 1; }
command -v docker >/dev/null || { say "FAIL: the docker CLI is needed to read health states"; exit 1; }
docker info >/dev/null 2>&1 || { say "FAIL: no Docker engine answers ('docker info' fails)"; exit 1; }
command -v curl >/dev/null || { say "FAIL: curl is needed to ask the gateway"; exit 1; }
case $base in '' | *[!0-9]*) say "SMOKE_PORT_BASE must be a port number, not '$base'"; exit 2 ;; esac

# What is in the way, before touching anything: our project, and every port we publish.
in_use=$(docker ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}}')
if [ -n "$in_use" ]; then
  say "refused: compose project '$project' already has containers ($(echo $in_use)):" \
      "another smoke run, or a stack of that name. Set SMOKE_PROJECT to another name" \
      "(or remove that one: ${compose[*]} -p $project down -v). Nothing was touched."
  exit 2
fi
# who listens on 127.0.0.1:$1 (a container, a process, or something), or nothing
s_port_user() {
  local p=$1 who
  who=$(docker ps --filter "publish=$p" --format '{{.Names}}' 2>/dev/null | head -n 1)
  [ -n "$who" ] && { echo "container $who"; return; }
  if command -v ss >/dev/null; then
    who=$(ss -Hltnp "( sport = :$p )" 2>/dev/null |
          sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/process \1 (pid \2)/p' | head -n 1)
    [ -n "$who" ] && { echo "$who"; return; }
    [ -n "$(ss -Hltn "( sport = :$p )" 2>/dev/null)" ] && { echo "a listening socket"; return; }
  elif (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "something that accepts connections"
  fi
  return 0
}
blocked=0
i=0
for s in "${services[@]}"; do
  for kind in API EVENTS; do
    var="WHISTLE_${s^^}_${kind}_PORT"
    [ "$kind" = EVENTS ] && off=$((i * 10 + 1)) || off=$((i * 10))
    port=${!var:-$((base + off))}
    export "$var=$port"
    who=$(s_port_user "$port")
    if [ -n "$who" ]; then
      say "refused: port $port on 127.0.0.1 ($s ${kind,,}) is used by $who; set SMOKE_PORT_BASE" \
          "(now $base; BASE..BASE+31 must be free) or $var"
      blocked=1
    fi
  done
  i=$((i + 1))
done
port=${WHISTLE_GATEWAY_PORT:-$((base + 40))}
export WHISTLE_GATEWAY_PORT=$port
who=$(s_port_user "$port")
if [ -n "$who" ]; then
  say "refused: port $port on 127.0.0.1 (gateway http) is used by $who; set SMOKE_PORT_BASE" \
      "(now $base; BASE..BASE+40 must be free) or WHISTLE_GATEWAY_PORT"
  blocked=1
fi
[ "$blocked" = 0 ] || { say "nothing was touched"; exit 2; }
gw=http://127.0.0.1:$WHISTLE_GATEWAY_PORT

trap cleanup EXIT
trap 'exit 1' INT TERM

say "building the image $WHISTLE_IMAGE with: ${compose[*]} build intake"
dc build intake >&2 || fail "image build failed"
say "starting project $project on 127.0.0.1 ports $WHISTLE_INTAKE_API_PORT.." \
    "$WHISTLE_NOTIFICATION_EVENTS_PORT"
dc up -d --no-build >&2 || fail "'up -d' failed"

say "waiting up to ${health_s}s for ${containers[*]} to be healthy"
deadline=$((SECONDS + health_s))
while :; do
  waiting=()
  for s in "${containers[@]}"; do
    id=$(dc ps -q "$s" 2>/dev/null || true)
    st=$( [ -n "$id" ] && docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo missing)
    [ "$st" = healthy ] || waiting+=("$s:$st")
  done
  [ ${#waiting[@]} -eq 0 ] && break
  [ $SECONDS -lt $deadline ] || fail "not healthy within ${health_s}s: ${waiting[*]}"
  sleep 2
done
say "all four and the gateway healthy"

# keys on: the same whistlectl without its key is refused (no answer: exit 3)
set +e
dc exec -T -e WHISTLE_KEY= -e WHISTLE_SERVER_KEY= intake \
  whistlectl --timeout 1000 ping intake >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || fail "a client without a key was answered (exit $rc, want 3): are keys on?"
say "keys on: a client without a key gets no answer"

out=$(dc exec -T intake whistlectl report --grid g001 --matter m01 --description "smoke test" \
      --reporter r1 2>&1) || fail "whistlectl report in intake failed: $out"
case_id=$(printf '%s\n' "$out" | tail -n 1 | awk '{print $1}')
[ -n "$case_id" ] || fail "whistlectl report printed no case id: $out"
say "reported case $case_id; waiting up to ${case_s}s for tracking to show it DISPATCHED"

deadline=$((SECONDS + case_s))
while :; do
  shown=$(dc exec -T tracking whistlectl show "$case_id" 2>&1) && state=$(printf '%s\n' "$shown" | awk 'NR==1 && $1=="case" {print $3}') || state=
  [ "$state" = DISPATCHED ] && break
  [ $SECONDS -lt $deadline ] || fail "case $case_id not DISPATCHED in tracking within ${case_s}s (state '${state:-none}'): $shown"
  sleep 1
done
printf '%s\n' "$shown" | sed -n 1p >&2

# every container is told every service's endpoint: ping (all four) answers from each
for s in "${services[@]}"; do
  out=$(dc exec -T "$s" whistlectl ping 2>&1) ||
    fail "'whistlectl ping' in $s does not reach every service: $out"
done
say "whistlectl ping in each of ${services[*]} reaches all four"
out=$(dc exec -T notification whistlectl list 2>&1) || fail "'whistlectl list' in notification failed: $out"
printf '%s\n' "$out" | grep -q "^$case_id " || fail "'whistlectl list' in notification does not show $case_id: $out"

# the gateway from the host: open health, then a bearer key added as README.md says
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$gw/readyz") || code=none
[ "$code" = 200 ] || fail "GET $gw/readyz answered $code"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$gw/metrics") || code=none
[ "$code" = 401 ] || fail "GET $gw/metrics without a key answered $code (want 401)"
key=smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
echo "$key operator smoke" |
  dc exec -T gateway sh -c 'cat >> /var/lib/whistle-keys/api-keys.txt' || fail "adding an API key"
deadline=$((SECONDS + 20))
until body=$(curl -sS --max-time 10 -H "Authorization: Bearer $key" "$gw/v1/cases/$case_id") &&
      printf '%s\n' "$body" | grep -q '"state":"DISPATCHED"'; do
  [ $SECONDS -lt $deadline ] || fail "GET $gw/v1/cases/$case_id with the key added: $body"
  sleep 1
done
metrics=$(curl -sS --max-time 10 -H "Authorization: Bearer $key" "$gw/metrics") ||
  fail "GET $gw/metrics with the key failed"
for s in "${services[@]}"; do
  grep -q "^whistle_gateway_backend_up{service=\"gateway\",backend=\"$s\"} 1\$" <<<"$metrics" ||
    fail "$gw/metrics: $s is not up: $(grep backend_up <<<"$metrics")"
done
say "the gateway on $gw: readyz, a key added to api-keys.txt, $case_id over HTTP, /metrics"
say "PASS: case $case_id went intake -> routing -> tracking and is DISPATCHED"
