"""DDL constructs SQLAlchemy lacks (the ALTER forms), with their generic compilation; each
database's render module adds its own constructs and dialect-qualified overrides."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement
from sqlalchemy.sql.compiler import DDLCompiler


class AlterTable(DDLElement):
    """Base of `ALTER TABLE <table> ...` constructs."""

    inherit_cache = False

    def __init__(self, table: str, schema: str | None) -> None:
        self.table_name = table
        self.schema = schema


def table_ref(compiler: DDLCompiler, table: str, schema: str | None) -> str:
    """The quoted, schema-qualified table name."""
    prep = compiler.preparer
    return (prep.quote_schema(schema) + "." if schema else "") + prep.quote(table)


def col_ref(compiler: DDLCompiler, name: str) -> str:
    """A quoted column or constraint name."""
    return str(compiler.preparer.quote(name))


class RenameTable(AlterTable):
    """`ALTER TABLE t RENAME TO n`."""

    def __init__(self, table: str, schema: str | None, new_name: str) -> None:
        super().__init__(table, schema)
        self.new_name = new_name


class AddColumn(AlterTable):
    """`ALTER TABLE t ADD COLUMN <column spec>`; the column is bound to a Table."""

    def __init__(self, column: sa.Column[Any]) -> None:
        super().__init__(column.table.name, column.table.schema)
        self.column = column


class DropColumn(AlterTable):
    """`ALTER TABLE t DROP COLUMN c`."""

    def __init__(self, table: str, schema: str | None, column: str) -> None:
        super().__init__(table, schema)
        self.column = column


class RenameColumn(AlterTable):
    """`ALTER TABLE t RENAME COLUMN c TO n`."""

    def __init__(self, table: str, schema: str | None, column: str, new_name: str) -> None:
        super().__init__(table, schema)
        self.column = column
        self.new_name = new_name


class AlterColumnType(AlterTable):
    """`ALTER TABLE t ALTER COLUMN c TYPE <type> [USING expr]`."""

    def __init__(self, table: str, schema: str | None, column: str, type_: Any,
                 using: str | None = None) -> None:
        super().__init__(table, schema)
        self.column = column
        self.type_ = type_
        self.using = using


class AlterColumnNullable(AlterTable):
    """`ALTER TABLE t ALTER COLUMN c SET/DROP NOT NULL`."""

    def __init__(self, table: str, schema: str | None, column: str, nullable: bool) -> None:
        super().__init__(table, schema)
        self.column = column
        self.nullable = nullable


class AlterColumnDefault(AlterTable):
    """`ALTER TABLE t ALTER COLUMN c SET DEFAULT x` / `DROP DEFAULT`; default None drops it."""

    def __init__(self, table: str, schema: str | None, column: str, default: Any) -> None:
        super().__init__(table, schema)
        self.column = column
        self.default = default


class ColumnComment(AlterTable):
    """`COMMENT ON COLUMN t.c IS '...'` (NULL removes it)."""

    def __init__(self, table: str, schema: str | None, column: str, comment: str | None) -> None:
        super().__init__(table, schema)
        self.column = column
        self.comment = comment


def alter(compiler: DDLCompiler, el: AlterTable) -> str:
    return f"ALTER TABLE {table_ref(compiler, el.table_name, el.schema)}"


def default_sql(compiler: DDLCompiler, default: Any) -> str:
    """A server-default clause's SQL text (a string default is quoted)."""
    if isinstance(default, str):
        return str(compiler.sql_compiler.render_literal_value(default, sa.String()))
    return str(compiler.sql_compiler.process(default, literal_binds=True))


@compiles(RenameTable)
def _rename_table(el: RenameTable, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{alter(compiler, el)} RENAME TO {col_ref(compiler, el.new_name)}"


@compiles(AddColumn)
def _add_column(el: AddColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{alter(compiler, el)} ADD COLUMN {compiler.get_column_specification(el.column)}"


@compiles(DropColumn)
def _drop_column(el: DropColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{alter(compiler, el)} DROP COLUMN {col_ref(compiler, el.column)}"


@compiles(RenameColumn)
def _rename_column(el: RenameColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return (f"{alter(compiler, el)} RENAME COLUMN {col_ref(compiler, el.column)} "
            f"TO {col_ref(compiler, el.new_name)}")


@compiles(AlterColumnType)
def _alter_type(el: AlterColumnType, compiler: DDLCompiler, **kw: Any) -> str:
    text = (f"{alter(compiler, el)} ALTER COLUMN {col_ref(compiler, el.column)} TYPE "
            f"{compiler.dialect.type_compiler_instance.process(el.type_)}")
    return text + (f" USING {el.using}" if el.using else "")


@compiles(AlterColumnNullable)
def _alter_nullable(el: AlterColumnNullable, compiler: DDLCompiler, **kw: Any) -> str:
    verb = "DROP" if el.nullable else "SET"
    return f"{alter(compiler, el)} ALTER COLUMN {col_ref(compiler, el.column)} {verb} NOT NULL"


@compiles(AlterColumnDefault)
def _alter_default(el: AlterColumnDefault, compiler: DDLCompiler, **kw: Any) -> str:
    head = f"{alter(compiler, el)} ALTER COLUMN {col_ref(compiler, el.column)}"
    if el.default is None:
        return f"{head} DROP DEFAULT"
    return f"{head} SET DEFAULT {default_sql(compiler, el.default)}"


@compiles(ColumnComment)
def _column_comment(el: ColumnComment, compiler: DDLCompiler, **kw: Any) -> str:
    value = ("NULL" if el.comment is None
             else compiler.sql_compiler.render_literal_value(el.comment, sa.String()))
    return (f"COMMENT ON COLUMN {table_ref(compiler, el.table_name, el.schema)}."
            f"{col_ref(compiler, el.column)} IS {value}")


class KeyPart(sa.sql.elements.ColumnElement[Any]):
    """An index key part beyond a plain column: an expression, or a column with an ordering,
    an operator class or a prefix length. Each database's compiler writes what it has (the
    linter refuses the rest before anything renders)."""

    inherit_cache = False

    def __init__(self, inner: Any, part: Any) -> None:
        self.inner = inner
        self.part = part  # the ir.IndexColumn
        self.type = sa.types.NullType()


def key_part_sql(compiler: Any, el: KeyPart, *, opclass: bool = False, nulls: bool = False,
                 length: bool = False) -> str:
    """The SQL of a key part, with the clauses the calling database has."""
    part = el.part
    text = str(compiler.process(el.inner, include_table=False, literal_binds=True))
    if part.expression is not None:
        text = f"({text})"
    if length and part.length:
        text += f"({int(part.length)})"
    if opclass and part.opclass:
        text += f" {part.opclass}"
    if part.order:
        text += f" {part.order.upper()}"
    if nulls and part.nulls:
        text += f" NULLS {part.nulls.upper()}"
    return text


@compiles(KeyPart)
def _key_part(el: KeyPart, compiler: Any, **kw: Any) -> str:
    return key_part_sql(compiler, el)


class DropConstraint(sa.schema.DropConstraint):
    """SQLAlchemy's DROP CONSTRAINT, always compiled by SQLAlchemy's own compiler: Alembic,
    once imported in the same process, replaces that compilation for MySQL with one that
    refuses the literal-binds flag every statement here is compiled with."""

    inherit_cache = False


@compiles(DropConstraint)
def _drop_constraint(el: DropConstraint, compiler: DDLCompiler, **kw: Any) -> str:
    return str(compiler.visit_drop_constraint(el, **kw))  # type: ignore[no-untyped-call]


class UtcNow(sa.sql.functions.FunctionElement[Any]):
    """The current time in UTC as the database computes it: an offline script's version rows
    record when the script ran (and the script stays the same from one generation to the
    next). Each database's render module compiles it its own way."""

    type = sa.DateTime()
    inherit_cache = True
    name = "utc_now"


@compiles(UtcNow)
def _utc_now(el: UtcNow, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"  # UTC on SQLite


class NowDefault(sa.sql.elements.TextClause):
    """A column's default of the current time (`CURRENT_TIMESTAMP`, `now()`: `text`, as
    written) on a column that keeps `digits` fractional digits of a second. MySQL refuses
    `DATETIME(6) DEFAULT CURRENT_TIMESTAMP` (the precision must be the column's throughout),
    so its render module writes CURRENT_TIMESTAMP(6), as create_all() of such models does;
    elsewhere it is the text as written."""

    inherit_cache = False

    def __init__(self, text: str, digits: int) -> None:
        super().__init__(text)
        self.digits = digits


@compiles(NowDefault)
def _now_default(el: NowDefault, compiler: Any, **kw: Any) -> str:
    return str(el.text)
