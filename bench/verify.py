"""C8 and C9, backup verification, on every Litestream version: `lsinit
verify` vs `litestream restore` + `sqlite3 … integrity_check`, and the
catch-up wait (marker write → caught up) vs the plug-ins' fixed 10 s sleep.
Also the check of Litestream 0.3 after a new shadow WAL index (the "Litestream
0.3 after a new shadow WAL index" section).
"""
import json
import os
import sqlite3
import subprocess
import time

from . import settings as S
from .markdown import f, fragment, met, mmm, ratio, table
from .runner import (
    Instance,
    die,
    dir_bytes,
    free_port,
    http_get,
    is05,
    log,
    ls_env,
    make_blob_db,
    metric_values,
    replica_ready,
    st,
    wait_for,
    write_config,
)


def ls_positions(port, db):
    try:
        status, text = http_get(port, "/metrics")
    except OSError:
        return None
    m = metric_values(text, db)
    return {k: m.get(f"litestream_{k}") for k in
            ["sync_count", "shadow_wal_index", "shadow_wal_size", "replica_wal_index", "replica_wal_offset"]}


def run_verify_cli(env, db):
    t0 = time.perf_counter()
    r = subprocess.run([S.LSINIT, "verify", "--json", db], env=env, capture_output=True, text=True, timeout=300)
    wall = (time.perf_counter() - t0) * 1000
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if not lines:
        die(f"lsinit verify printed no JSON (exit {r.returncode}): {r.stdout}{r.stderr[-2000:]}")
    return wall, json.loads(lines[-1]), r.returncode


def run_plain_verify(conf, db, out, v):
    """litestream restore -o OUT + sqlite3 OUT 'PRAGMA integrity_check'."""
    for suffix in ["", "-wal", "-shm", ".tmp"]:
        if os.path.exists(out + suffix):
            os.unlink(out + suffix)
    t0 = time.perf_counter()
    r1 = subprocess.run([S.LS_BINS[v], "restore", "-config", conf, "-o", out, db], env=ls_env(v),
                        capture_output=True, text=True, timeout=600)
    t1 = time.perf_counter()
    if r1.returncode != 0:
        die(f"C8 litestream restore failed: {r1.stderr[-2000:]}")
    r2 = subprocess.run([S.SQLITE3, out, "PRAGMA integrity_check"], capture_output=True, text=True, timeout=600)
    t2 = time.perf_counter()
    if r2.returncode != 0 or r2.stdout.strip() != "ok":
        die(f"C8 integrity_check of the restored copy: {r2.stdout[:500]} {r2.stderr[:500]}")
    os.unlink(out)
    t3 = time.perf_counter()
    return {"total": (t2 - t0) * 1000, "restore": (t1 - t0) * 1000, "check": (t2 - t1) * 1000,
            "rm": (t3 - t2) * 1000}


def run(work, R):
    log(f"C8 verification: {', '.join(f'{mb} MB' for mb in S.VERIFY_MB)} (lsinit verify vs restore + integrity_check)")
    R["verify"] = {v: run_version(work, v) for v in S.LS_VERSIONS}


def run_version(work, v):
    d = os.path.join(work, f"c8-{v}")
    os.makedirs(os.path.join(d, "verify-tmp"))
    out = {"sizes": {}, "monitor": None, "bug": None, "cmds": {}}
    for mb in S.VERIFY_MB:
        db = os.path.join(d, f"v{mb}.db")
        rep = os.path.join(d, f"replica-{mb}")
        t0 = time.monotonic()
        make_blob_db(db, mb)
        size = os.stat(db).st_size
        conf = os.path.join(d, f"litestream-{mb}.yml")
        write_config(conf, [(db, rep)], v)
        # Litestream 0.3 checkpoints on its own once the database file is older
        # than its checkpoint-interval (1 min) and the WAL has a page in it: a
        # fresh mtime keeps these runs before that first checkpoint (see the
        # WAL-index check in the report).
        os.utime(db)
        env = ls_env(v, LSINIT_DB=db, LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_SYNC_INTERVAL=S.SYNC_INTERVAL,
                     LSINIT_VERIFY_INTERVAL="off", LSINIT_HEALTH_ADDR=f"127.0.0.1:{free_port()}",
                     LSINIT_LITESTREAM_VERSION=v, LSINIT_VERIFY_DIR=os.path.join(d, "verify-tmp"),
                     LSINIT_VERIFY_CATCHUP_TIMEOUT="10s")
        inst = Instance(f"verify-{v}-{mb}", env, ["sleep", "3600"], d).start()
        mport = inst.metrics_port()
        wait_for(lambda: replica_ready(rep, v), 120, f"the first snapshot of the {mb} MB database ({v})")
        ready_s = time.monotonic() - t0
        copy = os.path.join(d, "plain.db")
        run_plain_verify(conf, db, copy, v)          # warm-up, not counted
        run_verify_cli(env, db)
        runs_v, runs_p, indexes, codes = [], [], [], []
        for i in range(S.RUNS_VERIFY[mb]):
            for kind in (["verify", "plain"] if i % 2 == 0 else ["plain", "verify"]):
                if kind == "verify":
                    if not is05(v):  # 0.3's shadow WAL index (0.5 has none)
                        pos = ls_positions(mport, db) or {}
                        indexes.append(pos.get("shadow_wal_index"))
                    wall, j, code = run_verify_cli(env, db)
                    j["wall"] = wall
                    runs_v.append(j)
                    codes.append(code)
                else:
                    runs_p.append(run_plain_verify(conf, db, copy, v))
        res = {"bytes": size, "ready_s": ready_s, "verify": runs_v, "plain": runs_p, "indexes": indexes,
               "codes": codes, "replica_bytes": dir_bytes(rep)}
        if mb == S.VERIFY_MB[0] and not is05(v):
            out["bug"] = bug_check(inst, env, db, conf, mport, d, v)
        res["stop_ms"] = inst.stop()
        out["sizes"][mb] = res
        out["cmds"][mb] = {"env": env, "conf": conf, "db": db, "rep": rep}
        log(f"C8 {v} {mb} MB: {len(runs_v)} verify + {len(runs_p)} plain runs done")
    # The catch-up wait with Litestream's monitor-interval lowered to the sync interval.
    # A database of its own: the first one went through the WAL-index check.
    mb = S.VERIFY_MB[0]
    db = os.path.join(d, "monitor.db")
    rep = os.path.join(d, "replica-monitor")
    make_blob_db(db, mb)
    base = os.path.join(d, "monitor.yml")
    with open(base, "w") as fh:
        fh.write(f"dbs:\n  - path: {db}\n    monitor-interval: {S.SYNC_INTERVAL}\n")
    os.utime(db)
    env = ls_env(v, LSINIT_CONFIG=base, LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_SYNC_INTERVAL=S.SYNC_INTERVAL,
                 LSINIT_VERIFY_INTERVAL="off", LSINIT_HEALTH_ADDR=f"127.0.0.1:{free_port()}",
                 LSINIT_LITESTREAM_VERSION=v, LSINIT_VERIFY_DIR=os.path.join(d, "verify-tmp"),
                 LSINIT_VERIFY_CATCHUP_TIMEOUT="10s")
    inst = Instance(f"verify-monitor-{v}", env, ["sleep", "3600"], d).start()
    inst.metrics_port()
    wait_for(lambda: replica_ready(rep, v), 60, f"the replica ({v})")
    time.sleep(1.5)
    runs = []
    for _ in range(S.RUNS_VERIFY_MONITOR):
        wall, j, code = run_verify_cli(env, db)
        j["wall"] = wall
        runs.append(j)
    inst.stop()
    out["monitor"] = {"runs": runs, "base": base}
    return out


def bug_check(inst, env, db, conf, mport, d, v):
    """After Litestream's first checkpoint its litestream_shadow_wal_size is
    the total of the shadow WAL files it keeps (the previous index's and the
    current one's), while litestream_replica_wal_offset is the offset inside
    the current index: the two never match again. lsinit compares them
    (verification catch-up, the shim's wait at stop, /healthz replication lag).
    This forces a checkpoint and records what lsinit then reports."""
    before = ls_positions(mport, db)
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    conn.execute("PRAGMA busy_timeout=10000")
    # > 1,000 pages in the WAL: Litestream 0.3 checkpoints at its next sync
    # (min-checkpoint-page-count), which starts WAL index 1.
    conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) "
                 "INSERT INTO blobs(b) SELECT randomblob(1000) FROM c")
    rows = conn.execute("SELECT count(*) FROM blobs").fetchone()[0]
    conn.close()

    def settled():
        p = ls_positions(mport, db)
        if not p or p["shadow_wal_index"] is None or p["shadow_wal_index"] < 1:
            return None
        return p if p["replica_wal_index"] == p["shadow_wal_index"] else None
    wait_for(settled, 30, "Litestream's checkpoint (WAL index 1) and its upload")
    time.sleep(1.0)
    after = ls_positions(mport, db)
    # The replica has everything: a plain restore has every row.
    copy = os.path.join(d, "bug-copy.db")
    r = subprocess.run([S.LS_BINS[v], "restore", "-config", conf, "-o", copy, db], env=ls_env(v),
                       capture_output=True, text=True, timeout=300)
    restored_rows = None
    if r.returncode == 0:
        c = sqlite3.connect(copy)
        restored_rows = c.execute("SELECT count(*) FROM blobs").fetchone()[0]
        c.close()
        os.unlink(copy)
    wall, j, code = run_verify_cli(dict(env, LSINIT_VERIFY_CATCHUP_TIMEOUT="2s"), db)
    hport = int(env["LSINIT_HEALTH_ADDR"].rsplit(":", 1)[1])
    time.sleep(5.5)  # one more scrape of Litestream's metrics by lsinit (every 5 s)
    try:
        _, text = http_get(hport, "/metrics")
        lag = metric_values(text, db).get("lsinit_replication_lag_seconds")
    except OSError:
        lag = None
    log(f"C8 known-issue check: verify -> {j.get('result')} in {wall:.0f} ms; lag {lag}")
    return {"before": before, "after": after, "rows": rows, "restored_rows": restored_rows,
            "verify": j, "verify_wall": wall, "lag": lag}


# ---------------------------------------------------------------- report

def c8_numbers(v):
    out = {}
    for mb, r in v["sizes"].items():
        vr, pr = r["verify"], r["plain"]
        out[mb] = {
            "wall": st([x["wall"] for x in vr]),
            "duration": st([x["duration_ms"] for x in vr]),
            "catch": st([x["catchup_ms"] for x in vr]),
            "restore": st([x["restore_ms"] for x in vr]),
            "other": st([x["duration_ms"] - x["catchup_ms"] - x["restore_ms"] for x in vr]),
            "proc": st([x["wall"] - x["duration_ms"] for x in vr]),
            "nocatch": st([x["wall"] - x["catchup_ms"] for x in vr]),
            "plain": st([p["total"] for p in pr]),
            "p_restore": st([p["restore"] for p in pr]),
            "p_check": st([p["check"] for p in pr]),
            "p_rm": st([p["rm"] for p in pr]),
            "results": sorted(set(x["result"] for x in vr)),
            "attempts": max(x["attempts"] for x in vr),
            "index0": all(i == 0 for i in r["indexes"]),
        }
    return out


def _catchup(vv, v):
    """C9: catchup_ms over all C8 runs, and with the lower monitor-interval."""
    return (st([x["catchup_ms"] for r in vv[v]["sizes"].values() for x in r["verify"]]),
            st([x["catchup_ms"] for x in vv[v]["monitor"]["runs"]]))


def summary_rows(R):
    vv = R.get("verify")
    if not vv:
        return []
    vs = S.LS_VERSIONS
    n = {v: c8_numbers(vv[v]) for v in vs}
    rows = []
    for mb in S.VERIFY_MB:
        rows.append([f"C8 verify a {mb} MB backup: `lsinit verify` ÷ `litestream restore` + `sqlite3 … integrity_check`"]
                    + [ratio(n[v][mb]["wall"]["median"], n[v][mb]["plain"]["median"]) for v in vs]
                    + ["≤ 1.10×: " + ", ".join(
                        f"{v} {met(n[v][mb]['wall']['median'] / n[v][mb]['plain']['median'])}" for v in vs)
                       + "; the catch-up wait: " + ", ".join(
                        f"{f(n[v][mb]['catch']['median'], 0)} of {f(n[v][mb]['wall']['median'], 0)} ms ({v})"
                        for v in vs)])
        rows.append([f"C8 same, {mb} MB, verify minus its catch-up wait"]
                    + [ratio(n[v][mb]["nocatch"]["median"], n[v][mb]["plain"]["median"]) for v in vs]
                    + ["≤ 1.10×: " + ", ".join(
                        f"{v} {met(n[v][mb]['nocatch']['median'] / n[v][mb]['plain']['median'])}" for v in vs)
                       + " (restore + check + marker alone)"])
    cu = {v: _catchup(vv, v)[0] for v in vs}
    mo = {v: _catchup(vv, v)[1] for v in vs}
    rows.append(["C9 marker write → caught up: the plug-ins' fixed 10 s sleep ÷ lsinit's `catchup_ms`"]
                + [ratio(S.PLUGIN_SLEEP_MS, cu[v]["median"], 1) for v in vs]
                + ["lsinit: " + ", ".join(f"{mmm(cu[v])} ms ({v})" for v in vs)
                   + f" (`LSINIT_SYNC_INTERVAL={S.SYNC_INTERVAL}`)"])
    rows.append([f"C9 same, with Litestream's `monitor-interval: {S.SYNC_INTERVAL}` in a base config"]
                + [ratio(S.PLUGIN_SLEEP_MS, mo[v]["median"], 1) for v in vs]
                + ["lsinit: " + ", ".join(f"{mmm(mo[v])} ms ({v})" for v in vs)])
    return rows


def blocks(R, work):
    vv = R.get("verify")
    if not vv:
        return {}
    vs = list(vv)
    n = {v: c8_numbers(vv[v]) for v in vs}
    rmb = S.VERIFY_MB
    big = rmb[-1]
    rows = []
    for mb in rmb:
        for v in vs:
            s_ = n[v][mb]
            b = vv[v]["sizes"][mb]["bytes"]
            rows.append([f"{mb} MB ({b / 1e6:.1f} MB file)", v, "lsinit verify",
                         ratio(s_["wall"]["median"], s_["plain"]["median"]),
                         f(s_["wall"]["median"], 0), f(s_["wall"]["min"], 0), f(s_["wall"]["max"], 0), s_["wall"]["n"],
                         ", ".join(s_["results"])])
            rows.append(["", v, "lsinit verify minus its `catchup_ms`", ratio(s_["nocatch"]["median"], s_["plain"]["median"]),
                         f(s_["nocatch"]["median"], 0), f(s_["nocatch"]["min"], 0), f(s_["nocatch"]["max"], 0),
                         s_["nocatch"]["n"], ""])
            rows.append(["", v, "plain: restore + sqlite3 integrity_check", "1.00×", f(s_["plain"]["median"], 0),
                         f(s_["plain"]["min"], 0), f(s_["plain"]["max"], 0), s_["plain"]["n"], "ok"])
    parts = []
    for mb in rmb:
        for v in vs:
            s_ = n[v][mb]
            parts.append([f"{mb} MB", v, f(s_["catch"]["median"], 0), f(s_["restore"]["median"], 0),
                          f(s_["other"]["median"], 0), f(s_["proc"]["median"], 0), f(s_["p_restore"]["median"], 0),
                          f(s_["p_check"]["median"], 0), f(s_["p_rm"]["median"], 0)])
    verdicts = []
    for v in vs:
        ok = [mb for mb in rmb if n[v][mb]["wall"]["median"] <= 1.10 * n[v][mb]["plain"]["median"]]
        verdicts.append(fragment("c8_verdict_all", version=v) if len(ok) == len(rmb) else
                        fragment("c8_verdict_none", version=v) if not ok else
                        fragment("c8_verdict_some", version=v, sizes=", ".join(f"{mb} MB" for mb in ok)))
    B = {"c8": {
        "runs": ", ".join(f"{S.RUNS_VERIFY[mb]} runs ({mb} MB)" for mb in rmb),
        "table": table(["database", "Litestream", "command", "÷ plain", "median (ms)", "min (ms)", "max (ms)", "runs",
                        "result"], rows),
        "parts": table(["database", "Litestream", "verify: `catchup_ms`", "verify: `restore_ms`",
                        "verify: the rest of `duration_ms` (marker, integrity_check, marker lookup, deleting the copy)",
                        "verify: process start/exit, plan", "plain: `litestream restore`",
                        "plain: `sqlite3` integrity_check", "plain: `rm` of the copy (untimed)"], parts),
        "verdicts": "; ".join(verdicts),
        "catchup": "; ".join(f"{v} " + " and ".join(f"{f(n[v][mb]['catch']['median'], 0)}" for mb in rmb) + " ms"
                             for v in vs),
        "nocatch": "; ".join(f"{v}: " + ", ".join(f"{ratio(n[v][mb]['nocatch']['median'], n[v][mb]['plain']['median'])} "
                                                  f"({mb} MB)" for mb in rmb) for v in vs),
        "restores": "; ".join(fragment("c8_restore", verify=mmm(n[v][big]["restore"]), plain=mmm(n[v][big]["p_restore"]),
                                       version=v, mb=big) for v in vs)}}
    v03 = [v for v in vs if not is05(v)]
    if v03:
        idx_ok = all(s_["index0"] for v in v03 for s_ in n[v].values())
        B["c8_index0"] = {"versions": ", ".join(v03),
                          "checked": fragment("c8_index_checked" if idx_ok else "c8_index_not_always")}
    B["c8_reproduce"] = {"versions": " or ".join(vs), "big": big, "sync_interval": S.SYNC_INTERVAL}

    rows = [["plug-ins: `sleep 10`", "—", "1.0×", f(S.PLUGIN_SLEEP_MS, 0), "—", "—", "fixed"]]
    for v in vs:
        cu, mo = _catchup(vv, v)
        rows.append([f"lsinit, `LSINIT_SYNC_INTERVAL={S.SYNC_INTERVAL}` (Litestream's monitor-interval: default 1 s)", v,
                     ratio(S.PLUGIN_SLEEP_MS, cu["median"], 1), f(cu["median"], 0), f(cu["min"], 0), f(cu["max"], 0),
                     cu["n"]])
        rows.append([f"lsinit, same + `monitor-interval: {S.SYNC_INTERVAL}` in a base config", v,
                     ratio(S.PLUGIN_SLEEP_MS, mo["median"], 1), f(mo["median"], 0), f(mo["min"], 0), f(mo["max"], 0),
                     mo["n"]])
    B["c9"] = {"mb": S.VERIFY_MB[0], "sync_interval": S.SYNC_INTERVAL, "runs": S.RUNS_VERIFY_MONITOR,
               "table": table(["wait", "Litestream", "10 s ÷ this", "median (ms)", "min (ms)", "max (ms)", "runs"], rows),
               "v05": "; ".join(fragment("c9_v05", version=v, catchup=f(_catchup(vv, v)[0]["median"], 0),
                                         monitor=f(_catchup(vv, v)[1]["median"], 0)) for v in vs if is05(v))}
    return B


def issue_blocks(R):
    """The "Litestream 0.3 after a new shadow WAL index" section."""
    vv = R.get("verify") or {}
    v03 = [v for v in vv if not is05(v) and vv[v].get("bug")]
    if not v03:
        return {}
    v = v03[0]
    b = vv[v]["bug"]
    first = vv[v]["sizes"][S.VERIFY_MB[0]]
    last = vv[v]["sizes"][S.VERIFY_MB[-1]]
    j = b["verify"]
    ok = j.get("result") == "pass" and (b["lag"] is None or b["lag"] < 10) and (first["stop_ms"] or 0) < 4000
    bf, af = b["before"] or {}, b["after"] or {}
    rows = [["before (index 0)", f(bf.get("shadow_wal_index"), 0), f(bf.get("shadow_wal_size"), 0),
             f(bf.get("replica_wal_index"), 0), f(bf.get("replica_wal_offset"), 0)],
            ["after the checkpoint, upload finished", f(af.get("shadow_wal_index"), 0), f(af.get("shadow_wal_size"), 0),
             f(af.get("replica_wal_index"), 0), f(af.get("replica_wal_offset"), 0)]]
    return {"issue": {
        "mb": S.VERIFY_MB[0], "version": v,
        "table": table(["Litestream's metrics", "shadow index", "shadow size", "replica index", "replica offset"], rows),
        "restored": f(b["restored_rows"], 0), "rows": f"{b['rows']:,}",
        "result": j.get("result"), "wall": f(b["verify_wall"], 0), "attempts": j.get("attempts"),
        "catchup": f(j.get("catchup_ms"), 0), "reason": j.get("reason"), "lag": f(b["lag"], 0),
        "stop_first": f(first["stop_ms"], 0), "stop_last": f(last["stop_ms"], 0), "big": S.VERIFY_MB[-1],
        "verdict": fragment("issue_fixed" if ok else "issue_broken")}}


def slower(R):
    vv = R.get("verify")
    if not vv:
        return []
    return [fragment("slower_c8", ratios="; ".join(
        f"{v}: " + ", ".join(f"{ratio(s_['wall']['median'], s_['plain']['median'])} ({mb} MB)"
                             for mb, s_ in c8_numbers(vv[v]).items()) for v in vv))]
