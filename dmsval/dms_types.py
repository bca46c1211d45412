"""The AWS DMS type mapping MySQL/MariaDB -> Amazon Redshift, as one table (DMS user guide: MySQL source type ->
DMS type -> Redshift target type).

Used by the ``schema`` check to know which target type DMS produces for each source column, and by the local
stack's DMS-style copy to create the same types. Where the guide is silent or PostgreSQL differs from Redshift,
the choice is documented at the rule (see also dmsval/localstack/dms_copy.py's module docstring).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .errors import DmsvalError

#: Redshift's widest VARCHAR, in bytes.
REDSHIFT_VARCHAR_MAX = 65535


class UnknownSourceType(DmsvalError):
    """A MySQL column type the DMS mapping table does not know (never guessed)."""


@dataclass(frozen=True)
class MySQLColumn:
    """One source column as described by ``information_schema.COLUMNS`` (the fields the mapping needs).

    ``data_type`` is ``DATA_TYPE`` (lowercase, e.g. ``'int'``) and ``column_type`` is ``COLUMN_TYPE``
    (e.g. ``'tinyint(3) unsigned'``, ``"enum('G','PG')"``); the unsigned flag and BIT width come from it.
    """

    name: str
    data_type: str
    column_type: str
    char_octet_length: int | None = None
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    datetime_precision: int | None = None

    @property
    def unsigned(self) -> bool:
        """True for ``... unsigned`` integer/decimal columns."""
        return " unsigned" in self.column_type.lower()

    @property
    def bit_width(self) -> int:
        """``n`` of ``BIT(n)`` (1 when the width is omitted)."""
        m = re.match(r"\s*bit\s*\(\s*(\d+)\s*\)", self.column_type, re.IGNORECASE)
        return int(m.group(1)) if m else 1


# ------------------------------------------------------------------------------------ type mapping

def _const(target: str) -> Callable[[MySQLColumn], str]:
    return lambda col: target


def _by_sign(signed: str, unsigned: str) -> Callable[[MySQLColumn], str]:
    return lambda col: unsigned if col.unsigned else signed


def _decimal(col: MySQLColumn) -> str:
    # DMS NUMERIC -> Redshift NUMERIC(p,s) up to precision 38; wider values travel as text
    # (sign + digits + point).
    p = col.numeric_precision if col.numeric_precision is not None else 10
    s = col.numeric_scale if col.numeric_scale is not None else 0
    return f"NUMERIC({p},{s})" if p <= 38 else f"VARCHAR({p + 2})"


def _bit(col: MySQLColumn) -> str:
    n = col.bit_width
    return "BOOLEAN" if n == 1 else f"VARCHAR({n})"


def _bytes_varchar(col: MySQLColumn) -> str:
    # WSTRING(n) -> NVARCHAR(length in bytes): COLUMN's octet length is n x maxlen of its charset.
    n = col.char_octet_length or 1
    return f"VARCHAR({max(1, min(n, REDSHIFT_VARCHAR_MAX))})"


_LOB_VARCHAR = f"VARCHAR({REDSHIFT_VARCHAR_MAX})"
TEXT_LOBS = ("text", "mediumtext", "longtext", "json")
BINARIES = ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob")
GEOMETRIES = ("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
               "multipolygon", "geometrycollection", "geomcollection")
DATES = ("date", "datetime", "timestamp")

#: MySQL DATA_TYPE -> Redshift column type (via the DMS intermediate type named in the comment).
_TYPE_RULES: dict[str, Callable[[MySQLColumn], str]] = {
    "tinyint": _const("SMALLINT"),             # INT1 / UINT1 -> INT2; TINYINT(1) is *not* BOOLEAN
    "smallint": _const("SMALLINT"),            # INT2 / UINT2 -> INT2 (UINT2 > 32767 cannot load)
    "mediumint": _const("INTEGER"),            # INT4 / UINT4 -> INT4 (max 16777215 fits)
    "int": _by_sign("INTEGER", "BIGINT"),      # INT4 -> INT4; UINT4 -> INT8 (see module doc)
    "bigint": _by_sign("BIGINT", "NUMERIC(20,0)"),  # INT8 -> INT8; UINT8 -> NUMERIC(20,0)
    "decimal": _decimal,                       # NUMERIC(p,s); p > 38 -> VARCHAR
    "float": _const("REAL"),                   # REAL4 -> FLOAT4
    "double": _const("DOUBLE PRECISION"),      # REAL8 -> FLOAT8
    "bit": _bit,                               # BIT(1): BOOLEAN -> BOOL; BIT(n): digit string
    "date": _const("DATE"),                    # DATE -> DATE; zero date -> NULL
    "datetime": _const("TIMESTAMP"),           # DATETIME -> TIMESTAMP, not shifted
    "timestamp": _const("TIMESTAMP"),          # DATETIME -> TIMESTAMP, read in UTC
    "time": _const("VARCHAR(20)"),             # STRING -> VARCHAR(20) per the guide's Redshift table
    "year": _const("SMALLINT"),                # INT2 -> INT2
    "char": _bytes_varchar,                    # WSTRING(n) -> NVARCHAR(n bytes)
    "varchar": _bytes_varchar,
    "tinytext": _bytes_varchar,                # WSTRING(255)
    "enum": _bytes_varchar,                    # STRING(longest value)
    "set": _bytes_varchar,                     # STRING(all values + commas)
    **{t: _const(_LOB_VARCHAR) for t in TEXT_LOBS},   # WSTRING(65535) / NCLOB -> NVARCHAR(65535)
    **{t: _const(_LOB_VARCHAR) for t in BINARIES},    # BYTES / BLOB -> VARCHAR, hex text
    **{t: _const(_LOB_VARCHAR) for t in GEOMETRIES},  # BLOB -> VARCHAR, hex of SRID + WKB
}


def redshift_type_for(column: MySQLColumn) -> str:
    """The Redshift column type DMS creates for a MySQL column (one table-driven lookup).

    Raises DmsCopyError for a type the table does not know, rather than guessing, so a new source
    type is noticed instead of being silently copied in a form DMS would not produce.
    """
    rule = _TYPE_RULES.get(column.data_type.lower())
    if rule is None:
        raise UnknownSourceType(f"column {column.name!r}: no DMS -> Redshift mapping for MySQL type "
                           f"{column.column_type!r}")
    return rule(column)
