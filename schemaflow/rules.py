"""Safety analyzers over typed operations and the replayed schema, each with a stable code."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import ir
from .errors import CODES, Code, UsageError
from .state import SchemaState, TableKey, index_clashes

if TYPE_CHECKING:
    from .dialects.base import Dialect
from .typespec import TypeSpec

# The rules a project selects and ignores (lint.py adds a few history checks). Their
# severities and titles are registered in errors.CODES, with every other code.
_RULE_GROUPS = ("destructive", "data", "compatibility", "dialect", "postgresql-locks", "graph")
RULES: Mapping[str, Code] = {c.code: c for c in CODES.values() if c.group in _RULE_GROUPS}


@dataclass
class LintContext:
    """What the analyzers know besides the operation: target database, models, selection."""

    models: SchemaState | None = None
    support: Dialect | None = None  # the target database (at its server version), if any


# (code, message, hint), and where it can say so, the path inside the operation's document
# (("rows", 3, "n"): the value it is about).
Finding = tuple[str, str, str | None] | tuple[str, str, str | None, tuple[object, ...]]


# --- type comparisons ------------------------------------------------------------------------

_INTS = {"smallint": 1, "integer": 2, "bigint": 3}


def _narrows(old: TypeSpec, new: TypeSpec) -> bool:
    if old.name in _INTS and new.name in _INTS:
        return _INTS[new.name] < _INTS[old.name]
    if old.name == "string" and new.name == "string":
        # No length is unbounded: wider than any length.
        return bool(new.args) and (not old.args or int(new.args[0]) < int(old.args[0]))
    if old.name == "text" and new.name == "string":
        return True
    if old.name == "numeric" and new.name == "numeric":
        if not new.args:
            return False  # unbounded numeric holds anything
        if not old.args:
            return True
        old_p, old_s = int(old.args[0]), int(old.args[1]) if len(old.args) > 1 else 0
        new_p, new_s = int(new.args[0]), int(new.args[1]) if len(new.args) > 1 else 0
        # Fewer digits after the point, or fewer before it, can lose data.
        return new_s < old_s or (new_p - new_s) < (old_p - old_s)
    if old.name == "enum" and new.name == "enum":
        return not set(old.args) <= set(new.args)
    # A float holds integers exactly to 2**53 (2**24 in single precision) and no decimal
    # exactly; an integer or a decimal keeps no fraction of a float, a decimal none past its
    # scale.
    if new.name == "float":
        single = bool(new.args) and int(new.args[0]) <= 24
        return old.name in ("bigint", "numeric") or (old.name == "integer" and single)
    return old.name == "float" and (new.name in _INTS or new.name == "numeric")


_TEXTUAL = {"string", "text", "enum"}
_NUMERIC = {"smallint", "integer", "bigint", "float", "numeric"}


def _may_fail(old: TypeSpec, new: TypeSpec) -> bool:
    if old == new:
        return False
    if old.name in _TEXTUAL and new.name not in _TEXTUAL:
        return True
    if old.name in _NUMERIC and new.name not in _NUMERIC | _TEXTUAL:
        return True
    return old.name in ("date", "datetime", "time") and new.name in _NUMERIC


# --- the analyzers ---------------------------------------------------------------------------

Analyzer = Callable[[ir.Operation, SchemaState, "OpContext", LintContext], Iterator[Finding]]


@dataclass
class OpContext:
    """Where an operation stands in its changeset."""

    changeset: ir.Changeset
    created_here: set[TableKey]
    index: int
    once: set[str] = field(default_factory=set)  # per-changeset findings already reported

    def existing(self, before: SchemaState, table: str, schema: str | None) -> bool:
        """Whether the table existed before this changeset (so it may hold rows)."""
        return (schema, table) in before.tables and (schema, table) not in self.created_here


def destructive(op: ir.Operation, before: SchemaState, oc: OpContext,
                ctx: LintContext) -> Iterator[Finding]:
    """Drops and narrowing type changes."""
    if isinstance(op, ir.DropTable) and oc.existing(before, op.name, op.schema):
        yield "SF301", f"drop_table {op.name} deletes the table and all its rows", (
            "make sure nothing reads it any more and that it is backed up")
    if isinstance(op, ir.DropColumn) and oc.existing(before, op.table, op.schema):
        yield "SF302", f"drop_column {op.table}.{op.name} deletes the column's data", (
            "stop using the column in code first (deploy), then drop it in a later changeset")
    if isinstance(op, ir.AlterColumn) and op.type is not None and oc.existing(
            before, op.table, op.schema):
        col = before.table(op.table, op.schema).column(op.name)
        if col is not None and _narrows(col.type, op.type):
            yield "SF303", (f"alter_column {op.table}.{op.name} narrows {col.type} to "
                            f"{op.type}"), "check the longest existing value fits"


def _defaultless(c: ir.Column, ctx: LintContext) -> bool:
    """Whether column `c` gets no default of SQL on the database judged (without one in
    mind: on some database, where `default_sql` is one per database)."""
    if not isinstance(c.default_sql, ir.SqlDefaults):
        return c.default_sql is None
    if ctx.support is not None:
        return ctx.support.column_here(c).default_sql is None
    from .dialects import by_name, names

    return any(c.default_sql.on(by_name(n).variant_names) is None for n in names())


def data_dependent(op: ir.Operation, before: SchemaState, oc: OpContext,
                   ctx: LintContext) -> Iterator[Finding]:
    """Operations that succeed or fail depending on the rows already there."""
    if isinstance(op, ir.AddColumn) and oc.existing(before, op.table, op.schema):
        c = op.column
        if not c.is_nullable and c.default is None and _defaultless(c, ctx):
            yield "SF311", (f"add_column {op.table}.{c.name} is NOT NULL without a default: "
                            "it fails on a table that has rows"), (
                "add it nullable, backfill it, then alter_column nullable: false; or give it "
                "a default")
        if c.unique:
            yield "SF312", f"add_column {op.table}.{c.name} is unique", None
    unique = isinstance(op, (ir.CreateUniqueConstraint, ir.CreatePrimaryKey)) or (
        isinstance(op, ir.CreateIndex) and op.unique)
    if unique and oc.existing(before, op.table, op.schema):  # type: ignore[attr-defined]
        assert isinstance(op, (ir.CreateUniqueConstraint, ir.CreateIndex, ir.CreatePrimaryKey))
        shown = ", ".join(ir.key_text(k) for k in op.columns)
        yield "SF312", (f"{op.kind} {op.name} on {op.table}({shown}) fails "
                        "if existing rows have duplicates"), (
            "check for duplicates first (SELECT ... GROUP BY ... HAVING count(*) > 1)")
    if isinstance(op, ir.AlterColumn) and oc.existing(before, op.table, op.schema):
        col = before.table(op.table, op.schema).column(op.name)
        if col is None:
            return
        if op.type is not None and _may_fail(col.type, op.type):
            yield "SF313", (f"alter_column {op.table}.{op.name} changes {col.type} to "
                            f"{op.type}: existing values may not convert"), (
                "convert the data first, or give `using:` (PostgreSQL)")
        if op.nullable is False and col.is_nullable:
            yield "SF314", (f"alter_column {op.table}.{op.name} becomes NOT NULL: it fails if "
                            "any row holds NULL"), "backfill the NULLs first"


def compatibility(op: ir.Operation, before: SchemaState, oc: OpContext,
                  ctx: LintContext) -> Iterator[Finding]:
    """Changes that break code still running against the old schema."""
    if isinstance(op, ir.RenameTable) and oc.existing(before, op.name, op.schema):
        yield "SF321", f"rename_table {op.name} → {op.new_name} breaks code using {op.name}", (
            "expand and contract: create the new table (or a view), move code, then drop")
    if isinstance(op, ir.RenameColumn) and oc.existing(before, op.table, op.schema):
        yield "SF322", (f"rename_column {op.table}.{op.name} → {op.new_name} breaks code "
                        f"using {op.name}"), (
            "add the new column, write both, move readers, then drop the old one")
    if isinstance(op, ir.DropColumn) and ctx.models is not None:
        model = ctx.models.get(op.table, op.schema)
        if model is not None and model.column(op.name) is not None:
            yield "SF323", (f"drop_column {op.table}.{op.name}: the models still have this "
                            "column"), "remove it from the models first"


def dialect_capability(op: ir.Operation, before: SchemaState, oc: OpContext,
                       ctx: LintContext) -> Iterator[Finding]:
    """What the target database (and server version) cannot do, found by rendering."""
    if ctx.support is None:
        return
    if (isinstance(op, ir.CreateIndex) and op.concurrently and ctx.support.caps.concurrent_index
            and oc.changeset.transactional is not False):
        yield "SF331", (f"create_index {op.name} with concurrently cannot run inside a "
                        "transaction"), ("set transactional: false on the changeset and keep "
                                         "the index in a changeset of its own")
    if (isinstance(op, ir.Sql) and oc.changeset.transactional is not False
            and ctx.support.runs_sql(op)):
        from .sqlsplit import split_sql

        refused = next((s for text in op.up for s in split_sql(text, ctx.support.sql_syntax)
                        if ctx.support.refuses_transaction(s)), None)
        if refused is not None:
            yield "SF331", (f"sql: {' '.join(refused.split())[:80]} cannot run inside a "
                            f"transaction on {ctx.support.name}"), (
                "set transactional: false on the changeset (each statement then runs on its "
                "own, this one outside any transaction), and keep it in a changeset of its own")
    try:
        # Each column as this database builds it (its variant); values: SF333 (values.py).
        ctx.support.check_support(ctx.support.op_here(op), before)
    except UsageError as exc:
        yield "SF331", f"{op.kind} on {ctx.support.name}: {exc.message}", exc.hint


def index_namespace(op: ir.Operation, before: SchemaState, oc: OpContext,
                    ctx: LintContext) -> Iterator[Finding]:
    """Without a target database, an index name two tables share: valid where index names are
    per table (MySQL, MariaDB), impossible where they are per schema. With a target, its
    Dialect decides (SF331)."""
    if ctx.support is not None:
        return
    from .dialects import by_name, capabilities, names

    per_table = [d for d in names() if capabilities(d).index_names_per_table]
    # Each database with index names per schema judged apart: an index of some databases
    # only (`dialects`) clashes only where it exists.
    found: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for d in (d for d in names() if d not in per_table):
        for name, table, others in index_clashes(op, before, by_name(d).index_held):
            other, where = found.setdefault((name, table), (others[0], []))
            if other in others:
                where.append(d)
    for (name, table), (other, per_schema) in found.items():
        yield "SF334", (f"{op.kind} {name} on {table}: the table {other} has an index "
                        f"named {name} too; that runs only where index names are per table "
                        f"({', '.join(per_table)}), not on {', '.join(per_schema)}"), (
            "rename one of the indexes if the changesets must run on every database, or "
            "validate with --dialect (or a URL) to check for the one they run on")


ANALYZERS: tuple[Analyzer, ...] = (destructive, data_dependent, compatibility,
                                   dialect_capability, index_namespace)


def analyze(op: ir.Operation, before: SchemaState, oc: OpContext,
            ctx: LintContext) -> list[Finding]:
    """Every finding of every analyzer for one operation."""
    out: list[Finding] = []
    extra = ctx.support.analyzers() if ctx.support is not None else ()
    # An operation on an index of other databases only does nothing on the one judged: what
    # only that database would say of it is not said.
    elsewhere = ctx.support is not None and ctx.support.elsewhere(op, before)
    for analyzer in (*ANALYZERS, *extra):
        if not (elsewhere and (analyzer is dialect_capability or analyzer in extra)):
            out += analyzer(op, before, oc, ctx)
    return out


def selected(code: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """Whether a rule code is on, given prefixes to select and ignore (ruff-style)."""
    if any(code.startswith(i) for i in ignore):
        return False
    return not select or any(code.startswith(s) for s in select)
