"""MySQL's and MariaDB's indexes: what the Inspector does not read (descending key parts), and
what InnoDB does by itself told apart from what a person wrote. InnoDB makes an index for each
foreign key no index serves (named after the key, or after its first column when the key has
no name), and keeps a UNIQUE constraint as a unique index: read back, the two look alike."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ... import ir

if TYPE_CHECKING:
    from ...state import SchemaState, Table


def complete(conn: Any, schema: str | None, tables: list[str],
             indexes: dict[Any, list[dict[str, Any]]]) -> dict[Any, list[dict[str, Any]]]:
    """`indexes` with the descending key parts marked, as `column_sorting`."""
    rows = conn.exec_driver_sql(
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND COLLATION = 'D'",
        (schema,)).fetchall()
    desc: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
    for table, index, column in rows:
        desc.setdefault((str(table), str(index)), {})[str(column)] = ("desc",)
    if not desc:
        return indexes
    out = {}
    for key, found in indexes.items():
        out[key] = [{**i, "column_sorting": desc[(key[1], i["name"])]}
                    if (key[1], i.get("name")) in desc else i for i in found]
    return out


def as_written(state: SchemaState) -> SchemaState:
    """A reflected schema as a person writes it: each unique key a unique constraint, and the
    index InnoDB made for a foreign key under the key's own name left out (a baseline that
    names the key gets that index back by itself). An index InnoDB named after a column is
    kept, scoped to MySQL and MariaDB (`dialects`): written out, it rebuilds the same name
    there, and the other databases, which make no index for a foreign key, build none (its
    name, a column's, is often another table's index's too); `matched` leaves it out of
    comparisons."""
    for t in list(state.tables.values()):
        by_key = {(f.name, f.columns) for f in t.foreign_keys}
        uniques, indexes = list(t.uniques), []
        for i in t.indexes:
            cols = i.plain_key
            if cols is not None and i.unique:
                uniques.append(ir.UniqueDef(columns=cols, name=i.name))
            elif cols is None or (i.name, cols) not in by_key:
                innodbs = any(_innodbs(t, i, f) for f in t.foreign_keys)
                indexes.append(replace(i, dialects=("mysql",)) if innodbs else i)
        if indexes != list(t.indexes):
            state = state.with_table(replace(t, uniques=tuple(uniques), indexes=tuple(indexes)))
    return state


def matched(have: SchemaState, want: SchemaState) -> SchemaState:
    """`have` (a database's schema, or the changesets') in `want`'s words where MySQL cannot
    tell the two apart: a unique key as `want` writes it (a constraint, or a unique index of
    that name), and an index InnoDB made for a foreign key left out where `want` has the key
    but no index of that name."""
    for key, t in list(have.tables.items()):
        other = want.tables.get(key)
        if other is not None:
            new = _matched(t, other)
            if new != t:
                have = have.with_table(new)
    return have


def _matched(t: Table, want: Table) -> Table:
    want_ix = {i.name: i for i in want.indexes}
    want_uq = {u.columns for u in want.uniques}
    uniques, indexes = list(t.uniques), list(t.indexes)
    for u in t.uniques:
        i = want_ix.get(u.name or "")
        if i is not None and i.unique and i.plain_key == u.columns:
            uniques.remove(u)
            indexes.append(ir.IndexDef(name=i.name, columns=u.columns, unique=True))
    for i in t.indexes:
        cols = i.plain_key
        if (i.unique and cols in want_uq and i.name not in want_ix
                and cols not in {u.columns for u in uniques}):
            indexes.remove(i)
            uniques.append(ir.UniqueDef(columns=cols or (), name=i.name))
    want_fks = {f.columns for f in want.foreign_keys}
    for i in list(indexes):
        if i.name not in want_ix and any(f.columns in want_fks and _innodbs(t, i, f)
                                         for f in t.foreign_keys):
            indexes.remove(i)
    return replace(t, uniques=tuple(uniques), indexes=tuple(indexes))


def _innodbs(t: Table, i: ir.IndexDef, f: ir.ForeignKeyDef) -> bool:
    """Whether InnoDB may have made index `i` of `t` for foreign key `f` by itself: on its
    columns alone, named as InnoDB names it, and no other index serving the key (InnoDB drops
    its own when another one comes)."""
    if i.unique or i.plain_key != f.columns:
        return False
    first = f.columns[0]
    if i.name != f.name and not re.fullmatch(re.escape(first) + r"(_\d+)?", i.name):
        return False
    others = [j.plain_key or () for j in t.indexes if j is not i]
    others += [u.columns for u in t.uniques]
    others += [t.primary_key.columns] if t.primary_key else []
    return not any(cols[: len(f.columns)] == f.columns for cols in others)
