"""A real HTTP server that stands in for SMS providers (webhook, Twilio,
Vonage, MessageBird) in tests. Standard library only.

As a program:

    /usr/bin/python3 sms_sink.py --port 0 --log FILE

prints its port on the first line of stdout, then appends each request it
gets as one JSON line to FILE: method, path, query, query_args, headers
(names lower-cased), body, and form or json when the body parses as such.
It answers according to a mode that tests change at runtime with

    POST /_mode  {"mode": "ok"|"4xx"|"5xx"|"hang"|"ok_twilio"|"ok_vonage"|
                  "ok_messagebird"|"vonage_fail", "count": n}

With a count, the mode lasts n requests and then goes back to "ok". "hang"
never answers: it waits until the client gives up (or 300 s). GET /_requests
returns what was recorded. Control requests are not recorded. One more mode,
"big", answers 200 with a body of about 100 KiB (to test answer caps).

As a module: SmsSink(log_path=None) runs the same server in a thread, with
start(), stop(), url, port, requests() and set_mode(mode, count=None).
"""

import argparse
import json
import select
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "4xx", "5xx", "hang", "ok_twilio", "ok_vonage", "ok_messagebird", "vonage_fail",
         "big")
BIG_ANSWER = 100 * 1024
HANG_LIMIT = 300.0
MAX_BODY = 1 << 20


class SinkState:
    """The mode, the recorded requests and the log file, shared by the
    handler threads."""

    def __init__(self, log_path=None):
        self.lock = threading.Lock()
        self.mode = "ok"
        self.count = None
        self.seq = 0
        self.records = []
        self.log_path = log_path
        self.stopping = threading.Event()

    def set_mode(self, mode, count=None):
        if mode not in MODES:
            raise ValueError("unknown mode %r; one of %s" % (mode, ", ".join(MODES)))
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ValueError("count must be a whole number")
        with self.lock:
            self.mode = mode
            self.count = count

    def take_mode(self):
        """The mode for one request, counting it down."""
        with self.lock:
            mode = self.mode
            if self.count is not None:
                self.count -= 1
                if self.count <= 0:
                    self.mode, self.count = "ok", None
            self.seq += 1
            return mode, self.seq

    def record(self, rec):
        with self.lock:
            self.records.append(rec)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    f.flush()


def _parse_body(content_type, text):
    ctype = (content_type or "").split(";")[0].strip().lower()
    form = json_body = None
    if ctype == "application/x-www-form-urlencoded":
        form = {k: v[0] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}
    if ctype.endswith("json") or text[:1] in ("{", "["):
        try:
            json_body = json.loads(text)
        except ValueError:
            json_body = None
    return form, json_body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sms-sink/1"

    def log_message(self, fmt, *args):  # quiet: tests read the JSON log
        pass

    @property
    def state(self):
        return self.server.state

    def _answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def _hang(self):
        """Waits until the client closes its end, the server stops or the
        limit passes; never answers."""
        conn = self.connection
        deadline = time.monotonic() + HANG_LIMIT
        while time.monotonic() < deadline and not self.state.stopping.is_set():
            r, _, _ = select.select([conn], [], [], 0.1)
            if r:
                try:
                    if not conn.recv(1, socket.MSG_PEEK):
                        break
                except OSError:
                    break
        self.close_connection = True

    def _control(self, raw):
        if self.command == "POST" and self.path == "/_mode":
            try:
                req = json.loads(raw.decode() or "{}")
                self.state.set_mode(req.get("mode", "ok"), req.get("count"))
            except (ValueError, AttributeError) as e:
                self._answer(400, {"error": str(e)})
                return
            self._answer(200, {"mode": self.state.mode, "count": self.state.count})
        elif self.command == "GET" and self.path == "/_requests":
            with self.state.lock:
                recs = list(self.state.records)
            self._answer(200, recs)
        else:
            self._answer(404, {"error": "unknown control path"})

    def _handle(self):
        try:
            raw = self._read_body()
        except ValueError:
            self._answer(413, {"error": "too large"})
            return
        if self.path.startswith("/_"):
            self._control(raw)
            return
        text = raw.decode("utf-8", errors="replace")
        url = urllib.parse.urlsplit(self.path)
        form, json_body = _parse_body(self.headers.get("Content-Type"), text)
        mode, seq = self.state.take_mode()
        rec = {
            "seq": seq,
            "mode": mode,
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "query_args": {k: v[0] for k, v in
                           urllib.parse.parse_qs(url.query, keep_blank_values=True).items()},
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": text,
            "form": form,
            "json": json_body,
            "time": time.time(),
        }
        # Recorded before answering, so a client that has its answer can
        # read the log at once.
        self.state.record(rec)
        self._respond(mode, seq, rec)

    def _respond(self, mode, seq, rec):
        form = rec["form"] or {}
        js = rec["json"] if isinstance(rec["json"], dict) else {}
        if mode == "hang":
            self._hang()
        elif mode == "4xx":
            self._answer(400, {"error": "bad request", "echo": rec["body"]})
        elif mode == "5xx":
            self._answer(500, {"error": "provider down"})
        elif mode == "big":
            self._answer(200, {"id": "big-%d" % seq, "echo": rec["body"],
                               "pad": "x" * BIG_ANSWER})
        elif mode == "ok_twilio":
            self._answer(201, {"sid": "SM%032x" % seq, "status": "queued",
                               "to": form.get("To"), "from": form.get("From"),
                               "body": form.get("Body")})
        elif mode == "ok_vonage":
            self._answer(200, {"message-count": "1", "messages": [{
                "to": form.get("to"), "message-id": "VN-%d" % seq, "status": "0",
                "remaining-balance": "3.14", "message-price": "0.03", "network": "12345"}]})
        elif mode == "vonage_fail":
            self._answer(200, {"message-count": "1", "messages": [{
                "status": "2", "error-text": "Missing to param"}]})
        elif mode == "ok_messagebird":
            self._answer(201, {"id": "mb-%d" % seq, "originator": js.get("originator"),
                               "body": js.get("body"),
                               "recipients": {"totalCount": 1, "items": [
                                   {"recipient": (js.get("recipients") or [None])[0],
                                    "status": "sent"}]}})
        else:
            self._answer(200, {"id": "msg-%d" % seq, "status": "queued", "echo": rec["body"],
                               "query": rec["query"]})

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_DELETE = _handle
    do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of
    # sends, which then wait a second for the retransmit.
    request_queue_size = 256

    def __init__(self, addr, state):
        super().__init__(addr, Handler)
        self.state = state

    def handle_error(self, request, client_address):
        # A client that gives up (a timeout, a capped answer) resets the
        # connection: expected here, not worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class SmsSink:
    """The sink in this process, on a thread: for pytest."""

    def __init__(self, log_path=None, host="127.0.0.1", port=0):
        self.state = SinkState(log_path)
        self.host = host
        self.port = port
        self.server = None
        self.thread = None

    def start(self):
        self.server = _Server((self.host, self.port), self.state)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.state.stopping.set()
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def requests(self):
        with self.state.lock:
            return list(self.state.records)

    def set_mode(self, mode, count=None):
        self.state.set_mode(mode, count)

    def clear(self):
        with self.state.lock:
            self.state.records.clear()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Stand-in SMS provider for otpgate tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append each request as a JSON line to this file")
    ap.add_argument("--mode", default="ok", choices=MODES)
    args = ap.parse_args(argv)
    if args.log:
        open(args.log, "a").close()
    sink = SmsSink(args.log, args.host, args.port)
    sink.set_mode(args.mode)
    sink.start()
    sys.stdout.write("%d\n" % sink.port)
    sys.stdout.flush()
    try:
        while sink.thread.is_alive():
            sink.thread.join(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
