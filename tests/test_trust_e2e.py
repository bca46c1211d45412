"""A run that says PASSED ran everything; a run that breaks says so and still reports (issue 9).

Each test breaks a real run of ``pytest tests_validation`` (a separate process against MariaDB, the Redshift
stand-in through the shim, and moto) and reads every output: results.json, report.html, junit.xml, the S3 copies
and the SNS message as delivered to a subscribed queue.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any, Callable, Iterator
from xml.etree import ElementTree

import psycopg
import pytest

from devstack.provision import delivered_messages
from dmsval.render import sns_text

from .conftest import SuiteRun, pg_dsn
from .test_suite_e2e import PASSWORD, SAKILA_TABLES, copies, delivery_args, migration  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------------------------------------ helpers

def every_output(run: SuiteRun, aws: Any, bucket: str | None, bodies: list[str]) -> dict[str, str]:
    """Every text a user or a reader of the notification can see, by where it was found."""
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for path in run.reports.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    if bucket:
        s3 = aws.client("s3")
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            texts[f"s3://{bucket}/{item['Key']}"] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() \
                .decode("utf-8", "replace")
    for i, body in enumerate(bodies):
        texts[f"sns#{i}"] = body
    return texts


def assert_no_secret(texts: dict[str, str], *secrets: str) -> None:
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret value appears in {where}"


class TargetTableLock:
    """Holds ACCESS EXCLUSIVE on a target table, so the run's query of that table waits (a case in flight)."""

    def __init__(self, database: str, table: str) -> None:
        self.database = database
        self.conn = psycopg.connect(pg_dsn(database))
        self.conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")

    def wait_for_blocked_query(self, deadline_s: float = 90) -> None:
        started = time.monotonic()
        with psycopg.connect(pg_dsn(self.database), autocommit=True) as probe:
            while time.monotonic() - started < deadline_s:
                blocked = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                                        "wait_event_type = 'Lock' AND state = 'active'", (self.database,)).fetchone()
                if blocked and blocked[0]:
                    return
                time.sleep(0.2)
        raise AssertionError(f"no query of the run waited on the lock within {deadline_s:.0f}s")

    def waiting_queries(self) -> int:
        with psycopg.connect(pg_dsn(self.database), autocommit=True) as probe:
            row = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                                "AND pid <> pg_backend_pid()", (self.database,)).fetchone()
        return int(row[0]) if row else 0

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


@pytest.fixture
def target_lock() -> Iterator[Callable[[str, str], TargetTableLock]]:
    locks: list[TargetTableLock] = []

    def lock(database: str, table: str) -> TargetTableLock:
        locks.append(TargetTableLock(database, table))
        return locks[-1]

    yield lock
    for held in locks:
        held.release()


def wait_for_delivery(reports: Path, deadline_s: float = 90) -> dict[str, Any]:
    """results.json once delivery has been recorded in it (the run may still be exiting)."""
    started = time.monotonic()
    path = reports / "results.json"
    while time.monotonic() - started < deadline_s:
        if path.exists():
            document = json.loads(path.read_text())
            if document["run"].get("delivery") is not None:
                return document
        time.sleep(0.2)
    raise AssertionError(f"no delivered results.json in {reports} within {deadline_s:.0f}s")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def kill_xdist_workers(controller_pid: int) -> None:
    """kill -9 every xdist worker of a run (the controller's child processes)."""
    workers = children_of(controller_pid)
    assert workers, "the xdist worker process was not found"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)


def assert_incomplete_everywhere(run: SuiteRun, aws: Any, queue_url: str, missing: set[str]) -> str:
    """Verdict incomplete in results.json, the HTML, JUnit and SNS; returns the SNS body."""
    results = run.results
    assert results["run"]["verdict"] == "incomplete"
    assert missing <= set(results["run"]["missing_cases"])
    assert results["run"]["counts"]["missing"] == len(results["run"]["missing_cases"])
    assert run.returncode != 0
    html = (run.reports / "report.html").read_text()
    assert "INCOMPLETE" in html and 'id="dmsval-missing"' in html
    for case_id in missing:
        assert case_id in html
    junit = ElementTree.parse(run.reports / "junit.xml").getroot()
    properties = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert properties["dmsval_verdict"] == "incomplete"
    errored = {c.get("name") for c in junit.iter("testcase") if c.find("error") is not None}
    assert {f"test_check[{c}]" for c in missing} <= errored
    messages = delivered_messages(aws, queue_url)
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith("dmsval INCOMPLETE: ")
    body = messages[0]["Message"]
    listed = sorted(results["run"]["missing_cases"])[:sns_text.MAX_MISSING_LISTED]
    for case_id in missing & set(listed):
        assert f"not run: {case_id}" in body
    assert all(f"not run: {case_id}" in body for case_id in listed)
    assert messages[0]["MessageAttributes"]["verdict"]["Value"] == "incomplete"
    return body


# ------------------------------------------------------------------------------------------------ tests

def test_deselected_cases_make_the_run_incomplete(migration, run_suite, aws):
    m = migration("clean")
    run = run_suite(*delivery_args(m), "-k", "row_count", event=m.event)
    planned = set(run.results["run"]["planned_cases"])
    ran = {c["case_id"] for c in run.results["cases"]}
    assert ran == {c for c in planned if c.startswith("row_count[")} and len(ran) == SAKILA_TABLES
    assert run.returncode == 1
    body = assert_incomplete_everywhere(run, aws, m.made.queue_url, planned - ran)
    assert "deselected with -k/-m" in body
    assert "dmsval INCOMPLETE" in run.stdout


def test_collect_only_validates_nothing_and_publishes_nothing(migration, run_suite, aws):
    m = migration("clean")
    run = run_suite(*delivery_args(m), "--collect-only", "-q", event=m.event)
    assert "nothing was validated, written or delivered" in run.stdout
    assert not (run.reports / "results.json").exists()
    assert delivered_messages(aws, m.made.queue_url, wait_s=1) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_reports_what_it_has_as_incomplete(migration, start_suite, target_lock, aws, signum):
    m = migration("clean")
    lock = target_lock(m.database, "sakila.rental")
    suite = start_suite(*delivery_args(m), "--checks", "row_count", "-n", "0", event=m.event)
    lock.wait_for_blocked_query()
    os.kill(suite.process.pid, signum)
    document = wait_for_delivery(suite.reports)
    run = suite.finish(timeout_s=60)  # exits with the lock still held: its in-flight query was cancelled
    assert lock.waiting_queries() == 0  # no query of the interrupted run is left on the server
    lock.release()
    assert document["run"]["verdict"] == "incomplete"
    assert "row_count[sakila.rental]" in document["run"]["missing_cases"]
    body = assert_incomplete_everywhere(run, aws, m.made.queue_url, {"row_count[sakila.rental]"})
    assert "interrupted" in body


def test_a_killed_worker_leaves_its_case_missing_not_passed(migration, start_suite, target_lock, aws):
    m = migration("clean")
    lock = target_lock(m.database, "sakila.rental")
    suite = start_suite(*delivery_args(m), "--checks", "row_count", "-n", "1", event=m.event)
    lock.wait_for_blocked_query()
    kill_xdist_workers(suite.process.pid)
    lock.release()
    run = suite.finish(timeout_s=180)
    results = run.results
    assert "row_count[sakila.rental]" in results["run"]["missing_cases"]
    assert any("died" in r and "row_count[sakila.rental]" in r for r in results["run"]["incomplete_reasons"])
    assert_incomplete_everywhere(run, aws, m.made.queue_url, {"row_count[sakila.rental]"})


def test_an_s3_failure_still_sends_the_summary_and_both_outcomes_are_recorded(migration, run_suite, aws):
    m = migration("clean")
    run = run_suite("--checks", "row_count", "--s3-uri", "s3://no-such-bucket/x", "--sns-topic-arn",
                    m.made.topic_arn, event=m.event)
    assert run.returncode == 1
    delivery = run.results["run"]["delivery"]
    assert delivery["s3"]["status"] == "failed" and "NoSuchBucket" in delivery["s3"]["detail"]
    assert delivery["sns"]["status"] == "delivered"
    messages = delivered_messages(aws, m.made.queue_url)
    assert len(messages) == 1
    body = messages[0]["Message"]
    assert "the S3 upload failed" in body and str(run.reports / "report.html") in body
    assert messages[0]["Subject"].startswith("dmsval PASSED")  # the data verdict; delivery is recorded apart
    html = (run.reports / "report.html").read_text()
    assert "S3: failed" in html and "SNS: delivered" in html


def test_a_failed_publish_is_recorded_beside_a_good_upload(migration, run_suite, aws):
    m = migration("clean")
    gone = m.made.topic_arn + "-gone"
    run = run_suite("--checks", "row_count", "--s3-uri", f"s3://{m.made.bucket}/v", "--sns-topic-arn", gone,
                    event=m.event)
    assert run.returncode == 1
    delivery = run.results["run"]["delivery"]
    assert delivery["s3"]["status"] == "delivered" and delivery["sns"]["status"] == "failed"
    assert "dmsval DELIVERY FAILED: SNS summary" in run.stdout


def planning_failure(run: SuiteRun, aws: Any, m: Any, where: str) -> dict[str, Any]:
    assert run.returncode == 1, run.stderr[-2000:]
    results = run.results
    assert results["run"]["verdict"] == "error" and results["cases"] == []
    assert where in results["run"]["error"]["where"]
    assert (run.reports / "report.html").exists() and (run.reports / "junit.xml").exists()
    assert "The run could not" in (run.reports / "report.html").read_text()
    junit = ElementTree.parse(run.reports / "junit.xml").getroot()
    assert {p.get("name"): p.get("value") for p in junit.iter("property")}["dmsval_verdict"] == "error"
    messages = delivered_messages(aws, m.made.queue_url)
    assert len(messages) == 1 and messages[0]["Subject"].startswith("dmsval ERROR: task-clean")
    assert where in messages[0]["Message"]
    assert_no_secret(every_output(run, aws, m.made.bucket, [messages[0]["Message"]]), PASSWORD, "Wr0ng-Pass-77")
    return results


def test_a_refused_source_login_is_a_reported_run_error(migration, run_suite, aws):
    m = migration("clean")
    aws.client("secretsmanager").put_secret_value(SecretId="task-clean/source", SecretString=json.dumps(
        {"username": "dmsval_e2e_reader", "password": "Wr0ng-Pass-77", "host": "127.0.0.1", "port": 3306,
         "dbname": "sakila"}))
    results = planning_failure(run_suite(*delivery_args(m), event=m.event), aws, m, "source endpoint")
    assert results["run"]["error"]["stage"] == "connect to the source"
    assert "Access denied" in results["run"]["error"]["message"]


def test_a_deleted_target_secret_is_a_reported_run_error(migration, run_suite, aws):
    m = migration("clean")
    aws.client("secretsmanager").delete_secret(SecretId="task-clean/target", ForceDeleteWithoutRecovery=True)
    results = planning_failure(run_suite(*delivery_args(m), event=m.event), aws, m, "target endpoint")
    assert "secret task-clean/target" in results["run"]["error"]["where"]
    assert "cannot read secret" in results["run"]["error"]["message"]


def test_a_target_that_is_down_is_a_reported_run_error(migration, run_suite, aws):
    m = migration("clean")
    aws.client("secretsmanager").put_secret_value(SecretId="task-clean/target", SecretString=json.dumps(
        {"username": "postgres", "password": "Wr0ng-Pass-77", "host": "127.0.0.1", "port": 1, "dbname": "x"}))
    results = planning_failure(run_suite(*delivery_args(m), event=m.event), aws, m, "target endpoint")
    assert "cannot connect to target redshift postgres@127.0.0.1:1" in results["run"]["error"]["message"]


def test_results_json_is_as_readable_as_the_other_reports(migration, run_suite):
    m = migration("clean")
    run = run_suite("--checks", "row_count", event=m.event)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run.reports.iterdir()
             if p.name in ("results.json", "report.html", "junit.xml")}
    assert len(modes) == 3 and len(set(modes.values())) == 1, modes


def test_a_refused_target_login_is_a_reported_run_error(migration, run_suite, aws, redshift_shim):
    m = migration("clean")
    aws.client("secretsmanager").put_secret_value(SecretId="task-clean/target", SecretString=json.dumps(
        {"username": "no_such_role_x", "password": "Wr0ng-Pass-77", "host": "127.0.0.1",
         "port": redshift_shim.port, "dbname": m.database}))
    results = planning_failure(run_suite(*delivery_args(m), event=m.event), aws, m, "target endpoint")
    assert results["run"]["error"]["stage"] == "connect to the target"
    assert "no_such_role_x" in results["run"]["error"]["message"]


def test_masked_values_never_leak_through_database_error_text(migration, run_suite, aws, tmp_path):
    """A value quoted in a database error (here: a failed cast of a planted e-mail) is hidden like any row value."""
    planted = "leak.canary@example.org"
    m = migration("masking", [f"UPDATE sakila.customer SET email = '{planted}' WHERE customer_id = 9"])
    pair = tmp_path / "sql" / "cast_email"
    pair.mkdir(parents=True)
    (pair / "source.sql").write_text("SELECT customer_id FROM sakila.customer WHERE customer_id = 9")
    (pair / "target.sql").write_text("SELECT CAST(email AS INTEGER) FROM sakila.customer WHERE customer_id = 9")
    run = run_suite(*delivery_args(m), "--mask-values", "--sql-dir", str(tmp_path / "sql"), "--checks",
                    "custom_sql,row_diff", event=m.event)
    by_id = {c["case_id"]: c for c in run.results["cases"]}
    assert by_id["custom_sql[cast_email]"]["status"] == "error"
    assert "invalid input syntax for type integer" in by_id["custom_sql[cast_email]"]["message"]
    assert by_id["row_diff[sakila.customer]"]["status"] == "failed"  # the planted change is still found
    bodies = [msg["Message"] for msg in delivered_messages(aws, m.made.queue_url)]
    assert len(bodies) == 1 and "custom_sql[cast_email]" in bodies[0]
    assert_no_secret(every_output(run, aws, m.made.bucket, bodies), planted, PASSWORD)
