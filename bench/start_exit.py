"""B5, start → exit in Litestream mode with an app that exits at once
(`/bin/true`): lsinit vs bare `litestream replicate -exec`, the official
shell entrypoint, and the steps in between (hyperfine), on every Litestream
version; plus one strace timeline of an lsinit start per version.
"""
import os
import re
import shutil
import subprocess

from . import settings as S
from .markdown import f, fragment, met, pct, ratio, short, table
from .runner import die, free_port, hyperfine_rounds, is05, log, ls_env, make_small_db, write_config


def run(work, R):
    """All versions in one hyperfine_rounds plan (keys "VERSION/row"), so
    the rounds alternate versions as well as commands."""
    log("B5 Litestream start to exit (hyperfine)")
    plan, ctx, timelines = [], {}, {}
    for v in S.LS_VERSIONS:
        d = os.path.join(work, f"b5-{v}")
        os.makedirs(d)
        db = os.path.join(d, "app.db")
        make_small_db(db)
        conf = os.path.join(d, "litestream.yml")
        conf_addr = os.path.join(d, "litestream-metrics.yml")
        write_config(conf, [(db, os.path.join(d, "replica"))], v)
        # What lsinit adds to the config: a metrics listener, and on 0.5 the control socket.
        write_config(conf_addr, [(db, os.path.join(d, "replica"))], v, addr=f"127.0.0.1:{free_port()}",
                     socket_path=os.path.join(d, "ls.sock") if is05(v) else None)
        entry = os.path.join(d, "entrypoint.sh")
        with open(entry, "w") as fh:
            fh.write("#!/bin/sh\n# the official Docker example's entrypoint pattern\nset -e\n"
                     f"litestream restore -config {conf} -if-db-not-exists -if-replica-exists {db}\n"
                     f"exec litestream replicate -config {conf} -exec /bin/true\n")
        os.chmod(entry, 0o755)
        lse = dict(LSINIT_DB=db, LSINIT_REPLICA_URL=f"file://{d}/replica", LSINIT_HEALTH_ADDR=S.HEALTH_ADDR)
        bare_env = ls_env(v)
        plan += [
            (f"{v}/bare", [("litestream replicate -exec /bin/true", f"litestream replicate -config {conf} -exec /bin/true")],
             bare_env),
            (f"{v}/lsinit default", [("lsinit -- /bin/true", f"{S.LSINIT} -- /bin/true")], ls_env(v, **lse)),
            (f"{v}/lsinit pinned", [(f"lsinit -- /bin/true, LSINIT_LITESTREAM_VERSION={v}", f"{S.LSINIT} -- /bin/true")],
             ls_env(v, LSINIT_LITESTREAM_VERSION=v, **lse)),
            (f"{v}/lsinit nolease", [("lsinit -- /bin/true, LSINIT_LEASE=off", f"{S.LSINIT} -- /bin/true")],
             ls_env(v, LSINIT_LEASE="off", **lse)),
            (f"{v}/shell", [("shell entrypoint: restore && exec replicate -exec", f"/bin/sh {entry}")], bare_env),
            (f"{v}/bare+metrics", [("litestream replicate -exec /bin/true, config with addr:",
                                    f"litestream replicate -config {conf_addr} -exec /bin/true")], bare_env),
            (f"{v}/bare+metrics+exec", [("… plus one static exec: -exec \"lsinit -- /bin/true\"",
                                         f"litestream replicate -config {conf_addr} -exec \"{S.LSINIT} -- /bin/true\"")],
             bare_env),
            (f"{v}/version", [("litestream version", "litestream version")], bare_env),
            (f"{v}/lsinit config", [("lsinit config (pinned version)", f"{S.LSINIT} config")],
             ls_env(v, LSINIT_LITESTREAM_VERSION=v, **lse)),
        ]
        ctx[v] = {"conf": conf, "entry": entry, "db": db}
        timelines[v] = (ls_env(v, **lse), d)
    res = hyperfine_rounds(plan, S.LS_RUNS, S.LS_WARMUP, S.LS_ROUNDS)
    for key in res:
        if any(code != 0 for code in res[key]["codes"]):
            die(f"B5 {key}: exit codes {res[key]['codes']}")
    out = {v: {k.split("/", 1)[1]: r for k, r in res.items() if k.startswith(v + "/")} for v in S.LS_VERSIONS}
    cmds = {v: {key: out[v][key]["cmd"] for key in out[v]} for v in S.LS_VERSIONS}
    timeline = {v: strace_timeline(*timelines[v]) for v in S.LS_VERSIONS}
    R["ls"] = out, cmds, ctx, timeline


def strace_timeline(env, d):
    """One traced start of lsinit (no variable set beyond the database and replica): which
    process runs when. strace slows every exec and Go start-up several times
    over, so only the order and the relative shares mean something."""
    if shutil.which("strace") is None:
        return None
    out = os.path.join(d, "strace.txt")
    r = subprocess.run(["strace", "-f", "-tt", "-s", "256", "-e", "trace=execve,exit_group,clone,clone3,connect", "-o", out,
                        S.LSINIT, "--", "/bin/true"], env=env, capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or not os.path.exists(out):
        return None
    owner, name, pending, events = {}, {}, {}, []
    t0 = None
    with open(out) as fh:
        lines = fh.readlines()
    for line in lines:
        m = re.match(r"(\d+)\s+(\d+):(\d+):(\d+\.\d+)\s+(.*)", line)
        if not m:
            continue
        tid, hh, mm, ss, rest = m.groups()
        t = int(hh) * 3600 + int(mm) * 60 + float(ss)
        t0 = t if t0 is None else t0
        proc = owner.setdefault(tid, tid)
        if rest.startswith(("clone(", "clone3(", "<... clone")):
            if not rest.startswith("<..."):
                pending[tid] = "CLONE_THREAD" in rest
            res = re.search(r"= (\d+)$", rest.strip())
            if res:
                child = res.group(1)
                if pending.pop(tid, False):
                    owner[child] = proc
                else:
                    owner[child] = child
                    if child not in name:  # a vfork child may have exec'd before clone returned
                        name[child] = name.get(proc, "?")
        elif rest.startswith("execve(") and "= -1" not in rest:
            argv = re.search(r'\[(.*?)\]', rest)
            parts = [x.strip().strip('"') for x in (argv.group(1) if argv else rest).split(",")]
            if len(parts) > 1 and parts[1] == "__shim":
                what = "lsinit __shim (litestream's -exec child)"
            elif parts[0].endswith("litestream"):
                what = "litestream " + " ".join(parts[1:2])
            elif parts[0].endswith("lsinit"):
                what = "lsinit " + " ".join(parts[1:])
            else:
                what = " ".join(parts[:3])
            name[proc] = what
            events.append(((t - t0) * 1000, "exec", what))
        elif rest.startswith("exit_group(") and proc in name:  # (not a short-lived helper that never exec'd)
            events.append(((t - t0) * 1000, "exit", name[proc]))
        elif rest.startswith("connect(") and "AF_INET" in rest:
            port = re.search(r"htons\((\d+)\)", rest)
            who = name.get(proc, "?")
            events.append(((t - t0) * 1000, "tcp", f"{who}: connect 127.0.0.1:{port.group(1) if port else '?'} "
                           "(HTTP GET of Litestream's /metrics)"))
        elif rest.startswith("connect(") and "AF_UNIX" in rest and ".sock" in rest:
            who = name.get(proc, "?")
            events.append(((t - t0) * 1000, "unix", f"{who}: connect to Litestream's control socket "
                           "(HTTP POST /sync)"))
    return events


# ---------------------------------------------------------------- report

def summary_rows(R):
    r5 = R["ls"][0]
    vs = S.LS_VERSIONS

    def rt(a_, b_):
        return [ratio(r5[v][a_]["median"], r5[v][b_]["median"]) for v in vs]

    def tgt(key):
        return "≤ 1.10×: " + ", ".join(f"{v} {met(r5[v][key]['median'] / r5[v]['bare']['median'])}" for v in vs)
    return [
        ["B5 start → exit, app `/bin/true`: lsinit, no variable set ÷ bare `replicate -exec`"]
        + rt("lsinit default", "bare") + [tgt("lsinit default")],
        ["B5 same, without the replica's lease (`LSINIT_LEASE=off`) ÷ bare `replicate -exec`"]
        + rt("lsinit nolease", "bare") + [tgt("lsinit nolease")],
        ["B5 official shell entrypoint ÷ bare `replicate -exec`"] + rt("shell", "bare") + [""],
    ]


STEPS = [  # (row, label, the row it adds to)
    ("bare", "bare `replicate -exec /bin/true`", None),
    ("bare+metrics", "+ `addr:` in the config (Litestream starts its metrics HTTP listener; on 0.5 also "
                     "`socket:`, its control socket)", "bare"),
    ("bare+metrics+exec", "+ one more static exec before the app (`-exec \"lsinit -- /bin/true\"`, like the shim)",
     "bare+metrics"),
    ("lsinit nolease", "lsinit with `LSINIT_LEASE=off` (its start-up work, health port, report pipe, the shim's "
                       "check before the final sync)", "bare+metrics+exec"),
    ("lsinit default", "+ the replica's lease: lsinit with no variable set (it takes the lease before Litestream "
                       "starts and releases it at exit)", "lsinit nolease"),
    ("lsinit pinned", "the same with `LSINIT_LITESTREAM_VERSION` set (no read of the version from the binary's Go "
                      "build info)", "lsinit default"),
    ("version", "`litestream version` alone (reference: what running it to learn the version would cost)", None),
    ("lsinit config", "`lsinit config` with the version pinned: lsinit's start-up work alone (reference)", None),
]


def blocks(R, work):
    r5, tl = R["ls"][0], R["ls"][3]
    vs = S.LS_VERSIONS

    def dd(v, a_, b_):
        return r5[v][a_]["median"] - r5[v][b_]["median"]

    rows = []
    for key in ["bare", "lsinit default", "lsinit nolease", "lsinit pinned", "shell"]:
        for v in vs:
            s = r5[v][key]
            bare = r5[v]["bare"]["median"]
            rows.append([s["label"], v, ratio(s["median"], bare), pct(s["median"], bare), f(s["median"], 2),
                         f(s["min"], 2), f(s["max"], 2), f"{f(s['mean'], 2)} ± {f(s['sd'], 2)}"])
    steps = []
    for key, label, prev in STEPS:
        row = [label]
        for v in vs:
            s = r5[v][key]
            row += [ratio(s["median"], r5[v]["bare"]["median"]), f(s["median"], 2),
                    (f"{s['median'] - r5[v][prev]['median']:+.2f}" if prev else "—")]
        steps.append(row)
    head = ["step"]
    for v in vs:
        head += [f"{v}: ÷ bare", f"{v}: median (ms)", f"{v}: added (ms)"]
    ls_mb = {v: os.stat(os.path.realpath(S.LS_BINS[v])).st_size / 1e6 for v in vs}
    B = {"b5": {
        "runs": S.LS_RUNS, "warmup": S.LS_WARMUP, "rounds": S.LS_ROUNDS, "per_round": S.LS_RUNS // S.LS_ROUNDS,
        "table": table(["command", "Litestream", "÷ bare", "vs bare", "median (ms)", "min (ms)", "max (ms)",
                        "mean ± σ (ms)"], rows),
        "targets": " ".join(fragment(
            "b5_target", version=v,
            nolease=met(r5[v]["lsinit nolease"]["median"] / r5[v]["bare"]["median"]).strip("*"),
            nolease_pct=pct(r5[v]["lsinit nolease"]["median"], r5[v]["bare"]["median"]),
            default=met(r5[v]["lsinit default"]["median"] / r5[v]["bare"]["median"]).strip("*"),
            default_pct=pct(r5[v]["lsinit default"]["median"], r5[v]["bare"]["median"])) for v in vs),
        "steps": table(head, steps),
        "detection": "; ".join(fragment(
            "b5_detection", version=v, mb=f"{ls_mb[v]:.0f}", alone=f(r5[v]["version"]["median"], 1),
            adds=f"{dd(v, 'lsinit pinned', 'lsinit default'):+.2f}") for v in vs),
        "metrics": ", ".join(f"{dd(v, 'bare+metrics', 'bare'):+.2f} ms ({v})" for v in vs),
        "shim": ", ".join(f"{dd(v, 'bare+metrics+exec', 'bare+metrics'):+.2f} ms ({v})" for v in vs),
        "own": ", ".join(f"{dd(v, 'lsinit nolease', 'bare+metrics+exec'):+.2f} ms ({v})" for v in vs),
        "lease": ", ".join(f"{dd(v, 'lsinit default', 'lsinit nolease'):+.2f} ms ({v})" for v in vs),
        "config": ", ".join(f"{f(r5[v]['lsinit config']['median'], 2)} ms ({v})" for v in vs),
        "why": "; ".join(f"{v}: {pct(r5[v]['lsinit default']['median'], r5[v]['bare']['median'])} with no variable "
                         f"set, {pct(r5[v]['lsinit nolease']['median'], r5[v]['bare']['median'])} without the lease"
                         for v in vs),
        "together": ", ".join(
            f"{dd(v, 'lsinit default', 'bare'):+.2f} ms ({pct(r5[v]['lsinit default']['median'], r5[v]['bare']['median'])}, "
            f"σ of these rows {max(r5[v]['bare']['sd'], r5[v]['lsinit default']['sd']):.2f} ms; {v})" for v in vs),
    }}
    if any(tl.values()):
        B["b5_timeline"] = {"versions": "\n\n".join(
            fragment("b5_timeline_version", version=v,
                     lines="\n".join(f"{t:7.1f} ms  {kind:<4}  {short(what, work)}" for t, kind, what in tl[v]))
            for v in vs if tl[v])}
    return B


def slower(R):
    r5 = R["ls"][0]
    return [fragment("slower_b5", versions="; ".join(fragment(
        "slower_b5_version", version=v, default=ratio(r5[v]["lsinit default"]["median"], r5[v]["bare"]["median"]),
        nolease=ratio(r5[v]["lsinit nolease"]["median"], r5[v]["bare"]["median"])) for v in S.LS_VERSIONS))]
