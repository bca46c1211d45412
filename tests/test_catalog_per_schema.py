"""Catalog facts are read one whole schema at a time, on every engine (so any engine can be either side)."""

from __future__ import annotations

import psycopg
import pymysql
import pytest

from dmsval.credentials import Credentials
from dmsval.engines import Engine, open_engine
from tests.conftest import create_pg_database

pytestmark = pytest.mark.integration

TABLES = 12  # enough that a per-table read would show in the query count

DDL = [
    "CREATE TABLE keyed (id INT NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL, note TEXT)",
    "CREATE TABLE uniq (code CHAR(3) NOT NULL, part INT NOT NULL, other INT, UNIQUE (code, part), UNIQUE (other))",
    "CREATE TABLE bare (a INT, b VARCHAR(5))",
] + [f"CREATE TABLE t{i:02d} (id INT NOT NULL PRIMARY KEY, v INT)" for i in range(TABLES)]


class Counting:
    """Counts the statements an engine runs (wraps its query method; the engine itself is real)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.count = engine, 0
        query = engine.query

        def counted(sql, params=None):
            self.count += 1
            return query(sql, params)

        engine.query = counted  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def mysql_schema(databases, worker_id_suffix):
    name = f"dmsval_cat_{worker_id_suffix}"
    conn = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
        cur.execute(f"USE {name}")
        for statement in DDL:
            cur.execute(statement)
        cur.execute("INSERT INTO keyed VALUES (1, 'a', NULL), (2, 'b', 'x'), (3, 'c', 'y')")
        cur.execute("ANALYZE TABLE keyed")
    conn.close()
    return name


@pytest.fixture(scope="module")
def pg_database(databases, worker_id_suffix):
    name = create_pg_database(f"dmsval_cat_{worker_id_suffix}")
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=name, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS app CASCADE")
        conn.execute("CREATE SCHEMA app")
        conn.execute("SET search_path TO app")
        for statement in DDL:
            conn.execute(statement.replace("TEXT", "VARCHAR(100)"))
        conn.execute("INSERT INTO keyed SELECT g, 'n', NULL FROM generate_series(1, 500) g")
        conn.execute("ANALYZE keyed")
    return name


def test_mysql_reads_each_schema_once_with_keys_and_estimates(mysql_schema):
    engine = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", None, ""), role="source", query_timeout_s=60)
    counting = Counting(engine)
    try:
        infos = {t: engine.table_info(mysql_schema, t) for t in ["keyed", "uniq", "bare"] + [f"t{i:02d}" for i in
                                                                                            range(TABLES)]}
        assert counting.count <= 3, "one catalog read per schema, not per table"
        assert [c.name for c in infos["keyed"].columns] == ["id", "name", "note"]
        assert infos["keyed"].key == ("id",)
        assert infos["keyed"].columns[1].column_type == "varchar(20)"
        assert infos["uniq"].primary_key == () and infos["uniq"].key == ("code", "part")  # `other` is nullable
        assert infos["bare"].key == ()
        assert infos["t05"].key == ("id",)
        assert infos["keyed"].row_estimate == 3
        before = counting.count
        assert engine.table_info(mysql_schema, "nosuch").columns == ()  # not in the catalog: no columns, no query
        assert counting.count == before
    finally:
        engine.close()


@pytest.mark.parametrize("engine_name", ["postgres", "redshift"])
def test_postgres_family_reads_each_schema_once(pg_database, redshift_shim, engine_name):
    port = redshift_shim.port if engine_name == "redshift" else 5432
    engine = open_engine(engine_name, Credentials("127.0.0.1", port, "postgres", pg_database, "x"), role="target", query_timeout_s=60)
    counting = Counting(engine)
    try:
        infos = {t: engine.table_info("app", t) for t in ["keyed", "uniq", "bare"] + [f"t{i:02d}" for i in
                                                                                     range(TABLES)]}
        assert counting.count <= 3, "one catalog read per schema, not per table"
        assert [c.name for c in infos["keyed"].columns] == ["id", "name", "note"]
        assert infos["keyed"].columns[2].column_type == "character varying(100)"
        if engine_name == "postgres":  # keys and estimates: PostgreSQL can be a source too
            assert infos["keyed"].key == ("id",)
            assert infos["uniq"].key == ("code", "part")
            assert infos["bare"].key == ()
            assert infos["keyed"].row_estimate == 500
    finally:
        engine.close()
