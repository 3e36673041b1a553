"""Suite 8 (valgrind part): the supervisor's core cases under valgrind
(memcheck), as PID 1 of a new PID namespace and as a plain subreaper:
exit codes, signal forwarding, reaping a burst of orphans, the grace ladder.
`valgrind --error-exitcode=99 --track-fds=no --leak-check=no`: zero errors
(the ERROR SUMMARY line is checked too). tests/run already runs the whole
behaviour suite under ASan+UBSan; the figures of that run are recorded in
docs/reliability.md.
"""
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from support import pid1, procs
from support.waiting import wait_for

pytestmark = pytest.mark.usefixtures("require_root")

VALGRIND = ["valgrind", "--error-exitcode=99", "--track-fds=no", "--leak-check=no", "--quiet"]
SUMMARY = re.compile(r"ERROR SUMMARY: (\d+) errors")


class Run:
    def __init__(self, lsinit, args, tmp, as_pid1):
        self.log = pathlib.Path(tmp) / f"valgrind-{time.monotonic_ns()}.log"
        argv = (pid1.UNSHARE if as_pid1 else []) + VALGRIND + [f"--log-file={self.log}", lsinit, *args]
        self.proc = subprocess.Popen(argv, env=pid1.clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=procs.default_signals)
        self.as_pid1 = as_pid1
        self._pid = None

    @property
    def pid(self):
        """valgrind's (= lsinit's) host pid: unshare's child in PID 1 mode."""
        if self._pid is None:
            if not self.as_pid1:
                self._pid = self.proc.pid
            else:
                self._pid = wait_for(lambda: (c := procs.children_of(self.proc.pid)) and c[0], 10,
                                     what="valgrind under unshare")
        return self._pid

    def wait(self, timeout=60):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"lsinit under valgrind did not exit within {timeout}s: {err}") from None
        report = self.log.read_text() if self.log.exists() else ""
        return self.proc.returncode, err, report


def _check(rc, want, err, report):
    assert rc != 99, f"valgrind reported errors:\n{report}\n{err}"
    assert rc == want, f"exit {rc}, expected {want}:\n{err}\n{report}"
    m = SUMMARY.search(report)
    assert m is None or m.group(1) == "0", report


CASES = ["exit-code", "killed-by-signal", "signals", "orphans", "grace"]


@pytest.mark.parametrize("as_pid1", [True, pytest.param(False, marks=pytest.mark.soak)], ids=["pid1", "subreaper"])
def test_core_cases_under_valgrind(lsinit, tmp_path, figures, as_pid1):
    done = {}
    # exit codes
    r = Run(lsinit, ["--", "sh", "-c", "exit 3"], tmp_path, as_pid1)
    rc, err, rep = r.wait()
    _check(rc, 3, err, rep)
    done["exit-code"] = rc
    r = Run(lsinit, ["--", "sh", "-c", "kill -USR1 $$"], tmp_path, as_pid1)
    rc, err, rep = r.wait()
    _check(rc, 128 + signal.SIGUSR1, err, rep)
    done["killed-by-signal"] = rc

    # signal forwarding: HUP, USR1, USR2, WINCH, then TERM ends it
    rec = pid1.Recorder(tmp_path / "rec")
    (tmp_path / "rec").mkdir()
    r = Run(lsinit, rec.argv, tmp_path, as_pid1)
    rec.wait_ready(timeout=30)
    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
        os.kill(r.pid, sig)
        rec.wait_received(sig, timeout=10)
    rec.finish()
    rc, err, rep = r.wait()
    _check(rc, 0, err, rep)
    done["signals"] = sorted(pid1.sig_name(s) for _, s in rec.received())

    # reaping: 100 orphans exit while the app lives on; none is left a zombie
    script = ("for i in $(seq 100); do (sleep 0.1 &) ; done; sleep 1.5; "
              "z=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l); exit $((z > 0 ? 42 : 0))")
    r = Run(lsinit, ["--", "sh", "-c", script], tmp_path, as_pid1)
    rc, err, rep = r.wait()
    _check(rc, 0, err, rep)
    done["orphans"] = 100

    # the grace ladder: an app that ignores TERM is KILLed after -t 1s
    ready = tmp_path / "trap-ready"
    r = Run(lsinit, ["-t", "1s", "--", "sh", "-c", f"trap '' TERM; touch {ready}; sleep 30 & wait; sleep 30"],
            tmp_path, as_pid1)
    wait_for(ready.exists, 30, what="the TERM-ignoring app")
    t0 = time.monotonic()
    os.kill(r.pid, signal.SIGTERM)
    rc, err, rep = r.wait()
    took = time.monotonic() - t0
    _check(rc, 128 + signal.SIGKILL, err, rep)
    assert took < 10, took
    done["grace"] = {"rc": rc, "seconds": round(took, 2)}
    figures(mode="pid1" if as_pid1 else "subreaper", cases=done, valgrind_errors=0)
