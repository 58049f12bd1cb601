"""Running a plan online: under the lock, one transaction per changeset where the database
allows it (the offline SQL script is `script`)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import nullcontext, suppress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import ExecutableDDLElement

from .batched import batch_for, eligible, run_batched
from .config import Settings, hide_password
from .dialects.base import Dialect, db_message
from .dialects.cancel import interruptible
from .dialects.connect import (
    begin,
    commit,
    driver_cursor,
    end_read,
    joined,
    locked,
    rollback,
    session,
    unprepared,
)
from .dialects.sqlite.keep import Refused, is_marker
from .dialects.sqlite.keep import run as run_marker
from .errors import UsageError
from .graph import Graph, apply_ids, rollback_ids
from .history import History
from .importers import unfinished
from .interrupt import Stop, Watch
from .outcome import Conflict, Progress, conflict, failed, interrupted, refused, stopped
from .plans import Bound, Direction, Plan, PlanItem, Step
from .planstream import Streamed, kept_plan, known, plan_run, sa_facts
from .recorder import Recorder, RunWriter, check_drift, effective
from .runner import ItemResult, Runner

# --- online ----------------------------------------------------------------------------------


class _Runner(Runner):
    """Runs steps on one SQLAlchemy connection. DDL and raw SQL go to the driver's cursor as
    text, compiled like the offline script and passed without parameters (so a `%` in raw
    SQL is a percent sign on every driver, and no per-statement SQLAlchemy work is paid);
    statements with values (insert_rows) go through SQLAlchemy with bound parameters."""

    def __init__(self, recorder: Recorder, database: Dialect, graph: Graph) -> None:
        super().__init__(graph, database.run_lock)
        self.recorder = recorder
        self.conn = conn = recorder.conn
        self.database = database
        self.errors = (sa.exc.SQLAlchemyError, conn.dialect.loaded_dbapi.Error)
        self._writer: RunWriter | None = None
        # Ctrl-C / SIGTERM: cancel the running statement on the server, stop at a boundary.
        self.watch = Watch(database.canceller(conn))
        self.journal = recorder.journal
        self.batch = batch_for(database, self)

    @functools.cached_property
    def dialect(self) -> Any:
        """The connection's SQLAlchemy dialect, compiling statements to run as they stand
        (only a statement left as a construct needs it: none of a plan kept whole)."""
        from .dialects.render import literal_dialect

        return literal_dialect(self.conn.dialect)

    @property
    def writer(self) -> RunWriter:
        """The run's version-row statements (compiled on first use)."""
        if self._writer is None:
            self._writer = self.recorder.run_writer()
        return self._writer

    def read_next_order(self) -> int:
        return self.recorder.next_order()

    def in_transaction(self) -> bool:
        return self.conn.in_transaction()

    def end_read(self) -> None:
        end_read(self.conn)

    def invalidate(self) -> None:
        self.conn.invalidate()

    def check(self, item: PlanItem) -> None:
        """In the changeset's transaction: that the version table still lets it run
        (`Runner.judge`)."""
        others, rows = self.checked(item)
        self.judge(item, others, self.writer.present(rows))

    def text(self, step: Step) -> str | None:
        """The SQL the driver runs for `step` (None: a statement with bound values)."""
        if isinstance(step.sql, str):
            return step.sql
        if isinstance(step.sql, ExecutableDDLElement):
            from .dialects.render import compile_step

            return compile_step(step, self.dialect)
        return None

    def execute(self, step: Step) -> None:
        sql = self.text(step)
        with self.watch.statement():
            if isinstance(step.sql, Bound):  # compiled when planned (dialects.prepared)
                with driver_cursor(self.conn) as cursor:
                    cursor.execute(step.sql.sql, step.sql.params)
                return
            if sql is None:
                self.conn.execute(step.sql)
                return
            with driver_cursor(self.conn) as cursor:
                if is_marker(sql):  # (a SQLite rebuild's: dialects.sqlite.keep)
                    run_marker(sql, cursor)
                else:
                    cursor.execute(sql)

    def shown(self, step: Step | None) -> str | None:
        """The statement's text for an error message; never raises (the statement itself may
        be what failed to compile)."""
        if step is None:
            return None
        if isinstance(step.sql, Bound):
            return step.sql.shown
        from .dialects.render import compile_step

        try:
            return compile_step(step, self.dialect)
        except sa.exc.SQLAlchemyError:
            return str(step.sql)

    def lost(self, exc: BaseException) -> bool:
        """Whether `exc` means the connection to the database is gone."""
        conn = self.conn
        if conn.invalidated or getattr(exc, "connection_invalidated", False):
            return True
        orig = getattr(exc, "orig", None) or exc
        if not isinstance(orig, conn.dialect.loaded_dbapi.Error):
            return False
        try:
            return bool(conn.dialect.is_disconnect(orig, conn.connection.dbapi_connection,
                                                   None))
        except self.errors:
            return True

    def rollback(self) -> bool:
        """End the open transaction, if any; False when that failed (the connection is
        dropped then: it is gone or unusable)."""
        try:
            rollback(self.conn)
        except self.errors:
            with suppress(*self.errors):
                self.conn.invalidate()
            return False
        return True


def _record(runner: _Runner, item: PlanItem, ms: int, order: int) -> None:
    cs = item.changeset
    if item.direction == "apply":
        runner.writer.insert(cid=cs.id, checksum=item.checksum, message=cs.message,
                             execution_ms=ms, order=order)
    else:
        # A squashed changeset stands for the rows of the changesets it replaces.
        runner.writer.delete((cs.id, *cs.replaces))
    if not item.transactional:  # its progress ends with the version-table change
        runner.journal.clear(cs.id)


def _statement(runner: _Runner, item: PlanItem, progress: Progress, step: Step) -> None:
    """Run one statement of a changeset, keeping count; outside the changeset's own
    transaction, record it in the journal (with the statement, where it commits with a
    transaction; else just after it)."""
    progress.running = True
    if item.transactional:
        runner.execute(step)
    else:
        if not step.transactional:  # a statement that refuses a transaction block
            _autocommit(runner, step)
        begin(runner.conn)
        if step.transactional:
            runner.execute(step)
        cs = item.changeset
        runner.journal.done(cs.id, progress.count + 1, item.direction, len(item.steps),
                            item.checksum, (runner.text(step) or runner.shown(step) or "").strip())
        commit(runner.conn)
    progress.running = False
    progress.count += 1


def _record_and_commit(runner: _Runner, item: PlanItem, progress: Progress,
                       start: float) -> None:
    progress.recording = True
    _record(runner, item, int((time.perf_counter() - start) * 1000), runner.order(item))
    progress.committing = True
    commit(runner.conn)


def run_item(runner: _Runner, item: PlanItem, first: int | None = None) -> ItemResult:
    """Run one changeset: its statements and its version row in one transaction if possible.
    Inside that transaction (or, for a changeset that is not transactional, in one before its
    first statement and in the one that records it) the version table is checked again.
    `first`: an interrupted changeset, resumed at that statement (its journal rows kept)."""
    conn = runner.conn
    cs = item.changeset
    if first is None and eligible(runner, item):
        try:
            result = run_batched(runner, item)
        except Conflict as exc:
            if exc.done:
                return ItemResult(cs.id, cs.message, item.direction, 0, 0, skipped=True)
            raise conflict(item, exc, Progress(batched=True)) from None
        if result is not None:
            return result
    progress = Progress(count=first or 0, earlier=first or 0)
    start = time.perf_counter()
    try:
        if not item.transactional:
            runner.journal.ensure()
        begin(conn)
        runner.check(item)
        if not item.transactional:
            if first is None:
                runner.journal.start(cs.id, item.direction, len(item.steps), item.checksum)
            commit(conn)
        for step in item.steps[progress.count:]:
            _statement(runner, item, progress, step)
        if not item.transactional:
            progress.recording = True
            begin(conn)
            runner.check(item)
        _record_and_commit(runner, item, progress, start)
    except Conflict as exc:
        runner.rollback()
        if exc.done and not progress.count:
            return ItemResult(cs.id, cs.message, item.direction, 0, 0, skipped=True)
        progress.ran = [runner.shown(s) or "" for s in item.steps[:progress.count]]
        raise conflict(item, exc, progress) from None
    except Stop as stop:
        progress.running = stop.started
        runner.rollback()  # when that fails the connection is dropped: the same for the data
        progress.ran = [runner.shown(s) or "" for s in item.steps[:progress.count]]
        raise interrupted(item, progress, stop) from None
    except runner.errors as exc:
        if isinstance(exc, Refused) and item.transactional and runner.rollback():
            # (stopped by a SQLite rebuild's marker: nothing of the changeset remains)
            raise refused(item, str(exc)) from None
        lost = runner.lost(exc)
        lost = not runner.rollback() or lost
        progress.ran = [runner.shown(s) or "" for s in item.steps[:progress.count]]
        current = item.steps[progress.count] if progress.running else None
        raise failed(item, progress, lost=lost,
                     statement="COMMIT" if progress.committing else runner.shown(current),
                     db_message=db_message(exc)) from None
    ms = int((time.perf_counter() - start) * 1000)
    return ItemResult(cs.id, cs.message, item.direction, ms, len(item.steps))


def _autocommit(runner: _Runner, step: Step) -> None:
    """Run a statement that refuses a transaction block (CREATE INDEX CONCURRENTLY)."""
    conn = runner.conn
    if joined(conn):
        raise UsageError("a statement that cannot run inside a transaction block (CREATE INDEX "
                         "CONCURRENTLY, ...) cannot run on a connection given as url= inside "
                         "the caller's transaction", hint="commit first, or pass the Engine")
    level = conn.get_isolation_level()
    conn.execution_options(isolation_level="AUTOCOMMIT")
    try:
        runner.execute(step)
        if conn.in_transaction():
            conn.commit()
    finally:
        conn.execution_options(isolation_level=level)


def run(recorder: Recorder, database: Dialect, plan: Plan | Streamed, graph: Graph,
        on_item: Callable[[ItemResult], None] | None = None,
        on_start: Callable[[str, str], None] | None = None,
        resume: tuple[str, int] | None = None) -> list[ItemResult]:
    """Run every item of a plan in order (of a `Streamed` one, each as it comes); stops at
    the first failure (ChangesetFailed). Where the database has a run-wide lock, the caller
    holds it. `on_start(id, message)` is told of each changeset before it runs, `on_item`
    when it is done. `resume`: (id, index of the first statement to run) of an interrupted
    changeset."""
    results: list[ItemResult] = []
    runner = _Runner(recorder, database, graph)
    items = plan.items if isinstance(plan, Plan) else plan
    with runner.watch, unprepared(runner.conn), interruptible(runner.conn):
        for item in items:
            if runner.watch.signum is not None:  # came between changesets
                raise stopped(plan.direction, plan.ids, len(results), runner.watch.signum)
            if on_start:
                on_start(item.changeset.id, item.changeset.message)
            result = run_item(runner, item, resume[1] if resume and resume[0] ==
                              item.changeset.id else None)
            results.append(result)
            if on_item:
                on_item(result)
    return results


# --- a whole command ---------------------------------------------------------------------------


def _keep_recipe(history: History, settings: Settings, dialect: Dialect, recorder: Recorder,
                 ctx: str, secret: bytes) -> None:
    """Keep the version table's statements (`rowrecipe`) beside the plans, once, where a
    later run of a kept plan can go through the driver alone (`driverrun`)."""
    from . import plancache

    schema = settings.version_table_schema
    if dialect.driver_side(settings.url, schema) is None or plancache.recipe(
            history, ctx, settings.version_table, schema, secret) is not None:
        return  # (kept, and signed with this machine's key)
    from .rowrecipe import make

    recipe = make(recorder.run_writer())
    if recipe is not None:
        plancache.store_recipe(history, ctx, recipe, secret)


def migrate(settings: Settings, history: History, direction: Direction, target: str | None, *,
            dry_run: bool, lock_timeout: float, notify: Callable[[str], None],
            folder: str, on_item: Callable[[ItemResult], None] | None = None,
            on_start: Callable[[str, str], None] | None = None,
            resume_from: int | None = None) -> tuple[Plan, list[ItemResult] | str]:
    """Apply or roll back on the configured database: under its lock, from the version rows
    it holds; with `dry_run`, the SQL script of what would run instead of running it. A
    changeset the journal lists as interrupted is finished first (see `resume`)."""
    g = history.graph
    with session(settings.database, lock_timeout=lock_timeout) as (conn, dialect):
        recorder = Recorder(conn, settings.version_table, settings.version_table_schema)
        with nullcontext() if dry_run else locked(conn, dialect, settings.version_table,
                                                   lock_timeout, hide_password(settings.url),
                                                   notify):
            exists = recorder.exists()
            rows = effective(recorder.read(), g) if exists else []
            check_drift(rows, g, folder)
            applied = {r.id for r in rows}
            ids = (apply_ids(g, target, applied) if direction == "apply" else
                   rollback_ids(g, target or "base", [r.id for r in rows]))
            if not dry_run:  # (an offline script shows the notes as they are)
                unfinished(history, ids, direction)

            def ready() -> None:
                """The version table made, once the plan is known to run (a plan refused
                while it is rendered leaves the database as it was)."""
                if not exists:
                    recorder.ensure()
            # A run compiles each statement as its changeset is planned: a long plan keeps
            # text, not SQLAlchemy constructs. Not where the journal lists an interrupted
            # changeset: finding where it resumes looks at the statements' constructs.
            compiles = not dry_run and not (exists and recorder.journal.read())
            plain = compiles and resume_from is None  # (nothing to resume: see `recover`)
            keys = known(history, direction, ids, applied, dialect, sa_facts(
                dialect, conn.dialect, conn.connection.dbapi_connection,
                isinstance(settings.database, str))) if plain else None
            if keys is not None and keys.secret is not None and isinstance(
                    settings.database, str):
                _keep_recipe(history, settings, dialect, recorder, keys.ctx, keys.secret)
            kept = kept_plan(history, direction, ids, keys, dialect.name) \
                if keys is not None else None
            if kept is not None:  # sent as it was rendered: no renderer is needed
                ready()
                results = run(recorder, dialect, kept, g, on_item, on_start)
                recorder.journal.drop_if_empty()
                return kept, results
            from .dialects.prepared import precompiled

            renderer = dialect.renderer()
            finish = precompiled(conn.dialect) if compiles else None
            if keys is None:
                from .planning import plan_apply, plan_rollback

                make = plan_apply if direction == "apply" else plan_rollback
                plan = make(history, ids, applied, renderer, finish)
            else:
                assert finish is not None
                work = plan_run(history, direction, ids, applied, renderer, finish, keys)
                if not isinstance(work, Plan):  # streamed: each item run as it comes
                    ready()
                    try:
                        results = run(recorder, dialect, work, g, on_item, on_start)
                    finally:
                        work.close()
                    recorder.journal.drop_if_empty()
                    return work.plan(), results
                plan = work
            if dry_run:
                from .script import to_sql

                return plan, to_sql(plan, conn.dialect, recorder.table,
                                    create_version_table=not exists, renderer=renderer,
                                    start_order=len(rows))
            from .resume import recover

            plan, resume = recover(conn, renderer, recorder.journal if exists else None,
                                   plan, history, applied, resume_from, notify)
            ready()
            results = run(recorder, dialect, plan, g, on_item, on_start, resume)
            recorder.journal.drop_if_empty()
            return plan, results
