#!/usr/bin/env python3
"""A department system for whistle, in Python: it reports for duty (报到) on every order.

It follows its department's topic on whistle-notification (dept/<code>/) with the algorithm of
docs/topics.md: subscribe first, replay from its cursor + 1 until the head, then follow live,
replaying again on a gap in the sequence or when a heartbeat shows the head ahead; it keeps
its cursor in a file, replaced atomically after each entry. For each entry that puts an
order on the department (a DISPATCH naming it, an ASSIGN or ESCALATE that adds it, a reopen
that puts it back to NOTIFIED) it sends CaseAction{CHECKIN} to whistle-tracking. A check-in
tracking refuses because the department already checked in is a repeat (entries are applied
again after a crash, or replayed from before a later change) and is only noted.

Needs pyzmq and protobuf (Debian: python3-zmq python3-protobuf) and the classes Google's
protoc generates from proto/ (never committed): put them on PYTHONPATH, or leave it to this
script, which runs protoc into a temporary folder when `whistle.v1.whistle_pb2` is missing.

    python3 examples/department.py --dept cg --cursor cg.cursor

Exit status: 0 stopped by SIGINT/SIGTERM or --idle-exit, 1 its cursor is older than the
topic's retention (entries were lost to it; --from-oldest goes on), 2 usage.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
EGONE, ESTATE = -1014, -1003          # common/include/whistle/error.h
REPLAY_MAX = 512
QUIET_S = 5.0                         # nothing heard for this long: replay anyway


def load_pb2():
    """whistle_pb2 from PYTHONPATH, or generated now by protoc from ../proto."""
    try:
        from whistle.v1 import whistle_pb2
        return whistle_pb2
    except ImportError:
        pass
    out = tempfile.mkdtemp(prefix="whistle-pb2-")
    proto = os.path.join(HERE, "..", "proto")
    subprocess.run(["protoc", "-I", proto, "--python_out", out,
                    os.path.join(proto, "whistle", "v1", "whistle.proto")], check=True)
    sys.path.insert(0, out)
    from whistle.v1 import whistle_pb2
    return whistle_pb2


class Gone(Exception):
    """The cursor is older than what the topic keeps."""

    def __init__(self, oldest):
        super().__init__("oldest is %d" % oldest)
        self.oldest = oldest


class Department:
    def __init__(self, pb, args):
        self.pb = pb
        self.dept = args.dept
        self.topic = "dept/%s/" % args.dept
        self.cursor_path = args.cursor
        self.timeout_ms = args.timeout_ms
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, self.topic.encode())
        self.sub.connect(args.notification_events)
        self.notification = self.dealer(args.notification_api)
        self.tracking = self.dealer(args.tracking_api)
        self.request_id = int(time.time() * 1000) << 16
        self.cursor, self.have_cursor = self.load_cursor()
        self.checked_in = 0

    def dealer(self, endpoint):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        return s

    def close(self):
        self.ctx.destroy(linger=0)

    # ---- the cursor: the last sequence applied, in a file replaced atomically ------------

    def load_cursor(self):
        try:
            with open(self.cursor_path) as f:
                return int(f.read()), True
        except FileNotFoundError:
            return 0, False

    def save_cursor(self):
        tmp = self.cursor_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % self.cursor)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.cursor_path)

    # ---- requests ------------------------------------------------------------------------

    def call(self, sock, req):
        """One request, its reply; None when none came within the timeout."""
        self.request_id += 1
        req.request_id = self.request_id
        sock.send(req.SerializeToString())
        deadline = time.monotonic() + self.timeout_ms / 1000.0
        while time.monotonic() < deadline:
            if sock.poll(max(1, int((deadline - time.monotonic()) * 1000))):
                rep = self.pb.Reply.FromString(sock.recv())
                if rep.request_id == req.request_id:
                    return rep
        return None

    def replay(self):
        """Applies the entries after the cursor up to the head. True when caught up."""
        req = self.pb.Request()
        req.replay.topic = self.topic
        req.replay.from_seq = self.cursor + 1
        req.replay.max = REPLAY_MAX
        rep = self.call(self.notification, req)
        if rep is None:
            log("no reply from notification; retrying")
            return False
        if rep.WhichOneof("body") == "error":
            if rep.error.code == EGONE:
                raise Gone(rep.error.oldest)
            raise RuntimeError("replay refused: %s: %s" % (rep.error.field, rep.error.message))
        for e in rep.replay.entries:
            if e.seq == self.cursor + 1 and not self.apply(e):
                return False
        return self.cursor >= rep.replay.head

    # ---- what this department does with an entry -------------------------------------------

    def apply(self, e):
        """Acts on entry `e` (the next one), then moves the cursor. False when it could not
        act (tracking did not answer): the cursor stays, the entry is applied again later."""
        if e.WhichOneof("payload") == "case_updated" and self.order_for_us(e.case_updated):
            if not self.check_in(e.case_updated.case.id, e.seq):
                return False
        self.cursor = e.seq
        self.save_cursor()
        return True

    def order_for_us(self, u):
        A = self.pb.Action
        mine = [a for a in u.case.assignments if a.department == self.dept]
        if not mine or mine[0].state != self.pb.NOTIFIED:
            return False
        if u.entry.action in (A.DISPATCH, A.ASSIGN, A.ESCALATE):
            return True
        return u.entry.action == A.VERIFY and u.entry.to_state == self.pb.REOPENED

    def check_in(self, case_id, seq):
        req = self.pb.Request()
        a = req.case_action
        a.case_id = case_id
        a.action = self.pb.CHECKIN
        a.actor = self.dept
        a.department = self.dept
        a.note = "checked in by examples/department.py"
        rep = self.call(self.tracking, req)
        if rep is None:
            log("no reply from tracking for %s; will try again" % case_id)
            return False
        if rep.WhichOneof("body") == "case_action":
            self.checked_in += 1
            log("%s checked in (%s%d)" % (case_id, self.topic, seq))
        elif rep.error.code == ESTATE:
            log("%s: already moved on (%s)" % (case_id, rep.error.message))
        else:
            log("%s: check-in refused: %s: %s" % (case_id, rep.error.field, rep.error.message))
        return True

    # ---- the loop: replay until the head, then live; replay again on a gap -----------------

    def run(self, stop, idle_exit_s=None, from_oldest=False):
        need_replay, last_heard, last_new = True, time.monotonic(), time.monotonic()
        while not stop():
            now = time.monotonic()
            if need_replay or now - last_heard > QUIET_S:
                before = self.cursor
                try:
                    need_replay = not self.replay()
                except Gone as g:
                    if self.have_cursor and not from_oldest:
                        log("gone: oldest is %d: entries %d..%d of %s are older than the "
                            "retention; resynchronise from tracking, or run with --from-oldest"
                            % (g.oldest, self.cursor + 1, g.oldest - 1, self.topic))
                        return 1
                    if self.have_cursor:
                        log("entries %d..%d of %s are gone; going on from %d" %
                            (self.cursor + 1, g.oldest - 1, self.topic, g.oldest))
                    self.cursor, need_replay = g.oldest - 1, True
                    continue
                last_heard = time.monotonic()
                if self.cursor != before:
                    last_new = last_heard
                if need_replay:
                    time.sleep(0.05 if self.cursor == before else 0)
                continue
            if self.sub.poll(200):
                while True:
                    try:
                        topic, body = self.sub.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    e = self.pb.Envelope.FromString(body)
                    if e.stream != self.topic:
                        continue
                    last_heard = time.monotonic()
                    if e.WhichOneof("payload") == "heartbeat":
                        need_replay = need_replay or e.heartbeat.head > self.cursor
                    elif e.seq == self.cursor + 1:
                        if not self.apply(e):
                            need_replay = True
                            break
                        last_new = last_heard
                    elif e.seq > self.cursor + 1:
                        need_replay = True        # a gap: entries were dropped for us
            if idle_exit_s is not None and time.monotonic() - last_new > idle_exit_s:
                return 0
        return 0


def log(msg):
    print(msg, flush=True)


def main():
    env = os.environ.get
    p = argparse.ArgumentParser(description="A department system: checks in on every order "
                                            "on its whistle topic.")
    p.add_argument("--dept", required=True, help="department code from the catalog, e.g. cg")
    p.add_argument("--cursor", help="file keeping the last sequence applied "
                                    "(default: <dept>.cursor)")
    p.add_argument("--from-oldest", action="store_true",
                   help="when the cursor is older than the retention, go on from the oldest")
    p.add_argument("--idle-exit", type=int, metavar="MS",
                   help="exit after MS without a new entry (default: run until SIGTERM)")
    p.add_argument("--timeout-ms", type=int, default=5000)
    p.add_argument("--notification-api",
                   default=env("WHISTLE_NOTIFICATION_API") or "tcp://127.0.0.1:7130")
    p.add_argument("--notification-events",
                   default=env("WHISTLE_NOTIFICATION_EVENTS") or "tcp://127.0.0.1:7131")
    p.add_argument("--tracking-api", default=env("WHISTLE_TRACKING_API") or "tcp://127.0.0.1:7120")
    args = p.parse_args()
    args.cursor = args.cursor or "%s.cursor" % args.dept
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    d = Department(load_pb2(), args)
    log("department %s on %s from %d" % (args.dept, d.topic, d.cursor + 1))
    try:
        rc = d.run(lambda: bool(stopping),
                   None if args.idle_exit is None else args.idle_exit / 1000.0,
                   args.from_oldest)
    finally:
        d.close()
    log("department %s stopped at %s%d, %d check-in(s)" % (args.dept, d.topic, d.cursor,
                                                           d.checked_in))
    return rc


if __name__ == "__main__":
    sys.exit(main())
