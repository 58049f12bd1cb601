"""SQLite's indexes as written: the Inspector skips expression indexes and reads no key part
ordering, so each index is read from its CREATE INDEX statement and `PRAGMA index_xinfo`."""

from __future__ import annotations

import re
from typing import Any

_UNIQUE = re.compile(r"^\s*CREATE\s+UNIQUE\b", re.IGNORECASE)
_WHERE = re.compile(r"^\s*WHERE\s+(.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_SUFFIX = re.compile(r"(?:\s+COLLATE\s+\S+)?(?:\s+(?:ASC|DESC))?\s*$", re.IGNORECASE)
_QUOTES = {'"': '"', "'": "'", "`": "`", "[": "]"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def key_list(sql: str) -> tuple[list[str], str]:
    """The key parts of a CREATE INDEX statement (top-level, as written) and what follows
    their closing parenthesis."""
    depth, start, items, i = 0, -1, [], 0
    while i < len(sql):
        ch = sql[i]
        if ch in _QUOTES:
            i = sql.find(_QUOTES[ch], i + 1)
            if i < 0:
                break
        elif ch == "(":
            depth += 1
            if depth == 1:
                start = i + 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                items.append(sql[start:i])
                return [x.strip() for x in items], sql[i + 1:]
        elif ch == "," and depth == 1:
            items.append(sql[start:i])
            start = i + 1
        i += 1
    return [], ""


def _unwrap(text: str) -> str:
    """`(expr)` → `expr` when the parentheses enclose the whole of it."""
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        inner, rest = key_list("(" + text[1:-1] + ")")
        if len(inner) == 1 and not rest.strip():
            return text[1:-1].strip()
    return text


def complete(conn: Any, schema: str | None, tables: list[str],
             indexes: dict[Any, list[dict[str, Any]]]) -> dict[Any, list[dict[str, Any]]]:
    """Every index of `tables` with its key parts, orderings and condition."""
    prefix = _quote(schema) + "." if schema else ""
    out = dict(indexes)
    for table in tables:
        rows = conn.exec_driver_sql(
            f"SELECT name, sql FROM {prefix}sqlite_master WHERE type = 'index' "
            "AND tbl_name = ? AND sql IS NOT NULL ORDER BY name", (table,)).fetchall()
        inspected = {i.get("name"): i for i in indexes.get((schema, table), ())}
        found = []
        for name, sql in rows:
            info = conn.exec_driver_sql(f"PRAGMA {prefix}index_xinfo({_quote(name)})").fetchall()
            keys = [r for r in info if r[5]]  # (seqno, cid, name, desc, coll, key)
            written, rest = key_list(sql)
            if len(written) != len(keys):
                # Not a statement this reader understands: the Inspector's reading of it, or,
                # for an expression index the Inspector skips, a refusal naming it.
                found.append(inspected.get(name) or {
                    "name": name, "unique": False, "column_names": [],
                    "dialect_options": {"sqlite_unread_definition": sql}})
                continue
            columns: list[str | None] = []
            exprs: list[str] = []
            sorting: dict[str, tuple[str, ...]] = {}
            for row, text in zip(keys, written, strict=True):
                expr = str(row[2]) if row[1] >= 0 else _unwrap(_SUFFIX.sub("", text))
                columns.append(str(row[2]) if row[1] >= 0 else None)
                exprs.append(expr)
                if row[3]:
                    sorting[expr] = ("desc",)
            entry: dict[str, Any] = {"name": name, "unique": bool(_UNIQUE.match(sql)),
                                     "column_names": columns, "dialect_options": {}}
            if None in columns:
                entry["expressions"] = exprs
            if sorting:
                entry["column_sorting"] = sorting
            where = _WHERE.match(rest)
            if where:
                entry["dialect_options"]["sqlite_where"] = where.group(1)
            found.append(entry)
        out[(schema, table)] = found
    return out
