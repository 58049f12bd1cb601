"""Checks over the replayed history: references, rollbacks, merges; each with a stable code."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import TYPE_CHECKING

from . import ir
from .cache import summary
from .defaults import HINT as DEFAULT_HINT
from .defaults import findings as default_findings
from .errors import Diagnostic, StateError, UsageError
from .history import History
from .importers import NOTE_HINT, import_notes
from .lintstate import States, remember_heads
from .lintstate import diag as _diag
from .reverse import Irreversible, reverse_changeset
from .rules import RULES, LintContext, OpContext, analyze, selected
from .state import SchemaState, TableKey, apply

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .lintcache import Remembered


Keep = Callable[[str, tuple[str, ...]], bool]  # (code, the changeset's ignores) → reported?


def check(history: History, ctx: LintContext | None = None, *,
          select: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
          error: tuple[str, ...] = (), rules: bool = True, skip: Collection[str] = (),
          after: Callable[[str], SchemaState] | None = None,
          remembered: Remembered | None = None) -> list[Diagnostic]:
    """Every reference, rollback and safety problem in the history, in history order.

    `error` lists codes (or prefixes) whose warnings the project treats as errors.
    `rules=False` skips the safety analyzers (warnings only): what apply needs to know is
    whether the history can run at all. The changesets in `skip` are not checked (their
    results are known), and `after(cid)` gives the schema after one of them that a checked
    changeset builds on. With `remembered`, what an earlier run found in a changeset (see
    `lintcache`) is reported without checking it again, and what is checked is remembered."""
    if remembered is not None:
        try:
            diags = _check(history, ctx, select, ignore, rules, skip, after, remembered)
        except _Recheck:  # a remembered changeset's schema cannot be rebuilt: check all
            diags = _check(history, ctx, select, ignore, rules, skip, after, None)
        else:
            remembered.save()
    else:
        diags = _check(history, ctx, select, ignore, rules, skip, after, None)
    if error:
        diags = [replace(d, severity="error") if d.severity == "warning" and any(
            d.code.startswith(e) for e in error) else d for d in diags]
    return diags


class _Recheck(Exception):
    """A changeset builds on remembered ones whose operations do not all replay (they have
    errors of their own): their schema is rebuilt only by checking them again."""


def _check(history: History, ctx: LintContext | None, select: tuple[str, ...],
           ignore: tuple[str, ...], rules: bool, skip: Collection[str],
           after: Callable[[str], SchemaState] | None,
           remembered: Remembered | None) -> list[Diagnostic]:
    from . import lintsplit

    g = history.graph
    if remembered is not None:
        after = _replayed(history, after)
    checker = Checker(history, ctx or LintContext(), select, ignore, rules, after)
    diags: list[Diagnostic] = []
    # A long history checked afresh (a fresh clone, a new schemaflow): parts of it on the
    # other cores, each from the schemas a replay of what comes before it gives.
    split = lintsplit.start(checker, g.order) if not skip and (
        remembered is None or not remembered.known()) else None
    if split is None:
        for cid in g.order:
            if cid not in skip:
                checker.check(cid, diags, remembered)
    else:
        split.finish(diags, remembered)
    if remembered is not None and checker.computed and checker.replays and not any(
            d.severity == "error" or d.code == "SF013" for d in diags):
        remember_heads(history, checker.states.heads)
        if split is not None:
            split.remember_heads()
    if len(g.heads) > 1 and checker.keep("SF401", ()):
        last = g.heads[-1]
        diags.append(_diag(
            history, last, (), "SF401",
            f"the history has {len(g.heads)} heads: {', '.join(g.heads)}",
            "join them with: schemaflow merge -m MESSAGE"))
    return diags


class Checker:
    """The history check, one changeset at a time in history order, with the schemas a
    later changeset still needs."""

    def __init__(self, history: History, ctx: LintContext, select: tuple[str, ...],
                 ignore: tuple[str, ...], rules: bool,
                 after: Callable[[str], SchemaState] | None) -> None:
        self.history = history
        self.ctx = ctx
        self.select, self.ignore = select, ignore
        self.rules = rules
        self.states = States(history, after)
        self.computed = False  # a head was checked in this run
        self.replays = True  # no operation checked in this run failed (states are a replay's)

    def keep(self, code: str, cs_ignore: tuple[str, ...]) -> bool:
        """Whether a finding of `code` in a changeset ignoring `cs_ignore` is reported."""
        if code not in RULES and code not in _SELECTABLE:
            return True  # reference errors make a changeset impossible to run: always on
        return selected(code, self.select, self.ignore + cs_ignore)

    def check(self, cid: str, diags: list[Diagnostic], remembered: Remembered | None = None
              ) -> tuple[int, set[int]]:
        """Check changeset `cid`, adding what it finds to `diags` (what the changeset's own
        check found first, then where it stands). Returns where its placement findings
        start in `diags` and the ids of the findings only the rules add."""
        history, keep = self.history, self.keep
        g = history.graph
        found = remembered.get(cid) if remembered is not None else None
        if found is not None:
            diags += found
            self.states.release(cid)
            header = summary(g.by_id, cid)[0]  # not revived: its header is all it needs
            placed = len(diags)
            _placement(history, cid, header[1], header[8], keep, diags)
            return placed, set()
        cs = g[cid]
        start = len(diags)
        rules_only: set[int] = set()
        rules = self.rules
        ctx = self.ctx
        before = self.states.before(cid, diags)
        state, failed = _operations(history, cs, before, ctx if rules else None, keep, diags,
                                    rules_only)
        self.replays = self.replays and not failed
        if not cs.operations and len(cs.parents) < 2 and keep("SF014", cs.lint_ignore):
            diags.append(_diag(
                history, cid, ("operations",), "SF014", "the changeset has no operations "
                "(only a merge may have none)", "add its operations (`new --autogenerate` "
                "writes them from the models), or delete the file"))
        _rollback(history, cs, before, state, failed, keep, diags,
                  ctx.support if rules else None, rules_only)
        _import_notes(history, cs, keep, diags)
        if remembered is not None:
            remembered.put(cid, diags[start:], rules_only)
        placed = len(diags)
        _placement(history, cid, cs.parents, cs.lint_ignore, keep, diags)
        self._keep_state(cid, before, state)
        return placed, rules_only

    def replay(self, cid: str) -> None:
        """Only the schema after `cid`, as `check` builds it (an operation that does not fit
        is left out), for a later changeset to start from."""
        before = self.states.before(cid, [])
        state = before
        for op in self.history.graph[cid].operations:
            try:
                state = apply(state, op)
            except StateError:
                self.replays = False
        self._keep_state(cid, before, state, head=False)

    def _keep_state(self, cid: str, before: SchemaState, state: SchemaState,
                    head: bool = True) -> None:
        g = self.history.graph
        if cid not in g.tip_set:  # something builds on it
            self.states.after[cid] = state
        elif head:
            self.computed = True
            self.states.heads[cid] = (before if len(g.all_parents[cid]) == 1 else None, state)


def _replayed(history: History, after: Callable[[str], SchemaState] | None
              ) -> Callable[[str], SchemaState]:
    """The schema after a changeset the check did not replay in this run: from `after`, or
    replayed (from the longest prefix remembered); _Recheck when that replay fails, since
    the check would have gone on past the operations that fail."""
    from .memo import check_order

    g = history.graph

    def replayed(cid: str) -> SchemaState:
        try:
            if after is not None:
                return after(cid)
            return history.memo.replay(g, check_order(g, cid)).state
        except StateError:
            raise _Recheck from None

    return replayed


def _operations(history: History, cs: ir.Changeset, before: SchemaState,
                ctx: LintContext | None, keep: Keep,
                diags: list[Diagnostic], rules_only: set[int]) -> tuple[SchemaState, bool]:
    """Replay a changeset's operations, reporting what does not fit and (with `ctx`) what the
    safety analyzers find (their ids also in `rules_only`); returns the state after it and
    whether an operation failed."""
    state = before
    failed = False
    created: set[TableKey] = set()
    once: set[str] = set()
    for i, op in enumerate(cs.operations):
        where = ("operations", i, op.kind)
        try:
            after = apply(state, op)
        except StateError as exc:
            failed = True
            diags.append(_diag(history, cs.id, where, exc.code, f"{op.kind}: {exc.message}",
                               exc.hint))
            continue
        findings = analyze(op, state, OpContext(cs, created, i, once), ctx) if ctx else []
        for f in findings:
            if keep(f[0], cs.lint_ignore):
                inside = f[3] if len(f) == 4 else ()  # the value it is about, if it says
                diags.append(_diag(history, cs.id, (*where, *inside), f[0], f[1], f[2]))
                rules_only.add(id(diags[-1]))
        # (validate, not the check before apply: the database would refuse them; a rule a
        # changeset may turn off, as for a default create_all() builds: Prefect's)
        if ctx and keep("SF120", cs.lint_ignore):
            defaults = [_diag(history, cs.id, (*where, *sub), "SF120",
                              f"{op.kind} in changeset {cs.id}: {message}", DEFAULT_HINT)
                        # (each column as the target database builds it: a type of its
                        # own there, PostgreSQL's interval, takes what that type takes)
                        for sub, message in default_findings(
                            ctx.support.op_here(op) if ctx.support else op, state,
                            ctx.support.column_here if ctx.support else None)]
            rules_only.update(map(id, defaults))
            diags += defaults
        if isinstance(op, ir.CreateTable):
            created.add((op.schema, op.name))
        state = after
    return state, failed


def _rollback(history: History, cs: ir.Changeset, before: SchemaState, after: SchemaState,
              failed: bool, keep: Keep, diags: list[Diagnostic],
              support: Dialect | None = None, rules_only: set[int] | None = None) -> None:
    """An explicit rollback must fit and restore `before`; without one, the automatic inverse
    must exist (SF201). After a failed operation only the rollback's own fit is checked.
    With a target database, the rollback must be one it can run (SF331)."""
    cid = cs.id
    if cs.rollback is None:
        if not failed and keep("SF201", cs.lint_ignore):
            try:
                inverse = reverse_changeset(cs.operations, before)
            except Irreversible as exc:
                idx = exc.index or 0
                diags.append(_diag(
                    history, cid, ("operations", idx, cs.operations[idx].kind), "SF201",
                    f"the changeset cannot be rolled back: {exc.message}",
                    "add `down:` to the sql operation, or a `rollback:` list to the changeset"))
            else:
                _rollback_runs(history, cs, after, inverse, ("operations",), support, keep,
                               diags, rules_only)
        return
    if not failed:
        _rollback_runs(history, cs, after, cs.rollback, ("rollback",), support, keep, diags,
                       rules_only)
    rolled = after
    rollback_ok = True
    for i, op in enumerate(cs.rollback):
        try:
            rolled = apply(rolled, op)
        except StateError as exc:
            rollback_ok = False
            diags.append(_diag(history, cid, ("rollback", i, op.kind), exc.code,
                               f"rollback {op.kind}: {exc.message}", exc.hint))
    opaque = any(isinstance(op, ir.Sql) for op in (*cs.operations, *cs.rollback))
    if rollback_ok and not failed and not opaque and keep("SF202", cs.lint_ignore):
        from .diff import diff

        try:
            left = diff(rolled, before).operations  # (what turns the rolled-back schema into it)
            needs = ""
        except UsageError as exc:  # a difference no operation writes (a table's charset)
            left, needs = [], exc.message
        if left or needs:
            from .describe import describe

            needs = needs or (f"{len(left)} difference{'s' if len(left) != 1 else ''}; it "
                              f"also needs: {describe(left[0]).lstrip('+-~ ')}")
            diags.append(_diag(
                history, cid, ("rollback",), "SF202",
                f"the rollback does not restore the schema from before the changeset ({needs})",
                "compare it with the automatic inverse: remove `rollback:` to see it"))


def _import_notes(history: History, cs: ir.Changeset, keep: Keep,
                  diags: list[Diagnostic]) -> None:
    """SF016 (a warning: apply and rollback refuse to run such a changeset, `unfinished`):
    a `sql` note an import left where it could not translate does nothing when run.
    Wherever it is scoped (`dialects:`): the import listed it, as work to finish or to
    delete."""
    if not keep("SF016", cs.lint_ignore):
        return
    for part, i, op, what in import_notes(cs, rollback=True):
        diags.append(_diag(history, cs.id, (part, i, op.kind), "SF016",
                           f"a note the import left for a hand, which does nothing when run: "
                           f"{what}", NOTE_HINT))


def _rollback_runs(history: History, cs: ir.Changeset, after: SchemaState,
                   ops: tuple[ir.Operation, ...], path: tuple[object, ...],
                   support: Dialect | None, keep: Keep, diags: list[Diagnostic],
                   rules_only: set[int] | None = None) -> None:
    """SF332 when the target database cannot run the rollback (an enum value PostgreSQL
    cannot remove): found by `validate --dialect`, not when someone rolls back."""
    if support is None or not keep("SF332", cs.lint_ignore):
        return
    state = after
    last = len(ops) - 1
    for i, op in enumerate(ops):
        try:
            support.check(op, state)
            if i < last:  # the state after the last one is not looked at
                state = apply(state, op)
        except UsageError as exc:
            diags.append(_diag(history, cs.id, path, "SF332",
                               f"the rollback cannot run on {support.name}: {op.kind}: "
                               f"{exc.message}", exc.hint))
            if rules_only is not None:  # only a check with a target database finds these
                rules_only.add(id(diags[-1]))
            return
        except StateError:
            return  # reported as the rollback's own fit


def _placement(history: History, cid: str, parents: tuple[str, ...],
               lint_ignore: tuple[str, ...], keep: Keep, diags: list[Diagnostic]) -> None:
    """Where a changeset stands: its file's name (SF006), the histories it merges (SF402)."""
    g = history.graph
    name = history.files.get(cid)
    if name is not None and os.path.basename(name).startswith(cid + "_"):
        name = None  # the usual name, `<id>_<slug>.yaml`: nothing more to look at
    stem = None if name is None else os.path.splitext(os.path.basename(name))[0]
    if stem is not None and not (stem == cid or stem.startswith(cid + "_")) and (
            keep("SF006", lint_ignore)):
        suffix = os.path.splitext(name or "")[1]
        diags.append(_diag(
            history, cid, ("id",), "SF006", f"the file name does not start with the id "
            f"'{cid}'", f"rename the file to {cid}_{_slug(stem)}{suffix}"))
    if len(parents) > 1 and keep("SF402", lint_ignore):
        shared = g.ancestors([parents[0]])
        for other in parents[1:]:
            if not shared & g.ancestors([other]):
                diags.append(_diag(
                    history, cid, ("parents",), "SF402",
                    f"merges {parents[0]} and {other}, which share no history",
                    "merging two unrelated histories is usually a mistake"))


def _slug(stem: str) -> str:
    """The descriptive part of a file name (what follows a leading id, if any)."""
    head, sep, tail = stem.partition("_")
    return tail if sep and re.fullmatch(r"[A-Za-z0-9]+", head) and any(
        c.isdigit() for c in head) else stem


# Non-rule codes that a project may still switch off (SF120: a default create_all() builds
# where it is no value of the type, Prefect's '0' of an interval on SQLite).
_SELECTABLE = ("SF014", "SF016", "SF120", "SF201", "SF202", "SF332")
