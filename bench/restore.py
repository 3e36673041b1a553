"""B6, restoring databases on boot: lsinit (parallel restores, then
replicate -exec) vs a shell loop of `litestream restore`, on every Litestream
version, each with a file replica that version's `replicate` wrote.
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import time

from . import settings as S
from .markdown import f, fragment, ratio, table
from .runner import die, dir_bytes, log, ls_env, replica_ready, rm_db_files, sh, st, write_config


def run(work, R):
    """The same databases, one file replica per Litestream version (the 0.3
    and 0.5 layouts differ), written by that version's `replicate`."""
    log(f"B6 restoring {S.N_DBS} databases")
    d = os.path.join(work, "b6")
    os.makedirs(d)
    names = [chr(ord("a") + i) for i in range(S.N_DBS)]
    dbs = [os.path.join(d, f"{n}.db") for n in names]
    rows = S.DB_MB * 1000  # ~1 KiB random blob per row: ~DB_MB MB, incompressible
    for path in dbs:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)")
        db.execute("BEGIN")
        for _ in range(rows):
            db.execute("INSERT INTO blobs(b) VALUES (randomblob(1000))")
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    sizes = {p: os.stat(p).st_size for p in dbs}
    variants, ctx = [], {"sizes": sizes, "dbs": dbs, "replica_bytes": {}, "conf": {}, "loop": {}}
    for v in S.LS_VERSIONS:
        rep = os.path.join(d, f"replica-{v}")
        conf = os.path.join(d, f"litestream-{v}.yml")
        # lsinit's layout with several databases: URL path + file name.
        write_config(conf, [(p, os.path.join(rep, os.path.basename(p))) for p in dbs], v)
        for path in dbs:  # no local Litestream state of the other version
            meta = os.path.join(d, f".{os.path.basename(path)}-litestream")
            if os.path.isdir(meta):
                shutil.rmtree(meta)
        # Replicas: one `litestream replicate` until every database has a snapshot and an upload.
        p = subprocess.Popen([S.LS_BINS[v], "replicate", "-config", conf], env=ls_env(v),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        ok = 0
        while time.monotonic() < deadline:
            ok = sum(1 for path in dbs if replica_ready(os.path.join(rep, os.path.basename(path)), v))
            if ok == len(dbs):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        if ok != len(dbs):
            die(f"B6 {v}: litestream did not write the replicas within 30 s")
        ctx["replica_bytes"][v] = dir_bytes(rep)
        loop = (f"for db in {' '.join(dbs)}; do litestream restore -config {conf} -if-db-not-exists "
                f"-if-replica-exists \"$db\"; done")
        full = loop + f"; exec litestream replicate -config {conf} -exec /bin/true"
        lse = dict(LSINIT_DB=",".join(dbs), LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_HEALTH_ADDR=S.HEALTH_ADDR)
        variants += [
            (f"{v}/lsinit", "lsinit: 4 restores in parallel, then replicate -exec /bin/true",
             [S.LSINIT, "--", "/bin/true"], ls_env(v, **lse)),
            (f"{v}/lsinit pinned", f"lsinit, LSINIT_LITESTREAM_VERSION={v}",
             [S.LSINIT, "--", "/bin/true"], ls_env(v, LSINIT_LITESTREAM_VERSION=v, **lse)),
            (f"{v}/loop", "shell loop: litestream restore, one after another", ["/bin/sh", "-c", loop], ls_env(v)),
            (f"{v}/loop+replicate", "shell loop, then exec litestream replicate -exec /bin/true",
             ["/bin/sh", "-c", full], ls_env(v)),
        ]
        ctx["conf"][v], ctx["loop"][v] = conf, loop
    times = {k: [] for k, _, _, _ in variants}
    for i in range(S.RUNS_RESTORE):
        for key, _, argv, env in variants:
            for path in dbs:
                rm_db_files(path)
            sh(["sync"])
            t0 = time.perf_counter()
            r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            times[key].append((time.perf_counter() - t0) * 1000)
            if r.returncode != 0:
                die(f"B6 {key}: exit {r.returncode}: {r.stderr[-2000:]}")
            for path in dbs:
                if not os.path.exists(path) or os.stat(path).st_size < sizes[path]:
                    die(f"B6 {key}: {path} was not restored ({r.stderr[-2000:]})")
            c = sqlite3.connect(dbs[-1])
            n = c.execute("SELECT count(*) FROM blobs").fetchone()[0]
            c.close()
            if n != rows:
                die(f"B6 {key}: {dbs[-1]} has {n} rows, not {rows}")
        log(f"B6 round {i + 1}/{S.RUNS_RESTORE} done")
    res = {v: {} for v in S.LS_VERSIONS}
    for key, label, _argv, _ in variants:
        v, k = key.split("/", 1)
        res[v][k] = st(times[key])
        res[v][k]["label"] = label
    R["restore"] = res, ctx


# ---------------------------------------------------------------- report

def summary_rows(R):
    rs = R["restore"][0]
    vs = S.LS_VERSIONS
    return [
        [f"B6 restore {S.N_DBS} × {S.DB_MB} MB on boot: lsinit ÷ shell loop of `litestream restore`"]
        + [ratio(rs[v]["lsinit"]["median"], rs[v]["loop"]["median"]) for v in vs]
        + ["lsinit also starts replication and the app"],
        ["B6 same, lsinit ÷ shell loop + `exec litestream replicate -exec /bin/true`"]
        + [ratio(rs[v]["lsinit"]["median"], rs[v]["loop+replicate"]["median"]) for v in vs]
        + ["same work on both sides"],
    ]


def blocks(R, work):
    rs, rctx = R["restore"]
    vs = S.LS_VERSIONS
    rows = []
    for key in ["lsinit", "lsinit pinned", "loop", "loop+replicate"]:
        for v in vs:
            s = rs[v][key]
            rows.append([s["label"], v, ratio(s["median"], rs[v]["loop"]["median"]), f(s["median"]), f(s["min"]),
                         f(s["max"])])
    nproc = R["machine"]["nproc"]
    return {"b6": {
        "n": S.N_DBS, "mb": f"{sum(rctx['sizes'].values()) / S.N_DBS / 1e6:.1f}",
        "replicas": ", ".join(f"{rctx['replica_bytes'][v] / 1e6:.1f} MB of replica files ({v})" for v in vs),
        "runs": S.RUNS_RESTORE,
        "table": table(["variant", "Litestream", "÷ shell loop", "median (ms)", "min (ms)", "max (ms)"], rows),
        "nproc": nproc}}


def slower(R):
    rs = R["restore"][0]
    slow = [v for v in S.LS_VERSIONS if rs[v]["lsinit"]["median"] > rs[v]["loop"]["median"]]
    if not slow:
        return []
    return [fragment("slower_b6", versions=", ".join(
        f"{v}: {ratio(rs[v]['lsinit']['median'], rs[v]['loop']['median'])} of the shell loop" for v in slow))]
