"""The live database: connecting, the version table, the lock, and reading what is applied."""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import hashlib
import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .config import hide_password
from .errors import ConnectionFailed, UsageError
from .versions import CONNECT_HINT, AppliedRow, db_message

__all__ = ["AppliedRow", "db_message"]


def version_table(name: str, schema: str | None) -> sa.Table:
    """The version table's definition (the contract's columns)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.Column("execution_ms", sa.Integer(), nullable=False),
        sa.Column("applied_by", sa.String(255)),
        sa.Column("schemaflow_version", sa.String(32)),
        sa.Column("exec_order", sa.Integer(), nullable=False),
        schema=schema,
    )


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite's own transaction handling skips BEGIN before DDL; take it over so each
    # changeset's DDL and its version row commit or roll back together. BEGIN IMMEDIATE takes
    # the write lock up front, which serialises concurrent runs.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # The rebuild drops and recreates tables: with enforcement on, that would cascade.
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, lock_timeout: float = 60.0) -> Engine:
    """An engine for `url`, or ConnectionFailed/UsageError with the password hidden."""
    shown = hide_password(url)
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise UsageError(f"not a database URL: {shown}",
                         hint="e.g. sqlite:///app.db, postgresql+psycopg://user@host/db") from None
    kwargs: dict[str, Any] = {"poolclass": sa.pool.NullPool}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": lock_timeout}
    elif parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=parsed.drivername + "+pymysql")
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConnectionFailed(
            f"no driver for {shown}: {exc}",
            hint="install the extra: pip install 'schemaflow[postgresql]' or "
                 "'schemaflow[mysql]'") from None
    except sa.exc.ArgumentError as exc:
        raise UsageError(f"bad database URL {shown}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    return engine


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection, with an unreachable server turned into ConnectionFailed."""
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        shown = hide_password(engine.url.render_as_string(hide_password=False))
        raise ConnectionFailed(f"cannot connect to {shown}: {db_message(exc)}",
                               hint=CONNECT_HINT) from None
    try:
        yield conn
    finally:
        conn.close()


# --- the lock ----------------------------------------------------------------------------------


def lock_key(table: str) -> int:
    """A stable 32-bit advisory-lock key for a version table."""
    return zlib.crc32(("schemaflow:" + table).encode())


def _pg_lock(conn: Connection, name: str, timeout: float) -> bool:
    key = lock_key(_scoped(conn, name))
    got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
    if got or timeout <= 0:
        return bool(got)
    # lock_timeout = 0 would mean "wait forever": at least one millisecond.
    deadline_ms = max(1, int(timeout * 1000))
    conn.exec_driver_sql(f"SET lock_timeout = {deadline_ms}")
    try:
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
    except sa.exc.DBAPIError:
        conn.rollback()
        return False
    finally:
        if conn.in_transaction():
            conn.exec_driver_sql("SET lock_timeout = 0")
    return True


def _pg_unlock(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({lock_key(_scoped(conn, name))})")


def _scoped(conn: Connection, name: str) -> str:
    """The lock's name for this database: locks are server-wide, migrations per database."""
    database = conn.exec_driver_sql("SELECT current_database()" if conn.dialect.name ==
                                    "postgresql" else "SELECT DATABASE()").scalar()
    return f"{database}.{name}"


def _mysql_name(conn: Connection, name: str) -> str:
    # GET_LOCK names are at most 64 characters.
    return "schemaflow:" + hashlib.sha1(_scoped(conn, name).encode()).hexdigest()[:40]


def _mysql_lock(conn: Connection, name: str, timeout: float) -> bool:
    got = conn.exec_driver_sql(
        "SELECT GET_LOCK(%s, %s)", (_mysql_name(conn, name), max(0, int(timeout)))).scalar()
    return bool(got)


def _mysql_unlock(conn: Connection, name: str) -> None:
    conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (_mysql_name(conn, name),))


# SQLite needs no session lock: every changeset's transaction starts with BEGIN IMMEDIATE and
# re-reads the version table, so a waiting process sees what the other one applied.
_LOCKS: dict[str, tuple[Any, Any]] = {
    "postgresql": (_pg_lock, _pg_unlock),
    "mysql": (_mysql_lock, _mysql_unlock),
    "mariadb": (_mysql_lock, _mysql_unlock),
}


def has_run_lock(conn: Connection) -> bool:
    """Whether `locked` holds a lock for the whole run on this database (else, as on SQLite,
    each changeset's transaction is what serialises concurrent runs)."""
    return conn.dialect.name in _LOCKS


@contextmanager
def locked(conn: Connection, table: str, timeout: float, shown_url: str,
           on_wait: Any = None) -> Iterator[None]:
    """Hold the schemaflow lock of this database for the block."""
    lock = _LOCKS.get(conn.dialect.name)
    if lock is None:
        yield
        return
    take, release = lock
    if not take(conn, table, 0):
        if on_wait:
            on_wait(f"waiting for another schemaflow run on {shown_url} to finish")
        if not take(conn, table, timeout):
            raise ConnectionFailed(
                f"timed out after {timeout:g}s waiting for the schemaflow lock on {shown_url}",
                hint="another schemaflow run holds it; raise --lock-timeout or wait")
    if conn.in_transaction():
        conn.commit()
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        release(conn, table)
        if conn.in_transaction():
            conn.commit()


# --- version rows ------------------------------------------------------------------------------


def has_table(conn: Connection, vt: sa.Table) -> bool:
    """Whether the version table exists."""
    return bool(sa.inspect(conn).has_table(vt.name, schema=vt.schema))


def ensure_table(conn: Connection, vt: sa.Table) -> None:
    """Create the version table if it is missing (in its own transaction)."""
    with conn.begin():
        vt.create(conn, checkfirst=True)


def read_applied(conn: Connection, vt: sa.Table) -> list[AppliedRow]:
    """Every version row, in the order they were applied."""
    rows = conn.execute(sa.select(vt).order_by(vt.c.exec_order)).all()
    if conn.in_transaction() and not conn.in_nested_transaction():
        conn.rollback()
    return [AppliedRow(**r._asdict()) for r in rows]


def applied_ids(conn: Connection, vt: sa.Table) -> tuple[set[str], int]:
    """(every applied id, the next exec_order): one read, in the caller's transaction."""
    rows = conn.execute(sa.select(vt.c.id, vt.c.exec_order)).all()
    return {r[0] for r in rows}, max((r[1] for r in rows), default=0) + 1


def next_order(conn: Connection, vt: sa.Table) -> int:
    """The exec_order for the next row."""
    current = conn.execute(sa.select(sa.func.max(vt.c.exec_order))).scalar()
    return int(current or 0) + 1


@functools.cache
def applied_by() -> str:
    """`user@host` of this process (looked up once: it does not change while it runs)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"[:255]


def insert_rows(conn: Connection, vt: sa.Table, rows: list[tuple[str, str, str]], *,
                version: str) -> None:
    """Record many changesets as applied (stamp): one statement, consecutive exec_order."""
    if not rows:
        return
    first = next_order(conn, vt)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    conn.execute(vt.insert(), [
        {"id": cid, "checksum": checksum, "message": message[:10000], "applied_at": now,
         "execution_ms": 0, "applied_by": applied_by(), "schemaflow_version": version,
         "exec_order": first + i} for i, (cid, checksum, message) in enumerate(rows)])


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """A cursor of the driver's own connection under `conn` (in its transaction, if any),
    for text that is already compiled: no SQLAlchemy work per statement."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


class VersionRows:
    """The version-row INSERT and DELETE of one run: compiled once by SQLAlchemy for the
    connection's dialect (quoting, placeholders, bind casts, value conversion), then sent
    on the driver's cursor. A run writes a row per changeset, and SQLAlchemy's per-statement
    work showed at a thousand of them."""

    def __init__(self, conn: Connection, vt: sa.Table) -> None:
        self.conn, self.vt = conn, vt
        dialect = conn.dialect
        self.processors = {c.key: c.type.bind_processor(dialect) for c in vt.c}
        self.insert_sql = self._compiled(vt.insert(), [c.key for c in vt.c])
        self.deletes: dict[int, tuple[str, list[str] | None]] = {}

    def _compiled(self, stmt: Any, keys: list[str] | None = None) -> tuple[str, list[str] | None]:
        compiled: Any = stmt.compile(dialect=self.conn.dialect, column_keys=keys)
        names = list(compiled.positiontup) if self.conn.dialect.positional else None
        return compiled.string, names

    def _run(self, sql: tuple[str, list[str] | None], values: dict[str, Any]) -> None:
        text, names = sql
        params: Any = tuple(values[n] for n in names) if names is not None else values
        with driver_cursor(self.conn) as cursor:
            cursor.execute(text, params)

    def insert(self, *, cid: str, checksum: str, message: str, execution_ms: int,
               version: str, order: int) -> None:
        """Record a changeset as applied."""
        values = {"id": cid, "checksum": checksum, "message": message[:10000],
                  "applied_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                  "execution_ms": execution_ms, "applied_by": applied_by(),
                  "schemaflow_version": version, "exec_order": order}
        for key, convert in self.processors.items():
            if convert is not None:
                values[key] = convert(values[key])
        self._run(self.insert_sql, values)

    def delete(self, ids: tuple[str, ...]) -> None:
        """Forget changesets (after rolling them back)."""
        sql = self.deletes.get(len(ids))
        if sql is None:
            binds = [sa.bindparam(f"id_{i}", type_=self.vt.c.id.type) for i in range(len(ids))]
            sql = self.deletes[len(ids)] = self._compiled(
                self.vt.delete().where(self.vt.c.id.in_(binds)))
        convert = self.processors["id"]
        self._run(sql, {f"id_{i}": convert(v) if convert else v for i, v in enumerate(ids)})


def delete_rows(conn: Connection, vt: sa.Table, ids: tuple[str, ...]) -> None:
    """Forget changesets (after rolling them back)."""
    conn.execute(vt.delete().where(vt.c.id.in_(ids)))


def reflect(conn: Connection, *, schema: str | None = None,
            skip: tuple[str, ...] = ()) -> Any:
    """The live schema as a SchemaState (bulk reflection; the version table left out)."""
    from dataclasses import replace

    from .sqla import from_inspector

    state = from_inspector(sa.inspect(conn), schema, skip=skip)
    if conn.in_transaction():
        conn.rollback()
    tables = {}
    for key, t in state.tables.items():
        # Indexes a database made for a foreign key by itself (InnoDB names them after the key)
        # are not part of the schema anyone wrote.
        fk_index = {(f.name, f.columns) for f in t.foreign_keys}
        tables[key] = replace(t, indexes=tuple(i for i in t.indexes
                                                if (i.name, i.columns) not in fk_index))
    from .state import SchemaState

    return SchemaState(tables)
