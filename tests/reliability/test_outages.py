"""Suite 2: replica outages.

* fauxqs (S3) stopped for 5 s (LSINIT_SOAK=1: 30 s) while the app writes:
  lsinit never exits, /healthz shows the replica falling behind (the lag's
  observedValue) and catching up again, and after recovery a stop loses
  nothing acknowledged.
* fauxqs stopped right before the stop signal: the final sync cannot run,
  lsinit exits 75 with its documented error line, and the local database is
  intact (integrity_check ok, every acknowledged row present).
* SFTP logins refused (and open sessions dropped) for 3 s (long: 30 s):
  no crash, replication resumes, nothing acknowledged lost.
"""
import signal
import time

import pytest

from support import health as hh
from support import reliability as rel
from support.reliability import SOAK
from support.waiting import free_port

pytestmark = pytest.mark.usefixtures("require_root")

OUTAGE_S = 30 if SOAK else 5
REFUSED_S = 30 if SOAK else 3


def lag_check(port, db):
    """(overall status, replication:lag check of db) from /healthz."""
    status, doc = hh.healthz(port)
    checks = [c for c in doc["checks"]["replication:lag"] if c["componentId"] == str(db)]
    assert len(checks) == 1, doc
    return doc["status"], checks[0]


def test_s3_outage_while_writing(lsinit, litestream_bin, fauxqs, tmp_path, figures):
    replica = rel.make_replica("s3", tmp_path, fauxqs=fauxqs)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db,
                         LSINIT_METRICS_ADDR=f"127.0.0.1:{free_port()}")
    seen = []
    with rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(db, state, "0", 0)], env, tmp_path) as run:
        port = rel.health_port(run)
        rel.wait_ready(run, state)
        rel.wait_segments(run, 0)
        time.sleep(6 if SOAK else 1.5)  # a scrape of the healthy litestream (1 s after start, then every 5 s)
        before = lag_check(port, db)
        with fauxqs.outage():
            t_down = time.monotonic()
            while time.monotonic() - t_down < OUTAGE_S:
                assert run.proc.poll() is None, f"lsinit exited during the outage:\n{run.stderr}"
                overall, check = lag_check(port, db)
                seen.append((round(time.monotonic() - t_down, 1), overall, check["status"], check["observedValue"]))
                time.sleep(0.5)
            segments_at_recovery = rel.segments(run)
        t_up = time.monotonic()
        rel.wait_segments(run, segments_at_recovery, timeout=60)
        first_upload_s = time.monotonic() - t_up

        # /healthz catches up: the lag falls back under 10 s (two scrapes)
        def caught_up():
            overall, check = lag_check(port, db)
            seen.append((round(time.monotonic() - t_down, 1), overall, check["status"], check["observedValue"]))
            return check["observedValue"] <= 10 and check["status"] == "pass"
        try:
            rel.wait_for(caught_up, 30 if SOAK else 15, "lag", interval=0.5)
            healthz_recovered_s = round(time.monotonic() - t_up, 2)
        except AssertionError:
            healthz_recovered_s = None
        assert run.proc.poll() is None, run.stderr
        run.signal(signal.SIGTERM)
        rc = run.wait(60)
    assert rc == 0, run.stderr
    acked = rel.read_acks(state)
    got = rel.restored_rows(litestream_bin, replica, db, tmp_path)
    lost = acked - got
    max_lag = max(v for _, _, _, v in seen)
    statuses = sorted({s for _, s, _, _ in seen} | {s for _, _, s, _ in seen})
    figures(outage_s=OUTAGE_S, acknowledged=len(acked), lost=len(lost), max_lag_observed_s=max_lag,
            healthz_statuses_seen=statuses, before=before[1]["output"],
            first_upload_after_recovery_s=round(first_upload_s, 2),
            healthz_caught_up_after_s=healthz_recovered_s, lag_samples=seen[::4],
            sync_errors_reported=[c for c in run.stdout.splitlines() if "level=ERROR" in c][:2])
    assert lost == set(), f"{len(lost)} acknowledged writes lost"
    assert max_lag >= min(OUTAGE_S, 5) - 1, f"/healthz never showed the replica behind during the outage: {seen}"
    assert healthz_recovered_s is not None, (
        f"LSINIT BUG: /healthz replication lag never came back under 10 s after the replica recovered (it only "
        f"resets when a scrape sees the replica exactly at the local shadow-WAL end, which a busy app never "
        f"allows); samples (s since outage, overall, check, lag): {seen[-6:]}")


def test_healthz_lag_of_a_busy_healthy_replica(lsinit, litestream_bin, tmp_path, figures):
    """A healthy file replica under continuous writes: the lag /healthz and
    /metrics report stays small (scrapes every 5 s) instead of growing with
    uptime; it would turn /healthz to warn after 60 s and to 503 after 300 s."""
    duration = 60 if SOAK else 12
    replica = rel.make_replica("file", tmp_path)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db)
    samples = []
    with rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(db, state, "0", 0)], env, tmp_path) as run:
        port = rel.health_port(run)
        rel.wait_ready(run, state)
        t0 = time.monotonic()
        while time.monotonic() - t0 < duration:
            time.sleep(1)
            overall, check = lag_check(port, db)
            metric = hh.metric(hh.metrics(port), "lsinit_replication_lag_seconds", db=db)
            samples.append((round(time.monotonic() - t0), check["observedValue"], metric, check["output"]))
        run.signal(signal.SIGTERM)
        rc = run.wait(60)
    assert rc == 0, run.stderr
    max_lag = max(s[1] for s in samples)
    figures(seconds=duration, max_lag_s=max_lag, samples=samples[::5])
    assert max_lag <= 9 + (3 if SOAK else 0), (
        f"LSINIT BUG: a healthy, busy replica is reported {max_lag} s behind after {duration} s (lag grows with "
        f"uptime: scraper.c only counts the replica as caught up when litestream_replica_wal_offset >= "
        f"litestream_shadow_wal_size at the instant of a scrape); samples (t, /healthz, /metrics, output): {samples}")


def test_replica_down_at_stop_exits_75(lsinit, litestream_bin, fauxqs, tmp_path, figures):
    replica = rel.make_replica("s3", tmp_path, fauxqs=fauxqs)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db, LSINIT_GRACE="20s")
    final_sync_seen = []
    with rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(db, state, "0", 0)], env, tmp_path) as run:
        rel.wait_ready(run, state)
        rel.wait_segments(run, 0)
        port = rel.health_port(run)
        time.sleep(0.5)
        fauxqs.stop()
        try:
            t0 = time.monotonic()
            run.signal(signal.SIGTERM)
            # While it still answers, /healthz says where the final sync stands (issue: a stop that
            # cannot finish its final sync says why).
            while run.proc.poll() is None and time.monotonic() - t0 < 60:
                try:
                    _, doc = hh.healthz(port)
                    check = doc["checks"].get("replication:final-sync", [{}])[0]
                    if check.get("output") and check["output"] not in final_sync_seen:
                        final_sync_seen.append(check["output"])
                except (OSError, ValueError, KeyError, AssertionError):
                    pass
                time.sleep(0.05)
            rc = run.wait(60)
            took = time.monotonic() - t0
        finally:
            fauxqs.start()
    errors = run.lsinit_lines("ERROR")
    documented = ("the final sync failed", "final sync did not finish within LSINIT_GRACE")
    acked = rel.read_acks(state)
    integrity, local = rel.read_soak_rows(db)
    figures(exit_code=rc, seconds_to_exit=round(took, 1), error_lines=errors, local_integrity=integrity,
            acknowledged=len(acked), missing_locally=len(acked - local), healthz_final_sync=final_sync_seen)
    assert rc == 75, f"exit {rc}, expected 75 (final sync failed):\n{run.stderr}"
    assert final_sync_seen, "/healthz never showed replication:final-sync during the stop"
    assert any(o.startswith(("retrying", "failed")) for o in final_sync_seen), \
        f"/healthz did not say the final sync was failing: {final_sync_seen}"
    assert any(d in e for e in errors for d in documented), f"no documented error line:\n{run.stderr}"
    assert integrity == "ok"
    assert acked <= local, f"{len(acked - local)} acknowledged rows missing from the local database"


def test_sftp_logins_refused(lsinit, litestream_bin, sftp_server, tmp_path, figures):
    replica = rel.make_replica("sftp", tmp_path, sftp=sftp_server)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db)
    with rel.LsinitRun(lsinit, ["--", *rel.writer_cmd(db, state, "0", 0)], env, tmp_path) as run:
        rel.wait_ready(run, state)
        rel.wait_segments(run, 0)
        with sftp_server.logins_refused():
            sftp_server.stop()   # drop litestream's open session: it has to log in again
            sftp_server.start()
            t_down = time.monotonic()
            while time.monotonic() - t_down < REFUSED_S:
                assert run.proc.poll() is None, f"lsinit exited while logins were refused:\n{run.stderr}"
                time.sleep(0.2)
            at_recovery = rel.segments(run)
        t_up = time.monotonic()
        try:
            rel.wait_segments(run, at_recovery, timeout=120 if SOAK else 8)
            recovered = round(time.monotonic() - t_up, 2)
        except AssertionError:
            recovered = None
        alive = run.proc.poll() is None
        run.signal(signal.SIGTERM)
        rc = run.wait(60)
    acked = rel.read_acks(state)
    got = rel.restored_rows(litestream_bin, replica, db, tmp_path)
    failed_logins = sum(1 for ln in run.stdout.splitlines() if "unable to authenticate" in ln or "handshake" in ln)
    figures(refused_s=REFUSED_S, first_upload_after_recovery_s=recovered, exit_code=rc, acknowledged=len(acked),
            lost=len(acked - got), litestream_auth_errors_logged=failed_logins)
    assert alive, "lsinit exited while logins were refused"
    if recovered is None:
        # What lsinit guarantees when the replica never comes back: an honest exit code and an intact
        # local database holding every acknowledged write.
        integrity, local = rel.read_soak_rows(db)
        assert rc == 75, f"replication never resumed, yet lsinit exited {rc} instead of 75:\n{run.stderr}"
        assert integrity == "ok" and acked <= local, "the local database lost acknowledged writes"
        pytest.xfail(
            "G1 (docs/reliability.md): replication never resumed after sshd dropped litestream's session: "
            "litestream v0.3.13's SFTP client hangs in its upload with no error (no connection left, metrics "
            "still answer, so lsinit's 30 s metrics-hang check never fires); a litestream restart recovers in "
            "~2 s. lsinit exited 75 with the local database intact")
    assert rc == 0, run.stderr
    assert acked <= got, f"{len(acked - got)} acknowledged writes lost"
