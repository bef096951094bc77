#!/usr/bin/env bash
# A hook that fails the way kubectl does: some progress, then an error line.
echo "starting"
echo "warming up" >&2
echo "error: rollouts.argoproj.io \"checkout\" not found" >&2
exit 2
