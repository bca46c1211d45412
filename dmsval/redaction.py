"""Last line of defence against a secret reaching an output: every known secret value is replaced in every
text a run renders (pytest reports, results JSON, HTML, JUnit, SNS).

The first lines of defence are elsewhere: messages name secrets, never their values; driver errors are
re-raised without the driver's frames (whose arguments include the password). This module catches what those
miss -- a driver that puts a password into its message, a traceback shown by pytest, a captured log line.
Values are kept in this process only; each xdist worker remembers the secrets it resolved itself.
"""

from __future__ import annotations

import json
import threading
from typing import Any

MASK = "***"
MIN_LENGTH = 4  # shorter values ("x", "", "1") would mangle ordinary text and protect nothing

_lock = threading.Lock()
_secrets: set[str] = set()


def remember(value: str | None) -> None:
    """Register a secret value (a password, a whole secret string) to be scrubbed from every output."""
    if value and len(value) >= MIN_LENGTH:
        with _lock:
            _secrets.add(value)


def known() -> bool:
    return bool(_secrets)


def scrub(text: str) -> str:
    """``text`` with every remembered secret (and its JSON-escaped and repr forms) replaced by ``***``."""
    if not _secrets or not text:
        return text
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        for form in {value, json.dumps(value)[1:-1], repr(value)[1:-1]}:
            if form:
                text = text.replace(form, MASK)
    return text


def scrub_data(value: Any) -> Any:
    """A JSON-like structure with every string scrubbed (keys included)."""
    if not _secrets:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_data(k): scrub_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_data(v) for v in value]
    return value


def forget_all() -> None:
    """For tests: start from no known secret."""
    with _lock:
        _secrets.clear()
