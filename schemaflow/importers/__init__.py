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


# Each tool's table of what it applied, and the column holding the revision.
VERSION_TABLES = {"alembic": ("alembic_version", "version_num")}


def import_history(settings: Settings, tool: str, path: Path,
                   notify: Callable[[str], None]) -> tuple[list[Path], list[Finding]]:
    """Write one changeset per revision of `tool`'s history at `path` into the (empty)
    changesets folder: all of them or, on an error, none. Returns (paths, findings)."""
    from ..authoring import write_changeset
    from ..source import list_files

    if tool != "alembic":
        raise UsageError(f"importing from {tool} is not supported yet", hint="alembic")
    if list_files(settings.changesets):
        raise UsageError(f"{settings.changesets} already holds changesets: an imported history "
                         "starts a folder of its own",
                         hint="import into an empty folder (set `changesets` in the "
                              "configuration, or move the files away)")
    from .alembic import import_alembic

    imported = import_alembic(path)
    paths = [write_changeset(settings, cs, None, notify, comment)
             for cs, comment in imported.changesets]
    return paths, imported.findings


def managed_by(conn: Connection) -> tuple[str, list[str]] | None:
    """(tool, the revisions its table lists) for a database another tool migrates."""
    import sqlalchemy as sa

    inspector = sa.inspect(conn)
    for tool, (table, column) in VERSION_TABLES.items():
        if inspector.has_table(table):
            t = sa.table(table, sa.column(column))
            rows = [str(r[0]) for r in conn.execute(sa.select(t.c[column]))]
            conn.rollback()
            if rows:
                return tool, rows
    return None


def applied_by_tool(conn: Connection, tool: str, g: Graph) -> list[str]:
    """The changesets `tool`'s table says are applied (their ancestors are implied)."""
    found = managed_by(conn)
    if found is None or found[0] != tool:
        table = VERSION_TABLES[tool][0]
        raise UsageError(f"the database has no {table} table with rows: {tool} has applied "
                         "nothing here")
    missing = [r for r in found[1] if changeset_id(r) not in g.by_id]
    if missing:
        raise UsageError(f"{VERSION_TABLES[tool][0]} lists the revision {missing[0]}, which no "
                         f"changeset has (id {changeset_id(missing[0])})",
                         hint=f"import the history first: schemaflow import {tool} PATH")
    return [changeset_id(r) for r in found[1]]
