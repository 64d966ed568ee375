"""Passkeys over plain HTTP with a software authenticator
(tests/webauthn/softauth.mjs, driven through softauth_cli.mjs by Debian's
node): the API's register begin/finish, sign-in through /api/v1/challenges,
the lists, every refusal as a clear 4xx, an app's own origin; the pages'
ceremonies; and that no passkey answer that should fail (a wrong
challenge, another user's passkey, a replay, another session's ceremony)
ever sends the app a success. (The browser suites walk the same in
Chromium with its virtual authenticator.)"""

import html
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse

import pytest

from apiclient import REDIRECT, gw, q, race, totp, settle_totp_step  # noqa: F401
from conftest import SOURCE_DIR, store_connect
from pagewalk import PageBrowser, authorize_url, is_success, jwt_claims, start_link, walk

PUBLIC = "http://localhost:8443"  # a secure context: RP ID "localhost"
NODE = shutil.which("node") or shutil.which("nodejs")

pytestmark = pytest.mark.skipif(not NODE, reason="node is needed for the software authenticator")


class Soft:
    """The software authenticator, one node process per test."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [NODE, os.path.join(SOURCE_DIR, "tests", "integration", "softauth_cli.mjs")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        assert "error" not in out, out
        return out

    def new(self, **kw):
        return self.call(op="new", **kw)["auth"]

    def register(self, auth, options, origin=PUBLIC, **knobs):
        return self.call(op="register", auth=auth, options=options, origin=origin, **knobs)["credential"]

    def sign(self, auth, options, origin=PUBLIC, **knobs):
        return self.call(op="assert", auth=auth, options=options, origin=origin, **knobs)["credential"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


@pytest.fixture
def soft():
    s = Soft()
    yield s
    s.close()


@pytest.fixture
def pk(gw):
    """A gateway whose public URL can carry passkeys, and an app that may
    use them."""
    app = gw.add_app("Passkey app")
    gw.policy("factors=sms,email,totp,webauthn")
    gw.start(env={"OTPGATE_PUBLIC_URL": PUBLIC})
    return gw, app


def passkey(app, soft, sub, auth=None, name=None):
    """Registers a new software passkey for sub through the API; returns
    (auth, factor answer)."""
    auth = auth or soft.new()
    b = app.post("/users/%s/passkeys/register/begin" % q(sub), {})
    assert b.status == 201, b
    body = {"challenge_id": b.json["challenge_id"], "credential": soft.register(auth, b.json["options"])}
    if name is not None:
        body["name"] = name
    f = app.post("/users/%s/passkeys/register/finish" % q(sub), body)
    assert f.status == 201, f
    return auth, f.json


def begin_signin(app, sub):
    c = app.post("/challenges", {"sub": sub, "type": "webauthn"})
    assert c.status == 201, c
    return c.json


def verify(app, ch, credential):
    return app.post("/challenges/%s/verify" % ch["id"], {"credential": credential})


# ---- the API -------------------------------------------------------------


def test_register_and_sign_in_through_the_api(pk, soft):
    gw, app = pk
    b = app.post("/users/alice/passkeys/register/begin",
                 {"user_name": "alice@example.com", "display_name": "Alice", "client_ip": "203.0.113.9"})
    assert b.status == 201, b
    assert b.json["challenge_id"].startswith("wch_")
    o = b.json["options"]
    assert o["rp"] == {"id": "localhost", "name": "Passkey app"}
    assert o["user"]["name"] == "alice@example.com" and o["user"]["displayName"] == "Alice"
    assert len(o["challenge"]) == 43 and len(o["user"]["id"]) == 43
    assert o["authenticatorSelection"] == {"residentKey": "preferred", "requireResidentKey": False,
                                           "userVerification": "preferred"}
    assert o["attestation"] == "none" and o["excludeCredentials"] == []
    assert [p["alg"] for p in o["pubKeyCredParams"]] == [-7, -257, -8]
    auth = soft.new()
    f = app.post("/users/alice/passkeys/register/finish",
                 {"challenge_id": b.json["challenge_id"], "credential": soft.register(auth, o),
                  "name": "Work laptop"})
    assert f.status == 201, f
    assert f.json["type"] == "webauthn" and f.json["status"] == "active"
    assert f.json["name"] == "Work laptop"
    assert len(f.json["recovery_codes"]) == 10  # the first factor

    listed = app.factors("alice")
    [fac] = listed["factors"]
    assert fac["type"] == "webauthn" and fac["destination"] is None and fac["name"] == "Work laptop"
    assert listed["preferred"] == f.json["id"]
    keys = app.get("/users/alice/passkeys")
    assert keys.status == 200, keys
    [k] = keys.json["passkeys"]
    assert k["id"] == f.json["id"] and k["sign_count"] == 0 and k["transports"] == ["usb"]
    assert k["aaguid"] == "6f746761-7465-736f-6674-617574680001"
    assert k["synced"] is False and k["user_verified"] is True

    # The next registration excludes it.
    b2 = app.post("/users/alice/passkeys/register/begin")
    assert len(b2.json["options"]["excludeCredentials"]) == 1, b2

    # Sign-in: POST /challenges (the last used factor is the passkey).
    c = app.post("/challenges", {"sub": "alice"})
    assert c.status == 201, c
    assert c.json["type"] == "webauthn" and c.json["id"].startswith("wch_")
    assert c.json["destination"] is None and c.json["resend_after"] is None
    allow = c.json["options"]["allowCredentials"]
    assert len(allow) == 1 and allow[0]["type"] == "public-key"
    assert c.json["options"]["rpId"] == "localhost"
    v = verify(app, c.json, soft.sign(auth, c.json["options"]))
    assert v.status == 200, v
    assert v.json == {"ok": True, "factor_id": f.json["id"], "type": "webauthn", "name": "Work laptop",
                      "amr": ["hwk", "user", "mfa"], "acr": "phr"}
    # A passkey answer without user verification: no "user".
    c = begin_signin(app, "alice")
    v = verify(app, c, soft.sign(auth, c["options"], uv=False))
    assert v.json["amr"] == ["hwk", "mfa"], v
    # A synced passkey (BE set): "swk".
    auth2, f2 = passkey(app, soft, "alice", auth=soft.new(be=True, bs=True))
    c = begin_signin(app, "alice")
    v = verify(app, c, soft.sign(auth2, c["options"], be=True, bs=True))
    assert v.json["amr"] == ["swk", "user", "mfa"] and v.json["factor_id"] == f2["id"], v

    events = [(a["event"], a["detail"]) for a in gw.audit()]
    assert ("factor_added", "webauthn") in events
    assert events.count(("verify_ok", "webauthn")) == 3
    shown = json.loads(gw.cli("user", "show", "alice").stdout)
    assert [p["name"] for p in shown["apps"][0]["passkeys"]] == ["Work laptop", "Security key"]
    assert shown["apps"][0]["passkeys"][0]["sign_count"] == 2


def test_removal_is_audited_and_ends_sign_ins(pk, soft):
    gw, app = pk
    auth, f = passkey(app, soft, "rita")
    c = begin_signin(app, "rita")
    d = app.delete("/users/rita/factors/%s" % f["id"])
    assert d.status == 204, d
    assert ("factor_removed", "webauthn") in [(a["event"], a["detail"]) for a in gw.audit()]
    # The ceremony begun before is refused now: the passkey is gone.
    v = verify(app, c, soft.sign(auth, c["options"]))
    assert v.status == 422 and v.json["reason"] == "wrong_credential", v
    assert app.get("/users/rita/passkeys").json["passkeys"] == []
    r = app.post("/challenges", {"sub": "rita", "type": "webauthn"})
    assert r.status == 409, r


def test_every_refusal_is_a_clear_4xx(pk, soft):
    gw, app = pk
    auth, f = passkey(app, soft, "bob")
    path = "/users/bob/passkeys/register/finish"
    b = app.post("/users/bob/passkeys/register/begin").json
    # Missing or malformed pieces.
    for body in ({}, {"challenge_id": b["challenge_id"]}, {"credential": {}},
                 {"challenge_id": b["challenge_id"], "credential": "x"},
                 {"challenge_id": b["challenge_id"], "credential": {}, "name": 7}):
        r = app.post(path, body)
        assert r.status == 400 and r.json["error"] == "invalid_request", (body, r)
    r = app.post(path, {"challenge_id": "wch_nope", "credential": {}})
    assert r.status == 404 and r.json["error"] == "not_found", r
    # A malformed answer is refused, naming why; the ceremony is then used up.
    r = app.post(path, {"challenge_id": b["challenge_id"], "credential": {"id": "x"}})
    assert r.status == 422 and r.json == {"error": "passkey_refused", "reason": "malformed",
                                          "message": r.json["message"]}, r
    r = app.post(path, {"challenge_id": b["challenge_id"], "credential": soft.register(soft.new(), b["options"])})
    assert r.status == 410 and r.json["error"] == "already_used", r
    # Another origin, another RP ID.
    for knobs, reason in (({"origin": "https://evil.example"}, "wrong_origin"),
                          ({"rpId": "evil.example"}, "wrong_rp_id"),
                          ({"up": False}, "user_presence")):
        b = app.post("/users/bob/passkeys/register/begin").json
        cred = soft.register(soft.new(), b["options"], **knobs)
        r = app.post(path, {"challenge_id": b["challenge_id"], "credential": cred})
        assert r.status == 422 and r.json["reason"] == reason, (knobs, r)
    # The same authenticator twice.
    b = app.post("/users/bob/passkeys/register/begin").json
    r = app.post(path, {"challenge_id": b["challenge_id"], "credential": soft.register(auth, b["options"])})
    assert r.status == 409 and r.json["error"] == "already_registered", r
    # A passkey is not added through /factors.
    r = app.post("/users/bob/factors", {"type": "webauthn"})
    assert r.status == 400 and r.json["error"] == "invalid_type", r
    # Sign-in: no passkey, no user, a bad type, a factor that is not one.
    r = app.post("/challenges", {"sub": "nobody", "type": "webauthn"})
    assert r.status == 409 and r.json["error"] == "no_active_factor", r
    app.enrol_email("carol", "carol@example.com")
    r = app.post("/challenges", {"sub": "carol", "type": "webauthn"})
    assert r.status == 409 and r.json["error"] == "no_passkey", r
    r = app.post("/challenges", {"sub": "bob", "type": "sms"})
    assert r.status == 400 and r.json["error"] == "invalid_type", r
    carol_factor = app.factors("carol")["factors"][0]["id"]
    r = app.post("/challenges", {"sub": "carol", "type": "webauthn", "factor_id": carol_factor})
    assert r.status == 409 and r.json["error"] == "factor_not_passkey", r
    c = begin_signin(app, "bob")
    r = app.post("/challenges/%s/verify" % c["id"], {"code": "123456"})
    assert r.status == 400 and r.json["error"] == "invalid_request", r
    r = app.post("/challenges/%s/resend" % c["id"])
    assert r.status == 409 and r.json["error"] == "nothing_to_resend", r
    r = app.post("/challenges/wch_unknown/verify", {"credential": {}})
    assert r.status == 404, r
    # Another app never sees bob's ceremony.
    other = gw.add_app("Other")
    r = other.post("/challenges/%s/verify" % c["id"], {"credential": soft.sign(auth, c["options"])})
    assert r.status == 404, r
    # Expired.
    gw.policy("code_ttl=1", app=app)
    time.sleep(0.3)  # the app's policy is cached briefly
    c = begin_signin(app, "bob")
    time.sleep(1.2)
    r = verify(app, c, soft.sign(auth, c["options"]))
    assert r.status == 410 and r.json["error"] == "expired", r
    # The policy without passkeys.
    gw.policy("factors=email", app=app)
    time.sleep(0.3)
    for r in (app.post("/users/bob/passkeys/register/begin"), app.post("/challenges", {"sub": "bob", "type": "webauthn"})):
        assert r.status == 403 and r.json["error"] == "factor_not_allowed", r
    for a in gw.answers:
        assert a.status < 500, a


def test_locked_and_waiting_users(pk, soft):
    gw, app = pk
    gw.policy("lockout_free=1", "lockout_wait=30", "lockout_hard=4", app=app)
    auth, _ = passkey(app, soft, "dave")
    c = begin_signin(app, "dave")
    wrong = soft.sign(auth, c["options"], challenge="AAAA")
    r = verify(app, c, wrong)
    assert r.status == 422 and r.json["reason"] == "wrong_challenge", r
    c = begin_signin(app, "dave")
    r = verify(app, c, soft.sign(auth, c["options"], challenge="AAAA"))
    assert r.status == 422 and r.json["retry_after"] == 30, r
    # The wait holds even a right answer, as for codes: 429, Retry-After.
    c = begin_signin(app, "dave")
    r = verify(app, c, soft.sign(auth, c["options"]))
    assert r.status == 429 and r.header("Retry-After") == "30", r
    # Locked (by hand: the waits would take minutes): 423 everywhere.
    gw.cli("user", "unlock", "dave")
    con = store_connect(gw.data_dir)
    con.execute("UPDATE users SET failures = 4, locked_at = 1 WHERE sub = 'dave'")
    con.commit()
    con.close()
    for r in (app.post("/challenges", {"sub": "dave", "type": "webauthn"}),
              app.post("/users/dave/passkeys/register/begin")):
        assert r.status == 423 and r.json["error"] == "user_locked", r


def test_no_passkey_answer_that_should_fail_passes_the_api(pk, soft):
    """Wrong challenge, another user's passkey, a replay, a page ceremony:
    never 200."""
    gw, app = pk
    a_auth, _ = passkey(app, soft, "ann")
    b_auth, _ = passkey(app, soft, "ben")
    c = begin_signin(app, "ann")
    good = soft.sign(a_auth, c["options"])
    # ben's passkey answering ann's ceremony (signed over the right bytes).
    r = verify(app, c, soft.sign(b_auth, c["options"]))
    assert r.status == 422 and r.json["reason"] == "wrong_credential", r
    # The ceremony was used by that attempt: the right answer now is late.
    r = verify(app, c, good)
    assert r.status == 410, r
    # A right answer to another ceremony.
    c2 = begin_signin(app, "ann")
    r = verify(app, c2, good)
    assert r.status == 422 and r.json["reason"] == "wrong_challenge", r
    # A replay: the same signed answer twice on one challenge cannot happen
    # (taken once); the same counter on a new challenge is refused.
    c3 = begin_signin(app, "ann")
    ok = soft.sign(a_auth, c3["options"])
    assert verify(app, c3, ok).status == 200
    c4 = begin_signin(app, "ann")
    r = verify(app, c4, soft.sign(a_auth, c4["options"], counter=1))
    assert r.status == 422 and r.json["reason"] == "sign_count", r
    # ann's ceremony verified by ben's sub path does not exist: ids carry
    # their user; the API never takes a pages' ceremony (bound to a session).
    failures = app.factors("ann")
    assert failures["locked"] is False
    assert [a["detail"] for a in gw.audit("verify_failed")].count("webauthn wrong_credential") == 1


def test_one_passkey_answer_sent_many_times_at_once_is_taken_once(pk, soft):
    """The same signed answer to one ceremony, sent by 20 requests at once
    on 20 connections (on PostgreSQL with several instances, spread over
    them by the proxy): one 200, every other one 410, and the ceremony
    stays spent."""
    gw, app = pk
    auth, _ = passkey(app, soft, "eve")
    c = begin_signin(app, "eve")
    good = soft.sign(auth, c["options"])
    n = 20
    out = race(gw, app, "/challenges/%s/verify" % c["id"], {"credential": good}, n)
    statuses = sorted(s for s, _ in out)
    assert statuses == [200] + [410] * (n - 1), out
    assert verify(app, c, good).status == 410
    assert len(gw.audit("verify_ok")) == 1


def test_require_phishing_resistant_in_the_api(pk, soft):
    """The policy's word holds for apps that draw their own screens: no code
    is sent or checked, and a challenge is a passkey's."""
    gw, app = pk
    fid, _ = app.enrol_email("vic", "vic@example.com")
    pending = app.challenge("vic", fid).json
    auth, _ = passkey(app, soft, "vic")
    gw.policy("require_phishing_resistant=on", app=app)
    time.sleep(0.3)
    c = app.post("/challenges", {"sub": "vic"})
    assert c.status == 201 and c.json["type"] == "webauthn", c
    r = app.post("/challenges", {"sub": "vic", "factor_id": fid})
    assert r.status == 403 and r.json["error"] == "passkey_required", r
    r = app.verify_challenge(pending["id"], gw.code_for("vic@example.com"))
    assert r.status == 403 and r.json["error"] == "passkey_required", r
    r = app.verify_user("vic", "123456")
    assert r.status == 403 and r.json["error"] == "passkey_required", r
    assert verify(app, c.json, soft.sign(auth, c.json["options"])).status == 200


def test_an_apps_own_origin(gw, soft):
    """An app that draws its own screens runs the ceremony on its pages: the
    origins of its redirect URIs within the RP ID are taken, no others."""
    p = gw.cli("app", "add", "--name", "Own", "--redirect-uri", "http://localhost:3000/cb",
               "--redirect-uri", "http://127.0.0.1:3001/cb")
    creds = json.loads(p.stdout)
    from apiclient import ApiClient
    app = ApiClient(gw, creds["client_id"], creds["client_secret"])
    gw.policy("factors=totp,webauthn")
    gw.start(env={"OTPGATE_PUBLIC_URL": PUBLIC})
    auth = soft.new()
    b = app.post("/users/eve/passkeys/register/begin").json
    r = app.post("/users/eve/passkeys/register/finish",
                 {"challenge_id": b["challenge_id"],
                  "credential": soft.register(auth, b["options"], origin="http://localhost:3000")})
    assert r.status == 201, r
    for origin in ("http://127.0.0.1:3001", "http://localhost:3001", "https://localhost:3000"):
        c = begin_signin(app, "eve")
        v = verify(app, c, soft.sign(auth, c["options"], origin=origin))
        assert v.status == 422 and v.json["reason"] == "wrong_origin", (origin, v)
    c = begin_signin(app, "eve")
    assert verify(app, c, soft.sign(auth, c["options"], origin="http://localhost:3000")).status == 200


def test_passkeys_off_where_the_public_url_cannot_carry_them(gw):
    app = gw.add_app("Plain")
    gw.policy("factors=totp,webauthn")
    s = gw.start()  # http://127.0.0.1:8080, the default
    warn = [l for l in s.logs if "passkeys are off" in l.get("msg", "")]
    # once (by each instance, when the server is several)
    assert len(warn) == len(getattr(s, "members", [s])), s.logs[:5]
    assert "IP address" in warn[0]["msg"], warn
    r = app.post("/users/zoe/passkeys/register/begin")
    assert r.status == 503 and r.json["error"] == "passkeys_unavailable", r


def test_a_bad_rp_id_stops_start_up(make_server, run_cli, tmp_path):
    s = make_server(env={"OTPGATE_PUBLIC_URL": "https://mfa.example.com",
                         "OTPGATE_WEBAUTHN_RP_ID": "example.org"}, start=False)
    s.spawn()
    assert s.wait_exit() == 2
    lines = [l for l in s.stderr.splitlines() if l.strip()]
    # one line (from each instance, when the server is several)
    assert len(lines) == len(getattr(s, "members", [s])), s.stderr
    assert all(l.startswith("otpgate: OTPGATE_WEBAUTHN_RP_ID:") for l in lines), s.stderr
    s.expect_clean_exit = False


# ---- the pages -----------------------------------------------------------


def link(app, sub, **over):
    return start_link(PUBLIC, app.client_id, app.secret, sub, REDIRECT, **over)


def passkey_form(r):
    """The challenge page's passkey form: (fields, options)."""
    m = re.search(r'<form[^>]*action="/challenge/passkey"[^>]*data-options="([^"]*)"', r.text)
    assert m, r.text[:2000]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text[m.start():]))
    return fields, json.loads(html.unescape(m.group(1)))


def post_passkey(b, fields, credential):
    f = dict(fields)
    f["credential"] = json.dumps(credential)
    return b.post("/challenge/passkey", f, follow=False)


def test_pages_sign_in_with_a_passkey_and_no_way_around_it(pk, soft):
    gw, app = pk
    gw.policy("lockout_free=20", app=app)
    auth, _ = passkey(app, soft, "pam")
    other, _ = passkey(app, soft, "quinn")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "pam"))
    assert "Use your passkey" in r.text, r.text[:500]
    fields, options = passkey_form(r)
    assert fields["challenge_id"].startswith("wch_") and options["rpId"] == "localhost"

    refusals = []
    # quinn's passkey, a wrong challenge, a foreign origin, garbage, nothing.
    for cred in (soft.sign(other, options), soft.sign(auth, options, challenge="AAAA"),
                 soft.sign(auth, options, origin="https://evil.example"), {"id": 1}, None):
        r = b.get("/challenge")
        fields, options = passkey_form(r)
        f = dict(fields)
        if cred is not None:
            f["credential"] = json.dumps(cred)
        r = b.post("/challenge/passkey", f, follow=False)
        assert r.status == 303 and not is_success(r.header("Location"), REDIRECT), r
        refusals.append(r.header("Location"))
    assert all(loc.startswith("/challenge") for loc in refusals), refusals
    assert "e=err.passkey_refused" in refusals[0]
    # The page says so.
    r = b.get(refusals[0])
    assert "could not be verified" in r.text

    # Another session's ceremony, and an API ceremony, are not this one's.
    b2 = PageBrowser(gw.server)
    fields2, options2 = passkey_form(b2.get(link(app, "pam")))
    stolen = soft.sign(auth, options2)
    r = post_passkey(b, {**passkey_form(b.get("/challenge"))[0], "challenge_id": fields2["challenge_id"]}, stolen)
    assert "e=err.passkey_expired" in r.header("Location"), r
    api = begin_signin(app, "pam")
    r = post_passkey(b, {**passkey_form(b.get("/challenge"))[0], "challenge_id": api["id"]},
                     soft.sign(auth, api["options"]))
    assert "e=err.passkey_expired" in r.header("Location"), r

    # The right answer goes back, with acr phr and the passkey's amr.
    fields, options = passkey_form(b.get("/challenge"))
    good = soft.sign(auth, options)
    r = post_passkey(b, fields, good)
    assert is_success(r.header("Location"), REDIRECT), r
    res = jwt_claims(urllib.parse.parse_qs(urllib.parse.urlparse(r.header("Location")).query)["otpgate_result"][0])
    assert res["acr"] == "phr" and res["amr"] == ["hwk", "user", "mfa"] and res["mfa"] is True
    # Replayed in a new flow (its challenge is another): refused.
    b3 = PageBrowser(gw.server)
    fields3, _ = passkey_form(b3.get(link(app, "pam")))
    r = post_passkey(b3, fields3, good)
    assert not is_success(r.header("Location"), REDIRECT) and "err.passkey_refused" in r.header("Location"), r
    # ... and with its own old ceremony id, in that flow.
    r = post_passkey(b3, {**fields3, "challenge_id": fields["challenge_id"]}, good)
    assert not is_success(r.header("Location"), REDIRECT), r


def test_pages_adding_a_passkey_needs_the_step_first(pk, soft):
    """A user with a factor cannot add a passkey (and so pass phr) on the
    strength of a password alone."""
    gw, app = pk
    settle_totp_step(10)
    fid, secret, _, _ = app.enrol_totp("tom")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "tom", acr_values="phr"))
    assert "asks for a passkey" in r.text and "/account/add/webauthn" in r.text, r.text[:800]
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = b.get("/account/add/webauthn", follow=False)
    assert r.status == 303 and r.header("Location") == "/challenge", r
    r = b.post("/account/add/webauthn", {"csrf": csrf, "challenge_id": "wch_x", "credential": "{}"},
               follow=False)
    assert r.status == 303 and r.header("Location") == "/challenge", r
    assert app.get("/users/tom/passkeys").json["passkeys"] == []
    # The code step does not satisfy phr: back to adding a passkey, never the app.
    r = b.get("/challenge")
    assert 'name="remember"' not in r.text
    r = b.post("/challenge/verify", {"csrf": re.search(r'name="csrf" value="([^"]+)"', r.text).group(1),
                                     "factor_id": fid, "code": totp(secret, 30)}, follow=False)
    assert r.status == 303 and r.header("Location") == "/enrol", r
    r = b.get("/enrol")
    assert "asks for a passkey" in r.text
    # Now the passkey can be added; that is the phr step.
    r = b.get("/account/add/webauthn")
    m = re.search(r'data-options="([^"]*)"', r.text)
    assert m, (b.history[-4:], re.findall(r"<h1>.*?</h1>|alert[^>]*><p>.*?</p>", r.text))
    options = json.loads(html.unescape(m.group(1)))
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text))
    fields["credential"] = json.dumps(soft.register(soft.new(), options))
    fields["name"] = "Tom's key"
    r = b.post("/account/add/webauthn", fields, follow=False)
    assert is_success(r.header("Location"), REDIRECT), r
    res = jwt_claims(urllib.parse.parse_qs(urllib.parse.urlparse(r.header("Location")).query)["otpgate_result"][0])
    assert res["acr"] == "phr"
    assert [k["name"] for k in app.get("/users/tom/passkeys").json["passkeys"]] == ["Tom's key"]


def test_under_phr_a_code_opens_nothing_for_a_user_with_a_passkey(pk, soft):
    """Where only a passkey passes and the user has one, neither a relayed
    code nor a recovery code opens the account page, where the relayer
    could add a passkey of their own that would then pass for phr."""
    gw, app = pk
    settle_totp_step(10)
    fid, secret, v, _ = app.enrol_totp("pia")
    recovery = v["recovery_codes"]
    passkey(app, soft, "pia")

    def csrf(r):
        return re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)

    b = PageBrowser(gw.server)
    r = b.get(link(app, "pia", acr_values="phr"))
    assert "Use your passkey" in r.text, r.text[:800]
    token = csrf(r)
    # The right TOTP code is not even checked.
    r = b.post("/challenge/verify", {"csrf": token, "factor_id": fid, "code": totp(secret, 30)},
               follow=False)
    assert r.status == 303 and "e=err.passkey_only" in r.header("Location"), r
    assert "needs your passkey" in b.get(r.header("Location")).text
    assert not gw.audit("verify_ok")
    # A recovery code passes a step, but not this one: the account stays shut.
    r = b.get("/challenge?method=recovery")
    r = b.post("/challenge/recovery", {"csrf": csrf(r), "code": recovery[0]}, follow=False)
    assert r.status == 303 and not is_success(r.header("Location"), REDIRECT), r
    for path in ("/account", "/account/add/webauthn"):
        r = b.get(path, follow=False)
        assert r.status == 303 and r.header("Location") == "/challenge", (path, r)
    token = csrf(b.get("/challenge"))  # a passed step starts a new session
    r = b.post("/account/add/webauthn", {"csrf": token, "challenge_id": "wch_x", "credential": "{}"},
               follow=False)
    assert r.status == 303 and r.header("Location") == "/challenge", r
    assert len(app.get("/users/pia/passkeys").json["passkeys"]) == 1
    assert not any(is_success(h[4], REDIRECT) for h in b.history)


def test_discovery_names_phr(pk):
    gw, _ = pk
    r = gw.server.get("/.well-known/openid-configuration")
    acr = r.json()["acr_values_supported"]
    assert acr[0] == "phr" and "urn:otpgate:acr:mfa" in acr and "urn:otpgate:acr:remembered" in acr


def oidc_url(app, sub, **over):
    return authorize_url(PUBLIC, app.client_id, app.secret, sub, REDIRECT, **over)


# Forms a page may not offer but an attacker can still post.
PHR_ENDINGS = [("/enrol/skip", []), ("/account/done", []), ("/account/continue", []),
               ("/challenge/passkey", [("challenge_id", "wch_x"), ("credential", "{}")]),
               ("/account/add/webauthn", [("challenge_id", "wch_x"), ("credential", "{}")]),
               ("/challenge/recovery", [("code", "aaaa-bbbb-cccc-dddd")])]


@pytest.mark.parametrize("mode,kind,how", [
    ("optional", "totp", "start"), ("mandatory", "none", "oidc"), ("off", "totp", "policy"),
    ("optional", "none", "start"), ("mandatory", "passkey", "oidc")])
def test_walk_phr_pages_without_a_passkey_answer(pk, soft, mode, kind, how):
    """Where only a passkey passes, no page, link or form reached without
    a passkey answer sends the app a success: not "Skip for now", not a
    code, not the account page's way back."""
    gw, app = pk
    gw.policy("mode=" + mode, "lockout_free=1000", "lockout_wait=0", app=app)
    if how == "policy":
        gw.policy("require_phishing_resistant=on", app=app)
    time.sleep(0.3)
    sub = "walk-%s-%s-%s" % (mode, kind, how)
    if kind == "totp":
        app.enrol_totp(sub)
    elif kind == "passkey":
        app.enrol_email(sub, sub + "@example.com")
        passkey(app, soft, sub)
    b = PageBrowser(gw.server)
    url = oidc_url(app, sub, acr_values="phr") if how == "oidc" else \
        link(app, sub, **({"acr_values": "phr"} if how == "start" else {}))
    first = b.get(url)
    assert first.status == 200, first
    successes, seen = walk(b, first, REDIRECT, extra_posts=PHR_ENDINGS)
    assert len(seen) >= 3, seen
    assert successes == [], "the app got a success without a passkey: %r" % successes[:3]


def test_a_right_code_never_passes_phr(pk, soft):
    """A user with an e-mail factor and a passkey, asked for phr: the right
    e-mail code, posted although the page does not offer it, is not
    enough."""
    gw, app = pk
    fid, _ = app.enrol_email("una", "una@example.com")
    passkey(app, soft, "una")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "una", acr_values="phr"))
    assert "Use your passkey" in r.text and "We will email" not in r.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = b.post("/challenge/send", {"csrf": csrf, "factor_id": fid})
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = b.post("/challenge/verify", {"csrf": csrf, "factor_id": fid, "code": gw.code_for("una@example.com")},
               follow=False)
    assert r.status == 303 and not is_success(r.header("Location"), REDIRECT), r
    r = b.get(r.header("Location"))
    assert "Use your passkey" in r.text
    # acr_values that also name the code's acr do take the code.
    b2 = PageBrowser(gw.server)
    r = b2.get(link(app, "una", acr_values="phr urn:otpgate:acr:mfa"))
    r = b2.get("/challenge?factor=" + fid)
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = b2.post("/challenge/send", {"csrf": csrf, "factor_id": fid})
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = b2.post("/challenge/verify", {"csrf": csrf, "factor_id": fid,
                                      "code": gw.code_for("una@example.com")}, follow=False)
    assert is_success(r.header("Location"), REDIRECT), r
    res = jwt_claims(urllib.parse.parse_qs(urllib.parse.urlparse(r.header("Location")).query)["otpgate_result"][0])
    assert res["acr"] == "urn:otpgate:acr:mfa"
