"""Processes seen through /proc, and a clean signal state for children.
Standard library only."""
import contextlib
import os
import pathlib
import signal


def proc_stat(pid):
    """{"state", "ppid", "cpu_ticks" (user + system)} of pid, or None when it is gone."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return {"state": fields[0], "ppid": int(fields[1]), "cpu_ticks": int(fields[11]) + int(fields[12])}


def alive(pid):
    """True while pid exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st["state"] not in ("Z", "X")


def children_of(pid):
    """Children of every thread of pid (a Go program forks from any thread);
    a scan of /proc when the children files are missing (no CONFIG_PROC_CHILDREN)."""
    try:
        found = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            found += [int(p) for p in pathlib.Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        return sorted(set(found))
    except OSError:
        return [int(d) for d in os.listdir("/proc") if d.isdigit() and (proc_stat(int(d)) or {}).get("ppid") == pid]


def descendants(pid):
    """Pids of every descendant of pid (children before their own children)."""
    out, todo = [], [pid]
    while todo:
        for c in children_of(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    """argv of pid as a list of bytes ([] when it is gone)."""
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def exe_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def zombie_children(pid):
    """Pids of zombies whose parent is ``pid`` (a scan of /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st is not None and st["ppid"] == pid and st["state"] == "Z":
                out.append(int(d))
    return out


def proc_status_ids(pid):
    """(real, effective, saved, fs) uids and gids of a pid."""
    uids = gids = None
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            uids = tuple(int(x) for x in line.split()[1:])
        elif line.startswith("Gid:"):
            gids = tuple(int(x) for x in line.split()[1:])
    return uids, gids


def default_signals():
    """preexec_fn: default dispositions and an empty mask, whatever the test runner
    inherited (a non-interactive shell starts background jobs with INT and QUIT ignored)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for s in range(1, signal.NSIG):
        if s in (signal.SIGKILL, signal.SIGSTOP) or 32 <= s <= 33:
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(s, signal.SIG_DFL)
