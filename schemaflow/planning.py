"""Plans: the changesets to run in one direction, each rendered to its statements on the
schema it meets (replayed from the history), with its transaction mode decided."""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING

from . import ir
from .cache import checksum
from .errors import StateError, UsageError
from .history import History
from .plans import Direction, Plan, PlanItem, Step
from .reverse import Irreversible, reverse_changeset
from .state import SchemaState, apply

if TYPE_CHECKING:
    from .dialects.render import Renderer

class Schema:
    """The schema a plan renders on, operation after operation, and whether it is known
    to have no column with type variants (then no renderer looks through every column of it
    for them: once per plan, not once per operation)."""

    def __init__(self, state: SchemaState) -> None:
        from .dialects.columns import has_variants

        self.state = state
        # A remembered schema (its tables decoded on first use) is not looked through: the
        # renderer converts only the tables an operation reads.
        self.plain = state.tables.loader is None and not has_variants(state)

    def apply(self, op: ir.Operation) -> None:
        from .dialects.columns import brings_variants

        self.state = apply(self.state, op)
        self.plain = self.plain and not brings_variants(op)


def _render(renderer: Renderer, cs: ir.Changeset, ops: Sequence[ir.Operation],
            schema: Schema, direction: Direction) -> list[Step]:
    # SQLAlchemy only here: a plan with nothing to render (a no-op apply) never imports it.
    import sqlalchemy as sa

    from .dialects.tables import TypeError_

    steps: list[Step] = []
    for i, op in enumerate(ops):
        try:
            steps += renderer.render(op, schema.state, plain=schema.plain)
            schema.apply(op)
        except (StateError, TypeError_, UsageError, sa.exc.IdentifierError) as exc:
            where = "rollback" if direction == "rollback" else "operation"
            raise UsageError(
                f"changeset {cs.id} ({cs.path}): {where} {i + 1} ({op.kind}) cannot be "
                f"rendered for {renderer.name}: {getattr(exc, 'message', exc)}",
                hint=f"run schemaflow validate --dialect {renderer.name}") from None
    return steps


# What a plan does to each statement once its changeset is rendered (given whether the
# changeset runs in one transaction): see `dialects.prepared.precompiled`.
Finish = Callable[["Step", bool], "Step"]


def _item(renderer: Renderer, cs: ir.Changeset, direction: Direction,
          ops: tuple[ir.Operation, ...], steps: list[Step], checksum_: str,
          finish: Finish | None) -> PlanItem:
    from .dialects.render import commits_with_transaction

    # One transaction with the version row when every statement commits with it: always
    # where DDL is transactional, on MySQL/MariaDB a changeset of data statements only.
    # Any other changeset runs under the journal (see journal.py).
    atomic = all(commits_with_transaction(s, renderer.transactional_ddl) for s in steps)
    transactional = atomic and cs.transactional is not False
    if cs.transactional is not False and renderer.transactional_ddl and not atomic:
        raise UsageError(
            f"changeset {cs.id} ({cs.path}) has a statement that cannot run inside a "
            "transaction (CREATE INDEX CONCURRENTLY)",
            hint="set `transactional: false` on the changeset, and keep such statements in a "
                 "changeset of their own")
    if finish is not None:  # (after the transaction mode is decided on the statements)
        import sqlalchemy as sa

        try:
            steps = [finish(s, transactional) for s in steps]
        except sa.exc.CompileError as exc:  # before anything of it runs
            raise UsageError(f"changeset {cs.id} ({cs.path}) cannot be written as SQL for "
                             f"{renderer.name}: {exc}",
                             hint=f"run schemaflow validate --dialect {renderer.name}") from None
        ops = ()
    return PlanItem(cs, direction, ops, tuple(steps), transactional, checksum_)


class _Tidy:
    """The garbage of rendering collected as a plan goes: every statement's SQLAlchemy
    objects (tables, columns, constraints: cycles, freed only by the cycle collector) are
    dead once their changeset is compiled, but the interpreter collects the oldest
    generation seldom, so on a long plan they pile up to tens of megabytes. Every `EVERY`
    changesets a full collection runs, with what existed before it frozen (not looked
    through): what survives a collection (the plan so far, the schema) is frozen after it,
    so that each collection costs what the plan made since the last one, not everything it
    made (which grew with the plan: 20 collections cost 0.2 s on 1,000 changesets).
    Everything is unfrozen after. A process that froze objects itself (an API caller using
    `gc.freeze`) keeps them frozen: then nothing is frozen or unfrozen here, and each
    collection looks through everything the plan made."""

    EVERY = 50

    def __init__(self) -> None:
        self.count = 0
        self.froze = False

    def __enter__(self) -> _Tidy:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            self.froze = True
        return self

    def tick(self) -> None:
        self.count += 1
        if self.count % self.EVERY == 0:
            gc.collect()
            if self.froze:
                gc.freeze()

    def __exit__(self, *exc: object) -> None:
        if self.froze:
            gc.unfreeze()


def apply_item(renderer: Renderer, cs: ir.Changeset, ops: tuple[ir.Operation, ...],
               schema: Schema, checksum_: str, finish: Finish | None) -> PlanItem:
    """The plan item that applies `cs` (its operations `ops`, as its file holds them) on
    `schema`, which it then leaves as `cs` builds it."""
    return _item(renderer, cs, "apply", ops, _render(renderer, cs, ops, schema, "apply"),
                 checksum_, finish)


def plan_apply(history: History, ids: Sequence[str], applied: Collection[str],
               renderer: Renderer, finish: Finish | None = None) -> Plan:
    """Render the changesets `ids` (in order) on top of the `applied` ones: each as its file
    holds it (`History.from_file`), operations and checksum alike; the schema they start
    from is the remembered replay of the applied ones (see `memo`). `finish`: applied to
    each statement once its changeset is rendered (a run compiles them there, so that a
    plan of many changesets keeps SQL text, not a construct per statement)."""
    return Plan("apply", tuple(iter_apply(history, ids, applied, renderer, finish)),
                renderer.name)


def iter_apply(history: History, ids: Sequence[str], applied: Collection[str],
               renderer: Renderer, finish: Finish | None = None, *,
               remember_start: bool = True, remember_end: bool = True,
               stored: bool = True) -> Iterator[PlanItem]:
    """`plan_apply`'s items, each as soon as it is rendered. The schemas it starts from and
    ends on are remembered (see `memo`), each unless told not to: for a part of a plan,
    the schema between the parts is one no run starts from. Not `stored`: the schema it
    starts from is replayed from the changesets, not taken from the memo."""
    g = history.graph
    start = history.memo.replay(g, g.ordered(applied), remember=remember_start,
                                stored=stored)
    if not ids:
        return
    schema = Schema(start.state)
    with _Tidy() as tidy:
        for cid in ids:
            cs, written = g[cid], history.from_file(cid, keep=False)
            yield apply_item(renderer, cs, written.operations, schema, checksum(written),
                             finish)
            tidy.tick()
    if remember_end:  # what the next run plans on, once these ran
        history.memo.put_state(start.keys.then(g, ids).keys[-1], schema.state)


def plan_rollback(history: History, ids: Sequence[str], applied: Collection[str],
                  renderer: Renderer, finish: Finish | None = None) -> Plan:
    """Render the reversal of `ids` (newest first) from the state the `applied` ones build,
    each changeset as its file holds it (`finish`: as for `plan_apply`)."""
    return Plan("rollback", tuple(iter_rollback(history, ids, applied, renderer, finish)),
                renderer.name)


def iter_rollback(history: History, ids: Sequence[str], applied: Collection[str],
                  renderer: Renderer, finish: Finish | None = None, *,
                  remember_start: bool = True, remember_end: bool = True,
                  stored: bool = True) -> Iterator[PlanItem]:
    """`plan_rollback`'s items, each as soon as it is rendered (`remember_start`, `stored`:
    as for `iter_apply`; a rollback remembers no schema it ends on)."""
    del remember_end
    g = history.graph
    state, before, _ = history.memo.replay(g, g.ordered(applied), keep=ids,
                                           remember=remember_start, stored=stored)
    if not ids:
        return
    schema = Schema(state)
    with _Tidy() as tidy:
        for cid in ids:
            # (each schema let go of once used: a rollback of many keeps none of them)
            yield _reversal(history, renderer, cid, before.pop(cid, None), schema, finish)
            tidy.tick()


def _reversal(history: History, renderer: Renderer, cid: str, before: SchemaState | None,
              schema: Schema, finish: Finish | None) -> PlanItem:
    """The plan item that rolls back `cid`, whose schema before it was `before`."""
    cs, written = history.graph[cid], history.from_file(cid, keep=False)
    if written.rollback is not None:
        ops = written.rollback
    else:
        assert before is not None
        try:
            ops = reverse_changeset(written.operations, before)
        except Irreversible as exc:
            raise UsageError(
                f"changeset {cs.id} ({cs.path}) is forward-only, it cannot be rolled "
                f"back: {exc.message}; nothing was rolled back",
                hint="give it a `rollback:` list, or stamp past it if you reverted it "
                     "by hand") from None
    steps = _render(renderer, cs, ops, schema, "rollback")
    return _item(renderer, cs, "rollback", ops, steps, checksum(written), finish)
