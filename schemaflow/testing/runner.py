"""`Runner`: the project's changesets on one test database, with what tests of data
migrations need: apply up to (or just before) a changeset, insert rows, read rows, roll back.
Rows given per changeset (`data`) are inserted right after that changeset is first applied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..graph import apply_ids

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ..api import Project
    from ..state import SchemaState
    from .databases import ScratchDatabase

Rows = Mapping[str, Any] | Sequence[Mapping[str, Any]]
# changeset (id, prefix or tag) -> table -> rows to insert right after it is applied
ChangesetData = Mapping[str, Mapping[str, Rows]]


class Runner:
    """Applies and rolls back the project's changesets on one database, and reads and writes
    its rows. Each test gets its own (the `schemaflow_runner` fixture)."""

    def __init__(self, project: Project, database: ScratchDatabase | None = None,
                 data: ChangesetData | None = None) -> None:
        self.project = project
        self.database = database
        self._data = dict(data or {})
        self._inserted: set[str] = set()
        self._engine: Engine | None = None

    @property
    def url(self) -> str:
        """The database URL (with its password)."""
        return self.project.settings.url

    @property
    def engine(self) -> Engine:
        """A SQLAlchemy engine on the database (disposed by `close`)."""
        if self._engine is None:
            from ..dialects.connect import create_engine

            self._engine = create_engine(self.url)
        return self._engine

    def close(self) -> None:
        """Release the engine's connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- changesets ----------------------------------------------------------------------

    def applied(self) -> list[str]:
        """The applied changesets' ids, in the order they were applied."""
        return [r.id for r in self.project.applied_rows()]

    def _data_for(self) -> dict[str, Mapping[str, Rows]]:
        g = self.project.history.graph
        return {g.resolve_id(key): rows for key, rows in self._data.items()}

    def apply(self, target: str | None = None) -> list[str]:
        """Apply up to `target` (default: every head; any target `schemaflow apply` takes,
        such as an id, its prefix, `+1` or `label@head`); returns the ids applied."""
        data = {k: v for k, v in self._data_for().items() if k not in self._inserted}
        if not data:
            return [r.id for r in self.project.apply(target).results if not r.skipped]
        ids = apply_ids(self.project.history.graph, target, set(self.applied()))
        for cid in ids:  # one at a time, to insert each one's rows right after it
            self.project.apply(cid)
            if cid in data:
                self._inserted.add(cid)
                for table, rows in data[cid].items():
                    self.insert(table, rows)
        return ids

    def apply_before(self, target: str) -> list[str]:
        """Apply everything `target` needs, but not `target` itself (its parents)."""
        g = self.project.history.graph
        cid = g.resolve_id(target)
        applied: list[str] = []
        for parent in g[cid].parents:
            applied += self.apply(parent)
        return applied

    def rollback(self, target: str) -> list[str]:
        """Roll back down to `target` (`base`, an id, `-1`...); returns the ids rolled back."""
        return [r.id for r in self.project.rollback(target).results if not r.skipped]

    def schema(self) -> SchemaState:
        """The live schema (reflected; table options and sequences, which only `sql` makes,
        are not read: the checks compare the database with itself)."""
        return self.project.database_state(strict=False)[0]

    # --- rows ----------------------------------------------------------------------------

    def insert(self, table: str, rows: Rows) -> None:
        """Insert one row (a mapping) or several into `table`."""
        many = [rows] if isinstance(rows, Mapping) else list(rows)
        if not many:
            return
        columns = list(dict.fromkeys(c for row in many for c in row))
        with self.engine.begin() as conn:
            conn.execute(sa.insert(_table(table, columns)), many)

    def rows(self, table_or_query: str, **params: Any) -> list[dict[str, Any]]:
        """The rows of a table (ordered by its first column) or of a SELECT with :params."""
        query = table_or_query.strip()
        if " " not in query:
            stmt: Any = (sa.select(sa.text("*")).select_from(_table(query, []))
                         .order_by(sa.text("1")))
        else:
            stmt = sa.text(query)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt, params)]

    def execute(self, sql: str, **params: Any) -> None:
        """Run one statement (with :params) and commit it."""
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)


def _table(name: str, columns: Sequence[str]) -> sa.TableClause:
    """`name` (`schema.table` or `table`) with `columns`, quoted as the database needs."""
    schema, _, table = name.rpartition(".")
    return sa.table(table, *(sa.column(c) for c in columns), schema=schema or None)
