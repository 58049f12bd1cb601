"""PostgreSQL's catalog read by schemaflow's own query where the Inspector's costs the server
most: the primary keys of a whole schema. The Inspector sends every table's oid as a
parameter and unnests each key's index (about 0.2 s of the server's time on a thousand
tables, more than the tables' columns); this reads the constraints of the schema in one
query, with the same tables (plain and partitioned, not temporary; the default schema as the
tables visible on the search path, as the Inspector reads it) and the same columns in the
same order (the key's own, never its INCLUDE columns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..catalogs import Limits

_PRIMARY_KEYS = """
SELECT c.relname, con.conname,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a
               ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord)
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype = 'p' AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
  AND {schema}
"""
_DEFAULT_SCHEMA = "pg_catalog.pg_table_is_visible(c.oid) AND n.nspname <> 'pg_catalog'"


def primary_keys(conn: Any, schema: str | None) -> dict[Any, dict[str, Any]]:
    """The primary key of each table of `schema` (None: the default one) that has one, keyed
    and shaped as the Inspector's `get_multi_pk_constraint` gives them (its
    `constrained_columns` and `name`)."""
    import sqlalchemy as sa

    where = _DEFAULT_SCHEMA if schema is None else "n.nspname = :schema"
    query = sa.text(_PRIMARY_KEYS.format(schema=where))
    rows = conn.execute(query, {"schema": schema} if schema is not None else {})
    return {(schema, str(table)): {"constrained_columns": [str(c) for c in columns],
                                   "name": str(name)}
            for table, name, columns in rows}


# What the Inspector's table options leave out: UNLOGGED, partitioned tables and partitions.
_TABLE_EXTRAS = """
SELECT c.relname, c.relpersistence = 'u', c.relkind = 'p',
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
       (SELECT p.relname FROM pg_catalog.pg_inherits i
        JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
        WHERE i.inhrelid = c.oid AND c.relispartition LIMIT 1)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
  AND (c.relpersistence = 'u' OR c.relkind = 'p' OR c.relispartition) AND {schema}
"""

# Every sequence but an identity column's own, with the table and column that own it
# (a SERIAL's, or OWNED BY).
_SEQUENCES = """
SELECT c.relname, t.relname, a.attname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_depend d
  ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
 AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE c.relkind = 'S' AND d.deptype IS DISTINCT FROM 'i' AND {schema}
"""


def _rows(conn: Any, query: str, schema: str | None) -> Any:
    import sqlalchemy as sa

    where = _DEFAULT_SCHEMA if schema is None else "n.nspname = :schema"
    return conn.execute(sa.text(query.format(schema=where)),
                        {"schema": schema} if schema is not None else {})


def table_extras(conn: Any, schema: str | None) -> dict[Any, dict[str, Any]]:
    """The tables of `schema` that are UNLOGGED, partitioned or a partition, with that as
    table options (the Inspector reports none of them)."""
    found: dict[Any, dict[str, Any]] = {}
    for table, unlogged, partitioned, key, parent in _rows(conn, _TABLE_EXTRAS, schema):
        options = found.setdefault((schema, str(table)), {})
        if unlogged:
            options["unlogged"] = True
        if partitioned:
            options["partition_by"] = str(key)
        if parent is not None:
            options["partition_of"] = str(parent)
    return found


_SEQUENCE_OPTIONS = """
SELECT c.relname, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE {schema}
"""
def sequence_options(conn: Any, schema: str | None, names: list[str],
                     limits: Limits) -> dict[str, dict[str, int | bool]]:
    """The options of the named sequences of `schema`, PostgreSQL's defaults left out."""
    from ..catalogs import options_given

    wanted = set(names)
    return {str(name): options_given(start, increment, low, high, cache, bool(cycle), limits)
            for name, start, increment, low, high, cache, cycle
            in _rows(conn, _SEQUENCE_OPTIONS, schema) if name in wanted}


def sequences(conn: Any, schema: str | None) -> list[tuple[str, str | None, str | None]]:
    """The sequences of `schema` but identity columns' own, each with the table and column
    that own it."""
    return [(str(name), None if table is None else str(table),
             None if column is None else str(column))
            for name, table, column in _rows(conn, _SEQUENCES, schema)]
