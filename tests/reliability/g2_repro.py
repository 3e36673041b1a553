"""G2 (docs/reliability.md): reproduce, without lsinit, a Litestream 0.5 replica that restores to a
copy failing integrity_check after many short `litestream replicate -exec` runs on one database.

    PYTHONPATH=tests /usr/bin/python3 tests/reliability/g2_repro.py [LITESTREAM_BIN] [CYCLES]

(from the repository root: PYTHONPATH=tests makes the helpers in tests/support importable).

Each cycle: bare `litestream replicate -exec "<soak writer>"` on a file replica (200 ms sync
interval), SIGTERM after 0-2.5 s (the writer exits 0, so Litestream runs its final sync), then a
restore of the whole replica and `PRAGMA integrity_check` on it. Stops at the first bad restore and
prints the cycle. Not collected by pytest (a reproduction for upstream, not a test of lsinit).
Seen with 0.5.17 at cycle 18 of one 100-cycle run; other runs stay clean: it is timing-dependent.
"""
import pathlib
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from support import ROOT
from support import reliability as rel
from support.litestream import write_litestream_config


def main():
    ls = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".deps/litestream/0.5.17/litestream")
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    base = pathlib.Path(tempfile.mkdtemp(prefix="g2-"))
    replica = rel.make_replica("file", base)
    db = base / "data" / "app.db"
    db.parent.mkdir()
    cfg = write_litestream_config(base / "litestream.yml", db, dict(replica.ls_replica, **{"sync-interval": "200ms"}))
    rng = random.Random(1)
    for i in range(cycles):
        state = base / f"c{i}"
        state.mkdir()
        exec_cmd = " ".join(rel.writer_cmd(db, state, "0", i))
        with open(state / "litestream.log", "wb") as log:
            p = subprocess.Popen([ls, "replicate", "-config", cfg, "-exec", exec_cmd],
                                 env={"PATH": rel.SYSTEM_PATH, "HOME": "/root"}, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            rel.wait_for(lambda: (state / "ready").exists(), 30, "the writer")  # noqa: B023
            time.sleep(rng.choice((0.0, rng.uniform(0.0, 0.6), rng.uniform(0.6, 2.5))))
            p.send_signal(signal.SIGTERM)
            rc = p.wait(60)
        out = base / f"restored-{i}.db"
        r = subprocess.run([ls, "restore", "-config", cfg, "-o", str(out), str(db)], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"cycle {i}: litestream exit {rc}; restore failed: {r.stderr.strip()[-200:]}", flush=True)
            continue  # e.g. a first cycle stopped before Litestream's first sync
        try:
            con = sqlite3.connect(str(out))
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
            con.close()
        except sqlite3.DatabaseError as e:
            result = str(e)
        print(f"cycle {i}: litestream exit {rc}; restored copy: {result[:80]}", flush=True)
        if result != "ok":
            print(f"G2 reproduced at cycle {i}; replica kept in {replica.folder}")
            return 1
        out.unlink()
    shutil.rmtree(base)
    print(f"no bad restore in {cycles} cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
