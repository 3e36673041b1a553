"""App for bench/run's stop budget (B8): a steady writer with a write in its TERM handler.

    python3 stopapp.py DB STATE

Opens DB (WAL mode) and writes one row every 50 ms, each in its own
transaction. After each COMMIT it appends the row's number to STATE/acks and
fsyncs that file, so STATE/acks lists exactly the writes the app saw
acknowledged. It writes STATE/ready after the first acknowledged row. On
SIGTERM (or SIGINT) it writes one more row (kind 'term', the drain of a real
app), acknowledges it and exits 143 (128 + SIGTERM), like a JVM or a Node app
that drains on TERM. Whether every acknowledged row reaches the replica is what
the benchmark checks.

The signals are blocked and taken with sigtimedwait() between writes, so the
handler's write starts at once and never interleaves with a tick's.
"""
import os
import signal
import sqlite3
import sys
import time

PERIOD = 0.050
SAFETY_SECONDS = 600  # no app outlives a broken benchmark for long


def main():
    db_path, state = sys.argv[1], sys.argv[2]
    sigs = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    db = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS stoprows(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, t REAL NOT NULL)")
    acks = os.open(os.path.join(state, "acks"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    seq = 0

    def write(kind):
        nonlocal seq
        seq += 1
        db.execute("INSERT INTO stoprows(seq, kind, t) VALUES (?, ?, ?)", (seq, kind, time.time()))
        os.write(acks, b"%d\n" % seq)  # acknowledged only after the commit
        os.fsync(acks)

    write("start")
    tmp = os.path.join(state, "ready.tmp")
    with open(tmp, "w") as fh:
        fh.write(str(os.getpid()))
    os.replace(tmp, os.path.join(state, "ready"))
    deadline = time.monotonic() + SAFETY_SECONDS
    next_at = time.monotonic() + PERIOD
    while time.monotonic() < deadline:
        info = signal.sigtimedwait(sigs, max(0.0, next_at - time.monotonic()))
        if info is not None:
            write("term")
            os._exit(143)
        write("tick")
        next_at += PERIOD
    os._exit(99)


if __name__ == "__main__":
    main()
