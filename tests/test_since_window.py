"""--since: rows changed in the window compared in full, every key checked; a drift outside the window is not seen.

The tables are copied DMS-style, then changes are planted with watermarks after the window's start (found) and
one drift keeps its old watermark (outside the window by design: only a full run finds it).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from dmsval.checks.base import Case, CheckContext, Outcome
from dmsval.checks.row_diff import RowDiff
from dmsval.checks.window import resolve_window, watermark_column
from dmsval.config import Settings, resolve_settings
from dmsval.errors import ConfigError
from dmsval.mappings import TablePair
from dmsval.results import SCHEMA
from devstack.datasets import MySQLParams
from devstack.dms_copy import copy_schema

from .conftest import StandinPair, pg_dsn
from .test_suite_e2e import copies, delivery_args, migration  # noqa: F401 -- fixtures of the end-to-end test

MYSQL = MySQLParams()
ROWS = 20_000
OLD = "2026-01-01 00:00:00"  # every row's watermark after the copy (seconds added per row)
SINCE = "2026-06-01T00:00:00+00:00"
NEW = "2026-07-01 12:00:00"  # the watermark of the changes planted in the window


class Stack(StandinPair):
    def reset(self) -> None:
        """Source tables rebuilt and copied DMS-style: both sides equal, every watermark before the window."""
        self.source_sql(
            "DROP TABLE IF EXISTS films", "DROP TABLE IF EXISTS tagged", "DROP TABLE IF EXISTS plain",
            "CREATE TABLE films (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(10,2), last_update DATETIME, "
            "KEY (last_update))",
            f"INSERT INTO films SELECT seq, CONCAT('film ', seq), seq / 7, '{OLD}' + INTERVAL seq SECOND "
            f"FROM seq_1_to_{ROWS}",
            "CREATE TABLE tagged (code VARCHAR(10) NOT NULL PRIMARY KEY, n INT, updated_at TIMESTAMP NULL)",
            f"INSERT INTO tagged SELECT CONCAT('c', seq), seq, '{OLD}' FROM seq_1_to_2000",
            "CREATE TABLE plain (id INT PRIMARY KEY, n INT)",
            "INSERT INTO plain SELECT seq, seq FROM seq_1_to_500",
            "ANALYZE TABLE films, tagged, plain")
        copy_schema(MYSQL, pg_dsn(self.pg), self.db, "app", tables=["films", "tagged", "plain"])
        self.source.close()  # new sessions: the catalog is read once per session
        self.target.close()

    def run(self, table: str, **settings: Any) -> Outcome:
        pair = TablePair(self.db, table, "app", table)
        ctx = CheckContext(Settings(segment_rows=500, **settings), (pair,), self.source, self.target)
        return RowDiff().run(Case(RowDiff.name, pair.source_name, pair), ctx)


@pytest.fixture(scope="module")
def stack(databases: None, redshift_shim: Any, worker_id_suffix: str) -> Iterator[Stack]:
    s = Stack(f"dmsval_since_{worker_id_suffix}", redshift_shim.port)
    try:
        yield s
    finally:
        s.close()


def keys(outcome: Outcome, kind: str) -> set[int]:
    if kind == "changed":
        return {int(c["key"][0]) for c in outcome.details["changed"]}
    return {int(k[0]) for k in outcome.details[f"{kind}_keys"]}


@pytest.mark.integration
def test_changes_in_the_window_and_every_key_are_found_an_old_drift_is_not(stack: Stack) -> None:
    stack.reset()
    stack.source_sql(
        # source updates DMS did not apply: the target keeps the old row and the old watermark
        f"UPDATE films SET name = 'renamed', last_update = '{NEW}' WHERE id IN (101, 102)",
        "DELETE FROM films WHERE id = 301",  # a source delete not applied: extra on the target (old watermark)
        f"INSERT INTO films VALUES ({ROWS + 1}, 'new film', 1, '{NEW}')",  # inserts not applied: missing
        f"INSERT INTO films VALUES ({ROWS + 2}, 'back-dated film', 2, '{OLD}')",  # outside the window: key-set
        f"INSERT INTO films VALUES ({ROWS + 3}, 'no watermark', 3, NULL)",  # NULL watermark: key-set
        "DELETE FROM films WHERE id = 1101")  # with the target's delete of 1100: one key for another in a segment
    stack.target_sql(
        f"UPDATE app.films SET amount = 999.99, last_update = '{NEW}' WHERE id = 201",  # drift, new watermark
        "UPDATE app.films SET name = 'old drift' WHERE id = 401",  # drift keeping its old watermark
        "DELETE FROM app.films WHERE id = 1100")
    windowed = stack.run("films", since=SINCE)
    assert not windowed.passed
    assert keys(windowed, "missing") == {ROWS + 1, ROWS + 2, ROWS + 3, 1100}
    assert keys(windowed, "extra") == {301, 1101}
    assert keys(windowed, "changed") == {101, 102, 201}  # not 401: its watermark is before the window
    f = windowed.figures
    assert (f["missing"], f["extra"], f["changed"], f["duplicated_keys"]) == (4, 2, 3, 0)
    assert f["source_rows"] == ROWS + 1 and f["target_rows"] == ROWS - 1
    assert f["window_rows"] == 4  # 101, 102, ROWS + 1 on the source; 201 on the target
    assert f["window_rows"] <= ROWS * 0.05
    assert windowed.details["window"] == {"since": SINCE, "column": "last_update"}
    assert f"compared 4 rows changed since {SINCE} (last_update) in full, and every key" in windowed.message
    # the changed columns are named as in a full comparison (both watermarks differ from the target's)
    changed = {int(c["key"][0]): c["columns"] for c in windowed.details["changed"]}
    assert set(changed[101]) == {"name", "last_update"} and set(changed[201]) == {"amount", "last_update"}
    # a full run (no --since) also finds the drift that kept its old watermark
    full = stack.run("films")
    assert keys(full, "changed") == {101, 102, 201, 401}
    assert keys(full, "missing") == keys(windowed, "missing") and keys(full, "extra") == keys(windowed, "extra")
    assert "window_rows" not in full.figures and "window" not in full.details


@pytest.mark.integration
def test_an_identical_table_passes_saying_what_was_compared(stack: Stack) -> None:
    stack.reset()
    stack.source_sql(f"UPDATE films SET name = 'renamed', last_update = '{NEW}' WHERE id = 7")
    stack.target_sql(f"UPDATE app.films SET name = 'renamed', last_update = '{NEW}' WHERE id = 7")  # DMS applied it
    outcome = stack.run("films", since=SINCE)
    assert outcome.passed, outcome.message
    assert outcome.figures["window_rows"] == 1
    assert outcome.message.startswith(f"compared 1 rows changed since {SINCE} (last_update) in full, and every key "
                                      f"of {ROWS} rows")


@pytest.mark.integration
def test_a_text_key_and_an_override_column(stack: Stack) -> None:
    stack.reset()
    stack.source_sql(f"UPDATE tagged SET n = -5, updated_at = '{NEW}' WHERE code = 'c9'",
                     "DELETE FROM tagged WHERE code = 'c12'")
    stack.target_sql("UPDATE app.tagged SET n = -6 WHERE code = 'c13'",  # old watermark: outside the window
                     f"INSERT INTO app.tagged VALUES ('zz1', 1, '{NEW}')")  # in the target's window, no source row
    outcome = stack.run("tagged", since=SINCE, watermark_columns=(f"{stack.db}.tagged=updated_at",))
    assert not outcome.passed
    assert [c["key"] for c in outcome.details["changed"]] == [["c9"]]
    assert outcome.details["extra_keys"] == [["c12"], ["zz1"]] and outcome.figures["window_rows"] == 2
    assert outcome.details["window"]["column"] == "updated_at"


@pytest.mark.integration
def test_a_table_without_a_watermark_column_is_compared_in_full(stack: Stack) -> None:
    stack.reset()
    stack.target_sql("UPDATE app.plain SET n = 0 WHERE id = 5")
    outcome = stack.run("plain", since=SINCE)
    assert not outcome.passed and keys(outcome, "changed") == {5}
    assert "no watermark column (updated_at, last_update): compared in full" in outcome.message
    assert outcome.details["window"] == {"since": SINCE, "column": None,
                                         "note": "no watermark column (updated_at, last_update): compared in full"}
    assert "window_rows" not in outcome.figures


# -- options and the last-run window ------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "12:00", "last run"])
def test_a_bad_since_is_a_usage_error_naming_the_option(value: str) -> None:
    with pytest.raises(ConfigError, match="--since: invalid value") as raised:
        resolve_settings({"since": value}, {}, {})
    assert raised.value.usage
    with pytest.raises(ConfigError, match="environment variable DMSVAL_SINCE"):
        resolve_settings({}, {}, {"DMSVAL_SINCE": value})


def test_since_is_read_as_utc() -> None:
    assert resolve_settings({"since": "2026-12-03T10:00:00Z"}, {}, {}).since == "2026-12-03T10:00:00+00:00"
    assert resolve_settings({"since": "2026-12-03 10:00"}, {}, {}).since == "2026-12-03T10:00:00+00:00"
    assert resolve_settings({"since": "2026-12-03T12:00:00+02:00"}, {}, {}).since == "2026-12-03T10:00:00+00:00"
    assert resolve_settings({"since": "last-run"}, {}, {}).since == "last-run"
    with pytest.raises(ConfigError, match="--watermark-columns: invalid value"):
        resolve_settings({"watermark_columns": "t=col"}, {}, {})


def test_watermark_column_override_then_names_in_order() -> None:
    entries = ("updated_at", "last_update", "db.special=changed_on")
    assert watermark_column("db.t", ["id", "LAST_UPDATE", "updated_at"], entries) == "updated_at"
    assert watermark_column("db.t", ["id", "Last_Update"], entries) == "Last_Update"
    assert watermark_column("DB.Special", ["id", "updated_at", "changed_on"], entries) == "changed_on"
    assert watermark_column("db.special", ["id", "updated_at"], entries) is None  # the override's column is absent
    assert watermark_column("db.t", ["id"], entries) is None


def _previous(folder: Path, run_id: str, started_at: str, **run: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    document = {"schema": SCHEMA, "run": {"run_id": run_id, "started_at": started_at, **run}, "cases": []}
    (folder / f"{run_id}.json").write_text(json.dumps(document))


def test_last_run_starts_at_the_previous_run_that_planned_minus_the_lookback(tmp_path: Path) -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
    settings = Settings(since="last-run", reports_dir=str(tmp_path), cdc_lookback_minutes=15.0)
    columns = {"db.t": ["id", "last_update"], "db.u": ["id"]}
    first = resolve_window(settings, now, task_id="TASK", run_id="20261203T120000Z-cccccc", aws=None,
                           columns=columns)
    assert first is not None and first["since"] is None and first["source"] == "none"
    assert first["note"] == "--since last-run: no previous run of this task: full comparison"
    assert first["columns"] == {"db.t": None, "db.u": None}
    folder = tmp_path / "history" / "TASK"
    _previous(folder, "20261203T100000Z-aaaaaa", "2026-12-03T10:00:00+00:00")
    _previous(folder, "20261203T110000Z-bbbbbb", "2026-12-03T11:00:00+00:00",
              error={"stage": "connect to the target", "where": None, "message": "refused"})  # did not plan
    _previous(folder, "20261203T130000Z-dddddd", "2026-12-03T13:00:00+00:00")  # a later run: not previous
    window = resolve_window(settings, now, task_id="TASK", run_id="20261203T120000Z-cccccc", aws=None,
                            columns=columns)
    assert window == {"since": (datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc) - timedelta(minutes=15)).isoformat(),
                      "until": "2026-12-03T12:00:00+00:00", "source": "last-run:20261203T100000Z-aaaaaa",
                      "columns": {"db.t": "last_update", "db.u": None},
                      "note": "window starts 15 min before the previous run's start 2026-12-03T10:00:00+00:00"}
    given = resolve_window(Settings(since=SINCE), now, task_id="TASK", run_id="r", aws=None, columns=columns)
    assert given is not None and (given["since"], given["source"]) == (SINCE, "option")
    assert resolve_window(Settings(), now, task_id="TASK", run_id="r", aws=None, columns=columns) is None


# -- end to end: the suite with --since, then --since last-run from the first run's results in S3 -------------
WINDOW_PLANT = [
    "UPDATE sakila.customer SET email = 'window@example.com', last_update = '2030-01-01' WHERE customer_id = 5",
    "UPDATE sakila.customer SET email = 'old-drift@example.com' WHERE customer_id = 6",  # old watermark
    "DELETE FROM sakila.rental WHERE rental_id = 4242",
]


@pytest.mark.integration
def test_the_suite_with_since_and_then_last_run(migration: Any, run_suite: Any) -> None:
    m = migration("since", WINDOW_PLANT)
    first = run_suite(*delivery_args(m), "--checks", "row_diff", "--since", "2026-06-01T00:00:00Z", event=m.event)
    assert first.returncode == 1, first.stdout[-2000:]
    results = first.results
    by_id = {c["case_id"]: c for c in results["cases"]}
    assert {i for i, c in by_id.items() if c["status"] != "passed"} == {"row_diff[sakila.customer]",
                                                                         "row_diff[sakila.rental]"}
    assert [c["key"] for c in by_id["row_diff[sakila.customer]"]["details"]["changed"]] == [["5"]]
    assert by_id["row_diff[sakila.rental]"]["details"]["missing_keys"] == [["4242"]]
    window = results["run"]["window"]
    assert {k: window[k] for k in ("since", "until", "source", "note")} == {
        "since": "2026-06-01T00:00:00+00:00", "until": results["run"]["started_at"], "source": "option", "note": None}
    assert window["columns"]["sakila.customer"] == "last_update" and len(window["columns"]) == 15
    assert all(c["details"]["window"]["column"] == "last_update" for c in results["cases"])

    # on xdist workers: the window resolved by the controller reaches them with the plan
    second = run_suite(*delivery_args(m), "--checks", "row_diff", "--since", "last-run", "-n", "2", event=m.event)
    run = second.results["run"]
    previous_start = datetime.fromisoformat(results["run"]["started_at"])
    assert run["window"]["source"] == f"last-run:{results['run']['run_id']}"
    assert run["window"]["since"] == (previous_start - timedelta(minutes=15)).isoformat()
    by_id = {c["case_id"]: c for c in second.results["cases"]}
    assert [c["key"] for c in by_id["row_diff[sakila.customer]"]["details"]["changed"]] == [["5"]]
    assert {c["details"]["window"]["since"] for c in second.results["cases"]} == {run["window"]["since"]}
