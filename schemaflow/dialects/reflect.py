"""A live database's schema, read with the Inspector's bulk calls into plain-data state; what
the format cannot express is refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from .. import ir
from ..state import SchemaState, ck_name, fk_name, ix_name, uq_name
from .read import Unexpressible, _action, _column, _deferral, _table, default_from_sa


def from_inspector(insp: Any, schema: str | None, *,
                   skip: Iterable[str] = ()) -> SchemaState:
    """The SchemaState of a live database, read with the Inspector's bulk reflection calls.

    What MetaData.reflect() returns, read the way from_metadata() reads it, without building
    a SQLAlchemy Table per table: on a thousand tables that construction was most of the time
    of `check --against-db`. Like reflect(), an index that only backs a unique constraint (or
    a unique constraint that is only an index) is listed once, as the database reports it."""
    names = [n for n in insp.get_table_names(schema=schema) if n not in set(skip)]
    if not names:
        return SchemaState()
    kw = {"schema": schema, "filter_names": names}
    columns = insp.get_multi_columns(**kw)
    pks = insp.get_multi_pk_constraint(**kw)
    fks = insp.get_multi_foreign_keys(**kw)
    indexes = insp.get_multi_indexes(**kw)
    uniques = insp.get_multi_unique_constraints(**kw)
    checks = _optional(insp.get_multi_check_constraints, kw)
    comments = _optional(insp.get_multi_table_comment, kw)
    tables = {}
    for key in sorted(columns, key=lambda k: (k[0] or "", k[1])):
        name = str(key[1])
        pk = pks.get(key) or {}
        pk_cols = tuple(str(c) for c in pk.get("constrained_columns") or ())
        cols = []
        for c in columns[key]:
            _refuse_column(name, c)
            default = c.get("default")
            cols.append(_column(
                name, str(c["name"]), c["type"], c["name"] not in pk_cols and bool(c["nullable"]),
                default_from_sa(str(default)) if default is not None else (None, None),
                c.get("comment")))
        uqs = []
        for u in uniques.get(key, ()):
            if u.get("duplicates_index"):
                continue
            ucols = tuple(str(x) for x in u["column_names"])
            uqs.append(ir.UniqueDef(columns=ucols, name=u.get("name") or uq_name(name, ucols)))
        cks = [ir.CheckDef(expression=str(ck["sqltext"]),
                           name=ck.get("name") or ck_name(name, str(ck["sqltext"])))
               for ck in checks.get(key, ())]
        foreign = [_foreign_key(name, f) for f in fks.get(key, ())]
        idx = [_index(name, i) for i in indexes.get(key, ()) if not i.get("duplicates_constraint")]
        t = _table(name, key[0] or None, cols, (pk_cols, pk.get("name")), uqs, foreign, cks,
                   sorted(idx, key=lambda i: i.name or ""),
                   (comments.get(key) or {}).get("text"))
        tables[t.key] = t
    return SchemaState(tables)


def _refuse_column(table: str, c: dict[str, Any]) -> None:
    """Refuse column properties the format cannot express yet (and drop one a database adds
    by itself)."""
    where = f"column {table}.{c['name']}"
    if c.get("computed"):
        raise Unexpressible(where, f"a generated column ({c['computed'].get('sqltext')})")
    if c.get("identity"):
        raise Unexpressible(where, "an identity column (GENERATED ... AS IDENTITY)")
    if c.get("collation"):
        raise Unexpressible(where, f"the collation {c['collation']!r}")
    if type(c["type"]).__name__ == "LONGTEXT" and str(
            getattr(c["type"], "collation", "")).endswith("_bin"):
        # MariaDB's JSON is LONGTEXT with a binary collation of its own: not one anyone wrote.
        c["type"] = type(c["type"])()


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


# Index options every index reports at their defaults (anything else is refused).
_INDEX_DEFAULTS: dict[str, object] = {"postgresql_using": "btree", "postgresql_include": [],
                   "postgresql_where": None, "sqlite_where": None}


def _index(table: str, i: dict[str, Any]) -> ir.IndexDef:
    """A reflected index, with its partial-index condition where the database has one."""
    where_is = f"index {i.get('name')} on {table}"
    if any(x is None for x in i["column_names"]) or i.get("expressions"):
        shown = ", ".join(str(x) for x in i.get("expressions") or i["column_names"])
        raise Unexpressible(where_is, f"an expression ({shown})")
    if i.get("column_sorting"):
        raise Unexpressible(where_is, f"column ordering {i['column_sorting']}")
    icols = tuple(str(x) for x in i["column_names"])
    options = i.get("dialect_options") or {}
    for option, value in options.items():
        if option not in _INDEX_DEFAULTS or (
                _INDEX_DEFAULTS[option] is not None and value != _INDEX_DEFAULTS[option]):
            raise Unexpressible(where_is, f"the option {option}={value!r}")
    where = options.get("postgresql_where", options.get("sqlite_where"))
    return ir.IndexDef(name=i.get("name") or ix_name(table, icols), columns=icols,
                       unique=bool(i.get("unique")),
                       where=str(where) if where is not None else None)


def _optional(call: Any, kw: dict[str, Any]) -> dict[Any, Any]:
    """A reflection call some dialects do not implement: {} there, as reflect() does."""
    try:
        return dict(call(**kw))
    except NotImplementedError:
        return {}


def reflect(conn: Any, *, schema: str | None = None, skip: tuple[str, ...] = ()) -> SchemaState:
    """The live schema as a SchemaState (bulk reflection; the version table left out)."""
    state = from_inspector(sa.inspect(conn), schema, skip=skip)
    if conn.in_transaction():
        conn.rollback()
    tables = {}
    for key, t in state.tables.items():
        # Indexes a database made for a foreign key by itself (InnoDB names them after the key)
        # are not part of the schema anyone wrote.
        fk_index = {(f.name, f.columns) for f in t.foreign_keys}
        tables[key] = replace(t, indexes=tuple(i for i in t.indexes
                                                if (i.name, i.columns) not in fk_index))
    return SchemaState(tables)
