"""Drivers that take a changeset's statements in one call (see `batched`).

PostgreSQL's simple query protocol (psycopg 3 and psycopg2) takes several statements without
parameters in one round trip: the values of data statements are written in by the driver's
own client-side quoting (`mogrify`), exactly as it would send them had it bound them itself.
SQLite runs in this process: its driver runs the statements one after the other on one
cursor, with their parameters bound, and none of SQLAlchemy's per-statement and
per-transaction work is paid."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Statement = tuple[str, Any]
"""A statement's text in the driver's placeholder style, and its parameters (None: none)."""

_SEP = "\n;\n"  # between statements sent as one text (a statement's last line may be a comment)


class BatchDriver:
    """One driver connection, used for whole changesets at a time."""

    opening = "BEGIN"  # what starts a changeset's transaction
    # The driver's setting that turns its own transactions off, and its value for that.
    switch: str = "autocommit"
    off: Any = True

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.before: Any = None

    def idle(self) -> bool:
        """No transaction is open on the connection."""
        raise NotImplementedError

    def literal(self, sql: str, params: Any) -> str:
        """`sql` (in the driver's placeholder style) with `params` written in."""
        raise NotImplementedError

    def send(self, statements: Sequence[Statement],
             between: Callable[[int], None] | None = None) -> list[tuple[Any, ...]]:
        """Run `statements` in one call; the rows of the last one. A driver that runs them
        one at a time calls `between(i)` before the `i`-th (from 0), from the second on, so
        that a signal stops the batch between two."""
        text = _SEP.join(sql if params is None else self.literal(sql, params)
                         for sql, params in statements)
        cursor = self.raw.cursor()
        try:
            cursor.execute(text)
            return self._last_rows(cursor)
        finally:
            cursor.close()

    def _last_rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def begin(self) -> None:
        """From here the driver opens no transaction by itself: the statements sent say
        BEGIN, and COMMIT (or `settle`'s ROLLBACK) ends it."""
        self.before = getattr(self.raw, self.switch)
        setattr(self.raw, self.switch, self.off)

    def settle(self) -> bool:
        """Roll back what a batch left open and give the driver its own transactions back;
        False when that failed (the connection is unusable: lost, or stuck)."""
        try:
            if not self.idle():
                cursor = self.raw.cursor()
                try:
                    cursor.execute("ROLLBACK")
                finally:
                    cursor.close()
            setattr(self.raw, self.switch, self.before)
        except Exception:
            return False
        return True


class _Psycopg(BatchDriver):
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        import psycopg

        self._idle = psycopg.pq.TransactionStatus.IDLE
        self._quoting = psycopg.ClientCursor(raw)

    def idle(self) -> bool:
        return bool(self.raw.info.transaction_status == self._idle)

    def literal(self, sql: str, params: Any) -> str:
        return str(self._quoting.mogrify(sql, params))

    def _last_rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        while cursor.nextset():  # psycopg 3 keeps every statement's result: go to the last
            pass
        return super()._last_rows(cursor)


class _Psycopg2(BatchDriver):
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        import psycopg2.extensions as ext  # type: ignore[import-untyped]

        self._ext = ext

    def idle(self) -> bool:
        return bool(self.raw.get_transaction_status() == self._ext.TRANSACTION_STATUS_IDLE)

    def literal(self, sql: str, params: Any) -> str:
        cursor = self.raw.cursor()
        try:
            text = cursor.mogrify(sql, params)
        finally:
            cursor.close()
        if isinstance(text, bytes):
            return text.decode(self._ext.encodings.get(self.raw.encoding, "utf-8"))
        return str(text)


class _Sqlite3(BatchDriver):
    # BEGIN IMMEDIATE takes the database's write lock up front, as schemaflow's engines do.
    opening = "BEGIN IMMEDIATE"
    switch, off = "isolation_level", None  # (sqlite3 before Python 3.12's autocommit)

    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        from .sqlite import keep  # (a rebuild's markers, run here instead of being sent)

        self._keep = keep

    def idle(self) -> bool:
        return not self.raw.in_transaction

    def send(self, statements: Sequence[Statement],
             between: Callable[[int], None] | None = None) -> list[tuple[Any, ...]]:
        cursor = self.raw.cursor()
        try:
            for i, (sql, params) in enumerate(statements):
                if between is not None and i:
                    between(i)
                if params is None and self._keep.is_marker(sql):
                    self._keep.run(sql, cursor)
                elif params is None:
                    cursor.execute(sql)
                else:
                    cursor.execute(sql, params)
            return self._last_rows(cursor)
        finally:
            cursor.close()


_DRIVERS: dict[str, type[BatchDriver]] = {"psycopg": _Psycopg, "psycopg2": _Psycopg2,
                                          "pysqlite": _Sqlite3}


def batch_driver(conn: Any) -> BatchDriver | None:
    """The batching view of the driver connection under SQLAlchemy connection `conn`, or
    None where its driver is not one that takes a changeset in one call."""
    kind = _DRIVERS.get(conn.dialect.driver)
    if kind is None:
        return None
    return kind(conn.connection.dbapi_connection)
