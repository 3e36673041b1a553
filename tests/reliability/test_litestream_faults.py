"""Suite 3: Litestream faults.

* SIGKILL litestream at random moments while the app writes (short: 3 times,
  LSINIT_SOAK=1: 20): lsinit restarts it each time, the new litestream
  uploads again (a WAL segment with writes made after the kill), and at the
  stop nothing acknowledged is missing from the replica. Figure: recovery
  time = kill → the restarted litestream's first uploaded WAL segment.
* SIGSTOP litestream (long only, ~45 s): lsinit's metrics check kills and
  restarts it after 30 s ("has not answered on its metrics endpoint").
* Restart backoff after a healthy run (long only): a litestream that
  replicated fine for a while and then dies is restarted after the first
  backoff step again, not after the step its earlier crashes reached.
"""
import os
import random
import re
import signal
import time

import pytest

from support import reliability as rel
from support.reliability import SOAK

pytestmark = pytest.mark.usefixtures("require_root")

RESTART_LINE = re.compile(r"restarting replication in (\d+)ms \(restart #(\d+)\)")


def _start(lsinit, litestream_bin, tmp_path, **extra):
    replica = rel.make_replica("file", tmp_path)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db, **extra)
    run = rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(db, state, "0", 0)], env, tmp_path)
    return run, replica, db, state


def _kill_and_time_recovery(run, sig=signal.SIGKILL, timeout=60):
    """Kills litestream; returns (seconds to the new litestream's first segment, new pid)."""
    old = run.litestream_pid()
    assert old, f"no litestream running:\n{run.stderr}"
    os.kill(old, sig)
    t0 = time.monotonic()
    n = rel.segments(run)  # the killed process writes nothing more
    new = rel.wait_for(lambda: (p := run.litestream_pid()) not in (None, old) and p, timeout,
                       lambda: f"a restarted litestream; stderr:\n{run.stderr[-2000:]}", interval=0.01)
    rel.wait_segments(run, n, timeout=timeout)
    return time.monotonic() - t0, new


def test_sigkill_litestream_repeatedly(lsinit, litestream_bin, tmp_path, figures):
    kills = 20 if SOAK else 3
    rng = random.Random(int(os.environ.get("LSINIT_SOAK_SEED", "11")))
    run, replica, db, state = _start(lsinit, litestream_bin, tmp_path)
    recoveries = []
    with run:
        rel.wait_ready(run, state)
        rel.wait_segments(run, 0)
        for _ in range(kills):
            time.sleep(rng.uniform(0.0, 2.0))
            took, _ = _kill_and_time_recovery(run)
            recoveries.append(round(took, 2))
            assert run.proc.poll() is None, f"lsinit exited after a litestream kill:\n{run.stderr}"
        run.signal(signal.SIGTERM)
        rc = run.wait(60)
    delays = [int(m.group(1)) for m in RESTART_LINE.finditer(run.stderr)]
    acked = rel.read_acks(state)
    got = rel.restored_rows(litestream_bin, replica, db, tmp_path)
    figures(kills=kills, recovery_s=recoveries, restart_backoff_ms=delays, acknowledged=len(acked),
            lost=len(acked - got), exit_code=rc)
    assert rc == 0, run.stderr
    assert acked <= got, f"{len(acked - got)} acknowledged writes lost"
    assert len(delays) == kills, f"{len(delays)} restart lines for {kills} kills:\n{run.stderr}"


@pytest.mark.soak
def test_sigstop_litestream_is_killed_and_restarted(lsinit, litestream_bin, tmp_path, figures):
    run, replica, db, state = _start(lsinit, litestream_bin, tmp_path)
    with run:
        rel.wait_ready(run, state)
        rel.wait_segments(run, 0)
        took, _ = _kill_and_time_recovery(run, sig=signal.SIGSTOP, timeout=75)
        detected = [ln for ln in run.lsinit_lines("ERROR") if "has not answered on its metrics endpoint" in ln]
        rel.wait_segments(run, rel.segments(run), timeout=30)  # and it keeps replicating
        run.signal(signal.SIGTERM)
        rc = run.wait(60)
    acked = rel.read_acks(state)
    got = rel.restored_rows(litestream_bin, replica, db, tmp_path)
    figures(stop_to_first_upload_of_new_litestream_s=round(took, 1), error_line=detected[:1],
            acknowledged=len(acked), lost=len(acked - got), exit_code=rc)
    assert detected, f"no 'has not answered on its metrics endpoint' line:\n{run.stderr}"
    assert 30 <= took <= 60, took
    assert rc == 0, run.stderr
    assert acked <= got


@pytest.mark.soak
def test_restart_backoff_resets_after_a_healthy_run(lsinit, litestream_bin, tmp_path, figures):
    """Three quick crashes push the backoff to 4 s; litestream then replicates
    healthily for 35 s (longer than the 30 s maximum backoff) and is killed
    once more: the restart should come after 1 s again. (A litestream OOM-killed
    once a day would otherwise wait 30 s from the sixth day on, unreplicated.)"""
    run, replica, db, state = _start(lsinit, litestream_bin, tmp_path)
    with run:
        rel.wait_ready(run, state)
        rel.wait_segments(run, 0)
        for _ in range(3):
            _kill_and_time_recovery(run)
        time.sleep(35)
        took, _ = _kill_and_time_recovery(run)
        run.signal(signal.SIGTERM)
        rc = run.wait(60)
    delays = [int(m.group(1)) for m in RESTART_LINE.finditer(run.stderr)]
    figures(restart_backoff_ms=delays, last_recovery_s=round(took, 2))
    assert rc == 0, run.stderr
    assert len(delays) == 4, run.stderr
    assert delays[-1] <= 1000, (
        f"LSINIT BUG: after 35 s of healthy replication the restart waited {delays[-1]} ms (backoff {delays}): "
        "replication.c never resets r->restarts, so every crash, however far apart, waits longer, up to 30 s")
