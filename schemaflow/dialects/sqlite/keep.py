"""What a SQLite table rebuild would lose that the changesets do not describe, kept or
refused, on the live table, as the rebuild runs.

A rebuild (create the new table, copy the rows, drop the old one, rename) builds the table
the replayed schema describes. Dropping the old table also drops what only the database
knows of it: its triggers and indexes made by `sql` operations or by hand (SQLite's own
procedure recreates them), and columns or table options (AUTOINCREMENT, STRICT, WITHOUT
ROWID) added that way, which the new table would not have, their data with them. And with
foreign keys enforced (a caller's connection inside its own transaction, where they cannot
be switched off), the DROP would delete or change the rows of the tables that refer to it.

So the rebuild's statements are bracketed by two markers, SQL comments (what the offline
script shows of them): the first, run just before the rebuild, refuses a table that is not
the one described (columns, options) and a rebuild that would reach other tables' rows,
remembers the table's triggers and other indexes, and lets the rename leave views and other
tables' triggers alone (`legacy_alter_table`, as SQLite's procedure has it: they name the
table, which is back under its name once renamed); the second recreates what was remembered.
A refusal is a database error of the first marker: the changeset stops there, rolled back."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

MARK = "/* schemaflow: "
_END = " */"

# What the first marker remembered, by connection and table, until the second recreates it.
_kept: dict[tuple[int, str | None, str], tuple[list[str], int, int | None, list[str]]] = {}

_OPTIONS = re.compile(r"\)\s*((?:WITHOUT\s+ROWID|STRICT)\b.*)$", re.IGNORECASE | re.DOTALL)
_AUTOINCREMENT = re.compile(r"\bAUTOINCREMENT\b", re.IGNORECASE)


class Refused(sqlite3.DatabaseError):
    """A rebuild that would lose or change what the changesets do not describe."""


def before(table: str, schema: str | None, columns: list[str], indexes: list[str]) -> str:
    """The marker that runs before the rebuild of `table`, whose columns and indexes the
    replayed schema says are `columns` and `indexes`."""
    return _marker("checks here that table {} is as the changesets describe, and keeps its "
                   "triggers and other indexes through its rebuild", table,
                   {"phase": "before", "schema": schema, "table": table, "columns": columns,
                    "indexes": indexes})


def after(table: str, schema: str | None) -> str:
    """The marker that runs after the rebuild of `table` (its indexes made)."""
    return _marker("recreates here the triggers and other indexes of table {}", table,
                   {"phase": "after", "schema": schema, "table": table})


def _marker(what: str, table: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, separators=(",", ":")).replace("*/", "*\\/")
    name = json.dumps(table)[1:-1].replace("*/", "*\\/")
    return f"{MARK}a run of schemaflow {what.format(name)} (this script does not) {payload}{_END}"


def is_marker(sql: str) -> bool:
    """Whether statement `sql` is one of the markers (run here, not sent)."""
    return sql.startswith(MARK)


def run(sql: str, cursor: Any) -> None:
    """Run marker `sql` on the sqlite3 `cursor`'s connection; Refused when the rebuild would
    lose or change what the changesets do not describe."""
    data = json.loads(sql[sql.rindex('{"phase"'):-len(_END)])
    schema, table = data["schema"], data["table"]
    key = (id(cursor.connection), schema, table.lower())
    master = _prefix(schema) + "sqlite_master"
    if data["phase"] == "after":
        statements, legacy, before_rebuild, children = _kept.pop(key, ([], 0, None, []))
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(f"PRAGMA legacy_alter_table={legacy}")
        # Foreign keys are not enforced while a rebuild runs: what PostgreSQL and MySQL
        # refuse (a key added over rows it does not find; a unique key dropped that a
        # foreign key points at) is refused here, from the rows and keys it leaves.
        try:
            now = _broken(cursor, schema, [table, *children])
        except sqlite3.Error as exc:
            raise Refused(f"a foreign key that points at table {table} no longer finds a key "
                          f"it can point at once the table is rebuilt ({exc}): keep the "
                          "unique key, or drop the foreign key first") from None
        if before_rebuild is not None and now > before_rebuild:
            raise Refused(f"once rebuilt, table {table} and the tables that point at it have "
                          f"{now - before_rebuild} more row(s) whose foreign key points at no row "
                          "(PRAGMA foreign_key_check lists them): fix or remove those rows "
                          "first")
        # A view that names the table is compiled again: one the new table broke (a column
        # it reads dropped) stops the changeset here, as the rename itself would have.
        for (view,) in cursor.execute(
                f"SELECT name FROM {master} WHERE type = 'view' AND instr(lower(sql), "
                "lower(?))", (table,)).fetchall():
            try:
                cursor.execute(f"PRAGMA {_prefix(schema)}table_info({_quoted(view)})")
            except sqlite3.Error as exc:
                raise Refused(f"view {view} reads table {table} and no longer works on the "
                              f"table rebuilt ({exc}): drop or change the view first") from None
        return
    _check(cursor, master, schema, table, data["columns"])
    known = {i.lower() for i in data["indexes"]}
    rows = cursor.execute(
        f"SELECT type, name, sql FROM {master} WHERE type IN ('index', 'trigger') "
        "AND lower(tbl_name) = lower(?) AND sql IS NOT NULL ORDER BY type, rowid",
        (table,)).fetchall()
    legacy = cursor.execute("PRAGMA legacy_alter_table").fetchone()[0]
    if key in _kept:  # (an attempt that failed before its second marker: its setting)
        legacy = _kept[key][1]
    # (The tables that point at it are the same after: the rebuild changes none of them.)
    children = _children(cursor, master, schema, table)
    broken: int | None
    try:
        broken = _broken(cursor, schema, [table, *children])
    except sqlite3.Error:  # (a foreign key without a key to point at already)
        broken = None
    _kept[key] = ([text for kind, name, text in rows
                   if kind == "trigger" or name.lower() not in known], legacy, broken, children)
    cursor.execute("PRAGMA legacy_alter_table=ON")


def _check(cursor: Any, master: str, schema: str | None, table: str,
           columns: list[str]) -> None:
    row = cursor.execute(f"SELECT sql FROM {master} WHERE type = 'table' "
                         "AND lower(name) = lower(?)", (table,)).fetchone()
    if row is None:
        return  # (the rebuild's own statements say that it is missing)
    options = _OPTIONS.search(row[0] or "")
    if options or _AUTOINCREMENT.search(row[0] or ""):
        what = options.group(1).strip() if options else "AUTOINCREMENT"
        raise Refused(f"table {table} is {what} in the database, which the changesets do not "
                      "describe: rebuilding it as described would drop that; make the "
                      "change with a `sql` operation that keeps it")
    live = [r[1] for r in cursor.execute(f"PRAGMA {_prefix(schema)}table_xinfo({_quoted(table)})")]
    described = {c.lower() for c in columns}
    extra = [c for c in live if c.lower() not in described]
    if extra:
        raise Refused(f"table {table} has column(s) {', '.join(extra)} in the database, which "
                      "the changesets do not describe (added by a `sql` operation or by "
                      "hand): rebuilding the table would drop them with their data; add them "
                      "to the changesets (or drop them) first")
    if cursor.execute("PRAGMA foreign_keys").fetchone()[0]:
        children = _children(cursor, master, schema, table, every=True)
        if children:
            raise Refused(f"foreign keys are enforced on this connection, and inside its "
                          f"transaction they cannot be switched off: dropping table {table} "
                          f"to rebuild it would delete or change the rows of "
                          f"{', '.join(children)} that refer to it; run schemaflow on the "
                          "engine, or on a connection with no transaction open")


def _children(cursor: Any, master: str, schema: str | None, table: str, *,
              every: bool = False) -> list[str]:
    """The other tables with a foreign key to `table`: of those whose definition names it
    (a name written with doubled quotes aside), or, `every`, of all tables."""
    named = "" if every else "AND instr(lower(sql), lower(?)) "
    return [r[0] for r in cursor.execute(
        f"SELECT m.name FROM (SELECT name FROM {master} WHERE type = 'table' {named}"
        "AND lower(name) <> lower(?)) m, "
        f"pragma_foreign_key_list(m.name{_of(schema)}) f "
        "WHERE lower(f.\"table\") = lower(?) GROUP BY m.name",
        (table, table) if every else (table, table, table))]


def _broken(cursor: Any, schema: str | None, tables: list[str]) -> int:
    """How many rows of `tables` have a foreign key that points at no row (sqlite3.Error:
    a foreign key that has no key to point at)."""
    return sum(len(cursor.execute(f"PRAGMA {_prefix(schema)}foreign_key_check({_quoted(t)})"
                                  ).fetchall()) for t in tables)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _prefix(schema: str | None) -> str:
    return "" if schema is None else _quoted(schema) + "."


def _of(schema: str | None) -> str:
    return "" if schema is None else ", " + "'" + schema.replace("'", "''") + "'"
