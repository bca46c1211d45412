"""Benchmark of the custom_sql check on large results: wall time, peak RSS and the planted differences found.

For each N (default 200,000 and 2,000,000) it builds a MariaDB table ``items_<N>`` in database
``dmsval_sqlbench`` (MariaDB's SEQUENCE engine, in batches), copies it DMS-style (``devstack.dms_copy``) into
schema ``items_<N>`` of the PostgreSQL database ``dmsval_sqlbench`` (the Redshift stand-in) and plants 25
differences there: 8 missing rows, 8 extra rows, 9 changed values. Then, in a separate process per run (so
``ru_maxrss`` is the check's own peak), it runs the custom_sql check on the pair

    source.sql: SELECT id, qty, name, price, ratio, label, created FROM dmsval_sqlbench.items_<N>
    target.sql: SELECT id, qty, name, price, ratio, label, created FROM items_<N>.items_<N>

(the whole table on each side, the target read through the Redshift shim with redshift_connector, or with
psycopg for ``--route postgres``) and prints the wall time, the peak RSS and precision/recall of the rows
reported (a finding is the id of a row reported only in source or only in target; the truth is the 17 ids on
each side). Builds are cached in ``.local/`` by BUILD_VERSION. Run it outside the test suite:

    .venv/bin/python bench/custom_sql_bench.py                       # 200k and 2M, 1 run each
    .venv/bin/python bench/custom_sql_bench.py --sizes 200000 --runs 3 --route postgres
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmsval.checks.base import Case, CheckContext  # noqa: E402
from dmsval.checks.custom_sql import CustomSql  # noqa: E402
from dmsval.config import Settings  # noqa: E402
from dmsval.credentials import Credentials  # noqa: E402
from dmsval.engines import open_engine  # noqa: E402
from devstack.datasets import MySQLParams  # noqa: E402
from devstack.dms_copy import copy_schema  # noqa: E402
from devstack.redshift_shim import RedshiftShim  # noqa: E402
from devstack.standin import prepare_redshift_standin  # noqa: E402

DATABASE = "dmsval_sqlbench"  # the MariaDB source database and the PostgreSQL target database
BUILD_VERSION = "1"  # bump when the table or its planted defects change
BATCH_ROWS = 1_000_000
COLUMNS = ("id", "qty", "name", "price", "ratio", "label", "created")
CREATE = """
CREATE TABLE {table} (
  id BIGINT NOT NULL PRIMARY KEY,
  qty INT NOT NULL,
  name VARCHAR(60) NOT NULL,
  price DECIMAL(12,2),
  ratio DOUBLE,
  label VARCHAR(60),
  created DATETIME
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
FILL = """seq, CAST((seq * 7) % 100000 AS SIGNED) - 50000, CONCAT('customer-', seq),
       IF(seq % 50 = 0, NULL, (seq % 1000000) / 100 - 2500), IF(seq % 40 = 0, NULL, seq / 7e0),
       IF(seq % 3 = 0, CONCAT('café ', seq, ' 🙂🚀'), CONCAT('plain ', seq)),
       '2020-01-01 00:00:00' + INTERVAL seq SECOND"""
EXTRA_VALUES = "1, 'extra', 1.00, 0.5, 'extra 🙂', '2021-01-01'"
CHANGES = ("qty = qty + 1", "name = name || 'x'", "price = COALESCE(price, 0) + 0.01",
           "ratio = COALESCE(ratio, 1) * 1.001", "label = COALESCE(label, '') || '😀'",
           "created = created + INTERVAL '1 second'", "qty = qty - 1", "name = 'renamed'",
           "price = COALESCE(price, 0) + 1")


def table(n: int) -> str:
    return f"items_{n}"


def _marker(n: int) -> Path:
    return REPO / ".local" / f"bench-sqlbench-{n}.json"


def build(n: int, force: bool) -> dict[str, Any]:
    """Build (or reuse) both sides and plant the differences; returns the truth (ids per side)."""
    import psycopg
    import pymysql

    marker = _marker(n)
    dsn = prepare_redshift_standin(DATABASE)
    if marker.exists() and not force:
        truth = json.loads(marker.read_text())
        if truth.get("version") == BUILD_VERSION:
            return truth
    started = time.perf_counter()
    with pymysql.connect(host="127.0.0.1", user="root", autocommit=True, charset="utf8mb4") as conn, \
            conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        cur.execute(f"DROP TABLE IF EXISTS {DATABASE}.{table(n)}")
        cur.execute(CREATE.format(table=f"{DATABASE}.{table(n)}"))
        for low in range(1, n + 1, BATCH_ROWS):
            high = min(n, low + BATCH_ROWS - 1)
            cur.execute(f"INSERT INTO {DATABASE}.{table(n)} SELECT {FILL} FROM {DATABASE}.seq_{low}_to_{high}")
    copy_schema(MySQLParams(), dsn, DATABASE, table(n), tables=[table(n)])
    rng = random.Random(n)
    ids = rng.sample(range(1, n + 1), 8 + len(CHANGES))
    missing, changed = sorted(ids[:8]), sorted(ids[8:])
    extra = sorted(n + 10 * i + rng.randint(1, 9) for i in range(8))
    target = f"{table(n)}.{table(n)}"
    with psycopg.connect(dsn) as conn:
        conn.execute(f"DELETE FROM {target} WHERE id = ANY(%s)", (missing,))
        for new_id in extra:
            conn.execute(f"INSERT INTO {target} ({', '.join(COLUMNS)}) VALUES (%s, {EXTRA_VALUES})", (new_id,))
        for row_id, change in zip(changed, CHANGES):
            conn.execute(f"UPDATE {target} SET {change} WHERE id = %s", (row_id,))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {target}")
    truth = {"version": BUILD_VERSION, "n": n, "only_in_source": missing + changed, "only_in_target": extra + changed,
             "build_s": round(time.perf_counter() - started, 1)}
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(json.dumps(truth))
    return truth


def run_one(n: int, route: str) -> dict[str, Any]:
    """One check run in this process (called in a child process): figures, found ids, wall time, peak RSS."""
    shim = RedshiftShim(upstream_port=5432) if route == "redshift" else None
    if shim is not None:
        shim.start()
    source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", DATABASE, ""), role="source",
                         query_timeout_s=7200)
    target = open_engine(route, Credentials("127.0.0.1", shim.port if shim else 5432, "postgres", DATABASE, ""),
                         role="target", query_timeout_s=7200)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "items"
            folder.mkdir()
            columns = ", ".join(COLUMNS)
            (folder / "source.sql").write_text(f"SELECT {columns} FROM {DATABASE}.{table(n)}\n")
            (folder / "target.sql").write_text(f"SELECT {columns} FROM {table(n)}.{table(n)}\n")
            started = time.perf_counter()
            outcome = CustomSql().run(Case("custom_sql", "items", None, (("folder", str(folder)),)),
                                      CheckContext(Settings(), (), source, target))
            wall = time.perf_counter() - started
    finally:
        source.close()
        target.close()
        if shim is not None:
            shim.stop()
    details = outcome.details or {}
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak_kb / 1024, 1),
            "figures": outcome.figures, "message": outcome.message,
            "only_in_source": sorted(int(r[0]) for r in details.get("only_in_source", [])),
            "only_in_target": sorted(int(r[0]) for r in details.get("only_in_target", []))}


def precision_recall(result: dict[str, Any], truth: dict[str, Any]) -> tuple[float, float]:
    found = {(side, i) for side in ("only_in_source", "only_in_target") for i in result[side]}
    planted = {(side, i) for side in ("only_in_source", "only_in_target") for i in truth[side]}
    hits = len(found & planted)
    return (hits / len(found) if found else 1.0), hits / len(planted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200000,2000000")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--route", choices=("redshift", "postgres"), default="redshift")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--run-one", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.run_one:
        print(json.dumps(run_one(args.run_one, args.route)))
        return
    for n in (int(s) for s in args.sizes.split(",")):
        truth = build(n, args.rebuild)
        results = []
        for _ in range(args.runs):
            done = subprocess.run([sys.executable, __file__, "--run-one", str(n), "--route", args.route],
                                  capture_output=True, text=True, check=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        precision, recall = precision_recall(results[-1], truth)
        print(f"n={n:>9,} route={args.route} runs={args.runs} "
              f"wall={statistics.median(r['wall_s'] for r in results):.1f}s "
              f"peak_rss={max(r['peak_rss_mb'] for r in results):.0f}MB "
              f"precision={precision:.2f} recall={recall:.2f} | {results[-1]['message']}", flush=True)


if __name__ == "__main__":
    main()
