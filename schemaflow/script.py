"""A plan as one SQL script (`--sql`, `--dry-run`): its statements with the version-table
statements and transactions, and the script of apply/rollback without a database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from .dialects.base import Dialect
from .dialects.render import Renderer, compile_step, literal_dialect
from .errors import UsageError
from .graph import apply_ids, rollback_ids
from .history import History
from .planning import plan_apply, plan_rollback
from .plans import Direction, Plan, Step
from .recorder import script_rows


def to_sql(plan: Plan, dialect: Any, vt: sa.Table, *, create_version_table: bool,
           renderer: Renderer, start_order: int = 0) -> str:
    """The plan as one SQL script, with version-table statements and transactions."""
    dialect = literal_dialect(dialect)  # a script runs without parameters: `%` stays single
    # No generation time: the same changesets give the same script (diffable, reviewable).
    out: list[str] = [f"-- schemaflow {plan.direction} ({plan.dialect})", ""]
    preamble = renderer.dialect.script_preamble()
    if preamble:
        out += [*preamble, ""]
    if create_version_table:
        out += [compile_step(Step(CreateTable(vt, if_not_exists=True)), dialect) + ";", ""]
    order = start_order
    for item in plan.items:
        cs = item.changeset
        message = " ".join(cs.message.split())  # one comment line, whatever the message holds
        out.append(f"-- {item.direction} {cs.id}: {message}")
        if item.transactional and renderer.transactional_ddl:
            out.append("BEGIN;")
        try:
            out += [compile_step(s, dialect) + ";" for s in item.steps]
        except sa.exc.SQLAlchemyError as exc:
            raise UsageError(f"changeset {cs.id} ({cs.path}) cannot be written as SQL for "
                             f"{plan.dialect}: {exc}", hint="run schemaflow validate --dialect "
                             f"{plan.dialect}") from None
        if item.direction == "apply":
            order += 1
        record = script_rows(vt, cid=cs.id, checksum_=item.checksum, message=cs.message,
                             order=order, rollback_ids=None if item.direction == "apply"
                             else (cs.id, *cs.replaces))
        out.append(compile_step(Step(record), dialect) + ";")
        if item.transactional and renderer.transactional_ddl:
            out.append("COMMIT;")
        out.append("")
    return "\n".join(out)


def offline(history: History, database: Dialect, direction: Direction, target: str | None,
            vt: sa.Table) -> tuple[Plan, str]:
    """The SQL script of apply/rollback without a database: from base, or from `FROM` in a
    `FROM:TO` target (rollback: from every head)."""
    from .graph import target_ids

    g = history.graph
    renderer = database.renderer()
    start, _, end = (target or "").rpartition(":") if target and ":" in target else (
        "", "", target or "")
    if direction == "apply":
        applied = g.ancestors(target_ids(g, start)) if start else set()
        plan = plan_apply(history, apply_ids(g, end or "heads", applied), applied, renderer)
    else:
        applied = g.ancestors(target_ids(g, start or "heads"))
        ids = rollback_ids(g, end or "base", g.ordered(applied))
        plan = plan_rollback(history, ids, applied, renderer)
    return plan, to_sql(plan, database.sa_dialect(), vt, create_version_table=not start and
                        direction == "apply", renderer=renderer,
                        start_order=len(applied) if direction == "apply" else 0)
