"""A database's CHECK constraints in the words of the schema they are compared with. What a
database gives back keeps no `dialects` scope (nor does a baseline read from it), and is in
the database's own words (PostgreSQL's `x = ANY (ARRAY[...])` for `x IN (...)`): where the
two mean the same on that database, they are one check there."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .. import ir
    from ..state import Table
    from .base import Dialect


def checks_matched(dialect: Dialect, have: Table, want: Table) -> Table:
    """`have` with each CHECK that `want` has too written as `want` writes it (its
    expression and `dialects`; the name `have`'s): one of the same name, or one `want` left
    unnamed (named after its expression) that `have` holds under another name, where it
    exists on `dialect` (`want`'s scope holds there, and `have`'s is none or the same) and
    means the same there (`dialect.check_key`)."""
    from ..state import ck_name

    wanted = {c.name or "": c for c in want.checks}
    named = {c.name or "" for c in have.checks}
    unnamed = [c for c in want.checks if c.name not in named
               and c.name == ck_name(want.name, c.expression)]

    def alike(c: ir.CheckDef, w: ir.CheckDef) -> bool:
        same_scope = c.dialects is None or set(c.dialects) == set(w.dialects or ())
        return same_scope and dialect.holds(w.dialects) and (
            dialect.check_key(c.expression) == dialect.check_key(w.expression))

    checks = []
    for c in have.checks:
        w = wanted.get(c.name or "")
        if w is None:
            w = next((u for u in unnamed if alike(c, u)), None)
            if w is not None:
                unnamed.remove(w)
        elif not alike(c, w):
            w = None
        checks.append(c if w is None else replace(c, expression=w.expression,
                                                  dialects=w.dialects))
    if checks == list(have.checks):
        return have
    return replace(have, checks=tuple(checks))


def checks_elsewhere(dialect: Dialect, have: Table, want: Table) -> Table:
    """`have` (read from `dialect`'s database) with `want`'s CHECKs that exist on other
    databases only (a boolean's where there is no native one): none can be read here, and a
    baseline with them builds elsewhere what `want` does. Each on columns `have` has, under
    a name it does not use."""
    from ..state import mentions

    names = {c.name for c in have.checks}
    columns = {c.name for c in have.columns}
    more = tuple(c for c in want.checks if not dialect.holds(c.dialects)
                 and c.name not in names and all(
                     x.name in columns for x in want.columns if mentions(c.expression, x.name)))
    return replace(have, checks=have.checks + more) if more else have
