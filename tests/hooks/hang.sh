#!/usr/bin/env bash
# A hook that hangs past any timeout and has a child of its own. It writes
# "<own pid> <child pid>" to $1 (atomically, via rename) so the test can
# check afterwards that both are gone.
sleep 300 &
echo "$$ $!" > "$1.tmp"
mv "$1.tmp" "$1"
wait
