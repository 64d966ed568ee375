"""A round-robin TCP proxy for tests (issue 14): a stand-in for the load
balancer in front of several otpgate instances.

    p = RRProxy([port_a, port_b, port_c]).start()
    ... connect to 127.0.0.1:p.port ...
    p.stop()

It listens on 127.0.0.1 (port 0 unless given), and each new client
connection goes to the next backend in turn; bytes are copied both ways
until either side closes (a half-close is passed on). A backend that
refuses the connection (a stopped or killed instance) is skipped to the
next one; when every backend refuses, the client's connection is closed.
The backends can be replaced while it runs (set_backends), e.g. after an
instance was restarted on a new port. Everything runs on threads (one
acceptor, two copiers per connection), all daemons, so a test that dies
cannot leave the process hanging; stop() closes every socket.

.connections[i] counts the connections handed to backend i (by its place
in the list at the time), .refused the backend connections that failed.

Run as a program it checks itself against two trivial servers:
    /usr/bin/python3 rrproxy.py
"""

import socket
import threading

CONNECT_TIMEOUT = 2.0
BUF = 65536


class RRProxy:
    def __init__(self, backends, host="127.0.0.1", port=0, backend_host="127.0.0.1"):
        self.host = host
        self.port = port
        self.backend_host = backend_host
        self._backends = list(backends)
        self._next = 0
        self._lock = threading.Lock()
        self._listener = None
        self._thread = None
        self._stopping = threading.Event()
        self._socks = set()
        self.connections = {}
        self.refused = 0

    # -- configuration -----------------------------------------------------

    @property
    def backends(self):
        with self._lock:
            return list(self._backends)

    def set_backends(self, backends):
        with self._lock:
            self._backends = list(backends)
            self._next %= max(1, len(self._backends))

    def replace_backend(self, old_port, new_port):
        with self._lock:
            self._backends = [new_port if p == old_port else p for p in self._backends]

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    # -- life cycle --------------------------------------------------------

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(256)
        s.settimeout(0.2)  # so the acceptor sees stop() soon
        self._listener = s
        self.port = s.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="rrproxy-accept",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._listener is not None:
            try:
                self._listener.close()
            except OSError:
                pass
            self._listener = None
        with self._lock:
            socks = list(self._socks)
            self._socks.clear()
        for s in socks:
            _close(s)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the work ----------------------------------------------------------

    def _pick(self):
        """The backends to try, starting with the next in turn."""
        with self._lock:
            n = len(self._backends)
            if n == 0:
                return []
            first = self._next % n
            self._next = (first + 1) % n
            return [(i % n, self._backends[i % n]) for i in range(first, first + n)]

    def _track(self, s):
        with self._lock:
            if self._stopping.is_set():
                _close(s)
                return False
            self._socks.add(s)
            return True

    def _untrack(self, s):
        with self._lock:
            self._socks.discard(s)
        _close(s)

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            client.settimeout(None)
            if not self._track(client):
                return
            threading.Thread(target=self._serve, args=(client,), name="rrproxy-conn",
                             daemon=True).start()

    def _serve(self, client):
        upstream = None
        for index, port in self._pick():
            try:
                upstream = socket.create_connection((self.backend_host, port),
                                                    timeout=CONNECT_TIMEOUT)
            except OSError:
                with self._lock:
                    self.refused += 1
                continue
            upstream.settimeout(None)
            with self._lock:
                self.connections[index] = self.connections.get(index, 0) + 1
            break
        if upstream is None:
            self._untrack(client)
            return
        if not self._track(upstream):
            self._untrack(client)
            return
        for s in (client, upstream):
            try:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        done = threading.Event()
        back = threading.Thread(target=self._pipe, args=(upstream, client, done),
                                name="rrproxy-down", daemon=True)
        back.start()
        self._pipe(client, upstream, done)
        back.join()
        self._untrack(client)
        self._untrack(upstream)

    def _pipe(self, src, dst, done):
        """Copies src to dst until src ends; then half-closes dst. A reset on
        either side ends both directions."""
        try:
            while True:
                data = src.recv(BUF)
                if not data:
                    break
                dst.sendall(data)
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        except OSError:
            # A reset: pass it on as a close of both sides.
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        finally:
            done.set()


def _close(s):
    try:
        s.close()
    except OSError:
        pass


# ---- a self-check ----------------------------------------------------------


def _self_check():
    """Two trivial servers that answer each connection with their name and
    echo what they get; a third port where nothing listens."""
    import time

    def server(name):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)

        def loop():
            while True:
                try:
                    c, _ = ls.accept()
                except OSError:
                    return

                def one(c=c):
                    with c:
                        c.sendall(name.encode() + b"\n")
                        while True:
                            d = c.recv(BUF)
                            if not d:
                                return
                            c.sendall(d)
                threading.Thread(target=one, daemon=True).start()
        threading.Thread(target=loop, daemon=True).start()
        return ls

    a, b = server("a"), server("b")
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens there now

    def talk(port, payload=b"hello"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            f = c.makefile("rb")
            name = f.readline().strip().decode()
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            rest = f.read()
            return name, rest

    p = RRProxy([a.getsockname()[1], dead_port, b.getsockname()[1]]).start()
    try:
        names = []
        for i in range(6):
            name, echoed = talk(p.port, b"x" * (i * 50000 + 1))
            assert echoed == b"x" * (i * 50000 + 1), (i, len(echoed))
            names.append(name)
        # a, (dead skipped to) b, b, a, b, b: the dead one's turn goes to the next
        assert names == ["a", "b", "b", "a", "b", "b"], names
        assert p.refused == 2, p.refused
        # concurrent connections
        out = []
        lock = threading.Lock()

        def worker():
            r = talk(p.port, b"y" * 1000)
            with lock:
                out.append(r)
        ts = [threading.Thread(target=worker) for _ in range(30)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(10)
        assert len(out) == 30 and all(e == b"y" * 1000 for _, e in out), out
        assert {n for n, _ in out} == {"a", "b"}
        # every backend down: the client is closed, nothing hangs
        p.set_backends([dead_port])
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", p.port), timeout=5) as c:
            assert c.recv(10) == b""
        assert time.monotonic() - t0 < 3
    finally:
        p.stop()
        a.close()
        b.close()
    print("rrproxy self-check ok")


if __name__ == "__main__":
    _self_check()
