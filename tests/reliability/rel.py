"""Shared helpers of the reliability suites: replicas, lsinit environments,
the soak writer, restoring a replica with a plain ``litestream restore`` and
comparing it with every acknowledged write.

Built on tests/integration's apps.py (LsinitRun, /proc helpers) and
servers.py (fauxqs, sshd, litestream config writer); those are imported, never
changed.
"""
import os
import pathlib
import signal
import sqlite3
import subprocess
import time
import uuid

from apps import LsinitRun, replica_progress, wait_for  # noqa: F401  (re-exported)
from servers import LITESTREAM_TEST_VERSION, LITESTREAM_V05, write_litestream_config  # noqa: F401

HERE = pathlib.Path(__file__).resolve().parent
PY = "/usr/bin/python3"
SOAK_APP = str(HERE / "soak_app.py")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SEGMENT_WRITTEN = 'msg="wal segment written"'
TERM, INT = signal.SIGTERM, signal.SIGINT
SOAK = os.environ.get("LSINIT_SOAK", "") not in ("", "0")  # the long version (scripts/soak)


def sanitizer_env():
    return {k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}


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


class Replica:
    """A replica: how lsinit is pointed at it (url, env) and how a plain
    litestream reads it (ls_replica, ls_env)."""

    def __init__(self, kind, url, env, ls_replica, ls_env, folder=None, bucket=None, prefix=None):
        self.kind, self.url, self.env = kind, url, env
        self.ls_replica, self.ls_env = ls_replica, ls_env
        self.folder, self.bucket, self.prefix = folder, bucket, prefix


def make_replica(kind, where, fauxqs=None, sftp=None):
    name = uuid.uuid4().hex[:10]
    if kind == "file":
        d = pathlib.Path(where) / f"replica-{name}"
        return Replica(kind, f"file://{d}", {}, {"type": "file", "path": str(d)}, {}, folder=d)
    if kind == "s3":
        fauxqs.ensure_running()
        bucket = fauxqs.new_bucket("rel")
        env = {"LITESTREAM_REPLICA_ENDPOINT": fauxqs.endpoint,
               "LITESTREAM_ACCESS_KEY_ID": fauxqs.access_key_id,
               "LITESTREAM_SECRET_ACCESS_KEY": fauxqs.secret_access_key}
        return Replica(kind, f"s3://{bucket}/{name}", env, fauxqs.litestream_replica(bucket, name), fauxqs.aws_env,
                       bucket=bucket, prefix=name)
    if kind == "sftp":
        sftp.ensure_running()
        d = pathlib.Path(sftp.root) / name
        url = f"sftp://{sftp.user}@{sftp.host}:{sftp.port}{d}"
        return Replica(kind, url, {"LSINIT_SFTP_KEY_PATH": sftp.key_path}, sftp.litestream_replica(str(d)), {},
                       folder=d)
    raise ValueError(kind)


def lsinit_env(base, replica, db, **extra):
    env = dict(base)
    env.update(replica.env)
    env["LSINIT_DB"] = str(db)
    env["LSINIT_REPLICA_URL"] = replica.url
    env.update({k: str(v) for k, v in extra.items()})
    return env


def writer_cmd(db, state, exit_mode, cycle):
    return [PY, SOAK_APP, "writer", str(db), str(state), str(exit_mode), str(cycle)]


def probe_cmd(state):
    return [PY, SOAK_APP, "probe", str(state)]


def expected_code(exit_mode, sig):
    return 128 + int(sig) if exit_mode == "signal" else int(exit_mode)


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


def litestream_restore(litestream_bin, replica, db, out, workdir, timeout=120):
    """`litestream restore -config <own yml> -o OUT DB`: (returncode, stderr)."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = write_litestream_config(workdir / f"restore-{uuid.uuid4().hex[:6]}.yml", db, replica.ls_replica)
    env = {"PATH": SYSTEM_PATH, "HOME": "/root", **replica.ls_env}
    r = subprocess.run([litestream_bin, "restore", "-config", cfg, "-o", str(out), str(db)], env=env,
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stderr


def restored_rows(litestream_bin, replica, db, workdir):
    """Restores the replica into a fresh folder; returns {(cycle, seq)}."""
    out = pathlib.Path(workdir) / f"restored-{uuid.uuid4().hex[:8]}" / "restored.db"
    out.parent.mkdir(parents=True)
    rc, err = litestream_restore(litestream_bin, replica, db, out, workdir)
    assert rc == 0, f"litestream restore failed ({rc}):\n{err}"
    integrity, rows = read_soak_rows(out)
    assert integrity == "ok", f"the restored copy fails integrity_check: {integrity}"
    return rows


def wait_ready(run, state, timeout=30):
    ready = pathlib.Path(state) / "ready"

    def check():
        if ready.exists():
            return int(ready.read_text())
        assert run.proc.poll() is None, f"lsinit exited {run.proc.returncode} before the app was ready:\n{run.stderr}"
        return None
    return wait_for(check, timeout, lambda: f"the app to be ready; lsinit stderr:\n{run.stderr[-3000:]}")


def segments(run, db=None):
    """Upload progress (apps.replica_progress): WAL segments on 0.3, the replica's TXID on 0.5."""
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


def health_port(run, timeout=15):
    import health_helpers as hh
    return hh.health_port(run, timeout)


def now():
    return time.monotonic()
