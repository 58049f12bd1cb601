"""Reading the version table through the database driver alone, for read-only commands.

`current`, `status` and `validate --db` only read the version table. Importing SQLAlchemy
costs more than the rest of such a command on a 10,000-changeset history, so for the URLs
whose meaning is unambiguous (a SQLite file, PostgreSQL through psycopg, MySQL or MariaDB
through PyMySQL without query options) the driver is called directly. Anything else (another
driver, query options SQLAlchemy would interpret, an unusual URL, a timestamp in a format of
another writer) returns None, and the caller reads through SQLAlchemy as every writing command
does. Both readers return the same rows; a test holds them to it on all three databases.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple
from urllib.parse import unquote

from .config import hide_password, sqlite_path
from .errors import ConnectionFailed, SchemaflowError

COLUMNS = ("id", "checksum", "message", "applied_at", "execution_ms", "applied_by",
           "schemaflow_version", "exec_order")

CONNECT_HINT = "check the URL, that the server runs, and the credentials"


class AppliedRow(NamedTuple):
    """One row of the version table (a named tuple: 10,000 of them build in milliseconds)."""

    id: str
    checksum: str
    message: str | None
    applied_at: dt.datetime | None
    execution_ms: int | None
    applied_by: str | None
    schemaflow_version: str | None
    exec_order: int


class DatabaseError(SchemaflowError):
    """A database error outside any changeset (a version table of another shape, a server
    gone mid-command)."""


def db_message(exc: BaseException) -> str:
    """The database's own message, first lines only, passwords hidden."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()][:3]
    return hide_password(" ".join(lines))


_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][\w+]*)://"
    r"(?:(?P<user>[^:/@?]*)(?::(?P<password>[^@/?]*))?@)?"
    r"(?:\[(?P<ipv6>[^\]/?]+)\]|(?P<host>[^/:?@\[\]]*))"
    r"(?::(?P<port>\d+))?"
    r"(?:/(?P<database>[^?]*))?"
    r"(?:\?(?P<query>.*))?$")


def read_rows(url: str, table: str, schema: str | None, *,
              timeout: float) -> list[AppliedRow] | None:
    """The version rows in applied order ([] when the table is missing), or None when this
    URL is left to SQLAlchemy."""
    scheme = url.partition(":")[0].lower()
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return _sqlite(url, table, schema, timeout)
    if url.count("@") > 1:
        return None
    m = _URL.match(url)
    if m is None:
        return None
    if scheme in ("postgresql", "postgresql+psycopg"):
        return _postgresql(url, table, schema)
    if scheme in ("mysql+pymysql", "mariadb+pymysql", "mysql", "mariadb") and not m["query"]:
        return _mysql(url, m, table, schema)
    return None


def _sqlite(url: str, table: str, schema: str | None,
            timeout: float) -> list[AppliedRow] | None:
    import sqlite3

    path = sqlite_path(url)
    if path is None or schema is not None or "?" in url:
        return None
    try:
        conn = sqlite3.connect(path, timeout=timeout)
    except sqlite3.Error as exc:
        raise _unreachable(url, exc) from None
    try:
        found = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                             "AND lower(name) = lower(?)", (table,)).fetchone()[0]
        if not found:
            return []
        raw = conn.execute(_select(table, None, '"')).fetchall()
    except sqlite3.Error as exc:
        raise DatabaseError(f"the database failed: {db_message(exc)}") from None
    finally:
        conn.close()
    rows = []
    for r in raw:
        applied_at = r[3]
        if isinstance(applied_at, str):
            try:
                applied_at = dt.datetime.fromisoformat(applied_at)
            except ValueError:
                return None  # not how SQLAlchemy writes it: let SQLAlchemy read it
        rows.append(AppliedRow(r[0], r[1], r[2], applied_at, *r[4:]))
    return rows


def _postgresql(url: str, table: str, schema: str | None) -> list[AppliedRow] | None:
    try:
        import psycopg
    except ImportError:
        return None  # SQLAlchemy reports the missing driver with its hint
    # libpq reads the URL itself, as SQLAlchemy's psycopg dialect lets it.
    conninfo = "postgresql" + url[url.index("://"):]
    try:
        conn = psycopg.connect(conninfo)
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from None
    try:
        name = _quoted(table, schema, '"')
        if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
            return []
        raw = conn.execute(_select(table, schema, '"')).fetchall()
    except psycopg.errors.InvalidSchemaName:
        return []
    except psycopg.Error as exc:
        raise DatabaseError(f"the database failed: {db_message(exc)}") from None
    finally:
        conn.close()
    return [AppliedRow(*r) for r in raw]


def _mysql(url: str, m: re.Match[str], table: str,
           schema: str | None) -> list[AppliedRow] | None:
    try:
        import pymysql
    except ImportError:
        return None
    args: dict[str, Any] = {"host": m["ipv6"] or m["host"] or "localhost",
                            "charset": "utf8mb4"}
    if m["user"]:
        args["user"] = unquote(m["user"])
    if m["password"] is not None:
        args["password"] = unquote(m["password"])
    if m["port"]:
        args["port"] = int(m["port"])
    if m["database"]:
        args["database"] = unquote(m["database"])
    try:
        conn = pymysql.connect(**args)
    except pymysql.Error as exc:
        raise _unreachable(url, exc) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                        "COALESCE(%s, DATABASE()) AND table_name = %s", (schema, table))
            row = cur.fetchone()
            if not row or not row[0]:
                return []
            cur.execute(_select(table, schema, "`"))
            raw = cur.fetchall()
    except pymysql.Error as exc:
        raise DatabaseError(f"the database failed: {db_message(exc)}") from None
    finally:
        conn.close()
    return [AppliedRow(*r) for r in raw]


def _quoted(table: str, schema: str | None, q: str) -> str:
    def one(name: str) -> str:
        return q + name.replace(q, q + q) + q

    return f"{one(schema)}.{one(table)}" if schema else one(table)


def _select(table: str, schema: str | None, q: str) -> str:
    # Columns named with their table, so that a missing one is reported as "t.id".
    alias = _quoted(table, None, q)
    columns = ", ".join(f"{alias}.{c}" for c in COLUMNS)
    return f"SELECT {columns} FROM {_quoted(table, schema, q)} ORDER BY {alias}.exec_order"


def _unreachable(url: str, exc: BaseException) -> ConnectionFailed:
    return ConnectionFailed(f"cannot connect to {hide_password(url)}: {db_message(exc)}",
                            hint=CONNECT_HINT)
