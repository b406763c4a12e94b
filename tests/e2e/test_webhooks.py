"""Webhooks against a real HTTP server (http.server on 127.0.0.1, a random port):

1. fail, hang, recover: some events are answered 500 on their first POST and not at all on
   their second (longer than --webhook-timeout-ms); every event still arrives, with the
   X-Whistle-Event-Id and X-Whistle-Seq of its envelope, and the distinct event ids received
   are exactly the entries of the topic;
2. dead letters: an endpoint that always answers 500 gets each event --webhook-attempts times,
   then the event is on `whistlectl webhooks dead`;
3. kill -9: with deliveries pending (the endpoint answers 503), notification is killed and
   restarted; once the endpoint recovers, every pending delivery arrives."""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from whistle_e2e import BINARY_DIR, Cluster

CTL = os.path.join(BINARY_DIR, "tools", "whistlectl", "whistlectl")
TIMEOUT_MS = 300


class Receiver:
    """What the endpoint saw, and how it answers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}            # event id -> (headers, body) of the answered-200 POST
        self.posts = []         # (path, event id, attempt) of every POST
        self.victims = False    # odd event ids are answered 500, then nothing, then 200
        self.down = False       # answer 503 to everything on /main
        self.hang = threading.Event()

    def handler(self):
        rx = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, code):
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                eid = self.headers["X-Whistle-Event-Id"]
                attempt = int(self.headers["X-Whistle-Attempt"])
                with rx.lock:
                    rx.posts.append((self.path, eid, attempt))
                    victim = rx.victims and int(eid.rsplit("/", 1)[1]) % 2 == 1
                    down = rx.down
                if self.path == "/always-500":
                    return self.answer(500)
                if down:
                    return self.answer(503)
                if victim and attempt == 1:
                    return self.answer(500)
                if victim and attempt == 2:
                    rx.hang.wait(TIMEOUT_MS * 4 / 1000.0)  # longer than notification waits
                    self.close_connection = True
                    return
                env = json.loads(body)
                assert self.headers["Content-Type"] == "application/json"
                with rx.lock:
                    rx.ok.setdefault(eid, (dict(self.headers), env))
                self.answer(200)

        return H


def main():
    c = Cluster()
    rx = Receiver()
    # a backlog for all of notification's parallel POSTs: a dropped SYN would time out an
    # attempt before the handler sees it
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), rx.handler())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]

    ctl = c.ctl

    def listing(dead=False):
        return json.loads(ctl("--json", "webhooks", "dead" if dead else "list").stdout)

    def topic_ids(topic):
        return [e.event_id for e in c.replay_all("notification", topic)]

    try:
        c.extra["notification"] = ["--webhook-attempts", "4", "--webhook-timeout-ms",
                                   str(TIMEOUT_MS), "--webhook-backoff-ms", "50"]
        c.start_all()
        # registration: refused with the field named, idempotent, listed
        r = ctl("webhooks", "add", "dept/cg", base + "/main", rc=1)
        assert "webhook_add.topic" in r.stderr, r.stderr
        r = ctl("webhooks", "add", "all/", "ftp://example/", rc=1)
        assert "webhook_add.url" in r.stderr, r.stderr
        r = ctl("webhooks", "remove", "all/", base + "/nothing", rc=1)
        assert "webhook_remove.url" in r.stderr, r.stderr
        ctl("webhooks", "add", "all/", base + "/main")
        ctl("webhooks", "add", "all/", base + "/main")
        ctl("webhooks", "add", "dept/cg/", base + "/always-500")
        hooks = listing()["webhooks"]
        assert sorted((h["topic"], h["url"]) for h in hooks) == [
            ("all/", base + "/main"), ("dept/cg/", base + "/always-500")], hooks

        # 1. fail (500), hang (no answer within the timeout), recover
        n = 30
        rx.victims = True
        reps = c.call_many("intake", [c.submit_req("wh-%d" % i, "g%d" % (i % 6 + 1))
                                      for i in range(n)])
        assert all(r.WhichOneof("body") == "submit_report" for r in reps)
        c.wait(lambda: c.ping("notification").head >= n, what="dispatches on all/")
        ids = topic_ids("all/")
        assert len(ids) == n
        c.wait(lambda: set(rx.ok) >= set(ids), timeout=60, what="every event delivered")
        entries = {e.event_id: e for e in c.replay_all("notification", "all/")}
        for eid in ids:
            headers, body = rx.ok[eid]
            assert body["event_id"] == eid and body["stream"] == "all/", body
            assert int(headers["X-Whistle-Seq"]) == entries[eid].seq == body["seq"]
            assert headers["X-Whistle-Topic"] == "all/"
            assert body["case_updated"]["case"]["id"] == entries[eid].correlation_id
        victims = [e for e in ids if int(e.rsplit("/", 1)[1]) % 2 == 1]
        assert victims
        # each victim was answered 500, then not at all, and got through on its third POST
        assert all(rx.ok[e][0]["X-Whistle-Attempt"] == "3" for e in victims), victims
        with rx.lock:
            tries = {e: sorted(p[2] for p in rx.posts if p[1] == e and p[0] == "/main")
                     for e in victims}
        assert all(t == [1, 2, 3] for t in tries.values()), tries
        assert len(set(rx.ok)) == n
        rx.victims = False

        # 2. dead letters: /always-500 is tried --webhook-attempts (4) times per event
        cg = topic_ids("dept/cg/")
        assert cg, "no event on dept/cg/"
        c.wait(lambda: listing()["dead_count"] == len(cg), timeout=60, what="dead letters")
        dead = listing(dead=True)["dead"]
        assert sorted(d["event_id"] for d in dead) == sorted(cg), dead
        assert all(d["attempts"] == 4 and d["last_error"] == "HTTP 500" and
                   d["url"] == base + "/always-500" and d["topic"] == "dept/cg/"
                   for d in dead), dead
        with rx.lock:
            tries = [p for p in rx.posts if p[0] == "/always-500"]
        assert len(tries) == 4 * len(cg), len(tries)
        text = ctl("webhooks", "dead").stdout
        assert "HTTP 500" in text and ("%d dead" % len(cg)) in text, text
        ctl("webhooks", "remove", "dept/cg/", base + "/always-500")
        assert [h["url"] for h in listing()["webhooks"]] == [base + "/main"]

        # 3. kill -9 with deliveries pending: none is lost
        c.stop("notification")
        c.extra["notification"] = ["--webhook-attempts", "8", "--webhook-timeout-ms",
                                   str(TIMEOUT_MS), "--webhook-backoff-ms", "300"]
        c.start("notification")
        c.wait_ping("notification")
        with rx.lock:
            rx.down = True
        m = 20
        reps = c.call_many("intake", [c.submit_req("wh-crash-%d" % i) for i in range(m)])
        assert all(r.WhichOneof("body") == "submit_report" for r in reps)
        c.wait(lambda: c.ping("notification").head >= n + m, what="new events on all/")
        c.wait(lambda: listing()["pending"] >= m, what="deliveries pending")
        with rx.lock:
            refused = sum(1 for p in rx.posts if p[0] == "/main" and p[2] >= 1)
        c.kill9("notification")
        with rx.lock:
            rx.down = False
        c.start("notification")
        c.wait_ping("notification")
        all_ids = topic_ids("all/")
        assert len(all_ids) == n + m
        c.wait(lambda: set(rx.ok) >= set(all_ids), timeout=60, what="pending delivered")
        c.wait(lambda: listing()["pending"] == 0, what="outbox empty")
        assert len(set(rx.ok)) == n + m, (len(set(rx.ok)), n + m)
        assert listing()["dead_count"] == len(cg)  # nothing of /main died
        assert refused > 0
        print("webhooks: fail/hang/recover, dead letters and kill -9 with pending deliveries")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    finally:
        rx.hang.set()
        server.shutdown()
    c.close()


if __name__ == "__main__":
    main()
