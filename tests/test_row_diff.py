"""row_diff against real databases: MariaDB as the DMS source, PostgreSQL behind the Redshift wire shim as the
target, each target filled by ``copy_schema`` (what a DMS full load into Redshift writes).

Every normalization rule of ``Engine.canonical`` is exercised with real values in both databases, in both
directions: a clean copy of every awkward type must compare equal (no false alarm), and a difference planted in
one column of one row must be reported as exactly that key and that column (no missed difference), while a
change DMS itself would have hidden (beyond the compared float digits, beyond the LOB limit, CHAR padding) must
not be reported.

Names carry the xdist worker id: MariaDB database ``dmsval_rowdiff_<worker>`` (the employees subset is read from
the shared ``employees`` database, never written) and PostgreSQL database ``dmsval_rowdiff_<worker>``, one target
schema per copied table (``copy_schema`` drops and recreates its schema).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Iterator

import psycopg
import pymysql
import pytest
import sqlglot

from dmsval.credentials import Credentials
from dmsval.checks.base import TableStats
from dmsval.checks.row_diff import RowDiff, diff_tables
from dmsval.config import Settings
from dmsval.engines import Engine, open_engine
from dmsval.errors import EngineError
from devstack.datasets import EMPLOYEES_ROW_COUNTS, MySQLParams, load_employees
from devstack.dms_copy import copy_schema
from dmsval.mappings import TablePair

from .conftest import create_pg_database, pg_dsn

pytestmark = pytest.mark.integration

MYSQL = MySQLParams()
LIMITED_LOB = {"TargetMetadata": {"LimitedSizeLobMode": True, "LobMaxSize": 32}}
LOB_LIMIT = 32 * 1024  # bytes DMS keeps of a text LOB in this mode (binary: 32767, see catalog.kind_of)


# ------------------------------------------------------------------------------------------ the awkward table

AWKWARD_DDL = """
CREATE TABLE awkward (
  id INT NOT NULL PRIMARY KEY,
  ts TIMESTAMP NULL DEFAULT NULL,
  dt DATETIME NULL,
  dt3 DATETIME(3) NULL,
  ts6 TIMESTAMP(6) NULL DEFAULT NULL,
  d DATE NULL,
  flag TINYINT(1) NULL,
  yes_no BOOLEAN NULL,
  bit1 BIT(1) NULL,
  bit5 BIT(5) NULL,
  bit64 BIT(64) NULL,
  ti TINYINT NULL,
  tiu TINYINT UNSIGNED NULL,
  siu SMALLINT UNSIGNED NULL,
  miu MEDIUMINT UNSIGNED NULL,
  iu INT UNSIGNED NULL,
  bi BIGINT NULL,
  biu BIGINT UNSIGNED NULL,
  dec10 DECIMAL(10,2) NULL,
  dec40 DECIMAL(40,5) NULL,
  f FLOAT NULL,
  dbl DOUBLE NULL,
  en ENUM('small','medium','large','x-large') NULL,
  st SET('a','b','c d') NULL,
  tm TIME NULL,
  yr YEAR NULL,
  vc VARCHAR(50) NULL,
  ch CHAR(10) NULL,
  utf VARCHAR(50) NULL,
  lat VARCHAR(30) CHARACTER SET latin1 NULL,
  CamelCol VARCHAR(10) NULL,
  txt TEXT NULL,
  mtxt MEDIUMTEXT NULL,
  js JSON NULL,
  bl BLOB NULL,
  geo GEOMETRY NULL
) DEFAULT CHARSET=utf8mb4
"""

COLUMNS = ("id ts dt dt3 ts6 d flag yes_no bit1 bit5 bit64 ti tiu siu miu iu bi biu dec10 dec40 f dbl en st tm yr "
           "vc ch utf lat CamelCol txt mtxt js bl geo").split()

BLOB_LONG = bytes(range(256)) * 157  # 40,192 bytes: beyond the 32,767 kept bytes
TEXT_LONG = "x" * 40_000  # ASCII, beyond the 32,768 kept bytes
TEXT_EMOJI_LONG = "a" + "\U0001F600" * 9_000  # 36,001 bytes: the cut at 32,768 bytes splits an emoji
TEXT_2BYTE_LONG = "a" + "\u00e9" * 20_000  # 20,001 characters (fewer than the limit), 40,001 bytes (more)
MTEXT_LONG = "b" * 70_000  # MEDIUMTEXT beyond even Redshift's VARCHAR(65535)


def _rows() -> list[dict[str, Any]]:
    """Edge values per column; raw SQL expressions are given as ("sql", text). TIMESTAMPs are inserted while the
    session time zone is +05:30, so MariaDB stores (and DMS copies) them 5.5 hours earlier in UTC."""
    rows = [
        dict(id=1, ts="2021-06-01 12:00:00", dt="2021-06-01 12:00:00", dt3="2021-06-01 12:00:00.123",
             ts6="2021-06-01 12:00:00.123456", d="2021-06-01", flag=1, yes_no=True, bit1=("sql", "b'1'"),
             bit5=("sql", "b'10101'"), bit64=("sql", "0xFFFFFFFFFFFFFFFF"), ti=-128, tiu=255, siu=32767,
             miu=16777215, iu=4294967295,
             bi=-9223372036854775808, biu=18446744073709551615, dec10="12345678.91",
             dec40="12345678901234567890123456789012345.12345", f=0.1, dbl=0.1, en="small", st="a,b",
             tm="-838:59:59", yr=2155, vc="", ch="abc", utf="\U0001F600 emoji \U0001F389", lat="Gr\u00fc\u00dfe",
             CamelCol="Camel", txt="short text", mtxt="short", js='{"a": 1, "b": [1, 2, "\u00fc"]}',
             bl=b"\x00\x01\xff", geo=("sql", "POINT(1.5, -2.25)")),
        dict(id=2, ts="1970-01-01 05:30:01", dt="1000-01-01 00:00:00", dt3="2021-06-01 12:00:00.999",
             ts6="2038-01-19 08:44:07.999999", d="1000-01-01", flag=0, yes_no=False, bit1=("sql", "b'0'"),
             bit5=("sql", "b'00000'"), bit64=("sql", "b'0'"), ti=127, tiu=0, siu=0, miu=0, iu=0,
             bi=9223372036854775807, biu=0,
             dec10="-99999999.99", dec40="-0.00001", f=1e-7, dbl=1e-7, en="x-large", st="", tm="838:59:59",
             yr=1901, vc="NULL", ch="abc   ", utf="\u65e5\u672c\u8a9e\u30c6\u30ad\u30b9\u30c8", lat="caf\u00e9",
             CamelCol="", txt="", mtxt="", js="[]", bl=b"", geo=("sql", "ST_GeomFromText('LINESTRING(0 0,1 1)')")),
        dict(id=3, ts="0000-00-00 00:00:00", dt="0000-00-00 00:00:00", dt3="0000-00-00 00:00:00.000",
             ts6="0000-00-00 00:00:00.000000", d="0000-00-00", flag=2, yes_no=None, bit1=None,
             bit5=("sql", "b'11111'"), bit64=("sql", "0x8000000000000001"), ti=0, tiu=1, siu=1, miu=1, iu=1,
             bi=0, biu=1, dec10="0.00",
             dec40="0.00000", f=123456.789, dbl=123456.789, en="", st="a,b,c d", tm="25:30:00", yr=0,
             vc=None, ch="  lead", utf="\u03a9\u2248\u00e7\u221a\u222b tab\there", lat="plain", CamelCol=None,
             txt=None, mtxt=None, js="null", bl=None, geo=None),
        dict(id=4, **{c: None for c in COLUMNS if c != "id"}),
        dict(id=5, ts="2021-01-01 03:00:00", dt="2020-00-15 10:00:00", dt3="2021-06-01 12:00:00.000",
             ts6="2021-06-01 12:00:00.000001", d="2020-02-29", flag=-1, yes_no=True, bit1=("sql", "b'1'"),
             bit5=("sql", "b'00001'"), bit64=("sql", "b'1'"), ti=1, tiu=128, siu=12345, miu=8388608, iu=2147483648,
             bi=-1, biu=9223372036854775808, dec10="-0.01", dec40="99999999999999999999999999999999999.99999",
             f=-2.5e30, dbl=-2.5e30, en="medium", st="c d", tm="-01:30:00", yr=2024, vc="trailing  ",
             ch="", utf="a\u00a0b", lat="na\u00efve", CamelCol="x", txt=TEXT_LONG, mtxt=MTEXT_LONG,
             js='{"k": "' + "j" * 100 + '"}', bl=BLOB_LONG, geo=("sql", "POINT(0, 0)")),
        dict(id=6, ts="2038-01-19 08:44:07", dt="9999-12-31 23:59:59", dt3="9999-12-31 23:59:59.999",
             ts6="1970-01-01 05:30:01.000000", d="9999-12-31", flag=127, yes_no=False, bit1=("sql", "b'0'"),
             bit5=("sql", "b'01000'"), bit64=("sql", "0x7FFFFFFFFFFFFFFF"), ti=-1, tiu=254, siu=32766,
             miu=16777214, iu=4294967294,
             bi=1, biu=18446744073709551614, dec10="99999999.99", dec40="-12345.67890", f=3.4028e38,
             dbl=3.4028e38, en="large", st="a", tm="00:00:00", yr=1999, vc=" leading",
             ch="x", utf="", lat="", CamelCol="Y", txt=TEXT_EMOJI_LONG, mtxt=TEXT_2BYTE_LONG,
             js='{"emoji": "\U0001F600"}', bl=b"\x00" * 10, geo=("sql", "POINT(-180, 90)")),
        dict(id=7, ts="2021-06-01 00:00:00", dt="2021-06-01 00:00:00", dt3=None, ts6=None, d="2021-01-01",
             flag=None, yes_no=None, bit1=("sql", "b'1'"), bit5=None, bit64=None, ti=None, tiu=None, siu=None, miu=None,
             iu=None, bi=None, biu=None, dec10="1.10", dec40="1.10000", f=0.0, dbl=1.7976931348623157e308,
             en=None, st=None, tm="12:34:56", yr=None, vc="quote ' and \\ backslash | pipe : colon ~ tilde",
             ch=" a b ", utf="\u00e9\u0301 combining", lat="\u00c5ngstr\u00f6m", CamelCol=None,
             txt="line1\nline2\r\n\ttabbed", mtxt="\u00e9" * 5, js='{"nested": {"x": [true, false, null]}}',
             bl=bytes(range(256)), geo=None),
        dict(id=8, ts=None, dt="2021-06-01 12:00:00", dt3="0001-01-01 00:00:00.001", ts6=None, d="0999-12-31",
             flag=None, yes_no=None,
             bit1=None, bit5=None, bit64=None, ti=None, tiu=None, siu=None, miu=None, iu=None, bi=None, biu=None,
             dec10=None, dec40=None, f=123456.7, dbl=2.2250738585072014e-308, en=None, st=None, tm=None,
             yr=None, vc="NULL ", ch=None, utf="\U0001F468\u200d\U0001F469\u200d\U0001F467", lat=None,
             CamelCol=None, txt=None, mtxt=None, js=None, bl=None, geo=None),
    ]
    for row in rows:
        assert set(row) == set(COLUMNS), row["id"]
    return rows


def _mysql(database: str | None = None) -> pymysql.connections.Connection:
    """A writing admin connection to the source (the engines under test are read-only)."""
    return pymysql.connect(host=MYSQL.host, port=MYSQL.port, user=MYSQL.user, password=MYSQL.password,
                           database=database, charset="utf8mb4", autocommit=True)


def _mysql_exec(database: str | None, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
    conn = _mysql(database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                if isinstance(statement, tuple):
                    cur.execute(*statement)
                else:
                    cur.execute(statement)
    finally:
        conn.close()


def _pg_exec(database: str, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
    with psycopg.connect(pg_dsn(database), autocommit=True) as conn:
        for statement in statements:
            if isinstance(statement, tuple):
                conn.execute(*statement)
            else:
                conn.execute(statement)


def _pg_rows(database: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_dsn(database)) as conn:
        return conn.execute(sql, params).fetchall()


def _build_awkward(database: str) -> None:
    """(Re)create the awkward source table: zero dates need sql_mode '', TIMESTAMPs go in at +05:30."""
    statements: list[str | tuple[str, tuple[Any, ...]]] = [
        "SET SESSION sql_mode = ''", "SET SESSION time_zone = '+05:30'", "DROP TABLE IF EXISTS awkward",
        AWKWARD_DDL]
    for row in _rows():
        values, params = [], []
        for column in COLUMNS:
            value = row[column]
            if isinstance(value, tuple):
                values.append(value[1])
            else:
                values.append("%s")
                params.append(value)
        statements.append((f"INSERT INTO awkward ({', '.join(f'`{c}`' for c in COLUMNS)}) "
                           f"VALUES ({', '.join(values)})", tuple(params)))
    statements.append("ANALYZE TABLE awkward")
    _mysql_exec(database, *statements)


# ------------------------------------------------------------------------------------------------ fixtures

class Stack:
    """The per-worker databases, engines and helpers shared by this module's tests."""

    def __init__(self, suffix: str, shim_port: int) -> None:
        self.db = f"dmsval_rowdiff_{suffix}"  # MariaDB database (the DMS source schema)
        self.pg = f"dmsval_rowdiff_{suffix}"  # PostgreSQL database (the Redshift stand-in)
        self.shim_port = shim_port
        self.source, self.target = self.open_engines()

    def open_engines(self) -> tuple[Engine, Engine]:
        source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", self.db, ""),
                             role="source", query_timeout_s=600)
        target = open_engine("redshift", Credentials("127.0.0.1", self.shim_port, "postgres", self.pg, "x"),
                             role="target", query_timeout_s=600)
        return source, target

    def reopen(self) -> None:
        """New sessions: an engine reads the table list once per session, so tables created later need them."""
        self.close()
        self.source, self.target = self.open_engines()

    def pair(self, table: str, target_schema: str, source_schema: str | None = None) -> TablePair:
        return TablePair(source_schema or self.db, table, target_schema, table.lower())

    def copy(self, table: str, target_schema: str) -> None:
        copy_schema(MYSQL, pg_dsn(self.pg), self.db, target_schema, tables=[table], lob_max_size_kb=32)

    def diff(self, pair: TablePair, settings: Settings | None = None, part: tuple[str, str] = ("", "")) -> Any:
        return diff_tables(self.source, self.target, pair, settings, LIMITED_LOB, part)

    def close(self) -> None:
        self.source.close()
        self.target.close()


@pytest.fixture(scope="module")
def stack(databases: None, redshift_shim: Any, worker_id_suffix: str) -> Iterator[Stack]:
    s = Stack(worker_id_suffix, redshift_shim.port)
    _mysql_exec(None, f"DROP DATABASE IF EXISTS `{s.db}`",
                f"CREATE DATABASE `{s.db}` CHARACTER SET utf8mb4")
    create_pg_database(s.pg)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def awkward(stack: Stack) -> Iterator[Callable[..., None]]:
    """The awkward table in MariaDB, copied DMS-style into schema ``awk``; returns ``reset()`` which restores
    both sides (source rebuilt only when asked)."""
    _build_awkward(stack.db)
    stack.copy("awkward", "awk")

    def reset(source: bool = False) -> None:
        if source:
            _build_awkward(stack.db)
        stack.copy("awkward", "awk")

    yield reset


def _only_change(outcome: Any, key: list[str], column: str) -> None:
    """The outcome reports exactly one changed row, ``key``, differing in exactly ``column``."""
    assert not outcome.passed, outcome.message
    d = outcome.details
    assert d["missing_keys"] == [] and d["extra_keys"] == [], outcome.message
    assert [c["key"] for c in d["changed"]] == [key], outcome.message
    assert list(d["changed"][0]["columns"]) == [column], d["changed"]
    assert outcome.figures["changed"] == 1 and outcome.figures["missing"] == 0 and outcome.figures["extra"] == 0


# ------------------------------------------------------------------------------------ 1. no false alarm

def test_awkward_types_clean_copy_has_no_difference(stack: Stack, awkward: Callable[..., None]) -> None:
    outcome = stack.diff(stack.pair("awkward", "awk"))
    assert outcome.passed, (outcome.message, outcome.details.get("changed"))
    assert outcome.figures["source_rows"] == outcome.figures["target_rows"] == len(_rows())
    assert outcome.figures["columns_compared"] == len(COLUMNS)
    # the copy really holds the awkward forms: 4-byte emoji, NULL for zero dates, LOBs cut to the byte
    # (32,768 bytes of ASCII; 'a' + 8,191 emoji; 'a' + 16,383 x 2-byte; 32,767 blob bytes as 65,534 hex digits)
    assert _pg_rows(stack.pg, "SELECT utf, d, dt, ts FROM awk.awkward WHERE id IN (1, 3) ORDER BY id") == [
        ("\U0001F600 emoji \U0001F389", dt.date(2021, 6, 1), dt.datetime(2021, 6, 1, 12),
         dt.datetime(2021, 6, 1, 6, 30)),
        ("\u03a9\u2248\u00e7\u221a\u222b tab\there", None, None, None)]
    assert _pg_rows(stack.pg, "SELECT id, octet_length(txt), octet_length(mtxt), length(bl) FROM awk.awkward "
                              "WHERE id IN (5, 6) ORDER BY id") == [(5, 32768, 32768, 65534), (6, 32765, 32767, 20)]


def test_timestamp_is_compared_in_utc(stack: Stack, awkward: Callable[..., None]) -> None:
    """Inserted at +05:30: MariaDB stores UTC, DMS writes UTC, both engines read UTC sessions."""
    rows = _pg_rows(stack.pg, "SELECT id, ts::text, ts6::text, dt::text FROM awk.awkward WHERE id IN (1, 5) "
                              "ORDER BY id")
    assert rows == [(1, "2021-06-01 06:30:00", "2021-06-01 06:30:00.123456", "2021-06-01 12:00:00"),
                    (5, "2020-12-31 21:30:00", "2021-06-01 06:30:00.000001", None)]
    source = stack.source.query("SELECT CAST(ts AS CHAR) FROM awkward WHERE id = 1").rows
    assert source == [("2021-06-01 06:30:00",)]


# ------------------------------------------------------------------------- 2. one planted difference per rule

class Plant:
    """One real difference: ``sql`` runs on the target copy (or on the source), then row ``key`` must be reported
    changed in exactly ``column`` -- or, with ``column=None``, nothing may be reported."""

    def __init__(self, name: str, key: int, column: str | None, sql: str, side: str = "target") -> None:
        self.name, self.key, self.column, self.sql, self.side = name, key, column, sql, side

    def __repr__(self) -> str:
        return self.name


def _t(name: str, key: int, column: str | None, assignment: str) -> Plant:
    return Plant(name, key, column, f"UPDATE awk.awkward SET {assignment} WHERE id = {key}")


def _s(name: str, key: int, column: str | None, assignment: str) -> Plant:
    return Plant(name, key, column, f"UPDATE awkward SET {assignment} WHERE id = {key}", side="source")


EMOJI_KEPT = (LOB_LIMIT - 1) // 4  # emoji kept after the leading 'a' of TEXT_EMOJI_LONG: 8191
EACUTE_KEPT = (LOB_LIMIT - 1) // 2  # 'é' kept after the leading 'a' of TEXT_2BYTE_LONG: 16383
BLOB_KEPT = 32767  # bytes (their hex fills VARCHAR(65535))

PLANTS = [
    # dates and times
    _t("timestamp_shifted_1h", 1, "ts", "ts = ts + interval '1 hour'"),
    _t("datetime_plus_1s", 1, "dt", "dt = dt + interval '1 second'"),
    _t("datetime0_fraction_not_compared", 1, None, "dt = dt + interval '0.4 second'"),
    _t("datetime3_plus_1ms", 2, "dt3", "dt3 = dt3 + interval '1 millisecond'"),
    _t("datetime3_microsecond_not_compared", 1, None, "dt3 = dt3 + interval '1 microsecond'"),
    _t("timestamp6_plus_1us", 1, "ts6", "ts6 = ts6 + interval '1 microsecond'"),
    _t("date_plus_1d", 5, "d", "d = d + 1"),
    _t("zero_date_null_vs_value", 3, "d", "d = '2000-01-01'"),
    _t("zero_datetime_null_vs_value", 3, "dt", "dt = '2000-01-01 00:00:00'"),
    _t("zero_timestamp_null_vs_value", 3, "ts", "ts = '1970-01-01 00:00:01'"),
    _t("time_sign", 1, "tm", "tm = '838:59:59'"),
    _t("time_over_24h", 3, "tm", "tm = '01:30:00'"),
    _t("year", 1, "yr", "yr = 2154"),
    _t("year_0000_vs_null", 3, "yr", "yr = NULL"),
    # integers, booleans, bits
    _t("tinyint1_1_to_2", 1, "flag", "flag = 2"),
    _t("boolean_true_to_false", 1, "yes_no", "yes_no = 0"),
    _t("bit1_flipped", 1, "bit1", "bit1 = NOT bit1"),
    _t("bit1_false_to_null", 2, "bit1", "bit1 = NULL"),
    _t("bit5_digit_flipped", 1, "bit5", "bit5 = '10100'"),
    _t("bit64_high_bit", 1, "bit64", "bit64 = '0' || substr(bit64, 2)"),
    _t("tinyint_unsigned_max", 1, "tiu", "tiu = 254"),
    _t("int_unsigned_max", 1, "iu", "iu = iu - 1"),
    _t("bigint_min", 1, "bi", "bi = bi + 1"),
    _t("bigint_unsigned_max_last_digit", 1, "biu", "biu = biu - 1"),
    _t("null_int_to_zero", 4, "tiu", "tiu = 0"),
    # exact and approximate numbers
    _t("decimal_last_digit", 1, "dec10", "dec10 = dec10 + 0.01"),
    _t("decimal40_last_digit", 1, "dec40", "dec40 = '12345678901234567890123456789012345.12346'"),
    # (a faithful copy keeps the exact binary value: FLOAT compared at 9 digits, DOUBLE at 17 by default)
    _t("float_within_6_digits", 1, "f", "f = 0.1001"),
    _t("float_7th_digit", 1, "f", "f = 0.1000001"),
    _t("float_last_digit_next_real", 1, "f", "f = 0.10000001"),  # the REAL after 0.1 (9th digit)
    _t("float_large_within_6_digits", 6, "f", "f = 3.4027e38"),
    _t("double_within_7_digits", 3, "dbl", "dbl = 123456.889"),
    _t("double_8th_digit", 3, "dbl", "dbl = 123456.78901"),
    _t("double_15th_digit", 3, "dbl", "dbl = 123456.789000001"),
    _t("double_tiny_within_7_digits", 8, "dbl", "dbl = 2.2250748585072014e-308"),
    _t("double_zero_to_null", 4, "dbl", "dbl = 0"),
    # text forms
    _t("enum_text", 1, "en", "en = 'medium'"),
    _t("enum_empty_to_null", 3, "en", "en = NULL"),
    _t("set_empty_to_member", 2, "st", "st = 'a'"),
    _t("empty_string_to_null", 1, "vc", "vc = NULL"),
    _t("string_NULL_to_null", 2, "vc", "vc = NULL"),
    _t("null_to_empty_string", 3, "vc", "vc = ''"),
    _t("null_to_string_NULL", 3, "vc", "vc = 'NULL'"),
    _t("varchar_trailing_spaces_lost", 5, "vc", "vc = 'trailing'"),
    _t("char_leading_space_lost", 3, "ch", "ch = 'lead'"),
    _t("char_trailing_spaces_not_compared", 1, None, "ch = 'abc   '"),
    _t("emoji_changed", 1, "utf", "utf = '\U0001F601 emoji \U0001F389'"),
    _t("latin1_umlaut", 1, "lat", "lat = 'Grusse'"),
    _t("case_only_change_mixed_case_column", 1, "CamelCol", "camelcol = 'camel'"),
    # LOBs (limited LOB mode, 32 KB)
    _t("text_short", 1, "txt", "txt = 'short texT'"),
    _t("text_lob_first_byte", 5, "txt", "txt = 'y' || substr(txt, 2)"),
    _t("text_lob_last_kept_byte", 5, "txt", f"txt = overlay(txt placing 'y' from {LOB_LIMIT})"),
    _t("text_lob_emoji_last_kept", 6, "txt", f"txt = overlay(txt placing '\U0001F601' from {EMOJI_KEPT + 1})"),
    _t("mediumtext_2byte_inside_prefix", 6, "mtxt", "mtxt = overlay(mtxt placing 'e' from 100)"),
    _t("mediumtext_short", 1, "mtxt", "mtxt = 'Short'"),
    _t("json", 1, "js", "js = '{\"a\": 2, \"b\": [1, 2, \"\u00fc\"]}'"),
    _t("blob_first_byte", 5, "bl", "bl = 'ff' || substr(bl, 3)"),
    _t("blob_last_kept_byte", 5, "bl", f"bl = overlay(bl placing '00' from {2 * BLOB_KEPT - 1})"),
    _t("blob_empty_to_null", 2, "bl", "bl = NULL"),
    _t("geometry_point", 1, "geo", "geo = replace(geo, 'f83f', 'f43f')"),
    # changes on the source: inside the kept LOB prefix (reported) or beyond it (DMS truncated: not reported)
    _s("source_text_inside_prefix", 5, "txt", "txt = INSERT(txt, 100, 1, 'Z')"),
    _s("source_text_beyond_limit", 5, None, "txt = INSERT(txt, 35000, 1, 'Z')"),
    # (replacements of the same UTF-8 width, so the cut stays where it was)
    _s("source_text_emoji_last_kept", 6, "txt", f"txt = INSERT(txt, {EMOJI_KEPT + 1}, 1, '\U0001F601')"),
    _s("source_text_emoji_split_by_cut", 6, None, f"txt = INSERT(txt, {EMOJI_KEPT + 2}, 1, '\U0001F601')"),
    _s("source_mediumtext_2byte_last_kept", 6, "mtxt", f"mtxt = INSERT(mtxt, {EACUTE_KEPT + 1}, 1, '\u00fc')"),
    _s("source_mediumtext_2byte_split_by_cut", 6, None, f"mtxt = INSERT(mtxt, {EACUTE_KEPT + 2}, 1, '\u00fc')"),
    _s("source_mediumtext_beyond_limit", 5, None, "mtxt = INSERT(mtxt, 69000, 1, 'Z')"),
    _s("source_blob_last_kept_byte", 5, "bl", f"bl = INSERT(bl, {BLOB_KEPT}, 1, 0xEE)"),
    _s("source_blob_beyond_limit", 5, None, f"bl = INSERT(bl, {BLOB_KEPT + 1}, 1, 0xEE)"),
]


@pytest.mark.parametrize("plant", PLANTS, ids=repr)
def test_planted_difference(stack: Stack, awkward: Callable[..., None], plant: Plant) -> None:
    pair = stack.pair("awkward", "awk")
    row_sql = f"SELECT t::text FROM awk.awkward t WHERE id = {plant.key}"
    before = _pg_rows(stack.pg, row_sql)
    try:
        if plant.side == "target":
            _pg_exec(stack.pg, plant.sql)
            assert _pg_rows(stack.pg, row_sql) != before, "the planted change changed nothing"
        else:
            conn = _mysql(stack.db)
            try:
                with conn.cursor() as cur:
                    assert cur.execute(plant.sql) == 1, "the planted change changed nothing"
            finally:
                conn.close()
        outcome = stack.diff(pair)
        if plant.column is None:
            assert outcome.passed, (outcome.message, outcome.details["changed"])
        else:
            _only_change(outcome, [str(plant.key)], plant.column)
            source_value, target_value = outcome.details["changed"][0]["columns"][plant.column]
            assert source_value != target_value
    finally:
        awkward(source=plant.side == "source")


def test_full_lob_mode_keeps_what_fits_redshift(stack: Stack, awkward: Callable[..., None]) -> None:
    """Full LOB mode: no LobMaxSize cut, but Redshift's VARCHAR(65535) still caps text at 65,535 bytes and binary at
    32,767 bytes (hex doubles it)."""
    copy_schema(MYSQL, pg_dsn(stack.pg), stack.db, "awkfull", tables=["awkward"], lob_max_size_kb=64)
    stack.reopen()
    full = {"TargetMetadata": {"FullLobMode": True, "LimitedSizeLobMode": False}}
    pair = stack.pair("awkward", "awkfull")
    assert _pg_rows(stack.pg, "SELECT octet_length(mtxt), length(bl) FROM awkfull.awkward WHERE id = 5") == [
        (65535, 65534)]
    outcome = diff_tables(stack.source, stack.target, pair, None, full)
    assert outcome.passed, (outcome.message, outcome.details["changed"])
    _pg_exec(stack.pg, "UPDATE awkfull.awkward SET mtxt = overlay(mtxt placing 'Z' from 60000) WHERE id = 5")
    _only_change(diff_tables(stack.source, stack.target, pair, None, full), ["5"], "mtxt")
    # compared as if the task were in limited LOB mode (32 KB): the target holds longer texts, so DMS did not apply
    # LobMaxSize to them; they are compared at the column's capacity instead (said), and the change is still found;
    # binary is cut at 32,767 bytes either way
    limited = stack.diff(pair)
    _only_change(limited, ["5"], "mtxt")
    assert limited.details["lob_max_size_not_applied"] == ["txt", "mtxt"]
    assert "txt: 2 values cut" not in limited.message and "LobMaxSize 32 KB not applied" in limited.message


# ------------------------------------------------------------------------------ 3. missing and extra rows

def test_missing_and_extra_rows(stack: Stack, awkward: Callable[..., None]) -> None:
    try:
        _pg_exec(stack.pg, "DELETE FROM awk.awkward WHERE id = 3",
                 "CREATE TEMP TABLE x AS SELECT * FROM awk.awkward WHERE id = 1",  # row 1 again as key 100
                 "UPDATE x SET id = 100", "INSERT INTO awk.awkward SELECT * FROM x")
        outcome = stack.diff(stack.pair("awkward", "awk"))
        assert not outcome.passed
        assert outcome.details["missing_keys"] == [["3"]]
        assert outcome.details["extra_keys"] == [["100"]]
        assert outcome.details["changed"] == []
        f = outcome.figures
        assert (f["source_rows"], f["target_rows"], f["missing"], f["extra"], f["changed"]) == (8, 8, 1, 1, 0)
        assert outcome.message.startswith("1 missing, 1 extra, 0 changed rows")
    finally:
        awkward()


def test_text_lob_cut_at_every_utf8_alignment(stack: Stack) -> None:
    """LobMaxSize 1 KB keeps 1,024 bytes of UTF-8: for 1- to 4-byte characters at every offset of the cut, the
    source side must hash exactly the characters DMS kept (a split character is dropped)."""
    values = [prefix * "a" + char * (2048 // len(char.encode())) for char in ("e", "\u00e9", "\u20ac", "\U0001F600")
              for prefix in range(4)]
    values += ["\u00e9" * 600, "\U0001F600" * 255 + "abc", "\u20ac" * 341 + "\u00e9x"]  # chars < limit < bytes
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS lobcut",
                "CREATE TABLE lobcut (id INT PRIMARY KEY, t TEXT, lt TEXT CHARACTER SET latin1)",
                *((f"INSERT INTO lobcut VALUES ({i}, %s, %s)", (v, "\u00e9" * (900 + i * 7)))
                  for i, v in enumerate(values)))
    copy_schema(MYSQL, pg_dsn(stack.pg), stack.db, "lobcut", tables=["lobcut"], lob_max_size_kb=1)
    stack.reopen()
    task = {"TargetMetadata": {"LimitedSizeLobMode": True, "LobMaxSize": 1}}
    pair = stack.pair("lobcut", "lobcut")
    outcome = diff_tables(stack.source, stack.target, pair, None, task)
    assert outcome.passed, (outcome.message, outcome.details["changed"])
    # and the check is not blind: the last kept character of every value changed on the target is reported
    _pg_exec(stack.pg, "UPDATE lobcut.lobcut SET t = left(t, -1) || 'Q'")
    outcome = diff_tables(stack.source, stack.target, pair, None, task)
    assert outcome.figures["changed"] == len(values)
    assert outcome.details["changed_columns"] == {"t": len(values)}


# ------------------------------------------------------------------------------ 4. employees: composite keys

EMPLOYEE_TABLES = sorted(EMPLOYEES_ROW_COUNTS)


@pytest.fixture(scope="module")
def employees(stack: Stack) -> str:
    """The employees subset in MariaDB ``employees`` (shared, never written here), copied into schema
    ``employees`` of this worker's stand-in database."""
    load_employees(MYSQL)
    counts = copy_schema(MYSQL, pg_dsn(stack.pg), "employees", "employees")
    assert counts == dict(EMPLOYEES_ROW_COUNTS)
    stack.reopen()
    return "employees"


def test_employees_clean_copy_has_no_difference(stack: Stack, employees: str) -> None:
    for table in EMPLOYEE_TABLES:
        outcome = stack.diff(stack.pair(table, "employees", source_schema=employees))
        assert outcome.passed, (table, outcome.message, outcome.details)
        assert outcome.figures["source_rows"] == outcome.figures["target_rows"] == EMPLOYEES_ROW_COUNTS[table]


def test_employees_planted_differences_in_composite_keys(stack: Stack, employees: str) -> None:
    # salary (emp_no, from_date): one missing, one extra, one changed amount
    # title (emp_no, title, from_date): one missing, one extra, one changed to_date (NULL -> a date)
    salary = _pg_rows(stack.pg, "SELECT emp_no, amount, from_date, to_date FROM employees.salary "
                                "WHERE (emp_no, from_date) IN ((10001, '1986-06-26'), (10002, '1996-08-03'))"
                                " ORDER BY emp_no")
    title = _pg_rows(stack.pg, "SELECT emp_no, title, from_date, to_date FROM employees.title "
                               "WHERE emp_no IN (10003, 10004) AND to_date IS NOT NULL ORDER BY emp_no, from_date")
    assert len(salary) == 2 and len(title) >= 2 and title[0][0] != title[-1][0], (salary, title)
    missing_title, changed_title = title[0], title[-1]
    plants = [
        "DELETE FROM employees.salary WHERE emp_no = 10001 AND from_date = '1986-06-26'",
        "INSERT INTO employees.salary VALUES (10001, 1, '2031-01-01', '2032-01-01')",
        "UPDATE employees.salary SET amount = amount + 1 WHERE emp_no = 10002 AND from_date = '1996-08-03'",
        ("DELETE FROM employees.title WHERE emp_no = %s AND title = %s AND from_date = %s", missing_title[:3]),
        "INSERT INTO employees.title VALUES (19999, 'Senior \u00e9ngineer ', '2031-01-01', NULL)",
        ("UPDATE employees.title SET to_date = to_date - 1 WHERE emp_no = %s AND title = %s AND from_date = %s",
         changed_title[:3]),
    ]
    undo = [
        ("INSERT INTO employees.salary VALUES (%s, %s, %s, %s)", salary[0]),
        "DELETE FROM employees.salary WHERE emp_no = 10001 AND from_date = '2031-01-01'",
        "UPDATE employees.salary SET amount = amount - 1 WHERE emp_no = 10002 AND from_date = '1996-08-03'",
        ("INSERT INTO employees.title VALUES (%s, %s, %s, %s)", missing_title),
        "DELETE FROM employees.title WHERE emp_no = 19999",
        ("UPDATE employees.title SET to_date = %s WHERE emp_no = %s AND title = %s AND from_date = %s",
         (changed_title[3], *changed_title[:3])),
    ]
    _pg_exec(stack.pg, *plants)
    try:
        s = stack.diff(stack.pair("salary", "employees", source_schema=employees))
        assert s.details["key"] == ["emp_no", "from_date"]
        assert s.details["missing_keys"] == [["10001", "1986-06-26"]]
        assert s.details["extra_keys"] == [["10001", "2031-01-01"]]
        assert [(c["key"], list(c["columns"])) for c in s.details["changed"]] == [
            (["10002", "1996-08-03"], ["amount"])]
        assert (s.figures["missing"], s.figures["extra"], s.figures["changed"]) == (1, 1, 1)
        assert s.figures["source_rows"] == s.figures["target_rows"] == EMPLOYEES_ROW_COUNTS["salary"]

        t = stack.diff(stack.pair("title", "employees", source_schema=employees))
        assert t.details["key"] == ["emp_no", "title", "from_date"]
        assert t.details["missing_keys"] == [[str(missing_title[0]), missing_title[1], str(missing_title[2])]]
        assert t.details["extra_keys"] == [["19999", "Senior \u00e9ngineer ", "2031-01-01"]]
        assert [(c["key"], list(c["columns"])) for c in t.details["changed"]] == [
            ([str(changed_title[0]), changed_title[1], str(changed_title[2])], ["to_date"])]
        assert (t.figures["missing"], t.figures["extra"], t.figures["changed"]) == (1, 1, 1)
    finally:
        _pg_exec(stack.pg, *undo)


# ------------------------------------------------------------------ 5. tables without a key, unique keys, latin1

def test_table_without_key_is_compared_as_a_multiset(stack: Stack) -> None:
    _mysql_exec(stack.db, "SET SESSION sql_mode = ''", "DROP TABLE IF EXISTS nokey",
                "CREATE TABLE nokey (a INT, b VARCHAR(20), c DATE, UNIQUE KEY nullable_unique (a))",
                "INSERT INTO nokey VALUES (1, 'x', '2020-01-01'), (NULL, 'dup', '0000-00-00'), "
                "(NULL, 'dup', '0000-00-00'), (NULL, 'tri', NULL), (NULL, 'tri', NULL), (NULL, 'tri', NULL), "
                "(2, '', NULL), (3, NULL, NULL)")
    stack.copy("nokey", "nokey")
    stack.reopen()
    pair = stack.pair("nokey", "nokey")
    clean = stack.diff(pair)
    assert clean.passed, (clean.message, clean.details)
    assert clean.details["multiset"] is True and clean.details["key"] == []
    assert clean.figures["source_rows"] == clean.figures["target_rows"] == 8

    # one of two duplicates deleted, one of three triplicates changed
    _pg_exec(stack.pg, "DELETE FROM nokey.nokey WHERE ctid = (SELECT min(ctid) FROM nokey.nokey WHERE b = 'dup')",
             "UPDATE nokey.nokey SET b = 'TRI' WHERE ctid = (SELECT min(ctid) FROM nokey.nokey WHERE b = 'tri')")
    outcome = stack.diff(pair)
    assert not outcome.passed
    images = sorted((r["row"]["b"], r["source_count"], r["target_count"]) for r in outcome.details["row_images"])
    assert images == [("TRI", 0, 1), ("dup", 2, 1), ("tri", 3, 2)]
    dup = next(r["row"] for r in outcome.details["row_images"] if r["row"]["b"] == "dup")
    assert dup == {"a": None, "b": "dup", "c": None}  # the zero date is NULL on both sides
    f = outcome.figures
    assert (f["rows_only_in_source"], f["rows_only_in_target"], f["differing_row_images"]) == (2, 1, 3)
    assert (f["source_rows"], f["target_rows"]) == (8, 7)


def test_not_null_unique_key_identifies_rows(stack: Stack) -> None:
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS uniq",
                "CREATE TABLE uniq (code VARCHAR(10) NOT NULL, v INT, UNIQUE KEY (code))",
                "INSERT INTO uniq VALUES ('a', 1), ('B', 2), ('\u00e9', 3), (' a', 4)")
    stack.copy("uniq", "uniq")
    stack.reopen()
    pair = stack.pair("uniq", "uniq")
    assert stack.diff(pair).passed
    _pg_exec(stack.pg, "UPDATE uniq.uniq SET v = 30 WHERE code = '\u00e9'")
    _only_change(stack.diff(pair), ["\u00e9"], "v")


def test_latin1_table_is_hashed_as_utf8(stack: Stack) -> None:
    """Every text column latin1: MySQL's MD5 hashed the latin1 bytes of the row image (a false alarm)."""
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS latin",
                "CREATE TABLE latin (code VARCHAR(20) NOT NULL PRIMARY KEY, name CHAR(10), note TEXT) "
                "DEFAULT CHARSET=latin1",
                "INSERT INTO latin VALUES ('Gr\u00fc\u00dfe', 'caf\u00e9', '\u00c5ngstr\u00f6m'), "
                "('abc', '\u00fc', ''), ('zzz', 'plain', NULL)")
    stack.copy("latin", "latin")
    stack.reopen()
    pair = stack.pair("latin", "latin")
    outcome = stack.diff(pair, Settings(segment_rows=1))  # several key-hash segments: the key is hashed too
    assert outcome.passed, (outcome.message, outcome.details)
    _pg_exec(stack.pg, "UPDATE latin.latin SET note = 'Angstrom' WHERE code = 'Gr\u00fc\u00dfe'")
    _only_change(stack.diff(pair, Settings(segment_rows=1)), ["Gr\u00fc\u00dfe"], "note")


# ------------------------------------------------------------------------------------- 6. key-range split

def test_key_range_split_parts_find_exactly_their_own_differences(stack: Stack) -> None:
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS t", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))",
                "INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000", "ANALYZE TABLE t")
    stack.copy("t", "split")
    stack.reopen()
    pair = stack.pair("t", "split")
    # small segments and fetches, so differing range segments are subdivided before rows are fetched
    settings = Settings(split_rows=250, segment_rows=20, fetch_rows=5)
    cases = RowDiff().plan(settings, (pair,), {pair.source_name: TableStats(rows=1000, key=("id",),
                                                                          key_range=(1, 1000))})
    # the part is data (params), shown only in the case id
    assert [c.case_id for c in cases] == [f"row_diff[{stack.db}.t#{i}/4]" for i in range(1, 5)]
    assert {c.subject for c in cases} == {pair.source_name}
    assert [c.split for c in cases] == [(i, 4) for i in range(1, 5)]
    assert [(c.param("part"), c.param("parts")) for c in cases] == [(str(i), "4") for i in range(1, 5)]
    parts = [(dict(c.params)["low"], dict(c.params)["high"]) for c in cases]
    assert parts == [("", "251"), ("251", "501"), ("501", "751"), ("751", "")]  # open first and last parts
    # a table at or under split_rows, or without a key range, stays one case
    for small in (TableStats(250, ("id",), (1, 250)), TableStats(5000, ())):
        assert [c.subject for c in RowDiff().plan(settings, (pair,), {pair.source_name: small})] == [pair.source_name]

    for part in parts:  # clean copy: every part passes
        outcome = stack.diff(pair, settings, part)
        assert outcome.passed, (part, outcome.message)

    _pg_exec(stack.pg,
             "UPDATE split.t SET v = 'changed' WHERE id IN (100, 251, 750)",
             "DELETE FROM split.t WHERE id IN (1, 300, 1000)",
             "INSERT INTO split.t VALUES (-5, 'below'), (0, 'zero'), (5000, 'above')")
    expected = [  # (missing, extra, changed) per part
        ([["1"]], [["-5"], ["0"]], [["100"]]),
        ([["300"]], [], [["251"]]),
        ([], [], [["750"]]),
        ([["1000"]], [["5000"]], []),
    ]
    found: dict[str, list[list[str]]] = {"missing_keys": [], "extra_keys": [], "changed": []}
    for part, (missing, extra, changed) in zip(parts, expected):
        outcome = stack.diff(pair, settings, part)
        d = outcome.details
        assert (d["missing_keys"], d["extra_keys"], [c["key"] for c in d["changed"]]) == (missing, extra, changed), part
        assert all(list(c["columns"]) == ["v"] for c in d["changed"])
        assert outcome.figures["source_rows"] == 250
        assert outcome.figures["rows_fetched"] < 30  # only around the differences, not the part's 2 x 250 rows
        found["missing_keys"] += d["missing_keys"]
        found["extra_keys"] += d["extra_keys"]
        found["changed"] += [c["key"] for c in d["changed"]]

    whole = stack.diff(pair, settings)
    assert whole.details["missing_keys"] == found["missing_keys"] == [["1"], ["300"], ["1000"]]
    assert whole.details["extra_keys"] == found["extra_keys"] == [["-5"], ["0"], ["5000"]]
    assert [c["key"] for c in whole.details["changed"]] == found["changed"] == [["100"], ["251"], ["750"]]


# ------------------------------------------------------------------------ 7. every statement parses (sqlglot)

def _record(monkeypatch: pytest.MonkeyPatch, engine: Engine, sink: list[tuple[str, str]]) -> None:
    """Record every statement the engine really runs (its own query/stream, wrapped on the instance)."""
    query, stream = engine.query, engine.stream

    def render(sql: str, params: Any) -> str:
        # catalog queries bind driver parameters; parse them as the literal values the server sees
        for value in params or ():
            sql = sql.replace("%s", engine.literal(value).replace("%%", "%"), 1)
        return sql

    def recording_query(sql: str, params: Any = None) -> Any:
        sink.append((engine.sqlglot_dialect, render(sql, params)))
        return query(sql, params)

    def recording_stream(sql: str, params: Any = None, batch: int = 5000) -> Any:
        sink.append((engine.sqlglot_dialect, render(sql, params)))
        return stream(sql, params, batch)

    monkeypatch.setattr(engine, "query", recording_query)
    monkeypatch.setattr(engine, "stream", recording_stream)


def test_every_statement_parses_in_its_dialect(stack: Stack, awkward: Callable[..., None],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS comp, bag",
                "CREATE TABLE comp (a INT, b VARCHAR(5), c DATE, v DOUBLE, PRIMARY KEY (a, b, c))",
                "INSERT INTO comp VALUES (1, 'x', '2020-01-01', 0.5), (1, 'y''', '2020-01-01', 1.5), "
                "(2, '%s', '2021-02-03', NULL)",
                "CREATE TABLE bag (a INT, t TEXT)", "INSERT INTO bag VALUES (1, 'a'), (1, 'a'), (2, NULL)")
    stack.copy("comp", "comp")
    stack.copy("bag", "bag")
    stack.reopen()
    statements: list[tuple[str, str]] = []
    _record(monkeypatch, stack.source, statements)
    _record(monkeypatch, stack.target, statements)
    _pg_exec(stack.pg, "UPDATE awk.awkward SET dbl = 1, txt = 'changed' WHERE id IN (1, 5)",
             "UPDATE comp.comp SET v = 2 WHERE b = 'y'''", "DELETE FROM comp.comp WHERE b = '%s'",
             "UPDATE bag.bag SET t = 'b' WHERE t IS NULL")
    try:
        outcomes = [
            stack.diff(stack.pair("awkward", "awk"), Settings(segment_rows=2, fetch_rows=1)),
            stack.diff(stack.pair("awkward", "awk"), Settings(split_rows=4), ("3", "7")),
            stack.diff(stack.pair("comp", "comp"), Settings(segment_rows=1)),
            stack.diff(stack.pair("bag", "bag")),
        ]
    finally:
        awkward()
    assert [o.figures.get("changed", o.figures.get("differing_row_images")) for o in outcomes] == [2, 1, 1, 2]
    assert outcomes[2].details["missing_keys"] == [["2", "%s", "2021-02-03"]]
    for outcome in outcomes:  # the statements shown in reports
        statements += [("mysql", outcome.sql["source"]), ("redshift", outcome.sql["target"])]
    dialects = {d for d, _ in statements}
    assert dialects == {"mysql", "redshift"} and len(statements) > 30
    for dialect in dialects:  # the catalog reads are recorded too
        assert any("information_schema" in sql for d, sql in statements if d == dialect)
    for dialect, sql in dict.fromkeys(statements):
        if dialect == "mysql":
            sql = sql.replace("%%", "%")  # row-level SQL always runs with a (possibly empty) parameter tuple
        parsed = sqlglot.parse_one(sql, read=dialect)
        assert isinstance(parsed, sqlglot.exp.Select), (dialect, sql)


# ------------------------------------------------------------------------------------------- 8. read-only

def test_engines_refuse_writes(stack: Stack, awkward: Callable[..., None]) -> None:
    postgres = open_engine("postgres", Credentials("127.0.0.1", 5432, "postgres", stack.pg, ""), role="target",
                           query_timeout_s=600)
    attempts = {
        stack.source: ["INSERT INTO awkward (id) VALUES (99)", "UPDATE awkward SET vc = 'w' WHERE id = 1",
                       "DELETE FROM awkward", "CREATE TABLE written (a INT)", "DROP TABLE awkward"],
        stack.target: ["INSERT INTO awk.awkward (id) VALUES (99)", "UPDATE awk.awkward SET vc = 'w' WHERE id = 1",
                       "DELETE FROM awk.awkward", "CREATE TABLE awk.written (a INT)", "DROP TABLE awk.awkward"],
    }
    attempts[postgres] = attempts[stack.target]
    try:
        for engine, statements in attempts.items():
            for sql in statements:
                with pytest.raises(EngineError, match=re.compile(r"read[- ]only", re.IGNORECASE)):
                    engine.query(sql, ())
            assert engine.query("SELECT 1", ()).rows == [(1,)]  # the session still works
    finally:
        postgres.close()
    assert stack.diff(stack.pair("awkward", "awk")).passed  # nothing was written on either side


# ------------------------------------------------------------------------- read-only even against crafted SQL

def test_postgres_engine_refuses_a_write_after_ending_its_transaction(stack: Stack) -> None:
    _pg_exec(stack.pg, "DROP TABLE IF EXISTS public.rw_probe", "CREATE TABLE public.rw_probe (a INT)")
    postgres = open_engine("postgres", Credentials("127.0.0.1", 5432, "postgres", stack.pg, ""), role="target",
                           query_timeout_s=600)
    try:
        with pytest.raises(EngineError):
            postgres.query("ROLLBACK; INSERT INTO public.rw_probe VALUES (1)", ())
    finally:
        postgres.close()
        _pg_exec(stack.pg, "DROP TABLE public.rw_probe")


def test_mysql_engine_refuses_a_write_after_switching_to_read_write(stack: Stack) -> None:
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS rw_probe", "CREATE TABLE rw_probe (a INT)")
    source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", stack.db, ""), role="source",
                         query_timeout_s=600)
    try:
        source.query("SET SESSION TRANSACTION READ WRITE", ())
        with pytest.raises(EngineError):
            source.query("INSERT INTO rw_probe VALUES (1)", ())
    finally:
        source.close()
        _mysql_exec(stack.db, "DROP TABLE rw_probe")


# ------------------------------------------------------------------------- extreme doubles

def test_subnormal_and_largest_doubles(stack: Stack) -> None:
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS tiny", "CREATE TABLE tiny (id INT PRIMARY KEY, d DOUBLE)",
                "INSERT INTO tiny VALUES (1, 4.9e-324), (2, 1e-310), (3, 1.7976931348623157e308), "
                "(4, -2.2250738585072014e-308), (5, 123.456)")
    stack.copy("tiny", "tiny")
    stack.reopen()
    assert stack.diff(stack.pair("tiny", "tiny")).passed
    _pg_exec(stack.pg, "UPDATE tiny.tiny SET d = 2e-310 WHERE id = 2", "UPDATE tiny.tiny SET d = -1e308 WHERE id = 3")
    outcome = stack.diff(stack.pair("tiny", "tiny"))
    assert [(c["key"], list(c["columns"])) for c in outcome.details["changed"]] == [(["2"], ["d"]), (["3"], ["d"])]


# ------------------------------------------------------------------------- segment arithmetic per key type

def test_unsigned_bigint_key_held_as_numeric_segments_alike(stack: Stack) -> None:
    """An unsigned BIGINT key arrives as NUMERIC(20,0): its segments are computed with NUMERIC division, integer
    keys with integer division; both must put a key in the same segment as the source's DIV, or every segment
    would differ. Keys above 2^63 included; a planted change and a missing row are found, nothing else."""
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS ubig", "CREATE TABLE ubig (id BIGINT UNSIGNED PRIMARY KEY, v INT)",
                "INSERT INTO ubig SELECT 18446744073709000000 + seq * 37, seq FROM seq_1_to_5000")
    stack.copy("ubig", "ubig")
    stack.reopen()
    key_type = stack.target.query("SELECT data_type FROM information_schema.columns WHERE table_schema = 'ubig' "
                                  "AND table_name = 'ubig' AND column_name = 'id'", ()).rows[0][0]
    assert key_type == "numeric"
    settings = Settings(segment_rows=100)
    clean = stack.diff(stack.pair("ubig", "ubig"), settings)
    assert clean.passed and clean.figures["differing_segments"] == 0 and clean.figures["segments"] > 10
    _pg_exec(stack.pg, "UPDATE ubig.ubig SET v = -1 WHERE id = 18446744073709000000 + 37 * 4000",
             "DELETE FROM ubig.ubig WHERE id = 18446744073709000000 + 37 * 17")
    outcome = stack.diff(stack.pair("ubig", "ubig"), settings)
    assert [c["key"] for c in outcome.details["changed"]] == [[str(18446744073709000000 + 37 * 4000)]]
    assert outcome.details["missing_keys"] == [[str(18446744073709000000 + 37 * 17)]]
    assert outcome.figures["differing_segments"] == 2


def test_integer_key_segments_by_integer_division(stack: Stack) -> None:
    """The integer key's segment on the target is an integer division (no NUMERIC per row) and agrees with the
    source's DIV: a clean copy has no differing segment, a planted change exactly one."""
    _mysql_exec(stack.db, "DROP TABLE IF EXISTS ikey", "CREATE TABLE ikey (id BIGINT PRIMARY KEY, v INT)",
                "INSERT INTO ikey SELECT CAST(seq AS SIGNED) * 3 - 7000, seq FROM seq_1_to_5000")
    stack.copy("ikey", "ikey")
    stack.reopen()
    settings = Settings(segment_rows=100)
    clean = stack.diff(stack.pair("ikey", "ikey"), settings)
    assert clean.passed and clean.figures["differing_segments"] == 0
    assert re.search(r'\(\("id" - -6997\) / \d+\) AS segment', clean.sql["target"]), clean.sql["target"]
    _pg_exec(stack.pg, "UPDATE ikey.ikey SET v = -1 WHERE id = 2993")
    outcome = stack.diff(stack.pair("ikey", "ikey"), settings)
    assert [c["key"] for c in outcome.details["changed"]] == [["2993"]]
    assert outcome.figures["differing_segments"] == 1
