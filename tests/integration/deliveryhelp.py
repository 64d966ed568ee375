"""Helpers for the real-delivery tests (tests/integration/test_delivery_*.py):
SMTP and SMS sinks as fixtures, the settings that point otpgate at them,
reading the outbox table and parsing the messages the sinks received.

    from deliveryhelp import gw, smtp_sinks, sms_sinks, test_certs  # noqa: F401

    def test_x(gw, smtp_sinks):
        sink = smtp_sinks()                   # accepting sink, plain SMTP
        app = gw.add_app()
        gw.start(env=smtp_env(sink))
        app.add_email("alice", "alice@example.com")
        msg = wait_mail(sink, "alice@example.com")
"""

import asyncio
import base64
import email
import email.policy
import os
import re
import socket
import time

import pytest

import certs as certs_mod
from conftest import store_rows
from apiclient import CODE_RE, gw, metric_value  # noqa: F401  (re-exported fixture)
from sms_sink import SmsSink
import smtp_sink as smtp_sink_mod
from smtp_sink import SmtpSink

SMTP_USER = "otp-relay"
SMTP_PASS = "s3cret-Pa55"
SMS_AUTH = "Bearer sms-token-123"
SMS_AUTH2 = "Bearer second-token-456"

# Fast delivery for tests: short first backoff. The per-try timeout is
# generous: with a sink that answers, a try never meets it, even when the
# sink (a thread of the busy test process) and an ASan server share a
# loaded CI machine; a try given up while the sink was still answering would
# be retried and delivered twice. Tests about stalls set their own timeout.
FAST = {
    "OTPGATE_DEV": "0",
    "OTPGATE_DELIVERY_TIMEOUT": "10",
    "OTPGATE_DELIVERY_BACKOFF": "0.2",
    "OTPGATE_DELIVERY_RETRIES": "4",
}


# ---- waiting ---------------------------------------------------------------


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Calls pred until it returns something truthy; returns it or fails."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.1f s waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


# ---- a slower SMTP sink ------------------------------------------------------


class _SlowHandler(smtp_sink_mod._Handler):
    """smtp_sink's handler, waiting data_delay seconds before answering the
    end of DATA (a server that takes its time to queue a message)."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.sink.data_delay)
        return await super().handle_DATA(server, session, envelope)


class SlowSmtpSink(SmtpSink):
    def __init__(self, out, data_delay=0.05, **kw):
        super().__init__(out, **kw)
        self.data_delay = data_delay

    def _handler(self):
        return _SlowHandler(self)


# ---- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="session")
def test_certs(tmp_path_factory):
    """The test CA and server certificates of certs.py (made once)."""
    return certs_mod.make(str(tmp_path_factory.mktemp("certs")))


@pytest.fixture
def smtp_sinks(tmp_path):
    """smtp_sinks(data_delay=None, **SmtpSink options) -> a started SmtpSink
    (slowed by data_delay seconds per message when given) writing to its
    own file under tmp_path; all are stopped at teardown."""
    sinks = []

    def factory(data_delay=None, **kw):
        out = str(tmp_path / ("smtp%d.jsonl" % len(sinks)))
        if data_delay:
            s = SlowSmtpSink(out=out, data_delay=data_delay, **kw)
        else:
            s = SmtpSink(out=out, **kw)
        s.start()
        sinks.append(s)
        return s

    yield factory
    for s in sinks:
        s.stop()


@pytest.fixture
def sms_sinks(tmp_path):
    """sms_sinks() -> a started SmsSink logging to its own file; stopped at
    teardown."""
    sinks = []

    def factory():
        s = SmsSink(str(tmp_path / ("sms%d.jsonl" % len(sinks))))
        s.start()
        sinks.append(s)
        return s

    yield factory
    for s in sinks:
        s.stop()


def free_port():
    """A loopback port where nothing listens (an SMTP server that is down)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- settings ----------------------------------------------------------------


def smtp_env(sink=None, port=None, starttls="off", user=None, password=None, ca=None,
             sender="otpgate@example.org", **extra):
    """Settings for e-mail through sink (or a bare port), plus FAST and extra."""
    port = port if port is not None else sink.port
    cred = ""
    if user:
        cred = "%s:%s@" % (user, password)
    env = dict(FAST)
    env["OTPGATE_SMTP_URL"] = "smtp://%s127.0.0.1:%d?starttls=%s" % (cred, port, starttls)
    env["OTPGATE_SMTP_FROM"] = sender
    if ca:
        env["OTPGATE_CA_FILE"] = ca
    env.update({k: str(v) for k, v in extra.items()})
    return env


def sms_env(sink, provider="webhook", auth=SMS_AUTH, body=None, sender=None, **extra):
    """Settings for SMS through sink, plus FAST and extra."""
    env = dict(FAST)
    env["OTPGATE_SMS_PROVIDER"] = provider
    env["OTPGATE_SMS_URL"] = sink.url + ("/send" if provider == "webhook" else "")
    if auth is not None:
        env["OTPGATE_SMS_AUTH"] = auth
    if body is not None:
        env["OTPGATE_SMS_BODY"] = body
    if sender is not None:
        env["OTPGATE_SMS_FROM"] = sender
    env.update({k: str(v) for k, v in extra.items()})
    return env


# ---- the outbox table ----------------------------------------------------------


def db_path(data_dir):
    return os.path.join(data_dir, "otpgate.db")


def outbox_rows(data_dir, where="", args=(), codes_only=True):
    """Rows of the outbox table as dicts (read-only connection; works while
    the server runs, WAL). By default only code messages: the security
    notifications and webhooks an enrolment also queues (issue #15) are
    left out unless codes_only is False."""
    if codes_only:
        where = ("%s AND kind = 'code'" % where) if where else "WHERE kind = 'code'"
    return store_rows(data_dir, "SELECT * FROM outbox %s ORDER BY id" % where, args)


def row_for(data_dir, destination, index=-1):
    rows = outbox_rows(data_dir, "WHERE destination = ?", (destination,))
    if not rows:
        return None
    return rows[index]


def wait_row(data_dir, destination, pred, timeout=10.0, what=None):
    """Waits until the newest outbox row to destination satisfies pred."""
    def check():
        r = row_for(data_dir, destination)
        return r if r is not None and pred(r) else None
    return wait_until(check, timeout, what=what or "outbox row to %s" % destination)


def row_text(row):
    """Every column of an outbox row as text (blobs as hex and latin-1)."""
    parts = []
    for k, v in row.items():
        if isinstance(v, bytes):
            parts.append("%s=%s %s" % (k, v.hex(), v.decode("latin-1")))
        else:
            parts.append("%s=%s" % (k, v))
    return "\n".join(parts)


def contains_code(text, code):
    """True when code stands alone (not inside a longer number) in text."""
    return re.search(r"(?<!\d)%s(?!\d)" % re.escape(code), text) is not None


# ---- e-mail -------------------------------------------------------------------


def is_code_mail(record):
    """True for a code message (Message-ID <m_...>), false for a security
    notification (<msg_...>)."""
    return re.search(r"^Message-ID: <m_", record["data"], re.M | re.I) is not None


def mails_to(sink, addr, codes_only=True):
    """The messages to addr; by default only code messages."""
    return [m for m in sink.messages()
            if addr in m["rcpt_tos"] and (not codes_only or is_code_mail(m))]


def wait_mail(sink, addr, count=1, timeout=10.0):
    """Waits until sink holds count messages to addr; returns the newest
    record."""
    msgs = wait_until(lambda: (lambda l: l if len(l) >= count else None)(mails_to(sink, addr)),
                      timeout, what="%d message(s) to %s" % (count, addr))
    return msgs[-1]


def parse_mail(record):
    """The sink record's raw message as an email.message.EmailMessage."""
    return email.message_from_string(record["data"], policy=email.policy.default)


def mail_parts(msg):
    """{content type: decoded text} of the leaf parts."""
    out = {}
    for part in msg.walk():
        if part.is_multipart():
            continue
        out[part.get_content_type()] = part.get_content()
    return out


def mail_code(record):
    """The one code in the text/plain part (or the whole body)."""
    msg = parse_mail(record)
    parts = mail_parts(msg)
    text = parts.get("text/plain") or next(iter(parts.values()))
    codes = set(CODE_RE.findall(text))
    assert len(codes) == 1, "expected one code in %r" % text
    return codes.pop()


def message_id(record):
    msg = parse_mail(record)
    return (msg["Message-ID"] or "").strip()


# ---- SMS ---------------------------------------------------------------------


def sms_code(req):
    """The code at the end of an SMS text ("@host #CODE")."""
    text = sms_text(req)
    m = re.search(r"#(\d{4,10})$", text)
    assert m, "no '#CODE' at the end of %r" % text
    return m.group(1)


def sms_text(req):
    if req.get("json") and isinstance(req["json"], dict) and "message" in req["json"]:
        return req["json"]["message"]
    if req.get("form"):
        for k in ("message", "Body", "text", "msg"):
            if k in req["form"]:
                return req["form"][k]
    return req["body"]


def sms_requests_to(sink, number):
    out = []
    for r in sink.requests():
        blob = r["body"] + " " + r.get("query", "")
        if number in blob or number.lstrip("+") in blob or number.replace("+", "%2B") in blob:
            out.append(r)
    return out


def wait_sms(sink, number, count=1, timeout=10.0):
    reqs = wait_until(lambda: (lambda l: l if len(l) >= count else None)(sms_requests_to(sink, number)),
                      timeout, what="%d SMS request(s) to %s" % (count, number))
    return reqs[-1]


def basic_auth(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def metric(gw, name, **labels):
    return metric_value(gw.metrics(), name, labels)
