"""Running an Alembic history's revisions through Alembic's own machinery (`ScriptDirectory`,
`MigrationContext`, `Operations`) with a recording `Operations`: every operation that
`upgrade()` or `downgrade()` invokes is kept as the data Alembic builds (CreateTableOp,
AddColumnOp, batch operations, ...), with the SQL Alembic writes for it offline.

Each revision runs offline once per database schemaflow supports (so that a revision which
branches on the database shows it), and online on a scratch in-memory SQLite database built
by the revisions before it, for revisions whose Python needs a real connection (an inspector,
an ORM session). Statements that such Python runs on rows, outside any operation, are kept as
`data` steps: what the importer cannot translate. Alembic's `env.py` is not run: importing a
history needs no database, and the revisions do not depend on it.
"""

from __future__ import annotations

import io
import re
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import ImportFailed

# Statements SQLAlchemy's inspector runs on SQLite: reading the schema, not rows.
_INSPECTION = re.compile(r"^\s*(PRAGMA\b|SELECT\b.*\bsqlite_(master|schema|temp_master)\b)",
                         re.I | re.S)


@dataclass
class Step:
    """One thing a revision did: an Alembic operation (None: SQL it ran outside any), and the
    SQL Alembic wrote for it offline ('' when it wrote none)."""

    op: Any
    sql: str = ""
    batch: bool = False
    data: bool = False  # a statement Python ran on the scratch database's rows
    result: Any = None  # what running the operation returned (create_table: its Table)


@dataclass
class Run:
    """One direction of one revision on one database."""

    steps: list[Step] = field(default_factory=list)
    error: str | None = None  # what the function raised, located in the revision file


class _Log:
    """Where a run's steps go; `depth` > 0 while an operation (or a batch flush) runs."""

    def __init__(self, buffer: io.StringIO | None) -> None:
        self.run = Run()
        self.depth = 0
        self.buffer = buffer
        self.mark = 0

    def text_since_mark(self) -> str:
        if self.buffer is None:
            return ""
        text = self.buffer.getvalue()[self.mark:]
        self.mark += len(text)
        return text

    def stray(self) -> None:
        """SQL written outside any operation (`op.get_bind().execute(...)` offline)."""
        text = self.text_since_mark()
        if text.strip():
            self.run.steps.append(Step(None, text))


def _recording_classes() -> tuple[type, type]:
    from alembic.ddl.sqlite import SQLiteImpl
    from alembic.operations import BatchOperations, Operations
    from alembic.operations.ops import AddColumnOp, DropColumnOp

    class RecordingBatch(BatchOperations):
        def invoke(self, operation: Any) -> Any:
            parent = self.impl.operations
            step = Step(operation, batch=True)
            parent.log.run.steps.append(step)
            if parent.live:
                return super().invoke(operation)
            # Offline, a batch writes nothing per step: each is written as the operation
            # alone, the SQL a batch writes outside SQLite (ALTER TABLE ...), where the
            # database takes it, so that a step which differs by database, or is SQL too
            # (`touched`), has its SQL (a batch on a table written as SQL, Buildbot's; a
            # branch on the database's name inside a batch, Airflow's). SQLite's ALTER
            # TABLE adds and drops a column; anything else only the batch's copy of the
            # table does there (Alembic writes an ALTER COLUMN SQLite refuses).
            if isinstance(parent.impl, SQLiteImpl) and not isinstance(
                    operation, (AddColumnOp, DropColumnOp)):
                return None
            log = parent.log
            log.stray()
            log.depth += 1
            try:
                Operations.invoke(parent, operation)
                step.sql = log.text_since_mark()
            except Exception:  # (NotImplementedError: only a batch's copy does it there)
                log.text_since_mark()  # (part of it is no SQL for the step)
            finally:
                log.depth -= 1
            return None

    class Recording(Operations):
        def __init__(self, ctx: Any, log: _Log, execute: bool) -> None:
            super().__init__(ctx)
            self.log = log
            self.live = execute  # online: run everything; offline: write SQL if it can

        def invoke(self, operation: Any) -> Any:
            log = self.log
            if log.depth:  # an operation invoking others: the outer one is what was asked
                return super().invoke(operation)
            log.stray()
            step = Step(operation)
            log.run.steps.append(step)
            log.depth += 1
            try:
                step.result = super().invoke(operation)
                return step.result
            except Exception as exc:
                # Online, an operation the scratch SQLite database cannot take: an ALTER
                # Alembic's SQLite has no SQL for outside batch mode (a constraint added or
                # dropped: NotImplementedError), or SQL it refuses (ALTER COLUMN, another
                # database's functions and catalogs). The scratch database goes without it
                # and the revision goes on, so that what the revisions after it ask of that
                # database finds what came after it (stopped there, a later revision's
                # inspector found tables missing and took another branch). The operation is
                # recorded all the same. Offline: Alembic cannot write it for this database;
                # the data is what counts.
                if self.live and not _refused_here(exc):
                    raise
                return None
            finally:
                log.depth -= 1
                step.sql = log.text_since_mark()

        @contextmanager
        def batch_alter_table(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            manager = super().batch_alter_table(*args, **kwargs)
            batch_op = manager.__enter__()
            batch_op.__class__ = RecordingBatch
            try:
                yield batch_op
            except BaseException:
                if not manager.__exit__(*sys.exc_info()):
                    raise
                return
            self.log.depth += 1
            try:
                manager.__exit__(None, None, None)  # online: recreate or alter the table
            finally:
                self.log.depth -= 1

    return Recording, RecordingBatch


def _refused_here(exc: BaseException) -> bool:
    """Whether an operation's error is the scratch SQLite database's refusal, not the
    revision's own failure: Alembic's NotImplementedError, or the database's error."""
    import sqlalchemy as sa

    return isinstance(exc, (NotImplementedError, sa.exc.DBAPIError))


def _proxy(ops: Any) -> None:
    """Make `ops` what `from alembic import op` calls (None: nothing). Alembic keys its
    proxies by class, and `ops` is a subclass of Operations."""
    from alembic.operations import Operations

    attr_names, modules = Operations._setups[Operations]
    for globals_, _ in modules:
        globals_["_proxy"] = ops
        for attr_name in attr_names:
            if ops is None:
                globals_.pop(attr_name, None)
            else:
                globals_[attr_name] = getattr(ops, attr_name)


def _located(exc: BaseException, path: str) -> str:
    """`exc` as one line, with the line of the revision file where it surfaced."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path:
            line = frame.lineno
    where = f"{path}:{line}" if line else path
    return f"{where}: {type(exc).__name__}: {exc}".strip()


class Runner:
    """Runs revisions offline per database and online on a scratch SQLite database."""

    def __init__(self, config: Any, script: Any, target_metadata: Any = None) -> None:
        import sqlalchemy as sa
        from sqlalchemy.pool import StaticPool

        self.config, self.script = config, script
        # env.py's target_metadata as far as Alembic's operations use it: its naming
        # convention (`alembic_names`), for the runs' constraints and SQL.
        self.opts: dict[str, Any] = ({} if target_metadata is None
                                     else {"target_metadata": target_metadata})
        self.Recording, _ = _recording_classes()
        self.engine = sa.create_engine("sqlite://", poolclass=StaticPool)
        self.conn = self.engine.connect()
        self._log: _Log | None = None
        sa.event.listen(self.engine, "before_cursor_execute", self._statement)

    def close(self) -> None:
        """Release the scratch database."""
        self.conn.close()
        self.engine.dispose()

    def _statement(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        log = self._log
        if log is not None and not log.depth and not _INSPECTION.match(statement):
            log.run.steps.append(Step(None, statement.strip(), data=True))

    def offline(self, fn: Callable[[], None], path: str, sa_name: str,
                dialect: Any | None = None) -> Run:
        """Run `fn` (a revision's upgrade or downgrade) writing SQL for database `sa_name`
        (or for the SQLAlchemy `dialect` given: MariaDB's is MySQL's, flagged)."""
        from alembic.runtime.migration import MigrationContext
        from sqlalchemy.engine.url import make_url

        from ..dialects.render import literal_dialect

        buffer = io.StringIO()
        log = _Log(buffer)
        # SQL that runs as written (a `sql` operation, sent without parameters): a percent
        # sign in a value stays single, where a driver with %s placeholders would have it
        # doubled (a row bulk_insert wrote as SQL held '100%%').
        here = literal_dialect(dialect if dialect is not None
                               else make_url(f"{sa_name}://").get_dialect()())
        self._call(fn, path, lambda env: MigrationContext.configure(
            dialect=here, environment_context=env, opts={
                **self.opts, "as_sql": True, "output_buffer": buffer, "literal_binds": True}),
            log, execute=False, offline=True)
        log.stray()
        return log.run

    def indexes(self, table: str) -> dict[str, tuple[str, ...]]:
        """The indexes of `table` on the scratch database (those it makes for a key or a
        UNIQUE aside), by name: their columns."""
        out: dict[str, tuple[str, ...]] = {}
        quoted = '"' + table.replace('"', '""') + '"'
        for row in self.conn.exec_driver_sql(f"PRAGMA index_list({quoted})").fetchall():
            name, origin = row[1], row[3]
            if origin != "c":  # (pk, u: a key's or a UNIQUE's own)
                continue
            named = '"' + str(name).replace('"', '""') + '"'
            out[str(name)] = tuple(str(r[2]) for r in self.conn.exec_driver_sql(
                f"PRAGMA index_info({named})").fetchall())
        return out

    def online(self, fn: Callable[[], None], path: str, *, keep: bool) -> Run:
        """Run `fn` on the scratch database: for good (`keep`, an upgrade in order) or on a
        copy (a downgrade, which must leave the scratch database as it was)."""
        import sqlalchemy as sa
        from alembic.runtime.migration import MigrationContext
        from sqlalchemy.pool import StaticPool

        engine, conn = self.engine, self.conn
        if not keep:
            self.conn.commit()
            copy = sqlite3.connect(":memory:", check_same_thread=False)
            self.conn.connection.driver_connection.backup(copy)  # type: ignore[union-attr]
            engine = sa.create_engine("sqlite://", creator=lambda: copy, poolclass=StaticPool)
            sa.event.listen(engine, "before_cursor_execute", self._statement)
            conn = engine.connect()
        log = _Log(None)

        def context(env: Any) -> Any:
            ctx = MigrationContext.configure(connection=conn, environment_context=env,
                                             opts=dict(self.opts))
            # The revision runs in a transaction the context knows of, as under env.py's
            # begin_transaction(): an autocommit_block() commits it and begins another.
            if not conn.in_transaction():
                conn.begin()
            ctx._transaction = conn.get_transaction()
            return ctx

        try:
            self._call(fn, path, context, log, execute=True, offline=False)
            if conn.in_transaction():
                conn.commit()
        finally:
            if not keep:
                conn.close()
                engine.dispose()
        return log.run

    def _call(self, fn: Callable[[], None], path: str, context: Callable[[Any], Any],
              log: _Log, *, execute: bool, offline: bool) -> None:
        """Run `fn` with `op` recording into `log`, in the MigrationContext `context` makes
        for the environment (which gives the revision `op.get_context().config`)."""
        from alembic.runtime.environment import EnvironmentContext

        env = EnvironmentContext(self.config, self.script, as_sql=offline)
        ctx = env._migration_context = context(env)
        ops = self.Recording(ctx, log, execute)
        env._install_proxy()
        _proxy(ops)
        self._log = log
        try:
            fn()
        except Exception as exc:
            log.run.error = _located(exc, path)
        finally:
            self._log = None
            _proxy(None)
            env._remove_proxy()


def load_script(path: Path) -> tuple[Any, Any]:
    """(Config, ScriptDirectory) from an alembic.ini, a pyproject.toml with [tool.alembic],
    or a script directory; ImportFailed naming the path when it is none of those."""
    try:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
    except ImportError:
        raise UsageError("importing an Alembic history needs Alembic installed",
                         hint="pip install 'schemaflow[alembic]'") from None
    if path.is_dir():
        scripts = (path / "env.py").is_file() or (path / "versions").is_dir()
        if (path / "alembic.ini").is_file():
            if scripts:  # an alembic.ini inside the script directory (MLflow ships one)
                try:
                    return load_script(path / "alembic.ini")
                except ImportFailed:  # its script_location is relative to elsewhere
                    return Config(), ScriptDirectory(str(path))
            path = path / "alembic.ini"
        elif scripts:
            return Config(), ScriptDirectory(str(path))
        elif (path / "pyproject.toml").is_file():
            path = path / "pyproject.toml"
        else:
            raise ImportFailed(f"{path}: no alembic.ini, pyproject.toml or Alembic script "
                               "directory (env.py, versions/) here",
                               hint="give the path of alembic.ini or of the script directory")
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file or folder")
    config = (Config(toml_file=str(path)) if path.suffix == ".toml"
              else Config(file_=str(path)))
    try:
        return config, ScriptDirectory.from_config(config)
    except Exception as exc:
        raise ImportFailed(f"{path}: not an Alembic configuration: {exc}") from None


def revisions(script: Any) -> list[Any]:
    """The revisions, every one after its parents and dependencies; ImportFailed for a
    history Alembic cannot load (a revision file that fails, a missing parent, a cycle)."""
    try:
        scripts = list(script.walk_revisions("base", "heads"))
    except Exception as exc:
        here = str(Path(script.dir).resolve())
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if str(Path(f.filename).resolve()).startswith(here)]
        where = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
        raise ImportFailed(f"{where}the Alembic history cannot be loaded: "
                           f"{type(exc).__name__}: {exc}") from None
    by_id = {s.revision: s for s in scripts}
    order: list[Any] = []
    seen: set[str] = set()

    def visit(s: Any, stack: tuple[str, ...]) -> None:
        if s.revision in seen:
            return
        if s.revision in stack:
            raise ImportFailed(f"the Alembic history has a cycle: "
                               f"{' -> '.join((*stack, s.revision))}")
        for dep in (*parents_of(s), *resolved_depends_on(script, s)):
            if dep in by_id:
                visit(by_id[dep], (*stack, s.revision))
        seen.add(s.revision)
        order.append(s)

    for s in reversed(scripts):
        visit(s, ())
    return order


def resolved_depends_on(script: Any, s: Any) -> tuple[str, ...]:
    """A revision's `depends_on` as revision ids (Alembic allows branch labels there)."""
    out = []
    for dep in s.dependencies or ():
        try:
            out.append(script.get_revision(dep).revision)
        except Exception as exc:
            raise ImportFailed(f"{s.path}: depends_on names {dep!r}, which Alembic cannot "
                               f"resolve: {exc}") from None
    return tuple(out)


def parents_of(s: Any) -> tuple[str, ...]:
    """A revision's `down_revision` as a tuple (a merge has several)."""
    down = s.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def statements(sql: str) -> tuple[str, ...]:
    """Alembic's offline SQL for one operation, as statements (it ends each with `;`)."""
    parts = [p.strip() for p in re.split(r";\s*\n\s*\n", sql.strip() + "\n\n")]
    return tuple(p[:-1] if p.endswith(";") else p for p in parts if p)
