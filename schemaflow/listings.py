"""The listing half of `api.Project`: changesets as history, heads, show, current and status
list them (`ChangesetInfo`), read from the history and the version table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .graph import Relative, within

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from .errors import Diagnostic
    from .history import History
    from .journal import Interrupted
    from .recorder import AppliedRow


@dataclass(frozen=True, slots=True)
class ChangesetInfo:
    """A changeset as listed by history/status/heads/show."""

    id: str
    message: str
    parents: tuple[str, ...]
    path: str | None
    applied: bool | None = None
    is_head: bool = False
    tag: str | None = None
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    author: str | None = None
    operations: tuple[str, ...] = ()
    interrupted: str | None = None  # what the journal says an earlier run left unfinished

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in ((f, getattr(self, f)) for f in self.__slots__)}


class Listings:
    """Mixed into `api.Project`, which provides the history and the version rows."""

    notify: Callable[[str], None]

    if TYPE_CHECKING:
        @property
        def history(self) -> History: ...

        def _listed_rows(self) -> list[AppliedRow]: ...

        def applied_rows(self) -> list[AppliedRow]: ...

        def applied_state(self) -> tuple[list[AppliedRow], list[Interrupted]]: ...

        def drift(self, rows: Sequence[AppliedRow]) -> list[Diagnostic]: ...

        def _folder(self) -> str: ...

    def info(self, cid: str, applied: set[str] | None = None) -> ChangesetInfo:
        """Listing details of one changeset."""
        return self.infos((cid,), applied)[0]

    def infos(self, ids: Iterable[str], applied: set[str] | None = None
              ) -> list[ChangesetInfo]:
        """Listing details of changesets `ids` (`status` and `history` list every one of a
        long history: what is the same for all of them is looked up once)."""
        from .cache import lister

        g = self.history.graph
        heads = set(g.heads)
        # Its header, not the changeset: a cached one is not revived (history lists all).
        listed = lister(g.by_id)
        out = []
        for cid in ids:
            (cid, parents, message, author, depends_on, branch_labels, tag, _, _, _,
             path), kinds = listed(cid)
            out.append(ChangesetInfo(
                id=cid, message=message, parents=parents, path=path,
                applied=None if applied is None else cid in applied, is_head=cid in heads,
                tag=tag, branch_labels=branch_labels, depends_on=depends_on, author=author,
                operations=kinds))
        return out

    def heads(self) -> list[ChangesetInfo]:
        """The heads of the history."""
        return self.infos(self.history.graph.heads)

    def branches(self) -> list[tuple[ChangesetInfo, list[str]]]:
        """Branch points and their children."""
        g = self.history.graph
        return [(self.info(b), list(g.children[b])) for b in g.branch_points()]

    def show(self, target: str) -> ChangesetInfo:
        """One changeset, by any target that names exactly one."""
        g = self.history.graph
        ids = g.resolve(target)
        if isinstance(ids, Relative) and ids.steps < 0:  # `show -1`: below the head
            ids = g.resolve(f"head{target.strip()}")
        if isinstance(ids, Relative) or len(ids) != 1:
            raise UsageError(f"'{target}' does not name one changeset")
        return self.info(ids[0])

    def history_list(self, rng: str | None = None) -> list[ChangesetInfo]:
        """Changesets newest first, optionally within `START:END`."""
        g = self.history.graph
        ids = within(g, rng) if rng else list(reversed(g.order))
        return self.infos(ids)

    def current(self) -> tuple[list[ChangesetInfo], list[AppliedRow]]:
        """The applied heads, and every version row."""
        rows = self._listed_rows()
        applied = {r.id for r in rows}
        return self.infos(self.history.graph.heads_of(applied), applied), rows

    def status(self) -> list[ChangesetInfo]:
        """The changesets not yet applied, in the order apply would run them."""
        applied = {r.id for r in self._listed_rows()}
        g = self.history.graph
        return self.infos(g.upgrade_plan(g.heads, applied), applied)

    def status_report(self) -> tuple[list[ChangesetInfo], list[Diagnostic]]:
        """The pending changesets, and what would stop `apply` before running any: applied
        changesets edited since (SF020), missing (SF021), or without their parents (SF023)."""
        from dataclasses import replace

        from .recorder import listing_notices

        rows, interrupted = self.applied_state()
        g = self.history.graph
        present = [r for r in rows if r.id in g.by_id]  # the missing ones are diagnostics
        for notice in listing_notices(present, g, self._folder()):
            self.notify(f"warning: {notice}")
        applied = {r.id for r in rows}
        pending = self.infos(g.upgrade_plan(g.heads, applied), applied)
        told = {e.id: e.describe() for e in interrupted if e.direction == "apply"}
        pending = [replace(p, interrupted=told[p.id]) if p.id in told else p for p in pending]
        for e in interrupted:
            self.notify(f"warning: {e.describe()} (INTERRUPTED; the next `schemaflow "
                        f"{e.direction}` finishes it)")
        return pending, self.drift(rows)
