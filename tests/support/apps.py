"""Small test apps for lsinit, and the commands that start them.

Run as a script, this file *is* the app: ``python3 apps.py ROLE ARGS...``
(stdlib only and no other support module, so it runs the same under lsinit,
litestream and the shim, with nothing on sys.path). Imported, it gives the
tests the commands (``writer_cmd`` ...) and ``read_rows``.

Roles (every app talks to the test through files in a state directory):

* ``writer DB STATE EXIT [BULK_KB]``: opens DB (WAL, busy_timeout), inserts a 'tick'
  row every 50 ms, writes STATE/ready (its pid) after the first commit and
  STATE/count (rows found at start-up). A file STATE/write-NAME makes it
  insert a row of kind NAME and answer with STATE/wrote-NAME. HUP, USR1,
  USR2 and WINCH are appended to STATE/signals. On TERM/INT it inserts a
  'last-write' row, then exits with EXIT (a number) or, with EXIT=signal,
  re-raises the signal with its default disposition. BULK_KB first commits
  that much random data in one transaction, and the app then leaves its WAL
  behind when it stops (no close), so litestream's first upload is big.
* ``argv OUT ARGS...``: writes the hex of every byte string in ARGS to OUT.
* ``env OUT``: writes its environment (JSON, hex-encoded bytes) to OUT.
* ``marker OUT``: creates OUT and exits 0 (proves an app was started).
* ``once DB``: creates DB (WAL), commits one 'once' row and exits 0 at once,
  long before Litestream's first monitor tick (litestream #436).
* ``busy DB STATE TERM_SLEEP`` (the health and verification tests): opens DB
  (WAL) and commits a 'tick' row every 50 ms; writes STATE/ready (its pid)
  after the first commit. HUP/USR1/USR2/WINCH are appended to STATE/signals.
  A file STATE/orphans-N makes it fork a child that forks N grandchildren and
  exits at once, so the grandchildren become orphans (they live 0.3 s); it
  answers with STATE/spawned-N. On TERM/INT it writes STATE/term, sleeps
  TERM_SLEEP seconds (an app draining its requests), writes STATE/drained and
  exits 0.
"""
import json
import os
import pathlib
import signal
import sqlite3
import sys
import time

PY = "/usr/bin/python3"
APPS = str(pathlib.Path(__file__).resolve())
LAST_WRITE = "last-write"
SAFETY_SECONDS = 90  # no app outlives a broken test for long


# ---------------------------------------------------------------- the apps

def _open_db(path):
    con = sqlite3.connect(path, isolation_level=None, timeout=10)
    con.execute("PRAGMA busy_timeout=10000")
    mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    assert mode == "wal", mode
    con.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, pid INTEGER, at REAL)")
    return con


def _atomic_write(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def app_writer(db, state, exit_mode, bulk_kb=0):
    state = pathlib.Path(state)
    con = _open_db(db)
    me = os.getpid()
    if bulk_kb:
        # One big transaction, left in the WAL: litestream's first sync is slow.
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("CREATE TABLE IF NOT EXISTS bulk (b BLOB)")
        con.execute("BEGIN")
        for _ in range(bulk_kb // 64):
            con.execute("INSERT INTO bulk VALUES (?)", (os.urandom(64 * 1024),))
        con.execute("COMMIT")

    def insert(kind):
        con.execute("INSERT INTO rows (kind, pid, at) VALUES (?, ?, ?)", (kind, me, time.time()))

    def record(sig, frame):
        with open(state / "signals", "a") as f:
            f.write(f"{sig}\n")

    def stop(sig, frame):
        insert(LAST_WRITE)
        if not bulk_kb:
            con.close()  # the last connection to close checkpoints and deletes the WAL
        with open(state / "stopped", "w") as f:
            f.write(f"{sig}\n")
        if exit_mode == "signal":
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(me, sig)
            time.sleep(5)
            os._exit(98)  # the signal did not kill us
        os._exit(int(exit_mode))

    for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
        signal.signal(s, record)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    count = con.execute("SELECT count(*) FROM rows").fetchone()[0]
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE '\\_litestream\\_%' ESCAPE '\\' "
        "ORDER BY name")]  # litestream's own tables do not count
    _atomic_write(state / "count", json.dumps({"count": count, "tables": tables}))
    insert("start")
    _atomic_write(state / "ready", str(me))
    deadline = time.monotonic() + SAFETY_SECONDS
    done = set()
    while time.monotonic() < deadline:
        insert("tick")
        for entry in os.listdir(state):
            if entry.startswith("write-") and entry not in done:
                insert(entry[len("write-"):])
                done.add(entry)
                (state / ("wrote-" + entry[len("write-"):])).touch()
        time.sleep(0.05)
    os._exit(99)


def app_argv(out, args):
    _atomic_write(out, json.dumps([os.fsencode(a).hex() for a in args]))


def app_env(out):
    env = {os.fsencode(k).hex(): os.fsencode(v).hex() for k, v in os.environ.items()}
    _atomic_write(out, json.dumps(env))


def app_once(db):
    db = pathlib.Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db))
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, kind TEXT, pid INTEGER)")
    con.execute("INSERT INTO rows (kind, pid) VALUES ('once', ?)", (os.getpid(),))
    con.commit()
    con.close()


def app_busy(db, state, term_sleep):
    state = pathlib.Path(state)
    con = sqlite3.connect(db, isolation_level=None, timeout=10)
    con.execute("PRAGMA busy_timeout=10000")
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, kind TEXT, at REAL)")

    def record(sig, frame):
        with open(state / "signals", "a") as f:
            f.write(f"{sig}\n")

    def stop(sig, frame):
        (state / "term").write_text(f"{sig}\n")
        time.sleep(term_sleep)
        con.execute("INSERT INTO rows (kind, at) VALUES ('last-write', ?)", (time.time(),))
        con.close()
        (state / "drained").touch()
        os._exit(0)

    for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
        signal.signal(s, record)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    con.execute("INSERT INTO rows (kind, at) VALUES ('start', ?)", (time.time(),))
    (state / "ready.tmp").write_text(str(os.getpid()))
    os.replace(state / "ready.tmp", state / "ready")
    done = set()
    deadline = time.monotonic() + SAFETY_SECONDS
    while time.monotonic() < deadline:
        con.execute("INSERT INTO rows (kind, at) VALUES ('tick', ?)", (time.time(),))
        for entry in os.listdir(state):
            if entry.startswith("orphans-") and entry not in done:
                done.add(entry)
                _spawn_orphans(int(entry[len("orphans-"):]))
                (state / ("spawned-" + entry[len("orphans-"):])).touch()
        time.sleep(0.05)
    os._exit(99)


def _spawn_orphans(n):
    middle = os.fork()
    if middle == 0:
        try:
            for _ in range(n):
                if os.fork() == 0:
                    time.sleep(0.3)
                    os._exit(0)
        finally:
            os._exit(0)
    os.waitpid(middle, 0)  # the grandchildren are orphans now: lsinit's to reap


def main(argv):
    role = argv[1]
    if role == "writer":
        app_writer(argv[2], argv[3], argv[4], int(argv[5]) if len(argv) > 5 else 0)
    elif role == "argv":
        app_argv(argv[2], argv[3:])
    elif role == "env":
        app_env(argv[2])
    elif role == "marker":
        pathlib.Path(argv[2]).touch()
    elif role == "once":
        app_once(argv[2])
    elif role == "busy":
        app_busy(argv[2], argv[3], float(argv[4]))
    else:
        sys.exit(f"apps.py: unknown role {role!r}")


def writer_cmd(db, state, exit_mode="0", bulk_kb=0):
    return [PY, APPS, "writer", str(db), str(state), str(exit_mode)] + ([str(bulk_kb)] if bulk_kb else [])


def marker_cmd(path):
    return [PY, APPS, "marker", str(path)]


def once_cmd(db):
    return [PY, APPS, "once", str(db)]


def busy_cmd(db, state, term_sleep=0):
    return [PY, APPS, "busy", str(db), str(state), str(term_sleep)]


def expected_code(exit_mode, sig):
    """lsinit's exit code when its app (writer, or the soak writer) stops on sig with exit_mode."""
    return 128 + int(sig) if exit_mode == "signal" else int(exit_mode)


def read_rows(db):
    """(id, kind, pid) of every row of a writer/once database, after checking its integrity."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return con.execute("SELECT id, kind, pid FROM rows ORDER BY id").fetchall()
    finally:
        con.close()


if __name__ == "__main__":
    main(sys.argv)
