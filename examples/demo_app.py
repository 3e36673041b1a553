#!/usr/bin/env python3
"""The demo app lsinit runs in `scripts/demo`: a tiny SQLite writer.

It counts the rows it finds at start (so a restore is visible), writes one row
every 200 ms, and on SIGTERM/SIGINT writes a last 'goodbye' row in its signal
handler and exits 143 - the case in which bare `litestream replicate -exec`
skips its final sync and loses that row.
"""
import os
import signal
import sqlite3
import sys
import time

db_path = os.environ.get("DEMO_DB", "/tmp/lsinit-demo/data/demo.db")
db = sqlite3.connect(db_path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA busy_timeout=5000")
db.execute("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, note TEXT, at REAL)")
rows = db.execute("SELECT count(*) FROM visits").fetchone()[0]
goodbyes = db.execute("SELECT count(*) FROM visits WHERE note = 'goodbye'").fetchone()[0]
print(f"demo app: started with {rows} rows ({goodbyes} written by earlier signal handlers)", flush=True)


def stop(signum, _frame):
    db.execute("INSERT INTO visits (note, at) VALUES ('goodbye', ?)", (time.time(),))
    print(f"demo app: got signal {signum}, wrote 'goodbye', exiting 143", flush=True)
    sys.exit(143)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
while True:
    db.execute("INSERT INTO visits (note, at) VALUES ('tick', ?)", (time.time(),))
    time.sleep(0.2)
