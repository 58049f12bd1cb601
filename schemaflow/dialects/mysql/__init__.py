"""MySQL, and MariaDB as its variant: DDL commits as it runs, GET_LOCK for the run-wide lock."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

from ... import ir
from ...errors import DatabaseError, UsageError
from ...sqlsplit import SqlSyntax
from ...typespec import TypeSpec
from .. import register
from ..base import (
    URL_PARTS,
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


def lock_name(conn: Connection, table: str) -> str:
    """The GET_LOCK name for a version table in this database (at most 64 characters;
    locks are server-wide, migrations per database)."""
    database = conn.exec_driver_sql("SELECT DATABASE()").scalar()
    return "schemaflow:" + hashlib.sha1(f"{database}.{table}".encode()).hexdigest()[:40]


@register
class MySQL(Dialect):
    """MySQL: no USING on a type change; CHECK constraints only on recent servers."""

    name: ClassVar[str] = "mysql"
    schemes: ClassVar[tuple[str, ...]] = ("mysql",)
    sql_dialects: ClassVar[tuple[str, ...]] = ("mysql",)
    type_dialects: ClassVar[tuple[str, ...]] = ("mysql",)
    sa_types_module: ClassVar[str | None] = "sqlalchemy.dialects.mysql"
    sql_syntax: ClassVar[SqlSyntax] = SqlSyntax(
        backslash_escapes=True, hash_comments=True, dash_comment_space=True,
        delimiter_command=True)
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = (
        ((0,), {"transactional_ddl": False, "comments": True, "rename_column": False,
                "check_constraints": False, "max_identifier_length": 64,
                "identifier_bytes": False}),
        ((8, 0, 16), {"check_constraints": True}),
        ((8, 0, 13), {"index_expressions": True}),
        ((8,), {"rename_column": True, "index_desc": True}),
    )
    run_lock: ClassVar[bool] = True

    @classmethod
    def matches(cls, sa_dialect: Any) -> bool:
        return sa_dialect.name in ("mysql", "mariadb") and not getattr(
            sa_dialect, "is_mariadb", False)

    def check(self, op: ir.Operation, before: SchemaState) -> None:
        super().check(op, before)
        if isinstance(op, ir.AlterColumn) and op.using is not None:
            raise UsageError(f"{self.name} has no USING clause for a type change "
                             f"(alter_column {op.table}.{op.name})",
                             hint="convert the data with a sql operation first")
        if isinstance(op, ir.CreateCheckConstraint) and not self.caps.check_constraints:
            raise UsageError(f"this {self.name} server ignores CHECK constraints "
                             f"('{op.name}')", hint="MySQL 8.0.16+ or MariaDB 10.2.1+")

    def complete_indexes(self, conn: Any, schema: str | None, tables: list[str],
                         indexes: dict[Any, list[dict[str, Any]]]
                         ) -> dict[Any, list[dict[str, Any]]]:
        from .indexes import complete

        return complete(conn, schema, tables, indexes)

    def comparable(self, state: SchemaState) -> SchemaState:
        # MySQL's DATETIME and TIME keep no time zone.
        return without_tz(super().comparable(state))

    def renderer(self) -> Renderer:
        from .render import MySQLRenderer

        return MySQLRenderer(self)

    def sa_dialect(self) -> Any:
        from sqlalchemy.dialects.mysql.base import MySQLDialect

        dialect = MySQLDialect()
        # Compiling for MariaDB (DROP CONSTRAINT for checks, ...) needs the flag set.
        dialect.is_mariadb = self.name == "mariadb"
        return dialect

    def engine_args(self, url: Any, kwargs: dict[str, Any], lock_timeout: float) -> Any:
        # PyMySQL is the driver schemaflow installs; SQLAlchemy's default is mysqlclient.
        if url.drivername in ("mysql", "mariadb"):
            return url.set(drivername=url.drivername + "+pymysql")
        return url

    def lock(self, conn: Connection, table: str, timeout: float) -> bool:
        name = lock_name(conn, table)

        def get_lock(seconds: float) -> bool:
            return bool(conn.exec_driver_sql("SELECT GET_LOCK(%s, %s)", (name, seconds)).scalar())

        if self.fractional_lock_wait():
            return get_lock(max(0.0, min(timeout, 31_536_000.0)))
        # MySQL's GET_LOCK waits whole seconds: those, then short tries for the fraction.
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if get_lock(max(0, int(min(left, 31_536_000)))):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.02, left))

    def fractional_lock_wait(self) -> bool:
        """Whether GET_LOCK takes a timeout with a fraction of a second."""
        return False

    def unlock(self, conn: Connection, table: str) -> None:
        if conn.invalidated:
            return  # the session is gone, and its named lock with it
        conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (lock_name(conn, table),))

    def read_versions(self, url: str, table: str, schema: str | None,
                      timeout: float) -> VersionRead | None:
        from ...journal import journal_name

        m = URL_PARTS.match(url)
        if url.count("@") > 1 or m is None or m["query"] or m["scheme"].lower() not in (
                "mysql+pymysql", "mariadb+pymysql", "mysql", "mariadb"):
            return None  # query options are SQLAlchemy's to interpret
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
            raise unreachable(url, exc) from None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT table_name FROM information_schema.tables WHERE "
                            "table_schema = COALESCE(%s, DATABASE()) AND table_name IN "
                            "(%s, %s)", (schema, table, journal_name(table)))
                found = {str(r[0]).lower() for r in cur.fetchall()}
                if table.lower() not in found:
                    return [], []
                cur.execute(select_versions(table, schema, "`"))
                rows = [tuple(r) for r in cur.fetchall()]
                if journal_name(table).lower() not in found:
                    return rows, []
                try:
                    cur.execute(select_journal(table, schema, "`"))
                except pymysql.Error as exc:
                    # A run (this read takes no lock) dropped it meanwhile (1146: it was
                    # empty), or created it after this read's snapshot (1412: empty in it).
                    if not exc.args or exc.args[0] not in (1146, 1412):
                        raise
                    return rows, []
                return rows, [tuple(r) for r in cur.fetchall()]
        except pymysql.Error as exc:
            raise DatabaseError(f"the database failed: {db_message(exc)}") from None
        finally:
            conn.close()


@register
class MariaDB(MySQL):
    """MariaDB: MySQL's rules and statements, MariaDB's capabilities and JSON."""

    name: ClassVar[str] = "mariadb"
    schemes: ClassVar[tuple[str, ...]] = ("mariadb",)
    sql_dialects: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = (
        ((0,), {"transactional_ddl": False, "comments": True, "rename_column": False,
                "check_constraints": False, "max_identifier_length": 64,
                "identifier_bytes": False}),
        ((10, 2, 1), {"check_constraints": True}),
        ((10, 5, 2), {"rename_column": True}),
        ((10, 8), {"index_desc": True}),
    )

    @classmethod
    def matches(cls, sa_dialect: Any) -> bool:
        return bool(getattr(sa_dialect, "is_mariadb", False))

    def fractional_lock_wait(self) -> bool:
        # Microseconds since MariaDB 10.1.2 (MDEV-4018); before, rounded to whole seconds.
        return self.server_version is None or self.server_version >= (10, 1, 2)

    def comparable(self, state: SchemaState) -> SchemaState:
        # MariaDB's JSON is an alias of LONGTEXT (plus a json_valid check): the same thing.
        longtext = TypeSpec("mysql.longtext")
        return map_columns(super().comparable(state), lambda c: replace(
            c, type=longtext) if c.type.name == "json" else c)
