"""What a run does, as plain records: a plan, its items (built by `planning`) and their
statements. Apart from it so that what only names a plan (an apply with nothing to do, which
returns an empty one) or runs one kept whole (`plancache`) imports none of the replay and
rendering machinery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from . import ir

Direction = Literal["apply", "rollback"]


@dataclass(frozen=True, slots=True)
class Step:
    """One statement: a SQLAlchemy construct, raw SQL text (run as the driver's own), or a
    data statement compiled for the driver (`Bound`). `compiled`: text schemaflow compiled
    from a construct of its own (not a changeset's raw SQL)."""

    sql: Any
    transactional: bool = True
    compiled: bool = False


@dataclass(frozen=True, slots=True)
class Bound:
    """A data statement compiled for one driver (`dialects.prepared`): its text and
    parameters as the driver takes them (SQLAlchemy's bind processors applied, as its own
    execution would), and the text with the values written in (what messages and the
    journal show of it, as they would of the statement itself)."""

    sql: str
    params: Any
    shown: str


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One changeset to run in one direction, with its statements. `operations`: what they
    were rendered from, which finding where an interrupted changeset resumes looks at; empty
    in a plan compiled for a run (`finish`), which keeps its statements' text alone (a long
    plan would otherwise hold every changeset's parsed operations until its end)."""

    changeset: ir.Changeset
    direction: Direction
    operations: tuple[ir.Operation, ...]
    steps: tuple[Step, ...]
    transactional: bool
    checksum: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered work of one apply or rollback."""

    direction: Direction
    items: tuple[PlanItem, ...]
    dialect: str

    @property
    def ids(self) -> tuple[str, ...]:
        """The changesets it runs, in order."""
        return tuple(i.changeset.id for i in self.items)
