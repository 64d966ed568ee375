"""Development delivery (SPEC §3 OTPGATE_DEV) is never reachable from the
network: `auto` turns it on only when both the public URL and the listen
address are loopback, and `1` with a non-loopback listen address or URL
refuses to start with one line. The Docker image listens on 0.0.0.0:8080
with the default loopback URL: that must not serve /dev/outbox."""

import json
import re
import socket

import pytest

from apiclient import gw  # noqa: F401  (fixture)

CODE = re.compile(r"\b[0-9]{6}\b")


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback here")


def one_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    assert len(lines) == 1, "expected exactly one line, got:\n%s" % text
    return lines[0]


def test_auto_with_every_interface_is_off(gw):
    """The Docker image's settings: OTPGATE_LISTEN=0.0.0.0, the default
    public URL (loopback), OTPGATE_DEV unset."""
    app = gw.add_app()
    server = gw.start(env={"OTPGATE_LISTEN": "0.0.0.0:0"})
    r = server.get("/dev/outbox")
    assert r.status == 404, r
    r = server.get("/dev/outbox", headers={"Accept": "application/json"})
    assert r.status == 404, r
    # No channel is configured and the dev sink is off: no code is made,
    # none reaches the log.
    a = app.post("/users/alice/factors", {"type": "email", "email": "alice@example.com"})
    assert a.status == 503, a
    assert a.error == "channel_unavailable", a
    a = app.post("/users/bob/factors", {"type": "sms", "phone": "+44 20 7946 0958"})
    assert a.status == 503, a
    assert "dev delivery" not in server.stderr
    for line in server.logs:
        assert not CODE.search(json.dumps(line)), line
    # Start-up says why, so nobody wonders where the codes went.
    warn = [l for l in server.logs if l.get("msg", "").startswith("development delivery is off")]
    assert warn and warn[0].get("listen") == "0.0.0.0:0", server.stderr
    # The home page does not point at the outbox either.
    assert "/dev/outbox" not in server.get("/").text


@needs_ipv6
def test_auto_with_ipv6_any_is_off(make_server):
    # [::] is dual-stack: the test connects over IPv4 loopback.
    server = make_server(env={"OTPGATE_LISTEN": "[::]:0"})
    assert server.get("/dev/outbox").status == 404


def test_forced_on_with_every_interface_refuses_to_start(run_cli, tmp_path):
    data = tmp_path / "data"
    for listen in ("0.0.0.0:0", "[::]:0", "192.0.2.1:0"):
        p = run_cli(["serve"], env={"OTPGATE_DEV": "1", "OTPGATE_LISTEN": listen,
                                    "OTPGATE_DATA_DIR": str(data)}, timeout=15)
        assert p.returncode == 2, (listen, p.returncode, p.stderr)
        line = one_line(p.stderr)
        assert line.startswith("otpgate: OTPGATE_DEV: "), line
        assert "OTPGATE_LISTEN must be loopback, not '%s'" % listen in line, line
        assert "or set OTPGATE_DEV=0" in line, line
        assert not data.exists(), "a refused start must not create the data dir"


def test_forced_on_with_public_url_refuses_to_start(run_cli, tmp_path):
    p = run_cli(["serve"], env={"OTPGATE_DEV": "1", "OTPGATE_LISTEN": "127.0.0.1:0",
                                "OTPGATE_PUBLIC_URL": "https://mfa.example.com",
                                "OTPGATE_DATA_DIR": str(tmp_path / "data")}, timeout=15)
    assert p.returncode == 2, p.stderr
    line = one_line(p.stderr)
    assert "OTPGATE_DEV" in line and "OTPGATE_PUBLIC_URL must be loopback" in line, line


def test_loopback_on_both_ends_is_on(gw):
    app = gw.add_app()
    server = gw.start(env={"OTPGATE_LISTEN": "127.0.0.1:0", "OTPGATE_DEV": "auto"})
    assert server.get("/dev/outbox").status == 200
    a = app.post("/users/alice/factors", {"type": "email", "email": "alice@example.com"})
    assert a.status == 201, a
    assert gw.code_for("alice@example.com")


@needs_ipv6
def test_forced_on_with_loopback_is_on(make_server):
    server = make_server(env={"OTPGATE_LISTEN": "[::1]:0", "OTPGATE_DEV": "1",
                              "OTPGATE_PUBLIC_URL": "http://[::1]:8080"})
    line = server.wait_log(lambda o: o.get("msg") == "listening", 1)
    assert line.get("dev_delivery") == "on", line
