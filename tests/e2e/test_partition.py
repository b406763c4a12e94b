"""A silent network partition between routing and intake is noticed within a few heartbeats,
and every case reported during it reaches tracking within a few heartbeats of the heal.

Intake runs in a network namespace of its own, reached from the root namespace (routing,
tracking, notification, this script) through a second namespace that forwards packets:

    root 10.201.B.1 --veth-- 10.201.B.2 [router] 10.201.B+1.1 --veth-- 10.201.B+1.2 [intake]

The cut turns forwarding off in the router namespace: the kernel then drops every packet
between the two sides without a word (no ICMP, no reset), as a failed switch or a firewall
that drops does; the TCP connections on both sides look established. The heal turns it on
again. During the cut more cases are reported to intake from inside its namespace.

Checks: within a few heartbeats of the cut routing's Ping says its intake cursor is silent
(not caught up), and `whistlectl ping routing` says so and exits 3; within HEAL_BOUND_S of
the heal every case reported, before and during the cut, is in tracking, and routing's
cursor is at intake's head and no longer silent. Without ZeroMQ heartbeats on the connections
(common/src/link.c) the old connection is only used again when TCP's backed-off retransmission
gets through: ~20 s after a 30 s cut, ~46 s after a 60 s one.

Needs root and `ip netns` (CAP_NET_ADMIN); without them the test fails, it never skips.
The namespaces, links and route are removed in a `finally`, pass or fail."""
import os
import subprocess
import sys
import time

from whistle_e2e import BINARY_DIR, CTL, Cluster

CUT_S = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0   # how long the link stays cut
HEARTBEAT_MS = 500
SILENT_BOUND_S = 10 * HEARTBEAT_MS / 1000.0   # cut -> routing's Ping says silent
HEAL_BOUND_S = 10.0                           # heal -> every case in tracking
BEFORE, DURING = 20, 20                       # cases reported before and during the cut

TAG = "%d" % (os.getpid() % 100000)
NS_INTAKE, NS_ROUTER = "whpi" + TAG, "whpr" + TAG
HOST_IF, ROUTER_IF_A, ROUTER_IF_B, INTAKE_IF = "whph" + TAG, "whpa", "whpb", "whpi"
B = (os.getpid() % 120) * 2                   # subnets 10.201.B.0/24 and 10.201.B+1.0/24
HOST_IP, ROUTER_IP_A = "10.201.%d.1" % B, "10.201.%d.2" % B
ROUTER_IP_B, INTAKE_IP = "10.201.%d.1" % (B + 1), "10.201.%d.2" % (B + 1)
INTAKE_NET = "10.201.%d.0/24" % (B + 1)


def sh(*args, ns=None, check=True):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and out.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(cmd), out.returncode, out.stdout,
                                                    out.stderr))
    return out


def forwarding(on):
    """Turns packet forwarding in the router namespace on or off (the heal, the cut)."""
    sh("sh", "-c", "echo %d > /proc/sys/net/ipv4/ip_forward" % (1 if on else 0), ns=NS_ROUTER)


def net_up():
    sh("ip", "netns", "add", NS_INTAKE)
    sh("ip", "netns", "add", NS_ROUTER)
    sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", ROUTER_IF_A, "netns",
       NS_ROUTER)
    sh("ip", "link", "add", ROUTER_IF_B, "netns", NS_ROUTER, "type", "veth", "peer", "name",
       INTAKE_IF, "netns", NS_INTAKE)
    sh("ip", "addr", "add", HOST_IP + "/24", "dev", HOST_IF)
    sh("ip", "link", "set", HOST_IF, "up")
    sh("ip", "route", "add", INTAKE_NET, "via", ROUTER_IP_A)
    for ifname, ip in ((ROUTER_IF_A, ROUTER_IP_A), (ROUTER_IF_B, ROUTER_IP_B)):
        sh("ip", "addr", "add", ip + "/24", "dev", ifname, ns=NS_ROUTER)
        sh("ip", "link", "set", ifname, "up", ns=NS_ROUTER)
    sh("ip", "link", "set", "lo", "up", ns=NS_ROUTER)
    sh("ip", "addr", "add", INTAKE_IP + "/24", "dev", INTAKE_IF, ns=NS_INTAKE)
    sh("ip", "link", "set", INTAKE_IF, "up", ns=NS_INTAKE)
    sh("ip", "link", "set", "lo", "up", ns=NS_INTAKE)
    sh("ip", "route", "add", "default", "via", ROUTER_IP_B, ns=NS_INTAKE)
    forwarding(True)


def net_down():
    """Everything net_up made, whatever state it got to (deleting a namespace deletes its
    ends of the veth pairs, and so the pairs)."""
    sh("ip", "route", "del", INTAKE_NET, check=False)
    sh("ip", "link", "del", HOST_IF, check=False)
    sh("ip", "netns", "del", NS_INTAKE, check=False)
    sh("ip", "netns", "del", NS_ROUTER, check=False)


class PartitionedCluster(Cluster):
    """Intake in its own namespace on TCP; the other services in this one, on ipc://."""

    def api(self, name):
        return "tcp://%s:7100" % INTAKE_IP if name == "intake" else super().api(name)

    def events(self, name):
        return "tcp://%s:7101" % INTAKE_IP if name == "intake" else super().events(name)

    def start(self, name, *extra):
        if name != "intake":
            return super().start(name, *extra)
        # `ip netns exec` execs the service: the pid is the service's, signals reach it
        args = ["ip", "netns", "exec", NS_INTAKE,
                os.path.join(BINARY_DIR, "services", "whistle-intake"),
                "--data", os.path.join(self.tmp, name), "--catalog", self.catalog,
                "--api", self.api(name), "--events", self.events(name),
                "--heartbeat-ms", str(self.heartbeat_ms), "--log-level", "info"]
        args += self.args.get(name, []) + list(extra)
        log = open(os.path.join(self.tmp, name + ".log"), "ab")
        self.procs[name] = subprocess.Popen(args, stdout=log, stderr=log)
        log.close()


def report_inside(c, i):
    """A case reported to intake from inside its namespace (the link being cut)."""
    env = c.ctl_env()
    out = subprocess.run(["ip", "netns", "exec", NS_INTAKE, CTL, "--timeout", "5000", "report",
                          "--grid", "g%d" % (i % 6 + 1), "--matter", "m2", "--description",
                          "占道经营", "--reporter", "r1", "--idempotency-key", "during-%d" % i],
                         capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, "report inside the namespace: exit %d\n%s%s" % (
        out.returncode, out.stdout, out.stderr)
    return out.stdout.strip()


def intake_cursor(c):
    pong = c.ping("routing")
    if pong is None:
        return None
    cur = [x for x in pong.cursors if x.upstream == "intake"]
    return cur[0] if cur else None


def in_tracking(c, ids):
    for cid in ids:
        r = c.get_case(cid)
        if r is None or r.WhichOneof("body") != "get_case":
            return False
    return True


def main():
    if os.geteuid() != 0:
        raise SystemExit("test_partition: needs root for `ip netns` (network namespaces); "
                         "not skipped: run it as root")
    c = PartitionedCluster(heartbeat_ms=HEARTBEAT_MS)
    ok = False
    try:
        net_down()   # leftovers of a run of the same pid, if any
        try:
            net_up()
        except AssertionError as e:
            raise AssertionError("cannot build the network namespaces (`ip netns`, veth): "
                                 "this test needs CAP_NET_ADMIN and fails without it\n%s" % e)
        c.start_all()

        ids = []
        reps = c.call_many("intake", [c.submit_req("before-%d" % i, "g%d" % (i % 6 + 1))
                                      for i in range(BEFORE)])
        ids += [r.submit_report.case_id for r in reps]
        c.wait(lambda: in_tracking(c, ids), timeout=60, what="the first cases in tracking")
        cur = intake_cursor(c)
        assert cur is not None and not cur.silent, cur

        forwarding(False)
        t_cut = time.monotonic()
        for i in range(DURING):
            ids.append(report_inside(c, i))
        c.wait(lambda: (intake_cursor(c) or cur).silent, timeout=SILENT_BOUND_S,
               what="routing's Ping to say intake is silent after the cut")
        print("routing's intake cursor silent %.1f s after the cut" % (time.monotonic() - t_cut))
        out = subprocess.run([CTL, "ping", "routing"], capture_output=True, text=True,
                             env=c.ctl_env(), timeout=30)
        assert out.returncode == 3 and "SILENT" in out.stdout, (out.returncode, out.stdout)
        assert not in_tracking(c, ids[BEFORE:BEFORE + 1]), "a case crossed the cut link"

        left = CUT_S - (time.monotonic() - t_cut)
        if left > 0:
            time.sleep(left)   # the partition itself: TCP's retransmissions back off meanwhile
        cur = intake_cursor(c)
        assert cur is not None and cur.silent, "silent no more while still cut: %s" % cur

        forwarding(True)
        t_heal = time.monotonic()
        c.wait(lambda: in_tracking(c, ids), timeout=HEAL_BOUND_S,
               what="every case reported during the cut to reach tracking within %.0f s of "
                    "the heal" % HEAL_BOUND_S)
        print("all %d cases in tracking %.1f s after the heal" % (len(ids),
                                                                   time.monotonic() - t_heal))
        head = c.ping("intake").head
        c.wait(lambda: (lambda x: x is not None and not x.silent and x.seq == head)(
            intake_cursor(c)), timeout=HEAL_BOUND_S, what="routing's cursor at intake's head")
        assert head == BEFORE + DURING, head
        ok = True
    finally:
        try:
            if ok:
                c.close()
            else:
                c.fail(names=["intake", "routing"])
        finally:
            net_down()
    print("partition: ok")


if __name__ == "__main__":
    main()
