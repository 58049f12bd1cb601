"""SQLAlchemy's view of a schema (models' MetaData, or a live database's Inspector) read into
the plain-data state that autogenerate compares."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from .. import ir
from ..state import SchemaState, Table, ck_name, fk_name, ix_name, pk_name, uq_name
from ..typespec import TypeSpec
from .tables import TypeError_


def type_from_sa(t: Any) -> TypeSpec:
    """The TypeSpec meaning the same as a SQLAlchemy type (generic or reflected)."""
    if isinstance(t, sa.Enum):
        return TypeSpec("enum", tuple(str(e) for e in t.enums),
                        (("name", str(t.name)),) if t.name else ())
    if isinstance(t, sa.Boolean):
        return TypeSpec("boolean")
    if isinstance(t, mysql.TINYINT) and getattr(t, "display_width", None) == 1:
        return TypeSpec("boolean")
    if isinstance(t, sa.BigInteger):
        return TypeSpec("bigint")
    if isinstance(t, sa.SmallInteger) and not isinstance(t, mysql.TINYINT):
        return TypeSpec("smallint")
    if isinstance(t, sa.Integer) and type(t).__name__ in ("Integer", "INTEGER", "INT"):
        return TypeSpec("integer")
    if isinstance(t, (sa.Float, sa.REAL)) or type(t).__name__ == "DOUBLE_PRECISION":
        return TypeSpec("float")
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        return TypeSpec("numeric", tuple(a for a in (t.precision, t.scale) if a is not None))
    if isinstance(t, sa.Text) and type(t).__name__ in ("Text", "TEXT"):
        return TypeSpec("text", (int(t.length),) if t.length else ())
    if isinstance(t, sa.String) and type(t).__name__ in ("CHAR", "NCHAR"):
        return TypeSpec("char", (int(t.length),) if t.length else ())
    if isinstance(t, sa.String) and type(t).__name__ in ("String", "VARCHAR", "NVARCHAR",
                                                          "Unicode"):
        return TypeSpec("string", (t.length,) if t.length else ())
    if isinstance(t, sa.DateTime) and type(t).__name__ in ("DateTime", "DATETIME", "TIMESTAMP"):
        return TypeSpec("datetime", (), (("timezone", "true"),) if t.timezone else ())
    if isinstance(t, sa.Date) and type(t).__name__ in ("Date", "DATE"):
        return TypeSpec("date")
    if isinstance(t, sa.Time) and type(t).__name__ in ("Time", "TIME"):
        return TypeSpec("time", (), (("timezone", "true"),) if t.timezone else ())
    if isinstance(t, sa.JSON) and type(t).__name__ in ("JSON",):
        return TypeSpec("json")
    if isinstance(t, sa.Uuid) and type(t).__name__ in ("Uuid", "UUID"):
        return TypeSpec("uuid")
    if isinstance(t, sa.LargeBinary) and type(t).__name__ in ("LargeBinary", "BLOB", "BYTEA"):
        blen = getattr(t, "length", None)
        return TypeSpec("binary", (int(blen),) if blen else ())
    prefix = _type_prefix(type(t).__module__)
    if prefix is not None:
        length = getattr(t, "length", None)
        return TypeSpec(f"{prefix}.{type(t).__name__.lower()}", (int(length),) if length else ())
    generic = t.as_generic() if hasattr(t, "as_generic") else t
    if generic is not t:
        return type_from_sa(generic)
    raise TypeError_(f"no schemaflow type for the SQLAlchemy type {t!r}")


def _type_prefix(module: str) -> str | None:
    """The type prefix (`postgresql`) of a database whose SQLAlchemy types `module` holds."""
    from . import _REGISTRY

    for cls in _REGISTRY.values():
        if cls.sa_types_module and module.startswith(cls.sa_types_module) and (
                cls.type_dialects):
            return cls.type_dialects[0]
    return None


_CAST = re.compile(r"^\((.*)\)$|^(.*?)::[\w\s\"\[\]]+$", re.S)


def default_from_sa(text: str | None) -> tuple[str | int | float | bool | None, str | None]:
    """(literal default, default_sql) meaning the same as a server default's SQL text."""
    if text is None:
        return None, None
    value = text.strip()
    while True:
        m = _CAST.match(value)
        if not m:
            break
        value = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'"), None
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true", None
    if re.fullmatch(r"-?\d+", value):
        return int(value), None
    if re.fullmatch(r"-?\d+\.\d*", value):
        return float(value), None
    if lowered in ("null",):
        return None, None
    if lowered in ("current_timestamp()", "now()", "current_timestamp"):
        return None, "CURRENT_TIMESTAMP"
    return None, value


def _default_of(col: sa.Column[Any]) -> tuple[Any, str | None]:
    sd = col.server_default
    if sd is None:
        return None, None
    arg = getattr(sd, "arg", None)
    if isinstance(arg, str):
        return arg, None
    if arg is None:
        return None, None
    text = str(arg.text) if hasattr(arg, "text") else str(arg)
    return default_from_sa(text)


def from_metadata(metadata: sa.MetaData, *, skip: Iterable[str] = ()) -> SchemaState:
    """The SchemaState a SQLAlchemy MetaData describes (every constraint given a name)."""
    skipped = set(skip)
    tables = {}
    for table in metadata.sorted_tables:
        if str(table.name) in skipped:
            continue
        columns = []
        pk_cols = tuple(str(c.name) for c in table.primary_key.columns)
        for col in table.columns:
            columns.append(_column(str(col.name), col.type, col.name not in pk_cols and bool(
                col.nullable), _default_of(col), col.comment))
        uniques, checks, fks = [], [], []
        for c in table.constraints:
            if isinstance(c, sa.UniqueConstraint):
                cols = tuple(str(x.name) for x in c.columns)
                uniques.append(ir.UniqueDef(columns=cols,
                                            name=_name(c) or uq_name(str(table.name), cols)))
            elif isinstance(c, sa.CheckConstraint):
                expr = str(c.sqltext)
                if _is_type_check(c):
                    continue
                checks.append(ir.CheckDef(expression=expr,
                                          name=_name(c) or ck_name(str(table.name), expr)))
            elif isinstance(c, sa.ForeignKeyConstraint):
                ref = c.elements[0].column.table if c.elements else None
                fk = ir.ForeignKeyDef(
                    columns=tuple(str(x.name) for x in c.columns),
                    references=ir.Reference(
                        table=str(ref.name) if ref is not None else c.elements[0].target_fullname,
                        columns=tuple(str(e.column.name) for e in c.elements),
                        schema=str(ref.schema) if ref is not None and ref.schema else None),
                    name=_name(c), ondelete=_action(c.ondelete), onupdate=_action(c.onupdate))
                fks.append(fk if fk.name else replace(fk, name=fk_name(str(table.name), fk)))
        indexes = []
        for i in sorted(table.indexes, key=lambda x: str(x.name)):
            cols = tuple(str(x.name) for x in i.columns)
            where = i.dialect_options["postgresql"].get("where") if "postgresql" in (
                i.dialect_options) else None
            if where is None and "sqlite" in i.dialect_options:
                where = i.dialect_options["sqlite"].get("where")
            indexes.append(ir.IndexDef(name=_name(i) or ix_name(str(table.name), cols),
                                       columns=cols, unique=bool(i.unique),
                                       where=str(where) if where is not None else None))
        t = _table(str(table.name), str(table.schema) if table.schema else None, columns,
                   (pk_cols, _name(table.primary_key)), uniques, fks, checks, indexes,
                   table.comment)
        tables[t.key] = t
    return SchemaState(tables)


def _column(name: str, type_: Any, nullable: bool, default: tuple[Any, str | None],
            comment: Any) -> ir.Column:
    """A state column from what SQLAlchemy knows of one (models or reflection)."""
    value, default_sql = default
    if (default_sql or "").startswith("nextval("):  # a serial's own sequence, not written
        default_sql = None
    spec = type_from_sa(type_)
    if spec.name == "enum" and not spec.kwarg("name"):
        spec = TypeSpec("enum", spec.args)
    return ir.Column(name=name, type=spec, nullable=nullable, autoincrement=None,
                     default=value, default_sql=default_sql,
                     comment=str(comment) if comment else None)


def _table(name: str, schema: str | None, columns: list[ir.Column],
           pk: tuple[tuple[str, ...], str | None], uniques: list[ir.UniqueDef],
           fks: list[ir.ForeignKeyDef], checks: list[ir.CheckDef],
           indexes: list[ir.IndexDef], comment: Any) -> Table:
    """A state table, its constraints in name order, unnamed primary key named."""
    pk_cols, pk_given = pk
    return Table(
        name=name, schema=schema, columns=tuple(columns),
        primary_key=(ir.PrimaryKeyDef(columns=pk_cols, name=pk_given or pk_name(name))
                     if pk_cols else None),
        uniques=tuple(sorted(uniques, key=lambda u: u.name or "")),
        foreign_keys=tuple(sorted(fks, key=lambda f: f.name or "")),
        checks=tuple(sorted(checks, key=lambda c: c.name or "")), indexes=tuple(indexes),
        comment=str(comment) if comment else None)


def from_inspector(insp: Any, schema: str | None, *,
                   skip: Iterable[str] = ()) -> SchemaState:
    """The SchemaState of a live database, read with the Inspector's bulk reflection calls.

    What MetaData.reflect() returns, read the way from_metadata() reads it, without building
    a SQLAlchemy Table per table: on a thousand tables that construction was most of the time
    of `check --against-db`. Like reflect(), an index that only backs a unique constraint (or
    a unique constraint that is only an index) is listed once, as the database reports it."""
    names = [n for n in insp.get_table_names(schema=schema) if n not in set(skip)]
    if not names:
        return SchemaState()
    kw = {"schema": schema, "filter_names": names}
    columns = insp.get_multi_columns(**kw)
    pks = insp.get_multi_pk_constraint(**kw)
    fks = insp.get_multi_foreign_keys(**kw)
    indexes = insp.get_multi_indexes(**kw)
    uniques = insp.get_multi_unique_constraints(**kw)
    checks = _optional(insp.get_multi_check_constraints, kw)
    comments = _optional(insp.get_multi_table_comment, kw)
    tables = {}
    for key in sorted(columns, key=lambda k: (k[0] or "", k[1])):
        name = str(key[1])
        pk = pks.get(key) or {}
        pk_cols = tuple(str(c) for c in pk.get("constrained_columns") or ())
        cols = []
        for c in columns[key]:
            default = c.get("default")
            cols.append(_column(
                str(c["name"]), c["type"], c["name"] not in pk_cols and bool(c["nullable"]),
                default_from_sa(str(default)) if default is not None else (None, None),
                c.get("comment")))
        uqs = []
        for u in uniques.get(key, ()):
            if u.get("duplicates_index"):
                continue
            ucols = tuple(str(x) for x in u["column_names"])
            uqs.append(ir.UniqueDef(columns=ucols, name=u.get("name") or uq_name(name, ucols)))
        cks = [ir.CheckDef(expression=str(ck["sqltext"]),
                           name=ck.get("name") or ck_name(name, str(ck["sqltext"])))
               for ck in checks.get(key, ())]
        foreign = [_foreign_key(name, f) for f in fks.get(key, ())]
        idx = [_index(name, i) for i in indexes.get(key, ()) if not i.get("duplicates_constraint")]
        t = _table(name, key[0] or None, cols, (pk_cols, pk.get("name")), uqs, foreign, cks,
                   sorted(idx, key=lambda i: i.name or ""),
                   (comments.get(key) or {}).get("text"))
        tables[t.key] = t
    return SchemaState(tables)


def _foreign_key(table: str, f: dict[str, Any]) -> ir.ForeignKeyDef:
    """A reflected foreign key (an unnamed one given schemaflow's name)."""
    options = f.get("options") or {}
    fk = ir.ForeignKeyDef(
        columns=tuple(str(x) for x in f["constrained_columns"]),
        references=ir.Reference(table=str(f["referred_table"]),
                                columns=tuple(str(x) for x in f["referred_columns"]),
                                schema=f.get("referred_schema") or None),
        name=f.get("name"), ondelete=_action(options.get("ondelete")),
        onupdate=_action(options.get("onupdate")))
    return fk if fk.name else replace(fk, name=fk_name(table, fk))


def _index(table: str, i: dict[str, Any]) -> ir.IndexDef:
    """A reflected index, with its partial-index condition where the database has one."""
    icols = tuple(str(x) for x in i["column_names"] if x is not None)
    options = i.get("dialect_options") or {}
    where = options.get("postgresql_where", options.get("sqlite_where"))
    return ir.IndexDef(name=i.get("name") or ix_name(table, icols), columns=icols,
                       unique=bool(i.get("unique")),
                       where=str(where) if where is not None else None)


def _optional(call: Any, kw: dict[str, Any]) -> dict[Any, Any]:
    """A reflection call some dialects do not implement: {} there, as reflect() does."""
    try:
        return dict(call(**kw))
    except NotImplementedError:
        return {}


def _name(c: Any) -> str | None:
    name = c.name
    if name is None or type(name).__name__ == "_NoneName":
        return None
    return str(name)


def _action(value: str | None) -> Any:
    return value.upper() if value else None


def _is_type_check(c: sa.CheckConstraint) -> bool:
    # Boolean/Enum types may add their own CHECK (create_constraint=True); not user checks.
    return bool(getattr(c, "_type_bound", False))


def reflect(conn: Any, *, schema: str | None = None, skip: tuple[str, ...] = ()) -> SchemaState:
    """The live schema as a SchemaState (bulk reflection; the version table left out)."""
    state = from_inspector(sa.inspect(conn), schema, skip=skip)
    if conn.in_transaction():
        conn.rollback()
    tables = {}
    for key, t in state.tables.items():
        # Indexes a database made for a foreign key by itself (InnoDB names them after the key)
        # are not part of the schema anyone wrote.
        fk_index = {(f.name, f.columns) for f in t.foreign_keys}
        tables[key] = replace(t, indexes=tuple(i for i in t.indexes
                                                if (i.name, i.columns) not in fk_index))
    return SchemaState(tables)
