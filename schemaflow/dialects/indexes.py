"""Indexes as SQLAlchemy describes them (a model's `Index`, or the Inspector's dictionary) read
into `ir.IndexDef`: key parts with their ordering, expressions, operator classes and prefix
lengths, the method, INCLUDE columns and the partial-index condition. What the format cannot
express is refused with `Unexpressible`."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import Label, TextClause, UnaryExpression

from .. import ir
from ..errors import UsageError
from ..state import ix_name
from .read import Unexpressible, _name

_METHODS = ("btree", "hash", "gin", "gist", "brin", "spgist")
# "name", "name DESC", "name ASC NULLS LAST" written as text(): a column, not an expression.
_TEXT_COLUMN = re.compile(r'^\s*"?([A-Za-z_][A-Za-z0-9_$]*)"?(?:\s+(ASC|DESC))?'
                          r"(?:\s+NULLS\s+(FIRST|LAST))?\s*$", re.IGNORECASE)
_ORDER = {operators.desc_op: ("order", "desc"), operators.asc_op: ("order", "asc"),
          operators.nulls_first_op: ("nulls", "first"),
          operators.nulls_last_op: ("nulls", "last")}


def sql_text(clause: Any) -> str:
    """A model's SQL expression as it appears in DDL: values inlined, columns unqualified
    (a `col.in_([...])` check is `col IN ('a', 'b')`, not a bound parameter)."""
    if isinstance(clause, str):
        return clause
    from sqlalchemy.engine.default import DefaultDialect

    dialect = DefaultDialect()
    compiler = dialect.statement_compiler(dialect, None)
    return str(compiler.process(clause, include_table=False, literal_binds=True))


def _model_key(e: Any) -> tuple[str, dict[str, Any]]:
    """(key for per-part options, the IndexColumn fields) of one model index expression."""
    fields: dict[str, Any] = {}
    while isinstance(e, UnaryExpression) and e.modifier in _ORDER:
        key, value = _ORDER[e.modifier]
        fields.setdefault(key, value)
        e = e.element
    if isinstance(e, Label):
        label, e = str(e.name), e.element
    else:
        label = ""
    wrapped = getattr(e, "text", None)
    if isinstance(wrapped, TextClause) and not isinstance(e, TextClause):
        e = wrapped  # Alembic's wrapper of a text() key in op.create_index (MLflow's "x DESC")
    if isinstance(e, sa.Column):
        fields["name"] = str(e.name)
    elif isinstance(e, TextClause) and (m := _TEXT_COLUMN.match(e.text)):
        fields["name"] = m.group(1)
        if m.group(2):
            fields.setdefault("order", m.group(2).lower())
        if m.group(3):
            fields.setdefault("nulls", m.group(3).lower())
    else:
        fields["expression"] = sql_text(e)
    return label or fields.get("name") or fields["expression"], fields


def from_model(table: str, i: sa.Index) -> ir.IndexDef:
    """The index a model's `Index` builds under `metadata.create_all()`."""
    where_is = f"index {_name(i) or ''} on {table}"
    options = {k: v for k, v in i.dialect_kwargs.items() if v is not None}
    keys = [_model_key(e) for e in i.expressions]
    if not keys:
        raise UsageError(f"{where_is}: it has no column or expression, and an index needs one "
                         "(metadata.create_all() cannot create it either)",
                         hint="give the Index its columns, Index(name, table.c.column), or "
                              "remove it from the models")
    where, where_dialects = _condition(where_is, options)
    lengths = options.pop("mysql_length", None) or options.pop("mariadb_length", None)
    options.pop("mariadb_length", None)
    ops = options.pop("postgresql_ops", None) or {}
    using = options.pop("postgresql_using", None)
    include = options.pop("postgresql_include", None) or ()
    if options:
        raise Unexpressible(where_is, f"the options {', '.join(sorted(options))}")
    parts = []
    for label, fields in keys:
        if label in ops:
            fields["opclass"] = str(ops[label])
        length = lengths if isinstance(lengths, int) else (lengths or {}).get(label)
        if length is not None and "name" in fields:
            fields["length"] = int(length)
        parts.append(_part(where_is, fields))
    cols = ir.key_columns(tuple(parts))
    return ir.IndexDef(
        name=_name(i) or ix_name(table, cols), columns=tuple(parts), unique=bool(i.unique),
        where=where, where_dialects=where_dialects, using=_method(where_is, using),
        include=tuple(str(getattr(c, "name", c)) for c in include))


_WHERE_OPTIONS = {"postgresql_where": "postgresql", "sqlite_where": "sqlite"}


def _condition(where_is: str, options: dict[str, Any]
               ) -> tuple[str | None, tuple[ir.Dialect, ...] | None]:
    """The partial-index condition and the databases it applies on, as `create_all()`
    builds the index: partial where a `<database>_where` option is given, whole on every
    other database (MySQL and MariaDB have no partial indexes). One condition for all of
    them; two different ones are refused."""
    found = {k: sql_text(options.pop(k)) for k in _WHERE_OPTIONS if k in options}
    if len(set(found.values())) > 1:
        raise Unexpressible(
            where_is, f"a different condition per database ({', '.join(sorted(found))})",
            hint="give one condition, or create the index with a `sql` operation scoped "
                 "with `dialects:`")
    if not found:
        return None, None
    dialects = tuple(sorted(_WHERE_OPTIONS[k] for k in found))
    return next(iter(found.values())), dialects  # type: ignore[return-value]


def _method(where_is: str, using: Any) -> ir.IndexMethod | None:
    if using is None:
        return None
    method = str(using).lower()
    if method not in _METHODS:
        raise Unexpressible(where_is, f"the index method {using!r}")
    return None if method == "btree" else method  # type: ignore[return-value]


def _part(where_is: str, fields: dict[str, Any]) -> ir.IndexKey:
    try:
        part = ir.IndexColumn(**fields)
    except ir.IRError as exc:
        raise Unexpressible(where_is, f"the key part {fields} ({exc.message})") from None
    return part.plain or part


def from_reflected(table: str, i: dict[str, Any]) -> ir.IndexDef:
    """A reflected index (the Inspector's dictionary, completed by the database's Dialect)."""
    where_is = f"index {i.get('name')} on {table}"
    options = dict(i.get("dialect_options") or {})
    exprs = i.get("expressions") or i["column_names"]
    sorting = i.get("column_sorting") or {}
    ops = options.pop("postgresql_ops", None) or {}
    lengths = options.pop("mysql_length", None) or options.pop("mariadb_length", None) or {}
    using = options.pop("postgresql_using", None)
    include = options.pop("postgresql_include", None) or ()
    where = options.pop("postgresql_where", None) or options.pop("sqlite_where", None)
    unknown = {k: v for k, v in options.items() if v is not None}
    if unknown:
        raise Unexpressible(where_is, f"the options {unknown}")
    parts = []
    for column, expr in zip(i["column_names"], exprs, strict=True):
        fields: dict[str, Any] = ({"name": str(column)} if column is not None
                                  else {"expression": str(expr)})
        flags = sorting.get(expr, ())
        if "desc" in flags:
            fields["order"] = "desc"
        if "nulls_first" in flags or "nulls_last" in flags:
            fields["nulls"] = "first" if "nulls_first" in flags else "last"
        if expr in ops:
            fields["opclass"] = str(ops[expr])
        if column is not None and lengths.get(column) is not None:
            fields["length"] = int(lengths[column])
        parts.append(_part(where_is, fields))
    cols = ir.key_columns(tuple(parts))
    return ir.IndexDef(name=i.get("name") or ix_name(table, cols), columns=tuple(parts),
                       unique=bool(i.get("unique")),
                       where=str(where) if where is not None else None,
                       using=_method(where_is, using), include=tuple(map(str, include)))
