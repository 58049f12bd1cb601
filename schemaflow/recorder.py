"""The version table: the only code that creates, reads, writes and deletes its rows.

Read-only commands (`current`, `status`, `validate --db`) read it through the database's
driver alone when the URL means the same to the driver as to SQLAlchemy (each dialect says
so in `read_versions`): importing SQLAlchemy costs more than the rest of such a command on a
long history. Everything else goes through SQLAlchemy. Both readers return the same rows.
Rows are seen through the graph: the rows of a squashed range count as its replacement.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from . import __version__
from .cache import checksum
from .config import normal_url
from .dialects import for_url
from .dialects.versions import next_exec_order
from .errors import Diagnostic, DriftError
from .runner import RowWriter

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

    from .graph import Graph
    from .ir import Changeset
    from .journal import Interrupted, Journal

class AppliedRow(NamedTuple):
    """One row of the version table (a named tuple: 10,000 of them build in milliseconds)."""

    id: str
    checksum: str
    message: str | None
    applied_at: dt.datetime | None
    execution_ms: int | None
    applied_by: str | None
    schemaflow_version: str | None
    exec_order: int


def version_table(name: str, schema: str | None) -> sa.Table:
    """The version table's definition (the contract's columns)."""
    import sqlalchemy as sa

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


def read_rows(url: str, table: str, schema: str | None, *,
              timeout: float) -> list[AppliedRow] | None:
    """The version rows in applied order through the driver alone ([] when the table is
    missing), or None when this URL is left to SQLAlchemy."""
    found = read_all(url, table, schema, timeout=timeout)
    return None if found is None else found[0]


def read_all(url: str, table: str, schema: str | None, *,
             timeout: float) -> tuple[list[AppliedRow], list[Interrupted]] | None:
    """`read_rows`, and the changesets the journal lists as interrupted."""
    from .journal import interrupted

    url = normal_url(url)
    dialect = for_url(url)
    raw = dialect.read_versions(url, table, schema, timeout) if dialect else None
    if raw is None:
        return None
    # One tuple per row, built in C (tuple.__new__): 10,000 rows are read for every listing.
    # The times parsed in one C loop when every one is ISO text (SQLite's), else row by row.
    return applied_rows(raw[0]), interrupted(raw[1])


def applied_rows(rows: Sequence[Sequence[Any]]) -> list[AppliedRow]:
    """Version rows as a driver gives them (the table's columns in order, applied_at as the
    driver reads it) → AppliedRow: one tuple per row, built in C (tuple.__new__; 10,000 rows
    are read for every listing and under apply's lock), the times parsed in one C loop when
    every one is ISO text (SQLite's), else row by row."""
    new = tuple.__new__
    try:
        times: list[dt.datetime | None] = list(map(dt.datetime.fromisoformat,
                                                   [r[3] for r in rows]))
    except (TypeError, ValueError):
        times = [applied_time(r[3]) for r in rows]
    return [new(AppliedRow, (r[0], r[1], r[2], t, *r[4:])) for r, t in zip(rows, times,
                                                                           strict=True)]


def applied_time(value: object) -> dt.datetime | None:
    """A row's applied_at as a date-time; None when it cannot be read as one (a value
    written by hand, MySQL's zero date): it is only shown, so the row stays usable."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def listing_notices(rows: Sequence[AppliedRow], g: Graph, folder: str) -> list[str]:
    """What a listing of applied changesets cannot show: applied changesets whose files are
    missing, rows whose applied_at could not be read."""
    def some(ids: list[str]) -> str:
        return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")

    notices = []
    known = g.by_id.keys()
    missing = [r.id for r in rows if r.id not in known]
    if missing:
        notices.append(f"applied but missing from {folder}: {some(missing)} (SF021; see "
                       "schemaflow validate --db)")
    unreadable = [r.id for r in rows if r.applied_at is None]
    if unreadable:
        notices.append(f"the version table's applied_at of {some(unreadable)} is not a "
                       "date-time; shown as unknown (the rows are otherwise used as they are)")
    return notices


@functools.cache
def applied_by() -> str:
    """`user@host` of this process (looked up once: it does not change while it runs)."""
    import getpass  # here: the listings, which read the version table, never write a row
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"[:255]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Recorder:
    """The version table on one SQLAlchemy connection."""

    def __init__(self, conn: Connection, table: str, schema: str | None) -> None:
        self.conn = conn
        self.table = version_table(table, schema)

    def exists(self) -> bool:
        """Whether the version table exists (leaves no transaction open)."""
        import sqlalchemy as sa

        from .dialects.connect import end_read

        found = bool(sa.inspect(self.conn).has_table(self.table.name, schema=self.table.schema))
        end_read(self.conn)
        return found

    def ensure(self) -> None:
        """Create the version table if it is missing (in its own transaction)."""
        from .dialects.connect import transaction

        with transaction(self.conn):
            self.table.create(self.conn, checkfirst=True)

    def rows(self) -> list[AppliedRow]:
        """Every version row, in the order they were applied (none without the table)."""
        return self.read() if self.exists() else []

    def read(self) -> list[AppliedRow]:
        """Every version row, in the order they were applied (the table exists)."""
        import sqlalchemy as sa

        vt = self.table
        # applied_at as the driver gives it: SQLAlchemy's own parsing fails on a bad value.
        columns = [sa.type_coerce(c, sa.String()).label(c.name) if c.name == "applied_at"
                   else c for c in vt.c]
        from .dialects.connect import end_read

        # The table's columns are AppliedRow's fields, in order, and none has a result
        # type SQLAlchemy converts (applied_at is read as the driver gives it): the rows are
        # taken from the driver's cursor, without a SQLAlchemy Row built for each of them.
        result = self.conn.execute(sa.select(*columns).order_by(vt.c.exec_order))
        try:
            raw = result.cursor.fetchall()
        finally:
            result.close()
        end_read(self.conn)
        return applied_rows(raw)

    def applied_ids(self) -> tuple[set[str], int]:
        """(every applied id, the next exec_order): one read, in the caller's transaction."""
        import sqlalchemy as sa

        vt = self.table
        rows = self.conn.execute(sa.select(vt.c.id, vt.c.exec_order)).all()
        return {r[0] for r in rows}, next_exec_order((r[1] for r in rows), vt.fullname)

    def next_order(self) -> int:
        """The exec_order for the next row."""
        import sqlalchemy as sa

        current = self.conn.execute(sa.select(sa.func.max(self.table.c.exec_order))).scalar()
        return next_exec_order((current,), self.table.fullname)

    def stamp(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Record many changesets (id, checksum, message) as applied without running them:
        one statement, consecutive exec_order."""
        if not rows:
            return
        first = self.next_order()
        now = _now()
        self.conn.execute(self.table.insert(), [
            {"id": cid, "checksum": checksum_, "message": message[:10000], "applied_at": now,
             "execution_ms": 0, "applied_by": applied_by(), "schemaflow_version": __version__,
             "exec_order": first + i} for i, (cid, checksum_, message) in enumerate(rows)])

    def delete(self, ids: Sequence[str]) -> None:
        """Forget changesets."""
        self.conn.execute(self.table.delete().where(self.table.c.id.in_(tuple(ids))))

    def purge(self) -> None:
        """Forget every changeset."""
        self.conn.execute(self.table.delete())

    def set_checksum(self, cid: str, value: str) -> None:
        """Store a changeset's new checksum (an intended edit, accepted)."""
        vt = self.table
        self.conn.execute(vt.update().where(vt.c.id == cid).values(checksum=value))

    @functools.cached_property
    def journal(self) -> Journal:
        """The changeset journal beside the version table (see journal.py)."""
        from .journal import Journal

        return Journal(self.conn, self.table)

    def run_writer(self) -> RunWriter:
        """The compiled row statements for a run of many changesets."""
        return RunWriter(self.conn, self.table)


class RunWriter(RowWriter):
    """The version-row INSERT and DELETE of one run: compiled once by SQLAlchemy for the
    connection's dialect (quoting, placeholders, bind casts, value conversion), then sent
    on the driver's cursor. A run writes a row per changeset, and SQLAlchemy's per-statement
    work showed at a thousand of them."""

    def __init__(self, conn: Connection, vt: sa.Table) -> None:
        self.conn, self.vt = conn, vt
        dialect = conn.dialect
        self.processors = {c.key: c.type.bind_processor(dialect) for c in vt.c}
        self.insert_row = self._compiled(vt.insert(), [c.key for c in vt.c])
        self.deletes: dict[int, tuple[str, list[str] | None]] = {}
        self.selects: dict[int, tuple[str, list[str] | None]] = {}

    def _compiled(self, stmt: Any, keys: list[str] | None = None) -> tuple[str, list[str] | None]:
        compiled: Any = stmt.compile(dialect=self.conn.dialect, column_keys=keys)
        names = list(compiled.positiontup) if self.conn.dialect.positional else None
        return compiled.string, names

    def _run(self, sql: tuple[str, Any]) -> list[Any]:
        from .dialects.connect import driver_cursor

        with driver_cursor(self.conn) as cursor:
            cursor.execute(*sql)
            return list(cursor.fetchall()) if cursor.description else []

    def _by_ids(self, cache: dict[int, tuple[str, list[str] | None]], stmt: Callable[[], Any],
                ids: tuple[str, ...]) -> tuple[str, Any]:
        """`stmt()` (given the IN list of `ids`), built and compiled once per number of ids
        (a run asks once per changeset), and its parameters."""
        import sqlalchemy as sa

        sql = cache.get(len(ids))
        if sql is None:
            binds = [sa.bindparam(f"id_{i}", type_=self.vt.c.id.type) for i in range(len(ids))]
            sql = cache[len(ids)] = self._compiled(stmt().where(self.vt.c.id.in_(binds)))
        convert = self.processors["id"]
        return self._params(sql, {f"id_{i}": convert(v) if convert else v
                                  for i, v in enumerate(ids)})

    def insert_sql(self, *, cid: str, checksum: str, message: str, execution_ms: int,
                   order: int) -> tuple[str, Any]:
        """The statement that records a changeset as applied, and its parameters."""
        values = self.row_values(cid=cid, checksum=checksum, message=message,
                                 execution_ms=execution_ms, order=order)
        for key, convert in self.processors.items():
            if convert is not None:
                values[key] = convert(values[key])
        return self._params(self.insert_row, values)

    def insert(self, *, cid: str, checksum: str, message: str, execution_ms: int,
               order: int) -> None:
        """Record a changeset as applied."""
        self._run(self.insert_sql(cid=cid, checksum=checksum, message=message,
                                  execution_ms=execution_ms, order=order))

    def delete_sql(self, ids: tuple[str, ...]) -> tuple[str, Any]:
        """The statement that forgets changesets, and its parameters."""
        return self._by_ids(self.deletes, self.vt.delete, ids)

    def delete(self, ids: tuple[str, ...]) -> None:
        """Forget changesets (after rolling them back)."""
        self._run(self.delete_sql(ids))

    def present_sql(self, ids: tuple[str, ...]) -> tuple[str, Any]:
        """The query of which of `ids` the version table lists, and its parameters."""
        import sqlalchemy as sa

        return self._by_ids(self.selects, lambda: sa.select(self.vt.c.id), ids)

    def present(self, ids: tuple[str, ...]) -> set[str]:
        """Which of `ids` the version table lists (in the caller's transaction)."""
        return {r[0] for r in self._run(self.present_sql(ids))}


def script_rows(vt: sa.Table, *, cid: str, checksum_: str, message: str, order: int,
                rollback_ids: Sequence[str] | None = None) -> Any:
    """The INSERT (or, for a rollback, the DELETE) of an offline script."""
    if rollback_ids is not None:
        return vt.delete().where(vt.c.id.in_(tuple(rollback_ids)))
    from .dialects.ddl import UtcNow

    # The time the script runs, computed there: the script itself holds no time.
    return vt.insert().values(id=cid, checksum=checksum_, message=message, applied_at=UtcNow(),
                              execution_ms=0, applied_by="schemaflow --sql",
                              schemaflow_version=__version__, exec_order=order)


# --- rows as the graph sees them ---------------------------------------------------------------


def effective(rows: list[AppliedRow], g: Graph) -> list[AppliedRow]:
    """Rows as the graph sees them: the rows of a squashed range count as its replacement."""
    if not g.replaced_by:
        return rows
    by_id = {r.id: r for r in rows}
    out = [r for r in rows if r.id not in g.replaced_by]
    for new in sorted(set(g.replaced_by.values())):
        olds = g[new].replaces
        have = [by_id[o] for o in olds if o in by_id]
        if not have or new in by_id:
            continue
        if len(have) < len(olds):
            missing = ", ".join(o for o in olds if o not in by_id)
            raise DriftError(
                f"the database applied only part of the changesets squashed into {new} "
                f"(not {missing})",
                hint="check out the original changesets (from version control), apply up "
                     "to the end of the squashed range, then return to this history")
        last = max(have, key=lambda r: r.exec_order)
        out.append(last._replace(id=new, checksum=checksum(g[new]), message=g[new].message))
    return sorted(out, key=lambda r: r.exec_order)


def _same_checksum(recorded: str, cs: Changeset) -> bool:
    """`ir.same_checksum` (imported only when a checksum differs: see `checksum`)."""
    from .ir import same_checksum

    return same_checksum(recorded, cs)


def drift(rows: Sequence[AppliedRow], g: Graph, folder: str) -> list[Diagnostic]:
    """Applied changesets that are missing from the folder or were edited since (their
    checksums as the graph knows them: a cached graph revives no changeset for this)."""
    from .cache import checksums, summary

    known = g.by_id.keys()  # a cached graph's own view: no Python call per row
    diags = [Diagnostic(
        code="SF021", changeset=r.id,
        message=f"changeset {r.id} is applied to the database but its file is not in {folder}",
        hint="restore the file (from version control); if it was removed on purpose, "
             "roll the database back first or run: schemaflow stamp <target> --purge")
        for r in rows if r.id not in known]
    applied = {r.id for r in rows}
    # With the whole history applied, nothing applied lacks what it builds on; nor when
    # everything the applied changesets build on is applied (one set built in C: the rows
    # are looked through one by one only to name the culprits).
    every = g.all_parents
    consistent = applied.issuperset(g.order) or set(itertools.chain.from_iterable(
        map(every.__getitem__, applied & every.keys()))) <= applied
    for r in () if consistent else rows:
        missing = [p for p in g.all_parents.get(r.id, ()) if p not in applied]
        if missing:
            diags.append(Diagnostic(
                code="SF023", changeset=r.id, file=g[r.id].path, line=1,
                message=f"changeset {r.id} is applied, but {', '.join(missing)}, which it "
                        "builds on, is not: the version table is inconsistent",
                hint="find out which of them are in effect; then `schemaflow stamp TARGET` "
                     "records exactly the changesets up to TARGET (and forgets the rest)"))
    sums = checksums(g.by_id) or {r.id: summary(g.by_id, r.id)[1] for r in rows if r.id in known}
    for r in rows:
        if r.id in known and r.checksum != sums[r.id] and not _same_checksum(
                r.checksum, g[r.id]):
            diags.append(Diagnostic(
                code="SF020", changeset=r.id, file=g[r.id].path, line=1,
                message=f"changeset {r.id} was edited after it was applied "
                        f"(applied {r.applied_at:%Y-%m-%d %H:%M} UTC)"
                if r.applied_at else f"changeset {r.id} was edited after it was applied",
                hint="revert the edit and put the change in a new changeset, or accept it "
                     f"with: schemaflow rehash {r.id}"))
    return diags


def check_drift(rows: Sequence[AppliedRow], g: Graph, folder: str) -> None:
    """Raise DriftError when applied changesets were edited or are missing."""
    diags = drift(rows, g, folder)
    if diags:
        ids = ", ".join(f"{d.changeset}" + (f" ({d.file})" if d.file else "") for d in diags)
        kinds = {d.code for d in diags}
        what = ("were edited after they were applied" if kinds == {"SF020"} else
                "are missing from the changesets folder" if kinds == {"SF021"} else
                "are applied without what they build on" if kinds == {"SF023"} else
                "were edited, are missing, or are applied without what they build on")
        raise DriftError(f"applied changesets {what}: {ids}",
                         hint=" / ".join(dict.fromkeys(d.hint or "" for d in diags)))
