"""python -m dmsval.merge: several results files -> one results JSON, one HTML report, S3, one SNS message."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dmsval import merge
from devstack import demo
from devstack.provision import delivered_messages
from dmsval.results import SCHEMA, load_results

from .conftest import REPO
from .test_suite_e2e import copies, migration  # noqa: F401

COPY = "planted"  # the demo's defects only (test_suite_e2e's "defects" copy also drops a table)


def _doc(task: str, *cases: tuple[str, str], shard: str | None = None) -> dict[str, Any]:
    arn = f"arn:aws:dms:eu-west-1:123456789012:task:{task}"
    return {"schema": SCHEMA, "run": {
        "run_id": f"run-{task}-{shard}", "started_at": "2026-11-29T04:00:00+00:00",
        "finished_at": "2026-11-29T04:00:10+00:00", "mode": "full", "task": {"arn": arn, "identifier": task},
        "checks": sorted({c.split("[")[0] for c, _ in cases}), "tables": 3, "shard": shard,
        "counts": {}, "verdict": "?"},
        "cases": [{"case_id": c, "check": c.split("[")[0], "subject": c.split("[")[1][:-1], "status": s,
                   "message": "", "source_table": None, "target_table": None, "figures": {}, "sql": {},
                   "details": {}, "duration_s": 0.0, "error": None, "nodeid": None} for c, s in cases]}


def test_merge_documents_recomputes_counts_and_lists_the_inputs():
    first = _doc("T", ("row_count[s.a]", "passed"), ("row_count[s.b]", "skipped"), shard="1/2")
    second = _doc("T", ("row_diff[s.a]", "error"), shard="2/2")
    second["run"]["started_at"], second["run"]["finished_at"] = "2026-11-29T03:59:00+00:00", "2026-11-29T04:01:00+00:00"
    merged = merge.merge_documents([("a.json", first), ("b.json", second)])
    run = merged["run"]
    assert run["counts"] == {"passed": 1, "failed": 0, "skipped": 1, "error": 1, "missing": 0} and run["verdict"] == "error"
    assert [c["case_id"] for c in merged["cases"]] == ["row_count[s.a]", "row_count[s.b]", "row_diff[s.a]"]
    assert run["checks"] == ["row_count", "row_diff"] and run["shard"] is None
    assert (run["started_at"], run["finished_at"], run["duration_s"]) == (
        "2026-11-29T03:59:00+00:00", "2026-11-29T04:01:00+00:00", 120.0)
    assert run["run_id"] not in ("run-T-1/2", "run-T-2/2")  # its own S3 folder
    assert [(m["path"], m["run_id"], m["shard"], m["cases"]) for m in run["merged_from"]] == [
        ("a.json", "run-T-1/2", "1/2", 2), ("b.json", "run-T-2/2", "2/2", 1)]
    # all skipped -> skipped; passed + skipped -> passed
    assert merge.merge_documents([("a", _doc("T", ("x[1]", "skipped")))])["run"]["verdict"] == "skipped"
    assert merge.merge_documents([("a", first)])["run"]["verdict"] == "passed"


def test_merge_refuses_duplicates_other_tasks_and_other_schemas(tmp_path: Path):
    a = _doc("T", ("row_count[s.a]", "passed"), ("row_count[s.b]", "passed"))
    b = _doc("T", ("row_count[s.b]", "failed"), ("row_count[s.c]", "passed"))
    with pytest.raises(merge.MergeError, match=r"1 duplicate case id\(s\): row_count\[s.b\] \(in a.json, b.json\)"):
        merge.merge_documents([("a.json", a), ("b.json", b)])
    with pytest.raises(merge.MergeError, match="b.json is about task .*:task:U, a.json about .*:task:T"):
        merge.merge_documents([("a.json", a), ("b.json", _doc("U", ("row_count[s.z]", "passed")))])
    other = tmp_path / "other.json"
    other.write_text('{"schema": "dmsval.results/0", "run": {}, "cases": []}')
    with pytest.raises(merge.MergeError, match="other.json is not a dmsval.results/1 document"):
        merge.load_inputs([other])
    assert merge.main([str(other), "--reports-dir", str(tmp_path / "out")]) == merge.EXIT_USAGE
    runless = tmp_path / "runless.json"
    runless.write_text('{"schema": "dmsval.results/1", "cases": []}')
    with pytest.raises(merge.MergeError, match="runless.json has no 'run' object"):
        merge.load_inputs([runless])
    assert merge.main([str(runless), "--reports-dir", str(tmp_path / "out")]) == merge.EXIT_USAGE
    assert merge.main([str(tmp_path / "nope.json"), "--reports-dir", str(tmp_path / "out")]) == merge.EXIT_USAGE


def _merge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dmsval.merge", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.integration
def test_merge_two_real_runs_reports_and_publishes_once(migration, run_suite, aws, tmp_path):  # noqa: F811
    m = migration(COPY, demo.PLANTED_SQL)
    counts = run_suite("--checks", "row_count", event=m.event)
    diffs = run_suite("--checks", "row_diff", event=m.event)
    inputs = [str(counts.reports / "results.json"), str(diffs.reports / "results.json")]
    out = tmp_path / "merged"
    done = _merge(*inputs, "--reports-dir", str(out), "--s3-uri", f"s3://{m.made.bucket}/validation",
                  "--sns-topic-arn", m.made.topic_arn, "--aws-endpoint-url", aws.endpoint_url)
    assert done.returncode == 1, done.stdout + done.stderr  # planted defects: failed

    merged = load_results(out / "results.json").to_dict()
    run = merged["run"]
    assert run["counts"] == {"passed": 25, "failed": 5, "skipped": 0, "error": 0, "missing": 0} and run["verdict"] == "failed"
    assert json.loads((out / "results.json").read_text())["run"]["counts"] == run["counts"]
    assert len(merged["cases"]) == 2 * demo_tables(counts) == 30
    failing = {c["case_id"] for c in merged["cases"] if c["status"] == "failed"}
    assert failing == {"row_count[sakila.rental]", "row_count[sakila.payment]", "row_diff[sakila.rental]",
                       "row_diff[sakila.payment]", "row_diff[sakila.customer]"}
    assert [m_["path"] for m_ in run["merged_from"]] == inputs
    assert [m_["run_id"] for m_ in run["merged_from"]] == [counts.results["run"]["run_id"],
                                                           diffs.results["run"]["run_id"]]
    assert run["checks"] == ["row_count", "row_diff"] and run["task"]["identifier"] == "task-planted"

    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and not re.search(r'(src|href)="https?:', html)  # self-contained
    assert "row_diff[sakila.customer]" in html and "changed@example.com" in html and ">FAILED</span>" in html

    # S3: the merged files in their own run folder; SNS: exactly one message, read back as delivered
    listed = aws.client("s3").list_objects_v2(Bucket=m.made.bucket, Prefix="validation/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"validation/task-planted/{run['run_id']}/{name}"
                                               for name in ("report.html", "results.json")]
    messages = delivered_messages(aws, m.made.queue_url)
    assert len(messages) == 1
    assert messages[0]["Subject"] == "dmsval FAILED: task-planted - 5 failed, 0 errors, 25 passed"
    body = messages[0]["Message"]
    assert "25 passed, 5 failed, 0 skipped, 0 errors" in body
    assert "- FAILED row_diff[sakila.customer] -> sakila.customer" in body
    assert f"Report: s3://{m.made.bucket}/validation/task-planted/{run['run_id']}/report.html" in body
    assert "Open:   http" in body and "X-Amz-Signature=" in body  # the same delivery path as a run: presigned link
    assert run["delivery"]["s3"]["status"] == "delivered" and run["delivery"]["sns"]["status"] == "delivered"
    assert messages[0]["MessageAttributes"]["verdict"]["Value"] == "failed"

    # the same shard twice (a copy): duplicate case ids, named; nothing written, nothing published
    copy = tmp_path / "copy.json"
    shutil.copy(inputs[0], copy)
    dup = _merge(inputs[0], str(copy), "--reports-dir", str(tmp_path / "dup"), "--sns-topic-arn", m.made.topic_arn,
                 "--aws-endpoint-url", aws.endpoint_url)
    assert dup.returncode == merge.EXIT_USAGE
    assert "15 duplicate case id(s): row_count[sakila.actor] (in " in dup.stderr
    assert "row_count[sakila.rental]" in dup.stderr
    assert not (tmp_path / "dup").exists() and delivered_messages(aws, m.made.queue_url, wait_s=0) == []

    # passing inputs only -> exit 0
    passing = tmp_path / "passing.json"
    document = counts.results
    document["cases"] = [c for c in document["cases"] if c["status"] == "passed"]
    document["run"]["planned_cases"] = [c["case_id"] for c in document["cases"]]
    passing.write_text(json.dumps(document))
    ok = _merge(str(passing), "--reports-dir", str(tmp_path / "ok"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "dmsval merge PASSED: 13 passed, 0 failed" in ok.stdout


def demo_tables(run) -> int:
    return run.results["run"]["tables"]


def test_shards_that_left_a_planned_case_unrun_merge_into_an_incomplete_run():
    whole = ["row_count[s.a]", "row_count[s.b]", "row_diff[s.a]"]
    first = _doc("T", ("row_count[s.a]", "passed"), ("row_count[s.b]", "passed"), shard="1/2")
    second = _doc("T", shard="2/2")  # its case never ran (the shard's worker died, or it was interrupted)
    for document, mine in ((first, whole[:2]), (second, whole[2:])):
        document["run"].update(run_cases=whole, planned_cases=mine)
    second["run"]["incomplete_reasons"] = ["the run was interrupted (Ctrl-C, SIGINT or SIGTERM) before every case ran"]
    merged = merge.merge_documents([("a.json", first), ("b.json", second)])["run"]
    assert merged["verdict"] == "incomplete" and merged["missing_cases"] == ["row_diff[s.a]"]
    assert merged["counts"]["missing"] == 1 and merged["planned_cases"] == sorted(whole)
    assert "interrupted" in merged["incomplete_reasons"][0]
    # a shard alone is not the run: what the others planned is missing too
    alone = merge.merge_documents([("a.json", first)])["run"]
    assert alone["verdict"] == "incomplete" and alone["missing_cases"] == ["row_diff[s.a]"]
    assert any("ran in no given shard" in r for r in alone["incomplete_reasons"])
    # shards that planned different runs cannot be merged at all
    second["run"]["run_cases"] = whole + ["schema[s.a]"]
    with pytest.raises(merge.MergeError, match="planned different cases"):
        merge.merge_documents([("a.json", first), ("b.json", second)])


def test_the_verdict_counts_planned_cases_without_a_result():
    from dmsval.results import CaseResult, RunResults, verdict_of

    case = CaseResult("row_count[s.a]", "row_count", "s.a", "passed")
    failed = CaseResult("row_count[s.b]", "row_count", "s.b", "failed")
    assert RunResults({"planned_cases": ["row_count[s.a]"]}, (case,)).verdict == "passed"
    assert RunResults({"planned_cases": ["row_count[s.a]", "row_count[s.b]"]}, (case,)).verdict == "incomplete"
    assert RunResults({"planned_cases": ["row_count[s.a]", "x[y]"]}, (case, failed)).verdict == "incomplete"
    assert RunResults({"planned_cases": ["row_count[s.a]", "row_count[s.b]"]}, (case, failed)).verdict == "failed"
    assert RunResults({"planned_cases": [], "error": {"stage": "plan"}}, ()).verdict == "error"
    assert verdict_of({"passed": 0, "failed": 0, "skipped": 0, "error": 0, "missing": 0}) == "skipped"
    assert RunResults({}, (case,)).verdict == "passed"  # an old document without a plan: nothing known missing
