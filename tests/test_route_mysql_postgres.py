"""The MySQL -> PostgreSQL route (``dmsval.routes.mysql_postgres``), the second route proving the layer.

Unit tests of the type table and cut rules, the DMS-style copy into PostgreSQL types, and the suite end to end on
a PostgreSQL target endpoint (psycopg, port 5432, no shim): the clean copy of Sakila passes every case and the
demo's planted defects fail exactly the demo's expected cases.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from dmsval.engines.catalog import ColumnInfo
from devstack import demo
from devstack.dms_copy import DmsCopyError, DmsVariant, MySQLColumn, created_type_for, value_converter_for
from devstack.provision import DbEndpoint, ensure_mysql_reader, provision
from dmsval.routes import find_route, route_for
from dmsval.routes.mysql_postgres import TYPES, MySQLToPostgres, postgres_type_for
from dmsval.routes.mysql_redshift import TYPES as REDSHIFT_TYPES

from .conftest import stopped_event
from .test_suite_e2e import copies  # noqa: F401 (fixture)

ROUTE = route_for("mysql", "postgres")
DIGITS = {"float_digits": 9, "double_digits": 17}
PASSWORD = "pg-route-Secret-77"
READER = "dmsval_pgroute_reader"


def src(data_type: str, column_type: str | None = None, **kw: object) -> ColumnInfo:
    return ColumnInfo("c", data_type, column_type or data_type, **kw)  # type: ignore[arg-type]


def test_registered_beside_redshift_with_the_same_source_types() -> None:
    assert isinstance(ROUTE, MySQLToPostgres) and ROUTE.name == "mysql->postgres"
    assert type(find_route("mysql", "redshift")).__name__ == "MySQLToRedshift"
    assert set(TYPES) == set(REDSHIFT_TYPES)
    for data_type, rule in TYPES.items():  # the comparison kind of a MySQL type does not depend on the target
        assert rule.kind == REDSHIFT_TYPES[data_type].kind, data_type


@pytest.mark.parametrize("column, expected", [
    (src("tinyint", "tinyint(1)"), "SMALLINT"),
    (src("smallint", "smallint(5) unsigned"), "INTEGER"),
    (src("mediumint", "mediumint(8) unsigned"), "BIGINT"),
    (src("int", "int(11)"), "INTEGER"),
    (src("int", "int(10) unsigned"), "BIGINT"),
    (src("bigint", "bigint(20) unsigned"), "BIGINT"),
    (src("decimal", "decimal(65,30)", numeric_precision=65, numeric_scale=30), "NUMERIC(65,30)"),
    (src("float"), "REAL"), (src("double"), "DOUBLE PRECISION"),
    (src("datetime"), "TIMESTAMP"), (src("timestamp"), "TIMESTAMP"), (src("year", "year(4)"), "SMALLINT"),
    (src("varchar", "varchar(45)", char_length=45, char_octet_length=180), "VARCHAR(45)"),
    (src("char", "char(3)", char_length=3, char_octet_length=12), "VARCHAR(3)"),
    (src("enum", "enum('G','NC-17')", char_length=5, char_octet_length=20), "VARCHAR(5)"),
    (src("tinytext"), "VARCHAR(255)"), (src("text"), "TEXT"), (src("json"), "TEXT"),
    (src("longblob"), "BYTEA"), (src("geometry"), "BYTEA"), (src("bit", "bit(1)"), "BOOLEAN"),
])
def test_target_types(column: ColumnInfo, expected: str) -> None:
    assert ROUTE.expected_target_type(column) == expected


def test_cuts_only_at_lob_max_size() -> None:
    def kind(source: ColumnInfo, target: ColumnInfo | None, lob_kb: int | None):
        return ROUTE.kind_of(source, target, lob_max_kb=lob_kb, **DIGITS)

    text = ColumnInfo("c", "text", "text")
    longtext = src("longtext", char_octet_length=4294967295, char_length=4294967295, charset="utf8mb4")
    assert (kind(longtext, text, 32).cut_bytes, kind(longtext, text, 32).cut_reason) == (
        32768, "limited LOB mode, LobMaxSize 32 KB; a PostgreSQL field holds at most 1 GB")
    assert kind(src("text", char_octet_length=65535), text, None).cut_bytes == 0  # full LOB mode: whole
    blob = kind(src("blob", char_octet_length=65535), ColumnInfo("c", "bytea", "bytea"), 32)
    assert (blob.name, blob.cut_bytes) == ("lob_binary", 32768)
    # a VARCHAR(n) holds n characters: never a byte cut (65,535 bytes would cut a 40-byte VARCHAR(10) on Redshift)
    varchar10 = src("varchar", "varchar(10)", char_length=10, char_octet_length=40, charset="utf8mb4")
    assert kind(varchar10, ColumnInfo("c", "character varying", "character varying(10)", char_length=10),
                32).cut_bytes == 0
    wide = kind(src("decimal", "decimal(65,30)", numeric_precision=65, numeric_scale=30), None, 32)
    assert wide.name == "decimal"
    assert ROUTE.source_range(src("decimal", "decimal(40,0)", numeric_precision=40, numeric_scale=0))[1] == \
        Decimal(10) ** 40 - 1
    assert ROUTE.target_width(ColumnInfo("c", "text", "text")) == 2 ** 30 - 1


def test_schema_check_reads_text_as_unbounded_varchar() -> None:
    from dmsval.checks.schema import compare_types, parse_actual, parse_expected

    assert compare_types(parse_expected("TEXT"), parse_actual(ColumnInfo("c", "text", "text")))[0] == "ok"
    assert compare_types(parse_expected("BYTEA"), parse_actual(ColumnInfo("c", "bytea", "bytea")))[0] == "ok"


def test_copy_creates_the_routes_types_and_keeps_binary_as_bytes() -> None:
    column = MySQLColumn("v", "varchar", "varchar(10)", char_octet_length=40, char_length=10)
    assert created_type_for(column) == "VARCHAR(40)"  # Redshift: bytes
    assert created_type_for(column, target="postgres") == postgres_type_for(column) == "VARCHAR(10)"
    blob = MySQLColumn("b", "blob", "blob", char_octet_length=65535)
    assert created_type_for(blob, target="postgres") == "BYTEA"
    convert = value_converter_for(blob, 1, target="postgres")
    assert convert is not None and convert(b"\x00\xff" * 1000) == (b"\x00\xff" * 1000)[:1024]
    text = value_converter_for(MySQLColumn("t", "longtext", "longtext"), 1, target="postgres")
    assert text is not None and len(text("\u00e9" * 1000).encode()) == 1024
    with pytest.raises(DmsCopyError, match="do not apply to a postgres target"):
        created_type_for(column, DmsVariant(varchar_bytes_per_char=3), char_length=10, target="postgres")
    with pytest.raises(DmsCopyError, match="target must be one of"):
        created_type_for(column, target="oracle")


# ----------------------------------------------------------------------------------------------- end to end

@pytest.fixture
def postgres_migration(aws, copies, tmp_path, monkeypatch):
    ensure_mysql_reader("127.0.0.1", 3306, READER, PASSWORD)

    def make(name: str, plant: list[str] | None = None):
        database, loaded = copies(name, plant or [], target="postgres")
        stats = demo.write_table_statistics(loaded, tmp_path / f"stats-{name}.json")
        monkeypatch.setenv("DMSVAL_STUB_TABLE_STATISTICS", str(stats))
        return provision(aws, name=f"pg-{name}", source=DbEndpoint("127.0.0.1", 3306, READER, PASSWORD, "sakila"),
                         target=DbEndpoint("127.0.0.1", demo.POSTGRES_PORT, "postgres", PASSWORD, database),
                         table_mappings=demo.DEMO_TABLE_MAPPINGS, target_engine="postgres")

    return make


@pytest.mark.integration
def test_clean_postgres_copy_passes_every_case(postgres_migration, run_suite):
    made = postgres_migration("clean")
    run = run_suite("-n", "2", event=stopped_event(made.task_arn))
    assert run.returncode == 0, run.stdout[-3000:]
    statuses = run.statuses()
    assert set(statuses.values()) == {"passed"}
    assert len(statuses) == 5 * 15 + 3  # five checks on the task's 15 tables, three custom queries
    results = run.results
    assert results["run"]["target"]["engine_name"] == "postgres"
    by_id = {c["case_id"]: c for c in results["cases"]}
    columns = {r["column"]: r for r in by_id["schema[sakila.film]"]["details"]["schema_columns"]}
    assert columns["description"]["target_type"] == "TEXT" and columns["description"]["verdict"] == "ok"
    assert columns["title"]["expected_type"] == "VARCHAR(128)"  # characters, not Redshift's bytes
    address = {r["column"]: r for r in by_id["schema[sakila.address]"]["details"]["schema_columns"]}
    assert address["location"]["target_type"] == "BYTEA"


@pytest.mark.integration
def test_planted_defects_fail_exactly_the_expected_cases(postgres_migration, run_suite):
    made = postgres_migration("defects", demo.PLANTED_SQL)
    run = run_suite("-n", "2", event=stopped_event(made.task_arn))
    assert run.returncode == 1
    failing = {c for c, s in run.statuses().items() if s != "passed"}
    assert failing == demo.EXPECTED_FAILURES
    by_id = {c["case_id"]: c for c in run.results["cases"]}
    assert by_id["row_diff[sakila.customer]"]["details"]["changed"] == [
        {"key": ["7"], "columns": {"email": ["MARIA.MILLER@sakilacustomer.org", "changed@example.com"]}}]
