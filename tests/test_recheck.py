"""CDC mode: differing rows are read again; rows DMS applies meanwhile are in flight, drifts still fail.

The settle delay's sleep is where "DMS" applies the pending changes to the target here (a real database
write by the test, between two rounds), so the tests decide exactly which rows converge and when.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from dmsval.checks.base import Case, CheckContext
from dmsval.checks.recheck import RecheckPolicy
from dmsval.checks.row_diff import RowDiff
from dmsval.config import Settings
from dmsval.masking import Masker
from dmsval.mappings import TablePair
from devstack.datasets import MySQLParams
from devstack.dms_copy import copy_schema

from .conftest import StandinPair, pg_dsn

pytestmark = pytest.mark.integration

MYSQL = MySQLParams()
ROWS = 3000


class Stack(StandinPair):
    def reset(self) -> None:
        """Source tables rebuilt and copied DMS-style: both sides equal."""
        self.source_sql(
            "DROP TABLE IF EXISTS items", "DROP TABLE IF EXISTS logs", "DROP TABLE IF EXISTS tagged",
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(10,2))",
            f"INSERT INTO items SELECT seq, CONCAT('item ', seq), seq / 7 FROM seq_1_to_{ROWS}",
            "CREATE TABLE tagged (code VARCHAR(10) NOT NULL PRIMARY KEY, n INT)",
            "INSERT INTO tagged SELECT CONCAT('c', seq), seq FROM seq_1_to_500",
            "CREATE TABLE logs (msg VARCHAR(40), n INT)",
            "INSERT INTO logs SELECT CONCAT('log ', seq % 50), seq % 3 FROM seq_1_to_600",
            "ANALYZE TABLE items, tagged, logs")
        copy_schema(MYSQL, pg_dsn(self.pg), self.db, "app", tables=["items", "tagged", "logs"])
        # new sessions: the catalog is read once per session
        self.source.close()
        self.target.close()

    def run(self, table: str, policy: RecheckPolicy | None) -> Any:
        settings = Settings(segment_rows=100)
        pair = TablePair(self.db, table, "app", table)
        ctx = CheckContext(settings, (pair,), self.source, self.target, recheck=policy)
        return RowDiff().run(Case(RowDiff.name, pair.source_name, pair), ctx)


@pytest.fixture(scope="module")
def stack(databases: None, redshift_shim: Any, worker_id_suffix: str) -> Iterator[Stack]:
    s = Stack(f"dmsval_recheck_{worker_id_suffix}", redshift_shim.port)
    try:
        yield s
    finally:
        s.close()


def policy(applies: dict[int, list[str]], stack: Stack, rounds: int = 3, budget_s: float = 60.0,
           max_keys: int = 10_000) -> tuple[RecheckPolicy, list[float]]:
    """A policy whose settle delay applies ``applies[round]`` to the target (DMS catching up), without waiting."""
    slept: list[float] = []
    clock = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds
        stack.target_sql(*applies.get(len(slept), []))

    return RecheckPolicy(settle_s=5.0, budget_s=budget_s, max_rounds=rounds, max_keys=max_keys,
                         clock=lambda: clock[0], sleep=sleep), slept


# in-flight on the target: an insert not applied yet, an update not applied yet, a delete not applied yet
IN_FLIGHT = ["DELETE FROM app.items WHERE id = 10", "UPDATE app.items SET name = 'old name' WHERE id = 20",
             f"INSERT INTO app.items VALUES ({ROWS + 1}, 'deleted on source', 1)"]
CATCH_UP = ["INSERT INTO app.items VALUES (10, 'item 10', 10 / 7.0)",
            "UPDATE app.items SET name = 'item 20' WHERE id = 20", f"DELETE FROM app.items WHERE id = {ROWS + 1}"]
DRIFT = ["UPDATE app.items SET amount = 999.99 WHERE id = 30"]  # changed behind DMS's back: never converges


def test_rows_dms_applies_during_the_recheck_are_in_flight_and_a_drift_fails(stack: Stack) -> None:
    stack.reset()
    stack.target_sql(*IN_FLIGHT, *DRIFT)
    p, slept = policy({1: CATCH_UP[:2], 2: CATCH_UP[2:]}, stack)  # DMS applies over two settle delays
    outcome = stack.run("items", p)
    assert not outcome.passed
    assert outcome.figures["in_flight"] == 3 and outcome.figures["recheck_rounds"] == 3
    assert outcome.figures["missing"] == 0 and outcome.figures["extra"] == 0 and outcome.figures["changed"] == 1
    assert sorted(outcome.details["in_flight_keys"]) == [["10"], ["20"], [str(ROWS + 1)]]
    assert [c["key"] for c in outcome.details["changed"]] == [["30"]]
    assert "3 rows in flight" in outcome.message and "1 still differ after 3 rechecks" in outcome.message
    # the drift's history: what each round read on both sides (amount is the third column)
    history = outcome.details["recheck"]["history"]
    assert [h["key"] for h in history] == [["30"]]
    assert [(r["round"], r["source"][2], r["target"][2]) for r in history[0]["rounds"]] == [
        (1, "4.29", "999.99"), (2, "4.29", "999.99"), (3, "4.29", "999.99")]
    assert slept == [5.0, 5.0, 5.0]
    # --mask-values hides the values of the history and the in-flight keys too
    masked = Masker("salt").details(outcome.details)
    assert masked["recheck"]["history"][0]["key"][0].startswith("h:")
    assert all(v is None or str(v).startswith("h:") for r in masked["recheck"]["history"][0]["rounds"]
               for v in r["source"] + r["target"])
    assert all(k[0].startswith("h:") for k in masked["in_flight_keys"])


def test_without_recheck_the_same_rows_fail(stack: Stack) -> None:
    stack.reset()
    stack.target_sql(*IN_FLIGHT, *DRIFT)
    outcome = stack.run("items", None)
    assert not outcome.passed and "in_flight" not in outcome.figures
    assert (outcome.figures["missing"], outcome.figures["extra"], outcome.figures["changed"]) == (1, 1, 2)


def test_everything_converging_passes_and_stops_rechecking(stack: Stack) -> None:
    stack.reset()
    stack.target_sql(*IN_FLIGHT, "UPDATE app.tagged SET n = -1 WHERE code = 'c7'")
    p, slept = policy({1: CATCH_UP}, stack)
    outcome = stack.run("items", p)
    assert outcome.passed, outcome.message
    assert outcome.figures["in_flight"] == 3 and slept == [5.0]  # one round was enough
    # a text key (canonical-expression lookup, not the integer index) converges the same way
    p, slept = policy({1: ["UPDATE app.tagged SET n = 7 WHERE code = 'c7'"]}, stack)
    tagged = stack.run("tagged", p)
    assert tagged.passed and tagged.figures["in_flight"] == 1 and tagged.details["in_flight_keys"] == [["c7"]]


def test_budget_limits_the_rounds(stack: Stack) -> None:
    stack.reset()
    stack.target_sql(*DRIFT)
    p, slept = policy({}, stack, rounds=10, budget_s=12.0)
    outcome = stack.run("items", p)
    assert not outcome.passed and slept == [5.0, 5.0]  # a third 5 s wait would pass the 12 s budget
    assert outcome.figures["recheck_rounds"] == 2


def test_table_without_key_rechecks_row_images(stack: Stack) -> None:
    stack.reset()
    stack.target_sql("DELETE FROM app.logs WHERE ctid IN (SELECT ctid FROM app.logs WHERE msg = 'log 7' AND n = 1 LIMIT 1)",
                     "INSERT INTO app.logs VALUES ('drift', 5)")
    p, _ = policy({1: ["INSERT INTO app.logs VALUES ('log 7', 1)"]}, stack)  # 'log 7' = seq 7, 57, ...: n = 1
    outcome = stack.run("logs", p)
    assert not outcome.passed
    assert outcome.figures["in_flight"] == 1 and outcome.figures["rows_only_in_target"] == 1
    assert outcome.figures["rows_only_in_source"] == 0
    assert [img["row"]["msg"] for img in outcome.details["row_images"]] == ["drift"]
    assert "1 row images in flight" in outcome.message


def run_check(stack: Stack, check: str, table: str, p: RecheckPolicy | None) -> Any:
    from dmsval.checks import REGISTRY

    pair = TablePair(stack.db, table, "app", table)
    ctx = CheckContext(Settings(), (pair,), stack.source, stack.target, recheck=p)
    if check == "custom_sql":  # a user's query pair over the table
        folder = Path(tempfile.mkdtemp(prefix="dmsval-recheck-sql-"))
        (folder / "source.sql").write_text(f"SELECT COUNT(*), SUM(amount) FROM {stack.db}.{table}")
        (folder / "target.sql").write_text(f"SELECT COUNT(*), SUM(amount) FROM app.{table}")
        return REGISTRY[check]().run(Case(check, "totals", None, (("folder", str(folder)),)), ctx)
    return REGISTRY[check]().run(Case(check, pair.source_name, pair), ctx)


@pytest.mark.parametrize("check", ["row_count", "aggregates", "custom_sql"])
def test_whole_table_figures_agree_once_dms_catches_up(stack: Stack, check: str) -> None:
    stack.reset()
    stack.target_sql("DELETE FROM app.items WHERE id = 10")  # an insert DMS has not applied yet
    assert not run_check(stack, check, "items", None).passed  # without recheck: a difference
    p, slept = policy({1: CATCH_UP[:1]}, stack)
    outcome = run_check(stack, check, "items", p)
    assert outcome.passed and "agreed on recheck 1" in outcome.message and slept == [5.0]


@pytest.mark.parametrize("check", ["row_count", "aggregates", "custom_sql"])
def test_whole_table_figures_that_never_change_are_a_difference(stack: Stack, check: str) -> None:
    stack.reset()
    stack.target_sql("DELETE FROM app.items WHERE id = 11")  # lost: nothing will bring it back
    p, slept = policy({}, stack)
    outcome = run_check(stack, check, "items", p)
    assert not outcome.passed and slept == [5.0, 5.0]  # WHOLE_TABLE_ROUNDS: figures that did not move


@pytest.mark.parametrize("check", ["row_count", "aggregates", "custom_sql"])
def test_a_table_that_keeps_changing_is_skipped_with_the_readings(stack: Stack, check: str) -> None:
    from dmsval.checks import SkipCase

    stack.reset()
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the source keeps inserting faster than the target follows
        slept.append(seconds)
        stack.source_sql(f"INSERT INTO items VALUES ({ROWS + 10 + len(slept)}, 'new', 1)")

    stack.source_sql(f"INSERT INTO items VALUES ({ROWS + 10}, 'new', 1)")
    p = RecheckPolicy(settle_s=1.0, budget_s=60, max_rounds=3, max_keys=100, clock=lambda: 0.0, sleep=sleep)
    with pytest.raises(SkipCase, match="kept changing"):
        run_check(stack, check, "items", p)


def test_segments_that_agree_by_the_drill_down_are_in_flight_in_cdc_mode(stack: Stack, monkeypatch) -> None:
    """DMS applies the pending changes between the first scan and the read of the differing segments: no key
    differs any more. In CDC mode that is changes in flight (said); otherwise checksums that differ without a
    differing key never pass."""
    from dmsval.checks.row_diff import TableDiff

    fetch = TableDiff._fetch_hashes

    def dms_applies_first(self: TableDiff, conditions: list[str]) -> Any:
        stack.target_sql(*CATCH_UP)  # idempotent: applied before each drill-down read
        return fetch(self, conditions)

    monkeypatch.setattr(TableDiff, "_fetch_hashes", dms_applies_first)
    stack.reset()
    stack.target_sql(*IN_FLIGHT)
    p, slept = policy({}, stack)
    outcome = stack.run("items", p)
    assert outcome.passed, outcome.message
    assert outcome.figures["in_flight_segments"] >= 1 and slept == []
    assert "agreed when read again (changes in flight)" in outcome.message
    stack.reset()
    stack.target_sql(*IN_FLIGHT)
    strict = stack.run("items", None)
    assert not strict.passed and "no differing key was isolated" in strict.message
