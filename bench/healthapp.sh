#!/bin/sh
# SPDX-License-Identifier: MIT
# App for bench/run benchmark C10 (the health endpoint during bursts of orphans).
#
#   healthapp.sh TRIGGER ORPHANS N LOG
#
# Idles. While the file TRIGGER exists it runs `ORPHANS N` back to back (each
# run leaves N orphaned zombies for PID 1, lsinit, to reap; see orphans.c) and
# appends its result line to LOG.
trap 'exit 0' TERM INT
while :; do
    if [ -e "$1" ]; then
        "$2" "$3" >> "$4"
    else
        sleep 0.05
    fi
done
