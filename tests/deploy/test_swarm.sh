#!/usr/bin/env bash
# One district on Docker Swarm across two hosts (issue 14, point 3), deploy/swarm/stack.yml as
# an operator deploys it, and what survives a node's failures:
#   1. two "hosts" on this machine: two dockerd, each in its own network namespace with an
#      address only there (10.77.0.1 and 10.77.0.2 on a veth pair), joined into a swarm; the
#      image built once here and loaded into both; the keys made by deploy/swarm/make-keys.sh;
#      the district deployed with intake and routing on host2, tracking, notification and the
#      gateway on host1 (node labels), every service healthy on its node, the gateway's
#      /readyz answering 200 at 10.77.0.1 from inside host1's namespace;
#   2. cases reported without a pause (whistlectl report in the gateway's container, each
#      with its idempotency key, retried with the same key until intake acknowledges it)
#      while host2's whistle containers are killed (docker kill -s KILL), and later host2's
#      dockerd itself (kill -9), which is then started again;
#   3. at the end, every acknowledged case is dispatched exactly once (one case.dispatched on
#      notification's all/ topic), and nothing else is: no case lost, none doubled. The
#      recovery time of each failure (from the kill to the first case acknowledged and
#      dispatched after the last failed attempt) is printed (docs/deploy.md "Docker Swarm").
# Exits 77 (ctest: skipped), saying why, where the machine cannot: not root, no `ip netns`,
# no VXLAN in the kernel (overlay networks), no Docker engine to build the image with
# (.ci/run starts one with shared/tools/docker-offline.sh), or a dockerd that cannot start in a
# network namespace. About 4 minutes once the image's layers are cached.
#
# Everything it makes is named wsw-<pid> (namespaces wsw-<pid>-1/2, veth wsw<pid>a/b, the
# folder /tmp/wsw.<pid>, cgroups /wsw-<pid>-1/2) and removed on exit, even when killed by a
# signal it can catch; what a run killed with SIGKILL left is removed by the next run.
# SWARM_TEST_KEEP=1 leaves everything up (the EXIT trap then says how to remove it).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
id=wsw-$$
T=/tmp/wsw.$$
district=yingjiang
image=whistle:swarm-test
t0=$SECONDS
say() { echo "test_swarm: [$((SECONDS - t0)) s] $*" >&2; }
skip() { echo "test_swarm: SKIP: $*" >&2; exit 77; }
now_ms() { date +%s%3N; }

[ "$(id -u)" = 0 ] || skip "not root (it makes network namespaces and runs dockerd)"
command -v ip >/dev/null || skip "the ip command (iproute2) not found"
for c in nsenter unshare dockerd docker curl python3; do
  command -v "$c" >/dev/null || skip "$c not found"
done
docker info >/dev/null 2>&1 || skip "no Docker engine answers ('docker info') to build the image with"

# ---- the leftovers of runs killed outright -------------------------------------------------
# kills every process of run $1: its dockerd, containerd and shims (their command lines name
# its folder) and the containers' processes (in its cgroups), then unmounts what they left
kill_run() {
  local pid=$1 dir=/tmp/wsw.$1 p procs
  procs=$(grep -lsF "$dir/" /proc/[0-9]*/cmdline | cut -d/ -f3 || true)
  for p in $procs; do kill -KILL "$p" 2>/dev/null || true; done
  # the containers' processes: dockerd put them under the cgroup parent wsw-<pid>-<n>
  find /sys/fs/cgroup -depth -type d -name "wsw-$pid-[12]" 2>/dev/null | while read -r cg; do
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  # the mounts dockerd made (layers, /dev/shm, network namespaces), deepest first
  awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  # the cgroups, once their processes are gone
  local deadline=$((SECONDS + 10))
  while find /sys/fs/cgroup -depth -type d -name "wsw-$pid-[12]" 2>/dev/null | grep -q .; do
    find /sys/fs/cgroup -depth -type d -path "*/wsw-$pid-[12]*" -exec rmdir {} + 2>/dev/null || true
    [ $SECONDS -lt $deadline ] || { say "warning: cgroups of run $pid remain"; break; }
    sleep 0.2
  done
  # the sockets of the containerd shims killed above, named sha256(<containerd>/moby/<id>)
  local addr cid
  for n in 1 2; do
    addr=$dir/h$n/exec/containerd/containerd.sock
    for cid in $(ls "$dir/h$n/data/containers" "$dir/h$n/exec/containerd/daemon/io.containerd.runtime.v2.task/moby" 2>/dev/null | grep -E '^[0-9a-f]{64}$' | sort -u); do
      rm -f "/run/containerd/s/$(printf '%s' "$addr/moby/$cid" | sha256sum | cut -d' ' -f1)"
    done
  done
  for n in 1 2; do ip netns del "wsw-$pid-$n" 2>/dev/null || true; done
  ip link del "wsw${pid}a" 2>/dev/null || true
  rm -rf "$dir"
}
for ns in $(ip netns list | awk '{print $1}') $(ls -d /tmp/wsw.* 2>/dev/null | sed 's|.*/wsw\.|wsw-|;s|$|-1|'); do
  [[ $ns =~ ^wsw-([0-9]+)-[12]$ ]] || continue
  p=${BASH_REMATCH[1]}
  kill -0 "$p" 2>/dev/null && continue
  [ -e "/tmp/wsw.$p" ] || ip netns list | grep -q "^wsw-$p-" || continue
  say "removing what test run $p left (it is gone)"
  kill_run "$p"
done

cleanup() {
  local rc=$?
  set +e
  if [ -n "${reporter_pid:-}" ]; then kill "$reporter_pid" 2>/dev/null; wait "$reporter_pid" 2>/dev/null; fi
  if [ "${SWARM_TEST_KEEP:-0}" = 1 ]; then
    say "left up: DOCKER_HOST=unix://$T/h1/docker.sock docker node ls; remove it all by" \
        "running this test again after this shell ($$) is gone"
    exit $rc
  fi
  kill_run $$
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
  say "FAIL: $*"
  for n in 1 2; do
    [ -S "$T/h$n/docker.sock" ] || continue
    echo "---- host$n: docker ps -a" >&2
    D "$n" ps -a --format '{{.Names}} {{.Status}}' >&2 2>&1 || true
  done
  D 1 service ls >&2 2>&1 || true
  for s in intake routing tracking notification gateway; do
    D 1 service ps --no-trunc "${district}_$s" --format '{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}' 2>&1 | head -n 4 >&2 || true
  done
  exit 1
}
D() { local n=$1; shift; docker -H "unix://$T/h$n/docker.sock" "$@"; }

mkdir -p "$T"
ns1=$id-1 ns2=$id-2
ip netns add "$ns1" 2>/dev/null || skip "'ip netns add' fails (no network namespaces here)"
ip netns add "$ns2"
ip -n "$ns1" link add vx0 type vxlan id 4242 dstport 4789 2>/dev/null ||
  skip "the kernel cannot make a VXLAN device ('ip link add type vxlan'): Swarm's overlay network needs one"
ip -n "$ns1" link del vx0
ip link add "wsw$$a" type veth peer name "wsw$$b"
ip link set "wsw$$a" netns "$ns1"
ip link set "wsw$$b" netns "$ns2"
for n in 1 2; do
  ns=$id-$n dev=wsw$$$([ "$n" = 1 ] && echo a || echo b)
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "10.77.0.$n/24" dev "$dev"
  ip -n "$ns" link set "$dev" up
done

# ---- two hosts -------------------------------------------------------------------------------
# dockerd in the namespace (nsenter --net only: the mounts it makes stay visible here, so they
# can be found and removed), with a host name of its own (node ls), its own folders and socket.
# --iptables=false and --bridge=none: no rule is added to anyone's tables (Swarm's embedded DNS
# still sets its redirect inside each container's own namespace).
#
# Each host's resolver (--dns) is a stub on its own address that answers every name "no such
# name" at once, as a network's resolver does for names it does not have. Without one, a name
# the overlay's DNS does not know waits 20 s (the embedded DNS forwards it to a server that
# cannot be reached from the namespace and never answers): a task is in the overlay's DNS only
# once its health check passes, and until then every service following it looks its name up
# on each reconnect. That no longer touches health (each follower's lookups run on an I/O
# thread of its own, apart from the service's ROUTER and XPUB: tests/e2e/test_dns.py), but a
# follower would see its upstream's new task only once the 20 s lookup in progress ended: the
# stub keeps the recovery times written down in docs/deploy.md (measured with it) short.
cat >"$T/nxdomain.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 17:
        continue
    i = 12
    while i < len(q) and q[i] != 0:
        i += q[i] + 1
    question = q[12:i + 5]
    flags = 0x8000 | (struct.unpack(">H", q[2:4])[0] & 0x7900) | 0x0080 | 3  # NXDOMAIN
    s.sendto(q[:2] + struct.pack(">HHHHH", flags, 1, 0, 0, 0) + question, peer)
PY
for n in 1 2; do
  ip netns exec "$id-$n" python3 "$T/nxdomain.py" "10.77.0.$n" >"$T/nxdomain-$n.log" 2>&1 &
  disown
done
driver=overlay2
start_dockerd() {
  local n=$1
  mkdir -p "$T/h$n"
  unshare --uts nsenter --net="/run/netns/$id-$n" sh -c "hostname host$n && exec dockerd \
      --data-root $T/h$n/data --exec-root $T/h$n/exec --pidfile $T/h$n/docker.pid \
      -H unix://$T/h$n/docker.sock --cgroup-parent /$id-$n --storage-driver $driver \
      --iptables=false --ip-masq=false --bridge=none --dns 10.77.0.$n" \
    >>"$T/h$n/dockerd.log" 2>&1 &
  echo $! >"$T/h$n/started.pid"
  disown  # killed on purpose below: no "Killed" line from bash
}
wait_dockerd() {
  local n=$1 deadline=$((SECONDS + 60))
  until D "$n" version >/dev/null 2>&1; do
    kill -0 "$(cat "$T/h$n/started.pid")" 2>/dev/null || return 1
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}
start_dockerd 1
if ! wait_dockerd 1; then
  tail -n 5 "$T/h1/dockerd.log" >&2
  say "dockerd does not start with --storage-driver overlay2 in a namespace; trying vfs (slow)"
  kill -TERM "$(cat "$T/h1/started.pid")" 2>/dev/null || true
  sleep 2
  rm -rf "$T/h1"
  driver=vfs
  start_dockerd 1
  wait_dockerd 1 || { tail -n 20 "$T/h1/dockerd.log" >&2; skip "dockerd cannot start in a network namespace here (its log is above)"; }
fi
start_dockerd 2
wait_dockerd 2 || { tail -n 20 "$T/h2/dockerd.log" >&2; fail "host2's dockerd does not start (host1's did)"; }
say "host1 (10.77.0.1) and host2 (10.77.0.2): dockerd up in namespaces $ns1, $ns2 ($driver)"

say "building $image (deploy/docker/Dockerfile) with this machine's engine"
log=$T/build.log
docker build -f "$top/deploy/docker/Dockerfile" -t "$image" "$top" >"$log" 2>&1 ||
  { tail -n 30 "$log" >&2; fail "the image does not build"; }
docker save "$image" -o "$T/image.tar"
for n in 1 2; do D "$n" load -q -i "$T/image.tar" >/dev/null || fail "loading the image into host$n"; done
rm -f "$T/image.tar"
say "built and loaded into both hosts"

# ---- 1. the swarm and the district -----------------------------------------------------------
D 1 swarm init --advertise-addr 10.77.0.1 --listen-addr 10.77.0.1:2377 >/dev/null ||
  fail "swarm init on host1"
D 2 swarm join --advertise-addr 10.77.0.2 --listen-addr 10.77.0.2:2377 \
  --token "$(D 1 swarm join-token -q worker)" 10.77.0.1:2377 >/dev/null || fail "host2 joins the swarm"
node1=$(D 1 info -f '{{.Swarm.NodeID}}') node2=$(D 2 info -f '{{.Swarm.NodeID}}')
# where each service runs: its label on that node (the stack's placement constraints)
declare -A home=([intake]=2 [routing]=2 [tracking]=1 [notification]=1 [gateway]=1)
for s in "${!home[@]}"; do
  node=$([ "${home[$s]}" = 1 ] && echo "$node1" || echo "$node2")
  D 1 node update --label-add "whistle.$district.$s=true" "$node" >/dev/null
done
export DOCKER_HOST=unix://$T/h1/docker.sock WHISTLE_IMAGE=$image WHISTLE_DISTRICT=$district
"$top/deploy/swarm/make-keys.sh" "$district" "$T/keys" 2>"$T/make-keys.log" ||
  { cat "$T/make-keys.log" >&2; fail "deploy/swarm/make-keys.sh $district"; }
# --resolve-image never: the image is on each node already; there is no registry to ask
docker stack deploy --resolve-image never -c "$top/deploy/swarm/stack.yml" "$district" \
  >"$T/deploy.log" 2>&1 || { cat "$T/deploy.log" >&2; fail "docker stack deploy"; }
unset DOCKER_HOST
services=(intake routing tracking notification gateway)
# the node and state of service $1's running task (Swarm says Running once it is healthy)
task() {
  D 1 service ps "${district}_$1" -f desired-state=running --format '{{.Node}} {{.CurrentState}}' 2>/dev/null |
    head -n 1
}
# waits up to $1 s until every service has a healthy task on its node
wait_placed() {
  local deadline=$((SECONDS + $1)) waiting s t
  while :; do
    waiting=()
    for s in "${services[@]}"; do
      t=$(task "$s")
      case $t in "host${home[$s]} Running "*) ;; *) waiting+=("$s:${t// /_}") ;; esac
    done
    [ ${#waiting[@]} -eq 0 ] && return 0
    [ $SECONDS -lt $deadline ] || fail "not running healthy on their nodes within $1 s: ${waiting[*]:-}"
    sleep 1
  done
}
wait_placed 180
say "1: $district deployed: intake, routing on host2; tracking, notification, gateway on host1; all healthy"
out=$(ip netns exec "$ns1" curl -sS --max-time 5 -w ' %{http_code}' http://10.77.0.1:7080/readyz 2>&1) ||
  fail "GET http://10.77.0.1:7080/readyz from host1's namespace: $out"
[ "${out##* }" = 200 ] || fail "GET /readyz at 10.77.0.1:7080 (the gateway, published on host1): $out"
gwc() { D 1 ps -q -f "name=${district}_gateway." | head -n 1; }
ctl() { D 1 exec "$(gwc)" whistlectl "$@"; }
out=$(ctl ping 2>&1) || fail "whistlectl ping in the gateway's container: $out"
say "1: the gateway answers /readyz on 10.77.0.1:7080; whistlectl ping reaches all four"

# ---- 2. reporting while host2 fails ------------------------------------------------------------
# one line per attempt in $T/attempts: "<key> <case id or -> <start ms> <end ms>"; a key is
# retried until intake acknowledges it (prints its case id), so every key ends with one case
reporter() {
  local n=0 key out start c
  while [ ! -e "$T/stop" ]; do
    n=$((n + 1)) key=$id-$n
    while :; do
      start=$(now_ms)
      c=$(gwc)
      if out=$(timeout 15 docker -H "unix://$T/h1/docker.sock" exec "$c" whistlectl --timeout 2000 \
               report --no-wait --idempotency-key "$key" --grid g001 --matter m01 \
               --description "swarm test $n" --reporter r1 2>&1) &&
         [[ $(tail -n 1 <<<"$out") =~ ^([A-Z][0-9]+) ]]; then
        echo "$key ${BASH_REMATCH[1]} $start $(now_ms)" >>"$T/attempts"
        break
      fi
      echo "$key - $start $(now_ms) $(tr '\n' ' ' <<<"$out" | cut -c1-160)" >>"$T/attempts"
      [ -e "$T/stop-now" ] && return 0
      sleep 0.2
    done
  done
}
acked() { awk '$2 != "-"' "$T/attempts" 2>/dev/null | wc -l; }
# waits up to $2 s until $1 more cases are acknowledged
wait_acks() {
  local want=$(($(acked) + $1)) deadline=$((SECONDS + $2))
  until [ "$(acked)" -ge "$want" ]; do
    [ $SECONDS -lt $deadline ] || fail "fewer than $1 cases acknowledged within $2 s: $(tail -n 3 "$T/attempts")"
    sleep 0.5
  done
}
: >"$T/attempts"
reporter &
reporter_pid=$!
wait_acks 10 60
say "2: reporting: $(acked) cases acknowledged"

kill1=$(now_ms)
killed=$(D 2 ps -q -f "label=com.docker.stack.namespace=$district")
[ -n "$killed" ] || fail "no whistle container on host2"
D 2 kill -s KILL $killed >/dev/null
say "2: killed host2's whistle containers (docker kill -s KILL): $(echo $killed | wc -w)"
# Swarm starts new tasks there (restart_policy any), on their volumes
wait_placed 180
wait_acks 10 120
say "2: new tasks healthy on host2 again; $(acked) cases acknowledged"

kill2=$(now_ms)
kill -KILL "$(cat "$T/h2/docker.pid")"
say "2: killed host2's dockerd (kill -9)"
sleep 5
restart2=$(now_ms)
start_dockerd 2
wait_dockerd 2 || { tail -n 20 "$T/h2/dockerd.log" >&2; fail "host2's dockerd does not start again"; }
say "2: host2's dockerd started again"
wait_placed 240
wait_acks 10 120
touch "$T/stop"
deadline=$((SECONDS + 60))
while kill -0 "$reporter_pid" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || { touch "$T/stop-now"; fail "the last report is not acknowledged within 60 s"; }
  sleep 0.5
done
reporter_pid=
say "2: reporting stopped: $(acked) cases acknowledged, $(awk '$2 == "-"' "$T/attempts" | wc -l) failed attempts retried"

# ---- 3. counting --------------------------------------------------------------------------------
# notification's all/ topic, from its first entry: every change of every case, each once; the
# DISPATCH entries are the dispatched cases. count.py prints what is missing or doubled and,
# once nothing is missing, the recovery time of each failure.
cat >"$T/count.py" <<'PY'
import json, sys
attempts_file, all_file, final = sys.argv[1], sys.argv[2], sys.argv[3] == "final"
events = [(sys.argv[i], int(sys.argv[i + 1])) for i in range(4, len(sys.argv), 2)]
attempts = [l.split(None, 4) for l in open(attempts_file) if l.strip()]
acked = {}  # key -> case id
for a in attempts:
    if a[1] != "-":
        if a[0] in acked:
            print(f"FAIL: key {a[0]} acknowledged twice ({acked[a[0]]}, {a[1]})"); sys.exit(1)
        acked[a[0]] = a[1]
by_case = {}
for k, c in acked.items():
    by_case.setdefault(c, []).append(k)
bad = [f"{c} for keys {' '.join(ks)}" for c, ks in by_case.items() if len(ks) > 1]
dispatch = {}  # case id -> [at_ms, ...]
seqs = []
for line in open(all_file):
    e = json.loads(line)
    if e.get("stream") != "all/" or "case_updated" not in e:
        continue
    seqs.append(e["seq"])
    entry = e["case_updated"].get("entry", {})
    if entry.get("action") == "DISPATCH":
        dispatch.setdefault(e["correlation_id"], []).append(int(entry.get("at_ms") or e["occurred_at_ms"]))
missing = sorted(c for c in by_case if c not in dispatch)
if not final:
    sys.exit(1 if missing else 0)
fails = []
if bad:
    fails.append("one case id acknowledged for several reports: " + "; ".join(bad[:5]))
if seqs != list(range(1, len(seqs) + 1)):
    fails.append(f"all/ is not 1..{len(seqs)} without a gap")
if missing:
    fails.append(f"{len(missing)} acknowledged case(s) never dispatched: {' '.join(missing[:10])}")
twice = sorted(c for c, t in dispatch.items() if len(t) > 1)
if twice:
    fails.append(f"{len(twice)} case(s) dispatched more than once: {' '.join(twice[:10])}")
extra = sorted(c for c in dispatch if c not in by_case)
if extra:
    fails.append(f"{len(extra)} case(s) dispatched that no report was acknowledged for: {' '.join(extra[:10])}")
for f in fails:
    print("FAIL: " + f)
if fails:
    sys.exit(1)
print(f"{len(acked)} cases acknowledged, each dispatched exactly once; all/ has {len(seqs)} entries, "
      f"{len(dispatch)} dispatches, none other; {sum(1 for a in attempts if a[1] == '-')} failed attempts")
# recovery: from the kill to the dispatch of the first case whose acknowledged attempt started
# after the last failed attempt of this failure (none failed: after the kill)
ok = sorted((int(a[2]), a[1]) for a in attempts if a[1] != "-")
for i, (name, t) in enumerate(events):
    end = events[i + 1][1] if i + 1 < len(events) else float("inf")
    failed = [int(a[3]) for a in attempts if a[1] == "-" and t <= int(a[2]) < end]
    after = max(failed) if failed else t
    first = next((c for s, c in ok if s >= after), None)
    if first is None:
        print(f"FAIL: no case dispatched after {name}"); sys.exit(1)
    r = (dispatch[first][0] - t) / 1000
    stopped = f"{len(failed)} attempts failed, " if failed else "no attempt failed, "
    print(f"recovery {name}: {r:.1f} s ({stopped}{first} the first dispatched after)")
PY
deadline=$((SECONDS + 60))
while :; do
  ctl --json tail all/ --idle-exit 2000 >"$T/all.jsonl" 2>"$T/tail.err" || true
  python3 "$T/count.py" "$T/attempts" "$T/all.jsonl" wait && break
  [ $SECONDS -lt $deadline ] || break
  sleep 1
done
out=$(python3 "$T/count.py" "$T/attempts" "$T/all.jsonl" final \
        "after-docker-kill" "$kill1" "after-dockerd-kill-9" "$kill2" 2>&1) ||
  fail "$(printf '%s\n' "$out" | grep -v '^recovery' | sed '1s/^FAIL: //')"
printf '%s\n' "$out" | while read -r l; do say "3: $l"; done
awk -v k1="$kill1" -v k2="$kill2" '$2 == "-" { $2 = ""; $1 = "  failed at " ($3 < k2 ? "kill+" ($3 - k1) / 1000 : "dockerd kill+" ($3 - k2) / 1000) " s:"; $3 = $4 = ""; print }' \
  "$T/attempts" | cut -c1-200 >&2
say "3: host2's dockerd was down $(( (restart2 - kill2) / 1000 )) s (killed, then started again)"
say "PASS in $((SECONDS - t0)) s"
