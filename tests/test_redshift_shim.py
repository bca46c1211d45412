"""The Redshift shim, driven by the real redshift_connector against the real local PostgreSQL (no mocks).

These tests are the evidence that the local stack exercises redshift_connector's own code path: the
driver cannot log in to PostgreSQL directly, and through the shim it returns correct values for the types
the validation suite reads.
"""

from __future__ import annotations

import datetime
import struct
import threading
import time
import uuid
from decimal import Decimal
from typing import Any, Callable, Iterator

import psycopg
import pytest
import redshift_connector
from redshift_connector.core import Connection as RedshiftConnection

from devstack.redshift_shim import (
    RedshiftShim,
    RedshiftShimError,
    rewrite_parameter_status,
    rewrite_startup_message,
)
from devstack.services import ensure_postgres, free_port
from tests.conftest import create_pg_database

pytestmark = pytest.mark.integration

PG_PORT = 5432


@pytest.fixture(scope="module", autouse=True)
def postgres_running() -> None:
    ensure_postgres(port=PG_PORT)


@pytest.fixture
def shim() -> Iterator[RedshiftShim]:
    with RedshiftShim(upstream_port=PG_PORT) as running:
        yield running


def connect(port: int, **kwargs: Any) -> RedshiftConnection:
    """The connection the brief prescribes; ``timeout`` turns any hang into a test failure, not a stuck run."""
    params: dict[str, Any] = dict(host="127.0.0.1", port=port, database="postgres", user="postgres",
                                  password="unused", ssl=False, timeout=15)
    params.update(kwargs)
    return redshift_connector.connect(**params)


def wait_until(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > deadline_s:
            pytest.fail(f"{what} did not happen within {deadline_s:.0f}s")
        time.sleep(0.05)


def backends_named(application_name: str) -> int:
    with psycopg.connect(host="127.0.0.1", port=PG_PORT, user="postgres", dbname="postgres") as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (application_name,)).fetchone()
    assert row is not None
    return int(row[0])


# ---------------------------------------------------------------------------- why the shim exists


def test_redshift_connector_cannot_connect_to_postgresql_directly() -> None:
    with pytest.raises(redshift_connector.ProgrammingError, match="unrecognized configuration parameter"):
        connect(PG_PORT)


# The driver builds an SSLContext() without a protocol before it even asks; that deprecation is its own.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:redshift_connector.core")
def test_ssl_against_the_shim_fails_fast_with_the_drivers_error(shim: RedshiftShim) -> None:
    started = time.monotonic()
    with pytest.raises(redshift_connector.InterfaceError, match="Server refuses SSL"):
        connect(shim.port, ssl=True, sslmode="verify-ca")
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------------------- values through the driver


def test_scalar_types_round_trip(shim: RedshiftShim) -> None:
    text = "Grüße, Ελληνικά, 日本語 and emoji 🦆🚀"
    with connect(shim.port) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT 42::int, 9007199254740993::bigint, 12345.678901::numeric(18,6), %s::text, "
            "TIMESTAMP '2024-02-29 13:45:30.123456', NULL::int, NULL::text",
            (text,),
        )
        row = cursor.fetchone()
    assert row == [
        42, 9007199254740993, Decimal("12345.678901"), text,
        datetime.datetime(2024, 2, 29, 13, 45, 30, 123456), None, None,
    ]


def test_server_version_is_reported_as_a_plain_version(shim: RedshiftShim) -> None:
    with psycopg.connect(host="127.0.0.1", port=PG_PORT, user="postgres", dbname="postgres") as direct:
        raw = direct.info.parameter_status("server_version")
    assert raw is not None
    with connect(shim.port) as conn:
        reported = dict(conn.parameter_statuses)[b"server_version"].decode()
    assert reported == raw.split()[0]
    assert all(part.isdigit() for part in reported.split("."))


def test_multi_thousand_row_result(shim: RedshiftShim) -> None:
    with connect(shim.port) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT g, repeat('x', g % 50) || '✓', g * 1.5 FROM generate_series(1, 25000) AS g ORDER BY g")
        rows = cursor.fetchall()
    assert len(rows) == 25000
    assert rows[0] == [1, "x✓", Decimal("1.5")]
    assert rows[-1] == [25000, "✓", Decimal("37500.0")]
    assert sum(r[0] for r in rows) == 25000 * 25001 // 2


def test_concurrent_connections_each_get_their_own_backend(shim: RedshiftShim) -> None:
    workers = 12
    barrier = threading.Barrier(workers, timeout=30)
    pids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            with connect(shim.port) as conn:
                barrier.wait()  # all connections are open at the same time
                cursor = conn.cursor()
                cursor.execute("SELECT pg_backend_pid(), sum(g) FROM generate_series(1, %s) AS g", (1000 + n,))
                row = cursor.fetchone()
                assert row is not None
                pid, total = row
                assert total == (1000 + n) * (1001 + n) // 2
                with lock:
                    pids.append(pid)
        except (redshift_connector.Error, AssertionError, threading.BrokenBarrierError) as e:
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a worker did not finish within 60s"
    assert not errors
    assert len(set(pids)) == workers
    assert shim.accepted_connections >= workers


# ---------------------------------------------------------------------------- connection lifecycle


def test_closing_the_client_closes_the_upstream_backend(shim: RedshiftShim) -> None:
    name = f"shim-test-{uuid.uuid4().hex[:8]}"
    conn = connect(shim.port, application_name=name)
    assert backends_named(name) == 1
    conn.close()
    wait_until(lambda: backends_named(name) == 0, 10, "the upstream backend to go away")
    wait_until(lambda: shim.active_connections == 0, 10, "the shim to drop the relayed connection")


def test_stop_closes_open_connections_on_both_sides() -> None:
    name = f"shim-test-{uuid.uuid4().hex[:8]}"
    shim = RedshiftShim(upstream_port=PG_PORT)
    shim.start()
    conn = connect(shim.port, application_name=name)
    try:
        shim.stop()
        wait_until(lambda: backends_named(name) == 0, 10, "the upstream backend to go away after stop()")
        with pytest.raises((redshift_connector.Error, OSError)):
            cursor = conn.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
    finally:
        try:
            conn.close()
        except (redshift_connector.Error, OSError):
            pass  # already broken by stop(), which is the point


CANCEL_CLIENT = """
import sys, threading, time, psycopg
with psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="postgres", dbname="postgres") as conn:
    threading.Timer(0.5, lambda: conn.cancel_safe(timeout=5)).start()
    started = time.monotonic()
    try:
        conn.execute("SELECT pg_sleep(30)")
    except psycopg.errors.QueryCanceled:
        print(f"cancelled after {time.monotonic() - started:.1f}s")
"""


def test_cancel_request_is_forwarded(shim: RedshiftShim) -> None:
    # libpq (psycopg) sends an SSLRequest first (answered "N") and cancels through the same address, so
    # this also covers the SSLRequest path and CancelRequest forwarding. The client runs in its own process:
    # libpq's blocking calls hold the GIL and would starve this in-process shim's event loop thread.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CANCEL_CLIENT, str(shim.port)], capture_output=True, text=True,
                          timeout=25)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cancelled after"), done.stdout
    assert float(done.stdout.split()[2][:-1]) < 10


def test_unreachable_upstream_gives_a_readable_login_error() -> None:
    dead_port = free_port()
    with RedshiftShim(upstream_port=dead_port, connect_timeout_s=3) as shim:
        with pytest.raises(redshift_connector.Error, match=f"could not reach upstream PostgreSQL at 127.0.0.1:{dead_port}"):
            connect(shim.port)


def test_a_taken_listen_port_is_reported(shim: RedshiftShim) -> None:
    with pytest.raises(RedshiftShimError, match=f"could not listen on 127.0.0.1:{shim.port}"):
        RedshiftShim(upstream_port=PG_PORT, listen_port=shim.port).start()


# ---------------------------------------------------------------------------- the rewrites themselves


def _startup(params: dict[str, str]) -> bytes:
    body = struct.pack("!I", 196608) + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def test_startup_message_keeps_only_allow_listed_parameters() -> None:
    packet = _startup({
        "user": "postgres", "database": "dev", "application_name": "app", "client_protocol_version": "2",
        "driver_version": "Redshift Python Driver 2.2.0", "os_version": "Linux", "driver_discovery_version": "1",
        "plugin_name": "x.BrowserIdcAuthPlugin", "_pq_.some_extension": "on", "DateStyle": "ISO",
    })
    rewritten, dropped = rewrite_startup_message(packet)
    assert rewritten == _startup({"user": "postgres", "database": "dev", "application_name": "app", "DateStyle": "ISO"})
    assert dropped == ["client_protocol_version", "driver_version", "os_version", "driver_discovery_version",
                       "plugin_name", "_pq_.some_extension"]


def test_parameter_status_rewrite_only_touches_server_version() -> None:
    assert rewrite_parameter_status(b"server_version\x0015.20 (Debian 15.20-0+deb12u1)\x00") == b"server_version\x0015.20\x00"
    assert rewrite_parameter_status(b"server_version\x0016beta1\x00") == b"server_version\x0016\x00"
    assert rewrite_parameter_status(b"server_version\x0015.20\x00") is None
    assert rewrite_parameter_status(b"TimeZone\x00Etc/UTC\x00") is None


# ---------------------------------------------------------------------------- the stand-in's Redshift built-ins


def test_standin_strtol_parses_hex_and_is_inlined(worker_id_suffix: str) -> None:
    """STRTOL emulates a Redshift built-in: it must give Redshift's values (NULL for NULL) and be planned inline,
    not called per row through the SQL executor (which tripled the cost of every checksum on the stand-in and
    made benchmarks of the Redshift route measure the emulation)."""
    name = create_pg_database(f"dmsval_strtol_{worker_id_suffix}")
    with psycopg.connect(host="127.0.0.1", port=PG_PORT, user="postgres", dbname=name) as conn:
        row = conn.execute("SELECT STRTOL('fffffffffffffff', 16), STRTOL('0a', 16), STRTOL(NULL, 16), "
                           "STRTOL(SUBSTRING(MD5('abc'), 1, 15), 16)").fetchone()
        assert row == (2 ** 60 - 1, 10, None, int("900150983cd24fb0d6963f7d28e17f72"[:15], 16))
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN VERBOSE SELECT STRTOL(SUBSTRING(MD5(relname::text), 1, 15), 16) FROM pg_class").fetchall())
    assert "strtol" not in plan.lower(), plan
