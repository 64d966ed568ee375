"""The end-user pages over plain HTTP: the signed-link entry and its
refusals, session cookie and security headers, CSRF, the e-mail binding
flow with the code from the development outbox, the signed result the app
gets back, cancel, and the brand settings. (The browser suite drives the
same pages in Chromium.)"""

import base64
import hashlib
import hmac
import json
import os
import re
import time
import urllib.parse

import pytest

PUBLIC = "http://127.0.0.1:8080"  # the default public URL: the links' audience
RETURN = "http://127.0.0.1:3000/cb"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_link(app, user, **over):
    now = int(time.time())
    claims = {"iss": app["client_id"], "sub": user, "aud": PUBLIC, "iat": now, "exp": now + 300,
              "jti": b64(os.urandom(12)), "return_to": RETURN, "state": "st-42"}
    secret = over.pop("_secret", None) or app["client_secret"]
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest())
    return "/start?token=" + head + "." + body + "." + sig


class Browser:
    """Cookies and forms by hand, enough to walk the pages."""

    def __init__(self, server):
        self.server = server
        self.cookies = {}

    def _headers(self, extra=None):
        h = dict(extra or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        return h

    def _keep(self, r):
        for name, value in r.headers:
            if name.lower() == "set-cookie":
                k, v = value.split(";", 1)[0].split("=", 1)
                self.cookies[k] = v
        return r

    def get(self, path):
        return self._keep(self.server.request("GET", path, headers=self._headers()))

    def post(self, path, fields):
        body = urllib.parse.urlencode(fields).encode()
        h = self._headers({"Content-Type": "application/x-www-form-urlencoded"})
        return self._keep(self.server.request("POST", path, headers=h, body=body))


def csrf_of(r):
    m = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert m, r.text[:500]
    return m.group(1)


def last_code(server):
    text = server.dev_outbox()[0]["text"]
    return re.search(r"\b(\d{6})\b", text).group(1)


@pytest.fixture
def gw(make_server, run_cli, tmp_path):
    data = str(tmp_path / "data")
    p = run_cli(["app", "add", "--name", "Acme Shop", "--redirect-uri", RETURN],
                env={"OTPGATE_DATA_DIR": data})
    assert p.returncode == 0, p.stderr
    app = json.loads(p.stdout)

    def cli(*args):
        q = run_cli(list(args), env={"OTPGATE_DATA_DIR": data})
        assert q.returncode == 0, q.stderr
        return q

    srv = make_server(env={"OTPGATE_DATA_DIR": data}, data_dir=data)
    return srv, app, cli


def location(r):
    return r.header("Location")


def test_link_opens_a_session_with_safe_cookie(gw):
    srv, app, _ = gw
    b = Browser(srv)
    r = b.get(make_link(app, "alice"))
    assert r.status == 303 and location(r) == "/flow"
    cookie = r.header("Set-Cookie")
    assert cookie.startswith("otpgate_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    r = b.get("/flow")
    assert r.status == 303 and location(r) == "/enrol"  # optional policy, no factor yet
    r = b.get("/enrol")
    assert r.status == 200
    csp = r.header("Content-Security-Policy")
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.header("X-Frame-Options") == "DENY"
    assert r.header("Referrer-Policy") == "no-referrer"


@pytest.mark.parametrize("change", [
    {"_secret": "not-the-secret"},
    {"exp": int(time.time()) - 120},
    {"iat": int(time.time()) - 3600, "exp": int(time.time()) + 60},
    {"aud": "https://elsewhere.example"},
    {"return_to": "https://evil.example/cb"},
    {"sub": ""},
    {"jti": None},
    {"purpose": "admin"},
])
def test_bad_links_are_refused(gw, change):
    srv, app, _ = gw
    r = Browser(srv).get(make_link(app, "alice", **change))
    assert r.status == 400
    assert "otpgate_session" not in (r.header("Set-Cookie") or "")


def test_a_link_works_once(gw):
    srv, app, _ = gw
    link = make_link(app, "alice")
    assert Browser(srv).get(link).status == 303
    assert Browser(srv).get(link).status == 400


def test_pages_need_a_session_and_forms_need_csrf(gw):
    srv, app, _ = gw
    assert Browser(srv).get("/account").status == 401
    b = Browser(srv)
    b.get(make_link(app, "alice"))
    r = b.post("/account/add/email", {"csrf": "forged", "email": "a@example.com"})
    assert r.status == 403
    r = b.post("/account/add/email", {"email": "a@example.com"})
    assert r.status == 403


def bind_email(srv, b, address):
    r = b.get("/account/add/email")
    assert r.status == 200
    csrf = csrf_of(r)
    r = b.post("/account/add/email", {"csrf": csrf, "email": address})
    assert r.status == 303 and "step=2" in location(r)
    r = b.get(location(r))
    assert r.status == 200 and 'autocomplete="one-time-code"' in r.text
    fid = re.search(r'name="factor_id" value="([^"]+)"', r.text).group(1)
    return csrf_of(r), fid


def test_email_binding_then_back_to_the_app_with_a_signed_result(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "alice"))
    csrf, fid = bind_email(srv, b, "Alice@Example.com")
    code = last_code(srv)
    r = b.post("/account/verify", {"csrf": csrf, "factor_id": fid, "code": "000000"})
    assert r.status == 303 and "err.wrong_code" in location(r)
    old_cookie = b.cookies["otpgate_session"]
    r = b.post("/account/verify", {"csrf": csrf, "factor_id": fid, "code": code})
    # POST, redirect, GET: the codes are shown by a page a reload cannot
    # turn into a new set
    assert r.status == 303 and location(r).startswith("/account/recovery-codes")
    r = b.get(location(r))
    assert r.status == 200
    codes = re.findall(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}", r.text)
    assert len(set(codes)) == 10
    # passing a second step changes the session id
    assert b.cookies["otpgate_session"] != old_cookie
    r = b.post("/account/continue", {"csrf": csrf_of(r)})
    assert r.status == 303
    url = urllib.parse.urlparse(location(r))
    assert url.scheme + "://" + url.netloc + url.path == RETURN
    q = urllib.parse.parse_qs(url.query)
    assert q["state"] == ["st-42"]
    head, body, sig = q["otpgate_result"][0].split(".")
    want = hmac.new(app["client_secret"].encode(), (head + "." + body).encode(),
                    hashlib.sha256).digest()
    assert hmac.compare_digest(unb64(sig), want)
    claims = json.loads(unb64(body))
    assert claims["sub"] == "alice" and claims["aud"] == app["client_id"]
    assert "mail" in claims["amr"] and claims["mfa"] is True
    # the code appears in no URL the user was sent to
    assert code not in location(r)


def code_messages(srv):
    """The development outbox's code messages. Security notifications are
    left out: on PostgreSQL they go out a moment after the answer that
    queued them."""
    return [m for m in srv.dev_outbox() if m["kind"] == "code"]


def test_next_login_goes_through_the_challenge(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "bob"))
    csrf, fid = bind_email(srv, b, "bob@example.com")
    r = b.post("/account/verify", {"csrf": csrf, "factor_id": fid, "code": last_code(srv)})
    assert r.status == 303 and location(r).startswith("/account/recovery-codes")
    b2 = Browser(srv)
    b2.get(make_link(app, "bob"))
    r = b2.get("/flow")
    assert location(r) == "/challenge"
    before = len(code_messages(srv))
    r = b2.get("/challenge")
    assert r.status == 200 and "b•••@example.com" in r.text
    # loading the page sends nothing
    after = len(code_messages(srv))
    assert after == before
    r = b2.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    assert r.status == 303
    r = b2.get(location(r))
    r = b2.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid,
                                      "code": last_code(srv)})
    assert r.status == 303 and location(r).startswith(RETURN + "?otpgate_result=")


def test_cancel_sends_access_denied(gw):
    srv, app, cli = gw
    cli("policy", "set", "mode=mandatory")
    b = Browser(srv)
    b.get(make_link(app, "carol"))
    r = b.get(location(b.get("/flow")))
    assert r.status == 200 and "/enrol/skip" not in r.text  # mandatory: no skip
    csrf, fid = bind_email(srv, b, "carol@example.com")
    r = b.post("/account/verify", {"csrf": csrf, "factor_id": fid, "code": last_code(srv)})
    b2 = Browser(srv)
    b2.get(make_link(app, "carol"))
    r = b2.get("/challenge")
    r = b2.post("/challenge/cancel", {"csrf": csrf_of(r)})
    assert r.status == 303
    q = urllib.parse.parse_qs(urllib.parse.urlparse(location(r)).query)
    assert q["error"] == ["access_denied"] and q["state"] == ["st-42"]


def test_optional_policy_offers_once(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "dave"))
    assert location(b.get("/flow")) == "/enrol"
    r = b.get("/enrol")
    r = b.post("/enrol/skip", {"csrf": csrf_of(r)})
    assert location(r).startswith(RETURN)
    b2 = Browser(srv)
    b2.get(make_link(app, "dave"))
    r = b2.get("/flow")
    assert location(r).startswith(RETURN)  # no second offer


def test_chinese_pages(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "erin", ui_locales="zh-CN"))
    r = b.get("/enrol")
    assert 'lang="zh-CN"' in r.text
    assert re.search(r"[\u4e00-\u9fff]", r.text)


def test_brand_settings_show_on_pages(gw):
    srv, app, cli = gw
    cli("brand", "set", "name=Acme ID", "accent=#0a7f5a")
    r = srv.get("/brand.css")
    assert r.status == 200 and "#0a7f5a" in r.text
    b = Browser(srv)
    b.get(make_link(app, "frank"))
    r = b.get("/enrol")
    assert "Acme ID" in r.text


def test_bad_brand_values_are_refused(gw, run_cli, tmp_path):
    p = run_cli(["brand", "set", "accent=red"], env={"OTPGATE_DATA_DIR": str(tmp_path / "data")})
    assert p.returncode != 0 and "accent" in p.stderr
    p = run_cli(["brand", "set", "logo=https://evil.example/x.png"],
                env={"OTPGATE_DATA_DIR": str(tmp_path / "data")})
    assert p.returncode != 0 and "logo" in p.stderr


def test_last_used_means_used_to_sign_in(gw):
    """Confirming a method is not a use of it; times read as people say them."""
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "lena", purpose="manage"))
    csrf, fid = bind_email(srv, b, "lena@example.com")
    r = b.post("/account/verify", {"csrf": csrf, "factor_id": fid, "code": last_code(srv)})
    r = b.get(location(r))  # the recovery codes, shown once
    r = b.get("/account")
    assert "Not used yet" in r.text and "Last used" not in r.text
    assert "UTC" not in r.text
    b2 = Browser(srv)
    b2.get(make_link(app, "lena"))
    r = b2.get("/challenge")
    r = b2.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    r = b2.get(location(r))
    b2.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": last_code(srv)})
    b3 = Browser(srv)
    b3.get(make_link(app, "lena", purpose="manage"))
    r = b3.get("/challenge")
    r = b3.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    r = b3.get(location(r))
    r = b3.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid,
                                      "code": last_code(srv)})
    r = b3.get("/account")
    assert "Last used just now" in r.text, r.text
