"""The report's plots: gnuplot bar charts (bars: medians; whiskers: min–max)
written as SVG into docs/benchmarks/ (--quick: build/bench/plots/), with their
gnuplot scripts in build/bench/. gnuplot-nox is installed with apt-get when
missing; without it the report has no plots.
"""
import os
import shutil
import statistics
import subprocess

from . import settings as S
from . import stopbudget
from .runner import log, st

LSINIT_COLOR, OTHER_COLOR, REF_COLOR = 1, 2, 3


def gp_quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def gp_panel(n, title, ylabel, rows, logy=False, hline=None, fmt="%.0f"):
    """One bar panel. rows: [(label, value, lo, hi, color)] or None for a gap."""
    out = [f"$d{n} << EOD"]
    for r in rows:
        if r is None:
            out.append(f'"" NaN NaN NaN {OTHER_COLOR}')
            continue
        label, v, lo, hi, color = r
        lo = v if lo is None else lo
        hi = v if hi is None else hi
        out.append(f"{gp_quote(label)} {v:.6g} {lo:.6g} {hi:.6g} {color}")
    out.append("EOD")
    out.append(f"set title {gp_quote(title)}")
    out.append(f"set ylabel {gp_quote(ylabel)}")
    if logy:
        out += ["set logscale y", "set yrange [*:*]"]
    else:
        out += ["unset logscale y", "set yrange [0:*]"]
    if hline is not None:
        out.append(f"set arrow 1 from graph 0, first {hline} to graph 1, first {hline} nohead dt 2 lc rgb '#1b9e77' lw 1.5")
    else:
        out.append("unset arrow 1")
    out.append(f"plot $d{n} using 0:2:5:xtic(1) with boxes lc variable, "
               f"$d{n} using 0:2:3:4 with yerrorbars lc rgb '#333333' pt 7 ps 0, "
               f"$d{n} using 0:4:(sprintf('{fmt}', $2)) with labels offset 0,0.8 font ',9'")
    return out


def gnuplot(name, title, layout, panels, width=1100, height=650):
    """Writes PLOT_DIR/name.svg; returns its path or None."""
    if shutil.which("gnuplot") is None:
        return None
    os.makedirs(S.PLOT_DIR, exist_ok=True)
    path = os.path.join(S.PLOT_DIR, name + ".svg")
    lines = [f"set terminal svg size {width},{height} dynamic noenhanced font 'Helvetica,11' background '#ffffff'",
             f"set output {gp_quote(path)}",
             "set style fill solid 0.85 border -1", "set boxwidth 0.65", "unset key",
             "set xtics rotate by -25 nomirror font ',9'", "set ytics nomirror", "set grid ytics lc rgb '#dddddd'",
             "set linetype 1 lc rgb '#d95f02'", "set linetype 2 lc rgb '#7570b3'", "set linetype 3 lc rgb '#aaaaaa'",
             "set bmargin 7", "set offsets 0, 0, graph 0.08, 0",
             f"set multiplot layout {layout} title {gp_quote(title)} font ',13'"]
    for i, p in enumerate(panels):
        lines += gp_panel(i, *p[:3], **p[3] if len(p) > 3 else {})
    lines.append("unset multiplot")
    gp = os.path.join(S.ROOT, "build", "bench", name + ".gp")
    os.makedirs(os.path.dirname(gp), exist_ok=True)
    with open(gp, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not os.path.exists(path):
        log(f"gnuplot failed for {name}: {r.stderr[-1000:]}")
        return None
    return path


def ensure_gnuplot():
    if shutil.which("gnuplot"):
        return True
    log("gnuplot is missing: apt-get install -y gnuplot-nox")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends", "gnuplot-nox"]
    r = subprocess.run(install, capture_output=True, text=True, env=env)
    if r.returncode != 0:  # stale package lists: update once, then retry
        subprocess.run(sudo + ["apt-get", "update", "-q"], capture_output=True, env=env)
        r = subprocess.run(install, capture_output=True, text=True, env=env)
    if r.returncode != 0 or shutil.which("gnuplot") is None:
        log(f"cannot install gnuplot-nox: {r.stderr[-500:]}; the report will have no plots")
        return False
    return True


def col(name):
    return LSINIT_COLOR if name.startswith("lsinit") else OTHER_COLOR


def make_plots(R):
    """Every plot of the report from the run's results R; {name: svg path}."""
    size, rss, true, orphans, ls, restore, stop, X = (R["size"], R["rss"], R["true"], R["orphans"], R["ls"],
                                                      R["restore"], R["stop"], R)
    plots = {}
    if not ensure_gnuplot():
        return plots
    tr = true[0]
    p1 = [("A1 binary size, stripped", "KiB",
           [(r["name"], r["stripped"] / 1024, None, None, col(r["name"])) for r in size], {"fmt": "%.0f"}),
          ("A2 idle RSS (median, min–max)", "KiB",
           [(n, rss[n]["median"], rss[n]["min"], rss[n]["max"], col(n)) for n in rss], {"fmt": "%.0f"}),
          ("A3 INIT -- /bin/true (median, min–max)", "ms",
           [(n, tr[n]["median"], tr[n]["min"], tr[n]["max"], REF_COLOR if n.startswith("/bin/true") else col(n))
            for n, _ in true[1]], {"fmt": "%.2f", "logy": True})]
    if orphans:
        o = orphans[0]
        p1.append((f"A4 reap {S.N_ORPHANS:,} orphans: PID 1 CPU", "ms",
                   [(n, o[n]["cpu"]["median"], o[n]["cpu"]["min"], o[n]["cpu"]["max"], col(n))
                    for n, _ in orphans[1] if o[n]["cpu"]], {"fmt": "%.0f"}))
    plots["plain"] = gnuplot("plain-init", "Plain init mode: lsinit (static) vs tini-static, catatonit, dumb-init",
                             "2,2", p1, height=800)
    r5, rs, sp = ls[0], restore[0], stop[0]

    def bars(data, keys, sub=None):
        rows = []
        for v in S.LS_VERSIONS:
            if rows:
                rows.append(None)
            for key, label, color in keys:
                x = data[v][key][sub] if sub else data[v][key]
                rows.append((f"{v}: {label}", x["median"], x["min"], x["max"], color))
        return rows
    p2 = [("B5 start -> exit, app /bin/true", "ms",
           bars(r5, [("bare", "bare -exec", OTHER_COLOR), ("lsinit default", "lsinit", LSINIT_COLOR),
                     ("lsinit nolease", "lsinit, no lease", LSINIT_COLOR), ("shell", "shell entrypoint", OTHER_COLOR)]),
           {"fmt": "%.1f"}),
          (f"B6 restore {S.N_DBS} x {S.DB_MB} MB on boot", "ms",
           bars(rs, [("lsinit", "lsinit", LSINIT_COLOR), ("lsinit pinned", "lsinit (pinned)", LSINIT_COLOR),
                     ("loop", "shell loop", OTHER_COLOR), ("loop+replicate", "loop + replicate", OTHER_COLOR)]),
           {"fmt": "%.0f"}),
          ("B7 SIGTERM -> exit (final sync)", "ms",
           bars(sp, [("lsinit", "lsinit", LSINIT_COLOR), ("bare", "bare -exec", OTHER_COLOR)], sub="stats"),
           {"fmt": "%.1f"})]
    plots["litestream"] = gnuplot("litestream-mode", "Litestream mode: lsinit vs Litestream without lsinit "
                                  f"(real Litestream {' and '.join(S.LS_VERSIONS)}, file replicas)", "1,3", p2,
                                  width=1400, height=560)
    if X.get("stopbudget"):
        plots["stopbudget"] = plot_stop_budget(X["stopbudget"])
    vv = X.get("verify")
    if vv:
        rows, c9 = [], []
        for ver, v in vv.items():
            for mb, r in v["sizes"].items():
                vw = st([x["wall"] for x in r["verify"]])
                nc = st([x["wall"] - x["catchup_ms"] for x in r["verify"]])
                pl = st([x["total"] for x in r["plain"]])
                if rows:
                    rows.append(None)
                rows += [(f"{ver} {mb} MB: lsinit verify", vw["median"], vw["min"], vw["max"], LSINIT_COLOR),
                         (f"{ver} {mb} MB: verify - catch-up", nc["median"], nc["min"], nc["max"], LSINIT_COLOR),
                         (f"{ver} {mb} MB: restore + sqlite3", pl["median"], pl["min"], pl["max"], OTHER_COLOR)]
            cu = st([x["catchup_ms"] for r in v["sizes"].values() for x in r["verify"]])
            mo = st([x["catchup_ms"] for x in v["monitor"]["runs"]])
            c9 += [(f"{ver}: sync-interval 200ms", cu["median"], cu["min"], cu["max"], LSINIT_COLOR),
                   (f"{ver}: + monitor-interval 200ms", mo["median"], mo["min"], mo["max"], LSINIT_COLOR), None]
        c9.append(("plug-ins: sleep 10 s", S.PLUGIN_SLEEP_MS, None, None, OTHER_COLOR))
        p3 = [("C8 verification of a backup (file replica)", "ms (log scale)", rows, {"fmt": "%.0f", "logy": True}),
              ("C9 marker write -> caught up", "ms (log scale)", c9, {"fmt": "%.0f", "logy": True})]
        plots["verify"] = gnuplot("verification", "Backup verification: lsinit verify vs litestream restore + "
                                  f"sqlite3 integrity_check (Litestream {' and '.join(vv)})", "1,2", p3,
                                  width=1400, height=600)
    h = X.get("health")
    if h:
        conds = [("alone", "alone"), ("verify", "verification"), ("orphans", "orphan bursts")]
        rows_rps, rows_p99 = [], []
        for path in ["/livez", "/metrics"]:
            if rows_rps:
                rows_rps.append(None)
                rows_p99.append(None)
            for key, label in conds:
                c = h[key][path]["closed"]
                rows_rps.append((f"{path} {label}", c["rps"], None, None, LSINIT_COLOR))
                p99 = [p["p99"] for p in h[key][path]["paced"]]
                rows_p99.append((f"{path} {label}", statistics.median(p99), min(p99), max(p99), LSINIT_COLOR))
        fl = h["floor"]["/"]
        rows_rps += [None, ("floor server", fl["closed"]["rps"], None, None, REF_COLOR)]
        fp = [p["p99"] for p in fl["paced"]]
        rows_p99 += [None, ("floor server", statistics.median(fp), min(fp), max(fp), REF_COLOR)]
        p4 = [("C10 closed loop: wrk -t2 -c20, Connection: close", "requests/s", rows_rps, {"fmt": "%.0f"}),
              (f"C10 p99 latency at ~1,000 req/s (median, min–max of {S.PACED_RUNS})", "ms", rows_p99,
               {"fmt": "%.2f", "hline": 1.0})]
        plots["health"] = gnuplot("health-endpoint", "Health endpoint under load (lsinit PID 1 in a PID namespace, "
                                  f"{h['mb']} MB database)", "1,2", p4, height=560)
    cs = X.get("cstart")
    img = X.get("image")
    if cs and "skipped" not in cs:
        rows = []
        for v in S.LS_VERSIONS:
            s = cs[v]["stats"]
            if rows:
                rows.append(None)
            for key, label, color in [("present/app", "DB present: app alone", REF_COLOR),
                                      ("present/lsinit", "DB present: lsinit", LSINIT_COLOR),
                                      ("present/shell", "DB present: shell", OTHER_COLOR),
                                      ("restore/lsinit", "S3 restore: lsinit", LSINIT_COLOR),
                                      ("restore/shell", "S3 restore: shell", OTHER_COLOR)]:
                rows.append((f"{v}: {label}", s[key]["median"], s[key]["min"], s[key]["max"], color))
        panels = [("D13 podman start -> first GET /items served", "ms", rows, {"fmt": "%.0f"})]
        if img:
            rows = []
            for v in S.LS_VERSIONS:
                fz = img[v]["files"]
                if rows:
                    rows.append(None)
                rows += [(f"{v}: image", img[v]["image"]["size"] / 1e6, None, None, LSINIT_COLOR),
                         (f"{v}: litestream", fz["litestream"]["bytes"] / 1e6, None, None, OTHER_COLOR),
                         (f"{v}: lsinit", fz["lsinit"]["bytes"] / 1e6, None, None, LSINIT_COLOR)]
            panels.append(("D12 image contents", "MB", rows, {"fmt": "%.1f"}))
        plots["containers"] = gnuplot("containers", "Containers (podman + runc): python example app, one image "
                                      "per Litestream version", f"1,{len(panels)}", panels, width=1400, height=600)
    return {k: v for k, v in plots.items() if v}


def plot_stop_budget(res):
    """B8: SIGTERM -> exit by sync interval, one panel per Litestream version."""
    panels = []
    for v in S.LS_VERSIONS:
        rows = []
        for iv in stopbudget.INTERVALS:
            if rows:
                rows.append(None)
            for sup in stopbudget.SUPERVISORS:
                s = stopbudget.cell(res, iv, v, sup)["stats"]
                rows.append((f"{iv}: {'lsinit' if sup == 'lsinit' else 'bare -exec'}", s["median"], s["min"], s["max"],
                             LSINIT_COLOR if sup == "lsinit" else OTHER_COLOR))
        panels.append((f"Litestream {v}: SIGTERM -> exit by sync interval", "ms", rows, {"fmt": "%.0f"}))
    return gnuplot("stop-budget", "B8 stop budget: lsinit (LSINIT_GRACE=4s) vs bare litestream replicate -exec, "
                   "app writing every 50 ms", f"1,{len(panels)}", panels, height=520)
