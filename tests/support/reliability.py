"""Helpers of the reliability suites (tests/reliability, docs/reliability.md):
lsinit's environment, the soak writer (tests/reliability/soak_app.py) and its
acknowledged writes, restoring a replica with a plain ``litestream restore``
and comparing it with every acknowledged write, upload progress, figures.

The suites use it as ``from support import reliability as rel``; the run, replica
and Litestream helpers they reach through ``rel`` are re-exported here.
"""
import os
import pathlib
import signal
import sqlite3
import time
import uuid

from . import ROOT, SYSTEM_PATH  # noqa: F401  (re-exported)
from .apps import PY, expected_code  # noqa: F401  (expected_code: re-exported)
from .health import health_port  # noqa: F401  (re-exported)
from .litestream import LITESTREAM_TEST_VERSION, LITESTREAM_V05, SEGMENT_WRITTEN, litestream_restore, replica_progress  # noqa: F401  (re-exported)
from .lsinit_run import LsinitRun, lsinit_env, sanitizer_env, wait_ready  # noqa: F401  (re-exported)
from .replicas import make_replica  # noqa: F401  (re-exported)
from .waiting import wait_for

SOAK_APP = str(ROOT / "tests" / "reliability" / "soak_app.py")
TERM, INT = signal.SIGTERM, signal.SIGINT
SOAK = os.environ.get("LSINIT_SOAK", "") not in ("", "0")  # the long version (scripts/soak)


def base_env(litestream_bin, **extra):
    """lsinit's whole environment: nothing inherited from pytest (fauxqs puts
    AWS_* into os.environ); loopback health port, verification off, fast syncs."""
    env = {
        **sanitizer_env(),
        "PATH": SYSTEM_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LSINIT_LITESTREAM": litestream_bin,
        "LSINIT_LITESTREAM_VERSION": LITESTREAM_TEST_VERSION,
        "LSINIT_SYNC_INTERVAL": "200ms",
        "LSINIT_RESTORE_TIMEOUT": "20s",
        "LSINIT_HEALTH_ADDR": "127.0.0.1:0",
        "LSINIT_VERIFY_INTERVAL": "off",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def writer_cmd(db, state, exit_mode, cycle):
    return [PY, SOAK_APP, "writer", str(db), str(state), str(exit_mode), str(cycle)]


def probe_cmd(state):
    return [PY, SOAK_APP, "probe", str(state)]


def read_acks(state):
    """{(cycle, seq)} the app saw acknowledged (a torn last line is ignored)."""
    try:
        text = (pathlib.Path(state) / "acks").read_text()
    except FileNotFoundError:
        return set()
    out = set()
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) == 2:
            out.add((int(parts[0]), int(parts[1])))
    return out


def read_soak_rows(db):
    """(integrity_check result, {(cycle, seq)}) of a soak database."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        rows = {(c, s) for c, s in con.execute("SELECT cycle, seq FROM soak")}
        return integrity, rows
    finally:
        con.close()


def restored_rows(litestream_bin, replica, db, workdir):
    """Restores the replica into a fresh folder; returns {(cycle, seq)}."""
    out = pathlib.Path(workdir) / f"restored-{uuid.uuid4().hex[:8]}" / "restored.db"
    out.parent.mkdir(parents=True)
    rc, err = litestream_restore(litestream_bin, replica, db, out, workdir)
    assert rc == 0, f"litestream restore failed ({rc}):\n{err}"
    integrity, rows = read_soak_rows(out)
    assert integrity == "ok", f"the restored copy fails integrity_check: {integrity}"
    return rows


def segments(run, db=None):
    """Upload progress (litestream.replica_progress): WAL segments on 0.3, the replica's TXID on 0.5."""
    return replica_progress(run.stdout, db if db is not None else run.env.get("LSINIT_DB"))


def wait_segments(run, more_than, timeout=30):
    return wait_for(lambda: (n := segments(run)) > more_than and n, timeout,
                    lambda: f"litestream to upload a WAL segment; stdout:\n{run.stdout[-2000:]}\n"
                            f"stderr:\n{run.stderr[-2000:]}", interval=0.01)


def fill_db(db, kb):
    """A database of about kb KiB of random (incompressible) blobs, made before lsinit starts."""
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db))
    try:
        assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        con.execute("CREATE TABLE filler (b BLOB)")
        con.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(1024),) for _ in range(kb)])
        con.commit()
    finally:
        con.close()


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary_ms(values_s):
    """{n, p50, p99, max} in milliseconds of a list of seconds."""
    if not values_s:
        return {"n": 0}
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), "p50": round(percentile(ms, 50), 3), "p99": round(percentile(ms, 99), 3),
            "max": round(max(ms), 3)}


def now():
    return time.monotonic()
