#!/usr/bin/python3
"""The delivery benchmark of bench/run.sh: code messages through otpgate to
the test sinks (tests/integration/smtp_sink.py and sms_sink.py), and the
loop's latency while the SMTP server stalls.

  delivery.py [options] URL APP_JSON SMTP_OUT SMS_LOG RESULTS

URL is an otpgate started for this benchmark alone (OTPGATE_DEV=0, e-mail to
the SMTP sink writing SMTP_OUT, SMS through the webhook preset to the SMS
sink logging to SMS_LOG, send limits raised); APP_JSON holds `otpgate app
add`'s answer. bench/run.sh starts all of them; this script only drives and
measures. Phases (--phases, default delivery,stall):

delivery  enrols BENCH_DELIVERY_PER_CHANNEL users (default 500) with an
          e-mail factor and as many with an SMS factor, POST
          /api/v1/users/{sub}/factors, each of which sends one code, as fast
          as BENCH_DELIVERY_CONNECTIONS keep-alive connections (default 16)
          go. It polls the sinks' files (every 10 ms) and otpgate's
          otpgate_outbox_depth until every message arrived (at most
          BENCH_DELIVERY_WAIT seconds, default 45), and reports
          the API's answer rate, messages per second by channel and in all
          (messages over the time from the first request to the last
          arrival), the delivery latency quantiles from otpgate's
          otpgate_delivery_latency_seconds histogram (interpolated within
          its buckets, as Prometheus' histogram_quantile does), and the
          same latency measured at the sinks (from the request to the
          arrival).
stall     runs wrk on /healthz for BENCH_STALL_DURATION seconds (default 10)
          with BENCH_STALL_CONNECTIONS connections (default 16) three
          times: with nothing else going on; while BENCH_STALL_SENDS
          (default 50) e-mail enrolments go in, spread over the run, with
          the SMTP sink accepting; and the same with the sink in its "hang"
          mode (it accepts the connection and never answers; switched by
          writing SMTP_OUT.mode). Each run also gets otpgate's CPU use, its
          loop thread's apart from its other threads' (libuv's pool, where
          the SMTP sends run). Then it puts the sink back to accepting and
          reports the time until the queued messages arrived and the
          outbox is empty (waiting at most BENCH_STALL_DRAIN_WAIT seconds,
          default 30).

RESULTS gets the results block bench/run.sh prints after its table;
--raw-dir gets delivery.json (every figure) and the wrk outputs.
--pid NAME=PID (repeatable) adds a process's CPU use over the delivery
phase to the report. Exit status: 0 measured; 2 measured, but messages
did not all arrive or the outbox did not drain in time (the block says
so); 1 an error (the API refused, a sink or wrk failed).

Debian's python3, standard library only (prepare.py's API client).
"""

import argparse
import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import Client, sub_path  # noqa: E402  pylint: disable=wrong-import-position

CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        v = int(raw)
    except ValueError:
        fail(f"{name} must be a whole number, not {raw!r}")
    if v < 1:
        fail(f"{name} must be positive")
    return v


class Failed(Exception):
    """The benchmark cannot go on (the message says why)."""


def fail(msg):
    raise Failed(msg)


def log(msg):
    print(f"delivery: {msg}", file=sys.stderr, flush=True)


# ---- measuring helpers -------------------------------------------------------


def quantile(values, q):
    """The q-quantile of values (nearest rank), or None."""
    if not values:
        return None
    s = sorted(values)
    i = min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))
    return s[i]


def metric_samples(text, name):
    """[(labels dict, value)] of a metric's samples in a /metrics text."""
    out = []
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((labels, float(m.group(3))))
    return out


def metric_sum(text, name, **want):
    return sum(v for labels, v in metric_samples(text, name)
               if all(labels.get(k) == w for k, w in want.items()))


def hist_bucket(text, name, q, **want):
    """(histogram_quantile(q), its bucket's lower bound, upper bound) of a
    histogram's buckets with labels want, or None without observations.
    The quantile is linear within the bucket the rank falls in (the last
    finite bound when it falls in +Inf), as Prometheus computes it; the
    bucket's bounds are all the histogram really knows."""
    buckets = []
    for labels, v in metric_samples(text, name + "_bucket"):
        if all(labels.get(k) == w for k, w in want.items()):
            le = labels.get("le")
            buckets.append((float("inf") if le == "+Inf" else float(le), v))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lo, below = 0.0, 0.0
    for le, cum in buckets:
        if cum >= rank:
            if le == float("inf"):
                return lo, lo, le
            if cum == below:
                return le, lo, le
            return lo + (le - lo) * (rank - below) / (cum - below), lo, le
        lo, below = le, cum
    return lo, lo, float("inf")


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def thread_ticks(pid):
    """(the main thread's, the other threads') CPU ticks of pid: otpgate's
    main thread runs the loop; the others are libuv's pool (the SMTP
    sends). None when /proc cannot tell."""
    whole, main = cpu_ticks(pid), cpu_ticks(f"{pid}/task/{pid}")
    if whole is None or main is None:
        return None
    return main, whole - main


class CpuMeter:
    """CPU use of otpgate's loop thread and of its other threads over an
    interval, in % of one core."""

    def __init__(self, pid):
        self.pid = pid
        self.t0 = time.monotonic()
        self.c0 = thread_ticks(pid) if pid else None

    def read(self):
        if self.c0 is None:
            return None
        c1 = thread_ticks(self.pid)
        dt = time.monotonic() - self.t0
        if c1 is None or dt <= 0:
            return None
        return {"loop": max(0.0, 100.0 * (c1[0] - self.c0[0]) / CLK_TCK / dt),
                "pool": max(0.0, 100.0 * (c1[1] - self.c0[1]) / CLK_TCK / dt)}


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


def wrk_ms(s):
    m = re.match(r"^([0-9.]+)(us|ms|s|m|h)?$", s)
    if not m:
        return None
    n = float(m.group(1))
    return n * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}[
        m.group(2) or "s"]


def parse_wrk(text):
    r = {}
    m = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if m:
        r["avg_ms"], r["max_ms"] = wrk_ms(m.group(1)), wrk_ms(m.group(3))
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s*{q}%\s+(\S+)", text, re.M)
        if m:
            r[f"p{q}_ms"] = wrk_ms(m.group(1))
    m = re.search(r"^Requests/sec:\s+(\S+)", text, re.M)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:\s*(.*)", text)
    r["socket_errors"] = m.group(1).strip() if m else ""
    return r


# ---- otpgate and the sinks -----------------------------------------------------


class Gate:
    """The API client (keep-alive, one connection per thread) and /metrics."""

    def __init__(self, url, app_json):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        try:
            with open(app_json, encoding="utf-8") as f:
                app = json.load(f)
            cid, secret = app["client_id"], app["client_secret"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail(f"cannot read client_id and client_secret from {app_json}: {e}")
        import base64  # pylint: disable=import-outside-toplevel
        pair = urllib.parse.quote_plus(cid) + ":" + urllib.parse.quote_plus(secret)
        self.client = Client(url, "Basic " + base64.b64encode(pair.encode()).decode())
        self.local = threading.local()

    def enrol(self, sub, channel, dest):
        """Adds a pending e-mail or SMS factor (one code sent); returns the
        request's start (wall clock) and its answer's latency in seconds."""
        body = {"type": channel, "email" if channel == "email" else "phone": dest}
        t0, m0 = time.time(), time.monotonic()
        self.client.post(sub_path(sub) + "/factors", body, 201)
        return t0, time.monotonic() - m0

    def metrics(self):
        for attempt in range(3):
            c = getattr(self.local, "conn", None)
            if c is None:
                c = http.client.HTTPConnection(self.host, self.port, timeout=10)
                self.local.conn = c
            try:
                c.request("GET", "/metrics")
                r = c.getresponse()
                text = r.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                c.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                continue
            if r.status != 200:
                fail(f"GET /metrics: {r.status}")
            return text
        return ""

    def depth(self):
        v = metric_samples(self.metrics(), "otpgate_outbox_depth")
        return int(v[0][1]) if v else None


class Sinks:
    """Reads what the sinks received, as it comes: destination -> arrival
    (wall clock). The SMS sink stamps its records; an e-mail's arrival is
    the poll that first saw it (so within the poll interval, 10 ms)."""

    def __init__(self, smtp_out, sms_log):
        self.files = [[smtp_out, "email", 0], [sms_log, "sms", 0]]
        self.arrived = {}
        self.smtp_out = smtp_out

    def poll(self):
        now = time.time()
        for f in self.files:
            path, kind, off = f
            try:
                with open(path, "rb") as fh:
                    fh.seek(off)
                    data = fh.read()
            except OSError as e:
                fail(f"cannot read the {kind} sink's file {path}: {e}")
            cut = data.rfind(b"\n")
            if cut < 0:
                continue
            f[2] = off + cut + 1
            for line in data[:cut + 1].splitlines():
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if kind == "email":
                    for to in rec.get("rcpt_tos") or []:
                        self.arrived.setdefault(to.lower(), now)
                else:
                    to = (rec.get("json") or {}).get("to")
                    if to:
                        self.arrived.setdefault(to, float(rec.get("time") or now))

    def count(self, dests):
        return sum(1 for d in dests if d in self.arrived)

    def set_smtp_mode(self, mode):
        tmp = self.smtp_out + ".mode.tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(mode + "\n")
        os.replace(tmp, self.smtp_out + ".mode")

    def clear_smtp_mode(self):
        try:
            os.unlink(self.smtp_out + ".mode")
        except FileNotFoundError:
            pass


def email_of(sub):
    return f"{sub}@example.com"


def phone_of(i):
    # +44 7700 900000-900999: Ofcom's range for drama; nothing leaves the box.
    return f"+447700{900000 + i:06d}"


# ---- the delivery phase ------------------------------------------------------


def run_jobs(gate, jobs, conns, errors):
    """Runs jobs [(sub, channel, dest)] over conns threads; returns
    {dest: (start, latency)} and the wall time the last answer came."""
    q = queue.Queue()
    for j in jobs:
        q.put(j)
    done = {}
    lock = threading.Lock()
    last = [0.0]

    def worker():
        while not errors:
            try:
                sub, channel, dest = q.get_nowait()
            except queue.Empty:
                return
            try:
                t0, lat = gate.enrol(sub, channel, dest)
            except Exception as e:  # pylint: disable=broad-except
                errors.append(f"enrolling {sub} ({channel}): {e}")
                return
            with lock:
                done[dest] = (t0, lat)
                last[0] = max(last[0], t0 + lat)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(conns)]
    for t in threads:
        t.start()
    return threads, done, last


def phase_delivery(gate, sinks, pids, res):
    per = env_int("BENCH_DELIVERY_PER_CHANNEL", 500)
    conns = env_int("BENCH_DELIVERY_CONNECTIONS", 16)
    wait = env_int("BENCH_DELIVERY_WAIT", 45)
    if per > 1000:
        fail("BENCH_DELIVERY_PER_CHANNEL is at most 1000 (the drama phone range)")
    jobs, want = [], {"email": [], "sms": []}
    for i in range(per):
        sub = f"dlv-mail-{i:06d}"
        jobs.append((sub, "email", email_of(sub)))
        jobs.append((f"dlv-sms-{i:06d}", "sms", phone_of(i)))
    for _, ch, dest in jobs:
        want[ch].append(dest)
    total = len(jobs)
    log(f"enrolling {per} e-mail and {per} SMS users over {conns} connections")

    cpu0 = {name: cpu_ticks(pid) for name, pid in pids.items()}
    own0 = own_cpu_seconds()
    meter = CpuMeter(pids.get("otpgate"))
    commits0 = metric_sum(gate.metrics(), "otpgate_group_commits_total")
    errors = []
    t0 = time.time()
    threads, done, last = run_jobs(gate, jobs, conns, errors)
    deadline = time.monotonic() + wait
    full = {"email": None, "sms": None}
    depth_zero = None
    peak = 0
    next_metrics = 0.0
    while True:
        if errors:
            fail(errors[0])
        sinks.poll()
        now = time.time()
        for ch in full:
            if full[ch] is None and sinks.count(want[ch]) == len(want[ch]):
                full[ch] = max(sinks.arrived[d] for d in want[ch])
        api_done = len(done) == total
        if time.monotonic() >= next_metrics:
            d = gate.depth()
            next_metrics = time.monotonic() + 0.1
            if d is not None:
                peak = max(peak, d)
                if d == 0 and api_done and depth_zero is None:
                    depth_zero = now
        if api_done and all(full.values()) and depth_zero is not None:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    elapsed = time.time() - t0
    cpu = {}
    for name, pid in pids.items():
        c1 = cpu_ticks(pid)
        if c1 is not None and cpu0.get(name) is not None:
            cpu[name] = 100.0 * (c1 - cpu0[name]) / CLK_TCK / elapsed
    cpu["driver"] = 100.0 * (own_cpu_seconds() - own0) / elapsed
    split = meter.read()
    if split and "otpgate" in cpu:
        cpu["otpgate"] = {"loop": split["loop"], "others": split["pool"]}
    for t in threads:
        t.join(1)
    text = gate.metrics()

    lat = [v[1] for v in done.values()]
    r = {
        "per_channel": per,
        "connections": conns,
        "answered": len(done),
        "api_seconds": (last[0] - t0) if done else None,
        "api_rps": len(done) / (last[0] - t0) if done and last[0] > t0 else None,
        "api_p50_ms": 1000 * quantile(lat, 0.5) if lat else None,
        "api_p99_ms": 1000 * quantile(lat, 0.99) if lat else None,
        "outbox_peak": peak,
        "group_commits": metric_sum(text, "otpgate_group_commits_total") - commits0,
        "outbox_empty_s": depth_zero - t0 if depth_zero else None,
        "cpu_percent": cpu,
        "complete": bool(len(done) == total and all(full.values())),
    }
    for ch in ("email", "sms"):
        got = sinks.count(want[ch])
        r[ch] = c = {"received": got}
        if full[ch]:
            c["seconds"] = full[ch] - t0
            c["per_s"] = got / c["seconds"]
        e2e = [sinks.arrived[d] - done[d][0] for d in want[ch] if d in sinks.arrived and d in done]
        c["sink_p50_s"], c["sink_p99_s"] = quantile(e2e, 0.5), quantile(e2e, 0.99)
        for q in ("50", "99"):
            b = hist_bucket(text, "otpgate_delivery_latency_seconds", int(q) / 100, channel=ch)
            c[f"hist_p{q}_s"] = b[0] if b else None
            c[f"hist_p{q}_bucket_s"] = [b[1], b[2]] if b else None
        c["sent"] = metric_sum(text, "otpgate_codes_sent_total", channel=ch, outcome="sent")
        c["retries"] = metric_sum(text, "otpgate_codes_sent_total", channel=ch, outcome="retry")
        c["failed"] = metric_sum(text, "otpgate_codes_sent_total", channel=ch, outcome="failed")
    if full["email"] and full["sms"]:
        r["total_seconds"] = max(full.values()) - t0
        r["total_per_s"] = total / r["total_seconds"]
    res["delivery"] = r
    log(f"delivery: {r['email']['received']}+{r['sms']['received']} of {total} messages "
        f"arrived in {elapsed:.2f}s; outbox peak {peak}")
    if not r["complete"]:
        log(f"delivery: not every message arrived within {wait}s (BENCH_DELIVERY_WAIT)")


# ---- the stall phase -----------------------------------------------------------


WRK = {"proc": None}


def run_wrk(url, conns, duration, raw):
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", url + "/healthz"]
    with open(raw, "w", encoding="utf-8") as out:
        WRK["proc"] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        rc = WRK["proc"].wait()
        WRK["proc"] = None
    with open(raw, encoding="utf-8") as f:
        text = f.read()
    r = parse_wrk(text)
    if rc != 0 or "p99_ms" not in r:
        fail(f"wrk failed (exit {rc}; see {raw})")
    return r


def window(gate, url, label, n, conns, duration, raw_dir, tag, pid):
    """A wrk run on /healthz while n e-mail enrolments go in, paced over
    the run. Returns (wrk figures with otpgate's CPU use, dests)."""
    subs = [f"dlv-{tag}-{i:06d}" for i in range(n)]
    dests = [email_of(s) for s in subs]
    done, errors = {}, []
    span = max(1.0, duration - 2.0)

    def sender():
        start = time.monotonic() + 0.5
        for i, s in enumerate(subs):
            delay = start + i * span / n - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                done[email_of(s)] = gate.enrol(s, "email", email_of(s))
            except Exception as e:  # pylint: disable=broad-except
                errors.append(f"enrolling {s}: {e}")
                return

    log(f"stall: {label}: wrk -t1 -c{conns} -d{duration}s /healthz, {n} e-mail enrolments")
    t = threading.Thread(target=sender, daemon=True)
    commits0 = metric_sum(gate.metrics(), "otpgate_group_commits_total")
    meter = CpuMeter(pid)
    t0 = time.monotonic()
    if n:
        t.start()
    w = run_wrk(url, conns, duration, os.path.join(raw_dir, f"wrk-{tag}.txt"))
    w["cpu"] = meter.read()
    w["commits_per_s"] = ((metric_sum(gate.metrics(), "otpgate_group_commits_total") - commits0)
                          / (time.monotonic() - t0))
    if n:
        t.join(duration + 30)
    if errors:
        fail(errors[0])
    if t.is_alive():
        fail(f"{label}: the enrolments did not finish")
    lat = [v[1] for v in done.values()]
    w["api_p50_ms"] = 1000 * quantile(lat, 0.5) if lat else None
    w["api_max_ms"] = 1000 * max(lat) if lat else None
    return w, dests


def wait_drained(gate, sinks, dests, timeout):
    """Polls until dests all arrived and the outbox is empty; returns
    (seconds until all arrived, seconds until empty), None where the time
    ran out."""
    t0 = time.monotonic()
    arrived = empty = None
    next_metrics = 0.0
    while time.monotonic() - t0 < timeout:
        sinks.poll()
        if arrived is None and sinks.count(dests) == len(dests):
            arrived = time.monotonic() - t0
        if time.monotonic() >= next_metrics:
            next_metrics = time.monotonic() + 0.05
            if gate.depth() == 0 and empty is None:
                empty = time.monotonic() - t0
        if arrived is not None and empty is not None:
            break
        time.sleep(0.01)
    return arrived, empty


def phase_stall(gate, sinks, url, raw_dir, pid, res):
    n = env_int("BENCH_STALL_SENDS", 50)
    conns = env_int("BENCH_STALL_CONNECTIONS", 16)
    duration = env_int("BENCH_STALL_DURATION", 10)
    drain_wait = env_int("BENCH_STALL_DRAIN_WAIT", 30)
    r = {"sends": n, "connections": conns, "duration": duration}
    res["stall"] = r

    # Nothing of an earlier phase may still be in flight.
    sinks.clear_smtp_mode()
    if wait_drained(gate, sinks, [], 20)[1] is None:
        fail("the outbox did not empty before the stall phase")

    r["idle"], _ = window(gate, url, "no sends", 0, conns, duration, raw_dir, "stall-idle", pid)
    r["before"], dests = window(gate, url, "SMTP accepting", n, conns, duration, raw_dir,
                                "stall-before", pid)
    got, empty = wait_drained(gate, sinks, dests, 20)
    if got is None or empty is None:
        fail(f"the {n} e-mails sent before the stall did not all arrive")

    before = gate.metrics()
    sinks.set_smtp_mode("hang")
    try:
        r["during"], dests = window(gate, url, "SMTP hanging", n, conns, duration, raw_dir,
                                    "stall-during", pid)
        sinks.poll()
        r["arrived_during"] = sinks.count(dests)
        r["depth_at_end"] = gate.depth()
    finally:
        sinks.set_smtp_mode("accept")
    log(f"stall: sink accepting again; {r['depth_at_end']} messages queued")
    got, empty = wait_drained(gate, sinks, dests, drain_wait)
    sinks.clear_smtp_mode()
    after = gate.metrics()
    r["drain_arrived_s"], r["drain_empty_s"] = got, empty
    for k in ("retry", "failed"):
        r[k] = (metric_sum(after, "otpgate_codes_sent_total", channel="email", outcome=k)
                - metric_sum(before, "otpgate_codes_sent_total", channel="email", outcome=k))
    r["complete"] = got is not None and empty is not None
    if not r["complete"]:
        log(f"stall: the queue did not drain within {drain_wait}s (BENCH_STALL_DRAIN_WAIT)")


# ---- the report ----------------------------------------------------------------


def f2(v, unit="", scale=1.0, fmt="{:.2f}"):
    return "n/a" if v is None else fmt.format(v * scale) + unit


def ms(v):
    """A latency in ms with sensible digits."""
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def secs(v):
    """A latency given in seconds, shown in ms."""
    return "n/a" if v is None else ms(v * 1000)


def cpu_text(cpu):
    parts = []
    for k, v in cpu.items():
        if isinstance(v, dict):
            parts.append(f"{k} {v['loop']:.0f}% loop + {v['others']:.0f}% other threads")
        else:
            parts.append(f"{k} {v:.0f}%")
    return ", ".join(parts)


def report(res, args):
    out = []
    d = res.get("delivery")
    if d:
        per = d["per_channel"]
        out.append(f"delivery: {per} e-mail + {per} SMS codes (POST /api/v1/users/{{sub}}/factors,"
                   f" {d['connections']} connections) to smtp_sink.py and sms_sink.py")
        out.append(f"  API answers: {d['answered']} in {f2(d['api_seconds'], ' s')}"
                   f" = {f2(d['api_rps'], ' req/s', fmt='{:.0f}')},"
                   f" p50 {ms(d['api_p50_ms'])} ms, p99 {ms(d['api_p99_ms'])} ms")
        e, s = d["email"], d["sms"]

        def rate(c):
            if c.get("per_s") is None:
                return f"n/a ({c['received']} of {per} arrived)"
            return f"{c['per_s']:.0f} ({c['received']} in {c['seconds']:.2f} s)"

        tot = ("n/a" if d.get("total_per_s") is None else
               f"{d['total_per_s']:.0f} ({2 * per} in {d['total_seconds']:.2f} s)")
        out.append(f"  messages/s, first request to last arrival: email {rate(e)},"
                   f" sms {rate(s)}, total {tot}")
        def hist(c, q):
            b = c.get(f"hist_p{q}_bucket_s")
            within = "" if not b else f" ({secs(b[0])}-{secs(b[1])})"
            return secs(c[f"hist_p{q}_s"]) + within

        out.append("  delivery latency, queued to accepted, ms (otpgate_delivery_latency_seconds,"
                   " interpolated in its bucket):")
        out.append(f"    email p50 {hist(e, '50')}, p99 {hist(e, '99')};"
                   f" sms p50 {hist(s, '50')}, p99 {hist(s, '99')}")
        out.append("  the same measured, request to arrival at the sink, ms:"
                   f" email p50 {secs(e['sink_p50_s'])}, p99 {secs(e['sink_p99_s'])};"
                   f" sms p50 {secs(s['sink_p50_s'])}, p99 {secs(s['sink_p99_s'])}")
        retried = int(e["retries"] + s["retries"] + e["failed"] + s["failed"])
        out.append(f"  outbox peak {d['outbox_peak']}, empty after"
                   f" {f2(d['outbox_empty_s'], ' s')}; retries/failures {retried};"
                   f" group commits {d['group_commits']:.0f}")
        out.append(f"  CPU, % of a core: {cpu_text(d['cpu_percent'])}")
        if not d["complete"]:
            out.append("  INCOMPLETE: not every message arrived in time")
    st = res.get("stall")
    if st and "during" in st:
        out.append(f"stall: /healthz under wrk -t1 -c{st['connections']} -d{st['duration']}s;"
                   f" {st['sends']} e-mail enrolments spread over each run but the first"
                   f" (OTPGATE_DELIVERY_TIMEOUT={args.delivery_timeout},"
                   f" OTPGATE_DELIVERY_BACKOFF={args.delivery_backoff})")
        out.append(f"  {'':26} {'p50_ms':>7} {'p99_ms':>7} {'max_ms':>7} {'req/s':>7}"
                   f" {'loop%':>6} {'other%':>6} {'commits/s':>9}  enrol p50/max ms")
        rows = (("no sends", st["idle"]), ("sends, SMTP accepting", st["before"]),
                ("sends, SMTP server stalled", st["during"]))
        for label, x in rows:
            cpu = x.get("cpu") or {}
            api = ("-" if x.get("api_p50_ms") is None else
                   f"{ms(x['api_p50_ms'])}/{ms(x['api_max_ms'])}")
            errs = ""
            if x.get("non2xx") or x.get("socket_errors"):
                errs = f"  (non-2xx {x.get('non2xx')}; socket errors: {x.get('socket_errors')})"
            out.append(f"  {label:26} {ms(x.get('p50_ms')):>7} {ms(x.get('p99_ms')):>7}"
                       f" {ms(x.get('max_ms')):>7} {x.get('rps', 0):7.0f}"
                       f" {f2(cpu.get('loop'), fmt='{:.0f}'):>6}"
                       f" {f2(cpu.get('pool'), fmt='{:.0f}'):>6}"
                       f" {f2(x.get('commits_per_s'), fmt='{:.0f}'):>9}  {api}{errs}")
        b, w = st["before"], st["during"]
        ratio = (w["p99_ms"] / b["p99_ms"]) if b.get("p99_ms") else None
        out.append(f"  p99 stalled/accepting: {f2(ratio, 'x')}; {st['arrived_during']} of"
                   f" {st['sends']} arrived during the stall, {st['depth_at_end']} queued at"
                   f" its end ({int(st['retry'])} tries timed out, {int(st['failed'])} failed"
                   " for good)")
        if st["complete"]:
            out.append(f"  drain after the sink accepts again: all {st['sends']} arrived in"
                       f" {st['drain_arrived_s']:.2f} s, outbox empty in"
                       f" {st['drain_empty_s']:.2f} s")
        else:
            out.append("  drain: INCOMPLETE: the queue did not drain in time")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("app_json")
    ap.add_argument("smtp_out")
    ap.add_argument("sms_log")
    ap.add_argument("results")
    ap.add_argument("--phases", default="delivery,stall")
    ap.add_argument("--raw-dir", default=".")
    ap.add_argument("--pid", action="append", default=[], metavar="NAME=PID")
    ap.add_argument("--delivery-timeout", default="?")
    ap.add_argument("--delivery-backoff", default="?")
    args = ap.parse_args()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    phases = [p for p in args.phases.split(",") if p]
    pids = {}
    for p in args.pid:
        name, _, pid = p.partition("=")
        if pid.isdigit():
            pids[name] = int(pid)
    res = {}
    rc = 0
    try:
        gate = Gate(args.url, args.app_json)
        sinks = Sinks(args.smtp_out, args.sms_log)
        if "delivery" in phases:
            phase_delivery(gate, sinks, pids, res)
        if "stall" in phases:
            phase_stall(gate, sinks, args.url.rstrip("/"), args.raw_dir, pids.get("otpgate"), res)
    except Failed as e:
        log(str(e))
        res["error"] = str(e)
        rc = 1
    finally:
        proc = WRK["proc"]
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait()
        try:
            text = report(res, args)
        except (KeyError, TypeError, ValueError) as e:
            text = f"delivery: the figures are incomplete ({e!r}); see delivery.json\n"
        if rc:
            text += f"delivery benchmark failed: {res['error']}\n"
        with open(args.results, "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.join(args.raw_dir, "delivery.json"), "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)
    if rc == 0 and (not res.get("delivery", {}).get("complete", True)
                    or not res.get("stall", {}).get("complete", True)):
        rc = 2
    return rc


if __name__ == "__main__":
    sys.exit(main())
