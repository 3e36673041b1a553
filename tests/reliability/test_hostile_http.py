"""Suite 6: hostile HTTP clients against the health endpoint, while measuring
what must not suffer: signal forwarding and reaping.

lsinit runs in Litestream mode with the probe app (soak_app.py probe): USR1
is forwarded straight to the app, which records CLOCK_MONOTONIC on receipt;
USR2 makes it spawn orphans, each recording its exit time, and the test times
how long each stays a zombie of lsinit. Both are measured without load and
under hostile_http.py (300 idle connections, 20 slowloris, 10 KiB headers,
pipelined, half-closed and garbage requests). Figures: p50/p99 of both, the
time to reap a burst of 200 orphans, and lsinit's CPU time under load.

The libFuzzer side of this suite (tests/fuzz/fuzz_http_request.c) runs from
make: `make fuzz` (tests/run, 20 s) and scripts/soak (-runs=10000000).
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from support import health as hh
from support import reliability as rel
from support.procs import proc_stat, zombie_children
from support.reliability import SOAK

pytestmark = pytest.mark.usefixtures("require_root")

HERE = pathlib.Path(__file__).resolve().parent
SAMPLES = 400 if SOAK else 100
ORPHANS = 60 if SOAK else 25
LOAD_S = 60 if SOAK else 7


def _lines(path):
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def forward_latencies(lsinit_pid, state, n):
    out = []
    f = state / "usr1"
    for _ in range(n):
        have = len(_lines(f))
        t0 = time.monotonic_ns()
        os.kill(lsinit_pid, signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while True:
            lines = _lines(f)
            if len(lines) > have:
                out.append((int(lines[have]) - t0) / 1e9)
                break
            assert time.monotonic() < deadline, "SIGUSR1 never reached the app"
            time.sleep(0.0002)
        time.sleep(0.01)
    return out


def reap_latencies(lsinit_pid, state, n, burst=1):
    """Per orphan: its exit → its /proc entry gone (reaped by lsinit)."""
    (state / "orphans").write_text(str(burst))
    f = state / "orphan-exits"
    out = []
    for _ in range(n):
        have = len(_lines(f))
        os.kill(lsinit_pid, signal.SIGUSR2)
        deadline = time.monotonic() + 10
        pending = {}
        seen = have
        while len(pending) < burst or any(pending.values()):
            lines = _lines(f)
            for line in lines[seen:]:
                pid, t_exit = map(int, line.split())
                pending[pid] = t_exit
            seen = len(lines)
            now = time.monotonic_ns()
            for pid, t_exit in list(pending.items()):
                if t_exit and not os.path.exists(f"/proc/{pid}"):
                    out.append((now - t_exit) / 1e9)
                    pending[pid] = 0
            assert time.monotonic() < deadline, f"orphans not reaped: {pending}"
            time.sleep(0.0002)
        time.sleep(0.02)
    return out


def burst_reap_s(lsinit_pid, state, burst):
    """Time from the last exit of a burst of orphans to no zombie of lsinit left."""
    (state / "orphans").write_text(str(burst))
    f = state / "orphan-exits"
    have = len(_lines(f))
    os.kill(lsinit_pid, signal.SIGUSR2)
    rel.wait_for(lambda: len(_lines(f)) >= have + burst, 20, "the burst of orphans to exit", interval=0.001)
    last = max(int(ln.split()[1]) for ln in _lines(f)[have:])
    rel.wait_for(lambda: not zombie_children(lsinit_pid), 10, "lsinit to reap the burst", interval=0.001)
    return (time.monotonic_ns() - last) / 1e9


def cpu_s(pid):
    return proc_stat(pid)["cpu_ticks"] / os.sysconf("SC_CLK_TCK")


def test_signals_and_reaping_under_hostile_http(lsinit, litestream_bin, tmp_path, figures):
    replica = rel.make_replica("file", tmp_path)
    db = tmp_path / "data" / "app.db"
    state = tmp_path / "state"
    state.mkdir()
    env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db)
    result = {}
    with rel.LsinitRun(lsinit, ["--", *rel.probe_cmd(state)], env, tmp_path) as run:
        port = rel.health_port(run)
        rel.wait_for(lambda: (state / "ready").exists(), 20, "the probe app")
        rel.wait_for(lambda: (r := hh.try_request(port, "/readyz")) is not None and r.status == 200, 20, "/readyz")
        pid = run.pid
        base_fwd = forward_latencies(pid, state, SAMPLES)
        base_reap = reap_latencies(pid, state, ORPHANS)
        base_burst = burst_reap_s(pid, state, 200)

        out = tmp_path / "load.json"
        load = subprocess.Popen([sys.executable, str(HERE / "hostile_http.py"), str(port), str(LOAD_S), str(out)],
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            time.sleep(1.5)  # every slot taken
            cpu0 = cpu_s(pid)
            t_load = time.monotonic()
            load_fwd = forward_latencies(pid, state, SAMPLES)
            load_reap = reap_latencies(pid, state, ORPHANS)
            load_burst = burst_reap_s(pid, state, 200)
            measured_s = time.monotonic() - t_load
            cpu_load = cpu_s(pid) - cpu0
            over_cap = hh.try_request(port, "/livez", timeout=1)
            load.wait(LOAD_S + 30)
        finally:
            if load.poll() is None:
                os.killpg(load.pid, signal.SIGKILL)
                load.wait(10)
        assert run.proc.poll() is None, f"lsinit died under hostile HTTP:\n{run.stderr}"
        answered = rel.wait_for(lambda: hh.try_request(port, "/livez", timeout=1), 10, "/livez after the load")
        samples = hh.metrics(port)
        run.signal(signal.SIGTERM)
        rc = run.wait(30)
    load_counts = json.loads(out.read_text()) if out.exists() else {}
    result = {
        "forward_ms_no_load": rel.summary_ms(base_fwd), "forward_ms_hostile": rel.summary_ms(load_fwd),
        "reap_ms_no_load": rel.summary_ms(base_reap), "reap_ms_hostile": rel.summary_ms(load_reap),
        "burst200_reaped_after_last_exit_ms": {"no_load": round(base_burst * 1000, 1),
                                               "hostile": round(load_burst * 1000, 1)},
        "load": load_counts, "lsinit_cpu_s_under_load": round(cpu_load, 2), "measured_s": round(measured_s, 1),
        "http_rejected_total": hh.metric(samples, "lsinit_http_rejected_total"),
        "http_requests_total": hh.metric(samples, "lsinit_http_requests_total"),
        "request_over_cap_answered": over_cap is not None,
    }
    figures(**result)
    assert rc == 0, run.stderr
    assert answered.status == 200
    assert load_counts.get("connections", 0) >= 300, load_counts
    assert rel.percentile(load_fwd, 99) < 0.050, result
    assert rel.percentile(load_reap, 99) < 0.050, result
    assert load_burst < 0.5, result
    assert cpu_load < 0.5 * measured_s + 1, f"lsinit burnt {cpu_load:.1f} s of CPU in {measured_s:.1f} s"
