"""SQLite's AUTOINCREMENT (`sqlite_autoincrement: true` on create_table or alter_table): what it
needs of a table's key.

SQLite takes AUTOINCREMENT only on an INTEGER PRIMARY KEY (the rowid), and SQLAlchemy writes
it only on a key of one integer column that is no foreign key, leaving it out of any other
table without a word. So a table that asks for it must keep such a key through every change
(a type change, a key dropped or made again, a foreign key on it): refused where it would
not, as the table would otherwise be rebuilt without it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import ir
from ...errors import UsageError

if TYPE_CHECKING:
    from ...state import SchemaState, Table
    from ..base import Dialect


def check(dialect: Dialect, op: ir.Operation, before: SchemaState) -> None:
    """UsageError when `op` leaves a table that asks for AUTOINCREMENT without a key that
    can have it (the table as `dialect` builds it)."""
    if isinstance(op, (ir.CreateTable, ir.AlterTable)):
        asked = op.sqlite_autoincrement
        key = (op.schema, op.name)
    else:
        name = getattr(op, "table", None)
        if not isinstance(name, str):
            return
        asked, key = None, (getattr(op, "schema", None), name)
    if not asked:
        table = before.tables.get(key) if asked is None else None
        if table is None or not table.sqlite_autoincrement:
            return
    from ...state import apply

    try:
        after = apply(before, op).tables.get(key)
    except Exception:  # (an operation that does not fit: the replay says so)
        return
    problem = after and key_problem(dialect, after)
    if problem:
        raise UsageError(f"table '{key[1]}' has sqlite_autoincrement, which SQLite builds only "
                         f"on a primary key of one integer column that is no foreign key: "
                         f"{problem}", hint="keep such a key (`type: integer`, or an integer "
                                            "variant for sqlite), or leave sqlite_autoincrement "
                                            "out of the table")


def key_problem(dialect: Dialect, t: Table) -> str | None:
    """What keeps `t`'s key from AUTOINCREMENT on SQLite (None: nothing)."""
    pk = t.primary_key
    if pk is None or len(pk.columns) != 1:
        return "it has " + ("no primary key" if pk is None else
                            f"a primary key of {len(pk.columns)} columns")
    column = t.column(pk.columns[0])
    if column is None:
        return None  # (the replay says so)
    spec = dialect.column_here(column).type
    if spec.name != "integer":
        return f"its key {column.name} is {spec} here"
    if any(column.name in f.columns for f in t.foreign_keys):
        return f"its key {column.name} is also a foreign key"
    return None
