"""DMS TableMappings: which source tables a task migrates and under which target names.

Selection rules (``rule-type: selection``) choose tables: ``include`` / ``explicit`` add, ``exclude`` removes
(an exclude wins over any include, whatever the rule order, as in DMS). ``%`` matches any run of characters and
``_`` any single character, on schema and table names, case-insensitively as MySQL names are on Linux-free
comparisons. Transformation rules (``rule-type: transformation``) on schema and table rename the target:
rename, convert-lowercase, convert-uppercase, add/remove/replace-prefix, add/remove/replace-suffix, applied in
``rule-id`` order; on columns also remove-column (the column is not compared), add-column (a target-only
column, excluded from comparison and said so) and change-data-type (noted). Source filters of a selection rule
(eq, noteq, ste, gte, between, null, notnull; conditions OR-ed, filters AND-ed) become the source side's WHERE
clause. ``table-settings`` rules do not change what is compared. A malformed or unsupported rule raises
:class:`MappingError` naming its rule-id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from .errors import MappingError


_FILTER_OPERATORS = {"eq", "noteq", "ste", "gte", "between", "null", "notnull"}


@dataclass(frozen=True)
class FilterCondition:
    operator: str  # eq | noteq | ste | gte | between | null | notnull
    value: str | None = None
    end_value: str | None = None

    def sql(self, column: str, literal: Any) -> str:
        op = self.operator
        if op == "null":
            return f"{column} IS NULL"
        if op == "notnull":
            return f"{column} IS NOT NULL"
        if op == "between":
            return f"{column} BETWEEN {literal(self.value)} AND {literal(self.end_value)}"
        symbol = {"eq": "=", "noteq": "<>", "ste": "<=", "gte": ">="}[op]
        return f"{column} {symbol} {literal(self.value)}"


@dataclass(frozen=True)
class SourceFilter:
    """A DMS source filter on one column: its conditions are OR-ed; several filters are AND-ed."""

    column: str
    conditions: tuple[FilterCondition, ...]

    def sql(self, quote: Any, literal: Any) -> str:
        return "(" + " OR ".join(c.sql(quote(self.column), literal) for c in self.conditions) + ")"


@dataclass(frozen=True)
class ColumnRule:
    rule_id: str
    action: str
    column: str  # column-name pattern
    value: str | None = None
    old_value: str | None = None
    data_type: tuple[tuple[str, Any], ...] = ()  # change-data-type / add-column: the rule's data-type object


@dataclass(frozen=True, order=True)
class TablePair:
    """One source table, the target table DMS writes it to, and what the task does to its columns and rows."""

    source_schema: str
    source_table: str
    target_schema: str
    target_table: str
    column_rules: tuple[ColumnRule, ...] = ()
    filters: tuple[SourceFilter, ...] = ()

    def target_column(self, source_column: str) -> str | None:
        """The target name DMS gives a source column, None when a remove-column rule drops it."""
        name = source_column
        for rule in self.column_rules:
            if rule.action in ("add-column", "change-data-type") or not matches(rule.column, source_column):
                continue
            if rule.action == "remove-column":
                return None
            name = _rename(rule.action, name, rule.value or "", rule.old_value or "")
        return name

    @property
    def added_columns(self) -> tuple[str, ...]:
        """Target columns an add-column rule creates: not in the source, excluded from comparison."""
        return tuple(r.value or "" for r in self.column_rules if r.action == "add-column")

    @property
    def type_changes(self) -> dict[str, dict[str, Any]]:
        """Source column pattern -> the data-type a change-data-type rule sets (noted for normalization)."""
        return {r.column: dict(r.data_type) for r in self.column_rules if r.action == "change-data-type"}

    def source_filter_sql(self, quote: Any, literal: Any) -> str:
        """WHERE condition of the task's source filters ('' if none), in the source engine's SQL."""
        return " AND ".join(f.sql(quote, literal) for f in self.filters)

    @property
    def source_name(self) -> str:
        return f"{self.source_schema}.{self.source_table}"

    @property
    def target_name(self) -> str:
        return f"{self.target_schema}.{self.target_table}"

    def to_dict(self) -> dict[str, Any]:
        return {"source_schema": self.source_schema, "source_table": self.source_table,
                "target_schema": self.target_schema, "target_table": self.target_table,
                "column_rules": [{"rule_id": r.rule_id, "action": r.action, "column": r.column, "value": r.value,
                                  "old_value": r.old_value, "data_type": dict(r.data_type)}
                                 for r in self.column_rules],
                "filters": [{"column": f.column, "conditions": [c.__dict__ for c in f.conditions]}
                            for f in self.filters]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TablePair":
        rules = tuple(ColumnRule(r["rule_id"], r["action"], r["column"], r["value"], r["old_value"],
                                 tuple(sorted((r.get("data_type") or {}).items())))
                      for r in data.get("column_rules", []))
        filters = tuple(SourceFilter(f["column"], tuple(FilterCondition(**c) for c in f["conditions"]))
                        for f in data.get("filters", []))
        return cls(data["source_schema"], data["source_table"], data["target_schema"], data["target_table"],
                   rules, filters)


@lru_cache(maxsize=512)
def _pattern(glob: str) -> re.Pattern[str]:
    parts = []
    for ch in glob:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def matches(glob: str, name: str) -> bool:
    return bool(_pattern(glob).match(name))


@dataclass(frozen=True)
class SelectionRule:
    rule_id: str
    action: str  # include | exclude | explicit
    schema: str
    table: str
    filters: tuple[SourceFilter, ...] = ()

    def matches(self, schema: str, table: str) -> bool:
        if self.action == "explicit":  # explicit names an object exactly, no wildcards
            return self.schema.lower() == schema.lower() and self.table.lower() == table.lower()
        return matches(self.schema, schema) and matches(self.table, table)


@dataclass(frozen=True)
class TransformationRule:
    rule_id: str
    target: str  # schema | table | column
    action: str
    schema: str
    table: str
    value: str | None
    old_value: str | None
    column: str = "%"
    data_type: tuple[tuple[str, Any], ...] = ()

    def applies_to(self, schema: str, table: str) -> bool:
        if self.target == "schema":
            return matches(self.schema, schema)
        return matches(self.schema, schema) and matches(self.table, table)

    def apply(self, name: str) -> str:
        return _rename(self.action, name, self.value or "", self.old_value or "")


def _rename(action: str, name: str, value: str, old: str) -> str:
    if action == "rename":
        return value
    if action == "convert-lowercase":
        return name.lower()
    if action == "convert-uppercase":
        return name.upper()
    if action == "add-prefix":
        return value + name
    if action == "add-suffix":
        return name + value
    if action == "remove-prefix":
        return name[len(value):] if name.lower().startswith(value.lower()) else name
    if action == "remove-suffix":
        return name[: len(name) - len(value)] if value and name.lower().endswith(value.lower()) else name
    if action == "replace-prefix":
        return value + name[len(old):] if name.lower().startswith(old.lower()) else name
    if action == "replace-suffix":
        return name[: len(name) - len(old)] + value if old and name.lower().endswith(old.lower()) else name
    raise AssertionError(action)  # parse_rules admits only the actions above


_COLUMN_ONLY_ACTIONS = {"remove-column", "add-column", "change-data-type"}
_NAME_ACTIONS = {"rename", "convert-lowercase", "convert-uppercase", "add-prefix", "add-suffix", "remove-prefix",
                 "remove-suffix", "replace-prefix", "replace-suffix"}
_NEEDS_VALUE = {"rename", "add-prefix", "add-suffix", "remove-prefix", "remove-suffix", "replace-prefix",
                "replace-suffix"}


@dataclass(frozen=True)
class TableMappings:
    selections: tuple[SelectionRule, ...]
    transformations: tuple[TransformationRule, ...]

    def select(self, catalog: Iterable[tuple[str, str]]) -> list[TablePair]:
        """Source tables of ``catalog`` that the task migrates, with their target names, sorted."""
        pairs = []
        for schema, table in catalog:
            chosen = [r for r in self.selections if r.matches(schema, table)]
            if not chosen or any(r.action == "exclude" for r in chosen):
                continue
            filters = tuple(f for r in chosen for f in r.filters)
            pairs.append(self.target_of(schema, table, filters))
        return sorted(pairs)

    def target_of(self, schema: str, table: str, filters: tuple[SourceFilter, ...] = ()) -> TablePair:
        target_schema, target_table = schema, table
        column_rules = []
        for rule in self.transformations:
            if not rule.applies_to(schema, table):
                continue
            if rule.target == "schema":
                target_schema = rule.apply(target_schema)
            elif rule.target == "table":
                target_table = rule.apply(target_table)
            else:
                column_rules.append(ColumnRule(rule.rule_id, rule.action, rule.column, rule.value, rule.old_value,
                                               rule.data_type))
        return TablePair(schema, table, target_schema, target_table, tuple(column_rules), filters)


def _rule_key(rule: dict[str, Any]) -> tuple[int, str]:
    rid = str(rule.get("rule-id", ""))
    return (int(rid), rid) if rid.isdigit() else (1 << 62, rid)


def _parse_filters(rid: str, raw: Any) -> tuple[SourceFilter, ...]:
    if raw in (None, []):
        return ()
    if not isinstance(raw, list):
        raise MappingError(f"rule-id {rid}: 'filters' must be a list")
    filters = []
    for f in raw:
        if f.get("filter-type") != "source":
            raise MappingError(f"rule-id {rid}: unsupported filter-type {f.get('filter-type')!r} (only 'source')")
        column = f.get("column-name")
        conditions = f.get("filter-conditions") or []
        if not column or not conditions:
            raise MappingError(f"rule-id {rid}: a source filter needs column-name and filter-conditions")
        parsed = []
        for c in conditions:
            op = c.get("filter-operator")
            if op not in _FILTER_OPERATORS:
                raise MappingError(f"rule-id {rid}: unsupported filter-operator {op!r} on column {column}")
            if op == "between":
                if c.get("start-value") is None or c.get("end-value") is None:
                    raise MappingError(f"rule-id {rid}: between on column {column} needs start-value and end-value")
                parsed.append(FilterCondition(op, str(c["start-value"]), str(c["end-value"])))
            elif op in ("null", "notnull"):
                parsed.append(FilterCondition(op))
            else:
                if c.get("value") is None:
                    raise MappingError(f"rule-id {rid}: {op} on column {column} needs a value")
                parsed.append(FilterCondition(op, str(c["value"])))
        filters.append(SourceFilter(str(column), tuple(parsed)))
    return tuple(filters)


def parse_rules(document: dict[str, Any]) -> TableMappings:
    rules = document.get("rules")
    if not isinstance(rules, list) or not rules:
        raise MappingError("TableMappings has no 'rules' list")
    selections: list[SelectionRule] = []
    transformations: list[TransformationRule] = []
    for rule in sorted(rules, key=_rule_key):
        rid = str(rule.get("rule-id", "?"))
        kind = rule.get("rule-type")
        locator = rule.get("object-locator")
        if kind in ("selection", "transformation") and not isinstance(locator, dict):
            raise MappingError(f"rule-id {rid}: missing object-locator")
        if kind == "selection":
            action = rule.get("rule-action")
            if action not in ("include", "exclude", "explicit"):
                raise MappingError(f"rule-id {rid}: unsupported selection rule-action {action!r}")
            schema, table = locator.get("schema-name"), locator.get("table-name")
            if not schema or not table:
                raise MappingError(f"rule-id {rid}: object-locator needs schema-name and table-name")
            selections.append(SelectionRule(rid, action, schema, table, _parse_filters(rid, rule.get("filters"))))
        elif kind == "transformation":
            target, action = rule.get("rule-target"), rule.get("rule-action")
            if target not in ("schema", "table", "column"):
                raise MappingError(f"rule-id {rid}: unsupported transformation rule-target {target!r}")
            allowed = _NAME_ACTIONS | (_COLUMN_ONLY_ACTIONS if target == "column" else set())
            if action not in allowed:
                raise MappingError(f"rule-id {rid}: unsupported transformation rule-action {action!r} "
                                   f"for rule-target {target}")
            if action == "add-column" and (not rule.get("value") or not isinstance(rule.get("data-type"), dict)):
                raise MappingError(f"rule-id {rid}: add-column needs a 'value' (the new column) and a 'data-type'")
            if action == "change-data-type" and not isinstance(rule.get("data-type"), dict):
                raise MappingError(f"rule-id {rid}: change-data-type needs a 'data-type' object")
            if target == "column" and action != "add-column" and not locator.get("column-name"):
                raise MappingError(f"rule-id {rid}: a column rule's object-locator needs column-name")
            if action in _NEEDS_VALUE and rule.get("value") in (None, ""):
                raise MappingError(f"rule-id {rid}: rule-action {action} needs a 'value'")
            if action.startswith("replace-") and not rule.get("old-value"):
                raise MappingError(f"rule-id {rid}: rule-action {action} needs an 'old-value'")
            schema = locator.get("schema-name")
            table = locator.get("table-name", "%")
            if not schema:
                raise MappingError(f"rule-id {rid}: object-locator needs schema-name")
            transformations.append(TransformationRule(
                rid, target, action, schema, table, rule.get("value"), rule.get("old-value"),
                locator.get("column-name", "%"), tuple(sorted((rule.get("data-type") or {}).items()))))
        elif kind == "table-settings":
            continue  # parallel-load and LOB settings per table do not change which tables are compared
        else:
            raise MappingError(f"rule-id {rid}: unsupported rule-type {kind!r}")
    if not any(r.action in ("include", "explicit") for r in selections):
        raise MappingError("TableMappings has no include or explicit selection rule: it selects no table")
    return TableMappings(tuple(selections), tuple(transformations))
