"""lsinit's benchmarks (bench/run is the entry point; `make bench` runs it).

    settings.py          paths, Litestream versions, runs per benchmark (full and --quick)
    runner.py            shared helpers: environment, statistics, hyperfine, /proc,
                         the peers (tini-static, catatonit, dumb-init), ports, waiting,
                         Litestream configs and replicas, test databases, Instance
    plain_init.py        A1-A4: size, idle RSS, INIT -- /bin/true, reaping orphans
    start_exit.py        B5: start -> exit with Litestream (hyperfine, strace timeline)
    restore.py           B6: restoring databases on boot
    stop.py              B7: SIGTERM -> exit with a write in the app's TERM handler
    stopbudget.py        B8: SIGTERM -> exit by sync interval (the stop budget)
    bare_soak.py         B9: bare `litestream replicate -exec` under the soak writer
    verify.py            C8, C9: backup verification, catch-up wait; the 0.3 WAL-index check
    health.py            C10, C11: the health endpoint under wrk, memory
    containers.py        D12, D13: image size, container start (podman, fauxqs)
    followers.py         E1-E3: read-only followers and the standby: lag, failover, reads
    plots.py             the gnuplot SVGs
    report.py            gathers the report's values; markdown.py renders
    report_template.md   the report's prose (blocks with ${placeholders})

Apps and helpers the parts run: termapp.py (B7), stopapp.py (B8),
healthapp.sh (C10), orphans.c (A4, C10), httpfloor.c (C10),
followapp.py (E1, E2).

Each part module has run(work, R), which measures and stores its results in
the dict R, and blocks(R, work), which returns the values of its template
blocks; most also have summary_rows(R) and slower(R).
"""
