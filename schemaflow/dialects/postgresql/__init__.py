"""PostgreSQL: transactional DDL, native enum types, comments, CONCURRENTLY, advisory locks."""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from ... import ir
from ...errors import UsageError
from ...sqlsplit import SqlSyntax
from ...typespec import TypeSpec, enum_name, is_native_enum
from .. import register
from ..base import (
    URL_PARTS,
    Dialect,
    Version,
    VersionRead,
)
from ..comparable import map_columns, map_tables

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ...rules import Analyzer
    from ...state import SchemaState, Table
    from ..catalogs import Options
    from ..driver import DriverSide
    from ..render import Renderer


def enum_types(state: SchemaState) -> dict[str, tuple[str, ...]]:
    """Every enum type the columns of `state` use, by type name."""
    found: dict[str, tuple[str, ...]] = {}
    for t in state.tables.values():
        for c in t.columns:
            if is_native_enum(c.type):
                found.setdefault(enum_name(c.type, t.name, c.name),
                                 tuple(str(a) for a in c.type.args))
    return found


def may_change_enums(op: ir.Operation, before: SchemaState) -> bool:
    """Whether `op` can create, extend, rename or drop an enum type: only table and column
    operations on a table with an enum column, or that bring one. (enum_types reads the
    whole schema; asked for every operation, planning a long history grew quadratic.)"""
    if isinstance(op, ir.CreateTable):
        return any(is_native_enum(c.type) for c in op.columns)
    if isinstance(op, (ir.DropTable, ir.RenameTable)):
        key = (op.schema, op.name)
    elif isinstance(op, (ir.AddColumn, ir.DropColumn, ir.RenameColumn, ir.AlterColumn)):
        key = (op.schema, op.table)
        if isinstance(op, ir.AddColumn) and is_native_enum(op.column.type):
            return True
        if isinstance(op, ir.AlterColumn) and op.type is not None and is_native_enum(op.type):
            return True
    else:
        return False
    t = before.tables.get(key)
    return t is not None and any(is_native_enum(c.type) for c in t.columns)


# The words of a type name after `::` (character varying, timestamp with time zone, ...).
_TYPE_WORDS = frozenset({"varying", "precision", "with", "without", "time", "zone"})
_OPERATORS = {"~~": ["like"], "!~~": ["not", "like"], "~~*": ["ilike"], "!~~*": ["not", "ilike"]}


def _as_written(tokens: list[str]) -> list[str]:
    """A CHECK as PostgreSQL gives it back, in the words it was written in: casts (`::text`,
    `::character varying[]`) left out, `~~` as LIKE, `x = ANY (ARRAY[a, b])` as
    `x IN (a, b)` and `x <> ALL (ARRAY[...])` as `x NOT IN (...)`."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] != "::":
            out += _OPERATORS.get(tokens[i], [tokens[i]])
            i += 1
            continue
        i += 2  # the type's first word
        while i < len(tokens) and tokens[i] in _TYPE_WORDS:
            i += 1
        if tokens[i:i + 1] == ["("]:  # varchar(20)
            i = tokens.index(")", i) + 1 if ")" in tokens[i:] else len(tokens)
        while tokens[i:i + 2] == ["[", "]"]:
            i += 2
    done: list[str] = []
    i = 0
    while i < len(out):
        listed = _in_list(out, i)
        if listed is None:
            done.append(out[i])
            i += 1
        else:
            done += listed[0]
            i = listed[1]
    return done


def _in_list(tokens: list[str], i: int) -> tuple[list[str], int] | None:
    """At `tokens[i]`, `= ANY (ARRAY[a, b])` (or `<> ALL (...)`) exactly as PostgreSQL
    prints `IN (a, b)` (`NOT IN`), its casts already out, the array in parentheses of its
    own or not: that IN list, and where it ends. None for anything else (an array that is
    more than its brackets, `= ANY (ARRAY[1] || x)`, is no IN list)."""
    if tokens[i:i + 2] not in (["=", "any"], ["<>", "all"]):
        return None
    j = i + 2
    opened = 0
    while tokens[j:j + 1] == ["("]:
        opened += 1
        j += 1
    if not opened or tokens[j:j + 2] != ["array", "["]:
        return None
    start = j = j + 2
    depth = 1
    while j < len(tokens) and depth:
        depth += {"[": 1, "]": -1}.get(tokens[j], 0)
        j += 1
    if depth or tokens[j:j + opened] != [")"] * opened:
        return None
    words = ["in"] if tokens[i] == "=" else ["not", "in"]
    return [*words, "(", *tokens[start:j - 1], ")"], j + opened


def still_named(state: SchemaState, name: str, removed: list[str]) -> None:
    """Raise UsageError for an index condition, index expression or CHECK of a column of enum
    type `name` that names one of the `removed` values (it cannot be recreated)."""
    from ...state import mentions

    for t in state.tables.values():
        for c in t.columns:
            if c.type.name != "enum" or enum_name(c.type, t.name, c.name) != name:
                continue
            found = [(f"CHECK '{k.name}'", k.expression) for k in t.checks]
            found += [(f"index '{i.name}'", i.where or "") for i in t.indexes]
            found += [(f"index '{i.name}'", k.expression or "") for i in t.indexes
                      for k in i.columns if not isinstance(k, str)]
            for what, text in found:
                value = next((v for v in removed if f"'{v}'" in text), None)
                if value is not None and mentions(text, c.name):
                    raise UsageError(
                        f"{what} on '{t.name}' compares '{c.name}' with '{value}', a value "
                        f"removed from the enum type '{name}': it cannot be recreated on "
                        "the new type", hint="drop or change it first, in an operation "
                                             "before this one")


def advisory_key(database: str, table: str) -> int:
    """A stable 32-bit advisory-lock key for a version table in `database` (locks are
    server-wide, migrations per database)."""
    return zlib.crc32(f"schemaflow:{database}.{table}".encode())


def lock_key(conn: Connection, table: str) -> int:
    """`advisory_key` of the database `conn` is connected to."""
    return advisory_key(str(conn.exec_driver_sql("SELECT current_database()").scalar()), table)


def _bytea(c: ir.Column) -> ir.Column:
    """Every binary type is BYTEA here, which keeps no length."""
    if c.type.name in ("binary", "varbinary") and c.type != TypeSpec("binary"):
        return replace(c, type=TypeSpec("binary"))
    return c


# The statements PostgreSQL refuses inside a transaction block ("cannot run inside a
# transaction block"), as a `sql` operation may write them (after comments).
_OUTSIDE_TRANSACTIONS = re.compile(
    r"(?:--[^\n]*(?:\n|$)|/\*[\s\S]*?\*/|\s)*"
    r"(?:CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY"
    r"|REINDEX\b[^;]*\bCONCURRENTLY\b|REINDEX\s+(?:\([^)]*\)\s*)?(?:SYSTEM|DATABASE)\b"
    r"|(?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE)\b|ALTER\s+SYSTEM\b|VACUUM\b"
    r"|ALTER\s+DATABASE\b[^;]*\bSET\s+TABLESPACE\b|(?:COMMIT|ROLLBACK)\s+PREPARED\b)",
    re.IGNORECASE)


@register
class PostgreSQL(Dialect):
    """PostgreSQL: native enum types (replaced to lose a value), advisory locks."""

    name: ClassVar[str] = "postgresql"
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    sql_dialects: ClassVar[tuple[str, ...]] = ("postgresql",)
    type_dialects: ClassVar[tuple[str, ...]] = ("postgresql",)
    sa_types_module: ClassVar[str | None] = "sqlalchemy.dialects.postgresql"
    owns_index_options: ClassVar[bool] = True
    sql_syntax: ClassVar[SqlSyntax] = SqlSyntax(escape_strings=True, nested_comments=True,
                                                dollar_quotes=True)
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = (
        ((0,), {"partial_index": True, "comments": True, "native_enum": True,
                "foreign_keys_need_keys": True, "max_string": 10485760, "max_char": 10485760,
                "concurrent_index": True, "deferrable_foreign_keys": True, "index_desc": True,
                "index_nulls": True, "index_expressions": True, "index_opclass": True,
                "index_methods": ("btree", "hash", "gin", "gist", "brin", "spgist"),
                "nan_types": ("float", "numeric"), "infinity_types": ("float",)}),
        ((0,), {"virtual_computed": False, "identity_columns": True, "arrays": True,
                "sequences": True}),
        ((11,), {"index_include": True}),
        ((18,), {"virtual_computed": True}),
        ((12,), {"enum_add_value_in_transaction": True}),
    )
    run_lock: ClassVar[bool] = True
    catalog_queries: ClassVar[bool] = True
    sequences_owned: ClassVar[bool] = True
    default_driver: ClassVar[str | None] = "psycopg"
    # `postgres://` is what Heroku, Render and Fly put in DATABASE_URL.
    scheme_aliases: ClassVar[Mapping[str, str]] = MappingProxyType({"postgres": "postgresql"})
    sync_drivers: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"asyncpg": "psycopg", "psycopg_async": "psycopg"})
    driver_packages: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pg8000": "pg8000",
         "psycopg2cffi": "psycopg2cffi"})
    column_types_sql: ClassVar[str | None] = (
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = coalesce(%s, current_schema()) AND a.attnum > 0 "
        "AND NOT a.attisdropped")

    def primary_keys(self, conn: Any, schema: str | None) -> dict[Any, dict[str, Any]] | None:
        from .catalog import primary_keys

        return primary_keys(conn, schema)

    def table_extras(self, conn: Any, schema: str | None) -> Options:
        from .catalog import table_extras

        return table_extras(conn, schema)

    def sequences(self, conn: Any, schema: str | None) -> list[tuple[str, str | None, str | None]]:
        from .catalog import sequences

        return sequences(conn, schema)

    def sequence_options(self, conn: Any, schema: str | None,
                         names: list[str]) -> dict[str, dict[str, int | bool]]:
        from .catalog import sequence_options

        return sequence_options(conn, schema, names, self.sequence_limits)

    def comparable(self, state: SchemaState) -> SchemaState:
        # A UNIQUE on exactly the primary key's columns is dropped by CREATE TABLE (a
        # create_all() database lacks it): not a difference either way.
        def without_pk_unique(t: Table) -> Table:
            pk = set(t.primary_key.columns) if t.primary_key else set()
            if not pk or not any(set(u.columns) == pk for u in t.uniques):
                return t
            return replace(t, uniques=tuple(u for u in t.uniques if set(u.columns) != pk))

        return map_tables(map_columns(super().comparable(state), _bytea), without_pk_unique)

    def check_key(self, expression: str) -> str:
        from ...state import expression_key

        return expression_key(expression, _as_written)

    def check_support(self, op: ir.Operation, before: SchemaState) -> None:
        super().check_support(op, before)
        if isinstance(op, ir.AlterColumn) and (op.type is not None or op.using is not None):
            self._check_generated_type(op, before)
        if not isinstance(op, (ir.AlterColumn, ir.AddColumn, ir.CreateTable)) or (
                not may_change_enums(op, before)):
            return
        from ...state import apply

        after = apply(before, op)
        old, new = enum_types(before), enum_types(after)
        for name, values in new.items():
            removed = [v for v in old.get(name, ()) if v not in values]
            if removed and isinstance(op, ir.AlterColumn):
                # Replaced (enums.py), with what compares its columns recreated after: one
                # that names a removed value cannot be.
                still_named(after, name, removed)
            elif removed:  # a new column only uses the type as it is
                raise UsageError(
                    f"a new column cannot take values away from the enum type '{name}' "
                    f"({', '.join(removed)})",
                    hint="give the column the type's values, or remove them with "
                         "alter_column on a column that uses it")

    def _check_generated_type(self, op: ir.AlterColumn, before: SchemaState) -> None:
        """A generated column's new type: PostgreSQL takes no USING for one, so it converts
        only where its old type has an assignment cast to the new (integer → text, not
        integer → boolean nor text → numeric: "cannot be cast automatically")."""
        t = before.get(op.table, op.schema)
        old = t.column(op.name) if t is not None else None
        if old is None or old.computed is None:
            return
        where = f"{op.table}.{op.name} is a generated column, and"
        hint = ("drop the column and add it again with the new type (and an expression of "
                "that type), or scope this change with a sql operation")
        if op.using is not None:
            raise UsageError(f"{where} PostgreSQL takes no `using:` for a generated column's "
                             "type", hint=hint)
        if op.type is None:
            return
        from . import casts
        from .render import PostgreSQLRenderer

        how, _typed = PostgreSQLRenderer(self).conversion(op, self.column_here(old))
        if how in (casts.EXPLICIT, casts.NONE):
            raise UsageError(f"{where} PostgreSQL changes its type only to one its old type "
                             f"({self.column_here(old).type}) converts to by assignment; to "
                             f"{op.type} it would need an explicit cast", hint=hint)

    def refuses_transaction(self, statement: str) -> bool:
        return _OUTSIDE_TRANSACTIONS.match(statement) is not None

    def drop_database_sql(self, name: str) -> str:
        # FORCE (PostgreSQL 13) ends the sessions a test left open instead of failing.
        force = self.server_version is None or self.server_version >= (13,)
        return f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if force else "")

    def analyzers(self) -> tuple[Analyzer, ...]:
        from .lint import postgresql_locks

        return (*super().analyzers(), postgresql_locks)

    def autogenerate_prelude(self, operations: Sequence[ir.Operation]
                             ) -> tuple[ir.Operation, ...]:
        from .lint import SET_LOCK_TIMEOUT, locks_existing

        if not locks_existing(operations):
            return ()
        return (ir.Sql(up=(SET_LOCK_TIMEOUT,), down=(SET_LOCK_TIMEOUT,),
                       dialects=("postgresql",)),)

    def renderer(self) -> Renderer:
        from .render import PostgreSQLRenderer

        return PostgreSQLRenderer(self)

    def sa_dialect(self) -> Any:
        from sqlalchemy.dialects.postgresql.base import PGDialect

        return PGDialect()  # type: ignore[no-untyped-call]

    def driver_url(self, url: str) -> str:
        mapped = super().driver_url(url)
        if "+asyncpg" in url.partition("://")[0].lower() and "?" in mapped:
            # asyncpg spells libpq's sslmode `ssl` (true meaning require).
            head, _, query = mapped.partition("?")
            query = re.sub(r"(^|&)ssl=(true|1)(?=&|$)", r"\1sslmode=require", query, flags=re.I)
            query = re.sub(r"(^|&)ssl=", r"\1sslmode=", query)
            mapped = f"{head}?{query}"
        return mapped

    def lock(self, conn: Connection, table: str, timeout: float) -> bool:
        from sqlalchemy.exc import DBAPIError

        key = lock_key(conn, table)
        got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
        if got or timeout <= 0:
            return bool(got)
        # The wait is bounded by settings LOCAL to this transaction: they end with it, and
        # the session keeps its own lock_timeout and statement_timeout (the database's, the
        # role's, the URL's) for the changesets. lock_timeout = 0 would mean "wait forever".
        # Inside the caller's transaction (the API given a Connection in one), a savepoint
        # bounds them instead, rolled back after: the session's lock outlives it.
        from ..connect import joined

        savepoint = conn.begin_nested() if joined(conn) else None
        ms = max(1, int(min(timeout, 2_000_000) * 1000))
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        try:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
        except DBAPIError as exc:
            (savepoint or conn).rollback()
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                return False
            raise
        if savepoint is not None:
            savepoint.rollback()
        else:
            conn.commit()  # the advisory lock is the session's: it outlives the transaction
        return True

    def unlock(self, conn: Connection, table: str) -> None:
        if conn.invalidated:
            return  # the session is gone, and its advisory lock with it
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({lock_key(conn, table)})")

    def read_versions(self, url: str, table: str, schema: str | None,
                      timeout: float) -> VersionRead | None:
        side = self.driver_side(url, schema)
        if side is None:
            return None
        raw = side.connect(timeout)
        try:
            return side.read(raw, table, schema).read
        finally:
            side.close(raw)

    def driver_side(self, url: str, schema: str | None) -> DriverSide | None:
        """psycopg (3) alone, where psycopg is installed, for a URL that libpq reads as
        SQLAlchemy's psycopg dialect does: none with a query (libpq keeps a `+` that
        SQLAlchemy reads as a space, and only the last of several hosts SQLAlchemy tries in
        turn) or a space in it, nor with a %-escape in its host (libpq decodes it, SQLAlchemy
        does not: a socket folder written `%2Fvar%2Frun%2Fpostgresql`)."""
        parts = URL_PARTS.match(url)
        if (url.count("@") > 1 or "?" in url or any(c.isspace() for c in url)
                or parts is None or "%" in (parts["host"] or parts["ipv6"] or "")):
            return None
        mapped = self.driver_url(url)  # errors show the URL as the user wrote it
        if mapped.partition(":")[0].lower() != "postgresql+psycopg":
            return None
        try:
            from .driver import PsycopgDriver
        except ImportError:
            return None  # SQLAlchemy reports the missing driver with its hint
        return PsycopgDriver(url, mapped)

    def driver_facts(self, raw: Any, driver: str) -> tuple[Any, ...] | None:
        if driver != "psycopg":
            return None
        import psycopg

        from .driver import facts_on

        try:
            return facts_on(raw)[0]
        except psycopg.Error:
            return None  # (then SQLAlchemy's dialect tells, and no driver run shares it)
