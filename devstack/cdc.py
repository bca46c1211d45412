"""A real CDC stand-in for the local stack: a binlog-enabled MariaDB, a DMS-like replicator and a workload.

The shared MariaDB on 3306 is not configured for change data capture and must not be reconfigured, so
:class:`BinlogMariaDB` runs a private ``mariadbd`` (its own datadir under the temp dir, a free port) with
``log_bin``, ``binlog_format=ROW``, ``binlog_row_image=FULL`` and ``binlog_row_metadata=FULL`` (the last one
gives ``mysql-replication`` the column names and SET/ENUM members of each row event).

:class:`CdcReplicator` plays the CDC phase of a ``full-load-and-cdc`` DMS task: it tails that server's binlog
(``pymysqlreplication``, MariaDB GTIDs) from a position captured *before* the full load (:func:`full_load`),
converts every row image the way :func:`devstack.dms_copy.copy_schema` converts the rows it copies, and
applies inserts, updates and deletes to the Redshift stand-in over its own psycopg connection. Each binlog
transaction is held until ``event time + lag`` (the lag can change while it runs), and it publishes
``CDCLatencySource`` / ``CDCLatencyTarget`` to CloudWatch (moto) with DMS's namespace and dimensions.

:class:`Workload` makes inserts, updates and deletes on Sakila tables at a set rate with seeded randomness.

This is test infrastructure (devstack/), never imported by dmsval/.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterable, Optional, Sequence

import psycopg
import pymysql
from botocore.exceptions import BotoCoreError, ClientError
from psycopg import sql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import HeartbeatLogEvent, MariadbGtidEvent, QueryEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from dmsval.aws.clients import AwsContext
from dmsval.routes.mysql_redshift import BINARIES, DATES, MySQLColumn

# The copy's own planning and read connection: the replicator must land exactly the target tables, names
# and value forms the full load created, so it reuses them rather than re-deriving them.
from .dms_copy import (DEFAULT_VARIANT, DmsVariant, _connect_mysql, _plan, _TablePlan,
                       copy_schema, value_converter_for)
from .datasets import MySQLParams
from .services import ServiceUnavailable, _poll, free_port

__all__ = ["BinlogMariaDB", "BinlogPosition", "CdcReplicator", "ReplicationError", "Workload", "WorkloadError",
           "capture_position", "full_load"]

_POLL_S = 0.25


class ReplicationError(RuntimeError):
    """The replicator could not read the binlog, apply a change or publish its metrics; says which and why."""


class WorkloadError(RuntimeError):
    """The workload generator could not make a change; says which statement and why."""


# ====================================================================================== the private server

def _namespace() -> str:
    """Test runs sharing this machine set DMSVAL_TEST_NAMESPACE; xdist workers set PYTEST_XDIST_WORKER."""
    raw = os.environ.get("DMSVAL_TEST_NAMESPACE", "") + os.environ.get("PYTEST_XDIST_WORKER", "")
    return re.sub(r"[^A-Za-z0-9_]", "_", raw) or "local"


class BinlogMariaDB:
    """A private MariaDB with binary logging for CDC, started and stopped by the project.

    ``with BinlogMariaDB() as db: db.params`` gives a :class:`MySQLParams` (root, empty password) for
    127.0.0.1:``db.port``. The datadir is a fresh directory under ``base_dir`` (default: the temp dir) whose
    name carries the test namespace and worker, and the port is a free one (``port=0``), so parallel runs never
    share either; both are removed/released by :meth:`stop`. The shared server on 3306 is never touched.
    """

    _server_ids = itertools.count(1)

    def __init__(self, *, port: int = 0, server_id: Optional[int] = None, base_dir: Optional[Path] = None,
                 deadline_s: float = 60.0, mariadbd_path: str = "/usr/sbin/mariadbd",
                 install_db_path: Optional[str] = None, keep_datadir: bool = False) -> None:
        self.requested_port = port
        # distinct per instance of this process and per process, so two sources never share a server_id
        self.server_id = server_id or (os.getpid() % 100_000) * 100 + next(self._server_ids) % 100 + 1
        self.base_dir = base_dir
        self.deadline_s = deadline_s
        self.mariadbd_path = mariadbd_path
        self.install_db_path = install_db_path
        self.keep_datadir = keep_datadir
        self.root_dir: Optional[Path] = None
        self._port: Optional[int] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self.started_in_s: Optional[float] = None

    # -------------------------------------------------------------------- where things are
    @property
    def port(self) -> int:
        if self._port is None:
            raise ServiceUnavailable("BinlogMariaDB.port is only known after start()")
        return self._port

    @property
    def params(self) -> MySQLParams:
        return MySQLParams(host="127.0.0.1", port=self.port, user="root", password="")

    @property
    def datadir(self) -> Path:
        if self.root_dir is None:
            raise ServiceUnavailable("BinlogMariaDB.datadir is only known after start()")
        return self.root_dir / "data"

    @property
    def error_log(self) -> Path:
        if self.root_dir is None:
            raise ServiceUnavailable("BinlogMariaDB.error_log is only known after start()")
        return self.root_dir / "error.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Initialise a datadir, start mariadbd and return once root can log in (bounded by deadline_s)."""
        if self._proc is not None:
            raise ServiceUnavailable("BinlogMariaDB is already started")
        if not os.access(self.mariadbd_path, os.X_OK):
            raise ServiceUnavailable(f"binlog MariaDB: {self.mariadbd_path} is not installed here "
                                     f"(apt-get install mariadb-server)")
        started = time.monotonic()
        self.root_dir = Path(tempfile.mkdtemp(prefix=f"dmsval-binlog-{_namespace()}-",
                                              dir=str(self.base_dir) if self.base_dir else None))
        try:
            self._install_db(self.deadline_s)
            attempts = 3 if self.requested_port == 0 else 1
            for attempt in range(1, attempts + 1):
                port = self.requested_port or free_port()
                if self._launch(port, self.deadline_s - (time.monotonic() - started), started):
                    break
                if attempt == attempts:
                    raise ServiceUnavailable(f"binlog MariaDB could not bind a port after {attempts} tries; "
                                             f"see {self.error_log}:\n{self._log_tail()}")
        except BaseException:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - started

    def _install_db(self, timeout_s: float) -> None:
        install = self.install_db_path or shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if install is None:
            raise ServiceUnavailable("binlog MariaDB: neither mariadb-install-db nor mysql_install_db is installed")
        command = [install, "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                   "--auth-root-authentication-method=normal", "--skip-test-db"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=max(timeout_s, 1.0), check=False)
        except subprocess.TimeoutExpired as e:
            raise ServiceUnavailable(f"binlog MariaDB: `{' '.join(command)}` did not finish within "
                                     f"{e.timeout:.0f}s") from e
        except OSError as e:
            raise ServiceUnavailable(f"binlog MariaDB: could not run `{' '.join(command)}`: {e}") from e
        if done.returncode != 0:
            raise ServiceUnavailable(f"binlog MariaDB: `{' '.join(command)}` failed with exit status "
                                     f"{done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}")

    def _command(self, port: int) -> list[str]:
        root = self.root_dir
        assert root is not None
        return [
            self.mariadbd_path, "--no-defaults", f"--datadir={self.datadir}", f"--port={port}",
            "--bind-address=127.0.0.1", f"--socket={root / 'mysqld.sock'}", f"--pid-file={root / 'mysqld.pid'}",
            f"--log-error={self.error_log}", "--user=root", f"--server-id={self.server_id}",
            f"--log-bin={self.datadir / 'binlog'}", "--binlog-format=ROW", "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL",
            # the shared server's character set and a fixed zone, so loaded TIMESTAMP literals mean UTC
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci", "--default-time-zone=+00:00",
            # a test server: small, and no fsync per commit (durability across a crash is not needed)
            "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0",
            "--performance-schema=OFF", "--skip-host-cache",
        ]

    def _launch(self, port: int, deadline_s: float, started: float) -> bool:
        """Start mariadbd on ``port``; True once it accepts root, False if it exited (most likely: port taken)."""
        command = self._command(port)
        self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        self._port = port
        proc = self._proc
        error, _ = _poll(lambda: _login_error(port), deadline_s, lambda: proc.poll() is None)
        waited = time.monotonic() - started
        if error is None:
            return True
        if proc.poll() is not None:
            self._proc = None
            if "Bind on TCP/IP port" in self._log_tail() or "Address already in use" in self._log_tail():
                return False
            raise ServiceUnavailable(f"binlog MariaDB on 127.0.0.1:{port} exited with status {proc.returncode} "
                                     f"after {waited:.1f}s (`{' '.join(command)}`); {self.error_log}:\n"
                                     f"{self._log_tail()}")
        raise ServiceUnavailable(f"binlog MariaDB on 127.0.0.1:{port} did not accept a root login within "
                                 f"{waited:.1f}s; last error: {error}; see {self.error_log}")

    def _log_tail(self, limit: int = 2000) -> str:
        try:
            return self.error_log.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def stop(self, deadline_s: float = 30.0) -> None:
        """Shut the server down (SIGTERM: a clean shutdown; SIGKILL after deadline_s) and remove its datadir."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(deadline_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(deadline_s)
        if self.root_dir is not None and not self.keep_datadir:
            shutil.rmtree(self.root_dir, ignore_errors=True)
            self.root_dir = None

    def __enter__(self) -> "BinlogMariaDB":
        self.start()
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()

    def variables(self, *names: str) -> dict[str, str]:
        """Global variables of the running server (e.g. ``log_bin``, ``binlog_format``)."""
        with pymysql.connect(**_pymysql_settings(self.params)) as conn, conn.cursor() as cur:
            cur.execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})".format(", ".join(["%s"] * len(names))),
                        names)
            return {str(k): str(v) for k, v in cur.fetchall()}


def _pymysql_settings(params: MySQLParams) -> dict[str, Any]:
    return {"host": params.host, "port": params.port, "user": params.user, "password": params.password,
            "connect_timeout": 5}


def _login_error(port: int) -> Optional[str]:
    try:
        conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", connect_timeout=3)
    except (pymysql.MySQLError, OSError) as e:
        return str(e)
    conn.close()
    return None


# ====================================================================================== start position

@dataclass(frozen=True, order=True)
class BinlogPosition:
    """Where the binlog stood: ``SHOW MASTER STATUS`` file and offset, and the MariaDB GTID position there
    (what a MariaDB binlog dump resumes from; empty when the server has logged no transaction yet)."""

    log_file: str
    log_pos: int
    gtid: str = field(compare=False, default="")


def capture_position(source: MySQLParams) -> BinlogPosition:
    """The source's current binlog position (``SHOW MASTER STATUS`` and its GTID)."""
    try:
        with pymysql.connect(**_pymysql_settings(source)) as conn, conn.cursor() as cur:
            cur.execute("SHOW MASTER STATUS")
            row = cur.fetchone()
            if row is None:
                raise ReplicationError(f"MariaDB at {source.host}:{source.port} has no binary log (log_bin OFF)")
            log_file, log_pos = str(row[0]), int(row[1])
            cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (log_file, log_pos))
            gtid = cur.fetchone()[0] or ""
    except pymysql.MySQLError as e:
        raise ReplicationError(f"cannot read the binlog position of {source.host}:{source.port}: {e}") from e
    return BinlogPosition(log_file, log_pos, gtid)


def full_load(source: MySQLParams, pg_dsn: str, source_schema: str, target_schema: str,
              **copy_args: Any) -> tuple[BinlogPosition, dict[str, int]]:
    """A DMS full load: the binlog position first, then :func:`copy_schema`. Starting the replicator there
    loses nothing written during the copy (changes already copied are replayed idempotently)."""
    position = capture_position(source)
    return position, copy_schema(source, pg_dsn, source_schema, target_schema, **copy_args)


# ====================================================================================== value conversion

_Normalizer = Callable[[Any], Any]


def _time_text(value: dt.timedelta, fsp: int) -> str:
    """MySQL's TIME text ('-838:59:59.000000' form) for a binlog timedelta."""
    sign = "-" if value < dt.timedelta(0) else ""
    micros = abs(value) // dt.timedelta(microseconds=1)
    seconds, micro = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{micro:06d}"[: len(text) + 1 + fsp] if fsp else text


def _binlog_normalizer(column: MySQLColumn) -> Optional[_Normalizer]:
    """Turn a binlog value into the form the full load's pymysql read gives (dates, times, decimals as text,
    BIT as bytes), so the copy's own converter can be applied after it. None: the binlog form is that already."""
    data_type = column.data_type.lower()
    if data_type in DATES:
        return lambda v: v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    if data_type == "time":
        fsp = column.datetime_precision or 0
        return lambda v: _time_text(v, fsp)
    if data_type == "decimal":
        return str  # the binlog's Decimal carries the column's scale, as the text read does
    if data_type == "bit":
        width = column.bit_width
        return lambda v: int(v, 2).to_bytes((width + 7) // 8, "big")
    if data_type == "binary" and column.char_octet_length:
        octets = column.char_octet_length  # the binlog drops BINARY's trailing zero padding; a read keeps it
        return lambda v: bytes(v).ljust(octets, b"\0")
    if data_type in BINARIES:
        return bytes
    return None


@dataclass
class _ReplicatedTable:
    plan: _TablePlan
    target_schema: str
    # per kept column: (source column name, binlog normalizer, copy converter)
    columns: list[tuple[str, Optional[_Normalizer], Optional[Callable[[Any], Any]]]]
    set_members: dict[str, list[str]] = field(default_factory=dict)

    @property
    def target_columns(self) -> list[str]:
        return [c.name.lower() for c in self.plan.columns]

    def convert(self, row: dict[str, Any], none_sources: dict[str, str]) -> list[Any]:
        """The target values of one binlog row image, in target column order."""
        values = []
        for name, normalize, convert in self.columns:
            value = row.get(name)
            if value is None:
                # an empty SET arrives as None with this reason; the full load reads it as ''
                values.append("" if none_sources.get(name) == "empty set" else None)
                continue
            if isinstance(value, (set, frozenset)):
                order = self.set_members.get(name) or sorted(value)
                value = ",".join(m for m in order if m in value)  # MySQL lists SET members in definition order
            if normalize is not None:
                value = normalize(value)
            if convert is not None and value is not None:
                value = convert(value)
            values.append(value)
        return values


def _set_members(column_type: str) -> list[str]:
    """Members of ``set('a','b')`` in definition order."""
    return [m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", column_type)]


# ====================================================================================== the replicator

@dataclass
class _Change:
    kind: str  # insert | update | delete
    table: _ReplicatedTable
    before: Optional[list[Any]]
    after: Optional[list[Any]]


@dataclass
class _Transaction:
    event_time: float  # the binlog event timestamp (whole seconds, as the server logs it)
    read_time: float
    changes: list[_Change]


@dataclass(frozen=True)
class LatencySample:
    """One publication: seconds, as DMS reports them (0 when idle)."""

    at: dt.datetime
    source_s: float
    target_s: float


class CdcReplicator:
    """The CDC phase of a DMS task: binlog -> converted changes -> the target, after ``lag_s``.

    Two threads: the reader tails the binlog (blocking, with 1 s server heartbeats so it notices stop()), the
    applier applies each transaction once ``event time + lag`` has passed and publishes the latency metrics
    every ``publish_interval_s`` when ``aws`` is given. ``start_position`` is the position captured before the
    full load. Only the tables the full load copied (same arguments as :func:`copy_schema`) are replicated;
    DDL is not.
    """

    _replica_ids = itertools.count(1)

    def __init__(self, source: MySQLParams, pg_dsn: str, source_schema: str, target_schema: str,
                 start_position: BinlogPosition, *, tables: Optional[list[str]] = None,
                 table_renames: Optional[dict[str, str]] = None, drop_columns: Optional[dict[str, list[str]]] = None,
                 lob_max_size_kb: int = 32, variant: DmsVariant = DEFAULT_VARIANT, target: str = "redshift",
                 lag_s: float = 0.0, aws: Optional[AwsContext] = None, instance_id: str = "",
                 task_resource_id: str = "", publish_interval_s: float = 5.0,
                 replica_server_id: Optional[int] = None) -> None:
        if aws is not None and not (instance_id and task_resource_id):
            raise ReplicationError("publishing latency needs instance_id and task_resource_id (the dimensions)")
        self.source = source
        self.pg_dsn = pg_dsn
        self.source_schema = source_schema
        self.target_schema = target_schema.lower()
        self.start_position = start_position
        self._copy_args = dict(tables=tables, table_renames=table_renames or {}, drop_columns=drop_columns or {},
                               lob_max_size_kb=lob_max_size_kb, variant=variant, target=target)
        self._lag_s = float(lag_s)
        self.aws = aws
        self.instance_id = instance_id
        self.task_resource_id = task_resource_id
        self.publish_interval_s = publish_interval_s
        # a replica's server_id must differ from every other replica of the same server: MariaDB drops the
        # older dump connection when a second one registers with the same id
        self.replica_server_id = replica_server_id or 2_000_000_000 + (os.getpid() % 1_000_000) * 100 \
            + next(self._replica_ids) % 100
        self._tables: dict[str, _ReplicatedTable] = {}
        self._lock = threading.Condition()
        self._pending: deque[_Transaction] = deque()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._error: Optional[BaseException] = None
        self._stream: Optional[BinLogStreamReader] = None
        self._read_position: Optional[BinlogPosition] = None
        self._applying = False
        # what the next publication reports
        self._source_latencies: list[float] = []
        self._target_latencies: list[float] = []
        self.samples: list[LatencySample] = []
        self._cloudwatch: Any = aws.client("cloudwatch") if aws is not None else None
        self.applied_changes = 0
        self.applied_transactions = 0
        self.read_changes = 0

    # -------------------------------------------------------------------- control
    @property
    def lag_s(self) -> float:
        return self._lag_s

    def set_lag(self, seconds: float) -> None:
        """Change the apply lag now: pending transactions become due at their event time + the new lag."""
        if seconds < 0:
            raise ReplicationError(f"lag must be >= 0 seconds, got {seconds}")
        with self._lock:
            self._lag_s = float(seconds)
            self._lock.notify_all()

    @property
    def threads(self) -> list[threading.Thread]:
        return list(self._threads)

    def start(self) -> None:
        if self._threads:
            raise ReplicationError("the replicator is already started")
        self._tables = self._plan_tables()
        self._stream = BinLogStreamReader(
            connection_settings={**_pymysql_settings(self.source), "charset": "utf8mb4"},
            server_id=self.replica_server_id, blocking=True, is_mariadb=True, resume_stream=True,
            auto_position=self.start_position.gtid or None, slave_heartbeat=1,
            only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent, QueryEvent, MariadbGtidEvent,
                         HeartbeatLogEvent, RotateEvent],
            only_schemas=[self.source_schema], enable_logging=False)
        name = self.task_resource_id or self.target_schema
        self._threads = [threading.Thread(target=self._guard(self._read_loop), name=f"cdc-reader-{name}", daemon=True),
                         threading.Thread(target=self._guard(self._apply_loop), name=f"cdc-applier-{name}",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self, deadline_s: float = 15.0) -> None:
        """Stop both threads (the reader notices within a heartbeat) and close the binlog connection.
        Raises ReplicationError if a thread failed or would not stop."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        started = time.monotonic()
        for thread in self._threads:
            thread.join(max(0.0, deadline_s - (time.monotonic() - started)))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive and self._stream is not None:
            self._stream.close()  # a reader stuck in a read: closing its socket ends the read
            for thread in self._threads:
                thread.join(5.0)
            alive = [t.name for t in self._threads if t.is_alive()]
        if self._stream is not None:
            self._stream.close()
        if alive:
            raise ReplicationError(f"replicator threads {alive} did not stop within "
                                   f"{time.monotonic() - started:.1f}s")
        self.check()

    def __enter__(self) -> "CdcReplicator":
        self.start()
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()

    def check(self) -> None:
        """Raise the failure of a thread, if one failed."""
        if self._error is not None:
            raise ReplicationError(f"the replicator failed: {self._error}") from self._error

    @property
    def pending_transactions(self) -> int:
        with self._lock:
            return len(self._pending) + (1 if self._applying else 0)

    def wait_caught_up(self, deadline_s: float = 60.0) -> float:
        """Wait until everything the source has logged so far is applied; returns the seconds waited."""
        started = time.monotonic()
        goal = capture_position(self.source)
        while True:
            self.check()
            with self._lock:
                read = self._read_position
                idle = not self._pending and not self._applying
            if idle and read is not None and read >= goal:
                return time.monotonic() - started
            waited = time.monotonic() - started
            if waited > deadline_s or not all(t.is_alive() for t in self._threads):
                self.check()
                raise ReplicationError(
                    f"the replicator did not catch up with {goal.log_file}:{goal.log_pos} within {waited:.1f}s "
                    f"(read up to {read}, {self.pending_transactions} transactions pending, lag {self._lag_s:g}s)")
            time.sleep(0.05)

    # -------------------------------------------------------------------- planning
    def _plan_tables(self) -> dict[str, _ReplicatedTable]:
        args = self._copy_args
        variant: DmsVariant = args["variant"]  # type: ignore[assignment]
        conn = _connect_mysql(self.source, variant.source_time_zone)
        try:
            plans = _plan(conn, self.source_schema, args["tables"], args["table_renames"], args["drop_columns"],
                          variant, args["target"])  # type: ignore[arg-type]
        finally:
            conn.close()
        tables = {}
        for plan in plans:
            columns = [(c.name, _binlog_normalizer(c),
                        value_converter_for(c, args["lob_max_size_kb"], variant, char_length=n,  # type: ignore[arg-type]
                                            target=args["target"]))  # type: ignore[arg-type]
                       for c, n in zip(plan.columns, plan.char_lengths)]
            members = {c.name: _set_members(c.column_type) for c in plan.columns if c.data_type.lower() == "set"}
            tables[plan.source] = _ReplicatedTable(plan, self.target_schema, columns, members)
        return tables

    # -------------------------------------------------------------------- threads
    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except (ReplicationError, pymysql.MySQLError, psycopg.Error, OSError, ValueError, KeyError) as e:
                self._error = e
                self._stop.set()
                with self._lock:
                    self._lock.notify_all()
        return run

    def _read_loop(self) -> None:
        stream = self._stream
        assert stream is not None
        changes: list[_Change] = []
        event_time = 0.0
        read_time = 0.0

        def flush() -> None:
            nonlocal changes
            if changes:
                with self._lock:
                    self._pending.append(_Transaction(event_time, read_time, changes))
                    self._lock.notify_all()
                changes = []

        while not self._stop.is_set():
            try:
                event = stream.fetchone()
            except pymysql.MySQLError as e:
                if self._stop.is_set():
                    return  # stop() closed the connection under a blocked read
                raise ReplicationError(f"reading the binlog of {self.source.host}:{self.source.port}: {e}") from e
            if event is None:
                continue
            if isinstance(event, (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)):
                table = self._tables.get(event.table)
                if table is None or event.schema != self.source_schema:
                    continue
                now = time.time()
                if not changes:
                    event_time = float(event.timestamp)
                read_time = now
                with self._lock:
                    self._source_latencies.append(max(0.0, now - event.timestamp))
                for row in event.rows:
                    changes.append(_row_change(event, table, row))
                self.read_changes += len(event.rows)
                continue
            if isinstance(event, (XidEvent, MariadbGtidEvent, HeartbeatLogEvent)) or (
                    isinstance(event, QueryEvent) and event.query.strip().upper() == "COMMIT"):
                flush()  # a transaction ends at its XID/COMMIT; a GTID or heartbeat means none is open
            if isinstance(event, MariadbGtidEvent):
                continue  # its end position is inside the transaction, not a point reached
            position = BinlogPosition(stream.log_file or "", int(stream.log_pos or 0))
            with self._lock:
                self._read_position = position

    def _apply_loop(self) -> None:
        with psycopg.connect(self.pg_dsn, autocommit=True) as pg:
            next_publish = time.monotonic() + self.publish_interval_s
            while not self._stop.is_set():
                due = self._take_due()
                if due:
                    applied_at = self._apply(pg, due)
                    with self._lock:
                        self._target_latencies.extend(max(0.0, applied_at - t.event_time) for t in due)
                        self._applying = False
                        self._lock.notify_all()
                if self.aws is not None and time.monotonic() >= next_publish:
                    self._publish()
                    next_publish = time.monotonic() + self.publish_interval_s
                with self._lock:
                    if not self._stop.is_set() and not self._due_now():
                        self._lock.wait(min(_POLL_S, self._seconds_to_next_due()))

    def _due_now(self) -> bool:
        return bool(self._pending) and self._pending[0].event_time + self._lag_s <= time.time()

    def _seconds_to_next_due(self) -> float:
        if not self._pending:
            return _POLL_S
        return max(0.0, self._pending[0].event_time + self._lag_s - time.time())

    def _take_due(self) -> list[_Transaction]:
        with self._lock:
            due = []
            while self._due_now() and len(due) < 500:
                due.append(self._pending.popleft())
            self._applying = bool(due)
            return due

    def _apply(self, pg: psycopg.Connection[Any], transactions: list[_Transaction]) -> float:
        """Apply due transactions in one target transaction (in binlog order); returns when they were committed."""
        try:
            with pg.transaction(), pg.cursor() as cur:
                for transaction in transactions:
                    for change in transaction.changes:
                        _apply_change(cur, change)
        except psycopg.Error as e:
            raise ReplicationError(f"applying changes to {self.target_schema}: {e}") from e
        applied_at = time.time()
        self.applied_changes += sum(len(t.changes) for t in transactions)
        self.applied_transactions += len(transactions)
        return applied_at

    def latency_now(self) -> tuple[float, float]:
        """What a publication now would report, without consuming the measurements."""
        with self._lock:
            return self._latencies(time.time())

    def _latencies(self, now: float) -> tuple[float, float]:
        source = max(self._source_latencies, default=0.0)
        target = max(self._target_latencies, default=0.0)
        if self._pending:
            # the oldest transaction still waiting to be applied (DMS: "waiting to commit on the target")
            target = max(target, now - self._pending[0].event_time)
        return source, target

    def _publish(self) -> None:
        now = time.time()
        with self._lock:
            source, target = self._latencies(now)
            self._source_latencies.clear()
            self._target_latencies.clear()
        at = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        dimensions = [{"Name": "ReplicationInstanceIdentifier", "Value": self.instance_id},
                      {"Name": "ReplicationTaskIdentifier", "Value": self.task_resource_id}]
        assert self.aws is not None and self._cloudwatch is not None
        try:
            self._cloudwatch.put_metric_data(Namespace="AWS/DMS", MetricData=[
                {"MetricName": metric, "Value": round(value, 3), "Unit": "Seconds", "Timestamp": at,
                 "Dimensions": dimensions}
                for metric, value in (("CDCLatencySource", source), ("CDCLatencyTarget", target))])
        except (BotoCoreError, ClientError) as e:
            raise ReplicationError(f"publishing CDC latency to CloudWatch at {self.aws.endpoint_url}: {e}") from e
        self.samples.append(LatencySample(at, source, target))



def _row_change(event: Any, table: _ReplicatedTable, row: dict[str, Any]) -> _Change:
    if isinstance(event, WriteRowsEvent):
        return _Change("insert", table, None, table.convert(row["values"], row.get("none_sources", {})))
    if isinstance(event, DeleteRowsEvent):
        return _Change("delete", table, table.convert(row["values"], row.get("none_sources", {})), None)
    return _Change("update", table, table.convert(row["before_values"], row.get("before_none_sources", {})),
                   table.convert(row["after_values"], row.get("after_none_sources", {})))


def _apply_change(cur: psycopg.Cursor[Any], change: _Change) -> None:
    """Apply one row change. Inserts upsert (a change the full load already copied is replayed harmlessly);
    an update whose old row is missing inserts the new one; a delete of a missing row does nothing."""
    table = change.table
    target = sql.Identifier(table.target_schema, table.plan.target)
    columns = table.target_columns
    key = list(table.plan.primary_key)
    if change.kind in ("update", "delete"):
        assert change.before is not None
        where, params = _row_match(table, change.before, key)
        if change.kind == "delete":
            cur.execute(sql.SQL("DELETE FROM {} WHERE ").format(target) + where, params)
            return
        assert change.after is not None
        assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)
        cur.execute(sql.SQL("UPDATE {} SET {} WHERE ").format(target, assignments) + where,
                    [*change.after, *params])
        if cur.rowcount:
            return
    assert change.after is not None
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns)))
    if key:
        others = [c for c in columns if c not in key]
        action = (sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in others))
            if others else sql.SQL("DO NOTHING"))
        insert += sql.SQL(" ON CONFLICT ({}) ").format(sql.SQL(", ").join(map(sql.Identifier, key))) + action
    cur.execute(insert, change.after)


def _row_match(table: _ReplicatedTable, before: list[Any], key: list[str]) -> tuple[sql.Composable, list[Any]]:
    """WHERE clause for the target row of a before image: by primary key, else one row equal in every column."""
    columns = table.target_columns
    if key:
        values = [before[columns.index(k)] for k in key]
        return (sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in key), values)
    target = sql.Identifier(table.target_schema, table.plan.target)
    same = sql.SQL(" AND ").join(sql.SQL("{} IS NOT DISTINCT FROM %s").format(sql.Identifier(c)) for c in columns)
    return (sql.SQL("ctid = (SELECT ctid FROM {} WHERE ").format(target) + same + sql.SQL(" LIMIT 1)"),
            list(before))


# ====================================================================================== the workload

@dataclass(frozen=True)
class _TableOps:
    key: str
    insert: Callable[[random.Random, int], tuple[str, tuple[Any, ...]]]
    update: Callable[[random.Random, int], tuple[str, tuple[Any, ...]]]
    # whether rows of the dataset itself may be deleted (others are referenced by foreign keys)
    delete_any: bool = False


_FEATURES = ("Trailers", "Commentaries", "Deleted Scenes", "Behind the Scenes")
_RATINGS = ("G", "PG", "PG-13", "R", "NC-17")


def _when(rng: random.Random) -> str:
    return (dt.datetime(2005, 5, 24) + dt.timedelta(seconds=rng.randrange(90 * 86400))).isoformat(sep=" ")


def _name(rng: random.Random, n: int) -> str:
    return f"{rng.choice(('ZOË', 'ÅSA', 'JOSÉ', 'MIKE', 'ANNA'))}{n}"


SAKILA_OPS: dict[str, _TableOps] = {
    "actor": _TableOps(
        "actor_id",
        lambda rng, n: ("INSERT INTO actor (first_name, last_name) VALUES (%s, %s)", (_name(rng, n), f"CDC{n}")),
        lambda rng, key: ("UPDATE actor SET last_name = %s WHERE actor_id = %s", (f"UPD{rng.randrange(10**6)}", key))),
    "payment": _TableOps(
        "payment_id",
        lambda rng, n: ("INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date) "
                        "VALUES (%s, %s, NULL, %s, %s)",
                        (rng.randint(1, 599), rng.randint(1, 2), Decimal(rng.randrange(0, 1200)) / 100, _when(rng))),
        lambda rng, key: ("UPDATE payment SET amount = %s, payment_date = %s WHERE payment_id = %s",
                          (Decimal(rng.randrange(0, 1200)) / 100, _when(rng), key)),
        delete_any=True),
    "film": _TableOps(
        "film_id",
        lambda rng, n: ("INSERT INTO film (title, description, release_year, language_id, rental_duration, "
                        "rental_rate, length, replacement_cost, rating, special_features) "
                        "VALUES (%s, %s, %s, 1, %s, %s, %s, %s, %s, %s)",
                        (f"CDC FILM {n}", f"A film about {_name(rng, n)} — №{n}", rng.randint(1990, 2020),
                         rng.randint(3, 7), Decimal(rng.choice((99, 299, 499))) / 100, rng.randint(46, 185),
                         Decimal(rng.randrange(999, 2999)) / 100, rng.choice(_RATINGS),
                         ",".join(f for f in _FEATURES if rng.random() < 0.4))),
        lambda rng, key: ("UPDATE film SET rating = %s, special_features = %s, rental_rate = %s, description = %s "
                          "WHERE film_id = %s",
                          (rng.choice(_RATINGS), ",".join(f for f in _FEATURES if rng.random() < 0.4),
                           Decimal(rng.choice((99, 299, 499))) / 100, f"Rewritten {rng.randrange(10**6)} ✓", key))),
    "customer": _TableOps(
        "customer_id",
        # Sakila's address ids have gaps: take the k-th existing one
        lambda rng, n: ("INSERT INTO customer (store_id, first_name, last_name, email, address_id, active, "
                        "create_date) SELECT %s, %s, %s, %s, address_id, %s, %s FROM address "
                        "ORDER BY address_id LIMIT 1 OFFSET %s",
                        (rng.randint(1, 2), _name(rng, n), f"CDC{n}", f"cdc{n}@example.org", rng.randint(0, 1),
                         _when(rng), rng.randrange(600))),
        lambda rng, key: ("UPDATE customer SET email = %s, active = %s WHERE customer_id = %s",
                          (f"changed{rng.randrange(10**6)}@example.org", rng.randint(0, 1), key))),
}


class Workload:
    """Inserts, updates and deletes on Sakila tables at ``rate_per_s``, in a background thread.

    Randomness is seeded (``seed``): the same seed on the same data makes the same changes. A delete removes a
    row the workload inserted itself, or (for tables no foreign key points to, e.g. ``payment``) any row; with
    nothing it may delete it updates instead. ``changes`` counts statements that changed a row; with
    ``max_changes`` the thread stops by itself after that many.
    """

    def __init__(self, source: MySQLParams, schema: str = "sakila", tables: Sequence[str] = ("actor", "payment"),
                 *, rate_per_s: float = 100.0, seed: int = 0, max_changes: Optional[int] = None,
                 mix: tuple[float, float, float] = (0.4, 0.4, 0.2)) -> None:
        unknown = sorted(set(tables) - set(SAKILA_OPS))
        if unknown:
            raise WorkloadError(f"no workload for tables {unknown}; known: {sorted(SAKILA_OPS)}")
        if rate_per_s <= 0:
            raise WorkloadError(f"rate_per_s must be > 0, got {rate_per_s}")
        self.source = source
        self.schema = schema
        self.tables = list(tables)
        self.rate_per_s = rate_per_s
        self.max_changes = max_changes
        self.mix = mix
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self.changes = 0
        self.by_kind = {"insert": 0, "update": 0, "delete": 0}

    @property
    def thread(self) -> Optional[threading.Thread]:
        return self._thread

    def start(self) -> None:
        if self._thread is not None:
            raise WorkloadError("the workload is already started")
        self._thread = threading.Thread(target=self._run, name=f"cdc-workload-{self.schema}", daemon=True)
        self._thread.start()

    def stop(self, deadline_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(deadline_s)
            if self._thread.is_alive():
                raise WorkloadError(f"the workload thread did not stop within {deadline_s:g}s")
        self.check()

    def wait(self, deadline_s: float = 60.0) -> float:
        """Wait for a workload with max_changes to finish; returns the seconds waited."""
        started = time.monotonic()
        if self._thread is not None:
            self._thread.join(deadline_s)
            if self._thread.is_alive():
                raise WorkloadError(f"the workload made {self.changes} of {self.max_changes} changes in "
                                    f"{time.monotonic() - started:.1f}s")
        self.check()
        return time.monotonic() - started

    def check(self) -> None:
        if self._error is not None:
            raise WorkloadError(f"the workload failed: {self._error}") from self._error

    def __enter__(self) -> "Workload":
        self.start()
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            conn = pymysql.connect(**_pymysql_settings(self.source), database=self.schema, autocommit=True,
                                   charset="utf8mb4")
        except pymysql.MySQLError as e:
            self._error = e
            return
        try:
            self._loop(conn)
        except (WorkloadError, pymysql.MySQLError) as e:
            self._error = e
        finally:
            conn.close()

    def _loop(self, conn: pymysql.connections.Connection) -> None:
        keys: dict[str, list[int]] = {}
        own: dict[str, list[int]] = {t: [] for t in self.tables}
        with conn.cursor() as cur:
            for table in self.tables:
                ops = SAKILA_OPS[table]
                cur.execute(f"SELECT `{ops.key}` FROM `{table}` ORDER BY 1")
                keys[table] = [int(r[0]) for r in cur.fetchall()]
        started = time.monotonic()
        attempt = 0
        while not self._stop.is_set() and (self.max_changes is None or self.changes < self.max_changes):
            wait = started + attempt / self.rate_per_s - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            attempt += 1
            table = self._rng.choice(self.tables)
            ops = SAKILA_OPS[table]
            kind = self._rng.choices(("insert", "update", "delete"), weights=self.mix)[0]
            pool = keys[table] if ops.delete_any else own[table]
            if kind == "delete" and not pool:
                kind = "update"
            if kind == "update" and not keys[table]:
                kind = "insert"
            with conn.cursor() as cur:
                if kind == "insert":
                    statement, params = ops.insert(self._rng, self.changes)
                    changed = self._execute(cur, statement, params)
                    keys[table].append(int(cur.lastrowid))
                    own[table].append(int(cur.lastrowid))
                elif kind == "update":
                    statement, params = ops.update(self._rng, self._rng.choice(keys[table]))
                    changed = self._execute(cur, statement, params)
                else:
                    key = pool[self._rng.randrange(len(pool))]
                    changed = self._execute(cur, f"DELETE FROM `{table}` WHERE `{ops.key}` = %s", (key,))
                    keys[table].remove(key)
                    if key in own[table]:
                        own[table].remove(key)
            if changed:
                self.changes += 1
                self.by_kind[kind] += 1

    @staticmethod
    def _execute(cur: Any, statement: str, params: Iterable[Any]) -> int:
        try:
            return int(cur.execute(statement, tuple(params)))
        except pymysql.MySQLError as e:
            raise WorkloadError(f"`{statement}` failed: {e}") from e
