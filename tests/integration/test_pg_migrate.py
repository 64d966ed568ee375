"""`otpgate migrate --to postgres://…` (SPEC §2, issue 14): a SQLite
database that real use filled (apps, TOTP and e-mail factors, recovery
codes, audit, outbox, a passkey-free session or two) is copied into a real
PostgreSQL 15 cluster of this module's own. Every table's rows and every
byte of every column arrive; identity sequences move past the copied ids;
a destination that holds anything is refused and left as it was; the URL's
password is never printed. Also the master-key check that stops an
instance with another master.key from using a database."""

import os
import sqlite3

import pytest

from apiclient import Gateway
from pgcluster import Cluster


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    try:
        c.start()
        yield c
    finally:
        c.stop()


_dbs = [0]


@pytest.fixture
def pgdb(cluster):
    """A new, empty database in the module's cluster; its URL."""
    _dbs[0] += 1
    name = "mig%d" % _dbs[0]
    cluster.psql("CREATE DATABASE %s" % name, db="postgres")
    return name


@pytest.fixture
def gw(make_server, run_cli, tmp_path):
    return Gateway(make_server, run_cli, tmp_path)


def filled(gw):
    """A data directory that real use filled: two apps, a user with e-mail
    and TOTP (so sealed secrets), recovery codes, a sign-in."""
    app = gw.add_app("Copy me")
    gw.add_app("Second")
    gw.policy("mode=optional")
    gw.start()
    app.enrol_email("alice", "alice@example.com")
    app.enrol_totp("alice")
    r = app.post("/users/alice/recovery-codes")
    assert r.status in (200, 201), r
    app.challenge("alice")
    gw.server.stop()
    return app


def sqlite_rows(data_dir):
    """{table: (columns, sorted rows)} of the SQLite file, every value as
    hex digits (pg_text's form) or None."""
    con = sqlite3.connect(os.path.join(data_dir, "otpgate.db"))
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        out = {}
        for t in tables:
            cols = [r[1] for r in con.execute("PRAGMA table_info(%s)" % t)]
            rows = []
            for row in con.execute("SELECT * FROM %s" % t):
                rows.append(tuple(v.hex() if isinstance(v, bytes) else
                                  None if v is None else str(v).encode().hex() for v in row))
            out[t] = (cols, sorted(rows, key=repr))
        return out
    finally:
        con.close()


def pg_rows(db, table, cols):
    """The table's rows as the same tuples: bytea as hex, the rest as text,
    NULL as None (a marker no value holds stands in for it through psql)."""
    exprs = ", ".join("coalesce(%s, '\x02')" % pg_text(c) for c in cols)
    # meta's schema_version is PostgreSQL's own (SQLite keeps the version
    # in PRAGMA user_version), and so is config_version, the version row its
    # triggers raise as the apps are copied (schema 19).
    where = (" WHERE key NOT IN ('schema_version', 'config_version')" if table == "meta"
             else "")
    out = [tuple(None if v == "\x02" else v for v in r)
           for r in db.rows("SELECT %s FROM %s%s" % (exprs, table, where))]
    return sorted(out, key=repr)


def pg_text(col):
    """col as hex digits: bytea's bytes, or the UTF-8 of any other value's
    text (so a newline in a value cannot split psql's rows)."""
    return ("CASE WHEN pg_typeof(%s)::text = 'bytea' THEN encode(%s::text::bytea, 'hex') "
            "ELSE encode(convert_to(%s::text, 'UTF8'), 'hex') END" % (col, col, col))


def test_round_trip_copies_every_row_and_byte(gw, run_cli, cluster, pgdb):
    filled(gw)
    before = sqlite_rows(gw.data_dir)
    assert sum(len(r) for _, r in before.values()) > 20
    p = run_cli(["migrate", "--to", cluster.url(pgdb)], env={"OTPGATE_DATA_DIR": gw.data_dir})
    assert p.returncode == 0, p.stderr
    assert "every count matches" in p.stdout, p.stdout
    for table, (cols, rows) in before.items():
        assert "%s " % table in p.stdout, (table, p.stdout)
        got = pg_rows(_DB(cluster, pgdb), table, cols)
        assert got == rows, table
    # The SQLite file is only read.
    assert sqlite_rows(gw.data_dir) == before


class _DB:
    """cluster.rows against database db."""

    def __init__(self, cluster, db):
        self.cluster, self.db = cluster, db

    def rows(self, sql):
        from pgcluster import SEP
        out = self.cluster.psql(sql, db=self.db).stdout
        return [line.split(SEP) for line in out.splitlines() if line]


def test_tables_larger_than_a_batch_go_over_whole(gw, run_cli, cluster, pgdb):
    """migrate sends 200 rows to an INSERT: 450 audit rows and 450 sends
    (a blob each, some NULLs) cross two whole batches and a short one, and
    every row and byte arrives."""
    filled(gw)
    con = sqlite3.connect(os.path.join(gw.data_dir, "otpgate.db"))
    with con:
        for i in range(450):
            con.execute("INSERT INTO audit (at, event, app_id, sub) "
                        "SELECT at + ?, event, app_id, ? FROM audit ORDER BY id LIMIT 1",
                        (i, None if i % 7 == 0 else "user%d" % i))
            con.execute("INSERT INTO sends (at, channel, dest_hash, user_id, client_ip) "
                        "VALUES (?, 'email', ?, NULL, ?)",
                        (1000 + i, bytes([i % 256, i // 256]) * 16,
                         None if i % 3 else "203.0.113.%d" % (i % 250)))
    con.close()
    before = sqlite_rows(gw.data_dir)
    assert len(before["audit"][1]) > 450 and len(before["sends"][1]) >= 450
    p = run_cli(["migrate", "--to", cluster.url(pgdb)], env={"OTPGATE_DATA_DIR": gw.data_dir})
    assert p.returncode == 0, p.stderr
    assert "every count matches" in p.stdout, p.stdout
    for table, (cols, rows) in before.items():
        assert pg_rows(_DB(cluster, pgdb), table, cols) == rows, table


def test_an_older_logo_file_goes_over_too(gw, run_cli, cluster, pgdb):
    """A logo uploaded before logos moved into the database is a file in
    the data directory: migrate puts it into PostgreSQL, whose instances
    may run elsewhere, and leaves the SQLite file as it was."""
    import hashlib
    filled(gw)
    data = bytes.fromhex("89504e470d0a1a0a0000000d49484452")  # a PNG's first bytes
    v = hashlib.sha256(data).hexdigest()[:16]
    gw.cli("brand", "set", "logo=/brand/logo?v=" + v)
    with open(os.path.join(gw.data_dir, "brand-logo-" + v), "wb") as f:
        f.write(data)
    before = sqlite_rows(gw.data_dir)
    p = run_cli(["migrate", "--to", cluster.url(pgdb)], env={"OTPGATE_DATA_DIR": gw.data_dir})
    assert p.returncode == 0, p.stderr
    assert _DB(cluster, pgdb).rows("SELECT version, encode(data, 'hex') FROM brand_logos") == \
        [[v, data.hex()]]
    assert sqlite_rows(gw.data_dir) == before


def test_identity_sequences_move_past_copied_ids(gw, run_cli, cluster, pgdb):
    filled(gw)
    p = run_cli(["migrate", "--to", cluster.url(pgdb)], env={"OTPGATE_DATA_DIR": gw.data_dir})
    assert p.returncode == 0, p.stderr
    db = _DB(cluster, pgdb)
    top = int(db.rows("SELECT max(id) FROM audit")[0][0])
    app = db.rows("SELECT id FROM apps LIMIT 1")[0][0]
    new = db.rows("INSERT INTO audit (at, event, app_id) VALUES (1, 'test', '%s') "
                  "RETURNING id" % app)
    assert int(new[0][0]) > top
    uid = db.rows("INSERT INTO users (app_id, sub, created_at) VALUES ('%s', 'new', 1) "
                  "RETURNING id" % app)
    assert int(uid[0][0]) > int(db.rows("SELECT max(id) FROM users WHERE sub <> 'new'")[0][0])


def test_destination_with_data_is_refused_and_untouched(gw, run_cli, cluster, pgdb):
    filled(gw)
    env = {"OTPGATE_DATA_DIR": gw.data_dir}
    assert run_cli(["migrate", "--to", cluster.url(pgdb)], env=env).returncode == 0
    db = _DB(cluster, pgdb)
    counts = db.rows("SELECT (SELECT count(*) FROM audit), (SELECT count(*) FROM apps)")
    p = run_cli(["migrate", "--to", cluster.url(pgdb)], env=env)
    assert p.returncode == 1
    assert "not empty" in p.stderr and "nothing was copied" in p.stderr, p.stderr
    assert db.rows("SELECT (SELECT count(*) FROM audit), (SELECT count(*) FROM apps)") == counts


def test_password_never_printed(gw, run_cli, cluster):
    gw.add_app()
    url = "postgresql://nobody:Sup3rSecretPw@/otpgate?host=%s&port=%d" % (cluster.sock,
                                                                         cluster.port)
    p = run_cli(["migrate", "--to", url], env={"OTPGATE_DATA_DIR": gw.data_dir})
    assert p.returncode == 1
    assert "Sup3rSecretPw" not in p.stdout + p.stderr
    assert p.stderr.count("\n") == 1, p.stderr


def test_usage_errors(run_cli, tmp_path):
    env = {"OTPGATE_DATA_DIR": str(tmp_path / "d")}
    for args in (["migrate"], ["migrate", "--to", "/tmp/file.db"], ["migrate", "--bogus"]):
        p = run_cli(args, env=env)
        assert p.returncode == 2, (args, p.stderr)
        assert "migrate" in p.stderr
    assert not (tmp_path / "d").exists()


def test_other_master_key_is_refused(gw, run_cli, tmp_path):
    """A database made with one master.key refuses another: the server and
    the commands stop with one line before writing anything."""
    gw.add_app()
    key = os.path.join(gw.data_dir, "master.key")
    with open(key, "w") as f:
        f.write("ab" * 32 + "\n")
    os.chmod(key, 0o600)
    p = run_cli(["app", "list"], env={"OTPGATE_DATA_DIR": gw.data_dir})
    assert p.returncode != 0
    assert "master key does not match" in p.stderr, p.stderr
    s = gw._make_server(data_dir=gw.data_dir, start=False)
    s.expect_clean_exit = False
    s.spawn()
    assert s.wait_exit() != 0
    assert "master key does not match" in s.stderr
