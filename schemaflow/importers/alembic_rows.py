"""Alembic's `bulk_insert` as `insert_rows`: its rows where schemaflow's row values carry
them, else `Opaque` (the importer keeps the SQL Alembic writes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops as aops

from .. import ir
from ..ir.codec import is_json
from ..state import SchemaState
from .alembic_columns import Opaque, Ops, Partial

_SCALARS = (str, int, float, bool, type(None))


def bulk_insert(op: aops.BulkInsertOp, state: SchemaState, dialect: Any) -> Ops:
    rows = tuple(dict(r) for r in op.rows)
    if not rows:  # (Alembic sends nothing: ZenML's, rows read from an empty table)
        return []
    table: Any = op.table
    # A json column's value goes in as JSON (a dict or list as that object or array): as
    # insert_rows writes it, but for None, which SQLAlchemy's JSON (unless none_as_null)
    # stores as JSON's null and insert_rows as SQL NULL.
    json_types = {c.name: c.type for c in table.columns if isinstance(c.type, sa.JSON)}
    for r in rows:
        for key, value in r.items():
            kind = json_types.get(key)
            if kind is not None and value is None and not kind.none_as_null:
                # Alembic's own SQL (--sql) writes NULL there too: a note, not that SQL.
                raise Partial(f"bulk_insert into {table.name} gives None for the json column "
                              f"'{key}', which Alembic stores as JSON's null (insert_rows and "
                              "Alembic's --sql: SQL NULL); write these rows as SQL with "
                              "'null' for that value", [])
            if isinstance(value, (dt.date, dt.time)):
                # The value the revision computed when the import ran it: a time taken then
                # (utcnow()) is the import's, where `alembic upgrade` takes its own.
                raise Opaque(f"bulk_insert into {table.name} has a date or time ('{key}': "
                             f"{value.isoformat()}), written as the value the revision gave "
                             "when the import ran it (one it computes, such as the current "
                             "time, is the import's, not the apply's)")
            if not (isinstance(value, _SCALARS) or (kind is not None and is_json(value))):
                raise Opaque(f"bulk_insert into {table.name} has values other than text, "
                             "numbers and booleans (and JSON in a json column)")
    return [ir.InsertRows(table=str(table.name), schema=table.schema, rows=rows)]
