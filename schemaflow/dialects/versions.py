"""The version table read through a database's driver alone (no SQLAlchemy): the parts of a
URL a driver needs, the columns, and the SELECT each database's `Dialect.read_versions` runs.
`base` re-exports them."""

from __future__ import annotations

import re

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
