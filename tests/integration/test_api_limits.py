"""The limits of SPEC §4 over the JSON API: code lifetime, attempts per code,
waits after consecutive failures, the hard lock and its two ways out, the
send limits per destination, user and client IP, and their metrics. Short
policies keep every wait to a second or two."""

import time

from apiclient import gw, metric_value, other_code, settle_totp_step, totp  # noqa: F401

EMAIL = "alice@example.com"


def challenge_code(gw, app, sub="alice", to=EMAIL):
    c = app.challenge(sub).json
    return c, gw.code_for(to)


def test_expired_code_is_410(gw):
    app = gw.add_app()
    gw.start()
    app.enrol_email("alice", EMAIL)
    gw.policy("code_ttl=1")
    c, code = challenge_code(gw, app)
    exp = time.mktime(time.strptime(c["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert -1 <= exp - time.time() <= 2, c
    pending = app.add_email("alice", "second@example.com").json
    pending_code = gw.code_for("second@example.com")
    time.sleep(2.1)
    r = app.verify_challenge(c["id"], code)
    assert r.status == 410 and r.error == "expired", r
    r = app.verify_factor("alice", pending["id"], pending_code)
    assert r.status == 410 and r.error == "expired", r
    # Expiry is not a wrong code: no attempt was spent on it.
    lst = app.factors("alice")
    assert [f["status"] for f in lst["factors"]] == ["active", "pending"], lst
    # A fresh code passes.
    gw.policy("code_ttl=300")
    c, code = challenge_code(gw, app)
    assert app.verify_challenge(c["id"], code).status == 200


def test_attempts_exhausted_is_410(gw):
    app = gw.add_app()
    gw.policy("max_attempts=3", "lockout_free=50")
    gw.start()
    app.enrol_email("alice", EMAIL)
    c, code = challenge_code(gw, app)
    for left in (2, 1, 0):
        r = app.verify_challenge(c["id"], other_code(code))
        assert r.status == 422 and r.json["attempts_left"] == left, r
    r = app.verify_challenge(c["id"], code)
    assert r.status == 410 and r.error == "no_attempts_left", r
    r = app.post("/challenges/%s/resend" % c["id"])
    assert r.status == 410 and r.error == "no_attempts_left", r
    # A new challenge has its own attempts.
    c, code = challenge_code(gw, app)
    assert app.verify_challenge(c["id"], code).status == 200


def test_enrolment_code_out_of_attempts_is_410_no_attempts_left(gw):
    app = gw.add_app()
    gw.policy("max_attempts=3", "lockout_free=50")
    gw.start()
    a = app.add_email("alice", EMAIL).json
    code = gw.code_for(EMAIL)
    for left in (2, 1, 0):
        r = app.verify_factor("alice", a["id"], other_code(code))
        assert r.status == 422 and r.json["attempts_left"] == left, r
    r = app.verify_factor("alice", a["id"], code)
    # Out of attempts, not expired: the app must tell its user the right
    # thing (the challenge endpoint says no_attempts_left in the same case).
    assert r.status == 410, r
    assert r.error == "no_attempts_left", r


def test_consecutive_failures_make_the_user_wait(gw):
    app = gw.add_app()
    gw.policy("lockout_free=2", "lockout_wait=1", "max_attempts=20")
    gw.start()
    app.enrol_email("alice", EMAIL)
    c, code = challenge_code(gw, app)
    wrong = other_code(code)
    for left in (19, 18):
        r = app.verify_challenge(c["id"], wrong)
        assert r.status == 422 and r.json["attempts_left"] == left, r
        assert "retry_after" not in r.json, r
    r = app.verify_challenge(c["id"], wrong)
    assert r.status == 422 and r.json["retry_after"] == 1, r
    # The next try, even with the right code, must wait, and costs nothing.
    r = app.verify_challenge(c["id"], code)
    assert r.status == 429 and r.error == "too_many_attempts", r
    assert r.header("Retry-After") == "1" and r.json["retry_after"] == 1, r
    time.sleep(1.1)
    r = app.verify_challenge(c["id"], wrong)
    assert r.status == 422 and r.json["attempts_left"] == 16, r
    # The wait doubles.
    assert r.json["retry_after"] == 2, r
    r = app.verify_challenge(c["id"], code)
    assert r.status == 429 and r.header("Retry-After") in ("1", "2"), r
    # Waits hold for direct checks as well, and for starting a challenge's check
    r = app.verify_user("alice", "123456")
    assert r.status == 429, r
    time.sleep(2.1)
    r = app.verify_challenge(c["id"], code)
    assert r.status == 200, r
    # The success reset the count: the next failure is free again.
    c, code = challenge_code(gw, app)
    r = app.verify_challenge(c["id"], other_code(code))
    assert r.status == 422 and "retry_after" not in r.json, r


def test_wait_is_capped_by_lockout_max_wait(gw):
    app = gw.add_app()
    gw.policy("lockout_free=0", "lockout_wait=1", "lockout_max_wait=1", "max_attempts=20")
    gw.start()
    app.enrol_email("alice", EMAIL)
    c, code = challenge_code(gw, app)
    for _ in range(2):
        r = app.verify_challenge(c["id"], other_code(code))
        # Without the cap the second wait would be 2 s.
        assert r.status == 422 and r.json["retry_after"] == 1, r
        time.sleep(1.05)
    assert app.verify_challenge(c["id"], code).status == 200


def test_hard_lock_and_the_ways_out(gw):
    app = gw.add_app()
    gw.policy("lockout_wait=0", "lockout_hard=5")
    gw.start()
    at = settle_totp_step(5)
    fid, secret, v, _ = app.enrol_totp("alice", offset=-30)
    recovery = v["recovery_codes"]
    now, nxt = totp(secret, 0, at), totp(secret, 30, at)
    wrong = "000000" if "000000" not in (now, nxt, totp(secret, -30, at)) else "999999"

    def lock():
        for _ in range(4):
            r = app.verify_user("alice", wrong)
            assert r.status == 422, r
        r = app.verify_user("alice", wrong)
        assert r.status == 423 and r.error == "user_locked", r
        assert r.json["locked_at"] and "locked_until" in r.json, r

    lock()
    # Locked: even the right code is refused, and is not spent.
    r = app.verify_user("alice", now)
    assert r.status == 423 and r.error == "user_locked", r
    r = app.challenge("alice", fid, expect=423)
    assert app.factors("alice")["locked"] is True
    # An admin unlocks.
    p = gw.cli("user", "unlock", "alice", "--app", app.client_id)
    assert "unlocked" in p.stdout, p.stdout
    assert app.factors("alice")["locked"] is False
    r = app.verify_user("alice", now)
    assert r.status == 200, r

    lock()
    # A wrong recovery code does not unlock.
    r = app.verify_user("alice", "aaaa-bbbb-cccc-dddd")
    assert r.status == 423, r
    # A recovery code does.
    r = app.verify_user("alice", recovery[0].upper())
    assert r.status == 200 and r.json["recovery_codes_left"] == 9, r
    assert app.factors("alice")["locked"] is False
    r = app.verify_user("alice", nxt)
    assert r.status == 200, r


def test_hard_lock_blocks_sms_and_email_challenges(gw):
    app = gw.add_app()
    gw.policy("lockout_wait=0", "lockout_hard=3")
    gw.start()
    app.enrol_email("alice", EMAIL)
    c, code = challenge_code(gw, app)
    for _ in range(2):
        assert app.verify_challenge(c["id"], other_code(code)).status == 422
    r = app.verify_challenge(c["id"], other_code(code))
    assert r.status == 423 and r.error == "user_locked", r
    r = app.verify_challenge(c["id"], code)
    assert r.status == 423, r
    sent = len(gw.outbox())
    r = app.challenge("alice", expect=423)
    assert r.error == "user_locked", r
    r = app.post("/challenges/%s/resend" % c["id"])
    assert r.status == 423 and r.error == "user_locked", r
    assert len(gw.outbox()) == sent, "a locked user was sent a code"


def test_success_resets_the_failure_count(gw):
    app = gw.add_app()
    gw.policy("lockout_wait=0", "lockout_hard=3")
    gw.start()
    app.enrol_email("alice", EMAIL)
    c, code = challenge_code(gw, app)
    for _ in range(2):
        assert app.verify_challenge(c["id"], other_code(code)).status == 422
    assert app.verify_challenge(c["id"], code).status == 200
    c, code = challenge_code(gw, app)
    for _ in range(2):
        r = app.verify_challenge(c["id"], other_code(code))
        assert r.status == 422, r
    assert app.factors("alice")["locked"] is False
    r = app.verify_challenge(c["id"], other_code(code))
    assert r.status == 423, r


# ---- send limits ------------------------------------------------------------


def assert_rate_limited(r, window):
    assert r.status == 429 and r.error == "rate_limited", r
    ra = r.header("Retry-After")
    assert ra and ra.isdigit() and window - 120 <= int(ra) <= window, r.headers
    assert r.json["retry_after"] == int(ra), r


def test_sends_per_destination_per_hour(gw):
    app = gw.add_app()
    gw.policy("sends_per_dest_hour=2", "resend_cooldown=0")
    gw.start()
    app.enrol_email("alice", EMAIL)
    c, code = challenge_code(gw, app)
    assert len(gw.outbox()) == 2
    r = app.post("/challenges", {"sub": "alice"})
    assert_rate_limited(r, 3600)
    r = app.post("/challenges/%s/resend" % c["id"])
    assert_rate_limited(r, 3600)
    # The limit is the address's, whoever asks.
    r = app.post("/users/bob/factors", {"type": "email", "email": EMAIL})
    assert_rate_limited(r, 3600)
    assert len(gw.outbox()) == 2
    # Other addresses are not limited.
    app.add_email("alice", "other@example.com")
    assert len(gw.outbox()) == 3
    # The code already sent still works.
    assert app.verify_challenge(c["id"], code).status == 200


def test_sends_per_destination_per_day(gw):
    app = gw.add_app()
    gw.policy("sends_per_dest_day=2")
    gw.start()
    app.enrol_sms("alice", "+44 20 7946 0123", "+442079460123")
    app.challenge("alice")
    r = app.post("/challenges", {"sub": "alice"})
    assert_rate_limited(r, 86400)
    assert len(gw.outbox()) == 2


def test_sends_per_user_per_hour(gw):
    app = gw.add_app()
    gw.policy("sends_per_user_hour=2")
    gw.start()
    app.enrol_email("alice", EMAIL)
    app.add_sms("alice", "+44 20 7946 0001")
    r = app.post("/users/alice/factors", {"type": "email", "email": "third@example.com"})
    assert_rate_limited(r, 3600)
    r = app.post("/challenges", {"sub": "alice"})
    assert_rate_limited(r, 3600)
    assert len(gw.outbox()) == 2
    # Other users are not limited.
    app.enrol_email("bob", "bob@example.com")
    assert len(gw.outbox()) == 3


def test_sends_per_client_ip_per_hour(gw):
    # The end user's address is the client_ip the app passes (see
    # test_api_client_ip.py); the app server's own never counts.
    app = gw.add_app()
    gw.policy("sends_per_ip_hour=2")
    gw.start()

    def add(sub, ip):
        body = {"type": "email", "email": "%s@example.com" % sub}
        if ip:
            body["client_ip"] = ip
        return app.post("/users/%s/factors" % sub, body)

    assert add("u1", "203.0.113.7").status == 201
    assert add("u2", "203.0.113.7").status == 201
    assert_rate_limited(add("u3", "203.0.113.7"), 3600)
    assert add("u3", "203.0.113.8").status == 201
    assert add("u4", None).status == 201
    assert add("u5", None).status == 201
    assert len(gw.outbox()) == 5


def test_sends_per_destination_count_the_mailbox_not_its_spelling(gw):
    """The attack: Victim@, vIctim@, viCtim@ ... each got a fresh 5 an hour
    (and 20 a day) to the same mailbox."""
    app = gw.add_app()
    gw.start()
    spellings = ["Victim@example.com", "vIctim@example.com", "viCtim@Example.com",
                 "vicTim+x@example.com", "VICTIM+y@EXAMPLE.COM"]
    for i, addr in enumerate(spellings):
        r = app.post("/users/u%d/factors" % i, {"type": "email", "email": addr})
        assert r.status == 201, r
    r = app.post("/users/u9/factors", {"type": "email", "email": "victiM@example.com"})
    assert_rate_limited(r, 3600)
    r = app.post("/users/u9/factors", {"type": "email", "email": "victim+z@example.com"})
    assert_rate_limited(r, 3600)
    m = gw.metrics()
    assert metric_value(m, "otpgate_rate_limit_refusals_total", {"limit": "dest_hour"}) == 2, m
    assert len(gw.outbox()) == 5
    # Another mailbox is not held back.
    assert app.post("/users/u9/factors", {"type": "email",
                                          "email": "victim2@example.com"}).status == 201
    # Gmail ignores dots: one mailbox.
    for i in range(5):
        addr = "pat.doe@gmail.com" if i % 2 else "p.a.t.d.o.e@gmail.com"
        assert app.post("/users/g%d/factors" % i,
                        {"type": "email", "email": addr}).status == 201
    r = app.post("/users/g9/factors", {"type": "email", "email": "patdoe@googlemail.com"})
    assert_rate_limited(r, 3600)


def test_same_mailbox_under_another_spelling_is_a_conflict(gw):
    app = gw.add_app()
    gw.start()
    app.enrol_email("alice", "alice@example.com")
    for addr in ("alice@example.com", "Alice@Example.com", "ALICE+otp@example.com"):
        r = app.post("/users/alice/factors", {"type": "email", "email": addr})
        assert r.status == 409 and r.error == "conflict", (addr, r)
    assert [f["status"] for f in app.factors("alice")["factors"]] == ["active"]
    # A different mailbox is fine, and so is the same one for another user.
    app.add_email("alice", "alice2@example.com")
    app.add_email("bob", "Alice@example.com")


def test_locked_users_recovery_guesses_wait_too(gw):
    """The attack: once a user was hard-locked, recovery-code guesses ran
    unthrottled (the lock let them through, and the lock stopped the
    waits)."""
    WAIT = 3
    app = gw.add_app()
    gw.policy("lockout_free=0", "lockout_wait=3", "lockout_max_wait=3", "lockout_hard=2")
    gw.start()
    app.enrol_email("alice", EMAIL)
    codes = app.post("/users/alice/recovery-codes").json["codes"]
    wrong = "aaaa-bbbb-cccc-dddd"
    assert wrong not in codes
    r = app.verify_user("alice", wrong)
    assert r.status == 422 and r.json["retry_after"] == WAIT, r
    time.sleep(WAIT + 0.1)
    r = app.verify_user("alice", wrong)
    assert r.status == 423 and r.error == "user_locked", r
    # Locked: a burst of guesses gets 429 with Retry-After, each costs
    # nothing. (A wait of 3 s, so the burst ends within it on a busy machine.)
    for _ in range(20):
        r = app.verify_user("alice", wrong)
        assert r.status == 429 and r.error == "too_many_attempts", r
        assert 1 <= int(r.header("Retry-After")) <= WAIT, r.headers
    assert len(gw.audit("verify_failed")) == 2
    # Once the wait is over one guess is checked (still locked), then a wait.
    time.sleep(WAIT + 0.1)
    r = app.verify_user("alice", wrong)
    assert r.status == 423, r
    r = app.verify_user("alice", codes[0])
    assert r.status == 429 and r.header("Retry-After"), r
    assert app.factors("alice")["recovery_codes_left"] == 10
    # After it, the right recovery code is the way out.
    time.sleep(WAIT + 0.1)
    r = app.verify_user("alice", codes[0])
    assert r.status == 200 and r.json["recovery_codes_left"] == 9, r
    assert app.factors("alice")["locked"] is False


def test_metrics_count_codes_and_verifications(gw):
    app = gw.add_app()
    gw.policy("sends_per_dest_hour=3")
    gw.start()
    m0 = gw.metrics()
    assert metric_value(m0, "otpgate_codes_sent_total") == 0
    fid, _ = app.enrol_email("alice", EMAIL)                      # sent 1, ok 1
    sms_fid, _ = app.enrol_sms("alice", "+44 20 7946 0958", "+442079460958")  # sent 1, ok 1
    c = app.challenge("alice", sms_fid).json                      # sms
    c = app.challenge("alice", fid).json                          # email 2
    code = gw.code_for(EMAIL)
    assert app.verify_challenge(c["id"], other_code(code)).status == 422
    assert app.verify_challenge(c["id"], code).status == 200
    assert app.verify_challenge(c["id"], code).status == 410
    assert app.post("/challenges", {"sub": "alice", "factor_id": fid}).status == 201  # email 3
    assert app.post("/challenges", {"sub": "alice", "factor_id": fid}).status == 429  # limit
    m = gw.metrics()
    assert "# TYPE otpgate_codes_sent_total counter" in m
    assert "# TYPE otpgate_verifications_total counter" in m
    assert metric_value(m, "otpgate_codes_sent_total", {"channel": "email"}) == 3, m
    assert metric_value(m, "otpgate_codes_sent_total", {"channel": "sms"}) == 2, m
    assert metric_value(m, "otpgate_codes_sent_total", {"channel": "email", "outcome": "dev"}) == 3
    assert metric_value(m, "otpgate_verifications_total", {"result": "ok"}) == 3, m
    assert metric_value(m, "otpgate_verifications_total", {"result": "invalid_code"}) == 1, m
    assert metric_value(m, "otpgate_verifications_total", {"result": "already_used"}) == 1, m
    assert metric_value(m, "otpgate_http_requests_total", {"status": "429"}) >= 1, m
