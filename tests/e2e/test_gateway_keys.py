"""whistle-gateway in a keyed deployment (CurveZMQ on): the gateway connects with its own
'service gateway' key and acts for each HTTP caller through Request.on_behalf, which the
services honour only from a trusted (service or operator) key:

- readyz is 200 through the keyed sockets
- a department's bearer key checks in as itself (200) and not as another department (403)
- a department's own CurveZMQ key sending on_behalf is refused (EFORBIDDEN,
  request.on_behalf): no peer can claim another identity by asking
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from whistle_e2e import Cluster  # noqa: E402
from test_read_auth import Keyed, read_key, refused  # noqa: E402

API_KEYS = {"cg": "cg-key-0123456789abcdef", "cgj": "cgj-key-0123456789abcdef"}


def main():
    c = Cluster(no_deadlines=True)
    k = Keyed(c)
    pb = c.pb
    kd = os.path.join(c.tmp, "keys")
    c.ctl("keygen", os.path.join(kd, "gateway"))
    k.keys["gateway"] = read_key(os.path.join(kd, "gateway.key"))
    k.listed["gateway"] = "service gateway"
    k.write_allow()
    api_keys = os.path.join(c.tmp, "api-keys.txt")
    with open(api_keys, "w") as f:
        for code, key in API_KEYS.items():
            f.write("%s department %s\n" % (key, code))
    try:
        for s in ["intake", "routing", "tracking", "notification"]:
            c.start(s)
        for s in ["intake", "routing", "tracking", "notification"]:
            c.wait(lambda s=s: k.call(s, ping(pb), "operator", timeout=0.5) is not None,
                   timeout=20, what="%s to answer a keyed ping" % s)
        c.start_gateway("--api-keys", api_keys, "--key", os.path.join(kd, "gateway.key"),
                        "--server-key", os.path.join(kd, "server.pub"), open_=False)
        c.wait(lambda: c.http("GET", "/readyz")[0] == 200, timeout=20, what="readyz 200 (keyed)")

        req = c.submit_req("gwk-1", grid="g1", matter="m2")
        rep = k.call("intake", req, "operator")
        assert rep is not None and rep.WhichOneof("body") == "submit_report", rep
        cid = rep.submit_report.case_id

        def dispatched():
            r = get(k, pb, cid)
            return r is not None and r.WhichOneof("body") == "get_case" and \
                r.get_case.case.state == pb.DISPATCHED
        c.wait(dispatched, timeout=30, what="dispatch")

        cg = {"Authorization": "Bearer " + API_KEYS["cg"]}
        st, _, body = c.http("POST", "/v1/cases/%s/checkin" % cid, body={"department": "scjg"},
                             headers=cg)
        assert st == 403 and body["error"]["field"] == "case_action.department", (st, body)
        st, _, body = c.http("POST", "/v1/cases/%s/checkin" % cid, body={}, headers=cg)
        assert st == 200 and body["case"]["state"] == "IN_PROGRESS", (st, body)
        st, _, body = c.http("GET", "/v1/cases/" + cid,
                             headers={"Authorization": "Bearer " + API_KEYS["cgj"]})
        assert st == 403 and body["error"]["field"] == "get_case.case_id", (st, body)

        # a department's own key cannot claim another identity
        req = pb.Request()
        req.on_behalf = "operator:ops"
        req.get_case.case_id = cid
        refused(k.call("tracking", req, "cgj"), "request.on_behalf")
        req = c.action_req(cid, pb.PROGRESS, department="scjg")
        req.on_behalf = "department:scjg"
        refused(k.call("tracking", req, "cg"), "request.on_behalf")
        print("keyed gateway: ok")
    except BaseException:
        c.fail(["gateway", "tracking"])
        raise
    c.close()
    print("ok")


def ping(pb):
    req = pb.Request()
    req.ping.SetInParent()
    return req


def get(k, pb, cid):
    req = pb.Request()
    req.get_case.case_id = cid
    return k.call("tracking", req, "operator")


if __name__ == "__main__":
    main()
