#!/usr/bin/env bash
# Makes a district's CurveZMQ keys for deploy/swarm/stack.yml, once, on a Swarm manager, and
# stores them in the swarm: the service keys never touch a node's disk outside the swarm's
# encrypted store (they reach a container as a file in /run/secrets, in memory).
#
#   deploy/swarm/make-keys.sh DISTRICT [OUT]
#
# Creates, with whistlectl keygen run in the image (WHISTLE_IMAGE, default whistle:local):
#   secrets  DISTRICT_server.key          the services' server key pair (--keys)
#            DISTRICT_<name>.key          intake, routing, tracking, notification, gateway
#                                         (to follow upstreams; the gateway's to call them)
#            DISTRICT_operator.key        whistlectl's key inside the containers (healthchecks,
#                                         docker exec ... whistlectl ping)
#            DISTRICT_api-keys.txt        the gateway's bearer keys: one, 'operator ops'
#   configs  DISTRICT_server.pub          what every client needs (--server-key)
#            DISTRICT_allow.txt           the allowlist: the service, gateway and operator keys
# and leaves in OUT (default ./whistle-keys-DISTRICT, mode 0700) what the operator needs
# outside the swarm: server.pub, operator.key/.pub, api-key (the bearer key above) and
# allow.txt (append a department's line to it and create DISTRICT_allow.txt.2 from it:
# docs/deploy.md "Docker Swarm").
#
# Runs against the engine `docker` talks to (DOCKER_HOST); that engine must be a manager and
# hold the image. When every secret and config of DISTRICT is already there it says so and
# changes nothing (exit 0); when only some are, it names them and stops (exit 1).
set -euo pipefail
usage() { echo "usage: $0 DISTRICT [OUT]   (DISTRICT: the stack's name, [a-z0-9][a-z0-9-]*)" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
district=$1
[[ $district =~ ^[a-z0-9][a-z0-9-]*$ ]] || usage
out=${2:-./whistle-keys-$district}
image=${WHISTLE_IMAGE:-whistle:local}
say() { echo "make-keys: $*" >&2; }

names=(server intake routing tracking notification gateway operator)
secrets=()
for n in "${names[@]}"; do secrets+=("${district}_$n.key"); done
secrets+=("${district}_api-keys.txt")
configs=("${district}_server.pub" "${district}_allow.txt")

docker node ls >/dev/null 2>&1 ||
  { say "'docker node ls' fails: run this on a Swarm manager (or set DOCKER_HOST to one)"; exit 1; }
have=()
for s in "${secrets[@]}"; do docker secret inspect "$s" >/dev/null 2>&1 && have+=("secret $s"); done
for c in "${configs[@]}"; do docker config inspect "$c" >/dev/null 2>&1 && have+=("config $c"); done
if [ ${#have[@]} -eq $((${#secrets[@]} + ${#configs[@]})) ]; then
  say "the keys of district $district are already in the swarm; nothing changed"
  exit 0
elif [ ${#have[@]} -gt 0 ]; then
  say "only some of district $district's keys are in the swarm (${have[*]});" \
      "remove them (docker secret rm / docker config rm) and run this again"
  exit 1
fi
[ -e "$out" ] && { say "$out exists: give another OUT or move it away"; exit 1; }
docker image inspect "$image" >/dev/null 2>&1 ||
  { say "image $image not on this engine (build it, or set WHISTLE_IMAGE)"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"
# keygen inside the image, the files out through tar: works with a remote DOCKER_HOST too
docker run --rm --network none --entrypoint sh "$image" -c '
  set -e; umask 077; d=$(mktemp -d); cd "$d"
  for n in '"${names[*]}"'; do whistlectl keygen "$n" >/dev/null; done
  tar cf - .' | tar xf - -C "$tmp"
pub() { sed -n 's/^public-key //p' "$tmp/$1.pub"; }
{
  echo "# whistle allowlist of district $district: '<z85 public key> <kind> <code>' per line;"
  echo "# kinds: department, township, integrator, service, operator."
  for n in intake routing tracking notification gateway; do echo "$(pub "$n") service $n"; done
  echo "$(pub operator) operator ops"
} >"$tmp/allow.txt"
api_key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
{
  echo "# whistle-gateway's API keys of district $district: '<bearer key> <kind> <code>' per line."
  echo "$api_key operator ops"
} >"$tmp/api-keys.txt"
printf '%s\n' "$api_key" >"$tmp/api-key"

label=(--label "whistle.district=$district")
for n in "${names[@]}"; do
  docker secret create "${label[@]}" "${district}_$n.key" "$tmp/$n.key" >/dev/null
done
docker secret create "${label[@]}" "${district}_api-keys.txt" "$tmp/api-keys.txt" >/dev/null
docker config create "${label[@]}" "${district}_server.pub" "$tmp/server.pub" >/dev/null
docker config create "${label[@]}" "${district}_allow.txt" "$tmp/allow.txt" >/dev/null

mkdir -m 700 -p "$out"
cp "$tmp/server.pub" "$tmp/operator.key" "$tmp/operator.pub" "$tmp/allow.txt" "$tmp/api-key" "$out/"
chmod 644 "$out/server.pub" "$out/operator.pub" "$out/allow.txt"
chmod 600 "$out/operator.key" "$out/api-key"
say "district $district: ${#secrets[@]} secrets and ${#configs[@]} configs created;" \
    "server.pub, the operator's key, the gateway's bearer key (api-key) and allow.txt in $out"
