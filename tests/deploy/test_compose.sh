#!/usr/bin/env bash
# The compose stack on a real Docker engine (issue 9, "the compose stack from the host"), one
# stack for every check:
#   1. `whistlectl` in each container, with no flag, reaches all four services: `ping` answers
#      for each, `list` shows a case reported through intake, `tail` reads notification;
#      the gateway from the host: /readyz 200, the dashboard at / with its files, the API and /metrics refused without a key and
#      answered with one added to api-keys.txt in the keys volume (as README.md says), a case
#      POSTed through Open311 and read back on /v1/cases, /metrics with every service up;
#   2. deploy/docker/smoke.sh beside that stack: on its ports, or under its project name, it
#      refuses (exit 2) naming what is in the way and the variable to set, and the stack is
#      untouched; on ports and a project of its own it passes;
#   3. restart: unless-stopped as README.md says: a container stopped by `docker kill` stays
#      down until `up -d`; a service killed with SIGKILL from the host is restarted by Docker
#      and is healthy again.
# Exits 77 (ctest: skipped) when docker-compose is missing or no Docker engine answers
# (.ci/run starts one with shared/tools/docker-offline.sh where it can). About 3 minutes once
# the image's layers are cached (the first build compiles whistle in the image: a few more).
#
# Environment: COMPOSE_TEST_PORT_BASE (the stack's ports BASE+0..31 and the gateway's BASE+40,
# the smoke run's BASE+100..140; by default the first of 27100, 27300, .. with all of them
# free), COMPOSE_TEST_KEEP=1 leaves the stack up. Stacks left by runs that were killed
# outright are taken down first.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
base=${COMPOSE_TEST_PORT_BASE:-27100}
project=whistle-ctest-$$
services=(intake routing tracking notification)
# every container of the stack: the four and the HTTP gateway
containers=("${services[@]}" gateway)

say() { echo "test_compose: $*" >&2; }
skip() { say "SKIP: $*"; exit 77; }
command -v docker-compose >/dev/null || skip "docker-compose not found"
command -v docker >/dev/null || skip "the docker CLI not found"
docker info >/dev/null 2>&1 || skip "no Docker engine answers ('docker info')"
command -v curl >/dev/null || skip "curl not found (it asks the gateway from the host)"

export WHISTLE_IMAGE=whistle:ctest
dc() { docker-compose -f "$top/docker-compose.yml" -p "$project" "$@"; }

# A run killed outright (SIGKILL, a machine stopped mid-test) leaves its stack behind, and
# `restart: unless-stopped` brings it back with every later start of the engine, holding its
# ports: seen in CI as "Bind for 127.0.0.1:27101 failed: port is already allocated". Stacks
# of this test whose process is gone are taken down first; then the ports are chosen free.
for p in $(docker ps -a --format '{{.Label "com.docker.compose.project"}}' | sort -u); do
  [[ $p =~ ^whistle-ctest-([0-9]+)(-smoke)?$ ]] || continue
  kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && continue
  say "taking down $p, left by a test run that is gone"
  docker-compose -f "$top/docker-compose.yml" -p "$p" down -v --remove-orphans >/dev/null 2>&1 ||
    say "warning: could not take down $p"
done
# a port is in use when something listens on it or a container publishes it
published=" $(docker ps --format '{{.Ports}}' | { grep -o '127\.0\.0\.1:[0-9]*' || true; } |
             cut -d: -f2 | tr '\n' ' ')"
port_free() {
  [[ $published != *" $1 "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
# every port of a base: the stack's BASE+0..40, the smoke run's BASE+100..140
base_free() {
  local p
  for p in $(seq "$1" $(($1 + 40))) $(seq $(($1 + 100)) $(($1 + 140))); do
    port_free "$p" || return 1
  done
}
if [ -z "${COMPOSE_TEST_PORT_BASE:-}" ]; then
  while ! base_free "$base"; do
    base=$((base + 200))
    [ "$base" -lt 30000 ] || { say "FAIL: no free ports for the stack in 27100..29999"; exit 1; }
  done
elif ! base_free "$base"; then
  say "FAIL: COMPOSE_TEST_PORT_BASE=$base: a port of $base..$((base + 40)) or" \
      "$((base + 100))..$((base + 140)) is in use"
  exit 1
fi
i=0
for s in "${services[@]}"; do
  export "WHISTLE_${s^^}_API_PORT=$((base + i * 10))" "WHISTLE_${s^^}_EVENTS_PORT=$((base + i * 10 + 1))"
  i=$((i + 1))
done
export WHISTLE_GATEWAY_PORT=$((base + 40))
gw=http://127.0.0.1:$WHISTLE_GATEWAY_PORT
fail() {
  say "FAIL: $*"
  dc ps >&2 || true
  dc logs --no-color --tail 20 >&2 || true
  exit 1
}
cleanup() {
  local rc=$?
  if [ "${COMPOSE_TEST_KEEP:-0}" = 1 ]; then
    say "leaving project $project up (docker-compose -p $project down -v)"
  else
    dc down -v --remove-orphans >/dev/null 2>&1 || say "warning: down -v of $project failed"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cid() { dc ps -q "$1"; }
state() { docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} {{.RestartCount}}' "$1"; }
# waits up to $1 seconds until every service is running and healthy
wait_healthy() {
  local deadline=$((SECONDS + $1)) waiting s id st
  while :; do
    waiting=()
    for s in "${containers[@]}"; do
      id=$(cid "$s" 2>/dev/null || true)
      st=$([ -n "$id" ] && state "$id" 2>/dev/null || echo missing)
      case $st in "running healthy "*) ;; *) waiting+=("$s:${st// /,}") ;; esac
    done
    [ ${#waiting[@]} -eq 0 ] && return 0
    [ $SECONDS -lt $deadline ] || fail "not healthy within $1 s: ${waiting[*]}"
    sleep 1
  done
}
ids() { for s in "${containers[@]}"; do cid "$s"; done | tr '\n' ' '; }
# smoke.sh as an operator runs it: without this stack's port variables, and with an image tag
# of its own: its build must not retag the stack's image (a tree that changed since would
# give a new one, and `up -d` below would then recreate the stack's containers)
smoke() {
  env $(for s in "${services[@]}"; do echo "-u WHISTLE_${s^^}_API_PORT -u WHISTLE_${s^^}_EVENTS_PORT"; done) \
    -u WHISTLE_GATEWAY_PORT WHISTLE_IMAGE=whistle:ctest-smoke "$@" "$top/deploy/docker/smoke.sh"
}
# one HTTP request to the gateway: prints the body, then the status on a line of its own
http() { curl -sS --max-time 10 -w '\n%{http_code}\n' "$@"; }
status_of() { printf '%s\n' "$1" | tail -n 1; }

t0=$SECONDS
say "building $WHISTLE_IMAGE (docker-compose build intake: one image for the four)"
log=$(mktemp)
dc build --force-rm intake >"$log" 2>&1 || { tail -n 30 "$log" >&2; rm -f "$log"; fail "the image does not build"; }
rm -f "$log"
say "built in $((SECONDS - t0)) s; starting project $project on 127.0.0.1:$base.."
dc up -d --no-build >/dev/null 2>&1 || fail "up -d failed"
wait_healthy 180
say "healthy after $((SECONDS - t0)) s"

# ---- 1. whistlectl in every container reaches every service --------------------------------
out=$(dc exec -T intake whistlectl report --grid g001 --matter m01 --description "compose test" \
      --reporter r1 2>&1) || fail "report in intake: $out"
case_id=$(printf '%s\n' "$out" | tail -n 1 | awk '{print $1}')
for s in "${services[@]}"; do
  out=$(dc exec -T "$s" whistlectl ping 2>&1) || fail "'whistlectl ping' in $s: $out"
  for t in "${services[@]}"; do
    printf '%s\n' "$out" | grep -Eq "^$t +up +tcp://$t:" || fail "'whistlectl ping' in $s: $t not up: $out"
  done
  deadline=$((SECONDS + 30))
  until out=$(dc exec -T "$s" whistlectl list 2>&1) && printf '%s\n' "$out" | grep -q "^$case_id .*DISPATCHED"; do
    [ $SECONDS -lt $deadline ] || fail "'whistlectl list' in $s does not show $case_id DISPATCHED: $out"
    sleep 1
  done
  out=$(dc exec -T "$s" whistlectl tail "case/$case_id/" --count 1 2>&1) ||
    fail "'whistlectl tail case/$case_id/' in $s: $out"
  printf '%s\n' "$out" | grep -q "$case_id" || fail "'whistlectl tail' in $s: $out"
done
say "1: ping, list and tail in each of ${services[*]} reach all four ($case_id)"

# ---- 1. the gateway from the host ------------------------------------------------------------
out=$(http "$gw/readyz") || fail "GET $gw/readyz: $out"
[ "$(status_of "$out")" = 200 ] || fail "GET /readyz from the host: $out"
# the command centre (issue 12) from the image: the page, its script and the vendored chart
out=$(http "$gw/")
[ "$(status_of "$out")" = 200 ] && printf '%s\n' "$out" | grep -q '<title>乡街吹哨 · 指挥中心</title>' ||
  fail "GET / from the host is not the dashboard: $(printf '%s\n' "$out" | head -c 300)"
for f in /web/app.js /web/style.css /web/vendor/uPlot-1.6.32.iife.min.js; do
  out=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{size_download}' "$gw$f")
  [ "${out%% *}" = 200 ] && [ "${out#* }" -gt 100 ] || fail "GET $f from the host: $out"
done
out=$(http "$gw/metrics")
[ "$(status_of "$out")" = 401 ] || fail "GET /metrics without a key answered: $out"
# keys as README.md says to add them: a line each in api-keys.txt, re-read by the gateway
ops_key=ops-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
app_key=app-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s operator ops\n%s integrator app\n' "$ops_key" "$app_key" |
  dc exec -T gateway sh -c 'cat >> /var/lib/whistle-keys/api-keys.txt' || fail "adding API keys"
auth=(-H "Authorization: Bearer $ops_key")
deadline=$((SECONDS + 20))
until out=$(http "${auth[@]}" "$gw/v1/cases/$case_id") && [ "$(status_of "$out")" = 200 ]; do
  [ $SECONDS -lt $deadline ] || fail "GET /v1/cases/$case_id with a key added to api-keys.txt: $out"
  sleep 1
done
printf '%s\n' "$out" | grep -q "\"$case_id\"" || fail "GET /v1/cases/$case_id: $out"
# a case through the gateway: Open311's POST requests.json, the integrator's api_key
out=$(http --data-urlencode "api_key=$app_key" --data-urlencode service_code=m01 \
      --data-urlencode "attribute[grid]=g001" --data-urlencode "address_string=compose test" \
      --data-urlencode "description=reported through the gateway" "$gw/requests.json")
[ "$(status_of "$out")" = 200 ] || fail "POST /requests.json through the gateway: $out"
gw_case=$(printf '%s\n' "$out" | sed -n 's/.*"service_request_id" *: *"\([^"]*\)".*/\1/p')
[ -n "$gw_case" ] || fail "POST /requests.json answered no service_request_id: $out"
deadline=$((SECONDS + 30))
until out=$(http "${auth[@]}" "$gw/v1/cases?state=DISPATCHED") &&
      printf '%s\n' "$out" | grep -q "\"$gw_case\""; do
  [ $SECONDS -lt $deadline ] || fail "$gw_case (POSTed through the gateway) not DISPATCHED: $out"
  sleep 1
done
out=$(curl -sS --max-time 10 -D - -o /tmp/whistle-ctest-metrics.$$ "${auth[@]}" "$gw/metrics") ||
  fail "GET /metrics: $out"
metrics=$(cat /tmp/whistle-ctest-metrics.$$)
rm -f /tmp/whistle-ctest-metrics.$$
printf '%s\n' "$out" | grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' ||
  fail "GET /metrics: not the Prometheus text format 0.0.4: $out"
for s in "${services[@]}"; do
  grep -q "^whistle_gateway_backend_up{service=\"gateway\",backend=\"$s\"} 1\$" <<<"$metrics" ||
    fail "/metrics: $s not up: $(grep backend_up <<<"$metrics")"
  grep -q "^whistle_uptime_seconds{service=\"$s\"}" <<<"$metrics" || fail "/metrics: no $s series"
done
if command -v promtool >/dev/null; then
  out=$(promtool check metrics <<<"$metrics" 2>&1) || fail "promtool check metrics: $out"
fi
say "1: the gateway on $gw: readyz, the dashboard at /, keys added live, $gw_case POSTed (Open311), /metrics"

# ---- 2. smoke.sh beside the running stack ---------------------------------------------------
before=$(ids)
set +e
out=$(smoke SMOKE_PORT_BASE=$base 2>&1)
rc=$?
set -e
[ $rc = 2 ] || fail "smoke.sh on the stack's ports exited $rc (want 2): $out"
printf '%s\n' "$out" | grep -q "port $base on 127.0.0.1 (intake api) is used by container ${project}_intake_1; set SMOKE_PORT_BASE" ||
  fail "smoke.sh on the stack's ports does not say what is in the way: $out"
set +e
out=$(smoke SMOKE_PROJECT=$project SMOKE_PORT_BASE=$((base + 100)) 2>&1)
rc=$?
set -e
[ $rc = 2 ] || fail "smoke.sh under the stack's project name exited $rc (want 2): $out"
printf '%s\n' "$out" | grep -q "compose project '$project' already has containers.*Set SMOKE_PROJECT" ||
  fail "smoke.sh under the stack's project name does not say so: $out"
[ "$(ids)" = "$before" ] || fail "a refused smoke.sh changed the stack's containers"
wait_healthy 5
say "2: smoke.sh refuses on the stack's ports and project, naming them; the stack is untouched"
out=$(smoke SMOKE_PROJECT=$project-smoke SMOKE_PORT_BASE=$((base + 100)) 2>&1) ||
  fail "smoke.sh beside the stack, on its own ports and project, failed: $out"
printf '%s\n' "$out" | grep -q "smoke: PASS" || fail "smoke.sh printed no PASS: $out"
[ "$(ids)" = "$before" ] || fail "smoke.sh beside the stack changed the stack's containers"
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$project-smoke")" ] ||
  fail "smoke.sh left containers of $project-smoke"
wait_healthy 30
dc exec -T tracking whistlectl show "$case_id" >/dev/null || fail "$case_id gone after smoke.sh"
say "2: smoke.sh beside the stack passes and leaves the stack as it was"

# ---- 3. restart: unless-stopped ------------------------------------------------------------
routing=$(cid routing)
docker kill -s KILL "$routing" >/dev/null
# Docker restarts within a second what it means to restart; watch for 10 s that it does not
deadline=$((SECONDS + 10))
while [ $SECONDS -lt $deadline ]; do
  st=$(state "$routing")
  case $st in exited*" 0") ;; *) fail "routing after docker kill: '$st' (want exited, 0 restarts)" ;; esac
  sleep 1
done
dc up -d --no-build >/dev/null 2>&1 || fail "up -d after docker kill failed"
[ "$(cid routing)" = "$routing" ] || fail "up -d made a new routing container"
wait_healthy 120
say "3: docker kill: routing stayed down 10 s, 'up -d' brought it back healthy"

tracking=$(cid tracking)
init=$(docker inspect -f '{{.State.Pid}}' "$tracking")
pid=$(cat "/proc/$init/task/$init/children" 2>/dev/null | awk '{print $1}')
[ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q '^whistle-tracking ' ||
  fail "no whistle-tracking process under the container's init (pid $init)"
restarts=$(docker inspect -f '{{.RestartCount}}' "$tracking")
kill -KILL "$pid"
deadline=$((SECONDS + 60))
until [ "$(docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$tracking")" = "running $((restarts + 1))" ]; do
  [ $SECONDS -lt $deadline ] || fail "tracking not restarted after kill -9 of its process: $(state "$tracking")"
  sleep 1
done
wait_healthy 120
out=$(dc exec -T intake whistlectl show "$case_id" 2>&1) || fail "show after the restart: $out"
say "3: kill -9 of whistle-tracking: Docker restarted it, healthy again, $case_id kept"
say "PASS in $((SECONDS - t0)) s"
