"""Benchmark of the whole suite on a DMS task of many small tables: serial against two xdist workers.

It builds N small tables (default 1,000; 50-500 rows each; INT key, VARCHAR, DECIMAL, DOUBLE, DATETIME,
TINYINT(1)) in MariaDB (``dmsval_many``, or ``dmsval_many_<N>`` for another N), copies them DMS-style into the
PostgreSQL database that stands in for Redshift (same name, read through the Redshift shim with
redshift_connector), registers the migration in moto (server mode, a moto of this project's own) with table
mappings that include every table (``devstack.provision``, as the demo does), and then runs the real suite
(``pytest tests_validation``: every check, report upload to S3 and the SNS message included) from a
REPLICATION_TASK_STOPPED event, once with ``-n 0`` and once with ``-n 2``. The copy is clean, so every case must
pass; custom SQL is pointed at an empty folder (the repository's Sakila queries do not apply).

It prints the wall time of each run, the ratio, and the case counts per status. Run it outside the test suite:

    .venv/bin/python bench/many_tables_bench.py                  # 1,000 tables
    .venv/bin/python bench/many_tables_bench.py --tables 100     # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmsval.aws.clients import AwsContext  # noqa: E402
from dmsval.events import stopped_event  # noqa: E402
from dmsval.results import load_results  # noqa: E402
from devstack import services  # noqa: E402
from devstack.datasets import MySQLParams  # noqa: E402
from devstack.dms_copy import copy_schema  # noqa: E402
from devstack.provision import DbEndpoint, ensure_mysql_reader, include_schema, provision  # noqa: E402
from devstack.standin import prepare_redshift_standin  # noqa: E402
from devstack.stub_statistics import completed_tables  # noqa: E402

BUILD_VERSION = "1"  # bump when the tables change
REGION = "us-east-1"
#: a moto of the bench's own (the demo's is 5055): the bench resets its state
MOTO_PORT = 5077
SHIM_PORT = 5439
READER = "dmsval_many_reader"  # a SELECT-only account, as a DBA would give the validator
PASSWORD = "bench-Pa55word-never-shown"
WORKER_COUNTS = ("0", "2")

CREATE = """
CREATE TABLE {table} (
  id INT NOT NULL PRIMARY KEY,
  name VARCHAR(40) NOT NULL,
  amount DECIMAL(10,2),
  ratio DOUBLE,
  created DATETIME,
  active TINYINT(1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
FILL = """
INSERT INTO {table}
SELECT seq, CONCAT('row ', seq, IF(seq % 7 = 0, ' ✓', '')), IF(seq % 11 = 0, NULL, seq * 1.25), seq / 3e0,
       '2021-06-01 00:00:00' + INTERVAL seq MINUTE, seq % 2
FROM seq_1_to_{rows}
"""


def database_for(tables: int) -> str:
    return "dmsval_many" if tables == 1000 else f"dmsval_many_{tables}"


def _source_exists(database: str) -> bool:
    import pymysql

    with pymysql.connect(host="127.0.0.1", user="root") as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (database,))
        return cur.fetchone() is not None


def build(tables: int, force: bool) -> dict[str, int]:
    """Build (or reuse) the source tables and their DMS-style copy; returns rows per table."""
    import pymysql

    database = database_for(tables)
    marker = REPO / ".local" / f"bench-many-{tables}.json"
    dsn = prepare_redshift_standin(database)
    if marker.exists() and not force and _source_exists(database):
        cached = json.loads(marker.read_text())
        if cached.get("version") == BUILD_VERSION:
            return cached["rows"]
    rng = random.Random(tables)
    rows = {f"t{i:04d}": rng.randint(50, 500) for i in range(1, tables + 1)}
    started = time.perf_counter()
    with pymysql.connect(host="127.0.0.1", user="root", autocommit=True, charset="utf8mb4") as conn, \
            conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {database}")
        cur.execute(f"CREATE DATABASE {database}")
        cur.execute(f"USE {database}")
        for table, count in rows.items():
            cur.execute(CREATE.format(table=table))
            cur.execute(FILL.format(table=table, rows=count))
    built = time.perf_counter()
    copied = copy_schema(MySQLParams(), dsn, database, database, tables=list(rows))
    if copied != rows:
        raise SystemExit(f"the copy did not land every row: {sum(copied.values())} of {sum(rows.values())}")
    print(f"built {tables} tables ({sum(rows.values())} rows) in {built - started:.1f}s, DMS-style copy in "
          f"{time.perf_counter() - built:.1f}s", flush=True)
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(json.dumps({"version": BUILD_VERSION, "rows": rows}))
    return rows


def run_suite(workers: str, event_path: Path, endpoint_url: str, bucket: str, topic_arn: str, stats_path: Path,
              reports_dir: Path, sql_dir: Path) -> tuple[float, int, Counter[str]]:
    """One run of the real suite; returns wall seconds, exit status and case counts per status."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION,
               DMSVAL_STUB_TABLE_STATISTICS=str(stats_path))
    command = [sys.executable, "-m", "pytest", "tests_validation", "-q", "-p", "devstack.stub_statistics",
               "-n", workers, "--dms-event", str(event_path), "--aws-endpoint-url", endpoint_url,
               "--s3-uri", f"s3://{bucket}/validation", "--sns-topic-arn", topic_arn,
               "--reports-dir", str(reports_dir), "--sql-dir", str(sql_dir)]
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    print("  " + "\n  ".join(done.stdout.strip().splitlines()[-3:]), flush=True)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
    results = load_results(reports_dir / "results.json")
    return elapsed, done.returncode, Counter(c.status for c in results.cases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the tables even if cached")
    args = parser.parse_args()
    if not 1 <= args.tables <= 9999:
        parser.error("--tables must be 1..9999")

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    services.ensure_mariadb()
    services.ensure_postgres()
    services.ensure_redshift_shim(listen_port=SHIM_PORT, upstream_port=5432)
    moto = services.ensure_own_moto(MOTO_PORT)
    try:
        return _bench(args.tables, args.rebuild, moto.address)
    finally:
        if moto.action == "started":  # leave a moto that was already up (reused) to whoever started it
            services.stop_detached("moto-" + moto.address.rsplit(":", 1)[1])


def _bench(tables: int, rebuild: bool, moto_address: str) -> int:
    database = database_for(tables)
    rows = build(tables, rebuild)

    work = REPO / ".local" / f"many-{tables}"
    sql_dir = work / "no-custom-sql"
    sql_dir.mkdir(parents=True, exist_ok=True)
    stats_path = work / "table-statistics.json"
    stats_path.write_text(json.dumps(completed_tables(rows, database), indent=2))
    services.reset_moto(moto_address)
    aws = AwsContext(REGION, moto_address)
    ensure_mysql_reader("127.0.0.1", 3306, READER, PASSWORD)
    made = provision(aws, name=f"many-tables-{tables}",
                     source=DbEndpoint("127.0.0.1", 3306, READER, PASSWORD, database),
                     target=DbEndpoint("127.0.0.1", SHIM_PORT, "postgres", PASSWORD, database),
                     table_mappings={"rules": [include_schema(database)]})
    event_path = work / "event.json"
    event_path.write_text(json.dumps(stopped_event(made.task_arn), indent=2))

    results = {}
    for workers in WORKER_COUNTS:
        results[workers] = run_suite(workers, event_path, moto_address, made.bucket, made.topic_arn, stats_path,
                                     work / f"reports-n{workers}", sql_dir)

    statuses = sorted({s for _, _, counts in results.values() for s in counts})
    print()
    print(f"{tables} tables, {sum(rows.values())} rows; ratio = -n 0 wall time / -n 2 wall time")
    header = ["workers", "wall s", "exit", "cases", *statuses]
    print("  ".join(f"{h:>8}" for h in header))
    for workers, (elapsed, status, counts) in results.items():
        cells = [f"-n {workers}", f"{elapsed:.1f}", str(status), str(sum(counts.values())),
                 *(str(counts.get(s, 0)) for s in statuses)]
        print("  ".join(f"{c:>8}" for c in cells))
    serial, parallel = results["0"][0], results["2"][0]
    print(f"speed-up -n 2 over -n 0: {serial / parallel:.2f}x")
    all_passed = all(status == 0 and set(counts) == {"passed"} for _, status, counts in results.values())
    print("all cases passed" if all_passed else "NOT all cases passed")
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
