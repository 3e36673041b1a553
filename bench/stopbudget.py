"""B8, the stop budget: SIGTERM -> exit by sync interval, lsinit vs bare
`litestream replicate -exec`, on every Litestream version.

For each LSINIT_SYNC_INTERVAL (the replica's sync-interval in the bare config),
each Litestream version and each supervisor, RUNS times round robin: a fresh
database and file replica; the app (bench/stopapp.py) writes a row every 50 ms
and one more in its SIGTERM handler, then exits 143. Once the app is up and
Litestream has uploaded its first file, the app writes for RUN_S more seconds,
then the top process gets SIGTERM and the time to its exit is taken. Afterwards
`litestream restore -config C -o OUT DB` restores the replica and the rows the
app acknowledged (STATE/acks) are looked up in it.
"""
import os
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import threading
import time

from . import settings as S
from .markdown import f, fragment, ratio, table
from .runner import die, is05, log, ls_env, make_small_db, st, stop_tree, uploads, write_config

INTERVALS = ["1s", "10s", "60s"]
GRACE = "4s"
RUN_S = 1.5
SUPERVISORS = ["lsinit", "bare"]


def _label(sup):
    return {"lsinit": "lsinit -- python3 stopapp.py",
            "bare": "litestream replicate -exec \"python3 stopapp.py\""}[sup]


def _one(work, interval, v, sup, i):
    d = os.path.join(work, f"b8-{interval}-{v}-{sup}-{i}")
    state = os.path.join(d, "state")
    os.makedirs(state)
    db = os.path.join(d, "app.db")
    rep = os.path.join(d, "replica")
    make_small_db(db, rows=1)
    conf = os.path.join(d, "litestream.yml")
    write_config(conf, [(db, rep)], v, sync_interval=interval)
    app = [S.PYTHON, os.path.join(S.BENCH, "stopapp.py"), db, state]
    if sup == "lsinit":
        argv = [S.LSINIT, "--"] + app
        env = ls_env(v, LSINIT_DB=db, LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_SYNC_INTERVAL=interval,
                     LSINIT_GRACE=GRACE, LSINIT_HEALTH_ADDR=S.HEALTH_ADDR)
    else:
        argv = [S.LS_BINS[v], "replicate", "-config", conf, "-exec", shlex.join(app)]
        env = ls_env(v)
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    errbuf = []
    reader = threading.Thread(target=lambda: errbuf.append(p.stderr.read()), daemon=True)
    reader.start()
    what = f"B8 {sup} {v} LSINIT_SYNC_INTERVAL={interval}"
    deadline = time.monotonic() + 30
    while not (os.path.exists(os.path.join(state, "ready")) and uploads(rep, v) > 0):
        if p.poll() is not None or time.monotonic() > deadline:
            stop_tree(p)
            reader.join(5)
            die(f"{what}: not running with a first upload within 30 s (exit {p.returncode}): "
                f"{b''.join(errbuf)[-2000:].decode(errors='replace')}")
        time.sleep(0.01)
    time.sleep(RUN_S)
    uploads_before = uploads(rep, v)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stop_tree(p)
        die(f"{what}: no exit within 30 s of SIGTERM")
    ms = (time.perf_counter() - t0) * 1000
    reader.join(5)
    p.stderr.close()
    with open(os.path.join(state, "acks")) as fh:
        acked = {int(x) for x in fh.read().split()}
    c = sqlite3.connect(db)
    local = {r[0] for r in c.execute("SELECT seq FROM stoprows")}
    c.close()
    if not acked or acked - local:
        die(f"{what}: the app's acknowledged rows are not all in the local database")
    out = os.path.join(d, "restored.db")
    r = subprocess.run([S.LS_BINS[v], "restore", "-config", conf, "-o", out, db], env=ls_env(v),
                       capture_output=True, text=True, timeout=120)
    got = set()
    if r.returncode == 0 and os.path.exists(out):
        c = sqlite3.connect(out)
        try:
            got = {row[0] for row in c.execute("SELECT seq FROM stoprows")}
        except sqlite3.OperationalError:
            got = set()
        c.close()
    shutil.rmtree(d, ignore_errors=True)
    return {"ms": ms, "code": p.returncode, "acked": len(acked), "missing": len(acked - got),
            "term_kept": max(acked) in got, "uploads_before": uploads_before}


def run(work, R):
    log(f"B8 stop budget: LSINIT_SYNC_INTERVAL {', '.join(INTERVALS)}, lsinit vs bare -exec")
    runs = S.RUNS_STOP_BUDGET
    cells = [(iv, v, sup) for iv in INTERVALS for v in S.LS_VERSIONS for sup in SUPERVISORS]
    raw = {c: [] for c in cells}
    for i in range(runs):
        for c in cells:
            raw[c].append(_one(work, *c, i))
        log(f"B8 round {i + 1}/{runs} done")
    out = {"runs": runs, "cells": {}}
    for (iv, v, sup), rs in raw.items():
        out["cells"][f"{iv}/{v}/{sup}"] = {
            "stats": st([r["ms"] for r in rs]), "codes": sorted({r["code"] for r in rs}),
            "acked": [r["acked"] for r in rs], "missing": [r["missing"] for r in rs],
            "term_kept": sum(1 for r in rs if r["term_kept"]), "runs": len(rs)}
    R["stopbudget"] = out


def cell(res, iv, v, sup):
    return res["cells"][f"{iv}/{v}/{sup}"]


# ---------------------------------------------------------------- report

def missing_text(c):
    lost = sum(c["missing"])
    acked = sum(c["acked"])
    runs_lost = sum(1 for m in c["missing"] if m)
    if not lost:
        return f"0 of {acked:,}"
    return f"{lost:,} of {acked:,} ({runs_lost}/{c['runs']} runs; {min(c['missing'])}–{max(c['missing'])} per run)"


def summary_rows(R):
    """Rows for the summary's Part B table: [benchmark, per version..., note]."""
    res = R.get("stopbudget")
    if not res:
        return []
    rows = []
    for iv in INTERVALS:
        notes = []
        for v in S.LS_VERSIONS:
            li, ba = cell(res, iv, v, "lsinit"), cell(res, iv, v, "bare")
            notes.append(f"{v}: lsinit {f(li['stats']['median'])} ms, exit {'/'.join(map(str, li['codes']))}, "
                         f"{sum(li['missing'])} missing; bare {f(ba['stats']['median'])} ms, exit "
                         f"{'/'.join(map(str, ba['codes']))}, {sum(ba['missing'])} missing")
        rows.append([f"B8 stop budget, `LSINIT_SYNC_INTERVAL={iv}`: SIGTERM → exit, lsinit ÷ bare `replicate -exec`"]
                    + [ratio(cell(res, iv, v, "lsinit")["stats"]["median"], cell(res, iv, v, "bare")["stats"]["median"])
                       for v in S.LS_VERSIONS]
                    + ["acknowledged writes missing from the replica over all runs — " + "; ".join(notes)])
    return rows


def _v03_minus_v05(res):
    v03 = [v for v in S.LS_VERSIONS if not is05(v)]
    v05 = [v for v in S.LS_VERSIONS if is05(v)]
    if not v03 or not v05:
        return None
    return statistics.median(cell(res, iv, v03[0], "lsinit")["stats"]["median"] -
                             cell(res, iv, v05[0], "lsinit")["stats"]["median"] for iv in INTERVALS)


def blocks(R, work):
    res = R.get("stopbudget")
    if not res:
        return {}
    head = ["sync interval", "supervisor"]
    for v in S.LS_VERSIONS:
        head += [f"{v}: median (ms)", f"{v}: min–max (ms)", f"{v}: exit", f"{v}: acknowledged writes missing"]
    rows = []
    for iv in INTERVALS:
        for sup in SUPERVISORS:
            r = [iv, _label(sup)]
            for v in S.LS_VERSIONS:
                c = cell(res, iv, v, sup)
                s = c["stats"]
                r += [f(s["median"]), f"{f(s['min'])}–{f(s['max'])}", ", ".join(str(x) for x in c["codes"]),
                      missing_text(c)]
            rows.append(r)
    versions = []
    for v in S.LS_VERSIONS:
        li = [cell(res, iv, v, "lsinit") for iv in INTERVALS]
        ba = [cell(res, iv, v, "bare") for iv in INTERVALS]
        worst = max(c["stats"]["max"] for c in li)
        versions.append(fragment(
            "b8_version", version=v, medians=" / ".join(f(c["stats"]["median"]) for c in li),
            intervals=" / ".join(INTERVALS), worst=f(worst), inside="well inside" if worst < 4000 else "**outside**",
            grace=GRACE, codes=", ".join(str(x) for x in sorted({x for c in li for x in c["codes"]})),
            lost=sum(sum(c["missing"]) for c in li),
            bare_codes=", ".join(str(x) for x in sorted({x for c in ba for x in c["codes"]})),
            bare_lost=" / ".join(str(sum(c["missing"])) for c in ba),
            bare_term=sum(c["runs"] - c["term_kept"] for c in ba), bare_runs=sum(c["runs"] for c in ba)))
    d = _v03_minus_v05(res)
    return {"b8": {"grace": GRACE, "run_s": RUN_S, "rows": int(RUN_S / 0.05), "runs": res["runs"]},
            "b8_table": {"table": table(head, rows), "versions": "\n".join(versions),
                         "backlog": int(RUN_S / 0.05) + 2,
                         "v03": fragment("b8_v03", diff=f"{d:+.0f}") if d is not None else "."}}


def slower(R):
    res = R.get("stopbudget")
    if not res:
        return []
    worst = max(cell(res, iv, v, "lsinit")["stats"]["median"] for iv in INTERVALS for v in S.LS_VERSIONS)
    return [fragment("slower_b8", worst=f(worst))]
