"""lsinit in Litestream mode, end to end: the real litestream v0.3.13, real
replicas (a folder, fauxqs S3, OpenSSH SFTP), real SQLite apps; no mocks.

The apps live in tests/support/apps.py (run as ``python3 apps.py ROLE ...``).
Every run of lsinit has its output in files and is killed with all its
descendants when the test ends, pass or fail. Replicas are checked the way an operator would:
by restoring them with a plain ``litestream restore`` and its own config
(or with ``lsinit restore``) and reading the rows back.
"""
import concurrent.futures
import json
import os
import pathlib
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from support import SYSTEM_PATH, apps, procs
from support import health as hh
from support.apps import LAST_WRITE, expected_code, marker_cmd, once_cmd, read_rows, writer_cmd
from support.litestream import LITESTREAM_TEST_VERSION, LITESTREAM_V05, litestream_restore, replica_progress
from support.lsinit_run import LsinitRun, lsinit_env, wait_ready
from support.procs import alive
from support.replicas import request_replica
from support.waiting import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
TERM, INT = signal.SIGTERM, signal.SIGINT
GENERATION = re.compile(r"\b[0-9a-f]{16}\b")

pytestmark = pytest.mark.usefixtures("require_root")


# ---------------------------------------------------------------- helpers

@pytest.fixture
def base_env(litestream_bin):
    """lsinit's whole environment: nothing inherited from pytest (fauxqs puts
    AWS_* into os.environ), LANG set so python does not coerce its locale; the
    health endpoint on a kernel-picked loopback port and no scheduled
    verification, as conftest.py sets for every test."""
    return {
        "LSINIT_HEALTH_ADDR": os.environ.get("LSINIT_HEALTH_ADDR", "127.0.0.1:0"),
        "LSINIT_VERIFY_INTERVAL": os.environ.get("LSINIT_VERIFY_INTERVAL", "off"),
        "PATH": SYSTEM_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LSINIT_LITESTREAM": litestream_bin,
        "LSINIT_SYNC_INTERVAL": "200ms",
        "LSINIT_RESTORE_TIMEOUT": "20s",
    }


def make_replica(kind, request, tmp_path):
    """A replicas.Replica of kind for this test (file: tmp_path/replica)."""
    return request_replica(kind, request, tmp_path, bucket_prefix="lsinit")


def restore_with_litestream(litestream_bin, replica, db, out, workdir):
    """`litestream restore` with our own litestream.yml for the same replica."""
    rc, err = litestream_restore(litestream_bin, replica, db, out, workdir, timeout=60)
    assert rc == 0, f"litestream restore failed ({rc}):\n{err}"
    assert pathlib.Path(out).exists(), f"litestream restore wrote nothing to {out}:\n{err}"
    return read_rows(out)


def uploaded(run):
    """How far the replica has got (litestream.replica_progress) for this run's database."""
    return replica_progress(run.stdout, run.env.get("LSINIT_DB"))


def wait_synced(run, after=0, timeout=10):
    """Until litestream (its log is lsinit's stdout) has uploaded past `after`
    (litestream.replica_progress); returns the new progress. Stopping only after
    that keeps these tests clear of the shutdown race that
    test_stop_at_first_sync_is_not_reported_as_failed_sync is about."""
    return wait_for(lambda: (n := uploaded(run)) > after and n, timeout,
                    lambda: f"litestream to upload; stdout:\n{run.stdout[-2000:]}")


def ask_write(state, name, timeout=10):
    state = pathlib.Path(state)
    (state / f"write-{name}").touch()
    wait_for((state / f"wrote-{name}").exists, timeout, f"the app to write row {name!r}")


def kinds(rows):
    return [r[1] for r in rows]


# ---------------------------------------------------------------- 1. zero loss

ZERO_LOSS = (
    [("file", s, e, False) for s in (TERM, INT) for e in ("0", "1", "143", "signal")]
    + [("file", s, e, True) for s in (TERM, INT) for e in ("0", "signal")]
    + [(k, s, e, False) for k in ("s3", "sftp") for s, e in ((TERM, "0"), (TERM, "143"), (INT, "1"))]
)


@pytest.mark.parametrize(
    "kind,stop,exit_mode,pid1", ZERO_LOSS,
    ids=[f"{k}-{signal.Signals(s).name[3:]}-exit{e}{'-pid1' if p else ''}" for k, s, e, p in ZERO_LOSS])
def test_zero_loss_on_stop(lsinit_bin, litestream_bin, base_env, request, tmp_path, kind, stop, exit_mode, pid1):
    """The app's last write, made in its TERM/INT handler, is in the replica;
    lsinit exits with the app's own code (or 128+signal)."""
    replica = make_replica(kind, request, tmp_path)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    env = lsinit_env(base_env, replica, db)
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, exit_mode)], env, tmp_path, pid1=pid1) as run:
        app_pid = run.host_pid(wait_ready(run, state))
        wait_synced(run)
        run.signal(stop)
        rc = run.wait(30)
        assert not alive(app_pid)
    assert rc == expected_code(exit_mode, stop), f"exit code {rc}; stderr:\n{run.stderr}"
    assert (state / "stopped").read_text().strip() == str(int(stop)), "the app did not get the stop signal"
    local = read_rows(db)
    assert kinds(local)[-1] == LAST_WRITE
    restored = restore_with_litestream(litestream_bin, replica, db, tmp_path / "restored.db", tmp_path)
    assert LAST_WRITE in kinds(restored), f"the last write is missing from the {kind} replica:\n{run.stderr}"
    assert restored == local, "the replica differs from the local database"


STRESS_RUNS = 16


def test_stop_at_first_sync_is_not_reported_as_failed_sync(lsinit_bin, litestream_bin, base_env, request, tmp_path):
    """Stop before litestream's first sync, with ~4 MB waiting in the WAL.

    The shim holds litestream's shutdown until litestream_sync_count >= 1, i.e.
    until the moment the first database sync has just notified the replica
    goroutine, which then starts uploading the 4 MB. Litestream v0.3.13's
    DB.Close runs its own final Replica.Sync without stopping that goroutine
    first, so both upload the same WAL segment through the same .tmp file and
    one fails: litestream exits 1 and lsinit reports a failed final sync (75)
    for a stop that lost nothing. 16 runs, 4 at a time: each must exit 0 with
    its last write in the replica (unpatched lsinit: about 1 run in 3 fails)."""

    def one(i):
        d = tmp_path / f"run{i}"
        replica = make_replica("file", request, d)
        db = d / "data" / "app.db"
        state = d / "state"
        state.mkdir(parents=True)
        cmd = writer_cmd(db, state, "0", bulk_kb=3800)
        with LsinitRun(lsinit_bin, ["--", *cmd], lsinit_env(base_env, replica, db), d) as run:
            wait_ready(run, state)
            run.signal(TERM)
            rc = run.wait(30)
        restored = restore_with_litestream(litestream_bin, replica, db, d / "restored.db", d)
        return rc, LAST_WRITE in kinds(restored), run.lsinit_lines("ERROR")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(STRESS_RUNS)))
    assert all(found for _, found, _ in results), "a last write is missing from its replica"
    bad = [(rc, errors) for rc, _, errors in results if rc != 0]
    assert bad == [], (
        f"LSINIT BUG: {len(bad)}/{STRESS_RUNS} clean stops exited non-zero: the shim releases litestream's "
        f"shutdown while its replica goroutine is mid-upload (see shim_wait_for_litestream): {bad[:1]}")


# The two waits a stop may make before Litestream's shutdown (issue: a stop fits the kill timeout whatever
# the sync interval). Each test fails when its wait is skipped (a write missing, a second sync pass) and
# when it is waited out (lsinit's "has not caught up" warning); neither waits for the next sync tick.

@pytest.mark.parametrize("kind", ["file", "s3"])
def test_stop_waits_for_litestream_to_open_a_new_database(lsinit_bin, litestream_bin, base_env, request, tmp_path,
                                                          kind):
    """litestream #436: the app creates the database, commits and exits long before Litestream's first
    monitor tick; Litestream skips the final sync of a database it never opened. The shim waits for that
    tick (0.3: litestream_sync_count; 0.5: the control socket answers "not open" until then), with a 60 s
    sync interval that must not matter."""
    replica = make_replica(kind, request, tmp_path)
    db = tmp_path / "data" / "app.db"
    env = lsinit_env(base_env, replica, db, LSINIT_SYNC_INTERVAL="60s", LSINIT_GRACE="4s", LSINIT_LOG_LEVEL="debug")
    with LsinitRun(lsinit_bin, ["--", *once_cmd(db)], env, tmp_path) as run:
        rc = run.wait(30)
    assert rc == 0, run.stderr
    assert "has not caught up" not in run.stderr and "could not confirm" not in run.stderr, run.stderr
    assert "second sync pass" not in run.stderr and "one more sync pass" not in run.stderr, run.stderr
    restored = restore_with_litestream(litestream_bin, replica, db, tmp_path / "restored.db", tmp_path)
    assert "once" in kinds(restored), f"the app's only write is missing from the replica:\n{run.stderr}"


def test_debug_level_reaches_the_shim(lsinit_bin, base_env, request, tmp_path):
    """LSINIT_LOG_LEVEL=debug also reaches the shim (Litestream's -exec child, a second lsinit): its line
    on the check before the final sync shows, from its own pid — 0.5: how long the sync request took,
    0.3: how long it waited for Litestream. At the default level it stays quiet."""
    replica = make_replica("file", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    for level, shown in (("debug", True), ("info", False)):
        d = tmp_path / level
        d.mkdir()
        env = lsinit_env(base_env, replica, db, LSINIT_LOG_LEVEL=level)
        with LsinitRun(lsinit_bin, ["--", *once_cmd(db)], env, d) as run:
            assert run.wait(30) == 0, run.stderr
        pids = {ln.split("]", 1)[0] for ln in run.lsinit_lines()}
        shim = [ln for ln in run.lsinit_lines("DEBUG") if "shim: " in ln]
        assert bool(shim) == shown, run.stderr
        if shown:
            assert shim[0].split("]", 1)[0] != run.lsinit_lines()[0].split("]", 1)[0] and len(pids) >= 2, shim


def _reads_shadow_wal(pid, db):
    marker = f"/.{db.name}-litestream/generations/"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if marker in target and target.endswith(".wal"):
            return True
    return False


@pytest.mark.skipif(LITESTREAM_V05, reason="0.5 serialises its shutdown sync with the replica goroutine "
                    "(Replica.syncSem): there is no upload race to wait for (docs/litestream-versions.md)")
def test_stop_waits_for_an_upload_in_flight(lsinit_bin, litestream_bin, base_env, request, tmp_path):
    """Litestream 0.3's DB.Close runs Replica.Sync while the replica goroutine may be uploading; both
    write the same segment and the shutdown fails. The app commits ~3.8 MB and is stopped while
    Litestream uploads it: the shim must see the upload (an open shadow WAL file) and wait for it, so the
    shutdown succeeds on its own (no second pass)."""

    def one(i):
        d = tmp_path / f"run{i}"
        replica = make_replica("file", request, d)
        db = d / "data" / "app.db"
        state = d / "state"
        state.mkdir(parents=True)
        env = lsinit_env(base_env, replica, db, LSINIT_SYNC_INTERVAL="1s", LSINIT_GRACE="8s")
        with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0", bulk_kb=3800)], env, d) as run:
            wait_ready(run, state)
            ls = wait_for(run.litestream_pid, 10, "litestream replicate")
            # TERM the moment Litestream holds the shadow WAL open: its first upload of the 3.8 MB.
            wait_for(lambda: _reads_shadow_wal(ls, db) or run.proc.poll() is not None, 15, "the upload to start",
                     interval=0.001)
            run.signal(TERM)
            rc = run.wait(30)
        restored = restore_with_litestream(litestream_bin, replica, db, d / "restored.db", d)
        return rc, LAST_WRITE in kinds(restored), run.stderr

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(8)))
    assert all(found for _, found, _ in results), "a last write is missing from its replica"
    bad = [err[-1500:] for rc, _, err in results if rc != 0 or "one more sync pass" in err or "has not caught up" in err]
    assert bad == [], f"{len(bad)}/8 stops raced with an upload or waited it out:\n{bad[0]}"


# ---------------------------------------------------------------- 2. restore on boot

def _run_writer_once(lsinit_bin, env, db, workdir, state_name, writes=()):
    """Start lsinit with the writer, make the extra writes, stop it with TERM; returns (run, local rows)."""
    state = pathlib.Path(workdir) / state_name
    state.mkdir()
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], env, workdir) as run:
        wait_ready(run, state)
        for w in writes:
            ask_write(state, w)
        wait_synced(run)
        run.signal(TERM)
        rc = run.wait(30)
    assert rc == 0, run.stderr
    return run, read_rows(db)


def _wipe_local(db):
    data = pathlib.Path(db).parent
    shutil.rmtree(data)
    data.mkdir()


@pytest.mark.parametrize("kind", ["file", "s3", "sftp"])
def test_restore_on_boot_from_backup(lsinit_bin, base_env, request, tmp_path, kind):
    """Backup present, local database gone: the app's first read sees the data."""
    replica = make_replica(kind, request, tmp_path)
    db = tmp_path / "data" / "app.db"
    env = lsinit_env(base_env, replica, db)
    _, before = _run_writer_once(lsinit_bin, env, db, tmp_path, "state1", writes=["precious"])
    _wipe_local(db)
    state = tmp_path / "state2"
    state.mkdir()
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], env, tmp_path) as run:
        wait_ready(run, state)
        seen = json.loads((state / "count").read_text())
        wait_synced(run)
        run.signal(TERM)
        assert run.wait(30) == 0, run.stderr
    assert seen == {"count": len(before), "tables": ["rows"]}, f"the app's first read saw {seen}:\n{run.stderr}"
    assert f"restored {db}" in run.stderr
    assert read_rows(db)[:len(before)] == before


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_empty_replica_starts_fresh(lsinit_bin, base_env, request, tmp_path, kind):
    replica = make_replica(kind, request, tmp_path)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], lsinit_env(base_env, replica, db), tmp_path) as run:
        wait_ready(run, state)
        seen = json.loads((state / "count").read_text())
        wait_synced(run)
        run.signal(TERM)
        assert run.wait(30) == 0, run.stderr
    assert seen["count"] == 0
    assert db.exists()
    assert f"no backup of {db} exists yet" in run.stderr
    assert run.lsinit_lines("ERROR") == []


@pytest.mark.parametrize("kind", ["s3", "sftp"])
def test_unreachable_replica_refuses_to_start(lsinit_bin, base_env, request, tmp_path, kind):
    """Replica down for the whole LSINIT_RESTORE_TIMEOUT: exit 69, the app
    never starts, one error line naming the database, no database created."""
    replica = make_replica(kind, request, tmp_path)
    server = request.getfixturevalue("fauxqs" if kind == "s3" else "sftp_server")
    db = tmp_path / "data" / "app.db"
    marker = tmp_path / "app-started"
    env = lsinit_env(base_env, replica, db, LSINIT_RESTORE_TIMEOUT="3s")
    with server.outage():
        started = time.monotonic()
        with LsinitRun(lsinit_bin, ["--", *marker_cmd(marker)], env, tmp_path) as run:
            rc = run.wait(40)
        elapsed = time.monotonic() - started
    assert rc == 69, f"exit code {rc}; stderr:\n{run.stderr}"
    assert not marker.exists(), "the app was started although nothing could be restored"
    errors = run.lsinit_lines("ERROR")
    assert len(errors) == 1 and str(db) in errors[0], f"expected one error line naming {db}:\n{run.stderr}"
    assert not db.exists() and list(db.parent.iterdir()) == [], f"files were created: {list(db.parent.iterdir())}"
    assert replica.keys() == [], "something was written to the replica"
    assert elapsed < 3 + 12, f"lsinit took {elapsed:.1f}s to give up with LSINIT_RESTORE_TIMEOUT=3s"


@pytest.mark.parametrize("kind", ["s3", "sftp"])
def test_replica_back_within_timeout(lsinit_bin, base_env, request, tmp_path, kind):
    """The replica comes back ~1 s after lsinit started: restored, app started."""
    replica = make_replica(kind, request, tmp_path)
    server = request.getfixturevalue("fauxqs" if kind == "s3" else "sftp_server")
    db = tmp_path / "data" / "app.db"
    env = lsinit_env(base_env, replica, db, LSINIT_RESTORE_TIMEOUT="20s")
    _, before = _run_writer_once(lsinit_bin, env, db, tmp_path, "state1", writes=["precious"])
    _wipe_local(db)
    state = tmp_path / "state2"
    state.mkdir()
    server.stop()
    errors = []

    def bring_back():
        time.sleep(1.0)
        try:
            server.start()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    thread = threading.Thread(target=bring_back, daemon=True)
    try:
        with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], env, tmp_path) as run:
            thread.start()
            wait_ready(run, state, timeout=30)
            seen = json.loads((state / "count").read_text())
            wait_synced(run)
            run.signal(TERM)
            rc = run.wait(30)
    finally:
        thread.join(timeout=60)
        server.ensure_running()
    assert not errors, errors
    assert rc == 0, run.stderr
    assert seen["count"] == len(before), run.stderr
    assert f"restored {db}" in run.stderr
    if not (LITESTREAM_V05 and kind == "s3"):
        # Litestream 0.5's S3 client retries a dead endpoint itself (10 attempts with backoff): its first
        # restore simply takes longer and succeeds; elsewhere the first attempt fails and lsinit retries.
        assert "retrying" in run.stderr, run.stderr


def test_empty_database_file_is_restored(lsinit_bin, base_env, request, tmp_path):
    """A 0-byte file at the database path (an app or an entrypoint that touched it) holds no data: lsinit
    treats it as missing and restores the backup (Litestream 0.5 would otherwise adopt the replica's TXID
    and snapshot the empty database as the newest state; 0.3 would start a new generation)."""
    replica = make_replica("file", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    env = lsinit_env(base_env, replica, db)
    _, before = _run_writer_once(lsinit_bin, env, db, tmp_path, "state1", writes=["precious"])
    _wipe_local(db)
    db.write_bytes(b"")
    state = tmp_path / "state2"
    state.mkdir()
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], env, tmp_path) as run:
        wait_ready(run, state)
        seen = json.loads((state / "count").read_text())
        run.signal(TERM)
        assert run.wait(30) == 0, run.stderr
    assert seen["count"] == len(before), run.stderr
    assert "empty (0-byte) file" in run.stderr and f"restored {db}" in run.stderr, run.stderr


def test_replica_unreachable_when_litestream_starts(lsinit_bin, base_env, request, tmp_path):
    """The database exists (no restore), the SFTP replica is down when Litestream starts. 0.3 starts the
    app and retries in the background; 0.5.16+ connects first and exits 1 before starting the app: lsinit
    retries replicate with backoff (/readyz 503, /livez 200), the app starts once the server is back, and
    after LSINIT_RESTORE_TIMEOUT it gives up with one line and 69, never a silent 70."""
    replica = make_replica("sftp", request, tmp_path)
    sftp = request.getfixturevalue("sftp_server")
    db = tmp_path / "data" / "app.db"
    env = lsinit_env(base_env, replica, db, LSINIT_RESTORE_TIMEOUT="30s")
    _run_writer_once(lsinit_bin, env, db, tmp_path, "state1")
    state = tmp_path / "state2"
    state.mkdir()
    sftp.stop()
    try:
        with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], env, tmp_path) as run:
            if LITESTREAM_V05:
                wait_for(lambda: "before starting the app" in run.stderr, 20, lambda: run.stderr)
                port = hh.health_port(run)
                assert hh.request(port, "/readyz").status == 503
                assert hh.request(port, "/livez").status == 200
                assert not (state / "ready").exists()
            sftp.start()
            wait_ready(run, state, timeout=40)
            run.signal(TERM)
            rc = run.wait(30)
    finally:
        sftp.ensure_running()
    assert rc == 0, run.stderr
    # ... and when it never comes back: 69 with one line.
    marker = tmp_path / "app-started"
    env = dict(env, LSINIT_RESTORE_TIMEOUT="3s")
    with sftp.outage():
        with LsinitRun(lsinit_bin, ["--", *marker_cmd(marker)], env, tmp_path) as run:
            rc = run.wait(60)
    if LITESTREAM_V05:
        assert rc == 69 and not marker.exists(), run.stderr
        errors = run.lsinit_lines("ERROR")
        assert len(errors) == 1 and "LSINIT_RESTORE_TIMEOUT" in errors[0] and "unreachable" in errors[0], run.stderr
    else:
        assert marker.exists(), f"0.3 starts the app and retries the replica in the background:\n{run.stderr}"


def test_stale_wal_and_shm_removed_before_restore(lsinit_bin, base_env, request, tmp_path):
    """A -wal/-shm left next to a missing database belongs to another database:
    it is removed before the restore, so it cannot be replayed into it."""
    replica = make_replica("file", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    env = lsinit_env(base_env, replica, db)
    _, before = _run_writer_once(lsinit_bin, env, db, tmp_path, "state1")
    _wipe_local(db)
    # A real, uncheckpointed WAL of a different database.
    other = tmp_path / "other" / "foreign.db"
    other.parent.mkdir()
    con = sqlite3.connect(other, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE foreign_table (x)")
    con.execute("INSERT INTO foreign_table VALUES (1)")
    shutil.copy(f"{other}-wal", f"{db}-wal")
    shutil.copy(f"{other}-shm", f"{db}-shm")
    con.close()
    state = tmp_path / "state2"
    state.mkdir()
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], env, tmp_path) as run:
        wait_ready(run, state)
        seen = json.loads((state / "count").read_text())
        wait_synced(run)
        run.signal(TERM)
        assert run.wait(30) == 0, run.stderr
    assert f"removed stale {db}-wal" in run.stderr and f"removed stale {db}-shm" in run.stderr, run.stderr
    assert seen == {"count": len(before), "tables": ["rows"]}, f"the stale WAL was replayed: {seen}"


# ---------------------------------------------------------------- 3. litestream killed

def test_litestream_killed_is_restarted_and_app_keeps_running(lsinit_bin, litestream_bin, base_env, request,
                                                              tmp_path):
    replica = make_replica("file", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    env = lsinit_env(base_env, replica, db)
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "7")], env, tmp_path) as run:
        app_pid = wait_ready(run, state)
        first = wait_for(run.litestream_pid, 5, "litestream replicate under lsinit")
        wait_synced(run)
        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()
        second = wait_for(lambda: (p := run.litestream_pid()) not in (None, first) and p, 6,
                          lambda: f"a new litestream replicate; stderr:\n{run.stderr}")
        restart_delay = time.monotonic() - killed_at
        assert alive(app_pid), "the app died with litestream"
        errors = run.lsinit_lines("ERROR")
        assert len(errors) == 1 and "litestream" in errors[0] and "died" in errors[0], run.stderr
        assert b"-exec" not in procs.cmdline(second), "the restarted litestream must not start a second app"
        uploaded_before = uploaded(run)
        ask_write(state, "after-restart")
        wait_synced(run, after=uploaded_before)  # by the restarted litestream
        assert alive(app_pid) and alive(second)
        assert int((state / "ready").read_text()) == app_pid
        run.signal(TERM)
        rc = run.wait(30)
    assert 0.5 <= restart_delay <= 5, f"restart took {restart_delay:.1f}s (backoff 1s expected)"
    assert rc == 7, f"exit code {rc}; stderr:\n{run.stderr}"
    local = read_rows(db)
    assert kinds(local)[-1] == LAST_WRITE
    assert {r[2] for r in local} == {app_pid}, "rows from more than one app process"
    restored = restore_with_litestream(litestream_bin, replica, db, tmp_path / "restored.db", tmp_path)
    assert "after-restart" in kinds(restored), f"write after the restart missing from the replica:\n{run.stderr}"
    assert LAST_WRITE in kinds(restored), f"last write missing from the replica:\n{run.stderr}"
    assert restored == local


# ---------------------------------------------------------------- 4. argv

WEIRD_ARGS = [
    "two words", "it's", 'say "hi"', "'", '"', "$HOME", "${HOME}", "$(id)", "`id`", "a;b", "x && y", "p | q",
    "back\\slash", "\\", "trailing\\", "\\\\double", "", "ünïcødé ✓ 日本", "line1\nline2", "tab\tsep", "*",
    "~", "--", "-x", "#comment", "<in >out", "!bang", "  lead and trail  ", "'\"'\"'",
]


@pytest.mark.parametrize("pid1", [False, True], ids=["subreaper", "pid1"])
def test_argv_reaches_app_byte_for_byte(lsinit_bin, base_env, request, tmp_path, pid1):
    replica = make_replica("file", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    out = tmp_path / "argv.json"
    cmd = [apps.PY, apps.APPS, "argv", str(out), *WEIRD_ARGS]
    with LsinitRun(lsinit_bin, ["--", *cmd], lsinit_env(base_env, replica, db), tmp_path, pid1=pid1) as run:
        rc = run.wait(30)
    assert rc == 0, run.stderr
    assert out.exists(), f"the app did not run:\n{run.stderr}"
    got = [bytes.fromhex(h) for h in json.loads(out.read_text())]
    want = [a.encode() for a in WEIRD_ARGS]
    assert got == want, "argv changed on its way through litestream -exec and the shim"


# ---------------------------------------------------------------- 5. other signals

def test_hup_and_usr1_reach_app_and_litestream_survives(lsinit_bin, litestream_bin, base_env, request, tmp_path):
    replica = make_replica("file", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    sent = [signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH]
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], lsinit_env(base_env, replica, db),
                   tmp_path) as run:
        app_pid = wait_ready(run, state)
        ls_pid = wait_for(run.litestream_pid, 5, "litestream replicate")
        records = state / "signals"
        for i, sig in enumerate(sent):
            run.signal(sig)
            wait_for(lambda: records.exists() and len(records.read_text().split()) > i, 5,
                     lambda: f"the app to record SIG{sig.name[3:]}; stderr:\n{run.stderr}")
        time.sleep(0.5)  # room for duplicates and for a dying litestream to show
        assert records.read_text().split() == [str(int(s)) for s in sent], "each signal exactly once, in order"
        assert alive(ls_pid) and run.litestream_pid() == ls_pid, f"litestream did not survive:\n{run.stderr}"
        assert alive(app_pid)
        uploaded_before = uploaded(run)
        ask_write(state, "after-signals")
        wait_synced(run, after=uploaded_before)
        run.signal(TERM)
        rc = run.wait(30)
    assert rc == 0, run.stderr
    assert run.lsinit_lines("ERROR") == [], run.stderr
    restored = restore_with_litestream(litestream_bin, replica, db, tmp_path / "restored.db", tmp_path)
    assert "after-signals" in kinds(restored) and LAST_WRITE in kinds(restored)


# ---------------------------------------------------------------- 6. environment

@pytest.mark.parametrize("pid1", [False, True], ids=["subreaper", "pid1"])
def test_app_environment_is_lsinit_starting_environment(lsinit_bin, base_env, request, tmp_path, pid1):
    replica = make_replica("s3", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    out = tmp_path / "env.json"
    env = lsinit_env(base_env, replica, db, SOME_APP_SETTING="value with spaces = and 'quotes'")
    assert not any(k.startswith("AWS_") for k in env)
    with LsinitRun(lsinit_bin, ["--", apps.PY, apps.APPS, "env", str(out)], env, tmp_path, pid1=pid1) as run:
        rc = run.wait(30)
    assert rc == 0, run.stderr
    got = {bytes.fromhex(k).decode(): bytes.fromhex(v).decode() for k, v in json.loads(out.read_text()).items()}
    assert "AWS_ACCESS_KEY_ID" not in got and "AWS_SECRET_ACCESS_KEY" not in got, (
        "litestream's copied credentials leaked into the app")
    assert got == env


# ---------------------------------------------------------------- 7. bad input

@pytest.fixture
def open_dir():
    """A world-writable scratch folder (pytest's tmp_path is 0700: useless to uid 65534)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="lsinit-bad-"))
    d.chmod(0o777)
    yield d
    for p in [d, *d.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o777)
    shutil.rmtree(d, ignore_errors=True)


def _config(c, text):
    path = c["dir"] / "litestream.yml"
    path.write_text(text.replace("DB", str(c["db"])).replace("REPLICA", str(c["replica"])))
    return {"LSINIT_CONFIG": str(path)}


def _non_exec(c):
    p = c["dir"] / "litestream-not-exec"
    p.write_bytes(b"\x7fELF not really")
    p.chmod(0o644)
    return {"LSINIT_LITESTREAM": str(p)}


def _db_in_regular_file(c):
    (c["dir"] / "data" / "notadir").write_text("x")
    return {"LSINIT_DB": str(c["dir"] / "data" / "notadir" / "app.db")}


def _db_is_directory(c):
    c["db"].mkdir()
    return {}


def _unwritable_dir(c):
    (c["dir"] / "data").chmod(0o555)
    return {}


AS_NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]

# id: (exit code, [words the one lsinit line must contain], env changes (None deletes) or a function of the
#      context returning them, lsinit arguments (None: -- the marker app), run as nobody)
BAD_INPUT = {
    "scheme-ftp": (78, ["LSINIT_REPLICA_URL", "ftp"], {"LSINIT_REPLICA_URL": "ftp://example.com/backups"}),
    "not-a-url": (78, ["LSINIT_REPLICA_URL"], {"LSINIT_REPLICA_URL": "backups/app"}),
    "s3-no-bucket": (78, ["LSINIT_REPLICA_URL", "bucket"], {"LSINIT_REPLICA_URL": "s3:///app"}),
    "s3-credentials-in-url": (78, ["LSINIT_REPLICA_URL"], {"LSINIT_REPLICA_URL": "s3://key:pw@bucket/app"}),
    "file-relative": (78, ["LSINIT_REPLICA_URL", "absolute"], {"LSINIT_REPLICA_URL": "file://replica/app"}),
    "sftp-no-user": (78, ["LSINIT_REPLICA_URL", "user"],
                     {"LSINIT_REPLICA_URL": "sftp://127.0.0.1:2222/backups", "LSINIT_SFTP_PASSWORD": "pw"}),
    "sftp-port-too-big": (78, ["LSINIT_REPLICA_URL", "port"],
                          {"LSINIT_REPLICA_URL": "sftp://u@127.0.0.1:70000/backups", "LSINIT_SFTP_PASSWORD": "pw"}),
    "sftp-port-not-number": (78, ["LSINIT_REPLICA_URL", "port"],
                             {"LSINIT_REPLICA_URL": "sftp://u@127.0.0.1:ssh/backups", "LSINIT_SFTP_PASSWORD": "pw"}),
    "sftp-no-credentials": (78, ["LSINIT_SFTP_KEY_PATH", "LSINIT_SFTP_PASSWORD"],
                            {"LSINIT_REPLICA_URL": "sftp://u@127.0.0.1:2222/backups"}),
    "sftp-key-missing": (78, ["LSINIT_SFTP_KEY_PATH"],
                         {"LSINIT_REPLICA_URL": "sftp://u@127.0.0.1:2222/backups",
                          "LSINIT_SFTP_KEY_PATH": "/nonexistent/id_ed25519"}),
    "db-without-replica": (78, ["LSINIT_REPLICA_URL"], {"LSINIT_REPLICA_URL": None}),
    "access-key-without-secret": (78, ["LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY"],
                                  {"LSINIT_REPLICA_URL": "s3://bucket/app", "LITESTREAM_ACCESS_KEY_ID": "AKIA1"}),
    "secret-without-access-key": (78, ["LITESTREAM_SECRET_ACCESS_KEY", "LITESTREAM_ACCESS_KEY_ID"],
                                  {"LSINIT_REPLICA_URL": "s3://bucket/app", "LITESTREAM_SECRET_ACCESS_KEY": "s"}),
    "endpoint-no-http": (78, ["LITESTREAM_REPLICA_ENDPOINT", "http"],
                         {"LSINIT_REPLICA_URL": "s3://bucket/app", "LITESTREAM_REPLICA_ENDPOINT": "127.0.0.1:9000"}),
    "sync-interval-word": (78, ["LSINIT_SYNC_INTERVAL"], {"LSINIT_SYNC_INTERVAL": "fast"}),
    "sync-interval-zero": (78, ["LSINIT_SYNC_INTERVAL"], {"LSINIT_SYNC_INTERVAL": "0s"}),
    "restore-timeout": (78, ["LSINIT_RESTORE_TIMEOUT"], {"LSINIT_RESTORE_TIMEOUT": "soon"}),
    "grace": (78, ["LSINIT_GRACE"], {"LSINIT_GRACE": "forever"}),
    "force-path-style": (78, ["LSINIT_FORCE_PATH_STYLE"], {"LSINIT_FORCE_PATH_STYLE": "maybe"}),
    "db-folder-unwritable": (78, ["LSINIT_DB", "data"], _unwritable_dir, None, True),
    "db-folder-is-a-file": (78, ["LSINIT_DB", "notadir"], _db_in_regular_file),
    "db-is-a-directory": (78, ["LSINIT_DB", "app.db"], _db_is_directory),
    "db-is-a-folder-path": (78, ["LSINIT_DB"], lambda c: {"LSINIT_DB": str(c["dir"] / "data") + "/"}),
    "litestream-missing": (78, ["LSINIT_LITESTREAM", "/nonexistent/litestream"],
                           {"LSINIT_LITESTREAM": "/nonexistent/litestream"}),
    "litestream-not-executable": (78, ["LSINIT_LITESTREAM", "litestream-not-exec"], _non_exec),
    "config-misspelled-key": (78, ["litestream.yml", "replcas", "replicas"],
                              lambda c: _config(c, "dbs:\n  - path: DB\n    replcas:\n      - path: REPLICA\n")),
    "config-replica-key-on-0.3": (78, ["litestream.yml", "replica:"],
                                  lambda c: {**_config(c, "dbs:\n  - path: DB\n    replica:\n      path: REPLICA\n"),
                                             "LSINIT_LITESTREAM_VERSION": "0.3.13"}),
    "config-0.5-key-on-0.3": (78, ["litestream.yml", "mcp-addr"],
                              lambda c: {**_config(c, "mcp-addr: 127.0.0.1:3001\ndbs:\n  - path: DB\n"),
                                         "LSINIT_LITESTREAM_VERSION": "0.3.13"}),
    # 0.5 silently drops what only 0.3 honoured, and rejects age: and gcs.
    "config-0.3-key-on-0.5": (78, ["litestream.yml", "snapshot-interval"],
                              lambda c: {**_config(c, "dbs:\n  - path: DB\n    replicas:\n      - path: REPLICA\n"
                                                      "        snapshot-interval: 1h\n"),
                                         "LSINIT_LITESTREAM_VERSION": "0.5.17"}),
    "config-age-on-0.5": (78, ["litestream.yml", "age"],
                          lambda c: {**_config(c, "dbs:\n  - path: DB\n    replica:\n      path: REPLICA\n"
                                                  "      age:\n        recipients: [x]\n"),
                                     "LSINIT_LITESTREAM_VERSION": "0.5.17"}),
    "config-gcs-on-0.5": (78, ["litestream.yml", "gcs"],
                          lambda c: {**_config(c, "dbs:\n  - path: DB\n    replica:\n      type: gcs\n"
                                                  "      bucket: b\n      path: p\n"),
                                     "LSINIT_LITESTREAM_VERSION": "0.5.17"}),
    "litestream-version-0.5.8": (78, ["0.5.8", "0.5.9"], {"LSINIT_LITESTREAM_VERSION": "0.5.8"}),
    "config-missing": (78, ["LSINIT_CONFIG", "nope.yml"], lambda c: {"LSINIT_CONFIG": str(c["dir"] / "nope.yml")}),
    "config-is-directory": (78, ["LSINIT_CONFIG"], lambda c: {"LSINIT_CONFIG": str(c["dir"])}),
    "config-yaml-syntax": (78, ["litestream.yml"],
                           lambda c: _config(c, "dbs:\n  - path: DB\n    replicas: [ {path: REPLICA\n")),
    "litestream-version-0.5.0": (78, ["0.5.0"], {"LSINIT_LITESTREAM_VERSION": "0.5.0"}),
    "litestream-version-garbage": (78, ["LSINIT_LITESTREAM_VERSION"], {"LSINIT_LITESTREAM_VERSION": "latest"}),
    "unknown-option": (64, ["--bogus"], {}, lambda c: ["--bogus", "--", *marker_cmd(c["marker"])]),
    "missing-command": (64, ["command"], {}, lambda c: []),
    "missing-command-after-dashes": (64, ["command"], {}, lambda c: ["--"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_refused_before_anything_runs(lsinit_bin, base_env, open_dir, case):
    code, words, change, *rest = BAD_INPUT[case]
    make_args = rest[0] if rest and rest[0] is not None else None
    as_nobody = len(rest) > 1 and rest[1]
    c = {"dir": open_dir, "db": open_dir / "data" / "app.db", "replica": open_dir / "replica",
         "marker": open_dir / "app-started"}
    (open_dir / "data").mkdir()
    env = dict(base_env)
    env.update({"LSINIT_DB": str(c["db"]), "LSINIT_REPLICA_URL": f"file://{c['replica']}"})
    changes = change(c) if callable(change) else change
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    args = make_args(c) if make_args else ["--", *marker_cmd(c["marker"])]
    before = {p: p.stat().st_mtime_ns for p in open_dir.rglob("*")}
    cmd = (AS_NOBODY if as_nobody else []) + [lsinit_bin, *args]
    r = subprocess.run(cmd, env=env, cwd=open_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=30, preexec_fn=procs.default_signals)
    lines = r.stderr.splitlines()
    assert r.returncode == code, f"exit code {r.returncode}, expected {code}; stderr:\n{r.stderr}"
    hint = ""
    if any("health endpoint on" in ln for ln in lines):
        hint = ("LSINIT BUG: the health endpoint is opened (and logged) before LSINIT_DB's folder is checked "
                "(main.c: supervisor_start_services runs before replication_attach)\n")
    assert len(lines) == 1 and lines[0].startswith("lsinit["), f"{hint}expected exactly one lsinit line:\n{r.stderr}"
    for w in words:
        assert w in lines[0], f"{w!r} not named in: {lines[0]}"
    assert not c["marker"].exists(), "the app was started"
    after = {p: p.stat().st_mtime_ns for p in open_dir.rglob("*")}
    assert after == before, f"lsinit changed the file system: {sorted(set(after) ^ set(before))}"
    assert not (c["db"].exists() and c["db"].is_file()) and not c["replica"].exists()


# ---------------------------------------------------------------- 8. secrets

SECRET = "SeCrEt-XYZ-123"
SFTP_SECRET = "PaSs-XYZ-456"


def _scan_for(needles, roots, since):
    """Files under roots changed since `since` that contain any needle."""
    found = []
    for root in roots:
        root = pathlib.Path(root)
        if not root.exists():
            continue
        for p in [root, *root.rglob("*")] if root.is_dir() else [root]:
            try:
                st = p.lstat()
                if not stat.S_ISREG(st.st_mode) or max(st.st_mtime, st.st_ctime) < since or st.st_size > 64 << 20:
                    continue
                data = p.read_bytes()
            except OSError:
                continue
            found += [(str(p), n) for n in needles if n.encode() in data]
    return found


def test_secrets_never_leak(lsinit_bin, base_env, request, tmp_path, tmp_path_factory):
    since = time.time() - 1
    tmp_before = set(os.listdir("/tmp"))
    s3 = make_replica("s3", request, tmp_path)
    s3.env["LITESTREAM_SECRET_ACCESS_KEY"] = SECRET
    sftp = make_replica("sftp", request, tmp_path)
    sftp.env["LSINIT_SFTP_PASSWORD"] = SFTP_SECRET
    db = tmp_path / "data" / "app.db"
    outputs = {}

    def run_sub(name, env, args, expect):
        r = subprocess.run([lsinit_bin, *args], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60, preexec_fn=procs.default_signals)
        outputs[name] = r.stdout + r.stderr
        assert r.returncode == expect, f"{name}: exit {r.returncode}\n{r.stderr}"
        return r

    s3_env = lsinit_env(base_env, s3, db, LSINIT_LOG_LEVEL="debug")
    sftp_env = lsinit_env(base_env, sftp, tmp_path / "data2" / "app.db", LSINIT_LOG_LEVEL="debug")
    cfg = run_sub("config-s3", s3_env, ["config"], 0)
    assert re.search(r'secret-access-key: "?<redacted>"?', cfg.stdout), cfg.stdout
    cfg = run_sub("config-sftp", sftp_env, ["config"], 0)
    assert re.search(r'password: "?<redacted>"?', cfg.stdout), cfg.stdout
    run_sub("databases", s3_env, ["databases"], 0)

    for name, env, dbp in (("run-s3", s3_env, db), ("run-sftp", sftp_env, tmp_path / "data2" / "app.db")):
        state = tmp_path / f"state-{name}"
        state.mkdir()
        with LsinitRun(lsinit_bin, ["--", *writer_cmd(dbp, state, "0")], env, tmp_path) as run:
            wait_ready(run, state)
            wait_synced(run)  # litestream logging a sync or two
            run.signal(TERM)
            assert run.wait(30) == 0, run.stderr
        outputs[name] = run.stdout + run.stderr
        listing = ["ltx", "-level", "all", dbp.name] if LITESTREAM_V05 else ["generations", dbp.name]
        run_sub(f"listing-{name}", env, listing, 0)

    bad = dict(s3_env, LITESTREAM_REPLICA_ENDPOINT="127.0.0.1:1")
    run_sub("bad-endpoint", bad, ["--", *marker_cmd(tmp_path / "m")], 78)
    typo = tmp_path / "typo.yml"
    typo.write_text(f"dbs:\n  - path: {db}\n    replicas:\n      - type: s3\n        bucket: b\n"
                    "        secret-acess-key: ${LITESTREAM_SECRET_ACCESS_KEY}\n")
    run_sub("bad-config", dict(s3_env, LSINIT_CONFIG=str(typo)), ["--", *marker_cmd(tmp_path / "m")], 78)
    url_pw = dict(sftp_env, LSINIT_REPLICA_URL=f"sftp://u:{SFTP_SECRET}@127.0.0.1:99999/x")
    r = run_sub("bad-sftp-url", url_pw, ["--", *marker_cmd(tmp_path / "m")], 78)
    assert "<redacted>" in r.stderr

    leaks = {name: [s for s in (SECRET, SFTP_SECRET) if s in text] for name, text in outputs.items()}
    assert {k: v for k, v in leaks.items() if v} == {}, "a secret appeared in lsinit's or litestream's output"
    new_tmp = [pathlib.Path("/tmp") / n for n in set(os.listdir("/tmp")) - tmp_before]
    roots = [tmp_path, tmp_path_factory.getbasetemp(), "/dev/shm", *new_tmp]
    assert _scan_for([SECRET, SFTP_SECRET], roots, since) == [], "a secret was written to a file"


# ---------------------------------------------------------------- 9. subcommands

def test_subcommands(lsinit_bin, base_env, request, tmp_path):
    replica = make_replica("file", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    env = lsinit_env(base_env, replica, db)
    _, local = _run_writer_once(lsinit_bin, env, db, tmp_path, "state", writes=["for-subcommands"])
    elsewhere = tmp_path / "elsewhere"  # file names resolve wherever lsinit runs
    elsewhere.mkdir()

    def sub(*args):
        return subprocess.run([lsinit_bin, *args], env=env, cwd=elsewhere, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60, preexec_fn=procs.default_signals)

    r = sub("databases")
    assert r.returncode == 0 and str(db) in r.stdout and "file" in r.stdout, r.stdout + r.stderr
    if LITESTREAM_V05:
        # 0.5: the replica's LTX files (TXIDs are 16 hex digits), every level.
        r = sub("ltx", "-level", "all", "app.db")
        assert r.returncode == 0 and GENERATION.search(r.stdout), r.stdout + r.stderr
        r = sub("status", "app.db")
        assert r.returncode == 0 and str(db) in r.stdout, r.stdout + r.stderr
        for name in ("generations", "snapshots"):
            r = sub(name, "app.db")
            assert r.returncode == 64, f"{name}: {r.stdout}{r.stderr}"
            assert len(r.stderr.splitlines()) == 1 and "0.3" in r.stderr and "ltx" in r.stderr, r.stderr
    else:
        r = sub("generations", "app.db")
        assert r.returncode == 0 and GENERATION.search(r.stdout), r.stdout + r.stderr
        for name in ("snapshots", "wal"):
            r = sub(name, "app.db")
            assert r.returncode == 0 and GENERATION.search(r.stdout), f"{name}: {r.stdout}{r.stderr}"
    for i, target in enumerate(("app.db", str(db))):
        out = tmp_path / f"restored-{i}.db"
        r = sub("restore", "-o", str(out), target)
        assert r.returncode == 0, r.stderr
        assert read_rows(out) == local
    if not LITESTREAM_V05:
        r = sub("ltx", "app.db")
        assert r.returncode == 64, r.stderr
        assert len(r.stderr.splitlines()) == 1 and "0.5" in r.stderr, r.stderr
    r = sub("ltx" if LITESTREAM_V05 else "generations", "nosuch.db")
    assert r.returncode == 64 and "nosuch.db" in r.stderr, r.stderr
    r = sub("version")
    version = (ROOT / "VERSION").read_text().strip()
    assert r.returncode == 0, r.stderr
    assert f"lsinit {version}" in r.stdout and f"litestream v{LITESTREAM_TEST_VERSION}" in r.stdout, r.stdout


# ---------------------------------------------------------------- 10. version detection

def test_version_read_from_go_build_info_without_running_litestream(lsinit_bin, litestream_bin, base_env, request,
                                                                     tmp_path):
    """Start → exit with an app that exits at once: the version comes from the binary's Go build info
    (-X main.Version in its -ldflags setting), so no `litestream version` runs before `replicate`. A copy
    whose build info no longer sets main.Version goes back to running `litestream version`."""
    replica = make_replica("file", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    env = lsinit_env(base_env, replica, db, LSINIT_LOG_LEVEL="debug")
    with LsinitRun(lsinit_bin, ["--", "/bin/true"], env, tmp_path) as run:
        rc = run.wait(30)
    assert rc == 0, run.stderr
    want = f"litestream v{LITESTREAM_TEST_VERSION}, read from its Go build info (-X main.Version="
    assert [ln for ln in run.lsinit_lines("DEBUG") if want in ln], run.stderr
    assert not [ln for ln in run.lsinit_lines() if "version`" in ln], run.stderr

    # The same binary with "main.Version" renamed inside its build info (same length): no version there.
    data = bytearray(pathlib.Path(litestream_bin).read_bytes())
    blob = data.find(b"\xff Go buildinf:")
    at = data.find(b"main.Version=", blob, blob + 65536)
    assert blob >= 0 and at > blob, "no -X main.Version in the build info of " + litestream_bin
    data[at:at + 12] = b"main.Versio_"
    copy = tmp_path / "litestream-no-version"
    copy.write_bytes(bytes(data))
    copy.chmod(0o755)
    env = dict(env, LSINIT_LITESTREAM=str(copy))
    with LsinitRun(lsinit_bin, ["--", "/bin/true"], env, tmp_path) as run:
        rc = run.wait(30)
    assert rc == 0, run.stderr
    assert [ln for ln in run.lsinit_lines("DEBUG") if "sets no main.Version; running" in ln], run.stderr
