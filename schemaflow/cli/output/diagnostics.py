"""Diagnostics and errors: rich text, plain text, JSON and GitHub workflow annotations."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...errors import ChangesetFailed, Diagnostic, SchemaflowError, ValidationFailed
from . import count, safe
from .plain import escape

if TYPE_CHECKING:
    from rich.console import Console


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
        sys.stdout.writelines(_annotation(d) for d in diags)
        return
    if out.is_terminal:
        for d in diags:
            out.print(diagnostic_text(d))
    elif diags:  # into a pipe or file: plain text, written at once (thousands of lines)
        sys.stdout.write(safe("\n".join(_plain(d) for d in diags)) + "\n")
    if diags:
        out.print(f"\n{count(errors, 'error')}, {count(warnings, 'warning')}")
    else:
        n = f" in {count(files_checked, 'changeset')}" if files_checked is not None else ""
        out.print(f"[green]No problems found{n}.[/green]")


def _annotation(d: Diagnostic) -> str:
    """A GitHub workflow command that shows the diagnostic on the file in a pull request."""
    level = {"error": "error", "warning": "warning", "info": "notice"}[d.severity]
    props = ",".join(p for p in (
        f"file={_property(repo_path(d.file))}" if d.file else "",
        f"line={d.line}" if d.line else "",
        f"col={d.col}" if d.col else "", f"title={_property(d.code)}") if p)
    msg = d.message + (f" (hint: {d.hint})" if d.hint else "")
    return f"::{level} {props}::{_data(msg)}\n"


def repo_path(file: str) -> str:
    """`file` relative to the root of the git repository holding it (GitHub resolves an
    annotation's path from there, whatever folder the workflow ran validate in); as given
    when it is in no repository."""
    full = os.path.abspath(file)
    root = _repo_root(os.path.dirname(full))
    return file if root is None else os.path.relpath(full, root).replace(os.sep, "/")


@functools.lru_cache(maxsize=64)
def _repo_root(folder: str) -> str | None:
    """The nearest folder at or above `folder` with a `.git` (a folder, or a file in a
    worktree or submodule)."""
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _data(text: str) -> str:
    """A workflow command's message: escaped as GitHub reads it (a newline must not start a
    command of its own) and with control characters shown, not sent."""
    return safe(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _property(text: str) -> str:
    """A workflow command's property value (`,` and `:` end it unless escaped)."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


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
