"""What apply, rollback, stamp and rehash show while they run and when they are done."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from . import count, safe
from .plain import escape

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from ...runner import ItemResult


class Progress:
    """One apply or rollback: a line per changeset, a live status line, a summary."""

    def __init__(self, err: Console, direction: str) -> None:
        self.err = err
        self.direction = direction
        self.verb = "applied" if direction == "apply" else "rolled back"
        self.doing = "applying" if direction == "apply" else "rolling back"
        self.started = time.perf_counter()
        self.status: Status | None = None

    def item(self, r: ItemResult) -> None:
        """One changeset done (or found done by another run meanwhile)."""
        err, verb = self.err, self.verb
        if not err.is_terminal:  # plain lines into a pipe or log: no markup work per line
            line = (f"  {r.id} was {verb} meanwhile by another run" if r.skipped else
                    f"  {verb} {r.id} {r.message} ({r.execution_ms} ms)")
            sys.stderr.write(safe(line) + "\n")
        elif r.skipped:
            err.print(f"  [dim]{r.id} was {verb} meanwhile by another run[/dim]")
        else:
            err.print(f"  {verb} [bold]{r.id}[/bold] {escape(r.message)} "
                      f"[dim]({r.execution_ms} ms)[/dim]")

    def start(self, cid: str, message: str) -> None:
        """A changeset starts: the live status line names it (a long one shows which)."""
        if self.status is not None:
            from .terminal import markup

            # safe(): the status line is rendered without passing the console's own filter.
            self.status.update(markup(safe(f"{self.doing} [bold]{escape(cid)}[/bold] "
                                           f"{escape(message)}…")))

    def live(self, enabled: bool) -> AbstractContextManager[Any]:
        """On a terminal, a live status line while changesets run; plain lines otherwise."""
        if enabled and self.err.is_terminal:
            from .terminal import markup

            self.status = self.err.status(markup(f"{self.doing}…"))
            return self.status
        return nullcontext()

    def finished(self, results: Sequence[ItemResult], url: str) -> None:
        """How many changesets this run changed, where, and how long it took."""
        done = [r for r in results if not r.skipped]
        if not done:
            self.err.print("Nothing to do: the database is already there.")
            return
        self.err.print(f"[green]{self.verb.capitalize()} {count(len(done), 'changeset')}"
                       f"[/green] on {escape(url)} in {time.perf_counter() - self.started:.2f} s")


def stamped(err: Console, target: str, added: Sequence[str], removed: Sequence[str]) -> None:
    """What `stamp` recorded."""
    err.print(f"stamped {target}: {len(added)} recorded as applied, {len(removed)} removed")


def renamed(err: Console, found: Sequence[object], why_not: str | None = None) -> None:
    """After a stamp on a database schemaflow had recorded nothing on: its constraints held
    under other names than the changesets give them (`adoption`), or why they could not be
    compared."""
    if why_not is not None:
        err.print(f"[yellow]note:[/yellow] constraint names not compared: {escape(why_not)}")
        return
    if not found:
        return
    err.print(f"[yellow]warning:[/yellow] {count(len(found), 'constraint')} of this database "
              f"{'has' if len(found) == 1 else 'have'} another name than the changesets give: "
              "a later changeset that drops or alters one by the changesets' name fails here")
    for r in found:
        err.print(f"  {escape(safe(str(r)))}")
    err.print("  hint: give them the changesets' names here (PostgreSQL renames any constraint; "
              "MySQL and MariaDB a unique key only: drop and add the others), or adopt this "
              "database with a baseline in its own names (schemaflow new --autogenerate "
              "--from-db)")


def rehashed(err: Console, updated: Sequence[str]) -> None:
    """Whose checksums `rehash` stored."""
    listed = f": {', '.join(updated)}" if updated else ""
    err.print(f"updated the checksum of {count(len(updated), 'changeset')}{listed}")
