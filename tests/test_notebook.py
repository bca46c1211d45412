"""notebooks/drilldown.ipynb and dmsval.notebook: unit tests on a crafted results document, and the notebook
executed with papermill against a real run's output (Sakila with the demo's planted defects, moto in server
mode), re-resolving the task from moto and fetching the rows from MariaDB and the Redshift stand-in."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import nbformat
import pytest

from dmsval import notebook as nb
from dmsval.errors import ConfigError
from devstack import demo
from dmsval.results import SCHEMA

from .conftest import REPO
from .test_suite_e2e import copies, migration  # noqa: F401

matplotlib.use("Agg")

NOTEBOOK = REPO / "notebooks" / "drilldown.ipynb"
KERNEL = "dmsval-venv"
# Not "defects": test_suite_e2e's "defects" copy also drops sakila.languages, and copies are cached by name.
COPY = "planted"


def _case(case_id: str, status: str = "passed", figures: dict[str, Any] | None = None,
          details: dict[str, Any] | None = None) -> dict[str, Any]:
    check, subject = case_id[:-1].split("[", 1)
    table = subject.split("#", 1)[0] if check in ("row_count", "row_diff") else None
    return {"case_id": case_id, "check": check, "subject": subject, "status": status, "message": f"{case_id} msg",
            "source_table": table, "target_table": table, "figures": figures or {}, "sql": {},
            "details": details or {}, "duration_s": 0.1, "error": None, "nodeid": None}


def _document(cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": SCHEMA, "cases": cases, "run": {
        "run_id": "20261129T000000Z-abcdef", "started_at": "2026-11-29T00:00:00+00:00", "mode": "full",
        "task": {"arn": "arn:aws:dms:eu-west-1:123456789012:task:T", "identifier": "t1",
                 "migration_type": "full-load", "status": "stopped", "stop_reason": None,
                 "replication_instance": "ri"},
        "trigger": {"task_arn": "arn:aws:dms:eu-west-1:123456789012:task:T", "kind": "manual"},
        "source": {"engine_name": "mariadb", "identifier": "src"}, "target": {"engine_name": "redshift",
                                                                             "identifier": "tgt"},
        "gate": None, "tables": 2, "checks": ["row_count", "row_diff"],
        "counts": {"passed": 1, "failed": 3, "skipped": 0, "error": 0}, "verdict": "failed"}}


SPLIT = _document([
    _case("row_count[s.big]", "failed", {"source_rows": 10, "target_rows": 9, "difference": -1}),
    _case("row_diff[s.big#1/2]", "failed", {"missing": 1, "extra": 0, "changed": 3},
          {"key": ["id"], "missing_keys": [["4"]], "extra_keys": [],
           "changed": [{"key": ["2"], "columns": {"a": ["x", "y"]}}]}),
    _case("row_diff[s.big#2/2]", "failed", {"missing": 0, "extra": 2, "changed": 0},
          {"key": ["id"], "missing_keys": [], "extra_keys": [["90"], ["91"]], "changed": []}),
    _case("row_diff[s.small]", "passed", {"missing": 0, "extra": 0, "changed": 0}, {"key": ["id"]}),
])


def test_table_differences_merge_the_split_parts_and_note_the_sample():
    d = nb.table_differences(SPLIT, "s.big")
    assert d.cases == ["row_diff[s.big#1/2]", "row_diff[s.big#2/2]"]
    assert d.key == ["id"] and d.missing_keys == [("4",)] and d.extra_keys == [("90",), ("91",)]
    assert d.changed == {("2",): {"a": ["x", "y"]}}
    assert d.figures == {"missing": 1, "extra": 2, "changed": 3}
    assert d.keys_to_fetch == [("2",), ("4",), ("90",), ("91",)]
    assert any("3 changed rows in all, the report lists the first 1" in n for n in d.notes)
    assert list(d.keys_frame("extra")["id"]) == ["90", "91"]
    with pytest.raises(ConfigError, match="no row_diff case for table 's.nope'.*s.big, s.small"):
        nb.table_differences(SPLIT, "s.nope")
    # without fetching, nothing is resolved from AWS
    assert nb.drilldown(SPLIT, "s.big", fetch=False).rows is None


def test_differences_by_table_and_the_chart():
    frame = nb.differences_by_table(SPLIT)
    assert list(frame.index) == ["s.big"]  # tables without any difference are left out
    assert frame.loc["s.big"].to_dict() == {"missing": 1, "extra": 2, "changed": 3, "row_count_difference": 1}
    fig = nb.plot_differences(frame)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["s.big"]
    empty = nb.plot_differences(nb.differences_by_table(_document([_case("row_diff[s.small]")])))
    assert "no differences" in [t.get_text() for t in empty.axes[0].texts]
    summary = nb.run_summary(SPLIT)
    assert summary.loc["Verdict", "value"] == "FAILED" and summary.loc["Failed", "value"] == 3
    assert list(nb.failing_cases(SPLIT)["case"]) == ["row_count[s.big]", "row_diff[s.big#1/2]",
                                                     "row_diff[s.big#2/2]"]


def test_read_results_refuses_another_schema(tmp_path: Path):
    path = tmp_path / "x.json"
    path.write_text('{"schema": "other/9"}')
    with pytest.raises(ConfigError, match="not a dmsval.results/1 document"):
        nb.read_results(path)


# -- the notebook, executed ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def kernel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Jupyter kernel for this interpreter (the venv's python), registered in a private prefix: nothing is
    written to the venv or the home directory, and xdist workers do not race on one kernelspec folder."""
    prefix = tmp_path_factory.mktemp("jupyter")
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", KERNEL,
                    "--display-name", "dmsval (.venv)"], check=True, capture_output=True, text=True)
    return prefix / "share" / "jupyter"


@pytest.fixture
def venv_kernel(kernel_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))  # where papermill's kernel manager looks first
    return KERNEL


def execute(kernel: str, output: Path, **parameters: Any) -> nbformat.NotebookNode:
    import papermill

    papermill.execute_notebook(str(NOTEBOOK), str(output), parameters=parameters, kernel_name=kernel,
                               cwd=str(REPO), progress_bar=False, execution_timeout=120)
    return nbformat.read(output, as_version=4)


def outputs_of(notebook: nbformat.NotebookNode, mime: str) -> list[str]:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise AssertionError(f"{output['ename']}: {output['evalue']}")
            data = output.get("data", {})
            if mime in data:
                texts.append(data[mime])
    return texts


def styled_table(notebook: nbformat.NotebookNode) -> str:
    tables = [h for h in outputs_of(notebook, "text/html") if "differing rows, source | target" in h]
    assert len(tables) == 1, "the drill-down table is shown once"
    return tables[0]


def cells_with(html: str, css: str) -> list[str]:
    return re.findall(rf'<td [^>]*class="[^"]*\b{css}\b[^"]*"[^>]*>([^<]*)</td>', html)


@pytest.mark.integration
def test_drilldown_notebook_on_a_real_run(migration, run_suite, venv_kernel, moto_server, monkeypatch,  # noqa: F811
                                          tmp_path):
    m = migration(COPY, demo.PLANTED_SQL)
    run = run_suite("--checks", "row_count,row_diff", "--s3-uri", f"s3://{m.made.bucket}/validation",
                    event=m.event)
    assert run.returncode == 1, run.stdout[-3000:]
    monkeypatch.setenv("DMSVAL_AWS_ENDPOINT_URL", moto_server.endpoint_url)  # inherited by the kernel

    # sakila.customer, from the local results file: customer 7's email, both sides, highlighted
    customer = execute(venv_kernel, run.reports / "drilldown-customer.ipynb",
                       results=str(run.reports / "results.json"), table="sakila.customer")
    summary = "\n".join(outputs_of(customer, "text/plain"))
    assert "task-planted" in summary and "FAILED" in summary
    assert any(o for o in outputs_of(customer, "image/png")), "the bar chart is drawn"
    html = styled_table(customer)
    assert cells_with(html, nb.CHANGED) == ["MARIA.MILLER@sakilacustomer.org", "changed@example.com"]
    assert re.search(r'<th [^>]*class="row_heading[^"]*"[^>]*>7</th>', html)
    assert ">changed</td>" in html and "dmsval-missing" not in html.split("</style>")[1]

    # sakila.rental, read back from S3: rental 4242 missing in the target, its source row fetched
    run_id = run.results["run"]["run_id"]
    rental = execute(venv_kernel, run.reports / "drilldown-rental.ipynb",
                     results=f"s3://{m.made.bucket}/validation/task-planted/{run_id}/results.json",
                     table="sakila.rental")
    html = styled_table(rental)
    assert re.search(r'<th [^>]*class="row_heading[^"]*"[^>]*>4242</th>', html)
    assert ">missing in target</td>" in html
    assert "4242" in cells_with(html, nb.MISSING)  # the source side of the row, fetched from MariaDB
    assert set(cells_with(html, nb.NO_ROW)) == {"—"}  # nothing on the target side
    assert any("missing in the target**: 1 key(s)" in t for t in outputs_of(rental, "text/markdown"))
    key_tables = [t for t in outputs_of(rental, "text/html") if "rental_id" in t and "differing rows" not in t]
    assert len(key_tables) == 1 and "<td>4242</td>" in key_tables[0]
