"""The JSON API with SMS factors (SPEC §4, §6): E.164 normalisation, masked
numbers, the origin-bound last line of the text, and everything in
apiclient.ContactFactorSuite."""

from apiclient import BULLET, SMS, ContactFactorSuite, code_in, gw  # noqa: F401


class TestSms(ContactFactorSuite):
    ch = SMS


def test_phone_forms_normalise_to_one_e164_number(gw):
    app = gw.add_app()
    gw.start()
    a = app.add_sms("alice", "0044 (20) 7946-0958")
    masked = "+44 " + BULLET * 4 + " " + BULLET * 2 + "09 58"
    assert a.json["destination"] == masked, a
    m = gw.outbox()[0]
    assert m["to"] == "+442079460958" and m["channel"] == "sms", m
    code = code_in(m)
    assert m["text"].endswith("@127.0.0.1 #" + code), m
    assert app.verify_factor("alice", a.json["id"], code).status == 200
    for same in ("+44 20 7946 0958", "+44.20.7946.0958", "00442079460958"):
        dup = app.add_sms("alice", same, expect=409)
        assert dup.error == "conflict", (same, dup)
    lst = app.factors("alice")
    assert [f["destination"] for f in lst["factors"]] == [masked], lst


def test_us_number_mask(gw):
    app = gw.add_app()
    gw.start()
    a = app.add_sms("alice", "+1 (202) 555-0143")
    assert a.json["destination"] == "+1 " + BULLET * 4 + " " + BULLET * 2 + "01 43", a
    assert gw.outbox()[0]["to"] == "+12025550143"


def test_sms_refused_when_policy_allows_only_email(gw):
    app = gw.add_app()
    gw.policy("factors=email")
    gw.start()
    a = app.add_sms("alice", "+44 20 7946 0958", expect=403)
    assert a.error == "factor_not_allowed", a
    t = app.post("/users/alice/factors", {"type": "totp"})
    assert t.status == 403 and t.error == "factor_not_allowed", t
    app.enrol_email("alice", "alice@example.com")
    assert gw.outbox()[0]["channel"] == "email"
    assert len(gw.outbox()) == 1
