"""Resolve a DMS replication task into what a validation needs: endpoints, mappings, settings, instance."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ResolutionError, TaskNotFound
from .clients import AWS_ERRORS, AwsContext, error_code

# Endpoint settings blocks that may name a Secrets Manager secret, by DMS EngineName.
_SETTINGS_KEY_BY_ENGINE = {
    "mysql": "MySQLSettings",
    "mariadb": "MySQLSettings",
    "aurora": "MySQLSettings",
    "redshift": "RedshiftSettings",
    "redshift-serverless": "RedshiftSettings",
    "postgres": "PostgreSQLSettings",
    "aurora-postgresql": "PostgreSQLSettings",
}


@dataclass(frozen=True)
class EndpointInfo:
    """A DMS endpoint as far as connecting to its database is concerned (never holds a password)."""

    arn: str
    identifier: str
    endpoint_type: str  # "source" | "target"
    engine_name: str
    server_name: str | None
    port: int | None
    database_name: str | None
    username: str | None
    ssl_mode: str
    secret_id: str | None
    has_inline_password: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn, "identifier": self.identifier, "endpoint_type": self.endpoint_type,
            "engine_name": self.engine_name, "server_name": self.server_name, "port": self.port,
            "database_name": self.database_name, "username": self.username, "ssl_mode": self.ssl_mode,
            "secret_id": self.secret_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EndpointInfo":
        return cls(**data)


@dataclass(frozen=True)
class TaskInfo:
    arn: str
    identifier: str
    migration_type: str  # full-load | cdc | full-load-and-cdc
    status: str
    table_mappings: dict[str, Any]
    settings: dict[str, Any]
    replication_instance_arn: str
    replication_instance_id: str
    source: EndpointInfo
    target: EndpointInfo
    stop_reason: str | None = None
    stats: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def resource_id(self) -> str:
        """The last part of the ARN: DMS's CloudWatch dimension ReplicationTaskIdentifier uses it."""
        return self.arn.rsplit(":", 1)[-1]

    @property
    def includes_cdc(self) -> bool:
        return "cdc" in self.migration_type

    def to_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn, "identifier": self.identifier, "migration_type": self.migration_type,
            "status": self.status, "table_mappings": self.table_mappings, "settings": self.settings,
            "replication_instance_arn": self.replication_instance_arn,
            "replication_instance_id": self.replication_instance_id,
            "source": self.source.to_dict(), "target": self.target.to_dict(), "stop_reason": self.stop_reason,
            "stats": self.stats,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskInfo":
        data = dict(data)
        data["source"] = EndpointInfo.from_dict(data["source"])
        data["target"] = EndpointInfo.from_dict(data["target"])
        return cls(**data)


def _json_field(raw: Any, what: str, task_arn: str) -> dict[str, Any]:
    if raw in (None, ""):
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ResolutionError(f"task {task_arn}: {what} is not valid JSON ({e.msg})") from e
    if not isinstance(value, dict):
        raise ResolutionError(f"task {task_arn}: {what} must be a JSON object")
    return value


def _endpoint(client: Any, arn: str, role: str) -> EndpointInfo:
    try:
        found = client.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [arn]}])["Endpoints"]
    except AWS_ERRORS as e:
        raise ResolutionError(f"describe_endpoints for the {role} endpoint {arn} failed: {error_code(e)}") from e
    if not found:
        raise ResolutionError(f"the task's {role} endpoint {arn} does not exist")
    ep = found[0]
    engine = str(ep.get("EngineName", "")).lower()
    settings = ep.get(_SETTINGS_KEY_BY_ENGINE.get(engine, ""), {}) or {}
    port = ep.get("Port") or settings.get("Port")
    return EndpointInfo(
        arn=arn,
        identifier=ep.get("EndpointIdentifier", arn),
        endpoint_type=str(ep.get("EndpointType", role)).lower(),
        engine_name=engine,
        server_name=ep.get("ServerName") or settings.get("ServerName"),
        port=int(port) if port else None,
        database_name=ep.get("DatabaseName") or settings.get("DatabaseName"),
        username=ep.get("Username") or settings.get("Username"),
        ssl_mode=str(ep.get("SslMode") or "none"),
        secret_id=settings.get("SecretsManagerSecretId"),
        has_inline_password=False,
    )


def describe_task(aws: AwsContext, task_arn: str) -> TaskInfo:
    """describe_replication_tasks (by ARN) -> describe_endpoints (source, target) -> replication instance."""
    dms = aws.client("dms")
    try:
        tasks = dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-arn", "Values": [task_arn]}]
        )["ReplicationTasks"]
    except AWS_ERRORS as e:
        if error_code(e) == "ResourceNotFoundFault":
            raise TaskNotFound(f"DMS task {task_arn} does not exist in this account/region") from e
        raise ResolutionError(f"describe_replication_tasks for {task_arn} failed: {error_code(e)}") from e
    if not tasks:
        raise TaskNotFound(f"DMS task {task_arn} does not exist in this account/region")
    task = tasks[0]
    instance_arn = task.get("ReplicationInstanceArn", "")
    instance_id = instance_arn.rsplit(":", 1)[-1]
    try:
        instances = dms.describe_replication_instances(
            Filters=[{"Name": "replication-instance-arn", "Values": [instance_arn]}]
        )["ReplicationInstances"]
        if instances:
            instance_id = instances[0].get("ReplicationInstanceIdentifier", instance_id)
    except AWS_ERRORS as e:
        raise ResolutionError(f"describe_replication_instances for {instance_arn} failed: {error_code(e)}") from e
    return TaskInfo(
        arn=task_arn,
        identifier=task.get("ReplicationTaskIdentifier", task_arn.rsplit(":", 1)[-1]),
        migration_type=task.get("MigrationType", "full-load"),
        status=task.get("Status", "unknown"),
        table_mappings=_json_field(task.get("TableMappings"), "TableMappings", task_arn),
        settings=_json_field(task.get("ReplicationTaskSettings"), "ReplicationTaskSettings", task_arn),
        replication_instance_arn=instance_arn,
        replication_instance_id=instance_id,
        source=_endpoint(dms, task["SourceEndpointArn"], "source"),
        target=_endpoint(dms, task["TargetEndpointArn"], "target"),
        stop_reason=task.get("StopReason"),
        stats={k: v for k, v in (task.get("ReplicationTaskStats") or {}).items() if not hasattr(v, "isoformat")},
    )


def table_statistics(client: Any, task_arn: str) -> list[dict[str, Any]]:
    """DMS's own per-table view of the task (describe_table_statistics, every page)."""
    tables: list[dict[str, Any]] = []
    marker = None
    while True:
        kwargs: dict[str, Any] = {"ReplicationTaskArn": task_arn, "MaxRecords": 500}
        if marker:
            kwargs["Marker"] = marker
        try:
            page = client.describe_table_statistics(**kwargs)
        except AWS_ERRORS as e:
            raise ResolutionError(f"describe_table_statistics for {task_arn} failed: {error_code(e)}") from e
        tables.extend(page.get("TableStatistics", []))
        marker = page.get("Marker")
        if not marker:
            return tables
