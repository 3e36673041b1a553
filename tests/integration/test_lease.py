"""One writer per replica (issue #13): the lease on the replica, with real stores.

S3 on moto (honours If-None-Match / If-Match), file replicas, and fauxqs (ignores
conditions: refused with LSINIT_LEASE=on). Several lsinit instances on one
machine share a replica; the soak writer (tests/reliability/soak_app.py)
appends every acknowledged row to a side file, so "nothing lost" and "one
history" are checked against a plain `litestream restore` of the replica.
Runs once per Litestream line (LSINIT_TEST_LITESTREAM).
"""
import json
import os
import pathlib
import signal
import subprocess
import time
import uuid

import pytest

from support import health as hh
from support import reliability as rel
from support.lsinit_run import LsinitRun, lsinit_env, wait_ready
from support.replicas import Replica, make_replica
from support.waiting import free_port, wait_for

pytestmark = pytest.mark.usefixtures("require_root")

TTL = "6s"   # short, so takeovers happen within a test; the default is 30s
TTL_S = 6


def moto_replica(moto):
    bucket = moto.new_bucket("lease")
    name = uuid.uuid4().hex[:10]
    env = {"LITESTREAM_REPLICA_ENDPOINT": moto.endpoint,
           "LITESTREAM_ACCESS_KEY_ID": moto.access_key_id,
           "LITESTREAM_SECRET_ACCESS_KEY": moto.secret_access_key}
    return Replica("s3", f"s3://{bucket}/{name}", env, moto.litestream_replica(bucket, name), moto.aws_env,
                   bucket=bucket, prefix=name, s3=moto)


@pytest.fixture(params=["file", "s3"])
def replica(request, tmp_path):
    if request.param == "file":
        return make_replica("file", tmp_path)
    return moto_replica(request.getfixturevalue("moto"))


def lease_doc(replica):
    """The lock.json as the store holds it, or None."""
    if replica.kind == "file":
        p = pathlib.Path(replica.folder) / "lock.json"
        return json.loads(p.read_text()) if p.exists() else None
    body = replica.s3.get_object(replica.bucket, f"{replica.prefix}/lock.json")
    return json.loads(body) if body is not None else None


def put_lease(replica, text):
    if replica.kind == "file":
        pathlib.Path(replica.folder).mkdir(parents=True, exist_ok=True)
        (pathlib.Path(replica.folder) / "lock.json").write_text(text)
    else:
        replica.s3.put_object(replica.bucket, f"{replica.prefix}/lock.json", text, content_type="application/json")


def env_for(litestream_bin, replica, db, **extra):
    base = rel.base_env(litestream_bin, LSINIT_LEASE_TTL=TTL, LSINIT_GRACE="8s")
    return lsinit_env(base, replica, db, **extra)


def writer(db, state, cycle, exit_mode="0"):
    state.mkdir(parents=True, exist_ok=True)
    return ["--", *rel.writer_cmd(db, state, exit_mode, cycle)]


def test_second_instance_waits_then_continues_the_history(lsinit_bin, litestream_bin, replica, tmp_path):
    """Two instances on one replica, 0.5 s apart: exactly one runs the app; the other waits (one line naming
    the holder, /readyz 503), takes over only after the first stopped, restores, and continues the same
    history: every acknowledged write of both lifetimes is in the final restore."""
    a_db, b_db = tmp_path / "a" / "app.db", tmp_path / "b" / "app.db"
    a_state, b_state = tmp_path / "a-state", tmp_path / "b-state"
    with LsinitRun(lsinit_bin, writer(a_db, a_state, 1), env_for(litestream_bin, replica, a_db), tmp_path / "a-run") as a:
        wait_ready(a, a_state)
        time.sleep(0.5)
        with LsinitRun(lsinit_bin, writer(b_db, b_state, 2), env_for(litestream_bin, replica, b_db),
                       tmp_path / "b-run") as b:
            port = hh.health_port(b)
            wait_for(lambda: "is held by" in b.stderr, 15, lambda: b.stderr)
            r = hh.request(port, "/readyz")
            assert r.status == 503 and "lease" in r.text, r.text
            assert hh.request(port, "/livez").status == 200
            held = [ln for ln in b.stderr.splitlines() if "is held by" in ln]
            assert len(held) == 1, f"one line naming the holder, not one per renewal:\n{b.stderr}"
            assert f"pid {a.pid}" in held[0] and "since" in held[0] and "until" in held[0], held[0]
            time.sleep(TTL_S)  # two renewals later it still waits
            assert not (b_state / "ready").exists(), "the second instance started its app while the first ran"
            assert lease_doc(replica)["pid"] == a.pid
            a.signal(signal.SIGTERM)
            assert a.wait(30) == 0, a.stderr
            assert "released the replica's lease" in a.stderr, a.stderr
            wait_ready(b, b_state, timeout=30)
            assert f"restored {b_db}" in b.stderr, b.stderr
            assert lease_doc(replica)["pid"] == b.pid
            assert hh.request(port, "/readyz").status == 200
            time.sleep(1.0)
            b.signal(signal.SIGTERM)
            assert b.wait(30) == 0, b.stderr
    assert lease_doc(replica) is None, "released after the final sync"
    acked = rel.read_acks(a_state) | rel.read_acks(b_state)
    assert {c for c, _ in acked} == {1, 2}
    got = rel.restored_rows(litestream_bin, replica, b_db, tmp_path)
    assert not (acked - got), f"acknowledged writes missing from the replica: {sorted(acked - got)[:10]}"


def test_killed_holder_is_taken_over_after_its_ttl(lsinit_bin, litestream_bin, replica, tmp_path):
    """The holder dies with SIGKILL (PID 1 of its own namespace: everything in it dies): its lease is never
    released; the waiter takes over within TTL + one renewal interval of the holder's last renewal."""
    a_db, b_db = tmp_path / "a" / "app.db", tmp_path / "b" / "app.db"
    a_state, b_state = tmp_path / "a-state", tmp_path / "b-state"
    a = LsinitRun(lsinit_bin, writer(a_db, a_state, 1), env_for(litestream_bin, replica, a_db), tmp_path / "a-run",
                  pid1=True)
    with a:
        wait_ready(a, a_state)
        rel.wait_segments(a, 0)
        with LsinitRun(lsinit_bin, writer(b_db, b_state, 2), env_for(litestream_bin, replica, b_db),
                       tmp_path / "b-run") as b:
            wait_for(lambda: "is held by" in b.stderr, 15, lambda: b.stderr)
            before = lease_doc(replica)
            os.kill(a.pid, signal.SIGKILL)  # PID 1 of its namespace: everything in it dies
            a.proc.wait(10)
            killed = time.monotonic()
            wait_ready(b, b_state, timeout=TTL_S * 3)
            took = time.monotonic() - killed
            assert took <= TTL_S + TTL_S / 3 + 3, f"took {took:.1f}s (TTL {TTL_S}s)"
            doc = lease_doc(replica)
            assert doc["generation"] == before["generation"] + 1 and doc["pid"] == b.pid, (before, doc)
            b.signal(signal.SIGTERM)
            assert b.wait(30) == 0, b.stderr
    acked_b = rel.read_acks(b_state)
    got = rel.restored_rows(litestream_bin, replica, b_db, tmp_path)
    assert not (acked_b - got), "the second lifetime's acknowledged writes are all in the replica"


def _forwarder(moto, workdir):
    """A private TCP forwarder to moto, so one instance alone can be cut off from the store."""
    port = free_port()
    log = open(pathlib.Path(workdir) / f"forward-{port}.log", "ab")
    proc = subprocess.Popen(["/usr/bin/python3", "-I", str(moto.forward_script), str(port), str(moto.backend_port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: moto.request("GET", "", timeout=1)[0] == 200, 10, "moto")
    import socket

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False
    wait_for(up, 10, f"forwarder on {port}")
    return proc, port


def test_partitioned_holder_stops_uploading_and_fails_liveness(lsinit_bin, litestream_bin, moto, tmp_path):
    """The holder alone loses the store (its private forwarder is frozen, as behind a partition): within the
    TTL it stops Litestream (no byte more uploaded), /livez turns 503, and it exits 76 after the app's grace;
    the other instance takes over after the lease expires and the replica restores to one sound history."""
    replica = moto_replica(moto)
    fwd, fport = _forwarder(moto, tmp_path)
    try:
        a_db, b_db = tmp_path / "a" / "app.db", tmp_path / "b" / "app.db"
        a_state, b_state = tmp_path / "a-state", tmp_path / "b-state"
        a_env = env_for(litestream_bin, replica, a_db, LITESTREAM_REPLICA_ENDPOINT=f"http://127.0.0.1:{fport}")
        with LsinitRun(lsinit_bin, writer(a_db, a_state, 1), a_env, tmp_path / "a-run") as a:
            wait_ready(a, a_state)
            rel.wait_segments(a, 0)
            a_port = hh.health_port(a)
            with LsinitRun(lsinit_bin, writer(b_db, b_state, 2), env_for(litestream_bin, replica, b_db),
                           tmp_path / "b-run") as b:
                wait_for(lambda: "is held by" in b.stderr, 15, lambda: b.stderr)
                os.kill(fwd.pid, signal.SIGSTOP)
                cut = time.monotonic()
                wait_for(lambda: "lease is lost" in a.stderr, TTL_S + 2, lambda: a.stderr)
                lost_after = time.monotonic() - cut
                assert lost_after < TTL_S, f"the holder noticed after {lost_after:.1f}s, TTL {TTL_S}s"
                assert hh.request(a_port, "/livez").status == 503
                assert a.litestream_pid() is None or not os.path.exists(f"/proc/{a.litestream_pid()}"), \
                    "Litestream still runs after the lease was lost"
                rc = a.wait(30)
                assert rc == 76, a.stderr
                errors = [ln for ln in a.lsinit_lines("ERROR") if "lease is lost" in ln]
                assert len(errors) == 1, a.stderr
                wait_ready(b, b_state, timeout=TTL_S * 3)
                took = time.monotonic() - cut
                assert took > TTL_S, f"the other took over after {took:.1f}s, before the TTL ({TTL_S}s)"
                time.sleep(1.0)
                b.signal(signal.SIGTERM)
                assert b.wait(30) == 0, b.stderr
    finally:
        try:
            os.kill(fwd.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        fwd.kill()
        fwd.wait(5)
    acked_b = rel.read_acks(b_state)
    got = rel.restored_rows(litestream_bin, replica, b_db, tmp_path)
    assert not (acked_b - got), "the new holder's acknowledged writes are all in the replica"


def test_store_ignoring_conditions_is_refused_when_the_lease_is_on(lsinit_bin, litestream_bin, fauxqs, tmp_path):
    """fauxqs accepts If-None-Match: * on an existing key, so a lease there would always succeed:
    LSINIT_LEASE=on refuses it (78, one line naming the endpoint); auto warns and runs unleased."""
    replica = make_replica("s3", tmp_path, fauxqs=fauxqs)
    db = tmp_path / "data" / "app.db"
    marker = tmp_path / "started"
    env = env_for(litestream_bin, replica, db, LSINIT_LEASE="on")
    with LsinitRun(lsinit_bin, ["--", "/bin/touch", str(marker)], env, tmp_path / "on") as run:
        rc = run.wait(60)
    assert rc == 78 and not marker.exists(), run.stderr
    errors = run.lsinit_lines("ERROR")
    assert len(errors) == 1 and fauxqs.endpoint in errors[0] and "conditional" in errors[0], run.stderr
    env = env_for(litestream_bin, replica, db, LSINIT_LEASE="auto")
    with LsinitRun(lsinit_bin, ["--", "/bin/touch", str(marker)], env, tmp_path / "auto") as run:
        rc = run.wait(60)
    assert rc == 0 and marker.exists(), run.stderr
    assert any("WITHOUT" in ln for ln in run.lsinit_lines("WARN")), run.stderr


@pytest.mark.parametrize("case", ["ttl-short", "ttl-long", "mode", "wait", "on-sftp"])
def test_bad_lease_settings(lsinit_bin, litestream_bin, tmp_path, case):
    replica = make_replica("file", tmp_path)
    db = tmp_path / "data" / "app.db"
    extra, word = {
        "ttl-short": ({"LSINIT_LEASE_TTL": "1s"}, "LSINIT_LEASE_TTL"),
        "ttl-long": ({"LSINIT_LEASE_TTL": "1h"}, "LSINIT_LEASE_TTL"),
        "mode": ({"LSINIT_LEASE": "maybe"}, "LSINIT_LEASE"),
        "wait": ({"LSINIT_LEASE_WAIT": "soon"}, "LSINIT_LEASE_WAIT"),
        "on-sftp": ({"LSINIT_LEASE": "on", "LSINIT_REPLICA_URL": "sftp://u@127.0.0.1:1/x",
                     "LSINIT_SFTP_PASSWORD": "x"}, "LSINIT_LEASE=on"),
    }[case]
    env = env_for(litestream_bin, replica, db, **extra)
    marker = tmp_path / "started"
    with LsinitRun(lsinit_bin, ["--", "/bin/touch", str(marker)], env, tmp_path) as run:
        rc = run.wait(30)
    assert rc == 78 and not marker.exists(), run.stderr
    errors = run.lsinit_lines("ERROR")
    assert len(errors) == 1 and word in errors[0], run.stderr


def test_foreign_and_malformed_lock_json(lsinit_bin, litestream_bin, replica, tmp_path):
    """A lease another tool wrote in Litestream's own format is honoured (waited for, 76 after
    LSINIT_LEASE_WAIT, naming its owner); a lock.json that is not a lease is refused (78) with the way out."""
    db = tmp_path / "data" / "app.db"
    marker = tmp_path / "started"
    put_lease(replica, '{"generation":7,"expires_at":"2099-01-01T00:00:00Z","owner":"litestream-vfs on host9"}')
    env = env_for(litestream_bin, replica, db, LSINIT_LEASE_WAIT="3s", LSINIT_LEASE_TTL="60s")
    with LsinitRun(lsinit_bin, ["--", "/bin/touch", str(marker)], env, tmp_path / "foreign") as run:
        rc = run.wait(60)
    assert rc == 76 and not marker.exists(), run.stderr
    errors = run.lsinit_lines("ERROR")
    assert len(errors) == 1 and "litestream-vfs on host9" in errors[0] and "LSINIT_LEASE_WAIT" in errors[0], run.stderr
    assert lease_doc(replica)["generation"] == 7, "a lease that is not ours is never touched"
    put_lease(replica, "this is not json")
    with LsinitRun(lsinit_bin, ["--", "/bin/touch", str(marker)], env, tmp_path / "malformed") as run:
        rc = run.wait(60)
    assert rc == 78 and not marker.exists(), run.stderr
    errors = run.lsinit_lines("ERROR")
    assert len(errors) == 1 and "not a lease" in errors[0] and "--break" in errors[0], run.stderr


def test_lease_subcommand_shows_and_breaks(lsinit_bin, litestream_bin, replica, tmp_path):
    db = tmp_path / "data" / "app.db"
    env = env_for(litestream_bin, replica, db)

    def lease(*args):
        p = subprocess.run([lsinit_bin, "lease", *args], env=env, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr
    rc, out, _ = lease()
    assert rc == 0 and "free" in out, out
    put_lease(replica, '{"generation":2,"expires_at":"2099-01-01T00:00:00Z","owner":"lsinit on web-1","host":"web-1",'
                       '"pid":1,"acquired_at":"2026-01-01T00:00:00Z"}')
    rc, out, _ = lease()
    assert rc == 0 and "held by lsinit on web-1" in out and "generation 2" in out, out
    rc, _, err = lease("--break")
    assert rc == 64 and "--yes" in err and lease_doc(replica) is not None, err
    rc, out, _ = lease("--break", "--yes")
    assert rc == 0 and lease_doc(replica) is None, out


def test_rolling_deploy_never_two_holders_nothing_lost(lsinit_bin, litestream_bin, tmp_path, request):
    """20 cycles of "start the new instance, then stop the old one" (a Deployment's RollingUpdate) on one file
    replica: the new app never starts before the old lsinit has exited, and every acknowledged write of every
    lifetime is in the final restore."""
    cycles = 20
    replica = make_replica("file", tmp_path)
    old = None
    states = []
    try:
        for i in range(cycles + 1):
            db = tmp_path / f"pod{i}" / "app.db"
            state = tmp_path / f"pod{i}-state"
            new = LsinitRun(lsinit_bin, writer(db, state, i + 1), env_for(litestream_bin, replica, db),
                            tmp_path / f"pod{i}-run")
            new.__enter__()
            states.append(state)
            if old is not None:
                wait_for(lambda: "is held by" in new.stderr or (state / "ready").exists(), 15, lambda: new.stderr)
                assert not (state / "ready").exists(), f"cycle {i}: the new app started while the old one ran"
                time.sleep(0.3)
                old.signal(signal.SIGTERM)
                assert old.wait(30) == 0, old.stderr
                old_exit = time.time()
                old.__exit__(None, None, None)
                wait_ready(new, state, timeout=30)
                assert (state / "ready").stat().st_mtime >= old_exit - 0.05, f"cycle {i}: two holders"
            else:
                wait_ready(new, state)
            old = new
        time.sleep(0.5)
        old.signal(signal.SIGTERM)
        assert old.wait(30) == 0, old.stderr
    finally:
        if old is not None:
            old.__exit__(None, None, None)
    acked = set().union(*(rel.read_acks(s) for s in states))
    got = rel.restored_rows(litestream_bin, replica, tmp_path / f"pod{cycles}" / "app.db", tmp_path)
    assert len({c for c, _ in acked}) == cycles + 1
    assert not (acked - got), f"{len(acked - got)} acknowledged writes lost: {sorted(acked - got)[:10]}"


def test_lease_deleted_under_the_holder_is_lost(lsinit_bin, litestream_bin, replica, tmp_path):
    """An operator breaks a lease whose holder still runs (`lsinit lease --break --yes`): the holder's next
    renewal finds it gone (S3 answers 404 to If-Match, the file is absent), so it stops uploading and exits 76
    instead of writing on beside whoever takes the lease next."""
    db = tmp_path / "a" / "app.db"
    state = tmp_path / "a-state"
    env = env_for(litestream_bin, replica, db)
    with LsinitRun(lsinit_bin, writer(db, state, 1), env, tmp_path / "a-run") as run:
        wait_ready(run, state)
        p = subprocess.run([lsinit_bin, "lease", "--break", "--yes"], env=env, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stderr
        broke = time.monotonic()
        wait_for(lambda: "lease is lost" in run.stderr, TTL_S, lambda: run.stderr)
        took = time.monotonic() - broke
        assert took < TTL_S / 3 + 1.5, f"noticed after {took:.1f}s: at the next renewal, not when renewals run out"
        assert run.wait(30) == 76, run.stderr
