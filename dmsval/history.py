"""Run-to-run history: each run's differences compared with the previous run of the same task.

A run says, per table, which differences are *new* (not in the previous run), *persisting* (in both) and
*resolved* (in the previous run only). A difference is identified by what it is about, never by its counts:

* row_diff: a missing / extra key, a changed key with the names of its changed columns, a duplicated key, and for
  tables without a key a row image (the row itself); split cases (``row_diff[db.t#2/4]``) count for their table;
* any other failed or errored case (and a row_diff case that names no row: an absent target, an error): the case
  itself, identified by its check, so a row_count that keeps failing is persisting.

Limits, said in the history section rather than hidden:

* row_diff lists a sample of keys (``--diff-sample``); where a count in ``figures`` exceeds the keys listed, the
  table's comparison is *sampled*: a key beyond the sample can read as new or resolved without being so;
* ``--mask-values`` salts every value with a random per-run salt, so keys of two runs cannot be matched: a run
  with masked values (or after one) is compared case by case, and the section then holds no value at all;
* a difference of the previous run counts as resolved only if this run decided the same check on the same table
  (passed or failed); otherwise (other ``--checks``, an incomplete run, an error) it is counted as *unverified*.

The previous run is found in S3 (``--s3-uri``: the latest ``<run-id>/results.json`` under
``s3://bucket/prefix/<task-id>/`` before this run) or, without S3, in the local history folder every run keeps
(``<reports_dir>/history/<task-id>/<run-id>.json``). Shard documents (partial) and runs that could not plan (no
cases) are passed over. No previous run: the section says "first run"; a previous run that cannot be read
(AccessDenied, corrupt JSON) is recorded as an error text in the section -- history never fails a run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .aws.clients import AWS_ERRORS, AwsContext, error_code
from .errors import DeliveryError, DmsvalError
from .results import READABLE_SCHEMAS, write_json_atomically

HISTORY_DIR = "history"
RESULTS_FILE = "results.json"
SAMPLES_PER_STATE = 10  # identities listed per table for each of new / persisting / resolved
MAX_CANDIDATES = 25  # earlier run folders read, newest first, before giving up on finding a usable one
STATES = ("new", "persisting", "resolved", "unverified")
DECIDED = ("passed", "failed")  # a case that decided something about its table
_SPLIT_PART = re.compile(r"#\d+/\d+$")

# (check, kind, value as canonical JSON): hashable, and equal across runs for the same difference
Identity = tuple[str, str, str]


class HistoryError(DmsvalError):
    """The previous run exists but could not be read (recorded in the history section, never fatal)."""


# -- the differences of one document ---------------------------------------------------------------------
def table_of(case: dict[str, Any]) -> str:
    """The table (or custom query folder) a case is about; split parts ``db.t#2/4`` belong to ``db.t``."""
    subject = str(case.get("subject") or case.get("case_id") or "")
    case_id = str(case.get("case_id") or "")
    if subject == case_id and "[" in subject and subject.endswith("]"):  # a case recorded from a pytest report
        subject = subject.split("[", 1)[1][:-1]
    return _SPLIT_PART.sub("", subject)


def is_masked(document: dict[str, Any]) -> bool:
    return bool((document.get("run") or {}).get("values_masked"))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))


def _row_identities(case: dict[str, Any]) -> Iterator[tuple[Identity, dict[str, Any]]]:
    """(identity, what the report shows of it) for every row difference a row_diff case lists."""
    check, details = str(case.get("check")), case.get("details") or {}
    for kind, field in (("missing", "missing_keys"), ("extra", "extra_keys")):
        for key in details.get(field) or []:
            yield (check, kind, _canonical(list(key))), {"kind": kind, "key": list(key)}
    for change in details.get("changed") or []:
        columns = change.get("columns") or {}
        identity = (check, "changed", _canonical({"key": list(change.get("key") or []), "columns": sorted(columns)}))
        yield identity, {"kind": "changed", "key": list(change.get("key") or []), "columns": columns}
    for duplicate in details.get("duplicated_keys") or []:
        key = list(duplicate.get("key") or [])
        yield (check, "duplicated", _canonical(key)), {"kind": "duplicated", "key": key,
                                                      "source_rows": duplicate.get("source_rows"),
                                                      "target_rows": duplicate.get("target_rows")}
    for image in details.get("row_images") or []:
        row = image.get("row") or {}
        yield (check, "row_image", _canonical(row)), {"kind": "row_image", "row": row,
                                                     "source_count": image.get("source_count"),
                                                     "target_count": image.get("target_count")}


# figure counted in full -> the details list holding its sample
_SAMPLED_LISTS = (("missing", "missing_keys"), ("extra", "extra_keys"), ("changed", "changed"),
                  ("duplicated_keys", "duplicated_keys"), ("differing_row_images", "row_images"))


def _is_sampled(case: dict[str, Any]) -> bool:
    figures, details = case.get("figures") or {}, case.get("details") or {}
    for figure, listed in _SAMPLED_LISTS:
        count = figures.get(figure)
        if isinstance(count, int) and not isinstance(count, bool) and count > len(details.get(listed) or []):
            return True
    return False


@dataclass
class TableDifferences:
    identities: dict[Identity, dict[str, Any]]  # identity -> what the report shows of it
    sampled: bool = False


def _differences(document: dict[str, Any], case_level: bool) -> dict[str, TableDifferences]:
    tables: dict[str, TableDifferences] = {}
    for case in document.get("cases") or []:
        if case.get("status") not in ("failed", "error"):
            continue
        found = tables.setdefault(table_of(case), TableDifferences({}))
        rows = [] if case_level else list(_row_identities(case))
        found.identities.update(rows)
        if rows and _is_sampled(case):
            found.sampled = True
        if not rows:  # a case that names no row (or masked values): the case itself, by its check
            check = str(case.get("check"))
            found.identities[(check, "case", "")] = {"kind": "case", "check": check, "status": case.get("status")}
    return tables


def differences_of(document: dict[str, Any]) -> dict[str, set[Identity]]:
    """Per table, the identities of the document's differences (case level only when its values are masked)."""
    return {table: set(found.identities) for table, found in _differences(document, is_masked(document)).items()}


def sampled_tables(document: dict[str, Any]) -> set[str]:
    """Tables whose listed keys are a sample of their differences (a figure counts more than the list holds)."""
    return {table for table, found in _differences(document, False).items() if found.sampled}


def _decided(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(table_of(c), str(c.get("check"))) for c in document.get("cases") or [] if c.get("status") in DECIDED}


# -- comparison -------------------------------------------------------------------------------------------
def describe(shown: dict[str, Any]) -> str:
    """One line for a difference, as the renderers print it (they know no check and no kind)."""
    kind = shown["kind"]
    key = ", ".join("NULL" if v is None else str(v) for v in shown.get("key") or [])
    if kind in ("missing", "extra"):
        return f"key ({key}) {kind} in the target"
    if kind == "changed":
        columns = shown.get("columns") or {}
        return f"key ({key}) changed: " + "; ".join(f"{c} {_text(v[0])} -> {_text(v[1])}"
                                                     if isinstance(v, (list, tuple)) and len(v) == 2 else c
                                                     for c, v in columns.items())
    if kind == "duplicated":
        return f"key ({key}) duplicated (source {shown.get('source_rows')}, target {shown.get('target_rows')} rows)"
    if kind == "row_image":
        row = ", ".join(f"{k}={_text(v)}" for k, v in (shown.get("row") or {}).items())
        return f"row ({row}) source {shown.get('source_count')}, target {shown.get('target_count')} times"
    return f"{shown.get('check')} {shown.get('status')}"


def _text(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _sentence(totals: dict[str, int], previous: dict[str, Any]) -> str:
    unverified = f", {totals['unverified']} not checked again" if totals.get("unverified") else ""
    return (f"{totals['new']} new, {totals['persisting']} persisting, {totals['resolved']} resolved{unverified} "
            f"since {previous.get('run_id')} ({previous.get('started_at')})")


def compare(previous_doc: dict[str, Any], current_doc: dict[str, Any]) -> dict[str, Any]:
    """The history section of ``current_doc`` against ``previous_doc`` (both results documents, any readable
    schema): per table counts and a sample of each state's differences, totals, and the previous run."""
    case_level = is_masked(previous_doc) or is_masked(current_doc)
    before, now = _differences(previous_doc, case_level), _differences(current_doc, case_level)
    decided_now = _decided(current_doc)
    # a case compared only the rows changed in a --since window (plus every key): a changed row outside the
    # window was not looked at again, so its earlier difference is not proven resolved
    windowed_now = {(table_of(c), str(c.get("check"))) for c in current_doc.get("cases") or []
                    if (c.get("details") or {}).get("window")}
    prev_run = previous_doc.get("run") or {}
    previous = {"run_id": prev_run.get("run_id"), "started_at": prev_run.get("started_at"),
                "verdict": prev_run.get("verdict")}
    totals = dict.fromkeys(STATES, 0)
    tables = []
    for table in sorted(set(before) | set(now)):
        old = before.get(table, TableDifferences({}))
        new = now.get(table, TableDifferences({}))
        states: dict[str, list[tuple[Identity, dict[str, Any]]]] = {s: [] for s in STATES}
        for identity, shown in new.identities.items():
            states["persisting" if identity in old.identities else "new"].append((identity, shown))
        for identity, shown in old.identities.items():
            if identity not in new.identities:
                # gone, but only proven gone where this run decided the same check on the same table
                proven = (table, identity[0]) in decided_now and not (
                    identity[1] == "changed" and (table, identity[0]) in windowed_now)
                states["resolved" if proven else "unverified"].append((identity, shown))
        row = {"table": table, **{s: len(states[s]) for s in STATES}, "sampled": old.sampled or new.sampled,
               "samples": {s: [describe(shown) for _, shown in sorted(states[s], key=lambda item: item[0])
                               [:SAMPLES_PER_STATE]] for s in STATES if states[s]}}
        for state in STATES:
            totals[state] += row[state]
        tables.append(row)
    notes = []
    if case_level:
        notes.append("values are masked (--mask-values) in this or the previous run: their salted keys cannot be "
                     "matched across runs, so the runs are compared case by case")
    sampled = [t["table"] for t in tables if t["sampled"]]
    if sampled:
        notes.append(f"keys compared from the listed samples (--diff-sample) in {len(sampled)} table(s): "
                     f"{', '.join(sampled)}; a difference beyond the sample can read as new or resolved")
    if totals["unverified"]:
        notes.append(f"{totals['unverified']} difference(s) of the previous run were not checked again by this run "
                     "(another --checks, a --since window that did not cover the row, or the case did not decide): "
                     "neither resolved nor persisting")
    return {"status": "compared", "previous": previous, "level": "cases" if case_level else "rows",
            "summary": _sentence(totals, previous), "totals": totals, "tables": tables, "notes": notes,
            "error": None}


def first_run() -> dict[str, Any]:
    return {"status": "first run", "previous": None, "summary": "first run: no earlier run of this task to compare "
            "with", "totals": None, "tables": [], "notes": [], "error": None}


def unavailable(error: str) -> dict[str, Any]:
    return {"status": "error", "previous": None, "summary": f"history unavailable: {error}", "totals": None,
            "tables": [], "notes": [], "error": error}


# -- finding the previous run -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PreviousRun:
    run_id: str
    location: str  # s3://.../results.json or a local path
    document: dict[str, Any]


def is_whole_run(document: dict[str, Any]) -> bool:
    """A run that stands for the task: not one shard's share, and one that planned (a run error has no cases)."""
    run = document.get("run") or {}
    return not run.get("shard") and not run.get("error")


def _parse(text: str | bytes, where: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HistoryError(f"the previous results {where} are not JSON ({e})") from e
    if not isinstance(document, dict) or document.get("schema") not in READABLE_SCHEMAS:
        found = document.get("schema") if isinstance(document, dict) else type(document).__name__
        raise HistoryError(f"the previous results {where} are not a results document (schema={found!r})")
    if not isinstance(document.get("run"), dict) or not isinstance(document.get("cases"), list):
        raise HistoryError(f"the previous results {where} have no 'run' object and 'cases' list")
    return document


def _earlier(run_ids: list[str], run_id: str) -> list[str]:
    """Run ids started before ``run_id`` (or in the same second: the random suffix orders nothing), newest first.
    Run ids are ``<UTC start, to the second>-<random>`` and sort by time up to the second."""
    started = run_id.split("-", 1)[0]
    return sorted((r for r in run_ids if r and r != run_id and r.split("-", 1)[0] <= started), reverse=True)


def _s3_base(s3_uri: str, task_id: str) -> tuple[str, str]:
    from .aws.delivery import split_s3_uri  # delivery imports the renderers; only a lookup in S3 needs it

    try:
        bucket, prefix = split_s3_uri(s3_uri)
    except DeliveryError as e:
        raise HistoryError(str(e)) from e
    return bucket, "/".join(p for p in (prefix, task_id) if p) + "/"


def _s3_candidates(aws: AwsContext, s3_uri: str, task_id: str, run_id: str) -> Iterator[tuple[str, Callable[[], Any]]]:
    bucket, base = _s3_base(s3_uri, task_id)
    client = aws.client("s3")
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base, Delimiter="/")
        run_ids = [p["Prefix"][len(base):].rstrip("/") for page in pages for p in page.get("CommonPrefixes") or []]
    except AWS_ERRORS as e:
        raise HistoryError(f"cannot list s3://{bucket}/{base}: {error_code(e)}") from e
    for earlier in _earlier(run_ids, run_id)[:MAX_CANDIDATES]:
        key = f"{base}{earlier}/{RESULTS_FILE}"

        def read(key: str = key) -> Any:
            try:
                return client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except AWS_ERRORS as e:
                if error_code(e) in ("NoSuchKey", "404"):
                    return None  # a folder without results (an upload that failed half-way): not a run to use
                raise HistoryError(f"cannot read s3://{bucket}/{key}: {error_code(e)}") from e

        yield f"s3://{bucket}/{key}", read


def history_folder(reports_dir: Path, task_id: str) -> Path:
    return Path(reports_dir) / HISTORY_DIR / task_id


def _local_candidates(reports_dir: Path, task_id: str, run_id: str) -> Iterator[tuple[str, Callable[[], Any]]]:
    folder = history_folder(reports_dir, task_id)
    if not folder.is_dir():
        return
    paths = {p.stem: p for p in folder.glob("*.json")}
    for path in [paths[r] for r in _earlier(list(paths), run_id)][:MAX_CANDIDATES]:
        def read(path: Path = path) -> Any:
            try:
                return path.read_bytes()
            except OSError as e:
                raise HistoryError(f"cannot read {path}: {e.strerror or e}") from e

        yield str(path), read


def find_previous(*, task_id: str, run_id: str, s3_uri: str | None = None, aws: AwsContext | None = None,
                  reports_dir: Path | None = None,
                  usable: Callable[[dict[str, Any]], bool] = is_whole_run) -> PreviousRun | None:
    """The latest run of ``task_id`` before ``run_id`` (run ids sort by time) whose document is ``usable``: from
    S3 when ``s3_uri`` is given, else from ``reports_dir``'s history folder. None: there is none. Raises
    HistoryError when a previous run exists but cannot be read."""
    if s3_uri:
        if aws is None:
            raise HistoryError("reading the previous run from S3 needs an AWS context")
        candidates: Iterable[tuple[str, Callable[[], Any]]] = _s3_candidates(aws, s3_uri, task_id, run_id)
    elif reports_dir is not None:
        candidates = _local_candidates(reports_dir, task_id, run_id)
    else:
        return None
    for location, read in candidates:
        raw = read()
        if raw is None:
            continue
        document = _parse(raw, location)
        if usable(document):
            return PreviousRun(str(document["run"].get("run_id") or Path(location).stem), location, document)
    return None


def history_for(document: dict[str, Any], *, s3_uri: str | None, aws: AwsContext | None,
                reports_dir: Path) -> dict[str, Any]:
    """The history section of a results document; never raises for what it reads (an error becomes its text)."""
    run = document["run"]
    try:
        previous = find_previous(task_id=run["task"]["identifier"], run_id=run["run_id"], s3_uri=s3_uri, aws=aws,
                                 reports_dir=reports_dir)
    except DmsvalError as e:  # HistoryError, or no AWS region to read S3 with
        return unavailable(str(e))
    if previous is None:
        return first_run()
    try:
        return compare(previous.document, document)
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # a document of the right schema, wrong inside
        return unavailable(f"the previous results {previous.location} could not be compared "
                           f"({type(e).__name__}: {e})")


def keep_local_copy(document: dict[str, Any], reports_dir: Path) -> Path:
    """``<reports_dir>/history/<task-id>/<run-id>.json``: the local history a run without S3 compares with."""
    run = document["run"]
    return write_json_atomically(document, history_folder(reports_dir, run["task"]["identifier"])
                                 / f"{run['run_id']}.json")
