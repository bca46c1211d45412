"""Resolution through moto in server mode: task -> endpoints -> secrets, and the CDC latency gate."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from dmsval.aws.dms import describe_task
from dmsval.aws.latency import GateVerdict, evaluate_gate, wait_for_gate
from dmsval.aws.secrets import resolve_credentials
from dmsval.errors import ResolutionError, SecretError
from devstack.provision import DbEndpoint, include_schema, provision, put_latency

pytestmark = pytest.mark.integration

SOURCE = DbEndpoint("127.0.0.1", 3306, "root", "src-pw-123", "sakila")
TARGET = DbEndpoint("127.0.0.1", 5439, "postgres", "tgt-pw-456", "dev")
MAPPINGS = {"rules": [include_schema("sakila")]}


def test_task_endpoints_and_secrets_resolve(aws):
    made = provision(aws, name="resolve", source=SOURCE, target=TARGET, table_mappings=MAPPINGS,
                     migration_type="full-load-and-cdc")
    task = describe_task(aws, made.task_arn)
    assert task.identifier == "resolve" and task.migration_type == "full-load-and-cdc" and task.includes_cdc
    assert task.replication_instance_id == "resolve-instance"
    assert task.table_mappings == MAPPINGS
    assert task.settings["TargetMetadata"]["LobMaxSize"] == 32
    assert (task.source.engine_name, task.source.secret_id) == ("mariadb", "resolve/source")
    assert (task.target.engine_name, task.target.secret_id, task.target.port) == ("redshift", "resolve/target", 5439)
    creds = resolve_credentials(aws, task.target)
    assert (creds.host, creds.port, creds.user, creds.database, creds.password) == ("127.0.0.1", 5439, "postgres",
                                                                                   "dev", "tgt-pw-456")
    assert "tgt-pw-456" not in repr(creds) and "tgt-pw-456" not in json.dumps(task.to_dict())


def test_unknown_task_is_a_clear_error(aws):
    with pytest.raises(ResolutionError, match="does not exist"):
        describe_task(aws, "arn:aws:dms:us-east-1:123456789012:task:NOPE")


def _endpoint_without_secret(aws, made):
    dms = aws.client("dms")
    ep = dms.create_endpoint(EndpointIdentifier="no-secret-target", EndpointType="target", EngineName="redshift",
                             ServerName="127.0.0.1", Port=5439, DatabaseName="dev", Username="awsuser",
                             Password="inline")["Endpoint"]
    task = describe_task(aws, made.task_arn)
    from dataclasses import replace
    from dmsval.aws.dms import _endpoint
    return replace(task, target=_endpoint(dms, ep["EndpointArn"], "target")).target


def test_endpoint_without_secret_takes_password_from_named_env_or_secret(aws):
    made = provision(aws, name="plain", source=SOURCE, target=TARGET, table_mappings=MAPPINGS)
    endpoint = _endpoint_without_secret(aws, made)
    assert endpoint.secret_id is None
    creds = resolve_credentials(aws, endpoint, password_env="TARGET_PW", environ={"TARGET_PW": "from-env"})
    assert (creds.user, creds.password, creds.origin) == ("awsuser", "from-env", "environment TARGET_PW")
    aws.client("secretsmanager").create_secret(Name="pw-only", SecretString=json.dumps({"password": "from-secret"}))
    assert resolve_credentials(aws, endpoint, password_secret="pw-only").password == "from-secret"
    with pytest.raises(SecretError, match="--target-password-secret SECRET_ID or --target-password-env"):
        resolve_credentials(aws, endpoint)
    with pytest.raises(SecretError, match="TARGET_PW .* is not set"):
        resolve_credentials(aws, endpoint, password_env="TARGET_PW", environ={})


def test_missing_or_incomplete_secret_fails_loudly(aws):
    made = provision(aws, name="secrets", source=SOURCE, target=TARGET, table_mappings=MAPPINGS)
    task = describe_task(aws, made.task_arn)
    sm = aws.client("secretsmanager")
    sm.put_secret_value(SecretId="secrets/source", SecretString=json.dumps({"username": "root"}))
    with pytest.raises(SecretError, match="secret 'secrets/source' of the source endpoint has no 'password'"):
        resolve_credentials(aws, task.source)
    sm.delete_secret(SecretId="secrets/target", ForceDeleteWithoutRecovery=True)
    with pytest.raises(SecretError, match="cannot read secret 'secrets/target': ResourceNotFoundException"):
        resolve_credentials(aws, task.target)


@pytest.mark.parametrize("source_s, target_s, is_open, reason", [
    (1.0, 2.5, True, "CDC gate open: CDCLatencySource=1s, CDCLatencyTarget=2.5s"),
    (1.0, 12.0, False, "latency over 5s (CDCLatencyTarget=12s)"),
    (9.0, 1.0, False, "latency over 5s (CDCLatencySource=9s)"),
    (None, None, False, "no datapoints for CDCLatencySource, CDCLatencyTarget"),
    (1.0, None, False, "no datapoints for CDCLatencyTarget"),
])
def test_cdc_gate(aws, source_s, target_s, is_open, reason):
    put_latency(aws, "inst-1", "TASKRESOURCEID", source_s, target_s)
    verdict = evaluate_gate(aws, "inst-1", "TASKRESOURCEID", threshold_s=5.0, lookback_minutes=15,
                            now=datetime.now(timezone.utc))
    assert verdict.open is is_open
    assert reason in verdict.reason


def test_cdc_gate_reads_only_its_own_task(aws):
    put_latency(aws, "inst-1", "OTHER-TASK", 1.0, 1.0)
    assert not evaluate_gate(aws, "inst-1", "TASKRESOURCEID", 5.0, 15).open


class FakeClock:
    """Monotonic time that moves only when the gate sleeps (the wait's logic without waiting)."""

    def __init__(self, on_sleep=None) -> None:
        self.now, self.sleeps, self.on_sleep = 0.0, [], on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def test_cdc_gate_that_stays_closed_gives_up_at_the_deadline_with_every_reading(aws):
    put_latency(aws, "inst-1", "TASKRESOURCEID", 30.0, 45.0)
    clock = FakeClock()
    verdict = wait_for_gate(aws, "inst-1", "TASKRESOURCEID", 5.0, 15, wait_minutes=2, poll_s=30, clock=clock,
                            sleep=clock.sleep)
    assert not verdict.open
    assert clock.sleeps == [30, 30, 30, 30]  # 5 readings in 2 minutes, none past the deadline
    assert len(verdict.series) == 5 and verdict.waited_s == 120
    assert all(r["CDCLatencyTarget"] == 45.0 for r in verdict.series)
    assert "latency over 5s (CDCLatencySource=30s, CDCLatencyTarget=45s)" in verdict.reason
    assert "still closed after waiting 120 s of at most 2 min (5 readings)" in verdict.reason


def test_cdc_gate_opens_when_the_latency_falls_during_the_wait(aws):
    put_latency(aws, "inst-1", "TASKRESOURCEID", 30.0, 45.0)

    def dms_catches_up(sleeps: int) -> None:
        if sleeps == 2:
            time.sleep(1.1)  # a new 1-second datapoint bucket: the old maximum is not in it
            put_latency(aws, "inst-1", "TASKRESOURCEID", 0.5, 2.0)

    clock = FakeClock(dms_catches_up)
    verdict = wait_for_gate(aws, "inst-1", "TASKRESOURCEID", 5.0, 15, wait_minutes=10, poll_s=30, period_s=1,
                            clock=clock, sleep=clock.sleep)
    assert verdict.open and len(verdict.series) == 3 and verdict.waited_s == 60
    assert [r["CDCLatencyTarget"] for r in verdict.series] == [45.0, 45.0, 2.0]
    assert "opened after waiting 60 s (3 readings)" in verdict.reason
    assert GateVerdict.from_dict(verdict.to_dict()) == verdict


def test_cdc_gate_with_no_wait_looks_once(aws):
    clock = FakeClock()
    verdict = wait_for_gate(aws, "inst-1", "TASKRESOURCEID", 5.0, 15, wait_minutes=0, poll_s=30, clock=clock,
                            sleep=clock.sleep)
    assert not verdict.open and clock.sleeps == [] and len(verdict.series) == 1
    assert "waiting" not in verdict.reason
    # a results document written before the gate waited is still read
    old = {k: v for k, v in verdict.to_dict().items() if k not in ("series", "waited_s")}
    assert GateVerdict.from_dict(old).series == ()
