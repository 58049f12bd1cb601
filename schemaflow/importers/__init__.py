"""Other tools' histories (Alembic) turned into changesets, and what those tools' own tables
say is applied. `alembic` needs Alembic installed (`schemaflow[alembic]`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import ir
from ..config import Settings
from ..errors import Diagnostic, StateError, UsageError, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..graph import Graph
    from ..history import History
    from ..state import SchemaState


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


# An object's repr with its address (`<... object at 0x7f2b23472210>`): a note that kept
# it would change on every import of the same history.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def clipped(text: str, limit: int) -> str:
    """`text` on one line, cut after at most `limit` characters at a word boundary, with an
    ellipsis (a first word longer than `limit` is kept whole); no object's address."""
    text = " ".join(_ADDRESS.sub(">", text).split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    if cut <= 0:
        cut = text.find(" ", limit)
    return text if cut < 0 else text[:cut] + "..."


# What marks a note an import leaves where it could not translate: `validate` shows each
# (SF016), and apply and rollback refuse to run a changeset that still holds one.
TODO_MARK = "TODO(schemaflow import)"
NOTE_HINT = ("translate it into operations or SQL and delete the note (delete it alone where "
             "nothing needs doing); `lint: {ignore: [SF016]}` in the changeset runs it as it is")


def import_notes(cs: ir.Changeset, *, rollback: bool
                 ) -> Iterator[tuple[str, int, ir.Sql, str]]:
    """The notes `cs` holds that an import left for a hand: (where: operations or rollback,
    the index there, the operation, what the note says), in its operations (with `rollback`,
    in its explicit rollback too)."""
    mark = "-- " + TODO_MARK
    parts = [("operations", cs.operations)]
    if rollback:
        parts.append(("rollback", cs.rollback or ()))
    for part, ops in parts:
        for i, op in enumerate(ops):
            if isinstance(op, ir.Sql):
                text = next((s for s in (*op.up, *(op.down or ())) if mark in s), None)
                if text is not None:
                    yield part, i, op, " ".join(
                        text[text.index(mark) + len(mark):].split()).lstrip(": ")


def _may_hold_note(cs: ir.Changeset) -> bool:
    """Whether `cs` may hold a note, without decoding a cached body whose bytes (plain data,
    its strings as written) do not hold the mark: a rollback of a thousand changesets does
    not decode every body for the few notes."""
    deferred = cs.deferred
    data = getattr(deferred, "data", None) if deferred is not None else None
    return not (isinstance(data, bytes) and data) or TODO_MARK.encode() in data


def unfinished(history: History, ids: Iterable[str], direction: str) -> None:
    """Refuse to run changesets that hold a note an import left for a hand (unless they
    ignore SF016), each note a finding at its place: run, it would do nothing, and the
    database would not be what the history it was imported from builds. `direction`: apply
    runs the operations only (a note's `down` is the note again), rollback the explicit
    rollback too."""
    from ..history import position

    found = []
    for cid in ids:
        cs = history.graph[cid]
        if "SF016" in cs.lint_ignore or ("sql" not in cs.operation_kinds
                                         and direction == "apply") or not _may_hold_note(cs):
            continue
        for part, i, op, what in import_notes(cs, rollback=direction == "rollback"):
            file, line, col = position(history, cid, (part, i, op.kind))
            found.append(Diagnostic(
                code="SF016", message=f"a note the import left for a hand would run as "
                f"nothing ({direction}): {what}", hint=NOTE_HINT, file=file, line=line,
                col=col, changeset=cid))
    if found:
        raise ValidationFailed(found)


def note(text: str) -> ir.Sql:
    """A marked `sql` operation that does nothing and says what to do by hand."""
    lines = tuple(f"-- {' '.join(line.split())}" for line in text.splitlines() if line.strip())
    return ir.Sql(up=lines, down=lines)


def explicit_rollback(up: list[ir.Operation], down: list[ir.Operation], before: SchemaState,
                      after: SchemaState) -> tuple[ir.Operation, ...] | None:
    """The explicit rollback to write: None where the given one (`down`) is empty or does
    what the automatic inverse does."""
    from ..reverse import Irreversible, reverse_changeset
    from ..state import apply_all

    if not down:
        return None
    if any(isinstance(op, (ir.Sql, ir.InsertRows, ir.DeleteRows)) for op in down):
        return tuple(down)
    try:
        auto = reverse_changeset(up, before)
        if apply_all(after, down).tables == apply_all(after, auto).tables:
            return None
    except (Irreversible, StateError):
        pass
    return tuple(down)


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


def _liquibase_rows(conn: Connection, table: str) -> list[str]:
    """`filename::id::author` of each changeSet DATABASECHANGELOG lists as run, in the order
    they ran (failed ones left out)."""
    import sqlalchemy as sa

    # Column names are case-insensitive on every supported database (and lower case where
    # the case is kept: PostgreSQL folds Liquibase's unquoted names).
    t = sa.table(table, *(sa.column(c) for c in (
        "id", "author", "filename", "orderexecuted", "exectype")))
    cols = list(t.c)
    out = []
    for cs_id, author, file, _, kind in conn.execute(sa.select(*cols).order_by(cols[3])):
        if str(kind).upper() != "FAILED":
            out.append(f"{file}::{cs_id}::{author}")
    return out


def _liquibase_ids(row: str) -> tuple[str, ...]:
    """The changeset ids a DATABASECHANGELOG row may have: its filename, then each shorter
    tail of it (Liquibase records the path it was given, which may start higher up than
    the folder of the changelog that was imported)."""
    from .liquibase import liquibase_id, normal_file

    file, cs_id, author = row.split("::", 1)[0], *row.split("::", 1)[1].rsplit("::", 1)
    parts = normal_file(file).split("/")
    return tuple(liquibase_id(cs_id, author, "/".join(parts[i:])) for i in range(len(parts)))


def _one(to_id: Callable[[str], str]) -> Callable[[str], tuple[str, ...]]:
    return lambda row: (to_id(row),)


def _plain(read: Callable[[Connection], list[str]]) -> Callable[[Connection, str], list[str]]:
    return lambda conn, _table: read(conn)


# Each tool: its table of what it applied, how to read it (given the table's name as the
# database spells it), and the changeset ids an entry may have.
TOOLS: dict[str, tuple[str, Callable[[Connection, str], list[str]],
                       Callable[[str], tuple[str, ...]]]] = {
    "alembic": ("alembic_version", _plain(_alembic_rows), _one(changeset_id)),
    "flyway": ("flyway_schema_history", _plain(_flyway_rows), _one(flyway_id)),
    "liquibase": ("databasechangelog", _liquibase_rows, _liquibase_ids),
}


def _table(conn: Connection, name: str) -> str | None:
    """`name` as the database spells it (Liquibase's DATABASECHANGELOG is upper case where
    the database keeps case), or None when there is no such table."""
    import sqlalchemy as sa

    inspector = sa.inspect(conn)
    if inspector.has_table(name):
        return name
    upper = name.upper()
    return upper if upper in inspector.get_table_names() else None


def naming_convention(settings: Settings) -> dict[str, Any] | None:
    """The naming convention of the configured models' MetaData (None: no models, or none):
    Alembic applies `target_metadata`'s to the names of the constraints its operations
    make and drop (env.py, which the import does not run, sets it)."""
    if not settings.models:
        return None
    from ..models import load_metadata

    convention = dict(load_metadata(settings.models, settings.root).naming_convention)
    from sqlalchemy.sql.schema import DEFAULT_NAMING_CONVENTION

    return None if convention == dict(DEFAULT_NAMING_CONVENTION) else convention


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
    elif tool == "liquibase":
        from .liquibase import import_liquibase

        imported = import_liquibase(path)
    else:
        from .alembic import import_alembic

        imported = import_alembic(path, naming_convention(settings))
    paths: list[Path] = []
    try:
        for cs, comment in imported.changesets:
            paths.append(write_changeset(settings, cs, None, notify, comment))
    except BaseException:  # a file that cannot be written: none of the import stays
        for written in paths:
            written.unlink(missing_ok=True)
        raise
    # The same part is found once per database the revision was run for: listed once.
    return paths, list(dict.fromkeys(imported.findings))


def managed_by(conn: Connection) -> tuple[str, list[str]] | None:
    """(tool, what its table lists as applied) for a database another tool migrates."""
    for tool, (table, read, _) in TOOLS.items():
        name = _table(conn, table)
        if name:
            rows = read(conn, name)
            conn.rollback()
            if rows:
                return tool, rows
    return None


def applied_by_tool(conn: Connection, tool: str, g: Graph) -> list[str]:
    """The changesets `tool`'s table says are applied (their ancestors are implied)."""
    table, read, to_ids = TOOLS[tool]
    name = _table(conn, table)
    rows = read(conn, name) if name else []
    conn.rollback()
    if not rows:
        raise UsageError(f"the database has no {table} table with rows: {tool} has applied "
                         "nothing here")
    ids = []
    for row in rows:
        found = [i for i in to_ids(row) if i in g.by_id]
        if not found:
            raise UsageError(f"{name} lists {row}, which no changeset has (id "
                             f"{to_ids(row)[0]})",
                             hint=f"import the history first: schemaflow import {tool} PATH")
        ids.append(found[0])
    return ids
