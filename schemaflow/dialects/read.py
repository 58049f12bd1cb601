"""What SQLAlchemy says about a schema (models' MetaData, or a live database's Inspector) read
into the plain-data state: types, defaults, columns and tables. A construct the format cannot
express is refused with `Unexpressible`, never written as something else."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import _truncated_label

from .. import ir
from ..errors import UsageError
from ..state import Table, fit, pk_name
from ..typespec import TypeSpec, TypeSyntaxError, dump_type, parse_type
from .tables import TypeError_

if TYPE_CHECKING:
    from .coltypes import TypeReader


class Unexpressible(UsageError):
    """A schema construct that schemaflow's format cannot express (yet): refused loudly."""

    def __init__(self, where: str, construct: str, hint: str | None = None) -> None:
        super().__init__(
            f"{where}: {construct}, which schemaflow cannot express yet (refused, so that no "
            "changeset builds a different schema than the one described)",
            hint=hint or "leave it out of the models and create it with a `sql` operation "
                         "(scoped with `dialects:` where it is database-specific)")


def _refuse_type(t: Any) -> None:
    """TypeError_ for a type (or type option) the format cannot express yet."""
    if isinstance(t, sa.Interval):
        raise TypeError_(f"the type {type(t).__name__} ({t!r})")
    if getattr(t, "_variant_mapping", None):
        raise TypeError_(f"per-database variants of the type {t!r} (with_variant)")
    if isinstance(t, sa.types.TypeDecorator):
        return  # judged by what it decorates
    if getattr(t, "collation", None):
        raise TypeError_(f"the collation {t.collation!r}")


def _tinyint(t: Any) -> bool:
    """Whether `t` is MySQL's TINYINT. None exists before SQLAlchemy's MySQL dialect is
    imported, which is not imported for it (a PostgreSQL or SQLite project never needs it)."""
    mysql = sys.modules.get("sqlalchemy.dialects.mysql")
    return mysql is not None and isinstance(t, mysql.TINYINT)


def type_from_sa(t: Any) -> TypeSpec:
    """The TypeSpec meaning the same as a SQLAlchemy type (generic or reflected); TypeError_
    naming the construct for one the format cannot express."""
    _refuse_type(t)
    if isinstance(t, sa.types.TypeDecorator):
        # What create_all() builds: the decorated type (custom Python-side behaviour aside).
        return _decorated(t)
    if isinstance(t, sa.Enum):
        return _enum(t)
    if isinstance(t, sa.ARRAY):
        dims = (("dimensions", str(t.dimensions)),) if (t.dimensions or 1) > 1 else ()
        spec = TypeSpec("array", (dump_type(type_from_sa(t.item_type)),), dims)
        try:
            return parse_type(dump_type(spec))  # the format's own rules for arrays
        except TypeSyntaxError as exc:
            raise TypeError_(f"the type {t!r}: {exc}") from None
    if isinstance(t, sa.Boolean):
        return TypeSpec("boolean")
    if _tinyint(t) and getattr(t, "display_width", None) == 1:
        return TypeSpec("boolean")
    if isinstance(t, sa.BigInteger):
        return TypeSpec("bigint")
    if isinstance(t, sa.SmallInteger) and not _tinyint(t):
        return TypeSpec("smallint")
    if isinstance(t, sa.Integer) and type(t).__name__ in ("Integer", "INTEGER", "INT"):
        return TypeSpec("integer")
    if isinstance(t, sa.Double) or type(t).__name__ in ("DOUBLE", "DOUBLE_PRECISION"):
        return TypeSpec("float", (53,))  # FLOAT(53) is double precision everywhere
    if isinstance(t, (sa.Float, sa.REAL)):
        precision = getattr(t, "precision", None)
        return TypeSpec("float", (int(precision),) if precision else ())
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        return TypeSpec("numeric", tuple(a for a in (t.precision, t.scale) if a is not None))
    if isinstance(t, sa.Text) and type(t).__name__ in ("Text", "TEXT", "UnicodeText"):
        return TypeSpec("text", (int(t.length),) if t.length else ())
    if isinstance(t, sa.String) and type(t).__name__ in ("CHAR", "NCHAR"):
        return TypeSpec("char", (int(t.length),) if t.length else ())
    if isinstance(t, sa.String) and type(t).__name__ in ("String", "VARCHAR", "NVARCHAR",
                                                          "Unicode"):
        return TypeSpec("string", (t.length,) if t.length else ())
    if isinstance(t, sa.DateTime) and type(t).__name__ in ("DateTime", "DATETIME", "TIMESTAMP"):
        return TypeSpec("datetime", _fraction(t), (("timezone", "true"),) if t.timezone else ())
    if isinstance(t, sa.Date) and type(t).__name__ in ("Date", "DATE"):
        return TypeSpec("date")
    if isinstance(t, sa.Time) and type(t).__name__ in ("Time", "TIME"):
        return TypeSpec("time", _fraction(t), (("timezone", "true"),) if t.timezone else ())
    if isinstance(t, sa.JSON) and type(t).__name__ in ("JSON",):
        return TypeSpec("json")
    if isinstance(t, sa.Uuid) and type(t).__name__ in ("Uuid", "UUID"):
        return TypeSpec("uuid")
    if isinstance(t, sa.types.UserDefinedType):  # a type written as SQL, kept as written
        col_spec = getattr(t, "get_col_spec", None)
        if col_spec is None:  # (a model's is read per database, by `coltypes`)
            raise TypeError_(f"the type {t!r}, a UserDefinedType without get_col_spec()")
        return TypeSpec("sql", (str(col_spec()),))
    if isinstance(t, (sa.BINARY, sa.VARBINARY)) and t.length:
        fixed = isinstance(t, sa.BINARY)
        return TypeSpec("binary" if fixed else "varbinary", (int(t.length),),
                        (("fixed", "true"),) if fixed else ())
    if isinstance(t, sa.LargeBinary) and type(t).__name__ in ("LargeBinary", "BLOB", "BYTEA"):
        blen = getattr(t, "length", None)
        return TypeSpec("binary", (int(blen),) if blen else ())
    prefix = _type_prefix(type(t).__module__)
    if prefix is not None:
        length = getattr(t, "length", None)
        args = (int(length),) if length else ()
        try:  # a database's own type keeps only a length: refuse it when it says more
            plain = type(t)(*args)
        except Exception:
            plain = None
        if plain is None or (
                repr(plain) != re.sub(r"\(display_width=\d+\)$", "()", repr(t))  # (MySQL's)
                and not _same_ddl(prefix, plain, t)):
            raise TypeError_(f"the type {t!r} (of a {prefix} type schemaflow keeps only the "
                             "name and a length)")
        return TypeSpec(f"{prefix}.{type(t).__name__.lower()}", args)
    try:
        generic = t.as_generic() if hasattr(t, "as_generic") else t
    except NotImplementedError:  # NullType and other types without a generic meaning
        generic = t
    if generic is not t:
        return type_from_sa(generic)
    raise TypeError_(f"no schemaflow type for the SQLAlchemy type {t!r}")


def _same_ddl(prefix: str, a: Any, b: Any) -> bool:
    """Whether two types of database `prefix` build the same DDL there: what the rest of
    them says is about values, not the column (JSONB's `none_as_null`)."""
    from . import by_name

    try:
        compiler = by_name(prefix).sa_dialect().type_compiler_instance
        return bool(compiler.process(a) == compiler.process(b))
    except Exception:
        return False


def _enum(t: sa.Enum) -> TypeSpec:
    """An enum: native (a type of its own where the database has one, named), or a VARCHAR
    (`native=false`, with its `length` where that is not the longest value's). The CHECK that
    `create_constraint=True` adds is read as one of the table's checks."""
    values = tuple(str(e) for e in t.enums)
    if t.native_enum:
        return TypeSpec("enum", values, (("name", str(t.name)),) if t.name else ())
    longest = max((len(v) for v in values), default=0)
    length = int(t.length) if t.length else longest
    return TypeSpec("enum", values, (("native", "false"),) + (
        (("length", str(length)),) if length != longest else ()))


def _fraction(t: Any) -> tuple[int, ...]:
    """A time type's fractional-seconds precision (PostgreSQL's precision, MySQL's fsp; 0 on
    MySQL is its default, no fraction)."""
    digits = getattr(t, "precision", None)
    if digits is None:
        digits = getattr(t, "fsp", None) or None
    return (int(digits),) if digits is not None else ()


def _decorated(t: sa.types.TypeDecorator[Any]) -> TypeSpec:
    """The type a TypeDecorator builds (inside another type, as an array's element: a column's
    own type is read by `coltypes`); one whose load_dialect_impl() builds different types on
    the supported databases is refused rather than written as its `impl`."""
    from .coltypes import column_type

    spec, variants, collation = column_type(t)
    if variants:
        raise TypeError_(f"per-database types of {type(t).__name__} (load_dialect_impl: "
                         f"{spec}, {ir.variants_text(variants)})")
    if collation:
        raise TypeError_("the collation " + (
            str(collation) if isinstance(collation, ir.Collations) else repr(collation)))
    return spec


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


# Other migration tools' bookkeeping: never part of the schema anyone models.
def skipper(skip: Iterable[str] | Callable[[str], bool]) -> Callable[[str], bool]:
    """Whether a table is left out: a predicate as given, or membership of names."""
    if callable(skip):
        return skip
    names = frozenset(skip)
    return names.__contains__


OTHER_TOOLS = ("alembic_version", "flyway_schema_history", "databasechangelog",
               "databasechangeloglock")


def _default_of(col: sa.Column[Any]) -> tuple[Any, str | None]:
    sd = col.server_default
    if sd is None:
        return None, None
    arg = getattr(sd, "arg", None)
    if isinstance(arg, str):  # (a str enum's member too: its text, as create_all() writes it)
        return str.__str__(arg), None
    if arg is None:
        return None, None
    text = str(arg.text) if hasattr(arg, "text") else str(arg)
    return default_from_sa(text)


_NEXTVAL = re.compile(r"nextval\('(.+)'(?:::regclass)?\)", re.IGNORECASE)


def nextval_of(default_sql: str | None) -> str | None:
    """The sequence a `nextval('name'::regclass)` default draws from (its name without its
    schema), or None for any other default."""
    m = _NEXTVAL.fullmatch((default_sql or "").strip())
    if m is None:
        return None
    inner = m.group(1)
    if inner.endswith('"'):  # "Name", or schema."Name"
        start = inner.rfind('"', 0, len(inner) - 1)
        return inner[start + 1:-1].replace('""', '"')
    return inner.rsplit(".", 1)[-1]


def serial_default(table: str, column: str, default_sql: str | None,
                   key: bool = False) -> bool:
    """Whether `default_sql` is `nextval()` of a SERIAL column's own sequence: on the sole
    integer key (`key`: a table renamed keeps its sequence's old name), or named as
    PostgreSQL names the sequence of `table.column` (`makeObjectName`: table and column cut,
    the longer first, to fit 63 bytes with `_seq`). That is the column's numbering, which
    the format writes as an integer key; any other `nextval()` is a default of its own."""
    name = nextval_of(default_sql)
    if name is None:
        return False
    return key or name == serial_sequence_name(table, column)


def serial_sequence_name(table: str, column: str) -> str:
    """The name PostgreSQL gives the sequence of SERIAL column `table.column`
    (`makeObjectName`: table and column cut, the longer first, to fit 63 bytes with `_seq`)."""
    first, second = table.encode(), column.encode()
    n1, n2 = len(first), len(second)
    while n1 + n2 > 63 - len("_seq") - 1:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    return (first[:n1].decode("utf-8", "ignore") + "_" + second[:n2].decode("utf-8", "ignore")
            + "_seq")


def _column(table: str, name: str, type_: Any, nullable: bool,
            default: tuple[Any, str | ir.SqlDefaults | None], comment: Any,
            autoincrement: bool | None = None, types: TypeReader | None = None) -> ir.Column:
    """A state column from what SQLAlchemy knows of one (models or reflection); `types`
    reads the types of one schema's columns."""
    value, default_sql = default
    if types is None:
        from .coltypes import TypeReader

        types = TypeReader()
    comment = str(comment) if comment else None
    # Everything the column is read from but the table, which only an error names.
    type_key = types.key(type_)
    alike = None if type_key is None else (
        name, type_key, nullable, type(value), value, default_sql, comment, autoincrement)
    if alike is not None and alike in types.columns:
        return types.columns[alike]
    try:
        spec, variants, collation = types.column_type(type_)
    except TypeError_ as exc:
        raise Unexpressible(f"column {table}.{name}", str(exc)) from None
    if spec.name == "boolean" and type(value) in (int, str) and value in (0, 1, "0", "1"):
        # SQLite and MySQL give a boolean's default back as 0 or 1, and models write
        # server_default="0": false on every database (PostgreSQL reads '0' as false).
        value = bool(int(value))
    column = ir.Column(name=name, type=spec, nullable=nullable, autoincrement=autoincrement,
                       default=value, default_sql=default_sql, comment=comment,
                       variants=variants, collation=collation)
    if alike is not None:
        types.columns[alike] = column
    return column


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


def _name(c: Any) -> str | None:
    """A model's (or reflected) constraint or index name. A name SQLAlchemy made from a
    naming convention is shortened as SQLAlchemy shortens it at CREATE time, to the limit
    every database takes; a name written out is kept as written (validate reports it when a
    database cannot take it)."""
    name = c.name
    if name is None or type(name).__name__ == "_NoneName":
        return None
    if isinstance(name, _truncated_label):
        return fit(str(name))
    return str(name)


def _deferral(where: str, deferrable: Any, initially: Any) -> dict[str, Any]:
    """A foreign key's `deferrable` and `initially` as the format writes them (only what
    differs from the default: `deferrable: true`, and `initially: deferred` with it)."""
    said = str(initially).lower() if initially else None
    if said not in (None, "deferred", "immediate"):
        raise Unexpressible(where, f"initially {initially!r}")
    if deferrable is False and said == "deferred":
        raise Unexpressible(where, "INITIALLY DEFERRED without DEFERRABLE")
    deferred = said == "deferred"  # which makes it deferrable, as on PostgreSQL
    able = deferred or bool(deferrable)
    return {"deferrable": True if able else None, "initially": "deferred" if deferred else None}


def _action(value: str | None) -> Any:
    return value.upper() if value else None


