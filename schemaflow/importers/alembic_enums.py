"""PostgreSQL enum types that Alembic revisions make and drop by hand (`op.execute("CREATE
TYPE ... AS ENUM ...")`, `"DROP TYPE ..."`), where schemaflow makes and drops them with the
columns that use them: the hand-written statement is left out where the operations around it
do the same already, so that it does not run twice (CREATE TYPE: "type already exists";
DROP TYPE: "type does not exist"). Anything else is left to the SQL as written."""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace

from .. import ir
from ..errors import StateError
from ..state import SchemaState, apply

_DROP_TYPE = re.compile(r"\s*DROP\s+TYPE\s+(IF\s+EXISTS\s+)?((?:\"[^\"]+\"|\w+)(?:\s*,\s*"
                        r"(?:\"[^\"]+\"|\w+))*)(\s+(?:CASCADE|RESTRICT))?\s*;?\s*", re.I)


def _drop_types(ops: list[ir.Operation], state: SchemaState) -> list[ir.Operation]:
    """`ops` less the `DROP TYPE` of PostgreSQL enum types that the operations before it drop
    already: schemaflow drops an enum type with the last column using it, where Alembic's
    drop_table leaves it, and revisions drop it by hand after. (Run twice, the second drop
    failed the rollback.) Types schemaflow does not drop there are left to the SQL."""
    from ..dialects.postgresql import PostgreSQL, enum_types, may_change_enums

    postgresql = PostgreSQL(None)
    gone: set[str] = set()
    out: list[ir.Operation] = []
    for op in ops:
        if isinstance(op, ir.Sql) and gone and postgresql.runs_sql(op):
            up = tuple(kept for stmt in op.up if (kept := _drop_type(stmt, gone)))
            if up != op.up:
                if not up:
                    continue
                op = replace(op, up=up)
        elif not isinstance(op, ir.Sql):
            had = set(enum_types(state)) if may_change_enums(op, state) else None
            with contextlib.suppress(StateError):  # (listed by _Revision.apply)
                state = apply(state, op)
            if had is not None:
                has = set(enum_types(state))
                gone = (gone - has) | (had - has)
        out.append(op)
    return out


def _drop_type(stmt: str, gone: set[str]) -> str:
    """`stmt` less the types of `gone` it drops (taken out of `gone`), '' if none is left."""
    match = _DROP_TYPE.fullmatch(stmt)
    if match is None:
        return stmt
    # (PostgreSQL folds a name to lower case unless it is quoted.)
    names = {n: n[1:-1] if n.startswith('"') else n.lower()
             for n in (n.strip() for n in match.group(2).split(","))}
    left = [n for n, name in names.items() if name not in gone]
    gone -= set(names.values())
    if len(left) == len(names):
        return stmt
    if not left:
        return ""
    return f"DROP TYPE {match.group(1) or ''}{', '.join(left)}{match.group(3) or ''}"


_CREATE_ENUM = re.compile(r"\s*CREATE\s+TYPE\s+(\"[^\"]+\"|\w+)\s+AS\s+ENUM\s*\((.*)\)\s*;?\s*",
                          re.I | re.S)
_LITERAL = re.compile(r"\s*'((?:[^']|'')*)'\s*(,|$)")


def _values(text: str) -> tuple[str, ...] | None:
    """The values an ENUM (...) list writes, when it writes only string literals."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _LITERAL.match(text, pos)
        if m is None:
            return None
        out.append(m.group(1).replace("''", "'"))
        pos = m.end()
    return tuple(out)


def _create_types(ops: list[ir.Operation], state: SchemaState) -> list[ir.Operation]:
    """`ops` less each hand-written `CREATE TYPE name AS ENUM (...)` whose type an operation
    after it makes, with the same values: Alembic's column with `create_type=False` uses the
    type the SQL made, schemaflow's column makes it (Prefect's history; run twice, the
    second CREATE TYPE failed the apply)."""
    from ..dialects.postgresql import PostgreSQL, enum_types, may_change_enums

    postgresql = PostgreSQL(None)
    made: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = {}
    drop: set[tuple[int, int]] = set()
    for i, op in enumerate(ops):
        if isinstance(op, ir.Sql):
            for j, stmt in enumerate(op.up if postgresql.runs_sql(op) else ()):
                match = _CREATE_ENUM.fullmatch(stmt)
                values = _values(match.group(2)) if match else None
                if match and values is not None:
                    name = match.group(1)
                    made[name[1:-1] if name.startswith('"') else name.lower()] = (i, j), values
            continue
        had = set(enum_types(state)) if made and may_change_enums(op, state) else None
        with contextlib.suppress(StateError):  # (listed by _Revision.apply)
            state = apply(state, op)
        if had is not None:
            for name, values in enum_types(state).items():
                if name not in had and name in made and made[name][1] == values:
                    drop.add(made.pop(name)[0])
    if not drop:
        return ops
    out: list[ir.Operation] = []
    for i, op in enumerate(ops):
        if isinstance(op, ir.Sql) and any(at[0] == i for at in drop):
            up = tuple(s for j, s in enumerate(op.up) if (i, j) not in drop)
            if not up:
                continue
            op = replace(op, up=up)
        out.append(op)
    return out


def enum_types_made(ops: list[ir.Operation], state: SchemaState) -> list[ir.Operation]:
    """`ops` less the hand-written CREATE TYPE and DROP TYPE of enum types that the
    operations around them make or drop already (see the module's docstring)."""
    return _drop_types(_create_types(ops, state), state)
