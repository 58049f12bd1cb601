"""What the command line shows: rich text on a terminal, plain text into pipes, JSON, SQL.

The modules here are the only ones that format for people or write to the terminal; the
commands pass them what the API returned.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that
# make text read other than it is: a changeset from an untrusted pull request must not be
# able to clear a reviewer's screen, retitle the terminal or fake output.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """`text` fit for a terminal, a log or an annotation: control characters shown as
    escapes (`\\x1b`). Every text the commands print passes through here (the consoles
    below call it on every string they render)."""
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: ascii(m.group(0))[1:-1], text)
    return text


def consoles(quiet: bool = False) -> tuple[Console, Console]:
    """(stdout, stderr) consoles; rich honours NO_COLOR and plain pipes by itself. A stream
    that is not a terminal gets a `PlainConsole` (rich imported only if it must render)."""
    from typing import cast

    from .plain import PlainConsole, is_terminal

    # NO_COLOR: rich drops colours but keeps bold/dim; no escape codes at all is what users mean.
    plain = {"color_system": None} if os.environ.get("NO_COLOR") else {}
    made = []
    for stderr in (False, True):
        options: dict[str, Any] = {"highlight": False, "soft_wrap": True, **plain}
        if stderr:
            options.update(stderr=True, quiet=quiet)
        if is_terminal(sys.stderr if stderr else sys.stdout) is False:
            made.append(cast("Console", PlainConsole(safe, **options)))
        else:
            from .terminal import SafeConsole  # (rich)

            made.append(SafeConsole(**options))
    return made[0], made[1]


def count(n: int, noun: str) -> str:
    """`1 changeset`, `2 changesets`."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def notice(err: Console, message: str) -> None:
    """Something the user should know while a command waits or works (a held lock)."""
    from .plain import escape

    err.print(f"[yellow]{escape(message)}[/yellow]")


def print_database(err: Console, url: str, origin: str) -> None:
    """The database a command works on and where its URL came from (password hidden)."""
    from .plain import escape

    err.print(f"[dim]database: {escape(url)} ({escape(origin)})[/dim]")


def print_path(path: Path) -> None:
    """The file a command wrote, alone on stdout (for scripts: `$(schemaflow new ...)`),
    relative to the current directory as users type paths (`git add` takes it as is)."""
    from ...source import display_path

    typer.echo(display_path(path))


def print_text(text: str) -> None:
    """Text on stdout (a diagram, a JSON Schema): exactly as is into a file or pipe,
    control characters escaped on a terminal."""
    sys.stdout.write(safe(text) if sys.stdout.isatty() else text)


def _json_value(value: Any) -> Any:
    """What JSON has no type for: times as ISO 8601 (naive ones are UTC, as the version
    table stores them), anything else as its text."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def print_json(doc: Any) -> None:
    """A JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, indent=2, default=_json_value) + "\n")


def print_sql(sql: str, out: Console) -> None:
    """SQL on stdout: syntax-highlighted (control characters escaped) on a terminal, exactly
    as is into a pipe or file."""
    if out.is_terminal and out.color_system:
        from rich.syntax import Syntax

        out.print(Syntax(safe(sql), "sql", theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(safe(sql) if out.is_terminal else sql)
