"""Suite 9: secrets audit.

Distinctive values for the S3 secret key and the SFTP password; lsinit is
started WITHOUT any AWS_* variable and with LITESTREAM_* credentials. Every
subcommand runs (config, databases, restore, generations/snapshots/wal or ltx/status/sync,
version, verify, health) and a full lifecycle (start, writes, a verification
cycle on LSINIT_VERIFY_INTERVAL, /healthz, /metrics, litestream's metrics,
stop), for S3 and for SFTP. Searched for the secrets: every stdout/stderr
(lsinit's lines and litestream's log), the HTTP answers, the command lines of
every process lsinit started, the files under the data folder, the replica
(SFTP folder, fauxqs' object store), TMPDIR, /dev/shm and new /tmp entries.
The app's /proc/<pid>/environ must be exactly what lsinit started with: no
AWS_* copies of the credentials (Litestream puts them into its own
environment).
"""
import os
import pathlib
import signal
import stat
import subprocess
import time
import urllib.request

import pytest

from support import apps, procs
from support import health as hh
from support import reliability as rel
from support.waiting import free_port

pytestmark = pytest.mark.usefixtures("require_root")

S3_SECRET = "S3sEcReT-audit-Zq9vX2w"
SFTP_SECRET = "SfTpPaSs-audit-Kx7wQ4m"
NEEDLES = (S3_SECRET, SFTP_SECRET)


def _scan_files(roots, since):
    hits, scanned = [], 0
    for root in roots:
        root = pathlib.Path(root)
        if not root.exists():
            continue
        for p in [root, *root.rglob("*")] if root.is_dir() else [root]:
            try:
                st = p.lstat()
                if not stat.S_ISREG(st.st_mode) or max(st.st_mtime, st.st_ctime) < since or st.st_size > 256 << 20:
                    continue
                data = p.read_bytes()
            except OSError:
                continue
            scanned += 1
            hits += [(str(p), n) for n in NEEDLES if n.encode() in data]
    return hits, scanned


def _cmdlines(pids):
    out = {}
    for pid in pids:
        try:
            out[pid] = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            pass
    return out


def _environ(pid):
    raw = pathlib.Path(f"/proc/{pid}/environ").read_bytes()
    return dict(kv.split(b"=", 1) for kv in raw.split(b"\0") if b"=" in kv)


def test_secrets_audit(lsinit, litestream_bin, fauxqs, sftp_server, tmp_path, figures):
    since = time.time() - 1
    tmp_before = set(os.listdir("/tmp"))
    shm_before = set(os.listdir("/dev/shm"))
    private_tmp = tmp_path / "tmpdir"
    private_tmp.mkdir()
    texts = {}  # name -> everything a command printed or a server answered
    cmdlines = {}
    environ_checks = {}

    s3 = rel.make_replica("s3", tmp_path, fauxqs=fauxqs)
    s3.env = dict(s3.env, LITESTREAM_SECRET_ACCESS_KEY=S3_SECRET, LITESTREAM_ACCESS_KEY_ID="AKIDLSINITAUDIT")
    sftp = rel.make_replica("sftp", tmp_path, sftp=sftp_server)
    sftp.env = dict(sftp.env, LSINIT_SFTP_PASSWORD=SFTP_SECRET)

    for kind, replica in (("s3", s3), ("sftp", sftp)):
        d = tmp_path / kind
        db = d / "data" / "app.db"
        state = d / "state"
        state.mkdir(parents=True)
        env = rel.lsinit_env(rel.base_env(litestream_bin), replica, db, TMPDIR=private_tmp, LSINIT_LOG_LEVEL="debug",
                             LSINIT_VERIFY_INTERVAL="2s", LSINIT_VERIFY_DIR=private_tmp,
                             LSINIT_METRICS_ADDR=f"127.0.0.1:{free_port()}")
        assert not any(k.startswith("AWS_") for k in env)

        def sub(name, *args, expect=0, **extra):
            r = subprocess.run([lsinit, *args], env=dict(env, **extra), cwd=d, stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=120, preexec_fn=procs.default_signals)
            texts[f"{kind}:{name}"] = r.stdout + r.stderr
            assert r.returncode == expect, f"{kind} {name}: exit {r.returncode}\n{r.stdout}{r.stderr}"
            return r

        sub("config", "config")
        sub("databases", "databases")
        sub("version", "version")
        with rel.LsinitRun(lsinit, ["--", *apps.writer_cmd(db, state, "0")], env, d) as run:
            port = rel.health_port(run)
            app_pid = rel.wait_ready(run, state)
            rel.wait_segments(run, 0)
            # a verification cycle on the timer, seen in /healthz (S3; SFTP's too in the long version)
            if kind == "s3" or rel.SOAK:
                rel.wait_for(lambda: hh.verification_check(hh.healthz(port)[1], db)["result"] != "none", 60,
                             lambda: f"a verification cycle; stderr:\n{run.stderr[-2000:]}", interval=0.3)
            check = hh.verification_check(hh.healthz(port)[1], db)
            texts[f"{kind}:/healthz"] = hh.request(port, "/healthz").text
            texts[f"{kind}:/metrics"] = hh.request(port, "/metrics").text
            texts[f"{kind}:/livez+/readyz"] = hh.request(port, "/livez").text + hh.request(port, "/readyz").text
            texts[f"{kind}:litestream-metrics"] = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"http://{env['LSINIT_METRICS_ADDR']}/metrics", timeout=5).read().decode()
            cmdlines.update(_cmdlines([run.proc.pid, *procs.descendants(run.proc.pid)]))
            app_env = _environ(app_pid)
            started = {k.encode(): v.encode() for k, v in env.items()}
            environ_checks[kind] = {
                "aws_vars_seen_by_app": sorted(k.decode() for k in app_env if k.startswith(b"AWS_")),
                "same_as_lsinit_started_with": app_env == started,
            }
            # the subcommands that read the replica or talk to the running lsinit (all of them on S3;
            # on SFTP the ones that read the replica, and all of them in the long version)
            if rel.LITESTREAM_V05:
                sub("ltx", "ltx", "-level", "all", "app.db")
                sub("status", "status", "app.db")
                sub("sync", "sync", "app.db")  # through the running Litestream's control socket
            else:
                sub("generations", "generations", "app.db")
                sub("snapshots", "snapshots", "app.db")
                sub("wal", "wal", "app.db")
            sub("restore", "restore", "-o", str(d / "restored.db"), "app.db")
            if kind == "s3" or rel.SOAK:
                sub("verify", "verify", "--json")
                sub("verify-text", "verify")
            texts[f"{kind}:health-probe"] = hh.request(port, "/healthz").text
            sub("health", "health", LSINIT_HEALTH_ADDR=f"127.0.0.1:{port}")  # /readyz
            sub("health-healthz", "health", "/healthz", LSINIT_HEALTH_ADDR=f"127.0.0.1:{port}",
                expect=0 if check["result"] in ("pass", "none") else 1)
            cmdlines.update(_cmdlines([run.proc.pid, *procs.descendants(run.proc.pid)]))
            run.signal(signal.SIGTERM)
            assert run.wait(60) == 0, run.stderr
        texts[f"{kind}:run"] = run.stdout + run.stderr
        texts[f"{kind}:verification"] = str(check)

    leaks = {name: [n for n in NEEDLES if n in text] for name, text in texts.items()}
    leaks = {k: v for k, v in leaks.items() if v}
    cmd_leaks = {pid: [n for n in NEEDLES if n.encode() in c] for pid, c in cmdlines.items()}
    cmd_leaks = {k: v for k, v in cmd_leaks.items() if v}
    roots = [tmp_path / "s3", tmp_path / "sftp", private_tmp, sftp_server.root, fauxqs.storage_dir,
             *[pathlib.Path("/tmp") / n for n in set(os.listdir("/tmp")) - tmp_before],
             *[pathlib.Path("/dev/shm") / n for n in set(os.listdir("/dev/shm")) - shm_before]]
    file_hits, scanned = _scan_files(roots, since)
    figures(outputs_searched=len(texts), bytes_searched=sum(len(t) for t in texts.values()),
            processes_searched=len(cmdlines), files_searched=scanned, hits_in_output=leaks,
            hits_in_cmdlines=cmd_leaks, hits_in_files=file_hits, app_environment=environ_checks,
            redacted_config_shown="<redacted>" in texts["s3:config"] and "<redacted>" in texts["sftp:config"])
    assert leaks == {}, f"a secret appeared in output: {leaks}"
    assert cmd_leaks == {}, f"a secret appeared in a command line: {cmd_leaks}"
    assert file_hits == [], f"a secret was written to a file: {file_hits}"
    for kind, c in environ_checks.items():
        assert c["aws_vars_seen_by_app"] == [], f"{kind}: the app saw {c['aws_vars_seen_by_app']}"
        assert c["same_as_lsinit_started_with"], f"{kind}: the app's environment differs from lsinit's"
