"""A fair share of the loop per connection (issue #10): 200 clients that
pipeline as fast as they can must not stall anyone else. Before, one loop
iteration handled everything a connection had sent (thousands of requests
per read), and /healthz on another connection waited ~25 s. Now each
connection handles a few requests per iteration and the rest waits its
turn; a connection whose answers pile up unread stops being read.

The load runs in child processes (tests/integration/pipeload.py), the probe
here: sequential GET /healthz on one keep-alive connection. The bound is
generous: on the busy 2-core machine, the ASan build shares its core with
the two load processes and other builds, and CPU contention alone gave a
p99 up to ~600 ms (with the server at a quarter of a core); the stall it
catches was 8 to 25 s. bench/run.sh reports the real figure (target p99 <
50 ms)."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

import pipeload

HERE = os.path.dirname(os.path.abspath(__file__))
P99_BOUND = 1.0  # seconds


def start_load(port, conns, seconds, paths, sources=1):
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, "pipeload.py"), "--sources", str(sources),
         str(port), str(conns), str(seconds)] + list(paths),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_load(p):
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode("utf-8", "replace")
    return json.loads(out.decode().strip().splitlines()[-1])


def probe_under_load(server, paths, conns=200, procs=2, seconds=6.0, sources=1):
    loads = [start_load(server.port, conns // procs, seconds + 3, paths, sources)
             for _ in range(procs)]
    try:
        time.sleep(1.5)  # every load connection open and pipelining
        lat = pipeload.latency(server.port, seconds)
    finally:
        results = [finish_load(p) for p in loads]
    return lat, results


# The two load tests measure one process's event loop (its share per
# connection, its accepts under load): behind the round-robin proxy each
# instance would carry a third of the load, and the latency measured would
# be the proxy's threads (in this Python process, beside the probe) as much
# as otpgate's loop.
@pytest.mark.single_instance
@pytest.mark.parametrize("paths", [
    ["/healthz"],
    ["/static/css/otpgate.css", "/healthz", "/static/js/otpgate.js"],
    ["/api/v1/users/alice/factors", "/healthz", "/nowhere"],
], ids=["healthz", "static", "api"])
def test_healthz_stays_quick_while_200_clients_pipeline(make_server, paths):
    server = make_server()
    lat, results = probe_under_load(server, paths)
    answers = sum(r["answers"] for r in results)
    p99 = pipeload.quantile(lat, 0.99)
    detail = "probe: %d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms; load: %r" % (
        len(lat), pipeload.quantile(lat, 0.5) * 1e3, p99 * 1e3, max(lat) * 1e3, results)
    # The load was real: the pipelining clients were answered meanwhile,
    # and none was cut off.
    assert answers > 20000, detail
    assert all(r["closed"] == 0 for r in results), detail
    assert len(lat) >= 20, detail
    assert p99 < P99_BOUND, detail
    assert server.get("/healthz").status == 200


@pytest.mark.single_instance  # one process's loop, as above
def test_new_connections_are_accepted_under_load(make_server):
    server = make_server(env={"OTPGATE_MAX_CONNECTIONS_PER_IP": "1000"})
    loads = [start_load(server.port, 100, 8, ["/healthz"]) for _ in range(2)]
    try:
        time.sleep(1.5)
        worst = 0.0
        for _ in range(20):
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data
            worst = max(worst, time.monotonic() - t0)
    finally:
        for p in loads:
            finish_load(p)
    assert worst < 2 * P99_BOUND, "a new connection waited %.0f ms" % (worst * 1e3)


def test_one_connection_pipelining_thousands_is_answered_in_order(server):
    """The share is per iteration: a long pipeline goes on over many turns,
    every request answered once and in order."""
    n = 3000
    paths = ["/healthz", "/static/robots.txt", "/nowhere"]
    c = server.connect(timeout=30)
    c.send(b"".join(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % paths[i % 3]).encode()
                    for i in range(n)))
    want = {0: (200, b"ok\n"), 2: (404, None)}
    robots = server.get("/static/robots.txt").body
    for i in range(n):
        r = c.read_response(timeout=30)
        status, body = want.get(i % 3, (200, robots))
        assert r.status == status, (i, r)
        if body is not None:
            assert r.body == body, (i, r.body)
    assert c.request(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").status == 200


def test_client_that_never_reads_is_not_read_either(server):
    """Answers pile up unread: the server stops reading that connection (its
    requests are not handled ahead of its answers) and others are served."""
    sk = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sk.setblocking(False)
    req = b"GET /static/css/otpgate.css HTTP/1.1\r\nHost: t\r\n\r\n"
    sent = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        try:
            sent += sk.send(req * 1000)
        except BlockingIOError:
            time.sleep(0.05)
    # The server stopped taking its requests: far fewer went out than the
    # 3 s of sending would allow, and otpgate answers others.
    assert sent < 64 << 20, sent
    t0 = time.monotonic()
    assert server.get("/healthz").status == 200
    assert time.monotonic() - t0 < 1.0
    m = server.metrics()
    css = sum(float(l.rsplit(" ", 1)[1]) for l in m.splitlines()
              if l.startswith('otpgate_http_requests_total{route="/static/*"'))
    # Answers handled: bounded by what the unread output may hold (about
    # 1 MiB queued, plus the kernel's buffers), not by what was sent.
    assert css < (sent // len(req)), (css, sent // len(req))
    sk.close()
