"""MySQL, and MariaDB as its variant: DDL commits as it runs, GET_LOCK for the run-wide lock."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

from ... import ir
from ...errors import DatabaseError, UsageError
from ...sqlsplit import SqlSyntax
from ...typespec import TypeSpec, fraction_digits, parse_type
from .. import register
from ..base import (
    URL_PARTS,
    Dialect,
    Version,
    VersionRead,
    db_message,
    select_journal,
    select_versions,
    unreachable,
)
from ..comparable import map_columns, without_tz
from ..values import INTEGER_BITS, nul_refused, signed, unsigned

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ...state import SchemaState
    from ..catalogs import Limits, Options
    from ..render import Renderer


def lock_name(conn: Connection, table: str) -> str:
    """The GET_LOCK name for a version table in this database (at most 64 characters;
    locks are server-wide, migrations per database)."""
    database = conn.exec_driver_sql("SELECT DATABASE()").scalar()
    return "schemaflow:" + hashlib.sha1(f"{database}.{table}".encode()).hexdigest()[:40]


# MySQL's integer types by width; `unsigned=true` shifts the range to start at 0.
_INTEGER_BITS = {**INTEGER_BITS, "mysql.tinyint": 8, "mysql.smallint": 16,
                 "mysql.mediumint": 24, "mysql.int": 32, "mysql.integer": 32,
                 "mysql.bigint": 64}


_NOW = re.compile(r"current_timestamp\s*\(\s*([0-9]*)\s*\)", re.IGNORECASE)


@register
class MySQL(Dialect):
    """MySQL: no USING on a type change; CHECK constraints only on recent servers."""

    name: ClassVar[str] = "mysql"
    schemes: ClassVar[tuple[str, ...]] = ("mysql",)
    sql_dialects: ClassVar[tuple[str, ...]] = ("mysql",)
    type_dialects: ClassVar[tuple[str, ...]] = ("mysql",)
    sa_types_module: ClassVar[str | None] = "sqlalchemy.dialects.mysql"
    sql_syntax: ClassVar[SqlSyntax] = SqlSyntax(
        backslash_escapes=True, hash_comments=True, dash_comment_space=True,
        delimiter_command=True)
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = (
        ((0,), {"transactional_ddl": False, "comments": True, "rename_column": False,
                "check_constraints": False, "max_identifier_length": 64,
                "identifier_bytes": False, "index_names_per_table": True,
                "unsized_strings": False, "numbered_leads_index": True,
                # (VARCHAR holds 65,535 bytes with its length: 65,532 one-byte characters,
                # fewer in a multi-byte character set, which the server refuses in its turn)
                "max_string": 65532, "max_char": 255}),
        ((8, 0, 16), {"check_constraints": True}),
        ((8, 0, 13), {"index_expressions": True}),
        ((8,), {"rename_column": True, "index_desc": True}),
    )
    run_lock: ClassVar[bool] = True
    prefix_lengths: ClassVar[bool] = True
    keeps_charset: ClassVar[bool] = True

    # The BLOB and TEXT types the server picks for `BLOB(n)` / `TEXT(n)` (the smallest that
    # holds n bytes), as its reflection reads each: (largest n, blob's type, text's type).
    _SIZES: ClassVar[tuple[tuple[int, str, str], ...]] = (
        (255, "mysql.tinyblob", "text"), (65535, "binary", "text"),
        (16777215, "mysql.mediumblob", "mysql.mediumtext"))

    def default_as_held(self, c: ir.Column) -> ir.Column:
        # `DEFAULT CURRENT_TIMESTAMP` on a DATETIME(6) comes back from MariaDB as
        # current_timestamp(6): the same default, at the column's own precision.
        m = _NOW.fullmatch(c.default_sql) if isinstance(c.default_sql, str) else None
        if m and m.group(1) and int(m.group(1)) == fraction_digits(c.type):
            return replace(c, default_sql="CURRENT_TIMESTAMP")
        return c

    def type_as_held(self, spec: TypeSpec) -> TypeSpec:
        if spec.name not in ("binary", "text") or not spec.args or spec.kwargs:
            return spec  # (binary(n, fixed=true) is BINARY(n))
        n = spec.args[0]
        if not isinstance(n, int):
            return spec
        blob = spec.name == "binary"
        for top, as_blob, as_text in self._SIZES:
            if n <= top:
                return parse_type(as_blob if blob else as_text)
        return parse_type("mysql.longblob" if blob else "mysql.longtext")
    # PyMySQL is the driver schemaflow installs; SQLAlchemy's default is mysqlclient.
    default_driver: ClassVar[str | None] = "pymysql"
    # aiomysql is PyMySQL under asyncio, and asyncmy reads the same URLs.
    sync_drivers: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"aiomysql": "pymysql", "asyncmy": "pymysql"})
    driver_packages: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"pymysql": "PyMySQL", "mysqldb": "mysqlclient", "mysqlconnector":
         "mysql-connector-python", "mariadbconnector": "mariadb", "cymysql": "cymysql"})
    column_types_sql: ClassVar[str | None] = (
        "SELECT table_name, column_name, column_type FROM information_schema.columns "
        "WHERE table_schema = coalesce(%s, DATABASE())")

    @classmethod
    def matches(cls, sa_dialect: Any) -> bool:
        return sa_dialect.name in ("mysql", "mariadb") and not getattr(
            sa_dialect, "is_mariadb", False)

    def check_support(self, op: ir.Operation, before: SchemaState) -> None:
        super().check_support(op, before)
        if isinstance(op, ir.AlterColumn) and op.using is not None:
            raise UsageError(f"{self.name} has no USING clause for a type change "
                             f"(alter_column {op.table}.{op.name})",
                             hint="convert the data with a sql operation first")
        if isinstance(op, ir.CreateCheckConstraint) and not self.caps.check_constraints and (
                self.holds(op.dialects)):
            raise UsageError(f"this {self.name} server ignores CHECK constraints "
                             f"('{op.name}')", hint="MySQL 8.0.16+ or MariaDB 10.2.1+")
        self._no_ansi_quotes(op, before)

    def _no_ansi_quotes(self, op: ir.Operation, before: SchemaState) -> None:
        """Refuse an expression that `op` sends (a CHECK, a generated column's, an index's)
        naming a column of its table in double quotes: without ANSI_QUOTES, MySQL and MariaDB
        read that as a string, and build a CHECK or column of another meaning without a
        word. (A rename to a name that needs quotes writes it so, for PostgreSQL and
        SQLite.)"""
        from ...state.expressions import needs_quotes, quoted_names

        sent: list[tuple[str, str]] = []  # (what, expression)
        if isinstance(op, ir.CreateTable):
            table, columns = op.name, [c.name for c in op.columns]
            sent += [(f"generated column {c.name}", c.computed.expression)
                     for c in op.columns if c.computed is not None]
            sent += [(f"check {c.name or ''}".strip(), c.expression) for c in op.checks
                     if self.holds(c.dialects)]
            sent += [(f"index {i.name}", e) for i in op.indexes for e in _expressions(i)]
        else:
            t = before.get(getattr(op, "table", ""), getattr(op, "schema", None))
            if t is None:
                return
            table, columns = t.name, [c.name for c in t.columns]
            if isinstance(op, ir.AddColumn) and op.column.computed is not None:
                columns.append(op.column.name)
                sent.append((f"generated column {op.column.name}",
                             op.column.computed.expression))
            elif isinstance(op, ir.AlterColumn):  # (MODIFY COLUMN restates the expression)
                c = t.column(op.name)
                if c is not None and c.computed is not None:
                    sent.append((f"generated column {c.name}", c.computed.expression))
            elif isinstance(op, ir.CreateCheckConstraint) and self.holds(op.dialects):
                sent.append((f"check {op.name}".strip(), op.expression))
            elif isinstance(op, ir.CreateIndex):
                sent += [(f"index {op.name}", e) for e in _expressions(op)]
        known = {c.lower() for c in columns}
        for what, expression in sent:
            # (Those a rename quotes so: a string literal "active" beside a column active is
            # the string MySQL reads.)
            named = next((n for n in quoted_names(expression, '"')
                          if n.lower() in known and needs_quotes(n)), None)
            if named is not None:
                raise UsageError(
                    f"the {what} of table {table} names column {named} in double quotes "
                    f"({expression}): {self.name} reads that as a string, not the column",
                    hint=f"write the name in backticks (`{named}`); where a rename gave it "
                         "quotes, drop and add again what holds the expression, written so")

    def integer_range(self, spec: TypeSpec) -> tuple[int, int] | None:
        bits = _INTEGER_BITS.get(spec.name)
        if bits is None:
            return None
        return unsigned(bits) if spec.kwarg("unsigned") == "true" else signed(bits)

    def name_refused(self, name: str) -> str | None:
        # Identifiers are stored as utf8mb3 (error 1300 "Invalid utf8mb4 character string"
        # beyond it), and tables, columns and indexes cannot end in a space (1103, 1166,
        # 1280).
        wide = next((ch for ch in name if ord(ch) > 0xFFFF), None)
        if wide is not None:
            return (f"it contains the character U+{ord(wide):04X}, outside the Basic "
                    "Multilingual Plane (emoji and the like), which identifiers cannot hold")
        if name.endswith(" "):
            return "it ends in a space, which table, column and index names cannot"
        return nul_refused(name)

    def complete_indexes(self, conn: Any, schema: str | None, tables: list[str],
                         indexes: dict[Any, list[dict[str, Any]]]
                         ) -> dict[Any, list[dict[str, Any]]]:
        from .indexes import complete

        return complete(conn, schema, tables, indexes)

    def table_options(self, conn: Any, schema: str | None, options: Options) -> Options:
        from .options import refused

        return refused(options)

    def table_words(self, conn: Any, schema: str | None
                    ) -> dict[str, tuple[str | None, str | None]]:
        from .charsets import table_words

        return table_words(conn, schema)

    def words_matched(self, conn: Any, have: SchemaState, want: SchemaState) -> SchemaState:
        from .charsets import words_matched

        return words_matched(conn, have, want)

    def check_key(self, expression: str) -> str:
        # LOWER() and UPPER() come back as LCASE() and UCASE().
        from ...state import expression_key

        return expression_key(expression, lambda tokens: [
            {"lcase": "lower", "ucase": "upper"}.get(t, t) for t in tokens])
    def as_written(self, state: SchemaState) -> SchemaState:
        from .indexes import as_written

        return as_written(state)

    def matched(self, have: SchemaState, want: SchemaState) -> SchemaState:
        from .indexes import matched

        return matched(super().matched(have, want), want)

    def comparable(self, state: SchemaState) -> SchemaState:
        # MySQL's DATETIME and TIME keep no time zone.
        return without_tz(super().comparable(state))

    def renderer(self) -> Renderer:
        from .render import MySQLRenderer

        return MySQLRenderer(self)

    def sa_dialect(self) -> Any:
        from sqlalchemy.dialects.mysql.base import MySQLDialect

        dialect = MySQLDialect()
        # Compiling for MariaDB (DROP CONSTRAINT for checks, ...) needs the flag set.
        dialect.is_mariadb = self.name == "mariadb"
        return dialect

    def canceller(self, conn: Connection) -> Callable[[], None]:
        from ..cancel import kill_query

        return kill_query(conn)

    def lock(self, conn: Connection, table: str, timeout: float) -> bool:
        name = lock_name(conn, table)

        def get_lock(seconds: float) -> bool:
            return bool(conn.exec_driver_sql("SELECT GET_LOCK(%s, %s)", (name, seconds)).scalar())

        if self.fractional_lock_wait():
            return get_lock(max(0.0, min(timeout, 31_536_000.0)))
        # MySQL's GET_LOCK waits whole seconds: those, then short tries for the fraction.
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if get_lock(max(0, int(min(left, 31_536_000)))):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.02, left))

    def fractional_lock_wait(self) -> bool:
        """Whether GET_LOCK takes a timeout with a fraction of a second."""
        return False

    def unlock(self, conn: Connection, table: str) -> None:
        if conn.invalidated:
            return  # the session is gone, and its named lock with it
        conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (lock_name(conn, table),))

    def read_versions(self, url: str, table: str, schema: str | None,
                      timeout: float) -> VersionRead | None:
        from ...journal import journal_name

        m = URL_PARTS.match(self.driver_url(url))  # errors show the URL as the user wrote it
        if url.count("@") > 1 or m is None or m["query"] or m["scheme"].lower() not in (
                "mysql+pymysql", "mariadb+pymysql"):
            return None  # query options are SQLAlchemy's to interpret
        try:
            import pymysql
        except ImportError:
            return None
        args: dict[str, Any] = {"host": m["ipv6"] or m["host"] or "localhost",
                                "charset": "utf8mb4"}
        if m["user"]:
            args["user"] = unquote(m["user"])
        if m["password"] is not None:
            args["password"] = unquote(m["password"])
        if m["port"]:
            args["port"] = int(m["port"])
        if m["database"]:
            args["database"] = unquote(m["database"])
        try:
            conn = pymysql.connect(**args)
        except pymysql.Error as exc:
            raise unreachable(url, exc) from None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT table_name FROM information_schema.tables WHERE "
                            "table_schema = COALESCE(%s, DATABASE()) AND table_name IN "
                            "(%s, %s)", (schema, table, journal_name(table)))
                found = {str(r[0]).lower() for r in cur.fetchall()}
                if table.lower() not in found:
                    return [], []
                cur.execute(select_versions(table, schema, "`"))
                rows = [tuple(r) for r in cur.fetchall()]
                if journal_name(table).lower() not in found:
                    return rows, []
                try:
                    cur.execute(select_journal(table, schema, "`"))
                except pymysql.Error as exc:
                    # A run (this read takes no lock) dropped it meanwhile (1146: it was
                    # empty), or created it after this read's snapshot (1412: empty in it).
                    if not exc.args or exc.args[0] not in (1146, 1412):
                        raise
                    return rows, []
                return rows, [tuple(r) for r in cur.fetchall()]
        except pymysql.Error as exc:
            raise DatabaseError(f"the database failed: {db_message(exc)}") from None
        finally:
            conn.close()


@register
class MariaDB(MySQL):
    """MariaDB: MySQL's rules and statements, MariaDB's capabilities and JSON."""

    name: ClassVar[str] = "mariadb"
    schemes: ClassVar[tuple[str, ...]] = ("mariadb",)
    sql_dialects: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = (
        ((0,), {"transactional_ddl": False, "comments": True, "rename_column": False,
                "check_constraints": False, "max_identifier_length": 64,
                "identifier_bytes": False, "index_names_per_table": True,
                "unsized_strings": False, "numbered_leads_index": True,
                # (VARCHAR holds 65,535 bytes with its length: 65,532 one-byte characters,
                # fewer in a multi-byte character set, which the server refuses in its turn)
                "max_string": 65532, "max_char": 255}),
        ((10, 2, 1), {"check_constraints": True}),
        ((10, 3), {"sequences": True}),
        ((10, 5, 2), {"rename_column": True}),
        ((10, 8), {"index_desc": True}),
    )

    # A key on a TEXT column without a length gets InnoDB's longest prefix (768 characters
    # of utf8mb4), where MySQL refuses it.
    implicit_prefix_bytes: ClassVar[int | None] = 3072

    @classmethod
    def matches(cls, sa_dialect: Any) -> bool:
        return bool(getattr(sa_dialect, "is_mariadb", False))

    def complete_columns(self, conn: Any, schema: str | None, tables: list[str],
                         columns: dict[Any, list[dict[str, Any]]]
                         ) -> dict[Any, list[dict[str, Any]]]:
        # Which LONGTEXT columns are MariaDB's JSON, and the defaults drawn from sequences,
        # besides the types the Inspector cannot read.
        from .columns import json_columns, sequence_defaults

        return sequence_defaults(conn, schema, json_columns(
            conn, schema, super().complete_columns(conn, schema, tables, columns)))

    def sequences(self, conn: Any, schema: str | None) -> list[tuple[str, str | None, str | None]]:
        from .options import sequences

        return sequences(conn, schema)

    # MariaDB's sequence bounds and default cache (MySQL has no sequences).
    sequence_limits: ClassVar[Limits] = (-(2 ** 63 - 1), 2 ** 63 - 2, 1000)

    def sequence_options(self, conn: Any, schema: str | None,
                         names: list[str]) -> dict[str, dict[str, int | bool]]:
        from .options import sequence_options

        return sequence_options(conn, schema, names, self.sequence_limits)

    def fractional_lock_wait(self) -> bool:
        # Microseconds since MariaDB 10.1.2 (MDEV-4018); before, rounded to whole seconds.
        return self.server_version is None or self.server_version >= (10, 1, 2)

    def comparable(self, state: SchemaState) -> SchemaState:
        # MariaDB's JSON is an alias of LONGTEXT (plus a json_valid check): the same thing.
        longtext = TypeSpec("mysql.longtext")
        return map_columns(super().comparable(state), lambda c: replace(
            c, type=longtext) if c.type.name == "json" else c)


def _expressions(index: ir.IndexDef | ir.CreateIndex) -> list[str]:
    """The SQL expressions of an index: its expression keys and its condition."""
    keys = [k.expression for k in index.columns if not isinstance(k, str) and k.expression]
    return [*keys, *([index.where] if index.where else [])]
