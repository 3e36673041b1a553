#!/bin/sh
# A cron-like worker in POSIX sh with the sqlite3 CLI, writing two databases that
# lsinit replicates (LSINIT_DB=/data/samples.db,/data/runs.db):
#
#   samples.db  samples(id, run_id, at, load1, mem_available_kb): one row every TICK seconds
#   runs.db     runs(id, started, stopped, ticks, reason): one row per start of the worker,
#               updated on every tick and closed by the SIGTERM handler
#
# On SIGTERM/SIGINT the worker finishes the tick in progress, writes its last rows
# (a final sample and runs.stopped) *in the signal handler's path* and exits 143, the
# shell's "terminated by SIGTERM" code. Bare `litestream replicate -exec` skips its
# final sync after a non-zero exit and would lose exactly those rows; under lsinit they
# reach the replica and 143 becomes the container's exit code.
#
# Environment: SAMPLES_DB (default /data/samples.db), RUNS_DB (/data/runs.db),
# TICK (seconds between runs, default 60; fractions work), TERM_EXIT (143).
set -eu

SAMPLES_DB=${SAMPLES_DB:-/data/samples.db}
RUNS_DB=${RUNS_DB:-/data/runs.db}
TICK=${TICK:-60}
TERM_EXIT=${TERM_EXIT:-143}

log() { echo "worker: $*" >&2; }

# One sqlite3 call per statement batch: WAL (set once, persistent), a busy timeout
# for Litestream's checkpoints, and -bail so an error fails the call.
sql() {
    db=$1
    shift
    sqlite3 -bail -batch -cmd '.timeout 5000' "$db" "$@"
}

sql "$SAMPLES_DB" 'PRAGMA journal_mode=WAL;' >/dev/null
sql "$RUNS_DB" 'PRAGMA journal_mode=WAL;' >/dev/null
sql "$SAMPLES_DB" 'CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, at REAL NOT NULL,
    load1 REAL, mem_available_kb INTEGER, final INTEGER NOT NULL DEFAULT 0);'
sql "$RUNS_DB" 'CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, stopped REAL,
    ticks INTEGER NOT NULL DEFAULT 0, reason TEXT);'

now() { date +%s.%N; }

RUN_ID=$(sql "$RUNS_DB" "INSERT INTO runs (started) VALUES ($(now)) RETURNING id;")
PREVIOUS=$(sql "$RUNS_DB" "SELECT count(*) FROM runs WHERE id < $RUN_ID;")
log "run $RUN_ID started ($PREVIOUS earlier runs, $(sql "$SAMPLES_DB" 'SELECT count(*) FROM samples;') samples), tick ${TICK}s"

sample() { # final flag
    load1=$(cut -d' ' -f1 /proc/loadavg)
    mem=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    sql "$SAMPLES_DB" "INSERT INTO samples (run_id, at, load1, mem_available_kb, final)
        VALUES ($RUN_ID, $(now), $load1, ${mem:-NULL}, $1);"
    sql "$RUNS_DB" "UPDATE runs SET ticks = ticks + 1 WHERE id = $RUN_ID;"
}

STOP=""
trap 'STOP=TERM' TERM
trap 'STOP=INT' INT

while [ -z "$STOP" ]; do
    sample 0
    # sleep in the background and wait: a trapped signal interrupts `wait` at once.
    sleep "$TICK" &
    SLEEPER=$!
    wait "$SLEEPER" || true
    kill "$SLEEPER" 2>/dev/null || true
done

sample 1
sql "$RUNS_DB" "UPDATE runs SET stopped = $(now), reason = 'SIG$STOP' WHERE id = $RUN_ID;"
log "run $RUN_ID stopped by SIG$STOP after $(sql "$RUNS_DB" "SELECT ticks FROM runs WHERE id = $RUN_ID;") ticks; exit $TERM_EXIT"
exit "$TERM_EXIT"
