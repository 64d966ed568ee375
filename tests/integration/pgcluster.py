"""A throwaway PostgreSQL cluster for the tests (issue 14): Debian's
`postgresql` binaries, run as the `postgres` user when the tests run as
root (initdb refuses root), data and socket in one temporary directory,
listening only on that Unix socket."""

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

from conftest import base_env

SEP = "\x1f"  # psql field separator: no schema text contains it
PG_TIMEOUT = 60


def pg_bindir():
    """The directory of initdb, pg_ctl and psql of the newest installed
    PostgreSQL, or a test failure saying what to install."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(re.search(r"/(\d+)/bin/", p).group(1)))
    if found:
        return os.path.dirname(found[-1])
    try:
        d = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                           timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        d = ""
    if d and os.access(os.path.join(d, "initdb"), os.X_OK):
        return d
    pytest.fail("PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, "
                "no pg_config --bindir with initdb): install Debian's `postgresql` "
                "(make deps-test)")


def reachable_tmp():
    """The temporary directory, if the postgres user can reach it (every
    folder above it open to others), else /tmp: a TMPDIR inside root's
    home would stop initdb with "Permission denied"."""
    d = os.path.realpath(tempfile.gettempdir())
    path = d
    while True:
        if not os.stat(path).st_mode & 0o001:
            return "/tmp"
        parent = os.path.dirname(path)
        if parent == path:
            return d
        path = parent


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway cluster: data and socket in one temporary directory,
    owned by `postgres` when we run as root (initdb refuses root)."""

    def __init__(self):
        self.bindir = pg_bindir()
        self.as_user = []
        self.root = tempfile.mkdtemp(prefix="otpgate-pg-", dir=reachable_tmp())
        self.data = os.path.join(self.root, "data")
        self.sock = os.path.join(self.root, "sock")
        self.log = os.path.join(self.root, "server.log")
        self.port = free_port()
        self.started = False
        os.mkdir(self.sock)
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        os.chmod(self.root, 0o700)

    def run(self, args, check=True, **kw):
        p = subprocess.run(self.as_user + args, env=base_env({"LC_ALL": "C"}),
                           capture_output=True, text=True, timeout=PG_TIMEOUT, **kw)
        if check and p.returncode != 0:
            pytest.fail("%s exited %d:\n%s%s" % (" ".join(args), p.returncode, p.stdout,
                                                 p.stderr))
        return p

    def start(self):
        self.run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust",
                  "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
        opts = "-p %d -k %s -c listen_addresses='' -c fsync=off" % (self.port, self.sock)
        p = self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log,
                      "-o", opts, "-w", "-t", "30", "start"], check=False)
        self.started = True  # a half-started server is stopped in teardown too
        if p.returncode != 0:
            log = open(self.log).read() if os.path.exists(self.log) else ""
            pytest.fail("pg_ctl start failed:\n%s%s\n%s" % (p.stdout, p.stderr, log))

    def stop(self):
        try:
            if self.started:
                self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m",
                          "immediate", "-w", "stop"], check=False)
            keep = os.environ.get("OTPGATE_TEST_PG_LOG")
            if keep and os.path.exists(self.log):
                shutil.copyfile(self.log, keep)  # the server's log, kept for a look
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql=None, db="otpgate", file_text=None, check=True):
        """Runs sql (or file_text on stdin) with ON_ERROR_STOP; returns the
        CompletedProcess, whose stdout is unaligned rows split by SEP."""
        args = [os.path.join(self.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", self.sock, "-p", str(self.port), "-U", "postgres", "-d", db,
                "-At", "-F", SEP]
        args += ["-c", sql] if sql is not None else ["-f", "-"]
        return self.run(args, check=check, input=file_text)

    def rows(self, sql):
        out = self.psql(sql).stdout
        return [line.split(SEP) for line in out.splitlines() if line]

    def url(self, db="otpgate"):
        """The libpq URL of database db, through the Unix socket."""
        return "postgresql://postgres@/%s?host=%s&port=%d" % (db, self.sock, self.port)

