"""The CDC latency gate: validate only when DMS has caught up.

Reads ``CDCLatencySource`` and ``CDCLatencyTarget`` (namespace AWS/DMS, dimensions ReplicationInstanceIdentifier
and ReplicationTaskIdentifier) over a look-back window. The newest datapoint of each metric must be at or under
the threshold; a metric with no datapoints closes the gate too (we cannot tell whether DMS has caught up).

The gate waits (:func:`wait_for_gate`): a closed gate is read again every poll interval until it opens or the
wait's deadline passes; every reading is kept, so the report can show the latency series the gate saw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

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
    #: every reading of the wait, oldest first: {"at": ISO time, "<metric>": seconds or None}
    series: tuple[dict[str, Any], ...] = ()
    waited_s: float = 0.0  # how long the gate waited for the latency to fall

    def to_dict(self) -> dict[str, Any]:
        return {"open": self.open, "reason": self.reason, "threshold_s": self.threshold_s,
                "latencies_s": self.latencies_s, "lookback_minutes": self.lookback_minutes,
                "series": list(self.series), "waited_s": round(self.waited_s, 1)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GateVerdict":
        # documents written before the gate waited have no series
        return cls(data["open"], data["reason"], data["threshold_s"], data["latencies_s"], data["lookback_minutes"],
                   tuple(data.get("series") or ()), float(data.get("waited_s") or 0.0))


def read_latest(aws: AwsContext, metric: str, instance_id: str, task_resource_id: str,
                lookback_minutes: float, now: datetime | None = None, period_s: int = 60) -> float | None:
    """Newest datapoint (Maximum over ``period_s``) of ``metric`` in the window, or None when there is none."""
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
            Period=period_s,
            Statistics=["Maximum"],
        )
    except AWS_ERRORS as e:
        raise LatencyGateError(f"cannot read CloudWatch metric AWS/DMS {metric}: {error_code(e)}") from e
    points = sorted(response.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None


def evaluate_gate(aws: AwsContext, instance_id: str, task_resource_id: str, threshold_s: float,
                  lookback_minutes: float, now: datetime | None = None, period_s: int = 60) -> GateVerdict:
    """One look at both metrics."""
    now = now or datetime.now(timezone.utc)
    latencies = {m: read_latest(aws, m, instance_id, task_resource_id, lookback_minutes, now, period_s)
                 for m in METRICS}
    reading = {"at": now.isoformat(timespec="seconds"), **latencies}
    missing = [m for m, v in latencies.items() if v is None]
    over = [f"{m}={v:g}s" for m, v in latencies.items() if v is not None and v > threshold_s]
    if missing:
        reason = (f"CDC gate closed: no datapoints for {', '.join(missing)} in the last {lookback_minutes:g} min "
                  f"(instance {instance_id}, task {task_resource_id})")
        return GateVerdict(False, reason, threshold_s, latencies, lookback_minutes, (reading,))
    if over:
        reason = f"CDC gate closed: latency over {threshold_s:g}s ({', '.join(over)})"
        return GateVerdict(False, reason, threshold_s, latencies, lookback_minutes, (reading,))
    figures = ", ".join(f"{m}={v:g}s" for m, v in latencies.items())
    return GateVerdict(True, f"CDC gate open: {figures} (threshold {threshold_s:g}s)", threshold_s, latencies,
                       lookback_minutes, (reading,))


def wait_for_gate(aws: AwsContext, instance_id: str, task_resource_id: str, threshold_s: float,
                  lookback_minutes: float, *, wait_minutes: float, poll_s: float, period_s: int = 60,
                  clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                  wall_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                  say: Callable[[str], None] | None = None) -> GateVerdict:
    """Read the gate until it opens or ``wait_minutes`` have passed (0: one look); the verdict carries every
    reading and says how long it waited (``say`` gets a line per closed reading, for build logs). A reading
    error is not retried: it is a run error, not a latency."""
    started = clock()
    deadline = started + wait_minutes * 60
    series: list[dict[str, Any]] = []
    while True:
        verdict = evaluate_gate(aws, instance_id, task_resource_id, threshold_s, lookback_minutes, wall_clock(),
                                period_s)
        series.extend(verdict.series)
        if verdict.open or clock() + poll_s > deadline:
            break
        if say is not None:
            say(f"dmsval: {verdict.reason}; reading again in {poll_s:g} s (waited {clock() - started:.0f} s of at "
                f"most {wait_minutes:g} min)")
        sleep(poll_s)
    waited = clock() - started
    reason = verdict.reason
    if wait_minutes > 0 and len(series) > 1:
        readings = f"{len(series)} reading{'s' if len(series) != 1 else ''}"
        reason = (f"{reason}; opened after waiting {waited:.0f} s ({readings})" if verdict.open else
                  f"{reason}; still closed after waiting {waited:.0f} s of at most {wait_minutes:g} min ({readings})")
    return replace(verdict, reason=reason, series=tuple(series), waited_s=waited)
