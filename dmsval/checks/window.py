"""--since: row_diff of a big table on a schedule, reading in full only the rows changed since a point in time.

A scheduled run cannot afford to hash every column of every row of a large table each time. With ``--since T``
a keyed table that has a *watermark column* (``--watermark-columns``: a DATETIME/TIMESTAMP the application sets
on every write, e.g. ``updated_at``) is compared in two parts:

1. **rows changed in the window**: the keys of the source rows with ``watermark >= T`` and of the target rows
   with ``watermark >= T`` (both: a source update DMS did not apply leaves the old watermark on the target; a
   row changed on the target behind DMS's back has a new one there), their union read by key on both sides as
   (key, row hash) -- missing / extra / changed among them, with the same row images as the full comparison;
2. **every key**: the full comparison's segments, with a checksum of the keys in place of the row images (count
   and checksum per segment, no column values; a single integer key: arithmetic sums of the keys, no MD5 per
   row): differing segments are fetched as keys, so a key on one side only (an insert or a delete DMS did not
   apply, whatever its watermark) is missing / extra.

What the window does not see, by design: a row changed without its watermark changing (a drift with an old or a
NULL watermark -- a NULL watermark is outside every window); its key is still checked. A full run (no
``--since``) compares everything. A table without a watermark column, or without a key, is compared in full
(said in the message). ``until`` in the run metadata is the run's start: rows changed after it are compared too.

``--since last-run`` starts the window at the previous run's ``started_at`` (the previous run of the task that
planned, found like the run history: S3 or ``<reports_dir>/history/<task-id>/``) minus a safety margin of
``--cdc-lookback-minutes`` (default 15): a change written on the source just before the previous run started
may have reached the target only after that run read it (CDC latency, up to what the gate tolerates), and the
database's clock that writes the watermarks may be behind the runner's. No previous run: full comparison.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

from ..config import SINCE_LAST_RUN, Settings
from ..errors import ConfigError, DmsvalError
from .recheck import KEYS_PER_QUERY, key_condition

if TYPE_CHECKING:
    from ..aws.clients import AwsContext
    from .row_diff import Column, KeyedDiff, Side, TableDiff

WATERMARK_KINDS = ("date", "datetime")  # ValueKind names a watermark can have: compared with a timestamp


# -- planning ---------------------------------------------------------------------------------------------
def watermark_column(table: str, columns: Iterable[str], entries: Iterable[str]) -> str | None:
    """The watermark column of ``table`` (schema.table) among ``columns``: its ``schema.table=column`` override,
    else the first plain entry it has (names compared without case). None: the table has none."""
    by_lower = {c.lower(): c for c in columns}
    plain = []
    for entry in entries:
        subject, sep, column = entry.partition("=")
        if not sep:
            plain.append(entry)
        elif subject.lower() == table.lower():
            return by_lower.get(column.lower())
    return next((by_lower[name.lower()] for name in plain if name.lower() in by_lower), None)


def resolve_window(settings: Settings, started_at: datetime, *, task_id: str, run_id: str,
                   aws: "AwsContext | None", columns: dict[str, Iterable[str]]) -> dict[str, Any] | None:
    """The run's window, once at planning: {since, until, source, columns, note}; None without --since.
    ``columns``: per source table (schema.table), its column names."""
    if not settings.since:
        return None
    until = started_at.astimezone(timezone.utc).isoformat(timespec="seconds")
    since: str | None = settings.since
    source, note = "option", None
    if settings.since == SINCE_LAST_RUN:
        since, source, note = _last_run(settings, task_id=task_id, run_id=run_id, aws=aws)
    return {"since": since, "until": until, "source": source,
            "columns": {table: (watermark_column(table, names, settings.watermark_columns) if since else None)
                        for table, names in columns.items()},
            "note": note}


def _last_run(settings: Settings, *, task_id: str, run_id: str,
              aws: "AwsContext | None") -> tuple[str | None, str, str | None]:
    """(since, source, note) from the previous run of the task that planned (it has a start and cases)."""
    from ..history import find_previous  # history imports the results module; only last-run needs it

    try:
        previous = find_previous(task_id=task_id, run_id=run_id, s3_uri=settings.s3_uri or None, aws=aws,
                                 reports_dir=settings.reports_path,
                                 usable=lambda document: not (document.get("run") or {}).get("error"))
    except DmsvalError as e:  # an unreadable previous run: a full comparison is slower, never wrong
        return None, "none", f"--since last-run: the previous run could not be read ({e}): full comparison"
    if previous is None:
        return None, "none", "--since last-run: no previous run of this task: full comparison"
    started = previous.document["run"].get("started_at")
    try:
        moment = datetime.fromisoformat(str(started))
    except ValueError as e:
        return None, "none", (f"--since last-run: the previous run {previous.run_id} has no valid started_at "
                              f"({e}): full comparison")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    since = moment.astimezone(timezone.utc) - timedelta(minutes=settings.cdc_lookback_minutes)
    return (since.isoformat(), f"last-run:{previous.run_id}",
            f"window starts {settings.cdc_lookback_minutes:g} min before the previous run's start {started}")


def settings_for_cases(settings: Settings, window: dict[str, Any] | None) -> Settings:
    """The settings cases run with: ``since`` resolved to the plan's timestamp ('' for a full comparison)."""
    return replace(settings, since=(window or {}).get("since") or "")


def since_moment(settings: Settings) -> datetime | None:
    """The window's start as a naive UTC datetime (both sessions run in UTC), None without a window."""
    if not settings.since:
        return None
    if settings.since == SINCE_LAST_RUN:
        raise ConfigError("--since last-run is resolved when a run is planned: pass a timestamp here")
    return datetime.fromisoformat(settings.since).astimezone(timezone.utc).replace(tzinfo=None)


# -- the comparison ---------------------------------------------------------------------------------------
def windowed_column(diff: "TableDiff") -> tuple["Column | None", str]:
    """The compared column that serves as the table's watermark, or None and why the table is compared in full."""
    tried = diff.settings.watermark_columns
    if not diff.key:
        return None, "table without a key: compared in full"
    name = watermark_column(diff.pair.source_name, (c.name for c in diff.source_columns), tried)
    if name is None:
        return None, f"no watermark column ({', '.join(tried) or 'none given'}): compared in full"
    column = next((c for c in diff.columns if c.source.name == name), None)
    if column is None:
        return None, f"watermark column {name} is not on the target (or removed by the mapping): compared in full"
    if column.kind.name not in WATERMARK_KINDS:
        return None, f"watermark column {name} is not a date or timestamp: compared in full"
    return column, ""


def compare_window(diff: "TableDiff", since: datetime, column: "Column") -> tuple[int, int, "KeyedDiff", int]:
    """(source rows, target rows, differences, rows compared in full) of a keyed table with a watermark."""
    full_sides = diff.sides
    # every key: the full comparison's segments with each row's hash taken of its key image, not its row image
    # (the first scan still counts the values DMS cut, as the full comparison does)
    key_sides = tuple(_key_side(diff, side) for side in full_sides)
    diff.sides = key_sides  # type: ignore[assignment]
    try:
        source_rows, target_rows, keyset = diff._by_key_range() if diff.int_key else diff._by_key_hash()
    finally:
        diff.sides = full_sides
    changed = _changed_in_window(diff, since, column)
    _merge(keyset, changed)
    return source_rows, target_rows, keyset, changed.window_rows


class _WindowRows(NamedTuple):
    keyed: "KeyedDiff"  # missing / extra / changed among the rows of the window
    window_rows: int  # distinct keys whose rows were compared in full


# A single integer key's segment checksum is arithmetic, since an MD5 per row costs as much as half the full
# comparison: the exact sum of the keys (one key replaced by another always changes it) and the sum of a
# multiplicative hash of each key modulo a prime (several keys replaced with an equal sum: changed unless they
# also collide there). The multiplier is above 2**31 so that the product is a BIGINT on every engine (an INTEGER
# key times an INTEGER literal would overflow on PostgreSQL and Redshift); (P - 1) * A < 2**63.
KEY_PRIME = 2_147_483_629
KEY_MULTIPLIER = 2_654_435_761
KEY_SHIFT = 2 ** 32  # the key sum and the hash sum in one exact number (DECIMAL / NUMERIC, at most ~1e32)


def _key_side(diff: "TableDiff", side: "Side") -> "Side":
    """The side with each row's hash taken of its key only (and for an integer key, an arithmetic checksum)."""
    engine = side.engine
    if diff.int_key:
        key = side.key_raw[0]
        hashed = f"MOD(MOD({key}, {KEY_PRIME}) * {KEY_MULTIPLIER}, {KEY_PRIME})"
        return replace(side, row_hash=side.key_canonical[0],
                       checksum=f"({engine.sum_ints(key)} * {KEY_SHIFT} + {engine.sum_ints(hashed)})")
    return replace(side, row_hash=engine.md5(engine.row_image(list(side.key_canonical), [c.kind for c in diff.key])))


def _changed_in_window(diff: "TableDiff", since: datetime, column: "Column") -> _WindowRows:
    """Rows whose watermark is in the window on either side, compared by key with their full row images."""
    from .row_diff import KeyedDiff

    source, target = diff.sides
    conditions = [f"{side.engine.quote(name)} >= {side.engine.literal(since)}"
                  for side, name in ((source, column.source.name), (target, column.target.name))]
    for name, side, condition in (("source_window", source, conditions[0]), ("target_window", target, conditions[1])):
        diff.sql.setdefault(name, side.engine.shown(
            f"SELECT {', '.join(side.key_canonical)}, {side.row_hash}, {', '.join(side.key_raw)} "
            f"FROM {side.table}{side.where(condition)}"))
    in_source, in_target = diff._fetch_hashes(conditions)
    # a key in one side's window only: the other side's row (with an older watermark, or none) read by key
    for mine, other, side in ((in_source, in_target, target), (in_target, in_source, source)):
        alone = {k: f.raw_key for k, f in mine.items() if k not in other}
        other.update(_by_key(diff, side, alone))
    keyed = KeyedDiff()
    keyed.compare(in_source, in_target)
    return _WindowRows(keyed, len(set(in_source) | set(in_target)))


def _by_key(diff: "TableDiff", side: "Side", keys: dict[tuple[str, ...], tuple[Any, ...]]) -> dict[Any, Any]:
    """(key, row hash, raw key) of the rows of ``side`` with these canonical keys (raw keys as the other side
    read them). A single integer key: by its raw column (an index lookup). Other keys: first by the raw values
    the other side holds (the key's index; equal in the common case), then the keys not found that way by their
    canonical expressions (a scan, for the few absent or differently spelled ones)."""
    found: dict[Any, Any] = {}
    wanted = list(keys)
    if not diff.int_key:
        for i in range(0, len(wanted), KEYS_PER_QUERY):
            chunk = [keys[k] for k in wanted[i:i + KEYS_PER_QUERY]]
            condition = "(" + " OR ".join(
                "(" + " AND ".join(f"{col} = {side.engine.literal(v)}" if v is not None else f"{col} IS NULL"
                                   for col, v in zip(side.key_raw, raw)) + ")" for raw in chunk) + ")"
            found.update({k: f for k, f in diff._fetch_side(side, condition).items() if k in keys})
        wanted = [k for k in wanted if k not in found]
    for i in range(0, len(wanted), KEYS_PER_QUERY):
        found.update(diff._fetch_side(side, key_condition(side, wanted[i:i + KEYS_PER_QUERY], diff.int_key)))
    diff.fetched_rows += len(found)
    return found


def _merge(keyset: "KeyedDiff", window: _WindowRows) -> None:
    """Missing and extra keys come from the key-set check (it sees every key, the window only some); changed
    rows and duplicated keys from the window are added."""
    from .row_diff import _natural

    changes = window.keyed
    keyset.changed.extend(k for k in changes.changed if k not in set(keyset.changed))
    keyset.source_raw.update(changes.source_raw)
    keyset.target_raw.update(changes.target_raw)
    known = {d[0] for d in keyset.duplicated}
    keyset.duplicated.extend(d for d in changes.duplicated if d[0] not in known)
    keyset.changed.sort(key=_natural)
    keyset.duplicated.sort(key=lambda d: _natural(d[0]))


def window_words(since: str, column: str, rows: int) -> str:
    return f"compared {rows:,} rows changed since {since} ({column}) in full, and every key"
