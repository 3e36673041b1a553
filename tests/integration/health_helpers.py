"""Helpers for the health endpoint and backup verification tests
(test_verify_health.py): an HTTP client that shows what really went over the
wire, a parser for lsinit's /metrics, a recording "dead man's switch" server,
a tiny tmpfs, replica set-up, and one more test app.

Run as a script, this file is that app (stdlib only):

``python3 health_helpers.py busy DB STATE TERM_SLEEP``
    opens DB (WAL) and commits a 'tick' row every 50 ms; writes STATE/ready
    (its pid) after the first commit. HUP/USR1/USR2/WINCH are appended to
    STATE/signals. A file STATE/orphans-N makes it fork a child that forks N
    grandchildren and exits at once, so the grandchildren become orphans (they
    live 0.3 s); it answers with STATE/spawned-N. On TERM/INT it writes
    STATE/term, sleeps TERM_SLEEP seconds (an app draining its requests),
    writes STATE/drained and exits 0.
"""
import contextlib
import http.client
import http.server
import json
import os
import pathlib
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid

PY = "/usr/bin/python3"
HELPERS = str(pathlib.Path(__file__).resolve())
SAFETY_SECONDS = 90
VERIFY_RESULTS = ("pass", "stale", "restore_failed", "integrity_failed", "no_space", "local_error")


# ---------------------------------------------------------------- the app

def app_busy(db, state, term_sleep):
    state = pathlib.Path(state)
    con = sqlite3.connect(db, isolation_level=None, timeout=10)
    con.execute("PRAGMA busy_timeout=10000")
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, kind TEXT, at REAL)")

    def record(sig, frame):
        with open(state / "signals", "a") as f:
            f.write(f"{sig}\n")

    def stop(sig, frame):
        (state / "term").write_text(f"{sig}\n")
        time.sleep(term_sleep)
        con.execute("INSERT INTO rows (kind, at) VALUES ('last-write', ?)", (time.time(),))
        con.close()
        (state / "drained").touch()
        os._exit(0)

    for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
        signal.signal(s, record)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    con.execute("INSERT INTO rows (kind, at) VALUES ('start', ?)", (time.time(),))
    (state / "ready.tmp").write_text(str(os.getpid()))
    os.replace(state / "ready.tmp", state / "ready")
    done = set()
    deadline = time.monotonic() + SAFETY_SECONDS
    while time.monotonic() < deadline:
        con.execute("INSERT INTO rows (kind, at) VALUES ('tick', ?)", (time.time(),))
        for entry in os.listdir(state):
            if entry.startswith("orphans-") and entry not in done:
                done.add(entry)
                _spawn_orphans(int(entry[len("orphans-"):]))
                (state / ("spawned-" + entry[len("orphans-"):])).touch()
        time.sleep(0.05)
    os._exit(99)


def _spawn_orphans(n):
    middle = os.fork()
    if middle == 0:
        try:
            for _ in range(n):
                if os.fork() == 0:
                    time.sleep(0.3)
                    os._exit(0)
        finally:
            os._exit(0)
    os.waitpid(middle, 0)  # the grandchildren are orphans now: lsinit's to reap


def busy_cmd(db, state, term_sleep=0):
    return [PY, HELPERS, "busy", str(db), str(state), str(term_sleep)]


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


def health_port(run, timeout=10):
    """The port lsinit logged ("health endpoint on ADDR (port N)")."""
    def find():
        m = _HEALTH_LINE.search(run.stderr)
        if m:
            return int(m.group(1))
        assert run.proc.poll() is None, f"lsinit exited {run.proc.returncode}:\n{run.stderr}"
        return None
    deadline = time.monotonic() + timeout
    while True:
        port = find()
        if port:
            return port
        if time.monotonic() >= deadline:
            raise AssertionError(f"no 'health endpoint on' line within {timeout}s:\n{run.stderr}")
        time.sleep(0.05)


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


# ---------------------------------------------------------------- /proc

def proc_state(pid):
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return {"state": fields[0], "ppid": int(fields[1]), "cpu_ticks": int(fields[11]) + int(fields[12])}


def zombie_children(pid):
    """Pids of zombies whose parent is ``pid`` (a scan of /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_state(int(d))
            if st is not None and st["ppid"] == pid and st["state"] == "Z":
                out.append(int(d))
    return out


def verify_dirs(folder):
    """lsinit-verify-* entries left in ``folder``."""
    try:
        return sorted(e for e in os.listdir(folder) if e.startswith("lsinit-verify-"))
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------- lz4 frames
# Litestream 0.3 stores snapshots and WAL segments as LZ4 frames. To damage a
# snapshot's pages but keep a file litestream can still decompress, the tests
# read the frame (decompressing its blocks) and write it back with stored
# (uncompressed) blocks. Pure Python: the frame format is small.

_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_M32 = 0xFFFFFFFF


def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & _M32


def xxh32(data, seed=0):
    """xxHash32 (the frame header's checksum)."""
    n, i = len(data), 0
    if n >= 16:
        v = [(seed + _P1 + _P2) & _M32, (seed + _P2) & _M32, seed & _M32, (seed - _P1) & _M32]
        while i + 16 <= n:
            for k in range(4):
                lane = struct.unpack_from("<I", data, i + 4 * k)[0]
                v[k] = (_rotl((v[k] + lane * _P2) & _M32, 13) * _P1) & _M32
            i += 16
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M32
    else:
        h = (seed + _P5) & _M32
    h = (h + n) & _M32
    while i + 4 <= n:
        h = (_rotl((h + struct.unpack_from("<I", data, i)[0] * _P3) & _M32, 17) * _P4) & _M32
        i += 4
    while i < n:
        h = (_rotl((h + data[i] * _P5) & _M32, 11) * _P1) & _M32
        i += 1
    h ^= h >> 15
    h = (h * _P2) & _M32
    h ^= h >> 13
    h = (h * _P3) & _M32
    return h ^ (h >> 16)


def _lz4_block(src):
    out = bytearray()
    i = 0
    while i < len(src):
        token = src[i]
        i += 1
        n = token >> 4
        if n == 15:
            while True:
                b = src[i]
                i += 1
                n += b
                if b != 255:
                    break
        out += src[i:i + n]
        i += n
        if i >= len(src):
            break
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        n = token & 15
        if n == 15:
            while True:
                b = src[i]
                i += 1
                n += b
                if b != 255:
                    break
        n += 4
        start = len(out) - offset
        if offset >= n:
            out += out[start:start + n]
        else:
            for k in range(n):
                out.append(out[start + k])
    return bytes(out)


def lz4_decompress(frame):
    """The content of one LZ4 frame."""
    assert frame[:4] == b"\x04\x22\x4d\x18", "not an LZ4 frame"
    flg = frame[4]
    i = 7 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0)
    out = bytearray()
    while True:
        size = struct.unpack_from("<I", frame, i)[0]
        i += 4
        if size == 0:
            return bytes(out)
        data = frame[i:i + (size & 0x7FFFFFFF)]
        i += size & 0x7FFFFFFF
        out += data if size & 0x80000000 else _lz4_block(data)
        if flg & 0x10:
            i += 4  # block checksum


def lz4_frame(data):
    """An LZ4 frame holding data in stored blocks (no checksums)."""
    desc = bytes([0x60, 0x70])  # version 01, independent blocks; 4 MB blocks
    out = bytearray(b"\x04\x22\x4d\x18") + desc + bytes([(xxh32(desc) >> 8) & 0xFF])
    for i in range(0, len(data), 4 << 20):
        block = data[i:i + (4 << 20)]
        out += struct.pack("<I", 0x80000000 | len(block)) + block
    return bytes(out + b"\0\0\0\0")


# ---------------------------------------------------------------- replicas

class Replica:
    """Where lsinit replicates to: its env and, for file replicas, the folder."""

    def __init__(self, kind, url, env, folder=None, bucket=None, prefix=None):
        self.kind, self.url, self.env = kind, url, env
        self.folder, self.bucket, self.prefix = folder, bucket, prefix


def make_replica(kind, request_fixture, tmp_path):
    name = uuid.uuid4().hex[:10]
    if kind == "file":
        d = pathlib.Path(tmp_path) / "replica"
        return Replica(kind, f"file://{d}", {}, folder=d)
    if kind == "s3":
        s3 = request_fixture.getfixturevalue("fauxqs")
        s3.ensure_running()
        bucket = s3.new_bucket("verify")
        env = {
            "LITESTREAM_REPLICA_ENDPOINT": s3.endpoint,
            "LITESTREAM_ACCESS_KEY_ID": s3.access_key_id,
            "LITESTREAM_SECRET_ACCESS_KEY": s3.secret_access_key,
        }
        return Replica(kind, f"s3://{bucket}/{name}", env, bucket=bucket, prefix=name)
    if kind == "sftp":
        sftp = request_fixture.getfixturevalue("sftp_server")
        sftp.ensure_running()
        d = pathlib.Path(sftp.root) / name
        url = f"sftp://{sftp.user}@{sftp.host}:{sftp.port}{d}"
        return Replica(kind, url, {"LSINIT_SFTP_KEY_PATH": sftp.key_path}, folder=d)
    raise ValueError(kind)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "busy":
        app_busy(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        sys.exit(f"usage: {sys.argv[0]} busy DB STATE TERM_SLEEP")
