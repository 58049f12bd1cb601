"""The typed changeset IR: frozen dataclasses for a changeset and its operations (`parts`,
`operations`, `changeset`), and `parse` / `dump` / `checksum` between them and the documents
(`codec`, driven by each dataclass's field types; `OPERATIONS` maps a kind to its class)."""

from __future__ import annotations

from .changeset import Body, Changeset, Deferred
from .codec import (
    CHECKSUM_VERSION,
    checksum,
    dump,
    dump_operation,
    parse,
    parse_operation,
    same_checksum,
)
from .operations import (
    OPERATIONS,
    AddColumn,
    AlterColumn,
    AlterTable,
    CreateCheckConstraint,
    CreateForeignKey,
    CreateIndex,
    CreatePrimaryKey,
    CreateTable,
    CreateUniqueConstraint,
    DeleteRows,
    Dialect,
    DropColumn,
    DropConstraint,
    DropIndex,
    DropTable,
    InsertRows,
    Operation,
    RenameColumn,
    RenameTable,
    Sql,
    ValidateConstraint,
)
from .parts import (
    CheckDef,
    Column,
    ConstraintType,
    FKAction,
    ForeignKeyDef,
    IndexDef,
    IRError,
    PrimaryKeyDef,
    Reference,
    Row,
    UniqueDef,
    Value,
)

__all__ = [
    "CHECKSUM_VERSION", "OPERATIONS", "AddColumn", "AlterColumn", "AlterTable", "Body",
    "Changeset", "CheckDef", "Column", "ConstraintType", "CreateCheckConstraint",
    "CreateForeignKey", "CreateIndex", "CreatePrimaryKey", "CreateTable",
    "CreateUniqueConstraint", "Deferred", "DeleteRows", "Dialect", "DropColumn",
    "DropConstraint", "DropIndex", "DropTable", "FKAction", "ForeignKeyDef", "IRError",
    "IndexDef", "InsertRows", "Operation", "PrimaryKeyDef", "Reference", "RenameColumn",
    "RenameTable", "Row", "Sql", "UniqueDef", "ValidateConstraint", "Value", "checksum", "dump",
    "dump_operation", "parse", "parse_operation", "same_checksum",
]
