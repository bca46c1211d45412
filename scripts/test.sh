#!/usr/bin/env bash
# The project's own tests (unit + integration against real MariaDB, PostgreSQL, the Redshift shim and moto).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# start MariaDB and PostgreSQL when installed but down (a clear message when not installed)
.venv/bin/python -c "from devstack import services; print(services.ensure_mariadb()); print(services.ensure_postgres())"
exec .venv/bin/python -m pytest tests -n 2 -p no:cacheprovider "$@"
