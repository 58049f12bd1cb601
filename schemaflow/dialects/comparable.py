"""What a database keeps of a schema: the comparable view of a `Dialect` (a state as the
database would give it back through reflection), as a mixin so that each database overrides
only what it keeps apart (`type_as_held`, `default_as_held`, `generated_as_held`,
`held_indexes`, `check_key`, `comparable`), and the helpers that map a state's tables and
columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from operator import is_not
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, cast

from .. import ir
from ..typespec import TypeSpec
from .columns import indexes_here
from .values import INTEGER_BITS, signed

if TYPE_CHECKING:
    from ..state import SchemaState, Table
    from .base import Capabilities, Dialect


def map_columns(state: SchemaState, fn: Callable[[ir.Column], ir.Column]) -> SchemaState:
    """`state` with every column passed through `fn` (for comparable views), a function of
    the column alone: a column object many tables share (read once: `TypeReader.columns`)
    is passed once."""
    done: dict[int, tuple[ir.Column, ir.Column]] = {}  # id → (column, fn's); kept alive

    def mapped(c: ir.Column) -> ir.Column:
        hit = done.get(id(c))
        if hit is not None and hit[0] is c:
            return hit[1]
        out = fn(c)
        done[id(c)] = (c, out)
        return out

    def with_columns(t: Table) -> Table:
        cols = tuple(map(mapped, t.columns))
        if not any(map(is_not, cols, t.columns)):
            return t
        return replace(t, columns=cols)

    return map_tables(state, with_columns)


_SIZED = frozenset({"string", "char", "binary", "varbinary"})  # types of a length `(n)`


def _prefixed(spec: TypeSpec) -> bool:
    """Whether an index key on a column of type `spec` can index a prefix of it (MySQL's
    strings and binary strings; a type written as SQL is not judged)."""
    name = spec.name
    return (name in _SIZED or name in ("text", "json", "sql") or (
        name.startswith("mysql.") and any(w in name for w in ("text", "blob", "char",
                                                                 "binary"))))


# Bytes per character of MySQL's and MariaDB's multi-byte character sets (one elsewhere).
_CHARACTER_BYTES = {"utf8mb4": 4, "utf8mb3": 3, "utf8": 3, "ucs2": 2, "utf16": 4, "utf16le": 4,
                    "utf32": 4, "latin1": 1, "ascii": 1, "binary": 1}


def _long(spec: TypeSpec) -> str | None:
    """What an index on a column of type `spec` indexes whole up to a limit of bytes, where
    MariaDB gives a key that names no length a prefix: "tiny" (TINYTEXT, TINYBLOB: 255),
    "blob" (bytes), "text" (TEXT and JSON: characters), "string" (VARCHAR(n)), else None."""
    name = spec.name
    if name in ("mysql.tinytext", "mysql.tinyblob"):
        return "tiny"
    if name in ("text", "json") or (name.startswith("mysql.") and name.endswith("text")):
        return "text"
    if (name == "binary" and not spec.args) or (name.startswith("mysql.")
                                                  and name.endswith("blob")):
        return "blob"
    if name == "string" and spec.args and isinstance(spec.args[0], int):
        return "string"
    return None


def map_tables(state: SchemaState, fn: Callable[[Table], Table]) -> SchemaState:
    """`state` with every table passed through `fn`: `state` itself when `fn` gives every
    table back as it was (a thousand tables are not rebuilt for nothing)."""
    changed = {}
    for k, t in state.tables.items():
        new = fn(t)
        if new is not t:
            changed[k] = new
    if not changed:
        return state
    return state.with_tables(MappingProxyType({k: changed.get(k, t)
                                               for k, t in state.tables.items()}))


def without_tz(state: SchemaState) -> SchemaState:
    """Date-time types without the timezone flag (for databases that do not keep it)."""
    def strip(c: ir.Column) -> ir.Column:
        if c.type.name in ("datetime", "time") and c.type.kwargs:
            return replace(c, type=TypeSpec(c.type.name, c.type.args))
        return c

    return map_columns(state, strip)


def _dialect(view: ComparableView) -> Dialect:
    return cast("Dialect", view)


class ComparableView:
    """The comparable view of a `Dialect`."""

    # What the view reads of the Dialect it is part of.
    prefix_lengths: ClassVar[bool]
    caps: Capabilities

    def held_indexes(self, t: Table) -> Table:
        """`t` with each index key's prefix `length` as this database keeps it: none where
        it indexes whole columns (as `metadata.create_all()` does with `mysql_length`), nor
        where the prefix covers the whole column (MySQL gives such a key back without
        one)."""
        indexes = []
        for i in t.indexes:
            keys = tuple(self._held_key(k, t) for k in i.columns)
            indexes.append(i if keys == i.columns else replace(i, columns=keys))
        if all(a is b for a, b in zip(indexes, t.indexes, strict=True)):
            return t
        return replace(t, indexes=tuple(indexes))

    def _index_options_as_held(self, t: Table) -> Table:
        indexes = tuple(self._held_options(i) for i in t.indexes)
        if all(a is b for a, b in zip(indexes, t.indexes, strict=True)):
            return t
        return replace(t, indexes=indexes)

    def _held_options(self, i: ir.IndexDef) -> ir.IndexDef:
        """`i` without PostgreSQL's own options this database lacks (a method, INCLUDE
        columns, operator classes): it builds the index without them, as `create_all()` builds
        SQLAlchemy's `postgresql_using`, `postgresql_include` and `postgresql_ops`."""
        caps = self.caps
        if _dialect(self).owns_index_options:  # (PostgreSQL: refused where it lacks them)
            return i
        using = i.using if i.using is None or i.using in caps.index_methods else None
        include = i.include if caps.index_include else ()
        keys = i.columns if caps.index_opclass else tuple(
            k if isinstance(k, str) or k.opclass is None
            else replace(k, opclass=None).plain or replace(k, opclass=None) for k in i.columns)
        if (using, include, keys) == (i.using, i.include, i.columns):
            return i
        return replace(i, using=using, include=include, columns=keys)

    # The longest prefix, in bytes, this database gives a key that names no length on a
    # column longer than that (TEXT, BLOB, JSON, a long VARCHAR; MariaDB: InnoDB's 3072;
    # MySQL refuses such a key), or None.
    implicit_prefix_bytes: ClassVar[int | None] = None

    def _held_key(self, k: ir.IndexKey, t: Table) -> ir.IndexKey:
        if isinstance(k, str) or k.length is None:
            return k
        if self.prefix_lengths:
            column = t.column(k.name) if k.name is not None else None
            if column is not None and not _prefixed(column.type):
                # (MariaDB builds a key on a DATETIME(6) with `mysql_length` as a whole-column
                # one, and gives it back so.)
                return replace(k, length=None)
            if column is not None and k.length in self._implicit_prefixes(column):
                # (a key on a TEXT column without a length, as MariaDB gives it back)
                return replace(k, length=None)
            size = (column.type.args[0] if column is not None and column.type.name in _SIZED
                    and column.type.args else None)
            if not isinstance(size, int) or k.length < size:
                return k
        return replace(k, length=None)

    def _implicit_prefixes(self, c: ir.Column) -> tuple[int, ...]:
        """The prefix lengths this database gives a key on column `c` (as it builds it:
        `column_here`) that names none: the longest prefix in characters of `c`'s character
        set where the whole column is longer (any width where the collation is the table's
        or the database's, which the schema does not say)."""
        limit = self.implicit_prefix_bytes
        kind = _long(c.type) if limit is not None else None
        if limit is None or kind is None:
            return ()
        if kind == "tiny":
            return (255,)
        if kind == "blob":
            return (limit,)
        collation = c.collation.on(_dialect(self).variant_names) if isinstance(
            c.collation, ir.Collations) else c.collation
        width = _CHARACTER_BYTES.get((collation or "").split("_", 1)[0])
        widths = (width,) if width else (1, 2, 3, 4)
        size = c.type.args[0] if kind == "string" else None
        return tuple(limit // w for w in widths
                     if not isinstance(size, int) or size * w > limit)

    def held_checks(self, t: Table) -> Table:
        """`t` without the checks that exist on other databases only."""
        if all(_dialect(self).holds(c.dialects) for c in t.checks):
            return t
        return replace(t, checks=tuple(c for c in t.checks if _dialect(self).holds(c.dialects)))

    def check_key(self, expression: str) -> str:
        """A CHECK's expression as this database gives it back, reduced to what it means
        (unnamed checks are matched to the names a server gave them by it)."""
        from ..state import expression_key

        return expression_key(expression)

    def matched(self, have: SchemaState, want: SchemaState) -> SchemaState:
        """`have` with each CHECK that means here what `want`'s means written as `want`
        writes it (`checks.checks_matched`): the database, and a baseline read from it,
        keep no `dialects` scope and give a CHECK back in their own words."""
        from .checks import checks_matched

        def same(t: Table) -> Table:
            other = want.tables.get(t.key)
            return t if other is None or not t.checks else checks_matched(_dialect(self), t, other)

        return map_tables(have, same)

    def comparable(self, state: SchemaState) -> SchemaState:
        """`state` as this database can hold it (what reflection would give back): each
        column with its type here, each column's sequence as it holds it."""
        held = map_columns(_dialect(self).sequences_detached(state), lambda c: self.default_as_held(
            self.generated_as_held(self._typed_as_held(self._numbered_as_held(
                _dialect(self).column_here(c))))))
        return map_tables(held, lambda t: self.held_indexes(self._index_options_as_held(
            self.held_checks(self._conditions_as_held(self._options_as_held(t))))))

    # Whether this database keeps `sqlite_autoincrement` (SQLite); the others build a table
    # without it.
    keeps_autoincrement: ClassVar[bool] = False
    # Whether this database keeps a table's default character set and collation (MySQL,
    # MariaDB: `mysql_charset`, `mysql_collate`, in the server's spelling).
    keeps_charset: ClassVar[bool] = False

    def _options_as_held(self, t: Table) -> Table:
        if t.sqlite_autoincrement and not self.keeps_autoincrement:
            t = replace(t, sqlite_autoincrement=False)
        if t.mysql_charset or t.mysql_collate:
            from ..ir.charsets import table_charset  # (listings import this module, no IR)

            held = table_charset(t.mysql_charset, t.mysql_collate) if self.keeps_charset else (
                None, None)
            if held != (t.mysql_charset, t.mysql_collate):
                t = replace(t, mysql_charset=held[0], mysql_collate=held[1])
        return t

    def _conditions_as_held(self, t: Table) -> Table:
        """`t` with each index's condition where it applies here (`where_dialects`), and
        only the indexes that exist here (`dialects`)."""
        if all(i.where_dialects is None and i.dialects is None for i in t.indexes):
            return t
        return replace(t, indexes=indexes_here(_dialect(self).variant_names, t))

    def _numbered_as_held(self, c: ir.Column) -> ir.Column:
        return replace(c, autoincrement=None) if (
            self.caps.numbered_keys and c.autoincrement is False) else c

    def _typed_as_held(self, c: ir.Column) -> ir.Column:
        held = self.type_as_held(c.type)
        return c if held is c.type else replace(c, type=held)

    def default_as_held(self, c: ir.Column) -> ir.Column:
        """`c` with its default as this database gives it back (MariaDB writes a time
        column's CURRENT_TIMESTAMP with the column's precision)."""
        return c

    def type_as_held(self, spec: TypeSpec) -> TypeSpec:
        """The type a column built as `spec` has here, as reflection reads it back (MySQL
        turns `BLOB(n)` into the smallest BLOB type that holds n bytes)."""
        return spec

    def generated_as_held(self, c: ir.Column) -> ir.Column:
        """A generated column as this database keeps it: the kind its default gives, the
        identity options at their defaults left out (or, without identity columns, an
        autoincrement column)."""
        if c.computed is not None and c.computed.stored is None:
            return replace(c, computed=replace(c.computed,
                                               stored=not self.caps.virtual_computed))
        if c.identity is None:
            return c
        if not self.caps.identity_columns:
            return replace(c, identity=None)
        i = c.identity
        step = i.increment or 1
        top = signed(INTEGER_BITS.get(c.type.name, 32))[1]  # the default maximum
        low, high = (1, top) if step > 0 else (-top - 1, -1)
        defaults = {"start": low if step > 0 else high, "increment": 1, "minvalue": low,
                    "maxvalue": high, "cycle": False, "cache": 1}
        cleared: dict[str, Any] = {k: None for k, v in i.options.items() if defaults[k] == v}
        return replace(c, identity=replace(i, **cleared))
