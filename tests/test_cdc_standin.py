"""The local CDC stand-in (devstack/cdc.py) against real servers: a private binlog MariaDB, the replicator applying
its row events to the Redshift stand-in, the workload generator and the latency it publishes to moto CloudWatch.

Each module run starts its own MariaDB (own datadir under the temp dir, a free port) and loads Sakila into it;
the PostgreSQL database carries the worker id, so parallel workers and runs never collide.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pymysql
import pytest

from dmsval.aws.clients import AwsContext
from dmsval.aws.dms import describe_task
from dmsval.aws.latency import evaluate_gate, read_latest
from dmsval.checks.row_diff import diff_tables
from dmsval.credentials import Credentials
from dmsval.engines import Engine, open_engine
from dmsval.mappings import TablePair
from devstack.cdc import BinlogMariaDB, CdcReplicator, Workload, _time_text, capture_position, full_load
from devstack.datasets import load_sakila
from devstack.dms_copy import copy_schema
from devstack.provision import DbEndpoint, include_schema, provision_cdc_task
from devstack.redshift_shim import RedshiftShim

from .conftest import create_pg_database, pg_dsn

pytestmark = pytest.mark.integration

WORKLOAD_TABLES = ("actor", "payment", "film", "customer")
LIMITED_LOB = {"TargetMetadata": {"LimitedSizeLobMode": True, "LobMaxSize": 32}}


@pytest.fixture(scope="module")
def binlog_db(databases: None) -> Iterator[BinlogMariaDB]:
    with BinlogMariaDB() as db:
        load_sakila(db.params)
        yield db


@pytest.fixture(scope="module")
def target_db(databases: None, worker_id_suffix: str) -> str:
    return create_pg_database(f"dmsval_cdc_{worker_id_suffix}")


class Engines:
    """The product's own engines on both sides (row_diff is the comparison a user would run)."""

    def __init__(self, source_port: int, shim: RedshiftShim, target_db: str) -> None:
        self.source: Engine = open_engine("mariadb", Credentials("127.0.0.1", source_port, "root", "sakila", ""),
                                          role="source", query_timeout_s=600)
        self.target: Engine = open_engine("redshift", Credentials("127.0.0.1", shim.port, "postgres", target_db, "x"),
                                          role="target", query_timeout_s=600)

    def diff(self, table: str, target_schema: str, source_schema: str = "sakila") -> Any:
        return diff_tables(self.source, self.target, TablePair(source_schema, table, target_schema, table.lower()),
                           None, LIMITED_LOB)

    def close(self) -> None:
        self.source.close()
        self.target.close()


def _engines(binlog_db: BinlogMariaDB, shim: RedshiftShim, target_db: str) -> Engines:
    return Engines(binlog_db.port, shim, target_db)


def _stopped_cleanly(replicator: CdcReplicator) -> None:
    replicator.stop()
    assert replicator.threads and not any(t.is_alive() for t in replicator.threads)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("cdc-")]


# ------------------------------------------------------------------------------------------ the private server

def test_private_instance_logs_full_row_images_on_its_own_port(binlog_db: BinlogMariaDB) -> None:
    assert binlog_db.port != 3306
    assert binlog_db.variables("log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata",
                               "server_id") == {
        "log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL",
        "server_id": str(binlog_db.server_id)}
    assert list(binlog_db.datadir.glob("binlog.0*")), "no binlog file in the private datadir"
    with pymysql.connect(host="127.0.0.1", port=3306, user="root") as shared, shared.cursor() as cur:
        cur.execute("SELECT @@datadir")
        assert Path(cur.fetchone()[0]).resolve() != binlog_db.datadir.resolve()
    position = capture_position(binlog_db.params)
    assert position.log_file.startswith("binlog.") and position.log_pos > 4 and position.gtid


def test_stop_shuts_the_server_down_and_removes_its_datadir(databases: None) -> None:
    db = BinlogMariaDB()
    db.start()
    port, root = db.port, db.root_dir
    assert root is not None and root.is_dir() and db.running
    assert db.started_in_s is not None and db.started_in_s < 60
    db.stop()
    assert not db.running and not root.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# ------------------------------------------------------------------------------------------ full load + CDC

def test_full_load_then_cdc_makes_the_target_identical(binlog_db: BinlogMariaDB, target_db: str,
                                                        redshift_shim: RedshiftShim) -> None:
    schema = "cdc_converge"
    position, counts = full_load(binlog_db.params, pg_dsn(target_db), "sakila", schema)
    assert counts["payment"] > 16000
    # changes after the full load and before the replicator runs: only the captured start position keeps them
    before_start = Workload(binlog_db.params, tables=WORKLOAD_TABLES, rate_per_s=500, seed=1, max_changes=60)
    before_start.start()
    before_start.wait(60)
    engines = _engines(binlog_db, redshift_shim, target_db)
    try:
        assert not all(engines.diff(t, schema).passed for t in WORKLOAD_TABLES), "the changes changed nothing"
        replicator = CdcReplicator(binlog_db.params, pg_dsn(target_db), "sakila", schema, position)
        replicator.start()
        try:
            workload = Workload(binlog_db.params, tables=WORKLOAD_TABLES, rate_per_s=100, seed=2, max_changes=400)
            workload.start()
            workload.wait(60)
            assert workload.changes == 400 and all(workload.by_kind.values()), workload.by_kind
            replicator.wait_caught_up(60)
            # every workload change, plus the rows Sakila's film triggers write to film_text
            assert replicator.applied_changes >= before_start.changes + workload.changes
        finally:
            _stopped_cleanly(replicator)
        engines.close()
        engines = _engines(binlog_db, redshift_shim, target_db)  # a session sees tables as of its start
        for table in (*WORKLOAD_TABLES, "film_text"):
            outcome = engines.diff(table, schema)
            assert outcome.passed, (table, outcome.message, outcome.details.get("changed"))
    finally:
        engines.close()


TYPED_DDL = """CREATE TABLE typed (
    id INT PRIMARY KEY, d DECIMAL(9,3), dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2),
    e ENUM('a','b','c d'), s SET('p','q','r'), y YEAR, b BIT(5), b1 BIT(1), bn BINARY(4), vb VARBINARY(8), bl BLOB,
    tx TEXT, f FLOAT, db DOUBLE, g GEOMETRY NULL, j JSON, ch CHAR(5), u INT UNSIGNED, big BIGINT UNSIGNED, zd DATE
) CHARACTER SET utf8mb4"""
TYPED_ROW = ("(%s, -1234.5, '2020-02-29 23:59:58.123456', '2038-01-19 03:14:07.999', '-838:59:59.5', 'c d', "
             "'r,p', 1901, b'10110', b'1', x'0102', x'00ff00', x'deadbeef', 'héllo ✓ 🐬', 1234567.875, "
             "0.1, ST_GeomFromText('POINT(1 2)'), '{\"k\": [1, 2]}', 'ab  ', 4294967295, 18446744073709551615, "
             "'0000-00-00')")


def test_every_type_lands_as_the_full_load_copies_it(binlog_db: BinlogMariaDB, target_db: str,
                                                      redshift_shim: RedshiftShim) -> None:
    """Rows inserted, updated and deleted through CDC equal a fresh full load of the same source, value for value."""
    with pymysql.connect(host="127.0.0.1", port=binlog_db.port, user="root", autocommit=True,
                         init_command="SET sql_mode = ''") as conn, conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS cdc_types")
        cur.execute("CREATE DATABASE cdc_types")
        cur.execute("USE cdc_types")
        cur.execute(TYPED_DDL)
        cur.execute("INSERT INTO typed VALUES " + ", ".join([TYPED_ROW] * 3), (1, 2, 3))
        position, _ = full_load(binlog_db.params, pg_dsn(target_db), "cdc_types", "cdc_types_cdc")
        replicator = CdcReplicator(binlog_db.params, pg_dsn(target_db), "cdc_types", "cdc_types_cdc", position)
        replicator.start()
        try:
            cur.execute("INSERT INTO typed VALUES " + TYPED_ROW, (4,))
            cur.execute("INSERT INTO typed (id, s, e) VALUES (5, '', 'a')")  # an empty SET, NULLs elsewhere
            cur.execute("UPDATE typed SET d = 0.001, tm = '12:00:01.25', s = 'q', b = b'00001', b1 = b'0', "
                        "bn = x'ff', tx = REPEAT('x', 40000), f = -0.5, dt = '1999-12-31 00:00:00', "
                        "ts = '1970-01-01 00:00:01', zd = '2024-02-29', ch = 'z' WHERE id = 2")
            cur.execute("UPDATE typed SET id = 30 WHERE id = 3")  # a changed key
            cur.execute("DELETE FROM typed WHERE id = 1")
            replicator.wait_caught_up(60)
        finally:
            _stopped_cleanly(replicator)
    copy_schema(binlog_db.params, pg_dsn(target_db), "cdc_types", "cdc_types_fresh")
    with psycopg.connect(pg_dsn(target_db)) as pg:
        replicated = pg.execute("SELECT t::text FROM cdc_types_cdc.typed t ORDER BY id").fetchall()
        fresh = pg.execute("SELECT t::text FROM cdc_types_fresh.typed t ORDER BY id").fetchall()
    assert [r[0].split(",", 1)[0] for r in replicated] == ["(2", "(4", "(5", "(30"]
    assert replicated == fresh
    engines = Engines(binlog_db.port, redshift_shim, target_db)
    try:
        outcome = diff_tables(engines.source, engines.target,
                              TablePair("cdc_types", "typed", "cdc_types_cdc", "typed"), None, LIMITED_LOB)
        assert outcome.passed, (outcome.message, outcome.details.get("changed"))
    finally:
        engines.close()


def test_time_text_matches_mysql() -> None:
    assert _time_text(-timedelta(hours=838, minutes=59, seconds=59, microseconds=500000), 2) == "-838:59:59.50"
    assert _time_text(timedelta(seconds=1), 0) == "00:00:01"
    assert _time_text(timedelta(hours=25, microseconds=7), 6) == "25:00:00.000007"


# ------------------------------------------------------------------------------------------ latency metrics

def _stats_since(aws: AwsContext, task: Any, metric: str, since: datetime) -> tuple[float | None, int]:
    """(Maximum, number of datapoints) of ``metric`` published at or after ``since``."""
    response = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/DMS", MetricName=metric,
        Dimensions=[{"Name": "ReplicationInstanceIdentifier", "Value": task.replication_instance_id},
                    {"Name": "ReplicationTaskIdentifier", "Value": task.resource_id}],
        StartTime=since, EndTime=datetime.now(timezone.utc) + timedelta(minutes=1), Period=60,
        Statistics=["Maximum", "SampleCount"])
    points = response["Datapoints"]
    if not points:
        return None, 0
    return max(p["Maximum"] for p in points), int(sum(p["SampleCount"] for p in points))


def _wait_for(condition: Any, deadline_s: float, what: str) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > deadline_s:
            raise AssertionError(f"{what}: not within {deadline_s:g}s")
        time.sleep(0.5)


def test_apply_lag_shows_in_the_published_target_latency(binlog_db: BinlogMariaDB, target_db: str,
                                                         redshift_shim: RedshiftShim, aws: AwsContext,
                                                         worker_id_suffix: str) -> None:
    provisioned = provision_cdc_task(
        aws, name=f"cdc-{worker_id_suffix}".replace("_", "-"),
        source=DbEndpoint("127.0.0.1", binlog_db.port, "root", "", "sakila"),
        target=DbEndpoint("127.0.0.1", redshift_shim.port, "postgres", "x", target_db),
        table_mappings={"rules": [include_schema("sakila")]})
    task = describe_task(aws, provisioned.task_arn)
    assert task.migration_type == "full-load-and-cdc" and task.includes_cdc and task.status == "running"
    assert task.source.port == binlog_db.port

    schema = "cdc_lag"
    position, _ = full_load(binlog_db.params, pg_dsn(target_db), "sakila", schema, tables=["actor", "payment"])
    replicator = CdcReplicator(binlog_db.params, pg_dsn(target_db), "sakila", schema, position,
                               tables=["actor", "payment"], aws=aws, instance_id=task.replication_instance_id,
                               task_resource_id=task.resource_id, publish_interval_s=1.0)
    workload = Workload(binlog_db.params, tables=("actor", "payment"), rate_per_s=20, seed=3)
    replicator.start()
    workload.start()
    try:
        lag = 6.0
        replicator.set_lag(lag)
        _wait_for(lambda: (read_latest(aws, "CDCLatencyTarget", task.replication_instance_id, task.resource_id, 5)
                           or 0) > lag, 40, f"CDCLatencyTarget above the {lag:g}s lag")
        source_latency = read_latest(aws, "CDCLatencySource", task.replication_instance_id, task.resource_id, 5)
        assert source_latency is not None and source_latency < 3, "the apply lag is no capture lag"
        gate = evaluate_gate(aws, task.replication_instance_id, task.resource_id, 5.0, 5)
        assert not gate.open and "CDCLatencyTarget" in gate.reason, gate.reason

        replicator.set_lag(0)
        # what was held is applied at once and reported in the next publication; from then on latency is low
        # (moto cuts StartTime to the whole second, so a margin of a publication interval and more)
        after = datetime.now(timezone.utc) + timedelta(seconds=4)
        _wait_for(lambda: _stats_since(aws, task, "CDCLatencyTarget", after)[1] >= 4, 30,
                  "four CDCLatencyTarget datapoints after lowering the lag")
        highest, _ = _stats_since(aws, task, "CDCLatencyTarget", after)
        assert highest is not None and highest < 3, highest

        workload.stop()
        replicator.wait_caught_up(30)
        idle = datetime.now(timezone.utc) + timedelta(seconds=3.5)  # after the last applies were published
        _wait_for(lambda: _stats_since(aws, task, "CDCLatencyTarget", idle)[1] >= 2, 20, "datapoints while idle")
        # DMS reports 0 with nothing to apply
        assert _stats_since(aws, task, "CDCLatencyTarget", idle)[0] == 0, (idle, replicator.samples[-6:])
        assert workload.changes > 100
    finally:
        workload.stop()
        _stopped_cleanly(replicator)
    engines = _engines(binlog_db, redshift_shim, target_db)
    try:
        for table in ("actor", "payment"):
            outcome = engines.diff(table, schema)
            assert outcome.passed, (table, outcome.message)
    finally:
        engines.close()
