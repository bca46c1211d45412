"""row_diff's first scan split into concurrent ranges (--scan-parallelism) against real databases: MariaDB as the
DMS source, PostgreSQL behind the Redshift wire shim as the target, filled by ``copy_schema``.

Small segments make a table of 50,000 rows "large" (MIN_SEGMENTS_PER_RANGE segments per range), so the parallel
path runs; every planted difference must be found exactly as the single scan per side finds it (same segments,
same figures, same verdict), in one case, in each split case and for a key that is hashed into buckets. The
siblings the scan runs on are opened once and reused by later cases, and ``cancel_running`` reaches them.

Names carry DMSVAL_TEST_NAMESPACE and the xdist worker id: MariaDB and PostgreSQL database ``dmsval_pscan_<suffix>``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Iterator

import psycopg
import pymysql
import pytest

from dmsval.checks.base import Case, CheckContext, TableStats, in_parallel
from dmsval.checks.row_diff import MIN_SEGMENTS_PER_RANGE, RowDiff
from dmsval.config import Settings
from dmsval.engines import Engine
from dmsval.errors import EngineError
from dmsval.mappings import TablePair
from dmsval.progress import Progress
from devstack.datasets import MySQLParams
from devstack.dms_copy import copy_schema

from .conftest import StandinPair, pg_dsn

pytestmark = pytest.mark.integration

MYSQL = MySQLParams()
ROWS = 50_000
SEGMENT_ROWS = 100  # 500 segments: 20 ranges of 25 segments at most, so 3 connections get 12 ranges
LIMITED_LOB = {"TargetMetadata": {"LimitedSizeLobMode": True, "LobMaxSize": 32}}


class Recorder(Progress):
    """The progress reporter, keeping every report (the lines themselves are tested in test_progress.py)."""

    def __init__(self) -> None:
        super().__init__(15, lambda line: None)
        self.reports: list[tuple[str, int, int, str, int | None]] = []

    def report(self, case_id: str, done: int, total: int, unit: str, *, rows: int | None = None,
               rows_total: int | None = None) -> None:
        self.reports.append((case_id, done, total, unit, rows))
        super().report(case_id, done, total, unit, rows=rows, rows_total=rows_total)


class Stack(StandinPair):
    def pair(self, table: str) -> TablePair:
        return TablePair(self.db, table, table, table)

    def run(self, case: Case, settings: Settings, progress: Progress | None = None) -> Any:
        ctx = CheckContext(settings, (case.pair,), self.source, self.target, task_settings=LIMITED_LOB,
                           progress=progress)
        return RowDiff().run(case, ctx)


@pytest.fixture(scope="module")
def stack(databases: None, redshift_shim: Any, worker_id_suffix: str) -> Iterator[Stack]:
    s = Stack(f"dmsval_pscan_{worker_id_suffix}", redshift_shim.port, query_timeout_s=600)
    s.source_sql("CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(30), n DECIMAL(12,2), d DATETIME, t TEXT)",
                 f"INSERT INTO big SELECT seq, CONCAT('value ', seq), seq / 7, "
                 f"'2020-01-01' + INTERVAL seq MINUTE, IF(seq % 3 = 0, NULL, REPEAT('x', seq % 50)) "
                 f"FROM seq_1_to_{ROWS}",
                 "CREATE TABLE coded (code VARCHAR(20) PRIMARY KEY, v INT)",  # a text key: segmented by hash
                 f"INSERT INTO coded SELECT CONCAT('c-', seq), seq FROM seq_1_to_{ROWS // 2}",
                 "ANALYZE TABLE big, coded")
    for table in ("big", "coded"):
        copy_schema(MYSQL, pg_dsn(s.pg), s.db, table, tables=[table], lob_max_size_kb=32)
    try:
        yield s
    finally:
        s.close()


def _settings(parallelism: int, **more: Any) -> Settings:
    return Settings(segment_rows=SEGMENT_ROWS, scan_parallelism=parallelism, **more)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # TEXT columns are compared as the MD5 of the kept text


def _found(outcome: Any) -> tuple[Any, ...]:
    d = outcome.details
    return (outcome.passed, d["missing_keys"], d["extra_keys"], [c["key"] for c in d["changed"]],
            [c["columns"] for c in d["changed"]])


def test_parallel_scan_finds_exactly_what_one_scan_finds(stack: Stack) -> None:
    case = Case("row_diff", stack.pair("big").source_name, stack.pair("big"))
    clean = stack.run(case, _settings(3))
    assert clean.passed, clean.message
    assert clean.figures["source_rows"] == clean.figures["target_rows"] == ROWS

    stack.target_sql("DELETE FROM big.big WHERE id IN (1, 17000, 50000)",
             "INSERT INTO big.big (id, v) VALUES (0, 'below'), (50001, 'above')",
             "UPDATE big.big SET v = 'changed' WHERE id = 2",
             "UPDATE big.big SET n = n + 0.01 WHERE id = 25001",
             "UPDATE big.big SET t = NULL WHERE id = 49999")
    try:
        serial = stack.run(case, _settings(1))
        recorder = Recorder()
        parallel = stack.run(case, _settings(3), recorder)
    finally:
        copy_schema(MYSQL, pg_dsn(stack.pg), stack.db, "big", tables=["big"], lob_max_size_kb=32)

    assert _found(serial) == (False, [["1"], ["17000"], ["50000"]], [["0"], ["50001"]],
                              [["2"], ["25001"], ["49999"]], [{"v": ["value 2", "changed"]},
                                                              {"n": ["3571.57", "3571.58"]},
                                                              {"t": [_md5("x" * 49), None]}])
    assert _found(parallel) == _found(serial)
    assert parallel.figures == serial.figures and parallel.message == serial.message
    # the parallel path ran: three connections per side, twelve key ranges, reported as they finished
    assert [e.backend_id is not None for e in stack.source.siblings(3) + stack.target.siblings(3)] == [True] * 6
    ranges = [r for r in recorder.reports if r[3] == "ranges"]
    assert ranges[0][1:3] == (0, 12) and ranges[-1][1:3] == (12, 12)
    assert [done for _, done, _, _, _ in ranges] == sorted(done for _, done, _, _, _ in ranges)
    assert ranges[-1][4] == ROWS  # both sides done: the source's rows, each counted in one range only
    assert "ranges scanned on 3 connections per side" in parallel.sql["source"]
    assert "ranges" not in serial.sql["source"]


def test_each_split_case_scans_its_part_in_parallel(stack: Stack) -> None:
    pair = stack.pair("big")
    settings = _settings(3, split_rows=ROWS // 2)
    cases = RowDiff().plan(settings, (pair,), {pair.source_name: TableStats(ROWS, ("id",), (1, ROWS))})
    assert [c.case_id for c in cases] == [f"row_diff[{pair.source_name}#{i}/2]" for i in (1, 2)]
    stack.target_sql("DELETE FROM big.big WHERE id IN (10, 40000)", "UPDATE big.big SET v = '' WHERE id = 25001")
    try:
        found = []
        for case in cases:
            recorder = Recorder()
            parallel = stack.run(case, settings, recorder)
            assert _found(parallel) == _found(stack.run(case, _settings(1, split_rows=ROWS // 2)))
            assert parallel.figures["source_rows"] == ROWS // 2
            # several ranges per connection (how many follows the catalog's row estimate, which InnoDB
            # only approximates), every one of them done
            ranges = [(done, total) for _, done, total, unit, _ in recorder.reports if unit == "ranges"]
            assert ranges and max(d for d, _ in ranges) == max(t for _, t in ranges) > 3, ranges
            found.append(_found(parallel))
    finally:
        copy_schema(MYSQL, pg_dsn(stack.pg), stack.db, "big", tables=["big"], lob_max_size_kb=32)
    assert found == [(False, [["10"]], [], [], []), (False, [["40000"]], [], [["25001"]], [{"v": ["value 25001", ""]}])]


def test_hashed_key_buckets_are_scanned_in_parallel_ranges(stack: Stack) -> None:
    pair = stack.pair("coded")
    case = Case("row_diff", pair.source_name, pair)
    stack.target_sql("DELETE FROM coded.coded WHERE code = 'c-7'", "INSERT INTO coded.coded VALUES ('c-x', 1)",
             "UPDATE coded.coded SET v = -1 WHERE code IN ('c-100', 'c-24999')")
    try:
        serial = stack.run(case, _settings(1))
        recorder = Recorder()
        parallel = stack.run(case, _settings(3), recorder)
    finally:
        copy_schema(MYSQL, pg_dsn(stack.pg), stack.db, "coded", tables=["coded"], lob_max_size_kb=32)
    assert _found(serial) == (False, [["c-7"]], [["c-x"]], [["c-100"], ["c-24999"]],
                              [{"v": ["100", "-1"]}, {"v": ["24999", "-1"]}])
    assert _found(parallel) == _found(serial) and parallel.figures == serial.figures
    last = [r for r in recorder.reports if r[3] == "ranges"][-1]
    assert last[1:3] == (3, 3)  # one bucket range per connection
    assert last[4] == ROWS // 2  # each row counted in one range only


def test_small_cases_keep_one_scan_per_side(stack: Stack) -> None:
    pair = stack.pair("big")
    recorder = Recorder()
    # default segments (2,000 rows): 25 segments, too few for two ranges of MIN_SEGMENTS_PER_RANGE
    assert ROWS // 2000 < 2 * MIN_SEGMENTS_PER_RANGE
    outcome = stack.run(Case("row_diff", pair.source_name, pair), Settings(scan_parallelism=3), recorder)
    assert outcome.passed, outcome.message
    assert {unit for _, _, _, unit, _ in recorder.reports} == {"scans"}


def test_siblings_are_opened_once_and_reused_across_cases(stack: Stack) -> None:
    pair = stack.pair("big")
    case = Case("row_diff", pair.source_name, pair)
    assert stack.run(case, _settings(3)).passed
    sessions = [(e, e.backend_id) for e in stack.source.siblings(3) + stack.target.siblings(3)]
    assert all(backend_id is not None for _, backend_id in sessions)
    assert stack.run(case, _settings(3)).passed
    coded = stack.pair("coded")
    assert stack.run(Case("row_diff", coded.source_name, coded), _settings(3)).passed
    # the same engines on the same server sessions: nothing logged in again
    assert [(e, e.backend_id) for e in stack.source.siblings(3) + stack.target.siblings(3)] == sessions
    stack.source.close()
    assert all(e.backend_id is None for e in stack.source.siblings(3))  # closed with their engine


def _mysql_running(backend_id: int) -> bool:
    conn = pymysql.connect(host=MYSQL.host, port=MYSQL.port, user=MYSQL.user, password=MYSQL.password)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s AND COMMAND = 'Query'",
                        (backend_id,))
            return bool(cur.fetchone()[0])
    finally:
        conn.close()


def _pg_running(backend_id: int) -> bool:
    with psycopg.connect(pg_dsn("postgres"), autocommit=True) as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active'",
                                 (backend_id,)).fetchone()[0])


@pytest.mark.parametrize("side", ["source", "target"])
def test_cancel_running_stops_the_siblings_statements(stack: Stack, side: str) -> None:
    engine: Engine = getattr(stack, side)
    sibling = engine.siblings(2)[1]
    sibling.connect()
    backend_id = sibling.backend_id
    assert backend_id is not None
    sleep = "SELECT SLEEP(60)" if side == "source" else "SELECT pg_sleep(60)"
    running = _mysql_running if side == "source" else _pg_running
    ended: list[float] = []

    def query() -> None:
        try:
            sibling.query(sleep)
        except EngineError:
            pass  # how a cancelled statement ends differs per engine (PostgreSQL: an error; MariaDB: SLEEP -> 1)
        ended.append(time.monotonic())

    thread = threading.Thread(target=query)
    thread.start()
    deadline = time.monotonic() + 10
    while not running(backend_id):
        assert time.monotonic() < deadline, "the sibling's statement never started"
        time.sleep(0.05)
    cancelled_at = time.monotonic()
    engine.cancel_running()  # the parent: it runs nothing itself, its sibling does
    thread.join(timeout=15)
    assert ended and ended[0] - cancelled_at < 10
    assert not running(backend_id)


class LockOnFirstRanges(Recorder):
    """Takes an exclusive lock on the target table when the parallel scan is about to start (after the bounds
    query, before the ranges), so the target siblings' range statements wait behind it."""

    def __init__(self, pg: str) -> None:
        super().__init__()
        self.pg = pg
        self.locker: psycopg.Connection | None = None

    def report(self, case_id: str, done: int, total: int, unit: str, *, rows: int | None = None,
               rows_total: int | None = None) -> None:
        if unit == "ranges" and done == 0 and self.locker is None:
            self.locker = psycopg.connect(pg_dsn(self.pg))
            self.locker.execute("LOCK TABLE big.big IN ACCESS EXCLUSIVE MODE")
        super().report(case_id, done, total, unit, rows=rows, rows_total=rows_total)


def _waiting_for_lock(pg: str, backend_ids: list[int]) -> int:
    with psycopg.connect(pg_dsn(pg), autocommit=True) as conn:
        return int(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND state = 'active' "
                                "AND wait_event_type = 'Lock'", (backend_ids,)).fetchone()[0])


def test_an_interrupted_parallel_scan_leaves_no_range_running(stack: Stack) -> None:
    """What the run's teardown does after an interrupt (Validator.close: cancel_running, then close) stops the
    range statements of every sibling: the case ends at once, nothing waits on the server."""
    pair = stack.pair("big")
    recorder = LockOnFirstRanges(stack.pg)
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            stack.run(Case("row_diff", pair.source_name, pair), _settings(3), recorder)
        except EngineError as e:
            errors.append(e)

    thread = threading.Thread(target=scan)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not (recorder.locker and stack.target.siblings(3)[0].backend_id
                   and _waiting_for_lock(stack.pg, [e.backend_id or 0 for e in stack.target.siblings(3)])):
            assert time.monotonic() < deadline and thread.is_alive(), "the target's ranges never waited"
            time.sleep(0.05)
        siblings = [e.backend_id or 0 for e in stack.target.siblings(3)]
        cancelled_at = time.monotonic()
        for engine in (stack.source, stack.target):
            engine.cancel_running()
        thread.join(timeout=20)
        assert not thread.is_alive() and time.monotonic() - cancelled_at < 10
        assert len(errors) == 1, errors  # the scan failed (cancelled), it did not wait for the lock
        assert _waiting_for_lock(stack.pg, siblings) == 0
    finally:
        if recorder.locker is not None:
            recorder.locker.close()  # releases the lock
        thread.join(timeout=60)
    assert stack.run(Case("row_diff", pair.source_name, pair), _settings(3)).passed  # siblings reconnect


def test_in_parallel_waits_for_every_call_and_raises_the_first_failure() -> None:
    finished: list[str] = []
    stop = threading.Event()
    release = threading.Event()

    def fails(name: str) -> Any:
        def call() -> None:
            raise EngineError(f"{name} failed")
        return call

    def slow() -> str:
        release.wait(5)  # released only once another call failed and set stop
        finished.append("slow")
        return "slow"

    def waits_for_stop() -> str:
        assert stop.wait(5)
        release.set()
        return "stopped"

    with pytest.raises(EngineError, match="^second failed$"):
        in_parallel([slow, waits_for_stop, fails("second"), fails("third")], stop)
    assert finished == ["slow"]  # not left running unobserved
    assert in_parallel([lambda: 1, lambda: 2, lambda: 3]) == [1, 2, 3]
