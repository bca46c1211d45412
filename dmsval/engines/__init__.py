"""Engines by DMS EngineName. Adding a database = one module here, registered in ENGINES."""

from __future__ import annotations

from ..credentials import Credentials
from ..errors import ResolutionError
from .base import Engine, QueryResult
from .mysql import MySQLEngine
from .postgres import PostgresEngine
from .redshift import RedshiftEngine

ENGINES: tuple[type[Engine], ...] = (MySQLEngine, RedshiftEngine, PostgresEngine)


def engine_class_for(dms_engine_name: str) -> type[Engine]:
    for cls in ENGINES:
        if dms_engine_name.lower() in cls.dms_engine_names:
            return cls
    supported = sorted(n for cls in ENGINES for n in cls.dms_engine_names)
    raise ResolutionError(f"endpoint engine {dms_engine_name!r} is not supported (supported: {', '.join(supported)})")


def open_engine(dms_engine_name: str, credentials: Credentials, *, role: str, query_timeout_s: float) -> Engine:
    return engine_class_for(dms_engine_name)(credentials, query_timeout_s=query_timeout_s, role=role)


__all__ = ["ENGINES", "Engine", "QueryResult", "engine_class_for", "open_engine"]
