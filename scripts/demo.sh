#!/usr/bin/env bash
# The demo: local stack up, Sakila migrated DMS-style with planted defects, validated from a DMS event.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m devstack.demo "$@"
