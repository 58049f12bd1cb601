"""The building blocks of operations: columns, constraints, indexes, and the error a document
that does not form them raises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ..typespec import TypeSpec

# A row's value: a json column's may also be a mapping or a list (a JSON object or array).
Value = str | int | float | bool | None | dict[str, Any] | list[Any]
Row = dict[str, Value]
FKAction = Literal["CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION"]
Initially = Literal["deferred", "immediate"]
ConstraintType = Literal["unique", "foreign_key", "check", "primary_key"]
IndexMethod = Literal["btree", "hash", "gin", "gist", "brin", "spgist"]
# The databases an operation or a type variant may be scoped to.
Dialect = Literal["sqlite", "postgresql", "mysql", "mariadb"]

class IRError(ValueError):
    """A document that does not form a valid operation; `path` locates it in the document."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True, slots=True, kw_only=True)
class Computed:
    """A generated column's expression; `stored` None is the database's default kind."""

    expression: str
    stored: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """An identity column (GENERATED ... AS IDENTITY) and its sequence options."""

    always: bool = False
    start: int | None = None
    increment: int | None = None
    minvalue: int | None = None
    maxvalue: int | None = None
    cycle: bool | None = None
    cache: int | None = None

    @property
    def options(self) -> dict[str, int | bool]:
        """The sequence options given (left at their defaults: none)."""
        return sequence_options(self)


# A sequence's options (an identity column's, and `create_sequence`'s).
SEQUENCE_OPTIONS = ("start", "increment", "minvalue", "maxvalue", "cycle", "cache")


def sequence_options(obj: object) -> dict[str, int | bool]:
    """The sequence options `obj` gives (those left out: none)."""
    return {k: v for k in SEQUENCE_OPTIONS if (v := getattr(obj, k)) is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSequence:
    """The sequence a column's values are drawn from (SQLAlchemy's `Sequence` on a column):
    created with the column where the database has sequences (the application draws
    `nextval` on insert; the column has no default of its own there), and where it has
    none the column is numbered as the database numbers a key."""

    name: str
    schema: str | None = None
    start: int | None = None
    increment: int | None = None
    minvalue: int | None = None
    maxvalue: int | None = None
    cycle: bool | None = None
    cache: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """A column's type on some databases instead of its `type` (SQLAlchemy's with_variant):
    `dialect` names them as a `sql` operation's `dialects:` does."""

    dialect: Dialect
    type: TypeSpec


class _PerDatabase:
    """A text per database (a mapping of database name to text): a database named gets its
    own, MariaDB MySQL's unless named, the others none."""

    __slots__ = ()
    _what: ClassVar[str]
    _NAMES: ClassVar[tuple[str, ...]] = ("mariadb", "mysql", "postgresql", "sqlite")

    def __post_init__(self) -> None:
        if all(getattr(self, n) is None for n in self._NAMES):
            raise IRError(f"a {self._what} per database names at least one database")
        if any(getattr(self, n) == "" for n in self._NAMES):
            raise IRError(f"a {self._what} per database is never empty")

    def on(self, names: tuple[str, ...]) -> str | None:
        """The text on the database whose variant keys are `names` (most specific first, as
        a type variant is picked)."""
        return next((c for n in names if (c := getattr(self, n, None)) is not None), None)

    def __str__(self) -> str:
        return "{" + ", ".join(f"{n}: {getattr(self, n)}" for n in self._NAMES
                               if getattr(self, n) is not None) + "}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Collations(_PerDatabase):
    """A column's collation per database (`collation: {mysql: utf8mb4_bin, postgresql: C}`):
    a database named gets its own, MariaDB MySQL's unless named, the others their default
    (SQLAlchemy's `with_variant` of a type with another collation)."""

    _what: ClassVar[str] = "collation"
    mariadb: str | None = None
    mysql: str | None = None
    postgresql: str | None = None
    sqlite: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlDefaults(_PerDatabase):
    """A column's default as SQL per database (`default_sql: {postgresql: now(), sqlite:
    ...}`, a `@compiles` override of the models' server default): a database named gets its
    own, MariaDB MySQL's unless named, the others no default."""

    _what: ClassVar[str] = "default"
    mariadb: str | None = None
    mysql: str | None = None
    postgresql: str | None = None
    sqlite: str | None = None


# A column's collation: on every database (a name), per database, or none.
Collation = str | Collations | None


def variants_text(variants: tuple[Variant, ...]) -> str:
    """Variants as a person reads them: `postgresql: postgresql.jsonb, mysql: ...`."""
    return ", ".join(f"{v.dialect}: {v.type}" for v in variants)


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
    # SQL, on every database or per database.
    default_sql: str | SqlDefaults | None = None
    comment: str | None = None
    computed: Computed | None = None
    identity: Identity | None = None
    sequence: ColumnSequence | None = None
    # The type on some databases instead of `type`, in database-name order.
    variants: tuple[Variant, ...] = ()
    # The collation of a string column's values (`C`, `utf8mb4_bin`), as the database names
    # it: on every database, or per database.
    collation: str | Collations | None = None

    def __post_init__(self) -> None:
        # Run for every column built (a parse, a cached body decoded, each state change):
        # the common case (no variants, at most one source of values) is decided first.
        if self.variants:
            check_variants(self.variants)
        if ((self.default is not None) + (self.default_sql is not None)
                + (self.computed is not None) + (self.identity is not None)
                + (self.sequence is not None)) > 1:
            made = [k for k in ("default", "default_sql", "computed", "identity", "sequence")
                    if getattr(self, k) is not None]
            raise IRError(f"column '{self.name}' has {' and '.join(made)}: a column's values "
                          "come from one of them")

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


def check_variants(variants: tuple[Variant, ...]) -> None:
    """Each database once, in name order (the one spelling of a mapping)."""
    names = [v.dialect for v in variants or ()]
    if names != sorted(set(names)):
        raise IRError("variants name each database once, in name order")


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
    # Only these databases have it (the CHECK of a boolean where there is no native one).
    dialects: tuple[Dialect, ...] | None = None


_TRAILING_ORDER = re.compile(r"\s(ASC|DESC|NULLS\s+(FIRST|LAST))\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexColumn:
    """One key part of an index written as a mapping: a column (`name`) or an `expression`,
    with its ordering, PostgreSQL operator class and MySQL prefix length."""

    name: str | None = None
    expression: str | None = None
    order: Literal["asc", "desc"] | None = None
    nulls: Literal["first", "last"] | None = None
    opclass: str | None = None
    length: int | None = None

    def __post_init__(self) -> None:
        if (self.name is None) == (self.expression is None):
            raise IRError("an index key part names either a column (`name`) or an "
                          "`expression`, not both")
        if self.length is not None and (self.expression is not None or self.length < 1):
            raise IRError("`length` is a positive prefix length of a column")
        if self.expression is not None and _TRAILING_ORDER.search(self.expression):
            # Rendered in parentheses, `(x DESC)` is a syntax error on every database.
            raise IRError("an index `expression` holds no ordering: write `order: desc` (and "
                          "`nulls: first|last`) beside it, or `name:` for a plain column")

    @property
    def plain(self) -> str | None:
        """The column name when this part is just a column, in ascending order."""
        if self.name is not None and self.order in (None, "asc") and not (
                self.nulls or self.opclass or self.length):
            return self.name
        return None


# An index key part: a column name, or a mapping for anything more.
IndexKey = str | IndexColumn


def key_text(k: IndexKey) -> str:
    """A key part as a person reads it: `email`, `created_at DESC NULLS LAST`,
    `(lower(email)) text_pattern_ops`, `bio(100)` (a prefix length)."""
    if isinstance(k, str):
        return k
    text = k.name if k.name is not None else f"({k.expression})"
    return (text + (f"({k.length})" if k.length is not None else "")
            + (f" {k.opclass}" if k.opclass else "") + (" DESC" if k.order == "desc" else "")
            + (f" NULLS {k.nulls.upper()}" if k.nulls else ""))


def key_columns(keys: tuple[IndexKey, ...]) -> tuple[str, ...]:
    """The columns an index's key parts name (expressions left out)."""
    out = []
    for k in keys:
        name = k if isinstance(k, str) else k.name
        if name is not None:
            out.append(name)
    return tuple(out)


def plain_columns(keys: tuple[IndexKey, ...]) -> tuple[str, ...] | None:
    """The column names when every key part is just a column in ascending order, else None."""
    out = []
    for k in keys:
        name = k if isinstance(k, str) else k.plain
        if name is None:
            return None
        out.append(name)
    return tuple(out)


def normal_keys(keys: tuple[IndexKey, ...]) -> tuple[IndexKey, ...]:
    """Key parts in one spelling: a mapping that is just a column becomes its name, and an
    explicit ascending order is the default."""
    out: list[IndexKey] = []
    for k in keys:
        if isinstance(k, IndexColumn):
            # Ascending is the default order; NULLs sort last ascending, first descending.
            default_nulls = "first" if k.order == "desc" else "last"
            if k.order == "asc" or k.nulls == default_nulls:
                k = IndexColumn(name=k.name, expression=k.expression,
                                order=None if k.order == "asc" else k.order,
                                nulls=None if k.nulls == default_nulls else k.nulls,
                                opclass=k.opclass, length=k.length)
            if k.plain is not None:
                out.append(k.plain)
                continue
        out.append(k)
    return tuple(out)


def check_scope(dialects: tuple[Dialect, ...] | None) -> None:
    """An index's `dialects` names at least one database."""
    if dialects is not None and not dialects:
        raise IRError("`dialects` names the databases the index exists on: give at least one, "
                      "or leave it out for every database")


def check_where_dialects(where: str | None, dialects: tuple[str, ...] | None) -> None:
    """IRError for `where_dialects` without a `where` to scope, or scoping it to none."""
    if dialects is not None and (where is None or not dialects):
        raise IRError("`where_dialects` names the databases an index's `where` applies on: "
                      "it goes with `where`, and names at least one")


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexDef:
    """An index inside `create_table`."""

    name: str
    columns: tuple[IndexKey, ...]
    unique: bool = False
    where: str | None = None
    # The databases `where` applies on (None: every one); elsewhere the index covers every
    # row, as SQLAlchemy builds an index given only `postgresql_where`.
    where_dialects: tuple[Dialect, ...] | None = None
    using: IndexMethod | None = None
    include: tuple[str, ...] = ()
    # The databases the index exists on (None: every one): InnoDB's own index for a foreign
    # key, read from MySQL or MariaDB into a baseline, which the others do not build.
    dialects: tuple[Dialect, ...] | None = None

    def __post_init__(self) -> None:
        check_where_dialects(self.where, self.where_dialects)
        check_scope(self.dialects)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The columns the index key names, then the included ones."""
        return key_columns(self.columns) + self.include

    @property
    def plain_key(self) -> tuple[str, ...] | None:
        """The columns of an index on columns only (no predicate, method, INCLUDE or key
        options: what a UNIQUE constraint or a database's own index is), else None."""
        if self.where is not None or self.using not in (None, "btree") or self.include:
            return None
        return plain_columns(self.columns)


