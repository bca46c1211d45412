"""Variant tolerance, strict on data: every tolerance of the comparison proven on small tables of its own.

DMS versions and settings legitimately differ in details (hex letter case, where and how far values are cut,
how wide a created column is, integer widening); a faithful copy under any of them must pass, and a real change
must still fail. Each test plants the variant on the target (real MariaDB source, PostgreSQL behind the Redshift
wire shim as the target) and then a real difference, so each can fail.

Names carry the xdist worker id: MariaDB database and PostgreSQL database ``dmsval_tol_<worker>``.
"""

from __future__ import annotations

import contextlib
import math
import random
import struct
from typing import Any, Iterator

import psycopg
import pymysql
import pytest

from dmsval.credentials import Credentials
from dmsval.checks.aggregates import Aggregates
from dmsval.checks.base import Case, CheckContext, Outcome
from dmsval.checks.row_diff import RowDiff
from dmsval.checks.schema import Schema
from dmsval.config import Settings, resolve_settings
from dmsval.engines import Engine, open_engine
from dmsval.engines.catalog import ValueKind
from devstack.datasets import MySQLParams
from devstack.dms_copy import copy_schema
from dmsval.mappings import TablePair

from .conftest import create_mysql_database, create_pg_database, pg_dsn

pytestmark = pytest.mark.integration

MYSQL = MySQLParams()
LIMITED_LOB = {"TargetMetadata": {"LimitedSizeLobMode": True, "LobMaxSize": 32}}
EMOJI = "\U0001F600"


def cut(text: str, limit: int) -> str:
    """DMS's byte cut: the first ``limit`` UTF-8 bytes, dropping a character the cut splits."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


class Tol:
    def __init__(self, suffix: str, shim_port: int) -> None:
        self.db = f"dmsval_tol_{suffix}"
        self.pg = f"dmsval_tol_{suffix}"
        self.shim_port = shim_port

    def source(self, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
        conn = pymysql.connect(host=MYSQL.host, port=MYSQL.port, user=MYSQL.user, password=MYSQL.password,
                               database=self.db, charset="utf8mb4", autocommit=True)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(*statement) if isinstance(statement, tuple) else cur.execute(statement)
        finally:
            conn.close()

    def target(self, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
        with psycopg.connect(pg_dsn(self.pg), autocommit=True) as conn:
            for statement in statements:
                conn.execute(*statement) if isinstance(statement, tuple) else conn.execute(statement)

    def target_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(pg_dsn(self.pg)) as conn:
            return conn.execute(sql).fetchall()

    def copy(self, table: str, schema: str) -> None:
        copy_schema(MYSQL, pg_dsn(self.pg), self.db, schema, tables=[table], lob_max_size_kb=32)

    def pair(self, table: str, schema: str) -> TablePair:
        return TablePair(self.db, table, schema, table)

    @contextlib.contextmanager
    def engines(self) -> Iterator[tuple[Engine, Engine]]:
        source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", self.db, ""), role="source",
                             query_timeout_s=300)
        target = open_engine("redshift", Credentials("127.0.0.1", self.shim_port, "postgres", self.pg, "x"),
                             role="target", query_timeout_s=300)
        try:
            yield source, target
        finally:
            source.close()
            target.close()

    def run(self, check: Any, table: str, schema: str, settings: Settings | None = None,
            task_settings: dict[str, Any] | None = None) -> Outcome:
        pair = self.pair(table, schema)
        with self.engines() as (source, target):
            ctx = CheckContext(settings or Settings(), (pair,), source, target,
                               task_settings=LIMITED_LOB if task_settings is None else task_settings)
            return check.run(Case(check.name, pair.source_name, pair), ctx)

    def diff(self, table: str, schema: str, settings: Settings | None = None,
             task_settings: dict[str, Any] | None = None) -> Outcome:
        return self.run(RowDiff(), table, schema, settings, task_settings)


@pytest.fixture(scope="module")
def tol(databases: None, redshift_shim: Any, worker_id_suffix: str) -> Tol:
    t = Tol(worker_id_suffix, redshift_shim.port)
    create_mysql_database(t.db)
    create_pg_database(t.pg)
    return t


def only_change(outcome: Outcome, key: str, column: str) -> None:
    assert not outcome.passed, outcome.message
    d = outcome.details
    assert (d["missing_keys"], d["extra_keys"]) == ([], []), outcome.message
    assert [(c["key"], list(c["columns"])) for c in d["changed"]] == [([key], [column])], d["changed"]


# ------------------------------------------------------------------------------------------ 1. hex letter case

def test_upper_case_hex_target_is_the_same_binary_and_a_changed_digit_is_not(tol: Tol) -> None:
    tol.source("DROP TABLE IF EXISTS hexy",
               "CREATE TABLE hexy (id INT PRIMARY KEY, b VARBINARY(16), bl BLOB, g GEOMETRY)",
               "INSERT INTO hexy VALUES (1, 0x00ABCDEF, 0xDEADBEEF, POINT(1.5, -2.25)), (2, x'', x'', NULL), "
               "(3, NULL, NULL, ST_GeomFromText('LINESTRING(0 0,1 1)'))")
    tol.copy("hexy", "hexup")
    assert tol.diff("hexy", "hexup").passed  # DMS writing lower case
    tol.target("UPDATE hexup.hexy SET b = UPPER(b), bl = UPPER(bl), g = UPPER(g)")
    assert tol.target_rows("SELECT b, bl FROM hexup.hexy WHERE id = 1") == [("00ABCDEF", "DEADBEEF")]
    outcome = tol.diff("hexy", "hexup")
    assert outcome.passed, (outcome.message, outcome.details.get("changed"))
    # strict on the data: one hex digit changed (upper case still) is a change, in binary and in geometry
    tol.target("UPDATE hexup.hexy SET b = '00ABCDEE' WHERE id = 1")
    only_change(tol.diff("hexy", "hexup"), "1", "b")
    tol.target("UPDATE hexup.hexy SET b = '00ABCDEF' WHERE id = 1",
               "UPDATE hexup.hexy SET g = overlay(g placing 'F' from 20) WHERE id = 3 AND substr(g, 20, 1) <> 'F'")
    only_change(tol.diff("hexy", "hexup"), "3", "g")


# ----------------------------------------------------------------------- 2. cut at the target's real capacity

def _cut3_source(tol: Tol) -> list[tuple[int, str | None]]:
    rows = [(1, "plain"), (2, EMOJI * 10), (3, "ab" + EMOJI * 8), (4, None), (5, "\u00e9" * 10), (6, "")]
    tol.source("DROP TABLE IF EXISTS cut3",
               "CREATE TABLE cut3 (id INT PRIMARY KEY, v VARCHAR(10)) DEFAULT CHARSET = utf8mb4",
               *[("INSERT INTO cut3 VALUES (%s, %s)", row) for row in rows])
    return rows


def test_a_varchar_created_at_3_bytes_per_character_holds_values_cut_there(tol: Tol) -> None:
    """DMS creating VARCHAR(3n) for a utf8mb4 VARCHAR(n) and cutting what does not fit (TruncateColumns): the
    source image is cut at 3n bytes, the cut values are counted and named; a cut anywhere else is a change."""
    rows = _cut3_source(tol)
    tol.target("DROP SCHEMA IF EXISTS cut3 CASCADE", "CREATE SCHEMA cut3",
               "CREATE TABLE cut3.cut3 (id INTEGER PRIMARY KEY, v VARCHAR(30))",
               *[("INSERT INTO cut3.cut3 VALUES (%s, %s)", (i, None if v is None else cut(v, 30))) for i, v in rows])
    assert tol.target_rows("SELECT octet_length(v) FROM cut3.cut3 WHERE id IN (2, 3) ORDER BY id") == [(28,), (30,)]
    outcome = tol.diff("cut3", "cut3")
    assert outcome.passed, (outcome.message, outcome.details.get("changed"))
    assert outcome.figures["truncated_values"] == 2
    assert outcome.details["truncated"] == [{"column": "v", "values": 2, "cut_bytes": 30,
                                             "reason": "the target column VARCHAR(30) holds 30 bytes"}]
    assert "v: 2 values cut at 30 bytes \u2014 the target column VARCHAR(30) holds 30 bytes" in outcome.message
    assert tol.run(Aggregates(), "cut3", "cut3").passed  # the text lengths of the same cut images

    strict = tol.diff("cut3", "cut3", Settings(fail_on_truncation=True))
    assert not strict.passed and "--fail-on-truncation" in strict.message
    assert strict.details["changed"] == []

    tol.target(("UPDATE cut3.cut3 SET v = %s WHERE id = 2", (cut(EMOJI * 10, 24),)))  # cut at 24 bytes, not 30
    only_change(tol.diff("cut3", "cut3"), "2", "v")


def test_fail_on_truncation_is_an_option_like_the_others() -> None:
    assert resolve_settings({}, {}, environ={}).fail_on_truncation is False
    assert resolve_settings({"fail_on_truncation": True}, {}, environ={}).fail_on_truncation is True
    assert resolve_settings({}, {}, environ={"DMSVAL_FAIL_ON_TRUNCATION": "1"}).fail_on_truncation is True
    assert resolve_settings({}, {"fail_on_truncation": "true"}, environ={}).fail_on_truncation is True


def test_a_full_width_target_is_not_cut(tol: Tol) -> None:
    """The same source into VARCHAR(40) (4 bytes per character): nothing is cut, so a cut value is a change."""
    rows = _cut3_source(tol)
    tol.target("DROP SCHEMA IF EXISTS cut4 CASCADE", "CREATE SCHEMA cut4",
               "CREATE TABLE cut4.cut3 (id INTEGER PRIMARY KEY, v VARCHAR(40))",
               *[("INSERT INTO cut4.cut3 VALUES (%s, %s)", row) for row in rows])
    outcome = tol.diff("cut3", "cut4")
    assert outcome.passed and "truncated" not in outcome.details, outcome.message
    tol.target(("UPDATE cut4.cut3 SET v = %s WHERE id = 2", (cut(EMOJI * 10, 30),)))
    only_change(tol.diff("cut3", "cut4"), "2", "v")


LONG_ASCII = "a" * 40_000
LONG_2BYTE = "\u00e9" * 20_000  # 40,000 bytes; the cut at 32,768 falls between two characters


def _lob_source(tol: Tol) -> None:
    tol.source("DROP TABLE IF EXISTS lobs",
               "CREATE TABLE lobs (id INT PRIMARY KEY, t LONGTEXT) DEFAULT CHARSET = utf8mb4",
               ("INSERT INTO lobs VALUES (1, %s), (2, 'short'), (3, %s), (4, NULL)", (LONG_ASCII, LONG_2BYTE)))


def _lob_target(tol: Tol, schema: str, values: dict[int, str | None]) -> None:
    tol.target(f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}",
               f"CREATE TABLE {schema}.lobs (id INTEGER PRIMARY KEY, t VARCHAR(65535))",
               *[(f"INSERT INTO {schema}.lobs VALUES (%s, %s)", (k, v)) for k, v in values.items()])


def test_lobs_cut_at_lob_max_size_are_counted(tol: Tol) -> None:
    _lob_source(tol)
    _lob_target(tol, "loblim", {1: cut(LONG_ASCII, 32768), 2: "short", 3: cut(LONG_2BYTE, 32768), 4: None})
    outcome = tol.diff("lobs", "loblim")
    assert outcome.passed, (outcome.message, outcome.details.get("changed"))
    assert [(c["column"], c["values"], c["cut_bytes"]) for c in outcome.details["truncated"]] == [("t", 2, 32768)]
    assert "t: 2 values cut at 32,768 bytes \u2014 limited LOB mode, LobMaxSize 32 KB" in outcome.message
    # a value cut at another length (here 30,000 bytes) is a change
    tol.target(("UPDATE loblim.lobs SET t = %s WHERE id = 3", (cut(LONG_2BYTE, 30000),)))
    only_change(tol.diff("lobs", "loblim"), "3", "t")


def test_lobs_dms_did_not_cut_at_lob_max_size_are_compared_at_the_column_capacity(tol: Tol) -> None:
    """A target holding longer values than LobMaxSize: DMS did not apply it to this column (a version or setting
    that cuts LOBs only at the column's capacity). Read from the target, said, and compared at that capacity."""
    _lob_source(tol)
    _lob_target(tol, "lobcap", {1: LONG_ASCII, 2: "short", 3: LONG_2BYTE, 4: None})
    outcome = tol.diff("lobs", "lobcap")
    assert outcome.passed, (outcome.message, outcome.details.get("changed"))
    assert outcome.details["lob_max_size_not_applied"] == ["t"]
    assert "t: (LobMaxSize 32 KB not applied by DMS to this column" in outcome.message
    # still strict: the whole value is compared now, a change past 32 KB is found
    tol.target("UPDATE lobcap.lobs SET t = overlay(t placing 'Z' from 35000) WHERE id = 1")
    only_change(tol.diff("lobs", "lobcap"), "1", "t")


# ------------------------------------------------------------------------------- 3. widths judged by the data

WIDTHS_DDL = ("CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(10), vb VARBINARY(10), bn BINARY(4), tb TINYBLOB, "
              "iu INT UNSIGNED, su SMALLINT UNSIGNED) DEFAULT CHARSET = utf8mb4")
WIDTHS_TARGET = ("CREATE TABLE {s}.{t} (id INTEGER PRIMARY KEY, v VARCHAR(30), vb VARCHAR(20), bn VARCHAR(8), "
                 "tb VARCHAR(510), iu INTEGER, su SMALLINT)")


def test_schema_narrower_widths_that_hold_the_data_are_risks(tol: Tol) -> None:
    tol.source("DROP TABLE IF EXISTS fits", WIDTHS_DDL.format(t="fits"),
               ("INSERT INTO fits VALUES (1, %s, 0x01, 0x01, 0x02, 2147483647, 12), (2, NULL, NULL, NULL, NULL, 0, "
                "32767)", ("h\u00e9llo " + EMOJI * 4,)))
    tol.target("DROP SCHEMA IF EXISTS widths CASCADE", "CREATE SCHEMA widths", WIDTHS_TARGET.format(s="widths",
                                                                                                  t="fits"))
    outcome = tol.run(Schema(), "fits", "widths")
    assert outcome.passed, outcome.message
    columns = {c["column"]: c for c in outcome.details["schema_columns"]}
    assert {name: c["verdict"] for name, c in columns.items()} == {
        "id": "ok", "v": "risk", "vb": "ok", "bn": "ok", "tb": "ok", "iu": "risk", "su": "risk"}
    assert outcome.figures["risks"] == 3 and "3 risks" in outcome.message
    assert columns["v"]["source_longest"] == 23 and "fits 30" in columns["v"]["reason"]
    assert columns["iu"]["source_max"] == 2147483647 and "BIGINT" in columns["iu"]["reason"]
    assert "holds every value" in columns["vb"]["reason"] and "holds every value" in columns["tb"]["reason"]


def test_schema_narrower_widths_that_cannot_hold_the_data_fail(tol: Tol) -> None:
    tol.source("DROP TABLE IF EXISTS nofit", WIDTHS_DDL.format(t="nofit"),
               ("INSERT INTO nofit VALUES (1, %s, 0x01, 0x01, 0x02, 2147483648, 32768)", (EMOJI * 10,)))
    tol.target("DROP SCHEMA IF EXISTS widths2 CASCADE", "CREATE SCHEMA widths2",
               WIDTHS_TARGET.format(s="widths2", t="nofit"))
    outcome = tol.run(Schema(), "nofit", "widths2")
    assert not outcome.passed
    verdicts = {c["column"]: c["verdict"] for c in outcome.details["schema_columns"]}
    # numbers that do not fit cannot be loaded: failures; text longer than the column is cut (a DMS variant that
    # row_diff compares at the cut and counts): a risk, unless --fail-on-truncation
    assert verdicts == {"id": "ok", "v": "risk", "vb": "ok", "bn": "ok", "tb": "ok", "iu": "narrower",
                        "su": "narrower"}
    assert outcome.figures["problems"] == 2
    assert "values are cut" in {c["column"]: c for c in outcome.details["schema_columns"]}["v"]["note"]
    strict = tol.run(Schema(), "nofit", "widths2", Settings(fail_on_truncation=True))
    assert {c["column"]: c["verdict"] for c in strict.details["schema_columns"]}["v"] == "narrower"
    assert strict.figures["problems"] == 3 and "v: " in strict.message
    assert "iu: source values outside -2147483648..2147483647 do not fit INTEGER" in outcome.message
    assert "2147483648)" not in outcome.message  # the value itself stays in the details (masked when asked)


# ----------------------------------------------------------------------------------------- 4. floats, exactly

FLOATS = [(1, 0.1, 0.1), (2, 1234567.875, 123456.789012345), (3, 3.4028234663852886e38, 1.7976931348623157e308),
          (4, 1.401298464324817e-45, 4.9406564584124654e-324), (5, -0.5, -2.5e-300), (6, 16777216.0, 0.3),
          (7, None, None)]


def _floats(tol: Tol) -> None:
    tol.source("DROP TABLE IF EXISTS fl", "CREATE TABLE fl (id INT PRIMARY KEY, f FLOAT, d DOUBLE)",
               *[("INSERT INTO fl VALUES (%s, %s, %s)", row) for row in FLOATS])
    tol.copy("fl", "fl")


def test_float_last_digit_and_double_15th_digit_changes_are_found_by_default(tol: Tol) -> None:
    _floats(tol)
    assert tol.diff("fl", "fl").passed  # an exact copy: every value the same binary value
    assert Settings().float_digits == 9 and Settings().double_digits == 17
    tol.target("UPDATE fl.fl SET f = 0.10000001 WHERE id = 1")  # the REAL after 0.1: its 9th significant digit
    assert tol.target_rows("SELECT f::float8 <> 0.1::real::float8 FROM fl.fl WHERE id = 1") == [(True,)]
    only_change(tol.diff("fl", "fl"), "1", "f")
    assert tol.diff("fl", "fl", Settings(float_digits=6)).passed  # fewer digits, when asked, do not see it
    tol.target("UPDATE fl.fl SET f = 0.1 WHERE id = 1",
               "UPDATE fl.fl SET d = 123456.789012346 WHERE id = 2")  # the 15th significant digit
    only_change(tol.diff("fl", "fl"), "2", "d")
    tol.target("UPDATE fl.fl SET d = 123456.789012345 WHERE id = 2")
    assert tol.diff("fl", "fl").passed


def test_aggregates_read_floats_exactly_on_both_sides(tol: Tol) -> None:
    """MIN/MAX of FLOAT through the driver's text has 6 digits on MariaDB (1234567.875 reads '1234570'): they are
    computed as the canonical text at the compared digits on both sides instead."""
    _floats(tol)
    outcome = tol.run(Aggregates(), "fl", "fl")
    assert outcome.passed, (outcome.message, outcome.details)
    tol.target("UPDATE fl.fl SET f = 3.4028232635611926e38 WHERE id = 3")  # the largest value's REAL neighbour below
    outcome = tol.run(Aggregates(), "fl", "fl")
    assert not outcome.passed
    assert [(d["column"], d["figure"]) for d in outcome.details["differences"]] == [("f", "max")]


def _doubles() -> list[float]:
    rng = random.Random(20261130)
    values = {0.1, 0.3, 1e23, 9.999999999999999e22, 5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
              1.7976931348623157e308, 123456.789, 1.0000000000000002, 0.30000000000000004}
    for exponent in range(-320, 309, 7):
        base = float(f"1e{exponent}")
        values |= {base, math.nextafter(base, math.inf), math.nextafter(base, 0.0)}
    while len(values) < 3000:
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(x):
            values.add(x)
    return sorted(values)


def test_float_canonical_text_is_identical_on_both_engines_at_the_default_digits(tol: Tol) -> None:
    """The same IEEE arithmetic on both engines: 17 significant digits of a DOUBLE (and 9 of a value widened from
    FLOAT) render the same text on MariaDB and PostgreSQL, subnormals and the largest values included."""
    values = _doubles()
    tol.source("DROP TABLE IF EXISTS dbls", "CREATE TABLE dbls (id INT PRIMARY KEY, d DOUBLE)",
               "INSERT INTO dbls VALUES " + ", ".join(f"({i}, {v!r})" for i, v in enumerate(values)))
    tol.copy("dbls", "dbls")
    with tol.engines() as (source, target):
        s_col = source.table_info(tol.db, "dbls").column("d")
        t_col = target.table_info("dbls", "dbls").column("d")
        assert s_col is not None and t_col is not None
        for digits in (Settings().double_digits, Settings().float_digits):
            kind = ValueKind("float", digits=digits)
            mine = source.query(f"SELECT id, {source.canonical('d', kind, s_col)} FROM dbls ORDER BY id", ()).rows
            theirs = target.query(f"SELECT id, {target.canonical('d', kind, t_col)} FROM dbls.dbls ORDER BY id",
                                  ()).rows
            assert len(mine) == len(values)
            differing = [(values[int(a[0])], a[1], b[1]) for a, b in zip(mine, theirs) if a != b]
            assert differing == [], differing[:5]
