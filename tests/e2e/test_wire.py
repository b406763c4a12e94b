"""Bad input over the wire, from another process and language: each refused with an error
naming the field, nothing logged, and the service keeps serving. Also: a REQ client (with its
empty delimiter frame) is served like a DEALER, and --help / SIGTERM behave."""
import os
import subprocess

import zmq

from whistle_e2e import BINARY_DIR, SERVICES, Cluster


def main():
    c = Cluster()
    pb = c.pb
    try:
        c.start_all()
        cases = [
            ("missing idempotency key", c.submit_req(""), "idempotency_key"),
            ("unknown grid", c.submit_req("k1", grid="g999"), "report.grid"),
            ("unknown matter", c.submit_req("k2", matter="m999"), "report.matter"),
            ("empty description", c.submit_req("k3", description=""), "report.description"),
            ("empty reporter", c.submit_req("k4", reporter=""), "report.reporter"),
        ]
        for what, req, field in cases:
            rep = c.call("intake", req)
            assert rep is not None, what
            assert rep.WhichOneof("body") == "error", (what, rep)
            assert rep.error.field == field, (what, rep.error)
            assert rep.error.message, what

        # invalid UTF-8: Google's protobuf will not serialize it, so write the bytes by hand
        raw = c.submit_req("k5", description="PLACEHOLDER").SerializeToString()
        raw = raw.replace(b"PLACEHOLDER", b"\xff\xfe\xc3\x28invalid")
        sock = c.client("intake")
        sock.send(raw)
        assert sock.poll(5000), "no reply to invalid UTF-8"
        rep = pb.Reply.FromString(sock.recv())
        assert rep.error.field == "report.description", rep

        # truncated protobuf
        good = c.submit_req("k6").SerializeToString()
        sock.send(good[:len(good) // 2])
        assert sock.poll(5000)
        rep = pb.Reply.FromString(sock.recv())
        assert rep.WhichOneof("body") == "error" and rep.error.field.startswith("request") or \
            rep.error.field.startswith("report"), rep

        # oversized: above the request bound, refused by name
        sock.send(b"\x00" * (70 * 1024))
        assert sock.poll(5000)
        rep = pb.Reply.FromString(sock.recv())
        assert rep.error.field == "request" and "65536" in rep.error.message, rep
        # above ZMQ_MAXMSGSIZE: the connection is dropped, the service lives on
        sock.send(b"\x00" * (2 * 1024 * 1024))
        sock.close(0)
        for s in SERVICES:
            assert c.ping(s) is not None, "%s stopped serving" % s
        assert c.ping("intake").head == 0, "a refused report reached the log"

        # a REQ socket (empty delimiter frame) is served too
        req_sock = c.ctx.socket(zmq.REQ)
        req_sock.setsockopt(zmq.LINGER, 0)
        req_sock.connect(c.api("intake"))
        req_sock.send(c.submit_req("req-socket").SerializeToString())
        assert req_sock.poll(5000), "no reply to a REQ client"
        rep = pb.Reply.FromString(req_sock.recv())
        assert rep.submit_report.case_id == "C00000001", rep
        req_sock.close(0)

        # unknown case and wrong department name the field
        rep = c.call("tracking", c.action_req("C404", pb.CHECKIN, department="cg"))
        assert rep.error.field == "case_action.case_id", rep
        c.wait(lambda: c.ping("tracking").head >= 1, what="dispatch")
        rep = c.call("tracking", c.action_req("C00000001", pb.CHECKIN, department="yjgl"))
        assert rep.error.field == "case_action.department" and "not assigned" in rep.error.message

        # replay of a topic that does not exist yet: empty, head 0
        req = pb.Request()
        req.replay.topic = "dept/nobody/"
        req.replay.from_seq = 1
        rep = c.call("notification", req)
        assert rep.replay.head == 0 and len(rep.replay.entries) == 0, rep

        # SIGTERM stops each service cleanly (exit 0), and it comes back with its log intact
        c.stop("intake")
        c.start("intake")
        c.wait_ping("intake")
        assert c.ping("intake").head == 1

        out = subprocess.run([os.path.join(BINARY_DIR, "services", "whistle-routing"), "--help"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and "--intake-api" in out.stdout and "SIGTERM" in out.stdout
        out = subprocess.run([os.path.join(BINARY_DIR, "services", "whistle-intake"), "--bogus"],
                             capture_output=True, text=True)
        assert out.returncode == 2 and "--help" in out.stderr, out
        out = subprocess.run([os.path.join(BINARY_DIR, "services", "whistle-intake"),
                              "--catalog", "/nonexistent.json", "--data", c.tmp + "/x"],
                             capture_output=True, text=True)
        assert out.returncode == 1 and "/nonexistent.json" in out.stderr, out
        print("wire: bad input refused by field name; services kept serving")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
