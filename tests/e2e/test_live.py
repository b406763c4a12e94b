"""A subscriber that keeps up misses nothing live, however fast cases come (issue 13, point 3).

A SUB on notification's events, subscribed to every department's topics ("dept/"), reads as
fast as libzmq does (no receive high-water mark: it keeps up by construction) while N reports
are pipelined into intake as fast as it takes them, so notification runs behind and commits
big batches. Every entry of every dept/<code>/ topic must then have arrived live, exactly once:
the live sequence numbers of each topic are 1..head with no gap, none recovered by replay.

Without a bound on what one batch publishes at once, a saturated batch put more in front of
this subscriber than notification's per-subscriber high-water mark and ZeroMQ dropped the rest
(10-15% of the entries in bench/run.sh's saturating mode). N is the first argument."""
import sys
import threading
import time

import zmq

from whistle_e2e import Cluster

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
DEPTS = ("cg", "cgj", "scjg", "yjgl", "dcs")  # tests/data/catalog-small.json


def main():
    c = Cluster(no_deadlines=True)
    got = []  # (topic, packed envelope), in arrival order
    stop = threading.Event()
    ready = threading.Event()

    def subscriber():
        s = c.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVHWM, 0)
        s.setsockopt(zmq.SUBSCRIBE, b"dept/")
        # all/ until its first heartbeat: subscriptions reach the XPUB in order, so that
        # heartbeat proves dept/ is in place before the first report
        s.setsockopt(zmq.SUBSCRIBE, b"all/")
        s.connect(c.events("notification"))
        while not stop.is_set():
            if not s.poll(100):
                continue
            topic, data = s.recv_multipart()
            if topic == b"all/":
                if not ready.is_set():
                    s.setsockopt(zmq.UNSUBSCRIBE, b"all/")
                    ready.set()
                continue
            got.append((topic.decode(), data))
        s.close(0)

    t = threading.Thread(target=subscriber, daemon=True)
    try:
        c.start_all()
        t.start()
        assert ready.wait(20), "no heartbeat from notification on all/"
        t0 = time.monotonic()
        reqs = [c.submit_req("live-%d" % i, "g%d" % (i % 6 + 1), "m%d" % (i % 5 + 1), "事项", "r")
                for i in range(N)]
        for r in c.call_many("intake", reqs, window=4000, timeout=900):
            assert r.WhichOneof("body") == "submit_report", r
        print("%d reports accepted in %.1f s" % (N, time.monotonic() - t0))

        def heads():
            out = {}
            for d in DEPTS:
                rep = c.replay("notification", "dept/%s/" % d, 1 << 62)
                assert rep.WhichOneof("body") == "replay", rep
                out["dept/%s/" % d] = rep.replay.head
            return out

        def seqs():
            by = {}
            for topic, data in list(got):
                e = c.pb.Envelope.FromString(data)
                if e.seq:  # 0: a heartbeat
                    by.setdefault(topic, []).append(e.seq)
            return by

        # every case reaches tracking and notification: then the heads stop moving and the
        # last entry of each topic has arrived (or never will: a drop at the very end)
        last, still = None, 0
        deadline = time.monotonic() + 900
        while True:
            h = heads()
            by = seqs()
            caught = all(max(by.get(k, [0])) == v for k, v in h.items())
            still = still + 1 if h == last else 0
            last = h
            if caught and still >= 3:
                break
            assert time.monotonic() < deadline, \
                "notification's dept/ heads %s; last seen live %s" % (
                    h, {k: max(v) for k, v in by.items()})
            time.sleep(1)
        stop.set()
        t.join(5)
        total = 0
        for topic, head in sorted(last.items()):
            live = by.get(topic, [])
            dup = len(live) - len(set(live))
            missed = head - len(set(live))
            total += len(live)
            print("%s: head %d, %d live, %d missed, %d twice" % (topic, head, len(live), missed,
                                                                 dup))
            assert dup == 0, "%s: %d entries arrived twice" % (topic, dup)
            assert sorted(live) == list(range(1, head + 1)), \
                "%s: %d of %d entries never arrived live (dropped by the XPUB)" % (
                    topic, missed, head)
        assert total >= N, (total, N)
        print("every dept/ entry arrived live exactly once: %d entries for %d reports" % (total, N))
    finally:
        stop.set()
        c.close()


if __name__ == "__main__":
    main()
