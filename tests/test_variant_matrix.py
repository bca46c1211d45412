"""The DMS-variant matrix: the whole suite over DMS-style copies made under every *faithful* DmsVariant.

Nobody knows exactly what every DMS version does (hex case, bytes per character, unsigned widening, where LOBs
are cut, the source server's time zone). The validator must be tolerant where DMS legitimately varies and strict
on the data. For each faithful variant and each dataset - (a) Sakila, (b) the employees sample, (c) the
boundary-value schema ``datasets/boundary.sql`` - this test

1. loads the source (its own database; the time-zone variant's source is loaded in a +05:30 session),
2. copies it DMS-style under the variant into PostgreSQL (standing in for Redshift behind the wire shim),
3. registers the migration in moto as a DMS task and runs ``pytest tests_validation`` from its stopped event:
   **0 failing cases** on the clean copy,
4. plants defects on the target - a missing row, an extra row, a changed value (exact column set), a duplicated
   key, a keyless multiset difference (and, in the boundary schema, a case-only key change of a ``_ci`` key) -
   and runs the suite again: exactly the expected failing cases, each with its key and columns.

Sakila and employees have no table without a key, so the matrix adds one to its own copy of each source
(``film_actor_nokey`` / ``dept_emp_nokey``: rows of a keyed table with some of them twice).

The full matrix runs with ``DMSVAL_VARIANT_MATRIX=1`` (21 pairs, about 8 minutes on two cores). A representative
subset runs always: the default variant and the upper-case-hex variant on Sakila. ``DMSVAL_VARIANT_MATRIX_OUT=<file>`` appends one
JSON line of figures per (variant, dataset) to that file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psycopg
import pymysql
import pytest

from devstack.datasets import (BOUNDARY_ROW_COUNTS, EMPLOYEES_ROW_COUNTS, SAKILA_ROW_COUNTS, MySQLParams,
                                        load_boundary, load_employees, load_sakila)
from devstack.dms_copy import DmsVariant, copy_schema
from devstack.provision import DbEndpoint, ensure_mysql_reader, include_schema, provision
from devstack.stub_statistics import completed_tables

from .conftest import create_pg_database, pg_dsn, stopped_event

pytestmark = pytest.mark.integration

PASSWORD = "matrix-Secret-Value-7"
READER = "dmsval_matrix_reader"
MYSQL = MySQLParams()
CHECKS = "row_count,row_diff,schema,aggregates,dms_state"
CHECKS_PER_TABLE = len(CHECKS.split(","))
SUITE_ARGS: tuple[str, ...] = ()  # serial: the suite run is one process, as the demo runs it
FULL_MATRIX = os.environ.get("DMSVAL_VARIANT_MATRIX") == "1"

#: Every faithful variant the copy knows, by a short id (used in database and task names).
FAITHFUL_VARIANTS: dict[str, DmsVariant] = {
    "default": DmsVariant(),
    "hexup": DmsVariant(hex_case="upper"),
    "vc3": DmsVariant(varchar_bytes_per_char=3),
    "uwhen": DmsVariant(unsigned_widening="when_needed"),
    "unever": DmsVariant(unsigned_widening="never"),
    "lobcap": DmsVariant(lob_cut="column_capacity"),
    "tz0530": DmsVariant(source_time_zone="+05:30"),
}
#: Not in the matrix: a lossy variant (DOUBLE at 15 digits), for the diagnosis tests.
LOSSY_VARIANTS: dict[str, DmsVariant] = {"flt15": DmsVariant(float_text_digits=15, faithful=False)}


def test_matrix_holds_every_faithful_variant_and_no_lossy_one() -> None:
    assert all(v.faithful for v in FAITHFUL_VARIANTS.values())
    assert not any(v.faithful for v in LOSSY_VARIANTS.values())
    assert len({v.label for v in FAITHFUL_VARIANTS.values()}) == len(FAITHFUL_VARIANTS)


# ------------------------------------------------------------------------------------------------ datasets

@dataclass(frozen=True)
class Dataset:
    """A source dataset and what the matrix plants into its copies.

    SQL strings name the schema ``{s}`` (the source database name, which DMS keeps as the target schema).
    ``expected_failing`` are case ids ``check[table]`` (schema added); ``expect_details`` checks a planted run's
    cases and returns the problems it finds.
    """

    name: str
    load: Callable[..., Any]
    row_counts: dict[str, int]
    extra_tables_sql: tuple[str, ...] = ()  # run in the source database after loading (keyless additions)
    extra_tables: tuple[str, ...] = ()
    # unsigned_widening -> tables whose values the variant's target type cannot hold (left out of the task)
    unfit: dict[str, tuple[str, ...]] = field(default_factory=dict)
    plants: tuple[str, ...] = ()
    expected_failing: frozenset[str] = frozenset()
    expect_details: Callable[[dict[str, dict[str, Any]], str], list[str]] | None = None


def _case(by_id: dict[str, dict[str, Any]], case_id: str, problems: list[str]) -> dict[str, Any]:
    case = by_id.get(case_id)
    if case is None:
        problems.append(f"{case_id}: no such case")
        return {"details": {}, "figures": {}}
    return case


def _expect(problems: list[str], what: str, actual: Any, expected: Any) -> None:
    if actual != expected:
        problems.append(f"{what}: expected {expected!r}, got {actual!r}")


def _keyed(by_id: dict[str, dict[str, Any]], s: str, problems: list[str], *, missing: tuple[str, list[str]],
           extra: tuple[str, list[str]], changed: tuple[str, list[str], set[str]],
           duplicated: tuple[str, list[str]]) -> None:
    """The four keyed defects: each found in its table with its key (and, for the change, its columns)."""
    table, key = missing
    d = _case(by_id, f"row_diff[{s}.{table}]", problems)["details"]
    _expect(problems, f"row_diff[{table}] missing_keys", d.get("missing_keys"), [key])
    _expect(problems, f"row_diff[{table}] extra/changed", (d.get("extra_keys"), d.get("changed")), ([], []))
    f = _case(by_id, f"row_count[{s}.{table}]", problems)["figures"]
    _expect(problems, f"row_count[{table}] difference", f.get("difference"), -1)

    table, key = extra
    d = _case(by_id, f"row_diff[{s}.{table}]", problems)["details"]
    _expect(problems, f"row_diff[{table}] extra_keys", d.get("extra_keys"), [key])
    _expect(problems, f"row_diff[{table}] missing/changed", (d.get("missing_keys"), d.get("changed")), ([], []))
    f = _case(by_id, f"row_count[{s}.{table}]", problems)["figures"]
    _expect(problems, f"row_count[{table}] difference", f.get("difference"), 1)

    table, key, columns = changed
    d = _case(by_id, f"row_diff[{s}.{table}]", problems)["details"]
    got = [(c.get("key"), set(c.get("columns", {}))) for c in d.get("changed") or []]
    _expect(problems, f"row_diff[{table}] changed (key, columns)", got, [(key, columns)])
    _expect(problems, f"row_diff[{table}] missing/extra", (d.get("missing_keys"), d.get("extra_keys")), ([], []))

    table, key = duplicated
    d = _case(by_id, f"row_diff[{s}.{table}]", problems)["details"]
    _expect(problems, f"row_diff[{table}] duplicated_keys", d.get("duplicated_keys"),
            [{"key": key, "source_rows": 1, "target_rows": 2}])
    _expect(problems, f"row_diff[{table}] missing/extra/changed",
            (d.get("missing_keys"), d.get("extra_keys"), d.get("changed")), ([], [], []))


def _multiset(by_id: dict[str, dict[str, Any]], s: str, table: str, problems: list[str],
              only_source: dict[str, Any], only_target: dict[str, Any]) -> None:
    """The keyless defect: one row image fewer (2 -> 1 copies) and one new row image, as a multiset."""
    case = _case(by_id, f"row_diff[{s}.{table}]", problems)
    f, d = case["figures"], case["details"]
    _expect(problems, f"row_diff[{table}] multiset", d.get("multiset"), True)
    _expect(problems, f"row_diff[{table}] rows only in source/target",
            (f.get("rows_only_in_source"), f.get("rows_only_in_target")), (1, 1))
    images = sorted(((r.get("source_count"), r.get("target_count")), _loose(r.get("row") or {}))
                    for r in d.get("row_images") or [])
    _expect(problems, f"row_diff[{table}] row images", images,
            sorted([((2, 1), _loose(only_source)), ((0, 1), _loose(only_target))]))


def _loose(row: dict[str, Any]) -> dict[str, str | None]:
    """A row image with its values as text (canonical values are text on both engines)."""
    return {k.lower(): (None if v is None else str(v)) for k, v in row.items()}


def _sakila_details(by_id: dict[str, dict[str, Any]], s: str) -> list[str]:
    problems: list[str] = []
    _keyed(by_id, s, problems, missing=("rental", ["4242"]), extra=("payment", ["30000"]),
           changed=("customer", ["7"], {"email", "active"}), duplicated=("film_actor", ["1", "1"]))
    _multiset(by_id, s, "film_actor_nokey", problems, {"actor_id": "1", "film_id": "1"},
              {"actor_id": "999", "film_id": "1"})
    return problems


def _employees_details(by_id: dict[str, dict[str, Any]], s: str) -> list[str]:
    problems: list[str] = []
    _keyed(by_id, s, problems, missing=("salary", ["10042", "1993-03-21"]), extra=("department", ["d010"]),
           changed=("employee", ["10005"], {"first_name", "hire_date"}), duplicated=("dept_emp", ["10001", "d005"]))
    return problems + _employees_multiset(by_id, s)


def _employees_multiset(by_id: dict[str, dict[str, Any]], s: str) -> list[str]:
    problems: list[str] = []
    _multiset(by_id, s, "dept_emp_nokey", problems, {"emp_no": "10001", "dept_no": "d005"},
              {"emp_no": "99999", "dept_no": "d001"})
    return problems


def _boundary_details(by_id: dict[str, dict[str, Any]], s: str) -> list[str]:
    problems: list[str] = []
    _keyed(by_id, s, problems, missing=("texts", ["5"]), extra=("floats", ["99"]),
           changed=("temporal", ["1"], {"dt6", "t6"}), duplicated=("int_limits", ["2"]))
    _multiset(by_id, s, "nokey", problems, {"a": "1", "b": "x", "c": "2024-01-01"}, {"a": "4", "b": "z", "c": None})
    d = _case(by_id, f"row_diff[{s}.ci_keys]", problems)["details"]
    _expect(problems, "row_diff[ci_keys] missing/extra/changed (case-only key change)",
            (d.get("missing_keys"), d.get("extra_keys"), d.get("changed")), ([["Alpha"]], [["ALPHA"]], []))
    return problems


def _ids(checks: str, tables: str) -> frozenset[str]:
    return frozenset(f"{c}[{{s}}.{t}]" for c in checks.split() for t in tables.split())


SAKILA = Dataset(
    name="sakila", load=load_sakila, row_counts=dict(SAKILA_ROW_COUNTS),
    extra_tables_sql=(
        "DROP TABLE IF EXISTS film_actor_nokey",
        "CREATE TABLE film_actor_nokey AS SELECT actor_id, film_id FROM film_actor WHERE actor_id <= 20",
        "INSERT INTO film_actor_nokey SELECT actor_id, film_id FROM film_actor WHERE actor_id <= 3",
    ),
    extra_tables=("film_actor_nokey",),
    plants=(
        "DELETE FROM {s}.rental WHERE rental_id = 4242",
        "INSERT INTO {s}.payment (payment_id, customer_id, staff_id, rental_id, amount, payment_date, last_update) "
        "VALUES (30000, 1, 1, NULL, 9.99, '2006-02-15 00:00:00', '2006-02-15 00:00:00')",
        "UPDATE {s}.customer SET email = 'changed@example.com', active = 0 WHERE customer_id = 7",
        "ALTER TABLE {s}.film_actor DROP CONSTRAINT film_actor_pkey",
        "INSERT INTO {s}.film_actor SELECT * FROM {s}.film_actor WHERE actor_id = 1 AND film_id = 1",
        "DELETE FROM {s}.film_actor_nokey WHERE ctid = (SELECT ctid FROM {s}.film_actor_nokey "
        "WHERE actor_id = 1 AND film_id = 1 LIMIT 1)",
        "INSERT INTO {s}.film_actor_nokey VALUES (999, 1)",
    ),
    expected_failing=_ids("row_count", "rental payment film_actor")
    | _ids("row_diff", "rental payment customer film_actor film_actor_nokey")
    | _ids("aggregates", "rental payment customer film_actor film_actor_nokey"),
    expect_details=_sakila_details,
)

EMPLOYEES = Dataset(
    name="employees", load=load_employees, row_counts=dict(EMPLOYEES_ROW_COUNTS),
    extra_tables_sql=(
        "DROP TABLE IF EXISTS dept_emp_nokey",
        "CREATE TABLE dept_emp_nokey AS SELECT emp_no, dept_no FROM dept_emp WHERE emp_no < 10200",
        "INSERT INTO dept_emp_nokey SELECT emp_no, dept_no FROM dept_emp WHERE emp_no < 10010",
    ),
    extra_tables=("dept_emp_nokey",),
    plants=(
        "DELETE FROM {s}.salary WHERE emp_no = 10042 AND from_date = DATE '1993-03-21'",  # the largest table
        "INSERT INTO {s}.department VALUES ('d010', 'Quality Two')",
        "UPDATE {s}.employee SET first_name = 'Changed', hire_date = DATE '2000-01-01' WHERE emp_no = 10005",
        "ALTER TABLE {s}.dept_emp DROP CONSTRAINT dept_emp_pkey",
        "INSERT INTO {s}.dept_emp SELECT * FROM {s}.dept_emp WHERE emp_no = 10001",
        "DELETE FROM {s}.dept_emp_nokey WHERE ctid = (SELECT ctid FROM {s}.dept_emp_nokey "
        "WHERE emp_no = 10001 AND dept_no = 'd005' LIMIT 1)",
        "INSERT INTO {s}.dept_emp_nokey VALUES (99999, 'd001')",
    ),
    expected_failing=_ids("row_count", "salary department dept_emp")
    | _ids("row_diff", "salary department employee dept_emp dept_emp_nokey")
    | _ids("aggregates", "salary department employee dept_emp dept_emp_nokey"),
    expect_details=_employees_details,
)

BOUNDARY = Dataset(
    name="boundary", load=load_boundary, row_counts=dict(BOUNDARY_ROW_COUNTS),
    # SMALLINT UNSIGNED -> SMALLINT (the guide's table) cannot hold 32768..65535; "never" holds no unsigned maximum
    unfit={"always": ("unsigned_max_small",),
           "never": ("unsigned_max_small", "unsigned_max_int", "unsigned_max_big"),
           "when_needed": ()},
    plants=(
        "DELETE FROM {s}.texts WHERE id = 5",  # the NFC 'café' row; its NFD twin (id 6) stays
        "INSERT INTO {s}.floats VALUES (99, 1.5, 2.5)",
        "UPDATE {s}.temporal SET dt6 = dt6 + INTERVAL '1 microsecond', t6 = '-838:59:58.000000' WHERE id = 1",
        "ALTER TABLE {s}.int_limits DROP CONSTRAINT int_limits_pkey",
        "INSERT INTO {s}.int_limits SELECT * FROM {s}.int_limits WHERE id = 2",
        "DELETE FROM {s}.nokey WHERE ctid = (SELECT ctid FROM {s}.nokey WHERE a = 1 LIMIT 1)",
        "INSERT INTO {s}.nokey VALUES (4, 'z', NULL)",
        "UPDATE {s}.ci_keys SET k = 'ALPHA' WHERE k = 'Alpha'",
    ),
    expected_failing=_ids("row_count", "texts floats int_limits")
    | _ids("row_diff", "texts floats temporal int_limits nokey ci_keys")
    | _ids("aggregates", "texts floats temporal int_limits nokey"),
    expect_details=_boundary_details,
)

DATASETS = {d.name: d for d in (SAKILA, EMPLOYEES, BOUNDARY)}


# ------------------------------------------------------------------------------------------ the procedure

@dataclass
class MatrixResult:
    variant: str
    dataset: str
    tables: int
    clean_counts: dict[str, int]
    clean_failing: dict[str, str]  # case id -> first line of its message
    planted_failing: dict[str, str]
    planted_problems: list[str]
    seconds: float

    def problems(self, expected_failing: frozenset[str]) -> list[str]:
        found: list[str] = [f"clean copy: {c} failed: {m}" for c, m in sorted(self.clean_failing.items())]
        unexpected = sorted(set(self.planted_failing) - expected_failing)
        missed = sorted(expected_failing - set(self.planted_failing))
        found += [f"planted defects: unexpected failure {c}: {self.planted_failing[c]}" for c in unexpected]
        found += [f"planted defects: not found {c}" for c in missed]
        return found + [f"planted defects: {p}" for p in self.planted_problems]


def _tz_slug(time_zone: str) -> str:
    return ("p" if time_zone.startswith("+") else "m") + time_zone[1:].replace(":", "")


_prepared_sources: dict[tuple[str, str], str] = {}


def prepare_source(dataset: Dataset, time_zone: str, suffix: str) -> str:
    """The dataset loaded (once per process) in its own MariaDB database, in a session at ``time_zone``."""
    key = (dataset.name, time_zone)
    if key not in _prepared_sources:
        database = f"dmsval_mx_{dataset.name}_{_tz_slug(time_zone)}_{suffix}"
        dataset.load(MYSQL, database=database, time_zone=time_zone)
        if dataset.extra_tables_sql:
            with pymysql.connect(host=MYSQL.host, port=MYSQL.port, user=MYSQL.user, password=MYSQL.password,
                                 database=database, charset="utf8mb4", autocommit=True) as conn:
                with conn.cursor() as cur:
                    cur.execute(f"SET SESSION time_zone = '{time_zone}'")
                    for statement in dataset.extra_tables_sql:
                        cur.execute(statement)
        _prepared_sources[key] = database
    return _prepared_sources[key]


def _results(run: Any) -> dict[str, Any]:
    """The run's results document; a run that wrote none counts as a run error."""
    try:
        return run.results
    except (OSError, ValueError):
        tail = (run.stderr or run.stdout or "").strip().splitlines()[-1:] or [""]
        return {"cases": [], "run": {"error": {"message": f"exit {run.returncode}, no results.json: {tail[0]}"}}}


def _first_line(text: Any) -> str:
    return (str(text or "").strip().splitlines() or [""])[0]


def _failing(results: dict[str, Any]) -> dict[str, str]:
    """Failing case id -> first line of its message (a run-level error as ``(run)``)."""
    failing = {c["case_id"]: _first_line(c.get("message"))
               for c in results["cases"] if c["status"] in ("failed", "error")}
    error = (results.get("run") or {}).get("error")
    if error:
        failing["(run)"] = _first_line(error.get("message") if isinstance(error, dict) else error)
    return failing


def _notes(results: dict[str, Any]) -> dict[str, str]:
    """Passing cases that say something beyond "identical": a tolerated difference, a noted risk."""
    words = ("risk", "toleran", "note", "variant", "cut", "truncat")
    return {c["case_id"]: _first_line(c.get("message")) for c in results["cases"]
            if c["status"] == "passed" and any(w in str(c.get("message") or "").lower() for w in words)}


def run_variant(variant_id: str, variant: DmsVariant, dataset: Dataset, *, aws: Any, run_suite: Any,
                redshift_shim: Any, suffix: str, tmp_path: Path, record_property: Any) -> MatrixResult:
    started = time.monotonic()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        phases[name] = round(time.monotonic() - started - sum(phases.values()), 1)

    source = prepare_source(dataset, variant.source_time_zone, suffix)
    lap("source")
    unfit = set(dataset.unfit.get(variant.unsigned_widening, ()))
    tables = sorted((set(dataset.row_counts) | set(dataset.extra_tables)) - unfit)
    target_db = create_pg_database(f"dmsval_mx_{variant_id}_{dataset.name}_{suffix}")
    loaded = copy_schema(MYSQL, pg_dsn(target_db), source, source, tables=tables, variant=variant)
    lap("copy")
    stats = tmp_path / f"stats-{variant_id}-{dataset.name}.json"
    stats.write_text(json.dumps(completed_tables(loaded, source)))

    ensure_mysql_reader("127.0.0.1", 3306, READER, PASSWORD)
    rules = [include_schema(source, 1)] + [
        {"rule-type": "selection", "rule-id": str(i), "rule-name": f"exclude-{t}", "rule-action": "exclude",
         "object-locator": {"schema-name": source, "table-name": t}} for i, t in enumerate(sorted(unfit), 2)]
    made = provision(aws, name=f"mx-{variant_id}-{dataset.name}",
                     source=DbEndpoint("127.0.0.1", 3306, READER, PASSWORD, source),
                     target=DbEndpoint("127.0.0.1", redshift_shim.port, "postgres", PASSWORD, target_db),
                     table_mappings={"rules": rules})
    env = {"DMSVAL_STUB_TABLE_STATISTICS": str(stats)}
    lap("provision")
    clean = run_suite("--checks", CHECKS, *SUITE_ARGS, event=stopped_event(made.task_arn), env=env)
    lap("clean_run")
    clean_results = _results(clean)
    cases = clean_results["cases"]
    counts = {status: sum(1 for c in cases if c["status"] == status)
              for status in ("passed", "failed", "error", "skipped")}
    if len(cases) != CHECKS_PER_TABLE * len(tables):
        counts["unexpected_case_count"] = len(cases)

    with psycopg.connect(pg_dsn(target_db)) as conn:
        for statement in dataset.plants:
            conn.execute(statement.format(s=source))
    planted = run_suite("--checks", CHECKS, *SUITE_ARGS, event=stopped_event(made.task_arn), env=env)
    lap("planted_run")
    planted_results = _results(planted)
    by_id = {c["case_id"]: c for c in planted_results["cases"]}
    details = dataset.expect_details(by_id, source) if dataset.expect_details else []
    result = MatrixResult(variant.label, dataset.name, len(tables), counts, _failing(clean_results),
                          _failing(planted_results),
                          details, round(time.monotonic() - started, 1))
    figures = {"variant": result.variant, "dataset": dataset.name, "tables": len(tables),
               "clean": counts, "clean_failing": result.clean_failing, "clean_notes": _notes(clean_results),
               "planted_failing": sorted(result.planted_failing), "planted_problems": details,
               "seconds": result.seconds, "phases": phases}
    record_property("variant_matrix", json.dumps(figures))
    print(json.dumps(figures, indent=1))
    out = os.environ.get("DMSVAL_VARIANT_MATRIX_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(figures) + "\n")
    return result


def _expected(dataset: Dataset, source: str) -> frozenset[str]:
    return frozenset(c.format(s=source) for c in dataset.expected_failing)


def check_variant(variant_id: str, dataset_name: str, aws: Any, run_suite: Any, redshift_shim: Any,
                  worker_id_suffix: str, tmp_path: Path, record_property: Any) -> None:
    variant, dataset = FAITHFUL_VARIANTS[variant_id], DATASETS[dataset_name]
    result = run_variant(variant_id, variant, dataset, aws=aws, run_suite=run_suite, redshift_shim=redshift_shim,
                         suffix=worker_id_suffix, tmp_path=tmp_path, record_property=record_property)
    source = _prepared_sources[(dataset.name, variant.source_time_zone)]
    problems = result.problems(_expected(dataset, source))
    assert result.clean_counts["passed"] == CHECKS_PER_TABLE * result.tables, result.clean_counts
    assert not problems, f"{variant.label} on {dataset.name}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------------------------------- tests

#: Always on (well under a minute): the default variant and upper-case hex, on Sakila.
SUBSET = ("default", "hexup")


@pytest.mark.parametrize("variant_id", SUBSET)
def test_variant_subset_on_sakila(variant_id, aws, run_suite, redshift_shim, worker_id_suffix, tmp_path,
                                  record_property):
    """Always on: the default variant and upper-case hex on Sakila, clean copy and planted defects."""
    check_variant(variant_id, "sakila", aws, run_suite, redshift_shim, worker_id_suffix, tmp_path, record_property)


@pytest.mark.skipif(not FULL_MATRIX, reason="the full DMS-variant matrix runs with DMSVAL_VARIANT_MATRIX=1")
@pytest.mark.parametrize(("variant_id", "dataset_name"), [
    (v, d) for v in FAITHFUL_VARIANTS for d in DATASETS if not (d == "sakila" and v in SUBSET)])
def test_variant_matrix(variant_id, dataset_name, aws, run_suite, redshift_shim, worker_id_suffix, tmp_path,
                        record_property):
    """The rest of the matrix: every faithful variant on every dataset (the subset's pairs run above)."""
    check_variant(variant_id, dataset_name, aws, run_suite, redshift_shim, worker_id_suffix, tmp_path,
                  record_property)
