"""--mask-values: row values in every output replaced by salted hashes.

The salt is random per run and never written anywhere, so a hash cannot be reversed by trying likely values,
while equal values within one run still get equal hashes (a masked report still shows which rows and columns
differ and which values are the same). Column names, counts and figures stay readable; what is masked is
anything a row holds: keys, differing values, sample rows, row images and MIN/MAX aggregates.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_ROW_LISTS = ("only_in_source", "only_in_target", "missing_keys", "extra_keys")
_VALUE_FIGURES = ("min", "max")


class Masker:
    def __init__(self, salt: str) -> None:
        self._salt = salt.encode()

    def value(self, value: Any) -> Any:
        if value is None:
            return None  # NULL is not a value to hide, and a masked report must still show NULL vs value
        digest = hashlib.sha256(self._salt + repr(str(value)).encode("utf-8")).hexdigest()
        return "h:" + digest[:12]

    def details(self, details: dict[str, Any]) -> dict[str, Any]:
        out = dict(details)
        for field in _ROW_LISTS:
            if field in out:
                out[field] = [[self.value(v) for v in row] for row in out[field]]
        if "changed" in out:
            out["changed"] = [{"key": [self.value(v) for v in c["key"]],
                               "columns": {col: [self.value(a), self.value(b)] for col, (a, b) in c["columns"].items()}}
                              for c in out["changed"]]
        if "duplicated_keys" in out:
            out["duplicated_keys"] = [{**d, "key": [self.value(v) for v in d["key"]]} for d in out["duplicated_keys"]]
        if "row_images" in out:
            out["row_images"] = [{**img, "row": {k: self.value(v) for k, v in (img["row"] or {}).items()}}
                                 for img in out["row_images"]]
        if out.get("columns") and isinstance(out["columns"][0], dict):  # schema: a column's current maximum
            out["columns"] = [{**c, "source_max": self.value(c["source_max"]),
                               "reason": "(hidden by --mask-values)" if c.get("verdict") in ("risk", "narrower")
                               and "source_max" in c else c.get("reason")} if "source_max" in c else c
                              for c in out["columns"]]
        if "differences" in out:
            out["differences"] = [{**d, "source": self.value(d["source"]), "target": self.value(d["target"])}
                                  if d.get("figure") in _VALUE_FIGURES else d for d in out["differences"]]
        return out

    @staticmethod
    def text(text: str | None) -> str | None:
        """Error texts may quote SQL holding key literals: drop the SQL part."""
        return None if text is None else re.sub(r"\nSQL: .*", "\nSQL: (hidden by --mask-values)", text, flags=re.S)
