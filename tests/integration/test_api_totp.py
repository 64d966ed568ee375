"""Authenticator-app (TOTP) factors over the JSON API (SPEC §4, §6): the
otpauth URI and secret shown once, RFC 6238 codes from Debian's oathtool,
the ±1 step window, single use of every time step, and TOTP challenges."""

import base64
import urllib.parse

from apiclient import gw, settle_totp_step, totp  # noqa: F401


def wrong_totp(secret, at):
    """A six-digit code that matches no step within ±3 of at."""
    near = {totp(secret, 30 * k, at) for k in range(-3, 4)}
    for n in range(1000000):
        c = "%06d" % ((n * 7919 + 123457) % 1000000)
        if c not in near:
            return c


def test_enrol_totp_shows_secret_and_uri_once(gw):
    app = gw.add_app("Acme Corp")
    gw.start()
    a = app.post("/users/alice/factors", {"type": "totp"})
    assert a.status == 201, a
    j = a.json
    assert j["type"] == "totp" and j["status"] == "pending" and j["destination"] is None, j
    secret = j["secret"]
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    assert len(raw) == 20, "the secret must be 160 bits"

    u = urllib.parse.urlsplit(j["otpauth_uri"])
    assert u.scheme == "otpauth" and u.netloc == "totp", u
    label = urllib.parse.unquote(u.path.lstrip("/"))
    assert label == "Acme Corp:alice", label
    params = urllib.parse.parse_qs(u.query, strict_parsing=True)
    assert {k: v for k, v in params.items()} == {
        "secret": [secret], "issuer": ["Acme Corp"], "algorithm": ["SHA1"],
        "digits": ["6"], "period": ["30"]}, params

    at = settle_totp_step()
    bad = app.verify_factor("alice", j["id"], wrong_totp(secret, at))
    assert bad.status == 422 and bad.error == "invalid_code", bad
    assert "attempts_left" not in bad.json, bad

    code = totp(secret, 0, at)
    ok = app.verify_factor("alice", j["id"], code)
    assert ok.status == 200, ok
    assert ok.json["id"] == j["id"] and ok.json["status"] == "active", ok
    assert len(ok.json["recovery_codes"]) == 10, ok

    # The code that activated the factor cannot sign in.
    replay = app.verify_user("alice", code)
    assert replay.status == 422 and replay.error == "invalid_code", replay

    lst = app.factors("alice")
    f = lst["factors"][0]
    assert f["type"] == "totp" and f["status"] == "active" and f["destination"] is None, lst
    # confirming a factor is not a use of it: last used means used to sign in
    assert lst["preferred"] == j["id"] and lst["last_used"] is None, lst
    # The secret is never shown again.
    app.get("/users/alice/factors")
    for ans in gw.answers:
        if ans is not a:
            assert secret.encode() not in ans.body, ans
            assert secret.lower().encode() not in ans.body, ans


def test_steps_window_and_single_use(gw):
    app = gw.add_app()
    gw.start()
    at = settle_totp_step(4)
    a = app.post("/users/alice/factors", {"type": "totp"})
    secret, fid = a.json["secret"], a.json["id"]
    prev, now, nxt = (totp(secret, k * 30, at) for k in (-1, 0, 1))
    # A code from the previous step (30 s ago) still activates the factor.
    v = app.verify_factor("alice", fid, prev)
    assert v.status == 200, v

    # The current and the next step are fresh: both work once.
    ok = app.verify_user("alice", now)
    assert ok.status == 200, ok
    assert ok.json == {"ok": True, "factor_id": fid, "type": "totp", "amr": ["otp", "mfa"]}, ok
    assert "recovery_codes_left" not in ok.json
    # Two steps ahead is outside the window, whatever was used before.
    far = app.verify_user("alice", totp(secret, 60, at))
    assert far.status == 422, far
    ok = app.verify_user("alice", nxt)
    assert ok.status == 200, ok

    # Every step is spent now: each is refused, as is one three steps old.
    for code in (prev, now, nxt, totp(secret, -90, at)):
        r = app.verify_user("alice", code)
        assert r.status == 422 and r.error == "invalid_code", (code, r)


def test_previous_step_is_fresh_until_a_later_one_is_used(gw):
    app = gw.add_app()
    gw.policy("totp_window=2", "lockout_free=50")
    gw.start()
    at = settle_totp_step(4)
    a = app.post("/users/alice/factors", {"type": "totp"})
    secret, fid = a.json["secret"], a.json["id"]
    assert app.verify_factor("alice", fid, totp(secret, -60, at)).status == 200
    # 30 s ago has not been used: accepted.
    r = app.verify_user("alice", totp(secret, -30, at))
    assert r.status == 200, r
    # After now is used, 30 s ago is not accepted any more.
    assert app.verify_user("alice", totp(secret, 0, at)).status == 200
    r = app.verify_user("alice", totp(secret, -30, at))
    assert r.status == 422, r
    # Three steps old is outside even a window of two.
    r = app.verify_user("alice", totp(secret, -90, at))
    assert r.status == 422, r
    assert app.verify_user("alice", totp(secret, 60, at)).status == 200


def test_window_zero_refuses_the_previous_step(gw):
    app = gw.add_app()
    gw.policy("totp_window=0")
    gw.start()
    at = settle_totp_step(4)
    a = app.post("/users/alice/factors", {"type": "totp"})
    secret, fid = a.json["secret"], a.json["id"]
    r = app.verify_factor("alice", fid, totp(secret, -30, at))
    assert r.status == 422, r
    r = app.verify_factor("alice", fid, totp(secret, 30, at))
    assert r.status == 422, r
    assert app.verify_factor("alice", fid, totp(secret, 0, at)).status == 200


def test_totp_challenge(gw):
    app = gw.add_app()
    gw.start()
    at = settle_totp_step(4)
    fid, secret, _, _ = app.enrol_totp("alice", offset=-30)
    app.enrol_email("alice", "alice@example.com")
    sent = len(gw.outbox())

    c = app.challenge("alice", fid).json
    assert c["id"].startswith("ch_") and c["type"] == "totp", c
    assert c["destination"] is None, c
    assert c["expires_at"] is None and c["resend_after"] is None, c
    assert len(gw.outbox()) == sent, "a TOTP challenge must send nothing"
    r = app.post("/challenges/%s/resend" % c["id"])
    assert r.status == 409 and r.error == "nothing_to_resend", r

    bad = app.verify_challenge(c["id"], wrong_totp(secret, at))
    assert bad.status == 422 and bad.error == "invalid_code", bad
    code = totp(secret, 0, at)
    ok = app.verify_challenge(c["id"], code)
    assert ok.status == 200, ok
    assert ok.json == {"ok": True, "factor_id": fid, "type": "totp", "amr": ["otp", "mfa"]}, ok
    again = app.verify_challenge(c["id"], totp(secret, 30, at))
    assert again.status == 410 and again.error == "already_used", again
    # The step the challenge used is spent for direct checks too.
    r = app.verify_user("alice", code)
    assert r.status == 422, r

    # The TOTP factor is now the last used one: a challenge without
    # factor_id opens on it, and a fresh step passes it.
    assert app.factors("alice")["last_used"] == fid
    c2 = app.challenge("alice").json
    assert c2["type"] == "totp", c2
    assert len(gw.outbox()) == sent
    r = app.verify_challenge(c2["id"], "%s %s" % (totp(secret, 30, at)[:3], totp(secret, 30, at)[3:]))
    assert r.status == 200, r


def test_new_totp_enrolment_replaces_a_pending_one(gw):
    app = gw.add_app()
    gw.start()
    first = app.post("/users/alice/factors", {"type": "totp"}).json
    second = app.post("/users/alice/factors", {"type": "totp"}).json
    assert first["id"] != second["id"] and first["secret"] != second["secret"]
    ids = [f["id"] for f in app.factors("alice")["factors"]]
    assert ids == [second["id"]], ids
    r = app.verify_factor("alice", first["id"], totp(first["secret"]))
    assert r.status == 404, r
    settle_totp_step(2)
    assert app.verify_factor("alice", second["id"], totp(second["secret"])).status == 200


def test_direct_verify_without_totp_factor(gw):
    app = gw.add_app()
    gw.start()
    r = app.verify_user("nobody", "123456")
    assert r.status == 409 and r.error == "no_active_factor", r
    app.enrol_email("alice", "alice@example.com")
    r = app.verify_user("alice", "123456")
    assert r.status == 422 and r.error == "invalid_code", r
    # Pending TOTP factors do not count.
    a = app.post("/users/alice/factors", {"type": "totp"}).json
    r = app.verify_user("alice", totp(a["secret"]))
    assert r.status == 422, r
