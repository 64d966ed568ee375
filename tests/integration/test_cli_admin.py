"""The admin commands against the real binary: `otpgate app ...`,
`otpgate policy ...` and `otpgate user ...` (SPEC §2). Each test has its own
OTPGATE_DATA_DIR under tmp_path; users are created by writing their rows
into the store directly (store_connect: SQLite's file, or the data
directory's PostgreSQL database), since no command creates one."""

import contextlib
import json

import pytest

from conftest import PG_MODE, store_connect, store_rows


@pytest.fixture
def cli(run_cli, tmp_path):
    """cli(*args) -> CompletedProcess, run with this test's data directory."""
    data = tmp_path / "data"

    def run(*args):
        return run_cli(list(args), env={"OTPGATE_DATA_DIR": str(data)})

    run.data = data
    return run


def ok(p):
    assert p.returncode == 0, "exit %d, stderr:\n%s" % (p.returncode, p.stderr)
    return p


def one_line_error(p):
    """The refusal's message: the stderr lines that are not JSON log lines."""
    assert p.returncode != 0
    lines = [l for l in p.stderr.splitlines() if l.strip() and not l.startswith("{")]
    assert len(lines) == 1, p.stderr
    return lines[0]


def add_app(cli, name="Shop", uris=("https://shop.example/cb",), policy=None):
    args = ["app", "add", "--name", name]
    for u in uris:
        args += ["--redirect-uri", u]
    if policy:
        args += ["--policy", policy]
    p = ok(cli(*args))
    creds = json.loads(p.stdout)
    return creds["client_id"], creds["client_secret"]


def policy_lines(cli, *args):
    """`policy show` as {key: (value, source)}."""
    out = {}
    for line in ok(cli("policy", "show", *args)).stdout.splitlines():
        key, _, rest = line.partition(" = ")
        value, _, source = rest.rpartition("  (")
        out[key] = (value, source.rstrip(")"))
    return out


@contextlib.contextmanager
def db(cli):
    """A connection to the test's store, committed and closed at the end."""
    conn = store_connect(cli.data)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


# ---- app ------------------------------------------------------------------


def test_app_add_prints_credentials_once(cli):
    p = ok(cli("app", "add", "--name", "Shop", "--redirect-uri", "https://shop.example/cb",
               "--redirect-uri", "http://localhost:3000/cb"))
    creds = json.loads(p.stdout)
    assert set(creds) == {"client_id", "client_secret"}
    assert creds["client_id"].startswith("app_") and len(creds["client_id"]) == 24
    secret = creds["client_secret"]
    assert len(secret) >= 43
    assert all(c.isalnum() or c in "-_" for c in secret)
    # Stored only sealed: not in the database in the clear.
    for name in ("otpgate.db", "otpgate.db-wal"):
        path = cli.data / name
        if path.exists():
            assert secret.encode() not in path.read_bytes()
    apps = store_rows(str(cli.data), "SELECT * FROM apps")
    assert len(apps) == 1 and secret not in repr(apps)
    # A second app gets other credentials.
    other = add_app(cli, name="Other")
    assert other[0] != creds["client_id"] and other[1] != secret


def test_app_add_refusals(cli):
    msg = one_line_error(cli("app", "add", "--name", "X", "--redirect-uri",
                             "http://shop.example/cb"))
    assert "redirect URI" in msg and "https" in msg
    msg = one_line_error(cli("app", "add", "--name", "X", "--redirect-uri",
                             "https://shop.example/cb#frag"))
    assert "fragment" in msg
    msg = one_line_error(cli("app", "add", "--name", "X", "--redirect-uri",
                             "https://shop.example/cb", "--policy", "sometimes"))
    assert "mode" in msg
    p = cli("app", "add", "--redirect-uri", "https://shop.example/cb")
    assert p.returncode == 2 and "--name" in p.stderr
    p = cli("app", "add", "--name", "X")
    assert p.returncode == 2 and "--redirect-uri" in p.stderr
    p = cli("app", "add", "--name", "X", "--redirect-uri", "https://a.example/", "--bogus")
    assert p.returncode == 2 and "--bogus" in p.stderr
    assert json.loads(ok(cli("app", "list")).stdout) == []


def test_app_list_never_shows_secrets(cli):
    assert json.loads(ok(cli("app", "list")).stdout) == []
    cid, secret = add_app(cli, name="Shop", uris=("https://shop.example/cb",
                                                  "http://127.0.0.1:8000/cb"),
                          policy="mandatory")
    cid2, secret2 = add_app(cli, name="Blog")
    p = ok(cli("app", "list"))
    assert secret not in p.stdout and secret2 not in p.stdout
    assert "secret" not in p.stdout
    apps = json.loads(p.stdout)
    assert [a["client_id"] for a in apps] == [cid, cid2]
    assert set(apps[0]) == {"client_id", "name", "redirect_uris", "policy", "webhook_url",
                            "created_at"}
    assert apps[0]["name"] == "Shop"
    assert apps[0]["redirect_uris"] == ["https://shop.example/cb", "http://127.0.0.1:8000/cb"]
    assert apps[0]["policy"] == "mandatory"
    assert apps[1]["policy"] == "inherit"


def test_app_rotate_secret(cli):
    cid, secret = add_app(cli)
    p = ok(cli("app", "rotate-secret", cid))
    creds = json.loads(p.stdout)
    assert creds["client_id"] == cid
    assert len(creds["client_secret"]) >= 43 and creds["client_secret"] != secret
    again = json.loads(ok(cli("app", "rotate-secret", cid)).stdout)["client_secret"]
    assert again not in (secret, creds["client_secret"])
    msg = one_line_error(cli("app", "rotate-secret", "app_doesnotexist00000000"))
    assert "app_doesnotexist00000000" in msg
    assert cli("app", "rotate-secret").returncode == 2


def test_app_remove(cli):
    cid, _ = add_app(cli, policy="off")
    keep, _ = add_app(cli, name="Keep")
    ok(cli("policy", "set", "--app", cid, "code_ttl=60"))
    ok(cli("app", "remove", cid))
    assert [a["client_id"] for a in json.loads(ok(cli("app", "list")).stdout)] == [keep]
    with db(cli) as conn:
        assert conn.execute("SELECT count(*) FROM policy WHERE scope = ?", (cid,)).fetchone()[0] == 0
    msg = one_line_error(cli("app", "remove", cid))
    assert cid in msg


# ---- policy ---------------------------------------------------------------


def test_policy_show_defaults(cli):
    pol = policy_lines(cli)
    assert pol["mode"] == ("optional", "default")
    assert pol["code_ttl"] == ("300", "default")
    assert pol["factors"] == ("sms,email,totp", "default")
    assert pol["sms_countries"] == ("", "default")
    assert pol["remember_device_days"] == ("0", "default")
    assert pol["remember_device_scope"] == ("app", "default")
    assert pol["webauthn_user_verification"] == ("preferred", "default")
    assert pol["require_phishing_resistant"] == ("off", "default")
    assert pol["notify"] == ("on", "default")
    assert pol["notify_sms"] == ("off", "default")
    assert pol["notify_events"] == ("all", "default")
    assert len(pol) == 27


def test_policy_set_show_round_trip(cli):
    p = ok(cli("policy", "set", "code_ttl=120", "factors=totp, sms", "mode=mandatory"))
    assert "code_ttl = 120  (global)" in p.stdout
    pol = policy_lines(cli)
    assert pol["code_ttl"] == ("120", "global")
    assert pol["factors"] == ("sms,totp", "global")
    assert pol["mode"] == ("mandatory", "global")
    assert pol["max_attempts"] == ("5", "default")

    cid, _ = add_app(cli)
    ok(cli("policy", "set", "--app", cid, "mode=off", "max_attempts=3"))
    pol = policy_lines(cli, "--app", cid)
    assert pol["mode"] == ("off", "app")
    assert pol["max_attempts"] == ("3", "app")
    assert pol["code_ttl"] == ("120", "global")
    # inherit drops the app's row.
    ok(cli("policy", "set", "--app", cid, "mode=inherit"))
    assert policy_lines(cli, "--app", cid)["mode"] == ("mandatory", "global")
    assert json.loads(ok(cli("app", "list")).stdout)[0]["policy"] == "inherit"


def test_policy_set_refusal_writes_nothing(cli):
    p = cli("policy", "set", "max_attempts=3", "code_ttl=soon")
    assert p.returncode != 0
    msg = one_line_error(p)
    assert msg.count("code_ttl") >= 1 and "1 to 86400" in msg
    assert policy_lines(cli)["max_attempts"] == ("5", "default")
    with db(cli) as conn:
        assert conn.execute("SELECT count(*) FROM policy").fetchone()[0] == 0

    msg = one_line_error(cli("policy", "set", "colour=blue"))
    assert "colour" in msg
    msg = one_line_error(cli("policy", "set", "mode=inherit"))
    assert "mode" in msg
    msg = one_line_error(cli("policy", "set", "--app", "app_nope", "mode=off"))
    assert "app_nope" in msg
    assert cli("policy", "set").returncode == 2
    assert cli("policy", "set", "noequals").returncode != 0
    assert cli("policy", "show", "--name", "x").returncode == 2
    with db(cli) as conn:
        assert conn.execute("SELECT count(*) FROM policy").fetchone()[0] == 0


# ---- user -----------------------------------------------------------------


def make_user(cli, app, sub, failures=0, locked=False):
    """A user with an active email factor, a pending sms factor, 10 recovery
    codes (3 used) and an open challenge; returns the users.id."""
    with db(cli) as conn:
        cur = conn.execute(
            "INSERT INTO users (app_id, sub, failures, retry_at, last_wait, locked_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 1000)",
            (app, sub, failures, 4102444800000 if failures else 0, 60 if failures else 0,
             1700000000000 if locked else None))
        uid = cur.lastrowid
        tag = "%s_%d" % (app[-6:], uid)
        conn.execute("INSERT INTO factors (id, user_id, type, status, destination, created_at,"
                     " verified_at, last_used_at) VALUES (?, ?, 'email', 'active', "
                     "'alice@example.com', 2000, 2500, 3000)", ("f_e" + tag, uid))
        conn.execute("INSERT INTO factors (id, user_id, type, status, destination, created_at)"
                     " VALUES (?, ?, 'sms', 'pending', '+447700900123', 4000)", ("f_s" + tag, uid))
        conn.execute("UPDATE users SET preferred_factor = ?, last_used_factor = ? WHERE id = ?",
                     ("f_e" + tag, "f_e" + tag, uid))
        for i in range(10):
            conn.execute("INSERT INTO recovery_codes (user_id, salt, hash, used_at, created_at)"
                         " VALUES (?, ?, ?, ?, 1)", (uid, b"\x00", b"\x01", 5 if i < 3 else None))
        conn.execute("INSERT INTO challenges (id, user_id, factor_id, purpose, status, "
                     "max_attempts, resend_at, expires_at, created_at) VALUES "
                     "(?, ?, ?, 'login', 'open', 5, 0, 9999999999999, 1)",
                     ("c_" + tag, uid, "f_e" + tag))
    return uid


def audit_events(cli):
    with db(cli) as conn:
        return [(r["event"], r["app_id"], r["sub"])
                for r in conn.execute("SELECT event, app_id, sub FROM audit ORDER BY id")]


def test_user_show(cli):
    cid, _ = add_app(cli)
    make_user(cli, cid, "alice", failures=7, locked=True)
    out = json.loads(ok(cli("user", "show", "alice")).stdout)
    assert out["sub"] == "alice"
    [u] = out["apps"]
    assert u["client_id"] == cid
    assert u["failures"] == 7
    assert u["locked"] is True
    assert u["recovery_codes_left"] == 7
    types = {f["type"]: f for f in u["factors"]}
    assert set(types) == {"email", "sms"}
    assert types["email"]["status"] == "active"
    assert types["email"]["destination"] == "alice@example.com"
    assert types["email"]["last_used_at"] == 3000
    assert types["sms"]["status"] == "pending"
    assert types["sms"]["last_used_at"] is None
    # Same answer with --app; unknown users and apps are errors.
    assert json.loads(ok(cli("user", "show", "alice", "--app", cid)).stdout) == out
    assert "bob" in one_line_error(cli("user", "show", "bob"))
    assert "app_nope" in one_line_error(cli("user", "show", "alice", "--app", "app_nope"))
    assert cli("user", "show").returncode == 2


def test_user_unlock(cli):
    cid, _ = add_app(cli)
    uid = make_user(cli, cid, "alice", failures=100, locked=True)
    ok(cli("user", "unlock", "alice"))
    with db(cli) as conn:
        row = conn.execute("SELECT failures, retry_at, locked_at FROM users WHERE id = ?",
                           (uid,)).fetchone()
    assert dict(row) == {"failures": 0, "retry_at": 0, "locked_at": None}
    u = json.loads(ok(cli("user", "show", "alice")).stdout)["apps"][0]
    assert u["locked"] is False and u["failures"] == 0 and len(u["factors"]) == 2
    assert audit_events(cli) == [("admin_unlock", cid, "alice")]


def test_user_reset(cli):
    cid, _ = add_app(cli)
    uid = make_user(cli, cid, "alice")
    other = make_user(cli, cid, "bob")
    ok(cli("user", "reset", "alice"))
    with db(cli) as conn:
        for table in ("factors", "recovery_codes", "challenges"):
            n = conn.execute("SELECT count(*) FROM %s WHERE user_id = ?" % table,
                             (uid,)).fetchone()[0]
            assert n == 0, table
            n = conn.execute("SELECT count(*) FROM %s WHERE user_id = ?" % table,
                             (other,)).fetchone()[0]
            assert n > 0, table
        row = conn.execute("SELECT preferred_factor, last_used_factor FROM users WHERE id = ?",
                           (uid,)).fetchone()
        assert dict(row) == {"preferred_factor": None, "last_used_factor": None}
    u = json.loads(ok(cli("user", "show", "alice")).stdout)["apps"][0]
    assert u["factors"] == [] and u["recovery_codes_left"] == 0
    assert audit_events(cli) == [("admin_reset", cid, "alice")]


def test_user_under_several_apps(cli):
    a, _ = add_app(cli, name="A")
    b, _ = add_app(cli, name="B")
    make_user(cli, a, "alice", failures=5)
    make_user(cli, b, "alice", failures=9)
    out = json.loads(ok(cli("user", "show", "alice")).stdout)
    assert sorted(u["client_id"] for u in out["apps"]) == sorted([a, b])
    for cmd in ("reset", "unlock"):
        msg = one_line_error(cli("user", cmd, "alice"))
        assert "--app" in msg
    assert audit_events(cli) == []
    ok(cli("user", "unlock", "alice", "--app", b))
    failures = {u["client_id"]: u["failures"]
                for u in json.loads(ok(cli("user", "show", "alice")).stdout)["apps"]}
    assert failures == {a: 5, b: 0}
    ok(cli("user", "reset", "alice", "--app", a))
    shown = json.loads(ok(cli("user", "show", "alice", "--app", a)).stdout)["apps"]
    assert shown[0]["factors"] == []
    assert len(json.loads(ok(cli("user", "show", "alice", "--app", b)).stdout)["apps"][0]
               ["factors"]) == 2


# ---- help -----------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["app", "--help"], ["app", "add", "--help"], ["app", "list", "--help"],
    ["app", "rotate-secret", "--help"], ["app", "remove", "--help"],
    ["policy", "--help"], ["policy", "show", "--help"], ["policy", "set", "--help"],
    ["user", "--help"], ["user", "show", "--help"], ["user", "reset", "--help"],
    ["user", "unlock", "--help"],
])
def test_help(cli, args):
    p = ok(cli(*args))
    assert p.stdout.startswith("Usage: otpgate " + args[0])
    # Help touches nothing: no data directory (master.key, SQLite's file),
    # and on PostgreSQL no table in the data directory's database.
    assert not cli.data.exists()
    if PG_MODE:
        assert store_rows(str(cli.data), "SELECT count(*) AS n FROM information_schema.tables"
                          " WHERE table_schema = 'public'") == [{"n": 0}]


def test_main_help_lists_admin_commands(cli):
    out = ok(cli("--help")).stdout
    for cmd in ("app", "policy", "user"):
        assert "\n  %s " % cmd in out


def test_usage_errors(cli):
    assert cli("app").returncode == 2
    assert cli("app", "frobnicate").returncode == 2
    assert cli("policy", "frobnicate").returncode == 2
    assert cli("user", "frobnicate", "x").returncode == 2
    assert cli("app", "list", "extra").returncode == 2
