"""What ``notebooks/drilldown.ipynb`` does, as importable functions (the notebook only calls them).

* :func:`read_results` loads a results JSON (``dmsval.results/2``, or ``/1``) from a path or an ``s3://`` URI;
* :func:`run_summary`, :func:`failing_cases` and :func:`differences_by_table` turn it into DataFrames, and
  :func:`plot_differences` into a bar chart of the differences per table;
* :func:`drilldown` re-resolves the run's DMS task from AWS exactly as the suite does (``describe_task``, the
  task's TableMappings, credentials from the endpoints' secrets, read-only engines from ``dmsval.run``) and
  fetches the rows that row_diff reported for one table, by key, from both sides;
  :meth:`Drilldown.styled` shows them side by side with the changed cells highlighted.

Settings (AWS endpoint URL, region, password fallbacks) come from the same environment variables as the suite
(``DMSVAL_AWS_ENDPOINT_URL``, ``DMSVAL_AWS_REGION``, ``DMSVAL_SOURCE_PASSWORD_ENV``...).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import pandas as pd

from .aws.clients import AwsContext, aws_context_for as _context_for
from .config import Settings, resolve_settings
from .errors import ConfigError, DmsvalError, ResolutionError
from . import sections
from .results import READABLE_SCHEMAS, STATUSES, counts_of, not_readable, verdict_of

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

    from .aws.dms import TaskInfo
    from .engines import Engine
    from .mappings import TablePair

REPO = Path(__file__).resolve().parents[1]
ABSENT = pd.NA  # a side that has no row for the key (missing / extra); a database NULL stays None

# CSS classes put on the cells of the drill-down table (asserted by the tests, styled by STYLES)
CHANGED, MISSING, EXTRA, NO_ROW = "dmsval-changed", "dmsval-missing", "dmsval-extra", "dmsval-absent"
STYLES = [
    {"selector": f"td.{CHANGED}", "props": "background-color: #ffb3b3; font-weight: bold; color: #7a0000;"},
    {"selector": f"td.{MISSING}", "props": "background-color: #fff1b8;"},
    {"selector": f"td.{EXTRA}", "props": "background-color: #cfe8ff;"},
    {"selector": f"td.{NO_ROW}", "props": "background-color: #eeeeee; color: #888888;"},
    {"selector": "th, td", "props": "border: 1px solid #ddd; padding: 2px 6px; font-size: 12px;"},
]
STATUS_COLUMN = ("", "status")
KEYS_PER_QUERY = 500


# -- loading --------------------------------------------------------------------------------------------
def settings_from_env(**overrides: Any) -> Settings:
    """The suite's Settings from DMSVAL_* environment variables (no pytest.ini), with explicit overrides."""
    cli = {k: v for k, v in overrides.items() if v is not None}
    return resolve_settings(cli, {}, dict(os.environ), rootdir=str(REPO))


def read_results(location: str | os.PathLike[str], settings: Settings | None = None) -> dict[str, Any]:
    """The results document at a local path or an ``s3://bucket/key`` URI (read with boto3)."""
    text = str(location)
    if text.startswith("s3://"):
        from .aws.clients import AWS_ERRORS, error_code
        from .aws.delivery import split_s3_uri

        settings = settings or settings_from_env()
        bucket, key = split_s3_uri(text)
        if not key:
            raise ConfigError(f"S3 URI {text!r} names no object")
        aws = _context_for(None, settings.aws_region or _default_region(), settings.aws_endpoint_url)
        try:
            body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except AWS_ERRORS as e:
            raise ResolutionError(f"cannot read {text}: {error_code(e)}") from e
        document = json.loads(body.decode("utf-8"))
    else:
        path = Path(text)
        if not path.is_absolute() and not path.exists() and (REPO / path).exists():
            path = REPO / path  # a notebook opened from notebooks/ still finds reports/results.json
        document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("schema") not in READABLE_SCHEMAS:
        raise ConfigError(f"{text} is {not_readable()} (schema={document.get('schema')!r})")
    return document


def _default_region() -> str:
    import boto3

    return boto3.session.Session().region_name or "us-east-1"


# -- summary and chart ----------------------------------------------------------------------------------
def run_summary(results: dict[str, Any]) -> pd.DataFrame:
    """One row per fact of the run: task, verdict, counts, mode, when."""
    run = results["run"]
    counts = run.get("counts") or counts_of(results["cases"])
    task = run.get("task") or {}
    rows = [
        ("Task", f"{task.get('identifier')} ({task.get('arn')})"),
        ("Verdict", str(run.get("verdict") or verdict_of(counts)).upper()),
        *((status.capitalize(), counts.get(status, 0)) for status in STATUSES),
        ("Cases", len(results["cases"])),
        ("Did not run", counts.get("missing", 0)),
        ("Mode", run.get("mode")),
        ("Run", f"{run.get('run_id')} started {run.get('started_at')}"),
        ("Source", _endpoint_text(run.get("source"))),
        ("Target", _endpoint_text(run.get("target"))),
        ("Tables", run.get("tables")),
        ("Checks", ", ".join(run.get("checks") or [])),
    ]
    if run.get("shard"):
        rows.append(("Shard", run["shard"]))
    if run.get("error"):
        rows.append(("Run error", f"could not {run['error'].get('stage')}: {run['error'].get('message')}"))
    for reason in run.get("incomplete_reasons") or []:
        rows.append(("Incomplete", reason))
    if run.get("gate"):
        rows.append(("CDC gate", run["gate"].get("reason")))
    if run.get("history"):  # absent in version-1 documents, null when not computed
        rows.append(("History", run["history"].get("summary")))
        rows += [("History note", note) for note in run["history"].get("notes") or []]
    if run.get("merged_from"):
        rows.append(("Merged from", ", ".join(str(m.get("path", m)) if isinstance(m, dict) else str(m)
                                              for m in run["merged_from"])))
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def _endpoint_text(endpoint: dict[str, Any] | None) -> str:
    if not endpoint:
        return ""
    return (f"{endpoint.get('engine_name')} {endpoint.get('identifier')} "
            f"({endpoint.get('server_name')}:{endpoint.get('port')}/{endpoint.get('database_name')})")


def failing_cases(results: dict[str, Any]) -> pd.DataFrame:
    """The failed and errored cases: id, status, message."""
    rows = [(c["case_id"], c["status"], c["message"]) for c in results["cases"] if c["status"] in ("failed", "error")]
    return pd.DataFrame(rows, columns=["case", "status", "message"])


def table_of(case: dict[str, Any]) -> str | None:
    """The source table a case is about (split row_diff parts ``s.t#2/4`` count for ``s.t``), else None."""
    if case.get("source_table"):
        return str(case["source_table"])
    return None


DIFFERENCE_COLUMNS = ("missing", "extra", "changed", "row_count_difference")


def differences_by_table(results: dict[str, Any]) -> pd.DataFrame:
    """Per source table with any difference: row_diff's missing / extra / changed rows (summed over split parts)
    and row_count's absolute difference. A table whose target is missing counts all its source rows."""
    totals: dict[str, dict[str, int]] = {}
    for case in results["cases"]:
        table, figures = table_of(case), case.get("figures") or {}
        if table is None or case["status"] not in ("failed", "passed"):
            continue
        row = totals.setdefault(table, dict.fromkeys(DIFFERENCE_COLUMNS, 0))
        if case["check"] == "row_diff":
            for name in ("missing", "extra", "changed"):
                row[name] += int(figures.get(name) or 0)
            if figures.get("target_exists") is False or (case.get("details") or {}).get("target_exists") is False:
                row["missing"] += int(figures.get("source_rows") or 0)
        elif case["check"] == "row_count":
            if "difference" in figures:
                row["row_count_difference"] += abs(int(figures["difference"] or 0))
            elif figures.get("target_exists") is False or "does not exist" in case.get("message", ""):
                row["row_count_difference"] += int(figures.get("source_rows") or 0)
    frame = pd.DataFrame.from_dict(totals, orient="index", columns=list(DIFFERENCE_COLUMNS), dtype="int64")
    frame.index.name = "table"
    frame = frame[frame.sum(axis=1) > 0]
    return frame.sort_index()


def plot_differences(frame: pd.DataFrame, title: str = "Differences per table") -> "Figure":
    """A horizontal grouped bar chart of :func:`differences_by_table` (a figure even when there is nothing)."""
    import matplotlib.pyplot as plt

    height = max(3.0, 0.6 * len(frame) + 2.0)
    fig, ax = plt.subplots(figsize=(9, height))
    if frame.empty:
        ax.text(0.5, 0.5, "no differences", ha="center", va="center", fontsize=14, transform=ax.transAxes)
        ax.set_axis_off()
    else:
        colors = {"missing": "#d9822b", "extra": "#2b7bd9", "changed": "#c23030", "row_count_difference": "#7a7a7a"}
        labels = {"missing": "missing in target", "extra": "extra in target", "changed": "changed",
                  "row_count_difference": "row count |difference|"}
        ordered = frame.iloc[::-1]  # first table on top
        bar = 0.8 / len(DIFFERENCE_COLUMNS)
        for i, name in enumerate(DIFFERENCE_COLUMNS):
            positions = [y + (len(DIFFERENCE_COLUMNS) / 2 - i - 0.5) * bar for y in range(len(ordered))]
            bars = ax.barh(positions, ordered[name], height=bar, color=colors[name], label=labels[name])
            ax.bar_label(bars, labels=[str(v) if v else "" for v in ordered[name]], padding=2, fontsize=8)
        ax.set_yticks(range(len(ordered)), ordered.index)
        ax.set_xlabel("rows")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.margins(x=0.15)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 * 4 / height), ncol=len(DIFFERENCE_COLUMNS),
                  fontsize=8, frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


# -- one table --------------------------------------------------------------------------------------------
@dataclass
class TableDifferences:
    """row_diff's details for one source table, merged over its split parts."""

    table: str
    cases: list[str] = field(default_factory=list)
    key: list[str] = field(default_factory=list)
    missing_keys: list[tuple[str, ...]] = field(default_factory=list)
    extra_keys: list[tuple[str, ...]] = field(default_factory=list)
    changed: dict[tuple[str, ...], dict[str, list[Any]]] = field(default_factory=dict)
    figures: dict[str, int] = field(default_factory=dict)  # missing / extra / changed totals (complete counts)
    row_images: list[dict[str, Any]] = field(default_factory=list)  # tables without a key
    columns: list[str] = field(default_factory=list)  # row image columns (tables without a key)
    target_table: str | None = None
    target_exists: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def keys_to_fetch(self) -> list[tuple[str, ...]]:
        return [*self.changed, *self.missing_keys, *self.extra_keys]

    def keys_frame(self, kind: str) -> pd.DataFrame:
        """``missing`` or ``extra`` keys as a DataFrame with the key's column names."""
        keys = self.missing_keys if kind == "missing" else self.extra_keys
        return pd.DataFrame([list(k) for k in keys], columns=self.key or None)


# the details key naming the columns of a table's row images (tables without a key)
_ROW_IMAGE_HEADERS = sections.BY_KEY["row_images"].headers or ""


def table_differences(results: dict[str, Any], table: str) -> TableDifferences:
    """Merge the row_diff details of every case of ``table`` (``row_diff[t]`` or ``row_diff[t#k/n]``)."""
    found = TableDifferences(table)
    cases = [c for c in results["cases"] if c["check"] == "row_diff" and table_of(c) == table]
    if not cases:
        known = sorted({t for t in (table_of(c) for c in results["cases"]) if t})
        raise ConfigError(f"no row_diff case for table {table!r} in these results "
                          f"(tables: {', '.join(known) or 'none'}; was row_diff among the checks?)")
    totals = {"missing": 0, "extra": 0, "changed": 0}
    for case in sorted(cases, key=lambda c: c["case_id"]):
        found.cases.append(case["case_id"])
        found.target_table = found.target_table or case.get("target_table")
        # details of older documents read with today's keys (dmsval.sections.current)
        details, figures = sections.current(case.get("details")), case.get("figures") or {}
        if case["status"] == "error":
            found.notes.append(f"{case['case_id']} could not decide: {case['message']}")
        if details.get("target_exists") is False or figures.get("target_exists") is False:
            found.target_exists = False
            found.notes.append(case["message"])
        found.key = list(details.get("key") or found.key)
        found.missing_keys += [tuple(str(v) for v in k) for k in details.get("missing_keys") or []]
        found.extra_keys += [tuple(str(v) for v in k) for k in details.get("extra_keys") or []]
        for change in details.get("changed") or []:
            found.changed[tuple(str(v) for v in change["key"])] = dict(change["columns"])
        found.row_images += details.get("row_images") or []
        found.columns = list(details.get(_ROW_IMAGE_HEADERS) or found.columns)
        for name in totals:
            totals[name] += int(figures.get(name) or 0)
    found.figures = totals
    for name, listed in (("missing", found.missing_keys), ("extra", found.extra_keys),
                         ("changed", found.changed)):
        if totals[name] > len(listed):
            found.notes.append(f"{totals[name]} {name} rows in all, the report lists the first {len(listed)} "
                               "(--diff-sample)")
    return found


@dataclass
class Drilldown:
    """The differing rows of one table, fetched from both sides; ``rows`` is None when nothing was fetched."""

    differences: TableDifferences
    rows: pd.DataFrame | None = None
    classes: pd.DataFrame | None = None
    not_found: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (side, key) absent now

    def styled(self) -> "Styler":
        """The rows side by side (source | target per column), changed cells highlighted."""
        if self.rows is None or self.classes is None:
            raise ValueError("no rows were fetched (fetch_rows=False, or nothing differs)")
        return style_rows(self.rows, self.classes, caption=f"{self.differences.table}: differing rows, "
                                                            "source | target side by side")

    def row_images_frame(self) -> pd.DataFrame:
        """Tables without a key: the row images whose counts differ."""
        d = self.differences
        rows = [[*(img.get("row") or {}).values(), img.get("source_count"), img.get("target_count")]
                for img in d.row_images]
        return pd.DataFrame(rows, columns=[*d.columns, "source count", "target count"])


def style_rows(rows: pd.DataFrame, classes: pd.DataFrame, caption: str = "") -> "Styler":
    styler = rows.style.set_td_classes(classes).set_table_styles(STYLES).format(_show)
    return styler.set_caption(caption) if caption else styler


def _show(value: Any) -> str:
    if value is ABSENT:
        return "—"
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return "0x" + data[:32].hex() + ("…" if len(data) > 32 else "")
    return str(value)


def drilldown(results: dict[str, Any], table: str, *, fetch: bool = True,
              settings: Settings | None = None) -> Drilldown:
    """row_diff's differences for ``table``; with ``fetch``, the rows themselves from both databases."""
    differences = table_differences(results, table)
    if not fetch or not differences.keys_to_fetch or not differences.target_exists:
        return Drilldown(differences)
    settings = settings or settings_from_env()
    task = resolve_task(results, settings)
    pair = pair_for(task, table)
    with open_sides(settings, task) as (source, target):
        return fetch_rows(source, target, pair, differences, settings, task.settings)


def task_arn_of(results: dict[str, Any]) -> str:
    run = results["run"]
    arn = (run.get("task") or {}).get("arn") or (run.get("trigger") or {}).get("task_arn")
    if not arn:
        raise ConfigError("the results name no DMS task ARN (run.task.arn)")
    return str(arn)


def aws_context_for(results: dict[str, Any], settings: Settings) -> AwsContext:
    """As the suite builds it: --aws-region / DMSVAL_AWS_REGION, else the task ARN's region; the endpoint URL
    from DMSVAL_AWS_ENDPOINT_URL (moto locally)."""
    return _context_for(task_arn_of(results), settings.aws_region, settings.aws_endpoint_url)


def resolve_task(results: dict[str, Any], settings: Settings) -> "TaskInfo":
    from .aws.dms import describe_task

    return describe_task(aws_context_for(results, settings), task_arn_of(results))


def pair_for(task: "TaskInfo", table: str) -> "TablePair":
    """The source -> target pair of ``schema.table`` by the task's TableMappings, as the suite plans it."""
    from .mappings import parse_rules

    schema, dot, name = table.partition(".")
    if not dot:
        raise ConfigError(f"table {table!r} must be schema.table")
    pairs = parse_rules(task.table_mappings).select([(schema, name)])
    if not pairs:
        raise ResolutionError(f"task {task.identifier} does not migrate {table} (TableMappings)")
    return pairs[0]


class open_sides:
    """``with open_sides(settings, task) as (source, target)``: read-only engines resolved as the suite does."""

    def __init__(self, settings: Settings, task: "TaskInfo") -> None:
        self.settings, self.task = settings, task
        self.engines: list["Engine"] = []

    def __enter__(self) -> tuple["Engine", "Engine"]:
        from .run import open_side

        aws = _context_for(self.task.arn, self.settings.aws_region, self.settings.aws_endpoint_url)
        try:
            for role in ("source", "target"):
                self.engines.append(open_side(self.settings, aws, self.task, role))
        except BaseException:
            self.__exit__()
            raise
        return self.engines[0], self.engines[1]

    def __exit__(self, *exc: Any) -> None:
        for engine in self.engines:
            engine.close()
        self.engines = []


def fetch_rows(source: "Engine", target: "Engine", pair: "TablePair", differences: TableDifferences,
               settings: Settings, task_settings: dict[str, Any]) -> Drilldown:
    """Fetch the listed changed / missing / extra rows by key from both engines, into one side-by-side frame.

    Columns are compared as the suite compares them (row_diff's column mapping: renames, removed columns, the
    target's folded names); rows are matched on row_diff's canonical key text; values are shown as each
    database returns them.
    """
    from .checks.base import Case, CheckContext
    from .checks.row_diff import TableDiff

    source_info = source.table_info(pair.source_schema, pair.source_table)
    target_info = target.table_info(pair.target_schema, pair.target_table)
    context = CheckContext(settings, (pair,), source, target, task_settings=task_settings)
    diff = TableDiff(Case("row_diff", pair.source_name, pair), context, pair, source_info, target_info)
    if not diff.key:
        raise DmsvalError(f"{pair.source_name} has no key on both sides: its differences are row images "
                          "(Drilldown.row_images_frame), there are no rows to fetch by key")
    names = [c.source.name for c in diff.columns]
    int_key = diff.int_key
    keys = differences.keys_to_fetch
    fetched: list[dict[tuple[str, ...], tuple[Any, ...]]] = []
    for side_index, (engine, side) in enumerate(zip((source, target), diff.sides)):
        raw_columns = [engine.quote(c.source.name if side_index == 0 else c.target.name) for c in diff.columns]
        fetched.append(_fetch_by_key(engine, side.table, side.key_canonical, side.key_raw, raw_columns, keys,
                                     int_key))

    missing, extra = set(differences.missing_keys), set(differences.extra_keys)
    records, classes, index, not_found = [], [], [], []
    for key in keys:
        status = "changed" if key in differences.changed else "missing in target" if key in missing \
            else "extra in target"
        src, tgt = fetched[0].get(key), fetched[1].get(key)
        if src is None and key not in extra:
            not_found.append(("source", key))
        if tgt is None and key not in missing:
            not_found.append(("target", key))
        changed_columns = set(differences.changed.get(key, {}))
        record: list[Any] = [status]
        row_classes: list[str] = [""]
        for i, name in enumerate(names):
            for side_row, side_name in ((src, "source"), (tgt, "target")):
                record.append(ABSENT if side_row is None else side_row[i])
                if side_row is None:
                    row_classes.append(NO_ROW)
                elif name in changed_columns:
                    row_classes.append(CHANGED)
                elif status == "missing in target" and side_name == "source":
                    row_classes.append(MISSING)
                elif status == "extra in target" and side_name == "target":
                    row_classes.append(EXTRA)
                else:
                    row_classes.append("")
        records.append(record)
        classes.append(row_classes)
        index.append(key if len(key) > 1 else key[0])
    columns = pd.MultiIndex.from_tuples([STATUS_COLUMN, *((n, s) for n in names for s in ("source", "target"))])
    key_names = differences.key or [c.source.name for c in diff.key]
    row_index = (pd.MultiIndex.from_tuples(index, names=key_names) if len(key_names) > 1
                 else pd.Index(index, name=key_names[0]))
    rows = pd.DataFrame(records, index=row_index, columns=columns, dtype=object)
    class_frame = pd.DataFrame(classes, index=row_index, columns=columns)
    return Drilldown(differences, rows, class_frame, not_found)


def _fetch_by_key(engine: "Engine", table_sql: str, key_canonical: Sequence[str], key_raw: Sequence[str],
                  raw_columns: list[str], keys: list[tuple[str, ...]],
                  int_key: bool) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """Rows of ``keys`` (canonical key text) -> their raw column values, matched on the canonical key.

    The WHERE compares the raw key columns (index-friendly) with the canonical text as a literal (an integer for
    an integer key), which each database converts to the column's type."""
    n = len(key_canonical)
    found: dict[tuple[str, ...], tuple[Any, ...]] = {}
    for chunk in _chunks(keys, KEYS_PER_QUERY):
        if n == 1:
            values = ", ".join(engine.literal(int(k[0]) if int_key else k[0]) for k in chunk)
            condition = f"{key_raw[0]} IN ({values})"
        else:
            condition = " OR ".join(
                "(" + " AND ".join(f"{col} = {engine.literal(v)}" for col, v in zip(key_raw, k)) + ")"
                for k in chunk)
        sql = f"SELECT {', '.join(key_canonical)}, {', '.join(raw_columns)} FROM {table_sql} WHERE {condition}"
        for row in engine.query(sql, ()).rows:  # () : SQL holding literals runs with a parameter tuple
            found[tuple(str(v) for v in row[:n])] = tuple(row[n:])
    return found


def _chunks(items: list[tuple[str, ...]], size: int) -> Iterator[list[tuple[str, ...]]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
