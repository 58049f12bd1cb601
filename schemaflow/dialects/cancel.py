"""Cancelling the statement a connection is running, from outside it: what an interrupted run
(Ctrl-C, SIGTERM) uses so that the server stops working for a client that has given up.

Each way is prepared before the statement starts (what it needs is read while the connection
is idle) and is safe to call from a signal handler: it never uses the busy connection."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Cancel = Callable[[], None]


def driver_cancel(conn: Connection) -> Cancel:
    """The driver's own cancel request: psycopg and psycopg2 send it on a channel of its own
    (PostgreSQL's cancel protocol, as pg_cancel_backend); sqlite3 interrupts the statement.
    A driver without one: nothing to send (the statement ends with the connection)."""
    return raw_cancel(conn.connection.dbapi_connection)


def raw_cancel(dbapi: Any) -> Cancel:
    """`driver_cancel` of the driver's connection itself."""
    for name in ("cancel", "interrupt"):
        fn = getattr(dbapi, name, None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return lambda: None


# SQLite's virtual machine steps between two calls back into Python while a statement runs
# (a step is a few nanoseconds to a microsecond: a call every ~0.1-10 ms, for nothing to see).
STEPS = 20_000


def _tick() -> int:
    return 0  # (go on: the call itself is what lets a pending signal's handler run)


@contextmanager
def interruptible(conn: Connection) -> Iterator[None]:
    """For the block, a driver that runs statements in this process (sqlite3) calls back
    into Python every `STEPS` steps of a running statement. A signal's handler runs only
    between bytecodes of the main thread, so without that it would wait for a long
    statement (a rebuild, an index on a big table) to end before it can cancel it; with it
    the handler runs while the statement does, and its cancel (`driver_cancel`: sqlite3's
    interrupt) stops the statement. A driver talking to a server: nothing to do."""
    with progress_ticks(conn.connection.dbapi_connection):
        yield


@contextmanager
def progress_ticks(raw: Any) -> Iterator[None]:
    """`interruptible` on the driver's connection `raw`."""
    if not callable(getattr(raw, "set_progress_handler", None)):
        yield
        return
    raw.set_progress_handler(_tick, STEPS)
    try:
        yield
    finally:
        with suppress(Exception):
            raw.set_progress_handler(None, 0)


def _server_thread(dbapi: Any) -> int | None:
    """The server's id for the session (PyMySQL and mysqlclient know it from the handshake,
    mysql-connector as connection_id); None when the driver does not tell."""
    ident = getattr(dbapi, "thread_id", None)
    if callable(ident):
        ident = ident()
    if ident is None:
        ident = getattr(dbapi, "connection_id", None)
    return ident if isinstance(ident, int) else None


def kill_query(conn: Connection) -> Cancel:
    """MySQL and MariaDB have no cancel request: `KILL QUERY <id>` from a second connection
    stops the session's statement and leaves the session (and its lock) in place."""
    dbapi = conn.connection.dbapi_connection
    ident = _server_thread(dbapi)
    if ident is None:
        cursor = dbapi.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("SELECT CONNECTION_ID()")
            row = cursor.fetchone()
            ident = int(row[0]) if row else None
        finally:
            cursor.close()
    if ident is None:
        return lambda: None  # no session id to name: the statement ends with the connection
    engine = conn.engine

    def cancel() -> None:
        other = engine.raw_connection()  # a new session: the engine does not pool
        try:
            cursor = other.cursor()
            cursor.execute(f"KILL QUERY {ident:d}")
            cursor.close()
        finally:
            with suppress(Exception):
                other.close()

    return cancel
