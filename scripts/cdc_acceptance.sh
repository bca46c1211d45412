#!/usr/bin/env bash
# Acceptance run of CDC-mode validation (outside the README test run, ~20 minutes): 10 consecutive runs of the
# suite under a live workload of 100 row changes/s, apply lag cycling 1, 2, 3 s, 5 silent drifts in the target.
# Passes when every run found exactly the drifts (row_diff and aggregates of the drifted tables) and no
# in-flight row failed a case. Extra arguments go to devstack.cdc_demo (e.g. --runs 3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m devstack.cdc_demo --runs 10 --drifts 5 --rate 100 "$@"
