"""Connecting to a live database (the driver each database defaults to, its session setup),
the driver's own cursor for compiled text, and the run-wide lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..config import hide_password, hide_passwords_in, normal_url, url_port_problem
from ..errors import ConnectionFailed, DatabaseError, UsageError
from . import for_connection, for_url
from .base import CONNECT_HINT, Dialect, db_message


def create_engine(url: str, *, lock_timeout: float = 60.0) -> Engine:
    """An engine for `url`, or ConnectionFailed/UsageError with the password hidden."""
    url = normal_url(url)
    shown = hide_password(url)
    example = "e.g. sqlite:///app.db, postgresql+psycopg://user:password@host:5432/db"
    problem = url_port_problem(url)
    if problem:
        raise UsageError(f"bad database URL {shown}: {problem}", hint=example)
    known = for_url(url)
    try:
        parsed = sa.engine.make_url(known.driver_url(url) if known else url)
    except (sa.exc.ArgumentError, ValueError):
        raise UsageError(f"not a database URL: {shown}", hint=example) from None
    kwargs: dict[str, Any] = {"poolclass": sa.pool.NullPool}
    if known is not None:
        parsed = known.engine_args(parsed, kwargs, lock_timeout)
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise missing_driver(shown, parsed, known, exc) from None
    except sa.exc.ArgumentError as exc:
        raise UsageError(f"bad database URL {shown}: {hide_passwords_in(str(exc))}") from None
    if known is not None:
        known.setup_engine(engine)
    return engine


def missing_driver(shown: str, parsed: sa.engine.URL, known: Dialect | None,
                   exc: BaseException) -> ConnectionFailed:
    """The error for a URL whose driver is not installed (or not known to SQLAlchemy): the
    pip package to install, and the driver schemaflow uses when the URL names none."""
    driver = parsed.get_driver_name()
    if isinstance(exc, sa.exc.NoSuchModuleError) or known is None:
        # SQLAlchemy has no such database or driver at all: no package would help.
        return ConnectionFailed(f"unknown database or driver in {shown}: "
                                f"{hide_passwords_in(str(exc))}",
                                hint="e.g. postgresql+psycopg://, postgresql+psycopg2://, "
                                     "mysql+pymysql://, mysql+mysqldb://, sqlite:///")
    package = known.driver_package(driver)
    plain = f"{parsed.get_backend_name()}://..."
    default = (f"; or leave the driver out ({plain}) to use {known.default_driver}"
               if known.default_driver and known.default_driver != driver else "")
    return ConnectionFailed(f"the driver '{driver}' that {shown} names is not installed "
                            f"({hide_passwords_in(str(exc))})",
                            hint=f"pip install {package}{default}")


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


Database = str | Engine | Connection  # a URL, or the caller's engine or connection

# conn.info keys while schemaflow runs on the caller's connection inside the caller's own
# transaction: schemaflow's transactions are savepoints in it, and it never ends it.
_JOINED = "schemaflow.joined"
_SAVEPOINT = "schemaflow.savepoint"


@contextmanager
def session(target: Database, *, lock_timeout: float = 60.0
            ) -> Iterator[tuple[Connection, Dialect]]:
    """A connection to `target` and the database behind it (at its server version). A URL
    gets an engine of its own, disposed after; the caller's Engine lends a connection; the
    caller's Connection is used as it is and left open, and when it is inside a transaction
    schemaflow works inside that transaction (each changeset a savepoint) and leaves
    committing it to the caller, as Alembic does with a connection it is given."""
    if isinstance(target, Connection):
        if target.closed or target.invalidated:
            raise UsageError("the connection given as url= is closed")
        engine = target.engine
        lent: AbstractContextManager[Connection] = nullcontext(target)
    elif isinstance(target, Engine):
        engine = target
        lent = connect(engine)
    else:
        engine = create_engine(target, lock_timeout=lock_timeout)
        lent = connect(engine)
    try:
        with lent as conn:
            dialect = for_connection(conn)
            try:
                with _borrowed(target, conn, dialect):
                    yield conn, dialect
            except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
                # A database error outside any changeset (a version table of another shape,
                # a server gone mid-command): one message, not a traceback.
                raise DatabaseError(f"the database failed: {db_message(exc)}") from None
    finally:
        if isinstance(target, str):
            engine.dispose()


def given_bind(value: object) -> Engine | Connection:
    """The caller's Engine or Connection given as `url=`; UsageError for anything else."""
    if isinstance(value, (Engine, Connection)):
        return value
    if type(value).__name__ in ("AsyncEngine", "AsyncConnection"):
        raise UsageError("url= is an asyncio engine or connection; schemaflow runs "
                         "synchronously", hint="pass its URL as text (an asyncpg, aiomysql "
                         "or aiosqlite URL is run through the synchronous driver) or "
                         "engine.sync_engine's URL")
    raise UsageError(f"url= must be a database URL, an SQLAlchemy Engine or a Connection, "
                     f"not {type(value).__name__}")


@contextmanager
def _borrowed(target: Database, conn: Connection, dialect: Dialect) -> Iterator[None]:
    """The caller's connection set up for the block, and as it was afterwards."""
    if isinstance(target, str):
        yield
        return
    inside = conn.in_transaction()
    if inside and not dialect.transactional_ddl:
        raise UsageError(
            f"the connection given as url= is inside a transaction, and {dialect.name} "
            "commits each DDL statement at once: the changesets cannot stay inside it",
            hint="commit (or roll back) first, or pass the Engine")
    conn.info[_JOINED] = inside
    try:
        with dialect.borrowed(conn, inside):
            yield
    finally:
        rollback(conn)  # (only a savepoint of schemaflow's left open by an error)
        conn.info.pop(_JOINED, None)
        conn.info.pop(_SAVEPOINT, None)


def joined(conn: Connection) -> bool:
    """Whether schemaflow works inside the caller's transaction on this connection."""
    return bool(conn.info.get(_JOINED))


def begin(conn: Connection) -> None:
    """Start a transaction of schemaflow's own (inside the caller's: a savepoint)."""
    if joined(conn):
        conn.info[_SAVEPOINT] = conn.begin_nested()
    else:
        conn.begin()


def commit(conn: Connection) -> None:
    """Commit schemaflow's own transaction (inside the caller's: release its savepoint)."""
    if joined(conn):
        savepoint = conn.info.pop(_SAVEPOINT, None)
        if savepoint is not None and savepoint.is_active:
            savepoint.commit()
    else:
        conn.commit()


def end_read(conn: Connection) -> None:
    """End the transaction a read began by itself (never the caller's, nor a changeset's
    savepoint)."""
    if not joined(conn) and conn.in_transaction() and not conn.in_nested_transaction():
        conn.rollback()


@contextmanager
def transaction(conn: Connection) -> Iterator[None]:
    """A transaction of schemaflow's own for the block: committed, or undone on an error."""
    begin(conn)
    try:
        yield
    except BaseException:
        rollback(conn)
        raise
    commit(conn)


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """A cursor of the driver's own connection under `conn` (in its transaction, if any),
    for text that is already compiled: no SQLAlchemy work per statement."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


@contextmanager
def unprepared(conn: Connection) -> Iterator[None]:
    """For the block, no server-side prepared statements on a driver that makes them by
    itself (psycopg 3 prepares a statement once it has run five times, in a round trip of
    its own, and after any DDL forgets them all with DEALLOCATE ALL, another round trip): a
    run of changesets sends DDL between its version-row statements, so that would cost
    round trips and save none. The driver's setting is as it was afterwards."""
    raw: Any = conn.connection.dbapi_connection
    if not hasattr(raw, "prepare_threshold"):
        yield
        return
    before = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        with suppress(Exception):  # a connection that was lost meanwhile
            raw.prepare_threshold = before


@contextmanager
def locked(conn: Connection, dialect: Dialect, table: str, timeout: float, shown_url: str,
           on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the schemaflow lock of this database for the block (where it has one)."""
    if not dialect.run_lock:
        yield
        return
    from .driver import take_lock

    take_lock(lambda seconds: dialect.lock(conn, table, seconds), timeout, shown_url, on_wait)
    if conn.in_transaction() and not joined(conn):
        conn.commit()
    try:
        yield
    finally:
        release(conn, dialect, table)


def release(conn: Connection, dialect: Dialect, table: str) -> None:
    """Release the lock. A failure here never replaces the error that led here (a server
    that died mid-changeset): the connection is dropped instead, and a database drops a
    session's lock with the session."""
    errors = (sa.exc.SQLAlchemyError, conn.dialect.loaded_dbapi.Error)
    for step in (rollback, lambda c: dialect.unlock(c, table), rollback):
        try:
            step(conn)
        except errors:
            with suppress(*errors):
                conn.invalidate()


def rollback(conn: Connection) -> None:
    """Undo schemaflow's own open transaction, if any (inside the caller's: back to its
    savepoint; the caller's transaction stays open)."""
    if joined(conn):
        savepoint = conn.info.pop(_SAVEPOINT, None)
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()
    elif conn.in_transaction():
        conn.rollback()
