"""SQLite: transactional DDL, few ALTERs (a table rebuild does the rest), a file per database."""

from __future__ import annotations

import datetime as dt
from contextlib import suppress
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from ...config import sqlite_missing, sqlite_path
from ...errors import DatabaseError
from ...sqlsplit import SqlSyntax
from ...typespec import TypeSpec
from .. import register
from ..base import (
    Dialect,
    Version,
    VersionRead,
    db_message,
    map_columns,
    select_journal,
    select_versions,
    unreachable,
    without_tz,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ...state import SchemaState
    from ..render import Renderer


_LOCK = "schemaflow.sqlite_lock"  # the held FileLock, in the connection's info


def _stored_type(spec: TypeSpec) -> TypeSpec:
    """The type SQLite reflects for `spec`: uuid is CHAR(32), an enum a VARCHAR, a time
    without its fractional-seconds precision (stored as text, with every digit)."""
    if spec.name in ("datetime", "time") and spec.args:
        return TypeSpec(spec.name, (), spec.kwargs)
    if spec.name == "uuid":
        return TypeSpec("char", (32,))
    if spec.name == "enum":
        return TypeSpec("string", (max(len(str(a)) for a in spec.args),))
    return spec


@register
class SQLite(Dialect):
    """SQLite (the library version stands for the server version)."""

    name: ClassVar[str] = "sqlite"
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    sql_dialects: ClassVar[tuple[str, ...]] = ("sqlite",)
    type_dialects: ClassVar[tuple[str, ...]] = ("sqlite",)
    sa_types_module: ClassVar[str | None] = "sqlalchemy.dialects.sqlite"
    sql_syntax: ClassVar[SqlSyntax] = SqlSyntax(brackets=True)
    server_databases: ClassVar[bool] = False  # a database is a file
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = (
        ((0,), {"drop_column": False, "rename_column": False, "alter_column": False,
                "alter_constraints": False, "partial_index": True, "index_desc": True,
                "index_expressions": True,
                "max_identifier_length": 1000, "deferrable_foreign_keys": True}),
        ((3, 25), {"rename_column": True}),
        ((3, 35), {"drop_column": True}),
    )

    def complete_indexes(self, conn: Any, schema: str | None, tables: list[str],
                         indexes: dict[Any, list[dict[str, Any]]]
                         ) -> dict[Any, list[dict[str, Any]]]:
        from .indexes import complete

        return complete(conn, schema, tables, indexes)

    def comparable(self, state: SchemaState) -> SchemaState:
        # SQLite keeps no time zones and no comments, and has no uuid or enum types.
        from ...state import SchemaState

        plain = map_columns(super().comparable(state), lambda c: replace(c, comment=None,
                                                     type=_stored_type(c.type)))
        return without_tz(SchemaState(MappingProxyType(
            {k: replace(t, comment=None) for k, t in plain.tables.items()})))

    def renderer(self) -> Renderer:
        from .render import SQLiteRenderer

        return SQLiteRenderer(self)

    def sa_dialect(self) -> Any:
        from sqlalchemy.dialects.sqlite.base import SQLiteDialect

        return SQLiteDialect()

    def engine_args(self, url: Any, kwargs: dict[str, Any], lock_timeout: float) -> Any:
        kwargs["connect_args"] = {"timeout": lock_timeout}
        return url

    def setup_engine(self, engine: Any) -> None:
        from sqlalchemy import event

        # pysqlite's own transaction handling skips BEGIN before DDL; take it over so each
        # changeset's DDL and its version row commit or roll back together. BEGIN IMMEDIATE
        # takes the write lock up front, which serialises concurrent runs.
        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            # The rebuild drops and recreates tables: with enforcement on, that would cascade.
            cur.execute("PRAGMA foreign_keys=OFF")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    # The run-wide lock is a file lock beside the database file (see lock.py); each
    # changeset's transaction still starts with BEGIN IMMEDIATE, the database's own lock.
    run_lock: ClassVar[bool] = True

    def lock(self, conn: Connection, table: str, timeout: float) -> bool:
        from .lock import FileLock

        # The file as SQLite opened it (URI filenames included); '' for a memory or temporary
        # database, which no other process can reach: nothing to lock.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("PRAGMA database_list")  # (no BEGIN: not through SQLAlchemy)
            files = {row[1]: row[2] for row in cursor.fetchall()}
        finally:
            cursor.close()
        if not files.get("main"):
            return True
        held = FileLock(files["main"])
        if not held.acquire(timeout):
            return False
        conn.info[_LOCK] = held
        return True

    def unlock(self, conn: Connection, table: str) -> None:
        held = conn.info.pop(_LOCK, None)
        if held is not None:
            held.release()

    def database_missing(self, url: str) -> bool:
        return sqlite_missing(url)

    def read_versions(self, url: str, table: str, schema: str | None,
                      timeout: float) -> VersionRead | None:
        import sqlite3

        from ...journal import journal_name

        path = sqlite_path(url)
        if path is None or schema is not None or "?" in url:
            return None
        try:
            conn = sqlite3.connect(path, timeout=timeout)
        except sqlite3.Error as exc:
            raise unreachable(url, exc) from None
        try:
            found = {r[0] for r in conn.execute(
                "SELECT lower(name) FROM sqlite_master WHERE type = 'table' AND lower(name) "
                "IN (lower(?), lower(?))", (table, journal_name(table)))}
            if table.lower() not in found:
                return [], []
            raw = conn.execute(select_versions(table, None, '"')).fetchall()
            journal = []
            if journal_name(table).lower() in found:
                try:
                    journal = conn.execute(select_journal(table, None, '"')).fetchall()
                except sqlite3.OperationalError as exc:
                    if "no such table" not in str(exc):
                        raise  # else a run dropped it meanwhile: it was empty
        except sqlite3.Error as exc:
            raise DatabaseError(f"the database failed: {db_message(exc)}") from None
        finally:
            conn.close()
        rows = []
        for r in raw:
            applied_at = r[3]
            if isinstance(applied_at, str):
                with suppress(ValueError):  # else the recorder reports it as unreadable
                    applied_at = dt.datetime.fromisoformat(applied_at)
            rows.append((r[0], r[1], r[2], applied_at, *r[4:]))
        return rows, journal

