"""Branding and admin accounts in the console, and `otpgate brand set
logo=FILE`, against the real binary: the same checks as the CLI, a logo
uploaded as multipart/form-data (type told by its bytes, size capped, SVG
with scripts refused) copied into the data directory and served at
/brand/logo with nosniff and a sandbox CSP; admins added, removed (never
oneself) and one's own password changed, each audited with the admin's
name."""

import html
import json
import os
import re
import struct
import zlib

from adminclient import PASSWORD, Console, admin_add, audit_rows, console_for, db
from apiclient import gw  # noqa: F401
from conftest import store_rows


def png(w=2, h=2):
    """A small valid PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x1f\x5f\xbf" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
       b'<circle cx="5" cy="5" r="4" fill="#0a7f5a"/></svg>\n')
EVIL_SVGS = [
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a script"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', "event handler"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>',
     "foreignObject"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><rect/></a></svg>',
     "javascript: URL"),
    (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg></svg>', "entity"),
]


def stored_logos(data_dir):
    """{version: bytes} of the uploaded logos in the database (brand_logos);
    PostgreSQL's bytea comes back as \\x hex text."""
    out = {}
    for r in store_rows(data_dir, "SELECT version, data FROM brand_logos"):
        d = r["data"]
        out[r["version"]] = bytes.fromhex(d[2:]) if isinstance(d, str) else bytes(d)
    return out


def brand_show(gw):
    out = {}
    for line in gw.cli("brand", "show").stdout.splitlines():
        k, v = line.split(" = ", 1)
        out[k] = v
    return out


# ---- the console's branding page ---------------------------------------------


def test_brand_page_sets_values_with_the_clis_checks(gw):
    server, c = console_for(gw)
    r = c.get("/admin/brand")
    assert r.status == 200 and 'enctype="multipart/form-data"' in r.text
    # Refused like the CLI refuses; nothing changes.
    cli = gw.cli("brand", "set", "accent=blue", check=False)
    assert cli.returncode != 0 and "must be a colour like #1d4ed8" in cli.stderr
    r = c.post("/admin/brand", {"name": "Acme ID", "accent": "blue", "support": ""}, files={})
    assert r.status == 400, r
    assert "The accent colour must be a colour like #1d4ed8. Nothing was changed." in r.text
    assert 'id="accent" name="accent" type="text" aria-describedby="accent-hint form-error" ' \
        'aria-invalid="true"' in r.text
    assert brand_show(gw)["name"] == "(default)"
    r = c.post("/admin/brand", {"name": "x" * 65}, files={})
    assert r.status == 400 and "at most 64 characters" in r.text
    # Saved, with urlencoded forms too (a browser sends multipart here).
    r = c.post("/admin/brand", {"name": "Acme ID", "accent": "#0a7f5a",
                                "support": "help@acme.example"}, files={})
    assert r.status == 303 and r.header("Location") == "/admin/brand?n=brand_saved", r
    assert brand_show(gw) == {"name": "Acme ID", "accent": "#0a7f5a", "logo": "(default)",
                              "support": "help@acme.example"}
    page = c.follow(r)
    assert "The branding was saved." in page.text and "<title>Branding · Acme ID</title>" in page.text
    assert "#0a7f5a" in server.get("/brand.css").text
    row = audit_rows(gw.data_dir, "admin_brand_set")[-1]
    assert json.loads(row["detail"]) == {
        "by": "console", "admin": "root",
        "changes": {"name": "Acme ID", "accent": "#0a7f5a", "support": "help@acme.example"}}
    # An empty field goes back to the default.
    r = c.post("/admin/brand", {"name": "", "accent": "#0a7f5a", "support": "help@acme.example"})
    assert r.status == 303
    assert brand_show(gw)["name"] == "(default)"


def test_logo_upload_served_at_brand_logo(gw):
    server, c = console_for(gw)
    assert server.get("/brand/logo").status == 404
    data = png()
    form = {"name": "", "accent": "", "support": ""}
    r = c.post("/admin/brand", form, files={"logo": ("acme.png", "image/png", data)})
    assert r.status == 303, r
    logo = brand_show(gw)["logo"]
    assert re.fullmatch(r"/brand/logo\?v=[0-9a-f]{16}", logo), logo
    # Kept in the database, so every instance on it serves the logo; no file.
    assert stored_logos(gw.data_dir) == {logo[-16:]: data}
    assert not [f for f in os.listdir(gw.data_dir) if f.startswith("brand-logo-")]
    # Served with the type its bytes tell, nosniff, a sandbox CSP, cached by version.
    r = server.get(logo)
    assert r.status == 200 and r.body == data
    assert r.header("Content-Type") == "image/png"
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert "sandbox" in r.header("Content-Security-Policy")
    assert "immutable" in r.header("Cache-Control")
    etag = r.header("ETag")
    assert server.get(logo, headers={"If-None-Match": etag}).status == 304
    # Every page shows it: the console's own header and the end users' pages.
    assert '<img src="%s"' % html.escape(logo) in c.get("/admin").text
    row = audit_rows(gw.data_dir, "admin_brand_set")[-1]
    d = json.loads(row["detail"])["changes"]
    assert d["logo"] == logo and d["logo_file"] == {"type": "image/png", "bytes": len(data)}

    # A plain SVG replaces it; the old one goes at the next upload.
    r = c.post("/admin/brand", form, files={"logo": ("logo.svg", "image/svg+xml", SVG)})
    assert r.status == 303
    svg_logo = brand_show(gw)["logo"]
    r = server.get(svg_logo)
    assert r.header("Content-Type") == "image/svg+xml" and r.body == SVG
    assert len(stored_logos(gw.data_dir)) == 2
    c.post("/admin/brand", form, files={"logo": ("acme.png", "image/png", png(3, 3))})
    assert len(stored_logos(gw.data_dir)) == 2 and svg_logo[-16:] in stored_logos(gw.data_dir)

    # Refusals: the claimed type and name mean nothing, only the bytes do.
    before = brand_show(gw)["logo"]
    for data_, name, ctype, why in [
        (b"GIF89a....", "x.png", "image/png", "not a PNG, JPEG, WebP or SVG image"),
        (b"<html><script>alert(1)</script></html>", "x.svg", "image/svg+xml",
         "not a PNG, JPEG, WebP or SVG image"),
    ] + [(svg, "x.svg", "image/svg+xml", what) for svg, what in EVIL_SVGS]:
        r = c.post("/admin/brand", form, files={"logo": (name, ctype, data_)})
        assert r.status == 400, (why, r)
        assert why in html.unescape(r.text), (why, r.text[:3000])
        assert "Nothing was changed." in r.text
    assert brand_show(gw)["logo"] == before
    # Larger than the request body may be: refused before any handler runs.
    r = c.post("/admin/brand", form, files={"logo": ("big.png", "image/png",
                                                     png() + b"\0" * 70000)})
    assert r.status == 413, r
    assert brand_show(gw)["logo"] == before
    # Back to the built-in logo.
    r = c.post("/admin/brand", dict(form, logo_reset="1"), files={})
    assert r.status == 303 and brand_show(gw)["logo"] == "(default)"
    assert server.get("/brand/logo").status == 404
    page = c.get("/admin").text
    assert '<svg class="logo"' in page and "/brand/logo" not in page  # the built-in one


def test_brand_set_logo_file_from_the_cli(gw, tmp_path):
    f = tmp_path / "acme.png"
    f.write_bytes(png())
    p = gw.cli("brand", "set", "logo=%s" % f, "name=Acme")
    assert re.search(r"^logo = /brand/logo\?v=[0-9a-f]{16}$", p.stdout, re.M), p.stdout
    logo = brand_show(gw)["logo"]
    assert stored_logos(gw.data_dir) == {logo[-16:]: png()}
    server = gw.start()
    r = server.get(logo)
    assert r.status == 200 and r.body == png() and r.header("Content-Type") == "image/png"
    # The older form: a path otpgate serves, kept as it is.
    gw.cli("brand", "set", "logo=/static/img/logo.svg")
    assert brand_show(gw)["logo"] == "/static/img/logo.svg"
    assert server.get("/brand/logo").status == 404
    # Refusals, one line each, nothing written.
    evil = tmp_path / "evil.svg"
    evil.write_bytes(EVIL_SVGS[0][0])
    big = tmp_path / "big.png"
    big.write_bytes(png() + b"\0" * (256 * 1024))
    text = tmp_path / "notes.txt"
    text.write_bytes(b"hello")
    for arg, why in [("logo=%s" % evil, "holds a script"),
                     ("logo=%s" % big, "at most 256 KiB"),
                     ("logo=%s" % text, "not a PNG, JPEG, WebP or SVG image"),
                     ("logo=no-such-file.png", "neither a file here nor a path on this server"),
                     ("logo=https://evil.example/x.png", "neither a file here"),
                     ("logo=%s" % tmp_path, "neither a file here")]:
        p = gw.cli("brand", "set", arg, check=False)
        assert p.returncode == 1, (arg, p.stdout, p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and why in lines[0], (arg, p.stderr)
    p = gw.cli("brand", "set", "logo=%s" % f, "logo=/static/img/logo.svg", check=False)
    assert p.returncode == 2 and "give logo= once" in p.stderr
    assert brand_show(gw)["logo"] == "/static/img/logo.svg"
    assert "logo=FILE" in gw.cli("brand", "--help").stdout


def test_logo_uploaded_before_is_taken_into_the_database(gw):
    """An install whose logo was uploaded before logos moved into the
    database has it as the file brand-logo-<v> in its data directory: the
    server takes it in at start, so instances elsewhere serve it too."""
    import hashlib
    data = png(4, 4)
    v = hashlib.sha256(data).hexdigest()[:16]
    gw.cli("brand", "set", "logo=/brand/logo?v=" + v)
    with open(os.path.join(gw.data_dir, "brand-logo-" + v), "wb") as f:
        f.write(data)
    assert stored_logos(gw.data_dir) == {}
    server = gw.start()
    assert stored_logos(gw.data_dir) == {v: data}
    os.unlink(os.path.join(gw.data_dir, "brand-logo-" + v))
    r = server.get("/brand/logo?v=" + v)
    assert r.status == 200 and r.body == data and r.header("Content-Type") == "image/png"


# ---- admin accounts -----------------------------------------------------------


def test_admins_add_remove_and_their_sessions(gw):
    server, c = console_for(gw)
    r = c.get("/admin/admins")
    assert r.status == 200 and "root" in r.text and ">you<" in r.text
    assert "/admin/admins/remove?name=root" not in r.text  # never oneself
    # Refusals keep the name and say why; nothing is added.
    for form, why in [
        ({"username": "bad name", "password": "a" * 12, "password2": "a" * 12},
         "1 to 64 characters"),
        ({"username": "alice", "password": "short", "password2": "short"},
         "at least 12 characters"),
        ({"username": "alice", "password": "a" * 12, "password2": "b" * 12}, "differ"),
        ({"username": "root", "password": "a" * 12, "password2": "a" * 12}, "exists already"),
    ]:
        r = c.post("/admin/admins", form)
        assert r.status == 400 and why in r.text, (form, r)
        assert "a" * 12 not in r.text
    con = db(gw.data_dir)
    assert [x[0] for x in con.execute("SELECT username FROM admins")] == ["root"]
    con.close()

    r = c.post("/admin/admins", {"username": "alice", "password": "alice's long password",
                                 "password2": "alice's long password"})
    assert r.status == 303 and r.header("Location") == "/admin/admins?n=admin_added", r
    page = c.follow(r)
    assert "The admin was added." in page.text and "alice" in page.text
    con = db(gw.data_dir)
    stored = con.execute("SELECT password_hash FROM admins WHERE username = 'alice'").fetchone()[0]
    con.close()
    assert stored.startswith("$scrypt$ln=15,r=8,p=1$")
    assert "alice's long password" not in server.stderr
    alice = Console(server)
    alice.login("alice", "alice's long password")
    # Alice cannot remove herself; root removes her, and her session ends.
    r = alice.post("/admin/admins/remove", {"name": "alice", "confirm": "1"})
    assert r.status == 409 and "cannot remove your own account" in r.text
    page = c.get("/admin/admins/remove?name=alice")
    assert "Remove the admin alice?" in page.text
    assert c.post("/admin/admins/remove", {"name": "alice"}).status == 303  # to the page
    assert alice.get("/admin").status == 200
    r = c.post("/admin/admins/remove", {"name": "alice", "confirm": "1"})
    assert r.status == 303 and r.header("Location") == "/admin/admins?n=admin_removed"
    assert alice.get("/admin").status == 303
    r = c.post("/admin/admins/remove", {"name": "alice", "confirm": "1"})
    assert r.status == 404
    # Root alone: its own removal is refused, so the console keeps an admin.
    r = c.post("/admin/admins/remove", {"name": "root", "confirm": "1"})
    assert r.status == 409
    events = [(r["event"], json.loads(r["detail"])) for r in
              audit_rows(gw.data_dir, "admin_account_add") +
              audit_rows(gw.data_dir, "admin_account_remove")]
    assert events == [("admin_account_add", {"by": "console", "admin": "root", "account": "alice"}),
                      ("admin_account_remove",
                       {"by": "console", "admin": "root", "account": "alice"})]
    # The console's own actions are listed on the page, with who did them.
    page = c.get("/admin/admins").text
    activity = page[page.index('id="activity-h"'):]
    assert "Admin account removed" in activity and "Admin account added" in activity
    assert ('data-label="Admin"><div class="cell">root</div></td><td data-label="Details">'
            '<div class="cell">account: alice</div></td>') in activity


def test_change_own_password(gw):
    server, c = console_for(gw)
    other = Console(server)
    other.login()  # root's second session
    assert c.get("/admin/account").status == 200
    new = "a brand new passphrase"
    r = c.post("/admin/account", {"current": "wrong password!", "password": new,
                                  "password2": new})
    assert r.status == 400 and "The current password is wrong." in r.text
    assert 'id="current" name="current" type="password" aria-describedby="form-error" ' \
        'aria-invalid="true"' in r.text
    r = c.post("/admin/account", {"current": PASSWORD, "password": new, "password2": new + "x"})
    assert r.status == 400 and "differ" in r.text
    r = c.post("/admin/account", {"current": PASSWORD, "password": "short", "password2": "short"})
    assert r.status == 400 and "at least 12 characters" in r.text
    r = c.post("/admin/account", {"current": PASSWORD, "password": new, "password2": new})
    assert r.status == 303 and r.header("Location") == "/admin/account?n=password_changed", r
    assert "Your password was changed." in c.follow(r).text
    # This session goes on; the other one ended; only the new password signs in.
    assert c.get("/admin").status == 200
    assert other.get("/admin").status == 303
    Console(server).login("root", PASSWORD, expect=401)
    Console(server).login("root", new)
    rows = audit_rows(gw.data_dir, "admin_password_change")
    assert len(rows) == 1 and json.loads(rows[0]["detail"]) == {"by": "console", "admin": "root"}
    for secret in (PASSWORD, new):
        assert secret not in server.stderr


def test_wrong_current_passwords_wait_like_sign_ins(gw):
    gw.cli("policy", "set", "lockout_wait=30")
    server, c = console_for(gw)
    for i in range(5):
        r = c.post("/admin/account", {"current": "wrong %d password" % i,
                                      "password": "x" * 12, "password2": "x" * 12})
        assert r.status == 400, (i, r)
    r = c.post("/admin/account", {"current": PASSWORD, "password": "y" * 12,
                                  "password2": "y" * 12})
    assert r.status == 429 and r.header("Retry-After") == "30"
    assert "Too many wrong passwords" in r.text
    # The sign-in of that admin waits too (the same count).
    fresh = Console(server)
    fresh.get("/admin/login")
    r = fresh.post("/admin/login", {"username": "root", "password": PASSWORD})
    assert r.status == 429
