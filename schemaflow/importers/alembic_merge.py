"""One list of operations from an Alembic revision's runs, one per database: the steps every
database took alike as they are, the others as SQL scoped to their databases, each database's
statements in their order (`merge`), and the same scoped SQL of several databases written
once for all of them (`grouped`)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any

from .. import ir
from ..ir.parts import Dialect as SqlDialect

Scope = tuple[SqlDialect, ...]


@dataclass(frozen=True)
class Item:
    """One step of a run, translated: its operations, Alembic's SQL for it on this database,
    and why a hand must look at it (None: translated faithfully); `as_sql`: the operations
    are that SQL, for want of a translation."""

    ops: tuple[ir.Operation, ...]
    sql: str
    finding: str | None = None
    as_sql: bool = False

    @property
    def key(self) -> str:
        return repr(self.ops)


def merge(lists: list[tuple[Scope, list[Item]]], scoped: Any) -> list[ir.Operation]:
    """One list from one per database: items every database has stay as they are, the
    others are scoped to their database, in order."""
    base = lists[0][1]
    keys = [[it.key for it in items] for _, items in lists]
    if all(k == keys[0] for k in keys):
        return [op for it in base for op in it.ops]
    matched = []
    for other in keys[1:]:
        sm = difflib.SequenceMatcher(None, keys[0], other, autojunk=False)
        matched.append({b.a + n: b.b + n for b in sm.get_matching_blocks() for n in range(b.size)})
    out: list[ir.Operation] = []
    pos = [0] * len(lists)

    def upto(k: int, end: int) -> None:
        scope, items = lists[k]
        for it in items[pos[k]:end]:
            out.extend(scoped(it, scope))
        pos[k] = max(pos[k], end)

    for i in range(len(base)):
        if not all(i in m for m in matched):
            continue
        upto(0, i)
        for k, m in enumerate(matched, 1):
            upto(k, m[i])
        out.extend(base[i].ops)
        pos[0] = i + 1
        for k, m in enumerate(matched, 1):
            pos[k] = m[i] + 1
    for k, (_, items) in enumerate(lists):
        upto(k, len(items))
    return grouped(out)


def grouped(ops: list[ir.Operation]) -> list[ir.Operation]:
    """Scoped `sql` that is the same on several databases, once with all of them: moved back
    to an earlier one only over statements of other databases (each database's statements
    keep their order: a foreign key after the table it points at)."""
    out: list[ir.Operation] = []
    for op in ops:
        if not (isinstance(op, ir.Sql) and op.dialects):
            out.append(op)
            continue
        i = len(out) - 1
        while i >= 0:
            prev = out[i]
            if not (isinstance(prev, ir.Sql) and prev.dialects):
                out.append(op)
                break
            if set(prev.dialects) & set(op.dialects):  # (one database's, run twice: kept)
                out.append(op)
                break
            if (prev.up, prev.down) == (op.up, op.down):
                out[i] = replace(prev, dialects=tuple(sorted({*prev.dialects, *op.dialects})))
                break
            i -= 1
        else:
            out.append(op)
    return out
