"""A real HTTP server that stands in for an app's webhook endpoint in tests
(tests/integration/test_notify_webhooks.py). Standard library only.

WebhookSink(port=0) runs a ThreadingHTTPServer on 127.0.0.1 in a thread:
start() returns the port, stop() ends it. Every POST is recorded with its
path, headers (names lower-cased), the raw body (bytes) and the status it
was answered with. fail(n, status=500) answers the next n requests with
status (and a short body) before answering 204 again, as an app that is
down for a while and then recovers.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


class WebhookSink:
    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.records = []
        self.to_fail = 0
        self.fail_status = 500
        self.port = port
        self.httpd = None
        self.thread = None

    # -- life cycle --

    def start(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(n, MAX_BODY))
                with sink.lock:
                    status = 204
                    if sink.to_fail > 0:
                        sink.to_fail -= 1
                        status = sink.fail_status
                    sink.records.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "status": status,
                        "at": time.time(),
                    })
                answer = b"" if status == 204 else b'{"error":"down for maintenance"}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                if answer:
                    self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self.port

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/hooks/otpgate" % self.port

    # -- behaviour and what came --

    def fail(self, n, status=500):
        with self.lock:
            self.to_fail = n
            self.fail_status = status

    def requests(self):
        with self.lock:
            return list(self.records)

    def accepted(self):
        """The requests answered 2xx, with their JSON bodies parsed."""
        out = []
        for r in self.requests():
            if 200 <= r["status"] < 300:
                r = dict(r)
                r["json"] = json.loads(r["body"])
                out.append(r)
        return out
