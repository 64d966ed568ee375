"""Helpers shared by the API tests (tests/integration/test_api_*.py).

`gw` is a fixture: one Gateway per test, with its own data directory, the
CLI bound to it, and a server started on demand through conftest's
make_server. Apps talk to it through ApiClient, which records every answer
body so tests can check that no code or secret ever leaks into one.

    def test_x(gw):
        app = gw.add_app()          # otpgate app add (before or after start)
        gw.policy("code_ttl=1")     # otpgate policy set (global or app=...)
        gw.start()
        r = app.post("/users/alice/factors", {"type": "email", "email": "a@example.com"})
        code = gw.code_for("a@example.com")   # newest code in /dev/outbox
"""

import base64
import datetime
import http.client
import json
import re
import signal
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import store_rows

API = "/api/v1"
REDIRECT = "http://127.0.0.1:3000/cb"
OATHTOOL = "/usr/bin/oathtool"
CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
RECOVERY_RE = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")
BULLET = "\u2022"


# ---- TOTP via Debian's oathtool ------------------------------------------


def totp(secret, offset=0, at=None):
    """The 6-digit TOTP code for base32 secret at time at (default now) +
    offset seconds, computed by oathtool."""
    t = (time.time() if at is None else at) + offset
    stamp = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")
    p = subprocess.run([OATHTOOL, "--totp", "-b", secret, "--now", stamp],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, "oathtool failed: %s" % p.stderr
    code = p.stdout.strip()
    assert re.fullmatch(r"\d{6}", code), code
    return code


def settle_totp_step(margin=4.0):
    """Sleeps into the next 30 s step when fewer than margin seconds are left
    in this one, so a test's codes do not straddle a step boundary. Returns
    the time to compute codes at (now)."""
    left = 30 - (time.time() % 30)
    if left < margin:
        time.sleep(left + 0.2)
    return time.time()


# ---- HTTP -----------------------------------------------------------------


class Answer:
    """One API answer: status, headers (dict with lower-case names), body
    bytes, and json (parsed, or None)."""

    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def error(self):
        return self.json.get("error") if isinstance(self.json, dict) else None

    def __repr__(self):
        return "<Answer %s %s -> %d %r>" % (self.method, self.path, self.status,
                                             self.body[:400])


def http_call(port, method, path, body=None, headers=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs[k.lower()] = v
        return Answer(method, path, r.status, hdrs, data)
    finally:
        conn.close()


def race(gw, app, path, body, n=20):
    """n identical POSTs on n connections, released together; returns the
    list of (status, json)."""
    port = gw.server.port
    conns = []
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        c.connect()
        conns.append(c)
    barrier = threading.Barrier(n)
    results = [None] * n
    data = json.dumps(body).encode()
    headers = {"Authorization": app.auth(), "Content-Type": "application/json"}

    def worker(i):
        try:
            barrier.wait(10)
            conns[i].request("POST", API + path, body=data, headers=headers)
            r = conns[i].getresponse()
            raw = r.read()
            results[i] = (r.status, json.loads(raw) if raw else None)
        except Exception as e:  # reported below
            results[i] = ("error", repr(e))
        finally:
            conns[i].close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(r is not None and r[0] != "error" for r in results), results
    return results


def basic(client_id, secret):
    raw = ("%s:%s" % (client_id, secret)).encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def q(sub):
    """sub as one path segment (percent-encoded)."""
    return urllib.parse.quote(sub, safe="")


class ApiClient:
    """One app's view of the API."""

    def __init__(self, gw, client_id, secret):
        self.gw = gw
        self.client_id = client_id
        self.secret = secret

    def auth(self):
        return basic(self.client_id, self.secret)

    def call(self, method, path, body=None, headers=None, auth=True, raw_body=None,
             content_type="application/json", timeout=10.0):
        hdrs = {}
        if auth:
            hdrs["Authorization"] = self.auth() if auth is True else auth
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None and content_type:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        if not path.startswith("/"):
            path = "/" + path
        full = path if path.startswith(API) else API + path
        a = http_call(self.gw.server.port, method, full, body=data, headers=hdrs,
                      timeout=timeout)
        self.gw.answers.append(a)
        return a

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        if body is None and "raw_body" not in kw:
            kw.setdefault("content_type", None)
        return self.call("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    # -- the flows tests use over and over --

    def add_email(self, sub, email, expect=201):
        a = self.post("/users/%s/factors" % q(sub), {"type": "email", "email": email})
        assert a.status == expect, a
        return a

    def add_sms(self, sub, phone, expect=201):
        a = self.post("/users/%s/factors" % q(sub), {"type": "sms", "phone": phone})
        assert a.status == expect, a
        return a

    def verify_factor(self, sub, factor_id, code):
        return self.post("/users/%s/factors/%s/verify" % (q(sub), factor_id), {"code": code})

    def enrol_email(self, sub, email):
        """Adds and verifies an email factor; returns (factor id, verify
        answer json)."""
        a = self.add_email(sub, email)
        fid = a.json["id"]
        v = self.verify_factor(sub, fid, self.gw.code_for(email))
        assert v.status == 200, v
        return fid, v.json

    def enrol_sms(self, sub, phone, e164=None):
        a = self.add_sms(sub, phone)
        fid = a.json["id"]
        v = self.verify_factor(sub, fid, self.gw.code_for(e164 or phone))
        assert v.status == 200, v
        return fid, v.json

    def enrol_totp(self, sub, offset=0):
        """Adds a TOTP factor and verifies it with the code offset seconds
        from now; returns (factor id, secret, verify answer json, add answer json)."""
        a = self.post("/users/%s/factors" % q(sub), {"type": "totp"})
        assert a.status == 201, a
        secret = a.json["secret"]
        v = self.verify_factor(sub, a.json["id"], totp(secret, offset))
        assert v.status == 200, v
        return a.json["id"], secret, v.json, a.json

    def challenge(self, sub, factor_id=None, expect=201):
        body = {"sub": sub}
        if factor_id:
            body["factor_id"] = factor_id
        a = self.post("/challenges", body)
        assert a.status == expect, a
        return a

    def verify_challenge(self, ch_id, code):
        return self.post("/challenges/%s/verify" % ch_id, {"code": code})

    def verify_user(self, sub, code):
        return self.post("/users/%s/verify" % q(sub), {"code": code})

    def factors(self, sub):
        a = self.get("/users/%s/factors" % q(sub))
        assert a.status == 200, a
        return a.json


# ---- the gateway under test ------------------------------------------------


class Gateway:
    def __init__(self, make_server, run_cli, tmp_path):
        self._make_server = make_server
        self._run_cli = run_cli
        self.tmp_path = tmp_path
        self.data_dir = str(tmp_path / "data")
        self.server = None
        self.answers = []
        self.apps = []

    # -- CLI --

    def cli(self, *args, check=True):
        p = self._run_cli(list(args), env={"OTPGATE_DATA_DIR": self.data_dir})
        if check:
            assert p.returncode == 0, "otpgate %s -> %d\n%s\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr)
        return p

    def add_app(self, name="Example"):
        p = self.cli("app", "add", "--name", name, "--redirect-uri", REDIRECT)
        creds = json.loads(p.stdout)
        app = ApiClient(self, creds["client_id"], creds["client_secret"])
        self.apps.append(app)
        return app

    def policy(self, *pairs, app=None):
        args = ["policy", "set"]
        if app is not None:
            args += ["--app", app.client_id if isinstance(app, ApiClient) else app]
        self.cli(*(args + list(pairs)))

    # -- the server --

    def start(self, env=None):
        self.server = self._make_server(env=env, data_dir=self.data_dir)
        return self.server

    def kill(self):
        """SIGKILL: no clean shutdown; teardown is told not to expect one."""
        s = self.server
        s.expect_clean_exit = False
        s.proc.send_signal(signal.SIGKILL)
        assert s.proc.wait(10) == -signal.SIGKILL
        s._join_reader()

    def restart_after_kill(self):
        self.kill()
        return self.start()

    # -- the development outbox --

    def outbox(self, codes_only=True):
        """The development outbox's messages, newest first; by default only
        code messages, not the security notifications (issue #15)."""
        return [m for m in self.server.dev_outbox() if not codes_only or m["kind"] == "code"]

    def messages_to(self, to):
        return [m for m in self.outbox() if m["to"] == to]

    def code_for(self, to, index=0):
        """The code of the index-th newest message to `to`."""
        msgs = self.messages_to(to)
        assert len(msgs) > index, "no message #%d to %s in %r" % (index, to, self.outbox())
        return code_in(msgs[index])

    def audit(self, event=None):
        """Rows of the audit table (dicts, oldest first), of one event or
        all; read-only, while the server runs (WAL)."""
        where, args = ("WHERE event = ?", (event,)) if event else ("", ())
        return store_rows(self.data_dir, "SELECT * FROM audit %s ORDER BY id" % where, args)

    def metrics(self):
        return self.server.metrics()


def code_in(message):
    codes = set(CODE_RE.findall(message["text"]))
    assert len(codes) == 1, "expected one code in %r" % message
    return codes.pop()


def metric_value(text, name, labels=None):
    """The sum of a counter's samples whose labels include labels (a dict)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in (labels or {}).items()):
            total += float(m.group(3))
    return total


@pytest.fixture
def gw(make_server, run_cli, tmp_path):
    return Gateway(make_server, run_cli, tmp_path)


# ---- sms and email: one suite, two channels -----------------------------


class Channel:
    """What differs between the sms and email factor types."""

    def __init__(self, type_, field, amr, dest, invalid):
        self.type = type_
        self.field = field
        self.amr = amr
        self._dest = dest
        self.invalid = invalid

    def dest(self, i=0):
        """(what the app sends, the normalised address, the mask shown)."""
        return self._dest(i)

    def other(self):
        return SMS if self is EMAIL else EMAIL


def _email_dest(i):
    addr = "user%d@example.com" % i
    return addr, addr, "u" + BULLET * 3 + "@example.com"


def _sms_dest(i):
    last4 = "0%03d" % i
    # 020 7946 0xxx: Ofcom's numbers reserved for drama, never a real phone.
    return ("+44 20 7946 %s" % last4, "+44207946" + last4,
            "+44 %s %s%s %s" % (BULLET * 4, BULLET * 2, last4[:2], last4[2:]))


EMAIL = Channel("email", "email", ["otp", "mail", "mfa"], _email_dest,
                ["not-an-email", "alice@", "@example.com", "alice@localhost",
                 "al ice@example.com", "alice@@example.com", "alice@exa_mple.com",
                 "alice@-example.com", "", "x" * 65 + "@example.com"])
SMS = Channel("sms", "phone", ["otp", "sms", "mfa"], _sms_dest,
              ["12345", "020 7946 0958", "+44 20 7946 095x", "+", "+44", "++44 20 7946 0958",
               "+0 20 7946 0958", "44+2079460958", "+44 20 7946 0958 0000 000", "", "tel:+442079460958"])


def other_code(code):
    """A code of the same length that is not code."""
    return "%0*d" % (len(code), (int(code) + 1) % (10 ** len(code)))


class ContactFactorSuite:
    """Tests every contact channel must pass; subclasses set ch = EMAIL/SMS.
    The subclass's module must import the gw fixture."""

    ch = None

    def add(self, app, sub, i=0, expect=201):
        raw, _, _ = self.ch.dest(i)
        a = app.post("/users/%s/factors" % q(sub), {"type": self.ch.type, self.ch.field: raw})
        assert a.status == expect, a
        return a

    def enrol(self, gw, app, sub, i=0):
        a = self.add(app, sub, i)
        v = app.verify_factor(sub, a.json["id"], gw.code_for(self.ch.dest(i)[1]))
        assert v.status == 200, v
        return a.json["id"], v.json

    def challenge_code(self, gw, i=0):
        return gw.code_for(self.ch.dest(i)[1])

    # -- enrolment --

    def test_enrol_wrong_code_then_right_code(self, gw):
        app = gw.add_app("Shop")
        gw.start()
        raw, to, masked = self.ch.dest(0)
        a = self.add(app, "alice")
        j = a.json
        assert j["type"] == self.ch.type and j["status"] == "pending", j
        assert j["id"].startswith("f_"), j
        assert j["destination"] == masked, j
        c = j["challenge"]
        assert c["id"].startswith("ch_") and c["type"] == self.ch.type, c
        assert c["destination"] == masked, c
        assert c["resend_after"] == 30, c
        exp = datetime.datetime.strptime(c["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        assert 290 <= exp - time.time() <= 302, c

        msgs = gw.outbox()
        assert len(msgs) == 1, msgs
        assert msgs[0]["channel"] == self.ch.type and msgs[0]["to"] == to, msgs
        assert "Shop" in msgs[0]["text"], msgs
        code = code_in(msgs[0])

        # A pending factor is listed as pending, not preferred.
        lst = app.factors("alice")
        assert [(f["id"], f["status"], f["preferred"]) for f in lst["factors"]] == \
            [(j["id"], "pending", False)], lst
        assert lst["preferred"] is None and lst["recovery_codes_left"] == 0, lst

        bad = app.verify_factor("alice", j["id"], other_code(code))
        assert bad.status == 422, bad
        assert bad.json["error"] == "invalid_code" and bad.json["attempts_left"] == 4, bad
        assert bad.json.get("message"), bad

        ok = app.verify_factor("alice", j["id"], code)
        assert ok.status == 200, ok
        assert ok.json["id"] == j["id"] and ok.json["status"] == "active", ok
        rc = ok.json["recovery_codes"]
        assert len(rc) == 10 and len(set(rc)) == 10, rc
        assert all(RECOVERY_RE.match(x) for x in rc), rc

        again = app.verify_factor("alice", j["id"], code)
        assert again.status == 409 and again.error == "already_active", again

        lst = app.factors("alice")
        assert len(lst["factors"]) == 1, lst
        f = lst["factors"][0]
        assert f["id"] == j["id"] and f["type"] == self.ch.type, f
        assert f["status"] == "active" and f["preferred"] is True, f
        assert f["destination"] == masked, f
        # confirming a factor is not a use of it: last used means used to sign in
        assert lst["preferred"] == j["id"] and lst["last_used"] is None, lst
        assert lst["recovery_codes_left"] == 10 and lst["locked"] is False, lst
        # The clear address is never given back.
        assert to not in json.dumps(lst, ensure_ascii=False), lst
        assert raw not in json.dumps(lst, ensure_ascii=False), lst

    def test_same_destination_twice(self, gw):
        app = gw.add_app()
        gw.policy("resend_cooldown=0")
        gw.start()
        first = self.add(app, "alice")
        # A pending factor for the same address is reused, not duplicated.
        second = self.add(app, "alice")
        assert second.json["id"] == first.json["id"], (first, second)
        assert second.json["challenge"]["id"] != first.json["challenge"]["id"]
        assert len(app.factors("alice")["factors"]) == 1
        v = app.verify_factor("alice", first.json["id"], self.challenge_code(gw))
        assert v.status == 200, v
        dup = self.add(app, "alice", expect=409)
        assert dup.error == "conflict", dup
        assert len(app.factors("alice")["factors"]) == 1

    def test_invalid_destination_is_422(self, gw):
        app = gw.add_app()
        gw.start()
        want = "invalid_phone" if self.ch.type == "sms" else "invalid_email"
        for raw in self.ch.invalid + [None, 12345]:
            body = {"type": self.ch.type}
            if raw is not None:
                body[self.ch.field] = raw
            a = app.post("/users/alice/factors", body)
            assert a.status == 422, (raw, a)
            assert a.error == want and a.json["message"], (raw, a)
        # The other channel's field does not stand in for this one's.
        a = app.post("/users/alice/factors",
                     {"type": self.ch.type, self.ch.other().field: self.ch.other().dest(0)[0]})
        assert a.status == 422, a
        assert gw.outbox() == []
        assert app.factors("alice")["factors"] == []

    def test_type_not_allowed_by_policy_is_403(self, gw):
        app = gw.add_app("One")
        other = gw.add_app("Two")
        gw.policy("factors=" + self.ch.other().type + ",totp", app=app)
        gw.start()
        a = self.add(app, "alice", expect=403)
        assert a.error == "factor_not_allowed", a
        assert gw.outbox() == []
        assert app.factors("alice")["factors"] == []
        # Only that app's policy says no.
        self.enrol(gw, other, "alice")
        # The global policy applies to apps without their own setting.
        gw.policy("factors=totp")
        a = self.add(other, "bob", expect=403)
        assert a.error == "factor_not_allowed", a
        # ...and a factor enrolled before the change cannot open a challenge.
        a = other.challenge("alice", expect=403)
        assert a.error == "factor_not_allowed", a

    # -- challenges --

    def test_challenge_verify_gives_amr_and_is_single_use(self, gw):
        app = gw.add_app()
        gw.start()
        fid, _ = self.enrol(gw, app, "alice")
        before = len(gw.outbox())
        c = app.challenge("alice").json
        assert c["id"].startswith("ch_") and c["type"] == self.ch.type, c
        assert c["destination"] == self.ch.dest(0)[2], c
        assert c["resend_after"] == 30 and c["expires_at"], c
        msgs = gw.outbox()
        assert len(msgs) == before + 1 and msgs[0]["to"] == self.ch.dest(0)[1], msgs
        code = code_in(msgs[0])

        bad = app.verify_challenge(c["id"], other_code(code))
        assert bad.status == 422 and bad.json["attempts_left"] == 4, bad
        ok = app.verify_challenge(c["id"], code)
        assert ok.status == 200, ok
        assert ok.json == {"ok": True, "factor_id": fid, "type": self.ch.type,
                           "amr": self.ch.amr}, ok
        again = app.verify_challenge(c["id"], code)
        assert again.status == 410 and again.error == "already_used", again
        wrong = app.verify_challenge(c["id"], other_code(code))
        assert wrong.status == 410 and wrong.error == "already_used", wrong
        # A finished challenge sends nothing more.
        r = app.post("/challenges/%s/resend" % c["id"])
        assert r.status == 410 and r.error == "already_used", r

        # The enrolment code is spent as well.
        lst = app.factors("alice")
        assert lst["last_used"] == fid and lst["factors"][0]["last_used_at"], lst

    def test_challenge_opens_on_last_used_then_preferred(self, gw):
        app = gw.add_app()
        gw.start()
        f1, first = self.enrol(gw, app, "alice", 1)
        f2, second = self.enrol(gw, app, "alice", 2)
        assert "recovery_codes" in first
        assert "recovery_codes" not in second, second
        lst = app.factors("alice")
        # confirming a factor is not a use of it: last used means used to sign in
        assert lst["preferred"] == f1 and lst["last_used"] is None, lst
        assert [f["preferred"] for f in lst["factors"]] == [True, False], lst

        def open_and_pass(factor_id=None):
            c = app.challenge("alice", factor_id).json
            v = app.verify_challenge(c["id"], code_in(gw.outbox()[0]))
            assert v.status == 200, v
            return c, v.json

        # Nothing used yet: the preferred one.
        c, v = open_and_pass()
        assert v["factor_id"] == f1 and c["destination"] == self.ch.dest(1)[2], (c, v)
        # Last used wins over preferred.
        c, v = open_and_pass(f2)
        c, v = open_and_pass()
        assert v["factor_id"] == f2 and c["destination"] == self.ch.dest(2)[2], (c, v)
        # Use the first one explicitly: the next challenge opens on it.
        c, v = open_and_pass(f1)
        assert v["factor_id"] == f1, v
        c = app.challenge("alice").json
        assert c["destination"] == self.ch.dest(1)[2], c
        assert gw.outbox()[0]["to"] == self.ch.dest(1)[1]
        # And back to the second one.
        c, v = open_and_pass(f2)
        assert v["factor_id"] == f2
        assert app.factors("alice")["last_used"] == f2
        c = app.challenge("alice").json
        assert c["destination"] == self.ch.dest(2)[2], c
        assert gw.outbox()[0]["to"] == self.ch.dest(2)[1]
        # With the last used one gone, the preferred one is used.
        assert app.delete("/users/alice/factors/%s" % f2).status == 204
        lst = app.factors("alice")
        assert lst["last_used"] is None and lst["preferred"] == f1, lst
        c = app.challenge("alice").json
        assert c["destination"] == self.ch.dest(1)[2], c
        assert gw.outbox()[0]["to"] == self.ch.dest(1)[1]

    def test_challenge_for_pending_or_unknown_factor(self, gw):
        app = gw.add_app()
        gw.start()
        a = app.challenge("nobody", expect=409)
        assert a.error == "no_active_factor", a
        pending = self.add(app, "alice").json["id"]
        a = app.challenge("alice", expect=409)
        assert a.error == "no_active_factor", a
        a = app.challenge("alice", pending, expect=409)
        assert a.error == "factor_not_active", a
        a = app.challenge("alice", "f_doesnotexist", expect=404)
        assert a.error == "not_found", a
        a = app.post("/challenges", {"factor_id": pending})
        assert a.status == 400, a

    # -- resend --

    def test_resend_before_cooldown_is_429(self, gw):
        app = gw.add_app()
        gw.start()
        self.enrol(gw, app, "alice")
        c = app.challenge("alice").json
        n = len(gw.outbox())
        r = app.post("/challenges/%s/resend" % c["id"])
        assert r.status == 429 and r.error == "rate_limited", r
        ra = r.header("Retry-After")
        assert ra is not None and ra.isdigit() and 25 <= int(ra) <= 30, r.headers
        assert r.json["retry_after"] == int(ra), r
        assert len(gw.outbox()) == n, "a refused resend sent a message"
        # The enrolment challenge has its own cooldown too.
        a = self.add(app, "alice", 3)
        r = app.post("/challenges/%s/resend" % a.json["challenge"]["id"])
        assert r.status == 429 and r.header("Retry-After"), r
        r = app.post("/challenges/ch_doesnotexist/resend")
        assert r.status == 404 and r.error == "not_found", r

    def test_resend_keeps_earlier_code_and_one_use_ends_it(self, gw):
        app = gw.add_app()
        gw.policy("resend_cooldown=1")
        gw.start()
        fid, _ = self.enrol(gw, app, "alice")
        c = app.challenge("alice").json
        assert c["resend_after"] == 1, c
        old = self.challenge_code(gw)
        time.sleep(1.1)
        r = app.post("/challenges/%s/resend" % c["id"])
        assert r.status == 202, r
        assert r.json["id"] == c["id"] and r.json["destination"] == c["destination"], r
        # The cooldown doubles: 2 s now.
        assert r.json["resend_after"] == 2, r
        again = app.post("/challenges/%s/resend" % c["id"])
        assert again.status == 429 and int(again.header("Retry-After")) in (1, 2), again
        msgs = gw.messages_to(self.ch.dest(0)[1])
        new = code_in(msgs[0])
        assert code_in(msgs[1]) == old
        if new == old:
            pytest.skip("the resend drew the same code (one in a million)")
        # The late first message still works, and ends the challenge.
        ok = app.verify_challenge(c["id"], old)
        assert ok.status == 200 and ok.json["factor_id"] == fid, ok
        late = app.verify_challenge(c["id"], new)
        assert late.status == 410 and late.error == "already_used", late

    def test_resend_then_new_code_works(self, gw):
        app = gw.add_app()
        gw.policy("resend_cooldown=1")
        gw.start()
        self.enrol(gw, app, "alice")
        c = app.challenge("alice").json
        old = self.challenge_code(gw)
        time.sleep(1.1)
        assert app.post("/challenges/%s/resend" % c["id"]).status == 202
        new = self.challenge_code(gw)
        if new == old:
            pytest.skip("the resend drew the same code (one in a million)")
        ok = app.verify_challenge(c["id"], new)
        assert ok.status == 200, ok
        late = app.verify_challenge(c["id"], old)
        assert late.status == 410 and late.error == "already_used", late

    # -- what messages hold --

    def test_messages_hold_only_their_own_code(self, gw):
        app = gw.add_app("Bakery")
        gw.policy("resend_cooldown=1")
        gw.start()
        fa, _ = self.enrol(gw, app, "alice", 1)
        fb, _ = self.enrol(gw, app, "bob", 2)
        ca = app.challenge("alice").json
        cb = app.challenge("bob").json
        time.sleep(1.1)
        assert app.post("/challenges/%s/resend" % ca["id"]).status == 202
        msgs = gw.outbox()
        assert len(msgs) == 5, msgs
        a_new, b_code, a_old = msgs[0], msgs[1], msgs[2]
        assert a_new["to"] == a_old["to"] == self.ch.dest(1)[1]
        assert b_code["to"] == self.ch.dest(2)[1]
        codes = [code_in(m) for m in msgs]
        secrets = [app.secret, app.client_id, ca["id"], cb["id"], fa, fb, "alice", "bob"]
        for m, code in zip(msgs, codes):
            blob = m["subject"] + "\n" + m["text"]
            assert CODE_RE.findall(blob) and set(CODE_RE.findall(blob)) == {code}, m
            for other in codes:
                if other != code:
                    assert other not in blob, (other, m)
            for s in secrets:
                assert s not in blob, (s, m)
            assert "Bakery" in blob, m
            if self.ch.type == "sms":
                assert m["subject"] == "", m
                assert m["text"].endswith("\n@127.0.0.1 #" + code), m
        # Each code opens its own challenge only.
        if codes[1] not in (codes[0], codes[2]):
            x = app.verify_challenge(ca["id"], codes[1])
            assert x.status == 422, x
            x = app.verify_challenge(cb["id"], codes[0])
            assert x.status == 422, x
        assert app.verify_challenge(cb["id"], codes[1]).status == 200
        assert app.verify_challenge(ca["id"], codes[0]).status == 200

    # -- managing factors --

    def test_delete_factor(self, gw):
        app = gw.add_app()
        gw.start()
        f1, _ = self.enrol(gw, app, "alice", 1)
        f2, _ = self.enrol(gw, app, "alice", 2)
        pending = self.add(app, "alice", 3).json["id"]
        d = app.delete("/users/alice/factors/%s" % f2)
        assert d.status == 204 and d.body == b"", d
        ids = [f["id"] for f in app.factors("alice")["factors"]]
        assert ids == [f1, pending], ids
        d = app.delete("/users/alice/factors/%s" % f2)
        assert d.status == 404 and d.error == "not_found", d
        a = app.challenge("alice", f2, expect=404)
        d = app.delete("/users/alice/factors/%s" % pending)
        assert d.status == 204, d
        d = app.delete("/users/alice/factors/%s" % f1)
        assert d.status == 204, d
        lst = app.factors("alice")
        assert lst["factors"] == [] and lst["preferred"] is None and lst["last_used"] is None, lst
        a = app.challenge("alice", expect=409)
        assert a.error == "no_active_factor", a
        d = app.delete("/users/nobody/factors/%s" % f1)
        assert d.status == 404, d

    def test_put_preferred(self, gw):
        app = gw.add_app()
        gw.start()
        f1, _ = self.enrol(gw, app, "alice", 1)
        f2, _ = self.enrol(gw, app, "alice", 2)
        pending = self.add(app, "alice", 3).json["id"]
        assert app.factors("alice")["preferred"] == f1
        p = app.put("/users/alice/preferred", {"factor_id": f2})
        assert p.status == 200 and p.json == {"preferred": f2}, p
        lst = app.factors("alice")
        assert lst["preferred"] == f2, lst
        assert {f["id"]: f["preferred"] for f in lst["factors"]} == \
            {f1: False, f2: True, pending: False}, lst
        p = app.put("/users/alice/preferred", {"factor_id": pending})
        assert p.status == 409 and p.error == "factor_not_active", p
        p = app.put("/users/alice/preferred", {"factor_id": "f_doesnotexist"})
        assert p.status == 404 and p.error == "not_found", p
        p = app.put("/users/alice/preferred", {})
        assert p.status == 400, p
        p = app.put("/users/nobody/preferred", {"factor_id": f1})
        assert p.status == 404, p
        assert app.factors("alice")["preferred"] == f2
