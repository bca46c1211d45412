"""The pytest plugin behind ``tests_validation``: options, run planning, parametrization, reports, delivery.

Loaded by the top-level ``conftest.py``. It is active only when the invocation collects ``tests_validation``
(so the project's own ``tests/`` run without AWS or a task). Under pytest-xdist the controller plans the run
once and hands the plan to every worker (``workerinput``); workers send case results back on their reports;
the controller alone writes the results JSON, uploads and publishes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from html import escape
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any, Callable
from xml.etree import ElementTree

import pytest

from . import history, progress, redaction
from .aws import delivery
from .aws.clients import AwsContext
from .checks import Case
from .config import OPTIONS, Settings, resolve_settings
from .errors import DmsvalError, EventIgnored
from .render import html as html_render
from .render import summary as summary_render
from .render import text as text_render
from .results import CaseResult, RunResults, write_json_atomically
from .run import PlanningFailed, RunPlan, Validator, plan_run
from .sharding import parse_shard

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
        # what the verdict is computed against (controller only): this invocation's share of the planned cases
        self.planned: list[str] = plan.planned_ids(settings) if controller else []
        self.crashed: list[str] = []  # case ids whose xdist worker died while running them
        self.case_ids: dict[str, str] = {}  # pytest's (escaped) parameter id -> case id, set by pytest_configure
        self.document: dict[str, Any] | None = None  # the results document, once written
        self.results_path: Path | None = None


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
        _default_report_paths(config, settings)
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None:
            plan = RunPlan.from_dict(json.loads(workerinput["dmsval_plan"]))
        else:
            plan = plan_run(settings, dms_client=lambda aws: config.hook.pytest_dmsval_dms_client(aws=aws),
                            say=_console_line_writer(config))
    except EventIgnored as e:
        pytest.exit(f"dmsval: {e}; no checks run", returncode=0)
    except PlanningFailed as e:
        # a valid invocation that could not plan: reported and notified like any run, verdict error, exit 1
        path = report_planning_failure(config, settings, e)
        pytest.exit(f"dmsval ERROR: {redaction.scrub(str(e))} (results JSON: {path})", returncode=1)
    except DmsvalError as e:
        raise pytest.UsageError(f"dmsval: {redaction.scrub(str(e))}") from e
    state = RunState(settings, plan, controller=not hasattr(config, "workerinput"))
    state.case_ids = {param_id_of(case_id, config): case_id for case_id in state.planned}
    config.stash[_STATE] = state
    progress.configure_console(settings.progress_interval, _console_line_writer(config))
    if state.controller:
        config.pluginmanager.register(ResultCollector(state), "dmsval-results")
        _terminate_as_interrupt()


def _default_report_paths(config: pytest.Config, settings: Settings) -> None:
    """Reports go to reports/ unless the user chose other paths (read by pytest-html and junitxml, which
    configure after us because this hook is tryfirst)."""
    reports = settings.reports_path
    if config.option.htmlpath is None:
        config.option.htmlpath = str(reports / "report.html")
        config.option.self_contained_html = True
    if getattr(config.option, "xmlpath", None) is None:
        config.option.xmlpath = str(reports / "junit.xml")


def _terminate_as_interrupt() -> None:
    """SIGTERM (CodeBuild's stop and timeout, ``kill``) ends the run like Ctrl-C: pytest then finishes the session,
    so the results are written and delivered, marked incomplete, instead of the process vanishing silently."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)


def report_planning_failure(config: pytest.Config, settings: Settings, failure: PlanningFailed) -> Path:
    """Results JSON, HTML report and JUnit XML of a run that could not plan, then delivery; returns the JSON path."""
    document = RunResults(run=dict(failure.run, finished_at=_now()), cases=()).to_dict()
    html_path, junit_path = Path(config.option.htmlpath), Path(config.option.xmlpath)
    results_path = _write_document(document, settings.reports_path / RESULTS_FILE)
    _write_text(html_path, summary_render.page(document))
    _write_text(junit_path, _junit_for_failed_run(document))
    outcome = _deliver(failure.aws, settings, document, [html_path, junit_path, results_path], html_path,
                       print_line)
    document["run"]["delivery"] = outcome.to_dict()
    _write_document(document, results_path)
    _write_text(html_path, summary_render.page(document))
    return results_path


def _junit_for_failed_run(document: dict[str, Any]) -> str:
    run = document["run"]
    suite = ElementTree.Element("testsuite", name="dmsval", tests="1", errors="1", failures="0", skipped="0")
    properties = ElementTree.SubElement(suite, "properties")
    ElementTree.SubElement(properties, "property", name="dmsval_verdict", value=run["verdict"])
    case = ElementTree.SubElement(suite, "testcase", classname="dmsval", name="planning")
    error = ElementTree.SubElement(case, "error", message=f"could not {run['error']['stage']}")
    error.text = f"{run['error'].get('where') or ''}\n{run['error']['message']}"
    root = ElementTree.Element("testsuites")
    root.append(suite)
    return ElementTree.tostring(root, encoding="unicode")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(redaction.scrub(text), encoding="utf-8")
    os.replace(tmp, path)


def _write_document(document: dict[str, Any], path: Path) -> Path:
    return write_json_atomically(redaction.scrub_data(document), path)


def _console_line_writer(config: pytest.Config) -> Callable[[str], None]:
    """Where this process's progress lines go: its real stderr, also while a case runs. pytest's default fd
    capture points fd 2 at a file during each test (in xdist workers too, whose stderr is the controller's:
    execnet leaves it inherited), keeping the original fd in the capture manager, duplicated here; other capture
    modes (sys, no) leave ``sys.__stderr__`` alone. Lines are not captured, so they reach the terminal and the
    CodeBuild log while the case runs, never the report."""
    capture = getattr(config.pluginmanager.getplugin("capturemanager"), "_global_capturing", None)  # pytest internal
    saved = getattr(getattr(capture, "err", None), "targetfd_save", None)
    if isinstance(saved, int):
        stream = os.fdopen(os.dup(saved), "w", encoding="utf-8", errors="replace", buffering=1)
    else:
        stream = sys.__stderr__ or sys.stderr

    def write(line: str) -> None:
        stream.write(redaction.scrub(line) + "\n")
        stream.flush()

    return write


def print_line(text: str, **_: Any) -> None:
    print(text, flush=True)


def _deliver(aws: AwsContext, settings: Settings, document: dict[str, Any], files: list[Path], html: Path,
             say: Callable[..., None]) -> delivery.Delivery:
    """S3 and SNS, each attempted whatever the other did; what happened is said and returned for the record."""
    run = document["run"]
    outcome = delivery.deliver(aws, redaction.scrub_data(document), files, s3_uri=settings.s3_uri,
                               topic_arn=settings.sns_topic_arn, task_id=run["task"]["identifier"],
                               run_id=run["run_id"], report=html, presign_expiry=settings.presign_expiry)
    for failed, text in outcome.lines(html.parent):
        say(f"dmsval {text}" if failed else f"dmsval: {text}", red=failed)
        if failed:
            print(f"dmsval {text}", file=sys.stderr)
    return outcome


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
        progress.configure_console(0, print_line)  # stops the printer thread


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
    shard, _ = parse_shard(state.settings.shard)
    cases = [(item, _case_of(item)) for item in items]
    assignment = state.plan.shard_of(state.settings, [case for _, case in cases if case is not None])
    assert assignment is not None
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
    _scrub_report(report)  # where the report is made: this process knows the secrets it resolved
    result = item.stash.get(_CASE_RESULT, None)
    if result is not None and report.when == "call":
        data = result.to_dict()
        # a plain string attribute survives xdist's report serialisation
        report.dmsval_case = json.dumps(data, default=str, ensure_ascii=False)
        html_extras = _html_extras()
        if html_extras is not None:
            report.extras = list(getattr(report, "extras", [])) + [html_extras.html(html_render.case_fragment(data))]
    return report


def _scrub_report(report: pytest.TestReport) -> None:
    """No secret in a report's traceback or captured output (terminal, JUnit, HTML all render these)."""
    if not redaction.known():
        return
    if report.longrepr is not None:
        text = str(report.longrepr)
        scrubbed = redaction.scrub(text)
        if scrubbed != text:
            report.longrepr = scrubbed
    report.sections = [(title, redaction.scrub(content)) for title, content in report.sections]


def _html_extras() -> Any:
    try:
        from pytest_html import extras
    except ImportError:  # pytest-html is a requirement, but the plugin still works without it
        return None
    return extras


def _case_from_report(report: pytest.TestReport, case_ids: dict[str, str]) -> CaseResult | None:
    raw = getattr(report, "dmsval_case", None)
    if raw:
        return CaseResult.from_dict(json.loads(raw))
    if report.when == "call" or (report.when in ("setup", "teardown") and report.failed) \
            or (report.when == "setup" and report.skipped):
        # the case never reached the validator (e.g. a fixture error): record it from the pytest report
        case_id = case_id_of(report.nodeid, case_ids)
        check = case_id.split("[", 1)[0]
        status = "skipped" if report.skipped else "error"
        message = report.longreprtext.strip().splitlines()[-1] if report.longreprtext.strip() else report.outcome
        return CaseResult(case_id=case_id, check=check, subject=case_id, status=status, message=message,
                          error=report.longreprtext[-4000:] if status == "error" else None,
                          duration_s=report.duration, nodeid=report.nodeid)
    return None


def case_id_of(nodeid: str, case_ids: dict[str, str]) -> str:
    """``tests_validation/test_validation.py::test_check[row_count[sakila.film]]`` -> ``row_count[sakila.film]``.

    ``case_ids`` maps pytest's parameter ids back to case ids: pytest ASCII-escapes ids, so a table named
    ``größe`` appears as ``gr\\xf6\\xdfe`` in node ids."""
    param = nodeid.split("[", 1)[-1][:-1] if "[" in nodeid else nodeid
    return case_ids.get(param, param)


def param_id_of(case_id: str, config: pytest.Config) -> str:
    """The id pytest shows for a case (its parametrize id, ASCII-escaped unless the user disabled escaping)."""
    if config.getini("disable_test_id_escaping_and_forfeit_all_rights_to_community_support"):
        return case_id
    from _pytest.compat import ascii_escaped  # the escaping pytest applies to ids (pytest is pinned)

    return ascii_escaped(case_id)


class ResultCollector:
    """Controller-side plugin: gathers case results from reports, writes the results JSON, then delivers."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"DMS validation: {self.state.plan.task.identifier} ({self.state.plan.run_id})"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        _scrub_report(report)  # before the terminal, JUnit and HTML plugins see it
        if report.when == "???":  # xdist: the worker died while running this case; it has no result
            self.state.crashed.append(case_id_of(report.nodeid, self.state.case_ids))
            return
        result = _case_from_report(report, self.state.case_ids)
        if result is not None and (report.nodeid not in self.state.cases or result.status == "error"):
            self.state.cases[report.nodeid] = result

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Any:
        if session.config.option.collectonly:
            outcome = yield
            _say(session)("dmsval: --collect-only lists the cases; nothing was validated, written or delivered")
            return outcome
        document = self._write_results(session, exitstatus)  # local files first: delivery may fail
        self._junit_incomplete(session, document)
        outcome = yield  # pytest-html and junitxml write their files in the wrapped implementations
        self._finish(session, document)
        return outcome

    def _write_results(self, session: pytest.Session, exitstatus: int) -> dict[str, Any]:
        state = self.state
        finished = datetime.now(timezone.utc)
        started = datetime.fromisoformat(state.plan.started_at)
        cases = tuple(sorted(state.cases.values(), key=lambda c: c.case_id))
        done = {c.case_id for c in cases}
        not_run = [c for c in state.planned if c not in done]
        reasons = []
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            reasons.append("the run was interrupted (Ctrl-C, SIGINT or SIGTERM) before every case ran")
        reasons += [f"the xdist worker running {c} died (killed or crashed); the case has no result"
                    for c in state.crashed]
        others = len(set(not_run) - set(state.crashed))
        if others and exitstatus != pytest.ExitCode.INTERRUPTED:
            reasons.append(f"{others} planned case(s) were not run (deselected with -k/-m, not collected, or the "
                           "session stopped early, e.g. -x/--maxfail)")
        run = dict(state.plan.metadata(), finished_at=finished.isoformat(timespec="seconds"),
                   duration_s=round((finished - started).total_seconds(), 3),
                   reports={"html": session.config.option.htmlpath, "junit": session.config.option.xmlpath},
                   shard=state.settings.shard or None, planned_cases=list(state.planned),
                   incomplete_reasons=reasons if not_run else [], delivery=None)
        if state.settings.shard:  # every case of the whole run, so a merge can prove the shards covered it
            run["run_cases"] = sorted(c.case_id for c in state.plan.cases(state.settings))
        # scrubbed where it leaves the process (files, SNS, the HTML header), not here as well
        state.document = RunResults(run=run, cases=cases).to_dict()
        whole_run = not state.settings.shard  # a shard is a share of the run: its merge compares with history
        if whole_run and not state.settings.no_history:  # never raises: a read error becomes the section's text
            state.document["run"]["history"] = history.history_for(
                state.document, s3_uri=state.settings.s3_uri, aws=state.plan.aws,
                reports_dir=state.settings.reports_path)
        state.results_path = _write_document(state.document, state.settings.reports_path / RESULTS_FILE)
        if whole_run:  # the local history the next run without S3 compares with
            history.keep_local_copy(redaction.scrub_data(state.document), state.settings.reports_path)
        return state.document

    def _junit_incomplete(self, session: pytest.Session, document: dict[str, Any]) -> None:
        """JUnit readers (CodeBuild test reports) see the verdict, and every planned case that did not run as an
        error, so an incomplete run never reads as all green there either."""
        from _pytest.junitxml import xml_key

        xml = session.config.stash.get(xml_key, None)
        if xml is None:
            return
        run = document["run"]
        xml.add_global_property("dmsval_verdict", run["verdict"])
        xml.add_global_property("dmsval_planned_cases", len(run["planned_cases"]))
        reason = "; ".join(run["incomplete_reasons"]) or "not run"
        for case_id in run["missing_cases"]:
            if case_id in self.state.crashed:
                continue  # xdist already reported the crash as an error of this case
            param = param_id_of(case_id, session.config)
            nodeid = f"{SUITE_DIR}/test_validation.py::test_check[{param}]"
            location = (f"{SUITE_DIR}/test_validation.py", None, f"test_check[{param}]")
            for when, outcome, longrepr in (("setup", "failed", f"INCOMPLETE: planned case did not run ({reason})"),
                                            ("teardown", "passed", None)):
                xml.pytest_runtest_logreport(pytest.TestReport(nodeid, location, {}, outcome, longrepr, when))

    def _finish(self, session: pytest.Session, document: dict[str, Any]) -> None:
        state, config = self.state, session.config
        assert state.results_path is not None
        say = _say(session)
        run = document["run"]
        counts = run["counts"]
        missing = f", {counts['missing']} did not run" if counts["missing"] else ""
        say(f"dmsval {run['verdict'].upper()}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped, {counts['error']} errors{missing}; results JSON: {state.results_path}",
            red=run["verdict"] not in ("passed", "skipped"))
        for reason in run["incomplete_reasons"]:
            say(f"dmsval INCOMPLETE: {reason}", red=True)
        html = Path(config.option.htmlpath)
        files = [Path(p) for p in (config.option.htmlpath, config.option.xmlpath, str(state.results_path)) if p]
        outcome = _deliver(state.plan.aws, state.settings, document, files, html, say)
        run["delivery"] = outcome.to_dict()
        _write_document(document, state.results_path)  # the local copy records what delivery did
        _patch_delivery_block(html, run["delivery"])
        failed = outcome.failed or run["verdict"] == "incomplete"
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _say(session: pytest.Session) -> Callable[..., None]:
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    return tr.write_line if tr is not None else print_line


def _patch_delivery_block(html: Path, delivery_record: dict[str, Any]) -> None:
    """The local report shows what delivery did (the uploaded copy was sent before it could know)."""
    if not html.is_file():
        return
    text = html.read_text(encoding="utf-8")
    block = html_render.delivery_block(delivery_record)
    patched, count = re.subn(f'<p id="{html_render.DELIVERY_MARK}">.*?</p>', lambda _: block, text, count=1,
                             flags=re.S)
    if count:
        _write_text(html, patched)


def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        # the results document is made just before pytest-html renders: counts, verdict, cases that did not run
        run = state.document["run"] if state.document is not None else state.plan.metadata()
        prefix.append(redaction.scrub(html_render.run_header(run)))



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
