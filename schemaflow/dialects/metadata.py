"""The schema that SQLAlchemy models (a MetaData) describe, as plain-data state, read the way
`metadata.create_all()` would build it; what the format cannot express is refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.default import DefaultDialect

from .. import ir
from ..state import SchemaState, ck_name, fk_name, ix_name, uq_name
from .read import Unexpressible, _action, _column, _default_of, _deferral, _name, _table

# Dialect options of an index that the format carries (the partial-index condition).
_WHERE = ("postgresql_where", "sqlite_where")


def sql_text(clause: Any) -> str:
    """A model's SQL expression as it appears in DDL: values inlined, columns unqualified
    (a `col.in_([...])` check is `col IN ('a', 'b')`, not a bound parameter)."""
    if isinstance(clause, str):
        return clause
    dialect = DefaultDialect()
    compiler = dialect.statement_compiler(dialect, None)
    return str(compiler.process(clause, include_table=False, literal_binds=True))


def from_metadata(metadata: sa.MetaData, *, skip: Iterable[str] = ()) -> SchemaState:
    """The SchemaState a SQLAlchemy MetaData describes (every constraint given a name)."""
    skipped = set(skip)
    tables = {}
    for table in metadata.sorted_tables:
        if str(table.name) in skipped:
            continue
        name = str(table.name)
        pk_cols = tuple(str(c.name) for c in table.primary_key.columns)
        columns = [_model_column(name, col, pk_cols) for col in table.columns]
        uniques, checks, fks = [], [], []
        for c in table.constraints:
            if c.dialect_kwargs:
                raise Unexpressible(f"constraint {_name(c) or ''} on {name}",
                                    f"the options {dict(c.dialect_kwargs)}")
            if isinstance(c, sa.UniqueConstraint):
                cols = tuple(str(x.name) for x in c.columns)
                uniques.append(ir.UniqueDef(columns=cols, name=_name(c) or uq_name(name, cols)))
            elif isinstance(c, sa.CheckConstraint):
                if getattr(c, "_type_bound", False):
                    continue  # refused with its type (create_constraint=True)
                expr = sql_text(c.sqltext)
                checks.append(ir.CheckDef(expression=expr,
                                          name=_name(c) or ck_name(name, expr)))
            elif isinstance(c, sa.ForeignKeyConstraint):
                fks.append(_foreign_key(name, c))
        indexes = [_index(name, i) for i in sorted(table.indexes, key=lambda x: str(x.name))]
        t = _table(name, str(table.schema) if table.schema else None, columns,
                   (pk_cols, _name(table.primary_key)), uniques, fks, checks, indexes,
                   table.comment)
        tables[t.key] = t
    return SchemaState(tables)


def _model_column(table: str, col: sa.Column[Any], pk_cols: tuple[str, ...]) -> ir.Column:
    where = f"column {table}.{col.name}"
    if col.computed is not None:
        expression = sql_text(col.computed.sqltext)
        raise Unexpressible(where, f"a generated column (Computed({expression!r}))")
    if col.identity is not None:
        raise Unexpressible(where, "an identity column (Identity(...))")
    # Only an explicit `autoincrement=False` is carried: "auto" is the format's default.
    autoincrement = False if col.autoincrement is False else None
    return _column(table, str(col.name), col.type, col.name not in pk_cols and bool(col.nullable),
                   _default_of(col), col.comment, autoincrement)


def _foreign_key(table: str, c: sa.ForeignKeyConstraint) -> ir.ForeignKeyDef:
    where = f"foreign key {_name(c) or ''} on {table}"
    if c.match:
        raise Unexpressible(where, f"match={c.match!r}")
    ref = c.elements[0].column.table if c.elements else None
    fk = ir.ForeignKeyDef(
        columns=tuple(str(x.name) for x in c.columns),
        references=ir.Reference(
            table=str(ref.name) if ref is not None else c.elements[0].target_fullname,
            columns=tuple(str(e.column.name) for e in c.elements),
            schema=str(ref.schema) if ref is not None and ref.schema else None),
        name=_name(c), ondelete=_action(c.ondelete), onupdate=_action(c.onupdate),
        **_deferral(where, c.deferrable, c.initially))
    return fk if fk.name else replace(fk, name=fk_name(table, fk))


def _index(table: str, i: sa.Index) -> ir.IndexDef:
    where_is = f"index {_name(i) or ''} on {table}"
    if any(not isinstance(e, sa.Column) for e in i.expressions):
        shown = ", ".join(sql_text(e) for e in i.expressions)
        raise Unexpressible(where_is, f"an expression or ordering ({shown})")
    options = {k: v for k, v in i.dialect_kwargs.items() if v is not None}
    other = sorted(set(options) - set(_WHERE))
    if other:
        raise Unexpressible(where_is, f"the options {', '.join(other)}")
    conditions = {sql_text(options[k]) for k in _WHERE if k in options}
    if len(conditions) > 1 or (conditions and len(options) < len(_WHERE)):
        raise Unexpressible(
            where_is, f"a condition for some databases only ({', '.join(sorted(options))})",
            hint="give the same condition as postgresql_where and sqlite_where if it holds "
                 "everywhere, or create the index with a `sql` operation scoped with "
                 "`dialects:`")
    cols = tuple(str(x.name) for x in i.columns)
    return ir.IndexDef(name=_name(i) or ix_name(table, cols), columns=cols,
                       unique=bool(i.unique), where=conditions.pop() if conditions else None)
