"""Running a plan: online under the lock, one transaction per changeset where the database
allows it, or offline as one SQL script."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable, ExecutableDDLElement

from .config import Settings, hide_password
from .dialects.base import Dialect, db_message
from .dialects.connect import driver_cursor, locked, session
from .dialects.render import Renderer, Step, compile_step, literal_dialect
from .errors import ChangesetFailed, UsageError
from .graph import apply_ids, rollback_ids
from .history import History
from .planning import Direction, Plan, PlanItem, plan_apply, plan_rollback
from .recorder import Recorder, RunWriter, check_drift, effective, script_rows


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What running one plan item did."""

    id: str
    message: str
    direction: Direction
    execution_ms: int
    statements: int
    skipped: bool = False


# --- online ----------------------------------------------------------------------------------


class _Runner:
    """Runs steps on one connection. DDL and raw SQL go to the driver's cursor as text,
    compiled like the offline script and passed without parameters (so a `%` in raw SQL is
    a percent sign on every driver, and no per-statement SQLAlchemy work is paid); statements
    with values (insert_rows) go through SQLAlchemy with bound parameters."""

    def __init__(self, recorder: Recorder, database: Dialect) -> None:
        self.recorder = recorder
        self.conn = conn = recorder.conn
        self.database = database
        self.dialect = literal_dialect(conn.dialect)
        self.errors: tuple[type[BaseException], ...] = (
            sa.exc.SQLAlchemyError, conn.dialect.loaded_dbapi.Error)
        # With the run's lock held (PostgreSQL, MySQL) no other run can write version rows
        # meanwhile: they are read once, not re-read for every changeset.
        self.serialised = database.run_lock
        self.next_order: int | None = None
        self.data_version: object = None
        self.applied: set[str] | None = None
        self._writer: RunWriter | None = None

    @property
    def writer(self) -> RunWriter:
        """The run's version-row statements (compiled on first use)."""
        if self._writer is None:
            self._writer = self.recorder.run_writer()
        return self._writer

    def state(self, item: PlanItem) -> tuple[bool, int]:
        """Whether a concurrent run did `item` already, and the next exec_order.

        Under a run-wide lock (PostgreSQL, MySQL) nobody else writes: the order is read once.
        On SQLite each item's BEGIN IMMEDIATE is the lock, and the version table is read
        again in that transaction, unless PRAGMA data_version shows that no other
        connection has committed anything since this one last read it."""
        if self.serialised:
            if self.next_order is None:
                self.next_order = self.recorder.next_order()
        else:
            version = self._data_version()
            if version is None or version != self.data_version or self.applied is None:
                self.applied, self.next_order = self.recorder.applied_ids()
                self.data_version = version
            ids = (item.changeset.id, *item.changeset.replaces)
            present = any(i in self.applied for i in ids)
            if present == (item.direction == "apply"):
                return True, self.next_order or 1
            if item.direction == "apply":
                self.applied.add(item.changeset.id)
            else:
                self.applied.difference_update(ids)
        assert self.next_order is not None
        order = self.next_order
        if item.direction == "apply":
            self.next_order += 1
        return False, order

    def _data_version(self) -> object:
        """A value that changes when another connection commits (None: no way to tell, so
        the version table is read again every time)."""
        with driver_cursor(self.conn) as cursor:
            return self.database.data_version(cursor)

    def text(self, step: Step) -> str | None:
        """The SQL the driver runs for `step` (None: a statement with bound values)."""
        if isinstance(step.sql, str):
            return step.sql
        if isinstance(step.sql, ExecutableDDLElement):
            return compile_step(step, self.dialect)
        return None

    def execute(self, step: Step) -> None:
        sql = self.text(step)
        if sql is None:
            self.conn.execute(step.sql)
            return
        with driver_cursor(self.conn) as cursor:
            cursor.execute(sql)

    def shown(self, step: Step | None) -> str | None:
        """The statement's text for an error message; never raises (the statement itself may
        be what failed to compile)."""
        if step is None:
            return None
        try:
            return compile_step(step, self.dialect)
        except sa.exc.SQLAlchemyError:
            return str(step.sql)


def _record(runner: _Runner, item: PlanItem, ms: int, order: int) -> None:
    cs = item.changeset
    if item.direction == "apply":
        runner.writer.insert(cid=cs.id, checksum=item.checksum, message=cs.message,
                             execution_ms=ms, order=order)
    else:
        # A squashed changeset stands for the rows of the changesets it replaces.
        runner.writer.delete((cs.id, *cs.replaces))


def run_item(runner: _Runner, item: PlanItem) -> ItemResult:
    """Run one changeset: its statements and its version row in one transaction if possible."""
    conn = runner.conn
    cs = item.changeset
    ran: list[str] = []
    start = time.perf_counter()
    current: Step | None = None
    try:
        if item.transactional:
            with conn.begin():
                done, order = runner.state(item)
                if done:
                    return ItemResult(cs.id, cs.message, item.direction, 0, 0, skipped=True)
                # (Nothing is listed as "ran" here: on failure the transaction undoes it all.)
                for current in item.steps:
                    runner.execute(current)
                current = None
                _record(runner, item, int((time.perf_counter() - start) * 1000), order)
        else:
            for current in item.steps:
                if current.transactional:
                    with conn.begin():
                        runner.execute(current)
                else:
                    _autocommit(runner, current)
                ran.append(runner.shown(current) or "")
            current = None
            with conn.begin():
                _record(runner, item, int((time.perf_counter() - start) * 1000),
                        runner.state(item)[1])
    except runner.errors as exc:
        if conn.in_transaction():
            conn.rollback()
        statement = runner.shown(current)
        verb = "applying" if item.direction == "apply" else "rolling back"
        if item.transactional:
            state = ("it was rolled back as a whole: nothing of it remains and the version "
                     "table is unchanged")
        else:
            state = (f"{len(ran)} of its {len(item.steps)} statements had already run and "
                     "stay in effect (this changeset is not transactional); the version table "
                     "does not list it")
        raise ChangesetFailed(
            f"{verb} changeset {cs.id} ({cs.path}) failed; {state}",
            changeset=cs.id, statement=statement, db_message=db_message(exc),
            ran=[] if item.transactional else ran,
            hint=None if item.transactional else
            "undo or finish those statements by hand, then run the command again") from None
    ms = int((time.perf_counter() - start) * 1000)
    return ItemResult(cs.id, cs.message, item.direction, ms, len(item.steps))


def _autocommit(runner: _Runner, step: Step) -> None:
    """Run a statement that refuses a transaction block (CREATE INDEX CONCURRENTLY)."""
    conn = runner.conn
    level = conn.get_isolation_level()
    conn.execution_options(isolation_level="AUTOCOMMIT")
    try:
        runner.execute(step)
        if conn.in_transaction():
            conn.commit()
    finally:
        conn.execution_options(isolation_level=level)


def run(recorder: Recorder, database: Dialect, plan: Plan,
        on_item: Callable[[ItemResult], None] | None = None) -> list[ItemResult]:
    """Run every item of a plan in order; stops at the first failure (ChangesetFailed).
    Where the database has a run-wide lock, the caller holds it."""
    results = []
    runner = _Runner(recorder, database)
    for item in plan.items:
        result = run_item(runner, item)
        results.append(result)
        if on_item:
            on_item(result)
    return results


# --- offline ---------------------------------------------------------------------------------


def to_sql(plan: Plan, dialect: Any, vt: sa.Table, *, create_version_table: bool,
           renderer: Renderer, start_order: int = 0) -> str:
    """The plan as one SQL script, with version-table statements and transactions."""
    dialect = literal_dialect(dialect)  # a script runs without parameters: `%` stays single
    out: list[str] = [f"-- schemaflow {plan.direction} ({plan.dialect}), generated "
                      f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC", ""]
    if create_version_table:
        out += [compile_step(Step(CreateTable(vt, if_not_exists=True)), dialect) + ";", ""]
    order = start_order
    for item in plan.items:
        cs = item.changeset
        message = " ".join(cs.message.split())  # one comment line, whatever the message holds
        out.append(f"-- {item.direction} {cs.id}: {message}")
        if item.transactional and renderer.transactional_ddl:
            out.append("BEGIN;")
        try:
            out += [compile_step(s, dialect) + ";" for s in item.steps]
        except sa.exc.SQLAlchemyError as exc:
            raise UsageError(f"changeset {cs.id} ({cs.path}) cannot be written as SQL for "
                             f"{plan.dialect}: {exc}", hint="run schemaflow validate --dialect "
                             f"{plan.dialect}") from None
        if item.direction == "apply":
            order += 1
        record = script_rows(vt, cid=cs.id, checksum_=item.checksum, message=cs.message,
                             order=order, rollback_ids=None if item.direction == "apply"
                             else (cs.id, *cs.replaces))
        out.append(compile_step(Step(record), dialect) + ";")
        if item.transactional and renderer.transactional_ddl:
            out.append("COMMIT;")
        out.append("")
    return "\n".join(out)


# --- a whole command ---------------------------------------------------------------------------


def migrate(settings: Settings, history: History, direction: Direction, target: str | None, *,
            dry_run: bool, lock_timeout: float, notify: Callable[[str], None],
            folder: str, on_item: Callable[[ItemResult], None] | None = None,
            ) -> tuple[Plan, list[ItemResult] | str]:
    """Apply or roll back on the configured database: under its lock, from the version rows
    it holds; with `dry_run`, the SQL script of what would run instead of running it."""
    g = history.graph
    with session(settings.url, lock_timeout=lock_timeout) as (conn, dialect):
        recorder = Recorder(conn, settings.version_table, settings.version_table_schema)
        with nullcontext() if dry_run else locked(conn, dialect, settings.version_table,
                                                   lock_timeout, hide_password(settings.url),
                                                   notify):
            exists = recorder.exists()
            if not exists and not dry_run:
                recorder.ensure()
            rows = effective(recorder.read(), g) if exists else []
            check_drift(rows, g, folder)
            applied = {r.id for r in rows}
            renderer = dialect.renderer()
            if direction == "apply":
                plan = plan_apply(history, apply_ids(g, target, applied), applied, renderer)
            else:
                ids = rollback_ids(g, target or "base", [r.id for r in rows])
                plan = plan_rollback(history, ids, applied, renderer)
            if dry_run:
                return plan, to_sql(plan, conn.dialect, recorder.table,
                                    create_version_table=not exists, renderer=renderer,
                                    start_order=len(rows))
            return plan, run(recorder, dialect, plan, on_item)


def offline(history: History, database: Dialect, direction: Direction, target: str | None,
            vt: sa.Table) -> tuple[Plan, str]:
    """The SQL script of apply/rollback without a database: from base, or from `FROM` in a
    `FROM:TO` target (rollback: from every head)."""
    from .graph import target_ids

    g = history.graph
    renderer = database.renderer()
    start, _, end = (target or "").rpartition(":") if target and ":" in target else (
        "", "", target or "")
    if direction == "apply":
        applied = g.ancestors(target_ids(g, start)) if start else set()
        plan = plan_apply(history, apply_ids(g, end or "heads", applied), applied, renderer)
    else:
        applied = g.ancestors(target_ids(g, start or "heads"))
        ids = rollback_ids(g, end or "base", g.ordered(applied))
        plan = plan_rollback(history, ids, applied, renderer)
    return plan, to_sql(plan, database.sa_dialect(), vt, create_version_table=not start and
                        direction == "apply", renderer=renderer,
                        start_order=len(applied) if direction == "apply" else 0)
