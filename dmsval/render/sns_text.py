"""The SNS summary (subject + plain-text body) rendered from the results JSON document."""

from __future__ import annotations

from typing import Any

SUBJECT_LIMIT = 100  # SNS rejects longer subjects
BODY_LIMIT = 256 * 1024 - 4096  # SNS message limit is 256 KiB; keep room for attributes and encoding
MAX_LISTED = 200  # failing cases listed before "and N more"

_VERDICT_WORD = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}


def subject(results: dict[str, Any]) -> str:
    run = results["run"]
    c = run["counts"]
    text = (f"dmsval {_VERDICT_WORD[run['verdict']]}: {run['task']['identifier']} - "
            f"{c['failed']} failed, {c['error']} errors, {c['passed']} passed")
    # Subjects must be ASCII without newlines; trim the task name part rather than the verdict
    text = text.encode("ascii", "replace").decode().replace("\n", " ")
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def _figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in figures.items())


def body(results: dict[str, Any], report_location: str | None = None, report_link: str | None = None) -> str:
    run = results["run"]
    c = run["counts"]
    task = run["task"]
    lines = [
        f"DMS validation {_VERDICT_WORD[run['verdict']]} for task {task['identifier']}",
        "",
        f"Task:      {task['arn']}",
        f"Instance:  {task['replication_instance']}",
        f"Type:      {task['migration_type']} (mode {run['mode']})",
        f"Run:       {run['run_id']} started {run['started_at']}",
        f"Results:   {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped, {c['error']} errors",
    ]
    if run.get("gate"):
        lines.append(f"CDC gate:  {run['gate']['reason']}")
    bad = [case for case in results["cases"] if case["status"] in ("failed", "error")]
    if bad:
        lines += ["", "Failing cases:"]
        for case in bad[:MAX_LISTED]:
            table = case.get("target_table") or case["subject"]
            detail = _figures(case["figures"]) if case["figures"] else case["message"]
            lines.append(f"- {case['status'].upper()} {case['case_id']} -> {table}: {detail}")
        if len(bad) > MAX_LISTED:
            lines.append(f"... and {len(bad) - MAX_LISTED} more")
    skipped = [case for case in results["cases"] if case["status"] == "skipped"]
    if skipped and not bad:
        reasons = sorted({case["message"] for case in skipped})
        lines += ["", "Skipped because:"] + [f"- {r}" for r in reasons[:10]]
    lines += ["", f"Report: {report_location or 'written locally (no S3 upload configured)'}"]
    if report_link:
        lines.append(f"Open:   {report_link}")
    text = "\n".join(lines) + "\n"
    if len(text.encode("utf-8")) > BODY_LIMIT:
        text = text.encode("utf-8")[:BODY_LIMIT].decode("utf-8", "ignore") + "\n[truncated]\n"
    return text
