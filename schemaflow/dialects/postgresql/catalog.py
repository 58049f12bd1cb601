"""PostgreSQL's catalog read by schemaflow's own query where the Inspector's costs the server
most: the primary keys of a whole schema. The Inspector sends every table's oid as a
parameter and unnests each key's index (about 0.2 s of the server's time on a thousand
tables, more than the tables' columns); this reads the constraints of the schema in one
query, with the same tables (plain and partitioned, not temporary; the default schema as the
tables visible on the search path, as the Inspector reads it) and the same columns in the
same order (the key's own, never its INCLUDE columns)."""

from __future__ import annotations

from typing import Any

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
