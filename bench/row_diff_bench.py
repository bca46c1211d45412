"""Benchmark of the row_diff check against what a user would write by hand: one full-scan checksum per side.

For each N (default 200,000 and 2,000,000) and each case it builds a table in MariaDB (database
``dmsval_bench``), copies it to the target the way a DMS full load would (``devstack.dms_copy``), plants 25
differences (8 missing rows, 8 extra rows, 9 changed values spread over the non-key columns) and then, in
separate processes and alternately, times:

* ``raw`` -- the RAW floor, what a user checking "same rows?" by hand would write: per side one full scan
  ``SELECT COUNT(*), SUM(h) FROM <table>`` where ``h`` is the first 15 hex digits (60 bits) of the MD5 of the
  plain columns joined with '|' (NULLs skipped by CONCAT_WS), no normalization at all:

  - MySQL/MariaDB source: ``SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', c1, c2, ...)), 1, 15), 16, 10)
    AS UNSIGNED))``;
  - target (PostgreSQL, also the PostgreSQL that stands in for Redshift, queried through the Redshift shim
    with redshift_connector): ``SUM(('x' || SUBSTR(MD5(CONCAT_WS('|', c1::text, c2::text, ...)), 1,
    15))::bit(60)::bigint)``. (A real Redshift has neither CONCAT_WS nor bit casts; a user there would write
    ``||``/NVL and STRTOL. The stand-in is PostgreSQL, so the PostgreSQL form is its cheapest honest floor.)

  Source and target run concurrently; the floor is the wall time of the slower side.
* ``canonical`` -- the CANONICAL floor: one full scan per side summing row_diff's own normalized row-image
  hash (the image row_diff compares: canonical text of each type, tolerances applied), concurrently.
* ``crc32`` -- for information only (the issue compares to it): the MySQL source alone,
  ``SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', c1, c2, ...)))``.
* ``row_diff`` with ``scan_parallelism=1`` and, when dmsval's Settings has a ``scan_parallelism`` field, with
  the parallel setting (``--parallel``, default ``auto``); before that field exists only the plain run is made.

* ``alone`` -- each side on its own, as if source and target had a machine each (here they share 2 cores,
  so when both sides scan at once, the machine is full and k connections per side can only share it): the
  raw floor's query of one side while the other side is idle, and row_diff's first scan (the whole-table part:
  every segment's count and checksum) of one side while the other is idle, with one connection and with the
  parallel setting. The rest of row_diff (reading the differing segments' rows) is in the wall times above.

Cases: ``costly`` (default): BIGINT key, INT, VARCHAR, DECIMAL(12,2), DOUBLE, VARCHAR holding 4-byte UTF-8
(emoji), DATETIME, TIMESTAMP NULL, TINYINT(1) -- the types whose canonical forms cost the most.
``classic``: the earlier benchmark's table (INT UNSIGNED key, TEXT, ENUM, DATE, ...).

Routes: ``--route redshift`` (default; MySQL -> Redshift, the target read through the Redshift shim with
redshift_connector) or ``--route postgres`` (MySQL -> PostgreSQL, the target read with psycopg).

It prints wall times (median of the runs), row_diff's ratio to each floor (median of the per-run ratios:
floors and row_diff measured back to back are steadier on a noisy machine), precision and recall against the
planted truth (a finding is a missing key, an extra key or a changed key with its changed column) and the
peak RSS of the row_diff processes. Tables are built in batches of ``BATCH_ROWS`` (MariaDB's SEQUENCE engine)
and streamed to the target by ``copy_schema`` (unbuffered cursor -> COPY), so ``--sizes 20000000`` builds
within bounded memory (20M rows on 2026-12-03: 51 s for the source, 154 s for the copy, bench process at 74 MB,
about 3 GB of disk per side); builds are cached in ``.local/`` by BUILD_VERSION. Run it outside the test suite
(the README's figures: ``--cases costly --parallel 2``, both routes, and the 20M run):

    .venv/bin/python bench/row_diff_bench.py                          # 200k and 2M, 3 runs, Redshift route
    .venv/bin/python bench/row_diff_bench.py --sizes 200000,2000000 --cases costly --parallel 2 --route postgres
    .venv/bin/python bench/row_diff_bench.py --sizes 20000000 --runs 1 --cases costly --parallel 2
    .venv/bin/python bench/row_diff_bench.py --sizes 3000000 --build-only
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmsval.credentials import Credentials  # noqa: E402
from dmsval.checks.base import Case, CheckContext, in_parallel, on_both_sides  # noqa: E402
from dmsval.checks.row_diff import TableDiff, diff_tables  # noqa: E402
from dmsval.config import OPTIONS, Settings  # noqa: E402
from dmsval.engines import Engine, open_engine  # noqa: E402
from dmsval.mappings import TablePair  # noqa: E402
from devstack import services  # noqa: E402
from devstack.datasets import MySQLParams  # noqa: E402
from devstack.dms_copy import copy_schema  # noqa: E402
from devstack.redshift_shim import RedshiftShim  # noqa: E402
from devstack.standin import pg_dsn, prepare_redshift_standin  # noqa: E402

SOURCE_DB = "dmsval_bench"
#: target database per route (the Redshift stand-in plans GROUP BY as Redshift does, see devstack.standin)
TARGET_DBS = {"redshift": "dmsval_bench", "postgres": "dmsval_bench_pg"}
BUILD_VERSION = "2"  # bump when a table or its planted defects change
BATCH_ROWS = 1_000_000  # rows per INSERT ... SELECT when building the source (bounded undo log and memory)
#: keys above the INT range, so the BIGINT key is really 64-bit
COSTLY_KEY_OFFSET = 4_000_000_000


@dataclasses.dataclass(frozen=True)
class TableCase:
    name: str
    create: str  # MySQL CREATE TABLE, {table}
    fill: str  # MySQL SELECT list over `seq` (the SEQUENCE engine's column); the key first
    key_offset: int  # key = seq + key_offset
    columns: tuple[str, ...]  # every column, key first (the raw floor hashes them all)
    extra_values: str  # target VALUES tail after the key, for planted extra rows
    changes: dict[str, str]  # column -> PostgreSQL SET clause moving the value beyond any tolerance
    changed_columns: tuple[str, ...]  # the 9 changed values' columns, in planting order


COSTLY = TableCase(
    name="costly",
    create="""
CREATE TABLE {table} (
  id BIGINT NOT NULL PRIMARY KEY,
  qty INT NOT NULL,
  name VARCHAR(60) NOT NULL,
  price DECIMAL(12,2),
  ratio DOUBLE,
  label VARCHAR(60),
  created DATETIME,
  updated TIMESTAMP NULL,
  active TINYINT(1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
""",
    fill="""seq + {offset}, CAST((seq * 7) % 100000 AS SIGNED) - 50000,
       CONCAT('customer-', seq),
       IF(seq % 50 = 0, NULL, CAST(seq % 1000000 AS SIGNED) / 100 - 2500),
       IF(seq % 40 = 0, NULL, seq / 7e0),
       IF(seq % 3 = 0, CONCAT('café ', seq, ' 🙂🚀'), CONCAT('plain ', seq)),
       '2020-01-01 00:00:00' + INTERVAL seq SECOND,
       IF(seq % 9 = 0, NULL, FROM_UNIXTIME(1600000000 + seq)),
       seq % 2""",
    key_offset=COSTLY_KEY_OFFSET,
    columns=("id", "qty", "name", "price", "ratio", "label", "created", "updated", "active"),
    extra_values="1, 'extra', 1.00, 0.5, 'extra 🙂', '2021-01-01', '2021-01-01', 1",
    changes={
        "qty": "qty = qty + 1",
        "name": "name = name || 'x'",
        "price": "price = COALESCE(price, 0) + 0.01",
        "ratio": "ratio = COALESCE(ratio, 1) * 1.001",
        "label": "label = COALESCE(label, '') || '😀'",
        "created": "created = created + INTERVAL '1 second'",
        "updated": "updated = COALESCE(updated + INTERVAL '1 hour', '2001-01-01')",
        "active": "active = 1 - active",
    },
    changed_columns=("qty", "name", "price", "ratio", "label", "created", "updated", "active", "label"),
)

CLASSIC = TableCase(
    name="classic",
    create="""
CREATE TABLE {table} (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  qty INT NOT NULL,
  name VARCHAR(40) NOT NULL,
  price DECIMAL(12,2),
  created DATETIME,
  updated TIMESTAMP NULL,
  ratio DOUBLE,
  active TINYINT(1),
  note TEXT,
  status ENUM('new','paid','shipped','void'),
  born DATE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
""",
    fill="""seq + {offset}, (seq * 7) % 1000,
       CONCAT('item-', seq, IF(seq % 10 = 0, ' ünïcødé ✓', '')),
       (seq % 100000) / 100,
       '2020-01-01 00:00:00' + INTERVAL seq SECOND,
       FROM_UNIXTIME(1600000000 + seq),
       seq / 7e0,
       seq % 2,
       IF(seq % 5 = 0, NULL, CONCAT('note ', seq)),
       ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'void'),
       IF(seq % 1000 = 0, NULL, '1990-01-01' + INTERVAL (seq % 10000) DAY)""",
    key_offset=0,
    columns=("id", "qty", "name", "price", "created", "updated", "ratio", "active", "note", "status", "born"),
    extra_values="1, 'extra', 1.00, '2021-01-01', '2021-01-01', 0.5, 1, 'x', 'new', '2000-01-01'",
    changes={
        "qty": "qty = qty + 1",
        "name": "name = name || '🙂'",
        "price": "price = price + 0.01",
        "created": "created = created + INTERVAL '1 second'",
        "updated": "updated = updated + INTERVAL '1 hour'",
        "ratio": "ratio = ratio * 1.001",
        "active": "active = 1 - active",
        "note": "note = COALESCE(note, '') || '!'",
        "status": "status = CASE WHEN status = 'void' THEN 'new' ELSE 'void' END",
    },
    changed_columns=("qty", "name", "price", "created", "updated", "ratio", "active", "note", "status"),
)

CASES = {c.name: c for c in (COSTLY, CLASSIC)}


def table_name(case: TableCase, n: int) -> str:
    return f"{case.name}_{n}"


def target_schema(case: TableCase, n: int) -> str:
    return f"bench_{case.name}_{n}"


# ------------------------------------------------------------------------------------------- build

def _marker(kind: str, *parts: object) -> Path:
    return REPO / ".local" / f"bench-{kind}-{'-'.join(str(p) for p in parts)}.json"


def _cached(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data if data.get("version") == BUILD_VERSION else None


def _mysql_table_exists(table: str) -> bool:
    import pymysql

    with pymysql.connect(host="127.0.0.1", user="root") as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                    (SOURCE_DB, table))
        return cur.fetchone() is not None


def _pg_table_exists(dsn: str, schema: str, table: str) -> bool:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.{table}",)).fetchone()[0]


def build_source(case: TableCase, n: int, force: bool) -> float:
    """Build (or reuse) the MariaDB table in batches of BATCH_ROWS; returns the seconds spent (0 if reused)."""
    import pymysql

    table = table_name(case, n)
    marker = _marker("source", case.name, n)
    if not force and _cached(marker) and _mysql_table_exists(table):
        return 0.0
    started = time.perf_counter()
    with pymysql.connect(host="127.0.0.1", user="root", autocommit=True, charset="utf8mb4") as conn, \
            conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {SOURCE_DB}")
        cur.execute(f"DROP TABLE IF EXISTS {SOURCE_DB}.{table}")
        cur.execute(case.create.format(table=f"{SOURCE_DB}.{table}"))
        cur.execute("SET SESSION time_zone = '+00:00'")
        for low in range(1, n + 1, BATCH_ROWS):
            high = min(n, low + BATCH_ROWS - 1)
            # seq_<low>_to_<high>: a generated sequence, nothing materialized; each batch commits on its own
            cur.execute(f"INSERT INTO {SOURCE_DB}.{table} SELECT {case.fill.format(offset=case.key_offset)} "
                        f"FROM {SOURCE_DB}.seq_{low}_to_{high}")
        cur.execute(f"ANALYZE TABLE {SOURCE_DB}.{table}")
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(json.dumps({"version": BUILD_VERSION}))
    return time.perf_counter() - started


def build_target(case: TableCase, n: int, route: str, force: bool) -> dict[str, Any]:
    """Copy the source DMS-style into the route's target and plant the 25 differences; returns the truth."""
    import psycopg

    table, schema = table_name(case, n), target_schema(case, n)
    database = TARGET_DBS[route]
    dsn = prepare_redshift_standin(database) if route == "redshift" else _plain_postgres(database)
    path = _marker("truth", route, case.name, n)
    truth = _cached(path)
    if truth and not force and _pg_table_exists(dsn, schema, table):
        return truth
    started = time.perf_counter()
    copy_schema(MySQLParams(), dsn, SOURCE_DB, schema, tables=[table], target=route)
    copied = time.perf_counter()
    rng = random.Random(f"{case.name}-{n}")
    seqs = rng.sample(range(1, n + 1), 8 + len(case.changed_columns))
    missing = sorted(s + case.key_offset for s in seqs[:8])
    changed = sorted((s + case.key_offset, c) for s, c in zip(seqs[8:], case.changed_columns))
    extra = sorted(n + case.key_offset + rng.randint(1, 1000) * 10 + i for i in range(8))
    target = f"{schema}.{table}"
    with psycopg.connect(dsn) as conn:
        conn.execute(f"DELETE FROM {target} WHERE id = ANY(%s)", (missing,))
        for new_id in extra:
            conn.execute(f"INSERT INTO {target} ({', '.join(case.columns)}) VALUES (%s, {case.extra_values})",
                         (new_id,))
        for row_id, column in changed:
            conn.execute(f"UPDATE {target} SET {case.changes[column]} WHERE id = %s", (row_id,))
    with psycopg.connect(dsn, autocommit=True) as conn:
        # hint bits and visibility map set now, so the first timed scan does not pay for them
        conn.execute(f"VACUUM (ANALYZE) {target}")
    truth = {"version": BUILD_VERSION, "n": n, "missing": missing, "extra": extra,
             "changed": [[i, c] for i, c in changed], "copy_s": round(copied - started, 1)}
    path.write_text(json.dumps(truth))
    return truth


def _plain_postgres(database: str) -> str:
    import psycopg

    with psycopg.connect(pg_dsn("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')
    return pg_dsn(database)


# ------------------------------------------------------------------------------------- measurement

def raw_floor_sql(case: TableCase, n: int, side: str) -> str:
    """The RAW floor's query on one side (see the module docstring)."""
    if side == "source":
        joined = ", ".join(case.columns)
        return (f"SELECT COUNT(*), SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', {joined})), 1, 15), 16, 10) "
                f"AS UNSIGNED)) FROM {SOURCE_DB}.{table_name(case, n)}")
    joined = ", ".join(f"{c}::text" for c in case.columns)
    return (f"SELECT COUNT(*), SUM(('x' || SUBSTR(MD5(CONCAT_WS('|', {joined})), 1, 15))::bit(60)::bigint) "
            f"FROM {target_schema(case, n)}.{table_name(case, n)}")


def crc32_sql(case: TableCase, n: int) -> str:
    return (f"SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', {', '.join(case.columns)}))) "
            f"FROM {SOURCE_DB}.{table_name(case, n)}")


def parallel_value(text: str) -> Any | None:
    """The Settings value of scan_parallelism for ``text``, parsed as the option itself parses it; None when
    this dmsval has no scan_parallelism setting yet."""
    if "scan_parallelism" not in {f.name for f in dataclasses.fields(Settings)}:
        return None
    spec = next((o for o in OPTIONS if o.name == "scan_parallelism"), None)
    return spec.parse(text) if spec is not None else text


def bench_settings(parallel: str | None) -> Settings:
    # split_rows: one case per table, as the floors scan the whole table once
    extra: dict[str, Any] = {}
    if parallel is not None and parallel_value(parallel) is not None:
        extra["scan_parallelism"] = parallel_value(parallel)
    return Settings(diff_sample=1000, split_rows=10**12, **extra)


def open_engines(route: str, shim_port: int | None) -> tuple[Engine, Engine]:
    source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", SOURCE_DB, ""), role="source",
                         query_timeout_s=7200)
    if route == "redshift":
        target = open_engine("redshift", Credentials("127.0.0.1", shim_port, "postgres", TARGET_DBS[route], "x"),
                             role="target", query_timeout_s=7200)
    else:
        target = open_engine("postgres", Credentials("127.0.0.1", 5432, "postgres", TARGET_DBS[route], ""),
                             role="target", query_timeout_s=7200)
    return source, target


def _timed(call: Callable[[], Any]) -> float:
    """Seconds ``call`` took (each side of a floor is timed on its own, to show which side bounds it)."""
    started = time.perf_counter()
    call()
    return round(time.perf_counter() - started, 2)


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in this process (called in a child process by ``main``)."""
    case, n, route, kind = CASES[job["case"]], job["n"], job["route"], job["kind"]
    shim = RedshiftShim(upstream_port=5432) if route == "redshift" else None
    if shim is not None:
        shim.start()
    try:
        source, target = open_engines(route, shim.port if shim else None)
        pair = TablePair(SOURCE_DB, table_name(case, n), target_schema(case, n), table_name(case, n))
        settings = bench_settings(job.get("parallel"))
        for engine in (source, target):
            engine.connect()
        result: dict[str, Any] = {}
        if kind == "canonical":
            source_info = source.table_info(pair.source_schema, pair.source_table)
            target_info = target.table_info(pair.target_schema, pair.target_table)
            ctx = CheckContext(settings, (pair,), source, target)
            diff = TableDiff(Case("row_diff", pair.source_name, pair), ctx, pair, source_info, target_info)
            sqls = [f"SELECT COUNT(*), {s.engine.sum_ints(s.engine.hash_int(s.row_hash))} FROM {s.table}"
                    for s in diff.sides]
            started = time.perf_counter()
            result["sides"] = on_both_sides(lambda: _timed(lambda: diff.sides[0].run(sqls[0])),
                                            lambda: _timed(lambda: diff.sides[1].run(sqls[1])))
        elif kind == "raw":
            started = time.perf_counter()
            result["sides"] = on_both_sides(lambda: _timed(lambda: source.query(raw_floor_sql(case, n, "source"), ())),
                                            lambda: _timed(lambda: target.query(raw_floor_sql(case, n, "target"), ())))
        elif kind == "alone":
            started = time.perf_counter()
            result["raw"] = [_timed(lambda: source.query(raw_floor_sql(case, n, "source"), ())),
                             _timed(lambda: target.query(raw_floor_sql(case, n, "target"), ()))]
            result["scan"] = {}
            for label, value in (("1", "1"), ("par", job.get("parallel") or "1")):
                timings: list[float] = []
                with one_side_at_a_time(timings):
                    diff_tables(source, target, pair, bench_settings(value))
                result["scan"][label] = timings
        elif kind == "crc32":
            started = time.perf_counter()
            source.query(crc32_sql(case, n), ())
        else:
            started = time.perf_counter()
            outcome = diff_tables(source, target, pair, settings)
            result = {"figures": outcome.figures, "details": outcome.details, "passed": outcome.passed}
        elapsed = time.perf_counter() - started
        for engine in (source, target):
            engine.close()
    finally:
        if shim is not None:
            shim.stop()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "seconds": elapsed, "peak_rss_mb": round(peak_kb / 1024, 1), **result}


@contextlib.contextmanager
def one_side_at_a_time(timings: list[float]) -> Iterator[None]:
    """row_diff's first scan with its sides one after the other (source, then target), each timed: the
    scan of each side as it runs on a machine of its own. Same statements and ranges as row_diff's."""
    real = TableDiff._first_scan

    def sequential(self: TableDiff, serial: tuple[str, str], ranged: tuple[list[str], list[str]],
                   connections: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        out = []
        for i, side in enumerate(self.sides):
            started = time.perf_counter()
            if connections == 1:
                out.append(side.run(serial[i]))
            else:
                pending, parts, lock = list(range(len(ranged[i]))), [[] for _ in ranged[i]], threading.Lock()

                def lane(engine: Engine, sqls: list[str] = ranged[i]) -> None:
                    while True:
                        with lock:
                            if not pending:
                                return
                            j = pending.pop(0)
                        parts[j] = engine.query(sqls[j], ()).rows

                in_parallel([lambda e=e: lane(e) for e in side.engine.siblings(connections)])
                out.append([row for part in parts for row in part])
            timings.append(round(time.perf_counter() - started, 2))
        return out[0], out[1]

    TableDiff._first_scan = sequential  # type: ignore[method-assign]
    try:
        yield
    finally:
        TableDiff._first_scan = real  # type: ignore[method-assign]


def child(job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True,
                          check=False, timeout=4 * 3600)
    if done.returncode != 0:
        raise SystemExit(f"{job} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def score(truth: dict[str, Any], details: dict[str, Any]) -> tuple[float, float]:
    planted = ({("missing", i) for i in truth["missing"]} | {("extra", i) for i in truth["extra"]}
               | {("changed", i, c) for i, c in truth["changed"]})
    found = ({("missing", int(k[0])) for k in details["missing_keys"]}
             | {("extra", int(k[0])) for k in details["extra_keys"]}
             | {("changed", int(ch["key"][0]), col) for ch in details["changed"] for col in ch["columns"]})
    true_positive = len(planted & found)
    precision = true_positive / len(found) if found else 0.0
    recall = true_positive / len(planted)
    return precision, recall


def _median_ratio(numerators: list[dict[str, Any]], denominators: list[dict[str, Any]]) -> float:
    return statistics.median(a["seconds"] / b["seconds"] for a, b in zip(numerators, denominators))


def _median_s(results: list[dict[str, Any]]) -> float:
    return statistics.median(r["seconds"] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,2000000", help="comma list of row counts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--route", choices=sorted(TARGET_DBS), default="redshift")
    parser.add_argument("--cases", default="costly,classic", help=f"comma list of {sorted(CASES)}")
    parser.add_argument("--parallel", default="auto",
                        help="scan_parallelism of the parallel row_diff run (when dmsval has that setting)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the tables even if cached")
    parser.add_argument("--build-only", action="store_true", help="build (and report build time / RSS), no timing")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    cases = [CASES[c] for c in args.cases.split(",")]
    services.ensure_mariadb()
    services.ensure_postgres()
    has_parallel = parallel_value(args.parallel) is not None
    if not has_parallel:
        print("dmsval has no scan_parallelism setting yet: row_diff is timed once per run (serial)", flush=True)
    rows = []
    for case in cases:
        for n in sizes:
            source_s = build_source(case, n, args.rebuild)
            truth = build_target(case, n, args.route, args.rebuild or source_s > 0)
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{case.name} N={n} ({args.route}): source built in {source_s:.1f}s "
                  f"({'cached' if not source_s else 'new'}), DMS-style copy {truth['copy_s']}s; planted "
                  f"{len(truth['missing'])} missing, {len(truth['extra'])} extra, {len(truth['changed'])} changed; "
                  f"bench process peak RSS {peak_mb:.0f} MB", flush=True)
            if args.build_only:
                continue
            job = {"case": case.name, "n": n, "route": args.route}
            kinds: list[tuple[str, dict[str, Any]]] = [("canonical", {}), ("raw", {}), ("crc32", {}),
                                                        ("diff1", {"parallel": "1"})]
            if has_parallel:
                kinds.append(("diffpar", {"parallel": args.parallel}))
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k, _ in kinds}
            for run in range(args.runs):  # alternate, so machine noise hits every measurement alike
                for kind, extra in kinds:
                    runs[kind].append(child({**job, "kind": "diff" if kind.startswith("diff") else kind, **extra}))
                line = ", ".join(f"{k} {runs[k][-1]['seconds']:.2f}s" + (
                    " (source {}s, target {}s)".format(*runs[k][-1]["sides"]) if "sides" in runs[k][-1] else "")
                    for k, _ in kinds)
                ratio = runs["diff1"][-1]["seconds"] / runs["raw"][-1]["seconds"]
                print(f"  run {run + 1}: {line} (row_diff/raw {ratio:.2f})", flush=True)
                if has_parallel:
                    runs.setdefault("alone", []).append(child({**job, "kind": "alone", "parallel": args.parallel}))
                    a = runs["alone"][-1]
                    print(f"  run {run + 1} sides alone: raw source {a['raw'][0]}s, target {a['raw'][1]}s; "
                          f"row_diff first scan p=1 source {a['scan']['1'][0]}s, target {a['scan']['1'][1]}s; "
                          f"p={args.parallel} source {a['scan']['par'][0]}s, target {a['scan']['par'][1]}s",
                          flush=True)
            diffs = runs["diff1"] + runs.get("diffpar", [])
            scores = [score(truth, d["details"]) for d in diffs]
            rows.append({
                "case": case.name, "n": n,
                "canonical": _median_s(runs["canonical"]), "raw": _median_s(runs["raw"]),
                "crc32": _median_s(runs["crc32"]),
                "diff1": _median_s(runs["diff1"]),
                "diff1_raw": _median_ratio(runs["diff1"], runs["raw"]),
                "diff1_canon": _median_ratio(runs["diff1"], runs["canonical"]),
                "diffpar": _median_s(runs["diffpar"]) if has_parallel else None,
                "diffpar_raw": _median_ratio(runs["diffpar"], runs["raw"]) if has_parallel else None,
                "diffpar_canon": _median_ratio(runs["diffpar"], runs["canonical"]) if has_parallel else None,
                "precision": min(p for p, _ in scores), "recall": min(r for _, r in scores),
                "rss": max(d["peak_rss_mb"] for d in diffs),
                "figures": runs["diff1"][-1]["figures"],
                "alone": _alone_medians(runs.get("alone", [])),
            })
    if args.build_only:
        return 0
    _print_table(rows, args.route, args.parallel if has_parallel else None)
    if has_parallel:
        _print_alone(rows, args.parallel)
    return 0


def _alone_medians(alone: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Per side (source, target): median seconds of the raw floor and of row_diff's first scan (p=1, p=k),
    each side measured while the other was idle, and the median per-run ratios to that side's raw floor."""
    if not alone:
        return None
    out: dict[str, Any] = {}
    for i, side in enumerate(("source", "target")):
        out[side] = {
            "raw": statistics.median(a["raw"][i] for a in alone),
            "p1": statistics.median(a["scan"]["1"][i] for a in alone),
            "par": statistics.median(a["scan"]["par"][i] for a in alone),
            "p1_raw": statistics.median(a["scan"]["1"][i] / a["raw"][i] for a in alone),
            "par_raw": statistics.median(a["scan"]["par"][i] / a["raw"][i] for a in alone),
        }
    return out


def _print_alone(rows: list[dict[str, Any]], parallel: str) -> None:
    print()
    print("each side alone (the other idle, as on a machine per side): raw floor vs row_diff's first scan")
    print(f"{'case':>7} {'N':>9} {'side':>7} {'raw s':>7} {'p=1 s':>7} {'/raw':>5} {'p=' + parallel + ' s':>8} "
          f"{'/raw':>5}")
    for r in rows:
        for side, a in (r.get("alone") or {}).items():
            print(f"{r['case']:>7} {r['n']:>9} {side:>7} {a['raw']:>7.2f} {a['p1']:>7.2f} {a['p1_raw']:>5.2f} "
                  f"{a['par']:>8.2f} {a['par_raw']:>5.2f}")


def _print_table(rows: list[dict[str, Any]], route: str, parallel: str | None) -> None:
    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    columns: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("case", lambda r: r["case"]), ("N", lambda r: str(r["n"])),
        ("raw s", lambda r: fmt(r["raw"], ".2f")), ("canon s", lambda r: fmt(r["canonical"], ".2f")),
        ("crc32 src s", lambda r: fmt(r["crc32"], ".2f")),
        ("row_diff p=1 s", lambda r: fmt(r["diff1"], ".2f")),
        ("/raw", lambda r: fmt(r["diff1_raw"], ".2f")), ("/canon", lambda r: fmt(r["diff1_canon"], ".2f")),
        (f"row_diff p={parallel or '-'} s", lambda r: fmt(r["diffpar"], ".2f")),
        ("/raw ", lambda r: fmt(r["diffpar_raw"], ".2f")), ("/canon ", lambda r: fmt(r["diffpar_canon"], ".2f")),
        ("precision", lambda r: fmt(r["precision"], ".3f")), ("recall", lambda r: fmt(r["recall"], ".3f")),
        ("peak RSS MB", lambda r: fmt(r["rss"], ".1f")),
    ]
    cells = [[get(r) for _, get in columns] for r in rows]
    widths = [max(len(title), *(len(c[i]) for c in cells)) for i, (title, _) in enumerate(columns)]
    print()
    print(f"route {route}; ratios are medians of per-run ratios (row_diff time / floor time)")
    print("  ".join(title.strip().rjust(w) for (title, _), w in zip(columns, widths)))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths)))
    for r in rows:
        print(f"{r['case']} N={r['n']} row_diff figures: {r['figures']}")


if __name__ == "__main__":
    sys.exit(main())
