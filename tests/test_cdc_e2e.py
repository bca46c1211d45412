"""The suite in CDC mode against a live replication (the CDC stand-in): the gate waits for the latency, in-flight
rows are rechecked, drifts are found. The README test run keeps this one representative run; the acceptance
run (10 consecutive runs, 5 drifts) is ``scripts/cdc_acceptance.sh``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest

from dmsval.aws.clients import AwsContext
from devstack.cdc import BinlogMariaDB, CdcReplicator, Workload, full_load
from devstack.cdc_demo import DRIFTS, WORKLOAD_TABLES, scheduled_event
from devstack.datasets import load_sakila
from devstack.demo import write_table_statistics
from devstack.provision import DbEndpoint, ensure_mysql_reader, include_schema, provision_cdc_task

from .conftest import create_pg_database, pg_dsn

pytestmark = pytest.mark.integration

PASSWORD = "cdc-e2e-Secret-never-shown"
READER = "dmsval_cdc_reader"
CHECKS = ("--checks", "row_count,row_diff")


@pytest.fixture(scope="module")
def binlog_db(databases: None) -> Iterator[BinlogMariaDB]:
    with BinlogMariaDB() as db:
        load_sakila(db.params)
        ensure_mysql_reader("127.0.0.1", db.port, READER, PASSWORD)
        yield db


def test_cdc_run_waits_for_the_lag_then_finds_exactly_the_drifts(binlog_db: BinlogMariaDB, redshift_shim: Any,
                                                                 aws: AwsContext, start_suite: Any, run_suite: Any,
                                                                 worker_id_suffix: str, tmp_path: Path) -> None:
    target_db = create_pg_database(f"dmsval_cdce2e_{worker_id_suffix}")
    position, counts = full_load(binlog_db.params, pg_dsn(target_db), "sakila", "sakila")
    stats = write_table_statistics(counts, tmp_path / "stats.json")
    made = provision_cdc_task(aws, name="cdc-e2e",
                              source=DbEndpoint("127.0.0.1", binlog_db.port, READER, PASSWORD, "sakila"),
                              target=DbEndpoint("127.0.0.1", redshift_shim.port, "postgres", PASSWORD, target_db),
                              table_mappings={"rules": [include_schema("sakila", 1)]})
    env = {"DMSVAL_STUB_TABLE_STATISTICS": str(stats)}
    event = scheduled_event(made.task_arn)
    # DMS is behind: an apply lag of 8 s against the 5 s threshold
    replicator = CdcReplicator(binlog_db.params, pg_dsn(target_db), "sakila", "sakila", position, lag_s=8.0, aws=aws,
                               instance_id=made.instance_id, task_resource_id=made.task_arn.rsplit(":", 1)[-1],
                               publish_interval_s=2.0)
    workload = Workload(binlog_db.params, tables=WORKLOAD_TABLES, rate_per_s=100, seed=11)
    replicator.start()
    workload.start()
    try:
        with psycopg.connect(pg_dsn(target_db), autocommit=True) as conn:
            for _, statement in DRIFTS[:2]:
                conn.execute(statement)
        time.sleep(12)  # the 8 s latency is published
        options = ("--cdc-poll-seconds", "2", "--cdc-metric-period", "5", "--cdc-recheck-seconds", "60")

        # a lag that never falls: skipped at the deadline, with the figures
        closed = run_suite(*CHECKS, *options, "--cdc-wait-minutes", "0.1", event=event, env=env)
        gate = closed.results["run"]["gate"]
        assert not gate["open"] and {c["status"] for c in closed.results["cases"]} == {"skipped"}
        assert "CDCLatencyTarget=" in gate["reason"] and "still closed after waiting" in gate["reason"]

        # the gate waits; DMS catches up (lag 1 s); the run validates under the live workload
        suite = start_suite(*CHECKS, *options, "--cdc-wait-minutes", "3", "-n", "2", event=event, env=env)
        suite.wait_for_line("CDC gate closed", timeout_s=120)  # it waits, and says so
        replicator.set_lag(1.0)
        run = suite.finish(timeout_s=400)
        replicator.check()
        workload.check()
    finally:
        workload.stop()
        replicator.stop()
    results = run.results
    gate = results["run"]["gate"]
    assert gate["open"] and "opened after waiting" in gate["reason"], gate["reason"]
    assert max(r["CDCLatencyTarget"] or 0 for r in gate["series"]) > 5  # it saw the lag it waited out
    failing = {c["case_id"] for c in results["cases"] if c["status"] in ("failed", "error")}
    assert failing == {"row_diff[sakila.address]", "row_diff[sakila.category]"}, [
        (c["case_id"], c["message"]) for c in results["cases"] if c["status"] != "passed"]
    by_id = {c["case_id"]: c for c in results["cases"]}
    # the workload's rows in flight were rechecked and converged, not reported
    assert sum(c["figures"].get("in_flight", 0) for c in results["cases"]) > 0
    assert all(by_id[f"row_diff[sakila.{t}]"]["status"] == "passed" for t in WORKLOAD_TABLES)
    assert workload.changes > 1000
    drift = by_id["row_diff[sakila.address]"]
    assert [c["key"] for c in drift["details"]["changed"]] == [["5"]]
    assert drift["details"]["recheck"]["history"][0]["key"] == ["5"]
    assert PASSWORD not in run.stdout + run.stderr + (run.reports / "results.json").read_text()
