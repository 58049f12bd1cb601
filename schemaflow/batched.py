"""A changeset that runs in one transaction, sent in two calls where the driver takes several
statements in one (`dialects.batch`): its statements and the version-table check together,
then its version row with the COMMIT. Statement by statement, the same changeset costs a
round trip per statement plus four (BEGIN, the check, the row, COMMIT) on a server, and on
SQLite SQLAlchemy's work around each statement and transaction.

The statements are those of the plan, compiled by schemaflow (a changeset with raw SQL of its
own, or one the plan left uncompiled, runs statement by statement). When the batch fails, its
transaction is rolled back and the changeset runs again statement by statement in a new one,
which reports the failing statement exactly as a run without batches would: nothing of the
failed attempt remains (PostgreSQL's and SQLite's DDL is transactional), and a statement
schemaflow renders has no effect outside its transaction. A lost connection is reported as it
is (the changeset is not run again): before the COMMIT was sent nothing of it remains, after
it whether it committed is unknown."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import TYPE_CHECKING

from .interrupt import Stop
from .outcome import Conflict, Progress, failed, interrupted
from .plans import Bound

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .dialects.batch import BatchDriver, Statement
    from .execute import _Runner
    from .plans import PlanItem, Step
    from .runner import ItemResult, Runner

def batch_for(database: Dialect, runner: _Runner) -> BatchDriver | None:
    """The run's batching driver, where its connection and driver allow batches."""
    from .dialects.connect import joined

    if not database.transactional_ddl or not database.run_lock or joined(runner.conn):
        return None
    from .dialects.batch import batch_driver

    return batch_driver(runner.conn)


def eligible(runner: Runner, item: PlanItem) -> bool:
    """Whether `item` can be sent as a batch on this run's connection."""
    return (runner.batch is not None and item.transactional
            and all(s.compiled or isinstance(s.sql, Bound) for s in item.steps)
            and not runner.in_transaction() and runner.batch.idle())


def _statement(step: Step) -> Statement:
    if isinstance(step.sql, Bound):
        return step.sql.sql, step.sql.params
    return str(step.sql), None


def run_batched(runner: Runner, item: PlanItem) -> ItemResult | None:
    """Run `item` as a batch; None when a statement failed (rolled back: run it statement
    by statement to find out which and why). Conflict, Stop and a lost connection as
    `execute.run_item` reports them."""
    from .runner import ItemResult

    batch = runner.batch
    assert batch is not None
    cs = item.changeset
    applying = item.direction == "apply"
    others, rows = runner.checked(item)
    progress = Progress(batched=True)
    next_order = runner.next_order  # (a failed batch writes no row: its order is not used)
    start = time.perf_counter()
    order = runner.order(item) if applying else 0
    runner.end_read()  # (where that read the version table: under the run-wide lock)
    outcome: BaseException | None = None
    batch.begin()
    try:
        statements = [(batch.opening, None), *(_statement(s) for s in item.steps),
                      runner.writer.present_sql(rows)]

        def between(i: int) -> None:  # (a driver that runs them one at a time: SQLite's)
            progress.count = i - 1  # (statement 0 is the opening)
            runner.watch.check()

        progress.running = True
        with runner.watch.statement():
            present = {r[0] for r in batch.send(statements, between)}
        progress.running = False
        progress.count = len(item.steps)
        runner.judge(item, others, present)
        ms = int((time.perf_counter() - start) * 1000)
        row = (runner.writer.insert_sql(cid=cs.id, checksum=item.checksum,
                                        message=cs.message, execution_ms=ms,
                                        order=order) if applying
               else runner.writer.delete_sql((cs.id, *cs.replaces)))
        progress.recording = progress.committing = True
        with runner.watch.statement():
            batch.send([row, ("COMMIT", None)])
    except (Conflict, Stop) as exc:
        outcome = exc
    except runner.errors as exc:
        outcome = exc
    lost = isinstance(outcome, runner.errors) and runner.lost(outcome)
    if lost or not batch.settle():
        with suppress(*runner.errors):
            runner.invalidate()
        raise failed(item, progress, lost=True, statement="COMMIT" if progress.committing
                     else None, db_message=_message(outcome)) from None
    if outcome is None:
        return ItemResult(cs.id, cs.message, item.direction, ms, len(item.steps))
    runner.next_order = next_order
    if isinstance(outcome, Stop):
        raise interrupted(item, progress, outcome) from None
    if isinstance(outcome, Conflict):
        raise outcome
    return None


def _message(exc: BaseException | None) -> str:
    from .dialects.base import db_message

    return db_message(exc) if exc is not None else "the connection could not be reset"
