"""The admin console's browser stand-in for the integration tests
(test_admin*.py): a cookie jar with the page's CSRF token, form posts
(urlencoded and multipart), `otpgate admin add` with the password on
stdin, and reading the database and audit trail behind it."""

import base64
import os
import re
import subprocess
import uuid
import http.client
import urllib.parse

import pytest

from conftest import base_env, otpgate_bin, sanitizer_report, store_connect, store_rows

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def admin_add(data_dir, name, password, env=None):
    """otpgate admin add NAME with password (str, or None for no input) on
    stdin; returns CompletedProcess (text)."""
    e = {"OTPGATE_DATA_DIR": str(data_dir)}
    e.update(env or {})
    p = subprocess.run([otpgate_bin(), "admin", "add", name],
                       input=(password + "\n").encode("utf-8") if password is not None else b"",
                       env=base_env(e), capture_output=True, timeout=30)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    report = sanitizer_report(p.stderr)
    if report:
        pytest.fail("sanitizer report from otpgate admin add:\n" + report)
    return p


def one_line_error(p):
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.strip() and not l.startswith("{")]
    assert len(lines) == 1, p.stderr
    return lines[0]


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        """Set-Cookie lines by cookie name."""
        out = {}
        for k, v in self.headers:
            if k.lower() == "set-cookie":
                out[v.split("=", 1)[0]] = v
        return out

    def __repr__(self):
        return "<Reply %d %r %r>" % (self.status, self.headers, self.text[:300])


class Console:
    """A browser's view of /admin: a cookie jar, the page's CSRF token."""

    def __init__(self, server):
        self.server = server
        self.jar = {}
        self.csrf = None

    def request(self, method, path, form=None, timeout=10.0, files=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        headers = {}
        if self.jar:
            headers["Cookie"] = "; ".join("%s=%s" % kv for kv in self.jar.items())
        body = None
        if files is not None:
            body, headers["Content-Type"] = multipart(form or {}, files)
        elif form is not None:
            body = urllib.parse.urlencode(form).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            reply = Reply(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
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

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, form, csrf=True, files=None):
        form = dict(form)
        if csrf is True:
            form["csrf"] = self.csrf
        elif csrf:
            form["csrf"] = csrf
        return self.request("POST", path, form, files=files)

    def follow(self, reply):
        """GET the Location of a 303."""
        assert reply.status == 303, reply
        return self.get(reply.header("Location"))

    def login(self, username="root", password=PASSWORD, expect=303):
        r = self.get("/admin/login")
        assert r.status == 200, r
        r = self.post("/admin/login", {"username": username, "password": password})
        assert r.status == expect, r
        if expect == 303:
            assert r.header("Location") == "/admin"
            r = self.get("/admin")
            assert r.status == 200, r
        return r


def db(data_dir):
    return store_connect(data_dir)


def audit_rows(data_dir, event):
    return store_rows(str(data_dir), "SELECT * FROM audit WHERE event = ? ORDER BY id", (event,))


def started(gw, admin="root", password=PASSWORD, env=None):
    p = admin_add(gw.data_dir, admin, password)
    assert p.returncode == 0, p.stderr
    return gw.start(env=env)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")




def multipart(fields, files):
    """A multipart/form-data body as a browser sends it: fields {name: value},
    files {name: (filename, content_type, bytes)}. Returns (body, type)."""
    boundary = "----otpgateTest" + uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" %
                    (boundary, name)).encode() + str(value).encode("utf-8") + b"\r\n")
    for name, (filename, ctype, data) in files.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: %s\r\n\r\n" % (boundary, name, filename, ctype)).encode() +
                   data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def console_for(gw, admin="root", password=PASSWORD):
    """A started server with admin `admin` signed in: (server, Console)."""
    server = started(gw, admin, password)
    c = Console(server)
    c.login(admin, password)
    return server, c


def csrf_of(text):
    m = CSRF_RE.search(text)
    return m.group(1) if m else None
