"""Connection limits of SPEC §10 with short settings: slow clients cut with
408, idle keep-alive closed silently, the connection cap answered with 503,
and abrupt disconnects survived."""

import re
import socket
import struct
import threading
import time

import pytest

from conftest import INSTANCES

GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"


def open_connections(server):
    """otpgate_open_connections summed over the instances; each counts the
    connection its /metrics is read on, so INSTANCES when nothing else is
    open."""
    found = re.findall(r"^otpgate_open_connections (\d+)$", server.metrics(), re.M)
    assert len(found) == INSTANCES, "no otpgate_open_connections gauge"
    return sum(int(n) for n in found)


class TestSlowClients:
    ENV = {"OTPGATE_REQUEST_TIMEOUT": "1", "OTPGATE_IDLE_TIMEOUT": "5"}

    def test_half_request_gets_408_then_close(self, make_server):
        s = make_server(env=self.ENV)
        c = s.connect()
        t0 = time.monotonic()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        r = c.read_response(timeout=4.0)
        elapsed = time.monotonic() - t0
        assert r.status == 408
        assert r.closes
        assert 0.7 <= elapsed <= 3.0, "408 after %.2f s with a 1 s request timeout" % elapsed
        closed, extra = c.wait_closed(3.0)
        assert closed and extra == b""

    def test_408_under_api_is_json(self, make_server):
        s = make_server(env=self.ENV)
        c = s.connect()
        c.send(b"POST /api/x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        r = c.read_response(timeout=4.0)
        assert r.status == 408
        assert r.json()["error"] == "request_timeout"

    def test_trickling_client_is_cut_at_the_deadline(self, make_server):
        # Sending a byte now and then must not extend the request deadline.
        s = make_server(env=self.ENV)
        c = s.connect()
        t0 = time.monotonic()
        got = None
        for b in b"GET /healthz HTTP/1.1\r\nHost: trickle.example\r\nX-A: bcdefghijklmnop":
            try:
                c.send(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                got = time.monotonic() - t0
                break
            time.sleep(0.1)
            if time.monotonic() - t0 > 4.0:
                break
            c.sock.setblocking(False)
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                data = None
            finally:
                c.sock.setblocking(True)
            if data is not None:
                c.buf += data
                if not data:
                    c.eof = True
                got = time.monotonic() - t0
                break
        assert got is not None, "a client trickling bytes was never cut"
        assert got <= 3.0, "cut only after %.2f s" % got
        r = c.read_response(timeout=2.0)
        assert r.status == 408

    def test_silent_connection_is_closed(self, make_server):
        s = make_server(env=self.ENV)
        c = s.connect()
        t0 = time.monotonic()
        closed, extra = c.wait_closed(4.0)
        elapsed = time.monotonic() - t0
        assert closed, "a connection that sent nothing stayed open"
        assert elapsed <= 3.0, "closed only after %.2f s" % elapsed
        assert extra == b"" or extra.startswith(b"HTTP/1.1 408 "), extra

    def test_others_are_served_while_a_client_is_slow(self, make_server):
        s = make_server(env={"OTPGATE_REQUEST_TIMEOUT": "3"})
        slow = s.connect()
        slow.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        for _ in range(5):
            t0 = time.monotonic()
            r = s.get("/healthz")
            assert r.status == 200
            assert time.monotonic() - t0 < 1.0
        # and the slow one, finishing in time, is answered normally
        slow.send(b"\r\n")
        r = slow.read_response()
        assert r.status == 200 and not r.closes

    def test_complete_request_in_time_is_not_cut(self, make_server):
        s = make_server(env=self.ENV)
        c = s.connect()
        c.send(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.5)
        r = c.request(b"Host: t\r\n\r\n")
        assert r.status == 200


class TestIdle:
    ENV = {"OTPGATE_IDLE_TIMEOUT": "1", "OTPGATE_REQUEST_TIMEOUT": "5"}

    def test_idle_keep_alive_is_closed_silently(self, make_server):
        s = make_server(env=self.ENV)
        c = s.connect()
        assert c.request(GET_HEALTHZ).status == 200
        time.sleep(0.4)
        assert c.request(GET_HEALTHZ).status == 200, "closed before the idle timeout"
        t0 = time.monotonic()
        closed, extra = c.wait_closed(4.0)
        elapsed = time.monotonic() - t0
        assert closed, "idle keep-alive connection never closed"
        assert extra == b"", "an idle close must be silent, got %r" % extra
        assert 0.6 <= elapsed <= 3.0, "closed after %.2f s with a 1 s idle timeout" % elapsed

    def test_others_are_served_meanwhile(self, make_server):
        s = make_server(env=self.ENV)
        idle = [s.connect() for _ in range(5)]
        for c in idle:
            assert c.request(GET_HEALTHZ).status == 200
        for _ in range(3):
            assert s.get("/readyz").status == 200
        for c in idle:
            closed, _ = c.wait_closed(4.0)
            assert closed
        assert s.get("/healthz").status == 200

    def test_request_timeout_is_separate_from_idle(self, make_server):
        # After an answer, the idle clock applies, not the request clock.
        s = make_server(env={"OTPGATE_IDLE_TIMEOUT": "3", "OTPGATE_REQUEST_TIMEOUT": "0.5"})
        c = s.connect()
        assert c.request(GET_HEALTHZ).status == 200
        time.sleep(1.2)
        r = c.request(GET_HEALTHZ)
        assert r.status == 200, "a waiting keep-alive connection was cut by the request timeout"


# OTPGATE_MAX_CONNECTIONS caps one process's connections: behind the
# round-robin proxy each instance has its own cap, and which instance a new
# connection reaches (and so whether it is refused) is the proxy's turn.
@pytest.mark.single_instance
class TestConnectionCap:
    def _hold(self, s, n):
        held = []
        for _ in range(n):
            c = s.connect()
            r = c.request(GET_HEALTHZ)  # proves it was accepted and counted
            assert r.status == 200
            held.append(c)
        return held

    def test_connection_beyond_cap_gets_503_and_close(self, make_server):
        s = make_server(env={"OTPGATE_MAX_CONNECTIONS": "3"})
        held = self._hold(s, 3)
        extra = s.connect()
        t0 = time.monotonic()
        r = extra.read_response(timeout=3.0)  # without sending anything
        assert time.monotonic() - t0 < 1.0, "the 503 must come at once"
        assert r.status == 503
        assert r.closes
        closed, _ = extra.wait_closed(3.0)
        assert closed
        # the held ones still work
        for c in held:
            assert c.request(GET_HEALTHZ).status == 200

        # closing one makes room for a new one
        held.pop().close()
        deadline = time.monotonic() + 10.0
        while True:
            c = s.connect()
            try:
                r = c.request(GET_HEALTHZ, timeout=2.0)
            except ConnectionError:
                r = None
            c.close()
            if r is not None and r.status == 200:
                break
            assert time.monotonic() < deadline, "no room after a held connection closed: %r" % r
            time.sleep(0.05)

    def test_refused_connections_do_not_count(self, make_server):
        s = make_server(env={"OTPGATE_MAX_CONNECTIONS": "2"})
        held = self._hold(s, 2)
        for _ in range(10):
            c = s.connect()
            assert c.read_response(timeout=3.0).status == 503
            c.close()
        held[0].close()
        deadline = time.monotonic() + 10.0
        while True:
            c = s.connect()
            try:
                r = c.request(GET_HEALTHZ, timeout=2.0)
            except ConnectionError:
                r = None
            if r is not None and r.status == 200:
                break
            c.close()
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def test_503_counted_in_metrics(self, make_server):
        s = make_server(env={"OTPGATE_MAX_CONNECTIONS": "1"})
        held = self._hold(s, 1)
        c = s.connect()
        assert c.read_response(timeout=3.0).status == 503
        c.close()
        text = held[0].request(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n").text
        assert re.search(r'^otpgate_http_requests_total\{route="[^"]*",status="503"\} 1$', text, re.M), text


class TestAbruptClients:
    def test_many_connections_dropped_abruptly(self, make_server):
        s = make_server(env={"OTPGATE_REQUEST_TIMEOUT": "5"})
        socks = []
        for i in range(60):
            sk = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            kind = i % 5
            if kind == 1:
                sk.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # half a request
            elif kind == 2:
                sk.sendall(GET_HEALTHZ * 50)  # answers never read
            elif kind == 3:
                sk.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 60000\r\n\r\n" + b"x" * 1000)
            elif kind == 4:
                sk.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n" * 20)
            socks.append(sk)
        time.sleep(0.2)
        for i, sk in enumerate(socks):
            if i % 2 == 0:
                # RST instead of FIN
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sk.close()
        assert s.proc.poll() is None, "the server died:\n" + s.stderr
        assert s.get("/healthz").status == 200
        # every dropped connection is forgotten
        deadline = time.monotonic() + 10.0
        while True:
            n = open_connections(s)
            if n == INSTANCES:
                break
            assert time.monotonic() < deadline, "%d connections still open after the drops" % n
            time.sleep(0.1)

    def test_client_that_never_reads_large_answers(self, make_server):
        # Pipelined requests for big answers while never reading: the server
        # must keep serving others and release the connection on close.
        s = make_server()
        sk = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sk.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 2000)
        time.sleep(0.3)
        t0 = time.monotonic()
        assert s.get("/healthz").status == 200
        assert time.monotonic() - t0 < 1.0
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sk.close()
        assert s.get("/healthz").status == 200

    def test_concurrent_clients(self, make_server):
        s = make_server()
        errors = []

        def worker():
            try:
                c = s.connect()
                for _ in range(20):
                    r = c.request(GET_HEALTHZ)
                    if r.status != 200:
                        errors.append(r.status)
                c.close()
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert not errors, errors
