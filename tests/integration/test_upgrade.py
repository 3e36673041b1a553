"""Upgrading from Litestream 0.3.13 to 0.5.17 under lsinit, with real servers.

A replica that holds only a 0.3.13 backup (the `generations/` layout) is made
the way a user made it: `litestream replicate` 0.3.13 with a writer app, its
own litestream.yml, stopped with TERM (its final sync), then the local
database deleted. lsinit then boots with LSINIT_LITESTREAM pointing at 0.5.17:

* file and S3 (fauxqs): 0.5.17 reads the 0.3 layout itself; the database is
  restored, the app sees the rows, and 0.5 starts its own layout (.ltx files).
* SFTP: 0.5.17 sees such a replica as empty ("no matching backups found",
  exit 0). lsinit must notice the 0.3 layout (init/legacy_layout.c) and refuse
  to start: exit 69, the app never started, one ERROR line naming 0.3 and the
  way to migrate, no database file created, nothing 0.5 written to the replica.
* SFTP with an empty replica path: 0.5.17 starts fresh, no refusal.

Both Litestream binaries are used directly (.deps/litestream/<version>/), not
the suite's LSINIT_TEST_LITESTREAM choice: these tests need both.
"""
import json
import os
import pathlib
import shlex
import shutil
import signal
import subprocess

import pytest

from support import ROOT, SYSTEM_PATH
from support.apps import marker_cmd, read_rows, writer_cmd
from support.litestream import write_litestream_config
from support.lsinit_run import LsinitRun
from support.replicas import request_replica
from support.waiting import wait_for

LS03 = ROOT / ".deps" / "litestream" / "0.3.13" / "litestream"
LS05 = ROOT / ".deps" / "litestream" / "0.5.17" / "litestream"
EXIT_RESTORE = 69

pytestmark = pytest.mark.usefixtures("require_root")


def _check_binary(path, printed):
    assert path.exists(), f"{path} missing: run scripts/install-deps first"
    out = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == printed, (
        f"{path} version: {out.returncode} {out.stdout!r} {out.stderr!r}, expected {printed}")
    return str(path)


@pytest.fixture(scope="module")
def litestream03():
    return _check_binary(LS03, "v0.3.13")


@pytest.fixture(scope="module")
def litestream05():
    return _check_binary(LS05, "0.5.17")


class Upgrade:
    """One replica: how 0.3.13 writes to it (its own litestream.yml keys and
    environment), how lsinit is pointed at it, and what it holds."""

    def __init__(self, kind, request, tmp_path):
        r = request_replica(kind, request, tmp_path, bucket_prefix="upgrade")
        self.kind, self.url, self.env, self.ls_env = kind, r.url, r.env, r.ls_env
        self.dir, self.s3, self.bucket, self.path = r.folder, r.s3, r.bucket, r.prefix
        self.ls_replica = dict(r.ls_replica, **{"sync-interval": "200ms"})

    def names(self):
        """What the replica holds, relative to its path (files, or object keys)."""
        if self.kind == "s3":
            return [k[len(self.path) + 1:] for k in self.s3.list_keys(self.bucket, self.path + "/")]
        if not self.dir.exists():
            return []
        return sorted(str(p.relative_to(self.dir)) for p in self.dir.rglob("*") if p.is_file())

    def generations(self):
        return sorted({n.split("/")[1] for n in self.names() if n.startswith("generations/") and n.count("/") > 1})

    def has_v05_layout(self):
        """0.5's LTX files: ltx/<level>/... on file and sftp, <level>/... on S3."""
        return any(n.endswith(".ltx") for n in self.names())


def lsinit_env(replica, db, **extra):
    env = {
        "LSINIT_HEALTH_ADDR": "127.0.0.1:0",
        "LSINIT_VERIFY_INTERVAL": "off",
        "PATH": SYSTEM_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LSINIT_LITESTREAM": str(LS05),
        "LSINIT_SYNC_INTERVAL": "200ms",
        "LSINIT_RESTORE_TIMEOUT": "20s",
        "LSINIT_DB": str(db),
        "LSINIT_REPLICA_URL": replica.url,
        **replica.env,
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def backup_with_03(litestream03, replica, db, workdir):
    """`litestream replicate` 0.3.13 with the writer app as its -exec child, a
    few writes, TERM (the app writes its last row and exits 0; 0.3.13 then
    makes its final sync), the backup checked with `litestream restore`
    0.3.13, and the local database deleted. Returns the rows backed up."""
    workdir = pathlib.Path(workdir)
    state = workdir / "state03"
    state.mkdir()
    db.parent.mkdir(parents=True, exist_ok=True)
    cfg = write_litestream_config(workdir / "litestream03.yml", db, replica.ls_replica)
    env = {"PATH": SYSTEM_PATH, "HOME": "/root", "LANG": "C.UTF-8", **replica.ls_env}
    log = workdir / "litestream03.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [litestream03, "replicate", "-config", cfg, "-exec", shlex.join(writer_cmd(db, state, "0"))],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: (state / "ready").exists() or proc.poll() is not None, 30, "the 0.3.13 writer to start")
        assert proc.poll() is None, f"litestream 0.3.13 exited {proc.returncode}:\n{log.read_text()}"
        for name in ("precious-1", "precious-2"):
            (state / f"write-{name}").touch()
            wait_for((state / f"wrote-{name}").exists, 10, f"the writer to write {name}")
        wait_for(lambda: 'msg="wal segment written"' in log.read_text(errors="replace"), 20,
                 lambda: f"0.3.13 to upload a WAL segment:\n{log.read_text(errors='replace')}")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert rc == 0, f"litestream 0.3.13 exited {rc}:\n{log.read_text(errors='replace')}"
    rows = read_rows(db)
    assert [r[1] for r in rows][-1] == "last-write", rows[-3:]
    check = workdir / "check03.db"
    r = subprocess.run([litestream03, "restore", "-config", cfg, "-o", str(check), str(db)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"litestream 0.3.13 restore failed:\n{r.stderr}"
    assert read_rows(check) == rows, "the 0.3.13 backup is not complete"
    assert replica.generations(), f"no 0.3 generation in the replica: {replica.names()}"
    assert not replica.has_v05_layout()
    shutil.rmtree(db.parent)  # the database, its -wal/-shm and 0.3's .app.db-litestream folder
    return rows


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_05_restores_a_03_backup(lsinit_bin, litestream03, litestream05, request, tmp_path, kind):
    """0.5.17 reads the 0.3 layout of file and S3 replicas itself: the app's
    first read sees every row 0.3.13 backed up, and the replica gets 0.5's layout."""
    replica = Upgrade(kind, request, tmp_path)
    db = tmp_path / "data" / "app.db"
    before = backup_with_03(litestream03, replica, db, tmp_path)
    state = tmp_path / "state05"
    state.mkdir()
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], lsinit_env(replica, db), tmp_path) as run:
        def ready():
            assert run.proc.poll() is None, f"lsinit exited {run.proc.returncode}:\n{run.stderr[-4000:]}"
            return (state / "ready").exists()
        wait_for(ready, 40, lambda: f"the app to start; lsinit stderr:\n{run.stderr[-4000:]}")
        seen = json.loads((state / "count").read_text())
        wait_for(replica.has_v05_layout, 20, lambda: f"0.5.17 to upload its own layout: {replica.names()}")
        run.signal(signal.SIGTERM)
        rc = run.wait(30)
    assert rc == 0, f"exit code {rc}; stderr:\n{run.stderr}"
    assert seen == {"count": len(before), "tables": ["rows"]}, f"the app's first read saw {seen}:\n{run.stderr}"
    assert f"restored {db}" in run.stderr, run.stderr
    assert read_rows(db)[:len(before)] == before
    assert run.lsinit_lines("ERROR") == [], run.stderr


def test_05_refuses_an_sftp_replica_holding_only_03_backups(lsinit_bin, litestream03, litestream05, request,
                                                            tmp_path):
    """0.5.17's sftp client sees the 0.3 layout as an empty replica. Starting
    would put an empty database over the backup, so lsinit refuses: exit 69,
    app never started, one ERROR line about 0.3 and how to migrate, no
    database file, and nothing of 0.5 written to the replica."""
    replica = Upgrade("sftp", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    backup_with_03(litestream03, replica, db, tmp_path)
    held = replica.names()
    marker = tmp_path / "app-started"
    with LsinitRun(lsinit_bin, ["--", *marker_cmd(marker)], lsinit_env(replica, db), tmp_path) as run:
        rc = run.wait(90)
    assert rc == EXIT_RESTORE, f"exit code {rc} (want {EXIT_RESTORE}); stderr:\n{run.stderr}"
    assert not marker.exists(), "the app was started over a replica holding only 0.3 backups"
    errors = run.lsinit_lines("ERROR")
    assert len(errors) == 1, f"expected one ERROR line:\n{run.stderr}"
    line = errors[0]
    assert "0.3" in line and str(db) in line, line
    assert "install-litestream" in line or "LSINIT_LITESTREAM" in line, f"no migration hint: {line}"
    leftovers = sorted(p.name for p in db.parent.iterdir()) if db.parent.exists() else []
    assert not db.exists() and [n for n in leftovers if n.startswith(db.name)] == [], (
        f"database files were created: {leftovers}")
    assert replica.names() == held, "lsinit or Litestream 0.5 changed the replica"
    assert not replica.has_v05_layout()


def test_05_starts_fresh_on_an_empty_sftp_replica(lsinit_bin, litestream05, request, tmp_path):
    """No backup at all on the SFTP replica: 0.5.17 starts the app on a new
    database (no refusal) and uploads it in its own layout."""
    replica = Upgrade("sftp", request, tmp_path)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    with LsinitRun(lsinit_bin, ["--", *writer_cmd(db, state, "0")], lsinit_env(replica, db), tmp_path) as run:
        def ready():
            assert run.proc.poll() is None, f"lsinit exited {run.proc.returncode}:\n{run.stderr[-4000:]}"
            return (state / "ready").exists()
        wait_for(ready, 40, lambda: f"the app to start; lsinit stderr:\n{run.stderr[-4000:]}")
        seen = json.loads((state / "count").read_text())
        wait_for(replica.has_v05_layout, 20, lambda: f"0.5.17 to upload: {replica.names()}")
        run.signal(signal.SIGTERM)
        rc = run.wait(30)
    assert rc == 0, f"exit code {rc}; stderr:\n{run.stderr}"
    assert seen["count"] == 0
    assert f"no backup of {db} exists yet" in run.stderr, run.stderr
    assert run.lsinit_lines("ERROR") == [], run.stderr
    assert replica.generations() == []
