"""Suite 1: stop soak.

N start/write/stop cycles of a writer under continuous load (short: 10,
LSINIT_SOAK=1: 100), alternating a file replica and an S3 (fauxqs) replica.
Each cycle picks at random: the stop signal (TERM/INT), how the app exits
(0, 1, 143, 130, or killed by its own signal), how long it writes before the
stop (0-2.5 s, short version 0-1.6 s: often before Litestream's first sync) and, one cycle in three,
whether the local data is wiped first (so lsinit restores it on boot). After
every cycle the replica is restored into a fresh folder with a plain
`litestream restore` and compared with every write the app ever saw
acknowledged on that lineage; lsinit's exit code must be the app's.

On Litestream 0.5, a replica that restores corrupt (G2, an upstream bug) is
recorded and its lineage replaced by a fresh one, so the soak still runs every
cycle; the test is then an xfail naming each occurrence.

The S3 lineage is restarted (fresh bucket and database) once its database
passes 3 MiB: fauxqs 2.4.1, the test S3 server, fails every multipart upload
("InvalidPart"), which litestream's AWS SDK uses for objects of 5 MiB and more
(snapshots of a bigger database); lsinit then correctly exits 75 on every stop.

What bare `litestream replicate -exec` (no lsinit) loses under the same writer
is a benchmark, not a test: bench/bare_soak.py (B9 in docs/benchmarks.md).
"""
import os
import random
import shutil
import signal
import time

import pytest

from support import reliability as rel
from support.reliability import SOAK

pytestmark = pytest.mark.usefixtures("require_root")

EXIT_MODES = ("0", "1", "143", "130", "signal")
S3_LINEAGE_MAX_BYTES = 3 << 20


def _local_bytes(db):
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


class Lineage:
    """One database and its replica, across cycles."""

    def __init__(self, kind, replica, folder):
        self.kind, self.replica = kind, replica
        self.db = folder / "data" / "app.db"
        self.acked = set()
        self.cycles = 0


def test_stop_soak(lsinit, litestream_bin, fauxqs, tmp_path, figures):
    cycles = int(os.environ.get("LSINIT_SOAK_CYCLES", 100 if SOAK else 10))
    seed = int(os.environ.get("LSINIT_SOAK_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    base = rel.base_env(litestream_bin)
    lineages = [Lineage("file", rel.make_replica("file", tmp_path), tmp_path / "file"),
                Lineage("s3", rel.make_replica("s3", tmp_path, fauxqs=fauxqs), tmp_path / "s3")]
    stats = {"cycles": 0, "acknowledged": 0, "lost": 0, "exit_codes_matched": 0, "restores_on_boot": 0, "s3_lineages": 1,
             "stopped_before_first_upload": 0, "by_exit": {}, "stop_to_exit_ms": []}
    failures = []
    corrupt = []
    started = time.monotonic()
    for i in range(cycles):
        lin = lineages[i % 2]
        if lin.kind == "s3" and _local_bytes(lin.db) > S3_LINEAGE_MAX_BYTES:
            # fauxqs 2.4.1 fails every multipart upload (InvalidPart), which the AWS SDK in litestream
            # uses for objects of 5 MiB and more: start a fresh S3 lineage before a snapshot gets there.
            lin = lineages[1] = Lineage("s3", rel.make_replica("s3", tmp_path, fauxqs=fauxqs), tmp_path / f"s3-{i}")
            stats["s3_lineages"] += 1
        sig = rng.choice((signal.SIGTERM, signal.SIGINT))
        exit_mode = rng.choice(EXIT_MODES)
        delay = rng.choice((0.0, rng.uniform(0.0, 0.6), rng.uniform(0.6, 2.5 if SOAK else 1.6)))
        wipe = lin.cycles > 0 and rng.random() < 1 / 3
        if wipe:
            shutil.rmtree(lin.db.parent)
            stats["restores_on_boot"] += 1
        state = tmp_path / f"cycle{i:03d}"
        state.mkdir()
        env = rel.lsinit_env(base, lin.replica, lin.db)
        what = f"cycle {i} ({lin.kind}, SIG{signal.Signals(sig).name[3:]}, exit {exit_mode}, " \
               f"delay {delay:.2f}s{', restore on boot' if wipe else ''}; seed {seed})"
        with rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(lin.db, state, exit_mode, i)], env, state) as run:
            rel.wait_ready(run, state)
            time.sleep(delay)
            if rel.segments(run) == 0:
                stats["stopped_before_first_upload"] += 1
            t0 = time.monotonic()
            run.signal(sig)
            rc = run.wait(60)
            stats["stop_to_exit_ms"].append((time.monotonic() - t0) * 1000)
        if wipe:
            assert f"restored {lin.db}" in run.stderr, f"{what}: no restore on boot:\n{run.stderr}"
        lin.cycles += 1
        acked = rel.read_acks(state)
        assert acked, f"{what}: the app acknowledged nothing"
        lin.acked |= acked
        want = rel.expected_code(exit_mode, sig)
        matched = rc == want
        try:
            got = rel.restored_rows(litestream_bin, lin.replica, lin.db, state)
        except AssertionError as e:
            if not (rel.LITESTREAM_V05 and "fails integrity_check" in str(e)):
                raise
            # G2 (docs/reliability.md): Litestream 0.5.17 can leave a replica whose restore fails
            # integrity_check (upstream benbjohnson/litestream#1164; bare `replicate -exec` does it too).
            # Recorded, and the soak goes on with a fresh lineage of the same kind, so every cycle still
            # counts: a lost write or a wrong exit code anywhere else still fails this test.
            corrupt.append(f"{what}: {str(e)[:160]}")
            stats["cycles"] += 1
            stats["exit_codes_matched"] += matched
            if not matched:
                failures.append(f"{what}: exit {rc} (want {want}); lsinit stderr:\n{run.stderr[-2500:]}")
            lineages[i % 2] = Lineage(lin.kind, rel.make_replica(lin.kind, tmp_path, fauxqs=fauxqs),
                                      tmp_path / f"{lin.kind}-after-g2-{i}")
            continue
        lost = lin.acked - got
        stats["cycles"] += 1
        stats["acknowledged"] += len(acked)
        stats["lost"] += len(lost)
        stats["exit_codes_matched"] += matched
        key = f"{exit_mode}/{signal.Signals(sig).name[3:]}"
        stats["by_exit"][key] = stats["by_exit"].get(key, 0) + 1
        if lost or not matched:
            failures.append(f"{what}: exit {rc} (want {want}), {len(lost)} acknowledged writes missing from the "
                            f"replica {sorted(lost)[:5]}; lsinit stderr:\n{run.stderr[-2500:]}\n"
                            f"litestream's errors:\n{_litestream_errors(run)}{_replica_probe(lin, fauxqs)}")
            if len(failures) >= 3:
                break
    stop_ms = stats.pop("stop_to_exit_ms")
    stats["stop_to_exit_ms"] = {"p50": round(rel.percentile(stop_ms, 50)), "max": round(max(stop_ms))}
    stats["seed"] = seed
    stats["seconds"] = round(time.monotonic() - started, 1)
    stats["replica_restores_failing_integrity_check"] = corrupt
    figures(lsinit=stats)
    assert not failures, "\n\n".join(failures)
    assert stats["lost"] == 0 and stats["exit_codes_matched"] == stats["cycles"]
    if corrupt:
        pytest.xfail(f"G2, a Litestream 0.5.17 replica that restores corrupt, {len(corrupt)} time(s) in "
                     f"{stats['cycles']} cycles (each followed by a fresh lineage): {corrupt[0]}")


def _litestream_errors(run):
    return "".join(ln[:400] + "\n" for ln in run.stdout.splitlines() if "level=ERROR" in ln or "level=WARN" in ln)[-3000:]


def _replica_probe(lin, fauxqs):
    """After a failing S3 cycle: can fauxqs itself still store an object? (tells a broken test
    server from an lsinit loss)."""
    if lin.kind != "s3":
        return ""
    try:
        fauxqs.put_object(lin.replica.bucket, "lsinit-probe/object", b"probe")
        stored = fauxqs.get_object(lin.replica.bucket, "lsinit-probe/object") == b"probe"
        fauxqs.delete_object(lin.replica.bucket, "lsinit-probe/object")
        verdict = "fauxqs stores objects fine"
    except AssertionError as e:
        stored, verdict = False, f"fauxqs cannot store an object: {e}"
    tail = ""
    try:
        tail = "".join(fauxqs.log_path.read_text(errors="replace").splitlines(True)[-15:])
    except OSError:
        pass
    return f"replica probe: {verdict} (stored={stored}); fauxqs log tail:\n{tail}"


# ---------------------------------------------------------------- a clean stop with a big WAL

def test_clean_stop_with_a_big_wal_exits_0(lsinit, litestream_bin, tmp_path, figures):
    """The busy writer over a 300 KiB database, stopped with TERM after two
    uploads, exits 0: its WAL then holds more than Litestream's checkpoint
    threshold (1000 pages), and v0.3.13's shutdown sync checkpoints with a
    context it has already cancelled ("checkpoint: mode=PASSIVE err=release read
    lock: context canceled"), exits 1 although every write was uploaded, and
    lsinit reports a failed final sync (75) for a stop that lost nothing."""
    import concurrent.futures

    runs = 12 if SOAK else 3

    def one(i):
        d = tmp_path / f"run{i}"
        replica = rel.make_replica("file", d)
        db = d / "data" / "app.db"
        rel.fill_db(db, 300)
        state = d / "state"
        state.mkdir()
        env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db)
        with rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(db, state, "0", 0)], env, d) as run:
            rel.wait_ready(run, state)
            rel.wait_segments(run, 1)
            run.signal(signal.SIGTERM)
            rc = run.wait(60)
        lost = rel.read_acks(state) - rel.restored_rows(litestream_bin, replica, db, d)
        closing = [ln.split("error=", 1)[-1][:90] for ln in run.stdout.splitlines() if "error closing db" in ln]
        return rc, len(lost), closing

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, range(runs)))
    false_75 = [r for r in results if r[0] == 75 and r[1] == 0]
    figures(runs=runs, exit_codes=[r[0] for r in results], lost=sum(r[1] for r in results),
            false_final_sync_failures=len(false_75), litestream_close_errors=sorted({c for r in results for c in r[2]}))
    assert sum(r[1] for r in results) == 0, results
    assert not false_75, (
        f"LSINIT BUG: {len(false_75)}/{runs} clean stops that lost nothing exited 75 (litestream's Close failed "
        f"after its final upload: {false_75[0][2]}); lsinit should run the final sync once more before "
        f"reporting it failed")
    assert all(r[0] == 0 for r in results), results


# ---------------------------------------------------------------- a stop after the WAL rolled over

@pytest.mark.skipif(rel.LITESTREAM_V05, reason="0.5 has no shadow WAL to roll over (it writes LTX files); "
                    "test_stop_budget.py covers a 4 s grace on 0.5 (docs/litestream-versions.md)")
def test_stop_after_a_wal_rollover_within_a_4s_grace(lsinit, litestream_bin, tmp_path, figures):
    """docs/operations.md suggests LSINIT_GRACE=4s on Fly.io. Once Litestream
    has rolled its shadow WAL to index 1 (any database with ~4 MB written since
    its last snapshot), the shim never sees litestream "idle": it compares
    litestream_replica_wal_offset (an offset in the current shadow-WAL file)
    with litestream_shadow_wal_size, which v0.3.13 reports as the total size
    of ALL the generation's shadow-WAL files. It waits its full 5 s, so a 4 s
    grace runs out: lsinit SIGKILLs litestream before its final sync and exits
    75 instead of the app's code, for a stop that needed ~1 s."""
    import concurrent.futures

    def one(i):
        d = tmp_path / f"run{i}"
        replica = rel.make_replica("file", d)
        db = d / "data" / "app.db"
        state = d / "state"
        state.mkdir(parents=True)
        env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db, LSINIT_GRACE="4s")
        with rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(db, state, "143", 0)], env, d) as run:
            rel.wait_ready(run, state)
            rel.wait_for(lambda: "/00000001:" in run.stdout, 60, "litestream to roll its shadow WAL to index 1")
            time.sleep(0.3)
            t0 = time.monotonic()
            run.signal(signal.SIGTERM)
            rc = run.wait(60)
            took = time.monotonic() - t0
        lost = rel.read_acks(state) - rel.restored_rows(litestream_bin, replica, db, d)
        warned = any("has not caught up" in ln for ln in run.lsinit_lines())
        return rc, round(took, 2), len(lost), warned

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, range(2)))
    figures(runs=[{"exit": r[0], "stop_s": r[1], "lost": r[2], "shim_warned": r[3]} for r in results])
    assert sum(r[2] for r in results) == 0, results
    assert all(r[0] == 143 and r[1] < 3.5 and not r[3] for r in results), (
        f"LSINIT BUG: after a shadow-WAL rollover a TERM with LSINIT_GRACE=4s gives (exit, seconds, lost, shim "
        f"warned) {results}: the shim waits its full 5 s for a catch-up it cannot see "
        f"(litestream_shadow_wal_size sums every shadow-WAL file of the generation)")
