"""dmsval.sections: every details key a check writes is declared, masking hides every value a section holds, and
the renderers show every section by its kind without knowing any check."""

from __future__ import annotations

import ast
import json
import re
from html import escape
from typing import Any, Callable

import pytest

from dmsval import sections
from dmsval.checks import REGISTRY
from dmsval.masking import HIDDEN, Masker
from dmsval.render import html as html_render
from dmsval.render import text as text_render
from dmsval.results import CaseResult

from .conftest import REPO

PLANTED = "planted-V4LUE-7731"  # a row value no name, count or placeholder contains


# -- every key the code writes is declared ---------------------------------------------------------------------
def _string_keys(node: ast.Dict) -> set[str]:
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _unpacks_details(node: ast.Dict) -> bool:
    """``{**outcome.details, "window": ...}`` / ``{**details, "dms": ...}``: keys added to a details dict."""
    return any(k is None and ((isinstance(v, ast.Attribute) and v.attr == "details")
                              or (isinstance(v, ast.Name) and v.id == "details"))
               for k, v in zip(node.keys, node.values))


def details_keys_in(source: str) -> set[str]:
    """The details keys a module writes: dicts assigned to ``details``, ``details["k"] = ...``, dicts extending a
    details dict, and dicts passed as an Outcome's details (fifth argument or ``details=``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "details" and isinstance(node.value, ast.Dict):
                    found |= _string_keys(node.value)
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                        and target.value.id == "details" and isinstance(target.slice, ast.Constant)):
                    found.add(target.slice.value)
        elif isinstance(node, ast.Dict) and _unpacks_details(node):
            found |= _string_keys(node)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "Outcome" and len(node.args) >= 5 \
                    and isinstance(node.args[4], ast.Dict):
                found |= _string_keys(node.args[4])
            found |= {k for kw in node.keywords if kw.arg == "details" and isinstance(kw.value, ast.Dict)
                      for k in _string_keys(kw.value)}
    return found


def written_keys() -> dict[str, set[str]]:
    """Details key -> the modules writing it (the checks, and the run adding DMS's statistics)."""
    modules = sorted((REPO / "dmsval" / "checks").glob("*.py")) + [REPO / "dmsval" / "run.py"]
    written: dict[str, set[str]] = {}
    for path in modules:
        for key in details_keys_in(path.read_text()):
            written.setdefault(key, set()).add(path.stem)
    return written


def test_the_key_collector_sees_keys_of_every_form() -> None:
    source = ('details = {"a": 1}\ndetails["b"] = 2\nx = {**outcome.details, "c": 3}\n'
              'Outcome(False, "m", {}, {}, {"d": 4})\nreplace(o, details={"e": 5})\ny = {"not": 6}\n')
    assert details_keys_in(source) == {"a", "b", "c", "d", "e"}


def test_every_details_key_the_code_writes_is_declared() -> None:
    written = written_keys()
    # the collector must see the keys of every form the checks use, or this test proves nothing
    assert {"changed", "missing_keys", "in_flight_keys", "recheck", "window", "truncated", "notes", "row_images",
            "only_in_source", "source_columns", "differences", "schema_columns", "dms"} <= set(written)
    undeclared = {key: modules for key, modules in written.items() if key not in sections.BY_KEY}
    assert undeclared == {}, "declare these details keys in dmsval/sections.py"


def test_every_declared_section_is_written_by_the_check_it_names() -> None:
    written = written_keys()
    for section in sections.SECTIONS:
        assert section.key in written, f"{section.key} is declared but no check writes it"
        assert set(section.produced_by) <= set(REGISTRY) | {"run"}, section
        assert section.headers is None or section.headers in sections.BY_KEY, section


def test_every_key_is_declared_once_and_holds_values_follows_the_kind() -> None:
    keys = [s.key for s in sections.SECTIONS]
    assert len(keys) == len(set(keys))
    assert {s.key for s in sections.SECTIONS if s.holds_values} == {
        "only_in_source", "only_in_target", "missing_keys", "extra_keys", "duplicated_keys", "changed",
        "row_images", "recheck", "in_flight_keys", "diagnoses", "differences", "schema_columns"}


# -- masking: a value planted in every value position of every kind is gone ----------------------------------------
P = PLANTED
# per kind: a section value with PLANTED in every position that holds a row value (and in names elsewhere)
EXAMPLES: dict[str, Callable[[], Any]] = {
    "KeyList": lambda: [[P, 1], [2, P]],
    "RowTable": lambda: [[P, P], [P, None]],
    "DuplicatedKeys": lambda: [{"key": [P], "source_rows": 1, "target_rows": 2}],
    "ChangedRows": lambda: [{"key": [P, 7], "columns": {"email": [P, None], "nick": [None, P]}},
                            {"key": [P], "columns": {}}],  # CDC: deleted since, the recheck history shows it
    "RowImages": lambda: [{"row": {"code": P, "label": P}, "source_count": 2, "target_count": 1},
                          {"row": None, "source_count": 0, "target_count": 1}],
    "SchemaColumns": lambda: [
        {"column": "qty", "source_type": "int", "target_type": "smallint", "verdict": "risk",
         "reason": f"the current values fit (current min 0, max {P})", "note": "fits", "source_max": P},
        {"column": "big", "source_type": "bigint", "target_type": "int", "verdict": "narrower",
         "reason": f"source values outside 0..9 do not fit int (current min 0, max {P})", "source_max": P}],
    "AggregateDifferences": lambda: [{"column": "price", "figure": "max", "source": P, "target": P},
                                     {"column": "price", "figure": "min", "source": P, "target": None}],
    "Diagnoses": lambda: [{"column": "birth_date", "pattern": "zero_date_vs_null", "summary": "all consistent",
                           "likely_cause": "zero dates", "sampled": 5, "differing": 5, "compared": 9,
                           "figures": {"example": P, "count": 5}}],
    "RecheckHistory": lambda: {"settle_s": 5.0, "budget_s": 60, "max_rounds": 3, "rounds": 2, "waited_s": 10.0,
                               "columns": ["id", "email"], "in_flight_row_images": 0,
                               "history": [{"key": [P], "rounds": [
                                   {"round": 1, "at": "2026-12-03T12:00:00Z", "source": [P, P], "target": None},
                                   {"round": 2, "at": "2026-12-03T12:00:05Z", "source": [P, P],
                                    "target": [P, None]}]}]},
    # no row value: the planted text stands for a name, and must stay readable
    "Plain": lambda: [P, "other"],
    "Figures": lambda: {"since": P, "column": "last_update", "FullLoadRows": 3},
    "Notes": lambda: [f"{P}: 2 values cut at 64 bytes"],
}


def test_every_kind_has_an_example_and_a_renderer() -> None:
    kinds = {kind.name for kind in sections.KINDS}
    assert set(EXAMPLES) == kinds
    assert set(html_render._SECTION_HTML) == kinds
    assert set(text_render._SECTION_TEXT) == kinds


def example_details(section: sections.Section) -> dict[str, Any]:
    """The section's example with the sections it is headed by (names: never masked)."""
    details = {section.key: EXAMPLES[section.kind.name]()}
    if section.headers:
        details[section.headers] = ["id", "email"]
    return details


@pytest.mark.parametrize("section", sections.SECTIONS, ids=lambda s: s.key)
def test_masking_leaves_no_planted_value_readable(section: sections.Section) -> None:
    details = example_details(section)
    original = json.loads(json.dumps(details))
    masked = Masker("salt").details(details)
    assert details == original  # the input is not modified
    assert set(masked) == set(details)
    dumped = json.dumps(masked)
    if section.holds_values:
        assert PLANTED not in dumped
        assert re.search(r'"h:[0-9a-f]{12}"', dumped) or HIDDEN in dumped  # hashed, or hidden where quoted
    else:
        assert masked == details  # names and counts pass


@pytest.mark.parametrize("section", [s for s in sections.SECTIONS if s.shown], ids=lambda s: s.key)
def test_every_shown_section_is_rendered_and_masked_in_every_rendering(section: sections.Section) -> None:
    details = example_details(section)
    case = CaseResult("any[s.t]", "any", "s.t", "failed", "differs", "s.t", "s.t", details=details).to_dict()
    fragment, lines = html_render.case_fragment(case), text_render.case_text(case)
    assert escape(section.title) in fragment
    if section.kind.name != "Diagnoses":  # a diagnosis is shown as its sentence; its figures are not shown
        assert PLANTED in fragment
        if section.kind.name != "SchemaColumns":  # the plain text names only columns that fail or are at risk
            assert PLANTED in lines
    masked = dict(case, details=Masker("salt").details(details))
    if section.holds_values:
        assert PLANTED not in html_render.case_fragment(masked)
        assert PLANTED not in text_render.case_text(masked)


def test_an_undeclared_key_is_hidden_whole_by_masking_and_shown_by_no_rendering() -> None:
    details = {"key": ["id"], "missing_keys": [["k1"]], "someday_new": [[PLANTED]]}
    assert sections.undeclared(details) == ["someday_new"]
    masked = Masker("salt").details(details)
    assert masked["someday_new"] == HIDDEN and masked["key"] == ["id"]
    case = CaseResult("any[s.t]", "any", "s.t", "failed", "differs", details=details).to_dict()
    assert PLANTED not in html_render.case_fragment(case) and PLANTED not in text_render.case_text(case)


# -- documents written before the schema check's columns had their own key --------------------------------------
LEGACY_SCHEMA = {"columns": [{"column": "big", "source_type": "bigint", "target_type": "int",
                              "verdict": "narrower", "reason": "current min 0, max 9123456789",
                              "source_max": 9123456789}]}


def test_a_legacy_schema_column_list_is_read_as_schema_columns() -> None:
    assert sections.current(LEGACY_SCHEMA) == {"schema_columns": LEGACY_SCHEMA["columns"]}
    names = {"columns": ["region", "total"], "only_in_source": [["x", 1]]}
    assert sections.current(names) == names  # column names stay what they are
    case = CaseResult("schema[s.t]", "schema", "s.t", "failed", "narrower", details=LEGACY_SCHEMA).to_dict()
    fragment = html_render.case_fragment(case)
    assert "<p>Columns:</p>" in fragment and "<td>narrower</td>" in fragment
    assert "column big: narrower" in text_render.case_text(case)
    assert "9123456789" not in json.dumps(Masker("s").details(LEGACY_SCHEMA))


# -- masking and rendering never name a check ----------------------------------------------------------------------
def test_masking_and_the_renderers_name_no_check() -> None:
    files = [REPO / "dmsval" / "masking.py", *sorted((REPO / "dmsval" / "render").glob("*.py"))]
    pattern = re.compile("|".join(re.escape(name) for name in REGISTRY))
    named = {path.name: pattern.findall(path.read_text()) for path in files}
    assert {name: found for name, found in named.items() if found} == {}
    assert len(REGISTRY) >= 6 and "row_diff" in REGISTRY  # the names searched for


def test_the_results_schema_documents_every_section() -> None:
    doc = (REPO / "docs" / "results-schema.md").read_text()
    for section in sections.SECTIONS:
        row = re.search(rf"^\| `{re.escape(section.key)}` \| (\w+) \| (yes|no) \|", doc, re.M)
        assert row, f"docs/results-schema.md: no row for section {section.key}"
        assert (row.group(1), row.group(2)) == (section.kind.name, "yes" if section.holds_values else "no")


def test_sections_of_real_details_render_as_before() -> None:
    """The look kept from before sections: key tables headed by the key, changed cells highlighted."""
    details = {"key": ["id"], "missing_keys": [["4"]], "changed": [{"key": ["2"], "columns": {"a": ["x", "y"]}}],
               "changed_columns": {"a": 1}, "missing_columns": [], "notes": ["a: 1 value cut"]}
    fragment = html_render.case_fragment(CaseResult("c[s.t]", "c", "s.t", "failed", "m", details=details).to_dict())
    assert '<p>Keys missing in the target (first 1):</p><table class="diff"><tr><th>id</th></tr>' in fragment
    assert '<td>a</td><td class="diff">x</td><td class="diff">y</td>' in fragment
    assert '<p class="dmsval-note">Note: a: 1 value cut</p>' in fragment
    assert "changed_columns" not in fragment and "Changed columns" not in fragment  # in the message already


def test_the_sample_details_of_the_masking_tests_are_declared() -> None:
    from . import test_units_render_masking_sharding as samples

    for details in (samples.ROW_DIFF, samples.MULTISET, samples.CUSTOM_SQL, samples.SCHEMA, samples.AGGREGATES):
        assert sections.undeclared(details) == []
