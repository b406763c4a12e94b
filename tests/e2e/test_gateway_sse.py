"""whistle-gateway's live topics over Server-Sent Events (GET /v1/topics/{topic}/events):

- a department may stream its own topic only (403 before any stream for another's)
- ?from_seq=1 replays from notification, then follows live: ids 1, 2, 3 ... in order, each once
- a client that reconnects with Last-Event-ID gets every entry after it, while it was away
  too, then live: no gap, no duplicate
- without a position the stream starts live; heartbeats arrive as SSE comments
- bad positions are 400; SIGTERM with streams open stops cleanly (exit 0)
"""
import http.client
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from whistle_e2e import Cluster  # noqa: E402

KEYS = {"cg": ("cg-key-0123456789abcdef", "department"),
        "ops": ("op-key-0123456789abcdef", "operator")}


def auth(who):
    return {"Authorization": "Bearer " + KEYS[who][0]}


class Stream:
    """One SSE connection: events as (id, event, data), comments counted."""

    def __init__(self, port, path, headers):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        self.comments = 0

    def next_event(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        ev = {}
        while time.monotonic() < deadline:
            self.conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                line = self.resp.readline()
            except socket.timeout:
                break
            if not line:
                raise AssertionError("the stream ended")
            line = line.decode().rstrip("\n")
            if line.startswith(":"):
                self.comments += 1
            elif line == "":
                if ev:
                    return int(ev["id"]), ev["event"], json.loads(ev["data"])
            else:
                k, _, v = line.partition(": ")
                ev[k] = v
        raise AssertionError("no event within %.0f s" % timeout)

    def close(self):
        self.conn.close()


def submit(c, key, matter="m1"):
    rep = c.call("intake", c.submit_req(key, grid="g1", matter=matter))
    assert rep is not None and rep.WhichOneof("body") == "submit_report", rep
    return rep.submit_report.case_id


def head(c, topic):
    rep = c.replay("notification", topic, 1 << 40)
    return rep.replay.head if rep.WhichOneof("body") == "replay" else 0


def main():
    c = Cluster(no_deadlines=True)
    keys = os.path.join(c.tmp, "api-keys.txt")
    with open(keys, "w") as f:
        f.write("%s department cg\n%s operator ops\n" % (KEYS["cg"][0], KEYS["ops"][0]))
    try:
        c.start_all()
        c.start_gateway("--api-keys", keys, "--sse-heartbeat-ms", "300", open_=False)
        port = c.gw_port
        s = Stream(port, "/v1/topics/dept/scjg/events", auth("cg"))
        assert s.resp.status == 403, "another department's topic: %d" % s.resp.status
        body = json.loads(s.resp.read())
        assert body["error"]["field"] == "replay.topic", body
        s.close()
        for path, hdr, field in (
                ("/v1/topics/dept/cg/events?from_seq=0", {}, "query.from_seq"),
                ("/v1/topics/dept/cg/events", {"Last-Event-ID": "seven"}, "last-event-id")):
            s = Stream(port, path, dict(auth("cg"), **hdr))
            assert s.resp.status == 400, "%s %s: %d" % (path, hdr, s.resp.status)
            body = json.loads(s.resp.read())
            assert body["error"]["field"] == field, body
            s.close()

        for i in range(5):
            submit(c, "sse-a%d" % i)
        c.wait(lambda: head(c, "dept/cg/") >= 5, timeout=30, what="5 entries on dept/cg/")
        s = Stream(port, "/v1/topics/dept/cg/events?from_seq=1", auth("cg"))
        assert s.resp.status == 200, s.resp.status
        assert s.resp.getheader("Content-Type").startswith("text/event-stream")
        got = []
        first_head = head(c, "dept/cg/")
        while len(got) < first_head:
            got.append(s.next_event())
        for i in range(5):
            submit(c, "sse-b%d" % i)
        c.wait(lambda: head(c, "dept/cg/") >= first_head + 5, timeout=30, what="5 more")
        while len(got) < first_head + 5:
            got.append(s.next_event())
        ids = [g[0] for g in got]
        assert ids == list(range(1, len(got) + 1)), ids
        for i, ev, data in got:
            assert data["stream"] == "dept/cg/" and data["seq"] == i and ev in data, (i, ev, data)
        # a heartbeat comment within a few periods
        c.wait(lambda: _comment(s), timeout=10, what="a heartbeat comment")
        last = ids[-1]
        s.close()

        # away: more entries; back with Last-Event-ID: every one after it, then live
        for i in range(4):
            submit(c, "sse-c%d" % i)
        c.wait(lambda: head(c, "dept/cg/") >= last + 4, timeout=30, what="4 while away")
        s = Stream(port, "/v1/topics/dept/cg/events", dict(auth("cg"), **{"Last-Event-ID": str(last)}))
        back = [s.next_event() for _ in range(head(c, "dept/cg/") - last)]
        submit(c, "sse-d0")
        back.append(s.next_event())
        assert [b[0] for b in back] == list(range(last + 1, last + 1 + len(back))), \
            [b[0] for b in back]

        # live only: nothing old, the next new one
        live = Stream(port, "/v1/topics/dept/cg/events", auth("cg"))
        h0 = head(c, "dept/cg/")
        c.wait(lambda: _comment(live), timeout=10, what="the live stream to open")
        submit(c, "sse-e0")
        ev = live.next_event()
        assert ev[0] == h0 + 1, (ev[0], h0)
        assert s.next_event()[0] == h0 + 1  # the resumed one goes on too
        # an operator reads all/
        a = Stream(port, "/v1/topics/all/events?from_seq=1", auth("ops"))
        assert a.next_event()[0] == 1
        # SIGTERM with streams open: a clean stop (c.stop asserts exit 0)
        c.stop("gateway")
        for x in (s, live, a):
            x.close()
        print("sse: ok (%d entries streamed on dept/cg/)" % h0)
    except BaseException:
        c.fail(["gateway", "notification"])
        raise
    c.close()
    print("ok")


def _comment(s):
    """Reads one line if one is there; True when it was a comment."""
    s.conn.sock.settimeout(0.5)
    try:
        line = s.resp.readline()
    except socket.timeout:
        return False
    if line.startswith(b":"):
        s.comments += 1
        return True
    return False


if __name__ == "__main__":
    main()
