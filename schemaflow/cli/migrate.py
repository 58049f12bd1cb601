"""Commands that change what is applied: apply (upgrade), rollback (downgrade), stamp, rehash."""

# Annotations evaluated where they are written (no `from __future__ import annotations`):
# typer reads every command's signature, and postponed ones it would compile from text
# each time, ~20% of `schemaflow --help` (see cli/__init__.py).

from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import UsageError
from .app import DATABASES, app, consoles, database_header, globals_of, handled, open_project

if TYPE_CHECKING:
    from rich.console import Console

    from ..api import Project

LockOpt = Annotated[float, typer.Option("--lock-timeout", help="Seconds to wait for another "
                                        "run's lock.")]
SqlOpt = Annotated[bool, typer.Option("--sql", help="Print the SQL instead of running it (no "
                                      "database needed).")]
DryOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would run against the "
                                      "database, change nothing.")]
DialectOpt = Annotated[str | None, typer.Option("--dialect", help=f"With --sql: the database "
                                                f"to write SQL for: {DATABASES} (default: "
                                                "from the URL).")]

QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Only errors.")]
StampOpt = Annotated[bool, typer.Option("--timestamp", help="With --sql: start the script with "
                                        "the time it was written (by default the same "
                                        "changesets always give the same script).")]


def _offline(out: "Console", sql: str, timestamp: bool) -> None:
    """Offline SQL on stdout; with `timestamp`, after a comment saying when it was written."""
    import datetime as dt

    from .output import print_sql

    if timestamp:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        sql = f"-- generated {now}\n{sql}"
    print_sql(sql, out)


ResumeOpt = Annotated[int | None, typer.Option(
    "--resume-from", min=1, help="For a changeset an earlier run left unfinished (see "
    "status): the number of its first statement to run, the earlier ones taken as done.")]


def _quiet(ctx: typer.Context, quiet: bool) -> None:
    if quiet:
        globals_of(ctx).quiet = True


def _run(ctx: typer.Context, direction: str, target: str | None, sql: bool, dry_run: bool,
         dialect: str | None, lock_timeout: float, timestamp: bool = False,
         resume_from: int | None = None) -> None:
    from .output import print_sql
    from .output.runs import Progress

    out, err = consoles(ctx)
    project = open_project(ctx, lock_timeout)
    if sql:
        _offline(out, project.offline_sql(direction, target, dialect).sql or "", timestamp)
        return
    if dialect or timestamp:
        raise UsageError("--dialect and --timestamp only go with --sql")
    if resume_from is not None and dry_run:
        raise UsageError("--resume-from does not go with --dry-run")
    if target and target.startswith("-") and not target[1:].isdigit():
        raise UsageError(f"no such option: {target}", hint=f"see schemaflow {direction} --help")
    database_header(ctx, project)
    quiet = globals_of(ctx).quiet
    progress = Progress(err, direction)
    with progress.live(not dry_run and not quiet):
        on_item = None if quiet else progress.item
        on_start = None if quiet else progress.start
        if direction == "apply":
            res = project.apply(target, dry_run=dry_run, on_item=on_item, on_start=on_start,
                                resume_from=resume_from)
        else:
            assert target is not None
            res = project.rollback(target, dry_run=dry_run, on_item=on_item,
                                   on_start=on_start, resume_from=resume_from)
    if dry_run:
        print_sql(res.sql or "", out)
        return
    progress.finished(res.results, project.shown_url)


@handled
def _apply(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(help="head, heads (default), an id, +N, "
                                                 "label@head, a tag; with --sql also FROM:TO.")]
    = None,
    sql: SqlOpt = False,
    dry_run: DryOpt = False,
    dialect: DialectOpt = None,
    lock_timeout: LockOpt = 60.0,
    quiet: QuietOpt = False,
    timestamp: StampOpt = False,
    resume_from: ResumeOpt = None,
) -> None:
    """Apply pending changesets up to TARGET (default: every head)."""
    _quiet(ctx, quiet)
    _run(ctx, "apply", target, sql, dry_run, dialect, lock_timeout, timestamp, resume_from)


@handled
def _rollback(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="base, an id, -N, a tag; with --sql also "
                                          "FROM:TO.")],
    sql: SqlOpt = False,
    dry_run: DryOpt = False,
    dialect: DialectOpt = None,
    lock_timeout: LockOpt = 60.0,
    quiet: QuietOpt = False,
    timestamp: StampOpt = False,
    resume_from: ResumeOpt = None,
) -> None:
    """Reverse applied changesets down to TARGET."""
    _quiet(ctx, quiet)
    _run(ctx, "rollback", target, sql, dry_run, dialect, lock_timeout, timestamp, resume_from)


# `-2` is a target, not an option.
_RELATIVE = {"ignore_unknown_options": True}
app.command("apply", context_settings=_RELATIVE)(_apply)
app.command("upgrade", help="Alias of apply (for Alembic users).",
            context_settings=_RELATIVE)(_apply)
app.command("rollback", context_settings=_RELATIVE)(_rollback)
app.command("downgrade", help="Alias of rollback (for Alembic users).",
            context_settings=_RELATIVE)(_rollback)


@app.command(context_settings=_RELATIVE)  # stamp -1
@handled
def stamp(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(help="What to record as applied (base "
                                                 "clears).")] = None,
    purge: Annotated[bool, typer.Option("--purge", help="Empty the version table first.")] = False,
    from_alembic: Annotated[bool, typer.Option(
        "--from-alembic", help="Record what the database's alembic_version says is applied "
        "(after `import alembic`).")] = False,
    from_flyway: Annotated[bool, typer.Option(
        "--from-flyway", help="Record what flyway_schema_history says is applied (after "
        "`import flyway`).")] = False,
    from_liquibase: Annotated[bool, typer.Option(
        "--from-liquibase", help="Record what DATABASECHANGELOG says is applied (after "
        "`import liquibase`).")] = False,
    sql: Annotated[bool, typer.Option("--sql", help="Print the version-table statements "
                                      "instead of running them (no database needed; TARGET "
                                      "may be FROM:TO).")] = False,
    dialect: DialectOpt = None,
    timestamp: StampOpt = False,
    lock_timeout: LockOpt = 60.0,
) -> None:
    """Record TARGET as applied without running anything."""
    from .output.runs import stamped

    out, err = consoles(ctx)
    project = open_project(ctx, lock_timeout)
    if sql:
        if target is None or from_alembic or from_flyway or from_liquibase:
            raise UsageError("stamp --sql needs a TARGET (--from-* read the database)")
        _offline(out, project.stamp_sql(target, purge=purge, dialect=dialect), timestamp)
        return
    if dialect or timestamp:
        raise UsageError("--dialect and --timestamp only go with --sql")
    tools = [t for t, on in (("alembic", from_alembic), ("flyway", from_flyway),
                             ("liquibase", from_liquibase)) if on]
    if tools:
        if target or purge or len(tools) > 1:
            raise UsageError("--from-alembic, --from-flyway or --from-liquibase: one, "
                             "without TARGET or --purge")
        adopting = not project.applied_rows()
        added, removed = project.stamp_from(tools[0])
        stamped(err, f"what {tools[0]} applied", added, removed)
    else:
        if target is None:
            raise UsageError("stamp needs a TARGET (or --from-alembic, --from-flyway, "
                             "--from-liquibase)")
        adopting = purge or not project.applied_rows()
        added, removed = project.stamp(target, purge=purge)
        stamped(err, target, added, removed)
    if adopting and added:  # a history recorded on a database schemaflow did not build
        _names(err, project)


def _names(err: "Console", project: "Project") -> None:
    """The constraints the database holds under other names than the changesets give them;
    a database that cannot be read for it (a construct the format lacks) only noted: the
    stamp is done."""
    from ..errors import SchemaflowError
    from .output.runs import renamed

    try:
        found = project.renamed_here()
    except SchemaflowError as exc:
        renamed(err, [], why_not=str(exc))
        return
    renamed(err, found)


@app.command()
@handled
def rehash(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Applied changesets whose edits to accept.")],
) -> None:
    """Accept intended edits to applied changesets by storing their new checksums."""
    from .output.runs import rehashed

    _, err = consoles(ctx)
    rehashed(err, open_project(ctx).rehash(ids))
