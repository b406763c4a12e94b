"""A service whose upstream's name does not resolve, behind a resolver that never answers,
still answers Ping at once, over and over, and keeps following its other upstreams.

This is what an orchestrator sees (issue 14): Swarm and Kubernetes put a task's name in their
DNS only once the task is healthy, and a resolver that does not answer takes `timeout x
attempts` per lookup. libzmq resolves a connecting socket's host name with a blocking
getaddrinfo in the I/O thread that runs the socket's session, again on every reconnect. With
one I/O thread per context, shared by the service's own ROUTER and XPUB, the service answered
nothing (not even the health check's Ping) while its upstream was unresolvable, and was
restarted for ever.

Routing runs in a mount namespace of its own (`unshare -m`) whose /etc/resolv.conf (`mount
--bind`) names a resolver on a loopback address that this script holds and never answers
(`options timeout:5 attempts:2`: 10 s per lookup), and its intake upstream is given as
tcp://intake.whistle-test.invalid:PORT (glibc sends `.invalid` to the resolver like any name:
the script checks that the query arrives). Its tracking upstream is a real tracking, on ipc://.

Checks, for DURATION_S after the resolver has been asked:
- every `ping` of routing, each on a new connection (as a health check makes it), is answered
  within PING_BOUND_S (a generous deadline, well under the resolver's 10 s);
- routing's cursor on tracking is never silent for SILENT_BOUND_MS (half of one hung lookup):
  one upstream's name does not stall the following of another.
Then the gateway, in the same namespace, with notification given by a name that hangs: for
GW_DURATION_S every GET /v1/cases/<unknown> is answered by tracking (404 ENOTFOUND) through it
within PING_BOUND_S.

Without the fix (one I/O thread) the first check fails; with one I/O thread for the service's
own sockets and one shared by all its followers, the second one does; with one I/O thread in
the gateway, the third.

Needs root, unshare and mount (a mount namespace); without them it exits 77 (skipped) and says
which is missing. Its processes are stopped at its end, pass or fail, and its temp folder
removed (kept on a failure, with the logs' tails printed, like the other e2e tests); the mount
lives and dies with routing's namespace."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from whistle_e2e import BINARY_DIR, Cluster

NAME = "intake.whistle-test.invalid"   # in no /etc/hosts: only a resolver could answer it
GW_NAME = "notification.whistle-test.invalid"
DURATION_S = 15.0
GW_DURATION_S = 10.0
PING_BOUND_S = 3.0
SILENT_BOUND_MS = 5000
HEARTBEAT_MS = 200
# a loopback address of our own (all of 127/8 is loopback on Linux); port 53 needs root
RESOLVER_IP = "127.53.%d.%d" % (os.getpid() // 250 % 250 + 1, os.getpid() % 250 + 1)


def skip(why):
    print("SKIP: test_dns: " + why)
    sys.exit(77)


class BlackHole:
    """A UDP resolver that reads every query and answers none; remembers the names asked."""

    def __init__(self, ip):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 53))
        self.sock.settimeout(0.2)
        self.asked = []          # (monotonic time, name)
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @staticmethod
    def qname(data):
        labels, i = [], 12       # after the DNS header
        while i < len(data) and data[i]:
            n = data[i]
            labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        return ".".join(labels)

    def run(self):
        while not self.stopping:
            try:
                data, _ = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.asked.append((time.monotonic(), self.qname(data)))

    def first(self, name):
        return next((t for t, n in list(self.asked) if n == name), None)

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def in_hung_namespace(resolv):
    """A command prefix: the rest runs in a mount namespace of its own whose /etc/resolv.conf
    is `resolv` (unshare and sh exec it: the pid is the service's, signals reach it)."""
    return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"',
            resolv]


def stop(c, name):
    """SIGTERM, and a clean exit asked for, not a quick one: zmq_ctx_term waits for the lookups
    in progress (one per socket of the upstream at most, 10 s each here)."""
    t = time.monotonic()
    p = c.procs.pop(name)
    p.terminate()
    rc = p.wait(timeout=60)
    assert rc == 0, "FAIL: whistle-%s exited %d on SIGTERM" % (name, rc)
    print("%s stopped on SIGTERM in %.1f s (the lookups in progress are waited for)"
          % (name, time.monotonic() - t))


def tracking_cursor(pong):
    return next((c for c in pong.cursors if c.upstream == "tracking"), None)


def main():
    if os.geteuid() != 0:
        skip("needs root for a mount namespace (unshare -m, mount --bind)")
    for tool in ("unshare", "mount"):
        if not shutil.which(tool):
            skip("needs `%s` (util-linux) for a mount namespace" % tool)
    probe_dir = tempfile.mkdtemp(prefix="whistle-dns-probe-")
    try:
        resolv = os.path.join(probe_dir, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("nameserver %s\n" % RESOLVER_IP)
        probe = subprocess.run(["unshare", "-m", "sh", "-c",
                                'mount --bind "$0" /etc/resolv.conf && cat /etc/resolv.conf',
                                resolv], capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    if probe.returncode != 0 or RESOLVER_IP not in probe.stdout:
        skip("cannot bind-mount a resolv.conf in a mount namespace here (unshare -m: %s)"
             % (probe.stderr.strip() or "exit %d" % probe.returncode))

    c = Cluster(heartbeat_ms=HEARTBEAT_MS)
    hole = None
    ok = False
    try:
        resolv = os.path.join(c.tmp, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("nameserver %s\noptions timeout:5 attempts:2\n" % RESOLVER_IP)
        hole = BlackHole(RESOLVER_IP)

        # 1. routing: its intake by a name that hangs, its tracking a real one
        c.start("tracking")
        c.wait_ping("tracking")
        c.wrap["routing"] = in_hung_namespace(resolv)
        c.args["routing"] = ["--intake-api", "tcp://%s:31871" % NAME,
                             "--intake-events", "tcp://%s:31872" % NAME]
        t0 = time.monotonic()
        c.start("routing")
        c.wait(lambda: hole.first(NAME) is not None, timeout=30,
               what="routing to ask the resolver for %s (is the name short-cut before the "
                    "resolver? then this test shows nothing)" % NAME)
        t_asked = hole.first(NAME)
        print("routing asked the resolver for %s %.1f s after its start" % (NAME, t_asked - t0))

        n, worst, worst_silent = 0, 0.0, 0
        while time.monotonic() - t_asked < DURATION_S:
            t = time.monotonic()
            pong = c.ping("routing", timeout=PING_BOUND_S)
            took = time.monotonic() - t
            assert pong is not None, (
                "FAIL: routing did not answer ping within %.0f s, %.1f s after it asked a "
                "resolver that never answers for its upstream's name (ping %d)"
                % (PING_BOUND_S, t - t_asked, n + 1))
            n += 1
            worst = max(worst, took)
            cur = tracking_cursor(pong)
            assert cur is not None, "FAIL: routing's Pong has no tracking cursor: %s" % pong
            worst_silent = max(worst_silent, cur.silent_ms)
            assert cur.silent_ms < SILENT_BOUND_MS, (
                "FAIL: routing heard nothing from tracking for %d ms while intake's name hung "
                "(%.1f s in): one upstream's name stalls the following of another"
                % (cur.silent_ms, t - t_asked))
            time.sleep(0.1)
        asked = [x for x in hole.asked if x[1] == NAME]
        print("%d pings in %.0f s while %s hung (%d queries), slowest %.3f s; tracking's "
              "cursor silent at most %d ms" % (n, DURATION_S, NAME, len(asked), worst,
                                                worst_silent))
        assert len(asked) >= 2, "FAIL: the resolver was asked only once: %s" % asked
        stop(c, "routing")

        # 2. the gateway: notification by a name that hangs, tracking a real one
        c.wrap["gateway"] = in_hung_namespace(resolv)
        c.start_gateway("--notification-api", "tcp://%s:31873" % GW_NAME,
                        "--notification-events", "tcp://%s:31874" % GW_NAME)
        c.wait(lambda: hole.first(GW_NAME) is not None, timeout=30,
               what="the gateway to ask the resolver for " + GW_NAME)
        t_asked = hole.first(GW_NAME)

        def tracking_reached():
            try:
                return c.http("GET", "/v1/cases/C99999999", timeout=PING_BOUND_S)[0] == 404
            except OSError:
                return False
        # its connection to tracking is made at its start: given time, not counted
        try:
            c.wait(tracking_reached, timeout=30, what="tracking through the gateway")
        except AssertionError:
            raise AssertionError("FAIL: tracking did not answer through the gateway within 30 s "
                                 "while notification's name hung in the resolver")
        n, worst, t_start = 0, 0.0, time.monotonic()
        while time.monotonic() - t_start < GW_DURATION_S:
            t = time.monotonic()
            try:
                st, _, body = c.http("GET", "/v1/cases/C99999999", timeout=PING_BOUND_S)
            except OSError as e:
                raise AssertionError(
                    "FAIL: the gateway did not answer GET /v1/cases/C99999999 (tracking's) "
                    "within %.0f s, %.1f s after it asked a resolver that never answers for "
                    "notification's name: %s" % (PING_BOUND_S, t - t_asked, e))
            assert st == 404 and body["error"]["code"] == "ENOTFOUND", (
                "FAIL: tracking's answer did not come through the gateway while notification's "
                "name hung (%.1f s in): %s %s" % (t - t_asked, st, body))
            n += 1
            worst = max(worst, time.monotonic() - t)
            time.sleep(0.1)
        print("%d calls to tracking through the gateway in %.0f s while %s hung, slowest "
              "%.3f s" % (n, GW_DURATION_S, GW_NAME, worst))
        stop(c, "gateway")
        ok = True
    finally:
        try:
            if ok:
                c.close()
            else:
                # no SIGTERM: an exit that waits for hung lookups is not what failed here
                for name in list(c.procs):
                    c.kill9(name)
                c.fail(names=["tracking", "routing", "gateway"])
        finally:
            if hole:
                hole.close()


if __name__ == "__main__":
    main()
