"""The group commit under steady load (README "How it is built"): while one
batch's COMMIT runs on the committer thread, requests that need the
database wait and form the next batch, and /healthz is answered meanwhile.
Many connections verifying codes at once, each code sent twice: every code
is accepted exactly once, every acceptance survives a SIGKILL right after
the last answer, and the commits carried more than one answer each."""

import http.client
import json
import threading

from apiclient import API, gw, metric_value  # noqa: F401
from conftest import PG_MODE

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
