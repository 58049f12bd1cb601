"""`import alembic`, `import flyway`, `import liquibase`: changesets from another tool's
history; exit 1 when parts need a hand."""

# Annotations evaluated where they are written (no `from __future__ import annotations`):
# typer reads every command's signature, and postponed ones it would compile from text
# each time, ~20% of `schemaflow --help` (see cli/__init__.py).

from pathlib import Path
from typing import Annotated

import typer

from .app import app, consoles, handled, open_project

import_app = typer.Typer(help="Write changesets from another tool's history (ids kept).",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(import_app, name="import")


@import_app.command("alembic")
@handled
def alembic(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="alembic.ini, a pyproject.toml with "
                                         "[tool.alembic], or the script directory.")]
    = Path("."),
) -> None:
    """One changeset per Alembic revision, into the (empty) changesets folder."""
    _import(ctx, "alembic", path, "Alembic revisions")


@import_app.command("liquibase")
@handled
def liquibase(
    ctx: typer.Context,
    changelog: Annotated[Path, typer.Argument(help="The root changelog (XML, YAML, JSON or "
                                              "formatted SQL); includes are followed.")],
) -> None:
    """One changeset per Liquibase changeSet, in changelog order."""
    _import(ctx, "liquibase", changelog, "Liquibase changeSets")


@import_app.command("flyway")
@handled
def flyway(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The folder of V<version>__<description>.sql "
                                           "scripts (and U... undo scripts).")],
) -> None:
    """One changeset per versioned Flyway script, in version order."""
    _import(ctx, "flyway", folder, "Flyway migrations")


def _import(ctx: typer.Context, tool: str, path: Path, what: str) -> None:
    from .output.plain import escape

    _, err = consoles(ctx)
    paths, findings = open_project(ctx).import_history(tool, path)
    folder = paths[0].parent if paths else "the changesets folder"
    noun = what[:-1] if len(paths) == 1 else what  # "1 Alembic revision"
    err.print(f"imported {len(paths)} {noun} into {escape(str(folder))}")
    if not findings:
        return
    needs = "1 part needs" if len(findings) == 1 else f"{len(findings)} parts need"
    err.print(f"{needs} a hand (marked TODO(schemaflow import) or written as SQL in the "
              "changesets):")
    for f in findings:
        where = f" {f.direction}()" if f.direction in ("upgrade", "downgrade") else (
            f" {f.direction}" if f.direction else "")
        err.print(escape(f"  {f.revision} ({f.file}){where}: {f.message}"))
    from ..importers import TODO_MARK

    if any(TODO_MARK in p.read_text(encoding="utf-8", errors="replace") for p in paths):
        err.print("apply and rollback refuse to run a changeset that still holds a TODO "
                  "note (SF016): translate each, or delete it where nothing needs doing")
    raise typer.Exit(1)
