"""Compare two schema states and produce the operations that turn one into the other."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import ir
from .checkdiff import changed_checks
from .diffkeys import (
    column_type_key,
    default_key,
    fk_key,
    generated_key,
    index_key,
    key_numbering,
    sequence_key,
    sql_key,
    type_key,
)
from .errors import UsageError
from .ir.charsets import table_charset
from .state import (
    SchemaState,
    Table,
    TableKey,
    create_check_op,
    create_fk_op,
    expression_key,
    readable_column,
    readable_create,
    rename_columns,
)
from .typespec import enum_name, is_native_enum

# Asked before treating a drop + an add as a rename: (kind, table, old, new) -> yes/no.
RenameQuestion = Callable[[str, str, str, str], bool]


@dataclass
class DiffResult:
    """The operations, in an order that runs, and what the user should know about them."""

    operations: list[ir.Operation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- the diff --------------------------------------------------------------------------------


def _table_key_order(state: SchemaState, keys: Iterable[TableKey]) -> list[TableKey]:
    """Tables ordered so that referenced tables come before the tables referencing them."""
    pending = sorted(keys, key=lambda k: (k[0] or "", k[1]))
    wanted = set(pending)
    done: list[TableKey] = []
    placed: set[TableKey] = set()
    def waiting_for(key: TableKey) -> set[TableKey]:
        deps = {(f.references.schema, f.references.table) for f in state.tables[key].foreign_keys}
        return {d for d in deps if d in wanted and d != key and d not in placed}

    while pending:
        ready = [k for k in pending if not waiting_for(k)]
        if not ready:
            # A cycle: break it at the table most others are waiting for (then the one waiting
            # for the fewest, then by name); the foreign keys it cannot have yet are added
            # after the tables.
            wanted_by = {k: sum(k in waiting_for(o) for o in pending) for k in pending}
            ready = [min(pending, key=lambda k: (-wanted_by[k], len(waiting_for(k)),
                                                 k[0] or "", k[1]))]
        for key in ready:
            done.append(key)
            placed.add(key)
            pending.remove(key)
    return done


class _Builder:
    def __init__(self, old: SchemaState, new: SchemaState, ask: RenameQuestion | None,
                 hints: Mapping[str, str]) -> None:
        self.old, self.new, self.ask, self.hints = old, new, ask, hints
        self.exact_checks = False
        self.numbering = True  # whether a key's numbering is compared (not where every is)
        self.check_key: Callable[[str], str] = expression_key
        self.sequence_key: Callable[[ir.CreateSequence], Any] = sequence_key
        # A column as a database that names its enum types builds it (None: no such
        # database, and an enum's name is no difference).
        self.enum_names: Callable[[ir.Column], ir.Column] | None = None
        self.result = DiffResult()
        # Ordered phases: drops of dependents first, creations of dependents last. Table
        # renames come first of all: what changes inside a renamed table names it by its
        # new name. SQLite's AUTOINCREMENT is turned on once the key it needs is there.
        self.phases: dict[str, list[ir.Operation]] = {p: [] for p in (
            "rename_table", "create_sequence", "drop_fk", "drop_index", "drop_constraint",
            "drop_table", "rename_column", "create_table", "regenerate", "add_column",
            "alter_column", "drop_column", "create_pk", "create_constraint", "create_index",
            "create_fk", "autoincrement", "drop_sequence")}

    def emit(self, phase: str, op: ir.Operation) -> None:
        # A foreign key into a dropped table can be found from both ends: emit it once.
        if op not in self.phases[phase]:
            self.phases[phase].append(op)

    def _is_rename(self, kind: str, table: str, old: str, new: str) -> bool:
        hint_key = f"{table}.{old}" if kind == "column" else old
        if hint_key in self.hints:
            return self.hints[hint_key] == new
        return bool(self.ask and self.ask(kind, table, old, new))

    def run(self) -> DiffResult:
        old_keys, new_keys = set(self.old.tables), set(self.new.tables)
        removed = sorted(old_keys - new_keys, key=str)
        added = sorted(new_keys - new_keys.intersection(old_keys), key=str)
        renamed: dict[TableKey, TableKey] = {}
        for o in list(removed):
            ocols = {c.name for c in self.old.tables[o].columns}
            for n in added:
                if n in renamed.values() or n[0] != o[0]:
                    continue
                ncols = {c.name for c in self.new.tables[n].columns}
                hinted = o[1] in self.hints and self.hints[o[1]] == n[1]
                if (hinted or ocols == ncols) and self._is_rename("table", o[1], o[1], n[1]):
                    renamed[o] = n
                    break
        for o, n in renamed.items():
            removed.remove(o)
            added.remove(n)
            self.emit("rename_table", ir.RenameTable(name=o[1], new_name=n[1], schema=o[0]))
        dropping = list(removed)
        order = list(reversed(_table_key_order(self.old, dropping)))
        for i, key in enumerate(order):
            # Referencing tables go first; only a cycle needs its foreign keys dropped apart.
            self._drop_table(self.old.tables[key], in_cycle=set(order[i + 1:]))
        new_order = _table_key_order(self.new, added)
        for key in new_order:
            self._create_table(self.new.tables[key], set(new_order[: new_order.index(key)]))
        moved = {o: n for o, n in renamed.items()}

        def repointed(t: Table) -> Table:
            # Foreign keys into a renamed table follow it (the databases repoint them too).
            fks = tuple(replace(f, references=replace(f.references, table=moved[
                (f.references.schema, f.references.table)][1]))
                if (f.references.schema, f.references.table) in moved else f
                for f in t.foreign_keys)
            return t if fks == t.foreign_keys else replace(t, foreign_keys=fks)

        for key in sorted(old_keys & new_keys, key=str):
            was, now = repointed(self.old.tables[key]), self.new.tables[key]
            if was != now:  # (a table alike on both sides has nothing to compare)
                self._compare_table(was, now)
        for o, n in renamed.items():
            self._compare_table(repointed(replace(self.old.tables[o], name=n[1])),
                                self.new.tables[n])
        self._compare_sequences()
        self.result.operations = [op for ops in self.phases.values() for op in ops]
        return self.result

    def _compare_sequences(self) -> None:
        """Sequences created before the tables whose defaults draw from them, dropped after;
        one whose options change is not written (ALTER SEQUENCE keeps its current value,
        which a drop and a create would lose)."""
        old, new = self.old.sequences, self.new.sequences
        for key in sorted(set(new) - set(old), key=str):
            self.emit("create_sequence", new[key])
        for key in sorted(set(old) - set(new), key=str):
            self.emit("drop_sequence", ir.DropSequence(name=key[1], schema=key[0]))
            self.result.warnings.append(f"drops the sequence {key[1]} (and its current value)")
        for key in sorted(set(old) & set(new), key=str):
            if self.sequence_key(old[key]) != self.sequence_key(new[key]):
                raise UsageError(
                    f"the options of sequence {key[1]} change ({_options(old[key])} in what "
                    f"exists, {_options(new[key])} in what is wanted); no operation writes that "
                    "change yet", hint="write it as a sql operation (ALTER SEQUENCE)")

    # --- whole tables ----------------------------------------------------------------------

    def _drop_table(self, t: Table, in_cycle: set[TableKey]) -> None:
        # Foreign keys from tables that stay (or that are dropped after this one, in a cycle)
        # must go before the table they point at.
        for other in self.old.tables.values():
            if other.key == t.key or (other.key not in self.new.tables
                                      and other.key not in in_cycle):
                continue
            for f in other.foreign_keys:
                if (f.references.schema, f.references.table) == t.key:
                    self.emit("drop_fk", ir.DropConstraint(name=f.name or "", table=other.name,
                                                           type="foreign_key",
                                                           schema=other.schema))
        self.emit("drop_table", ir.DropTable(name=t.name, schema=t.schema))
        self.result.warnings.append(f"drops the table {t.name} and its data")

    def _create_table(self, t: Table, created_before: set[TableKey]) -> None:
        existing = set(self.old.tables) | created_before | {t.key}
        inline = tuple(f for f in t.foreign_keys
                       if (f.references.schema, f.references.table) in existing)
        later = [f for f in t.foreign_keys if f not in inline]
        self.emit("create_table", readable_create(replace(t, foreign_keys=inline)))
        for f in later:
            self._create_fk(t, f)

    def _create_fk(self, t: Table, f: ir.ForeignKeyDef) -> None:
        self.emit("create_fk", create_fk_op(t, f))

    # --- inside a table --------------------------------------------------------------------

    def _compare_table(self, old: Table, new: Table) -> None:
        t, s = new.name, new.schema
        if old.sqlite_autoincrement != new.sqlite_autoincrement:
            self.emit("autoincrement" if new.sqlite_autoincrement else "alter_column",
                      ir.AlterTable(name=t, schema=s,
                                    sqlite_autoincrement=new.sqlite_autoincrement))
        if (old.comment or None) != (new.comment or None):
            self.emit("alter_column", ir.AlterTable(name=t, schema=s, comment=new.comment or ""))
        _compare_charset(t, old, new)
        old_cols = {c.name: c for c in old.columns}
        new_cols = {c.name: c for c in new.columns}
        gone = [n for n in old_cols if n not in new_cols]
        came = [n for n in new_cols if n not in old_cols]
        col_renames: dict[str, str] = {}
        for o in list(gone):
            for n in came:
                if n in col_renames.values():
                    continue
                hinted = self.hints.get(f"{t}.{o}") == n or self.hints.get(f"{old.name}.{o}") == n
                same = type_key(old_cols[o].type) == type_key(new_cols[n].type)
                if (hinted or same) and self._is_rename("column", t, o, n):
                    col_renames[o] = n
                    break
        for o, n in col_renames.items():
            gone.remove(o)
            came.remove(n)
            self.emit("rename_column", ir.RenameColumn(table=t, schema=s, name=o, new_name=n))
        for o, n in col_renames.items():
            old_cols[n] = replace(old_cols.pop(o), name=n)
        if gone and came and not col_renames:
            self.result.warnings.append(
                f"{t}: dropping {', '.join(gone)} and adding {', '.join(came)}; if this is a "
                f"rename, say so with --rename {t}.{gone[0]}={came[0]}")
        renamed_old = rename_columns(old, col_renames)
        if self.numbering:
            self._compare_numbering(t, renamed_old, new)
        self._compare_parts(renamed_old, new, gone)
        for n in came:
            self.emit("add_column", ir.AddColumn(table=t, schema=s,
                                                 column=readable_column(new_cols[n])))
        for name in new_cols:
            if name in old_cols:
                self._compare_column(t, s, old_cols[name], new_cols[name])
        for n in gone:
            self.emit("drop_column", ir.DropColumn(table=t, schema=s, name=n))
            self.result.warnings.append(f"drops the column {t}.{n} and its data")

    def _compare_numbering(self, t: str, old: Table, new: Table) -> None:
        """Whether the database numbers the same column of the same primary key (SERIAL,
        AUTO_INCREMENT): what changes it differs on every database, and no operation says
        it yet. (A key that changes columns is the primary key's difference.)"""
        was, now = key_numbering(old), key_numbering(new)
        if was is None or now is None or set(was[0]) != set(now[0]) or was[1] == now[1]:
            return
        what = (f"the numbered column of {t}'s primary key changes ({now[1]} in what is "
                f"wanted, {was[1]} in what exists)" if was[1] and now[1] else
                f"the numbering of column {t}.{now[1] or was[1]} changes (numbered "
                f"{'on' if now[1] else 'off'} in what is wanted, {'on' if was[1] else 'off'} "
                "in what exists)")
        raise UsageError(
            f"{what}; no operation writes that change yet",
            hint="write it as a sql operation (PostgreSQL: a sequence and SET/DROP "
                 "DEFAULT, or ADD/DROP IDENTITY; MySQL: MODIFY ... AUTO_INCREMENT)")

    def _compare_column(self, t: str, s: str | None, old: ir.Column, new: ir.Column) -> None:
        if old.sequence != new.sequence:
            said = [f"from {c.sequence.name}" if c.sequence else "no sequence"
                    for c in (new, old)]
            raise UsageError(f"the sequence of column {t}.{new.name} changes (numbered "
                             f"{said[0]} in what is wanted, {said[1]} in what exists); "
                             "no operation writes that change yet",
                             hint="write it as a sql operation (CREATE SEQUENCE, and the "
                                  "models' code draws from it)")
        if generated_key(old) != generated_key(new):
            if old.identity is not None or new.identity is not None:
                raise UsageError(f"the identity of column {t}.{new.name} changes; no operation "
                                 "writes that change yet", hint="write it as a sql "
                                 "operation (ALTER TABLE ... ALTER COLUMN ... SET/ADD/DROP "
                                 "IDENTITY)")
            # A generated column's values come from its expression; no database alters one
            # in place: it is dropped and added again (no data of its own is lost).
            self.emit("regenerate", ir.DropColumn(table=t, schema=s, name=old.name))
            self.emit("regenerate", ir.AddColumn(table=t, schema=s,
                                                 column=readable_column(new)))
            return
        kw: dict[str, Any] = {}
        if column_type_key(old) != column_type_key(new) or self._enum_renamed(t, old, new):
            # The type as a whole: its variants and collation go with it.
            kw.update(type=new.type, variants=new.variants, collation=new.collation)
        if old.is_nullable != new.is_nullable:
            kw["nullable"] = new.is_nullable
        if default_key(old) != default_key(new):
            kw.update(new.default_change())
        if (old.comment or None) != (new.comment or None):
            kw["comment"] = new.comment or ""
        if kw:
            self.emit("alter_column", ir.AlterColumn(table=t, schema=s, name=new.name, **kw))

    def _enum_renamed(self, t: str, old: ir.Column, new: ir.Column) -> bool:
        """Whether column `new` of table `t` (`old` before) keeps its enum's values under
        another type name, on a database whose enum types have names (PostgreSQL): an
        unnamed enum's name follows its table and column (`enum_name`)."""
        if self.enum_names is None:
            return False
        a, b = self.enum_names(old).type, self.enum_names(new).type
        return (is_native_enum(a) and is_native_enum(b)
                and enum_name(a, t, new.name) != enum_name(b, t, new.name))

    def _compare_parts(self, old: Table, new: Table, dropped_cols: list[str]) -> None:
        t, s = new.name, new.schema
        gone_cols = set(dropped_cols)

        def touches_dropped(cols: tuple[str, ...]) -> bool:
            # Dropping the column drops what is on it: no separate drop needed (or possible).
            return bool(gone_cols & set(cols))

        # primary key
        old_pk = old.primary_key.columns if old.primary_key else None
        new_pk = new.primary_key.columns if new.primary_key else None
        if old_pk != new_pk:
            if old.primary_key and not touches_dropped(old.primary_key.columns):
                self.emit("drop_constraint", ir.DropConstraint(
                    name=old.primary_key.name or "", table=t, schema=s, type="primary_key"))
            if new.primary_key:
                self.emit("create_pk", ir.CreatePrimaryKey(
                    name=new.primary_key.name or "", table=t, schema=s,
                    columns=new.primary_key.columns))
        # unique constraints, by their columns. Some databases keep a unique constraint as a
        # unique index of the same name: the two are the same thing there.
        old, new = _unique_as_constraint(old, new), _unique_as_constraint(new, old)
        old_u = {u.columns: u for u in old.uniques}
        new_u = {u.columns: u for u in new.uniques}
        for cols, u in old_u.items():
            if cols not in new_u and not touches_dropped(cols):
                self.emit("drop_constraint", ir.DropConstraint(name=u.name or "", table=t,
                                                               schema=s, type="unique"))
        for cols, u in new_u.items():
            if cols not in old_u:
                self.emit("create_constraint", ir.CreateUniqueConstraint(
                    name=u.name or "", table=t, schema=s, columns=cols))
        self._compare_checks(old, new)
        self._compare_links(old, new, touches_dropped)

    def _compare_checks(self, old: Table, new: Table) -> None:
        drops, creates = changed_checks(old, new, key=self.check_key,
                                        exact=sql_key if self.exact_checks else None)
        for name in drops:
            self.emit("drop_constraint", ir.DropConstraint(
                name=name, table=new.name, schema=new.schema, type="check"))
        for c in creates:
            self.emit("create_constraint", create_check_op(new, c))

    def _compare_links(self, old: Table, new: Table,
                       touches_dropped: Callable[[tuple[str, ...]], bool]) -> None:
        """Foreign keys (by meaning) and indexes (by name and meaning)."""
        t, s = new.name, new.schema
        old_f = {fk_key(f): f for f in old.foreign_keys}
        new_f = {fk_key(f): f for f in new.foreign_keys}
        for key, f in old_f.items():
            if key not in new_f and not touches_dropped(f.columns):
                self.emit("drop_fk", ir.DropConstraint(name=f.name or "", table=t, schema=s,
                                                       type="foreign_key"))
        for key, f in new_f.items():
            if key not in old_f:
                self._create_fk(new, f)
        old_i = {i.name: i for i in old.indexes}
        new_i = {i.name: i for i in new.indexes}
        for name, i in old_i.items():
            other = new_i.get(name)
            changed = other is None or index_key(other) != index_key(i)
            if changed and not touches_dropped(i.column_names):
                self.emit("drop_index", ir.DropIndex(name=name, table=t, schema=s))
        for name, i in new_i.items():
            other = old_i.get(name)
            if other is None or index_key(other) != index_key(i):
                self.emit("create_index", ir.CreateIndex.of(i, t, s))


def _unique_as_constraint(t: Table, other: Table) -> Table:
    """`t` with its unique indexes that `other` has as unique constraints turned into those."""
    wanted = {(u.name, u.columns) for u in other.uniques}
    moved = {i: cols for i in t.indexes if _plain(i) and i.unique
             and (i.name, cols := ir.plain_columns(i.columns)) in wanted}
    if not moved:
        return t
    return replace(t, indexes=tuple(i for i in t.indexes if i not in moved),
                   uniques=t.uniques + tuple(ir.UniqueDef(columns=cols or (), name=i.name)
                                             for i, cols in moved.items()))


def _plain(i: ir.IndexDef) -> bool:
    """Whether `i` is an index on columns only (no predicate, method, INCLUDE or options)."""
    return i.plain_key is not None


def _options(s: ir.CreateSequence) -> str:
    return ", ".join(f"{k} {v}" for k, v in s.options.items()) or "the defaults"


def diff(old: SchemaState, new: SchemaState, *, ask: RenameQuestion | None = None,
         hints: Mapping[str, str] | None = None, exact_checks: bool = False,
         check_key: Callable[[str], str] | None = None, numbering: bool = True,
         sequence_key: Callable[[ir.CreateSequence], Any] = sequence_key,
         enum_names: Callable[[ir.Column], ir.Column] | None = None) -> DiffResult:
    """The operations that turn `old` into `new`, ordered so that they run. With
    `exact_checks`, a CHECK whose expression changed under the same name is dropped and
    created again (for two states whose expressions are written alike: changesets and
    models, not a database's reflection). `check_key` reduces a CHECK's expression to its
    meaning (a database's `Dialect.check_key` where one side was reflected from it).
    `numbering=False`: whether an integer key is numbered is not compared (a database that
    numbers every one, SQLite). `sequence_key` reduces a sequence's options to their meaning
    (a database's `Dialect.sequence_key`: its defaults, given or not, are one). `enum_names`:
    a column as a database that names its enum types builds it (`Dialect.column_here` of
    PostgreSQL), where an enum type's name is compared (elsewhere it is no difference)."""
    builder = _Builder(old, new, ask, hints or {})
    builder.sequence_key = sequence_key
    builder.exact_checks = exact_checks
    builder.numbering = numbering
    builder.check_key = check_key or expression_key
    builder.enum_names = enum_names
    return builder.run()


def _compare_charset(t: str, old: Table, new: Table) -> None:
    """A table's default character set or collation (MySQL's, MariaDB's) that changes: no
    operation writes it yet (ALTER TABLE ... CONVERT TO converts the columns too, DEFAULT
    CHARSET only those added later)."""
    was, now = (table_charset(x.mysql_charset, x.mysql_collate) for x in (old, new))
    if was == now:
        return

    def said(words: tuple[str | None, str | None]) -> str:
        return " ".join(w for w in words if w) or "the database's default"

    raise UsageError(f"the character set of table {t} changes on MySQL and MariaDB ({said(now)} "
                     f"in what is wanted, {said(was)} in what exists); no operation writes "
                     "that change yet", hint="keep the table's character set as it is in the "
                     "models; a sql operation (ALTER TABLE ... CONVERT TO CHARACTER SET ...) "
                     "changes the database but not what the changesets say the table has")
