"""Commands for CI: check (models against changesets) and validate (the linter)."""

# Annotations evaluated where they are written (no `from __future__ import annotations`):
# typer reads every command's signature, and postponed ones it would compile from text
# each time, ~20% of `schemaflow --help` (see cli/__init__.py).

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import Diagnostic, UsageError
from .app import DATABASES, FormatOpt, app, check_format, consoles, handled, open_project

if TYPE_CHECKING:
    from ..api import Project


@app.command()
@handled
def check(
    ctx: typer.Context,
    fmt: FormatOpt = "text",
    against_db: Annotated[bool, typer.Option(
        "--against-db", help="Compare the models with the live database instead.")] = False,
) -> None:
    """Exit 1 when the models differ from what the changesets build (for CI)."""
    from .output.operations import differences

    check_format(fmt)
    out, _ = consoles(ctx)
    result = open_project(ctx).compare(against_db=against_db)
    differences(out, fmt, result.operations, against_db)
    if result.operations:
        raise typer.Exit(1)


@app.command()
@handled
def validate(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Changeset files or folders: the projects they belong to are checked whole; "
        "warnings are shown for the files given.")]
    = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or github.")] = "text",
    db: Annotated[bool | None, typer.Option(
        "--db/--no-db", help="Also compare applied checksums with the database (default: when "
        "a URL is given by --url, the environment or the configuration).")] = None,
    dialect: Annotated[str | None, typer.Option(
        "--dialect", help=f"Check what this database can do: {DATABASES} (default: the "
        "URL's, when one is given).")] = None,
    server_version: Annotated[str | None, typer.Option(
        "--server-version", help="The server version to check against, e.g. 14 or 8.0.16.")]
    = None,
    fail_on: Annotated[str, typer.Option(
        "--fail-on", help="Exit 1 on errors only (default) or also on warnings.")] = "error",
    models: Annotated[bool, typer.Option(
        "--models", help="Import the configured models (running the project's code) to check "
        "that no changeset drops a column they still map (SF323).")] = False,
) -> None:
    """Lint the changesets: syntax, schema, history, references, rollbacks, checksums.

    Given files or folders (as pre-commit passes them), each is checked with the project
    found from its own folder upwards (a folder without one: every project below it), and
    the whole history of that project is checked."""
    from ..source import list_files
    from .output.diagnostics import print_diagnostics

    check_format(fmt, ("text", "json", "github"))
    check_format(fail_on, ("error", "warning"))
    out, _ = consoles(ctx)
    version = _parse_version(server_version) if server_version else None
    diags: list[Diagnostic] = []
    files = 0
    for project, given in _projects(ctx, paths):
        use_db, target = _database_defaults(project, db, dialect)
        diags += project.validate(given, database=use_db, dialect=target,
                                  server_version=version, models=models)
        files += len(list_files(project.settings.changesets))
    print_diagnostics(diags, fmt, out, files)
    failing = ("error",) if fail_on == "error" else ("error", "warning")
    if any(d.severity in failing for d in diags):
        raise typer.Exit(1)


def _projects(ctx: typer.Context, paths: list[Path] | None
              ) -> list[tuple["Project", list[Path] | None]]:
    """The projects to validate, each with the files given in it (None: all of them)."""
    from ..api import Project
    from ..projects import group
    from .app import globals_of
    from .output import notice

    if not paths:
        return [(open_project(ctx), None)]
    g = globals_of(ctx)
    _, err = consoles(ctx)
    return [(Project(settings, notify=lambda m: notice(err, m)), given)
            for settings, given in group(paths, config=g.config, url=g.url)]


def _database_defaults(project: "Project", db: bool | None,
                       dialect: str | None) -> tuple[bool, str | None]:
    """(compare checksums?, dialect): a URL the user gave means that database, unless told."""
    explicit_url = project.settings.url_source != "default"
    use_db = db if db is not None else explicit_url
    if dialect is None and explicit_url:
        dialect = _url_dialect(project.settings.url)
    return use_db, dialect


def _parse_version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        raise UsageError(f"bad --server-version '{text}'", hint="e.g. 14 or 8.0.16") from None


def _url_dialect(url: str) -> str | None:
    """The database a URL names, without connecting (None when it cannot be told)."""
    from ..dialects import for_url

    known = for_url(url)
    return known.name if known else None
