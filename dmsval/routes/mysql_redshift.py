"""MySQL / MariaDB -> Amazon Redshift through AWS DMS: one table, keyed by the MySQL ``DATA_TYPE``.

Per source type: how it is compared (the :class:`~dmsval.engines.catalog.ValueKind` name), the Redshift type DMS
creates (DMS user guide: MySQL source type -> DMS type -> Redshift target type, named at each rule), whether the
target keeps only a prefix of a value (text cut at whole UTF-8 characters, binary at whole bytes before hex),
whether LobMaxSize applies in limited LOB mode, whether a single-column key of the type can segment a table by
key range, the values the type allows, and which aggregates compare it.

Used by the checks (through ``CheckContext.route``) and by the local stack's DMS-style copy
(``devstack.dms_copy``) to create the same types. Where the guide is silent or PostgreSQL differs from
Redshift, the choice is documented at the rule (the DMS user guide's type tables; what they leave unsaid is
treated as a variant the comparison tolerates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, ClassVar, Protocol

from ..engines.catalog import ColumnInfo, ValueKind
from . import Route, UnknownSourceType, WidthNeed

#: Redshift's widest VARCHAR, in bytes.
REDSHIFT_VARCHAR_MAX = 65535


class SourceColumn(Protocol):
    """The fields of a MySQL column the table reads (``ColumnInfo`` and ``MySQLColumn`` both have them)."""

    name: str
    data_type: str
    column_type: str
    char_octet_length: int | None
    numeric_precision: int | None
    numeric_scale: int | None
    datetime_precision: int | None
    char_length: int | None  # length in characters (CHARACTER_MAXIMUM_LENGTH)


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
    char_length: int | None = None  # CHARACTER_MAXIMUM_LENGTH (characters; a PostgreSQL VARCHAR counts them)

    @property
    def unsigned(self) -> bool:
        """True for ``... unsigned`` integer/decimal columns."""
        return is_unsigned(self)

    @property
    def bit_width(self) -> int:
        """``n`` of ``BIT(n)`` (1 when the width is omitted)."""
        return bit_width(self)


def is_unsigned(column: SourceColumn) -> bool:
    return " unsigned" in column.column_type.lower()


def bit_width(column: SourceColumn) -> int:
    m = re.match(r"\s*bit\s*\(\s*(\d+)\s*\)", column.column_type, re.IGNORECASE)
    return int(m.group(1)) if m else 1


# ------------------------------------------------------------------------------------ target types

def _const(target: str) -> Callable[[SourceColumn], str]:
    return lambda col: target


def _by_sign(signed: str, unsigned: str) -> Callable[[SourceColumn], str]:
    return lambda col: unsigned if is_unsigned(col) else signed


def _decimal(col: SourceColumn) -> str:
    # DMS NUMERIC -> Redshift NUMERIC(p,s) up to precision 38; wider values travel as text
    # (sign + digits + point).
    p = col.numeric_precision if col.numeric_precision is not None else 10
    s = col.numeric_scale if col.numeric_scale is not None else 0
    return f"NUMERIC({p},{s})" if p <= 38 else f"VARCHAR({p + 2})"


def _bit(col: SourceColumn) -> str:
    n = bit_width(col)
    return "BOOLEAN" if n == 1 else f"VARCHAR({n})"


def _bytes_varchar(col: SourceColumn) -> str:
    # WSTRING(n) -> NVARCHAR(length in bytes): COLUMN's octet length is n x maxlen of its charset.
    n = col.char_octet_length or 1
    return f"VARCHAR({max(1, min(n, REDSHIFT_VARCHAR_MAX))})"


_LOB_VARCHAR = _const(f"VARCHAR({REDSHIFT_VARCHAR_MAX})")


# ------------------------------------------------------------------------------------ the table

@dataclass(frozen=True)
class TypeRule:
    """What DMS does to one MySQL type on its way to Redshift, and how it is compared."""

    kind: str  # ValueKind name (decimal over 38 digits arrives as text: see MySQLToRedshift.kind_of)
    target: Callable[[SourceColumn], str]  # the Redshift type DMS creates
    cut: str = ""  # "text": the target keeps whole UTF-8 characters up to its byte width; "hex": whole bytes,
    #                held as hex text (two characters per byte); "": values are never cut
    lob: bool = False  # a LOB to DMS: cut at LobMaxSize in limited LOB mode
    range_key: bool = False  # a single-column key of this type can segment a table by key range
    signed_range: tuple[int, int] | None = None  # values the type allows
    unsigned_range: tuple[int, int] | None = None  # ... declared UNSIGNED
    aggregate: str = "count"  # integer | decimal | float | temporal | text_length | ones | count
    float_size: int = 0  # float: 4 (FLOAT, compared at --float-digits) or 8 (DOUBLE, --double-digits)
    number_text: bool = False  # int: read as its number (YEAR 0000 reads '0000', DMS writes INT2 0)
    cast_text: bool = False  # text: the value is not a string; its text form is compared


def _int(target: Callable[[SourceColumn], str], bits: int, *, range_key: bool = True) -> TypeRule:
    return TypeRule("int", target, range_key=range_key, aggregate="integer",
                    signed_range=(-2 ** (bits - 1), 2 ** (bits - 1) - 1), unsigned_range=(0, 2 ** bits - 1))


_TEXT_LOB = TypeRule("lob_text", _LOB_VARCHAR, cut="text", lob=True)  # WSTRING(65535) / NCLOB / CLOB -> VARCHAR
_BINARY = TypeRule("lob_binary", _LOB_VARCHAR, cut="hex", lob=True)  # BYTES / BLOB -> VARCHAR, hex text
_SPATIAL = ("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
            "geometrycollection", "geomcollection")

#: MySQL DATA_TYPE -> rule (DMS intermediate type -> Redshift type in the comment).
TYPES: dict[str, TypeRule] = {
    "tinyint": _int(_const("SMALLINT"), 8),                  # INT1 / UINT1 -> INT2; TINYINT(1) is *not* BOOLEAN
    "smallint": _int(_const("SMALLINT"), 16),                # INT2 / UINT2 -> INT2 (UINT2 > 32767 cannot load)
    "mediumint": _int(_const("INTEGER"), 24),                # INT4 / UINT4 -> INT4 (max 16777215 fits)
    "int": _int(_by_sign("INTEGER", "BIGINT"), 32),          # INT4 -> INT4; UINT4 -> INT8 (the guide: INT4)
    "bigint": _int(_by_sign("BIGINT", "NUMERIC(20,0)"), 64),  # INT8 -> INT8; UINT8 -> NUMERIC(20,0)
    "year": TypeRule("int", _const("SMALLINT"), aggregate="integer", number_text=True,  # INT2 -> INT2
                     signed_range=(0, 2155), unsigned_range=(0, 2155)),
    "decimal": TypeRule("decimal", _decimal, aggregate="decimal"),      # NUMERIC(p,s); p > 38 -> VARCHAR
    "float": TypeRule("float", _const("REAL"), aggregate="float", float_size=4),  # REAL4 -> FLOAT4
    "double": TypeRule("float", _const("DOUBLE PRECISION"), aggregate="float", float_size=8),  # REAL8 -> FLOAT8
    "bit": TypeRule("bit", _bit, aggregate="ones"),          # BIT(1): BOOLEAN -> BOOL; BIT(n): digit string
    "date": TypeRule("date", _const("DATE"), aggregate="temporal"),            # DATE; zero date -> NULL
    "datetime": TypeRule("datetime", _const("TIMESTAMP"), aggregate="temporal"),  # not shifted
    "timestamp": TypeRule("datetime", _const("TIMESTAMP"), aggregate="temporal"),  # read in UTC
    "time": TypeRule("text", _const("VARCHAR(20)"), aggregate="text_length", cast_text=True),  # STRING
    "char": TypeRule("char", _bytes_varchar, cut="text", aggregate="text_length"),  # WSTRING(n) -> NVARCHAR(bytes)
    "varchar": TypeRule("text", _bytes_varchar, cut="text", aggregate="text_length"),
    "tinytext": TypeRule("text", _bytes_varchar, cut="text", aggregate="text_length"),  # WSTRING(255)
    "enum": TypeRule("text", _bytes_varchar, cut="text", aggregate="text_length",  # STRING(longest value)
                     cast_text=True),
    "set": TypeRule("text", _bytes_varchar, cut="text", aggregate="text_length",  # STRING(all values + commas)
                    cast_text=True),
    **{t: _TEXT_LOB for t in ("text", "mediumtext", "longtext", "json")},
    **{t: _BINARY for t in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob")},
    **{t: _BINARY for t in _SPATIAL},  # spatial types -> BLOB -> VARCHAR, hex of SRID + WKB
}

#: Type groups, read from the table (the DMS-style copy converts values by them).
TEXT_LOBS = tuple(t for t, r in TYPES.items() if r.kind == "lob_text")
GEOMETRIES = _SPATIAL
BINARIES = tuple(t for t, r in TYPES.items() if r.kind == "lob_binary" and t not in _SPATIAL)
DATES = tuple(t for t, r in TYPES.items() if r.kind in ("date", "datetime"))

#: compared as text when the table does not know the type (a type added to MySQL later: never silently skipped)
_UNKNOWN = TypeRule("text", _const(""), aggregate="text_length", cast_text=True)


def _rule(column: SourceColumn) -> TypeRule | None:
    return TYPES.get(column.data_type.lower())


def target_type_for(column: SourceColumn, types: dict[str, TypeRule], target: str) -> str:
    """The target column type DMS creates for a MySQL column, from a route's type table."""
    rule = types.get(column.data_type.lower())
    if rule is None:
        raise UnknownSourceType(f"column {column.name!r}: no DMS -> {target} mapping for MySQL type "
                                f"{column.column_type!r}")
    return rule.target(column)


def redshift_type_for(column: SourceColumn) -> str:
    """The Redshift column type DMS creates for a MySQL column (one table-driven lookup).

    Raises UnknownSourceType for a type the table does not know, rather than guessing, so a new source
    type is noticed instead of being silently copied in a form DMS would not produce.
    """
    return target_type_for(column, TYPES, "Redshift")


class MySQLToRedshift(Route):
    source_engine = "mysql"
    target_engine = "redshift"
    #: the type table of the route (a route to another target from MySQL swaps it: see mysql_postgres)
    types: ClassVar[dict[str, TypeRule]] = TYPES
    #: the widest DECIMAL the target's NUMERIC holds; wider ones arrive as text
    numeric_max_precision: ClassVar[int] = 38

    def _rule(self, column: SourceColumn) -> TypeRule | None:
        return self.types.get(column.data_type.lower())

    def kind_of(self, source: ColumnInfo, target: ColumnInfo | None, *, float_digits: int, double_digits: int,
                lob_max_kb: int | None) -> ValueKind:
        rule = self._rule(source) or _UNKNOWN
        if rule.kind == "decimal" and (source.numeric_precision or 0) > self.numeric_max_precision:
            return ValueKind("text", cast_text=True)  # arrives as VARCHAR: the same text
        if rule.kind == "float":
            return ValueKind("float", digits=float_digits if rule.float_size == 4 else double_digits)
        if rule.kind == "datetime":
            return ValueKind("datetime", precision=source.datetime_precision or 0)
        if rule.kind == "bit":
            return ValueKind("bit", precision=source.numeric_precision or 1)
        cut, reason = self._cut(rule, source, target, lob_max_kb)
        return ValueKind(rule.kind, cut_bytes=cut, cut_reason=reason, number_text=rule.number_text,
                         cast_text=rule.cast_text)

    def _cut(self, rule: TypeRule, source: ColumnInfo, target: ColumnInfo | None,
             lob_max_kb: int | None) -> tuple[int, str]:
        """(bytes of a value the target keeps, why); (0, "") when every value the source allows is kept whole.

        The target's real capacity is read from its catalog (a Redshift VARCHAR(n) holds n bytes, hex text n / 2
        bytes, at most 65535): DMS cuts what does not fit (LOB columns; character columns with TruncateColumns,
        or created narrower than their bytes). In limited LOB mode, LobMaxSize cuts LOBs first where smaller.
        """
        if not rule.cut:
            return 0, ""
        hex_held = rule.cut == "hex"
        source_max = (source.char_octet_length if hex_held else _utf8_bytes(source)) or _UNBOUNDED
        width = self.target_width(target) if target is not None else None
        if width is None:
            width = REDSHIFT_VARCHAR_MAX
        capacity = width // 2 if hex_held else width
        cuts: list[tuple[int, int, str]] = []  # (bytes, preference, why)
        if rule.lob and lob_max_kb and lob_max_kb * 1024 < source_max:
            cuts.append((lob_max_kb * 1024, 0, f"limited LOB mode, LobMaxSize {lob_max_kb:,} KB"))
        if capacity < source_max:
            if width >= REDSHIFT_VARCHAR_MAX:
                why = "Redshift's VARCHAR holds at most 65,535 bytes"
            else:
                why = f"the target column {_declared(target)} holds {width:,} bytes"
            cuts.append((capacity, 1, why + (" (hex: 2 per byte)" if hex_held else "")))
        if not cuts:
            return 0, ""
        cuts.sort()
        return cuts[0][0], "; ".join(why for _, _, why in cuts)

    def expected_target_type(self, source: ColumnInfo) -> str:
        return target_type_for(source, self.types, self.target_engine)

    def is_range_key(self, source: ColumnInfo) -> bool:
        rule = self._rule(source)
        return rule is not None and rule.range_key

    def source_range(self, source: ColumnInfo) -> tuple[Any, Any] | None:
        rule = self._rule(source)
        if rule is None:
            return None
        if rule.kind == "decimal":
            p, s = source.numeric_precision, source.numeric_scale or 0
            if p is None or p > self.numeric_max_precision:
                return None
            top = Decimal(10) ** (p - s) - Decimal(10) ** -s
            return (Decimal(0) if is_unsigned(source) else -top), top
        return rule.unsigned_range if is_unsigned(source) else rule.signed_range

    def aggregate_family(self, source: ColumnInfo, kind: ValueKind, side: ColumnInfo) -> str:
        rule = self._rule(source) or _UNKNOWN
        if kind.name == "text":
            return "text_length"  # decimal over 38 digits included
        if rule.aggregate == "integer" and side.data_type == "boolean":
            return "ones"  # an integer source column on a BOOLEAN target (a change-data-type rule)
        return rule.aggregate

    def width_need(self, source: ColumnInfo, *, lob_max_kb: int | None) -> WidthNeed:
        rule = self._rule(source) or _UNKNOWN
        if rule.kind == "int":
            return WidthNeed("range")
        if rule.kind == "decimal":
            precision = source.numeric_precision or 0
            # over 38 digits DMS writes the text: sign, digits and point
            return WidthNeed("range") if precision <= self.numeric_max_precision else WidthNeed("octets", precision + 2)
        if not rule.cut:
            return WidthNeed("")
        lob = (lob_max_kb * 1024) if (rule.lob and lob_max_kb) else 0
        if rule.cut == "hex":
            full = 2 * (source.char_octet_length or REDSHIFT_VARCHAR_MAX)
            return WidthNeed("hex", min(full, 2 * lob) if lob else full, 2 * lob)
        full = _utf8_bytes(source)
        return WidthNeed("octets", min(full, lob) if lob else full, lob)

    def target_range(self, target: ColumnInfo) -> tuple[Any, Any] | None:
        bits = _TARGET_INT_BITS.get(target.data_type)
        if bits:
            return -2 ** (bits - 1), 2 ** (bits - 1) - 1
        if target.data_type == "numeric" and target.numeric_precision is not None:
            s = target.numeric_scale or 0
            top = Decimal(10) ** (target.numeric_precision - s) - Decimal(10) ** -s
            return -top, top
        return None

    def target_width(self, target: ColumnInfo) -> int | None:
        if target.data_type in ("character varying", "character", "varchar", "char", "bpchar", "text"):
            # Redshift sizes VARCHAR/CHAR in bytes, at most 65535 (a stand-in's unbounded TEXT holds that too)
            return min(target.char_length or REDSHIFT_VARCHAR_MAX, REDSHIFT_VARCHAR_MAX)
        return None


_UNBOUNDED = 2 ** 62  # a source length the catalog does not state (spatial types)
_TARGET_INT_BITS = {"smallint": 16, "integer": 32, "bigint": 64, "int2": 16, "int4": 32, "int8": 64}


def _declared(target: ColumnInfo | None) -> str:
    """A target text column's type as Redshift DDL writes it (VARCHAR(24))."""
    if target is None:
        return "VARCHAR"
    name = {"character varying": "VARCHAR", "character": "CHAR", "bpchar": "CHAR"}.get(target.data_type,
                                                                                      target.data_type.upper())
    return f"{name}({target.char_length})" if target.char_length else name


def _utf8_bytes(source: SourceColumn) -> int:
    """The most UTF-8 bytes a value of a MySQL text column can have (its octet length counts its own charset:
    a latin1 character can take 2 or 3 bytes in UTF-8)."""
    octets = source.char_octet_length or 0
    charset = getattr(source, "charset", None)
    chars = getattr(source, "char_length", None)
    if charset in (None, "utf8mb4", "binary") or not chars:
        return octets
    return max(octets, chars * (4 if charset.startswith(("utf16", "utf32")) else 3))


__all__ = ["BINARIES", "DATES", "GEOMETRIES", "MySQLColumn", "MySQLToRedshift", "REDSHIFT_VARCHAR_MAX",
           "TEXT_LOBS", "TYPES", "TypeRule", "UnknownSourceType", "redshift_type_for", "target_type_for"]
