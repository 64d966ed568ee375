"""Single use under concurrency and across crashes, durable enrolments, and
the audit trail (SPEC §4 "single use", §10, README "Rules and policy"):
a code, a TOTP step and a recovery code verify at most once even when 20
requests race on separate connections, a success answered before a SIGKILL
is still spent after restart, and the database never holds a code, a TOTP
secret or a client secret in the clear."""

import base64
import json
import os
import re
import sqlite3
import time

import pytest

from apiclient import API, CODE_RE, code_in, gw, other_code, race, settle_totp_step, totp  # noqa: F401


def one_winner(results, losers):
    statuses = [s for s, _ in results]
    assert statuses.count(200) == 1, statuses
    assert all(s in losers for s in statuses if s != 200), results
    return [j for s, j in results if s == 200][0]


# ---- (a) concurrent use ------------------------------------------------------


def test_concurrent_challenge_code_verifies_once(gw):
    app = gw.add_app()
    gw.policy("lockout_free=1000", "max_attempts=100")
    gw.start()
    fid, _ = app.enrol_email("alice", "alice@example.com")
    for _ in range(2):
        c = app.challenge("alice").json
        code = gw.code_for("alice@example.com")
        results = race(gw, app, "/challenges/%s/verify" % c["id"], {"code": code})
        win = one_winner(results, (410, 422))
        assert win["factor_id"] == fid and win["ok"] is True, win
        for s, j in results:
            if s == 410:
                assert j["error"] == "already_used", j
        r = app.verify_challenge(c["id"], code)
        assert r.status == 410, r


def test_concurrent_enrolment_code_verifies_once(gw):
    app = gw.add_app()
    gw.policy("lockout_free=1000")
    gw.start()
    a = app.add_email("alice", "alice@example.com").json
    code = gw.code_for("alice@example.com")
    results = race(gw, app, "/users/alice/factors/%s/verify" % a["id"], {"code": code})
    win = one_winner(results, (409, 410, 422))
    # Recovery codes come exactly once, with the one success.
    assert len(win["recovery_codes"]) == 10, win
    assert all("recovery_codes" not in (j or {}) for s, j in results if s != 200)
    assert app.factors("alice")["recovery_codes_left"] == 10


def test_concurrent_recovery_code_verifies_once(gw):
    app = gw.add_app()
    gw.policy("lockout_free=1000")
    gw.start()
    _, v = app.enrol_email("alice", "alice@example.com")
    code = v["recovery_codes"][0]
    results = race(gw, app, "/users/alice/verify", {"code": code})
    win = one_winner(results, (422,))
    assert win["type"] == "recovery_code" and win["recovery_codes_left"] == 9, win
    assert app.factors("alice")["recovery_codes_left"] == 9
    assert app.verify_user("alice", code).status == 422


def test_concurrent_totp_code_verifies_once(gw):
    app = gw.add_app()
    gw.policy("lockout_free=1000")
    gw.start()
    at = settle_totp_step(5)
    fid, secret, _, _ = app.enrol_totp("alice", offset=-30)
    code = totp(secret, 0, at)
    results = race(gw, app, "/users/alice/verify", {"code": code})
    win = one_winner(results, (422,))
    assert win["factor_id"] == fid and win["type"] == "totp", win
    # The same step through a TOTP challenge is spent as well...
    c = app.challenge("alice", fid).json
    assert app.verify_challenge(c["id"], code).status == 422
    # ...and a racing burst on the next step also has one winner.
    results = race(gw, app, "/challenges/%s/verify" % c["id"], {"code": totp(secret, 30, at)})
    one_winner(results, (410, 422))


# ---- (b) SIGKILL right after a success ----------------------------------------


def post_then_kill(gw, app, path, body):
    """Sends one POST on a raw connection, reads the answer, and SIGKILLs
    the server the moment it is read. Returns the answer."""
    data = json.dumps(body).encode()
    c = gw.server.connect(timeout=10)
    c.send(("POST %s%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (API, path, app.auth(), len(data))).encode() + data)
    r = c.read_response()
    gw.kill()
    return r


def test_sigkill_after_challenge_success_keeps_the_code_spent(gw):
    app = gw.add_app()
    gw.start()
    fid, _ = app.enrol_email("alice", "alice@example.com")
    for _ in range(3):
        c = app.challenge("alice").json
        code = gw.code_for("alice@example.com")
        r = post_then_kill(gw, app, "/challenges/%s/verify" % c["id"], {"code": code})
        assert r.status == 200, r
        gw.start()
        again = app.verify_challenge(c["id"], code)
        assert again.status == 410 and again.error == "already_used", again
        assert app.factors("alice")["last_used"] == fid


def test_sigkill_after_recovery_success_keeps_the_code_spent(gw):
    app = gw.add_app()
    gw.start()
    _, v = app.enrol_email("alice", "alice@example.com")
    codes = v["recovery_codes"]
    for i in range(3):
        r = post_then_kill(gw, app, "/users/alice/verify", {"code": codes[i]})
        assert r.status == 200 and r.json()["recovery_codes_left"] == 9 - i, r
        gw.start()
        again = app.verify_user("alice", codes[i])
        assert again.status == 422 and again.error == "invalid_code", again
        assert app.factors("alice")["recovery_codes_left"] == 9 - i


def test_sigkill_after_totp_success_keeps_the_step_spent(gw):
    app = gw.add_app()
    gw.start()
    at = settle_totp_step(5)
    fid, secret, _, _ = app.enrol_totp("alice", offset=-30)
    for offset in (0, 30):
        code = totp(secret, offset, at)
        r = post_then_kill(gw, app, "/users/alice/verify", {"code": code})
        assert r.status == 200, r
        gw.start()
        again = app.verify_user("alice", code)
        assert again.status == 422 and again.error == "invalid_code", again


# ---- (c) enrolments survive a crash --------------------------------------------


def test_enrolment_just_before_sigkill_survives(gw):
    app = gw.add_app()
    gw.start()
    at = settle_totp_step(6)
    a = app.add_email("alice", "alice@example.com").json
    r = post_then_kill(gw, app, "/users/alice/factors/%s/verify" % a["id"],
                       {"code": gw.code_for("alice@example.com")})
    assert r.status == 200, r
    recovery = r.json()["recovery_codes"]
    gw.start()
    lst = app.factors("alice")
    assert [(f["id"], f["status"]) for f in lst["factors"]] == [(a["id"], "active")], lst
    assert lst["preferred"] == a["id"] and lst["recovery_codes_left"] == 10, lst
    assert app.verify_user("alice", recovery[0]).status == 200

    # A TOTP factor too: its sealed secret opens after the restart.
    t = app.post("/users/alice/factors", {"type": "totp"}).json
    r = post_then_kill(gw, app, "/users/alice/factors/%s/verify" % t["id"],
                       {"code": totp(t["secret"], -30, at)})
    assert r.status == 200, r
    gw.start()
    assert {f["id"]: f["status"] for f in app.factors("alice")["factors"]}[t["id"]] == "active"
    r = app.verify_user("alice", totp(t["secret"], 0, at))
    assert r.status == 200 and r.json["factor_id"] == t["id"], r

    # A pending factor's code sent before the crash still works after it.
    p = app.add_email("alice", "second@example.com").json
    code = gw.code_for("second@example.com")
    gw.restart_after_kill()
    r = app.verify_factor("alice", p["id"], code)
    assert r.status == 200, r


def test_lock_survives_sigkill(gw):
    app = gw.add_app()
    gw.policy("lockout_wait=0", "lockout_hard=3")
    gw.start()
    _, v = app.enrol_email("alice", "alice@example.com")
    for _ in range(2):
        assert app.verify_user("alice", "aaaa-aaaa-aaaa-aaaa").status == 422
    r = post_then_kill(gw, app, "/users/alice/verify", {"code": "aaaa-aaaa-aaaa-aaaa"})
    assert r.status == 423, r
    gw.start()
    assert app.factors("alice")["locked"] is True
    assert app.challenge("alice", expect=423).error == "user_locked"


# ---- (d) the audit trail and what the database holds ------------------------------


@pytest.mark.sqlite_only
def test_audit_rows_and_no_secrets_at_rest(gw):
    app = gw.add_app()
    gw.policy("lockout_wait=0", "lockout_hard=50")
    gw.start()
    at = settle_totp_step(4)
    f_mail, v = app.enrol_email("alice", "alice.private@example.com")
    recovery = v["recovery_codes"]
    c = app.challenge("alice").json
    code = gw.code_for("alice.private@example.com")
    assert app.verify_challenge(c["id"], other_code(code)).status == 422
    assert app.verify_challenge(c["id"], code).status == 200
    assert app.verify_user("alice", recovery[0]).status == 200
    assert app.verify_user("alice", "zzzz-zzzz-zzzz-zzzz").status == 422
    f_totp, secret, _, _ = app.enrol_totp("alice", offset=-30)
    assert app.verify_user("alice", totp(secret, 0, at)).status == 200
    f_sms, _ = app.enrol_sms("alice", "+44 20 7946 0958", "+442079460958")
    assert app.put("/users/alice/preferred", {"factor_id": f_sms}).status == 200
    assert app.delete("/users/alice/factors/%s" % f_sms).status == 204
    new_set = app.post("/users/alice/recovery-codes").json["codes"]
    t0 = time.time()

    db_path = os.path.join(gw.data_dir, "otpgate.db")
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    try:
        cols = [r[0] for r in con.execute("SELECT name FROM pragma_table_info('audit')")]
        rows = [dict(zip(cols, r)) for r in con.execute("SELECT * FROM audit ORDER BY id")]
        events = [r["event"] for r in rows]
        for want in ("factor_added", "factor_enrolled", "verify_ok", "verify_failed",
                     "recovery_code_used", "factor_removed", "code_sent",
                     "recovery_codes_generated"):
            assert want in events, (want, events)
        for r in rows:
            assert r["app_id"] == app.client_id, r
            assert r["sub"] == "alice", r
            # The calls pass no client_ip: the app server's own address
            # (127.0.0.1) is not an end user's and is not recorded.
            assert r["client_ip"] is None, r
            assert (t0 - 120) * 1000 <= r["at"] <= (t0 + 5) * 1000, r
        by_event = {}
        for r in rows:
            by_event.setdefault(r["event"], []).append(r)
        assert {r["factor_id"] for r in by_event["factor_enrolled"]} == {f_mail, f_totp, f_sms}
        assert f_sms in {r["factor_id"] for r in by_event["factor_removed"]}
        assert len(by_event["recovery_code_used"]) == 1
        assert len(by_event["verify_failed"]) == 2, by_event["verify_failed"]

        # Every text or blob value of every table, scanned for secrets.
        codes = {code_in(m) for m in gw.outbox()}
        raw_secret = base64.b32decode(secret)
        text_needles = [app.secret, secret, secret.lower(), raw_secret.hex()]
        for rc in recovery + new_set:
            text_needles += [rc, rc.replace("-", ""), rc.upper(), rc.replace("-", "").upper()]
        blob_needles = [n.encode() for n in text_needles] + [raw_secret]
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"audit", "factors", "challenges", "challenge_codes", "recovery_codes",
                "apps", "users"} <= set(tables), tables
        scanned = 0
        for t in tables:
            for row in con.execute('SELECT * FROM "%s"' % t.replace('"', '""')):
                for val in row:
                    if isinstance(val, str):
                        scanned += 1
                        for n in text_needles:
                            assert n not in val, (t, n, val)
                        assert not set(CODE_RE.findall(val)) & codes, (t, val)
                        if t == "audit":
                            assert "alice.private" not in val and "2079460958" not in val
                    elif isinstance(val, bytes):
                        scanned += 1
                        for n in blob_needles:
                            assert n not in val, (t, n, val)
                        for cd in codes:
                            assert cd.encode() not in val, (t, cd)
        assert scanned > 50
    finally:
        con.close()

    # The files themselves (free pages and the WAL included).
    for name in ("otpgate.db", "otpgate.db-wal"):
        path = os.path.join(gw.data_dir, name)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        for n in blob_needles:
            assert n not in data, (name, n)
        for cd in codes:
            assert not re.search(rb"(?<![0-9])" + cd.encode() + rb"(?![0-9])", data), (name, cd)
