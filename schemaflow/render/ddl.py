"""DDL constructs SQLAlchemy lacks (the ALTER forms), with their generic compilation."""

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


def _alter(compiler: DDLCompiler, el: AlterTable) -> str:
    return f"ALTER TABLE {table_ref(compiler, el.table_name, el.schema)}"


def default_sql(compiler: DDLCompiler, default: Any) -> str:
    """A server-default clause's SQL text (a string default is quoted)."""
    if isinstance(default, str):
        return str(compiler.sql_compiler.render_literal_value(default, sa.String()))
    return str(compiler.sql_compiler.process(default, literal_binds=True))


@compiles(RenameTable)
def _rename_table(el: RenameTable, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{_alter(compiler, el)} RENAME TO {col_ref(compiler, el.new_name)}"


@compiles(AddColumn)
def _add_column(el: AddColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{_alter(compiler, el)} ADD COLUMN {compiler.get_column_specification(el.column)}"


@compiles(DropColumn)
def _drop_column(el: DropColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{_alter(compiler, el)} DROP COLUMN {col_ref(compiler, el.column)}"


@compiles(RenameColumn)
def _rename_column(el: RenameColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return (f"{_alter(compiler, el)} RENAME COLUMN {col_ref(compiler, el.column)} "
            f"TO {col_ref(compiler, el.new_name)}")


@compiles(AlterColumnType)
def _alter_type(el: AlterColumnType, compiler: DDLCompiler, **kw: Any) -> str:
    text = (f"{_alter(compiler, el)} ALTER COLUMN {col_ref(compiler, el.column)} TYPE "
            f"{compiler.dialect.type_compiler_instance.process(el.type_)}")
    return text + (f" USING {el.using}" if el.using else "")


@compiles(AlterColumnNullable)
def _alter_nullable(el: AlterColumnNullable, compiler: DDLCompiler, **kw: Any) -> str:
    verb = "DROP" if el.nullable else "SET"
    return f"{_alter(compiler, el)} ALTER COLUMN {col_ref(compiler, el.column)} {verb} NOT NULL"


@compiles(AlterColumnDefault)
def _alter_default(el: AlterColumnDefault, compiler: DDLCompiler, **kw: Any) -> str:
    head = f"{_alter(compiler, el)} ALTER COLUMN {col_ref(compiler, el.column)}"
    if el.default is None:
        return f"{head} DROP DEFAULT"
    return f"{head} SET DEFAULT {default_sql(compiler, el.default)}"


@compiles(ColumnComment)
def _column_comment(el: ColumnComment, compiler: DDLCompiler, **kw: Any) -> str:
    value = ("NULL" if el.comment is None
             else compiler.sql_compiler.render_literal_value(el.comment, sa.String()))
    return (f"COMMENT ON COLUMN {table_ref(compiler, el.table_name, el.schema)}."
            f"{col_ref(compiler, el.column)} IS {value}")


class ModifyColumn(AlterTable):
    """MySQL `ALTER TABLE t MODIFY COLUMN <full column spec>`."""

    def __init__(self, column: sa.Column[Any]) -> None:
        super().__init__(column.table.name, column.table.schema)
        self.column = column


class ChangeColumn(AlterTable):
    """MySQL `ALTER TABLE t CHANGE COLUMN old <full spec of new>` (rename before 8.0)."""

    def __init__(self, old_name: str, column: sa.Column[Any]) -> None:
        super().__init__(column.table.name, column.table.schema)
        self.old_name = old_name
        self.column = column


class ValidateConstraint(AlterTable):
    """PostgreSQL `ALTER TABLE t VALIDATE CONSTRAINT c`."""

    def __init__(self, table: str, schema: str | None, name: str) -> None:
        super().__init__(table, schema)
        self.name = name


@compiles(ValidateConstraint)
def _validate_constraint(el: ValidateConstraint, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{_alter(compiler, el)} VALIDATE CONSTRAINT {col_ref(compiler, el.name)}"


class AddConstraintNotValid(DDLElement):
    """PostgreSQL `ALTER TABLE t ADD CONSTRAINT ... NOT VALID`."""

    inherit_cache = False

    def __init__(self, constraint: Any) -> None:
        self.constraint = constraint


@compiles(AddConstraintNotValid)
def _add_not_valid(el: AddConstraintNotValid, compiler: DDLCompiler, **kw: Any) -> str:
    from sqlalchemy.schema import AddConstraint

    return f"{compiler.process(AddConstraint(el.constraint))} NOT VALID"


class DropIndexOn(AlterTable):
    """MySQL `DROP INDEX name ON table` for an index schemaflow did not create itself."""

    def __init__(self, table: str, schema: str | None, name: str) -> None:
        super().__init__(table, schema)
        self.name = name


@compiles(DropIndexOn)
def _drop_index_on(el: DropIndexOn, compiler: DDLCompiler, **kw: Any) -> str:
    return (f"DROP INDEX {col_ref(compiler, el.name)} ON "
            f"{table_ref(compiler, el.table_name, el.schema)}")


class RenameEnumType(DDLElement):
    """PostgreSQL `ALTER TYPE old RENAME TO new`."""

    inherit_cache = False

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new


@compiles(RenameEnumType)
def _rename_enum(el: RenameEnumType, compiler: DDLCompiler, **kw: Any) -> str:
    return f"ALTER TYPE {col_ref(compiler, el.old)} RENAME TO {col_ref(compiler, el.new)}"


class EnumAddValue(DDLElement):
    """PostgreSQL `ALTER TYPE name ADD VALUE 'v'`."""

    inherit_cache = False

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value


@compiles(ModifyColumn)
def _modify_column(el: ModifyColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{_alter(compiler, el)} MODIFY COLUMN {compiler.get_column_specification(el.column)}"


@compiles(ChangeColumn)
def _change_column(el: ChangeColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return (f"{_alter(compiler, el)} CHANGE COLUMN {col_ref(compiler, el.old_name)} "
            f"{compiler.get_column_specification(el.column)}")


@compiles(EnumAddValue)
def _enum_add_value(el: EnumAddValue, compiler: DDLCompiler, **kw: Any) -> str:
    value = compiler.sql_compiler.render_literal_value(el.value, sa.String())
    return f"ALTER TYPE {col_ref(compiler, el.name)} ADD VALUE {value}"
