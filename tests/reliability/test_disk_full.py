"""Suite 4: disk full.

* Restore on boot of a database bigger than its (tmpfs) data folder: no
  partial database is left (no db, no db.tmp), the app is not started, lsinit
  exits 69 (docs/exit-codes.md: "a missing database could not be restored").
* Verification with LSINIT_VERIFY_DIR on a tmpfs that is (a) too small from
  the start (the free-space check) and (b) filled up while litestream restores
  the copy (litestream's own ENOSPC): `no_space` both times, nothing left in
  the folder.
"""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from support import apps
from support import health as hh
from support import reliability as rel
from support.apps import marker_cmd
from support.waiting import free_port

pytestmark = pytest.mark.usefixtures("require_root")


def make_backup(lsinit, litestream_bin, tmp_path, kb):
    """A file replica holding a ~kb KiB database (snapshot + WAL); returns (replica, db)."""
    replica = rel.make_replica("file", tmp_path)
    db = tmp_path / "src" / "app.db"
    rel.fill_db(db, kb)
    state = tmp_path / "src-state"
    state.mkdir()
    env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db)
    with rel.LsinitRun(lsinit, ["--", *apps.writer_cmd(db, state, "0")], env, state) as run:
        rel.wait_ready(run, state)
        rel.wait_segments(run, 0)
        run.signal(signal.SIGTERM)
        assert run.wait(60) == 0, run.stderr
    return replica, db


def test_restore_on_boot_bigger_than_the_disk(lsinit, litestream_bin, tmp_path, figures):
    replica, src = make_backup(lsinit, litestream_bin, tmp_path, kb=3072)
    size = src.stat().st_size
    marker = tmp_path / "app-started"
    with hh.tmpfs(tmp_path / "small", "1m") as small:
        db = small / "app.db"
        env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db, LSINIT_RESTORE_TIMEOUT="3s")
        t0 = time.monotonic()
        with rel.LsinitRun(lsinit, ["--", *marker_cmd(marker)], env, tmp_path / "boot") as run:
            rc = run.wait(60)
        took = time.monotonic() - t0
        left = sorted(os.listdir(small))
    attempts = run.stderr.count("restoring it from its replica")
    errors = run.lsinit_lines("ERROR")
    nospace = "no space left on device" in (run.stdout + run.stderr)
    figures(db_bytes=size, tmpfs="1m", exit_code=rc, restore_attempts=attempts, seconds=round(took, 1),
            files_left=left, litestream_said_no_space=nospace, error_lines=errors)
    assert rc == 69, f"exit {rc}, expected 69:\n{run.stderr}"
    assert not marker.exists(), "the app was started without its database"
    assert left == [], f"a partial restore was left behind: {left}"
    assert len(errors) == 1 and str(db) in errors[0], run.stderr


def _running_service(lsinit, litestream_bin, tmp_path, kb, verify_dir):
    replica = rel.make_replica("file", tmp_path)
    db = tmp_path / "data" / "app.db"
    rel.fill_db(db, kb)
    state = tmp_path / "state"
    state.mkdir()
    env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db, LSINIT_VERIFY_DIR=verify_dir,
                         LSINIT_METRICS_ADDR=f"127.0.0.1:{free_port()}", LSINIT_VERIFY_CATCHUP_TIMEOUT="10s")
    # a light writer (a row every 50 ms): the copy's size stays near the database's
    run = rel.LsinitRun(lsinit, ["--", *apps.writer_cmd(db, state, "0")], env, tmp_path)
    return run, env, state


def _verify(lsinit, env):
    r = subprocess.run([lsinit, "verify", "--json"], env=env, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, f"{r.stdout!r} {r.stderr!r}"
    return r.returncode, lines[0]


def test_verification_no_space(lsinit, litestream_bin, tmp_path, figures):
    out = {}
    with hh.tmpfs(tmp_path / "tiny", "64k") as tiny, hh.tmpfs(tmp_path / "mid", "24m") as mid:
        run, env, state = _running_service(lsinit, litestream_bin, tmp_path, 1536, str(tiny))
        with run:
            rel.wait_ready(run, state)
            rel.wait_segments(run, 0)
            # (a) too small from the start: the free-space check refuses
            rc, line = _verify(lsinit, env)
            out["precheck"] = {"rc": rc, "result": line["result"], "reason": line["reason"],
                               "left": hh.verify_dirs(tiny)}
            # (b) room at the check, none left a moment later: a filler takes the rest of the
            # tmpfs as soon as the verification's folder appears (before litestream writes)
            env_mid = dict(env, LSINIT_VERIFY_DIR=str(mid))
            stop = threading.Event()
            filled = {}

            def filler():
                while not stop.is_set():
                    if hh.verify_dirs(mid):
                        st = os.statvfs(mid)
                        with open(mid / "filler", "wb") as f:
                            try:
                                os.posix_fallocate(f.fileno(), 0, st.f_bavail * st.f_frsize)
                            except OSError:
                                pass
                        filled["at"] = time.monotonic()
                        return
                    time.sleep(0.0005)
            t = threading.Thread(target=filler, daemon=True)
            t.start()
            try:
                rc, line = _verify(lsinit, env_mid)
            finally:
                stop.set()
                t.join(5)
            left = hh.verify_dirs(mid)
            out["mid_restore"] = {"rc": rc, "result": line["result"], "reason": line["reason"],
                                  "filler_won_race": "at" in filled, "left": left}
            (mid / "filler").unlink(missing_ok=True)
            assert run.proc.poll() is None, run.stderr
    figures(**out)
    assert out["precheck"]["result"] == "no_space" and out["precheck"]["rc"] == 1, out
    assert out["precheck"]["left"] == [], out
    assert out["mid_restore"]["filler_won_race"], "the filler never saw the verification's folder"
    assert out["mid_restore"]["result"] == "no_space" and out["mid_restore"]["rc"] == 1, out
    assert out["mid_restore"]["left"] == [], f"a partial copy was left: {out}"
