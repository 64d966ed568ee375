"""Throwaway TLS certificates for tests, made with Debian's `openssl` CLI.

make(directory) writes, and returns the paths of:
  ca.pem / ca.key          a test CA (not in any system store)
  server.pem / server.key  signed by the CA for localhost, 127.0.0.1 and ::1
  wrong.pem / wrong.key    signed by the CA for wrong.example only (a name
                           mismatch for anyone connecting to localhost)

Command line: `python3 certs.py DIR` makes them in DIR (created if needed)
and prints the paths as one JSON object.
"""

import json
import os
import subprocess
import sys
import tempfile

OPENSSL = "openssl"


def _run(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _leaf(directory, name, subject_cn, san):
    key = name + ".key"
    csr = name + ".csr"
    ext = name + ".ext"
    with open(os.path.join(directory, ext), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n"
                "subjectAltName=" + san + "\n")
    _run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + subject_cn,
         cwd=directory)
    _run("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext,
         "-out", name + ".pem", cwd=directory)
    os.chmod(os.path.join(directory, key), 0o600)


def make(directory=None):
    """Makes the CA and the server certificates in directory (a new temp
    dir when None) and returns a dict of absolute paths."""
    directory = directory or tempfile.mkdtemp(prefix="otpgate-certs-")
    os.makedirs(directory, exist_ok=True)
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=otpgate test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         cwd=directory)
    os.chmod(os.path.join(directory, "ca.key"), 0o600)
    _leaf(directory, "server", "localhost",
          "DNS:localhost,IP:127.0.0.1,IP:::1")
    _leaf(directory, "wrong", "wrong.example", "DNS:wrong.example")
    p = lambda n: os.path.abspath(os.path.join(directory, n))  # noqa: E731
    return {
        "dir": os.path.abspath(directory),
        "ca_cert": p("ca.pem"),
        "ca_key": p("ca.key"),
        "server_cert": p("server.pem"),
        "server_key": p("server.key"),
        "wrong_cert": p("wrong.pem"),
        "wrong_key": p("wrong.key"),
    }


if __name__ == "__main__":
    print(json.dumps(make(sys.argv[1] if len(sys.argv) > 1 else None)))
