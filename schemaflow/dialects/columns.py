"""Columns and indexes as one database builds them: the variant of a column's type that
applies there, an index's condition where it applies there (`where_dialects`), the
collations a type takes, and the types its Inspector cannot read, read from the database's
own text of them. Imports no SQLAlchemy until a live database is read (or a database's own
type given a collation is judged)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .. import ir
from ..errors import UsageError
from ..pmap import PMap
from ..typespec import TypeSpec

if TYPE_CHECKING:
    from ..state import SchemaState, Table, TableKey


def column_here(names: tuple[str, ...], c: ir.Column) -> ir.Column:
    """`c` with the type of the first of `names` its variants name (else its type), and no
    variants; with the collation and the default it has there, where it has one per
    database."""
    if not _per_database(c):
        return c
    by_name = {v.dialect: v.type for v in c.variants}
    here = next((by_name[n] for n in names if n in by_name), c.type)
    default = c.default_sql.on(names) if type(c.default_sql) is ir.SqlDefaults else (
        c.default_sql)
    return replace(c, type=here, variants=(), collation=collation_here(names, c.collation),
                   default_sql=default)


def collation_here(names: tuple[str, ...], collation: ir.Collation) -> str | None:
    """The collation on the database whose variant keys are `names`."""
    return collation.on(names) if isinstance(collation, ir.Collations) else collation


def _per_database(c: ir.Column) -> bool:
    """Whether column `c` is built otherwise on some databases."""
    return bool(c.variants) or type(c.collation) is ir.Collations or (
        type(c.default_sql) is ir.SqlDefaults)


def index_here(names: tuple[str, ...], i: ir.IndexDef) -> ir.IndexDef:
    """`i` with its `where` where it applies here (one of `names`; else none: the index
    covers every row), and no `where_dialects` nor `dialects` (`index_held` says whether it
    exists here at all)."""
    if i.where_dialects is None and i.dialects is None:
        return i
    if i.where_dialects is None:
        return replace(i, dialects=None)
    return replace(i, where=i.where if any(d in names for d in i.where_dialects) else None,
                   where_dialects=None, dialects=None)


def scope_key(dialects: tuple[str, ...]) -> tuple[str, ...]:
    """An index's `dialects` as what they mean, for comparing: a database another one
    named there varies (MariaDB, where MySQL is named) left out, the rest in order."""
    from . import by_name

    return tuple(sorted(d for d in set(dialects) if not any(
        o != d and o in by_name(d).sql_dialects for o in dialects)))


def index_held(names: tuple[str, ...], i: ir.IndexDef | ir.CreateIndex) -> bool:
    """Whether index `i` exists on the database whose variant keys are `names` (its
    `dialects` name it, or are left out)."""
    return i.dialects is None or any(d in names for d in i.dialects)


def elsewhere(names: tuple[str, ...], op: ir.Operation, before: SchemaState) -> bool:
    """Whether `op` creates or drops an index that exists on other databases only (it does
    nothing here)."""
    if isinstance(op, ir.CreateIndex):
        return not index_held(names, op)
    if isinstance(op, ir.DropIndex):
        t = before.tables.get((op.schema, op.table))
        i = next((i for i in t.indexes if i.name == op.name), None) if t is not None else None
        return i is not None and not index_held(names, i)
    return False


def indexes_here(names: tuple[str, ...], t: Table | ir.CreateTable) -> tuple[ir.IndexDef, ...]:
    """The indexes of `t` that exist here, each as `index_here` gives it."""
    return tuple(index_here(names, i) for i in t.indexes if index_held(names, i))


def where_scope(i: ir.IndexDef) -> tuple[str, ...] | None:
    """The databases with partial indexes that `i`'s condition applies on, for comparing
    indexes: None where it applies on all of them (`where_dialects` omitted, or naming them
    all: the same index wherever either can be built, as a database without partial
    indexes refuses the first)."""
    if i.where is None or i.where_dialects is None:
        return None
    from . import by_name, names

    partial = [d for d in map(by_name, names()) if d.caps.partial_index]
    scope = tuple(d.name for d in partial if any(n in i.where_dialects
                                                  for n in d.sql_dialects))
    return None if len(scope) == len(partial) else scope


def _scoped(t: Table | ir.CreateTable) -> bool:
    return any(_per_database(c) for c in t.columns) or any(
        i.where_dialects is not None or i.dialects is not None for i in t.indexes)


def has_variants(state: SchemaState) -> bool:
    """Whether any column of `state` has type variants or a collation per database, or any
    index a condition for some databases only (a look at every table)."""
    return any(_scoped(t) for t in state.tables.values())


def brings_variants(op: ir.Operation) -> bool:
    """Whether applying `op` can give a column type variants or an index a condition for
    some databases only: only a new table, an added column, a column's new type and a new
    index carry them (every other operation keeps the columns and indexes it meets)."""
    if isinstance(op, ir.CreateTable):
        return _scoped(op)
    if isinstance(op, ir.AddColumn):
        return _per_database(op.column)
    if isinstance(op, ir.AlterColumn):
        return bool(op.variants) or type(op.collation) is ir.Collations or (
            type(op.default_sql) is ir.SqlDefaults)
    if isinstance(op, ir.CreateIndex):
        return op.where_dialects is not None or op.dialects is not None
    return False


def state_here(names: tuple[str, ...], state: SchemaState) -> SchemaState:
    """`state` with every column as `column_here` gives it and every index as `index_here`
    does (other tables kept as they are). Each table is converted when first read:
    rendering one changeset on a long history's schema (remembered by the memo, its tables
    decoded on first use) reads a few."""
    tables = state.tables

    def table_here(t: Table) -> Table:
        if not _scoped(t):
            return t
        return replace(t, columns=tuple(column_here(names, c) for c in t.columns),
                       indexes=indexes_here(names, t))

    def load(i: int) -> dict[TableKey, Table]:
        return {k: table_here(t) for k, t in tables.bucket(i).items()}

    return type(state).assembled(PMap.lazy(len(tables), load), state.index_tables,
                                 state.referrers, state.sequences)


def op_here(names: tuple[str, ...], op: ir.Operation) -> ir.Operation:
    """`op` with every column and type as `column_here` gives it, and every index as
    `index_here` does: a create_table without the indexes that do not exist here; a
    create_index of other databases only as it is (`elsewhere` says it does nothing here)."""
    if isinstance(op, ir.CreateTable) and _scoped(op):
        return replace(op, columns=tuple(column_here(names, c) for c in op.columns),
                       indexes=indexes_here(names, op))
    if isinstance(op, ir.CreateIndex) and (
            op.where_dialects is not None or op.dialects is not None):
        if not index_held(names, op):
            return op  # (kept with its `dialects`: `elsewhere` says it does nothing here)
        here = index_here(names, op.definition)
        return replace(op, where=here.where, where_dialects=None, dialects=None)
    if isinstance(op, ir.AddColumn) and _per_database(op.column):
        return replace(op, column=column_here(names, op.column))
    if isinstance(op, ir.AlterColumn) and op.type is not None and (
            op.variants or type(op.collation) is ir.Collations):
        column = column_here(names, ir.Column(name=op.name, type=op.type, variants=op.variants,
                                              collation=op.collation))
        op = replace(op, type=column.type, variants=(), collation=column.collation)
    if isinstance(op, ir.AlterColumn) and type(op.default_sql) is ir.SqlDefaults:
        # (a database it names no default for has none from now on)
        default = op.default_sql.on(names)
        return replace(op, default_sql=default, drop_default=default is None)
    return op


# Generic types whose values have a collation.
_COLLATED = ("string", "char", "text", "enum")


def check_collation(where: str, spec: TypeSpec, collation: ir.Collation) -> None:
    """UsageError for a collation on a type whose values have none: a generic type but
    string, char, text and enum, a database's own type that is no string type in SQLAlchemy
    (`postgresql.jsonb`; `mysql.mediumtext` is one), and a type written as SQL (rendered as
    written, with nothing added)."""
    if collation is None or spec.name in _COLLATED or (spec.dialect and _string_type(spec)):
        return
    raise UsageError(f"{where}: the type {spec} takes no collation "
                     f"('{collation}'); string, char and text do")


def _string_type(spec: TypeSpec) -> bool:
    """Whether SQLAlchemy's type for the database's own type `spec` is a string type (one it
    does not have: judged where it is looked up)."""
    import sqlalchemy as sa

    from .tables import TypeError_, sa_type

    try:
        return isinstance(sa_type(spec), sa.String)
    except TypeError_:
        return True


def read_unknown(conn: Any, sql: str, types_module: str | None, schema: str | None,
                 columns: dict[Any, list[dict[str, Any]]]) -> dict[Any, list[dict[str, Any]]]:
    """`columns` (the Inspector's) with each type it could not read (NullType) read from the
    database's text of it, which `sql` selects as (table, column, text) for a schema."""
    if not any(type(c["type"]).__name__ == "NullType" for cols in columns.values()
               for c in cols):
        return columns
    import importlib

    from sqlalchemy.types import TypeEngine

    from .tables import Verbatim

    module = importlib.import_module(types_module or "sqlalchemy.types")
    written = {(str(t), str(c)): str(text) for t, c, text in conn.exec_driver_sql(
        sql, (schema,))}
    for key, cols in columns.items():
        for c in cols:
            text = written.get((str(key[1]), str(c["name"])))
            if type(c["type"]).__name__ != "NullType" or not text:
                continue
            # A type SQLAlchemy has but does not reflect (PostgreSQL's jsonpath, MariaDB's
            # inet6) is that type; any other is kept as the database writes it.
            known: Any = getattr(module, text.upper(), None) if text.isidentifier() else None
            usable = isinstance(known, type) and issubclass(known, TypeEngine)
            c["type"] = known() if usable else Verbatim(text)
    return columns
