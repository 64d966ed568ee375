#!/usr/bin/python3
"""Clients that pipeline as fast as they can (issue #10's stall), for
test_fairness.py and bench/run.sh's healthz-under-pipelining target.

  pipeload.py PORT CONNECTIONS SECONDS [PATH...]

Opens CONNECTIONS keep-alive connections to 127.0.0.1:PORT (spread over the
source addresses 127.0.0.1 .. 127.0.0.N with --sources N) and on each keeps
sending the same block of pipelined GET requests for PATHs (default
/healthz), never waiting for answers, while reading and discarding whatever
comes back. Prints one JSON line when done: {"bytes_read", "bytes_sent",
"answers", "closed"} (answers counted by their status lines). Standard
library only: one process, non-blocking sockets and a selector.

latency(PORT, SECONDS) measures one client's sequential GET /healthz on a
keep-alive connection meanwhile (a list of seconds)."""

import json
import selectors
import socket
import sys
import time

BLOCK = 65536


def block_for(paths):
    reqs = [("GET %s HTTP/1.1\r\nHost: load\r\nAccept-Encoding: gzip\r\n\r\n" % p).encode()
            for p in paths]
    one = b"".join(reqs)
    return one * max(1, BLOCK // len(one))


def run(port, conns, seconds, paths=("/healthz",), sources=1):
    data = block_for(paths)
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.%d" % (1 + i % sources), 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        state[s] = 0  # offset into data of the next send
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    got = sent = answers = closed = 0
    tail = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end and state:
        for key, ev in sel.select(0.1):
            s = key.fileobj
            if s not in state:
                continue
            try:
                if ev & selectors.EVENT_READ:
                    chunk = s.recv(1 << 18)
                    if not chunk:
                        raise ConnectionResetError
                    got += len(chunk)
                    buf = tail.get(s, b"") + chunk
                    answers += buf.count(b"HTTP/1.1 ")
                    tail[s] = buf[-8:]
                if ev & selectors.EVENT_WRITE:
                    off = state[s]
                    n = s.send(data[off:] if off else data)
                    sent += n
                    state[s] = (off + n) % len(data)
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
                sel.unregister(s)
                del state[s]
                s.close()
    for s in state:
        s.close()
    return {"bytes_read": got, "bytes_sent": sent, "answers": answers, "closed": closed}


def latency(port, seconds, timeout=30.0):
    """Seconds each sequential GET /healthz took on one connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            t0 = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\n\r\n")
            buf = b""
            while not (b"\r\n\r\n" in buf and buf.endswith(b"ok\n")):
                chunk = s.recv(4096)
                if not chunk:
                    raise ConnectionError("the server closed the probe's connection")
                buf += chunk
            out.append(time.monotonic() - t0)
    finally:
        s.close()
    return out


def quantile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def main(argv):
    sources = 1
    if len(argv) > 2 and argv[1] == "--sources":
        sources = int(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    paths = argv[4:] or ["/healthz"]
    print(json.dumps(run(int(argv[1]), int(argv[2]), float(argv[3]), paths, sources)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
