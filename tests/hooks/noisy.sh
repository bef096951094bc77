#!/usr/bin/env bash
# Writes 1 MiB to stdout and 1 MiB to stderr, far past the capture limit.
head -c 1048576 /dev/zero | tr '\0' o
head -c 1048576 /dev/zero | tr '\0' e >&2
echo "last line" >&2
