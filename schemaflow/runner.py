"""What a run does around each changeset, whatever connects it (SQLAlchemy's in `execute`, the
driver's alone in `driverrun`): its result, the version-table check inside its transaction,
and the exec_order of its row. No SQLAlchemy here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .outcome import Conflict

if TYPE_CHECKING:
    from .dialects.batch import BatchDriver, Statement
    from .graph import Graph
    from .interrupt import Watch
    from .plans import Direction, PlanItem


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What running one plan item did."""

    id: str
    message: str
    direction: Direction
    execution_ms: int
    statements: int
    skipped: bool = False


class RowWriter:
    """The version-row statements of a run, each with its parameters, as the driver takes
    them."""

    @staticmethod
    def _params(sql: tuple[str, list[str] | None], values: dict[str, Any]) -> Statement:
        """A compiled statement (its text, and its parameters' names where they are
        positional) with `values`."""
        text, names = sql
        return text, tuple(values[n] for n in names) if names is not None else values

    @staticmethod
    def row_values(*, cid: str, checksum: str, message: str, execution_ms: int,
                   order: int) -> dict[str, Any]:
        """The version row of a changeset applied now, column by column, as Python values."""
        from . import __version__
        from .recorder import _now, applied_by

        return {"id": cid, "checksum": checksum, "message": message[:10000],
                "applied_at": _now(), "execution_ms": execution_ms,
                "applied_by": applied_by(), "schemaflow_version": __version__,
                "exec_order": order}

    def present_sql(self, ids: tuple[str, ...]) -> Statement:
        """The query of which of `ids` the version table lists."""
        raise NotImplementedError

    def insert_sql(self, *, cid: str, checksum: str, message: str, execution_ms: int,
                   order: int) -> Statement:
        """The statement that records a changeset as applied."""
        raise NotImplementedError

    def delete_sql(self, ids: tuple[str, ...]) -> Statement:
        """The statement that forgets changesets."""
        raise NotImplementedError


class Runner:
    """Runs a plan's changesets on one connection: what every way of connecting shares."""

    batch: BatchDriver | None = None
    watch: Watch
    errors: tuple[type[BaseException], ...]

    def __init__(self, graph: Graph, serialised: bool) -> None:
        self.graph = graph
        # Under the run-wide lock no other run writes version rows meanwhile: the next
        # exec_order is read once, not for every changeset.
        self.serialised = serialised
        self.next_order: int | None = None
        self.replacing: dict[str, list[str]] = {}  # squashed id -> the ids it replaces
        for old, new in graph.replaced_by.items():
            self.replacing.setdefault(new, []).append(old)

    @property
    def writer(self) -> RowWriter:
        """The run's version-row statements."""
        raise NotImplementedError

    def read_next_order(self) -> int:
        """The exec_order for the next row, as the version table has it now."""
        raise NotImplementedError

    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        raise NotImplementedError

    def end_read(self) -> None:
        """End the transaction a read of the version table began by itself, if any."""

    def lost(self, exc: BaseException) -> bool:
        """Whether `exc` means the connection to the database is gone."""
        return False

    def invalidate(self) -> None:
        """Drop the connection (it is gone, or in a state that cannot be trusted)."""
        raise NotImplementedError

    def rows_of(self, cid: str) -> tuple[str, ...]:
        """The version rows that stand for `cid` (a squashed changeset: either its own or
        those of the changesets it replaces)."""
        return (cid, *self.replacing.get(cid, ()))

    def checked(self, item: PlanItem) -> tuple[Sequence[str], tuple[str, ...]]:
        """What the check in a changeset's transaction looks at: the changesets `item`
        depends on (its parents when applying, its dependents when rolling back), and the
        version rows of it and them."""
        cs = item.changeset
        others = (cs.all_parents if item.direction == "apply"
                  else self.graph.dependents.get(cs.id, []))
        return others, self.rows_of(cs.id) + tuple(r for o in others for r in self.rows_of(o))

    def judge(self, item: PlanItem, others: Sequence[str], present: set[str]) -> None:
        """That the version table still lets `item` run, given which of the rows of the
        changeset and of `others` (its parents when applying, its dependents when rolling
        back) it lists. Raises Conflict when another run did it already (`done`), or when
        what it builds on is gone (apply) or something built on it is there (rollback).
        Under the run-wide lock neither happens, unless something that does not take the
        lock (an older schemaflow, another tool, a hand edit) changed the version table
        meanwhile."""
        applying = item.direction == "apply"
        own = self.rows_of(item.changeset.id)
        if any(r in present for r in own) == applying:
            raise Conflict("another run " + ("applied" if applying else "rolled back")
                           + " it meanwhile", done=True)
        found = [o for o in others if any(r in present for r in self.rows_of(o)) != applying]
        if found:
            names = ", ".join(found)
            raise Conflict(
                f"the version table no longer lists {names}, which it builds on" if applying
                else f"the version table now lists {names}, which builds on it")

    def order(self, item: PlanItem) -> int:
        """The exec_order of the changeset's version row (in the transaction that writes it)."""
        if self.next_order is None or not self.serialised:
            self.next_order = self.read_next_order()
        order = self.next_order
        if item.direction == "apply":
            self.next_order += 1
        return order

