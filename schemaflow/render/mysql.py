"""MySQL and MariaDB: no transactional DDL; column changes restate the whole column."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from sqlalchemy.schema import AddConstraint, DropConstraint, DropIndex

from .. import ir
from ..errors import UsageError
from ..sqla import table_with_refs
from ..state import SchemaState, apply, dependents
from ..typespec import TypeSpec
from . import ddl
from .base import Renderer, Step, Steps
from .sqlite import _without_tz


class MySQLRenderer(Renderer):
    """MySQL: ALTER COLUMN becomes MODIFY COLUMN with the full definition from the state."""

    name: ClassVar[str] = "mysql"
    sql_dialects: ClassVar[tuple[str, ...]] = ("mysql",)
    type_dialects: ClassVar[tuple[str, ...]] = ("mysql",)

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
        if op.using is not None:
            raise UsageError(f"{self.name} has no USING clause for a type change "
                             f"(alter_column {op.table}.{op.name})",
                             hint="convert the data with a sql operation first")
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
        steps += [Step(DropIndex(i)) for i in table.indexes
                  if i.name in {x.name for x in dep.indexes}]
        if dep.primary_key is not None and len(dep.primary_key.columns) > 1:
            steps += [Step(DropConstraint(table.primary_key))]
        return steps + super().op_drop_column(op, before)

    def op_drop_index(self, op: ir.DropIndex, before: SchemaState) -> Steps:
        # InnoDB lets a foreign key use any index that starts with its columns and refuses to
        # drop it; when no other index would serve, the key is dropped and re-added around it
        # (re-adding creates InnoDB's own index for it).
        t = before.table(op.table, op.schema)
        others = [i.columns for i in t.indexes if i.name != op.name]
        others += [u.columns for u in t.uniques]
        if t.primary_key:
            others.append(t.primary_key.columns)
        dropped = next(i for i in t.indexes if i.name == op.name)
        needy = [f for f in t.foreign_keys
                 if dropped.columns[: len(f.columns)] == f.columns
                 and not any(cols[: len(f.columns)] == f.columns for cols in others)]
        if not needy:
            return super().op_drop_index(op, before)
        table = table_with_refs(before, t)
        fks = [c for c in table.constraints if c.name in {f.name for f in needy}]
        return ([Step(DropConstraint(c)) for c in fks] + super().op_drop_index(op, before)
                + [Step(AddConstraint(c)) for c in fks])

    def op_create_check_constraint(self, op: ir.CreateCheckConstraint,
                                   before: SchemaState) -> Steps:
        if not self.caps.check_constraints:
            raise UsageError(f"this {self.name} server ignores CHECK constraints "
                             f"('{op.name}')", hint="MySQL 8.0.16+ or MariaDB 10.2.1+")
        return super().op_create_check_constraint(op, before)


class MariaDBRenderer(MySQLRenderer):
    """MariaDB: MySQL's statements; version rules differ (see capabilities)."""

    name: ClassVar[str] = "mariadb"
    sql_dialects: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")

    def comparable(self, state: SchemaState) -> SchemaState:
        # MariaDB's JSON is an alias of LONGTEXT (plus a json_valid check): the same thing.
        longtext = TypeSpec("mysql.longtext")
        return self._map_columns(super().comparable(state), lambda c: replace(
            c, type=longtext) if c.type.name == "json" else c)
