"""SQLite: transactional DDL, few ALTERs (a table rebuild does the rest), a file per database."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from ... import ir
from ...config import hide_password, sqlite_path
from ...errors import ConnectionFailed, DatabaseError
from ...sqlsplit import SqlSyntax
from ...typespec import TypeSpec, stored_as
from .. import register
from ..base import (
    Dialect,
    Version,
    VersionRead,
    db_message,
    unreachable,
)
from ..comparable import map_columns, without_tz
from ..values import signed

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ...state import SchemaState
    from ..driver import DriverSide
    from ..render import Renderer


_VACUUM = re.compile(r"(?:--[^\n]*(?:\n|$)|/\*[\s\S]*?\*/|\s)*VACUUM\b", re.IGNORECASE)
_LOCK = "schemaflow.sqlite_lock"  # the held FileLock, in the connection's info


def _stored_type(spec: TypeSpec) -> TypeSpec:
    """The type SQLite reflects for `spec`: uuid is CHAR(32), an enum a VARCHAR, a binary
    a BLOB, a time without its fractional-seconds precision (stored as text, with every
    digit)."""
    if spec.name in ("datetime", "time") and spec.args:
        return TypeSpec(spec.name, (), spec.kwargs)
    if spec.name in ("binary", "varbinary"):  # BLOB: no length, fixed or not
        return TypeSpec("binary")
    if spec.name == "uuid":
        return TypeSpec("char", (32,))
    if spec.name == "enum":  # a VARCHAR as long as its longest value (or its length)
        length = [kv for kv in spec.kwargs if kv[0] == "length"]
        return stored_as(TypeSpec("enum", spec.args, (("native", "false"), *length)))
    return spec


def _begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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
    render_process: ClassVar[bool] = True
    sync_drivers: ClassVar[Mapping[str, str]] = MappingProxyType({"aiosqlite": "pysqlite"})
    driver_packages: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"pysqlcipher": "sqlcipher3-binary"})
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = (
        ((0,), {"drop_column": False, "rename_column": False, "alter_column": False,
                "alter_constraints": False, "partial_index": True, "index_desc": True,
                "index_expressions": True,
                "max_identifier_length": 1000, "deferrable_foreign_keys": True,
                "string_lengths": False, "numbered_keys": True,
                "composite_numbering": False, "infinity_types": ("float", "numeric"),
                "nan_as_null": True}),
        ((3, 25), {"rename_column": True}),
        ((3, 35), {"drop_column": True}),
    )

    def refuses_transaction(self, statement: str) -> bool:
        # ("cannot VACUUM from within a transaction")
        return _VACUUM.match(statement) is not None

    def integer_range(self, spec: TypeSpec) -> tuple[int, int] | None:
        # Whatever the declared type, SQLite's integers are 64-bit: the driver cannot bind a
        # larger one, and a larger literal default becomes an approximate REAL. A float or
        # numeric column takes it as such a REAL, as it does any number.
        return None if spec.name in ("float", "numeric") else signed(64)

    def complete_indexes(self, conn: Any, schema: str | None, tables: list[str],
                         indexes: dict[Any, list[dict[str, Any]]]
                         ) -> dict[Any, list[dict[str, Any]]]:
        from .indexes import complete

        return complete(conn, schema, tables, indexes)

    def complete_columns(self, conn: Any, schema: str | None, tables: list[str],
                         columns: dict[Any, list[dict[str, Any]]]
                         ) -> dict[Any, list[dict[str, Any]]]:
        from .columns import complete

        return complete(conn, schema, tables, columns)

    # Reported as options, at their defaults for a plain table (WITHOUT ROWID and STRICT
    # tables are refused).
    table_option_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"sqlite_with_rowid": True, "sqlite_strict": False})

    keeps_autoincrement = True

    def check_support(self, op: ir.Operation, before: SchemaState) -> None:
        super().check_support(op, before)
        from .autoincrement import check

        check(self, op, before)

    def autoincrement_tables(self, conn: Any, schema: str | None) -> set[Any]:
        from .options import autoincrement

        return set(autoincrement(conn, schema))

    def comparable(self, state: SchemaState) -> SchemaState:
        # SQLite keeps no time zones and no comments, and has no uuid or enum types.
        plain = map_columns(super().comparable(state), lambda c: replace(
            c, comment=None, type=_stored_type(c.type)))
        return without_tz(plain.with_tables(MappingProxyType(
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

        event.listen(engine, "begin", _begin_immediate)

    def script_preamble(self) -> tuple[str, ...]:
        # A table rebuild drops the table: with enforcement on (the sqlite3 shell's
        # `.foreignkeys`, an application's connection), its children's rows, ON DELETE
        # CASCADE, would go with it. (Inside a transaction the PRAGMA does nothing.)
        return ("-- foreign keys off, as schemaflow's own runs have them: a table rebuild "
                "would otherwise", "-- delete or refuse the rows that refer to it "
                "(outside a transaction only)", "PRAGMA foreign_keys=OFF;")

    @contextmanager
    def borrowed(self, conn: Connection, inside: bool) -> Iterator[None]:
        # The caller's connection gets, for this block only, what setup_engine gives the
        # connections of schemaflow's own engines; then it is as it was.
        from sqlalchemy import event

        raw: Any = conn.connection.dbapi_connection
        if inside:
            # Inside the caller's transaction (which pysqlite may not have begun yet: it
            # begins before DML only), begun for real, so that the changesets' savepoints
            # stay in it and the caller's rollback undoes them. (Changing the isolation
            # level or foreign_keys here would commit it, or do nothing.)
            if not raw.in_transaction:
                raw.execute("BEGIN")
            yield
            return
        level = raw.isolation_level
        cur = raw.cursor()
        try:
            enforced = cur.execute("PRAGMA foreign_keys").fetchone()[0]
            raw.isolation_level = None
            cur.execute("PRAGMA foreign_keys=OFF")
            event.listen(conn, "begin", _begin_immediate)
            try:
                yield
            finally:
                event.remove(conn, "begin", _begin_immediate)
                if not conn.invalidated:
                    if conn.in_transaction():  # (a read's: foreign_keys is fixed inside one)
                        conn.rollback()
                    cur.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")
                    raw.isolation_level = level
        finally:
            cur.close()

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
        path = sqlite_path(url)
        if path is None or path.exists():
            return False
        # Connecting would fail ("unable to open database file"), and a listing must not
        # show "nothing applied" for a database that cannot be: name the folder instead.
        folder = path.parent
        if not folder.is_dir():
            raise ConnectionFailed(
                f"the folder {folder} of the SQLite database {hide_password(url)} does not "
                "exist", hint="create the folder, or correct the URL (a relative path in the "
                              "configuration is relative to the configuration's folder)")
        return True

    def read_versions(self, url: str, table: str, schema: str | None,
                      timeout: float) -> VersionRead | None:
        import sqlite3

        from .driver import read_on

        path = self._plain_path(url, schema)
        if path is None:
            return None
        try:
            conn = sqlite3.connect(path, timeout=timeout)
        except sqlite3.Error as exc:
            raise unreachable(url, exc) from None
        try:
            return read_on(conn, table)[1]
        except sqlite3.Error as exc:
            raise DatabaseError(f"the database failed: {db_message(exc)}") from None
        finally:
            conn.close()

    def _plain_path(self, url: str, schema: str | None) -> str | None:
        """The file of a URL that sqlite3 opens as SQLAlchemy's pysqlite does (no query, no
        %-escape, no other driver: pysqlcipher's files are encrypted), the version table in
        the main schema; else None."""
        path = sqlite_path(url)
        driver = self.driver_url(url).partition(":")[0].lower()
        if path is None or schema is not None or "?" in url or driver not in (
                "sqlite", "sqlite+pysqlite"):
            return None
        return str(path)

    def driver_side(self, url: str, schema: str | None) -> DriverSide | None:
        from .driver import SqliteDriver

        path = self._plain_path(url, schema)
        return None if path is None else SqliteDriver(url, path)

    def driver_facts(self, raw: Any, driver: str) -> tuple[Any, ...] | None:
        from .driver import facts

        return facts() if driver == "pysqlite" else None

