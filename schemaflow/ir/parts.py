"""The building blocks of operations: columns, constraints, indexes, and the error a document
that does not form them raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..typespec import TypeSpec

Value = str | int | float | bool | None
Row = dict[str, Value]
FKAction = Literal["CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION"]
Initially = Literal["deferred", "immediate"]
ConstraintType = Literal["unique", "foreign_key", "check", "primary_key"]

class IRError(ValueError):
    """A document that does not form a valid operation; `path` locates it in the document."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """A column definition, as in `create_table.columns` and `add_column.column`."""

    name: str
    type: TypeSpec
    nullable: bool | None = None
    primary_key: bool = False
    unique: bool = False
    index: bool = False
    autoincrement: bool | None = None
    default: str | int | float | bool | None = None
    default_sql: str | None = None
    comment: str | None = None

    @property
    def is_nullable(self) -> bool:
        """Nullability with the contract's default (true, false for primary keys)."""
        return (not self.primary_key) if self.nullable is None else self.nullable

    def default_change(self) -> dict[str, Any]:
        """The alter_column keys that give a column this column's default (or none)."""
        if self.default is not None:
            return {"default": self.default}
        if self.default_sql is not None:
            return {"default_sql": self.default_sql}
        return {"drop_default": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    """The referenced side of a foreign key."""

    table: str
    columns: tuple[str, ...]
    schema: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PrimaryKeyDef:
    """A table's primary key."""

    columns: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UniqueDef:
    """A unique constraint inside `create_table`."""

    columns: tuple[str, ...]
    name: str | None = None


def deferral(deferrable: bool | None, initially: Initially | None) -> tuple[bool, bool]:
    """(deferrable, initially deferred) as a database holds a foreign key's `deferrable`
    and `initially`: `initially: deferred` alone makes it deferrable, as on PostgreSQL (with
    `deferrable: false` it is refused, SF116)."""
    return bool(deferrable) or initially == "deferred", initially == "deferred"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForeignKeyDef:
    """A foreign key inside `create_table`."""

    columns: tuple[str, ...]
    references: Reference
    name: str | None = None
    ondelete: FKAction | None = None
    onupdate: FKAction | None = None
    deferrable: bool | None = None
    initially: Initially | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckDef:
    """A check constraint inside `create_table`."""

    expression: str
    name: str | None = None
    # Added NOT VALID and not validated since: existing rows are unproven (PostgreSQL).
    not_valid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexDef:
    """An index inside `create_table`."""

    name: str
    columns: tuple[str, ...]
    unique: bool = False
    where: str | None = None


