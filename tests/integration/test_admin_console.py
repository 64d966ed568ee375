"""The admin console's pages and actions against the real binary (issue
#13): the overview's counts, the user list (search by sub prefix, filters,
paging, across apps), a user's page (history, lock banner, one factor
removed through its confirmation), applications (register with the secret
shown once, edit, policy with the CLI's validation, rotate, remove), the
global policy, the delivery log's filters and a message's request and
answer, and that every action is audited with the admin's name and refused
without the CSRF token."""

import html
import json
import os
import re
import sqlite3
import time
import urllib.parse

import pytest

from adminclient import PASSWORD, Console, audit_rows, console_for, db, started
from apiclient import BULLET, REDIRECT, ApiClient, basic, gw, http_call  # noqa: F401
from deliveryhelp import outbox_rows, sms_env, sms_sinks, wait_row, wait_sms, wait_until  # noqa: F401


def q(**params):
    return urllib.parse.urlencode(params)


def detail(row):
    return json.loads(row["detail"])


def add_users(data_dir, app_id, subs, factors=None, locked=(), waiting=()):
    """Users straight into the database (no message sent for each):
    factors {sub: [(type, status, destination)]}."""
    now = int(time.time() * 1000)
    con = db(data_dir)
    try:
        for i, sub in enumerate(subs):
            cur = con.execute(
                "INSERT INTO users (app_id, sub, created_at, locked_at, failures, retry_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (app_id, sub, now - i, now if sub in locked else None,
                 100 if sub in locked else (6 if sub in waiting else 0),
                 now + 600000 if sub in waiting else 0))
            uid = cur.lastrowid
            for j, (ftype, status, dest) in enumerate((factors or {}).get(sub, [])):
                con.execute("INSERT INTO factors (id, user_id, type, status, destination, "
                            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                            ("f_%s_%d_%d" % (app_id[-6:], uid, j), uid, ftype, status, dest, now))
        con.commit()
    finally:
        con.close()


def no_inline_style_or_script(text):
    assert " style=" not in text, "inline style"
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline script"
    for tag in re.findall(r"<[a-z][^>]*>", text):
        assert not re.search(r"\son[a-z]+=", tag), tag


def page_links(text):
    return re.findall(r'href="([^"]+)"', text)


# ---- overview ---------------------------------------------------------------


def test_overview_counts_per_app_and_factor_type(gw):
    shop, blog = gw.add_app("Shop"), gw.add_app("Blog")
    server, c = console_for(gw)
    add_users(gw.data_dir, shop.client_id, ["a1", "a2", "a3", "a4", "a5"],
              factors={"a1": [("email", "active", "a1@example.com")],
                       "a2": [("sms", "active", "+447700900001"),
                              ("totp", "active", None)],
                       "a3": [("email", "pending", "a3@example.com")],
                       "a4": [("totp", "active", None)]},
              locked=["a4"], waiting=["a5"])
    add_users(gw.data_dir, blog.client_id, ["b1"],
              factors={"b1": [("sms", "active", "+447700900002")]})
    # Two messages in the last 24 hours (development delivery: sent).
    shop.add_email("m1", "m1@example.com")
    shop.add_email("m2", "m2@example.com")
    r = c.get("/admin")
    assert r.status == 200, r
    text = r.text
    no_inline_style_or_script(text)
    # 4 of 8 users (a1, a2, a4, b1 of a1..a5, m1, m2, b1) have a second factor.
    assert re.search(r'stat-value">4</span> <span class="stat-label">of 8 users', text), text
    assert re.search(r'stat-value">1</span> <span class="stat-label">locked user<', text)
    assert "1 user</a> must wait" in text
    # Per app, with a bar each, the bars' widths as SVG attributes.
    assert "<span>3 of 7</span>" in text and "<span>1 of 1</span>" in text
    assert text.count('<svg class="bar"') >= 2 + 4 + 4
    assert 'class="bar-fill " width="42"' in text  # 3 of 7 users, in whole percents
    # Per factor type over every app: 2 SMS, 1 email, 2 authenticator.
    per_type = text[text.index('id="per-type"'):text.index('id="sends"')]
    assert re.search(r"Text message</th>.*?>2</div></td>", per_type, re.S)
    assert re.search(r"Authenticator app</th>.*?>2</div></td>", per_type, re.S)
    sends = text[text.index('id="sends"'):]
    assert re.search(r"Emails sent</th>.*?>2</div></td>", sends, re.S), sends
    assert 'href="/admin/users?state=locked&amp;app=%s"' % shop.client_id in text


# ---- users ---------------------------------------------------------------------


def test_user_list_search_filters_and_paging(gw):
    shop, blog = gw.add_app("Shop"), gw.add_app("Blog")
    server, c = console_for(gw)
    subs = ["user%03d" % i for i in range(120)]
    add_users(gw.data_dir, shop.client_id, subs,
              factors={"user001": [("sms", "active", "+447700900123")],
                       "user002": [("email", "active", "u2@example.com")],
                       "user003": [("sms", "pending", "+447700900124")]},
              locked=["user004"])
    add_users(gw.data_dir, blog.client_id, ["user001", "zed"],
              factors={"zed": [("totp", "active", None)]})

    # Across apps, first page: 50 rows ordered by sub, then app.
    r = c.get("/admin/users")
    assert r.status == 200, r
    no_inline_style_or_script(r.text)
    rows = re.findall(r'<th scope="row" data-label="User id"><a href="([^"]+)">([^<]+)</a>', r.text)
    assert len(rows) == 50
    assert [s for _, s in rows[:4]] == ["user000", "user001", "user001", "user002"]
    assert "Blog" in r.text and "Shop" in r.text
    nxt = re.search(r'<a rel="next" href="([^"]+)"', r.text).group(1).replace("&amp;", "&")
    assert 'rel="prev"' not in r.text
    r2 = c.get(nxt)
    rows2 = re.findall(r'data-label="User id"><a href="[^"]+">([^<]+)</a>', r2.text)
    assert len(rows2) == 50 and rows2[0] == "user049"
    prev = re.search(r'<a rel="prev" href="([^"]+)"', r2.text).group(1).replace("&amp;", "&")
    back = re.findall(r'data-label="User id"><a href="[^"]+">([^<]+)</a>', c.get(prev).text)
    assert back == [s for _, s in rows]
    # The last page has no next link.
    r3 = c.get(re.search(r'<a rel="next" href="([^"]+)"', r2.text).group(1).replace("&amp;", "&"))
    rows3 = re.findall(r'data-label="User id"><a href="[^"]+">([^<]+)</a>', r3.text)
    assert len(rows3) == 22 and rows3[-1] == "zed" and 'rel="next"' not in r3.text

    # Search by sub prefix within one app.
    r = c.get("/admin/users?" + q(app=shop.client_id, q="user00"))
    found = re.findall(r'data-label="User id"><a href="[^"]+">([^<]+)</a>', r.text)
    assert found == ["user%03d" % i for i in range(10)]
    assert "Blog" not in re.sub(r"<select.*?</select>", "", r.text, flags=re.S)
    # Filters: locked; no second factor; has SMS (pending ones do not count).
    r = c.get("/admin/users?" + q(state="locked"))
    assert re.findall(r'data-label="User id"><a href="[^"]+">([^<]+)</a>', r.text) == ["user004"]
    assert "Locked</span>" in r.text
    r = c.get("/admin/users?" + q(has="sms"))
    assert re.findall(r'data-label="User id"><a href="[^"]+">([^<]+)</a>', r.text) == ["user001"]
    r = c.get("/admin/users?" + q(has="totp", app=blog.client_id))
    assert re.findall(r'data-label="User id"><a href="[^"]+">([^<]+)</a>', r.text) == ["zed"]
    r = c.get("/admin/users?" + q(has="none", q="user00", app=shop.client_id))
    assert re.findall(r'data-label="User id"><a href="[^"]+">([^<]+)</a>', r.text) == [
        "user000", "user003", "user004", "user005", "user006", "user007", "user008", "user009"]
    r = c.get("/admin/users?" + q(q="nobody"))
    assert "No user matches." in r.text
    # Odd input is harmless: an unknown filter is "any", a bad paging key a 200.
    assert c.get("/admin/users?" + q(state="x", has="y", after="z")).status == 200
    assert c.get("/admin/users?" + q(q="%", before="a", before_app="b")).status == 200


def test_user_page_history_banner_and_one_factor_removed(gw):
    app = gw.add_app("Shop")
    server, c = console_for(gw)
    efid, _ = app.enrol_email("alice", "alice@example.com")
    sfid, _ = app.enrol_sms("alice", "+44 7700 900123", e164="+447700900123")
    # Two wrong codes.
    ch = app.challenge("alice", efid).json
    for _ in range(2):
        r = app.post("/api/v1/challenges/%s/verify" % ch["id"],
                     {"code": "000000", "client_ip": "198.51.100.7"})
        assert r.status == 422, r
    url = "/admin/user?" + q(app=app.client_id, sub="alice")
    r = c.get(url)
    assert r.status == 200, r
    text = r.text
    no_inline_style_or_script(text)
    assert "<h1>User alice</h1>" in text
    assert "Waiting" not in text and "admin-banner" not in text  # 2 failures: no wait yet
    assert "Recovery codes left</dt><dd>10</dd>" in text
    assert "Preferred</dt><dd>Email a%s%s%s@example.com</dd>" % (BULLET, BULLET, BULLET) in text
    assert 'id="devices"' in text and "Remembered devices" in text
    hist = text[text.index('id="history-h"'):]
    assert hist.count("Wrong code") == 2
    assert 'data-label="IP address"><div class="cell">198.51.100.7<' in hist
    assert "Code sent" in hist and "Factor confirmed" in hist and "Shop" in hist
    assert "alice@example.com" not in text and "900123" not in text

    # Remove the phone: a confirmation page first; a POST without it is sent there.
    link = [h for h in page_links(text) if h.startswith("/admin/users/factor?") and sfid in h]
    assert len(link) == 1
    page = c.get(link[0].replace("&amp;", "&"))
    assert page.status == 200 and "Remove Text message +44" in page.text
    r = c.post("/admin/users/factor", {"app": app.client_id, "sub": "alice", "factor": sfid})
    assert r.status == 303 and r.header("Location").startswith("/admin/users/factor?")
    assert len(app.factors("alice")["factors"]) == 2
    r = c.post("/admin/users/factor",
               {"app": app.client_id, "sub": "alice", "factor": sfid, "confirm": "1"})
    assert r.status == 303 and "n=factor_removed" in r.header("Location")
    assert "The factor was removed." in c.follow(r).text
    assert [f["id"] for f in app.factors("alice")["factors"]] == [efid]
    rows = audit_rows(gw.data_dir, "admin_factor_remove")
    assert len(rows) == 1 and rows[0]["sub"] == "alice" and rows[0]["app_id"] == app.client_id
    assert detail(rows[0]) == {"by": "console", "admin": "root", "factor": "sms"}
    assert audit_rows(gw.data_dir, "factor_removed")[-1]["factor_id"] == sfid
    # Removing it again: gone.
    r = c.post("/admin/users/factor",
               {"app": app.client_id, "sub": "alice", "factor": sfid, "confirm": "1"})
    assert r.status == 303 and "e=factor_gone" in r.header("Location")
    # The last factor: its page says the recovery codes go too.
    page = c.get("/admin/users/factor?" + q(app=app.client_id, sub="alice", factor=efid))
    assert "last confirmed factor: their recovery codes go too" in page.text

    # Waiting and locked users get the banner, with Unlock inside it.
    con = db(gw.data_dir)
    con.execute("UPDATE users SET failures = 7, retry_at = ? WHERE sub = 'alice'",
                (int(time.time() * 1000) + 120000,))
    con.commit()
    con.close()
    text = c.get(url).text
    assert 'class="alert warn admin-banner"' in text and "Waiting until" in text
    banner = text[text.index("admin-banner"):text.index("</div>", text.index("admin-banner"))]
    assert 'action="/admin/users/unlock"' in banner and "after 7 wrong codes in a row" in banner


# ---- applications --------------------------------------------------------------


def test_register_app_secret_once_edit_rotate_remove(gw):
    server, c = console_for(gw)
    page = c.get("/admin/apps/new")
    assert page.status == 200 and 'name="redirect_uris"' in page.text
    # A refusal keeps what was typed and creates nothing.
    r = c.post("/admin/apps/new", {"name": "Shop", "redirect_uris": "http://shop.example/cb",
                                   "policy": "mandatory"})
    assert r.status == 400, r
    assert "http:// is allowed only for localhost" in r.text
    assert "http://shop.example/cb</textarea>" in r.text and '"mandatory" selected' in r.text
    assert json.loads(gw.cli("app", "list").stdout) == []

    r = c.post("/admin/apps/new", {"name": "Shop", "policy": "mandatory",
                                   "redirect_uris": " https://shop.example/cb \r\n\r\n"
                                                    "http://localhost:3000/cb\r\n"})
    assert r.status == 303, r
    m = re.fullmatch(r"/admin/apps/(app_[a-z0-9]+)/secret\?new=1", r.header("Location"))
    assert m, r.header("Location")
    client_id = m.group(1)
    page = c.follow(r)
    assert "<h1>Application registered</h1>" in page.text
    secret = re.search(r'id="client-secret">([A-Za-z0-9_-]{43})<', page.text).group(1)
    assert page.header("Cache-Control") == "no-store"
    # Shown once: a reload says so; the secret is nowhere in the database.
    again = c.get(r.header("Location"))
    assert secret not in again.text and "was shown once" in again.text
    con = db(gw.data_dir)
    for table in ("admin_sessions", "audit", "apps"):
        for row in con.execute("SELECT * FROM %s" % table):
            assert secret not in repr(tuple(row)), table
    con.close()
    assert secret not in server.stderr
    listed = json.loads(gw.cli("app", "list").stdout)
    assert listed[0]["client_id"] == client_id and listed[0]["policy"] == "mandatory"
    assert listed[0]["redirect_uris"] == ["https://shop.example/cb", "http://localhost:3000/cb"]
    # The secret works at once against the API.
    api = ApiClient(gw, client_id, secret)
    assert api.get("/api/v1/users/alice/factors").status == 200

    # Edit: name and redirect URIs; a bad URI is refused and changes nothing.
    r = c.post("/admin/apps/%s" % client_id, {"name": "Shop 2",
                                              "redirect_uris": "https://shop.example/cb#x"})
    assert r.status == 400 and "must not have a fragment" in r.text
    r = c.post("/admin/apps/%s" % client_id, {"name": "Shop 2",
                                              "redirect_uris": "https://shop2.example/cb"})
    assert r.status == 303 and r.header("Location") == "/admin/apps/%s?n=app_saved" % client_id
    assert "The application was saved." in c.follow(r).text
    listed = json.loads(gw.cli("app", "list").stdout)[0]
    assert listed["name"] == "Shop 2" and listed["redirect_uris"] == ["https://shop2.example/cb"]

    # Rotate through its confirmation page; the old secret stops at once
    # (the API's app cache follows the console's change).
    page = c.get("/admin/apps/%s/rotate" % client_id)
    assert "Rotate the client secret of Shop 2?" in page.text
    assert c.post("/admin/apps/%s/rotate" % client_id, {}).status == 303
    assert api.get("/api/v1/users/alice/factors").status == 200
    r = c.post("/admin/apps/%s/rotate" % client_id, {"confirm": "1"})
    assert r.header("Location") == "/admin/apps/%s/secret" % client_id
    page = c.follow(r)
    assert "<h1>Client secret</h1>" in page.text
    new_secret = re.search(r'id="client-secret">([A-Za-z0-9_-]{43})<', page.text).group(1)
    assert new_secret != secret
    assert api.get("/api/v1/users/alice/factors").status == 401
    assert ApiClient(gw, client_id, new_secret).get("/api/v1/users/alice/factors").status == 200

    # Remove: the confirmation names what is lost.
    api2 = ApiClient(gw, client_id, new_secret)
    api2.add_email("alice", "alice@example.com")
    page = c.get("/admin/apps/%s/remove" % client_id)
    assert "Remove Shop 2?" in page.text and "1 user, 0 of them with a second factor" in page.text
    assert "1 setting of the app's own policy" in html.unescape(page.text)
    r = c.post("/admin/apps/%s/remove" % client_id, {"confirm": "1"})
    assert r.status == 303 and r.header("Location") == "/admin/apps?n=app_removed"
    assert json.loads(gw.cli("app", "list").stdout) == []
    assert api2.get("/api/v1/users/alice/factors").status == 401
    assert c.get("/admin/apps/%s" % client_id).status == 404

    events = [(r["event"], r["app_id"], detail(r)) for r in audit_rows_like(gw, "admin_app_")]
    assert [e[0] for e in events] == ["admin_app_add", "admin_app_edit", "admin_app_rotate",
                                      "admin_app_remove"]
    assert all(e[1] == client_id and e[2]["admin"] == "root" for e in events)
    assert events[0][2]["name"] == "Shop" and events[0][2]["policy"] == "mandatory"
    assert events[3][2]["users"] == 1


def audit_rows_like(gw, prefix):
    con = db(gw.data_dir)
    try:
        return [dict(r) for r in con.execute(
            "SELECT * FROM audit WHERE event LIKE ? ORDER BY id", (prefix + "%",))]
    finally:
        con.close()


def policy_show(gw, app=None):
    args = ["policy", "show"] + (["--app", app] if app else [])
    out = {}
    for line in gw.cli(*args).stdout.splitlines():
        m = re.fullmatch(r"(\w+) = (.*?)  \((\w+)\)", line)
        out[m.group(1)] = (m.group(2), m.group(3))
    return out


def test_app_policy_every_key_with_its_source(gw):
    app = gw.add_app("Shop")
    gw.policy("code_ttl=120")
    server, c = console_for(gw)
    url = "/admin/apps/%s" % app.client_id
    text = c.get(url).text
    shown = policy_show(gw, app.client_id)
    for key, (value, source) in shown.items():
        assert 'for="pk-%s"' % key in text, key
        hint = text[text.index('id="pk-%s-hint"' % key):]
        hint = hint[:hint.index("</p>")]
        assert "Now <strong>%s</strong>" % (value or "(empty)") in hint, (key, hint)
        assert "from %s" % source in hint, (key, hint)

    # The CLI's own refusal, word for word; nothing written.
    cli = gw.cli("policy", "set", "--app", app.client_id, "code_ttl=abc", check=False)
    assert cli.returncode != 0
    why = cli.stderr.strip().split("otpgate: ", 1)[-1].split("; nothing")[0]
    assert why.startswith("code_ttl: 'abc' must be"), why
    r = c.post(url + "/policy", {"code_ttl": "abc", "mode": "mandatory"})
    assert r.status == 400, r
    assert why in html.unescape(r.text), why
    assert 'id="pk-code_ttl" name="code_ttl"' in r.text and 'aria-invalid="true"' in r.text
    assert policy_show(gw, app.client_id)["mode"] == ("optional", "default")

    form = {"mode": "mandatory", "code_ttl": " 600 ", "sms_countries": "+44, 1",
            "recovery_codes": "inherit"}
    r = c.post(url + "/policy", form)
    assert r.status == 303 and "n=policy_saved" in r.header("Location"), r
    shown = policy_show(gw, app.client_id)
    assert shown["mode"] == ("mandatory", "app")
    assert shown["code_ttl"] == ("600", "app")
    assert shown["sms_countries"] == ("44,1", "app")
    assert shown["recovery_codes"] == ("on", "default")
    row = audit_rows(gw.data_dir, "admin_policy_set")[-1]
    assert row["app_id"] == app.client_id
    assert detail(row) == {"by": "console", "admin": "root",
                           "changes": {"mode": "mandatory", "code_ttl": "600",
                                       "sms_countries": "+44, 1"}}
    # The same again changes nothing; inherit (or an empty field) drops the app's own value.
    r = c.post(url + "/policy", {"mode": "mandatory", "code_ttl": "600", "sms_countries": "44,1"})
    assert "n=policy_unchanged" in r.header("Location")
    r = c.post(url + "/policy", {"mode": "inherit", "code_ttl": ""})
    assert "n=policy_saved" in r.header("Location")
    shown = policy_show(gw, app.client_id)
    assert shown["mode"] == ("optional", "default") and shown["code_ttl"] == ("120", "global")
    # The API sees the app's new policy at once (its cache is dropped).
    c.post(url + "/policy", {"factors": "totp"})
    r = app.post("/api/v1/users/bob/factors", {"type": "email", "email": "bob@example.com"})
    assert r.status == 403, r


def test_global_policy_page(gw):
    shop = gw.add_app("Shop")
    gw.policy("mode=off", app=shop)
    server, c = console_for(gw)
    r = c.get("/admin/policy")
    assert r.status == 200
    assert "Applications with settings of their own: Shop." in r.text
    for key, (value, source) in policy_show(gw).items():
        assert 'name="%s"' % key in r.text
    r = c.post("/admin/policy", {"lockout_wait": "x"})
    assert r.status == 400 and "lockout_wait: 'x' must be a whole number" in html.unescape(r.text)
    r = c.post("/admin/policy", {"lockout_wait": "60", "mode": "mandatory"})
    assert r.header("Location") == "/admin/policy?n=policy_saved"
    assert policy_show(gw)["lockout_wait"] == ("60", "global")
    assert policy_show(gw)["mode"] == ("mandatory", "global")
    r = c.post("/admin/policy", {"lockout_wait": "default", "mode": ""})
    assert policy_show(gw)["lockout_wait"] == ("30", "default")
    assert policy_show(gw)["mode"] == ("optional", "default")
    rows = audit_rows(gw.data_dir, "admin_policy_set")
    assert len(rows) == 2 and rows[0]["app_id"] is None
    assert detail(rows[1])["changes"] == {"lockout_wait": "default", "mode": "default"}


# ---- delivery log ------------------------------------------------------------------


def test_delivery_log_filters_and_a_message_page(gw, sms_sinks):
    sink = sms_sinks()
    shop, blog = gw.add_app("Shop"), gw.add_app("Blog")
    server = started(gw, env=dict(sms_env(sink), OTPGATE_DEV="1"))
    c = Console(server)
    c.login()
    shop.add_sms("carol", "+44 7700 900456")
    req = wait_sms(sink, "+447700900456")
    code = req["json"]["message"][-6:]
    blog.add_email("bob", "bob@example.com")
    wait_row(gw.data_dir, "+447700900456", lambda r: r["state"] == "sent")
    wait_row(gw.data_dir, "bob@example.com", lambda r: r["state"] == "sent")

    r = c.get("/admin/deliveries")
    assert r.status == 200 and "2 messages, newest first" in r.text
    r = c.get("/admin/deliveries?" + q(channel="sms"))
    assert "1 message, newest first" in r.text and ">sms<" in r.text and ">email<" not in r.text
    r = c.get("/admin/deliveries?" + q(app=blog.client_id))
    assert "1 message," in r.text and "Blog" in r.text
    assert "No messages." in c.get("/admin/deliveries?" + q(state="failed")).text
    r = c.get("/admin/deliveries?" + q(channel="sms", state="sent", app=shop.client_id))
    link = re.search(r'href="(/admin/deliveries/\d+)"', r.text).group(1)

    page = c.get(link)
    assert page.status == 200, page
    text = page.text
    no_inline_style_or_script(text)
    assert "POST %s/send" % sink.url in text
    assert "Authorization: ***" in text and "sms-token-123" not in text
    assert "******" in text and code not in text
    assert "+447700900456" not in text and "447700900456" not in text
    assert "+44 %s %s04 56" % (BULLET * 4, BULLET * 2) in text  # masked as everywhere else
    assert "Rebuilt from the current provider settings" in text
    assert "Answer</h2>" in text
    # The e-mail went to the development sink.
    mail = c.get("/admin/deliveries?" + q(channel="email"))
    link = re.search(r'href="(/admin/deliveries/\d+)"', mail.text).group(1)
    assert "Development delivery: nothing was sent" in c.get(link).text
    # A webhook's page says what it is, not why an e-mail cannot be shown.
    gw.cli("app", "set", shop.client_id, "--webhook-url", "http://127.0.0.1:9/hooks")
    shop.add_email("dora", "dora@example.com")
    wait_until(lambda: any(r["kind"] == "webhook" and r["attempts"] >= 1
                           for r in outbox_rows(gw.data_dir, codes_only=False)),
               what="a webhook row tried")
    hooks = c.get("/admin/deliveries?" + q(channel="webhook"))
    link = re.search(r'href="(/admin/deliveries/\d+)"', hooks.text).group(1)
    text = c.get(link).text
    assert "A webhook: a signed JSON POST" in text and "SMTP" not in text, text
    assert c.get("/admin/deliveries/999999").status == 404
    assert c.get("/admin/deliveries/abc").status == 404


# ---- every form needs the token ----------------------------------------------------


def test_every_console_form_refuses_a_missing_csrf_token(gw):
    app = gw.add_app("Shop")
    server, c = console_for(gw)
    fid, _ = app.enrol_email("alice", "alice@example.com")
    posts = {
        "/admin/apps/new": {"name": "X", "redirect_uris": "https://x.example/cb"},
        "/admin/apps/%s" % app.client_id: {"name": "X", "redirect_uris": "https://x.example/cb"},
        "/admin/apps/%s/policy" % app.client_id: {"mode": "off"},
        "/admin/apps/%s/rotate" % app.client_id: {"confirm": "1"},
        "/admin/apps/%s/remove" % app.client_id: {"confirm": "1"},
        "/admin/policy": {"mode": "off"},
        "/admin/users/unlock": {"app": app.client_id, "sub": "alice"},
        "/admin/users/reset": {"app": app.client_id, "sub": "alice", "confirm": "1"},
        "/admin/users/factor": {"app": app.client_id, "sub": "alice", "factor": fid,
                                "confirm": "1"},
        "/admin/brand": {"name": "Evil"},
        "/admin/admins": {"username": "eve", "password": "x" * 20, "password2": "x" * 20},
        "/admin/admins/remove": {"name": "root", "confirm": "1"},
        "/admin/account": {"current": PASSWORD, "password": "y" * 20, "password2": "y" * 20},
    }
    before = audit_rows_like(gw, "admin_")
    for path, form in posts.items():
        for token in (False, "A" * 43):
            r = c.post(path, form, csrf=token)
            assert r.status == 403, (path, r)
    assert audit_rows_like(gw, "admin_") == before
    assert len(json.loads(gw.cli("app", "list").stdout)) == 1
    assert len(app.factors("alice")["factors"]) == 1
    assert c.get("/admin").status == 200
    # And none of them works without a session.
    anon = Console(server)
    for path, form in posts.items():
        r = anon.post(path, form, csrf="A" * 43)
        assert r.status == 303 and r.header("Location") == "/admin/login", (path, r)
    for path in ("/admin/apps", "/admin/apps/new", "/admin/policy", "/admin/brand",
                 "/admin/admins", "/admin/account", "/admin/user?app=x&sub=y",
                 "/admin/deliveries/1", "/admin/apps/%s" % app.client_id):
        r = anon.get(path)
        assert r.status == 303 and r.header("Location") == "/admin/login", (path, r)


# ---- remembered devices, passkeys and webhooks on the console --------------


@pytest.mark.sqlite_only
def test_user_page_lists_devices_and_forgets_them(gw):
    app = gw.add_app("Shop")
    gw.policy("remember_device_days=30")
    server = started(gw)
    now = int(time.time() * 1000)
    con = db(gw.data_dir)
    con.execute("INSERT INTO users (app_id, sub, created_at) VALUES (?, 'dora', ?)",
                (app.client_id, now))
    con.execute("INSERT INTO devices (id, token_hash, app_id, sub, scope_all, created_at, "
                "expires_at, last_seen_at, step_at, user_agent, ip) VALUES ('dev_1', x'01', ?, "
                "'dora', 0, ?, ?, ?, ?, 'Firefox on Linux', '203.0.113.9')",
                (app.client_id, now, now + 86400000, now, now))
    con.commit()
    con.close()
    c = Console(server)
    c.login()
    page = c.get("/admin/user?" + q(app=app.client_id, sub="dora"))
    assert page.status == 200 and "Firefox on Linux" in page.text and "203.0.113.9" in page.text
    r = c.post("/admin/users/forget-devices", {"app": app.client_id, "sub": "dora"})
    assert r.status == 303, r
    page = c.follow(r)
    assert "Firefox on Linux" not in page.text
    assert "asks for the second step again" in page.text
    rows = audit_rows(gw.data_dir, "admin_forget_devices")
    assert rows and detail(rows[-1])["admin"] == "root" and detail(rows[-1])["devices"] == 1
    # without the CSRF token nothing happens
    r = c.post("/admin/users/forget-devices", {"app": app.client_id, "sub": "dora"}, csrf="x")
    assert r.status == 403


@pytest.mark.sqlite_only
def test_user_page_shows_passkey_details(gw):
    app = gw.add_app("Shop")
    server = started(gw)
    now = int(time.time() * 1000)
    con = db(gw.data_dir)
    uid = con.execute("INSERT INTO users (app_id, sub, created_at) VALUES (?, 'pia', ?)",
                      (app.client_id, now)).lastrowid
    con.execute("INSERT INTO factors (id, user_id, type, status, created_at) VALUES "
                "('f_pk', ?, 'webauthn', 'active', ?)", (uid, now))
    con.execute("INSERT INTO webauthn_credentials (factor_id, rp_id, credential_id, public_key, "
                "alg, sign_count, aaguid, uv, be, bs, fmt, name) VALUES ('f_pk', 'localhost', "
                "x'0102', x'00', -7, 42, x'0123456789abcdef0123456789abcdef', 1, 1, 1, 'none', "
                "'Work laptop')")
    con.commit()
    con.close()
    c = Console(server)
    c.login()
    page = c.get("/admin/user?" + q(app=app.client_id, sub="pia"))
    assert "Work laptop" in page.text
    assert "01234567-89ab-cdef-0123-456789abcdef" in page.text
    assert "signature counter 42" in page.text and "synced passkey" in page.text
    # an admin removes it through the confirmation, audited
    r = c.get("/admin/users/factor?" + q(app=app.client_id, sub="pia", factor="f_pk"))
    assert r.status == 200
    r = c.post("/admin/users/factor", {"app": app.client_id, "sub": "pia", "factor": "f_pk",
                                       "confirm": "1"})
    assert r.status == 303, r
    con = db(gw.data_dir)
    assert con.execute("SELECT count(*) FROM webauthn_credentials").fetchone()[0] == 0
    con.close()
    assert audit_rows(gw.data_dir, "admin_factor_remove")


def test_webhook_set_in_the_console_shows_its_secret_once(gw):
    app = gw.add_app("Shop")
    server = started(gw)
    c = Console(server)
    c.login()
    page = c.get("/admin/apps/" + app.client_id)
    assert 'name="webhook_url"' in page.text
    r = c.post("/admin/apps/%s/webhook" % app.client_id, {"webhook_url": "ftp://nope"})
    assert r.status == 400, r
    r = c.post("/admin/apps/%s/webhook" % app.client_id,
               {"webhook_url": "https://hooks.example.com/otpgate"})
    assert r.status == 303 and r.header("Location").endswith("/webhook-secret"), r
    page = c.follow(r)
    secret = re.search(r'id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)<', page.text).group(1)
    again = c.get("/admin/apps/%s/webhook-secret" % app.client_id)
    assert secret not in again.text and "shown once" in again.text
    listed = json.loads(gw.cli("app", "list").stdout)
    mine = [a for a in listed if a["client_id"] == app.client_id][0]
    assert mine["webhook_url"] == "https://hooks.example.com/otpgate"
    assert audit_rows(gw.data_dir, "admin_webhook_set")
    # a new secret on demand
    r = c.post("/admin/apps/%s/webhook" % app.client_id,
               {"webhook_url": "https://hooks.example.com/otpgate", "rotate": "1"})
    page = c.follow(r)
    secret2 = re.search(r'id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)<', page.text).group(1)
    assert secret2 != secret
