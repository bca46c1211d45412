"""custom_sql with bounded memory: results stream from the databases (server-side cursors) into partition files
and are compared one partition pair at a time. The comparison's own machinery (splitting, tolerance pairing
across partitions, samples) without a database; the check end to end on real MariaDB and PostgreSQL (through
the Redshift shim and directly) with planted differences."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pymysql
import pytest

from dmsval.checks import custom_sql
from dmsval.checks.base import Case, CheckContext
from dmsval.checks.custom_sql import CustomSql, compare_rows, compare_spills, spill_rows
from dmsval.config import Settings
from dmsval.credentials import Credentials
from dmsval.engines import Engine, open_engine
from dmsval.errors import QueryTimeout
from devstack.datasets import MySQLParams
from devstack.dms_copy import copy_schema

from .conftest import create_pg_database, pg_dsn

ROWS = 200_000


# -- the comparison without a database -------------------------------------------------------------------------

def test_partition_pairs_too_large_to_load_are_split_and_still_compare_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(custom_sql, "SPILL_PARTITIONS", 4)
    monkeypatch.setattr(custom_sql, "PARTITION_LOAD_BYTES", 4000)
    loaded: list[int] = []
    real_differences = custom_sql._differences

    def measured(source_path: Path, target_path: Path) -> Any:
        loaded.append(source_path.stat().st_size + target_path.stat().st_size)
        return real_differences(source_path, target_path)

    monkeypatch.setattr(custom_sql, "_differences", measured)
    source = [(i, f"name {i}", Decimal(i) / 4) for i in range(5000)]
    target = [r for r in source if r[0] not in (10, 20)] + [(7000, "extra", Decimal(1)), (7001, "extra", None)]
    only_source, only_target = compare_rows(source, list(reversed(target)), 0)
    assert only_source == [source[10], source[20]]
    assert sorted(only_target, key=lambda r: r[0]) == [(7000, "extra", Decimal(1)), (7001, "extra", None)]
    assert len(loaded) > 4 and max(loaded) <= 4000  # split until each loaded pair fits the bound


def test_equal_values_of_different_driver_types_land_in_one_partition_and_compare_equal(monkeypatch):
    """The partition key skips converting ints, bools and Decimals (Python hashes equal numbers alike): rows one
    driver gives as int / bool / float / aware datetime and the other as Decimal / naive UTC datetime must still
    land in the same partition at every split depth and compare equal; a real difference is still found."""
    import datetime as dt

    monkeypatch.setattr(custom_sql, "SPILL_PARTITIONS", 4)
    monkeypatch.setattr(custom_sql, "PARTITION_LOAD_BYTES", 3000)  # several split levels
    plus2 = dt.timezone(dt.timedelta(hours=2))
    source = [(i, i % 2 == 0, i / 8, Decimal(i) / 4, dt.datetime(2020, 1, 1, 2, tzinfo=plus2) + dt.timedelta(i),
               f"t{i}") for i in range(3000)]
    target = [(Decimal(i), Decimal(int(i % 2 == 0)), Decimal(repr(i / 8)), (Decimal(i) / 4).quantize(Decimal("0.0001")),
               dt.datetime(2020, 1, 1) + dt.timedelta(i), f"t{i}") for i in range(3000)]
    for row_s, row_t in zip(source, target):
        assert hash(custom_sql._partition_key(row_s)) == hash(custom_sql._partition_key(row_t))
        assert hash(custom_sql._partition_key(row_s)) == hash(custom_sql._normalized(row_s))
    target[1234] = target[1234][:5] + ("changed",)
    only_source, only_target = compare_rows(source, target, 0)
    assert only_source == [source[1234]] and only_target == [target[1234]]


def test_many_copies_of_one_row_do_not_split_forever(tmp_path, monkeypatch):
    monkeypatch.setattr(custom_sql, "SPILL_PARTITIONS", 4)
    monkeypatch.setattr(custom_sql, "PARTITION_LOAD_BYTES", 2000)
    only_source, only_target = compare_rows([("same",)] * 3000, [("same",)] * 2990 + [("other",)], 0)
    assert only_source == [("same",)] * 10 and only_target == [("other",)]


def test_rows_within_tolerance_pair_across_partitions():
    # numbers differing within the tolerance hash apart: the pairing runs over every partition's leftovers
    source = [(i, Decimal(i) + Decimal("0.001")) for i in range(3000)]
    target = [(i, Decimal(i) + Decimal("0.004")) for i in range(3000)]
    assert compare_rows(source, target, 0.01) == ([], [])
    target[1500] = (1500, Decimal("1500.5"))
    assert compare_rows(source, target, 0.01) == ([(1500, Decimal("1500.001"))], [(1500, Decimal("1500.5"))])
    assert len(compare_rows(source, target, 0)[0]) == 3000  # no tolerance: every row differs


def test_numbers_too_large_for_the_grid_still_pair_within_tolerance():
    # 12.5 is 1.25e21 steps of the tolerance: beyond the grid, compared with every row of its shape
    value, within, beyond = Decimal("12.5"), Decimal("12.500000000000000000005"), Decimal("12.50000000000000000005")
    assert compare_rows([("a", value)], [("a", within)], 1e-20) == ([], [])
    assert len(compare_rows([("a", value)], [("a", beyond)], 1e-20)[0]) == 1


def test_pairing_follows_arrival_order_on_both_sides():
    # 1.00 could take either target row; the first source row takes the first target row within tolerance
    only_source, only_target = compare_rows([("a", Decimal("1.00")), ("a", Decimal("1.02"))],
                                            [("a", Decimal("1.01")), ("a", Decimal("0.99"))], 0.015)
    assert only_source == [("a", Decimal("1.02"))] and only_target == [("a", Decimal("0.99"))]


def test_too_many_leftovers_are_not_paired(monkeypatch):
    monkeypatch.setattr(custom_sql, "TOLERANCE_MATCH_LIMIT", 3)
    source = [(i, Decimal("0.001")) for i in range(5)]
    target = [(i, Decimal("0.002")) for i in range(5)]
    only_source, only_target = compare_rows(source, target, 0.01)
    assert len(only_source) == 5 and len(only_target) == 5
    only_source, only_target = compare_rows(source[:3], target[:3], 0.01)
    assert only_source == [] and only_target == []


def test_samples_are_the_first_differing_rows_in_arrival_order_with_copies(tmp_path):
    source_rows = [(i,) for i in range(200)] + [(5,), (5,)]
    target_rows = [(i,) for i in range(100, 300)]
    source = spill_rows(iter(source_rows), tmp_path, "source")
    target = spill_rows(iter(target_rows), tmp_path, "target")
    difference = compare_spills(source, target, 0, tmp_path, sample_rows=8)
    assert (difference.only_in_source, difference.only_in_target) == (102, 100)
    assert difference.source_sample == [(0,), (1,), (2,), (3,), (4,), (5,), (5,), (5,)]
    assert difference.target_sample == [(i,) for i in range(200, 208)]
    assert list(tmp_path.iterdir()) == []  # every scratch file deleted once compared


def test_driver_values_are_reported_and_values_a_driver_gives_as_views_are_bytes():
    only_source, only_target = compare_rows([(1, Decimal("2.50"), memoryview(b"ab"))],
                                            [(Decimal("1"), Decimal("2.5"), b"ac")], 0)
    assert only_source == [(1, Decimal("2.50"), b"ab")] and only_target == [(Decimal("1"), Decimal("2.5"), b"ac")]


# -- real databases --------------------------------------------------------------------------------------------

MYSQL_TABLE = """
CREATE TABLE items (
  id BIGINT NOT NULL PRIMARY KEY,
  name VARCHAR(60) NOT NULL,
  price DECIMAL(12,2),
  ratio DOUBLE,
  label VARCHAR(60),
  created DATETIME
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
MYSQL_FILL = f"""
INSERT INTO items SELECT seq, CONCAT('customer-', seq),
  IF(seq % 50 = 0, NULL, (seq % 100000) / 100 - 250), seq / 7e0,
  IF(seq % 3 = 0, CONCAT('café ', seq, ' 🙂'), CONCAT('plain ', seq)),
  '2020-01-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_{ROWS}
"""
COLUMNS = "id, name, price, ratio, label, created"


@pytest.fixture(scope="module")
def pair_databases(databases: None, worker_id_suffix: str) -> Iterator[str]:
    """A 200k-row MariaDB table and its DMS-style copy in a PostgreSQL database and schema of the same name (so
    one query text, ``<name>.items``, reads either side)."""
    name = f"dmsval_csql_{worker_id_suffix}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{name}`")
            cur.execute(MYSQL_TABLE)
            cur.execute(MYSQL_FILL)
    finally:
        conn.close()
    create_pg_database(name)
    copy_schema(MySQLParams(), pg_dsn(name), name, name)
    yield name
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def plant(name: str, *statements: str) -> None:
    with psycopg.connect(pg_dsn(name), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


class Recorded:
    """An engine whose query and stream calls are recorded (the real ones run)."""

    def __init__(self, engine: Engine) -> None:
        self.streamed: list[str] = []
        self.queried: list[str] = []
        real_stream, real_query = engine.stream, engine.query

        def stream(sql: str, params: Any = None, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
            self.streamed.append(sql)
            return real_stream(sql, params, batch)

        def query(sql: str, params: Any = None) -> Any:
            self.queried.append(sql)
            return real_query(sql, params)

        engine.stream, engine.query = stream, query  # type: ignore[method-assign]


def run_pair(tmp_path: Path, source: Engine, target: Engine, source_sql: str, target_sql: str,
             settings: Settings | None = None) -> Any:
    folder = tmp_path / "sql" / "pair"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "source.sql").write_text(source_sql, encoding="utf-8")
    (folder / "target.sql").write_text(target_sql, encoding="utf-8")
    ctx = CheckContext(settings or Settings(), (), source, target)
    return CustomSql().run(Case("custom_sql", "pair", None, (("folder", str(folder)),)), ctx)


@pytest.fixture
def mysql_source(pair_databases: str) -> Iterator[Engine]:
    engine = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", pair_databases, ""), role="source",
                         query_timeout_s=120)
    yield engine
    engine.close()


@pytest.fixture(params=["redshift", "postgres"])
def target(request, pair_databases: str, redshift_shim) -> Iterator[Engine]:
    port = redshift_shim.port if request.param == "redshift" else 5432
    engine = open_engine(request.param, Credentials("127.0.0.1", port, "postgres", pair_databases, ""),
                         role="target", query_timeout_s=120)
    yield engine
    engine.close()


@pytest.mark.integration
def test_planted_differences_in_200k_rows_are_found_exactly_through_streams(tmp_path, pair_databases,
                                                                           mysql_source, target):
    name = pair_databases
    query = f"SELECT {COLUMNS} FROM {name}.items"
    outcome = run_pair(tmp_path, mysql_source, target, query, query)
    assert outcome.passed, outcome.message
    assert outcome.figures["source_rows"] == outcome.figures["target_rows"] == ROWS
    # the differences go into a copy of the target table (the module's tables stay as migrated)
    plant(name, f"DROP TABLE IF EXISTS {name}.planted", f"CREATE TABLE {name}.planted AS SELECT * FROM {name}.items",
          f"DELETE FROM {name}.planted WHERE id IN (17, 100000, 199999)",
          f"INSERT INTO {name}.planted VALUES (300001, 'extra', 1.50, 0.5, 'x', '2021-01-01'), "
          "(300002, 'extra', NULL, NULL, NULL, NULL)",
          f"UPDATE {name}.planted SET price = price + 0.01 WHERE id = 5",
          f"UPDATE {name}.planted SET label = 'changed' WHERE id = 6",
          f"UPDATE {name}.planted SET created = created + interval '1 second' WHERE id = 150000",
          f"UPDATE {name}.planted SET ratio = ratio * 2 WHERE id = 150001")
    planted_query = f"SELECT {COLUMNS} FROM {name}.planted"
    try:
        source, target_engine = Recorded(mysql_source), Recorded(target)
        outcome = run_pair(tmp_path, mysql_source, target, query, planted_query)
    finally:
        plant(name, f"DROP TABLE {name}.planted")
    assert not outcome.passed
    assert outcome.figures["only_in_source"] == 7 and outcome.figures["only_in_target"] == 6
    assert outcome.message == "results differ: 7 rows only in source, 6 only in target"
    assert [r[0] for r in outcome.details["only_in_source"]] == [5, 6, 17, 100000, 150000, 150001, 199999]
    assert sorted(r[0] for r in outcome.details["only_in_target"]) == [5, 6, 150000, 150001, 300001, 300002]
    assert outcome.details["columns"] == ["id", "name", "price", "ratio", "label", "created"]
    # the rows came through the engines' streams; the plain query only read the column names
    assert source.streamed == [query] and target_engine.streamed == [planted_query]
    assert all("WHERE 1 = 0" in sql for sql in source.queried + target_engine.queried)


@pytest.mark.integration
def test_numbers_within_tolerance_pair_and_one_beyond_is_found(tmp_path, pair_databases, mysql_source,
                                                              redshift_shim):
    target = open_engine("redshift", Credentials("127.0.0.1", redshift_shim.port, "postgres", pair_databases, ""),
                         role="target", query_timeout_s=120)
    try:
        source_sql = f"SELECT id, price FROM {pair_databases}.items WHERE id <= 20000"
        # every 7th price is off by 0.004 (rounding upstream), one by 0.5
        target_sql = ("SELECT id, CASE WHEN id = 12345 THEN price + 0.5 WHEN id % 7 = 0 THEN price + 0.004 "
                      f"ELSE price END FROM {pair_databases}.items WHERE id <= 20000")
        outcome = run_pair(tmp_path, mysql_source, target, source_sql, target_sql, Settings(numeric_tolerance=0.01))
        assert outcome.figures["only_in_source"] == 1 and outcome.figures["only_in_target"] == 1
        assert outcome.details["only_in_source"][0][0] == 12345 and outcome.details["only_in_target"][0][0] == 12345
        outcome = run_pair(tmp_path, mysql_source, target, source_sql, target_sql, Settings(numeric_tolerance=0))
        off = sum(1 for i in range(1, 20001) if i % 7 == 0 and i % 50 != 0) + 1  # NULL prices stay NULL
        assert outcome.figures["only_in_source"] == outcome.figures["only_in_target"] == off
    finally:
        target.close()


@pytest.mark.integration
def test_column_count_mismatch_is_reported_before_any_row_is_read(tmp_path, pair_databases, mysql_source, target):
    recorded = Recorded(target)
    outcome = run_pair(tmp_path, mysql_source, target, f"SELECT id, name FROM {pair_databases}.items",
                       f"SELECT id FROM {pair_databases}.items")
    assert outcome.message == "source returns 2 columns, target 1"
    assert outcome.details == {"source_columns": ["id", "name"], "target_columns": ["id"]}
    assert recorded.streamed == []


@pytest.mark.integration
def test_duplicate_column_names_mysql_cannot_wrap_still_compare(tmp_path, pair_databases, mysql_source, target):
    sql = (f"SELECT a.id, b.id FROM {pair_databases}.items a JOIN {pair_databases}.items b ON b.id = a.id + 1 "
           "WHERE a.id <= 100")
    outcome = run_pair(tmp_path, mysql_source, target, sql, sql)
    assert outcome.passed and outcome.figures["source_rows"] == 100


@pytest.mark.integration
def test_stream_runs_a_server_side_cursor_and_an_early_stop_leaves_the_engine_usable(pair_databases, target):
    rows = target.stream(f"SELECT id FROM {pair_databases}.items ORDER BY id", None, 5000)
    assert [next(rows) for _ in range(3)] == [(1,), (2,), (3,)]
    fetched = 1000 if target.name == "redshift" else 5000  # a single-node Redshift fetches at most 1000 rows
    backend = target.backend_id
    with psycopg.connect(pg_dsn(pair_databases), autocommit=True) as conn:
        # mid-stream the session waits between two FETCHes, inside its read-only transaction
        state, last = conn.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", (backend,)).fetchone()
    assert state == "idle in transaction" and last.startswith(f"FETCH FORWARD {fetched} FROM dmsval_stream")
    rows.close()  # the consumer stops early
    assert target.query(f"SELECT count(*) FROM {pair_databases}.items").rows == [(ROWS,)]
    assert len(list(target.stream(f"SELECT id FROM {pair_databases}.items WHERE id <= 12345", None, 1000))) == 12345
    assert target.query("SELECT 1").rows == [(1,)]  # the whole stream ended its transaction cleanly


@pytest.mark.integration
def test_a_stream_whose_fetch_outlives_the_timeout_stops_with_a_timeout(pair_databases, redshift_shim):
    for name, port in (("redshift", redshift_shim.port), ("postgres", 5432)):
        engine = open_engine(name, Credentials("127.0.0.1", port, "postgres", pair_databases, ""), role="target",
                             query_timeout_s=1)
        try:
            # the first FETCH returns at once, the second waits past statement_timeout
            sql = ("SELECT g, CASE WHEN g = 1500 THEN pg_sleep(3)::text END FROM generate_series(1, 2000) g")
            rows = engine.stream(sql, None, 1000)
            assert next(rows) == (1, None)
            with pytest.raises(QueryTimeout, match="timed out after 1 s"):
                list(rows)
            assert engine.query("SELECT 2").rows == [(2,)]
        finally:
            engine.close()
