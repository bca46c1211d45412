"""The local demo: a DMS migration of Sakila, validated end to end on this machine.

1. Bring up MariaDB (source), PostgreSQL (standing in for Redshift) behind the Redshift wire shim, and moto.
2. Load Sakila into MariaDB and copy it into PostgreSQL the way a DMS full load into Redshift would.
3. Plant defects in the target: a missing row (rental), an extra row (payment), a changed value (customer).
4. Register the migration in moto: secrets, replication instance, endpoints (target = Redshift), task.
5. Write the REPLICATION_TASK_STOPPED event and run ``pytest tests_validation`` from it.
6. Print the SNS message as delivered (read back from moto through a subscribed SQS queue) and the report path.

``--cdc`` runs the CDC demo instead (devstack.cdc_demo): validation while a live workload replicates.

``--target postgres`` runs the same demo on the MySQL -> PostgreSQL route: the copy is PostgreSQL-typed (as a DMS
full load into PostgreSQL lands it) and the target endpoint is a PostgreSQL endpoint on port 5432, read directly
with psycopg (no shim).

Exit status 0 when the run found exactly the planted defects, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from dmsval.aws.clients import AwsContext
from dmsval.events import stopped_event
from dmsval.results import load_results
from . import services
from .datasets import MySQLParams, load_sakila
from .dms_copy import copy_schema
from .standin import pg_dsn, prepare_redshift_standin
from .stub_statistics import completed_tables
from .provision import DbEndpoint, delivered_messages, ensure_mysql_reader, include_schema, provision

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
DEMO_DB = "dmsval_demo"
TASK_NAME = "sakila-to-redshift"
# Any password works with the local trust authentication; it is still kept in a secret and must never show
# up in reports, logs or the SNS message (the tests check that).
DEMO_PASSWORD = "demo-Pa55word-never-shown"
DEMO_READER = "dmsval_reader"  # a SELECT-only MariaDB account, as a DBA would give the validator
MOTO_PORT = 5055
SHIM_PORT = 5439
POSTGRES_PORT = 5432
#: the demo's targets: DMS target EngineName -> the port the validator reaches it on
TARGET_PORTS = {"redshift": SHIM_PORT, "postgres": POSTGRES_PORT}

def _rule(rule_id: int, rule: dict) -> dict:
    return {"rule-id": str(rule_id), "rule-name": f"rule-{rule_id}", **rule}


# A task as users write them: an exclude, a rename, a lowercase, a removed column and a source filter.
DEMO_TABLE_MAPPINGS = {
    "rules": [
        include_schema("sakila", 1),
        _rule(2, {"rule-type": "selection", "rule-action": "exclude",
                  "object-locator": {"schema-name": "sakila", "table-name": "film_text"}}),
        _rule(3, {"rule-type": "selection", "rule-action": "include",
                  "object-locator": {"schema-name": "sakila", "table-name": "actor"},
                  "filters": [{"filter-type": "source", "column-name": "actor_id",
                               "filter-conditions": [{"filter-operator": "ste", "value": "150"}]}]}),
        _rule(4, {"rule-type": "transformation", "rule-target": "table", "rule-action": "convert-lowercase",
                  "object-locator": {"schema-name": "sakila", "table-name": "%"}}),
        _rule(5, {"rule-type": "transformation", "rule-target": "table", "rule-action": "rename", "value": "languages",
                  "object-locator": {"schema-name": "sakila", "table-name": "language"}}),
        _rule(6, {"rule-type": "transformation", "rule-target": "column", "rule-action": "remove-column",
                  "object-locator": {"schema-name": "sakila", "table-name": "staff", "column-name": "picture"}}),
    ]
}


def dms_full_load(mysql: MySQLParams, dsn: str, target: str = "redshift") -> dict[str, int]:
    """What the demo task's full load leaves in the target: the mapping's effects applied to a DMS-style copy.

    ``target`` is the DMS target engine whose types the copy creates ("redshift" or "postgres"). Returns the rows
    loaded per *source* table, as DMS's table statistics report them.
    """
    tables = [t for t in sakila_tables(mysql) if t != "film_text"]  # rule 2
    renames = {"language": "languages"}  # rule 5
    copied = copy_schema(mysql, dsn, "sakila", "sakila", tables=tables, table_renames=renames,
                         drop_columns={"staff": ["picture"]}, target=target)  # rule 6
    with psycopg.connect(dsn) as conn:
        deleted = conn.execute("DELETE FROM sakila.actor WHERE NOT (actor_id <= 150)").rowcount  # rule 3's filter
    loaded = {source: copied[renames.get(source, source)] for source in tables}
    loaded["actor"] -= deleted
    return loaded


def write_table_statistics(loaded: dict[str, int], path: Path) -> Path:
    """DMS's table statistics for the stub that stands in for describe_table_statistics (moto lacks it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(completed_tables(loaded, "sakila"), indent=2))
    return path


# The defects planted in the target, and the failing cases they must produce.
PLANTED_SQL = [
    "DELETE FROM sakila.rental WHERE rental_id = 4242",
    "INSERT INTO sakila.payment (payment_id, customer_id, staff_id, rental_id, amount, payment_date, last_update) "
    "VALUES (30000, 1, 1, NULL, 9.99, '2006-02-15 00:00:00', '2006-02-15 00:00:00')",
    "UPDATE sakila.customer SET email = 'changed@example.com' WHERE customer_id = 7",
]
EXPECTED_FAILURES = {
    "row_count[sakila.rental]", "row_count[sakila.payment]",
    "custom_sql[sakila_payment_totals]", "custom_sql[sakila_customer_contact]",
    "row_diff[sakila.rental]", "row_diff[sakila.payment]", "row_diff[sakila.customer]",
    "aggregates[sakila.rental]", "aggregates[sakila.payment]", "aggregates[sakila.customer]",
}


def plant_defects() -> None:
    with psycopg.connect(pg_dsn(DEMO_DB)) as conn:
        for statement in PLANTED_SQL:
            conn.execute(statement)


def run_suite(event_path: Path, endpoint_url: str, bucket: str, topic_arn: str, extra: list[str],
              stats_path: Path) -> int:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_DEFAULT_REGION=REGION,
               DMSVAL_STUB_TABLE_STATISTICS=str(stats_path))
    # -p ...stub_statistics: DMS describe_table_statistics, which moto lacks, from botocore's Stubber
    command = [sys.executable, "-m", "pytest", "tests_validation", "-p", "devstack.stub_statistics",
               "--dms-event", str(event_path),
               "--aws-endpoint-url", endpoint_url, "--s3-uri", f"s3://{bucket}/validation",
               "--sns-topic-arn", topic_arn, *extra]
    print("$ " + " ".join(command), flush=True)
    return subprocess.call(command, cwd=REPO, env=env)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--cdc" in argv:  # validation while DMS replicates: devstack.cdc_demo
        from . import cdc_demo

        return cdc_demo.main([a for a in argv if a != "--cdc"])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--workers", default="2", help="pytest-xdist workers for the run (0 = serial)")
    parser.add_argument("--target", choices=sorted(TARGET_PORTS), default="redshift",
                        help="the DMS target engine of the demo's migration (default: redshift)")
    args = parser.parse_args(argv)
    target = args.target

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    print("== 1. local stack", flush=True)
    services.ensure_mariadb()
    services.ensure_postgres()
    # the demo resets moto's state below: only a moto this project started (another one on the port is left alone)
    moto = services.ensure_own_moto(MOTO_PORT)
    print(f"   {moto}", flush=True)
    endpoint_url = moto.address
    if target == "redshift":
        services.ensure_redshift_shim(listen_port=SHIM_PORT, upstream_port=POSTGRES_PORT)

    print("== 2. Sakila into MariaDB, DMS-style full load into PostgreSQL"
          + (" (as Redshift)" if target == "redshift" else ""), flush=True)
    mysql = MySQLParams()
    load_sakila(mysql)
    prepare_redshift_standin(DEMO_DB)
    copied = dms_full_load(mysql, pg_dsn(DEMO_DB), target=target)
    print(f"   copied {len(copied)} tables, {sum(copied.values())} rows", flush=True)
    stats_path = write_table_statistics(copied, REPO / ".local" / "demo-table-statistics.json")

    print("== 3. planting defects in the target", flush=True)
    plant_defects()
    for statement in PLANTED_SQL:
        print(f"   {statement}", flush=True)

    print("== 4. registering the migration in moto", flush=True)
    services.reset_moto(endpoint_url)
    aws = AwsContext(REGION, endpoint_url)
    ensure_mysql_reader("127.0.0.1", 3306, DEMO_READER, DEMO_PASSWORD)
    made = provision(aws, name=TASK_NAME if target == "redshift" else f"sakila-to-{target}",
                     source=DbEndpoint("127.0.0.1", 3306, DEMO_READER, DEMO_PASSWORD, "sakila"),
                     target=DbEndpoint("127.0.0.1", TARGET_PORTS[target], "postgres", DEMO_PASSWORD, DEMO_DB),
                     table_mappings=DEMO_TABLE_MAPPINGS, target_engine=target)
    event_path = REPO / "reports" / "demo-event.json"
    event_path.parent.mkdir(exist_ok=True)
    event_path.write_text(json.dumps(stopped_event(made.task_arn), indent=2))
    print(f"   task {made.task_arn}\n   event {event_path}", flush=True)

    print("== 5. validation run", flush=True)
    extra = ["-n", args.workers] if args.workers not in ("0", "") else []
    status = run_suite(event_path, endpoint_url, made.bucket, made.topic_arn, extra, stats_path)

    print("== 6. the SNS message as delivered", flush=True)
    for message in delivered_messages(aws, made.queue_url):
        print(f"Subject: {message['Subject']}\n{message['Message']}")
    results = load_results(REPO / "reports" / "results.json")
    failing = {c.case_id for c in results.cases if c.status in ("failed", "error")}
    print(f"HTML report: {REPO / 'reports' / 'report.html'}")
    print(f"suite exit status {status}; failing cases: {', '.join(sorted(failing)) or 'none'}")
    if failing != EXPECTED_FAILURES:
        print(f"UNEXPECTED: planted defects should fail exactly {sorted(EXPECTED_FAILURES)}", file=sys.stderr)
        return 1
    print("demo OK: the run found exactly the planted defects")
    return 0


def sakila_tables(mysql: MySQLParams) -> list[str]:
    import pymysql

    with pymysql.connect(host=mysql.host, port=mysql.port, user=mysql.user, password=mysql.password) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'sakila' "
                        "AND table_type = 'BASE TABLE' ORDER BY table_name")
            return [r[0] for r in cur.fetchall()]


if __name__ == "__main__":
    sys.exit(main())
