"""What Alembic does to a column beyond what an operation says, read into schemaflow's terms:
its type and server default as given to Alembic (`_type`, `given_default`), a boolean's
default that means true or false on every database (written as `default: true/false`), and
on MySQL and MariaDB the whole column Alembic's MODIFY restates (`on_mysql`). And the
errors of a translation: `Opaque` (the importer keeps Alembic's SQL) and `Partial`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops as aops

from .. import ir
from ..dialects.indexes import sql_text
from ..dialects.read import default_from_sa
from ..dialects.tables import TypeError_
from ..state import SchemaState
from ..typespec import TypeSpec


class Opaque(Exception):
    """An Alembic operation that schemaflow's operations cannot express."""


class Partial(Opaque):
    """An Alembic operation expressed but for a part a hand must look at (`ops`: what is
    written; the message says what is left out and why)."""

    def __init__(self, message: str, ops: list[ir.Operation]) -> None:
        super().__init__(message)
        self.ops = ops


Ops = list[ir.Operation]


def given_type(t: Any, where: str) -> tuple[TypeSpec, tuple[ir.Variant, ...], ir.Collation]:
    """The type, per-database variants and collation of `type_=` (read as a model's column
    type is: a with_variant() for a database schemaflow does not run on is left out)."""
    from ..dialects.coltypes import column_type

    try:
        return column_type(sa.types.to_instance(t), models=True)  # `type_=sa.Float`: a class
    except TypeError_ as exc:
        raise Opaque(f"{where}: {exc}") from None


def given_default(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        return value, None
    arg = getattr(value, "arg", value)
    if isinstance(arg, str):
        return arg, None
    return default_from_sa(str(arg.text) if hasattr(arg, "text") else sql_text(arg))


_BOOLEAN_TEXT = {"true": True, "1": True, "false": False, "0": False}


def _boolean_meaning(value: Any) -> bool | None:
    """What a boolean column's server default means where that is true or false on every
    database (`"true"`, `"0"`, `sa.true()`, `sa.text("1")`, `sa.literal(True)`); None
    where it is anything else (`"yes"`, an expression)."""
    arg = getattr(value, "arg", value)  # a DefaultClause's value
    if isinstance(arg, sa.sql.elements.True_ | sa.sql.elements.False_):
        return isinstance(arg, sa.sql.elements.True_)
    if isinstance(arg, sa.sql.elements.BindParameter):  # sa.literal(True)
        arg = arg.value
    elif isinstance(arg, sa.sql.elements.ColumnClause) and arg.is_literal:  # literal_column
        arg = sa.text(arg.name)
    if isinstance(arg, bool):
        return arg
    if isinstance(arg, int):
        return {0: False, 1: True}.get(arg)
    if isinstance(arg, sa.sql.elements.TextClause):  # SQL: `'1'`, `(1)`, `TRUE`
        text = arg.text.strip()
        while len(text) > 1 and text[0] == "(" and text[-1] == ")":
            text = text[1:-1].strip()
        if len(text) > 1 and text[0] == text[-1] == "'":
            text = text[1:-1].strip()
        return _BOOLEAN_TEXT.get(text.lower())
    return _BOOLEAN_TEXT.get(arg.strip().lower()) if isinstance(arg, str) else None


def boolean_default(value: Any, where: str) -> tuple[dict[str, Any], str | None]:
    """The alter_column keys that give a boolean column the server default `value`, and
    why a hand must set it (a literal neither true nor false everywhere: SF120)."""
    meaning = _boolean_meaning(value)
    if meaning is not None:
        return {"default": meaning}, None
    default, default_sql = given_default(value)
    if default is None:
        return ({"default_sql": default_sql} if default_sql else {"drop_default": True}), None
    return {}, (f"{where}: the boolean default {default!r} means neither true nor false on "
                "every database; it is left out: set it by hand")


def boolean_columns(op: Any, ops: Ops) -> tuple[Ops, list[str]]:
    """`ops` with the server defaults of the boolean columns that `op` (a create_table or
    add_column) gives as `default: true` / `false` where they mean that (`"true"` was
    written as the text 'true', `sa.literal(True)` as `:param_1`), and left out, with why,
    where they mean neither."""
    if isinstance(op, aops.AddColumnOp):
        given = [op.column]
    elif isinstance(op, aops.CreateTableOp):
        given = [c for c in op.columns if isinstance(c, sa.Column)]
    else:
        return ops, []
    defaults = {str(c.name): c.server_default for c in given
                if isinstance(c.server_default, sa.DefaultClause)}
    problems: list[str] = []

    def fixed(table: str, c: ir.Column) -> ir.Column:
        if c.type.name != "boolean" or c.name not in defaults:
            return c
        meaning = _boolean_meaning(defaults[c.name])
        if meaning is not None:
            return replace(c, default=meaning, default_sql=None)
        if c.default is None or isinstance(c.default, bool):
            return c
        problems.append(f"column {table}.{c.name}: the boolean default {c.default!r} means "
                        "neither true nor false on every database; it is left out: set it "
                        "by hand")
        return replace(c, default=None)

    out: Ops = []
    for o in ops:
        if isinstance(o, ir.CreateTable):
            o = replace(o, columns=tuple(fixed(o.name, c) for c in o.columns))
        elif isinstance(o, ir.AddColumn):
            o = replace(o, column=fixed(o.table, o.column))
        out.append(o)
    return out, problems


def _kept(default: Any, default_sql: str | None, boolean: bool) -> tuple[Any, ...]:
    """A column's default as compared: booleans as true / false, other literals as text,
    SQL without its case and spacing."""
    if default is not None:
        if boolean and not isinstance(default, bool):
            meaning = _boolean_meaning(default)
            default = default if meaning is None else meaning
        return (default if isinstance(default, bool) else str(default), None)
    return (None, " ".join(default_sql.lower().split()) if default_sql else None)


def _default_keys(value: Any, boolean: bool) -> tuple[Any, ...]:
    """A server default (`server_default=` given to Alembic) as `_kept` compares it."""
    if value is None or value is False:
        return (None, None)
    meaning = _boolean_meaning(value) if boolean else None
    if meaning is not None:
        return (meaning, None)
    return _kept(*given_default(value), boolean)


def on_mysql(op: aops.AlterColumnOp, state: SchemaState, ops: Ops, where: str,
              ) -> tuple[Ops, str | None]:
    """`ops` (what the alter_column asks) made to build on MySQL and MariaDB what Alembic
    builds there, and why a hand must look (None: nothing). Alembic's MODIFY / CHANGE
    restates the whole column from `existing_type`, `existing_nullable` (left out: NULL),
    `existing_server_default` (left out: none) and `existing_comment`, so there it changes
    what the call does not ask for. A type that differs becomes the column's `mysql`
    variant; nullability, default, comment or collation that differ, Alembic's MODIFY of
    the column scoped to MySQL/MariaDB after the operations."""
    from alembic.ddl.mysql import MySQLModifyColumn
    from sqlalchemy.dialects import mysql

    from ..dialects import by_name
    from ..dialects.columns import collation_here, column_here
    from ..state import apply_all

    autoincrement = op.kw.get("autoincrement")
    if autoincrement is None:
        autoincrement = op.kw.get("existing_autoincrement")
    type_ = op.modify_type if op.modify_type is not None else op.existing_type
    if type_ is None:  # Alembic cannot MODIFY there (it raises): nothing to follow
        return ops, None
    type_ = sa.types.to_instance(type_)
    functional = (type_._type_affinity is sa.DateTime
                  and op.modify_server_default is not None)
    if not (op.modify_name or functional or op.modify_nullable is not None
            or op.modify_type is not None or op.kw.get("autoincrement") is not None
            or op.modify_comment is not False):
        return ops, None  # ALTER COLUMN ... SET / DROP DEFAULT only, as asked
    name = op.modify_name or op.column_name
    try:
        table = apply_all(state, ops).tables.get((op.schema, op.table_name))
    except Exception:  # (the replay reports it)
        return ops, None
    column = table.column(name) if table is not None else None
    if column is None:
        return ops, None
    here = column_here(("mysql",), column)
    nullable = (op.modify_nullable if op.modify_nullable is not None else
                op.existing_nullable if op.existing_nullable is not None else True)
    default = (op.modify_server_default if op.modify_server_default is not False
               else op.existing_server_default)
    comment = op.modify_comment if op.modify_comment is not False else op.existing_comment
    boolean = here.type.name == "boolean"
    # The variant keys MySQL reads, and those of MySQL and MariaDB together (the registry's).
    mysql_keys, family = by_name("mysql").type_dialects, set(by_name("mariadb").sql_dialects)
    try:
        spec, variants, given = given_type(type_, where)
        spec = next((v.type for v in variants if v.dialect in mysql_keys), spec)
        collation = collation_here(mysql_keys, given)
    except Opaque:  # (Alembic's MODIFY says it all)
        spec, collation = None, ""
    if op.modify_type is None and spec is not None and spec != here.type:
        # The type Alembic builds there: the column's `mysql` variant from now on.
        kept = tuple(v for v in column.variants if v.dialect not in family)
        mine = (ir.Variant(dialect="mysql", type=spec),) if spec != column.type else ()
        typed = {"type": column.type, "collation": column.collation,
                 "variants": tuple(sorted(kept + mine, key=lambda v: v.dialect))}
        first = ops[0] if ops and isinstance(ops[0], ir.AlterColumn) else None
        ops = ([replace(first, **typed), *ops[1:]] if first is not None else
               [ir.AlterColumn(table=op.table_name, name=op.column_name, schema=op.schema,
                               **typed), *ops])
    if (bool(nullable) == here.is_nullable and collation == here.collation
            and _default_keys(default, boolean) == _kept(here.default, _text(here.default_sql),
                                                         boolean)
            and (comment or None) == (here.comment or None)):
        return ops, None
    try:
        modify = str(MySQLModifyColumn(
            op.table_name, name, schema=op.schema, type_=type_, nullable=bool(nullable),
            default=default, autoincrement=autoincrement, comment=comment,
        ).compile(dialect=mysql.dialect()))
    except Exception as exc:
        return ops, (f"{where}: on MySQL and MariaDB, Alembic's MODIFY makes the column "
                     f"{'NULL' if nullable else 'NOT NULL'}, with the default {default!r} "
                     f"and the comment {comment!r}; it cannot be written here ({exc}): "
                     "write it by hand, scoped with `dialects: [mysql]`")
    return [*ops, ir.Sql(up=(modify,), dialects=("mysql",))], None


def _text(default_sql: str | ir.SqlDefaults | None) -> str | None:
    # (an Alembic history writes one default for every database)
    return default_sql if not isinstance(default_sql, ir.SqlDefaults) else str(default_sql)
