"""The Litestream under test and what the tests do with Litestream directly:
its version (``LITESTREAM_TEST_VERSION``, ``LITESTREAM_V05``), its
litestream.yml (``write_litestream_config``), how far it has uploaded
(``replica_progress``), a plain ``litestream restore`` and the LZ4 frames of
its 0.3 snapshots. Standard library only."""
import http.client
import json
import os
import pathlib
import re
import socket
import struct
import subprocess
import uuid

from . import ROOT, SYSTEM_PATH

# Which Litestream the suites run: tests/run sets LSINIT_TEST_LITESTREAM per run.
LITESTREAM_TEST_VERSION = os.environ.get("LSINIT_TEST_LITESTREAM", "0.3.13")
# What that binary prints for `litestream version` (0.3 release builds say
# "v0.3.13", 0.5 release builds "0.5.17").
LITESTREAM_VERSION = ("v" + LITESTREAM_TEST_VERSION if LITESTREAM_TEST_VERSION.startswith("0.3.")
                      else LITESTREAM_TEST_VERSION)
LITESTREAM_V05 = not LITESTREAM_TEST_VERSION.startswith("0.3.")
LITESTREAM_DIR = ROOT / ".deps" / "litestream" / LITESTREAM_TEST_VERSION


# ---------------------------------------------------------------- litestream.yml

def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))  # a JSON string is a valid double-quoted YAML scalar


def litestream_yaml(obj, indent=0):
    """Render nested dicts/lists/scalars as block YAML (no PyYAML needed)."""
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(litestream_yaml(v, indent + 2))
            elif isinstance(v, (dict, list)):
                lines.append(f"{pad}{k}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                lines.append(f"{pad}{k}: {_yaml_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                body = litestream_yaml(item, indent + 2).splitlines()
                lines.append(f"{pad}- {body[0].lstrip()}")
                lines.extend(body[1:])
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(f"{pad}{_yaml_scalar(obj)}")
    return "\n".join(lines)


def write_litestream_config(path, db_path, replicas, **top_level):
    """Write a litestream.yml with one db and the given replica dicts
    (``replicas`` may be a single dict).  Extra keyword args become top-level
    keys (e.g. ``addr=":9090"``).  Returns the path as a string."""
    if isinstance(replicas, dict):
        replicas = [replicas]
    doc = dict(top_level)
    doc["dbs"] = [{"path": str(db_path), "replicas": list(replicas)}]
    pathlib.Path(path).write_text(litestream_yaml(doc) + "\n")
    return str(path)


# ---------------------------------------------------------------- litestream's progress

SEGMENT_WRITTEN = 'msg="wal segment written"'  # Litestream 0.3, INFO, once per uploaded WAL segment
_SOCKET_LINE = re.compile(r'msg="control socket listening".* path=(\S+)')


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("litestream", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def control_socket_request(path, method, url, body=None, timeout=5):
    """One request to Litestream 0.5's control socket: (status, parsed JSON or None)."""
    conn = _UnixHTTP(path, timeout)
    try:
        conn.request(method, url, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, None
    finally:
        conn.close()


def replica_progress(litestream_log, db=None):
    """A number that grows each time Litestream uploads: on 0.3 the WAL segments
    it logged (INFO); on 0.5 (which logs uploads at DEBUG only) the replica's
    TXID for db, read from its control socket (named in its log) with a sync
    that does not wait (the local WAL→LTX step Litestream runs every second
    anyway). 0 when nothing is known yet."""
    n = litestream_log.count(SEGMENT_WRITTEN)
    if n or db is None:
        return n
    found = _SOCKET_LINE.findall(litestream_log)
    if not found:
        return 0
    try:
        status, doc = control_socket_request(found[-1], "POST", "/sync", {"path": str(db), "wait": False})
    except OSError:
        return 0
    return int(doc.get("replicated_txid", 0)) if status == 200 and doc else 0


def litestream_restore(litestream_bin, replica, db, out, workdir, timeout=120):
    """`litestream restore -config <own yml> -o OUT DB` of a replicas.Replica: (returncode, stderr)."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = write_litestream_config(workdir / f"restore-{uuid.uuid4().hex[:6]}.yml", db, replica.ls_replica)
    env = {"PATH": SYSTEM_PATH, "HOME": "/root", **replica.ls_env}
    r = subprocess.run([litestream_bin, "restore", "-config", cfg, "-o", str(out), str(db)], env=env,
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stderr


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
