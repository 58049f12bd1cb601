"""Importing an Alembic history: one changeset per revision, with the revision's id (made valid),
parents, dependencies, branch labels, message and date; its operations recorded as Alembic
builds them and translated; its downgrade kept only where it differs from the automatic
inverse. What cannot be translated is a marked `sql` note, listed in `findings`."""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from .. import ir
from ..errors import StateError
from ..state import SchemaState, apply
from . import (
    TODO_MARK,
    Finding,
    Imported,
    ImportFailed,
    changeset_id,
    clipped,
    explicit_rollback,
    note,
)
from .alembic_enums import enum_types_made
from .alembic_merge import Item, Scope, merge
from .alembic_names import conventions, unknown_convention
from .alembic_run import (
    Run,
    Runner,
    load_script,
    parents_of,
    resolved_depends_on,
    revisions,
    statements,
)
from .alembic_runs import MARIADB, batch_kept, branched, mariadb, mariadb_apart
from .touched import misfit, tables_in_sql, tables_named

# The COMMIT and BEGIN Alembic writes offline around an `autocommit_block()`.
_TRANSACTION_EDGE = re.compile(r"\s*(COMMIT|BEGIN)\s*;?\s*", re.IGNORECASE)


def _databases() -> list[tuple[str, Any, Scope]]:
    """(SQLAlchemy dialect name, dialect, `dialects:` scope) of each supported database,
    the dialect writing SQL that runs as written (`literal_dialect`: a `sql` operation is
    sent without parameters, so a percent sign in a value stays single)."""
    from ..dialects import by_name, names
    from ..dialects.render import literal_dialect

    seen: dict[str, tuple[str, Any, Scope]] = {}
    for name in names():
        d = by_name(name)
        try:
            sa_dialect = literal_dialect(d.sa_dialect())
        except NotImplementedError:
            continue
        scope = cast(Scope, d.sql_dialects[:1])
        seen.setdefault(sa_dialect.name, (sa_dialect.name, sa_dialect, scope))
    return list(seen.values())


class _Revision:
    """Translating one revision's two directions."""

    def __init__(self, script: Any, s: Any, root: Path, as_sql: set[str],
                 names: Any = None) -> None:
        self.s, self.rev = s, s.revision
        self.names = names  # naming constraints after a convention (`alembic_names`)
        # The tables whose steps an earlier step of the import wrote as SQL (shared).
        self.as_sql = as_sql
        try:
            self.file = str(Path(s.path).resolve().relative_to(root))
        except ValueError:
            self.file = str(s.path)
        self.findings: list[Finding] = []
        self.deps = resolved_depends_on(script, s)

    def todo(self, direction: str, what: str, listed: bool = True) -> ir.Sql:
        if listed:
            self.findings.append(Finding(self.rev, self.file, direction, what))
        return note(f"{TODO_MARK}: Alembic revision {self.rev} ({self.file}), "
                     f"{direction}(): {what}\nTranslate this by hand into operations or SQL, "
                     "then delete this note.")

    def items(self, run: Run, state: SchemaState, dialect: Any, direction: str,
              ) -> list[Item]:
        from .alembic_columns import Opaque, Partial
        from .alembic_ops import translate

        out: list[Item] = []
        data: list[str] = []
        for step in run.steps:
            if step.op is None and step.data:
                data.append(step.sql)
                continue
            if data:
                out.append(self._data_item(direction, data))
                data = []
            if step.op is None and _TRANSACTION_EDGE.fullmatch(step.sql):
                # `autocommit_block()`: what it holds runs outside the revision's transaction
                # (PostgreSQL's ALTER TYPE ... ADD VALUE, CREATE INDEX CONCURRENTLY); a COMMIT
                # written into a changeset would commit half of it.
                what = ("autocommit_block(): the statements inside it run outside the "
                        "transaction; write them as a changeset of their own with "
                        "`transactional: false`")
                out.append(Item((self.todo(direction, what),), "", what))
                continue
            if step.op is None:
                out.append(Item((ir.Sql(up=statements(step.sql)),), step.sql))
                continue
            try:
                item = Item(tuple(translate(step.op, state, dialect, step.result,
                                             self.names)), step.sql)
            except Partial as exc:
                item = Item((*exc.ops, self.todo(direction, str(exc))), step.sql, str(exc))
            except Opaque as exc:  # (listed by _list_findings, once for every database)
                item = (Item((ir.Sql(up=statements(step.sql)),), step.sql, str(exc), True)
                        if step.sql.strip() else
                        Item((self.todo(direction, str(exc), listed=False),), "", str(exc)))
                if item.as_sql and isinstance(getattr(step.op, "table_name", None), str):
                    self.as_sql.add(step.op.table_name)
            else:
                missing = misfit(state, item.ops)
                if missing is not None and step.sql.strip() and not self.as_sql.isdisjoint(
                        tables_named(item.ops)):
                    # What it names is not in the schema replayed so far: written as SQL
                    # before (a table with a type only SQL gives), so this is SQL too.
                    written = ", ".join(sorted(self.as_sql & set(tables_named(item.ops))))
                    what = (f"{missing}; it names {written}, which an earlier step wrote as "
                            "SQL, so this step is SQL too")
                    # What it builds is SQL's too: a later step on it (in this revision
                    # as well) does not fit either.
                    self.as_sql.update(tables_named(item.ops))
                    item = Item((ir.Sql(up=statements(step.sql)),), step.sql, what, True)
            out.append(item)
            for op in item.ops:
                state = self.apply(state, op, direction)
        if data:
            out.append(self._data_item(direction, data))
        return out

    def _data_item(self, direction: str, data: list[str]) -> Item:
        shown = "; ".join(clipped(d, 120) for d in data[:3])
        more = f" (and {len(data) - 3} more)" if len(data) > 3 else ""
        what = f"Python code reads or writes rows: {shown}{more}"
        return Item((self.todo(direction, what),), "", what)

    def apply(self, state: SchemaState, op: ir.Operation, direction: str) -> SchemaState:
        try:
            return apply(state, op)
        except StateError as exc:
            self.findings.append(Finding(self.rev, self.file, direction,
                                         f"{op.kind} does not fit the schema replayed so far: "
                                         f"{exc.message}"))
            return state

    def merged(self, runs: dict[str, Run], online: Run | None, state: SchemaState,
               direction: str) -> list[ir.Operation]:
        """The operations of one direction: common ones as they are, the parts that differ
        by database as `sql` scoped with `dialects:`; the tables their SQL builds or alters
        noted (`as_sql`: a later step on one that does not fit is SQL too)."""
        ops = self._merged(runs, online, state, direction)
        for op in ops:
            if isinstance(op, ir.Sql):
                self.as_sql.update(tables_in_sql(op.up))
        return ops

    def _merged(self, runs: dict[str, Run], online: Run | None, state: SchemaState,
                direction: str) -> list[ir.Operation]:
        databases = _databases()
        maria = runs.pop(MARIADB, None)
        if any(r.error for r in runs.values()):
            error = online.error if online else next(r.error for r in runs.values() if r.error)
            if online is None or (online.error and direction == "upgrade"):
                # Alembic itself could not upgrade through this revision.
                hint = None
                if "no such table" in str(error):
                    # JupyterHub's and MLflow's histories start from tables their application
                    # made with metadata.create_all() before the first revision.
                    hint = ("the history does not build its schema from an empty database: "
                            "its first tables come from elsewhere (metadata.create_all() before "
                            "the first revision?). Add a first revision that creates them, "
                            "then import again")
                raise ImportFailed(f"Alembic revision {self.rev}: {direction}() raised: "
                                   f"{error}", hint=hint)
            items = self.items(online, state, databases[0][1], direction)
            self._list_findings([(databases[0][2], items)], direction)
            ops = [op for it in items for op in it.ops]
            # It asks the database it runs on (the offline runs, one per database, failed):
            # what it did on a scratch SQLite database is no answer for the others, which a
            # branch on the database's name or on what the inspector finds may take another
            # way (MLflow's and JupyterHub's histories do). Never written as if it were.
            offline = next(r.error for r in runs.values() if r.error) or ""
            # (The revision file named as the note names it, not by its absolute path.)
            first = (offline.strip().splitlines() or ["it raised"])[0]
            reason = clipped(first.replace(str(self.s.path), self.file), 160)
            did = "the operations after this note are what it did there" if ops else (
                "it did nothing there")
            # Not where a note in the changeset (not a finding alone: Dagster's 037) says it
            # needs a hand, unless the offline runs, as far as they went, did otherwise than
            # the scratch database (MLflow branches on the database, then reads rows).
            noted = any(isinstance(op, ir.Sql) and any(TODO_MARK in s for s in op.up)
                        for op in ops)
            if not online.error and (not noted or branched(
                    self, runs, online, state, databases, direction)):
                ops.insert(0, self.todo(direction, f"{direction}() asks the database it runs on "
                                        f"({reason}), so it ran on a scratch SQLite database "
                                        f"only: {did}; check what it does on each of your "
                                        "databases"))
            if online.error:  # a broken downgrade: what ran before the error, and a note
                ops.append(self.todo(direction, f"raised {online.error}; the rest of "
                                                f"{direction}() is not translated"))
            return ops
        lists = [(scope, self.items(runs[name], state, dialect, direction))
                 for name, dialect, scope in databases]
        self._list_findings(lists, direction)
        ops = merge(lists, lambda it, scope: self._scoped(it, scope, direction))
        mysql = next((items for scope, items in lists if scope == ("mysql",)), None)
        if maria is None or maria.error or mysql is None:
            return ops
        return mariadb_apart(self, ops, mysql, maria, state, direction)

    def _list_findings(self, lists: list[tuple[Scope, list[Item]]], direction: str) -> None:
        """What the items of each database found and no note listed yet, each once: a part
        written as Alembic's SQL on some databases and as a note on the others (where
        Alembic writes no SQL for it offline) is one finding saying which."""
        found: dict[str, tuple[set[str], set[str]]] = {}
        for scope, items in lists:
            for it in items:
                if it.finding and not any(f.message == it.finding for f in self.findings):
                    as_sql, noted = found.setdefault(it.finding, (set(), set()))
                    (as_sql if it.as_sql else noted).add(scope[0])
        for what, (as_sql, noted) in found.items():
            if as_sql and noted:
                sql_on, noted_on = (" and ".join(sorted(x)) for x in (as_sql, noted))
                what += (f"; written as the SQL Alembic generates for {sql_on}, as a note on "
                         f"{noted_on} (Alembic writes no SQL for it there)")
            elif as_sql:
                what += "; written as the SQL Alembic generates for each database"
            self.findings.append(Finding(self.rev, self.file, direction, what))

    def _scoped(self, it: Item, scope: Scope, direction: str) -> tuple[ir.Operation, ...]:
        if all(isinstance(op, ir.Sql) for op in it.ops):
            return tuple(replace(op, dialects=scope) for op in it.ops
                         if isinstance(op, ir.Sql))
        if it.sql.strip():
            return (ir.Sql(up=statements(it.sql), dialects=scope),)
        kinds = ", ".join(op.kind for op in it.ops)
        return (replace(self.todo(direction, f"{kinds} differs on {scope[0]} and Alembic "
                                  "writes no SQL for it offline"), dialects=scope),)


# A revision file's `Create Date:` line (its docstring), for the changeset's header.
_DATE = re.compile(r"^\s*Create Date:\s*(.+?)\s*$", re.M)


def import_alembic(path: Path, convention: dict[str, Any] | None = None) -> Imported:
    """The changesets an Alembic history becomes (nothing is written here); `convention`:
    the naming convention env.py's target_metadata gives Alembic's operations (the
    configured models')."""
    config, script = load_script(path)
    root = Path(script.dir).resolve().parent
    order = revisions(script)
    if not order:  # (it imported nothing and said so with exit 0: prefect's subfolders)
        raise ImportFailed(
            f"{script.dir}: Alembic finds no revision there",
            hint="revisions in subfolders of versions/ need `recursive_version_locations = "
                 "true` (or `version_locations`) in the alembic.ini given")
    ids: dict[str, str] = {}
    for s in order:
        cid = changeset_id(s.revision)
        if cid in ids.values():
            raise ImportFailed(f"Alembic revisions {s.revision} and "
                               f"{next(r for r, c in ids.items() if c == cid)} both become "
                               f"the changeset id {cid}")
        ids[s.revision] = cid
    databases = _databases()
    as_sql: set[str] = set()
    target, names = conventions(convention)
    runner = Runner(config, script, target)
    result = Imported([], [])
    if convention is None:
        result.findings += unknown_convention(Path(script.dir), root)
    after: dict[str, SchemaState] = {}
    ops_of: dict[str, list[ir.Operation]] = {}
    try:
        for s in order:
            rev = _Revision(script, s, root, as_sql, names)
            if not callable(getattr(s.module, "upgrade", None)):
                raise ImportFailed(f"{s.path}: Alembic revision {s.revision} has no upgrade()")
            before = _state_before(s, rev.deps, order, after, ops_of)
            up_runs = {name: runner.offline(s.module.upgrade, s.path, name)
                       for name, _, _ in databases}
            up_runs[MARIADB] = runner.offline(s.module.upgrade, s.path, "mysql", mariadb())
            online_up = runner.online(s.module.upgrade, s.path, keep=True)
            up = enum_types_made(rev.merged(up_runs, online_up, before, "upgrade"), before)
            state = before
            for op in up:
                state = rev.apply(state, op, "upgrade")
            up += batch_kept(rev, runner, online_up, before, state)
            after[s.revision], ops_of[s.revision] = state, up
            down_fn = getattr(s.module, "downgrade", None)
            down: list[ir.Operation] = []
            if down_fn is not None:
                down_runs = {name: runner.offline(down_fn, s.path, name)
                             for name, _, _ in databases}
                down_runs[MARIADB] = runner.offline(down_fn, s.path, "mysql", mariadb())
                online_down = (runner.online(down_fn, s.path, keep=False)
                               if any(r.error for r in down_runs.values()) else None)
                down = enum_types_made(rev.merged(down_runs, online_down, state, "downgrade"),
                                       state)
            if not down and down_fn is not None:  # Alembic undid nothing here: nor does its SQL
                nothing = (f"-- nothing: downgrade() of Alembic revision {s.revision} is empty",)
                up = [replace(op, down=nothing) if isinstance(op, ir.Sql) and op.down is None
                      else op for op in up]
            # No downgrade() (Keystone's): Alembic cannot downgrade past it, nor can rollback.
            rollback = (rev.todo("downgrade", "the revision has no downgrade(), so Alembic "
                                 "cannot downgrade past it; write its rollback here, or delete "
                                 "this note to roll back by the automatic inverse"),
                        ) if down_fn is None else explicit_rollback(up, down, before, state)
            result.changesets.append((_changeset(s, rev, ids, up, rollback),
                                      _header(s, rev.file)))
            result.findings.extend(rev.findings)
    finally:
        runner.close()
    return result


def _state_before(s: Any, deps: tuple[str, ...], order: list[Any],
                  after: dict[str, SchemaState], ops_of: dict[str, list[ir.Operation]],
                  ) -> SchemaState:
    """The schema a revision meets: its parent's, or the replay of all its ancestors."""
    need = (*parents_of(s), *deps)
    if not need:
        return SchemaState()
    if len(need) == 1:
        return after[need[0]]
    by_id = {x.revision: x for x in order}
    ancestors: set[str] = set()
    stack = list(need)
    while stack:
        r = stack.pop()
        if r not in ancestors:
            ancestors.add(r)
            stack.extend(parents_of(by_id[r]))
    state = SchemaState()
    for x in order:
        if x.revision in ancestors:
            for op in ops_of[x.revision]:
                with contextlib.suppress(StateError):  # reported with its own revision
                    state = apply(state, op)
    return state


def _changeset(s: Any, rev: _Revision, ids: dict[str, str], up: list[ir.Operation],
               rollback: tuple[ir.Operation, ...] | None) -> ir.Changeset:
    labels = getattr(s.module, "branch_labels", None) or ()
    parents = tuple(ids[p] for p in parents_of(s))
    message = " ".join((s.doc or "").split()) or f"Alembic revision {s.revision}"
    return ir.Changeset(
        id=ids[s.revision], parents=parents, message=message, operations=tuple(up),
        depends_on=tuple(ids[d] for d in rev.deps if d not in parents_of(s)),
        branch_labels=(labels,) if isinstance(labels, str) else tuple(labels),
        rollback=rollback,
        lint_ignore=("SF014",) if not up and len(parents) < 2 else ())


def _header(s: Any, file: str) -> str:
    match = _DATE.search(s.module.__doc__ or "")
    date = f", created {match.group(1)}" if match else ""
    return f"# Imported from Alembic revision {s.revision} ({file}{date}).\n"
