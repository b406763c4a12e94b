"""No silent divergence (issue 8, point 8).

Tracking's data is lost while notification lags behind routing:
1. `whistle-tracking --rebuild` refuses: routing has applied more of tracking's log than
   notification's all/ holds, and a rebuilt tracking would give those sequences to other
   events.
2. A tracking started on an empty folder anyway (head 0, below what notification applied):
   notification's follower stops with a clear error (Ping says why, whistlectl ping exits 3)
   instead of skipping the new tracking's entries and then mixing its later ones in."""
import os
import shutil
import sys

from whistle_e2e import Cluster


def main():
    c = Cluster(heartbeat_ms=100)
    pb = c.pb
    A = pb.Action
    try:
        c.start_all()
        reps = c.call_many("intake", [c.submit_req("d-%d" % i) for i in range(5)])
        ids = [r.submit_report.case_id for r in reps]
        c.wait(lambda: c.ping("notification").cursors[0].seq == 5, what="fan-out")

        # notification is down; tracking goes on and routing follows it
        c.stop("notification")
        for cid in ids:
            case = c.get_case(cid).get_case.case
            for a in case.assignments:
                r = c.call("tracking", c.action_req(cid, A.CHECKIN, department=a.department))
                assert r.WhichOneof("body") == "case_action", r
        head = c.ping("tracking").head
        assert head > 5, head
        c.wait(lambda: [x.seq for x in c.ping("routing").cursors if x.upstream == "tracking"]
               == [head], what="routing to follow tracking")

        # tracking's data is lost
        c.kill9("tracking")
        shutil.rmtree(os.path.join(c.tmp, "tracking"))
        c.start("notification")
        c.wait_ping("notification")
        c.start("tracking", "--rebuild")
        c.wait(lambda: c.procs["tracking"].poll() is not None, timeout=20, what="the refusal")
        assert c.procs.pop("tracking").returncode != 0
        log = c.log("tracking")
        assert "rebuild: refused: routing has applied tracking's log up to %d" % head in log, log

        # started anyway on an empty folder (routing down, so it re-derives nothing)
        c.stop("routing")
        shutil.rmtree(os.path.join(c.tmp, "tracking"), ignore_errors=True)
        c.start("tracking")
        c.wait_ping("tracking")
        c.wait(lambda: c.ping("notification").cursors[0].stopped != "", timeout=10,
               what="notification's follower to stop")
        pong = c.ping("notification")
        assert "tracking" in pong.cursors[0].stopped and "rebuilt or replaced" in \
            pong.cursors[0].stopped, pong
        assert pong.cursors[0].seq == 5, pong
        # the new tracking logs entries past notification's cursor: none of them is mixed in
        for i in range(8):
            req = pb.Request()
            req.log_visit.grid = "g1"
            req.log_visit.staff = "王一"
            req.log_visit.minutes = 30
            r = c.call("tracking", req)
            assert r.WhichOneof("body") == "log_visit", r
        assert c.ping("tracking").head >= 8
        all_head = c.ping("notification").head
        c.wait(lambda: c.ping("notification").cursors[0].upstream_head >= 8, timeout=10,
               what="notification to hear of the new head")
        pong = c.ping("notification")
        assert pong.cursors[0].seq == 5 and pong.head == all_head, pong
        out = c.ctl("ping", rc=3)
        assert "STOPPED following tracking" in out.stdout, out.stdout
        print("ok: rebuild refused; a replaced upstream stops its follower, which says why")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    sys.exit(main())
