"""Commands that read: current, status, history, heads, branches, show, diagram, schema."""

# Annotations evaluated where they are written (no `from __future__ import annotations`):
# typer reads every command's signature, and postponed ones it would compile from text
# each time, ~20% of `schemaflow --help` (see cli/__init__.py).

from typing import TYPE_CHECKING, Annotated

import typer

from .app import (
    FormatOpt,
    app,
    check_format,
    consoles,
    database_header,
    globals_of,
    handled,
    open_project,
)

if TYPE_CHECKING:
    from rich.console import Console

    from ..api import Project


def _listing(ctx: typer.Context, fmt: str) -> tuple["Console", "Project"]:
    """(stdout console, project) for a listing, once its --format is known to be valid."""
    check_format(fmt)
    out, _ = consoles(ctx)
    return out, open_project(ctx)


@app.command()
@handled
def current(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    fmt: FormatOpt = "text",
) -> None:
    """What is applied: the applied heads."""
    from .output.changesets import print_current

    out, project = _listing(ctx, fmt)
    if fmt == "text":
        database_header(ctx, project)
    heads, rows = project.current()
    print_current(out, fmt, project.shown_url, heads, rows, verbose or globals_of(ctx).verbose)


@app.command()
@handled
def status(ctx: typer.Context, fmt: FormatOpt = "text") -> None:
    """Pending changesets, in the order apply would run them."""
    from ..errors import ValidationFailed
    from .output.changesets import print_status

    out, project = _listing(ctx, fmt)
    if fmt == "text":
        database_header(ctx, project)
    pending, problems = project.status_report()
    print_status(out, fmt, pending, problems)
    if problems:  # as `apply` would stop: say so, and exit 1
        raise ValidationFailed(problems)


@app.command("history")
@handled
def history_cmd(
    ctx: typer.Context,
    rev_range: Annotated[str | None, typer.Option("-r", "--rev-range", help="START:END")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    fmt: FormatOpt = "text",
    graph: Annotated[bool, typer.Option("--graph", help="Draw the history as a graph, "
                                        "like git log --graph.")] = False,
) -> None:
    """The changesets, newest first."""
    from .output.changesets import print_history

    out, project = _listing(ctx, fmt)
    items = project.history_list(rev_range)
    print_history(out, fmt, items, verbose or globals_of(ctx).verbose, graph)


@app.command()
@handled
def heads(ctx: typer.Context, fmt: FormatOpt = "text") -> None:
    """The heads of the history."""
    from .output.changesets import print_heads

    out, project = _listing(ctx, fmt)
    print_heads(out, fmt, project.heads())


@app.command()
@handled
def branches(ctx: typer.Context, fmt: FormatOpt = "text") -> None:
    """Branch points: changesets with more than one child."""
    from .output.changesets import print_branches

    out, project = _listing(ctx, fmt)
    print_branches(out, fmt, project.branches())


@app.command(context_settings={"ignore_unknown_options": True})  # show -1
@handled
def show(ctx: typer.Context, target: Annotated[str, typer.Argument(help="An id, prefix, tag.")],
         fmt: FormatOpt = "text") -> None:
    """One changeset in detail."""
    from .output.changesets import print_show

    out, project = _listing(ctx, fmt)
    print_show(out, fmt, project.show(target))


@app.command()
@handled
def diagram(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option("--at", help="The changeset to draw the schema "
                                           "at (default: every head).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="mermaid or dot.")] = "mermaid",
) -> None:
    """An ER diagram of the schema the changesets build (no database needed)."""
    from ..diagram import dot, mermaid
    from .output import print_text

    check_format(fmt, ("mermaid", "dot"))
    state = open_project(ctx).state_at(at)
    print_text(mermaid(state) if fmt == "mermaid" else dot(state))


@app.command()
@handled
def schema(
    which: Annotated[str, typer.Argument(help="changeset or config.")] = "changeset",
) -> None:
    """Print the JSON Schema of changeset files (or of the configuration)."""
    from ..validate import schema_path
    from .output import print_text

    check_format(which, ("changeset", "config"))
    print_text(schema_path(f"{which}.schema.json").read_text(encoding="utf-8"))
