"""DMS TableMappings: which source tables a task migrates and under which target names.

Selection rules (``rule-type: selection``) choose tables: ``include`` / ``explicit`` add, ``exclude`` removes
(an exclude wins over any include, whatever the rule order, as in DMS). ``%`` matches any run of characters and
``_`` any single character, on schema and table names, case-insensitively as MySQL names are on Linux-free
comparisons. Transformation rules (``rule-type: transformation``) on schema and table rename the target:
rename, convert-lowercase, convert-uppercase, add/remove/replace-prefix, add/remove/replace-suffix, applied in
``rule-id`` order. A malformed or unsupported rule raises :class:`MappingError` naming its rule-id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from .errors import MappingError


@dataclass(frozen=True, order=True)
class TablePair:
    """One source table and the target table DMS writes it to."""

    source_schema: str
    source_table: str
    target_schema: str
    target_table: str

    @property
    def source_name(self) -> str:
        return f"{self.source_schema}.{self.source_table}"

    @property
    def target_name(self) -> str:
        return f"{self.target_schema}.{self.target_table}"

    def to_dict(self) -> dict[str, Any]:
        return {"source_schema": self.source_schema, "source_table": self.source_table,
                "target_schema": self.target_schema, "target_table": self.target_table}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TablePair":
        return cls(**data)


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

    def matches(self, schema: str, table: str) -> bool:
        if self.action == "explicit":  # explicit names an object exactly, no wildcards
            return self.schema.lower() == schema.lower() and self.table.lower() == table.lower()
        return matches(self.schema, schema) and matches(self.table, table)


@dataclass(frozen=True)
class TransformationRule:
    rule_id: str
    target: str  # schema | table
    action: str
    schema: str
    table: str
    value: str | None
    old_value: str | None

    def applies_to(self, schema: str, table: str) -> bool:
        if self.target == "schema":
            return matches(self.schema, schema)
        return matches(self.schema, schema) and matches(self.table, table)

    def apply(self, name: str) -> str:
        action, value, old = self.action, self.value or "", self.old_value or ""
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
            pairs.append(self.target_of(schema, table))
        return sorted(pairs)

    def target_of(self, schema: str, table: str) -> TablePair:
        target_schema, target_table = schema, table
        for rule in self.transformations:
            if not rule.applies_to(schema, table):
                continue
            if rule.target == "schema":
                target_schema = rule.apply(target_schema)
            else:
                target_table = rule.apply(target_table)
        return TablePair(schema, table, target_schema, target_table)


def _rule_key(rule: dict[str, Any]) -> tuple[int, str]:
    rid = str(rule.get("rule-id", ""))
    return (int(rid), rid) if rid.isdigit() else (1 << 62, rid)


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
            selections.append(SelectionRule(rid, action, schema, table))
        elif kind == "transformation":
            target, action = rule.get("rule-target"), rule.get("rule-action")
            if target not in ("schema", "table"):
                raise MappingError(f"rule-id {rid}: unsupported transformation rule-target {target!r}")
            if action not in _NAME_ACTIONS:
                raise MappingError(f"rule-id {rid}: unsupported transformation rule-action {action!r}")
            if action in _NEEDS_VALUE and rule.get("value") in (None, ""):
                raise MappingError(f"rule-id {rid}: rule-action {action} needs a 'value'")
            if action.startswith("replace-") and not rule.get("old-value"):
                raise MappingError(f"rule-id {rid}: rule-action {action} needs an 'old-value'")
            schema = locator.get("schema-name")
            table = locator.get("table-name", "%")
            if not schema:
                raise MappingError(f"rule-id {rid}: object-locator needs schema-name")
            transformations.append(TransformationRule(rid, target, action, schema, table, rule.get("value"),
                                                      rule.get("old-value")))
        elif kind == "table-settings":
            continue  # parallel-load and LOB settings per table do not change which tables are compared
        else:
            raise MappingError(f"rule-id {rid}: unsupported rule-type {kind!r}")
    if not any(r.action in ("include", "explicit") for r in selections):
        raise MappingError("TableMappings has no include or explicit selection rule: it selects no table")
    return TableMappings(tuple(selections), tuple(transformations))
