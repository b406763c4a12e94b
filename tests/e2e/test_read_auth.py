"""Every read is authorised, and a key removed from the allowlist is cut off (keys on):

- GetCase: a department reads the cases it is or was assigned to (a returned order too), not
  another department's (EFORBIDDEN naming get_case.case_id); a township its own unit's, not
  another township's; an integrator what it submitted: intake records the key's code in
  report.source and refuses a report naming another source (report.source);
- ListCases: a department lists its own cases only (another department's filter is refused
  naming list_cases.department), a township its own (another unit or grid refused), an
  integrator what it submitted; paging with limit 1 returns exactly those, each once;
- Figures: a department sees its own row only, a township its own unit's or grids' rows, other
  groupings and integrators are refused naming figures.by; Visits: a township sees its grids'
  rows only, another township's grid, departments and integrators are refused (visits.grid);
- a department whose key is removed from allow.txt stops receiving on its open subscription
  and gets no answer on its open request connection within a few seconds, while another
  department's subscriber keeps receiving live entries."""
import os
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from whistle_e2e import SERVICES, Cluster

FORBIDDEN = -1004


def read_key(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith(("public-key ", "secret-key ")):
                k, v = line.split()
                out[k] = v.encode()
    return out


class Keyed:
    """A keyed cluster: one key pair per name, the allowlist, and keyed sockets."""

    KINDS = {"operator": "operator operator", "app": "integrator app",
             "hotline": "integrator hotline", "cg": "department cg", "cgj": "department cgj",
             "yjgl": "department yjgl", "north": "township north", "south": "township south"}

    def __init__(self, c):
        self.c = c
        kd = os.path.join(c.tmp, "keys")
        os.makedirs(kd)
        names = ["server"] + list(self.KINDS) + SERVICES
        for n in names:
            c.ctl("keygen", os.path.join(kd, n))
        self.keys = {n: read_key(os.path.join(kd, n + ".key")) for n in names}
        self.allow = os.path.join(kd, "allow.txt")
        self.listed = dict(self.KINDS)
        self.listed.update({s: "service " + s for s in SERVICES})
        self.write_allow()
        for s in SERVICES:
            c.extra[s] = ["--keys", os.path.join(kd, "server.key"), "--allow", self.allow]
            if s != "intake":
                c.extra[s] += ["--service-key", os.path.join(kd, s + ".key")]

    def write_allow(self):
        tmp = self.allow + ".new"
        with open(tmp, "w") as f:
            for n, who in self.listed.items():
                f.write("%s %s\n" % (self.keys[n]["public-key"].decode(), who))
        os.replace(tmp, self.allow)

    def sock(self, kind, name, who):
        s = self.c.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        # a key refused by the ZAP handler ends the session for good (libzmq does not retry
        # after an authentication failure): a DEALER left without a peer would block in send
        s.setsockopt(zmq.SNDTIMEO, 1000)
        s.curve_serverkey = self.keys["server"]["public-key"]
        s.curve_publickey = self.keys[who]["public-key"]
        s.curve_secretkey = self.keys[who]["secret-key"]
        s.connect(self.c.api(name) if kind == zmq.DEALER else self.c.events(name))
        return s

    def call(self, name, req, who, timeout=5.0, sock=None):
        """The reply, or None when there is none (or the request cannot even be sent)."""
        own = sock is None
        s = sock or self.sock(zmq.DEALER, name, who)
        try:
            return self.c.call(name, req, timeout=timeout, sock=s)
        except zmq.Again:
            return None
        finally:
            if own:
                s.close(0)


def refused(rep, field):
    assert rep is not None, "no answer"
    assert rep.WhichOneof("body") == "error", rep
    assert rep.error.code == FORBIDDEN and rep.error.field == field, rep.error
    assert rep.error.message, rep.error


def main():
    c = Cluster()
    k = Keyed(c)
    pb = c.pb

    def get(cid, who):
        req = pb.Request()
        req.get_case.case_id = cid
        return k.call("tracking", req, who)

    def list_all(who, **filters):
        """Every page of ListCases with limit 1: the ids, or the first error reply."""
        ids, after = [], ""
        while True:
            req = pb.Request()
            for f, v in filters.items():
                setattr(req.list_cases, f, v)
            req.list_cases.limit = 1
            req.list_cases.after_case_id = after
            rep = k.call("tracking", req, who)
            assert rep is not None, "no answer to ListCases"
            if rep.WhichOneof("body") == "error":
                return rep
            ids += [x.id for x in rep.list_cases.cases]
            assert len(rep.list_cases.cases) <= 1, rep
            if not rep.list_cases.next_after:
                return ids
            after = rep.list_cases.next_after

    def figures(who, by, unit=""):
        req = pb.Request()
        req.figures.period = time.strftime("%Y")
        req.figures.by = by
        req.figures.unit = unit
        return k.call("tracking", req, who)

    def bulletin(who, unit=""):
        req = pb.Request()
        req.bulletin.period = time.strftime("%Y-%m")
        req.bulletin.unit = unit
        return k.call("tracking", req, who)

    def visits(who, grid=""):
        req = pb.Request()
        req.visits.week = time.strftime("%G-W%V")
        req.visits.grid = grid
        return k.call("tracking", req, who)

    def submit(key, who, grid, matter, source=""):
        req = c.submit_req(key, grid=grid, matter=matter)
        req.submit_report.report.source = source
        return k.call("intake", req, who)

    def head(topic, who):
        req = pb.Request()
        req.replay.topic = topic
        req.replay.from_seq = 1
        req.replay.max = 1
        rep = k.call("notification", req, who)
        assert rep is not None and rep.WhichOneof("body") == "replay", rep
        return rep.replay.head

    def served(sub, topic, who, cid, after, timeout):
        """Case `cid`'s entry on `topic` reaches subscriber `sub` as a department system gets
        it: live, or, when a heartbeat says the topic moved past `after` (a live message
        lost while a connection was re-made), by Replay. "live", "replay" or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not sub.poll(int(max(1, (deadline - time.monotonic()) * 1000))):
                continue
            _, body = sub.recv_multipart()
            env = pb.Envelope.FromString(body)
            if env.WhichOneof("payload") != "heartbeat":
                if env.correlation_id == cid:
                    return "live"
            elif env.heartbeat.head > after:
                req = pb.Request()
                req.replay.topic = topic
                req.replay.from_seq = after + 1
                rep = k.call("notification", req, who)
                if rep is not None and rep.WhichOneof("body") == "replay" and \
                        any(e.correlation_id == cid for e in rep.replay.entries):
                    return "replay"
        return None

    def event(mon, ev, timeout):
        """Waits for event `ev` on the monitor `mon`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and \
                mon.poll(int(max(1, (deadline - time.monotonic()) * 1000))):
            if recv_monitor_message(mon)["event"] == ev:
                return True
        return False

    def reconnected(mon, timeout):
        """Waits for a disconnect, then a new handshake, on the monitor `mon`."""
        want = [zmq.EVENT_DISCONNECTED, zmq.EVENT_HANDSHAKE_SUCCEEDED]
        deadline = time.monotonic() + timeout
        while want and time.monotonic() < deadline and \
                mon.poll(int(max(1, (deadline - time.monotonic()) * 1000))):
            if recv_monitor_message(mon)["event"] == want[0]:
                want.pop(0)
        return not want

    try:
        for s in SERVICES:
            c.start(s)
        c.wait(lambda: all(k.call(s, ping_req(pb), "operator", 0.5) for s in SERVICES),
               timeout=20, what="keyed services answering the operator")

        # ---- intake records the submitting key in report.source ----------------------------
        refused(submit("ra-x", "app", "g1", "m1", source="hotline"), "report.source")
        a = submit("ra-a", "app", "g1", "m1", source="app").submit_report.case_id  # cg, north
        b = submit("ra-b", "hotline", "g3", "m3").submit_report.case_id  # yjgl, south
        cc = submit("ra-c", "app", "g3", "m4").submit_report.case_id  # cg cgj scjg, south
        c.wait(lambda: all(get(x, "operator").WhichOneof("body") == "get_case"
                           for x in (a, b, cc)), timeout=30, what="three cases in tracking")
        assert get(a, "operator").get_case.case.report.source == "app"
        assert get(b, "operator").get_case.case.report.source == "hotline"

        # ---- GetCase ---------------------------------------------------------------------
        refused(get(b, "cg"), "get_case.case_id")   # only yjgl is on b
        assert get(a, "cg").get_case.case.id == a
        assert get(b, "yjgl").get_case.case.id == b
        refused(get(b, "north"), "get_case.case_id")
        assert get(a, "north").get_case.case.id == a
        assert get(b, "south").get_case.case.id == b
        refused(get(a, "south"), "get_case.case_id")
        assert get(a, "app").get_case.case.id == a
        refused(get(b, "app"), "get_case.case_id")
        assert get(b, "hotline").get_case.case.id == b
        refused(get(a, "hotline"), "get_case.case_id")
        # a department that returned its order still reads the case it was on
        ret = k.call("tracking", c.action_req(cc, pb.RETURN, department="cgj",
                                              note="not ours"), "cgj")
        assert ret.WhichOneof("body") == "case_action", ret
        assert get(cc, "cgj").get_case.case.id == cc

        # ---- ListCases: filtered, refused, paged -------------------------------------------
        assert list_all("cg") == [a, cc], list_all("cg")
        assert list_all("cg", department="cg") == [a, cc]
        refused(list_all("cg", department="cgj"), "list_cases.department")
        assert list_all("cgj") == [cc]
        assert list_all("north") == [a]
        assert list_all("south") == [b, cc]
        assert list_all("south", grid="g3") == [b, cc]
        refused(list_all("north", unit="south"), "list_cases.unit")
        refused(list_all("north", grid="g3"), "list_cases.grid")
        assert list_all("app") == [a, cc], list_all("app")   # b lies between: skipped
        assert list_all("hotline") == [b]
        assert list_all("operator") == [a, b, cc]

        # ---- Figures ----------------------------------------------------------------------
        rep = figures("cg", "department")
        assert [r.key for r in rep.figures.rows] == ["cg"], rep
        assert [r.key for r in figures("operator", "department").figures.rows if r.key == "cg"]
        refused(figures("cg", "township"), "figures.by")
        refused(figures("cg", "grid"), "figures.by")
        assert [r.key for r in figures("south", "township").figures.rows] == ["south"]
        assert [r.key for r in figures("north", "grid").figures.rows] == ["g1"]
        refused(figures("north", "department"), "figures.unit")
        refused(figures("app", "department"), "figures.by")
        assert len(figures("operator", "township").figures.rows) == 2
        # 考核监督下放至乡街: a township reads every department over its own cases, only its own
        rows = [r.key for r in figures("south", "department", "south").figures.rows]
        assert "yjgl" in rows and "cg" in rows, rows
        refused(figures("south", "department", "north"), "figures.unit")
        refused(figures("north", "township", "south"), "figures.unit")
        assert [r.key for r in figures("north", "township", "north").figures.rows] == ["north"]
        # the bulletin: the district's office any, a township its own unit's
        rep = bulletin("south", "south")
        assert rep.WhichOneof("body") == "bulletin", rep
        assert {x.key for x in rep.bulletin.departments.rows} >= {"yjgl", "cg"}, rep
        refused(bulletin("south"), "bulletin.unit")
        refused(bulletin("south", "north"), "bulletin.unit")
        refused(bulletin("cg"), "bulletin")
        refused(bulletin("app", "south"), "bulletin")
        assert bulletin("operator").WhichOneof("body") == "bulletin"

        # ---- Visits -----------------------------------------------------------------------
        for grid, staff in (("g1", "王一"), ("g3", "吴九")):
            req = pb.Request()
            req.log_visit.grid = grid
            req.log_visit.staff = staff
            req.log_visit.minutes = 30
            assert k.call("tracking", req, "operator").WhichOneof("body") == "log_visit"
        rep = visits("north")
        assert {r.grid for r in rep.visits.rows} == {"g1", "g2"}, rep
        assert rep.visits.short_count == 8, rep    # 2 grids x 4 staff, all under 5 hours
        assert {r.grid for r in visits("operator").visits.rows} == {"g1", "g2", "g3", "g4",
                                                                    "g5", "g6"}
        refused(visits("north", "g3"), "visits.grid")
        refused(visits("cg"), "visits.grid")
        refused(visits("app", "g1"), "visits.grid")

        # ---- a key removed from the allowlist is cut off --------------------------------
        sub_cg = k.sock(zmq.SUB, "notification", "cg")
        sub_cg.setsockopt(zmq.SUBSCRIBE, b"dept/cg/")
        mon_cg = sub_cg.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        sub_cgj = k.sock(zmq.SUB, "notification", "cgj")
        sub_cgj.setsockopt(zmq.SUBSCRIBE, b"dept/cgj/")
        mon_cgj = sub_cgj.get_monitor_socket(zmq.EVENT_DISCONNECTED |
                                             zmq.EVENT_HANDSHAKE_SUCCEEDED)
        open_cg = {s: k.sock(zmq.DEALER, s, "cg") for s in ("tracking", "notification")}
        for s in (sub_cg, sub_cgj):   # heartbeats prove the subscriptions are in
            assert s.poll(10000), "no heartbeat on a department's topic"
        heads = {t: head(t, w) for t, w in (("dept/cg/", "cg"), ("dept/cgj/", "cgj"))}
        d1 = submit("ra-d1", "app", "g1", "m4").submit_report.case_id
        assert served(sub_cg, "dept/cg/", "cg", d1, heads["dept/cg/"], 30), "cg: no d1"
        assert served(sub_cgj, "dept/cgj/", "cgj", d1, heads["dept/cgj/"], 30), "cgj: no d1"
        for s, so in open_cg.items():
            assert k.call(s, ping_req(pb), "cg", sock=so) is not None, "cg not answered on " + s
        after = head("dept/cgj/", "cgj")

        del k.listed["cg"]
        k.write_allow()
        # every service cuts its connections: cg's subscription reconnects and is refused
        # (libzmq then stops trying), its open request connections are not answered any more
        assert event(mon_cg, zmq.EVENT_HANDSHAKE_FAILED_AUTH, 10), "cg's subscription not cut"
        while sub_cg.poll(0):   # what reached it before the cut
            sub_cg.recv_multipart()
        for s, so in open_cg.items():
            c.wait(lambda: k.call(s, ping_req(pb), "cg", 0.5, sock=so) is None, timeout=10,
                   what="cg's open connection to %s being cut" % s)
        assert k.call("tracking", ping_req(pb), "cg", 1.0) is None, "a new cg connection answered"
        # cgj was cut too, comes back by itself and keeps being served
        assert reconnected(mon_cgj, 10), "cgj's subscriber not reconnected after the cut"
        d2 = submit("ra-d2", "app", "g1", "m4").submit_report.case_id
        how = served(sub_cgj, "dept/cgj/", "cgj", d2, after, 30)
        assert how, "cgj stopped receiving after cg's key was removed"
        assert not sub_cg.poll(1000), "cg still receives after its key was removed"
        assert "refused key %s" % k.keys["cg"]["public-key"].decode() in c.log("notification")
        sub_cg.disable_monitor()
        sub_cgj.disable_monitor()
        for s in [mon_cg, mon_cgj, sub_cg, sub_cgj] + list(open_cg.values()):
            s.close(0)
        print("cgj got the entry after the cut: %s" % how)
        print("read auth: cases, lists, figures and visits by key; a removed key is cut off")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


def ping_req(pb):
    req = pb.Request()
    req.ping.SetInParent()
    return req


if __name__ == "__main__":
    main()
