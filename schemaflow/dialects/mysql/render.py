"""MySQL and MariaDB: no transactional DDL; column changes restate the whole column."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import AddConstraint
from sqlalchemy.sql.compiler import DDLCompiler

from ... import ir
from ...plans import Step
from ...state import SchemaState, apply, dependents
from .. import ddl
from ..render import Renderer, Steps
from ..tables import keyed_column, table_with_refs

# SQLAlchemy names a MariaDB connection's dialect "mariadb", an offline one "mysql".
_NAMES = ("mysql", "mariadb")


class ModifyColumn(ddl.AlterTable):
    """`ALTER TABLE t MODIFY COLUMN <full column spec>`."""

    def __init__(self, column: sa.Column[Any]) -> None:
        super().__init__(column.table.name, column.table.schema)
        self.column = column


class ChangeColumn(ddl.AlterTable):
    """`ALTER TABLE t CHANGE COLUMN old <full spec of new>` (rename before 8.0)."""

    def __init__(self, old_name: str, column: sa.Column[Any]) -> None:
        super().__init__(column.table.name, column.table.schema)
        self.old_name = old_name
        self.column = column


class DropIndexOn(ddl.AlterTable):
    """`DROP INDEX name ON table` for an index schemaflow did not create itself."""

    def __init__(self, table: str, schema: str | None, name: str) -> None:
        super().__init__(table, schema)
        self.name = name


def _modify_column(el: ModifyColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return (f"{ddl.alter(compiler, el)} MODIFY COLUMN "
            f"{compiler.get_column_specification(el.column)}")


def _change_column(el: ChangeColumn, compiler: DDLCompiler, **kw: Any) -> str:
    return (f"{ddl.alter(compiler, el)} CHANGE COLUMN {ddl.col_ref(compiler, el.old_name)} "
            f"{compiler.get_column_specification(el.column)}")


def _drop_index_on(el: DropIndexOn, compiler: DDLCompiler, **kw: Any) -> str:
    return (f"DROP INDEX {ddl.col_ref(compiler, el.name)} ON "
            f"{ddl.table_ref(compiler, el.table_name, el.schema)}")


def _utc_now(el: ddl.UtcNow, compiler: Any, **kw: Any) -> str:
    return "UTC_TIMESTAMP()"


def _now_default(el: ddl.NowDefault, compiler: Any, **kw: Any) -> str:
    return f"CURRENT_TIMESTAMP({el.digits})"


for _name in _NAMES:
    compiles(ModifyColumn, _name)(_modify_column)
    compiles(ddl.UtcNow, _name)(_utc_now)
    compiles(ddl.NowDefault, _name)(_now_default)
    compiles(ChangeColumn, _name)(_change_column)
    compiles(DropIndexOn, _name)(_drop_index_on)


class MySQLRenderer(Renderer):
    """MySQL and MariaDB: ALTER COLUMN becomes MODIFY COLUMN with the full definition from
    the state; keys that InnoDB ties to indexes are dropped and re-added around them."""

    def _full_column(self, after: SchemaState, table: str, schema: str | None,
                     column: str) -> Steps:
        return [Step(ModifyColumn(keyed_column(after.table(table, schema), column)))]

    def op_alter_column(self, op: ir.AlterColumn, before: SchemaState) -> Steps:
        return self._full_column(apply(before, op), op.table, op.schema, op.name)

    def op_rename_column(self, op: ir.RenameColumn, before: SchemaState) -> Steps:
        if self.caps.rename_column:
            return super().op_rename_column(op, before)
        after = apply(before, op)
        return [Step(ChangeColumn(op.name, keyed_column(after.table(op.table, op.schema),
                                                     op.new_name)))]

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
            steps += [Step(ddl.DropConstraint(c)) for c in table.constraints if c.name == name]
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
            steps += [Step(ddl.DropConstraint(table.primary_key))]
        return steps + super().op_drop_column(op, before)

    def _around_keys(self, before: SchemaState, table: str, schema: str | None, name: str,
                     columns: tuple[str, ...], steps: Steps) -> Steps:
        """`steps` (which drop the index or unique key `name`), wrapped in dropping and
        re-adding the foreign keys that need it: InnoDB lets a key use any index starting with
        its columns and refuses to drop it; re-adding makes InnoDB build its own index."""
        t = before.table(table, schema)
        others = [_leading(i) for i in t.indexes if i.name != name]
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
        return [Step(ddl.DropConstraint(c)) for c in fks] + steps + [Step(AddConstraint(c))
                                                                  for c in fks]

    def op_drop_index(self, op: ir.DropIndex, before: SchemaState) -> Steps:
        dropped = next(i for i in before.table(op.table, op.schema).indexes
                       if i.name == op.name)
        return self._around_keys(before, op.table, op.schema, op.name, _leading(dropped),
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
            covered = [_leading(i) for i in t.indexes] + [u.columns for u in t.uniques]
            if t.primary_key:
                covered.append(t.primary_key.columns)
            if not any(cols[: len(fk.columns)] == fk.columns for cols in covered):
                # InnoDB built an index of the key's name for it; it outlives the key.
                steps.append(Step(DropIndexOn(op.table, op.schema, op.name)))
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


def _leading(i: ir.IndexDef) -> tuple[str, ...]:
    """The leading whole columns of index `i`: what InnoDB can use of it for a foreign key."""
    out = []
    for k in i.columns:
        name = k if isinstance(k, str) else (k.name if k.length is None else None)
        if name is None:
            break
        out.append(name)
    return tuple(out)


def _key_part(el: ddl.KeyPart, compiler: Any, **kw: Any) -> str:
    return ddl.key_part_sql(compiler, el, length=True)


for _name in _NAMES:
    compiles(ddl.KeyPart, _name)(_key_part)
