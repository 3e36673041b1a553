"""App for bench/run benchmark B7 (shutdown with a final write).

    python3 termapp.py DB READY_FILE

Opens DB (WAL mode), writes a 'start' row, creates READY_FILE and waits. On
SIGTERM it writes a 'term' row, commits and exits 143 (128 + SIGTERM), like
a JVM or a Node app that drains on TERM. Whether that last row reaches the
replica is what the benchmark checks.
"""
import os
import signal
import sqlite3
import sys


def main():
    db_path, ready = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO events(v) VALUES ('start')")

    def on_term(signum, frame):
        db.execute("INSERT INTO events(v) VALUES ('term')")
        db.close()
        os._exit(143)

    signal.signal(signal.SIGTERM, on_term)
    with open(ready, "w") as f:
        f.write(str(os.getpid()))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
