"""SQLite through Python's sqlite3 alone (`dialects.driver`): the connection as
`SQLite.setup_engine` sets up its engines' (no transaction of the driver's own, foreign keys
off; each changeset's transaction begins with BEGIN IMMEDIATE), the run-wide file lock
(`lock.py`), and the version table read on the connection."""

from __future__ import annotations

import math
import platform
import re
import sqlite3
from typing import TYPE_CHECKING, Any

from ...errors import DatabaseError
from ..base import db_message, unreachable
from ..driver import DriverSide, VersionsFound
from ..versions import next_exec_order, quoted, select_journal, select_versions

if TYPE_CHECKING:
    from ..batch import BatchDriver
    from .lock import FileLock


def read_on(conn: sqlite3.Connection, table: str) -> VersionsFound:
    """The version table and the journal's rows on `conn` (the version table in the main
    schema; applied_at as text)."""
    from ...journal import journal_name

    # (a view too, as SQLAlchemy's has_table finds one: the run then fails as there)
    found = {r[0] for r in conn.execute(
        "SELECT lower(name) FROM sqlite_master WHERE type IN ('table', 'view') AND "
        "lower(name) IN (lower(?), lower(?))", (table, journal_name(table)))}
    journal_table = journal_name(table).lower() in found
    if table.lower() not in found:
        return VersionsFound(False, ([], []), journal_table)
    rows = conn.execute(select_versions(table, None, '"')).fetchall()
    journal = []
    if journal_table:
        try:
            journal = conn.execute(select_journal(table, None, '"')).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise  # else a run dropped it meanwhile: it was empty
    return VersionsFound(True, (rows, journal), journal_table)


def facts() -> tuple[Any, ...]:
    """What SQLAlchemy's pysqlite dialect is set up from: the library's version and the
    sqlite3 module's (Python's)."""
    return ("pysqlite", sqlite3.sqlite_version, platform.python_version())


def _regexp(pattern: str, value: str | None) -> bool | None:
    return None if value is None else re.search(pattern, value) is not None


def functions(raw: sqlite3.Connection) -> None:
    """The SQL functions SQLAlchemy's pysqlite dialect adds to each connection it opens
    (`on_connect`): REGEXP, and floor() as Python's, an integer (SQLite's own, where built
    in, gives a real). A statement sent here calls the same functions as under SQLAlchemy;
    `tests/test_driver_run.py` holds the two connections' function lists equal."""
    # (deterministic from 3.9 on, as SQLAlchemy has them)
    kw = {"deterministic": True} if sqlite3.sqlite_version_info >= (3, 9) else {}
    raw.create_function("regexp", 2, _regexp, **kw)
    raw.create_function("floor", 1, math.floor, **kw)


class SqliteDriver(DriverSide):
    """A SQLite database file through sqlite3."""

    driver = "pysqlite"
    errors = (sqlite3.Error,)

    def __init__(self, url: str, path: str) -> None:
        self.url, self.path = url, path
        self._lock: FileLock | None = None

    def connect(self, timeout: float) -> Any:
        try:
            raw = sqlite3.connect(self.path, timeout=timeout)
            functions(raw)
            raw.isolation_level = None
            # The rebuild drops and recreates tables: with enforcement on, that would cascade.
            raw.execute("PRAGMA foreign_keys=OFF")
        except sqlite3.Error as exc:
            raise unreachable(self.url, exc) from None
        return raw

    def server_version(self, raw: Any) -> tuple[int, ...]:
        return tuple(sqlite3.sqlite_version_info)

    def facts(self, raw: Any) -> tuple[Any, ...]:
        return facts()

    def lock(self, raw: Any, table: str, timeout: float) -> bool:
        from .lock import FileLock

        files = {row[1]: row[2] for row in raw.execute("PRAGMA database_list").fetchall()}
        if not files.get("main"):
            return True  # a memory or temporary database: no other process reaches it
        held = FileLock(files["main"])
        if not held.acquire(timeout):
            return False
        self._lock = held
        return True

    def unlock(self, raw: Any, table: str) -> None:
        held, self._lock = self._lock, None
        if held is not None:
            held.release()

    def read(self, raw: Any, table: str, schema: str | None) -> VersionsFound:
        try:
            return read_on(raw, table)
        except sqlite3.Error as exc:
            raise DatabaseError(f"the database failed: {db_message(exc)}") from None

    def has_any(self, raw: Any, tables: tuple[str, ...]) -> bool:
        marks = ", ".join("lower(?)" for _ in tables)
        return raw.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND "
                           f"lower(name) IN ({marks})", tables).fetchone() is not None

    def next_order(self, raw: Any, table: str, schema: str | None) -> int:
        name = quoted(table, None, '"')
        row = raw.execute(f"SELECT max(exec_order) FROM {name}").fetchone()
        return next_exec_order(row, table if schema is None else f"{schema}.{table}")

    def batch(self, raw: Any) -> BatchDriver:
        from ..batch import _DRIVERS

        return _DRIVERS[self.driver](raw)

    def in_transaction(self, raw: Any) -> bool:
        return bool(raw.in_transaction)
