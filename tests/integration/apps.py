"""Small test apps for lsinit's Litestream mode, and the helpers that run them.

Run as a script, this file *is* the app: ``python3 apps.py ROLE ARGS...``
(stdlib only, so it runs the same under lsinit, litestream and the shim).
Imported, it gives the tests a process runner (``LsinitRun``), replica
descriptions (``Replica``) and a few /proc helpers.

Roles (every app talks to the test through files in a state directory):

* ``writer DB STATE EXIT [BULK_KB]``: opens DB (WAL, busy_timeout), inserts a 'tick'
  row every 50 ms, writes STATE/ready (its pid) after the first commit and
  STATE/count (rows found at start-up). A file STATE/write-NAME makes it
  insert a row of kind NAME and answer with STATE/wrote-NAME. HUP, USR1,
  USR2 and WINCH are appended to STATE/signals. On TERM/INT it inserts a
  'last-write' row, then exits with EXIT (a number) or, with EXIT=signal,
  re-raises the signal with its default disposition. BULK_KB first commits
  that much random data in one transaction, and the app then leaves its WAL
  behind when it stops (no close), so litestream's first upload is big.
* ``argv OUT ARGS...``: writes the hex of every byte string in ARGS to OUT.
* ``env OUT``: writes its environment (JSON, hex-encoded bytes) to OUT.
* ``marker OUT``: creates OUT and exits 0 (proves an app was started).
* ``once DB``: creates DB (WAL), commits one 'once' row and exits 0 at once,
  long before Litestream's first monitor tick (litestream #436).
"""
import contextlib
import http.client
import json
import os
import pathlib
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

PY = "/usr/bin/python3"
APPS = str(pathlib.Path(__file__).resolve())
LAST_WRITE = "last-write"
SAFETY_SECONDS = 90  # no app outlives a broken test for long


# ---------------------------------------------------------------- the apps

def _open_db(path):
    con = sqlite3.connect(path, isolation_level=None, timeout=10)
    con.execute("PRAGMA busy_timeout=10000")
    mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    assert mode == "wal", mode
    con.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, pid INTEGER, at REAL)")
    return con


def _atomic_write(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def app_writer(db, state, exit_mode, bulk_kb=0):
    state = pathlib.Path(state)
    con = _open_db(db)
    me = os.getpid()
    if bulk_kb:
        # One big transaction, left in the WAL: litestream's first sync is slow.
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("CREATE TABLE IF NOT EXISTS bulk (b BLOB)")
        con.execute("BEGIN")
        for _ in range(bulk_kb // 64):
            con.execute("INSERT INTO bulk VALUES (?)", (os.urandom(64 * 1024),))
        con.execute("COMMIT")

    def insert(kind):
        con.execute("INSERT INTO rows (kind, pid, at) VALUES (?, ?, ?)", (kind, me, time.time()))

    def record(sig, frame):
        with open(state / "signals", "a") as f:
            f.write(f"{sig}\n")

    def stop(sig, frame):
        insert(LAST_WRITE)
        if not bulk_kb:
            con.close()  # the last connection to close checkpoints and deletes the WAL
        with open(state / "stopped", "w") as f:
            f.write(f"{sig}\n")
        if exit_mode == "signal":
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(me, sig)
            time.sleep(5)
            os._exit(98)  # the signal did not kill us
        os._exit(int(exit_mode))

    for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
        signal.signal(s, record)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    count = con.execute("SELECT count(*) FROM rows").fetchone()[0]
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE '\\_litestream\\_%' ESCAPE '\\' "
        "ORDER BY name")]  # litestream's own tables do not count
    _atomic_write(state / "count", json.dumps({"count": count, "tables": tables}))
    insert("start")
    _atomic_write(state / "ready", str(me))
    deadline = time.monotonic() + SAFETY_SECONDS
    done = set()
    while time.monotonic() < deadline:
        insert("tick")
        for entry in os.listdir(state):
            if entry.startswith("write-") and entry not in done:
                insert(entry[len("write-"):])
                done.add(entry)
                (state / ("wrote-" + entry[len("write-"):])).touch()
        time.sleep(0.05)
    os._exit(99)


def app_argv(out, args):
    _atomic_write(out, json.dumps([os.fsencode(a).hex() for a in args]))


def app_env(out):
    env = {os.fsencode(k).hex(): os.fsencode(v).hex() for k, v in os.environ.items()}
    _atomic_write(out, json.dumps(env))


def app_once(db):
    db = pathlib.Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db))
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, kind TEXT, pid INTEGER)")
    con.execute("INSERT INTO rows (kind, pid) VALUES ('once', ?)", (os.getpid(),))
    con.commit()
    con.close()


def main(argv):
    role = argv[1]
    if role == "writer":
        app_writer(argv[2], argv[3], argv[4], int(argv[5]) if len(argv) > 5 else 0)
    elif role == "argv":
        app_argv(argv[2], argv[3:])
    elif role == "env":
        app_env(argv[2])
    elif role == "marker":
        pathlib.Path(argv[2]).touch()
    elif role == "once":
        app_once(argv[2])
    else:
        sys.exit(f"apps.py: unknown role {role!r}")


def writer_cmd(db, state, exit_mode="0", bulk_kb=0):
    return [PY, APPS, "writer", str(db), str(state), str(exit_mode)] + ([str(bulk_kb)] if bulk_kb else [])


def marker_cmd(path):
    return [PY, APPS, "marker", str(path)]


def once_cmd(db):
    return [PY, APPS, "once", str(db)]


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return {"state": fields[0], "ppid": int(fields[1])}


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st["state"] not in ("Z", "X")


def children_of(pid):
    """Children of every thread of pid (a Go program forks from any thread)."""
    try:
        found = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            found += [int(p) for p in pathlib.Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        return sorted(set(found))
    except OSError:
        return [int(d) for d in os.listdir("/proc") if d.isdigit() and (proc_stat(int(d)) or {}).get("ppid") == pid]


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in children_of(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def wait_for(predicate, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            msg = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g}s waiting for {msg}")
        time.sleep(interval)


def default_signals():
    """preexec_fn: default dispositions and an empty mask, whatever pytest inherited."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for s in range(1, signal.NSIG):
        if s in (signal.SIGKILL, signal.SIGSTOP) or 32 <= s <= 33:
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(s, signal.SIG_DFL)


def read_rows(db):
    """(id, kind, pid) of every row of a writer/once database, after checking its integrity."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return con.execute("SELECT id, kind, pid FROM rows ORDER BY id").fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- litestream's progress

SEGMENT_WRITTEN = 'msg="wal segment written"'  # Litestream 0.3, INFO, once per uploaded WAL segment
_SOCKET_LINE = re.compile(r'msg="control socket listening".* path=(\S+)')


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("litestream", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def control_socket_request(path, method, url, body=None, timeout=5):
    """One request to Litestream 0.5's control socket: (status, parsed JSON or None)."""
    conn = _UnixHTTP(path, timeout)
    try:
        conn.request(method, url, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, None
    finally:
        conn.close()


def replica_progress(litestream_log, db=None):
    """A number that grows each time Litestream uploads: on 0.3 the WAL segments
    it logged (INFO); on 0.5 (which logs uploads at DEBUG only) the replica's
    TXID for db, read from its control socket (named in its log) with a sync
    that does not wait (the local WAL→LTX step Litestream runs every second
    anyway). 0 when nothing is known yet."""
    n = litestream_log.count(SEGMENT_WRITTEN)
    if n or db is None:
        return n
    found = _SOCKET_LINE.findall(litestream_log)
    if not found:
        return 0
    try:
        status, doc = control_socket_request(found[-1], "POST", "/sync", {"path": str(db), "wait": False})
    except OSError:
        return 0
    return int(doc.get("replicated_txid", 0)) if status == 200 and doc else 0


# ---------------------------------------------------------------- lsinit runs

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]


class LsinitRun:
    """lsinit started as a normal process (or as PID 1 of a new PID namespace
    with pid1=True), output in files, every descendant killed on close()."""

    def __init__(self, lsinit_bin, args, env, workdir, pid1=False, cwd=None):
        self.lsinit_bin = os.path.realpath(lsinit_bin)
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.workdir.glob("run*.stderr")))
        self.stdout_path = self.workdir / f"run{n}.stdout"
        self.stderr_path = self.workdir / f"run{n}.stderr"
        self.pid1 = pid1
        self.env = dict(env)
        argv = (UNSHARE if pid1 else []) + [lsinit_bin, *args]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=cwd or str(self.workdir), preexec_fn=default_signals,
                                         start_new_session=True)
        self._pid = None
        self.returncode = None
        self._known = set()

    # -- pids
    @property
    def pid(self):
        """lsinit's pid as the test sees it."""
        if self._pid is None:
            if not self.pid1:
                self._pid = self.proc.pid
            else:
                def find():
                    for c in children_of(self.proc.pid):
                        try:
                            if os.readlink(f"/proc/{c}/exe") == self.lsinit_bin:
                                return c
                        except OSError:
                            pass
                    return None
                self._pid = wait_for(find, 10, "lsinit to start under unshare")
        return self._pid

    def litestream_pid(self):
        """lsinit's child running `litestream replicate`, or None."""
        for c in children_of(self.pid):
            args = cmdline(c)
            if len(args) > 1 and b"replicate" in args and alive(c):
                self._known.add(c)
                return c
        return None

    def signal(self, sig):
        os.kill(self.pid, sig)

    def host_pid(self, pid):
        """The test's view of a pid the app saw (differs only under unshare)."""
        if not self.pid1:
            return pid
        for p in descendants(self.proc.pid):
            try:
                for line in pathlib.Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("NSpid:") and int(line.split()[-1]) == pid:
                        self._known.add(p)
                        return p
            except (OSError, ValueError):
                pass
        raise AssertionError(f"no process with pid {pid} in lsinit's namespace")

    # -- output
    @property
    def stdout(self):
        return self.stdout_path.read_bytes().decode(errors="replace")

    @property
    def stderr(self):
        return self.stderr_path.read_bytes().decode(errors="replace")

    def lsinit_lines(self, level=None):
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("lsinit[")]
        if level is not None:
            lines = [ln for ln in lines if f"] {level}:" in ln]
        return lines

    def wait(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise AssertionError(f"lsinit did not exit within {timeout}s; stderr:\n{self.stderr[-4000:]}")
        return self.returncode

    def close(self):
        """Kill lsinit and anything it left behind (only processes of this run)."""
        pids = [self.proc.pid] + descendants(self.proc.pid) + sorted(self._known)
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for p in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(p, os.WNOHANG)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


if __name__ == "__main__":
    main(sys.argv)
