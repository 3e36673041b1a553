"""Smoke tests for the test servers in tests/support/servers.py, driven by the real
litestream v0.3.13: each replica type must take a live WAL database and give
it back through `litestream restore`.  They use no lsinit binary.

The moto tests below also record, with real signed requests, the S3 behaviour
lsinit's lease relies on (conditional writes) on moto and on fauxqs, and that
Litestream 0.5.17 and 0.3.13 replicate to moto and restore from it."""
import email.utils
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import uuid

import pytest

from support import ROOT, SYSTEM_PATH
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


# ---------------------------------------------------------------- moto, and what the lease relies on
# lsinit's S3 lease (issue #13) creates <replica path>/lock.json with
# `If-None-Match: *` and renews/releases it with `If-Match: <etag>`, signed by
# libcurl's CURLOPT_AWS_SIGV4.  These tests send the same requests with curl's
# --aws-sigv4 (the same libcurl code) and record what each test server does.

LITESTREAM_05 = ROOT / ".deps" / "litestream" / "0.5.17" / "litestream"


def _curl(server, tmp_path, method, bucket, key, body=None, headers=()):
    """One SigV4-signed request with curl: (status, {lower-case header: value}, body).
    A JSON body goes with Content-Type: application/json (without a Content-Type
    moto stores a form-encoded body as an empty object)."""
    out, hdr = tmp_path / "curl.body", tmp_path / "curl.headers"
    cmd = ["curl", "-sS", "--noproxy", "*", "-X", method, "-o", str(out), "-D", str(hdr), "-w", "%{http_code}",
           "--aws-sigv4", f"aws:amz:{server.region}:s3",
           "--user", f"{server.access_key_id}:{server.secret_access_key}"]
    for h in headers:
        cmd += ["-H", h]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", body]
    cmd.append(f"{server.endpoint}/{bucket}/{key}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"curl {method} {bucket}/{key}: rc {r.returncode} {r.stderr}"
    fields = {}
    for line in hdr.read_text(errors="replace").splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return int(r.stdout), fields, out.read_bytes() if out.exists() else b""


def _lease_doc(owner, generation=1):
    return json.dumps({"generation": generation, "expires_at": "2030-01-01T00:00:00.123456789Z", "owner": owner,
                       "host": "test", "pid": os.getpid(), "acquired_at": "2030-01-01T00:00:00Z"})


def test_moto_serves_loopback_only_with_signed_helpers(moto):
    assert moto.endpoint == f"http://127.0.0.1:{moto.port}"
    assert listening_addresses(moto.port) == {"127.0.0.1"}          # the forwarder
    assert listening_addresses(moto.backend_port) == {"127.0.0.1"}  # moto itself
    bucket = moto.new_bucket("helpers")
    assert moto.make_bucket(bucket) == bucket  # moto answers 200 to a second create in us-east-1
    etag = moto.put_object(bucket, "a/one.bin", b"\x00\x01binary")
    assert etag == '"%s"' % hashlib.md5(b"\x00\x01binary").hexdigest()
    moto.put_object(bucket, "a/two.txt", "text")
    moto.put_object(bucket, "b/three", b"3")
    assert moto.get_object(bucket, "a/one.bin") == b"\x00\x01binary"
    assert moto.get_object(bucket, "nope") is None
    assert moto.head_object(bucket, "nope") is None
    head = moto.head_object(bucket, "b/three")
    assert head["etag"] == '"%s"' % hashlib.md5(b"3").hexdigest()
    assert "last-modified" in head and "date" in head
    assert moto.list_keys(bucket) == ["a/one.bin", "a/two.txt", "b/three"]
    assert moto.list_keys(bucket, "a/") == ["a/one.bin", "a/two.txt"]
    assert moto.delete_prefix(bucket, "a/") == 2
    assert moto.list_keys(bucket) == ["b/three"]


def test_moto_quirks_unsigned_and_form_bodies(moto, tmp_path):
    """Two facts every request to moto must respect: an unsigned request to an
    existing (private) key is refused 403 with an empty body, and a body sent
    without a Content-Type (curl's default form encoding) is stored empty."""
    bucket = moto.new_bucket("quirks")
    moto.put_object(bucket, "k", b"data")
    url = f"{moto.endpoint}/{bucket}/k"
    for method in ("GET", "DELETE"):
        r = subprocess.run(["curl", "-sS", "--noproxy", "*", "-X", method, "-o", "/dev/null", "-w", "%{http_code}",
                            url], capture_output=True, text=True, timeout=30)
        assert r.stdout == "403", f"unsigned {method}: {r.stdout} {r.stderr}"
    assert moto.get_object(bucket, "k") == b"data"
    r = subprocess.run(["curl", "-sS", "--noproxy", "*", "-X", "PUT", "--data-binary", '{"a":1}', "-o", "/dev/null",
                        "-w", "%{http_code}", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "k:s",
                        f"{moto.endpoint}/{bucket}/form.json"], capture_output=True, text=True, timeout=30)
    assert r.stdout == "200", r.stdout + r.stderr
    assert moto.get_object(bucket, "form.json") == b""


def test_moto_honours_conditional_writes(moto, tmp_path):
    """What the lease needs from S3, on moto: create-if-absent refuses an
    existing key (412), a PUT or DELETE with a stale ETag is refused (412) and
    leaves the object alone, the current ETag succeeds; an If-Match on a key
    that no longer exists is 404 NoSuchKey on moto, not 412 (Apache Ozone, for
    one, answers 412): a holder must treat both as a lost lease."""
    bucket = moto.new_bucket("cond")
    key = "dbs/app/lock.json"
    first = _lease_doc("first")
    status, h, _ = _curl(moto, tmp_path, "PUT", bucket, key, first, ["If-None-Match: *"])
    assert status == 200
    etag1 = h["etag"]
    assert etag1 == '"%s"' % hashlib.md5(first.encode()).hexdigest()

    # a second instance's create of the same lease: refused, the first one's stays
    status, _, body = _curl(moto, tmp_path, "PUT", bucket, key, _lease_doc("second"), ["If-None-Match: *"])
    assert status == 412, body
    assert b"<Code>PreconditionFailed</Code>" in body and b"<Condition>If-None-Match</Condition>" in body
    assert moto.get_object(bucket, key) == first.encode()

    # renew with a wrong ETag: refused; with the right one: stored, new ETag
    status, _, body = _curl(moto, tmp_path, "PUT", bucket, key, _lease_doc("second", 2), ['If-Match: "wrong"'])
    assert status == 412, body
    assert b"<Condition>If-Match</Condition>" in body
    assert moto.get_object(bucket, key) == first.encode()
    renewed = _lease_doc("first", 2)
    status, h, _ = _curl(moto, tmp_path, "PUT", bucket, key, renewed, [f"If-Match: {etag1}"])
    assert status == 200
    etag2 = h["etag"]
    assert etag2 != etag1
    assert moto.get_object(bucket, key) == renewed.encode()

    # the Last-Modified and Date lsinit judges expiry by: the store's own clock
    head = moto.head_object(bucket, key)
    modified = email.utils.parsedate_to_datetime(head["last-modified"])
    now = email.utils.parsedate_to_datetime(head["date"])
    assert abs((now - modified).total_seconds()) < 30, head

    # release: a DELETE with the stale ETag is refused, with the current one it deletes
    status, _, body = _curl(moto, tmp_path, "DELETE", bucket, key, headers=[f"If-Match: {etag1}"])
    assert status == 412, body
    assert moto.get_object(bucket, key) == renewed.encode()
    status, _, _ = _curl(moto, tmp_path, "DELETE", bucket, key, headers=[f"If-Match: {etag2}"])
    assert status == 204
    assert moto.get_object(bucket, key) is None

    # a renewal or release of a lease that is gone (released, broken) is answered 404 NoSuchKey, not
    # 412: a holder must read that as "lost" too
    status, _, body = _curl(moto, tmp_path, "PUT", bucket, key, renewed, [f"If-Match: {etag2}"])
    assert status == 404 and b"<Code>NoSuchKey</Code>" in body, (status, body)
    assert moto.get_object(bucket, key) is None
    status, _, body = _curl(moto, tmp_path, "DELETE", bucket, key, headers=[f"If-Match: {etag2}"])
    assert status == 404 and b"<Code>NoSuchKey</Code>" in body, (status, body)

    # and once released, the next create-if-absent succeeds
    status, _, _ = _curl(moto, tmp_path, "PUT", bucket, key, _lease_doc("second", 3), ["If-None-Match: *"])
    assert status == 200


def test_fauxqs_ignores_conditional_writes(fauxqs, tmp_path):
    """fauxqs 2.4.1 ignores If-None-Match and If-Match: a create-if-absent over
    an existing key answers 200 and overwrites it, a PUT with a wrong If-Match
    answers 200 and overwrites, a DELETE with a wrong If-Match answers 204 and
    deletes.  A lease on such a store protects nothing: lsinit's start check
    finds that out, LSINIT_LEASE=on refuses the store (exit 78) and auto warns
    and replicates without a lease."""
    bucket = fauxqs.new_bucket("cond")
    key = "dbs/app/lock.json"
    first, second, third = _lease_doc("first"), _lease_doc("second"), _lease_doc("third", 2)
    status, h, _ = _curl(fauxqs, tmp_path, "PUT", bucket, key, first, ["If-None-Match: *"])
    assert status == 200
    assert h["etag"] == '"%s"' % hashlib.md5(first.encode()).hexdigest()

    status, _, _ = _curl(fauxqs, tmp_path, "PUT", bucket, key, second, ["If-None-Match: *"])
    assert status == 200  # S3 and moto: 412
    assert fauxqs.get_object(bucket, key) == second.encode()

    status, _, _ = _curl(fauxqs, tmp_path, "PUT", bucket, key, third, ['If-Match: "wrong"'])
    assert status == 200  # S3 and moto: 412
    assert fauxqs.get_object(bucket, key) == third.encode()

    status, _, _ = _curl(fauxqs, tmp_path, "DELETE", bucket, key, headers=['If-Match: "wrong"'])
    assert status == 204  # S3 and moto: 412
    assert fauxqs.get_object(bucket, key) is None


def test_moto_outage_keeps_objects_and_stall_hangs(moto):
    bucket = moto.new_bucket("outage")
    moto.put_object(bucket, "lock.json", _lease_doc("holder"), content_type="application/json")
    with moto.outage():
        assert not moto.running()
        with pytest.raises(OSError) as e:
            moto.request("GET", bucket, "lock.json", timeout=5)
        assert "Connection refused" in str(e.value), e.value
        assert moto.backend_running()  # moto itself keeps its state behind the forwarder
    assert moto.running()
    assert json.loads(moto.get_object(bucket, "lock.json"))["owner"] == "holder"
    with moto.stalled():
        start = time.monotonic()
        with pytest.raises(OSError) as e:
            moto.request("GET", bucket, "lock.json", timeout=1)
        assert "timed out" in str(e.value), e.value
        assert time.monotonic() - start < 5
    assert json.loads(moto.get_object(bucket, "lock.json"))["owner"] == "holder"


def _replicate_and_restore_s3(litestream, tmp_path, server, bucket, path):
    """Replicate a live WAL db to ``bucket``/``path`` on ``server`` with any
    Litestream line: wait for its first upload, write a row, wait until the
    replica grows, SIGTERM, then `litestream restore` it elsewhere.  Returns
    the replica's keys.  The environment is a clean one: Litestream 0.5.17
    refuses to start when AWS_CA_BUNDLE is set ("unable to add custom RootCAs
    HTTPClient, has no WithTransportOptions")."""
    env = {"PATH": SYSTEM_PATH, "HOME": "/root", **server.aws_env}
    db = tmp_path / "app.db"
    con = _open_wal_db(db)
    config = write_litestream_config(tmp_path / "litestream.yml", db, server.litestream_replica(bucket, path))
    log_path = tmp_path / "replicate.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([litestream, "replicate", "-config", config],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        def keys():
            assert proc.poll() is None, f"litestream exited {proc.returncode}:\n{log_path.read_text()}"
            return server.list_keys(bucket, path + "/")

        first = wait_for(keys, 30, lambda: f"a first upload; log:\n{log_path.read_text(errors='replace')}",
                         interval=0.1)
        con.execute("INSERT INTO t (v) VALUES ('during-replicate')")
        con.commit()
        wait_for(lambda: len(keys()) > len(first), 30,
                 lambda: f"an upload after the write; keys {keys()}; log:\n{log_path.read_text(errors='replace')}",
                 interval=0.1)
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
    return server.list_keys(bucket, path + "/")


def test_litestream_05_replicates_to_moto_and_restores(moto, tmp_path):
    """Litestream 0.5.17 (aws-sdk-go-v2) against moto: the lease tests can use
    moto as the replica."""
    assert LITESTREAM_05.exists(), f"{LITESTREAM_05} missing: run scripts/install-deps"
    bucket = moto.new_bucket("ls05")
    keys = _replicate_and_restore_s3(str(LITESTREAM_05), tmp_path, moto, bucket, "dbs/app")
    assert any(k.endswith(".ltx") for k in keys), keys
    assert not any(k.endswith("/lock.json") for k in keys), keys  # Litestream writes no lease of its own


def test_litestream_03_replicates_to_moto_and_restores(litestream03_bin, moto, tmp_path):
    bucket = moto.new_bucket("ls03")
    keys = _replicate_and_restore_s3(litestream03_bin, tmp_path, moto, bucket, "dbs/app")
    assert any("/snapshots/" in k for k in keys), keys
    assert any("/wal/" in k for k in keys), keys
