"""A subscriber stopped with SIGSTOP for 30 s while traffic flows recovers everything, and
notification's memory stays bounded meanwhile.

`whistlectl --json tail all/` follows notification while reports stream in at a steady pace;
it is stopped for PAUSE_S seconds (SIGSTOP: its socket stops reading, as a hung department
system's would) and continued. Notification must not queue without bound for it: its XPUB
holds at most NOTIFICATION_EVENTS_HWM messages per subscriber and drops the rest for that
subscriber only, so its anonymous memory (RssAnon, the heap where such a queue would live;
VmRSS also counts the pages of LMDB's mapped file, which grow with the data written whoever
subscribes: ~1 GB here) must stay within BOUND_KB of what it was while the tail kept up.
With the old high-water mark of 100,000 the pause queues ~45,000 messages of ~1.6 kB and the
heap grows by ~75 MB (measured), failing the bound; with 1,000 it grows by ~6 MB (~19 MB
under AddressSanitizer). After
SIGCONT the tail must print every sequence exactly once, in order: it sees the gap and
replays."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from whistle_e2e import CTL, Cluster

PAUSE_S = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
RATE = 1500                      # reports per second offered, before, during and after
DESCRIPTION = "占道经营，摊位占用人行道。" * 33   # ~1,200 bytes: every entry carries it
BOUND_KB = 48 * 1024             # growth of notification's heap allowed during the pause


def produce(c, stop, counter):
    sock = c.client("intake")
    try:
        t0 = time.monotonic()
        while not stop.is_set():
            due = int((time.monotonic() - t0) * RATE) - counter[0]
            if due <= 0:
                time.sleep(0.01)
                continue
            reqs = [c.submit_req("pause-%d" % (counter[0] + i), "g%d" % (i % 6 + 1), "m1",
                                 DESCRIPTION, "r") for i in range(min(due, 500))]
            for r in c.call_many("intake", reqs, window=500, timeout=60):
                assert r.WhichOneof("body") == "submit_report", r
            counter[0] += len(reqs)
    finally:
        sock.close(0)


def main():
    c = Cluster(no_deadlines=True)
    env = c.ctl_env()
    # a sanitizer build holds freed memory in quarantine: keep that small and fixed, so the
    # heap measured is what notification holds (harmless for a build without sanitizers)
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":quarantine_size_mb=16").lstrip(":")
    out_path = os.path.join(c.tmp, "tail.json")
    cursor = os.path.join(c.tmp, "tail.cursor")
    stop, counter = threading.Event(), [0]
    tail = None
    try:
        c.start_all()
        with open(out_path, "w") as out:
            tail = subprocess.Popen([CTL, "--json", "tail", "all/", "--cursor", cursor],
                                    stdout=out, stderr=subprocess.PIPE, env=env)
        producer = threading.Thread(target=produce, args=(c, stop, counter))
        producer.start()

        def tail_cursor():
            try:
                with open(cursor) as f:
                    return int(f.read())
            except (OSError, ValueError):
                return 0
        c.wait(lambda: counter[0] >= RATE * 3 and tail_cursor() >= RATE * 2, timeout=120,
               what="traffic, and the tail following it")
        base_anon = c.pid_status("notification", "RssAnon")
        base_rss = c.pid_status("notification", "VmRSS")

        tail.send_signal(signal.SIGSTOP)
        at_stop = counter[0]
        peak_anon, peak_rss = base_anon, base_rss
        t_end = time.monotonic() + PAUSE_S
        while time.monotonic() < t_end:
            peak_anon = max(peak_anon, c.pid_status("notification", "RssAnon"))
            peak_rss = max(peak_rss, c.pid_status("notification", "VmRSS"))
            time.sleep(0.25)
        during = counter[0] - at_stop
        tail.send_signal(signal.SIGCONT)
        time.sleep(2)  # traffic goes on while the tail catches up
        stop.set()
        producer.join()
        print("notification RssAnon %d kB -> peak %d kB, VmRSS %d kB -> peak %d kB, while "
              "%d reports came in during the %.0f s pause" %
              (base_anon, peak_anon, base_rss, peak_rss, during, PAUSE_S))
        assert peak_anon - base_anon < BOUND_KB, \
            "notification's heap grew by %d kB for a stopped subscriber (bound %d kB)" % (
                peak_anon - base_anon, BOUND_KB)

        c.wait(lambda: c.ping("notification").head >= counter[0], timeout=120,
               what="notification to have every report")
        head = c.ping("notification").head
        c.wait(lambda: tail_cursor() >= head, timeout=180,
               what="the tail to catch up to %d (at %d)" % (head, tail_cursor()))
        tail.send_signal(signal.SIGTERM)
        assert tail.wait(timeout=20) == 0, tail.stderr.read()
        seqs = []
        with open(out_path) as f:
            for line in f:
                e = json.loads(line)
                assert e["stream"] == "all/", e
                seqs.append(int(e["seq"]))
        assert seqs == list(range(1, head + 1)), \
            "printed %d entries for head %d; first wrong at %s" % (
                len(seqs), head, next((i for i, s in enumerate(seqs, 1) if s != i), None))
        print("pause: %d entries printed exactly once and in order after a %.0f s SIGSTOP" %
              (head, PAUSE_S))
        print("1 passed, 0 failed")
    except BaseException:
        stop.set()
        if tail and tail.poll() is None:
            tail.send_signal(signal.SIGCONT)
            tail.kill()
        c.fail(("notification", "tracking"))
        raise
    c.close()


if __name__ == "__main__":
    main()
