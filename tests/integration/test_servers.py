"""Smoke tests for the test servers in tests/support/servers.py, driven by the real
litestream v0.3.13: each replica type must take a live WAL database and give
it back through `litestream restore`.  They use no lsinit binary."""
import os
import re
import signal
import sqlite3
import subprocess
import time
import uuid

import pytest

from support.litestream import write_litestream_config
from support.servers import listening_addresses
from support.waiting import wait_for

GENERATION = re.compile(r"^\S+\s+[0-9a-f]{16}\s", re.M)


def _env(extra=None):
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "fauxqs")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "fauxqs-secret")
    env.update(extra or {})
    return env


def _open_wal_db(path):
    con = sqlite3.connect(str(path))
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    con.execute("INSERT INTO t (v) VALUES ('before-replicate')")
    con.commit()
    return con


def _rows(path):
    con = sqlite3.connect(str(path))
    try:
        return [r[0] for r in con.execute("SELECT v FROM t ORDER BY id")]
    finally:
        con.close()


def _generations(litestream, config, db, env):
    out = subprocess.run([litestream, "generations", "-config", config, str(db)],
                         capture_output=True, text=True, timeout=60, env=env)
    return out.stdout if out.returncode == 0 and GENERATION.search(out.stdout) else ""


def _restore(litestream, config, db, out_path, env, timeout=120):
    if out_path.exists():
        out_path.unlink()
    return subprocess.run([litestream, "restore", "-config", config, "-o", str(out_path), str(db)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def _replicate_and_restore(litestream, tmp_path, replica, env=None):
    """Replicate a live WAL db to ``replica``, stop litestream with SIGTERM,
    restore it elsewhere and check both rows came back.  Returns (config, db)."""
    env = _env(env)
    db = tmp_path / "app.db"
    con = _open_wal_db(db)
    config = write_litestream_config(tmp_path / "litestream.yml", db, replica)
    log_path = tmp_path / "replicate.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([litestream, "replicate", "-config", config],
                                stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        wait_for(lambda: proc.poll() is None and _generations(litestream, config, db, env), 30,
                 lambda: f"a litestream generation (exit={proc.poll()}); log:\n"
                         f"{log_path.read_text(errors='replace')}", interval=0.05)
        # a write while litestream runs must travel as WAL, not in the snapshot
        con.execute("INSERT INTO t (v) VALUES ('during-replicate')")
        con.commit()
        time.sleep(1.5)  # > the default 1 s sync interval
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail("litestream replicate ignored SIGTERM for 20 s")
        con.close()
    log = log_path.read_text(errors="replace")
    assert rc == 0, f"litestream replicate exited {rc}; log:\n{log}"

    restored = tmp_path / "restored.db"
    r = _restore(litestream, config, db, restored, env)
    assert r.returncode == 0, f"restore failed ({r.returncode}): {r.stdout}{r.stderr}\nreplicate log:\n{log}"
    assert _rows(restored) == ["before-replicate", "during-replicate"]
    return config, db


def test_litestream_is_v0_3_13(litestream03_bin):
    out = subprocess.run([litestream03_bin, "version"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "v0.3.13"


def test_file_replica_roundtrip(litestream03_bin, tmp_path):
    replica_dir = tmp_path / "replica"
    _replicate_and_restore(litestream03_bin, tmp_path, {"type": "file", "path": str(replica_dir)})
    assert (replica_dir / "generations").is_dir()


def test_fauxqs_http_helpers(fauxqs):
    assert fauxqs.endpoint == f"http://127.0.0.1:{fauxqs.port}"
    assert listening_addresses(fauxqs.port) == {"127.0.0.1"}
    bucket = fauxqs.make_bucket(f"helpers-{uuid.uuid4().hex[:8]}")
    assert fauxqs.make_bucket(bucket) == bucket  # idempotent
    fauxqs.put_object(bucket, "a/one.bin", b"\x00\x01binary")
    fauxqs.put_object(bucket, "a/two.txt", "text")
    fauxqs.put_object(bucket, "b/three", b"3")
    assert fauxqs.get_object(bucket, "a/one.bin") == b"\x00\x01binary"
    assert fauxqs.get_object(bucket, "nope") is None
    assert fauxqs.list_keys(bucket) == ["a/one.bin", "a/two.txt", "b/three"]
    assert fauxqs.list_keys(bucket, "a/") == ["a/one.bin", "a/two.txt"]
    # a request with a bogus SigV4 signature is accepted as well
    status, body = fauxqs._request("GET", f"/{bucket}/b/three", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=00"})
    assert (status, body) == (200, b"3")
    assert fauxqs.delete_prefix(bucket, "a/") == 2
    assert fauxqs.list_keys(bucket) == ["b/three"]


def test_s3_replica_roundtrip(litestream03_bin, fauxqs, tmp_path):
    bucket = fauxqs.new_bucket("roundtrip")
    _replicate_and_restore(litestream03_bin, tmp_path,
                           fauxqs.litestream_replica(bucket, "dbs/app"), fauxqs.aws_env)
    keys = fauxqs.list_keys(bucket, "dbs/app/")
    assert any("/snapshots/" in k for k in keys), keys
    assert any("/wal/" in k for k in keys), keys


def test_s3_outage_fails_restore_until_restart(litestream03_bin, fauxqs, tmp_path):
    bucket = fauxqs.new_bucket("outage")
    config, db = _replicate_and_restore(litestream03_bin, tmp_path,
                                        fauxqs.litestream_replica(bucket, "db"), fauxqs.aws_env)
    restored = tmp_path / "after-outage.db"
    env = _env(fauxqs.aws_env)
    with fauxqs.outage():
        r = _restore(litestream03_bin, config, db, restored, env)
        assert r.returncode != 0, f"restore succeeded with fauxqs down: {r.stdout}{r.stderr}"
        assert "connection refused" in r.stdout + r.stderr, r.stdout + r.stderr
        assert not restored.exists()
    # data survived the outage (fauxqs keeps objects in its storage dir)
    r = _restore(litestream03_bin, config, db, restored, env)
    assert r.returncode == 0, f"restore after fauxqs restart failed: {r.stdout}{r.stderr}"
    assert _rows(restored) == ["before-replicate", "during-replicate"]


def test_sftp_replica_roundtrip(litestream03_bin, sftp_server, tmp_path):
    name = f"rt-{uuid.uuid4().hex[:8]}"
    replica = sftp_server.litestream_replica(name)
    assert replica["host"] == f"127.0.0.1:{sftp_server.port}"
    _replicate_and_restore(litestream03_bin, tmp_path, replica)
    assert (sftp_server.root / name / "generations").is_dir()


def test_sftp_outage_and_refused_logins(litestream03_bin, sftp_server, tmp_path):
    assert listening_addresses(sftp_server.port) == {"127.0.0.1"}
    replica = sftp_server.litestream_replica(f"outage-{uuid.uuid4().hex[:8]}")
    config, db = _replicate_and_restore(litestream03_bin, tmp_path, replica)
    out = tmp_path / "again.db"
    env = _env()
    with sftp_server.outage():
        r = _restore(litestream03_bin, config, db, out, env)
        assert r.returncode != 0, "restore succeeded with sshd stopped"
        assert "connection refused" in r.stdout + r.stderr, r.stdout + r.stderr
    r = _restore(litestream03_bin, config, db, out, env)
    assert r.returncode == 0, f"restore after sshd restart failed: {r.stdout}{r.stderr}"
    with sftp_server.logins_refused():
        r = _restore(litestream03_bin, config, db, out, env)
        assert r.returncode != 0, "restore succeeded with logins refused"
        assert "unable to authenticate" in r.stdout + r.stderr, r.stdout + r.stderr
    r = _restore(litestream03_bin, config, db, out, env)
    assert r.returncode == 0, f"restore after allow_logins failed: {r.stdout}{r.stderr}"
    assert _rows(out) == ["before-replicate", "during-replicate"]
