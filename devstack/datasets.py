"""Load the public sample databases (Sakila, the employees subset) and dmsval's own boundary-value
dataset (``datasets/boundary.sql``) into a local MariaDB/MySQL.

The local stack needs a realistic DMS *source*: these loaders reproduce, in Python, the exact shell
recipes of ``datasets/README.md`` so the tests and the demo see the same data the README's row
counts were verified against:

* Sakila: MariaDB ignores MySQL "executable comments" ``/*!50705 ... */``; loaded as shipped, the
  table ``address`` silently loses its GEOMETRY column ``location``. Like the README's ``sed``, every
  ``/*!50705 X */`` is unwrapped to ``X`` in both files.
* employees: the schema script names the database ``employee`` and pulls the data in with ``source``
  lines, one of which points at an xz-compressed file. The ``source`` lines are dropped and the data
  files are streamed after the schema instead (the salary file through :mod:`lzma`).

SQL is fed to the ``mariadb``/``mysql`` command-line client on its stdin, line by line, so neither the
decompressed 3 MB Sakila data nor the salary dump is ever held in memory; the client (not a driver)
is used because the scripts rely on client features (``DELIMITER`` for triggers and routines).

Loads are idempotent: when the database already holds the documented row counts the load is skipped
(well under a second), unless ``force=True``. A server-side named lock (``GET_LOCK``) serialises
concurrent loaders (e.g. pytest-xdist workers), because each load starts with ``DROP DATABASE``.

Every loader takes a ``time_zone`` (a fixed offset such as ``'+05:30'``): the load session runs in it, so
TIMESTAMP literals of the scripts mean local time there - a source server whose default zone is not UTC.
The zone a database was loaded in is recorded in its schema comment, and a load asked for another zone
reloads it.
"""

from __future__ import annotations

import lzma
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Mapping

import pymysql

__all__ = [
    "DatasetError",
    "MySQLParams",
    "LoadResult",
    "SAKILA_ROW_COUNTS",
    "EMPLOYEES_ROW_COUNTS",
    "BOUNDARY_ROW_COUNTS",
    "datasets_dir",
    "load_sakila",
    "load_employees",
    "load_boundary",
]

#: Environment variable that points at the datasets folder (``sakila/``, ``employees/``).
DATASETS_DIR_ENV = "DMSVAL_DATASETS_DIR"

#: Row counts documented in ``datasets/README.md`` (verified after loading into MariaDB 10.11).
SAKILA_ROW_COUNTS: Mapping[str, int] = {
    "actor": 200, "address": 603, "category": 16, "city": 600, "country": 109, "customer": 599,
    "film": 1000, "film_actor": 5462, "film_category": 1000, "film_text": 1000, "inventory": 4581,
    "language": 6, "payment": 16044, "rental": 16044, "staff": 2, "store": 2,
}
EMPLOYEES_ROW_COUNTS: Mapping[str, int] = {
    "employee": 10000, "department": 9, "dept_manager": 24, "dept_emp": 11051, "title": 14782,
    "salary": 94917,
}

#: Row counts of ``datasets/boundary.sql`` (dmsval's own boundary-value dataset).
BOUNDARY_ROW_COUNTS: Mapping[str, int] = {
    "int_limits": 5, "unsigned_fit": 3, "unsigned_max_small": 3, "unsigned_max_int": 3,
    "unsigned_max_big": 3, "decimals": 6, "floats": 12, "temporal": 7, "timestamps": 10, "bits": 5,
    "texts": 9, "binaries": 5, "lobs": 5, "geometries": 5, "ci_keys": 8, "nokey": 7,
}

#: Schema comment recording the session time zone a database was loaded in.
_TZ_MARK = "dmsval load: time_zone="
_SERVER_DEFAULT_TZ = "server default"
_FIXED_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")
# The boundary load's session: zero dates allowed, every other bad value still an error.
_BOUNDARY_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION"

# The README's `sed -E 's#/\*!50705 ([^*]*)\*/#\1#g'`, on bytes so no decoding is needed.
_UNWRAP_50705 = re.compile(rb"/\*!50705 ([^*]*)\*/")
# Database names are spliced into SQL text; keep them to plain identifiers.
_SAFE_DB_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_LOCK_TIMEOUT_S = 300
_CLIENT_NAMES = ("mariadb", "mysql")

_LineRewriter = Callable[[bytes], bytes]


class DatasetError(RuntimeError):
    """A dataset could not be loaded: a file is missing, the client failed, or the counts are wrong."""


@dataclass(frozen=True)
class MySQLParams:
    """How to reach the MariaDB/MySQL server (defaults: the local stack's root with empty password)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)  # never printed in reprs or error messages


@dataclass(frozen=True)
class LoadResult:
    """What a load call did: ``loaded`` is False when the data was already in place and was kept."""

    database: str
    loaded: bool
    seconds: float
    row_counts: Mapping[str, int]


def datasets_dir() -> Path:
    """The datasets folder: ``$DMSVAL_DATASETS_DIR`` or the repository's own ``datasets/``.

    The repository carries the data (with its license files), so a fresh clone needs nothing beside it;
    nothing here looks outside the repository unless the variable says so.
    """
    override = os.environ.get(DATASETS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    repo_root = Path(__file__).resolve().parents[1]
    return repo_root / "datasets"


# --------------------------------------------------------------------------------------- public API

def load_sakila(conn_params: MySQLParams = MySQLParams(), *, database: str = "sakila",
                force: bool = False, time_zone: str | None = None) -> LoadResult:
    """Load Sakila into ``database`` (default ``sakila``), skipping it when already complete.

    "Complete" means the 16 documented row counts match and ``address.location`` exists (a Sakila
    loaded without the ``/*!50705`` rewrite has the right counts but lacks that column), and it was
    loaded in ``time_zone`` (None: the server's default zone; its ``last_update`` TIMESTAMPs are
    literals, so they mean local time of that zone).
    For another ``database`` name the schema's ``DROP/CREATE SCHEMA``, ``USE`` and the
    ``sakila.``-qualified table names inside the views are rewritten.
    """
    _check_db_name(database)
    _check_time_zone(time_zone)
    folder = datasets_dir() / "sakila"
    schema_file = _require_file(folder / "sakila-schema.sql")
    data_file = _require_file(folder / "sakila-data.sql.xz")

    def script() -> Iterator[bytes]:
        schema_rename = _sakila_schema_renamer(database)
        data_rename = _use_renamer(b"sakila", database)
        yield _time_zone_line(time_zone)
        with schema_file.open("rb") as fh:
            for line in fh:
                yield schema_rename(_UNWRAP_50705.sub(rb"\1", line))
        yield b"\n"
        with _open_xz(data_file) as fh:
            for line in fh:
                yield data_rename(_UNWRAP_50705.sub(rb"\1", line))

    return _load(conn_params, database, SAKILA_ROW_COUNTS, {"address": ("location",)}, script, force,
                 time_zone)


def load_employees(conn_params: MySQLParams = MySQLParams(), *, database: str = "employees",
                   force: bool = False, time_zone: str | None = None) -> LoadResult:
    """Load the 10,000-employee subset into ``database`` (default ``employees``), skipping if complete.

    The shipped script creates database ``employee``; its ``DROP DATABASE``/``CREATE DATABASE``/``USE``
    lines are renamed and its ``source`` lines dropped, then the data files follow in the script's
    order, the salary dump decompressed on the fly. ``time_zone`` as for :func:`load_sakila` (the
    dataset has no TIMESTAMP column, so only the recorded zone differs).
    """
    _check_db_name(database)
    _check_time_zone(time_zone)
    folder = datasets_dir() / "employees"
    schema_file = _require_file(folder / "employee.sql")
    plain_files = [_require_file(folder / name) for name in (
        "load_department.sql", "load_employee.sql", "load_dept_emp.sql", "load_dept_manager.sql",
        "load_title.sql")]
    salary_file = _require_file(folder / "load_salary1.sql.xz")
    db = database.encode("ascii")
    header = re.compile(rb"^(DROP DATABASE IF EXISTS|CREATE DATABASE IF NOT EXISTS|USE) employee;")

    def script() -> Iterator[bytes]:
        yield _time_zone_line(time_zone)
        with schema_file.open("rb") as fh:
            for line in fh:
                if line.startswith(b"source "):
                    continue
                yield header.sub(lambda m: m.group(1) + b" `" + db + b"`;", line)
        for path in plain_files:
            yield b"\n"
            with path.open("rb") as fh:
                yield from fh
        yield b"\n"
        with _open_xz(salary_file) as fh:
            yield from fh

    return _load(conn_params, database, EMPLOYEES_ROW_COUNTS, {}, script, force, time_zone)


def load_boundary(conn_params: MySQLParams = MySQLParams(), *, database: str = "boundary",
                  force: bool = False, time_zone: str = "+00:00") -> LoadResult:
    """Load ``datasets/boundary.sql`` (every MySQL type at its limits) into ``database``.

    The database is dropped and created (utf8mb4), and the script runs in a session with
    ``sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'`` (zero dates such as ``'0000-00-00'`` load;
    any other invalid value fails the load) and ``time_zone``: the script's plain TIMESTAMP literals mean
    local time there, its range-limit and DST instants are written in UTC and do not depend on it.
    Skipped when the database holds :data:`BOUNDARY_ROW_COUNTS` and was loaded in the same zone.
    """
    _check_db_name(database)
    _check_time_zone(time_zone)
    data_file = _require_file(datasets_dir() / "boundary.sql")
    db = database.encode("ascii")

    def script() -> Iterator[bytes]:
        yield (b"DROP DATABASE IF EXISTS `" + db + b"`;\n"
               b"CREATE DATABASE `" + db + b"` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n"
               b"USE `" + db + b"`;\n"
               b"SET SESSION sql_mode = '" + _BOUNDARY_SQL_MODE.encode("ascii") + b"';\n")
        yield _time_zone_line(time_zone)
        with data_file.open("rb") as fh:
            yield from fh

    return _load(conn_params, database, BOUNDARY_ROW_COUNTS, {}, script, force, time_zone)


# ------------------------------------------------------------------------------------------ helpers

def _check_time_zone(time_zone: str | None) -> None:
    """A fixed offset (named zones need the server's time zone tables, often not loaded) or None."""
    if time_zone is not None and not _FIXED_OFFSET.match(time_zone):
        raise DatasetError(f"time_zone must be a fixed offset like '+05:30' (or None), got {time_zone!r}")


def _time_zone_line(time_zone: str | None) -> bytes:
    """The statement that puts the load session in ``time_zone`` (nothing for the server's default)."""
    if time_zone is None:
        return b""
    return b"SET SESSION time_zone = '" + time_zone.encode("ascii") + b"';\n"


def _loaded_time_zone(conn: pymysql.connections.Connection, database: str) -> str | None:
    """The zone recorded by the last load (a database without the mark was loaded in the server's)."""
    with conn.cursor() as cur:
        cur.execute("SELECT schema_comment FROM information_schema.schemata WHERE schema_name = %s",
                    (database,))
        row = cur.fetchone()
    comment = (row[0] or "") if row else ""
    if not comment.startswith(_TZ_MARK):
        return _SERVER_DEFAULT_TZ
    return comment[len(_TZ_MARK):]


def _mark_time_zone(conn: pymysql.connections.Connection, database: str, time_zone: str | None) -> None:
    with conn.cursor() as cur:
        cur.execute(f"ALTER DATABASE `{database}` COMMENT = %s",
                    (_TZ_MARK + (time_zone or _SERVER_DEFAULT_TZ),))


def _load(params: MySQLParams, database: str, expected: Mapping[str, int],
          required_columns: Mapping[str, tuple[str, ...]], script: Callable[[], Iterator[bytes]],
          force: bool, time_zone: str | None = None) -> LoadResult:
    """Check, and if needed load and re-check, ``database`` while holding a server-side lock."""
    started = time.monotonic()
    try:
        conn = pymysql.connect(host=params.host, port=params.port, user=params.user,
                               password=params.password, charset="utf8mb4", autocommit=True,
                               connect_timeout=10)
    except pymysql.MySQLError as e:
        raise DatasetError(f"cannot connect to MySQL at {params.host}:{params.port} as "
                           f"{params.user!r}: {e}") from e
    try:
        with _named_lock(conn, f"dmsval_load_{database}"):
            if not force:
                counts = _row_counts(conn, database, expected)
                if counts == dict(expected) and _has_columns(conn, database, required_columns) \
                        and _loaded_time_zone(conn, database) == (time_zone or _SERVER_DEFAULT_TZ):
                    return LoadResult(database, False, time.monotonic() - started, counts)
            _run_client(params, script())
            counts = _row_counts(conn, database, expected)
            if counts != dict(expected):
                wrong = {t: (counts.get(t), n) for t, n in expected.items() if counts.get(t) != n}
                raise DatasetError(f"{database}: row counts after load differ from the documented "
                                   f"ones (table: (found, expected)): {wrong}")
            if not _has_columns(conn, database, required_columns):
                raise DatasetError(f"{database}: columns {dict(required_columns)} missing after load")
            if time_zone is not None or _loaded_time_zone(conn, database) != _SERVER_DEFAULT_TZ:
                _mark_time_zone(conn, database, time_zone)
            return LoadResult(database, True, time.monotonic() - started, counts)
    except pymysql.MySQLError as e:
        raise DatasetError(f"{database}: MySQL error while checking the dataset: {e}") from e
    finally:
        conn.close()


class _named_lock:
    """``GET_LOCK``/``RELEASE_LOCK`` as a context manager (the lock dies with the connection)."""

    def __init__(self, conn: pymysql.connections.Connection, name: str) -> None:
        self._conn, self._name = conn, name

    def __enter__(self) -> None:
        with self._conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, %s)", (self._name, _LOCK_TIMEOUT_S))
            (got,) = cur.fetchone()
        if got != 1:
            raise DatasetError(f"timed out after {_LOCK_TIMEOUT_S}s waiting for lock {self._name!r} "
                               "(another process is loading the same database)")

    def __exit__(self, *exc: object) -> None:
        with self._conn.cursor() as cur:
            cur.execute("SELECT RELEASE_LOCK(%s)", (self._name,))


def _row_counts(conn: pymysql.connections.Connection, database: str,
                expected: Mapping[str, int]) -> dict[str, int]:
    """Exact ``COUNT(*)`` of the expected tables that exist (missing tables are left out)."""
    with conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_type = 'BASE TABLE'", (database,))
        present = {r[0] for r in cur.fetchall()}
        counts: dict[str, int] = {}
        for table in expected:
            if table in present:
                cur.execute(f"SELECT COUNT(*) FROM `{database}`.`{table}`")
                counts[table] = int(cur.fetchone()[0])
        return counts


def _has_columns(conn: pymysql.connections.Connection, database: str,
                 required: Mapping[str, tuple[str, ...]]) -> bool:
    """True when every ``table -> columns`` entry exists in ``database``."""
    with conn.cursor() as cur:
        for table, columns in required.items():
            for column in columns:
                cur.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                            "AND table_name = %s AND column_name = %s", (database, table, column))
                if cur.fetchone() is None:
                    return False
    return True


def _find_client() -> str:
    """Path of the ``mariadb`` (preferred, no deprecation warning) or ``mysql`` client."""
    for name in _CLIENT_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise DatasetError("neither the 'mariadb' nor the 'mysql' command-line client is on PATH; "
                       "install the MariaDB/MySQL client to load the datasets")


def _run_client(params: MySQLParams, chunks: Iterable[bytes]) -> None:
    """Stream ``chunks`` into the command-line client; raise with its stderr when it fails.

    stderr goes to a temporary file rather than a pipe so a chatty client can never block while we
    are still writing its stdin. The password travels in ``MYSQL_PWD`` (not argv, which ``ps`` shows).
    """
    cmd = [_find_client(), f"--host={params.host}", f"--port={params.port}",
           f"--user={params.user}", "--default-character-set=utf8mb4", "--batch"]
    env = dict(os.environ)
    env.pop("MYSQL_PWD", None)
    if params.password:
        env["MYSQL_PWD"] = params.password
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                env=env)
        stdin: IO[bytes] = proc.stdin  # type: ignore[assignment]
        broken = False
        try:
            for chunk in chunks:
                stdin.write(chunk)
        except BrokenPipeError:
            broken = True  # the client exited early; its stderr says why
        except (lzma.LZMAError, OSError) as e:  # a damaged or unreadable dataset file
            proc.kill()
            proc.wait()
            raise DatasetError(f"cannot read the dataset files: {e}") from e
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                broken = True
        rc = proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace").strip()
    if rc != 0 or broken:
        raise DatasetError(f"{Path(cmd[0]).name} exited with status {rc}: {stderr or '(no stderr)'}")


def _require_file(path: Path) -> Path:
    """``path`` if it is a file, else a DatasetError naming it (and the override variable)."""
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path} (set {DATASETS_DIR_ENV} to the folder "
                           "holding sakila/ and employees/)")
    return path


def _open_xz(path: Path) -> IO[bytes]:
    """Open an .xz file for streaming decompression (damage surfaces as LZMAError while reading)."""
    return lzma.open(path, "rb")


def _check_db_name(database: str) -> None:
    """Reject names that would need quoting inside the rewritten scripts."""
    if not _SAFE_DB_NAME.match(database):
        raise DatasetError(f"database name {database!r} must match {_SAFE_DB_NAME.pattern}")


def _use_renamer(source: bytes, database: str) -> _LineRewriter:
    """Rewrite a ``USE <source>;`` line to ``USE `<database>`;`` (identity when the name is kept)."""
    if database.encode("ascii") == source:
        return _identity
    use_line = re.compile(rb"^USE " + source + rb";")
    replacement = b"USE `" + database.encode("ascii") + b"`;"
    return lambda line: use_line.sub(replacement, line)


def _sakila_schema_renamer(database: str) -> _LineRewriter:
    """Rename the schema script's database: DROP/CREATE SCHEMA, USE and ``sakila.`` in the views."""
    if database == "sakila":
        return _identity
    db = database.encode("ascii")
    statement = re.compile(rb"^(DROP SCHEMA IF EXISTS|CREATE SCHEMA|USE) sakila;")
    qualified = re.compile(rb"\bsakila\.")

    def rewrite(line: bytes) -> bytes:
        line = statement.sub(lambda m: m.group(1) + b" `" + db + b"`;", line)
        return qualified.sub(b"`" + db + b"`.", line)

    return rewrite


def _identity(line: bytes) -> bytes:
    return line

