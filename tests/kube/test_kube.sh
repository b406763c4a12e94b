#!/usr/bin/env bash
# whistle on Kubernetes (deploy/kubernetes, issue 14), checked offline and run for real:
#   1. every overlay renders with `kubectl kustomize` (Debian 12's kubectl 1.20 embeds
#      kustomize v2.0.3; a newer kubectl renders the same), and every object of it passes the
#      Kubernetes schema of its kind (kubernetes-models, `npm ci` from the committed lockfile)
#      and the cross-checks of check.js (what each object names exists, the district's
#      namespace and label on every object, all eight endpoints given to every service);
#   2. one district played with `podman kube play` (playable.js says how the played copy
#      differs from the base: one pod for the five, the Job as its init container, volume
#      claims as podman volumes): the keygen Job's container makes the keys and the Secret it
#      would create (checked against the schema too), every container's readiness probe as
#      rendered passes (whistlectl ping; GET /readyz for the gateway), and a case reported
#      with whistlectl inside the intake container is DISPATCHED (whistlectl show in
#      tracking's container), then everything is torn down.
# Exits 77 (ctest: skipped) only when podman cannot run a container here (it says why: no
# podman, or its runtime refused), or when no Docker engine answers to build the image from
# deploy/docker/Dockerfile (there is no registry to pull a base image from: .ci/run starts
# an engine with shared/tools/docker-offline.sh). Missing kubectl, node or npm is a failure:
# deploy/install-deps.sh installs them.
#
# Podman is told, in a containers.conf of the test's own (CONTAINERS_CONF), default ulimits
# within this machine's hard limits: its defaults (nofile 1048576, nproc) are above them here
# and runc refuses to start a container ("error setting rlimits").
#
#   tests/kube/test_kube.sh manifests    1. only, for every overlay (ctest kube_manifests)
#   tests/kube/test_kube.sh play         1. for the played district, then 2. (ctest kube_play)
#
# Environment: KUBE_TEST_KEEP=1 leaves the pod, its volumes and the work folder.
set -euo pipefail
mode=${1:-}
[[ $mode == manifests || $mode == play ]] || { echo "usage: $0 manifests|play" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
prefix=whistle-kubetest-$$
image=localhost/whistle-kubetest:$$
district=yingjiang

say() { echo "test_kube: $*" >&2; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; exit 1; }

for t in kubectl node npm; do
  command -v "$t" >/dev/null || fail "$t not found (deploy/install-deps.sh installs it)"
done

work=$(mktemp -d /tmp/whistle-kubetest.XXXXXX)
export CONTAINERS_CONF=$work/containers.conf
hn=$(ulimit -Hn) hu=$(ulimit -Hu)
[ "$hn" = unlimited ] && hn=1048576
[ "$hu" = unlimited ] && hu=1048576
nofile=$((hn < 65536 ? hn : 65536)) nproc=$((hu < 32768 ? hu : 32768))
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
  "$nofile" "$nofile" "$nproc" "$nproc" >"$CONTAINERS_CONF"

# what a run made in podman: its pod, its volumes (claims and ConfigMaps), its image
podman_sweep() {
  local p=$1
  podman pod rm -f -t 5 "$p" >/dev/null 2>&1 || true
  podman volume ls -q | grep "^$p-" | xargs -r podman volume rm -f >/dev/null 2>&1 || true
  podman rmi -f "localhost/whistle-kubetest:${p##*-}" >/dev/null 2>&1 || true
}
cleanup() {
  local rc=$?
  if [ "${KUBE_TEST_KEEP:-0}" = 1 ]; then
    say "leaving pod $prefix and $work (podman pod rm -f $prefix; volumes $prefix-*)"
  else
    command -v podman >/dev/null && podman_sweep "$prefix"
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- 1. render and check every overlay ---------------------------------------------------
# npm ci in the work folder: never a node_modules in the source tree (it would enter the
# image's build context)
cp "$here/package.json" "$here/package-lock.json" "$here/check.js" "$here/playable.js" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
  { cat "$work/npm.log" >&2; fail "npm ci in tests/kube failed"; }
overlays=$(cd "$top/deploy/kubernetes/overlays" && ls)
[ -n "$overlays" ] || fail "no overlay in deploy/kubernetes/overlays"
[ "$mode" = play ] && overlays=$district
for d in $overlays; do
  kubectl kustomize "$top/deploy/kubernetes/overlays/$d" >"$work/$d.yaml" 2>"$work/$d.err" ||
    { cat "$work/$d.err" >&2; fail "kubectl kustomize overlays/$d failed"; }
  # the Secret whistle-keys is made by the Job at run time, not rendered
  node "$work/check.js" --district "$d" --allow-missing-secret whistle-keys "$work/$d.yaml" \
    >"$work/$d.check" || { grep -v '^ok:' "$work/$d.check" >&2; fail "overlays/$d: see above"; }
  say "overlays/$d: $(tail -1 "$work/$d.check")"
  for k in StatefulSet Service Deployment Job ConfigMap; do
    grep -q "^kind: $k$" "$work/$d.yaml" || fail "overlays/$d renders no $k"
  done
done
[ -f "$work/$district.yaml" ] || fail "no overlay $district"
if [ "$mode" = manifests ]; then
  # the districts are apart: a namespace each, a catalog each (its district's code in it)
  [ "$(echo "$overlays" | wc -w)" -ge 2 ] || fail "fewer than two example districts"
  [ "$(sort -u <(grep -h '^  namespace: ' "$work"/*.yaml) | wc -l)" -eq "$(echo "$overlays" | wc -w)" ] ||
    fail "the overlays do not have a namespace each"
  for d in $overlays; do
    grep -q "\"code\": *\"$d\"" "$work/$d.yaml" || fail "overlays/$d: its catalog is not district $d's"
  done
  # the base's catalog is deploy/catalog/default.json, byte for byte
  node -e '
    const YAML = require(process.argv[1] + "/node_modules/yaml"), fs = require("fs");
    const cm = YAML.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8")).map((d) => d.toJS())
      .find((o) => o && o.kind === "ConfigMap" && o.metadata.name.startsWith("whistle-catalog"));
    process.exit(cm && cm.data["catalog.json"] === fs.readFileSync(process.argv[3], "utf8") ? 0 : 1);
  ' "$work" "$work/$district.yaml" "$top/deploy/catalog/default.json" ||
    fail "overlays/$district: whistle-catalog is not deploy/catalog/default.json"
  exit 0
fi

# ---- 2. play one district with podman ----------------------------------------------------
command -v podman >/dev/null || skip "podman not found (deploy/install-deps.sh installs it)"
command -v docker >/dev/null && docker info >/dev/null 2>&1 ||
  skip "no Docker engine answers to build the image (no registry for a base image here)"
# runs left behind by a killed test (SIGKILL): their pods, volumes and images
for p in $(podman pod ls --format '{{.Name}}' 2>/dev/null | grep '^whistle-kubetest-[0-9]*$' || true); do
  kill -0 "${p##*-}" 2>/dev/null && continue
  say "removing $p, left by a test run that is gone"
  podman_sweep "$p"
done
for v in $(podman volume ls -q 2>/dev/null | sed -n 's/^\(whistle-kubetest-[0-9]*\)-.*/\1/p' | sort -u); do
  kill -0 "${v##*-}" 2>/dev/null || podman_sweep "$v"
done

say "building the image (docker build -f deploy/docker/Dockerfile)"
docker build -q -f "$top/deploy/docker/Dockerfile" -t whistle-kubetest:ctest "$top" >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; fail "docker build failed"; }
docker save whistle-kubetest:ctest | podman load -q >"$work/load.log" 2>&1 ||
  { cat "$work/load.log" >&2; fail "podman load of the image failed"; }
podman tag localhost/whistle-kubetest:ctest "$image"
podman rmi localhost/whistle-kubetest:ctest >/dev/null 2>&1 || true
if ! out=$(podman run --rm --network none "$image" true 2>&1); then
  skip "podman cannot run a container here: $out"
fi

node "$work/playable.js" "$work/$district.yaml" "$prefix" "$image" >"$work/play.yaml"
# podman's default network: hostAliases (intake, ... -> 127.0.0.1) are written to the pod's
# /etc/hosts there, not with --network none; all traffic stays on the pod's own loopback
podman kube play "$work/play.yaml" >"$work/play.log" 2>&1 ||
  { cat "$work/play.log" >&2; fail "podman kube play failed"; }
say "playing district $district as pod $prefix"

ctr() { echo "$prefix-$1"; }
services=(intake routing tracking notification)
# the readiness (or $2: livenessProbe) probe of a container as rendered (StatefulSets: exec
# whistlectl ping)
probe() {
  node -e '
    const YAML = require(process.argv[1] + "/node_modules/yaml");
    const fs = require("fs");
    for (const d of YAML.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8"))) {
      const o = d.toJS();
      if (!o || o.kind !== "StatefulSet" || o.metadata.name !== process.argv[3]) continue;
      const p = o.spec.template.spec.containers[0][process.argv[4]];
      console.log(JSON.stringify(p.exec.command));
    }' "$work" "$work/$district.yaml" "$1" "${2:-readinessProbe}"
}
deadline=$((SECONDS + 120))
declare -A cmd
for s in "${services[@]}"; do
  cmd[$s]=$(probe "$s")
  [ -n "${cmd[$s]}" ] || fail "no readiness probe for $s in the render"
done
while :; do
  waiting=()
  for s in "${services[@]}"; do
    mapfile -t argv < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "${cmd[$s]}")
    podman exec "$(ctr "$s")" "${argv[@]}" >"$work/ready-$s" 2>&1 || waiting+=("$s")
  done
  podman exec "$(ctr gateway)" curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:7080/readyz \
    >/dev/null 2>&1 || waiting+=(gateway)
  [ ${#waiting[@]} -eq 0 ] && break
  if [ $SECONDS -ge $deadline ]; then
    podman pod ps >&2 || true
    podman ps -a --pod --filter "pod=$prefix" >&2 || true
    for s in "${waiting[@]}"; do
      say "--- $s: readiness:"; cat "$work/ready-$s" >&2 2>/dev/null || true
      say "--- $s: log:"; podman logs --tail 20 "$(ctr "$s")" >&2 || true
    done
    fail "not ready within 120 s: ${waiting[*]}"
  fi
  sleep 1
done
say "every container ready (readiness probes as rendered)"
# and alive: the liveness probes as rendered pass too (whistlectl ping --alive)
for s in "${services[@]}"; do
  live=$(probe "$s" livenessProbe)
  [ -n "$live" ] || fail "no liveness probe for $s in the render"
  mapfile -t argv < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$live")
  out=$(podman exec "$(ctr "$s")" "${argv[@]}" 2>&1) || fail "$s: liveness probe failed: $out"
done
say "every service alive (liveness probes as rendered)"

# the keys the Job made: the Secret it would create, against the schema, with every file
podman exec "$(ctr intake)" cat /var/lib/whistle-keys/secret.json >"$work/secret.json" ||
  fail "the keygen init container wrote no secret.json"
node "$work/check.js" "$work/secret.json" >"$work/secret.check" ||
  { cat "$work/secret.check" >&2; fail "the keygen Job's Secret is not a valid Secret"; }
for f in server.key server.pub intake.key routing.key tracking.key notification.key \
         gateway.key operator.key allow.txt api-keys.txt; do
  grep -q "\"$f\":" "$work/secret.json" || fail "the keygen Job's Secret has no $f"
done
# keys are on: a client without the operator key gets nothing
if podman exec -e WHISTLE_KEY= -e WHISTLE_SERVER_KEY= "$(ctr intake)" \
     whistlectl --timeout 1000 ping intake >/dev/null 2>&1; then
  fail "intake answered a client without a key (CurveZMQ keys not on)"
fi

# whistlectl in any container reaches all four (the endpoints of ConfigMap whistle-env)
podman exec "$(ctr notification)" whistlectl ping >"$work/ping" 2>&1 ||
  { cat "$work/ping" >&2; fail "whistlectl ping in notification's container"; }
out=$(podman exec "$(ctr intake)" whistlectl report --grid g001 --matter m01 \
        --description '占道经营 (kube test)' --reporter kube-test 2>&1) ||
  fail "whistlectl report in intake's container: $out"
id=$(tail -n 1 <<<"$out" | awk '{print $1}')
[ -n "$id" ] || fail "no case id in: $out"
deadline=$((SECONDS + 60))
until podman exec "$(ctr tracking)" whistlectl list >"$work/list" 2>&1 &&
      grep -q "^$id .*DISPATCHED" "$work/list"; do
  [ $SECONDS -lt $deadline ] || { cat "$work/list" >&2; fail "whistlectl list: $id not DISPATCHED within 60 s"; }
  sleep 1
done
podman exec "$(ctr tracking)" whistlectl show "$id" >"$work/show" 2>&1 && grep -q DISPATCHED "$work/show" ||
  { cat "$work/show" >&2; fail "whistlectl show $id does not say DISPATCHED"; }
say "case $id reported in intake's container, DISPATCHED in tracking's"

podman kube down "$work/play.yaml" >/dev/null 2>&1 || fail "podman kube down failed"
