"""Finishing a changeset that an earlier run left half done, from what the journal recorded.

Statements the journal lists as done ran (their text is checked against the file). The
first one it does not list ran only if the run ended between the statement and its journal
row, which is possible only for a statement that commits by itself (DDL on MySQL/MariaDB,
CREATE INDEX CONCURRENTLY): then the tables that statement's operation touches are reflected
and compared with the replayed schema before and after it. A statement whose operation
leaves the schema as it was (raw `sql`, data), or one in the middle of an operation's
statements, cannot be judged so: the run stops and names it, and `--resume-from` says
where to continue once a person has looked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ChangesetFailed, UsageError
from .journal import Interrupted, Journal, statement_hash

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.engine import Connection

    from .dialects.base import Dialect
    from .dialects.render import Renderer
    from .history import History
    from .plans import Plan, PlanItem, Step
    from .state import SchemaState

# Given with `--resume-from`, as the number of the first statement to run.
RESUME_HINT = ("check it in the database; if it took effect, run `schemaflow {command} "
               "--resume-from {after}`, if not, `schemaflow {command} --resume-from {at}`")


def recover(conn: Connection, renderer: Renderer, journal: Journal | None, plan: Plan,
            history: History, applied: set[str], resume_from: int | None,
            notify: Callable[[str], None]) -> tuple[Plan, tuple[str, int] | None]:
    """The plan to run (an interrupted changeset moved to its front) and where that
    changeset resumes: (id, index of its first statement to run); None when nothing was
    interrupted. Raises when the interrupted changeset is not this run's to finish, or when
    where to resume cannot be told."""
    direction = plan.direction
    entries = journal.read() if journal else []
    stale = [e for e in entries if (e.direction == "apply") == (e.id in applied)]
    if journal and stale:
        # The version table already says it finished (it was written by hand, or by a
        # tool that does not know the journal): the version table is the truth.
        from .dialects.connect import transaction

        with transaction(conn):
            for e in stale:
                journal.clear(e.id)
        for e in stale:
            notify(f"warning: {e.describe()}, but the version table "
                   f"{'lists' if e.id in applied else 'no longer lists'} it: its journal "
                   "rows are forgotten")
        entries = [e for e in entries if e not in stale]
    if not entries:
        if resume_from is not None:
            raise UsageError("--resume-from: no changeset was interrupted (the journal is "
                             "empty)", hint=f"run `schemaflow {direction}` without it")
        return plan, None
    if len(entries) > 1:
        raise UsageError("the journal lists several interrupted changesets: "
                         + "; ".join(e.describe() for e in entries),
                         hint="find out which of their statements are in effect, then record "
                              "the truth with `schemaflow stamp TARGET` (which empties the "
                              "journal)")
    e = entries[0]
    if e.direction != direction:
        finish = f"`schemaflow {_command(e, history)}`"
        raise UsageError(f"{e.describe()}; it must be finished before "
                         f"{'an apply' if direction == 'apply' else 'a rollback'}",
                         hint=f"finish it with {finish}, or undo its statements by hand and "
                              "record the truth with `schemaflow stamp TARGET`")
    ids = [i.changeset.id for i in plan.items]
    if e.id not in ids:
        raise UsageError(f"{e.describe()}; this {direction} does not include it, and it "
                         f"must be finished first",
                         hint=f"run `schemaflow {direction} {e.id}`" if direction == "apply"
                         else "roll back past it first")
    plan = _replanned(history, plan, renderer, [e.id, *(i for i in ids if i != e.id)],
                      applied)
    item = plan.items[0]
    n = len(item.steps)
    if resume_from is not None:
        if not 1 <= resume_from <= n + 1:
            raise UsageError(f"--resume-from {resume_from}: changeset {e.id} has {n} "
                             f"statements (give 1 to {n + 1}; {n + 1}: all ran, only record "
                             "it)")
        notify(f"{e.describe()}; resuming at statement {resume_from} as told")
        return plan, (e.id, resume_from - 1)
    first = _resume_point(conn, renderer, e, item, history, applied)
    notify(f"{e.describe()}; " + (f"statements 1 to {first} are in effect; " if first else "")
           + (f"resuming at statement {first + 1}" if first < n else "only recording it"))
    return plan, (e.id, first)


def _command(e: Interrupted, history: History) -> str:
    """The command that finishes `e`: `apply ID`, or a rollback to below it."""
    if e.direction == "apply":
        return f"apply {e.id}"
    parents = history.graph[e.id].parents if e.id in history.graph.by_id else ()
    return f"rollback {parents[0] if len(parents) == 1 else 'base' if not parents else e.id + '-1'}"


def _replanned(history: History, plan: Plan, renderer: Renderer, ids: list[str],
               applied: set[str]) -> Plan:
    from .planning import plan_apply, plan_rollback

    if plan.direction == "apply":
        return plan_apply(history, ids, applied, renderer)
    return plan_rollback(history, ids, applied, renderer)


def _text(item: PlanItem, i: int, conn: Connection) -> str:
    from .dialects.render import compile_step, literal_dialect

    return compile_step(item.steps[i], literal_dialect(conn.dialect))


def _continue(e: Interrupted, history: History) -> str:
    """The command that continues `e` once a person has looked (before --resume-from)."""
    return "apply" if e.direction == "apply" else _command(e, history)


def _stop(e: Interrupted, item: PlanItem, i: int, why: str, conn: Connection,
          history: History) -> ChangesetFailed:
    cs = item.changeset
    return ChangesetFailed(
        f"{e.describe()}; whether statement {i + 1} (shown below) took effect cannot be "
        f"told: {why}", changeset=cs.id, statement=_text(item, i, conn),
        hint=RESUME_HINT.format(command=_continue(e, history), after=i + 2, at=i + 1))


def _resume_point(conn: Connection, renderer: Renderer, e: Interrupted, item: PlanItem,
                  history: History, applied: set[str]) -> int:
    """The index of the first statement of `item` whose effect is missing."""
    from .dialects.render import commits_with_transaction

    cs = item.changeset
    for i in range(min(e.done, len(item.steps))):
        if e.hashes[i] is not None and statement_hash(_text(item, i, conn)) != e.hashes[i]:
            raise ChangesetFailed(
                f"{e.describe()}; changeset {cs.id} ({cs.path}) was edited since: statement "
                f"{i + 1} (shown below) is not the one that ran", changeset=cs.id,
                statement=_text(item, i, conn),
                hint="restore the file as it was when it ran, or compare the database with "
                     f"it and continue with `schemaflow {_continue(e, history)} --resume-from "
                     "N`")
    s = e.done
    if s >= len(item.steps):
        return len(item.steps)
    dialect = renderer.dialect
    if commits_with_transaction(item.steps[s], renderer.transactional_ddl):
        return s  # it would have committed with its journal row: it did not run
    if not item.steps[s].transactional:
        raise _stop(e, item, s, "it runs outside a transaction (CREATE INDEX CONCURRENTLY), "
                    "and one cut off can leave an invalid index that looks like the one "
                    "it builds", conn, history)
    start = history.memo.replay(history.graph, history.graph.ordered(applied)).state
    states, bounds = _boundaries(item, start, renderer)
    op = next(k for k, (a, b) in enumerate(bounds) if a <= s < b)
    a, b = bounds[op]
    before, after = states[op], states[op + 1]
    touched = {k for k in set(before.tables) | set(after.tables)
               if before.tables.get(k) != after.tables.get(k)}
    if not touched:
        raise _stop(e, item, s, f"its operation ({item.operations[op].kind}) leaves the "
                    "schema as it was, so the schema cannot show it", conn, history)
    # The schema before and after statement s (None where the operation's intermediate
    # schema is not known).
    ahead = before if s == a else _without_later(after, item.steps[s:b])
    behind = after if s + 1 == b else _without_later(after, item.steps[s + 1:b])
    if ahead is None and behind is None:
        raise _stop(e, item, s, f"it is statement {s - a + 1} of the {b - a} of operation "
                    f"{op + 1} ({item.operations[op].kind}), whose schema in between is not "
                    "known", conn, history)
    # (read in the words of the changesets where the database builds the same from both: a
    # create_table's `mysql_charset` of the database's own character set)
    live = _reflected(conn, touched, [s for s in (ahead, behind) if s is not None])
    if live is None:
        raise _stop(e, item, s, "the tables it touches cannot be read back", conn, history)
    ran = behind is not None and _same(dialect, live, behind, touched)
    missing = ahead is not None and _same(dialect, live, ahead, touched)
    if ran != missing:
        return s + 1 if ran else s
    raise _stop(e, item, s, "the schema matches neither the state before it nor the one "
                "after it" if ahead is not None and behind is not None else
                "the schema does not match the one state known around it", conn, history)


def _without_later(after: SchemaState, later: Sequence[Step]) -> SchemaState | None:
    """The schema an operation's statements build up to `later`, its remaining ones, when
    each of those only adds a named index or unique constraint (a create_table's indexes, an
    add_column's index): `after` without them. None otherwise."""
    from dataclasses import replace

    import sqlalchemy as sa
    from sqlalchemy.schema import AddConstraint, CreateIndex

    from .state import SchemaState

    indexes, uniques = set(), set()
    for step in later:
        if isinstance(step.sql, CreateIndex):
            indexes.add(step.sql.element.name)
        elif isinstance(step.sql, AddConstraint) and isinstance(step.sql.element,
                                                                  sa.UniqueConstraint):
            uniques.add(step.sql.element.name)
        else:
            return None
    return SchemaState({k: replace(t, indexes=tuple(i for i in t.indexes
                                                     if i.name not in indexes),
                                   uniques=tuple(u for u in t.uniques if u.name not in uniques))
                        for k, t in after.tables.items()})


def _boundaries(item: PlanItem, start: SchemaState, renderer: Renderer
                ) -> tuple[list[SchemaState], list[tuple[int, int]]]:
    """The schema before each operation of `item` (and after the last), and the range of
    statements each operation rendered to."""
    from .state import apply

    states, bounds, state, n = [start], [], start, 0
    for op in item.operations:
        k = len(renderer.render(op, state))
        bounds.append((n, n + k))
        n += k
        state = apply(state, op)
        states.append(state)
    return states, bounds


def _reflected(conn: Connection, keys: set[tuple[str | None, str]],
               expected: list[SchemaState]) -> SchemaState | None:
    """The live tables of `keys`, in the words of the `expected` states where they build the
    same (None when reflection cannot express them)."""
    from .dialects.read import Unexpressible
    from .dialects.reflect import reflect
    from .state import SchemaState

    names = {k[1] for k in keys}
    words = SchemaState({k: t for s in expected for k, t in s.tables.items() if k in keys})
    try:
        return reflect(conn, schemas=sorted({k[0] for k in keys}, key=lambda s: s or ""),
                       skip=lambda name: name not in names, strict=False, models=words)
    except Unexpressible:
        return None


def _same(dialect: Dialect, live: SchemaState, expected: SchemaState,
          keys: set[tuple[str | None, str]]) -> bool:
    """Whether the live tables of `keys` are the expected ones, as this database holds
    them (the comparison `check --against-db` makes)."""
    from .diff import diff
    from .state import SchemaState

    def only(state: SchemaState) -> SchemaState:
        return dialect.comparable(SchemaState({k: t for k, t in state.tables.items()
                                               if k in keys}))

    try:
        return not diff(only(live), only(expected)).operations
    except UsageError:  # a difference no operation writes (a table's character set)
        return False
