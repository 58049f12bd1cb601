"""A plan run through the database's driver alone, no SQLAlchemy imported: a plan kept
whole (`plancache`), whose every statement was rendered before (a database built from empty
again and again: each test run's, each CI job's, each new environment's), or a deploy's few
changesets, or a plan known to render (`planstream.known_to_render`) streamed item by item,
rendered by the process the run forked as it started (`renderchild`).

Where the database has a driver side (`Dialect.driver_side`: SQLite through sqlite3,
PostgreSQL through psycopg 3; a render process only on SQLite), the run connects as
schemaflow's engines do, takes the run-wide lock, reads the version table and checks it
against the changesets (edited, missing: DriftError) exactly as `execute` does, and looks
for the plan kept for what is pending, under the same key (`planstream`: the database's
facts as the driver reads them are those SQLAlchemy's dialect is set up from), else has the
render process render what is pending: a deploy's few changesets all before the first runs,
a plan known to render each as it comes (and then kept whole, where plans are kept, with the
version table's statements, as `execute` keeps them).
It runs only where every changeset goes as a batch (`batched`: one transaction, statements
compiled), with the version-row statements compiled by SQLAlchemy (`rowrecipe`: by an
earlier run, kept signed beside the plans, or by the render process); each changeset is
the batch `batched` sends under SQLAlchemy, checked and recorded in its own transaction the
same way.

Anything else is left to `execute` before the database is touched (None): no plan kept nor
rendered there, a changeset the journal lists as interrupted, a statement that runs apart.
And when a changeset's batch fails (rolled back: nothing of it remains), this run ends there
and `execute` goes on from it, under its own lock, reading the version table again: it runs
that changeset statement by statement and reports the failing statement as always. So it
does from the first changeset a stream did not bring, or brought as what a batch does not
send."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import plancache
from .batched import eligible, run_batched
from .dialects import by_name, for_url
from .dialects.base import db_message
from .errors import DatabaseError
from .graph import apply_ids, rollback_ids
from .interrupt import Watch
from .outcome import Conflict, Progress, conflict, stopped
from .plans import Plan
from .planstream import history_key, kept_plan, known, known_to_render
from .recorder import applied_rows, check_drift, effective
from .renderchild import MOST, StreamRequest
from .rowrecipe import RecipeWriter
from .runner import ItemResult, Runner

if TYPE_CHECKING:
    from .config import Settings
    from .dialects.base import Dialect
    from .dialects.driver import DriverSide
    from .graph import Graph
    from .history import History
    from .plans import Direction, PlanItem
    from .renderchild import RenderChild


@dataclass
class DriverRun:
    """What a run through the driver did: its plan, the results of the changesets it ran,
    and whether it ran them all (else `execute` goes on from the first one it did not)."""

    plan: Plan
    results: list[ItemResult]
    finished: bool


class DriverRunner(Runner):
    """`batched`'s runner on the driver's own connection."""

    def __init__(self, side: DriverSide, raw: Any, graph: Graph, writer: RecipeWriter,
                 table: str, schema: str | None, name: str) -> None:
        super().__init__(graph, serialised=True)  # (under the run-wide lock)
        self.name = name  # (the database's, as plans are named)
        self.side, self.raw = side, raw
        self.table, self.schema = table, schema
        self.errors = side.errors
        self.watch = Watch(side.canceller(raw))
        self.batch = side.batch(raw)
        self._writer = writer

    @property
    def writer(self) -> RecipeWriter:
        return self._writer

    def read_next_order(self) -> int:
        return self.side.next_order(self.raw, self.table, self.schema)

    def in_transaction(self) -> bool:
        return self.side.in_transaction(self.raw)

    def invalidate(self) -> None:
        self.side.close(self.raw)

    def fits(self, item: PlanItem) -> bool:
        """Whether `item` can run here: as a batch, with version-row statements kept for
        as many ids as it checks and writes."""
        n_rows = len(self.checked(item)[1])
        n_written = 1 if item.direction == "apply" else 1 + len(item.changeset.replaces)
        return (eligible(self, item) and self._writer.covers(n_rows)
                and self._writer.covers(n_written))

    def run(self, items: Iterable[PlanItem], direction: Direction, ids: Sequence[str],
            on_item: Callable[[ItemResult], None] | None,
            on_start: Callable[[str, str], None] | None) -> DriverRun:
        """Run the plan's changesets (`ids`, `items` as they come) in order, each as one
        batch, until one fails or does not fit."""
        results: list[ItemResult] = []
        taken: list[PlanItem] = []
        with self.watch, self.side.interruptible(self.raw):
            for item in items:
                if self.watch.signum is not None:  # came between changesets
                    raise stopped(direction, ids, len(results), self.watch.signum)
                if not self.fits(item):
                    break
                taken.append(item)
                cs = item.changeset
                if on_start:
                    on_start(cs.id, cs.message)
                try:
                    result = run_batched(self, item)
                except Conflict as exc:
                    if not exc.done:
                        raise conflict(item, exc, Progress(batched=True)) from None
                    result = ItemResult(cs.id, cs.message, item.direction, 0, 0, skipped=True)
                if result is None:  # rolled back: `execute` runs it and says why it failed
                    break
                results.append(result)
                if on_item:
                    on_item(result)
            if self.watch.signum is not None and len(results) < len(ids):
                # (came while it waited for a streamed changeset that did not come)
                raise stopped(direction, ids, len(results), self.watch.signum)
        plan = Plan(direction, tuple(taken), self.name)
        return DriverRun(plan, results, len(results) == len(ids))


def run_driven(settings: Settings, history: History, direction: Direction, target: str | None,
             *, lock_timeout: float, shown_url: str, notify: Callable[[str], None],
             folder: str, on_item: Callable[[ItemResult], None] | None = None,
             on_start: Callable[[str, str], None] | None = None,
             child: RenderChild | None = None, may_keep: bool = True) -> DriverRun | None:
    """Run this run's plan (kept whole, or rendered by `child`) through the driver alone;
    None (the database as it was) where this run is `execute`'s (see the module's
    docstring). `may_keep=False`: the version table read before the lock says no plan kept
    whole can be this run's (`planstream.may_be_kept`), so without `child` nothing is
    connected or locked here."""
    url, schema = settings.url, settings.version_table_schema
    if child is None and not may_keep:
        return None  # (without a render process, only a plan kept whole runs here)
    named = for_url(url) if settings.bind is None else None
    side = named.driver_side(url, schema) if named is not None else None
    if named is None or side is None:
        return None
    raw = side.connect(lock_timeout)
    try:
        done = _locked_run(side, raw, named, settings, history, direction, target,
                           lock_timeout, shown_url, notify, folder, on_item, on_start, child)
    except side.errors as exc:  # outside any changeset (a version table of another shape)
        raise DatabaseError(f"the database failed: {db_message(exc)}") from None
    finally:
        side.close(raw)
    if child is not None:  # (once the lock is let go: a process that streamed the whole
        # plan may still write the schema it ends on to the memo; else it is stopped)
        child.close(wait=done is not None and done.finished)
    return done


def _locked_run(side: DriverSide, raw: Any, named: Dialect, settings: Settings,
                history: History, direction: Direction, target: str | None,
                lock_timeout: float, shown_url: str, notify: Callable[[str], None],
                folder: str, on_item: Callable[[ItemResult], None] | None,
                on_start: Callable[[str, str], None] | None,
                child: RenderChild | None) -> DriverRun | None:
    from .dialects.driver import take_lock
    from .importers import unfinished

    table, schema = settings.version_table, settings.version_table_schema
    take_lock(lambda seconds: side.lock(raw, table, seconds), lock_timeout, shown_url,
              notify)
    try:
        exists, (found, _), journal_table = side.read(raw, table, schema)
        if journal_table:  # an interrupted changeset (`execute` finishes it or says why
            return None    # not), or a journal a run left behind (it drops it)
        g = history.graph
        rows = effective(applied_rows(found), g)
        check_drift(rows, g, folder)
        applied = {r.id for r in rows}
        ids = (apply_ids(g, target, applied) if direction == "apply" else
               rollback_ids(g, target or "base", [r.id for r in rows]))
        if not ids:
            return None
        unfinished(history, ids, direction)  # (before anything is planned, as in `execute`)
        dialect = by_name(named.name, side.server_version(raw))
        facts = side.facts(raw)
        keys = known(history, direction, ids, applied, dialect, facts)
        plan = kept_plan(history, direction, ids, keys, dialect.name)
        recipe = plancache.recipe(history, keys.ctx, table, schema, keys.secret) \
            if plan is not None and keys.secret is not None else None
        streamed: dict[str, str] | None = None
        if plan is None and child is not None:
            if direction == "apply" and len(ids) <= MOST:
                there = _rendered_there(child, history, dialect, facts, ids, applied)
                if there is not None:
                    plan, recipe = there
            elif known_to_render(keys):
                recipe = child.open_stream(StreamRequest(
                    dialect.name, dialect.server_version, facts, direction, ids,
                    sorted(applied), keys.secret is None, history_key(g)))
                streamed = {} if recipe is not None else None
        if (plan is None and streamed is None) or recipe is None:
            return None
        runner = DriverRunner(side, raw, g, RecipeWriter(recipe), table, schema, dialect.name)
        if plan is not None and not all(runner.fits(item) for item in plan.items):
            return None
        if not exists:  # (in a transaction of its own, as `Recorder.ensure` makes it: the
            # one statement, in autocommit; sent alone, as SQLAlchemy sends it, so that the
            # server counts an error's LINE in it alone)
            batch = side.batch(raw)
            batch.begin()
            try:
                batch.send([(recipe["create"], None)])
            finally:
                batch.settle()
        if streamed is None or child is None:
            if child is not None:  # (not needed once the plan is known)
                child.close()
            assert plan is not None
            return runner.run(plan.items, direction, ids, on_item, on_start)
        done = runner.run(_received(child, g, direction, ids, streamed, runner.watch),
                          direction, ids, on_item, on_start)
        if done.finished and keys.secret is not None:  # kept whole, for the next run
            plancache.store(history, keys.keys[-1], done.plan.items, streamed, keys.secret)
            if plancache.recipe(history, keys.ctx, table, schema, keys.secret) is None:
                plancache.store_recipe(history, keys.ctx, recipe, keys.secret)
        return done
    finally:
        side.unlock(raw, table)


def _rendered_there(child: RenderChild, history: History, dialect: Dialect,
                    facts: tuple[Any, ...], ids: list[str], applied: set[str]
                    ) -> tuple[Plan, dict[str, Any]] | None:
    """The plan of applying `ids`, rendered by the run's render process (`renderchild`) on
    the schema the memo holds for `applied` (replayed here first where it holds none, which
    remembers it), each changeset as its file holds it where that is what the history
    loaded here says (compared there, as `History.from_file` compares it); and the version
    table's statements."""
    from .plans import Plan, PlanItem
    from .renderchild import Request

    g = history.graph
    key = child.key_of(g, applied)
    if not history.memo.holds_state(key):
        history.memo.replay(g, g.ordered(applied))  # (remembered: the process reads it)
    files = [history.path(cid) for cid in ids]
    if not all(files) or not history.memo.holds_state(key):
        return None
    answer = child.render(Request(dialect.name, dialect.server_version, facts, key,
                                  [f for f in files if f is not None], ids,
                                  [history.loaded_body(cid) for cid in ids]))
    if answer is None or len(answer[0]) != len(ids) or len(answer[2]) != len(ids):
        return None
    items = []
    for cid, (transactional, steps), (parsed, summed) in zip(ids, answer[0], answer[2],
                                                              strict=True):
        if parsed != cid:
            return None
        items.append(PlanItem(g[cid], "apply", (), tuple(steps), transactional, summed))
    return Plan("apply", tuple(items), dialect.name), answer[1]


def _received(child: RenderChild, g: Graph, direction: Direction, ids: Sequence[str],
              sources: dict[str, str], watch: Watch) -> Iterator[PlanItem]:
    """The items of a plan streamed by the render process, in order, until its stream
    ends, or a signal came while waiting for one (`watch`); `sources`: the key of the file
    each changeset was parsed from, for `plancache`."""
    from .plans import PlanItem

    for cid in ids:
        got = child.next_item(lambda: watch.signum is not None)
        if got is None or got[0] != cid:
            return
        _, steps, transactional, checksum, source = got
        if source is not None:
            sources[cid] = source
        yield PlanItem(g[cid], direction, (), tuple(steps), transactional, checksum)


def told_once(on_start: Callable[[str, str], None] | None, item: PlanItem
               ) -> Callable[[str, str], None] | None:
    """`on_start`, but not told again of `item`, which it was told of already (a changeset
    that the driver's run started and `execute` runs again)."""
    if on_start is None:
        return None
    told = [item.changeset.id]

    def once(cid: str, message: str) -> None:
        if told and cid == told[0]:
            told.clear()
            return
        on_start(cid, message)

    return once
