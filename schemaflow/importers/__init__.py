"""Other tools' histories (Alembic) turned into changesets, and what those tools' own tables
say is applied. `alembic` needs Alembic installed (`schemaflow[alembic]`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import ir
from ..config import Settings
from ..errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..graph import Graph


class ImportFailed(UsageError):
    """A history that cannot be imported at all (nothing is written)."""


@dataclass(frozen=True)
class Finding:
    """A part of a revision that a hand must translate or check."""

    revision: str
    file: str
    direction: str  # upgrade or downgrade
    message: str


@dataclass
class Imported:
    """The changesets a history becomes (each with a comment for its file's top), and the
    findings listed at the end."""

    changesets: list[tuple[ir.Changeset, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def changeset_id(revision: str) -> str:
    """The changeset id of another tool's revision id: kept where valid, otherwise every
    character outside [A-Za-z0-9_] becomes `_` (Alembic's `v1.2.0.a` is `v1_2_0_a`)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", revision)[:64]


def flyway_id(version: str) -> str:
    """The changeset id of Flyway version `version` (`1.1` → `V1_1`)."""
    return changeset_id(f"V{version}")


def _alembic_rows(conn: Connection) -> list[str]:
    import sqlalchemy as sa

    t = sa.table("alembic_version", sa.column("version_num"))
    return [str(r[0]) for r in conn.execute(sa.select(t.c.version_num))]


def _flyway_rows(conn: Connection) -> list[str]:
    """The versions Flyway's history says are applied: run (or baselined) successfully and
    not undone or deleted since."""
    import sqlalchemy as sa

    t = sa.table("flyway_schema_history", *(sa.column(c) for c in (
        "installed_rank", "version", "type", "success")))
    applied: dict[str, None] = {}
    for version, kind, success in conn.execute(
            sa.select(t.c.version, t.c.type, t.c.success).order_by(t.c.installed_rank)):
        if version is None or not success:
            continue
        if str(kind).upper() in ("UNDO_SQL", "UNDO_JDBC", "UNDO_SCRIPT", "DELETE"):
            applied.pop(str(version), None)
        else:
            applied[str(version)] = None
    return list(applied)


# Each tool: its table of what it applied, how to read it, and the changeset id of an entry.
TOOLS: dict[str, tuple[str, Callable[[Connection], list[str]], Callable[[str], str]]] = {
    "alembic": ("alembic_version", _alembic_rows, changeset_id),
    "flyway": ("flyway_schema_history", _flyway_rows, flyway_id),
}


def import_history(settings: Settings, tool: str, path: Path,
                   notify: Callable[[str], None]) -> tuple[list[Path], list[Finding]]:
    """Write one changeset per revision of `tool`'s history at `path` into the (empty)
    changesets folder: all of them or, on an error, none. Returns (paths, findings)."""
    from ..authoring import write_changeset
    from ..source import list_files

    if tool not in TOOLS:
        raise UsageError(f"importing from {tool} is not supported yet",
                         hint=", ".join(TOOLS))
    if list_files(settings.changesets):
        raise UsageError(f"{settings.changesets} already holds changesets: an imported history "
                         "starts a folder of its own",
                         hint="import into an empty folder (set `changesets` in the "
                              "configuration, or move the files away)")
    if tool == "flyway":
        from .flyway import import_flyway

        imported = import_flyway(path)
    else:
        from .alembic import import_alembic

        imported = import_alembic(path)
    paths = [write_changeset(settings, cs, None, notify, comment)
             for cs, comment in imported.changesets]
    return paths, imported.findings


def managed_by(conn: Connection) -> tuple[str, list[str]] | None:
    """(tool, what its table lists as applied) for a database another tool migrates."""
    import sqlalchemy as sa

    inspector = sa.inspect(conn)
    for tool, (table, read, _) in TOOLS.items():
        if inspector.has_table(table):
            rows = read(conn)
            conn.rollback()
            if rows:
                return tool, rows
    return None


def applied_by_tool(conn: Connection, tool: str, g: Graph) -> list[str]:
    """The changesets `tool`'s table says are applied (their ancestors are implied)."""
    import sqlalchemy as sa

    table, read, to_id = TOOLS[tool]
    rows = read(conn) if sa.inspect(conn).has_table(table) else []
    conn.rollback()
    if not rows:
        raise UsageError(f"the database has no {table} table with rows: {tool} has applied "
                         "nothing here")
    missing = [r for r in rows if to_id(r) not in g.by_id]
    if missing:
        raise UsageError(f"{table} lists {missing[0]}, which no changeset has (id "
                         f"{to_id(missing[0])})",
                         hint=f"import the history first: schemaflow import {tool} PATH")
    return [to_id(r) for r in rows]
