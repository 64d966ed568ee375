"""SMS delivery for real (SPEC §4 pumping guard, §7): otpgate posts to the
HTTP sink of sms_sink.py as a webhook (JSON, custom JSON, form) or as the
Twilio preset; retries after 5xx and timeouts, fails at once on 4xx,
switches to the secondary provider on retries, falls back to e-mail when
the policy allows; the country allow-list and the hourly caps."""

import json
import time

from deliveryhelp import (SMS_AUTH, SMS_AUTH2, basic_auth, contains_code, gw, mail_code,  # noqa: F401
                          mails_to,
                          metric, outbox_rows, row_for, row_text, sms_code, sms_env, sms_sinks,
                          sms_requests_to, smtp_env, smtp_sinks, wait_mail, wait_row, wait_sms,
                          wait_until)

UK = "+44 20 7946 0958"
UK_E164 = "+442079460958"
SUFFIX = "\n@127.0.0.1 #"


def uk(i):
    """(as typed, E.164) of a drama number 020 7946 0xxx."""
    return "+44 20 7946 0%03d" % i, "+442079460%03d" % i


def test_webhook_default_json_body(gw, sms_sinks):
    sink = sms_sinks()
    app = gw.add_app("Shop")
    gw.start(env=sms_env(sink, OTPGATE_LOG="debug"))
    a = app.add_sms("alice", UK)
    req = wait_sms(sink, UK_E164)
    assert req["method"] == "POST" and req["path"] == "/send", req
    assert req["headers"]["content-type"].split(";")[0] == "application/json", req
    assert req["headers"]["authorization"] == SMS_AUTH, req
    body = json.loads(req["body"])
    assert set(body) == {"to", "message"}, body
    assert body["to"] == UK_E164, body
    code = sms_code(req)
    assert body["message"].endswith(SUFFIX + code), body
    assert "Shop" in body["message"], body
    assert len(body["message"]) <= 160, body

    v = app.verify_factor("alice", a.json["id"], code)
    assert v.status == 200, v

    row = wait_row(gw.data_dir, UK_E164, lambda r: r["state"] == "sent")
    assert row["channel"] == "sms" and row["provider"] == "webhook", row
    assert row["provider_id"] == "msg-%d" % req["seq"], row   # the sink's "id"
    assert row["body_sealed"] is None and row["attempts"] == 1, row
    # The sink echoes the request body in its answer: the stored answer
    # has the code blanked.
    assert row["answer"], row
    assert not contains_code(row_text(row), code), row
    assert not contains_code(gw.server.stderr, code), gw.server.stderr
    assert SMS_AUTH not in gw.server.stderr
    assert metric(gw, "otpgate_codes_sent_total", channel="sms", outcome="sent") == 1
    assert metric(gw, "otpgate_delivery_latency_seconds_count", channel="sms") == 1


def test_webhook_custom_json_body_nests_and_escapes(gw, sms_sinks):
    sink = sms_sinks()
    app = gw.add_app('Caf\u00e9 "Quote"')
    body = ('{"recipient":{"digits":"{to_digits}","e164":"{to}"},"otp":"{code}",'
            '"text":"{message}","tags":["otp","{to_digits}"]}')
    gw.start(env=sms_env(sink, body=body))
    a = app.add_sms("alice", UK)
    req = wait_sms(sink, UK_E164)
    assert req["headers"]["content-type"].split(";")[0] == "application/json", req
    js = req["json"]
    assert js is not None, req["body"]
    code = js["otp"]
    assert js["recipient"] == {"digits": UK_E164[1:], "e164": UK_E164}, js
    assert js["tags"] == ["otp", UK_E164[1:]], js
    assert js["text"].endswith(SUFFIX + code), js
    assert 'Caf\u00e9 "Quote"' in js["text"], js      # the quote is JSON-escaped
    assert app.verify_factor("alice", a.json["id"], code).status == 200


def test_webhook_form_body(gw, sms_sinks):
    sink = sms_sinks()
    app = gw.add_app("Shop & Co")
    gw.start(env=sms_env(sink, body="number={to_digits}&otp={code}&text={message}&to={to}"))
    a = app.add_sms("alice", UK)
    req = wait_sms(sink, UK_E164)
    assert req["headers"]["content-type"].split(";")[0] == \
        "application/x-www-form-urlencoded", req
    form = req["form"]
    assert set(form) == {"number", "otp", "text", "to"}, form   # "&" in the name is escaped
    assert form["number"] == UK_E164[1:] and form["to"] == UK_E164, form
    code = form["otp"]
    assert form["text"].endswith(SUFFIX + code), form
    assert "Shop & Co" in form["text"], form
    assert app.verify_factor("alice", a.json["id"], code).status == 200


def test_chinese_text_keeps_the_origin_bound_line(gw, sms_sinks):
    sink = sms_sinks()
    app = gw.add_app("Shop")
    gw.start(env=sms_env(sink))
    a = app.call("POST", "/users/li/factors", {"type": "sms", "phone": UK},
                 headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert a.status == 201, a
    req = wait_sms(sink, UK_E164)
    code = sms_code(req)
    text = req["json"]["message"]
    assert "验证码" in text, text
    assert text.endswith(SUFFIX + code), text
    assert app.verify_factor("li", a.json["id"], code).status == 200


def test_twilio_preset(gw, sms_sinks):
    sink = sms_sinks()
    sink.set_mode("ok_twilio")
    sid, token = "AC" + "0123456789abcdef" * 2, "twilio-token-789"
    app = gw.add_app("Shop")
    gw.start(env=sms_env(sink, provider="twilio", auth=sid + ":" + token,
                         sender="+15005550006"))
    a = app.add_sms("alice", UK)
    req = wait_sms(sink, UK_E164)
    assert req["method"] == "POST", req
    assert req["path"] == "/2010-04-01/Accounts/%s/Messages.json" % sid, req
    assert req["headers"]["authorization"] == basic_auth(sid, token), req
    assert req["headers"]["content-type"].split(";")[0] == \
        "application/x-www-form-urlencoded", req
    form = req["form"]
    assert set(form) == {"To", "From", "Body"}, form
    assert form["To"] == UK_E164 and form["From"] == "+15005550006", form
    code = sms_code(req)
    assert form["Body"].endswith(SUFFIX + code), form
    assert app.verify_factor("alice", a.json["id"], code).status == 200
    row = wait_row(gw.data_dir, UK_E164, lambda r: r["state"] == "sent")
    assert row["provider"] == "twilio", row
    assert row["provider_id"] == "SM%032x" % req["seq"], row
    assert not contains_code(row_text(row), code), row
    assert token not in gw.server.stderr and token not in row_text(row)


def test_5xx_is_retried_then_delivered(gw, sms_sinks):
    sink = sms_sinks()
    sink.set_mode("5xx", count=1)
    app = gw.add_app()
    gw.start(env=sms_env(sink))
    a = app.add_sms("alice", UK)
    row = wait_row(gw.data_dir, UK_E164, lambda r: r["state"] == "sent",
                   what="the row to be sent after a 500")
    assert row["attempts"] == 2, row
    reqs = sms_requests_to(sink, UK_E164)
    assert [r["mode"] for r in reqs] == ["5xx", "ok"], reqs
    codes = {sms_code(r) for r in reqs}
    assert len(codes) == 1, codes            # the same message, resent
    assert app.verify_factor("alice", a.json["id"], codes.pop()).status == 200
    assert metric(gw, "otpgate_codes_sent_total", channel="sms", outcome="retry") == 1
    assert metric(gw, "otpgate_codes_sent_total", channel="sms", outcome="sent") == 1


def test_4xx_fails_at_once(gw, sms_sinks):
    sink = sms_sinks()
    sink.set_mode("4xx")
    app = gw.add_app()
    gw.start(env=sms_env(sink))
    app.add_sms("alice", UK)
    row = wait_row(gw.data_dir, UK_E164, lambda r: r["state"] == "failed",
                   what="the row to fail on a 400")
    assert row["attempts"] == 1, row
    assert row["body_sealed"] is None, row
    time.sleep(0.6)  # BACKOFF is 0.2 s: a retry would have come by now
    assert len(sms_requests_to(sink, UK_E164)) == 1
    assert row_for(gw.data_dir, UK_E164)["attempts"] == 1
    assert metric(gw, "otpgate_codes_sent_total", channel="sms", outcome="failed") == 1
    assert metric(gw, "otpgate_codes_sent_total", channel="sms", outcome="retry") == 0


def test_hang_is_retried_after_the_timeout(gw, sms_sinks):
    sink = sms_sinks()
    sink.set_mode("hang", count=1)
    app = gw.add_app()
    # An answer that waited for the hanging provider would take the 2 s of
    # the timeout; the bound is half of that, far above a normal answer
    # (~10 ms) even under ASan on a loaded machine.
    gw.start(env=sms_env(sink, OTPGATE_DELIVERY_TIMEOUT="2"))
    t0 = time.monotonic()
    a = app.add_sms("alice", UK)
    assert time.monotonic() - t0 < 1.0       # the API does not wait for the provider
    # While the provider hangs, the server answers at once.
    for _ in range(5):
        t = time.monotonic()
        assert app.get("/users/alice/factors").status == 200
        assert time.monotonic() - t < 1.0
    row = wait_row(gw.data_dir, UK_E164, lambda r: r["state"] == "sent", timeout=15,
                   what="the row to be sent after a timeout")
    assert row["attempts"] == 2, row
    reqs = sms_requests_to(sink, UK_E164)
    assert [r["mode"] for r in reqs] == ["hang", "ok"], reqs
    gap = reqs[1]["time"] - reqs[0]["time"]
    assert 1.5 <= gap <= 8, gap               # the first try was given up after ~2 s
    assert app.verify_factor("alice", a.json["id"], sms_code(reqs[1])).status == 200


def test_secondary_provider_takes_the_retry(gw, sms_sinks):
    primary, secondary = sms_sinks(), sms_sinks()
    primary.set_mode("5xx")
    app = gw.add_app()
    gw.start(env=sms_env(primary, OTPGATE_SMS2_PROVIDER="webhook",
                         OTPGATE_SMS2_URL=secondary.url + "/backup",
                         OTPGATE_SMS2_AUTH=SMS_AUTH2))
    a = app.add_sms("alice", UK)
    row = wait_row(gw.data_dir, UK_E164, lambda r: r["state"] == "sent",
                   what="the row to be sent by the secondary")
    assert row["attempts"] == 2, row
    p = sms_requests_to(primary, UK_E164)
    s = sms_requests_to(secondary, UK_E164)
    assert len(p) == 1 and p[0]["mode"] == "5xx", p
    assert len(s) == 1, s
    assert s[0]["path"] == "/backup", s
    assert s[0]["headers"]["authorization"] == SMS_AUTH2, s
    assert s[0]["json"]["to"] == UK_E164, s
    assert sms_code(s[0]) == sms_code(p[0])
    assert app.verify_factor("alice", a.json["id"], sms_code(s[0])).status == 200


def test_failed_sms_falls_back_to_email_when_the_policy_allows(gw, sms_sinks, smtp_sinks):
    sms = sms_sinks()
    mail = smtp_sinks()
    app = gw.add_app("Shop")
    gw.policy("sends_per_ip_hour=1000")
    env = sms_env(sms)
    env.update(smtp_env(mail))
    gw.start(env=env)
    # The user has an active e-mail and an active SMS factor.
    a = app.add_email("alice", "alice@example.com")
    assert app.verify_factor("alice", a.json["id"],
                             mail_code(wait_mail(mail, "alice@example.com"))).status == 200
    s = app.add_sms("alice", UK)
    sms_fid = s.json["id"]
    assert app.verify_factor("alice", sms_fid, sms_code(wait_sms(sms, UK_E164))).status == 200

    # The provider now refuses. With the policy off: no e-mail.
    sms.set_mode("4xx")
    ch = app.challenge("alice", sms_fid).json
    assert ch["type"] == "sms", ch
    wait_until(lambda: len([r for r in outbox_rows(gw.data_dir)
                            if r["channel"] == "sms" and r["state"] == "failed"]) == 1,
               what="the SMS to fail")
    time.sleep(0.5)
    assert len(mails_to(mail, "alice@example.com")) == 1, mail.messages()

    # With sms_fallback_email=on the code comes by e-mail instead.
    gw.policy("sms_fallback_email=on")
    ch = app.challenge("alice", sms_fid).json
    rec = wait_mail(mail, "alice@example.com", count=2)
    code = mail_code(rec)
    v = app.verify_challenge(ch["id"], code)
    assert v.status == 200 and v.json["ok"] is True, v
    assert v.json["factor_id"] == sms_fid, v
    # The mail reached the sink before the SMTP server's final reply came
    # back and the fallback row was marked sent: wait for the mark.
    wait_row(gw.data_dir, "alice@example.com",
             lambda r: r["fallback_of"] is not None and r["state"] == "sent",
             what="the fallback row to be marked sent")
    rows = outbox_rows(gw.data_dir)
    failed_sms = [r for r in rows if r["channel"] == "sms" and r["state"] == "failed"]
    assert len(failed_sms) == 2, rows
    fb = [r for r in rows if r["fallback_of"] is not None]
    assert len(fb) == 1, rows
    assert fb[0]["fallback_of"] == failed_sms[-1]["id"], (fb, failed_sms)
    assert fb[0]["channel"] == "email" and fb[0]["destination"] == "alice@example.com", fb
    assert fb[0]["state"] == "sent" and fb[0]["body_sealed"] is None, fb
    # The SMS text tried first held the same code.
    assert sms_code(sms_requests_to(sms, UK_E164)[-1]) == code
    assert metric(gw, "otpgate_codes_sent_total", channel="sms", outcome="fallback_email") == 1


def test_sms_out_of_retries_falls_back_to_email(gw, sms_sinks, smtp_sinks):
    """5xx until the retries run out is a permanent failure too."""
    sms = sms_sinks()
    mail = smtp_sinks()
    app = gw.add_app("Shop")
    gw.policy("sms_fallback_email=on")
    env = sms_env(sms, OTPGATE_DELIVERY_RETRIES="1", OTPGATE_DELIVERY_BACKOFF="0.1")
    env.update(smtp_env(mail, OTPGATE_DELIVERY_RETRIES="1", OTPGATE_DELIVERY_BACKOFF="0.1"))
    gw.start(env=env)
    a = app.add_email("alice", "alice@example.com")
    assert app.verify_factor("alice", a.json["id"],
                             mail_code(wait_mail(mail, "alice@example.com"))).status == 200
    sms.set_mode("5xx")
    s = app.add_sms("alice", UK)       # enrolling the phone: its code cannot go by SMS
    rec = wait_mail(mail, "alice@example.com", count=2)
    row = row_for(gw.data_dir, UK_E164)
    assert row["state"] == "failed" and row["attempts"] == 2, row
    assert len(sms_requests_to(sms, UK_E164)) == 2
    v = app.verify_factor("alice", s.json["id"], mail_code(rec))
    assert v.status == 200 and v.json["status"] == "active", v


def test_country_allow_list(gw, sms_sinks):
    sink = sms_sinks()
    app = gw.add_app()
    gw.policy("sms_countries=44")
    gw.start(env=sms_env(sink))
    r = app.add_sms("bob", "+1 202 555 0143", expect=422)
    assert r.error == "country_not_allowed", r
    app.add_sms("alice", UK)
    wait_sms(sink, UK_E164)
    time.sleep(0.2)
    assert [q["json"]["to"] for q in sink.requests()] == [UK_E164]
    assert metric(gw, "otpgate_rate_limit_refusals_total", limit="sms_country") == 1
    assert app.factors("bob")["factors"] == []


def test_prefix_hourly_cap(gw, sms_sinks):
    sink = sms_sinks()
    app = gw.add_app()
    gw.policy("sms_prefix_hour=2")
    gw.start(env=sms_env(sink))
    for i in range(2):
        app.add_sms("u%d" % i, uk(i)[0])
    r = app.add_sms("u2", uk(2)[0], expect=429)
    assert r.error == "rate_limited", r
    assert int(r.header("retry-after")) > 0, r
    # Another calling code still goes.
    app.add_sms("u3", "+1 202 555 0143")
    wait_until(lambda: len(sink.requests()) == 3, what="three SMS requests")
    time.sleep(0.2)
    tos = sorted(q["json"]["to"] for q in sink.requests())
    assert tos == sorted([uk(0)[1], uk(1)[1], "+12025550143"]), tos
    assert metric(gw, "otpgate_rate_limit_refusals_total", limit="sms_prefix_hour") == 1


def test_global_hourly_cap(gw, sms_sinks):
    sink = sms_sinks()
    app = gw.add_app()
    gw.policy("sms_global_hour=3")
    gw.start(env=sms_env(sink))
    numbers = ["+44 20 7946 0001", "+1 202 555 0143", "+33 6 12 34 56 78"]
    for i, n in enumerate(numbers):
        app.add_sms("u%d" % i, n)
    r = app.add_sms("u9", "+49 30 12345678", expect=429)
    assert r.error == "rate_limited", r
    wait_until(lambda: len(sink.requests()) == 3, what="three SMS requests")
    assert metric(gw, "otpgate_rate_limit_refusals_total", limit="sms_global_hour") == 1
    # E-mail is not an SMS: unaffected by the SMS caps (dev is off and no
    # SMTP is set, so the channel answers 503, not 429).
    r = app.post("/users/u9/factors", {"type": "email", "email": "u9@example.com"})
    assert r.status == 503 and r.error == "channel_unavailable", r
