"""Catalog facts about a table, and the comparison kind of a column: dialect-neutral data.

What a source type becomes on the target, and so how a column is compared, is not decided here: it is the
migration *route*'s knowledge (``dmsval.routes``, e.g. MySQL -> Redshift). Each engine then renders the same
canonical text for a :class:`ValueKind` from its own column (see ``Engine.canonical``). Equal data must give
equal canonical text on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str  # lowercase base type as the catalog reports it: "int", "varchar", "timestamp without time zone"
    column_type: str  # full declared type as the catalog reports it ("numeric(5,2)", "varchar(80)")
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    datetime_precision: int | None = None
    char_length: int | None = None  # declared length (a Redshift VARCHAR's is in bytes)
    char_octet_length: int | None = None  # bytes, in the column's own character set (MySQL)
    charset: str | None = None  # MySQL character set of a text column

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

    (``lob_binary``: binary data the target holds as hex text, compared by an MD5 of the hex in lower case.)
    """

    name: str
    digits: int = 0  # float: significant digits compared
    precision: int = 0  # datetime: fractional digits compared; bit: width
    cut_bytes: int = 0  # text / char / lob_*: bytes the target keeps (whole UTF-8 characters; binary: whole
    #                     bytes before hex); 0 = the whole value
    cut_reason: str = ""  # why the target keeps only cut_bytes (shown with the count of cut values)
    number_text: bool = False  # int: the source's own text is not the number's (a zero-padded '0000'): use the number
    cast_text: bool = False  # text: the source value is not a string (a time, a member list): compare its text form

    @property
    def is_lob(self) -> bool:
        return self.name in ("lob_text", "lob_binary")

    @property
    def hex_held(self) -> bool:
        """Binary data the target holds as hex text (two characters per byte)."""
        return self.name == "lob_binary"
