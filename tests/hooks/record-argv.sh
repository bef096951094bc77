#!/usr/bin/env bash
# Records its arguments (after the first, which names the output file) as
# NUL-separated strings, and RAMPDECK_REASON from the environment, so a test
# can compare exactly what arrived. Every expansion is quoted: this script
# itself never interprets the values either.
set -u
out="$1"
shift
printf '%s\0' "$@" > "$out"
printf '%s' "${RAMPDECK_REASON-}" > "$out.env-reason"
printf '%s' "${RAMPDECK_WEIGHT-}" > "$out.env-weight"
echo "recorded $# args"
