"""Parse the event that starts a validation run.

Two kinds of events start a run:

* the EventBridge "DMS Replication Task State Change" event (``source`` = ``aws.dms``); only
  ``detail.eventType`` = ``REPLICATION_TASK_STOPPED`` calls for a full validation, any other state change is
  ignored with a clear message;
* an EventBridge "Scheduled Event" (``source`` = ``aws.events``) used for periodic validation during CDC;
  the task ARN comes from the event's ``resources`` (a DMS task ARN placed there by the rule's input) or
  from ``--dms-task-arn``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import EventError, EventIgnored

TASK_STOPPED = "REPLICATION_TASK_STOPPED"
DMS_DETAIL_TYPE = "DMS Replication Task State Change"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"
TASK_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:dms:[a-z0-9-]+:\d{12}:task:[A-Za-z0-9-]+$")


@dataclass(frozen=True)
class RunTrigger:
    """What started the run: the task to validate and whether the trigger implies CDC mode."""

    task_arn: str
    kind: str  # "task_stopped" | "scheduled" | "manual"
    event_type: str | None = None
    detail_message: str | None = None
    event_time: str | None = None
    event_id: str | None = None

    @property
    def implies_cdc(self) -> bool:
        return self.kind == "scheduled"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_arn": self.task_arn,
            "kind": self.kind,
            "event_type": self.event_type,
            "detail_message": self.detail_message,
            "event_time": self.event_time,
            "event_id": self.event_id,
        }


def load_event_text(value: str) -> str:
    """Return the event JSON text from ``value``: inline JSON, or a path to a file holding it."""
    stripped = value.strip()
    if stripped.startswith("{"):
        return stripped
    path = Path(value)
    if not path.is_file():
        raise EventError(f"--dms-event: {value!r} is neither inline JSON nor an existing file")
    return path.read_text(encoding="utf-8")


def is_task_arn(value: str) -> bool:
    return bool(TASK_ARN_PATTERN.match(value))


def parse_event(text: str, task_arn_override: str | None = None) -> RunTrigger:
    """Parse an EventBridge event into a :class:`RunTrigger`.

    Raises :class:`EventError` for a malformed event or one without a task ARN, and
    :class:`EventIgnored` for a well-formed DMS event whose type does not call for validation.
    """
    try:
        event = json.loads(text)
    except json.JSONDecodeError as e:
        raise EventError(f"the DMS event is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    if not isinstance(event, dict):
        raise EventError(f"the DMS event must be a JSON object, got {type(event).__name__}")
    source = event.get("source")
    detail_type = event.get("detail-type")
    resources = event.get("resources") or []
    if not isinstance(resources, list):
        raise EventError("the event's 'resources' must be a list of ARNs")
    common = {"event_time": event.get("time"), "event_id": event.get("id")}

    if source == "aws.dms":
        if detail_type != DMS_DETAIL_TYPE:
            raise EventError(f"aws.dms event with detail-type {detail_type!r}; expected {DMS_DETAIL_TYPE!r}")
        detail = event.get("detail")
        if not isinstance(detail, dict) or not detail.get("eventType"):
            raise EventError("the DMS event has no 'detail.eventType'")
        event_type = str(detail["eventType"])
        task_arn = task_arn_override or (resources[0] if resources else None)
        if not task_arn:
            raise EventError("the DMS event has no task ARN in 'resources[0]' and --dms-task-arn was not given")
        if not is_task_arn(task_arn):
            raise EventError(f"{task_arn!r} is not a DMS replication task ARN (arn:aws:dms:<region>:<account>:task:<id>)")
        if event_type != TASK_STOPPED:
            raise EventIgnored(
                f"event {event_type} for {task_arn} does not call for validation; only {TASK_STOPPED} does"
            )
        return RunTrigger(task_arn=task_arn, kind="task_stopped", event_type=event_type,
                          detail_message=detail.get("detailMessage"), **common)

    if source == "aws.events" and detail_type == SCHEDULED_DETAIL_TYPE:
        candidates = [r for r in resources if isinstance(r, str) and is_task_arn(r)]
        task_arn = task_arn_override or (candidates[0] if candidates else None)
        if not task_arn:
            raise EventError(
                "the scheduled event names no DMS task: put the task ARN in 'resources' or pass --dms-task-arn"
            )
        return RunTrigger(task_arn=task_arn, kind="scheduled", event_type=SCHEDULED_DETAIL_TYPE, **common)

    raise EventError(
        f"unsupported event (source={source!r}, detail-type={detail_type!r}); expected a "
        f"'{DMS_DETAIL_TYPE}' event from aws.dms or a '{SCHEDULED_DETAIL_TYPE}' from aws.events"
    )


def manual_trigger(task_arn: str) -> RunTrigger:
    """A run started by ``--dms-task-arn`` alone."""
    if not is_task_arn(task_arn):
        raise EventError(f"--dms-task-arn {task_arn!r} is not a DMS replication task ARN")
    return RunTrigger(task_arn=task_arn, kind="manual")


def stopped_event(task_arn: str, *, time: str = "2026-01-01T00:00:00Z", message: str = "Replication task stopped") -> dict[str, Any]:
    """Build a real-format REPLICATION_TASK_STOPPED event (used by the demo and tests)."""
    region, account = task_arn.split(":")[3:5]
    return {
        "version": "0",
        "id": "dmsval-" + task_arn.rsplit(":", 1)[-1].lower(),
        "detail-type": DMS_DETAIL_TYPE,
        "source": "aws.dms",
        "account": account,
        "time": time,
        "region": region,
        "resources": [task_arn],
        "detail": {
            "type": "REPLICATION_TASK",
            "category": "StateChange",
            "eventType": TASK_STOPPED,
            "detailMessage": message,
        },
    }
