"""The typed changeset IR: frozen dataclasses for a changeset and its operations (`parts`,
`operations`, `changeset`), and `parse` / `dump` / `checksum` between them and the documents
(`codec`, driven by each dataclass's field types; `OPERATIONS` maps a kind to its class)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Loaded on first use (PEP 562): a listing served by the cache needs `Changeset` alone, and
# the operations' 48 dataclasses cost a command's start-up ~40 ms to build.
if TYPE_CHECKING:
    from .changeset import Body, Changeset, Deferred
    from .checksums import CHECKSUM_VERSION, checksum, same_checksum
    from .codec import dump, dump_operation, parse, parse_operation
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
        Computed,
        ConstraintType,
        Dialect,
        FKAction,
        ForeignKeyDef,
        Identity,
        IndexColumn,
        IndexDef,
        IndexKey,
        IndexMethod,
        IRError,
        PrimaryKeyDef,
        Reference,
        Row,
        UniqueDef,
        Value,
        Variant,
        key_columns,
        key_text,
        normal_keys,
        plain_columns,
        variants_text,
    )

_WHERE = {
    "Body": "changeset",
    "Changeset": "changeset",
    "Deferred": "changeset",
    "CHECKSUM_VERSION": "checksums",
    "checksum": "checksums",
    "dump": "codec",
    "dump_operation": "codec",
    "parse": "codec",
    "parse_operation": "codec",
    "same_checksum": "checksums",
    "OPERATIONS": "operations",
    "AddColumn": "operations",
    "AlterColumn": "operations",
    "AlterTable": "operations",
    "CreateCheckConstraint": "operations",
    "CreateForeignKey": "operations",
    "CreateIndex": "operations",
    "CreatePrimaryKey": "operations",
    "CreateTable": "operations",
    "CreateUniqueConstraint": "operations",
    "DeleteRows": "operations",
    "DropColumn": "operations",
    "DropConstraint": "operations",
    "DropIndex": "operations",
    "DropTable": "operations",
    "InsertRows": "operations",
    "Operation": "operations",
    "RenameColumn": "operations",
    "RenameTable": "operations",
    "Sql": "operations",
    "ValidateConstraint": "operations",
    "CheckDef": "parts",
    "Column": "parts",
    "Computed": "parts",
    "ConstraintType": "parts",
    "Dialect": "parts",
    "FKAction": "parts",
    "ForeignKeyDef": "parts",
    "Identity": "parts",
    "IndexColumn": "parts",
    "IndexDef": "parts",
    "IndexKey": "parts",
    "IndexMethod": "parts",
    "IRError": "parts",
    "PrimaryKeyDef": "parts",
    "Reference": "parts",
    "Row": "parts",
    "UniqueDef": "parts",
    "Value": "parts",
    "Variant": "parts",
    "key_columns": "parts",
    "key_text": "parts",
    "normal_keys": "parts",
    "plain_columns": "parts",
    "variants_text": "parts",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later reads find it without this call
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "CHECKSUM_VERSION",
    "OPERATIONS",
    "AddColumn",
    "AlterColumn",
    "AlterTable",
    "Body",
    "Changeset",
    "CheckDef",
    "Column",
    "Computed",
    "ConstraintType",
    "CreateCheckConstraint",
    "CreateForeignKey",
    "CreateIndex",
    "CreatePrimaryKey",
    "CreateTable",
    "CreateUniqueConstraint",
    "Deferred",
    "DeleteRows",
    "Dialect",
    "DropColumn",
    "DropConstraint",
    "DropIndex",
    "DropTable",
    "FKAction",
    "ForeignKeyDef",
    "IRError",
    "Identity",
    "IndexColumn",
    "IndexDef",
    "IndexKey",
    "IndexMethod",
    "InsertRows",
    "Operation",
    "PrimaryKeyDef",
    "Reference",
    "RenameColumn",
    "RenameTable",
    "Row",
    "Sql",
    "UniqueDef",
    "ValidateConstraint",
    "Value",
    "Variant",
    "checksum",
    "dump",
    "dump_operation",
    "key_columns",
    "key_text",
    "normal_keys",
    "parse",
    "parse_operation",
    "plain_columns",
    "same_checksum",
    "variants_text",
]
