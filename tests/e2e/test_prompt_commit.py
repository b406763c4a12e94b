"""A batch is committed and answered on the loop turn it was opened in, never left waiting for
the next timer. Intake runs with a one-minute heartbeat (its only timer); four clients each send
reports one at a time. Each reply must come within 10 s; a batch that waited for the timer
would take up to a minute. (Found by bench/: ack p99 ~1 s with the default heartbeat.)"""
import sys
import threading

from whistle_e2e import Cluster

N = int(sys.argv[1]) if len(sys.argv) > 1 else 150


def main():
    c = Cluster(heartbeat_ms=60000)
    failures = []
    try:
        c.start("intake")
        c.wait_ping("intake")

        def client(k):
            sock = c.client("intake")
            for i in range(N):
                rep = c.call("intake", c.submit_req("prompt-%d-%d" % (k, i)), timeout=10.0,
                             sock=sock)
                if rep is None or rep.WhichOneof("body") != "submit_report":
                    failures.append((k, i, rep))
                    break
            sock.close(0)
        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures, "replies that waited for a timer: %s" % failures[:3]
        assert c.ping("intake").head == 4 * N
        print("prompt commit: %d synchronous reports answered, none waited for a timer" % (4 * N))
        print("1 passed, 0 failed")
    except BaseException:
        sys.stderr.write(c.log("intake")[-3000:])
        c.close(keep=True)
        raise
    c.close()


if __name__ == "__main__":
    main()
