"""Helpers every benchmark part shares, one of each: logging and clean-up,
the clean environment, statistics, hyperfine, /proc, the peers (tini-static,
catatonit, dumb-init), ports and waiting, Litestream configs and replicas,
test databases, and Instance (one lsinit in Litestream mode).
"""
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from . import settings as S

T_START = time.monotonic()
CLEANUP = []  # callables run at exit, also after die(): no lsinit, litestream or server is left running


def cleanup():
    while CLEANUP:
        fn = CLEANUP.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning up
            print(f"bench/run: cleanup: {e}", file=sys.stderr)


def log(msg):
    print(f"bench[{time.monotonic() - T_START:6.1f}s] {msg}", file=sys.stderr, flush=True)


def die(msg):
    print(f"bench/run: error: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- environment

# A clean environment: nothing that would switch lsinit (or tini, dumb-init)
# into another mode, and the repo's litestream first on PATH.
BASE_ENV = {k: v for k, v in os.environ.items()
            if not k.startswith(("LSINIT_", "LITESTREAM_", "AWS_", "TINI_", "DUMB_INIT_", "BUCKET_NAME", "BENCH_"))}
BASE_ENV["PATH"] = S.DEPS_BIN + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def env_with(**extra):
    env = dict(BASE_ENV)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def is05(v):
    return tuple(int(x) for x in v.split(".")[:2]) >= (0, 5)


def ls_env(v, **extra):
    """The clean environment for Litestream version v: its folder first on PATH
    (so `litestream` in a command line or a shell script is that version) and
    LSINIT_LITESTREAM pointing at it (lsinit's way to pick a binary)."""
    return env_with(PATH=S.LS_DIRS[v] + ":" + BASE_ENV["PATH"], LSINIT_LITESTREAM=S.LS_BINS[v], **extra)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)


def compile_c(src, out):
    """cc -O2 bench/SRC -o OUT, or die."""
    r = sh(["cc", "-O2", "-Wall", "-Wextra", "-o", out, os.path.join(S.BENCH, src)])
    if r.returncode != 0:
        die(f"cannot compile bench/{src}:\n" + r.stderr)
    return out


# ---------------------------------------------------------------- statistics

def st(values):
    v = sorted(values)
    return {
        "n": len(v), "min": v[0], "median": statistics.median(v), "max": v[-1],
        "mean": statistics.fmean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0,
    }


# ---------------------------------------------------------------- hyperfine

def hyperfine(cmds, runs, warmup, env=None, raw=False):
    """cmds: [(name, command line)]; returns {name: stats in ms} (raw: the
    times in ms and exit codes)."""
    fd, jpath = tempfile.mkstemp(suffix=".json", prefix="lsinit-hf-")
    os.close(fd)
    args = ["hyperfine", "-N", "--style", "basic", "--warmup", str(warmup), "--runs", str(runs),
            "--export-json", jpath]
    for name, cmd in cmds:
        args += ["-n", name, cmd]
    r = subprocess.run(args, env=env or BASE_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print(r.stdout, file=sys.stderr)
        die(f"hyperfine failed for {[c for _, c in cmds]}")
    with open(jpath) as fh:
        data = json.load(fh)
    os.unlink(jpath)
    out = {}
    for res in data["results"]:
        if raw:
            out[res["command"]] = {"times": [t * 1000 for t in res["times"]], "codes": res.get("exit_codes") or [0]}
            continue
        s = st([t * 1000 for t in res["times"]])
        s["codes"] = sorted(set(res.get("exit_codes") or [0]))
        out[res["command"]] = s
    return out


def hyperfine_rounds(plan, runs, warmup, rounds):
    """plan: [(key, [(name, cmd)], env)]. Splits runs (and warmups) into
    rounds that each go once through every key, so a slow phase of a busy
    machine hits all commands alike; returns {key: stats} over all runs."""
    times = {key: [] for key, _, _ in plan}
    codes = {key: set() for key, _, _ in plan}
    per_round = [runs // rounds + (1 if i < runs % rounds else 0) for i in range(rounds)]
    warm = [warmup // rounds + (1 if i < warmup % rounds else 0) for i in range(rounds)]
    for i in range(rounds):
        for key, cmds, env in plan:
            r = hyperfine(cmds, per_round[i], max(warm[i], 0), env=env, raw=True)
            name = cmds[0][0]
            times[key] += r[name]["times"]
            codes[key] |= set(r[name]["codes"])
    out = {}
    for key, cmds, _ in plan:
        out[key] = st(times[key])
        out[key]["codes"] = sorted(codes[key])
        out[key]["label"] = cmds[0][0]
        out[key]["cmd"] = cmds[0][1]
    return out


# ---------------------------------------------------------------- the machine and the peers

def deb_version(p, missing="?"):
    r = sh(["dpkg-query", "-W", "-f=${Version}", p])
    return r.stdout.strip() if r.returncode == 0 else missing


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    u = os.uname()
    distro = ""
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    commit = sh(["git", "-C", S.ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip() or "?"
    dirty = sh(["git", "-C", S.ROOT, "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    lsv = {v: sh([S.LS_BINS[v], "version"]).stdout.strip() for v in S.LS_VERSIONS}
    with open(os.path.join(S.ROOT, "VERSION")) as fh:
        version = fh.read().strip()
    return {
        "nproc": sh(["nproc"]).stdout.strip(), "cpu": cpu, "kernel": f"{u.sysname} {u.release} {u.machine}",
        "distro": distro, "mem": mem,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "lsinit": f"{version} (git {commit}{', uncommitted changes' if dirty else ''})",
        "litestream": lsv, "tini": deb_version("tini"), "catatonit": deb_version("catatonit"),
        "dumb-init": deb_version("dumb-init"), "hyperfine": deb_version("hyperfine"),
        "cc": sh(["cc", "--version"]).stdout.splitlines()[0],
    }


INITS = [  # the init under test and its peers: (name, path, argv prefix before the command)
    ("lsinit", S.LSINIT, [S.LSINIT, "--"]),
    ("tini-static", S.TINI, [S.TINI, "--"]),
    ("catatonit", S.CATATONIT, [S.CATATONIT, "--"]),
    ("dumb-init", S.DUMB_INIT, [S.DUMB_INIT]),
]
PEERS = ["tini-static", "catatonit", "dumb-init"]
DEV = ("lsinit (dev build)", S.LSINIT_DYN, [S.LSINIT_DYN, "--"])
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]


def preflight():
    missing = []
    bins = [(S.LS_BINS[v], "scripts/install-deps") for v in S.LS_VERSIONS]
    for p, hint in [(S.LSINIT, "make static"), (S.LSINIT_DYN, "make")] + bins + [
                    (S.TINI, "apt-get install -y tini (ships /usr/bin/tini-static)"),
                    (S.CATATONIT, "apt-get install -y catatonit"), (S.DUMB_INIT, "apt-get install -y dumb-init"),
                    (S.PYTHON, "apt-get install -y python3")]:
        if not os.access(p, os.X_OK):
            missing.append(f"{p} ({hint})")
    for tool in ["hyperfine", "unshare", "file", "cc", "strip", "wrk", "sqlite3"]:
        if shutil.which(tool) is None:
            missing.append(f"{tool} (scripts/install-deps)")
    if not os.path.exists(S.SOAK_APP):
        missing.append(f"{S.SOAK_APP} (the reliability suites' writer, for B9)")
    if missing:
        die("missing: " + "; ".join(missing) + " — run `make bench`, which installs and builds them")


# ---------------------------------------------------------------- processes (/proc)

def children_of(pid):
    """Children of every thread (Go forks from whichever thread runs exec)."""
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
        except OSError:
            pass
    return sorted(set(out))


def descendants(pid):
    out = []
    for c in children_of(pid):
        out.append(c)
        out += descendants(c)
    return out


def status_kb(pid):
    """(VmRSS, VmHWM) in KiB, or (None, None)."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def rss_kb(pid):
    return status_kb(pid)[0]


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return "?"


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def stop_tree(p, timeout=5):
    """TERM the process (inits forward it), then KILL whatever is left."""
    kids = descendants(p.pid)
    try:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    for k in kids:
        try:
            os.kill(k, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- ports, HTTP, waiting

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    die(f"timed out after {timeout} s waiting for {what}")


def http_get(port, path, timeout=3, host="127.0.0.1"):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def metric_values(text, db=None):
    """{name: value} of the Prometheus lines (for db's label when given)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$', line)
        if not m:
            continue
        name, labels, value = m.groups()
        if db is not None and labels and f'db="{db}"' not in labels:
            continue
        key = name
        if labels and 'result="' in labels:
            key += "{" + re.search(r'result="([^"]*)"', labels).group(1) + "}"
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


# ---------------------------------------------------------------- Litestream configs and file replicas

def write_config(path, dbs, v, addr=None, sync_interval=None, socket_path=None):
    """dbs: [(db path, replica dir)]. Litestream 0.5's key is `replica:` (one
    replica), 0.3's `replicas:` (a list), as lsinit generates them."""
    lines = ["dbs:"]
    for db, rep in dbs:
        lines.append(f"  - path: {db}")
        if is05(v):
            lines += ["    replica:", "      type: file", f"      path: {rep}"]
            if sync_interval:
                lines.append(f"      sync-interval: {sync_interval}")
        else:
            lines += ["    replicas:", "      - type: file", f"        path: {rep}"]
            if sync_interval:
                lines.append(f"        sync-interval: {sync_interval}")
    if addr:
        lines.append(f"addr: \"{addr}\"")
    if socket_path:
        lines += ["socket:", "  enabled: true", f"  path: \"{socket_path}\""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def uploads(rep, v):
    """Files Litestream has uploaded to a file replica: 0.3's WAL segments
    (generations/*/wal/), 0.5's LTX files (ltx/LEVEL/). Litestream 0.5 logs its
    uploads only at DEBUG, so the replica's files are the portable count."""
    n = 0
    if is05(v):
        lt = os.path.join(rep, "ltx")
        for lvl in (os.listdir(lt) if os.path.isdir(lt) else []):
            n += sum(1 for x in os.listdir(os.path.join(lt, lvl)) if x.endswith(".ltx"))
        return n
    g = os.path.join(rep, "generations")
    for gen in (os.listdir(g) if os.path.isdir(g) else []):
        w = os.path.join(g, gen, "wal")
        if os.path.isdir(w):
            n += len(os.listdir(w))
    return n


def replica_ready(rep, v):
    """The file replica has a finished snapshot and an upload after it: 0.3 a
    generation with a snapshot and a WAL segment; 0.5 an L0 file and the
    level-9 snapshot (written about a second after start)."""
    if is05(v):
        l0, l9 = os.path.join(rep, "ltx", "0"), os.path.join(rep, "ltx", "9")
        return (os.path.isdir(l0) and any(n.endswith(".ltx") for n in os.listdir(l0))
                and os.path.isdir(l9) and any(n.endswith(".ltx") for n in os.listdir(l9)))
    g = os.path.join(rep, "generations")
    for gen in (os.listdir(g) if os.path.isdir(g) else []):
        snaps, wal = os.path.join(g, gen, "snapshots"), os.path.join(g, gen, "wal")
        if (os.path.isdir(snaps) and any(n.endswith(".snapshot.lz4") for n in os.listdir(snaps))
                and os.path.isdir(wal) and os.listdir(wal)):
            return True
    return False


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(path) for fn in fns)


# ---------------------------------------------------------------- test databases

def make_small_db(path, rows=100):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("BEGIN")
    for i in range(rows):
        db.execute("INSERT INTO events(v) VALUES (?)", (f"row {i}",))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def make_blob_db(path, mb):
    """A WAL-mode database of about mb MB: 1 KB random blobs (incompressible,
    so the replica is as big as the database), checkpointed."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)")
    db.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
               "INSERT INTO blobs(b) SELECT randomblob(1000) FROM c", (mb * 1000,))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def rm_db_files(db):
    d, base = os.path.split(db)
    for name in os.listdir(d):
        if name == base or (name.startswith(base) and name[len(base):].startswith(("-", ".tmp"))):
            os.unlink(os.path.join(d, name))
    meta = os.path.join(d, f".{base}-litestream")
    if os.path.isdir(meta):
        shutil.rmtree(meta)


# ---------------------------------------------------------------- one lsinit in Litestream mode

class Instance:
    """One lsinit in Litestream mode, its log in a file. pidns: as the real
    PID 1 of a new PID namespace (unshare), as in a container."""

    def __init__(self, name, env, app, d, pidns=False):
        self.name, self.env, self.app, self.pidns = name, env, app, pidns
        self.log_path = os.path.join(d, f"{name}.log")
        self.p = None
        self.pid = None

    def start(self):
        self.log = open(self.log_path, "wb")
        argv = [S.LSINIT, "--"] + self.app
        if self.pidns:
            argv = UNSHARE + argv
        self.p = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=subprocess.STDOUT)
        CLEANUP.append(self.kill)
        self.t_start = time.monotonic()
        if self.pidns:
            deadline = time.monotonic() + 10
            while not children_of(self.p.pid):
                if self.p.poll() is not None or time.monotonic() > deadline:
                    die(f"{self.name}: unshare did not start lsinit: {self.tail()}")
                time.sleep(0.01)
            self.pid = children_of(self.p.pid)[0]
        else:
            self.pid = self.p.pid
        return self

    def tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as fh:
                return "".join(fh.readlines()[-n:])
        except OSError:
            return ""

    def metrics_port(self, timeout=20):
        """Litestream's metrics port, from its log line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r'serving metrics on" url=http://127\.0\.0\.1:(\d+)/metrics', self.tail(200))
            if m:
                return int(m.group(1))
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        die(f"{self.name}: litestream's metrics address not found in its log:\n{self.tail()}")

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def kill(self):
        """At exit: whatever is still running of this instance goes."""
        if not self.alive():
            return
        kids = descendants(self.p.pid)
        try:
            os.kill(self.pid, signal.SIGTERM)
            self.p.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        for pid in kids + [self.pid, self.p.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, timeout=30):
        """SIGTERM to lsinit; returns ms until it exited."""
        if not self.alive():
            return None
        t0 = time.perf_counter()
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_tree(self.p)
        ms = (time.perf_counter() - t0) * 1000
        self.log.close()
        return ms
