"""Plain-text rendering of one case, for the pytest failure message (terminal and JUnit XML)."""

from __future__ import annotations

from typing import Any

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
    return "\n".join(lines)
