#!/usr/bin/python3
"""make docker-test: the image of docker/Dockerfile, built and run by a real
Docker engine, doing what the README's "Docker" section says.

Needs root. Installs what is missing (docker.io, docker-compose, debootstrap,
caddy), starts dockerd when none answers (and stops it at the end), makes the
debian:bookworm-slim base with tests/docker/base-image.sh when the engine has
none (no registry is needed), builds docker/Dockerfile unchanged, then checks
the image with `docker run`, with docker/compose.yaml and with Debian's Caddy
in front using docker/Caddyfile, and last brings docker/compose.ha.yaml up
(PostgreSQL, two instances, HAProxy) with stand-ins for postgres:15 and
haproxy:2.8 built from Debian's packages (STANDINS below; HAProxy 2.6), named
by an override file. When the engine cannot run here at all it prints one
line saying why and exits 0; any failure after that is a failure.

Everything it makes is named otpgate-test-<id> and removed at the end: the
images (otpgate's and the two stand-ins), containers, volumes, networks and
temporary files. It keeps the base image and its root file system
(build-docker/base/) and the engine's build cache. It never uses fixed host
ports, the names the compose files give a real deployment (otpgate-data,
otpgate:latest), or docker/.env.

Environment: DOCKER (client, default /usr/bin/docker), KEEP=1 leaves the
containers, volume and image for a look afterwards.
"""

import base64
import datetime
import http.client
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, "build-docker")
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
COMPOSE = "/usr/bin/docker-compose"
DOCKERD = "/usr/sbin/dockerd"
CADDY = "/usr/bin/caddy"
OATHTOOL = "/usr/bin/oathtool"
PYTHON = "/usr/bin/python3"
SMTP_SINK = os.path.join(ROOT, "tests", "integration", "smtp_sink.py")
PACKAGES = {DOCKER: "docker.io", DOCKERD: "docker.io", COMPOSE: "docker-compose",
            "/usr/sbin/debootstrap": "debootstrap", CADDY: "caddy"}
UID = 10001
# A request's line in HAProxy's log (docker/haproxy.cfg's log-format).
HA_LOG = re.compile(r"^(?P<client>\S+) \[[^]]*\] \S+ (?P<backend>[^/\s]+)/(?P<server>\S+) \S+ "
                    r"(?P<status>-?\d+) \S+ \S+ (?P<method>\S+) (?P<path>\S+)$")
# The README's restore, run in a one-off container of the service with the
# backup on stdin.
RESTORE = ("umask 077 && cat > /data/otpgate.db.new && rm -f /data/otpgate.db-wal "
           "/data/otpgate.db-shm && mv /data/otpgate.db.new /data/otpgate.db")

# Stand-ins for the two official images docker/compose.ha.yaml names, which
# no registry here serves: Debian's packages on the test's debian:bookworm-slim,
# each honouring what the compose file relies on from its image. Built under
# the test's names; the engine's build cache keeps them for the next run.
STANDINS = {
    "postgres": {
        "Dockerfile": """\
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
# No cluster of Debian's own: the entrypoint makes one in PGDATA.
RUN mkdir -p /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/docker.conf \\
 && apt-get update && apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \\
 && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
""",
        # As the official entrypoint: as root, the folders are given to
        # postgres and the password file is read; then as postgres, initdb
        # on the first start (setup server on the socket only), and the
        # server listening everywhere with password auth over TCP.
        "entrypoint.sh": """\
#!/bin/bash
set -Eeuo pipefail
if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
[ "$1" = postgres ] || exec "$@"
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 0700 "$PGDATA"
    chmod 3775 /var/run/postgresql
    find "$PGDATA" /var/run/postgresql \\! -user postgres -exec chown postgres:postgres {} +
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        POSTGRES_PASSWORD=$(< "$POSTGRES_PASSWORD_FILE")
        export POSTGRES_PASSWORD
        unset POSTGRES_PASSWORD_FILE
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "stand-in postgres: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
        exit 1
    fi
    initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile=<(printf '%s\\n' "$POSTGRES_PASSWORD") \\
        -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
    echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" -d postgres -v db="$POSTGRES_DB" \\
            <<< 'CREATE DATABASE :"db";'
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
fi
unset POSTGRES_PASSWORD
exec "$@"
""",
    },
    "haproxy": {
        # Debian's haproxy is 2.6, not the 2.8 the compose file names.
        "Dockerfile": """\
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends haproxy \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /usr/local/etc/haproxy
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /var/lib/haproxy
USER haproxy
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
""",
        # As the official one: haproxy in the foreground, master-worker.
        "entrypoint.sh": """\
#!/bin/bash
set -e
if [ "${1:0:1}" = - ]; then set -- haproxy "$@"; fi
if [ "$1" = haproxy ]; then shift; set -- haproxy -W -db "$@"; fi
exec "$@"
""",
    },
}

# The engine's other client may come first on PATH: compose's builds call
# `docker`, so /usr/bin goes first.
ENV = dict(os.environ, PATH="/usr/bin:/usr/sbin:/bin:/sbin:" + os.environ.get("PATH", ""),
           DOCKER_BUILDKIT="1", COMPOSE_DOCKER_CLI_BUILD="1")


class Skip(Exception):
    """The engine cannot run on this machine."""


class Failed(Exception):
    """A step that later steps depend on failed."""


def sh(*args, check=True, timeout=300, env=None, input=None):
    """Runs a command; returns its CompletedProcess (text). On a non-zero
    exit with check, raises Failed with the end of its output."""
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                       env=env or ENV, input=input)
    if check and p.returncode != 0:
        raise Failed("%s exited %d: %s" % (" ".join(args[:4]), p.returncode,
                                           (p.stderr or p.stdout).strip()[-1500:]))
    return p


def docker(*args, **kw):
    return sh(DOCKER, *args, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the engine -------------------------------------------------------------


class Engine:
    """A Docker engine that answers: the one running, or dockerd started
    here (and stopped by stop())."""

    def __init__(self, work):
        self.work = work
        self.dockerd = None

    def answers(self):
        try:
            return os.path.exists(DOCKER) and docker("info", check=False, timeout=20).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def prepare(self):
        missing = sorted({pkg for path, pkg in PACKAGES.items() if not os.path.exists(path)})
        if os.geteuid() != 0:
            raise Skip("needs root (apt-get, debootstrap, dockerd, files owned by uid %d)" % UID)
        if missing:
            print("docker-test: installing %s" % " ".join(missing), flush=True)
            env = dict(ENV, DEBIAN_FRONTEND="noninteractive")
            p = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True, env=env)
            if p.returncode == 0:
                p = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
                                   + missing, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                raise Skip("apt-get could not install %s: %s" % (
                    " ".join(missing), (p.stderr or p.stdout).strip().splitlines()[-1:]))
        if self.answers():
            return
        log = os.path.join(self.work, "dockerd.log")
        print("docker-test: starting dockerd (log: %s)" % log, flush=True)
        with open(log, "wb") as out:
            self.dockerd = subprocess.Popen([DOCKERD], stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True,
                                            env=ENV)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.dockerd.poll() is not None:
                with open(log, errors="replace") as f:
                    lines = [ln for ln in f.read().splitlines() if ln.strip()]
                self.dockerd = None
                raise Skip("dockerd could not start: %s" % (lines[-1] if lines else "no output"))
            if self.answers():
                return
            time.sleep(0.5)
        self.stop()
        raise Skip("dockerd did not answer within 60 s")

    def stop(self):
        if not self.dockerd:
            return
        self.dockerd.send_signal(signal.SIGTERM)
        try:
            self.dockerd.wait(30)
        except subprocess.TimeoutExpired:
            self.dockerd.kill()
            self.dockerd.wait()
        self.dockerd = None


# ---- HTTP -------------------------------------------------------------------


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


def call(port, method, path, body=None, headers=None, auth=None, tls=None):
    """One request to 127.0.0.1:port; with tls (an ssl.SSLContext), over
    https."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if auth:
        hdrs["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=15, context=tls)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def stamp(text):
    """Docker's RFC 3339 time (nanoseconds, Z or an offset) as seconds."""
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        raise Failed("not a time: %r" % text)
    whole = datetime.datetime.fromisoformat(m.group(1) + m.group(3).replace("Z", "+00:00"))
    return whole.timestamp() + float("0." + (m.group(2) or "0"))


def totp(secret, step_offset=0):
    """The code of the TOTP step step_offset steps from now (oathtool)."""
    t = time.gmtime(time.time() + 30 * step_offset)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", t)
    return sh(OATHTOOL, "--totp", "-b", secret, "--now", stamp).stdout.strip()


# ---- the run ----------------------------------------------------------------


class Run:
    def __init__(self):
        self.t0 = time.monotonic()
        self.id = "otpgate-test-" + secrets.token_hex(3)
        self.work = tempfile.mkdtemp(prefix=self.id + "-")
        os.chmod(self.work, 0o755)
        self.image = self.id + ":latest"
        self.volume = self.id + "-data"
        self.containers = []
        self.passed = 0
        self.failures = []
        self.timings = {}
        self.caddy = None
        self.sink = None
        self.compose_env_file = os.path.join(self.work, "compose.env")
        self.compose_up = False
        # docker/compose.ha.yaml: its own project, volumes and settings.
        self.ha_project = self.id + "-ha"
        self.ha_volume = self.id + "-ha"
        self.ha_env_file = os.path.join(self.work, "compose-ha.env")
        self.ha_override = os.path.join(self.work, "override.yaml")
        self.ha_up = False
        self.standins = {name: "%s-%s" % (self.id, name) for name in STANDINS}
        self.ha_last = None
        self.ha_served = []

    # -- reporting --

    def check(self, name, ok, detail=""):
        at = "[%3.0fs]" % (time.monotonic() - self.t0)
        if ok:
            self.passed += 1
            print("ok    %s %s" % (at, name), flush=True)
        else:
            self.failures.append(name)
            print("FAIL  %s %s%s" % (at, name, ": %s" % detail if detail else ""), flush=True)
        return ok

    def must(self, name, ok, detail=""):
        if not self.check(name, ok, detail):
            raise Failed(name)

    # -- containers --

    def run(self, name, *args, env=None, publish=None, hardened=True, cmd=()):
        """docker run -d, as the README does: a named container with the
        test volume on /data, read-only with every capability dropped."""
        full = self.id + "-" + name
        argv = ["run", "-d", "--name", full, "--health-interval", "1s", "--health-start-period", "1s"]
        if hardened:
            argv += ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                     "--security-opt", "no-new-privileges"]
        if publish:
            argv += ["-p", "127.0.0.1:%d:%d" % publish]
        for k, v in (env or {}).items():
            argv += ["-e", "%s=%s" % (k, v)]
        docker(*(argv + list(args) + [self.image] + list(cmd)))
        self.containers.append(full)
        return full

    def logs(self, container):
        p = docker("logs", container, check=False)
        return p.stdout + p.stderr

    def wait_http(self, container, port, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if call(port, "GET", "/healthz").status == 200:
                    return True
            except OSError:
                pass
            state = docker("inspect", "-f", "{{.State.Status}}", container).stdout.strip()
            if state in ("exited", "dead"):
                break
            time.sleep(0.3)
        raise Failed("%s does not answer on port %d:\n%s" % (container, port,
                                                           self.logs(container)[-2000:]))

    def health(self, container, want="healthy", timeout=20):
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                           container).stdout.strip()
            if state == want:
                break
            time.sleep(0.5)
        return state

    def exec(self, container, *args, check=True):
        return docker("exec", container, *args, check=check)

    def stop_timed(self, container):
        t0 = time.monotonic()
        docker("stop", container, timeout=60)
        took = time.monotonic() - t0
        code = docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip()
        return took, code

    # -- the steps --

    def build(self):
        t0 = time.monotonic()
        p = sh(os.path.join(ROOT, "tests", "docker", "base-image.sh"), DOCKER,
               os.path.join(CACHE, "base"), timeout=900, check=False)
        print(p.stdout.strip(), flush=True)
        self.must("base image debian:bookworm-slim", p.returncode == 0, p.stderr[-1500:])
        self.timings["base image"] = time.monotonic() - t0

        t0 = time.monotonic()
        # Exactly the README's command, with the test's tag.
        p = docker("build", "--progress=plain", "-f", "docker/Dockerfile", "-t", self.image, ROOT,
                   timeout=1800, check=False)
        self.timings["image build"] = time.monotonic() - t0
        log = p.stdout + p.stderr
        with open(os.path.join(self.work, "build.log"), "w") as f:
            f.write(log)
        self.must("docker build -f docker/Dockerfile", p.returncode == 0, log[-3000:])
        if "Building C object" in log:  # not when every step came from the cache
            self.check("the build compiles no tests or benchmarks",
                       not re.search(r"Building C object (bench|tests)/", log))
            self.check("the build makes its user without warnings", "useradd warning" not in log
                       and "groupadd warning" not in log)
        # What .dockerignore lets into the build context, exported as files.
        ctx = os.path.join(self.work, "context")
        docker("build", "-q", "-o", "type=local,dest=" + ctx, "-f", "-", ROOT,
               input="FROM scratch\nCOPY . /\n")
        top = sorted(os.listdir(ctx))
        self.check("the build context is CMakeLists.txt, src/ and static/ alone",
                   top == ["CMakeLists.txt", "src", "static"], top)

        info = json.loads(docker("image", "inspect", self.image).stdout)[0]
        self.size_mb = info["Size"] / 1e6
        cfg = info["Config"]
        labels = cfg.get("Labels") or {}
        version = docker("run", "--rm", self.image, "version").stdout.split()
        self.check("runs as uid %d" % UID, cfg.get("User") == "%d:%d" % (UID, UID), cfg.get("User"))
        self.check("label version is the binary's (%s)" % labels.get(
            "org.opencontainers.image.version"),
            version[:1] == ["otpgate"] and labels.get("org.opencontainers.image.version") == version[1])
        self.check("label source is declared", "org.opencontainers.image.source" in labels)
        self.check("has a HEALTHCHECK", bool((cfg.get("Healthcheck") or {}).get("Test")))

    def image_defaults(self):
        """The image exactly as built, with only a port published: no
        development outbox for the world to read."""
        port = free_port()
        c = self.run("defaults", publish=(port, 8080), hardened=False)
        self.wait_http(c, port)
        home = call(port, "GET", "/")
        self.check("defaults: the home page answers", home.status == 200, home)
        outbox = call(port, "GET", "/dev/outbox")
        self.check("defaults: /dev/outbox is not served (dev delivery off on 0.0.0.0)",
                   outbox.status == 404, "%d; log: %s" % (outbox.status, self.logs(c)[-400:]))
        docker("rm", "-fv", c)

    def first_run(self):
        """docker run as the README: named volume, read-only, no capabilities."""
        port = free_port()
        self.public = "https://otpgate.test"
        c = self.run("first", "-v", "%s:/data" % self.volume, publish=(port, 8080),
                     env={"OTPGATE_PUBLIC_URL": self.public})
        self.wait_http(c, port)
        self.check("docker run: /healthz and /readyz", call(port, "GET", "/healthz").body == b"ok\n"
                   and call(port, "GET", "/readyz").status == 200)
        disc = call(port, "GET", "/.well-known/openid-configuration")
        self.check("docker run: discovery names the public URL",
                   disc.status == 200 and disc.json.get("issuer") == self.public, disc)
        robots = call(port, "GET", "/robots.txt")
        self.check("docker run: /robots.txt", robots.status == 200 and b"Disallow: /" in robots.body,
                   robots)
        self.check("docker run: /dev/outbox is 404 with an https public URL",
                   call(port, "GET", "/dev/outbox").status == 404)
        self.check("docker run: healthy (the image's HEALTHCHECK)", self.health(c) == "healthy")

        status = self.exec(c, "cat", "/proc/1/status").stdout
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M)
        cap = re.search(r"^CapEff:\s+(\w+)", status, re.M)
        self.check("docker run: PID 1 runs as uid %d" % UID, uid and uid.group(1) == str(UID), status)
        self.check("docker run: no capabilities", cap and int(cap.group(1), 16) == 0, cap)
        ro = self.exec(c, "sh", "-c", "touch /usr/x", check=False)
        self.check("docker run: the root file system is read-only",
                   ro.returncode != 0 and "Read-only" in ro.stderr, ro.stderr)
        modes = self.exec(c, "stat", "-c", "%a %u %n", "/data", "/data/master.key",
                          "/data/otpgate.db").stdout.split("\n")
        self.check("docker run: /data 0700, master.key and otpgate.db 0600, all uid %d" % UID,
                   modes[:3] == ["700 %d /data" % UID, "600 %d /data/master.key" % UID,
                                 "600 %d /data/otpgate.db" % UID], modes)

        app = json.loads(self.exec(c, "otpgate", "app", "add", "--name", "Docker test",
                                   "--redirect-uri", "https://app.test/callback").stdout)
        self.app = (app["client_id"], app["client_secret"])
        self.check("docker exec ... otpgate app add", app["client_id"].startswith("app_"), app)

        # A sign-in through the API: an authenticator app (TOTP, oathtool).
        add = call(port, "POST", "/api/v1/users/alice/factors", {"type": "totp"}, auth=self.app)
        self.must("API: add a TOTP factor", add.status == 201, add)
        self.totp_secret = add.json["secret"]
        ver = call(port, "POST", "/api/v1/users/alice/factors/%s/verify" % add.json["id"],
                   {"code": totp(self.totp_secret)}, auth=self.app)
        self.must("API: confirm it with the app's code", ver.status == 200, ver)
        self.recovery = ver.json["recovery_codes"]
        wrong = call(port, "POST", "/api/v1/users/alice/verify", {"code": "000000"}, auth=self.app)
        if wrong.status == 200:  # one in a million: 000000 was the code
            wrong = call(port, "POST", "/api/v1/users/alice/verify", {"code": "111111"},
                         auth=self.app)
        self.check("API: a wrong code is refused", wrong.status == 422, wrong)
        ok = call(port, "POST", "/api/v1/users/alice/verify", {"code": totp(self.totp_secret, 1)},
                  auth=self.app)
        self.check("API: sign-in with the next code", ok.status == 200 and ok.json.get("ok") is True
                   and "mfa" in ok.json.get("amr", []), ok)

        took, code = self.stop_timed(c)
        self.check("docker stop: SIGTERM ends it in %.1f s, exit 0" % took, took < 10 and code == "0",
                   "exit %s" % code)
        docker("rm", c)

    def recreate(self):
        """A new container on the same volume, listening on another port."""
        port = free_port()
        c = self.run("again", "-v", "%s:/data" % self.volume, publish=(port, 9090),
                     env={"OTPGATE_PUBLIC_URL": self.public, "OTPGATE_LISTEN": "0.0.0.0:9090"})
        self.wait_http(c, port)
        self.check("OTPGATE_LISTEN=0.0.0.0:9090: healthy", self.health(c) == "healthy",
                   docker("inspect", "-f", "{{json .State.Health}}", c).stdout[-600:])
        listed = self.exec(c, "otpgate", "app", "list").stdout
        self.check("re-created: the app is still there", self.app[0] in listed, listed)
        rc = call(port, "POST", "/api/v1/users/alice/verify", {"code": self.recovery[0]},
                  auth=self.app)
        self.check("re-created: same master key (a recovery code signs in)", rc.status == 200, rc)
        took, code = self.stop_timed(c)
        self.check("docker stop on 9090: %.1f s, exit 0" % took, took < 10 and code == "0")
        docker("rm", c)

    def bind_mounts_and_secrets(self):
        """Host folders and secret files, owned right and wrong."""
        folder = os.path.join(self.work, "data")
        os.mkdir(folder, 0o755)  # root's, as `mkdir` on the host makes it
        t0 = time.monotonic()
        p = docker("run", "--rm", "-v", "%s:/data" % folder, self.image, check=False, timeout=60)
        self.check("a root-owned bind mount: refused at once, naming uid %d and the chown" % UID,
                   p.returncode != 0 and time.monotonic() - t0 < 20
                   and "not writable by uid %d" % UID in p.stderr
                   and "chown %d:%d" % (UID, UID) in p.stderr, p.stderr[-500:])
        os.chown(folder, UID, UID)
        p = docker("run", "--rm", "-v", "%s:/data" % folder, self.image, "app", "list", check=False)
        st = os.stat(os.path.join(folder, "master.key"))
        self.check("a bind mount owned by %d works" % UID, p.returncode == 0 and st.st_uid == UID
                   and st.st_mode & 0o777 == 0o600, p.stderr)

        secret = os.path.join(self.work, "smtp_url")
        with open(secret, "w") as f:
            f.write("smtp://otpgate:hunter2@mail.example.com:587\n")
        os.chmod(secret, 0o600)  # root's
        args = ["run", "--rm", "-v", "%s:/data" % folder, "-v", "%s:/run/secrets/smtp_url:ro" % secret,
                "-e", "OTPGATE_SMTP_URL_FILE=/run/secrets/smtp_url", self.image, "app", "list"]
        p = docker(*args, check=False)
        self.check("a secret file uid %d cannot read: the error says so" % UID,
                   p.returncode != 0 and "OTPGATE_SMTP_URL_FILE" in p.stderr
                   and "runs as uid %d" % UID in p.stderr and "hunter2" not in p.stderr, p.stderr)
        os.chown(secret, UID, UID)
        os.chmod(secret, 0o400)
        p = docker(*args, check=False)
        self.check("a secret file owned by %d, mode 0400, is read" % UID, p.returncode == 0, p.stderr)

    # -- compose --

    def free_subnet(self):
        used = []
        for net in docker("network", "ls", "-q").stdout.split():
            for s in docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
                            net).stdout.split():
                used.append(ipaddress.ip_network(s, strict=False))
        for line in sh("ip", "-4", "route", check=False).stdout.splitlines():
            try:
                used.append(ipaddress.ip_network(line.split()[0], strict=False))
            except ValueError:
                pass
        for third in range(200, 255):
            cand = ipaddress.ip_network("172.31.%d.0/24" % third)
            if not any(cand.overlaps(u) for u in used if u.prefixlen > 0):
                return cand
        raise Failed("no free 172.31.x.0/24 for the compose network")

    def compose(self, *args, timeout=600, check=True):
        return sh(COMPOSE, "-p", self.id, "-f", os.path.join(ROOT, "docker", "compose.yaml"),
                  "--env-file", self.compose_env_file, *args, timeout=timeout, check=check)

    def compose_checks(self):
        self.port = free_port()
        self.https_port = free_port()
        self.subnet = self.free_subnet()
        gateway = str(next(self.subnet.hosts()))
        sec = os.path.join(self.work, "secrets")
        os.mkdir(sec)
        # The sink listens on the network's gateway once the network exists;
        # its port is chosen now.
        smtp_port = free_port()
        for name, value in (("smtp_url", "smtp://%s:%d?starttls=off\n" % (gateway, smtp_port)),
                            ("sms_auth", "")):
            path = os.path.join(sec, name)
            with open(path, "w") as f:
                f.write(value)
            os.chown(path, UID, UID)
            os.chmod(path, 0o400)
        self.host = "otpgate.test:%d" % self.https_port
        settings = {
            "OTPGATE_HOST": self.host, "OTPGATE_PORT": self.port, "OTPGATE_SUBNET": self.subnet,
            "OTPGATE_VOLUME": self.volume, "OTPGATE_IMAGE": self.image, "OTPGATE_SECRETS": sec,
            "OTPGATE_SMTP_FROM": "otpgate@otpgate.test", "OTPGATE_LOG": "debug",
            "CADDY_TLS": "tls internal",
        }
        with open(self.compose_env_file, "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in settings.items()))

        p = self.compose("config", "-q", check=False)
        self.check("docker-compose config: the whole file (otpgate and caddy) is valid",
                   p.returncode == 0, p.stderr)
        # Caddy's image cannot be pulled here: the test runs otpgate from the
        # file and Debian's caddy with the same Caddyfile on the host.
        t0 = time.monotonic()
        self.compose_up = True
        p = self.compose("up", "-d", "--build", "otpgate", check=False, timeout=1800)
        self.timings["compose up --build"] = time.monotonic() - t0
        self.must("docker-compose up -d --build", p.returncode == 0, p.stderr[-2000:])
        cid = self.compose("ps", "-q", "otpgate").stdout.strip()
        self.wait_http(cid, self.port)
        listed = self.compose("exec", "-T", "otpgate", "otpgate", "app", "list").stdout
        self.check("compose: same volume as docker run (the app is there)", self.app[0] in listed,
                   listed)

        self.compose("down", timeout=120)
        gone = docker("ps", "-aq", "--filter", "label=com.docker.compose.project=%s" % self.id).stdout
        self.check("docker-compose down removes the container", gone.strip() == "")
        self.compose("up", "-d", "--build", "otpgate", timeout=1800)
        cid = self.compose("ps", "-q", "otpgate").stdout.strip()
        self.wait_http(cid, self.port)
        rc = call(self.port, "POST", "/api/v1/users/alice/verify", {"code": self.recovery[1]},
                  auth=self.app)
        self.check("compose down/up: data and key survive (a recovery code signs in)",
                   rc.status == 200, rc)

        self.email_sign_in(gateway, smtp_port)
        self.behind_caddy(gateway)
        # The HEALTHCHECK's first probe comes 30 s after the start.
        state = self.health(cid, timeout=60)
        self.check("compose: healthy", state == "healthy", state)
        self.backup_restore()
        self.compose("down", timeout=120)
        self.compose_up = False

    def compose_raw(self, *args, stdin=None):
        """A compose command whose output (or input) is a file's bytes."""
        argv = [COMPOSE, "-p", self.id, "-f", os.path.join(ROOT, "docker", "compose.yaml"),
                "--env-file", self.compose_env_file] + list(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, env=ENV, timeout=120)
        if p.returncode != 0:
            raise Failed("%s: %s" % (" ".join(args[:3]), p.stderr.decode(errors="replace")[-800:]))
        return p.stdout

    def backup_restore(self):
        """The README's backup (otpgate backup, then the file out through
        exec) and restore (the file in through a one-off container)."""
        self.compose("exec", "-T", "otpgate", "otpgate", "backup", "/data/backup.db")
        data = self.compose_raw("exec", "-T", "otpgate", "cat", "/data/backup.db")
        key = self.compose_raw("exec", "-T", "otpgate", "cat", "/data/master.key")
        self.compose("exec", "-T", "otpgate", "rm", "/data/backup.db")
        saved = os.path.join(self.work, "otpgate-backup.db")
        with open(saved, "wb") as f:
            f.write(data)
        check = sh("sqlite3", saved, "PRAGMA integrity_check; SELECT count(*) FROM apps;", check=False)
        self.check("backup: a sound database copy, and the master key (%d bytes)" % len(key),
                   check.stdout.split() == ["ok", "1"] and len(key) > 0, check.stdout + check.stderr)

        later = json.loads(self.compose("exec", "-T", "otpgate", "otpgate", "app", "add", "--name",
                                        "After the backup", "--redirect-uri",
                                        "https://later.test/cb").stdout)
        self.compose("stop", "otpgate", timeout=120)
        self.compose_raw("run", "--rm", "-T", "--no-deps", "--entrypoint", "sh", "otpgate", "-c",
                         RESTORE, stdin=data)
        self.compose("start", "otpgate", timeout=120)
        cid = self.compose("ps", "-q", "otpgate").stdout.strip()
        self.wait_http(cid, self.port)
        listed = self.compose("exec", "-T", "otpgate", "otpgate", "app", "list").stdout
        self.check("restore: the backup's apps, not the one added after it",
                   self.app[0] in listed and later["client_id"] not in listed, listed)
        ok = call(self.port, "POST", "/api/v1/users/alice/verify", {"code": self.recovery[2]},
                  auth=self.app)
        self.check("restore: users sign in as before", ok.status == 200, ok)

    def email_sign_in(self, gateway, smtp_port):
        """OTPGATE_SMTP_URL_FILE from a compose secret, and a sign-in with an
        e-mailed code: a real SMTP server on the host, reached from the
        container through the network's gateway."""
        out = os.path.join(self.work, "mail.jsonl")
        self.sink = subprocess.Popen([PYTHON, SMTP_SINK, "--host", gateway, "--port", str(smtp_port),
                                      "--out", out, "--exit-on-stdin-eof"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.sink.stdout.readline()

        def code_for(addr, seen):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                msgs = []
                if os.path.exists(out):
                    with open(out) as f:
                        msgs = [json.loads(ln) for ln in f if ln.strip()]
                # Code messages only (Message-ID <m_...>): the security
                # notification a confirmed factor also sends is not one.
                msgs = [m for m in msgs if addr in m["rcpt_tos"]
                        and re.search(r"^Message-ID: <m_", m["data"], re.M | re.I)]
                if len(msgs) > seen:
                    return re.search(r"(?<!\d)(\d{6})(?!\d)", msgs[-1]["data"]).group(1)
                time.sleep(0.2)
            raise Failed("no mail to %s" % addr)

        port, addr = self.port, "bob@example.com"
        add = call(port, "POST", "/api/v1/users/bob/factors", {"type": "email", "email": addr},
                   auth=self.app)
        self.must("compose: add an e-mail factor", add.status == 201, add)
        ver = call(port, "POST", "/api/v1/users/bob/factors/%s/verify" % add.json["id"],
                   {"code": code_for(addr, 0)}, auth=self.app)
        self.check("compose: the code came by SMTP (smtp_url secret) and confirms the factor",
                   ver.status == 200, ver)
        ch = call(port, "POST", "/api/v1/challenges", {"sub": "bob"}, auth=self.app)
        self.must("compose: a sign-in challenge", ch.status == 201, ch)
        ok = call(port, "POST", "/api/v1/challenges/%s/verify" % ch.json["id"],
                  {"code": code_for(addr, 1)}, auth=self.app)
        self.check("compose: sign-in with the e-mailed code", ok.status == 200
                   and ok.json.get("amr") == ["otp", "mail", "mfa"], ok)

    def behind_caddy(self, gateway):
        """docker/Caddyfile with Debian's caddy on the host in front of the
        published port, `tls internal`, as a trial would run it."""
        home = os.path.join(self.work, "caddy")
        os.mkdir(home)
        http_port = free_port()
        wrapper = os.path.join(home, "Caddyfile")
        # Only what a host test needs around the real file: no admin
        # endpoint, no port 80, and the local CA kept out of the host's
        # trust store.
        with open(wrapper, "w") as f:
            f.write("{\n\tadmin off\n\tskip_install_trust\n\thttp_port %d\n}\n\nimport %s\n"
                    % (http_port, os.path.join(ROOT, "docker", "Caddyfile")))
        trust_before = sorted(os.listdir("/usr/local/share/ca-certificates"))
        env = dict(ENV, HOME=home, XDG_DATA_HOME=os.path.join(home, "data"),
                   XDG_CONFIG_HOME=os.path.join(home, "config"), OTPGATE_HOST=self.host,
                   CADDY_TLS="tls internal", OTPGATE_UPSTREAM="127.0.0.1:%d" % self.port)
        log = open(os.path.join(home, "caddy.log"), "wb")
        self.caddy = subprocess.Popen([CADDY, "run", "--config", wrapper, "--adapter", "caddyfile"],
                                      stdout=log, stderr=subprocess.STDOUT, env=env,
                                      start_new_session=True)
        log.close()
        root_crt = os.path.join(home, "data", "caddy", "pki", "authorities", "local", "root.crt")
        base = "https://%s" % self.host

        def curl(path, *extra):
            return sh("curl", "-sS", "--max-time", "10", "--resolve",
                      "%s:127.0.0.1" % self.host, "--cacert", root_crt, "-D", "-", *extra,
                      base + path, check=False)

        deadline = time.monotonic() + 30
        p = None
        while time.monotonic() < deadline:
            if os.path.exists(root_crt):
                p = curl("/healthz")
                if p.returncode == 0 and "ok" in p.stdout:
                    break
            if self.caddy.poll() is not None:
                break
            time.sleep(0.5)
        with open(os.path.join(home, "caddy.log"), errors="replace") as f:
            caddy_log = f.read()
        self.must("caddy: https with its local CA in front of otpgate",
                  p is not None and p.returncode == 0 and "ok" in p.stdout,
                  (p.stderr if p else "") + caddy_log[-1500:])
        disc = curl("/.well-known/openid-configuration")
        self.check("caddy: the issuer is the https name",
                   '"issuer":"%s"' % base in disc.stdout.replace(" ", ""), disc.stdout[-400:])
        login = curl("/admin/login")
        cookies = [ln for ln in login.stdout.splitlines() if ln.lower().startswith("set-cookie:")]
        self.check("caddy: cookies are Secure", cookies and all("; Secure" in c for c in cookies),
                   cookies)

        # Who otpgate believes the client is (its debug request log). From
        # the host straight to the published port: the network's gateway.
        # Through Caddy: the client Caddy saw (127.0.0.1), from the
        # X-Forwarded-For of a trusted proxy, and not what the client forged.
        cid = self.compose("ps", "-q", "otpgate").stdout.strip()
        before = len(self.logs(cid).splitlines())
        call(self.port, "GET", "/readyz")
        curl("/robots.txt", "-H", "X-Forwarded-For: 203.0.113.9")
        time.sleep(0.5)

        def ips(route):
            return [json.loads(ln).get("ip") for ln in self.logs(cid).splitlines()[before:]
                    if ln.startswith("{") and '"route":"%s"' % route in ln]
        self.check("published port: otpgate sees the gateway %s" % gateway,
                   ips("/readyz") == [gateway], ips("/readyz"))
        self.check("caddy: otpgate sees the client (127.0.0.1), not the gateway nor a forged "
                   "X-Forwarded-For", ips("/robots.txt") == ["127.0.0.1"], ips("/robots.txt"))
        self.check("caddy: the host's trust store is untouched",
                   sorted(os.listdir("/usr/local/share/ca-certificates")) == trust_before)

    # -- compose.ha.yaml --

    def ha_compose(self, *args, timeout=600, check=True):
        """docker/compose.ha.yaml unchanged, with the override that names the
        stand-in images."""
        return sh(COMPOSE, "-p", self.ha_project, "-f",
                  os.path.join(ROOT, "docker", "compose.ha.yaml"), "-f", self.ha_override,
                  "--env-file", self.ha_env_file, *args, timeout=timeout, check=check)

    def build_standins(self):
        """STANDINS, built from the test's debian:bookworm-slim."""
        for name, files in STANDINS.items():
            ctx = os.path.join(self.work, "standin-" + name)
            os.mkdir(ctx)
            for fname, text in files.items():
                with open(os.path.join(ctx, fname), "w") as f:
                    f.write(text)
                os.chmod(os.path.join(ctx, fname), 0o755 if fname.endswith(".sh") else 0o644)
            p = docker("build", "--progress=plain", "-t", self.standins[name], ctx, timeout=900,
                       check=False)
            self.must("stand-in for the official %s image, from Debian's package" % name,
                      p.returncode == 0, (p.stdout + p.stderr)[-2000:])
        pg = docker("run", "--rm", "--entrypoint", "postgres", self.standins["postgres"],
                    "--version").stdout
        ha = docker("run", "--rm", "--entrypoint", "haproxy", self.standins["haproxy"],
                    "-v").stdout
        print("docker-test: stand-ins: %s; %s" % (pg.strip(), ha.splitlines()[0] if ha else "?"),
              flush=True)

    def ha_secrets(self):
        """docker/secrets/ as compose.ha.yaml's header makes it, with a
        self-signed certificate for the test's https name."""
        sec = os.path.join(self.work, "ha-secrets")
        os.mkdir(sec, 0o700)
        pem = os.path.join(self.work, "ha-cert")
        os.mkdir(pem, 0o700)
        crt, key = os.path.join(pem, "cert.pem"), os.path.join(pem, "key.pem")
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-days", "2", "-subj", "/CN=otpgate.test", "-addext",
           "subjectAltName=DNS:otpgate.test,IP:127.0.0.1", "-keyout", key, "-out", crt)
        with open(crt) as f, open(key) as g:
            tls_pem = f.read() + g.read()
        password = secrets.token_hex(24)
        values = {"postgres_password": password + "\n",
                  "database_url": "postgres://otpgate:%s@postgres:5432/otpgate\n" % password,
                  "tls.pem": tls_pem, "smtp_url": "", "sms_auth": ""}
        for name, value in values.items():
            path = os.path.join(sec, name)
            with open(path, "w") as f:
                f.write(value)
            os.chown(path, UID, UID)
            os.chmod(path, 0o400)
        self.ha_tls = ssl.create_default_context(cafile=crt)
        return sec

    def ha_log(self):
        """HAProxy's request log (its stdout), a line each."""
        return docker("logs", self.ha_cids["haproxy"]).stdout.splitlines()

    def ha_events(self, server):
        """HAProxy's lines that take server out of rotation."""
        p = docker("logs", self.ha_cids["haproxy"])
        return [ln for ln in (p.stdout + p.stderr).splitlines()
                if "otpgate/%s " % server in ln and "DOWN" in ln]

    def via_haproxy(self, method, path, body=None, headers=None, auth=None):
        """A request to HAProxy's https port; returns the answer, the instance
        HAProxy sent it to and the client address it saw (its log line)."""
        before = len(self.ha_log())
        hdrs = dict({"Host": self.ha_host}, **(headers or {}))
        ans = call(self.ha_https_port, method, path, body, hdrs, auth, tls=self.ha_tls)
        deadline = time.monotonic() + 5
        while True:
            for line in self.ha_log()[before:]:
                m = HA_LOG.match(line)
                if m and m.group("method") == method and m.group("path") == path:
                    self.ha_last = m.group("server")
                    self.ha_served.append(self.ha_last)
                    return ans, self.ha_last, m.group("client")
            if time.monotonic() > deadline:
                return ans, None, None
            time.sleep(0.1)

    def next_goes_to(self, server):
        """Round robin: a GET /healthz through HAProxy until the last request
        went to the other instance, so the next one goes to server."""
        for _ in range(4):
            if self.ha_last not in (None, server):
                return
            self.via_haproxy("GET", "/healthz")

    def ha_checks(self):
        """docker/compose.ha.yaml brought up for real: PostgreSQL, two
        instances on one volume and HAProxy ending https, as the README's
        "More than one machine" says. postgres:15 and haproxy:2.8 cannot be
        pulled here: an override file names stand-ins built from Debian's
        packages (HAProxy 2.6), and nothing else of the file changes."""
        t0 = time.monotonic()
        self.build_standins()
        self.timings["stand-ins"] = time.monotonic() - t0
        t0 = time.monotonic()
        http_port, self.ha_https_port = free_port(), free_port()
        subnet = self.free_subnet()
        sec = self.ha_secrets()
        self.ha_host = "otpgate.test:%d" % self.ha_https_port
        settings = {
            "OTPGATE_HOST": self.ha_host, "OTPGATE_HTTP_PORT": http_port,
            "OTPGATE_HTTPS_PORT": self.ha_https_port, "OTPGATE_SUBNET": subnet,
            "OTPGATE_VOLUME": self.ha_volume, "OTPGATE_IMAGE": self.image, "OTPGATE_SECRETS": sec,
            "OTPGATE_LOG": "debug",
        }
        with open(self.ha_env_file, "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in settings.items()))
        with open(self.ha_override, "w") as f:
            f.write("services:\n  postgres:\n    image: %s\n  haproxy:\n    image: %s\n"
                    % (self.standins["postgres"], self.standins["haproxy"]))

        p = self.ha_compose("config", check=False)
        published = re.findall(r"^ *- published: (\d+)\n *target: (\d+)$", p.stdout, re.M)
        images = re.findall(r"^    image: (\S+)$", p.stdout, re.M)
        self.check("compose.ha: config with the override is valid, names the stand-ins and "
                   "publishes OTPGATE_HTTP_PORT and OTPGATE_HTTPS_PORT alone",
                   p.returncode == 0 and sorted(published) == sorted(
                       [(str(http_port), "8080"), (str(self.ha_https_port), "8443")])
                   and set(self.standins.values()) <= set(images),
                   p.stderr[-800:] or (published, images))

        self.ha_up = True
        p = self.ha_compose("up", "-d", "--build", check=False, timeout=1800)
        self.timings["compose.ha up"] = time.monotonic() - t0
        t0 = time.monotonic()
        self.must("compose.ha: up -d --build", p.returncode == 0, p.stderr[-2000:])
        services = ("postgres", "otpgate-1", "otpgate-2", "haproxy")
        self.ha_cids = {svc: self.ha_compose("ps", "-q", svc).stdout.strip() for svc in services}
        one = json.loads(docker("inspect", "-f", "{{json .State.Health.Log}}",
                                self.ha_cids["otpgate-1"]).stdout)
        first_ok = min((stamp(h["End"]) for h in one if h["ExitCode"] == 0), default=None)
        two_start = stamp(docker("inspect", "-f", "{{.State.StartedAt}}",
                                 self.ha_cids["otpgate-2"]).stdout.strip())
        self.check("compose.ha: otpgate-2 starts only once otpgate-1 is healthy",
                   first_ok is not None and first_ok <= two_start,
                   "otpgate-1 healthy at %s, otpgate-2 started at %s" % (first_ok, two_start))
        states = {svc: self.health(cid, timeout=90) for svc, cid in self.ha_cids.items()}
        self.must("compose.ha: all four healthy", all(v == "healthy" for v in states.values()),
                  "%s\n%s" % (states, self.ha_compose("logs", "--tail", "20",
                                                       check=False).stdout[-3000:]))
        status = self.exec(self.ha_cids["postgres"], "cat", "/proc/1/status").stdout
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M)
        self.check("compose.ha: PostgreSQL runs as its own user, not root",
                   uid and uid.group(1) != "0", status[:300])

        ready, server, _ = self.via_haproxy("GET", "/readyz")
        self.check("compose.ha: /readyz through HAProxy's https (the secret's certificate)",
                   ready.status == 200 and server in ("otpgate-1", "otpgate-2"), (ready, server))
        redirect = call(http_port, "GET", "/readyz", headers={"Host": self.ha_host})
        self.check("compose.ha: http redirects to https", redirect.status == 301
                   and redirect.headers.get("location", "").startswith("https://otpgate.test"),
                   redirect)

        app = json.loads(self.ha_compose("exec", "-T", "otpgate-1", "otpgate", "app", "add",
                                         "--name", "HA test", "--redirect-uri",
                                         "https://app.test/callback").stdout)
        auth = (app["client_id"], app["client_secret"])
        listed = self.ha_compose("exec", "-T", "otpgate-2", "otpgate", "app", "list").stdout
        self.check("compose.ha: an app added with otpgate-1's `otpgate app add` is otpgate-2's too",
                   app["client_id"] in listed, listed)

        # Enrolment and sign-in, each step on the other instance than the last.
        self.next_goes_to("otpgate-1")
        add, on_add, _ = self.via_haproxy("POST", "/api/v1/users/carol/factors", {"type": "totp"},
                                          auth=auth)
        self.must("compose.ha: add a TOTP factor through HAProxy", add.status == 201, add)
        secret = add.json["secret"]
        path = "/api/v1/users/carol/factors/%s/verify" % add.json["id"]
        ver, on_ver, _ = self.via_haproxy("POST", path, {"code": totp(secret)}, auth=auth)
        self.must("compose.ha: the factor added on %s is confirmed on %s" % (on_add, on_ver),
                  ver.status == 200 and on_add != on_ver and None not in (on_add, on_ver), ver)
        recovery = ver.json["recovery_codes"]
        ch, on_ch, _ = self.via_haproxy("POST", "/api/v1/challenges", {"sub": "carol"}, auth=auth)
        self.must("compose.ha: a sign-in challenge", ch.status == 201, ch)
        code = totp(secret, 1)
        ok, on_ok, _ = self.via_haproxy("POST", "/api/v1/challenges/%s/verify" % ch.json["id"],
                                        {"code": code}, auth=auth)
        self.check("compose.ha: the challenge made on %s is answered on %s" % (on_ch, on_ok),
                   ok.status == 200 and "mfa" in ok.json.get("amr", []) and on_ch != on_ok, ok)
        again, on_again, _ = self.via_haproxy("POST", "/api/v1/users/carol/verify", {"code": code},
                                              auth=auth)
        self.check("compose.ha: the code used on %s is refused on %s" % (on_ok, on_again),
                   again.status == 422 and on_again not in (None, on_ok), again)
        rc, on_rc, _ = self.via_haproxy("POST", "/api/v1/users/carol/verify",
                                        {"code": recovery[0]}, auth=auth)
        rc2, on_rc2, _ = self.via_haproxy("POST", "/api/v1/users/carol/verify",
                                          {"code": recovery[0]}, auth=auth)
        self.check("compose.ha: a recovery code signs in on %s, and not again on %s"
                   % (on_rc, on_rc2), rc.status == 200 and rc2.status == 422
                   and on_rc2 not in (None, on_rc), (rc, rc2))

        # Who otpgate believes the client is (its debug request log): the
        # address HAProxy saw, from its X-Forwarded-For, and not what the
        # client forged.
        _, on_robots, client = self.via_haproxy("GET", "/robots.txt",
                                                headers={"X-Forwarded-For": "203.0.113.9"})
        ips = []
        deadline = time.monotonic() + 5
        while on_robots and not ips and time.monotonic() < deadline:
            ips = [json.loads(ln).get("ip")
                   for ln in self.logs(self.ha_cids[on_robots]).splitlines()
                   if ln.startswith("{") and '"route":"/robots.txt"' in ln]
            time.sleep(0.2)
        self.check("compose.ha: otpgate sees the client HAProxy saw (%s), not HAProxy nor a forged "
                   "X-Forwarded-For" % client, client and ips[-1:] == [client], ips)
        self.check("compose.ha: requests through HAProxy landed on both instances (%d and %d)"
                   % (self.ha_served.count("otpgate-1"), self.ha_served.count("otpgate-2")),
                   {"otpgate-1", "otpgate-2"} <= set(self.ha_served))

        # One instance stops: HAProxy's /readyz check takes it out.
        events = len(self.ha_events("otpgate-1"))
        t1 = time.monotonic()
        self.ha_compose("stop", "otpgate-1", timeout=120)
        deadline = time.monotonic() + 30
        while len(self.ha_events("otpgate-1")) == events and time.monotonic() < deadline:
            time.sleep(0.5)
        out = self.ha_events("otpgate-1")[events:]
        why = re.search(r"(reason: [^,]*|for maintenance[^,]*)", out[0]) if out else None
        self.check("compose.ha: HAProxy takes the stopped otpgate-1 out (%.0f s, %s)"
                   % (time.monotonic() - t1, why.group(1) if why else "?"), out,
                   "no DOWN line in HAProxy's log")
        answers = [self.via_haproxy("GET", "/readyz"),
                   self.via_haproxy("POST", "/api/v1/users/carol/verify", {"code": recovery[1]},
                                    auth=auth),
                   self.via_haproxy("GET", "/.well-known/openid-configuration"),
                   self.via_haproxy("GET", "/readyz")]
        self.check("compose.ha: with otpgate-1 stopped, every request succeeds on otpgate-2",
                   all(a.status == 200 and s == "otpgate-2" for a, s, _ in answers),
                   [(a, s) for a, s, _ in answers])
        self.ha_compose("start", "otpgate-1", timeout=120)
        state = self.health(self.ha_cids["otpgate-1"], timeout=60)
        back = False
        deadline = time.monotonic() + 30
        while state == "healthy" and not back and time.monotonic() < deadline:
            back = self.via_haproxy("GET", "/readyz")[1] == "otpgate-1"
            time.sleep(0.5)
        self.check("compose.ha: started again, otpgate-1 is healthy and back in rotation", back,
                   state)

        self.ha_compose("down", timeout=180)
        self.ha_up = False
        label = "label=com.docker.compose.project=%s" % self.ha_project
        left = (docker("ps", "-aq", "--filter", label).stdout.split()
                + docker("network", "ls", "-q", "--filter", label).stdout.split())
        self.check("compose.ha: down removes its containers and network", not left, left)
        for suffix in ("", "-postgres"):
            docker("volume", "rm", self.ha_volume + suffix)
        self.timings["compose.ha checks"] = time.monotonic() - t0

    # -- clean-up --

    def cleanup(self):
        for proc in (self.caddy, self.sink):
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if os.environ.get("KEEP") == "1":
            print("docker-test: KEEP=1: left %s (containers, volumes %s and %s, images %s and "
                  "the stand-ins) and %s" % (self.id, self.volume, self.ha_volume, self.image,
                                             self.work))
            return
        if self.compose_up or os.path.exists(self.compose_env_file):
            self.compose("down", "--remove-orphans", check=False, timeout=120)
        if self.ha_up or os.path.exists(self.ha_env_file):
            self.ha_compose("down", "--remove-orphans", check=False, timeout=180)
        for c in self.containers:
            docker("rm", "-fv", c, check=False)
        # compose makes every volume of the file, Caddy's too; compose.ha.yaml
        # has its own two.
        for volume in [self.volume + suffix for suffix in ("", "-caddy", "-caddy-config")] + [
                self.ha_volume, self.ha_volume + "-postgres"]:
            docker("volume", "rm", "-f", volume, check=False)
        docker("rmi", "-f", self.image, *self.standins.values(), check=False)
        shutil.rmtree(self.work, ignore_errors=True)
        left = [line for kind in ("ps -a", "volume ls", "network ls", "image ls")
                for line in docker(*kind.split(), "--format", "{{.Names}}" if kind == "ps -a" else
                                   "{{.Repository}}" if kind == "image ls" else "{{.Name}}",
                                   check=False).stdout.split() if self.id in line]
        self.check("clean-up: nothing named %s is left" % self.id, not left, left)


def main():
    t0 = time.monotonic()
    run = Run()
    engine = Engine(run.work)
    try:
        engine.prepare()
    except Skip as e:
        shutil.rmtree(run.work, ignore_errors=True)
        print("docker-test: skipped: %s" % e)
        return 0
    try:
        steps = (run.build, run.image_defaults, run.first_run, run.recreate,
                 run.bind_mounts_and_secrets, run.compose_checks, run.ha_checks)
        for step in steps:
            try:
                step()
            except Failed as e:
                run.failures.append(step.__name__)
                print("FAIL  %s: %s" % (step.__name__, e), flush=True)
                break
            except Exception:  # a broken step: say where, and clean up all the same
                run.failures.append(step.__name__)
                print("FAIL  %s:\n%s" % (step.__name__, traceback.format_exc()), flush=True)
                break
    finally:
        run.cleanup()
        engine.stop()
    took = time.monotonic() - t0
    print("docker-test: image %.1f MB; %s; %.0f s in all" % (
        getattr(run, "size_mb", 0), ", ".join("%s %.0f s" % kv for kv in run.timings.items()), took))
    if run.failures:
        print("docker-test: %d passed, %d FAILED: %s" % (run.passed, len(run.failures),
                                                       "; ".join(run.failures)))
        return 1
    print("docker-test: %d checks passed" % run.passed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
