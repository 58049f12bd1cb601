"""The version table read through a database's driver alone (no SQLAlchemy): the parts of a
URL a driver needs, the columns, and the SELECT each database's `Dialect.read_versions` runs.
`base` re-exports them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import DatabaseError

# The parts of a database URL that a driver needs (SQLAlchemy's own syntax).
URL_PARTS = re.compile(
    r"^(?P<scheme>[A-Za-z][\w+]*)://"
    r"(?:(?P<user>[^:/@?]*)(?::(?P<password>[^@/?]*))?@)?"
    r"(?:\[(?P<ipv6>[^\]/?]+)\]|(?P<host>[^/:?@\[\]]*))"
    r"(?::(?P<port>\d+))?"
    r"(?:/(?P<database>[^?]*))?"
    r"(?:\?(?P<query>.*))?$")

VERSION_COLUMNS = ("id", "checksum", "message", "applied_at", "execution_ms", "applied_by",
                   "schemaflow_version", "exec_order")


EXEC_ORDER_LIMIT = 2**31 - 1  # the column is an INTEGER: the highest it holds everywhere


def next_exec_order(values: Iterable[object], table: str) -> int:
    """The exec_order of the next version row: one past the highest of `values` (a version
    table's; None where it has no row). A value no run writes (text, a fraction, a number
    the column cannot go past: a row edited by hand, which SQLite's typing lets in) stops
    the run before the changeset does, by name."""
    top = 0
    for value in values:
        if value is None:
            continue
        if type(value) is not int or value >= EXEC_ORDER_LIMIT:
            raise DatabaseError(
                f"the version table {table} holds exec_order {value!r}, which no run writes "
                "(an integer, counting the changesets applied)",
                hint="correct that row's exec_order by hand: each row's is one more than that "
                     "of the row applied before it")
        top = max(top, value)
    return top + 1


def quoted(table: str, schema: str | None, q: str) -> str:
    """`table` (schema-qualified) quoted with the quote character `q`."""
    def one(name: str) -> str:
        return q + name.replace(q, q + q) + q

    return f"{one(schema)}.{one(table)}" if schema else one(table)


def select_versions(table: str, schema: str | None, q: str) -> str:
    """The SELECT of every version row in applied order, as a driver runs it."""
    # Columns named with their table, so that a missing one is reported as "t.id".
    alias = quoted(table, None, q)
    columns = ", ".join(f"{alias}.{c}" for c in VERSION_COLUMNS)
    return f"SELECT {columns} FROM {quoted(table, schema, q)} ORDER BY {alias}.exec_order"


def select_journal(table: str, schema: str | None, q: str) -> str:
    """The SELECT of the journal's rows (beside version table `table`), as a driver runs it."""
    from ..journal import COLUMNS, journal_name

    return f"SELECT {', '.join(COLUMNS)} FROM {quoted(journal_name(table), schema, q)}"
