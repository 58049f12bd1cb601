"""The Python facade: what the CLI (and users' code) call. No module-level state."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config as config_mod
from . import ir
from .errors import Diagnostic, DriftError, SchemaflowError, UsageError, ValidationFailed
from .graph import Relative
from .history import History, load
from .ir import checksum
from .source import dumps, write

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .db import AppliedRow
    from .execute import ItemResult, Plan

Notify = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of apply / rollback: what ran, or the SQL of what would."""

    direction: str
    results: list[ItemResult] = field(default_factory=list)
    plan: Plan | None = None
    sql: str | None = None


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

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in ((f, getattr(self, f)) for f in self.__slots__)}


class Project:
    """One project (settings + changesets + database) to run commands on."""

    def __init__(self, settings: config_mod.Settings, *, lock_timeout: float = 60.0,
                 notify: Notify | None = None) -> None:
        self.settings = settings
        self.lock_timeout = lock_timeout
        self.notify = notify or (lambda _msg: None)
        self._history: History | None = None

    @classmethod
    def from_config(cls, *, config: str | None = None, url: str | None = None,
                    cwd: Path | None = None, **kwargs: Any) -> Project:
        """A project from the configuration found at or above `cwd`."""
        return cls(config_mod.load(config=config, url=url, cwd=cwd), **kwargs)

    @property
    def shown_url(self) -> str:
        """The database URL, password hidden."""
        return config_mod.hide_password(self.settings.url)

    # --- changesets ----------------------------------------------------------------------

    @property
    def history(self) -> History:
        """The loaded, validated history (loaded once per Project)."""
        if self._history is None:
            self._history = load(self.settings.changesets)
        return self._history

    def validate(self, paths: Sequence[Path] | None = None, *, database: bool = False,
                 dialect: str | None = None,
                 server_version: tuple[int, ...] | None = None) -> list[Diagnostic]:
        """Every problem in the changesets (and, with `database`, checksum drift)."""
        from .lint import check

        try:
            history = load(self.settings.changesets)
        except ValidationFailed as exc:
            diags = exc.diagnostics
        else:
            self._history = history
            ctx, notes = self._lint_context(dialect, server_version)
            diags = notes + check(history, ctx, select=self.settings.lint_select,
                                  ignore=self.settings.lint_ignore)
            if database:
                diags += self._database_diagnostics()
        if paths:
            wanted = {os.path.realpath(p) for p in paths}
            diags = [d for d in diags if d.file is None or os.path.realpath(d.file) in wanted]
        return diags

    def _lint_context(self, dialect: str | None, server_version: tuple[int, ...] | None
                      ) -> tuple[Any, list[Diagnostic]]:
        """What the linter knows: the target database and, when configured, the models."""
        from .rules import LintContext

        notes: list[Diagnostic] = []
        models = None
        if self.settings.models:
            try:
                models = self.models_state()
            except SchemaflowError as exc:
                notes.append(Diagnostic(code="SF024", severity="warning",
                                        message=f"models not compared: {exc.message}"))
        from .support import support_for

        support = support_for(dialect, server_version) if dialect else None
        return LintContext(dialect=support.name if support else None,
                           server_version=server_version, models=models,
                           support=support), notes

    def _database_diagnostics(self) -> list[Diagnostic]:
        try:
            rows = self.applied_rows()
        except SchemaflowError as exc:
            return [Diagnostic(code="SF022", severity="warning",
                               message=f"checksums not compared: {exc.message}")]
        return self.drift(rows)

    def _checked_history(self) -> History:
        """The history, refusing to run when it has errors."""
        from .lint import check

        history = self.history
        errors = [d for d in check(history, rules=False) if d.severity == "error"]
        if errors:
            raise ValidationFailed(errors)
        return history

    def info(self, cid: str, applied: set[str] | None = None) -> ChangesetInfo:
        """Listing details of one changeset."""
        g = self.history.graph
        cs = g[cid]
        return ChangesetInfo(
            id=cs.id, message=cs.message, parents=cs.parents, path=cs.path,
            applied=None if applied is None else cid in applied,
            is_head=cid in g.heads, tag=cs.tag, branch_labels=cs.branch_labels,
            depends_on=cs.depends_on, author=cs.author,
            operations=cs.operation_kinds)

    def heads(self) -> list[ChangesetInfo]:
        """The heads of the history."""
        return [self.info(h) for h in self.history.graph.heads]

    def branches(self) -> list[tuple[ChangesetInfo, list[str]]]:
        """Branch points and their children."""
        g = self.history.graph
        return [(self.info(b), list(g.children[b])) for b in g.branch_points()]

    def show(self, target: str) -> ChangesetInfo:
        """One changeset, by any target that names exactly one."""
        g = self.history.graph
        ids = g.resolve(target)
        if isinstance(ids, Relative) or len(ids) != 1:
            raise UsageError(f"'{target}' does not name one changeset")
        return self.info(ids[0])

    def history_list(self, rng: str | None = None) -> list[ChangesetInfo]:
        """Changesets newest first, optionally within `START:END`."""
        g = self.history.graph
        ids = list(reversed(g.order))
        if rng:
            start, sep, end = rng.partition(":")
            if not sep:
                raise UsageError(f"bad range '{rng}'", hint="use START:END, START: or :END")
            upper = set(g.ancestors(self._ids(end))) if end else set(g.order)
            if start:
                lower_ids = self._ids(start)
                lower = set(lower_ids).union(*(g.descendants(i) for i in lower_ids))
                upper &= lower
            ids = [i for i in ids if i in upper]
        return [self.info(i) for i in ids]

    def _ids(self, target: str) -> list[str]:
        resolved = self.history.graph.resolve(target)
        if isinstance(resolved, Relative):
            raise UsageError(f"a relative target ({target}) is not allowed here")
        return resolved

    # --- writing changesets --------------------------------------------------------------

    def _new_id(self, existing: set[str]) -> str:
        from .source import loads

        while True:
            cid = secrets.token_hex(6)
            # An id that YAML would read as a number is avoided, as is a collision.
            if cid not in existing and isinstance(loads(cid, "yaml", "<id>"), str):
                return cid

    def _folder_has_files(self) -> bool:
        from .source import list_files

        return bool(list_files(self.settings.changesets))

    def _schema_ref(self, fmt: str) -> str | None:
        root = self.settings.root
        for candidate in (root / "schemas" / "changeset.schema.json",
                          root / ".schemaflow" / "changeset.schema.json"):
            if candidate.is_file():
                return os.path.relpath(candidate, self.settings.changesets)
        return None

    def write_changeset(self, cs: ir.Changeset, fmt: str | None = None) -> Path:
        """Write a changeset file into the folder; returns its path."""
        fmt = fmt or self.settings.format
        if fmt not in ("yaml", "toml"):
            raise UsageError(f"unknown format '{fmt}'", hint="yaml or toml")
        slug = re.sub(r"[^a-z0-9]+", "_", cs.message.lower()).strip("_")[:40] or "changeset"
        path = self.settings.changesets / f"{cs.id}_{slug}.{fmt}"
        text = dumps(ir.dump(cs), "toml" if fmt == "toml" else "yaml", self._schema_ref(fmt))
        write(path, text)
        self._history = None
        self._run_hooks(path)
        return path

    def _run_hooks(self, path: Path) -> None:
        import shlex
        import subprocess

        for hook in self.settings.post_write_hooks:
            cmd = hook.replace("{file}", shlex.quote(str(path)))
            done = subprocess.run(cmd, shell=True, cwd=self.settings.root, check=False)
            if done.returncode != 0:
                self.notify(f"post-write hook failed ({done.returncode}): {hook}")

    def new(self, message: str, *, parents: Sequence[str] = (), branch_labels: Sequence[str] = (),
            depends_on: Sequence[str] = (), fmt: str | None = None,
            operations: Sequence[ir.Operation] = ()) -> Path:
        """Write a new changeset after the single head (or the given parents)."""
        existing: set[str] = set()
        if self._folder_has_files():
            g = self.history.graph
            existing = set(g.by_id)
            parent_ids = [g.resolve_id(p) for p in parents] if parents else (
                [g.single_head()] if g.heads else [])
            deps = [g.resolve_id(d) for d in depends_on]
        else:
            if parents or depends_on:
                raise UsageError("there are no changesets yet to be parents or dependencies")
            parent_ids, deps = [], []
        cs = ir.Changeset(id=self._new_id(existing), parents=tuple(parent_ids), message=message,
                          operations=tuple(operations), depends_on=tuple(deps),
                          branch_labels=tuple(branch_labels))
        return self.write_changeset(cs, fmt)

    def merge(self, message: str, targets: Sequence[str] = ()) -> Path:
        """Write a merge changeset whose parents are the given (default: all) heads."""
        g = self.history.graph
        ids = [g.resolve_id(t) for t in targets] if targets else list(g.heads)
        if len(ids) < 2:
            raise UsageError("nothing to merge: there is only one head" if not targets else
                             "a merge needs at least two changesets")
        cs = ir.Changeset(id=self._new_id(set(g.by_id)), parents=tuple(ids), message=message,
                          operations=())
        return self.write_changeset(cs)

    def squash(self, start: str, end: str, message: str, *, concat: bool = False) -> Path:
        """Replace the linear range START..END with one equivalent changeset; returns its path.

        The new changeset lists the old ids in `replaces`: databases that applied the whole
        range count it as applied, and changesets after the range keep their parents.
        """
        from .diff import diff

        history = self._checked_history()
        g = history.graph
        first, last = g.resolve_id(start), g.resolve_id(end)
        span = [c for c in g.order if c in (g.ancestors([last]) & ({first} | g.descendants(first)))]
        if first not in span:
            raise UsageError(f"{end} does not come after {start}")
        inside = set(span)
        for cid in span:
            cs = g[cid]
            if cid != first and (len(cs.all_parents) != 1 or cs.all_parents[0] not in inside):
                raise UsageError(f"changeset {cid} has parents outside {start}..{end}: only a "
                                 "straight line of changesets can be squashed")
            outside = [d for d in g.dependents[cid] if d not in inside]
            if cid != last and outside:
                raise UsageError(f"changeset {outside[0]} builds on {cid} from outside the range")
        ops_in_range = [op for cid in span for op in g[cid].operations]
        opaque = [op.kind for op in ops_in_range
                  if isinstance(op, (ir.Sql, ir.InsertRows, ir.DeleteRows))]
        if concat:
            operations = tuple(ops_in_range)
        elif opaque:
            raise UsageError(
                f"the range holds {', '.join(sorted(set(opaque)))} operations, which the schema "
                "alone cannot carry", hint="use --concat to keep every operation, in order")
        else:
            before = history.replay(g.ancestors(g[first].all_parents))
            after = history.replay(g.ancestors([last]))
            operations = tuple(diff(before, after).operations)
        cs = ir.Changeset(
            id=self._new_id(set(g.by_id)), parents=g[first].parents, message=message,
            operations=operations, depends_on=g[first].depends_on,
            branch_labels=tuple(dict.fromkeys(b for c in span for b in g[c].branch_labels)),
            tag=g[last].tag, replaces=tuple(span))
        path = self.write_changeset(cs)
        for cid in span:
            os.unlink(history.files[cid])
        self._history = None
        return path

    # --- the database --------------------------------------------------------------------

    def _vt(self) -> Any:
        from .db import version_table

        return version_table(self.settings.version_table, self.settings.version_table_schema)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        from .db import connect, create_engine

        engine = create_engine(self.settings.url, lock_timeout=self.lock_timeout)
        try:
            with connect(engine) as conn:
                yield conn
        finally:
            engine.dispose()

    def applied_rows(self) -> list[AppliedRow]:
        """The version table's rows (empty when the database or the table does not exist)."""
        from .config import sqlite_missing

        if sqlite_missing(self.settings.url):
            return []
        from .versions import read_rows

        settings = self.settings
        rows = read_rows(settings.url, settings.version_table, settings.version_table_schema,
                         timeout=self.lock_timeout)
        if rows is not None:
            return self._effective(rows)
        from .db import has_table, read_applied

        with self._connection() as conn:
            vt = self._vt()
            if not has_table(conn, vt):
                return []
            return self._effective(read_applied(conn, vt))

    def _effective(self, rows: list[AppliedRow]) -> list[AppliedRow]:
        """Rows as the graph sees them: the rows of a squashed range count as its replacement."""
        g = self.history.graph
        if not g.replaced_by:
            return rows
        by_id = {r.id: r for r in rows}
        out = [r for r in rows if r.id not in g.replaced_by]
        for new in sorted(set(g.replaced_by.values())):
            olds = g[new].replaces
            have = [by_id[o] for o in olds if o in by_id]
            if not have or new in by_id:
                continue
            if len(have) < len(olds):
                missing = ", ".join(o for o in olds if o not in by_id)
                raise DriftError(
                    f"the database applied only part of the changesets squashed into {new} "
                    f"(not {missing})",
                    hint="check out the original changesets (from version control), apply up "
                         "to the end of the squashed range, then return to this history")
            last = max(have, key=lambda r: r.exec_order)
            out.append(last._replace(id=new, checksum=checksum(g[new]),
                                     message=g[new].message))
        return sorted(out, key=lambda r: r.exec_order)

    def drift(self, rows: Sequence[AppliedRow]) -> list[Diagnostic]:
        """Applied changesets that are missing from the folder or were edited since."""
        g = self.history.graph
        diags = [Diagnostic(
            code="SF021", changeset=r.id,
            message=f"changeset {r.id} is applied to the database but its file is not in "
                    f"{self._folder()}",
            hint="restore the file (from version control); if it was removed on purpose, "
                 "roll the database back first or run: schemaflow stamp <target> --purge")
            for r in rows if r.id not in g.by_id]
        for r in rows:
            if r.id in g.by_id and r.checksum != checksum(g[r.id]):
                diags.append(Diagnostic(
                    code="SF020", changeset=r.id, file=g[r.id].path, line=1,
                    message=f"changeset {r.id} was edited after it was applied "
                            f"(applied {r.applied_at:%Y-%m-%d %H:%M} UTC)"
                    if r.applied_at else f"changeset {r.id} was edited after it was applied",
                    hint="revert the edit and put the change in a new changeset, or accept it "
                         f"with: schemaflow rehash {r.id}"))
        return diags

    def _check_drift(self, rows: Sequence[AppliedRow]) -> None:
        diags = self.drift(rows)
        if diags:
            ids = ", ".join(f"{d.changeset}" + (f" ({d.file})" if d.file else "") for d in diags)
            kinds = {d.code for d in diags}
            what = ("were edited after they were applied" if kinds == {"SF020"} else
                    "are missing from the changesets folder" if kinds == {"SF021"} else
                    "were edited or are missing")
            raise DriftError(f"applied changesets {what}: {ids}",
                             hint=" / ".join(dict.fromkeys(d.hint or "" for d in diags)))

    def _folder(self) -> str:
        return os.path.relpath(self.settings.changesets)

    def current(self) -> tuple[list[ChangesetInfo], list[AppliedRow]]:
        """The applied heads, and every version row."""
        rows = self.applied_rows()
        g = self.history.graph
        applied = {r.id for r in rows}
        return [self.info(h, applied) for h in g.heads_of(applied)], rows

    def status(self) -> list[ChangesetInfo]:
        """The changesets not yet applied, in the order apply would run them."""
        rows = self.applied_rows()
        applied = {r.id for r in rows}
        g = self.history.graph
        return [self.info(i, applied) for i in g.upgrade_plan(g.heads, applied)]

    def _targets_up(self, target: str | None, applied: set[str]) -> list[str]:
        g = self.history.graph
        resolved = g.resolve(target or "heads")
        if isinstance(resolved, Relative):
            if resolved.steps < 0:
                raise UsageError(f"apply cannot go back ({target})",
                                 hint=f"use: schemaflow rollback {target}")
            return g.upgrade_plan(g.heads, applied)[: resolved.steps]
        return g.upgrade_plan(resolved, applied)

    def _targets_down(self, target: str, rows: Sequence[AppliedRow]) -> list[str]:
        g = self.history.graph
        applied = {r.id for r in rows}
        resolved = g.resolve(target)
        if isinstance(resolved, Relative):
            if resolved.steps > 0:
                raise UsageError(f"rollback cannot go forward ({target})",
                                 hint=f"use: schemaflow apply {target}")
            newest_first = [r.id for r in sorted(rows, key=lambda r: -r.exec_order)]
            steps = -resolved.steps
            if steps > len(newest_first):
                raise UsageError(f"cannot roll back {steps} changesets: only "
                                 f"{len(newest_first)} are applied")
            chosen = newest_first[:steps]
            # Everything built on a chosen changeset must go first.
            extra = {d for c in chosen for d in g.descendants(c) if d in applied}
            return list(reversed(g.ordered(set(chosen) | extra)))
        return g.downgrade_plan(resolved, applied)

    def _renderer(self, dialect: str, server_version: tuple[int, ...] | None) -> Any:
        from .render import renderer_for

        return renderer_for(dialect, server_version)

    def apply(self, target: str | None = None, *, dry_run: bool = False,
              on_item: Callable[[ItemResult], None] | None = None) -> RunResult:
        """Apply pending changesets up to `target` (default: every head)."""
        return self._run("apply", target, dry_run=dry_run, on_item=on_item)

    def rollback(self, target: str, *, dry_run: bool = False,
                 on_item: Callable[[ItemResult], None] | None = None) -> RunResult:
        """Reverse applied changesets down to `target`."""
        return self._run("rollback", target, dry_run=dry_run, on_item=on_item)

    def _run(self, direction: str, target: str | None, *, dry_run: bool,
             on_item: Callable[[ItemResult], None] | None) -> RunResult:
        from . import db
        from .execute import plan_apply, plan_rollback, run, to_sql

        if dry_run and config_mod.sqlite_missing(self.settings.url):
            # Nothing exists yet: a dry run must not create the file by connecting to it.
            if direction == "rollback":
                return RunResult(direction, sql="-- nothing is applied: nothing to roll back\n")
            return self.offline_sql(direction, target, "sqlite")
        history = self._checked_history()
        vt = self._vt()
        with self._connection() as conn:
            renderer = self._conn_renderer(conn)
            lock = (db.locked(conn, vt.name, self.lock_timeout, self.shown_url, self.notify)
                    if not dry_run else _nothing())
            with lock:
                exists = db.has_table(conn, vt)
                if conn.in_transaction():
                    conn.rollback()
                if not exists and not dry_run:
                    db.ensure_table(conn, vt)
                rows = self._effective(db.read_applied(conn, vt)) if exists else []
                self._check_drift(rows)
                applied = {r.id for r in rows}
                if direction == "apply":
                    ids = self._targets_up(target, applied)
                    plan = plan_apply(history, ids, applied, renderer)
                else:
                    assert target is not None
                    ids = self._targets_down(target, rows)
                    plan = plan_rollback(history, ids, applied, renderer)
                if dry_run:
                    sql = to_sql(plan, conn.dialect, vt, create_version_table=not exists,
                                 renderer=renderer, start_order=len(rows))
                    return RunResult(direction, plan=plan, sql=sql)
                return RunResult(direction, run(conn, vt, plan, on_item,
                                                serialised=db.has_run_lock(conn)), plan=plan)

    def offline_sql(self, direction: str, target: str | None, dialect: str | None = None,
                    server_version: tuple[int, ...] | None = None) -> RunResult:
        """The SQL of apply/rollback without a database: from base (or `FROM:` in the target)."""
        from sqlalchemy.engine import make_url

        from .execute import plan_apply, plan_rollback, to_sql
        from .render import sa_dialect

        history = self._checked_history()
        g = history.graph
        if dialect is None:
            try:
                dialect = make_url(self.settings.url).get_backend_name()
            except Exception as exc:
                raise UsageError(f"cannot tell the dialect from the URL: {exc}",
                                 hint="give --dialect") from None
        renderer = self._renderer(dialect, server_version)
        start, _, end = (target or "").rpartition(":") if target and ":" in target else (
            "", "", target or "")
        if direction == "apply":
            applied = g.ancestors(self._ids(start)) if start else set()
            ids = self._targets_up(end or "heads", set(applied))
            plan = plan_apply(history, ids, applied, renderer)
        else:
            applied = g.ancestors(self._ids(start or "heads"))
            rows_like = [_Row(i, n) for n, i in enumerate(g.ordered(applied), 1)]
            ids = self._targets_down(end or "base", rows_like)  # type: ignore[arg-type]
            plan = plan_rollback(history, ids, applied, renderer)
        vt = self._vt()
        sql = to_sql(plan, sa_dialect(dialect), vt, create_version_table=not start and
                     direction == "apply", renderer=renderer,
                     start_order=len(applied) if direction == "apply" else 0)
        return RunResult(direction, plan=plan, sql=sql)

    def state_at(self, target: str | None = None) -> Any:
        """The schema the changesets build at `target` (default: every head)."""
        history = self._checked_history()
        ids = self._ids(target) if target else list(history.graph.heads)
        return history.replay(history.graph.ancestors(ids))

    # --- autogenerate and check ---------------------------------------------------------

    def models_state(self) -> Any:
        """The schema the configured SQLAlchemy models describe."""
        from .models import load_metadata
        from .sqla import from_metadata

        if not self.settings.models:
            raise UsageError("no models configured",
                             hint='set models = "package.module:Base" in schemaflow.toml')
        metadata = load_metadata(self.settings.models, self.settings.root)
        return from_metadata(metadata, skip=(self.settings.version_table,))

    def database_state(self) -> tuple[Any, Any]:
        """The live database's schema (reflected), and the renderer of its dialect."""
        from .config import sqlite_missing
        from .db import reflect
        from .state import SchemaState

        if sqlite_missing(self.settings.url):
            return SchemaState(), self._renderer("sqlite", None)
        with self._connection() as conn:
            renderer = self._conn_renderer(conn)
            return reflect(conn, schema=self.settings.version_table_schema,
                           skip=(self.settings.version_table,)), renderer

    def _conn_renderer(self, conn: Connection) -> Any:
        version = tuple(v for v in conn.dialect.server_version_info or () if isinstance(v, int))
        name = "mariadb" if getattr(conn.dialect, "is_mariadb", False) else conn.dialect.name
        return self._renderer(name, version or None)

    def changesets_state(self) -> Any:
        """The schema the changesets build (every head applied)."""
        history = self._checked_history() if self._folder_has_files() else None
        if history is None:
            from .state import SchemaState

            return SchemaState()
        return history.replay(history.graph.order)

    def compare(self, *, against_db: bool = False, from_db: bool = False,
                ask: Any = None, hints: dict[str, str] | None = None) -> Any:
        """The diff from what exists (changesets, or the database) to what is wanted."""
        from .diff import diff
        from .state import SchemaState

        if from_db:
            return diff(SchemaState(), self.database_state()[0])
        if against_db:
            live, renderer = self.database_state()
            return diff(renderer.comparable(live), renderer.comparable(self.models_state()),
                        ask=ask, hints=hints)
        return diff(self.changesets_state(), self.models_state(), ask=ask, hints=hints)

    def autogenerate(self, message: str, *, against_db: bool = False, from_db: bool = False,
                     ask: Any = None, hints: dict[str, str] | None = None,
                     parents: Sequence[str] = (), fmt: str | None = None) -> Autogenerated:
        """Write a changeset with the operations that make the history match the models."""
        result = self.compare(against_db=against_db, from_db=from_db, ask=ask, hints=hints)
        if not result.operations:
            return Autogenerated([], result.warnings, None)
        path = self.new(message, parents=parents, fmt=fmt, operations=result.operations)
        return Autogenerated(result.operations, result.warnings, path)

    def stamp(self, target: str, *, purge: bool = False) -> tuple[list[str], list[str]]:
        """Record `target` as the applied state without running anything: (added, removed)."""
        from . import db

        g = self._checked_history().graph
        ids = self._ids(target)
        keep = g.ancestors(ids)
        vt = self._vt()
        with self._connection() as conn, db.locked(conn, vt.name, self.lock_timeout,
                                                   self.shown_url, self.notify):
            db.ensure_table(conn, vt)
            rows = [] if purge else self._effective(db.read_applied(conn, vt))
            with conn.begin():
                if purge:
                    conn.execute(vt.delete())
                present = {r.id for r in rows}
                removed = [r.id for r in rows if r.id not in keep]
                for cid in removed:
                    replaced = g[cid].replaces if cid in g.by_id else ()
                    db.delete_rows(conn, vt, (cid, *replaced))
                added = [c for c in g.ordered(keep) if c not in present]
                db.insert_rows(conn, vt, [(cid, checksum(g[cid]), g[cid].message)
                                          for cid in added], version=_version())
        return added, removed

    def rehash(self, targets: Sequence[str]) -> list[str]:
        """Accept edits to applied changesets: store their current checksums."""
        from . import db

        g = self.history.graph
        ids = [g.resolve_id(t) for t in targets]
        vt = self._vt()
        updated = []
        with self._connection() as conn, db.locked(conn, vt.name, self.lock_timeout,
                                                   self.shown_url, self.notify):
            rows = {r.id: r for r in db.read_applied(conn, vt)} if db.has_table(conn, vt) else {}
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                for cid in ids:
                    if cid not in rows:
                        raise UsageError(f"changeset {cid} is not applied; nothing to rehash")
                    new = checksum(g[cid])
                    if rows[cid].checksum != new:
                        conn.execute(vt.update().where(vt.c.id == cid).values(checksum=new))
                        updated.append(cid)
        return updated


@dataclass(frozen=True, slots=True)
class Autogenerated:
    """What autogenerate found, and the file it wrote (None when there was nothing to do)."""

    operations: list[ir.Operation]
    warnings: list[str]
    path: Path | None


@dataclass(frozen=True)
class _Row:
    id: str
    exec_order: int


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _version() -> str:
    from . import __version__

    return __version__

