"""C10 and C11, the health endpoint and memory: wrk against lsinit's /livez
and /metrics (lsinit as PID 1 of a PID namespace) alone, during backup
verifications and during bursts of orphans (bench/healthapp.sh,
bench/orphans.c), against a minimal C server (bench/httpfloor.c); the memory
of lsinit and its verification child meanwhile. On the default Litestream
version only: this measures lsinit's own server and processes.
"""
import os
import re
import statistics
import subprocess
import threading
import time

from . import settings as S
from .markdown import f, fragment, mmm, ratio, table
from .runner import (
    BASE_ENV,
    CLEANUP,
    Instance,
    cmdline,
    compile_c,
    descendants,
    die,
    free_port,
    http_get,
    log,
    ls_env,
    make_blob_db,
    metric_values,
    port_open,
    replica_ready,
    st,
    status_kb,
    wait_for,
)

PACE_LUA = """-- bench/run: each connection waits WRK_DELAY_MS between requests (bounded rate)
local d = tonumber(os.getenv("WRK_DELAY_MS") or "10")
function delay() return d end
"""


def parse_wrk(text):
    def dur(v):
        m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
        if not m:
            return None
        x, u = float(m.group(1)), m.group(2)
        return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[u]
    out = {"errors": 0, "non2xx": 0}
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"(50|75|90|99)%\s+(\S+)$", s)
        if m:
            out[f"p{m.group(1)}"] = dur(m.group(2))
        m = re.match(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", s)
        if m:
            out["avg"], out["max"] = dur(m.group(1)), dur(m.group(3))
        m = re.match(r"Requests/sec:\s+([\d.]+)", s)
        if m:
            out["rps"] = float(m.group(1))
        m = re.match(r"(\d+) requests in ([\d.]+)(\w+)", s)
        if m:
            out["requests"] = int(m.group(1))
        m = re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", s)
        if m:
            out["errors"] = sum(int(x) for x in m.groups())
            out["error_detail"] = s
        m = re.match(r"Non-2xx or 3xx responses: (\d+)", s)
        if m:
            out["non2xx"] = int(m.group(1))
    if "rps" not in out or "p99" not in out:
        die(f"cannot read wrk's output:\n{text}")
    return out


def wrk(url, seconds, paced, lua):
    if paced:
        args = ["wrk", "-t1", f"-c{S.PACED_CONNS}", f"-d{seconds}s", "--latency", "-s", lua]
    else:
        args = ["wrk", "-t2", "-c20", f"-d{seconds}s", "--latency"]
    args += ["-H", "Connection: close", url]
    env = dict(BASE_ENV, WRK_DELAY_MS=str(S.PACED_DELAY_MS))
    t0 = time.monotonic()
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=seconds + 60)
    t1 = time.monotonic()
    if r.returncode != 0:
        die(f"wrk failed: {r.stdout}{r.stderr}")
    res = parse_wrk(r.stdout)
    res["window"] = (t0, t1)
    return res


WRK_CLOSED_CMD = "wrk -t2 -c20 -d{s}s --latency -H 'Connection: close' http://127.0.0.1:PORT{path}"
WRK_PACED_CMD = ("WRK_DELAY_MS={delay} wrk -t1 -c{c} -d{s}s --latency -s pace.lua -H 'Connection: close' "
                 "http://127.0.0.1:PORT{path}")


def wrk_set(port, paths, lua, label, fport=None, floor_closed=False):
    """PACED_RUNS rounds of paced runs through the paths; when fport is given, each paced run of lsinit has a
    paced run of the minimal C server at the same time beside it (two wrk processes, started together, same
    pacing and connection handling): both servers meet the same neighbours at the same moments, which
    sequential runs could not promise on a shared 2-CPU machine (a Litestream compaction or another tenant's
    burst landed on one side of a pair). The C server's runs beside `/livez` are key "floor", beside the other
    paths "floor <path>". The path order moves on by one every round. Then one closed-loop run per lsinit path
    (floor_closed: and for the C server), one at a time. The paced rounds come first: right after a closed-loop
    run tens of thousands of connections sit in TIME_WAIT, and whichever paced run came next would pay for it."""
    targets = [(path, f"http://127.0.0.1:{port}{path}") for path in paths]
    floor_url = f"http://127.0.0.1:{fport}/" if fport is not None else None
    out = {key: {"closed": None, "paced": []} for key, _ in targets}
    if fport is not None:
        out["floor"] = {"closed": None, "paced": []}
        for key, _ in targets[1:]:
            out[f"floor {key}"] = {"closed": None, "paced": []}
    for i in range(S.PACED_RUNS):
        k = i % len(targets)
        for key, url in targets[k:] + targets[:k]:
            if floor_url is None:
                out[key]["paced"].append(wrk(url, S.PACED_SECONDS, True, lua))
                continue
            side = {}
            t = threading.Thread(target=lambda: side.update(r=wrk(floor_url, S.PACED_SECONDS, True, lua)))
            t.start()
            out[key]["paced"].append(wrk(url, S.PACED_SECONDS, True, lua))
            t.join()
            out["floor" if key == targets[0][0] else f"floor {key}"]["paced"].append(side["r"])
    for key, url in targets:
        out[key]["closed"] = wrk(url, S.WRK_SECONDS, False, lua)
    if floor_url is not None and floor_closed:
        out["floor"]["closed"] = wrk(floor_url, S.WRK_SECONDS, False, lua)
    for key in out:
        closed, paced = out[key]["closed"], out[key]["paced"]
        name = key.replace("floor", "C server", 1) if key.startswith("floor") else key
        log(f"C10 {label} {name}: " + (f"{closed['rps']:,.0f} req/s closed (p99 {closed['p99']:.2f} ms); "
                                        if closed else "") +
            f"paced {statistics.median(p['rps'] for p in paced):,.0f} req/s, p99 "
            f"{statistics.median(p['p99'] for p in paced):.2f} ms")
    return out


class Sampler(threading.Thread):
    """Every 20 ms: VmRSS/VmHWM of lsinit (root) and of its verify child and
    that child's litestream restore; which of them exist."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.samples = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t = time.monotonic()
            s = {"t": t, "lsinit": status_kb(self.root), "verify": None, "restore": None, "replicate": None}
            for pid in descendants(self.root):
                argv = cmdline(pid)
                if len(argv) >= 2 and argv[1] == "__verify":
                    s["verify"] = (pid,) + status_kb(pid)
                elif len(argv) >= 2 and argv[0].endswith("litestream") and argv[1] == "restore":
                    s["restore"] = (pid,) + status_kb(pid)
                elif len(argv) >= 2 and argv[0].endswith("litestream") and argv[1] == "replicate":
                    s["replicate"] = (pid,) + status_kb(pid)
            self.samples.append(s)
            self.halt.wait(0.02)

    def coverage(self, windows, key):
        inside = [s for s in self.samples if any(a <= s["t"] <= b for a, b in windows)]
        if not inside:
            return None
        return sum(1 for s in inside if s[key] is not None) / len(inside)


def run_health(work, verify_ctx):
    d = os.path.join(work, "c10")
    os.makedirs(d)
    lua = os.path.join(d, "pace.lua")
    with open(lua, "w") as fh:
        fh.write(PACE_LUA)
    mb = S.VERIFY_MB[-1]
    v = S.LS_DEFAULT  # C10/C11 run on one Litestream version: the default one
    if verify_ctx is not None:
        db, rep = verify_ctx[v]["cmds"][mb]["db"], verify_ctx[v]["cmds"][mb]["rep"]
    else:  # bench/run --only health: a database and replica of its own
        db, rep = os.path.join(d, f"v{mb}.db"), os.path.join(d, f"replica-{mb}")
        make_blob_db(db, mb)
    paths = ["/livez", "/metrics"]
    res = {"db_bytes": os.stat(db).st_size, "mb": mb, "version": v}

    # The machine's floor: the least a poll() server can do per request. It runs
    # through every condition and is measured interleaved with lsinit's runs.
    floor_bin = os.path.join(d, "httpfloor")
    compile_c("httpfloor.c", floor_bin)
    fport = free_port()
    fp = subprocess.Popen([floor_bin, str(fport)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CLEANUP.append(lambda: (fp.kill(), fp.wait()) if fp.poll() is None else None)
    wait_for(lambda: http_get(fport, "/")[0] == 200 if port_open(fport) else None, 10, "bench/httpfloor")

    # H0: lsinit as PID 1 of a PID namespace, verification off; the app makes
    # bursts of orphans while a trigger file exists.
    orph = os.path.join(d, "orphans")
    compile_c("orphans.c", orph)
    trigger, burst_log = os.path.join(d, "orphans.on"), os.path.join(d, "orphans.log")
    hport = free_port()
    os.utime(db)
    env = ls_env(v, LSINIT_DB=db, LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_SYNC_INTERVAL=S.SYNC_INTERVAL,
                   LSINIT_VERIFY_INTERVAL="off", LSINIT_HEALTH_ADDR=f"127.0.0.1:{hport}",
                   LSINIT_LITESTREAM_VERSION=v)
    app = ["/bin/sh", os.path.join(S.BENCH, "healthapp.sh"), trigger, orph, str(S.ORPHAN_BURST), burst_log]
    h0 = Instance("health", env, app, d, pidns=True).start()
    wait_for(lambda: port_open(hport) and http_get(hport, "/readyz")[0] == 200, 60, "lsinit /readyz")
    if verify_ctx is None:
        wait_for(lambda: replica_ready(rep, v), 120, "the first snapshot")
    time.sleep(1.0)
    idle_rss = status_kb(h0.pid)
    res["alone"] = wrk_set(hport, paths, lua, "alone", fport, floor_closed=True)
    res["floor"] = {"/": res["alone"]["floor"]}
    # Orphans: bursts of 1,000 back to back for the whole wrk runs.
    _, text = http_get(hport, "/metrics")
    reaped0 = metric_values(text).get("lsinit_zombies_reaped_total", 0)
    open(trigger, "w").close()
    wait_for(lambda: os.path.exists(burst_log) and os.path.getsize(burst_log) > 0, 30, "the first orphan burst")
    t0 = time.monotonic()
    res["orphans"] = wrk_set(hport, paths, lua, "orphans", fport)
    t1 = time.monotonic()
    os.unlink(trigger)
    time.sleep(1.0)
    _, text = http_get(hport, "/metrics")
    reaped1 = metric_values(text).get("lsinit_zombies_reaped_total", 0)
    bursts = []
    with open(burst_log) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 4:  # total fork cpu n [runs]
                bursts.append([float(x) for x in parts[:4]])
    res["orphan_stats"] = {"reaped": reaped1 - reaped0, "seconds": t1 - t0, "bursts": len(bursts),
                           "burst_ms": st([b[0] for b in bursts]) if bursts else None,
                           "pid1_cpu_ms": st([b[2] for b in bursts if b[2] >= 0]) if bursts else None}
    res["idle_rss"] = idle_rss
    res["stop_ms_h0"] = h0.stop()

    # HV: the same with the built-in verification every second (its minimum),
    # on a new copy of the database with a new replica: Litestream starts a new
    # generation at WAL index 0, and a base config raises its checkpoint-interval
    # so that no checkpoint lands inside the runs (the known issue in C8: after a
    # new WAL index, every verification would wait out its catch-up timeout
    # instead of restoring).
    db = os.path.join(d, f"v{mb}-verify.db")
    rep = os.path.join(d, "replica-verify")
    make_blob_db(db, mb)
    res["db_bytes_hv"] = os.stat(db).st_size
    base = os.path.join(d, "base.yml")
    with open(base, "w") as fh:
        fh.write(f"dbs:\n  - path: {db}\n    checkpoint-interval: 1h\n")
    hport = free_port()
    os.utime(db)
    env = ls_env(v, LSINIT_CONFIG=base, LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_SYNC_INTERVAL=S.SYNC_INTERVAL,
                   LSINIT_VERIFY_INTERVAL="1s", LSINIT_HEALTH_ADDR=f"127.0.0.1:{hport}",
                   LSINIT_LITESTREAM_VERSION=v, LSINIT_VERIFY_DIR=os.path.join(d, "verify-tmp"))
    os.makedirs(os.path.join(d, "verify-tmp"))
    hv = Instance("health-verify", env, app, d, pidns=True).start()
    wait_for(lambda: port_open(hport) and http_get(hport, "/readyz")[0] == 200, 60, "lsinit /readyz")
    wait_for(lambda: replica_ready(rep, v), 120, "the first snapshot of the verification copy")
    sampler = Sampler(hv.pid)
    sampler.start()
    wait_for(lambda: any(s["verify"] for s in sampler.samples), 30, "the first verification")
    _, text = http_get(hport, "/metrics")
    v0 = metric_values(text)
    res["verify"] = wrk_set(hport, paths, lua, "verification", fport)
    time.sleep(0.5)
    _, text = http_get(hport, "/metrics")
    v1 = metric_values(text)
    sampler.halt.set()
    sampler.join()
    windows = [r["window"] for p in res["verify"].values() for r in [p["closed"]] + p["paced"] if r]
    cycles = {k[len("lsinit_verifications_total{"):-1]: v1.get(k, 0) - v0.get(k, 0)
              for k in v1 if k.startswith("lsinit_verifications_total{")}
    res["verify_stats"] = {
        "verify_cov": sampler.coverage(windows, "verify"), "restore_cov": sampler.coverage(windows, "restore"),
        "cycles": cycles, "seconds_sum": v1.get("lsinit_verification_seconds_total", 0) - v0.get(
            "lsinit_verification_seconds_total", 0)}
    res["memory"] = memory_summary(sampler.samples, idle_rss)
    res["stop_ms_hv"] = hv.stop()
    fp.terminate()
    fp.wait()
    res["env_hv"] = env
    res["app"] = app
    return res



def memory_summary(samples, idle):
    def peak(key, idx):
        vals = [s[key][idx] for s in samples if s[key] is not None and s[key][idx] is not None]
        return max(vals) if vals else None

    def per_pid(key):
        pids = {}
        for s in samples:
            if s[key] is not None and s[key][2] is not None:
                pid = s[key][0]
                pids[pid] = max(pids.get(pid, 0), s[key][2])
        return list(pids.values())
    ls_rss = [s["lsinit"][0] for s in samples if s["lsinit"][0] is not None]
    ls_hwm = [s["lsinit"][1] for s in samples if s["lsinit"][1] is not None]
    return {
        "lsinit_idle_rss": idle[0], "lsinit_idle_hwm": idle[1],
        "lsinit_rss_max": max(ls_rss) if ls_rss else None, "lsinit_hwm": max(ls_hwm) if ls_hwm else None,
        "verify_rss_max": peak("verify", 1), "verify_hwm_max": peak("verify", 2),
        "verify_hwm_per_cycle": per_pid("verify"),
        "restore_rss_max": peak("restore", 1), "restore_hwm_max": peak("restore", 2),
        "replicate_rss_max": peak("replicate", 1),
        "samples": len(samples), "verify_pids": len({s["verify"][0] for s in samples if s["verify"]}),
    }



def run(work, R):
    log("C10 health endpoint with wrk (alone, orphan bursts, verification)")
    R["health"] = run_health(work, R.get("verify"))


# ---------------------------------------------------------------- report

def paced_stats(runs, key):
    vals = [r[key] for r in runs]
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


CONDITIONS = [("alone", "alone"), ("verify", "verification"), ("orphans", "orphan bursts")]


def floor_p99(h, key):
    """The C server's paced p99 in condition key (measured interleaved with lsinit's runs there)."""
    return paced_stats(h[key]["floor"]["paced"], "p99")


def paired_ratio(h, key, path="/livez"):
    """lsinit's paced p99 ÷ that of the C server's run beside it (same moment), pair by pair: median, min and
    max over the rounds. The goal (≤ 1.25×) is judged on the median."""
    floor = h[key]["floor" if path == "/livez" else f"floor {path}"]["paced"]
    rs = [a["p99"] / b["p99"] for a, b in zip(h[key][path]["paced"], floor, strict=True) if b["p99"] > 0]
    return {"median": statistics.median(rs), "min": min(rs), "max": max(rs), "n": len(rs)}


def summary_rows(R):
    h = R.get("health")
    if not h:
        return []
    rows = []
    fl = h["floor"]["/"]
    a = h["alone"]["/livez"]
    rows.append(["C10 `/livez`, closed loop (`wrk -t2 -c20`): lsinit ÷ a minimal C server, requests/s",
                 ratio(a["closed"]["rps"], fl["closed"]["rps"]),
                 f"{f(a['closed']['rps'], 0)} vs {f(fl['closed']['rps'], 0)} requests/s"])
    for key, _label in CONDITIONS:
        pa, pf = paced_stats(h[key]["/livez"]["paced"], "p99"), floor_p99(h, key)
        rr = paced_stats(h[key]["/livez"]["paced"], "rps")
        what = "alone" if key == "alone" else f"during {h['mb']} MB verifications" if key == "verify" else \
            f"during bursts of {S.ORPHAN_BURST:,} orphans"
        pr = paired_ratio(h, key)
        rows.append([f"C10 `/livez` p99 at ~1,000 requests/s, {what}: lsinit ÷ the C server beside it, median of "
                     f"{pr['n']} rounds", f"{pr['median']:.2f}×",
                     f"rounds {pr['min']:.2f}–{pr['max']:.2f}×; {f(pa['median'], 2)} ms at {f(rr['median'], 0)} "
                     f"requests/s vs {f(pf['median'], 2)} ms (medians) (target ≤ 1.25×: "
                     f"{'met' if pr['median'] <= 1.25 else '**missed**'})"])
    mem = h["memory"]
    rows.append([f"C11 lsinit PID 1 peak RSS (VmHWM) during {h['mb']} MB verifications ÷ idle",
                 ratio(mem["lsinit_hwm"], mem["lsinit_idle_hwm"]),
                 f"{f(mem['lsinit_hwm'], 0)} KiB; the `lsinit __verify` child peaks at "
                 f"{f(mem['verify_hwm_max'], 0)} KiB, its `litestream restore` at "
                 f"{f((mem['restore_hwm_max'] or 0) / 1024, 1)} MiB"])
    return rows


def blocks(R, work):
    h = R.get("health")
    if not h:
        return {}
    B = {}
    vs, os_ = h["verify_stats"], h["orphan_stats"]
    rows = []
    fl = h["floor"]["/"]

    def cells(c, paced):
        p99, p50, rr = paced_stats(paced, "p99"), paced_stats(paced, "p50"), paced_stats(paced, "rps")
        closed = [f(c["rps"], 0), f"{f(c['p50'], 2)} / {f(c['p99'], 2)} / {f(c['max'], 1)}"] if c else ["—", "—"]
        errs = (c["errors"] + c["non2xx"] if c else 0) + sum(p["errors"] + p["non2xx"] for p in paced)
        return closed + [f(rr["median"], 0), f(p50["median"], 2),
                         f"{f(p99['median'], 2)} ({f(p99['min'], 2)}–{f(p99['max'], 2)})", errs]
    for key, label in CONDITIONS:
        for path in ["/livez", "/metrics"]:
            c = h[key][path]["closed"]
            rows.append([f"`{path}`", label, ratio(c["rps"], fl["closed"]["rps"]),
                         f"{paired_ratio(h, key, path)['median']:.2f}×"]
                        + cells(c, h[key][path]["paced"]))
        fc = h[key]["floor"]
        rows.append(["minimal C server", label, "1.00×" if fc["closed"] else "—", "1.00×"]
                    + cells(fc["closed"], fc["paced"]))
    a = paced_stats(h["alone"]["/livez"]["paced"], "p99")
    fa = floor_p99(h, "alone")
    paced_cmd = WRK_PACED_CMD.format(delay=S.PACED_DELAY_MS, c=S.PACED_CONNS, s=S.PACED_SECONDS, path="/livez")
    within = [label for key, label in CONDITIONS if paired_ratio(h, key)["median"] <= 1.25]
    B["c10"] = {
        "version": h["version"], "mb": h["mb"], "conns": S.PACED_CONNS, "delay": S.PACED_DELAY_MS,
        "closed_cmd": WRK_CLOSED_CMD.format(s=S.WRK_SECONDS, path="/livez"), "paced_cmd": paced_cmd,
        "paced_runs": S.PACED_RUNS,
        "hv_mb": f"{h.get('db_bytes_hv', h['db_bytes']) / 1e6:.0f}",
        "verify_cov": f"{vs['verify_cov'] * 100:.0f}", "restore_cov": f"{vs['restore_cov'] * 100:.0f}",
        "cycles": int(sum(vs["cycles"].values())),
        "cycle_results": ", ".join(f"{int(c)} {k}" for k, c in vs["cycles"].items() if c),
        "burst": S.ORPHAN_BURST, "burst_n": f"{S.ORPHAN_BURST:,}", "bursts": os_["bursts"],
        "reaped": f"{int(os_['reaped']):,}", "seconds": f"{os_['seconds']:.0f}", "burst_ms": mmm(os_["burst_ms"]),
        "table": table(["endpoint", "condition", "requests/s ÷ C server alone", "p99 @1k ÷ C server beside it",
                        "closed loop: requests/s", "closed loop: p50 / p99 / max (ms)", "~1k: achieved requests/s",
                        "~1k: p50 (ms)", "~1k: p99 (ms)", "errors"], rows),
        "livez_p99": f(a["median"], 2), "verdict": "**met**" if a["median"] < 1 else "**missed**",
        "floor_p99": f(fa["median"], 2), "sync_interval": S.SYNC_INTERVAL,
        "within": ", ".join(within) if within else "none of the conditions",
        "ratios": ", ".join(f"{label} {pr['median']:.2f}× (rounds {pr['min']:.2f}–{pr['max']:.2f}×; ratio of the medians "
                            f"{ratio(paced_stats(h[key]['/livez']['paced'], 'p99')['median'], floor_p99(h, key)['median'])})"
                            for key, label in CONDITIONS for pr in [paired_ratio(h, key)])}

    m = h["memory"]
    per = m["verify_hwm_per_cycle"]
    rows = [["lsinit, PID 1: idle (no verification)", "1.00×", f(m["lsinit_idle_rss"], 0), f(m["lsinit_idle_hwm"], 0), ""],
            ["lsinit, PID 1: while verifications run", ratio(m["lsinit_hwm"], m["lsinit_idle_hwm"]),
             f(m["lsinit_rss_max"], 0), f(m["lsinit_hwm"], 0), "reads one JSON line per cycle"],
            ["`lsinit __verify` (the cycle's child)", ratio(m["verify_hwm_max"], m["lsinit_idle_hwm"]),
             f(m["verify_rss_max"], 0), f(m["verify_hwm_max"], 0),
             f"per cycle: {f(min(per), 0)}–{f(max(per), 0)} KiB" if per else ""],
            ["`litestream restore` (child of `__verify`)", ratio(m["restore_hwm_max"], m["lsinit_idle_hwm"]),
             f(m["restore_rss_max"], 0), f(m["restore_hwm_max"], 0), "Litestream's own restore"],
            ["`litestream replicate` (reference)", "—", f(m["replicate_rss_max"], 0), "—", ""]]
    B["c11"] = {"mb": h["mb"], "samples": m["samples"], "cycles": m["verify_pids"],
                "table": table(["process", "VmHWM ÷ lsinit idle", "VmRSS max seen (KiB)", "VmHWM (KiB)", "note"], rows)}
    return B


def slower(R):
    h = R.get("health")
    if not h:
        return []
    a = paced_stats(h["alone"]["/livez"]["paced"], "p99")
    fp = floor_p99(h, "alone")
    c = h["alone"]["/livez"]["closed"]["rps"]
    fc = h["floor"]["/"]["closed"]["rps"]
    if c < fc or a["median"] > fp["median"]:
        return [fragment("slower_c10", rps=f(c, 0), p99=f(a["median"], 2), floor_rps=f(fc, 0),
                         floor_p99=f(fp["median"], 2))]
    return []
