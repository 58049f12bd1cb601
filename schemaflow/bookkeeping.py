"""The bookkeeping half of `api.Project`: the version table written without running
changesets (`stamp`, `rehash`), and what other migration tools applied or wrote (`stamp
--from-*`, `import`, and `apply`'s refusal of a database another tool manages)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import checksum
from .errors import UsageError
from .graph import Relative, target_ids

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

    from .adoption import Renamed
    from .config import Settings
    from .dialects.base import Dialect
    from .history import History
    from .importers import Finding
    from .recorder import AppliedRow, Recorder
    from .state import SchemaState


class Bookkeeping:
    """Mixed into `api.Project`, which provides the settings, the history and the database."""

    settings: Settings
    notify: Callable[[str], None]
    lock_timeout: float
    _history: History | None

    if TYPE_CHECKING:
        @property
        def history(self) -> History: ...

        @property
        def shown_url(self) -> str: ...

        def _checked_history(self) -> History: ...

        def applied_rows(self) -> list[AppliedRow]: ...

        def database_state(self, *, strict: bool = True) -> tuple[SchemaState, Dialect]: ...

        def _database_missing(self) -> bool: ...

        def _recorder(self) -> AbstractContextManager[tuple[Recorder, Dialect]]: ...

        def _locked(self, conn: Connection, dialect: Dialect) -> AbstractContextManager[None]: ...

        def _offline_target(self, dialect: str | None, server_version: tuple[int, ...] | None
                            ) -> tuple[Dialect, sa.Table]: ...

    def stamp(self, target: str, *, purge: bool = False) -> tuple[list[str], list[str]]:
        """Record `target` as the applied state without running anything: (added, removed)."""
        g = self._checked_history().graph
        if isinstance(g.resolve(target), Relative):  # `stamp -1`: from what is applied
            heads = g.heads_of({r.id for r in self.applied_rows()})
            if len(heads) > 1:
                raise UsageError(f"'{target}' is ambiguous: {len(heads)} heads are applied: "
                                 f"{', '.join(heads)}", hint="name the changeset")
            target = f"{heads[0] if heads else 'base'}{target.strip()}"
        return self._stamp(target_ids(g, target), purge)

    def stamp_sql(self, target: str, *, purge: bool = False, dialect: str | None = None,
                  server_version: tuple[int, ...] | None = None) -> str:
        """The version-table statements `stamp` would run, as an SQL script, without a
        database (as Alembic's `stamp --sql`): from nothing applied, or from `FROM` in a
        `FROM:TO` target."""
        from sqlalchemy.schema import CreateTable

        from .dialects.render import compile_step, literal_dialect
        from .plans import Step
        from .recorder import script_rows

        g = self._checked_history().graph
        start, _, end = target.rpartition(":") if ":" in target else ("", "", target)
        for part in (start, end):
            if part and isinstance(g.resolve(part), Relative):
                raise UsageError(f"a relative target ({part}) needs the database: offline, "
                                 "stamp starts from nothing applied",
                                 hint="name the changesets: stamp --sql FROM:TO")
        applied = set() if purge or not start else g.ancestors(target_ids(g, start))
        keep = g.ancestors(target_ids(g, end or "base"))
        database, vt = self._offline_target(dialect, server_version)
        sa_dialect = literal_dialect(database.sa_dialect())
        out = [f"-- schemaflow stamp {target} ({database.name})", ""]
        if not start:
            out += [compile_step(Step(CreateTable(vt, if_not_exists=True)), sa_dialect) + ";", ""]
        statements = [vt.delete()] if purge else []
        removed = g.ordered(applied - keep)
        if removed:
            statements.append(script_rows(vt, cid="", checksum_="", message="", order=0,
                                          rollback_ids=[r for cid in removed for r in (
                                              cid, *g[cid].replaces)]))
        order = len(applied & keep)
        for cid in g.ordered(keep - applied):
            order += 1
            statements.append(script_rows(vt, cid=cid, checksum_=checksum(
                self.history.from_file(cid)), message=g[cid].message, order=order))
        if statements and database.renderer().transactional_ddl:
            out.append("BEGIN;")
        out += [compile_step(Step(s), sa_dialect) + ";" for s in statements]
        if statements and database.renderer().transactional_ddl:
            out.append("COMMIT;")
        return "\n".join(out) + "\n"

    def renamed_here(self) -> list[Renamed]:
        """The constraints the database holds under other names than the changesets applied
        there give them (`adoption`): a changeset that drops or alters one by the
        changesets' name would fail there."""
        from .adoption import differences

        rows = self.applied_rows()
        if not rows:
            return []
        history = self._checked_history()
        g = history.graph
        wanted = history.replay(g.ordered(g.ancestors(r.id for r in rows if r.id in g.by_id)))
        have, dialect = self.database_state(strict=False)
        return differences(have, wanted, dialect)

    def stamp_from(self, tool: str) -> tuple[list[str], list[str]]:
        """Record as applied what another tool's table says it applied: (added, removed)."""
        from .importers import applied_by_tool

        g = self._checked_history().graph
        with self._recorder() as (recorder, _dialect):
            ids = applied_by_tool(recorder.conn, tool, g)
        return self._stamp(ids, False)

    def import_history(self, tool: str, path: Path) -> tuple[list[Path], list[Finding]]:
        """Write one changeset per revision of another tool's history: (paths, findings)."""
        from .importers import import_history

        self._history = None
        return import_history(self.settings, tool, path, self.notify)

    def _refuse_other_tool(self, read_empty: bool = False) -> None:
        """Stop before applying to a database another tool migrates and schemaflow has not
        been told about (it would create tables that exist). `read_empty`: the version
        table was just read and lists nothing (it is not read again)."""
        from .importers import managed_by

        if self._database_missing() or (not read_empty and self.applied_rows()):
            return
        if self._no_other_tool():
            return
        with self._recorder() as (recorder, _dialect):
            found = managed_by(recorder.conn)
        if found:
            at = ("..., " if len(found[1]) > 3 else "") + ", ".join(found[1][-3:])
            raise UsageError(
                f"{self.shown_url} is migrated by {found[0]} (at {at}) and "
                "schemaflow has recorded nothing there: apply would create what exists",
                hint=f"record what {found[0]} applied first: schemaflow stamp --from-{found[0]}")

    def _no_other_tool(self) -> bool:
        """Whether the database's driver alone tells that no other tool's version table is
        there (then it is not looked for through SQLAlchemy, which a run through the driver
        alone does not import)."""
        from .dialects import for_url
        from .importers import TOOLS

        settings = self.settings
        named = for_url(settings.url) if settings.bind is None else None
        side = named.driver_side(settings.url, settings.version_table_schema) if named else None
        if side is None:
            return False
        raw = side.connect(self.lock_timeout)
        try:
            return not side.has_any(raw, tuple(table for table, _, _ in TOOLS.values()))
        except side.errors:
            return False  # (said through SQLAlchemy, as it says a database error)
        finally:
            side.close(raw)

    def _stamp(self, ids: list[str], purge: bool) -> tuple[list[str], list[str]]:
        from .recorder import effective

        history = self.history
        g = history.graph
        keep = g.ancestors(ids)
        from .dialects.connect import transaction

        # What stamp records is parsed from the files, many of them on every core: before
        # connecting (no worker forks with the connection), for those not yet applied.
        before = set() if purge else {r.id for r in self.applied_rows()}
        sums = history.checksums_from_files([c for c in g.ordered(keep) if c not in before])
        with self._recorder() as (recorder, dialect), self._locked(recorder.conn, dialect):
            recorder.ensure()
            rows = [] if purge else effective(recorder.rows(), g)
            with transaction(recorder.conn):
                if purge:
                    recorder.purge()
                present = {r.id for r in rows}
                removed = [r.id for r in rows if r.id not in keep]
                for cid in removed:
                    recorder.delete((cid, *(g[cid].replaces if cid in g.by_id else ())))
                added = [c for c in g.ordered(keep) if c not in present]
                recorder.stamp([(cid, sums.get(cid) or checksum(history.from_file(cid)),
                                 g[cid].message) for cid in added])
                # The version table now says what is in effect: no changeset is half done.
                recorder.journal.clear_all()
            recorder.journal.drop_if_empty()
        return added, removed

    def rehash(self, targets: Sequence[str]) -> list[str]:
        """Accept edits to applied changesets: store their current checksums."""
        g = self.history.graph
        ids = [g.resolve_id(t) for t in targets]
        updated = []
        from .dialects.connect import transaction

        with self._recorder() as (recorder, dialect), self._locked(recorder.conn, dialect):
            rows = {r.id: r for r in recorder.rows()}
            with transaction(recorder.conn):
                for cid in ids:
                    if cid not in rows:
                        raise UsageError(f"changeset {cid} is not applied; nothing to rehash")
                    new = checksum(self.history.from_file(cid))
                    if rows[cid].checksum != new:
                        recorder.set_checksum(cid, new)
                        updated.append(cid)
        return updated
