"""What reflection asks each database beyond SQLAlchemy's Inspector: what it reads of its
own catalog (types, index key parts, primary keys) and how a reflected schema reads as a
person writes it. A mixin of `Dialect`; each database overrides what differs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .. import ir
    from ..state import SchemaState
    from .base import Capabilities

Options = dict[Any, dict[str, Any]]  # (schema, table) -> option -> value
Limits = tuple[int, int, int]  # a database's sequence bounds (lowest, highest) and cache


class CatalogReading:
    """The reflection hooks of a `Dialect`, at what the Inspector gives by itself."""

    caps: Capabilities  # what the Dialect this is part of can do

    # SQLAlchemy's module of this database's own types (for `<prefix>.<type>` types).
    sa_types_module: ClassVar[str | None] = None
    # (table, column, its type as the database writes it) of every column in a schema (the
    # parameter; None: the default one), for the types SQLAlchemy does not reflect.
    column_types_sql: ClassVar[str | None] = None

    def complete_indexes(self, conn: Any, schema: str | None, tables: list[str],
                         indexes: dict[Any, list[dict[str, Any]]]
                         ) -> dict[Any, list[dict[str, Any]]]:
        """The Inspector's indexes of `tables`, completed with what it does not read here
        (key part orderings, expression indexes), in its own dictionary form."""
        return indexes

    def primary_keys(self, conn: Any, schema: str | None) -> dict[Any, dict[str, Any]] | None:
        """The primary keys of a whole schema read by a query of this database's own, shaped
        as the Inspector's (`constrained_columns`, `name`); None: the Inspector reads them."""
        return None

    def complete_columns(self, conn: Any, schema: str | None, tables: list[str],
                         columns: dict[Any, list[dict[str, Any]]]
                         ) -> dict[Any, list[dict[str, Any]]]:
        """The Inspector's columns of `tables`, each type it could not read (a user-defined
        type) read from the database's own text of it, in its own dictionary form (and,
        where the Inspector misreads more of a column, that too: SQLite's collations and
        generated expressions)."""
        if self.column_types_sql is None:
            return columns
        from .columns import read_unknown

        return read_unknown(conn, self.column_types_sql, self.sa_types_module, schema, columns)

    # Table options the Inspector reports (`get_multi_table_options`) at this database's
    # defaults; any other is refused, as the format has no table options.
    table_option_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    def table_options(self, conn: Any, schema: str | None, options: Options) -> Options:
        """Of each table's options as the Inspector reports them, those the format cannot
        express (every one but this database's defaults), with what the Inspector leaves
        out here (PostgreSQL's UNLOGGED and partitioning, SQLite's AUTOINCREMENT); only the
        tables that have some."""
        defaults = self.table_option_defaults
        merged = {key: dict(v) for key, v in options.items() if v}
        for key, extra in self.table_extras(conn, schema).items():
            merged.setdefault(key, {}).update(extra)
        refused = {key: {k: v for k, v in found.items() if k not in defaults or defaults[k] != v}
                   for key, found in merged.items()}
        return {key: found for key, found in refused.items() if found}

    def table_extras(self, conn: Any, schema: str | None) -> Options:
        """The table options of `schema` the Inspector does not report, read from this
        database's catalog; {} by default."""
        return {}

    def autoincrement_tables(self, conn: Any, schema: str | None) -> set[Any]:
        """The tables of `schema` whose key values are never reused (SQLite's AUTOINCREMENT,
        `sqlite_autoincrement`), read in every reflection; none by default."""
        return set()

    # Whether `sequences` says which column owns each sequence (PostgreSQL): a key's
    # `nextval()` default is its numbering only when drawn from its own.
    sequences_owned: ClassVar[bool] = False

    def sequences(self, conn: Any, schema: str | None) -> list[tuple[str, str | None, str | None]]:
        """The sequences of `schema` (None: the default one) but an identity column's own,
        each with the table and column that own it (a SERIAL's sequence, or OWNED BY; None:
        no column owns it); [] where the database has no sequences."""
        return []

    # A sequence's bounds (lowest, highest) and cache as CREATE SEQUENCE without options
    # makes them (PostgreSQL's: AS bigint, CACHE 1).
    sequence_limits: ClassVar[Limits] = (-2 ** 63, 2 ** 63 - 1, 1)

    def sequence_options(self, conn: Any, schema: str | None,
                         names: list[str]) -> dict[str, dict[str, int | bool]]:
        """The options of each named sequence of `schema`, the ones a CREATE SEQUENCE
        without them gets here left out (`options_given`)."""
        return {}

    def sequences_detached(self, state: SchemaState,
                           keep: Collection[tuple[str | None, str]] = ()) -> SchemaState:
        """`state` as this database holds its columns' sequences (but those `keep` names): where
        it has sequences, each a sequence of its own and the column one it does not number
        (create_all() builds a plain INTEGER: SQLAlchemy draws `nextval` on insert); where
        it has none, the column numbered as a key is (AUTO_INCREMENT, SQLite's rowid)."""
        from dataclasses import replace

        from .. import ir
        from ..pmap import PMap
        from ..state import SchemaState

        sequences = dict(state.sequences)

        def detached(c: ir.Column) -> ir.Column:
            s = c.sequence
            if s is None or (s.schema, s.name) in keep:
                return c
            if not self.caps.sequences:
                return replace(c, sequence=None)
            sequences[(s.schema, s.name)] = ir.CreateSequence(
                name=s.name, schema=s.schema, start=s.start, increment=s.increment,
                minvalue=s.minvalue, maxvalue=s.maxvalue, cycle=s.cycle, cache=s.cache)
            return replace(c, sequence=None, autoincrement=False)

        changed = {k: replace(t, columns=tuple(map(detached, t.columns)))
                   for k, t in state.tables.items()
                   if any(c.sequence is not None for c in t.columns)}
        if not changed:
            return state
        return SchemaState({**state.tables, **changed}, PMap(sequences.items()))

    def sequence_key(self, s: ir.CreateSequence) -> Any:
        """What a sequence's options mean here: this database's defaults, given or left out,
        are one (`cache: 1` is PostgreSQL's own; MariaDB's is 1000)."""
        from ..diffkeys import sequence_key

        return sequence_key(held_sequence(s, self.sequence_limits))


    def as_written(self, state: SchemaState) -> SchemaState:
        """A reflected schema as a person writes it: what the database made by itself left
        out, what it keeps alike read one way (MySQL: its indexes for foreign keys; a unique
        key as a unique constraint)."""
        return state

    def table_words(self, conn: Any, schema: str | None
                    ) -> dict[str, tuple[str | None, str | None]]:
        """The table options of `schema` the format writes (MySQL's default character set and
        collation where they are not the database's: `mysql_charset`, `mysql_collate`), by
        table name; none by default."""
        return {}

    def words_matched(self, conn: Any, have: SchemaState, want: SchemaState) -> SchemaState:
        """`have`, reflected on `conn`, with each table's options written as `want` writes
        them where both build the same here (MySQL's `mysql_charset` of the database's own
        character set, which the server gives back as no option at all); `have` by default."""
        return have


def options_given(start: int, increment: int, minvalue: int, maxvalue: int, cache: int,
                  cycle: bool, limits: Limits) -> dict[str, int | bool]:
    """A sequence's options but those CREATE SEQUENCE gives without them: an ascending
    one counts from 1 to the database's highest value, a descending one from -1 down to
    its lowest, each starting at its first value; `limits` are that database's bounds and
    default cache."""
    lowest, highest, default_cache = limits
    first, last = (1, highest) if increment > 0 else (lowest, -1)
    given: dict[str, int | bool] = {}
    for key, value, default in (
            ("start", start, first if increment > 0 else last), ("increment", increment, 1),
            ("minvalue", minvalue, first), ("maxvalue", maxvalue, last),
            ("cache", cache, default_cache)):
        if value != default:
            given[key] = int(value)
    if cycle:
        given["cycle"] = True
    return given


def held_sequence(s: ir.CreateSequence, limits: Limits) -> ir.CreateSequence:
    """`s` as a database with these `limits` keeps it, its defaults left out."""
    from dataclasses import replace

    from ..ir.parts import SEQUENCE_OPTIONS

    lowest, highest, cache = limits
    inc = 1 if s.increment is None else s.increment
    low = s.minvalue if s.minvalue is not None else 1 if inc > 0 else lowest
    high = s.maxvalue if s.maxvalue is not None else highest if inc > 0 else -1
    start = s.start if s.start is not None else low if inc > 0 else high
    given = options_given(start, inc, low, high, cache if s.cache is None else s.cache,
                          bool(s.cycle), limits)
    fields: dict[str, Any] = {k: given.get(k) for k in SEQUENCE_OPTIONS}
    return replace(s, **fields)
