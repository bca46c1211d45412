"""Checks register themselves by subclassing Check; importing this package imports every check module."""

from __future__ import annotations

import importlib
import pkgutil

from .base import REGISTRY, Case, Check, CheckContext, Outcome, SkipCase, TableCheck, TableStats, on_both_sides

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "Case", "Check", "CheckContext", "Outcome", "SkipCase", "TableCheck", "TableStats", "on_both_sides"]
