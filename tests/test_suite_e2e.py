"""The user's flow end to end: a stopped-task event -> `pytest tests_validation` -> reports, S3, SNS.

Source: Sakila in MariaDB. Target: a DMS-style copy in PostgreSQL reached through the Redshift shim with
redshift_connector (the target endpoint is a Redshift endpoint). AWS: moto in server mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psycopg
import pytest

from dmsval.aws.clients import AwsContext
from dmsval.events import stopped_event
from devstack import demo
from devstack.provision import (DbEndpoint, Provisioned, delivered_messages, ensure_mysql_reader,
                                         provision, put_latency)

from .conftest import create_pg_database, pg_dsn

pytestmark = pytest.mark.integration
PASSWORD = "e2e-Secret-Value-42"
READER = "dmsval_e2e_reader"


@dataclass(frozen=True)
class Migration:
    database: str
    made: Provisioned

    @property
    def event(self) -> dict:
        return stopped_event(self.made.task_arn)


@pytest.fixture(scope="session")
def copies(sakila, worker_id_suffix) -> Callable[..., tuple[str, dict[str, int]]]:
    """Factory: a DMS-style copy of Sakila (film_text excluded, as the demo's task does) with defects planted,
    made once per worker for each name and target (Redshift-typed, or PostgreSQL-typed for that route)."""
    made: dict[tuple[str, str], tuple[str, dict[str, int], list[str]]] = {}

    def make(name: str, plant: list[str], target: str = "redshift") -> tuple[str, dict[str, int]]:
        if (name, target) not in made:
            prefix = "dmsval_e2e" if target == "redshift" else f"dmsval_{target}_e2e"
            database = create_pg_database(f"{prefix}_{name}_{worker_id_suffix}")
            loaded = demo.dms_full_load(sakila, pg_dsn(database), target=target)
            with psycopg.connect(pg_dsn(database)) as conn:
                for statement in plant:
                    conn.execute(statement)
            made[(name, target)] = (database, loaded, list(plant))
        database, loaded, planted = made[(name, target)]
        # one name, one copy: a test asking for other defects under a name already used would get the wrong data
        assert planted == list(plant), f"copy {name!r} was made with other planted statements"
        return database, loaded

    return make


@pytest.fixture
def migration(aws: AwsContext, copies, redshift_shim, tmp_path, monkeypatch) -> Callable[..., Migration]:
    ensure_mysql_reader("127.0.0.1", 3306, READER, PASSWORD)

    def make(name: str, plant: list[str] | None = None, migration_type: str = "full-load") -> Migration:
        database, loaded = copies(name, plant or [])
        # DMS's table statistics, served by Stubber to the suite (moto lacks describe_table_statistics)
        stats = demo.write_table_statistics(loaded, tmp_path / f"stats-{name}.json")
        monkeypatch.setenv("DMSVAL_STUB_TABLE_STATISTICS", str(stats))
        made = provision(aws, name=f"task-{name}",
                         source=DbEndpoint("127.0.0.1", 3306, READER, PASSWORD, "sakila"),
                         target=DbEndpoint("127.0.0.1", redshift_shim.port, "postgres", PASSWORD, database),
                         table_mappings=demo.DEMO_TABLE_MAPPINGS, migration_type=migration_type)
        return Migration(database, made)

    return make


def delivery_args(m: Migration) -> list[str]:
    return ["--s3-uri", f"s3://{m.made.bucket}/validation", "--sns-topic-arn", m.made.topic_arn]


SAKILA_TABLES = 15  # 16 tables less film_text, excluded by the task's mapping


def test_clean_copy_passes_every_case(migration, run_suite):
    m = migration("clean")
    run = run_suite(event=m.event)
    assert run.returncode == 0, run.stdout[-3000:]
    statuses = run.statuses()
    assert sum(1 for c in statuses if c.startswith("row_count[")) == SAKILA_TABLES
    for check in ("row_diff", "schema", "aggregates", "dms_state"):
        assert sum(1 for c in statuses if c.startswith(f"{check}[")) == SAKILA_TABLES
    assert "row_count[sakila.film_text]" not in statuses
    assert set(statuses.values()) == {"passed"}
    by_id = {c["case_id"]: c for c in run.results["cases"]}
    # the task's mapping rules are honoured: source filter, table rename, removed column
    assert by_id["row_count[sakila.actor]"]["figures"]["source_rows"] == 150
    assert "WHERE (`actor_id` <= '150')" in by_id["row_count[sakila.actor]"]["sql"]["source"]
    assert by_id["row_count[sakila.language]"]["target_table"] == "sakila.languages"
    assert by_id["row_diff[sakila.staff]"]["details"]["removed_by_mapping"] == ["picture"]
    # DMS's own view beside ours, on every table case
    assert by_id["row_count[sakila.actor]"]["details"]["dms"]["FullLoadRows"] == 150
    assert by_id["dms_state[sakila.rental]"]["figures"]["TableState"] == "Table completed"
    assert {c for c in statuses if c.startswith("custom_sql[")} == {
        "custom_sql[sakila_payment_totals]", "custom_sql[sakila_customer_contact]",
        "custom_sql[sakila_films_by_rating]"}


def test_planted_defects_fail_in_the_right_tables_and_others_pass(migration, run_suite, aws):
    m = migration("defects", demo.PLANTED_SQL + ["DROP TABLE sakila.languages"])
    run = run_suite(*delivery_args(m), event=m.event)
    assert run.returncode == 1
    results = run.results
    failing = {c["case_id"] for c in results["cases"] if c["status"] != "passed"}
    assert failing == demo.EXPECTED_FAILURES | {f"{check}[sakila.language]" for check in
                                                ("row_count", "row_diff", "schema", "aggregates")}
    by_id = {c["case_id"]: c for c in results["cases"]}
    assert by_id["row_count[sakila.rental]"]["figures"] == {"source_rows": 16044, "target_rows": 16043,
                                                           "difference": -1}
    assert by_id["row_count[sakila.payment]"]["figures"]["target_rows"] == 16045
    assert by_id["row_count[sakila.language]"]["message"] == "target table sakila.languages does not exist"
    contact = by_id["custom_sql[sakila_customer_contact]"]
    assert [row[0] for row in contact["details"]["only_in_target"]] == [7]
    assert contact["details"]["only_in_target"][0][4] == "changed@example.com"
    assert by_id["row_diff[sakila.rental]"]["details"]["missing_keys"] == [["4242"]]
    assert by_id["row_diff[sakila.payment]"]["details"]["extra_keys"] == [["30000"]]
    assert by_id["row_diff[sakila.customer]"]["details"]["changed"] == [
        {"key": ["7"], "columns": {"email": ["MARIA.MILLER@sakilacustomer.org", "changed@example.com"]}}]
    assert by_id["aggregates[sakila.customer]"]["details"]["differences"] == [
        {"column": "email", "figure": "length_sum", "source": 19091, "target": 19079}]
    assert results["run"]["counts"] == {"passed": 64, "failed": 14, "skipped": 0, "error": 0, "missing": 0}
    assert results["run"]["verdict"] == "failed" and len(results["run"]["planned_cases"]) == 78
    assert results["run"]["task"]["identifier"] == "task-defects"
    assert results["run"]["target"]["engine_name"] == "redshift"

    # S3: the three files under s3://bucket/validation/<task-id>/<run-id>/
    run_id = results["run"]["run_id"]
    listed = aws.client("s3").list_objects_v2(Bucket=m.made.bucket, Prefix="validation/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"validation/task-defects/{run_id}/{name}"
                                               for name in ("junit.xml", "report.html", "results.json")]
    # SNS: one message, read back as delivered to a subscribed queue
    messages = delivered_messages(aws, m.made.queue_url)
    assert len(messages) == 1
    subject, body = messages[0]["Subject"], messages[0]["Message"]
    assert subject == "dmsval FAILED: task-defects - 14 failed, 0 errors, 64 passed"
    assert "64 passed, 14 failed, 0 skipped, 0 errors" in body
    assert "- FAILED row_count[sakila.rental] -> sakila.rental: source_rows=16044, target_rows=16043" in body
    assert f"Report: s3://{m.made.bucket}/validation/task-defects/{run_id}/report.html" in body
    assert messages[0]["MessageAttributes"]["verdict"]["Value"] == "failed"

    # the HTML report shows the failing case with its figures, and no secret appears anywhere
    html = (run.reports / "report.html").read_text()
    assert "row_count[sakila.rental]" in html and "16043" in html
    for path in run.reports.rglob("*"):  # the history copy under reports/history/ too
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path
    assert PASSWORD not in run.stdout + run.stderr + body


def test_parallel_run_gives_the_same_results_as_serial(migration, run_suite):
    m = migration("defects", demo.PLANTED_SQL + ["DROP TABLE sakila.languages"])
    serial = run_suite(event=m.event)
    parallel = run_suite("-n", "2", event=m.event)
    assert "2 workers" in parallel.stdout or "gw1" in parallel.stdout

    def essence(run):
        return sorted((c["case_id"], c["status"], str(c["figures"]), str(c["details"]))
                      for c in run.results["cases"])

    assert serial.returncode == parallel.returncode == 1
    assert essence(serial) == essence(parallel)
    assert len(essence(serial)) == 5 * SAKILA_TABLES + 3


def test_other_event_types_run_no_checks(migration, run_suite):
    m = migration("clean")
    event = m.event
    event["detail"]["eventType"] = "REPLICATION_TASK_STARTED"
    run = run_suite(event=event)
    assert run.returncode == 0
    assert "does not call for validation; only REPLICATION_TASK_STOPPED does" in run.stdout + run.stderr
    assert not (run.reports / "results.json").exists()


def test_malformed_event_and_unknown_task_are_usage_errors(migration, run_suite):
    m = migration("clean")
    bad = m.event
    bad["resources"] = []
    run = run_suite(event=bad)
    assert run.returncode == 4 and "has no task ARN" in run.stderr
    missing = stopped_event(m.made.task_arn.replace("task-clean", "task-gone"))
    run = run_suite(event=missing)
    assert run.returncode == 4 and "does not exist" in run.stderr
    run = run_suite()
    assert run.returncode == 4 and "pass --dms-event" in run.stderr


SHORT_WAIT = ("--cdc-wait-minutes", "0.05", "--cdc-poll-seconds", "1", "--cdc-metric-period", "1")


def test_cdc_gate_closed_skips_every_check_with_the_reason(migration, run_suite, aws):
    m = migration("clean", migration_type="full-load-and-cdc")
    run = run_suite(*delivery_args(m), *SHORT_WAIT, event=m.event)
    results = run.results
    assert run.returncode == 0
    gate = results["run"]["gate"]
    assert results["run"]["mode"] == "cdc" and gate["open"] is False
    assert {c["status"] for c in results["cases"]} == {"skipped"}
    assert all("no datapoints" in c["message"] for c in results["cases"])
    # it waited (3 s here, one reading a second) before giving up, and says so with every reading it took
    assert gate["waited_s"] >= 2 and len(gate["series"]) >= 2
    assert "still closed after waiting" in results["cases"][0]["message"]
    body = delivered_messages(aws, m.made.queue_url)[0]["Message"]
    assert "CDC gate:  CDC gate closed: no datapoints" in body

    put_latency(aws, m.made.instance_id, m.made.task_arn.rsplit(":", 1)[-1], 30.0, 1.0)
    over = run_suite("--cdc-wait-minutes", "0", event=m.event)  # one look
    assert {c["status"] for c in over.results["cases"]} == {"skipped"}
    assert "CDCLatencySource=30s" in over.results["cases"][0]["message"]
    assert len(over.results["run"]["gate"]["series"]) == 1


def test_cdc_gate_waits_for_the_latency_to_fall_then_validates(migration, start_suite, aws):
    m = migration("clean", migration_type="full-load-and-cdc")
    task_id = m.made.task_arn.rsplit(":", 1)[-1]
    put_latency(aws, m.made.instance_id, task_id, 30.0, 40.0)
    suite = start_suite("--cdc-wait-minutes", "1", "--cdc-poll-seconds", "1", "--cdc-metric-period", "1",
                        "--checks", "row_count", "-n", "0", event=m.event)
    waiting = suite.wait_for_line("CDC gate closed", timeout_s=60)  # the gate says it waits, and how long
    assert "reading again in 1 s (waited 0 s of at most 1 min)" in waiting
    time.sleep(1.1)  # a new 1-second datapoint bucket
    put_latency(aws, m.made.instance_id, task_id, 0.5, 1.0)  # DMS caught up
    run = suite.finish()
    gate = run.results["run"]["gate"]
    assert run.returncode == 0 and gate["open"] is True
    assert set(run.statuses().values()) == {"passed"}
    assert "opened after waiting" in gate["reason"]
    first, last = gate["series"][0], gate["series"][-1]
    assert first["CDCLatencyTarget"] == 40.0 and last["CDCLatencyTarget"] == 1.0
    report = (run.reports / "report.html").read_text()
    assert "<svg" in report and "CDC latency" in report  # the series the gate saw, as a chart


def test_cdc_gate_open_runs_the_checks(migration, run_suite, aws):
    m = migration("clean", migration_type="full-load-and-cdc")
    put_latency(aws, m.made.instance_id, m.made.task_arn.rsplit(":", 1)[-1], 0.5, 1.5)
    run = run_suite(event=m.event)
    assert run.returncode == 0
    assert run.results["run"]["gate"]["open"] is True
    assert set(run.statuses().values()) == {"passed"}


def test_upload_failure_is_reported_and_keeps_local_files(migration, run_suite):
    m = migration("clean")
    run = run_suite("--s3-uri", "s3://no-such-bucket/x", "--sns-topic-arn", m.made.topic_arn, event=m.event)
    assert run.returncode == 1
    assert "dmsval DELIVERY FAILED: S3 upload: upload of" in run.stdout and "NoSuchBucket" in run.stdout
    assert (run.reports / "results.json").exists() and (run.reports / "report.html").exists()
    assert (run.reports / "junit.xml").exists()


def test_large_tables_split_into_key_range_cases(migration, run_suite):
    m = migration("defects", demo.PLANTED_SQL + ["DROP TABLE sakila.languages"])
    run = run_suite("--checks", "row_diff", "--split-rows", "5000", "-n", "2", event=m.event)
    statuses = run.statuses()
    rental_parts = sorted(c for c in statuses if c.startswith("row_diff[sakila.rental#"))
    assert rental_parts == [f"row_diff[sakila.rental#{i}/4]" for i in range(1, 5)]
    by_id = {c["case_id"]: c for c in run.results["cases"]}
    missing = {c: by_id[c]["details"]["missing_keys"] for c in rental_parts if by_id[c]["details"]["missing_keys"]}
    assert list(missing.values()) == [[["4242"]]]  # exactly one part owns the missing row
    assert sum(by_id[c]["figures"]["source_rows"] for c in rental_parts) == 16044
    failing = {c for c, s in statuses.items() if s != "passed"}
    # the extra payment 30000 lies beyond the source's key range: the open-ended last part owns it
    assert failing == {next(iter(missing)), "row_diff[sakila.payment#4/4]", "row_diff[sakila.customer]",
                       "row_diff[sakila.language]"}


def test_three_shards_make_exactly_the_full_run(migration, run_suite):
    m = migration("defects", demo.PLANTED_SQL + ["DROP TABLE sakila.languages"])
    full = run_suite("--split-rows", "5000", event=m.event)
    shards = [run_suite("--split-rows", "5000", "--shard", f"{k}/3", event=m.event) for k in (1, 2, 3)]

    def essence(run):
        return {c["case_id"]: (c["status"], str(c["figures"]), str(c["details"])) for c in run.results["cases"]}

    union: dict = {}
    for shard in shards:
        cases = essence(shard)
        assert cases and not set(cases) & set(union), "a case ran in two shards"
        union.update(cases)
        assert shard.results["run"]["shard"] in ("1/3", "2/3", "3/3")
    assert union == essence(full)
    sizes = sorted(len(essence(s)) for s in shards)
    assert sizes[-1] - sizes[0] <= len(union) // 2  # balanced by cost, not piled onto one shard

    # ... and the merge of the three shards gives the same per-case results as the unsharded run
    merged_dir = full.reports.parent / "merged"
    done = subprocess.run([sys.executable, "-m", "dmsval.merge", *(str(s.reports / "results.json") for s in shards),
                           "--reports-dir", str(merged_dir)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # the planted defects fail
    merged = json.loads((merged_dir / "results.json").read_text())
    assert {c["case_id"]: (c["status"], str(c["figures"]), str(c["details"])) for c in merged["cases"]} \
        == essence(full)
    assert merged["run"]["counts"] == full.results["run"]["counts"]

    # two shards of three are not the run: the merged verdict is incomplete and names what ran in no shard
    partial = subprocess.run([sys.executable, "-m", "dmsval.merge", *(str(s.reports / "results.json")
                                                                      for s in shards[:2]),
                              "--reports-dir", str(full.reports.parent / "partial")],
                             capture_output=True, text=True, timeout=120)
    assert partial.returncode == 1, partial.stderr
    document = json.loads((full.reports.parent / "partial" / "results.json").read_text())
    assert document["run"]["verdict"] == "incomplete"
    assert set(document["run"]["missing_cases"]) == set(essence(shards[2])) and document["run"]["missing_cases"]
    assert any("ran in no given shard" in r for r in document["run"]["incomplete_reasons"])


def test_a_table_dms_reports_as_errored_fails_with_dms_reason(migration, run_suite, tmp_path, monkeypatch):
    m = migration("clean")
    tables = json.loads(Path(os.environ["DMSVAL_STUB_TABLE_STATISTICS"]).read_text())
    for table in tables:
        if table["TableName"] == "film":
            table.update(TableState="Table error", ValidationStateDetails="ORA-00001 style load failure on row 17")
    errored = tmp_path / "errored.json"
    errored.write_text(json.dumps(tables))
    monkeypatch.setenv("DMSVAL_STUB_TABLE_STATISTICS", str(errored))
    run = run_suite("--checks", "dms_state", event=m.event)
    assert run.returncode == 1
    statuses = run.statuses()
    assert {c for c, s in statuses.items() if s != "passed"} == {"dms_state[sakila.film]"}
    film = next(c for c in run.results["cases"] if c["case_id"] == "dms_state[sakila.film]")
    assert film["message"] == "DMS reports the table as errored: ORA-00001 style load failure on row 17"


def test_unavailable_dms_statistics_error_the_dms_state_cases(migration, run_suite, monkeypatch):
    m = migration("clean")
    monkeypatch.delenv("DMSVAL_STUB_TABLE_STATISTICS")  # moto itself answers describe_table_statistics with 500
    run = run_suite("--checks", "dms_state,row_count", event=m.event)
    assert run.returncode == 1
    statuses = run.statuses()
    assert {s for c, s in statuses.items() if c.startswith("dms_state[")} == {"error"}
    assert {s for c, s in statuses.items() if c.startswith("row_count[")} == {"passed"}
    assert "describe_table_statistics for" in run.results["run"]["dms_tables_error"]


def test_mask_values_hides_row_values_in_every_output(migration, run_suite, aws):
    m = migration("defects", demo.PLANTED_SQL + ["DROP TABLE sakila.languages"])
    run = run_suite("--mask-values", *delivery_args(m), event=m.event)
    assert run.returncode == 1
    by_id = {c["case_id"]: c for c in run.results["cases"]}
    changed = by_id["row_diff[sakila.customer]"]["details"]["changed"]
    assert changed[0]["key"][0].startswith("h:") and list(changed[0]["columns"]) == ["email"]
    source_value, target_value = changed[0]["columns"]["email"]
    assert source_value.startswith("h:") and target_value.startswith("h:") and source_value != target_value
    assert run.results["run"]["values_masked"] is True
    body = delivered_messages(aws, m.made.queue_url)[0]["Message"]
    outputs = [p.read_text(errors="replace") for p in run.reports.iterdir() if p.is_file()]
    for secret in ("changed@example.com", "MARIA.MILLER@sakilacustomer.org", "MARIA"):
        for text in outputs + [run.stdout, body]:
            assert secret not in text


def test_sns_message_links_the_report_with_a_presigned_url(migration, run_suite, aws):
    m = migration("clean")
    run = run_suite(*delivery_args(m), "--presign-expiry", "3600", event=m.event)
    assert run.returncode == 0
    body = delivered_messages(aws, m.made.queue_url)[0]["Message"]
    link = next(line.split(None, 1)[1] for line in body.splitlines() if line.startswith("Open:"))
    assert "X-Amz-Signature=" in link and "X-Amz-Expires=3600" in link and "report.html" in link
    import urllib.request
    with urllib.request.urlopen(link, timeout=10) as response:  # the link really serves the report
        assert b"row_count[sakila.rental]" in response.read()


def test_a_task_that_selects_no_table_is_a_reported_run_error(aws, run_suite, redshift_shim, databases):
    ensure_mysql_reader("127.0.0.1", 3306, READER, PASSWORD)
    made = provision(aws, name="task-empty", source=DbEndpoint("127.0.0.1", 3306, READER, PASSWORD, "sakila"),
                     target=DbEndpoint("127.0.0.1", redshift_shim.port, "postgres", PASSWORD, "postgres"),
                     table_mappings={"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                                                "rule-action": "include",
                                                "object-locator": {"schema-name": "sakila", "table-name": "nosuch%"}}]})
    run = run_suite(event=stopped_event(made.task_arn))
    assert run.returncode == 1  # the task exists: a wrong mapping or database is reported, not a usage error
    assert run.results["run"]["verdict"] == "error"
    assert "the TableMappings of task task-empty select no table of the source" in run.results["run"]["error"]["message"]
