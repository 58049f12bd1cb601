"""The typed changeset IR: frozen dataclasses for a changeset and its operations, `parse` and
`dump` between them and the documents (driven by each dataclass's field types; `OPERATIONS`
maps an operation's key to its class), and the changeset `checksum`."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar, Union, overload

from .typespec import TypeSpec, TypeSyntaxError, dump_type, parse_type

Value = str | int | float | bool | None
Row = dict[str, Value]
FKAction = Literal["CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION"]
ConstraintType = Literal["unique", "foreign_key", "check", "primary_key"]

class IRError(ValueError):
    """A document that does not form a valid operation; `path` locates it in the document."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


# --- building blocks -------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ForeignKeyDef:
    """A foreign key inside `create_table`."""

    columns: tuple[str, ...]
    references: Reference
    name: str | None = None
    ondelete: FKAction | None = None
    onupdate: FKAction | None = None


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


# --- operations ------------------------------------------------------------------------------


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
    """Change a table's comment (`comment: ""` removes it)."""

    kind: ClassVar[str] = "alter_table"
    name: str
    comment: str
    schema: str | None = None


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
    default_sql: str | None = None
    drop_default: bool = False
    # `comment: ""` removes the comment.
    comment: str | None = None
    using: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateIndex(Operation):
    """Create an index."""

    kind: ClassVar[str] = "create_index"
    name: str
    table: str
    columns: tuple[str, ...]
    schema: str | None = None
    unique: bool = False
    where: str | None = None
    concurrently: bool = False


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
    not_valid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateCheckConstraint(Operation):
    """Add a check constraint."""

    kind: ClassVar[str] = "create_check_constraint"
    name: str
    table: str
    expression: str
    schema: str | None = None
    not_valid: bool = False


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


Dialect = Literal["sqlite", "postgresql", "mysql", "mariadb"]


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
        )
    }
)


Body = tuple[tuple[Operation, ...], tuple[Operation, ...] | None]  # operations, rollback
T = TypeVar("T")


class Deferred:
    """A changeset's body still to be loaded, and what is known of it meanwhile: a cache
    revives each changeset with one (a subclass that says how to `load` it), so that listings
    never decode operations."""

    __slots__ = ("checksum", "kinds")

    def __init__(self, kinds: tuple[str, ...], checksum: str) -> None:
        self.kinds = kinds
        self.checksum = checksum

    def load(self) -> Body:
        """The operations and rollback."""
        raise NotImplementedError


class _BodyField(Generic[T]):
    """`Changeset.operations` and `.rollback`: the value given, or a Deferred that the first
    read of either loads for both. The value lives in the instance dict as `_<name>`, written
    there as functools.cached_property writes its value: a frozen dataclass refuses setattr,
    and object.__setattr__ made reviving 10,000 cached changesets 10% slower."""

    def __init__(self, index: int, *default: T) -> None:
        self.index, self.default = index, default

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = f"_{name}"

    @overload
    def __get__(self, cs: None, owner: type) -> _BodyField[T]: ...
    @overload
    def __get__(self, cs: Changeset, owner: type) -> T: ...
    def __get__(self, cs: Changeset | None, owner: type) -> T | _BodyField[T]:
        if cs is None:  # the dataclass asking for a default: only rollback has one
            if self.default:
                return self.default[0]
            raise AttributeError(self.attr)
        stored = cs.__dict__
        value = stored[self.attr]
        if isinstance(value, Deferred):
            body = value.load()
            # Both body fields at once, and the checksum they leave known.
            stored["_operations"], stored["_rollback"] = body
            object.__setattr__(cs, "_checksum", value.checksum)
            value = body[self.index]
        return typing.cast(T, value)

    def __set__(self, cs: Changeset, value: T | Deferred) -> None:
        cs.__dict__[self.attr] = value


# Not slotted: `operations` and `rollback` are descriptors, which a slot of the same name
# would replace. There is one Changeset per file; the operations are slotted.
@dataclass(frozen=True, kw_only=True)
class Changeset:
    """One changeset file, parsed."""

    id: str
    parents: tuple[str, ...]
    message: str
    operations: _BodyField[tuple[Operation, ...]] = _BodyField(0)
    author: str | None = None
    depends_on: tuple[str, ...] = ()
    branch_labels: tuple[str, ...] = ()
    tag: str | None = None
    transactional: bool | None = None
    rollback: _BodyField[tuple[Operation, ...] | None] = _BodyField(1, None)
    lint_ignore: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    path: str | None = field(default=None, compare=False)
    # `checksum` once known (unset until then, which keeps construction cheap); replace()
    # starts over, as it may change the operations.
    _checksum: str = field(init=False, repr=False, compare=False)

    @property
    def deferred(self) -> Deferred | None:
        """The body as given to be loaded later, until it is loaded."""
        value = self.__dict__["_operations"]  # the field's storage (see _BodyField)
        return value if isinstance(value, Deferred) else None

    @property
    def operation_kinds(self) -> tuple[str, ...]:
        """The kinds of its operations (known without loading a deferred body)."""
        value = self.__dict__["_operations"]
        if isinstance(value, Deferred):
            return value.kinds
        return tuple(op.kind for op in self.operations)

    @property
    def all_parents(self) -> tuple[str, ...]:
        """Parents and cross-branch dependencies: everything that must be applied first."""
        return self.parents + tuple(d for d in self.depends_on if d not in self.parents)


# --- parse and dump, driven by the dataclass field types -------------------------------------

_ROW_VALUE = (str, int, float, bool, type(None))


@functools.cache
def _hints(cls: type) -> Mapping[str, Any]:
    # Once per class, on its first parse: get_type_hints is too slow to call per parse, and
    # commands that only list changesets never parse one.
    return types.MappingProxyType(typing.get_type_hints(cls))


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return True, (args[0] if len(args) == 1 else Union[tuple(args)])  # noqa: UP007
    return False, tp


def _parse_value(tp: Any, value: Any, path: tuple[str | int, ...]) -> Any:
    optional, inner = _is_optional(tp)
    if value is None:
        if optional:
            return None
        raise IRError("must not be null", path)
    tp = inner
    origin = typing.get_origin(tp)
    if tp is TypeSpec:
        if not isinstance(value, str):
            raise IRError("a type must be a string such as integer or string(50)", path)
        try:
            return parse_type(value)
        except TypeSyntaxError as exc:
            raise IRError(str(exc), path) from None
    if tp is str:
        if not isinstance(value, str):
            raise IRError(f"must be a string, not {value!r}", path)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise IRError(f"must be true or false, not {value!r}", path)
        return value
    if origin is Literal:
        if value not in typing.get_args(tp):
            allowed = ", ".join(map(str, typing.get_args(tp)))
            raise IRError(f"must be one of {allowed}, not {value!r}", path)
        return value
    if origin is tuple:
        item_tp = typing.get_args(tp)[0]
        if isinstance(value, str) and item_tp is str and path and path[-1] in ("up", "down"):
            return (value,)
        if not isinstance(value, list):
            raise IRError(f"must be a list, not {value!r}", path)
        return tuple(_parse_value(item_tp, v, (*path, i)) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise IRError("must be a mapping of column to value", path)
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, _ROW_VALUE):
                raise IRError(f"{k!r}: a row value must be a string, number, boolean or null", path)
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return _parse_fields(typing.cast(type, tp), value, path)
    if isinstance(value, (str, int, float, bool)):
        return value
    raise IRError(f"must be a string, number or boolean, not {value!r}", path)


def _parse_fields(cls: type, doc: Any, path: tuple[str | int, ...]) -> Any:
    if not isinstance(doc, dict):
        raise IRError(f"must be a mapping, not {doc!r}", path)
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in doc:
        if key not in names:
            raise IRError(f"unknown key '{key}'", (*path, key))
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in doc:
            kwargs[f.name] = _parse_value(hints[f.name], doc[f.name], (*path, f.name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise IRError(f"missing required key '{f.name}'", path)
    return cls(**kwargs)


def parse_operation(doc: Any, path: tuple[str | int, ...] = ()) -> Operation:
    """Parse one `{kind: {...}}` mapping into its operation."""
    if not isinstance(doc, dict) or len(doc) != 1:
        raise IRError("an operation is a mapping with exactly one key, its name", path)
    ((kind, body),) = doc.items()
    cls = OPERATIONS.get(kind)
    if cls is None:
        raise IRError(f"unknown operation '{kind}'", (*path, kind))
    op: Operation = _parse_fields(cls, body if body is not None else {}, (*path, kind))
    return op


def _parse_ops(doc: Any, path: tuple[str | int, ...]) -> tuple[Operation, ...]:
    if not isinstance(doc, list):
        raise IRError("must be a list of operations", path)
    return tuple(parse_operation(d, (*path, i)) for i, d in enumerate(doc))


_CHANGESET_KEYS = (
    "schemaflow",
    "id",
    "parents",
    "message",
    "author",
    "depends_on",
    "branch_labels",
    "tag",
    "transactional",
    "operations",
    "rollback",
    "lint",
    "replaces",
)


def parse(doc: Any, path: str | None = None) -> Changeset:
    """Parse a whole changeset document (already loaded from YAML or TOML)."""
    if not isinstance(doc, dict):
        raise IRError("a changeset must be a mapping at the top level")
    for key in doc:
        if key not in _CHANGESET_KEYS:
            raise IRError(f"unknown key '{key}'", (key,))
    for key in ("schemaflow", "id", "parents", "message", "operations"):
        if key not in doc:
            raise IRError(f"missing required key '{key}'")
    if doc["schemaflow"] != 1 or isinstance(doc["schemaflow"], bool):
        raise IRError("unsupported format version (this schemaflow reads 1)", ("schemaflow",))
    hints = _hints(Changeset)
    kwargs: dict[str, Any] = {"path": path}
    for key in ("id", "parents", "message", "author", "depends_on", "branch_labels", "tag",
                "transactional", "replaces"):
        if key in doc:
            kwargs[key] = _parse_value(hints[key], doc[key], (key,))
    kwargs["operations"] = _parse_ops(doc["operations"], ("operations",))
    if doc.get("rollback") is not None:
        kwargs["rollback"] = _parse_ops(doc["rollback"], ("rollback",))
    lint = doc.get("lint")
    if lint is not None:
        if not isinstance(lint, dict) or set(lint) - {"ignore"}:
            raise IRError("lint takes only 'ignore: [codes]'", ("lint",))
        kwargs["lint_ignore"] = _parse_value(tuple[str, ...], lint.get("ignore", []),
                                             ("lint", "ignore"))
    return Changeset(**kwargs)


def _dump_value(value: Any) -> Any:
    if isinstance(value, TypeSpec):
        return dump_type(value)
    if isinstance(value, tuple):
        return [_dump_value(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    if dataclasses.is_dataclass(value):
        return _dump_fields(value)
    return value


def _dump_fields(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if not f.compare:
            continue
        value = getattr(obj, f.name)
        if f.default is not dataclasses.MISSING and value == f.default and (
            type(value) is type(f.default)
        ):
            continue
        if f.name in ("up", "down") and isinstance(value, tuple) and len(value) == 1:
            out[f.name] = value[0]
            continue
        out[f.name] = _dump_value(value)
    return out


def dump_operation(op: Operation) -> dict[str, Any]:
    """The `{kind: {...}}` mapping of an operation; `parse_operation(dump_operation(o)) == o`."""
    return {op.kind: _dump_fields(op)}


def dump(cs: Changeset) -> dict[str, Any]:
    """The document of a changeset, in the contract's key order."""
    doc: dict[str, Any] = {"schemaflow": 1, "id": cs.id, "parents": list(cs.parents),
                           "message": cs.message}
    if cs.author is not None:
        doc["author"] = cs.author
    for key in ("depends_on", "branch_labels", "replaces"):
        if getattr(cs, key):
            doc[key] = list(getattr(cs, key))
    if cs.tag is not None:
        doc["tag"] = cs.tag
    if cs.transactional is not None:
        doc["transactional"] = cs.transactional
    if cs.lint_ignore:
        doc["lint"] = {"ignore": list(cs.lint_ignore)}
    doc["operations"] = [dump_operation(op) for op in cs.operations]
    if cs.rollback is not None:
        doc["rollback"] = [dump_operation(op) for op in cs.rollback]
    return doc


CHECKSUM_VERSION = "v1"


def checksum(cs: Changeset) -> str:
    """Versioned hash of what a changeset does to the database: its operations, rollback and
    transactional flag. Formatting, comments, the message and its place in the graph don't
    count (so squashing, or re-parenting in a merge, leaves applied checksums valid).
    Computed once per changeset: the parse cache keeps it with the changeset."""
    deferred = cs.deferred
    if deferred is not None:
        return deferred.checksum
    known: str | None = getattr(cs, "_checksum", None)
    if known is not None:
        return known
    doc = dump(cs)
    for key in ("id", "parents", "depends_on", "replaces", "message", "author", "tag",
                "branch_labels", "lint"):
        doc.pop(key, None)
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    value = f"{CHECKSUM_VERSION}:{hashlib.sha256(canonical.encode()).hexdigest()}"
    object.__setattr__(cs, "_checksum", value)  # a frozen dataclass's memo, as in __init__
    return value
