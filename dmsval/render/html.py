"""HTML fragments for the pytest-html report, rendered from CaseResult dictionaries and run metadata."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = ("<style>.dmsval-case table{border-collapse:collapse;margin:4px 0}"
          ".dmsval-case td,.dmsval-case th{border:1px solid #ccc;padding:2px 6px;font-size:12px;text-align:left}"
          ".dmsval-case pre{background:#f6f6f6;padding:4px;white-space:pre-wrap}"
          ".dmsval-case .diff,.dmsval-case td.diff{background:#ffd0d0;color:#600;font-weight:bold}"
          ".dmsval-case td{color:#222}.dmsval-case summary{cursor:pointer;color:#036}"
          ".dmsval-verdict{font-size:20px;font-weight:bold;padding:4px 10px;display:inline-block}"
          ".dmsval-verdict.failed,.dmsval-verdict.error{background:#c0392b;color:#fff}"
          ".dmsval-verdict.passed{background:#27ae60;color:#fff}.dmsval-verdict.skipped{background:#999;color:#fff}"
          ".dmsval-verdict.incomplete{background:#e67e22;color:#fff}"
          ".dmsval-alert{border-left:4px solid #e67e22;background:#fff4e5;padding:4px 8px;margin:6px 0}"
          "</style>")

#: Marks the delivery block of the run header, rewritten in the local report once delivery has happened
DELIVERY_MARK = "dmsval-delivery"


def _table(header: list[str] | None, rows: list[list[Any]], css: str = "") -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header or [])
    body = "".join("<tr>" + "".join(f"<td>{escape('NULL' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f'<table class="{css}">' + (f"<tr>{head}</tr>" if head else "") + f"{body}</table>"


def case_fragment(case: dict[str, Any]) -> str:
    parts = [_STYLE, '<div class="dmsval-case">',
             f"<p><b>{escape(case['status'].upper())}</b> {escape(case['message'])}</p>"]
    if case.get("source_table"):
        parts.append(f"<p>source <code>{escape(case['source_table'])}</code> &rarr; target "
                     f"<code>{escape(case['target_table'] or '')}</code></p>")
    if case.get("figures"):
        parts.append(_table(["figure", "value"], [[k, v] for k, v in case["figures"].items()]))
    details = case.get("details") or {}
    columns = details.get("columns") or []
    for side in ("only_in_source", "only_in_target"):
        rows = details.get(side)
        if rows:
            parts.append(f"<p>Rows {side.replace('_', ' ')} (first {len(rows)}):</p>")
            parts.append(_table(columns or [f"c{i + 1}" for i in range(len(rows[0]))], rows, "diff"))
    parts += _row_diff_fragments(details)
    for diagnosis in details.get("diagnoses") or []:
        parts.append(f'<p class="dmsval-alert dmsval-diagnosis"><b>Diagnosis</b> {escape(diagnosis_text(diagnosis))}</p>')
    for note in details.get("notes") or []:
        parts.append(f'<p class="dmsval-note">Note: {escape(str(note))}</p>')
    if details.get("dms"):
        shown = {k: v for k, v in details["dms"].items() if k not in ("SchemaName", "TableName")}
        parts.append("<p>DMS table statistics:</p>" + _table(list(shown), [list(shown.values())]))
    if details.get("differences"):
        parts.append("<p>Differing aggregates:</p>" + _table(["column", "figure", "source", "target"],
                     [[d["column"], d["figure"], d["source"], d["target"]] for d in details["differences"]], "diff"))
    if details.get("columns") and isinstance(details["columns"][0], dict):
        parts.append("<p>Columns:</p>" + _table(["column", "source type", "expected", "target type", "verdict",
                                                 "reason"],
                     [[c.get("column"), c.get("source_type"), c.get("expected_type"), c.get("target_type"),
                       c.get("verdict"), c.get("reason")] for c in details["columns"]]))
    for side, sql in (case.get("sql") or {}).items():
        parts.append(f"<details><summary>SQL on the {escape(side)}</summary><pre>{escape(sql)}</pre></details>")
    if case.get("error"):
        parts.append(f"<p>Error:</p><pre>{escape(case['error'])}</pre>")
    parts.append("</div>")
    return "".join(parts)


def run_header(run: dict[str, Any]) -> str:
    task = run["task"]
    rows = [
        ["Task", f"{task['identifier']} ({task['arn']})"],
        ["Replication instance", task["replication_instance"]],
        ["Migration type / mode", f"{task['migration_type']} / {run['mode']}"],
        ["Task settings", ", ".join(f"{k}={v}" for k, v in (task.get("settings") or {}).items() if v is not None)],
        ["Trigger", f"{run['trigger']['kind']} {run['trigger'].get('event_type') or ''}".strip()],
        ["Source", f"{run['source']['engine_name']} {run['source']['identifier']}"],
        ["Target", f"{run['target']['engine_name']} {run['target']['identifier']}"],
        ["Run", f"{run['run_id']} started {run['started_at']}"
                + (f", finished {run['finished_at']} ({run.get('duration_s')} s)" if run.get("finished_at") else "")],
        ["Tables", run["tables"]],
    ]
    if run.get("gate"):
        rows.append(["CDC gate", run["gate"]["reason"]])
    verdict = ""
    if run.get("verdict"):
        c = run["counts"]
        missing = f', {c["missing"]} did not run' if c.get("missing") else ""
        verdict = (f'<p><span class="dmsval-verdict {escape(run["verdict"])}">{escape(run["verdict"].upper())}</span> '
                   f'{c["passed"]} passed, {c["failed"]} failed, {c["skipped"]} skipped, {c["error"]} errors'
                   f'{missing}</p>')
    return (_STYLE + '<div class="dmsval-case"><h2>DMS validation run</h2>' + verdict + run_alerts(run)
            + _table(None, rows) + delivery_block(run.get("delivery")) + "</div>")


def diagnosis_text(diagnosis: dict[str, Any]) -> str:
    """"email: 459 of 603 rows differ; all consistent with ...; likely cause: ..." from a Diagnosis dict."""
    counted = (f"{diagnosis['differing']} of {diagnosis['compared']} rows differ"
               if diagnosis.get("differing") is not None and diagnosis.get("compared") is not None
               else f"{diagnosis.get('sampled')} sampled differences")
    return (f"{diagnosis['column']}: {counted}; {diagnosis['summary']}; likely cause: {diagnosis['likely_cause']}")


def run_alerts(run: dict[str, Any]) -> str:
    """What makes the verdict other than the cases say: a run error, planned cases that did not run."""
    parts = []
    if run.get("error"):
        error = run["error"]
        where = f" ({escape(str(error['where']))})" if error.get("where") else ""
        parts.append(f'<p class="dmsval-alert" id="dmsval-run-error"><b>The run could not '
                     f'{escape(str(error.get("stage", "plan")))}</b>{where}: {escape(str(error.get("message")))}</p>')
    missing = run.get("missing_cases") or []
    if missing:
        reasons = "".join(f"<li>{escape(str(r))}</li>" for r in run.get("incomplete_reasons") or [])
        listed = "".join(f"<li><code>{escape(c)}</code></li>" for c in missing)
        parts.append(f'<div class="dmsval-alert" id="dmsval-missing"><b>INCOMPLETE: {len(missing)} of '
                     f'{len(run.get("planned_cases") or [])} planned cases did not run</b> &mdash; this run proves '
                     f'nothing about them.<ul>{reasons}</ul><details><summary>cases that did not run</summary>'
                     f'<ul>{listed}</ul></details></div>')
    return "".join(parts)


def delivery_block(delivery: dict[str, Any] | None) -> str:
    """Where the files and the summary went (or why not); ``None``: delivery has not happened yet."""
    if not delivery:
        body = "S3 upload and SNS summary are attempted after this report is written; results.json records them."
    else:
        body = "; ".join(f"{escape(channel.upper())}: {escape(str(a.get('status')))}"
                         + (f" ({escape(str(a.get('target')))})" if a.get("target") else "")
                         + (f" &mdash; {escape(str(a.get('detail')))}" if a.get("status") == "failed" else "")
                         for channel, a in delivery.items())
    return f'<p id="{DELIVERY_MARK}">Delivery: {body}</p>'


def _row_diff_fragments(details: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    key = details.get("key") or []
    for label, field in (("Keys missing in the target", "missing_keys"), ("Keys extra in the target", "extra_keys")):
        keys = details.get(field) or []
        if keys:
            parts.append(f"<p>{label} (first {len(keys)}):</p>" + _table(key, keys, "diff"))
    changed = details.get("changed") or []
    if changed:
        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in change["key"])
            + f'<td>{escape(column)}</td><td class="diff">{escape(_show(values[0]))}</td>'
            f'<td class="diff">{escape(_show(values[1]))}</td></tr>'
            for change in changed for column, values in change["columns"].items())
        head = "".join(f"<th>{escape(k)}</th>" for k in key) + "<th>column</th><th>source</th><th>target</th>"
        parts.append(f"<p>Changed rows (first {len(changed)}), differing columns highlighted:</p>"
                     f'<table class="changed"><tr>{head}</tr>{rows}</table>')
    images = details.get("row_images") or []
    if images:
        columns = details.get("columns") or []
        rows_html = [[*(img["row"] or {}).values(), img["source_count"], img["target_count"]] for img in images]
        parts.append("<p>Row images whose counts differ (table without key):</p>"
                     + _table([*columns, "source count", "target count"], rows_html, "diff"))
    return parts


def _show(value: Any) -> str:
    return "NULL" if value is None else str(value)
