"""Throw-away databases for tests: a new database with a unique name on the server a URL
names (created with CREATE DATABASE, dropped afterwards), or a new SQLite file in a folder."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from ..config import hide_password
from ..dialects import for_connection, for_url
from ..dialects.base import Dialect, db_message
from ..dialects.connect import connect, create_engine
from ..errors import ConnectionFailed, DatabaseError, UsageError


@dataclass(frozen=True, slots=True)
class ScratchDatabase:
    """A new, empty database that exists for one test."""

    url: str  # with the password: what to connect with
    name: str
    description: str  # for reports: the database, its version and where (no password)

    def __str__(self) -> str:
        return self.description


def _version(dialect: Dialect) -> str:
    version = ".".join(str(v) for v in dialect.server_version or ())
    return f"{type(dialect).__name__} {version}".strip()


def _file_database(url: sa.engine.URL, folder: Path, name: str) -> ScratchDatabase:
    path = folder / f"{name}.db"
    new = url.set(database=str(path)).render_as_string(hide_password=False)
    engine = create_engine(new)
    try:
        with connect(engine) as conn:
            described = f"{_version(for_connection(conn))}, a new file {path}"
    finally:
        engine.dispose()
    return ScratchDatabase(new, name, described)


@contextmanager
def scratch_database(base_url: str | None, folder: Path,
                     prefix: str = "sf_test") -> Iterator[ScratchDatabase]:
    """A new database next to `base_url`'s (on its server; for SQLite, a file in `folder`),
    dropped when the block ends. Without `base_url`: a SQLite file in `folder`."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    base = base_url or "sqlite://"
    dialect = for_url(base)
    if dialect is None:
        raise UsageError(f"not a database URL schemaflow knows: {hide_password(base)}",
                         hint="e.g. postgresql+psycopg://user@host/db, "
                              "mysql+pymysql://user@host/db, sqlite://")
    try:
        url = sa.engine.make_url(base)
    except sa.exc.ArgumentError:
        raise UsageError(f"not a database URL: {hide_password(base)}") from None
    if not dialect.server_databases:
        made = _file_database(url, folder, name)
        if base_url is None:  # say so: a check that passes here may fail on the real server
            made = dataclasses.replace(made, description=made.description
                                       + " (no --schemaflow-url: SQLite by default)")
        yield made
        return
    engine = create_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    shown = hide_password(base)
    try:
        with connect(engine) as conn:
            server = for_connection(conn)
            try:
                conn.exec_driver_sql(server.create_database_sql(name))
            except sa.exc.DBAPIError as exc:
                raise ConnectionFailed(
                    f"cannot create a test database on {shown}: {db_message(exc)}",
                    hint="the URL's user needs the right to create databases") from None
        where = f"{url.host or 'localhost'}" + (f":{url.port}" if url.port else "")
        described = f"{_version(server)} at {where}, a new database {name}"
        try:
            yield ScratchDatabase(url.set(database=name).render_as_string(hide_password=False),
                                  name, described)
        finally:
            with connect(engine) as conn:
                try:
                    conn.exec_driver_sql(server.drop_database_sql(name))
                except sa.exc.DBAPIError as exc:
                    raise DatabaseError(f"cannot drop the test database {name} on {shown}: "
                                        f"{db_message(exc)}", hint="drop it by hand") from None
    finally:
        engine.dispose()
