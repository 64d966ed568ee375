"""Static files under /static/: types, validators, conditional requests,
precompressed variants, and refusal of every way out of the folder."""

import gzip
import os
import re

import pytest

SOURCE_DIR = os.environ.get("OTPGATE_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
REPO_STATIC = os.path.join(SOURCE_DIR, "static")
SECRET = b"TOP-SECRET-OUTSIDE-STATIC-7f3a9c"


def read(path):
    with open(path, "rb") as f:
        return f.read()


class TestRepoStatic:
    @pytest.mark.parametrize("rel,ctype", [
        ("css/otpgate.css", "text/css; charset=utf-8"),
        ("img/logo.svg", "image/svg+xml"),
        ("robots.txt", "text/plain; charset=utf-8"),
    ])
    def test_file_served_with_type_and_validators(self, server, rel, ctype):
        r = server.get("/static/" + rel)
        assert r.status == 200
        assert r.body == read(os.path.join(REPO_STATIC, rel))
        assert r.header("Content-Type") == ctype
        assert r.header("Content-Length") == str(len(r.body))
        etag = r.header("ETag")
        assert etag and re.fullmatch(r'"[^"\s]+"', etag), "strong quoted ETag expected: %r" % etag
        cc = r.header("Cache-Control")
        assert cc and re.search(r"max-age=\d+", cc), cc
        assert r.header("Last-Modified", "").endswith(" GMT")
        assert r.header("X-Content-Type-Options") == "nosniff"

    def test_pipelined_answers_whole_and_in_order_to_a_late_reader(self, server):
        """Static bodies are written from the cache without a copy: pipelined
        with other answers to a reader that starts late (so the socket takes
        them in parts and the rest is queued), every answer still arrives
        whole and in order."""
        import socket
        import time
        css = read(os.path.join(REPO_STATIC, "css/otpgate.css"))
        logo = read(os.path.join(REPO_STATIC, "img/logo.svg"))
        # 4.6 MB: more than the socket buffers take, so the server meets
        # EAGAIN and queues the rest behind what it wrote.
        paths = ["/static/css/otpgate.css", "/healthz", "/static/img/logo.svg"] * 300
        req = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths)
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(req)
        time.sleep(0.3)  # the server fills the socket before we read
        data = b""
        deadline = time.monotonic() + 20
        expected = {"/static/css/otpgate.css": css, "/healthz": None, "/static/img/logo.svg": logo}
        answers = []
        while len(answers) < len(paths) and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            while True:
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = data[:end].decode("latin-1")
                n = int(re.search(r"(?im)^content-length: *(\d+)", head).group(1))
                if len(data) < end + 4 + n:
                    break
                answers.append((head.split(" ")[1], data[end + 4:end + 4 + n]))
                data = data[end + 4 + n:]
        sock.close()
        assert len(answers) == len(paths), len(answers)
        for path, (status, body) in zip(paths, answers):
            assert status == "200", (path, status)
            if expected[path] is not None:
                assert body == expected[path], path

    def test_etag_stable_across_requests(self, server):
        a = server.get("/static/css/otpgate.css").header("ETag")
        b = server.get("/static/css/otpgate.css").header("ETag")
        c = server.get("/static/robots.txt").header("ETag")
        assert a == b
        assert a != c

    def test_304_on_matching_if_none_match(self, server):
        etag = server.get("/static/css/otpgate.css").header("ETag")
        for inm in (etag, '"nope", ' + etag, '"a","b" ,  %s , "c"' % etag, "W/" + etag, "*"):
            r = server.get("/static/css/otpgate.css", headers={"If-None-Match": inm})
            assert r.status == 304, "If-None-Match: %s" % inm
            assert r.body == b""
            assert r.header("ETag") == etag
            assert r.header("Cache-Control")

    def test_304_keeps_connection_usable(self, server):
        etag = server.get("/static/robots.txt").header("ETag")
        c = server.connect()
        r = c.request("GET /static/robots.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n" % etag)
        assert r.status == 304
        r = c.request(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert r.status == 200 and r.body == b"ok\n", "a 304 carried a body"

    def test_200_when_not_matching(self, server):
        etag = server.get("/static/css/otpgate.css").header("ETag")
        for inm in ('"something-else"', etag[:-2] + '"', 'W/"other"', '"a", "b"', etag[1:-1]):
            r = server.get("/static/css/otpgate.css", headers={"If-None-Match": inm})
            assert r.status == 200, "If-None-Match: %s" % inm
            assert r.body == read(os.path.join(REPO_STATIC, "css/otpgate.css"))

    def test_robots_txt_at_the_root(self, server):
        """Crawlers only ask for /robots.txt; it is the static file, with
        the same validators."""
        r = server.get("/robots.txt")
        assert r.status == 200
        assert r.body == read(os.path.join(REPO_STATIC, "robots.txt"))
        assert b"Disallow: /" in r.body
        assert r.header("Content-Type") == "text/plain; charset=utf-8"
        assert r.header("ETag") == server.get("/static/robots.txt").header("ETag")

    def test_unknown_file_404(self, server):
        r = server.get("/static/css/nope.css")
        assert r.status == 404
        assert server.get("/static/css").status == 404  # a folder is not a file

    def test_head_keeps_length(self, server):
        r = server.request("HEAD", "/static/css/otpgate.css")
        assert r.status == 200
        assert r.body == b""
        assert r.header("Content-Length") == str(len(read(os.path.join(REPO_STATIC, "css/otpgate.css"))))

    def test_text_files_gzipped_in_memory_for_browsers(self, make_server):
        """No .gz files in the repository: the server compresses its text
        files once at start and answers a browser's Accept-Encoding with the
        gzip bytes, under an ETag of their own that survives a restart."""
        css = read(os.path.join(REPO_STATIC, "css/otpgate.css"))
        first = make_server()
        plain = first.get("/static/css/otpgate.css")
        r = first.get("/static/css/otpgate.css", headers={"Accept-Encoding": "gzip, deflate, br"})
        assert r.status == 200
        assert r.header("Content-Encoding") == "gzip"
        assert r.header("Vary") == "Accept-Encoding"
        assert gzip.decompress(r.body) == css
        assert len(r.body) < len(css) // 2, len(r.body)
        assert r.header("Content-Length") == str(len(r.body))
        assert r.header("ETag") != plain.header("ETag")
        assert plain.header("Vary") == "Accept-Encoding" and plain.header("Content-Encoding") is None
        assert plain.body == css
        # Conditional on the gzip ETag.
        again = first.get("/static/css/otpgate.css",
                          headers={"Accept-Encoding": "gzip", "If-None-Match": r.header("ETag")})
        assert again.status == 304
        # Refused coding: identity.
        no = first.get("/static/css/otpgate.css", headers={"Accept-Encoding": "gzip;q=0"})
        assert no.header("Content-Encoding") is None and no.body == css
        # Too small to be worth it: as it is.
        assert len(read(os.path.join(REPO_STATIC, "robots.txt"))) < 256
        small = first.get("/static/robots.txt", headers={"Accept-Encoding": "gzip"})
        assert small.header("Content-Encoding") is None
        # The same bytes and ETag after a restart (no time in the header).
        second = make_server()
        r2 = second.get("/static/css/otpgate.css", headers={"Accept-Encoding": "gzip"})
        assert r2.header("ETag") == r.header("ETag") and r2.body == r.body


@pytest.fixture
def static_tree(tmp_path):
    """A private static folder next to a secret file:
    tmp/site/static/{x.css, x.css.gz, plain.txt, .hidden, sub/a.txt,
    link.txt -> ../secret.txt, linkdir -> ..}, tmp/site/secret.txt."""
    site = tmp_path / "site"
    static = site / "static"
    (static / "sub").mkdir(parents=True)
    css = b"body { color: #123456; }\n" * 40
    (static / "x.css").write_bytes(css)
    (static / "x.css.gz").write_bytes(gzip.compress(css))
    (static / "plain.txt").write_bytes(b"plain text\n")
    (static / ".hidden").write_bytes(SECRET)
    (static / "sub" / "a.txt").write_bytes(b"in a sub folder\n")
    (site / "secret.txt").write_bytes(SECRET)
    os.symlink(str(site / "secret.txt"), str(static / "link.txt"))
    os.symlink("..", str(static / "linkdir"))
    return {"dir": str(static), "css": css, "site": str(site)}


class TestGzip:
    def test_gzip_variant_when_accepted(self, make_server, static_tree):
        s = make_server(env={"OTPGATE_STATIC_DIR": static_tree["dir"]})
        r = s.get("/static/x.css", headers={"Accept-Encoding": "gzip, deflate"})
        assert r.status == 200
        assert r.header("Content-Encoding") == "gzip"
        assert gzip.decompress(r.body) == static_tree["css"]
        assert r.header("Content-Type") == "text/css; charset=utf-8"
        assert "accept-encoding" in r.header("Vary", "").lower()
        gz_etag = r.header("ETag")

        for ae in ("identity", "gzip;q=0", "br", None):
            headers = {"Accept-Encoding": ae} if ae else {}
            # http.client adds Accept-Encoding: identity by itself when absent
            r = s.get("/static/x.css", headers=headers)
            assert r.status == 200
            assert r.header("Content-Encoding") in (None, "identity"), ae
            assert r.body == static_tree["css"], ae
            assert "accept-encoding" in r.header("Vary", "").lower(), ae
            assert r.header("ETag") != gz_etag, "both representations share an ETag"

    def test_gzip_etag_conditional(self, make_server, static_tree):
        s = make_server(env={"OTPGATE_STATIC_DIR": static_tree["dir"]})
        gz = s.get("/static/x.css", headers={"Accept-Encoding": "gzip"})
        r = s.get("/static/x.css", headers={"Accept-Encoding": "gzip", "If-None-Match": gz.header("ETag")})
        assert r.status == 304

    def test_gz_file_itself_not_a_separate_page_without_base(self, make_server, static_tree):
        s = make_server(env={"OTPGATE_STATIC_DIR": static_tree["dir"]})
        r = s.get("/static/plain.txt", headers={"Accept-Encoding": "gzip"})
        assert r.status == 200
        assert r.header("Content-Encoding") is None  # no .gz sibling
        assert r.body == b"plain text\n"
        assert s.get("/static/sub/a.txt").body == b"in a sub folder\n"


class TestTraversal:
    PATHS = [
        "/static/../var/master.key",
        "/static/../data/master.key",
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/sub/../../secret.txt",
        "/static/sub/%2e%2e/%2e%2e/secret.txt",
        "/static/./plain.txt",
        "/static/sub/./a.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/css%2fotpgate.css",
        "/static/sub%2fa.txt",
        "/static/.hidden",
        "/static/%2ehidden",
        "/static/link.txt",
        "/static/linkdir/secret.txt",
        "/static/..\\secret.txt",
        "/static/..%5csecret.txt",
        "/static/sub\\a.txt",
        "/static/plain.txt%00.css",
        "/static/%",
        "/static/%zz",
        "/static/",
    ]

    def test_no_way_out(self, make_server, static_tree):
        # One server for all paths keeps this fast; every failure is listed.
        data_dir = os.path.join(static_tree["site"], "data")
        s = make_server(env={"OTPGATE_STATIC_DIR": static_tree["dir"]}, data_dir=data_dir)
        key = read(os.path.join(data_dir, "master.key")).strip()
        failures = []
        for path in self.PATHS:
            c = s.connect()
            c.send("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path)
            try:
                r = c.read_response()
            except ConnectionError:
                r = None  # refused by the parser and closed: also fine
            c.close()
            if r is None:
                continue
            if r.status == 200 or not 400 <= r.status < 500:
                failures.append("%s -> %d %r" % (path, r.status, r.body[:120]))
            if SECRET in r.body or key in r.body or b"root:" in r.body:
                failures.append("%s leaked file contents" % path)
        assert not failures, "\n".join(failures)
        assert s.proc.poll() is None
        assert s.get("/healthz").status == 200

    def test_symlink_is_404(self, make_server, static_tree):
        s = make_server(env={"OTPGATE_STATIC_DIR": static_tree["dir"]})
        r = s.get("/static/link.txt")
        assert r.status == 404
        assert SECRET not in r.body
        r = s.get("/static/linkdir/secret.txt")
        assert r.status == 404

    def test_dotfile_is_404(self, make_server, static_tree):
        s = make_server(env={"OTPGATE_STATIC_DIR": static_tree["dir"]})
        r = s.get("/static/.hidden")
        assert r.status in (400, 404)
        assert SECRET not in r.body

    def test_legit_files_still_served(self, make_server, static_tree):
        s = make_server(env={"OTPGATE_STATIC_DIR": static_tree["dir"]})
        assert s.get("/static/plain.txt").status == 200
        assert s.get("/static/sub/a.txt").status == 200
        # percent-encoded ordinary characters decode to the same file
        assert s.get("/static/pl%61in.txt").body == b"plain text\n"
