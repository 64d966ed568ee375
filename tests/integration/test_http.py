"""HTTP/1.1 framing against the real server: keep-alive, pipelining, HEAD,
chunked bodies, 100-continue, malformed input and the size limits of
SPEC §10 (8 KiB of headers, 64 KiB of body)."""

import email.utils
import time

import pytest

GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"


def assert_rejected(client, status):
    """Reads the answer to a refused request: the status, Connection: close,
    and the server closing the connection afterwards."""
    r = client.read_response()
    assert r.status == status, r.raw
    assert r.closes, "a %d must carry Connection: close: %r" % (status, r.headers)
    closed, extra = client.wait_closed(3.0)
    assert closed, "the server kept the connection open after a %d" % status
    assert extra == b"", "bytes after a %d: %r" % (status, extra)
    return r


class TestKeepAlive:
    def test_several_requests_on_one_connection(self, server):
        c = server.connect()
        for path, body in [("/healthz", b"ok\n"), ("/readyz", b"ready\n"), ("/healthz", b"ok\n")]:
            r = c.request("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path)
            assert r.status == 200
            assert r.body == body
            assert not r.closes
        r = c.request("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        assert r.status == 404
        assert not r.closes, "a 404 must not end a keep-alive connection"
        r = c.request(GET_HEALTHZ)
        assert r.status == 200

    def test_pipelined_requests_answered_in_order(self, server):
        c = server.connect()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /does-not-exist HTTP/1.1\r\nHost: t\r\n\r\n")
        got = [c.read_response() for _ in range(3)]
        assert [r.status for r in got] == [200, 200, 404]
        assert got[0].body == b"ok\n"
        assert got[1].body == b"ready\n"
        # and the connection is still usable
        assert c.request(GET_HEALTHZ).status == 200

    def test_pipelined_requests_split_across_sends(self, server):
        c = server.connect()
        data = GET_HEALTHZ * 2 + b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n"
        for i in range(0, len(data), 7):
            c.send(data[i:i + 7])
            time.sleep(0.002)
        got = [c.read_response() for _ in range(3)]
        assert [r.body for r in got] == [b"ok\n", b"ok\n", b"ready\n"]

    def test_many_pipelined_requests(self, server):
        c = server.connect()
        c.send(GET_HEALTHZ * 200)
        for i in range(200):
            r = c.read_response()
            assert r.status == 200, "answer %d: %r" % (i, r)
            assert r.body == b"ok\n"

    def test_connection_close_request_header(self, server):
        c = server.connect()
        r = c.request(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert r.status == 200
        assert r.closes
        closed, extra = c.wait_closed(3.0)
        assert closed and extra == b""

    def test_http10_without_keep_alive_closes(self, server):
        c = server.connect()
        r = c.request(b"GET /healthz HTTP/1.0\r\n\r\n")
        assert r.status == 200
        assert r.body == b"ok\n"
        closed, extra = c.wait_closed(3.0)
        assert closed, "HTTP/1.0 without keep-alive must close after the answer"
        assert extra == b""

    def test_http10_with_keep_alive_stays_open(self, server):
        c = server.connect()
        r = c.request(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert r.status == 200
        assert (r.header("Connection") or "").lower() == "keep-alive"
        r = c.request(b"GET /readyz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert r.status == 200
        assert r.body == b"ready\n"


class TestMethods:
    def test_head_has_no_body_but_keeps_content_length(self, server):
        c = server.connect()
        full = c.request(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert full.status == 200 and len(full.body) > 0
        head = c.request(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", head=True)
        assert head.status == 200
        assert head.header("Content-Length") == str(len(full.body))
        assert head.header("Content-Type") == full.header("Content-Type")
        # Had a body followed the HEAD answer, this read would see it.
        r = c.request(GET_HEALTHZ)
        assert r.status == 200 and r.body == b"ok\n", "HEAD answer carried a body"

    def test_head_static_file(self, server):
        c = server.connect()
        head = c.request(b"HEAD /static/robots.txt HTTP/1.1\r\nHost: t\r\n\r\n", head=True)
        assert head.status == 200
        assert int(head.header("Content-Length")) > 0
        assert c.request(GET_HEALTHZ).body == b"ok\n"

    def test_405_with_allow(self, server):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            r = server.request(method, "/", body=b"")
            assert r.status == 405, method
            assert r.header("Allow") == "GET, HEAD"
        r = server.request("DELETE", "/metrics")
        assert r.status == 405
        assert r.header("Allow") == "GET, HEAD"

    def test_405_under_api_is_json_or_404(self, server):
        # No /api/ route exists yet: whatever the status, the body is JSON.
        r = server.request("POST", "/api/nothing", body=b"{}",
                           headers={"Content-Type": "application/json"})
        assert r.status in (404, 405)
        assert r.header("Content-Type").startswith("application/json")
        doc = r.json()
        assert isinstance(doc.get("error"), str) and doc["error"]
        assert isinstance(doc.get("message"), str) and doc["message"]

    def test_chunked_post_gets_405_and_connection_stays_usable(self, server):
        c = server.connect()
        c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: text/plain\r\n\r\n"
               b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 405
        assert r.header("Allow") == "GET, HEAD"
        assert not r.closes
        r = c.request(GET_HEALTHZ)
        assert r.status == 200 and r.body == b"ok\n"

    def test_content_length_body_is_consumed(self, server):
        c = server.connect()
        body = b"x" * 5000
        r = c.request(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + body)
        assert r.status == 405
        r = c.request(GET_HEALTHZ)
        assert r.status == 200 and r.body == b"ok\n"

    def test_body_of_exactly_the_limit_is_accepted(self, server):
        c = server.connect()
        body = b"y" * 65536
        r = c.request(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 65536\r\n\r\n" + body)
        assert r.status == 405, "a 64 KiB body is within the limit"
        assert c.request(GET_HEALTHZ).status == 200

    def test_expect_100_continue(self, server):
        c = server.connect()
        c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
               b"Expect: 100-continue\r\n\r\n")
        interim = c.read_response(timeout=3.0)
        assert interim.raw.startswith(b"HTTP/1.1 100 Continue\r\n"), interim.raw
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 405
        assert c.request(GET_HEALTHZ).status == 200


class TestErrors:
    def test_404_plain_text(self, server):
        r = server.get("/no/such/page")
        assert r.status == 404
        assert r.header("Content-Type").startswith("text/plain")
        assert r.body.strip()

    def test_404_json_under_api(self, server):
        r = server.get("/api/v1/nothing-here")
        assert r.status == 404
        assert r.header("Content-Type").startswith("application/json")
        doc = r.json()
        assert doc["error"] == "not_found"
        assert isinstance(doc["message"], str) and doc["message"]

    def test_date_header(self, server):
        for path in ("/healthz", "/nope", "/static/robots.txt"):
            r = server.get(path)
            date = r.header("Date")
            assert date, "no Date header on %s" % path
            assert date.endswith(" GMT")
            when = email.utils.parsedate_to_datetime(date).timestamp()
            assert abs(when - time.time()) < 120, date

    @pytest.mark.parametrize("raw", [
        pytest.param(b"GARBAGE\r\n\r\n", id="garbage-line"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n", id="header-without-colon"),
        pytest.param(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello",
                     id="space-before-colon"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", id="bare-cr-in-value"),
        pytest.param(b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", id="space-in-target"),
        pytest.param(b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
                     id="te-not-ending-in-chunked"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", id="nul-in-header-value"),
        pytest.param(b"GET / HTTP/7.3\r\nHost: t\r\n\r\n", id="bad-version"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", id="bad-content-length"),
        pytest.param(b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"zz\r\nhello\r\n0\r\n\r\n", id="bad-chunk-size"),
        pytest.param(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                     b"Content-Length: 4\r\n\r\nabcd", id="two-content-lengths"),
        pytest.param(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n", id="cl-and-te"),
    ])
    def test_malformed_request_gets_400_and_close(self, server, raw):
        c = server.connect()
        c.send(raw)
        r = assert_rejected(c, 400)
        assert r.header("Content-Type").startswith("text/plain")
        assert r.body.strip(), "a 400 says what is wrong"
        # the server is unharmed
        assert server.get("/healthz").status == 200

    def test_malformed_under_api_is_json(self, server):
        c = server.connect()
        c.send(b"POST /api/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        r = assert_rejected(c, 400)
        assert r.header("Content-Type").startswith("application/json")
        assert r.json()["error"] == "bad_request"

    def test_bare_lf_line_ends_do_not_hang(self, server):
        # llhttp accepts bare LF line ends; what matters is an answer.
        c = server.connect()
        r = c.request(b"GET /healthz HTTP/1.1\nHost: t\n\n", timeout=3.0)
        assert r.status in (200, 400)

    def test_malformed_after_good_request_on_same_connection(self, server):
        c = server.connect()
        c.send(GET_HEALTHZ + b"BLAH BLAH BLAH\r\n\r\n")
        assert c.read_response().status == 200
        assert_rejected(c, 400)

    def test_header_block_over_limit_gets_431(self, server):
        c = server.connect()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        assert_rejected(c, 431)

    def test_many_small_headers_over_limit_get_431(self, server):
        c = server.connect()
        hdrs = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(150))
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n")
        assert_rejected(c, 431)

    def test_headers_just_under_limit_are_fine(self, server):
        c = server.connect()
        r = c.request(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 7000 + b"\r\n\r\n")
        assert r.status == 200

    def test_431_under_api_is_json(self, server):
        c = server.connect()
        c.send(b"GET /api/x HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        r = assert_rejected(c, 431)
        assert r.header("Content-Type").startswith("application/json")
        assert r.json()["error"] == "headers_too_large"

    def _huge_url(self, server, pieces):
        c = server.connect()
        for p in pieces:
            c.send(p)
            time.sleep(0.05)
        try:
            r = c.read_response()
        except ConnectionError:
            time.sleep(0.2)
            pytest.fail("no answer to a 10 KB URL; the server %s"
                        % ("is still running" if server.proc.poll() is None
                           else "died with exit code %s" % server.proc.poll()))
        assert r.status in (414, 431), r.raw
        assert r.closes
        closed, _ = c.wait_closed(3.0)
        assert closed
        assert server.get("/healthz").status == 200

    def test_huge_url_gets_414_or_431(self, server):
        # The whole over-long target arrives in one read.
        self._huge_url(server, [b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"])

    def test_huge_url_in_pieces_gets_414_or_431(self, server):
        self._huge_url(server, [b"GET /api/", b"a" * 10000, b" HTTP/1.1\r\nHost: t\r\n\r\n"])

    def test_huge_url_after_a_request_gets_414_or_431(self, server):
        c = server.connect()
        assert c.request(GET_HEALTHZ).status == 200
        c.send(b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status in (414, 431)
        assert r.closes

    def test_content_length_over_limit_gets_413(self, server):
        c = server.connect()
        # Only the head is sent: the refusal must not wait for the body.
        c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n")
        r = c.read_response(timeout=3.0)
        assert r.status == 413
        assert r.closes

    def test_huge_content_length_gets_413(self, server):
        c = server.connect()
        c.send(b"POST /api/upload HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n")
        r = c.read_response(timeout=3.0)
        assert r.status == 413
        assert r.json()["error"] == "body_too_large"

    def test_chunked_body_over_limit_gets_413(self, server):
        c = server.connect()
        c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"z" * 0x4000 + b"\r\n"  # 16 KiB chunks
        try:
            for _ in range(6):  # 96 KiB in all
                c.send(chunk)
            c.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading once it has refused
        r = c.read_response(timeout=3.0)
        assert r.status == 413
        assert r.closes

    def test_limits_are_settings(self, make_server):
        s = make_server(env={"OTPGATE_MAX_BODY_BYTES": "1024", "OTPGATE_MAX_HEADER_BYTES": "2048"})
        c = s.connect()
        r = c.request(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n" + b"b" * 1024)
        assert r.status == 405
        c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n")
        assert_rejected(c, 413)
        c = s.connect()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n")
        assert_rejected(c, 431)
