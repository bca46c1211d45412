"""MySQL / MariaDB -> PostgreSQL / Aurora PostgreSQL through AWS DMS: the MySQL -> Redshift route with PostgreSQL's
type table and cut rules.

The MySQL side (DMS's MySQL source types, the comparison kinds, range keys, value ranges, aggregates) is shared
with :mod:`dmsval.routes.mysql_redshift`; what differs is the target: the DMS user guide's PostgreSQL target table
(DMS type -> PostgreSQL type) applied to the MySQL source table (MySQL type -> DMS type):

* integers: INT1/UINT1 -> SMALLINT, INT2 -> SMALLINT, UINT2 -> INTEGER, INT4 -> INTEGER, UINT4 -> BIGINT,
  INT8 -> BIGINT, UINT8 -> BIGINT (as the guide says: a BIGINT UNSIGNED value above 2^63-1 cannot load; the
  schema check compares the source's values with BIGINT's range and reports them). MEDIUMINT UNSIGNED is UINT4.
* DECIMAL(p,s) -> NUMERIC(p,s) at every MySQL precision (PostgreSQL's NUMERIC holds 1000 digits: never text).
* FLOAT -> REAL, DOUBLE -> DOUBLE PRECISION, YEAR (INT2) -> SMALLINT, DATE -> DATE, DATETIME / TIMESTAMP ->
  TIMESTAMP (TIMESTAMP in UTC, zero dates NULL), BIT(1) -> BOOLEAN.
* CHAR / VARCHAR / ENUM / SET (WSTRING / STRING) -> VARCHAR(n) with n in *characters* (a PostgreSQL VARCHAR counts
  characters; the guide's "length in bytes" is the DMS type's, whose length MySQL states in characters);
  TINYTEXT -> VARCHAR(255). TEXT, MEDIUMTEXT, LONGTEXT, JSON (NCLOB / CLOB) -> TEXT.
* BINARY, VARBINARY, the BLOBs and the spatial types (BYTES / BLOB) -> BYTEA, holding the bytes themselves
  (compared as the hex of the bytes on both sides).

Where the guide is silent or leaves a choice, chosen and documented here:

* TIME (STRING) -> VARCHAR(20), its MySQL text ('838:59:59.000000' fits), as on the Redshift route.
* BIT(n > 1) (BYTES) -> VARCHAR(n) holding the n binary digits, as on the Redshift route (an unambiguous text).
* Cuts: a VARCHAR(n) DMS creates holds every value of the source column (n characters of n); TEXT and BYTEA are
  unbounded but for PostgreSQL's 1 GB field limit. So only LobMaxSize cuts, in limited LOB mode (LOB columns:
  the TEXT family, JSON, binary and spatial), in bytes (text at whole UTF-8 characters). A target VARCHAR created
  narrower in characters is not a cut DMS makes silently: the schema check reports it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from ..engines.catalog import ColumnInfo
from .mysql_redshift import (_SPATIAL, _UNBOUNDED, TYPES as _REDSHIFT_TYPES, MySQLToRedshift, SourceColumn,
                             TypeRule, _by_sign, _const, _utf8_bytes, target_type_for)

#: The most bytes a PostgreSQL field holds (1 GB).
POSTGRES_FIELD_MAX = 2 ** 30 - 1


def _numeric(col: SourceColumn) -> str:
    p = col.numeric_precision if col.numeric_precision is not None else 10
    s = col.numeric_scale if col.numeric_scale is not None else 0
    return f"NUMERIC({p},{s})"


def _chars_varchar(col: SourceColumn) -> str:
    # WSTRING(n) / STRING(n) -> VARCHAR(n): n characters (MySQL's CHARACTER_MAXIMUM_LENGTH)
    n = col.char_length or col.char_octet_length or 1
    return f"VARCHAR({max(1, n)})"


def _target(data_type: str, target: Any, **changes: Any) -> TypeRule:
    return replace(_REDSHIFT_TYPES[data_type], target=target, **changes)


#: MySQL DATA_TYPE -> rule: the Redshift route's rules (kinds, ranges, aggregates) with PostgreSQL's target types
#: (DMS type -> PostgreSQL type in the comment).
TYPES: dict[str, TypeRule] = {
    **_REDSHIFT_TYPES,
    "tinyint": _target("tinyint", _const("SMALLINT")),                  # INT1 / UINT1 -> SMALLINT
    "smallint": _target("smallint", _by_sign("SMALLINT", "INTEGER")),   # INT2 -> SMALLINT; UINT2 -> INTEGER
    "mediumint": _target("mediumint", _by_sign("INTEGER", "BIGINT")),   # INT4 -> INTEGER; UINT4 -> BIGINT
    "int": _target("int", _by_sign("INTEGER", "BIGINT")),               # INT4 -> INTEGER; UINT4 -> BIGINT
    "bigint": _target("bigint", _const("BIGINT")),                      # INT8 / UINT8 -> BIGINT
    "decimal": _target("decimal", _numeric),                            # NUMERIC -> DECIMAL(p,s), any p
    "char": _target("char", _chars_varchar),                            # WSTRING(n) -> VARCHAR(n characters)
    "varchar": _target("varchar", _chars_varchar),
    "tinytext": _target("tinytext", _const("VARCHAR(255)")),            # WSTRING(255)
    "enum": _target("enum", _chars_varchar),                            # STRING(longest value)
    "set": _target("set", _chars_varchar),                              # STRING(all values + commas)
    **{t: _target(t, _const("TEXT")) for t in ("text", "mediumtext", "longtext", "json")},  # NCLOB / CLOB
    **{t: _target(t, _const("BYTEA")) for t in ("binary", "varbinary", "tinyblob", "blob", "mediumblob",
                                                  "longblob", *_SPATIAL)},  # BYTES / BLOB -> BYTEA
}

_TEXT_TYPES = ("character varying", "character", "varchar", "char", "bpchar")


def postgres_type_for(column: SourceColumn) -> str:
    """The PostgreSQL column type DMS creates for a MySQL column; UnknownSourceType for a type not in the table."""
    return target_type_for(column, TYPES, "PostgreSQL")


class MySQLToPostgres(MySQLToRedshift):
    source_engine = "mysql"
    target_engine = "postgres"
    types: ClassVar[dict[str, TypeRule]] = TYPES
    numeric_max_precision: ClassVar[int] = 1000

    def _cut(self, rule: TypeRule, source: ColumnInfo, target: ColumnInfo | None,
             lob_max_kb: int | None) -> tuple[int, str]:
        """(bytes of a value the target keeps, why); (0, "") when every value is kept whole.

        LobMaxSize cuts LOBs in limited LOB mode; TEXT and BYTEA (and the hex text of binary on a text column)
        hold up to PostgreSQL's 1 GB. A VARCHAR(n) counts characters: its width is not a byte cut (a narrower one
        is the schema check's finding).
        """
        if not rule.cut:
            return 0, ""
        binary = rule.cut == "hex"
        source_max = (source.char_octet_length if binary else _utf8_bytes(source)) or _UNBOUNDED
        cuts: list[tuple[int, int, str]] = []
        if rule.lob and lob_max_kb and lob_max_kb * 1024 < source_max:
            cuts.append((lob_max_kb * 1024, 0, f"limited LOB mode, LobMaxSize {lob_max_kb:,} KB"))
        unbounded = target is None or target.data_type in ("text", "bytea") or (
            target.data_type in _TEXT_TYPES and not target.char_length)
        if unbounded:
            capacity = POSTGRES_FIELD_MAX // 2 if binary and target is not None and target.data_type != "bytea" \
                else POSTGRES_FIELD_MAX
            if capacity < source_max:
                cuts.append((capacity, 1, "a PostgreSQL field holds at most 1 GB"))
        if not cuts:
            return 0, ""
        cuts.sort()
        return cuts[0][0], "; ".join(why for _, _, why in cuts)

    def target_width(self, target: ColumnInfo) -> int | None:
        if target.data_type in _TEXT_TYPES or target.data_type == "text":
            # VARCHAR(n) holds n characters, so at least n bytes (what the schema check's byte figures compare
            # with: conservative for multibyte text); TEXT and VARCHAR without a length up to 1 GB
            return target.char_length or POSTGRES_FIELD_MAX
        return None


__all__ = ["MySQLToPostgres", "POSTGRES_FIELD_MAX", "TYPES", "postgres_type_for"]
