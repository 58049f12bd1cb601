"""Plans (the changesets to run, rendered) and running them: online with a lock, or as SQL text."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable, ExecutableDDLElement

from . import __version__, db, ir
from .errors import ChangesetFailed, StateError, UsageError
from .history import History
from .ir import checksum
from .render import Renderer, Step, compile_step, literal_dialect
from .reverse import Irreversible, reverse_changeset
from .sqla import TypeError_
from .state import SchemaState, apply

Direction = Literal["apply", "rollback"]


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One changeset to run in one direction, with its statements."""

    changeset: ir.Changeset
    direction: Direction
    operations: tuple[ir.Operation, ...]
    steps: tuple[Step, ...]
    transactional: bool
    checksum: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered work of one apply or rollback."""

    direction: Direction
    items: tuple[PlanItem, ...]
    dialect: str


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What running one plan item did."""

    id: str
    message: str
    direction: Direction
    execution_ms: int
    statements: int
    skipped: bool = False


def _render(renderer: Renderer, cs: ir.Changeset, ops: Sequence[ir.Operation],
            state: SchemaState, direction: Direction) -> tuple[list[Step], SchemaState]:
    steps: list[Step] = []
    for i, op in enumerate(ops):
        try:
            steps += renderer.render(op, state)
            state = apply(state, op)
        except (StateError, TypeError_, UsageError, sa.exc.IdentifierError) as exc:
            where = "rollback" if direction == "rollback" else "operation"
            raise UsageError(
                f"changeset {cs.id} ({cs.path}): {where} {i + 1} ({op.kind}) cannot be "
                f"rendered for {renderer.name}: {getattr(exc, 'message', exc)}",
                hint="run schemaflow validate") from None
    return steps, state


def _item(renderer: Renderer, cs: ir.Changeset, direction: Direction,
          ops: tuple[ir.Operation, ...], steps: list[Step]) -> PlanItem:
    transactional = renderer.transactional_ddl if cs.transactional is None else cs.transactional
    if transactional and renderer.transactional_ddl and any(not s.transactional for s in steps):
        raise UsageError(
            f"changeset {cs.id} ({cs.path}) has a statement that cannot run inside a "
            "transaction (CREATE INDEX CONCURRENTLY)",
            hint="set `transactional: false` on the changeset, and keep such statements in a "
                 "changeset of their own")
    return PlanItem(cs, direction, ops, tuple(steps), transactional, checksum(cs))


def plan_apply(history: History, ids: Sequence[str], applied: Collection[str],
               renderer: Renderer) -> Plan:
    """Render the changesets `ids` (in order) on top of the `applied` ones."""
    state = history.replay(applied)
    items = []
    for cid in ids:
        cs = history.graph[cid]
        steps, state = _render(renderer, cs, cs.operations, state, "apply")
        items.append(_item(renderer, cs, "apply", cs.operations, steps))
    return Plan("apply", tuple(items), renderer.name)


def plan_rollback(history: History, ids: Sequence[str], applied: Collection[str],
                  renderer: Renderer) -> Plan:
    """Render the reversal of `ids` (newest first) from the state the `applied` ones build."""
    g = history.graph
    wanted = set(ids)
    before: dict[str, SchemaState] = {}
    state = SchemaState()
    for cid in g.ordered(applied):
        if cid in wanted:
            before[cid] = state
        for op in g[cid].operations:
            state = apply(state, op)
    items = []
    for cid in ids:
        cs = g[cid]
        if cs.rollback is not None:
            ops = cs.rollback
        else:
            try:
                ops = reverse_changeset(cs.operations, before[cid])
            except Irreversible as exc:
                raise UsageError(
                    f"changeset {cs.id} ({cs.path}) cannot be rolled back: {exc.message}",
                    hint="give it a `rollback:` list, or stamp past it if you reverted it "
                         "by hand") from None
        steps, state = _render(renderer, cs, ops, state, "rollback")
        items.append(_item(renderer, cs, "rollback", ops, steps))
    return Plan("rollback", tuple(items), renderer.name)


# --- online ----------------------------------------------------------------------------------


class _Runner:
    """Runs steps on one connection. DDL and raw SQL go to the driver's cursor as text,
    compiled like the offline script and passed without parameters (so a `%` in raw SQL is
    a percent sign on every driver, and no per-statement SQLAlchemy work is paid); statements
    with values (insert_rows) go through SQLAlchemy with bound parameters."""

    def __init__(self, conn: Connection, *, serialised: bool) -> None:
        self.conn = conn
        self.dialect = literal_dialect(conn.dialect)
        self.errors: tuple[type[BaseException], ...] = (
            sa.exc.SQLAlchemyError, conn.dialect.loaded_dbapi.Error)
        # With the run's lock held (PostgreSQL, MySQL) no other run can write version rows
        # meanwhile: they are read once, not re-read for every changeset.
        self.serialised = serialised
        self.next_order: int | None = None
        self.data_version: object = None
        self.applied: set[str] | None = None
        self._rows: db.VersionRows | None = None

    def version_rows(self, vt: sa.Table) -> db.VersionRows:
        """The run's version-row statements (compiled on first use)."""
        if self._rows is None:
            self._rows = db.VersionRows(self.conn, vt)
        return self._rows

    def state(self, vt: sa.Table, item: PlanItem) -> tuple[bool, int]:
        """Whether a concurrent run did `item` already, and the next exec_order.

        Under a run-wide lock (PostgreSQL, MySQL) nobody else writes: the order is read once.
        On SQLite each item's BEGIN IMMEDIATE is the lock, and the version table is read
        again in that transaction, unless PRAGMA data_version shows that no other
        connection has committed anything since this one last read it."""
        if self.serialised:
            if self.next_order is None:
                self.next_order = db.next_order(self.conn, vt)
        else:
            version = self._data_version()
            if version is None or version != self.data_version or self.applied is None:
                self.applied, self.next_order = db.applied_ids(self.conn, vt)
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
        if self.conn.dialect.name != "sqlite":
            return None
        with db.driver_cursor(self.conn) as cursor:
            return cursor.execute("PRAGMA data_version").fetchone()[0]

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
        with db.driver_cursor(self.conn) as cursor:
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


def _record(runner: _Runner, vt: sa.Table, item: PlanItem, ms: int, order: int) -> None:
    cs = item.changeset
    rows = runner.version_rows(vt)
    if item.direction == "apply":
        rows.insert(cid=cs.id, checksum=item.checksum, message=cs.message, execution_ms=ms,
                    version=__version__, order=order)
    else:
        # A squashed changeset stands for the rows of the changesets it replaces.
        rows.delete((cs.id, *cs.replaces))


def run_item(conn: Connection, vt: sa.Table, item: PlanItem,
             runner: _Runner | None = None) -> ItemResult:
    """Run one changeset: its statements and its version row in one transaction if possible."""
    runner = runner or _Runner(conn, serialised=False)
    cs = item.changeset
    ran: list[str] = []
    start = time.perf_counter()
    current: Step | None = None
    try:
        if item.transactional:
            with conn.begin():
                done, order = runner.state(vt, item)
                if done:
                    return ItemResult(cs.id, cs.message, item.direction, 0, 0, skipped=True)
                # (Nothing is listed as "ran" here: on failure the transaction undoes it all.)
                for current in item.steps:
                    runner.execute(current)
                current = None
                _record(runner, vt, item, int((time.perf_counter() - start) * 1000), order)
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
                _record(runner, vt, item, int((time.perf_counter() - start) * 1000),
                        runner.state(vt, item)[1])
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
            changeset=cs.id, statement=statement, db_message=db.db_message(exc),
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


def run(conn: Connection, vt: sa.Table, plan: Plan,
        on_item: Callable[[ItemResult], None] | None = None, *,
        serialised: bool = False) -> list[ItemResult]:
    """Run every item of a plan in order; stops at the first failure (ChangesetFailed).
    `serialised`: the caller holds the run-wide lock, so no other run writes meanwhile."""
    results = []
    runner = _Runner(conn, serialised=serialised)
    for item in plan.items:
        result = run_item(conn, vt, item, runner)
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
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
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
            record: Any = vt.insert().values(
                id=cs.id, checksum=item.checksum, message=cs.message, applied_at=now,
                execution_ms=0, applied_by="schemaflow --sql", schemaflow_version=__version__,
                exec_order=order)
        else:
            record = vt.delete().where(vt.c.id.in_((cs.id, *cs.replaces)))
        out.append(compile_step(Step(record), dialect) + ";")
        if item.transactional and renderer.transactional_ddl:
            out.append("COMMIT;")
        out.append("")
    return "\n".join(out)
