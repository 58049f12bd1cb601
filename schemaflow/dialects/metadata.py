"""The schema that SQLAlchemy models (a MetaData) describe, as plain-data state, read the way
`metadata.create_all()` would build it; what the format cannot express is refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from .. import ir
from ..errors import ModelError
from ..ir.charsets import check_charset, normal_charset, normal_collation
from ..ir.parts import IRError
from ..state import SchemaState, ck_name, fit, fk_name, uq_name
from .coltypes import TypeReader, built_everywhere, built_where
from .indexes import from_model, sql_text
from .read import (
    Unexpressible,
    _action,
    _column,
    _default_of,
    _deferral,
    _name,
    _table,
    default_from_sa,
    skipper,
)


def from_metadata(metadata: sa.MetaData, *,
                  skip: Iterable[str] | Callable[[str], bool] = (),
                  target: str | None = None) -> SchemaState:
    """The SchemaState a SQLAlchemy MetaData describes (every constraint given a name);
    `target`, the database the project builds (a server default some other database
    cannot build is then none there: `_model_default`)."""
    skipped = skipper(skip)
    _check_references(metadata)
    sequences = _sequences(metadata, skipped)
    types = TypeReader(models=True)
    tables = {}
    for table in metadata.sorted_tables:
        if skipped(str(table.name)):
            continue
        name = str(table.name)
        options = {k: v for k, v in table.dialect_kwargs.items() if not assumed(k, v)}
        autoincrement = bool(options.pop("sqlite_autoincrement", False))  # (as SQLAlchemy reads it)
        charset, collate = charset_options(name, options)
        if options:
            raise Unexpressible(f"table {name}", f"the table options {options}")
        pk_cols = _key_columns(name, table.primary_key)
        columns = [_model_column(name, col, pk_cols, types, target) for col in table.columns]
        uniques, checks, fks = [], [], []
        for c in built_everywhere(name, table.constraints):
            if c.dialect_kwargs or c.comment:
                options = {**c.dialect_kwargs, **({"comment": c.comment} if c.comment else {})}
                raise Unexpressible(f"constraint {_name(c) or ''} on {name}",
                                    f"the options {options}")
            if isinstance(c, sa.UniqueConstraint):
                cols = tuple(str(x.name) for x in c.columns)
                uniques.append(ir.UniqueDef(columns=cols, name=_name(c) or uq_name(name, cols)))
            elif isinstance(c, sa.CheckConstraint):
                check = _check(name, c)
                if check is not None:
                    checks.append(check)
            elif isinstance(c, sa.ForeignKeyConstraint):
                fks.append(_foreign_key(name, c))
        # (an index `ddl_if` builds on some databases only exists there: Prefect's)
        indexes = [replace(from_model(name, i), dialects=scope) if scope else from_model(name, i)
                   for i, scope in sorted(built_where(table.indexes), key=lambda x: str(x[0].name))]
        t = _table(name, str(table.schema) if table.schema else None, columns,
                   (pk_cols, _name(table.primary_key)), uniques, fks, checks, indexes,
                   table.comment)
        tables[t.key] = replace(t, sqlite_autoincrement=autoincrement, mysql_charset=charset,
                                mysql_collate=collate) if autoincrement or charset or collate else t
    return SchemaState(tables, sequences)


# SQLAlchemy's names of MySQL's table character set and collation (each also `mysql_` with
# upper case, and `mariadb_`): as its MySQL compiler reads them.
_CHARSET_WORDS = {"charset": "charset", "character_set": "charset",
                  "default_charset": "charset", "default_character_set": "charset",
                  "collate": "collate", "default_collate": "collate"}


def charset_option(key: str) -> bool:
    """Whether a table option is one of MySQL's character set and collation."""
    prefix, _, rest = key.partition("_")
    return prefix in ("mysql", "mariadb") and _word(rest) in _CHARSET_WORDS


def _word(rest: str) -> str:
    # (SQLAlchemy's reflection of MySQL writes `mysql_default charset`, with a space)
    return rest.lower().replace(" ", "_")


def charset_options(table: str, options: dict[str, Any]) -> tuple[str | None, str | None]:
    """MySQL's table character set and collation taken out of a table's options: (the
    format's `mysql_charset`, `mysql_collate`). The format's words build on MySQL and
    MariaDB alike, so a `mariadb_` one that says otherwise than its `mysql_` one is refused."""
    found: dict[tuple[str, str], str] = {}
    for key in [k for k in options if charset_option(k)]:
        prefix, _, rest = key.partition("_")
        value = options.pop(key)
        if value is not None:
            found[(prefix, _CHARSET_WORDS[_word(rest)])] = str(value)
    words: list[str | None] = []
    for word in ("charset", "collate"):
        mysql, mariadb = found.get(("mysql", word)), found.get(("mariadb", word))
        normal = normal_charset if word == "charset" else normal_collation
        if mariadb is not None and normal(mysql or "") != normal(mariadb):
            raise Unexpressible(f"table {table}", f"mariadb_{word}={mariadb!r} where mysql_"
                                f"{word} is {mysql!r} (a table's character set and collation "
                                "are the same on MySQL and MariaDB in the format)",
                                hint=f"give mysql_{word} the same value, or both none")
        words.append(mysql)
    try:
        check_charset(*words)
    except IRError as exc:
        raise ModelError(f"model table '{table}': {exc.message}",
                         hint="correct the table's options") from None
    return words[0], words[1]


def _check(table: str, c: sa.CheckConstraint) -> ir.CheckDef | None:
    """A model's CHECK; one that a type adds (`Boolean` or `Enum` with
    `create_constraint=True`) scoped to the databases where create_all() creates it (a
    boolean's where there is no native boolean, a native enum's where there is no enum
    type), named as create_all() names it (None where it creates it nowhere)."""
    expr = sql_text(c.sqltext)
    name, dialects = _name(c), None
    # A type's CHECK, or one the models build on some databases only (`_create_rule`, the
    # same mechanism: privacyIDEA's `IS JSON` CHECK for Oracle alone).
    if getattr(c, "_type_bound", False) or getattr(c, "_create_rule", None) is not None:
        dialects = _created_on(c)
        if dialects == ():
            return None
        if name is None and c.table is not None and getattr(c, "_type_bound", False):
            # Named from the naming convention when the DDL is compiled, as SQLAlchemy does.
            from sqlalchemy.sql.naming import _constraint_name_for_table

            named = _constraint_name_for_table(c, c.table)  # type: ignore[no-untyped-call]
            name = fit(str(named)) if named else None
    return ir.CheckDef(expression=expr, name=name or ck_name(table, expr), dialects=dialects)


def _created_on(c: sa.CheckConstraint) -> tuple[Any, ...] | None:
    """The databases whose create_all() creates the CHECK a type adds: None for all of them;
    a database that varies another (MariaDB) is left out where that one is named."""
    from types import SimpleNamespace

    from . import _REGISTRY

    here, everywhere = [], True
    for name, cls in _REGISTRY.items():
        try:
            sa_dialect = cls().sa_dialect()
        except NotImplementedError:  # a database without SQLAlchemy behind it
            continue
        # The rule create_all() asks, given the one thing it reads: the compiler's dialect.
        compiler: Any = SimpleNamespace(dialect=sa_dialect)
        if c._should_create_for_compiler(compiler):
            here.append(name)
        else:
            everywhere = False
    if everywhere:
        return None
    return tuple(sorted(n for n in here if not any(
        o != n and o in _REGISTRY[n].sql_dialects for o in here)))
def _check_references(metadata: sa.MetaData) -> None:
    """Every foreign key's target is in the models (else SQLAlchemy's error would surface
    later, from the middle of whatever read the tables, as if the database had failed)."""
    for table in metadata.tables.values():
        for fk in table.foreign_keys:
            where = f"the foreign key on {table.name}.{fk.parent.name} references " \
                    f"'{fk.target_fullname}'"
            try:
                fk.column  # noqa: B018 (resolves the target)
            except sa.exc.NoReferencedTableError as exc:
                raise ModelError(
                    f"model table '{table.name}': {where}, but the models have no table "
                    f"'{exc.table_name}'",
                    hint=f"import the module that defines '{exc.table_name}' from the "
                         "models module (same MetaData), or correct the ForeignKey") from None
            except sa.exc.NoReferencedColumnError as exc:
                raise ModelError(
                    f"model table '{table.name}': {where}, but the table "
                    f"'{exc.table_name}' has no column '{exc.column_name}'",
                    hint="correct the ForeignKey or add the column") from None


# SQLite's options given their defaults (SQLAlchemy's): what a table without them is.
_SQLITE_DEFAULTS = {"sqlite_autoincrement": False, "sqlite_with_rowid": True}


def assumed(option: str, value: Any) -> bool:
    """A table option that builds what every supported database builds without it: InnoDB,
    the default storage engine of MySQL (5.5 on) and MariaDB, and SQLite's options at their
    defaults (`sqlite_autoincrement=False`). Every other one but `sqlite_autoincrement=True`
    and MySQL's character set and collation (a table's own: `from_metadata`), such as another
    engine, SQLite's WITHOUT ROWID or PostgreSQL's partitioning, is refused."""
    if option in _SQLITE_DEFAULTS:  # (SQLAlchemy reads them as true or false)
        return bool(value) is _SQLITE_DEFAULTS[option]
    return option in ("mysql_engine", "mariadb_engine") and str(value).lower() == "innodb"


def _sequences(metadata: sa.MetaData,
               skipped: Callable[[str], bool]) -> dict[Any, ir.CreateSequence]:
    """The models' sequences of their own (`sa.Sequence(..., metadata=metadata)`, not
    `optional=True`: create_all() creates them on PostgreSQL and MariaDB); those on a
    column are the column's (`_column_sequence`)."""
    on_columns = {id(col.default) for table in metadata.tables.values()
                  for col in table.columns if isinstance(col.default, sa.Sequence)}
    found = {}
    for seq in metadata._sequences.values():
        if seq.optional or id(seq) in on_columns or skipped(seq.name):
            continue
        options = _sequence_options(f"sequence {seq.name!r}", seq)
        found[(options["schema"], options["name"])] = ir.CreateSequence(**options)
    return found


def _sequence_options(where: str, seq: sa.Sequence) -> dict[str, Any]:
    """A sa.Sequence's name, schema and options, refusing those the format lacks."""
    other = {k: v for k in ("order", "data_type", "nominvalue", "nomaxvalue")
             if (v := getattr(seq, k, None))}
    if other:
        raise Unexpressible(where, f"the sequence options {other}")
    overridden = _sequence_compiled_apart(seq)
    if overridden:
        raise Unexpressible(where, "a @compiles override of CREATE SEQUENCE, which builds it "
                            f"otherwise on {', '.join(overridden)}")
    return {"name": str(seq.name), "schema": None if seq.schema is None else str(seq.schema),
            "start": seq.start, "increment": seq.increment, "minvalue": seq.minvalue,
            "maxvalue": seq.maxvalue, "cycle": seq.cycle, "cache": seq.cache}


def _sequence_compiled_apart(seq: sa.Sequence) -> list[str]:
    """The databases where a `@compiles` override of CreateSequence (privacyIDEA's adds
    INCREMENT BY 0 on MariaDB) makes create_all() build `seq` otherwise than SQLAlchemy does:
    the format would build it without."""
    from sqlalchemy.schema import CreateSequence

    from .coltypes import _databases

    if "_compiler_dispatcher" not in vars(CreateSequence):
        return []
    out = []
    for name, _, sa_dialect in _databases():
        ddl = CreateSequence(seq)
        compiler = sa_dialect.ddl_compiler(sa_dialect, None)
        try:
            apart = str(ddl.compile(dialect=sa_dialect)) != type(
                compiler).visit_create_sequence(compiler, ddl)
        except sa.exc.SQLAlchemyError:  # (a database without sequences: not built there)
            continue
        if apart:
            out.append(name)
    return out


def _column_sequence(table: str, col: sa.Column[Any]) -> dict[str, Any]:
    """The sequence a column is numbered from (`sa.Sequence` on it, not `optional=True`)."""
    seq = col.default
    if not isinstance(seq, sa.Sequence) or seq.optional:
        return {}
    return {"sequence": ir.ColumnSequence(**_sequence_options(f"column {table}.{col.name}",
                                                              seq))}


def _key_columns(table: str, pk: sa.PrimaryKeyConstraint) -> tuple[str, ...]:
    """The primary key's columns in the order create_all() builds them: a key made of
    `primary_key=True` columns starts with the one SQLAlchemy numbers."""
    try:
        columns = pk.columns_autoinc_first if getattr(pk, "_implicit_generated", False) else (
            pk.columns)
    except sa.exc.ArgumentError as exc:  # create_all() fails on it as well
        raise ModelError(f"model table '{table}': its primary key: {exc}") from None
    return tuple(str(c.name) for c in columns)


def _model_column(table: str, col: sa.Column[Any], pk_cols: tuple[str, ...],
                  types: TypeReader | None = None, target: str | None = None) -> ir.Column:
    generated = _computed(col) or _identity(table, col) or _column_sequence(table, col)
    # Only an explicit `autoincrement` on a sole integer key is carried, where it differs
    # from "auto" (the format's default, which numbers no key with a foreign key or a
    # default of its own), and `autoincrement=True` in a key of several columns; elsewhere
    # nothing is numbered (create_all() builds the same).
    numbered = pk_cols == (col.name,) and _integer(col.type)
    autoincrement = None
    if len(pk_cols) > 1 and col.name in pk_cols and col.autoincrement is True:
        autoincrement = True  # the one column SQLAlchemy numbers in a key of several
    elif numbered:
        own = col.default is not None or col.server_default is not None
        # SQLAlchemy numbers a key with a foreign key only when told (True, "ignore_fk"),
        # one with a default of its own only when told True.
        told = (col.autoincrement is True and bool(col.foreign_keys or own)) or (
            col.autoincrement == "ignore_fk" and bool(col.foreign_keys) and not own)
        autoincrement = False if col.autoincrement is False else True if told else None
    column = _column(table, str(col.name), col.type,
                     col.name not in pk_cols and bool(col.nullable),
                     (None, None) if generated else _model_default(table, col, target),
                     col.comment,
                     autoincrement, types)
    return replace(column, **generated) if generated else column


def _integer(t: Any) -> bool:
    """Whether a model's column type is an integer type (its SQLAlchemy type affinity)."""
    affinity = getattr(t, "_type_affinity", None)
    return isinstance(affinity, type) and issubclass(affinity, sa.Integer)


def _model_default(table: str, col: sa.Column[Any], target: str | None = None
                   ) -> tuple[Any, str | ir.SqlDefaults | None]:
    """The server default of a model's column. One a `@compiles` override builds (Prefect's
    `strftime(...)` for `now()` on SQLite) is what it builds on every database: one default
    where that is one, else the SQL each database builds (`default_sql` per database), never
    SQLAlchemy's generic text, which the override never builds. One that some database
    cannot compile (where `create_all()` fails: Prefect's GenerateUUID on MySQL) is none
    there, where the project builds another (`target`); else it is refused, naming the
    column."""
    arg = getattr(col.server_default, "arg", None)
    if not isinstance(arg, sa.sql.ClauseElement):  # (most columns: no imports for them)
        return _default_of(col)
    from sqlalchemy.sql.visitors import iterate

    from . import by_name, names
    from .coltypes import _override

    if not any(_override(e) is not None for e in iterate(arg)):
        return _default_of(col)
    built: dict[str, tuple[Any, str | None] | str] = {}
    texts: dict[str, str] = {}
    for name in names():
        try:
            sa_dialect = by_name(name).sa_dialect()
        except NotImplementedError:
            continue
        try:
            text = str(arg.compile(dialect=sa_dialect,
                                   compile_kwargs={"literal_binds": True}))
        except Exception as exc:  # the project's code: create_all() fails the same way there
            built[name] = f"cannot be compiled ({type(exc).__name__})"
        else:
            built[name], texts[name] = default_from_sa(text), text
    alike = {_now(v) for v in built.values()}
    if len(alike) == 1 and not isinstance(next(iter(alike)), str):
        # One default everywhere (Dagster's CURRENT_TIMESTAMP(6) on MySQL is the
        # CURRENT_TIMESTAMP MariaDB gives a DATETIME(6) column back with).
        return next(iter(alike))  # type: ignore[return-value]
    if len(texts) == len(built) or target in texts:
        # Each database's own (MariaDB's where MySQL's differs).
        if texts.get("mariadb") == texts.get("mysql"):
            texts.pop("mariadb", None)
        return None, ir.SqlDefaults(**texts)
    shown = "; ".join(f"{name}: {v if isinstance(v, str) else v[1] or repr(v[0])}"
                      for name, v in built.items())
    raise Unexpressible(f"column {table}.{col.name}",
                        f"a server default that a @compiles override cannot build on some "
                        f"databases, where create_all() fails ({shown})",
                        hint="make the override build on every database (a default per "
                             "database is written so), or leave it out of the models and set it "
                             "with a `sql` operation scoped with `dialects:` (`check "
                             "--against-db` then reports it as a default the models lack)")


_NOW = re.compile(r"current_timestamp\(\d*\)", re.IGNORECASE)


def _now(built: tuple[Any, str | None] | str) -> tuple[Any, str | None] | str:
    """A default as built, CURRENT_TIMESTAMP(N) read as CURRENT_TIMESTAMP (each database
    gives a time column's CURRENT_TIMESTAMP back with the column's own precision)."""
    if isinstance(built, tuple) and built[1] is not None and _NOW.fullmatch(built[1].strip()):
        return built[0], "CURRENT_TIMESTAMP"
    return built


def _computed(col: sa.Column[Any]) -> dict[str, Any]:
    if col.computed is None:
        return {}
    return {"computed": ir.Computed(expression=sql_text(col.computed.sqltext),
                                    stored=col.computed.persisted)}


def _identity(table: str, col: sa.Column[Any]) -> dict[str, Any]:
    i = col.identity
    if i is None:
        return {}
    other = [k for k in ("on_null", "nominvalue", "nomaxvalue", "order") if getattr(i, k, None)]
    if other:
        raise Unexpressible(f"column {table}.{col.name}",
                            f"the identity options {', '.join(other)}")
    # START 1 and INCREMENT 1 are every database's defaults: the same as giving none.
    ascending = (i.increment or 1) > 0
    start = None if i.start == 1 and ascending else i.start
    increment = None if i.increment == 1 else i.increment
    return {"identity": ir.Identity(always=bool(i.always), start=start, increment=increment,
                                    minvalue=i.minvalue, maxvalue=i.maxvalue, cycle=i.cycle,
                                    cache=i.cache)}


def _foreign_key(table: str, c: sa.ForeignKeyConstraint) -> ir.ForeignKeyDef:
    where = f"foreign key {_name(c) or ''} on {table}"
    if c.match:
        raise Unexpressible(where, f"match={c.match!r}")
    ref = c.elements[0].column.table if c.elements else None
    fk = ir.ForeignKeyDef(
        columns=tuple(str(x.name) for x in c.columns),
        references=ir.Reference(
            table=str(ref.name) if ref is not None else c.elements[0].target_fullname,
            columns=tuple(str(e.column.name) for e in c.elements),
            schema=str(ref.schema) if ref is not None and ref.schema else None),
        name=_name(c), ondelete=_action(c.ondelete), onupdate=_action(c.onupdate),
        **_deferral(where, c.deferrable, c.initially))
    return fk if fk.name else replace(fk, name=fk_name(table, fk))
