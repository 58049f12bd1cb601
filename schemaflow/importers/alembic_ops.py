"""Alembic's operations (its `Operations` objects are data) translated into schemaflow's: one
function per Alembic operation class, given the schema replayed so far. What the format
cannot carry raises `Opaque`: the importer then keeps the SQL Alembic writes for it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops as aops

from .. import ir
from ..dialects.coltypes import built_everywhere
from ..dialects.indexes import from_model, sql_text
from ..dialects.metadata import assumed, charset_option, from_metadata
from ..dialects.read import Unexpressible, _name
from ..errors import ModelError
from ..state import (
    SchemaState,
    ck_name,
    create_check_op,
    create_fk_op,
    create_table_op,
    fk_name,
    pk_name,
    uq_name,
)
from .alembic_columns import (
    Opaque,
    Ops,
    Partial,
    boolean_columns,
    boolean_default,
    given_default,
    given_type,
    on_mysql,
)
from .alembic_names import conventional
from .alembic_rows import bulk_insert


def _no_options(kw: dict[str, Any], what: str, allowed: tuple[str, ...] = ()) -> None:
    # (Options that change nothing, as in models: MySQL's default engine, SQLite's defaults.)
    extra = {k: v for k, v in kw.items() if v is not None and k not in allowed
             and not assumed(k, v)}
    if extra:
        raise Opaque(f"{what} has options schemaflow cannot express: {extra}")


def _state_table(table: sa.Table) -> Any:
    """`table` as schemaflow state, the tables its foreign keys name stubbed in."""
    md = table.metadata
    for fk in table.foreign_keys:
        parts = fk.target_fullname.split(".")
        schema, name = (parts[-3] if len(parts) > 2 else None), parts[-2]
        full = f"{schema}.{name}" if schema else name
        if full not in md.tables:  # Alembic stubs the tables it resolves itself
            sa.Table(name, md, sa.Column(parts[-1], sa.Integer), schema=schema)
        elif parts[-1] not in md.tables[full].c:
            md.tables[full].append_column(sa.Column(parts[-1], sa.Integer))
    for c in table.columns:  # Alembic's stub of a column its own table's foreign key names
        if isinstance(c.type, sa.types.NullType):
            c.type = sa.Integer()
    others = [str(t.name) for t in md.tables.values() if t is not table]
    try:
        state = from_metadata(md, skip=others)
        own = _column_checks(table)
    except (Unexpressible, ModelError) as exc:
        raise Opaque(exc.message) from None
    t = state.table(str(table.name), table.schema)
    extra = tuple(c for c in own if c not in t.checks)
    return replace(t, checks=t.checks + extra) if extra else t


def _column_checks(table: sa.Table) -> tuple[ir.CheckDef, ...]:
    """The CHECK constraints given to `table`'s columns (`sa.Column('c', sa.Integer,
    sa.CheckConstraint('c > 0'))`). SQLAlchemy keeps them on the column, not among the
    table's constraints, so the models' reading never sees them; Alembic's CREATE TABLE and
    ADD COLUMN write them in the column's definition, on every database."""
    out = []
    name = str(table.name)
    for column in table.columns:
        checks = [c for c in column.constraints if isinstance(c, sa.CheckConstraint)]
        for c in built_everywhere(name, checks):
            options = {**c.dialect_kwargs, **({"comment": c.comment} if c.comment else {}),
                       **({"deferrable": c.deferrable} if c.deferrable is not None else {}),
                       **({"initially": c.initially} if c.initially is not None else {})}
            if options:
                raise Unexpressible(f"constraint {_name(c) or ''} on {name}.{column.name}",
                                    f"the options {options}")
            expression = sql_text(c.sqltext)
            out.append(ir.CheckDef(expression=expression,
                                   name=_name(c) or ck_name(name, expression)))
    return tuple(out)


def _create_table(op: aops.CreateTableOp, built: Any, names: Any = None) -> Ops:
    # (SQLite's AUTOINCREMENT and MySQL's character set are the table's own, read with it by
    # `_state_table`.)
    _no_options({k: v for k, v in op.kw.items() if not charset_option(k)},
                f"table {op.table_name}", ("sqlite_autoincrement",))
    if op.prefixes:
        raise Opaque(f"table {op.table_name} has prefixes {op.prefixes}")
    # The Table Alembic built when it ran the operation (its columns are attached to it
    # now), else one built from the operation.
    table = built if isinstance(built, sa.Table) else op.to_table(names)
    state = _state_table(table)
    later = {tuple(str(c.name) for c in fk.columns) for fk in table.foreign_key_constraints
             if fk.use_alter}
    if not later:
        return [create_table_op(state)]
    # A foreign key with use_alter=True: Alembic's CREATE TABLE leaves it out on PostgreSQL
    # and MySQL (create_all() adds it after every table; Alembic never does), SQLite keeps it.
    kept = replace(state, foreign_keys=tuple(f for f in state.foreign_keys
                                            if f.columns not in later))
    names = ", ".join(f"({', '.join(cols)})" for cols in sorted(later))
    raise Partial(f"table {op.table_name}: the foreign key on {names} has use_alter=True, "
                  "which Alembic's create_table leaves out on PostgreSQL and MySQL (SQLite "
                  "builds it); it is left out here: add it with create_foreign_key where "
                  "wanted", [create_table_op(kept)])


def _add_column(op: aops.AddColumnOp, state: SchemaState, dialect: Any) -> Ops:
    column = op.column
    table = getattr(column, "table", None)
    if not isinstance(table, sa.Table):
        table = sa.Table(op.table_name, sa.MetaData(), column, schema=op.schema)
    t = _state_table(table)
    # A CHECK of the column's type (Boolean or Enum with create_constraint=True) is among
    # the table's constraints: Alembic adds it by ALTER where the database has it and skips
    # it on SQLite, which the format cannot say; Alembic's SQL is kept for it.
    own = _column_checks(table)
    if any(c not in own for c in t.checks):
        raise Opaque(f"column {op.table_name}.{column.name} carries a check constraint of "
                     "its type's own (create_constraint=True)")
    new = next(c for c in t.columns if c.name == column.name)
    # What the column brings besides itself, as Alembic adds it after ADD COLUMN (the
    # column's own CHECKs, which Alembic writes into ADD COLUMN itself, first).
    where = replace(t, name=op.table_name, schema=op.schema)
    out: Ops = [ir.AddColumn(table=op.table_name, schema=op.schema,
                             column=ir.Column(**{**_fields(new),
                                                 "primary_key": bool(t.primary_key)}))]
    out += [create_check_op(where, c) for c in t.checks]
    out += [ir.CreateUniqueConstraint(name=u.name or "", table=op.table_name, schema=op.schema,
                                      columns=u.columns) for u in t.uniques]
    out += [ir.CreateIndex.of(i, op.table_name, op.schema) for i in t.indexes]
    out += [create_fk_op(where, f) for f in t.foreign_keys]
    return out


def _fields(c: ir.Column) -> dict[str, Any]:
    return {k: getattr(c, k) for k in ir.Column.__dataclass_fields__}


def _is_boolean(op: aops.AlterColumnOp, state: SchemaState) -> bool:
    """Whether the column `op` alters is (or becomes) a boolean."""
    for t in (op.modify_type, op.existing_type):
        if t is not None:
            return isinstance(sa.types.to_instance(t), sa.Boolean)
    table = state.tables.get((op.schema, op.table_name))
    column = table.column(op.column_name) if table is not None else None
    return column is not None and column.type.name == "boolean"


def _alter_column(op: aops.AlterColumnOp, state: SchemaState, dialect: Any) -> Ops:
    where = f"column {op.table_name}.{op.column_name}"
    # `default=` (a model's Python-side default) and `info=` build nothing: Alembic's
    # alter_column takes them in **kw and no database's implementation reads them.
    _no_options(op.kw, where, ("postgresql_using", "existing_comment", "existing_autoincrement",
                               "autoincrement", "default", "info"))
    change: dict[str, Any] = {}
    unclear: str | None = None
    for t in (op.modify_type, op.kw.get("existing_type")):
        if getattr(t, "create_constraint", False):
            # Alembic drops the old type's CHECK and adds the new one's around the change
            # (MLflow's runs.status enum, its metrics.is_nan boolean): a type change alone
            # would keep the old CHECK, silently.
            raise Opaque(f"{where}: a type change with a CHECK constraint of the type's own "
                         f"(create_constraint=True: {t!r})")
    if op.modify_type is not None:
        change["type"], variants, collation = given_type(op.modify_type, where)
        if variants:
            change["variants"] = variants
        if collation is not None:
            change["collation"] = collation
    if op.modify_nullable is not None:
        change["nullable"] = bool(op.modify_nullable)
    if op.modify_server_default is None:
        change["drop_default"] = True
    elif op.modify_server_default is not False and _is_boolean(op, state):
        # `sa.true()`, `"true"`, `sa.text("1")`: `default: true` (it was 1, 'true': SF120).
        keys, unclear = boolean_default(op.modify_server_default, where)
        change.update(keys)
    elif op.modify_server_default is not False:
        default, default_sql = given_default(op.modify_server_default)
        change.update({"default": default} if default is not None else
                      {"default_sql": default_sql} if default_sql else {"drop_default": True})
    if op.modify_comment is None:
        change["comment"] = ""
    elif op.modify_comment is not False:
        change["comment"] = str(op.modify_comment)
    if op.kw.get("postgresql_using"):
        change["using"] = str(op.kw["postgresql_using"])
    out: Ops = []
    if change:
        out.append(ir.AlterColumn(table=op.table_name, name=op.column_name, schema=op.schema,
                                  **change))
    if op.modify_name:
        out.append(ir.RenameColumn(table=op.table_name, name=op.column_name,
                                   new_name=op.modify_name, schema=op.schema))
    out, why = on_mysql(op, state, out, where)
    problems = [p for p in (unclear, why) if p]
    if problems:
        raise Partial("; ".join(problems), out)
    return out


def _create_index(op: aops.CreateIndexOp, state: SchemaState, dialect: Any) -> Ops:
    kw = dict(op.kw)
    concurrently = bool(kw.pop("postgresql_concurrently", False))
    kw.pop("info", None)
    # The index as Alembic builds it, read as a model's index is (orderings, expressions,
    # operator classes, prefix lengths, method, INCLUDE, the condition).
    plain = aops.CreateIndexOp(op.index_name, op.table_name, op.columns, schema=op.schema,
                               unique=op.unique, **kw)
    try:
        index = from_model(op.table_name, plain.to_index())
    except Unexpressible as exc:
        raise Opaque(exc.message) from None
    created = ir.CreateIndex.of(index, op.table_name, op.schema)
    return [dataclasses.replace(created, concurrently=True) if concurrently else created]


def _drop_index(op: aops.DropIndexOp, state: SchemaState, dialect: Any) -> Ops:
    table = op.table_name
    if table is None:
        owners = state.tables_with_index(op.index_name, op.schema)
        if not owners:
            raise Opaque(f"drop_index {op.index_name} names no table, and no table has it "
                         "at this point")
        if len(owners) > 1:  # index names are per table on MySQL and MariaDB
            raise Opaque(f"drop_index {op.index_name} names no table, and the tables "
                         f"{' and '.join(k[1] for k in owners)} each have an index of that "
                         "name: give table_name")
        table = owners[0][1]
    return [ir.DropIndex(name=op.index_name, table=table, schema=op.schema)]


_TYPES = {"foreignkey": "foreign_key", "primary": "primary_key", "unique": "unique",
          "check": "check"}


def _drop_constraint(op: aops.DropConstraintOp, state: SchemaState, dialect: Any) -> Ops:
    if not op.constraint_name:
        raise Opaque(f"drop_constraint on {op.table_name} names no constraint")
    kind = _TYPES.get(op.constraint_type or "")
    if kind is None:
        t = state.get(op.table_name, op.schema)
        pools: dict[str, tuple[Any, ...]] = {
            "unique": t.uniques, "foreign_key": t.foreign_keys, "check": t.checks,
            "primary_key": (t.primary_key,) if t.primary_key else ()} if t else {}
        kind = next((k for k, pool in pools.items()
                     if any(c.name == op.constraint_name for c in pool)), None)
        if kind is None:
            raise Opaque(f"drop_constraint {op.constraint_name} on {op.table_name} gives no "
                         "type_, and the table has no constraint of that name at this point")
    return [ir.DropConstraint(name=str(op.constraint_name), table=op.table_name,
                              schema=op.schema, type=kind)]  # type: ignore[arg-type]


def _create_unique(op: aops.CreateUniqueConstraintOp, state: SchemaState, dialect: Any) -> Ops:
    _no_options(op.kw, f"unique constraint {op.constraint_name}")
    cols = tuple(str(c) for c in op.columns)
    return [ir.CreateUniqueConstraint(name=str(op.constraint_name or uq_name(op.table_name, cols)),
                                      table=op.table_name, schema=op.schema, columns=cols)]


def _create_fk(op: aops.CreateForeignKeyOp, state: SchemaState, dialect: Any) -> Ops:
    kw = dict(op.kw)
    ondelete, onupdate = kw.pop("ondelete", None), kw.pop("onupdate", None)
    source_schema, referent_schema = kw.pop("source_schema", None), kw.pop("referent_schema", None)
    _no_options(kw, f"foreign key {op.constraint_name}")
    ref = ir.Reference(table=op.referent_table, columns=tuple(op.remote_cols),
                       schema=referent_schema)
    cols = tuple(op.local_cols)
    name = op.constraint_name or fk_name(op.source_table, ir.ForeignKeyDef(columns=cols,
                                                                          references=ref))
    return [ir.CreateForeignKey(
        name=str(name), table=op.source_table, schema=source_schema, columns=cols,
        references=ref, ondelete=ondelete.upper() if ondelete else None,
        onupdate=onupdate.upper() if onupdate else None)]


def _create_check(op: aops.CreateCheckConstraintOp, state: SchemaState, dialect: Any) -> Ops:
    _no_options(op.kw, f"check constraint {op.constraint_name}")
    expression = sql_text(op.condition)
    return [ir.CreateCheckConstraint(
        name=str(op.constraint_name or ck_name(op.table_name, expression)),
        table=op.table_name, schema=op.schema, expression=expression)]


def _create_pk(op: aops.CreatePrimaryKeyOp, state: SchemaState, dialect: Any) -> Ops:
    return [ir.CreatePrimaryKey(name=str(op.constraint_name or pk_name(op.table_name)),
                                table=op.table_name, schema=op.schema,
                                columns=tuple(str(c) for c in op.columns))]


# A table renamed by hand, the statement alone (the same on every database):
# `op.execute("ALTER TABLE block_data RENAME TO block")`.
_RENAME_TABLE = re.compile(r'\s*ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?("[^"]+"|\w+)\s+RENAME\s+TO\s+'
                           r'("[^"]+"|\w+)\s*;?\s*', re.IGNORECASE)


def _renamed_table(text: str, state: SchemaState) -> ir.RenameTable | None:
    """The rename_table that `text` is, where it renames a table the schema has to a name
    every database spells alike (quoted, or a bare name in lower case: PostgreSQL folds a
    bare name, MySQL and SQLite keep it). Its DDL is the statement itself, and the schema
    the changesets replay learns the new name (as SQL, every later operation on it did not
    fit: Prefect's d9d98a9ebb6f)."""
    match = _RENAME_TABLE.fullmatch(text)
    if match is None:
        return None
    old, new = (n[1:-1] if n.startswith('"') else n for n in match.group(2, 3))
    if not match.group(3).startswith('"') and new != new.lower():
        return None
    found = next((n for n in (old, old.lower()) if state.get(n, None) is not None), None)
    if found is None or state.get(new, None) is not None:
        return None
    return ir.RenameTable(name=found, new_name=new)


def _execute(op: aops.ExecuteSQLOp, state: SchemaState, dialect: Any) -> Ops:
    text = op.sqltext
    if not isinstance(text, str):
        compiled: Any = text
        text = str(compiled.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    renamed = _renamed_table(text, state)
    return [renamed] if renamed is not None else [ir.Sql(up=(text.strip(),))]


def _simple(op: Any, state: SchemaState, dialect: Any) -> Ops:
    if isinstance(op, aops.DropTableOp):
        return [ir.DropTable(name=op.table_name, schema=op.schema)]
    if isinstance(op, aops.RenameTableOp):
        return [ir.RenameTable(name=op.table_name, new_name=op.new_table_name, schema=op.schema)]
    if isinstance(op, aops.DropColumnOp):
        return [ir.DropColumn(table=op.table_name, name=op.column_name, schema=op.schema)]
    if isinstance(op, aops.CreateTableCommentOp):
        return [ir.AlterTable(name=op.table_name, comment=op.comment or "", schema=op.schema)]
    assert isinstance(op, aops.DropTableCommentOp)
    return [ir.AlterTable(name=op.table_name, comment="", schema=op.schema)]


Translate = Callable[[Any, SchemaState, Any], Ops]
_BY_CLASS: dict[type, Translate] = {
    aops.AddColumnOp: _add_column,
    aops.AlterColumnOp: _alter_column,
    aops.CreateIndexOp: _create_index,
    aops.DropIndexOp: _drop_index,
    aops.DropConstraintOp: _drop_constraint,
    aops.CreateUniqueConstraintOp: _create_unique,
    aops.CreateForeignKeyOp: _create_fk,
    aops.CreateCheckConstraintOp: _create_check,
    aops.CreatePrimaryKeyOp: _create_pk,
    aops.ExecuteSQLOp: _execute,
    aops.BulkInsertOp: bulk_insert,
    aops.DropTableOp: _simple,
    aops.RenameTableOp: _simple,
    aops.DropColumnOp: _simple,
    aops.CreateTableCommentOp: _simple,
    aops.DropTableCommentOp: _simple,
}


def translate(op: Any, state: SchemaState, dialect: Any, built: Any = None,
              names: Any = None) -> Ops:
    """schemaflow's operations doing what the Alembic operation `op` does (`built`: what
    running it returned; `names`: a MigrationContext naming constraints after a naming
    convention, `alembic_names`); Opaque if none."""
    if names is not None:
        op = conventional(op, names)
    fn = _BY_CLASS.get(type(op))
    if fn is None and not isinstance(op, aops.CreateTableOp):
        raise Opaque(f"the operation {type(op).__name__} is not one of Alembic's own")
    guard = next((g for g in ("if_not_exists", "if_exists") if getattr(op, g, None)), None)
    if guard is not None:
        # The format has no such guard: written as the operation alone, it failed on apply
        # where the object exists (or is gone) already, after an import that said nothing.
        raise Opaque(f"{type(op).__name__} with {guard}=True, which the format lacks")
    try:
        ops = _create_table(op, built, names) if fn is None else fn(op, state, dialect)
    except Partial as exc:
        exc.ops, problems = boolean_columns(op, exc.ops)
        exc.args = ("; ".join([str(exc), *problems]),)
        exc.ops = _writable(op, exc.ops)
        raise
    except (Opaque, KeyboardInterrupt):
        raise
    except Exception as exc:  # an arrangement of Alembic's objects not foreseen here
        raise Opaque(f"{type(op).__name__} could not be read: {type(exc).__name__}: "
                     f"{exc}") from None
    ops, problems = boolean_columns(op, ops)
    if problems:
        raise Partial("; ".join(problems), _writable(op, ops))
    return _writable(op, ops)


def _writable(op: Any, ops: Ops) -> Ops:
    """`ops` as plain operations a changeset file can hold; Opaque if one cannot be."""
    out = [_plain(o) for o in ops]
    for o in out:
        # What a changeset file can hold, as its parser reads it back: an argument of
        # another type than Alembic documents (a Column where a column's name goes,
        # JupyterHub's drop_column) is not written as an object no file can show.
        try:
            ir.parse_operation(ir.dump_operation(o))
        except ir.IRError as exc:
            where = ".".join(str(p) for p in exc.path)
            raise Opaque(f"{type(op).__name__} was given what schemaflow cannot write "
                         f"({where}: {exc.message})") from None
    return out


def _plain(value: Any) -> Any:
    """`value` with SQLAlchemy's str subclasses (`op.f()` names: `conv`) as plain str."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{
            f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
            if f.init})
    return value
