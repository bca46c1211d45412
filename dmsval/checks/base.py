"""Check contract and registry. A check is one module in this package that subclasses :class:`Check`;
subclassing registers it (``name`` is its id in case ids, options and reports)."""

from __future__ import annotations

import abc
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

from ..mappings import TablePair
from ..routes import Route, find_route, route_for

if TYPE_CHECKING:
    from ..config import Settings
    from ..progress import Progress
    from ..engines import Engine
    from ..engines.catalog import TableInfo
    from .recheck import RecheckPolicy

REGISTRY: dict[str, type["Check"]] = {}
T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Case:
    """One parametrized pytest case: a check applied to a subject (a table pair or a custom SQL pair).

    A table split into n key-range cases keeps the table as its subject and carries the part in ``params``
    (``part`` k and ``parts`` n, see :meth:`split`); only the case id shows it: ``row_diff[sakila.rental#3/8]``.
    """

    check: str
    subject: str
    pair: TablePair | None = None
    params: tuple[tuple[str, str], ...] = ()

    @property
    def case_id(self) -> str:
        split = self.split
        return f"{self.check}[{self.subject}#{split[0]}/{split[1]}]" if split else f"{self.check}[{self.subject}]"

    @property
    def split(self) -> tuple[int, int] | None:
        """(k, n): this case is part k of a subject split into n cases; None when the subject is not split."""
        params = dict(self.params)
        return (int(params["part"]), int(params["parts"])) if "parts" in params else None

    def param(self, key: str) -> str:
        return dict(self.params)[key]


@dataclass(frozen=True)
class TableStats:
    """Source facts read once at planning time, used to split and balance cases."""

    rows: int  # the catalog's estimate
    key: tuple[str, ...] = ()
    key_range: tuple[int, int] | None = None  # min/max of a single integer key, read for large tables only

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "key": list(self.key), "key_range": list(self.key_range) if self.key_range else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TableStats":
        rng = data.get("key_range")
        return cls(int(data["rows"]), tuple(data.get("key") or ()), (int(rng[0]), int(rng[1])) if rng else None)


@dataclass(frozen=True)
class Outcome:
    """What a check found. ``passed`` False means the data differ (a failure, not an error)."""

    passed: bool
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class SkipCase(Exception):
    """Raised by a check when a case does not apply to this run; the message says why."""


@dataclass(frozen=True)
class CheckContext:
    """What a check may use while planning and running cases."""

    settings: "Settings"
    pairs: tuple[TablePair, ...]
    source: "Engine"
    target: "Engine"
    task_settings: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, TableStats] = field(default_factory=dict)
    dms_tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # describe_table_statistics by source name
    dms_tables_error: str | None = None
    #: what DMS does to each column between these two engines; found from the engines' names when not given
    route: Route | None = None
    #: where long cases say how far they got (console lines); None: nowhere
    progress: "Progress | None" = None
    #: CDC mode: how differing rows are read again before they count (in-flight rows); None: no recheck
    recheck: "RecheckPolicy | None" = None

    def __post_init__(self) -> None:
        if self.route is None:
            object.__setattr__(self, "route", find_route(self.source.name, self.target.name))

    def the_route(self) -> Route:
        """The route of this run; UnsupportedRoute (naming both engines) when no route is known for them."""
        return self.route if self.route is not None else route_for(self.source.name, self.target.name)


class Check(abc.ABC):
    name: ClassVar[str]
    description: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a class that names itself is a check; intermediate bases (TableCheck) do not
        if "name" in cls.__dict__:
            if cls.name in REGISTRY:
                raise TypeError(f"two checks named {cls.name!r}")
            REGISTRY[cls.name] = cls

    @abc.abstractmethod
    def plan(self, settings: "Settings", pairs: tuple[TablePair, ...], stats: dict[str, TableStats]) -> list[Case]:
        """The cases of this check for this run (no database access: planning happens at collection)."""

    @abc.abstractmethod
    def run(self, case: Case, ctx: CheckContext) -> Outcome:
        """Run one case read-only against both sides; raise DmsvalError for what is not a data difference."""


class TableCheck(Check):
    """A check with one case per migrated table that needs the target table to exist."""

    def plan(self, settings: "Settings", pairs: tuple[TablePair, ...], stats: dict[str, TableStats]) -> list[Case]:
        return [Case(self.name, p.source_name, p) for p in pairs]

    def run(self, case: Case, ctx: CheckContext) -> Outcome:
        pair = case.pair
        assert pair is not None, "table checks plan one case per table pair"
        if not ctx.target.table_exists(pair.target_schema, pair.target_table):
            return Outcome(False, f"target table {pair.target_name} does not exist", {"target_exists": False})
        return self.run_table(case, pair, ctx)

    @abc.abstractmethod
    def run_table(self, case: Case, pair: TablePair, ctx: CheckContext) -> Outcome:
        """Run the case of one table pair whose target table exists."""

    @staticmethod
    def table_infos(pair: TablePair, ctx: CheckContext) -> tuple["TableInfo", "TableInfo"]:
        """Catalog facts of the source and the target table, read concurrently."""
        return on_both_sides(lambda: ctx.source.table_info(pair.source_schema, pair.source_table),
                             lambda: ctx.target.table_info(pair.target_schema, pair.target_table))


_pool: ThreadPoolExecutor | None = None


def on_both_sides(source_call: Callable[[], T], target_call: Callable[[], U]) -> tuple[T, U]:
    """Run the source and the target query concurrently (each engine has its own connection)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dmsval-side")
    source_future = _pool.submit(source_call)
    target_future = _pool.submit(target_call)
    # .result() re-raises the side's exception; after a failure, wait for the other side so no query is left
    # running unobserved. An interrupt (KeyboardInterrupt, SIGTERM) is not an Exception: it is not held up by a
    # side that may wait for a long time; the run's teardown cancels the queries still running on the servers.
    try:
        source_value = source_future.result()
    except Exception:
        target_future.exception()
        raise
    return source_value, target_future.result()


#: bound of the threads of parallel scans: at most this many calls of one in_parallel run at once
MAX_PARALLEL_CALLS = 128
_parallel_pool: ThreadPoolExecutor | None = None


def in_parallel(calls: list[Callable[[], T]], stop: threading.Event | None = None) -> list[T]:
    """Run every call concurrently (each on its own engine: a connection runs one statement at a time) and
    return their values in order, with ``on_both_sides``' semantics: after a failure, wait for the other calls
    (no query left running unobserved) and re-raise the first failure in call order; an interrupt of the
    waiting thread is not held up by them. ``stop`` is set on a failure or an interrupt, so calls that loop over
    work check it and start nothing new (the run's teardown cancels the statements still running)."""
    global _parallel_pool
    if len(calls) > MAX_PARALLEL_CALLS:
        raise ValueError(f"at most {MAX_PARALLEL_CALLS} parallel calls, got {len(calls)}")
    if _parallel_pool is None:
        # its own pool: the calls would wait for each other in on_both_sides' two threads
        _parallel_pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_CALLS, thread_name_prefix="dmsval-scan")
    futures: list[Future[T]] = [_parallel_pool.submit(call) for call in calls]
    if stop is not None:
        for future in futures:  # at once, not when this thread gets to it: the others take no more work
            future.add_done_callback(lambda done: stop.set() if done.exception() is not None else None)
    try:
        wait(futures)
    finally:
        if stop is not None and not all(future.done() for future in futures):
            stop.set()  # this thread was interrupted (KeyboardInterrupt, SIGTERM): hand out no more work
    return [future.result() for future in futures]  # the first failure in call order, re-raised
