"""What each database refuses to build as written: the support checks behind
`Dialect.check` (SF331), as a mixin of `Dialect` so that each database overrides only what
differs (its `check_support`, `check_column`, `check_index`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from .. import ir
from ..errors import UsageError
from ..typespec import TypeSpec
from . import columns
from .values import check_names

if TYPE_CHECKING:
    from ..state import SchemaState, Table
    from .base import Capabilities, Dialect


def column_types(op: ir.Operation) -> list[tuple[str, TypeSpec]]:
    """Every column (`table.column`) an operation gives a type, with the type."""
    if isinstance(op, ir.CreateTable):
        return [(f"{op.name}.{c.name}", c.type) for c in op.columns]
    if isinstance(op, ir.AddColumn):
        return [(f"{op.table}.{op.column.name}", op.column.type)]
    if isinstance(op, ir.AlterColumn) and op.type is not None:
        return [(f"{op.table}.{op.name}", op.type)]
    return []


@functools.cache
def _index_clashes() -> Callable[..., list[tuple[str, str, list[str]]]]:
    """`state.index_clashes`, imported when first wanted (listings import the dialects, never
    the state), not on each operation checked (an import per call cost ~5% of a check)."""
    from ..state import index_clashes

    return index_clashes


def names_created(op: ir.Operation) -> list[str]:
    """Every identifier an operation gives a new object (or a new name)."""
    if isinstance(op, (ir.RenameTable, ir.RenameColumn)):
        return [op.new_name]
    if isinstance(op, ir.AddColumn):
        return [op.column.name]
    if not isinstance(op, (ir.CreateTable, ir.CreateIndex, ir.CreateUniqueConstraint,
                           ir.CreateForeignKey, ir.CreateCheckConstraint,
                           ir.CreatePrimaryKey, ir.CreateSequence)):
        return []
    names = [op.name]
    if isinstance(op, ir.CreateTable):
        names += [c.name for c in op.columns] + [i.name for i in op.indexes]
        parts: list[Any] = [*op.unique, *op.foreign_keys, *op.checks]
        parts += [op.primary_key] if op.primary_key else []
        names += [p.name for p in parts if p.name]
    return names



class SupportChecks:
    """The support checks of a `Dialect`."""

    # What the checks read of the Dialect they are part of.
    name: ClassVar[str]
    type_dialects: ClassVar[tuple[str, ...]]
    caps: Capabilities

    def check_support(self, op: ir.Operation, before: SchemaState) -> None:
        """Raise UsageError when this database cannot do `op` (what it stores aside); one on
        an index of other databases only does nothing here, and is not asked (`check`)."""
        check_names(cast("Dialect", self), names_created(op))
        self._check_index_names(op, before)
        for where, spec in column_types(op):
            if spec.name == "array" and not self.caps.arrays:
                raise UsageError(f"column '{where}': {self.name} has no array columns ({spec})",
                                 hint="store the values in a json column or a table of "
                                      "their own, or scope the column with a sql operation "
                                      "and `dialects:`")
            limit = {"string": self.caps.max_string, "char": self.caps.max_char}.get(spec.name)
            if limit is not None and spec.args and isinstance(spec.args[0], int) and (
                    spec.args[0] > limit):
                raise UsageError(f"column '{where}': {spec} is longer than {self.name} "
                                 f"builds ({spec.name}(n) up to n = {limit:,})",
                                 hint="write text for text of any length (as create_all() "
                                      "fails there too)")
            if spec.name == "string" and not spec.args and not self.caps.unsized_strings:
                raise UsageError(f"column '{where}': {self.name} needs a length for a string "
                                 "column (VARCHAR(n)); `string` has none",
                                 hint="write string(N), or text for text of any length (as "
                                      "create_all() refuses String() here)")
            if spec.dialect and spec.dialect not in self.type_dialects:
                raise UsageError(
                    f"column '{where}': the type {spec} is {spec.dialect}'s; this database "
                    f"is {self.name}",
                    hint="use a generic type, or put the column in a sql operation with "
                         "`dialects:`")
        self._check_deferrable(op)
        self._check_references(op, before)
        if isinstance(op, (ir.CreateSequence, ir.DropSequence)) and not self.caps.sequences:
            raise UsageError(f"{self.name} has no sequences: "
                             f"{op.kind} {op.name}",
                             hint="PostgreSQL and MariaDB 10.3+ have them (a mysql:// URL is "
                                  "checked as MySQL: write mariadb:// for MariaDB, or validate "
                                  "--dialect mariadb); elsewhere write it as a sql operation "
                                  "scoped with `dialects:`")
        if isinstance(op, ir.CreateIndex):
            self.check_index(op.definition, op.table)
        elif isinstance(op, ir.CreateTable):
            self._check_numbering(op)
            for index in op.indexes:
                self.check_index(index, op.name)
            for column in op.columns:
                self.check_column(column, op.name)
        elif isinstance(op, ir.AddColumn):
            self.check_column(op.column, op.table)
        elif isinstance(op, ir.AlterColumn) and op.type is not None:
            columns.check_collation(f"column '{op.table}.{op.name}'", op.type, op.collation)

    def _check_numbering(self, op: ir.CreateTable) -> None:
        """A numbered column in a key of several columns, where this database has none, or
        where it must lead the key or an index and does not."""
        key = op.primary_key.columns if op.primary_key else tuple(
            c.name for c in op.columns if c.primary_key)
        told = [c.name for c in op.columns if c.autoincrement and c.name in key]
        if not told or len(key) < 2:
            return
        where = f"column '{op.name}.{told[0]}'"
        if not self.caps.composite_numbering:
            raise UsageError(f"{self.name} numbers only a sole integer primary key: {where} "
                             "is numbered (`autoincrement: true`) in a key of several columns",
                             hint="drop `autoincrement` (the column then takes the values "
                                  "given), or use a sql operation scoped with `dialects:`")
        from ..ir.parts import key_columns  # (listings import the dialects, never the IR)

        leading = [key[0]] + [c.name for c in op.columns if c.unique or c.index] + [
            u.columns[0] for u in op.unique] + list(key_columns(tuple(
                i.columns[0] for i in op.indexes if i.columns)))
        if self.caps.numbered_leads_index and told[0] not in leading:
            raise UsageError(f"{self.name} numbers only a column that leads a key or an "
                             f"index: {where} is numbered (`autoincrement: true`) but comes "
                             f"after {key[0]} in the primary key",
                             hint=f"put {told[0]} first in the primary key's columns (as "
                                  "create_all() does when the models mark the columns "
                                  "primary_key=True), or add an index that starts with it")

    def check_column(self, c: ir.Column, table: str) -> None:
        """Raise UsageError when this database cannot build column `c` as written."""
        where = f"column '{table}.{c.name}'"
        columns.check_collation(where, c.type, c.collation)
        # (`stored` left out is the database's own kind: STORED where it has no other.)
        if c.computed is not None and c.computed.stored is False and (
                not self.caps.virtual_computed):
            raise UsageError(f"{self.name} (at this version) has only stored generated "
                             f"columns: {where} is not `stored: true`",
                             hint="write `stored: true` (PostgreSQL 18 adds virtual ones)")
        if c.identity is not None and not self.caps.identity_columns and (
                c.identity.always or c.identity.options):
            given = ["always"] * c.identity.always + list(c.identity.options)
            raise UsageError(f"{self.name} has no identity columns, only autoincrement keys: "
                             f"{where} has identity options ({', '.join(given)})",
                             hint="drop the options (the column is then an autoincrement "
                                  "key there), or use a sql operation scoped with `dialects:`")

    # Whether the index options `using`, `include` and `opclass` are this database's own
    # (PostgreSQL's, judged by its version); elsewhere the index is built without them.
    owns_index_options: ClassVar[bool] = False

    def check_index(self, i: ir.IndexDef, table: str) -> None:
        """Raise UsageError when this database cannot build index `i` as written. PostgreSQL's
        own options (`using`, `include`, `opclass`) are judged on PostgreSQL alone: another
        database builds the index without them (`_held_options`), as `create_all()` builds
        SQLAlchemy's `postgresql_using`, `postgresql_include` and `postgresql_ops`."""
        caps = self.caps
        lacking = []
        if i.where is not None and not caps.partial_index:
            lacking.append(("partial indexes", "`where`"))
        if self.owns_index_options and i.using is not None and i.using not in caps.index_methods:
            lacking.append((f"{i.using} indexes", f"`using: {i.using}`"))
        if self.owns_index_options and i.include and not caps.index_include:
            lacking.append(("INCLUDE columns in indexes", "`include`"))
        for k in i.columns:
            if isinstance(k, str):
                continue
            shown = k.name or f"expression {k.expression}"
            if k.expression is not None and not caps.index_expressions:
                lacking.append(("indexes on expressions", f"the key part {shown}"))
            if k.order == "desc" and not caps.index_desc:
                lacking.append(("descending index key parts", f"{shown} `order: desc`"))
            if k.nulls and not caps.index_nulls:
                lacking.append(("NULLS FIRST/LAST in indexes", f"{shown} `nulls: {k.nulls}`"))
        if lacking:
            what, where = lacking[0]
            raise UsageError(f"{self.name} has no {what}: index '{i.name}' on '{table}' has "
                             f"{where}", hint="write the index without it, or create it with a "
                             "sql operation scoped with `dialects:` for the databases that "
                             "have it")

    def _check_index_names(self, op: ir.Operation, before: SchemaState) -> None:
        """An index name another table of the schema has, where index names are per schema."""
        # (an index of other databases only takes no name here)
        clashes = [] if self.caps.index_names_per_table else _index_clashes()(
            op, before, cast("Dialect", self).index_held)
        if clashes:
            name, table, others = clashes[0]
            raise UsageError(f"the index name '{name}' on '{table}' is taken: the table "
                             f"'{others[0]}' has an index of that name, and {self.name} keeps "
                             "index names unique per schema",
                             hint="give the index a name no other table's index has")

    def _check_references(self, op: ir.Operation, before: SchemaState) -> None:
        """A foreign key that points at columns which are no primary key, unique constraint
        or unique index of their table, where the database refuses it (PostgreSQL)."""
        if not self.caps.foreign_keys_need_keys:
            return
        held = cast("Dialect", self).index_held  # (a unique index of other databases only)
        from ..errors import StateError
        from ..state import apply, table_from_create
        from ..state.naming import fk_name

        if isinstance(op, (ir.DropConstraint, ir.DropIndex)):
            # A key dropped that a foreign key points at (PostgreSQL: "depends on index").
            referring = before.referrers.get((op.schema, op.table))
            if not referring:
                return
            try:
                state = apply(before, op)
            except StateError:  # (the reference checks say why)
                return
            was, after = before.get(op.table, op.schema), state.get(op.table, op.schema)
            if was is None or after is None:
                return
            for t in (state.tables[k] for k in referring if k in state.tables):
                for f in t.foreign_keys:
                    ref, columns = f.references, set(f.references.columns)
                    if (ref.schema, ref.table) == after.key and columns in _keys(was, held) \
                            and columns not in _keys(after, held):
                        raise UsageError(
                            f"{op.kind} {op.name} drops the key of {after.name}"
                            f"({', '.join(ref.columns)}) that the foreign key "
                            f"'{f.name or fk_name(t.name, f)}' of '{t.name}' points at",
                            hint="drop the foreign key first (and create it again on the "
                                 "new key after)")
            return
        if isinstance(op, ir.CreateTable):
            fks = [(op.name, f) for f in op.foreign_keys]
            own = table_from_create(op) if any(
                (f.references.schema, f.references.table) == (op.schema, op.name)
                for f in op.foreign_keys) else None
        elif isinstance(op, ir.CreateForeignKey):
            fks, own = [(op.table, op.definition)], None
        else:
            return
        for table, f in fks:
            ref = f.references
            target = own if own is not None and (ref.schema, ref.table) == (
                own.schema, own.name) else before.get(ref.table, ref.schema)
            if target is None:  # (no such table: the reference checks say so)
                continue
            if set(ref.columns) not in _keys(target, held):
                raise UsageError(
                    f"the foreign key '{f.name or fk_name(table, f)}' of '{table}' points at "
                    f"{ref.table}({', '.join(ref.columns)}), which is no primary key or "
                    f"unique constraint of {ref.table}: {self.name} refuses it",
                    hint=f"point it at a key of {ref.table}, or make those columns one "
                         "(create_unique_constraint) first")

    def _check_deferrable(self, op: ir.Operation) -> None:
        """A deferrable foreign key where the database has none (MySQL, MariaDB)."""
        if self.caps.deferrable_foreign_keys:
            return
        from ..ir.parts import deferral
        from ..state.naming import fk_name

        if isinstance(op, ir.CreateTable):
            fks = [(op.name, f) for f in op.foreign_keys]
        elif isinstance(op, ir.CreateForeignKey):
            fks = [(op.table, op.definition)]
        else:
            return
        for table, f in fks:
            if deferral(f.deferrable, f.initially)[0]:
                raise UsageError(
                    f"{self.name} has no deferrable foreign keys: the foreign key "
                    f"'{f.name or fk_name(table, f)}' on '{table}' is "
                    f"{'initially deferred' if f.initially == 'deferred' else 'deferrable'}",
                    hint="leave out deferrable and initially for this database, or create the "
                         "key with a sql operation scoped with `dialects:`")


def _keys(t: Table, held: Callable[[ir.IndexDef], bool]) -> list[set[str]]:
    """The column sets a foreign key can point at in `t`: its primary key, its unique
    constraints and its unique indexes on columns (no condition, no expression) that exist
    here (`held`)."""
    keys = [set(u.columns) for u in t.uniques]
    for i in filter(held, t.indexes):  # (its order, NULLS and INCLUDE columns aside)
        names = [k if isinstance(k, str) else k.name if k.expression is None else None
                 for k in i.columns]
        if i.unique and i.where is None and i.using in (None, "btree") and all(names):
            keys.append({n for n in names if n})
    if t.primary_key is not None:
        keys.append(set(t.primary_key.columns))
    return keys
