"""Part E: read-only followers (LSINIT_ROLE=follower) and the standby
(LSINIT_ROLE=standby), on Litestream S.FOL_VERSION with a file replica on the
local disk. Every lsinit runs as PID 1 of its own PID namespace (unshare), as
in a container; the apps are bench/followapp.py (E1, E2) and the example app
docker/python-app/app.py (E3).

E1  follower lag: the primary's app writes one row per transaction at each of
    S.FOL_RATES rows/s for S.FOL_WRITE_S s, with 1 and with 4 followers; each
    follower's app polls max(seq) every S.FOL_POLL_MS ms on one connection.
    Lag = first seen on a follower - acknowledged on the primary, per row and
    follower; CPU of each follower's lsinit + Litestream from /proc/PID/stat.
E2  failover: a primary and a standby (LSINIT_LEASE_TTL=S.FOL_LEASE_TTL); the
    primary's lsinit is SIGKILLed (its namespace goes with it); time until the
    standby, restarted as the primary, has its app's first write committed.
    S.FOL_FAILOVERS times, a fresh standby each time; the phases from the
    standby's log lines, timestamped as they appear.
E3  read throughput of the example app: one `wrk -t1 -c8` per instance, all at
    once, on the primary alone and with S.FOL_READ_COUNTS followers.

Also checks that lsinit refuses both roles on Litestream 0.3 (exit 78).
"""
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import threading
import time

from . import settings as S
from .health import parse_wrk
from .markdown import f, fragment, load, render, table
from .runner import (
    BASE_ENV,
    Instance,
    cmdline,
    descendants,
    die,
    free_port,
    http_get,
    is05,
    log,
    ls_env,
    metric_values,
    port_open,
    replica_ready,
    wait_for,
)

APP = os.path.join(S.BENCH, "followapp.py")
EXAMPLE = os.path.join(S.ROOT, "docker", "python-app", "app.py")
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- instances

class Node:
    """One lsinit (PID 1 of its own namespace) with its database, state folder and health port."""

    def __init__(self, d, name, role, rep, app, ttl=None, **extra):
        self.name, self.role = name, role
        self.db = os.path.join(d, name, "app.db")
        self.state = os.path.join(d, f"{name}-state")
        os.makedirs(os.path.dirname(self.db), exist_ok=True)
        os.makedirs(self.state)
        self.hport = free_port()
        env = ls_env(S.FOL_VERSION, LSINIT_DB=self.db, LSINIT_REPLICA_URL=f"file://{rep}",
                     LSINIT_LITESTREAM_VERSION=S.FOL_VERSION, LSINIT_SYNC_INTERVAL=S.SYNC_INTERVAL,
                     LSINIT_HEALTH_ADDR=f"127.0.0.1:{self.hport}", LSINIT_VERIFY_INTERVAL="off", **extra)
        if role != "primary":
            env["LSINIT_ROLE"] = role
        if ttl:
            env["LSINIT_LEASE_TTL"] = ttl
        argv = [a.format(db=self.db, state=self.state) for a in app]
        self.inst = Instance(f"e-{name}", env, argv, d, pidns=True).start()
        self.watch = LogWatch(self.inst.log_path)

    def ready(self):
        """The app has started and /readyz answers 200."""
        if not os.path.exists(os.path.join(self.state, "ready")):
            return False
        return port_open(self.hport) and http_get(self.hport, "/readyz")[0] == 200

    def app_pid(self):
        try:
            with open(os.path.join(self.state, "ready")) as fh:
                return int(fh.read())
        except (OSError, ValueError):
            return None

    def cpu(self, exclude=()):
        """CPU seconds of lsinit and every process under it (Litestream, its children, lsinit's own
        children; reaped ones through cutime/cstime), without the app and what runs under it."""
        skip = set()
        for pid in exclude:
            if pid:
                skip |= {pid, *descendants(pid)}
        return sum(proc_cpu(p) for p in [self.inst.pid] + descendants(self.inst.pid) if p not in skip)

    def stop(self):
        self.watch.stop()


def proc_cpu(pid):
    """utime + stime + cutime + cstime of pid, in seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            rest = fh.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in rest[11:15]) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


def busy_cpus(c0, c1):
    """How many of the machine's CPUs were busy between two machine_cpu() readings."""
    n = os.cpu_count() or 1
    return (c1[0] - c0[0]) / max(1, c1[1] - c0[1]) * n


def stop_all(nodes):
    """SIGTERM to every lsinit at once, then wait for each (SIGKILL to what is left after 30 s)."""
    live = [n for n in nodes if n.inst.alive()]
    for n in live:
        try:
            os.kill(n.inst.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for n in live:
        try:
            n.inst.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            n.inst.kill()
    for n in nodes:
        n.stop()
        n.inst.log.close()


class LogWatch:
    """An lsinit log file read every 10 ms, each new line with the time it was seen (lsinit's own
    lines carry no timestamp)."""

    def __init__(self, path):
        self.path, self.lines, self.stop_ = path, [], False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        pos, buf = 0, b""
        while not self.stop_:
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(pos)
                    data = fh.read()
            except OSError:
                data = b""
            now = time.time()
            if data:
                pos += len(data)
                buf += data
                *full, buf = buf.split(b"\n")
                self.lines += [(now, x.decode(errors="replace")) for x in full]
            time.sleep(0.01)

    def first(self, text, after=0.0):
        """(time, line) of the first line containing text seen at or after `after`, or (None, None)."""
        for t, line in list(self.lines):
            if t >= after and text in line:
                return t, line
        return None, None

    def stop(self):
        self.stop_ = True


def pct(values, p):
    """The p-th percentile, linear between the closest ranks."""
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def read_pairs(path, key=int):
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                p = line.split()
                if len(p) >= 2:
                    out.append((key(p[0]), float(p[1])))
    except OSError:
        pass
    return out


# ---------------------------------------------------------------- the 0.3 refusal

def refusal(work):
    """lsinit with LSINIT_ROLE=follower / standby on each 0.3 Litestream: its exit code and ERROR line."""
    out = {}
    for v in [v for v in S.LS_VERSIONS if not is05(v)]:
        for role in ("follower", "standby"):
            d = os.path.join(work, f"e-refuse-{v}-{role}")
            os.makedirs(d)
            env = ls_env(v, LSINIT_DB=os.path.join(d, "app.db"), LSINIT_REPLICA_URL=f"file://{d}/replica",
                         LSINIT_LITESTREAM_VERSION=v, LSINIT_ROLE=role, LSINIT_VERIFY_INTERVAL="off",
                         LSINIT_HEALTH_ADDR=f"127.0.0.1:{free_port()}")
            r = subprocess.run([S.LSINIT, "--", "true"], env=env, capture_output=True, text=True, timeout=60)
            line = next((x for x in r.stderr.splitlines() if "ERROR" in x), r.stderr.strip()[-300:])
            out[f"{v} {role}"] = {"rc": r.returncode, "line": line.strip(),
                                  "created": os.path.exists(os.path.join(d, "app.db"))}
    return out


# ---------------------------------------------------------------- E1: follower lag

def lags_of(acks, seen):
    """For each acknowledged (seq, t): first time the reader saw max(seq) >= seq, minus t."""
    out, j = [], 0
    for seq, t in acks:
        while j < len(seen) and seen[j][1] < seq:
            j += 1
        if j == len(seen):
            break
        out.append(max(0.0, seen[j][0] - t))
    return out


def run_lag(work, n):
    d = os.path.join(work, f"e1-{n}")
    rep = os.path.join(d, "replica")
    os.makedirs(d)
    primary = Node(d, "p", "primary", rep, [S.PYTHON, APP, "writer", "{db}", "{state}"])
    wait_for(lambda: os.path.exists(os.path.join(primary.state, "ready")) and replica_ready(rep, S.FOL_VERSION),
             60, f"E1: the primary's app and its first snapshot:\n{primary.inst.tail()}")
    followers = [Node(d, f"f{i}", "follower", rep, [S.PYTHON, APP, "reader", "{db}", "{state}", str(S.FOL_POLL_MS)])
                 for i in range(n)]
    nodes = [primary] + followers
    try:
        for fo in followers:
            wait_for(fo.ready, 90, f"E1: follower {fo.name} ready:\n{fo.inst.tail()}")
        time.sleep(1.0)
        lag_cell(primary, followers, n, 10, rep, seconds=2, phase="warm")  # warm-up, not counted
        return [lag_cell(primary, followers, n, rate, rep) for rate in S.FOL_RATES]
    finally:
        stop_all(nodes)


def l0_files(rep, t0, t1):
    """The primary's uploads between t0 and t1: LTX files in the replica's level 0 written then."""
    d = os.path.join(rep, "ltx", "0")
    n = 0
    for name in os.listdir(d) if os.path.isdir(d) else []:
        try:
            n += t0 <= os.path.getmtime(os.path.join(d, name)) <= t1
        except OSError:
            pass
    return n


def lag_cell(primary, followers, n, rate, rep, seconds=None, phase=None):
    """The writer writes at rate rows/s for seconds; the lags of its rows on every follower."""
    seconds = seconds or S.FOL_WRITE_S
    phase = phase or f"r{rate}"
    apps = [fo.app_pid() for fo in followers]
    cpu0 = [fo.cpu(exclude=[a]) for fo, a in zip(followers, apps, strict=True)]
    pcpu0, mc0 = primary.cpu(exclude=[primary.app_pid()]), machine_cpu()
    t0 = time.monotonic()
    with open(os.path.join(primary.state, "go.tmp"), "w") as fh:
        fh.write(f"{phase} {rate} {seconds}\n")
    os.rename(os.path.join(primary.state, "go.tmp"), os.path.join(primary.state, "go"))
    done = os.path.join(primary.state, f"done-{phase}")
    gauge, ready = [0.0] * n, [0, 0]
    deadline = time.monotonic() + seconds + 60
    while not os.path.exists(done):
        if time.monotonic() > deadline or not primary.inst.alive():
            die(f"E1: the writer did not finish {phase}:\n{primary.inst.tail()}")
        for i, fo in enumerate(followers):  # lsinit's own view of the lag and readiness, once a second
            try:
                v = metric_values(http_get(fo.hport, "/metrics")[1], db=fo.db).get("lsinit_follow_lag_seconds")
                gauge[i] = max(gauge[i], v or 0.0)
                ready[0] += http_get(fo.hport, "/readyz")[0] == 200
            except OSError:
                pass
            ready[1] += 1
        time.sleep(1.0)
    wall = time.monotonic() - t0
    cpu1 = [fo.cpu(exclude=[a]) for fo, a in zip(followers, apps, strict=True)]
    pcpu1, mc1 = primary.cpu(exclude=[primary.app_pid()]), machine_cpu()
    with open(done) as fh:
        w0, w1 = (float(x) for x in fh.read().split())
    acks = sorted(read_pairs(os.path.join(primary.state, f"acks-{phase}")))
    last = acks[-1][0]
    seen_path = [os.path.join(fo.state, "seen") for fo in followers]

    def caught_up():
        return all((s := read_pairs(p, key=float)) and max(m for _, m in s) >= last for p in seen_path)
    deadline = time.monotonic() + 30
    while not caught_up() and time.monotonic() < deadline:
        time.sleep(0.1)
    lags, per = [], []
    for p in seen_path:
        seen = sorted((t, int(m)) for t, m in read_pairs(p, key=float))
        lg = lags_of(acks, seen)
        lags += lg
        per.append(pct(lg, 50))
    cell = {"rate": rate, "followers": n, "rows": len(acks), "achieved": len(acks) / max(1e-9, w1 - w0),
            "checked": len(lags), "missing": len(acks) * n - len(lags),
            "p50": pct(lags, 50), "p99": pct(lags, 99), "max": max(lags) if lags else None,
            "p50_each": [x for x in per if x is not None],
            "gauge_max": max(gauge) if gauge else None, "ready": ready,
            "cpu_follower": statistics.fmean((b - a) / wall for a, b in zip(cpu0, cpu1, strict=True)),
            "cpu_primary": (pcpu1 - pcpu0) / wall, "busy": busy_cpus(mc0, mc1), "wall": wall,
            "uploads": l0_files(rep, w0, w1) / max(1e-9, w1 - w0)}
    log(f"E1 {phase}: {rate} writes/s, {n} follower(s): {cell['rows']} rows ({cell['achieved']:.0f}/s), lag p50 "
        f"{f(cell['p50'], 3)} s, p99 {f(cell['p99'], 3)} s, max {f(cell['max'], 3)} s; follower CPU "
        f"{cell['cpu_follower'] * 100:.1f} %, {cell['uploads']:.1f} uploads/s")
    return cell


# ---------------------------------------------------------------- E2: failover

def lease_generation(rep):
    try:
        with open(os.path.join(rep, "lock.json")) as fh:
            m = re.search(r'"generation"\s*:\s*(\d+)', fh.read())
        return int(m.group(1)) if m else None
    except OSError:
        return None


CHECK_S = 2.5  # a follower's (and standby's) lag check: LSINIT_FOLLOW_MAX_LAG / 4, 10 s by default


def run_failover(work):
    d = os.path.join(work, "e2")
    rep = os.path.join(d, "replica")
    os.makedirs(d)
    app = [S.PYTHON, APP, "app", "{db}", "{state}"]
    primary = Node(d, "i0", "primary", rep, app, ttl=S.FOL_LEASE_TTL)
    nodes = [primary]
    runs = []
    try:
        wait_for(lambda: read_pairs(os.path.join(primary.state, "acks")) and replica_ready(rep, S.FOL_VERSION), 60,
                 f"E2: the first primary's writes and snapshot:\n{primary.inst.tail()}")
        for k in range(1, S.FOL_FAILOVERS + 1):
            sb = Node(d, f"i{k}", "standby", rep, app, ttl=S.FOL_LEASE_TTL)
            nodes.append(sb)
            wait_for(lambda s=sb: s.watch.first("standing by")[0], 90, f"E2: standby {k} standing by:\n{sb.inst.tail()}")
            wait_for(lambda s=sb: os.path.exists(os.path.join(s.state, "roles")), 30, f"E2: standby {k}'s app")
            gen = lease_generation(rep)
            # The k-th kill comes 0.5 s + (k - 1) / N of a lag-check period after "standing by": the kills fall
            # evenly over the standby's check period (the lease's renewals, every TTL / 3, run on their own clock).
            time.sleep(0.5 + CHECK_S * (k - 1) / S.FOL_FAILOVERS)
            t_kill = time.time()
            os.kill(primary.inst.pid, signal.SIGKILL)
            primary.inst.p.wait(timeout=10)
            primary.stop()
            acks = os.path.join(sb.state, "acks")
            wait_for(lambda a=acks: read_pairs(a), 4 * 30 + 30, f"E2: standby {k}'s first write:\n{sb.inst.tail()}")
            t_write = read_pairs(acks)[0][1]
            t_vacant, _ = sb.watch.first("lease is vacant", t_kill)
            t_taking, line = sb.watch.first("taking over as the primary", t_kill)
            t_took, took = sb.watch.first("took over", t_kill)
            m = re.search(r"\((\d+)ms after the lease was seen vacant\)", line or "")
            r = {"total": t_write - t_kill, "vacant": t_vacant - t_kill if t_vacant else None,
                 "catchup_ms": int(m.group(1)) if m else None,
                 "handover": t_took - t_taking if t_took and t_taking else None,
                 "start": t_write - t_took if t_took else None,
                 "gen": (gen, lease_generation(rep)), "took": took or "",
                 "nothing_newer": "nothing newer" in (took or "")}
            runs.append(r)
            log(f"E2 failover {k}: {r['total']:.2f} s (lease seen vacant after {f(r['vacant'], 2)} s, "
                f"catch-up {r['catchup_ms']} ms, handover {f(r['handover'], 3)} s, start {f(r['start'], 3)} s; "
                f"lease generation {gen} -> {r['gen'][1]})")
            primary = sb
        return runs
    finally:
        stop_all(nodes)


# ---------------------------------------------------------------- E3: read throughput

def seed_items(db, n):
    """The example app's schema (docker/python-app/app.py) and n rows, in WAL mode."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, created REAL NOT NULL)")
    con.execute("BEGIN")
    for i in range(n):
        con.execute("INSERT INTO items (body, created) VALUES (?, ?)", (f"item {i} " + "x" * 40, time.time()))
    con.execute("COMMIT")
    con.close()


def count(port):
    try:
        st_, body = http_get(port, "/count")
        return st_ == 200 and int(re.search(r'"count":\s*(\d+)', body).group(1))
    except (OSError, AttributeError, ValueError):
        return None


def example_primary(d, rep, pport, pin=False):
    """A primary running the example app on its seeded database; pin: under `taskset -c 0`."""
    os.makedirs(os.path.join(d, "p"))
    seed_items(os.path.join(d, "p", "app.db"), S.FOL_ITEMS)
    app = (["taskset", "-c", "0"] if pin else []) + [S.PYTHON, EXAMPLE]
    return Node(d, "p", "primary", rep, app, HOST="127.0.0.1", PORT=pport, DB_PATH=os.path.join(d, "p", "app.db"))


def run_pinned(work):
    """E3's control: the primary alone with its app pinned to one CPU, two passes."""
    if shutil.which("taskset") is None:
        return None
    d = os.path.join(work, "e3-pinned")
    rep = os.path.join(d, "replica")
    os.makedirs(d)
    pport = free_port()
    primary = example_primary(d, rep, pport, pin=True)
    try:
        wait_for(lambda: count(pport) == S.FOL_ITEMS and replica_ready(rep, S.FOL_VERSION), 60,
                 f"E3: the pinned primary's app:\n{primary.inst.tail()}")
        wrk_all([pport], 0, seconds=1)
        return combine([wrk_all([pport], "pinned", nodes=[primary]) for _ in range(2)])
    finally:
        stop_all([primary])


def run_reads(work):
    d = os.path.join(work, "e3")
    rep = os.path.join(d, "replica")
    os.makedirs(d)
    pport = free_port()
    ports = [pport]
    primary = example_primary(d, rep, pport)
    nodes = [primary]
    passes = {n: [] for n in S.FOL_READ_COUNTS}
    try:
        wait_for(lambda: count(pport) == S.FOL_ITEMS and replica_ready(rep, S.FOL_VERSION), 60,
                 f"E3: the primary's app:\n{primary.inst.tail()}")
        wrk_all(ports, 0, seconds=1)  # warm-up, not counted
        # Up and back down (0, 1, 2, 4, 2, 1, 0 followers): each count is measured twice, once early and
        # once late, so that a slow phase of this shared machine does not land on one count only.
        counts = list(S.FOL_READ_COUNTS)
        for want in counts + counts[-2::-1]:
            while len(nodes) - 1 < want:
                port = free_port()
                name = f"f{len(nodes)}"
                nodes.append(Node(d, name, "follower", rep, [S.PYTHON, EXAMPLE], HOST="127.0.0.1", PORT=port,
                                  DB_PATH=os.path.join(d, name, "app.db"),
                                  PRIMARY_URL=f"http://127.0.0.1:{pport}"))
                ports.append(port)
            while len(nodes) - 1 > want:
                stop_all([nodes.pop()])
                ports.pop()
            for n, port in zip(nodes, ports, strict=True):
                wait_for(lambda p=port: count(p) == S.FOL_ITEMS, 90, f"E3: {n.name} serving:\n{n.inst.tail()}")
            time.sleep(1.0)
            passes[want].append(wrk_all(ports, want, nodes=nodes))
        return [combine(passes[n]) for n in S.FOL_READ_COUNTS]
    finally:
        stop_all(nodes)


def combine(ps):
    """One E3 cell from its passes: means of the sums and per instance, the worst p99."""
    return {"followers": ps[0]["followers"], "instances": ps[0]["instances"],
            "total": statistics.fmean(p["total"] for p in ps), "passes": [p["total"] for p in ps],
            "rps": [statistics.fmean(x) for x in zip(*(p["rps"] for p in ps), strict=True)],
            "p99": [max(x) for x in zip(*(p["p99"] for p in ps), strict=True)],
            "errors": sum(p["errors"] for p in ps), "busy": statistics.fmean(p["busy"] for p in ps),
            "app_cpu": [statistics.fmean(x) for x in zip(*(p["app_cpu"] for p in ps), strict=True)]}


WRK_CMD = "wrk -t1 -c{c} -d{s}s --latency -H 'Connection: close' 'http://127.0.0.1:PORT/items?limit=10'"


def app_of(node):
    """The pid of the example app under node's lsinit."""
    for pid in descendants(node.inst.pid):
        c = cmdline(pid)  # (Litestream's and the shim's command lines name the app too)
        if len(c) > 1 and c[1] == EXAMPLE and "python" in os.path.basename(c[0]):
            return pid
    die(f"E3: no example app under {node.name}")


def wrk_all(ports, n, seconds=None, nodes=None):
    """One wrk per instance, all at once; the sum of their requests/s."""
    seconds = seconds or S.FOL_WRK_S
    args = ["wrk", "-t1", f"-c{S.FOL_WRK_CONNS}", f"-d{seconds}s", "--latency", "-H", "Connection: close"]
    apps = [app_of(n) for n in nodes] if nodes else []
    a0 = [proc_cpu(a) for a in apps]
    mc0, t0 = machine_cpu(), time.monotonic()
    procs = [subprocess.Popen(args + [f"http://127.0.0.1:{p}/items?limit=10"], env=BASE_ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p in ports]
    res = []
    for p in procs:
        out, err = p.communicate(timeout=seconds + 60)
        if p.returncode != 0:
            die(f"E3: wrk failed: {out}{err}")
        res.append(parse_wrk(out))
    mc1, wall = machine_cpu(), time.monotonic() - t0
    app_cpu = [(proc_cpu(a) - c) / wall for a, c in zip(apps, a0, strict=True)]
    cell = {"followers": n, "instances": len(ports), "app_cpu": app_cpu, "rps": [r["rps"] for r in res], "total": sum(r["rps"] for r in res),
            "p50": [r["p50"] for r in res], "p99": [r["p99"] for r in res],
            "errors": sum(r["errors"] + r["non2xx"] for r in res), "busy": busy_cpus(mc0, mc1)}
    who = {0: "primary alone", "pinned": "primary alone, app pinned to CPU 0"}.get(n, f"primary + {n} follower(s)")
    log(f"E3 {who}{' (warm-up)' if not nodes else ''}: {cell['total']:.0f} requests/s "
        f"({' + '.join(f'{x:.0f}' for x in cell['rps'])}), {cell['busy']:.2f} CPUs busy, apps "
        f"{' + '.join(f'{x * 100:.0f} %' for x in app_cpu)} of a CPU")
    return cell


# ---------------------------------------------------------------- run

def run(work, R):
    v = S.FOL_VERSION
    if not is05(v) or not os.access(S.LS_BINS.get(v, ""), os.X_OK):
        die(f"Part E needs Litestream 0.5.9 or later at .deps/litestream/{v}/litestream")
    log(f"E followers and standby (Litestream {v}, file replica): E1 lag at {S.FOL_RATES} writes/s × "
        f"{S.FOL_COUNTS} followers, E2 {S.FOL_FAILOVERS} failovers, E3 reads with {S.FOL_READ_COUNTS} followers")
    t0 = time.monotonic()
    res = {"version": v, "refusal": refusal(work)}
    res["lag"] = [c for n in S.FOL_COUNTS for c in run_lag(work, n)]
    res["failover"] = run_failover(work)
    res["reads"] = run_reads(work)
    res["pinned"] = run_pinned(work)
    res["seconds"] = time.monotonic() - t0
    R["followers"] = res
    log(f"E done in {res['seconds']:.0f} s")


# ---------------------------------------------------------------- report

def s2(x):
    return f(x, 2)


def spread(values):
    """'a' or 'min–max' of a few values, in seconds."""
    if not values:
        return "—"
    lo, hi = min(values), max(values)
    return s2(lo) if len(values) == 1 or s2(lo) == s2(hi) else f"{s2(lo)}–{s2(hi)}"


def blocks(R, work):
    E = R.get("followers")
    if not E:
        return {}
    ref = E["refusal"]
    refused = "; ".join(f"`LSINIT_ROLE={k.split()[1]}` on {k.split()[0]}: exit {x['rc']}"
                        f"{'' if not x['created'] else ' (but it created the database)'}"
                        for k, x in ref.items()) or "not checked (no 0.3 Litestream installed)"
    ref_line = next((x["line"] for x in ref.values()), "")
    B = {"e_head": {"version": E["version"], "sync_interval": S.SYNC_INTERVAL, "refused": refused,
                    "refusal_line": ref_line.replace("`", "'"), "seconds": f(E["seconds"], 0)}}

    rows = []
    for c in E["lag"]:
        rows.append([f"{c['rate']:,}", f"{c['achieved']:,.0f}", c["followers"], f"{c['checked']:,}"
                     + (f" ({c['missing']:,} not seen)" if c["missing"] else ""),
                     s2(c["p50"]), spread(c["p50_each"]), s2(c["p99"]), s2(c["max"]), s2(c["gauge_max"]),
                     f(c["uploads"], 1), f(c["cpu_follower"] * 100, 1), f(c["cpu_primary"] * 100, 1), s2(c["busy"])])
    lag = E["lag"]
    p99s = [c["p99"] for c in lag if c["p99"] is not None]
    B["e1"] = {"rates": ", ".join(f"{r:,}" for r in S.FOL_RATES), "counts": " and ".join(str(n) for n in S.FOL_COUNTS),
               "seconds": S.FOL_WRITE_S, "poll_ms": S.FOL_POLL_MS, "sync_interval": S.SYNC_INTERVAL,
               "table": table(["writes/s (target)", "writes/s (achieved)", "followers", "rows checked (rows × followers)",
                               "lag p50 (s)", "p50 of each follower (s)", "lag p99 (s)", "lag max (s)", "`lsinit_follow_lag_seconds` max (s)",
                               "primary's uploads/s (L0 files)", "CPU per follower: lsinit + Litestream (% of one CPU)",
                               "primary: lsinit + Litestream (% of one CPU)", "CPUs busy (machine)"], rows),
               "p99_lo": s2(min(p99s)) if p99s else "—", "p99_hi": s2(max(p99s)) if p99s else "—",
               "p50_lo": s2(min(c["p50"] for c in lag)), "p50_hi": s2(max(c["p50"] for c in lag)),
               "cpu_hi": f(max(c["cpu_follower"] for c in lag) * 100, 1),
               "uploads": ", ".join(f"{statistics.fmean(c['uploads'] for c in lag if c['rate'] == r):.1f} at {r:,} rows/s"
                                    for r in S.FOL_RATES),
               "cpu_lo": f(min(c["cpu_follower"] for c in lag) * 100, 1),
               "pcpu_hi": f(max(c["cpu_primary"] for c in lag) * 100, 1),
               "pcpu_lo": f(min(c["cpu_primary"] for c in lag) * 100, 1),
               "gauge_lo": s2(min(c["gauge_max"] for c in lag)), "gauge_hi": s2(max(c["gauge_max"] for c in lag)),
               "ready_ok": f"{sum(c['ready'][0] for c in lag):,}", "ready_n": f"{sum(c['ready'][1] for c in lag):,}"}

    fo = E["failover"]
    rows = [[i + 1, s2(r["total"]), s2(r["vacant"]), f(r["catchup_ms"], 0) if r["catchup_ms"] is not None else "—",
             f(r["handover"] * 1000 if r["handover"] is not None else None, 0),
             f(r["start"] * 1000 if r["start"] is not None else None, 0),
             f"{r['gen'][0]} → {r['gen'][1]}"] for i, r in enumerate(fo)]
    tot = [r["total"] for r in fo]
    vac = [r["vacant"] for r in fo if r["vacant"] is not None]
    ttl = float(S.FOL_LEASE_TTL.rstrip("s"))
    tail = [r["total"] - r["vacant"] for r in fo if r["vacant"] is not None]
    B["e2"] = {"ttl": S.FOL_LEASE_TTL, "n": len(fo), "vacant_min": f(ttl + 1 - ttl / 3, 1),
               "vacant_max": f(ttl + 1 + CHECK_S, 1), "tail_ms": f(statistics.median(tail) * 1000, 0) if tail else "—",
               "table": table(["failover", "SIGKILL → first write (s)", "SIGKILL → lease seen vacant (s)",
                               "catch-up check (ms)", "hand-over: exec → lease held (ms)",
                               "lease held → app's first write (ms)", "lease generation"], rows),
               "median": s2(statistics.median(tot)) if tot else "—", "max": s2(max(tot)) if tot else "—",
               "min": s2(min(tot)) if tot else "—",
               "vacant_lo": s2(min(vac)) if vac else "—", "vacant_hi": s2(max(vac)) if vac else "—",
               "gen_ok": "yes" if all(r["gen"][0] is not None and r["gen"][1] == r["gen"][0] + 1 for r in fo) else "**no**",
               "nothing_newer": sum(1 for r in fo if r["nothing_newer"])}

    rd = E["reads"]
    base = rd[0]["total"] if rd else None
    rows = [[f"primary + {c['followers']}" if c["followers"] else "primary alone", c["instances"],
             f"{c['total']:,.0f}", " / ".join(f"{x:,.0f}" for x in c["passes"]),
             f"{c['total'] / base:.2f}×" if base else "—",
             " + ".join(f"{x:,.0f}" for x in c["rps"]), " + ".join(f"{x * 100:.0f}" for x in c["app_cpu"]),
             f(max(c["p99"]), 1), s2(c["busy"]),
             c["errors"]] for c in rd]
    pin = E.get("pinned")
    if pin:
        rows.append(["primary alone, app pinned to one CPU (`taskset -c 0`)", 1, f"{pin['total']:,.0f}",
                     " / ".join(f"{x:,.0f}" for x in pin["passes"]), f"{pin['total'] / base:.2f}×" if base else "—",
                     f"{pin['total']:,.0f}", f"{pin['app_cpu'][0] * 100:.0f}", f(max(pin["p99"]), 1), s2(pin["busy"]),
                     pin["errors"]])
    plan = list(S.FOL_READ_COUNTS)
    B["e3"] = {"counts": ", ".join(str(n) for n in S.FOL_READ_COUNTS), "seconds": S.FOL_WRK_S,
               "plan": ", ".join(str(n) for n in plan + plan[-2::-1]),
               "items": f"{S.FOL_ITEMS:,}",
               "cmd": WRK_CMD.format(c=S.FOL_WRK_CONNS, s=S.FOL_WRK_S),
               "table": table(["instances serving reads", "wrk processes", "requests/s (sum, mean of the passes)",
                               "each pass (up / down)", "÷ primary alone",
                               "requests/s per instance", "each app's CPU (% of one CPU)", "p99 (ms, worst instance)", "CPUs busy (machine)",
                               "socket errors + non-2xx"], rows),
               "verdict": verdict(rd, base, pin)}
    return B


def verdict(rd, base, pin):
    """E3's prose after the table: the best cell, what the cells after it did, the pinned control."""
    if not rd or not base:
        return ""
    if not pin:
        pinned = fragment("e3_no_pin")
    elif pin["total"] >= 1.2 * base:
        pinned = fragment("e3_pin_faster", ratio=f"{pin['total'] / base:.2f}×", cpu=f"{pin['app_cpu'][0] * 100:.0f}",
                          alone_cpu=f"{rd[0]['app_cpu'][0] * 100:.0f}")
    else:
        pinned = fragment("e3_pin_same", ratio=f"{pin['total'] / base:.2f}×")
    i = max(range(len(rd)), key=lambda k: rd[k]["total"])
    b = rd[i]

    def who(c):
        n = c["followers"]
        return "the primary alone" if n == 0 else f"{n} follower{'s' if n > 1 else ''}"
    beyond = "; ".join(f"{who(c)}: {c['total']:,.0f} requests/s, {c['total'] / base:.2f}× the primary alone"
                       for c in rd[i + 1:])
    if b["total"] > 1.1 * base:
        more = fragment("e3_beyond", nproc=os.cpu_count(), cells=beyond) + " " if beyond else ""
        return fragment("e3_gain", nproc=os.cpu_count(), pinned=pinned, best=f"{b['total']:,.0f}", best_n=who(b),
                        best_ratio=f"{b['total'] / base:.2f}×", beyond=more)
    return fragment("e3_flat", nproc=os.cpu_count(), pinned=pinned, best=f"{b['total']:,.0f}", best_n=who(b),
                    best_ratio=f"{b['total'] / base:.2f}×", beyond=beyond or "no other cell")


def into_report(text, R, work):
    """The report with part E's section in it, before the first later block the report has
    (the same way as verify_cost.into_report)."""
    values = blocks(R, work)
    if not values:
        return text
    section = render(values)
    names = list(load()[0])
    for name in names[names.index("e_head") + 1:]:
        head = load()[0][name].template.split("\n", 1)[0].split("${", 1)[0]
        i = text.find("\n" + head) if head.strip() else -1
        if i >= 0:
            return text[:i + 1] + section + text[i + 1:]
    return text + "\n" + section

