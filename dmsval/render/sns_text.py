"""The SNS summary (subject + plain-text body) rendered from the results JSON document."""

from __future__ import annotations

from typing import Any

from .html import diagnosis_text

SUBJECT_LIMIT = 100  # SNS rejects longer subjects
BODY_LIMIT = 256 * 1024 - 4096  # SNS message limit is 256 KiB; keep room for attributes and encoding
MAX_LISTED = 200  # failing cases listed before "and N more"

_VERDICT_WORD = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED",
                 "incomplete": "INCOMPLETE"}
MAX_MISSING_LISTED = 50  # missing case ids listed before "and N more"


def subject(results: dict[str, Any]) -> str:
    run = results["run"]
    c = run["counts"]
    if run.get("error"):
        tail = f"run error at {run['error'].get('stage', 'planning')}"
    elif c.get("missing"):
        tail = f"{c['missing']} of {len(run.get('planned_cases') or [])} cases did not run, {c['failed']} failed"
    else:
        tail = f"{c['failed']} failed, {c['error']} errors, {c['passed']} passed"
    def ascii_line(value: str) -> str:  # subjects must be ASCII without newlines
        return value.encode("ascii", "replace").decode().replace("\n", " ").replace("\r", " ")

    head, tail = f"dmsval {_VERDICT_WORD[run['verdict']]}: ", ascii_line(f" - {tail}")
    task = ascii_line(str(run["task"]["identifier"]))
    room = SUBJECT_LIMIT - len(head) - len(tail)
    if len(task) > room:  # the verdict and the counts are what a subject is read for: the task name gives way
        task = task[: max(room - 3, 0)] + "..."
    return (head + task + tail)[:SUBJECT_LIMIT]


def _figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in figures.items())


def body(results: dict[str, Any], report_location: str | None = None, report_link: str | None = None,
         delivery_note: str | None = None) -> str:
    run = results["run"]
    c = run["counts"]
    task = run["task"]
    lines = [
        f"DMS validation {_VERDICT_WORD[run['verdict']]} for task {task['identifier']}",
        "",
        f"Task:      {task['arn']}",
        f"Instance:  {task.get('replication_instance')}",
        f"Type:      {task.get('migration_type')} (mode {run.get('mode')})",
        f"Run:       {run['run_id']} started {run['started_at']}",
        f"Results:   {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped, {c['error']} errors"
        + (f", {c['missing']} did not run" if c.get("missing") else ""),
    ]
    if run.get("error"):
        error = run["error"]
        lines += ["", f"The run could not {error.get('stage', 'plan')}: {error.get('message')}"]
        if error.get("where"):
            lines.append(f"Where:     {error['where']}")
    missing = run.get("missing_cases") or []
    if missing:
        lines += ["", f"INCOMPLETE: {len(missing)} of {len(run.get('planned_cases') or [])} planned cases did not "
                      "run, so this run proves nothing about them:"]
        lines += [f"- {reason}" for reason in run.get("incomplete_reasons") or []]
        lines += [f"- not run: {case_id}" for case_id in missing[:MAX_MISSING_LISTED]]
        if len(missing) > MAX_MISSING_LISTED:
            lines.append(f"... and {len(missing) - MAX_MISSING_LISTED} more")
    if run.get("history"):  # the comparison with the previous run of the task (absent in version-1 documents)
        lines.append(f"History:   {run['history'].get('summary')}")
    if run.get("gate"):
        lines.append(f"CDC gate:  {run['gate']['reason']}")
    bad = [case for case in results["cases"] if case["status"] in ("failed", "error")]
    if bad:
        lines += ["", "Failing cases:"]
        for case in bad[:MAX_LISTED]:
            table = case.get("target_table") or case["subject"]
            detail = _figures(case["figures"]) if case["figures"] else case["message"]
            lines.append(f"- {case['status'].upper()} {case['case_id']} -> {table}: {detail}")
            for diagnosis in (case.get("details") or {}).get("diagnoses") or []:
                lines.append(f"    diagnosis: {diagnosis_text(diagnosis)}")
        if len(bad) > MAX_LISTED:
            lines.append(f"... and {len(bad) - MAX_LISTED} more")
    skipped = [case for case in results["cases"] if case["status"] == "skipped"]
    if skipped and not bad:
        reasons = sorted({case["message"] for case in skipped})
        lines += ["", "Skipped because:"] + [f"- {r}" for r in reasons[:10]]
    lines += ["", f"Report: {report_location or 'written locally (no S3 upload configured)'}"]
    if delivery_note:
        lines.append(f"Note:   {delivery_note}")
    if report_link:
        lines.append(f"Open:   {report_link}")
    text = "\n".join(lines) + "\n"
    if len(text.encode("utf-8")) > BODY_LIMIT:
        text = text.encode("utf-8")[:BODY_LIMIT].decode("utf-8", "ignore") + "\n[truncated]\n"
    return text
