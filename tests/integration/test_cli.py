"""The command line (SPEC §2, §3): help texts, version, bad settings, the
--config file, the data directory and master key, migrations and backup."""

import os
import sqlite3
import stat

import pytest

from conftest import PG_MODE, pg_url_for, store_connect

SPEC_KEYS = [
    "OTPGATE_LISTEN", "OTPGATE_PUBLIC_URL", "OTPGATE_DATA_DIR", "OTPGATE_SMTP_URL",
    "OTPGATE_SMTP_FROM", "OTPGATE_SMS_PROVIDER", "OTPGATE_SMS_URL", "OTPGATE_SMS_AUTH",
    "OTPGATE_SMS_BODY", "OTPGATE_DEV", "OTPGATE_TRUSTED_PROXIES", "OTPGATE_LOG",
    "OTPGATE_METRICS_ALLOW", "OTPGATE_DATABASE_URL",
]


def one_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    assert len(lines) == 1, "expected exactly one line, got:\n%s" % text
    return lines[0]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def tables(db_path):
    con = sqlite3.connect(db_path)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = con.execute("PRAGMA user_version").fetchone()[0]
        return names, version
    finally:
        con.close()


class TestHelp:
    def test_main_help(self, run_cli):
        for args in (["--help"], ["-h"], ["help"]):
            p = run_cli(args)
            assert p.returncode == 0, args
            for word in ("serve", "backup", "version"):
                assert word in p.stdout, (args, word)

    def test_serve_help_lists_every_setting(self, run_cli):
        p = run_cli(["serve", "--help"])
        assert p.returncode == 0
        missing = [k for k in SPEC_KEYS if k not in p.stdout]
        assert not missing, "serve --help does not mention %s" % missing

    @pytest.mark.parametrize("cmd", ["version", "backup", "migrate"])
    def test_every_command_has_help(self, run_cli, cmd):
        p = run_cli([cmd, "--help"])
        assert p.returncode == 0
        assert "Usage" in p.stdout and cmd in p.stdout

    def test_version(self, run_cli):
        p = run_cli(["version"])
        assert p.returncode == 0
        for word in ("otpgate", "libuv", "SQLite", "OpenSSL"):
            assert word in p.stdout, word

    def test_unknown_command(self, run_cli):
        p = run_cli(["frobnicate"])
        assert p.returncode != 0
        line = one_line(p.stderr)
        assert "frobnicate" in line
        assert p.stdout == ""

    def test_unknown_option(self, run_cli):
        p = run_cli(["serve", "--frobnicate"])
        assert p.returncode != 0
        assert "--frobnicate" in one_line(p.stderr)

    def test_postgres_unreachable_stops_with_one_line(self, run_cli, tmp_path):
        """A database URL that reaches no server stops serve and every
        command with one line (never a fall-back to a SQLite file of the
        instance's own), without echoing the password; a value that is not
        a postgres:// URL is refused as a setting. migrate --to with no
        SQLite database to copy says so, again without the password."""
        url = "postgres://otpgate:s3cret@127.0.0.1:1/otpgate"
        env = {"OTPGATE_DATA_DIR": str(tmp_path / "data"), "OTPGATE_DATABASE_URL": url}
        for args in (["serve"], ["app", "list"]):
            p = run_cli(args, env=env)
            assert p.returncode == 1, (args, p.stderr)
            line = one_line(p.stderr.strip().splitlines()[-1])
            assert "cannot connect to" in line and "127.0.0.1" in line, line
            assert "s3cret" not in p.stderr + p.stdout
        assert not (tmp_path / "data" / "otpgate.db").exists()
        p = run_cli(["serve"], env={"OTPGATE_DATA_DIR": str(tmp_path / "data"),
                                    "OTPGATE_DATABASE_URL": "mysql://u:s3cret@db/otpgate"})
        assert p.returncode == 2
        line = one_line(p.stderr)
        assert "OTPGATE_DATABASE_URL" in line and "postgres://" in line, line
        assert "s3cret" not in p.stderr + p.stdout
        p = run_cli(["backup", str(tmp_path / "copy.db")], env=env)
        assert p.returncode == 2
        assert "pg_dump" in one_line(p.stderr)
        p = run_cli(["migrate", "--to", url], env={"OTPGATE_DATA_DIR": str(tmp_path / "none")})
        assert p.returncode == 1
        line = one_line(p.stderr)
        assert "no database at" in line and "OTPGATE_DATA_DIR" in line, line
        assert "s3cret" not in p.stderr + p.stdout
        assert not (tmp_path / "none").exists()

    def test_backup_without_file(self, run_cli):
        p = run_cli(["backup"])
        assert p.returncode != 0
        one_line(p.stderr)


class TestBadSettings:
    @pytest.mark.parametrize("env,key", [
        ({"OTPGATE_LOG": "loud"}, "OTPGATE_LOG"),
        ({"OTPGATE_LISTEN": "nonsense"}, "OTPGATE_LISTEN"),
        ({"OTPGATE_LISTEN": "127.0.0.1:99999"}, "OTPGATE_LISTEN"),
        ({"OTPGATE_DEV": "1", "OTPGATE_PUBLIC_URL": "https://otp.example.com"}, "OTPGATE_DEV"),
        ({"OTPGATE_DEV": "maybe"}, "OTPGATE_DEV"),
        ({"OTPGATE_PUBLIC_URL": "ftp://otp.example.com"}, "OTPGATE_PUBLIC_URL"),
        ({"OTPGATE_SMTP_URL": "http://mail.example.com"}, "OTPGATE_SMTP_URL"),
        ({"OTPGATE_TRUSTED_PROXIES": "10.0.0.0/99"}, "OTPGATE_TRUSTED_PROXIES"),
        ({"OTPGATE_MAX_CONNECTIONS": "lots"}, "OTPGATE_MAX_CONNECTIONS"),
        ({"OTPGATE_REQUEST_TIMEOUT": "0"}, "OTPGATE_REQUEST_TIMEOUT"),
    ], ids=lambda v: v if isinstance(v, str) else None)
    def test_bad_setting_exits_2_naming_the_key(self, run_cli, tmp_path, env, key):
        env = dict(env)
        env.setdefault("OTPGATE_LISTEN", "127.0.0.1:0")
        env["OTPGATE_DATA_DIR"] = str(tmp_path / "data")
        p = run_cli(["serve"], env=env, timeout=15)
        assert p.returncode == 2, "exit %s; stderr:\n%s" % (p.returncode, p.stderr)
        assert key in one_line(p.stderr)
        assert not (tmp_path / "data").exists(), "a refused start must not create the data dir"


class TestConfigFile:
    def test_config_file_is_read(self, run_cli, tmp_path):
        cfg = tmp_path / "otpgate.conf"
        cfg.write_text("# comment\nOTPGATE_LOG=loud\n")
        p = run_cli(["--config", str(cfg), "serve"],
                    env={"OTPGATE_LISTEN": "127.0.0.1:0", "OTPGATE_DATA_DIR": str(tmp_path / "d")})
        assert p.returncode == 2
        assert "OTPGATE_LOG" in one_line(p.stderr)

    def test_config_file_settings_apply(self, make_server, tmp_path):
        data = tmp_path / "from-file"
        cfg = tmp_path / "otpgate.conf"
        text = "OTPGATE_LISTEN=127.0.0.1:0\nOTPGATE_DATA_DIR=%s\n" % data
        if PG_MODE:  # the file names the database too
            text += "OTPGATE_DATABASE_URL=%s\n" % pg_url_for(str(data))
        cfg.write_text(text)
        s = make_server(args=["--config", str(cfg)],
                        env={"OTPGATE_LISTEN": None, "OTPGATE_DATA_DIR": None})
        assert s.get("/healthz").status == 200
        assert (data / "master.key").is_file()
        # SQLite's file, or on PostgreSQL none (the file's database was used).
        assert (data / "otpgate.db").is_file() != PG_MODE

    def test_environment_wins_over_file(self, make_server, tmp_path):
        file_dir = tmp_path / "from-file"
        env_dir = tmp_path / "from-env"
        cfg = tmp_path / "otpgate.conf"
        cfg.write_text("OTPGATE_LISTEN=127.0.0.1:0\nOTPGATE_DATA_DIR=%s\nOTPGATE_LOG=loud\n" % file_dir)
        s = make_server(args=["--config", str(cfg)],
                        env={"OTPGATE_DATA_DIR": str(env_dir), "OTPGATE_LOG": "info"})
        assert s.get("/healthz").status == 200
        assert (env_dir / "master.key").is_file()
        assert not file_dir.exists()

    def test_missing_config_file(self, run_cli, tmp_path):
        p = run_cli(["--config", str(tmp_path / "nope.conf"), "serve"],
                    env={"OTPGATE_LISTEN": "127.0.0.1:0", "OTPGATE_DATA_DIR": str(tmp_path / "d")})
        assert p.returncode != 0
        assert "nope.conf" in one_line(p.stderr)


class TestDataDir:
    def test_first_start_creates_data_dir_and_key(self, make_server, tmp_path):
        data = tmp_path / "deep" / "data"
        s = make_server(data_dir=str(data))
        assert data.is_dir()
        key = data / "master.key"
        assert key.is_file()
        assert mode(str(key)) == 0o600, oct(mode(str(key)))
        if PG_MODE:  # the data is in PostgreSQL: no SQLite file beside the key
            assert not (data / "otpgate.db").exists()
        else:
            assert mode(str(data / "otpgate.db")) & 0o077 == 0, oct(mode(str(data / "otpgate.db")))
        assert mode(str(data)) & 0o077 == 0, "data dir is %s" % oct(mode(str(data)))
        content = key.read_bytes()
        s.stop()
        # a restart keeps the same key
        s2 = make_server(data_dir=str(data))
        assert s2.get("/healthz").status == 200
        assert key.read_bytes() == content

    # ./var is relative to the process's working directory, and every
    # instance of a ServerGroup has its own: three data directories.
    @pytest.mark.single_instance
    def test_default_data_dir_is_var(self, make_server):
        s = make_server(env={"OTPGATE_DATA_DIR": None})
        assert s.get("/readyz").status == 200
        var = os.path.join(s.workdir, "var")
        assert os.path.isfile(os.path.join(var, "master.key"))
        assert os.path.isfile(os.path.join(var, "otpgate.db"))

    def test_loose_master_key_refused(self, make_server, tmp_path):
        data = tmp_path / "data"
        s = make_server(data_dir=str(data))
        s.stop()
        os.chmod(str(data / "master.key"), 0o644)
        s2 = make_server(data_dir=str(data), start=False)
        s2.expect_clean_exit = False
        s2.spawn()
        rc = s2.wait_exit(10)
        assert rc is not None, "started with a world-readable master.key"
        assert rc != 0
        assert "chmod" in s2.stderr, s2.stderr
        assert "listening" not in s2.stderr
        assert mode(str(data / "master.key")) == 0o644, "the key's mode must be left to the operator"


class TestMigrations:
    # A version 1 SQLite file, written and read with sqlite3 (PostgreSQL's
    # schema: test_pg_schema.py).
    @pytest.mark.sqlite_only
    def test_old_database_is_migrated(self, make_server, tmp_path):
        data = tmp_path / "data"
        data.mkdir(mode=0o700)
        db = str(data / "otpgate.db")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.execute("INSERT INTO meta VALUES ('test_marker', 'kept-across-migration')")
        con.execute("PRAGMA user_version = 1")
        con.commit()
        con.close()
        os.chmod(db, 0o600)

        s = make_server(data_dir=str(data))
        assert s.get("/readyz").status == 200
        s.stop()

        names, version = tables(db)
        assert version >= 2
        assert "policy" in names and "meta" in names
        con = sqlite3.connect(db)
        try:
            row = con.execute("SELECT value FROM meta WHERE key='test_marker'").fetchone()
            cols = [r[1] for r in con.execute("PRAGMA table_info(policy)")]
        finally:
            con.close()
        assert row == ("kept-across-migration",)
        assert {"scope", "key", "value"} <= set(cols), cols

    @pytest.mark.sqlite_only  # SQLite's user_version and sqlite_master
    def test_fresh_database_is_at_latest_version(self, make_server, tmp_path):
        data = tmp_path / "data"
        s = make_server(data_dir=str(data))
        s.stop()
        names, version = tables(str(data / "otpgate.db"))
        assert version >= 2
        assert {"meta", "policy"} <= names

    def test_database_from_the_future_is_refused(self, make_server, tmp_path):
        data = tmp_path / "data"
        s = make_server(data_dir=str(data))
        s.stop()
        if PG_MODE:
            store_connect(str(data)).execute(
                "UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        else:
            con = sqlite3.connect(str(data / "otpgate.db"))
            con.execute("PRAGMA user_version = 999")
            con.commit()
            con.close()
        s2 = make_server(data_dir=str(data), start=False)
        s2.expect_clean_exit = False
        s2.spawn()
        rc = s2.wait_exit(10)
        assert rc is not None and rc != 0, "started on a database newer than the binary"
        assert "listening" not in s2.stderr
        assert "newer than this otpgate knows" in s2.stderr, s2.stderr


# `otpgate backup` copies the SQLite database; with OTPGATE_DATABASE_URL it
# refuses and points to pg_dump.
@pytest.mark.sqlite_only
class TestBackup:
    def test_online_backup(self, make_server, run_cli, tmp_path):
        data = tmp_path / "data"
        s = make_server(data_dir=str(data))
        assert s.get("/readyz").status == 200
        out = tmp_path / "backup.db"
        env = {"OTPGATE_DATA_DIR": str(data)}
        p = run_cli(["backup", str(out)], env=env)
        assert p.returncode == 0, p.stderr
        assert out.is_file()
        assert s.proc.poll() is None, "backup stopped the server"
        assert s.get("/healthz").status == 200

        src_names, src_version = tables(str(data / "otpgate.db"))
        names, version = tables(str(out))
        assert names == src_names
        assert {"meta", "policy"} <= names
        assert version == src_version
        con = sqlite3.connect(str(out))
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
        assert mode(str(out)) & 0o077 == 0, "backup is %s" % oct(mode(str(out)))

        # an existing file is never overwritten
        before = out.read_bytes()
        p = run_cli(["backup", str(out)], env=env)
        assert p.returncode != 0
        one_line(p.stderr)
        assert out.read_bytes() == before

    def test_backup_of_missing_database_fails(self, run_cli, tmp_path):
        p = run_cli(["backup", str(tmp_path / "b.db")], env={"OTPGATE_DATA_DIR": str(tmp_path / "none")})
        assert p.returncode != 0
        one_line(p.stderr)
        assert not (tmp_path / "b.db").exists()
