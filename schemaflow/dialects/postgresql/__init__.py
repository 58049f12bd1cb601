"""PostgreSQL: transactional DDL, native enum types, comments, CONCURRENTLY, advisory locks."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from ... import ir
from ...errors import DatabaseError, UsageError
from ...sqlsplit import SqlSyntax
from .. import register
from ..base import (
    URL_PARTS,
    Dialect,
    Version,
    VersionRead,
    db_message,
    enum_name,
    quoted,
    select_journal,
    select_versions,
    unreachable,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ...rules import Analyzer
    from ...state import SchemaState
    from ..render import Renderer


def enum_types(state: SchemaState) -> dict[str, tuple[str, ...]]:
    """Every enum type the columns of `state` use, by type name."""
    found: dict[str, tuple[str, ...]] = {}
    for t in state.tables.values():
        for c in t.columns:
            if c.type.name == "enum":
                found.setdefault(enum_name(c.type, t.name, c.name),
                                 tuple(str(a) for a in c.type.args))
    return found


def may_change_enums(op: ir.Operation, before: SchemaState) -> bool:
    """Whether `op` can create, extend, rename or drop an enum type: only table and column
    operations on a table with an enum column, or that bring one. (enum_types reads the
    whole schema; asked for every operation, planning a long history grew quadratic.)"""
    if isinstance(op, ir.CreateTable):
        return any(c.type.name == "enum" for c in op.columns)
    if isinstance(op, (ir.DropTable, ir.RenameTable)):
        key = (op.schema, op.name)
    elif isinstance(op, (ir.AddColumn, ir.DropColumn, ir.RenameColumn, ir.AlterColumn)):
        key = (op.schema, op.table)
        if isinstance(op, ir.AddColumn) and op.column.type.name == "enum":
            return True
        if isinstance(op, ir.AlterColumn) and op.type is not None and op.type.name == "enum":
            return True
    else:
        return False
    t = before.tables.get(key)
    return t is not None and any(c.type.name == "enum" for c in t.columns)


def lock_key(conn: Connection, table: str) -> int:
    """A stable 32-bit advisory-lock key for a version table in this database (locks are
    server-wide, migrations per database)."""
    database = conn.exec_driver_sql("SELECT current_database()").scalar()
    return zlib.crc32(f"schemaflow:{database}.{table}".encode())


@register
class PostgreSQL(Dialect):
    """PostgreSQL: an enum type can gain values, never lose them."""

    name: ClassVar[str] = "postgresql"
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    sql_dialects: ClassVar[tuple[str, ...]] = ("postgresql",)
    type_dialects: ClassVar[tuple[str, ...]] = ("postgresql",)
    sa_types_module: ClassVar[str | None] = "sqlalchemy.dialects.postgresql"
    sql_syntax: ClassVar[SqlSyntax] = SqlSyntax(escape_strings=True, nested_comments=True,
                                                dollar_quotes=True)
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = (
        ((0,), {"partial_index": True, "comments": True, "native_enum": True,
                "concurrent_index": True, "deferrable_foreign_keys": True, "index_desc": True,
                "index_nulls": True, "index_expressions": True, "index_opclass": True,
                "index_methods": ("btree", "hash", "gin", "gist", "brin", "spgist")}),
        ((0,), {"virtual_computed": False, "identity_columns": True, "arrays": True}),
        ((11,), {"index_include": True}),
        ((18,), {"virtual_computed": True}),
        ((12,), {"enum_add_value_in_transaction": True}),
    )
    run_lock: ClassVar[bool] = True

    def comparable(self, state: SchemaState) -> SchemaState:
        # A UNIQUE on exactly the primary key's columns is dropped by CREATE TABLE (a
        # create_all() database lacks it): not a difference either way.
        from ...state import SchemaState

        held = super().comparable(state)
        tables = {}
        for key, t in held.tables.items():
            pk = set(t.primary_key.columns) if t.primary_key else set()
            tables[key] = replace(t, uniques=tuple(u for u in t.uniques
                                                   if not pk or set(u.columns) != pk))
        return SchemaState(tables)

    def check(self, op: ir.Operation, before: SchemaState) -> None:
        super().check(op, before)
        if not isinstance(op, (ir.AlterColumn, ir.AddColumn, ir.CreateTable)) or (
                not may_change_enums(op, before)):
            return
        from ...state import apply

        old, new = enum_types(before), enum_types(apply(before, op))
        for name, values in new.items():
            removed = [v for v in old.get(name, ()) if v not in values]
            if removed:
                raise UsageError(
                    f"PostgreSQL cannot remove values from the enum type '{name}' "
                    f"({', '.join(removed)})",
                    hint="create a new type and move the column to it with a sql operation")

    def drop_database_sql(self, name: str) -> str:
        # FORCE (PostgreSQL 13) ends the sessions a test left open instead of failing.
        force = self.server_version is None or self.server_version >= (13,)
        return f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if force else "")

    def analyzers(self) -> tuple[Analyzer, ...]:
        from .lint import postgresql_locks

        return (postgresql_locks,)

    def autogenerate_prelude(self, operations: Sequence[ir.Operation]
                             ) -> tuple[ir.Operation, ...]:
        from .lint import SET_LOCK_TIMEOUT, locks_existing

        if not locks_existing(operations):
            return ()
        return (ir.Sql(up=(SET_LOCK_TIMEOUT,), down=(SET_LOCK_TIMEOUT,),
                       dialects=("postgresql",)),)

    def renderer(self) -> Renderer:
        from .render import PostgreSQLRenderer

        return PostgreSQLRenderer(self)

    def sa_dialect(self) -> Any:
        from sqlalchemy.dialects.postgresql.base import PGDialect

        return PGDialect()  # type: ignore[no-untyped-call]

    def engine_args(self, url: Any, kwargs: dict[str, Any], lock_timeout: float) -> Any:
        # psycopg (3) is the driver schemaflow installs; SQLAlchemy's default is psycopg2.
        # `postgres://` is what Heroku, Render and Fly put in DATABASE_URL.
        if url.drivername in ("postgresql", "postgres"):
            return url.set(drivername="postgresql+psycopg")
        return url

    def lock(self, conn: Connection, table: str, timeout: float) -> bool:
        from sqlalchemy.exc import DBAPIError

        key = lock_key(conn, table)
        got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
        if got or timeout <= 0:
            return bool(got)
        # The wait is bounded by settings LOCAL to this transaction: they end with it, and
        # the session keeps its own lock_timeout and statement_timeout (the database's, the
        # role's, the URL's) for the changesets. lock_timeout = 0 would mean "wait forever".
        ms = max(1, int(min(timeout, 2_000_000) * 1000))
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        try:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
        except DBAPIError as exc:
            conn.rollback()
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                return False
            raise
        conn.commit()  # the advisory lock is the session's: it outlives the transaction
        return True

    def unlock(self, conn: Connection, table: str) -> None:
        if conn.invalidated:
            return  # the session is gone, and its advisory lock with it
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({lock_key(conn, table)})")

    def read_versions(self, url: str, table: str, schema: str | None,
                      timeout: float) -> VersionRead | None:
        from ...journal import journal_name

        if url.count("@") > 1 or URL_PARTS.match(url) is None:
            return None
        if url.partition(":")[0].lower() not in ("postgresql", "postgres", "postgresql+psycopg"):
            return None
        try:
            import psycopg
        except ImportError:
            return None  # SQLAlchemy reports the missing driver with its hint
        # libpq reads the URL itself, as SQLAlchemy's psycopg dialect lets it.
        try:
            conn = psycopg.connect("postgresql" + url[url.index("://"):])
        except psycopg.Error as exc:
            raise unreachable(url, exc) from None
        try:
            found = conn.execute("SELECT to_regclass(%s), to_regclass(%s)", (
                quoted(table, schema, '"'), quoted(journal_name(table), schema, '"'))).fetchone()
            if not found or found[0] is None:
                return [], []
            rows = [tuple(r) for r in conn.execute(select_versions(table, schema, '"'))]
            if found[1] is None:
                return rows, []
            try:
                return rows, [tuple(r) for r in conn.execute(
                    select_journal(table, schema, '"'))]
            except psycopg.errors.UndefinedTable:
                return rows, []  # a run dropped it meanwhile: it was empty
        except psycopg.errors.InvalidSchemaName:
            return [], []
        except psycopg.Error as exc:
            raise DatabaseError(f"the database failed: {db_message(exc)}") from None
        finally:
            conn.close()
