"""kill -9 at any instant loses nothing and applies nothing twice.

Streams 5,000 reports into intake at a steady pace while each service in turn is killed
with SIGKILL at a random moment and restarted. The producer behaves like an integrator:
it resends a report under the same idempotency key until intake acknowledges it. At the end
every acknowledged case must exist exactly once in intake's, routing's and tracking's logs
and on notification's all/ and department topics."""
import collections
import random
import sys
import threading
import time

from whistle_e2e import SERVICES, Cluster

N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
RATE = 500.0          # reports per second offered
RESEND_S = 1.0        # an unacknowledged report is sent again after this


def produce(c, acked, stop):
    sock = c.client("intake")
    pending = {}      # request_id -> key
    sent_at = {}      # key -> monotonic time of the last send
    where = {}        # key -> (grid, matter) it was first sent with
    todo = ["crash-%d" % i for i in range(N)]
    t0 = time.monotonic()
    offered = 0
    while (todo or sent_at) and not stop.is_set():
        now = time.monotonic()
        while todo and offered < (now - t0) * RATE and len(sent_at) < 500:
            key = todo.pop(0)
            offered += 1
            where[key] = ("g%d" % (offered % 6 + 1), "m%d" % (offered % 5 + 1))
            req = c.submit_req(key, *where[key], "report %s" % key, "r-%s" % key)
            c.next_id += 1
            req.request_id = c.next_id
            pending[c.next_id] = key
            sent_at[key] = now
            sock.send(req.SerializeToString())
        for key, t in list(sent_at.items()):
            if now - t > RESEND_S:  # lost with a killed intake, or still queued: send again
                # a retry is the same report: the same key with another one is ECONFLICT
                req = c.submit_req(key, *where[key], "report %s" % key, "r-%s" % key)
                c.next_id += 1
                req.request_id = c.next_id
                pending[c.next_id] = key
                sent_at[key] = now
                sock.send(req.SerializeToString())
        if sock.poll(20):
            rep = c.pb.Reply.FromString(sock.recv())
            key = pending.pop(rep.request_id, None)
            if key is None:
                continue
            assert rep.WhichOneof("body") == "submit_report", rep
            cid = rep.submit_report.case_id
            if key in acked:
                assert acked[key] == cid, "key %s acknowledged as %s and %s" % (key, acked[key], cid)
            acked[key] = cid
            sent_at.pop(key, None)
    sock.close(0)


def main():
    random.seed(int(time.time()))
    c = Cluster(no_deadlines=True)
    kills = collections.Counter()
    try:
        c.start_all()
        acked, stop = {}, threading.Event()
        t = threading.Thread(target=produce, args=(c, acked, stop))
        t.start()
        i = 0
        while t.is_alive():
            name = SERVICES[i % 4]
            i += 1
            time.sleep(random.uniform(0.05, 0.4))
            c.kill9(name)
            kills[name] += 1
            time.sleep(random.uniform(0.0, 0.2))
            c.start(name)
            if i > 2000:
                stop.set()
        t.join()
        assert len(acked) == N, "only %d of %d reports acknowledged" % (len(acked), N)
        ids = set(acked.values())
        assert len(ids) == N, "two keys share a case id"
        for s in SERVICES:
            c.wait_ping(s)
        c.wait(lambda: c.ping("notification").cursors[0].seq >= N, timeout=120,
               what="notification to apply all %d cases" % N)

        def case_ids(entries, field):
            got = collections.Counter(getattr(e, field).case_id if field != "case_updated"
                                      else e.case_updated.case.id for e in entries)
            dup = [k for k, v in got.items() if v > 1]
            assert not dup, "%s: applied twice: %s" % (field, dup[:5])
            return set(got)

        assert case_ids(c.replay_all("intake"), "case_reported") == ids, "intake lost a case"
        assert case_ids(c.replay_all("routing"), "case_dispatched") == ids, "routing lost a case"
        tr = c.replay_all("tracking")
        assert case_ids(tr, "case_updated") == ids, "tracking lost a case"
        assert case_ids(c.replay_all("notification", "all/"), "case_updated") == ids
        assign = collections.defaultdict(set)
        for e in tr:
            for a in e.case_updated.case.assignments:
                assign[a.department].add(e.case_updated.case.id)
        for dept, want in assign.items():
            got = case_ids(c.replay_all("notification", "dept/%s/" % dept), "case_updated")
            assert got == want, "dept/%s/: %d cases, want %d" % (dept, len(got), len(want))
        print("crash: %d reports acknowledged, none lost or doubled; kills: %s" %
              (N, dict(kills)))
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
