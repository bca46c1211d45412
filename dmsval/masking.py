"""--mask-values: row values in every output replaced by salted hashes.

The salt is random per run and never written anywhere, so a hash cannot be reversed by trying likely values,
while equal values within one run still get equal hashes (a masked report still shows which rows and columns
differ and which values are the same). Column names, counts and figures stay readable; what is masked is
anything a row holds: keys, differing values, sample rows, row images and MIN/MAX figures -- the details
sections that hold values (:mod:`dmsval.sections`), each masked by its kind.

Error texts are masked too (:meth:`Masker.text`): databases quote the offending value in their messages
(``invalid input syntax for type integer: "bob@example.com"``, ``Duplicate entry '42' for key``), so every
quoted segment, every ``=(...)`` value list and every DETAIL / CONTEXT / QUERY / LINE line is replaced, and
the SQL a message quotes is dropped. Names are quoted the same way (``column "email" does not exist``) and get
masked with the values: a masked name costs a look at the unmasked run, a leaked value cannot be taken back.
"""

from __future__ import annotations

import ast
import hashlib
import re
from typing import Any

from . import sections

HIDDEN = sections.HIDDEN

# A Python string literal as drivers print them inside their exception text (repr: no raw newline inside)
_PY_STR = r"'(?:[^'\\\n]|\\.)*'" + "|" + r'"(?:[^"\\\n]|\\.)*"'
# pymysql: str(error) is the args tuple, ``(1366, "Incorrect integer value: 'x' for column ...")``
_PYMYSQL_ERROR = re.compile(rf"\((\d+), ({_PY_STR})\)\s*\Z")
# redshift_connector: str(error) is the server's ErrorResponse as a dict, ``{'S': 'ERROR', 'C': '22P02', 'M': ...}``
_FIELDS_ERROR = re.compile(rf"\{{'\w': (?:{_PY_STR})(?:, '\w': (?:{_PY_STR}))*\}}\s*\Z")
# ErrorResponse fields (PostgreSQL protocol) that never hold a value: severity, SQLSTATE, positions, the server's
# source location, and the names of the object (s, t, c, d, n); M (message) and H (hint) are masked like
# any text; D (detail), W (context), q (internal query) and unknown fields are hidden whole
_KEEP_FIELDS = frozenset("SVCPpFLRstcdn")
_TEXT_FIELDS = frozenset("MH")
# libpq lines after the message that quote rows or SQL: hidden whole (label kept); the caret line under LINE goes
_VALUE_LINE = re.compile(r"^(\s*)(DETAIL|CONTEXT|QUERY|WHERE|LINE \d+):.*$", re.MULTILINE)
_CARET_LINE = re.compile(r"\n[ \t]*\^[ \t]*$", re.MULTILINE)
# PostgreSQL's ``Key (id, email)=(42, bob@example.com)``: everything from "=(" to the line's last ")"
_VALUE_LIST = re.compile(r"=\(.*\)")


class Masker:
    def __init__(self, salt: str) -> None:
        self._salt = salt.encode()

    def value(self, value: Any) -> Any:
        if value is None:
            return None  # NULL is not a value to hide, and a masked report must still show NULL vs value
        digest = hashlib.sha256(self._salt + repr(str(value)).encode("utf-8")).hexdigest()
        return "h:" + digest[:12]

    def details(self, details: dict[str, Any]) -> dict[str, Any]:
        """Each section masked by its kind (:mod:`dmsval.sections`): sections holding row values get their values
        hashed, the others pass. A key no section declares is hidden whole: what it holds is not known."""
        return {key: section.kind.mask(value, self.value) if section is not None else HIDDEN
                for key, value in sections.current(details).items()
                for section in [sections.BY_KEY.get(key)]}

    @staticmethod
    def text(text: str | None) -> str | None:
        """An error text without the values it may quote: the SQL part, quoted segments, ``=(...)`` value lists
        and DETAIL-like lines are replaced; the kind of error (the text before the value) stays readable.

        Static (no salt): a placeholder rather than a hash, since an error's value is not compared with others.
        """
        if text is None:
            return None
        head, has_sql, _ = text.partition("\nSQL: ")  # our engines append the failed statement after this
        masked = _mask_driver_errors(head)
        return f"{masked}\nSQL: {HIDDEN}" if has_sql else masked


def _mask_driver_errors(text: str) -> str:
    """Mask ``text``, looking inside the Python literal that pymysql and redshift_connector print.

    A driver's message is a Python string literal inside a tuple or dict: masked as plain text, the literal's own
    quotes would make the whole message one quoted segment. So the literal is decoded, masked and re-quoted --
    only when it ends the text and nothing quoted comes before it, so a value that merely looks like such a
    literal (inside a quoted segment) is never taken for one and left unmasked.
    """
    for pattern in (_PYMYSQL_ERROR, _FIELDS_ERROR):
        match = pattern.search(text)
        if match is None:  # anchored at the end of the text (see the patterns)
            continue
        prefix = text[:match.start()]
        if any(c in "'\"" and not _is_apostrophe(prefix, i) for i, c in enumerate(prefix)):
            continue
        rebuilt = _rebuild_payload(match)
        if rebuilt is not None:
            return _mask_plain(prefix) + rebuilt
    return _mask_plain(text)


def _rebuild_payload(match: re.Match[str]) -> str | None:
    try:
        value = ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        return repr((value[0], _mask_plain(value[1])))
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return repr({k: v if k in _KEEP_FIELDS else _mask_plain(v) if k in _TEXT_FIELDS else HIDDEN
                     for k, v in value.items()})
    return None


def _is_apostrophe(text: str, index: int) -> bool:
    """A ' between two letters is part of a word (doesn't), not a quote around a value."""
    return (text[index] == "'" and 0 < index < len(text) - 1
            and text[index - 1].isalpha() and text[index + 1].isalpha())


def _mask_plain(text: str) -> str:
    """Mask a message in the databases' own form (psycopg's, or a driver literal once decoded)."""
    text = _VALUE_LINE.sub(lambda m: f"{m.group(1)}{m.group(2)}: {HIDDEN}", text)
    text = _CARET_LINE.sub("", text)
    text = _VALUE_LIST.sub(f"={HIDDEN}", text)
    # Quoted segments, greedy: from a quote to the LAST quote of the same kind in the text (or to the end when
    # none follows). Databases print values raw -- PostgreSQL's "it's "x" " keeps its inner quotes -- so a
    # shorter match could end inside the value and leave its rest readable; masking too much is the safe side.
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in "'\"" and not _is_apostrophe(text, index):
            closing = len(text) - 1
            while closing > index and (text[closing] != char or _is_apostrophe(text, closing)):
                closing -= 1
            out.append(HIDDEN)
            index = len(text) if closing == index else closing + 1
            continue
        out.append(char)
        index += 1
    return "".join(out)
