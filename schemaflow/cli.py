"""The command line: parse arguments, call the API, print through `report`, set the exit code."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from . import __version__
from .errors import SchemaflowError, UsageError

if TYPE_CHECKING:
    from .api import ChangesetInfo, Project

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="schemaflow",
    help="Declarative schema migrations: YAML/TOML changesets, linted, replayed and applied.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@dataclass
class Globals:
    """Options given before the command."""

    config: str | None = None
    url: str | None = None
    verbose: bool = False
    quiet: bool = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"schemaflow {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option("-c", "--config", help="Configuration file.")]
    = None,
    url: Annotated[str | None, typer.Option("--url", help="Database URL (overrides the "
                                            "environment and the configuration).")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="More detail.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Declarative schema migrations for SQL databases."""
    ctx.obj = Globals(config, url, verbose, quiet)


def _g(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals()


def _consoles(ctx: typer.Context) -> Any:
    from .report import consoles

    return consoles(_g(ctx).quiet)


def _project(ctx: typer.Context, lock_timeout: float = 60.0) -> Project:
    from .api import Project

    g = _g(ctx)
    _, err = _consoles(ctx)
    return Project.from_config(config=g.config, url=g.url, lock_timeout=lock_timeout,
                               notify=lambda m: err.print(f"[yellow]{m}[/yellow]"))


def handled(fn: F) -> F:
    """Turn schemaflow errors into one message and their exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SchemaflowError as exc:
            _report(exc)
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise typer.Exit(130) from None
        except Exception as exc:
            # A database error outside a changeset (a version table of another shape, a
            # server gone mid-command): one message, not a traceback. Checked by module so
            # that commands which never touch a database do not import SQLAlchemy.
            if not type(exc).__module__.startswith("sqlalchemy"):
                raise
            from .dialects.base import db_message
            from .errors import DatabaseError

            _report(DatabaseError(f"the database failed: {db_message(exc)}"))

    return wrapper  # type: ignore[return-value]


def _report(exc: SchemaflowError) -> NoReturn:
    from .report import consoles, print_error

    print_error(exc, consoles()[1])
    raise typer.Exit(exc.exit_code) from None


FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]


def _check_format(fmt: str, allowed: tuple[str, ...] = ("text", "json")) -> None:
    if fmt not in allowed:
        raise UsageError(f"unknown format '{fmt}'", hint=f"use one of: {', '.join(allowed)}")


def _line(info: ChangesetInfo, verbose: bool = False, plain: bool = False) -> str:
    """One changeset as a listing line: rich markup, or plain text for pipes and files."""
    def escape(text: str) -> str:
        if plain:
            return text
        from rich.markup import escape as rich_escape

        return rich_escape(text)

    marks = []
    if info.is_head:
        marks.append("head")
    if info.tag:
        marks.append(f"tag: {info.tag}")
    marks += [f"{b}@head" for b in info.branch_labels if info.is_head]
    if info.applied is not None:
        marks.append("applied" if info.applied else "pending")
    dim, undim, bold, unbold = ("", "", "", "") if plain else (
        "[dim]", "[/dim]", "[bold]", "[/bold]")
    suffix = f" {dim}({', '.join(marks)}){undim}" if marks else ""
    parents = ", ".join(info.parents) or "<base>"
    text = f"{escape(parents)} -> {bold}{info.id}{unbold}{suffix}, {escape(info.message)}"
    if verbose:
        text += (f"\n    {dim}file: {escape(info.path or '?')}; operations: "
                 f"{escape(', '.join(info.operations) or 'none')}{undim}")
    return text


def _lines(out: Any, items: list[ChangesetInfo], verbose: bool = False) -> None:
    """Print listing lines; into a pipe or file as one plain write (fast on long histories)."""
    if out.is_terminal:
        for i in items:
            out.print(_line(i, verbose))
    elif items:
        sys.stdout.write("\n".join(_line(i, verbose, plain=True) for i in items) + "\n")


def _table(items: list[ChangesetInfo], title: str) -> Any:
    """A rich table of changesets (terminal output only; pipes get plain lines)."""
    from rich.table import Table

    table = Table(title=f"{len(items)} {title}", title_justify="left", show_edge=False)
    for column in ("id", "parents", "message", "operations", "marks"):
        table.add_column(column, overflow="fold")
    for i in items:
        marks = ", ".join(m for m in ("head" if i.is_head else "",
                                      f"tag {i.tag}" if i.tag else "") if m)
        table.add_row(i.id, ", ".join(i.parents) or "<base>", i.message,
                      ", ".join(i.operations), marks)
    return table


# --- init, new, merge ----------------------------------------------------------------------------


@app.command()
@handled
def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Project folder.")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="yaml or toml for new changesets.")] = "yaml",
) -> None:
    """Write schemaflow.toml, the changesets folder and the editor hook-up for the JSON Schema."""
    from .scaffold import init_project

    _check_format(fmt, ("yaml", "toml"))
    _, err = _consoles(ctx)
    for path in init_project(directory, fmt):
        err.print(f"wrote {path}")


@handled
def _new(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("-m", "--message", help="What the changeset does.")],
    parent: Annotated[list[str] | None, typer.Option("--parent", help="Parent id (repeat for "
                                                     "several); default: the single head.")] = None,
    branch_label: Annotated[list[str] | None, typer.Option("--branch-label")] = None,
    depends_on: Annotated[list[str] | None, typer.Option("--depends-on")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="yaml or toml.")] = None,
    autogenerate: Annotated[bool, typer.Option(
        "--autogenerate", help="Fill it with what the models need (see `models`).")] = False,
    against_db: Annotated[bool, typer.Option(
        "--against-db", help="With --autogenerate: compare the models with the live database "
        "instead of the changesets.")] = False,
    from_db: Annotated[bool, typer.Option(
        "--from-db", help="With --autogenerate: a baseline of the live database's schema.")]
    = False,
    rename: Annotated[list[str] | None, typer.Option(
        "--rename", help="A rename autogenerate should not ask about: table.old=new or "
        "old_table=new_table (repeat).")] = None,
) -> None:
    """Write a new changeset file (empty, or autogenerated) and print its path."""
    if fmt is not None:
        _check_format(fmt, ("yaml", "toml"))
    project = _project(ctx)
    if not autogenerate:
        if against_db or from_db or rename:
            raise UsageError("--against-db, --from-db and --rename go with --autogenerate")
        path = project.new(message, parents=parent or (), branch_labels=branch_label or (),
                           depends_on=depends_on or (), fmt=fmt)
        typer.echo(str(path))
        return
    _, err = _consoles(ctx)
    result = project.autogenerate(message, against_db=against_db, from_db=from_db,
                                  ask=_rename_question(), hints=_hints(rename or []),
                                  parents=parent or (), fmt=fmt)
    for w in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}")
    if result.path is None:
        err.print("No changes: the models match.")
        return
    from .report import describe

    for op in result.operations:
        err.print(f"  {describe(op)}")
    typer.echo(str(result.path))


def _hints(items: list[str]) -> dict[str, str]:
    hints = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"bad --rename '{item}'", hint="use table.old=new or old=new")
        hints[old.strip()] = new.strip()
    return hints


def _rename_question() -> Any:
    """Ask on a terminal whether a drop + add is a rename; without one, never assume it."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None

    def ask(kind: str, table: str, old: str, new: str) -> bool:
        what = f"{table}.{old} to {table}.{new}" if kind == "column" else f"{old} to {new}"
        return bool(typer.confirm(f"Did you rename {what}?", default=False))

    return ask


app.command("new")(_new)
app.command("revision", help="Alias of new (for Alembic users).")(_new)


@app.command()
@handled
def merge(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(help="Heads to merge (default: all).")] = None,
    message: Annotated[str, typer.Option("-m", "--message")] = "merge heads",
) -> None:
    """Write a changeset whose parents are the given (default: all) heads."""
    typer.echo(str(_project(ctx).merge(message, ids or ())))


@app.command()
@handled
def squash(
    ctx: typer.Context,
    start: Annotated[str, typer.Argument(help="First changeset of the range.")],
    end: Annotated[str, typer.Argument(help="Last changeset of the range.")],
    message: Annotated[str, typer.Option("-m", "--message")],
    concat: Annotated[bool, typer.Option(
        "--concat", help="Keep every operation in order (needed when the range holds sql or "
        "data operations) instead of the schema difference.")] = False,
) -> None:
    """Replace the changesets START..END with one equivalent changeset."""
    typer.echo(str(_project(ctx).squash(start, end, message, concat=concat)))


# --- apply, rollback, stamp ---------------------------------------------------------------------

LockOpt = Annotated[float, typer.Option("--lock-timeout", help="Seconds to wait for another "
                                        "run's lock.")]
SqlOpt = Annotated[bool, typer.Option("--sql", help="Print the SQL instead of running it (no "
                                      "database needed).")]
DryOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would run against the "
                                      "database, change nothing.")]
DialectOpt = Annotated[str | None, typer.Option("--dialect", help="With --sql: sqlite, "
                                                "postgresql (default: from the URL).")]

QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Only errors.")]


def _print_sql(sql: str, out: Any) -> None:
    """SQL on stdout: syntax-highlighted on a terminal, exactly as is into a pipe or file."""
    if out.is_terminal and out.color_system:
        from rich.syntax import Syntax

        out.print(Syntax(sql, "sql", theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(sql)


def _quiet(ctx: typer.Context, quiet: bool) -> None:
    if quiet:
        _g(ctx).quiet = True


def _run(ctx: typer.Context, direction: str, target: str | None, sql: bool, dry_run: bool,
         dialect: str | None, lock_timeout: float) -> None:
    from rich.markup import escape

    out, err = _consoles(ctx)
    project = _project(ctx, lock_timeout)
    if sql:
        result = project.offline_sql(direction, target, dialect)
        _print_sql(result.sql or "", out)
        return
    if dialect:
        raise UsageError("--dialect only goes with --sql")
    if target and target.startswith("-") and not target[1:].isdigit():
        raise UsageError(f"no such option: {target}", hint=f"see schemaflow {direction} --help")
    verb = "applied" if direction == "apply" else "rolled back"
    started = time.perf_counter()

    def on_item(r: Any) -> None:
        if not err.is_terminal:  # plain lines into a pipe or log: no markup work per line
            note = "was {verb} meanwhile by another run" if r.skipped else ""
            line = (f"  {r.id} {note.format(verb=verb)}" if r.skipped else
                    f"  {verb} {r.id} {r.message} ({r.execution_ms} ms)")
            sys.stderr.write(line + "\n")
        elif r.skipped:
            err.print(f"  [dim]{r.id} was {verb} meanwhile by another run[/dim]")
        else:
            err.print(f"  {verb} [bold]{r.id}[/bold] {escape(r.message)} "
                      f"[dim]({r.execution_ms} ms)[/dim]")

    from contextlib import nullcontext

    # On a terminal, a live status line while changesets run; plain lines otherwise.
    live = err.status(f"{'applying' if direction == 'apply' else 'rolling back'}…") if (
        err.is_terminal and not dry_run and not _g(ctx).quiet) else nullcontext()
    report = None if _g(ctx).quiet else on_item
    with live:
        if direction == "apply":
            res = project.apply(target, dry_run=dry_run, on_item=report)
        else:
            assert target is not None
            res = project.rollback(target, dry_run=dry_run, on_item=report)
    if dry_run:
        _print_sql(res.sql or "", out)
        return
    done = [r for r in res.results if not r.skipped]
    if not done:
        err.print("Nothing to do: the database is already there.")
        return
    n = len(done)
    err.print(f"[green]{verb.capitalize()} {n} changeset{'s' if n != 1 else ''}[/green] "
              f"on {escape(project.shown_url)} in {time.perf_counter() - started:.2f} s")


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
) -> None:
    """Apply pending changesets up to TARGET (default: every head)."""
    _quiet(ctx, quiet)
    _run(ctx, "apply", target, sql, dry_run, dialect, lock_timeout)


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
) -> None:
    """Reverse applied changesets down to TARGET."""
    _quiet(ctx, quiet)
    _run(ctx, "rollback", target, sql, dry_run, dialect, lock_timeout)


# `-2` is a target, not an option.
_RELATIVE = {"ignore_unknown_options": True}
app.command("apply", context_settings=_RELATIVE)(_apply)
app.command("upgrade", help="Alias of apply (for Alembic users).",
            context_settings=_RELATIVE)(_apply)
app.command("rollback", context_settings=_RELATIVE)(_rollback)
app.command("downgrade", help="Alias of rollback (for Alembic users).",
            context_settings=_RELATIVE)(_rollback)


@app.command()
@handled
def stamp(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="What to record as applied (base clears).")],
    purge: Annotated[bool, typer.Option("--purge", help="Empty the version table first.")] = False,
    lock_timeout: LockOpt = 60.0,
) -> None:
    """Record TARGET as applied without running anything."""
    _, err = _consoles(ctx)
    added, removed = _project(ctx, lock_timeout).stamp(target, purge=purge)
    err.print(f"stamped {target}: {len(added)} recorded as applied, {len(removed)} removed")


@app.command()
@handled
def rehash(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Applied changesets whose edits to accept.")],
) -> None:
    """Accept intended edits to applied changesets by storing their new checksums."""
    _, err = _consoles(ctx)
    updated = _project(ctx).rehash(ids)
    listed = f": {', '.join(updated)}" if updated else ""
    err.print(f"updated the checksum of {len(updated)} changeset"
              f"{'s' if len(updated) != 1 else ''}{listed}")


# --- listing ------------------------------------------------------------------------------------


@app.command()
@handled
def current(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    fmt: FormatOpt = "text",
) -> None:
    """What is applied: the applied heads."""
    from .report import print_json

    _check_format(fmt)
    out, _ = _consoles(ctx)
    project = _project(ctx)
    heads, rows = project.current()
    if fmt == "json":
        print_json({"url": project.shown_url, "heads": [h.as_dict() for h in heads],
                    "applied": [{"id": r.id, "applied_at": r.applied_at,
                                 "execution_ms": r.execution_ms, "applied_by": r.applied_by,
                                 "exec_order": r.exec_order} for r in rows]})
        return
    if not heads:
        out.print("<base> (nothing applied)")
    _lines(out, heads, verbose or _g(ctx).verbose)
    if verbose or _g(ctx).verbose:
        out.print(f"[dim]{len(rows)} changesets applied on {project.shown_url}[/dim]")


@app.command()
@handled
def status(ctx: typer.Context, fmt: FormatOpt = "text") -> None:
    """Pending changesets, in the order apply would run them."""
    from .report import print_json

    _check_format(fmt)
    out, _ = _consoles(ctx)
    pending = _project(ctx).status()
    if fmt == "json":
        print_json({"pending": [p.as_dict() for p in pending]})
        return
    if not pending:
        out.print("Up to date: nothing pending.")
        return
    if out.is_terminal:
        out.print(_table(pending, "pending"))
        return
    _lines(out, pending)
    out.print(f"[dim]{len(pending)} pending[/dim]")


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
    from rich.markup import escape

    from .report import print_json

    _check_format(fmt)
    out, _ = _consoles(ctx)
    project = _project(ctx)
    items = project.history_list(rev_range)
    if fmt == "json":
        print_json({"changesets": [i.as_dict() for i in items]})
        return
    if out.is_terminal and not graph and not (verbose or _g(ctx).verbose):
        out.print(_table(items, "history"))
        return
    if graph:
        from .diagram import graph_lines

        by_id = {i.id: i for i in items}
        order = [i.id for i in reversed(items)]
        parents = {i.id: tuple(p for p in i.parents if p in by_id) for i in items}
        for lanes, cid in graph_lines(order, parents):
            if cid is None:
                out.print(f"[dim]{escape(lanes)}[/dim]")
                continue
            info = by_id[cid]
            marks = [m for m in ("head" if info.is_head else "",
                                 f"tag: {info.tag}" if info.tag else "") if m]
            suffix = f" [dim]({', '.join(marks)})[/dim]" if marks else ""
            out.print(f"{escape(lanes)} [bold]{cid}[/bold]{suffix} {escape(info.message)}")
        return
    _lines(out, items, verbose or _g(ctx).verbose)


@app.command()
@handled
def heads(ctx: typer.Context, fmt: FormatOpt = "text") -> None:
    """The heads of the history."""
    from .report import print_json

    _check_format(fmt)
    out, _ = _consoles(ctx)
    items = _project(ctx).heads()
    if fmt == "json":
        print_json({"heads": [i.as_dict() for i in items]})
        return
    _lines(out, items)


@app.command()
@handled
def branches(ctx: typer.Context, fmt: FormatOpt = "text") -> None:
    """Branch points: changesets with more than one child."""
    from .report import print_json

    _check_format(fmt)
    out, _ = _consoles(ctx)
    items = _project(ctx).branches()
    if fmt == "json":
        print_json({"branches": [{**i.as_dict(), "children": c} for i, c in items]})
        return
    for info, children in items:
        out.print(_line(info))
        for c in children:
            out.print(f"    -> {c}")


@app.command()
@handled
def show(ctx: typer.Context, target: Annotated[str, typer.Argument(help="An id, prefix, tag.")],
         fmt: FormatOpt = "text") -> None:
    """One changeset in detail."""
    from rich.markup import escape

    from .report import print_json

    _check_format(fmt)
    out, _ = _consoles(ctx)
    info = _project(ctx).show(target)
    if fmt == "json":
        print_json(info.as_dict())
        return
    out.print(f"[bold]{info.id}[/bold]  {escape(info.message)}")
    for label, value in (("file", info.path), ("parents", ", ".join(info.parents) or "<base>"),
                         ("depends on", ", ".join(info.depends_on)), ("tag", info.tag),
                         ("branch labels", ", ".join(info.branch_labels)),
                         ("author", info.author), ("head", "yes" if info.is_head else ""),
                         ("operations", ", ".join(info.operations) or "none")):
        if value:
            out.print(f"  {label}: {escape(str(value))}")


@app.command()
@handled
def diagram(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option("--at", help="The changeset to draw the schema "
                                           "at (default: every head).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="mermaid or dot.")] = "mermaid",
) -> None:
    """An ER diagram of the schema the changesets build (no database needed)."""
    from .diagram import dot, mermaid

    _check_format(fmt, ("mermaid", "dot"))
    state = _project(ctx).state_at(at)
    sys.stdout.write(mermaid(state) if fmt == "mermaid" else dot(state))


@app.command()
@handled
def schema(
    which: Annotated[str, typer.Argument(help="changeset or config.")] = "changeset",
) -> None:
    """Print the JSON Schema of changeset files (or of the configuration)."""
    from .validate import schema_path

    _check_format(which, ("changeset", "config"))
    sys.stdout.write(schema_path(f"{which}.schema.json").read_text(encoding="utf-8"))


# --- check ---------------------------------------------------------------------------------------


@app.command()
@handled
def check(
    ctx: typer.Context,
    fmt: FormatOpt = "text",
    against_db: Annotated[bool, typer.Option(
        "--against-db", help="Compare the models with the live database instead.")] = False,
) -> None:
    """Exit 1 when the models differ from what the changesets build (for CI)."""
    from .ir import dump_operation
    from .report import describe, print_json

    _check_format(fmt)
    out, _ = _consoles(ctx)
    result = _project(ctx).compare(against_db=against_db)
    if fmt == "json":
        print_json({"differences": [dump_operation(op) for op in result.operations],
                    "summary": [describe(op) for op in result.operations]})
    elif result.operations:
        out.print(f"The models differ from the {'database' if against_db else 'changesets'} "
                  f"({len(result.operations)} operation"
                  f"{'s' if len(result.operations) != 1 else ''} needed):")
        for op in result.operations:
            out.print(f"  {describe(op)}")
        out.print("[dim]run: schemaflow new --autogenerate -m MESSAGE[/dim]")
    else:
        out.print("[green]No differences: the models match.[/green]")
    if result.operations:
        raise typer.Exit(1)


# --- validate -----------------------------------------------------------------------------------


@app.command()
@handled
def validate(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Only report on these files.")]
    = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or github.")] = "text",
    db: Annotated[bool | None, typer.Option(
        "--db/--no-db", help="Also compare applied checksums with the database (default: when "
        "a URL is given by --url, the environment or the configuration).")] = None,
    dialect: Annotated[str | None, typer.Option(
        "--dialect", help="Check what this database can do: sqlite, postgresql, mysql, "
        "mariadb (default: the URL's, when one is given).")] = None,
    server_version: Annotated[str | None, typer.Option(
        "--server-version", help="The server version to check against, e.g. 14 or 8.0.16.")]
    = None,
    fail_on: Annotated[str, typer.Option(
        "--fail-on", help="Exit 1 on errors only (default) or also on warnings.")] = "error",
) -> None:
    """Lint the changesets: syntax, schema, history, references, rollbacks, checksums."""
    from .report import print_diagnostics

    _check_format(fmt, ("text", "json", "github"))
    out, _ = _consoles(ctx)
    project = _project(ctx)
    _check_format(fail_on, ("error", "warning"))
    explicit_url = project.settings.url_source != "default"
    use_db = db if db is not None else explicit_url
    if dialect is None and explicit_url:
        dialect = _url_dialect(project.settings.url)
    version = _parse_version(server_version) if server_version else None
    diags = project.validate(paths, database=use_db, dialect=dialect, server_version=version)
    from .source import list_files

    count = len(paths) if paths else len(list_files(project.settings.changesets))
    print_diagnostics(diags, fmt, out, count)
    failing = ("error",) if fail_on == "error" else ("error", "warning")
    if any(d.severity in failing for d in diags):
        raise typer.Exit(1)


def _parse_version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        raise UsageError(f"bad --server-version '{text}'", hint="e.g. 14 or 8.0.16") from None


def _url_dialect(url: str) -> str | None:
    """The dialect a URL names, without connecting (None when it cannot be told)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    return {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite",
            "mysql": "mysql", "mariadb": "mariadb"}.get(scheme)


def main() -> None:
    """Console-script entry point."""
    import gc

    # A short-lived process that loads tens of thousands of small objects: full collections
    # would walk them all repeatedly for nothing (the same setting many CLIs use).
    gc.set_threshold(100_000, 50, 100)
    app()
