"""Log rotation (SPEC §9: "SIGHUP reopens logs"). otpgate logs JSON lines
to stderr; run as `otpgate serve 2>>FILE`, a SIGHUP after logrotate moved
FILE away opens FILE again, with the old file's mode, and new lines go
there while the moved file keeps the old ones. With stderr on a pipe there
is nothing to reopen, and it says so."""

import json
import os
import signal
import subprocess
import time
import urllib.request

from conftest import base_env, otpgate_bin, sanitizer_report

SOURCE_DIR = os.environ.get("OTPGATE_SOURCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")


def lines_of(path):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return [json.loads(l) for l in text.split("\n")[:-1] if l.strip()]


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def test_sighup_reopens_the_log_file_after_rotation(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    log = tmp_path / "otpgate.log"
    rotated = tmp_path / "otpgate.log.1"
    env = base_env({"OTPGATE_DATA_DIR": str(data), "OTPGATE_LISTEN": "127.0.0.1:0",
                    "OTPGATE_LOG": "debug", "OTPGATE_STATIC_DIR": os.path.join(SOURCE_DIR, "static")})
    fd = os.open(str(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    os.chmod(str(log), 0o640)
    proc = subprocess.Popen([otpgate_bin(), "serve"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=fd)
    os.close(fd)
    try:
        listening = wait_for(lambda: [o for o in lines_of(log) if o.get("msg") == "listening"])
        assert listening, "no 'listening' line in %s" % log
        port = int(listening[0]["port"])
        base = "http://127.0.0.1:%d" % port
        assert urllib.request.urlopen(base + "/healthz?before", timeout=5).status == 200

        os.rename(str(log), str(rotated))  # what logrotate does
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any(o.get("msg") == "SIGHUP: log file reopened"
                                    for o in lines_of(log))), "no new log file at %s" % log
        assert oct(os.stat(str(log)).st_mode & 0o777) == oct(0o640)
        reopened = [o for o in lines_of(log) if o.get("msg") == "SIGHUP: log file reopened"][0]
        assert reopened["path"] == str(log), reopened

        assert urllib.request.urlopen(base + "/healthz?after", timeout=5).status == 200
        assert wait_for(lambda: [o for o in lines_of(log) if o.get("msg") == "request"])
        old = lines_of(rotated)
        assert any(o.get("msg") == "listening" for o in old)
        assert not any(o.get("msg") == "SIGHUP: log file reopened" for o in old)
        # The server keeps running and stops cleanly.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    both = "".join(open(p, encoding="utf-8", errors="replace").read() for p in (rotated, log))
    assert sanitizer_report(both) is None, sanitizer_report(both)


def test_sighup_with_stderr_on_a_pipe_reopens_nothing(server):
    server.proc.send_signal(signal.SIGHUP)
    line = server.wait_log(lambda o: o.get("msg", "").startswith("SIGHUP"))
    assert line and "nothing to reopen" in line["msg"], line
    assert server.get("/healthz").status == 200
