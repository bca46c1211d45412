"""A standalone, self-contained HTML page for a results document (used by ``python -m dmsval.merge``, where
pytest-html is not running): the run header and each case's fragment from :mod:`dmsval.render.html`, a summary
line, the merged inputs, and one row per case (failing cases first, their details open)."""

from __future__ import annotations

from html import escape
from typing import Any

from . import html as fragments

_ORDER = {"error": 0, "failed": 1, "skipped": 2, "passed": 3}
_COLORS = {"passed": "#1a7f37", "failed": "#c62828", "error": "#8e24aa", "skipped": "#6b6b6b",
           "incomplete": "#e67e22"}
_PAGE_STYLE = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:16px 24px;color:#222;font-size:14px}
h1{font-size:22px;margin:0 0 8px} h2{font-size:17px;margin:18px 0 6px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:bold}
table.cases,table.inputs{border-collapse:collapse;width:100%;margin:6px 0}
table.cases th,table.cases td,table.inputs th,table.inputs td{border:1px solid #ddd;padding:4px 8px;
  text-align:left;vertical-align:top;font-size:13px}
table.cases th,table.inputs th{background:#f3f3f3}
td.status{font-weight:bold;white-space:nowrap} td.case{white-space:nowrap;font-family:monospace}
tr.case-row td{border-bottom:none} tr.case-details td{border-top:none;padding:0 8px 6px}
details>summary{cursor:pointer;color:#555;font-size:12px}
.dmsval-case pre{max-height:9em;overflow:auto}
"""


def page(results: dict[str, Any], title: str = "DMS validation report") -> str:
    run, cases = results["run"], results["cases"]
    counts, verdict = run["counts"], run["verdict"]
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)} - {escape(run['task']['identifier'])}</title>"
            f"<style>{_PAGE_STYLE}</style></head><body>")
    parts = [head, f"<h1>{escape(title)}</h1>",
             f'<p><span class="verdict" id="verdict" style="background:{_COLORS.get(verdict, "#444")}">'
             f"{escape(verdict.upper())}</span> "
             f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped, "
             f"{counts['error']} errors"
             + (f", {counts['missing']} did not run" if counts.get("missing") else "")
             + f" &mdash; {len(cases)} cases</p>",
             fragments.run_header(run)]
    if run.get("merged_from"):
        parts.append(_inputs(run["merged_from"]))
    parts.append(_cases(cases))
    parts.append("</body></html>")
    return "".join(parts)


def _inputs(merged_from: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(str(m.get('path')))}</code></td><td>{escape(str(m.get('run_id')))}</td>"
        f"<td>{escape(str(m.get('shard') or ''))}</td><td>{escape(', '.join(m.get('checks') or []))}</td>"
        f"<td>{escape(str(m.get('verdict')))}</td><td>{m.get('cases', '')}</td></tr>"
        for m in merged_from)
    return ("<h2>Merged from</h2><table class=\"inputs\"><tr><th>results file</th><th>run</th><th>shard</th>"
            f"<th>checks</th><th>verdict</th><th>cases</th></tr>{rows}</table>")


def _cases(cases: list[dict[str, Any]]) -> str:
    rows = []
    for case in sorted(cases, key=lambda c: (_ORDER.get(c["status"], 9), c["case_id"])):
        status = case["status"]
        opened = " open" if status in ("failed", "error") else ""
        rows.append(
            f'<tr class="case-row {escape(status)}" id="{escape("case-" + case["case_id"])}">'
            f'<td class="status" style="color:{_COLORS.get(status, "#444")}">{escape(status.upper())}</td>'
            f'<td class="case">{escape(case["case_id"])}</td><td>{escape(case["message"])}</td>'
            f'<td>{float(case.get("duration_s") or 0):.2f} s</td></tr>'
            f'<tr class="case-details"><td></td><td colspan="3"><details{opened}><summary>details</summary>'
            f"{fragments.case_fragment(case)}</details></td></tr>")
    return ('<h2>Cases</h2><table class="cases"><tr><th>status</th><th>case</th><th>message</th>'
            f"<th>duration</th></tr>{''.join(rows)}</table>")
