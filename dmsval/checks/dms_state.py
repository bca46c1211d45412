"""dms_state: DMS's own verdict on each table (describe_table_statistics), beside ours.

A table DMS reports as errored (TableState "Table error") or whose DMS validation failed fails with DMS's reason;
otherwise the case passes with DMS's figures (FullLoadRows, Inserts, Updates, Deletes, ValidationState,
TableState). When DMS could not be asked, every case is an error saying why.
"""

from __future__ import annotations

from ..errors import ResolutionError
from ..mappings import TablePair
from .base import Case, CheckContext, Outcome, SkipCase, TableCheck

FIGURES = ("TableState", "FullLoadRows", "Inserts", "Updates", "Deletes", "Ddls", "FullLoadErrorRows",
           "ValidationState", "ValidationFailedRecords", "ValidationSuspendedRecords")
_FAILED_VALIDATION = {"Mismatched records", "Error", "Failed", "Failed records"}


class DmsState(TableCheck):
    name = "dms_state"
    description = "DMS's table statistics: errored tables and failed DMS validation fail with DMS's reason"

    def run(self, case: Case, ctx: CheckContext) -> Outcome:
        # DMS's view needs no target query, so a missing target table does not hide it
        assert case.pair is not None
        return self.run_table(case, case.pair, ctx)

    def run_table(self, case: Case, pair: TablePair, ctx: CheckContext) -> Outcome:
        if ctx.dms_tables_error:
            raise ResolutionError(ctx.dms_tables_error)
        table = ctx.dms_tables.get(case.pair.source_name)
        if table is None:
            raise SkipCase(f"DMS reports no statistics for {case.pair.source_name} (not loaded by this task yet)")
        figures = {k: table[k] for k in FIGURES if k in table}
        state = str(table.get("TableState", ""))
        validation = str(table.get("ValidationState", ""))
        if state.lower() == "table error":
            reason = table.get("ValidationStateDetails") or "no details from DMS"
            return Outcome(False, f"DMS reports the table as errored: {reason}", figures)
        if validation in _FAILED_VALIDATION:
            reason = table.get("ValidationStateDetails") or validation
            return Outcome(False, f"DMS validation {validation}: {reason}", figures)
        return Outcome(True, f"DMS: {state or 'state unknown'}, {table.get('FullLoadRows', 0)} rows loaded, "
                             f"validation {validation or 'not reported'}", figures)
