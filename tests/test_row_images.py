"""Row images (``Engine.row_image``): injective, and identical on both engines for equal data.

row_diff compares rows by a hash of their image; two different rows with the same image would hide a
difference. Each column's piece is its canonical text as it is (fixed-grammar kinds), length-prefixed or
escaped (free text), or '~' for NULL (see ``dmsval.engines.mysql.image_piece``). Here rows crafted to collide
under a careless scheme — a separator moved between adjacent columns, texts that look like a length prefix,
the NULL marker, NULL against an empty string, zero dates, subnormal and the largest floats — are imaged on a
real MariaDB source and on its DMS-style copies (PostgreSQL behind the Redshift wire shim, and plain
PostgreSQL), in both free-text piece forms.

Names carry the xdist worker id: MariaDB database and PostgreSQL database ``dmsval_img_<worker>``.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any, Iterator

import psycopg
import pymysql
import pytest

from dmsval.checks.base import Case, CheckContext
from dmsval.checks.row_diff import Column, RowDiff, TableDiff
from dmsval.config import Settings
from dmsval.credentials import Credentials
from dmsval.engines import Engine, open_engine
from dmsval.mappings import TablePair
from devstack.datasets import MySQLParams
from devstack.dms_copy import copy_schema

from .conftest import create_mysql_database, create_pg_database, pg_dsn

pytestmark = pytest.mark.integration

MYSQL = MySQLParams()
ROUTES = ("redshift", "postgres")  # target engine; the schema of the copy has the same name

CREATE = """
CREATE TABLE t (
  id INT PRIMARY KEY,
  a VARCHAR(20),
  n INT,
  b VARCHAR(20),
  c CHAR(5),
  d DATE,
  ts DATETIME(3),
  f DOUBLE,
  bits BIT(4)
) DEFAULT CHARSET=utf8mb4
"""

#: (a, n, b): texts around the separator, the length-prefix and escape marks, the NULL marker
TEXTS = [
    ("a|", 1, "b"), ("a", 1, "|b"), ("a||", 1, "b"), ("a|", 1, "|b"), ("a", 1, "||b"),
    (None, 1, ""), ("", 1, None), ("~", 1, None), (None, 1, "~"), (None, 1, None), ("", 1, ""),
    ("1:a", 1, None), ("1:a|1", 1, "b"), ("a|1", 1, "1:b"), ('"', 1, '"|'), ('"|', 1, '"'),
    ("|", 1, "|"), ("||", 1, ""), ("", 1, "||"), ("~|", 1, "~"), ("7|8", 9, "x"), ("7", 8, "9|x"),
    ("7|8|9", None, "x"), ("a:b", 2, ":"), ("ü|✓", 3, "✓|ü"),
    ('x|1|"y', 1, "z"), ("x", 1, 'y|1|"z'), ("x|1|2:y", 1, "z"), ("x", 1, "y|1|2:z"),  # a whole next piece inside
]
BASE = {"c": "'x'", "d": "'2020-01-01'", "ts": "'2020-01-01 00:00:00.000'", "f": "0.5", "bits": "b'0101'"}
#: one column set apart from BASE: zero and partial zero dates (NULL on the target), float extremes, bits
SPECIAL = [
    {"d": "'0000-00-00'"}, {"d": "NULL"}, {"d": "'2020-00-15'"}, {"d": "'0001-01-01'"}, {"d": "'0000-01-01'"},
    {"ts": "'0000-00-00 00:00:00'"}, {"ts": "NULL"}, {"ts": "'2020-05-00 10:00:00.123'"},
    {"ts": "'0001-01-01 00:00:00.001'"}, {"ts": "'9999-12-31 23:59:59.999'"},
    {"f": "5e-324"}, {"f": "-5e-324"}, {"f": "2.2250738585072014e-308"}, {"f": "1.7976931348623157e308"},
    {"f": "-1.7976931348623157e308"}, {"f": "0"}, {"f": "NULL"}, {"f": "1e-300"},
    {"bits": "b'0000'"}, {"bits": "NULL"}, {"bits": "b'1111'"},
    {"c": "'|'"}, {"c": "'~'"}, {"c": "''"}, {"c": "NULL"}, {"c": "'1:|'"},
]


def _literal(value: Any) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def rows_sql() -> list[str]:
    rows = []
    for i, (a, n, b) in enumerate(TEXTS, start=1):
        rows.append(f"({i}, {_literal(a)}, {'NULL' if n is None else n}, {_literal(b)}, {BASE['c']}, {BASE['d']}, "
                    f"{BASE['ts']}, {BASE['f']}, {BASE['bits']})")
    for i, change in enumerate(SPECIAL, start=101):
        v = {**BASE, **change}
        rows.append(f"({i}, 'a', 1, 'b', {v['c']}, {v['d']}, {v['ts']}, {v['f']}, {v['bits']})")
    return rows


class Images:
    def __init__(self, suffix: str, shim_port: int) -> None:
        self.db = f"dmsval_img_{suffix}"
        self.shim_port = shim_port

    def source_sql(self, *statements: str) -> None:
        conn = pymysql.connect(host=MYSQL.host, port=MYSQL.port, user=MYSQL.user, password=MYSQL.password,
                               database=self.db, charset="utf8mb4", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_mode = ''")  # zero and partial zero dates, as old MySQL data has them
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def target_sql(self, *statements: str) -> None:
        with psycopg.connect(pg_dsn(self.db), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    @contextlib.contextmanager
    def engines(self, route: str) -> Iterator[tuple[Engine, Engine]]:
        source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", self.db, ""), role="source",
                             query_timeout_s=300)
        if route == "redshift":
            target = open_engine("redshift", Credentials("127.0.0.1", self.shim_port, "postgres", self.db, "x"),
                                 role="target", query_timeout_s=300)
        else:
            target = open_engine("postgres", Credentials("127.0.0.1", 5432, "postgres", self.db, ""),
                                 role="target", query_timeout_s=300)
        try:
            yield source, target
        finally:
            source.close()
            target.close()

    def pair(self, route: str) -> TablePair:
        return TablePair(self.db, "t", route, "t")

    def columns(self, source: Engine, target: Engine, route: str) -> list[Column]:
        """The compared columns with row_diff's own kinds (the key left out: it would make every image unique)."""
        pair = self.pair(route)
        ctx = CheckContext(Settings(), (pair,), source, target)
        diff = TableDiff(Case("row_diff", pair.source_name, pair), ctx, pair, source.table_info(self.db, "t"),
                         target.table_info(route, "t"))
        return [c for c in diff.columns if c.source.name != "id"]

    def images(self, engine: Engine, table: str, columns: list[Column], is_source: bool) -> dict[int, tuple[Any, ...]]:
        """id -> (image, canonical values...) as ``engine`` renders them."""
        def info(c: Column) -> Any:
            return c.source if is_source else c.target

        canonical = [engine.canonical(engine.quote(info(c).name), c.kind, info(c)) for c in columns]
        image = engine.row_image(canonical, [c.kind for c in columns])
        rows = engine.query(f"SELECT id, {image}, {', '.join(canonical)} FROM {table} ORDER BY id", ()).rows
        return {int(r[0]): tuple(r[1:]) for r in rows}


@pytest.fixture(scope="module")
def img(databases: None, redshift_shim: Any, worker_id_suffix: str) -> Images:
    images = Images(worker_id_suffix, redshift_shim.port)
    create_mysql_database(images.db)
    create_pg_database(images.db)
    images.source_sql(CREATE, "INSERT INTO t VALUES " + ", ".join(rows_sql()))
    for route in ROUTES:
        copy_schema(MYSQL, pg_dsn(images.db), images.db, route, tables=["t"], target=route)
    return images


def cut_form(columns: list[Column]) -> list[Column]:
    """The same columns with the free-text kinds given a cut (as wide as the values): their escaped piece form."""
    return [replace(c, kind=replace(c.kind, cut_bytes=80)) if c.kind.name in ("text", "char") else c
            for c in columns]


def classes(images: dict[int, tuple[Any, ...]], part: slice) -> set[frozenset[int]]:
    """Ids grouped by equal ``part`` of their row (the image, or the canonical values)."""
    groups: dict[Any, set[int]] = {}
    for row_id, row in images.items():
        groups.setdefault(row[part], set()).add(row_id)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("form", ["whole", "cut"])
@pytest.mark.parametrize("route", ROUTES)
def test_images_are_equal_exactly_when_the_canonical_values_are(img: Images, route: str, form: str) -> None:
    """On either engine, two rows have the same image if and only if all their canonical values are equal (NULL
    included): the zero dates (NULL, as DMS writes them) are the only rows sharing an image."""
    with img.engines(route) as (source, target):
        columns = img.columns(source, target, route)
        assert {c.kind.name for c in columns} >= {"text", "int", "char", "date", "datetime", "float", "bit"}
        if form == "cut":
            columns = cut_form(columns)
        for engine, table, is_source in ((source, "t", True), (target, f"{route}.t", False)):
            images = img.images(engine, table, columns, is_source)
            assert len(images) == len(TEXTS) + len(SPECIAL)
            assert classes(images, slice(0, 1)) == classes(images, slice(1, None)), engine.name
            shared = sorted(sorted(g) for g in classes(images, slice(0, 1)) if len(g) > 1)
            # zero date / NULL / partial zero date / year 0, and the same for the DATETIME column
            assert shared == [[101, 102, 103, 105], [106, 107, 108]], engine.name


@pytest.mark.parametrize("form", ["whole", "cut"])
@pytest.mark.parametrize("route", ROUTES)
def test_equal_data_gives_the_same_image_on_source_and_target(img: Images, route: str, form: str) -> None:
    """The DMS-style copy's images are the source's, character for character, for every crafted row."""
    with img.engines(route) as (source, target):
        columns = img.columns(source, target, route)
        if form == "cut":
            columns = cut_form(columns)
        mine = img.images(source, "t", columns, True)
        theirs = img.images(target, f"{route}.t", columns, False)
        differing = {i: (mine[i], theirs.get(i)) for i in mine if mine[i] != theirs.get(i)}
        assert differing == {}


@pytest.mark.parametrize("route", ROUTES)
def test_row_diff_finds_a_separator_moved_between_columns_and_null_swapped_with_empty(img: Images,
                                                                                       route: str) -> None:
    """Differences that a naive image (values joined by '|', NULL as '') would hide are found by row_diff."""
    pair = img.pair(route)
    with img.engines(route) as (source, target):
        outcome = RowDiff().run(Case("row_diff", pair.source_name, pair),
                                CheckContext(Settings(), (pair,), source, target))
    assert outcome.passed, (outcome.message, outcome.details)  # zero dates against NULL included
    img.target_sql(f"UPDATE {route}.t SET a = 'a', b = '|b' WHERE id = 1",  # was ('a|', 'b')
                   f"UPDATE {route}.t SET a = '', b = NULL WHERE id = 6",  # was (NULL, '')
                   f"UPDATE {route}.t SET a = NULL WHERE id = 8",  # was ('~', NULL)
                   f"UPDATE {route}.t SET a = '~' WHERE id = 10")  # was (NULL, NULL)
    try:
        with img.engines(route) as (source, target):
            outcome = RowDiff().run(Case("row_diff", pair.source_name, pair),
                                    CheckContext(Settings(), (pair,), source, target))
    finally:
        copy_schema(MYSQL, pg_dsn(img.db), img.db, route, tables=["t"], target=route)
    assert not outcome.passed
    d = outcome.details
    assert (d["missing_keys"], d["extra_keys"]) == ([], [])
    assert sorted((c["key"], sorted(c["columns"])) for c in d["changed"]) == [
        (["1"], ["a", "b"]), (["10"], ["a"]), (["6"], ["a", "b"]), (["8"], ["a"])]
