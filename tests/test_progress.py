"""The progress reporter: which lines are written when, and what they say (a fake clock: no sleeping); and,
through the plugin in a pytester project, that the lines reach stderr from the process running the case (a
case that runs 1.6 s against an interval of 0.5 s, with and without xdist workers)."""

from __future__ import annotations

import re

import pytest

from dmsval import progress
from dmsval.progress import Progress

from .test_plugin_unit import project, run  # noqa: F401  (the plugin test's pytester project)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def reporter(clock: Clock, interval_s: float = 15) -> tuple[Progress, list[str]]:
    written: list[str] = []
    return Progress(interval_s, written.append, clock=clock), written


def test_a_case_shorter_than_the_interval_writes_nothing(clock: Clock) -> None:
    p, written = reporter(clock)
    p.report("row_diff[db.t]", 0, 4, "ranges", rows=0, rows_total=1000)
    clock.now += 14.9
    p.report("row_diff[db.t]", 4, 4, "ranges", rows=1000, rows_total=1000)
    assert p.tick() == []
    p.finish("row_diff[db.t]")
    clock.now += 100
    assert p.tick() == [] and written == []


def test_a_long_case_gets_one_line_per_interval_with_rows_and_eta(clock: Clock) -> None:
    p, written = reporter(clock)
    p.report("row_diff[db.t]", 0, 40, "ranges", rows=0, rows_total=2_000_000)
    clock.now += 10
    p.report("row_diff[db.t]", 12, 40, "ranges", rows=500_000, rows_total=2_000_000)
    assert p.tick() == []
    clock.now += 10  # 20 s in, a quarter of the rows after 20 s: 60 s to go
    assert p.tick() == ["[dmsval] row_diff[db.t] 12/40 ranges, 500,000/2,000,000 rows, 20 s elapsed, ETA 60 s"]
    clock.now += 14
    assert p.tick() == []  # at most one line per interval
    clock.now += 1
    p.report("row_diff[db.t]", 30, 40, "ranges", rows=1_400_000, rows_total=2_000_000)
    assert p.tick() == ["[dmsval] row_diff[db.t] 30/40 ranges, 1,400,000/2,000,000 rows, 35 s elapsed, ETA 15 s"]
    p.finish("row_diff[db.t]")
    clock.now += 60
    assert p.tick() == []
    assert len(written) == 2


def test_without_progress_or_past_the_estimate_there_is_no_eta(clock: Clock) -> None:
    p, _ = reporter(clock, interval_s=5)
    p.report("row_diff[a.b]", 0, 1, "scans", rows=0, rows_total=100)
    p.report("row_diff[c.d]", 3, 4, "ranges", rows=150, rows_total=100)  # the catalog's estimate was low
    clock.now += 5
    assert sorted(p.tick()) == ["[dmsval] row_diff[a.b] 0/1 scans, 0/100 rows, 5 s elapsed, ETA unknown",
                                "[dmsval] row_diff[c.d] 3/4 ranges, 150/100 rows, 5 s elapsed, ETA unknown"]


def test_without_rows_the_eta_comes_from_the_units(clock: Clock) -> None:
    p, _ = reporter(clock, interval_s=5)
    p.report("custom_sql[x]", 1, 4, "queries")
    clock.now += 8
    assert p.tick() == ["[dmsval] custom_sql[x] 1/4 queries, 8 s elapsed, ETA 24 s"]


def test_each_case_keeps_its_own_clock(clock: Clock) -> None:
    p, _ = reporter(clock, interval_s=10)
    p.report("row_diff[a.b]", 0, 2, "ranges")
    clock.now += 6
    p.report("row_diff[c.d]", 0, 2, "ranges")
    clock.now += 4
    assert [line.split()[1] for line in p.tick()] == ["row_diff[a.b]"]
    clock.now += 6
    assert [line.split()[1] for line in p.tick()] == ["row_diff[c.d]"]


def test_an_interval_of_zero_means_no_reporter() -> None:
    with pytest.raises(ValueError):
        Progress(0, print)
    try:
        assert progress.configure_console(0, print) is None and progress.console() is None
        console = progress.configure_console(30, print)
        assert console is not None and progress.console() is console
    finally:
        progress.configure_console(0, print)
    assert progress.console() is None


# -- the plugin: lines reach the console from the process running the case ------------------------------------

pytest_plugins = ["pytester"]

SLOW_CASE = '''

import time

import dmsval.progress


def _slow_run(self, case, ctx, _run=_Probe.run):
    """probe[shop.orders] reports progress and runs longer than the interval (the other cases are quick)."""
    if self.name == "probe" and case.subject == "shop.orders":
        reporter = dmsval.progress.console()
        if reporter is not None:
            reporter.report(case.case_id, 3, 12, "ranges", rows=30_000, rows_total=120_000)
        time.sleep(1.6)
        if reporter is not None:
            reporter.finish(case.case_id)
    return _run(self, case, ctx)


_Probe.run = _slow_run
'''


@pytest.mark.parametrize("workers", ["0", "2"])
def test_progress_lines_reach_stderr_from_the_process_running_the_case(project: pytest.Pytester,
                                                                       workers: str) -> None:
    conftest = project.path / "conftest.py"
    conftest.write_text(conftest.read_text() + SLOW_CASE)
    result = run(project, "-p", "xdist", "-n", workers, "--progress-interval", "0.5")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    lines = [line for line in result.stderr.lines if line.startswith("[dmsval] ")]
    # written while the case ran, under pytest's fd capture (and from an xdist worker): one per interval
    assert 1 <= len(lines) <= 4, result.stderr.str()
    assert all(re.fullmatch(r"\[dmsval\] probe\[shop\.orders\] 3/12 ranges, 30,000/120,000 rows, "
                            r"\d+ s elapsed, ETA (\d+ s|unknown)", line) for line in lines), lines

    quiet = run(project, "-p", "xdist", "-n", workers, "--progress-interval", "0")
    assert quiet.ret == pytest.ExitCode.OK
    assert not [line for line in quiet.stderr.lines if line.startswith("[dmsval] ")]
