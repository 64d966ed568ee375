"""Redeeming a /start result once (POST /api/v1/results/redeem): the app
hands back the otpgate_result JWT the user came back with; otpgate checks it
was signed with the calling app's secret, issued to that app by this
otpgate and not expired, and accepts each jti once, durably. The results
are minted here the way the pages make them (HS256 with the app's client
secret, iss the public URL, aud the client_id, 120 s)."""

import base64
import hashlib
import hmac
import json
import secrets
import time

import pytest

from apiclient import basic, gw  # noqa: F401

PUBLIC_URL = "http://otpgate.test:8080"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(claims, key, header=None):
    head = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(key.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(mac))


def result(app, key=None, **over):
    """A result as the pages mint it for app (signed with key, default the
    app's secret), claims overridden (None removes one)."""
    now = int(time.time())
    claims = {
        "iss": PUBLIC_URL, "aud": app.client_id, "sub": "alice", "iat": now, "exp": now + 120,
        "amr": ["otp", "mail", "mfa"], "mfa": True, "acr": "urn:otpgate:acr:mfa",
        "auth_time": now - 3, "state": "xyz", "jti": b64url(secrets.token_bytes(16)),
    }
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    return sign(claims, key or app.secret), claims


def redeem(app, token):
    return app.post("/results/redeem", {"result": token})


def start(gw):
    # Development delivery needs a loopback public URL; these tests send nothing.
    gw.start(env={"OTPGATE_PUBLIC_URL": PUBLIC_URL, "OTPGATE_DEV": "0"})


def test_a_result_is_redeemed_once(gw):
    app = gw.add_app()
    start(gw)
    token, claims = result(app)
    r = redeem(app, token)
    assert r.status == 200, r
    assert r.json == {k: claims[k] for k in ("sub", "amr", "mfa", "acr", "auth_time", "jti")}, r
    again = redeem(app, token)
    assert again.status == 409 and again.error == "already_redeemed", again
    assert again.json["message"], again
    # Another result of the same user is its own.
    other, _ = result(app)
    assert redeem(app, other).status == 200
    assert [a["sub"] for a in gw.audit("result_redeemed")] == ["alice", "alice"]
    assert [a["sub"] for a in gw.audit("result_reused")] == ["alice"]


def test_a_redeemed_result_stays_redeemed_across_a_crash(gw):
    app = gw.add_app()
    start(gw)
    token, _ = result(app)
    assert redeem(app, token).status == 200
    gw.kill()
    start(gw)
    r = redeem(app, token)
    assert r.status == 409 and r.error == "already_redeemed", r


def test_another_apps_result_is_refused_and_not_spent(gw):
    shop = gw.add_app("Shop")
    bank = gw.add_app("Bank")
    start(gw)
    token, _ = result(shop)
    r = redeem(bank, token)
    assert r.status == 422 and r.error == "invalid_result", r
    assert "signed" in r.json["message"], r
    # Signed with the other app's secret but naming it as aud: still not
    # the caller's.
    forged, _ = result(bank, key=shop.secret)
    r = redeem(bank, forged)
    assert r.status == 422 and r.error == "invalid_result", r
    # Signed by Bank for Shop: aud is not the caller.
    crossed, _ = result(shop, key=bank.secret)
    r = redeem(bank, crossed)
    assert r.status == 422 and "not issued to this app" in r.json["message"], r
    # The refusals spent nothing: Shop redeems its own once.
    assert redeem(shop, token).status == 200
    assert redeem(shop, token).status == 409


def test_an_expired_result_is_refused(gw):
    app = gw.add_app()
    start(gw)
    now = int(time.time())
    token, _ = result(app, iat=now - 200, exp=now - 80)
    r = redeem(app, token)
    assert r.status == 422 and r.error == "invalid_result", r
    assert "expired" in r.json["message"], r
    # Just expired: exp is now.
    token, _ = result(app, iat=now - 120, exp=now)
    r = redeem(app, token)
    assert r.status == 422 and "expired" in r.json["message"], r


@pytest.mark.parametrize("over, why", [
    ({"iss": "http://127.0.0.1:8080"}, "not issued"),
    ({"iss": None}, "not issued"),
    ({"aud": "app_someoneelse"}, "not issued"),
    ({"aud": None}, "not issued"),
    ({"jti": None}, "jti"),
    ({"jti": ""}, "jti"),
    ({"jti": "x" * 129}, "jti"),
    ({"jti": 12345}, "jti"),
    ({"sub": None}, "user"),
    ({"sub": ""}, "user"),
    ({"exp": None}, "iat or exp"),
    ({"iat": None}, "iat or exp"),
    ({"exp": "tomorrow"}, "iat or exp"),
    ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3700}, "iat or exp"),
    # Not a lifetime otpgate gives: such a token is not one of its results.
    ({"exp": int(time.time()) + 3600}, "iat or exp"),
])
def test_results_otpgate_did_not_give_are_refused(gw, over, why):
    app = gw.add_app()
    start(gw)
    token, _ = result(app, **over)
    r = redeem(app, token)
    assert r.status == 422 and r.error == "invalid_result", r
    assert why in r.json["message"], r


def test_malformed_requests(gw):
    app = gw.add_app()
    start(gw)
    token, _ = result(app)
    head, body, mac = token.split(".")
    bad = [
        "abc", "a.b.c", head + "." + body + ".", head + "." + body + "." + mac[:-2] + "AA",
        sign({"sub": "alice"}, app.secret, header={"alg": "none"}),
        sign(result(app)[1], app.secret, header={"alg": "HS512"}),
        "x" * 9000,
    ]
    for t in bad:
        r = redeem(app, t)
        assert r.status == 422 and r.error == "invalid_result", (t[:40], r)
    for b in ({}, {"result": ""}, {"result": 42}, {"token": token}):
        r = app.post("/results/redeem", b)
        assert r.status == 400 and r.error == "invalid_request", (b, r)
    r = app.post("/results/redeem", raw_body=b"result=" + token.encode(),
                 content_type="application/x-www-form-urlencoded")
    assert r.status == 415, r
    r = app.post("/results/redeem", {"result": token}, auth=basic(app.client_id, "wrong"))
    assert r.status == 401 and r.error == "invalid_client", r
    r = app.post("/results/redeem", {"result": token}, auth=False)
    assert r.status == 401, r
    # None of it spent the good one.
    assert redeem(app, token).status == 200
