"""Who the client is, and what it may do by address (SPEC §3): the
trusted-proxy walk over every X-Forwarded-For line (and Forwarded), from the
right, so that a client cannot pick its own address by sending a line of its
own in front of the proxy's; /metrics only for OTPGATE_METRICS_ALLOW; and
the cap on open connections per client address
(OTPGATE_MAX_CONNECTIONS_PER_IP)."""

import http.client
import socket
import time
import urllib.parse

import pytest

from apiclient import gw, metric_value  # noqa: F401  (fixture)
from conftest import Client
from pagewalk import start_link
from adminclient import CSRF_RE, PASSWORD, Console, Reply, audit_rows, started

GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
GET_METRICS = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"


def call(port, method, path, headers=(), body=None, timeout=10.0):
    """One request with headers as a list of (name, value), so that a name
    may come more than once, as proxies send it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return Reply(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def xff(*lines):
    return [("X-Forwarded-For", line) for line in lines]


class ProxiedConsole(Console):
    """The admin console reached through a proxy that appended its own
    X-Forwarded-For line after the one the client forged."""

    def __init__(self, server, lines):
        super().__init__(server)
        self.lines = list(lines)

    def request(self, method, path, form=None, timeout=10.0, files=None):
        headers = xff(*self.lines)
        if self.jar:
            headers.append(("Cookie", "; ".join("%s=%s" % kv for kv in self.jar.items())))
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode("utf-8")
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        reply = call(self.server.port, method, path, headers, body, timeout)
        for name, line in reply.cookies().items():
            value = line.split(";", 1)[0].split("=", 1)[1]
            if "Max-Age=0" in line or not value:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        m = CSRF_RE.search(reply.text)
        if m:
            self.csrf = m.group(1)
        return reply


class ClientFrom(Client):
    """A raw connection from a given loopback source address (127.0.0.2 …),
    so one test can be several clients. Tests that use it talk to one
    process (single_instance): the round-robin TCP proxy in front of
    several connects from 127.0.0.1, so otpgate would see the proxy's
    address instead."""

    def __init__(self, port, src, timeout=5.0):  # pylint: disable=super-init-not-called
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((src, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.eof = False


# ---- the client address -----------------------------------------------------


def test_forged_first_line_does_not_reset_the_send_limit(gw):
    """Issue #10: with a proxy that adds its own X-Forwarded-For line, a
    client that sends a new first line each time got a fresh per-IP budget.
    The pages count the address the walk finds (the API counts only the
    client_ip an app passes)."""
    app = gw.add_app()
    gw.policy("sends_per_ip_hour=2")
    server = gw.start(env={"OTPGATE_TRUSTED_PROXIES": "127.0.0.1/32"})

    def add(sub, *lines):
        """Binds an e-mail for sub on the pages, through the proxy."""
        jar = {}

        def req(method, path, form=None):
            headers = xff(*lines)
            if jar:
                headers.append(("Cookie", "; ".join("%s=%s" % kv for kv in jar.items())))
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form).encode()
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            reply = call(server.port, method, path, headers, body)
            for name, line in reply.cookies().items():
                jar[name] = line.split(";", 1)[0].split("=", 1)[1]
            return reply

        req("GET", start_link("http://127.0.0.1:8080", app.client_id, app.secret, sub,
                              "http://127.0.0.1:3000/cb"))
        page = req("GET", "/account/add/email")
        csrf = CSRF_RE.search(page.text).group(1)
        r = req("POST", "/account/add/email", {"csrf": csrf, "email": sub + "@example.com"})
        assert r.status == 303, r
        return r.header("Location")

    assert "notice.code_sent" in add("u1", "6.6.6.1", "203.0.113.7")
    assert "notice.code_sent" in add("u2", "6.6.6.2", "203.0.113.7")
    assert "err.rate_limited" in add("u3", "6.6.6.3", "203.0.113.7")
    # One line with the forged entry first: the same client.
    assert "err.rate_limited" in add("u4", "6.6.6.4, 203.0.113.7")
    # Another client behind the same proxy is not held up.
    assert "notice.code_sent" in add("u5", "6.6.6.5", "203.0.113.8")
    assert len(gw.outbox()) == 3


def test_forged_first_line_does_not_reset_admin_sign_in_waits(gw):
    """The console's wait per client IP (SPEC §4) counts the client, not the
    first line it sent; the audit rows name it too."""
    gw.cli("policy", "set", "lockout_wait=30")
    server = started(gw, env={"OTPGATE_TRUSTED_PROXIES": "127.0.0.1/32"})
    for i in range(5):
        c = ProxiedConsole(server, ["6.6.6.%d" % i, "203.0.113.50"])
        c.get("/admin/login")
        r = c.post("/admin/login", {"username": "guess%d" % i, "password": "wrong password"})
        assert r.status == 401, (i, r)
    # A sixth first line, a sixth username: still the same client, waiting.
    c = ProxiedConsole(server, ["6.6.6.99", "203.0.113.50"])
    c.get("/admin/login")
    r = c.post("/admin/login", {"username": "root", "password": PASSWORD})
    assert r.status == 429, r
    assert int(r.header("Retry-After")) >= 1
    # Another client behind the proxy signs in.
    c = ProxiedConsole(server, ["6.6.6.99", "203.0.113.51"])
    c.get("/admin/login")
    r = c.post("/admin/login", {"username": "root", "password": PASSWORD})
    assert r.status == 303, r
    ips = {row["client_ip"] for row in audit_rows(gw.data_dir, "admin_login_failed")}
    assert ips == {"203.0.113.50"}, ips
    assert [row["client_ip"] for row in audit_rows(gw.data_dir, "admin_login")] == ["203.0.113.51"]


def request_lines(server):
    return [o for o in server.logs if o.get("msg") == "request" and o.get("route") == "/healthz"]


def request_ip(server, headers):
    """The client address the server logged for one /healthz request (the
    new line of whichever instance served it)."""
    members = getattr(server, "members", [server])
    before = [len(request_lines(m)) for m in members]
    r = call(server.port, "GET", "/healthz", headers)
    assert r.status == 200
    deadline = time.monotonic() + 5.0
    while True:
        for m, n in zip(members, before):
            lines = request_lines(m)
            if len(lines) > n:
                return lines[n]["ip"]
        assert time.monotonic() < deadline, server.stderr
        time.sleep(0.02)


def test_client_address_walk(make_server):
    server = make_server(env={"OTPGATE_TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.0/8",
                              "OTPGATE_LOG": "debug"})
    cases = [
        ([], "127.0.0.1"),
        (xff("203.0.113.7"), "203.0.113.7"),
        (xff("6.6.6.6", "203.0.113.7"), "203.0.113.7"),
        (xff("6.6.6.6, 203.0.113.7, 10.1.2.3"), "203.0.113.7"),
        (xff("6.6.6.6, 203.0.113.7", "10.1.2.3"), "203.0.113.7"),
        (xff("[2001:db8::7]:4711"), "2001:db8::7"),
        (xff("203.0.113.9:5555"), "203.0.113.9"),
        # Garbage stops the walk: the last trusted hop's view.
        (xff("203.0.113.7, unknown, 10.1.2.3"), "10.1.2.3"),
        (xff("garbage"), "127.0.0.1"),
        # Forwarded (RFC 7239) when there is no X-Forwarded-For.
        ([("Forwarded", 'for=198.51.100.17;proto=https, for="[2001:db8:cafe::17]:4711"')],
         "2001:db8:cafe::17"),
        ([("Forwarded", "for=198.51.100.17"), ("Forwarded", "for=10.9.9.9")], "198.51.100.17"),
        ([("Forwarded", "for=_hidden")], "127.0.0.1"),
        # Both: X-Forwarded-For is the one read.
        ([("Forwarded", "for=198.51.100.17")] + xff("203.0.113.8"), "203.0.113.8"),
    ]
    for headers, want in cases:
        got = request_ip(server, headers)
        assert got == want, (headers, got, want)


def test_untrusted_peer_headers_are_not_read(make_server):
    server = make_server(env={"OTPGATE_TRUSTED_PROXIES": "10.0.0.0/8", "OTPGATE_LOG": "debug"})
    assert request_ip(server, xff("203.0.113.7")) == "127.0.0.1"
    assert request_ip(server, [("Forwarded", "for=203.0.113.7")]) == "127.0.0.1"


# ---- /metrics -----------------------------------------------------------------


def test_metrics_for_loopback_only_by_default(make_server):
    server = make_server()
    r = call(server.port, "GET", "/metrics")
    assert r.status == 200 and "otpgate_uptime_seconds" in r.text
    # A local reverse proxy otpgate does not trust forwards a request from
    # the internet: not a loopback scrape.
    for headers in (xff("203.0.113.7"), xff("127.0.0.1"), [("Forwarded", "for=127.0.0.1")]):
        r = call(server.port, "GET", "/metrics", headers)
        assert r.status == 403, (headers, r)
        assert "OTPGATE_METRICS_ALLOW" in r.text
        assert "otpgate_" not in r.text
    # The refusals are counted like any answer (on every instance: summed).
    m = server.metrics()
    assert metric_value(m, "otpgate_http_requests_total", {"route": "/metrics", "status": "403"}) == 3


@pytest.mark.single_instance  # the peer's own address (ClientFrom)
def test_metrics_for_any_loopback_peer_by_default(make_server):
    server = make_server()
    c = ClientFrom(server.port, "127.0.0.5")
    assert c.request(GET_METRICS).status == 200
    c.close()


@pytest.mark.single_instance  # the peer's own address (ClientFrom)
def test_metrics_allow_setting_names_peers(make_server):
    server = make_server(env={"OTPGATE_METRICS_ALLOW": "10.0.0.0/8, 127.0.0.7",
                              "OTPGATE_TRUSTED_PROXIES": "127.0.0.1"})
    c = ClientFrom(server.port, "127.0.0.7")
    assert c.request(GET_METRICS).status == 200
    c.close()


def test_metrics_allow_setting(make_server):
    server = make_server(env={"OTPGATE_METRICS_ALLOW": "10.0.0.0/8, 127.0.0.7",
                              "OTPGATE_TRUSTED_PROXIES": "127.0.0.1"})
    # Plain loopback is no longer in the list.
    assert call(server.port, "GET", "/metrics").status == 403
    # Behind the trusted proxy: the client it names decides.
    assert call(server.port, "GET", "/metrics", xff("10.20.30.40")).status == 200
    assert call(server.port, "GET", "/metrics", xff("10.20.30.40", "203.0.113.1")).status == 403
    assert call(server.port, "GET", "/metrics", xff("203.0.113.1")).status == 403


def test_metrics_allow_invalid_stops_start(run_cli, tmp_path):
    p = run_cli(["serve"], env={"OTPGATE_LISTEN": "127.0.0.1:0",
                                "OTPGATE_DATA_DIR": str(tmp_path / "d"),
                                "OTPGATE_METRICS_ALLOW": "10.0.0.0/8, prometheus"}, timeout=15)
    assert p.returncode == 2, p.stderr
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "OTPGATE_METRICS_ALLOW" in lines[0] and "prometheus" in lines[0], p.stderr


# ---- connections per address ------------------------------------------------------


def wait_room(server, src, timeout=10.0):
    """Connects from src until a request is served (closes are noticed by
    the server a moment after the client's)."""
    deadline = time.monotonic() + timeout
    while True:
        c = ClientFrom(server.port, src)
        try:
            r = c.request(GET_HEALTHZ, timeout=2.0)
        except (ConnectionError, OSError):
            r = None
        if r is not None and r.status == 200:
            return c
        c.close()
        assert time.monotonic() < deadline, "no room for %s: %r" % (src, r)
        time.sleep(0.05)


# OTPGATE_MAX_CONNECTIONS_PER_IP counts one process's connections by their
# peer address (ClientFrom): behind the TCP proxy every peer is the proxy.
@pytest.mark.single_instance
def test_connections_per_address_are_capped(make_server):
    server = make_server(env={"OTPGATE_MAX_CONNECTIONS_PER_IP": "3"})
    held = []
    for _ in range(3):
        c = ClientFrom(server.port, "127.0.0.2")
        assert c.request(GET_HEALTHZ).status == 200
        held.append(c)
    extra = ClientFrom(server.port, "127.0.0.2")
    t0 = time.monotonic()
    r = extra.read_response(timeout=3.0)  # without sending anything
    assert time.monotonic() - t0 < 1.0, "the 503 must come at once"
    assert r.status == 503 and r.closes, r
    assert r.header("Retry-After")
    extra.close()
    # Another address is served, and so are the held ones.
    other = ClientFrom(server.port, "127.0.0.3")
    assert other.request(GET_HEALTHZ).status == 200
    for c in held:
        assert c.request(GET_HEALTHZ).status == 200
    m = other.request(GET_METRICS).text
    assert metric_value(m, "otpgate_connections_refused_total", {"reason": "per_ip"}) == 1, m
    # A closed connection makes room again.
    held.pop().close()
    held.append(wait_room(server, "127.0.0.2"))
    for c in held + [other]:
        c.close()


@pytest.mark.single_instance  # as above: the peer's address, one process's count
def test_trusted_proxies_are_exempt(make_server):
    server = make_server(env={"OTPGATE_MAX_CONNECTIONS_PER_IP": "2",
                              "OTPGATE_TRUSTED_PROXIES": "127.0.0.4"})
    held = []
    for _ in range(6):
        c = ClientFrom(server.port, "127.0.0.4")
        assert c.request(GET_HEALTHZ).status == 200
        held.append(c)
    for c in held:
        c.close()
