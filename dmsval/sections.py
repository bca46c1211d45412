"""The vocabulary of case details: every key a check may put in ``Outcome.details``, declared once as a Section.

A section says what its value is (its *kind*), whether it holds row values (keys, column values, MIN/MAX, sample
rows: what ``--mask-values`` hides) and how it is titled in reports. Masking (:mod:`dmsval.masking`) and rendering
(:mod:`dmsval.render`, :mod:`dmsval.notebook`) work on sections, never on check names: a check that adds a
details key declares it here -- with a kind that already masks and renders -- and nothing else changes. A key
that is not declared is hidden whole by masking (never leaked) and shown by no report; tests/test_sections.py
fails on it.

Kinds (the shape of a section's value):

- ``Plain``: names, counts, flags (no row value); ``Figures``: a dict of names to counts or settings, shown as a
  one-row table.
- ``KeyList``: ``[[key value, ...], ...]``, headed by the names in another section (``headers``).
- ``RowTable``: sample rows ``[[value, ...], ...]``, headed likewise (``c1``, ``c2``... without names).
- ``DuplicatedKeys``: ``[{key, source_rows, target_rows}]``.
- ``ChangedRows``: ``[{key, columns: {column: [source, target]}}]``.
- ``RowImages``: ``[{row: {column: value} | null, source_count, target_count}]``.
- ``SchemaColumns``: ``[{column, source_type, expected_type, target_type, verdict, reason, note, source_max,
  source_longest}]`` (``source_max`` and the reason quoting the data's range are row values).
- ``AggregateDifferences``: ``[{column, figure, source, target}]`` (MIN and MAX are row values).
- ``Notes``: texts naming columns and counts; ``Diagnoses``: ``[Diagnosis.to_dict()]`` (figures may quote values).
- ``RecheckHistory``: the CDC recheck: ``{settle_s, budget_s, max_rounds, rounds, waited_s, columns,
  in_flight_row_images, history: [{key, rounds: [{round, at, source: [values] | null, target: ...}]}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

#: What masking puts where a value is hidden rather than hashed (a text quoting values)
HIDDEN = "(hidden by --mask-values)"

Hash = Callable[[Any], Any]  # a row value -> its salted hash (Masker.value)


class Kind:
    """How a section's value is masked; renderers map each kind to how they show it."""

    holds_values: ClassVar[bool] = False

    def mask(self, value: Any, hash_value: Hash) -> Any:
        return value

    @property
    def name(self) -> str:
        return type(self).__name__


class Plain(Kind):
    """Names, counts, flags: nothing a row holds."""


class Figures(Kind):
    """A dict of names to counts or settings (DMS's table statistics, the --since window)."""


class Notes(Kind):
    """Texts that name columns and counts, never values."""


def _row(values: list[Any] | None, hash_value: Hash) -> list[Any] | None:
    return None if values is None else [hash_value(v) for v in values]


class KeyList(Kind):
    holds_values = True

    def mask(self, value: Any, hash_value: Hash) -> Any:
        return [_row(row, hash_value) for row in value]


class RowTable(KeyList):
    """Sample rows: masked like keys (every value of every row)."""


class DuplicatedKeys(Kind):
    holds_values = True

    def mask(self, value: Any, hash_value: Hash) -> Any:
        return [{**d, "key": _row(d["key"], hash_value)} for d in value]


class ChangedRows(Kind):
    holds_values = True

    def mask(self, value: Any, hash_value: Hash) -> Any:
        return [{**c, "key": _row(c["key"], hash_value),
                 "columns": {col: [hash_value(a), hash_value(b)] for col, (a, b) in c["columns"].items()}}
                for c in value]


class RowImages(Kind):
    holds_values = True

    def mask(self, value: Any, hash_value: Hash) -> Any:
        return [{**img, "row": {k: hash_value(v) for k, v in (img["row"] or {}).items()}} for img in value]


# verdicts whose reason quotes the data's current MIN/MAX (a column's range checked against the target type)
_RANGE_VERDICTS = ("risk", "narrower")


class SchemaColumns(Kind):
    holds_values = True

    def mask(self, value: Any, hash_value: Hash) -> Any:
        return [{**c, "source_max": hash_value(c["source_max"]),
                 "reason": HIDDEN if c.get("verdict") in _RANGE_VERDICTS else c.get("reason")}
                if "source_max" in c else c for c in value]


# aggregate figures that are a row's value (the others are counts and sums)
VALUE_FIGURES = ("min", "max")


class AggregateDifferences(Kind):
    holds_values = True

    def mask(self, value: Any, hash_value: Hash) -> Any:
        return [{**d, "source": hash_value(d["source"]), "target": hash_value(d["target"])}
                if d.get("figure") in VALUE_FIGURES else d for d in value]


class Diagnoses(Kind):
    """The pattern, its summary and cause name no value; its figures may (zero dates, spellings): numbers stay."""

    holds_values = True

    def mask(self, value: Any, hash_value: Hash) -> Any:
        return [{**d, "figures": {k: v if isinstance(v, (int, float)) and not isinstance(v, bool) else HIDDEN
                                  for k, v in (d.get("figures") or {}).items()}} for d in value]


class RecheckHistory(Kind):
    holds_values = True

    def mask(self, value: Any, hash_value: Hash) -> Any:
        if not value.get("history"):
            return value
        return {**value, "history": [
            {**h, "key": _row(h["key"], hash_value),
             "rounds": [{**r, "source": _row(r.get("source"), hash_value), "target": _row(r.get("target"), hash_value)}
                        for r in h["rounds"]]} for h in value["history"]]}


KINDS: tuple[Kind, ...] = (Plain(), Figures(), Notes(), KeyList(), RowTable(), DuplicatedKeys(), ChangedRows(),
                           RowImages(), SchemaColumns(), AggregateDifferences(), Diagnoses(), RecheckHistory())
_KIND = {kind.name: kind for kind in KINDS}


@dataclass(frozen=True)
class Section:
    key: str  # the key in ``details``
    kind: Kind
    title: str  # a report's heading for it
    produced_by: tuple[str, ...]  # the checks (or the run) that write it: documentation and tests
    shown: bool = True  # False: a name list other sections are headed by, or what the message already says
    headers: str | None = None  # the section naming the columns of this one's rows (KeyList, RowTable, RowImages)
    label: str = ""  # the lead of its line in a plain-text rendering (default: the title)
    omit: tuple[str, ...] = ()  # Figures: fields not shown (they repeat the case's subject)
    differs: bool = True  # its rows are differences (highlighted); False: shown for information (in flight)

    @property
    def holds_values(self) -> bool:
        return self.kind.holds_values

    @property
    def text_label(self) -> str:
        return self.label or self.title


def _section(key: str, kind: str, title: str, produced_by: str, **more: Any) -> Section:
    return Section(key, _KIND[kind], title, tuple(produced_by.split()), **more)


# In rendering order: the rows that differ first, then what explains them, then the figures.
SECTIONS: tuple[Section, ...] = (
    _section("only_in_source", "RowTable", "Rows only in source", "custom_sql", headers="columns",
             label="only in source"),
    _section("only_in_target", "RowTable", "Rows only in target", "custom_sql", headers="columns",
             label="only in target"),
    _section("missing_keys", "KeyList", "Keys missing in the target", "row_diff", headers="key",
             label="missing in target"),
    _section("extra_keys", "KeyList", "Keys extra in the target", "row_diff", headers="key", label="extra in target"),
    _section("duplicated_keys", "DuplicatedKeys", "Keys found more than once", "row_diff", headers="key",
             label="duplicated key"),
    _section("changed", "ChangedRows", "Changed rows", "row_diff", headers="key", label="changed"),
    _section("row_images", "RowImages", "Row images whose counts differ (table without key)", "row_diff",
             headers="columns", label="row"),
    _section("recheck", "RecheckHistory", "Recheck (CDC)", "row_diff", headers="key",
             label="still differing after every recheck"),
    _section("in_flight_keys", "KeyList", "In flight: differed, then converged on recheck, not failed", "row_diff",
             headers="key", label="in flight", differs=False),
    _section("diagnoses", "Diagnoses", "Diagnosis", "row_diff", label="diagnosis"),
    _section("notes", "Notes", "Note", "row_diff", label="note"),
    _section("window", "Figures", "Window (--since)", "row_diff", label="window"),
    _section("source_columns", "Plain", "Columns of the source query", "custom_sql", label="source columns"),
    _section("target_columns", "Plain", "Columns of the target query", "custom_sql", label="target columns"),
    _section("dms", "Figures", "DMS table statistics", "run", omit=("SchemaName", "TableName"), label="DMS"),
    _section("differences", "AggregateDifferences", "Differing aggregates", "aggregates",
             label="differing aggregate"),
    _section("schema_columns", "SchemaColumns", "Columns", "schema", label="column"),
    # names and counts the sections above are headed by, or the case's message already says
    _section("key", "Plain", "Key columns", "row_diff", shown=False),
    _section("columns", "Plain", "Columns", "row_diff custom_sql", shown=False),
    _section("multiset", "Plain", "Compared as a multiset (no key)", "row_diff", shown=False),
    _section("changed_columns", "Figures", "Changed columns (in the sample)", "row_diff", shown=False),
    _section("missing_columns", "Plain", "Source columns missing on the target", "row_diff", shown=False),
    _section("extra_columns", "Plain", "Target columns not mapped", "row_diff", shown=False),
    _section("removed_by_mapping", "Plain", "Columns removed by the table mappings", "row_diff", shown=False),
    _section("added_by_mapping", "Plain", "Columns added by the table mappings", "row_diff", shown=False),
    _section("truncated", "Plain", "Values cut by DMS, per column", "row_diff", shown=False),
    _section("lob_max_size_not_applied", "Plain", "Columns past LobMaxSize", "row_diff", shown=False),
)
BY_KEY: dict[str, Section] = {s.key: s for s in SECTIONS}

# dmsval.results/1 and early /2 documents: the schema check's column list was ``columns`` (the key row_diff and
# custom_sql use for column names); told apart by its entries, which are dicts
_LEGACY_SCHEMA_COLUMNS = "columns"


def current(details: dict[str, Any] | None) -> dict[str, Any]:
    """``details`` with the keys of older documents renamed to today's (what every reader calls first)."""
    details = dict(details or {})
    legacy = details.get(_LEGACY_SCHEMA_COLUMNS)
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict) and "schema_columns" not in details:
        details["schema_columns"] = details.pop(_LEGACY_SCHEMA_COLUMNS)
    return details


def undeclared(details: dict[str, Any]) -> list[str]:
    """The keys of ``details`` no section declares (tests fail on them; masking hides them whole)."""
    return [key for key in details if key not in BY_KEY]


def present(details: dict[str, Any]) -> list[tuple[Section, Any]]:
    """The shown sections ``details`` has a non-empty value for, in declaration (rendering) order."""
    return [(s, details[s.key]) for s in SECTIONS if s.shown and details.get(s.key) not in (None, [], {}, "")]


def headers(section: Section, details: dict[str, Any], width: int) -> list[str]:
    """The column names of a section's rows: from the section it is headed by, else ``c1``, ``c2``..."""
    names = list(details.get(section.headers) or []) if section.headers else []
    return names if names else [f"c{i + 1}" for i in range(width)]
