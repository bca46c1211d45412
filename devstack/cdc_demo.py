"""The CDC demo: validate a migration while it replicates (``scripts/demo.sh --cdc``).

1. A private MariaDB with a ROW binlog (its own datadir and port), Sakila loaded into it; PostgreSQL behind the
   Redshift wire shim; moto.
2. A DMS-style full load into the Redshift stand-in, the binlog position taken before it; a ``full-load-and-cdc``
   task registered in moto.
3. The CDC stand-in replicates the binlog to the target with an apply lag (1-3 s, varied between runs) and
   publishes CDCLatencySource/Target to moto CloudWatch; a workload changes actor, payment, film and customer
   rows at ``--rate`` per second all along.
4. Silent drifts planted in the target (rows changed behind the replicator's back, in tables the workload does
   not touch).
5. The suite runs in CDC mode from an EventBridge scheduled event: the gate waits for the latency, row_diff
   rechecks the rows in flight. Printed: the SNS message as delivered.

Exit status 0 when every run found exactly the drifts (row_diff and aggregates of the drifted tables) and nothing
else failed; 1 otherwise. ``--runs 10 --drifts 5`` is the acceptance run (``scripts/cdc_acceptance.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import psycopg

from dmsval.aws.clients import AwsContext
from dmsval.results import load_results
from . import services
from .cdc import BinlogMariaDB, CdcReplicator, Workload, full_load
from .datasets import load_sakila
from .demo import DEMO_PASSWORD, DEMO_READER, MOTO_PORT, POSTGRES_PORT, REGION, REPO, SHIM_PORT, run_suite, \
    write_table_statistics
from .provision import DbEndpoint, delivered_messages, ensure_mysql_reader, include_schema, provision_cdc_task
from .standin import pg_dsn, prepare_redshift_standin

CDC_DB = "dmsval_cdc_demo"
TASK_NAME = "sakila-cdc"
WORKLOAD_TABLES = ("actor", "payment", "film", "customer")
# (table, SQL on the target): changed behind the replicator's back, each changing a row value and an aggregate
DRIFTS = [
    ("address", "UPDATE sakila.address SET phone = 'drifted-phone-000' WHERE address_id = 5"),
    ("category", "UPDATE sakila.category SET name = 'Drifted Category' WHERE category_id = 3"),
    ("city", "UPDATE sakila.city SET city = 'Drifted City Name' WHERE city_id = 10"),
    ("inventory", "UPDATE sakila.inventory SET store_id = 3 - store_id WHERE inventory_id = 100"),
    ("rental", "UPDATE sakila.rental SET staff_id = 3 - staff_id WHERE rental_id = 200"),
]
SUITE_OPTIONS = ["--cdc-wait-minutes", "3", "--cdc-poll-seconds", "2", "--cdc-metric-period", "5",
                 "--cdc-recheck-seconds", "90"]


def expected_failures(drifted: list[str]) -> set[str]:
    return {f"{check}[sakila.{table}]" for table in drifted for check in ("row_diff", "aggregates")}


def scheduled_event(task_arn: str) -> dict:
    """An EventBridge scheduled event naming the task (a scheduled run validates in CDC mode)."""
    return {"version": "0", "id": "cdc-demo", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION, "resources": [f"arn:aws:events:{REGION}:123456789012:rule/validate-hourly", task_arn],
            "detail": {}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--workers", default="2", help="pytest-xdist workers for each run (0 = serial)")
    parser.add_argument("--runs", type=int, default=1, help="consecutive validation runs under the workload")
    parser.add_argument("--drifts", type=int, default=2, choices=range(1, len(DRIFTS) + 1),
                        help="silent drifts planted in the target")
    parser.add_argument("--rate", type=float, default=100.0, help="workload row changes per second")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")

    print("== 1. local stack: a private binlog MariaDB, PostgreSQL behind the Redshift shim, moto", flush=True)
    services.ensure_postgres()
    moto = services.ensure_own_moto(MOTO_PORT)
    services.ensure_redshift_shim(listen_port=SHIM_PORT, upstream_port=POSTGRES_PORT)
    with BinlogMariaDB() as binlog_db:
        print(f"   binlog MariaDB on port {binlog_db.port}; {moto}", flush=True)
        return _demo(args, binlog_db, moto.address)


def _demo(args: argparse.Namespace, binlog_db: BinlogMariaDB, endpoint_url: str) -> int:
    source = binlog_db.params
    load_sakila(source)
    ensure_mysql_reader("127.0.0.1", binlog_db.port, DEMO_READER, DEMO_PASSWORD)

    print("== 2. full load into the Redshift stand-in, a full-load-and-cdc task in moto", flush=True)
    prepare_redshift_standin(CDC_DB)
    position, counts = full_load(source, pg_dsn(CDC_DB), "sakila", "sakila")
    print(f"   {len(counts)} tables, {sum(counts.values())} rows; CDC starts at GTID {position.gtid}", flush=True)
    stats_path = write_table_statistics(counts, REPO / ".local" / "cdc-demo-table-statistics.json")
    services.reset_moto(endpoint_url)
    aws = AwsContext(REGION, endpoint_url)
    made = provision_cdc_task(aws, name=TASK_NAME,
                              source=DbEndpoint("127.0.0.1", binlog_db.port, DEMO_READER, DEMO_PASSWORD, "sakila"),
                              target=DbEndpoint("127.0.0.1", SHIM_PORT, "postgres", DEMO_PASSWORD, CDC_DB),
                              table_mappings={"rules": [include_schema("sakila", 1)]})
    event_path = REPO / "reports" / "cdc-demo-event.json"
    event_path.parent.mkdir(exist_ok=True)
    event_path.write_text(json.dumps(scheduled_event(made.task_arn), indent=2))

    print(f"== 3. CDC replication and a workload of {args.rate:g} changes/s", flush=True)
    replicator = CdcReplicator(source, pg_dsn(CDC_DB), "sakila", "sakila", position, lag_s=2.0, aws=aws,
                               instance_id=made.instance_id, task_resource_id=made.task_arn.rsplit(":", 1)[-1],
                               publish_interval_s=2.0)
    workload = Workload(source, tables=WORKLOAD_TABLES, rate_per_s=args.rate, seed=7)
    replicator.start()
    workload.start()
    failures = 0
    try:
        drifted = [table for table, _ in DRIFTS[:args.drifts]]
        print("== 4. silent drifts in the target", flush=True)
        with psycopg.connect(pg_dsn(CDC_DB), autocommit=True) as conn:
            for _, statement in DRIFTS[:args.drifts]:
                conn.execute(statement)
                print(f"   {statement}", flush=True)
        for run in range(1, args.runs + 1):
            lag = (1.0, 2.0, 3.0)[(run - 1) % 3]
            replicator.set_lag(lag)
            print(f"== 5. CDC validation run {run}/{args.runs} (apply lag {lag:g} s, "
                  f"{workload.changes} changes so far)", flush=True)
            extra = SUITE_OPTIONS + (["-n", args.workers] if args.workers not in ("0", "") else [])
            started = time.monotonic()
            status = run_suite(event_path, endpoint_url, made.bucket, made.topic_arn, extra, stats_path)
            replicator.check()
            workload.check()
            results = load_results(REPO / "reports" / "results.json")
            failing = {c.case_id for c in results.cases if c.status in ("failed", "error")}
            in_flight = sum(int(c.figures.get("in_flight", 0)) for c in results.cases)
            print(f"== 6. the SNS message as delivered (run {run})", flush=True)
            for message in delivered_messages(aws, made.queue_url):
                print(f"Subject: {message['Subject']}\n{message['Message']}")
            print(f"run {run}: exit {status} in {time.monotonic() - started:.0f} s; gate: "
                  f"{results.run['gate']['reason']}; {in_flight} rows in flight rechecked; failing: "
                  f"{', '.join(sorted(failing)) or 'none'}", flush=True)
            if failing != expected_failures(drifted):
                failures += 1
                print(f"UNEXPECTED in run {run}: exactly {sorted(expected_failures(drifted))} should fail",
                      file=sys.stderr, flush=True)
    finally:
        workload.stop()
        replicator.stop()
    print(f"HTML report of the last run: {REPO / 'reports' / 'report.html'}")
    if failures:
        print(f"CDC demo FAILED: {failures} of {args.runs} runs did not find exactly the drifts", file=sys.stderr)
        return 1
    print(f"CDC demo OK: {args.runs} run(s) under a live workload found exactly the {len(drifted)} drifts; "
          f"{workload.changes} row changes replicated meanwhile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
