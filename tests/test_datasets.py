"""The repository carries the sample data its demo and tests load (a clone has nothing beside it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devstack import datasets

REPO = Path(__file__).resolve().parents[1]


def test_the_datasets_live_in_the_repository_with_their_licenses(monkeypatch):
    monkeypatch.delenv(datasets.DATASETS_DIR_ENV, raising=False)
    folder = datasets.datasets_dir().resolve()
    assert folder == REPO / "datasets"
    for name in ("sakila/sakila-schema.sql", "sakila/sakila-data.sql.xz", "sakila/LICENSE",
                 "employees/employee.sql", "employees/load_salary1.sql.xz", "employees/LICENSE",
                 "employees/LICENSE.bytebase-MIT.txt"):
        assert (folder / name).is_file(), name
    assert "Redistribution and use" in (folder / "sakila" / "LICENSE").read_text()
    assert "CC BY-SA 3.0" in (folder / "employees" / "LICENSE").read_text()
    tracked = subprocess.run(["git", "ls-files", "datasets"], cwd=REPO, capture_output=True, text=True).stdout
    assert "datasets/sakila/sakila-data.sql.xz" in tracked  # committed, not just present here


def test_nothing_in_the_project_reads_outside_the_repository():
    found = subprocess.run(["git", "grep", "-nE", r"\.\./shared|parent / \"shared\"|\"shared\" / \"datasets\"", "--",
                            "*.py", "*.sh", ".ci/*"], cwd=REPO, capture_output=True, text=True)
    hits = [line for line in found.stdout.splitlines() if not line.startswith("tests/test_datasets.py")]
    assert hits == []
