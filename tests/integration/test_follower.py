"""Read-only followers (issue #14, LSINIT_ROLE=follower): real Litestream 0.5.17, S3 on moto (loopback),
several lsinit instances on one machine.

A primary runs tests/integration/follow_apps.py's writer (a row every 20 ms, each acknowledged one
logged with its time); each follower runs its reader, which keeps one connection open like a web app,
checks every read for wholeness and runs quick_check. A follower refuses Litestream 0.3.
"""
import contextlib
import hashlib
import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest

from support import health as hh
from support import reliability as rel
from support.litestream import LITESTREAM_V05
from support.lsinit_run import LsinitRun, lsinit_env, wait_ready
from support.replicas import Replica
from support.servers import _TCP_FORWARD
from support.waiting import free_port, wait_for

pytestmark = pytest.mark.usefixtures("require_root")
APPS = str(pathlib.Path(__file__).with_name("follow_apps.py"))
MAX_LAG = "5s"
needs_v05 = pytest.mark.skipif(not LITESTREAM_V05, reason="follow mode (restore -f) exists from Litestream 0.5.9; "
                                                          "the 0.3 refusal is test_follower_refuses_litestream_03")


def moto_replica(moto, endpoint=None):
    bucket = moto.new_bucket("follow")
    name = uuid.uuid4().hex[:10]
    env = {"LITESTREAM_REPLICA_ENDPOINT": endpoint or moto.endpoint,
           "LITESTREAM_ACCESS_KEY_ID": moto.access_key_id,
           "LITESTREAM_SECRET_ACCESS_KEY": moto.secret_access_key}
    return Replica("s3", f"s3://{bucket}/{name}", env, moto.litestream_replica(bucket, name), moto.aws_env,
                   bucket=bucket, prefix=name, s3=moto)


def with_endpoint(replica, endpoint):
    env = dict(replica.env, LITESTREAM_REPLICA_ENDPOINT=endpoint)
    return Replica(replica.kind, replica.url, env, replica.ls_replica, replica.ls_env, bucket=replica.bucket,
                   prefix=replica.prefix, s3=replica.s3)


def app(kind, db, state):
    return ["--", sys.executable, APPS, kind, str(db), str(state)]


def start_primary(lsinit_bin, litestream_bin, replica, tmp_path):
    db, state = tmp_path / "p" / "app.db", tmp_path / "p-state"
    env = lsinit_env(rel.base_env(litestream_bin), replica, db)
    run = LsinitRun(lsinit_bin, app("writer", db, state), env, tmp_path / "p-run")
    wait_ready(run, state)
    return run, state


def start_follower(lsinit_bin, litestream_bin, replica, tmp_path, name, **extra):
    db, state = tmp_path / name / "app.db", tmp_path / f"{name}-state"
    env = lsinit_env(rel.base_env(litestream_bin, **{"LSINIT_ROLE": "follower", "LSINIT_FOLLOW_MAX_LAG": MAX_LAG,
                                                     **extra}), replica, db)
    run = LsinitRun(lsinit_bin, app("reader", db, state), env, tmp_path / f"{name}-run")
    return run, state, db


def acks(state):
    out = {}
    for line in (pathlib.Path(state) / "acks").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[int(parts[0])] = float(parts[1])
    return out


def last_committed(db):
    """The writer's last committed seq, read from its database: its ack line may be missing (the writer can be
    stopped between a commit and the ack), and a clean stop's final sync puts that row in the replica."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return con.execute("SELECT max(seq) FROM w").fetchone()[0]


def seen(state):
    out = []
    p = pathlib.Path(state) / "seen"
    for line in (p.read_text().splitlines() if p.exists() else []):
        t, m = line.split()
        if m != "None":
            out.append((float(t), int(m)))
    return out


def errors(state):
    p = pathlib.Path(state) / "errors"
    return p.read_text() if p.exists() else ""


def visibility_lags(ack, seen_rows):
    """For every acknowledged seq the reader could have seen: when it first saw it (or a later one) minus the
    ack time, in seconds."""
    lags = []
    for seq, t_ack in ack.items():
        first = next((t for t, m in seen_rows if m >= seq), None)
        if first is not None:
            lags.append(max(0.0, first - t_ack))
    return lags


def ready(run):
    return hh.request(hh.health_port(run), "/readyz").status == 200


def follow_pid(run):
    out = subprocess.run(["pgrep", "-f", f"restore -config .* -f .*-o {run.env['LSINIT_DB']}.lsinit-follow"],
                         capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


@needs_v05
def test_followers_converge_and_see_writes_within_the_lag_bound(lsinit_bin, litestream_bin, moto, tmp_path):
    """One primary + 3 followers under a steady write load: every follower's app sees every acknowledged write
    within LSINIT_FOLLOW_MAX_LAG (p50/p99 printed), never reads a half-applied transaction, and each copy ends
    equal to the primary's data once the writes stop."""
    replica = moto_replica(moto)
    primary, p_state = start_primary(lsinit_bin, litestream_bin, replica, tmp_path)
    followers = [start_follower(lsinit_bin, litestream_bin, replica, tmp_path, f"f{i}") for i in range(3)]
    try:
        for run, state, _ in followers:
            wait_ready(run, state, timeout=60)
        wait_for(lambda: all(ready(r) for r, _, _ in followers), 30, "every follower ready (within the lag)")
        time.sleep(15)
        primary.signal(signal.SIGTERM)
        assert primary.wait(30) == 143, primary.stderr
        ack = acks(p_state)
        # The primary's own database is the truth: the writer may commit a row and be stopped before it
        # logs the ack, and that row is replicated too.
        con = sqlite3.connect(f"file:{tmp_path / 'p' / 'app.db'}?mode=ro", uri=True)
        want = {r[0] for r in con.execute("SELECT seq FROM w")}
        con.close()
        assert set(ack) <= want
        last = max(want)
        for run, state, _ in followers:
            wait_for(lambda s=state: seen(s) and seen(s)[-1][1] == last, 20,
                     lambda r=run: f"the follower to reach seq {last}:\n{r.stderr[-2000:]}")
        for run, state, db in followers:
            lags = visibility_lags(ack, seen(state))
            p50, p99 = rel.percentile(lags, 50), rel.percentile(lags, 99)
            print(f"{db}: {len(lags)} writes, visible after p50 {p50:.3f} s, p99 {p99:.3f} s, max {max(lags):.3f} s")
            assert p99 < 5.0, f"p99 {p99:.3f} s is over LSINIT_FOLLOW_MAX_LAG"
            assert errors(state) == "", errors(state)
            _, doc = hh.healthz(hh.health_port(run))
            check = doc["checks"]["follow:lag"][0]
            assert check["appliedTxid"] == check["replicaTxid"] or check["status"] == "pass", check
            samples = hh.metrics(hh.health_port(run))
            assert hh.metric(samples, "lsinit_follow_publishes_total", db=str(db)) > 10
            assert "uploaded" not in run.stderr and "lease" not in run.stderr.lower(), run.stderr[-2000:]
        # the copies hold exactly the primary's rows
        for _, _, db in followers:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            got = {r[0] for r in con.execute("SELECT seq FROM w")}
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            con.close()
            assert got == want, f"{db}: missing {sorted(want - got)[:5]}, extra {sorted(got - want)[:5]}"
    finally:
        primary.close()
        for run, _, _ in followers:
            run.close()
    assert not [k for k in replica.keys() if k.endswith("lock.json")], "the followers took no lease"


@needs_v05
def test_a_write_through_a_follower_fails_loudly_and_the_copy_is_unchanged(lsinit_bin, litestream_bin, moto,
                                                                           tmp_path):
    """The app's INSERT fails with SQLite's "attempt to write a readonly database" (lsinit runs as root here:
    the app has no CAP_DAC_OVERRIDE, the copy is 0444 and owned by nobody); the copy's bytes do not change."""
    replica = moto_replica(moto)
    primary, p_state = start_primary(lsinit_bin, litestream_bin, replica, tmp_path)
    time.sleep(1)
    primary.signal(signal.SIGTERM)
    assert primary.wait(30) == 143, primary.stderr
    run, state, db = start_follower(lsinit_bin, litestream_bin, replica, tmp_path, "f")
    try:
        wait_ready(run, state, timeout=60)
        last = last_committed(tmp_path / "p" / "app.db")  # the primary's: a row may lack its ack
        wait_for(lambda: seen(state) and seen(state)[-1][1] == last, 20, "the follower to catch up")
        before = hashlib.sha256(db.read_bytes()).hexdigest()
        st = os.stat(db)
        assert oct(st.st_mode & 0o777) == "0o444" and st.st_uid == 65534, (oct(st.st_mode), st.st_uid)
        (state / "try-write").touch()
        result = wait_for(lambda: (state / "write-result").exists() and (state / "write-result").read_text(), 10,
                          "the reader's write attempt")
        assert "readonly" in result, result
        time.sleep(1)
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before
        assert not pathlib.Path(f"{db}-journal").exists()
        wait_for(lambda: ready(run), 15, "the follower ready")
    finally:
        run.close()


@needs_v05
def test_killed_follow_process_is_restarted_and_reported(lsinit_bin, litestream_bin, moto, tmp_path):
    """SIGKILL to `litestream restore -f`: the keeper notices, restarts it from scratch, /metrics counts it,
    /healthz names it, and the app (still running, never restarted) sees new writes again, all reads whole."""
    replica = moto_replica(moto)
    primary, p_state = start_primary(lsinit_bin, litestream_bin, replica, tmp_path)
    run, state, db = start_follower(lsinit_bin, litestream_bin, replica, tmp_path, "f")
    try:
        app_pid = wait_ready(run, state, timeout=60)
        wait_for(lambda: ready(run), 30, "the follower ready")
        old = wait_for(lambda: follow_pid(run), 10, "the follow process")
        os.kill(old, signal.SIGKILL)
        port = hh.health_port(run)
        wait_for(lambda: hh.metric(hh.metrics(port), "lsinit_follow_restarts_total") >= 1, 15, lambda: run.stderr)
        assert "restore -f exited" in run.stderr, run.stderr[-2000:]
        _, doc = hh.healthz(port)
        assert "exited" in doc["checks"]["follow:lag"][0].get("lastEvent", ""), doc
        new = wait_for(lambda: (p := follow_pid(run)) and p != old and p, 15, "a new follow process")
        assert new != old
        mark = max(acks(p_state))
        wait_for(lambda: seen(state) and seen(state)[-1][1] > mark, 30, lambda: run.stderr[-2000:])
        wait_for(lambda: ready(run), 30, "ready again")
        assert int((state / "ready").read_text()) == app_pid, "the app was not restarted"
        assert errors(state) == "", errors(state)
    finally:
        primary.close()
        run.close()


@needs_v05
def test_replica_unreachable_for_a_follower_is_reported_then_repaired(lsinit_bin, litestream_bin, moto, tmp_path):
    """The follower's own path to S3 is cut for 30 s while the primary goes on writing: /readyz turns 503
    within LSINIT_FOLLOW_MAX_LAG (+ one listing), /healthz says the replica cannot be listed, the app keeps
    reading its last whole copy; after the outage the copy catches up and /readyz is 200 again."""
    replica = moto_replica(moto)
    fport = free_port()
    script = tmp_path / "forward.py"
    script.write_text(_TCP_FORWARD)

    def forward():
        p = subprocess.Popen([sys.executable, "-I", str(script), str(fport), str(moto.port)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        wait_for(lambda: subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{fport}"],
                                        capture_output=True).returncode == 0, 10, "the follower's forwarder")
        return p

    fwd = forward()
    primary, p_state = start_primary(lsinit_bin, litestream_bin, replica, tmp_path)
    run, state, db = start_follower(lsinit_bin, litestream_bin, with_endpoint(replica, f"http://127.0.0.1:{fport}"),
                                    tmp_path, "f")
    try:
        wait_ready(run, state, timeout=60)
        wait_for(lambda: ready(run), 30, "the follower ready")
        port = hh.health_port(run)
        os.killpg(fwd.pid, signal.SIGKILL)
        fwd.wait()
        t0 = time.monotonic()
        wait_for(lambda: not ready(run), 15, "/readyz to turn 503")
        noticed = time.monotonic() - t0
        print(f"outage noticed by /readyz after {noticed:.1f} s (LSINIT_FOLLOW_MAX_LAG={MAX_LAG})")
        r = hh.request(port, "/readyz")
        assert r.status == 503 and "LSINIT_FOLLOW_MAX_LAG" in r.text, r.text
        wait_for(lambda: "cannot be listed" in hh.request(port, "/healthz").text, 15, "healthz to say why")
        assert hh.request(port, "/livez").status == 200
        time.sleep(max(0.0, 30 - (time.monotonic() - t0)))
        assert errors(state) == "", errors(state)
        fwd = forward()
        mark = max(acks(p_state))
        wait_for(lambda: seen(state) and seen(state)[-1][1] > mark, 60, lambda: run.stderr[-2000:])
        wait_for(lambda: ready(run), 30, "ready again after the outage")
        assert errors(state) == "", errors(state)
    finally:
        primary.close()
        run.close()
        if fwd.poll() is None:
            os.killpg(fwd.pid, signal.SIGKILL)


@pytest.mark.skipif(LITESTREAM_V05, reason="the refusal is for Litestream before 0.5.9")
def test_follower_refuses_litestream_03(lsinit_bin, litestream_bin, tmp_path):
    """LSINIT_ROLE=follower on Litestream 0.3.13: one line naming the version that has follow mode, exit 78."""
    db = tmp_path / "app.db"
    env = lsinit_env(rel.base_env(litestream_bin, LSINIT_ROLE="follower"), rel.make_replica("file", tmp_path), db)
    r = subprocess.run([lsinit_bin, "--", "true"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 78, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "ERROR" in ln]
    assert len(lines) == 1 and "0.5.9" in lines[0] and "LSINIT_ROLE=follower" in lines[0], r.stderr
    assert not db.exists(), "nothing created"


@needs_v05
def test_example_app_reads_on_a_follower_and_redirects_writes(lsinit_bin, litestream_bin, moto, tmp_path):
    """docker/python-app on a follower: GET /items serves the primary's rows; POST /items answers 307 to
    PRIMARY_URL (the write goes to the primary, docs/scaling.md) and nothing is written on the follower."""
    import http.client
    import json
    replica = moto_replica(moto)
    example = str(pathlib.Path(__file__).resolve().parents[2] / "docker" / "python-app" / "app.py")
    p_db, f_db = tmp_path / "p" / "app.db", tmp_path / "f" / "app.db"
    p_port, f_port = free_port(), free_port()
    p_env = lsinit_env(rel.base_env(litestream_bin, HOST="127.0.0.1", PORT=p_port, DB_PATH=p_db), replica, p_db)
    primary = LsinitRun(lsinit_bin, ["--", sys.executable, example], p_env, tmp_path / "p-run")
    f_env = lsinit_env(rel.base_env(litestream_bin, HOST="127.0.0.1", PORT=f_port, DB_PATH=f_db,
                                    LSINIT_ROLE="follower", PRIMARY_URL=f"http://127.0.0.1:{p_port}"), replica, f_db)

    def call(port, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request(method, path, body=body)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def answers(port):
        try:
            return call(port, "GET", "/count")[0] == 200
        except OSError:
            return False

    follower = None
    try:
        wait_for(lambda: answers(p_port), 30, lambda: primary.stderr[-2000:])
        for i in range(5):
            assert call(p_port, "POST", "/items", f"row {i}".encode())[0] == 201
        follower = LsinitRun(lsinit_bin, ["--", sys.executable, example], f_env, tmp_path / "f-run")
        wait_for(lambda: answers(f_port), 60, lambda: follower.stderr[-2000:])
        wait_for(lambda: json.loads(call(f_port, "GET", "/count")[2])["count"] == 5, 20, "the follower's rows")
        status, headers, _ = call(f_port, "POST", "/items", b"through the follower")
        assert status == 307 and headers["Location"] == f"http://127.0.0.1:{p_port}/items", (status, headers)
        assert call(p_port, "POST", "/items", b"to the primary")[0] == 201
        wait_for(lambda: json.loads(call(f_port, "GET", "/count")[2])["count"] == 6, 20, "the redirected write")
    finally:
        primary.close()
        if follower is not None:
            follower.close()


# ---------------------------------------------------------------- standby

TTL = "6s"
TTL_S = 6


def start_instance(lsinit_bin, litestream_bin, replica, tmp_path, name, role):
    """An instance as PID 1 of its own PID namespace (SIGKILL takes everything in it), running follow_apps's
    `app`: the writer as the primary, the reader while it stands by."""
    db, state = tmp_path / name / "app.db", tmp_path / f"{name}-state"
    env = lsinit_env(rel.base_env(litestream_bin, LSINIT_ROLE=role, LSINIT_LEASE_TTL=TTL, LSINIT_GRACE="5s",
                                  FOLLOW_APP_LSINIT=os.path.realpath(lsinit_bin)), replica, db)
    run = LsinitRun(lsinit_bin, app("app", db, state), env, tmp_path / f"{name}-run", pid1=True)
    return run, state, db


def roles(state):
    p = pathlib.Path(state) / "roles"
    return [ln.split()[1] for ln in p.read_text().splitlines()] if p.exists() else []


def durable(state):
    p = pathlib.Path(state) / "durable"
    return {int(x) for x in p.read_text().split()} if p.exists() else set()


def lease_generation(replica):
    body = replica.s3.get_object(replica.bucket, f"{replica.prefix}/lock.json")
    return json.loads(body)["generation"] if body is not None else None


# Takeovers in a row: 4 in the test suite (CI's time budget), 10 with LSINIT_SOAK=1 (scripts/soak).
TAKEOVERS = 10 if os.environ.get("LSINIT_SOAK") == "1" else 4


@needs_v05
def test_standby_takes_over_again_and_again_without_losing_a_durable_write(lsinit_bin, litestream_bin, moto,
                                                                            tmp_path):
    """A primary and a standby; the primary is SIGKILLed (its whole namespace) TAKEOVERS times, each time with a
    fresh standby behind the one that takes over. Each takeover: within TTL + catch-up + start, the lease's generation
    one higher (never two holders), the new primary's app a writer. Every write the replica had confirmed
    (`lsinit sync -wait` returned) before a kill is in the final restore; the history restores whole."""
    replica = moto_replica(moto)
    primary, p_state, _ = start_instance(lsinit_bin, litestream_bin, replica, tmp_path, "i0", "primary")
    runs, states = [primary], [p_state]
    times = []
    try:
        wait_for(lambda: durable(p_state), 30, lambda: primary.stderr[-2000:])
        for cycle in range(1, TAKEOVERS + 1):
            standby, s_state, _ = start_instance(lsinit_bin, litestream_bin, replica, tmp_path, f"i{cycle}",
                                                 "standby")
            runs.append(standby)
            states.append(s_state)
            wait_for(lambda s=standby: "standing by" in s.stderr, 60, lambda s=standby: s.stderr[-2000:])
            wait_for(lambda s=s_state: roles(s) == ["reader"], 30, "the standby's read-only app")
            gen = lease_generation(replica)
            time.sleep(0.5)
            os.kill(primary.pid, signal.SIGKILL)
            primary.proc.wait(10)
            killed = time.monotonic()
            wait_for(lambda s=s_state: roles(s)[-1:] == ["writer"] and durable(s), TTL_S * 4,
                     lambda s=standby: s.stderr[-3000:])
            times.append(time.monotonic() - killed)
            assert "took over" in standby.stderr and "handing over" in standby.stderr, standby.stderr[-3000:]
            assert lease_generation(replica) == gen + 1, "one new holder per takeover"
            primary, p_state = standby, s_state
        print(f"failover (SIGKILL -> the new primary's first durable write): median "
              f"{rel.percentile(times, 50):.1f} s, max {max(times):.1f} s over {len(times)} (TTL {TTL})")
        primary.signal(signal.SIGTERM)
        assert primary.wait(30) in (0, 143), primary.stderr[-2000:]
    finally:
        for r in runs:
            r.close()
    want = set().union(*(durable(s) for s in states))
    got = {seq for seq, in _restored_rows(litestream_bin, replica, tmp_path)}
    lost = sorted(want - got)
    assert not lost, f"{len(lost)} durable writes lost: {lost[:10]}"
    committed = set().union(*(set(acks(s)) for s in states if (s / "acks").exists()))
    print(f"{len(want)} durable writes, all in the replica; {len(committed - got)} committed but never uploaded "
          f"before a SIGKILL (Litestream replicates asynchronously)")


def _restored_rows(litestream_bin, replica, tmp_path, columns="seq"):
    """The replica restored with a plain `litestream restore` into a fresh folder (integrity checked): the
    writer's rows, as tuples of ``columns``."""
    out = tmp_path / f"restored-{uuid.uuid4().hex[:6]}" / "r.db"
    out.parent.mkdir()
    rc, err = rel.litestream_restore(litestream_bin, replica, tmp_path / "x" / "app.db", out, tmp_path)
    assert rc == 0, err
    con = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return con.execute(f"SELECT {columns} FROM w").fetchall()
    finally:
        con.close()


@needs_v05
def test_partitioned_primary_is_replaced_and_its_later_writes_never_reach_the_replica(lsinit_bin, litestream_bin,
                                                                                        moto, tmp_path):
    """The primary loses S3 (its private path to moto is cut) while it runs: it cannot renew its lease, stops
    uploading and exits 76; the standby takes over once the lease is stale; the rows the old primary's app
    committed after the cut are in no restore of the replica, while every write confirmed durable before it,
    and the new primary's, are."""
    replica = moto_replica(moto)
    fport = free_port()
    script = tmp_path / "forward.py"
    script.write_text(_TCP_FORWARD)
    fwd = subprocess.Popen([sys.executable, "-I", str(script), str(fport), str(moto.port)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    wait_for(lambda: subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{fport}"],
                                    capture_output=True).returncode == 0, 10, "the primary's forwarder")
    a, a_state, _ = start_instance(lsinit_bin, litestream_bin, with_endpoint(replica, f"http://127.0.0.1:{fport}"),
                                   tmp_path, "a", "primary")
    b, b_state, _ = start_instance(lsinit_bin, litestream_bin, replica, tmp_path, "b", "standby")
    try:
        wait_for(lambda: durable(a_state), 30, lambda: a.stderr[-2000:])
        wait_for(lambda: "standing by" in b.stderr, 60, lambda: b.stderr[-2000:])
        time.sleep(1)
        before = durable(a_state)
        os.killpg(fwd.pid, signal.SIGKILL)  # the partition: connections drop, new ones are refused
        fwd.wait()
        cut = time.time()
        assert a.wait(TTL_S * 4) == 76, a.stderr[-3000:]
        assert "lease" in a.stderr and "lost" in a.stderr, a.stderr[-3000:]
        wait_for(lambda: roles(b_state)[-1:] == ["writer"] and durable(b_state), TTL_S * 4, lambda: b.stderr[-3000:])
        after_cut = {(s, t) for s, t in acks(a_state).items() if t > cut + 0.5}
        assert after_cut, "the old primary's app went on committing locally after the cut"
        time.sleep(2)
        b.signal(signal.SIGTERM)
        assert b.wait(30) in (0, 143), b.stderr[-2000:]
    finally:
        a.close()
        b.close()
        if fwd.poll() is None:
            os.killpg(fwd.pid, signal.SIGKILL)
    rows = {(s, round(t, 6)) for s, t in _restored_rows(litestream_bin, replica, tmp_path, "seq, t")}
    seqs = {s for s, _ in rows}
    assert before <= seqs, f"durable writes lost: {sorted(before - seqs)[:10]}"
    assert durable(b_state) <= seqs
    leaked = {(s, round(t, 6)) for s, t in after_cut} & rows
    assert not leaked, f"the old primary's writes after the cut reached the replica: {sorted(leaked)[:5]}"
    print(f"{len(after_cut)} rows committed by the partitioned primary after the cut: none in the replica")


@needs_v05
def test_a_follower_that_stops_advancing_is_rebuilt_without_a_half_written_copy(lsinit_bin, litestream_bin, moto,
                                                                              tmp_path):
    """The follow process stays alive but applies nothing while the replica moves on — what a follower whose
    position was pruned from the replica's history looks like from outside (Litestream 0.5.17 then logs an
    error every poll and never exits). Here it is frozen with SIGSTOP. /readyz turns 503 once the lag passes
    LSINIT_FOLLOW_MAX_LAG (3s); after 3 x that (at least 10 s) without progress lsinit kills it and rebuilds
    the copy from scratch; the app, never restarted, reads whole transactions throughout and catches up."""
    replica = moto_replica(moto)
    primary, p_state = start_primary(lsinit_bin, litestream_bin, replica, tmp_path)
    run, state, db = start_follower(lsinit_bin, litestream_bin, replica, tmp_path, "f", LSINIT_FOLLOW_MAX_LAG="3s")
    try:
        app_pid = wait_ready(run, state, timeout=60)
        wait_for(lambda: ready(run), 30, "the follower ready")
        frozen = wait_for(lambda: follow_pid(run), 10, "the follow process")
        os.kill(frozen, signal.SIGSTOP)
        t0 = time.monotonic()
        wait_for(lambda: not ready(run), 15, "/readyz 503 while the copy falls behind")
        wait_for(lambda: "rebuilding its copy from scratch" in run.stderr, 30, lambda: run.stderr[-3000:])
        took = time.monotonic() - t0
        print(f"frozen follower: rebuilt after {took:.1f} s")
        mark = max(acks(p_state))
        wait_for(lambda: seen(state) and seen(state)[-1][1] > mark, 30, lambda: run.stderr[-2000:])
        wait_for(lambda: ready(run), 30, "ready again after the rebuild")
        assert follow_pid(run) not in (None, frozen)
        assert int((state / "ready").read_text()) == app_pid, "the app was not restarted"
        assert errors(state) == "", errors(state)
        assert hh.metric(hh.metrics(hh.health_port(run)), "lsinit_follow_restarts_total") >= 1
    finally:
        primary.close()
        run.close()


# The behind-the-replica check compares Litestream 0.5 transaction IDs (its local ltx/0 against the replica's
# LTX names); 0.3 replicas hold generations of WAL segments, with no position to compare, and lsinit skips it.
needs_v05_positions = pytest.mark.skipif(not LITESTREAM_V05, reason="the behind-the-replica check compares "
                                         "Litestream 0.5 TXIDs; 0.3 has no such position and lsinit skips the check")


@needs_v05_positions
@pytest.mark.parametrize("kind", ["file", "s3"])
def test_a_primary_whose_database_is_behind_the_replica_keeps_it_aside_and_restores(lsinit_bin, litestream_bin,
                                                                                  kind, request, tmp_path):
    """A primary stops cleanly (its lease released); another instance becomes the primary and writes; the
    first one starts again on its old database. Its own Litestream position is behind the replica's newest
    transaction: lsinit keeps that database aside (DB.behind-<txid>-<time>, with its Litestream state) and
    restores the replica's, instead of letting Litestream replicate the older content as the newest state.
    lsinit lists both kinds itself (a file replica's folders; S3 with signed ListObjectsV2 requests, moto on
    loopback): a listing that missed the newer transactions would let the old database through."""
    replica = rel.make_replica("file", tmp_path) if kind == "file" else moto_replica(request.getfixturevalue("moto"))
    a_db, b_db = tmp_path / "a" / "app.db", tmp_path / "b" / "app.db"

    def primary(db, state):
        env = lsinit_env(rel.base_env(litestream_bin, FOLLOW_APP_LSINIT=os.path.realpath(lsinit_bin),
                                      LSINIT_LOG_LEVEL="debug"), replica, db)
        return LsinitRun(lsinit_bin, app("app", db, state), env, tmp_path / f"{state.name}-run")

    def stop(run):
        run.signal(signal.SIGTERM)
        assert run.wait(30) in (0, 143), run.stderr[-2000:]
        run.close()

    a = primary(a_db, tmp_path / "a1")
    wait_for(lambda: durable(tmp_path / "a1"), 30, lambda: a.stderr[-2000:])
    stop(a)
    b = primary(b_db, tmp_path / "b1")
    wait_for(lambda: len(durable(tmp_path / "b1")) > max(acks(tmp_path / "a1")) + 20, 30, lambda: b.stderr[-2000:])
    stop(b)
    # A must continue after the other instance's last committed row (in the replica after its clean stop).
    b_max = last_committed(b_db)
    assert b_max >= max(acks(tmp_path / "b1"))
    a = primary(a_db, tmp_path / "a2")
    try:
        wait_for(lambda: (tmp_path / "a2" / "acks").exists() and acks(tmp_path / "a2"), 30, lambda: a.stderr[-2000:])
        assert "is behind its replica" in a.stderr, a.stderr[-2000:]
        assert "listing the replica without Litestream" not in a.stderr, a.stderr[-2000:]  # no fallback
        assert f"restored {a_db}" in a.stderr, a.stderr[-2000:]
        first = min(acks(tmp_path / "a2"))
        assert first == b_max + 1, f"continued at {first}, not after the other instance's {b_max}"
        aside = list(a_db.parent.glob("app.db.behind-*"))
        assert any(p.name.endswith("-litestream-state") for p in aside) and any(
            not p.name.endswith(("-litestream-state", "-wal", "-shm")) for p in aside), aside
    finally:
        stop(a)
    got = {seq for seq, in _restored_rows(litestream_bin, replica, tmp_path)}
    assert durable(tmp_path / "b1") <= got


@needs_v05_positions
def test_the_s3_listing_on_boot_reads_every_page(lsinit_bin, litestream_bin, moto, tmp_path):
    """The behind-the-replica check lists an S3 replica with ListObjectsV2, 1,000 keys a page: the newest
    transaction may be on a later page. A clean stop, then 1,100 more level-0 names in the replica (empty
    objects, as if another instance had written that many transactions; their names sort after the real ones,
    so the newest is on the second page): the next start must name the last of them as the replica's newest
    and keep its own database aside — never replicate it over a history it only saw the first page of."""
    replica = moto_replica(moto)
    db, state = tmp_path / "a" / "app.db", tmp_path / "a1"
    env = lsinit_env(rel.base_env(litestream_bin, FOLLOW_APP_LSINIT=os.path.realpath(lsinit_bin)), replica, db)
    run = LsinitRun(lsinit_bin, app("app", db, state), env, tmp_path / "a1-run")
    try:
        wait_for(lambda: durable(state), 30, lambda: run.stderr[-2000:])
        run.signal(signal.SIGTERM)
        assert run.wait(30) in (0, 143), run.stderr[-2000:]
    finally:
        run.close()
    first = 0x100000
    for i in range(1100):
        txid = first + i
        moto.put_object(replica.bucket, f"{replica.prefix}/0000/{txid:016x}-{txid:016x}.ltx", b"")
    newest = first + 1099
    run = LsinitRun(lsinit_bin, app("app", db, tmp_path / "a2"), env, tmp_path / "a2-run")
    try:
        wait_for(lambda: "is behind its replica" in run.stderr, 60, lambda: run.stderr[-2000:])
        assert f"the replica's {newest:016x}" in run.stderr, run.stderr[-2000:]
        assert list(db.parent.glob("app.db.behind-*")), "the old database was not kept aside"
    finally:
        run.close()
