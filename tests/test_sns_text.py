from dmsval.render import sns_text
from dmsval.results import CaseResult, RunResults


def results(n_failed: int, task_identifier: str = "sakila-to-redshift") -> dict:
    run = {"run_id": "r1", "started_at": "2026-01-01T00:00:00+00:00", "mode": "full", "gate": None,
           "task": {"identifier": task_identifier, "arn": "arn:aws:dms:us-east-1:1:task:X", "migration_type":
                    "full-load", "replication_instance": "inst"}}
    cases = [CaseResult(f"row_count[s.t{i}]", "row_count", f"s.t{i}", "failed", "differs", f"s.t{i}", f"s.t{i}",
                        {"source_rows": i, "target_rows": i + 1}) for i in range(n_failed)]
    cases.append(CaseResult("row_count[s.ok]", "row_count", "s.ok", "passed", "ok"))
    return RunResults(run, tuple(cases)).to_dict()


def test_subject_carries_verdict_and_fits_100_characters():
    subject = sns_text.subject(results(3, task_identifier="x" * 300))
    assert subject.startswith("dmsval FAILED: xxx") and len(subject) <= 100


def test_body_lists_counts_failing_tables_figures_and_report():
    body = sns_text.body(results(2), "s3://b/p/report.html")
    assert "1 passed, 2 failed, 0 skipped, 0 errors" in body
    assert "- FAILED row_count[s.t1] -> s.t1: source_rows=1, target_rows=2" in body
    assert "Report: s3://b/p/report.html" in body


def test_thousands_of_failures_stay_within_the_sns_limit():
    body = sns_text.body(results(5000))
    assert len(body.encode("utf-8")) <= 256 * 1024
    assert f"... and {5000 - sns_text.MAX_LISTED} more" in body
