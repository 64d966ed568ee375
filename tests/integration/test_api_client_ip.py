"""The end user's address in the JSON API (SPEC §4, §6): the per-IP send
cap counts the `client_ip` an app passes, never the calling app server's own
address (nor an X-Forwarded-For it sends); `client_ip` and `user_agent` go
into the audit trail; malformed ones are a 400."""

import pytest

from apiclient import gw, metric_value, q  # noqa: F401


def add_email(app, sub, client=None, headers=None):
    body = {"type": "email", "email": "%s@example.com" % sub}
    body.update(client or {})
    return app.call("POST", "/users/%s/factors" % q(sub), body, headers=headers)


def assert_ip_limited(gw, r):
    assert r.status == 429 and r.error == "rate_limited", r
    assert r.header("Retry-After") and int(r.header("Retry-After")) > 3000, r.headers


def test_the_app_servers_own_address_never_counts(gw):
    """The attack: one app server sends for many users; on a per-IP count of
    its own address every user of every app calling from it got 429."""
    shop = gw.add_app("Shop")
    bank = gw.add_app("Bank")
    gw.policy("sends_per_ip_hour=3")
    gw.start()
    for i in range(5):
        assert add_email(shop, "s%d" % i).status == 201
    for i in range(5):
        assert add_email(bank, "b%d" % i).status == 201
    assert len(gw.outbox()) == 10
    # Challenges too (login sends), from the same server.
    shop.enrol_email("alice", "alice@example.com")
    for _ in range(4):
        c = shop.post("/challenges", {"sub": "alice"})
        assert c.status == 201, c
    m = gw.metrics()
    assert metric_value(m, "otpgate_rate_limit_refusals_total", {"limit": "ip_hour"}) == 0, m


def test_forwarded_for_from_the_app_server_is_not_the_end_user(gw):
    # Even behind a trusted proxy, what arrives at the API is the app server.
    app = gw.add_app()
    gw.policy("sends_per_ip_hour=2")
    gw.start(env={"OTPGATE_TRUSTED_PROXIES": "127.0.0.1/32"})
    for i in range(4):
        r = add_email(app, "u%d" % i, headers={"X-Forwarded-For": "203.0.113.7"})
        assert r.status == 201, r


def test_client_ip_is_counted_per_end_user(gw):
    app = gw.add_app()
    other = gw.add_app("Other")
    gw.policy("sends_per_ip_hour=2")
    gw.start()
    ip = {"client_ip": "203.0.113.7"}
    assert add_email(app, "u1", ip).status == 201
    # Another app passing the same end user's address shares the count.
    assert add_email(other, "u2", ip).status == 201
    assert_ip_limited(gw, add_email(app, "u3", ip))
    # The same address spelled as IPv4-mapped IPv6 is the same end user.
    assert_ip_limited(gw, add_email(app, "u3", {"client_ip": "::ffff:203.0.113.7"}))
    # Other end users are not held back, nor calls that name none.
    assert add_email(app, "u3", {"client_ip": "203.0.113.8"}).status == 201
    assert add_email(app, "u4").status == 201
    assert add_email(app, "u5", {"client_ip": None}).status == 201
    # IPv6: one address in its spellings.
    assert add_email(app, "v1", {"client_ip": "2001:DB8::1"}).status == 201
    assert add_email(app, "v2", {"client_ip": "2001:db8:0:0:0:0:0:1"}).status == 201
    assert_ip_limited(gw, add_email(app, "v3", {"client_ip": "2001:0db8::0001"}))
    # ... and any other address of its /64, which its holder picks at will;
    # the next /64 is somebody else.
    assert_ip_limited(gw, add_email(app, "v3", {"client_ip": "2001:db8::dead:beef:1:2"}))
    assert add_email(app, "w1", {"client_ip": "2001:db8:0:1::1"}).status == 201
    m = gw.metrics()
    assert metric_value(m, "otpgate_rate_limit_refusals_total", {"limit": "ip_hour"}) == 4, m
    # No address in the clear where limits are kept: the refused adds left
    # no factor behind.
    assert [f["status"] for f in app.factors("u3")["factors"]] == ["pending"]


def test_challenges_and_resends_count_the_end_user(gw):
    app = gw.add_app()
    gw.policy("sends_per_ip_hour=3", "resend_cooldown=0", "sends_per_dest_hour=20",
              "sends_per_user_hour=20")
    gw.start()
    fid, _ = app.enrol_email("alice", "alice@example.com")  # no client_ip: not counted
    ip = {"client_ip": "198.51.100.20"}
    c = app.post("/challenges", dict(sub="alice", **ip))
    assert c.status == 201, c
    # The resend takes an optional body with the end user's address.
    r = app.post("/challenges/%s/resend" % c.json["id"], ip)
    assert r.status == 202, r
    r = app.post("/challenges/%s/resend" % c.json["id"], ip)
    assert r.status == 202, r
    r = app.post("/challenges/%s/resend" % c.json["id"], ip)
    assert_ip_limited(gw, r)
    r = app.post("/challenges", dict(sub="alice", **ip))
    assert_ip_limited(gw, r)
    # Without a body (or another end user) the resend goes out.
    assert app.post("/challenges/%s/resend" % c.json["id"]).status == 202
    r = app.post("/challenges/%s/resend" % c.json["id"], {"client_ip": "198.51.100.21"})
    assert r.status == 202, r
    r = app.post("/challenges/%s/resend" % c.json["id"], raw_body=b"not json")
    assert r.status == 400 and r.error == "invalid_json", r


def test_audit_records_the_end_user_not_the_app_server(gw):
    app = gw.add_app()
    gw.start()
    ua = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0 \u00e9"
    who = {"client_ip": "203.0.113.9", "user_agent": ua}
    a = app.post("/users/alice/factors", dict(type="email", email="alice@example.com", **who))
    assert a.status == 201, a
    v = app.post("/users/alice/factors/%s/verify" % a.json["id"],
                 dict(code=gw.code_for("alice@example.com"), **who))
    assert v.status == 200, v
    codes = v.json["recovery_codes"]
    c = app.post("/challenges", {"sub": "alice", "client_ip": "2001:db8::7"})
    assert c.status == 201, c
    bad = app.post("/challenges/%s/verify" % c.json["id"],
                   {"code": "000000" if gw.code_for("alice@example.com") != "000000"
                    else "111111", "client_ip": "2001:db8::7", "user_agent": "curl/8"})
    assert bad.status == 422, bad
    r = app.post("/users/alice/verify", {"code": codes[0], "client_ip": "192.0.2.44"})
    assert r.status == 200, r
    # A call without them records neither (never 127.0.0.1, the app server).
    r = app.post("/users/alice/verify", {"code": codes[1]})
    assert r.status == 200, r

    rows = gw.audit()
    assert rows, rows
    assert all(row["client_ip"] != "127.0.0.1" for row in rows), rows
    added = gw.audit("factor_added")[0]
    assert (added["client_ip"], added["user_agent"]) == ("203.0.113.9", ua), added
    sent = gw.audit("code_sent")
    assert [(s["client_ip"], s["user_agent"]) for s in sent] == \
        [("203.0.113.9", ua), ("2001:db8::7", None)], sent
    failed = gw.audit("verify_failed")[0]
    assert (failed["client_ip"], failed["user_agent"]) == ("2001:db8::7", "curl/8"), failed
    used = gw.audit("recovery_code_used")
    assert [(u["client_ip"], u["user_agent"]) for u in used] == \
        [("192.0.2.44", None), (None, None)], used


@pytest.mark.parametrize("value", [
    "", "localhost", "203.0.113", "203.0.113.7.1", "203.0.113.256", " 203.0.113.7",
    "203.0.113.7/32", "fe80::1%eth0", "2001:db8::1::2", "x" * 100,
    42, True, ["203.0.113.7"], {"ip": "203.0.113.7"},
])
def test_malformed_client_ip_is_400(gw, value):
    app = gw.add_app()
    gw.start()
    paths = [
        ("/users/alice/factors", {"type": "email", "email": "alice@example.com"}),
        ("/challenges", {"sub": "alice"}),
        ("/challenges/ch_x/resend", {}),
        ("/challenges/ch_x/verify", {"code": "123456"}),
        ("/users/alice/verify", {"code": "123456"}),
        ("/users/alice/factors/f_x/verify", {"code": "123456"}),
    ]
    for path, body in paths:
        body = dict(body, client_ip=value)
        r = app.post(path, body)
        assert r.status == 400 and r.error == "invalid_client_ip", (path, r)
        assert r.json["message"], r
    assert gw.outbox() == []
    assert app.factors("alice")["factors"] == []


@pytest.mark.parametrize("value", [
    "", "x" * 513, "bad\nagent", "tab\there", "del\u007f", "c1\u0085",
    7, False, ["curl"],
])
def test_malformed_user_agent_is_400(gw, value):
    app = gw.add_app()
    gw.start()
    r = app.post("/users/alice/factors",
                 {"type": "email", "email": "alice@example.com", "user_agent": value})
    assert r.status == 400 and r.error == "invalid_user_agent", r
    assert gw.outbox() == []


def test_longest_user_agent_is_kept(gw):
    app = gw.add_app()
    gw.start()
    ua = "a" * 510 + "\u00e9"  # 512 bytes of UTF-8
    r = app.post("/users/alice/factors",
                 {"type": "email", "email": "alice@example.com", "user_agent": ua})
    assert r.status == 201, r
    assert gw.audit("factor_added")[0]["user_agent"] == ua
