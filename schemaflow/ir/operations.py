"""The operations: one frozen, slotted dataclass per kind, and `OPERATIONS`, kind → class."""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..typespec import TypeSpec
from .charsets import check_charset
from .parts import (
    CheckDef,
    Collations,
    Column,
    ConstraintType,
    FKAction,
    ForeignKeyDef,
    IndexDef,
    IndexKey,
    IndexMethod,
    Initially,
    IRError,
    PrimaryKeyDef,
    Reference,
    Row,
    SqlDefaults,
    UniqueDef,
    Variant,
    check_scope,
    check_variants,
    check_where_dialects,
    sequence_options,
)
from .parts import Dialect as Dialect  # where the importers and ir/__init__ name it


class Operation:
    """Base of every operation; subclasses are frozen dataclasses with a `kind`."""

    __slots__ = ()
    kind: ClassVar[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTable(Operation):
    """Create a table with its columns and constraints."""

    kind: ClassVar[str] = "create_table"
    name: str
    columns: tuple[Column, ...]
    schema: str | None = None
    comment: str | None = None
    primary_key: PrimaryKeyDef | None = None
    unique: tuple[UniqueDef, ...] = ()
    foreign_keys: tuple[ForeignKeyDef, ...] = ()
    checks: tuple[CheckDef, ...] = ()
    indexes: tuple[IndexDef, ...] = ()
    # SQLite: the key's values are never reused (AUTOINCREMENT; SQLAlchemy's
    # `sqlite_autoincrement`). Other databases build the table without it.
    sqlite_autoincrement: bool = False
    # MySQL and MariaDB: the table's default character set and collation (SQLAlchemy's
    # `mysql_charset`, `mysql_collate`), what its text columns get without a collation of
    # their own. Left out: the database's. Other databases build the table without them.
    mysql_charset: str | None = None
    mysql_collate: str | None = None

    def __post_init__(self) -> None:
        check_charset(self.mysql_charset, self.mysql_collate)


@dataclass(frozen=True, slots=True, kw_only=True)
class DropTable(Operation):
    """Drop a table."""

    kind: ClassVar[str] = "drop_table"
    name: str
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RenameTable(Operation):
    """Rename a table."""

    kind: ClassVar[str] = "rename_table"
    name: str
    new_name: str
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlterTable(Operation):
    """Change a table's comment (`comment: ""` removes it), or its `sqlite_autoincrement`
    (a rebuild on SQLite, nothing elsewhere); what is left out stays."""

    kind: ClassVar[str] = "alter_table"
    name: str
    comment: str | None = None
    schema: str | None = None
    sqlite_autoincrement: bool | None = None

    def __post_init__(self) -> None:
        if self.comment is None and self.sqlite_autoincrement is None:
            raise IRError("alter_table changes `comment` or `sqlite_autoincrement`: give one")


@dataclass(frozen=True, slots=True, kw_only=True)
class AddColumn(Operation):
    """Add a column to a table."""

    kind: ClassVar[str] = "add_column"
    table: str
    column: Column
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DropColumn(Operation):
    """Drop a column."""

    kind: ClassVar[str] = "drop_column"
    table: str
    name: str
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RenameColumn(Operation):
    """Rename a column."""

    kind: ClassVar[str] = "rename_column"
    table: str
    name: str
    new_name: str
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlterColumn(Operation):
    """Change a column's type, nullability, default or comment."""

    kind: ClassVar[str] = "alter_column"
    table: str
    name: str
    schema: str | None = None
    type: TypeSpec | None = None
    nullable: bool | None = None
    default: str | int | float | bool | None = None
    default_sql: str | SqlDefaults | None = None
    drop_default: bool = False
    # `comment: ""` removes the comment.
    comment: str | None = None
    using: str | None = None
    # With `type`: the column's variants and collation from now on (none when left out).
    variants: tuple[Variant, ...] = ()
    collation: str | Collations | None = None

    def __post_init__(self) -> None:
        check_variants(self.variants)
        if self.type is None and (self.variants or self.collation is not None):
            raise IRError("`variants` and `collation` go with `type` (the type as a whole)")


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateIndex(Operation):
    """Create an index."""

    kind: ClassVar[str] = "create_index"
    name: str
    table: str
    columns: tuple[IndexKey, ...]
    schema: str | None = None
    unique: bool = False
    where: str | None = None
    where_dialects: tuple[Dialect, ...] | None = None
    using: IndexMethod | None = None
    include: tuple[str, ...] = ()
    concurrently: bool = False
    # The databases the index exists on (None: every one; `IndexDef.dialects`).
    dialects: tuple[Dialect, ...] | None = None

    def __post_init__(self) -> None:
        check_where_dialects(self.where, self.where_dialects)
        check_scope(self.dialects)

    @classmethod
    def of(cls, i: IndexDef, table: str, schema: str | None) -> CreateIndex:
        """The create_index operation that builds index `i` on `table`."""
        return cls(name=i.name, table=table, schema=schema, columns=i.columns, unique=i.unique,
                   where=i.where, where_dialects=i.where_dialects, using=i.using,
                   include=i.include, dialects=i.dialects)

    @property
    def definition(self) -> IndexDef:
        """The index this operation creates."""
        return IndexDef(name=self.name, columns=self.columns, unique=self.unique,
                        where=self.where, where_dialects=self.where_dialects, using=self.using,
                        include=self.include, dialects=self.dialects)


@dataclass(frozen=True, slots=True, kw_only=True)
class DropIndex(Operation):
    """Drop an index."""

    kind: ClassVar[str] = "drop_index"
    name: str
    table: str
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUniqueConstraint(Operation):
    """Add a unique constraint."""

    kind: ClassVar[str] = "create_unique_constraint"
    name: str
    table: str
    columns: tuple[str, ...]
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateForeignKey(Operation):
    """Add a foreign key."""

    kind: ClassVar[str] = "create_foreign_key"
    name: str
    table: str
    columns: tuple[str, ...]
    references: Reference
    schema: str | None = None
    ondelete: FKAction | None = None
    onupdate: FKAction | None = None
    deferrable: bool | None = None
    initially: Initially | None = None
    not_valid: bool = False

    @property
    def definition(self) -> ForeignKeyDef:
        """The foreign key this operation adds."""
        return ForeignKeyDef(columns=self.columns, references=self.references, name=self.name,
                             ondelete=self.ondelete, onupdate=self.onupdate,
                             deferrable=self.deferrable, initially=self.initially)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateCheckConstraint(Operation):
    """Add a check constraint."""

    kind: ClassVar[str] = "create_check_constraint"
    name: str
    table: str
    expression: str
    schema: str | None = None
    not_valid: bool = False
    dialects: tuple[Dialect, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatePrimaryKey(Operation):
    """Add a primary key."""

    kind: ClassVar[str] = "create_primary_key"
    name: str
    table: str
    columns: tuple[str, ...]
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DropConstraint(Operation):
    """Drop a named constraint."""

    kind: ClassVar[str] = "drop_constraint"
    name: str
    table: str
    type: ConstraintType
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidateConstraint(Operation):
    """Check existing rows against a constraint added with not_valid (PostgreSQL)."""

    kind: ClassVar[str] = "validate_constraint"
    name: str
    table: str
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sql(Operation):
    """Raw SQL statements, with an optional inverse."""

    kind: ClassVar[str] = "sql"
    up: tuple[str, ...]
    down: tuple[str, ...] | None = None
    dialects: tuple[Dialect, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InsertRows(Operation):
    """Insert rows (seed data)."""

    kind: ClassVar[str] = "insert_rows"
    table: str
    rows: tuple[Row, ...]
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteRows(Operation):
    """Delete the rows matching each given mapping of column → value."""

    kind: ClassVar[str] = "delete_rows"
    table: str
    rows: tuple[Row, ...]
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateSequence(Operation):
    """Create a sequence (CREATE SEQUENCE: a counter `nextval()` draws from), its options
    left out where the database's defaults apply."""

    kind: ClassVar[str] = "create_sequence"
    name: str
    schema: str | None = None
    start: int | None = None
    increment: int | None = None
    minvalue: int | None = None
    maxvalue: int | None = None
    cycle: bool | None = None
    cache: int | None = None

    def __post_init__(self) -> None:
        if self.increment == 0:
            raise IRError("a sequence's increment cannot be 0")

    @property
    def options(self) -> dict[str, int | bool]:
        """The options given (left at the database's defaults: none)."""
        return sequence_options(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class DropSequence(Operation):
    """Drop a sequence."""

    kind: ClassVar[str] = "drop_sequence"
    name: str
    schema: str | None = None


OPERATIONS: Mapping[str, type[Operation]] = types.MappingProxyType(
    {
        cls.kind: cls
        for cls in (
            CreateTable,
            DropTable,
            RenameTable,
            AlterTable,
            AddColumn,
            DropColumn,
            RenameColumn,
            AlterColumn,
            CreateIndex,
            DropIndex,
            CreateUniqueConstraint,
            CreateForeignKey,
            CreateCheckConstraint,
            CreatePrimaryKey,
            DropConstraint,
            ValidateConstraint,
            Sql,
            InsertRows,
            DeleteRows,
            CreateSequence,
            DropSequence,
        )
    }
)


