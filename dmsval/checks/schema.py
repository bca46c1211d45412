"""schema: the target table has the columns the task maps, with the types DMS produces (or safely wider).

Per table: source columns missing on the target and target columns nobody maps (an add-column rule's column is
expected and said so) are named; each common column's target type is compared with what DMS creates from the
source type (``dmsval.dms_types``: unsigned widening, TINYINT -> INT2, BIT -> BOOLEAN, ENUM/SET/TEXT -> VARCHAR
in bytes, TIME -> VARCHAR, DECIMAL over 38 digits -> VARCHAR, LOBs). A narrower type fails: it can lose data.
Where DMS's own mapping is narrower than the source range (SMALLINT UNSIGNED -> INT2), the source's current
maximum is checked: values that do not fit fail, otherwise the risk is noted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..dms_types import MySQLColumn, UnknownSourceType, redshift_type_for
from ..engines.catalog import ColumnInfo
from ..mappings import TablePair, matches
from .base import Case, CheckContext, Outcome, TableCheck

_INT_BYTES = {"smallint": 2, "integer": 4, "bigint": 8, "int2": 2, "int4": 4, "int8": 8}
_INT_MAX = {2: 32767, 4: 2147483647, 8: 9223372036854775807}
_INT_DIGITS = {2: 5, 4: 10, 8: 19}
_UNBOUNDED = 10**9


@dataclass(frozen=True)
class SqlType:
    family: str  # int | numeric | float | bool | date | timestamp | varchar | other
    size: int = 0  # int/float: bytes; varchar: length; numeric: precision
    scale: int = 0
    text: str = ""

    def __str__(self) -> str:
        return self.text


def parse_expected(declared: str) -> SqlType:
    """A type as dms_types writes it: SMALLINT, NUMERIC(5,2), VARCHAR(80), DOUBLE PRECISION..."""
    t = declared.upper()
    if t in ("SMALLINT", "INTEGER", "BIGINT"):
        return SqlType("int", _INT_BYTES[t.lower()], text=t)
    if m := re.match(r"NUMERIC\((\d+),(\d+)\)", t):
        return SqlType("numeric", int(m.group(1)), int(m.group(2)), t)
    if t in ("REAL", "DOUBLE PRECISION"):
        return SqlType("float", 4 if t == "REAL" else 8, text=t)
    if m := re.match(r"VARCHAR\((\d+)\)", t):
        return SqlType("varchar", int(m.group(1)), text=t)
    family = {"BOOLEAN": "bool", "DATE": "date", "TIMESTAMP": "timestamp"}.get(t, "other")
    return SqlType(family, text=t)


def parse_actual(column: ColumnInfo) -> SqlType:
    """A target column as information_schema (PostgreSQL / Redshift) describes it."""
    t = column.data_type
    if t in _INT_BYTES:
        return SqlType("int", _INT_BYTES[t], text=t.upper())
    if t == "numeric":
        return SqlType("numeric", column.numeric_precision or 38, column.numeric_scale or 0,
                       f"NUMERIC({column.numeric_precision},{column.numeric_scale})")
    if t in ("real", "double precision"):
        return SqlType("float", 4 if t == "real" else 8, text=t.upper())
    if t in ("character varying", "character", "varchar", "char", "bpchar"):
        n = column.char_length or _UNBOUNDED
        return SqlType("varchar", n, text=f"VARCHAR({n})")
    if t == "text":
        return SqlType("varchar", _UNBOUNDED, text="TEXT")
    if t == "boolean":
        return SqlType("bool", text="BOOLEAN")
    if t == "date":
        return SqlType("date", text="DATE")
    if t.startswith("timestamp"):
        return SqlType("timestamp", text=t.upper())
    return SqlType("other", text=t.upper())


def compare_types(expected: SqlType, actual: SqlType) -> tuple[str, str]:
    """(verdict, reason): verdict is ok | narrower | wrong."""
    if expected.family == actual.family:
        if expected.family in ("int", "float", "varchar"):
            if actual.size >= expected.size:
                return "ok", "" if actual.size == expected.size else f"wider than DMS's {expected}"
            what = "bytes for multibyte text" if expected.family == "varchar" else "range"
            return "narrower", f"{actual} is narrower than DMS's {expected}: can lose data ({what})"
        if expected.family == "numeric":
            if actual.scale != expected.scale:
                return "wrong", f"{actual} has another scale than DMS's {expected}: values are rounded"
            if actual.size - actual.scale < expected.size - expected.scale:
                return "narrower", f"{actual} holds fewer integer digits than DMS's {expected}"
            return "ok", ""
        return "ok", ""
    if expected.family == "int" and actual.family == "numeric" and actual.scale == 0 \
            and actual.size >= _INT_DIGITS[expected.size]:
        return "ok", f"wider than DMS's {expected}"
    if expected.family == "numeric" and expected.scale == 0 and actual.family == "int":
        return "narrower", f"{actual} cannot hold every {expected} value"
    return "wrong", f"expected {expected} (what DMS creates), found {actual}"


class Schema(TableCheck):
    name = "schema"
    description = "columns present on both sides after mapping, target types compatible with DMS's mapping"

    def run_table(self, case: Case, pair: TablePair, ctx: CheckContext) -> Outcome:
        source, target = self.table_infos(pair, ctx)
        added = {ctx.target.fold_identifier(n).lower() for n in pair.added_columns}
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        mapped: set[str] = set()
        for column in source.columns:
            target_name = pair.target_column(column.name)
            if target_name is None:
                rows.append({"column": column.name, "verdict": "removed", "reason": "remove-column rule"})
                continue
            found = target.column(ctx.target.fold_identifier(target_name))
            if found is None:
                problems.append(f"column {column.name} missing on the target (as {target_name})")
                rows.append({"column": column.name, "source_type": column.column_type, "verdict": "missing"})
                continue
            mapped.add(found.name.lower())
            rows.append(self._column(ctx, pair, column, found, problems))
        for column in target.columns:
            if column.name.lower() in mapped:
                continue
            if column.name.lower() in added:
                rows.append({"column": column.name, "target_type": parse_actual(column).text, "verdict": "added",
                             "reason": "add-column rule: not compared"})
            else:
                problems.append(f"target column {column.name} is not mapped from any source column")
                rows.append({"column": column.name, "target_type": parse_actual(column).text, "verdict": "extra"})
        figures = {"source_columns": len(source.columns), "target_columns": len(target.columns),
                   "problems": len(problems), "risks": sum(1 for r in rows if r["verdict"] == "risk")}
        details = {"columns": rows}
        if problems:
            return Outcome(False, "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)"
                                                             if len(problems) > 5 else ""), figures, {}, details)
        return Outcome(True, f"{len(mapped)} columns with DMS-compatible types", figures, {}, details)

    def _column(self, ctx: CheckContext, pair: TablePair, column: ColumnInfo, found: ColumnInfo,
                problems: list[str]) -> dict[str, Any]:
        actual = parse_actual(found)
        row: dict[str, Any] = {"column": column.name, "source_type": column.column_type, "target_type": actual.text}
        rule = next((p for p in pair.type_changes if matches(p, column.name)), None)
        if rule is not None:
            row.update(verdict="ok", reason=f"type set by a change-data-type rule: {pair.type_changes[rule]}")
            return row
        try:
            expected = parse_expected(redshift_type_for(MySQLColumn(
                column.name, column.data_type, column.column_type, column.char_octet_length,
                column.numeric_precision, column.numeric_scale, column.datetime_precision)))
        except UnknownSourceType as e:
            problems.append(str(e))
            row.update(verdict="unknown", reason=str(e))
            return row
        verdict, reason = compare_types(expected, actual)
        row.update(expected_type=expected.text, verdict=verdict, reason=reason)
        if verdict != "ok":
            problems.append(f"{column.name}: {reason}")
            return row
        # DMS's own mapping can be narrower than the source range (SMALLINT UNSIGNED -> INT2): check the data
        if column.unsigned and actual.family == "int" and column.data_type in ("tinyint", "smallint", "mediumint",
                                                                                 "int", "bigint"):
            source_max = _SOURCE_MAX.get(column.data_type, 0)
            if source_max > _INT_MAX[actual.size]:
                largest = ctx.source.query(f"SELECT MAX({ctx.source.quote(column.name)}) FROM "
                                           f"{ctx.source.table_ref(pair.source_schema, pair.source_table)}",
                                           ()).rows[0][0]
                row["source_max"] = None if largest is None else int(largest)
                if largest is not None and int(largest) > _INT_MAX[actual.size]:
                    row.update(verdict="narrower", reason=f"source value {largest} does not fit {actual.text}")
                    # the value stays in the details (masked by --mask-values), not in the message
                    problems.append(f"{column.name}: source values above {_INT_MAX[actual.size]} do not fit "
                                    f"{actual.text}")
                else:
                    row.update(verdict="risk", reason=f"{column.column_type} values above {_INT_MAX[actual.size]} "
                                                      f"would not fit {actual.text} (current max {largest})")
        return row


_SOURCE_MAX = {"tinyint": 255, "smallint": 65535, "mediumint": 16777215, "int": 4294967295,
               "bigint": 18446744073709551615}
