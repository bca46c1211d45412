"""Split the cases of one run into N shards: deterministic, disjoint, exhaustive, balanced by estimated cost.

Every shard computes the same assignment from the same plan (case ids and the source's row estimates), so the
union of the shards is exactly the full run and no case runs twice. Costs are rounded to powers of two so that
small fluctuations of the catalog's row estimates between shards cannot change the assignment.
"""

from __future__ import annotations

import heapq
import math
from typing import Iterable

from .checks import Case, TableStats


def parse_shard(value: str) -> tuple[int, int]:
    k, _, n = value.partition("/")
    return int(k), int(n)


def case_cost(case: Case, stats: dict[str, TableStats]) -> int:
    """Estimated cost of a case: the table's rows (divided among split parts), rounded up to a power of two."""
    rows = 1
    if case.pair is not None and case.pair.source_name in stats:
        rows = max(1, stats[case.pair.source_name].rows)
        split = case.split
        if split is not None:
            rows = max(1, rows // split[1])
    return 1 << math.ceil(math.log2(rows)) if rows > 1 else 1


def assign(cases: Iterable[Case], stats: dict[str, TableStats], shards: int) -> dict[str, int]:
    """case_id -> shard (1-based): longest-processing-time-first onto the least loaded shard."""
    ordered = sorted(cases, key=lambda c: (-case_cost(c, stats), c.case_id))
    heap = [(0, shard) for shard in range(1, shards + 1)]
    assignment: dict[str, int] = {}
    for case in ordered:
        load, shard = heapq.heappop(heap)
        assignment[case.case_id] = shard
        heapq.heappush(heap, (load + case_cost(case, stats), shard))
    return assignment
