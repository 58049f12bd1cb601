"""CHECK constraints compared, for `diff`: by name, their expressions too where both sides
were written alike, and one left unnamed by meaning."""

from __future__ import annotations

from collections.abc import Callable

from . import ir
from .state import Table, ck_name


def changed_checks(old: Table, new: Table, *, key: Callable[[str], str],
                   exact: Callable[[str], str | None] | None = None
                   ) -> tuple[list[str], list[ir.CheckDef]]:
    """The names of `old`'s checks to drop and `new`'s checks to create.

    By name; with `exact` (for two sides written in the same SQL: changesets and models),
    a CHECK whose expression `exact` reads differently, or whose `dialects` differ, under
    the same name is dropped and created again (a database rewrites a CHECK in its own
    words: `x IN (...)` comes back from PostgreSQL as `x = ANY (ARRAY[...])`, and keeps no
    scope). A check left unnamed, which schemaflow names after its expression, is matched by
    meaning (`key`) to one the other side has under another name: a server names an unnamed
    CHECK itself (`t_x_check`, `CONSTRAINT_1`)."""
    old_c = {c.name or "": c for c in old.checks}
    new_c = {c.name or "": c for c in new.checks}
    changed = {n for n, c in new_c.items() if n in old_c and exact is not None and (
        _scope(c) != _scope(old_c[n]) or exact(old_c[n].expression) != exact(c.expression))}
    gone = [n for n in old_c if n not in new_c]
    came = [n for n in new_c if n not in old_c]
    for n in list(came):
        twin = next((o for o in gone if _same(new.name, old_c[o], new_c[n], key, exact)),
                    None)
        if twin is not None:
            gone.remove(twin)
            came.remove(n)
    return ([n for n in old_c if n in gone or n in changed],
            [c for n, c in new_c.items() if n in came or n in changed])


def _same(table: str, a: ir.CheckDef, b: ir.CheckDef, key: Callable[[str], str],
          exact: Callable[[str], str | None] | None) -> bool:
    unnamed = any(c.name == ck_name(table, c.expression) for c in (a, b))
    return unnamed and (exact is None or _scope(a) == _scope(b)) and (
        key(a.expression) == key(b.expression))


def _scope(c: ir.CheckDef) -> frozenset[str] | None:
    return frozenset(c.dialects) if c.dialects is not None else None
