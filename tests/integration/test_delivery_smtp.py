"""E-mail delivery for real (SPEC §7, §10): otpgate talks SMTP to the
aiosmtpd sink of smtp_sink.py, with STARTTLS against the test CA and AUTH
PLAIN; the outbox row follows the message from queued to sent or failed;
refusals, temporary failures and a stalled server."""

import email.utils
import json
import re
import signal
import time

from apiclient import http_call, metric_value
from deliveryhelp import (SMTP_PASS, SMTP_USER, contains_code, free_port, gw, mail_code,  # noqa: F401
                          mail_parts, mails_to, metric, outbox_rows, parse_mail, row_for,
                          row_text, smtp_env, smtp_sinks, test_certs, wait_mail, wait_row,
                          wait_until)


def tls_sink(smtp_sinks, test_certs, **kw):
    return smtp_sinks(tls_cert=test_certs["server_cert"], tls_key=test_certs["server_key"],
                      require_starttls=True, auth=SMTP_USER + ":" + SMTP_PASS,
                      auth_mechanisms=["PLAIN"], **kw)


def tls_env(sink, test_certs, **extra):
    return smtp_env(sink, starttls="required", user=SMTP_USER, password=SMTP_PASS,
                    ca=test_certs["ca_cert"], **extra)


def test_email_over_starttls_with_auth_enrols_the_factor(gw, smtp_sinks, test_certs):
    sink = tls_sink(smtp_sinks, test_certs)
    app = gw.add_app("Shop")
    gw.start(env=tls_env(sink, test_certs, OTPGATE_LOG="debug"))
    t0 = time.time()
    a = app.add_email("alice", "alice@example.com")
    fid = a.json["id"]
    rec = wait_mail(sink, "alice@example.com")

    # The envelope and the session.
    assert rec["mail_from"] == "otpgate@example.org", rec
    assert rec["rcpt_tos"] == ["alice@example.com"], rec
    assert rec["tls"] is True and rec["tls_version"], rec
    assert rec["auth_user"] == SMTP_USER, rec

    # The headers.
    msg = parse_mail(rec)
    assert msg["From"] == "otpgate@example.org", msg["From"]
    assert msg["To"] == "alice@example.com", msg["To"]
    assert msg["Subject"] and "Shop" in msg["Subject"], msg["Subject"]
    assert msg["Date"], "no Date header"
    sent = email.utils.parsedate_to_datetime(msg["Date"]).timestamp()
    assert abs(sent - t0) < 120, msg["Date"]
    mid = msg["Message-ID"]
    assert mid and re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mid.strip()), mid
    assert msg["MIME-Version"] == "1.0"

    # The body: multipart/alternative with a plain and an HTML part.
    assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
    parts = mail_parts(msg)
    assert set(parts) >= {"text/plain", "text/html"}, list(parts)
    code = mail_code(rec)
    assert code in parts["text/plain"]
    assert code in parts["text/html"]
    assert "<html" in parts["text/html"].lower()

    # The code from the message verifies the factor.
    v = app.verify_factor("alice", fid, code)
    assert v.status == 200 and v.json["status"] == "active", v

    # The outbox row: sent, the sealed code dropped, provider smtp, its
    # msg_id is the Message-ID, and no trace of the code anywhere in it.
    # The mail reached the sink before the server's final reply came back
    # and the row was marked: wait for the mark (one commit away).
    row = wait_row(gw.data_dir, "alice@example.com", lambda r: r["state"] == "sent",
                   what="the row to be marked sent")
    assert len(outbox_rows(gw.data_dir)) == 1
    assert row["body_sealed"] is None, row
    assert row["provider"] == "smtp", row
    assert row["attempts"] == 1, row
    assert row["channel"] == "email" and row["destination"] == "alice@example.com", row
    assert row["answer"] and row["answer"].startswith("250"), row
    assert mid.strip("<> ").split("@")[0] == row["msg_id"], (mid, row)
    assert not contains_code(row_text(row), code), row

    # Nothing in the log holds the code or the SMTP password.
    log = gw.server.stderr
    assert log, "no log at all"
    assert not contains_code(log, code), "the code %s is in the log:\n%s" % (code, log)
    assert SMTP_PASS not in log, log

    # The enrolment's notification (issue #15) follows the code.
    wait_until(lambda: metric_value(gw.metrics(), "otpgate_outbox_depth") == 0,
               what="an empty outbox")
    m = gw.metrics()
    assert metric_value(m, "otpgate_codes_sent_total", {"channel": "email", "outcome": "sent"}) == 1, m
    assert metric_value(m, "otpgate_notifications_sent_total",
                        {"channel": "email", "outcome": "sent"}) == 1, m
    assert metric_value(m, "otpgate_delivery_latency_seconds_count", {"channel": "email"}) == 2, m


def test_locale_zh_gives_a_chinese_message(gw, smtp_sinks, test_certs):
    sink = tls_sink(smtp_sinks, test_certs)
    app = gw.add_app("Shop")
    gw.start(env=tls_env(sink, test_certs))
    a = app.post("/users/li/factors", {"type": "email", "email": "li@example.com", "locale": "zh"})
    assert a.status == 201, a
    b = app.call("POST", "/users/wang/factors", {"type": "email", "email": "wang@example.com"},
                 headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert b.status == 201, b
    for addr, fid, sub in (("li@example.com", a.json["id"], "li"),
                           ("wang@example.com", b.json["id"], "wang")):
        rec = wait_mail(sink, addr)
        msg = parse_mail(rec)
        subject = str(msg["Subject"])
        assert re.search(r"[\u4e00-\u9fff]", subject), subject
        text = mail_parts(msg)["text/plain"]
        assert "验证码" in subject + text, (subject, text)
        assert rec["tls"] and rec["auth_user"] == SMTP_USER
        assert app.verify_factor(sub, fid, mail_code(rec)).status == 200
    for row in outbox_rows(gw.data_dir):
        assert row["locale"].startswith("zh"), row


def test_refusal_fails_for_good(gw, smtp_sinks, test_certs):
    sink = tls_sink(smtp_sinks, test_certs, mode="refuse")
    app = gw.add_app()
    gw.start(env=tls_env(sink, test_certs))
    app.add_email("alice", "alice@example.com")
    row = wait_row(gw.data_dir, "alice@example.com", lambda r: r["state"] == "failed",
                   what="the row to fail")
    assert row["attempts"] == 1, row           # 550 is not retried
    assert row["body_sealed"] is None, row     # a dead message keeps no code
    assert "550" in (row["answer"] or ""), row
    assert row["provider"] == "smtp", row
    time.sleep(0.6)                            # no retry comes later either
    row = row_for(gw.data_dir, "alice@example.com")
    assert row["state"] == "failed" and row["attempts"] == 1, row
    assert sink.messages() == []
    assert metric(gw, "otpgate_codes_sent_total", channel="email", outcome="failed") == 1
    assert metric(gw, "otpgate_codes_sent_total", channel="email", outcome="sent") == 0
    assert metric(gw, "otpgate_outbox_depth") == 0


def test_tempfail_is_retried_then_delivered(gw, smtp_sinks, test_certs):
    sink = tls_sink(smtp_sinks, test_certs, mode="tempfail")
    app = gw.add_app()
    gw.start(env=tls_env(sink, test_certs, OTPGATE_DELIVERY_BACKOFF="0.5",
                         OTPGATE_DELIVERY_RETRIES="6"))
    a = app.add_email("alice", "alice@example.com")
    # The first try met 451: back to queued with a later next_at.
    row = wait_row(gw.data_dir, "alice@example.com",
                   lambda r: r["state"] == "queued" and r["attempts"] >= 1,
                   what="a queued row after a 451")
    assert "451" in (row["answer"] or ""), row
    assert row["body_sealed"] is not None, row  # still needed for the retry
    assert row["next_at"] > row["created_at"], row
    sink.set_mode("accept")
    rec = wait_mail(sink, "alice@example.com")
    row = wait_row(gw.data_dir, "alice@example.com", lambda r: r["state"] == "sent")
    assert row["attempts"] >= 2, row
    assert row["body_sealed"] is None, row
    assert len(mails_to(sink, "alice@example.com")) == 1
    assert app.verify_factor("alice", a.json["id"], mail_code(rec)).status == 200
    assert metric(gw, "otpgate_codes_sent_total", channel="email", outcome="retry") >= 1
    assert metric(gw, "otpgate_codes_sent_total", channel="email", outcome="sent") == 1


def test_tempfail_until_retries_run_out_fails(gw, smtp_sinks):
    sink = smtp_sinks(mode="tempfail")
    app = gw.add_app()
    gw.start(env=smtp_env(sink, OTPGATE_DELIVERY_BACKOFF="0.1", OTPGATE_DELIVERY_RETRIES="2"))
    app.add_email("alice", "alice@example.com")
    row = wait_row(gw.data_dir, "alice@example.com", lambda r: r["state"] == "failed",
                   timeout=15, what="the row to fail after its retries")
    assert row["attempts"] == 3, row  # the first try and OTPGATE_DELIVERY_RETRIES=2 more
    assert row["body_sealed"] is None, row
    assert "451" in row["answer"], row
    assert sink.messages() == []
    assert metric(gw, "otpgate_codes_sent_total", channel="email", outcome="retry") == 2
    assert metric(gw, "otpgate_codes_sent_total", channel="email", outcome="failed") == 1
    assert metric(gw, "otpgate_outbox_depth") == 0


def test_stalled_smtp_never_stalls_serving(gw, smtp_sinks, test_certs):
    """Six messages to a server that never greets: more than the thread
    pool's four threads are stuck in SMTP, yet HTTP answers at once.
    (/readyz is left to test_readyz_stays_ready_while_deliveries_retry.)"""
    sink = tls_sink(smtp_sinks, test_certs, mode="hang")
    app = gw.add_app()
    gw.policy("sends_per_ip_hour=1000")
    # Each stuck try lasts `stall` seconds. An answer that waited for one
    # would take about that long; the bound below is half of it, far above
    # what an answer takes even under ASan on a loaded machine (~10 ms).
    stall = 2.0
    bound = stall / 2
    gw.start(env=tls_env(sink, test_certs, OTPGATE_DELIVERY_TIMEOUT="%g" % stall,
                         OTPGATE_DELIVERY_BACKOFF="0.2", OTPGATE_DELIVERY_RETRIES="8"))
    fids = {}
    for i in range(6):
        a = app.add_email("u%d" % i, "u%d@example.com" % i)
        fids[i] = a.json["id"]
    # While the sends are stuck (the sink never greets, so every try and
    # retry hangs until it is given up): health, readiness, metrics and API
    # reads each answer at once.
    worst = 0.0
    deadline = time.monotonic() + 1.5
    n = 0
    while time.monotonic() < deadline or n < 3:
        for path in ("/healthz", "/metrics", "/"):
            t = time.monotonic()
            r = http_call(gw.server.port, "GET", path, timeout=5)
            worst = max(worst, time.monotonic() - t)
            assert r.status == 200, r
        t = time.monotonic()
        r = app.get("/users/u0/factors", timeout=5)
        worst = max(worst, time.monotonic() - t)
        assert r.status == 200, r
        n += 1
    assert worst < bound, "slowest answer %.3f s while SMTP hangs" % worst
    # New codes can still be asked for meanwhile (the write path too).
    t = time.monotonic()
    app.add_email("late", "late@example.com")
    assert time.monotonic() - t < bound
    assert sink.messages() == []
    rows = outbox_rows(gw.data_dir)
    assert all(r["state"] in ("queued", "sending") for r in rows), rows

    # At least one try has timed out (the stall was met, not skipped).
    wait_until(lambda: [r for r in outbox_rows(gw.data_dir)
                        if "timed out" in (r["answer"] or "")], 10, what="a timed-out try")
    sink.set_mode("accept")
    for i in range(6):
        rec = wait_mail(sink, "u%d@example.com" % i, timeout=20)
        assert app.verify_factor("u%d" % i, fids[i], mail_code(rec)).status == 200
    wait_mail(sink, "late@example.com", timeout=20)
    rows = wait_until(lambda: (lambda rs: rs if all(r["state"] == "sent" for r in rs) else None)(
        outbox_rows(gw.data_dir)), 20, what="every row sent")
    for r in rows:
        # The first four took the four SMTP slots at once and met the
        # stall; the others waited for a slot and may have gone on their
        # first try.
        if r["destination"] in ("u%d@example.com" % i for i in range(4)):
            assert r["attempts"] >= 2, r
        assert r["body_sealed"] is None, r
    wait_until(lambda: "delivery failed, will retry" in gw.server.stderr,
               what="a retry line in the log")
    for i in range(6):
        assert len(mails_to(sink, "u%d@example.com" % i)) == 1


def test_starttls_required_without_tls_never_sends_in_clear(gw, smtp_sinks):
    sink = smtp_sinks()  # no certificate: no STARTTLS offered
    app = gw.add_app()
    gw.start(env=smtp_env(sink, starttls="required"))
    app.add_email("alice", "alice@example.com")
    row = wait_row(gw.data_dir, "alice@example.com", lambda r: r["state"] == "failed",
                   what="the row to fail")
    assert "STARTTLS" in (row["answer"] or ""), row
    assert row["attempts"] == 1, row  # a policy failure needs an admin, not time
    assert row["body_sealed"] is None, row
    time.sleep(0.5)
    assert sink.messages() == [], sink.messages()
    assert metric(gw, "otpgate_codes_sent_total", channel="email", outcome="failed") == 1


def test_credentials_with_optional_starttls_require_tls(gw, smtp_sinks):
    """With a password and starttls=optional, a server without TLS gets
    nothing: the password never travels in the clear."""
    sink = smtp_sinks(auth=SMTP_USER + ":" + SMTP_PASS)  # AUTH in the clear allowed by the sink
    app = gw.add_app()
    gw.start(env=smtp_env(sink, starttls="optional", user=SMTP_USER, password=SMTP_PASS))
    app.add_email("alice", "alice@example.com")
    row = wait_row(gw.data_dir, "alice@example.com", lambda r: r["state"] == "failed",
                   what="the row to fail")
    assert sink.messages() == []
    assert SMTP_PASS not in row_text(row) and SMTP_PASS not in gw.server.stderr


def test_readyz_stays_ready_while_deliveries_retry(gw):
    """/readyz proves the database is writable. While messages are being
    retried (here: an SMTP port where nothing listens, so every try fails at
    once and is rescheduled), the delivery code opens group-commit
    transactions from timers and completions; a readiness probe landing in
    the same loop iteration must still answer 200, not 503."""
    app = gw.add_app()
    gw.policy("sends_per_ip_hour=1000")
    gw.start(env=smtp_env(port=free_port(), OTPGATE_DELIVERY_BACKOFF="0.05",
                          OTPGATE_DELIVERY_RETRIES="50"))
    for i in range(4):
        app.add_email("u%d" % i, "u%d@example.com" % i)
    statuses = {}
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        r = http_call(gw.server.port, "GET", "/readyz", timeout=5)
        statuses[r.status] = statuses.get(r.status, 0) + 1
    begin_failed = [l for l in gw.server.logs if l.get("msg") == "database begin failed"]
    assert set(statuses) == {200}, (
        "/readyz answers while deliveries retry: %r; log: %r" % (statuses, begin_failed[:3]))


def test_log_lines_have_unique_keys(gw, smtp_sinks):
    """Logs are one JSON object per line; a key written twice (the retry and
    failure lines pass the message id as "msg", the key of the log text)
    makes parsers keep only one: the line's text is lost."""
    sink = smtp_sinks(mode="tempfail")
    app = gw.add_app()
    gw.start(env=smtp_env(sink, OTPGATE_DELIVERY_BACKOFF="0.1", OTPGATE_DELIVERY_RETRIES="1"))
    app.add_email("alice", "alice@example.com")
    wait_row(gw.data_dir, "alice@example.com", lambda r: r["state"] == "failed", timeout=15)
    # The server wrote its lines before the row was committed, but the
    # test's reader thread may not have taken them off the pipe yet.
    for text in ("delivery failed, will retry", "delivery failed for good"):
        wait_until(lambda t=text: t in gw.server.stderr, what="%r in the log" % text)
    dups = []

    def hook(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            dups.append(pairs)
        return dict(pairs)

    for line in gw.server.stderr.splitlines():
        if line.startswith("{"):
            json.loads(line, object_pairs_hook=hook)
    assert "delivery failed, will retry" in gw.server.stderr
    assert "delivery failed for good" in gw.server.stderr
    assert not dups, "log lines with a key twice: %r" % dups[:2]


def test_sigterm_does_not_wait_for_a_stalled_smtp_send(gw, smtp_sinks):
    """SIGTERM exits within OTPGATE_SHUTDOWN_TIMEOUT (SPEC §9: within 10 s)
    even while an SMTP send is stuck; the message stays in the outbox for
    the next start. (An SMS send in the same spot is cancelled at once.)"""
    sink = smtp_sinks(mode="hang")
    app = gw.add_app()
    srv = gw.start(env=smtp_env(sink, OTPGATE_DELIVERY_TIMEOUT="8",
                                OTPGATE_SHUTDOWN_TIMEOUT="1"))
    app.add_email("alice", "alice@example.com")
    wait_row(gw.data_dir, "alice@example.com", lambda r: r["state"] == "sending")
    time.sleep(0.3)
    t = time.monotonic()
    rc = srv.stop(signal.SIGTERM, timeout=20)
    took = time.monotonic() - t
    row = outbox_rows(gw.data_dir)[0]
    assert row["state"] in ("queued", "sending") and row["body_sealed"] is not None, row
    assert rc == 0
    # Waiting for the send would take the ~8 s of the SMTP timeout; 5 s
    # leaves room for a slow exit (ASan's leak check on a loaded machine).
    assert took < 5.0, ("SIGTERM took %.1f s with OTPGATE_SHUTDOWN_TIMEOUT=1: it waited for "
                        "the SMTP timeout (OTPGATE_DELIVERY_TIMEOUT=8)" % took)
