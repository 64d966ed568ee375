#!/usr/bin/python3
"""Prepares the users that bench/run.sh's verify targets need.

  prepare.py enrol  URL APP_JSON OUT_DIR   (users, TOTP factors, first codes)
  prepare.py refill URL APP_JSON OUT_DIR   (a fresh set of codes for each user)

enrol gives each of BENCH_USERS users (default 7000) an active TOTP factor
through the JSON API: POST /api/v1/users/{sub}/factors {"type":"totp"}, then
POST .../factors/{id}/verify with the current code, computed here (RFC 6238,
SHA-1, 6 digits, 30 s). That first active factor answers the user's 10
recovery codes. refill asks POST /api/v1/users/{sub}/recovery-codes for every
user of valid.txt (voiding the set a run used up).

Every fifth user (WRONG_EVERY) is kept for wrong codes and the others for
right ones. A success resets the user's failure count, which writes the
user's row: had the same users taken both, every right code after a
verify-invalid run would pay for that write, and verify-valid's figure would
depend on which target ran before it. Spread through the users table, the
wrong-code users still fall on as many of its pages a commit as before.
With fewer than five users, all of them take both.

Writes into OUT_DIR:
  auth.txt     the Authorization header value ("Basic ...") of the app
  subs.txt     the subs of valid.txt's users, one a line (refill's list)
  valid.txt    "sub code" per unused recovery code of those users, shuffled
               (10 lines a user)
  invalid.txt  "sub code" per wrong-code user, shuffled: six digits that are
               not the user's TOTP code in any step from 2 minutes ago to 2
               hours ahead (enrol only)

APP_JSON is the file holding `otpgate app add`'s answer
({"client_id","client_secret"}). Debian's python3, standard library only.
Environment: BENCH_USERS (default 7000; bench/run.sh always sets it),
BENCH_PREPARE_CONNECTIONS (default 8), BENCH_SUB_PREFIX (default "bench-").
"""

import base64
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import os
import random
import struct
import sys
import threading
import time
import urllib.parse

SUB_PREFIX = os.environ.get("BENCH_SUB_PREFIX", "bench-")
TOTP_STEP = 30
# Steps an invalid code must miss (the server accepts +-1 step around the
# time of the request): from 2 minutes ago to 2 hours ahead, longer than any
# benchmark run.
INVALID_AVOID_STEPS = range(-4, 241)
# Every WRONG_EVERY-th user takes the wrong codes (see the docstring).
WRONG_EVERY = 5


def die(msg):
    print(f"prepare: {msg}", file=sys.stderr)
    sys.exit(1)


def totp_key(secret_b32):
    return base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))


def totp(key, step):
    digest = hmac.digest(key, struct.pack(">Q", step), hashlib.sha1)
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1000000:06d}"


def invalid_code(key):
    now = int(time.time()) // TOTP_STEP
    taken = {totp(key, now + d) for d in INVALID_AVOID_STEPS}
    n = 0
    while f"{n:06d}" in taken:
        n += 1
    return f"{n:06d}"


class Client:
    """One keep-alive connection per worker thread."""

    def __init__(self, url, auth):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            die(f"not an http URL: {url}")
        self.host, self.port = u.hostname, u.port or 80
        self.headers = {"Authorization": auth, "Content-Type": "application/json"}
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.local.conn = c
        return c

    def post(self, path, body, expect):
        data = json.dumps(body).encode() if body is not None else b""
        for attempt in range(8):
            c = self._conn()
            try:
                c.request("POST", path, body=data, headers=self.headers)
                r = c.getresponse()
                text = r.read()
            except (OSError, http.client.HTTPException):
                # The server closed an idle keep-alive connection: reconnect.
                c.close()
                self.local.conn = None
                if attempt == 7:
                    raise
                continue
            if r.status == 503 and attempt < 7:
                # Try again later, as the answer says (on PostgreSQL, a
                # request that kept meeting others' transactions).
                time.sleep(float(r.getheader("Retry-After") or 1))
                continue
            if r.status != expect:
                raise RuntimeError(f"POST {path}: {r.status} {text[:300]!r}")
            return json.loads(text) if text else {}
        raise RuntimeError("unreachable")


def sub_path(sub):
    return "/api/v1/users/" + urllib.parse.quote(sub, safe="")


def enrol_one(client, sub):
    f = client.post(sub_path(sub) + "/factors", {"type": "totp"}, 201)
    secret, fid = f.get("secret"), f.get("id")
    if not secret or not fid:
        raise RuntimeError(f"{sub}: no secret or id in the factor answer")
    key = totp_key(secret)
    code = totp(key, int(time.time()) // TOTP_STEP)
    v = client.post(f"{sub_path(sub)}/factors/{urllib.parse.quote(fid, safe='')}/verify",
                    {"code": code}, 200)
    codes = v.get("recovery_codes")
    if not isinstance(codes, list) or not codes:
        raise RuntimeError(f"{sub}: the first active factor answered no recovery_codes "
                           "(does the policy offer them?)")
    return sub, codes, invalid_code(key)


def refill_one(client, sub):
    r = client.post(sub_path(sub) + "/recovery-codes", None, 201)
    codes = r.get("codes")
    if not isinstance(codes, list) or not codes:
        raise RuntimeError(f"{sub}: no codes in the recovery-codes answer")
    return sub, codes, None


def write_lines(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.writelines(line + "\n" for line in lines)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("enrol", "refill"):
        die("usage: prepare.py enrol|refill URL APP_JSON OUT_DIR")
    mode, url, app_json, out = sys.argv[1:]
    try:
        users = int(os.environ.get("BENCH_USERS", "7000"))
        conns = int(os.environ.get("BENCH_PREPARE_CONNECTIONS", "8"))
    except ValueError:
        die("BENCH_USERS and BENCH_PREPARE_CONNECTIONS must be numbers")
    if users < 1 or conns < 1:
        die("BENCH_USERS and BENCH_PREPARE_CONNECTIONS must be positive")
    try:
        with open(app_json, encoding="utf-8") as f:
            app = json.load(f)
        cid, csecret = app["client_id"], app["client_secret"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        die(f"cannot read client_id and client_secret from {app_json}: {e}")
    # RFC 6749 2.3.1: id and secret are form-encoded before base64.
    pair = urllib.parse.quote_plus(cid) + ":" + urllib.parse.quote_plus(csecret)
    auth = "Basic " + base64.b64encode(pair.encode()).decode()
    client = Client(url, auth)

    if mode == "enrol":
        subs = [f"{SUB_PREFIX}{i:06d}" for i in range(users)]
        work = enrol_one
    else:
        try:
            with open(os.path.join(out, "subs.txt"), encoding="ascii") as f:
                subs = [line.strip() for line in f if line.strip()]
        except OSError as e:
            die(f"refill needs enrol's subs.txt: {e}")
        work = refill_one

    t0 = time.monotonic()
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=conns) as pool:
        try:
            for res in pool.map(lambda s: work(client, s), subs):
                results.append(res)
        except Exception as e:  # pylint: disable=broad-except
            pool.shutdown(wait=True, cancel_futures=True)
            die(f"{mode} failed: {e}")
    elapsed = time.monotonic() - t0

    wrong = []
    if mode == "enrol":
        wrong = results[WRONG_EVERY - 1 :: WRONG_EVERY]
        results = [r for i, r in enumerate(results) if i % WRONG_EVERY != WRONG_EVERY - 1]
    valid = [f"{sub} {code}" for sub, codes, _ in results for code in codes]
    random.shuffle(valid)
    write_lines(os.path.join(out, "valid.txt"), valid)
    if mode == "enrol":
        write_lines(os.path.join(out, "subs.txt"), [sub for sub, _, _ in results])
        # Shuffled like valid.txt: wrong codes come from users in no order,
        # and users made one after another share pages of the users table,
        # so taking them in order would let a commit write far fewer pages.
        invalid = [f"{sub} {bad}" for sub, _, bad in wrong or results]
        random.shuffle(invalid)
        write_lines(os.path.join(out, "invalid.txt"), invalid)
        write_lines(os.path.join(out, "auth.txt"), [auth])
    requests = len(subs) * (2 if mode == "enrol" else 1)
    kept = f" ({len(wrong)} of them for wrong codes)" if wrong else ""
    print(f"prepare: {mode}: {len(subs)} users{kept}, {len(valid)} recovery codes, {requests} "
          f"requests over {conns} connections in {elapsed:.2f}s "
          f"({requests / elapsed:.0f} req/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
