"""The CDC latency gate: validate only when DMS has caught up.

Reads ``CDCLatencySource`` and ``CDCLatencyTarget`` (namespace AWS/DMS, dimensions ReplicationInstanceIdentifier
and ReplicationTaskIdentifier) over a look-back window. The newest datapoint of each metric must be at or under
the threshold; a metric with no datapoints closes the gate too (we cannot tell whether DMS has caught up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import LatencyGateError
from .clients import AWS_ERRORS, AwsContext, error_code

METRICS = ("CDCLatencySource", "CDCLatencyTarget")


@dataclass(frozen=True)
class GateVerdict:
    open: bool
    reason: str
    threshold_s: float
    latencies_s: dict[str, float | None]
    lookback_minutes: float

    def to_dict(self) -> dict[str, Any]:
        return {"open": self.open, "reason": self.reason, "threshold_s": self.threshold_s,
                "latencies_s": self.latencies_s, "lookback_minutes": self.lookback_minutes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GateVerdict":
        return cls(**data)


def read_latest(aws: AwsContext, metric: str, instance_id: str, task_resource_id: str,
                lookback_minutes: float, now: datetime | None = None) -> float | None:
    """Newest datapoint (Maximum over 60 s) of ``metric`` in the window, or None when there is none."""
    now = now or datetime.now(timezone.utc)
    try:
        response = aws.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/DMS",
            MetricName=metric,
            Dimensions=[
                {"Name": "ReplicationInstanceIdentifier", "Value": instance_id},
                {"Name": "ReplicationTaskIdentifier", "Value": task_resource_id},
            ],
            StartTime=now - timedelta(minutes=lookback_minutes),
            # the current, still-open period too: the newest datapoint is what tells whether DMS caught up
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )
    except AWS_ERRORS as e:
        raise LatencyGateError(f"cannot read CloudWatch metric AWS/DMS {metric}: {error_code(e)}") from e
    points = sorted(response.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None


def evaluate_gate(aws: AwsContext, instance_id: str, task_resource_id: str, threshold_s: float,
                  lookback_minutes: float, now: datetime | None = None) -> GateVerdict:
    latencies = {m: read_latest(aws, m, instance_id, task_resource_id, lookback_minutes, now) for m in METRICS}
    missing = [m for m, v in latencies.items() if v is None]
    over = [f"{m}={v:g}s" for m, v in latencies.items() if v is not None and v > threshold_s]
    if missing:
        reason = (f"CDC gate closed: no datapoints for {', '.join(missing)} in the last {lookback_minutes:g} min "
                  f"(instance {instance_id}, task {task_resource_id})")
        return GateVerdict(False, reason, threshold_s, latencies, lookback_minutes)
    if over:
        reason = f"CDC gate closed: latency over {threshold_s:g}s ({', '.join(over)})"
        return GateVerdict(False, reason, threshold_s, latencies, lookback_minutes)
    figures = ", ".join(f"{m}={v:g}s" for m, v in latencies.items())
    return GateVerdict(True, f"CDC gate open: {figures} (threshold {threshold_s:g}s)", threshold_s, latencies,
                       lookback_minutes)
