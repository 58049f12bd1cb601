"""What SQLite keeps of a table beyond its columns, keys and indexes that its Inspector does
not report: AUTOINCREMENT (rowids never reused), read from the table's CREATE TABLE text."""

from __future__ import annotations

import re
from typing import Any

# A quoted string or name, or a comment, is skipped whole; the keyword outside them is caught.
_KEYWORD = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]"""
                      r"|--[^\n]*|/\*.*?(?:\*/|$)|(\bAUTOINCREMENT\b)", re.I | re.S)


def autoincrement(conn: Any, schema: str | None) -> dict[Any, dict[str, Any]]:
    """The tables of `schema` (None: main) written with AUTOINCREMENT, with it as an option."""
    master = "sqlite_master" if schema is None else (
        '"' + schema.replace('"', '""') + '".sqlite_master')
    rows = conn.exec_driver_sql(f"SELECT name, sql FROM {master} WHERE type = 'table'")
    return {(schema, str(name)): {"autoincrement": True} for name, sql in rows
            if sql and any(m.group(1) for m in _KEYWORD.finditer(str(sql)))}
