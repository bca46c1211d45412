"""aggregates: per column, figures computed in SQL on both sides with row_diff's normalization, one query each.

Every column: the number of non-NULL values (zero dates count as NULL, as DMS writes them). Numbers: MIN, MAX and
SUM (FLOAT/DOUBLE: MIN and MAX, read exactly on both sides - widened to DOUBLE in SQL and rendered as row_diff's
canonical text at the same significant digits, never through a driver's shortened text). Dates and timestamps:
MIN and MAX of the canonical text (ISO digits sort chronologically). Text: the sum of character lengths of the
canonical text (cut where the target keeps a prefix, as row_diff). LOBs and bits: the non-NULL count (LOBs are
compared by row_diff's in-database hashes), bits also their number of ones. Which figures apply is the route's
decision (``Route.aggregate_family``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..engines import Engine
from ..engines.catalog import ColumnInfo, ValueKind
from ..mappings import TablePair
from .base import Case, CheckContext, Outcome, SkipCase, TableCheck, on_both_sides
from .recheck import settle
from .row_diff import lob_max_kb


def column_aggregates(engine: Engine, column_sql: str, kind: ValueKind, column: ColumnInfo,
                      family: str) -> list[tuple[str, str]]:
    """(figure name, SQL aggregate) for one column; the same figures on both sides for the same kind and
    aggregate family (``Route.aggregate_family``)."""
    canonical = engine.canonical(column_sql, kind, column)
    figures = [("non_null", f"COUNT({canonical})")]
    if family == "integer":
        figures += [("min", f"MIN({column_sql})"), ("max", f"MAX({column_sql})"),
                    ("sum", engine.sum_ints(column_sql))]
    elif family == "decimal":
        figures += [("min", f"MIN({column_sql})"), ("max", f"MAX({column_sql})"), ("sum", f"SUM({column_sql})")]
    elif family == "float":
        # exact on both sides: the extreme value's canonical text (widened to DOUBLE in SQL, kind.digits digits);
        # no SUM: PostgreSQL/Redshift sum REAL in single precision, which drifts from MySQL's double sum
        figures += [("min", engine.canonical(f"MIN({column_sql})", kind, column)),
                    ("max", engine.canonical(f"MAX({column_sql})", kind, column))]
    elif family == "temporal":
        figures += [("min", f"MIN({canonical})"), ("max", f"MAX({canonical})")]
    elif family == "text_length":
        figures += [("length_sum", engine.sum_ints(engine.char_length(canonical)))]
    elif family == "ones":
        figures += [("ones", f"SUM(CASE WHEN {canonical} = '1' THEN 1 ELSE 0 END)")]
    return figures


def _equal(kind: ValueKind, name: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return Decimal(str(a)) == Decimal(str(b))
    return str(a) == str(b)


class Aggregates(TableCheck):
    name = "aggregates"
    description = "per column non-null count, min/max/sum of numbers and dates, total text length"

    def run_table(self, case: Case, pair: TablePair, ctx: CheckContext) -> Outcome:
        source_info, target_info = self.table_infos(pair, ctx)
        lob_kb = lob_max_kb(ctx.task_settings)
        route = ctx.the_route()
        plan: list[tuple[str, str, ValueKind]] = []  # (column, figure, kind)
        source_exprs: list[str] = ["COUNT(*)"]
        target_exprs: list[str] = ["COUNT(*)"]
        for column in source_info.columns:
            target_name = pair.target_column(column.name)
            found = target_info.column(ctx.target.fold_identifier(target_name)) if target_name else None
            if found is None:
                continue  # missing or removed columns are the schema check's finding
            kind = route.kind_of(column, found, float_digits=ctx.settings.float_digits,
                                 double_digits=ctx.settings.double_digits, lob_max_kb=lob_kb)
            source_family = route.aggregate_family(column, kind, column)
            target_family = route.aggregate_family(column, kind, found)
            source_figures = column_aggregates(ctx.source, ctx.source.quote(column.name), kind, column, source_family)
            target_figures = column_aggregates(ctx.target, ctx.target.quote(found.name), kind, found, target_family)
            if [n for n, _ in source_figures] != [n for n, _ in target_figures]:
                # e.g. an integer source column on a BOOLEAN target: compare what both sides can say
                source_figures = source_figures[:1]
                target_figures = target_figures[:1]
            for (name, s_sql), (_, t_sql) in zip(source_figures, target_figures):
                plan.append((column.name, name, kind))
                source_exprs.append(s_sql)
                target_exprs.append(t_sql)
        source_where = pair.source_filter_sql(ctx.source.quote, ctx.source.literal)
        source_sql = (f"SELECT {', '.join(source_exprs)} FROM {ctx.source.table_ref(pair.source_schema, pair.source_table)}"
                      + (f" WHERE {source_where}" if source_where else ""))
        target_sql = f"SELECT {', '.join(target_exprs)} FROM {ctx.target.table_ref(pair.target_schema, pair.target_table)}"

        def read() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
            s_row, t_row = on_both_sides(lambda: ctx.source.query(source_sql, ()).rows[0],
                                         lambda: ctx.target.query(target_sql, ()).rows[0])
            return tuple(s_row), tuple(t_row)

        def differences_of(rows: tuple[tuple[Any, ...], tuple[Any, ...]]) -> list[dict[str, Any]]:
            s_row, t_row = rows
            found: list[dict[str, Any]] = []
            if int(s_row[0]) != int(t_row[0]):
                found.append({"column": "*", "figure": "rows", "source": int(s_row[0]), "target": int(t_row[0])})
            for (column, name, kind), a, b in zip(plan, s_row[1:], t_row[1:]):
                if not _equal(kind, name, a, b):
                    found.append({"column": column, "figure": name, "source": _plain(a), "target": _plain(b)})
            return found

        settled = settle(read(), read, lambda rows: not differences_of(rows), ctx.recheck)
        if settled.state == "moving":
            raise SkipCase(f"CDC: the table kept changing and its aggregates never agreed in {settled.rounds} "
                           "rechecks; changes in flight hide whether it differs -- row_diff compares its rows with "
                           "in-flight recheck")
        s_row, t_row = settled.reading
        differences = differences_of(settled.reading)
        figures = {"rows_source": int(s_row[0]), "rows_target": int(t_row[0]), "aggregates": len(plan) + 1,
                   "differences": len(differences)}
        details = {"differences": differences}
        sql = {"source": ctx.source.shown(source_sql), "target": ctx.target.shown(target_sql)}
        if settled.rounds:
            figures["recheck_rounds"] = settled.rounds
        if not differences:
            return Outcome(True, f"{len(plan) + 1} aggregates equal{settled.note()}", figures, sql, details)
        # names only: the values (MIN/MAX are row values) are in the details, where --mask-values hides them
        shown = ", ".join(f"{d['column']}.{d['figure']}" for d in differences[:5])
        return Outcome(False, f"{len(differences)} aggregates differ: {shown}", figures, sql, details)


def _plain(value: Any) -> Any:
    """A JSON-friendly figure: whole Decimals as int (sums of integers), other non-JSON values as text."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value if value is None or isinstance(value, (int, float, str)) else str(value)
