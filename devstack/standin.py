"""Prepare a PostgreSQL database to stand in for a Redshift database: create it, make it plan GROUP BY with
hash aggregation as Redshift does, and install the test-only Redshift built-ins of ``redshift_functions.sql``
(e.g. STRTOL) that dmsval's Redshift SQL uses."""

from __future__ import annotations

from pathlib import Path

import psycopg

FUNCTIONS_SQL = Path(__file__).with_name("redshift_functions.sql")


def pg_dsn(database: str, host: str = "127.0.0.1", port: int = 5432, user: str = "postgres") -> str:
    return f"host={host} port={port} user={user} dbname={database}"


def prepare_redshift_standin(database: str, host: str = "127.0.0.1", port: int = 5432) -> str:
    """Create ``database`` if missing and install the Redshift functions; returns its DSN."""
    with psycopg.connect(pg_dsn("postgres", host, port), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')
        # Plan GROUP BY like Redshift does (hash aggregation). PostgreSQL assumes `key / width` has as many
        # groups as `key` has values and sorts instead, doubling the cost of row_diff's segment checksums;
        # Redshift has no such knob and needs none.
        conn.execute(f'ALTER DATABASE "{database}" SET enable_sort TO off')
        # No parallel workers per statement, as dmsval's own PostgreSQL sessions (see PostgresEngine._open):
        # Redshift runs a statement on its slices, never on the cores of the machine the source runs on. Here
        # source and stand-in share one machine, and PostgreSQL's workers would take the source's cores: every
        # query of the stand-in (dmsval's and the benchmarks' floors alike) runs on one core.
        conn.execute(f'ALTER DATABASE "{database}" SET max_parallel_workers_per_gather TO 0')
    dsn = pg_dsn(database, host, port)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(FUNCTIONS_SQL.read_text(encoding="utf-8"))
    return dsn
