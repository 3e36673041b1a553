"""The report, docs/benchmarks.md: gathers the values of every block of
bench/report_template.md from the run's results R (each part's module gives
its own sections, summary rows and "slower" items; this module adds the
header, the summary, the machine, the part headings and plot links and the
method) and renders the template.
"""
import json
import os
import shutil

from . import bare_soak, containers, health, plain_init, restore, start_exit, stop, stopbudget, verify
from . import settings as S
from .markdown import plot_link, render, table
from .runner import PEERS, deb_version, sh

# Order of the items in "Where lsinit is slower or larger".
SLOWER = [plain_init, start_exit, restore, stop, stopbudget, verify, health, containers]


def machine_rows(R):
    m = R["machine"]

    def first(cmd):
        r = sh(cmd)
        return (r.stdout or r.stderr).strip().splitlines()[0] if r.returncode == 0 and (r.stdout or r.stderr) else "—"
    fq = "?"
    try:
        with open(os.path.join(S.ROOT, ".deps", "npm", "node_modules", "fauxqs", "package.json")) as fh:
            fq = json.load(fh).get("version", "?")
    except (OSError, ValueError):
        pass

    def deb(p):
        return deb_version(p, "not installed")
    load0, load1 = R["load0"], R.get("load1", R["load0"])
    return [
        ["CPUs (`nproc`)", m["nproc"]], ["CPU model (/proc/cpuinfo)", m["cpu"]], ["memory", m["mem"]],
        ["kernel", m["kernel"]], ["distribution", m["distro"]], ["date", m["date"]],
        ["lsinit", m["lsinit"]]] + [
        [f"litestream {v}", f"{m['litestream'][v]} (`.deps/litestream/{v}/litestream`, {S.LS_SOURCE.get(v, '?')})"]
        for v in S.LS_VERSIONS] + [
        ["tini-static / catatonit / dumb-init", f"Debian {m['tini']} / {m['catatonit']} / {m['dumb-init']}"],
        ["hyperfine", m["hyperfine"]], ["cc (for bench/orphans.c)", m["cc"]],
        ["wrk / sqlite3 CLI / gnuplot", f"Debian {deb('wrk')} / {deb('sqlite3')} / {deb('gnuplot-nox')}"],
        ["podman / runc", f"{first(['podman', '--version']) if shutil.which('podman') else '—'} / "
                          f"{first(['runc', '--version']) if shutil.which('runc') else '—'}"],
        ["fauxqs (S3 emulator, D13)", f"{fq} (npm, run by .deps/bin/node24)"],
        ["load average at start / end (1, 5, 15 min)",
         f"{' '.join(f'{x:.2f}' for x in load0)} / {' '.join(f'{x:.2f}' for x in load1)}"]]


def report(R, work, elapsed):
    """The whole page, from the results R of one run."""
    plots = R.get("plots", {})
    per_version = ["benchmark"] + [f"Litestream {v}" for v in S.LS_VERSIONS] + ["note"]
    V = {"header": {"date": R["machine"]["date"], "minutes": f"{elapsed / 60:.1f}"},
         "summary_a": {"table": table(["benchmark"] + [f"{p} ÷ lsinit" for p in PEERS], plain_init.summary_rows(R))},
         "summary_b": {"table": table(per_version, start_exit.summary_rows(R) + restore.summary_rows(R)
                                      + stop.summary_rows(R) + stopbudget.summary_rows(R))}}
    rows = verify.summary_rows(R)
    if rows:
        V["summary_c8"] = {"table": table(per_version, rows)}
    rows = health.summary_rows(R)
    if rows:
        V["summary_c10"] = {"version": R["health"]["version"], "table": table(["benchmark", "ratio", "note"], rows)}
    rows = containers.summary_rows(R)
    if rows:
        V["summary_d"] = {"table": table(per_version, rows)}
    elif R.get("containers_skipped"):
        V["summary_d_skipped"] = {"why": R["containers_skipped"]}
    V["machine"] = {"table": table(["", ""], machine_rows(R))}

    # Part A
    V["a_intro"] = {}
    V["plot_plain"] = plot_link(plots, "plain")
    V.update(plain_init.blocks(R, work))

    # Part B
    V["b_intro"] = {"versions": " and ".join(S.LS_VERSIONS)}
    V["plot_litestream"] = plot_link(plots, "litestream")
    for part in [start_exit, restore, stop, stopbudget, bare_soak]:
        V.update(part.blocks(R, work))
    if R.get("stopbudget"):
        V["plot_stopbudget"] = plot_link(plots, "stopbudget")

    # Part C
    vv, h = R.get("verify"), R.get("health")
    hb = health.blocks(R, work)
    if vv:
        V["c_intro"] = {"versions": " and ".join(vv), "health_version": h["version"] if h else S.LS_DEFAULT,
                        "sync_interval": S.SYNC_INTERVAL}
        V["plot_verify"] = plot_link(plots, "verify")
        V.update(verify.blocks(R, work))
        if h:
            V["plot_health"] = plot_link(plots, "health")
    else:
        hb.pop("c10", None)
    V.update(hb)

    # Part D
    V["d_head"] = {}
    if R.get("containers_skipped"):
        V["d_skipped"] = {"why": R["containers_skipped"]}
    else:
        V["plot_containers"] = plot_link(plots, "containers")
        V.update(containers.blocks(R, work))

    V["slower"] = {"items": "\n".join(item for part in SLOWER for item in part.slower(R))}
    V.update(verify.issue_blocks(R))
    V["method"] = {"versions": ", ".join(S.LS_VERSIONS), "default": S.LS_DEFAULT}
    return render(V)
