"""SQLite's statements: in-place ALTERs where the library version allows them, the table
rebuild otherwise."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from ... import ir
from ...plans import Step
from ...state import SchemaState, Table, apply, dependents
from .. import ddl
from ..render import Renderer, Steps
from ..tables import SizedBinary, standalone_index, table_with_refs
from . import keep

REBUILD_PREFIX = "_sf_new_"


@compiles(SizedBinary, "sqlite")
def _blob(type_: SizedBinary, compiler: Any, **kw: Any) -> str:
    return "BLOB"  # BINARY(n) would have NUMERIC affinity here
ConstraintOp = (ir.CreateUniqueConstraint | ir.CreateForeignKey | ir.CreateCheckConstraint
                | ir.CreatePrimaryKey | ir.DropConstraint)


class SQLiteRenderer(Renderer):
    """SQLite has no ALTER COLUMN and no ADD/DROP CONSTRAINT: those rebuild the table."""

    @functools.cached_property
    def _sa_dialect(self) -> Any:
        """What the rebuild's rename marker carries is compiled for (the others are compiled
        for the run's own dialect when the plan is made)."""
        return self.dialect.sa_dialect()

    def rebuild(self, old: Table, new: Table, after: SchemaState,
                renamed: dict[str, str] | None = None) -> Steps:
        """Create the new table, copy the rows, drop the old one, rename, recreate indexes.

        This is the order SQLite documents as safe: other tables' foreign keys keep naming
        the table, and no reference to a temporary name is ever written.
        """
        renamed = renamed or {}
        tmp_name = REBUILD_PREFIX + new.name
        tmp = table_with_refs(after, new, name=tmp_name, with_indexes=False)
        old_names = {c.name for c in old.columns}
        copy = [(c.name, renamed.get(c.name, c.name)) for c in new.columns
                if renamed.get(c.name, c.name) in old_names and c.computed is None]
        names = {c.name.lower() for c in (*old.columns, *new.columns)}
        if not (_is_rowid_key(old) or _is_rowid_key(new)
                or names & {"rowid", "_rowid_", "oid"}):
            # Each row keeps its rowid (what an FTS index or an application may keep of it);
            # where a column is the rowid, copying the column keeps it.
            copy.insert(0, ("rowid", "rowid"))
        source = sa.table(old.name, *(sa.column(o) for _, o in copy), schema=old.schema)
        target = sa.table(tmp_name, *(sa.column(n) for n, _ in copy), schema=new.schema)
        steps = [
            Step(keep.before(old.name, old.schema, [c.name for c in old.columns],
                             [i.name for i in old.indexes], old.sqlite_autoincrement),
                 compiled=True),
            Step(CreateTable(tmp)),
            Step(sa.insert(target).from_select([n for n, _ in copy],
                                               sa.select(*(source.c[o] for _, o in copy)))),
            Step(DropTable(sa.Table(old.name, sa.MetaData(), schema=old.schema))),
            Step(keep.rename(tmp_name, new.name, new.schema, str(ddl.RenameTable(
                tmp_name, new.schema, new.name).compile(dialect=self._sa_dialect)).strip()),
                 compiled=True),
        ]
        # Each index on a stand-in of the final table (as CREATE INDEX renders elsewhere), not
        # on a second build of the whole table and what it references.
        steps += [Step(CreateIndex(standalone_index(new, i))) for i in new.indexes]
        return [*steps, Step(keep.after(new.name, new.schema, new.sqlite_autoincrement),
                             compiled=True)]

    def _rebuild_for(self, op: ir.Operation, before: SchemaState, table: str,
                     schema: str | None, renamed: dict[str, str] | None = None) -> Steps:
        after = apply(before, op)
        return self.rebuild(before.table(table, schema), after.table(table, schema), after,
                            renamed)

    # --- columns -------------------------------------------------------------------------

    def op_add_column(self, op: ir.AddColumn, before: SchemaState) -> Steps:
        c = op.column
        # ADD COLUMN cannot add UNIQUE, NOT NULL without a default, an expression default or
        # a stored generated column.
        if c.unique or c.default_sql is not None or (not c.is_nullable and c.default is None) or (
                c.computed is not None and c.computed.stored):
            return self._rebuild_for(op, before, op.table, op.schema)
        return super().op_add_column(op, before)

    def op_drop_column(self, op: ir.DropColumn, before: SchemaState) -> Steps:
        t = before.table(op.table, op.schema)
        dep = dependents(t, op.name)
        in_where = any(i.where and op.name in i.where for i in t.indexes)
        if self.caps.drop_column and not in_where and not (
            dep.primary_key or dep.uniques or dep.foreign_keys or dep.checks or dep.indexes
        ):
            return super().op_drop_column(op, before)
        return self._rebuild_for(op, before, op.table, op.schema)

    def op_rename_column(self, op: ir.RenameColumn, before: SchemaState) -> Steps:
        if self.caps.rename_column:
            return super().op_rename_column(op, before)
        return self._rebuild_for(op, before, op.table, op.schema, {op.new_name: op.name})

    def op_alter_table(self, op: ir.AlterTable, before: SchemaState) -> Steps:
        # AUTOINCREMENT is part of the key's definition: only a rebuild turns it on or off.
        t = before.table(op.name, op.schema)
        if op.sqlite_autoincrement is not None and (
                op.sqlite_autoincrement != t.sqlite_autoincrement):
            return self._rebuild_for(op, before, op.name, op.schema)
        return super().op_alter_table(op, before)

    def op_alter_column(self, op: ir.AlterColumn, before: SchemaState) -> Steps:
        # SQLite keeps no comments; a comment-only change has nothing to run.
        if replace(op, comment=None) == replace(op, comment=None, type=None, nullable=None,
                                                default=None, default_sql=None,
                                                drop_default=False, using=None,
                                                variants=(), collation=None):
            return []
        return self._rebuild_for(op, before, op.table, op.schema)

    # --- constraints ---------------------------------------------------------------------

    def _constraint_rebuild(self, op: ConstraintOp, before: SchemaState) -> Steps:
        return self._rebuild_for(op, before, op.table, op.schema)

    op_create_unique_constraint = _constraint_rebuild
    op_create_foreign_key = _constraint_rebuild
    op_create_check_constraint = _constraint_rebuild
    op_create_primary_key = _constraint_rebuild
    op_drop_constraint = _constraint_rebuild

    def op_create_index(self, op: ir.CreateIndex, before: SchemaState) -> Steps:
        # CONCURRENTLY is PostgreSQL's; on SQLite the index is built in the transaction.
        return super().op_create_index(replace(op, concurrently=False), before)


def _is_rowid_key(t: Table) -> bool:
    """Whether the table's key is its rowid (an INTEGER PRIMARY KEY of one column)."""
    key = t.primary_key.columns if t.primary_key else ()
    column = t.column(key[0]) if len(key) == 1 else None
    return column is not None and column.type.name == "integer" and not column.variants
