"""The gate (SPEC §5) through the real pages: no form, link or endpoint
reachable in a session that never enters a right code sends the app a
success, except the optional skip for a user without a factor. The two
ways around it found on earlier versions (skip with a factor; cancel the
enrolment then "Back to the app" under mandatory) are regression tests
here, and a crawler walks every page of every combination of policy,
user and entry (/start and OpenID Connect, sign-in and manage)."""

import base64
import json
import re
import urllib.parse

import pytest

from apiclient import REDIRECT, gw, totp  # noqa: F401  (gw is a fixture)
from pagewalk import (PageBrowser, authorize_url, is_success, jwt_claims, start_link, unb64,
                      walk)

PUBLIC = "http://127.0.0.1:8080"  # the default public URL: audience and issuer


def link(app, sub, purpose="login"):
    return start_link(PUBLIC, app.client_id, app.secret, sub, REDIRECT, purpose=purpose)


def oidc(app, sub, prompt=None):
    return authorize_url(PUBLIC, app.client_id, app.secret, sub, REDIRECT, prompt=prompt)


def csrf_of(r):
    m = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert m, r.text[:300]
    return m.group(1)


def make_user(gw, app, sub, kind):
    """A user in one of the states the gate tells apart."""
    if kind == "email":
        app.enrol_email(sub, sub + "@example.com")
    elif kind == "totp":
        app.enrol_totp(sub)
    elif kind == "pending":
        app.add_email(sub, sub + "@example.com")
    elif kind == "locked":
        app.enrol_email(sub, sub + "@example.com")
        for _ in range(3):  # lockout_hard=3 in these tests
            a = app.verify_user(sub, "000000")
        assert a.status == 423, a
    elif kind != "none":
        raise ValueError(kind)


def exchange(gw, app, location):
    """Redeems an OIDC code like the app would; returns the id_token claims."""
    q = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": q["code"][0],
                                   "redirect_uri": REDIRECT, "code_verifier": "v" * 43})
    cred = base64.b64encode(("%s:%s" % (app.client_id, app.secret)).encode()).decode()
    r = gw.server.request("POST", "/token", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic " + cred},
        body=body.encode())
    assert r.status == 200, r.text
    return jwt_claims(r.json()["id_token"])


def result_claims(location):
    q = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    return jwt_claims(q["otpgate_result"][0])


@pytest.fixture
def gate(gw):
    app = gw.add_app("Gate app")
    gw.policy("lockout_hard=3", "lockout_free=1000", "lockout_wait=0")
    gw.start()
    return gw, app


# ---- the two ways around the gate found before ------------------------------


@pytest.mark.parametrize("mode", ["optional", "mandatory"])
@pytest.mark.parametrize("entry", ["start", "oidc"])
def test_skip_with_an_active_factor_goes_to_the_challenge(gate, mode, entry):
    gw, app = gate
    gw.cli("policy", "set", "--app", app.client_id, "mode=" + mode)
    make_user(gw, app, "alice", "totp")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "alice") if entry == "start" else oidc(app, "alice"))
    assert r.status == 200 and "/challenge/verify" in r.text
    r = b.post("/enrol/skip", {"csrf": csrf_of(r)}, follow=False)
    assert r.status == 303 and r.header("Location") == "/challenge", r
    assert not any(is_success(h[4], REDIRECT) for h in b.history)
    # the session still works and still asks for the code
    r = b.get("/challenge")
    assert r.status == 200 and "/challenge/verify" in r.text
    assert "enrolment_skipped" not in json.dumps(gw.server.logs)


@pytest.mark.parametrize("entry", ["start", "oidc"])
def test_mandatory_cancelled_enrolment_then_back_asks_to_enrol(gate, entry):
    gw, app = gate
    gw.cli("policy", "set", "--app", app.client_id, "mode=mandatory")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "bob") if entry == "start" else oidc(app, "bob"))
    assert r.status == 200 and "/account/add/email" in r.text and "/enrol/skip" not in r.text
    r = b.get("/account/add/email")
    assert r.status == 200
    # "Cancel" on the binding page is a link to the account page
    assert 'href="/account"' in r.text
    r = b.get("/account")
    assert r.status == 200 and "/account/done" in r.text
    r = b.post("/account/done", {"csrf": csrf_of(r)}, follow=False)
    assert r.status == 303 and r.header("Location") == "/enrol", r
    r = b.post("/enrol/skip", {"csrf": csrf_of(b.get("/enrol"))}, follow=False)
    assert r.status == 303 and r.header("Location") == "/enrol", r
    assert not any(is_success(h[4], REDIRECT) for h in b.history)


@pytest.mark.parametrize("mode", ["optional", "mandatory"])
@pytest.mark.parametrize("entry", ["start", "oidc"])
def test_a_method_another_session_left_pending_is_no_way_in(gate, mode, entry):
    """Found in review: with the password and no factor yet, open "Add an
    authenticator app" and keep its secret; once the user has a method of
    their own, confirming that planted factor from the challenge page
    returned to the app with mfa. Confirming is an account change: the
    gate decides it, and only the factor this session began can be."""
    gw, app = gate
    gw.cli("policy", "set", "--app", app.client_id, "mode=" + mode)

    def first():
        return link(app, "erin") if entry == "start" else oidc(app, "erin")

    a = PageBrowser(gw.server)
    a.get(first())
    r = a.get("/account/add/totp")
    assert r.status == 200, r
    fid = re.search(r'name="factor_id" value="([^"]+)"', r.text).group(1)
    secret = re.search(r"secret=([A-Z2-7]+)", r.text).group(1)
    app.enrol_email("erin", "erin@example.com")  # the user's own, later
    fresh = PageBrowser(gw.server)
    fresh.get(first())
    for b in (a, fresh):
        page = b.get("/challenge")
        assert page.status == 200 and "/challenge/send" in page.text, page
        r = b.post("/account/verify", {"csrf": csrf_of(page), "factor_id": fid,
                                       "code": totp(secret)}, follow=False)
        assert r.status == 303 and not is_success(r.header("Location"), REDIRECT), r
        assert not any(is_success(h[4], REDIRECT) for h in b.history)
    assert [f["type"] for f in app.factors("erin")["factors"] if f["status"] == "active"] == \
        ["email"]


def test_optional_skip_without_factor_returns_without_mfa(gate):
    gw, app = gate
    b = PageBrowser(gw.server)
    r = b.get(oidc(app, "carol"))
    assert r.status == 200 and "/enrol/skip" in r.text
    r = b.post("/enrol/skip", {"csrf": csrf_of(r)}, follow=False)
    assert r.status == 303 and is_success(r.header("Location"), REDIRECT)
    claims = exchange(gw, app, r.header("Location"))
    assert claims["acr"] == "urn:otpgate:acr:none" and "amr" not in claims
    # and through /start: the result says mfa false, with a jti to redeem once
    b = PageBrowser(gw.server)
    r = b.get(link(app, "dave"))
    r = b.post("/enrol/skip", {"csrf": csrf_of(r)}, follow=False)
    c = result_claims(r.header("Location"))
    assert c["mfa"] is False and c["acr"] == "urn:otpgate:acr:none" and c["amr"] == []
    assert len(c["jti"]) >= 22 and c["aud"] == app.client_id and c["state"] == "st-1"


def test_result_after_a_step_says_mfa_with_auth_time(gate):
    gw, app = gate
    make_user(gw, app, "erin", "email")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "erin"))
    fid = re.search(r'name="factor_id" value="([^"]+)"', r.text).group(1)
    r = b.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    code = gw.code_for("erin@example.com")
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": code},
               follow=False)
    c = result_claims(r.header("Location"))
    assert c["mfa"] is True and c["acr"] == "urn:otpgate:acr:mfa"
    assert c["amr"] == ["otp", "mail", "mfa"] and abs(c["auth_time"] - c["iat"]) <= 2
    # two results never share a jti
    b2 = PageBrowser(gw.server)
    r = b2.get(link(app, "erin"))
    r = b2.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    r = b2.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid,
                                      "code": gw.code_for("erin@example.com")}, follow=False)
    assert result_claims(r.header("Location"))["jti"] != c["jti"]


# ---- every page, every combination -----------------------------------------

# The forms a page may not offer but an attacker can still post.
ENDINGS = [("/enrol/skip", []), ("/account/done", []), ("/account/continue", []),
           ("/challenge/recovery", [("code", "aaaa-bbbb-cccc-dddd")]),
           ("/challenge/verify", [("factor_id", "f_x"), ("code", "000000")]),
           ("/account/disable", [("confirm", "1")]), ("/account/recovery-codes", [("confirm", "1")])]

CASES = [
    # (policy, user, successes allowed)
    ("optional", "email", False),
    ("optional", "totp", False),
    ("optional", "locked", False),
    ("mandatory", "email", False),
    ("mandatory", "totp", False),
    ("mandatory", "none", False),
    ("mandatory", "pending", False),
    ("mandatory", "locked", False),
    ("optional", "none", True),
    ("optional", "pending", True),
    ("off", "totp", True),
]


@pytest.mark.parametrize("mode,kind,allowed", CASES, ids=["%s-%s" % c[:2] for c in CASES])
def test_walk_every_page_without_a_right_code(gate, mode, kind, allowed):
    gw, app = gate
    gw.cli("policy", "set", "--app", app.client_id, "mode=" + mode)
    found = []
    for n, (entry, purpose) in enumerate([("start", "login"), ("start", "manage"),
                                          ("oidc", None), ("oidc", "manage")]):
        sub = "%s-%s-%d" % (mode, kind, n)
        make_user(gw, app, sub, kind)
        b = PageBrowser(gw.server)
        url = link(app, sub, purpose) if entry == "start" else oidc(app, sub, purpose)
        first = b.get(url)
        if first.status in (302, 303):
            successes = [(("GET", url), first.header("Location"))] if is_success(
                first.header("Location"), REDIRECT) else []
            seen = set()
        else:
            assert first.status == 200, first
            successes, seen = walk(b, first, REDIRECT, extra_posts=ENDINGS)
            assert len(seen) >= 3, seen  # the walk did get somewhere
        for what, loc in successes:
            found.append((entry, purpose, what, loc))
            if entry == "oidc":
                claims = exchange(gw, app, loc)
                assert claims["acr"] == "urn:otpgate:acr:none" and "amr" not in claims, claims
            else:
                c = result_claims(loc)
                assert c["mfa"] is False and c["amr"] == [], c
    if not allowed:
        assert found == [], "the app got a success without a right code: %r" % found[:3]
    else:
        # the walk reaches the one allowed way through, so it would see
        # a way it must not
        assert found, "the walk never reached the app"


# ---- what the user is told when the gate says no ---------------------------


def test_lang_back_stays_on_this_origin(gate):
    gw, _ = gate
    for back in ["/\t/evil.example", "//evil.example", "/\\evil.example", "http://evil.example",
                 "/account/../../evil", "/admin"]:
        body = urllib.parse.urlencode({"lang": "zh", "back": back}).encode()
        r = gw.server.request("POST", "/lang", body=body,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 303 and r.header("Location") == "/account", (back, r)
    body = urllib.parse.urlencode({"lang": "en", "back": "/challenge?factor=f_1"}).encode()
    r = gw.server.request("POST", "/lang", body=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.header("Location") == "/challenge?factor=f_1"


def test_locked_user_sees_only_the_recovery_form(gate):
    gw, app = gate
    fid, first = app.enrol_email("frank", "frank@example.com")
    codes = first["recovery_codes"]
    for _ in range(3):
        app.verify_user("frank", "000000")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "frank"))
    assert r.status == 200
    assert "/challenge/recovery" in r.text and "/challenge/send" not in r.text
    assert "/challenge/verify" not in r.text and "Contact your administrator" in r.text
    # the code path is closed, whatever is posted
    sent = len(gw.messages_to("frank@example.com"))
    r = b.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid}, follow=False)
    assert "err.locked" in r.header("Location"), r
    assert len(gw.messages_to("frank@example.com")) == sent
    # a recovery code opens it
    r = b.get("/challenge")
    r = b.post("/challenge/recovery", {"csrf": csrf_of(r), "code": codes[0]}, follow=False)
    assert r.status == 303
    assert not app.factors("frank")["locked"]


def test_locked_user_without_recovery_codes_is_told_who_to_contact(gate):
    gw, app = gate
    gw.cli("brand", "set", "support=help@acme.example")
    gw.cli("policy", "set", "--app", app.client_id, "recovery_codes=off")
    app.enrol_email("gina", "gina@example.com")
    for _ in range(3):
        app.verify_user("gina", "000000")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "gina"))
    assert r.status == 423
    assert "help@acme.example" in r.text and "<form" not in r.text.split("</header>")[-1].split(
        "<footer")[0].replace('action="/lang"', "")


def test_warnings_before_the_lock_and_waits_in_human_time(gate):
    gw, app = gate
    gw.cli("policy", "set", "--app", app.client_id, "lockout_hard=12", "lockout_free=1",
           "lockout_wait=3000", "lockout_max_wait=3600")
    fid, _, _, _ = app.enrol_totp("hank")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "hank"))
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": "000000"})
    assert "That code is not right." in r.text
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": "000000"})
    # the 2nd failure starts a 3000 s wait: said as about 50 minutes
    assert "about 50 minutes" in r.text, r.text
    assert "3000" not in r.text
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": "000000"})
    assert "Try again in about 50 minutes" in r.text
    # close to the lock the page says how many tries are left
    gw.cli("policy", "set", "--app", app.client_id, "lockout_wait=0")
    fid, _, _, _ = app.enrol_totp("ida")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "ida"))
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": "000000"})
    assert "That code is not right." in r.text and "locked" not in r.text
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": "000000"})
    assert "Tries left before your account is locked: 10" in r.text, r.text
    # and before the waits begin
    gw.cli("policy", "set", "--app", app.client_id, "lockout_wait=30", "lockout_free=4",
           "lockout_hard=100")
    fid, _, _, _ = app.enrol_totp("joe")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "joe"))
    for want in ["That code is not right.", "That code is not right.",
                 "Tries left before you have to wait: 2", "Tries left before you have to wait: 1",
                 "Try again in 30 seconds"]:
        r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": "000000"})
        assert want in r.text, (want, re.findall(r'role="alert"><p>([^<]*)', r.text))


def test_recovery_codes_are_shown_once_and_replaced_only_after_confirming(gate):
    gw, app = gate
    gw.cli("policy", "set", "--app", app.client_id, "mode=mandatory")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "ivy", "manage"))
    r = b.get("/account/add/email")
    r = b.post("/account/add/email", {"csrf": csrf_of(r), "email": "ivy@example.com"})
    fid = re.search(r'name="factor_id" value="([^"]+)"', r.text).group(1)
    r = b.post("/account/verify", {"csrf": csrf_of(r), "factor_id": fid,
                                   "code": gw.code_for("ivy@example.com")}, follow=False)
    assert r.header("Location").startswith("/account/recovery-codes")
    r = b.get(r.header("Location"))
    first = re.findall(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}", r.text)
    assert len(set(first)) == 10
    # a reload shows no codes and makes no new set
    r = b.get("/account/recovery-codes", follow=False)
    assert r.status == 303 and "err.codes_shown_once" in r.header("Location")
    assert app.factors("ivy")["recovery_codes_left"] == 10
    r = b.get("/account")
    assert "Turn off" not in r.text and "/account/disable" not in r.text  # mandatory
    r = b.post("/account/recovery-codes", {"csrf": csrf_of(r)})
    assert r.status == 200 and "You have 10 unused recovery codes" in r.text
    assert app.factors("ivy")["recovery_codes_left"] == 10
    r = b.post("/account/recovery-codes", {"csrf": csrf_of(r), "confirm": "1"})
    second = re.findall(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}", r.text)
    assert len(set(second)) == 10 and not set(second) & set(first)
    # mandatory: turning off and removing the last factor are refused
    r = b.post("/account/disable", {"csrf": csrf_of(b.get("/account")), "confirm": "1"},
               follow=False)
    assert "err.not_allowed" in r.header("Location")
    r = b.post("/account/remove", {"csrf": csrf_of(b.get("/account")), "factor_id": fid,
                                   "confirm": "1"}, follow=False)
    assert "err.last_factor" in r.header("Location")
    assert len(app.factors("ivy")["factors"]) == 1


def test_account_without_factors_shows_no_recovery_codes(gate):
    gw, app = gate
    b = PageBrowser(gw.server)
    r = b.get(link(app, "jack", "manage"))
    assert r.status == 200 and "Two-step verification" in r.text
    assert "/account/recovery-codes" not in r.text and "h-recovery" not in r.text


def test_manage_right_after_a_step_does_not_ask_again(gate):
    gw, app = gate
    make_user(gw, app, "kim", "email")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "kim"))
    fid = re.search(r'name="factor_id" value="([^"]+)"', r.text).group(1)
    r = b.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid,
                                     "code": gw.code_for("kim@example.com")}, follow=False)
    assert is_success(r.header("Location"), REDIRECT)
    # the flow is over: its pages are closed
    assert b.get("/account", follow=False).status == 401
    # "Manage" from the app right after: the account page, no new challenge
    r = b.get(link(app, "kim", "manage"))
    assert r.status == 200 and "/account/done" in r.text and "/challenge/verify" not in r.text
    r = b.post("/account/done", {"csrf": csrf_of(r)}, follow=False)
    c = result_claims(r.header("Location"))
    assert c["mfa"] is True and c["amr"] == ["otp", "mail", "mfa"]
    # a sign-in always asks again, and another user of this browser too
    r = b.get(link(app, "kim"))
    assert "/challenge/send" in r.text or "/challenge/verify" in r.text
    make_user(gw, app, "lee", "email")
    b2 = PageBrowser(gw.server)
    r = b2.get(link(app, "kim"))
    r = b2.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    b2.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid,
                                  "code": gw.code_for("kim@example.com")}, follow=False)
    r = b2.get(link(app, "lee", "manage"))
    assert "/account/done" not in r.text and "/challenge/send" in r.text


# ---- the signed link's result, end to end ---------------------------------


def test_a_pages_result_is_redeemed_once(gate):
    gw, app = gate
    b = PageBrowser(gw.server)
    r = b.get(link(app, "mona"))
    r = b.post("/enrol/skip", {"csrf": csrf_of(r)}, follow=False)
    q = urllib.parse.parse_qs(urllib.parse.urlparse(r.header("Location")).query)
    result = q["otpgate_result"][0]
    a = app.post("/results/redeem", {"result": result})
    assert a.status == 200 and a.json["sub"] == "mona" and a.json["mfa"] is False, a
    assert a.json["acr"] == "urn:otpgate:acr:none"
    a = app.post("/results/redeem", {"result": result})
    assert a.status == 409 and a.json["error"] == "already_redeemed", a
    other = gw.add_app("Other app")
    a = other.post("/results/redeem", {"result": result})
    assert a.status == 422, a


def test_a_link_may_live_at_most_five_minutes(gate):
    gw, app = gate
    import time as _t
    now = int(_t.time())
    b = PageBrowser(gw.server)
    r = b.get(start_link(PUBLIC, app.client_id, app.secret, "nina", REDIRECT, iat=now,
                         exp=now + 3600), follow=False)
    assert r.status == 400
    r = b.get(start_link(PUBLIC, app.client_id, app.secret, "nina", REDIRECT, iat=now,
                         exp=now + 300), follow=False)
    assert r.status == 303


def test_recovery_guesses_of_a_locked_user_wait_on_the_pages(gate):
    gw, app = gate
    app.enrol_email("olga", "olga@example.com")
    for _ in range(3):
        app.verify_user("olga", "000000")
    assert app.factors("olga")["locked"]
    gw.cli("policy", "set", "--app", app.client_id, "lockout_free=1", "lockout_wait=60")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "olga"))
    waited = 0
    for _ in range(6):
        r = b.post("/challenge/recovery", {"csrf": csrf_of(r), "code": "aaaa-bbbb-cccc-dddd"},
                   follow=False)
        loc = r.header("Location")
        if "err.wait" in loc or "err.wrong_wait" in loc:
            waited += 1
        r = b.get(loc)
    assert waited >= 5, "a locked user's recovery guesses ran without waits"
