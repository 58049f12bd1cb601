"""Plans: the changesets to run in one direction, each rendered to its statements on the
schema it meets (replayed from the history), with its transaction mode decided."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from . import ir
from .dialects.render import Renderer, Step
from .dialects.tables import TypeError_
from .errors import StateError, UsageError
from .graph import replay
from .history import History
from .ir import checksum
from .reverse import Irreversible, reverse_changeset
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
    state, before = replay(g, applied, keep=set(ids))
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
                    f"changeset {cs.id} ({cs.path}) is forward-only, it cannot be rolled "
                    f"back: {exc.message}; nothing was rolled back",
                    hint="give it a `rollback:` list, or stamp past it if you reverted it "
                         "by hand") from None
        steps, state = _render(renderer, cs, ops, state, "rollback")
        items.append(_item(renderer, cs, "rollback", ops, steps))
    return Plan("rollback", tuple(items), renderer.name)
