"""A run's statements compiled once, as their changeset is planned: DDL into the text the
runner sends, data statements into the driver's own statement and parameters. A plan of a
thousand changesets then keeps text, not a tree of SQLAlchemy objects per statement (memory
flat in the plan's length), and no statement goes through SQLAlchemy's execution path when
it runs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import ExecutableDDLElement

from ..plans import Bound, Step
from .render import compile_step, literal_dialect


def _bound(stmt: Any, dialect: Any, literal: Any) -> Bound | None:
    """`stmt` as the driver runs it; None when it needs SQLAlchemy's execution (values
    computed in Python, lists expanded when run)."""
    compiled: Any = stmt.compile(dialect=dialect)
    if (compiled.literal_execute_params or compiled.post_compile_params
            or compiled.insert_prefetch or compiled.update_prefetch):
        return None
    values = compiled.construct_params(escape_names=False)
    for key, process in compiled._bind_processors.items():
        if key in values:
            values[key] = process(values[key])
    params: Any
    if dialect.positional:
        params = tuple(values[name] for name in compiled.positiontup)
    else:
        escaped = compiled.escaped_bind_names
        # (names as plain text: SQLAlchemy's are a subclass of str, which a run that
        # receives them from the render process would import SQLAlchemy to unpickle)
        params = {str(escaped.get(k, k)): v for k, v in values.items()}
    return Bound(compiled.string, params, compile_step(Step(stmt), literal))


# How many quoted names a plan's compiler remembers before it forgets them all. SQLAlchemy's
# identifier preparer memoises every name it quotes, for as long as its dialect lives, each
# with a memoised lowercase of its own (~600 bytes a name): a plan of a thousand changesets
# left ~1.2 MB of them behind. A changeset's statements still find their names remembered.
NAMES = 512


def _own_names(dialect: Any) -> Any:
    """`dialect` with an identifier preparer of its own (a shallow copy of both), whose
    memo of quoted names only this plan's compiler fills: forgetting them touches no other
    user of the connection's dialect (another thread on the same engine)."""
    own = copy.copy(dialect)
    preparer = own.identifier_preparer = copy.copy(dialect.identifier_preparer)
    preparer.dialect = own
    preparer._strings = {}
    return own


def precompiled(sa_dialect: Any) -> Callable[[Step, bool], Step]:
    """`(step, transactional) -> step` for a plan that runs on a connection of `sa_dialect`
    (see `planning.plan_apply`'s `finish`): DDL compiled into the text the runner would
    send for it; a data statement of a changeset that runs in one transaction into a
    `Bound` (elsewhere it stays as it is: the journal records such statements, and finding
    where an interrupted changeset resumes compares their text). DDL that does not compile
    raises SQLAlchemy's CompileError here, before its changeset starts (`planning` names
    the changeset): run, it would have failed after the statements before it, and where
    DDL is not transactional left the changeset interrupted for a statement no database
    ever saw. A data statement that does not compile so is left to SQLAlchemy's execution."""
    sa_dialect = _own_names(sa_dialect)
    literal = literal_dialect(sa_dialect)
    memos = [d.identifier_preparer._strings for d in {id(sa_dialect): sa_dialect,
                                                      id(literal): literal}.values()]

    def finish(step: Step, transactional: bool) -> Step:
        for names in memos:
            if len(names) > NAMES:
                names.clear()
        if isinstance(step.sql, ExecutableDDLElement):
            return Step(compile_step(step, literal), step.transactional, compiled=True)
        if transactional and isinstance(step.sql, sa.sql.dml.UpdateBase):
            try:
                bound = _bound(step.sql, sa_dialect, literal)
            except sa.exc.SQLAlchemyError:  # (left to SQLAlchemy's execution: values it
                return step                 # binds but cannot write as literals, JSON's)
            return step if bound is None else Step(bound, step.transactional)
        return step

    return finish
