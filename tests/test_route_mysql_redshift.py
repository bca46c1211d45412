"""The MySQL -> Redshift route (``dmsval.routes.mysql_redshift``): one table for what DMS does to each source type.

Unit tests, no database: kinds, target types, cut rules read from the target's catalog, range keys, value ranges,
aggregate families, width needs, and that no other module of the package decides by source type names.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from dmsval.checks.base import CheckContext
from dmsval.config import Settings
from dmsval.engines.catalog import ColumnInfo
from dmsval.routes import UnknownSourceType, UnsupportedRoute, find_route, route_for
from dmsval.routes.mysql_redshift import BINARIES, DATES, GEOMETRIES, TEXT_LOBS, TYPES, MySQLToRedshift

PACKAGE = Path(__file__).resolve().parents[1] / "dmsval"
ROUTE = route_for("mysql", "redshift")
DIGITS = {"float_digits": 9, "double_digits": 17}


def src(data_type: str, column_type: str | None = None, **kw: object) -> ColumnInfo:
    return ColumnInfo("c", data_type, column_type or data_type, **kw)  # type: ignore[arg-type]


def varchar(n: int | None) -> ColumnInfo:
    return ColumnInfo("c", "character varying", f"character varying({n})" if n else "character varying",
                      char_length=n)


UTF8MB4_VARCHAR10 = src("varchar", "varchar(10)", char_length=10, char_octet_length=40, charset="utf8mb4")


def test_lookup_by_engine_names() -> None:
    assert isinstance(ROUTE, MySQLToRedshift) and ROUTE.name == "mysql->redshift"
    assert find_route("postgres", "redshift") is None
    with pytest.raises(UnsupportedRoute, match="mysql -> redshift"):
        route_for("postgres", "mysql")


def test_every_type_has_a_kind_and_a_target_type() -> None:
    for data_type, rule in TYPES.items():
        column = src(data_type, char_octet_length=40, char_length=10, numeric_precision=10, numeric_scale=2)
        assert ROUTE.expected_target_type(column), data_type
        assert ROUTE.kind_of(column, varchar(65535), lob_max_kb=32, **DIGITS).name == rule.kind
    # the type lists used to drift: every spatial type is known to the comparison and to the type mapping
    assert "geomcollection" in GEOMETRIES and "geometrycollection" in GEOMETRIES
    assert ROUTE.kind_of(src("geomcollection"), None, lob_max_kb=32, **DIGITS).name == "lob_binary"
    assert set(TEXT_LOBS) == {"text", "mediumtext", "longtext", "json"}
    assert set(BINARIES) == {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
    assert set(DATES) == {"date", "datetime", "timestamp"}


def test_unknown_type_fails_the_mapping_and_is_compared_as_text() -> None:
    with pytest.raises(UnknownSourceType, match="inet6"):
        ROUTE.expected_target_type(src("inet6"))
    kind = ROUTE.kind_of(src("inet6"), varchar(39), lob_max_kb=32, **DIGITS)
    assert (kind.name, kind.cast_text, kind.cut_bytes) == ("text", True, 0)


@pytest.mark.parametrize("column, expected", [
    (src("tinyint", "tinyint(1)"), "SMALLINT"),
    (src("smallint", "smallint(5) unsigned"), "SMALLINT"),
    (src("int", "int(10) unsigned"), "BIGINT"),
    (src("bigint", "bigint(20) unsigned"), "NUMERIC(20,0)"),
    (src("decimal", "decimal(40,2)", numeric_precision=40, numeric_scale=2), "VARCHAR(42)"),
    (src("varchar", "varchar(10)", char_octet_length=40), "VARCHAR(40)"),
    (src("bit", "bit(12)"), "VARCHAR(12)"),
    (src("longblob"), "VARCHAR(65535)"),
])
def test_target_types(column: ColumnInfo, expected: str) -> None:
    assert ROUTE.expected_target_type(column) == expected


def test_kinds_carry_what_the_engines_need() -> None:
    assert ROUTE.kind_of(src("year", "year(4)"), None, lob_max_kb=32, **DIGITS).number_text
    assert not ROUTE.kind_of(src("int"), None, lob_max_kb=32, **DIGITS).number_text
    assert ROUTE.kind_of(src("float"), None, lob_max_kb=32, **DIGITS).digits == 9
    assert ROUTE.kind_of(src("double"), None, lob_max_kb=32, **DIGITS).digits == 17
    assert ROUTE.kind_of(src("enum", "enum('a')", char_octet_length=4), varchar(4), lob_max_kb=32,
                         **DIGITS).cast_text
    wide = ROUTE.kind_of(src("decimal", "decimal(65,30)", numeric_precision=65, numeric_scale=30), varchar(67),
                         lob_max_kb=32, **DIGITS)
    assert (wide.name, wide.cast_text) == ("text", True)
    assert ROUTE.kind_of(src("blob", char_octet_length=65535), None, lob_max_kb=32, **DIGITS).hex_held


@pytest.mark.parametrize("source, target, lob_kb, cut, reason", [
    # a text LOB: LobMaxSize in limited LOB mode; Redshift's 65,535 bytes in full LOB mode
    (src("longtext", char_octet_length=4294967295, char_length=4294967295, charset="utf8mb4"), varchar(65535), 32,
     32768, "limited LOB mode, LobMaxSize 32 KB; Redshift's VARCHAR holds at most 65,535 bytes"),
    (src("longtext", char_octet_length=4294967295, char_length=4294967295, charset="utf8mb4"), varchar(65535), None,
     65535, "Redshift's VARCHAR holds at most 65,535 bytes"),
    # a TEXT holds at most 65,535 bytes: only LobMaxSize cuts it, and nothing in full LOB mode
    (src("text", char_octet_length=65535, char_length=65535, charset="utf8mb4"), varchar(65535), None, 0, ""),
    # the target column's own width, read from its catalog (a narrower LOB column DMS created)
    (src("mediumtext", char_octet_length=16777215, char_length=16777215, charset="utf8mb4"), varchar(1000), 32,
     1000, "the target column VARCHAR(1000) holds 1,000 bytes; limited LOB mode, LobMaxSize 32 KB"),
    # character columns: cut only where the target is narrower than the source's bytes (3 bytes per character)
    (UTF8MB4_VARCHAR10, varchar(40), 32, 0, ""),
    (UTF8MB4_VARCHAR10, varchar(30), 32, 30, "the target column VARCHAR(30) holds 30 bytes"),
    # a latin1 VARCHAR(10) takes up to 30 UTF-8 bytes: VARCHAR(10) (its octet length) can be too narrow
    (src("varchar", "varchar(10)", char_length=10, char_octet_length=10, charset="latin1"), varchar(10), 32, 10,
     "the target column VARCHAR(10) holds 10 bytes"),
    # binary as hex: w / 2 bytes; VARCHAR(2n) holds a VARBINARY(n) whole
    (src("varbinary", "varbinary(10)", char_octet_length=10), varchar(20), 32, 0, ""),
    (src("varbinary", "varbinary(10)", char_octet_length=10), varchar(10), 32, 5,
     "the target column VARCHAR(10) holds 10 bytes (hex: 2 per byte)"),
    (src("blob", char_octet_length=65535), varchar(65535), 32, 32767,
     "Redshift's VARCHAR holds at most 65,535 bytes (hex: 2 per byte); limited LOB mode, LobMaxSize 32 KB"),
    (src("geometry"), None, 1, 1024, "limited LOB mode, LobMaxSize 1 KB; Redshift's VARCHAR holds at most 65,535 "
                                     "bytes (hex: 2 per byte)"),
    # never cut: numbers, times
    (src("time"), varchar(5), 32, 0, ""),
])
def test_cut_at_what_the_target_can_hold(source: ColumnInfo, target: ColumnInfo | None, lob_kb: int | None,
                                         cut: int, reason: str) -> None:
    kind = ROUTE.kind_of(source, target, lob_max_kb=lob_kb, **DIGITS)
    assert (kind.cut_bytes, kind.cut_reason) == (cut, reason)


def test_range_keys_and_value_ranges() -> None:
    assert [t for t in TYPES if ROUTE.is_range_key(src(t))] == ["tinyint", "smallint", "mediumint", "int", "bigint"]
    assert ROUTE.source_range(src("int", "int(10) unsigned")) == (0, 4294967295)
    assert ROUTE.source_range(src("smallint", "smallint(6)")) == (-32768, 32767)
    assert ROUTE.source_range(src("bigint", "bigint(20) unsigned")) == (0, 2 ** 64 - 1)
    assert ROUTE.source_range(src("decimal", "decimal(5,2)", numeric_precision=5, numeric_scale=2)) == (
        Decimal("-999.99"), Decimal("999.99"))
    assert ROUTE.source_range(src("varchar")) is None
    assert ROUTE.target_range(ColumnInfo("c", "integer", "integer")) == (-2 ** 31, 2 ** 31 - 1)
    assert ROUTE.target_range(ColumnInfo("c", "numeric", "numeric(5,2)", 5, 2)) == (Decimal("-999.99"),
                                                                                   Decimal("999.99"))
    assert ROUTE.target_width(varchar(30)) == 30 and ROUTE.target_width(varchar(None)) == 65535


def test_width_needs() -> None:
    assert ROUTE.width_need(UTF8MB4_VARCHAR10, lob_max_kb=32) == ROUTE.width_need(UTF8MB4_VARCHAR10, lob_max_kb=None)
    assert ROUTE.width_need(UTF8MB4_VARCHAR10, lob_max_kb=32).full == 40
    assert ROUTE.width_need(src("tinyblob", char_octet_length=255), lob_max_kb=32).full == 510
    need = ROUTE.width_need(src("longtext", char_octet_length=4294967295), lob_max_kb=32)
    assert (need.figure, need.full, need.cap) == ("octets", 32768, 32768)
    assert ROUTE.width_need(src("int", "int(10) unsigned"), lob_max_kb=32).figure == "range"
    assert ROUTE.width_need(src("double"), lob_max_kb=32).figure == ""
    assert ROUTE.width_need(src("decimal", numeric_precision=65, numeric_scale=30), lob_max_kb=32).full == 67


def test_aggregate_families() -> None:
    def family(source: ColumnInfo, target: ColumnInfo) -> str:
        return ROUTE.aggregate_family(source, ROUTE.kind_of(source, target, lob_max_kb=32, **DIGITS), target)

    assert family(src("int"), ColumnInfo("c", "integer", "integer")) == "integer"
    assert family(src("tinyint", "tinyint(1)"), ColumnInfo("c", "boolean", "boolean")) == "ones"
    assert family(src("float"), ColumnInfo("c", "real", "real")) == "float"
    assert family(src("decimal", numeric_precision=10, numeric_scale=2),
                  ColumnInfo("c", "numeric", "numeric(10,2)")) == "decimal"
    assert family(src("decimal", numeric_precision=50, numeric_scale=2), varchar(52)) == "text_length"
    assert family(src("timestamp"), ColumnInfo("c", "timestamp without time zone", "t")) == "temporal"
    assert family(UTF8MB4_VARCHAR10, varchar(40)) == "text_length"
    assert family(src("bit", "bit(1)"), ColumnInfo("c", "boolean", "boolean")) == "ones"
    assert family(src("json"), varchar(65535)) == "count"


def test_check_context_finds_the_route_by_engine_names() -> None:
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

    ctx = CheckContext(Settings(), (), Named("mysql"), Named("redshift"))  # type: ignore[arg-type]
    assert isinstance(ctx.route, MySQLToRedshift)
    other = CheckContext(Settings(), (), Named("postgres"), Named("redshift"))  # type: ignore[arg-type]
    assert other.route is None
    with pytest.raises(UnsupportedRoute, match="postgres source"):
        other.the_route()


_TYPE_NAMES = re.compile(r"\b(tinyint|mediumint|varbinary|longtext|geometry|unsigned)\b", re.IGNORECASE)
#: the engines' own SQL may name what it needs (MySQL's CAST(... AS UNSIGNED))
_ALLOWED_SQL = ("AS UNSIGNED)",)


def test_no_source_type_names_outside_the_routes() -> None:
    """Checks, engines, the run and the config ask the route; only the routes (and the engines' SQL) name source
    types. (The local stack, devstack/, reproduces DMS itself and lies outside the package; diagnosis.py explains
    findings to people in their words and decides nothing by type.)"""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("routes/") or relative == "diagnosis.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _TYPE_NAMES.search(line) and not any(sql in line for sql in _ALLOWED_SQL):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == [], "\n".join(found)
