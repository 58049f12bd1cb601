"""The changeset journal: the progress of a changeset that cannot run in one transaction.

On a database without transactional DDL (MySQL, MariaDB), and for a `transactional: false`
changeset anywhere, the statements of a changeset commit one by one. The journal, a table
beside the version table (`<version_table>_journal`, created when a run first needs it and
dropped when a run finishes with nothing left in it), records such a changeset as started
(with its statement count and checksum), then each statement as done: in the same
transaction as the statement wherever the statement commits with a transaction (data
statements everywhere, DDL where it is transactional), else just after it. The version
row is written and the journal rows deleted in one transaction at the end. The version
table keeps its meaning: one row per applied changeset; a started changeset is listed only
here.

After a crash the next run finds the journal rows and resumes (see `resume`). Like the
version table, only the recorder layer (this module and `recorder`) writes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

SUFFIX = "_journal"
# The columns the driver-level readers select, in this order (the statement hashes are
# left to the full path: listings do not need them).
COLUMNS = ("id", "direction", "step", "statements", "checksum", "recorded_at", "run_by")


def _end_read(conn: Connection) -> None:
    # Imported here: the driver-level readers import this module without SQLAlchemy.
    from .dialects.connect import end_read

    end_read(conn)


def _transaction(conn: Connection) -> AbstractContextManager[None]:
    from .dialects.connect import transaction

    return transaction(conn)


def journal_name(version_table: str) -> str:
    """The journal's table name for a version table."""
    return version_table + SUFFIX


def journal_table(vt: sa.Table) -> sa.Table:
    """The journal's definition: a row per started changeset (`step` 0) and per statement
    done (`step` N, its 1-based number, with a hash of its SQL)."""
    import sqlalchemy as sa

    return sa.Table(
        journal_name(vt.name), sa.MetaData(),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("step", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("run_by", sa.String(255)),
        sa.Column("sql_hash", sa.String(64)),
        schema=vt.schema,
    )


class Interrupted(NamedTuple):
    """A changeset the journal lists: started by a run that did not finish it."""

    id: str
    direction: str  # "apply" or "rollback"
    statements: int  # how many it had when it started
    done: int  # statements recorded done: always the first `done` of them
    checksum: str
    started_at: dt.datetime | None
    run_by: str | None
    hashes: tuple[str | None, ...] = ()  # of the statements done, in order (full path only)

    def describe(self) -> str:
        """One line for listings and messages."""
        verb = "apply" if self.direction == "apply" else "rollback"
        when = f" on {self.started_at:%Y-%m-%d %H:%M} UTC" if isinstance(
            self.started_at, dt.datetime) else ""
        who = f" by {self.run_by}" if self.run_by else ""
        return (f"the {verb} of changeset {self.id} was interrupted (started{when}{who}) "
                f"after {self.done} of its {self.statements} statements (as the journal "
                "records)")


def interrupted(rows: Iterable[Sequence[Any]]) -> list[Interrupted]:
    """Journal rows (in `COLUMNS` order, optionally followed by sql_hash) → one entry per
    changeset, its done statements counted up to the first gap."""
    by_id: dict[str, list[Sequence[Any]]] = {}
    for r in rows:
        by_id.setdefault(str(r[0]), []).append(r)
    out = []
    for cid, group in sorted(by_id.items()):
        group.sort(key=lambda r: int(r[2]))
        head = group[0]
        steps = {int(r[2]): (r[7] if len(r) > 7 else None) for r in group}
        done = 0
        while done + 1 in steps:
            done += 1
        started = head[5]
        if isinstance(started, str):
            try:
                started = dt.datetime.fromisoformat(started)
            except ValueError:
                started = None
        out.append(Interrupted(cid, str(head[1]), int(head[3]), done, str(head[4]), started,
                               head[6], tuple(steps[i] for i in range(1, done + 1))))
    return out


def statement_hash(sql: str) -> str:
    """What identifies a statement's text (so that a resumed run skips only what ran)."""
    return hashlib.sha256(sql.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Journal:
    """The journal on one SQLAlchemy connection; every method runs in the caller's
    transaction."""

    def __init__(self, conn: Connection, vt: sa.Table) -> None:
        self.conn = conn
        self.table = journal_table(vt)
        self._exists: bool | None = None

    def exists(self) -> bool:
        """Whether the journal table exists (looked up once per run: only this run, under
        the lock, creates it)."""
        if self._exists is None:
            import sqlalchemy as sa

            began = not self.conn.in_transaction()
            self._exists = bool(sa.inspect(self.conn).has_table(
                self.table.name, schema=self.table.schema))
            if began:
                _end_read(self.conn)  # the one the lookup began, never the caller's
        return self._exists

    def ensure(self) -> None:
        """Create the journal table if it is missing (in its own transaction)."""
        if not self.exists():
            with _transaction(self.conn):
                self.table.create(self.conn, checkfirst=True)
            self._exists = True

    def read(self) -> list[Interrupted]:
        """Every changeset the journal lists (none without the table)."""
        import sqlalchemy as sa

        if not self.exists():
            return []
        t = self.table
        began = not self.conn.in_transaction()
        query = sa.select(*(t.c[c] for c in COLUMNS), t.c.sql_hash)
        try:
            rows = self.conn.execute(query).all()
        except sa.exc.DBAPIError:
            # Read without the lock: a run dropped the table meanwhile (it was empty), or
            # created it after this transaction's snapshot (MySQL: "table definition has
            # changed"). A new transaction sees which.
            if not began:
                raise
            self.conn.rollback()
            self._exists = None
            if not self.exists():
                return []
            rows = self.conn.execute(query).all()
        if began:
            _end_read(self.conn)
        return interrupted(rows)

    def _row(self, cid: str, step: int, direction: str, statements: int, checksum: str,
             sql_hash: str | None) -> None:
        from . import recorder

        self.conn.execute(self.table.insert().values(
            id=cid, step=step, direction=direction, statements=statements, checksum=checksum,
            recorded_at=_now(), run_by=recorder.applied_by(), sql_hash=sql_hash))

    def start(self, cid: str, direction: str, statements: int, checksum: str) -> None:
        """Record a changeset as started (forgetting any earlier attempt)."""
        self.clear(cid)
        self._row(cid, 0, direction, statements, checksum, None)

    def done(self, cid: str, step: int, direction: str, statements: int, checksum: str,
             sql: str) -> None:
        """Record statement `step` (1-based) of a changeset as done."""
        self._row(cid, step, direction, statements, checksum, statement_hash(sql))

    def clear(self, cid: str) -> None:
        """Forget a changeset's progress (it finished, or is recorded by other means)."""
        if self.exists():
            self.conn.execute(self.table.delete().where(self.table.c.id == cid))

    def drop_if_empty(self) -> None:
        """Drop the journal table when it lists nothing (after a run that finished): it
        exists only while a run is under way or a changeset is left interrupted."""
        import sqlalchemy as sa

        if not self.exists() or self.conn.execute(
                sa.select(sa.func.count()).select_from(self.table)).scalar():
            _end_read(self.conn)
            return
        _end_read(self.conn)
        with _transaction(self.conn):
            self.table.drop(self.conn, checkfirst=True)
        self._exists = False

    def clear_all(self) -> None:
        """Forget every changeset's progress (`stamp` sets the version table as it is)."""
        if self.exists():
            self.conn.execute(self.table.delete())
