"""In-flight rows: in CDC mode a difference may be a change DMS has not applied yet, not a drift.

While DMS replicates, a row written on the source in the seconds between reading the source and reading the
target differs for a moment. So in CDC mode the differing rows row_diff isolated are read again on both sides
after a settle delay (at least the CDC latency the gate observed, plus a margin), up to a number of rounds
within a time budget. A row that converges (the same image on both sides, or absent on both) was *in flight*:
counted and shown, not failed. A row that differs in every round is a drift and fails, with what each round
read (its values per round for a sample of them).

Only the rows isolated in the first pass are read again: a row changed on the source after the first pass is
not looked at (the next run will), so a live workload cannot keep a case from ending. Every read is one
statement on each side (a consistent snapshot per statement); nothing is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable

from .base import on_both_sides

if TYPE_CHECKING:
    from ..config import Settings
    from .row_diff import Side

KEYS_PER_QUERY = 500
SETTLE_MARGIN_S = 2.0  # added to the observed latency: DMS applies in batches, a little after its latency


@dataclass(frozen=True)
class RecheckPolicy:
    """How differing rows are read again in CDC mode."""

    settle_s: float  # wait before each round
    budget_s: float  # all rounds (waits included) end within this
    max_rounds: int
    max_keys: int  # differing keys isolated per case for recheck (beyond them a difference cannot be rechecked)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    @classmethod
    def for_run(cls, settings: "Settings", observed_latencies_s: Iterable[float | None]) -> "RecheckPolicy":
        latency = max([v for v in observed_latencies_s if v is not None], default=0.0)
        return cls(settle_s=latency + SETTLE_MARGIN_S, budget_s=settings.cdc_recheck_seconds,
                   max_rounds=settings.cdc_recheck_rounds, max_keys=settings.cdc_recheck_keys)

    def describe(self) -> dict[str, Any]:
        return {"settle_s": round(self.settle_s, 1), "budget_s": self.budget_s, "max_rounds": self.max_rounds}


@dataclass
class Recheck:
    """What the rounds found: which differences converged, which persisted, and what each round read."""

    rounds: int = 0
    converged: list[Hashable] = field(default_factory=list)
    persisting: list[Hashable] = field(default_factory=list)
    #: per persisting difference (a sample): one entry per round, {"round", "at", "source", "target"}
    history: dict[Hashable, list[dict[str, Any]]] = field(default_factory=dict)
    waited_s: float = 0.0


def run_rounds(items: list[Hashable], policy: RecheckPolicy,
               read_round: Callable[[list[Hashable]], dict[Hashable, tuple[Any, Any, Any]]],
               sample: int) -> Recheck:
    """Read ``items`` again until none differs, the rounds are used up or the budget would be exceeded.

    ``read_round(pending)`` reads both sides once and returns, per item, (converged?, what the source holds,
    what the target holds) -- the last two only for the history shown in the report.
    """
    result = Recheck()
    pending = list(items)
    started = policy.clock()
    while pending and result.rounds < policy.max_rounds and \
            policy.clock() - started + policy.settle_s <= policy.budget_s:
        policy.sleep(policy.settle_s)
        result.rounds += 1
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        states = read_round(pending)
        still = []
        for item in pending:
            same, source, target = states[item]
            if not same:
                still.append(item)
                if len(result.history) < sample or item in result.history:
                    result.history.setdefault(item, []).append(
                        {"round": result.rounds, "at": at, "source": source, "target": target})
        pending = still
    result.waited_s = policy.clock() - started
    result.persisting = pending
    result.converged = [i for i in items if i not in set(pending)]
    result.history = {k: v for k, v in result.history.items() if k in set(pending)}
    return result


def keyed_round(sides: tuple["Side", "Side"], int_key: bool, sample: int,
                values: Callable[["Side", list[tuple[str, ...]]], dict[tuple[str, ...], tuple[Any, ...]]],
                ) -> Callable[[list[Hashable]], dict[Hashable, tuple[Any, Any, Any]]]:
    """One recheck round of keyed rows: the row images of the pending keys on both sides (all rows with each
    key: a key loaded twice is not converged), and the values of a sample for the history."""

    def read_round(pending: list[Hashable]) -> dict[Hashable, tuple[Any, Any, Any]]:
        keys = [k for k in pending if isinstance(k, tuple)]
        source, target = on_both_sides(lambda: _images_by_key(sides[0], keys, int_key),
                                       lambda: _images_by_key(sides[1], keys, int_key))
        shown = [k for k in keys if source.get(k) != target.get(k)][:sample]
        source_values, target_values = on_both_sides(lambda: values(sides[0], shown) if shown else {},
                                                     lambda: values(sides[1], shown) if shown else {})
        return {k: (source.get(k) == target.get(k), _listed(source_values.get(k)), _listed(target_values.get(k)))
                for k in keys}

    return read_round


def key_condition(side: "Side", keys: list[tuple[str, ...]], int_key: bool) -> str:
    """SQL condition selecting the rows with these canonical keys: on the raw key column for a single integer
    key (its canonical text is the number: the index is used), on the canonical expressions otherwise."""
    engine = side.engine
    if int_key:
        return f"{side.key_raw[0]} IN ({', '.join(str(int(k[0])) for k in keys)})"
    return "(" + " OR ".join(
        "(" + " AND ".join(f"{expr} = {engine.literal(v)}" if v is not None else f"{expr} IS NULL"
                           for expr, v in zip(side.key_canonical, k)) + ")" for k in keys) + ")"


def _images_by_key(side: "Side", keys: list[tuple[str, ...]], int_key: bool) -> dict[tuple[str, ...], tuple[str, ...]]:
    n = len(side.key_canonical)
    found: dict[tuple[str, ...], list[str]] = {}
    for i in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[i:i + KEYS_PER_QUERY]
        sql = (f"SELECT {', '.join(side.key_canonical)}, {side.row_hash} FROM {side.table}"
               f"{side.where(key_condition(side, chunk, int_key))}")
        for row in side.run(sql):
            found.setdefault(tuple(row[:n]), []).append(str(row[n]))
    return {k: tuple(sorted(v)) for k, v in found.items()}


def _listed(values: tuple[Any, ...] | None) -> list[Any] | None:
    return None if values is None else [v if isinstance(v, (int, float, str)) or v is None else str(v)
                                        for v in values]


@dataclass
class Settled:
    """Whole-table figures (counts, aggregates) read again in CDC mode: what the last round read and why it
    stopped: ``agreed`` (this round's figures agree), ``stable`` (nothing changed between rounds on either side:
    a real difference), ``moving`` (the table kept changing and never agreed: in-flight changes hide whether
    it differs), or ``first`` (no recheck: the first reading agreed, or no CDC recheck this run)."""

    reading: Any
    state: str
    rounds: int = 0
    readings: list[Any] = field(default_factory=list)

    def note(self) -> str:
        if self.state == "agreed" and self.rounds:
            return f" (agreed on recheck {self.rounds}: the first reading differed by changes in flight)"
        return ""


#: rereads of whole-table figures: a table whose figures moved in both rounds is live, more rounds rarely help
#: (the target is always one latency behind a busy source) and each costs a settle delay
WHOLE_TABLE_ROUNDS = 2


def settle(first: Any, read: Callable[[], Any], agree: Callable[[Any], bool], policy: RecheckPolicy | None,
           *, same: Callable[[Any, Any], bool] = lambda a, b: bool(a == b)) -> Settled:
    """CDC mode: whole-table figures that differ are read again after the settle delay, up to
    :data:`WHOLE_TABLE_ROUNDS` (and the policy's rounds and budget), until they agree; ``first`` is the first
    reading. ``same`` tells two readings apart (a reading that never changes is a real difference)."""
    if agree(first) or policy is None:
        return Settled(first, "agreed" if agree(first) else "first", 0, [first])
    readings = [first]
    started = policy.clock()
    rounds = min(policy.max_rounds, WHOLE_TABLE_ROUNDS)
    while len(readings) - 1 < rounds and policy.clock() - started + policy.settle_s <= policy.budget_s:
        policy.sleep(policy.settle_s)
        reading = read()
        readings.append(reading)
        if agree(reading):
            return Settled(reading, "agreed", len(readings) - 1, readings)
    state = "stable" if all(same(r, readings[0]) for r in readings) else "moving"
    return Settled(readings[-1], state, len(readings) - 1, readings)
