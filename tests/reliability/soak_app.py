"""Test apps for the reliability suites (stdlib only: run as a script under
lsinit, under a bare ``litestream replicate -exec`` and under the shim).

``python3 soak_app.py writer DB STATE EXIT CYCLE``
    Writes continuously: one row per iteration (a random 200-2000 byte
    payload), every ~2 ms. After each COMMIT it appends "CYCLE SEQ\\n" to
    STATE/acks and fsyncs that file, so STATE/acks lists exactly the writes the
    app saw acknowledged (a row is never acknowledged before its commit). It
    writes STATE/ready (its pid) after the first acknowledged row. On
    TERM/INT it makes one more write in its handler path (kind 'last'),
    acknowledges it, writes STATE/stopped (the signal number) and exits with
    EXIT: a number, or ``signal`` to die by the signal it got. Rows are keyed
    by (cycle, seq), never by rowid, so a lost row cannot hide behind a reused
    id after a restore.

``python3 soak_app.py probe STATE``
    A signal-latency probe that does no I/O of its own between signals: it
    blocks USR1, USR2, TERM and INT and waits for them with sigwaitinfo().
    USR1: appends time.monotonic_ns() to STATE/usr1 (CLOCK_MONOTONIC is shared
    by every process on the host, so the test compares it with its own send
    time). USR2: forks a middle process that forks N orphans (N read from
    STATE/orphans, default 1) and exits at once; each orphan appends
    "PID MONOTONIC_NS" to STATE/orphan-exits right before _exit(0), so the
    test can time how long each stays a zombie. TERM/INT: exit 0.
"""
import os
import pathlib
import random
import signal
import sqlite3
import sys
import time

SAFETY_SECONDS = 1800  # no app outlives a broken test for long (the long kill test runs ~9 min)


def _append_sync(fd, line):
    os.write(fd, line.encode())
    os.fsync(fd)


def _atomic_write(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def writer(db, state, exit_mode, cycle):
    state = pathlib.Path(state)
    con = sqlite3.connect(db, isolation_level=None, timeout=30)
    con.execute("PRAGMA busy_timeout=30000")
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.execute("CREATE TABLE IF NOT EXISTS soak (id INTEGER PRIMARY KEY, cycle INTEGER NOT NULL, "
                "seq INTEGER NOT NULL, kind TEXT NOT NULL, payload BLOB, UNIQUE (cycle, seq))")
    acks = os.open(state / "acks", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    me = os.getpid()
    stop = []
    signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
    signal.signal(signal.SIGINT, lambda s, f: stop.append(s))
    rnd = random.Random(me)
    seq = 0

    def write(kind):
        nonlocal seq
        seq += 1
        con.execute("INSERT INTO soak (cycle, seq, kind, payload) VALUES (?, ?, ?, ?)",
                    (cycle, seq, kind, rnd.randbytes(rnd.randint(200, 2000))))
        _append_sync(acks, f"{cycle} {seq}\n")  # acknowledged only after the commit

    write("start")
    _atomic_write(state / "ready", str(me))
    deadline = time.monotonic() + SAFETY_SECONDS
    while not stop and time.monotonic() < deadline:
        write("tick")
        time.sleep(0.002)
    if not stop:
        os._exit(99)
    sig = stop[0]
    write("last")  # the stop handler's write: what litestream -exec alone loses after a non-zero exit
    _atomic_write(state / "stopped", f"{sig}\n")
    if exit_mode == "signal":
        con.close()
        signal.signal(sig, signal.SIG_DFL)
        os.kill(me, sig)
        time.sleep(5)
        os._exit(98)  # the signal did not kill us
    os._exit(int(exit_mode))  # no close: the WAL stays, as after a crash-y exit


def probe(state):
    state = pathlib.Path(state)
    sigs = {signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    usr1 = os.open(state / "usr1", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    exits = str(state / "orphan-exits")
    _atomic_write(state / "ready", str(os.getpid()))
    deadline = time.monotonic() + SAFETY_SECONDS
    while time.monotonic() < deadline:
        info = signal.sigtimedwait(sigs, 1.0)
        if info is None:
            continue
        now = time.monotonic_ns()
        if info.si_signo == signal.SIGUSR1:
            os.write(usr1, b"%d\n" % now)
        elif info.si_signo == signal.SIGUSR2:
            try:
                n = int((state / "orphans").read_text())
            except (OSError, ValueError):
                n = 1
            middle = os.fork()
            if middle == 0:
                for _ in range(n):
                    if os.fork() == 0:
                        fd = os.open(exits, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                        time.sleep(0.05)  # outlive the middle process: become an orphan first
                        os.write(fd, b"%d %d\n" % (os.getpid(), time.monotonic_ns()))
                        os._exit(0)
                os._exit(0)
            os.waitpid(middle, 0)
        else:
            os._exit(0)
    os._exit(99)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "writer":
        writer(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) == 3 and sys.argv[1] == "probe":
        probe(sys.argv[2])
    else:
        sys.exit(f"usage: {sys.argv[0]} writer DB STATE EXIT CYCLE | probe STATE")
