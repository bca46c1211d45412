"""The HTML reports as a person sees them: rendered by headless Chromium (Debian's package, installed by
scripts/install_chromium.sh), after the page's scripts ran (pytest-html builds its results table in JavaScript
from a JSON blob), plus a screenshot kept as an artifact (reports/report-screenshot.png)."""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import demo

from .conftest import REPO
from .test_suite_e2e import copies, migration  # noqa: F401

pytestmark = pytest.mark.integration
COPY = "planted"  # the demo's defects only (test_suite_e2e's "defects" copy also drops a table)
ARTIFACT = REPO / "reports" / "report-screenshot.png"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium from Debian's packages, installed once per test session (idempotent)."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("Chromium is not installed and apt-get is unavailable to install it "
                    "(install the Debian package 'chromium', or run scripts/install_chromium.sh)")
    done = subprocess.run(["bash", str(REPO / "scripts" / "install_chromium.sh")], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"scripts/install_chromium.sh failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    found = shutil.which("chromium")
    assert found, "scripts/install_chromium.sh succeeded but chromium is not on PATH"
    return found


class Browser:
    def __init__(self, executable: str, profile: Path) -> None:
        self.executable, self.profile = executable, profile

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr[-3000:]}"
        return done

    def dom(self, page: Path) -> str:
        """The DOM after the page's scripts ran."""
        return self._run("--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()).stdout

    def screenshot(self, page: Path, png: Path, size: str = "1400,3000") -> Path:
        self._run(f"--screenshot={png}", f"--window-size={size}", "--hide-scrollbars", page.resolve().as_uri())
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot at {png}"
        return png


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Browser:
    return Browser(chromium, tmp_path / "chromium-profile")


def rendered(dom: str) -> str:
    """The DOM without pytest-html's data blob (which holds every extra as escaped text, rendered or not)."""
    return re.sub(r'data-jsonblob="[^"]*"', "", dom)


def result_rows(dom: str) -> dict[str, tuple[str, str]]:
    """pytest-html's rendered result rows: case id -> (result cell text, the row's HTML incl. its extras)."""
    rows = {}
    starts = list(re.finditer(r'<tbody class="results-table-row[^"]*" id="([^"]*)">', dom))
    for match, following in zip(starts, [*starts[1:], None]):
        # up to the next result row (a row's extras hold tables, and so tbody elements, of their own)
        chunk = dom[match.end():following.start() if following else len(dom)]
        nodeid = html_lib.unescape(match.group(1))
        result = re.search(r'<td class="col-result">([^<]*)</td>', chunk)
        # the plugin shows the case id (row_count[sakila.film]) in place of the node id
        case_id = nodeid.split("test_check[", 1)[-1][:-1] if "test_check[" in nodeid else nodeid
        rows[case_id] = (result.group(1) if result else "", chunk)
    return rows


def test_suite_report_renders_the_failing_cases_in_chromium(migration, run_suite, browser):  # noqa: F811
    m = migration(COPY, demo.PLANTED_SQL)
    run = run_suite(event=m.event)
    assert run.returncode == 1, run.stdout[-3000:]
    report = run.reports / "report.html"

    dom = rendered(browser.dom(report))
    rows = result_rows(dom)
    assert len(rows) == len(run.results["cases"]), "every case is a row of the rendered results table"
    assert {case for case, (result, _) in rows.items() if result == "Failed"} == demo.EXPECTED_FAILURES
    for case in ("row_count[sakila.rental]", "row_diff[sakila.customer]"):
        assert rows[case][0] == "Failed", case
    assert "16043" in rows["row_count[sakila.rental]"][1]
    customer = rows["row_diff[sakila.customer]"][1]
    changed = re.search(r'<table class="changed">.*?</table>', customer, re.S)
    assert changed, "the changed-rows table is rendered inside the row_diff[sakila.customer] row"
    assert re.search(r'<td>email</td><td class="diff">MARIA\.MILLER@sakilacustomer\.org</td>'
                     r'<td class="diff">changed@example\.com</td>', changed.group(0))
    assert "DMS validation run" in dom  # the run header in the summary

    png = browser.screenshot(report, run.reports / "report-screenshot.png")
    ARTIFACT.parent.mkdir(exist_ok=True)
    shutil.copyfile(png, ARTIFACT)
    assert ARTIFACT.stat().st_size > 20_000  # a rendered page, not a blank one


def test_merged_report_renders_in_chromium(migration, run_suite, browser, tmp_path):  # noqa: F811
    m = migration(COPY, demo.PLANTED_SQL)
    counts = run_suite("--checks", "row_count", event=m.event)
    diffs = run_suite("--checks", "row_diff", event=m.event)
    out = tmp_path / "merged"
    done = subprocess.run([sys.executable, "-m", "dmsval.merge", str(counts.reports / "results.json"),
                           str(diffs.reports / "results.json"), "--reports-dir", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    dom = browser.dom(out / "report.html")
    assert re.search(r'<span class="verdict" id="verdict"[^>]*>FAILED</span>', dom)
    assert 'id="case-row_count[sakila.rental]"' in dom and 'id="case-row_diff[sakila.customer]"' in dom
    customer = dom.split('id="case-row_diff[sakila.customer]"', 1)[1].split('class="case-row', 1)[0]
    assert "<details open=" in customer and "changed@example.com" in customer
    png = browser.screenshot(out / "report.html", out / "report-screenshot.png")
    shutil.copyfile(png, REPO / "reports" / "merged-report-screenshot.png")
