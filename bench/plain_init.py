"""Part A, plain init mode: lsinit (static) vs tini-static, catatonit and
dumb-init. A1 binary size, A2 idle RSS, A3 `INIT -- /bin/true` (hyperfine),
A4 reaping orphans as PID 1 of a new PID namespace (bench/orphans.c).
"""
import os
import shlex
import statistics
import subprocess
import time

from . import settings as S
from .markdown import f, fragment, ratio, short, table
from .runner import BASE_ENV, DEV, INITS, PEERS, UNSHARE, compile_c, die, hyperfine, log, rss_kb, sh, st, stop_tree

# ---------------------------------------------------------------- A1 size

def run_size(work):
    rows = []
    for name, path, _ in INITS + [DEV]:
        size = os.stat(path).st_size
        desc = sh(["file", "-b", path]).stdout
        kind = "static" if ("statically linked" in desc or "static-pie" in desc) else \
            "dynamic" if "dynamically linked" in desc else "?"
        if "not stripped" in desc:
            tmp = os.path.join(work, "stripped")
            sh(["strip", "-o", tmp, path])
            stripped, note = os.stat(tmp).st_size, "strip -o"
        else:
            stripped, note = size, "already stripped"
        libs = ""
        if kind == "dynamic":
            r = sh(["ldd", path])
            libs = str(sum(1 for line in r.stdout.splitlines() if "=>" in line))
        rows.append({"name": name, "bytes": size, "stripped": stripped, "note": note, "kind": kind, "libs": libs})
    return rows


# ---------------------------------------------------------------- A2 RSS

def run_rss():
    samples = {name: [] for name, _, _ in INITS + [DEV]}
    for _ in range(S.N_RSS):
        for name, _, prefix in INITS + [DEV]:  # round robin
            p = subprocess.Popen(prefix + ["sleep", "30"], env=BASE_ENV,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            kb = rss_kb(p.pid)
            stop_tree(p)
            if kb is None:
                die(f"{name}: no VmRSS for pid {p.pid} (exited early?)")
            samples[name].append(kb)
    return {name: st(v) for name, v in samples.items()}


# ---------------------------------------------------------------- A3 /bin/true

def run_true():
    """S.TRUE_ROUNDS rounds; each is one hyperfine call over every command (S.TRUE_RUNS // S.TRUE_ROUNDS runs
    each), the order rotated by one command per round, so no command always runs first or last and a busy phase
    of the machine hits a round, not a command. Per command: the median of its round medians (the figure
    compared), their min-max (the spread between rounds), and the statistics over all its runs; per peer, lsinit's
    round median / the peer's in the same round, for each round."""
    cmds = [("/bin/true (no init)", "/bin/true")]
    for name, _, prefix in INITS + [DEV]:
        cmds.append((name, shlex.join(prefix + ["/bin/true"])))
    times = {name: [] for name, _ in cmds}
    rounds = {name: [] for name, _ in cmds}
    per_round = [S.TRUE_RUNS // S.TRUE_ROUNDS + (1 if i < S.TRUE_RUNS % S.TRUE_ROUNDS else 0)
                 for i in range(S.TRUE_ROUNDS)]
    for i, n in enumerate(per_round):
        k = i % len(cmds)
        r = hyperfine(cmds[k:] + cmds[:k], n, S.TRUE_WARMUP, raw=True)
        for name, _ in cmds:
            times[name] += r[name]["times"]
            rounds[name].append(statistics.median(r[name]["times"]))
            if any(c != 0 for c in r[name]["codes"]):
                die(f"A3 {name}: exit codes {r[name]['codes']}")
    out = {}
    for name, _ in cmds:
        s = st(times[name])
        s["all_median"] = s["median"]
        s["median"] = statistics.median(rounds[name])
        s["rounds"] = rounds[name]
        s["rmin"], s["rmax"] = min(rounds[name]), max(rounds[name])
        out[name] = s
    for name, _ in cmds:
        out[name]["ls_ratio"] = [ls / x for ls, x in zip(rounds["lsinit"], rounds[name], strict=True)]
    return out, cmds


# ---------------------------------------------------------------- A4 orphans

def run_orphans(work):
    maker = compile_c("orphans.c", os.path.join(work, "orphans"))
    unshare = list(UNSHARE)
    if os.geteuid() != 0:
        unshare = ["unshare", "--user", "--map-root-user"] + UNSHARE[1:]
    if sh(unshare + ["/bin/true"]).returncode != 0:
        log("unshare --pid does not work here: skipping A4")
        return None
    variants = [(name, unshare + prefix + [maker, str(S.N_ORPHANS)]) for name, _, prefix in INITS]
    variants.append(("no init (maker is PID 1 and reaps its own orphans)", unshare + [maker, str(S.N_ORPHANS), "self"]))
    res = {name: {"total": [], "fork": [], "tail": [], "cpu": [], "wall": [], "runs": [], "per_run": []}
           for name, _ in variants}
    for i in range(S.RUNS_ORPHANS):
        for name, argv in variants:
            t0 = time.perf_counter()
            try:
                r = subprocess.run(argv, env=BASE_ENV, capture_output=True, text=True, timeout=120)
            except subprocess.TimeoutExpired:
                die(f"A4 {name}: did not finish within 120 s")
            wall = (time.perf_counter() - t0) * 1000
            if r.returncode != 0:
                die(f"A4 {name}: exit {r.returncode}: {r.stderr.strip()}")
            total, fork, cpu, n, runs = r.stdout.split()
            res[name]["total"].append(float(total))
            res[name]["fork"].append(float(fork))
            res[name]["tail"].append(float(total) - float(fork))
            if float(cpu) >= 0:
                res[name]["cpu"].append(float(cpu))
            if float(cpu) >= 0 and float(runs) > 0:
                res[name]["runs"].append(float(runs))
                res[name]["per_run"].append(float(cpu) * 1000 / float(runs))  # µs per wake-up
            res[name]["wall"].append(wall)
        log(f"A4 round {i + 1}/{S.RUNS_ORPHANS} done")
    out = {}
    for name, d in res.items():
        out[name] = {k: (st(v) if v else None) for k, v in d.items()}
    return out, variants


def run(work, R):
    log("A1 binary sizes")
    R["size"] = run_size(work)
    log("A2 idle RSS")
    R["rss"] = run_rss()
    log("A3 INIT -- /bin/true (hyperfine)")
    R["true"] = run_true()
    log(f"A4 reaping {S.N_ORPHANS} orphans as PID 1")
    R["orphans"] = run_orphans(work)


# ---------------------------------------------------------------- report

def summary_rows(R):
    """The summary's Part A table: a peer's number ÷ lsinit's."""
    size, rss, tr, orphans = R["size"], R["rss"], R["true"][0], R["orphans"]
    by = {r["name"]: r for r in size}
    rows = [["A1 binary size (stripped)"] + [ratio(by[o]["stripped"], size[0]["stripped"]) for o in PEERS],
            ["A2 idle RSS of the init"] + [ratio(rss[o]["median"], rss["lsinit"]["median"]) for o in PEERS],
            ["A3 `INIT -- /bin/true` wall time"] + [ratio(tr[o]["median"], tr["lsinit"]["median"]) for o in PEERS]]
    if orphans:
        o = orphans[0]
        rows.append([f"A4 reap {S.N_ORPHANS:,} orphans: total time"] +
                    [ratio(o[x]["total"]["median"], o["lsinit"]["total"]["median"]) for x in PEERS])
        rows.append([f"A4 reap {S.N_ORPHANS:,} orphans: CPU time of PID 1"] +
                    [ratio(o[x]["cpu"]["median"], o["lsinit"]["cpu"]["median"]) if o[x]["cpu"] else "—" for x in PEERS])
    return rows


def blocks(R, work):
    size, rss, (tr, cmds), orphans = R["size"], R["rss"], R["true"], R["orphans"]
    ls_static = size[0]
    by = {r["name"]: r for r in size}
    ovh = {k: tr[k]["median"] - tr["/bin/true (no init)"]["median"] for k in tr}
    B = {}

    rows = []
    for r in size:
        rows.append([r["name"], ratio(r["stripped"], ls_static["stripped"]), f(r["bytes"], 0),
                     f"{f(r['stripped'], 0)} ({r['note']})",
                     r["kind"] + (f", {r['libs']} shared librar{'y' if r['libs'] == '1' else 'ies'}" if r["libs"] else "")])
    B["a1"] = {"table": table(["init", "stripped size ÷ lsinit", "file size (bytes)", "stripped (bytes)",
                                "`file`: linking"], rows),
               "dev_stripped": f(by["lsinit (dev build)"]["stripped"], 0)}

    rows = []
    for name, _, _ in INITS + [DEV]:
        s = rss[name]
        rows.append([name, ratio(s["median"], rss["lsinit"]["median"]), f(s["median"], 0), f(s["min"], 0), f(s["max"], 0)])
    B["a2"] = {"runs": S.N_RSS,
               "table": table(["init", "÷ lsinit", "median RSS (KiB)", "min (KiB)", "max (KiB)"], rows)}

    rows = []
    for name, cmd in cmds:
        s = tr[name]
        ls_over = (f"{min(s['ls_ratio']):.2f}–{max(s['ls_ratio']):.2f}"
                   if name not in ("lsinit", "/bin/true (no init)") else "—")
        rows.append([name, ratio(s["median"], tr["lsinit"]["median"]), ls_over,
                     f(ovh[name], 3) if name != "/bin/true (no init)" else "—",
                     f(s["median"], 3), f"{f(s['rmin'], 3)}–{f(s['rmax'], 3)}",
                     f(s["min"], 3), f"{f(s['mean'], 3)} ± {f(s['sd'], 3)}",
                     f"`{short(cmd, work)}`"])
    fastest = min((k for k in tr if k != "/bin/true (no init)"), key=lambda k: tr[k]["median"])
    B["a3"] = {"runs": S.TRUE_RUNS, "rounds": S.TRUE_ROUNDS, "per_round": S.TRUE_RUNS // S.TRUE_ROUNDS,
               "warmup": S.TRUE_WARMUP,
               "table": table(["command", "÷ lsinit", "lsinit ÷ it, per round", "init cost (ms)",
                               "median of round medians (ms)", "round medians (ms)", "min (ms)",
                               "mean ± σ, all runs (ms)", "command line"], rows),
               "fastest": fastest, "dev_libs": by["lsinit (dev build)"]["libs"],
               "dev_cost": f(ovh["lsinit (dev build)"], 2)}

    B["a4_head"] = {"n": f"{S.N_ORPHANS:,}"}
    if orphans:
        o, variants = orphans
        rows = []
        ref = o["lsinit"]
        for name, _ in variants:
            s = o[name]
            rows.append([name, ratio(s["total"]["median"], ref["total"]["median"]),
                         ratio(s["cpu"]["median"], ref["cpu"]["median"]) if s["cpu"] else "—",
                         f"{f(s['total']['median'])} ({f(s['total']['min'])}–{f(s['total']['max'])})",
                         f"{f(s['tail']['median'], 2)} ({f(s['tail']['min'], 2)}–{f(s['tail']['max'], 2)})",
                         f"{f(s['cpu']['median'])} ({f(s['cpu']['min'])}–{f(s['cpu']['max'])})" if s["cpu"]
                         else "— (PID 1 is the maker)",
                         f"{f(s['runs']['median'], 0)} ({f(s['runs']['min'], 0)}–{f(s['runs']['max'], 0)})"
                         if s["runs"] else "—",
                         f"{f(s['per_run']['median'])} ({f(s['per_run']['min'])}–{f(s['per_run']['max'])})"
                         if s["per_run"] else "—",
                         f(s["wall"]["median"])])
        B["a4"] = {"n_arg": S.N_ORPHANS, "n": f"{S.N_ORPHANS:,}", "runs": S.RUNS_ORPHANS,
                   "table": table(["PID 1", "total ÷ lsinit", "PID 1 CPU ÷ lsinit", "total ms (min–max)",
                                   "reaping tail ms (min–max)", "PID 1 CPU ms (min–max)",
                                   "PID 1 wake-ups (min–max)", "CPU per wake-up µs (min–max)", "wall ms"], rows),
                   "max_tail": f"{max(o[n]['tail']['max'] for n, _ in variants[:-1]):.2f}",
                   "forks": f"{2 * S.N_ORPHANS:,}",
                   "cpu_min": f(o["lsinit"]["cpu"]["min"]), "cpu_max": f(o["lsinit"]["cpu"]["max"])}
    else:
        B["a4_skipped"] = {}
    return B


def slower(R):
    """Items for "Where lsinit is slower or larger"."""
    size, rss, tr, orphans = R["size"], R["rss"], R["true"][0], R["orphans"]
    items = []
    by = {r["name"]: r for r in size}
    lsz = by["lsinit"]["stripped"]
    bigger = [n for n in PEERS if by[n]["stripped"] < lsz]
    if bigger:
        items.append(fragment("slower_a1", size=f"{lsz / 1e6:.2f}",
                              others=", ".join(f"{n} {by[n]['stripped'] / 1e6:.2f} MB" for n in bigger)))
    r = rss["lsinit"]["median"]
    worse = [n for n in PEERS if rss[n]["median"] < r]
    if worse:
        items.append(fragment("slower_a2", rss=f(r, 0),
                              others=", ".join(f"{n} {f(rss[n]['median'], 0)} KiB" for n in worse)))
    worse = [n for n in PEERS if tr[n]["median"] < tr["lsinit"]["median"]]
    if worse:
        items.append(fragment("slower_a3", median=f(tr["lsinit"]["median"], 3), rounds=S.TRUE_ROUNDS,
                              others=", ".join(f"{n} {f(tr[n]['median'], 3)} ms (lsinit slower in "
                                               f"{sum(1 for x in tr[n]['ls_ratio'] if x > 1)} of {S.TRUE_ROUNDS} "
                                               f"rounds, lsinit ÷ {n} {min(tr[n]['ls_ratio']):.2f}–"
                                               f"{max(tr[n]['ls_ratio']):.2f})" for n in worse)))
    if orphans:
        o = orphans[0]
        worse = [n for n in PEERS if o[n]["cpu"] and o[n]["cpu"]["median"] < o["lsinit"]["cpu"]["median"]]
        if worse:
            items.append(fragment("slower_a4", n=f"{S.N_ORPHANS:,}", cpu=f(o["lsinit"]["cpu"]["median"]),
                                  others=", ".join(f"{n} {f(o[n]['cpu']['median'])} ms" for n in worse)))
    return items
