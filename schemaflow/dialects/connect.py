"""Connecting to a live database (the driver each database defaults to, its session setup),
the driver's own cursor for compiled text, and the run-wide lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
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


@contextmanager
def session(url: str, *, lock_timeout: float = 60.0) -> Iterator[tuple[Connection, Dialect]]:
    """A connection to `url` and the database behind it (at its server version)."""
    engine = create_engine(url, lock_timeout=lock_timeout)
    try:
        with connect(engine) as conn:
            try:
                yield conn, for_connection(conn)
            except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
                # A database error outside any changeset (a version table of another shape,
                # a server gone mid-command): one message, not a traceback.
                raise DatabaseError(f"the database failed: {db_message(exc)}") from None
    finally:
        engine.dispose()


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
def locked(conn: Connection, dialect: Dialect, table: str, timeout: float, shown_url: str,
           on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the schemaflow lock of this database for the block (where it has one)."""
    if not dialect.run_lock:
        yield
        return
    if not timeout >= 0:  # (NaN too)
        raise UsageError(f"--lock-timeout must be a number of seconds, 0 or more, not {timeout:g}")
    if not dialect.lock(conn, table, 0):
        if on_wait:
            on_wait(f"waiting for another schemaflow run on {shown_url} to finish")
        if not dialect.lock(conn, table, timeout):
            raise ConnectionFailed(
                f"timed out after {timeout:g}s waiting for the schemaflow lock on {shown_url}",
                hint="another schemaflow run holds it; raise --lock-timeout or wait")
    if conn.in_transaction():
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
    """End the connection's transaction, if one is open, undoing it."""
    if conn.in_transaction():
        conn.rollback()
