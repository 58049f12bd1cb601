"""A column's SQLAlchemy type read the way `create_all()` builds it on each database: the type,
its per-database variants (`with_variant`, or a TypeDecorator whose `load_dialect_impl` picks
a type per database) and its collation. What differs per database becomes `variants`, and a
collation that differs a collation per database."""

from __future__ import annotations

import functools
import typing
from collections import Counter
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from .. import ir
from ..typespec import TypeSpec
from .tables import TypeError_

# A type as one database builds it: (type, collation).
Built = tuple[TypeSpec, str | None]


@functools.cache
def _databases() -> tuple[tuple[str, tuple[str, ...], Any], ...]:
    """(name, the `variants` keys that apply there, most specific first, SQLAlchemy dialect)
    of each database a type variant may name."""
    from . import by_name

    out = []
    for name in typing.get_args(ir.Dialect):
        dialect = by_name(name)
        out.append((name, dialect.variant_names, dialect.sa_dialect()))
    return tuple(out)


def column_type(t: Any, *, models: bool = False
                ) -> tuple[TypeSpec, tuple[ir.Variant, ...], ir.Collation]:
    """The type, variants and collation of a column of SQLAlchemy type `t`; TypeError_ naming
    the construct the format cannot express. `models`: `t` is a model's (or a migration
    script's), built as `create_all()` builds it, `@compiles` overrides of its type
    included (a database's reflected types are read as they are)."""
    if not getattr(t, "_variant_mapping", None) and not isinstance(t, sa.types.TypeDecorator) \
            and not _mysql_timestamp(t) and not _mysql_options(t) \
            and not (models and _compiled_apart(t)):
        # The same everywhere: read once, and that is the type (no variants, one collation).
        spec, collation = _built(t, (), None)
        return spec, (), collation
    built = {name: _built(t, keys, sa_dialect, models)
             for name, keys, sa_dialect in _databases()}
    types = {d: spec for d, (spec, _) in built.items()}
    base = _base(t, types)
    variants: list[ir.Variant] = []
    for name, keys, _ in _databases():
        # What this database would build without a variant of its own: the variant of a
        # less specific name (MariaDB takes MySQL's), else the type.
        given = {v.dialect: v.type for v in variants}
        fallback = next((given[k] for k in keys[1:] if k in given), base)
        if types[name] != fallback:
            variants.append(ir.Variant(dialect=typing.cast(ir.Dialect, name), type=types[name]))
    return base, tuple(sorted(variants, key=lambda v: v.dialect)), _collation(built)


def _collation(built: dict[str, Built]) -> ir.Collation:
    """The collation of a type each database builds as `built` says: one name where all
    agree, else one per database (MariaDB's left to MySQL's where they agree)."""
    collations = {d: c for d, (_, c) in built.items()}
    if len(set(collations.values())) == 1:
        return next(iter(collations.values()))
    if collations.get("mariadb") is None and collations.get("mysql") is not None:
        raise TypeError_(f"the collation {collations['mysql']!r} on MySQL but none on MariaDB "
                         "(a collation per database names each one's; MariaDB takes MySQL's)")
    if collations.get("mariadb") == collations.get("mysql"):
        del collations["mariadb"]
    return ir.Collations(**{d: c for d, c in collations.items() if c is not None})


# The attributes by which `type_from_sa` reads the types of `_plain_classes` (nothing else
# of them): a column of one of those types is read once per distinct value of these.
_READ = ("length", "precision", "scale", "timezone", "collation")


@functools.cache
def _plain_classes() -> frozenset[type]:
    from sqlalchemy.dialects import postgresql

    return frozenset({
        sa.Integer, sa.INTEGER, sa.BigInteger, sa.BIGINT, sa.SmallInteger, sa.SMALLINT,
        sa.String, sa.VARCHAR, sa.CHAR, sa.Text, sa.TEXT, sa.Numeric, sa.NUMERIC, sa.Boolean,
        sa.BOOLEAN, sa.DateTime, sa.TIMESTAMP, sa.Date, sa.DATE, sa.Time, sa.TIME, sa.Float,
        sa.FLOAT, sa.REAL, sa.Double, sa.DOUBLE_PRECISION, postgresql.TIMESTAMP,
        postgresql.TIME})


class TypeReader:
    """`column_type` for the columns of one schema (a models' MetaData or a database's):
    a common type (an INTEGER, a VARCHAR(50)) is read once, not once per column."""

    def __init__(self, *, models: bool = False) -> None:
        self.models = models  # as `column_type`'s
        self._read: dict[tuple[Any, ...], tuple[TypeSpec, tuple[ir.Variant, ...],
                                                ir.Collation]] = {}
        # Columns read (`read._column`) by what they were read from, the type as its `key`:
        # an `id INTEGER` or a `name VARCHAR(50)` in every table is read once.
        self.columns: dict[tuple[Any, ...], ir.Column] = {}

    @staticmethod
    def key(t: Any) -> tuple[Any, ...] | None:
        """What `column_type` reads of `t`, where that is all it reads (None: a type read in
        full each time)."""
        cls = type(t)
        if cls not in _plain_classes() or getattr(t, "_variant_mapping", None):
            return None
        return (cls, *(getattr(t, a, None) for a in _READ))

    def column_type(self, t: Any) -> tuple[TypeSpec, tuple[ir.Variant, ...], ir.Collation]:
        key = self.key(t)
        if key is None:
            return column_type(t, models=self.models)
        found = self._read.get(key)
        if found is None:
            found = self._read[key] = column_type(t, models=self.models)
        return found


def _base(t: Any, types: dict[str, TypeSpec]) -> TypeSpec:
    """The column's `type`: what the model's type is without its variants when one database
    builds that, else the type most databases build."""
    from .read import type_from_sa

    if not isinstance(t, sa.types.TypeDecorator):
        try:
            own = _named(type_from_sa(_plain(t)))
        except TypeError_:
            own = None
        if own is not None and own in types.values():
            return own
    return Counter(types.values()).most_common(1)[0][0]


def _built(t: Any, keys: tuple[str, ...], sa_dialect: Any, models: bool = False) -> Built:
    """The type `t` builds on the database whose variant keys are `keys` (`models`: as
    `column_type`'s)."""
    from .read import type_from_sa

    mapping = getattr(t, "_variant_mapping", None) or {}
    chosen = next((mapping[k] for k in keys if k in mapping), None)
    if chosen is not None:
        return _built(chosen, keys, sa_dialect, models)
    if models and sa_dialect is not None:
        text = _override_ddl(t, keys[0], sa_dialect)
        if text is not None:
            return _from_ddl(text, sa_dialect), None
    if isinstance(t, sa.Interval) and sa_dialect is not None:
        # Emulated: a database with its own INTERVAL (PostgreSQL) builds that instead.
        native = sa_dialect.type_descriptor(t)
        if not isinstance(native, sa.types.TypeDecorator):
            return _built(_public(native), keys, sa_dialect, models)
    if isinstance(t, sa.types.TypeDecorator):
        if type(t).load_dialect_impl is sa.types.TypeDecorator.load_dialect_impl:
            return _built(t.impl_instance, keys, sa_dialect, models)
        try:
            impl = t.load_dialect_impl(sa_dialect)
        except Exception as exc:
            raise TypeError_(f"the type {t!r}, whose load_dialect_impl() fails for "
                             f"{keys[0]} ({type(exc).__name__}: {exc})") from None
        return _built(_public(impl), keys, sa_dialect, models)
    if "mysql" in keys and _mysql_options(t):
        charset = _mysql_charset(t)
        if charset:
            raise TypeError_(f"the type {t!r}: a character set of its own on MySQL/MariaDB "
                             f"({', '.join(f'{k}={v!r}' for k, v in charset.items())})")
        # UNSIGNED, ZEROFILL: the format has no words for them, so the type is the DDL MySQL
        # builds (without its display width, an artifact; ZEROFILL is UNSIGNED there).
        plain = t.copy()
        plain.display_width = None
        plain.unsigned = bool(t.unsigned or t.zerofill)
        text = _own_ddl(plain, sa_dialect)
        if text is None:
            raise TypeError_(f"the type {t!r}, which cannot be compiled for {keys[0]}")
        return TypeSpec("sql", (text,)), None
    if "mysql" in keys and _mysql_timestamp(t):
        # TIMESTAMP is not DATETIME there (stored in UTC, 1970-2038): built as written,
        # with its fractional seconds as SQL (no type of the format has them).
        fsp = getattr(t, "fsp", None)
        return (TypeSpec("sql", (f"TIMESTAMP({int(fsp)})",)) if fsp
                else TypeSpec("mysql.timestamp")), None
    collation = getattr(t, "collation", None)
    return _named(type_from_sa(_plain(t))), str(collation) if collation else None


def _override(t: Any) -> Any | None:
    """The `@compiles` dispatcher (sqlalchemy.ext.compiler) that compiles type `t`, or None
    where SQLAlchemy's own compilation does: the class that gives `t` its `_compiler_dispatch`
    is the one `@compiles` replaced it on (a subclass with a visit name of its own has its
    own dispatch, which the override of its base does not reach)."""
    for cls in type(t).__mro__:
        if "_compiler_dispatch" in cls.__dict__:
            return cls.__dict__.get("_compiler_dispatcher")
    return None


def _compiled_apart(t: Any) -> bool:
    """Whether type `t`'s DDL comes from elsewhere than SQLAlchemy's own compilation of it:
    a `@compiles` override, or a UserDefinedType without `get_col_spec()`, which a visit
    method added to a database's type compiler builds (sqlalchemy-utils' LTREE)."""
    return _override(t) is not None or (isinstance(t, sa.types.UserDefinedType)
                                        and not hasattr(t, "get_col_spec"))


def _override_ddl(t: Any, name: str, sa_dialect: Any) -> str | None:
    """The DDL a `@compiles` override (or a type compiler's own visit method, see
    `_compiled_apart`) builds for type `t` on database `name`, where that is not what
    SQLAlchemy itself builds (None: no such override, or one that builds the same)."""
    if not _compiled_apart(t):
        return None
    compiler = sa_dialect.type_compiler_instance
    try:
        text = str(compiler.process(t))
    except Exception as exc:  # the project's code: create_all() fails the same way
        raise TypeError_(f"the type {t!r}, which cannot be compiled for {name} "
                         f"({type(exc).__name__}: {exc})") from None
    own = _own_ddl(t, sa_dialect)
    return None if own is not None and _same_ddl(own, text) else text


def _own_ddl(t: Any, sa_dialect: Any) -> str | None:
    """The DDL SQLAlchemy itself builds for type `t` on `sa_dialect`, no `@compiles`
    override consulted (None where it cannot build it)."""
    mapping = getattr(t, "_variant_mapping", None) or {}
    t = mapping.get(sa_dialect.name, t)
    compiler = sa_dialect.type_compiler_instance
    try:
        return str(getattr(compiler, f"visit_{t.__visit_name__}")(t))
    except Exception:
        return None


def _same_ddl(a: str, b: str) -> bool:
    return a.lower().split() == b.lower().split()


def _from_ddl(text: str, sa_dialect: Any) -> TypeSpec:
    """The type whose DDL on `sa_dialect` is `text` (what a `@compiles` override builds): the
    type the format names, where schemaflow builds that same text from it (`DATETIME(6)` is
    `datetime(6)`), else the text itself, `sql(...)`."""
    from ..typespec import parse_type
    from .tables import sa_type

    # The generic name first, then the database's own (LONGTEXT is `mysql.longtext`).
    head, paren, rest = text.strip().partition("(")  # (its arguments as written)
    for name in (text, f"{sa_dialect.name}.{head.strip().lower()}{paren}{rest}"):
        try:
            spec = parse_type(name)
            again = _own_ddl(sa_type(spec), sa_dialect) if spec.name != "sql" else None
        except (ValueError, TypeError):  # (TypeSyntaxError and TypeError_ among them)
            again = None
        if again is not None and _same_ddl(again, text):
            return spec
    return TypeSpec("sql", (text,))


# A character set of the column's own: refused (the collation MySQL then reports, that
# set's default, is not one the models name; not compared yet).
_MYSQL_CHARSET = ("charset", "national", "binary", "ascii", "unicode")


def _mysql_options(t: Any) -> bool:
    """Whether `t` is one of MySQL's own types with an option that changes what MySQL
    builds (UNSIGNED, ZEROFILL, CHARACTER SET, NATIONAL, BINARY, ASCII, UNICODE): every
    other database builds it without (a MySQL type compiles as its generic type there)."""
    return type(t).__module__.startswith("sqlalchemy.dialects.mysql") and bool(
        getattr(t, "unsigned", None) or getattr(t, "zerofill", None) or _mysql_charset(t))


def _mysql_charset(t: Any) -> dict[str, Any]:
    """The character-set options of MySQL type `t` that say more than its collation does (a
    collation names its character set: utf8mb4_bin's is utf8mb4, which MySQL reports)."""
    found = {o: getattr(t, o) for o in _MYSQL_CHARSET if getattr(t, o, None)}
    collation = getattr(t, "collation", None)
    if collation and "charset" in found and str(collation).startswith(f"{found['charset']}_"):
        del found["charset"]
    return found


def _mysql_timestamp(t: Any) -> bool:
    """Whether `t` is SQL's TIMESTAMP, which MySQL and MariaDB build as a type of its own (a
    generic DateTime, or PostgreSQL's TIMESTAMP, is DATETIME there)."""
    if not isinstance(t, sa.TIMESTAMP):  # (every column type read passes here)
        return False
    from sqlalchemy.dialects import postgresql

    return not isinstance(t, postgresql.TIMESTAMP)


def _public(t: Any) -> Any:
    """`t` as the type SQLAlchemy exports that it implements: a dialect's implementation class
    (`_PGJSON`, `PGUuid`) is read as its public type (JSON, UUID)."""
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    modules = (sa.types, postgresql, mysql, sqlite)
    for cls in type(t).__mro__:
        if any(getattr(m, cls.__name__, None) is cls for m in modules):
            return t if cls is type(t) else t.adapt(cls)
    return t


def _plain(t: Any) -> Any:
    """`t` without its variants and collation (read apart)."""
    if not getattr(t, "_variant_mapping", None) and not getattr(t, "collation", None):
        return t
    plain = t.copy()
    if getattr(plain, "_variant_mapping", None):
        plain._variant_mapping = type(plain._variant_mapping)()
    if getattr(plain, "collation", None):
        plain.collation = None
    return plain


def _named(spec: TypeSpec) -> TypeSpec:
    """An enum without a name stays without one (each database names it its own way)."""
    if spec.name == "enum" and not spec.kwarg("name"):
        # (its other options, such as native=false, stay)
        return TypeSpec("enum", spec.args, tuple(kv for kv in spec.kwargs if kv[0] != "name"))
    return spec


def built_where(items: Iterable[Any]) -> list[tuple[Any, tuple[ir.Dialect, ...] | None]]:
    """The constraints or indexes that `create_all()` builds, judged by their conditional DDL
    (`.ddl_if(dialect=..., callable_=...)`), each with the databases it builds them on as
    a `dialects` scope says it (None: every one; `mysql` covers MariaDB where both are
    named); one built on no supported database is left out."""
    from types import SimpleNamespace

    out: list[tuple[Any, tuple[ir.Dialect, ...] | None]] = []
    for item in items:
        condition = getattr(item, "_ddl_if", None)
        if condition is None:
            out.append((item, None))
            continue
        where = [(name, names) for name, names, sa_dialect in _databases()
                 if any(condition._should_execute(None, item, None,
                                                  compiler=SimpleNamespace(dialect=d))
                        for d in _as_named(name, sa_dialect))]
        if len(where) == len(_databases()):
            out.append((item, None))
        elif where:
            built = {name for name, _ in where}
            scope = sorted(name for name, names in where
                           if not any(o in built for o in names[1:]))
            out.append((item, typing.cast("tuple[ir.Dialect, ...]", tuple(scope))))
    return out


def _as_named(name: str, sa_dialect: Any) -> tuple[Any, ...]:
    """The SQLAlchemy dialects a database is reached through: MariaDB's through a mysql://
    URL (named mysql) and through a mariadb:// one (named mariadb), which `ddl_if(dialect=
    "mariadb")` names."""
    if name != "mariadb":
        return (sa_dialect,)
    from sqlalchemy.dialects.mysql.mariadb import MariaDBDialect

    return (sa_dialect, MariaDBDialect())


def built_everywhere(table: str, items: Iterable[Any]) -> list[Any]:
    """The constraints or indexes of `table` that `create_all()` builds (`built_where`); one
    built on only some databases is refused (the format scopes no such constraint)."""
    from .read import Unexpressible, _name

    out = []
    for item, scope in built_where(items):
        if scope is not None:
            kind = "index" if isinstance(item, sa.Index) else "constraint"
            raise Unexpressible(f"{kind} {_name(item) or ''} on {table}",
                                f"conditional DDL (ddl_if) building it on {', '.join(scope)} "
                                "only")
        out.append(item)
    return out
