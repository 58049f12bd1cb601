"""What a run does, as plain records: a plan and its items (built by `planning`). Apart
from it so that what only names a plan (an apply with nothing to do, which returns an empty
one) imports none of the replay and rendering machinery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from . import ir
    from .dialects.render import Step

Direction = Literal["apply", "rollback"]


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
