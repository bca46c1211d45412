"""What row_diff's row image and row hash cost, against a plain full-scan checksum, per engine.

Builds (or reuses) a 1,000,000-row MariaDB table ``dmsval_hashbench.items`` with the types DMS transforms and
its DMS-style PostgreSQL copy (database ``dmsval_hashbench``, schema ``to_postgres``, the MySQL -> PostgreSQL
route), then times full scans ``SELECT COUNT(*), SUM(<row hash>)`` of:

* raw:        MD5 of CONCAT_WS('|', raw columns), first 15 hex digits as an integer (the floor: no canonical
              forms, not injective, not comparable across engines);
* old image:  the row image + MD5 hash dmsval used before issue 11 (every canonical evaluated twice for a
              length prefix; SQL frozen in hash_cost_legacy.json, written by ``--save-legacy`` from that code);
* new image:  today's ``Engine.row_image`` + ``md5`` + ``hash_int`` (what row_diff runs);
* image only: today's image without a hash (SUM of its length): what the hash itself costs is the difference;
* crc32 pair: today's image hashed by two CRC32s instead of MD5 (MySQL only: PostgreSQL has no CRC32).

and prints seconds (median of ``--runs``) and each figure's ratio to ``raw`` per engine.

    .venv/bin/python bench/hash_cost.py [--runs 3] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
import pymysql  # noqa: E402

from dmsval.checks.base import Case, CheckContext  # noqa: E402
from dmsval.checks.row_diff import TableDiff  # noqa: E402
from dmsval.config import Settings  # noqa: E402
from dmsval.credentials import Credentials  # noqa: E402
from dmsval.engines import Engine, open_engine  # noqa: E402
from dmsval.mappings import TablePair  # noqa: E402
from devstack.datasets import MySQLParams  # noqa: E402
from devstack.dms_copy import copy_schema  # noqa: E402
from devstack.standin import prepare_redshift_standin  # noqa: E402

DB = "dmsval_hashbench"
TARGET_SCHEMA = "to_postgres"
ROWS = 1_000_000
LEGACY = Path(__file__).with_name("hash_cost_legacy.json")

CREATE = """
CREATE TABLE {db}.items (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  qty INT NOT NULL,
  name VARCHAR(40) NOT NULL,
  code CHAR(8),
  price DECIMAL(12,2),
  created DATETIME,
  updated TIMESTAMP(3) NULL,
  ratio DOUBLE,
  weight FLOAT,
  active TINYINT(1),
  note TEXT,
  status ENUM('new','paid','shipped','void'),
  born DATE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

FILL = """
INSERT INTO {db}.items
SELECT seq, (seq * 7) % 1000,
       CONCAT('item-', seq, IF(seq % 10 = 0, ' ünïcødé ✓', '')),
       IF(seq % 3 = 0, NULL, LEFT(CONCAT('c', seq), 8)),
       (seq % 100000) / 100,
       '2020-01-01 00:00:00' + INTERVAL seq SECOND,
       FROM_UNIXTIME(1600000000 + seq + (seq % 1000) / 1000),
       seq / 7e0,
       seq / 3,
       seq % 2,
       IF(seq % 5 = 0, NULL, CONCAT('note ', seq)),
       ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'void'),
       IF(seq % 1000 = 0, NULL, '1990-01-01' + INTERVAL (seq % 10000) DAY)
FROM seq_1_to_{n}
"""

RAW_COLUMNS = ["id", "qty", "name", "code", "price", "created", "updated", "ratio", "weight", "active", "note",
               "status", "born"]


def build(force: bool) -> str:
    """Create the MariaDB table and its PostgreSQL copy unless both exist with ROWS rows; returns the DSN."""
    dsn = prepare_redshift_standin(DB)
    with pymysql.connect(host="127.0.0.1", user="root", autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {DB}")
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = 'items'",
                    (DB,))
        have_source = cur.fetchone()[0] == 1 and not force
        if have_source:
            cur.execute(f"SELECT COUNT(*) FROM {DB}.items")
            have_source = cur.fetchone()[0] == ROWS
        if not have_source:
            cur.execute(f"DROP TABLE IF EXISTS {DB}.items")
            cur.execute(CREATE.format(db=DB))
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute(f"USE {DB}")
            cur.execute(FILL.format(db=DB, n=ROWS))
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{TARGET_SCHEMA}.items",)).fetchone()[0]
        rows = conn.execute(f"SELECT COUNT(*) FROM {TARGET_SCHEMA}.items").fetchone()[0] if found else 0
    if force or not have_source or rows != ROWS:
        copy_schema(MySQLParams(), dsn, DB, TARGET_SCHEMA, tables=["items"], target="postgres")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {TARGET_SCHEMA}.items")
    return dsn


def sides() -> tuple[Engine, Engine, TableDiff]:
    source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", DB, ""), role="source",
                         query_timeout_s=3600)
    target = open_engine("postgres", Credentials("127.0.0.1", 5432, "postgres", DB, ""), role="target",
                         query_timeout_s=3600)
    pair = TablePair(DB, "items", TARGET_SCHEMA, "items")
    ctx = CheckContext(Settings(), (pair,), source, target)
    source_info = source.table_info(DB, "items")
    target_info = target.table_info(TARGET_SCHEMA, "items")
    return source, target, TableDiff(Case("row_diff", pair.source_name, pair), ctx, pair, source_info, target_info)


def images(diff: TableDiff) -> dict[str, str]:
    """The row image SQL of each side (MySQL: as typed in a client, '%' not doubled)."""
    found = {}
    for side, name in zip(diff.sides, ("mysql", "postgres")):
        image = side.engine.row_image(list(side.canonical), [c.kind for c in diff.columns])
        found[name] = side.engine.shown(image)
    return found


def queries(diff: TableDiff) -> dict[str, dict[str, str]]:
    new = images(diff)
    legacy = json.loads(LEGACY.read_text()) if LEGACY.exists() else {}
    table = {"mysql": f"{DB}.items", "postgres": f"{TARGET_SCHEMA}.items"}
    mysql_hash = diff.sides[0].engine.hash_int
    postgres_hash = diff.sides[1].engine.hash_int
    raw = {"mysql": f"CONCAT_WS('|', {', '.join(RAW_COLUMNS)})",
           "postgres": f"CONCAT_WS('|', {', '.join(RAW_COLUMNS)})"}
    out: dict[str, dict[str, str]] = {"mysql": {}, "postgres": {}}
    for engine, to_int in (("mysql", mysql_hash), ("postgres", postgres_hash)):
        def scan(row_int: str, engine: str = engine) -> str:
            return f"SELECT COUNT(*), SUM({row_int}) FROM {table[engine]}"
        out[engine]["raw"] = scan(to_int(f"MD5({raw[engine]})"))
        if engine in legacy:
            out[engine]["old image"] = scan(to_int(f"MD5({legacy[engine]})"))
        out[engine]["new image"] = scan(to_int(f"MD5({new[engine]})"))
        length = "CHAR_LENGTH" if engine == "mysql" else "LENGTH"
        out[engine]["image only"] = scan(f"{length}({new[engine]})")
    # two CRC32s: of the image and of the image reversed (CRC is affine in its input, so a CRC of the image
    # behind a constant prefix would add no bits; REVERSE moves every difference to another position)
    image = new["mysql"]
    out["mysql"]["crc32 pair"] = ("SELECT COUNT(*), SUM((CRC32(i) << 28) ^ CRC32(REVERSE(i))) "
                                  f"FROM (SELECT {image} AS i FROM {table['mysql']}) AS images")
    return out


def timer(engine: str, dsn: str) -> Callable[[str], float]:
    if engine == "mysql":
        conn = pymysql.connect(host="127.0.0.1", user="root", database=DB, charset="utf8mb4", autocommit=True)

        def run_mysql(sql: str) -> float:
            started = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute(sql)
                cur.fetchall()
            return time.perf_counter() - started
        return run_mysql
    pg = psycopg.connect(dsn, autocommit=True)
    pg.execute("SET max_parallel_workers_per_gather = 0")  # one core per side, as row_diff scans both at once

    def run_postgres(sql: str) -> float:
        started = time.perf_counter()
        pg.execute(sql).fetchall()
        return time.perf_counter() - started
    return run_postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--save-legacy", action="store_true", help="freeze today's images as the 'old image'")
    parser.add_argument("--print-sql", action="store_true")
    args = parser.parse_args()
    dsn = build(args.rebuild)
    source, target, diff = sides()
    if args.save_legacy:
        if LEGACY.exists():
            raise SystemExit(f"{LEGACY} holds the images before issue 11: delete it first to freeze today's")
        LEGACY.write_text(json.dumps(images(diff), indent=1) + "\n")
        print(f"wrote {LEGACY}")
        return
    plan = queries(diff)
    for engine, named in plan.items():
        run = timer(engine, dsn)
        run(named["raw"])  # warm the buffer pool / shared buffers
        if args.print_sql:
            for name, sql in named.items():
                print(f"-- {engine} {name}\n{sql};")
        # rounds over all variants rather than runs of one: a load that comes and goes (a shared machine) then
        # slows every variant alike instead of one of them
        seconds: dict[str, list[float]] = {name: [] for name in named}
        for _ in range(args.runs):
            for name, sql in named.items():
                seconds[name].append(run(sql))
        figures = {name: statistics.median(runs) for name, runs in seconds.items()}
        floor = figures["raw"]
        print(f"{engine} ({ROWS} rows, median of {args.runs}):")
        for name, seconds in figures.items():
            print(f"  {name:<11} {seconds:7.2f}s  ratio {seconds / floor:5.2f}")
    for engine in (source, target):
        engine.close()


if __name__ == "__main__":
    main()
