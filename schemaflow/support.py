"""What each database can do with an operation, checked without building any SQL.

Every renderer runs these checks before it renders, and the linter runs them alone (rule
SF331) for `--dialect` or the URL's database. This module imports no SQLAlchemy, so that
linting for a dialect costs no more than linting without one.
"""

from __future__ import annotations

from typing import ClassVar

from . import ir
from .capabilities import capabilities
from .errors import UsageError
from .state import SchemaState, apply
from .typespec import TypeSpec

SUPPORTED = ("sqlite", "postgresql", "mysql", "mariadb")


def enum_name(spec: TypeSpec, table: str, column: str) -> str:
    """The enum's type name: the one given, else `<table>_<column>_enum`."""
    return spec.kwarg("name") or f"{table}_{column}_enum"


def types_in(op: ir.Operation) -> list[TypeSpec]:
    """Every column type an operation names."""
    if isinstance(op, ir.CreateTable):
        return [c.type for c in op.columns]
    if isinstance(op, ir.AddColumn):
        return [op.column.type]
    if isinstance(op, ir.AlterColumn) and op.type is not None:
        return [op.type]
    return []


class Support:
    """One database (and server version): its capabilities, and the operations it refuses."""

    name: ClassVar[str] = "default"
    sql_dialects: ClassVar[tuple[str, ...]] = ()
    type_dialects: ClassVar[tuple[str, ...]] = ()

    def __init__(self, server_version: tuple[int, ...] | None = None) -> None:
        self.server_version = server_version
        self.caps = capabilities(self.name, server_version)
        self.transactional_ddl = self.caps.transactional_ddl

    def check(self, op: ir.Operation, before: SchemaState) -> None:
        """Raise UsageError when this database cannot do `op`."""
        for spec in types_in(op):
            if spec.dialect and spec.dialect not in self.type_dialects:
                raise UsageError(
                    f"the type {spec} is {spec.dialect}'s; this database is {self.name}",
                    hint="use a generic type, or put the column in a sql operation with "
                         "`dialects:`")
        if isinstance(op, ir.CreateIndex) and op.where is not None and not (
                self.caps.partial_index):
            raise UsageError(f"{self.name} has no partial indexes: index '{op.name}' has "
                             "`where`", hint="drop `where`, or use a sql operation with "
                             "`dialects:` for the databases that have them")


class SQLiteSupport(Support):
    """SQLite."""

    name: ClassVar[str] = "sqlite"
    sql_dialects: ClassVar[tuple[str, ...]] = ("sqlite",)
    type_dialects: ClassVar[tuple[str, ...]] = ("sqlite",)


def enum_types(state: SchemaState) -> dict[str, tuple[str, ...]]:
    """Every enum type the columns of `state` use, by type name."""
    found: dict[str, tuple[str, ...]] = {}
    for t in state.tables.values():
        for c in t.columns:
            if c.type.name == "enum":
                found.setdefault(enum_name(c.type, t.name, c.name),
                                 tuple(str(a) for a in c.type.args))
    return found


def may_change_enums(op: ir.Operation, before: SchemaState) -> bool:
    """Whether `op` can create, extend, rename or drop an enum type: only table and column
    operations on a table with an enum column, or that bring one. (enum_types reads the
    whole schema; asked for every operation, planning a long history grew quadratic.)"""
    if isinstance(op, ir.CreateTable):
        return any(c.type.name == "enum" for c in op.columns)
    if isinstance(op, (ir.DropTable, ir.RenameTable)):
        key = (op.schema, op.name)
    elif isinstance(op, (ir.AddColumn, ir.DropColumn, ir.RenameColumn, ir.AlterColumn)):
        key = (op.schema, op.table)
        if isinstance(op, ir.AddColumn) and op.column.type.name == "enum":
            return True
        if isinstance(op, ir.AlterColumn) and op.type is not None and op.type.name == "enum":
            return True
    else:
        return False
    t = before.tables.get(key)
    return t is not None and any(c.type.name == "enum" for c in t.columns)


class PostgreSQLSupport(Support):
    """PostgreSQL: an enum type can gain values, never lose them."""

    name: ClassVar[str] = "postgresql"
    sql_dialects: ClassVar[tuple[str, ...]] = ("postgresql",)
    type_dialects: ClassVar[tuple[str, ...]] = ("postgresql",)

    def check(self, op: ir.Operation, before: SchemaState) -> None:
        super().check(op, before)
        if not isinstance(op, (ir.AlterColumn, ir.AddColumn, ir.CreateTable)) or (
                not may_change_enums(op, before)):
            return
        old, new = enum_types(before), enum_types(apply(before, op))
        for name, values in new.items():
            removed = [v for v in old.get(name, ()) if v not in values]
            if removed:
                raise UsageError(
                    f"PostgreSQL cannot remove values from the enum type '{name}' "
                    f"({', '.join(removed)})",
                    hint="create a new type and move the column to it with a sql operation")


class MySQLSupport(Support):
    """MySQL: no USING on a type change; CHECK constraints only on recent servers."""

    name: ClassVar[str] = "mysql"
    sql_dialects: ClassVar[tuple[str, ...]] = ("mysql",)
    type_dialects: ClassVar[tuple[str, ...]] = ("mysql",)

    def check(self, op: ir.Operation, before: SchemaState) -> None:
        super().check(op, before)
        if isinstance(op, ir.AlterColumn) and op.using is not None:
            raise UsageError(f"{self.name} has no USING clause for a type change "
                             f"(alter_column {op.table}.{op.name})",
                             hint="convert the data with a sql operation first")
        if isinstance(op, ir.CreateCheckConstraint) and not self.caps.check_constraints:
            raise UsageError(f"this {self.name} server ignores CHECK constraints "
                             f"('{op.name}')", hint="MySQL 8.0.16+ or MariaDB 10.2.1+")


class MariaDBSupport(MySQLSupport):
    """MariaDB: MySQL's rules, MariaDB's capabilities."""

    name: ClassVar[str] = "mariadb"
    sql_dialects: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")


def support_for(dialect: str, server_version: tuple[int, ...] | None = None) -> Support:
    """What `dialect` (a SQLAlchemy dialect name) can do; UsageError for an unknown one."""
    kinds: dict[str, type[Support]] = {
        "sqlite": SQLiteSupport, "postgresql": PostgreSQLSupport, "mysql": MySQLSupport,
        "mariadb": MariaDBSupport}
    if dialect not in kinds:
        raise UsageError(f"the dialect '{dialect}' is not supported yet",
                         hint=f"supported: {', '.join(SUPPORTED)}")
    return kinds[dialect](server_version)
