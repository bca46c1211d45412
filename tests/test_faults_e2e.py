"""Faults and hostile input the reliability catalogue lists (docs/reliability.md, issue 9), each proven on a real
run of ``pytest tests_validation`` (a separate process) against MariaDB, PostgreSQL behind the Redshift wire shim
through redshift_connector, and moto in server mode.

Services that fail mid-run are private to the test that breaks them (a shim on its own port, a moto of its own),
so nothing else sharing the machine notices. Source databases of our own are created with root in MariaDB as
``dmsval_<what>_<namespace><worker>`` and copied DMS-style (``dms_copy.copy_schema``) into PostgreSQL databases
of the same name; every output of every run is searched for the endpoints' password.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator
from xml.etree import ElementTree

import psycopg
import pymysql
import pytest
from psycopg import sql
from pymysql.constants import CLIENT

from dmsval.aws.clients import AwsContext
from dmsval.events import stopped_event
from devstack import demo, services
from devstack.datasets import MySQLParams
from devstack.dms_copy import copy_schema
from devstack.provision import DbEndpoint, Provisioned, delivered_messages, ensure_mysql_reader, \
    include_schema, provision
from devstack.redshift_shim import RedshiftShim

from .conftest import REGION, REPO, SuiteRun, create_pg_database, pg_dsn, suite_command
from .test_suite_e2e import PASSWORD, READER, SAKILA_TABLES, copies, delivery_args, migration  # noqa: F401
from .test_trust_e2e import assert_no_secret, every_output, kill_xdist_workers, target_lock  # noqa: F401

pytestmark = pytest.mark.integration

# ------------------------------------------------------------------------------------------------ helpers


def root_mysql(**kwargs: Any) -> pymysql.connections.Connection:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True,
                           charset="utf8mb4", connect_timeout=10, **kwargs)


def sakila_task(aws: AwsContext, name: str, database: str, target_port: int,
                tables: list[str] | None = None) -> Provisioned:
    """A task over some Sakila tables (default: the demo's task), whose target is the copy ``database`` reached
    through the shim on ``target_port``."""
    ensure_mysql_reader("127.0.0.1", 3306, READER, PASSWORD)
    rules = [include_schema("sakila", i, table) for i, table in enumerate(tables, start=1)] if tables \
        else demo.DEMO_TABLE_MAPPINGS["rules"]
    return provision(aws, name=name, source=DbEndpoint("127.0.0.1", 3306, READER, PASSWORD, "sakila"),
                     target=DbEndpoint("127.0.0.1", target_port, "postgres", PASSWORD, database),
                     table_mappings={"rules": rules})


def own_task(aws: AwsContext, name: str, source_db: str, target_db: str, target_port: int,
             rules: list[dict[str, Any]]) -> Provisioned:
    """A task from our own MariaDB database ``source_db`` to the PostgreSQL database ``target_db`` (as Redshift)."""
    ensure_mysql_reader("127.0.0.1", 3306, READER, PASSWORD)
    return provision(aws, name=name, source=DbEndpoint("127.0.0.1", 3306, READER, PASSWORD, source_db),
                     target=DbEndpoint("127.0.0.1", target_port, "postgres", PASSWORD, target_db),
                     table_mappings={"rules": rules})


def dms_copy(source_db: str, tables: list[str], after: tuple[sql.Composable, ...] = ()) -> str:
    """A DMS-style full load of ``tables`` of ``source_db`` into the PostgreSQL database of the same name
    (schema ``source_db``), then ``after`` statements (a source filter's effect, planted defects); its name."""
    create_pg_database(source_db)
    copy_schema(MySQLParams(), pg_dsn(source_db), source_db, source_db, tables=tables)
    with psycopg.connect(pg_dsn(source_db)) as conn:
        for statement in after:
            conn.execute(statement)
    return source_db


def drop_pg_database(name: str) -> None:
    with psycopg.connect(pg_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def deliver_to(made: Provisioned) -> list[str]:
    return ["--s3-uri", f"s3://{made.bucket}/validation", "--sns-topic-arn", made.topic_arn]


def by_case(run: SuiteRun) -> dict[str, dict[str, Any]]:
    return {c["case_id"]: c for c in run.results["cases"]}


def wait_for_blocked_backend(database: str, deadline_s: float = 90) -> int:
    """The pid of the (one) backend of ``database`` waiting on a lock: the run's query of the locked table."""
    started = time.monotonic()
    with psycopg.connect(pg_dsn(database), autocommit=True) as probe:
        while time.monotonic() - started < deadline_s:
            rows = probe.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                                 "AND state = 'active'", (database,)).fetchall()
            if rows:
                assert len(rows) == 1, rows
                return int(rows[0][0])
            time.sleep(0.2)
    raise AssertionError(f"no query of the run waited on the lock within {deadline_s:.0f}s")


def html_surfaces(report: Path) -> dict[str, str]:
    """Every part of a pytest-html report a browser parses as HTML: the page around the data blob, and each HTML
    string the report's script inserts with innerHTML / insertAdjacentHTML (result rows, logs, HTML extras, extra
    table HTML, environment values). Plain data (test ids set as attributes, durations) is left out."""
    text = report.read_text(encoding="utf-8")
    blob = re.search(r'<div id="data-container" data-jsonblob="([^"]*)"', text)
    assert blob, "pytest-html's data blob is not in the report"
    surfaces = {"page": text.replace(blob.group(1), "")}
    data = json.loads(html.unescape(blob.group(1)))
    for key, value in (data.get("environment") or {}).items():
        surfaces[f"environment {key}"] = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    for test_id, entries in data["tests"].items():
        for i, entry in enumerate(entries):
            surfaces[f"{test_id}#{i} row"] = "".join(entry.get("resultsTableRow") or [])
            surfaces[f"{test_id}#{i} log"] = entry.get("log") or ""
            surfaces[f"{test_id}#{i} tableHtml"] = "".join(entry.get("tableHtml") or [])
            for j, extra in enumerate(entry.get("extras") or []):
                if extra.get("format_type") == "html":
                    surfaces[f"{test_id}#{i} extra{j}"] = extra["content"]
    return surfaces


class PrivateRun:
    """``pytest tests_validation`` in the background against AWS at ``endpoint_url`` (a moto of the test's own)."""

    def __init__(self, reports: Path, endpoint_url: str, args: tuple[str, ...], event: dict[str, Any]) -> None:
        self.reports = reports
        env = dict(os.environ)
        self.process = subprocess.Popen(suite_command(reports, endpoint_url, args, event, env), cwd=REPO, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, timeout_s: float = 180) -> SuiteRun:
        stdout, stderr = self.process.communicate(timeout=timeout_s)
        return SuiteRun(self.process.returncode, stdout, stderr, self.reports)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)


# ------------------------------------------------------------------------------------------ our own sources

HOSTILE_TABLE = 'b`t "dq" 5% sp ünï'
XSS_TABLE = "<img src=x onerror=alert(1)>"
XSS_COLUMN = "<svg onload=alert(2)>"
FILTER_COLUMN = "o'k"
FILTER_VALUE = "it's 100% ' OR 1=1 --"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def own_source(databases: None, worker_id_suffix: str) -> Iterator[str]:
    """A MariaDB database of this worker: a table and columns with hostile names (backtick, double quote, %,
    space, quote, unicode), a table named like an HTML tag, and three plain tables."""
    name = f"dmsval_hostile_{worker_id_suffix}"
    with root_mysql() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{name}`")
        cur.execute("CREATE TABLE `b``t \"dq\" 5% sp ünï` (`id` INT PRIMARY KEY, `c``tick` VARCHAR(40), "
                    "`\"dq\"` INT, `pct%` DECIMAL(8,2), `Sp Ace` DATETIME, `ünï名` VARCHAR(20), `o'k` VARCHAR(60))")
        cur.executemany("INSERT INTO `b``t \"dq\" 5%% sp ünï` VALUES (%s, %s, %s, %s, %s, %s, %s)", [
            (1, "a`b", 1, "1.50", "2020-01-01 10:00:00", "x", FILTER_VALUE),
            (2, "%s %% \\ \"q\"", 2, "2.50", "2021-02-03 04:05:06", "ÿ名", FILTER_VALUE),
            (3, "it's", 3, "3.50", "2022-01-01 00:00:00", "z", FILTER_VALUE + " and more"),
            (4, "'; DROP TABLE x; --", 4, "4.50", None, "w", "it's 100%"),
            (5, None, None, None, None, None, None),
        ])
        cur.execute(f"CREATE TABLE `{XSS_TABLE}` (`id` INT PRIMARY KEY, `v` VARCHAR(60), `{XSS_COLUMN}` INT)")
        cur.executemany(f"INSERT INTO `{XSS_TABLE}` VALUES (%s, %s, %s)", [(1, "a", 10), (2, "b", 20), (3, "c", 30)])
        for table in ("plain_a", "plain_b", "plain_c"):
            cur.execute(f"CREATE TABLE `{table}` (id INT PRIMARY KEY, v VARCHAR(10))")
            cur.execute(f"INSERT INTO `{table}` VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    yield name
    with root_mysql() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    drop_pg_database(name)


# ------------------------------------------------------------------------------------------ services fail

def test_a_redshift_endpoint_that_goes_away_mid_run_errors_its_case_and_the_run_still_reports(
        aws, copies, start_suite, target_lock, tmp_path, monkeypatch):  # noqa: F811
    database, loaded = copies("clean", [])
    monkeypatch.setenv("DMSVAL_STUB_TABLE_STATISTICS",
                       str(demo.write_table_statistics(loaded, tmp_path / "stats.json")))
    shim = RedshiftShim(upstream_port=5432)
    shim.start()
    try:
        # category, customer, film run first and pass; the query of rental waits on a lock until the shim stops
        made = sakila_task(aws, "task-shimstop", database, shim.port, ["category", "customer", "film", "rental"])
        lock = target_lock(database, "sakila.rental")
        suite = start_suite(*deliver_to(made), "--checks", "row_count,dms_state", "-n", "0",
                            event=stopped_event(made.task_arn))
        lock.wait_for_blocked_query()
        assert shim.active_connections >= 1
    finally:
        shim.stop()
    lock.release()
    run = suite.finish()
    assert run.returncode == 1, run.stdout[-3000:]
    cases = by_case(run)
    rental = cases.pop("row_count[sakila.rental]")
    assert rental["status"] == "error"
    assert rental["message"].startswith("the target connection was closed by the server (killed?) while a query "
                                        f"ran on redshift postgres@127.0.0.1:{shim.port}/{database}"), rental["message"]
    assert rental["message"].endswith("(table sakila.rental)")
    # the cases before it passed; dms_state needs no target query and still ran after the target went away
    assert {c: s["status"] for c, s in cases.items()} == {
        **{f"row_count[sakila.{t}]": "passed" for t in ("category", "customer", "film")},
        **{f"dms_state[sakila.{t}]": "passed" for t in ("category", "customer", "film", "rental")}}
    document = run.results["run"]
    assert document["verdict"] == "error" and document["missing_cases"] == []
    assert document["counts"] == {"passed": 7, "failed": 0, "skipped": 0, "error": 1, "missing": 0}
    assert document["delivery"]["s3"]["status"] == document["delivery"]["sns"]["status"] == "delivered"
    messages = delivered_messages(aws, made.queue_url)
    assert len(messages) == 1 and messages[0]["Subject"].startswith("dmsval ERROR: task-shimstop")
    assert "- ERROR row_count[sakila.rental] -> sakila.rental: the target connection was closed" \
        in messages[0]["Message"]
    assert "row_count[sakila.rental]" in (run.reports / "report.html").read_text()
    assert_no_secret(every_output(run, aws, made.bucket, [messages[0]["Message"]]), PASSWORD)


def test_aws_gone_after_planning_still_completes_the_checks_and_records_the_failed_delivery(
        copies, target_lock, tmp_path, monkeypatch, redshift_shim):  # noqa: F811
    database, loaded = copies("clean", [])
    monkeypatch.setenv("DMSVAL_STUB_TABLE_STATISTICS",
                       str(demo.write_table_statistics(loaded, tmp_path / "stats.json")))
    moto = services.MotoServer()
    moto.start()
    suite: PrivateRun | None = None
    try:
        aws = AwsContext(REGION, moto.endpoint_url)
        made = sakila_task(aws, "task-motostop", database, redshift_shim.port)
        lock = target_lock(database, "sakila.rental")
        # -n 0: the run has planned and read its secrets (first case) before the rental case waits on the lock
        suite = PrivateRun(tmp_path / "run", moto.endpoint_url,
                           ("--checks", "row_count", "-n", "0", *deliver_to(made)),
                           stopped_event(made.task_arn))
        lock.wait_for_blocked_query()
        moto.stop()
        lock.release()
        run = suite.finish()
    finally:
        moto.stop()
        if suite is not None:
            suite.kill()
    assert run.returncode == 1, run.stdout[-3000:]
    results = run.results
    assert results["run"]["verdict"] == "passed"  # the data verdict: every check completed
    assert set(run.statuses().values()) == {"passed"} and len(results["cases"]) == SAKILA_TABLES
    delivery = results["run"]["delivery"]
    for channel in ("s3", "sns"):
        assert delivery[channel]["status"] == "failed", delivery
        assert delivery[channel]["detail"].endswith("failed: EndpointConnectionError"), delivery
    assert "dmsval DELIVERY FAILED: S3 upload" in run.stdout and "dmsval DELIVERY FAILED: SNS summary" in run.stdout
    assert {p.name for p in run.reports.iterdir()} >= {"results.json", "report.html", "junit.xml"}
    page = (run.reports / "report.html").read_text()
    assert "S3: failed" in page and "SNS: failed" in page
    assert_no_secret(every_output(run, None, None, []), PASSWORD)


def test_a_target_backend_killed_mid_query_errors_that_case_and_the_others_pass(
        migration, start_suite, target_lock, aws):  # noqa: F811
    m = migration("clean")
    lock = target_lock(m.database, "sakila.rental")
    suite = start_suite(*delivery_args(m), "--checks", "row_count", "-n", "0", event=m.event)
    pid = wait_for_blocked_backend(m.database)
    with psycopg.connect(pg_dsn(m.database), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0] is True
    lock.release()
    run = suite.finish()
    assert run.returncode == 1
    cases = by_case(run)
    rental = cases.pop("row_count[sakila.rental]")
    assert rental["status"] == "error"
    assert rental["message"].startswith("the target connection was closed by the server (killed?) while a query "
                                        "ran on redshift postgres@127.0.0.1:"), rental["message"]
    assert "ConnectionLost" in rental["error"] and "SELECT COUNT(*) FROM" in rental["error"]
    # the engine reconnected: the cases after the killed one (staff, store) passed too
    assert len(cases) == SAKILA_TABLES - 1 and {c["status"] for c in cases.values()} == {"passed"}
    assert run.results["run"]["verdict"] == "error" and run.results["run"]["missing_cases"] == []
    bodies = [msg["Message"] for msg in delivered_messages(aws, m.made.queue_url)]
    assert len(bodies) == 1 and "- ERROR row_count[sakila.rental]" in bodies[0]
    assert_no_secret(every_output(run, aws, m.made.bucket, bodies), PASSWORD)


def test_a_source_table_locked_past_the_query_timeout_errors_that_case_only(own_source, aws, run_suite,
                                                                             redshift_shim):
    target = dms_copy(own_source, ["plain_a", "plain_b", "plain_c"])
    made = own_task(aws, "task-srclock", own_source, target, redshift_shim.port,
                    [include_schema(own_source, 1, "plain_%")])
    holder = root_mysql()
    try:
        holder.cursor().execute(f"LOCK TABLES `{own_source}`.`plain_b` WRITE")
        started = time.monotonic()
        run = run_suite("--checks", "row_count", "--query-timeout", "2", event=stopped_event(made.task_arn))
        elapsed = time.monotonic() - started
    finally:
        holder.close()  # ends the LOCK TABLES
    assert run.returncode == 1, run.stdout[-3000:]
    cases = by_case(run)
    locked = cases.pop(f"row_count[{own_source}.plain_b]")
    assert locked["status"] == "error"
    assert locked["message"].startswith("timed out after 2 s on the source (mysql "), locked["message"]
    assert "QueryTimeout" in locked["error"]
    assert {c: s["status"] for c, s in cases.items()} == {f"row_count[{own_source}.plain_a]": "passed",
                                                          f"row_count[{own_source}.plain_c]": "passed"}
    assert elapsed < 60, f"the locked case should end at the 2 s timeout; the run took {elapsed:.0f}s"
    assert_no_secret(every_output(run, aws, None, []), PASSWORD)


# -------------------------------------------------------------------------------------------- hostile input

def hostile_rules(schema: str) -> list[dict[str, Any]]:
    rule = include_schema(schema, 1, HOSTILE_TABLE)
    rule["filters"] = [{"filter-type": "source", "column-name": FILTER_COLUMN,
                        "filter-conditions": [{"filter-operator": "eq", "value": FILTER_VALUE}]}]
    return [rule]


def filtered_copy(source_db: str) -> str:
    """What DMS loads of the hostile table under hostile_rules' filter: rows 1 and 2 (o'k = FILTER_VALUE exactly)."""
    return dms_copy(source_db, [HOSTILE_TABLE], (
        sql.SQL("DELETE FROM {} WHERE {} IS DISTINCT FROM {}").format(
            sql.Identifier(source_db, HOSTILE_TABLE), sql.Identifier(FILTER_COLUMN), sql.Literal(FILTER_VALUE)),))


def test_hostile_identifiers_and_filter_values_are_quoted_never_injected(own_source, aws, run_suite,
                                                                         redshift_shim):
    target = filtered_copy(own_source)
    made = own_task(aws, "task-hostile", own_source, target, redshift_shim.port, hostile_rules(own_source))
    checks = ("--checks", "row_count,row_diff,schema,aggregates")
    table = f"{own_source}.{HOSTILE_TABLE}"

    faithful = run_suite(*checks, event=stopped_event(made.task_arn))
    assert faithful.returncode == 0, faithful.stdout[-3000:]
    assert faithful.statuses() == {f"{check}[{table}]": "passed"
                                   for check in ("row_count", "row_diff", "schema", "aggregates")}
    count = by_case(faithful)[f"row_count[{table}]"]
    # the filter selected exactly the two matching rows: neither dropped (5) nor turned into OR 1=1 (5)
    assert count["figures"] == {"source_rows": 2, "target_rows": 2, "difference": 0}
    assert "`o'k` = 'it\\'s 100% \\' OR 1=1 --'" in count["sql"]["source"], count["sql"]["source"]
    assert 'FROM "' + own_source + '"."b`t ""dq"" 5% sp ünï"' in count["sql"]["target"], count["sql"]["target"]

    with psycopg.connect(pg_dsn(target)) as conn:  # a planted change in the column named c`tick
        conn.execute(sql.SQL("UPDATE {} SET {} = {} WHERE id = 2").format(
            sql.Identifier(own_source, HOSTILE_TABLE), sql.Identifier("c`tick"), sql.Literal("changed '%s'")))
    planted = run_suite(*checks, event=stopped_event(made.task_arn))
    assert planted.returncode == 1
    assert {c for c, s in planted.statuses().items() if s != "passed"} == {f"row_diff[{table}]",
                                                                          f"aggregates[{table}]"}
    diff = by_case(planted)[f"row_diff[{table}]"]
    assert diff["details"]["changed"] == [{"key": ["2"], "columns": {"c`tick": ['%s %% \\ "q"', "changed '%s'"]}}]
    assert diff["details"]["missing_keys"] == [] and diff["details"]["extra_keys"] == []
    for run in (faithful, planted):
        assert_no_secret(every_output(run, aws, None, []), PASSWORD)
    with root_mysql() as conn, conn.cursor() as cur:  # nothing was written to the source either
        cur.execute(f"SELECT COUNT(*) FROM `{own_source}`.`b``t \"dq\" 5% sp ünï`")
        assert cur.fetchone()[0] == 5


def test_html_in_table_names_and_values_is_escaped_in_the_report_and_plain_in_sns(own_source, aws, run_suite,
                                                                                redshift_shim):
    target = dms_copy(own_source, [XSS_TABLE], (
        sql.SQL("UPDATE {} SET v = {} WHERE id = 2").format(sql.Identifier(own_source, XSS_TABLE),
                                                             sql.Literal(SCRIPT)),))
    made = own_task(aws, "task-xss", own_source, target, redshift_shim.port,
                    [include_schema(own_source, 1, XSS_TABLE)])
    run = run_suite("--checks", "row_count,row_diff,schema,aggregates", *deliver_to(made),
                    event=stopped_event(made.task_arn))
    assert run.returncode == 1, run.stdout[-3000:]
    table = f"{own_source}.{XSS_TABLE}"
    assert run.statuses() == {f"row_count[{table}]": "passed", f"schema[{table}]": "passed",
                              f"row_diff[{table}]": "failed", f"aggregates[{table}]": "failed"}
    assert by_case(run)[f"row_diff[{table}]"]["details"]["changed"] == [{"key": ["2"], "columns": {"v": ["b", SCRIPT]}}]

    surfaces = html_surfaces(run.reports / "report.html")
    for where, text in surfaces.items():
        for raw in ("<script>alert(1)", "<img src=x", "<svg onload"):
            assert raw not in text, f"raw {raw!r} in the report's HTML ({where})"
    shown = "\n".join(surfaces.values())
    assert html.escape(SCRIPT) in shown  # the changed value is shown, as text
    assert html.escape(f"row_diff[{table}]") in shown and html.escape(XSS_COLUMN) in shown

    # the merged report (dmsval.merge renders it without pytest-html, no script: the page is all HTML)
    merged = run.reports.parent / "merged"
    done = subprocess.run([sys.executable, "-m", "dmsval.merge", str(run.reports / "results.json"),
                           "--reports-dir", str(merged)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    page = (merged / "report.html").read_text(encoding="utf-8")
    for raw in ("<script>alert(1)", "<img src=x", "<svg onload"):
        assert raw not in page, f"raw {raw!r} in the merged report"
    assert html.escape(SCRIPT) in page and html.escape(XSS_TABLE) in page

    messages = delivered_messages(aws, made.queue_url)
    assert len(messages) == 1
    body = messages[0]["Message"]
    assert f"- FAILED row_diff[{table}] -> {table}:" in body  # plain text: the name as it is, not entity-encoded
    assert "&lt;" not in body and "&gt;" not in body and "<td" not in body and "<html" not in body
    assert_no_secret(every_output(run, aws, made.bucket, [body]), PASSWORD)


def test_a_crashed_worker_on_a_non_ascii_table_is_reported_as_that_crash(own_source, aws, start_suite,
                                                                         target_lock, redshift_shim):
    target = filtered_copy(own_source)
    made = own_task(aws, "task-hostilecrash", own_source, target, redshift_shim.port, hostile_rules(own_source))
    lock = target_lock(target, sql.Identifier(own_source, HOSTILE_TABLE).as_string(None))
    suite = start_suite("--checks", "row_count", "-n", "1", event=stopped_event(made.task_arn))
    lock.wait_for_blocked_query()
    kill_xdist_workers(suite.process.pid)
    lock.release()
    run = suite.finish(timeout_s=180)
    case_id = f"row_count[{own_source}.{HOSTILE_TABLE}]"
    document = run.results["run"]
    assert run.returncode == 1 and document["verdict"] == "incomplete"
    assert document["missing_cases"] == [case_id]
    assert document["incomplete_reasons"] == [
        f"the xdist worker running {case_id} died (killed or crashed); the case has no result"]
    junit = ElementTree.parse(run.reports / "junit.xml").getroot()
    assert len([c for c in junit.iter("testcase") if c.find("error") is not None]) == 1  # one case, one error


# ------------------------------------------------------------------------------------------------ parallel

def test_serial_two_and_four_workers_give_the_same_verdict_and_case_results(migration, run_suite):  # noqa: F811
    m = migration("defects", demo.PLANTED_SQL + ["DROP TABLE sakila.languages"])
    runs = {workers: run_suite("-n", workers, event=m.event) for workers in ("0", "2", "4")}

    def essence(run: SuiteRun) -> dict[str, tuple[str, str, str]]:
        return {c["case_id"]: (c["status"], json.dumps(c["figures"], sort_keys=True),
                               json.dumps(c["details"], sort_keys=True)) for c in run.results["cases"]}

    serial = essence(runs["0"])
    assert len(serial) == 5 * SAKILA_TABLES + 3
    assert {c for c, e in serial.items() if e[0] != "passed"} == demo.EXPECTED_FAILURES | {
        f"{check}[sakila.language]" for check in ("row_count", "row_diff", "schema", "aggregates")}
    for workers, run in runs.items():
        assert run.returncode == 1, workers
        assert essence(run) == serial, f"-n {workers} differs from -n 0"
        assert run.results["run"]["verdict"] == "failed"
        assert run.results["run"]["counts"] == runs["0"].results["run"]["counts"]
    assert "4 workers" in runs["4"].stdout


# ---------------------------------------------------------------------------------------------------- scale

TABLES = 1000
# measured on the project's 2-core machine: 16 s for the run alone (6 s more to create the tables), while another
# test ran beside it; the deadline leaves room for a loaded machine, not for a run that grew with the table count
SCALE_DEADLINE_S = 60


@pytest.fixture
def thousand_tables(databases: None, worker_id_suffix: str) -> Iterator[str]:
    """1,000 two-row tables in MariaDB and their DMS-style copy (INT4 columns, primary key) in PostgreSQL."""
    name = f"dmsval_k_{worker_id_suffix}"
    started = time.monotonic()
    with root_mysql(client_flag=CLIENT.MULTI_STATEMENTS) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
        for first in range(0, TABLES, 100):
            cur.execute(";".join(f"CREATE TABLE `{name}`.t{i:04d} (id INT PRIMARY KEY, v INT); "
                                 f"INSERT INTO `{name}`.t{i:04d} VALUES (1, {i}), (2, {i})"
                                 for i in range(first, first + 100)))
            while cur.nextset():
                pass
    create_pg_database(name)
    with psycopg.connect(pg_dsn(name)) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{name}"')
        conn.execute(";".join(f'CREATE TABLE "{name}".t{i:04d} (id INT4 PRIMARY KEY, v INT4); '
                              f'INSERT INTO "{name}".t{i:04d} VALUES (1, {i}), (2, {i})' for i in range(TABLES)))
    print(f"\n{TABLES} tables created on both sides in {time.monotonic() - started:.1f}s")
    yield name
    with root_mysql() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    drop_pg_database(name)


def test_a_thousand_table_task_runs_every_case_within_the_deadline(thousand_tables, aws, run_suite, redshift_shim):
    made = own_task(aws, "task-thousand", thousand_tables, thousand_tables, redshift_shim.port,
                    [include_schema(thousand_tables, 1)])
    started = time.monotonic()
    run = run_suite("--checks", "row_count", "-n", "2", event=stopped_event(made.task_arn))
    elapsed = time.monotonic() - started
    print(f"\n{TABLES}-table row_count run (-n 2): {elapsed:.1f}s")
    assert run.returncode == 0, run.stdout[-3000:]
    statuses = run.statuses()
    assert len(statuses) == TABLES and set(statuses.values()) == {"passed"}
    assert run.results["run"]["tables"] == TABLES and len(run.results["run"]["planned_cases"]) == TABLES
    assert elapsed < SCALE_DEADLINE_S, f"{TABLES} tables took {elapsed:.0f}s"
    assert_no_secret(every_output(run, aws, None, []), PASSWORD)
