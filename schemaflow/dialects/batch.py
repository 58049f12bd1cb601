"""Drivers that take several statements in one call, without parameters (PostgreSQL's simple
query protocol: psycopg 3 and psycopg2), so that a changeset's statements reach the server in
one round trip (see `batched`). The values of data statements are written in by the driver's
own client-side quoting (`mogrify`), exactly as it would send them had it bound them itself."""

from __future__ import annotations

from typing import Any


class BatchDriver:
    """One driver connection, used for whole changesets at a time."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.before = False

    def idle(self) -> bool:
        """No transaction is open on the connection."""
        raise NotImplementedError

    def literal(self, sql: str, params: Any) -> str:
        """`sql` (in the driver's placeholder style) with `params` written in."""
        raise NotImplementedError

    def send(self, text: str) -> list[tuple[Any, ...]]:
        """Run `text` (statements separated by semicolons); the rows of its last statement."""
        cursor = self.raw.cursor()
        try:
            cursor.execute(text)
            return self._last_rows(cursor)
        finally:
            cursor.close()

    def _last_rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def begin(self) -> None:
        """From here the driver opens no transaction by itself: the text sent says BEGIN,
        and COMMIT (or `settle`'s ROLLBACK) ends it."""
        self.before = self.raw.autocommit
        self.raw.autocommit = True

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
            self.raw.autocommit = self.before
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


_DRIVERS: dict[str, type[BatchDriver]] = {"psycopg": _Psycopg, "psycopg2": _Psycopg2}


def batch_driver(conn: Any) -> BatchDriver | None:
    """The batching view of the driver connection under SQLAlchemy connection `conn`, or
    None where its driver is not one that takes several statements in one call."""
    kind = _DRIVERS.get(conn.dialect.driver)
    if kind is None:
        return None
    return kind(conn.connection.dbapi_connection)
