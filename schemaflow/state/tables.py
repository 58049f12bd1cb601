"""A table's definition to and from the create_table operation, with the checks that keep a
Table whole (its columns exist, its names are unique)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from .. import ir
from ..errors import StateError
from ..typespec import INTEGER_TYPES
from .expressions import rename_in
from .naming import ck_name, fk_name, ix_name, pk_name, uq_name
from .schema import SchemaState, Table, column_with, nearest, table_with


def table_from_create(op: ir.CreateTable) -> Table:
    """Normalise a create_table operation into a Table with every constraint named."""
    pk_cols = tuple(c.name for c in op.columns if c.primary_key)
    primary_key: ir.PrimaryKeyDef | None = None
    if op.primary_key is not None:
        if pk_cols and set(pk_cols) != set(op.primary_key.columns):
            raise StateError(
                f"table '{op.name}' declares its primary key twice, differently "
                "(on columns and in primary_key)", code="SF109")
        primary_key = ir.PrimaryKeyDef(columns=op.primary_key.columns,
                                       name=op.primary_key.name or pk_name(op.name))
    elif pk_cols:
        primary_key = ir.PrimaryKeyDef(columns=pk_cols, name=pk_name(op.name))
    in_pk = set(primary_key.columns) if primary_key else set()
    columns = tuple(plain_column(c, c.name in in_pk) for c in op.columns)
    uniques = [ir.UniqueDef(columns=(c.name,), name=uq_name(op.name, (c.name,)))
               for c in op.columns if c.unique]
    uniques += [replace(u, name=u.name or uq_name(op.name, u.columns)) for u in op.unique]
    indexes = [ir.IndexDef(name=ix_name(op.name, (c.name,)), columns=(c.name,))
               for c in op.columns if c.index]
    indexes += list(op.indexes)
    table = Table(
        name=op.name,
        schema=op.schema,
        columns=columns,
        primary_key=primary_key,
        uniques=tuple(uniques),
        foreign_keys=tuple(replace(f, name=f.name or fk_name(op.name, f))
                           for f in op.foreign_keys),
        checks=tuple(replace(c, name=c.name or ck_name(op.name, c.expression))
                     for c in op.checks),
        indexes=tuple(indexes),
        comment=op.comment,
        sqlite_autoincrement=op.sqlite_autoincrement,
        mysql_charset=op.mysql_charset,
        mysql_collate=op.mysql_collate,
    )
    check_table(table)
    check_numbering(table)
    return table


def check_numbering(t: Table) -> None:
    """`autoincrement: true` where a database can number the column: one integer column of
    the primary key (elsewhere SQLAlchemy builds it unnumbered, or fails to compile)."""
    told = [c for c in t.columns if c.autoincrement]
    key = t.primary_key.columns if t.primary_key else ()
    for c in told:
        if c.name not in key:
            raise not_numbered(t.name, c.name)
        spec = c.type
        if not (spec.name in INTEGER_TYPES or spec.dialect or (
                spec.name == "numeric" and [str(a) for a in spec.args[1:]] == ["0"])):
            raise StateError(f"column '{t.name}.{c.name}' has `autoincrement: true`, but its "
                             f"type {spec} is no integer: only an integer key is numbered",
                             code="SF109", hint="drop `autoincrement`, or make the column "
                             "integer, bigint or smallint")
    if len(told) > 1:
        raise StateError(f"table '{t.name}' numbers {len(told)} columns of its primary key "
                         f"({', '.join(c.name for c in told)}): a key has one numbered column "
                         "at most", code="SF109", hint="keep `autoincrement: true` on one")


def not_numbered(table: str, column: str) -> StateError:
    """The error for `autoincrement: true` on a column outside the primary key."""
    return StateError(f"column '{table}.{column}' has `autoincrement: true` but is not in the "
                      "primary key: a database numbers only a primary-key column (it would "
                      "be built unnumbered)", code="SF109",
                      hint="put it in the primary key, or drop `autoincrement` (a numbered "
                           "column outside the key is a sql operation: an identity column or "
                           "a sequence's default)")


def plain_column(c: ir.Column, in_pk: bool) -> ir.Column:
    nullable = False if in_pk else c.is_nullable
    if in_pk and c.nullable:
        raise StateError(f"column '{c.name}' is in the primary key and cannot be nullable",
                         code="SF109")
    return column_with(c, nullable=nullable, primary_key=False, unique=False, index=False)


def check_table(t: Table) -> None:
    names = [c.name for c in t.columns]
    # Counted only when some name repeats (counting every name is quadratic in the columns).
    dupes = {n for n in names if names.count(n) > 1} if len(set(names)) < len(names) else ()
    if dupes:
        raise StateError(f"table '{t.name}' has the column '{sorted(dupes)[0]}' twice",
                         code="SF106")
    if t.primary_key:
        need_columns(t, t.primary_key.columns, "primary key")
    for u in t.uniques:
        need_columns(t, u.columns, f"unique constraint '{u.name}'")
    for f in t.foreign_keys:
        need_columns(t, f.columns, f"foreign key '{f.name}'")
        if len(f.columns) != len(f.references.columns):
            raise StateError(f"foreign key '{f.name}' has {len(f.columns)} columns but references "
                             f"{len(f.references.columns)}", code="SF108")
        if f.deferrable is False and f.initially == "deferred":
            raise StateError(f"foreign key '{f.name}' is initially deferred but not deferrable",
                             code="SF116", hint="drop `deferrable: false` (initially deferred "
                             "makes it deferrable), or `initially: deferred`")
    for i in t.indexes:
        need_columns(t, i.column_names, f"index '{i.name}'")
    seen: set[str] = set()
    for n in all_names(t):
        if n in seen:
            raise StateError(f"table '{t.name}' has two constraints or indexes named '{n}'",
                             code="SF107")
        seen.add(n)


def all_names(t: Table) -> list[str]:
    names = [t.primary_key.name or ""] if t.primary_key else []
    names += [u.name or "" for u in t.uniques] + [f.name or "" for f in t.foreign_keys]
    names += [c.name or "" for c in t.checks] + [i.name for i in t.indexes]
    return [n for n in names if n]


def need_columns(t: Table, columns: Iterable[str], what: str) -> None:
    for c in columns:
        if t.column(c) is None:
            raise StateError(f"{what} on '{t.name}' names the column '{c}', which does not exist",
                             code="SF102", hint=nearest(c, [x.name for x in t.columns]))


def need_refs(state: SchemaState, t: Table, fks: Iterable[ir.ForeignKeyDef]) -> None:
    for f in fks:
        ref = f.references
        target = t if (ref.schema, ref.table) == t.key else state.get(ref.table, ref.schema)
        if target is None:
            raise StateError(f"foreign key '{f.name}' references the table '{ref.table}', "
                             "which does not exist at this point", code="SF101",
                             hint=nearest(ref.table, [k[1] for k in state.tables]))
        need_columns(target, ref.columns, f"foreign key '{f.name}'")


def create_table_op(t: Table) -> ir.CreateTable:
    """The create_table operation that rebuilds `t` exactly."""
    return ir.CreateTable(name=t.name, schema=t.schema, columns=t.columns, comment=t.comment,
                          primary_key=t.primary_key, unique=t.uniques,
                          foreign_keys=t.foreign_keys, checks=t.checks, indexes=t.indexes,
                          sqlite_autoincrement=t.sqlite_autoincrement,
                          mysql_charset=t.mysql_charset, mysql_collate=t.mysql_collate)


def create_fk_op(t: Table, f: ir.ForeignKeyDef) -> ir.CreateForeignKey:
    """The create_foreign_key operation that adds `f` to `t` exactly."""
    return ir.CreateForeignKey(name=f.name or "", table=t.name, schema=t.schema,
                               columns=f.columns, references=f.references, ondelete=f.ondelete,
                               onupdate=f.onupdate, deferrable=f.deferrable,
                               initially=f.initially)


def create_check_op(t: Table, c: ir.CheckDef) -> ir.CreateCheckConstraint:
    """The create_check_constraint operation that adds `c` to `t` exactly."""
    return ir.CreateCheckConstraint(name=c.name or "", table=t.name, schema=t.schema,
                                    expression=c.expression, dialects=c.dialects)


def recast(t: Table, old: str, new: str | None) -> Table:
    """`t` with each cast to (PostgreSQL enum) type `old` in its index conditions and
    expressions and its CHECKs written as one to `new` (None: left out, the value compared
    as text): a baseline read from the database writes `'new'::order_status`, and once the
    column has another type that cast no longer compares with it."""
    name = '"' + old.replace('"', '""') + '"'
    cast = re.compile(r"::\s*(?:" + re.escape(name) + "|" + re.escape(old) + r"(?![\w$]))",
                      re.IGNORECASE if old == old.lower() else 0)
    to = "" if new is None else "::" + (new if re.fullmatch(r"[a-z_][a-z0-9_]*", new)
                                        else '"' + new.replace('"', '""') + '"')

    def fix(text: str) -> str:
        return cast.sub(to, text)

    indexes = tuple(replace(i, where=fix(i.where) if i.where else None, columns=tuple(
        k if isinstance(k, str) or k.expression is None else replace(
            k, expression=fix(k.expression)) for k in i.columns)) for i in t.indexes)
    return table_with(t, indexes=indexes,
                      checks=tuple(replace(c, expression=fix(c.expression)) for c in t.checks))


def rename_columns(t: Table, renames: Mapping[str, str]) -> Table:
    """`t` with columns renamed (old → new) everywhere in it: the columns, every constraint
    and index, and the expressions of checks, index predicates and generated columns (as
    databases do)."""
    if not renames:
        return t

    def ren(cols: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(renames.get(c, c) for c in cols)

    names = [c.name for c in t.columns]

    def ren_expr(expression: str) -> str:
        return rename_in(expression, renames, names)

    def ren_key(k: ir.IndexKey) -> ir.IndexKey:
        if isinstance(k, str):
            return renames.get(k, k)
        if k.name is not None:
            return replace(k, name=renames.get(k.name, k.name))
        return replace(k, expression=ren_expr(k.expression or ""))

    def ren_column(c: ir.Column) -> ir.Column:
        if c.computed is not None:  # a generated column's expression names the others
            expression = ren_expr(c.computed.expression)
            if expression != c.computed.expression:
                c = column_with(c, computed=replace(c.computed, expression=expression))
        return column_with(c, name=renames[c.name]) if c.name in renames else c

    return table_with(
        t,
        columns=tuple(map(ren_column, t.columns)),
        primary_key=replace(t.primary_key, columns=ren(t.primary_key.columns))
        if t.primary_key else None,
        uniques=tuple(replace(u, columns=ren(u.columns)) for u in t.uniques),
        foreign_keys=tuple(replace(f, columns=ren(f.columns)) for f in t.foreign_keys),
        checks=tuple(replace(c, expression=ren_expr(c.expression)) for c in t.checks),
        indexes=tuple(replace(i, columns=tuple(map(ren_key, i.columns)),
                              include=ren(i.include),
                              where=ren_expr(i.where) if i.where else None)
                      for i in t.indexes))


def index_clashes(op: ir.Operation, before: SchemaState,
                  exists: Callable[[Any], bool] = lambda i: True
                  ) -> list[tuple[str, str, list[str]]]:
    """(index name, its table, the other tables of that schema with an index of that name)
    for each index `op` creates whose name another table uses already: allowed where index
    names are per table (MySQL, MariaDB), not where they are per schema. `exists`: whether
    an index (an IndexDef or a create_index) exists on the database judged; one that does
    not takes no name there (an index of other databases only, `dialects`)."""
    if isinstance(op, ir.CreateIndex):
        made = [(op.name, op.table, op.schema)] if exists(op) else []
    elif isinstance(op, ir.CreateTable):
        made = [(ix_name(op.name, (c.name,)), op.name, op.schema) for c in op.columns if c.index]
        made += [(i.name, op.name, op.schema) for i in op.indexes if exists(i)]
    elif isinstance(op, ir.AddColumn) and op.column.index:
        made = [(ix_name(op.table, (op.column.name,)), op.table, op.schema)]
    else:
        return []
    out = []
    for name, table, schema in made:
        others = [k[1] for k in before.index_elsewhere(name, (schema, table)) if any(
            i.name == name and exists(i) for i in before.tables[k].indexes)]
        if others:
            out.append((name, table, others))
    return out


def readable_column(c: ir.Column) -> ir.Column:
    """Leave out what the contract's defaults already say (nullable: true)."""
    return replace(c, nullable=None) if c.nullable is True else c


def _sorted_table(t: Table) -> Table:
    return replace(t, uniques=tuple(sorted(t.uniques, key=str)),
                   indexes=tuple(sorted(t.indexes, key=str)))


def readable_create(t: Table) -> ir.CreateTable:
    """create_table for `t` as a person writes it (what autogenerate writes): single-column
    keys, uniques and indexes with default names folded onto their columns; the exact form
    if folding would change it."""
    pk = t.primary_key
    pk_col = pk.columns[0] if pk and len(pk.columns) == 1 and pk.name == pk_name(t.name) else None
    inline_u = {u.columns[0]: u for u in t.uniques
                if len(u.columns) == 1 and u.name == uq_name(t.name, u.columns)}
    inline_i = {i.columns[0]: i for i in t.indexes
                if len(i.columns) == 1 and isinstance(i.columns[0], str) and not i.unique
                and i.plain_key is not None and i.name == ix_name(t.name, (i.columns[0],))}
    columns = []
    for c in t.columns:
        col = replace(c, primary_key=c.name == pk_col, unique=c.name in inline_u,
                      index=c.name in inline_i)
        if c.name == pk_col or c.nullable is True:
            col = replace(col, nullable=None)
        columns.append(col)
    op = ir.CreateTable(
        name=t.name, schema=t.schema, columns=tuple(columns), comment=t.comment,
        primary_key=None if pk_col else pk,
        unique=tuple(u for u in t.uniques if u not in inline_u.values()),
        foreign_keys=t.foreign_keys, checks=t.checks,
        indexes=tuple(i for i in t.indexes if i not in inline_i.values()),
        sqlite_autoincrement=t.sqlite_autoincrement, mysql_charset=t.mysql_charset,
        mysql_collate=t.mysql_collate)
    if _sorted_table(table_from_create(op)) == _sorted_table(t):
        return op
    return create_table_op(t)
