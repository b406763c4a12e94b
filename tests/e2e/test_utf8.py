"""Valid UTF-8 everywhere, always (issue 8, point 2), checked with Google's protobuf, which
refuses a whole message when one string in it is not valid UTF-8.

- A township raises a whistle with an 80-character Chinese reason (240 bytes): routing's
  reason ("north raised the whistle to TOUGH: " + reason) no longer fits its 256 bytes. The
  reply, every page of routing/, tracking/, notification's all/, case/<id>/ and district/
  must decode, and the reason (tracking's history note too) must be the whole text or cut at
  a character boundary, never mid-character.
- Error messages that echo request bytes decode too: a GetCase for a case id that is not valid
  UTF-8, a GetCase for a long Chinese case id and a WebhookRemove of a
  long Chinese url (cut at a character boundary).
"""
from google.protobuf.message import DecodeError

from whistle_e2e import Cluster

REASON = "".join(chr(0x4E00 + 7 * i) for i in range(80))  # 80 CJK characters, 240 bytes
assert len(REASON.encode()) == 240


def raw_call(c, name, data, timeout=5.0):
    """Sends serialized request bytes; returns the raw reply bytes (not decoded)."""
    sock = c.client(name)
    try:
        sock.send(data)
        assert sock.poll(int(timeout * 1000)), "no reply from " + name
        return sock.recv()
    finally:
        sock.close(0)


def decode_reply(c, raw, what):
    try:
        return c.pb.Reply.FromString(raw)
    except DecodeError as e:
        raise AssertionError("%s: Google's protobuf refuses the reply (%s): %r" % (what, e, raw))


def request_bytes(req, placeholder=None, replacement=None):
    """req serialized; `placeholder` bytes swapped for `replacement` (same length), so a string
    field can carry bytes Python's protobuf would never let us set."""
    data = req.SerializeToString()
    if placeholder is not None:
        assert len(placeholder) == len(replacement) and data.count(placeholder) == 1
        data = data.replace(placeholder, replacement)
    return data


def replay_pages(c, name, topic):
    """Every entry of a stream, page by page (8 entries a page), each page decoded."""
    out, nxt = [], 1
    while True:
        req = c.pb.Request()
        req.request_id = nxt
        req.replay.topic = topic
        req.replay.from_seq = nxt
        req.replay.max = 8
        rep = decode_reply(c, raw_call(c, name, req.SerializeToString()),
                           "%s %s page from %d" % (name, topic, nxt))
        assert rep.WhichOneof("body") == "replay", rep
        for e in rep.replay.entries:
            assert e.seq == nxt, (name, topic, e.seq, nxt)
            out.append(e)
            nxt += 1
        if not rep.replay.entries or nxt > rep.replay.head:
            return out


def check_cut(text, full, what):
    """`text` (already valid: it decoded) is `full`, or `full` cut at a character boundary and
    at most one character short of the buffer it was cut by (routing's 256 bytes)."""
    assert full.startswith(text), "%s: %r is not a prefix of %r" % (what, text, full)
    if text != full:
        assert len(text.encode()) >= 255 - 3, "%s: cut too short: %d bytes" % (
            what, len(text.encode()))


def main():
    c = Cluster()
    pb = c.pb
    try:
        c.start_all()
        rep = c.call("intake", c.submit_req("utf8-1", "g1", "m2", reporter="r1"))
        case_id = rep.submit_report.case_id
        c.wait(lambda: c.get_case(case_id).WhichOneof("body") == "get_case", what="dispatch")
        lead = c.get_case(case_id).get_case.case.lead_unit

        # the escalation, answered with the reason as routing stores it
        req = pb.Request()
        req.request_id = 7
        req.escalate.case_id = case_id
        req.escalate.actor = lead
        req.escalate.reason = REASON
        rep = decode_reply(c, raw_call(c, "routing", req.SerializeToString()), "escalate reply")
        assert rep.WhichOneof("body") == "escalate", rep
        full = "%s raised the whistle to TOUGH: %s" % (lead, REASON)
        check_cut(rep.escalate.escalated.reason, full, "escalate reply")

        def cursor(name, upstream):
            p = c.ping(name)
            return next((x.seq for x in p.cursors if x.upstream == upstream), -1) if p else -1

        def fanned_out():
            r, t = c.ping("routing"), c.ping("tracking")
            return (r is not None and t is not None and cursor("tracking", "routing") == r.head
                    and cursor("notification", "tracking") == t.head)
        c.wait(fanned_out, timeout=30, what="tracking and notification to catch up")

        reasons = 0
        for name, topic in (("routing", "routing/"), ("tracking", "tracking/"),
                            ("notification", "all/"), ("notification", "case/%s/" % case_id),
                            ("notification", "district/")):
            for e in replay_pages(c, name, topic):
                kind = e.WhichOneof("payload")
                if kind == "case_escalated":
                    check_cut(e.case_escalated.reason, full, name + " " + topic)
                    reasons += 1
                elif kind == "case_updated" and e.case_updated.entry.action == pb.ESCALATE:
                    note = e.case_updated.entry.note
                    assert note.startswith("manual: "), note
                    check_cut(note[len("manual: "):], full, name + " " + topic + " note")
                    reasons += 1
        assert reasons == 5, reasons  # routing's event, and the history line on four streams
        h = [x for x in c.get_case(case_id).get_case.history if x.action == pb.ESCALATE]
        assert len(h) == 1, h
        check_cut(h[0].note[len("manual: "):], full, "GetCase history")

        # an error message echoing bytes that are not UTF-8: the reply still decodes
        req = pb.Request()
        req.request_id = 8
        req.get_case.case_id = "C-QQQQ-9"
        data = request_bytes(req, b"QQQQ", b"\xff\xe5\x8d\xc0")
        rep = decode_reply(c, raw_call(c, "tracking", data), "GetCase with invalid bytes")
        assert rep.WhichOneof("body") == "error", rep
        assert "unknown case 'C-" in rep.error.message, rep.error.message

        # a long case id echoed in an error: cut at a character boundary, no U+FFFD
        long_id = "例" * 30  # 90 bytes, 64 is not a character boundary
        rep = decode_reply(c, raw_call(c, "tracking", request_bytes(_get(pb, long_id))),
                           "GetCase with a long id")
        assert rep.WhichOneof("body") == "error", rep
        assert "\ufffd" not in rep.error.message, rep.error.message
        assert "例" * 21 in rep.error.message, rep.error.message

        # a long url echoed by WebhookRemove (cut at 100 bytes): a character boundary too
        req = pb.Request()
        req.request_id = 9
        req.webhook_remove.topic = "all/"
        req.webhook_remove.url = "http://x/" + "路" * 40
        rep = decode_reply(c, raw_call(c, "notification", req.SerializeToString()),
                           "WebhookRemove with a long url")
        assert rep.WhichOneof("body") == "error", rep
        assert "\ufffd" not in rep.error.message, rep.error.message
        assert "http://x/" + "路" * 30 in rep.error.message, rep.error.message

        for s in ("routing", "tracking", "notification"):
            assert "refusing to append" not in c.log(s), c.log(s)
        c.close()
    except BaseException:
        c.fail()
        raise
    print("ok: an 80-character reason decodes everywhere; echoed bytes are valid UTF-8")


def _get(pb, case_id):
    req = pb.Request()
    req.request_id = 10
    req.get_case.case_id = case_id
    return req


if __name__ == "__main__":
    main()
