#!/usr/bin/env bash
# Always fails; appends one line per run to the file named by $1.
echo run >> "$1"
echo "still failing" >&2
exit 1
