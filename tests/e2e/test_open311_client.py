"""The gateway's Open311 GeoReport v2 endpoint driven by a client no one here wrote: Code for
America's node-open311 0.0.12 (npm, installed from the committed lockfile with `npm ci`), every
method of the client in JSON mode against a real stack (tests/open311-client/client.test.js).
The case it submits is then checked on the ZeroMQ side: intake acknowledged it durably and
routing dispatched it, so the client's service_request_id is a real case."""
import os
import re
import shutil
import subprocess

from whistle_e2e import SOURCE_DIR, Cluster

HARNESS = os.path.join(SOURCE_DIR, "tests", "open311-client")


def main():
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "node and npm are needed (deploy/install-deps.sh installs them)"
    c = Cluster()
    try:
        work = os.path.join(c.tmp, "open311-client")
        shutil.copytree(HARNESS, work, ignore=shutil.ignore_patterns("node_modules"))
        out = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=work,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, "npm ci failed:\n" + out.stdout + out.stderr
        keys = os.path.join(c.tmp, "api-keys")
        with open(keys, "w") as f:
            f.write("open311-test-key-0123456789 integrator hotline\n")
        c.start_all()
        c.start_gateway("--api-keys", keys, open_=False)
        env = dict(os.environ, OPEN311_URL="http://127.0.0.1:%d/" % c.gw_port,
                   OPEN311_API_KEY="open311-test-key-0123456789")
        out = subprocess.run([node, "--test", "client.test.js"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=300)
        print(out.stdout[-4000:])
        assert out.returncode == 0, "node-open311 failed:\n" + out.stdout + out.stderr
        assert "# fail 0" in out.stdout, out.stdout
        # what the client submitted is a case whistle holds and dispatched
        cases = sorted(set(re.findall(r"service_request_id=(C\d+)", out.stdout)))
        assert cases, "the client test printed no service_request_id:\n" + out.stdout
        for cid in cases:
            c.wait(lambda: c.get_case(cid).WhichOneof("body") == "get_case",
                   what="case %s dispatched" % cid)
            rep = c.get_case(cid)
            assert rep.get_case.case.report.source == "hotline", rep
        print("open311 client: every node-open311 method passes against the gateway")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail(names=["intake", "routing", "tracking", "notification", "gateway"])
        raise
    c.close()


if __name__ == "__main__":
    main()
