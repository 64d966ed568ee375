"""Pages that never leave a user stuck, over plain HTTP (issue #13): the
home page says what to do next; unknown paths and wrong methods answer a
page in the site's layout and the browser's language (JSON under /api/,
plain text for clients that do not ask for HTML); the development outbox
shows each message with its code and serves an e-mail's HTML part only
under a CSP sandbox; mistyped phone numbers and addresses come back with
the typed value and the error beside the field (422); the country picker
starts from the browser's region; an early "Send again" says when, and a
code out of tries says to send a new one, which "Send again" then does.
(tests/browser/wayfinding.test.mjs drives the same in Chromium.)"""

import json
import re

import pytest

from test_pages_http import Browser, csrf_of, location, make_link  # noqa: F401

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def gw(make_server, run_cli, tmp_path):
    data = str(tmp_path / "data")
    p = run_cli(["app", "add", "--name", "Acme Shop", "--redirect-uri",
                 "http://127.0.0.1:3000/cb"], env={"OTPGATE_DATA_DIR": data})
    assert p.returncode == 0, p.stderr
    app = json.loads(p.stdout)

    def cli(*args):
        q = run_cli(list(args), env={"OTPGATE_DATA_DIR": data})
        assert q.returncode == 0, q.stderr
        return q

    srv = make_server(env={"OTPGATE_DATA_DIR": data}, data_dir=data)
    return srv, app, cli


def outbox(srv):
    return srv.dev_outbox()


def h1(r):
    m = re.search(r"<h1>(.*?)</h1>", r.text)
    return m.group(1) if m else None


# ---- the home page and the error pages ---------------------------------------


def test_home_page_says_what_to_do_next(gw):
    srv, _, _ = gw
    r = srv.get("/", headers=HTML)
    assert r.status == 200
    assert "otpgate app add --name" in r.text  # register an app
    assert "<code>make demo</code>" in r.text  # development only
    assert 'href="/dev/outbox"' in r.text
    assert 'href="/admin"' in r.text and "otpgate admin add NAME" in r.text
    r = srv.get("/", headers={**HTML, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in r.text and "接下来" in r.text


@pytest.mark.parametrize("path", ["/no/such/page", "/static/no-such.css", "/account/typo"])
def test_unknown_paths_get_the_site_layout_in_the_browsers_language(gw, path):
    srv, _, _ = gw
    r = srv.get(path, headers=HTML)
    assert r.status == 404
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert h1(r) == "Page not found"
    assert 'href="/static/css/otpgate.css"' in r.text and '<html lang="en">' in r.text
    csp = r.header("Content-Security-Policy")
    assert csp and "unsafe-inline" not in csp and r.header("X-Frame-Options") == "DENY"
    r = srv.get(path, headers={**HTML, "Accept-Language": "zh-CN"})
    assert r.status == 404 and h1(r) == "找不到该页面"
    # the language switch's cookie wins over the header
    r = srv.get(path, headers={**HTML, "Accept-Language": "zh-CN", "Cookie": "otpgate_lang=en"})
    assert h1(r) == "Page not found"


def test_non_browsers_and_the_api_keep_their_errors(gw):
    srv, _, _ = gw
    r = srv.get("/no/such/page")  # no Accept: text/html (curl, scripts)
    assert r.status == 404 and r.header("Content-Type").startswith("text/plain")
    r = srv.get("/api/v1/no/such", headers=HTML)
    assert r.status == 404 and r.header("Content-Type") == "application/json"
    assert json.loads(r.body)["error"] == "not_found"
    r = srv.get("/static/no-such.css")
    assert r.status == 404 and r.text.strip() == "no such file"


def test_a_form_address_opened_directly_explains_itself(gw):
    srv, _, _ = gw
    r = srv.get("/challenge/verify", headers=HTML)
    assert r.status == 405 and r.header("Allow") == "POST"
    assert h1(r) == "This page cannot be opened directly"
    r = srv.get("/challenge/verify")
    assert r.status == 405 and r.header("Content-Type").startswith("text/plain")


# ---- the development outbox --------------------------------------------------


def bind_email(b, address):
    r = b.get("/account/add/email")
    r = b.post("/account/add/email", {"csrf": csrf_of(r), "email": address})
    assert r.status == 303 and "step=2" in location(r), r
    r = b.get(location(r))
    return r, re.search(r'name="factor_id" value="([^"]+)"', r.text).group(1)


@pytest.mark.single_instance  # the outbox page and its ids are one process's
def test_outbox_shows_codes_and_the_html_part_only_sandboxed(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "alice"))
    r, fid = bind_email(b, "alice@example.com")
    # in development the code page points at the outbox
    assert 'href="/dev/outbox"' in r.text
    enrol = outbox(srv)[0]
    assert enrol["code"] and enrol["code"] in enrol["text"]
    assert enrol["html_url"] == "/dev/outbox/%d/html" % enrol["id"]
    r = b.post("/account/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": enrol["code"]})
    assert r.status == 303

    # a sign-in code: a different e-mail, listed first (newest first)
    b2 = Browser(srv)
    b2.get(make_link(app, "alice"))
    r = b2.get("/challenge")
    r = b2.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    assert r.status == 303
    login = outbox(srv)[0]
    assert login["id"] > enrol["id"]
    assert login["subject"] != enrol["subject"] and login["text"] != enrol["text"]
    assert "two-step verification" in enrol["text"]
    assert "two-step verification" not in login["text"]

    page = srv.get("/dev/outbox", headers=HTML)
    assert page.status == 200
    assert page.text.index("code-%d" % login["id"]) < page.text.index("code-%d" % enrol["id"])
    assert '<mark class="code" id="code-%d">%s</mark>' % (login["id"], login["code"]) in page.text
    assert '<iframe class="outbox-html" sandbox src="%s"' % login["html_url"] in page.text
    assert 'data-outbox-latest="%d"' % login["id"] in page.text

    part = srv.get(login["html_url"], headers=HTML)
    assert part.status == 200 and part.header("Content-Type") == "text/html; charset=utf-8"
    csp = part.header("Content-Security-Policy")
    assert csp.startswith("sandbox;") and "script-src 'none'" in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert part.header("X-Content-Type-Options") == "nosniff"
    assert login["code"] in part.text and "<script" not in part.text
    for bad in ("/dev/outbox/0/html", "/dev/outbox/999999/html", "/dev/outbox/x1/html",
                "/dev/outbox/-1/html"):
        assert srv.get(bad, headers=HTML).status == 404, bad


def test_outbox_html_parts_are_gone_without_development_delivery(make_server):
    srv = make_server(env={"OTPGATE_DEV": "0"})
    assert srv.get("/dev/outbox/1/html").status == 404
    assert srv.get("/dev/outbox", headers=HTML).status == 404
    assert "/dev/outbox" not in srv.get("/", headers=HTML).text


# ---- binding: what was typed stays, the error sits beside the field ----------


def test_a_bad_address_comes_back_with_the_error_beside_it(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "bob"))
    r = b.get("/account/add/email")
    r = b.post("/account/add/email", {"csrf": csrf_of(r), "email": "bob@"})
    assert r.status == 422
    assert 'value="bob@"' in r.text
    assert 'aria-describedby="email-error" aria-invalid="true"' in r.text
    assert '<p class="field-error" id="email-error">Enter a valid email address.</p>' in r.text
    assert 'role="alert"' not in r.text
    assert outbox(srv) == []


def test_a_bad_number_keeps_the_number_and_the_country(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "carol"))
    r = b.get("/account/add/sms")
    r = b.post("/account/add/sms", {"csrf": csrf_of(r), "country": "de", "phone": "12<3"})
    assert r.status == 422
    assert 'value="12&lt;3"' in r.text
    assert '<option value="de" data-alt="de" selected>Germany (+49)</option>' in r.text
    assert 'aria-describedby="phone-hint phone-error" aria-invalid="true"' in r.text


def test_the_country_picker_starts_from_the_browsers_region(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "dan"))
    for header, iso in (("en-GB,en;q=0.9", "gb"), ("de-DE,de;q=0.9", "de"),
                        ("fr-CA", "ca"), ("de", "de"), (None, "gb")):
        h = b._headers({"Accept-Language": header} if header else None)
        r = b._keep(srv.request("GET", "/account/add/sms", headers=h))
        assert re.search(r'<option value="%s" data-alt="[^"]*" selected>' % iso, r.text), header
        assert r.text.count(" selected>") == 1
    # the ISO code the picker sends reaches the right number
    r = b.get("/account/add/sms")
    r = b.post("/account/add/sms", {"csrf": csrf_of(r), "country": "de", "phone": "1512 3456789"})
    assert r.status == 303, r.text[:300]
    assert outbox(srv)[0]["to"] == "+4915123456789"


# ---- dead codes and early resends --------------------------------------------


def test_an_early_resend_says_when(gw):
    srv, app, _ = gw
    b = Browser(srv)
    b.get(make_link(app, "erin"))
    r, fid = bind_email(b, "erin@example.com")
    r = b.post("/account/resend", {"csrf": csrf_of(r), "factor_id": fid})
    assert r.status == 303 and "e=err.resend_wait" in location(r), location(r)
    r = b.get(location(r))
    assert re.search(r"A new code can be sent in (\d+) seconds\. The code we sent before still "
                     r"works\.", r.text), r.text
    assert "Too many codes sent" not in r.text
    assert len(outbox(srv)) == 1


def test_a_code_out_of_tries_says_so_and_send_again_replaces_it(gw):
    srv, app, cli = gw
    cli("policy", "set", "max_attempts=3")
    b = Browser(srv)
    b.get(make_link(app, "fay"))
    r, fid = bind_email(b, "fay@example.com")
    csrf = csrf_of(r)
    first = outbox(srv)[0]["code"]
    wrong = "000000" if first != "000000" else "111111"
    for _ in range(3):
        r = b.post("/account/verify", {"csrf": csrf, "factor_id": fid, "code": wrong})
    assert "e=err.wrong_code_dead" in location(r), location(r)
    r = b.get(location(r))
    assert "it no longer works. Send a new code." in r.text
    assert "Tries left: 0" not in r.text
    assert 'data-resend-after="0"' in r.text  # "Send again" works at once
    r = b.post("/account/resend", {"csrf": csrf_of(r), "factor_id": fid})
    assert r.status == 303 and "n=notice.code_sent" in location(r), location(r)
    fresh = outbox(srv)[0]["code"]
    assert len(outbox(srv)) == 2
    r = b.post("/account/verify", {"csrf": csrf, "factor_id": fid, "code": fresh})
    assert r.status == 303 and location(r).startswith("/account/recovery-codes")
    # the notice names the method
    r = b.get(location(r))
    assert "Email added for f•••@example.com." in r.text


def test_a_dead_sign_in_code_offers_a_new_one(gw):
    srv, app, cli = gw
    b = Browser(srv)
    b.get(make_link(app, "gus"))
    r, fid = bind_email(b, "gus@example.com")
    r = b.post("/account/verify", {"csrf": csrf_of(r), "factor_id": fid,
                                   "code": outbox(srv)[0]["code"]})
    cli("policy", "set", "max_attempts=2")
    b2 = Browser(srv)
    b2.get(make_link(app, "gus"))
    r = b2.get("/challenge")
    r = b2.post("/challenge/send", {"csrf": csrf_of(r), "factor_id": fid})
    r = b2.get(location(r))
    code = outbox(srv)[0]["code"]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(2):
        r = b2.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": wrong})
        r = b2.get(location(r))
    assert "it no longer works. Send a new code." in r.text
    # the page offers "Send code" again, not the dead code's form
    assert 'action="/challenge/send"' in r.text and 'action="/challenge/verify"' not in r.text
