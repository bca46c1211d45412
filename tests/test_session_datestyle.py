"""Dates are compared as ISO text cast in the session: a target database whose default DateStyle is another one
(SQL, German, DMY) must not change the canonical text, since every session sets ISO itself."""

from __future__ import annotations

from typing import Any

import psycopg
import pymysql
import pytest

from dmsval.checks.row_diff import diff_tables
from dmsval.credentials import Credentials
from dmsval.engines import open_engine
from dmsval.mappings import TablePair
from devstack.datasets import MySQLParams
from devstack.dms_copy import copy_schema

from .conftest import create_pg_database, pg_dsn

pytestmark = pytest.mark.integration

MYSQL = MySQLParams()


@pytest.mark.parametrize("target", ["redshift", "postgres"])
def test_a_target_database_with_another_datestyle_compares_the_same(databases: None, redshift_shim: Any,
                                                                    worker_id_suffix: str, target: str) -> None:
    name = f"dmsval_datestyle_{worker_id_suffix}"
    conn = pymysql.connect(host=MYSQL.host, port=MYSQL.port, user=MYSQL.user, password=MYSQL.password,
                           autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
        cur.execute(f"CREATE TABLE {name}.dated (id INT PRIMARY KEY, d DATE, dt DATETIME, ts TIMESTAMP NULL)")
        cur.execute(f"INSERT INTO {name}.dated VALUES (1, '2024-02-29', '1999-12-31 23:59:59', '2021-06-01 12:00:00'),"
                    " (2, '1000-01-01', '9999-12-31 00:00:00', NULL), (3, NULL, NULL, '1970-01-01 00:00:01')")
    conn.close()
    create_pg_database(name)
    copy_schema(MYSQL, pg_dsn(name), name, "app", tables=["dated"], target=target)
    with psycopg.connect(pg_dsn(name), autocommit=True) as pg:
        pg.execute(f"ALTER DATABASE {name} SET DateStyle = 'SQL, DMY'")
    with psycopg.connect(pg_dsn(name)) as pg:  # a new session: the database's default applies
        assert pg.execute("SELECT CAST(d AS VARCHAR) FROM app.dated WHERE id = 1").fetchone()[0] == "29/02/2024"
    port = redshift_shim.port if target == "redshift" else 5432
    source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", name, ""), role="source",
                         query_timeout_s=60)
    target_engine = open_engine(target, Credentials("127.0.0.1", port, "postgres", name, "x"), role="target",
                                query_timeout_s=60)
    try:
        outcome = diff_tables(source, target_engine, TablePair(name, "dated", "app", "dated"))
        assert outcome.passed, (outcome.message, outcome.details.get("changed"))
        with psycopg.connect(pg_dsn(name), autocommit=True) as pg:
            pg.execute("UPDATE app.dated SET d = '2024-02-28' WHERE id = 1")
        changed = diff_tables(source, target_engine, TablePair(name, "dated", "app", "dated"))
        assert [c["key"] for c in changed.details["changed"]] == [["1"]]
        assert changed.details["changed"][0]["columns"] == {"d": ["2024-02-29", "2024-02-28"]}
    finally:
        source.close()
        target_engine.close()


def test_postgresql_sessions_run_each_statement_on_one_core(databases: None, worker_id_suffix: str) -> None:
    """dmsval's load on a PostgreSQL target is the connections it opens (--scan-parallelism): its sessions plan
    no parallel workers, even where the database's default allows them, and a checksum scan's plan shows none."""
    name = f"dmsval_oneworker_{worker_id_suffix}"
    create_pg_database(name)
    with psycopg.connect(pg_dsn(name), autocommit=True) as conn:
        # a database that plans parallel workers for any scan (costs zeroed for the small table)
        for setting in ("max_parallel_workers_per_gather TO 4", "parallel_setup_cost TO 0",
                        "parallel_tuple_cost TO 0", "min_parallel_table_scan_size TO 0"):
            conn.execute(f'ALTER DATABASE "{name}" SET {setting}')
        conn.execute("DROP TABLE IF EXISTS wide")
        conn.execute("CREATE TABLE wide AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g")
        conn.execute("ANALYZE wide")
    engine = open_engine("postgres", Credentials("127.0.0.1", 5432, "postgres", name, ""), role="target",
                         query_timeout_s=60)
    try:
        assert engine.query("SHOW max_parallel_workers_per_gather", ()).rows[0][0] == "0"
        plan = "\n".join(r[0] for r in engine.query("EXPLAIN SELECT COUNT(*), SUM(LENGTH(MD5(v))) FROM wide", ()).rows)
        assert "Gather" not in plan, plan
    finally:
        engine.close()
    with psycopg.connect(pg_dsn(name), autocommit=True) as conn:  # any other session of it plans workers
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN SELECT COUNT(*), SUM(LENGTH(MD5(v))) FROM wide"))
        assert "Gather" in plan, plan
