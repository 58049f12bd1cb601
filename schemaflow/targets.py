"""Targets and ranges against what is applied, and the one replay: what `apply`, `rollback`,
`history -r` and `squash` ask of the graph (`graph` names them all too)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    from .graph import Graph
    from .state import SchemaState


@dataclass(frozen=True, slots=True)
class Relative:
    """A `+N` / `-N` target, resolved against what is applied."""

    steps: int



def target_ids(g: Graph, target: str) -> list[str]:
    """The ids a target names; a relative target (+N/-N) is a UsageError here."""
    resolved = g.resolve(target)
    if isinstance(resolved, Relative):
        raise UsageError(f"a relative target ({target}) is not allowed here")
    return resolved


def apply_ids(g: Graph, target: str | None, applied: set[str]) -> list[str]:
    """The changesets `apply TARGET` runs (default: every head), in order."""
    resolved = g.resolve(target or "heads")
    if isinstance(resolved, Relative):
        if resolved.steps < 0:
            raise UsageError(f"apply cannot go back ({target})",
                             hint=f"use: schemaflow rollback {target}")
        plan = g.upgrade_plan(g.heads, applied)
        if resolved.steps > len(plan):
            raise UsageError(f"cannot apply {resolved.steps} changesets: only {len(plan)} "
                             f"{'is' if len(plan) == 1 else 'are'} pending",
                             hint="schemaflow status lists them")
        return plan[: resolved.steps]
    return g.upgrade_plan(resolved, applied)


def rollback_ids(g: Graph, target: str, applied_in_order: Sequence[str]) -> list[str]:
    """The changesets `rollback TARGET` reverses, newest first. `-N` undoes the last N
    applied (in the order they were applied), plus anything applied on top of them."""
    applied = set(applied_in_order)
    resolved = g.resolve(target)
    if not isinstance(resolved, Relative):
        return g.downgrade_plan(resolved, applied)
    if resolved.steps > 0:
        raise UsageError(f"rollback cannot go forward ({target})",
                         hint=f"use: schemaflow apply {target}")
    steps = -resolved.steps
    if steps > len(applied_in_order):
        raise UsageError(f"cannot roll back {steps} changesets: only "
                         f"{len(applied_in_order)} are applied")
    chosen = list(reversed(applied_in_order))[:steps]
    extra = {d for c in chosen for d in g.descendants(c) if d in applied}
    return list(reversed(g.ordered(set(chosen) | extra)))


def within(g: Graph, rng: str) -> list[str]:
    """The ids of a `START:END` range (either side may be empty), newest first."""
    start, sep, end = rng.partition(":")
    if not sep:
        raise UsageError(f"bad range '{rng}'", hint="use START:END, START: or :END")
    def side(text: str) -> list[str]:  # `-3:` as in Alembic: from three below the head
        text = text.strip()
        return target_ids(g, f"head{text}" if re.fullmatch(r"-\d+", text) else text)

    upper = set(g.ancestors(side(end))) if end else set(g.order)
    if start:
        lower_ids = side(start)
        upper &= set(lower_ids).union(*(g.descendants(i) for i in lower_ids))
    return [i for i in reversed(g.order) if i in upper]


def straight_span(g: Graph, start: str, end: str) -> list[str]:
    """The changesets from START to END (in order) when they form a straight line that
    nothing outside builds on from the middle; else a UsageError saying why."""
    first, last = g.resolve_id(start), g.resolve_id(end)
    span = [c for c in g.order if c in (g.ancestors([last]) & ({first} | g.descendants(first)))]
    if first not in span:
        raise UsageError(f"{end} does not come after {start}")
    inside = set(span)
    for cid in span:
        cs = g[cid]
        if cid != first and (len(cs.all_parents) != 1 or cs.all_parents[0] not in inside):
            raise UsageError(f"changeset {cid} has parents outside {start}..{end}: only a "
                             "straight line of changesets can be squashed")
        outside = [d for d in g.dependents[cid] if d not in inside]
        if cid != last and outside:
            raise UsageError(f"changeset {outside[0]} builds on {cid} from outside the range")
    return span


def replay(g: Graph, ids: Iterable[str], *,
           keep: Collection[str] = ()) -> tuple[SchemaState, dict[str, SchemaState]]:
    """The schema after applying `ids` (in graph order) to an empty database, and the
    schema just before each changeset in `keep`."""
    from .state import SchemaState, apply  # not imported by commands that only list

    state = SchemaState()
    before: dict[str, SchemaState] = {}
    for cid in g.ordered(ids):
        if cid in keep:
            before[cid] = state
        for op in g[cid].operations:
            state = apply(state, op)
    return state, before
