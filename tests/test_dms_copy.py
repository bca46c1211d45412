"""Tests of the local DMS stand-in: dataset loaders and the MySQL -> PostgreSQL "DMS full load" copy.

They run against the real local MariaDB (127.0.0.1:3306) and PostgreSQL (127.0.0.1:5432) and are
skipped when either is unreachable. Copies go to PostgreSQL database ``dmsval_test`` (created when
missing), each test into its own schema, so parallel workers and other suites do not collide.
"""

from __future__ import annotations

import math
import os
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator

import psycopg
import pymysql
import pytest

from dmsval.routes import UnknownSourceType

from devstack.datasets import (
    BOUNDARY_ROW_COUNTS, EMPLOYEES_ROW_COUNTS, SAKILA_ROW_COUNTS, DatasetError, MySQLParams, load_boundary,
    load_employees, load_sakila,
)
from devstack.dms_copy import (
    DEFAULT_VARIANT, DmsCopyError, DmsVariant, MySQLColumn, copy_schema, created_type_for, redshift_type_for,
    value_converter_for,
)

pytestmark = pytest.mark.integration

MYSQL = MySQLParams()
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=dmsval_test"


def _per_worker(name: str) -> str:
    """``name``, suffixed with the pytest-xdist worker id when there is one.

    Session and module fixtures run once per xdist worker; without the suffix two workers would drop
    and recreate the same database or schema under each other.
    """
    worker = os.environ.get("DMSVAL_TEST_NAMESPACE", "") + os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"{name}_{worker}" if worker else name


AWKWARD_DB = _per_worker("dmsval_copy_test")
SAKILA_SCHEMA = _per_worker("copy_sakila")
SUBSET_SCHEMA = _per_worker("copy_sakila_subset")
EMPLOYEES_SCHEMA = _per_worker("copy_employees")
AWKWARD_SCHEMA = _per_worker("copy_awkward")


# ----------------------------------------------------------------------------------------- fixtures

def _mysql_conn(**kwargs: Any) -> pymysql.connections.Connection:
    return pymysql.connect(host=MYSQL.host, port=MYSQL.port, user=MYSQL.user,
                           password=MYSQL.password, charset="utf8mb4", autocommit=True, **kwargs)


@pytest.fixture(scope="session")
def servers() -> None:
    """Skip (not fail) the database tests on a machine without the local stack."""
    try:
        _mysql_conn(connect_timeout=3).close()
    except pymysql.MySQLError as e:
        pytest.skip(f"MariaDB not reachable at {MYSQL.host}:{MYSQL.port}: {e}")
    try:
        psycopg.connect(PG_ADMIN_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL not reachable: {e}")


@pytest.fixture(scope="session")
def pg_dsn(servers: None) -> str:
    """DSN of the ``dmsval_test`` database, created on first use (tolerating a concurrent creator)."""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = 'dmsval_test'").fetchone()
        if not exists:
            try:
                admin.execute("CREATE DATABASE dmsval_test")
            except psycopg.errors.DuplicateDatabase:
                pass
    return PG_DSN


@pytest.fixture(scope="session")
def sakila(servers: None) -> str:
    """Sakila loaded (or found complete) in MariaDB database ``sakila``."""
    load_sakila(MYSQL)
    return "sakila"


@pytest.fixture(scope="session")
def employees(servers: None) -> str:
    load_employees(MYSQL)
    return "employees"


@pytest.fixture(scope="session")
def sakila_copy(sakila: str, pg_dsn: str) -> tuple[dict[str, int], float]:
    """One full DMS-style copy of Sakila, shared by the read-only assertions below."""
    started = time.monotonic()
    counts = copy_schema(MYSQL, pg_dsn, sakila, SAKILA_SCHEMA)
    return counts, time.monotonic() - started


def _pg_rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def _pg_types(dsn: str, schema: str, table: str) -> dict[str, tuple[Any, ...]]:
    """column -> (data_type, character_maximum_length, numeric_precision, numeric_scale)."""
    rows = _pg_rows(dsn, "SELECT column_name, data_type, character_maximum_length, numeric_precision, "
                         "numeric_scale FROM information_schema.columns WHERE table_schema = %s "
                         "AND table_name = %s", (schema, table))
    return {r[0]: tuple(r[1:]) for r in rows}


def _pg_primary_key(dsn: str, schema: str, table: str) -> list[str]:
    rows = _pg_rows(dsn, "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                         "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                         "WHERE i.indisprimary AND i.indrelid = %s::regclass "
                         "ORDER BY array_position(i.indkey, a.attnum)", (f"{schema}.{table}",))
    return [r[0] for r in rows]


# ------------------------------------------------------------------------------ type mapping (unit)

@pytest.mark.parametrize(("column", "expected"), [
    (MySQLColumn("a", "tinyint", "tinyint(1)"), "SMALLINT"),
    (MySQLColumn("a", "tinyint", "tinyint(3) unsigned"), "SMALLINT"),
    (MySQLColumn("a", "smallint", "smallint(5) unsigned"), "SMALLINT"),
    (MySQLColumn("a", "mediumint", "mediumint(8) unsigned"), "INTEGER"),
    (MySQLColumn("a", "int", "int(11)"), "INTEGER"),
    (MySQLColumn("a", "int", "int(10) unsigned"), "BIGINT"),
    (MySQLColumn("a", "bigint", "bigint(20)"), "BIGINT"),
    (MySQLColumn("a", "bigint", "bigint(20) unsigned"), "NUMERIC(20,0)"),
    (MySQLColumn("a", "decimal", "decimal(5,2)", numeric_precision=5, numeric_scale=2),
     "NUMERIC(5,2)"),
    (MySQLColumn("a", "decimal", "decimal(38,10)", numeric_precision=38, numeric_scale=10),
     "NUMERIC(38,10)"),
    (MySQLColumn("a", "decimal", "decimal(40,2)", numeric_precision=40, numeric_scale=2),
     "VARCHAR(42)"),
    (MySQLColumn("a", "float", "float"), "REAL"),
    (MySQLColumn("a", "double", "double"), "DOUBLE PRECISION"),
    (MySQLColumn("a", "bit", "bit(1)"), "BOOLEAN"),
    (MySQLColumn("a", "bit", "bit(12)"), "VARCHAR(12)"),
    (MySQLColumn("a", "date", "date"), "DATE"),
    (MySQLColumn("a", "datetime", "datetime(3)", datetime_precision=3), "TIMESTAMP"),
    (MySQLColumn("a", "timestamp", "timestamp"), "TIMESTAMP"),
    (MySQLColumn("a", "time", "time"), "VARCHAR(20)"),
    (MySQLColumn("a", "year", "year(4)"), "SMALLINT"),
    (MySQLColumn("a", "enum", "enum('G','PG-13')", char_octet_length=20), "VARCHAR(20)"),
    (MySQLColumn("a", "set", "set('a','b')", char_octet_length=12), "VARCHAR(12)"),
    (MySQLColumn("a", "char", "char(4)", char_octet_length=16), "VARCHAR(16)"),
    (MySQLColumn("a", "varchar", "varchar(20000)", char_octet_length=80000), "VARCHAR(65535)"),
    (MySQLColumn("a", "varchar", "varchar(0)", char_octet_length=0), "VARCHAR(1)"),
    (MySQLColumn("a", "text", "text"), "VARCHAR(65535)"),
    (MySQLColumn("a", "longtext", "longtext"), "VARCHAR(65535)"),
    (MySQLColumn("a", "json", "json"), "VARCHAR(65535)"),
    (MySQLColumn("a", "blob", "blob"), "VARCHAR(65535)"),
    (MySQLColumn("a", "binary", "binary(16)"), "VARCHAR(65535)"),
    (MySQLColumn("a", "geometry", "geometry"), "VARCHAR(65535)"),
    (MySQLColumn("a", "point", "point"), "VARCHAR(65535)"),
])
def test_redshift_type_for(column: MySQLColumn, expected: str) -> None:
    assert redshift_type_for(column) == expected


def test_redshift_type_for_unknown_type_fails_loudly() -> None:
    with pytest.raises(UnknownSourceType, match="inet6"):
        redshift_type_for(MySQLColumn("ip", "inet6", "inet6"))


def test_value_converters_without_a_database() -> None:
    text = value_converter_for(MySQLColumn("t", "text", "text"), lob_max_size_kb=1)
    assert text is not None
    cut = text("€" * 400)  # 1200 bytes, limit 1024: 341 whole characters (1023 bytes)
    assert cut == "€" * 341
    blob = value_converter_for(MySQLColumn("b", "blob", "blob"), lob_max_size_kb=1)
    assert blob is not None and blob(b"\xab" * 2000) == "ab" * 1024
    date = value_converter_for(MySQLColumn("d", "date", "date"))
    assert date is not None
    assert [date(v) for v in ("0000-00-00", "2024-00-05", "2024-03-00", "2024-03-05")] == \
        [None, None, None, "2024-03-05"]
    assert value_converter_for(MySQLColumn("i", "int", "int(11)")) is None


# --------------------------------------------------------------------------------------- datasets

def test_load_sakila_is_idempotent_and_fast(sakila: str) -> None:
    started = time.monotonic()
    result = load_sakila(MYSQL)
    assert result.loaded is False
    assert result.row_counts == dict(SAKILA_ROW_COUNTS)
    assert time.monotonic() - started < 2


def test_load_sakila_into_another_database(servers: None) -> None:
    name = "dmsval_sakila_alt"
    try:
        result = load_sakila(MYSQL, database=name, force=True)
        assert result.loaded and result.row_counts == dict(SAKILA_ROW_COUNTS)
        conn = _mysql_conn()
        try:
            with conn.cursor() as cur:
                # the views referenced `sakila.film`; after the rewrite they read the new database
                cur.execute(f"SELECT COUNT(*) FROM `{name}`.film_list")
                assert cur.fetchone()[0] == 1000
                cur.execute("SELECT view_definition FROM information_schema.views "
                            "WHERE table_schema = %s AND table_name = 'film_list'", (name,))
                definition = cur.fetchone()[0]
                assert f"`{name}`.`film`" in definition and "`sakila`." not in definition
                cur.execute("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = %s "
                            "AND table_name = 'address' AND column_name = 'location'", (name,))
                assert cur.fetchone()[0] == 1
        finally:
            conn.close()
        assert load_sakila(MYSQL, database=name).loaded is False
    finally:
        conn = _mysql_conn()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


def test_load_reports_missing_files(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMSVAL_DATASETS_DIR", str(tmp_path))
    with pytest.raises(DatasetError, match="sakila-schema.sql"):
        load_sakila(MYSQL, database="dmsval_never_created")
    with pytest.raises(DatasetError, match="employee.sql"):
        load_employees(MYSQL, database="dmsval_never_created")


def test_load_employees_counts(employees: str) -> None:
    assert load_employees(MYSQL).row_counts == dict(EMPLOYEES_ROW_COUNTS)


# ----------------------------------------------------------------------------------- sakila copies

def test_sakila_copy_counts(sakila_copy: tuple[dict[str, int], float], pg_dsn: str) -> None:
    counts, seconds = sakila_copy
    assert counts == dict(SAKILA_ROW_COUNTS)
    for table, expected in SAKILA_ROW_COUNTS.items():
        assert _pg_rows(pg_dsn, f"SELECT COUNT(*) FROM {SAKILA_SCHEMA}.{table}")[0][0] == expected
    assert _pg_rows(pg_dsn, f"SELECT SUM(amount) FROM {SAKILA_SCHEMA}.payment")[0][0] == \
        Decimal("67406.56")
    print(f"sakila copy: {sum(counts.values())} rows in {seconds:.2f}s")


def test_sakila_copy_column_types(sakila_copy: Any, pg_dsn: str) -> None:
    film = _pg_types(pg_dsn, SAKILA_SCHEMA, "film")
    assert film["rating"][0] == "character varying"
    assert film["special_features"][0] == "character varying"
    assert film["release_year"][0] == "smallint"
    assert film["description"][:2] == ("character varying", 65535)
    assert film["rental_rate"] == ("numeric", None, 4, 2)
    assert _pg_types(pg_dsn, SAKILA_SCHEMA, "customer")["active"][0] == "smallint"
    assert _pg_types(pg_dsn, SAKILA_SCHEMA, "staff")["picture"][:2] == ("character varying", 65535)
    assert _pg_types(pg_dsn, SAKILA_SCHEMA, "address")["location"][:2] == \
        ("character varying", 65535)
    assert _pg_types(pg_dsn, SAKILA_SCHEMA, "payment")["amount"] == ("numeric", None, 5, 2)
    assert _pg_types(pg_dsn, SAKILA_SCHEMA, "inventory")["inventory_id"][0] == "integer"
    # varchar(45) utf8mb4 -> 45 x 4 bytes
    assert _pg_types(pg_dsn, SAKILA_SCHEMA, "actor")["first_name"][:2] == ("character varying", 180)
    for table in SAKILA_ROW_COUNTS:
        types = _pg_types(pg_dsn, SAKILA_SCHEMA, table)
        if "last_update" in types:  # film_text has none
            assert types["last_update"][0] == "timestamp without time zone", table
    assert _pg_primary_key(pg_dsn, SAKILA_SCHEMA, "film_actor") == ["actor_id", "film_id"]


def test_sakila_copy_values(sakila_copy: Any, pg_dsn: str) -> None:
    conn = _mysql_conn(init_command="SET time_zone = '+00:00'")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT LOWER(HEX(location)) FROM sakila.address WHERE address_id = 1")
            (location_hex,) = cur.fetchone()
            cur.execute("SELECT last_update FROM sakila.actor WHERE actor_id = 1")
            (actor_update,) = cur.fetchone()
            cur.execute("SELECT LOWER(HEX(LEFT(picture, 32767))) FROM sakila.staff WHERE staff_id = 1")
            (picture_hex,) = cur.fetchone()
    finally:
        conn.close()
    schema = SAKILA_SCHEMA
    assert _pg_rows(pg_dsn, f"SELECT location FROM {schema}.address WHERE address_id = 1")[0][0] \
        == location_hex
    assert _pg_rows(pg_dsn, f"SELECT last_update FROM {schema}.actor WHERE actor_id = 1")[0][0] \
        == actor_update
    # the 36,365-byte PNG: cut to 32767 bytes so its hex fits VARCHAR(65535)
    picture = _pg_rows(pg_dsn, f"SELECT picture FROM {schema}.staff WHERE staff_id = 1")[0][0]
    assert picture == picture_hex and len(picture) == 65534 and picture.startswith("89504e47")
    assert _pg_rows(pg_dsn, f"SELECT rating, special_features, release_year FROM {schema}.film "
                            "WHERE film_id = 1")[0] == ("PG", "Deleted Scenes,Behind the Scenes", 2006)
    assert _pg_rows(pg_dsn, f"SELECT COUNT(*) FROM {SAKILA_SCHEMA}.film "
                            "WHERE original_language_id IS NULL")[0][0] == 1000


def test_sakila_copy_lob_size_renames_and_drops(sakila: str, pg_dsn: str) -> None:
    counts = copy_schema(MYSQL, pg_dsn, sakila, SUBSET_SCHEMA,
                         tables=["staff", "film", "actor"], lob_max_size_kb=1,
                         table_renames={"actor": "Actor_Renamed"},
                         drop_columns={"film": ["description", "Last_Update"]})
    assert counts == {"staff": 2, "film": 1000, "actor_renamed": 200}
    assert len(_pg_rows(pg_dsn, f"SELECT picture FROM {SUBSET_SCHEMA}.staff "
                                "WHERE staff_id = 1")[0][0]) == 2048
    film_columns = _pg_types(pg_dsn, SUBSET_SCHEMA, "film")
    assert "description" not in film_columns and "last_update" not in film_columns
    assert _pg_primary_key(pg_dsn, SUBSET_SCHEMA, "actor_renamed") == ["actor_id"]


def test_copy_rejects_unknown_names(sakila: str, pg_dsn: str) -> None:
    with pytest.raises(DmsCopyError, match="no_such_table"):
        copy_schema(MYSQL, pg_dsn, sakila, _per_worker("copy_never"), tables=["actor", "no_such_table"])
    with pytest.raises(DmsCopyError, match="no_such_column"):
        copy_schema(MYSQL, pg_dsn, sakila, _per_worker("copy_never"), tables=["actor"],
                    drop_columns={"actor": ["no_such_column"]})


def test_employees_copy_counts_and_composite_keys(employees: str, pg_dsn: str) -> None:
    counts = copy_schema(MYSQL, pg_dsn, employees, EMPLOYEES_SCHEMA)
    assert counts == dict(EMPLOYEES_ROW_COUNTS)
    assert _pg_primary_key(pg_dsn, EMPLOYEES_SCHEMA, "dept_emp") == ["emp_no", "dept_no"]
    assert _pg_primary_key(pg_dsn, EMPLOYEES_SCHEMA, "title") == ["emp_no", "title", "from_date"]
    assert _pg_primary_key(pg_dsn, EMPLOYEES_SCHEMA, "salary") == ["emp_no", "from_date"]
    assert _pg_types(pg_dsn, EMPLOYEES_SCHEMA, "employee")["gender"][0] == "character varying"
    assert _pg_types(pg_dsn, EMPLOYEES_SCHEMA, "title")["to_date"][0] == "date"


# ----------------------------------------------------------------------------- awkward types table

_AWKWARD_DDL = """
CREATE TABLE awkward (
  id INT NOT NULL PRIMARY KEY,
  t1 TINYINT(1), b1 BIT(1), b5 BIT(5),
  u_tiny TINYINT UNSIGNED, u_small SMALLINT UNSIGNED, u_medium MEDIUMINT UNSIGNED,
  u_int INT UNSIGNED, u_big BIGINT UNSIGNED,
  d40 DECIMAL(40,2), d52 DECIMAL(5,2), f FLOAT, dbl DOUBLE,
  dt3 DATETIME(3), dt0 DATETIME, ts TIMESTAMP NULL DEFAULT NULL, zd DATE, zdt DATETIME,
  tm TIME, tm3 TIME(3), yr YEAR,
  en ENUM('small','medium','large'), st SET('a','b','c'),
  ch CHAR(10), emoji VARCHAR(20), txt TEXT, big LONGTEXT, js JSON,
  bl BLOB, vb VARBINARY(8), bn BINARY(4), geo GEOMETRY,
  s VARCHAR(10)
) DEFAULT CHARSET = utf8mb4
"""

_AWKWARD_ROWS = """
INSERT INTO awkward VALUES
 (1, 1, b'1', b'00101', 255, 32767, 16777215, 4294967295, 18446744073709551615,
  12345678901234567890123456789012345678.90, -123.45, 3.14159, 0.1e0 + 0.2e0,
  '2024-02-29 13:14:15.678', '2024-02-29 13:14:15', '2024-06-01 12:00:00', '0000-00-00',
  '0000-00-00 00:00:00', '-838:59:59', '01:02:03.450', 2155,
  'medium', 'c,a', 'ab   ', 'héllo 😀', 'naïve 😀 text', REPEAT('€', 40000), '{"k": [1, 2]}',
  x'0001feff', x'cafe', 'ab', ST_GeomFromText('POINT(1 2)'), NULL),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  ''),
 (3, 0, b'0', b'11111', 0, 0, 0, 0, 0, 0, 0, 1234567.89, -1e300,
  '1970-01-01 00:00:00.000', '9999-12-31 23:59:59', '2038-01-19 03:14:07', '2024-00-10',
  '2024-05-00 10:00:00', '00:00:00', '23:59:59.999', 1901,
  'large', '', '  x', '', '', '', '[]', x'', x'', x'', NULL, 'NULL')
"""


@pytest.fixture(scope="module")
def awkward_copy(servers: None, pg_dsn: str) -> Iterator[dict[str, int]]:
    """A MariaDB table with every awkward type, copied once; the database is dropped afterwards."""
    conn = _mysql_conn()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {AWKWARD_DB}")
            cur.execute(f"CREATE DATABASE {AWKWARD_DB} CHARACTER SET utf8mb4")
            cur.execute(f"USE {AWKWARD_DB}")
            # zero dates need a permissive mode; TIMESTAMP input is taken as +02:00 local time
            cur.execute("SET SESSION sql_mode = '', time_zone = '+02:00'")
            cur.execute(_AWKWARD_DDL)
            cur.execute(_AWKWARD_ROWS)
            cur.execute("CREATE TABLE overflow (id INT PRIMARY KEY, v SMALLINT UNSIGNED)")
            cur.execute("INSERT INTO overflow VALUES (1, 40000)")
        yield copy_schema(MYSQL, pg_dsn, AWKWARD_DB, AWKWARD_SCHEMA, tables=["awkward"])
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {AWKWARD_DB}")
        conn.close()


def _awkward_row(dsn: str, row_id: int) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(f"SELECT * FROM {AWKWARD_SCHEMA}.awkward WHERE id = %s", (row_id,))
        names = [d.name for d in cur.description or ()]
        values = cur.fetchone()
    assert values is not None
    return dict(zip(names, values))


def test_awkward_types(awkward_copy: dict[str, int], pg_dsn: str) -> None:
    assert awkward_copy == {"awkward": 3}
    types = {c: t[0] for c, t in _pg_types(pg_dsn, AWKWARD_SCHEMA, "awkward").items()}
    assert types == {
        "id": "integer", "t1": "smallint", "b1": "boolean", "b5": "character varying",
        "u_tiny": "smallint", "u_small": "smallint", "u_medium": "integer", "u_int": "bigint",
        "u_big": "numeric", "d40": "character varying", "d52": "numeric", "f": "real",
        "dbl": "double precision", "dt3": "timestamp without time zone",
        "dt0": "timestamp without time zone", "ts": "timestamp without time zone", "zd": "date",
        "zdt": "timestamp without time zone", "tm": "character varying",
        "tm3": "character varying", "yr": "smallint", "en": "character varying",
        "st": "character varying", "ch": "character varying", "emoji": "character varying",
        "txt": "character varying", "big": "character varying", "js": "character varying",
        "bl": "character varying", "vb": "character varying", "bn": "character varying",
        "geo": "character varying", "s": "character varying",
    }
    assert _pg_types(pg_dsn, AWKWARD_SCHEMA, "awkward")["u_big"][2:] == (20, 0)
    assert _pg_types(pg_dsn, AWKWARD_SCHEMA, "awkward")["emoji"][1] == 80


def test_awkward_values(awkward_copy: dict[str, int], pg_dsn: str) -> None:
    r = _awkward_row(pg_dsn, 1)
    assert r["t1"] == 1 and r["b1"] is True and r["b5"] == "00101"
    assert (r["u_tiny"], r["u_small"], r["u_medium"], r["u_int"]) == (255, 32767, 16777215,
                                                                      4294967295)
    assert r["u_big"] == Decimal("18446744073709551615")
    assert r["d40"] == "12345678901234567890123456789012345678.90"
    assert r["d52"] == Decimal("-123.45")
    assert math.isclose(r["f"], 3.14159, rel_tol=1e-6)
    assert r["dbl"] == 0.1 + 0.2  # 0.30000000000000004: shortest round-trip text, no digits lost
    assert r["dt3"] == datetime(2024, 2, 29, 13, 14, 15, 678000)
    assert r["dt0"] == datetime(2024, 2, 29, 13, 14, 15)
    assert r["ts"] == datetime(2024, 6, 1, 10, 0, 0)  # written at +02:00, landed in UTC
    assert r["zd"] is None and r["zdt"] is None
    assert r["tm"] == "-838:59:59" and r["tm3"] == "01:02:03.450"
    assert r["yr"] == 2155
    assert r["en"] == "medium" and r["st"] == "a,c"  # SET text is in declaration order
    assert r["ch"] == "ab"  # CHAR trailing spaces are stripped by MySQL on read
    assert r["emoji"] == "héllo 😀" and r["txt"] == "naïve 😀 text"
    assert r["big"] == "€" * 10922  # 32 KiB LOB limit, cut at a character boundary (32766 bytes)
    assert r["js"] == '{"k": [1, 2]}'
    assert r["bl"] == "0001feff" and r["vb"] == "cafe" and r["bn"] == "61620000"
    # GEOMETRY: MySQL's internal value = 4-byte SRID (0) + WKB point (1, 2)
    assert r["geo"] == ("00000000" "0101000000" "000000000000f03f" "0000000000000040")
    assert r["s"] is None

    r2 = _awkward_row(pg_dsn, 2)
    assert all(v is None for k, v in r2.items() if k not in ("id", "s")) and r2["s"] == ""

    r3 = _awkward_row(pg_dsn, 3)
    assert r3["t1"] == 0 and r3["b1"] is False and r3["b5"] == "11111"
    assert r3["u_big"] == Decimal(0) and r3["d40"] == "0.00" and r3["dbl"] == -1e300
    # the stored float32 of 1234567.89, which MariaDB's text protocol would render as '1234570'
    # (PostgreSQL prints REAL as its shortest float4 text, 1234567.9: compare the exact value)
    exact = _pg_rows(pg_dsn, f"SELECT f::float8 FROM {AWKWARD_SCHEMA}.awkward WHERE id = 3")[0][0]
    assert exact == 1234567.875
    assert r3["dt3"] == datetime(1970, 1, 1) and r3["dt0"] == datetime(9999, 12, 31, 23, 59, 59)
    assert r3["ts"] == datetime(2038, 1, 19, 1, 14, 7)
    assert r3["zd"] is None and r3["zdt"] is None  # partial zero dates are NULL too
    assert r3["tm"] == "00:00:00" and r3["tm3"] == "23:59:59.999" and r3["yr"] == 1901
    assert r3["st"] == "" and r3["ch"] == "  x" and r3["emoji"] == "" and r3["big"] == ""
    assert r3["bl"] == "" and r3["vb"] == "" and r3["bn"] == "00000000"
    assert r3["s"] == "NULL"  # the string 'NULL' is not NULL


def test_smallint_unsigned_overflow_fails_like_redshift(awkward_copy: Any, pg_dsn: str) -> None:
    """UINT2 -> INT2: 40000 does not fit, and the error names the table (a real schema risk)."""
    with pytest.raises(DmsCopyError, match=r"overflow.*out of range"):
        copy_schema(MYSQL, pg_dsn, AWKWARD_DB, _per_worker("copy_awkward_overflow"),
                    tables=["overflow"])


# ---------------------------------------------------------------------------- DMS variants (DmsVariant)

BOUNDARY_UTC_DB = _per_worker("dmsval_copy_boundary_utc")
BOUNDARY_IST_DB = _per_worker("dmsval_copy_boundary_p0530")
VARIANT_SCHEMA = _per_worker("copy_variant")


def test_variant_defaults_labels_and_validation() -> None:
    assert DmsVariant() == DEFAULT_VARIANT and DEFAULT_VARIANT.faithful and DEFAULT_VARIANT.label == "default"
    assert (DEFAULT_VARIANT.hex_case, DEFAULT_VARIANT.varchar_bytes_per_char, DEFAULT_VARIANT.unsigned_widening,
            DEFAULT_VARIANT.lob_cut, DEFAULT_VARIANT.source_time_zone, DEFAULT_VARIANT.float_text_digits) == \
        ("lower", 4, "always", "lob_max_size", "+00:00", None)
    assert DmsVariant(hex_case="upper", source_time_zone="+05:30").label == \
        "hex_case=upper,source_time_zone=+05:30"
    for bad in ({"hex_case": "UPPER"}, {"varchar_bytes_per_char": 2}, {"unsigned_widening": "sometimes"},
                {"lob_cut": "chars"}, {"source_time_zone": "Europe/Berlin"}, {"source_time_zone": "+5:30"},
                {"float_text_digits": 0}, {"float_text_digits": 15}):
        with pytest.raises(DmsCopyError):
            DmsVariant(**bad)  # float_text_digits=15 without faithful=False: a lossy variant must say so
    lossy = DmsVariant(float_text_digits=15, faithful=False)
    assert not lossy.faithful and lossy.label == "float_text_digits=15"
    with pytest.raises(AttributeError):
        DEFAULT_VARIANT.hex_case = "upper"  # type: ignore[misc]  # frozen


_VC20 = MySQLColumn("v", "varchar", "varchar(20)", char_octet_length=80)


@pytest.mark.parametrize(("column", "variant", "kwargs", "expected"), [
    (_VC20, DEFAULT_VARIANT, {}, "VARCHAR(80)"),
    (_VC20, DmsVariant(varchar_bytes_per_char=3), {"char_length": 20}, "VARCHAR(60)"),
    (MySQLColumn("c", "char", "char(4)", char_octet_length=16), DmsVariant(varchar_bytes_per_char=3),
     {"char_length": 4}, "VARCHAR(12)"),
    (MySQLColumn("e", "enum", "enum('a','bb')", char_octet_length=8), DmsVariant(varchar_bytes_per_char=3),
     {"char_length": 2}, "VARCHAR(6)"),
    (MySQLColumn("v", "varchar", "varchar(30000)", char_octet_length=120000), DmsVariant(varchar_bytes_per_char=3),
     {"char_length": 30000}, "VARCHAR(65535)"),
    # TINYTEXT is declared in bytes: its width does not depend on bytes per character
    (MySQLColumn("t", "tinytext", "tinytext", char_octet_length=255), DmsVariant(varchar_bytes_per_char=3),
     {"char_length": 255}, "VARCHAR(255)"),
    (MySQLColumn("i", "int", "int(10) unsigned"), DEFAULT_VARIANT, {}, "BIGINT"),
    (MySQLColumn("i", "int", "int(10) unsigned"), DmsVariant(unsigned_widening="never"), {}, "INTEGER"),
    (MySQLColumn("b", "bigint", "bigint(20) unsigned"), DmsVariant(unsigned_widening="never"), {}, "BIGINT"),
    (MySQLColumn("s", "smallint", "smallint(5) unsigned"), DmsVariant(unsigned_widening="never"), {}, "SMALLINT"),
    (MySQLColumn("t", "tinyint", "tinyint(3) unsigned"), DmsVariant(unsigned_widening="never"), {}, "SMALLINT"),
    (MySQLColumn("i", "int", "int(10) unsigned"), DmsVariant(unsigned_widening="when_needed"),
     {"max_value": 2147483647}, "INTEGER"),
    (MySQLColumn("i", "int", "int(10) unsigned"), DmsVariant(unsigned_widening="when_needed"),
     {"max_value": 2147483648}, "BIGINT"),
    (MySQLColumn("i", "int", "int(10) unsigned"), DmsVariant(unsigned_widening="when_needed"),
     {"max_value": None}, "INTEGER"),  # an empty column needs no widening
    (MySQLColumn("s", "smallint", "smallint(5) unsigned"), DmsVariant(unsigned_widening="when_needed"),
     {"max_value": 40000}, "INTEGER"),
    (MySQLColumn("b", "bigint", "bigint(20) unsigned"), DmsVariant(unsigned_widening="when_needed"),
     {"max_value": 2**63}, "NUMERIC(20,0)"),
    (MySQLColumn("b", "bigint", "bigint(20) unsigned"), DmsVariant(unsigned_widening="when_needed"),
     {"max_value": 2**63 - 1}, "BIGINT"),
    (MySQLColumn("m", "mediumint", "mediumint(8) unsigned"), DmsVariant(unsigned_widening="when_needed"),
     {"max_value": 16777215}, "INTEGER"),
    (MySQLColumn("i", "int", "int(11)"), DmsVariant(unsigned_widening="never"), {}, "INTEGER"),  # signed: as is
])
def test_created_type_for_variants(column: MySQLColumn, variant: DmsVariant, kwargs: dict[str, Any],
                                   expected: str) -> None:
    assert created_type_for(column, variant, **kwargs) == expected


def test_created_type_for_needs_what_the_variant_decides_by() -> None:
    with pytest.raises(DmsCopyError, match="length in characters"):
        created_type_for(_VC20, DmsVariant(varchar_bytes_per_char=3))
    with pytest.raises(DmsCopyError, match="current maximum"):
        created_type_for(MySQLColumn("i", "int", "int(10) unsigned"), DmsVariant(unsigned_widening="when_needed"))


def test_value_converters_per_variant_without_a_database() -> None:
    blob = MySQLColumn("b", "blob", "blob")
    assert value_converter_for(blob)(b"\xab\x0f") == "ab0f"  # type: ignore[misc]
    assert value_converter_for(blob, variant=DmsVariant(hex_case="upper"))(b"\xab\x0f") == "AB0F"  # type: ignore[misc]
    vc8 = MySQLColumn("v", "varchar", "varchar(8)", char_octet_length=32)
    assert value_converter_for(vc8) is None  # default: the octet width always holds the value
    cut = value_converter_for(vc8, variant=DmsVariant(varchar_bytes_per_char=3), char_length=8)
    assert cut is not None
    assert cut("ab" + "😀" * 6) == "ab" + "😀" * 5  # 26 bytes > 24: cut before the emoji the cut would split
    assert cut("€" * 8) == "€" * 8  # exactly 24 bytes: kept
    text = MySQLColumn("t", "mediumtext", "mediumtext")
    long_text = "a" + "€" * 40000
    assert value_converter_for(text)(long_text) == "a" + "€" * 10922  # type: ignore[misc]  # 32767 bytes <= 32 KiB
    by_capacity = value_converter_for(text, variant=DmsVariant(lob_cut="column_capacity"))
    assert by_capacity is not None and by_capacity(long_text) == "a" + "€" * 21844  # 65533 bytes <= 65535
    assert len(value_converter_for(blob, lob_max_size_kb=1)(b"\x01" * 5000)) == 2048  # type: ignore[misc]
    assert len(value_converter_for(blob, lob_max_size_kb=1,  # type: ignore[misc]
                                   variant=DmsVariant(lob_cut="column_capacity"))(b"\x01" * 40000)) == 65534
    double = MySQLColumn("d", "double", "double")
    assert value_converter_for(double) is None
    fifteen = value_converter_for(double, variant=DmsVariant(float_text_digits=15, faithful=False))
    assert fifteen is not None and fifteen(0.1 + 0.2) == "0.3" and fifteen(2 / 3) == "0.666666666666667"
    assert value_converter_for(MySQLColumn("f", "float", "float"),
                               variant=DmsVariant(float_text_digits=15, faithful=False)) is None


@pytest.fixture(scope="module")
def boundary_sources(servers: None) -> dict[str, str]:
    """datasets/boundary.sql loaded twice: in a +00:00 session and in a +05:30 one (a server not in UTC)."""
    load_boundary(MYSQL, database=BOUNDARY_UTC_DB, time_zone="+00:00")
    load_boundary(MYSQL, database=BOUNDARY_IST_DB, time_zone="+05:30")
    return {"+00:00": BOUNDARY_UTC_DB, "+05:30": BOUNDARY_IST_DB}


def _copy_variant(dsn: str, database: str, tables: list[str], variant: DmsVariant, schema: str = "") -> str:
    schema = schema or VARIANT_SCHEMA
    copy_schema(MYSQL, dsn, database, schema, tables=tables, variant=variant)
    return schema


def test_load_boundary_counts_zero_dates_and_time_zone_mark(boundary_sources: dict[str, str]) -> None:
    assert load_boundary(MYSQL, database=BOUNDARY_UTC_DB).row_counts == dict(BOUNDARY_ROW_COUNTS)
    assert load_boundary(MYSQL, database=BOUNDARY_UTC_DB).loaded is False  # same zone: kept
    conn = _mysql_conn(init_command="SET time_zone = '+00:00'")
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT CAST(d AS CHAR), y FROM {BOUNDARY_UTC_DB}.temporal WHERE id = 3")
            assert cur.fetchone() == ("0000-00-00", 0)
            cur.execute(f"SELECT HEX(vb) FROM {BOUNDARY_UTC_DB}.binaries WHERE id = 1")
            assert cur.fetchone()[0] == bytes(range(256)).hex().upper()
            # plain literals are local time of the load session; the limit rows are UTC instants
            for database, expected in ((BOUNDARY_UTC_DB, "2024-06-01 12:00:00"),
                                       (BOUNDARY_IST_DB, "2024-06-01 06:30:00")):
                cur.execute(f"SELECT CAST(ts0 AS CHAR) FROM {database}.timestamps WHERE id IN (1, 8) ORDER BY id")
                assert [r[0] for r in cur.fetchall()] == ["1970-01-01 00:00:01", expected]
            cur.execute("SELECT schema_comment FROM information_schema.schemata WHERE schema_name = %s",
                        (BOUNDARY_IST_DB,))
            assert cur.fetchone()[0] == "dmsval load: time_zone=+05:30"
    finally:
        conn.close()
    with pytest.raises(DatasetError, match="fixed offset"):
        load_boundary(MYSQL, database=BOUNDARY_UTC_DB, time_zone="Asia/Kolkata")


def test_variant_hex_case(boundary_sources: dict[str, str], pg_dsn: str) -> None:
    conn = _mysql_conn()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT HEX(vb), HEX(LEFT(bl, 32767)), HEX(g) FROM {BOUNDARY_UTC_DB}.binaries "
                        f"JOIN {BOUNDARY_UTC_DB}.geometries USING (id) WHERE id = 4")
            vb, bl, geometry = cur.fetchone()
    finally:
        conn.close()
    for variant, case in ((DEFAULT_VARIANT, str.lower), (DmsVariant(hex_case="upper"), str.upper)):
        schema = _copy_variant(pg_dsn, BOUNDARY_UTC_DB, ["binaries", "geometries"], variant)
        row = _pg_rows(pg_dsn, f"SELECT b.vb, b.bl, g.g FROM {schema}.binaries b JOIN {schema}.geometries g "
                               "USING (id) WHERE id = 4")[0]
        assert row == (case(vb), case(bl), case(geometry)), variant.label
        every_byte = _pg_rows(pg_dsn, f"SELECT vb FROM {schema}.binaries WHERE id = 1")[0][0]
        assert every_byte == case(bytes(range(256)).hex()) and any(c in every_byte for c in case("abcdef"))


def test_variant_varchar_bytes_per_char(boundary_sources: dict[str, str], pg_dsn: str) -> None:
    four = _copy_variant(pg_dsn, BOUNDARY_UTC_DB, ["texts"], DEFAULT_VARIANT, _per_worker("copy_variant_vc4"))
    three = _copy_variant(pg_dsn, BOUNDARY_UTC_DB, ["texts"], DmsVariant(varchar_bytes_per_char=3))
    widths = {c: t[1] for c, t in _pg_types(pg_dsn, three, "texts").items() if c != "id"}
    # CHAR(10), VARCHAR(20), VARCHAR(8) at 3 bytes per character; TINYTEXT keeps its 255 bytes;
    # ENUM/SET: their longest value (6 / 5 characters) x 3
    assert widths == {"ch": 30, "vc": 60, "vc8": 24, "tt": 255, "en": 18, "st": 15}
    assert {c: t[1] for c, t in _pg_types(pg_dsn, four, "texts").items() if c != "id"} == \
        {"ch": 40, "vc": 80, "vc8": 32, "tt": 255, "en": 24, "st": 20}
    rows = dict((r[0], r[1:]) for r in _pg_rows(pg_dsn, f"SELECT id, ch, vc, vc8 FROM {three}.texts"))
    assert rows[1][2] == "😀" * 6  # 8 emoji = 32 bytes, cut at 24
    assert rows[7][2] == "ab" + "😀" * 5  # 26 bytes: 'ab' + 5 whole emoji = 22 bytes, the 6th would be split
    assert rows[8][2] == "€" * 8  # 24 bytes exactly: not cut
    assert rows[9][0] == "😀" * 7 and rows[9][1] == "😀" * 15  # 40 -> 28 of 30 bytes, 80 -> 60 of 60 bytes
    assert rows[5] == ("café", "café", "café") and rows[6] == ("cafe\u0301",) * 3  # fit: untouched
    for row in rows.values():
        for value, width in zip(row, (30, 60, 24)):
            assert value is None or len(value.encode("utf-8")) <= width
    full = dict((r[0], r[1:]) for r in _pg_rows(pg_dsn, f"SELECT id, ch, vc, vc8 FROM {four}.texts"))
    assert full[1][2] == "😀" * 8 and full[9][1] == "😀" * 20  # the default cuts nothing


def test_variant_unsigned_widening(boundary_sources: dict[str, str], pg_dsn: str) -> None:
    tables = ["unsigned_fit", "unsigned_max_small", "unsigned_max_int", "unsigned_max_big"]
    expected = {
        # (unsigned_fit: tu su mu iu bu), unsigned_max_small.v, unsigned_max_int.v, unsigned_max_big.v
        "always": (("smallint", "smallint", "integer", "bigint", "numeric"), None, "bigint", "numeric"),
        "when_needed": (("smallint", "smallint", "integer", "integer", "bigint"), "integer", "bigint", "numeric"),
        "never": (("smallint", "smallint", "integer", "integer", "bigint"), None, None, None),
    }
    for mode, (fit_types, small, integer, big) in expected.items():
        variant = DmsVariant(unsigned_widening=mode)
        loadable = [t for t, want in zip(tables, ("x", small, integer, big)) if want is not None]
        schema = _copy_variant(pg_dsn, BOUNDARY_UTC_DB, loadable, variant)
        fit = _pg_types(pg_dsn, schema, "unsigned_fit")
        assert tuple(fit[c][0] for c in ("tu", "su", "mu", "iu", "bu")) == fit_types, mode
        for table, want in zip(tables[1:], (small, integer, big)):
            if want is not None:
                assert _pg_types(pg_dsn, schema, table)["v"][0] == want, (mode, table)
        maxima = _pg_rows(pg_dsn, f"SELECT MAX(tu), MAX(su), MAX(mu), MAX(iu), MAX(bu) FROM {schema}.unsigned_fit")
        assert [int(v) for v in maxima[0]] == [255, 32767, 16777215, 2147483647, 9223372036854775807]
    # values the variant's type cannot hold fail the load of their table, as Redshift's COPY would
    for mode, table in (("never", "unsigned_max_int"), ("never", "unsigned_max_big"), ("always", "unsigned_max_small")):
        with pytest.raises(DmsCopyError, match=f"{table}.*out of range"):
            _copy_variant(pg_dsn, BOUNDARY_UTC_DB, [table], DmsVariant(unsigned_widening=mode),
                          _per_worker("copy_variant_overflow"))


def _octets(value: str | None) -> int | None:
    return None if value is None else len(value.encode("utf-8"))


def test_variant_lob_cut(boundary_sources: dict[str, str], pg_dsn: str) -> None:
    expected = {
        # lobs row 4 (t: 'a' + 13333 x 3-byte, mt: 'a' + 40000 x 3-byte, lt: 'ab' + 20000 x 4-byte, js: 40004 bytes),
        # lobs row 5 (32768, 65535, 65536 ASCII bytes; js 33004 bytes), binaries bl/lb rows 4 and 5 (bytes kept)
        "lob_max_size": ((32767, 32767, 32766, 32768), (32768, 32768, 32768, 32768), (32767, 32767, 32767, 32767)),
        "column_capacity": ((40000, 65533, 65534, 40004), (32768, 65535, 65535, 33004), (32767, 32767, 32767, 32767)),
    }
    for mode, (row4, row5, binary) in expected.items():
        schema = _copy_variant(pg_dsn, BOUNDARY_UTC_DB, ["lobs", "binaries"], DmsVariant(lob_cut=mode))
        lobs = {r[0]: r[1:] for r in _pg_rows(pg_dsn, f"SELECT id, t, mt, lt, js FROM {schema}.lobs")}
        assert tuple(_octets(v) for v in lobs[4]) == row4, mode
        assert tuple(_octets(v) for v in lobs[5]) == row5, mode
        assert lobs[4][1] == "a" + "€" * ((row4[1] - 1) // 3)  # cut at a whole character
        assert lobs[4][2] == "ab" + "😀" * ((row4[2] - 2) // 4)
        assert lobs[1] == ("short €😀", "medium €😀", "long €😀", '{"k": [1, 2.5, "😀"], "n": null}')
        blobs = {r[0]: r[1:] for r in _pg_rows(pg_dsn, f"SELECT id, bl, lb FROM {schema}.binaries")}
        assert tuple(len(v) // 2 for v in blobs[4] + blobs[5]) == binary, mode
        assert blobs[4][0] == (bytes(range(256)) * 128)[:32767].hex()


def test_variant_source_time_zone(boundary_sources: dict[str, str], pg_dsn: str) -> None:
    """TIMESTAMPs land in UTC whatever the source server's zone; DATETIME is never shifted.

    The +05:30 source holds the same instants for the limit and DST rows, and its plain literals mean +05:30
    local time (12:00 -> 06:30 UTC). Copying with a session in the server's zone (the variant) or in UTC gives
    the same target: the copy converts TIMESTAMPs from its session's zone to UTC.
    """
    variant = DmsVariant(source_time_zone="+05:30")
    tables = ["timestamps", "temporal"]
    ist = _copy_variant(pg_dsn, BOUNDARY_IST_DB, tables, variant)
    ist_utc_session = _copy_variant(pg_dsn, BOUNDARY_IST_DB, tables, DEFAULT_VARIANT,
                                    _per_worker("copy_variant_tz_utc"))
    utc = _copy_variant(pg_dsn, BOUNDARY_UTC_DB, tables, variant, _per_worker("copy_variant_tz_src_utc"))
    query = "SELECT id, ts0, ts6 FROM {}.timestamps ORDER BY id"
    ist_rows = _pg_rows(pg_dsn, query.format(ist))
    assert ist_rows == _pg_rows(pg_dsn, query.format(ist_utc_session))
    by_id = {r[0]: r[1:] for r in ist_rows}
    assert by_id[1] == (datetime(1970, 1, 1, 0, 0, 1), datetime(1970, 1, 1, 0, 0, 1, 1))
    assert by_id[2] == (datetime(2038, 1, 19, 3, 14, 7), datetime(2038, 1, 19, 3, 14, 7, 999999))
    assert by_id[3] == (None, None)  # zero TIMESTAMP -> NULL
    assert by_id[6][0] == datetime(2026, 10, 25, 0, 30) and by_id[7][0] == datetime(2026, 10, 25, 1, 30)
    assert by_id[8] == (datetime(2024, 6, 1, 6, 30), datetime(2024, 6, 1, 6, 30, 0, 250000))
    utc_rows = {r[0]: r[1:] for r in _pg_rows(pg_dsn, query.format(utc))}
    assert utc_rows[8] == (datetime(2024, 6, 1, 12, 0), datetime(2024, 6, 1, 12, 0, 0, 250000))
    assert {k: v for k, v in utc_rows.items() if k not in (8, 9)} == {k: v for k, v in by_id.items()
                                                                     if k not in (8, 9)}
    # DATETIME is a wall time: identical under every zone (incl. one that does not exist in Berlin)
    temporal = "SELECT * FROM {}.temporal ORDER BY id"
    assert _pg_rows(pg_dsn, temporal.format(ist)) == _pg_rows(pg_dsn, temporal.format(utc))
    assert _pg_rows(pg_dsn, f"SELECT dt0 FROM {ist}.temporal WHERE id = 5")[0][0] == datetime(2026, 3, 29, 2, 30)


@pytest.fixture(scope="module")
def doubles_source(boundary_sources: dict[str, str]) -> str:
    """A small table of doubles beside the boundary dataset (in the same test database)."""
    conn = _mysql_conn()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {BOUNDARY_UTC_DB}.doubles "
                        "(id INT PRIMARY KEY, f FLOAT, d DOUBLE)")
            cur.execute(f"REPLACE INTO {BOUNDARY_UTC_DB}.doubles VALUES (1, 1234567.875, 0.1e0 + 0.2e0), "
                        "(2, 0, 2e0 / 3e0), (3, 0, 123456789), (4, 0, -1e300), (5, NULL, NULL)")
    finally:
        conn.close()
    return BOUNDARY_UTC_DB


def test_variant_float_text_digits(doubles_source: str, pg_dsn: str) -> None:
    lossy = DmsVariant(float_text_digits=15, faithful=False)
    schema = _copy_variant(pg_dsn, doubles_source, ["doubles"], lossy)
    rows = dict(_pg_rows(pg_dsn, f"SELECT id, d FROM {schema}.doubles"))
    assert rows[1] == 0.3 and rows[1] != 0.1 + 0.2  # 0.30000000000000004 written as 0.3
    assert rows[2] == 0.666666666666667 and rows[3] == 123456789.0 and rows[4] == -1e300 and rows[5] is None
    assert _pg_types(pg_dsn, schema, "doubles")["f"][0] == "real"  # FLOAT is unaffected
    assert _pg_rows(pg_dsn, f"SELECT f::float8 FROM {schema}.doubles WHERE id = 1")[0][0] == 1234567.875
    exact = _copy_variant(pg_dsn, doubles_source, ["doubles"], DEFAULT_VARIANT, _per_worker("copy_variant_flt_exact"))
    assert dict(_pg_rows(pg_dsn, f"SELECT id, d FROM {exact}.doubles"))[1] == 0.1 + 0.2
    # DOUBLE's largest value rounds up past the range at 15 digits: the load fails, as Redshift's COPY would
    with pytest.raises(DmsCopyError, match="floats.*out of range"):
        _copy_variant(pg_dsn, doubles_source, ["floats"], lossy, _per_worker("copy_variant_flt_overflow"))
