"""What a changeset that did not finish left behind, told as far as it is known: which
statements ran and stay in effect, what the version table lists, and what nobody can know
(whether a COMMIT happened when the connection was lost during it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import ChangesetFailed, Interrupted
from .interrupt import Stop
from .plans import Direction, PlanItem

STATUS_HINT = "run `schemaflow status` once the database is reachable: it reads what the " \
              "version table lists now"


@dataclass(slots=True)
class Progress:
    """How far one changeset got."""

    count: int = 0  # statements that ran to their end (earlier runs' included)
    earlier: int = 0  # of which an earlier, interrupted run ran (the journal says so)
    running: bool = False  # inside statement `count + 1`
    recording: bool = False  # in the transaction that changes the version table
    committing: bool = False  # that transaction's COMMIT was sent
    batched: bool = False  # its statements were sent together (see `batched`)
    ran: list[str] = field(default_factory=list)  # the first `count` statements, shown


class Conflict(Exception):
    """Found inside a changeset's transaction: the version table no longer lets it run.
    `done`: another run did it already."""

    def __init__(self, reason: str, *, done: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.done = done


def _where(item: PlanItem) -> str:
    verb = "applying" if item.direction == "apply" else "rolling back"
    return f"{verb} changeset {item.changeset.id} ({item.changeset.path})"


def _listed(item: PlanItem) -> str:
    return ("the version table does not list it" if item.direction == "apply" else
            "the version table still lists it")


def _why(item: PlanItem) -> str:
    """Why statements that ran stay in effect."""
    return ("this changeset is not transactional" if item.changeset.transactional is False
            else "on this database a changeset is not transactional: DDL commits as it runs")


def refused(item: PlanItem, reason: str) -> ChangesetFailed:
    """schemaflow stopped a changeset of a transaction of its own before a statement that
    would have changed what the changesets do not describe (`dialects.sqlite.keep`): rolled
    back, nothing of it remains."""
    return ChangesetFailed(f"{_where(item)} stopped: {reason}; it was rolled back as a whole: "
                           f"nothing of it remains and {_listed(item)}",
                           changeset=item.changeset.id)


def conflict(item: PlanItem, exc: Conflict, progress: Progress) -> ChangesetFailed:
    """The version table changed under a changeset: a run that did not take schemaflow's
    lock (an older version, another tool) or a hand edit."""
    if progress.count:
        state = (f"all {len(item.steps)} of its statements ran and stay in effect "
                 f"({_why(item)}), but {exc.reason}: the version table was left as it is")
        hint = ("something that does not take schemaflow's lock changed the version table: "
                "compare the database with it before going on")
    else:
        state = f"{exc.reason}; nothing of it ran"
        hint = "run the command again: it plans from what the version table lists now"
    return ChangesetFailed(f"{_where(item)} stopped: {state}", changeset=item.changeset.id,
                           ran=progress.ran, hint=hint)


def failed(item: PlanItem, progress: Progress, *, lost: bool, statement: str | None,
           db_message: str) -> ChangesetFailed:
    """A statement, the version-table change or a COMMIT of a changeset failed; `lost`: the
    connection to the database was lost."""
    where, cid, n, k = _where(item), item.changeset.id, len(item.steps), progress.count
    why = _why(item)

    def error(message: str, hint: str | None, *, ran: bool = True) -> ChangesetFailed:
        return ChangesetFailed(message, changeset=cid, statement=statement,
                               db_message=db_message, ran=progress.ran if ran else [],
                               hint=hint)

    again = f"run `schemaflow {item.direction}` again"
    if lost and progress.committing and not item.transactional:
        return error(f"{where}: the connection to the database was lost during COMMIT of "
                     f"the version-table change; all {n} of its statements ran before and "
                     f"stay in effect ({why}), and the journal records them",
                     f"{again} once the database is reachable: if that COMMIT did not "
                     "happen, it only records the changeset")
    if lost and progress.committing:
        # The COMMIT was sent; its answer never came.
        sent = "its statements and its version-table change"
        committed = f"{cid} is {'applied' if item.direction == 'apply' else 'rolled back'}"
        if item.transactional:
            committed += " in full"
            undone = ("nothing of it remains" if item.direction == "apply" else
                      "nothing of its rollback remains")
        else:
            undone = "its statements ran but are not recorded"
        listed, unlisted = (committed, undone) if item.direction == "apply" else (
            undone, committed)
        return error(f"{where}: the connection to the database was lost during COMMIT, "
                     f"after {sent} had been sent; whether that COMMIT happened is unknown",
                     f"{STATUS_HINT}: if it lists {cid}, {listed}; if not, {unlisted}")
    if item.transactional:
        if not lost:
            return error(f"{where} failed; it was rolled back as a whole: nothing of it "
                         "remains and the version table is unchanged", None, ran=False)
        at = ("while its statements ran (sent together)" if progress.batched
              and progress.running else
              f"during statement {k + 1} of {n}" if progress.running else
              "while changing the version table" if progress.recording else
              "before its first statement")
        return error(f"{where}: the connection to the database was lost {at}, before "
                     "COMMIT; the database discards a transaction that was never committed, "
                     f"so nothing of it remains and {_listed(item)}",
                     "run the command again once the database is reachable", ran=False)
    earlier = (f", {progress.earlier} of them in an earlier run" if progress.earlier else "")
    if progress.recording:
        return error(f"{where} failed; all {n} of its statements ran and stay in effect "
                     f"({why}{earlier}) and the journal records them, but the version-table "
                     f"change was not committed, so {_listed(item)}",
                     f"{again} once the cause is fixed: it only records the changeset")
    if not progress.running:
        return error(f"{where} failed before its first statement; nothing of it ran and "
                     f"{_listed(item)}", "run the command again once the cause is fixed")
    before = ("none ran before it" if not k else
              "statement 1 ran before it and stays in effect" if k == 1 else
              f"statements 1 to {k} ran before it and stay in effect")
    if lost:
        return error(f"{where}: the connection to the database was lost during statement "
                     f"{k + 1} of {n} (shown below), so whether it took effect is unknown; "
                     f"{before} ({why}{earlier}) and the journal records them; "
                     f"{_listed(item)}",
                     f"{again} once the database is reachable: it continues after the "
                     "statements the journal records, and tells from the schema whether "
                     f"statement {k + 1} took effect (or names it, when the schema cannot "
                     "show it)")
    return error(f"{where} failed at statement {k + 1} of {n}; {before} ({why}{earlier}) "
                 f"and the journal records {'it' if k == 1 else 'them'}; {_listed(item)}",
                 f"fix the cause (statements that ran must stay as they are in the file), "
                 f"then {again}: it continues with statement {k + 1} (where that statement "
                 "commits by itself and the schema cannot show whether it took effect, the "
                 f"run asks first: it failed, so add `--resume-from {k + 1}`)")


def interrupted(item: PlanItem, progress: Progress, stop: Stop) -> Interrupted:
    """A signal stopped a changeset: the statement running was cancelled (on the server, or
    by SQLite's interrupt) and the changeset's transaction rolled back (or, where it is not
    transactional, what ran is listed)."""
    where, n, k = _where(item), len(item.steps), progress.count
    at = ("its statements, sent together, were cancelled" if progress.batched
          and stop.started else
          f"statement {k + 1} of {n} was cancelled" if stop.started else
          "it stopped before its first statement" if not k else
          f"it stopped after statement {k} of {n}")
    head = f"interrupted by {stop.name} while {where}: {at}"
    if item.transactional or not k:
        return Interrupted(f"{head}; it was rolled back as a whole: nothing of it remains "
                           f"and {_listed(item)}", signum=stop.signum,
                           changeset=item.changeset.id)
    ran = ("statement 1 ran and stays in effect" if k == 1 else
           f"statements 1 to {k} ran and stay in effect")
    return Interrupted(f"{head}; {ran} ({_why(item)}); {_listed(item)}", signum=stop.signum,
                       changeset=item.changeset.id, ran=progress.ran,
                       hint=f"run `schemaflow {item.direction}` again: the journal records "
                            f"them, and it continues with statement {k + 1}")


def stopped(direction: Direction, ids: Sequence[str], done: int, signum: int) -> Interrupted:
    """A signal came between changesets (`ids`, the run's, in order): those before are done
    and recorded, the rest did not start."""
    stop = Stop(signum)
    rest = list(ids[done:])
    verb = "applied" if direction == "apply" else "rolled back"
    before = (f"after changeset {ids[done - 1]}, which is {verb} and "
              "recorded" if done else "before its first changeset")
    listed = ", ".join(rest[:3]) + (f" and {len(rest) - 3} more" if len(rest) > 3 else "")
    return Interrupted(f"interrupted by {stop.name} {before}; {listed} did not start",
                       signum=signum, changeset=rest[0],
                       hint="run the command again to go on from there")
