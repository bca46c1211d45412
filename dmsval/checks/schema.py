"""schema: the target table has the columns the task maps, with the types DMS produces (or safely wider).

Per table: source columns missing on the target and target columns nobody maps (an add-column rule's column is
expected and said so) are named; each common column's target type is compared with what DMS creates from the
source type - the route's knowledge (``CheckContext.route``, e.g. ``dmsval.routes.mysql_redshift``); this module
names no source type.

Widths are judged against the data, not against one model of DMS (whose bytes per character, integer widening
and LOB sizing vary with versions and settings): a target at least as wide as DMS's type, or wide enough for
every value the source type allows (``WidthNeed.full``: e.g. a binary column's hex text), is fine. A narrower one
- narrower than DMS's type, or a type of DMS's own that cannot hold the source type's range - is checked against
the source's current data in one query per table (longest value in UTF-8 bytes or hex digits, smallest and
largest number): data that does not fit fails; data that fits is a *risk*, noted with its figures, and the case
passes. Other type differences (another scale, a single- for a double-precision float, another family) fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from ..engines.catalog import ColumnInfo, ValueKind
from ..routes import UnknownSourceType, WidthNeed
from ..mappings import TablePair, matches
from .base import Case, CheckContext, Outcome, TableCheck
from .row_diff import lob_max_kb

_INT_BYTES = {"smallint": 2, "integer": 4, "bigint": 8, "int2": 2, "int4": 4, "int8": 8}
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
    """A type as the route writes it: SMALLINT, NUMERIC(5,2), VARCHAR(80), DOUBLE PRECISION..."""
    t = declared.upper()
    if t in ("SMALLINT", "INTEGER", "BIGINT"):
        return SqlType("int", _INT_BYTES[t.lower()], text=t)
    if m := re.match(r"NUMERIC\((\d+),(\d+)\)", t):
        return SqlType("numeric", int(m.group(1)), int(m.group(2)), t)
    if t in ("REAL", "DOUBLE PRECISION"):
        return SqlType("float", 4 if t == "REAL" else 8, text=t)
    if m := re.match(r"VARCHAR\((\d+)\)", t):
        return SqlType("varchar", int(m.group(1)), text=t)
    if t == "TEXT":
        return SqlType("varchar", _UNBOUNDED, text=t)  # PostgreSQL's unbounded text (as parse_actual reads it)
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
        pending: list[_DataCheck] = []
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
            rows.append(self._column(ctx, pair, column, found, problems, pending))
        if pending:
            self._check_data(ctx, pair, pending, problems)
        for column in target.columns:
            if column.name.lower() in mapped:
                continue
            if column.name.lower() in added:
                rows.append({"column": column.name, "target_type": parse_actual(column).text, "verdict": "added",
                             "reason": "add-column rule: not compared"})
            else:
                problems.append(f"target column {column.name} is not mapped from any source column")
                rows.append({"column": column.name, "target_type": parse_actual(column).text, "verdict": "extra"})
        risks = [r for r in rows if r["verdict"] == "risk"]
        figures = {"source_columns": len(source.columns), "target_columns": len(target.columns),
                   "problems": len(problems), "risks": len(risks)}
        details = {"schema_columns": rows}
        if problems:
            return Outcome(False, "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)"
                                                             if len(problems) > 5 else ""), figures, {}, details)
        message = f"{len(mapped)} columns with DMS-compatible types"
        if risks:  # narrower than DMS's type, or than the source type's range, but the data fits: said, not failed
            message += f"; {len(risks)} risk{'s' if len(risks) > 1 else ''}: " + "; ".join(
                f"{r['column']}: {r['note']}" for r in risks[:5]) + (f" (and {len(risks) - 5} more)"
                                                                    if len(risks) > 5 else "")
        return Outcome(True, message, figures, {}, details)

    def _column(self, ctx: CheckContext, pair: TablePair, column: ColumnInfo, found: ColumnInfo,
                problems: list[str], pending: list["_DataCheck"]) -> dict[str, Any]:
        actual = parse_actual(found)
        row: dict[str, Any] = {"column": column.name, "source_type": column.column_type, "target_type": actual.text}
        rule = next((p for p in pair.type_changes if matches(p, column.name)), None)
        if rule is not None:
            row.update(verdict="ok", reason=f"type set by a change-data-type rule: {pair.type_changes[rule]}")
            return row
        route = ctx.the_route()
        try:
            expected = parse_expected(route.expected_target_type(column))
        except UnknownSourceType as e:
            problems.append(str(e))
            row.update(verdict="unknown", reason=str(e))
            return row
        verdict, reason = compare_types(expected, actual)
        row.update(expected_type=expected.text, verdict=verdict, reason=reason)
        if verdict == "wrong":
            problems.append(f"{column.name}: {reason}")
            return row
        lob_kb = lob_max_kb(ctx.task_settings)
        need = route.width_need(column, lob_max_kb=lob_kb)
        kind = route.kind_of(column, found, float_digits=ctx.settings.float_digits,
                             double_digits=ctx.settings.double_digits, lob_max_kb=lob_kb)
        if need.figure in ("octets", "hex") and actual.family == "varchar":
            width = route.target_width(found) or actual.size
            if verdict == "ok":
                return row
            if width >= need.full:  # narrower than DMS's type, yet it holds every value DMS would write
                unit = "hex digits" if need.figure == "hex" else "bytes"
                row.update(verdict="ok", reason=f"{actual} holds every value ({need.full:,} {unit}) though DMS "
                                                f"creates {expected}")
                return row
            pending.append(_DataCheck(row, column, kind, need, width=width, base=reason, actual=actual,
                                      expected=expected))
            return row
        if need.figure == "range" and actual.family in ("int", "numeric"):
            source_range = route.source_range(column)
            target_range = route.target_range(found)
            if source_range is None or target_range is None:
                if verdict != "ok":
                    problems.append(f"{column.name}: {reason}")
                return row
            if target_range[0] <= source_range[0] and source_range[1] <= target_range[1]:
                # every value the source type allows fits (e.g. a wider numeric than DMS's): fine whatever DMS does
                row.update(verdict="ok")
                return row
            pending.append(_DataCheck(row, column, kind, need, target_range=target_range, base=reason,
                                      actual=actual, expected=expected))
            return row
        if verdict != "ok":
            problems.append(f"{column.name}: {reason}")
        return row

    @staticmethod
    def _check_data(ctx: CheckContext, pair: TablePair, pending: list["_DataCheck"], problems: list[str]) -> None:
        """One query on the source for every column whose target is narrower than its type: the data decides.

        A column whose current values fit is a risk (the case passes, the figures are in the details); values
        that do not fit fail. The task's source filters apply: only the rows DMS migrates count.
        """
        engine = ctx.source
        exprs: list[str] = []
        for check in pending:
            x = engine.quote(check.column.name)
            if check.need.figure == "range":
                exprs += [f"MIN({x})", f"MAX({x})"]
            else:
                exprs.append(f"MAX({engine.octet_length(x, replace(check.kind, cut_bytes=0), check.column)})")
        where = pair.source_filter_sql(engine.quote, engine.literal)
        sql = (f"SELECT {', '.join(exprs)} FROM {engine.table_ref(pair.source_schema, pair.source_table)}"
               + (f" WHERE {where}" if where else ""))
        values = list(engine.query(sql, ()).rows[0])
        for check in pending:
            row = check.row
            narrower = row["verdict"] == "narrower"  # than DMS's type (else: DMS's own type cannot hold the range)
            if check.need.figure == "range":
                low, high = values.pop(0), values.pop(0)
                lo, hi = check.target_range
                row["source_max"] = None if high is None else _number(high)
                current = f"current min {_number(low)}, max {_number(high)}" if high is not None else "no values"
                fits = high is None or (lo <= low and high <= hi)
                if fits:
                    why = check.base if narrower else f"{check.column.column_type} values outside {lo}..{hi} would " \
                                                        f"not fit {check.actual}"
                    row.update(verdict="risk", reason=f"{why}; the current values fit ({current})",
                               note=f"{check.actual} cannot hold every {check.column.column_type} value; the "
                                    f"current values fit")
                else:
                    row.update(verdict="narrower", reason=f"source values outside {lo}..{hi} do not fit "
                                                          f"{check.actual} ({current})")
                    # the value stays in the details (masked by --mask-values), not in the message
                    problems.append(f"{check.column.name}: source values outside {lo}..{hi} do not fit "
                                    f"{check.actual}")
                continue
            longest = values.pop(0)
            measured = 0 if longest is None else int(longest) * (2 if check.need.figure == "hex" else 1)
            if check.need.cap:
                measured = min(measured, check.need.cap)  # what DMS keeps at most (limited LOB mode)
            unit = "hex digits" if check.need.figure == "hex" else "bytes"
            row["source_longest"] = measured
            if measured <= check.width:
                row.update(verdict="risk", reason=f"{check.base}; the longest source value ({measured:,} {unit}) "
                                                  f"fits {check.width:,}",
                           note=f"{check.actual} is narrower than DMS's {check.expected}; the longest value, "
                                f"{measured:,} {unit}, fits")
            elif not ctx.settings.fail_on_truncation:
                # Longer text or binary is cut to what the column holds (DMS with TruncateColumns, VARCHARs created
                # at 3 bytes per character): a legitimate DMS variant whose values row_diff compares at that cut
                # and counts as truncated. Reported as a risk here, a failure with --fail-on-truncation.
                row.update(verdict="risk", reason=f"{check.base}; the longest source value ({measured:,} {unit}) "
                                                  f"does not fit {check.width:,}: longer values are cut",
                           note=f"{check.actual} cannot hold the longest value ({measured:,} {unit}): values are "
                                "cut (see row_diff's truncation note; --fail-on-truncation fails this)")
            else:
                row.update(verdict="narrower", reason=f"{check.base}; the longest source value ({measured:,} "
                                                      f"{unit}) does not fit {check.width:,}")
                problems.append(f"{check.column.name}: {row['reason']}")


@dataclass
class _DataCheck:
    """A column whose target is narrower than its type: the source's data decides (one query per table)."""

    row: dict[str, Any]
    column: ColumnInfo
    kind: ValueKind
    need: WidthNeed
    base: str
    actual: SqlType
    expected: SqlType
    width: int = 0  # text: bytes the target holds
    target_range: tuple[Any, Any] = (0, 0)  # numbers: the values the target holds


def _number(value: Any) -> Any:
    """An aggregate's value as a JSON-friendly number (whole Decimals as int)."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value if isinstance(value, (int, float)) else str(value)
