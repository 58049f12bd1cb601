"""Throwaway databases for the benchmark, and reading back what a tool built in them.

SQLite: a new file per repetition, in a tmpfs folder (``/dev/shm``) by default so the numbers
measure the tools rather than this machine's disk flushes (every tool commits once per
changeset, so on a disk all three pay the same fsync per changeset); ``--sqlite-dir`` picks
another folder. PostgreSQL: a new database ``sfbench_<random>`` per repetition, created and
dropped through the administrative URL (``SCHEMAFLOW_BENCH_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``).

The harness process uses only ``sqlite3`` and ``psycopg`` here (no SQLAlchemy), and always
drops what it created (`Databases.cleanup`, also on Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
VERSION_TABLES = ("schemaflow_version", "alembic_version")

Schema = dict[str, dict[str, Any]]


def libpq_url(url: str) -> str:
    """The URL as libpq/psycopg takes it (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    base = scheme.split("+", 1)[0]
    return ("postgresql" if base in ("postgres", "postgresql") else base) + "://" + rest


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def default_sqlite_dir() -> Path | None:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return None


class PostgresUnavailable(Exception):
    pass


class Databases:
    """Creates and drops the benchmark's databases."""

    def __init__(self, sqlite_dir: Path, pg_admin_url: str | None) -> None:
        self.sqlite_dir = sqlite_dir
        self.pg_admin_url = pg_admin_url
        self.created_files: list[Path] = []
        self.created_pg: list[str] = []
        self._admin: Any = None

    # --- PostgreSQL ------------------------------------------------------------------------

    def check_postgres(self) -> str:
        """The server version, or PostgresUnavailable with the reason."""
        if not self.pg_admin_url:
            raise PostgresUnavailable("no PostgreSQL URL")
        try:
            import psycopg
        except ImportError as exc:
            raise PostgresUnavailable(f"psycopg is not installed ({exc})") from None
        try:
            self._admin = psycopg.connect(libpq_url(self.pg_admin_url), autocommit=True,
                                          connect_timeout=5)
        except Exception as exc:  # psycopg.OperationalError and friends
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise PostgresUnavailable(
                f"cannot connect to {hide_password(self.pg_admin_url)}: {first}") from None
        return str(self._admin.execute("SHOW server_version").fetchone()[0])

    def _pg_new(self) -> str:
        name = "sfbench_" + secrets.token_hex(5)
        self._admin.execute(f'CREATE DATABASE "{name}"')
        self.created_pg.append(name)
        assert self.pg_admin_url is not None
        return with_database(self.pg_admin_url, name)

    def _pg_drop(self, name: str) -> None:
        try:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if name in self.created_pg:
            self.created_pg.remove(name)

    # --- both ------------------------------------------------------------------------------

    def new(self, dialect: str, tag: str = "db") -> str:
        """A URL of a new, empty database."""
        if dialect == "postgresql":
            return self._pg_new()
        path = self.sqlite_dir / f"sfbench_{tag}_{secrets.token_hex(4)}.sqlite"
        self.created_files.append(path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        if url.startswith("sqlite"):
            path = Path(url.split(":///", 1)[1])
            # with the lock file schemaflow keeps beside a SQLite database
            for p in (path, Path(str(path) + "-journal"), Path(str(path) + "-wal"),
                      Path(str(path) + ".schemaflow-lock")):
                p.unlink(missing_ok=True)
            if path in self.created_files:
                self.created_files.remove(path)
        else:
            self._pg_drop(urlsplit(url).path.lstrip("/"))

    def cleanup(self) -> None:
        for path in list(self.created_files):
            self.drop(f"sqlite:///{path}")
        for name in list(self.created_pg):
            with contextlib.suppress(Exception):
                self._pg_drop(name)
        if self._admin is not None:
            self._admin.close()
            self._admin = None


# --- reading back a schema ---------------------------------------------------------------------


def inspect(url: str) -> tuple[Schema, dict[str, int]]:
    """({table: {columns, indexes, rows}} without version tables, {version table: row count})."""
    if url.startswith("sqlite"):
        return _inspect_sqlite(url.split(":///", 1)[1])
    return _inspect_pg(url)


def _inspect_sqlite(path: str) -> tuple[Schema, dict[str, int]]:
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        schema: Schema = {}
        versions: dict[str, int] = {}
        for name in names:
            count = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            if name in VERSION_TABLES:
                versions[name] = count
                continue
            cols = sorted(r[1] for r in conn.execute(f'PRAGMA table_info("{name}")'))
            schema[name] = {"columns": cols, "indexes": [], "rows": count}
        for index, table in conn.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"):
            if table in schema:
                schema[table]["indexes"].append(index)
        for t in schema.values():
            t["indexes"].sort()
        return schema, versions
    finally:
        conn.close()


def _inspect_pg(url: str) -> tuple[Schema, dict[str, int]]:
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        schema: Schema = {}
        versions: dict[str, int] = {}
        cols: dict[str, list[str]] = {}
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public'"):
            cols.setdefault(table, []).append(column)
        for table, columns in cols.items():
            row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            count = row[0] if row else 0
            if table in VERSION_TABLES:
                versions[table] = count
                continue
            schema[table] = {"columns": sorted(columns), "indexes": [], "rows": count}
        for table, index in conn.execute(
                "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)"):
            if table in schema:
                schema[table]["indexes"].append(index)
        for t in schema.values():
            t["indexes"].sort()
        return schema, versions


def diff(expected: Schema, actual: Schema, limit: int = 5) -> list[str]:
    """Human-readable differences (at most `limit`), empty when they match."""
    out: list[str] = []
    for name in sorted(set(expected) - set(actual)):
        out.append(f"table {name} is missing")
    for name in sorted(set(actual) - set(expected)):
        out.append(f"unexpected table {name}")
    for name in sorted(set(expected) & set(actual)):
        e, a = expected[name], actual[name]
        for key in ("columns", "indexes", "rows"):
            if key in e and e[key] != a[key]:
                out.append(f"{name}.{key}: expected {e[key]}, found {a[key]}")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def execution_ms(url: str, cid: str) -> int | None:
    """The execution_ms schemaflow recorded for changeset `cid` (SQLite), or None."""
    if not url.startswith("sqlite"):
        return None
    conn = sqlite3.connect(url.split(":///", 1)[1])
    try:
        row = conn.execute("SELECT execution_ms FROM schemaflow_version WHERE id = ?",
                           (cid,)).fetchone()
    finally:
        conn.close()
    return None if row is None else int(row[0])
