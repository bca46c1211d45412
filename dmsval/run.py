"""A validation run: planned once (on the xdist controller), executed case by case (on any worker).

``plan_run`` resolves trigger -> task -> endpoints -> source catalog -> table pairs, and evaluates the CDC gate.
The plan is a frozen, JSON-serialisable value handed to xdist workers; it holds no secret. Each process then
opens its own read-only engines (credentials resolved locally, kept in memory only) in a :class:`Validator`.
"""

from __future__ import annotations

import secrets as _random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from . import progress, redaction
from .aws.clients import AwsContext, aws_context_for
from .aws.dms import TaskInfo, describe_task, table_statistics
from .aws.latency import GateVerdict, wait_for_gate
from .aws.secrets import resolve_credentials
from .checks import REGISTRY, Case, CheckContext, SkipCase, TableStats
from .checks.recheck import RecheckPolicy
from .checks.window import resolve_window, settings_for_cases
from .config import Settings
from .engines import Engine, engine_class_for, open_engine
from .errors import ConfigError, DmsvalError, EngineError, EventError, ResolutionError
from .events import RunTrigger, load_event_text, manual_trigger, parse_event
from .mappings import TablePair, parse_rules
from .masking import Masker
from .results import CaseResult
from .routes import Route, find_route
from .sharding import assign, parse_shard


class PlanningFailed(DmsvalError):
    """Planning stopped after the invocation was valid (a secret, a login, a database, an AWS call).

    Not a usage error: the run is reported with verdict ``error`` (``run`` is what is known of it, for the
    results JSON, the report and the SNS summary) and exits 1, so a build started by EventBridge still notifies.
    """

    def __init__(self, cause: DmsvalError, *, stage: str, where: str | None, run: dict[str, Any],
                 aws: AwsContext) -> None:
        super().__init__(f"could not {stage}: {cause}")
        self.stage = stage
        self.where = where
        self.run = run
        self.aws = aws
        self.cause_text = str(cause)


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + _random.token_hex(3)


def trigger_from_settings(settings: Settings) -> RunTrigger:
    if settings.dms_event:
        return parse_event(load_event_text(settings.dms_event), task_arn_override=settings.dms_task_arn)
    if settings.dms_task_arn:
        return manual_trigger(settings.dms_task_arn)
    raise EventError("nothing to validate: pass --dms-event FILE_OR_JSON (or set DMS_EVENT) or --dms-task-arn ARN")


def aws_context(settings: Settings, trigger: RunTrigger) -> AwsContext:
    return aws_context_for(trigger.task_arn, settings.aws_region, settings.aws_endpoint_url)


def selected_checks(settings: Settings) -> list[str]:
    if not settings.checks:
        return sorted(REGISTRY)
    unknown = [c for c in settings.checks if c not in REGISTRY]
    if unknown:
        raise ConfigError(f"--checks: unknown check(s) {', '.join(unknown)} (known: {', '.join(sorted(REGISTRY))})")
    return list(settings.checks)


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    started_at: str
    trigger: RunTrigger
    aws: AwsContext
    task: TaskInfo
    mode: str  # full | cdc
    gate: GateVerdict | None
    pairs: tuple[TablePair, ...]
    checks: tuple[str, ...]
    stats: dict[str, TableStats]
    dms_tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # describe_table_statistics by source name
    dms_tables_error: str | None = None
    mask_salt: str | None = None  # --mask-values: random per run, handed to workers, never written out
    #: --since: {since, until, source, columns, note} resolved once here (last-run read from the previous run)
    window: dict[str, Any] | None = None

    def cases(self, settings: Settings) -> list[Case]:
        cases: list[Case] = []
        for name in self.checks:
            cases.extend(REGISTRY[name]().plan(settings, self.pairs, self.stats))
        return cases

    def shard_of(self, settings: Settings, cases: list[Case] | None = None) -> dict[str, int] | None:
        """--shard K/N: the shard (1-based) of every case id; None when not sharded."""
        if not settings.shard:
            return None
        _, shards = parse_shard(settings.shard)
        return assign(cases if cases is not None else self.cases(settings), self.stats, shards)

    def planned_ids(self, settings: Settings) -> list[str]:
        """The case ids this invocation must run (this shard's share when sharded): what the verdict counts."""
        cases = self.cases(settings)
        shard_of = self.shard_of(settings, cases)
        if shard_of is None:
            return [c.case_id for c in cases]
        shard, _ = parse_shard(settings.shard)
        return [c.case_id for c in cases if shard_of[c.case_id] == shard]

    @property
    def route(self) -> Route | None:
        """What DMS does to each column between the task's two endpoints (None: no route known for them; the
        table checks then say so)."""
        return find_route(engine_class_for(self.task.source.engine_name).name,
                          engine_class_for(self.task.target.engine_name).name)

    @property
    def skip_reason(self) -> str | None:
        """Why every check is skipped this run (the CDC gate is closed), else None."""
        if self.gate is not None and not self.gate.open:
            return self.gate.reason
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "started_at": self.started_at, "trigger": self.trigger.to_dict(),
            "aws": self.aws.to_dict(), "task": self.task.to_dict(), "mode": self.mode,
            "gate": self.gate.to_dict() if self.gate else None, "pairs": [p.to_dict() for p in self.pairs],
            "checks": list(self.checks), "stats": {k: v.to_dict() for k, v in self.stats.items()},
            "dms_tables": self.dms_tables, "dms_tables_error": self.dms_tables_error, "mask_salt": self.mask_salt,
            "window": self.window,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunPlan":
        return cls(
            run_id=data["run_id"], started_at=data["started_at"], trigger=RunTrigger(**data["trigger"]),
            aws=AwsContext(**data["aws"]), task=TaskInfo.from_dict(data["task"]), mode=data["mode"],
            gate=GateVerdict.from_dict(data["gate"]) if data["gate"] else None,
            pairs=tuple(TablePair.from_dict(p) for p in data["pairs"]), checks=tuple(data["checks"]),
            stats={k: TableStats.from_dict(v) for k, v in data["stats"].items()},
            dms_tables=data.get("dms_tables") or {}, dms_tables_error=data.get("dms_tables_error"),
            mask_salt=data.get("mask_salt"), window=data.get("window"),
        )

    def metadata(self) -> dict[str, Any]:
        """Run metadata for the results JSON (no secrets: endpoints carry ids, hosts and users only)."""
        return {
            "run_id": self.run_id, "started_at": self.started_at, "mode": self.mode,
            "trigger": self.trigger.to_dict(),
            "task": {"arn": self.task.arn, "identifier": self.task.identifier,
                     "migration_type": self.task.migration_type, "status": self.task.status,
                     "stop_reason": self.task.stop_reason,
                     "replication_instance": self.task.replication_instance_id,
                     "settings": task_settings_summary(self.task.settings)},
            "source": self.task.source.to_dict(), "target": self.task.target.to_dict(),
            "gate": self.gate.to_dict() if self.gate else None,
            "tables": len(self.pairs), "checks": list(self.checks), "dms_tables_error": self.dms_tables_error,
            "values_masked": self.mask_salt is not None, "window": self.window,
        }


def task_settings_summary(settings: dict[str, Any]) -> dict[str, Any]:
    """The task settings that change how results read: LOB handling and what happened to existing tables."""
    meta = settings.get("TargetMetadata", {}) or {}
    full_load = settings.get("FullLoadSettings", {}) or {}
    return {"support_lobs": meta.get("SupportLobs"), "full_lob_mode": meta.get("FullLobMode"),
            "limited_lob_mode": meta.get("LimitedSizeLobMode"), "lob_max_size_kb": meta.get("LobMaxSize"),
            "target_table_prep_mode": full_load.get("TargetTablePrepMode")}


def resolve_mode(settings: Settings, trigger: RunTrigger, task: TaskInfo) -> str:
    if settings.mode != "auto":
        return settings.mode
    return "cdc" if trigger.implies_cdc or task.includes_cdc else "full"


def open_side(settings: Settings, plan_aws: AwsContext, task: TaskInfo, role: str) -> Engine:
    endpoint = task.source if role == "source" else task.target
    credentials = resolve_credentials(
        plan_aws, endpoint,
        password_secret=getattr(settings, f"{role}_password_secret"),
        password_env=getattr(settings, f"{role}_password_env"),
    )
    redaction.remember(credentials.password)  # scrubbed from every output of this process
    return open_engine(endpoint.engine_name, credentials, role=role, query_timeout_s=settings.query_timeout)


def endpoint_text(task: TaskInfo, role: str) -> str:
    endpoint = task.source if role == "source" else task.target
    secret = f", secret {endpoint.secret_id}" if endpoint.secret_id else ""
    return (f"{role} endpoint {endpoint.identifier} ({endpoint.engine_name} {endpoint.server_name}:{endpoint.port}"
            f"/{endpoint.database_name or ''}{secret})")


def failed_run_metadata(settings: Settings, trigger: RunTrigger, now: datetime, task: TaskInfo | None,
                        checks: tuple[str, ...], stage: str, where: str | None, message: str) -> dict[str, Any]:
    """Run metadata for a run that could not plan: what is known, in the shape every renderer reads."""
    unknown_endpoint = {"engine_name": "?", "identifier": "?"}
    task_part: dict[str, Any] = {"arn": trigger.task_arn, "identifier": trigger.task_arn.rsplit(":", 1)[-1],
                                 "migration_type": None, "status": None, "stop_reason": None,
                                 "replication_instance": None, "settings": {}}
    if task is not None:
        task_part.update(identifier=task.identifier, migration_type=task.migration_type, status=task.status,
                         stop_reason=task.stop_reason, replication_instance=task.replication_instance_id,
                         settings=task_settings_summary(task.settings))
    return {
        "run_id": new_run_id(now), "started_at": now.isoformat(timespec="seconds"),
        "mode": settings.mode, "trigger": trigger.to_dict(), "task": task_part,
        "source": task.source.to_dict() if task else unknown_endpoint,
        "target": task.target.to_dict() if task else unknown_endpoint,
        "gate": None, "tables": 0, "checks": list(checks), "dms_tables_error": None,
        "values_masked": settings.mask_values, "planned_cases": [],
        "error": {"stage": stage, "where": where, "message": message},  # scrubbed where it is written or sent
    }


def plan_run(settings: Settings, now: datetime | None = None,
             dms_client: Callable[[AwsContext], Any] | None = None,
             say: Callable[[str], None] | None = None) -> RunPlan:
    """Resolve everything a run needs, once.

    Raises usage errors (``DmsvalError.usage``: options, the event, an unknown task) as they are, and every other
    DmsvalError as :class:`PlanningFailed` naming the stage and the endpoint, secret or ARN involved.
    ``dms_client`` gives the client for describe_table_statistics (default: ``aws.client("dms")``); ``say``
    gets progress lines of long waits (the CDC gate).
    """
    now = now or datetime.now(timezone.utc)
    trigger = trigger_from_settings(settings)
    checks = tuple(selected_checks(settings))
    aws = aws_context(settings, trigger)
    step = _Step("read the DMS task", trigger.task_arn)
    task: TaskInfo | None = None
    try:
        task = describe_task(aws, trigger.task_arn)
        return _plan_task(settings, now, dms_client, trigger, checks, aws, task, step, say)
    except DmsvalError as e:
        if e.usage:
            raise
        raise PlanningFailed(e, stage=step.stage, where=step.where, aws=aws,
                             run=failed_run_metadata(settings, trigger, now, task, checks, step.stage, step.where,
                                                     str(e))) from e


@dataclass
class _Step:
    """What planning is doing, kept up to date as it proceeds, for the report of a run that could not plan."""

    stage: str
    where: str | None

    def at(self, stage: str, where: str | None) -> None:
        self.stage, self.where = stage, where


def _plan_task(settings: Settings, now: datetime, dms_client: Callable[[AwsContext], Any] | None,
               trigger: RunTrigger, checks: tuple[str, ...], aws: AwsContext, task: TaskInfo,
               step: _Step, say: Callable[[str], None] | None = None) -> RunPlan:
    mode = resolve_mode(settings, trigger, task)
    run_id = new_run_id(now)
    window: dict[str, Any] | None = None
    gate = None
    if mode == "cdc":
        step.at("read the CDC latency metrics", f"replication instance {task.replication_instance_id}")
        gate = wait_for_gate(aws, task.replication_instance_id, task.resource_id, settings.cdc_latency_threshold,
                             settings.cdc_lookback_minutes, wait_minutes=settings.cdc_wait_minutes,
                             poll_s=settings.cdc_poll_seconds, period_s=settings.cdc_metric_period, say=say)
    step.at("read the task's TableMappings", f"task {task.identifier}")
    mappings = parse_rules(task.table_mappings)
    step.at("connect to the source", endpoint_text(task, "source"))
    source = open_side(settings, aws, task, "source")
    try:
        source.connect()
        step.at("read the source catalog", endpoint_text(task, "source"))
        pairs = tuple(mappings.select(source.list_tables()))
        if not pairs:  # a green run that compared nothing would hide a wrong task or database
            raise ResolutionError(f"the TableMappings of task {task.identifier} select no table of the source "
                                  f"{task.source.identifier} (database {task.source.database_name or 'any'})")
        route = find_route(source.name, engine_class_for(task.target.engine_name).name)
        stats = {p.source_name: table_stats(source, p, settings, route) for p in pairs}
        if settings.since:
            step.at("resolve the --since window", f"task {task.identifier}")
            window = resolve_window(settings, now, task_id=task.identifier, run_id=run_id, aws=aws, columns={
                p.source_name: [c.name for c in source.table_info(p.source_schema, p.source_table).columns]
                for p in pairs})
            if window is not None and window["note"]:  # e.g. last-run without a previous run: a full comparison
                print(f"[dmsval] {window['note']}", file=sys.stderr)
    finally:
        source.close()
    # the target is checked once here, so a wrong password or a database that is down is one clear run error
    # naming the endpoint, rather than the same error in every case
    step.at("connect to the target", endpoint_text(task, "target"))
    target = open_side(settings, aws, task, "target")
    try:
        target.connect()
    finally:
        target.close()
    step.at("read DMS table statistics", f"task {task.identifier}")
    dms_tables, dms_tables_error = {}, None
    try:
        client = (dms_client(aws) if dms_client else None) or aws.client("dms")
        for table in table_statistics(client, task.arn):
            dms_tables[f"{table.get('SchemaName')}.{table.get('TableName')}"] = _jsonable(table)
    except ResolutionError as e:
        dms_tables_error = str(e)  # reported by the dms_state cases and in the run metadata
    return RunPlan(run_id, now.isoformat(timespec="seconds"), trigger, aws, task, mode, gate, pairs,
                   checks, stats, dms_tables, dms_tables_error,
                   _random.token_hex(16) if settings.mask_values else None, window)


def _jsonable(table: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in table.items()}


def table_stats(source: Engine, pair: TablePair, settings: Settings, route: Route | None) -> TableStats:
    """Row estimate and key of a source table; for a large table with one integer key (as the route of this
    run says), its key range too."""
    info = source.table_info(pair.source_schema, pair.source_table)
    key_range = None
    if route is not None and len(info.key) == 1 and info.row_estimate > settings.split_rows:
        column = info.column(info.key[0])
        if column is not None and route.is_range_key(column):
            quoted = source.quote(info.key[0])
            row = source.query(f"SELECT MIN({quoted}), MAX({quoted}) FROM "
                               f"{source.table_ref(pair.source_schema, pair.source_table)}", ()).rows[0]
            if row[0] is not None:
                key_range = (int(row[0]), int(row[1]))
    return TableStats(info.row_estimate, info.key, key_range)


class Validator:
    """Runs planned cases in one process; engines are opened on first use and closed by ``close``."""

    def __init__(self, settings: Settings, plan: RunPlan) -> None:
        self.settings = settings
        self.plan = plan
        self._context: CheckContext | None = None
        self.masker = Masker(plan.mask_salt) if plan.mask_salt else None

    def context(self) -> CheckContext:
        if self._context is None:
            source = open_side(self.settings, self.plan.aws, self.plan.task, "source")
            target = open_side(self.settings, self.plan.aws, self.plan.task, "target")
            # --since: the cases compare from the plan's resolved timestamp (last-run was read once, at planning)
            settings = settings_for_cases(self.settings, self.plan.window) if self.settings.since else self.settings
            self._context = CheckContext(settings, self.plan.pairs, source, target,
                                         task_settings=self.plan.task.settings, stats=self.plan.stats,
                                         dms_tables=self.plan.dms_tables,
                                         dms_tables_error=self.plan.dms_tables_error, route=self.plan.route,
                                         progress=progress.console(), recheck=self.recheck_policy())
        return self._context

    def recheck_policy(self) -> RecheckPolicy | None:
        """CDC mode with an open gate: differing rows are read again after the latency the gate saw (+ margin)."""
        gate = self.plan.gate
        if self.plan.mode != "cdc" or gate is None or not gate.open or self.settings.cdc_recheck_seconds <= 0:
            return None
        return RecheckPolicy.for_run(self.settings, gate.latencies_s.values())

    def close(self) -> None:
        if self._context is not None:
            for engine in (self._context.source, self._context.target):
                engine.cancel_running()  # an interrupted run leaves no query of its own on either server
                engine.close()
            self._context = None

    def run(self, case: Case, nodeid: str | None = None) -> CaseResult:
        """Run one case; a data difference is 'failed', anything that kept the check from deciding is 'error'."""
        started = time.perf_counter()
        common = {
            "case_id": case.case_id, "check": case.check, "subject": case.subject, "nodeid": nodeid,
            "source_table": case.pair.source_name if case.pair else None,
            "target_table": case.pair.target_name if case.pair else None,
        }
        if self.plan.skip_reason:
            return CaseResult(status="skipped", message=self.plan.skip_reason, **common)
        try:
            outcome = REGISTRY[case.check]().run(case, self.context())
        except SkipCase as e:
            return CaseResult(status="skipped", message=str(e), duration_s=time.perf_counter() - started, **common)
        except DmsvalError as e:
            message = str(e).splitlines()[0]
            if isinstance(e, EngineError) and case.pair is not None:
                message = f"{message} (table {case.pair.source_name})"  # which table the query was about
            error = f"{type(e).__name__}: {e}"
            if self.masker:
                message, error = Masker.text(message) or "", Masker.text(error)
            return CaseResult(status="error", message=redaction.scrub(message), error=redaction.scrub(error or ""),
                              duration_s=time.perf_counter() - started, **common)
        details = outcome.details
        dms = self.plan.dms_tables.get(case.pair.source_name) if case.pair else None
        if dms is not None:  # DMS's own view of the table, beside our verdict
            details = {**details, "dms": dms}
        sql = outcome.sql
        if self.masker:
            details = self.masker.details(details)
            sql = {side: "(hidden by --mask-values: it may hold key values)" for side in sql}
        return CaseResult(status="passed" if outcome.passed else "failed", message=outcome.message,
                          figures=outcome.figures, sql=sql, details=details,
                          duration_s=time.perf_counter() - started, **common)
