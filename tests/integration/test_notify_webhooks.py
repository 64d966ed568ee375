"""Security notifications to users and signed webhooks to apps (issue #15),
end to end: the real binary sends e-mail to the aiosmtpd sink and POSTs
webhooks to a real HTTP receiver; every signature is checked by the
reference implementation of Standard Webhooks (the npm package
standardwebhooks, tests/webhooks/verify.mjs)."""

import base64
import json
import os
import re
import socket
import subprocess
import time

import pytest

from apiclient import totp
from deliveryhelp import (gw, is_code_mail, mail_parts, mails_to, outbox_rows, parse_mail,  # noqa: F401
                          smtp_env, smtp_sinks, wait_mail, wait_until)
from webhook_sink import WebhookSink

HERE = os.path.dirname(os.path.abspath(__file__))
VERIFY = os.path.join(HERE, "..", "webhooks", "verify.mjs")
CODE6 = re.compile(r"(?<!\d)\d{6}(?!\d)")


@pytest.fixture
def hooks():
    sinks = []

    def factory(port=0):
        s = WebhookSink(port)
        s.start()
        sinks.append(s)
        return s

    yield factory
    for s in sinks:
        s.stop()


def set_webhook(gw, app, url):
    p = gw.cli("app", "set", app.client_id, "--webhook-url", url)
    out = json.loads(p.stdout)
    assert out["client_id"] == app.client_id and out["webhook_url"] == url, out
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", out["webhook_secret"]), out
    return out["webhook_secret"]


def verify(secret, requests, now_offset=0, tamper=False):
    """Runs the reference verifier over recorded requests; returns its
    verdicts."""
    deliveries = []
    for r in requests:
        body = r["body"] + (b" " if tamper else b"")
        deliveries.append({"headers": {k: v for k, v in r["headers"].items()
                                       if k.startswith("webhook-")},
                           "body_b64": base64.b64encode(body).decode()})
    p = subprocess.run(["node", VERIFY], input=json.dumps(
        {"secret": secret, "now_offset": now_offset, "deliveries": deliveries}),
        capture_output=True, text=True, timeout=60, cwd=os.path.dirname(VERIFY))
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def types_of(sink, sub=None):
    return [r["json"]["type"] for r in sink.accepted()
            if sub is None or r["json"]["data"]["sub"] == sub]


def enrol_email(gw, app, sink, sub, addr):
    """Adds and verifies an e-mail factor with the code from the sink."""
    a = app.add_email(sub, addr)
    rec = wait_mail(sink, addr)
    code = CODE6.search(mail_parts(parse_mail(rec))["text/plain"]).group(0)
    v = app.verify_factor(sub, a.json["id"], code)
    assert v.status == 200, v
    return a.json["id"], v.json


def notices(sink, addr):
    """The notifications (not code messages) sent to addr, as parsed mails."""
    out = []
    for rec in mails_to(sink, addr, codes_only=False):
        if not is_code_mail(rec):
            out.append(parse_mail(rec))
    return out


def wait_notices(sink, addr, n, timeout=15):
    return wait_until(lambda: (lambda l: l if len(l) >= n else None)(notices(sink, addr)),
                      timeout, what="%d notification(s) to %s" % (n, addr))


def subjects(sink, addr):
    return [m["Subject"] for m in notices(sink, addr)]


def test_factor_added_mails_the_user_and_signs_a_webhook(gw, smtp_sinks, hooks):
    """A factor added by someone else: the user's address hears of it within
    seconds; the app gets factor.added and factor.verified, each verifiable
    with the reference library, refused when replayed late or tampered."""
    mail = smtp_sinks()
    hook = hooks()
    app = gw.add_app("Shop")
    secret = set_webhook(gw, app, hook.url)
    gw.start(env=smtp_env(mail))
    enrol_email(gw, app, mail, "alice", "alice@example.com")
    first = wait_notices(mail, "alice@example.com", 1)
    assert first[0]["Subject"] == "Shop: a new sign-in method was added", first[0]["Subject"]
    assert "An e-mail address was added" in mail_parts(first[0])["text/plain"]

    t0 = time.time()
    t = app.post("/users/alice/factors", {"type": "totp", "client_ip": "203.0.113.7",
                                          "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
                                                        "Gecko/20100101 Firefox/128.0"})
    assert t.status == 201, t
    v = app.verify_factor("alice", t.json["id"], totp(t.json["secret"]))
    assert v.status == 200, v
    msgs = wait_notices(mail, "alice@example.com", 2, timeout=10)
    assert time.time() - t0 < 10
    msg = msgs[-1]
    assert msg["Subject"] == "Shop: a new sign-in method was added", msg["Subject"]
    parts = mail_parts(msg)
    text = parts["text/plain"]
    assert "An authenticator app was added to two-step verification on your Shop account" in text
    assert re.search(r"When: \d{4}-\d\d-\d\d \d\d:\d\d UTC", text), text
    assert "If it was not, sign in to Shop now" in text, text
    assert "authenticator app" in parts["text/html"]
    # Never a code or a secret in a notification.
    assert not CODE6.search(text), text
    assert t.json["secret"] not in text and t.json["secret"] not in parts["text/html"]

    got = wait_until(lambda: (lambda l: l if l.count("factor.verified") >= 2 else None)(
        types_of(hook)), 10, what="two factor.verified webhooks")
    # The e-mail's enrolment passes a challenge (its code); the TOTP's does not.
    assert got == ["factor.added", "factor.verified", "challenge.succeeded",
                   "recovery_codes.regenerated", "factor.added", "factor.verified"], got
    reqs = [r for r in hook.accepted()]
    for r in reqs:
        assert r["headers"]["content-type"] == "application/json"
        assert re.fullmatch(r"msg_[a-z2-7]+", r["headers"]["webhook-id"]), r["headers"]
        assert abs(int(r["headers"]["webhook-timestamp"]) - time.time()) < 60
        assert r["headers"]["webhook-signature"].startswith("v1,")
    verdicts = verify(secret, reqs)
    assert all(v["ok"] for v in verdicts), verdicts
    added = reqs[4]["json"]
    assert verdicts[4]["payload"] == added
    assert added["data"]["sub"] == "alice" and added["data"]["app_id"] == app.client_id
    assert added["data"]["factor_type"] == "totp" and added["data"]["factor_id"] == t.json["id"]
    assert added["data"]["ip"] == "203.0.113.7"
    assert added["data"]["user_agent"].startswith("Mozilla/5.0")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", added["timestamp"])
    # No secret, no destination in a webhook body.
    for r in reqs:
        assert t.json["secret"].encode() not in r["body"]
        assert b"alice@example.com" not in r["body"]

    # The reference library refuses a replay after its tolerance and a
    # changed body.
    late = verify(secret, reqs[:1], now_offset=600)
    assert not late[0]["ok"] and "timestamp" in late[0]["error"].lower(), late
    bad = verify(secret, reqs[:1], tamper=True)
    assert not bad[0]["ok"], bad


def test_every_event_one_notification_and_one_webhook(gw, smtp_sinks, hooks):
    mail = smtp_sinks()
    hook = hooks()
    app = gw.add_app("Shop")
    set_webhook(gw, app, hook.url)
    gw.start(env=smtp_env(mail))
    addr = "bob@example.com"
    eid, ev = enrol_email(gw, app, mail, "bob", addr)
    codes = ev["recovery_codes"]
    wait_notices(mail, addr, 1)

    t = app.post("/users/bob/factors", {"type": "totp"})
    assert app.verify_factor("bob", t.json["id"], totp(t.json["secret"])).status == 200
    wait_notices(mail, addr, 2)
    assert app.put("/users/bob/preferred", {"factor_id": t.json["id"]}).status == 200
    wait_notices(mail, addr, 3)
    assert app.verify_user("bob", codes[0]).status == 200
    wait_notices(mail, addr, 4)
    assert app.post("/users/bob/recovery-codes").status == 201
    wait_notices(mail, addr, 5)
    assert app.delete("/users/bob/factors/%s" % t.json["id"]).status == 204
    wait_notices(mail, addr, 6)
    gw.cli("user", "unlock", "bob", "--app", app.client_id)
    wait_notices(mail, addr, 7)
    gw.cli("user", "reset", "bob", "--app", app.client_id)
    wait_notices(mail, addr, 8)

    time.sleep(1.5)  # anything extra would have come by now
    subs = subjects(mail, addr)
    assert subs == [
        "Shop: a new sign-in method was added",
        "Shop: a new sign-in method was added",
        "Shop: your preferred sign-in method changed",
        "Shop: a recovery code was used",
        "Shop: new recovery codes were made",
        "Shop: a sign-in method was removed",
        "Shop: your account was unlocked",
        "Shop: two-step verification was reset",
    ], subs
    used = mail_parts(notices(mail, addr)[3])["text/plain"]
    assert "9 unused codes are left" in used, used
    assert codes[0] not in used and codes[0].replace("-", "") not in used
    reset = mail_parts(notices(mail, addr)[7])["text/plain"]
    assert "By: an administrator" in reset, reset

    want = ["factor.added", "factor.verified", "challenge.succeeded", "recovery_codes.regenerated",
            "factor.added", "factor.verified", "factor.preferred",
            "recovery_code.used", "challenge.succeeded", "recovery_codes.regenerated",
            "factor.removed", "user.unlocked", "user.reset"]
    wait_until(lambda: (lambda l: l if len(l) >= len(want) else None)(types_of(hook)),
               10, what="the webhooks")
    time.sleep(0.5)
    got = types_of(hook)
    assert got == want, got
    ids = [r["headers"]["webhook-id"] for r in hook.accepted()]
    assert len(ids) == len(set(ids))
    by_type = {r["json"]["type"]: r["json"]["data"] for r in hook.accepted()}
    assert by_type["recovery_code.used"]["recovery_codes_left"] == 9
    assert by_type["user.unlocked"]["by"] == "cli"
    assert by_type["user.reset"]["factors"] == 1
    assert by_type["factor.preferred"]["factor_type"] == "totp"
    assert by_type["challenge.succeeded"]["method"] == "recovery_code"


def test_receiver_that_fails_then_recovers_gets_each_event_once_in_order(gw, smtp_sinks, hooks):
    mail = smtp_sinks()
    hook = hooks()
    hook.fail(4, status=503)
    app = gw.add_app("Shop")
    secret = set_webhook(gw, app, hook.url)
    gw.start(env=smtp_env(mail))
    enrol_email(gw, app, mail, "carol", "carol@example.com")
    enrol_email(gw, app, mail, "dave", "dave@example.com")
    for i in range(3):
        c = app.challenge("carol").json
        assert app.verify_challenge(c["id"], "000000" if i % 2 else "999999").status == 422

    wait_until(lambda: (lambda l: l if len(l) >= 11 else None)(hook.accepted()), 30,
                      what="every webhook accepted")
    time.sleep(1.0)
    accepted = hook.accepted()
    ids = [r["headers"]["webhook-id"] for r in accepted]
    assert len(ids) == len(set(ids)), ids  # each event accepted once
    enrolled = ["factor.added", "factor.verified", "challenge.succeeded",
                "recovery_codes.regenerated"]
    for sub, expect in (("carol", enrolled + ["challenge.failed"] * 3), ("dave", enrolled)):
        assert types_of(hook, sub) == expect, (sub, types_of(hook, sub))
    # The failures were real tries of the same bytes: a retried delivery
    # has the same id and body as its failed attempts.
    failed = [r for r in hook.requests() if r["status"] == 503]
    assert len(failed) == 4
    for f in failed:
        same = [r for r in accepted if r["headers"]["webhook-id"] == f["headers"]["webhook-id"]]
        assert len(same) == 1 and same[0]["body"] == f["body"]
    assert all(v["ok"] for v in verify(secret, accepted))
    rows = outbox_rows(gw.data_dir, "WHERE channel = 'webhook'", codes_only=False)
    assert all(r["state"] == "sent" for r in rows), rows
    assert any(r["attempts"] > 1 for r in rows)
    assert all(r["answer"].startswith("HTTP 204") for r in rows), [r["answer"] for r in rows]


def test_a_burst_of_failures_gives_a_bounded_number_of_notifications(gw, smtp_sinks, hooks):
    mail = smtp_sinks()
    hook = hooks()
    app = gw.add_app("Shop")
    set_webhook(gw, app, hook.url)
    gw.policy("lockout_hard=5", "lockout_wait=0")
    gw.start(env=smtp_env(mail))
    addr = "erin@example.com"
    enrol_email(gw, app, mail, "erin", addr)
    wait_notices(mail, addr, 1)
    statuses = []
    for i in range(50):
        statuses.append(app.verify_user("erin", "aaaa-bbbb-cccc-%04d" % i).status)
        if i in (20, 35):  # unlocked twice in the burst: locked three times
            gw.cli("user", "unlock", "erin", "--app", app.client_id)
    assert statuses.count(422) == 12 and statuses.count(423) == 38, statuses
    assert len(gw.audit("locked")) == 3
    # The CLI's unlock is queued by another process, which the server
    # picks up on its delivery poll (2 s): wait for both kinds, then one
    # more poll for any that should not come.
    wait_until(lambda: {"Shop: your account is locked", "Shop: your account was unlocked"}
               <= set(subjects(mail, addr)), 15, what="the locked and unlocked notices")
    time.sleep(2.5)
    subs = subjects(mail, addr)
    # One "locked" and one "unlocked" however often it happened within
    # the coalescing window; never more than the hourly cap in all.
    assert subs.count("Shop: your account is locked") == 1, subs
    assert subs.count("Shop: your account was unlocked") == 1, subs
    assert len(subs) <= 10
    # The app still hears of every lock.
    assert types_of(hook).count("user.locked") == 3


@pytest.mark.sqlite_only
def test_sigkill_between_commit_and_delivery_loses_nothing(gw, smtp_sinks, hooks):
    """A notification and a webhook committed and handed over, but not yet
    accepted (a slow SMTP server, an app that does not answer), when the
    process is killed: after the restart each arrives, once."""
    mail = smtp_sinks()
    app = gw.add_app("Shop")
    gw.start(env=smtp_env(mail))
    enrol_email(gw, app, mail, "frank", "frank@example.com")
    wait_notices(mail, "frank@example.com", 1)
    # The sink has the mail before the server has recorded its answer; a
    # stop in between leaves the row in flight, to be sent again at the
    # next start (at least once), which is not what this test is about.
    wait_until(lambda: all(r["state"] == "sent" for r in
                           outbox_rows(gw.data_dir, "", codes_only=False)), 10,
               what="the first notification recorded as sent")
    gw.server.stop()

    hang = socket.socket()  # accepts connections (backlog), never answers
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)
    port = hang.getsockname()[1]
    set_webhook(gw, app, "http://127.0.0.1:%d/hooks/otpgate" % port)
    slow = smtp_sinks(data_delay=60)
    gw.start(env=smtp_env(slow))
    t = app.post("/users/frank/factors", {"type": "totp"})
    assert app.verify_factor("frank", t.json["id"], totp(t.json["secret"])).status == 200
    wait_until(lambda: {r["kind"] for r in outbox_rows(gw.data_dir, "WHERE state = 'sending'", codes_only=False)}
               == {"notice", "webhook"}, 10, what="a notification and a webhook in flight")
    gw.kill()
    hang.close()

    mail2 = smtp_sinks()
    hook = hooks(port=port)
    gw.start(env=smtp_env(mail2))
    wait_notices(mail2, "frank@example.com", 1)
    wait_until(lambda: (lambda l: l if len(l) >= 2 else None)(types_of(hook)), 15,
               what="the webhooks after the restart")
    time.sleep(1.0)
    assert types_of(hook) == ["factor.added", "factor.verified"], types_of(hook)
    assert subjects(mail2, "frank@example.com") == ["Shop: a new sign-in method was added"]
    rows = outbox_rows(gw.data_dir, "WHERE kind != 'code'", codes_only=False)
    assert all(r["state"] == "sent" for r in rows), rows


def test_policy_turns_notifications_off_or_picks_them(gw, smtp_sinks):
    mail = smtp_sinks()
    app = gw.add_app("Shop")
    other = gw.add_app("Other")
    gw.policy("notify=off", app=app)
    gw.policy("notify_events=factor_removed", app=other)
    gw.start(env=smtp_env(mail))
    enrol_email(gw, app, mail, "gina", "gina@example.com")
    fid, _ = enrol_email(gw, other, mail, "hank", "hank@example.com")
    t = other.post("/users/hank/factors", {"type": "totp"})
    assert other.verify_factor("hank", t.json["id"], totp(t.json["secret"])).status == 200
    assert other.delete("/users/hank/factors/%s" % t.json["id"]).status == 204
    wait_notices(mail, "hank@example.com", 1)
    time.sleep(1.5)
    assert subjects(mail, "gina@example.com") == []
    assert subjects(mail, "hank@example.com") == ["Other: a sign-in method was removed"]


@pytest.mark.sqlite_only
def test_app_set_webhook_cli(gw):
    app = gw.add_app("Shop")
    p = gw.cli("app", "set", app.client_id, "--webhook-url", "ftp://example.com/x", check=False)
    assert p.returncode == 1 and "webhook URL" in p.stderr, p.stderr
    p = gw.cli("app", "set", app.client_id, "--webhook-url", "http://example.com/x", check=False)
    assert p.returncode == 1 and "https://" in p.stderr, p.stderr
    p = gw.cli("app", "set", app.client_id, "--rotate-webhook-secret", check=False)
    assert p.returncode == 1 and "no webhook URL" in p.stderr, p.stderr
    p = gw.cli("app", "set", "app_nope", "--name", "X", check=False)
    assert p.returncode == 1 and "no app" in p.stderr, p.stderr
    p = gw.cli("app", "set", app.client_id, check=False)
    assert p.returncode == 2, p.stderr

    s1 = json.loads(gw.cli("app", "set", app.client_id, "--webhook-url",
                           "https://hooks.example.com/otpgate").stdout)["webhook_secret"]
    # The same URL again makes no new secret and prints none.
    p = gw.cli("app", "set", app.client_id, "--webhook-url", "https://hooks.example.com/otpgate")
    assert "whsec_" not in p.stdout, p.stdout
    s2 = json.loads(gw.cli("app", "set", app.client_id,
                           "--rotate-webhook-secret").stdout)["webhook_secret"]
    assert s1 != s2 and s2.startswith("whsec_")
    gw.cli("app", "set", app.client_id, "--name", "Shop 2", "--redirect-uri",
           "https://shop.example.com/cb")
    apps = json.loads(gw.cli("app", "list").stdout)
    assert apps[0]["name"] == "Shop 2"
    assert apps[0]["redirect_uris"] == ["https://shop.example.com/cb"]
    assert apps[0]["webhook_url"] == "https://hooks.example.com/otpgate"
    listing = gw.cli("app", "list").stdout
    assert "whsec_" not in listing and s2[6:] not in listing
    # Nothing of the secret is stored in the clear.
    with open(os.path.join(gw.data_dir, "otpgate.db"), "rb") as f:
        db = f.read()
    assert s2.encode() not in db and s2[6:].encode() not in db
    gw.cli("app", "set", app.client_id, "--webhook-url", "")
    assert json.loads(gw.cli("app", "list").stdout)[0]["webhook_url"] is None


def test_audit_export_json_lines(gw, smtp_sinks):
    mail = smtp_sinks()
    app = gw.add_app("Shop")
    other = gw.add_app("Other")
    gw.start(env=smtp_env(mail))
    enrol_email(gw, app, mail, "ivy", "ivy@example.com")
    t = other.post("/users/jo/factors", {"type": "totp", "client_ip": "198.51.100.4"})
    assert t.status == 201
    lines = gw.cli("audit", "export").stdout.splitlines()
    rows = [json.loads(l) for l in lines]
    assert len(rows) >= 4
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert set(rows[0]) == {"id", "at", "app_id", "sub", "event", "factor_id", "ip",
                            "user_agent", "detail"}
    assert any(r["event"] == "factor_enrolled" and r["sub"] == "ivy" for r in rows)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rows[0]["at"])
    mine = [json.loads(l) for l in
            gw.cli("audit", "export", "--app", other.client_id).stdout.splitlines()]
    assert mine and all(r["app_id"] == other.client_id for r in mine)
    assert mine[0]["ip"] == "198.51.100.4"
    assert gw.cli("audit", "export", "--since", "1h").stdout.strip()
    assert gw.cli("audit", "export", "--since", "2999-01-01").stdout == ""
    assert gw.cli("audit", "export", "--since", "2000-01-01T00:00:00Z").stdout.strip()
    p = gw.cli("audit", "export", "--since", "yesterday", check=False)
    assert p.returncode == 2 and "--since" in p.stderr
    # The export holds no destination and no code.
    text = gw.cli("audit", "export").stdout
    assert "ivy@example.com" not in text


def test_a_notice_for_a_channel_nothing_can_send_on_fails(gw, smtp_sinks):
    """A reset by the CLI (another process) queues a notification to the
    user's e-mail; started without any e-mail delivery, the server marks it
    failed on its delivery poll rather than keeping it queued for ever."""
    mail = smtp_sinks()
    app = gw.add_app("Shop")
    gw.start(env=smtp_env(mail))
    enrol_email(gw, app, mail, "ivan", "ivan@example.com")
    wait_notices(mail, "ivan@example.com", 1)
    wait_until(lambda: all(r["state"] == "sent" for r in
                           outbox_rows(gw.data_dir, "", codes_only=False)), 10,
               what="the first notification recorded as sent")
    gw.server.stop()
    gw.start(env={"OTPGATE_DEV": "0"})  # no SMTP, no development delivery
    gw.cli("user", "reset", "ivan", "--app", app.client_id)

    def failed():
        rows = outbox_rows(gw.data_dir, "WHERE kind = 'notice' AND state != 'sent'",
                           codes_only=False)
        return rows if rows and all(r["state"] == "failed" for r in rows) else None

    rows = wait_until(failed, 10, what="the reset's notice failed")
    assert [(r["destination"], r["answer"]) for r in rows] == \
        [("ivan@example.com", "no provider for this channel")], rows
