"""Benchmark of the row_diff check against the floor of one full-scan checksum per side.

For each N (default 200,000 and 2,000,000) it builds a table in MariaDB (``dmsval_bench.items_<N>``) with the
awkward types DMS transforms, copies it into PostgreSQL the way a DMS full load into Redshift would
(``devstack.dms_copy``), plants 25 differences of every kind (missing, extra and changed rows in 9
different columns) and then, in separate processes, alternately times

* the floor: one full-scan checksum aggregate per side (COUNT(*) and the sum of the same normalized row hash
  row_diff uses), source and target concurrently;
* row_diff on the same pair (source: pymysql; target: redshift_connector through the Redshift shim).

It prints wall time (median of the runs), the ratio to the floor (median of the runs' ratios), precision and recall against the planted
truth (a finding is a missing key, an extra key, or a changed key with the changed column) and the peak RSS
of the row_diff process. Run it outside the test suite:

    .venv/bin/python bench/row_diff_bench.py                 # both sizes, 3 runs each
    .venv/bin/python bench/row_diff_bench.py --sizes 200000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmsval.credentials import Credentials  # noqa: E402
from dmsval.checks.base import Case, CheckContext, on_both_sides  # noqa: E402
from dmsval.checks.row_diff import TableDiff, diff_tables  # noqa: E402
from dmsval.config import Settings  # noqa: E402
from dmsval.engines import Engine, open_engine  # noqa: E402
from devstack import services  # noqa: E402
from devstack.datasets import MySQLParams  # noqa: E402
from devstack.dms_copy import copy_schema  # noqa: E402
from devstack.redshift_shim import RedshiftShim  # noqa: E402
from devstack.standin import prepare_redshift_standin  # noqa: E402
from dmsval.mappings import TablePair  # noqa: E402

SOURCE_DB = "dmsval_bench"
TARGET_DB = "dmsval_bench"
BUILD_VERSION = "1"  # bump when the table or the planted defects change
CHANGED_COLUMNS = ["qty", "name", "price", "created", "updated", "ratio", "active", "note", "status"]

CREATE = """
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
"""

FILL = """
INSERT INTO {table}
SELECT seq, (seq * 7) % 1000,
       CONCAT('item-', seq, IF(seq % 10 = 0, ' ünïcødé ✓', '')),
       (seq % 100000) / 100,
       '2020-01-01 00:00:00' + INTERVAL seq SECOND,
       FROM_UNIXTIME(1600000000 + seq),
       seq / 7e0,
       seq % 2,
       IF(seq % 5 = 0, NULL, CONCAT('note ', seq)),
       ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'void'),
       IF(seq % 1000 = 0, NULL, '1990-01-01' + INTERVAL (seq % 10000) DAY)
FROM {db}.seq_1_to_{n}
"""

# How each changed column is modified in the target (PostgreSQL SQL), all beyond the comparison tolerance.
CHANGES = {
    "qty": "qty = qty + 1",
    "name": "name = name || '🙂'",
    "price": "price = price + 0.01",
    "created": "created = created + INTERVAL '1 second'",
    "updated": "updated = updated + INTERVAL '1 hour'",
    "ratio": "ratio = ratio * 1.001",
    "active": "active = 1 - active",
    "note": "note = COALESCE(note, '') || '!'",
    "status": "status = CASE WHEN status = 'void' THEN 'new' ELSE 'void' END",
}


def engines(shim_port: int) -> tuple[Engine, Engine]:
    source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", SOURCE_DB, ""), role="source",
                         query_timeout_s=3600)
    target = open_engine("redshift", Credentials("127.0.0.1", shim_port, "postgres", TARGET_DB, "x"),
                         role="target", query_timeout_s=3600)
    return source, target


def truth_path(n: int) -> Path:
    return REPO / ".local" / f"bench-truth-{n}.json"


def build(n: int, force: bool) -> dict[str, Any]:
    """Build (or reuse) items_<n> on both sides with 25 planted differences; returns the planted truth."""
    import psycopg
    import pymysql

    path = truth_path(n)
    if path.exists() and not force:
        truth = json.loads(path.read_text())
        if truth.get("version") == BUILD_VERSION:
            return truth
    table = f"items_{n}"
    started = time.perf_counter()
    with pymysql.connect(host="127.0.0.1", user="root", autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {SOURCE_DB}")
        cur.execute(f"DROP TABLE IF EXISTS {SOURCE_DB}.{table}")
        cur.execute(CREATE.format(table=f"{SOURCE_DB}.{table}"))
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute(FILL.format(table=f"{SOURCE_DB}.{table}", n=n, db=SOURCE_DB))
    built = time.perf_counter()
    dsn = prepare_redshift_standin(TARGET_DB)
    copy_schema(MySQLParams(), dsn, SOURCE_DB, f"bench_{n}", tables=[table])
    copied = time.perf_counter()
    rng = random.Random(n)
    ids = rng.sample(range(1, n + 1), 17)
    missing, changed_ids = sorted(ids[:8]), ids[8:]
    extra = sorted(n + rng.randint(1, 1000) * 10 + i for i in range(8))
    changed = sorted(zip(changed_ids, CHANGED_COLUMNS))
    with psycopg.connect(dsn) as conn:
        target = f"bench_{n}.{table}"
        conn.execute(f"DELETE FROM {target} WHERE id = ANY(%s)", (missing,))
        for new_id in extra:
            conn.execute(f"INSERT INTO {target} (id, qty, name, price, created, updated, ratio, active, note, status, "
                         f"born) VALUES (%s, 1, 'extra', 1.00, '2021-01-01', '2021-01-01', 0.5, 1, 'x', 'new', "
                         f"'2000-01-01')", (new_id,))
        for row_id, column in changed:
            conn.execute(f"UPDATE {target} SET {CHANGES[column]} WHERE id = %s", (row_id,))
        conn.execute(f"ANALYZE {target}")
    truth = {"version": BUILD_VERSION, "n": n, "missing": missing, "extra": extra,
             "changed": [[i, c] for i, c in changed],
             "build_s": round(built - started, 1), "copy_s": round(copied - built, 1)}
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(truth))
    return truth


def measure(kind: str, n: int) -> dict[str, Any]:
    """Run one measurement in this process (called in a child process by ``main``)."""
    with RedshiftShim(upstream_port=5432) as shim:
        source, target = engines(shim.port)
        pair = TablePair(SOURCE_DB, f"items_{n}", f"bench_{n}", f"items_{n}")
        settings = Settings(diff_sample=1000, split_rows=10**12)
        for engine in (source, target):
            engine.connect()
        started = time.perf_counter()
        if kind == "floor":
            source_info = source.table_info(pair.source_schema, pair.source_table)
            target_info = target.table_info(pair.target_schema, pair.target_table)
            ctx = CheckContext(settings, (pair,), source, target)
            diff = TableDiff(Case("row_diff", pair.source_name, pair), ctx, pair, source_info, target_info)
            sqls = [f"SELECT COUNT(*), {s.engine.sum_ints(s.engine.hash_int(s.row_hash))} FROM {s.table}"
                    for s in diff.sides]
            on_both_sides(lambda: diff.sides[0].run(sqls[0]), lambda: diff.sides[1].run(sqls[1]))
            result: dict[str, Any] = {}
        else:
            outcome = diff_tables(source, target, pair, settings)
            result = {"figures": outcome.figures, "details": outcome.details}
        elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "seconds": elapsed, "peak_rss_mb": round(peak_kb / 1024, 1), **result}


def child(kind: str, n: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--sizes", str(n)], capture_output=True,
                          text=True, check=False, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run for N={n} failed:\n{done.stderr[-3000:]}")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,2000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--child", choices=("floor", "diff"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        print(json.dumps(measure(args.child, sizes[0])))
        return 0
    services.ensure_mariadb()
    services.ensure_postgres()
    rows = []
    for n in sizes:
        truth = build(n, args.rebuild)
        print(f"N={n}: table built in {truth['build_s']}s, DMS-style copy in {truth['copy_s']}s; planted "
              f"{len(truth['missing'])} missing, {len(truth['extra'])} extra, {len(truth['changed'])} changed",
              flush=True)
        floors, diffs = [], []
        for run in range(args.runs):  # alternate, so machine noise hits both alike
            floors.append(child("floor", n))
            diffs.append(child("diff", n))
            print(f"  run {run + 1}: floor {floors[-1]['seconds']:.2f}s, row_diff {diffs[-1]['seconds']:.2f}s "
                  f"(ratio {diffs[-1]['seconds'] / floors[-1]['seconds']:.2f})", flush=True)
        floor_s = statistics.median(r["seconds"] for r in floors)
        diff_s = statistics.median(r["seconds"] for r in diffs)
        # the ratio of each run (floor and row_diff measured back to back) is steadier on a noisy machine
        ratio = statistics.median(d["seconds"] / f["seconds"] for f, d in zip(floors, diffs))
        precision, recall = score(truth, diffs[-1]["details"])
        rss = max(r["peak_rss_mb"] for r in diffs)
        rows.append((n, floor_s, diff_s, ratio, precision, recall, rss, diffs[-1]["figures"]))
    print()
    print(f"{'N':>10} {'floor s':>8} {'row_diff s':>10} {'ratio':>6} {'precision':>9} {'recall':>6} {'peak RSS MB':>11}")
    for n, floor_s, diff_s, ratio, precision, recall, rss, _ in rows:
        print(f"{n:>10} {floor_s:>8.2f} {diff_s:>10.2f} {ratio:>6.2f} {precision:>9.3f} {recall:>6.3f} "
              f"{rss:>11.1f}")
    for n, *_, figures in rows:
        print(f"N={n} row_diff figures: {figures}")
    if len(rows) > 1:
        print(f"peak RSS growth {rows[0][0]} -> {rows[-1][0]}: {100 * (rows[-1][6] / rows[0][6] - 1):+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
