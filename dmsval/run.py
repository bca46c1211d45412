"""A validation run: planned once (on the xdist controller), executed case by case (on any worker).

``plan_run`` resolves trigger -> task -> endpoints -> source catalog -> table pairs, and evaluates the CDC gate.
The plan is a frozen, JSON-serialisable value handed to xdist workers; it holds no secret. Each process then
opens its own read-only engines (credentials resolved locally, kept in memory only) in a :class:`Validator`.
"""

from __future__ import annotations

import secrets as _random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from .aws.clients import AwsContext, region_of_arn
from .aws.dms import TaskInfo, describe_task, table_statistics
from .aws.latency import GateVerdict, evaluate_gate
from .aws.secrets import resolve_credentials
from .checks import REGISTRY, Case, CheckContext, SkipCase, TableStats
from .config import Settings
from .engines import Engine, open_engine
from .errors import ConfigError, DmsvalError, EventError, ResolutionError
from .events import RunTrigger, load_event_text, manual_trigger, parse_event
from .mappings import TablePair, parse_rules
from .masking import Masker
from .results import CaseResult


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
    return AwsContext(region=settings.aws_region or region_of_arn(trigger.task_arn),
                      endpoint_url=settings.aws_endpoint_url)


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

    def cases(self, settings: Settings) -> list[Case]:
        cases: list[Case] = []
        for name in self.checks:
            cases.extend(REGISTRY[name]().plan(settings, self.pairs, self.stats))
        return cases

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
            mask_salt=data.get("mask_salt"),
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
            "values_masked": self.mask_salt is not None,
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
    return open_engine(endpoint.engine_name, credentials, role=role, query_timeout_s=settings.query_timeout)


def plan_run(settings: Settings, now: datetime | None = None,
             dms_client: Callable[[AwsContext], Any] | None = None) -> RunPlan:
    """Resolve everything a run needs, once. Raises DmsvalError subclasses with actionable messages.

    ``dms_client`` gives the client for describe_table_statistics (default: ``aws.client("dms")``).
    """
    now = now or datetime.now(timezone.utc)
    trigger = trigger_from_settings(settings)
    checks = tuple(selected_checks(settings))
    aws = aws_context(settings, trigger)
    task = describe_task(aws, trigger.task_arn)
    mode = resolve_mode(settings, trigger, task)
    gate = None
    if mode == "cdc":
        gate = evaluate_gate(aws, task.replication_instance_id, task.resource_id, settings.cdc_latency_threshold,
                             settings.cdc_lookback_minutes, now)
    mappings = parse_rules(task.table_mappings)
    source = open_side(settings, aws, task, "source")
    try:
        pairs = tuple(mappings.select(source.list_tables()))
        if not pairs:  # a green run that compared nothing would hide a wrong task or database
            raise ResolutionError(f"the TableMappings of task {task.identifier} select no table of the source "
                                  f"{task.source.identifier} (database {task.source.database_name or 'any'})")
        stats = {p.source_name: table_stats(source, p, settings) for p in pairs}
    finally:
        source.close()
    dms_tables, dms_tables_error = {}, None
    try:
        client = (dms_client(aws) if dms_client else None) or aws.client("dms")
        for table in table_statistics(client, task.arn):
            dms_tables[f"{table.get('SchemaName')}.{table.get('TableName')}"] = _jsonable(table)
    except ResolutionError as e:
        dms_tables_error = str(e)  # reported by the dms_state cases and in the run metadata
    return RunPlan(new_run_id(now), now.isoformat(timespec="seconds"), trigger, aws, task, mode, gate, pairs,
                   checks, stats, dms_tables, dms_tables_error,
                   _random.token_hex(16) if settings.mask_values else None)


def _jsonable(table: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in table.items()}


def table_stats(source: Engine, pair: TablePair, settings: Settings) -> TableStats:
    """Row estimate and key of a source table; for a large table with one integer key, its key range too."""
    info = source.table_info(pair.source_schema, pair.source_table)
    key_range = None
    if len(info.key) == 1 and info.row_estimate > settings.split_rows:
        column = info.column(info.key[0])
        if column is not None and column.data_type in ("tinyint", "smallint", "mediumint", "int", "bigint"):
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
            self._context = CheckContext(self.settings, self.plan.pairs, source, target,
                                         task_settings=self.plan.task.settings, stats=self.plan.stats,
                                         dms_tables=self.plan.dms_tables,
                                         dms_tables_error=self.plan.dms_tables_error)
        return self._context

    def close(self) -> None:
        if self._context is not None:
            self._context.source.close()
            self._context.target.close()
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
            error = f"{type(e).__name__}: {e}"
            return CaseResult(status="error", message=str(e).splitlines()[0],
                              error=Masker.text(error) if self.masker else error,
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
