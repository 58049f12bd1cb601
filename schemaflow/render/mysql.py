"""MySQL and MariaDB: no transactional DDL; column changes restate the whole column."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.schema import AddConstraint, DropConstraint

from .. import ir
from ..sqla import table_with_refs
from ..state import SchemaState, apply, dependents
from ..support import MariaDBSupport, MySQLSupport
from ..typespec import TypeSpec
from . import ddl
from .base import Renderer, Step, Steps
from .sqlite import _without_tz


class MySQLRenderer(Renderer, MySQLSupport):
    """MySQL: ALTER COLUMN becomes MODIFY COLUMN with the full definition from the state."""

    def comparable(self, state: SchemaState) -> SchemaState:
        # MySQL's DATETIME and TIME keep no time zone.
        return _without_tz(state)

    def _full_column(self, after: SchemaState, table: str, schema: str | None,
                     column: str) -> Steps:
        t = after.table(table, schema)
        c = t.column(column)
        assert c is not None
        return [Step(ddl.ModifyColumn(self.bound_column(t, c)))]

    def op_alter_column(self, op: ir.AlterColumn, before: SchemaState) -> Steps:
        return self._full_column(apply(before, op), op.table, op.schema, op.name)

    def op_rename_column(self, op: ir.RenameColumn, before: SchemaState) -> Steps:
        if self.caps.rename_column:
            return super().op_rename_column(op, before)
        after = apply(before, op)
        t = after.table(op.table, op.schema)
        c = t.column(op.new_name)
        assert c is not None
        return [Step(ddl.ChangeColumn(op.name, self.bound_column(t, c)))]

    def op_drop_column(self, op: ir.DropColumn, before: SchemaState) -> Steps:
        # MySQL shrinks a multi-column index or unique key instead of dropping it, and refuses
        # to drop a column a foreign key uses: drop what depends on the column first.
        t = before.table(op.table, op.schema)
        dep = dependents(t, op.name)
        table = table_with_refs(before, t)
        steps: Steps = []
        names = [f.name for f in dep.foreign_keys] + [u.name for u in dep.uniques]
        names += [c.name for c in dep.checks]
        for name in names:
            steps += [Step(DropConstraint(c)) for c in table.constraints if c.name == name]
        # Dropping an index a remaining foreign key needs goes through op_drop_index (which
        # drops and re-adds that key around it); the column's own keys are gone already.
        gone = {f.name for f in dep.foreign_keys}
        state = before.with_table(replace(t, foreign_keys=tuple(
            f for f in t.foreign_keys if f.name not in gone)))
        for index in dep.indexes:
            steps += self.op_drop_index(ir.DropIndex(name=index.name, table=t.name,
                                                     schema=t.schema), state)
            current = state.table(t.name, t.schema)
            state = state.with_table(replace(current, indexes=tuple(
                i for i in current.indexes if i.name != index.name)))
        if dep.primary_key is not None and len(dep.primary_key.columns) > 1:
            steps += [Step(DropConstraint(table.primary_key))]
        return steps + super().op_drop_column(op, before)

    def _around_keys(self, before: SchemaState, table: str, schema: str | None, name: str,
                     columns: tuple[str, ...], steps: Steps) -> Steps:
        """`steps` (which drop the index or unique key `name`), wrapped in dropping and
        re-adding the foreign keys that need it: InnoDB lets a key use any index starting with
        its columns and refuses to drop it; re-adding makes InnoDB build its own index."""
        t = before.table(table, schema)
        others = [i.columns for i in t.indexes if i.name != name]
        others += [u.columns for u in t.uniques if u.name != name]
        if t.primary_key:
            others.append(t.primary_key.columns)
        needy = [f for f in t.foreign_keys
                 if columns[: len(f.columns)] == f.columns
                 and not any(cols[: len(f.columns)] == f.columns for cols in others)]
        if not needy:
            return steps
        sa_table = table_with_refs(before, t)
        fks = [c for c in sa_table.constraints if c.name in {f.name for f in needy}]
        return [Step(DropConstraint(c)) for c in fks] + steps + [Step(AddConstraint(c))
                                                                  for c in fks]

    def op_drop_index(self, op: ir.DropIndex, before: SchemaState) -> Steps:
        dropped = next(i for i in before.table(op.table, op.schema).indexes
                       if i.name == op.name)
        return self._around_keys(before, op.table, op.schema, op.name, dropped.columns,
                                 super().op_drop_index(op, before))

    def op_drop_constraint(self, op: ir.DropConstraint, before: SchemaState) -> Steps:
        steps = super().op_drop_constraint(op, before)
        t = before.table(op.table, op.schema)
        if op.type == "unique":
            unique = next(u for u in t.uniques if u.name == op.name)
            return self._around_keys(before, op.table, op.schema, op.name, unique.columns,
                                     steps)
        if op.type == "foreign_key":
            fk = next(f for f in t.foreign_keys if f.name == op.name)
            covered = [i.columns for i in t.indexes] + [u.columns for u in t.uniques]
            if t.primary_key:
                covered.append(t.primary_key.columns)
            if not any(cols[: len(fk.columns)] == fk.columns for cols in covered):
                # InnoDB built an index of the key's name for it; it outlives the key.
                steps.append(Step(ddl.DropIndexOn(op.table, op.schema, op.name)))
            return steps
        if op.type != "primary_key":
            return steps
        # An AUTO_INCREMENT column must stay a key: take AUTO_INCREMENT off it first.
        t = before.table(op.table, op.schema)
        pk = t.primary_key
        if pk is None or len(pk.columns) != 1:
            return steps
        col = t.column(pk.columns[0])
        if col is None or col.type.name not in ("integer", "bigint", "smallint"):
            return steps
        after = apply(before, op)
        return self._full_column(after, op.table, op.schema, col.name) + steps


class MariaDBRenderer(MySQLRenderer, MariaDBSupport):
    """MariaDB: MySQL's statements; version rules differ (see capabilities)."""

    def comparable(self, state: SchemaState) -> SchemaState:
        # MariaDB's JSON is an alias of LONGTEXT (plus a json_valid check): the same thing.
        longtext = TypeSpec("mysql.longtext")
        return self._map_columns(super().comparable(state), lambda c: replace(
            c, type=longtext) if c.type.name == "json" else c)
