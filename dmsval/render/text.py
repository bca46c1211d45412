"""Plain-text rendering of one case, for the pytest failure message (terminal and JUnit XML)."""

from __future__ import annotations

from typing import Any, Callable

from .. import sections
from ..sections import Section
from .html import diagnosis_text

SAMPLE_LINES = 10

Lines = list[str]


def case_text(case: dict[str, Any]) -> str:
    lines = [case["message"]]
    if case.get("source_table"):
        lines.append(f"source {case['source_table']} -> target {case['target_table']}")
    if case.get("figures"):
        lines.append("figures: " + ", ".join(f"{k}={v}" for k, v in case["figures"].items()))
    details = sections.current(case.get("details"))
    for section, value in sections.present(details):
        lines += _SECTION_TEXT[section.kind.name](section, value, details)
    return "\n".join(lines)


# -- details sections, by kind (dmsval.sections declares which key is which) --------------------------------------
def _names(section: Section, details: dict[str, Any]) -> str:
    """The names heading a section's values (``id, email``), as given (empty when none are)."""
    return ", ".join(map(str, details.get(section.headers or "") or []))


def _values(values: list[Any]) -> str:
    return "(" + ", ".join(str(v) for v in values) + ")"


def _more(items: list[Any], suffix: str = "") -> str:
    return f" ... and {len(items) - SAMPLE_LINES} more{suffix}" if len(items) > SAMPLE_LINES else ""


def _plain_text(section: Section, value: Any, details: dict[str, Any]) -> Lines:
    return [f"{section.text_label}: " + (", ".join(map(str, value)) if isinstance(value, list) else str(value))]


def _figures_text(section: Section, value: dict[str, Any], details: dict[str, Any]) -> Lines:
    return [f"{section.text_label}: " + ", ".join(f"{k}={v}" for k, v in value.items() if k not in section.omit)]


def _notes_text(section: Section, value: list[Any], details: dict[str, Any]) -> Lines:
    return [f"{section.text_label}: {note}" for note in value]


def _diagnoses_text(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Lines:
    return [f"{section.text_label}: {diagnosis_text(d)}" for d in value]


def _keys_text(section: Section, value: list[list[Any]], details: dict[str, Any]) -> Lines:
    shown = ", ".join(_values(k) for k in value[:SAMPLE_LINES])
    return [f"{section.text_label} ({_names(section, details)}): {shown}{_more(value)}"]


def _rows_text(section: Section, value: list[list[Any]], details: dict[str, Any]) -> Lines:
    names = _names(section, details)
    lines = [f"{section.text_label}" + (f" ({names})" if names else "") + ":"]
    lines += [f"  {tuple(row)}" for row in value[:SAMPLE_LINES]]
    return lines + ([f" {_more(value, ' in the report')}"] if len(value) > SAMPLE_LINES else [])


def _duplicated_text(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Lines:
    return [f"{section.text_label} ({_names(section, details)}) = {_values(d['key'])}: {d.get('source_rows')} rows "
            f"in source, {d.get('target_rows')} in target" for d in value[:SAMPLE_LINES]]


def _changed_text(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Lines:
    lines = []
    for change in value[:SAMPLE_LINES]:
        cols = "; ".join(f"{c}: {v[0]!r} -> {v[1]!r}" for c, v in change["columns"].items())
        lines.append(f"{section.text_label} ({_names(section, details)}) = {_values(change['key'])}: {cols}")
    return lines


def _row_images_text(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Lines:
    return [f"{section.text_label} x{image['source_count']} in source, x{image['target_count']} in target: "
            f"{image['row']}" for image in value[:SAMPLE_LINES]]


def _recheck_text(section: Section, value: dict[str, Any], details: dict[str, Any]) -> Lines:
    lines = [f"{section.title}: {value.get('rounds')} rounds, {value.get('settle_s')} s apart, within "
             f"{value.get('waited_s')} s"]
    for entry in (value.get("history") or [])[:SAMPLE_LINES]:
        last = entry["rounds"][-1] if entry["rounds"] else {}
        lines.append(f"{section.text_label} ({_names(section, details)}) = {_values(entry['key'])}: last round "
                     f"source {last.get('source')}, target {last.get('target')}")
    return lines


def _figure_differences_text(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Lines:
    return [f"{section.text_label} {d['column']}.{d['figure']}: source {d['source']!r}, target {d['target']!r}"
            for d in value]


def _columns_text(section: Section, value: list[dict[str, Any]], details: dict[str, Any]) -> Lines:
    """The columns with something to say (the others are compatible, or removed/added by the mappings)."""
    return [f"{section.text_label} {c.get('column')}: {c.get('verdict')}" + (f" ({c['reason']})" if c.get("reason")
                                                                          else "")
            for c in value if c.get("verdict") not in ("ok", "removed", "added")]


_SECTION_TEXT: dict[str, Callable[[Section, Any, dict[str, Any]], Lines]] = {
    "Plain": _plain_text, "Figures": _figures_text, "Notes": _notes_text, "Diagnoses": _diagnoses_text,
    "KeyList": _keys_text, "RowTable": _rows_text, "DuplicatedKeys": _duplicated_text, "ChangedRows": _changed_text,
    "RowImages": _row_images_text, "RecheckHistory": _recheck_text,
    "AggregateDifferences": _figure_differences_text, "SchemaColumns": _columns_text,
}
