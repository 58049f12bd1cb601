"""What a SQLite table rebuild would lose that the changesets do not describe, kept or
refused, on the live table, as the rebuild runs.

A rebuild (create the new table, copy the rows, drop the old one, rename) builds the table
the replayed schema describes. Dropping the old table also drops what only the database
knows of it: its triggers and indexes made by `sql` operations or by hand (SQLite's own
procedure recreates them), and columns or table options (AUTOINCREMENT, STRICT, WITHOUT
ROWID) added that way, which the new table would not have, their data with them. And with
foreign keys enforced (a caller's connection inside its own transaction, where they cannot
be switched off), the DROP would delete or change the rows of the tables that refer to it.

So three of the rebuild's statements are markers that schemaflow runs itself instead of
sending (each starts with a comment: the offline script shows it, and the third is the
rename itself there):
- `before`, ahead of the rebuild: refuses a table that is not the one described (columns,
  options; AUTOINCREMENT unless described) and a rebuild that would reach other tables'
  rows; writes down the table's triggers and other indexes, the largest key AUTOINCREMENT
  gave it, and how many rows break a foreign key, in a table of the
  database (`_sf_keep`), so that they commit or roll back with the rebuild and a changeset
  resumed in another process (`transactional: false`) still finds them;
- `rename`, the rename, with `legacy_alter_table` on for that statement alone, as SQLite's
  procedure has it: the views and other tables' triggers that name the table are left
  alone (they find it again under its name) rather than stopping the rename;
- `after`: recreates what was written down (AUTOINCREMENT's counter no lower than it was:
  the copy of the rows would lower it to the largest key left), recompiles the views that
  read the table (one
  that no longer works stops the changeset, as the rename itself would have), and refuses
  what foreign keys would have refused (they are off while a rebuild runs): more rows that
  point at nothing, or a foreign key left without a key to point at.
A refusal is a database error of its marker (`Refused`): the changeset stops there."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

MARK = "/* schemaflow: "
_END = " */"
KEEP = "_sf_keep"  # where `before` writes down what `after` recreates

# A quoted string or name, or a comment, is set aside before looking for a keyword.
_QUOTED = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]"""
                     r"|--[^\n]*|/\*.*?(?:\*/|$)", re.S)
_OPTIONS = re.compile(r"\)\s*((?:WITHOUT\s+ROWID|STRICT)\b.*)$", re.IGNORECASE | re.DOTALL)
_AUTOINCREMENT = re.compile(r"\bAUTOINCREMENT\b", re.IGNORECASE)
_NAMED = re.compile(r"^(\s*CREATE\s+(?:UNIQUE\s+)?(?:INDEX|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?)",
                    re.IGNORECASE)
# NEW.column and OLD.column in a trigger's body, the name quoted or not.
_ROW_COLUMN = re.compile(r"""\b(new|old)\s*\.\s*"""
                         r"""(?:"((?:[^"]|"")+)"|`([^`]+)`|\[([^\]]+)\]|(\w+))""", re.IGNORECASE)
# Table-valued pragmas (pragma_foreign_key_list) came with 3.16, table_xinfo with 3.26.
_VERSION = sqlite3.sqlite_version_info


class Refused(sqlite3.DatabaseError):
    """A rebuild that would lose or change what the changesets do not describe."""


def before(table: str, schema: str | None, columns: list[str], indexes: list[str],
           autoincrement: bool = False) -> str:
    """The marker that runs before the rebuild of `table`, whose columns and indexes the
    replayed schema says are `columns` and `indexes`, and `autoincrement` whether it has
    AUTOINCREMENT."""
    data: dict[str, Any] = {"phase": "before", "schema": schema, "table": table,
                            "columns": columns, "indexes": indexes}
    if autoincrement:
        data["autoincrement"] = True
    return _marker("checks here that table {} is as the changesets describe, and keeps its "
                   "triggers and other indexes through its rebuild (this script does not)",
                   table, data)


def rename(temporary: str, table: str, schema: str | None, statement: str) -> str:
    """The rebuild's rename (`statement`, compiled), run with `legacy_alter_table` on."""
    return _marker("renames {} with legacy_alter_table on", table,
                   {"phase": "rename", "schema": schema, "table": table,
                    "from": temporary}) + " " + statement


def after(table: str, schema: str | None, autoincrement: bool = False) -> str:
    """The marker that runs after the rebuild of `table` (its indexes made), `autoincrement`
    whether the rebuilt table has AUTOINCREMENT."""
    data: dict[str, Any] = {"phase": "after", "schema": schema, "table": table}
    if autoincrement:
        data["autoincrement"] = True
    return _marker("recreates here the triggers and other indexes of table {} (this script "
                   "does not)", table, data)


def _marker(what: str, table: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, separators=(",", ":")).replace("*/", "*\\/")
    name = json.dumps(table)[1:-1].replace("*/", "*\\/")
    return f"{MARK}a run of schemaflow {what.format(name)} {payload}{_END}"


def is_marker(sql: str) -> bool:
    """Whether statement `sql` is one of the markers (run here, not sent)."""
    return sql.startswith(MARK)


def sent(sql: str) -> str | None:
    """The statement marker `sql` carries (the rename's), if any."""
    text = sql[sql.index(_END, sql.rindex('{"phase"')) + len(_END):].strip()
    return text or None


def run(sql: str, cursor: Any) -> None:
    """Run marker `sql` on the sqlite3 `cursor`'s connection; Refused when the rebuild would
    lose or change what the changesets do not describe."""
    end = sql.index(_END, sql.rindex('{"phase"'))
    data = json.loads(sql[sql.rindex('{"phase"'):end])
    schema, table = data["schema"], data["table"]
    master = _prefix(schema) + "sqlite_master"
    if data["phase"] == "rename":
        _rename(cursor, sql[end + len(_END):].strip())
    elif data["phase"] == "before":
        _check(cursor, master, schema, table, data["columns"], data.get("autoincrement", False))
        _remember(cursor, master, schema, table, {i.lower() for i in data["indexes"]})
    else:
        _recreate(cursor, master, schema, table, data.get("autoincrement", False))


def _rename(cursor: Any, statement: str) -> None:
    row = cursor.execute("PRAGMA legacy_alter_table").fetchone()
    if row is None:  # (before 3.25, which has only the legacy behaviour)
        cursor.execute(statement)
        return
    cursor.execute("PRAGMA legacy_alter_table=ON")
    try:
        cursor.execute(statement)
    finally:
        cursor.execute(f"PRAGMA legacy_alter_table={int(row[0])}")


def _remember(cursor: Any, master: str, schema: str | None, table: str,
              known: set[str]) -> None:
    rows = cursor.execute(
        f"SELECT type, name, sql FROM {master} WHERE type IN ('index', 'trigger') "
        "AND lower(tbl_name) = lower(?) AND sql IS NOT NULL ORDER BY type, rowid",
        (table,)).fetchall()
    kept = [(kind, text) for kind, name, text in rows
            if kind == "trigger" or name.lower() not in known]
    broken: int | None = None
    children: list[str] = []
    if _VERSION >= (3, 16):
        # (The tables that point at it are the same after: the rebuild changes none.)
        children = _children(cursor, master, schema, table)
        try:
            broken = _broken(cursor, schema, [table, *children])
        except sqlite3.Error:  # (a foreign key without a key to point at already)
            broken = None
    store = _prefix(schema) + _quoted(KEEP)
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {store} (tbl TEXT, kind TEXT, body TEXT)")
    cursor.execute(f"DELETE FROM {store} WHERE lower(tbl) = lower(?)", (table,))
    columns = [r[1] for r in cursor.execute(f"PRAGMA {_prefix(schema)}table_info("
                                            f"{_quoted(table)})")]
    seq = _sequence(cursor, master, schema, table)
    cursor.executemany(f"INSERT INTO {store} VALUES (?, ?, ?)",
                       [(table, kind, text) for kind, text in kept]
                       + [(table, "column", name) for name in columns]
                       + [(table, "child", name) for name in children]
                       + ([(table, "broken", str(broken))] if broken is not None else [])
                       + ([(table, "seq", str(seq))] if seq is not None else []))


def _sequence(cursor: Any, master: str, schema: str | None, table: str) -> int | None:
    """The largest key AUTOINCREMENT has given `table` (its row of sqlite_sequence), which
    the rebuild's copy of the rows would lower to the largest left: deleted keys reused."""
    if cursor.execute(f"SELECT 1 FROM {master} WHERE name = 'sqlite_sequence'").fetchone() is None:
        return None
    row = cursor.execute(f"SELECT seq FROM {_prefix(schema)}sqlite_sequence "
                         "WHERE lower(name) = lower(?)", (table,)).fetchone()
    return int(row[0]) if row is not None and row[0] is not None else None


def _recreate(cursor: Any, master: str, schema: str | None, table: str,
              autoincrement: bool) -> None:
    store = _prefix(schema) + _quoted(KEEP)
    if cursor.execute(f"SELECT 1 FROM {master} WHERE type = 'table' AND name = ?",
                      (KEEP,)).fetchone() is None:
        return
    rows = cursor.execute(f"SELECT kind, body FROM {store} WHERE lower(tbl) = lower(?) "
                          "ORDER BY rowid", (table,)).fetchall()
    cursor.execute(f"DELETE FROM {store} WHERE lower(tbl) = lower(?)", (table,))
    if cursor.execute(f"SELECT 1 FROM {store} LIMIT 1").fetchone() is None:
        cursor.execute(f"DROP TABLE {store}")
    remaining = {r[1].lower() for r in cursor.execute(
        f"PRAGMA {_prefix(schema)}table_info({_quoted(table)})")}
    gone = {body.lower() for kind, body in rows if kind == "column"} - remaining
    for kind, body in rows:
        if kind not in ("index", "trigger"):
            continue
        # A trigger is kept as written, and SQLite checks its body only when it fires: one
        # that reads a column the rebuild dropped stops the changeset, as SQLite's own DROP
        # COLUMN would.
        used = sorted({next(n for n in m.groups()[1:] if n).lower()
                       for m in _ROW_COLUMN.finditer(body)} & gone) if kind == "trigger" else []
        if used:
            raise Refused(f"a trigger on table {table} uses column(s) {', '.join(used)}, which "
                          f"the rebuild drops ({body.split(chr(10))[0][:80]}): drop or "
                          "change the trigger first")
        # (the text as the database keeps it names no schema)
        cursor.execute(_NAMED.sub(lambda m: m.group(1) + _prefix(schema), body, count=1)
                       if schema else body)
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
    seq = next((int(body) for kind, body in rows if kind == "seq"), None)
    if seq is not None and autoincrement:
        # The keys AUTOINCREMENT gave before, never given again: its counter as it was.
        sequence = _prefix(schema) + "sqlite_sequence"
        if cursor.execute(f"UPDATE {sequence} SET seq = max(seq, ?) WHERE lower(name) = "
                          "lower(?)", (seq, table)).rowcount == 0:
            cursor.execute(f"INSERT INTO {sequence} (name, seq) VALUES (?, ?)", (table, seq))
    broken = next((int(body) for kind, body in rows if kind == "broken"), None)
    if broken is None:  # (none written down: a foreign key was broken before already)
        return
    # Foreign keys are off while a rebuild runs: what PostgreSQL and MySQL refuse (a key
    # added over rows it does not find; a unique key dropped that a foreign key points at)
    # is refused here, from the rows and keys it leaves.
    children = [body for kind, body in rows if kind == "child"]
    try:
        now = _broken(cursor, schema, [table, *children])
    except sqlite3.Error as exc:
        raise Refused(_mismatch(table, exc)) from None
    if now > broken:
        raise Refused(f"once rebuilt, table {table} and the tables that point at it have "
                      f"{now - broken} more row(s) whose foreign key points at no row "
                      "(PRAGMA foreign_key_check lists them): fix or remove those rows first")


# SQLite's words for a foreign key whose columns are no key of the table it points at.
_MISMATCH = re.compile(r'foreign key mismatch - "((?:[^"]|"")*)" referencing "((?:[^"]|"")*)"')


def _mismatch(table: str, exc: sqlite3.Error) -> str:
    """What to say of foreign_key_check's error once `table` is rebuilt: which table's
    foreign key points at which, as SQLite names them."""
    found = _MISMATCH.search(str(exc))
    if found is None:
        return (f"a foreign key of table {table} or of a table that points at it no longer "
                f"finds a key it can point at once the table is rebuilt ({exc}): keep the "
                "key it points at, or drop the foreign key first")
    child, parent = (name.replace('""', '"') for name in found.groups())
    return (f"the foreign key of table {child} that points at table {parent} finds no "
            f"primary key or unique constraint of {parent} on the columns it names, once "
            f"table {table} is rebuilt ({exc}): point it at a key of {parent} (or keep that "
            "key), or drop the foreign key first")


def _check(cursor: Any, master: str, schema: str | None, table: str,
           columns: list[str], autoincrement: bool) -> None:
    row = cursor.execute(f"SELECT sql FROM {master} WHERE type = 'table' "
                         "AND lower(name) = lower(?)", (table,)).fetchone()
    if row is None:
        return  # (the rebuild's own statements say that it is missing)
    bare = _QUOTED.sub(" ", row[0] or "")
    options = _OPTIONS.search(bare)
    if options or (_AUTOINCREMENT.search(bare) and not autoincrement):
        what = options.group(1).strip() if options else "AUTOINCREMENT"
        raise Refused(f"table {table} is {what} in the database, which the changesets do not "
                      "describe: rebuilding it as described would drop that; make the "
                      "change with a `sql` operation that keeps it")
    pragma = "table_xinfo" if _VERSION >= (3, 26) else "table_info"
    live = [r[1] for r in cursor.execute(f"PRAGMA {_prefix(schema)}{pragma}({_quoted(table)})")]
    described = {c.lower() for c in columns}
    extra = [c for c in live if c.lower() not in described]
    if extra:
        raise Refused(f"table {table} has column(s) {', '.join(extra)} in the database, which "
                      "the changesets do not describe (added by a `sql` operation or by "
                      "hand): rebuilding the table would drop them with their data; add them "
                      "to the changesets (or drop them) first")
    if cursor.execute("PRAGMA foreign_keys").fetchone()[0]:
        children = _children(cursor, master, schema, table, every=True) \
            if _VERSION >= (3, 16) else ["(the tables that refer to it)"]
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
