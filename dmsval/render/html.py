"""HTML fragments for the pytest-html report, rendered from CaseResult dictionaries and run metadata."""

from __future__ import annotations

from html import escape
from typing import Any, Callable

from .. import sections
from ..sections import Section

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
    details = sections.current(case.get("details"))
    for section, value in sections.present(details):
        parts += _SECTION_HTML[section.kind.name](section, value, details)
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
            + _table(None, rows) + latency_chart(run.get("gate")) + history_block(run.get("history"))
            + delivery_block(run.get("delivery")) + "</div>")


_SERIES_COLOURS = {"CDCLatencySource": "#2471a3", "CDCLatencyTarget": "#d35400"}


def latency_chart(gate: dict[str, Any] | None, width: int = 360, height: int = 90) -> str:
    """The CDC latency readings the gate took while it waited, as a small inline SVG (no script, no external
    file: the report stays self-contained), with the threshold as a dashed line. Empty without readings."""
    series = (gate or {}).get("series") or []
    if not series:
        return ""
    threshold = float(gate["threshold_s"])  # type: ignore[index]
    values = [r.get(m) for r in series for m in _SERIES_COLOURS if r.get(m) is not None]
    top = max([threshold * 1.2, *values]) or 1.0
    pad = 4

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / max(len(series) - 1, 1))

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * (v / top)

    parts = [f'<line x1="{pad}" x2="{width - pad}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
             'stroke="#888" stroke-dasharray="4 3"/>']
    for metric, colour in _SERIES_COLOURS.items():
        points = [(x(i), y(float(r[metric]))) for i, r in enumerate(series) if r.get(metric) is not None]
        if len(points) == 1:
            parts.append(f'<circle cx="{points[0][0]:.1f}" cy="{points[0][1]:.1f}" r="3" fill="{colour}"/>')
        elif points:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
    last = series[-1]
    legend = ", ".join(f'<span style="color:{c}">{escape(m)}</span> '
                       f'{"no data" if last.get(m) is None else format(float(last[m]), "g") + " s"}'
                       for m, c in _SERIES_COLOURS.items())
    return (f'<p>CDC latency the gate read ({len(series)} reading{"" if len(series) == 1 else "s"} from {escape(str(series[0].get("at")))} to '
            f'{escape(str(last.get("at")))}, waited {escape(str(gate.get("waited_s", 0)))} s; dashed: threshold '  # type: ignore[union-attr]
            f'{threshold:g} s; last: {legend}):</p>'
            f'<svg class="dmsval-latency" width="{width}" height="{height}" role="img" '
            f'aria-label="CDC latency readings" style="border:1px solid #ccc">{"".join(parts)}</svg>')


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


def history_block(history: dict[str, Any] | None) -> str:
    """The comparison with the previous run (dmsval.history): its sentence, notes, and per table the counts with
    the sampled differences of each state. Empty when history was not computed (or a version-1 document)."""
    if not history:
        return ""
    notes = "".join(f'<p class="dmsval-note">Note: {escape(str(n))}</p>' for n in history.get("notes") or [])
    rows = []
    for t in history.get("tables") or []:
        samples = "".join(f"<details><summary>{escape(state)} ({t.get(state)})</summary><ul>"
                          + "".join(f"<li>{escape(str(line))}</li>" for line in lines) + "</ul></details>"
                          for state, lines in (t.get("samples") or {}).items())
        rows.append(f"<tr><td>{escape(str(t['table']))}</td>"
                    + "".join(f"<td>{escape(str(t.get(s, 0)))}</td>" for s in ("new", "persisting", "resolved"))
                    + f"<td>{'yes' if t.get('sampled') else ''}</td><td>{samples}</td></tr>")
    table = ('<table class="dmsval-history"><tr><th>table</th><th>new</th><th>persisting</th><th>resolved</th>'
             f'<th>sampled</th><th>differences</th></tr>{"".join(rows)}</table>') if rows else ""
    return (f'<div id="dmsval-history"><p><b>History</b>: {escape(str(history.get("summary")))}</p>{notes}'
            f"{table}</div>")


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


# -- details sections, by kind (dmsval.sections declares which key is which) ----------------------------------
Fragments = list[str]


def _plain_html(section: Section, value: Any, details: dict[str, Any]) -> Fragments:
    shown = ", ".join(map(_show, value)) if isinstance(value, list) else _show(value)
    return [f"<p>{escape(section.title)}: {escape(shown)}</p>"]


def _figures_html(section: Section, value: dict[str, Any], details: dict[str, Any]) -> Fragments:
    shown = {k: v for k, v in value.items() if k not in section.omit}
    return [f"<p>{escape(section.title)}:</p>" + _table(list(shown), [list(shown.values())])]


def _notes_html(section: Section, value: list[Any], details: dict[str, Any]) -> Fragments:
    return [f'<p class="dmsval-note">{escape(section.title)}: {escape(str(note))}</p>' for note in value]


def _diagnoses_html(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Fragments:
    return [f'<p class="dmsval-alert dmsval-diagnosis"><b>{escape(section.title)}</b> '
            f"{escape(diagnosis_text(diagnosis))}</p>" for diagnosis in value]


def _rows_html(section: Section, value: list[list[Any]], details: dict[str, Any]) -> Fragments:
    """Keys or sample rows, headed by the names of the section ``headers`` points at."""
    return [f"<p>{escape(section.title)} (first {len(value)}):</p>",
            _table(sections.headers(section, details, len(value[0] or [])), value,
                   "diff" if section.differs else "")]


def _duplicated_html(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Fragments:
    key = sections.headers(section, details, len(value[0]["key"]))
    rows = [[*d["key"], d.get("source_rows"), d.get("target_rows")] for d in value]
    return [f"<p>{escape(section.title)} (first {len(value)}):</p>"
            + _table([*key, "source rows", "target rows"], rows, "diff")]


def _changed_html(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Fragments:
    key = sections.headers(section, details, len(value[0]["key"]))
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in change["key"])
        + f'<td>{escape(column)}</td><td class="diff">{escape(_show(values[0]))}</td>'
        f'<td class="diff">{escape(_show(values[1]))}</td></tr>'
        for change in value for column, values in change["columns"].items())
    head = "".join(f"<th>{escape(k)}</th>" for k in key) + "<th>column</th><th>source</th><th>target</th>"
    return [f"<p>{escape(section.title)} (first {len(value)}), differing columns highlighted:</p>"
            f'<table class="changed"><tr>{head}</tr>{rows}</table>']


def _row_images_html(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Fragments:
    columns = list(details.get(section.headers or "") or [])
    rows = [[*(img["row"] or {}).values(), img["source_count"], img["target_count"]] for img in value]
    return [f"<p>{escape(section.title)}:</p>"
            + _table([*columns, "source count", "target count"], rows, "diff")]


def _recheck_html(section: Section, value: dict[str, Any], details: dict[str, Any]) -> Fragments:
    """The CDC recheck: its rounds and, for every row that kept differing, what each round read."""
    in_flight = (f", {escape(str(value['in_flight_row_images']))} row images in flight"
                 if value.get("in_flight_row_images") else "")
    parts = [f"<p>{escape(section.title)}: {escape(str(value.get('rounds')))} rounds, "
             f"{escape(str(value.get('settle_s')))} s apart, within {escape(str(value.get('waited_s')))} s"
             f"{in_flight}.</p>"]
    columns = value.get("columns") or []
    for entry in value.get("history") or []:
        rows = []
        for r in entry["rounds"]:
            for side in ("source", "target"):
                values = r.get(side)
                rows.append([r.get("round"), r.get("at"), side, *(values if values is not None else
                                                                 ["(no row)"] + [""] * (len(columns) - 1))])
        parts.append(f"<p>Still differing after every recheck: key {escape(', '.join(map(str, entry['key'])))}</p>"
                     + _table(["round", "at", "side", *columns], rows, "diff"))
    return parts


def _figure_differences_html(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Fragments:
    return [f"<p>{escape(section.title)}:</p>" + _table(["column", "figure", "source", "target"],
            [[d["column"], d["figure"], d["source"], d["target"]] for d in value], "diff")]


def _columns_html(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Fragments:
    return [f"<p>{escape(section.title)}:</p>" + _table(
        ["column", "source type", "expected", "target type", "verdict", "reason"],
        [[c.get("column"), c.get("source_type"), c.get("expected_type"), c.get("target_type"), c.get("verdict"),
          c.get("reason")] for c in value])]


_SECTION_HTML: dict[str, Callable[[Section, Any, dict[str, Any]], Fragments]] = {
    "Plain": _plain_html, "Figures": _figures_html, "Notes": _notes_html, "Diagnoses": _diagnoses_html,
    "KeyList": _rows_html, "RowTable": _rows_html, "DuplicatedKeys": _duplicated_html, "ChangedRows": _changed_html,
    "RowImages": _row_images_html, "RecheckHistory": _recheck_html,
    "AggregateDifferences": _figure_differences_html, "SchemaColumns": _columns_html,
}


def _show(value: Any) -> str:
    return "NULL" if value is None else str(value)
