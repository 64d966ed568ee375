"""The JSON API with email factors (SPEC §4, §6): enrolment with a code from
the development outbox, challenges, resends, the factor list, preferred and
removal. The checks shared with SMS live in apiclient.ContactFactorSuite."""

from apiclient import BULLET, EMAIL, ContactFactorSuite, code_in, gw  # noqa: F401


class TestEmail(ContactFactorSuite):
    ch = EMAIL


def test_email_is_trimmed_and_domain_lower_cased(gw):
    app = gw.add_app()
    gw.start()
    a = app.add_email("alice", "  Alice.Smith@Mail.Example.COM ")
    assert a.json["destination"] == "A" + BULLET * 3 + "@mail.example.com", a
    m = gw.outbox()[0]
    assert m["to"] == "Alice.Smith@mail.example.com", m
    assert m["channel"] == "email" and m["subject"], m
    assert code_in(m) in m["subject"], m
    v = app.verify_factor("alice", a.json["id"], code_in(m))
    assert v.status == 200, v
    # The same address written differently is the same factor.
    dup = app.add_email("alice", "Alice.Smith@MAIL.example.com", expect=409)
    assert dup.error == "conflict", dup


def test_email_message_language_follows_accept_language(gw):
    app = gw.add_app("Shop")
    gw.start()
    a = app.call("POST", "/users/alice/factors", {"type": "email", "email": "li@example.com"},
                 headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert a.status == 201, a
    m = gw.outbox()[0]
    assert "验证码" in m["subject"] + m["text"], m
    assert app.verify_factor("alice", a.json["id"], code_in(m)).status == 200


def test_code_digits_policy(gw):
    import re
    app = gw.add_app()
    gw.policy("code_digits=8")
    gw.start()
    a = app.add_email("alice", "alice@example.com").json
    m = gw.outbox()[0]
    codes = set(re.findall(r"(?<!\d)(\d{8})(?!\d)", m["text"]))
    assert len(codes) == 1, m
    code = codes.pop()
    assert not re.search(r"(?<!\d)\d{6}(?!\d)", m["text"]), m
    r = app.verify_factor("alice", a["id"], code[:6])
    assert r.status == 422, r
    r = app.verify_factor("alice", a["id"], code[:4] + " " + code[4:])
    assert r.status == 200, r
