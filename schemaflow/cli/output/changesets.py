"""Changesets as the listings show them: lines, tables, the history graph, one in detail."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import print_json, safe
from .plain import escape

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ...api import ChangesetInfo
    from ...errors import Diagnostic


def line(info: ChangesetInfo, verbose: bool = False, plain: bool = False) -> str:
    """One changeset as a listing line: rich markup, or plain text for pipes and files."""
    esc = (lambda text: text) if plain else escape
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
    text = f"{esc(parents)} -> {bold}{info.id}{unbold}{suffix}, {esc(info.message)}"
    if verbose:
        text += (f"\n    {dim}file: {esc(info.path or '?')}; operations: "
                 f"{esc(', '.join(info.operations) or 'none')}{undim}")
    return text


def lines(out: Console, items: Sequence[ChangesetInfo], verbose: bool = False) -> None:
    """Print listing lines; into a pipe or file as one plain write (fast on long histories)."""
    if out.is_terminal:
        for i in items:
            out.print(line(i, verbose))
    elif items:
        sys.stdout.write(safe("\n".join(line(i, verbose, plain=True) for i in items)) + "\n")


# Below this width the table keeps the id, the message and the marks: five columns in 60
# would fold every id over two lines.
_NARROW = 100


def table(items: Sequence[ChangesetInfo], title: str, width: int) -> Table:
    """A rich table of changesets (terminal output only; pipes get plain lines). Ids never
    wrap; on a narrow terminal the parents and operations columns are left out."""
    from rich.table import Table

    wide = width >= _NARROW
    result = Table(title=f"{len(items)} {title}", title_justify="left", show_edge=False)
    result.add_column("id", no_wrap=True)
    if wide:
        result.add_column("parents", overflow="fold")
    result.add_column("message", overflow="fold", ratio=1)
    if wide:
        result.add_column("operations", overflow="fold")
    result.add_column("marks", overflow="fold")
    for i in items:
        marks = ", ".join(m for m in ("head" if i.is_head else "",
                                      f"tag {i.tag}" if i.tag else "") if m)
        cells = [i.id, ", ".join(i.parents) or "<base>", i.message, ", ".join(i.operations),
                 marks] if wide else [i.id, i.message, marks]
        result.add_row(*(escape(cell) for cell in cells))
    return result


def print_current(out: Console, fmt: str, url: str, heads: Sequence[ChangesetInfo],
                  rows: Sequence[Any], verbose: bool) -> None:
    """The applied heads (and, verbose, how many changesets are applied where)."""
    if fmt == "json":
        print_json({"url": url, "heads": [h.as_dict() for h in heads],
                    "applied": [{"id": r.id, "applied_at": r.applied_at,
                                 "execution_ms": r.execution_ms, "applied_by": r.applied_by,
                                 "exec_order": r.exec_order} for r in rows]})
        return
    if not heads:
        out.print("<base> (nothing applied)")
    lines(out, heads, verbose)
    if verbose:
        out.print(f"[dim]{len(rows)} changesets applied on {url}[/dim]")


def print_status(out: Console, fmt: str, pending: Sequence[ChangesetInfo],
                 problems: Sequence[Diagnostic] = ()) -> None:
    """The pending changesets: a table on a terminal, lines and a count elsewhere. With
    `problems` (applied changesets edited or missing), never "up to date"."""
    if fmt == "json":
        doc: dict[str, Any] = {"pending": [p.as_dict() for p in pending]}
        if problems:
            doc["problems"] = [d.as_dict() for d in problems]
        print_json(doc)
        return
    if not pending:
        out.print("Nothing pending, but apply would stop: see below." if problems
                  else "Up to date: nothing pending.")
        return
    if out.is_terminal:
        out.print(table(pending, "pending", out.width))
    else:
        lines(out, pending)
        out.print(f"[dim]{len(pending)} pending[/dim]")
    for p in pending:
        if p.interrupted:
            out.print(f"INTERRUPTED: {escape(safe(p.interrupted))}")


def print_history(out: Console, fmt: str, items: Sequence[ChangesetInfo], verbose: bool,
                  graph: bool) -> None:
    """The changesets, newest first: JSON, a table, a graph or listing lines."""
    if fmt == "json":
        print_json({"changesets": [i.as_dict() for i in items]})
        return
    if out.is_terminal and not graph and not verbose:
        out.print(table(items, "history", out.width))
        return
    if graph:
        _print_graph(out, items)
        return
    lines(out, items, verbose)


def _print_graph(out: Console, items: Sequence[ChangesetInfo]) -> None:
    """`git log --graph`-style rows; parents outside the listed range are not drawn."""
    from ...diagram import graph_lines

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


def print_heads(out: Console, fmt: str, items: Sequence[ChangesetInfo]) -> None:
    """The heads of the history."""
    if fmt == "json":
        print_json({"heads": [i.as_dict() for i in items]})
        return
    lines(out, items)


def print_branches(out: Console, fmt: str,
                   items: Sequence[tuple[ChangesetInfo, list[str]]]) -> None:
    """Branch points, each with its children."""
    if fmt == "json":
        print_json({"branches": [{**i.as_dict(), "children": c} for i, c in items]})
        return
    for info, children in items:
        out.print(line(info))
        for c in children:
            out.print(f"    -> {c}")


def print_show(out: Console, fmt: str, info: ChangesetInfo) -> None:
    """One changeset in detail: only the fields it has."""
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
