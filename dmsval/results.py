"""Results as frozen dataclasses; the results JSON is the single source for every rendering.

Schema ``dmsval.results/2`` (documented in docs/results-schema.md):
``{"schema", "run": {...run metadata, counts, verdict...}, "cases": [CaseResult.to_dict(), ...]}``.
Version 2 added ``run.history`` (the comparison with the previous run, :mod:`dmsval.history`); documents of
version 1 are still read (``READABLE_SCHEMAS``): they are version 2 documents without that section.

The verdict is computed against the *planned* cases (``run.planned_cases``): a planned case without a result
(crashed worker, interrupt, deselection) makes the run ``incomplete``, whatever the other cases say, and a run
that could not even plan (``run.error``) is ``error``. Only a run in which every planned case ran and passed
(or was skipped by the CDC gate) is ``passed``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "dmsval.results/2"
# what readers accept: every version whose fields a version-2 reader understands (v1 = v2 without run.history)
READABLE_SCHEMAS = ("dmsval.results/1", SCHEMA)
STATUSES = ("passed", "failed", "skipped", "error")
VERDICTS = ("passed", "failed", "skipped", "error", "incomplete")


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


def counts_of(cases: list[CaseResult] | list[dict[str, Any]], missing: int = 0) -> dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for case in cases:
        counts[case["status"] if isinstance(case, dict) else case.status] += 1
    counts["missing"] = missing
    return counts


def verdict_of(counts: dict[str, int], run_error: Any = None) -> str:
    """The run's verdict. An incomplete run outranks failures: the failures are listed, but a run that did not
    do everything it planned cannot vouch for what it did not do (nor be mistaken for a complete failure list)."""
    if run_error:
        return "error"
    if counts.get("missing"):
        return "incomplete"
    if counts["error"]:
        return "error"
    if counts["failed"]:
        return "failed"
    if counts["passed"]:
        return "passed"
    return "skipped"


def missing_cases(run: dict[str, Any], cases: Any) -> list[str]:
    """Planned case ids with no result (``run.planned_cases`` absent: an old document, nothing known missing)."""
    planned = run.get("planned_cases")
    if planned is None:
        return []
    done = {c["case_id"] if isinstance(c, dict) else c.case_id for c in cases}
    return sorted(set(planned) - done)


@dataclass(frozen=True)
class RunResults:
    run: dict[str, Any]
    cases: tuple[CaseResult, ...]

    @property
    def missing(self) -> list[str]:
        return missing_cases(self.run, self.cases)

    @property
    def counts(self) -> dict[str, int]:
        return counts_of(list(self.cases), len(self.missing))

    @property
    def verdict(self) -> str:
        return verdict_of(self.counts, self.run.get("error"))

    def to_dict(self) -> dict[str, Any]:
        # history: null unless computed (a version-1 document read back has none)
        run = dict(self.run, counts=self.counts, verdict=self.verdict, missing_cases=self.missing,
                   history=self.run.get("history"))
        return {"schema": SCHEMA, "run": run, "cases": [c.to_dict() for c in self.cases]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunResults":
        if data.get("schema") not in READABLE_SCHEMAS:
            raise ValueError(f"{not_readable()} (schema={data.get('schema')!r})")
        if not isinstance(data.get("run"), dict) or not isinstance(data.get("cases"), list):
            raise ValueError(f"a {SCHEMA} document needs a 'run' object and a 'cases' list")
        return cls(run=data["run"], cases=tuple(CaseResult.from_dict(c) for c in data["cases"]))

    def write(self, path: Path) -> Path:
        """Write atomically (temp file + rename) so a reader never sees half a document."""
        return write_json_atomically(self.to_dict(), path)


def not_readable() -> str:
    """"not a dmsval.results/1 document nor a dmsval.results/2 document": what readers say of another schema."""
    return "not a " + " document nor a ".join(READABLE_SCHEMAS) + " document"


def write_json_atomically(document: dict[str, Any], path: Path) -> Path:
    """Temp file + rename, with the permissions of the other reports (mkstemp alone would leave 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2, default=str, ensure_ascii=False)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return path


def load_results(path: Path | str) -> RunResults:
    return RunResults.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
