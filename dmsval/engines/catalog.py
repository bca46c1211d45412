"""Catalog facts about a table, and the comparison kind of each column.

The *kind* of a column is decided from the **source** (MySQL) column type, because it says what DMS did to the
value on its way to Redshift; each engine then renders the same canonical text for that kind from its own column
(see ``Engine.canonical``). Equal data must give equal canonical text on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str  # lowercase base type as the catalog reports it: "int", "varchar", "timestamp without time zone"
    column_type: str  # full declared type ("tinyint(1) unsigned", "numeric(5,2)")
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    datetime_precision: int | None = None
    char_length: int | None = None
    char_octet_length: int | None = None  # bytes (MySQL): DMS sizes Redshift VARCHARs in bytes
    charset: str | None = None  # MySQL character set of a text column

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.column_type.lower()

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class TableInfo:
    schema: str
    table: str
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()  # unique keys whose columns are all NOT NULL
    row_estimate: int = 0

    def column(self, name: str) -> ColumnInfo | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    @property
    def key(self) -> tuple[str, ...]:
        """The row identity used for row-level comparison: the primary key, else the first NOT NULL unique key."""
        if self.primary_key:
            return self.primary_key
        return self.unique_keys[0] if self.unique_keys else ()


@dataclass(frozen=True)
class ValueKind:
    """How a column is compared. ``name`` is one of:

    int, decimal, float, date, datetime, bit, text, char, lob_text, lob_binary
    """

    name: str
    digits: int = 0  # float: significant digits compared
    precision: int = 0  # datetime: fractional digits compared; bit: width
    lob_bytes: int = 0  # lob_*: bytes DMS keeps (limited LOB mode); 0 = whole value

    @property
    def is_lob(self) -> bool:
        return self.name in ("lob_text", "lob_binary")


_INT = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"}
_TEXT = {"varchar", "tinytext", "enum", "set", "time"}
_LOB_TEXT = {"text", "mediumtext", "longtext", "json"}
_LOB_BINARY = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point",
               "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection"}
REDSHIFT_VARCHAR_MAX = 65535


def kind_of(column: ColumnInfo, *, float_digits: int, double_digits: int, lob_max_kb: int | None) -> ValueKind:
    """The comparison kind of a MySQL source column (what DMS turns it into on Redshift).

    ``lob_max_kb`` is the task's LobMaxSize in limited LOB mode (None: full LOB mode, no truncation; values
    are still capped by Redshift's VARCHAR(65535), hex doubling binary data).
    """
    t = column.data_type.lower()
    if t in _INT:
        return ValueKind("int")
    if t == "decimal":
        return ValueKind("decimal") if (column.numeric_precision or 0) <= 38 else ValueKind("text")
    if t == "float":
        return ValueKind("float", digits=float_digits)
    if t in ("double", "real"):
        return ValueKind("float", digits=double_digits)
    if t == "date":
        return ValueKind("date")
    if t in ("datetime", "timestamp"):
        return ValueKind("datetime", precision=column.datetime_precision or 0)
    if t == "bit":
        return ValueKind("bit", precision=column.numeric_precision or 1)
    if t == "char":
        return ValueKind("char")
    if t in _TEXT:
        return ValueKind("text")
    lob_bytes = lob_max_kb * 1024 if lob_max_kb else REDSHIFT_VARCHAR_MAX
    if t in _LOB_TEXT:
        return ValueKind("lob_text", lob_bytes=min(lob_bytes, REDSHIFT_VARCHAR_MAX))
    if t in _LOB_BINARY:
        return ValueKind("lob_binary", lob_bytes=min(lob_bytes, REDSHIFT_VARCHAR_MAX // 2))
    return ValueKind("text")
