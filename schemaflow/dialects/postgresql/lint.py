"""PostgreSQL's lint rules: statements that hold strong locks on tables that may be busy."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from ... import ir
from ...rules import Finding, LintContext, OpContext
from ...state import SchemaState
from ...typespec import TypeSpec, is_native_enum, stored_as


def adds_enum_values(old: TypeSpec, new: TypeSpec) -> bool:
    """Whether a type change only adds values to the same enum (ALTER TYPE ... ADD VALUE:
    no rewrite, no lock on the table)."""
    return (is_native_enum(old) and is_native_enum(new)
            and old.kwarg("name") == new.kwarg("name")
            and set(old.args) <= set(new.args))


def _pg_rewrites(old: TypeSpec, new: TypeSpec) -> bool:
    # Binary-compatible changes PostgreSQL makes without a rewrite.
    if adds_enum_values(old, new):
        return False
    old, new = stored_as(old), stored_as(new)  # a non-native enum is a VARCHAR
    if old.name == new.name == "string":
        return bool(new.args) and bool(old.args) and new.args[0] < old.args[0]  # type: ignore[operator]
    if old.name == "string" and new.name == "text":
        return False
    if old.name == new.name == "numeric":
        return not (len(old.args) == len(new.args) == 2 and old.args[1] == new.args[1]
                    and new.args[0] >= old.args[0])  # type: ignore[operator]
    return old != new


def _here(op: ir.AlterColumn, col: ir.Column | None) -> tuple[TypeSpec, TypeSpec] | None:
    """(old type, new type) of a type change as PostgreSQL builds them, or None."""
    if col is None or op.type is None:
        return None
    from . import PostgreSQL

    pg = PostgreSQL()
    new = pg.op_here(op)
    assert isinstance(new, ir.AlterColumn) and new.type is not None
    return pg.column_here(col).type, new.type


_LOCKING = (ir.AddColumn, ir.DropColumn, ir.RenameColumn, ir.AlterColumn, ir.RenameTable,
            ir.DropTable, ir.DropIndex, ir.CreateUniqueConstraint, ir.CreateForeignKey,
            ir.CreateCheckConstraint, ir.CreatePrimaryKey, ir.DropConstraint)


def postgresql_locks(op: ir.Operation, before: SchemaState, oc: OpContext,
                     ctx: LintContext) -> Iterator[Finding]:
    """Statements that hold strong PostgreSQL locks on tables that may be busy."""
    table = getattr(op, "table", None) or getattr(op, "name", None)
    schema = getattr(op, "schema", None)
    if not isinstance(table, str) or not oc.existing(before, table, schema):
        return
    if isinstance(op, ir.CreateCheckConstraint) and op.dialects is not None and (
            "postgresql" not in op.dialects):
        return  # a CHECK of other databases: nothing runs here
    if isinstance(op, ir.AddColumn) and (op.column.index or op.column.unique):
        yield "SF341", (f"add_column {op.table}.{op.column.name} also builds an index on the "
                        "existing table, blocking writes while it builds"), (
            "add the column, then create_index with concurrently: true in a changeset with "
            "transactional: false")
    added = _column_here(op.column) if isinstance(op, ir.AddColumn) else None
    if isinstance(op, ir.AddColumn) and added is not None and _volatile(str(
            added.default_sql) if added.default_sql is not None else None):
        yield "SF346", (f"add_column {op.table}.{op.column.name} with default "
                        f"{added.default_sql} computes it for every existing row, "
                        "rewriting the table under an ACCESS EXCLUSIVE lock"), (
            "add the column without the default, set the default, then backfill in batches")
    if isinstance(op, ir.CreateIndex) and not op.concurrently:
        yield "SF341", (f"create_index {op.name} on {op.table} blocks writes to the table "
                        "while it builds"), (
            "set concurrently: true in a changeset with transactional: false")
    if isinstance(op, (ir.CreateForeignKey, ir.CreateCheckConstraint)) and not op.not_valid:
        yield "SF342", (f"{op.kind} {op.name} checks every row of {op.table} while holding "
                        "a lock"), ("add it with not_valid: true, then VALIDATE CONSTRAINT in "
                                    "a later changeset")
    if isinstance(op, ir.AlterColumn):
        col = before.table(op.table, op.schema).column(op.name)
        here = _here(op, col)  # the types as PostgreSQL builds them (its variants)
        if here is not None and _pg_rewrites(*here):
            yield "SF343", (f"alter_column {op.table}.{op.name} {here[0]} → {here[1]} "
                            "rewrites the whole table under an ACCESS EXCLUSIVE lock"), (
                "add a new column, backfill it in batches, then swap")
        if op.nullable is False and col is not None and col.is_nullable:
            checks = before.table(op.table, op.schema).checks
            guarded = any(re.search(rf"\b{re.escape(op.name)}\b\s+is\s+not\s+null",
                                    c.expression, re.I) and not c.not_valid for c in checks)
            if not guarded:
                yield "SF344", (f"alter_column {op.table}.{op.name} SET NOT NULL scans the "
                                "table under an ACCESS EXCLUSIVE lock"), (
                    f"first add CHECK ({op.name} IS NOT NULL) with not_valid: true and "
                    "validate it; then SET NOT NULL skips the scan")
    only_enum_values = (isinstance(op, ir.AlterColumn) and op.type is not None
                        and op == ir.AlterColumn(table=op.table, schema=op.schema,
                                                 name=op.name, type=op.type)
                        and (col := before.table(table, schema).column(op.name)) is not None
                        and adds_enum_values(col.type, op.type))
    if (isinstance(op, _LOCKING) and not only_enum_values and "SF345" not in oc.once
            and not _sets_lock_timeout(oc.changeset, oc.index)):
        oc.once.add("SF345")
        yield "SF345", (f"{op.kind} on {table} takes an ACCESS EXCLUSIVE lock; without "
                        "lock_timeout it can queue behind a long query and block every "
                        "other query on the table"), (
            "start the changeset with: - sql: {up: \"SET lock_timeout = '5s'\", down: "
            "\"SET lock_timeout = '5s'\", dialects: [postgresql]}")


# What autogenerate writes first in a changeset that locks existing tables (SF345's advice):
# LOCAL, so that it ends with the changeset's transaction and later changesets keep the
# server's setting.
SET_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '5s'"


def locks_existing(operations: Sequence[ir.Operation]) -> bool:
    """Whether a new changeset of `operations` takes SF345's locks: a locking operation on a
    table it does not create itself (told without the schema before it, so an operation
    that only adds enum values counts too; the setting costs nothing there)."""
    created: set[tuple[str | None, str]] = set()
    for op in operations:
        if isinstance(op, ir.CreateTable):
            created.add((op.schema, op.name))
        elif isinstance(op, _LOCKING):
            table = getattr(op, "table", None) or getattr(op, "name", None)
            if (getattr(op, "schema", None), table) not in created:
                return True
    return False


_STABLE_DEFAULTS = {"current_timestamp", "now()", "current_date", "current_time",
                    "localtimestamp", "localtime", "current_user", "null", "true", "false"}


def _volatile(default_sql: str | None) -> bool:
    """Whether a default is computed per row (PostgreSQL then rewrites the table)."""
    if default_sql is None:
        return False
    text = re.sub(r"\s+", "", default_sql.lower())
    if text in _STABLE_DEFAULTS or re.fullmatch(r"'[^']*'(::[\w ]+)?|-?[\d.]+", text):
        return False
    return "(" in text


def _sets_lock_timeout(cs: ir.Changeset, upto: int) -> bool:
    return any(isinstance(op, ir.Sql) and any(re.match(r"\s*set\s+(local\s+)?lock_timeout",
                                                       s, re.I) for s in op.up)
               for op in cs.operations[:upto])


def _column_here(c: ir.Column) -> ir.Column:
    """`c` as PostgreSQL builds it (its default there, where it has one per database)."""
    from . import PostgreSQL

    return PostgreSQL().column_here(c)
