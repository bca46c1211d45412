"""row_count: the number of rows of each migrated table, source vs target."""

from __future__ import annotations

from ..errors import EngineError
from ..mappings import TablePair
from .base import Case, CheckContext, Outcome, SkipCase, TableCheck, on_both_sides
from .recheck import settle

COUNT_SQL = "SELECT COUNT(*) FROM {table}"


class RowCount(TableCheck):
    name = "row_count"
    description = "row count per table, source vs target"

    def run_table(self, case: Case, pair: TablePair, ctx: CheckContext) -> Outcome:
        source_sql = COUNT_SQL.format(table=ctx.source.table_ref(pair.source_schema, pair.source_table))
        source_filter = pair.source_filter_sql(ctx.source.quote, ctx.source.literal)
        if source_filter:  # the task migrates only these rows
            source_sql += f" WHERE {source_filter}"
        target_sql = COUNT_SQL.format(table=ctx.target.table_ref(pair.target_schema, pair.target_table))
        sql = {"source": ctx.source.shown(source_sql), "target": ctx.target.shown(target_sql)}

        def read() -> tuple[int, int]:
            # () rather than None: SQL holding engine literals always runs with a parameter tuple
            source_result, target_result = on_both_sides(lambda: ctx.source.query(source_sql, ()),
                                                         lambda: ctx.target.query(target_sql, ()))
            try:
                return int(source_result.rows[0][0]), int(target_result.rows[0][0])
            except (IndexError, TypeError, ValueError) as e:
                raise EngineError(f"COUNT(*) returned no number for {pair.source_name}") from e

        settled = settle(read(), read, lambda counts: counts[0] == counts[1], ctx.recheck)
        source_rows, target_rows = settled.reading
        figures = {"source_rows": source_rows, "target_rows": target_rows, "difference": target_rows - source_rows}
        if settled.rounds:
            figures["recheck_rounds"] = settled.rounds
        if source_rows == target_rows:
            return Outcome(True, f"{source_rows} rows on both sides{settled.note()}", figures, sql)
        if settled.state == "moving":
            readings = ", ".join(f"{s}/{t}" for s, t in settled.readings)
            raise SkipCase(f"CDC: the table kept changing and its counts never agreed in {settled.rounds} rechecks "
                           f"(source/target: {readings}); changes in flight hide whether it differs -- row_diff "
                           "compares its rows with in-flight recheck")
        return Outcome(False, f"row count differs: source {source_rows}, target {target_rows} "
                              f"({target_rows - source_rows:+d})", figures, sql)
