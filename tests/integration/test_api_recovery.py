"""Recovery codes over the JSON API (SPEC §4, §6): ten codes shown once with
the first verified factor, each working once, accepted in any case with or
without dashes and spaces, a new set voiding the old, and the policy switch."""

from apiclient import RECOVERY_RE, gw, settle_totp_step  # noqa: F401


def first_codes(gw, app, sub="alice"):
    _, v = app.enrol_email(sub, "%s@example.com" % sub)
    codes = v["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    assert all(RECOVERY_RE.match(c) for c in codes), codes
    return codes


def test_codes_come_once_with_the_first_factor(gw):
    app = gw.add_app()
    gw.start()
    codes = first_codes(gw, app)
    assert app.factors("alice")["recovery_codes_left"] == 10
    settle_totp_step(2)
    _, _, v, _ = app.enrol_totp("alice")
    assert "recovery_codes" not in v, v
    _, v = app.enrol_sms("alice", "+44 20 7946 0958", "+442079460958")
    assert "recovery_codes" not in v, v
    # Never listed, never shown again.
    lst = app.get("/users/alice/factors")
    for c in codes:
        assert c.encode() not in lst.body
    assert lst.json["recovery_codes_left"] == 10, lst
    # Another user gets a set of their own.
    other = first_codes(gw, app, "bob")
    assert not set(other) & set(codes)


def test_use_each_code_once_and_count_down(gw):
    app = gw.add_app()
    gw.start()
    codes = first_codes(gw, app)
    r = app.verify_user("alice", codes[0])
    assert r.status == 200, r
    assert r.json == {"ok": True, "factor_id": None, "type": "recovery_code",
                      "amr": ["otp", "mfa"], "recovery_codes_left": 9}, r
    again = app.verify_user("alice", codes[0])
    assert again.status == 422 and again.error == "invalid_code", again
    r = app.verify_user("alice", codes[5])
    assert r.status == 200 and r.json["recovery_codes_left"] == 8, r
    assert app.factors("alice")["recovery_codes_left"] == 8
    # A code of another user's set is not this user's.
    bob = first_codes(gw, app, "bob")
    r = app.verify_user("alice", bob[0])
    assert r.status == 422, r
    assert app.verify_user("bob", bob[0]).status == 200


def test_codes_are_normalised(gw):
    app = gw.add_app()
    gw.policy("lockout_free=50")
    gw.start()
    codes = first_codes(gw, app)
    forms = [
        codes[0].upper(),
        codes[1].replace("-", ""),
        codes[2].replace("-", " "),
        "  " + codes[3].upper().replace("-", " ") + " ",
        codes[4][:9].upper() + codes[4][9:].replace("-", ""),
    ]
    for left, typed in enumerate(forms, start=1):
        r = app.verify_user("alice", typed)
        assert r.status == 200, (typed, r)
        assert r.json["recovery_codes_left"] == 10 - left, r
    # Each was used by its normalised form.
    for c in codes[:5]:
        assert app.verify_user("alice", c).status == 422
    # Not a recovery code at all: wrong characters or length.
    c = codes[5]
    for bad in (c[:-1], c + "a", "1" + c[1:], c.replace("-", "_"), "0000-0000-0000-0000"):
        r = app.verify_user("alice", bad)
        assert r.status == 422, (bad, r)


def test_new_set_voids_the_old_one(gw):
    app = gw.add_app()
    gw.policy("lockout_free=20")
    gw.start()
    old = first_codes(gw, app)
    assert app.verify_user("alice", old[0]).status == 200
    r = app.post("/users/alice/recovery-codes")
    assert r.status == 201, r
    new = r.json["codes"]
    assert len(new) == 10 and len(set(new)) == 10 and all(RECOVERY_RE.match(c) for c in new), new
    assert not set(new) & set(old)
    assert app.factors("alice")["recovery_codes_left"] == 10
    for c in old[1:4]:
        r = app.verify_user("alice", c)
        assert r.status == 422, (c, r)
    r = app.verify_user("alice", new[3])
    assert r.status == 200 and r.json["recovery_codes_left"] == 9, r
    # Yet another set voids the second one too.
    newer = app.post("/users/alice/recovery-codes").json["codes"]
    assert app.verify_user("alice", new[4]).status == 422
    assert app.verify_user("alice", newer[4]).status == 200


def test_new_set_needs_an_active_factor(gw):
    app = gw.add_app()
    gw.start()
    r = app.post("/users/nobody/recovery-codes")
    assert r.status == 409 and r.error == "no_active_factor", r
    app.add_email("alice", "alice@example.com")
    r = app.post("/users/alice/recovery-codes")
    assert r.status == 409 and r.error == "no_active_factor", r


def test_policy_off_gives_no_codes(gw):
    app = gw.add_app()
    other = gw.add_app("Other")
    gw.policy("recovery_codes=off", app=app)
    gw.start()
    _, v = app.enrol_email("alice", "alice@example.com")
    assert "recovery_codes" not in v, v
    assert app.factors("alice")["recovery_codes_left"] == 0
    r = app.post("/users/alice/recovery-codes")
    assert r.status == 403 and r.error == "recovery_codes_disabled", r
    # Another app still offers them.
    _, v = other.enrol_email("alice", "alice@example.com")
    assert len(v["recovery_codes"]) == 10
    # No set exists, so nothing passes as a recovery code.
    r = app.verify_user("alice", v["recovery_codes"][0])
    assert r.status == 422, r


def test_recovery_failures_count_toward_waits(gw):
    app = gw.add_app()
    gw.policy("lockout_free=2", "lockout_wait=30")
    gw.start()
    codes = first_codes(gw, app)
    wrong = "aaaa-bbbb-cccc-dddd"
    assert wrong not in codes
    for i in range(2):
        r = app.verify_user("alice", wrong)
        assert r.status == 422 and "retry_after" not in r.json, r
    r = app.verify_user("alice", wrong)
    assert r.status == 422 and r.json["retry_after"] == 30, r
    # While the wait runs, even a good recovery code must wait (and stays unused).
    r = app.verify_user("alice", codes[0])
    assert r.status == 429 and r.error == "too_many_attempts", r
    assert 25 <= int(r.header("Retry-After")) <= 30, r.headers
    assert app.factors("alice")["recovery_codes_left"] == 10
