"""B7, SIGTERM → exit with a write in the app's TERM handler
(bench/termapp.py): lsinit vs bare `litestream replicate -exec`, on every
Litestream version; did the handler's row reach the replica, and the memory
of the running process tree.
"""
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

from . import settings as S
from .markdown import f, fragment, ratio, table
from .runner import comm, descendants, die, log, ls_env, make_small_db, rss_kb, sh, st, stop_tree, uploads, write_config

LABELS = {"lsinit": "lsinit -- python3 termapp.py",
          "bare": "litestream replicate -exec \"python3 termapp.py\""}


def run(work, R):
    log("B7 SIGTERM to exit with a final write")
    app = os.path.join(S.BENCH, "termapp.py")
    variants = [f"{v}/{k}" for v in S.LS_VERSIONS for k in ["lsinit", "bare"]]
    res = {k: {"ms": [], "codes": [], "kept": 0, "runs": 0} for k in variants}
    mem = {}
    for i in range(S.RUNS_STOP):
        for vk in variants:
            v, key = vk.split("/", 1)
            d = os.path.join(work, f"b7-{v}-{key}-{i}")
            os.makedirs(d)
            db = os.path.join(d, "app.db")
            rep = os.path.join(d, "replica")
            ready = os.path.join(d, "ready")
            make_small_db(db, rows=1)
            conf = os.path.join(d, "litestream.yml")
            write_config(conf, [(db, rep)], v)
            app_cmd = [S.PYTHON, app, db, ready]
            if key == "lsinit":
                argv = [S.LSINIT, "--"] + app_cmd
                env = ls_env(v, LSINIT_DB=db, LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_HEALTH_ADDR=S.HEALTH_ADDR)
            else:
                argv = [S.LS_BINS[v], "replicate", "-config", conf, "-exec", shlex.join(app_cmd)]
                env = ls_env(v)
            # stderr into a pipe that a thread drains, as a container runtime's
            # log driver does (a file on a busy ext4 can stall a write behind
            # a journal commit, and lsinit logs on its stop path).
            p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            errbuf = []
            reader = threading.Thread(target=lambda: errbuf.append(p.stderr.read()), daemon=True)
            reader.start()
            # Running, with the app's first write already replicated: the
            # steady state of a long-running app.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (os.path.exists(ready) and uploads(rep, v) > 0):
                if p.poll() is not None:
                    reader.join(5)
                    die(f"B7 {vk}: exited early with {p.returncode}: {b''.join(errbuf)[-2000:].decode(errors='replace')}")
                time.sleep(0.01)
            if uploads(rep, v) == 0:
                stop_tree(p)
                die(f"B7 {vk}: litestream never replicated within 20 s")
            time.sleep(0.1)
            tree = [(comm(q), q == p.pid, rss_kb(q)) for q in [p.pid] + descendants(p.pid)]
            if i == 0:
                mem[vk] = tree
            t0 = time.perf_counter()
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_tree(p)
                die(f"B7 {vk}: no exit within 30 s of SIGTERM")
            res[vk]["ms"].append((time.perf_counter() - t0) * 1000)
            res[vk]["codes"].append(p.returncode)
            reader.join(5)
            p.stderr.close()
            # Did the row written in the TERM handler reach the replica?
            out = os.path.join(d, "restored.db")
            r = sh([S.LS_BINS[v], "restore", "-config", conf, "-o", out, db], env=ls_env(v))
            kept = False
            if r.returncode == 0 and os.path.exists(out):
                c = sqlite3.connect(out)
                kept = c.execute("SELECT count(*) FROM events WHERE v='term'").fetchone()[0] == 1
                c.close()
            c = sqlite3.connect(db)
            local = c.execute("SELECT count(*) FROM events WHERE v='term'").fetchone()[0] == 1
            c.close()
            if not local:
                die(f"B7 {vk}: the app did not write its TERM row locally")
            res[vk]["kept"] += int(kept)
            res[vk]["runs"] += 1
            shutil.rmtree(d)
        log(f"B7 round {i + 1}/{S.RUNS_STOP} done")
    out = {v: {} for v in S.LS_VERSIONS}
    for vk in variants:
        v, key = vk.split("/", 1)
        res[vk]["stats"] = st(res[vk]["ms"])
        out[v][key] = res[vk]
    R["stop"] = out, {v: {k.split("/", 1)[1]: t for k, t in mem.items() if k.startswith(v + "/")}
                      for v in S.LS_VERSIONS}


# ---------------------------------------------------------------- report

def summary_rows(R):
    sp = R["stop"][0]
    vs = S.LS_VERSIONS
    return [["B7 SIGTERM → exit, with the final sync: lsinit ÷ bare `replicate -exec`"]
            + [ratio(sp[v]["lsinit"]["stats"]["median"], sp[v]["bare"]["stats"]["median"]) for v in vs]
            + ["the TERM handler's row reached the replica: " + "; ".join(
                f"{v} lsinit {sp[v]['lsinit']['kept']}/{sp[v]['lsinit']['runs']}, bare "
                f"{sp[v]['bare']['kept']}/{sp[v]['bare']['runs']}" for v in vs)]]


def blocks(R, work):
    sp, mem = R["stop"]
    vs = S.LS_VERSIONS
    rows = []
    for key in ["lsinit", "bare"]:
        for v in vs:
            s = sp[v][key]["stats"]
            codes = sorted(set(sp[v][key]["codes"]))
            kept = f"{sp[v][key]['kept']}/{sp[v][key]['runs']}"
            if key == "lsinit":
                sync = fragment("b7_sync_lsinit")
            elif sp[v]["bare"]["kept"] == 0:
                sync = fragment("b7_sync_skipped", version=v)
            else:
                sync = fragment("b7_sync_kept", kept=kept)
            rows.append([LABELS[key], v, ratio(s["median"], sp[v]["bare"]["stats"]["median"]), f(s["median"]),
                         f(s["min"]), f(s["max"]), ", ".join(str(c) for c in codes), kept, sync])
    B = {"b7": {
        "runs": S.RUNS_STOP,
        "table": table(["supervisor", "Litestream", "÷ bare", "median (ms)", "min (ms)", "max (ms)", "exit code",
                        "`term` row in replica", "final sync"], rows),
        "medians": "; ".join(fragment(
            "b7_median", version=v, lsinit=f(sp[v]["lsinit"]["stats"]["median"]),
            bare=f(sp[v]["bare"]["stats"]["median"]),
            diff=f"{sp[v]['lsinit']['stats']['median'] - sp[v]['bare']['stats']['median']:+.1f}") for v in vs)}}
    if any(mem.values()):
        rows = []
        for v in vs:
            for key in ["lsinit", "bare"]:
                for name, top, kb in mem[v].get(key, []):
                    role = name
                    if key == "lsinit" and name == "lsinit":
                        role = "lsinit (supervisor, PID 1 in a container)" if top else "lsinit __shim"
                    rows.append([LABELS[key], v, role, f(kb, 0) if kb is not None else "—"])
        B["b7_memory"] = {"table": table(["tree", "Litestream", "process", "RSS (KiB)"], rows)}
    return B


def slower(R):
    sp = R["stop"][0]
    return [fragment("slower_b7", ratios=", ".join(
        f"{ratio(sp[v]['lsinit']['stats']['median'], sp[v]['bare']['stats']['median'])} ({v})"
        for v in S.LS_VERSIONS))]
