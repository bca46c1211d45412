"""Diagnosis of systematic differences: when many rows of one column differ, name the pattern and its likely cause.

:func:`diagnose` looks at a sample of (source value, target value) pairs of one column. Pairs that are equal are
ignored; a diagnosis is given only when *every* remaining pair is explained by *one* pattern and there are at
least ``min_pairs`` of them, so a handful of random defects never gets one. Patterns are tried from the most
specific to the most general (the first that explains every pair wins):

=========================  ==========================================================================
``zero_date_vs_null``      source ``'0000-00-00'``-style text (zero year, month or day), target NULL
``null_vs_empty``          source ``''`` and target NULL, or the reverse (one direction for all pairs)
``boolean_spelling``       same truth values spelled differently (1/0, True/False, 't'/'f', 'Y'/'N' ...)
``time_shift``             datetimes that all differ by one offset (whole minutes, at most 26 hours)
``hex_case``               binary shown as hex, equal ignoring the case of the hex letters
``utf8mb3_question_marks`` every character above U+FFFF replaced by ``'?'`` (or ``'????'``)
``mojibake_latin1``        UTF-8 bytes read as latin1 (ISO-8859-1, or cp1252 as MySQL's latin1 is)
``trailing_spaces``        equal once trailing blanks are removed
``letter_case``            equal ignoring letter case
``cut``                    target a prefix of the source, cut at one length in bytes or characters
``rounding``               target = source rounded to N significant digits (or stored as float4/float8;
                           or the source is the rounded side)
=========================  ==========================================================================

Values may come as the drivers return them (str, int, Decimal, float, datetime, date, bytes, bool, None) or as
canonical text (numbers, datetimes, hex and booleans as strings). Nothing here touches a database.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any, Callable, Sequence

Pair = tuple[Any, Any]

MAX_DIGITS = 17  # significant digits tried for rounding (a double needs at most 17)
MAX_SHIFT = dt.timedelta(hours=26)  # largest offset between two time zones (UTC-12 .. UTC+14)


@dataclass(frozen=True)
class Diagnosis:
    """One column's differences, all explained by one pattern."""

    column: str
    pattern: str  # machine name, e.g. "time_shift"
    summary: str  # "all consistent with a constant time shift of +05:30 (target minus source)"
    likely_cause: str  # phrased for a data engineer: what DMS setting or mapping to look at
    sampled: int  # differing pairs looked at (equal pairs in the sample are not counted)
    differing: int | None  # rows of this column that differ in the whole comparison (if known)
    compared: int | None  # rows compared (if known)
    figures: dict[str, Any] = field(default_factory=dict)  # e.g. {"offset": "+05:30", "offset_seconds": 19800}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """``email: 459 of 603 rows differ (25 sampled); all consistent with ...; likely cause: ...``"""
        if self.differing is not None and self.compared is not None:
            head = f"{self.differing} of {self.compared} rows differ ({self.sampled} sampled)"
        elif self.differing is not None:
            head = f"{self.differing} rows differ ({self.sampled} sampled)"
        elif self.compared is not None:
            head = f"{self.sampled} sampled values differ (of {self.compared} rows compared)"
        else:
            head = f"{self.sampled} sampled values differ"
        return f"{self.column}: {head}; {self.summary}; likely cause: {self.likely_cause}"


@dataclass(frozen=True)
class _Match:
    pattern: str
    summary: str
    cause: str
    figures: dict[str, Any]


def diagnose(column: str, pairs: Sequence[tuple[Any, Any]], *, differing: int | None = None,
             compared: int | None = None, min_pairs: int = 5) -> Diagnosis | None:
    """The one pattern explaining every differing pair of ``pairs`` (source, target), or None.

    Equal pairs are dropped first; with fewer than ``min_pairs`` differing pairs left, or when no single
    pattern explains all of them, there is no diagnosis.
    """
    diffs = [(s, t) for s, t in pairs if not _same(s, t)]
    if not diffs or len(diffs) < min_pairs:
        return None
    for check in _CHECKS:
        found = check(diffs)
        if found is not None:
            return Diagnosis(column=column, pattern=found.pattern, summary=found.summary,
                             likely_cause=found.cause, sampled=len(diffs), differing=differing,
                             compared=compared, figures=found.figures)
    return None


# ---------------------------------------------------------------------------------------------------------------
# value helpers

_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATETIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?")
_ZERO_DATE_TEXT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)?")
_HEX_TEXT = re.compile(r"(?:0[xX])?([0-9a-fA-F]+)")


def _binary(value: Any) -> bytes | None:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return None


def _number(value: Any) -> Decimal | None:
    """A finite number as a Decimal (floats by their shortest repr); numeric text too; bools are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return Decimal(value.strip())
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal values (these pairs are ignored): numbers by value, bool only equals bool, bytes-likes as bytes."""
    if a is None or b is None:
        return a is None and b is None
    ba, bb = _binary(a), _binary(b)
    if ba is not None or bb is not None:
        return ba == bb
    if not isinstance(a, str) and not isinstance(b, str):
        na, nb = _number(a), _number(b)
        if na is not None and nb is not None:
            return na == nb
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    try:
        return bool(a == b)
    except Exception:  # an exotic driver type that refuses to compare: not equal
        return False


def _each(diffs: list[Pair], fn: Callable[[Any, Any], Any]) -> list[Any] | None:
    """fn applied to every pair, or None as soon as one pair gives None (the pattern does not explain it)."""
    out = []
    for s, t in diffs:
        r = fn(s, t)
        if r is None:
            return None
        out.append(r)
    return out


def _one(values: list[Any]) -> Any:
    """The single value all entries share, or None."""
    first = values[0]
    return first if all(v == first for v in values) else None


def _hhmm(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


# ---------------------------------------------------------------------------------------------------------------
# the patterns, most specific first

def _zero_date(value: Any) -> str | None:
    raw = _binary(value)
    if raw is not None:
        try:
            value = raw.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    m = _ZERO_DATE_TEXT.fullmatch(value.strip())
    if m is None or all(int(g) for g in m.groups()):
        return None
    return value.strip()


def _check_zero_dates(diffs: list[Pair]) -> _Match | None:
    zeros = _each(diffs, lambda s, t: _zero_date(s) if t is None else None)
    if zeros is None:
        return None
    shown = sorted(set(zeros))
    # the summary names no value (it reaches messages and SNS even with --mask-values); the values are in figures,
    # which masking hides
    return _Match(
        "zero_date_vs_null",
        f"all consistent with MySQL zero dates (a zero year, month or day; {len(shown)} distinct) arriving as NULL",
        "MySQL zero dates (a zero year, month or day) have no Redshift value and DMS writes them as NULL: "
        "expected, not a copy error (count zero dates as NULL when comparing)",
        {"zero_values": shown[:10], "distinct_zero_values": len(shown)})


def _empty(value: Any) -> bool:
    return value == "" if isinstance(value, str) else _binary(value) == b""


def _check_null_vs_empty(diffs: list[Pair]) -> _Match | None:
    def direction(s: Any, t: Any) -> str | None:
        if _empty(s) and t is None:
            return "empty_to_null"
        if s is None and _empty(t):
            return "null_to_empty"
        return None

    way = _each(diffs, direction)
    if way is None or _one(way) is None:
        return None
    if way[0] == "empty_to_null":
        return _Match("null_vs_empty", "all consistent with empty strings in the source arriving as NULL",
                      "EmptyAsNull=true on the Redshift target endpoint (empty CHAR/VARCHAR values are loaded as "
                      "NULL): set EmptyAsNull=false, or compare '' and NULL as equal for this column",
                      {"direction": "empty_to_null"})
    return _Match("null_vs_empty", "all consistent with NULLs in the source arriving as empty strings",
                  "NULL lost on the way to the target: the CSV files DMS stages for the Redshift COPY did not keep "
                  "NULL apart from '' (check the target endpoint's settings and any transformation rule giving the "
                  "column a default), or the target column was pre-created NOT NULL DEFAULT ''",
                  {"direction": "null_to_empty"})


_BOOLEAN_WORDS: dict[str, tuple[bool, str]] = {
    "true": (True, "true/false"), "false": (False, "true/false"),
    "t": (True, "t/f"), "f": (False, "t/f"),
    "yes": (True, "yes/no"), "no": (False, "yes/no"),
    "y": (True, "y/n"), "n": (False, "y/n"),
    "on": (True, "on/off"), "off": (False, "on/off"),
    "1": (True, "1/0"), "0": (False, "1/0"),
}


def _boolean(value: Any) -> tuple[bool, str] | None:
    """(truth, spelling family) of a value that spells a boolean; letter case is not a spelling family."""
    if isinstance(value, bool):
        return value, "boolean"
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value), "1/0"
    raw = _binary(value)
    if raw in (b"\x00", b"\x01"):
        return raw == b"\x01", "bit"
    if isinstance(value, str):
        return _BOOLEAN_WORDS.get(value.strip().lower())
    return None


def _check_boolean(diffs: list[Pair]) -> _Match | None:
    def spelled(s: Any, t: Any) -> tuple[str, str, str, str] | None:
        bs, bt = _boolean(s), _boolean(t)
        if bs is None or bt is None or bs[0] != bt[0] or bs[1] == bt[1]:
            return None
        return bs[1], bt[1], repr(s), repr(t)

    seen = _each(diffs, spelled)
    if seen is None or _one([x[0] for x in seen]) is None or _one([x[1] for x in seen]) is None:
        return None
    mapping: dict[str, str] = {}
    for _, _, s, t in seen:
        if mapping.setdefault(s, t) != t:
            return None  # one source spelling written two ways: not a consistent mapping
    shown = ", ".join(f"{s} -> {t}" for s, t in mapping.items())
    return _Match(
        "boolean_spelling", f"all consistent with the same truth values spelled differently ({shown})",
        "a BIT(1)/TINYINT(1) source column mapped to BOOLEAN (or kept as text) on the target, via the type mapping, "
        "MapBooleanAsBoolean on the Redshift endpoint or a change-data-type transformation rule: the truth "
        "values agree, compare them as booleans",
        {"mapping": mapping, "source_spelling": seen[0][0], "target_spelling": seen[0][1]})


def _instant(value: Any) -> dt.datetime | None:
    """A datetime (aware ones as naive UTC), from a datetime or ISO text with a time; dates are not instants."""
    if isinstance(value, str) and _DATETIME_TEXT.fullmatch(value.strip()):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.replace(tzinfo=None)


def _check_time_shift(diffs: list[Pair]) -> _Match | None:
    def shift(s: Any, t: Any) -> dt.timedelta | None:
        a, b = _instant(s), _instant(t)
        return None if a is None or b is None else b - a

    deltas = _each(diffs, shift)
    if deltas is None:
        return None
    delta = _one(deltas)
    if not delta or delta.microseconds or delta.seconds % 60 or abs(delta) > MAX_SHIFT:
        return None
    seconds = int(delta.total_seconds())
    offset = _hhmm(seconds)
    return _Match(
        "time_shift", f"all consistent with a constant time shift of {offset} (target minus source)",
        f"source server time zone not UTC? MySQL returns TIMESTAMP values in the session time zone, so a server "
        f"{offset[1:]} away from UTC shifts them by that much: set the source endpoint's ServerTimezone (extra "
        f"connection attribute serverTimezone) to the server's zone and check its time_zone / system_time_zone",
        {"offset": offset, "offset_seconds": seconds})


def _hex(value: Any) -> tuple[str, bool] | None:
    """(hex digits, came from bytes) of binary or hex text."""
    raw = _binary(value)
    if raw is not None:
        return raw.hex(), True
    if isinstance(value, str):
        m = _HEX_TEXT.fullmatch(value.strip())
        if m and len(m.group(1)) % 2 == 0:
            return m.group(1), False
    return None


def _letter_case(values: list[str]) -> str:
    if all(v == v.upper() for v in values):
        return "upper"
    if all(v == v.lower() for v in values):
        return "lower"
    return "mixed"


def _check_hex_case(diffs: list[Pair]) -> _Match | None:
    def hex_pair(s: Any, t: Any) -> str | None:
        hs, ht = _hex(s), _hex(t)
        if hs is None or ht is None or hs[0] == ht[0] or hs[0].lower() != ht[0].lower():
            return None
        # two hex-looking texts: only when it looks like binary (digits in it), not a word like 'Cafe'/'CAFE'
        if not (hs[1] or ht[1]) and (len(hs[0]) < 4 or not any(c.isdigit() for c in hs[0])):
            return None
        return ht[0]

    targets = _each(diffs, hex_pair)
    if targets is None:
        return None
    case = _letter_case(targets)
    return _Match(
        "hex_case", f"all consistent with the same bytes written as {case}-case hex",
        "binary values compared as hex text, with the target's hex in another letter case (DMS writes BLOB/BINARY "
        "to a Redshift VARCHAR as hex, upper case in some DMS versions): the bytes are the same, harmless; "
        "compare hex case-insensitively",
        {"target_case": case})


def _without_supplementary(text: str, marks: int) -> str:
    return "".join("?" * marks if ord(c) > 0xFFFF else c for c in text)


def _check_utf8mb3(diffs: list[Pair]) -> _Match | None:
    def replaced(s: Any, t: Any) -> tuple[int, int] | None:
        if not isinstance(s, str) or not isinstance(t, str):
            return None
        count = sum(1 for c in s if ord(c) > 0xFFFF)
        if not count:
            return None
        for marks in (1, 4):  # one '?' per character, or one per UTF-8 byte
            if t == _without_supplementary(s, marks):
                return marks, count
        return None

    seen = _each(diffs, replaced)
    if seen is None:
        return None
    marks = _one([m for m, _ in seen])
    if marks is None:
        return None
    return _Match(
        "utf8mb3_question_marks",
        "all consistent with 4-byte characters (emoji, rare CJK) replaced by "
        f"{'one ? each' if marks == 1 else '???? each'}",
        "4-byte UTF-8 characters went through a 3-byte 'utf8' (utf8mb3) connection or column: set the source "
        "endpoint's connection character set to utf8mb4 (e.g. AfterConnectScript 'SET NAMES utf8mb4') and check "
        "the column's CHARACTER SET",
        {"replaced_characters": sum(c for _, c in seen), "question_marks_per_character": marks})


# MySQL's latin1 is cp1252, with the five bytes cp1252 leaves undefined mapped to the same code points
_MYSQL_LATIN1 = "".join(bytes([i]).decode("cp1252", errors="ignore") or chr(i) for i in range(256))


def _read_as(text: str, codec: str) -> str:
    raw = text.encode("utf-8", errors="surrogatepass")
    return raw.decode("latin-1") if codec == "iso-8859-1" else "".join(_MYSQL_LATIN1[b] for b in raw)


def _check_mojibake(diffs: list[Pair]) -> _Match | None:
    def codecs(s: Any, t: Any) -> frozenset[str] | None:
        if not isinstance(s, str) or not isinstance(t, str):
            return None
        fits = frozenset(c for c in ("cp1252", "iso-8859-1") if _read_as(s, c) == t)
        return fits or None

    seen = _each(diffs, codecs)
    if seen is None:
        return None
    common = frozenset.intersection(*seen)
    if not common:
        return None
    read_as = "latin1" if len(common) == 2 else next(iter(common))
    return _Match(
        "mojibake_latin1", f"all consistent with UTF-8 text read as {read_as} (each UTF-8 byte became a character)",
        "UTF-8 read as latin1: the source connection's character set is latin1 (set the source endpoint's "
        "connection character set to utf8mb4, e.g. AfterConnectScript 'SET NAMES utf8mb4'), or UTF-8 bytes are "
        "stored in a column declared CHARACTER SET latin1",
        {"read_as": read_as})


def _check_trailing_spaces(diffs: list[Pair]) -> _Match | None:
    def padded(s: Any, t: Any) -> tuple[str, int] | None:
        if not isinstance(s, str) or not isinstance(t, str) or s.rstrip(" ") != t.rstrip(" "):
            return None
        return ("target", len(t)) if len(t) > len(s) else ("source", len(s))

    seen = _each(diffs, padded)
    if seen is None:
        return None
    side = _one([x[0] for x in seen]) or "both"
    figures: dict[str, Any] = {"padded_side": side}
    width = _one([x[1] for x in seen]) if side != "both" else None
    if width is not None:
        figures["padded_to"] = width
    to = f" to {width} characters" if width is not None else ""
    if side == "target":
        summary = f"all consistent with the target padding values with trailing spaces{to}"
        cause = ("CHAR padding: the target column is a blank-padded CHAR (Redshift pads CHAR(n) values to n) "
                 "while the source value is trimmed or VARCHAR; harmless, compare ignoring trailing blanks")
    elif side == "source":
        summary = f"all consistent with the source padding values with trailing spaces{to} the target lacks"
        cause = ("CHAR padding on the source: MySQL returns CHAR values padded when sql_mode has "
                 "PAD_CHAR_TO_FULL_LENGTH, or trailing blanks were trimmed on the way (TrimBlanks on the Redshift "
                 "target endpoint); harmless, compare ignoring trailing blanks")
    else:
        summary = "all consistent with differences in trailing spaces only"
        cause = ("CHAR padding / PAD_CHAR_TO_FULL_LENGTH on one side, TrimBlanks on the Redshift target endpoint "
                 "on the other; compare ignoring trailing blanks")
    return _Match("trailing_spaces", summary, cause, figures)


def _check_letter_case(diffs: list[Pair]) -> _Match | None:
    def cased(s: Any, t: Any) -> tuple[str, str] | None:
        if not isinstance(s, str) or not isinstance(t, str) or s.casefold() != t.casefold():
            return None
        return s, t

    seen = _each(diffs, cased)
    if seen is None:
        return None
    if all(t == s.upper() for s, t in seen):
        case = "upper"
    elif all(t == s.lower() for s, t in seen):
        case = "lower"
    else:
        case = "mixed"
    what = {"upper": "upper-cased", "lower": "lower-cased", "mixed": "in another letter case"}[case]
    return _Match(
        "letter_case", f"all consistent with the values {what} in the target",
        "a transformation changing the case of values: a DMS transformation rule (an expression such as "
        "upper($col) / lower($col), or convert-uppercase / convert-lowercase reaching more than names), or a "
        "case-changing step on the target side (trigger, view, ETL job)",
        {"target_case": case})


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def _byte_cut_fits(texts: list[tuple[str, str]], n: int) -> bool:
    """Every target is the source cut at n UTF-8 bytes, dropping a character the cut would split."""
    for s, t in texts:
        b = _utf8_len(t)
        if not b <= n < b + _utf8_len(s[len(t)]):
            return False
    return True


def _check_cut(diffs: list[Pair]) -> _Match | None:
    def prefix(s: Any, t: Any) -> tuple[Any, Any] | None:
        bs, bt = _binary(s), _binary(t)
        if bs is not None and bt is not None:
            s, t = bs, bt
        elif not isinstance(s, str) or not isinstance(t, str):
            return None
        return (s, t) if 0 < len(t) < len(s) and s.startswith(t) else None

    seen = _each(diffs, prefix)
    if seen is None:
        return None
    kinds = {type(s) for s, _ in seen}
    if len(kinds) != 1:
        return None
    if kinds == {bytes}:
        n, unit = _one([len(t) for _, t in seen]), "bytes"
    else:
        n, unit = _one([_utf8_len(t) for _, t in seen]), "bytes"
        if n is None:
            n, unit = _one([len(t) for _, t in seen]), "characters"
        if n is None:  # cut at n bytes, where a character the cut splits is dropped whole
            longest = max(_utf8_len(t) for _, t in seen)
            lob = -(-longest // 1024) * 1024
            n = next((c for c in (lob, longest) if c - longest <= 3 and _byte_cut_fits(seen, c)), None)
            unit = "bytes"
    if n is None:
        return None
    figures: dict[str, Any] = {"cut_at": n, "unit": unit}
    if unit == "bytes" and n % 1024 == 0:
        figures["lob_max_size_kb"] = n // 1024
        cause = (f"limited LOB mode: LOB columns are cut at LobMaxSize ({n // 1024} KB = {n} bytes); raise "
                 "LobMaxSize or use full LOB / inline LOB mode for this table")
    elif unit == "bytes":
        cause = (f"target column narrower than the data: Redshift VARCHAR({n}) counts bytes, not characters, and "
                 "TruncateColumns on the Redshift target endpoint cuts what does not fit (DMS sizes VARCHAR at 3 "
                 "bytes per character, too few for 4-byte characters; or a pre-created, narrower column); or "
                 f"limited LOB mode with LobMaxSize near {n} bytes")
    else:
        cause = (f"target column narrower than the data: values cut to {n} characters (TruncateColumns on the "
                 "Redshift target endpoint with a narrower target column, pre-created or set by a transformation "
                 "rule); or limited LOB mode (LobMaxSize)")
    return _Match("cut", f"all consistent with values cut at {n} {unit}", cause, figures)


def _float4(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def _rounded(d: Decimal, digits: int, exact: Decimal | None = None) -> set[Decimal]:
    """d rounded to ``digits`` significant digits, half-even and half-up (and from ``exact``, a float's
    exact binary value, as printf-style formatting rounds)."""
    out = set()
    with localcontext() as ctx:
        ctx.prec = 80
        for value in (d,) if exact is None else (d, exact):
            if value == 0:
                out.add(value)
                continue
            q = Decimal(1).scaleb(value.adjusted() - digits + 1)
            try:
                out.add(value.quantize(q, rounding=ROUND_HALF_EVEN))
                out.add(value.quantize(q, rounding=ROUND_HALF_UP))
            except InvalidOperation:
                pass
    return out


def _check_rounding(diffs: list[Pair]) -> _Match | None:
    def numbers(s: Any, t: Any) -> tuple[Decimal, Decimal, Any, Any] | None:
        ns, nt = _number(s), _number(t)
        return None if ns is None or nt is None or ns == nt else (ns, nt, s, t)

    seen = _each(diffs, numbers)
    if seen is None:
        return None

    def exact(v: Any) -> Decimal | None:
        return Decimal(v) if isinstance(v, float) else None

    for n in range(1, MAX_DIGITS + 1):
        if all(nt in _rounded(ns, n, exact(s)) for ns, nt, s, _ in seen):
            return _Match(
                "rounding", f"all consistent with rounding to {n} significant digits",
                f"floating-point values written with {n} significant digits on the way (floats passed as text at "
                f"{n} digits, or a REAL / FLOAT4 target column for a DOUBLE source), or a change-data-type rule "
                "narrowing the type",
                {"digits": n, "rounded_side": "target"})
    if all(isinstance(t, float) and not isinstance(s, str) and t == _float4(float(s)) for _, _, s, t in seen):
        return _Match(
            "rounding", "all consistent with the source stored as a 4-byte float (REAL, about 7 significant digits)",
            "a REAL / FLOAT4 target column for a DOUBLE (or DECIMAL) source: the type mapping, a change-data-type "
            "rule or a pre-created target table",
            {"storage": "float4", "rounded_side": "target"})
    if all(isinstance(t, float) and not isinstance(s, float) and t == float(ns) for ns, _, s, t in seen):
        return _Match(
            "rounding", "all consistent with the source converted to an 8-byte float (15-17 significant digits)",
            "a DECIMAL with more digits than a double holds landed in a DOUBLE PRECISION / FLOAT8 column "
            "(a change-data-type rule or a pre-created target table)",
            {"storage": "float8", "rounded_side": "target"})
    for n in range(1, MAX_DIGITS + 1):
        if all(ns in _rounded(nt, n, exact(t)) for ns, nt, _, t in seen):
            return _Match(
                "rounding", f"all consistent with the source side rounded to {n} significant digits "
                "(the target keeps more)",
                f"the source value is the rounded one: MySQL returns FLOAT (single precision) values as text with "
                f"about {n} significant digits while the target REAL keeps the whole binary value; not a copy "
                f"error, compare this column at {n} digits",
                {"digits": n, "rounded_side": "source"})
    return None


_CHECKS: tuple[Callable[[list[Pair]], _Match | None], ...] = (
    _check_zero_dates,
    _check_null_vs_empty,
    _check_boolean,
    _check_time_shift,
    _check_hex_case,
    _check_utf8mb3,
    _check_mojibake,
    _check_trailing_spaces,
    _check_letter_case,
    _check_cut,
    _check_rounding,
)

#: machine names of the patterns, in the order they are tried
PATTERNS = ("zero_date_vs_null", "null_vs_empty", "boolean_spelling", "time_shift", "hex_case",
            "utf8mb3_question_marks", "mojibake_latin1", "trailing_spaces", "letter_case", "cut", "rounding")
