"""Part E's apps (bench/followers.py), run by lsinit as PID 1 of their own PID namespace.

writer DB STATE   E1, the primary's app: creates w(seq, t) and writes STATE/ready, then waits for
                  STATE/go ("PHASE RATE SECONDS"): one row per transaction (autocommit INSERT, WAL,
                  synchronous=NORMAL as Litestream recommends) on a fixed schedule of RATE rows/s for
                  SECONDS, each row's acknowledgement time (time.time() once the INSERT returned) kept
                  in memory, then STATE/acks-PHASE ("seq t" lines) and STATE/done-PHASE. Waits for the
                  next go.
reader DB STATE   E1, a follower's app: one connection for its whole life, as a web app keeps one;
                  every POLL_MS ms `SELECT max(seq) FROM w` (one read transaction) and, when the
                  answer changed, "t max" appended to STATE/seen (t: time.time() once the SELECT
                  returned). STATE/ready once it runs.
app DB STATE      E2: writer-lite under LSINIT_ROLE=primary (or unset): a row every 50 ms, "seq t"
                  appended to STATE/acks after each commit; reader-lite under standby (a SELECT every
                  50 ms). Each start appends "pid role" to STATE/roles: a standby that takes over
                  restarts the app with LSINIT_ROLE=primary.
"""
import os
import signal
import sqlite3
import sys
import time


def connect_rw(db):
    con = sqlite3.connect(db, isolation_level=None, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS w(seq INTEGER PRIMARY KEY, t REAL NOT NULL)")
    return con


def put(path, text):
    with open(path + ".tmp", "w") as fh:
        fh.write(text)
    os.rename(path + ".tmp", path)


def writer(db, state):
    con = connect_rw(db)
    seq = con.execute("SELECT coalesce(max(seq), 0) FROM w").fetchone()[0]
    put(os.path.join(state, "ready"), str(os.getpid()))
    go, done = os.path.join(state, "go"), set()
    while True:
        try:
            with open(go) as fh:
                phase, rate, seconds = fh.read().split()
        except (OSError, ValueError):
            time.sleep(0.01)
            continue
        if phase in done:
            time.sleep(0.01)
            continue
        rate, n = float(rate), int(float(rate) * float(seconds))
        acks = []
        t0 = time.time()
        for i in range(n):
            wait = t0 + i / rate - time.time()
            if wait > 0:
                time.sleep(wait)
            seq += 1
            con.execute("INSERT INTO w(seq, t) VALUES (?, ?)", (seq, time.time()))
            acks.append((seq, time.time()))
        put(os.path.join(state, f"acks-{phase}"), "".join(f"{s} {t:.6f}\n" for s, t in acks))
        put(os.path.join(state, f"done-{phase}"), f"{t0:.6f} {time.time():.6f}\n")
        done.add(phase)


def reader(db, state, poll):
    con = sqlite3.connect(db, isolation_level=None, timeout=5)
    last = None
    put(os.path.join(state, "ready"), str(os.getpid()))
    with open(os.path.join(state, "seen"), "a", buffering=1) as seen:
        while True:
            try:
                hi = con.execute("SELECT max(seq) FROM w").fetchone()[0]
            except sqlite3.Error:
                hi = None
            if hi is not None and hi != last:
                seen.write(f"{time.time():.6f} {hi}\n")
                last = hi
            time.sleep(poll)


def app(db, state):
    role = os.environ.get("LSINIT_ROLE", "primary")
    with open(os.path.join(state, "roles"), "a") as fh:
        fh.write(f"{os.getpid()} {role} {time.time():.6f}\n")
    if role != "primary":
        con = sqlite3.connect(db, isolation_level=None, timeout=5)
        while True:
            try:
                con.execute("SELECT max(seq) FROM w").fetchone()
            except sqlite3.Error:
                pass
            time.sleep(0.05)
    con = connect_rw(db)
    seq = con.execute("SELECT coalesce(max(seq), 0) FROM w").fetchone()[0]
    with open(os.path.join(state, "acks"), "a", buffering=1) as acks:
        while True:
            seq += 1
            con.execute("INSERT INTO w(seq, t) VALUES (?, ?)", (seq, time.time()))
            acks.write(f"{seq} {time.time():.6f}\n")
            time.sleep(0.05)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    kind, path, st = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(st, exist_ok=True)
    if kind == "reader":
        reader(path, st, float(sys.argv[4]) / 1000)
    else:
        {"writer": writer, "app": app}[kind](path, st)
