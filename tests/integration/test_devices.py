"""Remembered devices over plain HTTP: the cookie's flags, the gate letting
a remembered browser through with an honest result, /start's max_age and
prompt=login, the API (GET and DELETE /api/v1/users/{sub}/devices) and
`otpgate user forget-devices`, and a stolen cookie worth nothing for
another user. (The browser suites walk the same in Chromium.)"""

import re
import urllib.parse

import pytest

from apiclient import REDIRECT, gw, totp, settle_totp_step  # noqa: F401
from pagewalk import PageBrowser, is_success, jwt_claims, start_link

PUBLIC = "http://127.0.0.1:8080"


def csrf_of(r):
    return re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)


def link(app, sub, **over):
    return start_link(PUBLIC, app.client_id, app.secret, sub, REDIRECT, **over)


def result(r):
    q = urllib.parse.parse_qs(urllib.parse.urlparse(r.header("Location")).query)
    return jwt_claims(q["otpgate_result"][0])


@pytest.fixture
def dev(gw):
    app = gw.add_app("Devices app")
    gw.policy("remember_device_days=30")
    gw.start()
    return gw, app


def sign_in(b, app, sub, secret, fid, remember, offset=0, **over):
    """Passes the TOTP challenge; returns the answer that goes back."""
    r = b.get(link(app, sub, **over))
    assert "/challenge/verify" in r.text, r.text[:300]
    fields = {"csrf": csrf_of(r), "factor_id": fid, "code": totp(secret, offset)}
    if remember:
        assert 'name="remember"' in r.text
        fields["remember"] = "1"
    r = b.post("/challenge/verify", fields, follow=False)
    assert is_success(r.header("Location"), REDIRECT), r
    return r


@pytest.mark.sqlite_only
def test_remembered_browser_comes_back_without_a_step(dev):
    gw, app = dev
    settle_totp_step(10)
    fid, secret, _, _ = app.enrol_totp("alice")
    b = PageBrowser(gw.server, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    r = sign_in(b, app, "alice", secret, fid, remember=True, offset=30)
    first = result(r)
    cookie = [v for k, v in r.headers if k.lower() == "set-cookie" and "otpgate_device=" in v][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=2592000" in cookie
    assert "Secure" not in cookie  # an http:// public URL
    token = cookie.split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)

    r = b.get(link(app, "alice"), follow=False)
    r = b.get(r.header("Location"), follow=False)  # /flow
    c = result(r)
    assert c["acr"] == "urn:otpgate:acr:remembered" and c["amr"] == ["remembered"]
    assert c["mfa"] is False and c["auth_time"] == first["auth_time"]

    # the API lists it; the token is nowhere in the answer or the database
    a = app.get("/users/alice/devices")
    assert a.status == 200 and len(a.json["devices"]) == 1, a
    d = a.json["devices"][0]
    assert d["user_agent"] == "Firefox on Linux" and d["scope"] == "app"
    assert token not in a.body.decode()
    import sqlite3
    db = sqlite3.connect(gw.data_dir + "/otpgate.db")
    assert not any(token.encode() in bytes(row[0]) or token in str(row)
                   for row in db.execute("SELECT token_hash, id, user_agent FROM devices"))
    db.close()

    # /start's max_age=0 and prompt=login ask again
    for over in ({"max_age": 0}, {"prompt": "login"}):
        r = b.get(link(app, "alice", **over))
        assert "/challenge/verify" in r.text, over
    r = b.get(link(app, "alice", max_age=3600), follow=False)
    assert is_success(b.get(r.header("Location"), follow=False).header("Location"), REDIRECT)

    # a stolen cookie is worth nothing for another user
    fid2, secret2, _, _ = app.enrol_totp("bob")
    thief = PageBrowser(gw.server)
    thief.cookies["otpgate_device"] = token
    r = thief.get(link(app, "bob"))
    assert "/challenge/verify" in r.text

    # DELETE forgets it at once
    a = app.delete("/users/alice/devices")
    assert a.status == 204
    assert app.get("/users/alice/devices").json["devices"] == []
    r = b.get(link(app, "alice"))
    assert "/challenge/verify" in r.text


def test_cli_forgets_devices(dev, run_cli):
    gw, app = dev
    settle_totp_step(10)
    fid, secret, _, _ = app.enrol_totp("carol")
    b = PageBrowser(gw.server)
    sign_in(b, app, "carol", secret, fid, remember=True, offset=30)
    p = gw.cli("user", "forget-devices", "carol", "--app", app.client_id)
    assert "forgot 1 remembered devices" in p.stdout
    r = b.get(link(app, "carol"))
    assert "/challenge/verify" in r.text
    p = gw.cli("user", "forget-devices", "--help")
    assert "Ends every remembered device" in p.stdout
    p = gw.cli("user", "forget-devices", "nobody", "--app", app.client_id, check=False)
    assert p.returncode != 0 and "nobody" in p.stderr


def test_no_checkbox_and_no_skip_when_the_policy_is_off(dev):
    gw, app = dev
    gw.policy("remember_device_days=0")
    settle_totp_step(10)
    fid, secret, _, _ = app.enrol_totp("dave")
    b = PageBrowser(gw.server)
    r = b.get(link(app, "dave"))
    assert 'name="remember"' not in r.text
    # a posted remember=1 makes nothing
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid,
                                     "code": totp(secret, 30), "remember": "1"}, follow=False)
    assert is_success(r.header("Location"), REDIRECT), r
    assert not any("otpgate_device" in v for k, v in r.headers if k.lower() == "set-cookie")
    assert app.get("/users/dave/devices").json["devices"] == []


def test_api_devices_need_client_auth(dev):
    gw, app = dev
    a = app.get("/users/alice/devices", auth=False)
    assert a.status == 401
    other = gw.add_app("Other")
    assert other.get("/users/alice/devices").json["devices"] == []


def test_scope_all_devices_are_not_another_apps_business(gw):
    """A browser remembered with remember_device_scope=all is seen and
    forgotten only by apps whose scope is all too: an app remembering per
    app (or not at all) neither lists its IP and browser nor ends it, by
    the API or by its own user's lock or reset, since its "dana" may be
    somebody else."""
    shared = gw.add_app("Shared")
    other = gw.add_app("Other")
    gw.policy("remember_device_days=30", "remember_device_scope=all", app=shared)
    gw.start()
    settle_totp_step(10)
    fid, secret, _, _ = shared.enrol_totp("dana")
    b = PageBrowser(gw.server)
    sign_in(b, shared, "dana", secret, fid, remember=True, offset=30)
    assert [d["scope"] for d in shared.get("/users/dana/devices").json["devices"]] == ["all"]

    other.enrol_totp("dana")  # another app's user of the same name
    a = other.get("/users/dana/devices")
    assert a.status == 200 and a.json["devices"] == [], a
    assert other.delete("/users/dana/devices").status == 204
    gw.cli("user", "reset", "dana", "--app", other.client_id)
    assert len(shared.get("/users/dana/devices").json["devices"]) == 1
    r = b.get(link(shared, "dana"), follow=False)
    r = b.get(r.header("Location"), follow=False)
    assert is_success(r.header("Location"), REDIRECT), r
    assert result(r)["acr"] == "urn:otpgate:acr:remembered"


def test_with_https_the_device_cookie_is_host_only(gw):
    """Behind https the cookie is __Host-otpgate_device (Secure, Path=/, no
    Domain), so a sibling subdomain or a plain-http answer cannot plant a
    token it knows in the browser; a plain otpgate_device is not read."""
    public = "https://otp.example"
    app = gw.add_app("Devices app")
    gw.policy("remember_device_days=30")
    gw.start(env={"OTPGATE_PUBLIC_URL": public})
    settle_totp_step(10)
    fid, secret, _, _ = app.enrol_totp("hana")

    def link_https(sub):
        return start_link(public, app.client_id, app.secret, sub, REDIRECT)

    b = PageBrowser(gw.server)
    r = b.get(link_https("hana"))
    r = b.post("/challenge/verify", {"csrf": csrf_of(r), "factor_id": fid, "code": totp(secret, 30),
                                     "remember": "1"}, follow=False)
    assert is_success(r.header("Location"), REDIRECT), r
    cookie = [v for k, v in r.headers if k.lower() == "set-cookie" and "otpgate_device=" in v][0]
    assert cookie.startswith("__Host-otpgate_device=") and "; Secure" in cookie
    assert "Path=/;" in cookie and "Domain" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    # The host-only cookie lets the browser through ...
    r = b.get(link_https("hana"), follow=False)
    r = b.get(r.header("Location"), follow=False)
    assert is_success(r.header("Location"), REDIRECT), r
    # ... the same token under the plain name, as a planted cookie would be, does not.
    planted = PageBrowser(gw.server)
    planted.cookies["otpgate_device"] = token
    assert "/challenge/verify" in planted.get(link_https("hana")).text
