"""Fixtures of the project's own tests: the real local stack (MariaDB, PostgreSQL behind the Redshift shim,
moto in server mode), built by factories. Session fixtures run once per xdist worker, so every name a
fixture creates in a shared database carries the worker id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import psycopg
import pytest

from dmsval.aws.clients import AwsContext
from dmsval.credentials import Credentials
from dmsval.engines import open_engine
from dmsval.events import stopped_event
from devstack import services
from devstack.datasets import MySQLParams, load_sakila
from devstack.redshift_shim import RedshiftShim
from devstack.standin import pg_dsn, prepare_redshift_standin

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"


@pytest.fixture(scope="session")
def worker_id_suffix(request: pytest.FixtureRequest) -> str:
    worker = getattr(request.config, "workerinput", {}).get("workerid", "gw0")
    # DMSVAL_TEST_NAMESPACE lets two test runs share the machine's databases without dropping each other's
    return os.environ.get("DMSVAL_TEST_NAMESPACE", "") + worker


@pytest.fixture(scope="session", autouse=True)
def dummy_aws_credentials() -> None:
    # moto accepts any credentials; real ones must never be needed (or picked up) by the tests
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def databases() -> None:
    services.ensure_mariadb()
    services.ensure_postgres()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[services.MotoServer]:
    with services.MotoServer() as server:
        yield server


@pytest.fixture
def aws(moto_server: services.MotoServer) -> AwsContext:
    moto_server.reset()
    return AwsContext(REGION, moto_server.endpoint_url)


@pytest.fixture(scope="session")
def redshift_shim(databases: None) -> Iterator[RedshiftShim]:
    with RedshiftShim(upstream_port=5432) as shim:
        yield shim


@pytest.fixture(scope="session")
def sakila(databases: None) -> MySQLParams:
    params = MySQLParams()
    load_sakila(params)
    return params


def create_mysql_database(name: str) -> str:
    """An empty utf8mb4 MariaDB database (dropped first): the source schema of a test's tables."""
    import pymysql

    params = MySQLParams()
    conn = pymysql.connect(host=params.host, port=params.port, user=params.user, password=params.password,
                           autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return name


def create_pg_database(name: str) -> str:
    """A PostgreSQL database standing in for Redshift (with the test-only Redshift functions)."""
    prepare_redshift_standin(name)
    return name


class StandinPair:
    """A test module's empty MariaDB database and its Redshift stand-in of the same name (both created anew),
    with a source engine on the first and a target engine on the second (redshift_connector through the shim),
    and helpers that run setup statements on either side outside the engines (which are read-only)."""

    def __init__(self, name: str, shim_port: int, query_timeout_s: float = 120) -> None:
        self.db = self.pg = name
        create_mysql_database(name)
        create_pg_database(name)
        self.source = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", name, ""), role="source",
                                  query_timeout_s=query_timeout_s)
        self.target = open_engine("redshift", Credentials("127.0.0.1", shim_port, "postgres", name, "x"),
                                  role="target", query_timeout_s=query_timeout_s)

    def source_sql(self, *statements: str) -> None:
        import pymysql

        params = MySQLParams()
        conn = pymysql.connect(host=params.host, port=params.port, user=params.user, password=params.password,
                               database=self.db, charset="utf8mb4", autocommit=True)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def target_sql(self, *statements: str) -> None:
        with psycopg.connect(pg_dsn(self.pg), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def close(self) -> None:
        self.source.close()
        self.target.close()


@dataclass
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    reports: Path

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.reports / "results.json").read_text())

    def statuses(self) -> dict[str, str]:
        return {c["case_id"]: c["status"] for c in self.results["cases"]}


def suite_command(reports: Path, endpoint_url: str, args: tuple[str, ...], event: dict[str, Any] | None,
                  env: dict[str, str]) -> list[str]:
    """``pytest tests_validation`` as a user runs it, reporting into ``reports``."""
    command = [sys.executable, "-m", "pytest", "tests_validation", "--reports-dir", str(reports),
               "--aws-endpoint-url", endpoint_url, *args]
    if event is not None:
        reports.mkdir(parents=True, exist_ok=True)
        path = reports / "event.json"
        path.write_text(json.dumps(event))
        command += ["--dms-event", str(path)]
    if env.get("DMSVAL_STUB_TABLE_STATISTICS"):  # describe_table_statistics from Stubber (moto lacks it)
        command[4:4] = ["-p", "devstack.stub_statistics"]
    return command


@pytest.fixture
def run_suite(tmp_path: Path, moto_server: services.MotoServer) -> Callable[..., SuiteRun]:
    """Run ``pytest tests_validation`` as a user would (a separate process, from the repository root)."""
    counter = iter(range(1000))

    def run(*args: str, event: dict[str, Any] | None = None, env: dict[str, str] | None = None,
            timeout_s: float = 300) -> SuiteRun:
        reports = tmp_path / f"run{next(counter)}"
        full_env = dict(os.environ, **(env or {}))
        command = suite_command(reports, moto_server.endpoint_url, args, event, full_env)
        done = subprocess.run(command, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout_s)
        return SuiteRun(done.returncode, done.stdout, done.stderr, reports)

    return run


@dataclass
class StartedSuite:
    process: subprocess.Popen[str]
    reports: Path

    stderr_seen: list[str] = field(default_factory=list)  # lines read by wait_for_line, before finish

    def wait_for_line(self, text: str, timeout_s: float) -> str:
        """Read the run's stderr until a line holding ``text`` (the lines read are kept for finish)."""
        assert self.process.stderr is not None
        found: list[str] = []

        def read() -> None:
            for line in self.process.stderr:  # type: ignore[union-attr]
                self.stderr_seen.append(line)
                if text in line:
                    found.append(line)
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not found:
            raise AssertionError(f"no line with {text!r} on the run's stderr within {timeout_s:g} s; read: "
                                 f"{''.join(self.stderr_seen)[-2000:]}")
        return found[0]

    def finish(self, timeout_s: float = 120) -> SuiteRun:
        stdout, stderr = self.process.communicate(timeout=timeout_s)
        return SuiteRun(self.process.returncode, stdout, "".join(self.stderr_seen) + stderr, self.reports)


@pytest.fixture
def start_suite(tmp_path: Path, moto_server: services.MotoServer) -> Iterator[Callable[..., StartedSuite]]:
    """Start ``pytest tests_validation`` in the background (to interrupt it or kill a worker mid-run)."""
    started: list[StartedSuite] = []
    counter = iter(range(1000))

    def start(*args: str, event: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> StartedSuite:
        reports = tmp_path / f"started{next(counter)}"
        full_env = dict(os.environ, **(env or {}))
        command = suite_command(reports, moto_server.endpoint_url, args, event, full_env)
        process = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        started.append(StartedSuite(process, reports))
        return started[-1]

    yield start
    for suite in started:  # never leave a run behind, whatever the test did
        if suite.process.poll() is None:
            suite.process.kill()
            suite.process.communicate(timeout=30)


__all__ = ["REPO", "REGION", "StartedSuite", "SuiteRun", "suite_command", "create_mysql_database", "create_pg_database",
           "pg_dsn", "stopped_event"]
