"""The tables an import's steps name: those its operations act on or point at, and those
the SQL it writes builds or alters. A step that does not fit the replayed schema and names a
table an earlier step wrote as SQL is SQL too (that SQL made or changed what the schema does
not know)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .. import ir
from ..errors import StateError
from ..state import SchemaState, apply

# CREATE TABLE, ALTER TABLE and CREATE INDEX ... ON: the table, quoted or not, with or
# without a schema (the name after the last dot).
_NAME = r'(?:(?:"[^"]+"|`[^`]+`|\w+)\.)?("[^"]+"|`[^`]+`|\w+)'
_BUILDS = re.compile(
    r"^\s*(?:CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:TEMP(?:ORARY)?\s+)?TABLE|ALTER\s+TABLE)"
    r"\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:ONLY\s+)?" + _NAME
    + r"|^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*?\bON\s+(?:ONLY\s+)?" + _NAME,
    re.IGNORECASE)
# A table renamed by SQL, by its new name (ALTER TABLE ... RENAME TO; MySQL's RENAME TABLE).
_RENAMED = re.compile(r"\bRENAME\s+(?:TABLE\s+" + _NAME + r"\s+)?TO\s+" + _NAME,
                      re.IGNORECASE)


def tables_in_sql(statements: Iterable[str]) -> set[str]:
    """The tables `statements` create, alter (by both names where renamed) or index."""
    found: set[str] = set()
    for sql in statements:
        m = _BUILDS.match(sql)
        names = [m.group(1) or m.group(2)] if m is not None else []
        renamed = _RENAMED.search(sql)
        if renamed is not None:
            names += [n for n in renamed.groups() if n]
        found.update(n[1:-1] if n[0] in '"`' else n for n in names)
    return found


def tables_named(ops: Iterable[ir.Operation]) -> set[str]:
    """The tables `ops` act on, and those their foreign keys point at."""
    found: set[str] = set()
    for op in ops:
        table = getattr(op, "table", None)
        if isinstance(op, (ir.CreateTable, ir.DropTable, ir.RenameTable, ir.AlterTable)):
            table = op.name
        if isinstance(table, str):
            found.add(table)
        if isinstance(op, ir.RenameTable):
            found.add(op.new_name)
        if isinstance(op, ir.CreateForeignKey):
            found.add(op.references.table)
        if isinstance(op, ir.CreateTable):
            found.update(f.references.table for f in op.foreign_keys)
    return found


def misfit(state: SchemaState, ops: Iterable[ir.Operation]) -> str | None:
    """What the first of `ops` that does not fit `state` (after those before it) says is
    wrong, or None when they all fit."""
    for op in ops:
        try:
            state = apply(state, op)
        except StateError as exc:
            return f"{op.kind}: {exc.message}"
    return None
