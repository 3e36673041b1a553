"""Helpers for running lsinit as a real PID 1 (or as a plain subreaper).

PID 1 mode runs `unshare --pid --fork --mount-proc --kill-child LSINIT ...`:
unshare forks lsinit into a fresh PID namespace, so lsinit is PID 1 there and
its host pid is the only child of the unshare process. --kill-child makes
sure a test that dies half-way never leaves a namespace behind.

Child programs are small Python scripts passed with `python3 -c`; the ones
several tests share live here. They talk to the test through files in a
temporary directory: a "ready" file once set up, one line per received signal
in a record file, and a "stop" file the test creates to make them exit.
"""
import collections
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

from .procs import alive, children_of, default_signals, exe_of
from .waiting import wait_for

PY = sys.executable or "/usr/bin/python3"
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]


def clean_env(extra=None):
    """The test runner's environment without LSINIT_* and LITESTREAM_* variables (either could turn on
    Litestream mode), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSINIT_", "LITESTREAM_"))}
    env.update(extra or {})
    return env


def command(lsinit_bin, args, pid1=True):
    return (UNSHARE if pid1 else []) + [lsinit_bin, *args]


def run(lsinit_bin, args, *, pid1=True, env=None, timeout=15, **kwargs):
    """Runs lsinit to completion; returns a CompletedProcess with text output."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("preexec_fn", default_signals)
    return subprocess.run(command(lsinit_bin, args, pid1), env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout, **kwargs)


class Lsinit:
    """A running lsinit. Use as a context manager: leftovers are killed on exit.

    host_pid is lsinit's pid as seen from the test (unshare's child in PID 1
    mode, the Popen pid otherwise); send signals there with .signal().
    """

    def __init__(self, lsinit_bin, args, *, pid1=True, env=None, timeout=15, **kwargs):
        self.lsinit_bin = os.path.realpath(lsinit_bin)
        self.pid1 = pid1
        self.timeout = timeout
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("preexec_fn", default_signals)
        self.proc = subprocess.Popen(command(lsinit_bin, args, pid1), env=clean_env(env), text=True, **kwargs)
        self._host_pid = None
        self.returncode = None
        self.stdout = self.stderr = None
        self.exited_at = None
        self.leftovers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for pid in self.leftovers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.kill()
        return False

    def also_kill(self, pid):
        """A host pid to SIGKILL on exit if lsinit left it behind (subreaper mode)."""
        self.leftovers.append(pid)

    @property
    def host_pid(self):
        """lsinit's host pid, once it has exec'd (so signals reach lsinit, not unshare's fork)."""
        if self._host_pid is None:
            if not self.pid1:
                self._host_pid = self.proc.pid
            else:
                def find():
                    for pid in children_of(self.proc.pid):
                        if exe_of(pid) == self.lsinit_bin:
                            return pid
                    return None
                self._host_pid = wait_for(find, timeout=5, what="lsinit to start under unshare", interval=0.005)
        return self._host_pid

    def child_pids(self):
        """Host pids of lsinit's children."""
        return children_of(self.host_pid)

    def signal(self, sig):
        os.kill(self.host_pid, sig)

    def wait(self, timeout=None):
        """Waits for the whole run to end (blocking waitpid, so the exit time is precise).

        Returns the exit code; stdout/stderr and exited_at (time.monotonic()) are kept.
        """
        timeout = self.timeout if timeout is None else timeout
        timer = threading.Timer(timeout, self._kill_tree)
        timer.start()
        try:
            self.proc.wait()
            self.exited_at = time.monotonic()
        finally:
            timed_out = not timer.is_alive()
            timer.cancel()
        self.returncode = self.proc.returncode
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=2)
            pipes_held = False
        except subprocess.TimeoutExpired:
            pipes_held = True
        if timed_out:
            stderr = "unavailable (a leftover process holds the pipe)" if pipes_held else repr(self.stderr)
            raise AssertionError(f"lsinit did not exit within {timeout}s and was killed; stderr: {stderr}")
        if pipes_held:
            raise AssertionError("lsinit exited but a leftover process still holds its stdout/stderr")
        return self.returncode

    def _kill_tree(self):
        if self._host_pid is not None:
            try:
                os.kill(self._host_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass

    def kill(self):
        if self.proc.poll() is None:
            self._kill_tree()
        if self.stdout is None:
            try:
                self.stdout, self.stderr = self.proc.communicate(timeout=2)
            except (ValueError, subprocess.TimeoutExpired):
                pass


def sig_name(sig):
    """TERM, USR1, RTMIN+2 ..."""
    sig = int(sig)
    if sig >= signal.SIGRTMIN:
        return f"RTMIN+{sig - signal.SIGRTMIN}"
    return signal.Signals(sig).name[3:]


# --- signal recording -------------------------------------------------------

# argv: RECORD READY STOP [fork]. Catches every signal but CHLD and appends "ROLE SIGNUM\n"
# to RECORD. With "fork", a grandchild in the same process group records too
# (role "grandchild"). Exits 0 once STOP exists.
SIGNAL_RECORDER = r"""
import os, signal, sys, time
record, ready, stop = sys.argv[1:4]
fork = len(sys.argv) > 4 and sys.argv[4] == "fork"
role = b"main"
fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
def handler(sig, frame):
    os.write(fd, role + b" %d\n" % sig)
for s in range(1, signal.SIGRTMAX + 1):
    if s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, 32, 33):
        continue  # CHLD: the "fork" variant's own grandchild would show up
    signal.signal(s, handler)
grandchild = 0
if fork:
    grandchild = os.fork()
    if grandchild == 0:
        role = b"grandchild"
        open(ready + ".grandchild", "w").close()
    else:
        while not os.path.exists(ready + ".grandchild"):
            time.sleep(0.002)
if grandchild or not fork:
    open(ready, "w").close()
deadline = time.monotonic() + 30
while not os.path.exists(stop) and time.monotonic() < deadline:
    time.sleep(0.005)
if grandchild:
    os.waitpid(grandchild, 0)
os._exit(0)
"""


class Recorder:
    """File paths and helpers for a SIGNAL_RECORDER child in directory tmp."""

    def __init__(self, tmp, fork=False):
        tmp = pathlib.Path(tmp)
        self.record = tmp / "signals"
        self.ready = tmp / "ready"
        self.stop = tmp / "stop"
        self.argv = ["--", PY, "-c", SIGNAL_RECORDER, str(self.record), str(self.ready), str(self.stop)]
        if fork:
            self.argv.append("fork")

    def wait_ready(self, timeout=10):
        wait_for(self.ready.exists, timeout=timeout, what="the child to install its handlers", interval=0.005)

    def received(self):
        """Counter of (role, signum) over everything recorded so far."""
        try:
            lines = self.record.read_text().splitlines()
        except FileNotFoundError:
            return collections.Counter()
        return collections.Counter((role, int(num)) for role, num in (line.split() for line in lines))

    def count(self, sig, role="main"):
        return self.received()[(role, int(sig))]

    def wait_received(self, sig, role="main", timeout=5):
        wait_for(lambda: self.count(sig, role) >= 1, timeout=timeout,
                 what=f"{role} to record {sig_name(sig)}", interval=0.005)

    def finish(self):
        self.stop.touch()
