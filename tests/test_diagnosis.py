"""diagnose(): a pattern planted column-wide is named with its figures and cause; random defects, a mix of two
patterns, too few pairs and equal pairs never give a diagnosis. Plain values, no database: source values as
pymysql returns them, target values as redshift_connector does (str, datetime, Decimal, float, bool)."""

from __future__ import annotations

import datetime as dt
import random
import struct
from decimal import Decimal
from typing import Any

import pytest

from dmsval.diagnosis import PATTERNS, Diagnosis, diagnose

FIRST = ["MARY", "PATRICIA", "LINDA", "BARBARA", "ELIZABETH", "JENNIFER", "MARIA", "SUSAN", "MARGARET", "DOROTHY",
         "LISA", "NANCY", "KAREN", "BETTY", "HELEN", "SANDRA", "DONNA", "CAROL", "RUTH", "SHARON", "MICHELLE",
         "LAURA", "SARAH", "KIMBERLY", "DEBORAH", "JESSICA", "SHIRLEY", "CYNTHIA", "ANGELA", "MELISSA"]
LAST = ["SMITH", "JOHNSON", "WILLIAMS", "JONES", "BROWN", "DAVIS", "MILLER", "WILSON", "MOORE", "TAYLOR",
        "ANDERSON", "THOMAS", "JACKSON", "WHITE", "HARRIS", "MARTIN", "THOMPSON", "GARCIA", "MARTINEZ", "ROBINSON"]
ACCENTED = ["José Álvarez", "Zoë Brontë", "François Müller", "Łukasz Żółć", "Søren Kierkegaard", "Ñandú Pérez",
            "Renée Dubois", "Björn Ångström", "Dvořák Antonín", "Ævar Þórsson", "Señora Núñez", "Chloé Lefèvre",
            "Jürgen Groß", "Małgorzata Wójcik", "Ioana Păunescu", "Tomáš Černý", "Ilse Weiß", "Hélène Éluard",
            "Gödel Kurt", "Ørsted Hans", "Çağla Öztürk", "Agnès Varda", "Émile Zola", "Niño Ibáñez", "Lütfi Ağa"]
EMOJI = ["Renée 🎉", "Dmitri 😀 Ivanov", "Ana 👩‍💻 Costa", "Kenji 🍣 Sato", "Lea 🌍", "Omar 🚀 Haddad",
         "Mia 🎸 Novak", "Tariq 🧪", "Sofía 💃 Ruiz", "Liam 🐍 Byrne", "𝔉𝔯𝔞𝔨𝔱𝔲𝔯 Text", "Yuki 🌸", "Paulo ⚽ Silva",
         "Eva 🎨", "Noah 🐳 Berg", "Ivy 🌿", "Zane ⚡🔥", "Ada 💾 King", "Rui 🍷", "Kai 🏄", "Nia 🦋", "Ben 🎲 Ott",
         "Lou 🎻", "Pia 🍕", "Sam 🤖 Reyes"]


def emails(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        out.add(f"{rnd.choice(FIRST)}.{rnd.choice(LAST)}@sakilacustomer.org")
    return sorted(out)


def rental_dates(n: int, seed: int = 2) -> list[dt.datetime]:
    rnd = random.Random(seed)
    start = dt.datetime(2005, 5, 24, 22, 53, 30)
    return [start + dt.timedelta(seconds=rnd.randrange(0, 90 * 86400)) for _ in range(n)]


def doubles(n: int, seed: int = 3) -> list[float]:
    rnd = random.Random(seed)
    return [round(rnd.uniform(-99999, 99999), rnd.randrange(6, 10)) for _ in range(n)]


def float4(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def blobs(n: int, seed: int = 4) -> list[bytes]:
    rnd = random.Random(seed)
    return [b"\x89PNG\r\n\x1a\n" + rnd.randbytes(rnd.randrange(8, 40)) for _ in range(n)]


def check(d: Diagnosis | None, pattern: str, **figures: Any) -> Diagnosis:
    assert d is not None, f"expected a {pattern} diagnosis"
    assert d.pattern == pattern, (d.pattern, d.summary)
    for k, v in figures.items():
        assert d.figures.get(k) == v, (k, d.figures)
    assert d.summary.startswith("all consistent with")
    return d


# ---------------------------------------------------------------------------------------------------------------
# each pattern planted column-wide

def test_time_shift_names_the_offset_and_the_server_timezone() -> None:
    src = rental_dates(30)
    pairs = [(s, s - dt.timedelta(hours=5, minutes=30)) for s in src]
    d = check(diagnose("rental_date", pairs, differing=16044, compared=16044), "time_shift",
              offset="-05:30", offset_seconds=-19800)
    assert "ServerTimezone" in d.likely_cause and "time zone" in d.likely_cause
    assert d.sampled == 30
    assert d.text().startswith("rental_date: 16044 of 16044 rows differ (30 sampled); all consistent with a "
                               "constant time shift of -05:30")


def test_time_shift_with_timezone_aware_target_and_text_source() -> None:
    # TIMESTAMPTZ comes back aware (UTC); the source side as canonical text
    src = rental_dates(25, seed=7)
    pairs = [(s.strftime("%Y-%m-%d %H:%M:%S"), (s + dt.timedelta(hours=2)).replace(tzinfo=dt.timezone.utc))
             for s in src]
    check(diagnose("last_update", pairs), "time_shift", offset="+02:00", offset_seconds=7200)


def test_cut_at_lob_max_size_in_bytes() -> None:
    # limited LOB mode, LobMaxSize 32 KB: the first 32768 UTF-8 bytes, a character the cut splits dropped whole
    rnd = random.Random(5)
    words = ["A", "Epic", "Drama", "of", "a", "Feminist", "And", "a", "Mad", "Scientist", "café", "naïve", "Ærø",
             "日本", "𝄞", "Ωmega", "— ", "“quoted”"]
    pairs = []
    for _ in range(25):
        text = " ".join(rnd.choice(words) for _ in range(9000))
        raw = text.encode("utf-8")
        assert len(raw) > 32768
        cut = raw[:32768].decode("utf-8", errors="ignore")
        pairs.append((text, cut))
    assert len({len(t.encode()) for _, t in pairs}) > 1, "some cuts must split a multibyte character"
    d = check(diagnose("description", pairs), "cut", cut_at=32768, unit="bytes", lob_max_size_kb=32)
    assert "LobMaxSize" in d.likely_cause


def test_cut_at_characters() -> None:
    names = [n + " de la Cruz" for n in ACCENTED]
    pairs = [(n, n[:12]) for n in names]
    assert len({len(t.encode()) for _, t in pairs}) > 1, "bytes must not explain this cut"
    d = check(diagnose("full_name", pairs), "cut", cut_at=12, unit="characters")
    assert "TruncateColumns" in d.likely_cause


def test_cut_of_binary_values_at_bytes() -> None:
    src = [b + bytes(300) for b in blobs(25)]
    pairs = [(s, s[:255]) for s in src]
    d = check(diagnose("picture", pairs), "cut", cut_at=255, unit="bytes")
    assert "lob_max_size_kb" not in d.figures and "VARCHAR(255)" in d.likely_cause


def test_rounding_to_seven_significant_digits() -> None:
    src = [12345.678901234] + doubles(24)
    pairs = [(s, float(f"{s:.7g}")) for s in src]
    d = check(diagnose("amount", pairs), "rounding", digits=7, rounded_side="target")
    assert "REAL" in d.likely_cause and "7 significant digits" in d.summary


def test_rounding_of_decimal_target_values() -> None:
    # a DOUBLE written as text with 15 digits into a NUMERIC column: target values arrive as Decimal
    rnd = random.Random(9)
    src = [rnd.uniform(1, 1000) for _ in range(25)]
    pairs = [(s, Decimal(f"{s:.15g}")) for s in src]
    check(diagnose("ratio", pairs), "rounding", digits=15)


def test_real_target_for_double_source() -> None:
    src = [12345.678901234] + doubles(24, seed=11)
    pairs = [(s, float4(s)) for s in src]
    d = check(diagnose("rate", pairs), "rounding", storage="float4", rounded_side="target")
    assert "REAL" in d.likely_cause


def test_source_float_read_at_six_digits_target_real_exact() -> None:
    # MySQL FLOAT comes back as text with 6 digits; the Redshift REAL holds the whole float4 value
    rnd = random.Random(12)
    exact = [float4(rnd.uniform(1, 99999)) for _ in range(25)]
    pairs = [(float(f"{x:.6g}"), x) for x in exact]
    d = check(diagnose("weight", pairs), "rounding", digits=6, rounded_side="source")
    assert "FLOAT" in d.likely_cause


@pytest.mark.parametrize("case", ["lower", "upper"])
def test_letter_case(case: str) -> None:
    src = emails(25)
    if case == "upper":
        src = [s.lower() for s in src]
    pairs = [(s, s.lower() if case == "lower" else s.upper()) for s in src]
    d = check(diagnose("email", pairs, differing=459, compared=603), "letter_case", target_case=case)
    assert "transformation rule" in d.likely_cause
    assert d.text().startswith("email: 459 of 603 rows differ (25 sampled); all consistent with")


def test_hex_case_of_binary_values() -> None:
    pairs = [(b, b.hex().upper()) for b in blobs(25)]
    d = check(diagnose("picture", pairs), "hex_case", target_case="upper")
    assert "harmless" in d.likely_cause


def mysql_latin1(raw: bytes) -> str:
    """What MySQL's latin1 makes of bytes: cp1252, its five undefined bytes kept as the same code points."""
    return "".join(chr(b) if b in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([b]).decode("cp1252") for b in raw)


@pytest.mark.parametrize("read_as, extra, decode, example", [
    ("cp1252", "“€”", mysql_latin1, "JosÃ© Ã\x81lvarez â€œâ‚¬â€\x9d"),
    ("iso-8859-1", "ł", lambda raw: raw.decode("latin-1"), "JosÃ© Ã\x81lvarez Å\x82"),
])
def test_mojibake_utf8_read_as_latin1(read_as: str, extra: str, decode: Any, example: str) -> None:
    # cp1252 and ISO-8859-1 differ on bytes 0x80-0x9F: curly quotes and the euro sign (cp1252), 'ł' = C5 82
    pairs = [(n + " " + extra, decode((n + " " + extra).encode("utf-8"))) for n in ACCENTED]
    assert pairs[0][1] == example
    d = check(diagnose("last_name", pairs), "mojibake_latin1", read_as=read_as)
    assert "latin1" in d.likely_cause and "utf8mb4" in d.likely_cause


def test_mojibake_without_distinguishing_bytes_says_latin1() -> None:
    # é ë ü ç è are C3 A0-BF in UTF-8: cp1252 and ISO-8859-1 read those bytes alike
    pairs = [(n, n.encode("utf-8").decode("latin-1")) for n in ["José", "Zoë", "Renée", "Müller", "Françoise", "Chloé", "Hélène"]]
    check(diagnose("first_name", pairs), "mojibake_latin1", read_as="latin1")


def test_utf8mb3_question_marks() -> None:
    pairs = [(n, "".join("?" if ord(c) > 0xFFFF else c for c in n)) for n in EMOJI]
    replaced = sum(1 for n in EMOJI for c in n if ord(c) > 0xFFFF)
    d = check(diagnose("nickname", pairs), "utf8mb3_question_marks", replaced_characters=replaced,
              question_marks_per_character=1)
    assert "utf8mb4" in d.likely_cause


def test_trailing_spaces_target_char_padding() -> None:
    pairs = [(f"{f.title()} {l.title()}", f"{f.title()} {l.title()}".ljust(30)) for f, l in zip(FIRST, LAST * 2)]
    d = check(diagnose("contact", pairs), "trailing_spaces", padded_side="target", padded_to=30)
    assert "CHAR" in d.likely_cause


def test_trailing_spaces_source_pad_char_to_full_length() -> None:
    pairs = [(e.ljust(50), e) for e in emails(25)]
    d = check(diagnose("email", pairs), "trailing_spaces", padded_side="source", padded_to=50)
    assert "PAD_CHAR_TO_FULL_LENGTH" in d.likely_cause


def test_empty_string_as_null() -> None:
    pairs: list[tuple[Any, Any]] = [("", None)] * 25  # Sakila address.address2 holds '' for most rows
    d = check(diagnose("address2", pairs), "null_vs_empty", direction="empty_to_null")
    assert "EmptyAsNull" in d.likely_cause


def test_null_as_empty_string() -> None:
    d = check(diagnose("address2", [(None, "")] * 25), "null_vs_empty", direction="null_to_empty")
    assert "EmptyAsNull" not in d.likely_cause and "NULL" in d.likely_cause


def test_zero_dates_arrive_as_null() -> None:
    zeros = ["0000-00-00 00:00:00", "0000-00-00", "2006-00-15", "2006-02-00 10:00:00"]
    pairs = [(zeros[i % 4], None) for i in range(25)]
    d = check(diagnose("return_date", pairs), "zero_date_vs_null", distinct_zero_values=4)
    assert "zero dates" in d.likely_cause and "expected" in d.likely_cause


@pytest.mark.parametrize("source, target, mapping", [
    ((1, 0), (True, False), {"1": "True", "0": "False"}),                   # TINYINT(1) -> BOOLEAN
    ((b"\x01", b"\x00"), ("t", "f"), {"b'\\x01'": "'t'", "b'\\x00'": "'f'"}),  # BIT(1) -> boolean as text
    (("Y", "N"), (True, False), {"'Y'": "True", "'N'": "False"}),
])
def test_boolean_spelling(source: tuple[Any, Any], target: tuple[Any, Any], mapping: dict[str, str]) -> None:
    rnd = random.Random(13)
    truths = [rnd.random() < 0.6 for _ in range(25)]
    pairs = [(source[0], target[0]) if t else (source[1], target[1]) for t in truths]
    d = check(diagnose("active", pairs), "boolean_spelling", mapping=mapping)
    assert "BOOLEAN" in d.likely_cause


# ---------------------------------------------------------------------------------------------------------------
# no diagnosis

def _random_defects(kind: str) -> list[tuple[Any, Any]]:
    rnd = random.Random(kind)
    if kind == "email":
        src, other = emails(25, seed=21), emails(25, seed=22)
    elif kind == "datetime":
        src, other = rental_dates(25, seed=23), rental_dates(25, seed=24)
    elif kind == "double":
        src, other = doubles(25, seed=25), doubles(25, seed=26)
    elif kind == "decimal":
        src = [Decimal(rnd.randrange(0, 100000)) / 100 for _ in range(25)]
        other = [Decimal(rnd.randrange(0, 100000)) / 100 for _ in range(25)]
    elif kind == "int":
        src, other = [rnd.randrange(1, 16050) for _ in range(25)], [rnd.randrange(1, 16050) for _ in range(25)]
    elif kind == "name":
        src, other = ACCENTED, list(reversed(EMOJI))
    elif kind == "blob":
        src, other = blobs(25, seed=27), [b.hex() for b in blobs(25, seed=28)]
    elif kind == "bool":
        src = [rnd.random() < 0.5 for _ in range(25)]
        return [(int(s), not s) for s in src]  # TINYINT(1) 1 -> False: a wrong value, not a spelling
    else:
        raise AssertionError(kind)
    return [(s, o) for s, o in zip(src, other) if s != o]


@pytest.mark.parametrize("kind", ["email", "datetime", "double", "decimal", "int", "name", "blob", "bool"])
def test_random_defects_get_no_diagnosis(kind: str) -> None:
    pairs = _random_defects(kind)
    assert len(pairs) >= 20
    assert diagnose("col", pairs) is None


def test_a_mix_of_two_patterns_gets_no_diagnosis() -> None:
    mails = emails(24, seed=31)
    lowered = [(s, s.lower()) for s in mails[:12]]
    cut = [(s, s[:10]) for s in mails[12:]]
    assert diagnose("email", lowered) is not None and diagnose("email", cut) is not None
    assert diagnose("email", lowered + cut) is None


def test_two_time_offsets_get_no_diagnosis() -> None:
    src = rental_dates(24, seed=32)
    pairs = [(s, s + dt.timedelta(hours=1 if i % 2 else 2)) for i, s in enumerate(src)]
    assert diagnose("last_update", pairs) is None


def test_one_random_defect_spoils_a_planted_pattern() -> None:
    src = rental_dates(25, seed=33)
    pairs = [(s, s + dt.timedelta(hours=3)) for s in src]
    assert diagnose("last_update", pairs) is not None
    pairs[7] = (pairs[7][0], dt.datetime(2006, 2, 15, 5, 3, 42))
    assert diagnose("last_update", pairs) is None


def test_boolean_with_an_inconsistent_mapping_gets_no_diagnosis() -> None:
    pairs: list[tuple[Any, Any]] = [(1, True)] * 10 + [(1, "t")] * 10 + [(0, False)] * 5
    assert diagnose("active", pairs) is None


def test_fewer_than_min_pairs_gets_no_diagnosis() -> None:
    pairs = [(s, s.lower()) for s in emails(4, seed=34)]
    assert diagnose("email", pairs) is None
    check(diagnose("email", pairs, min_pairs=4), "letter_case")


def test_equal_pairs_are_ignored() -> None:
    src = rental_dates(120, seed=35)
    equal = [(s, s) for s in src[:100]]
    shifted = [(s, s + dt.timedelta(hours=-7)) for s in src[100:]]
    d = check(diagnose("rental_date", equal + shifted), "time_shift", offset="-07:00")
    assert d.sampled == 20
    # equal pairs do not count towards min_pairs, nor do values equal by value in another type
    assert diagnose("rental_date", equal + shifted[:3]) is None
    same_value = [(12345.5, Decimal("12345.5")), (7, 7.0), (b"\x01\x02", bytearray(b"\x01\x02"))] * 10
    assert diagnose("amount", same_value) is None


def test_case_only_boolean_difference_is_letter_case() -> None:
    pairs = [("Y", "y")] * 15 + [("N", "n")] * 10
    check(diagnose("active", pairs), "letter_case", target_case="lower")


def test_trailing_spaces_win_over_a_cut() -> None:
    # CHAR(8) codes of 5 characters: a cut at 5 would explain them too, trailing spaces is the specific pattern
    pairs = [(s + "   ", s) for s in ["PG-13", "NC-17", "AB-12", "XY-99", "CD-34"] * 5]
    check(diagnose("rating", pairs), "trailing_spaces", padded_side="source", padded_to=8)


def test_hex_text_on_both_sides_is_hex_case_not_letter_case() -> None:
    # canonical values: both sides hex text, the target's in upper case
    pairs = [(b.hex(), b.hex().upper()) for b in blobs(25, seed=37)]
    check(diagnose("picture", pairs), "hex_case", target_case="upper")


def test_hex_looking_words_are_letter_case_not_hex() -> None:
    pairs = [(w, w.upper()) for w in ["Cafe", "Bead", "Face", "Deaf", "Dace", "Abbe"] * 4]
    check(diagnose("word", pairs), "letter_case", target_case="upper")


def test_to_dict_and_text_without_counts() -> None:
    pairs = [(s, s.lower()) for s in emails(6, seed=36)]
    d = check(diagnose("email", pairs), "letter_case")
    as_dict = d.to_dict()
    assert as_dict == {"column": "email", "pattern": "letter_case", "summary": d.summary,
                       "likely_cause": d.likely_cause, "sampled": 6, "differing": None, "compared": None,
                       "figures": {"target_case": "lower"}}
    assert d.text() == f"email: 6 sampled values differ; {d.summary}; likely cause: {d.likely_cause}"


def test_patterns_list_names_every_pattern() -> None:
    assert set(PATTERNS) == {"time_shift", "cut", "rounding", "letter_case", "hex_case", "mojibake_latin1",
                             "utf8mb3_question_marks", "trailing_spaces", "null_vs_empty", "zero_date_vs_null",
                             "boolean_spelling"}
