"""SQLite's column types as declared: its Inspector reads a type name it does not know by
affinity (`POINT` as INTEGER, `BINARY(16)` as NUMERIC), which would change the column; the
declared text from `PRAGMA table_xinfo` is read instead. Collations, which it does not read at
all, and generated columns, which it misreads, come from the CREATE TABLE statement."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.base import SQLiteDialect

from ..tables import Verbatim
from .generated import complete as complete_generated
from .generated import uncommented
from .indexes import key_list

_BASE = re.compile(r"\s*([\w ]+?)\s*(?:\(|$)")
_SIZED_BINARY = re.compile(r"\s*(VAR)?BINARY\s*\(\s*(\d+)\s*\)\s*$", re.IGNORECASE)
# What SQLAlchemy's SQLite compiler writes for its own generic types and reads back right by
# affinity: those stay as the Inspector read them.
_GENERIC = frozenset({"CLOB", "DOUBLE PRECISION", "UUID"})


_NAME = re.compile(r"""\s*("(?:[^"]|"")*"|'(?:[^']|'')*'|`(?:[^`]|``)*`|\[[^\]]*\]|[^\s(]+)""")
_COLLATE = re.compile(r'\bCOLLATE\s+("(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|\w+)', re.IGNORECASE)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _unquote(name: str) -> str:
    if name[:1] in ('"', "'", "`", "[") and len(name) >= 2:
        return name[1:-1].replace(name[0] * 2, name[0]) if name[0] != "[" else name[1:-1]
    return name


def _definitions(sql: str) -> dict[str, str]:
    """Column name → what follows it in its definition in a CREATE TABLE statement, without
    comments (the table's constraints, which come last, never taking a column's place)."""
    items, _ = key_list(uncommented(sql))
    out: dict[str, str] = {}
    for item in items:
        name = _NAME.match(item)
        if name:
            out.setdefault(_unquote(name.group(1)), item[name.end():])
    return out


def complete(conn: Any, schema: str | None, tables: list[str],
             columns: dict[Any, list[dict[str, Any]]]) -> dict[Any, list[dict[str, Any]]]:
    """`columns` (the Inspector's, per table) with each type SQLite only knows by affinity
    read from its declaration (BINARY(n)/VARBINARY(n), else the text as written), and each
    collation and generated column's expression from the CREATE TABLE statement."""
    prefix = f"{_quote(schema)}." if schema else ""
    for key, cols in columns.items():
        declared = {str(row[1]): str(row[2] or "") for row in conn.exec_driver_sql(
            f"PRAGMA {prefix}table_xinfo({_quote(key[1])})")}
        create = conn.exec_driver_sql(
            f"SELECT sql FROM {prefix}sqlite_master WHERE type = 'table' AND name = ?",
            (key[1],)).scalar()
        definitions = _definitions(str(create or ""))
        complete_generated(cols, definitions)
        for c in cols:
            collation = _COLLATE.search(definitions.get(str(c["name"]), ""))
            if collation and hasattr(c["type"], "collation"):
                c["type"].collation = _unquote(collation.group(1))
            text = declared.get(str(c["name"]), "").strip()
            base = _BASE.match(text)
            if not text or base is None:
                continue
            name = " ".join(base.group(1).upper().split())
            if name in SQLiteDialect.ischema_names or name in _GENERIC:
                continue
            sized = _SIZED_BINARY.match(text)
            if sized:
                c["type"] = (sa.VARBINARY if sized.group(1) else sa.BINARY)(int(sized.group(2)))
            else:
                c["type"] = Verbatim(text)
    return columns
