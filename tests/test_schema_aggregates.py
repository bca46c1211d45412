"""schema and aggregates checks against a DMS-style Sakila copy (real MariaDB, PostgreSQL via redshift_connector)."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from dmsval.credentials import Credentials
from dmsval.checks.aggregates import Aggregates
from dmsval.checks.base import Case, CheckContext
from dmsval.checks.schema import Schema, compare_types, parse_expected
from dmsval.config import Settings
from dmsval.engines import open_engine
from devstack import demo
from dmsval.mappings import parse_rules

from .conftest import create_pg_database, pg_dsn

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def target_db(sakila, worker_id_suffix) -> str:
    database = create_pg_database(f"dmsval_schema_{worker_id_suffix}")
    demo.dms_full_load(sakila, pg_dsn(database))
    return database


@pytest.fixture
def context(target_db, redshift_shim):
    source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", "sakila", ""), role="source",
                         query_timeout_s=120)
    target = open_engine("redshift", Credentials("127.0.0.1", redshift_shim.port, "postgres", target_db, "x"),
                         role="target", query_timeout_s=120)
    pairs = {p.source_table: p for p in parse_rules(demo.DEMO_TABLE_MAPPINGS).select(source.list_tables())}
    yield CheckContext(Settings(), tuple(pairs.values()), source, target), pairs
    source.close()
    target.close()


def run(check, context, table):
    ctx, pairs = context
    return check.run(Case(check.name, pairs[table].source_name, pairs[table]), ctx)


def alter(database: str, *statements: str) -> None:
    with psycopg.connect(pg_dsn(database)) as conn:
        for statement in statements:
            conn.execute(statement)


def test_a_correct_dms_style_copy_of_sakila_passes_schema_and_aggregates(context):
    _, pairs = context
    assert len(pairs) == 15
    for table in pairs:
        schema = run(Schema(), context, table)
        assert schema.passed, (table, schema.message)
        aggregates = run(Aggregates(), context, table)
        assert aggregates.passed, (table, aggregates.message)
    staff = run(Schema(), context, "staff").details["schema_columns"]
    assert {"column": "picture", "verdict": "removed", "reason": "remove-column rule"} in staff
    risks = [c for c in run(Schema(), context, "payment").details["schema_columns"] if c["verdict"] == "risk"]
    assert {c["column"] for c in risks} == {"payment_id", "customer_id"}  # SMALLINT UNSIGNED -> INT2


def test_schema_finds_a_dropped_column_a_short_varchar_and_a_wrong_type(context, target_db, sakila):
    alter(target_db, "ALTER TABLE sakila.film DROP COLUMN special_features",
          "ALTER TABLE sakila.film ALTER COLUMN title TYPE VARCHAR(20) USING LEFT(title, 20)",
          "ALTER TABLE sakila.film ALTER COLUMN rental_rate TYPE REAL",
          "ALTER TABLE sakila.film ADD COLUMN surprise INT")
    ctx, pairs = context
    strict = dataclasses.replace(ctx, settings=Settings(fail_on_truncation=True))
    try:
        outcome = run(Schema(), context, "film")
        strict_outcome = run(Schema(), (strict, pairs), "film")
    finally:
        demo.dms_full_load(sakila, pg_dsn(target_db))  # the truncated values cannot be altered back
    verdicts = {c["column"]: c["verdict"] for c in outcome.details["schema_columns"]}
    assert not outcome.passed
    assert verdicts["special_features"] == "missing"
    # titles longer than 20 bytes are cut: a truncation (what DMS does with TruncateColumns), reported as a risk
    assert verdicts["title"] == "risk"
    assert verdicts["rental_rate"] == "wrong"
    assert verdicts["surprise"] == "extra"
    assert outcome.figures["problems"] == 3
    strict_verdicts = {c["column"]: c["verdict"] for c in strict_outcome.details["schema_columns"]}
    assert strict_verdicts["title"] == "narrower" and strict_outcome.figures["problems"] == 4
    assert "VARCHAR(20) is narrower than DMS's VARCHAR(512)" in strict_outcome.message


def test_aggregates_detect_a_changed_value(context, target_db):
    alter(target_db, "UPDATE sakila.film SET replacement_cost = replacement_cost + 1 WHERE film_id = 10")
    try:
        outcome = run(Aggregates(), context, "film")
    finally:
        alter(target_db, "UPDATE sakila.film SET replacement_cost = replacement_cost - 1 WHERE film_id = 10")
    assert not outcome.passed
    assert outcome.details["differences"] == [
        {"column": "replacement_cost", "figure": "sum", "source": 19984, "target": 19985}]
    assert run(Aggregates(), context, "film").passed


@pytest.mark.parametrize("expected, actual, verdict", [
    ("SMALLINT", "INTEGER", "ok"), ("INTEGER", "SMALLINT", "narrower"), ("NUMERIC(20,0)", "BIGINT", "narrower"),
    ("NUMERIC(5,2)", "NUMERIC(5,3)", "wrong"), ("VARCHAR(80)", "VARCHAR(40)", "narrower"),
    ("BOOLEAN", "SMALLINT", "wrong"), ("REAL", "DOUBLE PRECISION", "ok"), ("SMALLINT", "NUMERIC(10,0)", "ok"),
])
def test_type_compatibility_rules(expected, actual, verdict):
    assert compare_types(parse_expected(expected), parse_expected(actual))[0] == verdict


def test_row_diff_reports_a_key_loaded_twice(context, target_db, sakila):
    from dmsval.checks.row_diff import RowDiff

    # Redshift does not enforce primary keys: a row DMS loaded twice must not pass as "identical"
    alter(target_db, "ALTER TABLE sakila.category DROP CONSTRAINT IF EXISTS category_pkey",
          "INSERT INTO sakila.category SELECT * FROM sakila.category WHERE category_id = 5")
    try:
        outcome = run(RowDiff(), context, "category")
    finally:
        demo.dms_full_load(sakila, pg_dsn(target_db))
    assert not outcome.passed
    assert outcome.details["duplicated_keys"] == [{"key": ["5"], "source_rows": 1, "target_rows": 2}]
    assert outcome.figures["source_rows"] == 16 and outcome.figures["target_rows"] == 17
    assert "1 keys duplicated" in outcome.message



@pytest.mark.parametrize("table, rows", [("rental", 16044), ("film_actor", 5462)])  # range mode, hash mode
def test_an_emptied_target_is_counted_not_fetched(context, target_db, sakila, table, rows):
    from dmsval.checks.row_diff import RowDiff

    alter(target_db, f"DELETE FROM sakila.{table}")
    try:
        outcome = run(RowDiff(), context, table)
    finally:
        demo.dms_full_load(sakila, pg_dsn(target_db))
    assert not outcome.passed
    assert outcome.figures["missing"] == rows and outcome.figures["target_rows"] == 0
    assert len(outcome.details["missing_keys"]) == 50  # a sample: --diff-sample
    assert outcome.figures["rows_fetched"] <= 50  # memory and transfer do not grow with the table
