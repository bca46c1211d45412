"""Progress of long-running cases on the console: how far a case got, as plain lines at an interval.

Checks report what they finished (``report``: ranges scanned, rows counted) and when they end (``finish``); a
printer thread writes one line per case still running every ``interval_s`` seconds, and only for cases that have
run longer than that, so short cases say nothing:

    [dmsval] row_diff[db.t] 12/40 ranges, 600,000/2,000,000 rows, 25 s elapsed, ETA 41 s

Plain lines rather than a redrawn line: CodeBuild (and any log collector) keeps every byte written, where a
carriage-return animation shows as noise; one line per interval per case is readable there and on a terminal.
The plugin decides where the lines go (the process that runs the case, see ``configure_console``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class _CaseState:
    started: float
    last_line: float  # when its last line was written (its start before the first)
    done: int = 0
    total: int = 0
    unit: str = ""
    rows: int | None = None
    rows_total: int | None = None


class Progress:
    """Thread-safe record of the running cases' progress; ``tick`` writes the lines that are due."""

    def __init__(self, interval_s: float, write: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval_s <= 0:
            raise ValueError("a progress interval must be greater than 0 (0 means no Progress at all)")
        self.interval_s = interval_s
        self._write = write
        self._clock = clock
        self._cases: dict[str, _CaseState] = {}
        self._lock = threading.Lock()  # scan threads report while the printer thread reads
        self._printer: threading.Thread | None = None
        self._stopped = threading.Event()

    def report(self, case_id: str, done: int, total: int, unit: str, *, rows: int | None = None,
               rows_total: int | None = None) -> None:
        """``done`` of ``total`` ``unit`` finished (and, when known, ``rows`` of about ``rows_total`` rows). The
        first report of a case starts its clock."""
        now = self._clock()
        with self._lock:
            state = self._cases.get(case_id)
            if state is None:
                state = self._cases[case_id] = _CaseState(started=now, last_line=now)
            state.done, state.total, state.unit = done, total, unit
            state.rows, state.rows_total = rows, rows_total

    def finish(self, case_id: str) -> None:
        """The case ended (however): no more lines for it."""
        with self._lock:
            self._cases.pop(case_id, None)

    def tick(self) -> list[str]:
        """Write (and return) the lines due now: one per case that has run ``interval_s`` and said nothing for
        as long."""
        now = self._clock()
        lines = []
        with self._lock:
            for case_id, state in self._cases.items():
                if now - state.last_line >= self.interval_s:
                    state.last_line = now
                    lines.append(self._line(case_id, state, now))
        for line in lines:  # outside the lock: a slow terminal must not hold up the scans' reports
            self._write(line)
        return lines

    @staticmethod
    def _line(case_id: str, state: _CaseState, now: float) -> str:
        elapsed = now - state.started
        parts = [f"{state.done:,}/{state.total:,} {state.unit}"]
        if state.rows is not None and state.rows_total:
            parts.append(f"{state.rows:,}/{state.rows_total:,} rows")
            fraction = state.rows / state.rows_total
        else:
            fraction = state.done / state.total if state.total else 0.0
        parts.append(f"{elapsed:,.0f} s elapsed")
        # the estimate comes from the catalog's row count: past it (or before anything is done) there is no ETA
        parts.append(f"ETA {elapsed * (1 - fraction) / fraction:,.0f} s" if 0 < fraction < 1 else "ETA unknown")
        return f"[dmsval] {case_id} {', '.join(parts)}"

    def start_printer(self) -> None:
        """A daemon thread that writes the due lines (checked every second at most, so lines keep their
        interval within a second). Idempotent."""
        if self._printer is not None:
            return
        period = min(1.0, self.interval_s)

        def loop() -> None:
            while not self._stopped.wait(period):
                self.tick()

        self._printer = threading.Thread(target=loop, name="dmsval-progress", daemon=True)
        self._printer.start()

    def stop_printer(self) -> None:
        self._stopped.set()
        if self._printer is not None:
            self._printer.join(timeout=5)
            self._printer = None


_console: Progress | None = None


def configure_console(interval_s: float, write: Callable[[str], None]) -> Progress | None:
    """The process's console reporter (printer thread started), or None when ``interval_s`` is 0. Called by
    the plugin in each process that runs cases; ``console()`` hands it to the checks."""
    global _console
    if _console is not None:
        _console.stop_printer()
        _console = None
    if interval_s > 0:
        _console = Progress(interval_s, write)
        _console.start_printer()
    return _console


def console() -> Progress | None:
    """The reporter ``configure_console`` set up in this process, if any (library use: none)."""
    return _console
