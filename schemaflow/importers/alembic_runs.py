"""Comparing a revision's runs with each other: each database's offline run with the
scratch database's (a revision that asks the database, then branches), MariaDB's with
MySQL's (a `mysql` scope runs on MariaDB too), and the scratch database's indexes after a
batch with what the operations build (SQLite's batch recreates the table)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .. import ir
from . import clipped
from .alembic_run import Run, Runner, statements

if TYPE_CHECKING:
    from ..state import SchemaState
    from .alembic import _Revision
    from .alembic_merge import Item, Scope

MARIADB = "mariadb"  # the key of MariaDB's offline run (its SQLAlchemy dialect is MySQL's)


def mariadb() -> Any:
    """MariaDB's SQLAlchemy dialect, as a `mysql://` URL to a MariaDB server gives it
    (writing SQL that runs as written, as `alembic._databases`' do)."""
    from ..dialects import by_name
    from ..dialects.render import literal_dialect

    return literal_dialect(by_name("mariadb").sa_dialect())


def mariadb_apart(rev: _Revision, ops: list[ir.Operation], mysql: list[Item], maria: Run,
                   state: SchemaState, direction: str) -> list[ir.Operation]:
    """`ops` with a note after each `sql` that holds Alembic's SQL for MySQL where it
    writes other SQL for MariaDB (DROP CHECK, DROP CONSTRAINT): a `sql` scoped to mysql
    runs on MariaDB too, where that SQL fails."""
    kept = len(rev.findings)
    try:
        other = rev.items(maria, state, mariadb(), direction)
    finally:
        del rev.findings[kept:]  # (what the MariaDB run found, the MySQL run found)
    if len(other) != len(mysql):
        return ops
    apart = {statements(a.sql): "; ".join(statements(b.sql))
             for a, b in zip(mysql, other, strict=True)
             if a.sql.strip() and statements(a.sql) != statements(b.sql)}
    out: list[ir.Operation] = []
    for op in ops:
        out.append(op)
        if isinstance(op, ir.Sql) and op.dialects and "mysql" in op.dialects and (
                op.up in apart):
            what = (f"Alembic writes other SQL for MariaDB here "
                    f"({clipped(apart[op.up], 120)}); the `sql` before this note runs on "
                    "MariaDB too (`mysql` includes it): on a MariaDB server, write that "
                    "instead")
            out.append(replace(rev.todo(direction, what), dialects=op.dialects))
    return out


def branched(rev: _Revision, runs: dict[str, Run], online: Run, state: SchemaState,
              databases: list[tuple[str, Any, Scope]], direction: str) -> bool:
    """Whether a database's offline run, up to where it failed, did other operations
    than the scratch database's run did first (SQL and notes aside)."""
    def done(run: Run, dialect: Any) -> list[str]:
        return [it.key for it in rev.items(run, state, dialect, direction)
                if not any(isinstance(op, ir.Sql) for op in it.ops)]

    kept = len(rev.findings)
    try:
        here = done(online, databases[0][1])
        for name, dialect, _ in databases:
            there = done(runs[name], dialect)
            if there != here[:len(there)]:
                return True
        return False
    finally:
        del rev.findings[kept:]  # (what the runs compared found is not the revision's)


def batch_kept(rev: _Revision, runner: Runner, online: Run, before: SchemaState,
               state: SchemaState) -> list[ir.Operation]:
    """Notes for the indexes a table had before that a batch block kept on the scratch
    SQLite database and the operations drop: SQLite's batch recreates the table with
    every index whose columns exist after it (a column dropped and added again keeps
    its index), where a database that alters the table in place (PostgreSQL, MySQL)
    drops it with the column, as the operations here do."""
    if online.error:
        return []
    tables = {getattr(step.op, "table_name", None) for step in online.steps if step.batch}
    notes: list[ir.Operation] = []
    for name in sorted(t for t in tables if isinstance(t, str)):
        t, was = state.get(name, None), before.get(name, None)
        if t is None or was is None:
            continue
        have, had = {i.name for i in t.indexes}, {i.name for i in was.indexes}
        for index, columns in runner.indexes(name).items():
            if index in had and index not in have and all(
                    t.column(c) is not None for c in columns):
                notes.append(rev.todo("upgrade", (
                    f"on SQLite, Alembic's batch_alter_table keeps index {index} on "
                    f"{name}({', '.join(columns)}), whose columns exist again after it; "
                    "databases that alter the table in place drop it, as this changeset "
                    "does: add it with create_index if it should stay")))
    return notes
