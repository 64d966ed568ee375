"""A small browser for the end-user pages without a browser: cookies, the
pages' forms and links read with html.parser, and a crawler that walks
every form and link reachable in one session, entering only wrong codes,
and records every answer that sends the user back to the app.

    b = PageBrowser(server)
    b.get(start_link)                  # follows redirects inside otpgate
    returns = walk(b, app_prefix)      # [(request, location)] back to the app
"""

import base64
import hashlib
import hmac
import html.parser
import json
import os
import time
import urllib.parse


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hs256(claims, secret):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest())
    return head + "." + body + "." + sig


def jwt_claims(token):
    return json.loads(unb64(token.split(".")[1]))


def start_link(audience, client_id, secret, sub, return_to, purpose="login", **over):
    """/start?token=... for sub, signed like an app would."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": sub, "aud": audience, "iat": now, "exp": now + 300,
              "jti": b64(os.urandom(12)), "return_to": return_to, "state": "st-1",
              "purpose": purpose}
    claims.update(over)
    return "/start?token=" + hs256(claims, secret)


def authorize_url(issuer, client_id, secret, sub, redirect_uri, prompt=None, **over):
    """/authorize with a signed request object (RFC 9101), every value in the
    object as an OIDC client would send it."""
    now = int(time.time())
    claims = {"iss": client_id, "aud": issuer, "client_id": client_id, "response_type": "code",
              "redirect_uri": redirect_uri, "scope": "openid", "login_hint": sub,
              "nonce": b64(os.urandom(8)), "state": "st-oidc",
              "code_challenge": b64(hashlib.sha256(b"v" * 43).digest()),
              "code_challenge_method": "S256", "iat": now, "exp": now + 300,
              "jti": b64(os.urandom(12))}
    if prompt:
        claims["prompt"] = prompt
    claims.update(over)
    q = {"client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri,
         "scope": "openid", "state": "st-oidc", "request": hs256(claims, secret)}
    return "/authorize?" + urllib.parse.urlencode(q)


class _Forms(html.parser.HTMLParser):
    """Forms (action, method, fields) and same-origin links of a page."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self.links = []
        self._form = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": (a.get("method") or "get").lower(),
                          "fields": [], "buttons": []}
            self.forms.append(self._form)
        elif tag == "a" and a.get("href", "").startswith("/") and not a["href"].startswith("//"):
            self.links.append(a["href"])
        elif self._form is not None and tag == "input":
            t = (a.get("type") or "text").lower()
            if t in ("submit", "button"):
                return
            if t in ("checkbox", "radio") and "checked" not in a:
                self._form["fields"].append((a.get("name"), None, t))
                return
            self._form["fields"].append((a.get("name"), a.get("value", ""), t))
        elif self._form is not None and tag == "select":
            self._select = [a.get("name"), None]
            self._form["fields"].append(self._select)
        elif self._select is not None and tag == "option":
            if self._select[1] is None or "selected" in a:
                self._select[1] = a.get("value", "")
        elif self._form is not None and tag == "button":
            if a.get("name"):
                self._form["buttons"].append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def parse_page(text):
    p = _Forms()
    p.feed(text)
    forms = []
    for f in p.forms:
        fields = []
        for item in f["fields"]:
            name, value = item[0], item[1]
            if name:
                fields.append((name, value if value is not None else "", item[2] if len(item) > 2 else "select"))
        forms.append({"action": f["action"], "method": f["method"], "fields": fields,
                      "buttons": f["buttons"]})
    return forms, p.links


class PageBrowser:
    """Cookies by hand; follows redirects that stay on otpgate and stops at
    one that leaves it (the app's redirect URI), returning that answer."""

    def __init__(self, server, user_agent="pagewalk/1"):
        self.server = server
        self.cookies = {}
        self.user_agent = user_agent
        self.history = []

    def _headers(self, extra=None):
        h = {"User-Agent": self.user_agent}
        h.update(extra or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        return h

    def _keep(self, r):
        for name, value in r.headers:
            if name.lower() == "set-cookie":
                k, v = value.split(";", 1)[0].split("=", 1)
                if "Max-Age=0" in value:
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = v
        return r

    def request(self, method, path, fields=None, follow=True):
        body = None
        extra = {}
        if fields is not None:
            body = urllib.parse.urlencode(fields).encode()
            extra["Content-Type"] = "application/x-www-form-urlencoded"
        r = self._keep(self.server.request(method, path, headers=self._headers(extra), body=body))
        self.history.append((method, path, fields, r.status, r.header("Location")))
        hops = 0
        while follow and r.status in (302, 303) and hops < 10:
            loc = r.header("Location") or ""
            if not loc.startswith("/") or loc.startswith("//"):
                return r  # leaves otpgate: the caller looks at it
            r = self._keep(self.server.request("GET", loc, headers=self._headers()))
            self.history.append(("GET", loc, None, r.status, r.header("Location")))
            hops += 1
        return r

    def get(self, path, follow=True):
        return self.request("GET", path, follow=follow)

    def post(self, path, fields, follow=True):
        return self.request("POST", path, fields, follow=follow)


WRONG = {"code": "000000", "email": "walker@example.com", "phone": "7700 900123"}


def fill(form):
    """A submission of form with wrong codes and harmless values."""
    out = []
    for name, value, kind in form["fields"]:
        if name in WRONG and kind not in ("hidden",):
            out.append((name, WRONG[name]))
        else:
            out.append((name, value))
    return out


def is_success(location, app_prefix):
    """True when location sends the user back to the app with a success
    (an OIDC code or a signed result), not an error."""
    if not location or not location.startswith(app_prefix):
        return False
    q = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    return "code" in q or "otpgate_result" in q


def walk(browser, first, app_prefix, limit=250, skip_actions=("/challenge/cancel",),
         extra_posts=()):
    """Walks every link and form reachable from the answer `first`, entering
    only wrong codes. Returns (successes, visited): successes is a list of
    (what was done, Location) for every answer that sent the user back to
    the app with a success. extra_posts: (action, fields) sent with the
    session's CSRF token at the end, whether or not a page offered them."""
    successes = []
    seen = set()
    queue = [first]
    csrf = None
    steps = 0

    def look(r, what):
        loc = r.header("Location")
        if r.status in (302, 303) and is_success(loc, app_prefix):
            successes.append((what, loc))
        if r.status == 200 and "text/html" in (r.header("Content-Type") or ""):
            queue.append(r)

    while queue and steps < limit:
        r = queue.pop(0)
        forms, links = parse_page(r.text)
        for f in forms:
            for name, value, _ in f["fields"]:
                if name == "csrf" and value:
                    csrf = value
        for link in links:
            if link.startswith("/static/") or link in seen:
                continue
            seen.add(link)
            steps += 1
            look(browser.get(link), ("GET", link))
        for f in forms:
            action = f["action"] or "/"
            if action in skip_actions or not action.startswith("/"):
                continue
            fields = fill(f)
            variants = [fields] + [fields + [b] for b in f["buttons"]]
            for v in variants:
                key = (f["method"], action, tuple(sorted((k, val) for k, val in v if k != "csrf")))
                if key in seen:
                    continue
                seen.add(key)
                steps += 1
                if f["method"] == "post":
                    look(browser.post(action, v), ("POST", action, v))
                else:
                    q = urllib.parse.urlencode(v)
                    look(browser.get(action + ("?" + q if q else "")), ("GET", action, v))
    for action, fields in extra_posts:
        v = list(fields) + ([("csrf", csrf)] if csrf else [])
        look(browser.post(action, v), ("POST", action, v))
    return successes, seen
