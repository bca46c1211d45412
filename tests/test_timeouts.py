"""--query-timeout ends the work on the server, and a killed session says so (real databases, no mocks).

For each engine (MariaDB through pymysql; PostgreSQL through psycopg; PostgreSQL behind the Redshift wire shim
through redshift_connector) a statement that runs long -- a sleep, a heavy join, a wait behind another session's
lock -- must raise QueryTimeout well within a deadline, and afterwards the server must show no statement of that
session still running. The client-side backstop is tested by switching the server's own limit off in the
engine's session (as a server without that limit would behave): the client must then stop the statement itself.
A session killed from outside must raise ConnectionLost with a clear message (never the driver's "(0, '')" or
"timeout is set" hints), and the engine must reconnect for the next query.

Names carry DMSVAL_TEST_NAMESPACE and the xdist worker id: MariaDB database and PostgreSQL database
``dmsval_tmo_<suffix>``, created and dropped here with separate admin connections (the engines are read-only).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable, Iterator

import psycopg
import pymysql
import pytest

from dmsval.credentials import Credentials
from dmsval.engines import Engine, open_engine
from dmsval.errors import ConnectionLost, EngineError, QueryTimeout

from .conftest import create_pg_database, pg_dsn

pytestmark = pytest.mark.integration

TIMEOUT_S = 2
DEADLINE_S = 10  # a timed-out statement must have returned within this (server limit 2 s, client deadline 3 s)
GONE_DEADLINE_S = 5  # ... and left the server's process list within this afterwards
PASSWORD = "hunter2-not-for-messages"  # PostgreSQL trusts local connections; a password must never be shown
ROWS = 1000  # rows of t: a three-way self join is 10^9 rows, far beyond any timeout here


# ------------------------------------------------------------------------------------------------- helpers

def _mysql_admin(database: str | None = None) -> Any:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=database,
                           autocommit=True, connect_timeout=10, read_timeout=60)


def _pg_admin(database: str) -> psycopg.Connection:
    return psycopg.connect(pg_dsn(database), autocommit=True, connect_timeout=10)


def _wait_until(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        time.sleep(0.1)


def _mysql_session(backend_id: int) -> list[tuple[Any, ...]]:
    """(COMMAND, STATE, INFO) of a MariaDB session, [] once it has ended."""
    with _mysql_admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT COMMAND, STATE, INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (backend_id,))
        return list(cur.fetchall())


def _mysql_running(backend_id: int) -> bool:
    return any(command == "Query" for command, _, _ in _mysql_session(backend_id))


def _pg_session(backend_id: int) -> list[tuple[Any, ...]]:
    """(state, query) of a PostgreSQL backend, [] once it has ended."""
    with _pg_admin("postgres") as conn:
        return conn.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", (backend_id,)).fetchall()


def _pg_running(backend_id: int) -> bool:
    return any(state == "active" for state, _ in _pg_session(backend_id))


def _timed_query(engine: Engine, sql: str) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        engine.query(sql)
    except EngineError as e:
        return e, time.monotonic() - started
    return None, time.monotonic() - started


def _in_background(action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def _when_running(is_running: Callable[[int], bool], backend_id: int, then: Callable[[int], None]) -> threading.Thread:
    """Once session ``backend_id`` runs a statement, call ``then(backend_id)`` (in a background thread)."""
    def act() -> None:
        _wait_until(lambda: is_running(backend_id), DEADLINE_S, f"session {backend_id} runs its statement")
        time.sleep(0.3)  # well inside the statement, not at its start
        then(backend_id)
    return _in_background(act)


def _assert_timeout(error: BaseException | None, elapsed: float, role_address: str) -> None:
    assert isinstance(error, QueryTimeout), repr(error)
    assert elapsed < DEADLINE_S, elapsed
    assert re.match(rf"timed out after {TIMEOUT_S} s on the {re.escape(role_address)}; "
                    r"the query was stopped on the server\nSQL: ", str(error)), str(error)
    assert PASSWORD not in str(error)


# ------------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def names(databases: None, worker_id_suffix: str) -> str:
    return f"dmsval_tmo_{worker_id_suffix}"


@pytest.fixture(scope="module")
def mysql_db(names: str) -> Iterator[str]:
    with _mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{names}`")
        cur.execute(f"CREATE DATABASE `{names}`")
        cur.execute(f"CREATE TABLE `{names}`.t (id INT PRIMARY KEY, v INT NOT NULL)")
        cur.execute(f"INSERT INTO `{names}`.t WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
                    f"WHERE n < {ROWS}) SELECT n, n FROM s")
    try:
        yield names
    finally:
        with _mysql_admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{names}`")


@pytest.fixture
def mysql_engine(mysql_db: str) -> Iterator[Engine]:
    engine = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", mysql_db, ""), role="source",
                         query_timeout_s=TIMEOUT_S)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="module")
def pg_db(names: str) -> Iterator[str]:
    create_pg_database(names)
    with _pg_admin(names) as conn:
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute(f"CREATE TABLE t AS SELECT n AS id, n AS v FROM generate_series(1, {ROWS}) n")
    try:
        yield names
    finally:
        with _pg_admin("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{names}" WITH (FORCE)')


@pytest.fixture(params=["postgres", "redshift"])
def pg_engine(request: pytest.FixtureRequest, pg_db: str, redshift_shim: Any) -> Iterator[Engine]:
    """The psycopg engine on PostgreSQL, and the redshift_connector engine through the Redshift shim."""
    port = 5432 if request.param == "postgres" else redshift_shim.port
    engine = open_engine(request.param, Credentials("127.0.0.1", port, "postgres", pg_db, PASSWORD), role="target",
                         query_timeout_s=TIMEOUT_S)
    try:
        yield engine
    finally:
        engine.close()


# ---------------------------------------------------------------------------------------- MySQL / MariaDB

HEAVY_MYSQL = "SELECT COUNT(*) FROM t a, t b, t c WHERE a.v + b.v + c.v = -1"


@pytest.mark.parametrize("sql", ["SELECT SLEEP(30)", HEAVY_MYSQL], ids=["sleep", "heavy_join"])
def test_mysql_long_query_times_out_and_stops_on_server(mysql_engine: Engine, sql: str):
    mysql_engine.connect()
    backend_id = mysql_engine.backend_id
    assert backend_id is not None and _mysql_session(backend_id)  # the id is the server's own

    error, elapsed = _timed_query(mysql_engine, sql)

    _assert_timeout(error, elapsed, f"source ({mysql_engine.address()})")
    assert elapsed >= TIMEOUT_S - 0.1  # not some other, earlier failure
    assert elapsed < mysql_engine.client_deadline_s()  # the server's own limit stopped it, not the backstop
    _wait_until(lambda: not _mysql_session(backend_id), GONE_DEADLINE_S, f"session {backend_id} has ended")


def test_mysql_fractional_timeout_is_honoured(mysql_engine: Engine):
    engine = open_engine("mariadb", mysql_engine.credentials, role="source", query_timeout_s=2.5)
    try:
        error, elapsed = _timed_query(engine, "SELECT SLEEP(30)")
    finally:
        engine.close()
    assert isinstance(error, QueryTimeout) and str(error).startswith("timed out after 2.5 s"), repr(error)
    assert 2.4 <= elapsed < 3.4, elapsed  # int(2.5) would have stopped it at 2 s


def test_mysql_metadata_lock_wait_times_out(mysql_engine: Engine, mysql_db: str):
    mysql_engine.connect()
    backend_id = mysql_engine.backend_id
    with _mysql_admin(mysql_db) as locker, locker.cursor() as cur:
        cur.execute("LOCK TABLES t WRITE")
        try:
            error, elapsed = _timed_query(mysql_engine, "SELECT COUNT(*) FROM t")
        finally:
            cur.execute("UNLOCK TABLES")
    _assert_timeout(error, elapsed, f"source ({mysql_engine.address()})")
    assert elapsed < mysql_engine.client_deadline_s()  # max_statement_time covers a metadata lock wait
    _wait_until(lambda: not _mysql_session(backend_id), GONE_DEADLINE_S, f"session {backend_id} has ended")


def test_mysql_wait_behind_pending_alter_times_out(mysql_engine: Engine, mysql_db: str):
    """An open transaction holds t's metadata lock, an ALTER waits for it, and every new reader queues behind."""
    mysql_engine.connect()
    backend_id = mysql_engine.backend_id
    with _mysql_admin(mysql_db) as reader, _mysql_admin(mysql_db) as alterer:
        reader_cur = reader.cursor()
        reader_cur.execute("START TRANSACTION")
        reader_cur.execute("SELECT COUNT(*) FROM t")
        alter_id = alterer.thread_id()
        alterer.cursor().execute("SET SESSION lock_wait_timeout = 60")
        alter_errors: list[BaseException] = []

        def alter() -> None:
            try:
                alterer.cursor().execute("ALTER TABLE t ADD COLUMN extra INT")
            except pymysql.MySQLError as e:
                alter_errors.append(e)  # expected: killed below before it could run

        alter_thread = _in_background(alter)
        try:
            _wait_until(lambda: any(state and "metadata lock" in state for _, state, _ in _mysql_session(alter_id)),
                        DEADLINE_S, "the ALTER waits for the metadata lock")
            error, elapsed = _timed_query(mysql_engine, "SELECT COUNT(*) FROM t")
        finally:
            with _mysql_admin() as killer, killer.cursor() as cur:
                cur.execute(f"KILL QUERY {alter_id}")  # the throwaway table keeps its shape
            alter_thread.join(DEADLINE_S)
            reader_cur.execute("ROLLBACK")
    assert alter_errors and not alter_thread.is_alive()
    _assert_timeout(error, elapsed, f"source ({mysql_engine.address()})")
    _wait_until(lambda: not _mysql_session(backend_id), GONE_DEADLINE_S, f"session {backend_id} has ended")


def test_mysql_client_deadline_kills_query_the_server_did_not_stop(mysql_engine: Engine):
    """With the server's limit off (a server without max_statement_time), the client gives up at its own
    deadline and must KILL QUERY: pymysql alone would leave the join running ("Sending data") on the server."""
    mysql_engine.connect()
    backend_id = mysql_engine.backend_id
    with mysql_engine._conn.cursor() as cur:
        cur.execute("SET SESSION max_statement_time = 0")

    error, elapsed = _timed_query(mysql_engine, HEAVY_MYSQL)

    _assert_timeout(error, elapsed, f"source ({mysql_engine.address()})")
    assert elapsed >= mysql_engine.client_deadline_s() - 0.1  # the client's deadline ended it, not the server's
    _wait_until(lambda: not _mysql_running(backend_id), GONE_DEADLINE_S, f"session {backend_id} stopped its join")


def test_mysql_streamed_query_times_out_too(mysql_engine: Engine):
    mysql_engine.connect()
    backend_id = mysql_engine.backend_id
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match=r"timed out after 2 s on the source .*\nSQL: SELECT SLEEP"):
        list(mysql_engine.stream("SELECT SLEEP(30)"))
    assert time.monotonic() - started < DEADLINE_S
    _wait_until(lambda: not _mysql_session(backend_id), GONE_DEADLINE_S, f"session {backend_id} has ended")
    assert mysql_engine.query("SELECT 1").rows == [(1,)]


def _mysql_kill(statement: str) -> Callable[[int], None]:
    def kill(backend_id: int) -> None:
        with _mysql_admin() as conn, conn.cursor() as cur:
            cur.execute(f"{statement} {backend_id}")
    return kill


def test_mysql_killed_connection_is_reported_clearly_and_engine_reconnects(mysql_engine: Engine):
    engine = open_engine("mariadb", mysql_engine.credentials, role="source", query_timeout_s=60)
    try:
        engine.connect()
        backend_id = engine.backend_id
        assert backend_id is not None
        killer = _when_running(_mysql_running, backend_id, _mysql_kill("KILL"))
        error, elapsed = _timed_query(engine, "SELECT SLEEP(30)")
        killer.join(DEADLINE_S)

        assert isinstance(error, ConnectionLost), repr(error)
        assert elapsed < DEADLINE_S
        assert str(error).startswith(f"the source connection was closed by the server (killed?) while a query ran "
                                     f"on {engine.address()}\nSQL: SELECT SLEEP(30)"), str(error)
        assert "(0, '')" not in str(error) and "Lost connection" not in str(error)

        assert engine.query("SELECT 1").rows == [(1,)]  # a new session
        assert engine.backend_id not in (None, backend_id)
    finally:
        engine.close()


def test_mysql_query_killed_from_outside_is_reported_clearly(mysql_engine: Engine):
    engine = open_engine("mariadb", mysql_engine.credentials, role="source", query_timeout_s=60)
    try:
        engine.connect()
        backend_id = engine.backend_id
        killer = _when_running(_mysql_running, backend_id, _mysql_kill("KILL QUERY"))
        error, elapsed = _timed_query(engine, HEAVY_MYSQL)
        killer.join(DEADLINE_S)
        assert isinstance(error, ConnectionLost), repr(error)
        assert elapsed < DEADLINE_S
        assert str(error).startswith(f"the source query was interrupted by the server (killed?) while it ran on "
                                     f"{engine.address()}\nSQL: "), str(error)
        assert engine.query("SELECT 2").rows == [(2,)]
    finally:
        engine.close()


def test_mysql_sql_error_stays_an_ordinary_engine_error(mysql_engine: Engine):
    with pytest.raises(EngineError) as caught:
        mysql_engine.query("SELECT * FROM no_such_table")
    assert type(caught.value) is EngineError and "doesn't exist" in str(caught.value)


# ------------------------------------------------------------------------------- PostgreSQL and Redshift

HEAVY_PG = "SELECT COUNT(*) FROM t a, t b, t c WHERE a.v + b.v + c.v = -1"


def _role_address(engine: Engine) -> str:
    return f"target ({engine.address()})"


@pytest.mark.parametrize("sql", ["SELECT pg_sleep(30)", HEAVY_PG], ids=["sleep", "heavy_join"])
def test_pg_long_query_times_out_and_stops_on_server(pg_engine: Engine, sql: str):
    pg_engine.connect()
    backend_id = pg_engine.backend_id
    assert backend_id is not None and _pg_session(backend_id)  # the upstream backend's own pid

    error, elapsed = _timed_query(pg_engine, sql)

    _assert_timeout(error, elapsed, _role_address(pg_engine))
    assert elapsed >= TIMEOUT_S - 0.1
    assert elapsed < pg_engine.client_deadline_s()  # statement_timeout stopped it, not the backstop
    _wait_until(lambda: not _pg_session(backend_id), GONE_DEADLINE_S, f"backend {backend_id} has ended")


def test_pg_lock_wait_times_out(pg_engine: Engine, pg_db: str):
    pg_engine.connect()
    backend_id = pg_engine.backend_id
    with _pg_admin(pg_db) as locker:
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        try:
            error, elapsed = _timed_query(pg_engine, "SELECT COUNT(*) FROM t")
        finally:
            locker.execute("ROLLBACK")
    _assert_timeout(error, elapsed, _role_address(pg_engine))
    assert elapsed < pg_engine.client_deadline_s()  # lock_timeout / statement_timeout ended the wait
    _wait_until(lambda: not _pg_session(backend_id), GONE_DEADLINE_S, f"backend {backend_id} has ended")


def test_pg_client_deadline_cancels_query_the_server_did_not_stop(pg_engine: Engine):
    """With statement_timeout off in the session, the client's own deadline must cancel the statement on the
    server: closing the socket alone leaves PostgreSQL running it to the end."""
    pg_engine.connect()
    backend_id = pg_engine.backend_id
    cur = pg_engine._conn.cursor()
    cur.execute("SET statement_timeout = 0")
    cur.execute("SET lock_timeout = 0")
    cur.close()

    error, elapsed = _timed_query(pg_engine, "SELECT pg_sleep(30)")

    _assert_timeout(error, elapsed, _role_address(pg_engine))
    assert elapsed >= pg_engine.client_deadline_s() - 0.1
    _wait_until(lambda: not _pg_running(backend_id), GONE_DEADLINE_S, f"backend {backend_id} stopped its sleep")


def _pg_signal(function: str) -> Callable[[int], None]:
    def signal(backend_id: int) -> None:
        with _pg_admin("postgres") as conn:
            assert conn.execute(f"SELECT {function}(%s)", (backend_id,)).fetchone() == (True,)
    return signal


def test_pg_terminated_backend_is_reported_clearly_and_engine_reconnects(pg_engine: Engine):
    engine = open_engine(pg_engine.name, pg_engine.credentials, role="target", query_timeout_s=60)
    try:
        engine.connect()
        backend_id = engine.backend_id
        assert backend_id is not None
        killer = _when_running(_pg_running, backend_id, _pg_signal("pg_terminate_backend"))
        error, elapsed = _timed_query(engine, "SELECT pg_sleep(30)")
        killer.join(DEADLINE_S)

        assert isinstance(error, ConnectionLost), repr(error)
        assert elapsed < DEADLINE_S
        assert str(error).startswith(f"the target connection was closed by the server (killed?) while a query ran "
                                     f"on {engine.address()}\nSQL: SELECT pg_sleep(30)"), str(error)
        assert "timeout is set" not in str(error) and PASSWORD not in str(error)

        assert engine.query("SELECT 1").rows == [(1,)]
        assert engine.backend_id not in (None, backend_id)
    finally:
        engine.close()


def test_pg_query_cancelled_from_outside_is_reported_clearly(pg_engine: Engine):
    engine = open_engine(pg_engine.name, pg_engine.credentials, role="target", query_timeout_s=60)
    try:
        engine.connect()
        backend_id = engine.backend_id
        killer = _when_running(_pg_running, backend_id, _pg_signal("pg_cancel_backend"))
        error, elapsed = _timed_query(engine, "SELECT pg_sleep(30)")
        killer.join(DEADLINE_S)
        assert isinstance(error, ConnectionLost), repr(error)
        assert elapsed < DEADLINE_S
        assert str(error).startswith(f"the target query was interrupted by the server (killed?) while it ran on "
                                     f"{engine.address()}\nSQL: "), str(error)
        assert engine.query("SELECT 2").rows == [(2,)]
    finally:
        engine.close()


def test_pg_sql_error_stays_an_ordinary_engine_error(pg_engine: Engine):
    with pytest.raises(EngineError) as caught:
        pg_engine.query("SELECT 1 / 0")
    assert type(caught.value) is EngineError and "division by zero" in str(caught.value)


def test_redshift_socket_timeout_is_the_client_deadline(pg_db: str, redshift_shim: Any):
    """redshift_connector keeps its connect `timeout` as the socket's timeout for the whole session: left at the
    engine's 30 s connect timeout, every statement longer than 30 s failed with "timed out" whatever
    --query-timeout said."""
    engine = open_engine("redshift", Credentials("127.0.0.1", redshift_shim.port, "postgres", pg_db, PASSWORD),
                         role="target", query_timeout_s=60)
    try:
        engine.connect()
        assert engine._conn._usock.gettimeout() == pytest.approx(engine.client_deadline_s())
        assert engine.query("SELECT pg_sleep(3), 1").rows[0][1] == 1
    finally:
        engine.close()
