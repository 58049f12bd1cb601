"""The schema as plain data, replayed operation by operation, and the inverse of each operation."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from . import ir
from .errors import StateError
from .pmap import PMap

TableKey = tuple[str | None, str]
_T = TypeVar("_T", bound=ir.Operation)


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """A table with every constraint named; columns carry no unique/index/primary-key flags."""

    name: str
    schema: str | None = None
    columns: tuple[ir.Column, ...]
    primary_key: ir.PrimaryKeyDef | None = None
    uniques: tuple[ir.UniqueDef, ...] = ()
    foreign_keys: tuple[ir.ForeignKeyDef, ...] = ()
    checks: tuple[ir.CheckDef, ...] = ()
    indexes: tuple[ir.IndexDef, ...] = ()
    comment: str | None = None

    @property
    def key(self) -> TableKey:
        """The table's key in a SchemaState."""
        return (self.schema, self.name)

    def column(self, name: str) -> ir.Column | None:
        """The column of that name, if any."""
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def constraint_names(self) -> set[str]:
        """Names of every named constraint and index of the table."""
        names = {u.name or "" for u in self.uniques} | {f.name or "" for f in self.foreign_keys}
        names |= {c.name or "" for c in self.checks} | {i.name for i in self.indexes}
        if self.primary_key and self.primary_key.name:
            names.add(self.primary_key.name)
        return names - {""}


IndexKey = tuple[str | None, str]


@dataclass(frozen=True, slots=True, init=False)
class SchemaState:
    """The whole schema: tables by (schema, name). Immutable; `apply` returns a new one.

    Two derived maps keep replay linear on large schemas: which table owns each index name,
    and which tables have foreign keys to each table.
    """

    tables: PMap[TableKey, Table]
    index_owner: PMap[IndexKey, TableKey] = dataclasses.field(compare=False)
    referrers: PMap[TableKey, frozenset[TableKey]] = dataclasses.field(compare=False)

    def __init__(self, tables: Mapping[TableKey, Table] | None = None) -> None:
        tables = tables or {}
        owner = [((t.schema, i.name), t.key) for t in tables.values() for i in t.indexes]
        refs: dict[TableKey, set[TableKey]] = {}
        for t in tables.values():
            for target in _fk_targets(t):
                refs.setdefault(target, set()).add(t.key)
        object.__setattr__(self, "tables", tables if isinstance(tables, PMap)
                           else PMap(tables.items()))
        object.__setattr__(self, "index_owner", PMap(owner))
        object.__setattr__(self, "referrers",
                           PMap((k, frozenset(v)) for k, v in refs.items()))

    @classmethod
    def _of(cls, tables: PMap[TableKey, Table], owner: PMap[IndexKey, TableKey],
            referrers: PMap[TableKey, frozenset[TableKey]]) -> SchemaState:
        new = object.__new__(cls)
        object.__setattr__(new, "tables", tables)
        object.__setattr__(new, "index_owner", owner)
        object.__setattr__(new, "referrers", referrers)
        return new

    def get(self, name: str, schema: str | None = None) -> Table | None:
        """The table, or None."""
        table: Table | None = self.tables.get((schema, name))
        return table

    def table(self, name: str, schema: str | None = None) -> Table:
        """The table, or a StateError naming what exists."""
        t: Table | None = self.tables.get((schema, name))
        if t is None:
            raise StateError(f"table '{_qual(schema, name)}' does not exist at this point",
                             code="SF101", hint=_nearest(name, [k[1] for k in self.tables]))
        return t

    def with_table(self, table: Table, *, remove: TableKey | None = None) -> SchemaState:
        """A new state with `table` put in (and `remove` taken out)."""
        state = self.without(remove) if remove is not None and remove in self.tables else self
        old = state.tables.get(table.key)
        tables, owner, refs = state._unlink(old) if old is not None else (
            state.tables, state.index_owner, state.referrers)
        for i in table.indexes:
            owner = owner.set((table.schema, i.name), table.key)
        for target in _fk_targets(table):
            refs = refs.set(target, refs.get(target, frozenset()) | {table.key})
        return SchemaState._of(tables.set(table.key, table), owner, refs)

    def without(self, key: TableKey) -> SchemaState:
        """A new state without that table."""
        tables, owner, refs = self._unlink(self.tables[key])
        return SchemaState._of(tables.delete(key), owner, refs)

    def _unlink(self, t: Table) -> tuple[PMap[TableKey, Table], PMap[IndexKey, TableKey],
                                         PMap[TableKey, frozenset[TableKey]]]:
        owner, refs = self.index_owner, self.referrers
        for i in t.indexes:
            if owner.get((t.schema, i.name)) == t.key:
                owner = owner.delete((t.schema, i.name))
        for target in _fk_targets(t):
            left = refs.get(target, frozenset()) - {t.key}
            refs = refs.set(target, left) if left else refs.delete(target)
        return self.tables, owner, refs


def _fk_targets(t: Table) -> set[TableKey]:
    return {(f.references.schema, f.references.table) for f in t.foreign_keys}


def _qual(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _nearest(name: str, candidates: Iterable[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"did you mean '{close[0]}'?" if close else None


def _short_hash(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


# --- naming: every constraint gets a deterministic name --------------------------------------


def pk_name(table: str) -> str:
    """Default primary key name."""
    return f"pk_{table}"


def _fk_name(table: str, fk: ir.ForeignKeyDef) -> str:
    return f"fk_{table}_{'_'.join(fk.columns)}_{fk.references.table}"


def _uq_name(table: str, columns: tuple[str, ...]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _ck_name(table: str, expression: str) -> str:
    return f"ck_{table}_{_short_hash(expression)}"


def _ix_name(table: str, column: str) -> str:
    return f"ix_{table}_{column}"


def table_from_create(op: ir.CreateTable) -> Table:
    """Normalise a create_table operation into a Table with every constraint named."""
    pk_cols = tuple(c.name for c in op.columns if c.primary_key)
    primary_key: ir.PrimaryKeyDef | None = None
    if op.primary_key is not None:
        if pk_cols and set(pk_cols) != set(op.primary_key.columns):
            raise StateError(
                f"table '{op.name}' declares its primary key twice, differently "
                "(on columns and in primary_key)", code="SF109")
        primary_key = ir.PrimaryKeyDef(columns=op.primary_key.columns,
                                       name=op.primary_key.name or pk_name(op.name))
    elif pk_cols:
        primary_key = ir.PrimaryKeyDef(columns=pk_cols, name=pk_name(op.name))
    in_pk = set(primary_key.columns) if primary_key else set()
    columns = tuple(_plain_column(c, c.name in in_pk) for c in op.columns)
    uniques = [ir.UniqueDef(columns=(c.name,), name=_uq_name(op.name, (c.name,)))
               for c in op.columns if c.unique]
    uniques += [replace(u, name=u.name or _uq_name(op.name, u.columns)) for u in op.unique]
    indexes = [ir.IndexDef(name=_ix_name(op.name, c.name), columns=(c.name,))
               for c in op.columns if c.index]
    indexes += list(op.indexes)
    table = Table(
        name=op.name,
        schema=op.schema,
        columns=columns,
        primary_key=primary_key,
        uniques=tuple(uniques),
        foreign_keys=tuple(replace(f, name=f.name or _fk_name(op.name, f))
                           for f in op.foreign_keys),
        checks=tuple(replace(c, name=c.name or _ck_name(op.name, c.expression))
                     for c in op.checks),
        indexes=tuple(indexes),
        comment=op.comment,
    )
    _check_table(table)
    return table


def _plain_column(c: ir.Column, in_pk: bool) -> ir.Column:
    nullable = False if in_pk else c.is_nullable
    if in_pk and c.nullable:
        raise StateError(f"column '{c.name}' is in the primary key and cannot be nullable",
                         code="SF109")
    return replace(c, nullable=nullable, primary_key=False, unique=False, index=False)


def _check_table(t: Table) -> None:
    names = [c.name for c in t.columns]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise StateError(f"table '{t.name}' has the column '{sorted(dupes)[0]}' twice",
                         code="SF106")
    if t.primary_key:
        _need_columns(t, t.primary_key.columns, "primary key")
    for u in t.uniques:
        _need_columns(t, u.columns, f"unique constraint '{u.name}'")
    for f in t.foreign_keys:
        _need_columns(t, f.columns, f"foreign key '{f.name}'")
        if len(f.columns) != len(f.references.columns):
            raise StateError(f"foreign key '{f.name}' has {len(f.columns)} columns but references "
                             f"{len(f.references.columns)}", code="SF108")
    for i in t.indexes:
        _need_columns(t, i.columns, f"index '{i.name}'")
    seen: set[str] = set()
    for n in _all_names(t):
        if n in seen:
            raise StateError(f"table '{t.name}' has two constraints or indexes named '{n}'",
                             code="SF107")
        seen.add(n)


def _all_names(t: Table) -> list[str]:
    names = [t.primary_key.name or ""] if t.primary_key else []
    names += [u.name or "" for u in t.uniques] + [f.name or "" for f in t.foreign_keys]
    names += [c.name or "" for c in t.checks] + [i.name for i in t.indexes]
    return [n for n in names if n]


def _need_columns(t: Table, columns: Iterable[str], what: str) -> None:
    for c in columns:
        if t.column(c) is None:
            raise StateError(f"{what} on '{t.name}' names the column '{c}', which does not exist",
                             code="SF102", hint=_nearest(c, [x.name for x in t.columns]))


def _need_refs(state: SchemaState, t: Table, fks: Iterable[ir.ForeignKeyDef]) -> None:
    for f in fks:
        ref = f.references
        target = t if (ref.schema, ref.table) == t.key else state.get(ref.table, ref.schema)
        if target is None:
            raise StateError(f"foreign key '{f.name}' references the table '{ref.table}', "
                             "which does not exist at this point", code="SF101",
                             hint=_nearest(ref.table, [k[1] for k in state.tables]))
        _need_columns(target, ref.columns, f"foreign key '{f.name}'")


# --- apply -----------------------------------------------------------------------------------


def _create_table(state: SchemaState, op: ir.CreateTable) -> SchemaState:
    if state.get(op.name, op.schema) is not None:
        raise StateError(f"table '{_qual(op.schema, op.name)}' already exists", code="SF105")
    table = table_from_create(op)
    _need_refs(state, table, table.foreign_keys)
    _index_names_free(state, table.schema, [i.name for i in table.indexes])
    return state.with_table(table)


def _index_names_free(state: SchemaState, schema: str | None, names: Iterable[str],
                      ignore: TableKey | None = None) -> None:
    for name in names:
        owner = state.index_owner.get((schema, name))
        if owner is not None and owner != ignore:
            raise StateError(f"an index named '{name}' already exists on '{owner[1]}'",
                             code="SF107")


def _drop_table(state: SchemaState, op: ir.DropTable) -> SchemaState:
    t = state.table(op.name, op.schema)
    for key in state.referrers.get(t.key, ()):
        if key == t.key:
            continue
        other = state.tables[key]
        for f in other.foreign_keys:
            if (f.references.schema, f.references.table) == t.key:
                raise StateError(f"table '{t.name}' is referenced by the foreign key "
                                 f"'{f.name}' of '{other.name}'; drop that constraint first",
                                 code="SF110")
    return state.without(t.key)


def _rename_table(state: SchemaState, op: ir.RenameTable) -> SchemaState:
    t = state.table(op.name, op.schema)
    if state.get(op.new_name, op.schema) is not None:
        raise StateError(f"table '{op.new_name}' already exists", code="SF105")
    new = state.with_table(replace(t, name=op.new_name), remove=t.key)
    # Databases repoint foreign keys at the renamed table; so does the state.
    return _map_fks(new, t.key, lambda f: replace(
        f, references=replace(f.references, table=op.new_name)))


def _map_fks(state: SchemaState, target: TableKey,
             fn: Callable[[ir.ForeignKeyDef], ir.ForeignKeyDef]) -> SchemaState:
    """`fn` applied to every foreign key that references `target`."""
    for key in sorted(state.referrers.get(target, ()), key=str):
        t = state.tables[key]
        fks = tuple(fn(f) if (f.references.schema, f.references.table) == target else f
                    for f in t.foreign_keys)
        if fks != t.foreign_keys:
            state = state.with_table(replace(t, foreign_keys=fks))
    return state


def _alter_table(state: SchemaState, op: ir.AlterTable) -> SchemaState:
    t = state.table(op.name, op.schema)
    return state.with_table(replace(t, comment=op.comment or None))


def _add_column(state: SchemaState, op: ir.AddColumn) -> SchemaState:
    t = state.table(op.table, op.schema)
    c = op.column
    if t.column(c.name) is not None:
        raise StateError(f"column '{op.table}.{c.name}' already exists", code="SF106")
    if c.primary_key:
        raise StateError("add_column cannot add a primary-key column; add the column, then "
                         "create_primary_key", code="SF109")
    new = replace(t, columns=(*t.columns, _plain_column(c, False)))
    if c.unique:
        new = replace(new, uniques=(*new.uniques, ir.UniqueDef(
            columns=(c.name,), name=_uq_name(t.name, (c.name,)))))
    if c.index:
        ix = ir.IndexDef(name=_ix_name(t.name, c.name), columns=(c.name,))
        _index_names_free(state, t.schema, [ix.name])
        new = replace(new, indexes=(*new.indexes, ix))
    _check_table(new)
    return state.with_table(new)


def dependents(t: Table, column: str) -> Table:
    """The parts of `t` that name `column` (what dropping the column also drops)."""
    def uses(cols: tuple[str, ...]) -> bool:
        return column in cols
    return replace(
        t,
        columns=(),
        primary_key=t.primary_key if t.primary_key and uses(t.primary_key.columns) else None,
        uniques=tuple(u for u in t.uniques if uses(u.columns)),
        foreign_keys=tuple(f for f in t.foreign_keys if uses(f.columns)),
        checks=tuple(c for c in t.checks if _mentions(c.expression, column)),
        indexes=tuple(i for i in t.indexes
                      if uses(i.columns) or (i.where and _mentions(i.where, column))),
    )


def _word(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])")


_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _outside_literals(expression: str) -> list[tuple[bool, str]]:
    """The expression cut into (is_literal, text) pieces; string literals are not names."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    for m in _STRING_LITERAL.finditer(expression):
        pieces += [(False, expression[pos:m.start()]), (True, m.group(0))]
        pos = m.end()
    return [*pieces, (False, expression[pos:])]


def _mentions(expression: str, column: str) -> bool:
    word = _word(column)
    return any(not lit and word.search(text) for lit, text in _outside_literals(expression))


def rename_in(expression: str, old: str, new: str) -> str:
    """`expression` with the identifier `old` renamed to `new` (string literals untouched)."""
    word = _word(old)
    return "".join(text if lit else word.sub(lambda _m: new, text)
                   for lit, text in _outside_literals(expression))


def _drop_column(state: SchemaState, op: ir.DropColumn) -> SchemaState:
    t = state.table(op.table, op.schema)
    if t.column(op.name) is None:
        raise StateError(f"column '{op.table}.{op.name}' does not exist at this point",
                         code="SF102", hint=_nearest(op.name, [c.name for c in t.columns]))
    if len(t.columns) == 1:
        raise StateError(f"cannot drop '{op.name}', the only column of '{op.table}'; drop the "
                         "table instead", code="SF112")
    referenced = _referencing(state, t, op.name)
    if referenced:
        raise StateError(f"column '{op.table}.{op.name}' is referenced by foreign key "
                         f"'{referenced}'; drop that constraint first", code="SF111")
    dep = dependents(t, op.name)
    return state.with_table(replace(
        t,
        columns=tuple(c for c in t.columns if c.name != op.name),
        primary_key=None if dep.primary_key else t.primary_key,
        uniques=tuple(u for u in t.uniques if u not in dep.uniques),
        foreign_keys=tuple(f for f in t.foreign_keys if f not in dep.foreign_keys),
        checks=tuple(c for c in t.checks if c not in dep.checks),
        indexes=tuple(i for i in t.indexes if i not in dep.indexes),
    ))


def _referencing(state: SchemaState, t: Table, column: str) -> str | None:
    for key in sorted(state.referrers.get(t.key, ()), key=str):
        other = state.tables[key]
        for f in other.foreign_keys:
            ref = f.references
            # A self-reference on the dropped column itself goes with the column.
            if other.key == t.key and column in f.columns:
                continue
            if (ref.schema, ref.table) == t.key and column in ref.columns:
                return f"{other.name}.{f.name}"
    return None


def _rename_column(state: SchemaState, op: ir.RenameColumn) -> SchemaState:
    t = state.table(op.table, op.schema)
    if t.column(op.name) is None:
        raise StateError(f"column '{op.table}.{op.name}' does not exist at this point",
                         code="SF102", hint=_nearest(op.name, [c.name for c in t.columns]))
    if t.column(op.new_name) is not None:
        raise StateError(f"column '{op.table}.{op.new_name}' already exists", code="SF106")

    def ren(cols: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(op.new_name if c == op.name else c for c in cols)

    new = replace(
        t,
        columns=tuple(replace(c, name=op.new_name) if c.name == op.name else c
                      for c in t.columns),
        primary_key=replace(t.primary_key, columns=ren(t.primary_key.columns))
        if t.primary_key else None,
        uniques=tuple(replace(u, columns=ren(u.columns)) for u in t.uniques),
        foreign_keys=tuple(replace(f, columns=ren(f.columns)) for f in t.foreign_keys),
        # Databases rewrite the column's name inside checks and index predicates too.
        checks=tuple(replace(c, expression=rename_in(c.expression, op.name, op.new_name))
                     for c in t.checks),
        indexes=tuple(replace(i, columns=ren(i.columns),
                              where=rename_in(i.where, op.name, op.new_name) if i.where else None)
                      for i in t.indexes),
    )
    state = state.with_table(new)
    return _map_fks(state, t.key, lambda f: replace(f, references=replace(
        f.references, columns=ren(f.references.columns))))


def _alter_column(state: SchemaState, op: ir.AlterColumn) -> SchemaState:
    t = state.table(op.table, op.schema)
    c = t.column(op.name)
    if c is None:
        raise StateError(f"column '{op.table}.{op.name}' does not exist at this point",
                         code="SF102", hint=_nearest(op.name, [x.name for x in t.columns]))
    if (op.type, op.nullable, op.default, op.default_sql, op.comment) == (None,) * 5 and not (
        op.drop_default
    ):
        raise StateError("alter_column changes nothing: give type, nullable, default, "
                         "default_sql, drop_default or comment", code="SF113")
    if op.drop_default and (op.default is not None or op.default_sql is not None):
        raise StateError("alter_column cannot both set and drop the default", code="SF114")
    if op.default is not None and op.default_sql is not None:
        raise StateError("give default or default_sql, not both", code="SF115")
    if op.nullable and t.primary_key and c.name in t.primary_key.columns:
        raise StateError(f"column '{c.name}' is in the primary key and cannot be nullable",
                         code="SF109")
    new = c
    if op.type is not None:
        new = replace(new, type=op.type)
    if op.nullable is not None:
        new = replace(new, nullable=op.nullable)
    if op.drop_default:
        new = replace(new, default=None, default_sql=None)
    elif op.default is not None:
        new = replace(new, default=op.default, default_sql=None)
    elif op.default_sql is not None:
        new = replace(new, default_sql=op.default_sql, default=None)
    if op.comment is not None:
        new = replace(new, comment=op.comment or None)
    return state.with_table(replace(t, columns=tuple(new if x is c else x for x in t.columns)))


def _create_index(state: SchemaState, op: ir.CreateIndex) -> SchemaState:
    t = state.table(op.table, op.schema)
    ix = ir.IndexDef(name=op.name, columns=op.columns, unique=op.unique, where=op.where)
    _index_names_free(state, t.schema, [op.name])
    return _with_part(state, replace(t, indexes=(*t.indexes, ix)))


def _with_part(state: SchemaState, new: Table) -> SchemaState:
    _check_table(new)
    return state.with_table(new)


def _find_index(t: Table, name: str) -> ir.IndexDef:
    for i in t.indexes:
        if i.name == name:
            return i
    raise StateError(f"index '{name}' does not exist on '{t.name}' at this point", code="SF103",
                     hint=_nearest(name, [i.name for i in t.indexes]))


def _drop_index(state: SchemaState, op: ir.DropIndex) -> SchemaState:
    t = state.table(op.table, op.schema)
    ix = _find_index(t, op.name)
    return state.with_table(replace(t, indexes=tuple(i for i in t.indexes if i is not ix)))


def _create_unique(state: SchemaState, op: ir.CreateUniqueConstraint) -> SchemaState:
    t = state.table(op.table, op.schema)
    return _with_part(state, replace(t, uniques=(*t.uniques, ir.UniqueDef(
        columns=op.columns, name=op.name))))


def _create_fk(state: SchemaState, op: ir.CreateForeignKey) -> SchemaState:
    t = state.table(op.table, op.schema)
    fk = ir.ForeignKeyDef(columns=op.columns, references=op.references, name=op.name,
                          ondelete=op.ondelete, onupdate=op.onupdate)
    _need_refs(state, t, [fk])
    return _with_part(state, replace(t, foreign_keys=(*t.foreign_keys, fk)))


def _create_check(state: SchemaState, op: ir.CreateCheckConstraint) -> SchemaState:
    t = state.table(op.table, op.schema)
    return _with_part(state, replace(t, checks=(*t.checks, ir.CheckDef(
        expression=op.expression, name=op.name, not_valid=op.not_valid))))


def _validate_constraint(state: SchemaState, op: ir.ValidateConstraint) -> SchemaState:
    t = state.table(op.table, op.schema)
    if op.name not in {c.name for c in t.checks} | {f.name for f in t.foreign_keys}:
        raise StateError(f"no check or foreign key named '{op.name}' on '{t.name}' at this "
                         "point", code="SF104",
                         hint=_nearest(op.name, [c.name or "" for c in t.checks]))
    return state.with_table(replace(t, checks=tuple(
        replace(c, not_valid=False) if c.name == op.name else c for c in t.checks)))


def _create_pk(state: SchemaState, op: ir.CreatePrimaryKey) -> SchemaState:
    t = state.table(op.table, op.schema)
    if t.primary_key is not None:
        raise StateError(f"table '{t.name}' already has a primary key "
                         f"'{t.primary_key.name}'", code="SF109")
    _need_columns(t, op.columns, f"primary key '{op.name}'")
    cols = tuple(replace(c, nullable=False) if c.name in op.columns else c for c in t.columns)
    return _with_part(state, replace(t, columns=cols, primary_key=ir.PrimaryKeyDef(
        columns=op.columns, name=op.name)))


def find_constraint(t: Table, name: str, kind: str) -> Any:
    """The named constraint of that type, or a StateError."""
    pool: tuple[Any, ...] = {
        "unique": t.uniques,
        "foreign_key": t.foreign_keys,
        "check": t.checks,
        "primary_key": (t.primary_key,) if t.primary_key else (),
    }[kind]
    for c in pool:
        if c.name == name:
            return c
    return_hint = _nearest(name, [c.name for c in pool if c.name])
    raise StateError(f"{kind.replace('_', ' ')} constraint '{name}' does not exist on "
                     f"'{t.name}' at this point", code="SF104", hint=return_hint)


def _drop_constraint(state: SchemaState, op: ir.DropConstraint) -> SchemaState:
    t = state.table(op.table, op.schema)
    c = find_constraint(t, op.name, op.type)
    if op.type == "primary_key":
        return state.with_table(replace(t, primary_key=None))
    if op.type == "unique":
        return state.with_table(replace(t, uniques=tuple(x for x in t.uniques if x is not c)))
    if op.type == "check":
        return state.with_table(replace(t, checks=tuple(x for x in t.checks if x is not c)))
    return state.with_table(replace(t, foreign_keys=tuple(x for x in t.foreign_keys
                                                         if x is not c)))


def _rows(state: SchemaState, op: ir.InsertRows | ir.DeleteRows) -> SchemaState:
    t = state.table(op.table, op.schema)
    for row in op.rows:
        for col in row:
            if t.column(col) is None:
                raise StateError(f"{op.kind} names the column '{op.table}.{col}', which does not "
                                 "exist", code="SF102",
                                 hint=_nearest(col, [c.name for c in t.columns]))
    return state


def _sql(state: SchemaState, op: ir.Sql) -> SchemaState:
    # Raw SQL is opaque to the replayed schema; schema changes belong in typed operations.
    return state


_APPLY: Mapping[type[ir.Operation], Callable[[SchemaState, Any], SchemaState]] = (
    types.MappingProxyType({
        ir.CreateTable: _create_table,
        ir.DropTable: _drop_table,
        ir.RenameTable: _rename_table,
        ir.AlterTable: _alter_table,
        ir.AddColumn: _add_column,
        ir.DropColumn: _drop_column,
        ir.RenameColumn: _rename_column,
        ir.AlterColumn: _alter_column,
        ir.CreateIndex: _create_index,
        ir.DropIndex: _drop_index,
        ir.CreateUniqueConstraint: _create_unique,
        ir.CreateForeignKey: _create_fk,
        ir.CreateCheckConstraint: _create_check,
        ir.CreatePrimaryKey: _create_pk,
        ir.DropConstraint: _drop_constraint,
        ir.ValidateConstraint: _validate_constraint,
        ir.Sql: _sql,
        ir.InsertRows: _rows,
        ir.DeleteRows: _rows,
    })
)


def apply(state: SchemaState, op: ir.Operation) -> SchemaState:
    """The state after `op`; raises StateError when `op` does not fit `state`."""
    return _APPLY[type(op)](state, op)


def apply_all(state: SchemaState, ops: Iterable[ir.Operation]) -> SchemaState:
    """The state after every operation in order."""
    for op in ops:
        state = apply(state, op)
    return state
