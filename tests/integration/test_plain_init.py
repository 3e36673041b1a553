"""Behaviour of lsinit's plain init mode (no database configured).

Ports the behaviour cases of tini (test/run_inner_tests.py, run_outer_tests.py)
and dumb-init (tests/*.py) and adds lsinit's own (grace ladder, stragglers,
subreaper without a warning, LSINIT_* variables). Most tests run lsinit as
the real PID 1 of a new PID namespace (see tests/support/pid1.py); the rest run it as a
plain process, where it must become a child subreaper.
"""
import collections
import errno
import os
import pathlib
import pty
import re
import select
import signal
import subprocess
import time

import pytest

from support import pid1, procs
from support.pid1 import PY, Lsinit, Recorder, run
from support.waiting import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
SETTINGS_C = ROOT / "init" / "settings.c"

pytestmark = pytest.mark.usefixtures("require_root")

BOTH_MODES = pytest.mark.parametrize("as_pid1", [True, False], ids=["pid1", "subreaper"])


def one_line(text):
    lines = text.strip("\n").splitlines()
    assert len(lines) == 1, f"expected exactly one line, got {lines!r}"
    return lines[0]


# --- exit codes ----------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 1, 2, 32, 64, 127, 128, 143, 254, 255])
def test_exit_code_passes_through(lsinit_bin, code):
    r = run(lsinit_bin, ["--", "sh", "-c", f"exit {code}"])
    assert r.returncode == code, r.stderr
    assert r.stderr == ""


def test_every_exit_code_passes_through(lsinit_bin):
    """All 256 codes, each through a fresh lsinit as PID 1 (about 5 ms a run)."""
    wrong = {}
    for code in range(256):
        r = subprocess.run(pid1.command(lsinit_bin, ["--", "sh", "-c", f"exit {code}"]), env=pid1.clean_env(),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        if r.returncode != code:
            wrong[code] = r.returncode
    assert wrong == {}


KILL_SELF = r"""
import os, resource, signal, sys
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
sig = int(sys.argv[1])
if sig != signal.SIGKILL:
    signal.signal(sig, signal.SIG_DFL)
os.kill(os.getpid(), sig)
signal.pause()
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGKILL, signal.SIGINT,
                                 signal.SIGUSR1, signal.SIGSEGV], ids=pid1.sig_name)
def test_child_killed_by_own_signal_gives_128_plus_signal(lsinit_bin, tmp_path, sig):
    r = run(lsinit_bin, ["--", PY, "-c", KILL_SELF, str(int(sig))], cwd=tmp_path)
    assert r.returncode == 128 + sig, r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2],
                         ids=pid1.sig_name)
def test_signal_to_lsinit_kills_default_child(lsinit_bin, sig):
    """tini's signal case: the child keeps default dispositions, lsinit forwards, rc = 128+sig."""
    with Lsinit(lsinit_bin, ["--", "sleep", "30"]) as ls:
        wait_for(lambda: any((procs.exe_of(p) or "").endswith("/sleep") for p in ls.child_pids()),
                 what="sleep to start")
        ls.signal(sig)
        assert ls.wait(timeout=5) == 128 + sig, ls.stderr


# --- -e / LSINIT_REMAP_EXIT ----------------------------------------------------

@pytest.mark.parametrize("code", [0, 1, 3, 127, 143, 255])
def test_remap_exit_matrix(lsinit_bin, code):
    """tini's exit-code matrix: -e CODE makes CODE 0; remapping any other code leaves it alone."""
    assert run(lsinit_bin, ["-e", str(code), "--", "sh", "-c", f"exit {code}"]).returncode == 0
    others = [arg for c in range(256) if c != code for arg in ("-e", str(c))]
    assert run(lsinit_bin, [*others, "--", "sh", "-c", f"exit {code}"]).returncode == code


def test_remap_exit_143_after_term(lsinit_bin, tmp_path):
    """The JVM case: the app dies of TERM (143) and -e 143 turns that into success."""
    r = run(lsinit_bin, ["-e", "143", "--", PY, "-c", KILL_SELF, str(int(signal.SIGTERM))], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run(lsinit_bin, ["-e", "143", "--", "sh", "-c", "exit 3"])
    assert r.returncode == 3


def test_remap_exit_repeatable_and_list(lsinit_bin):
    for code in (130, 143, 7):
        assert run(lsinit_bin, ["-e", "130", "-e", "143,7", "--", "sh", "-c", f"exit {code}"]).returncode == 0
    assert run(lsinit_bin, ["-e", "130", "-e", "143,7", "--", "sh", "-c", "exit 8"]).returncode == 8


@pytest.mark.parametrize("value,code,expected", [("143", 143, 0), ("143", 1, 1), ("143,130", 130, 0),
                                                 ("", 143, 143)])
def test_remap_exit_env(lsinit_bin, value, code, expected):
    r = run(lsinit_bin, ["--", "sh", "-c", f"exit {code}"], env={"LSINIT_REMAP_EXIT": value})
    assert r.returncode == expected, r.stderr


# --- orphans -------------------------------------------------------------------

ORPHAN_BURST = r"""
import os, subprocess, sys, time
n = int(sys.argv[1])
me = os.getpid()
assert me == 2, me
for i in range(n):
    middle = os.fork()
    if middle == 0:
        if os.fork() == 0:
            # Half exit at once (zombies reparented to PID 1), half outlive their parent.
            if i % 2:
                time.sleep(0.05)
            os._exit(0)
        os._exit(0)
    os.waitpid(middle, 0)

def others():
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me):
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            procs[int(entry)] = stat[stat.rindex(")") + 2]
    return procs

deadline = time.monotonic() + 10
left = others()
while left and time.monotonic() < deadline:
    time.sleep(0.01)
    left = others()
ps = subprocess.run(["ps", "-A", "-o", "stat="], capture_output=True, text=True, timeout=10).stdout
zombies = [s for s in ps.split() if s.startswith("Z")]
print(f"orphans={n} left={sorted(left.items())[:10]} zombies={len(zombies)} procs={len(ps.split())}")
sys.exit(0 if not left and not zombies else 1)
"""


def test_orphan_burst_is_reaped(lsinit_bin):
    r = run(lsinit_bin, ["--", PY, "-c", ORPHAN_BURST, "1000"], timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "orphans=1000 left=[] zombies=0 procs=3" in r.stdout  # lsinit, the child and ps
    assert r.stderr == ""


def test_zombie_from_background_shell_is_reaped(lsinit_bin, tmp_path):
    """dumb-init's test-zombies: bash -c "bash -c 'echo zombie' &" &, then no Z in ps."""
    script = ("sh -c 'sh -c \"echo zombie > out\" &' & "
              "while [ ! -s out ]; do sleep 0.01; done; "
              "for i in $(seq 200); do ps -A -o stat= | grep -q Z || exit 0; sleep 0.01; done; "
              "ps -A -o pid,stat,args; exit 1")
    r = run(lsinit_bin, ["--", "sh", "-c", script], cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert (tmp_path / "out").read_text() == "zombie\n"


# --- signal forwarding -----------------------------------------------------------

SYNCHRONOUS = {signal.SIGFPE, signal.SIGILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGTRAP,
               signal.SIGSYS}
FORWARDED = [s for s in range(1, 32) if s not in SYNCHRONOUS | {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}]
# TERM and INT start the shutdown; send them last so the rest arrive while running normally.
FORWARDED.sort(key=lambda s: s in (signal.SIGTERM, signal.SIGINT))
FORWARDED += [signal.SIGRTMIN, signal.SIGRTMIN + 2, signal.SIGRTMAX]


@BOTH_MODES
def test_every_forwardable_signal_delivered_exactly_once(lsinit_bin, tmp_path, as_pid1):
    rec = Recorder(tmp_path)
    with Lsinit(lsinit_bin, ["--grace", "30s", *rec.argv], pid1=as_pid1) as ls:
        rec.wait_ready()
        for sig in FORWARDED:
            ls.signal(sig)
            rec.wait_received(sig)
        time.sleep(0.2)  # room for a duplicate to show up
        rec.finish()
        assert ls.wait(timeout=10) == 0, ls.stderr
    expected = collections.Counter({("main", int(s)): 1 for s in FORWARDED})
    assert rec.received() == expected


RT_COUNTER = r"""
import os, signal, sys, time
sig, ready, stop, out = int(sys.argv[1]), *sys.argv[2:5]
# Blocked and collected with sigtimedwait: Python handlers would merge queued RT signals.
signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
open(ready, "w").close()
count = 0
deadline = time.monotonic() + 30
while not os.path.exists(stop) and time.monotonic() < deadline:
    if signal.sigtimedwait([sig], 0.005) is not None:
        count += 1
        with open(out, "w") as f:
            f.write(str(count))
"""


def test_realtime_signals_are_queued_not_merged(lsinit_bin, tmp_path):
    """RT signals queue: five sent to lsinit at once, five reach the app (none lost, none doubled)."""
    sig = signal.SIGRTMIN + 1
    ready, stop, out = tmp_path / "ready", tmp_path / "stop", tmp_path / "count"
    with Lsinit(lsinit_bin, ["--", PY, "-c", RT_COUNTER, str(int(sig)), str(ready), str(stop), str(out)]) as ls:
        wait_for(ready.exists)
        for _ in range(5):
            ls.signal(sig)
        wait_for(lambda: out.exists() and out.read_text() == "5", timeout=5, what="five RTMIN+1")
        time.sleep(0.2)
        stop.touch()
        assert ls.wait(timeout=10) == 0, ls.stderr
    assert out.read_text() == "5"


REWRITE = "TERM:INT,HUP:0,USR1:USR2,USR2:USR1"


@pytest.mark.parametrize("how", ["flag", "long-flag", "env"])
def test_signal_rewrite(lsinit_bin, tmp_path, how):
    """dumb-init's rewrite cases: TERM arrives as INT, HUP is dropped, USR1 and USR2 swap."""
    rec = Recorder(tmp_path)
    args, env = {"flag": (["-r", REWRITE], None), "long-flag": (["--rewrite", REWRITE], None),
                 "env": ([], {"LSINIT_SIGNAL_REWRITE": REWRITE})}[how]
    with Lsinit(lsinit_bin, ["--grace", "30s", *args, *rec.argv], env=env) as ls:
        rec.wait_ready()
        ls.signal(signal.SIGTERM)
        rec.wait_received(signal.SIGINT)
        ls.signal(signal.SIGHUP)
        ls.signal(signal.SIGUSR1)
        rec.wait_received(signal.SIGUSR2)
        ls.signal(signal.SIGUSR2)
        rec.wait_received(signal.SIGUSR1)
        ls.signal(signal.SIGWINCH)  # a sentinel sent after HUP: HUP would have arrived by now
        rec.wait_received(signal.SIGWINCH)
        time.sleep(0.2)
        rec.finish()
        assert ls.wait(timeout=10) == 0, ls.stderr
    assert rec.received() == collections.Counter({("main", int(s)): 1 for s in
                                                  (signal.SIGINT, signal.SIGUSR2, signal.SIGUSR1, signal.SIGWINCH)})


def test_rewrite_term_to_int_still_starts_the_grace(lsinit_bin, tmp_path):
    """TERM rewritten to INT is still a stop request: a child that ignores INT is killed at the grace."""
    child = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
             "open('ready', 'w').close(); time.sleep(30)")
    with Lsinit(lsinit_bin, ["-r", "TERM:INT", "--grace", "300ms", "--", PY, "-c", child], cwd=tmp_path) as ls:
        wait_for((tmp_path / "ready").exists)
        ls.signal(signal.SIGTERM)
        assert ls.wait(timeout=5) == 128 + signal.SIGKILL


@pytest.mark.parametrize("value,group", [("1", True), ("true", True), ("on", True), ("YES", True), ("True", True),
                                         ("0", False), ("false", False), ("off", False), ("no", False),
                                         ("OFF", False)])
def test_kill_group_env_boolean(lsinit_bin, tmp_path, value, group):
    """LSINIT_KILL_GROUP takes explicit values: 0/false/off/no mean off (unlike TINI_KILL_PROCESS_GROUP)."""
    check_group_forwarding(lsinit_bin, tmp_path, [], {"LSINIT_KILL_GROUP": value}, group)


@pytest.mark.parametrize("flag", ["-g", "--kill-group"])
def test_kill_group_flag(lsinit_bin, tmp_path, flag):
    check_group_forwarding(lsinit_bin, tmp_path, [flag], None, True)


def test_kill_group_flag_wins_over_env(lsinit_bin, tmp_path):
    check_group_forwarding(lsinit_bin, tmp_path, ["-g"], {"LSINIT_KILL_GROUP": "0"}, True)


def test_default_forwards_to_child_only(lsinit_bin, tmp_path):
    check_group_forwarding(lsinit_bin, tmp_path, [], None, False)


def check_group_forwarding(lsinit_bin, tmp_path, args, env, group):
    rec = Recorder(tmp_path, fork=True)
    with Lsinit(lsinit_bin, [*args, *rec.argv], env=env) as ls:
        rec.wait_ready()
        ls.signal(signal.SIGUSR1)
        rec.wait_received(signal.SIGUSR1)
        if group:
            rec.wait_received(signal.SIGUSR1, role="grandchild")
        time.sleep(0.2)
        rec.finish()
        assert ls.wait(timeout=10) == 0, ls.stderr
    expected = collections.Counter({("main", int(signal.SIGUSR1)): 1})
    if group:
        expected[("grandchild", int(signal.SIGUSR1))] = 1
    assert rec.received() == expected


# --- signal mask -------------------------------------------------------------------

BLOCKED = [signal.SIGTTIN, signal.SIGILL, signal.SIGTERM, signal.SIGUSR2, signal.SIGRTMIN + 3]
IGNORED = [signal.SIGTTOU, signal.SIGSEGV, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE]


def mask_of(signals):
    return sum(1 << (int(s) - 1) for s in signals)


def _default_dispositions():
    """What the test runner itself inherited (a background job of a non-interactive shell starts with
    SIGINT and SIGQUIT ignored) must not decide what these tests see: every catchable signal to default."""
    for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, signal.SIG_DFL)


def _block_and_ignore():
    _default_dispositions()
    signal.pthread_sigmask(signal.SIG_SETMASK, BLOCKED)
    for s in IGNORED:
        signal.signal(s, signal.SIG_IGN)


@BOTH_MODES
def test_child_gets_callers_signal_mask_and_ignores(lsinit_bin, as_pid1):
    """tini's sigconf test: the caller's blocked and ignored signals reach the app exactly."""
    # An ASan build of lsinit installs its own SEGV handler over the inherited SIG_IGN unless told not to.
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "handle_segv=0"]))
    r = run(lsinit_bin, ["--", "cat", "/proc/self/status"], pid1=as_pid1, preexec_fn=_block_and_ignore,
            env={"ASAN_OPTIONS": asan})
    assert r.returncode == 0, r.stderr
    fields = dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)
    assert int(fields["SigBlk"], 16) == mask_of(BLOCKED)
    assert int(fields["SigIgn"], 16) == mask_of(IGNORED)


@BOTH_MODES
def test_child_gets_empty_mask_by_default(lsinit_bin, as_pid1):
    """lsinit blocks nearly everything itself; none of that may leak into the app."""
    r = run(lsinit_bin, ["--", "cat", "/proc/self/status"], pid1=as_pid1,
            preexec_fn=lambda: (_default_dispositions(), signal.pthread_sigmask(signal.SIG_SETMASK, [])))
    fields = dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)
    assert int(fields["SigBlk"], 16) == 0
    assert int(fields["SigIgn"], 16) == 0


# --- exec failures -------------------------------------------------------------------

def _not_executable(tmp_path):
    path = tmp_path / "plain-file"
    path.write_text("data\n")
    path.chmod(0o644)
    return str(path)


@pytest.mark.parametrize("make_cmd,code", [
    (lambda tmp: "/nonexistent/lsinit-test-command", 127),
    (lambda tmp: "lsinit-test-no-such-command", 127),
    (lambda tmp: "/etc", 126),
    (_not_executable, 126),
], ids=["missing-path", "missing-in-PATH", "directory", "not-executable"])
@BOTH_MODES
def test_exec_failure(lsinit_bin, tmp_path, make_cmd, code, as_pid1):
    cmd = make_cmd(tmp_path)
    r = run(lsinit_bin, ["--", cmd, "arg"], pid1=as_pid1)
    assert r.returncode == code
    assert cmd in one_line(r.stderr)
    assert r.stdout == ""


def test_double_dash_is_the_command(lsinit_bin):
    """tini's smoke case: `-- -- true` runs a program named "--", which does not exist."""
    r = run(lsinit_bin, ["--", "--", "true"])
    assert r.returncode == 127
    assert "--" in one_line(r.stderr)


# --- not PID 1: subreaper ------------------------------------------------------------

SUBREAPER_CHILD = r"""
import os, sys, time
out = sys.argv[1]
r, w = os.pipe()
middle = os.fork()
if middle == 0:
    me = os.getpid()
    if os.fork() == 0:
        os.close(r)
        # Wait until the middle process (our parent at birth) is gone and we were adopted.
        while os.getppid() == me:
            time.sleep(0.002)
        os.write(w, b"%d %d\n" % (os.getpid(), os.getppid()))
        os._exit(0)
    os._exit(0)
os.close(w)
os.waitpid(middle, 0)
orphan, ppid = map(int, os.read(r, 100).split())
# The orphan exits right after reporting; its new parent must reap it.
deadline = time.monotonic() + 5
while os.path.exists(f"/proc/{orphan}") and time.monotonic() < deadline:
    time.sleep(0.005)
reaped = not os.path.exists(f"/proc/{orphan}")
with open(out, "w") as f:
    f.write(f"{ppid} {reaped}\n")
"""


def test_subreaper_when_not_pid1(lsinit_bin, tmp_path):
    out = tmp_path / "out"
    with Lsinit(lsinit_bin, ["--", PY, "-c", SUBREAPER_CHILD, str(out)], pid1=False) as ls:
        assert ls.wait(timeout=10) == 0, ls.stderr
        ppid, reaped = out.read_text().split()
        assert int(ppid) == ls.proc.pid
        assert reaped == "True"
        assert ls.stderr == ""  # no "not PID 1" warning


def scan_allowance(as_pid1, scans):
    """Extra time lsinit may take when it is not PID 1.

    As PID 1, "everything" is kill(-1). Otherwise lsinit finds its children by
    reading /proc/*/stat, which costs about 10-20 us per process on the host:
    nothing in a container, but a busy shared machine can have 10,000.
    """
    if as_pid1:
        return 0.0
    return scans * 20e-6 * sum(1 for entry in os.listdir("/proc") if entry.isdigit())


# --- grace ladder ----------------------------------------------------------------------

IGNORE_TERM = ("import signal, time, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
               "open(sys.argv[1], 'w').close(); time.sleep(60)")
DEFAULT_TERM = "import time, sys; open(sys.argv[1], 'w').close(); time.sleep(60)"


@pytest.mark.parametrize("how", ["--grace", "-t", "env"])
@BOTH_MODES
def test_grace_kills_child_that_ignores_term(lsinit_bin, tmp_path, how, as_pid1):
    ready = tmp_path / "ready"
    args, env = ([how, "1s"], None) if how != "env" else ([], {"LSINIT_GRACE": "1s"})
    with Lsinit(lsinit_bin, [*args, "--", PY, "-c", IGNORE_TERM, str(ready)], env=env, pid1=as_pid1) as ls:
        wait_for(ready.exists)
        start = time.monotonic()
        ls.signal(signal.SIGTERM)
        assert ls.wait(timeout=10) == 128 + signal.SIGKILL, ls.stderr
        elapsed = ls.exited_at - start
    assert 0.9 <= elapsed <= 1.1 + scan_allowance(as_pid1, scans=2), elapsed


def test_grace_flag_wins_over_env(lsinit_bin, tmp_path):
    ready = tmp_path / "ready"
    with Lsinit(lsinit_bin, ["--grace", "300ms", "--", PY, "-c", IGNORE_TERM, str(ready)],
                env={"LSINIT_GRACE": "20s"}) as ls:
        wait_for(ready.exists)
        start = time.monotonic()
        ls.signal(signal.SIGTERM)
        assert ls.wait(timeout=10) == 137
        assert 0.2 <= ls.exited_at - start <= 0.45


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=pid1.sig_name)
@BOTH_MODES
def test_fast_exit_does_not_wait_for_grace(lsinit_bin, tmp_path, sig, as_pid1):
    ready = tmp_path / "ready"
    # Python turns INT into KeyboardInterrupt; put it back to the default action.
    child = "import signal; signal.signal(signal.SIGINT, signal.SIG_DFL); " + DEFAULT_TERM
    with Lsinit(lsinit_bin, ["--grace", "10s", "--", PY, "-c", child, str(ready)], pid1=as_pid1) as ls:
        wait_for(ready.exists)
        start = time.monotonic()
        ls.signal(sig)
        assert ls.wait(timeout=10) == 128 + sig, ls.stderr
        assert ls.exited_at - start < 0.5


ESCAPING_DESCENDANTS = r"""
import os, signal, sys, time
ready = sys.argv[1]
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    os.setsid()  # out of the app's process group: only a kill of everything reaches it
    if os.fork() == 0:  # and a child of its own, adopted by lsinit only once its parent dies
        with open(ready + ".tmp", "w") as f:
            f.write(f"{os.getppid()} {os.getpid()}")
        os.rename(ready + ".tmp", ready + ".descendants")
    time.sleep(60)
    os._exit(0)
while not os.path.exists(ready + ".descendants"):
    time.sleep(0.002)
open(ready, "w").close()
time.sleep(60)
"""


@BOTH_MODES
def test_grace_kills_processes_outside_the_app_group(lsinit_bin, tmp_path, as_pid1):
    """At the grace deadline everything goes: also TERM-ignoring processes that left the app's group,
    and their children, which lsinit adopts only when their parent is killed."""
    ready = tmp_path / "ready"
    with Lsinit(lsinit_bin, ["--grace", "500ms", "--", PY, "-c", ESCAPING_DESCENDANTS, str(ready)],
                pid1=as_pid1) as ls:
        wait_for(ready.exists)
        descendants = [int(p) for p in pathlib.Path(str(ready) + ".descendants").read_text().split()]
        if not as_pid1:
            for pid in descendants:
                ls.also_kill(pid)
        start = time.monotonic()
        ls.signal(signal.SIGTERM)
        assert ls.wait(timeout=4) == 137, ls.stderr
        assert ls.exited_at - start < 1.5 + scan_allowance(as_pid1, scans=4)
    if not as_pid1:
        assert not any(procs.alive(pid) for pid in descendants)


# --- stragglers ---------------------------------------------------------------------------

STRAGGLER = r"""
import os, signal, sys, time
mode, ready, out = sys.argv[1:4]
if os.fork() == 0:
    if mode == "polite":
        def on_term(sig, frame):
            time.sleep(0.3)  # lsinit must wait for this, not exit at once
            with open(out, "w") as f:
                f.write("got TERM\n")
            os._exit(0)
        signal.signal(signal.SIGTERM, on_term)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pids = [os.getpid()]
    if mode == "stubborn-pair":  # with a child of its own, adopted only once its parent is killed
        child = os.fork()
        if child == 0:
            time.sleep(60)
            os._exit(0)
        pids.append(child)
    with open(ready + ".tmp", "w") as f:
        f.write(" ".join(map(str, pids)))
    os.rename(ready + ".tmp", ready)
    time.sleep(60)
    os._exit(0)
while not os.path.exists(ready):
    time.sleep(0.002)
with open(out + ".main-exit", "w") as f:
    f.write(repr(time.monotonic()))
sys.exit(5)
"""


@pytest.mark.parametrize("how", ["default", "env"])
@BOTH_MODES
def test_straggler_gets_term_and_lsinit_waits(lsinit_bin, tmp_path, how, as_pid1):
    out, ready = tmp_path / "out", tmp_path / "ready"
    env = {"LSINIT_STRAGGLER_GRACE": "3s"} if how == "env" else None
    with Lsinit(lsinit_bin, ["--", PY, "-c", STRAGGLER, "polite", str(ready), str(out)], env=env,
                pid1=as_pid1) as ls:
        if not as_pid1:
            ls.also_kill(int(wait_for(lambda: ready.exists() and ready.read_text())))
        assert ls.wait(timeout=5) == 5, ls.stderr
    assert out.read_text() == "got TERM\n"
    main_exit = float(pathlib.Path(str(out) + ".main-exit").read_text())
    assert ls.exited_at - main_exit < 1.5  # ended when the straggler did, not at the straggler grace


@pytest.mark.parametrize("mode,how", [("stubborn", "-T"), ("stubborn", "--straggler-grace"), ("stubborn", "env"),
                                      ("stubborn-pair", "-T")])
@BOTH_MODES
def test_straggler_ignoring_term_is_killed_at_straggler_grace(lsinit_bin, tmp_path, mode, how, as_pid1):
    out, ready = tmp_path / "out", tmp_path / "ready"
    args, env = ([how, "500ms"], None) if how != "env" else ([], {"LSINIT_STRAGGLER_GRACE": "500ms"})
    with Lsinit(lsinit_bin, [*args, "--", PY, "-c", STRAGGLER, mode, str(ready), str(out)], env=env,
                pid1=as_pid1) as ls:
        stragglers = [int(p) for p in wait_for(lambda: ready.exists() and ready.read_text()).split()]
        if not as_pid1:
            for pid in stragglers:
                ls.also_kill(pid)
        assert ls.wait(timeout=5) == 5, ls.stderr
    main_exit = float(pathlib.Path(str(out) + ".main-exit").read_text())
    assert 0.4 <= ls.exited_at - main_exit <= 0.7 + scan_allowance(as_pid1, scans=4), ls.exited_at - main_exit
    if not as_pid1:  # as PID 1 the kernel kills the namespace anyway, and the pids are the namespace's
        assert not any(procs.alive(pid) for pid in stragglers)


# --- command line and environment ----------------------------------------------------------

def settings_source():
    return SETTINGS_C.read_text()


def test_help_lists_every_option_and_variable(lsinit_bin):
    source = settings_source()
    long_opts = re.findall(r'\{"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument', source)
    optstring = re.search(r'getopt_long\([^"]*"\+?([^"]*)"', source).group(1)
    short_opts = [c for c in optstring if c != ":"]
    variables = sorted(set(re.findall(r'env_lookup\(envp,\s*"(LSINIT_[A-Z0-9_]+)"\)', source)))
    assert long_opts and short_opts and variables
    r = run(lsinit_bin, ["--help"])
    assert r.returncode == 0
    assert r.stderr == ""
    missing = [f"--{o}" for o in long_opts if f"--{o}" not in r.stdout]
    missing += [f"-{c}" for c in short_opts if not re.search(rf"(^|[\s,]){re.escape('-' + c)}\b", r.stdout, re.M)]
    missing += [v for v in variables if v not in r.stdout]
    assert missing == []
    assert run(lsinit_bin, ["-h"]).stdout == r.stdout


def test_version_is_one_line(lsinit_bin):
    for flag in ("--version", "-V"):
        r = run(lsinit_bin, [flag])
        assert r.returncode == 0
        assert r.stderr == ""
        assert re.fullmatch(r"lsinit version \S+", one_line(r.stdout)), r.stdout
        assert r.stdout.endswith("\n") and r.stdout.count("\n") == 1


ALIASES = {"-t": "--grace", "-T": "--straggler-grace", "-e": "--remap-exit", "-r": "--rewrite"}
ALIASES.update({v: k for k, v in ALIASES.items()})


def names_flag(line, flag):
    """The message names the flag, as typed or by its other spelling (-t / --grace)."""
    return re.search(rf"(^|[\s'\"]){re.escape(flag)}\b", line) or \
        (flag in ALIASES and re.search(rf"(^|[\s'\"]){re.escape(ALIASES[flag])}\b", line))


@pytest.mark.parametrize("args,named", [(["--yolo", "--", "true"], "--yolo"), (["-x", "true"], "-x"),
                                        (["--grace"], "--grace"), (["-t"], "-t"), (["-T"], "-T"),
                                        (["--yolo=1", "true"], "--yolo")])
def test_unknown_or_incomplete_option_exits_64(lsinit_bin, args, named):
    r = run(lsinit_bin, args)
    assert r.returncode == 64
    assert names_flag(one_line(r.stderr), named), r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args,named", [
    (["--grace", "10x", "--", "true"], "--grace"),
    (["-t", "-1s", "--", "true"], "-t"),
    (["--straggler-grace", "soon", "--", "true"], "--straggler-grace"),
    (["-e", "256", "--", "true"], "-e"),
    (["-e", "abc", "--", "true"], "-e"),
    (["-r", "TERM", "--", "true"], "-r"),
    (["-r", "TERM:NOPE", "--", "true"], "-r"),
    (["-r", "KILL:TERM", "--", "true"], "-r"),
    (["--rewrite", "1:65", "--", "true"], "--rewrite"),
])
def test_bad_flag_value_exits_64(lsinit_bin, args, named):
    r = run(lsinit_bin, args)
    assert r.returncode == 64
    line = one_line(r.stderr)
    assert names_flag(line, named) and args[1] in line, line


def test_no_command_exits_64(lsinit_bin):
    r = run(lsinit_bin, [])
    assert r.returncode == 64
    assert "command" in one_line(r.stderr)


@pytest.mark.parametrize("var,value", [
    ("LSINIT_GRACE", "10x"), ("LSINIT_GRACE", "-1s"), ("LSINIT_GRACE", ""), ("LSINIT_GRACE", "s"),
    ("LSINIT_STRAGGLER_GRACE", "1h2"), ("LSINIT_REMAP_EXIT", "300"), ("LSINIT_SIGNAL_REWRITE", "TERM"),
    ("LSINIT_KILL_GROUP", "maybe"), ("LSINIT_KILL_GROUP", "2"), ("LSINIT_LOG_LEVEL", "loud"),
])
def test_bad_environment_value_exits_78(lsinit_bin, var, value):
    r = run(lsinit_bin, ["--", "true"], env={var: value})
    assert r.returncode == 78
    assert f"{var}={value}" in one_line(r.stderr)
    assert r.stdout == ""


def test_bad_environment_value_wins_even_with_a_good_flag(lsinit_bin):
    """Variables are validated even when a flag overrides them: a typo must not hide."""
    r = run(lsinit_bin, ["--grace", "1s", "--", "true"], env={"LSINIT_GRACE": "10x"})
    assert r.returncode == 78
    assert "LSINIT_GRACE" in one_line(r.stderr)


def test_options_after_the_command_belong_to_the_app(lsinit_bin):
    r = run(lsinit_bin, ["sh", "-c", 'printf "%s\\n" "$@"', "sh", "-v", "--grace", "x", "-q"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["-v", "--grace", "x", "-q"]


def test_stdin_passes_through(lsinit_bin):
    """tini's smoke case: echo "exit 3" | lsinit sh."""
    r = run(lsinit_bin, ["sh"], input="exit 3\n", stdin=None)
    assert r.returncode == 3


def test_quiet_hides_info_lines(lsinit_bin, tmp_path):
    """TERM is logged at info level; -q and LSINIT_LOG_LEVEL=error hide it, -v shows debug lines."""
    runs = iter(range(100))

    def stderr_after_term(args, env=None):
        ready = tmp_path / f"ready{next(runs)}"
        with Lsinit(lsinit_bin, [*args, "--", PY, "-c", DEFAULT_TERM, str(ready)], env=env) as ls:
            wait_for(ready.exists)
            ls.signal(signal.SIGTERM)
            assert ls.wait(timeout=5) == 143
            return ls.stderr
    assert "INFO" in stderr_after_term([])
    assert stderr_after_term(["-q"]) == ""
    assert stderr_after_term([], {"LSINIT_LOG_LEVEL": "error"}) == ""
    assert "DEBUG" in stderr_after_term(["-v"])


# --- hygiene: fds, cwd -----------------------------------------------------------------------

LIST_FDS = "import os; print(' '.join(sorted(os.listdir('/proc/self/fd'), key=int)))"


@BOTH_MODES
def test_child_has_only_stdio(lsinit_bin, as_pid1):
    """lsinit's own fds (signalfd, exec-report pipe) are close-on-exec."""
    r = run(lsinit_bin, ["--", PY, "-c", LIST_FDS], pid1=as_pid1)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "2", "3"]  # 3: the directory being listed


def test_inherited_fds_are_not_passed_to_the_child(lsinit_bin):
    r_fd, w_fd = os.pipe()
    try:
        r = run(lsinit_bin, ["--", PY, "-c", LIST_FDS], pass_fds=(r_fd, w_fd))
    finally:
        os.close(r_fd)
        os.close(w_fd)
    assert r.stdout.split() == ["0", "1", "2", "3"]


@BOTH_MODES
def test_cwd(lsinit_bin, tmp_path, as_pid1):
    """The app starts in the caller's directory; lsinit itself moves to / (catatonit#28) before the app
    starts: the app's first look at its parent's cwd already sees / (dumb-init's own suite checks this)."""
    child = ("import os, time; print(os.readlink(f'/proc/{os.getppid()}/cwd'), flush=True)\n"
             "print(os.getcwd(), flush=True); open('ready', 'w').close()\n"
             "while not os.path.exists('go'): time.sleep(0.005)")
    with Lsinit(lsinit_bin, ["--", PY, "-c", child], cwd=tmp_path, pid1=as_pid1) as ls:
        wait_for((tmp_path / "ready").exists)
        assert os.readlink(f"/proc/{ls.host_pid}/cwd") == "/"
        (tmp_path / "go").touch()
        assert ls.wait(timeout=5) == 0, ls.stderr
        assert ls.stdout.split() == ["/", str(tmp_path)], ls.stdout


# --- TTY -----------------------------------------------------------------------------------------

def pty_run(argv, send=b"", expect=b"", timeout=10):
    """Runs argv on a new pty; writes send once expect_first shows up. Returns (output, exit code)."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            _default_dispositions()
            os.execvpe(argv[0], argv, pid1.clean_env())
        finally:
            os._exit(99)
    output = b""
    sent = not send
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sent and expect in output:
                os.write(master, send)
                sent = True
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    break
                if not chunk:
                    break
                output += chunk
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    return output, os.waitstatus_to_exitcode(status)


FOREGROUND = ("import os; print('foreground' if os.tcgetpgrp(0) == os.getpgrp() else 'background', "
              "os.getpgrp() == os.getpid(), flush=True)")


@BOTH_MODES
def test_tty_child_is_foreground_process_group(lsinit_bin, as_pid1):
    output, code = pty_run(pid1.command(lsinit_bin, ["--", PY, "-c", FOREGROUND], as_pid1))
    assert code == 0, output
    assert b"foreground True" in output


@BOTH_MODES
def test_tty_round_trip(lsinit_bin, as_pid1):
    """dumb-init's tty case: `lsinit -- sh -c 'read line; echo ...'`; the child reads the terminal."""
    argv = pid1.command(lsinit_bin, ["--", "sh", "-c", 'echo ready; read line; echo "got:$line"; cat'], as_pid1)
    output, code = pty_run(argv, send=b"hello\nworld\n\x04", expect=b"ready")
    assert code == 0, output
    assert b"got:hello" in output
    assert output.count(b"world") == 2, output  # the terminal's echo and cat's copy


@BOTH_MODES
def test_tty_ctrl_c_reaches_the_app(lsinit_bin, as_pid1):
    """tini's outer test: Ctrl-C into a foreground loop gives 130."""
    argv = pid1.command(lsinit_bin, ["--", "sh", "-c", "echo ready; exec sleep 30"], as_pid1)
    output, code = pty_run(argv, send=b"\x03", expect=b"ready")
    assert code == 130, output
