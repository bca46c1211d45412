"""Migration routes: what DMS does to a column on its way from one database engine to another.

A *route* is the one home for every type decision of a (source engine, target engine) pair: the comparison kind
of a source column, the target type DMS creates, where a target keeps only a prefix of a value (and why), which
columns can segment a table by key range, the value range of a source type and which aggregates apply. Checks
ask the route and never test type names; engines render SQL for the kinds it returns.

Adding a route = one module here, registered in ROUTES. Routes are looked up by the engines' ``name``
(``Engine.name``: "mysql", "redshift", "postgres").
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

from ..engines.catalog import ColumnInfo, ValueKind
from ..errors import DmsvalError, ResolutionError


class UnknownSourceType(DmsvalError):
    """A source column type the route does not know (never guessed)."""


class UnsupportedRoute(ResolutionError):
    """No route is known for this source and target engine."""


@dataclass(frozen=True)
class WidthNeed:
    """What a source column needs of a target column, and how to measure what its data actually needs.

    ``figure`` names the measure of the source data that decides whether a narrower target still holds it:
    ``octets`` (the longest value in UTF-8 bytes), ``hex`` (twice the longest value in bytes), ``range`` (the
    smallest and the largest value) or "" (no data measure: a narrower target fails on its type alone).
    ``cap`` bounds the measured figure (what DMS keeps at most, e.g. LobMaxSize in limited LOB mode); 0 = none.
    """

    figure: str
    full: int = 0  # text/hex: the width that holds every value the source type allows (and DMS keeps)
    cap: int = 0


class Route(abc.ABC):
    """What DMS does to the columns of one source engine on their way to one target engine."""

    source_engine: ClassVar[str]
    target_engine: ClassVar[str]

    @property
    def name(self) -> str:
        return f"{self.source_engine}->{self.target_engine}"

    @abc.abstractmethod
    def kind_of(self, source: ColumnInfo, target: ColumnInfo | None, *, float_digits: int, double_digits: int,
                lob_max_kb: int | None) -> ValueKind:
        """How a source column and the target column DMS filled from it are compared.

        ``target`` (the target catalog's column; None when unknown) decides where values are cut: at what the
        target column can hold. ``lob_max_kb`` is the task's LobMaxSize in limited LOB mode (None: full LOB mode).
        """

    @abc.abstractmethod
    def expected_target_type(self, source: ColumnInfo) -> str:
        """The target column type DMS creates for a source column; UnknownSourceType for a type not in the table."""

    @abc.abstractmethod
    def is_range_key(self, source: ColumnInfo) -> bool:
        """Whether a single-column key of this type can segment a table by integer key range."""

    @abc.abstractmethod
    def source_range(self, source: ColumnInfo) -> tuple[Any, Any] | None:
        """The smallest and largest value the source type allows (integers; Decimal for decimals), else None."""

    @abc.abstractmethod
    def aggregate_family(self, source: ColumnInfo, kind: ValueKind, side: ColumnInfo) -> str:
        """Which aggregates compare this column on one side (``side``: that side's column; both sides must agree
        for the figures to be compared): integer | decimal | float | temporal | text_length | ones | count."""

    @abc.abstractmethod
    def width_need(self, source: ColumnInfo, *, lob_max_kb: int | None) -> WidthNeed:
        """What the column needs of a target width (see WidthNeed)."""

    @abc.abstractmethod
    def target_range(self, target: ColumnInfo) -> tuple[Any, Any] | None:
        """The smallest and largest number a target integer or numeric column holds, else None."""

    @abc.abstractmethod
    def target_width(self, target: ColumnInfo) -> int | None:
        """Bytes a target text column holds, else None."""


def _routes() -> dict[tuple[str, str], type[Route]]:
    from .mysql_postgres import MySQLToPostgres
    from .mysql_redshift import MySQLToRedshift

    return {(r.source_engine, r.target_engine): r for r in (MySQLToRedshift, MySQLToPostgres)}


def find_route(source_engine: str, target_engine: str) -> Route | None:
    """The route between two engines (by ``Engine.name``), or None when none is known."""
    cls = _routes().get((source_engine, target_engine))
    return cls() if cls else None


def route_for(source_engine: str, target_engine: str) -> Route:
    """The route between two engines (by ``Engine.name``); UnsupportedRoute when none is known."""
    route = find_route(source_engine, target_engine)
    if route is None:
        known = ", ".join(f"{s} -> {t}" for s, t in sorted(_routes()))
        raise UnsupportedRoute(f"no type mapping is known from a {source_engine} source to a {target_engine} "
                               f"target (known: {known})")
    return route


__all__ = ["Route", "UnknownSourceType", "UnsupportedRoute", "WidthNeed", "find_route", "route_for"]
