"""Unit tests of the dmsval pytest plugin (dmsval/plugin.py) with pytester: options, parametrization, the verdict,
-k / --collect-only, xdist hand-off, usage errors and secret scrubbing -- no AWS, no database.

Each test builds a small pytester project: a ``pytest.ini``, the repository's ``tests_validation/test_validation.py``
and a ``conftest.py`` that loads ``dmsval.plugin``, replaces planning (``dmsval.plugin.plan_run``) by a RunPlan
built from a dict, registers two fake checks and keeps the Validator from opening engines. What each case does is
read at run time from ``behaviour.json`` (table -> pass | fail | error | skip), so tests decide outcomes. Runs are
subprocesses: the plugin's module globals and the redaction registry must not leak between runs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
SECRET = "Sup3r-Secret-Passw0rd-4711"
TABLES = ["shop.customer", "shop.orders", "shop.größe"]
CHECKS = ["probe", "census"]

CONFTEST = r'''
import json
import os
from pathlib import Path

import dmsval.plugin
import dmsval.run
from dmsval import redaction
from dmsval.checks import Case, Check, Outcome, REGISTRY, SkipCase
from dmsval.errors import EngineError
from dmsval.run import RunPlan, Validator

pytest_plugins = ["dmsval.plugin"]

HERE = Path(__file__).resolve().parent
SECRET = __SECRET__
TABLES = __TABLES__

redaction.remember(SECRET)  # as open_side does with a resolved password, in every process (workers too)

def _endpoint(kind, engine):
    return {"arn": f"arn:aws:dms:eu-west-1:123456789012:endpoint:{kind}", "identifier": f"{kind}-ep",
            "endpoint_type": kind, "engine_name": engine, "server_name": "db.local", "port": 3306,
            "database_name": "shop", "username": "validator", "ssl_mode": "none", "secret_id": None}

PLAN = {
    "run_id": "20260101T000000Z-abc123", "started_at": "2026-01-01T00:00:00+00:00",
    "trigger": {"task_arn": "arn:aws:dms:eu-west-1:123456789012:task:TASKRES", "kind": "manual",
                "event_type": None, "detail_message": None, "event_time": None, "event_id": None},
    "aws": {"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9"},
    "task": {"arn": "arn:aws:dms:eu-west-1:123456789012:task:TASKRES", "identifier": "shop-task",
             "migration_type": "full-load", "status": "stopped", "table_mappings": {"rules": []}, "settings": {},
             "replication_instance_arn": "arn:aws:dms:eu-west-1:123456789012:rep:INST",
             "replication_instance_id": "inst", "source": _endpoint("source", "mysql"),
             "target": _endpoint("target", "redshift"), "stop_reason": None, "stats": {}},
    "mode": "full", "gate": None,
    "pairs": [{"source_schema": t.split(".")[0], "source_table": t.split(".")[1], "target_schema": "public",
               "target_table": t.split(".")[1], "column_rules": [], "filters": []} for t in TABLES],
    "checks": __CHECKS__,
    "stats": {t: {"rows": 10 * (i + 1), "key": ["id"], "key_range": None} for i, t in enumerate(TABLES)},
    "dms_tables": {}, "dms_tables_error": None, "mask_salt": None,
}


def fake_plan_run(settings, now=None, dms_client=None, say=None):
    behaviour = json.loads((HERE / "behaviour.json").read_text(encoding="utf-8"))
    if behaviour.get("__plan__") == "fail":  # as plan_run reports a login refused by the source
        from datetime import datetime, timezone
        from dmsval.aws.clients import AwsContext
        from dmsval.events import RunTrigger
        from dmsval.run import PlanningFailed, failed_run_metadata
        cause = EngineError(f"access denied for validator using password {SECRET}")
        trigger = RunTrigger(PLAN["trigger"]["task_arn"], "manual")
        where = "source endpoint source-ep"
        raise PlanningFailed(cause, stage="connect to the source", where=where, aws=AwsContext("eu-west-1"),
                             run=failed_run_metadata(settings, trigger, datetime.now(timezone.utc), None,
                                                     tuple(PLAN["checks"]), "connect to the source", where,
                                                     str(cause)))
    with open(HERE / "plan_calls.txt", "a") as fh:
        fh.write(f"{os.getpid()} {os.environ.get('PYTEST_XDIST_WORKER', 'controller')}\n")
    (HERE / "settings.json").write_text(json.dumps({"query_timeout": settings.query_timeout,
                                                   "diff_sample": settings.diff_sample,
                                                   "mode": settings.mode}))
    return RunPlan.from_dict(json.loads(json.dumps(PLAN)))


dmsval.plugin.plan_run = fake_plan_run
Validator.context = lambda self: None  # no engines: the fake checks never use the context


class _Probe(Check):
    def plan(self, settings, pairs, stats):
        return [Case(self.name, p.source_name, p) for p in pairs]

    def run(self, case, ctx):
        behaviour = json.loads((HERE / "behaviour.json").read_text(encoding="utf-8"))
        what = behaviour.get(f"{self.name}:{case.subject}", behaviour.get(case.subject, "pass"))
        figures = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "none")}
        if what == "error":
            raise EngineError(f"connection lost while reading {case.subject} (password {SECRET})")
        if what == "skip":
            raise SkipCase(f"{case.subject} not applicable")
        if what == "fail":
            return Outcome(False, f"{case.subject} differs; login used {SECRET}", figures,
                           {"source": f"SELECT '{SECRET}'"}, {"only_in_source": [[1, SECRET]]})
        return Outcome(True, f"{case.subject} ok", figures)


class Probe(_Probe):
    name = "probe"
    description = "fake check of the plugin unit tests"


class Census(_Probe):
    name = "census"
    description = "second fake check of the plugin unit tests"
'''


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in list(os.environ):
        if name.startswith("DMSVAL_") or name in ("DMS_EVENT", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    conftest = (CONFTEST.replace("__SECRET__", repr(SECRET)).replace("__TABLES__", repr(TABLES))
                .replace("__CHECKS__", repr(CHECKS)))
    pytester.makeconftest(conftest)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    suite = pytester.mkdir("tests_validation")
    (suite / "test_validation.py").write_text((REPO / "tests_validation" / "test_validation.py").read_text())
    behave(pytester, {})
    return pytester


def behave(pytester: pytest.Pytester, behaviour: dict[str, str]) -> None:
    (pytester.path / "behaviour.json").write_text(json.dumps(behaviour), encoding="utf-8")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("tests_validation", *args, timeout=60)


def results(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / "reports" / "results.json").read_text(encoding="utf-8"))


def statuses(document: dict[str, Any]) -> dict[str, str]:
    return {c["case_id"]: c["status"] for c in document["cases"]}


ALL_CASES = sorted(f"{check}[{table}]" for check in CHECKS for table in TABLES)


# -- options -------------------------------------------------------------------------------------------------

def test_every_option_is_in_help_with_its_environment_variable(project: pytest.Pytester) -> None:
    from dmsval.config import OPTIONS

    (project.path / "conftest.py").unlink()  # no patching needed: in-process is safe and faster
    out = project.runpytest_inprocess("-p", "dmsval.plugin", "--help").stdout.str()
    flat = " ".join(out.split())  # help text is wrapped at the terminal width
    assert "DMS migration validation" in out
    for spec in OPTIONS:
        assert spec.flag in out, spec.flag
        if spec.env:
            assert f"[env {spec.env}]" in flat, spec.env
    ini_block = out.split("[pytest] ", 1)[1]  # the ini section follows the command-line options
    assert re.search(r"^\s+query_timeout\s", ini_block, re.MULTILINE)


def test_options_come_from_ini_then_env_then_command_line(project: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    project.makeini("[pytest]\naddopts = -p no:cacheprovider\nquery_timeout = 42\ndiff_sample = 7\nmode = cdc\n")
    monkeypatch.setenv("DMSVAL_DIFF_SAMPLE", "9")  # env beats ini
    run(project, "--mode", "full").assert_outcomes(passed=len(ALL_CASES))  # command line beats both
    settings = json.loads((project.path / "settings.json").read_text())
    assert settings == {"query_timeout": 42.0, "diff_sample": 9, "mode": "full"}


def test_a_bad_option_value_is_a_usage_error(project: pytest.Pytester) -> None:
    result = run(project, "--query-timeout", "nan")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--query-timeout" in result.stderr.str() and "nan" in result.stderr.str()
    assert not (project.path / "plan_calls.txt").exists()  # nothing planned
    assert not (project.path / "reports" / "results.json").exists()


# -- parametrization and verdict -------------------------------------------------------------------------------

def test_cases_are_parametrized_as_check_of_table_and_collect_only_writes_nothing(project: pytest.Pytester) -> None:
    result = run(project, "--collect-only", "-q")
    assert result.ret == 0
    assert "nothing was validated, written or delivered" in result.stdout.str()
    assert not (project.path / "reports" / "results.json").exists()
    ids = sorted(re.findall(r"test_check\[(.*)\]$", result.stdout.str(), re.MULTILINE))
    # pytest ASCII-escapes ids: the non-ASCII table shows escaped
    assert ids == sorted(i.encode("unicode_escape").decode("ascii") for i in ALL_CASES)
    assert "probe[shop.customer]" in ids and "census[shop.orders]" in ids


def test_all_cases_passing_is_a_passed_verdict(project: pytest.Pytester) -> None:
    result = run(project)
    result.assert_outcomes(passed=len(ALL_CASES))
    assert result.ret == 0
    doc = results(project)
    assert doc["run"]["verdict"] == "passed"
    assert statuses(doc) == {c: "passed" for c in ALL_CASES}  # non-ASCII case id mapped back from its node id
    assert doc["run"]["missing_cases"] == [] and sorted(doc["run"]["planned_cases"]) == ALL_CASES
    assert "dmsval PASSED" in result.stdout.str()
    assert (project.path / "reports" / "report.html").is_file() and (project.path / "reports" / "junit.xml").is_file()


def test_one_failing_case_fails_the_run(project: pytest.Pytester) -> None:
    behave(project, {"probe:shop.orders": "fail"})
    result = run(project)
    result.assert_outcomes(passed=len(ALL_CASES) - 1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = results(project)
    assert doc["run"]["verdict"] == "failed"
    assert [c for c, s in statuses(doc).items() if s != "passed"] == ["probe[shop.orders]"]
    assert doc["run"]["counts"]["failed"] == 1 and doc["run"]["counts"]["passed"] == len(ALL_CASES) - 1


def test_deselected_cases_make_the_run_incomplete(project: pytest.Pytester) -> None:
    result = run(project, "-k", "census")
    result.assert_outcomes(passed=len(TABLES), deselected=len(TABLES))
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # all that ran passed, yet the run must not read green
    doc = results(project)
    assert doc["run"]["verdict"] == "incomplete"
    assert doc["run"]["missing_cases"] == sorted(f"probe[{t}]" for t in TABLES)
    assert doc["run"]["counts"]["missing"] == len(TABLES)
    assert any("deselected" in r for r in doc["run"]["incomplete_reasons"])
    assert "dmsval INCOMPLETE" in result.stdout.str()
    junit = ElementTree.parse(project.path / "reports" / "junit.xml").getroot()
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["dmsval_verdict"] == "incomplete"
    errored = {case.get("name") for case in junit.iter("testcase")
               if any("INCOMPLETE: planned case did not run" in (e.get("message") or "") for e in case.iter("error"))}
    # JUnit readers see each missing case as an error, under the name pytest would have given it
    assert errored == {f"test_check[probe[{t}]]".encode("unicode_escape").decode("ascii") for t in TABLES}


def test_shards_split_the_planned_cases_and_each_shard_is_complete_on_its_own(project: pytest.Pytester) -> None:
    docs = []
    for k in (1, 2):
        result = run(project, "--shard", f"{k}/2")
        assert result.ret == 0, result.stdout.str()
        docs.append(results(project))
    ran = [sorted(statuses(d)) for d in docs]
    assert ran[0] and ran[1] and not set(ran[0]) & set(ran[1])
    assert sorted(ran[0] + ran[1]) == ALL_CASES
    for doc, cases in zip(docs, ran):
        assert doc["run"]["verdict"] == "passed"  # the other shard's cases are not "missing" here
        assert sorted(doc["run"]["planned_cases"]) == cases
        assert doc["run"]["run_cases"] == ALL_CASES  # so a merge can prove the shards covered the run


def test_xdist_hands_the_plan_to_workers_and_gives_the_same_results(project: pytest.Pytester) -> None:
    behave(project, {"probe:shop.orders": "fail", "census:shop.größe": "skip"})
    serial = run(project, "-p", "xdist", "-n", "0")
    serial_doc = results(project)
    (project.path / "plan_calls.txt").unlink()
    parallel = run(project, "-p", "xdist", "-n", "2")
    parallel_doc = results(project)
    assert serial.ret == parallel.ret == pytest.ExitCode.TESTS_FAILED
    # planned once, on the controller; the workers got the plan through workerinput
    calls = (project.path / "plan_calls.txt").read_text().split()
    assert calls[1::2] == ["controller"], calls

    def comparable(doc: dict[str, Any]) -> Any:
        return ({k: doc["run"][k] for k in ("verdict", "counts", "missing_cases", "planned_cases")},
                [(c["case_id"], c["status"], c["message"]) for c in doc["cases"]])

    assert comparable(parallel_doc) == comparable(serial_doc)
    workers = {c["figures"].get("worker") for c in parallel_doc["cases"] if c["status"] != "skipped"}
    assert workers and workers <= {"gw0", "gw1"}, workers  # the cases really ran in the workers
    assert parallel_doc["run"]["run_id"] == "20260101T000000Z-abc123"


def test_a_run_that_cannot_plan_is_reported_with_verdict_error(project: pytest.Pytester) -> None:
    behave(project, {"__plan__": "fail"})
    result = run(project)
    assert result.ret == 1  # not a usage error: the run is reported and notified like any other
    assert "dmsval ERROR: could not connect to the source" in result.stdout.str() + result.stderr.str()
    doc = results(project)
    assert doc["run"]["verdict"] == "error" and doc["cases"] == []
    assert doc["run"]["error"]["stage"] == "connect to the source"
    assert doc["run"]["error"]["where"] == "source endpoint source-ep"
    reports = project.path / "reports"
    junit = ElementTree.parse(reports / "junit.xml").getroot()
    assert {p.get("name"): p.get("value") for p in junit.iter("property")}["dmsval_verdict"] == "error"
    html = (reports / "report.html").read_text(encoding="utf-8")
    assert "could not connect to the source" in html
    for text in (json.dumps(doc), html, result.stdout.str(), result.stderr.str()):
        assert SECRET not in text


# -- secrets ---------------------------------------------------------------------------------------------------

def test_errors_and_skips_set_the_verdict_and_remembered_secrets_never_reach_the_outputs(
        project: pytest.Pytester) -> None:
    behave(project, {"probe:shop.orders": "fail", "census:shop.orders": "error", "probe:shop.customer": "skip"})
    result = run(project, "-rA")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = results(project)
    assert doc["run"]["verdict"] == "error"  # an error outranks a failure
    assert {c["case_id"]: c["status"] for c in doc["cases"] if c["status"] != "passed"} == \
        {"probe[shop.orders]": "failed", "census[shop.orders]": "error", "probe[shop.customer]": "skipped"}
    error_case = next(c for c in doc["cases"] if c["case_id"] == "census[shop.orders]")
    assert error_case["error"].startswith("EngineError: ") and "(table shop.orders)" in error_case["message"]
    reports = project.path / "reports"
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    outputs.update({p.name: p.read_text(encoding="utf-8") for p in reports.iterdir() if p.is_file()})
    assert {"results.json", "report.html", "junit.xml"} <= set(outputs)
    for name, text in outputs.items():
        assert SECRET not in text, name
    assert "***" in outputs["results.json"]  # scrubbed, not merely absent
