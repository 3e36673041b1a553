"""B8, the stop budget: SIGTERM -> exit by sync interval, lsinit vs bare
`litestream replicate -exec`, on every Litestream version. Called from bench/run,
which passes itself as H (its helpers, settings and Litestream versions).

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

INTERVALS = ["1s", "10s", "60s"]
GRACE = "4s"
RUN_S = 1.5
SUPERVISORS = ["lsinit", "bare"]
H = None  # bench/run, set by run()


def _label(sup):
    return {"lsinit": "lsinit -- python3 stopapp.py",
            "bare": "litestream replicate -exec \"python3 stopapp.py\""}[sup]


def _one(work, interval, v, sup, i):
    d = os.path.join(work, f"b8-{interval}-{v}-{sup}-{i}")
    state = os.path.join(d, "state")
    os.makedirs(state)
    db = os.path.join(d, "app.db")
    rep = os.path.join(d, "replica")
    H.make_small_db(db, rows=1)
    conf = os.path.join(d, "litestream.yml")
    H.write_config(conf, [(db, rep)], v, sync_interval=interval)
    app = [H.PYTHON, os.path.join(H.BENCH, "stopapp.py"), db, state]
    if sup == "lsinit":
        argv = [H.LSINIT, "--"] + app
        env = H.ls_env(v, LSINIT_DB=db, LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_SYNC_INTERVAL=interval,
                       LSINIT_GRACE=GRACE, LSINIT_HEALTH_ADDR=H.HEALTH_ADDR)
    else:
        argv = [H.LS_BINS[v], "replicate", "-config", conf, "-exec", shlex.join(app)]
        env = H.ls_env(v)
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    errbuf = []
    reader = threading.Thread(target=lambda: errbuf.append(p.stderr.read()), daemon=True)
    reader.start()
    what = f"B8 {sup} {v} LSINIT_SYNC_INTERVAL={interval}"
    deadline = time.monotonic() + 30
    while not (os.path.exists(os.path.join(state, "ready")) and H.uploads(rep, v) > 0):
        if p.poll() is not None or time.monotonic() > deadline:
            H.stop_tree(p)
            reader.join(5)
            H.die(f"{what}: not running with a first upload within 30 s (exit {p.returncode}): "
                  f"{b''.join(errbuf)[-2000:].decode(errors='replace')}")
        time.sleep(0.01)
    time.sleep(RUN_S)
    uploads_before = H.uploads(rep, v)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        H.stop_tree(p)
        H.die(f"{what}: no exit within 30 s of SIGTERM")
    ms = (time.perf_counter() - t0) * 1000
    reader.join(5)
    p.stderr.close()
    with open(os.path.join(state, "acks")) as fh:
        acked = {int(x) for x in fh.read().split()}
    c = sqlite3.connect(db)
    local = {r[0] for r in c.execute("SELECT seq FROM stoprows")}
    c.close()
    if not acked or acked - local:
        H.die(f"{what}: the app's acknowledged rows are not all in the local database")
    out = os.path.join(d, "restored.db")
    r = subprocess.run([H.LS_BINS[v], "restore", "-config", conf, "-o", out, db], env=H.ls_env(v),
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


def run(h, work):
    global H
    H = h
    runs = H.RUNS_STOP_BUDGET
    cells = [(iv, v, sup) for iv in INTERVALS for v in H.LS_VERSIONS for sup in SUPERVISORS]
    raw = {c: [] for c in cells}
    for i in range(runs):
        for c in cells:
            raw[c].append(_one(work, *c, i))
        H.log(f"B8 round {i + 1}/{runs} done")
    out = {"runs": runs, "cells": {}}
    for (iv, v, sup), rs in raw.items():
        out["cells"][f"{iv}/{v}/{sup}"] = {
            "stats": H.st([r["ms"] for r in rs]), "codes": sorted({r["code"] for r in rs}),
            "acked": [r["acked"] for r in rs], "missing": [r["missing"] for r in rs],
            "term_kept": sum(1 for r in rs if r["term_kept"]), "runs": len(rs)}
    return out


def cell(res, iv, v, sup):
    return res["cells"][f"{iv}/{v}/{sup}"]


def missing_text(c):
    lost = sum(c["missing"])
    acked = sum(c["acked"])
    runs_lost = sum(1 for m in c["missing"] if m)
    if not lost:
        return f"0 of {acked:,}"
    return f"{lost:,} of {acked:,} ({runs_lost}/{c['runs']} runs; {min(c['missing'])}–{max(c['missing'])} per run)"


def summary_rows(res):
    """Rows for the summary's Part B table: [benchmark, per version..., note]."""
    rows = []
    for iv in INTERVALS:
        notes = []
        for v in H.LS_VERSIONS:
            li, ba = cell(res, iv, v, "lsinit"), cell(res, iv, v, "bare")
            notes.append(f"{v}: lsinit {H.f(li['stats']['median'])} ms, exit {'/'.join(map(str, li['codes']))}, "
                         f"{sum(li['missing'])} missing; bare {H.f(ba['stats']['median'])} ms, exit "
                         f"{'/'.join(map(str, ba['codes']))}, {sum(ba['missing'])} missing")
        rows.append([f"B8 stop budget, `LSINIT_SYNC_INTERVAL={iv}`: SIGTERM → exit, lsinit ÷ bare `replicate -exec`"]
                    + [H.ratio(cell(res, iv, v, "lsinit")["stats"]["median"], cell(res, iv, v, "bare")["stats"]["median"])
                       for v in H.LS_VERSIONS]
                    + ["acknowledged writes missing from the replica over all runs — " + "; ".join(notes)])
    return rows


def plot(res):
    panels = []
    for v in H.LS_VERSIONS:
        rows = []
        for iv in INTERVALS:
            if rows:
                rows.append(None)
            for sup in SUPERVISORS:
                s = cell(res, iv, v, sup)["stats"]
                rows.append((f"{iv}: {'lsinit' if sup == 'lsinit' else 'bare -exec'}", s["median"], s["min"], s["max"],
                             H.LSINIT_COLOR if sup == "lsinit" else H.OTHER_COLOR))
        panels.append((f"Litestream {v}: SIGTERM -> exit by sync interval", "ms", rows, {"fmt": "%.0f"}))
    return H.gnuplot("stop-budget", "B8 stop budget: lsinit (LSINIT_GRACE=4s) vs bare litestream replicate -exec, "
                     "app writing every 50 ms", f"1,{len(panels)}", panels, height=520)


def _v03_minus_v05(res):
    v03 = [v for v in H.LS_VERSIONS if not H.is05(v)]
    v05 = [v for v in H.LS_VERSIONS if H.is05(v)]
    if not v03 or not v05:
        return None
    return statistics.median(cell(res, iv, v03[0], "lsinit")["stats"]["median"] -
                             cell(res, iv, v05[0], "lsinit")["stats"]["median"] for iv in INTERVALS)


def section(res, X):
    L = []
    w = L.append
    w("### B8. Stop budget: SIGTERM → exit by sync interval")
    w("")
    w("What a stop costs when the app keeps writing and the sync interval is long (docs/operations.md, "
      "\"Shutdown budgets\"): Fly.io kills a machine 5 s after its signal, and operations.md suggests "
      f"`LSINIT_GRACE={GRACE}` there. The app, [bench/stopapp.py](../bench/stopapp.py) (Python 3, `sqlite3`), "
      "commits a row every 50 ms and records each acknowledged row (after its COMMIT) in a file; on SIGTERM it "
      "commits one more row, acknowledges it and exits 143. For each sync interval, Litestream version and "
      "supervisor, a new database and file replica; once the app is up and Litestream has uploaded its first "
      f"file, the app writes for {RUN_S} s more (about {int(RUN_S / 0.05)} rows), then the top process gets "
      "SIGTERM and the time until it has exited is taken. Then `litestream restore -config C -o OUT DB` (the "
      "same version) restores the replica and every acknowledged row is looked up in it. "
      f"{res['runs']} runs per cell, round robin over all cells.")
    w("")
    w(f"- **lsinit**: `LSINIT_SYNC_INTERVAL=INTERVAL LSINIT_GRACE={GRACE} LSINIT_DB=DB "
      "LSINIT_REPLICA_URL=file://REPLICA build/static/lsinit -- python3 bench/stopapp.py DB STATE`;")
    w("- **bare**: `litestream replicate -config C -exec \"python3 bench/stopapp.py DB STATE\"`, C being the "
      "minimal config with the same file replica and `sync-interval: INTERVAL`.")
    w("")
    L += X.get("_plot_link_b8", [])
    head = ["sync interval", "supervisor"]
    for v in H.LS_VERSIONS:
        head += [f"{v}: median (ms)", f"{v}: min–max (ms)", f"{v}: exit", f"{v}: acknowledged writes missing"]
    rows = []
    for iv in INTERVALS:
        for sup in SUPERVISORS:
            r = [iv, _label(sup)]
            for v in H.LS_VERSIONS:
                c = cell(res, iv, v, sup)
                s = c["stats"]
                r += [H.f(s["median"]), f"{H.f(s['min'])}–{H.f(s['max'])}", ", ".join(str(x) for x in c["codes"]),
                      missing_text(c)]
            rows.append(r)
    w(H.table(head, rows))
    w("")
    # Numbers for the text.
    for v in H.LS_VERSIONS:
        li = [cell(res, iv, v, "lsinit") for iv in INTERVALS]
        ba = [cell(res, iv, v, "bare") for iv in INTERVALS]
        meds = [c["stats"]["median"] for c in li]
        codes = sorted({x for c in li for x in c["codes"]})
        bcodes = sorted({x for c in ba for x in c["codes"]})
        lost = sum(sum(c["missing"]) for c in li)
        blost = [sum(c["missing"]) for c in ba]
        bterm = sum(c["runs"] - c["term_kept"] for c in ba)
        bruns = sum(c["runs"] for c in ba)
        worst = max(c["stats"]["max"] for c in li)
        w(f"- **Litestream {v}**: lsinit stopped in {' / '.join(H.f(m) for m in meds)} ms (medians at "
          f"{' / '.join(INTERVALS)}; the slowest of all its runs {H.f(worst)} ms, "
          f"{'well inside' if worst < 4000 else '**outside**'} the {GRACE} grace), exit "
          f"{', '.join(str(x) for x in codes)}, {lost} acknowledged writes missing. Bare `replicate -exec` exited "
          f"{', '.join(str(x) for x in bcodes)} and lost {' / '.join(str(x) for x in blost)} acknowledged writes "
          f"over its runs at {' / '.join(INTERVALS)}; the TERM handler's row was missing in {bterm} of {bruns} runs.")
    w("")
    w("Why: after SIGTERM, bare Litestream forwards the signal to the app, sees it exit 143 and returns "
      "`cannot wait for exec process: exit status 143` without its final sync (both versions). It exits fast "
      "because it skips that work — and what it skips is everything written since its last upload: the "
      "handler's row at any interval, and with a 10 s or 60 s sync interval every row of the last seconds. "
      "lsinit's shim reports exit 0 to Litestream, so Litestream runs its final sync (0.5: the shim first "
      "asks for it over the control socket, `POST /sync` with wait); lsinit then exits with the app's 143. "
      "Its stop costs one upload of the backlog, not a wait for the next sync tick, so the time does not grow "
      "with the interval: the interval only decides how large the backlog is (here at most "
      f"{int(RUN_S / 0.05) + 2} small rows). Where lsinit is slower than bare it is by that upload plus the "
      "shim's check before it — the work bare Litestream leaves out. On 0.3 that check includes the "
      "upload-in-flight wait (two quiet looks at Litestream's open files and read rate, 20 ms apart; B5 item 4)"
      + (f": lsinit's stop took {_v03_minus_v05(res):+.0f} ms on 0.3 against 0.5 (the median of the per-interval "
         "differences of medians)." if _v03_minus_v05(res) is not None else "."))
    w("")
    return L
