"""What the history check keeps besides its findings: the schema after each changeset while a
later one still needs it (a merge's other branches applied on top of its first parent's), the
heads' schemas it leaves in the memo for apply, and where a finding is in its file."""

from __future__ import annotations

from collections.abc import Callable

from .errors import CODES, Diagnostic, StateError
from .history import History, position
from .state import SchemaState, apply


def diag(history: History, cid: str, path: tuple[object, ...], code: str, message: str,
         hint: str | None = None) -> Diagnostic:
    """A diagnostic at a path inside changeset `cid`, with the code's registered severity."""
    file, line, col = position(history, cid, path)
    return Diagnostic(code=code, severity=CODES[code].severity, message=message, hint=hint,
                      file=file, line=line, col=col, changeset=cid)


class States:
    """States after each changeset, kept only while a later changeset still needs them."""

    def __init__(self, history: History,
                 fallback: Callable[[str], SchemaState] | None = None) -> None:
        self.history = history
        self.fallback = fallback
        g = history.graph
        self.after: dict[str, SchemaState] = {}
        # The schemas before (after its one parent) and after each head checked.
        self.heads: dict[str, tuple[SchemaState | None, SchemaState]] = {}
        self.waiting = {cid: 0 for cid in g.order}
        for parents in g.all_parents.values():
            for p in parents:
                self.waiting[p] += 1

    def before(self, cid: str, diags: list[Diagnostic]) -> SchemaState:
        g = self.history.graph
        parents = g[cid].all_parents
        if not parents:
            return SchemaState()
        first = parents[0]
        if first in self.after or self.fallback is None:
            state = self.after[first]
        else:  # a parent whose check was skipped: its schema from elsewhere
            state = self.fallback(first)
        if len(parents) > 1:
            # A merge: add what the other parents bring, in history order.
            extra = g.ancestors(parents[1:]) - g.ancestors([parents[0]])
            for other in g.ordered(extra):
                for i, op in enumerate(g[other].operations):
                    try:
                        state = apply(state, op)
                    except StateError as exc:
                        diags.append(diag(
                            self.history, cid, ("parents",), "SF013",
                            f"the merged branches conflict: {other} operation {i + 1} "
                            f"({op.kind}): {exc.message}"))
        self.release(cid)
        return state

    def release(self, cid: str) -> None:
        """`cid` no longer needs its parents' schemas (each is dropped when no other does)."""
        for p in self.history.graph.all_parents[cid]:
            self.waiting[p] -= 1
            if self.waiting[p] == 0:
                self.after.pop(p, None)


def head_keys(history: History,
               heads: dict[str, tuple[SchemaState | None, SchemaState]]
               ) -> list[tuple[str, SchemaState]]:
    """The schema after each head checked in this run, and before it when it has one parent,
    each with its key in the memo."""
    from .memo import check_order, sequence_keys

    g = history.graph
    out = []
    for cid, (before, after) in heads.items():
        order = check_order(g, cid)
        # The last two prefixes' keys alone (not each of 10,000 prefixes').
        upto = sequence_keys(g, order[:-1])
        last = upto.then(g, order[-1:]).last
        assert last is not None
        out.append((last, after))
        if before is not None and upto.last is not None:
            out.append((upto.last, before))
    return out


def remember_heads(history: History,
                    heads: dict[str, tuple[SchemaState | None, SchemaState]]) -> None:
    """Remember the schema after each head checked in this run, and before it when it has
    one parent (with no error anywhere, they are what a replay gives): an apply of the head,
    or of a changeset on it, starts from there."""
    for key, state in head_keys(history, heads):
        history.memo.put_state(key, state)


def head_files(history: History, heads: dict[str, tuple[SchemaState | None, SchemaState]]
               ) -> list[tuple[str, str]]:
    """What `remember_heads` writes, as (key, file text): built where the states are."""
    from .statefile import Encoded, state_file

    encoded: Encoded = {}
    return [(key, state_file(key, state, encoded)) for key, state in head_keys(history, heads)]
