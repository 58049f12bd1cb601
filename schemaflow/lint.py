"""Checks over the replayed history: references, rollbacks, merges; each with a stable code."""

from __future__ import annotations

from dataclasses import replace

from .errors import Diagnostic, StateError
from .history import History, position
from .reverse import Irreversible, reverse_changeset
from .state import SchemaState, apply


def _diag(history: History, cid: str, path: tuple[object, ...], code: str, message: str,
          hint: str | None = None) -> Diagnostic:
    file, line, col = position(history, cid, path)
    return Diagnostic(code=code, message=message, hint=hint, file=file, line=line, col=col,
                      changeset=cid)


class _States:
    """States after each changeset, kept only while a later changeset still needs them."""

    def __init__(self, history: History) -> None:
        self.history = history
        g = history.graph
        self.after: dict[str, SchemaState] = {}
        self.waiting = {cid: 0 for cid in g.order}
        for cid in g.order:
            for p in g[cid].all_parents:
                self.waiting[p] += 1

    def before(self, cid: str, diags: list[Diagnostic]) -> SchemaState:
        g = self.history.graph
        parents = g[cid].all_parents
        if not parents:
            return SchemaState()
        state = self.after[parents[0]]
        if len(parents) > 1:
            # A merge: add what the other parents bring, in history order.
            extra = g.ancestors(parents[1:]) - g.ancestors([parents[0]])
            for other in g.ordered(extra):
                for i, op in enumerate(g[other].operations):
                    try:
                        state = apply(state, op)
                    except StateError as exc:
                        diags.append(_diag(
                            self.history, cid, ("parents",), "SF013",
                            f"the merged branches conflict: {other} operation {i + 1} "
                            f"({op.kind}): {exc.message}"))
        for p in parents:
            self.waiting[p] -= 1
            if self.waiting[p] == 0:
                del self.after[p]
        return state


def check(history: History) -> list[Diagnostic]:
    """Every reference and rollback problem in the history, in history order."""
    diags: list[Diagnostic] = []
    states = _States(history)
    g = history.graph
    for cid in g.order:
        cs = g[cid]
        before = states.before(cid, diags)
        state = before
        failed = False
        for i, op in enumerate(cs.operations):
            try:
                state = apply(state, op)
            except StateError as exc:
                failed = True
                diags.append(_diag(history, cid, ("operations", i, op.kind), exc.code,
                                   f"{op.kind}: {exc.message}", exc.hint))
        if not cs.operations and len(cs.parents) < 2:
            diags.append(replace(_diag(history, cid, ("operations",), "SF014",
                                       "the changeset has no operations yet"),
                                 severity="warning"))
        if cs.rollback is not None:
            rolled = state
            for i, op in enumerate(cs.rollback):
                try:
                    rolled = apply(rolled, op)
                except StateError as exc:
                    diags.append(_diag(history, cid, ("rollback", i, op.kind), exc.code,
                                       f"rollback {op.kind}: {exc.message}", exc.hint))
        elif not failed:
            try:
                reverse_changeset(cs.operations, before)
            except Irreversible as exc:
                idx = exc.index or 0
                diags.append(_diag(
                    history, cid, ("operations", idx, cs.operations[idx].kind), "SF201",
                    f"the changeset cannot be rolled back: {exc.message}",
                    "add `down:` to the sql operation, or a `rollback:` list to the changeset"))
        if g.dependents[cid]:
            states.after[cid] = state
    return diags
