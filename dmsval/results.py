"""Results as frozen dataclasses; the results JSON is the single source for every rendering.

Schema ``dmsval.results/1`` (documented in docs/results-schema.md):
``{"schema", "run": {...run metadata, counts, verdict...}, "cases": [CaseResult.to_dict(), ...]}``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "dmsval.results/1"
STATUSES = ("passed", "failed", "skipped", "error")


@dataclass(frozen=True)
class CaseResult:
    case_id: str  # e.g. row_count[sakila.film]
    check: str
    subject: str
    status: str  # passed | failed | skipped | error
    message: str = ""
    source_table: str | None = None
    target_table: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)  # {"source": ..., "target": ...}
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None
    nodeid: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} not in {STATUSES}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id, "check": self.check, "subject": self.subject, "status": self.status,
            "message": self.message, "source_table": self.source_table, "target_table": self.target_table,
            "figures": self.figures, "sql": self.sql, "details": self.details,
            "duration_s": round(self.duration_s, 4), "error": self.error, "nodeid": self.nodeid,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CaseResult":
        return cls(**data)


def counts_of(cases: list[CaseResult] | list[dict[str, Any]]) -> dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for case in cases:
        counts[case["status"] if isinstance(case, dict) else case.status] += 1
    return counts


def verdict_of(counts: dict[str, int]) -> str:
    if counts["error"]:
        return "error"
    if counts["failed"]:
        return "failed"
    if counts["passed"]:
        return "passed"
    return "skipped"


@dataclass(frozen=True)
class RunResults:
    run: dict[str, Any]
    cases: tuple[CaseResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        return counts_of(list(self.cases))

    @property
    def verdict(self) -> str:
        return verdict_of(self.counts)

    def to_dict(self) -> dict[str, Any]:
        run = dict(self.run, counts=self.counts, verdict=self.verdict)
        return {"schema": SCHEMA, "run": run, "cases": [c.to_dict() for c in self.cases]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunResults":
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document (schema={data.get('schema')!r})")
        return cls(run=data["run"], cases=tuple(CaseResult.from_dict(c) for c in data["cases"]))

    def write(self, path: Path) -> Path:
        """Write atomically (temp file + rename) so a reader never sees half a document."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2, default=str, ensure_ascii=False)
        os.replace(tmp, path)
        return path


def load_results(path: Path | str) -> RunResults:
    return RunResults.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
