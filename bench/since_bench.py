"""Benchmark of row_diff with --since (dmsval/checks/window.py) against the full row_diff, on a 2M-row table.

It builds ``dmsval_sincebench.costly_<N>`` in MariaDB: a BIGINT key and the costly column types of
bench/row_diff_bench.py plus ``last_update DATETIME`` with an index, every watermark before the cut time.
It copies it DMS-style to the Redshift stand-in (PostgreSQL behind the Redshift shim, read with
redshift_connector; the target has no index on ``last_update``, as Redshift has none: its filter is a scan),
then writes 0.1% of the rows after the cut:

* ``applied``: source updates that DMS applied (the same update on the target): in the window, no difference;
* planted differences: source updates not applied (changed), target drifts with a new watermark (changed),
  source inserts not applied (missing; half of them back-dated, outside the window: the key-set check finds
  them), source deletes not applied (extra).

Then, in this process and alternately (``--runs``), the full row_diff and row_diff with ``--since <cut>``. It
prints the rows read in full by the windowed run (figure ``window_rows``) against the table size (must be at
most 5%), both wall times (median) and whether each run found exactly the planted differences. Builds are
cached in ``.local/`` by BUILD_VERSION (the planted state included). Exit status 1 when a condition fails.

    .venv/bin/python bench/since_bench.py                 # 2,000,000 rows, 1 run each
    .venv/bin/python bench/since_bench.py --rows 200000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmsval.checks.base import Outcome  # noqa: E402
from dmsval.checks.row_diff import diff_tables  # noqa: E402
from dmsval.config import Settings  # noqa: E402
from dmsval.credentials import Credentials  # noqa: E402
from dmsval.engines import open_engine  # noqa: E402
from dmsval.mappings import TablePair  # noqa: E402
from devstack import services  # noqa: E402
from devstack.datasets import MySQLParams  # noqa: E402
from devstack.dms_copy import copy_schema  # noqa: E402
from devstack.redshift_shim import RedshiftShim  # noqa: E402
from devstack.standin import prepare_redshift_standin  # noqa: E402

DATABASE = "dmsval_sincebench"  # MariaDB database and stand-in database
BUILD_VERSION = "1"  # bump when the table or its planted changes change
BATCH_ROWS = 1_000_000
CUT = "2026-06-01 00:00:00"  # every copied watermark is before it
SINCE = "2026-06-01T00:00:00+00:00"
CHANGED_SHARE = 0.001  # rows written after the cut
PLANTED = {"not_applied": 20, "target_drift": 10, "insert": 10, "delete": 10}
MAX_WINDOW_SHARE = 0.05

CREATE = """
CREATE TABLE {table} (
  id BIGINT NOT NULL PRIMARY KEY,
  qty INT NOT NULL,
  name VARCHAR(60) NOT NULL,
  price DECIMAL(12,2),
  ratio DOUBLE,
  label VARCHAR(60),
  created DATETIME,
  active TINYINT(1),
  last_update DATETIME NOT NULL,
  KEY (last_update)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
FILL = """seq, CAST((seq * 7) % 100000 AS SIGNED) - 50000, CONCAT('customer-', seq),
       IF(seq % 50 = 0, NULL, CAST(seq % 1000000 AS SIGNED) / 100 - 2500), IF(seq % 40 = 0, NULL, seq / 7e0),
       IF(seq % 3 = 0, CONCAT('café ', seq, ' 🙂🚀'), CONCAT('plain ', seq)),
       '2020-01-01 00:00:00' + INTERVAL seq SECOND, seq % 2, '2021-01-01 00:00:00' + INTERVAL seq SECOND"""


def table_name(n: int) -> str:
    return f"costly_{n}"


def _marker(n: int) -> Path:
    return REPO / ".local" / f"bench-since-{n}.json"


def _mysql(*statements: str) -> None:
    import pymysql

    with pymysql.connect(host="127.0.0.1", user="root", autocommit=True, charset="utf8mb4") as conn, \
            conn.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        for statement in statements:
            cur.execute(statement)


def _target(dsn: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _built(n: int, dsn: str) -> dict[str, Any] | None:
    import psycopg
    import pymysql

    path = _marker(n)
    if not path.exists():
        return None
    truth = json.loads(path.read_text())
    if truth.get("version") != BUILD_VERSION:
        return None
    with pymysql.connect(host="127.0.0.1", user="root") as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                    (DATABASE, table_name(n)))
        if cur.fetchone() is None:
            return None
    with psycopg.connect(dsn) as conn:
        if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"app.{table_name(n)}",)).fetchone()[0]:
            return None
    return truth


def build(n: int, force: bool) -> dict[str, Any]:
    """The source table, its DMS-style copy and the changes after the cut; returns the planted truth."""
    dsn = prepare_redshift_standin(DATABASE)
    truth = None if force else _built(n, dsn)
    if truth is not None:
        return truth
    table = f"{DATABASE}.{table_name(n)}"
    started = time.perf_counter()
    _mysql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}", f"DROP TABLE IF EXISTS {table}", CREATE.format(table=table))
    for low in range(1, n + 1, BATCH_ROWS):
        high = min(n, low + BATCH_ROWS - 1)
        _mysql(f"INSERT INTO {table} SELECT {FILL} FROM {DATABASE}.seq_{low}_to_{high}")
    _mysql(f"ANALYZE TABLE {table}")
    built = time.perf_counter()
    copy_schema(MySQLParams(), dsn, DATABASE, "app", tables=[table_name(n)], target="redshift")
    copied = time.perf_counter()

    rng = random.Random(f"since-{n}")
    touched = max(sum(PLANTED.values()), int(n * CHANGED_SHARE))
    ids = rng.sample(range(1, n + 1), touched)
    not_applied = sorted(ids[:PLANTED["not_applied"]])
    drift = sorted(ids[len(not_applied):len(not_applied) + PLANTED["target_drift"]])
    deleted = sorted(ids[len(not_applied) + len(drift):len(not_applied) + len(drift) + PLANTED["delete"]])
    applied = sorted(ids[len(not_applied) + len(drift) + len(deleted):])
    inserted = [n + 1 + i for i in range(PLANTED["insert"])]
    target = f"app.{table_name(n)}"

    def in_list(keys: list[int]) -> str:
        return ", ".join(str(k) for k in keys)

    new_wm = f"'{CUT}' + INTERVAL id SECOND"
    _mysql(f"UPDATE {table} SET qty = qty + 1, last_update = {new_wm} WHERE id IN ({in_list(applied + not_applied)})",
           f"DELETE FROM {table} WHERE id IN ({in_list(deleted)})",
           *(f"INSERT INTO {table} VALUES ({k}, 1, 'inserted', 1.00, 0.5, 'x', '2021-01-01', 1, "
             f"{repr(CUT) if i % 2 == 0 else repr('2021-01-01 00:00:00')})" for i, k in enumerate(inserted)))
    pg_wm = f"TIMESTAMP '{CUT}' + id * INTERVAL '1 second'"
    _target(dsn, f"UPDATE {target} SET qty = qty + 1, last_update = {pg_wm} WHERE id IN ({in_list(applied)})",
            f"UPDATE {target} SET name = name || 'x', last_update = {pg_wm} WHERE id IN ({in_list(drift)})",
            f"VACUUM (ANALYZE) {target}")
    truth = {"version": BUILD_VERSION, "n": n, "missing": inserted, "extra": deleted,
             "changed": sorted(not_applied + drift), "applied": len(applied),
             "written_after_cut": len(applied) + len(not_applied) + len(drift) + PLANTED["insert"] // 2,
             "build_s": round(built - started, 1), "copy_s": round(copied - built, 1)}
    _marker(n).parent.mkdir(exist_ok=True)
    _marker(n).write_text(json.dumps(truth))
    return truth


def found(outcome: Outcome) -> dict[str, list[int]]:
    details = outcome.details
    return {"missing": sorted(int(k[0]) for k in details["missing_keys"]),
            "extra": sorted(int(k[0]) for k in details["extra_keys"]),
            "changed": sorted(int(c["key"][0]) for c in details["changed"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    services.ensure_mariadb()
    services.ensure_postgres()
    n = args.rows
    truth = build(n, args.rebuild)
    expected = {k: truth[k] for k in ("missing", "extra", "changed")}
    pair = TablePair(DATABASE, table_name(n), "app", table_name(n))
    # one case for the table (no key-range split) and every key listed, so the finding can be checked in full
    base = Settings(diff_sample=1000, split_rows=10**12)
    times: dict[str, list[float]] = {"full": [], "since": []}
    outcomes: dict[str, Outcome] = {}
    with RedshiftShim(upstream_port=5432) as shim:
        source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", DATABASE, ""), role="source",
                             query_timeout_s=7200)
        target = open_engine("redshift", Credentials("127.0.0.1", shim.port, "postgres", DATABASE, "x"),
                             role="target", query_timeout_s=7200)
        try:
            for _ in range(args.runs):
                for kind, settings in (("full", base), ("since", Settings(diff_sample=1000, split_rows=10**12,
                                                                          since=SINCE))):
                    started = time.perf_counter()
                    outcomes[kind] = diff_tables(source, target, pair, settings)
                    times[kind].append(time.perf_counter() - started)
        finally:
            source.close()
            target.close()
    windowed, full = outcomes["since"], outcomes["full"]
    window_rows = int(windowed.figures["window_rows"])
    share = window_rows / n
    since_ok = found(windowed) == expected
    full_ok = found(full) == expected
    full_s, since_s = statistics.median(times["full"]), statistics.median(times["since"])
    print(f"table: {n:,} rows (build {truth['build_s']} s, copy {truth['copy_s']} s when built); written after the "
          f"cut: {truth['written_after_cut']:,} ({truth['applied']:,} applied by DMS); planted: "
          f"{len(expected['missing'])} missing, {len(expected['extra'])} extra, {len(expected['changed'])} changed")
    print(f"rows read in full with --since: {window_rows:,} of {n:,} ({share:.3%}; limit {MAX_WINDOW_SHARE:.0%})")
    print(f"full row_diff: {full_s:.1f} s; --since row_diff: {since_s:.1f} s ({since_s / full_s:.2f}x of full; "
          f"median of {args.runs})")
    print(f"--since found every planted difference and nothing else: {since_ok} "
          f"({windowed.figures['missing']} missing, {windowed.figures['extra']} extra, "
          f"{windowed.figures['changed']} changed)")
    print(f"full found every planted difference and nothing else: {full_ok}")
    print(f"--since message: {windowed.message[:300]}")
    return 0 if since_ok and full_ok and share <= MAX_WINDOW_SHARE else 1


if __name__ == "__main__":
    sys.exit(main())
