import json

import pytest

from dmsval.errors import EventError, EventIgnored
from dmsval.events import manual_trigger, parse_event, stopped_event

TASK = "arn:aws:dms:eu-west-1:123456789012:task:ABCDEFGHIJKLMNOP"


def test_stopped_event_starts_a_full_validation():
    trigger = parse_event(json.dumps(stopped_event(TASK)))
    assert trigger.task_arn == TASK
    assert trigger.kind == "task_stopped"
    assert trigger.event_type == "REPLICATION_TASK_STOPPED"
    assert not trigger.implies_cdc


def test_other_state_change_is_ignored_with_its_type_named():
    event = stopped_event(TASK)
    event["detail"]["eventType"] = "REPLICATION_TASK_STARTED"
    with pytest.raises(EventIgnored, match="REPLICATION_TASK_STARTED"):
        parse_event(json.dumps(event))


@pytest.mark.parametrize("mutate, message", [
    (lambda e: e.update(resources=[]), "no task ARN"),
    (lambda e: e.pop("detail"), "detail.eventType"),
    (lambda e: e.update(source="aws.s3"), "unsupported event"),
    (lambda e: e.update({"detail-type": "Something"}), "detail-type"),
    (lambda e: e.update(resources=["arn:aws:s3:::bucket"]), "not a DMS replication task ARN"),
    (lambda e: e.update(resources="arn"), "must be a list"),
])
def test_malformed_events_are_rejected_with_a_specific_message(mutate, message):
    event = stopped_event(TASK)
    mutate(event)
    with pytest.raises(EventError, match=message):
        parse_event(json.dumps(event))


def test_invalid_json_names_the_position():
    with pytest.raises(EventError, match="not valid JSON.*line 1"):
        parse_event("{not json")


def test_non_object_json_is_rejected():
    with pytest.raises(EventError, match="JSON object"):
        parse_event("[1, 2]")


def test_override_arn_wins_over_resources():
    other = TASK.replace("ABCDEFGHIJKLMNOP", "OTHER")
    assert parse_event(json.dumps(stopped_event(TASK)), task_arn_override=other).task_arn == other


def test_scheduled_event_implies_cdc_and_takes_the_task_from_resources():
    event = {"source": "aws.events", "detail-type": "Scheduled Event",
             "resources": ["arn:aws:events:eu-west-1:123456789012:rule/every-hour", TASK], "detail": {}}
    trigger = parse_event(json.dumps(event))
    assert trigger.kind == "scheduled" and trigger.implies_cdc and trigger.task_arn == TASK


def test_scheduled_event_without_task_needs_the_option():
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "resources": [], "detail": {}}
    with pytest.raises(EventError, match="--dms-task-arn"):
        parse_event(json.dumps(event))
    assert parse_event(json.dumps(event), task_arn_override=TASK).task_arn == TASK


def test_manual_trigger_validates_the_arn():
    assert manual_trigger(TASK).kind == "manual"
    with pytest.raises(EventError, match="not a DMS replication task ARN"):
        manual_trigger("my-task")
