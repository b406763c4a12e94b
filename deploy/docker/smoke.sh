#!/usr/bin/env bash
# Smoke test of the docker-compose stack, for operators and CI: builds the image, starts the
# four services (CurveZMQ keys on, created at first start), waits until all are healthy,
# checks that a client without a key gets no answer, reports a problem through intake with the
# operator key and waits until tracking shows the case DISPATCHED, then removes the stack and
# its volumes.
#
#   deploy/docker/smoke.sh                              compose v1 (Debian's docker-compose)
#   COMPOSE="docker compose" deploy/docker/smoke.sh     compose v2
#
# Environment: COMPOSE (default docker-compose), SMOKE_PROJECT (compose project name, default
# whistle-smoke: a separate project, so `down -v` never touches the volumes of a stack you run
# as the default project; the published ports must be free though), SMOKE_HEALTH_S (default
# 120), SMOKE_CASE_S (default 30), SMOKE_KEEP=1 to leave the stack up for inspection.
# Exit status 0 when the stack works, 1 otherwise (the reason and the services' logs printed).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
read -r -a compose <<<"${COMPOSE:-docker-compose}"
project=${SMOKE_PROJECT:-whistle-smoke}
health_s=${SMOKE_HEALTH_S:-120}
case_s=${SMOKE_CASE_S:-30}
services=(intake routing tracking notification)

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
trap cleanup EXIT
trap 'exit 1' INT TERM

say "building the image with: ${compose[*]} build"
dc build >&2 || fail "image build failed"
say "starting project $project"
dc up -d >&2 || fail "'up -d' failed (are ports 7100-7131 on 127.0.0.1 already in use?)"

say "waiting up to ${health_s}s for ${services[*]} to be healthy"
deadline=$((SECONDS + health_s))
while :; do
  waiting=()
  for s in "${services[@]}"; do
    id=$(dc ps -q "$s" 2>/dev/null || true)
    st=$( [ -n "$id" ] && docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo missing)
    [ "$st" = healthy ] || waiting+=("$s:$st")
  done
  [ ${#waiting[@]} -eq 0 ] && break
  [ $SECONDS -lt $deadline ] || fail "not healthy within ${health_s}s: ${waiting[*]}"
  sleep 2
done
say "all four healthy"

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
for s in "${services[@]}"; do dc exec -T "$s" whistlectl ping "$s" >&2 || true; done
say "PASS: case $case_id went intake -> routing -> tracking and is DISPATCHED"
