"""Options of the suite, declared once and resolved once into a frozen :class:`Settings`.

Each option is available as a command-line flag (``--dms-task-arn``), an ini key (``dms_task_arn`` in
pytest.ini) and, where listed, an environment variable (CodeBuild passes the event in ``DMS_EVENT``).
Precedence: command line > environment > ini > default.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError


@dataclass(frozen=True)
class OptionSpec:
    name: str  # attribute of Settings and ini key
    help: str
    default: Any = None
    env: str | None = None
    parse: Callable[[str], Any] = str
    switch: bool = False  # a bare flag on the command line ("true"/"false" in ini and env)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _float_between(low: float, high: float, message: str, *, low_inclusive: bool = True) -> Callable[[str], float]:
    """A parser of finite numbers in [low, high] ((low, high] when not ``low_inclusive``) that says ``message``
    otherwise. float() alone accepts "nan", "inf" and 1e12, which later crash the run or never end it."""
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError as e:
            raise ValueError(message) from e
        if not math.isfinite(number) or number > high or number < low or (number == low and not low_inclusive):
            raise ValueError(message)
        return number
    return parse


_tolerance = _float_between(0.0, math.inf, "must be a finite number of at least 0")
_latency_threshold = _float_between(0.0, 86400.0, "must be a number of seconds greater than 0 and at most 86400 "
                                                  "(1 day)", low_inclusive=False)
# CloudWatch keeps 1-minute datapoints for 15 days; 14 leaves a day of margin
_lookback_minutes = _float_between(0.0, 1440.0 * 14, "must be a number of minutes greater than 0 and at most 20160 "
                                                     "(14 days)", low_inclusive=False)
_wait_minutes = _float_between(0.0, 720.0, "must be a number of minutes from 0 to 720 (12 hours)")
_poll_seconds = _float_between(1.0, 3600.0, "must be a number of seconds from 1 to 3600")
_recheck_seconds = _float_between(0.0, 3600.0, "must be a number of seconds from 0 to 3600")


def _metric_period(value: str) -> int:
    """CloudWatch's rule for a period: 1, 5, 10, 30 or a multiple of 60 seconds."""
    try:
        period = int(value)
    except ValueError as e:
        raise ValueError("must be 1, 5, 10, 30 or a multiple of 60 seconds") from e
    if period not in (1, 5, 10, 30) and (period <= 0 or period % 60):
        raise ValueError("must be 1, 5, 10, 30 or a multiple of 60 seconds")
    return period


# at least 1 s: a shorter limit cannot be kept by the servers' timers or the client deadline, and every engine's
# setting takes it (MariaDB seconds, MySQL and PostgreSQL milliseconds); fractions are fine
_query_timeout = _float_between(1.0, 604800.0, "must be at least 1 second and at most 604800 (7 days)")


def _int_between(low: int, high: int | None, message: str) -> Callable[[str], int]:
    """A parser of whole numbers in [low, high] (high None: unbounded) that says ``message`` otherwise."""
    def parse(value: str) -> int:
        number = int(value)
        if number < low or (high is not None and number > high):
            raise ValueError(message)
        return number
    return parse


_positive_int = _int_between(1, None, "must be a whole number greater than 0")
_digits = _int_between(1, 17, "must be between 1 and 17 significant digits")
_expiry = _int_between(1, 604800, "must be between 1 and 604800 seconds (7 days, the SigV4 limit)")


# a parallel scan holds this many connections per side per xdist worker: more would crowd out the database's
# other sessions (max_connections, Redshift's WLM slots) for little gain
MAX_SCAN_PARALLELISM = 16
_scan_connections = _int_between(1, MAX_SCAN_PARALLELISM, f"must be auto or a whole number from 1 to "
                                                          f"{MAX_SCAN_PARALLELISM}")


def _scan_parallelism(value: str) -> int | str:
    """'auto' (resolved per run by row_diff, see ``scan_connections``) or the connections per side."""
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return _scan_connections(value)
    except ValueError as e:
        raise ValueError(f"must be auto or a whole number from 1 to {MAX_SCAN_PARALLELISM}") from e


_progress_interval = _float_between(0.0, 86400.0, "must be a number of seconds from 0 (no progress lines) to 86400")


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _shard(value: str) -> str:
    k, sep, n = value.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 1 <= int(k) <= int(n):
        raise ValueError("must be K/N with 1 <= K <= N, e.g. 2/3")
    return value


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _mode(value: str) -> str:
    if value not in ("auto", "full", "cdc"):
        raise ValueError("must be one of auto, full, cdc")
    return value


SINCE_LAST_RUN = "last-run"


def _since(value: str) -> str:
    """'' (full comparison), 'last-run' (resolved at planning from the previous run) or an ISO-8601 timestamp,
    returned in UTC as ISO text. A timestamp without an offset is UTC: both engines' sessions run in UTC."""
    value = value.strip()
    if value in ("", SINCE_LAST_RUN):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError as e:
        raise ValueError("must be an ISO-8601 timestamp (2026-12-03T10:00:00Z) or last-run") from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _watermark_columns(value: str) -> tuple[str, ...]:
    """Column names tried in order on every table, or ``schema.table=column`` for one table."""
    entries = _csv(value)
    for entry in entries:
        table, sep, column = entry.partition("=")
        if sep and (not column.strip() or "." not in table.strip() or "=" in column):
            raise ValueError(f"entry {entry!r}: an override must read schema.table=column")
    return tuple(entry.replace(" ", "") if "=" in entry else entry for entry in entries)


def _s3_uri(value: str) -> str:
    if value and not value.startswith("s3://"):
        raise ValueError("must look like s3://bucket/prefix")
    return value.rstrip("/")


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("dms_event", "EventBridge DMS event: inline JSON or a file path", env="DMS_EVENT"),
    OptionSpec("dms_task_arn", "DMS replication task ARN to validate (instead of, or overriding, the event's)",
               env="DMSVAL_TASK_ARN"),
    OptionSpec("aws_endpoint_url", "endpoint URL for every AWS client (e.g. moto on loopback)",
               env="DMSVAL_AWS_ENDPOINT_URL"),
    OptionSpec("aws_region", "AWS region (default: the region of the task ARN, else boto3's chain)",
               env="DMSVAL_AWS_REGION"),
    OptionSpec("mode", "auto (from the task's MigrationType and the event), full or cdc", default="auto",
               env="DMSVAL_MODE", parse=_mode),
    OptionSpec("cdc_latency_threshold", "CDC gate: seconds of CDCLatencySource/Target above which checks are skipped",
               default=5.0, env="DMSVAL_CDC_LATENCY_THRESHOLD", parse=_latency_threshold),
    OptionSpec("cdc_lookback_minutes", "CDC gate: how far back to read the latency metrics", default=15.0,
               env="DMSVAL_CDC_LOOKBACK_MINUTES", parse=_lookback_minutes),
    OptionSpec("cdc_wait_minutes", "CDC gate: how long to wait for the latency to fall under the threshold before "
               "skipping (0 = one look)", default=10.0, env="DMSVAL_CDC_WAIT_MINUTES", parse=_wait_minutes),
    OptionSpec("cdc_poll_seconds", "CDC gate: seconds between readings of the latency metrics while waiting",
               default=30.0, env="DMSVAL_CDC_POLL_SECONDS", parse=_poll_seconds),
    OptionSpec("cdc_recheck_seconds", "CDC mode: time within which rows that differ are read again (after a settle "
               "delay of the observed latency + 2 s) before they count as differences; 0 = no recheck", default=120.0,
               env="DMSVAL_CDC_RECHECK_SECONDS", parse=_recheck_seconds),
    OptionSpec("cdc_recheck_rounds", "CDC mode: at most this many rereads of the rows that differ", default=4,
               env="DMSVAL_CDC_RECHECK_ROUNDS", parse=_positive_int),
    OptionSpec("cdc_recheck_keys", "CDC mode: differing keys isolated per case for the recheck (more fail as not "
               "rechecked)", default=10000, env="DMSVAL_CDC_RECHECK_KEYS", parse=_positive_int),
    OptionSpec("cdc_metric_period", "CDC gate: period (s) of the latency datapoints read (60 = DMS's one-minute "
               "metrics; 1, 5, 10, 30 for high-resolution publishers)", default=60, env="DMSVAL_CDC_METRIC_PERIOD",
               parse=_metric_period),
    OptionSpec("checks", "comma list of checks to run (default: all registered)", default=(),
               env="DMSVAL_CHECKS", parse=_csv),
    OptionSpec("sql_dir", "folder of custom paired SQL checks (<name>/source.sql, <name>/target.sql)",
               default="sql", env="DMSVAL_SQL_DIR"),
    OptionSpec("numeric_tolerance", "custom SQL: absolute tolerance when comparing numbers", default=0.0,
               env="DMSVAL_NUMERIC_TOLERANCE", parse=_tolerance),
    OptionSpec("reports_dir", "where the HTML report, JUnit XML and results JSON are written", default="reports",
               env="DMSVAL_REPORTS_DIR"),
    OptionSpec("s3_uri", "upload reports to s3://bucket/prefix/<task-id>/<run-id>/", default="",
               env="DMSVAL_S3_URI", parse=_s3_uri),
    OptionSpec("sns_topic_arn", "publish the run summary to this SNS topic", default="", env="DMSVAL_SNS_TOPIC_ARN"),
    OptionSpec("source_password_secret", "secret id holding the source password when the endpoint names no secret",
               env="DMSVAL_SOURCE_PASSWORD_SECRET"),
    OptionSpec("source_password_env", "environment variable holding the source password (endpoint without secret)",
               env="DMSVAL_SOURCE_PASSWORD_ENV"),
    OptionSpec("target_password_secret", "secret id holding the target password when the endpoint names no secret",
               env="DMSVAL_TARGET_PASSWORD_SECRET"),
    OptionSpec("target_password_env", "environment variable holding the target password (endpoint without secret)",
               env="DMSVAL_TARGET_PASSWORD_ENV"),
    # a REAL needs 9 significant digits to round-trip, a DOUBLE 17: a faithful copy keeps the exact binary value
    OptionSpec("float_digits", "row_diff, aggregates: significant digits compared for FLOAT (REAL) columns",
               default=9, env="DMSVAL_FLOAT_DIGITS", parse=_digits),
    OptionSpec("double_digits", "row_diff, aggregates: significant digits compared for DOUBLE columns", default=17,
               env="DMSVAL_DOUBLE_DIGITS", parse=_digits),
    OptionSpec("segment_rows", "row_diff: rows per checksum segment", default=2000, env="DMSVAL_SEGMENT_ROWS",
               parse=_positive_int),
    OptionSpec("fetch_rows", "row_diff: a differing segment up to this many rows is fetched, larger ones split",
               default=256, env="DMSVAL_FETCH_ROWS", parse=_positive_int),
    OptionSpec("split_rows", "row_diff: tables above this many rows become several key-range cases",
               default=1_000_000, env="DMSVAL_SPLIT_ROWS", parse=_positive_int),
    OptionSpec("scan_parallelism", "row_diff: connections per side that checksum a large table (or split case) as "
               f"concurrent key ranges: auto, or 1 (one scan per side) to {MAX_SCAN_PARALLELISM}", default="auto",
               env="DMSVAL_SCAN_PARALLELISM", parse=_scan_parallelism),
    OptionSpec("progress_interval", "seconds between the progress lines of a case still running (0: none)",
               default=15.0, env="DMSVAL_PROGRESS_INTERVAL", parse=_progress_interval),
    OptionSpec("diff_sample", "row_diff: differing keys listed per kind in the report (counts are always full)",
               default=50, env="DMSVAL_DIFF_SAMPLE", parse=_positive_int),
    OptionSpec("fail_on_truncation", "row_diff: fail a table whose target holds values cut to what it can keep "
               "(LobMaxSize, column width), instead of passing it with a note", default=False,
               env="DMSVAL_FAIL_ON_TRUNCATION", parse=_bool, switch=True),
    OptionSpec("mask_values", "replace row values (keys, differing values, sample rows) with salted hashes in every "
               "output", default=False, env="DMSVAL_MASK_VALUES", parse=_bool, switch=True),
    OptionSpec("presign_expiry", "seconds the presigned report link in the SNS message stays valid (max 604800)",
               default=604800, env="DMSVAL_PRESIGN_EXPIRY", parse=_expiry),
    OptionSpec("shard", "run only shard K of N (K/N, 1-based): a deterministic, cost-balanced subset of cases",
               default="", env="DMSVAL_SHARD", parse=_shard),
    OptionSpec("query_timeout", "seconds a single validation query may run", default=1800.0,
               env="DMSVAL_QUERY_TIMEOUT", parse=_query_timeout),
    OptionSpec("since", "row_diff: compare in full only the rows whose watermark column changed since this ISO-8601 "
               "timestamp (UTC when no offset), or since the previous run's start (last-run, minus "
               "--cdc-lookback-minutes); every key is still checked. Empty: full comparison", default="",
               env="DMSVAL_SINCE", parse=_since),
    OptionSpec("watermark_columns", "with --since: watermark column names tried in order per table, or "
               "schema.table=column for one table", default=("updated_at", "last_update"),
               env="DMSVAL_WATERMARK_COLUMNS", parse=_watermark_columns),
    OptionSpec("no_history", "do not compare this run's differences with the previous run of the task (new / "
               "persisting / resolved per table)", default=False, env="DMSVAL_NO_HISTORY", parse=_bool, switch=True),
)


_DEFAULTS: dict[str, Any] = {spec.name: spec.default for spec in OPTIONS}


def _default(name: str) -> Any:
    """The default of option ``name``: declared in OPTIONS only; Settings names the field and its type."""
    return _DEFAULTS[name]


@dataclass(frozen=True)
class Settings:
    """The resolved options: one field per OPTIONS entry (defaults from there), plus the rootdir."""

    dms_event: str | None = _default("dms_event")
    dms_task_arn: str | None = _default("dms_task_arn")
    aws_endpoint_url: str | None = _default("aws_endpoint_url")
    aws_region: str | None = _default("aws_region")
    mode: str = _default("mode")
    cdc_latency_threshold: float = _default("cdc_latency_threshold")
    cdc_lookback_minutes: float = _default("cdc_lookback_minutes")
    cdc_wait_minutes: float = _default("cdc_wait_minutes")
    cdc_poll_seconds: float = _default("cdc_poll_seconds")
    cdc_metric_period: int = _default("cdc_metric_period")
    cdc_recheck_seconds: float = _default("cdc_recheck_seconds")
    cdc_recheck_rounds: int = _default("cdc_recheck_rounds")
    cdc_recheck_keys: int = _default("cdc_recheck_keys")
    checks: tuple[str, ...] = _default("checks")
    sql_dir: str = _default("sql_dir")
    numeric_tolerance: float = _default("numeric_tolerance")
    reports_dir: str = _default("reports_dir")
    s3_uri: str = _default("s3_uri")
    sns_topic_arn: str = _default("sns_topic_arn")
    source_password_secret: str | None = _default("source_password_secret")
    source_password_env: str | None = _default("source_password_env")
    target_password_secret: str | None = _default("target_password_secret")
    target_password_env: str | None = _default("target_password_env")
    float_digits: int = _default("float_digits")
    double_digits: int = _default("double_digits")
    segment_rows: int = _default("segment_rows")
    fetch_rows: int = _default("fetch_rows")
    split_rows: int = _default("split_rows")
    diff_sample: int = _default("diff_sample")
    scan_parallelism: int | str = _default("scan_parallelism")
    progress_interval: float = _default("progress_interval")
    shard: str = _default("shard")
    mask_values: bool = _default("mask_values")
    fail_on_truncation: bool = _default("fail_on_truncation")
    presign_expiry: int = _default("presign_expiry")
    query_timeout: float = _default("query_timeout")
    no_history: bool = _default("no_history")
    since: str = _default("since")
    watermark_columns: tuple[str, ...] = _default("watermark_columns")
    rootdir: str = field(default=".", compare=False)

    def path(self, value: str) -> Path:
        """Resolve a configured path relative to the rootdir (where pytest.ini lives)."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.rootdir) / p

    @property
    def reports_path(self) -> Path:
        return self.path(self.reports_dir)

    @property
    def sql_path(self) -> Path:
        return self.path(self.sql_dir)


def resolve_settings(cli: dict[str, Any], ini: dict[str, Any], environ: dict[str, str] | None = None,
                     rootdir: str = ".") -> Settings:
    """Merge command line, environment and ini values into Settings; raise ConfigError naming a bad value."""
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    for spec in OPTIONS:
        raw, origin = None, None
        if cli.get(spec.name) not in (None, ""):
            raw, origin = cli[spec.name], spec.flag
        elif spec.env and environ.get(spec.env):
            raw, origin = environ[spec.env], f"environment variable {spec.env}"
        elif ini.get(spec.name) not in (None, "", []):
            raw, origin = ini[spec.name], f"ini key {spec.name}"
        if raw is None:
            values[spec.name] = spec.default
            continue
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = str(raw)  # a number passed from Python (notebook overrides) is checked like typed text
        try:
            values[spec.name] = spec.parse(raw) if isinstance(raw, str) else raw
        except ValueError as e:
            raise ConfigError(f"{origin}: invalid value {raw!r}: {e}") from e
    known = {f.name for f in fields(Settings)}
    assert set(values) <= known, set(values) - known
    return Settings(rootdir=rootdir, **values)
