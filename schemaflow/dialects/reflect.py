"""A live database's schema, read with the Inspector's bulk calls into plain-data state; what
the format cannot express is refused."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from .. import ir
from ..state import SchemaState, ck_name, fk_name, uq_name
from .base import Dialect
from .coltypes import TypeReader
from .connect import end_read
from .indexes import from_reflected
from .read import (
    Unexpressible,
    _action,
    _column,
    _deferral,
    _table,
    default_from_sa,
    nextval_of,
    serial_default,
    skipper,
)

# Where a database holds what the format cannot express, the way out.
FROM_DB_HINT = ("leave it out with exclude_tables under [autogenerate] (its patterns match "
                "sequences too) and create it with a `sql` operation (scoped with `dialects:`)")


def from_inspector(insp: Any, schema: str | None, *,
                   skip: Iterable[str] | Callable[[str], bool] = (),
                   dialect: Dialect | None = None, strict: bool = True) -> SchemaState:
    """The SchemaState of a live database, read with the Inspector's bulk reflection calls.

    What MetaData.reflect() returns, read the way from_metadata() reads it, without building
    a SQLAlchemy Table per table: on a thousand tables that construction was most of the time
    of `check --against-db`. Like reflect(), an index that only backs a unique constraint (or
    a unique constraint that is only an index) is listed once, as the database reports it.
    `strict=False`: table options the format lacks are not read (those it holds are:
    AUTOINCREMENT, MySQL's character set), and a sequence a column owns is left out rather
    than refused (a comparison of the database with itself, before and after a
    step, that must not stop on them)."""
    skipped = skipper(skip)
    every = insp.get_table_names(schema=schema)
    names = [n for n in every if not skipped(n)]
    # Each sequence and the column owning it; those the integer keys read are numbered by.
    sequences = {} if dialect is None else {
        name: owner for name, *owner in dialect.sequences(insp.bind, schema)}
    numbered: set[str] = set()
    if not names:
        return SchemaState({}, _sequences(insp.bind, schema, dialect, sequences, skipped,
                                          numbered, strict))
    kw: dict[str, Any] = {"schema": schema, "filter_names": names}
    if dialect is not None and dialect.catalog_queries and 2 * len(names) >= len(every):
        # One catalog query per kind reads every table faster than it matches a thousand
        # names; the few left out are dropped from what it returns (`only`).
        del kw["filter_names"]
    only = _only(frozenset(names))
    with warnings.catch_warnings():
        # A type SQLAlchemy does not know (a user-defined one) is read by the Dialect.
        warnings.filterwarnings("ignore", "Did not recognize type")
        columns = only(insp.get_multi_columns(**kw))
    if dialect is not None:  # types the Inspector cannot read; MariaDB's JSON
        columns = dialect.complete_columns(insp.bind, schema, names, columns)
    # The whole schema's keys by the database's own query, where it has one (PostgreSQL's
    # Inspector query cost the server more than the columns did).
    whole = dialect.primary_keys(insp.bind, schema) if (
        dialect is not None and "filter_names" not in kw) else None
    pks = only(insp.get_multi_pk_constraint(**kw) if whole is None else whole)
    fks = only(insp.get_multi_foreign_keys(**kw))
    with warnings.catch_warnings():
        # SQLite's Inspector skips expression indexes with a warning; its Dialect reads them.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        indexes = only(insp.get_multi_indexes(**kw))
        uniques = only(insp.get_multi_unique_constraints(**kw))
    if dialect is not None:  # what the Inspector leaves out (orderings, expressions)
        indexes = dialect.complete_indexes(insp.bind, schema, names, indexes)
    checks = only(_optional(insp.get_multi_check_constraints, kw))
    comments = only(_optional(insp.get_multi_table_comment, kw))
    # SQLite's tables whose key values are never reused (the format's sqlite_autoincrement)
    autoincrement = dialect.autoincrement_tables(insp.bind, schema) if dialect else set()
    # MySQL's table defaults other than the database's (`mysql_charset`, `mysql_collate`)
    words = dialect.table_words(insp.bind, schema) if dialect else {}
    if dialect is not None and strict:
        refused = only(dialect.table_options(
            insp.bind, schema, only(_optional(insp.get_multi_table_options, kw))))
        if refused:
            first = min(refused, key=lambda k: k[1])
            raise Unexpressible(f"table {first[1]}", f"the table options {refused[first]}",
                                FROM_DB_HINT)
    tables = {}
    types = TypeReader()
    for key in sorted(columns, key=lambda k: (k[0] or "", k[1])):
        name = str(key[1])
        pk = pks.get(key) or {}
        pk_cols = tuple(str(c) for c in pk.get("constrained_columns") or ())
        referring = {c for f in fks.get(key, ()) for c in f["constrained_columns"]}
        cols = []
        for c in columns[key]:
            _refuse_column(name, c)
            default = c.get("default")
            generated = _generated(name, c)
            column_name = str(c["name"])
            in_key = column_name in pk_cols and isinstance(c["type"], sa.Integer) and not generated
            if default is not None and _numbering(name, column_name, str(default), in_key,
                                                  dialect, sequences):
                numbered.add(nextval_of(str(default)) or "")
                default = None  # a SERIAL's own numbering: the integer key itself
            # Numbered: AUTO_INCREMENT, or a SERIAL (not a sequence of another's).
            auto = c.get("autoincrement") is True and default is None and not generated
            if auto and not in_key and strict:
                raise Unexpressible(f"column {name}.{column_name}", "AUTO_INCREMENT outside "
                                    "the primary key (the format numbers only a key column)",
                                    FROM_DB_HINT)
            if len(pk_cols) > 1:  # numbered only where told, as in SQLAlchemy
                numbering = True if auto else None
            else:
                # A sole integer key the database does not number itself (no SERIAL, no
                # AUTO_INCREMENT: Optuna's CHECK (version_info_id = 1) forbids it on
                # MariaDB); a numbered key with a foreign key says so: "auto" numbers none.
                fixed = in_key and c.get("autoincrement") is False
                numbering = False if fixed else True if auto and in_key and (
                    column_name in referring) else None
            column = _column(
                name, str(c["name"]), c["type"], c["name"] not in pk_cols and bool(c["nullable"]),
                default_from_sa(str(default)) if default is not None and not generated
                else (None, None), c.get("comment"), numbering, types)
            cols.append(replace(column, **generated) if generated else column)
        uqs = []
        for u in uniques.get(key, ()):
            if u.get("duplicates_index"):
                continue
            ucols = tuple(str(x) for x in u["column_names"])
            _refuse_options(f"unique constraint {u.get('name')} on {name}", u)
            uqs.append(ir.UniqueDef(columns=ucols, name=u.get("name") or uq_name(name, ucols)))
        cks = []
        for ck in checks.get(key, ()):
            _refuse_options(f"check constraint {ck.get('name')} on {name}", ck)
            cks.append(ir.CheckDef(expression=str(ck["sqltext"]),
                                   name=ck.get("name") or ck_name(name, str(ck["sqltext"]))))
        foreign = [_foreign_key(name, f) for f in fks.get(key, ())]
        idx = [from_reflected(name, i) for i in indexes.get(key, ())
               if not i.get("duplicates_constraint")]
        t = _table(name, key[0] or None, cols, (pk_cols, pk.get("name")), uqs, foreign, cks,
                   sorted(idx, key=lambda i: i.name or ""),
                   (comments.get(key) or {}).get("text"))
        charset, collate = words.get(name, (None, None))
        tables[t.key] = replace(t, sqlite_autoincrement=key in autoincrement,
                                mysql_charset=charset, mysql_collate=collate) if (
            collate or charset or key in autoincrement) else t
    return SchemaState(tables, _sequences(insp.bind, schema, dialect, sequences, skipped,
                                          numbered, strict))


def _numbering(table: str, column: str, default: str, key: bool, dialect: Dialect | None,
               sequences: dict[str, list[str | None]]) -> bool:
    """Whether `default` is the numbering of `column`, an integer primary-key column (`key`):
    a SERIAL, which the format writes as that key's numbered column. Where the database
    says which column owns each sequence, the key's own sequence (a table renamed keeps its
    sequence's old name); a sequence shared, or another column's numbering, is a default of
    its own (SQLAlchemy and the format number no other column). Else by PostgreSQL's
    naming (`serial_default`)."""
    if dialect is None or not dialect.sequences_owned:
        return serial_default(table, column, default, key)
    name = nextval_of(default)
    return key and name is not None and sequences.get(name) == [table, column]


def _sequences(conn: Any, schema: str | None, dialect: Dialect | None,
               sequences: dict[str, list[str | None]], skipped: Callable[[str], bool],
               numbered: set[str], strict: bool) -> dict[Any, ir.CreateSequence]:
    """The sequences of the schema, each with its options, but those an integer key read
    as numbered stands for (a SERIAL's own) and those left out (by name, or with the table
    owning them). One a column owns otherwise (OWNED BY, a SERIAL outside the key) is
    refused: the format says no such thing, and without it a baseline builds a different
    schema (the sequence dropped with its table no more, or lost); without `strict`, it is
    left out."""
    kept = []
    for name, (owner, column) in sequences.items():
        if name in numbered or skipped(name) or (owner is not None and skipped(owner)):
            continue
        if owner is not None and not strict:
            continue
        if owner is not None:
            raise Unexpressible(f"sequence {name} (owned by column {owner}.{column}; a "
                                "SERIAL is written only as an integer primary-key column)",
                                "a sequence a column owns (OWNED BY)", FROM_DB_HINT)
        kept.append(name)
    if not kept or dialect is None:
        return {}
    options: dict[str, dict[str, Any]] = dict(dialect.sequence_options(conn, schema, kept))
    found = {}
    for name in kept:
        try:
            found[(schema, name)] = ir.CreateSequence(name=name, schema=schema, **options[name])
        except ir.IRError as exc:  # MariaDB's INCREMENT BY 0 (auto_increment_increment's)
            raise Unexpressible(f"sequence {name}", f"an option the format lacks ({exc})",
                                FROM_DB_HINT) from None
    return found


def _refuse_column(table: str, c: dict[str, Any]) -> None:
    """Refuse column properties the format cannot express yet (and drop one a database adds
    by itself)."""
    where = f"column {table}.{c['name']}"
    if c.get("collation"):  # read with the type, as in models
        if not hasattr(c["type"], "collation"):
            raise Unexpressible(where, f"the collation {c['collation']!r}")
        c["type"].collation = c["collation"]
    if type(c["type"]).__name__ == "LONGTEXT" and str(
            getattr(c["type"], "collation", "")).endswith("_bin"):
        # MariaDB's JSON is LONGTEXT with a binary collation of its own: not one anyone wrote.
        c["type"] = type(c["type"])()


def _generated(table: str, c: dict[str, Any]) -> dict[str, Any]:
    """The computed expression or identity of a reflected column, as IR fields; a computed
    column whose expression was not read is refused, never written without one."""
    computed, identity = c.get("computed"), c.get("identity")
    if computed:
        if not str(computed.get("sqltext") or "").strip():
            raise Unexpressible(f"column {table}.{c['name']}", "a generated column whose "
                                "expression could not be read", FROM_DB_HINT)
        return {"computed": ir.Computed(expression=str(computed["sqltext"]),
                                        stored=computed.get("persisted"))}
    if identity:
        return {"identity": ir.Identity(
            always=bool(identity.get("always")), start=identity.get("start"),
            increment=identity.get("increment"), minvalue=identity.get("minvalue"),
            maxvalue=identity.get("maxvalue"), cycle=identity.get("cycle"),
            cache=identity.get("cache"))}
    return {}


def _foreign_key(table: str, f: dict[str, Any]) -> ir.ForeignKeyDef:
    """A reflected foreign key (an unnamed one given schemaflow's name)."""
    options = f.get("options") or {}
    where = f"foreign key {f.get('name') or ''} on {table}"
    if options.get("match"):
        raise Unexpressible(where, f"match {options['match']!r}")
    fk = ir.ForeignKeyDef(
        columns=tuple(str(x) for x in f["constrained_columns"]),
        references=ir.Reference(table=str(f["referred_table"]),
                                columns=tuple(str(x) for x in f["referred_columns"]),
                                schema=f.get("referred_schema") or None),
        name=f.get("name"), ondelete=_action(options.get("ondelete")),
        onupdate=_action(options.get("onupdate")),
        **_deferral(where, options.get("deferrable"), options.get("initially")))
    return fk if fk.name else replace(fk, name=fk_name(table, fk))


def _only(names: frozenset[str]) -> Callable[[Any], dict[Any, Any]]:
    """What a reflection call returned, for the tables `names` only."""
    def kept(found: Any) -> dict[Any, Any]:
        return {k: v for k, v in dict(found).items() if k[1] in names}

    return kept


def _optional(call: Any, kw: dict[str, Any]) -> dict[Any, Any]:
    """A reflection call some dialects do not implement: {} there, as reflect() does."""
    try:
        return dict(call(**kw))
    except NotImplementedError:
        return {}


def reflect(conn: Any, *, schemas: Iterable[str | None] = (None,),
            skip: Iterable[str] | Callable[[str], bool] = (), strict: bool = True,
            models: SchemaState | None = None) -> SchemaState:
    """The live schema as a SchemaState (bulk reflection; the version table left out): the
    tables of each of `schemas` (None: the connection's default schema); `strict` as for
    `from_inspector`; `models` as for `finish`."""
    return finish(conn, read_schemas(conn, schemas=schemas, skip=skip, strict=strict), models)


@dataclass
class Found:
    """What `read_schemas` read: tables and sequences by (schema, name)."""

    tables: dict[Any, Any] = field(default_factory=dict)
    sequences: dict[Any, Any] = field(default_factory=dict)

    def update(self, other: Found) -> None:
        """Add what another read found."""
        self.tables.update(other.tables)
        self.sequences.update(other.sequences)


def read_schemas(conn: Any, *, schemas: Iterable[str | None] = (None,),
                 skip: Iterable[str] | Callable[[str], bool] = (),
                 strict: bool = True) -> Found:
    """The tables and sequences of each of `schemas` as read, before `finish` (several
    calls on one connection, merged, then finished, are one `reflect` of all their
    schemas)."""
    from . import for_connection

    dialect = for_connection(conn)
    insp = sa.inspect(conn)
    found = Found()
    for schema in dict.fromkeys(schemas):
        state = from_inspector(insp, schema, skip=skip, dialect=dialect, strict=strict)
        found.update(Found(dict(state.tables), dict(state.sequences)))
    return found


def finish(conn: Any, found: Found, models: SchemaState | None = None) -> SchemaState:
    """Tables `read_schemas` read as the schema a person wrote (their table options in the
    words of `models` where both build the same here), and the read's transaction ended."""
    from . import for_connection
    from .comparable import map_columns

    dialect = for_connection(conn)
    # Identity options at the database's defaults are left out, as a person writes them.
    state = map_columns(SchemaState(found.tables, found.sequences), dialect.generated_as_held)
    if models is not None:
        state = dialect.words_matched(conn, state, models)
    end_read(conn)
    # What the database made by itself is not part of the schema anyone wrote.
    return dialect.as_written(state)


def _refuse_options(where: str, constraint: dict[str, Any]) -> None:
    """A reflected constraint with what the format cannot express (PostgreSQL's INCLUDE and
    NULLS NOT DISTINCT, a constraint's comment): refused, never dropped. Options reported at
    their defaults (an empty INCLUDE, False) are not options."""
    options = {k: v for k, v in (constraint.get("dialect_options") or {}).items() if v}
    if constraint.get("comment"):
        options["comment"] = constraint["comment"]
    if options:
        raise Unexpressible(where, f"the options {options}")
