"""The apps of tests/integration/test_follower.py.

app DB STATE      what a container would run: writer under LSINIT_ROLE=primary (or
                  unset), reader under follower and standby (a standby that takes
                  over restarts it with LSINIT_ROLE=primary).
writer DB STATE   the primary's app: a row (seq, t) every 20 ms; after each commit
                  appends "seq t" to STATE/acks; STATE/ready after the first. With
                  FOLLOW_APP_LSINIT set (lsinit's binary) it also runs `lsinit sync
                  -wait DB` every 300 ms and appends every row committed before a
                  sync that succeeded to STATE/durable: the writes the replica is
                  known to hold, which no failover may lose.
reader DB STATE   a follower's app: one connection for its whole life, as a web app
                  keeps one. Every 50 ms a read transaction checks that the rows it
                  sees are whole (count = max - min + 1: the writer never leaves a
                  hole) and appends "t max" to STATE/seen when max changed; every 2 s
                  PRAGMA quick_check. Anything else goes to STATE/errors. When
                  STATE/try-write appears it tries an INSERT and writes what
                  SQLite answered to STATE/write-result.
"""
import os
import pathlib
import sqlite3
import subprocess
import sys
import threading
import time


def durable_acks(db, state, committed):
    """Every 300 ms: `lsinit sync -wait` (Litestream 0.5's control socket); rows committed before it are durable."""
    lsinit = os.environ["FOLLOW_APP_LSINIT"]
    done = 0
    with open(state / "durable", "a", buffering=1) as out:
        while True:
            hi = committed[0]
            r = subprocess.run([lsinit, "sync", "-wait", "-timeout", "5", db], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0 and hi > done:
                out.write("".join(f"{s}\n" for s in range(done + 1, hi + 1)))
                done = hi
            time.sleep(0.3)


def writer(db, state):
    con = sqlite3.connect(db, isolation_level=None, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS w(seq INTEGER PRIMARY KEY, t REAL NOT NULL)")
    seq = con.execute("SELECT coalesce(max(seq), 0) FROM w").fetchone()[0]
    committed = [seq]
    if os.environ.get("FOLLOW_APP_LSINIT"):
        threading.Thread(target=durable_acks, args=(db, state, committed), daemon=True).start()
    with open(state / "acks", "a", buffering=1) as acks:
        while True:
            seq += 1
            t = time.time()
            con.execute("INSERT INTO w(seq, t) VALUES (?, ?)", (seq, t))
            acks.write(f"{seq} {t:.6f}\n")
            committed[0] = seq
            if seq == 1 or not (state / "ready").exists():
                (state / "ready").write_text(str(os.getpid()))
            time.sleep(0.02)


def reader(db, state):
    con = sqlite3.connect(db, isolation_level=None, timeout=5)
    last_check = 0.0
    last_max = None
    with open(state / "seen", "a", buffering=1) as seen, open(state / "errors", "a", buffering=1) as errors:
        (state / "ready").write_text(str(os.getpid()))
        while True:
            now = time.time()
            try:
                con.execute("BEGIN")
                n, lo, hi = con.execute("SELECT count(*), min(seq), max(seq) FROM w").fetchone()
                con.execute("COMMIT")
                if n and n != hi - lo + 1:
                    errors.write(f"{now:.3f} torn read: {n} rows between {lo} and {hi}\n")
                if hi != last_max:
                    seen.write(f"{now:.6f} {hi}\n")
                    last_max = hi
                if now - last_check > 2:
                    last_check = now
                    r = con.execute("PRAGMA quick_check").fetchone()[0]
                    if r != "ok":
                        errors.write(f"{now:.3f} quick_check: {r}\n")
            except sqlite3.Error as e:
                errors.write(f"{now:.3f} {type(e).__name__}: {e}\n")
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            trigger = state / "try-write"
            if trigger.exists():
                try:
                    con.execute("INSERT INTO w(seq, t) VALUES (-1, 0)")
                    result = "written"
                except sqlite3.Error as e:
                    result = f"{type(e).__name__}: {e}"
                (state / "write-result").write_text(result + "\n")
                trigger.unlink()
            time.sleep(0.05)


if __name__ == "__main__":
    role, path, st = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    st.mkdir(parents=True, exist_ok=True)
    os.chdir(st)
    if role == "app":
        role = "writer" if os.environ.get("LSINIT_ROLE", "primary") == "primary" else "reader"
        (st / "roles").open("a").write(f"{os.getpid()} {role}\n")
    {"writer": writer, "reader": reader}[role](path, st)
