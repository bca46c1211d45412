"""`pip install -r requirements.txt` is enough for a real run: the runtime modules import nothing else (no pandas,
no moto); the notebook's and the local stack's packages are in their own requirements files."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# distribution name -> the top-level module it installs
IMPORT_NAMES = {"pytest": {"pytest", "_pytest", "pluggy"}, "pytest-xdist": {"xdist"}, "pytest-html": {"pytest_html"},
                "boto3": {"boto3"}, "botocore": {"botocore"}, "pymysql": {"pymysql"},
                "redshift-connector": {"redshift_connector"}, "psycopg": {"psycopg"}, "sqlglot": {"sqlglot"},
                "pyyaml": {"yaml"}}
NOT_RUNTIME = ("dmsval/notebook.py",)  # the notebook's helpers (the local stack is devstack/, outside dmsval/)


def requirements(name: str) -> set[str]:
    names = set()
    for line in (REPO / name).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)", line.strip())
        if match and not line.startswith("-r"):
            names.add(match.group(1).lower())
    return names


def third_party_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "dmsval"}


def test_runtime_modules_import_only_what_requirements_txt_installs():
    runtime = requirements("requirements.txt")
    assert "pandas" not in runtime and not any(r.startswith("moto") for r in runtime)
    allowed = set().union(*(IMPORT_NAMES[r] for r in runtime if r in IMPORT_NAMES))
    unknown = runtime - set(IMPORT_NAMES)
    assert not unknown, f"map these requirements to their import names: {unknown}"
    for path in sorted((REPO / "dmsval").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith(NOT_RUNTIME):
            continue
        extra = third_party_imports(path) - allowed
        assert not extra, f"{relative} imports {extra}, which requirements.txt does not install"


def test_the_product_never_imports_the_dev_stack():
    """devstack/ (test infrastructure) may import dmsval, never the reverse."""
    for path in sorted((REPO / "dmsval").rglob("*.py")):
        assert "devstack" not in third_party_imports(path), f"{path.relative_to(REPO)} imports devstack"


def test_the_notebook_and_the_dev_stack_have_their_own_requirements():
    assert {"pandas", "papermill"} <= requirements("requirements-notebook.txt")
    dev = (REPO / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev and "-r requirements-notebook.txt" in dev and "moto[" in dev


def test_the_engines_import_nothing_from_aws():
    """engines/ talk to databases; where credentials come from (aws/) is none of their business."""
    for path in sorted((REPO / "dmsval" / "engines").rglob("*.py")):
        package = path.relative_to(REPO).parent.parts  # ("dmsval", "engines", ...)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else ()
                modules = [".".join((*base, *filter(None, [node.module])))]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                assert not (module + ".").startswith("dmsval.aws."), f"{path.relative_to(REPO)} imports {module}"
