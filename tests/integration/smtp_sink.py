"""A real SMTP server for tests, built on Debian's python3-aiosmtpd.

Command line (run by /usr/bin/python3):

  smtp_sink.py --port 0 --out FILE [--host 127.0.0.1]
               [--tls-cert CERT --tls-key KEY] [--tls-max 1.2|1.3]
               [--require-starttls]
               [--auth USER:PASS] [--auth-mechanisms PLAIN,LOGIN]
               [--mode accept|refuse|tempfail|hang|hang-data]
               [--exit-on-stdin-eof]

prints the port it listens on as the first line of stdout, then appends
each message it accepts to FILE as one JSON line:

  {"mail_from": ..., "rcpt_tos": [...], "data": "<raw message>",
   "tls": true|false, "tls_version": "TLSv1.3"|null,
   "auth_user": "user"|null, "sni": "name"|null, "ehlo": "client name"}

Modes:
  accept     take every message (the default)
  refuse     answer 550 to RCPT and to DATA
  tempfail   answer 451 to RCPT and to DATA
  hang       accept the TCP connection and never send the greeting
  hang-data  take the envelope and the message, then never answer the
             final "." (a stall after DATA)

The mode can change while the sink runs: write a mode name to FILE.mode
(e.g. `echo tempfail > out.jsonl.mode`). It is read at every new connection
and at every RCPT and DATA, so it takes effect at once; deleting the file
goes back to the mode given on the command line.

--tls-max 1.2 caps the server at TLS 1.2 (to test clients against older
servers). --auth makes AUTH required before MAIL (only after STARTTLS when a
certificate is given, in the clear otherwise); --auth-mechanisms limits the
mechanisms offered. --exit-on-stdin-eof makes the sink exit when its stdin
closes, so a test that dies cannot leave it running. SIGTERM and SIGINT
stop it.

As a module: `SmtpSink(out=path, ...)` takes the same options as keyword
arguments; start() returns the port (the server runs on a thread),
messages() reads FILE back, set_mode() writes FILE.mode, stop() ends it.
It is also a context manager.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

MODES = ("accept", "refuse", "tempfail", "hang", "hang-data")
MECHANISMS = ("PLAIN", "LOGIN")


class _Silent(asyncio.Protocol):
    """A connection that is accepted and never answered ("hang")."""

    def __init__(self, sink):
        self.sink = sink
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.sink._silent.add(self)

    def connection_lost(self, exc):
        self.sink._silent.discard(self)


class _Smtp(SMTP):
    """aiosmtpd's SMTP with Nagle's algorithm off. It writes a multi-line
    reply (EHLO's) one line at a time, and on a Nagle socket every line after
    the first waited for the client's delayed ACK, ~40 ms per message, where
    a real MTA's reply arrives at once."""

    def connection_made(self, transport):
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mode = self.sink.mode()
        if mode == "refuse":
            return "550 5.1.1 <%s>: recipient refused by smtp_sink" % address
        if mode == "tempfail":
            return "451 4.3.0 smtp_sink: temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        mode = self.sink.mode()
        if mode == "refuse":
            return "550 5.7.1 smtp_sink: message refused"
        if mode == "tempfail":
            return "451 4.3.0 smtp_sink: temporary failure, try again later"
        if mode == "hang-data":
            await asyncio.sleep(3600)
            return "421 4.4.2 smtp_sink: too late"
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        tls = session.ssl is not None
        sni = version = None
        if tls:
            sslobj = session.ssl.get("ssl_object")
            sni = getattr(sslobj, "otpgate_sni", None)
            version = sslobj.version() if sslobj else None
        n = self.sink._append({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": raw.decode("utf-8", "replace"),
            "tls": tls,
            "tls_version": version,
            "auth_user": session.auth_data if session.authenticated else None,
            "sni": sni,
            "ehlo": session.host_name,
        })
        return "250 2.0.0 OK queued as sink-%d" % n


class SmtpSink:
    def __init__(self, out, host="127.0.0.1", port=0, tls_cert=None, tls_key=None,
                 require_starttls=False, auth=None, auth_mechanisms=None, mode="accept",
                 tls_max=None):
        if mode not in MODES:
            raise ValueError("mode must be one of " + ", ".join(MODES))
        if bool(tls_cert) != bool(tls_key):
            raise ValueError("tls_cert and tls_key go together")
        self.out = out
        self.host = host
        self.port = port
        self.default_mode = mode
        self.require_starttls = require_starttls
        self.auth = None
        if auth:
            user, sep, password = auth.partition(":")
            if not sep:
                raise ValueError("auth must be USER:PASS")
            self.auth = (user, password)
        mechs = [m.strip().upper() for m in (auth_mechanisms or MECHANISMS)]
        self.excluded = [m for m in MECHANISMS if m not in mechs]
        self.tls = None
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            ctx.sni_callback = self._sni
            if tls_max == "1.2":
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            self.tls = ctx
        self._lock = threading.Lock()
        self._count = 0
        self._silent = set()
        self._loop = None
        self._server = None
        self._thread = None
        open(self.out, "a").close()

    # -- mode and output -------------------------------------------------

    def mode(self):
        try:
            with open(self.out + ".mode") as f:
                m = f.read().strip()
            if m in MODES:
                return m
        except OSError:
            pass
        return self.default_mode

    def set_mode(self, mode):
        if mode not in MODES:
            raise ValueError("mode must be one of " + ", ".join(MODES))
        tmp = self.out + ".mode.tmp"
        with open(tmp, "w") as f:
            f.write(mode + "\n")
        os.replace(tmp, self.out + ".mode")

    def messages(self):
        # Under the writer's lock (the sink thread may be appending a record
        # of several pages right now), and only whole lines: a reader in
        # another process can still catch the last line half written.
        with self._lock:
            with open(self.out) as f:
                text = f.read()
        return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]

    def _append(self, record):
        with self._lock:
            self._count += 1
            with open(self.out, "a") as f:
                f.write(json.dumps(record) + "\n")
            return self._count

    # -- server ------------------------------------------------------------

    @staticmethod
    def _sni(sslobj, server_name, ctx):
        sslobj.otpgate_sni = server_name
        return None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword) and self.auth
                and auth_data.login == self.auth[0].encode()
                and auth_data.password == self.auth[1].encode()):
            return AuthResult(success=True, auth_data=self.auth[0])
        return AuthResult(success=False, handled=False)

    def _handler(self):
        """The handler of one connection. aiosmtpd reads the hooks off it
        when the connection is made: a subclass that wants other hooks
        overrides this, not the protocol's attribute afterwards."""
        return _Handler(self)

    def _protocol(self):
        if self.mode() == "hang":
            return _Silent(self)
        kwargs = {}
        if self.auth:
            kwargs = dict(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.tls is not None,
                          auth_exclude_mechanism=self.excluded)
        return _Smtp(self._handler(), hostname="smtp-sink.test", tls_context=self.tls,
                    require_starttls=self.require_starttls and self.tls is not None,
                    loop=self._loop, **kwargs)

    def start(self):
        """Starts serving on a thread and returns the port."""
        warnings.simplefilter("ignore")
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                self._loop.create_server(self._protocol, sock=sock))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="smtp-sink", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.port

    def stop(self):
        if not self._loop:
            return

        async def shutdown():
            self._server.close()
            for s in list(self._silent):
                if s.transport:
                    s.transport.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        fut = asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        try:
            fut.result(5)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description="SMTP sink for otpgate's tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", required=True, help="JSON-lines file of received messages")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-max", choices=("1.2", "1.3"))
    ap.add_argument("--require-starttls", action="store_true")
    ap.add_argument("--auth", metavar="USER:PASS")
    ap.add_argument("--auth-mechanisms", default="PLAIN,LOGIN")
    ap.add_argument("--mode", choices=MODES, default="accept")
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    args = ap.parse_args(argv)

    sink = SmtpSink(out=args.out, host=args.host, port=args.port, tls_cert=args.tls_cert,
                    tls_key=args.tls_key, require_starttls=args.require_starttls,
                    auth=args.auth, auth_mechanisms=args.auth_mechanisms.split(","),
                    mode=args.mode, tls_max=args.tls_max)
    stop = threading.Event()
    # SIGTERM and SIGINT are taken with sigtimedwait, never by a handler. A
    # handler runs between two bytecodes of the main thread, and one that
    # set the Event could run while that thread held the Event's own lock
    # inside wait(): the sink then never exited (seen in test_smtp_send).
    # Blocked before start(), so that every thread inherits the mask.
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    port = sink.start()
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    if args.exit_on_stdin_eof:
        def watch():
            # os.read, not sys.stdin: a daemon thread blocked in a buffered
            # read would trip the interpreter's shutdown.
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            stop.set()
        threading.Thread(target=watch, daemon=True).start()
    while not stop.is_set():
        if signal.sigtimedwait(signals, 0.5) is not None:
            break
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
