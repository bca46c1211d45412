"""The pytest plugin behind ``tests_validation``: options, run planning, parametrization, reports, delivery.

Loaded by the top-level ``conftest.py``. It is active only when the invocation collects ``tests_validation``
(so the project's own ``tests/`` run without AWS or a task). Under pytest-xdist the controller plans the run
once and hands the plan to every worker (``workerinput``); workers send case results back on their reports;
the controller alone writes the results JSON, uploads and publishes.
"""

from __future__ import annotations

import json
import sys
from html import escape
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from .aws import delivery
from .checks import Case
from .config import OPTIONS, Settings, resolve_settings
from .errors import DeliveryError, DmsvalError, EventIgnored
from .render import html as html_render
from .render import text as text_render
from .results import CaseResult, RunResults
from .run import RunPlan, Validator, plan_run
from .sharding import assign, parse_shard

SUITE_DIR = "tests_validation"
RESULTS_FILE = "results.json"
_STATE = pytest.StashKey["RunState"]()
_CASE_RESULT = pytest.StashKey[CaseResult]()


class RunState:
    def __init__(self, settings: Settings, plan: RunPlan, controller: bool) -> None:
        self.settings = settings
        self.plan = plan
        self.controller = controller
        self.validator = Validator(settings, plan)
        self.cases: dict[str, CaseResult] = {}
        self.results_path: Path | None = None
        self.delivery_error: str | None = None


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dmsval", "DMS migration validation")
    for spec in OPTIONS:
        env = f" [env {spec.env}]" if spec.env else ""
        if spec.switch:
            group.addoption(spec.flag, dest=f"dmsval_{spec.name}", action="store_const", const="true", default=None,
                            help=spec.help + env)
        else:
            group.addoption(spec.flag, dest=f"dmsval_{spec.name}", default=None, help=spec.help + env)
        parser.addini(spec.name, spec.help + env, default=None)


def _is_active(config: pytest.Config) -> bool:
    suite = (config.rootpath / SUITE_DIR).resolve()
    for arg in config.args:
        path = Path(arg.split("::")[0])
        path = (path if path.is_absolute() else Path(config.invocation_params.dir) / path).resolve()
        if path == suite or suite in path.parents:
            return True
    return False


def _settings(config: pytest.Config) -> Settings:
    cli = {spec.name: config.getoption(f"dmsval_{spec.name}") for spec in OPTIONS}
    ini = {spec.name: config.getini(spec.name) for spec in OPTIONS}
    return resolve_settings(cli, ini, rootdir=str(config.rootpath))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not _is_active(config):
        return
    try:
        settings = _settings(config)
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None:
            plan = RunPlan.from_dict(json.loads(workerinput["dmsval_plan"]))
        else:
            plan = plan_run(settings, dms_client=lambda aws: config.hook.pytest_dmsval_dms_client(aws=aws))
    except EventIgnored as e:
        pytest.exit(f"dmsval: {e}; no checks run", returncode=0)
    except DmsvalError as e:
        raise pytest.UsageError(f"dmsval: {e}") from e
    reports = settings.reports_path
    # Reports go to reports/ unless the user chose other paths (read by pytest-html and junitxml, which
    # configure after us because this hook is tryfirst).
    if config.option.htmlpath is None:
        config.option.htmlpath = str(reports / "report.html")
        config.option.self_contained_html = True
    if getattr(config.option, "xmlpath", None) is None:
        config.option.xmlpath = str(reports / "junit.xml")
    state = RunState(settings, plan, controller=not hasattr(config, "workerinput"))
    config.stash[_STATE] = state
    if state.controller:
        config.pluginmanager.register(ResultCollector(state), "dmsval-results")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand the plan (no secrets in it) to each worker."""
    state = node.config.stash.get(_STATE, None)
    if state is not None:
        node.workerinput["dmsval_plan"] = json.dumps(state.plan.to_dict())


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.validator.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "validation_case" not in metafunc.fixturenames:
        return
    state = metafunc.config.stash.get(_STATE, None)
    if state is None:
        raise pytest.UsageError(f"dmsval: run the suite as 'pytest {SUITE_DIR}' (validation cases are planned "
                                "only when the invocation collects that folder)")
    cases = state.plan.cases(state.settings)
    metafunc.parametrize("validation_case", cases, ids=[c.case_id for c in cases])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--shard K/N: keep this shard's cases, deselect the others."""
    state = config.stash.get(_STATE, None)
    if state is None or not state.settings.shard:
        return
    shard, shards = parse_shard(state.settings.shard)
    cases = [(item, _case_of(item)) for item in items]
    assignment = assign([case for _, case in cases if case is not None], state.plan.stats, shards)
    keep = [item for item, case in cases if case is None or assignment[case.case_id] == shard]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item, case in cases if item not in keep])
        items[:] = keep


def _case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("validation_case") if callspec is not None else None
    return case if isinstance(case, Case) else None


@pytest.fixture
def run_case(request: pytest.FixtureRequest) -> Callable[[Case], CaseResult]:
    """Run a validation case and turn its result into the pytest outcome (failed / skipped / passed)."""
    state: RunState = request.config.stash[_STATE]

    def run(case: Case) -> CaseResult:
        result = state.validator.run(case, nodeid=request.node.nodeid)
        request.node.stash[_CASE_RESULT] = result
        if result.status == "skipped":
            pytest.skip(result.message)
        if result.status == "error":
            pytest.fail(f"ERROR {result.error}", pytrace=False)
        if result.status == "failed":
            pytest.fail(text_render.case_text(result.to_dict()), pytrace=False)
        return result

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    result = item.stash.get(_CASE_RESULT, None)
    if result is not None and report.when == "call":
        data = result.to_dict()
        # a plain string attribute survives xdist's report serialisation
        report.dmsval_case = json.dumps(data, default=str, ensure_ascii=False)
        html_extras = _html_extras()
        if html_extras is not None:
            report.extras = list(getattr(report, "extras", [])) + [html_extras.html(html_render.case_fragment(data))]
    return report


def _html_extras() -> Any:
    try:
        from pytest_html import extras
    except ImportError:  # pytest-html is a requirement, but the plugin still works without it
        return None
    return extras


def _case_from_report(report: pytest.TestReport) -> CaseResult | None:
    raw = getattr(report, "dmsval_case", None)
    if raw:
        return CaseResult.from_dict(json.loads(raw))
    if report.when == "call" or (report.when in ("setup", "teardown") and report.failed) \
            or (report.when == "setup" and report.skipped):
        # the case never reached the validator (e.g. a fixture error): record it from the pytest report
        case_id = report.nodeid.split("[", 1)[-1][:-1] if "[" in report.nodeid else report.nodeid
        check = case_id.split("[", 1)[0]
        status = "skipped" if report.skipped else "error"
        message = report.longreprtext.strip().splitlines()[-1] if report.longreprtext.strip() else report.outcome
        return CaseResult(case_id=case_id, check=check, subject=case_id, status=status, message=message,
                          error=report.longreprtext[-4000:] if status == "error" else None,
                          duration_s=report.duration, nodeid=report.nodeid)
    return None


class ResultCollector:
    """Controller-side plugin: gathers case results from reports, writes the results JSON, then delivers."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"DMS validation: {self.state.plan.task.identifier} ({self.state.plan.run_id})"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = _case_from_report(report)
        if result is not None and (report.nodeid not in self.state.cases or result.status == "error"):
            self.state.cases[report.nodeid] = result

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Any:
        self._write_results(session)  # local files first: delivery may fail, the results must not be lost
        outcome = yield  # pytest-html and junitxml write their files in the wrapped implementations
        self._deliver(session)
        return outcome

    def _write_results(self, session: pytest.Session) -> None:
        state = self.state
        finished = datetime.now(timezone.utc)
        started = datetime.fromisoformat(state.plan.started_at)
        run = dict(state.plan.metadata(), finished_at=finished.isoformat(timespec="seconds"),
                   duration_s=round((finished - started).total_seconds(), 3),
                   reports={"html": session.config.option.htmlpath, "junit": session.config.option.xmlpath},
                   shard=state.settings.shard or None)
        if state.settings.shard:  # every case of the whole run, so a merge can prove the shards covered it
            run["planned_cases"] = sorted(c.case_id for c in state.plan.cases(state.settings))
        results = RunResults(run=run, cases=tuple(sorted(state.cases.values(), key=lambda c: c.case_id)))
        state.results_path = results.write(state.settings.reports_path / RESULTS_FILE)

    def _deliver(self, session: pytest.Session) -> None:
        state, config = self.state, session.config
        assert state.results_path is not None
        tr = config.pluginmanager.get_plugin("terminalreporter")
        say: Callable[..., None] = tr.write_line if tr is not None else (lambda text, **kw: print(text))
        document = json.loads(state.results_path.read_text(encoding="utf-8"))
        counts = document["run"]["counts"]
        say(f"dmsval {document['run']['verdict'].upper()}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped, {counts['error']} errors; results JSON: {state.results_path}")
        settings, plan = state.settings, state.plan
        location = None
        try:
            if settings.s3_uri:
                files = [Path(p) for p in (config.option.htmlpath, config.option.xmlpath, str(state.results_path))
                         if p and Path(p).is_file()]
                location, keys = delivery.upload(plan.aws, settings.s3_uri, plan.task.identifier, plan.run_id,
                                                 files)
                say(f"dmsval: uploaded {len(keys)} files to {location}")
            if settings.sns_topic_arn:
                html_name = Path(config.option.htmlpath).name
                report = location + html_name if location else str(config.option.htmlpath)
                link = (delivery.presigned_link(plan.aws, report, settings.presign_expiry) if location else None)
                message_id = delivery.publish(plan.aws, settings.sns_topic_arn, document, report, link)
                say(f"dmsval: published the summary to {settings.sns_topic_arn} (message {message_id})")
        except DeliveryError as e:
            state.delivery_error = str(e)
            say(f"dmsval DELIVERY FAILED: {e} (local files kept in {state.results_path.parent})", red=True)
            print(f"dmsval: delivery failed: {e}", file=sys.stderr)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        run = state.plan.metadata()
        if state.results_path is not None:  # written just before pytest-html renders: counts and verdict
            run = json.loads(state.results_path.read_text(encoding="utf-8"))["run"]
        prefix.append(html_render.run_header(run))



def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(2, "<th>Target table</th>")
    cells.insert(3, "<th>Figures</th>")


def pytest_html_results_table_row(report: Any, cells: list[str]) -> None:
    raw = getattr(report, "dmsval_case", None)
    data = json.loads(raw) if raw else {}
    if data.get("case_id"):  # the case id reads better than the node id (and still sorts and filters)
        cells[1] = f'<td class="col-testId">{escape(data["case_id"])}</td>'
    figures = ", ".join(f"{k}={v}" for k, v in (data.get("figures") or {}).items())
    cells.insert(2, f"<td>{escape(data.get('target_table') or '')}</td>")
    cells.insert(3, f"<td>{escape(figures)}</td>")
