"""CurveZMQ keys on every endpoint, from another process and language (pyzmq):

- a client without a key (NULL mechanism) and a client with a key missing from the allowlist
  get nothing: no reply, no event;
- a department's key acts only as that department (acting as another is refused with the
  field named), a township's only as itself, reports come from integrators;
- a department's subscriber receives its own topic only: subscribing to another department's
  topic, or to everything, delivers nothing, and Replay of it is refused;
- with keys on, a report goes intake -> routing -> tracking -> notification to the
  department's topic, the services following each other with their own service keys;
- whistlectl keygen writes a key pair (secret mode 0600), and whistlectl --key/--server-key
  talks to the keyed deployment while plain whistlectl gets no answer;
- an allowlist edited while running is read again: a key added later is let in."""
import json
import os
import stat

import zmq

from whistle_e2e import BINARY_DIR, SERVICES, Cluster

CTL = os.path.join(BINARY_DIR, "tools", "whistlectl", "whistlectl")


def read_key(path):
    """{public-key, secret-key} of a whistlectl keygen file."""
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith(("public-key ", "secret-key ")):
                k, v = line.split()
                out[k] = v.encode()
    return out


def main():
    c = Cluster()
    kd = os.path.join(c.tmp, "keys")
    os.makedirs(kd)

    def ctl(*args, rc=0, keyed=True):
        pre = ["--key", os.path.join(kd, "operator.key"), "--server-key",
               os.path.join(kd, "server.pub")] if keyed else []
        return c.ctl(*args, rc=rc, pre=pre)

    names = ["server", "operator", "app", "cg", "cgj", "north", "stranger"] + SERVICES
    for n in names:
        ctl("keygen", os.path.join(kd, n), keyed=False)
    ctl("keygen", os.path.join(kd, "cg"), rc=1, keyed=False)  # never overwritten
    assert stat.S_IMODE(os.stat(os.path.join(kd, "cg.key")).st_mode) == 0o600
    keys = {n: read_key(os.path.join(kd, n + ".key")) for n in names}
    assert read_key(os.path.join(kd, "cg.pub")) == {"public-key": keys["cg"]["public-key"]}
    allow = os.path.join(kd, "allow.txt")
    kinds = {"operator": "operator operator", "app": "integrator app", "cg": "department cg",
             "cgj": "department cgj", "north": "township north"}
    kinds.update({s: "service " + s for s in SERVICES})
    with open(allow, "w") as f:
        f.write("# test allowlist\n")
        for n, who in kinds.items():
            f.write("%s %s\n" % (keys[n]["public-key"].decode(), who))
    for s in SERVICES:
        c.extra[s] = ["--keys", os.path.join(kd, "server.key"), "--allow", allow]
        if s != "intake":
            c.extra[s] += ["--service-key", os.path.join(kd, s + ".key")]
    server_pub = keys["server"]["public-key"]

    def sock(kind, name, who):
        s = c.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if who:
            s.curve_serverkey = server_pub
            s.curve_publickey = keys[who]["public-key"]
            s.curve_secretkey = keys[who]["secret-key"]
        s.connect(c.api(name) if kind == zmq.DEALER else c.events(name))
        return s

    def call(name, req, who, timeout=5.0):
        s = sock(zmq.DEALER, name, who)
        try:
            return c.call(name, req, timeout=timeout, sock=s)
        finally:
            s.close(0)

    def ping(name, who, timeout=1.0):
        req = c.pb.Request()
        req.ping.SetInParent()
        return call(name, req, who, timeout)

    def replay(topic, who):
        req = c.pb.Request()
        req.replay.topic = topic
        req.replay.from_seq = 1
        return call("notification", req, who)

    try:
        for s in SERVICES:
            c.start(s)
        c.wait(lambda: all(ping(s, "operator", 0.5) for s in SERVICES), timeout=20,
               what="keyed services answering the operator")
        # NULL and unknown keys: nothing, anywhere
        for s in SERVICES:
            assert ping(s, None) is None, "%s answered a client without a key" % s
            assert ping(s, "stranger") is None, "%s answered a key not on the allowlist" % s
        assert "refused key %s" % keys["stranger"]["public-key"].decode() in c.log("intake")

        # subscribers: cg on its own topic (control), cg on cgj's topic and on everything,
        # a stranger on cg's topic, and cgj on its own (control)
        subs = {}
        for label, who, topic in [("cg-own", "cg", b"dept/cg/"), ("cg-other", "cg", b"dept/cgj/"),
                                  ("cg-all", "cg", b""), ("stranger", "stranger", b"dept/cg/"),
                                  ("null", None, b"dept/cg/"), ("cgj-own", "cgj", b"dept/cgj/")]:
            s = sock(zmq.SUB, "notification", who)
            s.setsockopt(zmq.SUBSCRIBE, topic)
            subs[label] = s
        dealer_events = sock(zmq.SUB, "tracking", "cg")   # a department on tracking's log
        dealer_events.setsockopt(zmq.SUBSCRIBE, b"")
        # the subscriptions must have reached notification before anything is published:
        # heartbeats on all/ prove the pipes are up for a trusted subscriber
        probe = sock(zmq.SUB, "notification", "operator")
        probe.setsockopt(zmq.SUBSCRIBE, b"all/")
        assert probe.poll(10000), "no heartbeat for the operator"

        # reports: a department may not submit, an integrator may
        req = c.submit_req("keys-1", grid="g1", matter="m4")
        rep = call("intake", req, "cg")
        assert rep.WhichOneof("body") == "error" and rep.error.field == "submit_report", rep
        rep = call("intake", c.submit_req("keys-1", grid="g1", matter="m4"), "app")
        assert rep.WhichOneof("body") == "submit_report", rep
        cid = rep.submit_report.case_id

        # end to end with keys: the department's topic has the dispatch, live
        for label in ("cg-own", "cgj-own"):
            while True:  # named topics also carry heartbeats: skip to the entry
                assert subs[label].poll(20000), "%s received nothing" % label
                topic, body = subs[label].recv_multipart()
                env_ = c.pb.Envelope.FromString(body)
                if env_.WhichOneof("payload") != "heartbeat":
                    break
            assert env_.correlation_id == cid and topic == env_.stream.encode(), (topic, env_)
        for label in ("cg-other", "cg-all", "stranger", "null"):
            assert not subs[label].poll(500), "%s received a message it may not see" % label
        assert not dealer_events.poll(200), "a department read tracking's own log"

        # replay: own topic yes, another department's topic no (field named)
        rep = replay("dept/cg/", "cg")
        assert rep.WhichOneof("body") == "replay" and rep.replay.entries[0].correlation_id == cid
        rep = replay("dept/cgj/", "cg")
        assert rep.error.field == "replay.topic" and rep.error.code == -1004, rep
        req = c.pb.Request()
        req.replay.from_seq = 1
        rep = call("tracking", req, "cg")
        assert rep.error.field == "replay.topic", rep

        # a department acts only as itself
        A = c.pb
        rep = call("tracking", c.action_req(cid, A.CHECKIN, department="cgj"), "cg")
        assert rep.WhichOneof("body") == "error" and rep.error.field == "case_action.department", rep
        assert "cg" in rep.error.message and "cgj" in rep.error.message, rep.error.message
        rep = call("tracking", c.action_req(cid, A.CHECKIN, actor="cgj", department="cg"), "cg")
        assert rep.error.field == "case_action.actor", rep
        rep = call("tracking", c.action_req(cid, A.RESOLVE, actor="north"), "cg")
        assert rep.error.field == "case_action.action", rep
        for d in ("cg", "cgj"):
            rep = call("tracking", c.action_req(cid, A.CHECKIN, department=d), d)
            assert rep.WhichOneof("body") == "case_action", rep
        # a township only as itself; manual escalation likewise
        rep = call("tracking", c.action_req(cid, A.RESOLVE, actor="south"), "north")
        assert rep.error.field == "case_action.actor", rep
        req = c.pb.Request()
        req.escalate.case_id = cid
        req.escalate.actor = "south"
        rep = call("routing", req, "north")
        assert rep.error.field == "escalate.actor", rep
        # the case is visible to the department's key; its history has both check-ins
        rep = call("tracking", c.get_case.__self__.pb.Request(get_case={"case_id": cid}), "cg")
        assert [h.department for h in rep.get_case.history if h.action == A.CHECKIN] == \
            ["cg", "cgj"], rep

        # webhooks: a department registers only its own topic
        req = c.pb.Request()
        req.webhook_add.topic = "dept/cgj/"
        req.webhook_add.url = "http://127.0.0.1:9/x"
        rep = call("notification", req, "cg")
        assert rep.error.field == "webhook_add.topic" and rep.error.code == -1004, rep

        # whistlectl: keyed works everywhere, plain gets no answer
        assert ctl("ping").stdout.count(" up ") == 4
        ctl("--timeout", "500", "ping", "intake", rc=3, keyed=False)
        shown = json.loads(ctl("--json", "show", cid).stdout)
        assert shown["case"]["state"] == "IN_PROGRESS", shown
        r = ctl("--key", os.path.join(kd, "cg.pub"), "--server-key",
                os.path.join(kd, "server.pub"), "ping", rc=2, keyed=False)
        assert "secret-key" in r.stderr, r.stderr

        # the allowlist is read again when it changes: the stranger becomes department scjg
        with open(allow, "a") as f:
            f.write("%s department scjg\n" % keys["stranger"]["public-key"].decode())
        c.wait(lambda: ping("intake", "stranger", 0.5) is not None, timeout=20,
               what="a key added to the allowlist being let in")
        for s in list(subs.values()) + [dealer_events, probe]:
            s.close(0)
        print("keys: NULL and unknown keys get nothing; departments act and read as themselves")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
