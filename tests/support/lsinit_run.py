"""lsinit in Litestream mode as the tests run it: ``LsinitRun`` (output in
files, every descendant killed on close), the environment it gets, and waiting
for its app."""
import contextlib
import os
import pathlib
import signal
import subprocess

from .pid1 import UNSHARE
from .procs import alive, children_of, cmdline, default_signals, descendants
from .waiting import wait_for


def sanitizer_env():
    """tests/run's sanitizer settings, for the ASan+UBSan build under test."""
    return {k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}


def lsinit_env(base, replica, db, **extra):
    """base plus what points lsinit at ``replica`` (a replicas.Replica) for ``db``, plus extra."""
    env = dict(base)
    env.update(replica.env)
    env["LSINIT_DB"] = str(db)
    env["LSINIT_REPLICA_URL"] = replica.url
    env.update({k: str(v) for k, v in extra.items()})
    return env

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
            raise AssertionError(f"lsinit did not exit within {timeout}s; stderr:\n{self.stderr[-4000:]}") from None
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


def wait_ready(run, state, timeout=30):
    """The app's pid, once it has written STATE/ready (after its first commit);
    fails at once if lsinit exits first."""
    ready = pathlib.Path(state) / "ready"

    def check():
        if ready.exists():
            return int(ready.read_text())
        assert run.proc.poll() is None, f"lsinit exited {run.proc.returncode} before the app was ready:\n{run.stderr}"
        return None
    return wait_for(check, timeout, lambda: f"the app to be ready; lsinit stderr:\n{run.stderr[-3000:]}")
