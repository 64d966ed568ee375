"""The group commit under steady load (README "How it is built"): while one
batch's COMMIT runs on the committer thread, requests that need the
database wait and form the next batch, and /healthz is answered meanwhile.
Many connections verifying codes at once, each code sent twice: every code
is accepted exactly once, every acceptance survives a SIGKILL right after
the last answer, and the commits carried more than one answer each.

And on a disk that is slow to confirm (an LD_PRELOAD shim that holds every
sync of the WAL): no answer tells of a change before the sync that makes
it durable is over, and the loop answers what needs no database meanwhile."""

import http.client
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from adminclient import Console, started
from apiclient import API, gw, metric_value  # noqa: F401
from conftest import PG_MODE, SANITIZE

USERS = 8
CONNECTIONS = 32


def test_many_connections_each_code_once_and_durable(gw):
    app = gw.add_app()
    gw.policy("lockout_wait=0", "lockout_hard=100000")
    gw.start()
    codes = {}
    for i in range(USERS):
        sub = "user%d" % i
        _, v = app.enrol_email(sub, "%s@example.com" % sub)
        codes[sub] = list(v["recovery_codes"])
    # Every code twice, spread so the two tries of one code go on different
    # connections at about the same time.
    jobs = [(sub, c) for sub in codes for c in codes[sub]] * 2
    per_conn = [jobs[i::CONNECTIONS] for i in range(CONNECTIONS)]
    port = gw.server.port
    headers = {"Authorization": app.auth(), "Content-Type": "application/json"}
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(CONNECTIONS + 2)  # the workers, the prober and this thread
    errors = []

    def worker(mine):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        got = []
        try:
            barrier.wait(10)
            for sub, code in mine:
                c.request("POST", API + "/users/%s/verify" % sub,
                          body=json.dumps({"code": code}).encode(), headers=headers)
                r = c.getresponse()
                raw = r.read()
                got.append((sub, code, r.status, json.loads(raw) if raw else None))
        except Exception as e:  # reported below
            errors.append(repr(e))
        finally:
            c.close()
        with lock:
            results.extend(got)

    health = []

    def prober():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait(10)
        for _ in range(50):
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            health.append(r.status)
        c.close()

    threads = [threading.Thread(target=worker, args=(m,)) for m in per_conn]
    probe = threading.Thread(target=prober)
    before = gw.metrics()
    for t in threads:
        t.start()
    probe.start()
    barrier.wait(10)
    for t in threads + [probe]:
        t.join(60)
    assert not errors, errors
    assert len(results) == len(jobs), (len(results), len(jobs))
    assert health == [200] * 50, health

    accepted = {}
    for sub, code, status, body in results:
        assert status in (200, 422), (status, body)
        if status == 200:
            assert body["type"] == "recovery_code", body
            accepted.setdefault((sub, code), 0)
            accepted[(sub, code)] += 1
    # Each of the USERS * 10 codes exactly once.
    assert len(accepted) == USERS * 10, len(accepted)
    assert set(accepted.values()) == {1}, accepted

    # The group commit is SQLite's: on PostgreSQL each request is its own
    # transaction on a database worker, and these counters stay at 0.
    if not PG_MODE:
        after = gw.metrics()
        commits = (metric_value(after, "otpgate_group_commits_total")
                   - metric_value(before, "otpgate_group_commits_total"))
        answers = (metric_value(after, "otpgate_group_commit_requests_total")
                   - metric_value(before, "otpgate_group_commit_requests_total"))
        assert answers >= len(jobs), (answers, len(jobs))
        assert 0 < commits < answers, (commits, answers)

    # Killed right after the last answer: nothing accepted comes back.
    gw.kill()
    gw.start()
    for i in range(USERS):
        sub = "user%d" % i
        assert app.factors(sub)["recovery_codes_left"] == 0, sub
        r = app.verify_user(sub, codes[sub][3])
        assert r.status == 422 and r.error == "invalid_code", r


def build_slowsync(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.fail("no C compiler for the slow-disk shim (preload/slowsync.c)")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "preload", "slowsync.c")
    so = str(tmp_path / "slowsync.so")
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", so, src, "-ldl"], check=True)
    return so


def slow_disk(tmp_path):
    """(env for the server, the flag file that makes syncs slow, a reader
    of the syncs logged so far as (start, end) in time.monotonic's
    seconds)."""
    flag, log = tmp_path / "slow", tmp_path / "syncs"
    env = {"LD_PRELOAD": build_slowsync(tmp_path), "SLOWSYNC_FLAG": str(flag),
           "SLOWSYNC_MS": "1000", "SLOWSYNC_LOG": str(log)}
    if SANITIZE:  # the shim comes before ASan's runtime in the library list
        env["ASAN_OPTIONS"] = "abort_on_error=0:detect_leaks=1:verify_asan_link_order=0"

    def syncs():
        return [tuple(int(x) / 1e9 for x in line.split()[:2])
                for line in log.read_text().splitlines()]
    return env, flag, syncs


def run_together(*fns):
    threads = [threading.Thread(target=f) for f in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


@pytest.mark.sqlite_only
def test_answers_wait_for_the_disk(gw, tmp_path):
    env, flag, synced = slow_disk(tmp_path)
    app = gw.add_app()
    gw.start(env=env)
    _, v = app.enrol_email("ann", "ann@example.com")
    codes = v["recovery_codes"]
    flag.touch()  # from now on every sync of the WAL takes a second
    got = {}

    def verify():
        t0 = time.monotonic()
        r = app.verify_user("ann", codes[0])
        got["verify"] = (t0, time.monotonic(), r.status)

    def read():  # after the consume's COMMIT, before its sync is over
        time.sleep(0.3)
        t0 = time.monotonic()
        left = app.factors("ann")["recovery_codes_left"]
        got["read"] = (t0, time.monotonic(), left)

    def health():
        time.sleep(0.3)
        t0 = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", gw.server.port, timeout=10)
        c.request("GET", "/healthz")
        status = c.getresponse().status
        c.close()
        got["health"] = (t0, time.monotonic(), status)

    run_together(verify, read, health)
    flag.unlink()
    syncs = synced()

    v0, v1, status = got["verify"]
    assert status == 200
    # The success came only after a sync of the WAL that began once the
    # request was sent: the consumed code was on disk before anyone heard.
    assert any(v0 <= s and e <= v1 for s, e in syncs), (v0, v1, syncs[-5:])
    assert v1 - v0 >= 0.9, v1 - v0
    # The read saw the code spent, and said so only once that was on disk.
    r0, r1, left = got["read"]
    assert left == len(codes) - 1, left
    assert any(v0 <= s and e <= r1 for s, e in syncs), (v0, r1, syncs[-5:])
    # Meanwhile the loop was not waiting for the disk.
    h0, h1, hs = got["health"]
    assert hs == 200 and h1 - h0 < 0.5, (hs, h1 - h0)


@pytest.mark.sqlite_only
def test_a_read_outside_the_batch_waits_for_the_disk_too(gw, tmp_path):
    """/brand.css reads the branding without a transaction of its own:
    its answer, too, waits for the commits before it to be durable."""
    env, flag, synced = slow_disk(tmp_path)
    server = started(gw, env=env)
    c = Console(server)
    c.login()
    flag.touch()
    got = {}

    def save():
        t0 = time.monotonic()
        r = c.post("/admin/brand", {"name": "Acme ID", "accent": "#0a7f5a", "support": ""})
        got["save"] = (t0, time.monotonic(), r.status)

    def css():
        time.sleep(0.3)
        r = server.get("/brand.css")
        got["css"] = (time.monotonic(), r.status, "#0a7f5a" in r.text)

    run_together(save, css)
    flag.unlink()
    syncs = synced()
    s0, s1, status = got["save"]
    assert status == 303
    assert any(s0 <= s and e <= s1 for s, e in syncs), (s0, s1, syncs[-5:])
    c1, css_status, new_accent = got["css"]
    assert css_status == 200 and new_accent
    assert any(s0 <= s and e <= c1 for s, e in syncs), (s0, c1, syncs[-5:])
