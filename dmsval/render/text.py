"""Plain-text rendering of one case, for the pytest failure message (terminal and JUnit XML)."""

from __future__ import annotations

from typing import Any

from .html import diagnosis_text

SAMPLE_LINES = 10


def case_text(case: dict[str, Any]) -> str:
    lines = [case["message"]]
    if case.get("source_table"):
        lines.append(f"source {case['source_table']} -> target {case['target_table']}")
    if case.get("figures"):
        lines.append("figures: " + ", ".join(f"{k}={v}" for k, v in case["figures"].items()))
    details = case.get("details") or {}
    columns = details.get("columns")
    for side in ("only_in_source", "only_in_target"):
        rows = details.get(side) or []
        if rows:
            lines.append(f"{side.replace('_', ' ')}" + (f" ({', '.join(columns)})" if columns else "") + ":")
            lines += [f"  {tuple(row)}" for row in rows[:SAMPLE_LINES]]
            if len(rows) > SAMPLE_LINES:
                lines.append(f"  ... and {len(rows) - SAMPLE_LINES} more in the report")
    lines += _row_diff_lines(details)
    lines += [f"diagnosis: {diagnosis_text(d)}" for d in details.get("diagnoses") or []]
    lines += [f"note: {note}" for note in details.get("notes") or []]
    return "\n".join(lines)


def _row_diff_lines(details: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    key = ", ".join(details.get("key") or [])
    for label, field in (("missing in target", "missing_keys"), ("extra in target", "extra_keys")):
        keys = details.get(field) or []
        if keys:
            shown = ", ".join("(" + ", ".join(str(v) for v in k) + ")" for k in keys[:SAMPLE_LINES])
            more = f" ... and {len(keys) - SAMPLE_LINES} more" if len(keys) > SAMPLE_LINES else ""
            lines.append(f"{label} ({key}): {shown}{more}")
    for change in (details.get("changed") or [])[:SAMPLE_LINES]:
        cols = "; ".join(f"{c}: {v[0]!r} -> {v[1]!r}" for c, v in change["columns"].items())
        lines.append(f"changed ({key}) = ({', '.join(str(v) for v in change['key'])}): {cols}")
    for image in (details.get("row_images") or [])[:SAMPLE_LINES]:
        lines.append(f"row x{image['source_count']} in source, x{image['target_count']} in target: {image['row']}")
    return lines
