"""A stop fits the platform's kill timeout whatever the sync interval.

Users raise the sync interval to cut object-store requests (10 s, 60 s, 5 min)
and Fly.io kills a machine 5 s after its SIGTERM (docs/operations.md advises
LSINIT_GRACE=4s). Litestream's own shutdown performs a final sync, so a stop
must cost the app's drain plus one upload, never a wait for the next sync
tick. For each interval, cycles of the soak writer (a row every ~2 ms, one
more in its TERM/INT handler) are stopped with LSINIT_GRACE=4s on file, S3 and
SFTP replicas, with every app exit mode: 0 acknowledged writes may be missing
from the replica and lsinit must exit with the app's code. The stop time is
recorded as a figure (make bench measures it), not asserted.
"""
import random
import signal
import time

import pytest

from support import reliability as rel

INTERVALS = ("1s", "10s", "60s", "5m")
EXIT_MODES = ("0", "1", "143", "signal")
KINDS = ("file", "s3", "sftp", "file")


@pytest.mark.parametrize("interval", INTERVALS)
def test_stop_fits_a_4s_grace_whatever_the_sync_interval(lsinit, litestream_bin, fauxqs, sftp_server, tmp_path,
                                                          figures, interval):
    seed = time.time_ns() % 1_000_000
    rng = random.Random(seed)
    base = rel.base_env(litestream_bin, LSINIT_SYNC_INTERVAL=interval, LSINIT_GRACE="4s")
    stop_ms, acknowledged, lost_total, failures = [], 0, 0, []
    for i, exit_mode in enumerate(EXIT_MODES):
        kind = KINDS[i % len(KINDS)]
        replica = rel.make_replica(kind, tmp_path, fauxqs=fauxqs, sftp=sftp_server)
        db = tmp_path / f"db{i}" / "app.db"
        state = tmp_path / f"cycle{i}"
        state.mkdir()
        sig = rng.choice((signal.SIGTERM, signal.SIGINT))
        delay = rng.uniform(0.3, 1.5)
        what = f"{kind}, LSINIT_SYNC_INTERVAL={interval}, SIG{signal.Signals(sig).name[3:]}, exit {exit_mode}, " \
               f"stopped {delay:.2f}s after ready (seed {seed})"
        with rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(db, state, exit_mode, i)],
                           rel.lsinit_env(base, replica, db), state) as run:
            rel.wait_ready(run, state)
            time.sleep(delay)
            t0 = time.monotonic()
            run.signal(sig)
            rc = run.wait(30)
            stop_ms.append(round((time.monotonic() - t0) * 1000))
        acked = rel.read_acks(state)
        assert acked, f"{what}: the app acknowledged nothing"
        got = rel.restored_rows(litestream_bin, replica, db, state)
        lost = acked - got
        acknowledged += len(acked)
        lost_total += len(lost)
        want = rel.expected_code(exit_mode, sig)
        if lost or rc != want:
            failures.append(f"{what}: exit {rc} (want {want}), {len(lost)} of {len(acked)} acknowledged writes "
                            f"missing from the replica; lsinit stderr:\n{run.stderr[-2500:]}")
    figures(interval=interval, cycles=len(EXIT_MODES), acknowledged=acknowledged, lost=lost_total,
            stop_to_exit_ms=stop_ms, seed=seed)
    assert not failures, "\n\n".join(failures)
