"""A database's schema in the models' words, where the configured database builds both
alike: a `--from-db` baseline written as the models write each column, CHECK and index that
means the same there (`baseline`), and the history's columns read as the models' where that
database cannot tell them apart (`kind_matched`, for `check`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ir

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .state import SchemaState, Table


def kind_matched(dialect: Dialect, old: SchemaState, models: SchemaState) -> SchemaState:
    """`old` in the models' words where the configured database builds both alike. A
    generated column's kind is one side's and left to the database on the other (`stored`
    omitted: `Computed()` without `persisted`), and the database's own kind is that one: a
    baseline read from PostgreSQL says `stored: true` of what the models leave to it. Or a
    plain identity (no options) is on one side only, on the column the other numbers, and
    the database has no identity columns: there both are its autoincrement key, and a
    baseline of it cannot hold an identity. (Without a connection the server's version is
    unknown: its kind at any version it may have.)"""
    from dataclasses import replace

    from .dialects import by_name
    from .dialects.comparable import map_tables
    from .diffkeys import key_numbering

    versions = [by_name(dialect.name, version).caps
                for version, _ in type(dialect).capability_rows]
    kinds = {not caps.virtual_computed for caps in versions}
    identities = any(caps.identity_columns for caps in versions)

    def plain(c: ir.Column) -> bool:
        return c.identity is not None and not (c.identity.always or c.identity.options)

    def same(t: Table) -> Table:
        want = models.tables.get(t.key)
        if want is None:
            return t
        numbered = {k[1] for k in (key_numbering(t), key_numbering(want)) if k}

        def column(c: ir.Column) -> ir.Column:
            w = want.column(c.name)
            if w is None:
                return c
            if not identities and (c.identity is None) != (w.identity is None) and \
                    plain(c if c.identity else w) and c.name in numbered:
                return replace(c, identity=w.identity)
            if c.computed is None or w.computed is None:
                return c
            mine, theirs = c.computed.stored, w.computed.stored
            if mine != theirs and (mine is None or theirs is None) and (
                    mine if mine is not None else theirs) in kinds:
                return replace(c, computed=replace(c.computed, stored=theirs))
            return c

        columns = tuple(column(c) for c in t.columns)
        return t if columns == t.columns else replace(t, columns=columns)

    return map_tables(old, same)


def baseline(live: SchemaState, models: SchemaState, dialect: Dialect) -> SchemaState:
    """A baseline of the database `live`, each unique key as the models write it (a
    constraint, or a unique index: `Dialect.matched`), each column whose type
    the configured models give as this database holds it written as the models write it,
    variants and all (a GUID that is UUID here and CHAR(36) elsewhere), its default
    likewise, each index likewise (its prefix lengths, which SQLite drops, and the databases
    its condition applies on), and each CHECK likewise (`checks_matched`: the models'
    `dialects` and words), with the models' CHECKs and indexes that exist on other databases
    only, and the models' `sqlite_autoincrement` and MySQL character set where this database
    keeps none: the baseline then
    builds on every database what the models do, and `check` finds no difference that is
    only this database's view."""
    from dataclasses import replace

    from .dialects.checks import checks_elsewhere, checks_matched
    from .diffkeys import column_type_key, default_key, index_key
    from .typespec import enum_name, is_native_enum

    live = _uniques_matched(live, models, dialect)
    # What this database holds of each side: a column's type key by (table, column), with
    # its enum type's name where enum types have names, and its default's key (MariaDB's
    # current_timestamp(6) is the models' CURRENT_TIMESTAMP); each index by (table, name),
    # as held here (no prefix lengths on SQLite, a condition only where it applies).
    named = dialect.caps.native_enum
    views = dialect.comparable(live), dialect.comparable(models)
    held, wanted = ({(key, c.name): (column_type_key(c), named and is_native_enum(c.type)
                                     and enum_name(c.type, t.name, c.name), default_key(c))
                     for key, t in state.tables.items() for c in t.columns}
                    for state in views)
    held_ix, wanted_ix = ({(key, i.name): index_key(i) for key, t in state.tables.items()
                           for i in t.indexes} for state in views)

    def as_models(key: tuple[str | None, str], c: ir.Column) -> ir.Column:
        m = models.tables[key].column(c.name) if key in models.tables else None
        here, there = held.get((key, c.name)), wanted.get((key, c.name))
        if m is None or here is None or there is None or here[:2] != there[:2]:
            return c  # (a type of its own keeps its default as held: '0' of an integer)
        if here[2] == there[2]:
            c = replace(c, default=m.default, default_sql=m.default_sql)
        return replace(c, type=m.type, variants=m.variants, collation=m.collation)

    def table(key: tuple[str | None, str], t: Table) -> Table:
        t = replace(t, columns=tuple(as_models(key, c) for c in t.columns))
        m = models.tables.get(key)
        if m is None:
            return t
        # (an index's prefix lengths for MySQL, its condition's databases)
        theirs = {i.name: i for i in m.indexes}
        t = replace(t, indexes=tuple(
            theirs[i.name] if i.name in theirs and held_ix.get((key, i.name)) == wanted_ix.get(
                (key, i.name)) else i for i in t.indexes))
        if m.sqlite_autoincrement and not dialect.keeps_autoincrement:
            # (what this database cannot hold, the models' for SQLite)
            t = replace(t, sqlite_autoincrement=True)
        if (m.mysql_charset or m.mysql_collate) and not dialect.keeps_charset:
            # (likewise for MySQL and MariaDB; one that keeps them read the models' words)
            t = replace(t, mysql_charset=m.mysql_charset, mysql_collate=m.mysql_collate)
        # (an index `ddl_if` builds on other databases only: none can be read here)
        names = {i.name for i in t.indexes}
        elsewhere = tuple(i for i in m.indexes if not dialect.index_held(i)
                          and i.name not in names)
        if elsewhere:
            t = replace(t, indexes=t.indexes + elsewhere)
        return checks_elsewhere(dialect, checks_matched(dialect, t, m), m)

    return live.with_tables({key: table(key, t) for key, t in live.tables.items()})


def _uniques_matched(live: SchemaState, models: SchemaState, dialect: Dialect) -> SchemaState:
    """`live` with each unique key as `models` write it (`Dialect.matched`), and every other
    index it has kept: one only InnoDB made for a foreign key, which `matched` leaves out
    too, so that the baseline rebuilds the same names there."""
    from dataclasses import replace

    from .dialects.comparable import map_tables

    matched = dialect.matched(live, models)

    def kept(t: Table) -> Table:
        was = live.tables.get(t.key)
        names = {i.name for i in t.indexes}
        back = tuple(i for i in was.indexes if not i.unique and i.name not in names) if (
            was is not None) else ()
        return replace(t, indexes=t.indexes + back) if back else t

    return map_tables(matched, kept)
