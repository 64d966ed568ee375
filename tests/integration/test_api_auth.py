"""Client authentication, isolation between apps and request hygiene of the
JSON API (SPEC §6): HTTP Basic with the app's id and secret, each app seeing
only its own users, JSON-only bodies, clear errors, subs in any characters,
and answers that never carry a code, secret or clear address."""

import base64
import json
import time

from apiclient import (CODE_RE, ApiClient, basic, code_in, gw, metric_value,  # noqa: F401
                       other_code, q, settle_totp_step, totp)

ENDPOINTS = [
    ("GET", "/users/alice/factors", None),
    ("POST", "/users/alice/factors", {"type": "email", "email": "alice@example.com"}),
    ("POST", "/users/alice/factors/f_x/verify", {"code": "123456"}),
    ("DELETE", "/users/alice/factors/f_x", None),
    ("PUT", "/users/alice/preferred", {"factor_id": "f_x"}),
    ("POST", "/users/alice/recovery-codes", None),
    ("POST", "/users/alice/verify", {"code": "123456"}),
    ("POST", "/challenges", {"sub": "alice"}),
    ("POST", "/challenges/ch_x/resend", None),
    ("POST", "/challenges/ch_x/verify", {"code": "123456"}),
]


def assert_401(a):
    assert a.status == 401, a
    assert a.error == "invalid_client" and a.json["message"], a
    www = a.header("WWW-Authenticate")
    assert www and www.lower().startswith("basic "), a.headers


def test_bad_credentials_are_401_everywhere(gw):
    app = gw.add_app("A")
    other = gw.add_app("B")
    gw.start()
    b64 = lambda s: "Basic " + base64.b64encode(s.encode()).decode()  # noqa: E731
    bad = [
        False,                                          # no Authorization at all
        basic(app.client_id, app.secret + "x"),         # wrong secret
        basic(app.client_id, app.secret[:-1]),          # truncated secret
        basic(app.client_id, other.secret),             # another app's secret
        basic("app_doesnotexist", app.secret),          # unknown client
        basic("", app.secret),
        basic(app.client_id, ""),
        b64(app.client_id + app.secret),                # no colon
        "Basic !!!notbase64!!!",
        "Basic",
        "Bearer " + app.secret,
        app.secret,
    ]
    for method, path, body in ENDPOINTS:
        for auth in bad:
            a = app.call(method, path, body=body, auth=auth)
            assert_401(a)
    # Authentication comes before looking at the body.
    a = app.call("POST", "/challenges", raw_body=b"not json", content_type="text/plain",
                 auth=False)
    assert_401(a)
    m = gw.metrics()
    assert metric_value(m, "otpgate_api_auth_failures_total") == len(ENDPOINTS) * len(bad) + 1
    # Nothing was created by refused requests.
    assert gw.outbox() == []
    assert app.factors("alice")["factors"] == []
    # The scheme name is case-insensitive (RFC 7235).
    a = app.get("/users/alice/factors", auth="basic " + app.auth()[6:])
    assert a.status == 200, a


def test_rotated_secret_and_removed_app(gw):
    app = gw.add_app()
    gw.start()
    assert app.get("/users/alice/factors").status == 200
    p = gw.cli("app", "rotate-secret", app.client_id)
    creds = json.loads(p.stdout)
    assert creds["client_id"] == app.client_id and creds["client_secret"] != app.secret
    # The first request after the change finds the server's cache of the
    # apps as it was: the old secret is still refused, and before anything
    # else about the request is answered (not 415 for its body).
    assert_401(app.call("POST", "/users/alice/verify", raw_body=b"not json",
                        content_type="text/plain"))
    assert_401(app.get("/users/alice/factors"))
    fresh = ApiClient(gw, app.client_id, creds["client_secret"])
    assert fresh.get("/users/alice/factors").status == 200
    gw.cli("app", "remove", app.client_id)
    assert_401(fresh.call("POST", "/users/alice/verify", raw_body=b"not json",
                          content_type="text/plain"))
    assert_401(fresh.get("/users/alice/factors"))


def test_apps_never_see_each_others_users(gw):
    a = gw.add_app("A")
    b = gw.add_app("B")
    gw.start()
    fid, v = a.enrol_email("alice", "alice@example.com")
    recovery = v["recovery_codes"]
    ch = a.challenge("alice").json
    code = gw.code_for("alice@example.com")

    view = b.factors("alice")
    assert view == {"factors": [], "preferred": None, "last_used": None,
                    "recovery_codes_left": 0, "locked": False}, view
    r = b.challenge("alice", expect=409)
    assert r.error == "no_active_factor", r
    r = b.post("/challenges", {"sub": "alice", "factor_id": fid})
    assert r.status in (404, 409), r
    for r in (b.verify_challenge(ch["id"], code),
              b.post("/challenges/%s/resend" % ch["id"]),
              b.verify_factor("alice", fid, code),
              b.delete("/users/alice/factors/%s" % fid),
              b.put("/users/alice/preferred", {"factor_id": fid})):
        assert r.status == 404 and r.error == "not_found", r
    r = b.verify_user("alice", recovery[0])
    assert r.status in (409, 422), r
    r = b.post("/users/alice/recovery-codes")
    assert r.status == 409, r

    # B's alice is a different person with the same address.
    fid_b, vb = b.enrol_email("alice", "alice@example.com")
    assert fid_b != fid
    assert not set(vb["recovery_codes"]) & set(recovery)
    assert b.verify_user("alice", recovery[1]).status == 422
    assert [f["id"] for f in b.factors("alice")["factors"]] == [fid_b]
    # Even now that B has an "alice", A's challenge stays out of B's reach.
    for r in (b.verify_challenge(ch["id"], code),
              b.post("/challenges/%s/resend" % ch["id"]),
              b.verify_factor("alice", fid, code),
              b.delete("/users/alice/factors/%s" % fid),
              b.put("/users/alice/preferred", {"factor_id": fid}),
              b.post("/challenges", {"sub": "alice", "factor_id": fid})):
        assert r.status == 404 and r.error == "not_found", r
    # A's alice and A's challenge are untouched by all that.
    assert [f["id"] for f in a.factors("alice")["factors"]] == [fid]
    assert a.factors("alice")["recovery_codes_left"] == 10
    r = a.verify_challenge(ch["id"], code)
    assert r.status == 200 and r.json["factor_id"] == fid, r
    assert a.verify_user("alice", recovery[1]).status == 200


def test_body_must_be_json_415(gw):
    app = gw.add_app()
    gw.start()
    body = b'{"sub":"alice"}'
    for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None):
        a = app.call("POST", "/challenges", raw_body=body, content_type=ct)
        assert a.status == 415 and a.error == "unsupported_media_type", (ct, a)
        a = app.call("POST", "/users/alice/factors",
                     raw_body=b'{"type":"email","email":"a@example.com"}', content_type=ct)
        assert a.status == 415, (ct, a)
    a = app.call("POST", "/challenges", raw_body=body,
                 content_type="application/json; charset=utf-8")
    assert a.status == 409 and a.error == "no_active_factor", a
    assert gw.outbox() == []


def test_media_type_is_case_insensitive(gw):
    # RFC 9110 §8.3.1: "The type and subtype tokens are case-insensitive."
    app = gw.add_app()
    gw.start()
    a = app.call("POST", "/challenges", raw_body=b'{"sub":"alice"}',
                 content_type="Application/JSON")
    assert a.status == 409 and a.error == "no_active_factor", a


def test_bad_json_400(gw):
    app = gw.add_app()
    gw.start()
    for raw in (b"", b"{", b"[]", b"null", b'"alice"', b"42", b"{'sub': 'alice'}",
                b'{"sub":"alice",}', b'{"sub":"alice","sub":"bob"}', b'{"sub":"\xff\xfe"}'):
        for path in ("/challenges", "/users/alice/factors", "/users/alice/verify",
                     "/challenges/ch_x/verify"):
            a = app.call("POST", path, raw_body=raw)
            assert a.status == 400 and a.error == "invalid_json", (raw, path, a)
            assert a.json["message"], a
    # Well-formed JSON with the wrong shape is a 400 too, not a crash.
    for body in ({"code": 123456}, {"code": None}, {}, {"code": ["123456"]}):
        a = app.post("/challenges/ch_x/verify", body)
        assert a.status == 400 and a.error == "invalid_request", (body, a)
    for body in ({}, {"sub": 7}, {"sub": ""}, {"sub": "a\u0001b"}):
        a = app.post("/challenges", body)
        assert a.status == 400 and a.error == "invalid_sub", (body, a)
    for body in ({}, {"type": "fax"}, {"type": 1}, {"type": "TOTP"}):
        a = app.post("/users/alice/factors", body)
        assert a.status == 400 and a.error == "invalid_type", (body, a)


def test_unknown_things_404(gw):
    app = gw.add_app()
    gw.start()
    fid, _ = app.enrol_email("alice", "alice@example.com")
    for r in (app.verify_challenge("ch_doesnotexist", "123456"),
              app.post("/challenges/ch_doesnotexist/resend"),
              app.verify_challenge("x" * 100, "123456"),
              app.verify_factor("alice", "f_doesnotexist", "123456"),
              app.verify_factor("nobody", fid, "123456"),
              app.delete("/users/alice/factors/f_doesnotexist"),
              app.challenge("alice", "f_doesnotexist", expect=404)):
        assert r.status == 404 and r.error == "not_found", r
    r = app.get("/nothing/here")
    assert r.status == 404, r
    r = app.get("/challenges")
    assert r.status == 405, r


def test_percent_encoded_sub_is_one_user(gw):
    app = gw.add_app()
    gw.start()
    sub = "alice@example.com"
    fid, _ = app.enrol_email(sub, "alice@example.com")       # path: alice%40example.com
    assert app.call("GET", "/users/alice%40example.com/factors").json["factors"][0]["id"] == fid
    # The same sub unencoded in the path, and in a challenge body.
    assert app.call("GET", "/users/alice@example.com/factors").json["factors"][0]["id"] == fid
    c = app.challenge(sub).json
    r = app.verify_challenge(c["id"], gw.code_for("alice@example.com"))
    assert r.status == 200 and r.json["factor_id"] == fid, r
    assert app.factors("alice%40example.com")["factors"] == []  # a literal "%40" is another sub
    p = gw.cli("user", "show", sub, "--app", app.client_id)
    assert fid in p.stdout, p.stdout

    for odd in ("a/b", "José Ñandú", "名前", "x y+z?#&=", "100%", "." * 3, "é" * 127):
        f, _ = app.enrol_email(odd, "odd%d@example.com" % len(gw.outbox()))
        assert [x["id"] for x in app.factors(odd)["factors"]] == [f], odd
        c = app.challenge(odd).json
        assert c["type"] == "email", c
    # Limits: 255 bytes is the longest sub; control characters are refused.
    assert app.get("/users/%s/factors" % ("x" * 255)).status == 200
    for bad in ("x" * 256, "é" * 128, "a\x00b", "a\nb", "a\x7fb"):
        r = app.get("/users/%s/factors" % q(bad))
        assert r.status == 400 and r.error == "invalid_sub", (bad, r)
    r = app.get("/users/%zz/factors")
    assert r.status in (400, 404), r


def test_answers_never_carry_codes_secrets_or_addresses(gw):
    app = gw.add_app()
    gw.policy("resend_cooldown=1")
    gw.start()
    settle_totp_step(2)
    f_mail, v = app.enrol_email("alice", "alice.private@example.com")
    recovery = v["recovery_codes"]
    f_sms, _ = app.enrol_sms("alice", "+44 20 7946 0958", "+442079460958")
    add = app.post("/users/alice/factors", {"type": "totp"})
    totp_secret = add.json["secret"]
    assert app.verify_factor("alice", add.json["id"], totp(totp_secret)).status == 200
    c = app.challenge("alice", f_mail).json
    code = gw.code_for("alice.private@example.com")
    app.verify_challenge(c["id"], other_code(code))
    c2 = app.challenge("alice", f_sms).json
    time.sleep(1.05)
    assert app.post("/challenges/%s/resend" % c2["id"]).status == 202
    app.verify_challenge(c2["id"], gw.code_for("+442079460958"))
    app.verify_challenge(c["id"], code)
    app.verify_user("alice", recovery[0])
    app.factors("alice")
    app.put("/users/alice/preferred", {"factor_id": f_sms})
    new_set = app.post("/users/alice/recovery-codes")
    assert new_set.status == 201

    codes = {code_in(m) for m in gw.outbox()}
    assert len(codes) >= 5
    seen = 0
    for a in gw.answers:
        text = a.body.decode("utf-8")
        seen += 1
        leaked = set(CODE_RE.findall(text)) & codes
        assert not leaked, (leaked, a)
        assert app.secret not in text, a
        for clear in ("alice.private", "2079460958", "+442079460958"):
            assert clear not in text, (clear, a)
        if a is not add:
            assert totp_secret not in text and totp_secret.lower() not in text, a
    assert seen > 10
    # The logs hold codes only in the development sink's lines, and never a
    # client or TOTP secret or a recovery code.
    for line in gw.server.stderr.splitlines():
        assert app.secret not in line, line
        assert totp_secret not in line, line
        for r in recovery + new_set.json["codes"]:
            assert r not in line and r.replace("-", "") not in line, line
        if set(CODE_RE.findall(line)) & codes:
            assert '"dev delivery"' in line, line
