"""What the Inspector does not read of MySQL's and MariaDB's indexes: descending key parts."""

from __future__ import annotations

from typing import Any


def complete(conn: Any, schema: str | None, tables: list[str],
             indexes: dict[Any, list[dict[str, Any]]]) -> dict[Any, list[dict[str, Any]]]:
    """`indexes` with the descending key parts marked, as `column_sorting`."""
    rows = conn.exec_driver_sql(
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND COLLATION = 'D'",
        (schema,)).fetchall()
    desc: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
    for table, index, column in rows:
        desc.setdefault((str(table), str(index)), {})[str(column)] = ("desc",)
    if not desc:
        return indexes
    out = {}
    for key, found in indexes.items():
        out[key] = [{**i, "column_sorting": desc[(key[1], i["name"])]}
                    if (key[1], i.get("name")) in desc else i for i in found]
    return out
