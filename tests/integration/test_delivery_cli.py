"""`otpgate send-test` (SPEC §2): one message through the configured
provider, the provider's answer as JSON, exit 0 when accepted, 1 when not."""

import json

from deliveryhelp import (SMS_AUTH, SMTP_PASS, SMTP_USER, free_port, parse_mail,  # noqa: F401
                          sms_env, sms_sinks, smtp_env, smtp_sinks, test_certs)

KEYS = {"channel", "to", "ok", "provider", "status", "answer", "seconds"}


def result(p):
    assert p.stdout.strip(), "no JSON on stdout; stderr: %s" % p.stderr
    j = json.loads(p.stdout)
    assert KEYS <= set(j), j
    return j


def test_email_accepted(run_cli, smtp_sinks, test_certs):
    sink = smtp_sinks(tls_cert=test_certs["server_cert"], tls_key=test_certs["server_key"],
                      require_starttls=True, auth=SMTP_USER + ":" + SMTP_PASS)
    env = smtp_env(sink, starttls="required", user=SMTP_USER, password=SMTP_PASS,
                   ca=test_certs["ca_cert"])
    p = run_cli(["send-test", "--email", "Admin@Example.COM"], env=env)
    assert p.returncode == 0, (p.stdout, p.stderr)
    j = result(p)
    assert j["ok"] is True and j["channel"] == "email", j
    assert j["to"] == "Admin@example.com", j
    assert j["provider"] == "smtp" and j["status"] == 250, j
    assert j["answer"].startswith("250") and "queued as sink-1" in j["answer"], j
    assert isinstance(j["seconds"], (int, float)) and 0 <= j["seconds"] < 10, j
    msgs = sink.messages()
    assert len(msgs) == 1, msgs
    m = msgs[0]
    assert m["rcpt_tos"] == ["Admin@example.com"] and m["tls"] and m["auth_user"] == SMTP_USER, m
    msg = parse_mail(m)
    assert msg["From"] == "otpgate@example.org" and msg["To"] == "Admin@example.com", msg
    assert msg["Subject"] and msg["Date"] and msg["Message-ID"], msg
    assert SMTP_PASS not in p.stdout + p.stderr


def test_email_refused(run_cli, smtp_sinks):
    sink = smtp_sinks(mode="refuse")
    p = run_cli(["send-test", "--email", "admin@example.com"], env=smtp_env(sink))
    assert p.returncode == 1, (p.stdout, p.stderr)
    j = result(p)
    assert j["ok"] is False and j["status"] == 550, j
    assert "550" in j["answer"], j
    assert sink.messages() == []


def test_email_server_down(run_cli):
    p = run_cli(["send-test", "--email", "admin@example.com"], env=smtp_env(port=free_port()))
    assert p.returncode == 1, (p.stdout, p.stderr)
    j = result(p)
    assert j["ok"] is False and j["answer"], j


def test_sms_accepted(run_cli, sms_sinks):
    sink = sms_sinks()
    p = run_cli(["send-test", "--sms", "+44 20 7946 0958"], env=sms_env(sink))
    assert p.returncode == 0, (p.stdout, p.stderr)
    j = result(p)
    assert j["ok"] is True and j["channel"] == "sms", j
    assert j["to"] == "+442079460958" and j["provider"] == "webhook", j
    assert j["status"] == 200 and j["provider_id"] == "msg-1", j
    reqs = sink.requests()
    assert len(reqs) == 1, reqs
    r = reqs[0]
    assert r["headers"]["authorization"] == SMS_AUTH, r
    assert r["json"]["to"] == "+442079460958" and "otpgate" in r["json"]["message"], r
    assert SMS_AUTH not in p.stdout


def test_sms_provider_error(run_cli, sms_sinks):
    sink = sms_sinks()
    sink.set_mode("5xx")
    p = run_cli(["send-test", "--sms", "+442079460958"], env=sms_env(sink))
    assert p.returncode == 1, (p.stdout, p.stderr)
    j = result(p)
    assert j["ok"] is False and j["status"] == 500, j
    assert "provider down" in j["answer"], j
    assert len(sink.requests()) == 1  # a test is one try, no retries


def test_without_settings_names_the_setting(run_cli):
    p = run_cli(["send-test", "--email", "admin@example.com"])
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "OTPGATE_SMTP_URL" in lines[0], p.stderr
    p = run_cli(["send-test", "--sms", "+442079460958"])
    assert p.returncode == 1, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "OTPGATE_SMS_PROVIDER" in lines[0], p.stderr


def test_usage_errors(run_cli):
    p = run_cli(["send-test"])
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    p = run_cli(["send-test", "--email", "not-an-address"], env={"OTPGATE_SMTP_URL":
                                                                  "smtp://127.0.0.1:1"})
    assert p.returncode == 2 and "not-an-address" in p.stderr, p.stderr
    p = run_cli(["send-test", "--help"])
    assert p.returncode == 0 and "--email" in p.stdout and "--sms" in p.stdout, p.stdout
