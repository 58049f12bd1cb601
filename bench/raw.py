"""The raw-SQL floor: run pre-rendered statements with the plain DB-API driver, nothing else.

Usage (what the benchmark times, as a fresh process):

    python bench/raw.py URL SCRIPT.json

SCRIPT.json is a list of blocks ``{"tx": bool, "sql": [statement, ...]}``; a block is one
changeset's statements followed by its one version-row INSERT (apply) or DELETE (rollback),
run in one transaction (``BEGIN IMMEDIATE``/``COMMIT`` on SQLite, ``conn.transaction()`` with
psycopg). The statements are exactly those of schemaflow's own offline renderer
(``schemaflow apply --sql`` / ``schemaflow rollback base --sql``), cut into blocks by
`split_script` (the harness does that once, untimed). So the difference between schemaflow
and this script is what schemaflow does besides sending the SQL: start-up, loading and
checking the changesets, planning, rendering, and its per-changeset bookkeeping.

Only `json`, `sys` and the driver are imported in the timed process.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


def split_script(text: str) -> list[dict[str, object]]:
    """Cut a `schemaflow apply|rollback --sql` script into blocks (one per changeset).

    The script is: an optional ``CREATE TABLE IF NOT EXISTS <version table>`` first, then per
    changeset a ``-- apply|rollback <id>: <message>`` line, ``BEGIN;``, the statements (each
    ending with ``;`` at the end of a line), the version-row statement, ``COMMIT;``.
    """
    blocks: list[dict[str, object]] = []
    current: dict[str, object] | None = {"tx": False, "sql": []}
    buf: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (stripped.startswith("--") or not stripped):
            if stripped.startswith(("-- apply ", "-- rollback ")):
                if current and current["sql"]:
                    blocks.append(current)
                current = {"tx": False, "sql": []}
            continue
        if not buf and stripped.upper() == "BEGIN;":
            assert current is not None
            current["tx"] = True
            continue
        if not buf and stripped.upper() == "COMMIT;":
            continue
        buf.append(line)
        if stripped.endswith(";"):
            statement = "\n".join(buf).strip()[:-1].strip()
            assert current is not None
            current["sql"].append(statement)  # type: ignore[attr-defined]
            buf = []
    if buf:
        raise ValueError("the script ends inside a statement: " + "\n".join(buf)[:200])
    if current and current["sql"]:
        blocks.append(current)
    return blocks


def _sqlite(url: str, blocks: list[dict[str, Any]]) -> None:
    import sqlite3

    path = url.split(":///", 1)[1]
    conn = sqlite3.connect(path, isolation_level=None)
    # the same connection setup as schemaflow's (a rebuild must not cascade)
    conn.execute("PRAGMA foreign_keys=OFF")
    for block in blocks:
        if block["tx"]:
            conn.execute("BEGIN IMMEDIATE")
        for statement in block["sql"]:
            conn.execute(statement)
        if block["tx"]:
            conn.execute("COMMIT")
    conn.close()


def _postgresql(url: str, blocks: list[dict[str, Any]]) -> None:
    import psycopg

    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        for block in blocks:
            if block["tx"]:
                with conn.transaction():
                    for statement in block["sql"]:
                        conn.execute(statement)
            else:
                for statement in block["sql"]:
                    conn.execute(statement)


def main() -> int:
    url, script = sys.argv[1], sys.argv[2]
    with open(script, encoding="utf-8") as fh:
        blocks = json.load(fh)
    if url.startswith("sqlite"):
        _sqlite(url, blocks)
    elif url.startswith("postgresql"):
        _postgresql(url, blocks)
    else:
        sys.stderr.write(f"raw.py: unsupported URL {url}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
