"""Rendering diagnostics, errors and listings for people (rich text), machines (JSON) and CI."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from .errors import ChangesetFailed, Diagnostic, SchemaflowError, ValidationFailed


def consoles(quiet: bool = False) -> tuple[Console, Console]:
    """(stdout, stderr) consoles; rich honours NO_COLOR and plain pipes by itself."""
    # NO_COLOR: rich drops colours but keeps bold/dim; no escape codes at all is what users mean.
    plain = {"color_system": None} if os.environ.get("NO_COLOR") else {}
    return (Console(highlight=False, soft_wrap=True, **plain),  # type: ignore[arg-type]
            Console(stderr=True, highlight=False, soft_wrap=True, quiet=quiet,
                    **plain))  # type: ignore[arg-type]


def diagnostic_text(d: Diagnostic) -> str:
    """One diagnostic as rich markup: `file:line:col: error SF003 message` and a hint."""
    color = {"error": "red", "warning": "yellow", "info": "blue"}[d.severity]
    where = d.where()
    head = f"[bold]{escape(where)}:[/bold] " if where else ""
    text = f"{head}[{color}]{d.severity}[/{color}] [dim]{d.code}[/dim] {escape(d.message)}"
    if d.hint:
        text += f"\n    [dim]hint: {escape(d.hint)}[/dim]"
    return text


def _plain(d: Diagnostic) -> str:
    where = d.where()
    text = f"{where + ': ' if where else ''}{d.severity} {d.code} {d.message}"
    return text + (f"\n    hint: {d.hint}" if d.hint else "")


def print_diagnostics(diags: Sequence[Diagnostic], fmt: str, out: Console,
                      files_checked: int | None = None) -> None:
    """Print diagnostics as text, json or GitHub workflow annotations."""
    errors = sum(d.severity == "error" for d in diags)
    warnings = sum(d.severity == "warning" for d in diags)
    if fmt == "json":
        doc = {"diagnostics": [d.as_dict() for d in diags],
               "summary": {"errors": errors, "warnings": warnings, "files": files_checked}}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    if fmt == "github":
        for d in diags:
            level = {"error": "error", "warning": "warning", "info": "notice"}[d.severity]
            props = ",".join(p for p in (
                f"file={d.file}" if d.file else "", f"line={d.line}" if d.line else "",
                f"col={d.col}" if d.col else "", f"title={d.code}") if p)
            msg = d.message + (f" (hint: {d.hint})" if d.hint else "")
            msg = msg.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            sys.stdout.write(f"::{level} {props}::{msg}\n")
        return
    if out.is_terminal:
        for d in diags:
            out.print(diagnostic_text(d))
    elif diags:  # into a pipe or file: plain text, written at once (thousands of lines)
        sys.stdout.write("\n".join(_plain(d) for d in diags) + "\n")
    if diags:
        out.print(f"\n{errors} error{'s' if errors != 1 else ''}, "
                  f"{warnings} warning{'s' if warnings != 1 else ''}")
    else:
        n = f" in {files_checked} changeset{'s' if files_checked != 1 else ''}" if (
            files_checked is not None) else ""
        out.print(f"[green]No problems found{n}.[/green]")


def print_error(exc: SchemaflowError, err: Console) -> None:
    """A user error: one clear message (plus the hint and, for failures, the statement)."""
    if isinstance(exc, ValidationFailed):
        for d in exc.diagnostics:
            err.print(diagnostic_text(d))
        err.print(f"[red]error:[/red] {escape(exc.message)}; nothing was changed")
        return
    err.print(f"[red]error:[/red] {escape(exc.message)}")
    if isinstance(exc, ChangesetFailed):
        if exc.statement:
            err.print(f"  [bold]statement:[/bold] {escape(exc.statement)}")
        if exc.db_message:
            err.print(f"  [bold]database said:[/bold] {escape(exc.db_message)}")
        if exc.ran:
            err.print("  [bold]statements that ran:[/bold]")
            for s in exc.ran:
                err.print(f"    {escape(s)};")
    if exc.hint:
        err.print(f"  [dim]hint: {escape(exc.hint)}[/dim]")


def describe(op: Any) -> str:
    """One line for an operation, as rich markup."""
    from .describe import describe as plain

    return escape(plain(op))


def print_json(doc: Any) -> None:
    """A JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
