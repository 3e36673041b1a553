"""B9, bare Litestream under the soak writer: what `litestream replicate
-exec` alone (no lsinit) loses when it is stopped the way the stop soak stops
lsinit. Recorded, never asserted: it is the comparison for
tests/reliability/test_stop_soak.py, where the same writer under lsinit loses
nothing. (It was test_bare_litestream_exec_for_comparison there.)

Per Litestream version: one database and one file replica (sync-interval
200ms); per cycle the writer (tests/reliability/soak_app.py) runs under bare
`replicate -exec`, exits with the cycle's code (or dies by the signal) after
the cycle's signal, sent 0.3 s after Litestream's first upload of the cycle.
Then the whole replica is restored and checked, and every write the app ever
saw acknowledged (minus the ones already counted lost) is looked up in it.
"""
import os
import random
import shlex
import signal
import sqlite3
import subprocess
import time

from . import settings as S
from .markdown import fragment, table
from .runner import log, ls_env, uploads, wait_for, write_config

EXIT_MODES = ("0", "1", "143", "130", "signal")
SHORT_PLAN = [("1", signal.SIGTERM), ("143", signal.SIGTERM), ("0", signal.SIGTERM), ("signal", signal.SIGTERM)]
SYNC_INTERVAL = "200ms"
WRITE_AFTER_UPLOAD_S = 0.3


def plan():
    """(exit mode, signal) per cycle: the 4 fixed ones, or 12 seeded at random."""
    if not S.BARE_SOAK_LONG:
        return SHORT_PLAN
    rng = random.Random(7)
    return [(rng.choice(EXIT_MODES), rng.choice((signal.SIGTERM, signal.SIGINT))) for _ in range(12)]


def app_code(exit_mode, sig):
    return 128 + int(sig) if exit_mode == "signal" else int(exit_mode)


def read_acks(state):
    """{(cycle, seq)} the app saw acknowledged (a torn last line is ignored)."""
    try:
        with open(os.path.join(state, "acks")) as fh:
            text = fh.read()
    except FileNotFoundError:
        return set()
    out = set()
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) == 2:
            out.add((int(parts[0]), int(parts[1])))
    return out


def restored_rows(v, conf, db, out):
    """({(cycle, seq)} in a fresh restore of the replica, error or None)."""
    os.makedirs(os.path.dirname(out))
    r = subprocess.run([S.LS_BINS[v], "restore", "-config", conf, "-o", out, db], env=ls_env(v),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return set(), f"litestream restore exit {r.returncode}: {r.stderr.strip()[-200:]}"
    con = sqlite3.connect(f"file:{out}?mode=ro", uri=True, timeout=30)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            return set(), f"integrity_check: {integrity[:200]}"
        return {(c, s) for c, s in con.execute("SELECT cycle, seq FROM soak")}, None
    except sqlite3.DatabaseError as e:
        return set(), f"{e}"[:200]
    finally:
        con.close()


def run_version(work, v):
    d = os.path.join(work, f"b9-{v}")
    db = os.path.join(d, "data", "app.db")
    rep = os.path.join(d, "replica")
    os.makedirs(os.path.dirname(db))
    conf = os.path.join(d, "litestream.yml")
    write_config(conf, [(db, rep)], v, sync_interval=SYNC_INTERVAL)
    acked_all, rows = set(), []
    for i, (exit_mode, sig) in enumerate(plan()):
        state = os.path.join(d, f"cycle{i}")
        os.makedirs(state)
        exec_cmd = shlex.join([S.PYTHON, S.SOAK_APP, "writer", db, state, exit_mode, str(i)])
        with open(os.path.join(state, "litestream.log"), "wb") as lg:
            p = subprocess.Popen([S.LS_BINS[v], "replicate", "-config", conf, "-exec", exec_cmd], env=ls_env(v),
                                 stdin=subprocess.DEVNULL, stdout=lg, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_for(lambda: os.path.exists(os.path.join(state, "ready")), 30,
                         f"B9 {v} cycle {i}: the writer under bare litestream")
                before = uploads(rep, v)
                wait_for(lambda: uploads(rep, v) > before, 30, f"B9 {v} cycle {i}: bare litestream to upload")
                time.sleep(WRITE_AFTER_UPLOAD_S)
                p.send_signal(sig)
                rc = p.wait(60)
            finally:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(10)
        acked = read_acks(state)
        acked_all |= acked
        got, restore_error = restored_rows(v, conf, db, os.path.join(d, f"restored-{i}", "restored.db"))
        lost = acked_all - got
        last = max((s for c, s in acked if c == i), default=None)
        rows.append({"exit": exit_mode, "signal": signal.Signals(sig).name[3:], "litestream_rc": rc,
                     "app_code": app_code(exit_mode, sig), "acked": len(acked), "lost": len(lost),
                     "last_write_lost": (i, last) in lost, "restore_error": restore_error})
        acked_all -= lost  # count each loss once: later cycles compare with what survived
    return {
        "cycles": len(rows),
        "acked": sum(r["acked"] for r in rows),
        "lost_writes": sum(r["lost"] for r in rows),
        "cycles_losing_last_write": sum(r["last_write_lost"] for r in rows),
        "nonzero_exits": sum(r["app_code"] != 0 for r in rows),
        "exit_code_matched": sum(r["litestream_rc"] == r["app_code"] for r in rows),
        "restores_failing": sum(r["restore_error"] is not None for r in rows),
        "per_cycle": rows,
    }


def run(work, R):
    log(f"B9 bare litestream replicate -exec under the soak writer, {len(plan())} stop cycles per version")
    R["bare_soak"] = {v: run_version(work, v) for v in S.LS_VERSIONS}


# ---------------------------------------------------------------- report

def blocks(R, work):
    res = R.get("bare_soak")
    if not res:
        return {}
    rows = []
    for v in S.LS_VERSIONS:
        for i, c in enumerate(res[v]["per_cycle"]):
            rows.append([v, i, c["signal"], c["exit"], c["app_code"], c["litestream_rc"], f"{c['lost']:,}",
                         "yes" if c["last_write_lost"] else "no", c["restore_error"] or "ok"])
    versions = [fragment("b9_version", version=v, lost=f"{r['lost_writes']:,}", acked=f"{r['acked']:,}",
                         cycles=r["cycles"], last=r["cycles_losing_last_write"], nonzero=r["nonzero_exits"],
                         matched=r["exit_code_matched"], restores=r["restores_failing"])
                for v, r in res.items()]
    return {"b9": {"cycles": len(plan()), "plan": fragment("b9_plan_long" if S.BARE_SOAK_LONG else "b9_plan_short"),
                   "sync_interval": SYNC_INTERVAL, "after": WRITE_AFTER_UPLOAD_S,
                   "table": table(["Litestream", "cycle", "signal", "app exit", "app's code", "Litestream's exit",
                                   "writes lost", "the handler's last write lost", "restore"], rows),
                   "versions": "\n".join(versions)}}
