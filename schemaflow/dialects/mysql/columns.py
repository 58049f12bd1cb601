"""What the Inspector does not read of MariaDB's columns: its JSON, a LONGTEXT with a binary
collation and a column CHECK `json_valid(col)` that the Inspector leaves out; a default
drawn from a sequence, which it drops."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa


def json_columns(conn: Any, schema: str | None,
                 columns: dict[Any, list[dict[str, Any]]]) -> dict[Any, list[dict[str, Any]]]:
    """`columns` with each of MariaDB's JSON columns typed JSON (as `create_all()` wrote it),
    so that a baseline builds JSON again, not a plain LONGTEXT without its check."""
    rows = conn.exec_driver_sql(
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE "
        "FROM information_schema.CHECK_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = COALESCE(%s, DATABASE())", (schema,)).fetchall()
    # A column's own CHECK is named after the column (its LEVEL, 'Column', is only listed
    # since MariaDB 10.5.10).
    json = {(str(t), str(c)) for t, c, clause in rows
            if "".join(str(clause).split()).lower() == f"json_valid(`{str(c).lower()}`)"}
    if not json:
        return columns
    out = {}
    for key, found in columns.items():
        out[key] = [{**c, "type": sa.JSON()} if (key[1], c["name"]) in json and type(
            c["type"]).__name__ == "LONGTEXT" else c for c in found]
    return out


def sequence_defaults(conn: Any, schema: str | None,
                      columns: dict[Any, list[dict[str, Any]]]) -> dict[Any, list[dict[str, Any]]]:
    """`columns` with each default drawn from a sequence (`nextval(db.seq)`, which the
    Inspector's reading of SHOW CREATE TABLE drops: a baseline lost it without a word) as
    MariaDB gives it, the sequence named without its database when it is this one (a
    baseline applied to another database draws from that one's)."""
    rows = conn.exec_driver_sql(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_DEFAULT, COALESCE(%s, DATABASE()) "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) "
        "AND COLUMN_DEFAULT LIKE 'nextval(%%'", (schema, schema)).fetchall()
    if not rows:
        return columns
    drawn = {(str(t), str(c)): re.sub(rf"`{re.escape(str(db))}`\.", "", str(default))
             for t, c, default, db in rows}
    return {key: [{**c, "default": drawn[(key[1], c["name"])]}
                  if c.get("default") is None and (key[1], c["name"]) in drawn else c
                  for c in found] for key, found in columns.items()}
