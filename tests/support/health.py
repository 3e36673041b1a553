"""The health endpoint and backup verification as the tests see them: an
HTTP client that shows what really went over the wire, raw exchanges, a
parser for lsinit's /metrics, a recording "dead man's switch" server
(``PingServer``), a tiny tmpfs and the verification's leftovers."""
import contextlib
import http.client
import http.server
import json
import os
import pathlib
import re
import socket
import subprocess
import threading

from .waiting import wait_for

VERIFY_RESULTS = ("pass", "stale", "restore_failed", "integrity_failed", "no_space", "local_error")


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status, self.reason, self.headers, self.body, self.version = status, reason, headers, body, version

    @property
    def text(self):
        return self.body.decode(errors="replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<HTTP {self.status} {self.headers} {self.body[:300]!r}>"


def request(port, path, method="GET", timeout=3.0, host="127.0.0.1"):
    """One request on a fresh connection with http.client (never a proxy)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return Response(resp.status, resp.reason, headers, body, resp.version)
    finally:
        conn.close()


def try_request(port, path, **kw):
    """request(), or None when the connection fails (refused, reset, timeout)."""
    try:
        return request(port, path, **kw)
    except (OSError, http.client.HTTPException):
        return None


def send_request(port, data, timeout=3.0, half_close=False):
    """A connected socket that has sent data (and its FIN, with half_close)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with contextlib.suppress(OSError):
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
    return s


def read_answer(s):
    """Every byte that comes back until the server closes (a reset after the
    answer is tolerated: the answer counts); closes s."""
    out = b""
    with s, contextlib.suppress(ConnectionResetError):
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    return out


def raw_exchange(port, data, timeout=3.0, half_close=False):
    """Sends raw bytes and returns the raw answer."""
    return read_answer(send_request(port, data, timeout, half_close))


def parse_raw(raw):
    """(status, headers, body) of a raw HTTP/1.x answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0])
    assert m, f"not an HTTP answer: {raw[:200]!r}"
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers, body


_HEALTH_LINE = re.compile(r"health endpoint on \S+ \(port (\d+)\)")


def health_port(run, timeout=15):
    """The port lsinit logged ("health endpoint on ADDR (port N)")."""
    def find():
        m = _HEALTH_LINE.search(run.stderr)
        if m:
            return int(m.group(1))
        assert run.proc.poll() is None, f"lsinit exited {run.proc.returncode}:\n{run.stderr}"
        return None
    return wait_for(find, timeout, lambda: f"a 'health endpoint on' line; stderr:\n{run.stderr}", interval=0.05)


def healthz(port):
    r = request(port, "/healthz")
    assert r.headers.get("content-type", "").startswith("application/health+json"), r
    doc = r.json()
    assert (r.status == 503) == (doc["status"] == "fail"), f"/healthz status {r.status} vs {doc['status']}"
    return r.status, doc


def verification_check(doc, db):
    checks = [c for c in doc["checks"]["verification:last"] if c["componentId"] == str(db)]
    assert len(checks) == 1, f"no verification:last check for {db}: {doc}"
    return checks[0]


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def metrics(port):
    """/metrics as {(name, frozenset(labels.items())): value}."""
    r = request(port, "/metrics")
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("text/plain"), r
    out = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"bad metrics line {line!r}"
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def metric(samples, name, **labels):
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())))


# ---------------------------------------------------------------- pings

class PingServer:
    """An HTTP server on 127.0.0.1 (a thread) that records each request's
    method and path and answers 200 "OK" like healthchecks.io; ``url(base)``
    is what LSINIT_PING_URL gets."""

    def __init__(self):
        self.hits = []
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _hit(self):
                with outer._lock:
                    outer.hits.append((self.command, self.path))
                # healthchecks.io answers a ping with "OK" (no newline)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(b"OK")

            do_GET = do_HEAD = do_POST = _hit

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self):
        with self._lock:
            return [p for _, p in self.hits]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False


# ---------------------------------------------------------------- tmpfs

@contextlib.contextmanager
def tmpfs(path, size):
    """A tmpfs of ``size`` (e.g. "64k") mounted on ``path`` (needs root)."""
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                   check=True, timeout=30, capture_output=True)
    try:
        yield path
    finally:
        r = subprocess.run(["umount", str(path)], timeout=30, capture_output=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], timeout=30, capture_output=True)


# ---------------------------------------------------------------- verification

def verify_dirs(folder):
    """lsinit-verify-* entries left in ``folder``."""
    try:
        return sorted(e for e in os.listdir(folder) if e.startswith("lsinit-verify-"))
    except FileNotFoundError:
        return []
