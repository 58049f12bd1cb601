"""PostgreSQL through psycopg (3) alone (`dialects.driver`): the connection as SQLAlchemy's
psycopg dialect opens it (libpq reads the URL, one without a query, as that dialect does; no
session setting of schemaflow's own), the run-wide advisory lock taken as `PostgreSQL.lock`
takes it, and the version table read on that connection. The connection is in autocommit: a
read leaves no transaction open, and each changeset's batch says BEGIN and COMMIT itself.

What SQLAlchemy's psycopg dialect is set up from when it connects (`facts_on`) is read here
in one query, and read the same way on a connection SQLAlchemy opened (`driver_facts`): a
plan kept, or rendered by the run's render process, is then found by the same key whether
SQLAlchemy connected or the driver alone."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import psycopg

from ...errors import DatabaseError
from ..base import db_message, unreachable
from ..driver import DriverSide, VersionsFound
from ..versions import next_exec_order, quoted, select_journal, select_versions
from . import advisory_key

if TYPE_CHECKING:
    from ..batch import BatchDriver

# What SQLAlchemy's PostgreSQL dialect reads the server's version from (`pg_catalog.version()`).
_VERSION = re.compile(r".*(?:PostgreSQL|EnterpriseDB) (\d+)\.?(\d+)?(?:\.(\d+))?")
_IDLE = psycopg.pq.TransactionStatus.IDLE

# One round trip: the version as text, and what the dialect's `initialize` reads besides
# (the default schema, the isolation level, whether backslashes escape in strings, and
# whether hstore is there, which its psycopg dialect then adapts); and the database's name,
# which the run-wide lock's key is made of.
_FACTS = ("SELECT current_database(), pg_catalog.version(), current_schema(), "
          "current_setting('transaction_isolation'), "
          "current_setting('standard_conforming_strings'), "
          "to_regtype('hstore') IS NOT NULL")


def conninfo(mapped: str) -> str:
    """The libpq URL of a `postgresql+psycopg://` URL (as `Dialect.driver_url` maps it)."""
    return "postgresql" + mapped[mapped.index("://"):]


def server_version(text: str) -> tuple[int, ...]:
    """The version tuple SQLAlchemy's dialect makes of `pg_catalog.version()`."""
    m = _VERSION.match(text)
    if m is None:
        raise DatabaseError(f"the server's version could not be read from {text!r}")
    return tuple(int(x) for x in m.group(1, 2, 3) if x is not None)


def facts_on(raw: Any) -> tuple[tuple[Any, ...], tuple[int, ...], str]:
    """What SQLAlchemy's psycopg dialect is set up from on `raw` (a psycopg connection,
    its own or one SQLAlchemy opened; a transaction this read opened is ended, one that was
    open is left as it was, the read in a savepoint of it), the server's version, and the
    database's name."""
    if raw.info.transaction_status != _IDLE:
        with raw.transaction():  # (a savepoint: a failing read leaves the transaction usable)
            row = raw.execute(_FACTS).fetchone()
    else:
        try:
            row = raw.execute(_FACTS).fetchone()
        finally:
            if raw.info.transaction_status != _IDLE:
                raw.rollback()
    database, version, schema, isolation, standard, hstore = row
    return (("psycopg", psycopg.__version__, str(schema), str(isolation).upper(),
             str(standard), bool(hstore)), server_version(str(version)), str(database))


# Whether each name is a table as SQLAlchemy's has_table finds one (a table, a partitioned or
# foreign table, a view): the relation the name resolves to, as the search path resolves it
# without a schema, of those kinds (a composite type, an index or a sequence of that name is
# no version table, and a CREATE TABLE of it fails as it fails through SQLAlchemy).
_TABLES = ("SELECT (SELECT c.relkind IN ('r', 'p', 'f', 'v', 'm') FROM pg_catalog.pg_class c "
           "WHERE c.oid = to_regclass(%s)), (SELECT c.relkind IN ('r', 'p', 'f', 'v', 'm') "
           "FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(%s))")


def read_on(raw: Any, table: str, schema: str | None) -> VersionsFound:
    """The version table's and the journal's rows on `raw` (psycopg, autocommit)."""
    from ...journal import journal_name

    try:
        found = raw.execute(_TABLES, (quoted(table, schema, '"'),
                                      quoted(journal_name(table), schema, '"'))).fetchone()
    except psycopg.errors.InvalidSchemaName:
        return VersionsFound(False, ([], []), False)
    if not found or not found[0]:
        return VersionsFound(False, ([], []), found is not None and bool(found[1]))
    rows = [tuple(r) for r in raw.execute(select_versions(table, schema, '"'))]
    if not found[1]:
        return VersionsFound(True, (rows, []), False)
    try:
        journal = [tuple(r) for r in raw.execute(select_journal(table, schema, '"'))]
    except psycopg.errors.UndefinedTable:
        journal = []  # a run dropped it meanwhile: it was empty
    return VersionsFound(True, (rows, journal), True)


class PsycopgDriver(DriverSide):
    """A PostgreSQL database through psycopg."""

    driver = "psycopg"
    errors = (psycopg.Error,)

    def __init__(self, url: str, mapped: str) -> None:
        self.url, self.conninfo = url, conninfo(mapped)
        self._facts: tuple[tuple[Any, ...], tuple[int, ...], str] | None = None

    def connect(self, timeout: float) -> Any:
        try:
            return psycopg.connect(self.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise unreachable(self.url, exc) from None

    def _read_facts(self, raw: Any) -> tuple[tuple[Any, ...], tuple[int, ...], str]:
        if self._facts is None:
            self._facts = facts_on(raw)
        return self._facts

    def server_version(self, raw: Any) -> tuple[int, ...]:
        return self._read_facts(raw)[1]

    def facts(self, raw: Any) -> tuple[Any, ...]:
        return self._read_facts(raw)[0]

    def _lock_key(self, raw: Any, table: str) -> int:
        return advisory_key(self._read_facts(raw)[2], table)  # (read once, with the facts)

    def lock(self, raw: Any, table: str, timeout: float) -> bool:
        key = self._lock_key(raw, table)
        got = raw.execute(f"SELECT pg_try_advisory_lock({key})").fetchone()[0]
        if got or timeout <= 0:
            return bool(got)
        # Bounded by settings LOCAL to a transaction of its own, as `PostgreSQL.lock` bounds
        # the wait: the session keeps its own lock_timeout and statement_timeout.
        ms = max(1, int(min(timeout, 2_000_000) * 1000))
        try:
            with raw.transaction():
                raw.execute(f"SET LOCAL lock_timeout = {ms}")
                raw.execute("SET LOCAL statement_timeout = 0")
                raw.execute(f"SELECT pg_advisory_lock({key})")
        except psycopg.errors.LockNotAvailable:
            return False
        return True

    def unlock(self, raw: Any, table: str) -> None:
        # Never raises (what the run did is done): where the unlock fails, the connection
        # is closed, and the session's advisory lock ends with it.
        if raw.closed or raw.broken:
            return  # the session is gone, and its advisory lock with it
        try:
            raw.execute(f"SELECT pg_advisory_unlock({self._lock_key(raw, table)})")
        except psycopg.Error:
            self.close(raw)

    def read(self, raw: Any, table: str, schema: str | None) -> VersionsFound:
        try:
            return read_on(raw, table, schema)
        except psycopg.Error as exc:
            raise DatabaseError(f"the database failed: {db_message(exc)}") from None

    def has_any(self, raw: Any, tables: tuple[str, ...]) -> bool:
        # In any schema but the system's: where one is there, SQLAlchemy's look at the
        # current schema tells (this only needs to be sure there is none).
        return raw.execute(
            "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND lower(c.relname) = ANY(%s) LIMIT 1",
            ([t.lower() for t in tables],)).fetchone() is not None

    def next_order(self, raw: Any, table: str, schema: str | None) -> int:
        name = quoted(table, schema, '"')
        row = raw.execute(f"SELECT max(exec_order) FROM {name}").fetchone()
        return next_exec_order(row, table if schema is None else f"{schema}.{table}")

    def batch(self, raw: Any) -> BatchDriver:
        from ..batch import _DRIVERS

        return _DRIVERS[self.driver](raw)

    def in_transaction(self, raw: Any) -> bool:
        return bool(raw.info.transaction_status != _IDLE)
