"""Operations (SPEC §9): health and readiness, Prometheus metrics, graceful
shutdown on SIGTERM/SIGINT, SIGHUP, and the security headers of pages
(SPEC §8)."""

import re
import signal
import socket
import time

from conftest import INSTANCES

GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"

# A Prometheus text-format sample line: name, optional labels, value.
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? '
                    r'(-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')


def samples(text, name, labels=None):
    """The values of one sample, one per instance whose /metrics is in text
    (server.metrics() gathers every instance's)."""
    want = name
    if labels is not None:
        want += "{" + ",".join('%s="%s"' % kv for kv in labels) + "}"
    return [float(line[len(want) + 1:]) for line in text.splitlines()
            if line.startswith(want + " ")]


def sample(text, name, labels=None):
    """The value of one sample summed over the instances, or None."""
    found = samples(text, name, labels)
    return sum(found) if found else None


def refused(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1.0)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    # Connected: the listener is still open (or a 503 comes back).
    s.close()
    return False


class TestHealth:
    def test_healthz(self, server):
        r = server.get("/healthz")
        assert r.status == 200
        assert r.body == b"ok\n"
        assert r.header("Content-Type").startswith("text/plain")
        assert "no-store" in r.header("Cache-Control", "")

    def test_readyz(self, server):
        r = server.get("/readyz")
        assert r.status == 200
        assert r.body == b"ready\n"
        assert "no-store" in r.header("Cache-Control", "")

    def test_head_healthz(self, server):
        r = server.request("HEAD", "/healthz")
        assert r.status == 200
        assert r.header("Content-Length") == "3"


class TestMetrics:
    def test_counters_histogram_and_gauges(self, server):
        for _ in range(3):
            assert server.get("/healthz").status == 200
        assert server.get("/readyz").status == 200
        assert server.get("/nowhere").status == 404
        assert server.get("/static/robots.txt").status == 200
        assert server.get("/static/missing.txt").status == 404
        assert server.request("POST", "/", body=b"").status == 405

        r = server.get("/metrics")
        assert r.status == 200
        ctype = r.header("Content-Type")
        assert ctype.startswith("text/plain; version=0.0.4"), ctype
        # The counts: every instance's scrape (one with one process), as
        # the requests above went to whichever the proxy chose.
        text = server.metrics()

        # every line is a comment or a well-formed sample
        for line in (r.text + text).splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                continue
            assert SAMPLE.match(line), "not a Prometheus sample line: %r" % line

        req = "otpgate_http_requests_total"
        assert "# TYPE %s counter" % req in text
        assert sample(text, req, [("route", "/healthz"), ("status", "200")]) == 3
        assert sample(text, req, [("route", "/readyz"), ("status", "200")]) == 1
        assert sample(text, req, [("route", "/static/*"), ("status", "200")]) == 1
        assert sample(text, req, [("route", "/static/*"), ("status", "404")]) == 1
        statuses = re.findall(r'^%s\{route="([^"]*)",status="(\d+)"\} (\d+)$' % req, text, re.M)
        by_status = {}
        for _route, st, n in statuses:
            by_status[st] = by_status.get(st, 0) + int(n)
        assert by_status.get("404", 0) >= 2, statuses
        assert by_status.get("405", 0) >= 1, statuses

        hist = "otpgate_http_request_duration_seconds"
        assert "# TYPE %s histogram" % hist in text
        buckets = {}  # le -> count summed over the instances, in order
        for le, n in re.findall(r'^%s_bucket\{route="/healthz",le="([^"]+)"\} (\d+)$' % hist,
                                text, re.M):
            buckets[le] = buckets.get(le, 0) + int(n)
        buckets = list(buckets.items())
        assert len(buckets) >= 2, text
        assert buckets[-1][0] == "+Inf"
        counts = [int(n) for _, n in buckets]
        assert counts == sorted(counts), "buckets must be cumulative: %r" % buckets
        assert counts[-1] == 3
        bounds = [float(le) for le, _ in buckets[:-1]]
        assert bounds == sorted(bounds)
        assert sample(text, hist + "_count", [("route", "/healthz")]) == 3
        total = sample(text, hist + "_sum", [("route", "/healthz")])
        assert total is not None and 0 <= total < 3

        assert "# TYPE otpgate_open_connections gauge" in text
        assert sample(text, "otpgate_open_connections") >= 1
        uptimes = samples(text, "otpgate_uptime_seconds")
        assert len(uptimes) == INSTANCES and all(0 <= u < 60 for u in uptimes), uptimes
        assert len(re.findall(r'^otpgate_build_info\{version="[^"]+"\} 1$', text, re.M)) == INSTANCES

    def test_metrics_count_requests_after_the_scrape(self, server):
        first = server.metrics()
        assert server.get("/healthz").status == 200
        second = server.metrics()
        key = [("route", "/metrics"), ("status", "200")]
        before = sample(first, "otpgate_http_requests_total", key) or 0
        # Each instance counts the scrape of it that came before.
        assert sample(second, "otpgate_http_requests_total", key) == before + INSTANCES
        assert sample(second, "otpgate_http_requests_total", [("route", "/healthz"), ("status", "200")]) == 1

    def test_open_connections_gauge_follows_clients(self, server):
        base = sample(server.metrics(), "otpgate_open_connections")
        held = [server.connect() for _ in range(4)]
        for c in held:
            assert c.request(GET_HEALTHZ).status == 200
        assert sample(server.metrics(), "otpgate_open_connections") == base + 4
        for c in held:
            c.close()
        deadline = time.monotonic() + 10
        while sample(server.metrics(), "otpgate_open_connections") != base:
            assert time.monotonic() < deadline, "gauge did not come back down"
            time.sleep(0.05)


class TestShutdown:
    def test_sigterm_drains_request_in_flight(self, make_server):
        # The request in flight is finished below, after the checks in
        # between: give the drain time for them on a slow machine.
        s = make_server(env={"OTPGATE_SHUTDOWN_TIMEOUT": "8"})
        c = s.connect()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # half a request
        time.sleep(0.2)
        t0 = time.monotonic()
        s.send_signal(signal.SIGTERM)
        assert s.wait_log(lambda o: "shutting down" in o.get("msg", ""), 5), s.stderr

        # new connections are refused (the listener is closed; of every
        # instance, not the proxy's in front of them)
        deadline = time.monotonic() + 5
        while not all(refused(m.port) for m in getattr(s, "members", [s])):
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            time.sleep(0.05)
        assert s.proc.poll() is None, "exited before finishing the request in flight"

        c.send(b"\r\n")
        try:
            r = c.read_response()
        except ConnectionError:
            r = None
        assert r is not None, (
            "the request in flight at SIGTERM was never answered: the server "
            "closed the connection when its last bytes arrived")
        assert r.status == 200
        assert r.body == b"ok\n"
        assert r.closes, "the last answer must say Connection: close"
        closed, _ = c.wait_closed(3)
        assert closed

        rc = s.wait_exit(10)
        assert rc == 0, "exit code %s; stderr:\n%s" % (rc, s.stderr)
        assert time.monotonic() - t0 < 10

    def test_sigterm_closes_idle_connections_at_once(self, make_server):
        s = make_server(env={"OTPGATE_SHUTDOWN_TIMEOUT": "8"})
        idle = [s.connect() for _ in range(3)]
        for c in idle:
            assert c.request(GET_HEALTHZ).status == 200
        t0 = time.monotonic()
        rc = s.stop(signal.SIGTERM, timeout=10)
        assert rc == 0
        # Waiting for them would take the 8 s of the shutdown timeout; 5 s
        # leaves room for a slow exit (ASan's leak check on a loaded machine).
        assert time.monotonic() - t0 < 5, "idle keep-alive connections delayed the exit"
        for c in idle:
            closed, extra = c.wait_closed(2)
            assert closed and extra == b""

    def test_shutdown_timeout_bounds_a_stuck_client(self, make_server):
        s = make_server(env={"OTPGATE_SHUTDOWN_TIMEOUT": "1", "OTPGATE_REQUEST_TIMEOUT": "30"})
        c = s.connect()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # never finished
        time.sleep(0.2)
        t0 = time.monotonic()
        rc = s.stop(signal.SIGTERM, timeout=10)
        elapsed = time.monotonic() - t0
        assert rc == 0
        assert 0.7 <= elapsed < 4, "exit after %.2f s with a 1 s shutdown timeout" % elapsed
        closed, _ = c.wait_closed(2)
        assert closed

    def test_sigint_exits_0(self, make_server):
        s = make_server()
        assert s.get("/healthz").status == 200
        assert s.stop(signal.SIGINT, timeout=10) == 0
        assert "stopped" in [o.get("msg") for o in s.logs]

    def test_sigterm_idle_server_exits_0_quickly(self, make_server):
        # A shutdown timeout well above the bound: an exit that waited for
        # it would show, and a slow ASan exit on a loaded machine does not.
        s = make_server(env={"OTPGATE_SHUTDOWN_TIMEOUT": "8"})
        t0 = time.monotonic()
        assert s.stop(signal.SIGTERM, timeout=10) == 0
        assert time.monotonic() - t0 < 5

    def test_sighup_does_not_stop(self, make_server):
        s = make_server()
        s.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert s.proc.poll() is None, "SIGHUP killed the server"
        assert s.get("/healthz").status == 200


class TestPageHeaders:
    def test_home_page_security_headers(self, server):
        r = server.get("/")
        assert r.status == 200
        assert r.header("Content-Type").startswith("text/html")
        csp = r.header("Content-Security-Policy")
        assert csp, "no Content-Security-Policy"
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert re.search(r"(^|;)\s*default-src\s+'self'", csp), csp
        assert "frame-ancestors 'none'" in csp
        assert r.header("X-Frame-Options") == "DENY"
        assert r.header("Referrer-Policy") == "no-referrer"
        assert r.header("X-Content-Type-Options") == "nosniff"
        body = r.text
        assert "<html" in body.lower()
        # no inline scripts or styles (the CSP would block them), no CDNs
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body, re.I), "inline <script>"
        assert "<style" not in body.lower(), "inline <style>"
        assert not re.search(r"""(src|href)=["']https?://""", body, re.I), "external resource"
