"""The plain-data state as SQLAlchemy objects (types, columns, tables, indexes) to render."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import importlib
import json
import re
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from .. import ir
from ..ir.parts import deferral
from ..state import SchemaState, Table
from ..typespec import TypeSpec, enum_name, fraction_digits, is_native_enum, stored_as
from .ddl import KeyPart


class TypeError_(ValueError):
    """A type that SQLAlchemy does not know (a dialect type with a wrong name)."""


_INTEGER_SQL = re.compile(r"(TINY|SMALL|MEDIUM|BIG)?INT(EGER)?\b", re.IGNORECASE)


class Verbatim(sa.types.UserDefinedType[Any]):
    """A type written as SQL (`sql(VECTOR(1536))`): rendered as written. One that is an
    integer type (MySQL's `INTEGER UNSIGNED`) numbers a sole integer key as an integer type
    does (AUTO_INCREMENT, as create_all() builds it)."""

    cache_ok = True

    def __init__(self, text: str) -> None:
        self.text = text

    def get_col_spec(self, **kw: Any) -> str:
        return self.text

    @property
    def _type_affinity(self) -> Any:
        if _INTEGER_SQL.match(self.text.strip()):
            return sa.Integer
        return super()._type_affinity


class SizedBinary(sa.types.LargeBinary):
    """BINARY(n) or VARBINARY(n) where a database has them; a database without them compiles
    its own binary type (`@compiles` in its render module: BYTEA, BLOB)."""

    __visit_name__ = "sized_binary"

    def __init__(self, length: int, fixed: bool) -> None:
        super().__init__(length)
        self.fixed = fixed


@compiles(SizedBinary)
def _sized_binary(type_: SizedBinary, compiler: Any, **kw: Any) -> str:
    return f"{'BINARY' if type_.fixed else 'VARBINARY'}({type_.length})"


def sa_type(spec: TypeSpec, table: str = "", column: str = "") -> Any:
    """The SQLAlchemy type for a TypeSpec."""
    a = spec.args
    name = spec.name
    if spec.dialect:
        module = _types_module(spec.dialect)
        attr = name.split(".", 1)[1].upper()
        tp = getattr(module, attr, None)
        if tp is None or not isinstance(tp, type) or not issubclass(tp, sa.types.TypeEngine):
            raise TypeError_(f"SQLAlchemy's {spec.dialect} dialect has no type '{attr}'")
        # Keywords as the type takes them (`mysql.timestamp(fsp=3)`): never left out.
        kw = {k: _keyword(v) for k, v in spec.kwargs}
        try:
            return tp(*a, **kw)
        except TypeError as exc:
            raise TypeError_(f"the type {spec}: SQLAlchemy's {attr} does not take "
                             f"{', '.join(kw) or 'these arguments'} ({exc})") from None
    tz = spec.kwarg("timezone", "false") == "true"
    if name == "integer":
        return sa.Integer()
    if name == "bigint":
        return sa.BigInteger()
    if name == "smallint":
        return sa.SmallInteger()
    if name == "string":
        return sa.String(int(a[0])) if a else sa.String()
    if name == "char":
        return sa.CHAR(int(a[0])) if a else sa.CHAR()
    if name == "text":
        return sa.Text(int(a[0])) if a else sa.Text()
    if name == "boolean":
        return sa.Boolean()
    if name == "date":
        return sa.Date()
    if name in ("datetime", "time"):
        return _time_type(name, tz, int(a[0]) if a else None)
    if name == "float":
        return sa.Float(int(a[0])) if a else sa.Float()
    if name == "numeric":
        return sa.Numeric(*(int(x) for x in a))  # type: ignore[call-overload]
    if name == "json":
        return sa.JSON()
    if name == "uuid":
        return sa.Uuid()
    if name == "binary" and spec.kwarg("fixed") == "true":
        return SizedBinary(int(a[0]), fixed=True)
    if name == "varbinary":
        return SizedBinary(int(a[0]), fixed=False)
    if name == "binary":
        return sa.LargeBinary(int(a[0])) if a else sa.LargeBinary()
    if name == "enum" and not is_native_enum(spec):
        return sa_type(stored_as(spec))  # a VARCHAR everywhere
    if name == "sql":
        return Verbatim(str(a[0]))
    if name == "enum":
        return sa.Enum(*(str(x) for x in a), name=enum_name(spec, table, column))
    if name == "array":
        from ..typespec import parse_type

        dims = spec.kwarg("dimensions")
        return sa.ARRAY(sa_type(parse_type(str(a[0])), table, column),
                        dimensions=int(dims) if dims else None)
    raise TypeError_(f"unknown type {name}")


def _keyword(text: str) -> Any:
    """A keyword argument's value as the type takes it: a whole number, true/false/none (in
    any case), else the text."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def _time_type(name: str, tz: bool, digits: int | None) -> Any:
    """DATETIME/TIME, with a fractional-seconds precision where a database keeps one
    (PostgreSQL's TIMESTAMP(n), MySQL's DATETIME(n); SQLite stores text and keeps all)."""
    base = sa.DateTime(timezone=tz) if name == "datetime" else sa.Time(timezone=tz)
    if digits is None:
        return base
    from sqlalchemy.dialects import mysql, postgresql

    pg = postgresql.TIMESTAMP if name == "datetime" else postgresql.TIME
    my = mysql.DATETIME if name == "datetime" else mysql.TIME
    return base.with_variant(pg(timezone=tz, precision=digits), "postgresql").with_variant(
        my(timezone=tz, fsp=digits), "mysql", "mariadb")


@functools.cache
def _types_module(prefix: str) -> Any:
    """SQLAlchemy's module of a database's own types (`postgresql.jsonb` → JSONB)."""
    from . import by_name

    module = by_name(prefix).sa_types_module
    if module is None:
        raise TypeError_(f"the database '{prefix}' has no types of its own")
    return importlib.import_module(module)


# The current time as a default (whose precision is the column's where it has one).
_NOW = re.compile(r"\s*(current_timestamp|now)\s*(\(\s*\))?\s*", re.IGNORECASE)


def server_default(c: ir.Column) -> Any:
    """The server default clause of a column (as one database builds it: `column_here`), or
    None."""
    if c.default_sql is not None:
        text = c.default_sql
        assert isinstance(text, str), "a default per database is resolved by column_here"
        digits = fraction_digits(c.type)
        if digits and _NOW.fullmatch(text):
            from .ddl import NowDefault

            return NowDefault(text, digits)
        return sa.text(text)
    return literal_default(c.default)


def literal_default(value: str | int | float | bool | None) -> Any:
    """A literal default as a clause SQLAlchemy renders per dialect."""
    if value is None:
        return None
    if isinstance(value, bool):
        return sa.true() if value else sa.false()
    if isinstance(value, (int, float)):
        return sa.text(repr(value))
    return value


def _generated(c: ir.Column) -> list[Any]:
    """The Computed, Identity or Sequence construct of a column (none for a plain one)."""
    if c.sequence is not None:
        return [sa_sequence(c.sequence)]
    if c.computed is not None:
        return [sa.Computed(sa.text(c.computed.expression), persisted=c.computed.stored)]
    if c.identity is not None:
        i = c.identity
        return [sa.Identity(always=i.always, start=i.start, increment=i.increment,
                            minvalue=i.minvalue, maxvalue=i.maxvalue, cycle=i.cycle,
                            cache=i.cache)]
    return []


def sa_sequence(s: ir.CreateSequence | ir.ColumnSequence) -> sa.Sequence:
    """A SQLAlchemy Sequence for a sequence of the schema or a column's (belonging to no
    MetaData)."""
    return sa.Sequence(s.name, start=s.start, increment=s.increment, minvalue=s.minvalue,
                       maxvalue=s.maxvalue, cycle=s.cycle, cache=s.cache, schema=s.schema)


def sa_column(c: ir.Column, table: str, primary_key: bool = False) -> sa.Column[Any]:
    """A SQLAlchemy Column for a state column."""
    type_ = sa_type(c.type, table, c.name)
    if c.collation is not None:
        if not isinstance(c.collation, str):  # (one per database: `column_here` picks it)
            raise TypeError_(f"column {table}.{c.name}: a collation per database, "
                             f"{c.collation}, where one database's is needed")
        if not isinstance(type_, sa.String):
            raise TypeError_(f"column {table}.{c.name}: the type {c.type} takes no collation "
                             "(string, char and text do)")
        type_ = type_.copy()
        type_.collation = c.collation
    return sa.Column(
        c.name,
        type_,
        *_generated(c),
        primary_key=primary_key,
        nullable=c.is_nullable,
        server_default=server_default(c),
        autoincrement="auto" if c.autoincrement is None else c.autoincrement,
        comment=c.comment,
    )


def keyed_column(t: Table, name: str) -> sa.Column[Any]:
    """Column `name` of `t`, in a copy of the whole table (its key, its foreign keys): so
    that SQLAlchemy numbers it (AUTO_INCREMENT, SERIAL) exactly where CREATE TABLE does,
    a key with a foreign key not unless told. What restates a column (MySQL's MODIFY and
    CHANGE COLUMN) takes it from here: restated without its key, a numbered key's type
    change or rename silently stopped numbering it."""
    return sa_table(t, sa.MetaData(), with_indexes=False).c[name]


def autoincrement_column(t: Table) -> sa.Column[Any] | None:
    """The column of `t` SQLAlchemy numbers in CREATE TABLE (on a copy of the whole table),
    if any; what it makes of it (SERIAL, AUTO_INCREMENT, an identity) is each database's."""
    if t.primary_key is None:
        return None
    return sa_table(t, sa.MetaData(), with_indexes=False).autoincrement_column


def _where(i: ir.IndexDef) -> dict[str, Any]:
    if i.where is None:
        return {}
    on = i.where_dialects
    return {f"{d}_where": sa.text(i.where) for d in ("sqlite", "postgresql")
            if on is None or d in on}


def _key_part(table: sa.Table, k: ir.IndexKey) -> Any:
    if isinstance(k, str):
        return table.c[k]
    if k.plain is not None:
        return table.c[k.plain]
    inner = table.c[k.name] if k.name is not None else sa.text(k.expression or "")
    return KeyPart(inner, k)


def sa_index(i: ir.IndexDef, table: sa.Table) -> sa.Index:
    """A SQLAlchemy Index bound to `table`."""
    options = _where(i)
    if i.using:
        options["postgresql_using"] = i.using
    if i.include:
        options["postgresql_include"] = list(i.include)
    parts = [_key_part(table, k) for k in i.columns]
    if all(isinstance(p, sa.Column) for p in parts):
        return sa.Index(i.name, *parts, unique=i.unique, **options)
    return sa.Index(i.name, *parts, unique=i.unique, _table=table, **options)


def standalone_index(t: Table, i: ir.IndexDef) -> sa.Index:
    """Index `i` on a stand-in of `t` holding only the indexed columns: all that CREATE and
    DROP INDEX need, without building the whole table and the tables it references."""
    table = sa.Table(t.name, sa.MetaData(), *(sa.Column(c, sa.types.NullType())
                                               for c in dict.fromkeys(i.column_names)),
                     schema=t.schema)
    return sa_index(i, table)


def sa_table(t: Table, metadata: sa.MetaData, *, name: str | None = None,
             with_indexes: bool = True) -> sa.Table:
    """A SQLAlchemy Table for `t` (named `name` if given) in `metadata`."""
    pk = set(t.primary_key.columns) if t.primary_key else set()
    args: list[Any] = [sa_column(c, t.name, c.name in pk) for c in t.columns]
    if t.primary_key:
        args.append(sa.PrimaryKeyConstraint(*t.primary_key.columns, name=t.primary_key.name))
    args += [sa.UniqueConstraint(*u.columns, name=u.name) for u in t.uniques]
    args += [sa.CheckConstraint(c.expression, name=c.name) for c in t.checks]
    for f in t.foreign_keys:
        ref = f.references
        prefix = f"{ref.schema}." if ref.schema else ""
        # Only what differs from the default is written: NOT DEFERRABLE is an error on MySQL,
        # INITIALLY DEFERRED without DEFERRABLE one on SQLite.
        deferrable, deferred = deferral(f.deferrable, f.initially)
        args.append(sa.ForeignKeyConstraint(
            list(f.columns), [f"{prefix}{ref.table}.{c}" for c in ref.columns], name=f.name,
            ondelete=f.ondelete, onupdate=f.onupdate, deferrable=deferrable or None,
            initially="DEFERRED" if deferred else None))
    # (AUTOINCREMENT: SQLite builds the key inline, its constraint unnamed, as create_all().)
    options: dict[str, Any] = {"sqlite_autoincrement": True} if t.sqlite_autoincrement else {}
    # (MySQL's table defaults, under both names: SQLAlchemy's MariaDB dialect, a mariadb://
    # URL's, reads only mariadb_ options.)
    for option in ("charset", "collate"):
        value = getattr(t, "mysql_" + option)
        if value:
            options["mysql_" + option] = options["mariadb_" + option] = value
    table = sa.Table(name or t.name, metadata, *args, schema=t.schema, comment=t.comment,
                     **options)
    if with_indexes:
        for i in t.indexes:
            sa_index(i, table)
    return table


def table_with_refs(state: SchemaState, t: Table, *, name: str | None = None,
                    with_indexes: bool = True) -> sa.Table:
    """`t` as a SQLAlchemy Table in a MetaData that also holds stubs of what it references."""
    metadata = sa.MetaData()
    done: set[tuple[str | None, str]] = set()
    for f in t.foreign_keys:
        ref = f.references
        key = (ref.schema, ref.table)
        # A self-reference resolves to the table itself unless it is being built under a new
        # name (the SQLite rebuild), where it must keep pointing at the final name.
        if key in done or (key == t.key and name is None):
            continue
        done.add(key)
        target = t if key == t.key else state.tables.get(key)
        cols = ([sa.Column(c.name, sa_type(c.type, ref.table, c.name)) for c in target.columns]
                if target is not None else [sa.Column(c, sa.Integer()) for c in ref.columns])
        sa.Table(ref.table, metadata, *cols, schema=ref.schema)
    return sa_table(t, metadata, name=name, with_indexes=with_indexes)


def to_metadata(state: SchemaState) -> sa.MetaData:
    """The whole state as one SQLAlchemy MetaData."""
    metadata = sa.MetaData()
    for t in state.tables.values():
        sa_table(t, metadata)
    return metadata


def row_values(t: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Row values converted to what the column types take (ISO strings to dates and times)."""
    out = {}
    for key, value in row.items():
        col = t.column(key)
        out[key] = _convert(col.type.name if col else "", value)
    return out


def _convert(type_name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if type_name == "date":
            return dt.date.fromisoformat(value)
        if type_name == "datetime":
            return dt.datetime.fromisoformat(value)
        if type_name == "time":
            return dt.time.fromisoformat(value)
        if type_name == "uuid":
            return uuid.UUID(value)
    except ValueError:
        return value
    return value


def lightweight_table(t: Table) -> sa.Table:
    """A Table for DML (insert/delete): the columns typed, nothing else."""
    cols = [sa.Column(c.name, _data_type(sa_type(c.type, t.name, c.name))) for c in t.columns]
    return sa.Table(t.name, sa.MetaData(), *cols, schema=t.schema)


def _data_type(tp: Any) -> Any:
    """The type a row's values are sent (or written, `--sql`) with."""
    if isinstance(tp, sa.JSON):
        return JsonValue(tp)
    return ArrayValue(tp) if isinstance(tp, sa.ARRAY) else tp


class ArrayValue(sa.types.TypeDecorator[Any]):
    """An array column's row values, written as literals (`--sql`) as SQLAlchemy writes them
    (ARRAY[...]), but for an empty list: a bare ARRAY[] has no type PostgreSQL can tell,
    and '{}' takes the column's."""

    impl: Any = sa.ARRAY
    cache_ok = True

    def __init__(self, inner: sa.ARRAY[Any]) -> None:
        super().__init__(inner.item_type)
        self.impl = inner

    def literal_processor(self, dialect: Any) -> Any:
        inner = self.impl_instance.literal_processor(dialect)
        if inner is None:
            return None

        def process(value: Any) -> str:
            return "'{}'" if value == [] else str(inner(value))
        return process


class JsonValue(sa.types.TypeDecorator[Any]):
    """A json column's row values: a null is SQL NULL, as for every other type (SQLAlchemy's
    JSON would store JSON's null); anything else JSON-encoded as SQLAlchemy sends it (a
    mapping or list as that object or array, a string as a JSON string), and written as a
    string literal of that text where a script has no parameters (SQLAlchemy's JSON writes
    no literals)."""

    impl: Any = sa.JSON
    cache_ok = True

    def __init__(self, inner: sa.JSON[Any]) -> None:
        super().__init__()
        inner = copy.copy(inner)
        inner.none_as_null = True
        self.impl = inner

    def process_literal_param(self, value: Any, dialect: Any) -> str:
        serialize = getattr(dialect, "_json_serializer", None) or json.dumps
        literal: Any = sa.String().literal_processor
        return str(literal(dialect)(serialize(value)))
