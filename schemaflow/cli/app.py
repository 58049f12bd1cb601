"""The typer app, the options given before the command, and errors turned into exit codes.

Every command module imports `.output` (and through it rich) inside its functions, never at
the top: `schemaflow --help` and the listings must start without paying for rich.
"""

# Annotations evaluated where they are written (no `from __future__ import annotations`):
# typer reads every command's signature, and postponed ones it would compile from text
# each time, ~20% of `schemaflow --help` (see cli/__init__.py).

import functools
import signal
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from .. import __version__
from ..errors import SchemaflowError, UsageError
from ..launch import GLOBAL_OPTIONS, named

if TYPE_CHECKING:
    from rich.console import Console

    from ..api import Project

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


def globals_of(ctx: typer.Context) -> Globals:
    """The options given before the command (defaults when the callback did not run)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals()


def consoles(ctx: typer.Context) -> tuple["Console", "Console"]:
    """(stdout, stderr) consoles; stderr is silent under --quiet."""
    from .output import consoles as make

    return make(globals_of(ctx).quiet)


def open_project(ctx: typer.Context, lock_timeout: float = 60.0,
                 run_hooks: bool = False) -> "Project":
    """The project the global options name; lock waits are announced on stderr."""
    from ..api import Project
    from .output import notice

    g = globals_of(ctx)
    _, err = consoles(ctx)
    project = Project.from_config(config=g.config, url=g.url, lock_timeout=lock_timeout,
                                  run_hooks=run_hooks, notify=lambda m: notice(err, m))
    if g.verbose:  # -v: which configuration and which database, and why
        from .output import print_database

        found = project.settings.config_file
        err.print(f"[dim]configuration: {found or 'none found (defaults)'}[/dim]")
        print_database(err, project.shown_url, project.url_origin)
    return project


def database_header(ctx: typer.Context, project: "Project") -> None:
    """The database a command reads or changes, and where its URL came from, on stderr
    (already shown under -v; silent under -q)."""
    from .output import print_database

    if not globals_of(ctx).verbose:
        print_database(consoles(ctx)[1], project.shown_url, project.url_origin)


def handled(fn: F) -> F:
    """Turn schemaflow errors into one message and their exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SchemaflowError as exc:
            _report(exc)
        except KeyboardInterrupt as exc:
            # Outside a run of changesets (which says more, see interrupt.py).
            sys.stderr.write("interrupted\n")
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
        except Exception as exc:
            # A database error outside a changeset (a version table of another shape, a
            # server gone mid-command): one message, not a traceback. Checked by module so
            # that commands which never touch a database do not import SQLAlchemy.
            if not type(exc).__module__.startswith("sqlalchemy"):
                raise
            from ..dialects.base import db_message
            from ..errors import DatabaseError

            _report(DatabaseError(f"the database failed: {db_message(exc)}"))

    return wrapper  # type: ignore[return-value]


class Terminated(KeyboardInterrupt):
    """SIGTERM: unwinds as Ctrl-C does (transactions rolled back, connections and locks
    released on the way out), then exits 143, as a shell reports a terminated process.
    A KeyboardInterrupt, so that drivers that cancel their query on one do so."""


def _terminate(signum: int, frame: object) -> NoReturn:
    raise Terminated


def _report(exc: SchemaflowError) -> NoReturn:
    from .output import consoles as make
    from .output.diagnostics import print_error

    # Errors are shown even under --quiet.
    print_error(exc, make()[1])
    raise typer.Exit(exc.exit_code) from None


# Stands in an option's help for the databases of the registry, filled in only when help is
# shown: importing every dialect would cost each command's start-up ~0.1 s.
DATABASES = "{databases}"


def _fill_help(command: Any, args: list[str]) -> None:
    """Put the registered databases where the help of the command asked about names
    DATABASES (`schemaflow --help` alone lists no option that does: nothing is imported)."""
    commands = getattr(command, "commands", {})
    named = [commands[a] for a in args if a in commands][:1]
    params = [p for sub in named for p in sub.params
              if DATABASES in (getattr(p, "help", None) or "")]
    if not params:
        return
    from ..dialects import names

    listed = ", ".join(names())
    for param in params:
        param.help = param.help.replace(DATABASES, listed)


FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]
RunHooksOpt = Annotated[bool, typer.Option(
    "--run-hooks", help="Run the configuration's post_write_hooks on the file written (also "
    "SCHEMAFLOW_RUN_HOOKS=1); they are the project's commands, so not by default.")]


def check_format(fmt: str, allowed: tuple[str, ...] = ("text", "json")) -> None:
    """Refuse a --format (or other choice) outside `allowed`."""
    if fmt not in allowed:
        raise UsageError(f"unknown format '{fmt}'", hint=f"use one of: {', '.join(allowed)}")


def hoisted(group: Any, argv: list[str]) -> list[str]:
    """`argv` with the global options typed after the command name moved before it, as users
    type them (`schemaflow apply --url ...`); click reads them only before. An option the
    command defines itself (`current --verbose`) stays where it is, and so do option values
    and everything after `--`."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if GLOBAL_OPTIONS.get(argv[i].split("=")[0]) and "=" not in argv[i] else 1
    command = group.commands.get(argv[i]) if i < len(argv) else None
    if command is None:
        return argv
    own: dict[str, bool] = {}
    for param in command.params:
        for opt in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())):
            own[opt] = not getattr(param, "is_flag", True) and not getattr(param, "count", False)
    head, keep, rest = argv[:i], [argv[i]], argv[i + 1:]
    j = 0
    while j < len(rest):
        token = rest[j]
        name = token.split("=")[0]
        if token == "--":
            keep += rest[j:]
            break
        takes = GLOBAL_OPTIONS.get(name)
        if takes is not None and name not in own:
            width = 2 if takes and "=" not in token else 1
            head += rest[j:j + width]
        else:
            width = 2 if own.get(name) and "=" not in token else 1
            keep += rest[j:j + width]
        j += width
    return head + keep


def _only(group: typer.Typer, argv: list[str]) -> typer.Typer:
    """`group` with only the command `argv` runs, when it names one of its commands: click
    then builds the options of one command, not of every command (~40 ms at start-up). The
    whole group otherwise (`--help` alone, a mistyped command: its message lists them)."""
    import copy

    name = named(argv)
    if name is None or "--help" in argv[:argv.index(name)]:
        return group
    commands = [c for c in group.registered_commands
                if (c.name or typer.main.get_command_name(getattr(c.callback, "__name__", "")))
                == name]
    groups = [g for g in group.registered_groups if g.name == name]
    if len(commands) + len(groups) != 1:
        return group
    only = copy.copy(group)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """schemaflow's own warnings (an unsafe cache folder) as one line on stderr; any other
    the way Python shows it."""
    from ..cachefile import CacheWarning

    if issubclass(category, CacheWarning):
        sys.stderr.write(f"warning: {message}\n")
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


# The commands that load the models (`new` only with --autogenerate, but an empty
# changeset makes too little to collect).
_MODELS_LOADED = frozenset({"check", "new"})


def main() -> None:
    """Console-script entry point."""
    import gc

    warnings.showwarning = _show_warning
    signal.signal(signal.SIGTERM, _terminate)

    # A short-lived process that loads tens of thousands of small objects: full collections
    # would walk them all repeatedly for nothing (the same setting many CLIs use).
    gc.set_threshold(100_000, 50, 100)
    if named(sys.argv[1:]) in _MODELS_LOADED:
        # Nearly every object the models and a database's read make lives until the
        # process ends: each collection of the young looked through the 100,000 newest for
        # next to nothing to free (about 20 of them, 0.05-0.1 s, on a thousand tables).
        gc.disable()
    command = typer.main.get_command(_only(app, sys.argv[1:]))
    if "--help" in sys.argv:
        _fill_help(command, sys.argv[1:])
    try:
        command.main(args=hoisted(command, sys.argv[1:]))
    finally:
        # The interpreter's last collection at exit would walk every object the command
        # made (a thousand-table model, a long history): 0.1-0.3 s for nothing, as the
        # process ends. Frozen objects are left out of it (the interpreter still flushes the
        # standard streams; schemaflow closes its files and connections itself).
        gc.freeze()
