"""The schema as plain data: `Table` (every constraint named) and `SchemaState`, a persistent
map of tables that also knows which tables have each index name and who references whom,
and the schema's sequences."""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import ir
from ..errors import StateError
from ..pmap import PMap

TableKey = tuple[str | None, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """A table with every constraint named; columns carry no unique/index/primary-key flags."""

    name: str
    schema: str | None = None
    columns: tuple[ir.Column, ...]
    primary_key: ir.PrimaryKeyDef | None = None
    uniques: tuple[ir.UniqueDef, ...] = ()
    foreign_keys: tuple[ir.ForeignKeyDef, ...] = ()
    checks: tuple[ir.CheckDef, ...] = ()
    indexes: tuple[ir.IndexDef, ...] = ()
    comment: str | None = None
    sqlite_autoincrement: bool = False  # (create_table's)
    mysql_charset: str | None = None  # (create_table's)
    mysql_collate: str | None = None

    @property
    def key(self) -> TableKey:
        """The table's key in a SchemaState."""
        return (self.schema, self.name)

    def column(self, name: str) -> ir.Column | None:
        """The column of that name, if any."""
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def constraint_names(self) -> set[str]:
        """Names of every named constraint and index of the table."""
        names = {u.name or "" for u in self.uniques} | {f.name or "" for f in self.foreign_keys}
        names |= {c.name or "" for c in self.checks} | {i.name for i in self.indexes}
        if self.primary_key and self.primary_key.name:
            names.add(self.primary_key.name)
        return names - {""}


_TABLE_FIELDS = frozenset(f.name for f in dataclasses.fields(Table))
_COLUMN_FIELDS = frozenset(f.name for f in dataclasses.fields(ir.Column))


def table_with(t: Table, **changes: Any) -> Table:
    """`dataclasses.replace(t, **changes)` without its per-field introspection, the hottest
    call of replay (a Table has no `__post_init__`: its constructor is all replace runs)."""
    if not changes.keys() <= _TABLE_FIELDS:
        raise TypeError(f"Table has no field {sorted(changes.keys() - _TABLE_FIELDS)[0]}")
    get = changes.get
    return Table(
        name=get("name", t.name), schema=get("schema", t.schema),
        columns=get("columns", t.columns), primary_key=get("primary_key", t.primary_key),
        uniques=get("uniques", t.uniques), foreign_keys=get("foreign_keys", t.foreign_keys),
        checks=get("checks", t.checks), indexes=get("indexes", t.indexes),
        comment=get("comment", t.comment),
        sqlite_autoincrement=get("sqlite_autoincrement", t.sqlite_autoincrement),
        mysql_charset=get("mysql_charset", t.mysql_charset),
        mysql_collate=get("mysql_collate", t.mysql_collate))


def column_with(c: ir.Column, **changes: Any) -> ir.Column:
    """`dataclasses.replace(c, **changes)` without its per-field introspection: the
    constructor, so `Column.__post_init__` checks the result as replace would."""
    if not changes.keys() <= _COLUMN_FIELDS:
        raise TypeError(f"Column has no field {sorted(changes.keys() - _COLUMN_FIELDS)[0]}")
    get = changes.get
    return ir.Column(
        name=get("name", c.name), type=get("type", c.type), nullable=get("nullable", c.nullable),
        primary_key=get("primary_key", c.primary_key), unique=get("unique", c.unique),
        index=get("index", c.index), autoincrement=get("autoincrement", c.autoincrement),
        default=get("default", c.default), default_sql=get("default_sql", c.default_sql),
        comment=get("comment", c.comment), computed=get("computed", c.computed),
        identity=get("identity", c.identity), sequence=get("sequence", c.sequence),
        variants=get("variants", c.variants),
        collation=get("collation", c.collation))


IndexKey = tuple[str | None, str]


@dataclass(frozen=True, slots=True, init=False, weakref_slot=True)
class SchemaState:
    """The whole schema: tables by (schema, name). Immutable; `apply` returns a new one.

    Two derived maps keep replay linear on large schemas: which tables have each index name
    (per schema: one table each where index names are per schema, as on PostgreSQL and
    SQLite; possibly several on MySQL and MariaDB, where they are per table; which rule
    applies is the target database's, checked by its `Dialect`), and which tables have
    foreign keys to each table.
    """

    tables: PMap[TableKey, Table]
    # The sequences by (schema, name), each as the operation that creates it.
    sequences: PMap[TableKey, ir.CreateSequence]
    index_tables: PMap[IndexKey, frozenset[TableKey]] = dataclasses.field(compare=False)
    referrers: PMap[TableKey, frozenset[TableKey]] = dataclasses.field(compare=False)
    # The last operation applied to this state and (weakly) the state it gave: the history
    # check replays each operation again to build its inverse and to read what it stores,
    # and apply is pure (`transitions.apply`).
    next: tuple[ir.Operation, weakref.ref[SchemaState]] | None = dataclasses.field(
        compare=False, repr=False)

    def __init__(self, tables: Mapping[TableKey, Table] | None = None,
                 sequences: Mapping[TableKey, ir.CreateSequence] | None = None) -> None:
        tables = tables or {}
        owners: dict[IndexKey, set[TableKey]] = {}
        refs: dict[TableKey, set[TableKey]] = {}
        for t in tables.values():
            for i in t.indexes:
                owners.setdefault((t.schema, i.name), set()).add(t.key)
            for target in _fk_targets(t):
                refs.setdefault(target, set()).add(t.key)
        object.__setattr__(self, "tables", tables if isinstance(tables, PMap)
                           else PMap(tables.items()))
        object.__setattr__(self, "sequences", sequences if isinstance(sequences, PMap)
                           else PMap((sequences or {}).items()))
        object.__setattr__(self, "index_tables",
                           PMap((k, frozenset(v)) for k, v in owners.items()))
        object.__setattr__(self, "referrers",
                           PMap((k, frozenset(v)) for k, v in refs.items()))
        object.__setattr__(self, "next", None)

    @classmethod
    def assembled(cls, tables: PMap[TableKey, Table],
                  index_tables: PMap[IndexKey, frozenset[TableKey]],
                  referrers: PMap[TableKey, frozenset[TableKey]],
                  sequences: PMap[TableKey, ir.CreateSequence]) -> SchemaState:
        """A state from its maps, taken as they are (a cache's, checked when stored)."""
        return cls._of(tables, index_tables, referrers, sequences)

    def with_tables(self, tables: Mapping[TableKey, Table]) -> SchemaState:
        """This schema with other tables (its sequences kept): what a view of a schema that
        changes its tables builds."""
        return SchemaState(tables, self.sequences)

    def with_sequences(self, sequences: PMap[TableKey, ir.CreateSequence]) -> SchemaState:
        """This schema with other sequences (its tables kept)."""
        return SchemaState._of(self.tables, self.index_tables, self.referrers, sequences)

    def sequence(self, name: str, schema: str | None = None) -> ir.CreateSequence:
        """The sequence, or a StateError naming what exists."""
        s: ir.CreateSequence | None = self.sequences.get((schema, name))
        if s is None:
            raise StateError(f"sequence '{qual(schema, name)}' does not exist at this point",
                             code="SF117", hint=nearest(name, [k[1] for k in self.sequences]))
        return s

    @classmethod
    def _of(cls, tables: PMap[TableKey, Table],
            index_tables: PMap[IndexKey, frozenset[TableKey]],
            referrers: PMap[TableKey, frozenset[TableKey]],
            sequences: PMap[TableKey, ir.CreateSequence]) -> SchemaState:
        new = object.__new__(cls)
        object.__setattr__(new, "tables", tables)
        object.__setattr__(new, "sequences", sequences)
        object.__setattr__(new, "index_tables", index_tables)
        object.__setattr__(new, "referrers", referrers)
        object.__setattr__(new, "next", None)
        return new

    def index_elsewhere(self, name: str, table: TableKey) -> list[TableKey]:
        """The other tables of `table`'s schema that have an index named `name`, in order."""
        return sorted(self.index_tables.get((table[0], name), frozenset()) - {table},
                      key=lambda k: (k[0] or "", k[1]))

    def tables_with_index(self, name: str, schema: str | None = None) -> list[TableKey]:
        """The tables of `schema` that have an index named `name`, in order."""
        return sorted(self.index_tables.get((schema, name), frozenset()),
                      key=lambda k: (k[0] or "", k[1]))

    def get(self, name: str, schema: str | None = None) -> Table | None:
        """The table, or None."""
        table: Table | None = self.tables.get((schema, name))
        return table

    def table(self, name: str, schema: str | None = None) -> Table:
        """The table, or a StateError naming what exists."""
        t: Table | None = self.tables.get((schema, name))
        if t is None:
            raise StateError(f"table '{qual(schema, name)}' does not exist at this point",
                             code="SF101", hint=nearest(name, [k[1] for k in self.tables]))
        return t

    def with_table(self, table: Table, *, remove: TableKey | None = None) -> SchemaState:
        """A new state with `table` put in (and `remove` taken out)."""
        state = self.without(remove) if remove is not None and remove in self.tables else self
        old = state.tables.get(table.key)
        if old is not None and _same_links(old, table):
            # Unlinking `old` then linking `table` would give every derived set back as it
            # was: skip both (most operations change a column, not an index or a reference).
            return SchemaState._of(state.tables.set(table.key, table), state.index_tables,
                                   state.referrers, state.sequences)
        tables, owner, refs = state._unlink(old) if old is not None else (
            state.tables, state.index_tables, state.referrers)
        for i in table.indexes:
            key = (table.schema, i.name)
            owner = owner.set(key, owner.get(key, frozenset()) | {table.key})
        for target in _fk_targets(table):
            refs = refs.set(target, refs.get(target, frozenset()) | {table.key})
        return SchemaState._of(tables.set(table.key, table), owner, refs, state.sequences)

    def without(self, key: TableKey) -> SchemaState:
        """A new state without that table."""
        tables, owner, refs = self._unlink(self.tables[key])
        return SchemaState._of(tables.delete(key), owner, refs, self.sequences)

    def _unlink(self, t: Table) -> tuple[PMap[TableKey, Table],
                                         PMap[IndexKey, frozenset[TableKey]],
                                         PMap[TableKey, frozenset[TableKey]]]:
        owner, refs = self.index_tables, self.referrers
        for i in t.indexes:
            key = (t.schema, i.name)
            left = owner.get(key, frozenset()) - {t.key}
            owner = owner.set(key, left) if left else owner.delete(key)
        for target in _fk_targets(t):
            left = refs.get(target, frozenset()) - {t.key}
            refs = refs.set(target, left) if left else refs.delete(target)
        return self.tables, owner, refs


def _same_links(old: Table, new: Table) -> bool:
    """Whether `new`, of the same key as `old`, has the same index names and the same tables
    referenced by its foreign keys (so the derived maps of a state do not change)."""
    return (new.indexes is old.indexes or {i.name for i in new.indexes} == {
        i.name for i in old.indexes}) and (new.foreign_keys is old.foreign_keys or (
            _fk_targets(new) == _fk_targets(old)))


def _fk_targets(t: Table) -> set[TableKey]:
    return {(f.references.schema, f.references.table) for f in t.foreign_keys}


def qual(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"did you mean '{close[0]}'?" if close else None
