"""Shared fixtures for otpgate's integration tests.

Every test that needs a server asks for `make_server` (or `server` for one
with the defaults) and gets its own binary process, its own temporary data
directory and its own port (OTPGATE_LISTEN=127.0.0.1:0; the port is read
from the "listening" log line, so there are no port races).

Environment (set by tests/CMakeLists.txt, or by hand):
  OTPGATE_BIN         the otpgate binary (required)
  OTPGATE_SOURCE_DIR  the repository root (for static/); default: ../..
  OTPGATE_SANITIZE    1 when the binary is the ASan+UBSan build
  OTPGATE_TEST_PG     1 to run every server and command on PostgreSQL: one
                      throwaway cluster for the session (pgcluster.py), one
                      new database per data directory (issue 14); tests
                      marked sqlite_only are skipped
  OTPGATE_TEST_INSTANCES  with OTPGATE_TEST_PG, how many otpgate processes
                      every server is (default 1): N instances on one data
                      directory (one master.key, one database) behind a
                      round-robin TCP proxy (rrproxy.py) whose port the
                      test sees (ServerGroup); tests marked single_instance
                      are skipped when N > 1
  OTPGATE_TEST_PG_LOG with OTPGATE_TEST_PG, a path to copy the cluster's
                      server log to when it stops (pgcluster.py), for
                      counting serialization failures and the like
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import atexit
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("OTPGATE_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
SANITIZE = os.environ.get("OTPGATE_SANITIZE", "0").strip().lower() in ("1", "on", "true", "yes")
START_TIMEOUT = 10.0
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")


def otpgate_bin():
    path = os.environ.get("OTPGATE_BIN")
    if not path:
        pytest.fail("OTPGATE_BIN is not set: point it at the otpgate binary")
    if not os.access(path, os.X_OK):
        pytest.fail("OTPGATE_BIN=%s is not an executable file" % path)
    return path


PG_MODE = os.environ.get("OTPGATE_TEST_PG", "0").strip().lower() in ("1", "on", "true", "yes")
_pg = {"cluster": None, "dbs": {}, "names": {}}
INSTANCES = int(os.environ.get("OTPGATE_TEST_INSTANCES", "1") or "1") if PG_MODE else 1


def pg_url_for(data_dir):
    """PG_MODE: the URL of the database that belongs to data_dir (made on
    first use, in the session's cluster, started on first use)."""
    if _pg["cluster"] is None:
        from pgcluster import Cluster
        c = Cluster()
        _pg["cluster"] = c
        atexit.register(c.stop)
        c.start()
    key = os.path.realpath(data_dir)
    if key not in _pg["dbs"]:
        name = "t%d" % (len(_pg["dbs"]) + 1)
        _pg["cluster"].psql("CREATE DATABASE %s" % name, db="postgres")
        _pg["dbs"][key] = _pg["cluster"].url(name)
        _pg["names"][key] = name
    return _pg["dbs"][key]


def _pg_name(data_dir):
    pg_url_for(data_dir)
    return _pg["names"][os.path.realpath(data_dir)]


def _sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return "'\\x%s'::bytea" % bytes(v).hex()
    return "'" + str(v).replace("'", "''") + "'"


def store_rows(data_dir, sql, params=()):
    """Rows (dicts) of a read-only query against the database of data_dir,
    SQLite's file or, in PG_MODE, its PostgreSQL database; ? placeholders.
    Blob columns come back as bytes from SQLite and as text from PostgreSQL."""
    if not PG_MODE:
        import sqlite3
        con = sqlite3.connect("file:%s/otpgate.db?mode=ro" % data_dir, uri=True, timeout=10)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, tuple(params))]
        finally:
            con.close()
    parts = sql.split("?")
    assert len(parts) == len(params) + 1, sql
    text = parts[0] + "".join(_sql_literal(v) + p for v, p in zip(params, parts[1:]))
    db = _pg_name(data_dir)
    out = _pg["cluster"].psql("SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % text,
                              db=db).stdout
    return json.loads(out)


def store_blob(value):
    """A blob column's value as bytes: SQLite's bytes as they are,
    PostgreSQL's bytea text (\\x and hex digits) decoded."""
    if isinstance(value, str) and value.startswith("\\x"):
        return bytes.fromhex(value[2:])
    return value


class _PgRow(dict):
    """A row that, like sqlite3.Row, is read by column name or position."""

    def __init__(self, cols, values):
        super().__init__(zip(cols, values))
        self._values = list(values)

    def __getitem__(self, k):
        return self._values[k] if isinstance(k, int) else dict.__getitem__(self, k)


class _PgCursor:
    def __init__(self, rows):
        self._rows = rows
        self.lastrowid = None

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchall(self):
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self):
        return iter(self.fetchall())


class PgConnection:
    """PG_MODE's stand-in for the sqlite3 connections tests open on the
    data directory's database: execute() with ? placeholders through psql,
    each statement committed on its own (commit() does nothing)."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.row_factory = None

    def execute(self, sql, params=()):
        parts = sql.split("?")
        assert len(parts) == len(params) + 1, sql
        text = parts[0] + "".join(_sql_literal(v) + p for v, p in zip(params, parts[1:]))
        db = _pg_name(self.data_dir)
        head = text.lstrip().split(None, 1)[0].upper()
        if head == "SELECT":
            q = "SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % text
            rows = json.loads(_pg["cluster"].psql(q, db=db).stdout)
            # json_agg keeps the columns' order, and json.loads keeps it too.
            cols = list(rows[0].keys()) if rows else []
            return _PgCursor([_PgRow(cols, [r[c] for c in cols]) for r in rows])
        cur = _PgCursor([])
        if head == "INSERT":
            # sqlite3's lastrowid: the new id, where the table has one.
            p = _pg["cluster"].psql(text.rstrip().rstrip(";") + " RETURNING id", db=db,
                                    check=False)
            if p.returncode == 0:
                ids = p.stdout.split()
                cur.lastrowid = (int(ids[-1]) if ids[-1].isdigit() else ids[-1]) if ids else None
                return cur
        _pg["cluster"].psql(text, db=db)
        return cur

    def commit(self):
        pass

    def close(self):
        pass


def store_connect(data_dir):
    """A connection to data_dir's database: sqlite3 on the file, or in
    PG_MODE a PgConnection."""
    if PG_MODE:
        return PgConnection(str(data_dir))
    import sqlite3
    con = sqlite3.connect(os.path.join(str(data_dir), "otpgate.db"), timeout=10)
    con.row_factory = sqlite3.Row
    return con


def pytest_collection_modifyitems(config, items):
    if not PG_MODE:
        return
    skip = pytest.mark.skip(reason="reads or writes the SQLite file itself")
    one = pytest.mark.skip(reason="needs one process (%d instances here)" % INSTANCES)
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)
        elif INSTANCES > 1 and "single_instance" in item.keywords:
            item.add_marker(one)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: needs the SQLite file (skipped on PostgreSQL)")
    config.addinivalue_line("markers", "single_instance: needs the one process it talks to "
                            "(skipped with OTPGATE_TEST_INSTANCES > 1)")


def base_env(extra=None):
    """The environment for a child: ours without any OTPGATE_* setting,
    plus the sanitizer options, plus `extra` (a value of None removes).
    In PG_MODE a child given a data directory also gets that directory's
    database (OTPGATE_DATABASE_URL), unless extra names one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGATE_")}
    extra = dict(extra or {})
    if PG_MODE and extra.get("OTPGATE_DATA_DIR") and "OTPGATE_DATABASE_URL" not in extra:
        extra["OTPGATE_DATABASE_URL"] = pg_url_for(extra["OTPGATE_DATA_DIR"])
    if SANITIZE:
        env["ASAN_OPTIONS"] = "abort_on_error=0:detect_leaks=1"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def sanitizer_report(text):
    """The first sanitizer finding in text, or None."""
    for mark in SANITIZER_MARKS:
        i = text.find(mark)
        if i >= 0:
            return text[max(0, i - 200):i + 3000]
    return None


# ---- HTTP over a raw socket ---------------------------------------------


class Response:
    """One HTTP answer: status, reason, version, headers (list of (name,
    value) in order), body (bytes). Header lookups ignore case."""

    def __init__(self, version, status, reason, headers, body, raw=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw = raw

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_header(self, name):
        return self.header(name) is not None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def closes(self):
        """True when the answer says the connection will close."""
        conn = (self.header("Connection") or "").lower()
        return "close" in [t.strip() for t in conn.split(",")]

    def __repr__(self):
        return "<Response %d %s %r>" % (self.status, self.reason, self.headers)


class Client:
    """A raw TCP connection to the server with a small HTTP/1.1 reader, for
    what http.client hides: pipelining, 100-continue, malformed input,
    partial requests and seeing when the server closes."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads more into buf; False on EOF or reset."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out waiting for the server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_response(self, head=False, timeout=None):
        """Reads one answer (a 1xx interim answer counts as one). head: the
        request was HEAD, so no body follows whatever Content-Length says."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ConnectionError("connection closed before an answer head; got %r" % self.buf)
        head_bytes, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        assert len(parts) >= 2 and parts[0].startswith("HTTP/"), "bad status line %r" % lines[0]
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            assert sep, "bad answer header line %r" % line
            headers.append((name, value.strip()))
        resp = Response(version, status, reason, headers, b"")
        if 100 <= status < 200 or head or status in (204, 304):
            resp.raw = head_bytes + b"\r\n\r\n"
            return resp
        cl = resp.header("Content-Length")
        if cl is not None:
            n = int(cl)
            while len(self.buf) < n:
                if not self._fill(deadline):
                    raise ConnectionError("connection closed inside a body: %d of %d bytes" % (len(self.buf), n))
            resp.body, self.buf = self.buf[:n], self.buf[n:]
        else:
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        resp.raw = head_bytes + b"\r\n\r\n" + resp.body
        return resp

    def request(self, data, head=False, timeout=None):
        self.send(data)
        return self.read_response(head=head, timeout=timeout)

    def wait_closed(self, timeout=3.0):
        """Waits for the server to close; returns (closed, extra bytes seen)."""
        deadline = time.monotonic() + timeout
        start = len(self.buf)
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            return False, self.buf[start:]
        except OSError:
            self.eof = True
        return True, self.buf[start:]

    def read_all(self, timeout=3.0):
        """Everything until the server closes (or timeout)."""
        self.wait_closed(timeout)
        data, self.buf = self.buf, b""
        return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- the server process -------------------------------------------------


def http_request(port, method, path, headers=None, body=None, timeout=5.0):
    """One request to 127.0.0.1:port on a fresh http.client connection;
    returns Response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response("HTTP/%d.%d" % divmod(r.version, 10), r.status, r.reason,
                        r.getheaders(), data)
    finally:
        conn.close()


class Server:
    """One otpgate process with its own data directory.

    .port, .url, .proc, .data_dir, .stderr (text seen so far), .logs (parsed
    JSON lines); .request() via http.client; .connect() / .raw() for bytes;
    .stop(sig) returns the exit code."""

    def __init__(self, workdir, env=None, args=None, data_dir=None):
        self.workdir = str(workdir)
        self.data_dir = data_dir or os.path.join(self.workdir, "data")
        self.extra_env = dict(env or {})
        self.args = list(args or [])
        self.proc = None
        self.port = None
        self.url = None
        self._lines = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._reader = None
        self._clients = []
        self.expect_clean_exit = True
        self._stop_sent = False

    # -- life cycle --

    def env(self):
        defaults = {
            "OTPGATE_LISTEN": "127.0.0.1:0",
            "OTPGATE_DATA_DIR": self.data_dir,
            "OTPGATE_STATIC_DIR": os.path.join(SOURCE_DIR, "static"),
            "OTPGATE_SHUTDOWN_TIMEOUT": "3",
        }
        defaults.update(self.extra_env)
        return base_env(defaults)

    def spawn(self):
        """Starts the process without waiting for it to listen."""
        self.proc = subprocess.Popen(
            [otpgate_bin()] + self.args,
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        return self

    def start(self, timeout=START_TIMEOUT):
        self.spawn()
        line = self.wait_log(lambda o: o.get("msg") == "listening", timeout)
        if line is None:
            rc = self.proc.poll()
            pytest.fail("otpgate did not log 'listening' within %.0f s (exit code %s); stderr:\n%s"
                        % (timeout, rc, self.stderr))
        self.port = int(line["port"])
        self.url = "http://127.0.0.1:%d" % self.port
        return self

    def _read_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace"))
                self._cond.notify_all()
        self.proc.stderr.close()
        with self._cond:
            self._lines.append(None)  # EOF marker
            self._cond.notify_all()

    @property
    def stderr(self):
        with self._lock:
            return "".join(l for l in self._lines if l is not None)

    @property
    def logs(self):
        out = []
        for line in self.stderr.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def wait_log(self, pred, timeout=5.0):
        """The first parsed JSON log line satisfying pred, or None once the
        timeout passes or stderr closes."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                while seen < len(self._lines):
                    line = self._lines[seen]
                    seen += 1
                    if line is None:
                        return None
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(obj, dict) and pred(obj):
                        return obj
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def wait_exit(self, timeout=10.0):
        """The exit code, or None if still running after timeout. Once the
        process has exited, its last log lines have been read too (.stderr
        and .logs are complete)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_reader()
        return rc

    def send_signal(self, sig):
        """Sends sig (once the server has been told to stop, teardown only
        waits: a second SIGTERM during the final exit would kill it)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            if sig in (signal.SIGTERM, signal.SIGINT):
                self._stop_sent = True

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig and returns the exit code (fails the test if the
        process has not exited within timeout)."""
        self.send_signal(sig)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail("otpgate did not exit within %.1f s of signal %s; stderr:\n%s"
                        % (timeout, sig, self.stderr))
        self._join_reader()
        return rc

    def _join_reader(self):
        if self._reader is not None:
            self._reader.join(5)

    def teardown(self):
        """Closes our sockets, stops the process (SIGTERM, then SIGKILL) and
        returns a list of problems found."""
        problems = []
        for c in self._clients:
            c.close()
        if self.proc is None:
            return problems
        rc = self.proc.poll()
        if rc is not None and not self._stop_sent and self.expect_clean_exit:
            problems.append("otpgate exited on its own during the test with code %s" % rc)
        if rc is None:
            if not self._stop_sent:
                self.proc.send_signal(signal.SIGTERM)
            rc = self.wait_exit(8.0)
            if rc is None:
                self.proc.kill()
                self.proc.wait(5)
                problems.append("otpgate ignored SIGTERM at teardown and was killed")
            elif rc != 0 and self.expect_clean_exit:
                problems.append("otpgate exited with code %s after SIGTERM at teardown" % rc)
        self._join_reader()
        report = sanitizer_report(self.stderr)
        if report:
            problems.append("sanitizer report in otpgate's stderr:\n" + report)
        return problems

    # -- talking to it --

    def request(self, method, path, headers=None, body=None, timeout=5.0):
        """One request on a fresh http.client connection; returns Response."""
        return http_request(self.port, method, path, headers, body, timeout)

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def connect(self, timeout=5.0):
        """A raw Client, closed at teardown."""
        c = Client(self.port, timeout=timeout)
        self._clients.append(c)
        return c

    def raw(self, data, timeout=3.0):
        """Sends bytes on a new connection and returns everything the server
        sends back until it closes (or timeout)."""
        c = self.connect(timeout=timeout)
        try:
            c.send(data)
            return c.read_all(timeout)
        finally:
            c.close()

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return r.text

    def dev_outbox(self):
        """The development outbox's messages (dicts), newest first."""
        r = self.get("/dev/outbox", headers={"Accept": "application/json"})
        assert r.status == 200, r
        return r.json()["messages"]


class _ProcGroup:
    """The subprocess.Popen calls tests make on .proc, for every member of a
    ServerGroup at once."""

    def __init__(self, members):
        self._members = members

    @property
    def pid(self):
        return self._members[0].proc.pid

    def poll(self):
        """None while any member runs; then the first member's code."""
        codes = [m.proc.poll() for m in self._members]
        return None if None in codes else codes[0]

    def send_signal(self, sig):
        for m in self._members:
            if m.proc.poll() is None:
                m.proc.send_signal(sig)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout=None):
        """Every member's exit; returns one code: the first member's, unless
        another's differs (then that one, so no failure hides)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        codes = []
        for m in self._members:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            codes.append(m.proc.wait(left))
        return next((c for c in codes if c != codes[0]), codes[0])


class ServerGroup(Server):
    """OTPGATE_TEST_INSTANCES=N (N > 1): what a test takes for one server is
    N otpgate processes on one data directory, so one master.key and one
    PostgreSQL database, behind a round-robin TCP proxy (rrproxy.py) in the
    load balancer's place. .port and .url are the proxy's, and each new
    connection goes to the next instance. The first instance starts alone
    (it makes master.key, the schema and the first signing key), then the
    others, as docker/compose.ha.yaml starts them. Requests, connect()
    and raw() go through the proxy (Server's own). Signals, stop and
    teardown go to every instance; .stderr and .logs hold every instance's
    lines (member by member); wait_log waits for a line from any of them;
    metrics() and dev_outbox() gather every instance's (the development
    outbox is each process's own memory; its messages are merged newest
    first)."""

    def __init__(self, workdir, n, env=None, args=None, data_dir=None):
        from rrproxy import RRProxy
        super().__init__(workdir, env=env, args=args, data_dir=data_dir)
        self.members = []
        for i in range(n):
            w = os.path.join(self.workdir, "instance%d" % i)
            os.makedirs(w, exist_ok=True)
            self.members.append(Server(w, env=env, args=args, data_dir=self.data_dir))
        self._proxy = RRProxy([])

    def env(self):
        return self.members[0].env()

    def spawn(self):
        """Starts the instances (the first until it listens or exits, the
        others without waiting) and the proxy in front."""
        first = self.members[0].spawn()
        line = first.wait_log(lambda o: o.get("msg") == "listening", START_TIMEOUT)
        if line is not None:
            first.port = int(line["port"])
            first.url = "http://127.0.0.1:%d" % first.port
        for m in self.members[1:]:
            m.spawn()
        self.proc = _ProcGroup(self.members)
        self._proxy.start()
        self.port = self._proxy.port
        self.url = "http://127.0.0.1:%d" % self.port
        return self

    def start(self, timeout=START_TIMEOUT):
        self.spawn()
        for m in self.members:
            if m.port is not None:
                continue
            line = m.wait_log(lambda o: o.get("msg") == "listening", timeout)
            if line is None:
                pytest.fail("otpgate instance did not log 'listening' within %.0f s "
                            "(exit code %s); stderr:\n%s" % (timeout, m.proc.poll(), m.stderr))
            m.port = int(line["port"])
            m.url = "http://127.0.0.1:%d" % m.port
        self._proxy.set_backends([m.port for m in self.members])
        return self

    @property
    def expect_clean_exit(self):
        return all(m.expect_clean_exit for m in getattr(self, "members", []))

    @expect_clean_exit.setter
    def expect_clean_exit(self, value):
        for m in getattr(self, "members", []):
            m.expect_clean_exit = value

    @property
    def stderr(self):
        return "".join(m.stderr for m in self.members)

    @property
    def logs(self):
        return [o for m in self.members for o in m.logs]

    def wait_log(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            for m in self.members:
                line = m.wait_log(pred, 0)
                if line is not None:
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def send_signal(self, sig):
        for m in self.members:
            m.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        self.send_signal(sig)
        deadline = time.monotonic() + timeout
        codes = []
        for m in self.members:
            rc = m.wait_exit(max(0.0, deadline - time.monotonic()))
            if rc is None:
                m.proc.kill()
                m.proc.wait(5)
                pytest.fail("otpgate instance did not exit within %.1f s of signal %s; "
                            "stderr:\n%s" % (timeout, sig, m.stderr))
            codes.append(rc)
        return next((c for c in codes if c != codes[0]), codes[0])

    def _join_reader(self):
        for m in self.members:
            m._join_reader()

    def teardown(self):
        problems = []
        for c in self._clients:
            c.close()
        for i, m in enumerate(self.members):
            problems.extend("instance %d: %s" % (i, p) for p in m.teardown())
        self._proxy.stop()
        # Round robin: once there were as many connections as instances,
        # each has had one (unless one was down), so the test did talk to
        # all of them.
        got = [self._proxy.connections.get(i, 0) for i in range(len(self.members))]
        if sum(got) >= len(got) and 0 in got and not self._proxy.refused:
            problems.append("the proxy gave no connection to an instance: %r" % got)
        return problems

    def metrics(self):
        """Every instance's /metrics, one after the other (a sum over the
        samples of one name adds up the instances)."""
        return "".join(m.metrics() for m in self.members)

    def dev_outbox(self):
        msgs = [msg for m in self.members for msg in m.dev_outbox()]
        return sorted(msgs, key=lambda msg: msg["at_ms"], reverse=True)


# ---- fixtures -----------------------------------------------------------


@pytest.fixture
def make_server(tmp_path):
    """make_server(env=None, args=None, start=True, data_dir=None) -> Server.
    Each call gets its own work directory under the test's tmp_path."""
    servers = []

    def factory(env=None, args=None, start=True, data_dir=None):
        workdir = tmp_path / ("srv%d" % len(servers))
        workdir.mkdir()
        if INSTANCES > 1:
            s = ServerGroup(workdir, INSTANCES, env=env, args=["serve"] + list(args or []),
                            data_dir=data_dir)
        else:
            s = Server(workdir, env=env, args=["serve"] + list(args or []), data_dir=data_dir)
        servers.append(s)
        if start:
            s.start()
        return s

    yield factory
    problems = []
    for s in servers:
        problems.extend(s.teardown())
    if problems:
        pytest.fail("\n\n".join(problems))


@pytest.fixture
def server(make_server):
    """A server with the default settings."""
    return make_server()


@pytest.fixture
def run_cli(tmp_path):
    """run_cli(args, env=None, timeout=30, cwd=None) -> CompletedProcess
    (text stdout/stderr); fails on a sanitizer report."""

    def run(args, env=None, timeout=30, cwd=None):
        p = subprocess.run([otpgate_bin()] + list(args), cwd=str(cwd or tmp_path),
                           env=base_env(env), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        p.stdout = p.stdout.decode("utf-8", "replace")
        p.stderr = p.stderr.decode("utf-8", "replace")
        report = sanitizer_report(p.stderr)
        if report:
            pytest.fail("sanitizer report from otpgate %s:\n%s" % (" ".join(args), report))
        return p

    return run
