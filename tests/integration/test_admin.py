"""The admin console against the real binary: `otpgate admin add` (password
from stdin), the sign-in at /admin/login (scrypt on the thread pool, the
throttle per username and per IP, CSRF), the pages behind it (applications,
user lookup with unlock and reset, the delivery log) and what must never
show up in a page, the database or the log (SPEC §2, §4, §7, §8)."""

import base64
import hashlib
import os
import re
import threading
import time
import urllib.parse

from adminclient import PASSWORD, Console, admin_add, audit_rows, b64url, db, one_line_error, started
from apiclient import BULLET, gw, metric_value  # noqa: F401
from conftest import store_blob


# ---- otpgate admin add ------------------------------------------------------


def test_admin_add_from_stdin_and_refusals(gw):
    p = admin_add(gw.data_dir, "root", PASSWORD)
    assert p.returncode == 0, p.stderr
    assert "added admin root" in p.stdout
    con = db(gw.data_dir)
    row = dict(con.execute("SELECT * FROM admins").fetchone())
    con.close()
    assert row["username"] == "root"
    assert re.fullmatch(r"\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}",
                        row["password_hash"]), row
    # The password is nowhere in the database files.
    for name in os.listdir(gw.data_dir):
        with open(os.path.join(gw.data_dir, name), "rb") as f:
            assert PASSWORD.encode() not in f.read(), name

    # A CRLF line works like an LF one; the same name replaces the password.
    p = admin_add(gw.data_dir, "root", "another good password\r")
    assert p.returncode == 0, p.stderr
    assert "replaced the password of admin root" in p.stdout
    con = db(gw.data_dir)
    assert con.execute("SELECT count(*) FROM admins").fetchone()[0] == 1
    assert con.execute("SELECT password_hash FROM admins").fetchone()[0] != row["password_hash"]
    con.close()

    for bad in ("bad name", "x" * 65, "semi;colon", "tab\tname", "ünï"):
        msg = one_line_error(admin_add(gw.data_dir, bad, PASSWORD))
        assert "not a valid username" in msg, msg
    msg = one_line_error(admin_add(gw.data_dir, "alice", "elevenchars"))
    assert "at least 12 characters" in msg, msg
    msg = one_line_error(admin_add(gw.data_dir, "alice", None))
    assert "no password" in msg, msg
    msg = one_line_error(admin_add(gw.data_dir, "alice", "x" * 2000))
    assert "longer than" in msg, msg
    con = db(gw.data_dir)
    assert [r[0] for r in con.execute("SELECT username FROM admins")] == ["root"]
    con.close()


def test_admin_help_and_usage(run_cli):
    p = run_cli(["admin", "--help"])
    assert p.returncode == 0 and "admin add USERNAME" in p.stdout
    p = run_cli(["admin", "add", "--help"])
    assert p.returncode == 0 and "12 characters" in p.stdout
    p = run_cli(["--help"])
    assert p.returncode == 0 and "admin add USERNAME" in p.stdout
    p = run_cli(["admin"])
    assert p.returncode == 2
    p = run_cli(["admin", "remove", "x"])
    assert p.returncode == 2
    p = run_cli(["admin", "add"])
    assert p.returncode == 2


# ---- sign-in ------------------------------------------------------------------


def test_pages_need_a_session(gw):
    server = started(gw)
    c = Console(server)
    for path in ("/admin", "/admin/users", "/admin/users?app=x&sub=y", "/admin/deliveries"):
        r = c.get(path)
        assert r.status == 303, (path, r)
        assert r.header("Location") == "/admin/login"
    for path in ("/admin/users/unlock", "/admin/users/reset", "/admin/logout"):
        r = c.post(path, {"app": "x", "sub": "y"}, csrf="nope")
        assert r.status == 303 and r.header("Location") == "/admin/login", (path, r)
    # A made-up cookie opens nothing.
    c.jar["otpgate_admin"] = "A" * 43
    assert c.get("/admin").status == 303


def test_login_wrong_then_right_then_logout(gw):
    server = started(gw)
    app = gw.add_app("Shop")
    c = Console(server)
    r = c.get("/admin/login")
    assert r.status == 200
    assert r.header("Content-Security-Policy") and "unsafe-inline" not in r.header(
        "Content-Security-Policy")
    assert r.header("X-Frame-Options") == "DENY"
    pre = r.cookies()["otpgate_admin_login"]
    assert "HttpOnly" in pre and "SameSite=Strict" in pre and "Path=/admin" in pre

    # Wrong password and unknown user: the same generic answer.
    for user, pw in (("root", "not the password"), ("nobody", PASSWORD)):
        r = c.post("/admin/login", {"username": user, "password": pw})
        assert r.status == 401, r
        assert "Wrong username or password." in r.text
        assert "otpgate_admin" not in c.jar
        assert pw not in r.text

    # The right one.
    r = c.post("/admin/login", {"username": "root", "password": PASSWORD})
    assert r.status == 303 and r.header("Location") == "/admin", r
    cookie = r.cookies()["otpgate_admin"]
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=43200"):
        assert attr in cookie, cookie
    assert "Secure" not in cookie  # the public URL is http here
    value = c.jar["otpgate_admin"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)

    r = c.get("/admin")
    assert r.status == 200, r
    assert "<h1>Overview</h1>" in r.text
    assert "Shop" in r.text and app.client_id in r.text
    assert "Sign out" in r.text
    r = c.get("/admin/apps")
    assert r.status == 200, r
    assert "http://127.0.0.1:3000/cb" in r.text and "inherit" in r.text
    assert app.secret not in r.text

    # Only the cookie's hash is stored.
    con = db(gw.data_dir)
    rows = [dict(x) for x in con.execute("SELECT * FROM admin_sessions")]
    con.close()
    assert len(rows) == 1 and rows[0]["username"] == "root"
    assert store_blob(rows[0]["id_hash"]) == hashlib.sha256(value.encode()).digest()
    assert rows[0]["expires_at"] - rows[0]["created_at"] == 12 * 3600 * 1000

    assert [a["detail"] for a in audit_rows(gw.data_dir, "admin_login")] == ['{"admin":"root"}']
    failed = audit_rows(gw.data_dir, "admin_login_failed")
    assert len(failed) == 2 and failed[0]["client_ip"] == "127.0.0.1"

    # Sign out: the cookie is cleared and stops working.
    r = c.post("/admin/logout", {})
    assert r.status == 303 and r.header("Location") == "/admin/login?n=signed_out"
    assert "Max-Age=0" in r.cookies()["otpgate_admin"]
    r = c.get("/admin/login?n=signed_out")
    assert "You have signed out." in r.text
    c.jar["otpgate_admin"] = value
    assert c.get("/admin").status == 303
    assert len(audit_rows(gw.data_dir, "admin_logout")) == 1

    # Neither the password, its hash nor a cookie value reached the log.
    con = db(gw.data_dir)
    stored = con.execute("SELECT password_hash FROM admins").fetchone()[0]
    con.close()
    log = server.stderr
    for secret in (PASSWORD, "not the password", stored, stored.split("$")[-1], value):
        assert secret not in log, secret
    assert server.wait_log(lambda o: o.get("msg") == "admin signed in to the console")


def test_login_refused_without_csrf_token(gw):
    server = started(gw)
    c = Console(server)
    c.get("/admin/login")
    r = c.post("/admin/login", {"username": "root", "password": PASSWORD}, csrf=False)
    assert r.status == 403, r
    r = c.post("/admin/login", {"username": "root", "password": PASSWORD}, csrf="x" * 43)
    assert r.status == 403, r
    # Without the pre-session cookie the token means nothing either.
    token = c.csrf
    c.jar.clear()
    r = c.post("/admin/login", {"username": "root", "password": PASSWORD}, csrf=token)
    assert r.status == 403, r
    assert audit_rows(gw.data_dir, "admin_login") == []
    c.login()


def test_rate_limit_per_username_and_per_ip(gw):
    gw.cli("policy", "set", "lockout_wait=2")
    server = started(gw)
    c = Console(server)
    c.get("/admin/login")
    # Four failures are free; the fifth starts a wait.
    for i in range(5):
        r = c.post("/admin/login", {"username": "root", "password": "wrong password %d" % i})
        assert r.status == 401, (i, r)
    r = c.post("/admin/login", {"username": "root", "password": PASSWORD})
    assert r.status == 429, r
    assert r.header("Retry-After") == "2"
    assert "Try again in 2 seconds" in r.text
    assert "otpgate_admin" not in c.jar
    # The wait ends; the right password works and clears the count.
    time.sleep(2.2)
    r = c.post("/admin/login", {"username": "root", "password": PASSWORD})
    assert r.status == 303, r
    con = db(gw.data_dir)
    assert con.execute("SELECT count(*) FROM admin_throttle").fetchone()[0] == 0
    con.close()

    # Per IP: five unknown usernames from one address make the next try wait,
    # whatever name it gives.
    c2 = Console(server)
    c2.get("/admin/login")
    for i in range(5):
        r = c2.post("/admin/login", {"username": "guess%d" % i, "password": "wrong password"})
        assert r.status == 401, r
    r = c2.post("/admin/login", {"username": "root", "password": PASSWORD})
    assert r.status == 429, r
    assert int(r.header("Retry-After")) >= 1
    assert metric_value(server.metrics(), "otpgate_rate_limit_refusals_total",
                        {"limit": "admin_login"}) == 2


def test_healthz_answers_while_scrypt_runs(gw):
    """A sign-in's password check runs on the thread pool: the loop keeps
    answering. The admin's hash is made with a higher cost (N=2^17) by
    Python's own scrypt, which also shows the cost is read from the stored
    hash."""
    server = started(gw)
    salt = os.urandom(16)
    slow_pw = "a slower password to check"
    dk = hashlib.scrypt(slow_pw.encode(), salt=salt, n=2 ** 17, r=8, p=1,
                        maxmem=300 * 1024 * 1024, dklen=32)
    con = db(gw.data_dir)
    con.execute("INSERT INTO admins (username, password_hash, created_at, updated_at) "
                "VALUES ('slow', ?, 0, 0)",
                ("$scrypt$ln=17,r=8,p=1$%s$%s" % (b64url(salt), b64url(dk)),))
    con.commit()
    con.close()

    c = Console(server)
    c.get("/admin/login")
    result = {}

    def login():
        t0 = time.monotonic()
        result["reply"] = c.post("/admin/login", {"username": "slow", "password": slow_pw})
        result["took"] = time.monotonic() - t0
        result["done"] = time.monotonic()

    t = threading.Thread(target=login)
    start = time.monotonic()
    t.start()
    time.sleep(0.03)
    during = []
    while t.is_alive() and time.monotonic() - start < 20:
        t0 = time.monotonic()
        r = server.get("/healthz")
        t1 = time.monotonic()
        assert r.status == 200
        during.append((t0, t1 - t0))
        time.sleep(0.01)
    t.join(30)
    assert result["reply"].status == 303, result["reply"]
    assert result["took"] >= 0.15, result
    answered_during = [lat for t0, lat in during if t0 < result["done"]]
    # A blocked loop would answer the first probe only when the check ends
    # and no other probe before it: at least three, each well under the
    # check's own time (a loaded 2-core machine under ASan stretches both).
    assert len(answered_during) >= 3, (during, result)
    assert max(answered_during) < max(0.1, result["took"] / 2), (answered_during, result["took"])


# ---- the pages --------------------------------------------------------------


def test_csrf_refused_on_console_forms(gw):
    server = started(gw)
    app = gw.add_app()
    app.enrol_email("alice", "alice@example.com")
    c = Console(server)
    c.login()
    for path in ("/admin/users/unlock", "/admin/users/reset", "/admin/logout"):
        form = {"app": app.client_id, "sub": "alice", "confirm": "1"}
        r = c.post(path, form, csrf=False)
        assert r.status == 403, (path, r)
        r = c.post(path, form, csrf="A" * 43)
        assert r.status == 403, (path, r)
    # Nothing happened: the factor is there, the session too.
    assert len(app.factors("alice")["factors"]) == 1
    assert c.get("/admin").status == 200
    assert audit_rows(gw.data_dir, "admin_reset") == []


def test_user_lookup_unlock_and_reset(gw):
    server = started(gw)
    app = gw.add_app("Shop")
    other = gw.add_app("Blog")
    fid, _ = app.enrol_email("alice", "alice@example.com")
    phone_fid, _ = app.enrol_sms("alice", "+44 7700 900123", e164="+447700900123")
    # Lock alice as 100 failures in a row would.
    con = db(gw.data_dir)
    con.execute("UPDATE users SET failures = 100, locked_at = 1700000000000 WHERE sub = 'alice'")
    con.commit()
    con.close()
    assert app.verify_user("alice", "123456").status == 423

    c = Console(server)
    c.login()
    r = c.get("/admin/users")
    assert r.status == 200
    assert "Shop" in r.text and "Blog" in r.text
    # The older lookup's links lead to the user's page.
    r = c.get("/admin/users?" + urllib.parse.urlencode({"app": other.client_id, "sub": "alice"}))
    assert r.status == 303, r
    r = c.follow(r)
    assert r.status == 404 and "No such user" in r.text

    url = "/admin/user?" + urllib.parse.urlencode({"app": app.client_id, "sub": "alice"})
    r = c.get(url)
    assert r.status == 200, r
    assert "a%s%s%s@example.com" % (BULLET, BULLET, BULLET) in r.text
    assert "alice@example.com" not in r.text
    assert "900123" not in r.text  # the phone is masked too
    assert "Locked since 2023-11-14" in r.text
    assert ">100<" in r.text
    assert 'class="alert error admin-banner"' in r.text  # the highlighted lock banner
    assert "Unlock" in r.text and "Reset: remove all factors" in r.text

    r = c.post("/admin/users/unlock", {"app": app.client_id, "sub": "alice"})
    assert r.status == 303, r
    assert "n=unlocked" in r.header("Location")
    r = c.get(r.header("Location"))
    assert "Unlocked" in r.text and "Not locked" in r.text
    assert "admin-banner" not in r.text
    con = db(gw.data_dir)
    u = dict(con.execute("SELECT failures, locked_at FROM users WHERE sub = 'alice' AND "
                         "app_id = ?", (app.client_id,)).fetchone())
    con.close()
    assert u == {"failures": 0, "locked_at": None}
    unlock = audit_rows(gw.data_dir, "admin_unlock")
    assert len(unlock) == 1 and unlock[0]["app_id"] == app.client_id and unlock[0]["sub"] == "alice"
    assert unlock[0]["detail"] == '{"by":"console","admin":"root","failures":100}'

    # Reset goes through its confirmation page, which names what is lost.
    r = c.post("/admin/users/reset", {"app": app.client_id, "sub": "alice"})
    assert r.status == 303 and r.header("Location").startswith("/admin/users/reset?"), r
    page = c.follow(r)
    assert page.status == 200 and "Reset alice?" in page.text
    assert "2 factors (2 confirmed)." in page.text
    assert 'name="confirm" value="1"' in page.text
    assert len(app.factors("alice")["factors"]) == 2
    r = c.post("/admin/users/reset", {"app": app.client_id, "sub": "alice", "confirm": "1"})
    assert r.status == 303 and "n=reset" in r.header("Location")
    r = c.get(r.header("Location"))
    assert "No factors." in r.text
    assert app.factors("alice")["factors"] == []
    reset = audit_rows(gw.data_dir, "admin_reset")
    assert len(reset) == 1
    assert reset[0]["detail"].startswith('{"by":"console","admin":"root","factors":2,')
    # The CLI's own audit rows keep their shape.
    gw.cli("user", "unlock", "alice", "--app", app.client_id)
    assert audit_rows(gw.data_dir, "admin_unlock")[-1]["detail"] == '{"by":"cli","failures":0}'

    # An unknown user: refused, nothing audited.
    r = c.post("/admin/users/unlock", {"app": app.client_id, "sub": "nobody"})
    assert r.status == 303 and "e=not_found" in r.header("Location")
    assert len(audit_rows(gw.data_dir, "admin_unlock")) == 2


def test_delivery_log_shows_rows_without_codes(gw):
    server = started(gw)
    app = gw.add_app("Shop")
    app.add_email("bob", "bob@example.com")
    app.add_sms("carol", "+44 7700 900456")
    codes = [gw.code_for("bob@example.com"), gw.code_for("+447700900456")]
    # Let the rows reach their final state.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        con = db(gw.data_dir)
        states = [r[0] for r in con.execute("SELECT state FROM outbox")]
        con.close()
        if states and all(s == "sent" for s in states):
            break
        time.sleep(0.05)
    c = Console(server)
    c.login()
    r = c.get("/admin/deliveries")
    assert r.status == 200, r
    body = r.text
    assert "2 messages, newest first" in body
    assert "b%s%s%s@example.com" % (BULLET, BULLET, BULLET) in body
    assert "bob@example.com" not in body and "900456" not in body
    assert "email" in body and "sms" in body and "sent" in body
    for code in codes:
        assert code not in body
    assert "body_sealed" not in body
    # The page is the console's: a nav entry marked current.
    assert 'href="/admin/deliveries" aria-current="page"' in body
